"""Benchmark B3 of the neighbors family: per-ion Na–Na and Na–C neighbour counts at 3.5 Å.

Side by side, in one run, per frame (cell list / tree built anew every frame, as in a
trajectory pass), both coordination numbers:

* hcanalysis cell list (Numba CPU; and CUDA when a real GPU is present);
* freud ``locality.AABBQuery`` and ``locality.LinkCell`` (``neighbor_counts`` of the
  neighbour list);
* MDAnalysis ``lib.distances.capped_distance`` / ``self_capped_distance`` (auto method).

Cases: ``B3`` of the issue (1,000 Na + 10,000 C, cubic 51.1 Å cell = hard-carbon density
1.5 g/cm³, 1,000 frames) and ``B3-dense`` (2,000 Na + 20,000 C in a 60 Å cell). Frames are
cycled from a pool of distinct random frames (uniform positions). Counts of every method
are checked equal on the first frame. Usage::

    python -m benchmarks.bench_neighbors            # full: 1,000 frames (B3), 200 (B3-dense)
    python -m benchmarks.bench_neighbors --quick    # < 30 s
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.common import write_results
from hcanalysis.kernels import neighbors as K
from hcanalysis.kernels.backend import _real_gpu_present

CUTOFF = 3.5


def _frames(n_na: int, n_c: int, L: float, pool: int, seed: int = 3):
    rng = np.random.default_rng(seed)
    return [(rng.uniform(0, L, (n_na, 3)), rng.uniform(0, L, (n_c, 3))) for _ in range(pool)]


def _ours(backend: str):
    def run(na, c, box):
        a = K.neighbor_counts(na, c, box, CUTOFF, backend=backend).counts[:, 0]
        b = K.neighbor_counts(na, None, box, CUTOFF, backend=backend).counts[:, 0]
        return a, b

    return run


def _freud(kind: str):
    import freud

    def run(na, c, box):
        fbox = freud.box.Box.from_matrix(box.T)
        na32 = na.astype(np.float32)
        c32 = c.astype(np.float32)
        if kind == "aabb":
            qc, qn = freud.locality.AABBQuery(fbox, c32), freud.locality.AABBQuery(fbox, na32)
        else:
            qc = freud.locality.LinkCell(fbox, c32, CUTOFF)
            qn = freud.locality.LinkCell(fbox, na32, CUTOFF)
        a = qc.query(na32, {"r_max": CUTOFF}).toNeighborList().neighbor_counts
        b = qn.query(na32, {"r_max": CUTOFF, "exclude_ii": True}).toNeighborList()
        return a, b.neighbor_counts

    return run


def _mda():
    from MDAnalysis.lib.distances import capped_distance, self_capped_distance
    from MDAnalysis.lib.mdamath import triclinic_box

    def run(na, c, box):
        dims = triclinic_box(*box)
        p = capped_distance(na, c, CUTOFF, box=dims, return_distances=False)
        a = np.bincount(p[:, 0], minlength=len(na))
        s = self_capped_distance(na, CUTOFF, box=dims, return_distances=False)
        b = np.bincount(s.ravel(), minlength=len(na))
        return a, b

    return run


def _time(fn, frames, n_frames: int, box) -> float:
    fn(*frames[0], box)  # warm-up (compilation, thread pools)
    t0 = time.perf_counter()
    for k in range(n_frames):
        na, c = frames[k % len(frames)]
        fn(na, c, box)
    return time.perf_counter() - t0


def run_case(name: str, n_na: int, n_c: int, L: float, n_frames: int, pool: int,
             linkcell_frames: int = 10) -> dict:
    box = np.eye(3) * L
    frames = _frames(n_na, n_c, L, pool)
    methods = {"hcanalysis_cpu": _ours("cpu")}
    if _real_gpu_present():
        methods["hcanalysis_cuda"] = _ours("cuda")
    methods["freud_aabb"] = _freud("aabb")
    methods["freud_linkcell"] = _freud("linkcell")
    methods["mdanalysis_capped_distance"] = _mda()
    ref = methods["hcanalysis_cpu"](*frames[0], box)
    for m, fn in methods.items():
        a, b = fn(*frames[0], box)
        # float32 peers may differ on pairs within ~1e-5 Å of the cutoff
        if not (np.abs(np.asarray(a) - ref[0]).sum() <= 2 and
                np.abs(np.asarray(b) - ref[1]).sum() <= 2):
            raise AssertionError(f"{m}: counts differ from hcanalysis on frame 0")
    times, timed = {}, {}
    for m, fn in methods.items():
        # freud's LinkCell is two orders slower here: timed on a few frames, scaled linearly
        timed[m] = min(n_frames, linkcell_frames) if m == "freud_linkcell" else n_frames
        times[m] = _time(fn, frames, timed[m], box) * n_frames / timed[m]
        print(f"  {name:9s} {m:28s} {times[m]:8.3f} s  ({1e3 * times[m] / n_frames:7.2f} ms/frame"
              f", {timed[m]} frames timed)", flush=True)
    ours = times["hcanalysis_cpu"]
    ratios = {f"{m}_over_hcanalysis_cpu": times[m] / ours for m in times if m != "hcanalysis_cpu"}
    for k, v in ratios.items():
        print(f"  {name:9s} {k:50s} {v:6.2f}x")
    return {
        "n_na": n_na, "n_c": n_c, "box_A": L, "cutoff_A": CUTOFF, "n_frames": n_frames,
        "mean_na_c": float(ref[0].mean()), "mean_na_na": float(ref[1].mean()),
        "seconds": times, "ms_per_frame": {m: 1e3 * t / n_frames for m, t in times.items()},
        "frames_timed": timed, "ratios": ratios,
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few frames (< 30 s)")
    ap.add_argument("--gpu", action="store_true", help="accepted for the runner; the CUDA "
                    "kernel is timed whenever a real GPU is present")
    args = ap.parse_args(argv)
    cases = [("B3", 1000, 10000, 51.1, 20 if args.quick else 1000, 10 if args.quick else 20),
             ("B3-dense", 2000, 20000, 60.0, 5 if args.quick else 200, 5 if args.quick else 10)]
    out = {"benchmark": "B3 neighbour counts (Na-Na and Na-C at 3.5 A, per frame)",
           "quick": bool(args.quick), "cases": {}}
    for name, n_na, n_c, L, nf, pool in cases:
        out["cases"][name] = run_case(name, n_na, n_c, L, nf, pool, 3 if args.quick else 10)
    path = write_results("neighbors_cpu_quick" if args.quick else "neighbors_cpu", out)
    print(f"results -> {path}")
    return out


if __name__ == "__main__":
    main()
