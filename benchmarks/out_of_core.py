"""Out-of-core proof: ``hcanalysis analyze`` of a big H5MD file under a memory budget.

``python -m benchmarks.out_of_core BIG.h5 OUTDIR --max-memory 512MiB [--window 10000]
[--collect LOG]``

Runs ``/usr/bin/time -v hcanalysis analyze BIG.h5 -o OUTDIR --set stages=["msd","hops"]
--max-memory ... --window ...`` (or, with ``--collect LOG``, reads the log of such a run made
earlier, e.g. in the background), then writes ``benchmarks/results/out_of_core.json``:

* the whole process's peak RSS (``/usr/bin/time``: includes the modes/UMAP step and the
  report after the descriptors),
* the descriptor phase's peak RSS (``peak_rss_mb`` in the descriptor table's metadata: the
  streaming part that reads the trajectory),
* the baseline: the same analyze of a tiny trajectory of the same kind (imports, numba,
  UMAP: what any run costs), measured here in a child process,
* the budget, the ion chunks used and their positions' size, the file size, the ions' full
  positions in float64 (what an in-memory run would hold), and the times.

Make the file with ``python -m benchmarks.make_big BIG.h5``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import RESULTS, machine_info

ROOT = Path(__file__).resolve().parent.parent


def _cmd(big: Path, out: Path, budget: str, window: int, sets: list[str] = ()) -> list[str]:
    exe = Path(sys.executable).parent / "hcanalysis"
    extra = [a for s in sets for a in ("--set", s)]
    return ["/usr/bin/time", "-v", str(exe), "analyze", str(big), "-o", str(out),
            "--set", 'stages=["msd","hops"]', *extra, "--max-memory", budget,
            "--window", str(window), "--force"]


def _time_v(text: str) -> dict:
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text)
    user = re.search(r"User time \(seconds\): ([\d.]+)", text)
    secs = None
    if wall:
        parts = [float(p) for p in wall.group(1).split(":")]
        secs = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    return {"process_peak_rss_mb": int(peak.group(1)) / 1024 if peak else None,
            "wall_s": secs, "user_s": float(user.group(1)) if user else None}


def _descriptor_meta(out: Path) -> dict:
    from hcanalysis.table import DescriptorTable

    files = sorted((out / "cache").glob("*.h5"))
    if not files:
        return {}
    return DescriptorTable.read(files[-1]).metadata


def _shape(path: Path) -> tuple:
    import h5py

    with h5py.File(path, "r") as f:
        return f["particles/all/position/value"].shape


def _rss_log(path: Path) -> dict:
    """Summary of a sampler log (``epoch_s rss_kB cpu_ticks`` per line, every few seconds)."""
    import numpy as np

    rows = np.array([[float(x) for x in line.split()[:3]]
                     for line in path.read_text().splitlines() if len(line.split()) >= 3])
    rss = rows[:, 1] / 1024
    return {"samples": int(len(rows)), "seconds": float(rows[-1, 0] - rows[0, 0]),
            "max_mb": round(float(rss.max()), 1), "median_mb": round(float(np.median(rss)), 1),
            "p95_mb": round(float(np.percentile(rss, 95)), 1),
            "cpu_s": float(rows[-1, 2] - rows[0, 2]) / 100}


def _run(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}")
    return proc.stdout + proc.stderr


def baseline(budget: str, window: int, sets: list[str] = ()) -> dict:
    """The same analyze of a tiny trajectory of the same kind (what any run costs)."""
    from benchmarks.make_big import write_big

    with tempfile.TemporaryDirectory() as tmp:
        tiny = Path(tmp) / "tiny.h5"
        write_big(tiny, 400, 200, 2000, None, progress=False)
        text = _run(_cmd(tiny, Path(tmp) / "out", budget, min(window, 100), sets))
        res = _time_v(text)
        res["descriptor_peak_rss_mb"] = _descriptor_meta(Path(tmp) / "out").get("peak_rss_mb")
        res["case"] = "400 frames, 200 Na, 2,000 C"
    return res


_COMPUTE = """
import json, sys
from hcanalysis import load
from hcanalysis.config import AnalysisConfig
from hcanalysis.descriptors import compute
cfg = AnalysisConfig()
cfg.stages = ["msd", "hops"]
for s in json.loads(sys.argv[4]):
    cfg.set_from_string(s)
cfg.max_memory = int(sys.argv[2])
cfg.windows.window = int(sys.argv[3])
m = compute(load(sys.argv[1]), cfg).metadata
print("META " + json.dumps({k: m[k] for k in ("peak_rss_mb", "total_seconds", "reports")}))
"""


def descriptors_only(big: Path, budget: int, window: int, sets: list[str]) -> dict:
    """Peak RSS of a process that only computes the descriptor table (no modes/report)."""
    text = _run(["/usr/bin/time", "-v", sys.executable, "-c", _COMPUTE, str(big), str(budget),
                 str(window), json.dumps(list(sets))])
    meta = json.loads(text.split("META ", 1)[1].splitlines()[0])
    return {"budget_mb": budget / 2**20, **_time_v(text), **meta}


def main(argv: list[str] | None = None) -> int:
    from hcanalysis.cli.analyze_cmd import parse_bytes

    ap = argparse.ArgumentParser(prog="python -m benchmarks.out_of_core", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("big", type=Path)
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--max-memory", default="512MiB")
    ap.add_argument("--window", type=int, default=10_000)
    ap.add_argument("--collect", type=Path, default=None,
                    help="log of a `/usr/bin/time -v hcanalysis analyze` run made earlier")
    ap.add_argument("--name", default="out_of_core")
    ap.add_argument("--also-budgets", default="",
                    help="comma-separated budgets (e.g. 256MiB) for descriptor-only runs")
    ap.add_argument("--rss-log", action="append", default=[], metavar="LABEL=PATH",
                    help="an RSS sampler log (lines: epoch_s rss_kB cpu_ticks) to summarise")
    ap.add_argument("--set", dest="sets", action="append", default=[],
                    help="extra `--set` of the analyze command, e.g. msd.remove_drift=null")
    args = ap.parse_args(argv)
    text = args.collect.read_text() if args.collect else _run(
        _cmd(args.big, args.outdir, args.max_memory, args.window, args.sets))
    run = _time_v(text)
    meta = _descriptor_meta(args.outdir)
    budget = parse_bytes(args.max_memory)
    n_frames, n_ions = int(meta["n_frames"]), int(meta["n_ions"])
    chunk = re.search(r"(\d+) ion chunk\(s\) of <= (\d+) ions", meta["reports"]["dynamics"])
    n_chunks, per_chunk = int(chunk.group(1)), int(chunk.group(2))
    pos_chunk_mb = per_chunk * n_frames * 3 * 8 / 2**20
    base = baseline(args.max_memory, args.window, args.sets)
    desc_peak = float(meta["peak_rss_mb"])
    base_desc = float(base["descriptor_peak_rss_mb"])
    res = {
        "command": " ".join(_cmd(args.big, args.outdir, args.max_memory, args.window,
                                 args.sets)[2:]),
        "file": {"path": str(args.big), "bytes": args.big.stat().st_size,
                 "shape": list(_shape(args.big)), "n_ions": n_ions},
        "budget_bytes": budget, "budget_mb": budget / 2**20,
        "ion_chunks": n_chunks, "ions_per_chunk": per_chunk,
        "positions_chunk_mb": round(pos_chunk_mb, 1),
        "all_ion_positions_float64_mb": round(n_ions * n_frames * 24 / 2**20, 1),
        "descriptor_phase_peak_rss_mb": desc_peak,
        "process_peak_rss_mb": run["process_peak_rss_mb"],
        "baseline_tiny_run": base,
        "descriptor_peak_over_baseline_mb": round(desc_peak - base_desc, 1),
        "bound_budget_plus_positions_chunk_mb": round(budget / 2**20 + pos_chunk_mb, 1),
        "within_bound": desc_peak - base_desc <= budget / 2**20 + pos_chunk_mb,
        "stage_seconds": meta.get("stage_seconds"),
        "descriptor_seconds": meta.get("total_seconds"),
        "wall_s": run["wall_s"], "user_s": run["user_s"],
        "reports": meta.get("reports"),
        "machine": machine_info(),
    }
    res["descriptor_only_runs"] = [
        descriptors_only(args.big, parse_bytes(b), args.window, args.sets)
        for b in args.also_budgets.split(",") if b]
    res["rss_samples"] = {label: _rss_log(Path(p)) for label, p in
                          (x.split("=", 1) for x in args.rss_log)}
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{args.name}.json"
    path.write_text(json.dumps(res, indent=2, default=float) + "\n")
    print(json.dumps({k: v for k, v in res.items() if k not in ("machine", "reports")},
                     indent=1, default=float))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
