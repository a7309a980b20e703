"""Pores, components, percolation and PLD from the steepest-ascent forest of the distance
field (parallel passes in grid order plus a short sequential pass over the points where
basins meet), and the throats between labelled pores.

The same watershed, components, percolation and PLD as the sequential sweep (``sweep_numba``,
kept in the tests), computed from the steepest-ascent forest of ``d`` so that only the points
where two basins meet are processed in ``d`` order. Every void point's steepest earlier
neighbour (the one the sequential sweep would take first) is a local choice: a parallel pass
finds it, a second parallel pass follows it up to the local maximum (the point's raw basin
seed) summing the image shifts. Within a raw basin every point joins its seed through points of
larger ``d``, so the union-find over points reduces to a union-find over seeds fed with the
edges between different basins, and the watershed merges to the same neighbour scan restricted
to those boundary points (taken in the sweep's order).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from hcanalysis.kernels.lattice import fill_neighbours
from hcanalysis.kernels.voids.unionfind import (
    find_offset,
    find_root,
    unite_offset,
)


@njit(cache=True)
def _earlier(dq, q, dp, p):
    """``q`` comes before ``p`` in the sweep order (descending d, then ascending index)."""
    return dq > dp or (dq == dp and q < p)


@njit(parallel=True, cache=True)
def basin_parents_numba(dflat, cand, cid, nx, ny, nz, offs):
    """Steepest earlier neighbour of every point of ``cand`` (grid indices with ``d >= stop``
    ascending; ``cid`` maps a grid index to its position in ``cand``, -1 outside).

    Returns ``best`` ((m,) int32 position in ``cand``, -1 at a local maximum) and ``shift``
    ((m, 3) int8: ``best`` is this point's neighbour in the image shifted by ``shift`` cells).
    """
    m = cand.size
    nf = offs.shape[0]
    best = np.full(m, -1, dtype=np.int32)
    shift = np.zeros((m, 3), dtype=np.int8)
    chunk = 4096
    for ch in prange((m + chunk - 1) // chunk):
        qbuf = np.empty(nf, dtype=np.int64)
        tbuf = np.empty((nf, 3), dtype=np.int64)
        for c in range(ch * chunk, min(m, (ch + 1) * chunk)):
            p = cand[c]
            dp = dflat[p]
            fill_neighbours(p, nx, ny, nz, offs, qbuf, tbuf)
            bq = -1
            bd = 0.0
            bu = -1
            for u in range(nf):
                q = qbuf[u]
                dq = dflat[q]
                if _earlier(dq, q, dp, p) and (bu < 0 or _earlier(dq, q, bd, bq)):
                    bq = q
                    bd = dq
                    bu = u
            if bu >= 0:
                best[c] = cid[bq]
                for a in range(3):
                    shift[c, a] = tbuf[bu, a]
    return best, shift


@njit(parallel=True, cache=True)
def basin_seeds_numba(best, shift):
    """Raw basin seed (position, -1 never) of every point and the image of its seed relative
    to the point ((m, 3) int32), following ``best`` up to a local maximum."""
    m = best.size
    seed = np.empty(m, dtype=np.int32)
    off = np.zeros((m, 3), dtype=np.int32)
    for c in prange(m):
        x = np.int64(c)  # one integer type for the chase (prange indices may be unsigned)
        ox = 0
        oy = 0
        oz = 0
        while best[x] >= 0:
            ox += shift[x, 0]
            oy += shift[x, 1]
            oz += shift[x, 2]
            x = np.int64(best[x])
        seed[c] = x
        off[c, 0] = ox
        off[c, 1] = oy
        off[c, 2] = oz
    return seed, off


@njit(cache=True)
def _basin_edges_point(c, dflat, cand, cid, seed, off, nx, ny, nz, offs, qbuf, tbuf,
                       eb, ev, w, write):
    """Edges from point ``c`` to earlier neighbours in other raw basins (deduplicated by
    (basin, image)); returns (count, intra-basin winding bits)."""
    p = cand[c]
    dp = dflat[p]
    sp = seed[c]
    fill_neighbours(p, nx, ny, nz, offs, qbuf, tbuf)
    cnt = 0
    bits = 0
    for u in range(offs.shape[0]):
        q = qbuf[u]
        dq = dflat[q]
        if not _earlier(dq, q, dp, p):
            continue
        cq = cid[q]
        sq = seed[cq]
        vx = tbuf[u, 0] + off[cq, 0] - off[c, 0]
        vy = tbuf[u, 1] + off[cq, 1] - off[c, 1]
        vz = tbuf[u, 2] + off[cq, 2] - off[c, 2]
        if sq == sp:
            if vx != 0:
                bits |= 1
            if vy != 0:
                bits |= 2
            if vz != 0:
                bits |= 4
            continue
        dup = False
        for e in range(cnt):
            if (qbuf[e] == sq and tbuf[e, 0] == vx and tbuf[e, 1] == vy
                    and tbuf[e, 2] == vz):
                dup = True
                break
        if dup:
            continue
        # qbuf/tbuf slots below u are no longer needed: reuse them as the dedup list
        qbuf[cnt] = sq
        tbuf[cnt, 0] = vx
        tbuf[cnt, 1] = vy
        tbuf[cnt, 2] = vz
        if write:
            eb[w + cnt] = sq
            ev[w + cnt, 0] = vx
            ev[w + cnt, 1] = vy
            ev[w + cnt, 2] = vz
        cnt += 1
    return cnt, bits


@njit(parallel=True, cache=True)
def basin_edges_numba(dflat, cand, cid, seed, off, nx, ny, nz, offs):
    """Edges between raw basins and intra-basin windings, per point of ``cand``.

    Returns ``start`` ((m + 1,) int64: the edges of point ``c`` are
    ``start[c]:start[c + 1]``), ``eb`` (seed of the other basin), ``ev`` ((E, 3) int32: image
    of the other basin's seed relative to this point's seed) and ``bits`` ((m,) int8: bit a set
    when an edge to an earlier neighbour of the same basin winds along axis a).
    """
    m = cand.size
    nf = offs.shape[0]
    start = np.zeros(m + 1, dtype=np.int64)
    bits = np.zeros(m, dtype=np.int8)
    chunk = 4096
    n_ch = (m + chunk - 1) // chunk
    dummy_b = np.empty(0, dtype=np.int32)
    dummy_v = np.empty((0, 3), dtype=np.int32)
    for ch in prange(n_ch):
        qbuf = np.empty(nf, dtype=np.int64)
        tbuf = np.empty((nf, 3), dtype=np.int64)
        for c in range(ch * chunk, min(m, (ch + 1) * chunk)):
            cnt, b = _basin_edges_point(c, dflat, cand, cid, seed, off, nx, ny, nz, offs,
                                        qbuf, tbuf, dummy_b, dummy_v, 0, False)
            start[c + 1] = cnt
            bits[c] = b
    for c in range(m):
        start[c + 1] += start[c]
    eb = np.empty(start[m], dtype=np.int32)
    ev = np.empty((start[m], 3), dtype=np.int32)
    for ch in prange(n_ch):
        qbuf = np.empty(nf, dtype=np.int64)
        tbuf = np.empty((nf, 3), dtype=np.int64)
        for c in range(ch * chunk, min(m, (ch + 1) * chunk)):
            if start[c + 1] > start[c]:
                _basin_edges_point(c, dflat, cand, cid, seed, off, nx, ny, nz, offs, qbuf,
                                   tbuf, eb, ev, start[c], True)
    return start, eb, ev, bits


@njit(cache=True)
def basin_merge_numba(dflat, cand, cid, best, seed, start, eb, ev, bits, events, probe,
                      delta, nx, ny, nz, offs):
    """The sequential part: boundary points ``events`` (positions with edges, in the sweep's
    order) feed a union-find over raw basins with image offsets (components, percolation,
    PLD levels) and the watershed's persistence merges (points with ``d >= probe``).

    Returns, per raw seed (``seeds``: positions of the local maxima, ascending):
    ``seeds``, ``comp_root`` (seed index of its component root at ``d >= probe``),
    ``comp_perc`` ((ns, 3) bool, meaningful at roots), ``pore_root`` (seed index of its
    merged watershed basin) and ``level`` (3,) as :func:`components_sweep_numba`.
    """
    m = cand.size
    seeds = np.flatnonzero(best < 0).astype(np.int32)
    ns = seeds.size
    sid = np.full(m, -1, dtype=np.int32)
    for s in range(ns):
        sid[seeds[s]] = s
    # intra-basin windings: per seed the highest level winding along each axis
    ilvl = np.full((ns, 3), -np.inf)
    level = np.full(3, -np.inf)
    for c in range(m):
        b = bits[c]
        if b != 0:
            s = sid[seed[c]]
            dp = dflat[cand[c]]
            for a in range(3):
                if (b >> a) & 1 and dp > ilvl[s, a]:
                    ilvl[s, a] = dp
    for s in range(ns):
        for a in range(3):
            if ilvl[s, a] > level[a]:
                level[a] = ilvl[s, a]
    parent = np.arange(ns).astype(np.int32)
    uoff = np.zeros((ns, 3), dtype=np.int32)
    size = np.ones(ns, dtype=np.int32)
    perc = np.zeros((ns, 3), dtype=np.bool_)
    wparent = np.arange(ns).astype(np.int32)
    comp_root = np.empty(ns, dtype=np.int32)
    comp_perc = np.zeros((ns, 3), dtype=np.bool_)
    roots = np.empty(offs.shape[0], dtype=np.int32)
    qbuf = np.empty(offs.shape[0], dtype=np.int64)
    tbuf = np.empty((offs.shape[0], 3), dtype=np.int64)
    snap = False
    for e in range(events.size + 1):
        if e < events.size:
            c = events[e]
            p = cand[c]
            dp = dflat[p]
        else:
            dp = -np.inf
        if dp < probe and not snap:
            for s in range(ns):
                r, _a, _b, _c = find_offset(s, parent, uoff)
                comp_root[s] = r
            for s in range(ns):
                r = comp_root[s]
                for a in range(3):
                    comp_perc[r, a] = comp_perc[r, a] or perc[r, a] or ilvl[s, a] >= probe
            snap = True
        if e == events.size:
            break
        # ---- components: the edges of this point, in a union-find over seeds
        sa = sid[seed[c]]
        for t in range(start[c], start[c + 1]):
            sb = sid[eb[t]]
            ra, ax, ay, az = find_offset(sa, parent, uoff)
            rb, bx, by, bz = find_offset(sb, parent, uoff)
            # seed a at image 0, its root at (ax..); seed b at ev, its root at ev + (bx..)
            vx = ev[t, 0] + bx - ax
            vy = ev[t, 1] + by - ay
            vz = ev[t, 2] + bz - az
            unite_offset(ra, rb, vx, vy, vz, dp, parent, uoff, size, perc, level)
        if dp < probe:
            continue
        # ---- watershed: the basins met at p, scanned as the sequential sweep does
        fill_neighbours(p, nx, ny, nz, offs, qbuf, tbuf)
        nr = 0
        for u in range(offs.shape[0]):
            q = qbuf[u]
            if not _earlier(dflat[q], q, dp, p):
                continue
            r = find_root(sid[seed[cid[q]]], wparent)
            seen = False
            for v in range(nr):
                if roots[v] == r:
                    seen = True
                    break
            if not seen:
                roots[nr] = r
                nr += 1
        for v in range(nr):
            for w in range(v + 1, nr):
                a = find_root(roots[v], wparent)
                b = find_root(roots[w], wparent)
                if a == b:
                    continue
                pa_ = cand[seeds[a]]
                pb_ = cand[seeds[b]]
                if not _earlier(dflat[pa_], pa_, dflat[pb_], pb_):  # a = the higher peak
                    a, b = b, a
                    pb_ = pa_
                if dflat[pb_] - dp <= delta:
                    wparent[b] = a
    pore_root = np.empty(ns, dtype=np.int32)
    for s in range(ns):
        pore_root[s] = find_root(s, wparent)
    return seeds, comp_root, comp_perc, pore_root, level


@njit(parallel=True, cache=True)
def basin_labels_numba(dflat, cand, seed, sid_of_seed, probe, comp_id, pore_id, n):
    """Per grid point: component id and pore id (-1 below ``probe`` / outside ``cand``)."""
    comp = np.full(n, -1, dtype=np.int64)
    lab = np.full(n, -1, dtype=np.int64)
    for c in prange(cand.size):
        p = cand[c]
        if dflat[p] >= probe:
            s = sid_of_seed[seed[c]]
            comp[p] = comp_id[s]
            lab[p] = pore_id[s]
    return comp, lab


@njit(cache=True)
def basin_numbering_numba(dflat, cand, seed, seeds, comp_root, pore_root, probe):
    """Component ids in order of each component's first grid point (C order) and pore ids in
    the order of their seeds by descending ``d`` (ties: ascending index), per raw seed.
    Returns ``sid_of_seed`` ((m,) position -> seed index), ``comp_id`` and ``pore_id`` (per
    seed index, -1 when below ``probe``), the component roots in id order and the pore
    seeds (grid indices) in id order."""
    m = cand.size
    ns = seeds.size
    sid = np.full(m, -1, dtype=np.int32)
    for s in range(ns):
        sid[seeds[s]] = s
    cid_root = np.full(ns, -1, dtype=np.int64)
    croots = np.empty(ns, dtype=np.int64)
    nc = 0
    for c in range(m):
        if dflat[cand[c]] >= probe:
            r = comp_root[sid[seed[c]]]
            if cid_root[r] < 0:
                cid_root[r] = nc
                croots[nc] = r
                nc += 1
    comp_id = np.full(ns, -1, dtype=np.int64)
    for s in range(ns):
        comp_id[s] = cid_root[comp_root[s]]
    # pores: merged watershed roots at d >= probe, by descending peak
    npr = 0
    proots = np.empty(ns, dtype=np.int64)
    for s in range(ns):
        if pore_root[s] == s and dflat[cand[seeds[s]]] >= probe:
            proots[npr] = s
            npr += 1
    proots = proots[:npr]
    key = np.empty(npr)
    for t in range(npr):
        key[t] = -dflat[cand[seeds[proots[t]]]]
    o = np.argsort(key, kind="mergesort")
    pid_root = np.full(ns, -1, dtype=np.int64)
    pgrid = np.empty(npr, dtype=np.int64)
    for t in range(npr):
        pid_root[proots[o[t]]] = t
        pgrid[t] = cand[seeds[proots[o[t]]]]
    pore_id = np.full(ns, -1, dtype=np.int64)
    for s in range(ns):
        if dflat[cand[seeds[s]]] >= probe:
            pore_id[s] = pid_root[pore_root[s]]
    return sid, comp_id, pore_id, croots[:nc], pgrid


@njit(parallel=True, cache=True)
def throat_pairs_numba(labels, dflat, nx, ny, nz, fwd, points):
    """For every pair of neighbouring grid points in different pores, ``(a, b, min(d_p, d_q))``
    with a < b, for p in ``points`` (the void points). Returns three arrays (one entry per
    neighbouring pair). Parallel: a counting pass, a prefix sum, a filling pass."""
    npt = points.size
    nf = fwd.shape[0]
    cnt = np.zeros(npt + 1, dtype=np.int64)
    chunk = 4096
    n_chunks = (npt + chunk - 1) // chunk
    for ch in prange(n_chunks):
        qbuf = np.empty(nf, dtype=np.int64)
        tbuf = np.empty((nf, 3), dtype=np.int64)
        for t in range(ch * chunk, min(npt, (ch + 1) * chunk)):
            p = points[t]
            lp = labels[p]
            if lp < 0:
                continue
            fill_neighbours(p, nx, ny, nz, fwd, qbuf, tbuf)
            c = 0
            for u in range(nf):
                lq = labels[qbuf[u]]
                if lq >= 0 and lq != lp:
                    c += 1
            cnt[t + 1] = c
    for t in range(npt):
        cnt[t + 1] += cnt[t]
    total = cnt[npt]
    pa = np.empty(total, dtype=np.int64)
    pb = np.empty(total, dtype=np.int64)
    sv = np.empty(total, dtype=np.float64)
    for ch in prange(n_chunks):
        qbuf = np.empty(nf, dtype=np.int64)
        tbuf = np.empty((nf, 3), dtype=np.int64)
        for t in range(ch * chunk, min(npt, (ch + 1) * chunk)):
            if cnt[t + 1] == cnt[t]:
                continue
            p = points[t]
            lp = labels[p]
            fill_neighbours(p, nx, ny, nz, fwd, qbuf, tbuf)
            w = cnt[t]
            for u in range(nf):
                q = qbuf[u]
                lq = labels[q]
                if lq >= 0 and lq != lp:
                    pa[w] = min(lp, lq)
                    pb[w] = max(lp, lq)
                    sv[w] = min(dflat[p], dflat[q])
                    w += 1
    return pa, pb, sv
