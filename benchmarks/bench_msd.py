"""Benchmark of the MSD family: per-ion all-origin MSD against the peers, in one run.

Side by side on the same float32 positions array (as trajectories store them):

* ``hcanalysis.msd.per_ion`` (Numba + scipy pocketfft, CPU; CUDA when a real GPU is there);
* MDAnalysis ``EinsteinMSD(fft=True)`` (``.run()`` on an in-memory Universe; building the
  Universe is not timed);
* freud ``msd.MSD(mode="window").compute``;
* tidynamics ``msd`` called per ion;
* the FFT floor: one float64 scipy rFFT + irFFT pair over the ``3 * n_ions`` series at the
  same padded length (``next_fast_len(2T)``) with all threads -- the bare transform cost.

Sizes: the reference point (500 ions x 4,000 frames), B1 (1,000 ions x 20,000 frames), and
scaling series in frames and in ions. Best of several runs; the memory peak of
``per_ion`` (tracemalloc, includes its output) is reported against the positions array.
Wall times and process CPU times (all threads; less sensitive to other jobs on a shared
machine) are both recorded. Results: ``benchmarks/results/msd_cpu.json``. Usage::

    python -m benchmarks.bench_msd            # everything (a few minutes)
    python -m benchmarks.bench_msd --quick    # < 30 s
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
import warnings

import numpy as np

from benchmarks.common import best_of, write_results
from hcanalysis import msd
from hcanalysis.kernels.backend import _real_gpu_present
from hcanalysis.kernels.msd import n_threads

REFERENCE = (500, 4000)
B1 = (1000, 20000)


def positions(n_ions: int, n_frames: int, seed: int = 11) -> np.ndarray:
    """A float32 random walk (Å) offset from the origin, like unwrapped MD coordinates."""
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.normal(scale=0.3, size=(n_frames, n_ions, 3)), axis=0)
    return (x + rng.uniform(0, 30, size=(1, n_ions, 3))).astype(np.float32)


def _mda_runner(x: np.ndarray):
    from MDAnalysis.analysis.msd import EinsteinMSD

    from hcanalysis import Trajectory

    u = Trajectory.from_arrays(x, np.diag([1000.0] * 3), ["Na"] * x.shape[1]).to_universe()

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return EinsteinMSD(u, select="all", msd_type="xyz", fft=True).run()

    return run


def _freud_runner(x: np.ndarray):
    import freud

    return lambda: freud.msd.MSD(mode="window").compute(x).particle_msd


def _tidynamics_runner(x: np.ndarray):
    import tidynamics

    return lambda: [tidynamics.msd(x[:, i]) for i in range(x.shape[1])]


def _floor_runner(x: np.ndarray):
    from scipy import fft as sfft

    n = sfft.next_fast_len(2 * x.shape[0], real=True)
    buf = np.zeros((3 * x.shape[1], n))
    workers = n_threads()

    def run():
        spec = sfft.rfft(buf, axis=1, workers=workers)
        return sfft.irfft(spec, n=n, axis=1, workers=workers)

    return run


def best_cpu_of(fn, repeat: int = 3) -> float:
    """Best process CPU time (s, all threads) of ``repeat`` calls: less sensitive than wall
    time to other jobs on a shared machine."""
    best = float("inf")
    for _ in range(max(repeat, 1)):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def _peak_bytes(fn) -> int:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return int(peak)


def _time_float64(x: np.ndarray, repeat: int) -> float:
    x64 = x.astype(np.float64)
    return best_of(lambda: msd.per_ion(x64, backend="cpu"), repeat)


def measure(n_ions: int, n_frames: int, repeat: int, peers: bool = True) -> dict:
    """Timings (s) of every tool at one size, and ratios (> 1: hcanalysis faster)."""
    x = positions(n_ions, n_frames)
    ours = lambda: msd.per_ion(x, backend="cpu")  # noqa: E731
    ours()  # JIT / cache load outside the timing
    row: dict = {"n_ions": n_ions, "n_frames": n_frames, "positions_mb": x.nbytes / 2**20}
    row["hcanalysis_s"] = best_of(ours, repeat)
    row["hcanalysis_float64_input_s"] = _time_float64(x, repeat)
    peak = _peak_bytes(ours)
    row["memory_peak_mb"] = peak / 2**20
    row["memory_peak_over_positions"] = peak / x.nbytes
    row["memory_peak_over_float64_positions"] = peak / (2 * x.nbytes)
    row["output_mb"] = n_ions * n_frames * 8 / 2**20
    row["hcanalysis_cpu_s"] = best_cpu_of(ours, repeat)
    floor = _floor_runner(x)
    row["fft_floor_s"] = best_of(floor, repeat)
    row["fft_floor_cpu_s"] = best_cpu_of(floor, repeat)
    del floor
    row["floor_over_hcanalysis_ratio"] = row["fft_floor_s"] / row["hcanalysis_s"]
    row["floor_over_hcanalysis_cpu_ratio"] = row["fft_floor_cpu_s"] / row["hcanalysis_cpu_s"]
    if peers:
        for name, make in (
            ("mdanalysis", _mda_runner),
            ("freud", _freud_runner),
            ("tidynamics", _tidynamics_runner),
        ):
            run = make(x)
            row[f"{name}_s"] = best_of(run, repeat)
            row[f"speedup_vs_{name}"] = row[f"{name}_s"] / row["hcanalysis_s"]
            row[f"{name}_cpu_s"] = best_cpu_of(run, 1)
            row[f"cpu_speedup_vs_{name}"] = row[f"{name}_cpu_s"] / row["hcanalysis_cpu_s"]
            del run
    if _real_gpu_present():  # pragma: no cover - needs a GPU
        gpu = lambda: msd.per_ion(x, backend="cuda")  # noqa: E731
        gpu()
        row["hcanalysis_cuda_s"] = best_of(gpu, repeat)
        row["speedup_cuda_vs_cpu"] = row["hcanalysis_s"] / row["hcanalysis_cuda_s"]
    return row


def _print(row: dict) -> None:
    cols = [k for k in row if k.endswith("_s") and not k.endswith("cpu_s")]
    ratios = [k for k in row if "ratio" in k or "speedup" in k]
    head = f"{row['n_ions']:>5} ions x {row['n_frames']:>6} frames: "
    print(head + "  ".join(f"{k[:-2]} {row[k]:.3f}s" for k in cols), flush=True)
    print(
        " " * len(head)
        + "  ".join(f"{k} {row[k]:.2f}" for k in ratios)
        + f"  mem peak {row['memory_peak_mb']:.0f} MB"
        f" ({row['memory_peak_over_positions']:.2f}x float32 positions,"
        f" {row['memory_peak_over_float64_positions']:.2f}x float64)",
        flush=True,
    )


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_msd")
    ap.add_argument("--quick", action="store_true", help="reference size + small series (< 30 s)")
    ap.add_argument("--gpu", action="store_true", help="accepted for the runner; CUDA is timed "
                    "whenever a real GPU is present")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    repeat = 2 if args.quick else 5
    results: dict = {"quick": args.quick, "repeat": repeat, "threads": n_threads()}
    print("reference point (targets: >= 2x MDAnalysis, >= 1.5x freud, within 1.5x of the "
          "FFT floor, memory <= 2x positions)")
    results["reference"] = measure(*REFERENCE, repeat)
    _print(results["reference"])
    if args.quick:
        frames = [2000]
        ions = [250]
    else:
        frames = [1000, 2000, 4000, 8000, 16000, 32000]
        ions = [100, 250, 500, 1000, 2000]
        print("B1")
        results["B1"] = measure(*B1, 3)
        _print(results["B1"])
    print("scaling in frames (500 ions)")
    results["scaling_frames"] = []
    for f in frames:
        results["scaling_frames"].append(measure(500, f, repeat))
        _print(results["scaling_frames"][-1])
    print("scaling in ions (4000 frames)")
    results["scaling_ions"] = []
    for n in ions:
        results["scaling_ions"].append(measure(n, 4000, repeat))
        _print(results["scaling_ions"][-1])
    results["wall_s"] = time.perf_counter() - t0
    out = write_results("msd_cpu_quick" if args.quick else "msd_cpu", results)
    print(f"wrote {out} in {results['wall_s']:.1f} s")
    return results


if __name__ == "__main__":
    main()
