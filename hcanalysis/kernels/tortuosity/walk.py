"""Blind-ant random walkers on the void grid, for a diffusive check of the tortuosity."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, inline="always")
def _splitmix(state):
    state = (state + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    z = state
    z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & np.uint64(
        0xFFFFFFFFFFFFFFFF)
    z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & np.uint64(
        0xFFFFFFFFFFFFFFFF)
    z = z ^ (z >> np.uint64(31))
    return state, z


@njit(parallel=True, cache=True)
def _walk_kernel(mask, shape, starts, n_steps, seed, n_half):
    n = starts.shape[0]
    disp = np.zeros((n, 2, 3), dtype=np.float64)
    for w in prange(n):
        state = np.uint64(seed) * np.uint64(1000003) + np.uint64(w) * np.uint64(7919)
        p0 = starts[w, 0]
        p1 = starts[w, 1]
        p2 = starts[w, 2]
        u0 = 0
        u1 = 0
        u2 = 0
        for t in range(n_steps):
            state, z = _splitmix(state)
            r = int(z % np.uint64(6))
            ax = r >> 1
            sg = 1 if (r & 1) else -1
            q0 = p0
            q1 = p1
            q2 = p2
            if ax == 0:
                q0 = (p0 + sg + shape[0]) % shape[0]
            elif ax == 1:
                q1 = (p1 + sg + shape[1]) % shape[1]
            else:
                q2 = (p2 + sg + shape[2]) % shape[2]
            if mask[(q0 * shape[1] + q1) * shape[2] + q2]:
                p0 = q0
                p1 = q1
                p2 = q2
                if ax == 0:
                    u0 += sg
                elif ax == 1:
                    u1 += sg
                else:
                    u2 += sg
            if t + 1 == n_half:
                disp[w, 0, 0] = u0
                disp[w, 0, 1] = u1
                disp[w, 0, 2] = u2
        disp[w, 1, 0] = u0
        disp[w, 1, 1] = u1
        disp[w, 1, 2] = u2
    return disp


def random_walk_displacements(mask: np.ndarray, starts: np.ndarray, n_steps: int,
                              seed: int = 0) -> np.ndarray:
    """Blind-ant random walk on the periodic void grid in grid-index space: each step picks one
    of the 6 face directions at random and moves only if the target point is void (one step
    per unit time). Returns ``(n_walkers, 2, 3)`` unwrapped index displacements at
    ``n_steps // 2`` and ``n_steps`` steps. In an all-void grid each axis has
    ``<dx^2> = t / 3``. Deterministic for a seed (counter-based RNG per walker)."""
    m = np.ascontiguousarray(mask, dtype=np.uint8)
    return _walk_kernel(m.ravel(), np.asarray(m.shape, dtype=np.int64),
                        np.atleast_2d(np.asarray(starts, dtype=np.int64)), int(n_steps),
                        int(seed), int(n_steps) // 2)
