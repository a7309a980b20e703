"""The ``mdrunner`` command line: build cells, run MD, run sweeps, remake the sample."""

from __future__ import annotations

import json
import sys
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
    else:
        raise typer.BadParameter(f"unknown method {method!r}: fragments or melt-quench")
    if loading:
        atoms, rep = insert_na(atoms, loading, min_na_na=min_na_na, seed=seed)
    return atoms, rep


@app.command("build")
def build_cmd(
    output: Path = typer.Option(..., "-o", "--output", help="Structure file (any ase.io format)."),
    method: str = typer.Option("fragments", help="fragments | melt-quench"),
    n_carbon: int = typer.Option(200, "--n-carbon", help="Number of C atoms."),
    density: float = typer.Option(1.5, help="Carbon density, g/cm³."),
    loading: str = typer.Option(None, help="Na loading: NaC8-style or a number of ions."),
    structure: Path = typer.Option(None, help="Start from this file instead of building C."),
    seed: int = typer.Option(0),
    min_na_na: float = typer.Option(3.2, help="Minimum Na-Na distance, Å."),
    potential: str = typer.Option("chgnet", help="For melt-quench: chgnet | mace | sevenn."),
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
    thermostat: str = typer.Option("langevin", help="langevin | nose-hoover | nve"),
    steps: int = typer.Option(1000),
    timestep: float = typer.Option(1.0, help="fs"),
    friction: float = typer.Option(5.0, help="Langevin friction, 1/ps."),
    tdamp: float = typer.Option(100.0, help="Nosé-Hoover damping time, fs."),
    save_every: int = typer.Option(10),
    checkpoint_every: int = typer.Option(500),
    relax_steps: int = typer.Option(0, help="FIRE steps before MD."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the checkpoint."),
) -> None:
    """Run NVT/NVE MD into RUN_DIR/traj.h5 (H5MD) with checkpoints; --resume continues."""
    from mdrunner import calculators
    from mdrunner.md import MDConfig, run_md
    from mdrunner.sweep import _write_json, versions

    cfg = MDConfig(temperature_K=temperature, steps=steps, timestep_fs=timestep,
                   thermostat=thermostat, friction_per_ps=friction, tdamp_fs=tdamp,
                   temperature_end_K=temperature_end, save_every=save_every,
                   checkpoint_every=checkpoint_every, seed=seed, relax_steps=relax_steps)
    calc = calculators.get(potential, model=model, device=device, dtype=dtype, threads=threads)
    run_dir.mkdir(parents=True, exist_ok=True)
    meta_path = run_dir / "run.json"
    atoms = None
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
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
        _write_json(meta_path, meta)
    out = run_md(atoms, calc, run_dir, cfg, resume=resume, metadata=meta, progress=True,
                 log=lambda m: console.print(m))
    meta["status"] = "interrupted" if out["interrupted"] else "done"
    meta["result"] = out
    _write_json(meta_path, meta)
    console.print(f"{out['n_frames']} frames, {out['s_per_step']:.3f} s/step -> {out['traj']}")


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
    thermostat: str = typer.Option("langevin"),
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
) -> None:
    """Run a density × loading × seed sweep; restarting it skips finished points.

    With --engine torchsim an interrupted sweep restarts too: finished points are skipped
    and the others continue from their last checkpoint (--checkpoint-every).
    """
    from mdrunner.sweep import make_points, run_sweep

    md = dict(temperature_K=temperature, thermostat=thermostat, steps=steps,
              timestep_fs=timestep, save_every=save_every, checkpoint_every=checkpoint_every,
              relax_steps=relax_steps)
    points = make_points(_floats(densities), [x.strip() for x in loadings.split(",")], seeds,
                         n_carbon=n_carbon, potential=potential, model=model, device=device,
                         dtype=dtype, threads=threads, md=md)
    if engine not in ("ase", "torchsim"):
        raise typer.BadParameter(f"unknown engine {engine!r}: ase or torchsim")
    res = run_sweep(points, output, workers=workers, log=lambda m: console.print(m),
                    engine=engine, batch_size=batch_size)
    done = sum(r.get("status") == "done" for r in res)
    console.print(f"{done}/{len(res)} points done in {output}")


@app.command("sample")
def sample_cmd(
    run_dir: Path = typer.Option("sample_run", "--run-dir"),
    steps: int = typer.Option(None, help="MD steps (default: the sample's)."),
    threads: int = typer.Option(1),
) -> None:
    """Remake the bundled sample trajectory (resumes from RUN_DIR when interrupted)."""
    from mdrunner.sample import SAMPLE
    from mdrunner.sample import main as sample_main

    sample_main(["--run-dir", str(run_dir), "--steps", str(steps or SAMPLE["steps"]),
                 "--threads", str(threads)])


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mdrunner`` script."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    from hcanalysis.cli.app import run_app

    return run_app(app, args, "mdrunner", debug)

if __name__ == "__main__":
    sys.exit(main())
