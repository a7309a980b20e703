"""B6: the whole ``hcanalysis analyze`` against the sum of the peer steps on the same data.

Ours: :func:`hcanalysis.pipeline.analyze` (descriptors of every stage — MSD, hops, structure,
voids, tortuosity — then modes, importance and the HTML report), timed end to end in this
process after one warm-up run (numba caches, imports).

Peers, on the same trajectory with the same windows and sampled frames, summed:

* MDAnalysis ``EinsteinMSD(fft=True)`` per window on the unwrapped ions (per-ion MSDs);
* freud ``density.RDF`` (Na–Na and Na–C, 0–8 Å) and ``locality.AABBQuery`` neighbour counts
  (Na–Na, Na–C at the cutoffs our structure stage used) on the frames the structure stage
  samples;
* umap-learn ``UMAP`` + scikit-learn ``GaussianMixture`` (1..max_modes components, BIC) raw on
  our standardised descriptor columns.

The peers do less than ``analyze`` (no hops, voids, tortuosity, importance or report), so the
ratio (peer sum / ours) is a conservative lower bound of the speed-up.

Data: the bundled sample ``hcanalysis/data/sample.h5`` when present (else the synthetic
trajectory of ``tests/synthetic_traj.py``); without ``--quick`` also a larger synthetic case.

    python -m benchmarks.bench_pipeline [--quick] [--gpu]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from benchmarks.common import write_results

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "hcanalysis" / "data" / "sample.h5"


def _synthetic(path: Path, n_frames: int, n_mobile: int, n_caged: int) -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from synthetic_traj import make  # noqa: PLC0415

    from hcanalysis import write_h5md

    write_h5md(make(n_frames=n_frames, n_mobile=n_mobile, n_caged=n_caged, seed=3), path,
               overwrite=True, show_progress=False)
    return path


def _ours(path: Path, out: Path, cfg, repeat: int) -> tuple[float, object, dict]:
    """Best wall time of ``analyze``, its result, and the seconds of each of its steps
    (descriptors, modes, importance, report; from its progress messages) in that run."""
    from hcanalysis.pipeline import analyze
    from hcanalysis.progress import messages

    best, res, steps = float("inf"), None, {}
    for _ in range(repeat):
        marks: list[tuple[float, str]] = []
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = analyze([path], out, cfg, force=True,
                        progress=messages(lambda m, acc=marks: acc.append(
                            (time.perf_counter(), m))))
        t1 = time.perf_counter()
        if t1 - t0 < best:
            best, res = t1 - t0, r
            ends = [t for t, _ in marks[1:]] + [t1]
            steps = {m.split()[0].rstrip(":"): round(e - t, 3)
                     for (t, m), e in zip(marks, ends, strict=True)}
    return best, res, steps


def _peer_msd(traj, ion_pos: np.ndarray, bounds: np.ndarray) -> float:
    from MDAnalysis.analysis.msd import EinsteinMSD

    from hcanalysis import Trajectory

    u = Trajectory.from_arrays(ion_pos, traj.box(0), ["Na"] * ion_pos.shape[1]).to_universe()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for a, b in bounds:
            EinsteinMSD(u, select="all", msd_type="xyz", fft=True).run(start=int(a),
                                                                       stop=int(b))
    return time.perf_counter() - t0


def _peer_structure(traj, frames: np.ndarray, cfg, cutoffs: dict) -> float:
    import freud

    na_c = float(cutoffs.get("ion-C", 3.5))  # the cutoffs our structure stage chose
    na_na = float(cutoffs.get("ion-ion", 4.0))
    t0 = time.perf_counter()
    rdf_nc = freud.density.RDF(bins=160, r_max=min(8.0, 0.49 * traj.box(0)[0, 0]))
    rdf_nn = freud.density.RDF(bins=160, r_max=min(8.0, 0.49 * traj.box(0)[0, 0]))
    for f in frames:
        box = freud.box.Box.from_matrix(traj.box(int(f)).T)
        na = traj.positions(cfg.species, frames=[int(f)])[0].astype(np.float32)
        c = traj.positions(cfg.carbon, frames=[int(f)])[0].astype(np.float32)
        rdf_nc.compute((box, c), query_points=na, reset=False)
        rdf_nn.compute((box, na), reset=False)
        q = freud.locality.AABBQuery(box, c)
        q.query(na, {"r_max": na_c}).toNeighborList()
        q = freud.locality.AABBQuery(box, na)
        q.query(na, {"r_max": na_na, "exclude_ii": True}).toNeighborList()
    return time.perf_counter() - t0


def _peer_modes(table, cfg) -> float:
    import umap
    from sklearn.mixture import GaussianMixture
    from sklearn.preprocessing import StandardScaler

    skip = {"trajectory", "ion", "window", "atom_index", "t_start_ps", "t_stop_ps", "mode",
            "mode_name"}
    cols = [c for c in table.columns if c not in skip and table[c].dtype.kind == "f"]
    x = table[cols].to_numpy(dtype=float)
    x = np.nan_to_num(x, nan=np.nanmean(x) if np.isfinite(x).any() else 0.0)
    t0 = time.perf_counter()
    z = StandardScaler().fit_transform(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        umap.UMAP(n_neighbors=min(cfg.modes.n_neighbors, len(z) - 1),
                  min_dist=cfg.modes.min_dist, random_state=cfg.seed).fit_transform(z)
        for k in range(1, min(cfg.modes.max_modes, len(z)) + 1):
            GaussianMixture(k, random_state=cfg.seed).fit(z).bic(z)
    return time.perf_counter() - t0


def case(name: str, path: Path, repeat: int, gpu: bool = False, warm: bool = True) -> dict:
    from hcanalysis import load
    from hcanalysis.config import AnalysisConfig
    from hcanalysis.descriptors import plan_for, sample_frames

    cfg = AnalysisConfig()
    traj = load(path)
    ctx = plan_for(traj, cfg)
    with tempfile.TemporaryDirectory() as tmp:
        if warm:
            _ours(path, Path(tmp) / "warm", cfg, 1)  # imports, numba cache loads, JIT
        ours, res, steps = _ours(path, Path(tmp) / "out", cfg, repeat)
    meta = res.descriptors[0].metadata
    cutoffs = {}
    rep = meta.get("reports", {}).get("structure", "")
    for part in rep.split(","):  # "ion-ion cutoff 3.91 Å (first minimum ...)"
        words = part.split()
        if "cutoff" in words:
            cutoffs[words[0]] = float(words[words.index("cutoff") + 1])
        if gpu:
            cfg_gpu = AnalysisConfig.from_dict({**cfg.to_dict(), "backend": "cuda"})
            _ours(path, Path(tmp) / "warm_gpu", cfg_gpu, 1)
            gpu_s, _, _ = _ours(path, Path(tmp) / "out_gpu", cfg_gpu, repeat)
    ion_pos = traj.positions(cfg.species, unwrap=True, frames=ctx.frames)
    frames = ctx.frames[np.unique(np.concatenate(
        sample_frames(ctx.bounds, cfg.structure.frames_per_window)))]
    peers = {
        "mdanalysis_msd": _peer_msd(traj, ion_pos, ctx.bounds),
        "freud_rdf_neighbors": _peer_structure(traj, frames, cfg, cutoffs),
        "umap_gmm_raw": _peer_modes(res.table, cfg),
    }
    peer_sum = float(sum(peers.values()))
    extra = {} if not gpu else {"hcanalysis_analyze_cuda_s": gpu_s,
                                "speedup_cuda_vs_cpu": ours / gpu_s}
    row = {
        "case": name, "input": str(path.relative_to(ROOT) if path.is_relative_to(ROOT)
                                   else path.name),
        "n_frames": int(len(ctx.frames)), "n_ions": int(ctx.n_ions),
        "n_atoms": int(traj.n_atoms), "n_windows": int(ctx.n_windows),
        "rows": int(len(res.table)), "hcanalysis_analyze_s": ours, "warm_up_run": warm,
        "analyze_step_seconds": steps, "descriptor_stage_seconds": meta.get("stage_seconds"),
        "peer_seconds": peers, "cutoffs_A": cutoffs,
        "peer_sum_s": peer_sum, "ratio_peer_sum_over_hcanalysis": peer_sum / ours, **extra,
    }
    print(f"{name}: {row['n_frames']} frames x {row['n_ions']} ions ({row['rows']} rows): "
          f"analyze {ours:.2f} s ("
          + ", ".join(f"{k} {v:.2f}" for k, v in steps.items()) + f"); peers {peer_sum:.2f} s "
          + " ".join(f"{k} {v:.2f}" for k, v in peers.items())
          + f"; ratio {row['ratio_peer_sum_over_hcanalysis']:.2f}", flush=True)
    return row


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_pipeline",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="the small sample only, one run without a warm-up run (smoke test)")
    ap.add_argument("--gpu", action="store_true",
                    help="also analyze with backend='cuda' when a real GPU is present")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    out: dict = {"benchmark": "B6 whole analyze vs the sum of the peer steps",
                 "quick": args.quick, "cases": [], "table": []}
    gpu = False
    if args.gpu:
        from hcanalysis.kernels.backend import _real_gpu_present

        gpu = _real_gpu_present()
        out["gpu"] = "analyze with backend='cuda' timed" if gpu else "no real GPU: CPU only"
    with tempfile.TemporaryDirectory() as tmp:
        inputs = []
        if SAMPLE.is_file():
            inputs.append(("sample", SAMPLE))
        else:
            inputs.append(("synthetic-small", _synthetic(Path(tmp) / "s.h5", 200, 6, 4)))
        if not args.quick:
            inputs.append(("synthetic-2000f", _synthetic(Path(tmp) / "l.h5", 2000, 24, 16)))
        for name, path in inputs:
            row = case(name, path, 1 if args.quick else 2, gpu, warm=not args.quick)
            out["cases"].append(row)
            out["table"].append({
                "case": f"{name} ({row['n_frames']} frames x {row['n_ions']} ions)",
                "ours": "hcanalysis analyze", "ours_s": row["hcanalysis_analyze_s"],
                "peer": "MDAnalysis MSD + freud RDF/neighbours + UMAP/GMM",
                "peer_s": row["peer_sum_s"], "ratio": row["ratio_peer_sum_over_hcanalysis"],
            })
    out["wall_s"] = time.perf_counter() - t0
    path = write_results("pipeline_cpu_quick" if args.quick else "pipeline_cpu", out)
    print(f"wrote {path} in {out['wall_s']:.1f} s")
    return out


if __name__ == "__main__":
    main()
