"""Reproduce the bundled sample trajectories.

``python -m mdrunner.sample --engine lammps --run-dir DIR`` (the default sample,
``hcanalysis/data/sample.h5``; parameters in :data:`SAMPLE_LAMMPS`) builds 1,000 C at
1.05 g/cm³ (fragment generator, seed 0), inserts 67 Na (NaC15), and runs the LAMMPS engine
(rigid framework, UFF Lennard-Jones Na, CSVR at 600 K, 2 fs; 50 ps of equilibration, then
1.5 ns of production, a frame every 1 ps); ``--export FILE`` writes the production frames with
the framework stored once. About 4 minutes on one free core.

The CHGNet smoke-test sample (``hcanalysis/data/sample_chgnet.h5``, :data:`SAMPLE`;
``--engine chgnet``):
``python -m mdrunner.sample --run-dir DIR [--steps N]`` builds the cell (fragment generator,
seed 9, 144 C at 1.5 g/cm³, Na at NaC8 -> 18 Na), runs CHGNet 0.3.0 Langevin NVT at 900 K
(1 fs, friction 5/ps, a frame every 2 steps, one torch thread) and resumes from
``DIR/checkpoint.npz`` when it exists. About 1 s per step on one free CPU core.
``--export hcanalysis/data/sample.h5`` then writes the production frames (step >= 340, every
2 steps) through :func:`hcanalysis.write_h5md`. Which frames are saved does not change the
dynamics (saving only reads the state), so a run that saves every step contains the sample's
frames exactly.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

SAMPLE = dict(
    n_carbon=144,
    density=1.5,
    loading="NaC8",
    build_seed=9,
    md_seed=9,
    temperature_K=900.0,
    steps=5000,
    timestep_fs=1.0,
    friction_per_ps=5.0,
    save_every=2,
    checkpoint_every=100,
    relax_steps=40,
    potential="chgnet",
    threads=1,
    # frames kept in the bundled file: from here on (the first 340 steps are equilibration,
    # while the fragments' edges bond and the excess heat is carried away by the thermostat)
    production_start_step=340,
)

#: The default sample (LAMMPS engine): see the module docstring and hcanalysis/data/README.md.
#: The same run as ``mdrunner run --engine lammps -o RUN --n-carbon 1000 --density 1.05
#: --loading NaC15 --seed 0 -T 600 --timestep 2.0 --steps 750000 --save-every 500
#: --checkpoint-every 25000 --equilibration-steps 25000`` (the cell: ``build_fragments(1000,
#: 1.05, seed=0)`` + ``insert_na(carbon, "NaC15", seed=0)``, 67 Na; 200 FIRE steps with the
#: framework held; 50 ps of CSVR equilibration, not saved; then 1.5 ns of production, a frame
#: every 1 ps, all of it exported with the framework stored once).
SAMPLE_LAMMPS = dict(
    n_carbon=1000,
    density=1.05,
    loading="NaC15",
    seed=0,
    temperature_K=600.0,
    thermostat="csvr",
    tdamp_fs=100.0,
    steps=750_000,
    timestep_fs=2.0,
    save_every=500,
    checkpoint_every=25_000,
    relax_steps=200,
    equilibration_steps=25_000,
    framework="rigid",
    production_start_step=0,
    export_every_step=500,
)


def _lammps_point(p: dict):
    """The sample as a :class:`mdrunner.points.SweepPoint` (what ``mdrunner run`` builds)."""
    from dataclasses import asdict

    from mdrunner.lammps_engine import LammpsConfig
    from mdrunner.md import MDConfig
    from mdrunner.points import SweepPoint

    cfg = MDConfig(temperature_K=p["temperature_K"], steps=p["steps"],
                   timestep_fs=p["timestep_fs"], thermostat=p["thermostat"],
                   tdamp_fs=p["tdamp_fs"], save_every=p["save_every"],
                   checkpoint_every=p["checkpoint_every"], seed=p["seed"],
                   relax_steps=p["relax_steps"], equilibration_steps=p["equilibration_steps"])
    return SweepPoint(density=p["density"], loading=p["loading"], seed=p["seed"],
                      n_carbon=p["n_carbon"], potential="lammps",
                      md={k: v for k, v in asdict(cfg).items() if k != "seed"},
                      engine="lammps", lammps=asdict(LammpsConfig(framework=p["framework"])))


def run_lammps_sample(run_dir, steps: int | None = None) -> dict:
    """Build the default sample's cell and run (or resume) it with the LAMMPS engine; returns
    the run's summary."""
    from mdrunner.sweep import run_point

    p = dict(SAMPLE_LAMMPS, steps=steps or SAMPLE_LAMMPS["steps"])
    run_dir = Path(run_dir)
    meta = run_point(_lammps_point(p), run_dir.parent, run_dir=run_dir, log=print)
    return meta["result"]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--run-dir", default="sample_run")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--threads", type=int, default=SAMPLE["threads"])
    ap.add_argument("--save-every", type=int, default=SAMPLE["save_every"])
    ap.add_argument("--export", default=None,
                    help="Only write RUN_DIR's production frames to this H5MD file and exit.")
    ap.add_argument("--from-step", type=int, default=SAMPLE["production_start_step"])
    ap.add_argument("--every-step", type=int, default=SAMPLE["save_every"])
    ap.add_argument("--engine", default="lammps", choices=("chgnet", "lammps"),
                    help="lammps: the default sample (SAMPLE_LAMMPS); chgnet: the smoke test.")
    args = ap.parse_args(argv)
    lmp = args.engine == "lammps"
    if args.export:
        from mdrunner.export import export_window

        out = export_window(
            Path(args.run_dir) / "traj.h5", args.export,
            start_step=SAMPLE_LAMMPS["production_start_step"] if lmp else args.from_step,
            every_step=SAMPLE_LAMMPS["export_every_step"] if lmp else args.every_step,
            extra_metadata={"sample": SAMPLE_LAMMPS if lmp else SAMPLE}, overwrite=True,
            static_framework=lmp)
        print(f"wrote {out}")
        return {"export": str(out)}
    if lmp:
        out = run_lammps_sample(args.run_dir, args.steps)
        print(json.dumps(out, indent=2))
        return out

    from mdrunner import calculators
    from mdrunner.builders import build_fragments
    from mdrunner.insertion import insert_na
    from mdrunner.md import MDConfig, run_md

    p = dict(SAMPLE, steps=args.steps or SAMPLE["steps"], threads=args.threads,
             save_every=args.save_every)
    run_dir = Path(args.run_dir)
    calc = calculators.get(p["potential"], threads=p["threads"])
    carbon, rep_c = build_fragments(p["n_carbon"], p["density"], seed=p["build_seed"])
    atoms, rep = insert_na(carbon, p["loading"], seed=p["build_seed"], method="kdtree")
    cfg = MDConfig(
        temperature_K=p["temperature_K"], steps=p["steps"], timestep_fs=p["timestep_fs"],
        thermostat="langevin", friction_per_ps=p["friction_per_ps"],
        save_every=p["save_every"], checkpoint_every=p["checkpoint_every"], seed=p["md_seed"],
        relax_steps=p["relax_steps"],
    )
    meta = dict(
        sample=p, structure=rep.to_dict(), carbon=rep_c.to_dict(),
        potential=calculators.describe(p["potential"]),
        density=p["density"], loading=p["loading"], temperature_K=p["temperature_K"],
        seed=p["md_seed"],
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "structure.json").write_text(json.dumps(meta, indent=2, default=str))
    resume = (run_dir / "checkpoint.npz").exists()
    out = run_md(atoms, calc, run_dir, cfg, resume=resume, metadata=meta, log=print)
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
