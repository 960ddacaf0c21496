/* Optional C version of the improvement in server/core/routing/multiblock.py: the closed-form
 * distance matrix, then 2-opt and Or-opt over neighbour lists from a stack of active nodes, then
 * iterated local search with double-bridge kicks (every other one small, three cuts within
 * WINDOW stops; the others cut anywhere). Deterministic (xorshift, fixed seed).
 *
 *   node_matrix(xs, ys, blocks, mids, block_length) -> bytes of m*m doubles (row-major)
 *   improve(d, start, kicks, seed) -> (tour, length); d: a buffer of m*m doubles
 *   improve_path(d, n1, budget_ms, kicks, seed) -> faces' order, start -> end on a symmetric graph
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define EPS 1e-9
#ifndef K
#define K 8        /* neighbours per node */
#endif
#ifndef SEGMENT
#define SEGMENT 10 /* longest Or-opt segment */
#endif
#ifndef WINDOW
#define WINDOW 10  /* a kick's three cuts lie within this many stops */
#endif
#ifndef WIDE
#define WIDE 2     /* every WIDE-th kick cuts anywhere in the tour (0: never) */
#endif

typedef struct {
    int m;
    const double *d;
    int *t, *pos;     /* tour and position of each node */
    int *neigh;       /* m * K nearest, K per node (fewer when m - 1 < K) */
    int k;            /* neighbours per node */
    int *stack;       /* active nodes */
    char *queued;
    int *buf;         /* scratch, m */
    int top;
} Ctx;

#define D(c, a, b) ((c)->d[(size_t)(a) * (c)->m + (b)])

static inline int succ(const Ctx *c, int v) {
    int i = c->pos[v] + 1;
    return c->t[i == c->m ? 0 : i];
}

static inline int pred(const Ctx *c, int v) {
    int i = c->pos[v];
    return c->t[i == 0 ? c->m - 1 : i - 1];
}

static inline void push(Ctx *c, int v) {
    if (!c->queued[v]) {
        c->queued[v] = 1;
        c->stack[c->top++] = v;
    }
}

static void neighbour_lists(Ctx *c) {
    int m = c->m, k = m - 1 < K ? m - 1 : K;
    c->k = k;
    for (int i = 0; i < m; i++) {
        int *row = c->neigh + (size_t)i * K, cnt = 0;
        const double *di = c->d + (size_t)i * m;
        for (int j = 0; j < m; j++) {
            if (j == i) continue;
            double dj = di[j];
            if (cnt == k && dj >= di[row[k - 1]]) continue;
            int p = cnt < k ? cnt++ : k - 1;
            while (p > 0 && di[row[p - 1]] > dj) { /* stable: ties keep index order */
                row[p] = row[p - 1];
                p--;
            }
            row[p] = j;
        }
    }
}

/* Reverse the tour between positions u and v inclusive (cyclic), or the complement, whichever is
 * shorter: the same cycle either way. */
static void reverse(Ctx *c, int u, int v) {
    int m = c->m, len = v - u;
    if (len < 0) len += m;
    len += 1;
    if (2 * len > m) {
        int nu = v + 1 == m ? 0 : v + 1, nv = u == 0 ? m - 1 : u - 1;
        u = nu;
        v = nv;
        len = m - len;
    }
    int *t = c->t, *pos = c->pos;
    for (int s = 0; s < len / 2; s++) {
        int a = t[u], b = t[v];
        t[u] = b;
        pos[b] = u;
        t[v] = a;
        pos[a] = v;
        if (++u == m) u = 0;
        if (--v < 0) v = m - 1;
    }
}

/* 2-opt at a: new edges (a, c) and (a's neighbour on the tour, c's on the same side). */
static double two_opt(Ctx *c, int a) {
    const int *nb = c->neigh + (size_t)a * K;
    for (int side = 0; side < 2; side++) {
        int b = side ? pred(c, a) : succ(c, a);
        double dab = D(c, a, b);
        for (int q = 0; q < c->k; q++) {
            int x = nb[q];
            double dax = D(c, a, x);
            if (dax >= dab) break;
            int e = side ? pred(c, x) : succ(c, x);
            if (x == b || e == a) continue;
            double delta = dax + D(c, b, e) - dab - D(c, x, e);
            if (delta < -EPS) {
                int i = c->pos[a], j = c->pos[x];
                if (side) /* ... e x ... b a ... -> reverse x..b */
                    reverse(c, j, i == 0 ? c->m - 1 : i - 1);
                else /* ... a b ... x e ... -> reverse b..x */
                    reverse(c, i + 1 == c->m ? 0 : i + 1, j);
                push(c, a), push(c, b), push(c, x), push(c, e);
                return -delta;
            }
        }
    }
    return 0.0;
}

/* Or-opt at a: move the segment of 1..SEGMENT stops that begins at a (walking forward, then
 * backward) between two other neighbouring stops, either way round. */
static double or_opt(Ctx *c, int a) {
    int m = c->m, maxlen = m - 3 < SEGMENT ? m - 3 : SEGMENT;
    for (int dir = 0; dir < 2; dir++) {
        int p = dir ? succ(c, a) : pred(c, a);
        double dps = D(c, p, a);
        int e = a;
        for (int len = 1; len <= maxlen; len++) {
            if (len > 1) e = dir ? pred(c, e) : succ(c, e);
            int nx = dir ? pred(c, e) : succ(c, e);
            double gain = dps + D(c, e, nx) - D(c, p, nx);
            if (gain <= EPS) continue;
            double limit = gain - EPS;
            int best_c = -1, best_after = 0, best_end = 0;
            /* segment nodes in walk order are a .. e; positions along dir */
            int ia = c->pos[a];
            for (int o = 0; o < (len > 1 ? 2 : 1); o++) {
                int end = o ? e : a, other = o ? a : e;
                const int *nb = c->neigh + (size_t)end * K;
                for (int q = 0; q < c->k; q++) {
                    int x = nb[q];
                    double dc = D(c, end, x);
                    if (dc >= limit) break;
                    int off = dir ? ia - c->pos[x] : c->pos[x] - ia;
                    if (off < 0) off += m;
                    if (off < len) continue; /* inside the segment */
                    /* in tour (forward) order */
                    int xn = succ(c, x), xp = pred(c, x);
                    int sf = dir ? e : a, ef = dir ? a : e; /* segment's first/last, forward */
                    int pf = dir ? nx : p, nf = dir ? p : nx;
                    if (xn == sf) xn = nf;
                    if (xp == ef) xp = pf;
                    double after = dc + D(c, other, xn) - D(c, x, xn); /* x, end .. other, xn */
                    if (after < limit) best_c = x, best_after = 1, best_end = end, limit = after;
                    double before = D(c, other, xp) + dc - D(c, xp, x); /* xp, other .. end, x */
                    if (before < limit) best_c = x, best_after = 0, best_end = end, limit = before;
                }
            }
            if (best_c < 0) continue;
            /* Rebuild: the rest from the stop after the segment (forward), the segment inserted
             * next to best_c so that best_end touches best_c. */
            int sf = dir ? e : a, ef = dir ? a : e;
            int pf = dir ? nx : p, nf = dir ? p : nx;
            int *seg = c->stack + m; /* scratch after the stack */
            int start = c->pos[sf];
            for (int s = 0; s < len; s++) {
                int i = start + s;
                seg[s] = c->t[i >= m ? i - m : i];
            }
            /* forward segment runs sf .. ef; after x it must start with best_end, before x end
             * with it */
            int fwd = best_after ? (best_end == sf) : (best_end == ef);
            int *out = c->buf, n = 0, v = nf;
            for (int s = 0; s < m - len; s++) {
                if (!best_after && v == best_c)
                    for (int r = 0; r < len; r++) out[n++] = seg[fwd ? r : len - 1 - r];
                out[n++] = v;
                if (best_after && v == best_c)
                    for (int r = 0; r < len; r++) out[n++] = seg[fwd ? r : len - 1 - r];
                int i = c->pos[v] + 1;
                v = c->t[i == m ? 0 : i];
            }
            memcpy(c->t, out, sizeof(int) * m);
            for (int i = 0; i < m; i++) c->pos[c->t[i]] = i;
            int xn = succ(c, best_c), xp = pred(c, best_c);
            push(c, pf), push(c, nf), push(c, sf), push(c, ef), push(c, best_c), push(c, xn), push(c, xp);
            return gain - limit;
        }
    }
    return 0.0;
}

static double local_search(Ctx *c) {
    double total = 0.0;
    if (c->m < 4) {
        while (c->top) c->queued[c->stack[--c->top]] = 0;
        return 0.0;
    }
    while (c->top) {
        int a = c->stack[--c->top];
        c->queued[a] = 0;
        double g = two_opt(c, a);
        if (g == 0.0) g = or_opt(c, a);
        total += g;
    }
    return total;
}

static inline uint64_t xorshift(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static inline int below(uint64_t *s, int n) { return (int)((xorshift(s) >> 11) % (uint64_t)n); }

/* A small double bridge: three cuts within WINDOW stops from a random start; swaps the two runs
 * between them. Returns the change in length and pushes the nodes at the new edges. */
static double kick(Ctx *c, uint64_t *rng, int wide) {
    int m = c->m, w = m - 1 < WINDOW || wide ? m - 1 : WINDOW;
    int r = below(rng, m), cut[3];
    cut[0] = 1 + below(rng, w);
    do cut[1] = 1 + below(rng, w); while (cut[1] == cut[0]);
    do cut[2] = 1 + below(rng, w); while (cut[2] == cut[0] || cut[2] == cut[1]);
    for (int i = 0; i < 2; i++) /* sort three */
        for (int j = 0; j < 2 - i; j++)
            if (cut[j] > cut[j + 1]) {
                int tmp = cut[j];
                cut[j] = cut[j + 1];
                cut[j + 1] = tmp;
            }
    int x = cut[0], y = cut[1], z = cut[2];
#define AT(k) c->t[(r + (k)) % m]
    int a = AT(x - 1), b = AT(x), cc = AT(y - 1), e = AT(y), f = AT(z - 1), g = AT(z);
    double delta = D(c, a, e) + D(c, f, b) + D(c, cc, g) - D(c, a, b) - D(c, cc, e) - D(c, f, g);
    int *tmp = c->buf, n = 0;
    for (int k = y; k < z; k++) tmp[n++] = AT(k);
    for (int k = x; k < y; k++) tmp[n++] = AT(k);
    for (int k = 0; k < n; k++) {
        int i = (r + x + k) % m;
        c->t[i] = tmp[k];
        c->pos[tmp[k]] = i;
    }
#undef AT
    push(c, a), push(c, b), push(c, cc), push(c, e), push(c, f), push(c, g);
    return delta;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* After the first local search: `kicks` double-bridge kicks (or until `deadline`, CLOCK_MONOTONIC
 * ms), each repaired by the local search and kept when the tour is no longer; the best tour in
 * `best` (m ints; `cur` is scratch). */
static void kick_loop(Ctx *c, int *best, int *cur, long kicks, uint64_t seed, double deadline) {
    int m = c->m;
    memcpy(best, c->t, sizeof(int) * m);
    if (m < 6) return;
    uint64_t rng = 0x9E3779B97F4A7C15ULL ^ (seed * 0xBF58476D1CE4E5B9ULL);
    if (!rng) rng = 1;
    double behind = 0.0; /* how much longer cur is than best */
    memcpy(cur, c->t, sizeof(int) * m);
    for (long k = 0; k < kicks; k++) {
        if (deadline < INFINITY && now_ms() >= deadline) break;
        double delta = kick(c, &rng, WIDE && k % WIDE == WIDE - 1);
        delta -= local_search(c);
        if (behind + delta < EPS) {
            behind += delta;
            memcpy(cur, c->t, sizeof(int) * m);
            if (behind < -EPS) {
                memcpy(best, c->t, sizeof(int) * m);
                behind = 0.0;
            }
        } else {
            memcpy(c->t, cur, sizeof(int) * m);
            for (int i = 0; i < m; i++) c->pos[c->t[i]] = i;
        }
    }
}

/* The search from the tour `start` (a permutation of 0..m-1) on d (m*m doubles): the local search,
 * then kick_loop; the best tour into `best`. 0 when out of memory. */
static int search_tour(const double *d, int m, const int *start, long kicks, uint64_t seed, double deadline,
                       int *best) {
    Ctx c = {0};
    /* t, pos, cur, buf (m each), stack (2m: stack, then a segment), neigh (K m), queued */
    int *mem = PyMem_RawMalloc(sizeof(int) * ((size_t)m * (6 + K)) + (size_t)m);
    if (!mem) return 0;
    c.m = m;
    c.d = d;
    c.t = mem;
    c.pos = mem + m;
    int *cur = mem + 2 * m;
    c.buf = mem + 3 * m;
    c.stack = mem + 4 * m;
    c.neigh = mem + 6 * m;
    c.queued = (char *)(mem + (6 + K) * m);
    memset(c.queued, 0, m);
    for (int i = 0; i < m; i++) {
        c.t[i] = start[i];
        c.pos[start[i]] = i;
    }
    neighbour_lists(&c);
    for (int v = 0; v < c.m; v++) push(&c, c.t[c.m - 1 - v]); /* pops in tour order */
    local_search(&c);
    kick_loop(&c, best, cur, kicks, seed, deadline);
    PyMem_RawFree(mem);
    return 1;
}

static PyObject *improve(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer view;
    PyObject *start;
    long kicks;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "y*OlK", &view, &start, &kicks, &seed)) return NULL;
    PyObject *result = NULL, *fast = NULL;
    int *tour = NULL;
    fast = PySequence_Fast(start, "start must be a sequence");
    if (!fast) goto done;
    Py_ssize_t m = PySequence_Fast_GET_SIZE(fast);
    if (m < 1 || m > 1000000 || view.len != (Py_ssize_t)(m * m * sizeof(double))) {
        PyErr_SetString(PyExc_ValueError, "d must hold len(start)**2 doubles");
        goto done;
    }
    tour = PyMem_Malloc(sizeof(int) * 3 * (size_t)m); /* start, its positions, best */
    if (!tour) {
        PyErr_NoMemory();
        goto done;
    }
    int *seen = tour + m, *best = tour + 2 * m;
    memset(seen, -1, sizeof(int) * m);
    for (Py_ssize_t i = 0; i < m; i++) {
        long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(fast, i));
        if (v == -1 && PyErr_Occurred()) goto done;
        if (v < 0 || v >= m || seen[v] >= 0) {
            PyErr_SetString(PyExc_ValueError, "start must be a permutation of range(len(start))");
            goto done;
        }
        tour[i] = (int)v;
        seen[v] = (int)i;
    }
    int ok;
    Py_BEGIN_ALLOW_THREADS
    ok = search_tour(view.buf, (int)m, tour, kicks, seed, INFINITY, best);
    Py_END_ALLOW_THREADS
    if (!ok) {
        PyErr_NoMemory();
        goto done;
    }
    PyObject *list = PyList_New(m);
    if (!list) goto done;
    for (Py_ssize_t i = 0; i < m; i++) PyList_SET_ITEM(list, i, PyLong_FromLong(best[i]));
    double length = 0.0;
    const double *d = view.buf;
    for (Py_ssize_t i = 0; i < m; i++) length += d[(size_t)best[i] * m + best[(i + 1) % m]];
    result = Py_BuildValue("(Nd)", list, length);
done:
    PyMem_Free(tour);
    Py_XDECREF(fast);
    PyBuffer_Release(&view);
    return result;
}

/* A walk from a start node to an end node through n faces, on a symmetric walking graph:
 * d is the (n+1)*(n+1) depot matrix of routing.graph (row 0 leaves the start, column 0 reaches
 * the end). The tour above runs on n+2 nodes, the start (0) and the end (1) joined by an edge of
 * length -FIXED that no move gives up. Nearest-neighbour start from the start node; kicks until
 * `kicks` or `budget_ms`. Returns the faces' visiting order (1..n, as in d). */
#define FIXED 1e7
static PyObject *improve_path(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer view;
    Py_ssize_t n1;
    double budget_ms;
    long kicks;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "y*ndlK", &view, &n1, &budget_ms, &kicks, &seed)) return NULL;
    double deadline = now_ms() + budget_ms;
    PyObject *result = NULL;
    double *dd = NULL;
    int *tour = NULL;
    if (n1 < 2 || n1 > 100000 || view.len != (Py_ssize_t)(n1 * n1 * sizeof(double))) {
        PyErr_SetString(PyExc_ValueError, "d must hold n1**2 doubles, n1 >= 2");
        goto done;
    }
    const double *d = view.buf;
    int n = (int)n1 - 1, m = n + 2;
    dd = PyMem_Malloc(sizeof(double) * (size_t)m * m);
    tour = PyMem_Malloc(sizeof(int) * 2 * (size_t)m);
    if (!dd || !tour) {
        PyErr_NoMemory();
        goto done;
    }
    int *best = tour + m, ok;
    Py_BEGIN_ALLOW_THREADS
#define DD(a, b) dd[(size_t)(a) * m + (b)]
    DD(0, 0) = DD(1, 1) = 0.0;
    DD(0, 1) = DD(1, 0) = -FIXED;
    for (int i = 0; i < n; i++) {
        DD(0, i + 2) = DD(i + 2, 0) = d[i + 1];
        DD(1, i + 2) = DD(i + 2, 1) = d[(size_t)(i + 1) * n1];
        for (int j = 0; j < n; j++) DD(i + 2, j + 2) = d[(size_t)(i + 1) * n1 + j + 1];
    }
    /* nearest neighbour from the start; best[] marks the faces taken */
    memset(best, 0, sizeof(int) * m);
    tour[0] = 0;
    for (int k = 1, last = 0; k <= n; k++) {
        int next = -1;
        for (int j = 2; j < m; j++)
            if (!best[j] && (next < 0 || DD(last, j) < DD(last, next))) next = j;
        best[next] = 1;
        tour[k] = last = next;
    }
    tour[m - 1] = 1;
#undef DD
    ok = search_tour(dd, m, tour, kicks, seed, deadline, best);
    Py_END_ALLOW_THREADS
    if (!ok) {
        PyErr_NoMemory();
        goto done;
    }
    int at = 0;
    while (best[at] != 0) at++;
    int step = best[(at + 1) % m] == 1 ? m - 1 : 1; /* walk away from the end node */
    PyObject *order = PyList_New(n);
    if (!order) goto done;
    for (int k = 0; k < n; k++) PyList_SET_ITEM(order, k, PyLong_FromLong(best[(at + step * (k + 1)) % m] - 1));
    result = order;
done:
    PyMem_Free(dd);
    PyMem_Free(tour);
    PyBuffer_Release(&view);
    return result;
}

/* The closed form of heuristics.node_matrix: |dx| + |dy|, except between different aisles of one
 * block: |dx| + L - |u1 + u2| with u the offset from the block's middle. Block -1: the depot. */
static PyObject *node_matrix(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *oxs, *oys, *obl, *omids;
    double length;
    if (!PyArg_ParseTuple(args, "OOOOd", &oxs, &oys, &obl, &omids, &length)) return NULL;
    PyObject *xs = NULL, *ys = NULL, *bl = NULL, *mids = NULL, *out = NULL;
    double *buf = NULL;
    xs = PySequence_Fast(oxs, "xs"), ys = PySequence_Fast(oys, "ys");
    bl = PySequence_Fast(obl, "blocks"), mids = PySequence_Fast(omids, "mids");
    if (!xs || !ys || !bl || !mids) goto done;
    Py_ssize_t m = PySequence_Fast_GET_SIZE(xs), nb = PySequence_Fast_GET_SIZE(mids);
    if (PySequence_Fast_GET_SIZE(ys) != m || PySequence_Fast_GET_SIZE(bl) != m) {
        PyErr_SetString(PyExc_ValueError, "xs, ys and blocks differ in length");
        goto done;
    }
    buf = PyMem_Malloc(sizeof(double) * (3 * m + nb + 1));
    if (!buf) {
        PyErr_NoMemory();
        goto done;
    }
    double *x = buf, *u = buf + m, *blk = buf + 2 * m, *mid = buf + 3 * m;
    for (Py_ssize_t b = 0; b < nb; b++)
        if ((mid[b] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(mids, b))) == -1.0 && PyErr_Occurred()) goto done;
    for (Py_ssize_t i = 0; i < m; i++) {
        x[i] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(xs, i));
        u[i] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(ys, i));
        long b = PyLong_AsLong(PySequence_Fast_GET_ITEM(bl, i));
        if (PyErr_Occurred()) goto done;
        if (b >= nb || b < -1) {
            PyErr_SetString(PyExc_ValueError, "block out of range");
            goto done;
        }
        blk[i] = (double)b;
    }
    out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(m * m * sizeof(double)));
    if (!out) goto done;
    double *d = (double *)PyBytes_AS_STRING(out);
    for (Py_ssize_t i = 0; i < m; i++) {
        double *row = d + i * m;
        int bi = (int)blk[i];
        double ui = bi >= 0 ? u[i] - mid[bi] : 0.0;
        for (Py_ssize_t j = 0; j < m; j++) {
            double dx = fabs(x[i] - x[j]);
            if (bi >= 0 && blk[j] == bi && x[j] != x[i])
                row[j] = dx + length - fabs(ui + (u[j] - mid[bi]));
            else
                row[j] = dx + fabs(u[i] - u[j]);
        }
    }
done:
    PyMem_Free(buf);
    Py_XDECREF(xs);
    Py_XDECREF(ys);
    Py_XDECREF(bl);
    Py_XDECREF(mids);
    return out;
}

static PyMethodDef methods[] = {
    {"improve", improve, METH_VARARGS, "improve(d, start, kicks, seed) -> (tour, length)"},
    {"improve_path", improve_path, METH_VARARGS, "improve_path(d, n1, budget_ms, kicks, seed) -> order of 1..n1-1"},
    {"node_matrix", node_matrix, METH_VARARGS, "node_matrix(xs, ys, blocks, mids, block_length) -> bytes"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_multiblock", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__multiblock(void) { return PyModule_Create(&module); }
