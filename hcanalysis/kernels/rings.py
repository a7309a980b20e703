"""Ring statistics of a bond graph: shortest-path rings up to a size.

Candidates are the smallest rings through every bond angle (King's criterion), found by
breadth-first search, duplicates removed; a candidate is kept when it is a shortest-path ring
(Franzblau): every pair of its atoms is as close in the graph as along the ring, so e.g. the
outer 10-ring of naphthalene (smallest ring through the angle at a fusion atom) is dropped.

For each atom i and each pair of its bonded neighbours (j, k), every shortest path from j to k
that does not pass through i, of at most ``max_size - 2`` bonds, closes a smallest ring that
contains both bonds i–j and i–k. All such rings are collected and each distinct ring (as a set
of atoms) is counted once; in diamond this gives the 12 six-rings per atom, in graphene the
3 hexagons per atom. CPU only (Numba, serial): the work is small next to the neighbour search
that builds the graph.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["bond_graph_csr", "rings_by_angle", "ring_size_counts"]


def bond_graph_csr(n: int, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Undirected graph in CSR form (``indptr``, ``indices``) from an edge list."""
    a = np.concatenate([i, j]).astype(np.int64)
    b = np.concatenate([j, i]).astype(np.int64)
    order = np.lexsort((b, a))
    a, b = a[order], b[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(a, minlength=n), out=indptr[1:])
    return indptr, b


@njit(cache=True)
def _grow(rings, sizes):
    r2 = np.full((2 * rings.shape[0], rings.shape[1]), -1, dtype=np.int64)
    s2 = np.zeros(2 * rings.shape[0], dtype=np.int64)
    r2[: rings.shape[0]] = rings
    s2[: sizes.shape[0]] = sizes
    return r2, s2


@njit(cache=True)
def _rings(indptr, indices, max_size):
    n = indptr.shape[0] - 1
    max_depth = max_size - 2
    stamp = np.zeros(n, dtype=np.int64)
    depth = np.zeros(n, dtype=np.int64)
    queue = np.empty(n, dtype=np.int64)
    rings = np.full((max(4 * n, 16), max_size), -1, dtype=np.int64)
    sizes = np.zeros(rings.shape[0], dtype=np.int64)
    n_rings = 0
    tag = 0
    node = np.empty(max_size, dtype=np.int64)  # DFS path, node[0] = k
    ptr = np.empty(max_size, dtype=np.int64)
    for i in range(n):
        for a in range(indptr[i], indptr[i + 1]):
            j = indices[a]
            for b in range(a + 1, indptr[i + 1]):
                k = indices[b]
                if j == k or i == j or i == k:
                    continue
                # breadth-first search from j without i, whole levels, until k's level
                tag += 1
                stamp[i] = tag
                stamp[j] = tag
                depth[i] = -10
                depth[j] = 0
                head = 0
                tail = 1
                queue[0] = j
                dk = -1
                while head < tail:
                    u = queue[head]
                    head += 1
                    if depth[u] >= max_depth or (dk >= 0 and depth[u] >= dk):
                        continue
                    for c in range(indptr[u], indptr[u + 1]):
                        v = indices[c]
                        if stamp[v] == tag:
                            continue
                        stamp[v] = tag
                        depth[v] = depth[u] + 1
                        if v == k:
                            dk = depth[v]
                        else:
                            queue[tail] = v
                            tail += 1
                if dk < 0:
                    continue
                # every shortest path k -> j, walking to neighbours one level closer to j
                node[0] = k
                ptr[0] = indptr[k]
                lev = 0
                while lev >= 0:
                    u = node[lev]
                    if depth[u] == 0:  # reached j: a ring i, j, ..., k
                        m = lev + 2
                        if n_rings == rings.shape[0]:
                            rings, sizes = _grow(rings, sizes)
                        ring = np.empty(m, dtype=np.int64)
                        ring[: lev + 1] = node[: lev + 1]
                        ring[lev + 1] = i
                        rings[n_rings, :m] = ring
                        sizes[n_rings] = m
                        n_rings += 1
                        lev -= 1
                        continue
                    advanced = False
                    while ptr[lev] < indptr[u + 1]:
                        v = indices[ptr[lev]]
                        ptr[lev] += 1
                        if stamp[v] == tag and depth[v] == depth[u] - 1:
                            lev += 1
                            node[lev] = v
                            ptr[lev] = indptr[v]
                            advanced = True
                            break
                    if not advanced:
                        lev -= 1
    return rings[:n_rings], sizes[:n_rings]


@njit(cache=True)
def _shortest_path_mask(indptr, indices, rings, size):
    """True for rings in which every pair of atoms is as close in the graph as along the ring
    (Franzblau's shortest-path criterion)."""
    n = indptr.shape[0] - 1
    stamp = np.zeros(n, dtype=np.int64)
    dist = np.zeros(n, dtype=np.int64)
    queue = np.empty(n, dtype=np.int64)
    pos = np.full(n, -1, dtype=np.int64)
    keep = np.ones(rings.shape[0], dtype=np.bool_)
    half = size // 2
    tag = 0
    for r in range(rings.shape[0]):
        for p in range(size):
            pos[rings[r, p]] = p
        ok = True
        for p in range(size):
            if not ok:
                break
            tag += 1
            src = rings[r, p]
            stamp[src] = tag
            dist[src] = 0
            head = 0
            tail = 1
            queue[0] = src
            while head < tail and ok:
                u = queue[head]
                head += 1
                if dist[u] >= half:
                    continue
                for c in range(indptr[u], indptr[u + 1]):
                    v = indices[c]
                    if stamp[v] == tag:
                        continue
                    stamp[v] = tag
                    dist[v] = dist[u] + 1
                    queue[tail] = v
                    tail += 1
                    q = pos[v]
                    if q >= 0:
                        along = abs(q - p)
                        along = min(along, size - along)
                        if dist[v] < along:
                            ok = False
                            break
        for p in range(size):
            pos[rings[r, p]] = -1
        keep[r] = ok
    return keep


def rings_by_angle(
    indptr: np.ndarray, indices: np.ndarray, max_size: int = 8, shortest_path: bool = True
) -> list[np.ndarray]:
    """Distinct smallest rings through every bond angle, up to ``max_size`` atoms, optionally
    only those that are shortest-path rings.

    Returns
    -------
    list of (n_rings_s, s) int64 arrays (atom indices of each ring, in ring order), one entry
    per ring size ``s = 0 .. max_size`` (sizes below 3 are empty).
    """
    if max_size < 3:
        raise ValueError("max_size must be at least 3")
    rings, sizes = _rings(np.asarray(indptr, np.int64), np.asarray(indices, np.int64),
                          int(max_size))
    out = [np.zeros((0, s), dtype=np.int64) for s in range(max_size + 1)]
    for s in range(3, max_size + 1):
        sel = rings[sizes == s, :s]
        if len(sel):
            _, first = np.unique(np.sort(sel, axis=1), axis=0, return_index=True)
            sel = np.ascontiguousarray(sel[np.sort(first)])
            if shortest_path:
                sel = sel[_shortest_path_mask(indptr, indices, sel, s)]
            out[s] = sel
    return out


def ring_size_counts(
    n: int, i: np.ndarray, j: np.ndarray, max_size: int = 8, shortest_path: bool = True
) -> np.ndarray:
    """Number of distinct rings of each size ``0 .. max_size`` in the graph with edges (i, j)
    (see the module docstring; ``shortest_path=False`` keeps every smallest ring through an
    angle, King's criterion alone)."""
    indptr, indices = bond_graph_csr(n, i, j)
    rings = rings_by_angle(indptr, indices, max_size, shortest_path)
    return np.array([len(r) for r in rings], dtype=np.int64)
