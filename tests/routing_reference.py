"""Held-Karp: the provably optimal tour length the routing tests compare against (small n only)."""

from operator import add

from server.core.layout import Layout


def held_karp(matrix: list[list[float]]) -> float:
    """Shortest closed tour from node 0 through every node of a distance matrix (exponential)."""
    n = len(matrix) - 1  # points besides node 0
    if n == 0:
        return 0.0
    inf = float("inf")
    # best[mask][j]: shortest path from node 0 over the point set `mask`, ending at point j.
    cols = [[matrix[i + 1][j + 1] for i in range(n)] for j in range(n)]
    best = [[inf] * n for _ in range(1 << n)]
    for j in range(n):
        best[1 << j][j] = matrix[0][j + 1]
    for mask in range(1, 1 << n):
        row = best[mask]
        for j in range(n):
            bit = 1 << j
            if mask & bit and mask != bit:
                row[j] = min(map(add, best[mask ^ bit], cols[j]))
    return min(best[(1 << n) - 1][j] + matrix[j + 1][0] for j in range(n))


def optimal_tour_length(layout: Layout, points) -> float:
    """Shortest walk depot -> all points -> depot over the layout's geometry."""
    return held_karp(layout.distance_matrix([layout.depot, *points]))
