"""Void-tessellation kernels: exact periodic distance field, periodic watershed, components with
percolation (union-find with image offsets), throats and local thickness.

Arrays in, arrays out. Grids are periodic over a (triclinic) cell whose rows are the cell
vectors; grid point ``(i, j, k)`` sits at fractional coordinates ``(i/nx, j/ny, k/nz)``.
Flat indices are C order: ``p = (i * ny + j) * nz + k``.

Distance field (exact): for a query point the nearest atom surface ``min_a |x - a| - r_a`` is
found with a periodic cell list searched in Chebyshev shells of cells around the point's cell;
every atom image is handled explicitly (no minimum-image convention needed), and the search
stops once the nearest possible atom in the next unsearched shell, at least ``s * w_min`` away
(``w_min`` the smallest perpendicular width of a cell-list cell), cannot beat the best
surface distance found (``s * w_min - r_max >= best``). The result is the exact value for every
grid point, whatever its distance to the carbon.

Backends: plain numpy references (``*_reference``), Numba CPU kernels (``*_numba``) and CUDA
kernel (``distance_grid_cuda``) that also runs under Numba's CUDA simulator. Pores,
components, percolation and PLD (the ``basin_*`` kernels) are parallel passes over the void
in grid order plus a short sequential pass over the points where basins meet; the older
sequential sweeps (``sweep_numba`` and its two halves) are kept as the reference they are
tested against. Local thickness is parallel over slabs. All but the distance field run on
the CPU for both backends.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, njit, prange

from hcanalysis.kernels.pbc import perpendicular_widths

# --------------------------------------------------------------------------- geometry helpers


def grid_shape(box: np.ndarray, spacing: float) -> tuple[int, int, int]:
    """Grid points per cell vector so that the spacing along each is about ``spacing`` (Å)."""
    lengths = np.linalg.norm(np.asarray(box, dtype=np.float64), axis=1)
    n = np.maximum(3, np.rint(lengths / float(spacing)).astype(np.int64))
    return int(n[0]), int(n[1]), int(n[2])


def wrap_fractional(positions: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Fractional coordinates of ``positions`` wrapped into [0, 1)."""
    s = np.asarray(positions, dtype=np.float64) @ np.linalg.inv(np.asarray(box, np.float64))
    s -= np.floor(s)
    s[s >= 1.0] = 0.0
    return s


def build_cell_list(frac: np.ndarray, box: np.ndarray, cell_size: float = 2.5):
    """Periodic cell list over fractional coordinates in [0, 1).

    Returns
    -------
    m : (3,) int64
        Cells per axis (each cell at least ``cell_size`` thick perpendicular to its faces,
        unless the cell is thinner than that).
    cell_start : (M + 1,) int64
        Atoms of cell ``c`` are ``cell_atoms[cell_start[c]:cell_start[c + 1]]``.
    cell_atoms : (n,) int64
    w_min : float
        Smallest perpendicular width of a cell-list cell, Å.
    """
    widths = perpendicular_widths(box)
    m = np.maximum(1, np.floor(widths / cell_size)).astype(np.int64)
    idx = np.minimum((frac * m).astype(np.int64), m - 1)
    cid = (idx[:, 0] * m[1] + idx[:, 1]) * m[2] + idx[:, 2]
    order = np.argsort(cid, kind="stable").astype(np.int64)
    counts = np.bincount(cid, minlength=int(np.prod(m)))
    cell_start = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=cell_start[1:])
    return m, cell_start, order, float(np.min(widths / m))


def max_shell(box: np.ndarray, w_min: float) -> int:
    """Shell count that certainly contains the nearest image of any atom."""
    reach = 0.5 * float(np.sum(np.linalg.norm(box, axis=1)))
    return int(math.ceil(reach / w_min)) + 2


# --------------------------------------------------------------------------- references


def distance_points_reference(
    qfrac: np.ndarray, afrac: np.ndarray, radii: np.ndarray, box: np.ndarray
) -> np.ndarray:
    """Brute force: min over atoms and over all images within +-2 cells of |x - a| - r_a."""
    h = np.asarray(box, dtype=np.float64)
    shifts = np.array(
        [[i, j, k] for i in range(-2, 3) for j in range(-2, 3) for k in range(-2, 3)], float
    )
    out = np.empty(len(qfrac))
    for q, s in enumerate(np.asarray(qfrac, dtype=np.float64)):
        df = afrac[:, None, :] + shifts[None, :, :] - s  # (n, 125, 3)
        r = np.linalg.norm(df @ h, axis=-1) - radii[:, None]
        out[q] = r.min()
    return out


def grid_fractional(shape: tuple[int, int, int]) -> np.ndarray:
    """Fractional coordinates of all grid points, (nx*ny*nz, 3), C order."""
    nx, ny, nz = shape
    i, j, k = np.meshgrid(np.arange(nx) / nx, np.arange(ny) / ny, np.arange(nz) / nz,
                          indexing="ij")
    return np.stack([i.ravel(), j.ravel(), k.ravel()], axis=1)


def distance_grid_reference(afrac, radii, box, shape) -> np.ndarray:
    """Brute-force distance field on the grid (small grids only)."""
    return distance_points_reference(grid_fractional(shape), afrac, radii, box).reshape(shape)


# --------------------------------------------------------------------------- Numba CPU


def _nearest_surface(sx, sy, sz, afrac, radii, h, m0, m1, m2, cell_start, cell_atoms,
                     w_min, r_max, n_shell):
    """Distance from fractional point ``(sx, sy, sz)`` to the nearest atom surface (Å): cell
    shells ``s = 0, 1, ...`` around the point's cell until no unvisited atom can be closer.
    Written once, compiled for the CPU (``_nearest_surface_cpu``) and CUDA
    (``_nearest_surface_dev``)."""
    cx = min(int(math.floor(sx * m0)), m0 - 1)
    cy = min(int(math.floor(sy * m1)), m1 - 1)
    cz = min(int(math.floor(sz * m2)), m2 - 1)
    best = 1e300
    s = 0
    while True:
        for ox in range(-s, s + 1):
            aox = abs(ox)
            gx = cx + ox
            wx = gx % m0
            nx = (gx - wx) // m0
            for oy in range(-s, s + 1):
                aoy = abs(oy)
                gy = cy + oy
                wy = gy % m1
                ny = (gy - wy) // m1
                for oz in range(-s, s + 1):
                    if aox != s and aoy != s and abs(oz) != s:
                        continue
                    gz = cz + oz
                    wz = gz % m2
                    nz = (gz - wz) // m2
                    c = (wx * m1 + wy) * m2 + wz
                    for t in range(cell_start[c], cell_start[c + 1]):
                        a = cell_atoms[t]
                        fx = afrac[a, 0] + nx - sx
                        fy = afrac[a, 1] + ny - sy
                        fz = afrac[a, 2] + nz - sz
                        x = fx * h[0, 0] + fy * h[1, 0] + fz * h[2, 0]
                        y = fx * h[0, 1] + fy * h[1, 1] + fz * h[2, 1]
                        z = fx * h[0, 2] + fy * h[1, 2] + fz * h[2, 2]
                        dd = math.sqrt(x * x + y * y + z * z) - radii[a]
                        if dd < best:
                            best = dd
        if s * w_min - r_max >= best or s >= n_shell:
            break
        s += 1
    return best


_nearest_surface_cpu = njit(cache=True)(_nearest_surface)
_nearest_surface_dev = cuda.jit(device=True)(_nearest_surface)


@njit(parallel=True, cache=True)
def distance_grid_numba(afrac, radii, h, m, cell_start, cell_atoms, w_min, n_shell, nx, ny, nz):
    """Exact distance field on the grid (Numba, parallel over grid rows)."""
    out = np.empty((nx, ny, nz), dtype=np.float64)
    r_max = radii.max()
    for ij in prange(nx * ny):
        i = ij // ny
        j = ij - i * ny
        for k in range(nz):
            out[i, j, k] = _nearest_surface_cpu(i / nx, j / ny, k / nz, afrac, radii, h, m[0], m[1],
                                            m[2], cell_start, cell_atoms, w_min, r_max, n_shell)
    return out


@njit(parallel=True, cache=True)
def distance_points_numba(qfrac, afrac, radii, h, m, cell_start, cell_atoms, w_min, n_shell):
    """Exact distance to the nearest atom surface at arbitrary points (fractional, in [0,1))."""
    n = qfrac.shape[0]
    out = np.empty(n, dtype=np.float64)
    r_max = radii.max()
    for q in prange(n):
        out[q] = _nearest_surface_cpu(qfrac[q, 0], qfrac[q, 1], qfrac[q, 2], afrac, radii, h, m[0],
                                  m[1], m[2], cell_start, cell_atoms, w_min, r_max, n_shell)
    return out


# 26 neighbour offsets, and the 13 "forward" ones (one of each +-pair)
_OFFS = np.array(
    [[a, b, c] for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)
     if (a, b, c) != (0, 0, 0)],
    dtype=np.int64,
)
_FWD = np.array([o for o in _OFFS.tolist() if tuple(o) > (0, 0, 0)], dtype=np.int64)


@njit(cache=True)
def _fill_neighbours(p, nx, ny, nz, offs, qbuf, tbuf):
    """Flat indices (qbuf) and image shifts (tbuf) of the neighbours ``offs`` of point p."""
    k = p % nz
    j = (p // nz) % ny
    i = p // (ny * nz)
    for u in range(offs.shape[0]):
        gi = i + offs[u, 0]
        gj = j + offs[u, 1]
        gk = k + offs[u, 2]
        ti = 0
        tj = 0
        tk = 0
        if gi < 0:
            gi += nx
            ti = -1
        elif gi >= nx:
            gi -= nx
            ti = 1
        if gj < 0:
            gj += ny
            tj = -1
        elif gj >= ny:
            gj -= ny
            tj = 1
        if gk < 0:
            gk += nz
            tk = -1
        elif gk >= nz:
            gk -= nz
            tk = 1
        qbuf[u] = (gi * ny + gj) * nz + gk
        tbuf[u, 0] = ti
        tbuf[u, 1] = tj
        tbuf[u, 2] = tk


@njit(cache=True)
def _find_off(x, parent, off):
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
def _unite_off(ra, rb, vx, vy, vz, d, parent, off, size, perc, level):
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
def _rank_grid(order, n):
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
    rank = _rank_grid(order, n)
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
        _fill_neighbours(p, nx, ny, nz, offs, qbuf, tbuf)
        for u in range(offs.shape[0]):
            rq_ = rank[qbuf[u]]
            if rq_ < 0 or rq_ >= t:
                continue
            tx = tbuf[u, 0]
            ty = tbuf[u, 1]
            tz = tbuf[u, 2]
            if parent[rp] != rp:  # p's root was attached under another root: re-find
                rp, px, py, pz = _find_off(t, parent, off)
            rq, qx, qy, qz = _find_off(rq_, parent, off)
            # p at image 0, its root at image (px,py,pz); q at image t, its root at t + oq
            # descending d: the first loop along an axis is at the highest level
            _unite_off(rp, rq, tx + qx - px, ty + qy - py, tz + qz - pz, dp, parent, off,
                       size, perc, level)
    root = np.full(n, -1, dtype=np.int64)
    percg = np.zeros((n, 3), dtype=np.bool_)
    for t in range(n_added):
        r, _a, _b, _c = _find_off(t, parent, off)
        root[order[t]] = order[r]
        if r == t:
            for a in range(3):
                percg[order[t], a] = perc[t, a]
    return root, percg, level


@njit(cache=True)
def _find(x, parent):
    r = x
    while parent[r] != r:
        r = parent[r]
    while parent[x] != r:
        nxt = parent[x]
        parent[x] = r
        x = nxt
    return r


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
    rank = _rank_grid(order, n)
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
        _fill_neighbours(p, nx, ny, nz, offs, qbuf, tbuf)
        for u in range(offs.shape[0]):
            rq_ = rank[qbuf[u]]
            if rq_ < 0 or rq_ >= t:
                continue
            r = _find(lab[rq_], parent)
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
                a = _find(roots[v], parent)
                b = _find(roots[w], parent)
                if a == b:
                    continue
                if a > b:  # a = the higher peak (lower rank)
                    a, b = b, a
                if dflat[order[b]] - dp <= delta:
                    parent[b] = a
    out = np.full(n, -1, dtype=np.int64)
    for t in range(n_added):
        out[order[t]] = order[_find(lab[t], parent)]
    return out


@njit(cache=True)
def _snapshot_components(n_added, order, parent, off, perc, root_out, percg):
    for t in range(n_added):
        r, _a, _b, _c = _find_off(t, parent, off)
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
    rank = _rank_grid(order, n)
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
        _fill_neighbours(p, nx, ny, nz, offs, qbuf, tbuf)
        for u in range(offs.shape[0]):
            rq_ = rank[qbuf[u]]
            if rq_ < 0 or rq_ >= t:
                continue
            # ---- watershed bookkeeping (all earlier points are void when p is)
            if in_void:
                r = _find(lab[rq_], wparent)
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
                rp, px, py, pz = _find_off(t, parent, off)
            rq, qx, qy, qz = _find_off(rq_, parent, off)
            # descending d: the first loop along an axis is at the highest level
            _unite_off(rp, rq, tx + qx - px, ty + qy - py, tz + qz - pz, dp, parent, off,
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
                a = _find(roots[v], wparent)
                b = _find(roots[w], wparent)
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
        seed[order[t]] = order[_find(lab[t], wparent)]
    return root_out, percg, level, seed


# --------------------------------------------------------------------------- basin forest
#
# The same watershed, components, percolation and PLD as :func:`sweep_numba`, computed from
# the steepest-ascent forest of ``d`` so that only the points where two basins meet are
# processed in ``d`` order. Every void point's steepest earlier neighbour (the one the
# sequential sweep would take first) is a local choice: a parallel pass finds it, a second
# parallel pass follows it up to the local maximum (the point's raw basin seed) summing the
# image shifts. Within a raw basin every point joins its seed through points of larger ``d``,
# so the union-find over points reduces to a union-find over seeds fed with the edges
# between different basins, and the watershed merges to the same neighbour scan restricted
# to those boundary points (taken in the sweep's order).


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
            _fill_neighbours(p, nx, ny, nz, offs, qbuf, tbuf)
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
    _fill_neighbours(p, nx, ny, nz, offs, qbuf, tbuf)
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
                r, _a, _b, _c = _find_off(s, parent, uoff)
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
            ra, ax, ay, az = _find_off(sa, parent, uoff)
            rb, bx, by, bz = _find_off(sb, parent, uoff)
            # seed a at image 0, its root at (ax..); seed b at ev, its root at ev + (bx..)
            vx = ev[t, 0] + bx - ax
            vy = ev[t, 1] + by - ay
            vz = ev[t, 2] + bz - az
            _unite_off(ra, rb, vx, vy, vz, dp, parent, uoff, size, perc, level)
        if dp < probe:
            continue
        # ---- watershed: the basins met at p, scanned as the sequential sweep does
        _fill_neighbours(p, nx, ny, nz, offs, qbuf, tbuf)
        nr = 0
        for u in range(offs.shape[0]):
            q = qbuf[u]
            if not _earlier(dflat[q], q, dp, p):
                continue
            r = _find(sid[seed[cid[q]]], wparent)
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
                a = _find(roots[v], wparent)
                b = _find(roots[w], wparent)
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
        pore_root[s] = _find(s, wparent)
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
            _fill_neighbours(p, nx, ny, nz, fwd, qbuf, tbuf)
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
            _fill_neighbours(p, nx, ny, nz, fwd, qbuf, tbuf)
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


@njit(cache=True)
def _ball_bounds(r, hinv, nx, ny, nz):
    # half-extent in grid steps of a ball of radius r along each fractional axis
    e0 = math.sqrt(hinv[0, 0] ** 2 + hinv[1, 0] ** 2 + hinv[2, 0] ** 2)
    e1 = math.sqrt(hinv[0, 1] ** 2 + hinv[1, 1] ** 2 + hinv[2, 1] ** 2)
    e2 = math.sqrt(hinv[0, 2] ** 2 + hinv[1, 2] ** 2 + hinv[2, 2] ** 2)
    return (int(math.floor(r * e0 * nx)), int(math.floor(r * e1 * ny)),
            int(math.floor(r * e2 * nz)))


@njit(cache=True)
def _row_span(ux, uy, uz, wx, wy, wz, r2):
    """Integer range [lo, hi] of t with |u + t w|^2 <= r2 (empty when lo > hi)."""
    a = wx * wx + wy * wy + wz * wz
    b = ux * wx + uy * wy + uz * wz
    c = ux * ux + uy * uy + uz * uz - r2
    disc = b * b - a * c
    if disc < 0.0:
        return 1, 0
    sq = math.sqrt(disc)
    return int(math.ceil((-b - sq) / a)), int(math.floor((-b + sq) / a))


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


@njit(cache=True)
def _scatter_atom(a, afrac, radii, h, nx, ny, nz, bi, bj, c2, out):
    wx = h[2, 0] / nz
    wy = h[2, 1] / nz
    wz = h[2, 2] / nz
    fa0 = afrac[a, 0]
    fa1 = afrac[a, 1]
    fa2 = afrac[a, 2]
    ra = radii[a]
    i0 = int(math.floor(fa0 * nx))
    j0 = int(math.floor(fa1 * ny))
    k0 = int(math.floor(fa2 * nz))
    fz0 = k0 / nz - fa2
    for di in range(-bi, bi + 1):
        fx = (i0 + di) / nx - fa0
        gi = (i0 + di) % nx
        for dj in range(-bj, bj + 1):
            fy = (j0 + dj) / ny - fa1
            gj = (j0 + dj) % ny
            ux = fx * h[0, 0] + fy * h[1, 0] + fz0 * h[2, 0]
            uy = fx * h[0, 1] + fy * h[1, 1] + fz0 * h[2, 1]
            uz = fx * h[0, 2] + fy * h[1, 2] + fz0 * h[2, 2]
            lo, hi = _row_span(ux, uy, uz, wx, wy, wz, c2)
            if lo > hi:
                continue
            base = (gi * ny + gj) * nz
            kk = (k0 + lo) % nz
            for t in range(lo, hi + 1):
                x = ux + t * wx
                y = uy + t * wy
                z = uz + t * wz
                dd = math.sqrt(x * x + y * y + z * z) - ra
                q = base + kk
                if dd < out[q]:
                    out[q] = dd
                kk += 1
                if kk == nz:
                    kk = 0


@njit(parallel=True, cache=True)
def distance_scatter_numba(afrac, radii, h, hinv, cutoff, nx, ny, nz):
    """First pass of the exact distance field: every atom lowers ``|x - a| - r_a`` on the grid
    points within ``cutoff`` Å of its centre (row spans, all images). Points left at
    ``+inf`` or above ``cutoff - max(r)`` are resolved by the shell search afterwards.

    Parallel without races: atoms are grouped in slabs along a whose width exceeds the
    reach of an atom's sphere in both directions; even slabs run concurrently, then odd ones.
    """
    out = np.full(nx * ny * nz, np.inf)
    bi, bj, _bk = _ball_bounds(cutoff, hinv, nx, ny, nz)
    bi += 1
    bj += 1
    c2 = cutoff * cutoff
    na = afrac.shape[0]
    ns = nx // (2 * bi + 2)
    ns -= ns % 2
    if ns < 2:
        for a in range(na):
            _scatter_atom(a, afrac, radii, h, nx, ny, nz, bi, bj, c2, out)
        return out
    slab = np.empty(na, dtype=np.int64)
    for a in range(na):
        i0 = min(int(math.floor(afrac[a, 0] * nx)), nx - 1)
        slab[a] = (i0 * ns) // nx
    order = np.argsort(slab, kind="mergesort")
    start = np.zeros(ns + 1, dtype=np.int64)
    for a in range(na):
        start[slab[a] + 1] += 1
    for s in range(ns):
        start[s + 1] += start[s]
    for phase in range(2):
        for half in prange(ns // 2):
            s = 2 * half + phase
            for t in range(start[s], start[s + 1]):
                _scatter_atom(order[t], afrac, radii, h, nx, ny, nz, bi, bj, c2, out)
    return out


@njit(parallel=True, cache=True)
def distance_resolve_numba(out, todo, afrac, radii, h, m, cell_start, cell_atoms, w_min,
                           n_shell, nx, ny, nz):
    """Second pass: exact shell search for the grid points ``todo`` (flat indices)."""
    r_max = radii.max()
    for t in prange(todo.size):
        p = todo[t]
        k = p % nz
        j = (p // nz) % ny
        i = p // (ny * nz)
        out[p] = _nearest_surface_cpu(i / nx, j / ny, k / nz, afrac, radii, h, m[0], m[1], m[2],
                                  cell_start, cell_atoms, w_min, r_max, n_shell)


@njit(parallel=True, cache=True)
def ridge_centres_numba(dflat, mask, h, nx, ny, nz, offs, tol):
    """True for void points whose inscribed ball is *not* inside a 26-neighbour's ball up to
    ``tol`` Å (``|c - n| + d(c) <= d(n) + tol`` for no neighbour n): the centres near the
    medial axis (distance ridge), the only ones the local thickness needs to paint."""
    n = dflat.size
    keep = np.zeros(n, dtype=np.bool_)
    m = offs.shape[0]
    step = np.empty(m)
    for u in range(m):
        x = offs[u, 0] / nx * h[0, 0] + offs[u, 1] / ny * h[1, 0] + offs[u, 2] / nz * h[2, 0]
        y = offs[u, 0] / nx * h[0, 1] + offs[u, 1] / ny * h[1, 1] + offs[u, 2] / nz * h[2, 1]
        z = offs[u, 0] / nx * h[0, 2] + offs[u, 1] / ny * h[1, 2] + offs[u, 2] / nz * h[2, 2]
        step[u] = math.sqrt(x * x + y * y + z * z)
    for ij in prange(nx * ny):
        i = ij // ny
        j = ij - i * ny
        for k in range(nz):
            p = ij * nz + k
            if not mask[p]:
                continue
            dp = dflat[p]
            ok = True
            for u in range(m):
                gi = (i + offs[u, 0]) % nx
                gj = (j + offs[u, 1]) % ny
                gk = (k + offs[u, 2]) % nz
                q = (gi * ny + gj) * nz + gk
                if step[u] + dp <= dflat[q] + tol:
                    ok = False
                    break
            keep[p] = ok
    return keep


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


@njit(cache=True)
def _axis_segments(c, reach, n, seg_b, seg_base):
    """Blocks (of ``LT_BLOCK`` points) along one axis met by the unwrapped range
    ``[c - reach, c + reach]``: the wrapped block index and the unwrapped index of the block's
    first point minus ``c``. Returns their count."""
    ns = 0
    g = c - reach
    while g <= c + reach:
        w = g % n
        s = g - w
        b = w // LT_BLOCK
        seg_b[ns] = b
        seg_base[ns] = s + b * LT_BLOCK - c
        ns += 1
        g = s + min((b + 1) * LT_BLOCK, n)
    return ns


@njit(parallel=True, cache=True)
def local_thickness_blocks_numba(dflat, mask, order, h, nx, ny, nz):
    """Local thickness, exact: for each void point the largest ``d(c)`` over the centres
    ``order`` (void points by descending ``d``) whose ball ``|x - c| <= d(c)`` covers it
    (0 where none does).

    Balls are painted in descending ``d``, so the first ball to reach a point gives its value.
    The still unpainted void points are kept per block of 4 x 4 x 4 grid points in a compact
    list (a painted point is swapped out), so a ball only looks at blocks that intersect it
    and, in those, only at points not yet painted: late balls, mostly inside regions painted
    by larger ones, cost a few block checks. Squared distances come from the integer grid
    offset and the metric of the grid steps. Parallel over fixed slabs of block rows along a
    (each thread paints only its own points, so no races and no dependence on the thread
    count).
    """
    B = LT_BLOCK
    st = np.empty((3, 3))
    for a in range(3):
        na = nx if a == 0 else (ny if a == 1 else nz)
        for c in range(3):
            st[a, c] = h[a, c] / na
    g00 = st[0, 0] ** 2 + st[0, 1] ** 2 + st[0, 2] ** 2
    g11 = st[1, 0] ** 2 + st[1, 1] ** 2 + st[1, 2] ** 2
    g22 = st[2, 0] ** 2 + st[2, 1] ** 2 + st[2, 2] ** 2
    g01 = 2.0 * (st[0, 0] * st[1, 0] + st[0, 1] * st[1, 1] + st[0, 2] * st[1, 2])
    g02 = 2.0 * (st[0, 0] * st[2, 0] + st[0, 1] * st[2, 1] + st[0, 2] * st[2, 2])
    g12 = 2.0 * (st[1, 0] * st[2, 0] + st[1, 1] * st[2, 1] + st[1, 2] * st[2, 2])
    hinv = np.linalg.inv(h)
    e0 = math.sqrt(hinv[0, 0] ** 2 + hinv[1, 0] ** 2 + hinv[2, 0] ** 2) * nx
    e1 = math.sqrt(hinv[0, 1] ** 2 + hinv[1, 1] ** 2 + hinv[2, 1] ** 2) * ny
    e2 = math.sqrt(hinv[0, 2] ** 2 + hinv[1, 2] ** 2 + hinv[2, 2] ** 2) * nz
    # circumradius (Å) of a block about its centre, for skipping blocks outside the ball
    hb = 0.5 * (B - 1)
    brad = 0.0
    for s0 in (-hb, hb):
        for s1 in (-hb, hb):
            for s2 in (-hb, hb):
                q = (g00 * s0 * s0 + g11 * s1 * s1 + g22 * s2 * s2 + g01 * s0 * s1
                     + g02 * s0 * s2 + g12 * s1 * s2)
                brad = max(brad, math.sqrt(max(q, 0.0)))
    mx = (nx + B - 1) // B
    my = (ny + B - 1) // B
    mz = (nz + B - 1) // B
    nblk = mx * my * mz
    start = np.zeros(nblk + 1, dtype=np.int64)
    for i in range(nx):
        for j in range(ny):
            for k in range(nz):
                if mask[(i * ny + j) * nz + k]:
                    start[((i // B) * my + j // B) * mz + k // B + 1] += 1
    for b in range(nblk):
        start[b + 1] += start[b]
    left = np.zeros(nblk, dtype=np.int64)
    pts = np.empty(start[nblk], dtype=np.int16)  # local code (i % B, j % B, k % B)
    for i in range(nx):
        for j in range(ny):
            for k in range(nz):
                if mask[(i * ny + j) * nz + k]:
                    b = ((i // B) * my + j // B) * mz + k // B
                    pts[start[b] + left[b]] = ((i % B) * B + j % B) * B + k % B
                    left[b] += 1
    lt = np.zeros(dflat.size, dtype=np.float64)
    n_slab = min(mx, LT_SLABS)
    for sl in prange(n_slab):
        blo = (sl * mx) // n_slab
        bhi = ((sl + 1) * mx) // n_slab
        sb0 = np.empty(mx + 2, dtype=np.int64)
        sp0 = np.empty(mx + 2, dtype=np.int64)
        sb1 = np.empty(my + 2, dtype=np.int64)
        sp1 = np.empty(my + 2, dtype=np.int64)
        sb2 = np.empty(mz + 2, dtype=np.int64)
        sp2 = np.empty(mz + 2, dtype=np.int64)
        for t in range(order.size):
            c = order[t]
            r = dflat[c]
            if r < 0.0:
                break
            ck = c % nz
            cj = (c // nz) % ny
            ci = c // (ny * nz)
            ri = int(math.floor(r * e0))
            if ci - ri >= 0 and ci + ri < nx and (ci + ri < blo * B or ci - ri >= bhi * B):
                continue  # the ball does not reach this slab
            rj = int(math.floor(r * e1))
            rk = int(math.floor(r * e2))
            n0 = _axis_segments(ci, ri, nx, sb0, sp0)
            n1 = _axis_segments(cj, rj, ny, sb1, sp1)
            n2 = _axis_segments(ck, rk, nz, sb2, sp2)
            r2 = r * r
            rc2 = (r + brad) * (r + brad)
            for u0 in range(n0):
                bi = sb0[u0]
                if bi < blo or bi >= bhi:
                    continue
                a0b = sp0[u0]
                x0 = a0b + hb
                for u1 in range(n1):
                    bj = sb1[u1]
                    a1b = sp1[u1]
                    x1 = a1b + hb
                    brow = (bi * my + bj) * mz
                    for u2 in range(n2):
                        b = brow + sb2[u2]
                        m = left[b]
                        if m == 0:
                            continue
                        a2b = sp2[u2]
                        x2 = a2b + hb
                        if (g00 * x0 * x0 + g11 * x1 * x1 + g22 * x2 * x2 + g01 * x0 * x1
                                + g02 * x0 * x2 + g12 * x1 * x2) > rc2:
                            continue  # block entirely outside the ball
                        base = start[b]
                        u = 0
                        while u < m:
                            code = pts[base + u]
                            li = code // (B * B)
                            lj = (code // B) % B
                            lk = code % B
                            a0 = a0b + li
                            a1 = a1b + lj
                            a2 = a2b + lk
                            if (g00 * a0 * a0 + g11 * a1 * a1 + g22 * a2 * a2 + g01 * a0 * a1
                                    + g02 * a0 * a2 + g12 * a1 * a2) <= r2:
                                p = ((bi * B + li) * ny + bj * B + lj) * nz + sb2[u2] * B + lk
                                lt[p] = r
                                m -= 1
                                pts[base + u] = pts[base + m]
                                pts[base + m] = code
                            else:
                                u += 1
                        left[b] = m
    return lt


def local_thickness_reference(dflat, mask, h, shape):
    """Brute force local thickness (tiny grids): max d(c) over void c with |x - c| <= d(c)."""
    frac = grid_fractional(shape)
    idx = np.flatnonzero(mask)
    out = np.zeros(dflat.size)
    for x in idx:
        df = frac[idx] - frac[x]
        df -= np.rint(df)
        # exact minimum image for small tilts: check 27 images
        best = np.inf * np.ones(len(idx))
        for s in np.array([[a, b, c] for a in (-1, 0, 1) for b in (-1, 0, 1)
                           for c in (-1, 0, 1)], float):
            best = np.minimum(best, np.linalg.norm((df + s) @ h, axis=1))
        cover = best <= dflat[idx] + 1e-12
        out[x] = dflat[idx][cover].max()
    return out


# --------------------------------------------------------------------------- CUDA


@cuda.jit
def _distance_grid_kernel(afrac, radii, h, m, cell_start, cell_atoms, w_min, r_max, n_shell,
                          nx, ny, nz, out):
    p = cuda.grid(1)
    if p >= nx * ny * nz:
        return
    k = p % nz
    j = (p // nz) % ny
    i = p // (ny * nz)
    out[p] = _nearest_surface_dev(i / nx, j / ny, k / nz, afrac, radii, h, m[0], m[1], m[2],
                                  cell_start, cell_atoms, w_min, r_max, n_shell)


def distance_grid_cuda(afrac, radii, h, m, cell_start, cell_atoms, w_min, n_shell, nx, ny, nz):
    """CUDA version of :func:`distance_grid_numba` (one thread per grid point)."""
    n = nx * ny * nz
    out = cuda.device_array(n, dtype=np.float64)
    args = [cuda.to_device(np.ascontiguousarray(a)) for a in
            (afrac, radii, h, np.asarray(m, np.int64), cell_start, cell_atoms)]
    tpb = 128
    blocks = (n + tpb - 1) // tpb
    _distance_grid_kernel[blocks, tpb](*args, float(w_min), float(np.max(radii)), int(n_shell),
                                       nx, ny, nz, out)
    return out.copy_to_host().reshape(nx, ny, nz)


#: log2 of the block length along k used to skip painted stretches of a row.
_BLK_SHIFT = 4
#: Slabs of the parallel local-thickness painting (fixed: results do not depend on threads).
LT_SLABS = 16
#: Edge (grid points) of the blocks of :func:`local_thickness_blocks_numba`.
LT_BLOCK = 4

OFFSETS_26 = _OFFS
OFFSETS_FORWARD_13 = _FWD
