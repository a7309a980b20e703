"""H5MD: write and read times of hcanalysis vs MDAnalysis' H5MD writer/reader, and the effect
of the chunk shape on per-ion (all frames x a subset of atoms) reads.

    python -m benchmarks.bench_h5md [--quick]

Writes benchmarks/results/h5md_cpu.json.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.common import best_of as _best
from benchmarks.common import write_results


def main(argv: list[str] | None = None) -> dict:
    import MDAnalysis as mda
    from MDAnalysis.coordinates.H5MD import H5MDReader

    import hcanalysis as hca

    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes (< 30 s)")
    ap.add_argument("--gpu", action="store_true", help="accepted for the runner (file I/O: no "
                    "CUDA path)")
    args = ap.parse_args(argv)
    n_frames, n_atoms, n_ions = (400, 3000, 150) if args.quick else (2000, 6000, 300)
    repeat = 2 if args.quick else 3
    rng = np.random.default_rng(0)
    box = np.diag([40.0, 41.0, 42.0])
    # a wrapped random walk (thermal-like 0.1 Å steps) compresses like real MD positions
    pos = rng.random((1, n_atoms, 3)) * 40 + np.cumsum(
        rng.normal(scale=0.1, size=(n_frames, n_atoms, 3)), axis=0)
    pos = np.mod(pos, 40.0).astype(np.float32)
    species = ["C"] * (n_atoms - n_ions) + ["Na"] * n_ions
    traj = hca.Trajectory.from_arrays(pos, box, species)
    # ions scattered over the file: the worst case for atom-chunked reads
    scattered = np.sort(rng.choice(n_atoms, n_ions, replace=False))
    contiguous = np.arange(n_atoms - n_ions, n_atoms)
    import h5py

    res: dict = {"h5py": h5py.__version__, "hdf5": h5py.version.hdf5_version,
                 "n_frames": n_frames, "n_atoms": n_atoms, "n_ions": n_ions, "results": {}}
    out = res["results"]
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        for name, ca in (("chunks_64x512", 512), ("chunks_64xall", n_atoms)):
            path = d / f"{name}.h5"
            out[f"write_{name}_s"] = _best(
                lambda p=path, c=ca: hca.write_h5md(traj, p, overwrite=True, chunk_atoms=c),
                repeat)
            t = hca.load(path)
            out[f"read_all_{name}_s"] = _best(lambda t=t: t.positions(), repeat)
            out[f"read_ions_contiguous_{name}_s"] = _best(
                lambda t=t: t.positions(contiguous), repeat)
            out[f"read_ions_scattered_{name}_s"] = _best(
                lambda t=t: t.positions(scattered), repeat)
            out[f"file_MB_{name}"] = path.stat().st_size / 1e6
        # peer: MDAnalysis' writer and reader on the same data
        u = traj.to_universe()
        mpath = d / "mda.h5md"

        def mda_write():
            with mda.Writer(str(mpath), n_atoms=n_atoms, format="H5MD",
                            convert_units=False) as w:
                for _ in u.trajectory:
                    w.write(u.atoms)

        out["write_mdanalysis_s"] = _best(mda_write, repeat)

        def mda_read():
            r = H5MDReader(str(mpath), convert_units=False)
            return np.stack([ts.positions.copy() for ts in r])

        def mda_read_ions():
            r = H5MDReader(str(mpath), convert_units=False)
            return np.stack([ts.positions[scattered] for ts in r])

        out["read_all_mdanalysis_s"] = _best(mda_read, repeat)
        out["read_ions_scattered_mdanalysis_s"] = _best(mda_read_ions, repeat)
        out["file_MB_mdanalysis"] = mpath.stat().st_size / 1e6
    ratios = {
        "write_mdanalysis_over_hcanalysis": out["write_mdanalysis_s"]
        / out["write_chunks_64x512_s"],
        "read_all_mdanalysis_over_hcanalysis": out["read_all_mdanalysis_s"]
        / out["read_all_chunks_64x512_s"],
        "read_ions_mdanalysis_over_hcanalysis": out["read_ions_scattered_mdanalysis_s"]
        / out["read_ions_scattered_chunks_64x512_s"],
        "ions_contiguous_allatomchunks_over_512": out["read_ions_contiguous_chunks_64xall_s"]
        / out["read_ions_contiguous_chunks_64x512_s"],
    }
    res["ratios"] = ratios
    for k, v in out.items():
        print(f"{k:45s} {v:9.3f}")
    for k, v in ratios.items():
        print(f"{k:45s} {v:9.2f}x")
    write_results("h5md_cpu_quick" if args.quick else "h5md_cpu", res)
    return res


if __name__ == "__main__":
    main()
