"""Synthetic descriptor tables with planted structure, for the model-layer tests.

``planted_modes``: four populations with the signatures of the design's modes (fast hoppers,
Na-clustered ions, ions trapped in large pores, caged ions), spread over trajectories whose
carbon density sets the fraction of trapped ions (a planted monotone dependence).
``planted_importance``: log_D driven by one structural descriptor (local tortuosity), the other
structural descriptors being noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# mean descriptor values per planted mode
SIGNATURES = {
    "hopping": dict(log_D=-0.3, alpha=0.95, hop_rate=0.8, hop_length=2.8, p_hop_max=3.0,
                    n_NaNa=1.0, n_NaC=6.0, cluster_size=1.5, pore_radius=2.5,
                    wall_distance=1.8, local_tortuosity=1.3, shell_reachable=0.9),
    "clustering": dict(log_D=-1.4, alpha=0.6, hop_rate=0.15, hop_length=2.0, p_hop_max=1.2,
                       n_NaNa=4.5, n_NaC=4.0, cluster_size=6.0, pore_radius=3.0,
                       wall_distance=2.0, local_tortuosity=1.6, shell_reachable=0.7),
    "void trapping": dict(log_D=-1.9, alpha=0.35, hop_rate=0.05, hop_length=1.5,
                          p_hop_max=0.6, n_NaNa=0.5, n_NaC=2.0, cluster_size=1.2,
                          pore_radius=5.5, wall_distance=3.6, local_tortuosity=2.4,
                          shell_reachable=0.35),
    "caged": dict(log_D=-2.4, alpha=0.2, hop_rate=0.02, hop_length=1.2, p_hop_max=0.3,
                  n_NaNa=0.8, n_NaC=9.0, cluster_size=1.3, pore_radius=1.9,
                  wall_distance=1.4, local_tortuosity=2.0, shell_reachable=0.5),
}
NOISE = 0.06  # relative spread of every descriptor inside a mode


def planted_modes(seed: int = 0, n_traj: int = 6, n_ions: int = 30, n_windows: int = 4):
    """A planted-mode descriptor table.

    Returns
    -------
    table : DataFrame with id columns, descriptors and a ``true_mode`` column
    meta : DataFrame, one row per trajectory: ``trajectory``, ``density`` (g/cm³),
        ``na_loading`` (Na/C), ``temperature`` (K)
    """
    rng = np.random.default_rng(seed)
    names = list(SIGNATURES)
    densities = np.linspace(0.9, 1.6, n_traj)
    rows, meta = [], []
    for t, rho in enumerate(densities):
        # trapping falls with density, caging rises with it (planted monotone dependence)
        p_trap = 0.35 - 0.3 * (rho - 0.9) / 0.7
        p = np.array([0.25, 0.2, p_trap, 0.55 - p_trap])
        modes = rng.choice(len(names), size=n_ions, p=p / p.sum())
        meta.append(dict(trajectory=t, density=rho, na_loading=0.1 + 0.02 * t,
                         temperature=600.0))
        for ion in range(n_ions):
            sig = SIGNATURES[names[modes[ion]]]
            for w in range(n_windows):
                row = {k: v + NOISE * max(abs(v), 0.5) * rng.normal() for k, v in sig.items()}
                row.update(trajectory=t, ion=ion, window=w, true_mode=names[modes[ion]])
                rows.append(row)
    return pd.DataFrame(rows), pd.DataFrame(meta)


def planted_importance(seed: int = 0, n_traj: int = 6, n_rows: int = 150) -> pd.DataFrame:
    """log_D = -1 - 1.5 (local_tortuosity - 1.5) + noise; other structural columns are noise,
    one of them (n_NaNa) weakly related."""
    rng = np.random.default_rng(seed)
    frames = []
    for t in range(n_traj):
        tort = rng.uniform(1.0, 2.5, n_rows)
        nn = rng.uniform(0, 5, n_rows)
        df = pd.DataFrame(dict(
            trajectory=t, ion=np.arange(n_rows), window=0,
            local_tortuosity=tort, n_NaNa=nn,
            n_NaC=rng.uniform(2, 10, n_rows), pore_radius=rng.uniform(1.5, 6, n_rows),
            wall_distance=rng.uniform(1, 4, n_rows), voronoi_volume=rng.uniform(10, 40, n_rows),
        ))
        df["log_D"] = -1 - 1.5 * (tort - 1.5) - 0.1 * nn + rng.normal(0, 0.1, n_rows)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)
