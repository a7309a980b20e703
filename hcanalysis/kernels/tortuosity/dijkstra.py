"""Multi-source geodesic distances on the 26-neighbour voxel graph with a cutoff: Dial's
bucket queue made label correcting (so any bucket width is exact), with an optional A*
bound towards one target (:func:`bucket_core`)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from hcanalysis.kernels.tortuosity.geometry import (
    NOFIELD,
    STEPS,
    periodic_flags,
    step_lengths,
    wrap_table,
)


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


#: Heuristic kinds of :func:`bucket_core` (A* towards a target).
H_NONE, H_OCTILE, H_ORTHO, H_GENERAL = 0, 1, 2, 3


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
def ring_push(node, slot, pool_v, pool_next, heads, free, n_pool):
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
def bucket_core(mask, nx, ny, nz, wrap0, wrap1, wrap2, per, steps, wts, src, src_d, target,
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
            pool_v, pool_next, free, n_pool = ring_push(v, b % nb, pool_v, pool_next,
                                                         heads, free, n_pool)
            live += 1
    # the ring is sized for the sources' spread of keys (``ring_size``); a key beyond it
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
            pool_v, pool_next, free, n_pool = ring_push(u, b % nb, pool_v, pool_next,
                                                         heads, free, n_pool)
            live += 1
    found = np.inf
    if use_t and stamp[target] >= seen:
        found = dist[target]
    return found, pool_v, pool_next


def ring_size(wts: np.ndarray, width: float, src_d=None, astar: bool = False) -> int:
    """Buckets in the ring of :func:`bucket_core`: enough that every queued key lies within
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
    """Entry pool (node, next) and ring heads for :func:`bucket_core`."""
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
    per = periodic_flags(periodic)
    wraps = [wrap_table(shape[a], bool(per[a])) for a in range(3)]
    width = float(wts.min())
    pv, pn, heads = _new_pool(ring_size(wts, width, sd))
    bucket_core(mask.ravel(), shape[0], shape[1], shape[2], *wraps, per, STEPS, wts, seeds,
                 sd, -1, H_NONE, np.zeros((3, 3)), NOFIELD, float(cutoff), width, dist, stamp,
                 1, pv, pn, heads)
    dist[(stamp < 2) | (dist > cutoff)] = np.inf
    return dist.reshape(shape)
