"""Superseded void kernels, kept as references for the tests: the sequential sweeps
(``sweep_numba``, ``watershed_numba``) that the parallel basin-forest kernels of
``hcanalysis.kernels.voids.basins`` must reproduce, and the slab-parallel local thickness
(``local_thickness_numba``) that ``local_thickness_blocks_numba`` replaced."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from hcanalysis.kernels.lattice import fill_neighbours
from hcanalysis.kernels.voids.distance import _ball_bounds, _row_span
from hcanalysis.kernels.voids.thickness import LT_SLABS
from hcanalysis.kernels.voids.unionfind import (
    find_offset,
    find_root,
    rank_grid,
    unite_offset,
)


@njit(cache=True)
def watershed_numba(dflat, order, stop, delta, nx, ny, nz, offs):
    """Periodic watershed of ``d`` by flooding from the maxima (union-find, descending ``d``).

    Each point joins the basin of its highest already-flooded neighbour (steepest ascent); a
    point without flooded neighbours is a new maximum. When two basins with peaks
    ``p_hi >= p_lo`` first meet at a point of height ``d_s`` (their highest saddle), they are
    merged if ``p_lo - d_s <= delta`` (persistence rule; plateaus have persistence 0 and are
    always merged). Returns the basin seed (grid index of the basin's highest point) per grid
    point, -1 where ``d < stop``. Works on ranks in ``order`` like
    :func:`components_sweep_numba`; a basin root is the rank of its seed, so the lower rank
    is the higher peak.
    """
    n = dflat.size
    nv = order.size
    rank = rank_grid(order, n)
    lab = np.full(nv, -1, dtype=np.int32)
    parent = np.empty(nv, dtype=np.int32)
    roots = np.empty(26, dtype=np.int32)
    qbuf = np.empty(offs.shape[0], dtype=np.int64)
    tbuf = np.empty((offs.shape[0], 3), dtype=np.int64)
    n_added = 0
    for t in range(nv):
        p = order[t]
        dp = dflat[p]
        if dp < stop:
            break
        n_added = t + 1
        best_q = -1
        best_rank = nv
        nr = 0
        fill_neighbours(p, nx, ny, nz, offs, qbuf, tbuf)
        for u in range(offs.shape[0]):
            rq_ = rank[qbuf[u]]
            if rq_ < 0 or rq_ >= t:
                continue
            r = find_root(lab[rq_], parent)
            if rq_ < best_rank:  # highest flooded neighbour
                best_rank = rq_
                best_q = r
            seen = False
            for v in range(nr):
                if roots[v] == r:
                    seen = True
                    break
            if not seen:
                roots[nr] = r
                nr += 1
        if nr == 0:
            parent[t] = t
            lab[t] = t
            continue
        lab[t] = best_q
        # persistence merging among the basins meeting here
        for v in range(nr):
            for w in range(v + 1, nr):
                a = find_root(roots[v], parent)
                b = find_root(roots[w], parent)
                if a == b:
                    continue
                if a > b:  # a = the higher peak (lower rank)
                    a, b = b, a
                if dflat[order[b]] - dp <= delta:
                    parent[b] = a
    out = np.full(n, -1, dtype=np.int64)
    for t in range(n_added):
        out[order[t]] = order[find_root(lab[t], parent)]
    return out


@njit(cache=True)
def _snapshot_components(n_added, order, parent, off, perc, root_out, percg):
    for t in range(n_added):
        r, _a, _b, _c = find_offset(t, parent, off)
        root_out[order[t]] = order[r]
        if r == t:
            for a in range(3):
                percg[order[t], a] = perc[t, a]


@njit(cache=True)
def sweep_numba(dflat, order, probe, delta, nx, ny, nz, offs):
    """:func:`components_sweep_numba` and :func:`watershed_numba` in one pass over ``order``
    (void points with ``d >= min(probe, 0)`` by descending ``d``): components and their
    percolation at ``d >= probe``, the PLD levels down to the end of ``order``, and the
    watershed basins of the points with ``d >= probe``. Same results as the two separate
    sweeps, with one neighbour and rank lookup per point.

    Returns ``root`` (component root grid index per point, -1 outside), ``percg``, ``level``
    and ``seed`` (basin seed grid index per point, -1 outside).
    """
    n = dflat.size
    nv = order.size
    rank = rank_grid(order, n)
    parent = np.empty(nv, dtype=np.int32)
    off = np.zeros((nv, 3), dtype=np.int32)
    size = np.ones(nv, dtype=np.int32)
    perc = np.zeros((nv, 3), dtype=np.bool_)
    level = np.full(3, -np.inf)
    lab = np.full(nv, -1, dtype=np.int32)
    wparent = np.empty(nv, dtype=np.int32)
    roots = np.empty(26, dtype=np.int32)
    qbuf = np.empty(offs.shape[0], dtype=np.int64)
    tbuf = np.empty((offs.shape[0], 3), dtype=np.int64)
    root_out = np.full(n, -1, dtype=np.int64)
    percg = np.zeros((n, 3), dtype=np.bool_)
    snap = False
    n_ws = 0
    for t in range(nv):
        p = order[t]
        dp = dflat[p]
        in_void = dp >= probe
        if not in_void and not snap:
            _snapshot_components(t, order, parent, off, perc, root_out, percg)
            snap = True
        if in_void:
            n_ws = t + 1
        parent[t] = t
        rp = t
        px = 0
        py = 0
        pz = 0
        best_q = -1
        best_rank = nv
        nr = 0
        fill_neighbours(p, nx, ny, nz, offs, qbuf, tbuf)
        for u in range(offs.shape[0]):
            rq_ = rank[qbuf[u]]
            if rq_ < 0 or rq_ >= t:
                continue
            # ---- watershed bookkeeping (all earlier points are void when p is)
            if in_void:
                r = find_root(lab[rq_], wparent)
                if rq_ < best_rank:
                    best_rank = rq_
                    best_q = r
                seen = False
                for v in range(nr):
                    if roots[v] == r:
                        seen = True
                        break
                if not seen:
                    roots[nr] = r
                    nr += 1
            # ---- components with image offsets
            tx = tbuf[u, 0]
            ty = tbuf[u, 1]
            tz = tbuf[u, 2]
            if parent[rp] != rp:
                rp, px, py, pz = find_offset(t, parent, off)
            rq, qx, qy, qz = find_offset(rq_, parent, off)
            # descending d: the first loop along an axis is at the highest level
            unite_offset(rp, rq, tx + qx - px, ty + qy - py, tz + qz - pz, dp, parent, off,
                       size, perc, level)
        if not in_void:
            continue
        if nr == 0:
            wparent[t] = t
            lab[t] = t
            continue
        lab[t] = best_q
        for v in range(nr):
            for w in range(v + 1, nr):
                a = find_root(roots[v], wparent)
                b = find_root(roots[w], wparent)
                if a == b:
                    continue
                if a > b:
                    a, b = b, a
                if dflat[order[b]] - dp <= delta:
                    wparent[b] = a
    if not snap:
        _snapshot_components(nv, order, parent, off, perc, root_out, percg)
    seed = np.full(n, -1, dtype=np.int64)
    for t in range(n_ws):
        seed[order[t]] = order[find_root(lab[t], wparent)]
    return root_out, percg, level, seed


@njit(cache=True)
def _paint_ball(ci, cj, ck, r, c, h, hinv, nx, ny, nz, owner, lt, mask, row_left, blk_left,
                nb, ilo, ihi):
    """Paint the ball of centre c on the rows whose first index lies in [ilo, ihi)."""
    bi, bj, _bk = _ball_bounds(r, hinv, nx, ny, nz)
    m_lo = -(bi // nx) - 1
    m_hi = bi // nx + 1
    for m in range(m_lo, m_hi + 1):
        d_lo = max(-bi, ilo - ci + m * nx)
        d_hi = min(bi, ihi - 1 - ci + m * nx)
        for di in range(d_lo, d_hi + 1):
            _paint_plane(ci, cj, ck, di, r, c, h, bj, nx, ny, nz, owner, lt, mask, row_left,
                         blk_left, nb)


@njit(cache=True)
def _paint_plane(ci, cj, ck, di, r, c, h, bj, nx, ny, nz, owner, lt, mask, row_left,
                 blk_left, nb):
    r2 = r * r
    wx = h[2, 0] / nz
    wy = h[2, 1] / nz
    wz = h[2, 2] / nz
    gi = (ci + di) % nx
    fx = di / nx
    for dj in range(-bj, bj + 1):
        gj = (cj + dj) % ny
        row = gi * ny + gj
        if row_left[row] == 0:  # every void point of this row already has its value
            continue
        fy = dj / ny
        ux = fx * h[0, 0] + fy * h[1, 0]
        uy = fx * h[0, 1] + fy * h[1, 1]
        uz = fx * h[0, 2] + fy * h[1, 2]
        lo, hi = _row_span(ux, uy, uz, wx, wy, wz, r2)
        if lo > hi:
            continue
        base = row * nz
        bbase = row * nb
        kk = (ck + lo) % nz
        remaining = min(hi - lo + 1, nz)
        while remaining > 0:
            blk = kk >> _BLK_SHIFT
            step = min(min((blk + 1) << _BLK_SHIFT, nz) - kk, remaining)
            if blk_left[bbase + blk] > 0:  # skip blocks whose void points are all painted
                for k2 in range(kk, kk + step):
                    q = base + k2
                    if owner[q] < 0 and mask[q]:
                        owner[q] = c
                        lt[q] = r
                        row_left[row] -= 1
                        blk_left[bbase + blk] -= 1
            kk += step
            remaining -= step
            if kk == nz:
                kk = 0


@njit(parallel=True, cache=True)
def local_thickness_numba(dflat, mask, order, h, hinv, nx, ny, nz, tol):
    """Local thickness: for each void point the largest ``d(c)`` over the centres ``order``
    (void points sorted by descending ``d``) whose ball ``|x - c| <= d(c)`` covers it.

    Balls are painted in descending ``d``; the first ball to reach a point is the largest that
    covers it. The grid is cut into slabs along a (a fixed count, so the result does not depend
    on the number of threads); each slab is painted by one thread from all centres, so no
    two threads write the same point. A centre in the slab is skipped when its ball lies
    inside the ball that first painted it up to ``tol`` Å (``|c - c'| + d(c) <= d(c') + tol``);
    with ``tol = 0`` this is exact; a small ``tol`` only affects points within ``tol`` of a
    larger ball's surface.
    """
    n = dflat.size
    lt = np.zeros(n, dtype=np.float64)
    owner = np.full(n, -1, dtype=np.int64)
    row_left = np.zeros(nx * ny, dtype=np.int64)  # unpainted void points per (i, j) row
    nb = (nz + (1 << _BLK_SHIFT) - 1) >> _BLK_SHIFT  # blocks of 16 points along each row
    blk_left = np.zeros(nx * ny * nb, dtype=np.int32)
    for q in range(n):
        if mask[q]:
            row_left[q // nz] += 1
            blk_left[(q // nz) * nb + ((q % nz) >> _BLK_SHIFT)] += 1
    n_slab = min(nx, LT_SLABS)
    for s in prange(n_slab):
        ilo = (s * nx) // n_slab
        ihi = ((s + 1) * nx) // n_slab
        for t in range(order.size):
            c = order[t]
            r = dflat[c]
            if r < 0.0:
                break
            ck = c % nz
            cj = (c // nz) % ny
            ci = c // (ny * nz)
            o = owner[c] if ilo <= ci < ihi else -1  # only this slab's own records
            if o >= 0:
                ok_ = o % nz
                oj = (o // nz) % ny
                oi = o // (ny * nz)
                fx = (ci - oi) / nx
                fy = (cj - oj) / ny
                fz = (ck - ok_) / nz
                fx -= np.rint(fx)
                fy -= np.rint(fy)
                fz -= np.rint(fz)
                x = fx * h[0, 0] + fy * h[1, 0] + fz * h[2, 0]
                y = fx * h[0, 1] + fy * h[1, 1] + fz * h[2, 1]
                z = fx * h[0, 2] + fy * h[1, 2] + fz * h[2, 2]
                if math.sqrt(x * x + y * y + z * z) + r <= dflat[o] + tol:
                    continue
            _paint_ball(ci, cj, ck, r, c, h, hinv, nx, ny, nz, owner, lt, mask, row_left,
                        blk_left, nb, ilo, ihi)
    return lt


#: log2 of the block length along k used to skip painted stretches of a row.
_BLK_SHIFT = 4
