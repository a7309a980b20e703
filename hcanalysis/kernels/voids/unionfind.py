"""Union-find with periodic image offsets, and the sequential components sweep.

Each node keeps the image shift to its parent; an edge that joins a component to itself with
a non-zero shift closes a loop around the cell: the component percolates along that axis.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hcanalysis.kernels.lattice import fill_neighbours


@njit(cache=True)
def find_offset(x, parent, off):
    r = x
    ox = 0
    oy = 0
    oz = 0
    while parent[r] != r:
        ox += off[r, 0]
        oy += off[r, 1]
        oz += off[r, 2]
        r = parent[r]
    # path compression keeping offsets consistent
    y = x
    rx = ox
    ry = oy
    rz = oz
    while parent[y] != y:
        nxt = parent[y]
        ax = off[y, 0]
        ay = off[y, 1]
        az = off[y, 2]
        parent[y] = r
        off[y, 0] = rx
        off[y, 1] = ry
        off[y, 2] = rz
        rx -= ax
        ry -= ay
        rz -= az
        y = nxt
    return r, ox, oy, oz


@njit(cache=True, inline="always")
def unite_offset(ra, rb, vx, vy, vz, d, parent, off, size, perc, level):
    """One edge of the union-find with periodic image offsets: roots ``ra`` and ``rb``, the
    root of the edge's far end sitting at image ``v`` relative to the near end's root. The same
    root means the edge closes a loop: it percolates along every axis where ``v`` is not zero
    (``level`` records the highest ``d`` at which that first happened). Otherwise the smaller
    tree goes under the larger with its offset, and their percolation flags combine."""
    if ra == rb:
        if vx != 0 and not perc[ra, 0]:
            perc[ra, 0] = True
            level[0] = max(level[0], d)
        if vy != 0 and not perc[ra, 1]:
            perc[ra, 1] = True
            level[1] = max(level[1], d)
        if vz != 0 and not perc[ra, 2]:
            perc[ra, 2] = True
            level[2] = max(level[2], d)
    elif size[rb] > size[ra]:
        parent[ra] = rb
        off[ra, 0] = vx
        off[ra, 1] = vy
        off[ra, 2] = vz
        size[rb] += size[ra]
        for a in range(3):
            perc[rb, a] = perc[rb, a] or perc[ra, a]
    else:
        parent[rb] = ra
        off[rb, 0] = -vx
        off[rb, 1] = -vy
        off[rb, 2] = -vz
        size[ra] += size[rb]
        for a in range(3):
            perc[ra, a] = perc[ra, a] or perc[rb, a]


@njit(cache=True)
def rank_grid(order, n):
    """Rank of each grid point in ``order`` (int32, -1 for points not in it)."""
    rank = np.full(n, -1, dtype=np.int32)
    for t in range(order.size):
        rank[order[t]] = t
    return rank


@njit(cache=True)
def components_sweep_numba(dflat, order, stop, nx, ny, nz, offs):
    """Add grid points in descending ``d`` (``order``) down to ``d >= stop``, uniting each with
    its already-added 26 neighbours in a union-find that tracks periodic image offsets.

    Returns ``root`` (per grid point, a grid index, -1 when not added), ``perc`` (per grid
    point, meaningful at roots, (N, 3) bool: the component joins itself to an image shifted
    along that axis) and ``level`` (3,): the highest ``d`` at which some component first
    percolated along each axis (-inf if never). Along each axis ``level`` is the grid maximin
    radius: the largest r with {d >= r} percolating -> PLD = 2 * level.

    The union-find works on ranks (position in ``order``) so its arrays are as small as the
    void; a neighbour has been added when its rank is below the current one.
    """
    n = dflat.size
    nv = order.size
    rank = rank_grid(order, n)
    parent = np.empty(nv, dtype=np.int32)
    off = np.zeros((nv, 3), dtype=np.int32)
    size = np.ones(nv, dtype=np.int32)
    perc = np.zeros((nv, 3), dtype=np.bool_)
    level = np.full(3, -np.inf)
    qbuf = np.empty(offs.shape[0], dtype=np.int64)
    tbuf = np.empty((offs.shape[0], 3), dtype=np.int64)
    n_added = 0
    for t in range(nv):
        p = order[t]
        dp = dflat[p]
        if dp < stop:
            break
        n_added = t + 1
        parent[t] = t
        rp = t
        px = 0
        py = 0
        pz = 0
        fill_neighbours(p, nx, ny, nz, offs, qbuf, tbuf)
        for u in range(offs.shape[0]):
            rq_ = rank[qbuf[u]]
            if rq_ < 0 or rq_ >= t:
                continue
            tx = tbuf[u, 0]
            ty = tbuf[u, 1]
            tz = tbuf[u, 2]
            if parent[rp] != rp:  # p's root was attached under another root: re-find
                rp, px, py, pz = find_offset(t, parent, off)
            rq, qx, qy, qz = find_offset(rq_, parent, off)
            # p at image 0, its root at image (px,py,pz); q at image t, its root at t + oq
            # descending d: the first loop along an axis is at the highest level
            unite_offset(rp, rq, tx + qx - px, ty + qy - py, tz + qz - pz, dp, parent, off,
                       size, perc, level)
    root = np.full(n, -1, dtype=np.int64)
    percg = np.zeros((n, 3), dtype=np.bool_)
    for t in range(n_added):
        r, _a, _b, _c = find_offset(t, parent, off)
        root[order[t]] = order[r]
        if r == t:
            for a in range(3):
                percg[order[t], a] = perc[t, a]
    return root, percg, level


@njit(cache=True)
def find_root(x, parent):
    r = x
    while parent[r] != r:
        r = parent[r]
    while parent[x] != r:
        nxt = parent[x]
        parent[x] = r
        x = nxt
    return r
