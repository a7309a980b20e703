"""Void geometries with known geodesic answers, for the tortuosity tests."""

from __future__ import annotations

import numpy as np


def straight_channel(n: int = 24, lo: int = 10, hi: int = 14) -> np.ndarray:
    """Square channel along a (grid axis 0), cross-section ``[lo, hi)^2``."""
    m = np.zeros((n, n, n), dtype=bool)
    m[:, lo:hi, lo:hi] = True
    return m


def zigzag_band(nx: int, ny: int, nz: int, amp: float, width: float, h: float) -> np.ndarray:
    """A zig-zag band in the a-b plane, extruded along c: centre line a triangle wave of
    amplitude ``amp`` (Å) and period the cell length ``nx*h``; ``width`` (Å) measured normal
    to the band's straight legs. Orthogonal voxels of edge ``h``."""
    period = nx * h
    x = np.arange(nx) * h
    y = (np.arange(ny) - ny / 2) * h
    slope = 4 * amp / period
    tri = amp * (1 - 4 * np.abs(((x / period) % 1.0) - 0.5))  # in [-amp, amp]
    half_v = 0.5 * width * np.sqrt(1 + slope ** 2)  # vertical half-width of a tilted leg
    m2 = np.abs(y[None, :] - (tri[:, None] - 0.0)) <= half_v
    return np.repeat(m2[:, :, None], nz, axis=2)


def zigzag_length(amp: float, width: float, period: float) -> float:
    """Shortest path per period through :func:`zigzag_band`: straight segments from inner
    corner to inner corner (two per period), when the band is not straight-through."""
    slope = 4 * amp / period
    half_v = 0.5 * width * np.sqrt(1 + slope ** 2)
    rise = 2 * amp - 2 * half_v
    if rise <= 0:
        return period
    return 2 * np.hypot(period / 2, rise)


def maze(cells: int = 3, pitch: int = 2, seed: int = 0) -> np.ndarray:
    """A periodic 3-D maze: a random spanning tree (seeded depth-first search) of a
    ``cells^3`` periodic lattice, carved with 1-voxel corridors every ``pitch`` voxels, plus a
    few extra random links so there are loops."""
    rng = np.random.default_rng(seed)
    n = cells * pitch
    m = np.zeros((n, n, n), dtype=bool)
    seen = np.zeros((cells,) * 3, dtype=bool)
    stack = [(0, 0, 0)]
    seen[0, 0, 0] = True
    dirs = [(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)]

    def carve(c, d):
        for t in range(pitch + 1):
            p = tuple((c[ax] * pitch + t * d[ax]) % n for ax in range(3))
            m[p] = True

    while stack:
        c = stack[-1]
        opts = [d for d in dirs if not seen[tuple((c[ax] + d[ax]) % cells for ax in range(3))]]
        if not opts:
            stack.pop()
            continue
        d = opts[rng.integers(len(opts))]
        nb = tuple((c[ax] + d[ax]) % cells for ax in range(3))
        carve(c, d)
        seen[nb] = True
        stack.append(nb)
    for _ in range(cells):
        c = tuple(rng.integers(0, cells, 3))
        carve(c, dirs[rng.integers(6)])
    return m


def sphere_packing(n: int, n_spheres: int, radius: float, seed: int = 0) -> np.ndarray:
    """Void outside randomly placed (overlapping) solid spheres, periodic, radius in voxels."""
    rng = np.random.default_rng(seed)
    centres = rng.random((n_spheres, 3)) * n
    g = np.indices((n, n, n)).reshape(3, -1).T.astype(float)
    solid = np.zeros(n ** 3, dtype=bool)
    for c in centres:
        d = g - c
        d -= n * np.rint(d / n)
        solid |= np.einsum("ij,ij->i", d, d) <= radius ** 2
    return ~solid.reshape(n, n, n)
