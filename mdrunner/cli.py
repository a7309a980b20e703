"""The ``mdrunner`` command line: build cells, run MD, run sweeps, remake the sample."""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

import typer
from rich.console import Console

console = Console(stderr=True)
app = typer.Typer(
    name="mdrunner",
    help="Hard-carbon + Na cells and MLIP molecular dynamics writing H5MD for hcanalysis.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    quiet: bool = typer.Option(False, "-q", "--quiet",
                               help="No progress and no log lines (results and errors only)."),
    verbose: bool = typer.Option(False, "-v", "--verbose",
                                 help="More progress lines off a terminal (every 2 s or 5 %)."),
) -> None:
    """mdrunner command line."""
    from hcanalysis.cli.app import install_progress

    install_progress(ctx, quiet, verbose, console)


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def _build(method: str, n_carbon: int, density: float, seed: int, structure: Path | None,
           loading: str | None, min_na_na: float, potential: str, model, device: str,
           threads: int | None):
    from mdrunner.builders import build_fragments, build_melt_quench, read_structure
    from mdrunner.insertion import insert_na

    if structure is not None:
        atoms, rep = read_structure(structure)
    elif method == "fragments":
        atoms, rep = build_fragments(n_carbon, density, seed=seed)
    elif method == "melt-quench":
        from mdrunner import calculators

        calc = calculators.get(potential, model=model, device=device, threads=threads)
        atoms, rep = build_melt_quench(calc, n_carbon, density, seed=seed,
                                       log=lambda m: console.print(m))
    elif method == "melt-quench-lammps":
        import warnings

        from mdrunner.lammps_builders import melt_quench

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # printed below as notes
            atoms, rep = melt_quench(n_carbon, density, seed=seed,
                                     potential=potential if potential != "chgnet" else "tersoff")
    else:
        raise typer.BadParameter(f"unknown method {method!r}: fragments, melt-quench or "
                                 "melt-quench-lammps")
    if method != "melt-quench-lammps" and structure is None:
        from mdrunner.lammps_builders import carbon_report

        rep.params["carbon"], notes = carbon_report(atoms, warn=False)
        rep.notes.extend(notes)
    if loading:
        atoms, rep = insert_na(atoms, loading, min_na_na=min_na_na, seed=seed)
    return atoms, rep


@app.command("build")
def build_cmd(
    output: Path = typer.Option(..., "-o", "--output", help="Structure file (any ase.io format)."),
    method: str = typer.Option(
        "fragments", help="fragments | melt-quench (ASE calculator) | melt-quench-lammps "
        "(LAMMPS, --potential tersoff|lcbop|rebo|airebo)"),
    n_carbon: int = typer.Option(200, "--n-carbon", help="Number of C atoms."),
    density: float = typer.Option(1.5, help="Carbon density, g/cm³."),
    loading: str = typer.Option(None, help="Na loading: NaC8-style or a number of ions."),
    structure: Path = typer.Option(None, help="Start from this file instead of building C."),
    seed: int = typer.Option(0),
    min_na_na: float = typer.Option(3.2, help="Minimum Na-Na distance, Å."),
    potential: str = typer.Option(
        "chgnet", help="melt-quench: chgnet | mace | sevenn; melt-quench-lammps: tersoff "
        "(default) | lcbop | rebo | airebo."),
    model: str = typer.Option(None, help="Model file (MACE)."),
    device: str = typer.Option("cpu"),
    threads: int = typer.Option(None, help="torch CPU threads."),
    force: bool = typer.Option(False, "--force", help="Overwrite the output."),
) -> None:
    """Build a hard-carbon (+ Na) cell and print what was made."""
    from ase.io import write

    if output.exists() and not force:
        raise typer.BadParameter(f"{output} exists (use --force)")
    atoms, rep = _build(method, n_carbon, density, seed, structure, loading, min_na_na,
                        potential, model, device, threads)
    write(output, atoms)
    output.with_suffix(".json").write_text(json.dumps(rep.to_dict(), indent=2))
    console.print(rep.summary())
    for n in rep.notes:
        console.print(f"note: {n}")


@app.command("run")
def run_cmd(
    run_dir: Path = typer.Option(..., "-o", "--run-dir", help="Run directory."),
    structure: Path = typer.Option(None, help="Start structure (else built from options)."),
    n_carbon: int = typer.Option(200, "--n-carbon"),
    density: float = typer.Option(1.5, help="Carbon density, g/cm³."),
    loading: str = typer.Option("NaC8"),
    seed: int = typer.Option(0),
    potential: str = typer.Option("chgnet", help="chgnet | mace | sevenn | emt | lj"),
    model: str = typer.Option(None, help="Model file (MACE) or version."),
    device: str = typer.Option("cpu", help="cpu | cuda"),
    dtype: str = typer.Option("float64", help="MACE dtype: float32 | float64"),
    threads: int = typer.Option(None, help="torch CPU threads (1 on a shared machine)."),
    temperature: float = typer.Option(300.0, "-T", "--temperature", help="K"),
    temperature_end: float = typer.Option(None, help="Ramp the target to this T, K."),
    thermostat: str = typer.Option(
        None, help="Production thermostat. ase engine: nose-hoover (default, global chain) | "
        "langevin | nve; lammps engine: csvr (default, global) | nose-hoover | langevin | nve"),
    equilibration_steps: int = typer.Option(
        None, "--equilibration-steps", help="Steps before production, not saved; their "
        "temperature, energy drift (and, lammps, conserved-quantity drift) are reported. ase "
        "engine: Langevin (--friction), default 1000; lammps engine: the production "
        "thermostat (CSVR for nve), default 5000, report in RUN_DIR/equilibration.json."),
    steps: int = typer.Option(1000),
    timestep: float = typer.Option(1.0, help="fs"),
    friction: float = typer.Option(5.0, help="Langevin friction, 1/ps."),
    tdamp: float = typer.Option(100.0, help="Nosé-Hoover / CSVR time constant, fs."),
    save_every: int = typer.Option(10),
    checkpoint_every: int = typer.Option(500),
    relax_steps: int = typer.Option(
        None, help="Minimisation steps before MD (FIRE; default 0 with ase, 200 with lammps)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the checkpoint."),
    engine: str = typer.Option(
        "ase", help="ase: --potential through ASE. lammps: UFF Lennard-Jones ions in a rigid "
        "(or --framework flexible) carbon framework, run by LAMMPS (lammps extra)."),
    framework: str = typer.Option("rigid", help="lammps engine: rigid | flexible."),
    carbon_potential: str = typer.Option(
        "lcbop", help="lammps engine, flexible framework: lcbop | tersoff | rebo | airebo."),
    lj_cutoff: float = typer.Option(10.0, help="lammps engine: Lennard-Jones cutoff, Å."),
    np_: int = typer.Option(1, "--np", help="lammps engine: MPI ranks (needs mpiexec)."),
    position_dtype: str = typer.Option("float32", help="float32 | float64 positions."),
) -> None:
    """Run NVT/NVE MD into RUN_DIR/traj.h5 (H5MD) with checkpoints; --resume continues."""
    from mdrunner.md import MDConfig

    if engine not in ("ase", "lammps"):
        raise typer.BadParameter(f"unknown engine {engine!r}: ase or lammps")
    lmp = engine == "lammps"
    cfg = MDConfig(temperature_K=temperature, steps=steps, timestep_fs=timestep,
                   thermostat=thermostat or ("csvr" if lmp else "nose-hoover"),
                   equilibration_steps=((LAMMPS_EQUILIBRATION_STEPS if lmp else 1000)
                                        if equilibration_steps is None
                                        else equilibration_steps),
                   friction_per_ps=friction, tdamp_fs=tdamp,
                   temperature_end_K=temperature_end, save_every=save_every,
                   checkpoint_every=checkpoint_every, seed=seed,
                   relax_steps=(200 if lmp else 0) if relax_steps is None else relax_steps,
                   position_dtype=position_dtype)
    with _removed_if_unstarted(run_dir, resume):
        if lmp:
            from mdrunner.lammps_engine import LammpsConfig

            lcfg = LammpsConfig(framework=framework, carbon_potential=carbon_potential,
                                lj_cutoff=lj_cutoff, np=np_)
            lcfg.validate()
            _run_lammps(run_dir, structure, n_carbon, density, loading, seed, cfg, lcfg,
                        resume)
            return
        _run_ase(run_dir, structure, n_carbon, density, loading, seed, cfg, resume, potential,
                 model, device, dtype, threads, temperature)


@contextlib.contextmanager
def _removed_if_unstarted(run_dir: Path, resume: bool):
    """Remove a run directory this command created when the command fails before the run's
    first checkpoint, so that the corrected command can be rerun as it is."""
    fresh = not resume and not run_dir.exists()
    try:
        yield
    except BaseException:
        started = any((run_dir / n).exists() for n in ("checkpoint.npz", "checkpoint.json"))
        if fresh and run_dir.exists() and not started:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


def _run_ase(run_dir, structure, n_carbon, density, loading, seed, cfg, resume, potential,
             model, device, dtype, threads, temperature) -> None:
    """``mdrunner run`` with the ASE engine (MLIPs, LJ, EMT)."""
    from mdrunner import calculators
    from mdrunner.md import run_md
    from mdrunner.points import versions, write_json

    calc = calculators.get(potential, model=model, device=device, dtype=dtype, threads=threads)
    run_dir.mkdir(parents=True, exist_ok=True)
    meta_path = run_dir / "run.json"
    atoms = None
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if resume and meta.get("potential") not in (None, calculators.describe(potential, model)):
        from mdrunner.md import refuse_changed_physics

        refuse_changed_physics(run_dir, [f"potential {meta['potential']} -> "
                                         f"{calculators.describe(potential, model)}"])
    if not resume:
        atoms, rep = _build("fragments", n_carbon, density, seed, structure,
                            None if structure else loading, 3.2, potential, model, device,
                            threads)
        from dataclasses import asdict

        meta = dict(
            density=rep.carbon_density, loading=loading if structure is None else None,
            n_na=rep.composition.get("Na", 0), n_carbon=rep.composition.get("C", 0),
            temperature_K=temperature, temperature=temperature, seed=seed,
            na_loading=rep.composition.get("Na", 0) / max(1, rep.composition.get("C", 0)),
            potential=calculators.describe(potential, model), md=asdict(cfg),
            build=rep.to_dict(), versions=versions(),
            paths=dict(traj="traj.h5", checkpoint="checkpoint.npz", log="md.log"),
            status="running",
        )
        console.print(rep.summary())
        write_json(meta_path, meta)
    out = run_md(atoms, calc, run_dir, cfg, resume=resume, metadata=meta, progress=True,
                 log=lambda m: console.print(m))
    meta["status"] = "interrupted" if out["interrupted"] else "done"
    meta["result"] = out
    write_json(meta_path, meta)
    console.print(f"{out['n_frames']} frames, {out['s_per_step']:.3f} s/step -> {out['traj']}")


def _md_log(steps: int, n_points: int = 0):
    """A log callback that prints the engine's lines and reports its ``step N:`` lines as
    progress (``MD: steps``, :mod:`hcanalysis.progress`), and for a sweep of ``n_points``
    the points finished (``sweep: points``, from the ``NAME: done|interrupted|skipped``
    lines of :func:`mdrunner.sweep.run_sweep`)."""
    import re

    from hcanalysis.progress import current

    finished = [0]

    def log(msg: str) -> None:
        console.print(msg, markup=False, highlight=False)
        text = str(msg)
        m = re.match(r"\s*step (\d+):", text)
        if m:
            current()("MD: steps", min(int(m.group(1)), steps), steps)
        elif n_points and re.match(r"\S+: (done|interrupted|failed|skipped \(done\))$", text):
            finished[0] += 1
            current()("sweep: points", min(finished[0], n_points), n_points)

    return log


#: Default equilibration of ``mdrunner run --engine lammps`` (steps before production).
LAMMPS_EQUILIBRATION_STEPS = 5000
#: LammpsConfig fields that define the physics (a resume must keep them; ``np`` may change).
LAMMPS_PHYSICS = ("framework", "carbon_potential", "lj_cutoff", "mixing")


def _run_lammps(run_dir: Path, structure, n_carbon, density, loading, seed, cfg, lcfg,
                resume: bool) -> None:
    """``mdrunner run --engine lammps``: build (or resume) and run one LAMMPS point."""
    from mdrunner.points import SweepPoint, write_json
    from mdrunner.sweep import run_point

    run_dir.mkdir(parents=True, exist_ok=True)
    if not resume and (run_dir / "traj.h5").exists():
        raise typer.BadParameter(f"{run_dir / 'traj.h5'} exists: --resume, or a new run dir")
    if resume and not (run_dir / "checkpoint.json").exists():
        raise typer.BadParameter(f"{run_dir}: no LAMMPS checkpoint (checkpoint.json) to resume")
    if resume:  # a finished run may be extended with more --steps
        from mdrunner.points import read_run_json

        meta = read_run_json(run_dir) or {}
        from mdrunner.md import physics_changes, refuse_changed_physics

        refuse_changed_physics(run_dir, physics_changes(meta.get("md", {}), asdict(cfg))
                               + physics_changes(meta.get("lammps", {}), asdict(lcfg),
                                                 fields=LAMMPS_PHYSICS))
        meta["status"] = "running"
        meta.setdefault("md", {})["steps"] = cfg.steps
        write_json(run_dir / "run.json", meta)
    point = SweepPoint(density=density, loading=loading, seed=seed, n_carbon=n_carbon,
                       potential="lammps", md={k: v for k, v in asdict(cfg).items()
                                               if k != "seed"},
                       engine="lammps", lammps=asdict(lcfg), structure=structure)
    meta = run_point(point, run_dir.parent, run_dir=run_dir, log=_md_log(cfg.steps))
    write_json(run_dir / "run.json", meta)
    out = meta["result"]
    if out.get("equilibration"):
        from mdrunner.lammps_engine import describe_equilibration

        console.print(describe_equilibration(out["equilibration"]), markup=False,
                      highlight=False)
    console.print(f"{out['n_frames']} frames, {out['ns_per_day']:.1f} ns/day "
                  f"({out['atom_steps_per_s']:.3g} atom-steps/s) -> {out['traj']}")


@app.command("sweep")
def sweep_cmd(
    output: Path = typer.Option(..., "-o", "--output", help="Sweep directory."),
    densities: str = typer.Option("1.0,1.3,1.6", help="Carbon densities, g/cm³."),
    loadings: str = typer.Option("NaC8,NaC16", help="Loadings, comma separated."),
    seeds: int = typer.Option(1, help="Seeds per point (0..n-1)."),
    n_carbon: int = typer.Option(200, "--n-carbon"),
    potential: str = typer.Option("chgnet"),
    model: str = typer.Option(None),
    device: str = typer.Option("cpu"),
    dtype: str = typer.Option("float64"),
    threads: int = typer.Option(1, help="torch threads per point."),
    workers: int = typer.Option(1, help="Points run in parallel (CPU); 1 on a GPU."),
    temperature: float = typer.Option(600.0, "-T", "--temperature"),
    thermostat: str = typer.Option(
        None, help="Default: nose-hoover (ase), csvr (lammps), langevin (torchsim)."),
    equilibration_steps: int = typer.Option(
        1000, "--equilibration-steps", help="Steps before production, not saved (ase: "
        "Langevin; lammps: the production thermostat, report in equilibration.json)."),
    steps: int = typer.Option(1000),
    timestep: float = typer.Option(1.0),
    save_every: int = typer.Option(10),
    checkpoint_every: int = typer.Option(500),
    relax_steps: int = typer.Option(20),
    engine: str = typer.Option(
        "ase", help="ase: one ASE MD process per point (--workers in parallel on a CPU). "
        "torchsim: MACE only (--potential mace --model FILE); up to --batch-size cells "
        "advance together as one torch-sim batch on --device cuda or cpu, Langevin only; "
        "needs the md and torchsim extras (pip install 'hcanalysis\\[md,torchsim]')."),
    batch_size: int = typer.Option(
        None, "--batch-size", help="torchsim engine: most cells per batch (default: all)."),
    framework: str = typer.Option("rigid", help="lammps engine: rigid | flexible."),
    carbon_potential: str = typer.Option(
        "lcbop", help="lammps engine, flexible framework: lcbop | tersoff | rebo | airebo."),
    lj_cutoff: float = typer.Option(10.0, help="lammps engine: Lennard-Jones cutoff, Å."),
    np_: int = typer.Option(1, "--np", help="lammps engine: MPI ranks per point."),
) -> None:
    """Run a density × loading × seed sweep; restarting it skips finished points.

    With --engine torchsim an interrupted sweep restarts too: finished points are skipped
    and the others continue from their last checkpoint (--checkpoint-every).
    """
    from mdrunner.sweep import make_points, run_sweep

    if engine not in ("ase", "torchsim", "lammps"):
        raise typer.BadParameter(f"unknown engine {engine!r}: ase, lammps or torchsim")
    md = dict(temperature_K=temperature,
              thermostat=thermostat or {"lammps": "csvr", "torchsim": "langevin"}.get(
                  engine, "nose-hoover"),
              equilibration_steps=equilibration_steps if engine in ("ase", "lammps") else 0,
              steps=steps, timestep_fs=timestep, save_every=save_every,
              checkpoint_every=checkpoint_every, relax_steps=relax_steps)
    lmp = {}
    if engine == "lammps":
        from mdrunner.lammps_engine import LammpsConfig

        lc = LammpsConfig(framework=framework, carbon_potential=carbon_potential,
                          lj_cutoff=lj_cutoff, np=np_)
        lc.validate()
        lmp = asdict(lc)
        potential = "lammps"
    points = make_points(_floats(densities), [x.strip() for x in loadings.split(",")], seeds,
                         n_carbon=n_carbon, potential=potential, model=model, device=device,
                         dtype=dtype, threads=threads, md=md, engine=engine, lammps=lmp)
    res = run_sweep(points, output, workers=workers, log=_md_log(steps, len(points)),
                    engine=engine, batch_size=batch_size)
    done = sum(r.get("status") == "done" for r in res)
    console.print(f"{done}/{len(res)} points done in {output}")


@app.command("sample")
def sample_cmd(
    run_dir: Path = typer.Option("sample_run", "--run-dir"),
    steps: int = typer.Option(None, help="MD steps (default: the sample's)."),
    threads: int = typer.Option(1),
    engine: str = typer.Option("lammps", help="lammps (sample.h5) | chgnet (sample_chgnet.h5)"),
) -> None:
    """Remake a bundled sample trajectory (resumes from RUN_DIR when interrupted): the
    default LAMMPS sample, or --engine chgnet for the CHGNet smoke test."""
    from mdrunner.sample import main as sample_main

    args = ["--run-dir", str(run_dir), "--threads", str(threads), "--engine", engine]
    sample_main(args + (["--steps", str(steps)] if steps else []))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mdrunner`` script."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    from hcanalysis.cli.app import run_app

    return run_app(app, args, "mdrunner", debug)

if __name__ == "__main__":
    sys.exit(main())
