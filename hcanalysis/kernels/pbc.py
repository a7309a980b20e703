"""Periodic-boundary helpers shared by the kernels (numpy and Numba), triclinic cells allowed.

Cells are 3x3 matrices whose rows are the cell vectors a, b, c (Å); Cartesian row vectors r
have fractional coordinates s = r H^-1.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def perpendicular_widths(box: np.ndarray) -> np.ndarray:
    """Distances between opposite faces of the cell (Å): volume / area of each face pair."""
    h = np.asarray(box, dtype=np.float64)
    vol = abs(np.linalg.det(h))
    a, b, c = h
    return np.array(
        [vol / np.linalg.norm(np.cross(b, c)), vol / np.linalg.norm(np.cross(c, a)),
         vol / np.linalg.norm(np.cross(a, b))]
    )


def wrap_positions(positions: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Positions wrapped into the cell (fractional coordinates in [0, 1))."""
    h = np.asarray(box, dtype=np.float64)
    s = np.asarray(positions, dtype=np.float64) @ np.linalg.inv(h)
    s -= np.floor(s)
    return s @ h


def minimum_image(d: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Minimum-image separation vectors for a single cell.

    Rounds in fractional coordinates, then checks the 27 neighbouring images, so the result is
    the true shortest image also in strongly tilted cells.

    Parameters
    ----------
    d : (..., 3) float
        Separation vectors, Å.
    box : (3, 3) float
        Cell matrix, rows are cell vectors, Å.
    """
    h = np.asarray(box, dtype=np.float64)
    d = np.asarray(d, dtype=np.float64)
    s = d @ np.linalg.inv(h)
    base = (s - np.rint(s)) @ h
    shifts = np.array(
        [[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)], dtype=np.float64
    ) @ h
    cand = base[..., None, :] + shifts  # (..., 27, 3)
    best = np.argmin(np.einsum("...ij,...ij->...i", cand, cand), axis=-1)
    return np.take_along_axis(cand, best[..., None, None], axis=-2)[..., 0, :]


@njit(cache=True, inline="always")
def min_image_sq_numba(dx: float, dy: float, dz: float, h: np.ndarray, hinv: np.ndarray) -> float:
    """Squared minimum-image distance of one separation vector (Numba; rows of h are cell
    vectors). Fractional rounding followed by a 27-image check."""
    sx = dx * hinv[0, 0] + dy * hinv[1, 0] + dz * hinv[2, 0]
    sy = dx * hinv[0, 1] + dy * hinv[1, 1] + dz * hinv[2, 1]
    sz = dx * hinv[0, 2] + dy * hinv[1, 2] + dz * hinv[2, 2]
    sx -= np.rint(sx)
    sy -= np.rint(sy)
    sz -= np.rint(sz)
    best = 1e300
    for i in range(-1, 2):
        for j in range(-1, 2):
            for k in range(-1, 2):
                fx = sx + i
                fy = sy + j
                fz = sz + k
                x = fx * h[0, 0] + fy * h[1, 0] + fz * h[2, 0]
                y = fx * h[0, 1] + fy * h[1, 1] + fz * h[2, 1]
                z = fx * h[0, 2] + fy * h[1, 2] + fz * h[2, 2]
                r2 = x * x + y * y + z * z
                if r2 < best:
                    best = r2
    return best
