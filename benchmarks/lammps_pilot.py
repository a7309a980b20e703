"""Summarise an ``mdrunner sweep --engine lammps`` directory into a compact table.

Per run: carbon density, Na loading, ions, simulated time, how many ions hop (p_hop events
with a 1 ps half-window, automatic threshold), hop events per ion per ns, the ion-averaged
Na MSD at 10 and 50 ps lag, its local log-log slope between 20 and 60 ps lag (1 =
diffusive), and the engine's speed. Only finished runs (``run.json`` status ``done``).

    python -m benchmarks.lammps_pilot SWEEP_DIR [--out benchmarks/results/lammps_pilot]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import msd_at_lag, write_table


def summarise_run(run_dir: Path) -> dict | None:
    import hcanalysis
    from hcanalysis import hops

    meta = json.loads((run_dir / "run.json").read_text())
    if meta.get("status") != "done":
        return None
    traj = hcanalysis.load(run_dir / "traj.h5")
    na = traj.positions("Na", unwrap=True)
    dt = traj.dt_ps
    hw = max(2, int(round(1.0 / dt)))
    ev = hops.detect(na, half_window=hw, dt_ps=dt)
    span_ns = (traj.n_frames - 1) * dt / 1000.0

    def msd(lag_ps: float) -> float:
        return msd_at_lag(na, dt, lag_ps)

    res = meta.get("result", {})
    return dict(
        run=run_dir.name, carbon_density=meta["density"], loading=meta["loading"],
        n_na=meta["n_na"], n_c=meta["n_carbon"], temperature_K=meta["temperature"],
        time_ps=round(span_ns * 1000, 1), frame_ps=round(dt, 3),
        ions_hopping=int(ev["ion"].nunique()), hop_fraction=ev["ion"].nunique() / na.shape[1],
        hops_per_ion_per_ns=len(ev) / na.shape[1] / span_ns,
        msd_10ps=msd(10.0), msd_50ps=msd(50.0),
        slope_20_60ps=float(np.log(msd(60.0) / msd(20.0)) / np.log(3.0)),
        ns_per_day=res.get("ns_per_day"), cpu_ms_per_step=1e3 * res.get("cpu_s_per_step",
                                                                         float("nan")),
    )


def main(argv=None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("sweep", type=Path)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/lammps_pilot"))
    args = ap.parse_args(argv)
    rows = [r for d in sorted(args.sweep.glob("*/run.json"))
            if (r := summarise_run(d.parent)) is not None]
    df = pd.DataFrame(rows)
    write_table(df, args.out)
    return df


if __name__ == "__main__":
    main()
