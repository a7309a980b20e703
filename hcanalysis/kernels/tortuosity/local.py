"""Geodesic distance from many centres to the points of a shell around each, every centre in
its own unrolled local box, pruned exactly by the distance to the shell, in parallel; and the
nearest void point of a position."""

from __future__ import annotations

import functools
import itertools

import numpy as np
from numba import njit, prange

from hcanalysis.kernels.tortuosity.dijkstra import geodesic_dijkstra, ring_push, ring_size
from hcanalysis.kernels.tortuosity.fmm import fmm_core
from hcanalysis.kernels.tortuosity.geometry import (
    NOBOUND,
    STEPS,
    check_orthogonal,
    step_lengths,
    voxel_vectors,
)


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
            pool_v, pool_next, free, n_pool = ring_push(u, b % nb, pool_v, pool_next,
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
                _d, hk, hv = fmm_core(lm, bx, by, bz, per, hsp, order, src[:cnt], sd[:cnt],
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
    hbox = NOBOUND  # fast marching: no pruning
    wts = step_lengths(box, mask.shape)
    if meth == 0:
        hbox = _shell_bound(vv.tobytes(), tuple(int(x) for x in m), offsets.tobytes())
    hsp = np.ones(3)
    init_off = np.zeros((0, 3), dtype=np.int64)
    init_d = np.zeros(0)
    if meth == 1:
        check_orthogonal(box)
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
                         width, ring_size(wts, width))


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
