"""The whole ``hcanalysis analyze`` (every stage) on the big ``make_big`` trajectory.

``python -m benchmarks.bench_big BIG.h5 OUTDIR [--window-ps 1000] [--max-memory 512MiB]
[--collect LOG] [--name big_analyze]``

Runs ``/usr/bin/time -v hcanalysis analyze BIG.h5 -o OUTDIR --window N --force`` with the
default configuration (all stages: msd, hops, structure, voids, tortuosity, then modes,
importance and the report) apart from the window, given in ps and converted to frames with the
file's frame interval, and ``--max-memory`` when given. With ``--collect LOG`` it reads the
log of such a run made earlier instead (the log must hold the ``/usr/bin/time -v`` output and
the ``hcanalysis`` progress lines, and the benchmark's ``# bench_big`` start/end lines).

It writes ``benchmarks/results/<name>.json`` and ``.md``:

* the file (path, bytes, frames, atoms, ions, frame interval) and the window;
* per-stage seconds: the descriptor stages from the descriptor table's metadata
  (``stage_seconds``: msd+hops in one streamed pass, structure, voids, tortuosity), the
  phases around them from the timestamps of the progress lines (start-up and load, the
  descriptor phase, modes, importance, the report with its 3D view), 1 s resolution;
* total wall, user and system time and peak RSS (``/usr/bin/time -v``, the whole process
  tree's largest RSS), the load average sampled every 10 s during the run (mean, max, and at
  start and end), whether the Numba cache was warm, and the machine;
* a sanity check of the output: the three mobility classes of the synthetic walkers (per-frame
  step σ = 0.02, 0.08, 0.25 Å per axis, :class:`benchmarks.make_big.LazyHCSource`) against the
  per-ion MSD at the mobility lag (median per class against the model 3 σ² n + 6 × 0.1² Å²
  of a Gaussian walk of n frames with the 0.1 Å thermal jitter) and the D per class against
  σ² / (2 Δt), and the modes summary (names, fractions, status, verdict).

For a fair share of this 2-core machine start it with ``setsid`` and raise its autogroup
(``echo -15 > /proc/<PID>/autogroup``); the load average is reported beside the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from benchmarks.common import RESULTS, machine_info
from benchmarks.out_of_core import _time_v

ROOT = Path(__file__).resolve().parent.parent

#: The progress lines' stage messages, in the order they appear, and the phase each begins.
PHASES = (("descriptors 1/", "descriptors"), ("modes", "modes"),
          ("importance", "importance"), ("report", "report"))
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) hcanalysis: (.*)$")


def file_info(path: Path) -> dict:
    """Size, frames, atoms, Na count and frame interval (ps) of an H5MD file."""
    import h5py

    with h5py.File(path, "r") as f:
        pos = f["particles/all/position"]
        shape = pos["value"].shape
        t = pos["time"]
        dt = float(t[1] - t[0]) if t.shape and t.shape[0] > 1 else float(t[()])
        chunks = pos["value"].chunks
    return {"path": str(path), "bytes": path.stat().st_size, "n_frames": int(shape[0]),
            "n_atoms": int(shape[1]), "dt_ps": dt, "chunks": list(chunks or ())}


def command(big: Path, out: Path, window: int, budget: str | None) -> list[str]:
    """The measured command line."""
    exe = Path(sys.executable).parent / "hcanalysis"
    extra = ["--max-memory", budget] if budget else []
    return ["/usr/bin/time", "-v", str(exe), "analyze", str(big), "-o", str(out),
            "--window", str(window), *extra, "--force"]


class LoadSampler(threading.Thread):
    """Samples the 1-minute load average every ``every`` seconds until stopped."""

    def __init__(self, every: float = 10.0) -> None:
        super().__init__(daemon=True)
        self.every = every
        self.samples: list[float] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.samples.append(os.getloadavg()[0])
            self._halt.wait(self.every)

    def stop(self) -> dict:
        self._halt.set()
        self.join()
        s = np.asarray(self.samples or [np.nan])
        return {"samples": len(self.samples), "mean_1min": round(float(s.mean()), 2),
                "max_1min": round(float(s.max()), 2), "first_1min": round(float(s[0]), 2),
                "last_1min": round(float(s[-1]), 2)}


def phases(log: str, start: float | None, end: float | None) -> dict:
    """Seconds of each phase from the timestamps of the progress lines (1 s resolution):
    ``startup`` (process start to the first descriptor line: imports, load, warm-up start),
    ``descriptors``, ``modes``, ``importance``, ``report`` (to the process end)."""
    marks: list[tuple[str, float]] = []
    for line in log.splitlines():
        m = _STAMP.match(line.strip())
        if not m:
            continue
        t = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").timestamp()
        for key, name in PHASES:
            msg = m.group(2).strip()
            hit = msg.startswith(key) if key.endswith("/") else msg == key
            if hit and name not in dict(marks):
                marks.append((name, t))
    out: dict[str, float] = {}
    if start is not None and marks:
        out["startup"] = round(marks[0][1] - start, 1)
    for (name, t0), nxt in zip(marks, [*marks[1:], ("end", end)], strict=True):
        if nxt[1] is not None:
            out[name] = round(nxt[1] - t0, 1)
    return out


def sanity(out: Path, info: dict) -> dict:
    """The synthetic walkers' three mobility classes in the run's output, and the modes."""
    import h5py

    from benchmarks.make_big import LazyHCSource
    from hcanalysis.table import DescriptorTable

    res: dict = {}
    table = DescriptorTable.read(out / "descriptors.h5")
    df = table.frame
    n_ions = int(df["ion"].max()) + 1
    src = LazyHCSource(n_frames=2, n_ions=n_ions, n_carbon=info["n_atoms"] - n_ions)
    sigma = src.sigma  # per ion, Å per frame per axis (the generator's own draw)
    meta = table.metadata.get("per_trajectory", [{}])[0]
    dt = float(info["dt_ps"])
    lag_ps = float(meta.get("msd", {}).get("mobility_lag_ps", np.nan))
    per_ion = df.groupby("ion")[[c for c in ("msd_lag", "D") if c in df]].median()
    row_sigma = sigma[df["ion"].to_numpy()]
    classes = []
    for s in sorted(set(np.round(sigma, 3))):
        ions = np.flatnonzero(np.isclose(sigma, s))
        rows = df[np.isclose(row_sigma, s)]
        row = {"sigma_A": float(s), "n_ions": int(len(ions))}
        if "msd_lag" in rows and np.isfinite(lag_ps):
            n = lag_ps / dt
            row["msd_lag_median_A2"] = round(float(rows["msd_lag"].median()), 4)
            row["msd_lag_model_A2"] = round(3 * s**2 * n + 6 * 0.1**2, 4)
        if "D" in rows and rows["D"].notna().any():
            # over (ion, window) rows: a single row's D is skewed (its median is ~15 % below
            # the mean), the mean is the estimator to compare with the model
            row["D_mean_A2_per_ps"] = round(float(rows["D"].mean()), 5)
            row["D_median_A2_per_ps"] = round(float(rows["D"].median()), 5)
            row["D_model_A2_per_ps"] = round(s**2 / (2 * dt), 5)
        if "hop_rate" in rows:
            row["hop_rate_mean_per_ps"] = round(float(rows["hop_rate"].mean()), 4)
        classes.append(row)
    res["mobility_lag_ps"] = lag_ps
    res["mobility_classes"] = classes
    med = [c.get("msd_lag_median_A2", np.nan) for c in classes]
    res["classes_ordered"] = bool(np.all(np.diff(med) > 0))
    if "msd_lag" in df:
        from scipy.stats import spearmanr

        rho = spearmanr(sigma, per_ion["msd_lag"].to_numpy()).statistic
        res["spearman_sigma_vs_msd_lag"] = round(float(rho), 3)
    with h5py.File(out / "modes.h5", "r") as f:
        res["modes"] = {"names": json.loads(f.attrs["mode_names"]),
                        "fractions": json.loads(f.attrs["fractions"]),
                        "status": str(f.attrs["status"]), "verdict": str(f.attrs["verdict"])}
    res["rows"] = len(df)
    res["descriptor_columns"] = [c for c in df.columns if c not in
                                 ("trajectory", "ion", "window", "atom_index", "t_start_ps",
                                  "t_stop_ps", "mode", "mode_name")]
    res["nan_fraction"] = {c: round(float(df[c].isna().mean()), 3)
                           for c in res["descriptor_columns"] if df[c].isna().any()}
    res["reports"] = meta.get("reports", {})
    return res


def markdown(res: dict) -> str:
    """The short summary written beside the JSON."""
    f, r = res["file"], res["run"]
    lines = [f"# `hcanalysis analyze`, every stage, on the big make_big file ({res['date']})",
             "", f"`{res['command']}`", "",
             f"File {f['bytes'] / 1e9:.1f} GB: {f['n_frames']:,} frames x {f['n_atoms']:,} "
             f"atoms ({res['n_ions']:,} Na), Δt {f['dt_ps']:g} ps; window "
             f"{res['window_frames']:,} frames ({res['window_ps']:g} ps), "
             f"{res['n_windows']} windows; Numba cache warm: {res['numba_cache_warm']}.", "",
             "| stage | seconds |", "|---|---:|"]
    for k, v in res["descriptor_stage_seconds"].items():
        lines.append(f"| descriptors: {k} | {v:.1f} |")
    for k, v in res["phase_seconds"].items():
        lines.append(f"| phase: {k} | {v:.1f} |")
    lines += ["", f"Total wall **{r['wall_s']:.1f} s**, user {r['user_s']:.1f} s, system "
              f"{r['system_s']:.1f} s, peak RSS **{r['process_peak_rss_mb']:.0f} MB** "
              f"(descriptor phase {res['descriptor_peak_rss_mb']} MB); load average during the "
              f"run: mean {res['load']['mean_1min']}, max {res['load']['max_1min']} "
              f"(2 cores).", ""]
    s = res.get("sanity", {})
    if s:
        lines += ["Mobility classes of the synthetic walkers, over their (ion, window) rows:",
                  "", "| σ (Å/frame) | ions | MSD at lag, median (Å²) | model | D, mean "
                  "(median) (Å²/ps) | model | hop rate, mean (1/ps) |",
                  "|---:|---:|---:|---:|---:|---:|---:|"]
        for c in s["mobility_classes"]:
            lines.append(f"| {c['sigma_A']} | {c['n_ions']} | {c.get('msd_lag_median_A2')} | "
                         f"{c.get('msd_lag_model_A2')} | {c.get('D_mean_A2_per_ps')} "
                         f"({c.get('D_median_A2_per_ps')}) | {c.get('D_model_A2_per_ps')} | "
                         f"{c.get('hop_rate_mean_per_ps')} |")
        m = s["modes"]
        lines += ["", f"MSD lag {s['mobility_lag_ps']:g} ps; Spearman ρ(σ, per-ion MSD) = "
                  f"{s.get('spearman_sigma_vs_msd_lag')}. Modes: {m['status']}; "
                  f"{m['verdict']}", ""]
    return "\n".join(lines) + "\n"


def numba_cache_warm() -> bool:
    """Whether hcanalysis' kernels were compiled before (:func:`hcanalysis.warmup`)."""
    from hcanalysis.warmup import kernels_cached

    return kernels_cached()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_big", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("big", type=Path)
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--window-ps", type=float, default=1000.0,
                    help="window length, ps (default 1000: 5 windows of a 5,000 ps run)")
    ap.add_argument("--max-memory", default=None, help="e.g. 512MiB (default: none given)")
    ap.add_argument("--collect", type=Path, default=None,
                    help="log of a run made earlier (instead of running it)")
    ap.add_argument("--name", default="big_analyze")
    args = ap.parse_args(argv)
    info = file_info(args.big)
    window = int(round(args.window_ps / info["dt_ps"]))
    cmd = command(args.big, args.outdir, window, args.max_memory)
    warm = numba_cache_warm()
    if args.collect:
        text = args.collect.read_text()
        stamps = re.findall(r"# bench_big (start|end) ([\d.]+)", text)
        t = {k: float(v) for k, v in stamps}
        start, end = t.get("start"), t.get("end")
        load = json.loads(re.search(r"# bench_big load (.*)", text).group(1)) \
            if "# bench_big load" in text else {}
    else:
        log = args.outdir.parent / f"{args.outdir.name}.bench_big.log"  # live, for `tail -f`
        sampler = LoadSampler()
        sampler.start()
        start = time.time()
        with open(log, "w") as fh:
            fh.write(f"# bench_big start {start}\n")
            fh.flush()
            proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
            end = time.time()
            load = sampler.stop()
            fh.write(f"# bench_big end {end}\n# bench_big load {json.dumps(load)}\n")
        text = log.read_text()
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed (log {log}):\n{text[-4000:]}")
    run = _time_v(text)
    sysm = re.search(r"System time \(seconds\): ([\d.]+)", text)
    run["system_s"] = float(sysm.group(1)) if sysm else None
    from hcanalysis.table import DescriptorTable

    cache = sorted((args.outdir / "cache").glob("*.h5"))
    meta = DescriptorTable.read(cache[-1]).metadata if cache else {}
    res = {
        "date": datetime.now().strftime("%Y-%m-%d %H:%M"),
        "command": " ".join(cmd[2:]),
        "file": info, "n_ions": meta.get("n_ions"),
        "window_ps": args.window_ps, "window_frames": window,
        "n_windows": meta.get("n_windows"), "max_memory": args.max_memory,
        "numba_cache_warm": warm,
        "descriptor_stage_seconds": meta.get("stage_seconds", {}),
        "descriptor_seconds": meta.get("total_seconds"),
        "descriptor_peak_rss_mb": meta.get("peak_rss_mb"),
        "phase_seconds": phases(text, start, end),
        "run": run, "load": load,
        "sanity": sanity(args.outdir, info),
        "machine": machine_info(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{args.name}.json"
    path.write_text(json.dumps(res, indent=2, default=float) + "\n")
    (RESULTS / f"{args.name}.md").write_text(markdown(res))
    print(json.dumps({k: res[k] for k in ("descriptor_stage_seconds", "phase_seconds", "run",
                                          "load")}, indent=1, default=float))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
