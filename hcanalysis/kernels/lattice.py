"""The 26 neighbours of a point of a periodic grid, shared by the void and tortuosity kernels.

Flat indices are C order, ``p = (i * ny + j) * nz + k``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# 26 neighbour offsets, and the 13 "forward" ones (one of each +-pair)
OFFSETS_26 = np.array(
    [[a, b, c] for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)
     if (a, b, c) != (0, 0, 0)],
    dtype=np.int64,
)


OFFSETS_FORWARD_13 = np.array(
    [o for o in OFFSETS_26.tolist() if tuple(o) > (0, 0, 0)], dtype=np.int64
)


@njit(cache=True)
def fill_neighbours(p, nx, ny, nz, offs, qbuf, tbuf):
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
