"""Periodic-boundary helpers shared by the kernels (numpy and Numba), triclinic cells allowed.

Cells are 3x3 matrices whose rows are the cell vectors a, b, c (Å); Cartesian row vectors r
have fractional coordinates s = r H^-1.
"""

from __future__ import annotations

import numpy as np


def perpendicular_widths(box: np.ndarray) -> np.ndarray:
    """Distances between opposite faces of the cell (Å): volume / area of each face pair."""
    h = np.asarray(box, dtype=np.float64)
    vol = abs(np.linalg.det(h))
    a, b, c = h
    return np.array(
        [vol / np.linalg.norm(np.cross(b, c)), vol / np.linalg.norm(np.cross(c, a)),
         vol / np.linalg.norm(np.cross(a, b))]
    )


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
