"""Entry point: ``python -m benchmarks run [--quick] [--gpu] [--only NAMES | --all]``.

Runs each ``benchmarks/bench_<name>.py`` in its own process (so one family's memory peak and
JIT warm-up do not bleed into another's), passing ``--quick`` / ``--gpu`` on, prints their
tables, and gathers the JSON each writes under ``benchmarks/results/`` into one summary file
(``summary[_quick][_gpu].json``) with the machine and the combined ratio table (benchmark,
case, ours, peer, times, ratio = peer time / ours), which it also prints; and draws the MSD
scaling plot (time vs frames and vs ions, log-log, with the peers' lines) from the MSD
benchmark's results to ``results/scaling[_quick].png``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import COMMITTED_RESULTS, RESULTS, machine_info
from benchmarks.report import format_table, ratio_rows, scaling_plot

HERE = Path(__file__).resolve().parent
ORDER = ["msd", "hops", "neighbors", "voids", "tortuosity", "io", "h5md", "pipeline", "modes"]


def available() -> list[str]:
    """Benchmark names (``bench_<name>.py``) in run order."""
    names = [p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py")]
    return sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


def default_set() -> list[str]:
    """What ``run`` runs without ``--only``/``--all``: B1-B6 and the readers (``ORDER``); the
    others (e.g. ``md``, mdrunner's MD throughput, not a comparison with peers) on request."""
    return [n for n in available() if n in ORDER]


def run(names: list[str], quick: bool, gpu: bool) -> dict:
    summary: dict = {"machine": machine_info(), "quick": quick, "gpu": gpu, "benchmarks": {}}
    for name in names:
        cmd = [sys.executable, "-m", f"benchmarks.bench_{name}"]
        if quick:
            cmd.append("--quick")
        if gpu:
            cmd += gpu_flags(name)
        print(f"\n=== bench_{name}: {' '.join(cmd[1:])}", flush=True)
        before = {p: p.stat().st_mtime for p in RESULTS.glob("*.json")}
        t0 = time.perf_counter()
        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run(cmd, cwd=HERE.parent, text=True, capture_output=True)
        wall = time.perf_counter() - t0
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
        print(proc.stdout, end="")
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
        written = [  # this benchmark's files of this mode (not another run's beside it)
            p for p in RESULTS.glob(f"{name}_*.json")
            if p.stem.endswith("_quick") == quick
            and (p not in before or p.stat().st_mtime > before[p])
        ]
        summary["benchmarks"][name] = {
            "returncode": proc.returncode,
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),  # all its threads; on a shared machine, what it needed
            "results": {p.name: json.loads(p.read_text()) for p in written},
        }
    return summary


def gpu_flags(name: str) -> list[str]:
    """How a benchmark is asked to time its CUDA path: ``--gpu`` where it takes it, else its
    ``--backend cuda`` / ``--device cuda`` option."""
    src = (HERE / f"bench_{name}.py").read_text()
    if '"--gpu"' in src:
        return ["--gpu"]
    if '"--backend"' in src:
        return ["--backend", "cuda"]
    if '"--device"' in src:
        return ["--device", "cuda"]
    return []


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


def existing_results(quick: bool) -> dict[str, dict]:
    """``{benchmark: {file name: JSON}}`` of the results files already written."""
    out: dict[str, dict] = {}
    for name in available():
        files = [p for p in sorted(RESULTS.glob(f"{name}_*.json"))
                 if p.stem.endswith("_quick") == quick]
        if files:
            out[name] = {p.name: json.loads(p.read_text()) for p in files}
    return out


def _plot(quick: bool) -> dict | None:
    """The MSD scaling plot from this mode's MSD results, else the other mode's (from the
    results folder, else the committed results)."""
    candidates = ["msd_cpu_quick.json", "msd_cpu.json"][:: 1 if quick else -1]
    msd_json = next((d / c for d in (RESULTS, COMMITTED_RESULTS) for c in candidates
                     if (d / c).is_file()), None)
    if msd_json is None:
        return None
    png = scaling_plot(msd_json, RESULTS / f"scaling{'_quick' if quick else ''}.png")
    print(f"scaling plot: {png} (from {msd_json.name})")
    return {"png": png.name if png else None, "from": msd_json.name}


def table_from_results(quick: bool) -> int:
    """Print the ratio table of the results on disk (each file's machine and date listed)."""
    res = existing_results(quick)
    for name, files in res.items():
        for fname, data in files.items():
            m = data.get("machine", {})
            stamp = (RESULTS / fname).stat().st_mtime
            print(f"{name:11s} {fname:28s} {time.strftime('%Y-%m-%d %H:%M', time.gmtime(stamp))}"
                  f" UTC  load {m.get('load_average')}")
    rows = [r for name, files in res.items() for r in ratio_rows(name, files)]
    print(format_table(rows))
    summary = {
        "machine": machine_info(), "quick": quick, "from_files": {
            f: {"benchmark": n, "written_utc": time.strftime(
                "%Y-%m-%d %H:%M", time.gmtime((RESULTS / f).stat().st_mtime)),
                "machine": d.get("machine")} for n, files in res.items() for f, d in files.items()},
        "ratio_table": rows, "scaling_plot": _plot(quick),
    }
    out = RESULTS / f"summary_table{'_quick' if quick else ''}.json"
    out.write_text(json.dumps(summary, indent=2, default=float) + "\n")
    print(f"wrote {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks")
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run the benchmarks")
    r.add_argument("--quick", action="store_true", help="small sizes (CI smoke test)")
    r.add_argument("--gpu", action="store_true", help="also time the CUDA kernels")
    r.add_argument("--only", default="", help="comma-separated names, e.g. msd,hops")
    r.add_argument("--all", action="store_true", help="every bench_*.py (also md)")
    t = sub.add_parser("table", help="the ratio table and the plot from the results JSON "
                       "already in benchmarks/results (no run)")
    t.add_argument("--quick", action="store_true", help="from the *_quick.json results")
    sub.add_parser("list", help="list the benchmarks")
    args = ap.parse_args(argv)
    if args.command == "list":
        print("\n".join(available()))
        return 0
    if args.command == "table":
        return table_from_results(args.quick)
    names = [n for n in args.only.split(",") if n] or (
        available() if args.all else default_set())
    unknown = sorted(set(names) - set(available()))
    if unknown:
        ap.error(f"unknown benchmark(s) {unknown}; have {available()}")
    summary = run(names, args.quick, args.gpu)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"summary{'_quick' if args.quick else ''}{'_gpu' if args.gpu else ''}.json"
    rows = [r for name, v in summary["benchmarks"].items()
            for r in ratio_rows(name, v["results"])]
    summary["ratio_table"] = rows
    m = summary["machine"]
    print(f"\n=== ratios (peer time / ours: > 1 means hcanalysis is faster); machine: "
          f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, load {m['load_average']}")
    print(format_table(rows))
    # the MSD scaling series of this run, else the last one written (quick or full)
    summary["scaling_plot"] = _plot(args.quick)
    out.write_text(json.dumps(summary, indent=2, default=float) + "\n")
    failed = [n for n, v in summary["benchmarks"].items() if v["returncode"] != 0]
    total = sum(v["wall_s"] for v in summary["benchmarks"].values())
    total_cpu = sum(v["cpu_s"] for v in summary["benchmarks"].values())
    print(f"\n{len(names)} benchmark(s): {total:.0f} s wall, {total_cpu:.0f} s CPU")
    print(f"wrote {out}" + (f"; FAILED: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
