"""``hcanalysis hops``: hop events, per-ion hop statistics, plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from hcanalysis.cli import options as opt
from hcanalysis.cli.app import app, check_output, console, sha256
from hcanalysis.cli.layout import write_family_output
from hcanalysis.errors import HCAnalysisError


def mobility_order(positions: np.ndarray) -> np.ndarray:
    """Ions from least to most mobile: origin-averaged squared displacement at a lag of a
    quarter of the trajectory."""
    lag = max(positions.shape[0] // 4, 1)
    d = positions[lag:] - positions[:-lag]
    return np.argsort(np.einsum("tij,tij->i", d, d) / max(d.shape[0], 1), kind="stable")


def legacy_views(fam, wt, corr, meta: dict) -> tuple[dict, dict]:
    """The views and attributes of the command's layout (``events/*``, ``per_ion/*``,
    ``thresholds``, ``ion_atom_index``, ``waiting_times/*``, ``correlated/*``; docs/hops.md)
    from the :class:`hcanalysis.families.Hops` result (``keep_events=True``) written at
    ``/hops`` (see :mod:`hcanalysis.cli.layout`)."""
    a = "/hops/arrays/"
    views: dict = {f"events/{c}": a + f"events_{c}" for c in fam.events.columns}
    views.update({f"per_ion/{c}": a + f"per_ion_{c}" for c in fam.stats.columns})
    views.update({"thresholds": a + "thresholds", "ion_atom_index": "/hops/ion_atoms"})
    views.update({f"waiting_times/{n}": getattr(wt, n)
                  for n in ("complete", "first_censored", "last_censored", "no_hop")})
    views.update({f"correlated/{n}": getattr(corr, n)
                  for n in ("correlated", "partner", "distance")})
    attrs = {
        "": meta,
        "events": {"description":
                   "one row per hop event (see docs/hops.md); times ps, lengths Å"},
        "per_ion": {"description": "one row per (ion, window); rates 1/ps, times ps, lengths Å"},
        "thresholds": {"units": "Å^2 (p_hop)" if meta["method"] == "p_hop"
                       else "Å (displacement)"},
        "waiting_times": {"units": "ps", "residence_mle_ps": wt.residence_mle,
                          "rate_per_ion_per_ps": wt.rate, "n_hops": wt.n_hops},
        "correlated": {"fraction": corr.fraction, "cutoff_A": meta["cutoff_A"],
                       "time_tolerance_ps": meta["time_tolerance_ps"]},
    }
    return views, attrs


def _plot_phop(path: Path, time_ps, phop, events, order, thresholds, method: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(order)
    k = min(5, (n + 1) // 2) if n > 1 else 1
    groups = [("most mobile", order[::-1][:k]), ("least mobile", order[:k] if n > 1 else [])]
    fig, axes = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    ylabel = "p_hop (Å²)" if method == "p_hop" else "|r(t+Δ) − r(t)| (Å)"
    for ax, (title, ions) in zip(axes, groups, strict=True):
        for i in ions:
            (line,) = ax.plot(time_ps, phop[i], lw=0.7, label=f"ion {i}")
            ev = events[events["ion"] == i]
            ax.plot(ev["t_peak"], phop[i][ev["frame_peak"].to_numpy()], "v",
                    color=line.get_color(), ms=6)
            ax.axhline(thresholds[i], color=line.get_color(), lw=0.5, ls="--")
        ax.set_title(f"{title} ions (▼ detected hops, -- threshold)")
        ax.set_ylabel(ylabel)
        if len(ions):
            ax.set_yscale("log")
            ax.legend(fontsize=7, ncol=5, loc="upper right")
    axes[-1].set_xlabel("time (ps)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_hist(path: Path, events, wt) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    if len(events):
        a.hist(events["length"], bins=40, color="C0")
    a.set_xlabel("hop length (Å)")
    a.set_ylabel("hops")
    a.set_title(f"{len(events)} hops")
    if wt.complete.size:
        b.hist(wt.complete, bins=40, density=True, color="C1", label="complete intervals")
        tau = wt.residence_mle
        if np.isfinite(tau):
            t = np.linspace(0, wt.complete.max(), 200)
            b.plot(t, np.exp(-t / tau) / tau, "k-", label=f"exp., MLE τ = {tau:.3g} ps")
        b.legend(fontsize=8)
    b.set_xlabel("waiting time between hops (ps)")
    b.set_ylabel("density (1/ps)")
    b.set_title(f"censored: {wt.first_censored.size} first, {wt.last_censored.size} last")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@app.command("hops")
def hops_cmd(
    traj_path: Path = typer.Argument(..., help="Trajectory file.", metavar="TRAJ"),
    output: Path = typer.Option(..., "--output", "-o", help="Output HDF5 file (.h5)."),
    species: str = opt.ions_option(),
    framework: str = opt.framework_option(),
    framework_file: Path | None = opt.framework_file_option(),
    half_window: int = typer.Option(None, "--half-window", "-w",
                                    help="p_hop half-window, frames (default: --half-window-ps)."),
    half_window_ps: float = typer.Option(
        None, "--half-window-ps",
        help="p_hop half-window, ps (default: the data's cage time, hops.cage_scale)."),
    threshold: str = typer.Option(
        "auto", "--threshold", help="'auto' (9 x the population's cage size: the median "
        "p_hop pooled over all ions), 'per_ion' (9 x each ion's own median) or p_c in Å² "
        "(d_hop in Å for --method displacement)."
    ),
    method: str = typer.Option("p_hop", "--method", help="p_hop or displacement."),
    min_separation: int = typer.Option(None, "--min-separation",
                                       help="Merge runs closer than this, frames."),
    window: int = opt.window_option(),
    stride: int = opt.stride_option(),
    start: int = opt.start_option(),
    stop: int = opt.stop_option(),
    step: int = opt.step_option(),
    frames: str = opt.frames_option(),
    remove_drift: str = opt.drift_option(),
    cage_size: float = typer.Option(1.0, "--cage-size", help="Trapped below this rms, Å."),
    cutoff: float = typer.Option(4.0, "--cutoff", help="Neighbour cutoff for concerted hops, Å."),
    tolerance_ps: float = typer.Option(None, "--tolerance-ps",
                                       help="Time tolerance of concerted hops (default w·dt)."),
    backend: str = opt.backend_option(),
    format: str = opt.format_option(),
    topology: Path = opt.topology_option(),
    type_map: str = opt.type_map_option(),
    dt_ps: float = opt.dt_ps_option(),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Write the PNG plots."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing outputs."),
) -> None:
    """Hop events (p_hop or displacement rule), per-ion/window hop statistics, waiting
    times, trapped ions, concerted hops; PNGs of p_hop(t) and of the distributions."""
    from hcanalysis import hops
    from hcanalysis.families import Hops

    png_phop = output.with_name(output.stem + "_phop.png")
    png_hist = output.with_name(output.stem + "_hist.png")
    inputs = [traj_path, topology]
    for p in [output] + ([png_phop, png_hist] if plots else []):
        check_output(p, inputs, force)
    thr: str | float = threshold
    if threshold not in ("auto", "per_ion"):
        try:
            thr = float(threshold)
        except ValueError:
            raise HCAnalysisError(
                f"--threshold {threshold!r}: give 'auto' or a number"
            ) from None
    traj = opt.load_trajectory(traj_path, format, topology, type_map, dt_ps, framework_file)
    drift = opt.resolve_drift(remove_drift, traj)
    # the half-window and threshold of the Hops family (the estimator of `analyze`): one cage
    # time and one population threshold from up to hops.SCALE_IONS ions
    fam = Hops(ions=opt.species_list(species), framework=opt.species_list(framework),
               half_window_ps="auto" if half_window_ps is None else half_window_ps,
               half_window=half_window, threshold=thr, method=method, remove_drift=drift,
               min_separation=min_separation, cage_size=cage_size, keep_events=True)
    plan = fam.plan(traj, frames=opt.resolve_frames(start, stop, step, frames),
                    windows=(window, stride), backend=backend)
    ion_atoms = plan.ion_atoms
    time_ps = plan.time_ps
    with console.status(f"detecting hops of {len(ion_atoms)} {species} ions"):
        fam.compute(traj, plan=plan)
    events, table = fam.events, fam.stats
    half_window = int(fam.meta["half_window_frames"])
    scale_text = fam.meta["scale"]
    rule_text = scale_text.split("; ", 1)[1]
    source = (scale_text.split("(", 1)[1].rsplit(")", 1)[0] if "(" in scale_text
              else scale_text)
    events.attrs["half_window_source"] = source
    if thr == "auto":
        events.attrs["threshold_rule"] = rule_text
        events.attrs["u2"] = fam.cage_u2
    with console.status(f"reading {len(ion_atoms)} {species} positions (unwrapped)"):
        x = plan.ion_positions(slice(None), drift)
    with console.status("waiting times, concerted hops"):
        signal = None
        if plots:
            signal = (hops.p_hop(x, half_window, backend=backend) if method == "p_hop"
                      else hops.displacement(x, events.attrs["lag"], backend="cpu").T)
        wt = hops.waiting_times(events)
        tol = tolerance_ps if tolerance_ps is not None else half_window * events.attrs["dt_ps"]
        corr = hops.correlated_hops(events, x, traj.boxes(plan.frames), cutoff=cutoff,
                                    time_tolerance_ps=tol)
    thresholds = np.asarray(events.attrs["thresholds"])
    mean_l2 = float(np.mean(events["length"] ** 2)) if len(events) else float("nan")
    d_hop = wt.rate * mean_l2 / 6 if len(events) else 0.0
    meta = {
        "input": str(traj_path),
        "input_sha256": sha256(traj_path),
        "species": species,
        "method": method,
        "half_window_frames": int(half_window),
        "half_window_ps": float(half_window * events.attrs["dt_ps"]),
        "half_window_source": source,
        "cage_u2_A2": float(events.attrs["u2"]),
        "threshold_rule": events.attrs["threshold_rule"],
        "auto_factor": events.attrs["auto_factor"],
        "hysteresis": events.attrs["hysteresis"],
        "min_separation_frames": events.attrs["min_separation"],
        "window_frames": int(plan.window),
        "stride_frames": int(plan.stride),
        "remove_drift": remove_drift,
        "cage_size_A": cage_size,
        "cutoff_A": cutoff,
        "time_tolerance_ps": tol,
        "dt_ps": events.attrs["dt_ps"],
        "D_hop_A2_per_ps": d_hop,
    }
    write_family_output(output, fam, *legacy_views(fam, wt, corr, meta))
    if plots:
        order = mobility_order(x)
        _plot_phop(png_phop, time_ps, signal, events, order, thresholds, method)
        _plot_hist(png_hist, events, wt)
    n_ions = len(ion_atoms)
    console.print(
        f"{n_ions} {species} ions, {len(plan.frames)} frames: {len(events)} hops; "
        f"rate {wt.rate:.4g} /ps per ion; mean length "
        f"{events['length'].mean() if len(events) else float('nan'):.3g} Å; "
        f"residence (MLE) {wt.residence_mle:.4g} ps; concerted fraction {corr.fraction:.3g}; "
        f"trapped {int(table['trapped'].sum())}/{len(table)} ion-windows; "
        f"half window {half_window} frames = {half_window * events.attrs['dt_ps']:.4g} ps "
        f"({source}); threshold ({events.attrs['threshold_rule']}) median "
        f"{np.nanmedian(thresholds):.3g}; "
        f"D_hop = rate<l²>/6 = {d_hop:.4g} Å²/ps"
    )
    console.print(f"wrote {output}" + (f", {png_phop.name}, {png_hist.name}" if plots else ""))
