"""``hcanalysis analyze`` (the main job), ``hcanalysis demo`` (it, on the bundled sample) and
``hcanalysis ensemble`` (it, on every run of an mdrunner sweep)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from hcanalysis.cli import options as opt
from hcanalysis.cli.app import app, console, results
from hcanalysis.cli.io_cmds import parse_type_map
from hcanalysis.cli.options import parse_bytes  # noqa: F401  (kept importable here)
from hcanalysis.config import AnalysisConfig
from hcanalysis.errors import HCAnalysisError

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample.h5"
DEMO_CONFIG = Path(__file__).resolve().parent.parent / "data" / "demo.toml"


def _run(paths: list[Path], outdir: Path, cfg: AnalysisConfig, load_options: dict,
         metadata: Path | None, dask: bool, scheduler: str | None, workers: int | None,
         force: bool, jobqueue: dict | None = None) -> None:
    from hcanalysis.pipeline import analyze

    t0 = time.perf_counter()
    res = analyze(  # progress: the reporter the command line installed (-q, -v)
        paths, outdir, cfg, load_options=load_options, metadata_csv=metadata, dask=dask,
        scheduler=scheduler, n_workers=workers, force=force, jobqueue=jobqueue,
    )
    mf = res.modes
    results.print(f"[bold]{len(res.table)}[/] (ion, window) rows from {len(paths)} "
                  f"trajectory(ies){' (cached)' if all(res.reused) else ''}")
    results.print(f"  {mf.verdict()}")
    for k in range(mf.n_modes_):
        results.print(f"  mode {k}: [bold]{mf.mode_names_[k]:14s}[/] "
                      f"{100 * mf.fractions_[k]:5.1f}%  ({mf.naming_rules_[k]})",
                      highlight=False)
    _print_diffusion(res)
    _print_hops(res)
    if res.importance is not None:
        for line in res.importance.lines(top=3):
            results.print("  importance: " + line)
    if res.correlation is not None:
        for line in res.correlation.lines():
            results.print("  " + line)
    for note in res.notes:
        results.print(f"  [yellow]{note}")
    for name, path in res.files.items():
        results.print(f"  {name}: {path}")
    console.print(f"done in {time.perf_counter() - t0:.1f} s")


def _print_diffusion(res) -> None:
    """The fit range of D in ps (or why there is none) per trajectory, D or the verdict, and
    the MSD at the mobility lag."""
    from hcanalysis.pipeline import diffusion_summary

    reports = [str(t.metadata.get("reports", {}).get("msd", "")) for t in res.descriptors]
    shown = [r for r in reports if r]
    for i, r in enumerate(shown[:3]):
        tag = f" [trajectory {i}]" if len(shown) > 1 else ""
        results.print(f"  msd{tag}: {r}", markup=False)
    if len(shown) > 3:
        results.print(f"  msd: ... ({len(shown) - 3} more trajectories in the report)")
    for key, text in diffusion_summary(res.table, res.descriptors).items():
        if key == "D":  # the reason is on the msd line(s) above
            text = "not supported by this data (no diffusive range); mobility: MSD at a fixed lag"
        results.print(f"  {key}: {text}", markup=False)


def _print_hops(res) -> None:
    """One line: hop events found (per the hops stage's report) and how many ions hopped."""
    reports = [str(t.metadata.get("reports", {}).get("hops", "")) for t in res.descriptors]
    counts = [int(r.split()[0]) for r in reports if r and r.split()[0].isdigit()]
    df = res.table
    if not counts or "hop_rate" not in df or "ion" not in df:
        return
    keys = ["trajectory", "ion"] if "trajectory" in df else ["ion"]
    per_ion = df.groupby(keys)["hop_rate"].max()
    detail = reports[0].split(" ", 1)[1] if len(reports) == 1 else "hop events"
    results.print(f"  hops: [bold]{sum(counts)}[/] {detail}; {int((per_ion > 0).sum())} of "
                  f"{len(per_ion)} ions hop at least once")


def _config(config: Path | None, sets: list[str], species: str | None, window: int | None,
            stride: int | None, seed: int | None, backend: str | None) -> AnalysisConfig:
    try:
        cfg = AnalysisConfig.from_toml(config) if config else AnalysisConfig()
        for s in sets or []:
            cfg.set_from_string(s)
    except (KeyError, ValueError, TypeError) as exc:
        raise HCAnalysisError(str(exc.args[0]) if exc.args else str(exc)) from exc
    if species:
        cfg.species = species
    if window:
        cfg.windows.window = window
    if stride:
        cfg.windows.stride = stride
    if seed is not None:
        cfg.seed = seed
    if backend:
        cfg.backend = backend
    return cfg


@app.command("analyze")
def analyze_cmd(
    trajectories: list[Path] = typer.Argument(..., help="Trajectory file(s)."),
    output: Path = typer.Option(..., "-o", "--output", help="Output folder."),
    config: Path = typer.Option(None, "--config", help="TOML file of parameters."),
    sets: list[str] = typer.Option(None, "--set", help="Override a parameter: section.name=value"),
    species: str = typer.Option(None, "--ions", "--species", "--ion",
                                help="Element of the mobile ions (default Na; aliases "
                                     "--species, --ion)."),
    carbon: str = typer.Option(None, "--carbon",
                               help="Framework species (default C; --framework names a "
                                    "framework file here)."),
    window: int = opt.window_option(),
    stride: int = opt.stride_option(),
    start: int = opt.start_option(),
    stop: int = opt.stop_option(),
    step: int = opt.step_option(),
    frames: str = opt.frames_option(),
    remove_drift: str = typer.Option(None, "--remove-drift",
                                     help="Centre-of-mass drift removed: an element (default "
                                          "C), species, all or none (= msd.remove_drift)."),
    half_window_ps: str = typer.Option(None, "--half-window-ps",
                                       help="Hop half-window, ps, or auto (the data's cage "
                                            "time; = hops.half_window_ps)."),
    seed: int = typer.Option(None, "--seed", help="Seed of every random step."),
    backend: str = typer.Option(None, "--backend", help="auto | cpu | cuda"),
    type_map: str = typer.Option(None, "--type-map", help="LAMMPS types, e.g. 1:C,2:Na"),
    dt_ps: float = typer.Option(None, "--dt-ps", help="MD time step (dumps) or frame interval, ps"),
    topology: Path = typer.Option(None, "--topology", help="Topology for XTC/DCD/..."),
    overlap: str = typer.Option(None, "--overlap",
                                help="Frames whose time repeats an earlier one (restarted "
                                     "runs): keep-last | keep-first (default: an error)."),
    framework: Path = typer.Option(
        None, "--framework", help="Ion-only trajectories: structure file (LAMMPS data, extxyz, "
        "...) whose atoms are added to every frame; its cell must equal every frame's box."),
    metadata: Path = typer.Option(None, "--metadata", help="CSV of processing variables."),
    dask: bool = typer.Option(False, "--dask", help="Run trajectories as Dask tasks."),
    scheduler: str = typer.Option(None, "--scheduler", help="Address of a Dask scheduler."),
    workers: int = typer.Option(None, "--workers", help="LocalCluster workers (--dask)."),
    force: bool = typer.Option(False, "--force", help="Recompute cached stages."),
    max_memory: str = opt.max_memory_option(),
    max_memory_mb: float = opt.max_memory_mb_option(),
    jobqueue: str = typer.Option(None, "--jobqueue",
                                 help="Dask workers as batch jobs: slurm | pbs | sge | lsf."),
    cores: int = typer.Option(4, "--cores", help="Cores per batch job (--jobqueue)."),
    memory: str = typer.Option("16GB", "--memory", help="Memory per batch job (--jobqueue)."),
    jobs: int = typer.Option(2, "--jobs", help="Number of batch jobs (--jobqueue)."),
) -> None:
    """Trajectories -> per-ion descriptors -> diffusion modes, importance, report."""
    cfg = _config(config, sets, species, window, stride, seed, backend)
    queue = (dict(kind=jobqueue.lower(), cores=cores, memory=memory, jobs=jobs)
             if jobqueue else None)
    budget = opt.resolve_memory(max_memory, max_memory_mb)
    if budget is not None:
        cfg.max_memory = budget
    if carbon:
        cfg.carbon = carbon
    if any(v is not None for v in (start, stop, step)) or frames:
        fsl = opt.resolve_frames(start, stop, step, frames)
        cfg.frames.start = fsl.start or 0
        cfg.frames.stop = fsl.stop
        cfg.frames.step = fsl.step or 1
    if remove_drift is not None:
        cfg.msd.remove_drift = (None if remove_drift.strip().lower() in ("none", "null", "")
                                else remove_drift.strip())
    if half_window_ps is not None:
        try:
            cfg.hops.half_window_ps = (half_window_ps if half_window_ps == "auto"
                                       else float(half_window_ps))
        except ValueError:
            raise HCAnalysisError(f"--half-window-ps {half_window_ps!r}: give a number of ps "
                                  "or auto") from None
    load_options = {k: v for k, v in {
        "type_map": parse_type_map(type_map), "dt_ps": dt_ps, "topology": topology,
        "overlap": overlap, "framework": framework,
    }.items() if v is not None}
    if framework is not None and not framework.is_file():
        raise HCAnalysisError(f"--framework {framework}: no such file")
    _run(list(trajectories), output, cfg, load_options, metadata,
         dask or bool(scheduler) or bool(queue), scheduler, workers, force, queue)


@app.command("demo")
def demo_cmd(
    output: Path = typer.Option(Path("hcanalysis-demo"), "-o", "--output",
                                help="Output folder."),
    force: bool = typer.Option(False, "--force", help="Recompute cached stages."),
) -> None:
    """Run `analyze` on the bundled sample trajectory (hcanalysis/data/sample.h5)."""
    if not SAMPLE.is_file():
        raise HCAnalysisError(f"{SAMPLE}: the bundled sample is missing; reinstall hcanalysis")
    cfg = AnalysisConfig.from_toml(DEMO_CONFIG) if DEMO_CONFIG.is_file() else AnalysisConfig()
    console.print(f"demo: analysing {SAMPLE.name} -> {output}/report.html")
    _run([SAMPLE], output, cfg, {}, None, False, None, None, force)


def find_runs(sweep_dir: Path) -> list[Path]:
    """Trajectories of an mdrunner sweep: every ``*/traj.h5`` with a ``run.json`` beside it,
    sorted by run name."""
    runs = sorted(p for p in sweep_dir.glob("*/traj.h5") if (p.parent / "run.json").is_file())
    if not runs:
        raise HCAnalysisError(
            f"{sweep_dir}: no run folders with traj.h5 and run.json (an mdrunner sweep); "
            "give trajectories to `hcanalysis analyze` with --metadata instead"
        )
    return runs


@app.command("ensemble")
def ensemble_cmd(
    sweep: Path = typer.Argument(..., help="Folder of an mdrunner sweep (run folders)."),
    output: Path = typer.Option(..., "-o", "--output", help="Output folder."),
    config: Path = typer.Option(None, "--config", help="TOML file of parameters."),
    sets: list[str] = typer.Option(None, "--set", help="Override a parameter: section.name=value"),
    seed: int = typer.Option(None, "--seed", help="Seed of every random step."),
    dask: bool = typer.Option(False, "--dask", help="Run trajectories as Dask tasks."),
    scheduler: str = typer.Option(None, "--scheduler", help="Address of a Dask scheduler."),
    workers: int = typer.Option(None, "--workers", help="LocalCluster workers (--dask)."),
    force: bool = typer.Option(False, "--force", help="Recompute cached stages."),
) -> None:
    """Analyse every run of a density × loading sweep and correlate modes and descriptors with
    density, Na loading and temperature (read from each run's run.json)."""
    runs = find_runs(sweep)
    console.print(f"{len(runs)} runs in {sweep}")
    cfg = _config(config, sets, None, None, None, seed, None)
    _run(runs, output, cfg, {}, None, dask or bool(scheduler), scheduler, workers, force)
