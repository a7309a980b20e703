"""Periodic-boundary helpers shared by the kernels (numpy and Numba), triclinic cells allowed.

Cells are 3x3 matrices whose rows are the cell vectors a, b, c (Å); Cartesian row vectors r
have fractional coordinates s = r H^-1.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


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


@njit(parallel=True, cache=True)
def weighted_unwrap_steps(wrapped, previous, boxes, inv_boxes, weights):  # pragma: no cover
    """Weighted sum over atoms of the continuity-unwrap steps of a block of frames.

    The step of atom a into frame f is ``d - rint(d H_f^-1) H_f`` with ``d = w[f, a] -
    w[f - 1, a]`` (``previous`` for ``f = 0``): the step of
    :func:`hcanalysis.io.unwrap.unwrap_block` (continuity, or von Bülow's scheme for a
    changing box). Summing ``weights[a]`` times it over the atoms gives the frame-to-frame
    move of the weighted mean of the unwrapped positions (the centre of mass) without holding
    the unwrapped positions (one pass, no temporaries).

    Parameters
    ----------
    wrapped : (n_frames, n_atoms, 3) float32 or float64
        Positions as stored, Å.
    previous : (n_atoms, 3) float64
        Positions of the frame before ``wrapped[0]``, Å.
    boxes, inv_boxes : (n_frames, 3, 3) float64
        Cell matrix (rows are cell vectors) of each frame and its inverse.
    weights : (n_atoms,) float64

    Returns
    -------
    steps : (n_frames, 3) float64
        Weighted sum of the atoms' steps into each frame, Å.
    worst : (n_frames,) float64
        Largest ``|frac - rint(frac)|`` of the frame (the unwrap warning's measure).
    worst_atom : (n_frames, 2) int64
        Atom and axis of it.
    """
    nf, na = wrapped.shape[0], wrapped.shape[1]
    steps = np.zeros((nf, 3))
    worst = np.zeros(nf)
    worst_atom = np.zeros((nf, 2), np.int64)
    for f in prange(nf):
        h = boxes[f]
        hi = inv_boxes[f]
        sx = 0.0
        sy = 0.0
        sz = 0.0
        wmax = 0.0
        amax = 0
        kmax = 0
        for a in range(na):
            if f == 0:
                px, py, pz = previous[a, 0], previous[a, 1], previous[a, 2]
            else:
                px = float(wrapped[f - 1, a, 0])
                py = float(wrapped[f - 1, a, 1])
                pz = float(wrapped[f - 1, a, 2])
            dx = float(wrapped[f, a, 0]) - px
            dy = float(wrapped[f, a, 1]) - py
            dz = float(wrapped[f, a, 2]) - pz
            n0 = 0.0
            n1 = 0.0
            n2 = 0.0
            for j in range(3):
                fr = dx * hi[0, j] + dy * hi[1, j] + dz * hi[2, j]
                n = np.rint(fr)
                r = abs(fr - n)
                if r > wmax:
                    wmax = r
                    amax = a
                    kmax = j
                if j == 0:
                    n0 = n
                elif j == 1:
                    n1 = n
                else:
                    n2 = n
            wa = weights[a]
            sx += wa * (dx - (n0 * h[0, 0] + n1 * h[1, 0] + n2 * h[2, 0]))
            sy += wa * (dy - (n0 * h[0, 1] + n1 * h[1, 1] + n2 * h[2, 1]))
            sz += wa * (dz - (n0 * h[0, 2] + n1 * h[1, 2] + n2 * h[2, 2]))
        steps[f, 0] = sx
        steps[f, 1] = sy
        steps[f, 2] = sz
        worst[f] = wmax
        worst_atom[f, 0] = amax
        worst_atom[f, 1] = kmax
    return steps, worst, worst_atom
