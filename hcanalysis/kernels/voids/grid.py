"""Periodic grids over a (triclinic) cell and the atom cell list of the distance field.

Grid point ``(i, j, k)`` sits at fractional coordinates ``(i/nx, j/ny, k/nz)``; flat indices
are C order, ``p = (i * ny + j) * nz + k``.
"""

from __future__ import annotations

import math

import numpy as np

from hcanalysis.kernels.pbc import perpendicular_widths


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


def grid_fractional(shape: tuple[int, int, int]) -> np.ndarray:
    """Fractional coordinates of all grid points, (nx*ny*nz, 3), C order."""
    nx, ny, nz = shape
    i, j, k = np.meshgrid(np.arange(nx) / nx, np.arange(ny) / ny, np.arange(nz) / nz,
                          indexing="ij")
    return np.stack([i.ravel(), j.ravel(), k.ravel()], axis=1)
