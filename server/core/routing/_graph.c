/* Optional C helpers of server/core/walkgraph.py and server/core/routing/graph.py: the directed
 * node table, the depot-and-faces matrix, Held-Karp and the asymmetric local search.
 *
 *   all_pairs(n, us, vs, oneway, lengths, dist, pred)        Dijkstra from every node (binary heap)
 *   face_matrix(n, dist, us, vs, oneway, lengths, face_edges, face_offsets, start, end, out)
 *   held_karp(d, m) -> order of 1..m-1, or None if no walk   d: m*m doubles, 0 = depot
 *   search(d, m, budget_ms, idle_kicks, seed, groups) -> order of 1..m-1   groups: int32 per
 *       node (the depot -1): faces on one edge share a group
 *
 * Buffers: us, vs, face_edges int32 (array "i"); oneway int8 ("b"); the rest doubles ("d"); dist,
 * pred and out are written. The search works on the depot path t[0] = t[m] = 0 with moves that
 * keep the walk's direction or price a reversal at its true asymmetric cost (prefix sums):
 * orientation-preserving 3-opt (segment insertion: two adjacent runs swap places) and 2-opt,
 * both over out- and in-neighbour lists, from a stack of active nodes; then double-bridge kicks
 * (the path form of a double bridge: two short adjacent runs swap) until the budget is spent or
 * `idle_kicks` kicks in a row found nothing shorter. Deterministic for a seed, save for the clock.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

#define EPS 1e-9
#define BIG 1e9 /* stands in for "no walk" inside the search (metres) */
#ifndef K
#define K 8 /* neighbours per node, each way */
#endif
#ifndef WINDOW
#define WINDOW 8 /* longest run a short kick moves */
#endif
#ifndef SAME_GROUP
#define SAME_GROUP 2 /* neighbours of one group (faces on one edge) in a list */
#endif
#ifndef WIDE
#define WIDE 2 /* every WIDE-th kick moves runs of any length (0: never) */
#endif

static int check_len(Py_buffer *b, Py_ssize_t items, Py_ssize_t size, const char *name) {
    if (b->len != items * size) {
        PyErr_Format(PyExc_ValueError, "%s must hold %zd items of %zd bytes", name, items, size);
        return 0;
    }
    return 1;
}

/* --- the node table ------------------------------------------------------------------------ */

static void sift_up(int *heap, int *hpos, const double *key, int i) {
    int v = heap[i];
    while (i > 0) {
        int p = (i - 1) / 2;
        if (key[heap[p]] <= key[v]) break;
        heap[i] = heap[p];
        hpos[heap[i]] = i;
        i = p;
    }
    heap[i] = v;
    hpos[v] = i;
}

static void sift_down(int *heap, int *hpos, const double *key, int size, int i) {
    int v = heap[i];
    for (;;) {
        int l = 2 * i + 1, s = i;
        double ks = key[v];
        if (l < size && key[heap[l]] < ks) s = l, ks = key[heap[l]];
        if (l + 1 < size && key[heap[l + 1]] < ks) s = l + 1;
        if (s == i) break;
        heap[i] = heap[s];
        hpos[heap[i]] = i;
        i = s;
    }
    heap[i] = v;
    hpos[v] = i;
}

static PyObject *all_pairs(PyObject *self, PyObject *args) {
    (void)self;
    Py_ssize_t n;
    Py_buffer bu, bv, bo, bl, bd, bp;
    if (!PyArg_ParseTuple(args, "ny*y*y*y*w*w*", &n, &bu, &bv, &bo, &bl, &bd, &bp)) return NULL;
    PyObject *result = NULL;
    int *mem = NULL;
    double *wt = NULL;
    Py_ssize_t e = bu.len / (Py_ssize_t)sizeof(int);
    if (n < 1 || n > 46340 || !check_len(&bu, e, sizeof(int), "us") || !check_len(&bv, e, sizeof(int), "vs") ||
        !check_len(&bo, e, 1, "oneway") || !check_len(&bl, e, sizeof(double), "lengths") ||
        !check_len(&bd, n * n, sizeof(double), "dist") || !check_len(&bp, n * n, sizeof(int), "pred"))
        goto done;
    const int *us = bu.buf, *vs = bv.buf;
    const signed char *one = bo.buf;
    const double *len = bl.buf;
    for (Py_ssize_t i = 0; i < e; i++)
        if (us[i] < 0 || us[i] >= n || vs[i] < 0 || vs[i] >= n) {
            PyErr_Format(PyExc_ValueError, "edges[%zd]: node out of range", i);
            goto done;
        }
    /* CSR adjacency: first[n + 1], to[2e]; heap and hpos (n each) */
    mem = PyMem_Malloc(sizeof(int) * ((size_t)n * 3 + 1 + 2 * (size_t)e + 1));
    wt = PyMem_Malloc(sizeof(double) * (2 * (size_t)e + 1));
    if (!mem || !wt) {
        PyErr_NoMemory();
        goto done;
    }
    int *first = mem, *to = mem + n + 1, *heap = to + 2 * e, *hpos = heap + n;
    double *dist = bd.buf;
    int *pred = bp.buf;
    Py_BEGIN_ALLOW_THREADS
    memset(first, 0, sizeof(int) * (n + 1));
    for (Py_ssize_t i = 0; i < e; i++) {
        first[us[i] + 1]++;
        if (!one[i]) first[vs[i] + 1]++;
    }
    for (Py_ssize_t v = 0; v < n; v++) first[v + 1] += first[v];
    int *fill = heap; /* scratch before the searches */
    memcpy(fill, first, sizeof(int) * n);
    for (Py_ssize_t i = 0; i < e; i++) {
        int k = fill[us[i]]++;
        to[k] = vs[i], wt[k] = len[i];
        if (!one[i]) k = fill[vs[i]]++, to[k] = us[i], wt[k] = len[i];
    }
    for (Py_ssize_t s = 0; s < n; s++) {
        double *d = dist + s * n;
        int *p = pred + s * n, size = 0;
        for (Py_ssize_t v = 0; v < n; v++) d[v] = INFINITY, p[v] = -1, hpos[v] = -1;
        d[s] = 0.0;
        heap[size++] = (int)s;
        hpos[s] = 0;
        while (size) {
            int u = heap[0];
            hpos[u] = -2; /* settled */
            if (--size) {
                heap[0] = heap[size];
                hpos[heap[0]] = 0;
                sift_down(heap, hpos, d, size, 0);
            }
            for (int k = first[u]; k < first[u + 1]; k++) {
                int v = to[k];
                double nd = d[u] + wt[k];
                if (nd < d[v]) {
                    d[v] = nd;
                    p[v] = u;
                    if (hpos[v] == -1) {
                        heap[size] = v;
                        sift_up(heap, hpos, d, size++);
                    } else if (hpos[v] >= 0) {
                        sift_up(heap, hpos, d, hpos[v]);
                    }
                }
            }
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    PyMem_Free(mem);
    PyMem_Free(wt);
    PyBuffer_Release(&bu), PyBuffer_Release(&bv), PyBuffer_Release(&bo);
    PyBuffer_Release(&bl), PyBuffer_Release(&bd), PyBuffer_Release(&bp);
    return result;
}

/* --- the depot-and-faces matrix: the same sums, in the same order, as walkgraph.py ------------- */

typedef struct {
    int count, node[2];
    double metres[2];
} Ways;

static PyObject *face_matrix(PyObject *self, PyObject *args) {
    (void)self;
    Py_ssize_t n, start, end;
    Py_buffer bd, bu, bv, bo, bl, bfe, bfo, bout;
    if (!PyArg_ParseTuple(args, "ny*y*y*y*y*y*y*nnw*", &n, &bd, &bu, &bv, &bo, &bl, &bfe, &bfo, &start, &end, &bout))
        return NULL;
    PyObject *result = NULL;
    Ways *ways = NULL;
    Py_ssize_t e = bu.len / (Py_ssize_t)sizeof(int), f = bfe.len / (Py_ssize_t)sizeof(int), m = f + 1;
    if (!check_len(&bd, n * n, sizeof(double), "dist") || !check_len(&bv, e, sizeof(int), "vs") ||
        !check_len(&bo, e, 1, "oneway") || !check_len(&bl, e, sizeof(double), "lengths") ||
        !check_len(&bfo, f, sizeof(double), "face_offsets") || !check_len(&bout, m * m, sizeof(double), "out"))
        goto done;
    if (start < 0 || start >= n || end < 0 || end >= n) {
        PyErr_SetString(PyExc_ValueError, "start or end out of range");
        goto done;
    }
    const double *dist = bd.buf, *len = bl.buf, *off = bfo.buf;
    const int *us = bu.buf, *vs = bv.buf, *fe = bfe.buf;
    const signed char *one = bo.buf;
    for (Py_ssize_t i = 0; i < f; i++)
        if (fe[i] < 0 || fe[i] >= e) {
            PyErr_Format(PyExc_ValueError, "faces[%zd]: edge out of range", i);
            goto done;
        }
    ways = PyMem_Malloc(sizeof(Ways) * 2 * (size_t)m); /* exits of spot i, then entries */
    if (!ways) {
        PyErr_NoMemory();
        goto done;
    }
    Ways *exits = ways, *entries = ways + m;
    exits[0] = (Ways){1, {(int)start, 0}, {0.0, 0.0}};
    entries[0] = (Ways){1, {(int)end, 0}, {0.0, 0.0}};
    for (Py_ssize_t i = 1; i < m; i++) {
        int g = fe[i - 1];
        double t = off[i - 1], rest = len[g] - t;
        if (one[g]) {
            exits[i] = (Ways){1, {vs[g], 0}, {rest, 0.0}};
            entries[i] = (Ways){1, {us[g], 0}, {t, 0.0}};
        } else {
            exits[i] = (Ways){2, {us[g], vs[g]}, {t, rest}};
            entries[i] = (Ways){2, {us[g], vs[g]}, {t, rest}};
        }
    }
    double *out = bout.buf;
    for (Py_ssize_t i = 0; i < m; i++) {
        const Ways *x = exits + i;
        for (Py_ssize_t j = 0; j < m; j++) {
            if (i == j && i) {
                out[i * m + j] = 0.0;
                continue;
            }
            double best = INFINITY;
            if (i && j && fe[i - 1] == fe[j - 1]) { /* the direct run along the shared edge */
                double a = off[i - 1], b = off[j - 1];
                best = one[fe[i - 1]] ? (b >= a ? b - a : INFINITY) : fabs(b - a);
            }
            const Ways *y = entries + j;
            for (int p = 0; p < x->count; p++) {
                const double *row = dist + (Py_ssize_t)x->node[p] * n;
                for (int q = 0; q < y->count; q++) {
                    double walk = x->metres[p] + row[y->node[q]] + y->metres[q];
                    if (walk < best) best = walk;
                }
            }
            out[i * m + j] = best;
        }
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyMem_Free(ways);
    PyBuffer_Release(&bd), PyBuffer_Release(&bu), PyBuffer_Release(&bv), PyBuffer_Release(&bo);
    PyBuffer_Release(&bl), PyBuffer_Release(&bfe), PyBuffer_Release(&bfo), PyBuffer_Release(&bout);
    return result;
}

static PyObject *order_list(const int *t, int count) {
    PyObject *list = PyList_New(count);
    if (!list) return NULL;
    for (int i = 0; i < count; i++) {
        PyObject *v = PyLong_FromLong(t[i]);
        if (!v) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, v);
    }
    return list;
}

/* --- Held-Karp: the same loops and tie-breaks as graph.held_karp ------------------------------ */

static PyObject *held_karp(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer bd;
    Py_ssize_t m;
    if (!PyArg_ParseTuple(args, "y*n", &bd, &m)) return NULL;
    PyObject *result = NULL;
    double *best = NULL;
    signed char *back = NULL;
    int *order = NULL;
    if (m < 2 || m > 17) {
        PyErr_SetString(PyExc_ValueError, "held_karp takes 1..16 faces");
        goto done;
    }
    if (!check_len(&bd, m * m, sizeof(double), "d")) goto done;
    const double *d = bd.buf;
    int n = (int)m - 1;
    size_t states = (size_t)1 << n;
    best = PyMem_Malloc(sizeof(double) * states * n);
    back = PyMem_Malloc(states * n);
    order = PyMem_Malloc(sizeof(int) * n);
    if (!best || !back || !order) {
        PyErr_NoMemory();
        goto done;
    }
    int last = 0;
    double best_total;
    Py_BEGIN_ALLOW_THREADS
    for (size_t s = 0; s < states * n; s++) best[s] = INFINITY, back[s] = -1;
    for (int j = 0; j < n; j++) best[((size_t)1 << j) * n + j] = d[j + 1];
    size_t full = states - 1;
    for (size_t mask = 1; mask <= full; mask++) {
        const double *row = best + mask * n;
        for (size_t in = mask; in; in &= in - 1) { /* j over the set bits, ascending */
            int j = __builtin_ctzll(in);
            double here = row[j];
            if (here == INFINITY) continue;
            const double *dj = d + (size_t)(j + 1) * m;
            for (size_t out = full & ~mask; out; out &= out - 1) { /* k over the others */
                int k = __builtin_ctzll(out);
                size_t at = (mask | (size_t)1 << k) * n + k;
                double walk = here + dj[k + 1];
                if (walk < best[at]) best[at] = walk, back[at] = (signed char)j;
            }
        }
    }
    best_total = best[full * n] + d[m];
    for (int j = 1; j < n; j++) {
        double total = best[full * n + j] + d[(size_t)(j + 1) * m];
        if (total < best_total) best_total = total, last = j;
    }
    if (best_total != INFINITY) {
        size_t mask = full;
        for (int i = n - 1; i >= 0; i--) {
            order[i] = last + 1;
            int prev = back[mask * n + last];
            mask &= ~((size_t)1 << last);
            last = prev;
        }
    }
    Py_END_ALLOW_THREADS
    if (best_total == INFINITY) {
        result = Py_None;
        Py_INCREF(result);
    } else {
        result = order_list(order, n);
    }
done:
    PyMem_Free(best);
    PyMem_Free(back);
    PyMem_Free(order);
    PyBuffer_Release(&bd);
    return result;
}

/* --- the search --------------------------------------------------------------------------------- */

typedef struct {
    int m;           /* nodes with the depot; path positions 0..m, t[0] = t[m] = 0 */
    const double *d; /* m*m, BIG for no walk */
    int *t, *pos;    /* path (m + 1) and position of each node (the depot: 0) */
    double *fw, *bw; /* prefix sums (m + 1): forward walk, and each step walked backwards */
    int *nout, *nin; /* K nearest successors / predecessors of each node */
    int k;
    int *stack, top;
    char *queued;
    int *buf; /* scratch, m + 1 */
} Ctx;

#define D(c, a, b) ((c)->d[(size_t)(a) * (c)->m + (b)])
#define TAIL(c, x) ((c)->pos[x])                 /* where x stands as an edge's tail */
#define HEAD(c, x) ((x) == 0 ? (c)->m : (c)->pos[x]) /* ... and as its head */

static inline void push(Ctx *c, int v) {
    if (!c->queued[v]) {
        c->queued[v] = 1;
        c->stack[c->top++] = v;
    }
}

static void prefix(Ctx *c, int from) {
    for (int i = from; i < c->m; i++) {
        c->fw[i + 1] = c->fw[i] + D(c, c->t[i], c->t[i + 1]);
        c->bw[i + 1] = c->bw[i] + D(c, c->t[i + 1], c->t[i]);
    }
}

static void settle(Ctx *c, int from) {
    for (int i = from; i < c->m; i++) c->pos[c->t[i]] = i;
    prefix(c, from);
}

/* K nearest by row (out) or by column (in), ties in index order, at most SAME_GROUP of one group
 * (faces on one edge: else the lists of a face hold only its own aisle). Short lists repeat their
 * last entry. */
static void neighbour_lists(Ctx *c, const int *group) {
    int m = c->m, k = m - 1 < K ? m - 1 : K;
    c->k = k;
    for (int way = 0; way < 2; way++)
        for (int i = 0; i < m; i++) {
            int *row = (way ? c->nin : c->nout) + (size_t)i * K, cnt = 0;
            double key[K];
            for (int j = 0; j < m; j++) {
                if (j == i) continue;
                double dj = way ? D(c, j, i) : D(c, i, j);
                if (cnt == k && dj >= key[k - 1]) continue;
                int same = 0, worst = -1, g = group[j];
                if (g >= 0)
                    for (int q = 0; q < cnt; q++)
                        if (group[row[q]] == g) same++, worst = q;
                if (same >= SAME_GROUP) {
                    if (dj >= key[worst]) continue;
                    for (int q = worst; q + 1 < cnt; q++) row[q] = row[q + 1], key[q] = key[q + 1];
                    cnt--;
                } else if (cnt == k) {
                    cnt--;
                }
                int p = cnt++;
                while (p > 0 && key[p - 1] > dj) {
                    row[p] = row[p - 1], key[p] = key[p - 1];
                    p--;
                }
                row[p] = j, key[p] = dj;
            }
            for (int q = cnt; q < k; q++) row[q] = row[cnt - 1];
        }
}

/* Three cuts 0 <= i < j < k < m split the path into t[0..i] A = t[i+1..j] B = t[j+1..k] t[k+1..m].
 * Kind SWAP: ... B A ...; SWAP_A: ... B A' ... (A reversed); SWAP_B: ... B' A ...; each at its
 * true asymmetric cost. */
enum { NOTHING, REVERSE, SWAP, SWAP_A, SWAP_B };

static inline double delta3(const Ctx *c, int kind, int i, int j, int k) {
    const int *t = c->t;
    double removed = D(c, t[i], t[i + 1]) + D(c, t[j], t[j + 1]) + D(c, t[k], t[k + 1]);
    if (kind == SWAP) return D(c, t[i], t[j + 1]) + D(c, t[k], t[i + 1]) + D(c, t[j], t[k + 1]) - removed;
    if (kind == SWAP_A)
        return D(c, t[i], t[j + 1]) + D(c, t[k], t[j]) + D(c, t[i + 1], t[k + 1]) +
               (c->bw[j] - c->bw[i + 1]) - (c->fw[j] - c->fw[i + 1]) - removed;
    return D(c, t[i], t[k]) + D(c, t[j + 1], t[i + 1]) + D(c, t[j], t[k + 1]) + (c->bw[k] - c->bw[j + 1]) -
           (c->fw[k] - c->fw[j + 1]) - removed;
}

static void apply3(Ctx *c, int kind, int i, int j, int k) {
    int *t = c->t, *b = c->buf, n = 0;
    push(c, t[i]), push(c, t[i + 1]), push(c, t[j]), push(c, t[j + 1]), push(c, t[k]), push(c, t[k + 1]);
    if (kind == SWAP_B)
        for (int p = k; p > j; p--) b[n++] = t[p];
    else
        for (int p = j + 1; p <= k; p++) b[n++] = t[p];
    if (kind == SWAP_A)
        for (int p = j; p > i; p--) b[n++] = t[p];
    else
        for (int p = i + 1; p <= j; p++) b[n++] = t[p];
    memcpy(t + i + 1, b, sizeof(int) * n);
    settle(c, i);
}

/* Reverse positions i..j, 1 <= i < j < m, at its true cost. */
static inline double delta2(const Ctx *c, int i, int j) {
    const int *t = c->t;
    return D(c, t[i - 1], t[j]) + D(c, t[i], t[j + 1]) + (c->bw[j] - c->bw[i]) - D(c, t[i - 1], t[i]) -
           D(c, t[j], t[j + 1]) - (c->fw[j] - c->fw[i]);
}

static void apply2(Ctx *c, int i, int j) {
    int *t = c->t;
    push(c, t[i - 1]), push(c, t[i]), push(c, t[j]), push(c, t[j + 1]);
    for (int a = i, b = j; a < b; a++, b--) {
        int x = t[a];
        t[a] = t[b], t[b] = x;
    }
    settle(c, i - 1);
}

typedef struct {
    double delta;
    int kind, i, j, k;
} Move;

static inline void consider3(const Ctx *c, Move *best, int kind, int i, int j, int k) {
    if (i < 0 || !(i < j && j < k && k < c->m)) return;
    double delta = delta3(c, kind, i, j, k);
    if (delta < best->delta) *best = (Move){delta, kind, i, j, k};
}

static inline void consider2(const Ctx *c, Move *best, int i, int j) {
    if (!(1 <= i && i < j && j < c->m)) return;
    double delta = delta2(c, i, j);
    if (delta < best->delta) *best = (Move){delta, REVERSE, i, j, 0};
}

#define IN(v) (c->nin + (size_t)(v) * K)
#define OUT(v) (c->nout + (size_t)(v) * K)

/* Third cuts from a sorted neighbour list: list X of node A proposes the new edge x -> A (IN) or
 * A -> x (OUT); the scan stops once that edge is no shorter than the gain so far (removed edges
 * minus new ones: the gain criterion of Lin-Kernighan). CUT turns x into the move's indices. */
#define SCAN_IN(A, G, CALL)                                                                    \
    do {                                                                                       \
        const int *l_ = IN(A);                                                                 \
        for (int q = 0; q < kk; q++) {                                                         \
            int x = l_[q];                                                                     \
            if (D(c, x, A) >= (G)) break;                                                      \
            CALL;                                                                              \
        }                                                                                      \
    } while (0)
#define SCAN_OUT(A, G, CALL)                                                                   \
    do {                                                                                       \
        const int *l_ = OUT(A);                                                                \
        for (int q = 0; q < kk; q++) {                                                         \
            int x = l_[q];                                                                     \
            if (D(c, A, x) >= (G)) break;                                                      \
            CALL;                                                                              \
        }                                                                                      \
    } while (0)

/* Every move that makes the new edge u -> w, the third cut taken from the neighbour lists of the
 * nodes the other new edges join. */
static void moves_with_edge(const Ctx *c, Move *best, int u, int w) {
    int pu = TAIL(c, u), pw = HEAD(c, w), kk = c->k, m = c->m;
    const int *t = c->t;
    if (pw > pu + 1) {
        int i = pu, j = pw - 1; /* u -> w is t[i] -> t[j+1]; k after j */
        double g = D(c, t[i], t[i + 1]) + D(c, t[j], t[j + 1]) - D(c, u, w);
        if (g > EPS) {
            SCAN_IN(t[i + 1], g, consider3(c, best, SWAP, i, j, TAIL(c, x)));       /* t[k] -> t[i+1] */
            SCAN_OUT(t[j], g, consider3(c, best, SWAP, i, j, HEAD(c, x) - 1));      /* t[j] -> t[k+1] */
            double ga = g + (c->fw[j] - c->fw[i + 1]) - (c->bw[j] - c->bw[i + 1]);
            SCAN_IN(t[j], ga, consider3(c, best, SWAP_A, i, j, TAIL(c, x)));        /* t[k] -> t[j] */
            SCAN_OUT(t[i + 1], ga, consider3(c, best, SWAP_A, i, j, HEAD(c, x) - 1)); /* t[i+1] -> t[k+1] */
        }
        j = pu;
        int k = pw - 1; /* u -> w is t[j] -> t[k+1]; i before j */
        g = D(c, t[j], t[j + 1]) + D(c, t[k], t[k + 1]) - D(c, u, w);
        if (g > EPS) {
            SCAN_IN(t[j + 1], g, consider3(c, best, SWAP, TAIL(c, x), j, k));      /* t[i] -> t[j+1] */
            SCAN_OUT(t[k], g, consider3(c, best, SWAP, HEAD(c, x) - 1, j, k));     /* t[k] -> t[i+1] */
            double gb = g + (c->fw[k] - c->fw[j + 1]) - (c->bw[k] - c->bw[j + 1]);
            SCAN_IN(t[k], gb, consider3(c, best, SWAP_B, TAIL(c, x), j, k));       /* t[i] -> t[k] */
            SCAN_OUT(t[j + 1], gb, consider3(c, best, SWAP_B, HEAD(c, x) - 1, j, k)); /* t[j+1] -> t[i+1] */
        }
        if (pu >= 1) {
            i = pu - 1; /* SWAP_A's t[i+1] -> t[k+1]: k = pw - 1, j between */
            g = D(c, t[i], t[i + 1]) + D(c, t[k], t[k + 1]) - D(c, u, w);
            if (g > EPS) {
                SCAN_OUT(t[i], g, consider3(c, best, SWAP_A, i, HEAD(c, x) - 1, k)); /* t[i] -> t[j+1] */
                SCAN_OUT(t[k], g, consider3(c, best, SWAP_A, i, HEAD(c, x), k));     /* t[k] -> t[j] */
            }
        }
        if (pw < m) {
            i = pu, k = pw; /* SWAP_B's t[i] -> t[k]: j between */
            g = D(c, t[i], t[i + 1]) + D(c, t[k], t[k + 1]) - D(c, u, w);
            if (g > EPS) {
                SCAN_IN(t[i + 1], g, consider3(c, best, SWAP_B, i, TAIL(c, x) - 1, k)); /* t[j+1] -> t[i+1] */
                SCAN_IN(t[k + 1], g, consider3(c, best, SWAP_B, i, TAIL(c, x), k));     /* t[j] -> t[k+1] */
            }
        }
        consider2(c, best, pu + 1, pw); /* t[i-1] -> t[j] */
        consider2(c, best, pu, pw - 1); /* t[i] -> t[j+1] */
    } else if (pw < pu) {
        int i = pw - 1, k = pu; /* u -> w is SWAP's t[k] -> t[i+1]; j between */
        double g = D(c, t[i], t[i + 1]) + D(c, t[k], t[k + 1]) - D(c, u, w);
        if (g > EPS) {
            SCAN_OUT(t[i], g, consider3(c, best, SWAP, i, HEAD(c, x) - 1, k)); /* t[i] -> t[j+1] */
            SCAN_IN(t[k + 1], g, consider3(c, best, SWAP, i, TAIL(c, x), k));  /* t[j] -> t[k+1] */
        }
        int j = pw; /* SWAP_A's t[k] -> t[j]; i before j */
        g = D(c, t[j], t[j + 1]) + D(c, t[k], t[k + 1]) - D(c, u, w);
        if (g > EPS) {
            SCAN_IN(t[j + 1], g, consider3(c, best, SWAP_A, TAIL(c, x), j, k));     /* t[i] -> t[j+1] */
            SCAN_IN(t[k + 1], g, consider3(c, best, SWAP_A, TAIL(c, x) - 1, j, k)); /* t[i+1] -> t[k+1] */
        }
        i = pw - 1, j = pu - 1; /* SWAP_B's t[j+1] -> t[i+1]; k after j */
        g = D(c, t[i], t[i + 1]) + D(c, t[j], t[j + 1]) - D(c, u, w);
        if (g > EPS) {
            SCAN_OUT(t[i], g, consider3(c, best, SWAP_B, i, j, HEAD(c, x)));     /* t[i] -> t[k] */
            SCAN_OUT(t[j], g, consider3(c, best, SWAP_B, i, j, HEAD(c, x) - 1)); /* t[j] -> t[k+1] */
        }
    }
}

/* The best move with a new edge out of v or into v, its first step gaining (the new edge shorter
 * than the one it replaces at v: the lists are sorted, so the scan stops there). */
static double improve_node(Ctx *c, int v) {
    Move best = {-EPS, NOTHING, 0, 0, 0};
    const int *out = OUT(v), *in = IN(v);
    int pv = c->pos[v];
    double away = D(c, v, c->t[pv + 1]), into = v ? D(c, c->t[pv - 1], v) : D(c, c->t[c->m - 1], 0);
    for (int q = 0; q < c->k; q++) {
        int go = D(c, v, out[q]) <= away, come = D(c, in[q], v) <= into;
        if (!go && !come) break;
        if (go) moves_with_edge(c, &best, v, out[q]);
        if (come) moves_with_edge(c, &best, in[q], v);
    }
#ifdef CHECK /* cc -DCHECK: each move's length change must be what its delta said */
    double before = c->fw[c->m];
#endif
    if (best.kind == REVERSE) apply2(c, best.i, best.j);
    else if (best.kind != NOTHING) apply3(c, best.kind, best.i, best.j, best.k);
    else return 0.0;
#ifdef CHECK
    if (fabs(c->fw[c->m] - (before + best.delta)) > 1e-6) {
        fprintf(stderr, "move %d (%d %d %d): %g != %g\n", best.kind, best.i, best.j, best.k, c->fw[c->m], before + best.delta);
        abort();
    }
#endif
    push(c, v);
    return -best.delta;
}

static void local_search(Ctx *c) {
    while (c->top) {
        int v = c->stack[--c->top];
        c->queued[v] = 0;
        improve_node(c, v);
    }
}

static inline uint64_t xorshift(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static inline int below(uint64_t *s, int n) { return (int)((xorshift(s) >> 11) % (uint64_t)n); }

/* Two adjacent runs swap places (a double bridge on the depot path). Its three cuts follow a
 * node, one of its neighbours and one of that one's (runs that are close on the floor, however
 * far apart on the path), else (or when wide) short runs (at most WINDOW stops) anywhere. */
static void kick(Ctx *c, uint64_t *rng, int wide) {
    int m = c->m;
    if (!wide) {
        int v = 1 + below(rng, m - 1), x = c->nout[(size_t)v * K + below(rng, c->k)];
        int y = c->nout[(size_t)x * K + below(rng, c->k)];
        int p[3] = {c->pos[v], c->pos[x], c->pos[y]};
        for (int r = 0; r < 2; r++)
            for (int q = 0; q < 2 - r; q++)
                if (p[q] > p[q + 1]) {
                    int tmp = p[q];
                    p[q] = p[q + 1], p[q + 1] = tmp;
                }
        if (p[0] < p[1] && p[1] < p[2] && p[2] < m) {
            apply3(c, SWAP, p[0], p[1], p[2]);
            return;
        }
    }
    int w = m - 2 < WINDOW ? m - 2 : WINDOW;
    int a = 1 + below(rng, w), b = 1 + below(rng, w);
    if (a + b > m - 1) a = (m - 1) / 2, b = m - 1 - a;
    int i = below(rng, m - a - b), j = i + a, k = j + b;
    apply3(c, SWAP, i, j, k);
}

typedef struct {
    double length;
    int from, to;
} Arc;

static int shorter(const void *a, const void *b) {
    const Arc *x = a, *y = b;
    if (x->length != y->length) return x->length < y->length ? -1 : 1;
    if (x->from != y->from) return x->from - y->from;
    return x->to - y->to;
}

/* The start: greedy matching over the neighbour-list arcs (shortest first, no node with two
 * successors or predecessors, no early cycle), the fragments then chained nearest end first from
 * the depot's. Writes c->t; 0 if out of memory. */
static int greedy_start(Ctx *c) {
    int m = c->m, n = 0;
    Arc *arcs = malloc(sizeof(Arc) * (size_t)m * K);
    int *next = malloc(sizeof(int) * 3 * (size_t)m);
    if (!arcs || !next) {
        free(arcs);
        free(next);
        return 0;
    }
    int *prev = next + m, *end = next + 2 * m; /* end: a fragment end's other end */
    for (int v = 0; v < m; v++) {
        next[v] = prev[v] = -1, end[v] = v;
        for (int q = 0; q < c->k; q++) {
            int w = c->nout[(size_t)v * K + q];
            if (q && w == c->nout[(size_t)v * K + q - 1]) break; /* padding */
            arcs[n++] = (Arc){D(c, v, w), v, w};
        }
    }
    qsort(arcs, n, sizeof(Arc), shorter);
    for (int a = 0; a < n; a++) {
        int v = arcs[a].from, w = arcs[a].to;
        if (next[v] >= 0 || prev[w] >= 0 || end[v] == w) continue;
        int head = end[v], tail = end[w]; /* v ends a fragment from head; w starts one to tail */
        next[v] = w, prev[w] = v;
        end[head] = tail, end[tail] = head;
    }
    /* chain: from the depot's fragment head, then the nearest free head after each tail */
    char *taken = c->queued;
    memset(taken, 0, (size_t)m);
    int h = 0;
    while (prev[h] >= 0) h = prev[h];
    int p = 0, v = h;
    for (;;) {
        for (; v >= 0; v = next[v]) c->buf[p++] = v, taken[v] = 1;
        if (p == m) break;
        int last = c->buf[p - 1], pick = -1;
        for (int x = 0; x < m; x++)
            if (!taken[x] && prev[x] < 0 && (pick < 0 || D(c, last, x) < D(c, last, pick))) pick = x;
        v = pick;
    }
    memset(taken, 0, (size_t)m);
    int at = 0;
    while (c->buf[at] != 0) at++;
    for (int q = 0; q < m; q++) c->t[q] = c->buf[(at + q) % m];
    c->t[m] = 0;
    free(arcs);
    free(next);
    return 1;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static PyObject *search(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer bd, bg;
    Py_ssize_t m;
    double budget_ms;
    long idle_kicks;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "y*ndlKy*", &bd, &m, &budget_ms, &idle_kicks, &seed, &bg)) return NULL;
    PyObject *result = NULL;
    void *mem = NULL;
    if (m < 2 || m > 1000000) {
        PyErr_SetString(PyExc_ValueError, "search takes at least one face");
        goto done;
    }
    if (!check_len(&bd, m * m, sizeof(double), "d") || !check_len(&bg, m, sizeof(int), "groups")) goto done;
    size_t ints = (size_t)(m + 1) * 4 + (size_t)m * (2 * K + 2), doubles = (size_t)m * m + 2 * (size_t)(m + 1);
    mem = PyMem_Malloc(sizeof(double) * doubles + sizeof(int) * ints + (size_t)m);
    if (!mem) {
        PyErr_NoMemory();
        goto done;
    }
    Ctx c = {0};
    double *d = mem;
    c.m = (int)m;
    c.d = d;
    c.fw = d + (size_t)m * m;
    c.bw = c.fw + m + 1;
    c.t = (int *)(c.bw + m + 1);
    c.buf = c.t + m + 1;
    int *best = c.buf + m + 1, *cur = best + m + 1;
    c.pos = cur + m + 1;
    c.stack = c.pos + m;
    c.nout = c.stack + m;
    c.nin = c.nout + (size_t)m * K;
    c.queued = (char *)(c.nin + (size_t)m * K);
    Py_BEGIN_ALLOW_THREADS
    double deadline = now_ms() + budget_ms;
    const double *src = bd.buf;
    for (size_t s = 0; s < (size_t)m * m; s++) d[s] = src[s] == INFINITY ? BIG : src[s];
    memset(c.queued, 0, (size_t)m);
    c.t[0] = c.t[m] = 0;
    for (int p = 1; p < c.m; p++) c.t[p] = p;
    c.fw[0] = c.bw[0] = 0.0;
    if (c.m >= 3) {
        neighbour_lists(&c, bg.buf);
        if (!greedy_start(&c))
            for (int p = 1; p < c.m; p++) c.t[p] = p; /* no memory for the start: the given order */
    }
    settle(&c, 0);
    if (c.m >= 3) {
        for (int p = c.m - 1; p >= 0; p--) push(&c, c.t[p]);
        local_search(&c);
    }
    memcpy(best, c.t, sizeof(int) * (m + 1));
    if (c.m >= 4) {
        uint64_t rng = 0x9E3779B97F4A7C15ULL ^ (seed * 0xBF58476D1CE4E5B9ULL);
        if (!rng) rng = 1;
        double length = c.fw[m], best_length = length;
        memcpy(cur, c.t, sizeof(int) * (m + 1));
        long kicks = 0;
        for (long idle = 0; idle < idle_kicks && now_ms() < deadline; idle++) {
            kick(&c, &rng, WIDE && kicks % WIDE == WIDE - 1);
            kicks++;
            local_search(&c);
            double trial = c.fw[m];
            if (trial <= length + EPS) {
                length = trial;
                memcpy(cur, c.t, sizeof(int) * (m + 1));
                if (trial < best_length - EPS) {
                    best_length = trial;
                    memcpy(best, c.t, sizeof(int) * (m + 1));
                    idle = -1;
                }
            } else {
                memcpy(c.t, cur, sizeof(int) * (m + 1));
                settle(&c, 0);
            }
        }
    }
    Py_END_ALLOW_THREADS
    result = order_list(best + 1, (int)m - 1);
done:
    PyMem_Free(mem);
    PyBuffer_Release(&bd);
    PyBuffer_Release(&bg);
    return result;
}

static PyMethodDef methods[] = {
    {"all_pairs", all_pairs, METH_VARARGS, "all_pairs(n, us, vs, oneway, lengths, dist, pred)"},
    {"face_matrix", face_matrix, METH_VARARGS,
     "face_matrix(n, dist, us, vs, oneway, lengths, face_edges, face_offsets, start, end, out)"},
    {"held_karp", held_karp, METH_VARARGS, "held_karp(d, m) -> order or None"},
    {"search", search, METH_VARARGS, "search(d, m, budget_ms, idle_kicks, seed, groups) -> order"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_graph", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__graph(void) { return PyModule_Create(&module); }
