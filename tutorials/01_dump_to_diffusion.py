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
# # Tutorial 1 — from a LAMMPS dump to D and hop statistics
#
# What you will do:
#
# 1. write a LAMMPS text dump (`id type x y z ix iy iz`, wrapped coordinates with image flags)
#    from the small trajectory bundled with hcanalysis, as your MD code would;
# 2. read it back with `hcanalysis.load(..., type_map=...)` and unwrap the Na ions;
# 3. compute per-ion MSDs, windowed diffusion coefficients and the system D with a
#    block-averaging error (`hcanalysis.msd`);
# 4. find cage jumps with the p_hop indicator and tabulate hop statistics per (ion, window)
#    (`hcanalysis.hops`);
# 5. plot the MSD with its fit, p_hop traces and the hop-length histogram.
#
# Units throughout: Å, ps, Å²/ps (1 Å²/ps = 1e-4 cm²/s). Definitions: `docs/methods.md`.
# Runs in well under a minute on a laptop.

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import hcanalysis as hca
from hcanalysis import hops, msd

# %% [markdown]
# ## 1. The input trajectory
#
# hcanalysis ships a small Na-in-hard-carbon trajectory, `hcanalysis/data/sample_chgnet.h5`
# (H5MD, made with `mdrunner` and the CHGNet potential: C144 Na18 in a 12.4 Å cubic cell,
# Langevin NVT; see `hcanalysis/data/README.md`; the larger default sample, `sample.h5`, is a
# 1.5 ns LAMMPS run of 67 Na in 1,000 C that `hcanalysis demo` analyses). We treat it as the
# output of an MD run and write it out as the LAMMPS dump such a run would produce.

# %%
SAMPLE = Path(hca.__file__).parent / "data" / "sample_chgnet.h5"
source = hca.load(SAMPLE)
print(source)
print("frame interval:", source.dt_ps, "ps; cell:\n", source.box(0))


# %% [markdown]
# ## 2. Write a LAMMPS text dump with image flags
#
# ASE can read but not write LAMMPS dumps, so here is a small writer. Each atom's unwrapped
# position `r` is split into the image flags `n = floor(s)` (with `s = r h⁻¹` its fractional
# coordinates, `h` the cell with rows a, b, c) and the wrapped position `(s − n) h`, exactly
# what LAMMPS writes with `dump custom ... id type x y z ix iy iz`. Orthogonal and
# LAMMPS-style triclinic cells (a along x, b in the xy plane) are handled.


# %%
def write_lammps_dump(path, traj, type_map, md_dt_ps=0.001):
    """Write ``traj`` as a LAMMPS text dump ``id type x y z ix iy iz``.

    Parameters
    ----------
    path : output file.
    traj : hcanalysis.Trajectory (unwrapped coordinates are taken from it).
    type_map : dict LAMMPS type id -> element, e.g. ``{1: "C", 2: "Na"}``.
    md_dt_ps : the MD time step in ps; the TIMESTEP of a frame is ``time_ps / md_dt_ps``.
    """
    type_of = {el: t for t, el in type_map.items()}
    types = np.array([type_of[s] for s in traj.species])
    ids = np.arange(1, traj.n_atoms + 1)
    fmt = "%d %d %.6f %.6f %.6f %d %d %d"
    with open(path, "w") as fh:
        for frames, pos in traj.iter_chunks(unwrap=True, chunk_frames=256):
            for f, r in zip(frames, pos, strict=True):
                h = traj.box(f)
                if np.abs(h[np.triu_indices(3, 1)]).max() > 1e-9:
                    raise ValueError("LAMMPS cells have a along x and b in the xy plane")
                s = r @ np.linalg.inv(h)
                img = np.floor(s)
                x = (s - img) @ h
                lx, ly, lz = np.diag(h)
                xy, xz, yz = h[1, 0], h[2, 0], h[2, 1]
                fh.write(f"ITEM: TIMESTEP\n{round(traj.time_ps[f] / md_dt_ps)}\n")
                fh.write(f"ITEM: NUMBER OF ATOMS\n{traj.n_atoms}\n")
                if xy == xz == yz == 0:
                    fh.write(f"ITEM: BOX BOUNDS pp pp pp\n0 {lx}\n0 {ly}\n0 {lz}\n")
                else:  # LAMMPS writes the bounding box of the tilted cell
                    xlo, xhi = min(0, xy, xz, xy + xz), lx + max(0, xy, xz, xy + xz)
                    fh.write(f"ITEM: BOX BOUNDS xy xz yz pp pp pp\n{xlo} {xhi} {xy}\n"
                             f"{min(0, yz)} {ly + max(0, yz)} {xz}\n0 {lz} {yz}\n")
                fh.write("ITEM: ATOMS id type x y z ix iy iz\n")
                np.savetxt(fh, np.column_stack([ids, types, x, img]), fmt=fmt)


TYPE_MAP = {1: "C", 2: "Na"}
write_lammps_dump("run.dump", source, TYPE_MAP)
print(open("run.dump").read(400))

# %% [markdown]
# ## 3. Read the dump and unwrap
#
# `hcanalysis.load` indexes the dump once (cached next to it as `run.dump.hcaidx`) and reads
# frames lazily. LAMMPS dumps count MD steps, so `dt_ps` is the MD time step (0.001 ps, LAMMPS
# `metal` units). `type_map` turns type ids into elements. With image flags and a constant
# cell, `unwrap=True` is `r + n·h`.

# %%
traj = hca.load("run.dump", type_map=TYPE_MAP, dt_ps=0.001)
print(traj)
print("image flags:", traj.has_image_flags, "| counts:", traj.counts())
na = traj.positions("Na", unwrap=True)  # (n_frames, n_Na, 3) float64, Å
dt = traj.dt_ps
print("Na positions", na.shape, "frame interval", dt, "ps")

# the round trip is exact to the dump's 6 decimals
assert np.abs(na - source.positions("Na", unwrap=True)).max() < 1e-4

# %% [markdown]
# ## 4. MSD and diffusion
#
# * `msd.per_ion` — every ion's all-origin MSD over the whole trajectory (FFT, O(T log T));
# * `msd.windowed` — MSD, D and α per (ion, window): the windows every per-ion descriptor
#   shares (`hcanalysis.windows.window_bounds`);
# * `msd.diffusion` — the system D with a block-averaging standard error, per-component D,
#   the non-Gaussian parameter α2(τ) and the self van Hove function.
#
# D is the slope of MSD/6 against time over the diffusive range, found from the data: the
# lags where the local log–log slope of the ion-averaged MSD is 1 ± 0.1 over at least a
# factor 3 in lag, past the ballistic (slope 2) and cage (slope < 1) regimes
# (`hcanalysis.msd_fit.find_fit_range`; `fit_ps=(lo, hi)` gives it in ps instead). When no
# such range exists, D is NaN and `range.reason` says why: the mobility of each (ion, window)
# is then the MSD at a fixed lag (`msd_lag`) and α over a stated range.

# %%
n_frames = traj.n_frames
curves = msd.per_ion(na, max_lag=n_frames // 2)  # (n_Na, n_lags) Å²
window = n_frames // 4
win = msd.windowed(na, window=window, dt_ps=dt)
dif = msd.diffusion(na, dt_ps=dt, window=window)
print(dif.range.describe())
if dif.range.found:
    print(f"D = {dif.D:.4f} ± {dif.D_err:.4f} Å²/ps = {dif.D_cm2_s:.2e} cm²/s (block average); "
          f"GLS {dif.D_gls:.4f} Å²/ps, 95 % interval {np.round(dif.D_gls_ci95, 4)}")
    print("per-component D (x, y, z):", np.round(dif.D_dim, 4), "Å²/ps")
print(f"alpha = {dif.alpha:.2f}; {len(dif.windows)} blocks of {window} frames")
print(f"MSD per (ion, window) at {win.fits.mobility_lag * dt:.3g} ps, Å²:\n",
      np.round(win.msd_lag, 3))

# %%
lag_ps = dif.lag_ps
fig, ax = plt.subplots(1, 2, figsize=(10, 4))
ok = lag_ps > 0
for c in curves:
    ax[0].loglog(np.arange(1, c.size) * dt, c[1:], color="0.75", lw=0.7)
ax[0].loglog(lag_ps[ok], dif.msd[ok], "C0", lw=2, label="mean over ions and blocks")
ax[0].fill_between(lag_ps[ok], (dif.msd - dif.msd_err)[ok], (dif.msd + dif.msd_err)[ok],
                   color="C0", alpha=0.3)
if dif.range.found:
    fit = msd.fit_msd(dif.msd, dt, dif.fit)
    t_fit = lag_ps[dif.fit[0]: dif.fit[1] + 1]
    ax[0].loglog(t_fit, fit.intercept + 6 * fit.D * t_fit, "k--",
                 label=f"fit: D = {dif.D:.3g} Å²/ps, α = {dif.alpha:.2f}")
else:
    ax[0].plot([], [], " ", label="no diffusive range: no D")
ax[0].set(xlabel="lag τ (ps)", ylabel="MSD (Å²)", title="MSD (grey: single ions)")
ax[0].legend(fontsize=8)
ax[1].plot(dif.alpha2_lags * dt, dif.alpha2, "o-")
ax[1].set(xscale="log", xlabel="lag τ (ps)", ylabel="α2(τ)", title="non-Gaussian parameter")
fig.tight_layout()
fig.savefig("fig1_msd.png", dpi=100)
plt.show()

# %% [markdown]
# ## 5. Hops
#
# `p_hop(t)` (Candelier, Dauchot & Biroli 2010) compares the positions in the `w` frames before
# `t` with those after it: it stays at the ion's vibrational mean-square amplitude while the
# ion rattles in its cage and peaks (≈ hop length²) when it jumps. `hops.detect` turns runs of
# p_hop above a threshold into events. The half-window is a time: by default the data's cage
# time (`hops.cage_scale`: where the log-slope of the ion-averaged MSD bottoms out, after the
# ballistic regime and before hops take over); `half_window_ps=` or `half_window=` (frames)
# set it. The default "auto" threshold is one value in Å² for every ion: 9 × the population's
# cage size (the median p_hop pooled over all ions), so hop rates of different ions compare.

# %%
scale = hops.cage_scale(na, dt)
print(scale.source)
events = hops.detect(na, half_window_ps=scale.half_window_ps, time_ps=traj.time_ps)
w = events.attrs["half_window"]
ph = hops.p_hop(na, half_window=w)  # (n_Na, n_frames) Å², NaN in the first/last w frames
print(f"half window {w} frames ({w * dt:.3g} ps): {len(events)} hop events; threshold "
      f"{events.attrs['thresholds'][0]:.3g} Å² (cage size {events.attrs['u2']:.3g} Å²)")
print(events[["ion", "t_hop", "length", "p_hop_peak", "threshold"]].head(10))

table = hops.per_ion(na, events, window=window, p_hop_values=ph)
print(table[["ion", "window", "n_hops", "hop_rate", "mean_length", "residence_mle",
             "msd_plateau", "trapped"]].head(12))
wt = hops.waiting_times(events)
print(f"hop rate {wt.rate:.3g} per ion per ps; censoring-aware mean residence "
      f"{wt.residence_mle:.3g} ps")

# %%
counts = np.bincount(events["ion"], minlength=na.shape[1])
show = np.argsort(-counts, kind="stable")[:3]
t = traj.time_ps - traj.time_ps[0]
fig, ax = plt.subplots(1, 2, figsize=(10, 4))
for k, i in enumerate(show):
    ax[0].plot(t, ph[i], color=f"C{k}", lw=0.8, label=f"Na {i}: {counts[i]} hops")
    ax[0].axhline(events.attrs["thresholds"][i], color=f"C{k}", ls=":", lw=0.8)
    hit = events[events["ion"] == i]
    ax[0].plot(hit["t_hop"] - traj.time_ps[0], hit["p_hop_peak"], "v", color=f"C{k}")
ax[0].set(yscale="log", xlabel="time (ps)", ylabel="p_hop (Å²)",
          title="p_hop (dotted: the threshold)")
ax[0].legend(fontsize=8)
if len(events):
    ax[1].hist(events["length"], bins=20, color="C3")
else:
    ax[1].text(0.5, 0.5, "no hop events\nin this trajectory", ha="center",
               transform=ax[1].transAxes)
ax[1].set(xlabel="hop length (Å)", ylabel="events", title="hop lengths")
fig.tight_layout()
fig.savefig("fig1_hops.png", dpi=100)
plt.show()

# %% [markdown]
# ## 6. Per-ion mobility
#
# The MSD at a fixed lag and the hop rate describe each (ion, window): the rows of the
# descriptor table that tutorial 3 clusters into diffusion modes.

# %%
rate = table.sort_values(["ion", "window"])["hop_rate"].to_numpy().reshape(win.D.shape)
fig, ax = plt.subplots(figsize=(5, 4))
ax.scatter(np.log10(win.msd_lag).ravel(), rate.ravel(),
           c=np.repeat(np.arange(win.D.shape[0]), win.D.shape[1]), cmap="viridis", s=18)
ax.set(xlabel=f"log10 MSD at {win.fits.mobility_lag * dt:.3g} ps per (ion, window) (Å²)",
       ylabel="hop rate (1/ps)",
       title="mobility per (ion, window), colour = ion")
fig.tight_layout()
fig.savefig("fig1_mobility.png", dpi=100)
plt.show()
