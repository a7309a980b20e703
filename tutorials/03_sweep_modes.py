# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Tutorial 3 — a density × loading sweep, diffusion modes and what controls mobility
#
# What you will do:
#
# 1. run a small sweep with `mdrunner`: hard-carbon cells at three carbon densities, each
#    loaded with Na at two loadings, a short MD run per point (`mdrunner.sweep`);
# 2. analyse all runs at once with `hcanalysis.pipeline.analyze`: the per-(ion, window)
#    descriptor table of every run, diffusion modes (`hcanalysis.modes.ModeFinder`), whether
#    the structural descriptors predict mobility on held-out runs, and only then which
#    (`hcanalysis.importance.rank`), and the correlation map of mode fractions and descriptor
#    means against density and loading with exact p-values, Benjamini-Hochberg q-values and
#    n per cell (`hcanalysis.ensemble`; at least 5 runs);
# 3. plot the mode map, the mode fractions per run, the importance result (a ranking only
#    with predictive skill) and the correlation map.
#
# **About the potential.** To run in seconds anywhere (CI included, no torch), this tutorial
# drives the MD with a toy classical potential written below as an ASE calculator: the carbon
# is held near its start positions by springs and Na feels Lennard-Jones Na–C and Na–Na
# pairs. Its numbers mean nothing physically. Real studies use a machine-learned potential
# through `mdrunner.calculators.get`, e.g. `get("mace", model="mace-mp-0.model",
# device="cuda")` or the embedded CPU default `get("chgnet")` (extra `[md]`), with much
# longer runs (`mdrunner sweep ...` on the command line; see `docs/mdrunner.md`).

# %%
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from hcanalysis import pipeline
from hcanalysis.config import AnalysisConfig
from hcanalysis.progress import messages
from mdrunner import sweep

# %% [markdown]
# ## 1. A toy potential (stand-in for MACE / CHGNet)
#
# `E = Σ_C k/2 |r − r0|² + Σ_{Na–C, Na–Na pairs} 4ε[(σ/r)¹² − (σ/r)⁶]` (shifted to zero at
# the cut-off `rc`, minimum image; `rc` must stay below half the cell). Any object with
# ASE's calculator interface can be passed to mdrunner.


# %%
class ToyNaC(Calculator):
    """Carbon tethered to its first positions (k, eV/Å²); LJ Na–C and Na–Na (σ Å, ε eV)."""

    implemented_properties = ["energy", "forces"]

    def __init__(self, k_carbon=20.0, na_c=(2.4, 0.05), na_na=(3.2, 0.02), rc=5.0, **kw):
        super().__init__(**kw)
        self.k, self.na_c, self.na_na, self.rc = k_carbon, na_c, na_na, rc
        self.ref = None

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        cell = np.asarray(self.atoms.cell[:])
        pos = self.atoms.get_positions()
        is_c = np.array(self.atoms.get_chemical_symbols()) == "C"
        frac = pos @ np.linalg.inv(cell)
        if self.ref is None:
            self.ref = frac[is_c].copy()
        d = frac[is_c] - self.ref
        d = (d - np.rint(d)) @ cell  # tether displacement, minimum image
        energy = 0.5 * self.k * np.sum(d * d)
        forces = np.zeros_like(pos)
        forces[is_c] = -self.k * d
        na = np.flatnonzero(~is_c)
        sf = frac[None, :, :] - frac[na, None, :]
        vec = (sf - np.rint(sf)) @ cell  # (n_Na, n_atoms, 3): r_j - r_Na
        r = np.linalg.norm(vec, axis=2)
        j = np.arange(len(pos))
        use = (r < self.rc) & (is_c[None, :] | (j[None, :] > na[:, None]))  # each pair once
        sigma = np.where(is_c[None, :], self.na_c[0], self.na_na[0])
        eps = np.where(is_c[None, :], self.na_c[1], self.na_na[1])
        rr = np.where(use, r, self.rc)
        s6, c6 = (sigma / rr) ** 6, (sigma / self.rc) ** 6
        energy += np.sum(np.where(use, 4 * eps * (s6 * s6 - s6 - c6 * c6 + c6), 0.0))
        f_pair = np.where(use, 24 * eps * (2 * s6 * s6 - s6) / rr**2, 0.0)[..., None] * vec
        np.add.at(forces, j, f_pair.sum(axis=0))
        forces[na] -= f_pair.sum(axis=1)
        self.results = {"energy": float(energy), "forces": forces}


# %% [markdown]
# ## 2. The sweep
#
# `make_points` spans the grid; `run_point` builds each cell (`build_fragments`: curved,
# randomly stacked graphene fragments at the target carbon density), inserts Na into the
# deepest voids at the loading (`insert_na`, "NaC12" = one Na per 12 C), runs Langevin NVT and
# writes `SWEEP/<point>/traj.h5` (H5MD) and `run.json` (the point's metadata). A finished
# point is skipped when the sweep is run again; an interrupted one resumes from its
# checkpoint.

# %%
points = sweep.make_points(
    densities=[1.0, 1.25, 1.5],  # carbon density, g/cm³ (6 runs: a map needs >= 5)
    loadings=["NaC12", "NaC6"],  # Na per C
    seeds=1,
    n_carbon=96,
    md=dict(steps=300, timestep_fs=2.0, temperature_K=900.0, save_every=5,
            checkpoint_every=300),
)
runs = []
for p in points:
    meta = sweep.run_point(p, "sweep", calculator=ToyNaC())  # a fresh calculator per cell
    runs.append(Path("sweep") / p.name / "traj.h5")
    print(f"{p.name}: {meta['n_carbon']} C + {meta['n_na']} Na, "
          f"{meta['carbon_density']:.2f} g/cm³, {meta['result']['n_frames']} frames")

# %% [markdown]
# `hcanalysis.ensemble` correlates against the processing variables `density` (carbon,
# g/cm³), `na_loading` (Na per C) and `temperature` (K), read for each trajectory from the
# `run.json` mdrunner wrote beside it (or from `<file>.json`, `<stem>.json`, or a CSV).

# %%
print(json.dumps({k: v for k, v in json.loads((runs[0].parent / "run.json").read_text()).items()
                  if k in ("density", "na_loading", "temperature", "loading", "seed")}))

# %% [markdown]
# ## 3. Analyse every run
#
# One call: descriptors per trajectory (cached under `analysis/cache/`, so a re-run with the
# same inputs and parameters is instant), then modes, importance, the ensemble correlation
# map and an HTML report. These cells are ~11 Å wide, so the local-density and tortuosity
# shell radii are set below half the cell. On the command line the same analysis of a whole
# sweep folder is `hcanalysis ensemble sweep/ -o analysis/` (parameters with `--config` or
# `--set`).

# %%
cfg = AnalysisConfig(seed=0)
cfg.windows.window = 20  # frames per window (0.2 ps here)
cfg.hops.half_window = 5
cfg.structure.density_radius = 4.5
cfg.tortuosity.shell_radius = 4.5
cfg.modes.max_modes = 4
cfg.importance.model = "gradient_boosting"  # ~10x faster here than the default random forest
result = pipeline.analyze(runs, "analysis", cfg, progress=messages(print))  # step lines
table = result.table
print(f"{len(table)} rows (trajectory, ion, window); notes: {result.notes}")
print({k: str(v) for k, v in result.files.items()})

# %%
mf = result.modes
print(f"{mf.n_modes_} modes (BIC over 1..{cfg.modes.max_modes}); stability ARI "
      f"{mf.stability_['mean']:.2f}")
summary = mf.summary()  # constant descriptors (e.g. hop_rate without hops) were dropped
print(summary[[c for c in ["name", "fraction", "log_msd_lag", "alpha", "hop_rate", "n_NaNa",
                           "pore_radius", "local_tortuosity"] if c in summary]])
for label, rule in mf.naming_rules_.items():
    print(f"  mode {label}: {rule}")

# %%
imp = result.importance
print("\n".join(imp.lines()))  # held-out R² with its interval; a ranking only with skill

# %%
corr = result.correlation  # None below ensemble.MIN_RUNS (5) runs: the reason is in notes
print("\n".join(corr.lines()) if corr is not None else result.notes)
if corr is not None:
    print(corr.cells().dropna(subset=["rho"]).round(3).head(10))

# %% [markdown]
# ## 4. Plots
#
# The UMAP map of the (ion, window) rows coloured by mode, the mode fractions of each run,
# the importance ranking with its 95 % interval over folds and permutations (drawn only when
# the held-out R² interval is above 0; otherwise the R² interval itself), and the Spearman
# correlation map with n per cell (* = Benjamini-Hochberg q <= 0.05). With six short toy
# runs (60 frames each), expect neither predictive skill nor a significant cell: that is
# the honest answer for this little data. The same figures, and more, are in
# `analysis/report.html`.

# %%
meta = result.metadata.set_index("trajectory")
names = table["mode_name"].to_numpy()
colours = {"hopping": "C3", "clustering": "C0", "void trapping": "C4", "caged": "0.5"}
fig, ax = plt.subplots(2, 2, figsize=(12, 9))
emb = mf.embedding_
for name in dict.fromkeys(names):  # mode names in order of appearance
    sel = names == name
    ax[0, 0].scatter(emb[sel, 0], emb[sel, 1], s=12, color=colours.get(name, "C1"),
                     label=f"{name} ({sel.sum()})")
ax[0, 0].set(title="UMAP of the descriptors, coloured by mode", xlabel="UMAP 1",
             ylabel="UMAP 2")
ax[0, 0].legend(fontsize=8)

frac = table.groupby("trajectory")["mode_name"].value_counts(normalize=True).unstack(fill_value=0)
labels = [f"ρ={meta.loc[t, 'density']:.2f}\n{meta.loc[t, 'loading']}" for t in frac.index]
bottom = np.zeros(len(frac))
for name in frac.columns:
    ax[0, 1].bar(labels, frac[name], bottom=bottom, color=colours.get(name, "C1"), label=name)
    bottom += frac[name].to_numpy()
ax[0, 1].set(title="mode fractions per run", ylabel="fraction of (ion, window) rows")
ax[0, 1].legend(fontsize=8)

lo, hi = imp.r2_ci
if imp.has_skill:
    rk = imp.ranking.head(8)[::-1]
    ax[1, 0].barh(rk["feature"], rk["importance"],
                  xerr=[rk["importance"] - rk["ci_low"], rk["ci_high"] - rk["importance"]],
                  color="C2")
    ax[1, 0].set(title=f"what predicts {imp.target} (held-out R² = {imp.r2:.2f} "
                 f"[{lo:.2f}, {hi:.2f}])", xlabel="permutation importance (drop in R²)")
else:
    ax[1, 0].errorbar([imp.r2], [0], xerr=[[imp.r2 - lo], [hi - imp.r2]], fmt="o", capsize=4)
    ax[1, 0].axvline(0, color="r")
    ax[1, 0].set(title=f"no predictive skill for {imp.target}: no ranking", yticks=[],
                 xlabel="held-out R² (95 % interval)")

if corr is not None:
    keep = corr.rho.notna().any(axis=1)  # drop constant quantities and variables
    rho = corr.rho.loc[keep].dropna(axis=1, how="all")
    im = ax[1, 1].imshow(rho.to_numpy(dtype=float), cmap="coolwarm", vmin=-1, vmax=1,
                         aspect="auto")
    n_cell, q = corr.n_cell.loc[rho.index, rho.columns], corr.qvalue.loc[rho.index, rho.columns]
    for i in range(rho.shape[0]):
        for j in range(rho.shape[1]):
            star = "*" if q.iloc[i, j] <= corr.alpha else ""
            ax[1, 1].text(j, i, f"n={n_cell.iloc[i, j]}{star}", ha="center", va="center",
                          fontsize=6)
    ax[1, 1].set_xticks(range(rho.shape[1]), rho.columns)
    ax[1, 1].set_yticks(range(rho.shape[0]), rho.index, fontsize=7)
    ax[1, 1].set_title(f"Spearman ρ across {corr.n} runs (* BH q <= {corr.alpha:g})")
    fig.colorbar(im, ax=ax[1, 1])
fig.tight_layout()
fig.savefig("fig3_modes.png", dpi=100)
plt.show()
