"""LAMMPS text dump I/O: index + read all frames, hcanalysis vs MDAnalysis vs ASE.

    python -m benchmarks.bench_io [--quick] [--size-mb N] [--keep DIR]

A synthetic dump with a realistic layout (``id type x y z ix iy iz``, 6 decimals, atoms in a
different order every frame, a hard-carbon-sized system of C and Na) is written once (about
1 GB; 50 MB with ``--quick``). Each reader then runs in a fresh process, so its peak resident
memory (``ru_maxrss``, minus the process's size after imports) is its own:

* hcanalysis: first open (builds the frame index), second open (cached index), reading every
  frame's positions in chunks of 64 frames (``Trajectory.iter_chunks``);
* MDAnalysis: ``Universe(dump, format="LAMMPSDUMP")`` (which indexes the file) and iterating
  over every frame;
* ASE: ``ase.io.iread(dump, format="lammps-dump-text")`` over every frame.

Writes benchmarks/results/io_cpu.json (io_cpu_quick.json with --quick).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import write_results

N_ATOMS = 20_000
N_NA = 1_500
BOX = 62.0


def write_dump(path: Path, size_mb: float, seed: int = 0) -> dict:
    """Write a synthetic dump of about ``size_mb`` MB; returns its shape."""
    rng = np.random.default_rng(seed)
    types = np.where(np.arange(N_ATOMS) < N_ATOMS - N_NA, 1, 2)
    unwrapped = rng.random((N_ATOMS, 3)) * BOX
    frame_bytes = None
    n_frames = 0
    tmp = path.with_suffix(".part")
    with open(tmp, "w") as fh:
        while True:
            step = rng.normal(scale=0.15, size=(N_ATOMS, 3))
            step[types == 2] *= 3.0
            unwrapped += step
            img = np.floor(unwrapped / BOX).astype(np.int64)
            x = unwrapped - img * BOX
            order = rng.permutation(N_ATOMS)
            cols = np.column_stack([order + 1, types[order]])
            head = (f"ITEM: TIMESTEP\n{1000 * n_frames}\nITEM: NUMBER OF ATOMS\n{N_ATOMS}\n"
                    f"ITEM: BOX BOUNDS pp pp pp\n0 {BOX}\n0 {BOX}\n0 {BOX}\n"
                    "ITEM: ATOMS id type x y z ix iy iz\n")
            xs, im = x[order], img[order]
            body = "".join(
                f"{i} {t} {a:.6f} {b:.6f} {c:.6f} {p} {q} {r}\n"
                for (i, t), (a, b, c), (p, q, r) in zip(cols.tolist(), xs.tolist(), im.tolist(),
                                                        strict=True)
            )
            fh.write(head)
            fh.write(body)
            n_frames += 1
            frame_bytes = len(head) + len(body)
            if n_frames * frame_bytes >= size_mb * 1e6:
                break
    os.replace(tmp, path)
    return {"n_frames": n_frames, "n_atoms": N_ATOMS, "bytes": path.stat().st_size}


# ------------------------------------------------------------------ child processes
def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _child(reader: str, path: str, index_dir: str) -> dict:
    os.environ["HCANALYSIS_INDEX_DIR"] = index_dir
    out: dict = {}
    if reader == "hcanalysis":
        import hcanalysis as hc

        base = _rss_mb()
        t0 = time.perf_counter()
        tr = hc.load(path, type_map={1: "C", 2: "Na"}, dt_ps=0.001)
        out["open_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        hc.load(path, type_map={1: "C", 2: "Na"}, dt_ps=0.001)
        out["reopen_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        acc = 0.0
        for _, pos in tr.iter_chunks(chunk_frames=64):
            acc += float(pos[:, 0, 0].sum())
        out["read_s"] = time.perf_counter() - t0
        out["n_frames"] = tr.n_frames
    elif reader == "mdanalysis":
        import MDAnalysis as mda

        base = _rss_mb()
        t0 = time.perf_counter()
        u = mda.Universe(path, format="LAMMPSDUMP")
        out["open_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        acc = 0.0
        n = 0
        for _ in u.trajectory:
            acc += float(u.atoms.positions[0, 0])
            n += 1
        out["read_s"] = time.perf_counter() - t0
        out["n_frames"] = n
    elif reader == "ase":
        import ase.io

        base = _rss_mb()
        t0 = time.perf_counter()
        acc = 0.0
        n = 0
        for atoms in ase.io.iread(path, format="lammps-dump-text", index=":"):
            acc += float(atoms.positions[0, 0])
            n += 1
        out["open_s"] = 0.0
        out["read_s"] = time.perf_counter() - t0
        out["n_frames"] = n
    else:
        raise ValueError(reader)
    out["total_s"] = out["open_s"] + out["read_s"]
    out["peak_rss_mb"] = _rss_mb()
    out["peak_rss_over_imports_mb"] = out["peak_rss_mb"] - base
    return out


def _run_child(reader: str, path: Path, index_dir: Path, timeout: float) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.bench_io", "--child", reader, str(path),
           str(index_dir)]
    root = Path(__file__).resolve().parent.parent
    try:
        p = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=timeout,
                           env={**os.environ, "PYTHONWARNINGS": "ignore"})
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if p.returncode != 0:
        return {"error": p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "failed"}
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="a 50 MB dump (< 30 s)")
    ap.add_argument("--gpu", action="store_true", help="accepted for the runner (parsing: no "
                    "CUDA path)")
    ap.add_argument("--size-mb", type=float, default=None, help="dump size (default 1000)")
    ap.add_argument("--keep", type=Path, default=None,
                    help="directory to keep (and reuse) the generated dump in")
    ap.add_argument("--skip", nargs="*", default=[], help="readers to skip (ase, mdanalysis)")
    ap.add_argument("--timeout", type=float, default=3600.0, help="per reader, s")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(_child(*args.child)))
        return {}
    size_mb = args.size_mb or (50.0 if args.quick else 1000.0)
    tmpdir = None
    if args.keep is None:
        tmpdir = tempfile.TemporaryDirectory()
        work = Path(tmpdir.name)
    else:
        work = args.keep
        work.mkdir(parents=True, exist_ok=True)
    path = work / f"bench_{int(size_mb)}mb.dump"
    meta_path = path.with_suffix(".json")
    if path.exists() and meta_path.exists():
        shape = json.loads(meta_path.read_text())
    else:
        t0 = time.perf_counter()
        shape = write_dump(path, size_mb)
        shape["generate_s"] = time.perf_counter() - t0
        meta_path.write_text(json.dumps(shape))
    print(f"dump: {path} ({shape['bytes'] / 1e6:.0f} MB, {shape['n_frames']} frames × "
          f"{shape['n_atoms']} atoms)", flush=True)
    res: dict = {"dump": shape, "results": {}}
    index_dir = work / "index"
    for reader in ("hcanalysis", "mdanalysis", "ase"):
        if reader in args.skip:
            continue
        if index_dir.exists():
            for f in index_dir.glob("*.hcaidx"):
                f.unlink()
        r = _run_child(reader, path, index_dir, args.timeout)
        res["results"][reader] = r
        print(f"{reader:>11}: {json.dumps(r)}", flush=True)
    hca = res["results"].get("hcanalysis", {})
    ratios = {}
    for peer in ("mdanalysis", "ase"):
        pr = res["results"].get(peer, {})
        if "total_s" in pr and "total_s" in hca:
            ratios[f"{peer}_over_hcanalysis_time"] = pr["total_s"] / hca["total_s"]
            ratios[f"{peer}_over_hcanalysis_peak_rss"] = (
                pr["peak_rss_over_imports_mb"] / max(hca["peak_rss_over_imports_mb"], 1.0))
    res["ratios"] = ratios
    if "total_s" in hca:
        res["hcanalysis_throughput_mb_s"] = shape["bytes"] / 1e6 / hca["total_s"]
        res["hcanalysis_index_mb_s"] = shape["bytes"] / 1e6 / hca["open_s"]
    for k, v in ratios.items():
        print(f"{k}: {v:.1f}")
    out = write_results("io_cpu_quick" if args.quick else "io_cpu", res)
    print(f"results: {out}")
    if tmpdir is not None:
        tmpdir.cleanup()
    return res


if __name__ == "__main__":
    main()
