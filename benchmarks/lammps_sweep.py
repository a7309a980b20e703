"""Summarise an ``mdrunner sweep --engine lammps`` directory into a compact per-run table.

Per finished run (``run.json`` status ``done``): carbon density, Na loading, ions, analysed
time (after ``--skip-ps`` of equilibration), hops (p_hop with the data's automatic half
window and threshold, :func:`hcanalysis.hops.detect` defaults), the ion-averaged Na MSD at
10, 50 and 200 ps lag, the local log-log slope between 50 and 200 ps lag, the diffusive range
found by :func:`hcanalysis.msd_fit.find_fit_range` (slope 1 ± 0.1 over a factor >= 3 in lag)
with the generalised-least-squares D and its 95 % interval where one exists
(:func:`hcanalysis.msd.diffusion`), the mean potential energy per Na and the engine's speed.
With ``--frameworks``, also ``carbon_report`` of each distinct framework (one per density and
seed: every loading of a seed shares its carbon) into ``<out>_frameworks.csv``.

    python -m benchmarks.lammps_sweep SWEEP_DIR --out benchmarks/results/lammps_sweep
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import msd_at_lag, write_table


def _epot_per_na(run_dir: Path, n_na: int) -> float:
    """Mean Epot per Na over the logged production steps, eV (rigid framework: Epot is the
    Na-C + Na-Na Lennard-Jones energy only)."""
    vals = [float(m.group(1)) for line in (run_dir / "md.log").read_text().splitlines()
            if line.startswith("step ") and (m := re.search(r"Epot = (-?[\d.]+) eV", line))]
    return float(np.mean(vals[1:])) / n_na if len(vals) > 1 else float("nan")


def summarise_run(run_dir: Path, skip_ps: float) -> dict | None:
    import hcanalysis
    from hcanalysis import hops, msd

    meta = json.loads((run_dir / "run.json").read_text())
    if meta.get("status") != "done":
        return None
    traj = hcanalysis.load(run_dir / "traj.h5")
    dt = traj.dt_ps
    na = traj.positions("Na", unwrap=True)[int(round(skip_ps / dt)):]
    ev = hops.detect(na, dt_ps=dt)
    span_ns = (len(na) - 1) * dt / 1000.0
    d = msd.diffusion(na, dt, window=len(na), max_lag=len(na) // 2)
    fr = d.range

    def msd_at(lag_ps: float) -> float:
        return msd_at_lag(na, dt, lag_ps)

    res = meta.get("result", {})
    ci = d.D_gls_ci95
    return dict(
        run=run_dir.name, carbon_density=round(meta["carbon_density"], 3),
        loading=meta["loading"], n_na=meta["n_na"], n_c=meta["n_carbon"],
        temperature_K=meta["temperature"], time_ps=round(span_ns * 1000, 1),
        frame_ps=round(dt, 3), ions_hopping=int(ev["ion"].nunique()),
        hop_fraction=ev["ion"].nunique() / na.shape[1],
        hops_per_ion_per_ns=len(ev) / na.shape[1] / span_ns,
        msd_10ps=msd_at(10.0), msd_50ps=msd_at(50.0), msd_200ps=msd_at(200.0),
        slope_50_200ps=float(np.log(msd_at(200.0) / msd_at(50.0)) / np.log(4.0)),
        diffusive=bool(fr.found),
        fit_ps=(f"{fr.lo * dt:.1f}-{fr.hi * dt:.1f}" if fr.found else ""),
        D_A2_per_ps=d.D_gls, D_lo=float(ci[0]), D_hi=float(ci[1]),
        epot_per_na_eV=_epot_per_na(run_dir, meta["n_na"]),
        ns_per_day=res.get("ns_per_day"),
        cpu_ms_per_step=1e3 * res.get("cpu_s_per_step", float("nan")),
    )


def framework_row(run_dir: Path) -> dict:
    """:func:`mdrunner.lammps_builders.carbon_report` of a run's start structure's carbon."""
    from ase.io import read

    from mdrunner.lammps_builders import carbon_report

    meta = json.loads((run_dir / "run.json").read_text())
    rep, notes = carbon_report(read(run_dir / "start.extxyz"), warn=False)
    rings = rep.pop("rings", None)
    psd = rep.pop("psd", {})
    rep.update({f"pore_{k}": psd[k] for k in ("void_fraction", "median_radius_A", "max_radius_A")
                if k in psd})
    row = {"carbon_density": round(meta["carbon_density"], 3), "seed": meta["seed"],
           "n_c": meta["n_carbon"], **{k: v for k, v in rep.items() if np.isscalar(v)}}
    if rings is not None:
        get = (lambda k: rings.get(k, rings.get(str(k), 0))) if isinstance(rings, dict) \
            else (lambda k: rings[k])
        row["rings_5_6_7"] = "/".join(str(int(get(k))) for k in (5, 6, 7))
    row["not_hard_carbon_like"] = "; ".join(notes)
    return row


def main(argv=None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("sweep", type=Path)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/lammps_sweep"))
    ap.add_argument("--skip-ps", type=float, default=50.0,
                    help="equilibration discarded at the start of each run, ps")
    ap.add_argument("--frameworks", action="store_true",
                    help="also carbon_report each distinct framework")
    args = ap.parse_args(argv)
    if args.frameworks:
        seen, fw = set(), []
        for d in sorted(args.sweep.glob("*/run.json")):
            m = json.loads(d.read_text())
            key = (round(m["carbon_density"], 2), m["seed"])
            if key not in seen:
                seen.add(key)
                fw.append(framework_row(d.parent))
        fdf = pd.DataFrame(fw).sort_values(["carbon_density", "seed"])
        stem = args.out.with_name(args.out.name + "_frameworks")
        write_table(fdf, stem)
    rows = [r for d in sorted(args.sweep.glob("*/run.json"))
            if (r := summarise_run(d.parent, args.skip_ps)) is not None]
    df = pd.DataFrame(rows)
    write_table(df, args.out)
    return df


if __name__ == "__main__":
    main()
