"""B1-B6 and the pipeline, two source trees side by side in one interleaved run (issue 17).

``before`` and ``after`` are two checkouts of the project (e.g. ``git worktree add
/work/wt-before 31a7349 --detach`` and the current main). Every timed run is a fresh process
with ``PYTHONPATH`` set to one tree; the runs alternate A B A B ... so that the load of a shared
machine falls on both alike. Round 0 compiles each tree's Numba cache and is dropped; each later
round times every case once per tree. Each worker loads its input (written once by ``prepare``,
so both trees see the same bytes), makes one small call that loads the cached kernels (B1
and B2: one untimed full-size call, see ``FULL_WARM_UP``), then times the case: ``cpu_s``
(``time.process_time``, all threads of the process) and ``wall_s``. Only the project's own
code is timed (the peers of ``python -m benchmarks run`` are not part of a before/after
comparison).

Cases (the public array-level contracts, identical in both trees; sizes of the issue's B1-B5):

======  ===============================================================================
B1      ``msd.per_ion`` of 1,000 ions x 20,000 frames (float32 random walk)
B2      ``hops.p_hop`` of 1,000 ions x 20,000 frames, half-window 25 (float64 input), 5 calls
B3      ``kernels.neighbors.neighbor_counts`` Na-C and Na-Na, 1,000 Na + 10,000 C, 51.1 Å,
        1,000 frames
B4      ``voids.tessellate`` of the 50 Å amorphous-carbon cube at 0.25 Å (200³) + its PSD
B5      ``tortuosity.global_tortuosity`` (3 axes) + ``tortuosity.local`` (1,000 ions) on the
        B4 void grid
B6      ``pipeline.analyze`` of the bundled sample (AnalysisConfig defaults; modes, importance,
        report included)
======  ===============================================================================

Usage::

    python benchmarks/protocol_ab.py prepare --data /tmp/ab
    python benchmarks/protocol_ab.py run --data /tmp/ab --before /work/wt-before \\
        --after /work/main --rounds 4 [--cases B1,B2] [--threads 1]
    python benchmarks/protocol_ab.py worker B1 --data /tmp/ab      # one timed case (internal)

``run`` adds the run to ``benchmarks/results/protocol_ab.json`` (key ``b1_b6_interleaved``)
and writes ``protocol_ab.md``: per case and tree the median of the timed rounds, the spread
(max - min over the rounds, relative to the median), the ratio after / before, the paired
ratios (after / before within each round, the same load), and the load average over the run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CASES = ["B1", "B2", "B3", "B4", "B5", "B6"]
B3_POOL = 10
B3_FRAMES = 1000
B2_CALLS = 5
#: Cases run once untimed at full size before the timed call: their time is mostly fresh
#: memory (page faults of the outputs), which depended on which tree ran first in a round
#: (1.8 s vs 0.45 s for B2 in the first run) until the process had touched that much memory.
FULL_WARM_UP = {"B1", "B2"}
B3_L = 51.1


# ------------------------------------------------------------------------------- inputs
def prepare(data: Path) -> None:
    """Write every case's input under ``data`` (generated once, with this tree's code)."""
    sys.path.insert(0, str(HERE.parent))
    from benchmarks.bench_hops import _positions as hop_positions
    from benchmarks.bench_msd import positions as msd_positions
    from benchmarks.bench_voids import amorphous_carbon

    data.mkdir(parents=True, exist_ok=True)
    np.save(data / "b1.npy", msd_positions(1000, 20000))
    np.save(data / "b2.npy", hop_positions(20000, 1000))
    rng = np.random.default_rng(3)
    np.savez(data / "b3.npz", na=np.stack([rng.uniform(0, B3_L, (1000, 3))
                                           for _ in range(B3_POOL)]),
             c=np.stack([rng.uniform(0, B3_L, (10000, 3)) for _ in range(B3_POOL)]))
    pos = amorphous_carbon(50.0, n_voids=12)
    np.save(data / "b4.npy", pos)
    from hcanalysis import voids

    box = np.diag([50.0] * 3)
    d = voids.distance_field(pos, box, np.full(len(pos), 1.7), (200, 200, 200), backend="cpu")
    mask = d >= 0.0
    rng = np.random.default_rng(1)
    vp = np.argwhere(mask)
    ions = (vp[rng.choice(len(vp), 1000, replace=False)] + rng.random((1000, 3)) - 0.5) * 0.25
    np.save(data / "b5_mask.npy", mask)
    np.save(data / "b5_ions.npy", ions)
    import shutil

    shutil.copy(HERE.parent / "hcanalysis" / "data" / "sample.h5", data / "sample.h5")
    print(f"inputs in {data}")


# ------------------------------------------------------------------------------- worker
def _case(name: str, data: Path):
    """``(warm-up callable, timed callable, checksum of the result)`` of one case."""
    if name == "B1":
        from hcanalysis import msd

        x = np.load(data / "b1.npy")
        return (lambda: msd.per_ion(x[:64, :8], backend="cpu"),
                lambda: msd.per_ion(x, backend="cpu"),
                lambda r: float(np.asarray(r, dtype=float).mean()))
    if name == "B2":
        from hcanalysis import hops

        x = np.load(data / "b2.npy")
        return (lambda: hops.p_hop(x[:200, :4], 25, backend="cpu"),
                lambda: [hops.p_hop(x, 25, backend="cpu") for _ in range(B2_CALLS)][-1],
                lambda r: float(np.asarray(r, dtype=float).mean()))
    if name == "B3":
        from hcanalysis.kernels import neighbors as K

        z = np.load(data / "b3.npz")
        na, c = z["na"], z["c"]
        box = np.eye(3) * B3_L

        def run():
            tot = 0
            for k in range(B3_FRAMES):
                j = k % B3_POOL
                tot += int(K.neighbor_counts(na[j], c[j], box, 3.5, backend="cpu").counts.sum())
                tot += int(K.neighbor_counts(na[j], None, box, 3.5, backend="cpu").counts.sum())
            return tot

        return (lambda: K.neighbor_counts(na[0][:50], c[0][:200], box, 3.5, backend="cpu"),
                run, float)
    if name == "B4":
        from hcanalysis import voids

        pos = np.load(data / "b4.npy")
        box = np.diag([50.0] * 3)
        species = ["C"] * len(pos)
        return (lambda: voids.tessellate(pos[:50], np.diag([8.0] * 3), species[:50],
                                         spacing=1.0, backend="cpu").psd(5),
                lambda: (lambda vm: (vm.porosity, vm.lcd, vm.psd(40)))(voids.tessellate(
                    pos, box, species, spacing=0.25, backend="cpu")),
                lambda r: float(r[0]) + float(r[1]))
    if name == "B5":
        from hcanalysis import tortuosity as T

        mask = np.load(data / "b5_mask.npy")
        ions = np.load(data / "b5_ions.npy")
        box = np.diag([50.0] * 3)
        small = np.ones((8, 8, 8), dtype=bool)

        def warm():
            T.global_tortuosity(small, max_starts=2, backend="cpu")
            T.local(small, [[1.0, 1.0, 1.0]], radius=2.0, backend="cpu")

        def run():
            vg = T.as_void_grid(mask, box=box)
            g = T.global_tortuosity(vg, backend="cpu")
            loc = T.local(vg, ions, backend="cpu")
            return g, loc

        return (warm, run, lambda r: float(np.nansum(r[0].tau) + np.nanmedian(r[1].tau)))
    if name == "B6":
        import tempfile
        import warnings

        from hcanalysis.config import AnalysisConfig
        from hcanalysis.pipeline import analyze

        tmp = Path(tempfile.mkdtemp(prefix="ab_b6_"))

        def run():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return analyze([data / "sample.h5"], tmp / "out", AnalysisConfig(), force=True)

        def check(r):
            t = r.table
            return float(np.nansum(t["log_D"])) if "log_D" in t else float(len(t))

        return (lambda: None, run, check)
    raise SystemExit(f"unknown case {name!r}; known: {', '.join(CASES)}")


def worker(name: str, data: Path) -> dict:
    """Time one case in this process (the tree on ``PYTHONPATH``); returns the record."""
    import hcanalysis

    warm, run, check = _case(name, data)
    warm()
    if name in FULL_WARM_UP:
        run()
    w0, c0 = time.perf_counter(), time.process_time()
    res = run()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    import resource

    return {"case": name, "cpu_s": cpu, "wall_s": wall, "check": check(res),
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "hcanalysis": str(Path(hcanalysis.__file__).parent.parent)}


# ---------------------------------------------------------------------------------- run
def _spawn(tree: Path, case: str, data: Path, threads: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree), NUMBA_NUM_THREADS=str(threads),
               OMP_NUM_THREADS=str(threads), MPLBACKEND="Agg")
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "worker", case,
                           "--data", str(data)], env=env, cwd=tree, text=True,
                          capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{case} in {tree} failed:\n{proc.stderr[-3000:]}")
    rec = json.loads(proc.stdout.strip().splitlines()[-1])
    if Path(rec["hcanalysis"]).resolve() != tree.resolve():
        raise RuntimeError(f"{case}: imported hcanalysis from {rec['hcanalysis']}, not {tree}")
    return rec


def _git_rev(tree: Path) -> str:
    return subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                          text=True, capture_output=True).stdout.strip()


def run(data: Path, trees: dict[str, Path], cases: list[str], rounds: int, threads: int,
        out: Path) -> dict:
    """Round 0 (compilation, dropped) then ``rounds - 1`` timed rounds, trees alternated
    (the first tree of a round alternates too)."""
    names = list(trees)
    recs: dict[str, dict[str, list[dict]]] = {c: {n: [] for n in names} for c in cases}
    loads = []
    t0 = time.perf_counter()
    for r in range(rounds):
        for case in cases:
            order = names if (r % 2 == 0) else names[::-1]
            for n in order:
                rec = _spawn(trees[n], case, data, threads)
                rec["round"] = r
                rec["load_average"] = list(os.getloadavg())
                loads.append(rec["load_average"][0])
                if r > 0:
                    recs[case][n].append(rec)
                print(f"round {r} {case} {n:6s} cpu {rec['cpu_s']:7.2f} s  wall "
                      f"{rec['wall_s']:7.2f} s  load {rec['load_average'][0]:.2f}"
                      + ("  (compile round, dropped)" if r == 0 else ""), flush=True)
    summary = summarise(recs, names)
    result = {
        "benchmark": "B1-B6 (ours only), before vs after in one interleaved run (issue 17)",
        "method": __doc__.split("\n\n")[1].replace("\n", " "),
        "trees": {n: {"path": str(p), "commit": _git_rev(p)} for n, p in trees.items()},
        "numba_threads": threads, "rounds_timed": rounds - 1,
        "load_average_1min": {"min": min(loads), "median": float(np.median(loads)),
                              "max": max(loads)},
        "run_wall_s": round(time.perf_counter() - t0, 1),
        "summary": summary, "runs": recs,
    }
    record(result, out)
    print(markdown(result))
    return result


def summarise(recs: dict[str, dict[str, list[dict]]], names: list[str]) -> dict:
    """Per case: each tree's median CPU and wall time and spread ((max - min) / median), the
    ratio of the medians after / before, the paired ratios (after / before of each round,
    both under that round's load: median, min, max) and whether both trees gave the same
    result (the worker's checksum)."""
    b, a = names
    summary = {}
    for case, by_tree in recs.items():
        row: dict = {}
        for n in names:
            for key in ("cpu_s", "wall_s"):
                v = np.array([x[key] for x in by_tree[n]])
                med = float(np.median(v))
                row[f"{n}_{key}"] = round(med, 3)
                row[f"{n}_{key}_spread"] = round(float((v.max() - v.min()) / med), 3)
            row[f"{n}_check"] = by_tree[n][0]["check"]
        for key in ("cpu_s", "wall_s"):
            row[f"ratio_{key}"] = round(row[f"{a}_{key}"] / row[f"{b}_{key}"], 3)
            paired = np.array([y[key] / x[key] for x, y in zip(by_tree[b], by_tree[a],
                                                               strict=True)])
            row[f"paired_ratio_{key}"] = round(float(np.median(paired)), 3)
            row[f"paired_ratio_{key}_range"] = [round(float(paired.min()), 3),
                                                round(float(paired.max()), 3)]
        row["same_result"] = bool(np.isclose(row[f"{a}_check"], row[f"{b}_check"],
                                             rtol=1e-6, equal_nan=True))
        summary[case] = row
    return summary


def record(result: dict, out: Path) -> None:
    """Add the run to ``out.json`` under ``"b1_b6_interleaved"``, keyed by ``before..after``
    commits (keeping what the file held: earlier runs, the descriptors.compute before/after),
    and write ``out.md`` with all of them, the newest first."""
    path = out.with_suffix(".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(path.read_text()) if path.is_file() else {}
    runs = data.get("b1_b6_interleaved", {})
    if "summary" in runs:  # one run stored without a key
        runs = {"..".join(t["commit"] for t in runs["trees"].values()): runs}
    runs["..".join(t["commit"] for t in result["trees"].values())] = result
    data["b1_b6_interleaved"] = runs
    path.write_text(json.dumps(data, indent=1) + "\n")
    lines = [markdown(r) for r in reversed(list(runs.values()))]
    if "summary" in data:  # the descriptors.compute comparison recorded before
        lines += ["", "## descriptors.compute on the sample (recorded earlier)", "",
                  data.get("benchmark", ""), "", data.get("method", ""), "",
                  "| tree | CPU s (mean) | wall s (mean) | CPU ratio | wall ratio |",
                  "|---|---|---|---|---|"]
        for tree, row in data["summary"].items():
            lines.append(f"| {tree} | {row['cpu_s_mean']} | {row['wall_s_mean']} | "
                         f"{row.get('cpu_ratio_vs_before', 1.0)} | "
                         f"{row.get('wall_ratio_vs_before', 1.0)} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


def markdown(result: dict) -> str:
    """The summary as a Markdown table."""
    b, a = list(result["trees"])
    tb, ta = result["trees"][b]["commit"], result["trees"][a]["commit"]
    ld = result["load_average_1min"]
    lines = [
        f"# B1-B6 before ({b} = {tb}) / after ({a} = {ta}), one interleaved run",
        "",
        f"Median of {result['rounds_timed']} timed rounds per case and tree (fresh process each,"
        f" Numba threads {result['numba_threads']}, warm cache; round 0 dropped); spread = "
        "(max - min) / median over the rounds; ratio = after / before (> 1: slower). "
        f"1-min load average during the run: {ld['min']:.2f}-{ld['max']:.2f} (median "
        f"{ld['median']:.2f}) on {os.cpu_count()} cores; run {result['run_wall_s']:.0f} s.",
        "",
        "| case | before CPU s | after CPU s | CPU ratio | paired CPU ratio (range) | "
        "CPU spread b / a | before wall s | after wall s | wall ratio | wall spread b / a | "
        "same result |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case, r in result["summary"].items():
        lo, hi = r["paired_ratio_cpu_s_range"]
        lines.append(
            f"| {case} | {r[f'{b}_cpu_s']:.2f} | {r[f'{a}_cpu_s']:.2f} | {r['ratio_cpu_s']:.3f} | "
            f"{r['paired_ratio_cpu_s']:.3f} ({lo:.2f}-{hi:.2f}) | "
            f"{r[f'{b}_cpu_s_spread']:.0%} / {r[f'{a}_cpu_s_spread']:.0%} | "
            f"{r[f'{b}_wall_s']:.2f} | {r[f'{a}_wall_s']:.2f} | {r['ratio_wall_s']:.3f} | "
            f"{r[f'{b}_wall_s_spread']:.0%} / {r[f'{a}_wall_s_spread']:.0%} | "
            f"{'yes' if r['same_result'] else 'NO'} |")
    notes = result.get("notes", [])
    if notes:
        lines += ["", *[f"- {n}" for n in notes]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python benchmarks/protocol_ab.py",
                                 description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--data", type=Path, required=True)
    w = sub.add_parser("worker")
    w.add_argument("case")
    w.add_argument("--data", type=Path, required=True)
    r = sub.add_parser("run")
    r.add_argument("--data", type=Path, required=True)
    r.add_argument("--before", type=Path, required=True)
    r.add_argument("--after", type=Path, required=True)
    r.add_argument("--rounds", type=int, default=4, help="rounds incl. the compile round 0")
    r.add_argument("--cases", default=",".join(CASES))
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--out", type=Path, default=HERE / "results" / "protocol_ab")
    t = sub.add_parser("table", help="re-summarise and record a run's JSON (its 'runs')")
    t.add_argument("run_json", type=Path)
    t.add_argument("--out", type=Path, default=HERE / "results" / "protocol_ab")
    args = ap.parse_args(argv)
    if args.cmd == "table":
        result = json.loads(args.run_json.read_text())
        runs = result.get("b1_b6_interleaved", result)
        result = runs if "runs" in runs else list(runs.values())[-1]
        result["summary"] = summarise(result["runs"], list(result["trees"]))
        record(result, args.out)
        print(markdown(result))
    elif args.cmd == "prepare":
        prepare(args.data)
    elif args.cmd == "worker":
        print(json.dumps(worker(args.case, args.data)))
    else:
        run(args.data, {"before": args.before, "after": args.after},
            [c.strip() for c in args.cases.split(",") if c.strip()], args.rounds, args.threads,
            args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
