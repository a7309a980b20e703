"""Plain numpy references of the void kernels (brute force; small grids only), used by the
tests."""

from __future__ import annotations

import numpy as np

from hcanalysis.kernels.voids.grid import grid_fractional


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


def distance_grid_reference(afrac, radii, box, shape) -> np.ndarray:
    """Brute-force distance field on the grid (small grids only)."""
    return distance_points_reference(grid_fractional(shape), afrac, radii, box).reshape(shape)


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
