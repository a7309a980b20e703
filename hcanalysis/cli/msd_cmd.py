"""``hcanalysis msd``: MSD curves, per-(ion, window) and system diffusion, α2, van Hove, plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from hcanalysis.atomic import atomic_output
from hcanalysis.cli.app import app, check_output, console, sha256
from hcanalysis.errors import HCAnalysisError


def _masses(species: np.ndarray) -> np.ndarray:
    from ase.data import atomic_masses, atomic_numbers

    return np.array([atomic_masses[atomic_numbers[s]] if s in atomic_numbers else 1.0
                     for s in species])


def drift_of(traj, which: str, species: str, ions: np.ndarray | None = None) -> np.ndarray | None:
    """Centre-of-mass drift (n_frames, 3) named by ``--remove-drift``: "none", "species" (the
    analysed ions; ``ions`` are their unwrapped positions), "all" (every atom, mass-weighted,
    streamed in chunks of frames) or element names ("C", "C,O": those atoms, mass-weighted)."""
    from hcanalysis.msd import com_drift

    key = which.strip()
    if key.lower() == "none":
        return None
    if key.lower() in ("species", "self"):
        return com_drift(ions) if ions is not None else com_drift(traj.positions(species, True))
    select = None if key.lower() == "all" else [s.strip() for s in key.split(",") if s.strip()]
    idx = traj.indices(select)
    w = _masses(traj.species[idx])
    w = w / w.sum()
    com = np.empty((traj.n_frames, 3))
    for frames, pos in traj.iter_chunks(select=select, unwrap=True):
        com[frames] = np.einsum("fai,a->fi", pos, w)
    return com - com[0]


def _write_h5(out: Path, res, sysd, ion_atoms: np.ndarray, meta: dict) -> None:
    import h5py

    from hcanalysis import __version__

    comp = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
    with atomic_output(out) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["hcanalysis_version"] = __version__
        for k, v in meta.items():
            f.attrs[k] = "none" if v is None else v
        g = f.create_group("curves")
        g.attrs["description"] = (
            "all-origin MSD, Å²; lags in frames and ps; msd[ion, window, lag]; msd_mean / "
            "msd_err: ion- and window-averaged curve and its block standard error"
        )
        g.create_dataset("lags", data=sysd.lags)
        g.create_dataset("lag_ps", data=sysd.lag_ps)
        g.create_dataset("windows", data=res.windows)
        g.create_dataset("msd", data=res.msd, chunks=(1,) + res.msd.shape[1:], **comp)
        g.create_dataset("msd_mean", data=sysd.msd)
        g.create_dataset("msd_err", data=sysd.msd_err)
        g.create_dataset("msd_dim", data=sysd.msd_dim).attrs["dims"] = sysd.dims
        g = f.create_group("per_ion_window")
        g.attrs["description"] = (
            "one value per (ion, window): D (Å²/ps and cm²/s) = slope of MSD/(2d) over the fit "
            "range (NaN without a diffusive range, see fit_range); alpha = log-log slope over "
            "alpha_range_ps; r2 = R² of the line; intercept Å²; msd_lag = MSD (Å²) at "
            "mobility_lag_ps"
        )
        g.create_dataset("ion_atom_index", data=ion_atoms)
        for name in ("D", "D_cm2_s", "alpha", "r2", "intercept", "msd_lag"):
            g.create_dataset(name, data=getattr(res, name))
        for k, v in res.fits.summary(res.dt_ps).items():
            if k in ("alpha_range_ps", "mobility_lag_ps", "windows_diffusive"):
                g.attrs[k] = v
        g = f.create_group("fit_range")
        g.attrs["description"] = (
            "fit range of D: found from the ion- and window-averaged MSD (local log-log slope "
            "within 1 ± slope_tol over at least a factor min_span in lag), or given"
        )
        for k, v in sysd.range.as_dict().items():
            g.attrs[k] = v
        g.create_dataset("grid_lag_ps", data=sysd.range.grid_lags * sysd.dt_ps)
        g.create_dataset("local_slope", data=sysd.range.local_slope)
        g = f.create_group("system")
        g.attrs["method"] = sysd.method
        for name in ("D", "D_err", "D_cm2_s", "D_err_cm2_s", "alpha", "r2", "n_eff", "D_gls",
                     "D_gls_err"):
            g.attrs[name] = float(getattr(sysd, name))
        g.attrs["D_gls_ci95"] = sysd.D_gls_ci95
        if sysd.gls is not None:
            g.attrs["gls_method"] = (
                "generalised least squares over the fit range, whole trajectory, MSD covariance "
                "of a random walk with noise (Bullerjahn et al. 2020); error from the model "
                "unless the per-ion spread rejects it (chi-square, 5 %)"
            )
            g.attrs["gls_error_source"] = sysd.gls.error_source
            g.attrs["gls_overdispersion_p"] = sysd.gls.overdispersion_p
            g.create_dataset("gls_fit_lags", data=sysd.gls.fit_lags)
        for name in ("D_blocks", "D_dim", "D_dim_err"):
            g.create_dataset(name, data=getattr(sysd, name))
        g = f.create_group("alpha2")
        g.attrs["definition"] = "d<Δr⁴>/((d+2)<Δr²>²) - 1, all ions, all origins"
        g.create_dataset("lags", data=sysd.alpha2_lags)
        g.create_dataset("lag_ps", data=sysd.alpha2_lags * sysd.dt_ps)
        g.create_dataset("alpha2", data=sysd.alpha2)
        g = f.create_group("van_hove")
        g.attrs["description"] = "p: density of |Δr| (1/Å); gs = G_s(r, τ) (Å⁻³); r: bin centres"
        g.create_dataset("lags", data=sysd.vanhove_lags)
        g.create_dataset("r", data=sysd.vanhove_r)
        g.create_dataset("p", data=sysd.vanhove_p)
        g.create_dataset("gs", data=sysd.vanhove_gs)
        g.create_dataset("overflow", data=sysd.vanhove_overflow)


def plot_msd(path: Path, res, sysd, species: str) -> None:
    """Log-log MSD(τ) with the fit range, the fitted line and slope-1 / slope-2 guides, and
    α2(τ)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = sysd.lag_ps[1:]
    m = sysd.msd[1:]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.5))
    n_ions = res.msd.shape[0]
    for i in np.linspace(0, n_ions - 1, min(n_ions, 20)).astype(int):
        a.plot(t, res.msd[i].mean(axis=0)[1:], color="0.75", lw=0.5, zorder=1)
    a.plot(t, m, color="C0", lw=2, label=f"{species} mean ({n_ions} ions)", zorder=3)
    err = sysd.msd_err[1:]
    if np.all(np.isfinite(err)):
        a.fill_between(t, np.maximum(m - err, m * 1e-3), m + err, color="C0", alpha=0.25)
    lo, hi = sysd.fit
    if sysd.range.found:
        a.axvspan(lo * sysd.dt_ps, hi * sysd.dt_ps, color="C2", alpha=0.12, label="fit range")
        from hcanalysis.msd import fit_msd

        line = fit_msd(sysd.msd, sysd.dt_ps, (lo, hi), len(sysd.dims))
        tf = np.linspace(lo, hi, 20) * sysd.dt_ps
        err_txt = f" ± {sysd.D_err:.2g}" if np.isfinite(sysd.D_err) else ""
        a.plot(tf, 2 * len(sysd.dims) * sysd.D * tf + float(line.intercept), "C3--", lw=1.5,
               zorder=4, label=f"fit: D = {sysd.D:.3g}{err_txt} Å²/ps, α = {sysd.alpha:.2f}")
    else:
        a.plot([], [], " ", label="no diffusive range: no D")
    pos = m > 0
    if pos.any():
        tp, mp = t[pos], m[pos]
        a.plot(tp, mp[0] * (tp / tp[0]) ** 2, "k-.", lw=0.8, label="slope 2 (ballistic)")
        a.plot(tp, 0.3 * mp[-1] * (tp / tp[-1]), "k:", lw=0.8, label="slope 1 (diffusive)")
        a.set_ylim(mp.min() * 0.1, mp.max() * 3)
    a.set_xscale("log")
    a.set_yscale("log")
    a.set_xlabel("τ (ps)")
    a.set_ylabel("MSD (Å²)")
    a.legend(fontsize=7, loc="upper left")
    a.set_title(f"MSD of {species}, D = {sysd.D_cm2_s:.3g} cm²/s" if sysd.range.found
                else f"MSD of {species}: no diffusive range")
    b.plot(sysd.alpha2_lags * sysd.dt_ps, sysd.alpha2, "o-", ms=3)
    b.axhline(0, color="k", lw=0.5)
    b.set_xscale("log")
    b.set_xlabel("τ (ps)")
    b.set_ylabel("α2(τ)")
    b.set_title("non-Gaussian parameter")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@app.command("msd")
def msd_cmd(
    traj_path: Path = typer.Argument(..., help="Trajectory file.", metavar="TRAJ"),
    output: Path = typer.Option(..., "--output", "-o", help="Output HDF5 file (.h5)."),
    species: str = typer.Option("Na", "--species", help="Element of the mobile ions."),
    window: int = typer.Option(None, "--window", help="Window (block) length, frames "
                               "(default a fifth of the trajectory)."),
    stride: int = typer.Option(None, "--stride", help="Window stride, frames (default window)."),
    max_lag: int = typer.Option(None, "--max-lag", help="Largest lag, frames (default window/2)."),
    fit_lo: int = typer.Option(None, "--fit-lo", help="First fitted lag, frames "
                               "(default: the diffusive range found from the data)."),
    fit_hi: int = typer.Option(None, "--fit-hi", help="Last fitted lag, frames (default max lag "
                               "when --fit-lo is given)."),
    fit_ps: str = typer.Option(None, "--fit-ps", help="Fit range in ps, 'LO,HI' (default: the "
                               "diffusive range found from the data)."),
    slope_tol: float = typer.Option(0.1, "--slope-tol", help="Automatic range: tolerance on "
                                    "the local log-log slope (|α(τ) - 1| <= tol)."),
    min_span: float = typer.Option(3.0, "--min-span", help="Automatic range: smallest ratio "
                                   "of its last to first lag."),
    dims: str = typer.Option("xyz", "--dims", help="Components: xyz, xy, z, ..."),
    remove_drift: str = typer.Option(
        "none", "--remove-drift",
        help="Centre-of-mass drift removed: none, species (the ions), all, or elements (C).",
    ),
    n_alpha2: int = typer.Option(20, "--alpha2-lags", help="Number of log-spaced α2 lags."),
    backend: str = typer.Option("auto", "--backend", help="auto, cpu or cuda."),
    max_memory_mb: float = typer.Option(None, "--max-memory-mb",
                                        help="Working-memory budget, MB (default 1/4 free)."),
    format: str = typer.Option(None, "--format", "-f", help="Reader (default: from the name)."),
    topology: Path = typer.Option(None, "--topology", "-t", help="Topology (XTC/DCD need one)."),
    type_map: str = typer.Option(None, "--type-map", help="LAMMPS types, e.g. 1:C,2:Na."),
    dt_ps: float = typer.Option(None, "--dt-ps", help="MD step (dumps) or frame spacing, ps."),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Write the PNG plot."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing outputs."),
) -> None:
    """Per-ion windowed MSD and D, system D (block average, and GLS with a 95 % interval) over
    the diffusive range found from the data (printed in ps), per-direction D, MSD at a fixed
    lag, non-Gaussian parameter α2(τ), self van Hove G_s(r, τ), and a log-log MSD plot."""
    from hcanalysis import msd
    from hcanalysis.cli.io_cmds import parse_type_map
    from hcanalysis.io import load

    png = output.with_suffix(".png")
    inputs = [traj_path, topology]
    for p in [output] + ([png] if plots else []):
        check_output(p, inputs, force)
    traj = load(traj_path, format=format, topology=topology, dt_ps=dt_ps,
                type_map=parse_type_map(type_map))
    ion_atoms = traj.atom_indices[traj.indices(species)]
    if traj.n_frames < 4:
        raise HCAnalysisError(f"{traj_path}: {traj.n_frames} frames; an MSD needs at least 4")
    with console.status(f"reading {len(ion_atoms)} {species} positions (unwrapped)"):
        x = traj.positions(species, unwrap=True)
    dt = traj.dt_ps or 1.0
    t = traj.time_ps
    if t.size > 2 and not np.allclose(np.diff(t), dt, rtol=1e-3, atol=1e-9):
        console.print("warning: frames are not evenly spaced in time; lags use the median "
                      f"spacing {dt:g} ps", style="yellow")
    with console.status(f"centre-of-mass drift: {remove_drift}"):
        drift = drift_of(traj, remove_drift, species, x)
    if window is None:
        window = traj.n_frames // 5 if traj.n_frames >= 20 else traj.n_frames
    fit = None
    if fit_lo is not None or fit_hi is not None:
        if fit_ps is not None:
            raise HCAnalysisError("give --fit-ps or --fit-lo/--fit-hi, not both")
        ml = max_lag if max_lag is not None else max(1, min(window, traj.n_frames) // 2)
        fit = (fit_lo if fit_lo is not None else 1, fit_hi if fit_hi is not None else ml)
    fps = None
    if fit_ps is not None:
        try:
            fps = tuple(float(v) for v in fit_ps.split(","))
        except ValueError:
            fps = ()
        if len(fps) != 2:
            raise HCAnalysisError(f"--fit-ps {fit_ps!r}: expected two numbers LO,HI in ps")
    budget = None if max_memory_mb is None else int(max_memory_mb * 2**20)
    try:
        with console.status("MSD per ion and window"):
            res = msd.windowed(x, window, stride, max_lag, fit=fit, dt_ps=dt, fit_ps=fps,
                               slope_tol=slope_tol, min_span=min_span, dims=dims,
                               backend=backend, max_memory=budget, drift=drift)
        # the same curve gives the same range: the system fit uses the range found above
        sys_fit = res.fit if res.range.found else None
        with console.status("system D (block average and GLS), α2, van Hove"):
            sysd = msd.diffusion(x, dt, window=window, stride=stride, max_lag=max_lag,
                                 fit=sys_fit, slope_tol=slope_tol, min_span=min_span,
                                 dims=dims, drift=drift, n_alpha2_lags=n_alpha2,
                                 backend=backend, max_memory=budget)
    except ValueError as exc:
        raise HCAnalysisError(f"{traj_path}: {exc}") from exc
    if res.range.found and res.range.source != "frames":
        sysd.range = res.range  # report how the range was chosen (auto / ps), not "frames"
    meta = {
        "input": str(traj_path),
        "input_sha256": sha256(traj_path),
        "species": species,
        "n_ions": len(ion_atoms),
        "n_frames": traj.n_frames,
        "dt_ps": dt,
        "window_frames": int(res.windows[0, 1] - res.windows[0, 0]),
        "stride_frames": int(res.windows[1, 0] - res.windows[0, 0]) if len(res.windows) > 1
        else int(res.windows[0, 1]),
        "max_lag_frames": int(res.lags[-1]),
        "fit_lo_frames": int(res.fit[0]),
        "fit_hi_frames": int(res.fit[1]),
        "fit_lo_ps": res.range.lo_ps,
        "fit_hi_ps": res.range.hi_ps,
        "fit_source": res.range.source,
        "fit_reason": res.range.reason,
        "dims": dims,
        "remove_drift": remove_drift,
        "D_A2_per_ps": sysd.D,
        "D_err_A2_per_ps": sysd.D_err,
        "D_cm2_per_s": sysd.D_cm2_s,
        "D_err_cm2_per_s": sysd.D_err_cm2_s,
    }
    _write_h5(output, res, sysd, ion_atoms, meta)
    if plots:
        plot_msd(png, res, sysd, species)
    head = (f"{len(ion_atoms)} {species} ions, {traj.n_frames} frames, {len(res.windows)} "
            f"windows of {meta['window_frames']} frames; {res.range.describe()}")
    fits = res.fits
    mob = (f"MSD at {fits.mobility_lag * dt:.4g} ps: median {np.nanmedian(res.msd_lag):.3g} Å² "
           f"over (ion, window); α over {fits.alpha_range[0] * dt:.4g}-"
           f"{fits.alpha_range[1] * dt:.4g} ps = {sysd.alpha:.3f}")
    if not res.range.found:
        console.print(f"{head}\nD: not supported by this data (no diffusive range). {mob}",
                      markup=False)
    else:
        dd = ", ".join(f"{c} {v:.3g}" for c, v in zip(dims, sysd.D_dim, strict=True))
        lo95, hi95 = sysd.D_gls_ci95
        gls_txt = (f"D (GLS, whole trajectory) = {sysd.D_gls:.4g} Å²/ps, 95 % interval "
                   f"[{lo95:.4g}, {hi95:.4g}] (error from the {sysd.gls.error_source}); "
                   if sysd.gls is not None else "")
        console.print(
            f"{head}\n{gls_txt}"
            f"D (block average) = {sysd.D:.4g} ± {sysd.D_err:.2g} Å²/ps = {sysd.D_cm2_s:.4g} ± "
            f"{sysd.D_err_cm2_s:.2g} cm²/s (n_eff {sysd.n_eff:.3g}); "
            f"R² = {sysd.r2:.4f}; per direction (Å²/ps): {dd}; "
            f"median per-ion D {np.nanmedian(res.D):.4g} Å²/ps "
            f"({int(fits.diffusive.sum())}/{len(res.windows)} windows diffusive); {mob}",
            markup=False,
        )
    console.print(f"wrote {output}" + (f", {png.name}" if plots else ""))
