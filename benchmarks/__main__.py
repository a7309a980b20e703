"""Entry point: ``python -m benchmarks run [--quick] [--gpu] [--only NAMES]``.

Runs each ``benchmarks/bench_<name>.py`` in its own process (so one family's memory peak and
JIT warm-up do not bleed into another's), passing ``--quick`` / ``--gpu`` on, prints their
tables, and gathers the JSON each writes under ``benchmarks/results/`` into one summary file.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import RESULTS, machine_info

HERE = Path(__file__).resolve().parent
ORDER = ["msd", "hops", "neighbors", "voids", "tortuosity", "io", "h5md", "pipeline"]


def available() -> list[str]:
    """Benchmark names (``bench_<name>.py``) in run order."""
    names = [p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py")]
    return sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


def run(names: list[str], quick: bool, gpu: bool) -> dict:
    summary: dict = {"machine": machine_info(), "quick": quick, "gpu": gpu, "benchmarks": {}}
    for name in names:
        cmd = [sys.executable, "-m", f"benchmarks.bench_{name}"]
        if quick:
            cmd.append("--quick")
        if gpu:
            cmd.append("--gpu")
        print(f"\n=== bench_{name}: {' '.join(cmd[1:])}", flush=True)
        before = {p: p.stat().st_mtime for p in RESULTS.glob("*.json")}
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=HERE.parent, text=True, capture_output=True)
        wall = time.perf_counter() - t0
        print(proc.stdout, end="")
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
        written = [
            p for p in RESULTS.glob("*.json")
            if not p.name.startswith("summary")
            and (p not in before or p.stat().st_mtime > before[p])
        ]
        summary["benchmarks"][name] = {
            "returncode": proc.returncode,
            "wall_s": round(wall, 2),
            "results": {p.name: json.loads(p.read_text()) for p in written},
        }
    return summary


def ratios(obj, path: str = "") -> list[tuple[str, float]]:
    """Every number under a key naming a ratio or speed-up, with its JSON path."""
    found: list[tuple[str, float]] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            key = f"{path}.{k}" if path else str(k)
            if isinstance(v, int | float) and ("ratio" in str(k) or "speedup" in str(k)):
                found.append((key, float(v)))
            else:
                found.extend(ratios(v, key))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            found.extend(ratios(v, f"{path}[{i}]"))
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks")
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run the benchmarks")
    r.add_argument("--quick", action="store_true", help="small sizes (CI smoke test)")
    r.add_argument("--gpu", action="store_true", help="also time the CUDA kernels")
    r.add_argument("--only", default="", help="comma-separated names, e.g. msd,hops")
    sub.add_parser("list", help="list the benchmarks")
    args = ap.parse_args(argv)
    if args.command == "list":
        print("\n".join(available()))
        return 0
    names = [n for n in args.only.split(",") if n] or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        ap.error(f"unknown benchmark(s) {unknown}; have {available()}")
    summary = run(names, args.quick, args.gpu)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"summary{'_quick' if args.quick else ''}{'_gpu' if args.gpu else ''}.json"
    out.write_text(json.dumps(summary, indent=2, default=float) + "\n")
    print("\n=== ratios (> 1: hcanalysis faster than the peer named in the key)")
    for name, v in summary["benchmarks"].items():
        for key, val in ratios(v["results"]):
            print(f"{name:12s} {key:90s} {val:8.2f}")
    failed = [n for n, v in summary["benchmarks"].items() if v["returncode"] != 0]
    print(f"\nwrote {out}" + (f"; FAILED: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
