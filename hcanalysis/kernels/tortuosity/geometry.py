"""The voxel graph of a void grid: the 26 steps, their lengths from the cell metric, the
periodic wrap tables, and shared sentinels."""

from __future__ import annotations

import itertools

import numpy as np

#: The 26 neighbour steps; ``STEPS[25 - s] == -STEPS[s]``.
STEPS = np.array(
    [d for d in itertools.product((-1, 0, 1), repeat=3) if any(d)], dtype=np.int64
)


INF = np.inf


NOMARK = np.zeros(1, dtype=np.uint8)


NOFIELD = np.zeros(1)


NOBOUND = np.zeros(1, dtype=np.float32)
NOBOUND.flags.writeable = False  # same array type as the cached bounds of ``_shell_bound``


def voxel_vectors(box: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Rows ``a/nx, b/ny, c/nz`` (Å): the grid's three lattice step vectors."""
    h = np.asarray(box, dtype=np.float64)
    return h / np.asarray(shape, dtype=np.float64)[:, None]


def step_lengths(box: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Length (Å) of each of the 26 steps of :data:`STEPS` on this grid."""
    return np.linalg.norm(STEPS.astype(np.float64) @ voxel_vectors(box, shape), axis=1)


def is_orthogonal(box: np.ndarray, tol: float = 1e-9) -> bool:
    """True when the cell matrix is diagonal (orthogonal cell aligned with x, y, z)."""
    h = np.asarray(box, dtype=np.float64)
    off = h - np.diag(np.diag(h))
    return bool(np.all(np.abs(off) <= tol * np.abs(h).max()))


def periodic_flags(periodic) -> np.ndarray:
    if isinstance(periodic, bool | np.bool_):
        periodic = (periodic,) * 3
    return np.asarray([bool(p) for p in periodic], dtype=np.int64)


def wrap_table(n: int, periodic: bool) -> np.ndarray:
    """``table[i + 1]`` = grid index ``i`` in ``-1..n`` wrapped onto ``0..n-1`` (periodic
    axis) or ``-1`` off the grid (non-periodic axis)."""
    t = np.arange(-1, n + 1, dtype=np.int64)
    if periodic:
        return t % n
    t[0] = t[-1] = -1
    return t


def check_orthogonal(box):
    if not is_orthogonal(box):
        raise ValueError(
            "fast marching needs an orthogonal cell (diagonal box matrix); use "
            "method='dijkstra' for a triclinic cell"
        )
