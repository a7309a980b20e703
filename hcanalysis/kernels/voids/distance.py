"""Exact periodic distance field: the distance from a point to the nearest atom surface,
``min_a |x - a| - r_a`` (Å).

For a query point the atoms are searched with a periodic cell list in Chebyshev shells of
cells around the point's cell; every atom image is handled explicitly (no minimum-image
convention needed), and the search stops once the nearest possible atom in the next unsearched
shell, at least ``s * w_min`` away (``w_min`` the smallest perpendicular width of a cell-list
cell), cannot beat the best surface distance found (``s * w_min - r_max >= best``): the exact
value for every grid point. The shell search (:func:`_nearest_surface`) is written once and
compiled for the CPU and for CUDA. On the whole grid the CPU scatters each atom's ball first
(:func:`distance_scatter_numba`) and resolves the rest by the shell search
(:func:`distance_resolve_numba`); CUDA runs the shell search per grid point
(:func:`distance_grid_cuda`, also under Numba's CUDA simulator).
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, njit, prange


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
