"""``hcanalysis msd``: MSD curves, per-(ion, window) and system diffusion, α2, van Hove, plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from hcanalysis.cli import options as opt
from hcanalysis.cli.app import app, check_output, console, results, sha256
from hcanalysis.cli.layout import write_family_output
from hcanalysis.config import MSDConfig
from hcanalysis.errors import HCAnalysisError

_M = MSDConfig()


def legacy_views(fam, meta: dict) -> tuple[dict, dict]:
    """The views and attributes of the command's layout (``curves/``, ``per_ion_window/``,
    ``fit_range/``, ``system/``, ``alpha2/``, ``van_hove/``; docs/msd.md) from the
    :class:`hcanalysis.families.MSD` result written at ``/msd`` (see
    :mod:`hcanalysis.cli.layout`)."""
    from hcanalysis.msd import A2_PS_TO_CM2_S

    a, v = "/msd/arrays/", "/msd/values/"
    views: dict = {
        "curves/lags": a + "system_lags", "curves/lag_ps": a + "system_lag_ps",
        "curves/windows": "/msd/bounds", "curves/msd": a + "msd", "curves/msd_lags": a + "lags",
        "curves/msd_mean": a + "system_msd", "curves/msd_err": a + "system_msd_err",
        "curves/msd_dim": a + "system_msd_dim",
        "per_ion_window/ion_atom_index": "/msd/ion_atoms",
        **{f"per_ion_window/{c}": v + c for c in ("D", "alpha", "r2", "intercept", "msd_lag")},
        "per_ion_window/D_cm2_s": np.asarray(fam.values["D"]) * A2_PS_TO_CM2_S,
        "fit_range/grid_lag_ps": a + "fit_grid_lag_ps",
        "fit_range/local_slope": a + "fit_local_slope",
        **{f"system/{c}": a + f"system_{c}" for c in ("D_blocks", "D_dim", "D_dim_err")},
        "alpha2/lags": a + "alpha2_lags", "alpha2/lag_ps": a + "alpha2_lag_ps",
        "alpha2/alpha2": a + "alpha2",
        **{f"van_hove/{c}": a + f"vanhove_{c}" for c in ("lags", "r", "p", "gs", "overflow")},
    }
    if "system_gls_fit_lags" in fam.arrays:
        views["system/gls_fit_lags"] = a + "system_gls_fit_lags"
    summary = fam.meta["msd"]
    attrs = {
        "": meta,
        "curves": {"description": (
            "all-origin MSD, Å²; lags in frames and ps; msd[ion, window, lag]; msd_mean / "
            "msd_err: ion- and window-averaged curve and its block standard error")},
        "curves/msd_dim": {"dims": fam.dims},
        "per_ion_window": {"description": (
            "one value per (ion, window): D (Å²/ps and cm²/s) = slope of MSD/(2d) over the fit "
            "range (NaN without a diffusive range, see fit_range); alpha = log-log slope over "
            "alpha_range_ps; r2 = R² of the line; intercept Å²; msd_lag = MSD (Å²) at "
            "mobility_lag_ps"),
            **{k: summary[k] for k in ("alpha_range_ps", "mobility_lag_ps", "windows_diffusive")
               if k in summary}},
        "fit_range": {"description": (
            "fit range of D: found from the ion- and window-averaged MSD (local log-log slope "
            "within 1 ± slope_tol over at least a factor min_span in lag), or given"),
            **fam.meta["fit_range"]},
        "system": fam.meta["system"],
        "alpha2": {"definition": "d<Δr⁴>/((d+2)<Δr²>²) - 1, all ions, all origins"},
        "van_hove": {"description":
                     "p: density of |Δr| (1/Å); gs = G_s(r, τ) (Å⁻³); r: bin centres"},
    }
    return views, attrs


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
    species: str = opt.ions_option(),
    framework: str = opt.framework_option(),
    framework_file: Path | None = opt.framework_file_option(),
    start: int = opt.start_option(),
    stop: int = opt.stop_option(),
    step: int = opt.step_option(),
    frames: str = opt.frames_option(),
    window: int = opt.window_option(),
    stride: int = opt.stride_option(),
    max_lag: int = typer.Option(None, "--max-lag", help="Largest lag, frames (default "
                                f"{_M.max_lag_fraction:g} x the window)."),
    fit_lo: int = typer.Option(None, "--fit-lo", help="First fitted lag, frames "
                               "(default: the diffusive range found from the data)."),
    fit_hi: int = typer.Option(None, "--fit-hi", help="Last fitted lag, frames (default max lag "
                               "when --fit-lo is given)."),
    fit_ps: str = typer.Option(None, "--fit-ps", help="Fit range in ps, 'LO,HI' (default: the "
                               "diffusive range found from the data)."),
    slope_tol: float = typer.Option(_M.slope_tol, "--slope-tol", help="Automatic range: "
                                    "tolerance on the local log-log slope (|α(τ) - 1| <= tol)."),
    min_span: float = typer.Option(_M.min_span, "--min-span", help="Automatic range: smallest "
                                   "ratio of its last to first lag."),
    mobility_lag_ps: float = typer.Option(_M.mobility_lag_ps, "--mobility-lag-ps",
                                          help="Lag of msd_lag, ps (default the first lag of "
                                               "the diffusive range, else the largest)."),
    dims: str = typer.Option("xyz", "--dims", help="Components: xyz, xy, z, ..."),
    remove_drift: str = opt.drift_option(),
    n_alpha2: int = typer.Option(20, "--alpha2-lags", help="Number of log-spaced α2 lags."),
    backend: str = opt.backend_option(),
    max_memory: str = opt.max_memory_option(),
    max_memory_mb: float = opt.max_memory_mb_option(),
    format: str = opt.format_option(),
    topology: Path = opt.topology_option(),
    type_map: str = opt.type_map_option(),
    dt_ps: float = opt.dt_ps_option(),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Write the PNG plot."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing outputs."),
) -> None:
    """Per-ion windowed MSD and D (the estimator of `analyze`), system D (block average, and
    GLS with a 95 % interval) over the diffusive range found from the data (printed in ps),
    per-direction D, MSD at a fixed lag, non-Gaussian parameter α2(τ), self van Hove
    G_s(r, τ), and a log-log MSD plot."""
    from hcanalysis.families import MSD
    from hcanalysis.msd import WindowedMSD

    png = output.with_suffix(".png")
    inputs = [traj_path, topology]
    for p in [output] + ([png] if plots else []):
        check_output(p, inputs, force)
    traj = opt.load_trajectory(traj_path, format, topology, type_map, dt_ps, framework_file)
    fsl = opt.resolve_frames(start, stop, step, frames)
    if fit_lo is not None or fit_hi is not None:
        if fit_ps is not None:
            raise HCAnalysisError("give --fit-ps or --fit-lo/--fit-hi, not both")
    fps = None
    if fit_ps is not None:
        try:
            fps = tuple(float(v) for v in fit_ps.split(","))
        except ValueError:
            fps = ()
        if len(fps) != 2:
            raise HCAnalysisError(f"--fit-ps {fit_ps!r}: expected two numbers LO,HI in ps")
    drift = opt.resolve_drift(remove_drift, traj)
    fam = MSD(ions=opt.species_list(species), framework=opt.species_list(framework),
              max_lag=max_lag, fit_ps=fps, slope_tol=slope_tol, min_span=min_span,
              mobility_lag_ps=mobility_lag_ps, remove_drift=drift, dims=dims, system=True,
              n_alpha2_lags=n_alpha2)
    try:
        plan = fam.plan(traj, frames=fsl, windows=(window, stride), backend=backend,
                        max_memory=opt.resolve_memory(max_memory, max_memory_mb))
        if fit_lo is not None or fit_hi is not None:
            ml = fam.lag_count(plan.window)
            fam.fit = (fit_lo if fit_lo is not None else 1, fit_hi if fit_hi is not None else ml)
        t = plan.time_ps
        if t.size > 2 and not np.allclose(np.diff(t), plan.dt_ps, rtol=1e-3, atol=1e-9):
            console.print("warning: frames are not evenly spaced in time; lags use the median "
                          f"spacing {plan.dt_ps:g} ps", style="yellow")
        with console.status(f"MSD of {plan.n_ions} {species} ions per window, system D, α2, "
                            "van Hove"):
            fam.compute(traj, plan=plan)
    except ValueError as exc:
        raise HCAnalysisError(f"{traj_path}: {exc}") from exc
    sysd = fam.diffusion
    v = fam.values
    res = WindowedMSD(windows=fam.bounds, lags=np.asarray(fam.arrays["lags"]), dt_ps=fam.dt_ps,
                      msd=fam.arrays["msd"], fit=fam.fits.range.frames, D=v["D"],
                      intercept=v["intercept"], alpha=v["alpha"], r2=v["r2"], dims=dims,
                      fits=fam.fits)
    ion_atoms = fam.ion_atoms
    dt = fam.dt_ps
    meta = {
        "input": str(traj_path),
        "input_sha256": sha256(traj_path),
        "species": species,
        "n_ions": len(ion_atoms),
        "n_frames": int(len(fam.frames)),
        "dt_ps": dt,
        "window_frames": plan.window,
        "stride_frames": plan.stride,
        "max_lag_frames": int(fam.lag_count(plan.window)),
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
    write_family_output(output, fam, *legacy_views(fam, meta))
    if plots:
        plot_msd(png, res, sysd, species)
    head = (f"{len(ion_atoms)} {species} ions, {len(fam.frames)} frames, {len(res.windows)} "
            f"windows of {meta['window_frames']} frames; {res.range.describe()}")
    fits = res.fits
    mob = (f"MSD at {fits.mobility_lag * dt:.4g} ps: median {np.nanmedian(res.msd_lag):.3g} Å² "
           f"over (ion, window); α over {fits.alpha_range[0] * dt:.4g}-"
           f"{fits.alpha_range[1] * dt:.4g} ps = {sysd.alpha:.3f}")
    if not res.range.found:
        results.print(f"{head}\nD: not supported by this data (no diffusive range). {mob}",
                      markup=False)
    else:
        dd = ", ".join(f"{c} {v:.3g}" for c, v in zip(dims, sysd.D_dim, strict=True))
        lo95, hi95 = sysd.D_gls_ci95
        gls_txt = (f"D (GLS, whole trajectory) = {sysd.D_gls:.4g} Å²/ps, 95 % interval "
                   f"[{lo95:.4g}, {hi95:.4g}] (error from the {sysd.gls.error_source}); "
                   if sysd.gls is not None else "")
        results.print(
            f"{head}\n{gls_txt}"
            f"D (block average) = {sysd.D:.4g} ± {sysd.D_err:.2g} Å²/ps = {sysd.D_cm2_s:.4g} ± "
            f"{sysd.D_err_cm2_s:.2g} cm²/s (n_eff {sysd.n_eff:.3g}); "
            f"R² = {sysd.r2:.4f}; per direction (Å²/ps): {dd}; "
            f"median per-ion D {np.nanmedian(res.D):.4g} Å²/ps "
            f"({int(fits.diffusive.sum())}/{len(res.windows)} windows diffusive); {mob}",
            markup=False,
        )
    console.print(f"wrote {output}" + (f", {png.name}" if plots else ""))
