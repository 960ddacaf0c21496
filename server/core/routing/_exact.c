/* Optional C version of server/core/routing/exact.py: the same DP over aisles with the same
 * state tables (given by Python through set_tables), the same tie-breaking and the same Euler
 * walk, so lengths and orders are identical to the pure-Python version. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAXB 2
#define MAXS 64
#define MAXH 512
#define TYPES 6
enum { NONE, SINGLE, DOUBLE, BOTTOM, TOP, BOTH };

typedef struct {
    int ready, ns;
    uint8_t vert[MAXB][MAXS][TYPES];
    uint16_t hstart[MAXS + 1];
    uint8_t hnext[MAXH], hsum[MAXH], hmult[MAXH][MAXB + 1];
    uint8_t close[MAXS], depot[MAXS];
} Tables;

static Tables tabs[MAXB + 1];
static PyObject *layout_error;
static PyObject *s_aisle, *s_block, *s_slot, *s_y;

static int get_bytes(PyObject *o, Py_ssize_t n, const uint8_t **out) {
    if (!PyBytes_Check(o) || PyBytes_GET_SIZE(o) != n) {
        PyErr_SetString(PyExc_ValueError, "bad table");
        return -1;
    }
    *out = (const uint8_t *)PyBytes_AS_STRING(o);
    return 0;
}

/* set_tables(error, blocks, ns, vert, hstart, hnext, hsum, hmult, close, depot), all bytes. */
static PyObject *set_tables(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *err, *ov, *ohs, *ohn, *ohsum, *ohm, *oc, *od;
    int b, ns;
    if (!PyArg_ParseTuple(args, "OiiOOOOOOO", &err, &b, &ns, &ov, &ohs, &ohn, &ohsum, &ohm, &oc, &od))
        return NULL;
    if (b < 1 || b > MAXB || ns < 1 || ns > MAXS) {
        PyErr_SetString(PyExc_ValueError, "bad table size");
        return NULL;
    }
    Tables *t = &tabs[b];
    const uint8_t *v, *hs, *hn, *hsum, *hm, *c, *d;
    if (get_bytes(ov, (Py_ssize_t)b * ns * TYPES, &v) || get_bytes(ohs, 2 * (ns + 1), &hs)) return NULL;
    int nh = hs[2 * ns] | (hs[2 * ns + 1] << 8);
    if (nh > MAXH) {
        PyErr_SetString(PyExc_ValueError, "bad table size");
        return NULL;
    }
    if (get_bytes(ohn, nh, &hn) || get_bytes(ohsum, nh, &hsum) || get_bytes(ohm, nh * (b + 1), &hm) ||
        get_bytes(oc, ns, &c) || get_bytes(od, ns, &d))
        return NULL;
    t->ns = ns;
    for (int k = 0; k < b; k++)
        for (int s = 0; s < ns; s++)
            for (int x = 0; x < TYPES; x++) {
                uint8_t next = v[(k * ns + s) * TYPES + x];
                if (next >= ns) {
                    PyErr_SetString(PyExc_ValueError, "bad table entry");
                    return NULL;
                }
                t->vert[k][s][x] = next;
            }
    for (int s = 0; s <= ns; s++) t->hstart[s] = hs[2 * s] | (hs[2 * s + 1] << 8);
    for (int h = 0; h < nh; h++) {
        if (hn[h] >= ns) {
            PyErr_SetString(PyExc_ValueError, "bad table entry");
            return NULL;
        }
        t->hnext[h] = hn[h];
        t->hsum[h] = hsum[h];
        for (int x = 0; x <= b; x++) t->hmult[h][x] = hm[h * (b + 1) + x];
    }
    memcpy(t->close, c, ns);
    memcpy(t->depot, d, ns);
    Py_XDECREF(layout_error);
    Py_INCREF(err);
    layout_error = err;
    t->ready = 1;
    Py_RETURN_NONE;
}

static long get_long(PyObject *o, PyObject *name) {
    PyObject *v = PyObject_GetAttr(o, name);
    if (!v) return -1;
    long r = PyLong_AsLong(v);
    Py_DECREF(v);
    return r;
}

static double get_double(PyObject *o, PyObject *name) {
    PyObject *v = PyObject_GetAttr(o, name);
    if (!v) return -1.0;
    double r = PyFloat_AsDouble(v);
    Py_DECREF(v);
    return r;
}

/* solve(points, aisles, blocks, depot_aisle, block_length, aisle_pitch, cross_aisle_y, want_order,
 * slots) -> (order, length) or length. Points outside the layout raise LayoutError. */
static PyObject *solve(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 9) {
        PyErr_SetString(PyExc_TypeError, "solve() takes 9 arguments");
        return NULL;
    }
    PyObject *seq = args[0];
    long A = PyLong_AsLong(args[1]), B = PyLong_AsLong(args[2]), D = PyLong_AsLong(args[3]);
    double BL = PyFloat_AsDouble(args[4]), P = PyFloat_AsDouble(args[5]);
    int want = PyObject_IsTrue(args[7]);
    long S = PyLong_AsLong(args[8]);
    if (PyErr_Occurred() || want < 0) return NULL;
    if (!PyList_Check(seq) || !PyTuple_Check(args[6]) || PyTuple_GET_SIZE(args[6]) != B + 1) {
        PyErr_SetString(PyExc_TypeError, "solve() needs a list of points and a tuple of cross-aisle ys");
        return NULL;
    }
    if (B < 1 || B > MAXB || !tabs[B].ready || D < 0 || D >= A) {
        PyErr_Format(layout_error ? layout_error : PyExc_ValueError, "no exact tables for %ld blocks", B);
        return NULL;
    }
    double ys[MAXB + 1];
    for (int c = 0; c <= B; c++) {
        ys[c] = PyFloat_AsDouble(PyTuple_GET_ITEM(args[6], c));
        if (ys[c] == -1.0 && PyErr_Occurred()) return NULL;
    }
    const Tables *T = &tabs[B];
    const int NS = T->ns, N = (int)(B + 1);
    Py_ssize_t n = PyList_GET_SIZE(seq);
    if (n == 0) {
        PyObject *len = PyFloat_FromDouble(0.0);
        return want ? Py_BuildValue("(NN)", PyList_New(0), len) : len;
    }

    /* One allocation for the per-call arrays that depend on n only. */
    char *mem = malloc(n * (sizeof(double) + 2 * sizeof(int) + sizeof(long)));
    if (!mem) return PyErr_NoMemory();
    double *off = (double *)mem;          /* offset above the block's lower cross aisle */
    int *pa = (int *)(off + n);           /* aisle */
    int *pb = pa + n;                     /* block */
    long lo = D, hi = D;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *p = PyList_GET_ITEM(seq, i);
        long a = get_long(p, s_aisle), b = get_long(p, s_block), sl = get_long(p, s_slot);
        double y = get_double(p, s_y);
        if (PyErr_Occurred()) goto fail_mem;
        if (a < 0 || a >= A || b < 0 || b >= B || sl < 0 || sl >= S) {
            PyErr_Format(layout_error, "point (aisle %ld, block %ld, slot %ld) is outside the layout", a, b, sl);
            goto fail_mem;
        }
        pa[i] = (int)a;
        pb[i] = (int)b;
        off[i] = y - ys[b];
        if (a < lo) lo = a;
        if (a > hi) hi = a;
    }

    const int na = (int)(hi - lo + 1), nseg = na * (int)B;
    const int nstages = nseg + na - 1;
    const int max_edges = 2 * ((int)n + nseg) + 2 * N * na;
    size_t bytes = (size_t)(nseg + 1) * sizeof(int)     /* segment starts */
                   + n * sizeof(int)                     /* picks sorted by segment, offset */
                   + (size_t)nseg * TYPES * sizeof(double)
                   + (want ? (size_t)na * sizeof(uint16_t) + (size_t)nstages * NS * 2 + nseg : 0);
    char *work = calloc(1, bytes + 16);
    if (!work) {
        PyErr_NoMemory();
        goto fail_mem;
    }
    double *sc = (double *)work;
    int *start = (int *)(sc + (size_t)nseg * TYPES);
    int *sorted = start + nseg + 1;
    /* With want: per cut the chosen horizontal entry; per stage and state the parent and choice;
     * per segment the vertical option. */
    uint16_t *cross = (uint16_t *)(sorted + n);
    uint8_t *par_s = (uint8_t *)(cross + na), *par_c = par_s + (size_t)nstages * NS;
    uint8_t *types = par_c + (size_t)nstages * NS;

    /* Counting sort by segment, then insertion sort by offset (stable: ties keep index order). */
    for (Py_ssize_t i = 0; i < n; i++) start[(pa[i] - lo) * B + pb[i] + 1]++;
    for (int g = 0; g < nseg; g++) start[g + 1] += start[g];
    {
        int *fill = (int *)malloc(sizeof(int) * (nseg + 1));
        if (!fill) {
            PyErr_NoMemory();
            goto fail_work;
        }
        memcpy(fill, start, sizeof(int) * (nseg + 1));
        for (Py_ssize_t i = 0; i < n; i++) sorted[fill[(pa[i] - lo) * B + pb[i]]++] = (int)i;
        free(fill);
    }
    for (int g = 0; g < nseg; g++) {
        int s0 = start[g], s1 = start[g + 1];
        for (int k = s0 + 1; k < s1; k++) {
            int v = sorted[k], j = k - 1;
            while (j >= s0 && off[sorted[j]] > off[v]) {
                sorted[j + 1] = sorted[j];
                j--;
            }
            sorted[j + 1] = v;
        }
        double *w = sc + (size_t)g * TYPES;
        w[SINGLE] = BL;
        w[DOUBLE] = 2 * BL;
        if (s0 == s1) {
            w[NONE] = 0.0;
            w[BOTTOM] = w[TOP] = w[BOTH] = INFINITY;
        } else {
            double low = off[sorted[s0]], high = off[sorted[s1 - 1]];
            w[NONE] = INFINITY;
            w[BOTTOM] = 2 * high;
            w[TOP] = 2 * (BL - low);
            w[BOTH] = INFINITY;
            if (s1 - s0 > 1) {
                double gap = off[sorted[s0 + 1]] - off[sorted[s0]];
                for (int k = s0 + 1; k < s1 - 1; k++) {
                    double d = off[sorted[k + 1]] - off[sorted[k]];
                    if (d > gap) gap = d;
                }
                w[BOTH] = 2 * (BL - gap);
            }
        }
    }

    /* The DP over aisles lo..hi. */
    double cost[MAXS], nw[MAXS];
    for (int s = 0; s < NS; s++) cost[s] = INFINITY;
    cost[0] = 0.0;
    int stage = 0;
    for (long a = lo; a <= hi; a++) {
        for (int b = 0; b < B; b++, stage++) {
            const double *w = sc + ((a - lo) * B + b) * TYPES;
            int opt[TYPES], no = 0;
            for (int t = 0; t < TYPES; t++)
                if (w[t] != INFINITY) opt[no++] = t;
            uint8_t *ps = want ? par_s + (size_t)stage * NS : NULL, *pc = want ? par_c + (size_t)stage * NS : NULL;
            for (int s = 0; s < NS; s++) nw[s] = INFINITY;
            for (int s = 0; s < NS; s++) {
                double c = cost[s];
                if (c == INFINITY) continue;
                const uint8_t *row = T->vert[b][s];
                for (int k = 0; k < no; k++) {
                    int t = opt[k], x = row[t];
                    double v = c + w[t];
                    if (v < nw[x]) {
                        nw[x] = v;
                        if (want) {
                            ps[x] = (uint8_t)s;
                            pc[x] = (uint8_t)t;
                        }
                    }
                }
            }
            memcpy(cost, nw, sizeof(double) * NS);
        }
        if (a == hi) break;
        int at_depot = a == D;
        uint8_t *ps = want ? par_s + (size_t)stage * NS : NULL, *pc = want ? par_c + (size_t)stage * NS : NULL;
        for (int s = 0; s < NS; s++) nw[s] = INFINITY;
        for (int s = 0; s < NS; s++) {
            double c = cost[s];
            if (c == INFINITY) continue;
            int off_depot = at_depot && !T->depot[s];
            for (int h = T->hstart[s], k = 0; h < T->hstart[s + 1]; h++, k++) {
                if (off_depot && !T->hmult[h][0]) continue;
                int x = T->hnext[h];
                double v = c + T->hsum[h] * P;
                if (v < nw[x]) {
                    nw[x] = v;
                    if (want) {
                        ps[x] = (uint8_t)s;
                        pc[x] = (uint8_t)k;
                    }
                }
            }
        }
        memcpy(cost, nw, sizeof(double) * NS);
        stage++;
    }
    double best = INFINITY;
    int state = -1;
    for (int s = 0; s < NS; s++)
        if (T->close[s] && (hi != D || T->depot[s]) && cost[s] < best) {
            best = cost[s];
            state = s;
        }
    if (state < 0) {
        PyErr_SetString(PyExc_RuntimeError, "exact routing found no tour");
        goto fail_work;
    }
    if (!want) {
        free(work);
        free(mem);
        return PyFloat_FromDouble(best);
    }

    /* Back through the stages: the vertical option of each segment, the crossings of each cut. */
    stage = nstages - 1;
    for (long a = hi; a >= lo; a--) {
        if (a < hi) {
            int s = par_s[(size_t)stage * NS + state];
            cross[a - lo] = (uint16_t)(T->hstart[s] + par_c[(size_t)stage * NS + state]);
            state = s;
            stage--;
        }
        for (int b = (int)B - 1; b >= 0; b--, stage--) {
            types[(a - lo) * B + b] = par_c[(size_t)stage * NS + state];
            state = par_s[(size_t)stage * NS + state];
        }
    }

    /* The chosen subgraph: intersections (a - lo) * N + c, then picks; edges in Python's order. */
    const int first_pick = na * N, nodes = first_pick + (int)n;
    int *ends = malloc(sizeof(int) * (2 * (size_t)max_edges + 2 * nodes + 2 + 2 * (size_t)max_edges +
                                      (size_t)max_edges + 1 + n) +
                       max_edges + n);
    if (!ends) {
        PyErr_NoMemory();
        goto fail_work;
    }
    int *adj_start = ends + 2 * max_edges;  /* nodes + 1 */
    int *pos = adj_start + nodes + 1;       /* nodes + 1 */
    int *adj = pos + nodes + 1;             /* 2 * max_edges */
    int *stack = adj + 2 * max_edges;       /* max_edges + 1 */
    int *order = stack + max_edges + 1;     /* n */
    uint8_t *used = (uint8_t *)(order + n); /* max_edges */
    uint8_t *seen = used + max_edges;       /* n */
    int ne = 0;
#define EDGE(u, w) (ends[2 * ne] = (u), ends[2 * ne + 1] = (w), ne++)
    for (long a = lo; a <= hi; a++) {
        for (int b = 0; b < B; b++) {
            int g = (int)(a - lo) * (int)B + b, t = types[g], s0 = start[g], s1 = start[g + 1];
            int bottom = (int)(a - lo) * N + b, top = bottom + 1;
            if (t == SINGLE || t == DOUBLE) {
                for (int r = 0; r < (t == SINGLE ? 1 : 2); r++) {
                    int u = bottom;
                    for (int k = s0; k < s1; k++) {
                        EDGE(u, first_pick + sorted[k]);
                        u = first_pick + sorted[k];
                    }
                    EDGE(u, top);
                }
            } else if (t == BOTTOM || t == TOP || t == BOTH) {
                int split = s1; /* picks s0..split-1 hang from the bottom, split..s1-1 from the top */
                if (t == TOP) split = s0;
                if (t == BOTH) {
                    double gap = -1.0;
                    for (int k = s0; k < s1 - 1; k++) {
                        double d = off[sorted[k + 1]] - off[sorted[k]];
                        if (d > gap) {
                            gap = d;
                            split = k + 1;
                        }
                    }
                }
                if (split > s0)
                    for (int r = 0; r < 2; r++) {
                        int u = bottom;
                        for (int k = s0; k < split; k++) {
                            EDGE(u, first_pick + sorted[k]);
                            u = first_pick + sorted[k];
                        }
                    }
                if (split < s1)
                    for (int r = 0; r < 2; r++) {
                        if (t == TOP) { /* Python walks this chain from the top down */
                            int u = top;
                            for (int k = s1 - 1; k >= split; k--) {
                                EDGE(u, first_pick + sorted[k]);
                                u = first_pick + sorted[k];
                            }
                        } else {
                            for (int k = split; k < s1 - 1; k++)
                                EDGE(first_pick + sorted[k], first_pick + sorted[k + 1]);
                            EDGE(first_pick + sorted[s1 - 1], top);
                        }
                    }
            }
        }
        if (a < hi) {
            const uint8_t *h = T->hmult[cross[a - lo]];
            for (int c = 0; c < N; c++)
                for (int r = 0; r < h[c]; r++) EDGE((int)(a - lo) * N + c, (int)(a + 1 - lo) * N + c);
        }
    }
#undef EDGE
    memset(adj_start, 0, sizeof(int) * (nodes + 1));
    for (int e = 0; e < 2 * ne; e++) adj_start[ends[e] + 1]++;
    for (int v = 0; v < nodes; v++) adj_start[v + 1] += adj_start[v];
    memcpy(pos, adj_start, sizeof(int) * (nodes + 1));
    for (int e = 0; e < ne; e++) {
        adj[pos[ends[2 * e]]++] = e;
        adj[pos[ends[2 * e + 1]]++] = e;
    }
    memcpy(pos, adj_start, sizeof(int) * (nodes + 1));
    memset(used, 0, ne);
    memset(seen, 0, n);

    /* Hierholzer's algorithm from the depot; the order is the order in which picks are finished. */
    int top = 0, no = 0;
    stack[top++] = (int)(D - lo) * N;
    while (top) {
        int u = stack[top - 1], k = pos[u], end = adj_start[u + 1];
        while (k < end && used[adj[k]]) k++;
        pos[u] = k;
        if (k == end) {
            top--;
            if (u >= first_pick && !seen[u - first_pick]) {
                seen[u - first_pick] = 1;
                order[no++] = u - first_pick;
            }
            continue;
        }
        int e = adj[k];
        used[e] = 1;
        stack[top++] = ends[2 * e + 1] == u ? ends[2 * e] : ends[2 * e + 1];
    }
    PyObject *list = PyList_New(no);
    if (!list) goto fail_ends;
    for (int i = 0; i < no; i++) PyList_SET_ITEM(list, i, PyLong_FromLong(order[i]));
    free(ends);
    free(work);
    free(mem);
    return Py_BuildValue("(Nd)", list, best);

fail_ends:
    free(ends);
fail_work:
    free(work);
fail_mem:
    free(mem);
    return NULL;
}

static PyMethodDef methods[] = {
    {"set_tables", set_tables, METH_VARARGS, "Load the state tables for 1 or 2 blocks."},
    {"solve", (PyCFunction)(void (*)(void))solve, METH_FASTCALL, "Optimal tour: (order, length) or length."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_exact", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__exact(void) {
    s_aisle = PyUnicode_InternFromString("aisle");
    s_block = PyUnicode_InternFromString("block");
    s_slot = PyUnicode_InternFromString("slot");
    s_y = PyUnicode_InternFromString("y");
    if (!s_aisle || !s_block || !s_slot || !s_y) return NULL;
    return PyModule_Create(&module);
}
