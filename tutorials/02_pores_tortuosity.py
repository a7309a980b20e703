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
# # Tutorial 2 — pores, tortuosity and per-ion descriptors
#
# What you will do, on the small bundled Na-in-hard-carbon sample
# (`hcanalysis/data/sample_chgnet.h5`, C144 Na18, CHGNet):
#
# 1. tessellate the void space of one carbon frame (`hcanalysis.voids.tessellate`): the exact
#    distance field to the carbon surface, porosity, largest cavity diameter (LCD), pore
#    limiting diameter (PLD), pores and throats, and the pore size distribution (PSD);
# 2. measure the geodesic tortuosity of the void, globally per cell axis and locally around
#    every Na ion (`hcanalysis.tortuosity.global_tortuosity` / `local`);
# 3. build the per-(ion, window) descriptor table that joins dynamics and structure
#    (`hcanalysis.descriptors.compute`).
#
# Units: Å, Å³, ps. Definitions and defaults: `docs/methods.md`.

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import hcanalysis as hca
from hcanalysis import descriptors, tortuosity, voids
from hcanalysis.config import AnalysisConfig

SAMPLE = Path(hca.__file__).parent / "data" / "sample_chgnet.h5"
traj = hca.load(SAMPLE)
print(traj)
box = traj.box(0)
print("cell lengths (Å):", np.linalg.norm(box, axis=1))

# %% [markdown]
# ## 1. Void tessellation of the carbon frame
#
# The cell is gridded at `spacing` Å (0.3 by default). At every grid point `d` is the exact
# periodic distance to the nearest carbon centre minus the carbon radius (van der Waals, 1.7 Å);
# the void is `d >= probe` (probe 0: every point outside the carbon spheres). Pores are the
# basins of a periodic watershed of `d` (one per local maximum, merged when shallower than
# `merge_delta` = 0.25 Å); their radius is the largest inscribed sphere. The LCD is twice the
# largest `d`; the PLD along an axis is the diameter of the largest sphere that can travel
# through the cell along it.

# %%
carbon = traj.positions("C", frames=[0])[0]
vm = voids.tessellate(carbon, box, spacing=0.3, radii=1.7)
print(f"grid {vm.shape}, spacing {np.round(vm.spacing, 3)} Å")
print(f"porosity {vm.porosity:.3f} | LCD {vm.lcd:.2f} Å | PLD (a, b, c) {np.round(vm.pld, 2)} Å")
print(f"percolates along a, b, c: {vm.percolates} | {vm.n_pores} pores, {len(vm.throats)} throats")
print(vm.pores.head())

frac, edges = vm.psd(bins=30)  # fraction of the void volume per local-thickness radius bin

# %% [markdown]
# ### A slice of the distance field with the pores
#
# Left: `d` in the plane `k` through the largest pore (the carbon is where `d < 0`). Right: the
# pore label of each void point in that plane, with the Na ions that sit within one grid
# spacing of it.

# %%
centre = vm.pore_centres[0]
k = int(vm.cart_to_index(centre)[2])
na0 = traj.positions("Na", frames=[0])[0]
na_idx = vm.cart_to_index(na0)
near = na_idx[:, 2] == k
ext = [0, 1, 0, 1]  # fractional coordinates along a (vertical) and b (horizontal)
fig, ax = plt.subplots(1, 2, figsize=(10, 4.4))
im = ax[0].imshow(vm.distance[:, :, k], origin="lower", cmap="RdBu", extent=ext,
                  vmin=-1.7, vmax=max(vm.lcd / 2, 0.1))
ax[0].contour(vm.distance[:, :, k], levels=[0.0], colors="k", linewidths=0.8, extent=ext)
fig.colorbar(im, ax=ax[0], label="distance to the carbon surface d (Å)")
ax[0].set(title=f"d in the plane c = {k / vm.shape[2]:.2f}", xlabel="b (fractional)",
          ylabel="a (fractional)")
lab = np.ma.masked_less(vm.labels[:, :, k], 0)
ax[1].imshow(lab % 20, origin="lower", cmap="tab20", extent=ext, interpolation="nearest")
ax[1].scatter(na_idx[near, 1] / vm.shape[1], na_idx[near, 0] / vm.shape[0], c="k", s=40,
              marker="*", label="Na in this plane")
ax[1].set(title="pores (watershed labels)", xlabel="b (fractional)", ylabel="a (fractional)")
ax[1].legend(loc="upper right", fontsize=8)
fig.tight_layout()
fig.savefig("fig2_slice.png", dpi=100)
plt.show()

# %%
fig, ax = plt.subplots(figsize=(5.5, 4))
width = np.diff(edges)
ax.bar(edges[:-1], frac / width, width=width, align="edge", color="C2", alpha=0.8)
ax.axvline(vm.lcd / 2, color="k", ls="--", label=f"LCD/2 = {vm.lcd / 2:.2f} Å")
ax.axvline(vm.pld.max() / 2, color="C3", ls=":", label=f"max PLD/2 = {vm.pld.max() / 2:.2f} Å")
ax.set(xlabel="local thickness radius (Å)", ylabel="void volume fraction per Å",
       title="pore size distribution")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig("fig2_psd.png", dpi=100)
plt.show()

# %% [markdown]
# ## 2. Geodesic tortuosity
#
# **Global**, per cell axis: the shortest path through void grid points (26-connected, steps
# weighted by their length) from a point of the start plane to its own periodic image one
# cell length further, divided by that length; averaged over start points in the percolating
# void (`inf` where the void does not percolate).
#
# **Local**, per ion: from the ion's grid point, the mean of geodesic / straight-line distance
# to the void points of a shell of radius R (6 Å by default), and the fraction of that shell
# that is reachable through the void. Straight channels give τ ≈ 1 (plus the ~9 % bias of
# 26-connected paths); winding, crowded voids give larger τ and small reachable fractions.

# %%
glob = tortuosity.global_tortuosity(vm, seed=0)
print("global tortuosity (a, b, c):", np.round(glob.tau, 3), "| percolates:", glob.percolates)
print(f"void fraction in percolating components: {glob.connected_fraction:.3f}")

R = min(6.0, 0.45 * float(np.min(np.linalg.norm(box, axis=1))))  # the shell must fit the cell
frames = np.linspace(0, traj.n_frames - 1, 5).round().astype(int)
tau_all, reach_all = [], []
for f in frames:
    loc = tortuosity.local(vm, traj.positions("Na", frames=[f])[0], radius=R)
    tau_all.append(loc.tau)
    reach_all.append(loc.reachable)
tau_all, reach_all = np.concatenate(tau_all), np.concatenate(reach_all)
print(f"local tortuosity (R = {R:.1f} Å) of {tau_all.size} Na samples: "
      f"median {np.nanmedian(tau_all):.3f}, reachable shell {np.mean(reach_all):.2f}")

# %%
fig, ax = plt.subplots(1, 2, figsize=(10, 4))
ax[0].hist(tau_all[np.isfinite(tau_all)], bins=15, color="C4")
for i, name in enumerate("abc"):
    if np.isfinite(glob.tau[i]):
        ax[0].axvline(glob.tau[i], color=f"C{i}", ls="--", label=f"global τ_{name}")
ax[0].set(xlabel="local tortuosity τ", ylabel="Na samples",
          title=f"local tortuosity around Na (R = {R:.1f} Å)")
ax[0].legend(fontsize=8)
ax[1].scatter(reach_all, tau_all, s=15, color="C4")
ax[1].set(xlabel="reachable fraction of the shell", ylabel="local tortuosity τ",
          title="winding vs blocked")
fig.tight_layout()
fig.savefig("fig2_tortuosity.png", dpi=100)
plt.show()

# %% [markdown]
# ## 3. Per-ion descriptors
#
# `descriptors.compute` reads the Na positions once, cuts the frames into windows and runs
# every stage: MSD and hops (every frame), coordination and clusters, voids and local
# tortuosity (on a few frames per window; the carbon barely moves). Every parameter lives in
# `AnalysisConfig` (TOML-loadable; defaults in `hcanalysis/config.py`). Radii must stay below
# half the cell width, so for this 12 Å cell the local-density and shell radii are set
# explicitly. The Na–Na and Na–C cutoffs default to the first minimum of the matching RDF and
# are reported below: check them. A short run can give a broad g(r) without a clear minimum
# (then the cutoff lands far out and `n_NaC` counts a large shell); set
# `cfg.structure.cutoff_NaC = 3.2` (Å) or similar in that case.

# %%
cfg = AnalysisConfig()
cfg.windows.window = max(10, traj.n_frames // 3)  # frames per window
cfg.hops.half_window = 5
cfg.structure.density_radius = R
cfg.tortuosity.shell_radius = R
table = descriptors.compute(traj, cfg)
df = table.frame
print(f"{len(df)} rows (ion, window) x {len(df.columns)} columns")
print("stage timings (s):", table.metadata["stage_seconds"])
for stage, msg in table.metadata["reports"].items():
    print(f"  {stage}: {msg}")
units = table.units
cols = ["log_msd_lag", "alpha", "n_NaC", "n_NaNa", "pore_radius", "wall_distance",
        "local_tortuosity", "shell_reachable", "voronoi_volume"]
print(df[cols].describe().T[["mean", "min", "max"]].assign(unit=[units[c] for c in cols]))
table.write("descriptors.h5")  # HDF5, one dataset per column with its unit

# %%
fig, ax = plt.subplots(1, 3, figsize=(13, 4))
for a, col in zip(ax, ["wall_distance", "n_NaC", "local_tortuosity"], strict=True):
    a.scatter(df[col], df["log_msd_lag"], c=df["window"], cmap="viridis", s=18)
    a.set(xlabel=f"{col} ({units[col] or '-'})",
          ylabel=f"log10 MSD at {table.metadata['msd']['mobility_lag_ps']:.3g} ps (Å²)")
ax[0].set_title("mobility vs structure, per (ion, window); colour = window")
fig.tight_layout()
fig.savefig("fig2_descriptors.png", dpi=100)
plt.show()
