"""Density × Na loading × seed sweeps: one run directory per point, resumable.

Each point ``DIR/rho{density}_{loading}_s{seed}/`` gets ``traj.h5`` (H5MD), ``checkpoint.npz``,
``md.log`` and ``run.json`` (density, loading, seed, temperature, potential, versions,
paths, build report, status). ``run.json`` is what ``hcanalysis ensemble`` reads next to each
``traj.h5``: its top-level ``density`` (carbon, g/cm³), ``na_loading`` (Na/C) and
``temperature`` (K). Re-running a sweep skips points whose status is ``"done"`` and resumes a point
that has a checkpoint.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path

from mdrunner.md import MDConfig
from mdrunner.points import SweepPoint, read_run_json, start_point, versions, write_json


def _run_point_lammps(point: SweepPoint, run_dir: Path, meta: dict | None, stop_after, log
                      ) -> dict:
    from mdrunner.lammps_engine import LammpsConfig, run_lammps_md

    cfg = MDConfig(**{**point.md, "seed": point.seed})
    lcfg = LammpsConfig(**point.lammps)
    resume = (run_dir / "checkpoint.json").exists() and (run_dir / "traj.h5").exists()
    if resume and meta:
        atoms = None
    else:
        atoms, meta = start_point(point, run_dir, cfg,
                                   stale=("traj.h5", "checkpoint.json", "checkpoint.restart"))
    out = run_lammps_md(atoms, run_dir, cfg, lcfg, resume=resume, metadata=meta,
                        stop_after=stop_after, log=log)
    meta["status"] = "interrupted" if out["interrupted"] else "done"
    meta["result"] = out
    if out.get("equilibration"):
        meta["equilibration"] = out["equilibration"]
    write_json(run_dir / "run.json", meta)
    return meta


def run_point(point: SweepPoint, out_dir, *, stop_after: int | None = None,
              calculator=None, run_dir=None, log=None) -> dict:
    """Build (or resume) and run one sweep point; returns its ``run.json`` content.

    ``run_dir`` overrides ``out_dir / point.name``; ``log`` receives progress lines
    (lammps engine).
    """
    from mdrunner import calculators
    from mdrunner.md import run_md

    run_dir = Path(out_dir) / point.name if run_dir is None else Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    meta = read_run_json(run_dir)
    if meta and meta.get("status") == "done":
        meta["skipped"] = True
        return meta
    if point.engine == "lammps":
        return _run_point_lammps(point, run_dir, meta, stop_after, log)
    cfg = MDConfig(**{**point.md, "seed": point.seed})
    calc = calculator or calculators.get(point.potential, model=point.model,
                                         device=point.device, dtype=point.dtype,
                                         threads=point.threads)
    resume = (run_dir / "checkpoint.npz").exists() and (run_dir / "traj.h5").exists()
    if resume and meta:
        atoms = None
    else:
        atoms, meta = start_point(point, run_dir, cfg)
    out = run_md(atoms, calc, run_dir, cfg, resume=resume, metadata=meta, stop_after=stop_after)
    meta["status"] = "interrupted" if out["interrupted"] else "done"
    meta["result"] = out
    write_json(run_dir / "run.json", meta)
    return meta


def make_points(densities, loadings, seeds, **common) -> list[SweepPoint]:
    """The grid of points: ``seeds`` is a count (seeds 0..n-1) or a list of seeds."""
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    return [
        SweepPoint(density=float(d), loading=str(x), seed=int(s), **common)
        for d in densities
        for x in loadings
        for s in seed_list
    ]


def run_sweep(points: list[SweepPoint], out_dir, *, workers: int = 1, log=print,
              engine: str = "ase", batch_size: int | None = None,
              stop_after: int | None = None) -> list[dict]:
    """Run every point; ``workers`` > 1 runs points in parallel processes (CPU).

    ``engine="ase"`` (default) runs each point with :func:`mdrunner.md.run_md`;
    ``engine="lammps"`` with :func:`mdrunner.lammps_engine.run_lammps_md` (each point's
    ``lammps`` settings; ``workers`` > 1 runs points in parallel, each a LAMMPS child);
    ``engine="torchsim"`` runs MACE points as batches of up to ``batch_size`` cells in one
    process with torch-sim (:func:`mdrunner.batched.run_sweep_batched`; ``workers`` is
    then unused). ``stop_after`` stops each run (or batch) after that many steps, to test
    interruption (serial runs only).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if engine == "lammps":
        for p in points:
            p.engine = engine
    write_json(out_dir / "sweep.json", {"engine": engine,
                                         "points": [asdict(p) | {"name": p.name}
                                                    for p in points]})
    if engine == "torchsim":
        from mdrunner.batched import run_sweep_batched

        return run_sweep_batched(points, out_dir, batch_size=batch_size,
                                 stop_after=stop_after, log=log)
    if engine not in ("ase", "lammps"):
        raise ValueError(f"unknown engine {engine!r}: ase, lammps or torchsim")
    results = []
    if workers <= 1:
        for p in points:
            r = run_point(p, out_dir, stop_after=stop_after)
            log(f"{p.name}: {'skipped (done)' if r.get('skipped') else r['status']}")
            results.append(r)
            if r.get("status") == "interrupted" and stop_after is None:
                log("stopped (SIGTERM/SIGINT): rerun the same command to resume")
                break
        return results
    import multiprocessing

    # spawn, not fork: the parent may hold threads (torch, numba, h5py) that fork would copy
    # in a locked state
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as ex:
        futs = {ex.submit(run_point, p, out_dir): p for p in points}
        for fut in as_completed(futs):
            r = fut.result()
            p = futs[fut]
            log(f"{p.name}: {'skipped (done)' if r.get('skipped') else r['status']}")
            results.append(r)
    return results


# SweepPoint, versions and read_run_json live in mdrunner.points (shared with the batched
# engine); they stay importable from here.
__all__ = ["SweepPoint", "make_points", "read_run_json", "run_point", "run_sweep", "versions"]
