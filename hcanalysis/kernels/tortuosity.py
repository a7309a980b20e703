"""Geodesic distances on a periodic void grid (triclinic cells allowed).

The grid has ``shape = (nx, ny, nz)`` points over a cell whose rows are the cell vectors
``a, b, c`` (Å); grid point ``(i, j, k)`` sits at ``i/nx a + j/ny b + k/nz c`` (plus any common
origin, which does not matter here). Void points are ``True`` in a boolean ``mask``.

Graph: every void point is joined to its 26 neighbours ``(di, dj, dk) in {-1, 0, 1}^3`` that are
void; the step length is the Euclidean length ``|di a/nx + dj b/ny + dk c/nz|`` from the cell
metric. Each axis is periodic or not (``periodic`` flags); a non-periodic axis ends at the grid
edge. Distances are the shortest path lengths in that graph (Å).

Families of kernels here, all arrays in, arrays out:

* plain references: :func:`reference_graph`, :func:`reference_distances` (``scipy.sparse.csgraph``
  on the explicit graph), :func:`reference_dijkstra_python` (heapq, brute force);
* Numba CPU: :func:`geodesic_dijkstra` (multi-source, with a cutoff; a bucket queue,
  :func:`_bucket_core`, Dial's algorithm made label correcting so any bucket width is exact),
  :func:`geodesic_fmm` (fast marching, first or second order, orthogonal cells only; binary
  heap), :func:`image_distances` (distance from start points to their own periodic image: A*
  with the free-space 26-grid bound, in parallel), :func:`local_shell_distances` (geodesic
  distance from many centres to the points of a shell, each in its own unrolled local box,
  pruned exactly by the distance to the shell, in parallel), :func:`wrapping_components`
  (connected components by BFS, then the loop-closing edges in a parallel pass: the lattice of
  winding vectors, for percolation), :func:`random_walk_displacements` (blind-ant walkers for a
  diffusive check);
* Numba CUDA: :func:`geodesic_relax_cuda` (batched Bellman-Ford relaxation sweeps until no
  change; runs under ``NUMBA_ENABLE_CUDASIM=1`` on tiny grids).

Limits: fast marching needs an orthogonal cell (diagonal box; anisotropic spacing allowed).
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
from numba import cuda, njit, prange

from hcanalysis.kernels.voids import _fill_neighbours

#: The 26 neighbour steps; ``STEPS[25 - s] == -STEPS[s]``.
STEPS = np.array(
    [d for d in itertools.product((-1, 0, 1), repeat=3) if any(d)], dtype=np.int64
)

INF = np.inf
_NOMARK = np.zeros(1, dtype=np.uint8)
_NOFIELD = np.zeros(1)
_NOBOUND = np.zeros(1, dtype=np.float32)
_NOBOUND.flags.writeable = False  # same array type as the cached bounds of ``_shell_bound``


# ---------------------------------------------------------------------------------- geometry
def voxel_vectors(box: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Rows ``a/nx, b/ny, c/nz`` (Å): the grid's three lattice step vectors."""
    h = np.asarray(box, dtype=np.float64)
    return h / np.asarray(shape, dtype=np.float64)[:, None]


def step_lengths(box: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Length (Å) of each of the 26 steps of :data:`STEPS` on this grid."""
    return np.linalg.norm(STEPS.astype(np.float64) @ voxel_vectors(box, shape), axis=1)


def is_orthogonal(box: np.ndarray, tol: float = 1e-9) -> bool:
    """True when the cell matrix is diagonal (orthogonal cell aligned with x, y, z)."""
    h = np.asarray(box, dtype=np.float64)
    off = h - np.diag(np.diag(h))
    return bool(np.all(np.abs(off) <= tol * np.abs(h).max()))


def _periodic_flags(periodic) -> np.ndarray:
    if isinstance(periodic, bool | np.bool_):
        periodic = (periodic,) * 3
    return np.asarray([bool(p) for p in periodic], dtype=np.int64)


# ---------------------------------------------------------------------------------- references
def reference_graph(mask: np.ndarray, box: np.ndarray, periodic=True):
    """The explicit 26-connected graph of the void points as a scipy CSR matrix over the flat
    grid index (wall points have no edges). Plain numpy; for tests."""
    from scipy.sparse import coo_matrix

    mask = np.asarray(mask, dtype=bool)
    shape = mask.shape
    per = _periodic_flags(periodic)
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
    per = _periodic_flags(periodic)
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


# ---------------------------------------------------------------------------------- heap
@njit(cache=True)
def _heap_push(hk, hv, n, key, val):
    if n >= hk.shape[0]:
        nk = np.empty(2 * hk.shape[0], dtype=hk.dtype)
        nv = np.empty(2 * hv.shape[0], dtype=hv.dtype)
        nk[:n] = hk[:n]
        nv[:n] = hv[:n]
        hk = nk
        hv = nv
    i = n
    while i > 0:
        p = (i - 1) >> 1
        if hk[p] <= key:
            break
        hk[i] = hk[p]
        hv[i] = hv[p]
        i = p
    hk[i] = key
    hv[i] = val
    return hk, hv, n + 1


@njit(cache=True)
def _heap_pop(hk, hv, n):
    key = hk[0]
    val = hv[0]
    n -= 1
    if n > 0:
        lk = hk[n]
        lv = hv[n]
        i = 0
        while True:
            c = 2 * i + 1
            if c >= n:
                break
            if c + 1 < n and hk[c + 1] < hk[c]:
                c += 1
            if hk[c] >= lk:
                break
            hk[i] = hk[c]
            hv[i] = hv[c]
            i = c
        hk[i] = lk
        hv[i] = lv
    return key, val, n


# ---------------------------------------------------------------------------------- Dijkstra
@njit(cache=True, inline="always")
def _heur(i, j, k, ti, tj, tk, vv, per, nx, ny, nz):
    """Euclidean distance from grid point (i, j, k) to the nearest image of the target along
    the periodic axes (exact minimum over the 3x3(x3) images around the rounded one): an
    admissible, consistent A* heuristic."""
    d0 = float(i - ti)
    d1 = float(j - tj)
    d2 = float(k - tk)
    if per[0] != 0:
        d0 -= nx * np.rint(d0 / nx)
    if per[1] != 0:
        d1 -= ny * np.rint(d1 / ny)
    if per[2] != 0:
        d2 -= nz * np.rint(d2 / nz)
    best = np.inf
    r0 = 1 if per[0] != 0 else 0
    r1 = 1 if per[1] != 0 else 0
    r2 = 1 if per[2] != 0 else 0
    for a in range(-r0, r0 + 1):
        e0 = d0 + a * nx
        for b in range(-r1, r1 + 1):
            e1 = d1 + b * ny
            for c in range(-r2, r2 + 1):
                e2 = d2 + c * nz
                x = e0 * vv[0, 0] + e1 * vv[1, 0] + e2 * vv[2, 0]
                y = e0 * vv[0, 1] + e1 * vv[1, 1] + e2 * vv[2, 1]
                z = e0 * vv[0, 2] + e1 * vv[1, 2] + e2 * vv[2, 2]
                r = x * x + y * y + z * z
                if r < best:
                    best = r
    return math.sqrt(best)


#: Heuristic kinds of :func:`_bucket_core` (A* towards a target).
H_NONE, H_OCTILE, H_ORTHO, H_GENERAL = 0, 1, 2, 3


def wrap_table(n: int, periodic: bool) -> np.ndarray:
    """``table[i + 1]`` = grid index ``i`` in ``-1..n`` wrapped onto ``0..n-1`` (periodic
    axis) or ``-1`` off the grid (non-periodic axis)."""
    t = np.arange(-1, n + 1, dtype=np.int64)
    if periodic:
        return t % n
    t[0] = t[-1] = -1
    return t


@njit(cache=True, inline="always")
def _octile(d0, d1, d2):
    """Free-space length of the 26-connected grid metric for a step count (unit spacing):
    ``a + (√2 - 1) b + (√3 - √2) c`` with ``a >= b >= c`` the sorted absolute counts."""
    if d0 < d1:
        d0, d1 = d1, d0
    if d1 < d2:
        d1, d2 = d2, d1
    if d0 < d1:
        d0, d1 = d1, d0
    return d0 + 0.41421356237309515 * d1 + 0.31783724519578205 * d2


@njit(cache=True, inline="always")
def _target_bound(i, j, k, ti, tj, tk, hkind, hcoef, per, nx, ny, nz):
    """Lower bound (Å) of the graph distance from (i, j, k) to the target (ti, tj, tk): the
    free-space 26-grid length (cubic voxels), or the Euclidean length (orthogonal voxels,
    minimum image per periodic axis; general cells: nearest of the 27 images)."""
    if hkind == H_GENERAL:
        return _heur(i, j, k, ti, tj, tk, hcoef, per, nx, ny, nz)
    d0 = abs(i - ti)
    d1 = abs(j - tj)
    d2 = abs(k - tk)
    if per[0] != 0 and nx - d0 < d0:
        d0 = nx - d0
    if per[1] != 0 and ny - d1 < d1:
        d1 = ny - d1
    if per[2] != 0 and nz - d2 < d2:
        d2 = nz - d2
    if hkind == H_OCTILE:
        return hcoef[0, 0] * _octile(float(d0), float(d1), float(d2))
    x = d0 * hcoef[0, 0]
    y = d1 * hcoef[1, 1]
    z = d2 * hcoef[2, 2]
    return math.sqrt(x * x + y * y + z * z)


@njit(cache=True, inline="always")
def _ring_push(node, slot, pool_v, pool_next, heads, free, n_pool):
    """Queue ``node`` in bucket ``slot`` of a bucket ring (linked lists in an entry pool): the
    entry comes from the free list, else a new one (the pool doubles when full). Returns the
    (possibly grown) pool arrays, the free-list head and the pool size."""
    if free >= 0:
        e = free
        free = pool_next[e]
    else:
        if n_pool >= pool_v.shape[0]:
            nv = np.empty(2 * pool_v.shape[0], dtype=np.int64)
            nn = np.empty(2 * pool_v.shape[0], dtype=np.int64)
            nv[:n_pool] = pool_v[:n_pool]
            nn[:n_pool] = pool_next[:n_pool]
            pool_v = nv
            pool_next = nn
        e = n_pool
        n_pool += 1
    pool_v[e] = node
    pool_next[e] = heads[slot]
    heads[slot] = e
    return pool_v, pool_next, free, n_pool


@njit(cache=True)
def _bucket_core(mask, nx, ny, nz, wrap0, wrap1, wrap2, per, steps, wts, src, src_d, target,
                 hkind, hcoef, hfield, cutoff, width, dist, stamp, sv, pool_v, pool_next, heads):
    """Shortest paths on the 26-connected void graph with a bucket queue (Dial's algorithm,
    label-correcting: a node whose distance improves after its expansion is expanded again,
    so the result is exact whatever the bucket width).

    Keys are ``g`` (plain search) or ``g + h`` (A* towards ``target`` with the consistent
    lower bound ``h`` of kind ``hkind``, raised to ``hfield[u]`` when ``hfield`` is longer than
    1: a landmark bound, ``inf`` = cannot reach). Buckets are ``width`` Å wide: with
    ``width`` <= the shortest step and no heuristic every node is expanded once (Dijkstra
    order). A node is not queued when ``g`` plus ``h`` exceeds ``cutoff``. ``dist`` and
    ``stamp`` are reused between calls: ``stamp == 2 sv`` marks a valid ``dist``, ``2 sv + 1``
    an expanded node (``sv`` >= 1, a new value per call). Interior points take their
    neighbours by flat offsets, points on the grid's faces through the ``wrap`` tables
    (:func:`wrap_table`). Stops when the queue is empty or (A*) when the lowest queued key
    reaches the target's distance. Returns the target's distance (``inf`` when none or not
    reached) and the (possibly grown) entry pool arrays."""
    nb = heads.shape[0]
    for b in range(nb):
        heads[b] = -1
    seen = 2 * sv
    done = seen + 1
    nyz = ny * nz
    doff = np.empty(26, dtype=np.int64)
    for s in range(26):
        doff[s] = (steps[s, 0] * ny + steps[s, 1]) * nz + steps[s, 2]
    use_t = target >= 0
    use_f = use_t and hfield.shape[0] > 1
    ti = tj = tk = 0
    if use_t:
        ti = target // nyz
        tj = (target // nz) % ny
        tk = target % nz
    inv = 1.0 / width
    n_pool = 0
    free = -1
    live = 0
    cur = -1
    for s in range(src.shape[0]):
        v = src[s]
        if mask[v] == 0:
            continue
        if stamp[v] != seen and stamp[v] != done:
            stamp[v] = seen
            dist[v] = np.inf
        if src_d[s] < dist[v]:
            lb = 0.0
            if use_t:
                lb = _target_bound(v // nyz, (v // nz) % ny, v % nz, ti, tj, tk, hkind, hcoef,
                                   per, nx, ny, nz)
                if use_f and hfield[v] > lb:
                    lb = hfield[v]
            if src_d[s] + lb > cutoff:
                continue
            dist[v] = src_d[s]
            stamp[v] = seen
            b = int((src_d[s] + lb) * inv)
            if cur < 0 or b < cur:
                cur = b
            pool_v, pool_next, free, n_pool = _ring_push(v, b % nb, pool_v, pool_next,
                                                         heads, free, n_pool)
            live += 1
    # the ring is sized for the sources' spread of keys (``_ring_size``); a key beyond it
    # would only be taken early, which label correcting keeps exact
    while live > 0:
        slot = cur % nb
        e = heads[slot]
        if e < 0:
            cur += 1
            if use_t and stamp[target] >= seen and cur * width >= dist[target]:
                break
            continue
        heads[slot] = pool_next[e]
        pool_next[e] = free
        free = e
        live -= 1
        v = pool_v[e]
        if stamp[v] == done:
            continue
        stamp[v] = done
        g = dist[v]
        i = v // nyz
        j = (v // nz) % ny
        k = v % nz
        inner = 0 < i < nx - 1 and 0 < j < ny - 1 and 0 < k < nz - 1
        for s in range(26):
            if inner:
                u = v + doff[s]
                if mask[u] == 0:
                    continue
                if use_t:
                    i2 = i + steps[s, 0]
                    j2 = j + steps[s, 1]
                    k2 = k + steps[s, 2]
            else:
                i2 = wrap0[i + steps[s, 0] + 1]
                if i2 < 0:
                    continue
                j2 = wrap1[j + steps[s, 1] + 1]
                if j2 < 0:
                    continue
                k2 = wrap2[k + steps[s, 2] + 1]
                if k2 < 0:
                    continue
                u = (i2 * ny + j2) * nz + k2
                if mask[u] == 0:
                    continue
            nd = g + wts[s]
            su = stamp[u]
            if su == seen or su == done:
                if nd >= dist[u]:
                    continue
            lb = 0.0
            if use_t:
                lb = _target_bound(i2, j2, k2, ti, tj, tk, hkind, hcoef, per, nx, ny, nz)
                if use_f and hfield[u] > lb:
                    lb = hfield[u]
            if nd + lb > cutoff:
                continue
            dist[u] = nd
            stamp[u] = seen
            b = int((nd + lb) * inv)
            if b < cur:
                b = cur
            elif b >= cur + nb:
                b = cur + nb - 1  # never wraps past the current bucket (taken early: exact)
            pool_v, pool_next, free, n_pool = _ring_push(u, b % nb, pool_v, pool_next,
                                                         heads, free, n_pool)
            live += 1
    found = np.inf
    if use_t and stamp[target] >= seen:
        found = dist[target]
    return found, pool_v, pool_next


def _new_heap(size: int = 4096):
    return np.empty(size, dtype=np.float64), np.empty(size, dtype=np.int64)


def _ring_size(wts: np.ndarray, width: float, src_d=None, astar: bool = False) -> int:
    """Buckets in the ring of :func:`_bucket_core`: enough that every queued key lies within
    one turn of the current bucket (a key grows by at most the longest step, twice that with
    a consistent A* bound, plus the spread of the sources' starting distances)."""
    spread = 0.0
    if src_d is not None and len(src_d):
        f = np.asarray(src_d, dtype=np.float64)
        f = f[np.isfinite(f)]
        spread = float(f.max() - f.min()) if f.size else 0.0
    reach = (2.0 if astar else 1.0) * float(np.max(wts)) + spread
    return int(np.ceil(reach / width)) + 3


def _new_pool(n_buckets: int, size: int = 4096):
    """Entry pool (node, next) and ring heads for :func:`_bucket_core`."""
    return (np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int64),
            np.empty(n_buckets, dtype=np.int64))


def geodesic_dijkstra(mask: np.ndarray, box: np.ndarray, seeds, seed_dist=None, periodic=True,
                      cutoff: float = np.inf) -> np.ndarray:
    """Multi-source geodesic distance field (Å) by Numba Dijkstra with a bucket queue (Dial's
    algorithm: buckets one shortest step wide, so each node is expanded once).

    Parameters
    ----------
    mask : (nx, ny, nz) bool
        Void points.
    box : (3, 3)
        Cell matrix (rows a, b, c), Å.
    seeds : int array
        Flat indices of the sources (wall seeds are ignored).
    seed_dist : float array, optional
        Starting distance of each seed (default 0).
    periodic : bool or 3 bools
    cutoff : float
        Stop expanding beyond this distance (Å); farther points stay ``inf``.

    Returns
    -------
    (nx, ny, nz) float64, ``inf`` for wall and unreached points.
    """
    mask = np.ascontiguousarray(mask, dtype=np.uint8)
    shape = mask.shape
    seeds = np.atleast_1d(np.asarray(seeds, dtype=np.int64))
    sd = np.zeros(len(seeds)) if seed_dist is None else np.asarray(seed_dist, dtype=np.float64)
    dist = np.full(mask.size, np.inf)
    stamp = np.zeros(mask.size, dtype=np.int32)
    wts = step_lengths(box, shape)
    per = _periodic_flags(periodic)
    wraps = [wrap_table(shape[a], bool(per[a])) for a in range(3)]
    width = float(wts.min())
    pv, pn, heads = _new_pool(_ring_size(wts, width, sd))
    _bucket_core(mask.ravel(), shape[0], shape[1], shape[2], *wraps, per, STEPS, wts, seeds,
                 sd, -1, H_NONE, np.zeros((3, 3)), _NOFIELD, float(cutoff), width, dist, stamp,
                 1, pv, pn, heads)
    dist[(stamp < 2) | (dist > cutoff)] = np.inf
    return dist.reshape(shape)


# ---------------------------------------------------------------------------------- fast marching
@njit(cache=True)
def _fmm_solve(a, al, b):
    """Solve sum_m al[m] (T - b[m])^2 = 1 using the smallest-b terms that stay upwind."""
    m = a
    # sort the (up to 3) terms by b
    for p in range(m):
        for q in range(p + 1, m):
            if b[q] < b[p]:
                t = b[p]
                b[p] = b[q]
                b[q] = t
                t = al[p]
                al[p] = al[q]
                al[q] = t
    best = np.inf
    A = 0.0
    B = 0.0
    C = 0.0
    for p in range(m):
        A += al[p]
        B += al[p] * b[p]
        C += al[p] * b[p] * b[p]
        disc = B * B - A * (C - 1.0)
        if disc < 0.0:
            break
        t = (B + math.sqrt(disc)) / A
        if p + 1 < m and t > b[p + 1]:
            best = t
            continue
        best = t
        break
    return best


@njit(cache=True)
def _fmm_core(mask, nx, ny, nz, per, hsp, order, src, src_d, target, cutoff,
              dist, stamp, acc, sv, hk, hv, tmark, tcount):
    """Fast marching (unit speed) on an orthogonal grid of spacings ``hsp``; first order, or
    second order where two accepted upwind points exist. Same storage rules as Dijkstra."""
    n = 0
    dims = np.array([nx, ny, nz])
    for s in range(src.shape[0]):
        v = src[s]
        if mask[v] == 0:
            continue
        if stamp[v] != sv:
            stamp[v] = sv
            dist[v] = np.inf
            acc[v] = 0
        if src_d[s] < dist[v]:
            dist[v] = src_d[s]
            hk, hv, n = _heap_push(hk, hv, n, src_d[s], v)
    al = np.empty(3)
    bb = np.empty(3)
    c = np.empty(3, dtype=np.int64)
    c2 = np.empty(3, dtype=np.int64)
    found = np.inf
    while n > 0:
        key, v, n = _heap_pop(hk, hv, n)
        if acc[v] == 1 or key > dist[v]:
            continue
        if key > cutoff:
            break
        acc[v] = 1
        if v == target:
            found = key
            break
        if tcount > 0 and tmark[v] != 0:
            tcount -= 1
            if tcount == 0:
                break
        c[0] = v // (ny * nz)
        c[1] = (v // nz) % ny
        c[2] = v % nz
        for ax in range(3):
            for sgn in (-1, 1):
                for q in range(3):
                    c2[q] = c[q]
                c2[ax] += sgn
                if c2[ax] < 0 or c2[ax] >= dims[ax]:
                    if per[ax] == 0:
                        continue
                    c2[ax] = (c2[ax] + dims[ax]) % dims[ax]
                u = (c2[0] * ny + c2[1]) * nz + c2[2]
                if mask[u] == 0:
                    continue
                if stamp[u] != sv:
                    stamp[u] = sv
                    dist[u] = np.inf
                    acc[u] = 0
                if acc[u] == 1:
                    continue
                # gather the upwind terms of u along each axis
                m = 0
                for ax2 in range(3):
                    bestv = np.inf
                    best2 = np.inf
                    for sg2 in (-1, 1):
                        p1 = c2[ax2] + sg2
                        p2 = c2[ax2] + 2 * sg2
                        if p1 < 0 or p1 >= dims[ax2]:
                            if per[ax2] == 0:
                                continue
                            p1 = (p1 + dims[ax2]) % dims[ax2]
                        if ax2 == 0:
                            w1 = (p1 * ny + c2[1]) * nz + c2[2]
                        elif ax2 == 1:
                            w1 = (c2[0] * ny + p1) * nz + c2[2]
                        else:
                            w1 = (c2[0] * ny + c2[1]) * nz + p1
                        if mask[w1] == 0 or stamp[w1] != sv or acc[w1] == 0:
                            continue
                        t1 = dist[w1]
                        t2 = np.inf
                        if order >= 2:
                            ok2 = True
                            if p2 < 0 or p2 >= dims[ax2]:
                                if per[ax2] == 0:
                                    ok2 = False
                                else:
                                    p2 = (p2 + 2 * dims[ax2]) % dims[ax2]
                            if ok2:
                                if ax2 == 0:
                                    w2 = (p2 * ny + c2[1]) * nz + c2[2]
                                elif ax2 == 1:
                                    w2 = (c2[0] * ny + p2) * nz + c2[2]
                                else:
                                    w2 = (c2[0] * ny + c2[1]) * nz + p2
                                if mask[w2] != 0 and stamp[w2] == sv and acc[w2] == 1:
                                    if dist[w2] <= t1:
                                        t2 = dist[w2]
                        if t1 < bestv:
                            bestv = t1
                            best2 = t2
                    if bestv < np.inf:
                        hh = hsp[ax2]
                        if best2 < np.inf:
                            al[m] = 2.25 / (hh * hh)
                            bb[m] = (4.0 * bestv - best2) / 3.0
                        else:
                            al[m] = 1.0 / (hh * hh)
                            bb[m] = bestv
                        m += 1
                if m == 0:
                    continue
                t = _fmm_solve(m, al, bb)
                if t < dist[u]:
                    dist[u] = t
                    hk, hv, n = _heap_push(hk, hv, n, t, u)
    return found, hk, hv


def _check_orthogonal(box):
    if not is_orthogonal(box):
        raise ValueError(
            "fast marching needs an orthogonal cell (diagonal box matrix); use "
            "method='dijkstra' for a triclinic cell"
        )


def point_source_init(mask: np.ndarray, box: np.ndarray, seed: int, radius: int = 2,
                      periodic=True) -> tuple[np.ndarray, np.ndarray]:
    """Seed set for fast marching from one grid point: the point itself (0) and the void
    points within ``radius`` grid steps with their exact Euclidean distance, when the straight
    segment to them stays in void (sampled). Removes the point-source error of the first
    fast-marching steps. Returns flat indices and distances."""
    shape = mask.shape
    per = _periodic_flags(periodic)
    vv = voxel_vectors(box, shape)
    c = np.array(np.unravel_index(int(seed), shape))
    out_i, out_d = [int(seed)], [0.0]
    rng = range(-radius, radius + 1)
    for d in itertools.product(rng, rng, rng):
        d = np.array(d)
        if not d.any() or np.abs(d).max() > radius:
            continue
        ok = True
        for t in np.linspace(0.25, 1.0, 4):
            q = np.rint(c + t * d).astype(np.int64)
            for ax in range(3):
                if per[ax]:
                    q[ax] %= shape[ax]
                elif q[ax] < 0 or q[ax] >= shape[ax]:
                    ok = False
            if not ok or not mask[tuple(q)]:
                ok = False
                break
        if ok:
            q = c + d
            for ax in range(3):
                if per[ax]:
                    q[ax] %= shape[ax]
            out_i.append(int(np.ravel_multi_index(tuple(q), shape)))
            out_d.append(float(np.linalg.norm(d @ vv)))
    return np.asarray(out_i, dtype=np.int64), np.asarray(out_d)


def geodesic_fmm(mask: np.ndarray, box: np.ndarray, seeds, seed_dist=None, periodic=True,
                 order: int = 2, cutoff: float = np.inf) -> np.ndarray:
    """Multi-source travel-time field (Å, unit speed) by fast marching on an orthogonal grid.

    Seeds are taken as given (use :func:`point_source_init` for a single point source).
    Sub-grid accurate along every direction (no 26-connected lattice bias), first order where
    the second-order upwind stencil is not available. Raises ``ValueError`` for a triclinic
    cell.
    """
    _check_orthogonal(box)
    mask = np.ascontiguousarray(mask, dtype=np.uint8)
    shape = mask.shape
    hsp = np.diag(np.asarray(box, dtype=np.float64)) / np.asarray(shape)
    seeds = np.atleast_1d(np.asarray(seeds, dtype=np.int64))
    sd = np.zeros(len(seeds)) if seed_dist is None else np.asarray(seed_dist, dtype=np.float64)
    dist = np.full(mask.size, np.inf)
    stamp = np.zeros(mask.size, dtype=np.int32)
    acc = np.zeros(mask.size, dtype=np.uint8)
    hk, hv = _new_heap()
    _fmm_core(mask.ravel(), shape[0], shape[1], shape[2], _periodic_flags(periodic), hsp,
              int(order), seeds, sd, -1, float(cutoff), dist, stamp, acc, 1, hk, hv, _NOMARK, 0)
    dist[(stamp != 1) | (dist > cutoff)] = np.inf
    return dist.reshape(shape)


# ---------------------------------------------------------------------------------- global
def lifted_mask(mask: np.ndarray, axis: int, copies: int = 3) -> np.ndarray:
    """The mask repeated ``copies`` times along ``axis`` (that axis then non-periodic): the
    grid unrolled along the transport axis."""
    return np.ascontiguousarray(np.concatenate([mask] * copies, axis=axis), dtype=np.uint8)


@njit(parallel=True, cache=True)
def _image_distances_kernel(lmask, lshape, wrap0, wrap1, wrap2, per, steps, wts, starts,
                            targets, hkind, hcoef, cutoff, method, hsp, order, n_chunks, hfield,
                            width, n_buckets):
    n = starts.shape[0]
    out = np.full(n, np.inf)
    size = lmask.shape[0]
    for ch in prange(n_chunks):
        dist = np.empty(size)
        stamp = np.zeros(size, dtype=np.int32)
        acc = np.zeros(size, dtype=np.uint8)
        hk = np.empty(4096)
        hv = np.empty(4096, dtype=np.int64)
        pv = np.empty(4096, dtype=np.int64)
        pn = np.empty(4096, dtype=np.int64)
        heads = np.empty(n_buckets, dtype=np.int64)
        src = np.empty(1, dtype=np.int64)
        sd = np.zeros(1)
        nomark = np.zeros(1, dtype=np.uint8)
        sv = 0
        for q in range(ch, n, n_chunks):
            sv += 1
            src[0] = starts[q]
            if method == 0:
                d, pv, pn = _bucket_core(lmask, lshape[0], lshape[1], lshape[2], wrap0, wrap1,
                                         wrap2, per, steps, wts, src, sd, targets[q], hkind,
                                         hcoef, hfield, cutoff, width, dist, stamp, sv, pv, pn,
                                         heads)
            else:
                d, hk, hv = _fmm_core(lmask, lshape[0], lshape[1], lshape[2], per, hsp, order,
                                      src, sd, targets[q], cutoff, dist, stamp, acc, sv, hk, hv,
                                      nomark, 0)
            out[q] = d
    return out


#: A* bucket width as a fraction of the shortest step (finer buckets: fewer re-expansions).
ASTAR_BUCKET_FRACTION = 0.125


def heuristic_kind(box: np.ndarray, shape) -> int:
    """A* bound for this grid: the free-space 26-grid length for cubic voxels of an orthogonal
    cell, the Euclidean length with a per-axis minimum image for other orthogonal cells, the
    nearest of the 27 images for triclinic cells."""
    if not is_orthogonal(box):
        return H_GENERAL
    h = np.diag(np.asarray(box, dtype=np.float64)) / np.asarray(shape, dtype=np.float64)
    return H_OCTILE if np.allclose(h, h[0], rtol=1e-12, atol=0.0) else H_ORTHO


def image_distances(mask: np.ndarray, box: np.ndarray, axis: int, starts: np.ndarray,
                    method: str = "dijkstra", order: int = 2, max_ratio: float = np.inf,
                    n_threads: int | None = None, landmark: bool | None = None) -> np.ndarray:
    """Geodesic distance (Å) from each start point to its own periodic image one cell vector
    along ``axis``.

    The grid is unrolled to three copies along ``axis`` (the start in the middle copy; paths may
    run up to one cell behind the start or beyond the image); the other two axes stay periodic.
    Dijkstra uses A* and stops when the image is reached; the heuristic is the Euclidean
    distance to the nearest periodic image of the target and, with ``landmark`` (default: when
    a plane has at least 64 start points), the larger of that and the graph distance to the
    whole target plane (one multi-source Dijkstra per plane, shared by its start points: a
    landmark bound that contains the medium's tortuosity; it halves the search but costs about
    as much as 40 searches). Both are consistent, so the result is exact either way.
    ``max_ratio``: give up (``inf``) beyond ``max_ratio`` cell lengths.

    Parameters
    ----------
    starts : (n, 3) int
        Grid indices of the start points (void).

    Returns
    -------
    (n,) float64 Å, ``inf`` where the image is not reachable.
    """
    import numba

    mask = np.asarray(mask, dtype=bool)
    shape = np.asarray(mask.shape, dtype=np.int64)
    lmask = lifted_mask(mask, axis)
    lshape = shape.copy()
    lshape[axis] *= 3
    per = np.ones(3, dtype=np.int64)
    per[axis] = 0
    starts = np.atleast_2d(np.asarray(starts, dtype=np.int64))
    s_l = starts.copy()
    s_l[:, axis] += shape[axis]
    t_l = s_l.copy()
    t_l[:, axis] += shape[axis]
    sflat = np.ravel_multi_index(s_l.T, tuple(lshape)).astype(np.int64)
    tflat = np.ravel_multi_index(t_l.T, tuple(lshape)).astype(np.int64)

    length = float(np.linalg.norm(np.asarray(box, dtype=np.float64)[axis]))
    meth = 0 if method == "dijkstra" else 1
    hsp = np.ones(3)
    hcoef = voxel_vectors(box, mask.shape)
    hkind = heuristic_kind(box, mask.shape)
    if meth == 1:
        _check_orthogonal(box)
        hsp = np.diag(np.asarray(box, dtype=np.float64)) / shape
    cutoff = max_ratio * length if np.isfinite(max_ratio) else np.inf
    nthr = n_threads or numba.get_num_threads()
    n_chunks = max(1, min(nthr, len(sflat)))
    wts = step_lengths(box, mask.shape)
    width = float(wts.min()) * ASTAR_BUCKET_FRACTION
    nb = _ring_size(wts, width, astar=True)
    wraps = [wrap_table(int(lshape[a]), bool(per[a])) for a in range(3)]

    def run(sel, hfield):
        return _image_distances_kernel(lmask.ravel(), lshape, *wraps, per, STEPS, wts,
                                       sflat[sel], tflat[sel], hkind, hcoef, cutoff, meth, hsp,
                                       int(order), max(1, min(n_chunks, len(sflat[sel]))),
                                       hfield, width, nb)

    if landmark is None:
        landmark = bool(np.max(np.unique(t_l[:, axis], return_counts=True)[1]) >= 64)
    if not (meth == 0 and landmark):
        return run(slice(None), _NOFIELD)
    out = np.full(len(sflat), np.inf)
    lbox = np.asarray(box, dtype=np.float64).copy()
    lbox[axis] *= 3
    lm3 = lmask.reshape(tuple(lshape))
    for plane_idx in np.unique(t_l[:, axis]):
        # graph distance from every point to the target plane (copy 3): a lower bound of the
        # distance to any target on it (landmark A*), shared by the start points of one plane
        sel = np.flatnonzero(t_l[:, axis] == plane_idx)
        plane = np.zeros(tuple(lshape), dtype=bool)
        sl = [slice(None)] * 3
        sl[axis] = int(plane_idx)
        plane[tuple(sl)] = lm3[tuple(sl)] != 0
        hfield = geodesic_dijkstra(lm3, lbox, np.flatnonzero(plane),
                                   periodic=per.astype(bool)).ravel()
        out[sel] = run(sel, hfield)
    return out


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


# ---------------------------------------------------------------------------------- local shell
def local_extent(box: np.ndarray, shape, reach: float) -> np.ndarray:
    """Half-widths (grid steps per axis) of a local box containing every point within
    ``reach`` Å of its centre."""
    from hcanalysis.kernels.pbc import perpendicular_widths

    w = perpendicular_widths(box) / np.asarray(shape)
    return np.ceil(reach / w).astype(np.int64) + 1


def shell_offsets(box: np.ndarray, shape, radius: float, thickness: float):
    """Grid offsets ``(n, 3)`` whose Euclidean length (Å) lies in
    ``[radius - thickness/2, radius + thickness/2]``, and those lengths."""
    m = local_extent(box, shape, radius + thickness)
    vv = voxel_vectors(box, shape)
    rng = [np.arange(-m[ax], m[ax] + 1) for ax in range(3)]
    off = np.stack(np.meshgrid(*rng, indexing="ij"), axis=-1).reshape(-1, 3)
    r = np.linalg.norm(off @ vv, axis=1)
    keep = (r >= radius - thickness / 2) & (r <= radius + thickness / 2)
    return off[keep].astype(np.int64), r[keep]


#: State bits of a local-box point in :func:`_shell_search`.
_VOID, _SEEN, _DONE, _MARK = 1, 2, 4, 8


@njit(cache=True)
def _shell_search(state, dist, centre, doff, wts, hbox, cutoff, width, tcount, pool_v,
                  pool_next, heads):
    """Dijkstra from ``centre`` over a local box with a bucket queue (buckets one shortest
    step wide: Dijkstra order; label correcting, so exact in any case).

    ``state`` holds per point the bits ``_VOID`` (set by the caller for void points, all
    other bits clear), ``_MARK`` (a wanted shell point, set by the caller), ``_SEEN``
    (``dist`` valid) and ``_DONE`` (expanded). Neighbours are ``v + doff`` (``hbox`` is
    ``inf`` on the box's outer layer, so those are never queued). A point is not queued when
    its distance plus ``hbox`` (a lower bound of the path still needed to reach a wanted
    point) exceeds ``cutoff``. Stops when the queue is empty or ``tcount`` marked points have
    been expanded. Returns the (possibly grown) pool arrays."""
    nb = heads.shape[0]
    for b in range(nb):
        heads[b] = -1
    inv = 1.0 / width
    dist[centre] = 0.0
    state[centre] |= _SEEN
    pool_v[0] = centre
    pool_next[0] = -1
    heads[0] = 0
    n_pool = 1
    free = -1
    live = 1
    cur = 0
    while live > 0:
        slot = cur % nb
        e = heads[slot]
        if e < 0:
            cur += 1
            continue
        heads[slot] = pool_next[e]
        pool_next[e] = free
        free = e
        live -= 1
        v = pool_v[e]
        sv = state[v]
        if sv & _DONE:
            continue
        state[v] = sv | _DONE
        if sv & _MARK:
            tcount -= 1
            if tcount == 0:
                break
        g = dist[v]
        for s in range(26):
            u = v + doff[s]
            su = state[u]
            if su & _VOID == 0:
                continue
            nd = g + wts[s]
            if su & _SEEN:
                if nd >= dist[u]:
                    continue
            if nd + hbox[u] > cutoff:
                continue
            dist[u] = nd
            state[u] = (su | _SEEN) & ~_DONE
            b = int(nd * inv)
            if b < cur:
                b = cur
            elif b >= cur + nb:
                b = cur + nb - 1
            pool_v, pool_next, free, n_pool = _ring_push(u, b % nb, pool_v, pool_next,
                                                         heads, free, n_pool)
            live += 1
    return pool_v, pool_next


@njit(parallel=True, cache=True)
def _local_kernel(mask, shape, centres, m, offs, steps, wts, cutoff, method, hsp, order,
                  init_off, init_d, labels, use_labels, n_chunks, hbox, width, n_buckets):
    n = centres.shape[0]
    ns = offs.shape[0]
    out = np.full((n, ns), np.inf)
    bx = 2 * m[0] + 1
    by = 2 * m[1] + 1
    bz = 2 * m[2] + 1
    size = bx * by * bz
    per = np.zeros(3, dtype=np.int64)
    centre = (m[0] * by + m[1]) * bz + m[2]
    doff = (steps[:, 0] * by + steps[:, 1]) * bz + steps[:, 2]
    ni = init_off.shape[0]
    for ch in prange(n_chunks):
        # per-thread buffers, reused for every ion (the box copy resets the state bits;
        # fast-marching entries are valid when stamp == sv)
        lm = np.empty(size, dtype=np.uint8)
        dist = np.empty(size)
        fsize = size if method == 1 else 1
        stamp = np.zeros(fsize, dtype=np.int32)
        acc = np.zeros(fsize, dtype=np.uint8)
        tmark = np.zeros(fsize, dtype=np.uint8)
        hk = np.empty(4096)
        hv = np.empty(4096, dtype=np.int64)
        pv = np.empty(4096, dtype=np.int64)
        pn = np.empty(4096, dtype=np.int64)
        heads = np.empty(n_buckets, dtype=np.int64)
        cols = np.empty(bz, dtype=np.int64)
        src = np.empty(ni + 1, dtype=np.int64)
        sd = np.zeros(ni + 1)
        sv = 0
        for ion in range(ch, n, n_chunks):
            sv += 1
            ci = centres[ion, 0]
            cj = centres[ion, 1]
            ck = centres[ion, 2]
            c0 = ck - m[2]
            straight = c0 >= 0 and c0 + bz <= shape[2]  # rows need no wrap along c
            for c in range(bz):
                cols[c] = (c0 + c) % shape[2]
            for a in range(bx):
                ga = (ci + a - m[0]) % shape[0]
                for b in range(by):
                    gb = (cj + b - m[1]) % shape[1]
                    base = (ga * shape[1] + gb) * shape[2]
                    row = (a * by + b) * bz
                    if straight:
                        lm[row:row + bz] = mask[base + c0:base + c0 + bz]
                    else:
                        for c in range(bz):
                            lm[row + c] = mask[base + cols[c]]
            if lm[centre] == 0:
                continue
            tcount = 0
            own = labels[(ci * shape[1] + cj) * shape[2] + ck] if use_labels else 0
            for s in range(ns):
                v = ((m[0] + offs[s, 0]) * by + m[1] + offs[s, 1]) * bz + m[2] + offs[s, 2]
                if lm[v] == 0:
                    continue  # wall: never reached
                if use_labels:
                    ga = (ci + offs[s, 0]) % shape[0]
                    gb = (cj + offs[s, 1]) % shape[1]
                    gc = (ck + offs[s, 2]) % shape[2]
                    if labels[(ga * shape[1] + gb) * shape[2] + gc] != own:
                        continue  # another component: never reachable, do not wait for it
                if method == 0:
                    if lm[v] == _VOID:
                        lm[v] = _VOID | _MARK
                        tcount += 1
                elif lm[v] != 0 and tmark[v] == 0:
                    tmark[v] = 1
                    tcount += 1
            if method == 0:
                pv, pn = _shell_search(lm, dist, centre, doff, wts, hbox, cutoff, width, tcount,
                                       pv, pn, heads)
                for s in range(ns):
                    v = ((m[0] + offs[s, 0]) * by + m[1] + offs[s, 1]) * bz + m[2] + offs[s, 2]
                    if lm[v] & _SEEN and dist[v] <= cutoff:
                        out[ion, s] = dist[v]
                continue
            else:
                src[0] = centre
                sd[0] = 0.0
                cnt = 1
                for q in range(ni):
                    # straight segment from the centre must stay in void (sampled at 4 points)
                    ok = True
                    for t in range(1, 5):
                        fa = m[0] + int(np.rint(0.25 * t * init_off[q, 0]))
                        fb = m[1] + int(np.rint(0.25 * t * init_off[q, 1]))
                        fc = m[2] + int(np.rint(0.25 * t * init_off[q, 2]))
                        if lm[(fa * by + fb) * bz + fc] == 0:
                            ok = False
                            break
                    if ok:
                        src[cnt] = ((m[0] + init_off[q, 0]) * by + m[1] + init_off[q, 1]) \
                            * bz + m[2] + init_off[q, 2]
                        sd[cnt] = init_d[q]
                        cnt += 1
                _d, hk, hv = _fmm_core(lm, bx, by, bz, per, hsp, order, src[:cnt], sd[:cnt],
                                       -1, cutoff, dist, stamp, acc, sv, hk, hv, tmark, tcount)
            for s in range(ns):
                v = ((m[0] + offs[s, 0]) * by + m[1] + offs[s, 1]) * bz + m[2] + offs[s, 2]
                tmark[v] = 0
                if stamp[v] == sv and dist[v] <= cutoff:
                    out[ion, s] = dist[v]
    return out


@functools.lru_cache(maxsize=8)
def _shell_bound(vv_bytes: bytes, m: tuple[int, int, int], offsets_bytes: bytes) -> np.ndarray:
    """Graph distance in an all-void local box (half-widths ``m``) from each box point to the
    nearest shell point, float32 rounded down, ``inf`` on the box's outer layer: a consistent
    lower bound of the path still needed, so the shell search never queues a point whose
    distance plus this exceeds the cutoff (exact pruning). It depends only on the grid's voxel
    vectors and the shell, so it is computed once and reused by every call on the same grid
    (``local`` calls once per chunk of ions and per sampled frame). Read-only."""
    vv = np.frombuffer(vv_bytes, dtype=np.float64).reshape(3, 3)
    offsets = np.frombuffer(offsets_bytes, dtype=np.int64).reshape(-1, 3)
    mm = np.asarray(m, dtype=np.int64)
    dims = tuple(int(x) for x in 2 * mm + 1)
    seeds = np.ravel_multi_index(tuple((offsets + mm).T), dims)
    hbox = geodesic_dijkstra(np.ones(dims, dtype=bool), vv * np.asarray(dims)[:, None], seeds,
                             periodic=False)
    # the outer layer is never queued, so neighbours are flat offsets (no bounds checks)
    hbox[[0, -1]] = hbox[:, [0, -1]] = hbox[:, :, [0, -1]] = np.inf
    # float32, rounded down: still a lower bound, half the memory traffic
    out = np.nextafter(hbox.ravel().astype(np.float32), np.float32(0.0))
    out.flags.writeable = False
    return out


def local_shell_distances(mask: np.ndarray, box: np.ndarray, centres: np.ndarray,
                          offsets: np.ndarray, cutoff: float, method: str = "dijkstra",
                          order: int = 2, labels: np.ndarray | None = None) -> np.ndarray:
    """Geodesic distance (Å) from each centre grid point to centre + each shell offset.

    Each centre gets its own unrolled local box (periodic images are distinct points), so the
    distance is to the specific image at the offset; paths longer than ``cutoff`` Å are not
    followed (``inf``). Centres in wall give ``inf`` everywhere. ``labels`` (periodic
    connected-component id per grid point, e.g. ``VoidMap.components``) only speeds the
    search up: it stops once every shell point of the centre's own component is settled.

    Parameters
    ----------
    centres : (n, 3) int
    offsets : (ns, 3) int
        Shell offsets, e.g. from :func:`shell_offsets`.

    Returns
    -------
    (n, ns) float64.
    """
    mask = np.ascontiguousarray(mask, dtype=np.uint8)
    shape = np.asarray(mask.shape, dtype=np.int64)
    offsets = np.asarray(offsets, dtype=np.int64)
    meth = 0 if method == "dijkstra" else 1
    if not np.isfinite(cutoff):
        raise ValueError(f"cutoff={cutoff}: local searches need a finite path length (Å)")
    vv = voxel_vectors(box, mask.shape)
    r_hi = float(np.linalg.norm(offsets @ vv, axis=1).max())
    # a path to a shell point is at least as long as the straight line, so the Dijkstra search
    # never needs points farther than (cutoff + r_hi) / 2 from the centre; fast marching
    # (no pruning) keeps the whole cutoff ball
    reach = cutoff if meth == 1 else 0.5 * (cutoff + r_hi)
    m = np.maximum(local_extent(box, shape, reach), np.abs(offsets).max(axis=0) + 1)
    hbox = _NOBOUND  # fast marching: no pruning
    wts = step_lengths(box, mask.shape)
    if meth == 0:
        hbox = _shell_bound(vv.tobytes(), tuple(int(x) for x in m), offsets.tobytes())
    hsp = np.ones(3)
    init_off = np.zeros((0, 3), dtype=np.int64)
    init_d = np.zeros(0)
    if meth == 1:
        _check_orthogonal(box)
        hsp = np.diag(np.asarray(box, dtype=np.float64)) / shape
        r = range(-2, 3)
        init_off = np.array([d for d in itertools.product(r, r, r) if any(d)], dtype=np.int64)
        init_d = np.linalg.norm(init_off * hsp, axis=1)
    centres = np.atleast_2d(np.asarray(centres, dtype=np.int64)) % shape
    import numba

    use = labels is not None
    lab = (np.ascontiguousarray(labels, dtype=np.int64).ravel() if use
           else np.zeros(1, dtype=np.int64))
    n_chunks = max(1, min(numba.get_num_threads(), len(centres)))
    width = float(wts.min())
    return _local_kernel(mask.ravel(), shape, centres, m, offsets, STEPS, wts, float(cutoff),
                         meth, hsp, int(order), init_off, init_d, lab, use, n_chunks, hbox,
                         width, _ring_size(wts, width))


@njit(cache=True)
def _nearest_void_kernel(mask, shape, centres, offs):
    n = centres.shape[0]
    out = np.full((n, 3), -1, dtype=np.int64)
    for q in range(n):
        for s in range(offs.shape[0]):
            a = (centres[q, 0] + offs[s, 0]) % shape[0]
            b = (centres[q, 1] + offs[s, 1]) % shape[1]
            c = (centres[q, 2] + offs[s, 2]) % shape[2]
            if mask[(a * shape[1] + b) * shape[2] + c]:
                out[q, 0] = a
                out[q, 1] = b
                out[q, 2] = c
                break
    return out


def nearest_void(mask: np.ndarray, box: np.ndarray, centres: np.ndarray,
                 max_distance: float = 3.0) -> np.ndarray:
    """For each grid point, the nearest void grid point (Euclidean, periodic) within
    ``max_distance`` Å (itself when void); ``-1`` rows where none."""
    mask = np.ascontiguousarray(mask, dtype=np.uint8)
    shape = np.asarray(mask.shape, dtype=np.int64)
    m = local_extent(box, shape, max_distance)
    rng = [np.arange(-m[ax], m[ax] + 1) for ax in range(3)]
    off = np.stack(np.meshgrid(*rng, indexing="ij"), axis=-1).reshape(-1, 3)
    r = np.linalg.norm(off @ voxel_vectors(box, mask.shape), axis=1)
    order = np.argsort(r, kind="stable")
    off = off[order][r[order] <= max_distance].astype(np.int64)
    return _nearest_void_kernel(mask.ravel(), shape,
                                np.atleast_2d(np.asarray(centres, dtype=np.int64)), off)


# ---------------------------------------------------------------------------------- percolation
@njit(cache=True)
def _components_kernel(mask, nx, ny, nz, steps):
    """Breadth-first labelling of the periodic 26-connected void components; ``shift`` is the
    integer cell offset of the copy each point was first reached in."""
    size = nx * ny * nz
    label = np.full(size, -1, dtype=np.int64)
    shift = np.zeros((size, 3), dtype=np.int32)
    queue = np.empty(size, dtype=np.int64)
    ncomp = 0
    qbuf = np.empty(steps.shape[0], dtype=np.int64)
    tbuf = np.empty((steps.shape[0], 3), dtype=np.int64)
    doff = (steps[:, 0] * ny + steps[:, 1]) * nz + steps[:, 2]
    nyz = ny * nz
    for start in range(size):
        if mask[start] == 0 or label[start] >= 0:
            continue
        label[start] = ncomp
        head = 0
        tail = 1
        queue[0] = start
        while head < tail:
            v = queue[head]
            head += 1
            i = v // nyz
            j = (v // nz) % ny
            k = v % nz
            # interior points: flat offsets, no image shift (most of the grid)
            inner = 0 < i < nx - 1 and 0 < j < ny - 1 and 0 < k < nz - 1
            if not inner:
                _fill_neighbours(v, nx, ny, nz, steps, qbuf, tbuf)
            for s in range(steps.shape[0]):
                if inner:
                    u = v + doff[s]
                else:
                    u = qbuf[s]
                if mask[u] == 0 or label[u] >= 0:
                    continue
                label[u] = ncomp
                if inner:
                    shift[u, 0] = shift[v, 0]
                    shift[u, 1] = shift[v, 1]
                    shift[u, 2] = shift[v, 2]
                else:
                    shift[u, 0] = shift[v, 0] + tbuf[s, 0]
                    shift[u, 1] = shift[v, 1] + tbuf[s, 1]
                    shift[u, 2] = shift[v, 2] + tbuf[s, 2]
                queue[tail] = u
                tail += 1
        ncomp += 1
    return label, shift, ncomp


@njit(parallel=True, cache=True)
def _seam_flags(mask, shift, nx, ny, nz, steps):
    """1 for every void point with a void neighbour (among ``steps``, one of each pair ±d)
    whose edge closes a loop around the cell: ``shift[v] + w - shift[u]`` is not zero (w: the
    image shift of the step), in parallel over planes."""
    flag = np.zeros(nx * ny * nz, dtype=np.uint8)
    for i in prange(nx):
        qbuf = np.empty(steps.shape[0], dtype=np.int64)
        tbuf = np.empty((steps.shape[0], 3), dtype=np.int64)
        for j in range(ny):
            for k in range(nz):
                v = (i * ny + j) * nz + k
                if mask[v] == 0:
                    continue
                _fill_neighbours(v, nx, ny, nz, steps, qbuf, tbuf)
                for s in range(steps.shape[0]):
                    u = qbuf[s]
                    if mask[u] != 0 and (shift[v, 0] + tbuf[s, 0] != shift[u, 0]
                                         or shift[v, 1] + tbuf[s, 1] != shift[u, 1]
                                         or shift[v, 2] + tbuf[s, 2] != shift[u, 2]):
                        flag[v] = 1
                        break
    return flag


@njit(cache=True)
def _seam_vectors(points, mask, label, shift, nx, ny, nz, steps):
    """Rows (component, winding vector) of every loop-closing edge of the flagged points."""
    out = np.empty((points.shape[0] * steps.shape[0], 4), dtype=np.int64)
    qbuf = np.empty(steps.shape[0], dtype=np.int64)
    tbuf = np.empty((steps.shape[0], 3), dtype=np.int64)
    n = 0
    for q in range(points.shape[0]):
        v = points[q]
        _fill_neighbours(v, nx, ny, nz, steps, qbuf, tbuf)
        for s in range(steps.shape[0]):
            u = qbuf[s]
            d0 = shift[v, 0] + tbuf[s, 0] - shift[u, 0]
            d1 = shift[v, 1] + tbuf[s, 1] - shift[u, 1]
            d2 = shift[v, 2] + tbuf[s, 2] - shift[u, 2]
            if mask[u] != 0 and (d0 != 0 or d1 != 0 or d2 != 0):
                out[n, 0] = label[v]
                out[n, 1] = d0
                out[n, 2] = d1
                out[n, 3] = d2
                n += 1
    return out[:n]


def _lattice_contains(vectors: np.ndarray, target: np.ndarray) -> bool:
    """Is the integer vector ``target`` in the lattice spanned by the integer ``vectors``?"""
    rows = [list(map(int, v)) for v in vectors if any(v)]
    piv = []
    for col in range(3):
        cand = [r for r in rows if r[col] != 0]
        rest = [r for r in rows if r[col] == 0]
        while len(cand) > 1:
            cand.sort(key=lambda r: abs(r[col]))
            p = cand[0]
            new = [p]
            for r in cand[1:]:
                f = r[col] // p[col]
                r = [r[x] - f * p[x] for x in range(3)]
                (new if r[col] != 0 else rest).append(r)
            cand = new
        if cand:
            piv.append((col, cand[0]))
        rows = [r for r in rest if any(r)]
    e = [int(x) for x in target]
    for col, p in piv:
        if e[col] % p[col] != 0:
            return False
        f = e[col] // p[col]
        e = [e[x] - f * p[x] for x in range(3)]
    return not any(e)


def wrapping_components(mask: np.ndarray):
    """26-connected periodic components of the void and, per component, whether it connects
    each point to its own image one cell vector along each axis.

    Returns
    -------
    label : (nx, ny, nz) int64
        Component of each void point (-1 for wall).
    percolates : (n_components, 3) bool
        ``percolates[c, ax]``: the unit vector along ``ax`` is in the lattice of winding
        vectors of component ``c`` (exact: a path from p to p + cell vector exists).
    """
    m = np.ascontiguousarray(mask, dtype=np.uint8)
    flat = m.ravel()
    label, shift, ncomp = _components_kernel(flat, *m.shape, STEPS)
    # winding vectors: every edge whose endpoints were reached in different cell copies
    # closes a loop around the cell; one of each pair of opposite steps suffices
    half = np.ascontiguousarray(STEPS[:13])
    seam = np.flatnonzero(_seam_flags(flat, shift, *m.shape, half))
    rows = np.unique(_seam_vectors(seam, flat, label, shift, *m.shape, half), axis=0)
    wcomp, wvec = rows[:, 0], rows[:, 1:]
    perc = np.zeros((ncomp, 3), dtype=bool)
    for c in np.unique(wcomp):
        vecs = wvec[wcomp == c]
        for ax in range(3):
            e = np.zeros(3, dtype=np.int64)
            e[ax] = 1
            perc[c, ax] = _lattice_contains(vecs, e)
    return label.reshape(m.shape), perc


# ---------------------------------------------------------------------------------- random walk
@njit(cache=True, inline="always")
def _splitmix(state):
    state = (state + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    z = state
    z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & np.uint64(
        0xFFFFFFFFFFFFFFFF)
    z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & np.uint64(
        0xFFFFFFFFFFFFFFFF)
    z = z ^ (z >> np.uint64(31))
    return state, z


@njit(parallel=True, cache=True)
def _walk_kernel(mask, shape, starts, n_steps, seed, n_half):
    n = starts.shape[0]
    disp = np.zeros((n, 2, 3), dtype=np.float64)
    for w in prange(n):
        state = np.uint64(seed) * np.uint64(1000003) + np.uint64(w) * np.uint64(7919)
        p0 = starts[w, 0]
        p1 = starts[w, 1]
        p2 = starts[w, 2]
        u0 = 0
        u1 = 0
        u2 = 0
        for t in range(n_steps):
            state, z = _splitmix(state)
            r = int(z % np.uint64(6))
            ax = r >> 1
            sg = 1 if (r & 1) else -1
            q0 = p0
            q1 = p1
            q2 = p2
            if ax == 0:
                q0 = (p0 + sg + shape[0]) % shape[0]
            elif ax == 1:
                q1 = (p1 + sg + shape[1]) % shape[1]
            else:
                q2 = (p2 + sg + shape[2]) % shape[2]
            if mask[(q0 * shape[1] + q1) * shape[2] + q2]:
                p0 = q0
                p1 = q1
                p2 = q2
                if ax == 0:
                    u0 += sg
                elif ax == 1:
                    u1 += sg
                else:
                    u2 += sg
            if t + 1 == n_half:
                disp[w, 0, 0] = u0
                disp[w, 0, 1] = u1
                disp[w, 0, 2] = u2
        disp[w, 1, 0] = u0
        disp[w, 1, 1] = u1
        disp[w, 1, 2] = u2
    return disp


def random_walk_displacements(mask: np.ndarray, starts: np.ndarray, n_steps: int,
                              seed: int = 0) -> np.ndarray:
    """Blind-ant random walk on the periodic void grid in grid-index space: each step picks one
    of the 6 face directions at random and moves only if the target point is void (one step
    per unit time). Returns ``(n_walkers, 2, 3)`` unwrapped index displacements at
    ``n_steps // 2`` and ``n_steps`` steps. In an all-void grid each axis has
    ``<dx^2> = t / 3``. Deterministic for a seed (counter-based RNG per walker)."""
    m = np.ascontiguousarray(mask, dtype=np.uint8)
    return _walk_kernel(m.ravel(), np.asarray(m.shape, dtype=np.int64),
                        np.atleast_2d(np.asarray(starts, dtype=np.int64)), int(n_steps),
                        int(seed), int(n_steps) // 2)


# ---------------------------------------------------------------------------------- CUDA
@cuda.jit
def _relax_kernel(mask, mask_of, dist, nx, ny, nz, per, steps, wts, changed):
    t = cuda.grid(1)
    size = nx * ny * nz
    nb = dist.shape[0] // size
    if t >= nb * size:
        return
    b = t // size
    v = t - b * size
    mo = mask_of[b] * size
    if mask[mo + v] == 0:
        return
    i = v // (ny * nz)
    j = (v // nz) % ny
    k = v % nz
    base = b * size
    best = dist[t]
    for s in range(26):
        i2 = i - steps[s, 0]
        j2 = j - steps[s, 1]
        k2 = k - steps[s, 2]
        if i2 < 0 or i2 >= nx:
            if per[0] == 0:
                continue
            i2 = (i2 + nx) % nx
        if j2 < 0 or j2 >= ny:
            if per[1] == 0:
                continue
            j2 = (j2 + ny) % ny
        if k2 < 0 or k2 >= nz:
            if per[2] == 0:
                continue
            k2 = (k2 + nz) % nz
        u = (i2 * ny + j2) * nz + k2
        if mask[mo + u] == 0:
            continue
        cand = dist[base + u] + wts[s]
        if cand < best:
            best = cand
    if best < dist[t]:
        dist[t] = best
        changed[0] = 1


def geodesic_relax_cuda(masks: np.ndarray, box: np.ndarray, seeds, mask_of=None,
                        periodic=True, max_sweeps: int | None = None) -> np.ndarray:
    """Batched geodesic distance fields on the GPU by Bellman-Ford relaxation sweeps.

    Every thread owns one (batch, grid point) and pulls ``min(dist[u] + w)`` from its 26
    neighbours; sweeps repeat until nothing changes. The fixed point is the same as Dijkstra's
    (float addition is monotone, so both give the minimum over paths of the same sums).

    Parameters
    ----------
    masks : (n_masks, nx, ny, nz) or (nx, ny, nz) bool
    seeds : sequence of int arrays
        Flat seed indices per batch entry (one batch entry per element).
    mask_of : (n_batch,) int, optional
        Which mask each batch entry uses (default 0 for all).

    Returns
    -------
    (n_batch, nx, ny, nz) float64, ``inf`` where unreached.
    """
    masks = np.asarray(masks, dtype=bool)
    if masks.ndim == 3:
        masks = masks[None]
    shape = masks.shape[1:]
    size = int(np.prod(shape))
    seeds = [np.atleast_1d(np.asarray(s, dtype=np.int64)) for s in seeds]
    nb = len(seeds)
    mask_of = np.zeros(nb, dtype=np.int64) if mask_of is None else np.asarray(mask_of, np.int64)
    dist = np.full(nb * size, np.inf)
    for b, s in enumerate(seeds):
        ok = s[masks[mask_of[b]].ravel()[s]]
        dist[b * size + ok] = 0.0
    d_mask = cuda.to_device(np.ascontiguousarray(masks.reshape(len(masks), -1)).ravel()
                            .astype(np.uint8))
    d_of = cuda.to_device(mask_of)
    d_dist = cuda.to_device(dist)
    d_per = cuda.to_device(_periodic_flags(periodic))
    d_steps = cuda.to_device(STEPS)
    d_w = cuda.to_device(step_lengths(box, shape))
    threads = 128
    blocks = (nb * size + threads - 1) // threads
    limit = max_sweeps or (4 * size + 10)
    for _ in range(limit):
        changed = cuda.to_device(np.zeros(1, dtype=np.int32))
        _relax_kernel[blocks, threads](d_mask, d_of, d_dist, shape[0], shape[1], shape[2], d_per,
                                       d_steps, d_w, changed)
        if changed.copy_to_host()[0] == 0:
            break
    return d_dist.copy_to_host().reshape((nb, *shape))
