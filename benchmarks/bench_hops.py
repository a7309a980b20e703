"""Benchmark B2 of the hops family: p_hop on 1,000 ions x 20,000 frames.

Side by side, in one run:

* :func:`hcanalysis.hops.p_hop` with the Numba running-sum kernel (CPU; and CUDA when a real
  GPU is present), in its default float32 output and in float64, each both into a freshly
  allocated array (a plain call) and into a reused buffer (``out=``, steady-state chunked use);
  B2's target compares the reused-buffer float32 time with the floor (see ``target_note``);
* a vectorised numpy running-sum (whole-trajectory cumulative sums) version;
* the naive numpy O(T w) reference (timed on a slice of frames and scaled linearly in T,
  since it takes minutes on the full array);
* the memory-bound floor: one read of the positions array (a Numba parallel sum over all
  threads, or numpy's sum when that is faster); B2's target is p_hop within 3x of it;
* for reference, one write of a freshly allocated output array (allocation, first touch and
  the write of n_frames x n_ions float64 / float32: what a call returning a new p_hop array
  pays on top of the read; not part of the target);
* the whole :func:`hcanalysis.hops.detect` pipeline.

There is no direct peer library for p_hop. Usage::

    python -m benchmarks.bench_hops            # B2: 1000 ions x 20000 frames
    python -m benchmarks.bench_hops --quick    # < 30 s
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from numba import njit, prange

from benchmarks.common import best_of, write_results
from hcanalysis import hops
from hcanalysis.kernels import hops as K
from hcanalysis.kernels.backend import _real_gpu_present


@njit(parallel=True, cache=True, fastmath=True)
def _sum_flat(flat):
    n_chunks = 256
    acc = np.zeros(n_chunks)
    step = (flat.size + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        s = 0.0
        for k in range(c * step, min((c + 1) * step, flat.size)):
            s += flat[k]
        acc[c] = s
    return acc.sum()


def _read_once(x):
    """One streaming read of the array (vectorised parallel sum)."""
    return _sum_flat(x.reshape(-1))


@njit(parallel=True, cache=True)
def _fill_flat(flat, value):
    n_chunks = 256
    step = (flat.size + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        for k in range(c * step, min((c + 1) * step, flat.size)):
            flat[k] = value


def _write_fresh(shape, dtype=np.float64):
    """Allocate an array of ``shape`` and write it once (parallel)."""
    out = np.empty(shape, dtype=dtype)
    _fill_flat(out.reshape(-1), 0.0)
    return out


def _best_interleaved(fns: dict, repeat: int) -> dict[str, float]:
    """Best wall time (s) of each function over ``repeat`` rounds, one call of each per round."""
    best = {k: float("inf") for k in fns}
    for _ in range(max(repeat, 1)):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t0)
    return best


def _positions(n_frames: int, n_ions: int, seed: int = 7) -> np.ndarray:
    """Caged ions (sigma 0.1 Å) that hop 2 Å at random about every 2,000 frames."""
    rng = np.random.default_rng(seed)
    jumps = rng.random((n_frames, n_ions)) < 1 / 2000
    steps = rng.normal(size=(n_frames, n_ions, 3))
    steps *= (2.0 / np.linalg.norm(steps, axis=2) * jumps)[..., None]
    x = np.cumsum(steps, axis=0)
    x += rng.normal(scale=0.1, size=x.shape)
    return x


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, < 30 s")
    ap.add_argument("--half-window", type=int, default=25)
    ap.add_argument("--repeat", type=int, default=5,
                    help="timings are the best of this many runs (default 5)")
    ap.add_argument("--gpu", action="store_true",
                    help="also time the CUDA kernel (it is timed whenever a GPU is present)")
    args = ap.parse_args(argv)
    n_ions, n_frames, naive_frames = (200, 5000, 400) if args.quick else (1000, 20000, 1000)
    w = args.half_window
    x = _positions(n_frames, n_ions)
    nbytes = x.nbytes
    print(f"p_hop: {n_ions} ions x {n_frames} frames, half_window={w}, "
          f"{nbytes / 2**20:.0f} MiB float64")

    # warm up the JIT on a small input (both output dtypes)
    for dt in (np.float32, np.float64):
        hops.p_hop(x[: 4 * w + 2, :4], w, backend="cpu", dtype=dt)
    _read_once(x[:10])
    _write_fresh((4, 4))
    _write_fresh((4, 4), np.float32)
    hops.detect(x[: 8 * w, :4], half_window=w, backend="cpu")

    # reused output buffers (what a chunked caller passes as out=), touched once beforehand
    buf32 = hops.p_hop(x, w, backend="cpu")
    buf64 = hops.p_hop(x, w, backend="cpu", dtype=np.float64)
    # the floor and the kernel are timed in alternation, so that both see the same machine
    # load; each time is the best of --repeat runs
    load_before = list(os.getloadavg())
    times: dict[str, float] = _best_interleaved(
        {
            "read_floor": lambda: _read_once(x),
            "read_floor_numpy": lambda: x.sum(),
            "numba_cpu": lambda: hops.p_hop(x, w, backend="cpu"),
            "numba_cpu_reused": lambda: hops.p_hop(x, w, backend="cpu", out=buf32),
            "numba_cpu_float64": lambda: hops.p_hop(x, w, backend="cpu", dtype=np.float64),
            "numba_cpu_float64_reused": lambda: hops.p_hop(x, w, backend="cpu", out=buf64),
            "output_write": lambda: _write_fresh((n_frames, n_ions)),
            "output_write_float32": lambda: _write_fresh((n_frames, n_ions), np.float32),
        },
        args.repeat,
    )
    load_after = list(os.getloadavg())
    times["read_floor"] = min(times["read_floor"], times.pop("read_floor_numpy"))
    times["numpy_cumsum"] = best_of(lambda: K.phop_cumsum_numpy(x, w), 1)
    xs = np.ascontiguousarray(x[:naive_frames])
    t_naive = best_of(lambda: K.phop_reference(xs, w), 1)
    times["numpy_naive_extrapolated"] = t_naive * (n_frames - 2 * w) / (naive_frames - 2 * w)
    times["detect_cpu"] = best_of(lambda: hops.detect(x, half_window=w, backend="cpu"), 3)
    if args.gpu and not _real_gpu_present():
        print("--gpu: no CUDA GPU visible; the CUDA kernel is not timed")
    if _real_gpu_present():
        hops.p_hop(x[: 4 * w + 2, :4], w, backend="cuda")
        times["numba_cuda"] = best_of(lambda: hops.p_hop(x, w, backend="cuda"), args.repeat)

    # correctness of what was timed (on a slice): float32 default and float64
    ref = K.phop_reference(xs[:, :50], w).T
    scale = np.nanmax(ref)
    err = float(np.nanmax(np.abs(hops.p_hop(xs[:, :50], w, backend="cpu") - ref)) / scale)
    err64 = float(
        np.nanmax(np.abs(hops.p_hop(xs[:, :50], w, backend="cpu", dtype=np.float64) - ref))
        / scale
    )

    floor = times["read_floor"]
    ratios = {
        "numba_cpu_reused_vs_read_floor": times["numba_cpu_reused"] / floor,
        "numba_cpu_vs_read_floor": times["numba_cpu"] / floor,
        "numba_cpu_float64_reused_vs_read_floor": times["numba_cpu_float64_reused"] / floor,
        "numba_cpu_float64_vs_read_floor": times["numba_cpu_float64"] / floor,
        "numpy_cumsum_vs_numba_cpu": times["numpy_cumsum"] / times["numba_cpu"],
        "numpy_naive_vs_numba_cpu": times["numpy_naive_extrapolated"] / times["numba_cpu"],
    }
    if "numba_cuda" in times:
        ratios["numba_cpu_vs_numba_cuda"] = times["numba_cpu"] / times["numba_cuda"]
    print(f"{'method':<28}{'time (s)':>12}{'GB/s':>10}")
    for k, v in times.items():
        print(f"{k:<28}{v:>12.4f}{nbytes / v / 1e9:>10.2f}")
    for k, v in ratios.items():
        print(f"{k:<28}{v:>12.2f}x")
    print(f"max relative deviation from the direct formula: {err:.2e} (float32 output), "
          f"{err64:.2e} (float64)")
    target = ratios["numba_cpu_reused_vs_read_floor"]
    print(f"B2 target (reused float32 buffer): {target:.2f}x the read floor "
          f"({'met' if target <= 3.0 else 'NOT met'}); fresh allocation: "
          f"{ratios['numba_cpu_vs_read_floor']:.2f}x; load average {load_before[0]:.2f} before, "
          f"{load_after[0]:.2f} after")
    result = {
        "benchmark": "B2 p_hop",
        "n_ions": n_ions,
        "n_frames": n_frames,
        "half_window": w,
        "bytes": nbytes,
        "output_dtype": "float32",
        "naive_timed_frames": naive_frames,
        "times_s": times,
        "ratios": ratios,
        "target_ratio": 3.0,
        "target_comparison": "numba_cpu_reused_vs_read_floor",
        "target_note": (
            "p_hop(x, w, out=buf): the default float32 output written into a reused buffer, "
            "the steady state of chunked callers (ion chunks, repeated analyses). A call that "
            "returns a new array also pays the operating system's zeroing of its fresh pages "
            "(numba_cpu, numba_cpu_vs_read_floor; output_write* time that alone); it is "
            "reported, not hidden, and is not what the target compares."
        ),
        "target_met": bool(target <= 3.0),
        "target_met_fresh_allocation": bool(ratios["numba_cpu_vs_read_floor"] <= 3.0),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "max_rel_error_vs_reference": err,
        "max_rel_error_vs_reference_float64": err64,
        "quick": bool(args.quick),
    }
    out = write_results("hops_cpu" + ("_quick" if args.quick else ""), result)
    print(f"results: {out}")
    return result


if __name__ == "__main__":
    main()
