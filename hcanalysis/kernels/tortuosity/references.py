"""Plain references of the geodesic kernels, used by the tests: ``scipy.sparse.csgraph`` on
the explicit graph, a brute-force heapq Dijkstra, and the image distance on the lifted grid."""

from __future__ import annotations

import numpy as np

from hcanalysis.kernels.tortuosity.geometry import STEPS, periodic_flags, step_lengths
from hcanalysis.kernels.tortuosity.images import lifted_mask


def reference_graph(mask: np.ndarray, box: np.ndarray, periodic=True):
    """The explicit 26-connected graph of the void points as a scipy CSR matrix over the flat
    grid index (wall points have no edges). Plain numpy; for tests."""
    from scipy.sparse import coo_matrix

    mask = np.asarray(mask, dtype=bool)
    shape = mask.shape
    per = periodic_flags(periodic)
    w = step_lengths(box, shape)
    idx = np.arange(mask.size).reshape(shape)
    rows, cols, vals = [], [], []
    grid = np.indices(shape)
    for s in range(13):  # the other 13 are the opposite directions
        d = STEPS[s]
        nb = []
        ok = mask.copy()
        for ax in range(3):
            q = grid[ax] + d[ax]
            if per[ax]:
                q = q % shape[ax]
            else:
                ok &= (q >= 0) & (q < shape[ax])
                q = np.clip(q, 0, shape[ax] - 1)
            nb.append(q)
        ok &= mask[nb[0], nb[1], nb[2]]
        rows.append(idx[ok])
        cols.append(idx[nb[0], nb[1], nb[2]][ok])
        vals.append(np.full(int(ok.sum()), w[s]))
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    v = np.concatenate(vals)
    g = coo_matrix((np.concatenate([v, v]), (np.concatenate([r, c]), np.concatenate([c, r]))),
                   shape=(mask.size, mask.size))
    return g.tocsr()


def reference_distances(mask: np.ndarray, box: np.ndarray, seeds, periodic=True) -> np.ndarray:
    """Multi-source geodesic distances (Å, ``inf`` unreachable or wall) by
    ``scipy.sparse.csgraph.dijkstra`` on :func:`reference_graph`. ``seeds``: flat indices."""
    from scipy.sparse.csgraph import dijkstra

    g = reference_graph(mask, box, periodic)
    d = dijkstra(g, directed=True, indices=np.atleast_1d(np.asarray(seeds)), min_only=True)
    out = np.asarray(d, dtype=np.float64).reshape(np.shape(mask))
    out[~np.asarray(mask, dtype=bool)] = np.inf
    return out


def reference_dijkstra_python(mask: np.ndarray, box: np.ndarray, seeds, periodic=True):
    """Brute-force Dijkstra in plain Python (heapq) on the same graph. Tiny grids only."""
    import heapq

    mask = np.asarray(mask, dtype=bool)
    shape = mask.shape
    per = periodic_flags(periodic)
    w = step_lengths(box, shape)
    dist = np.full(shape, np.inf)
    heap = []
    for s in np.atleast_1d(seeds):
        p = np.unravel_index(int(s), shape)
        if mask[p]:
            dist[p] = 0.0
            heap.append((0.0, p))
    heapq.heapify(heap)
    while heap:
        d, p = heapq.heappop(heap)
        if d > dist[p]:
            continue
        for s in range(26):
            q = []
            for ax in range(3):
                x = p[ax] + STEPS[s, ax]
                if per[ax]:
                    x %= shape[ax]
                elif x < 0 or x >= shape[ax]:
                    break
                q.append(x)
            else:
                q = tuple(q)
                if mask[q] and d + w[s] < dist[q]:
                    dist[q] = d + w[s]
                    heapq.heappush(heap, (dist[q], q))
    return dist


def reference_image_distance(mask: np.ndarray, box: np.ndarray, axis: int, start) -> float:
    """scipy reference for :func:`image_distances` on the same three-copy unrolled grid."""
    shape = np.asarray(mask.shape)
    lm = lifted_mask(mask, axis).astype(bool)
    per = [True, True, True]
    per[axis] = False
    lbox = np.asarray(box, dtype=np.float64).copy()
    lbox[axis] *= 3
    s = np.array(start, dtype=np.int64)
    s[axis] += shape[axis]
    t = s.copy()
    t[axis] += shape[axis]
    d = reference_distances(lm, lbox, [np.ravel_multi_index(tuple(s), lm.shape)], per)
    return float(d[tuple(t)])
