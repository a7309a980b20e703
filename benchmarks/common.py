"""Small helpers shared by the benchmarks: machine description, timing, JSON results."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

#: Where results are written: ``benchmarks/results`` (committed), or the folder named by the
#: environment variable ``HCANALYSIS_BENCH_RESULTS`` (the test suite's smoke run writes there,
#: so running the tests never overwrites measured results).
COMMITTED_RESULTS = Path(__file__).resolve().parent / "results"
RESULTS = Path(os.environ.get("HCANALYSIS_BENCH_RESULTS") or COMMITTED_RESULTS)


def machine_info() -> dict:
    """CPU model, core count, memory, Python / numpy / numba versions and the load average."""
    import numba
    import numpy as np

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    mem = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "numba_threads": numba.get_num_threads(),
        "memory_gib": mem,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "platform": platform.platform(),
    }


def best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    """Best wall time (s) of ``repeat`` calls of ``fn``."""
    best = float("inf")
    for _ in range(max(repeat, 1)):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def write_results(name: str, data: dict) -> Path:
    """Write ``data`` (with the machine description added) to ``results/<name>.json``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    payload = {"machine": machine_info(), **data}
    out.write_text(json.dumps(payload, indent=2, default=float) + "\n")
    return out


def markdown_table(df: pd.DataFrame) -> str:
    """A DataFrame as a GitHub Markdown table, floats to 3 significant digits."""
    def fmt(v) -> str:
        return f"{v:.3g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_table(df: pd.DataFrame, stem: Path) -> None:
    """Write ``stem.csv`` (4 significant digits) and ``stem.md`` and print the table."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(stem.with_suffix(".csv"), index=False, float_format="%.4g")
    stem.with_suffix(".md").write_text(markdown_table(df))
    print(df.to_string(index=False))


def msd_at_lag(positions, dt_ps: float, lag_ps: float) -> float:
    """Ion- and time-origin-averaged MSD (Å²) of unwrapped ``(n_frames, n_ions, 3)`` positions
    (Å) at the lag nearest ``lag_ps`` (ps); NaN when that lag is 0 or not inside the run."""
    k = int(round(lag_ps / dt_ps))
    if k >= len(positions) or k < 1:
        return float("nan")
    return float(((positions[k:] - positions[:-k]) ** 2).sum(-1).mean())
