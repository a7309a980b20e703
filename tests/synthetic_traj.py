"""A small documented synthetic trajectory for pipeline tests.

A carbon framework (simple cubic lattice, 2.2 Å spacing, carbon spheres overlap into a solid)
in a periodic cubic cell of 22 Å, with a spherical cavity of radius 6.5 Å carved at the centre
and a cylindrical channel of radius 3.2 Å along x through it (so the void percolates along a
only). Na ions: ``n_mobile`` Brownian walkers inside the cavity/channel (reflected back into
the void) with diffusion coefficient ``D_mobile`` Å²/ps, and ``n_caged`` ions vibrating (σ =
0.15 Å) at fixed sites in the channel. The carbon vibrates with σ = 0.05 Å.
"""

from __future__ import annotations

import numpy as np

from hcanalysis import Trajectory

L = 22.0
CAVITY_R = 6.5
CHANNEL_R = 3.2


def in_void(p: np.ndarray, margin: float = 0.0) -> np.ndarray:
    c = p - L / 2
    r_cav = np.linalg.norm(c, axis=-1)
    r_chan = np.linalg.norm(c[..., 1:], axis=-1)
    return (r_cav < CAVITY_R - margin) | (r_chan < CHANNEL_R - margin)


def carbon_lattice(spacing: float = 2.2) -> np.ndarray:
    n = int(round(L / spacing))
    g = (np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5)
    pts = g * (L / n)
    # carve: remove carbons whose surface (1.7 Å) would poke into the void
    c = pts - L / 2
    keep = (np.linalg.norm(c, axis=1) > CAVITY_R + 1.7) & (
        np.linalg.norm(c[:, 1:], axis=1) > CHANNEL_R + 1.7
    )
    return pts[keep]


def make(n_frames: int = 160, n_mobile: int = 6, n_caged: int = 4, D_mobile: float = 0.5,
         dt_ps: float = 0.1, seed: int = 0) -> Trajectory:
    rng = np.random.default_rng(seed)
    carbon = carbon_lattice()
    n_c = len(carbon)
    sigma = np.sqrt(2 * D_mobile * dt_ps)
    mob = np.empty((n_frames, n_mobile, 3))
    mob[0] = L / 2 + rng.uniform(-3, 3, size=(n_mobile, 3))
    for t in range(1, n_frames):
        step = rng.normal(scale=sigma, size=(n_mobile, 3))
        trial = mob[t - 1] + step
        wrapped = trial % L
        ok = in_void(wrapped, margin=0.3)
        mob[t] = np.where(ok[:, None], trial, mob[t - 1] - step)
    sites = np.array([[L / 2 + (-1) ** k * (CAVITY_R + 1.0 + 0.8 * k), L / 2, L / 2]
                      for k in range(n_caged)])
    caged = sites[None] + rng.normal(scale=0.15, size=(n_frames, n_caged, 3))
    cpos = carbon[None] + rng.normal(scale=0.05, size=(n_frames, n_c, 3))
    pos = np.concatenate([cpos, mob, caged], axis=1) % L
    species = ["C"] * n_c + ["Na"] * (n_mobile + n_caged)
    return Trajectory.from_arrays(pos, np.eye(3) * L, species, dt_ps=dt_ps)
