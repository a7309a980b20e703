"""Write the out-of-core test trajectory straight to chunked H5MD, never holding it in memory.

``python -m benchmarks.make_big OUT.h5 [--frames 50000] [--ions 2000] [--carbon 20000]
[--compression none|lzf|gzip] [--probe 500]``

The frames come from :class:`LazyHCSource`, a :class:`hcanalysis.io.source.FrameSource` that
generates any block of frames on demand (deterministic: the same frames for the same seed,
whatever order they are asked in), so :func:`hcanalysis.io.write_h5md` streams it block by
block like any reader. Memory use is one write block (64 frames) plus the per-block random-walk
anchors (n_blocks x n_ions x 3 float64: 37 MB for 50,000 frames of 2,000 ions).

The system
    * Carbon: a hard-carbon-like framework built once from the seed: turbostratic stacks of
      graphene fragments (hexagonal lattice, C-C 1.42 Å, interlayer 3.7 Å) with random lateral
      offsets and rotations, stacks separated by gaps (the pores), at ~1.6 g/cm³ in a cubic
      cell. Every frame adds an independent Gaussian vibration (σ = 0.05 Å).
    * Na: Gaussian random walks (the first ``--ions`` atoms, so an ion chunk touches few
      H5MD atom chunks) with a mix of mobilities — per-frame step σ of 0.02 Å (caged, 50 %),
      0.08 Å (30 %) and 0.25 Å (20 %) per axis — plus a per-frame thermal jitter (σ = 0.1 Å,
      not cumulative), wrapped into the cell. The walk is made regenerable per frame block: the
      net displacement of every block of 64 frames is drawn once (a Gaussian of variance
      64 σ²), and the steps inside a block are a Gaussian bridge between its ends (i.i.d.
      steps minus their mean plus the block's net step / 64), which is exactly the law of a
      random walk; the anchors are the cumulative sums of the block displacements.

``--probe N`` writes only N frames to a temporary file, reports the write speed and the
extrapolated time of the full size, and deletes it.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hcanalysis.io.source import FrameBlock

BLOCK = 64  # frames per regenerable block (= the H5MD chunk's frame extent)
CC = 1.42  # Å, graphene C-C bond
INTERLAYER = 3.7  # Å, hard-carbon interlayer spacing
DENSITY = 1.6  # g/cm³ of the carbon framework


def carbon_framework(n_carbon: int, length: float, rng: np.random.Generator) -> np.ndarray:
    """``n_carbon`` positions (Å) of turbostratic graphene-fragment stacks in a cubic cell."""
    a = CC * np.sqrt(3.0)
    a1, a2 = np.array([a, 0.0]), np.array([a / 2, a * np.sqrt(3) / 2])
    basis = [np.zeros(2), np.array([a / 2, CC / 2])]
    out: list[np.ndarray] = []
    have = 0
    while have < n_carbon:
        # one stack: 2-5 fragments of radius 6-14 Å, common normal, random in-plane rotations
        centre = rng.uniform(0, length, 3)
        normal = rng.normal(size=3)
        normal /= np.linalg.norm(normal)
        u = np.cross(normal, [1.0, 0.0, 0.0] if abs(normal[0]) < 0.9 else [0.0, 1.0, 0.0])
        u /= np.linalg.norm(u)
        v = np.cross(normal, u)
        radius = rng.uniform(6.0, 14.0)
        n = int(radius / a) + 2
        i, j = np.meshgrid(np.arange(-n, n + 1), np.arange(-n, n + 1), indexing="ij")
        lattice = (i.reshape(-1, 1) * a1 + j.reshape(-1, 1) * a2)
        for layer in range(int(rng.integers(2, 6))):
            th = rng.uniform(0, 2 * np.pi)
            rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
            pts = np.concatenate([lattice + b for b in basis]) @ rot.T + rng.normal(0, 0.5, 2)
            pts = pts[np.linalg.norm(pts, axis=1) < radius]
            xyz = (centre + (layer - 1.5) * INTERLAYER * normal
                   + pts[:, :1] * u + pts[:, 1:] * v)
            out.append(xyz)
            have += len(xyz)
    allc = np.concatenate(out)
    keep = rng.choice(len(allc), n_carbon, replace=False)
    return np.mod(allc[np.sort(keep)], length)


def cell_length(n_carbon: int) -> float:
    """Cubic cell edge (Å) giving the carbon ``DENSITY``."""
    grams = n_carbon * 12.011 / 6.02214076e23
    return float((grams / DENSITY * 1e24) ** (1.0 / 3.0))


@dataclass
class LazyHCSource:
    """A FrameSource whose frames are generated on demand (see the module docstring).

    Atoms ``0 .. n_ions-1`` are Na, the rest C. Positions are wrapped into the cubic cell.
    """

    n_frames: int = 50_000
    n_ions: int = 2_000
    n_carbon: int = 20_000
    seed: int = 2024
    dt_ps: float = 0.1
    path: str | None = None
    notes: list[str] = field(default_factory=list)
    has_images: bool = False
    has_velocities: bool = False
    coords_unwrapped: bool = False

    def __post_init__(self) -> None:
        rng = np.random.default_rng([self.seed, 0])
        self.length = cell_length(self.n_carbon)
        self.n_atoms = self.n_ions + self.n_carbon
        self.species = np.array(["Na"] * self.n_ions + ["C"] * self.n_carbon)
        self.time_ps = np.arange(self.n_frames, dtype=np.float64) * self.dt_ps
        self.boxes = np.broadcast_to(np.eye(3) * self.length, (self.n_frames, 3, 3))
        self.carbon = carbon_framework(self.n_carbon, self.length, rng)
        self.sigma = rng.choice([0.02, 0.08, 0.25], size=self.n_ions, p=[0.5, 0.3, 0.2])
        self.start = rng.uniform(0, self.length, (self.n_ions, 3))
        n_blocks = -(-self.n_frames // BLOCK)
        # net displacement of each block, then the walk's position at each block start
        net = rng.normal(size=(n_blocks, self.n_ions, 3)) * (self.sigma[:, None] * np.sqrt(BLOCK))
        self.anchor = self.start + np.concatenate([np.zeros((1, self.n_ions, 3)),
                                                   np.cumsum(net[:-1], axis=0)])
        self.net = net
        self.notes.append(f"synthetic hard carbon (benchmarks.make_big, seed {self.seed})")

    def _block(self, b: int) -> np.ndarray:
        """All atoms of frame block ``b``: (n_block_frames, n_atoms, 3) float64, wrapped."""
        lo, hi = b * BLOCK, min(self.n_frames, (b + 1) * BLOCK)
        m = hi - lo
        rng = np.random.default_rng([self.seed, 1, b])
        steps = rng.standard_normal((BLOCK, self.n_ions, 3), dtype=np.float32)
        steps = (steps - steps.mean(axis=0)) * self.sigma[:, None] + self.net[b] / BLOCK
        walk = self.anchor[b] + np.cumsum(steps, axis=0)[:m] - steps[0]  # frame lo = anchor
        jitter = rng.standard_normal((m, self.n_ions, 3), dtype=np.float32) * np.float32(0.1)
        out = np.empty((m, self.n_atoms, 3))
        out[:, : self.n_ions] = walk + jitter
        vib = rng.standard_normal((m, self.n_carbon, 3), dtype=np.float32) * np.float32(0.05)
        out[:, self.n_ions:] = self.carbon + vib
        return np.mod(out, self.length, out=out)

    def read(self, frames: np.ndarray, atoms: np.ndarray | None = None) -> FrameBlock:
        frames = np.asarray(frames, dtype=np.int64)
        out = np.empty((len(frames), self.n_atoms if atoms is None else len(atoms), 3))
        blocks = frames // BLOCK
        for b in np.unique(blocks):
            rows = np.flatnonzero(blocks == b)
            data = self._block(int(b))[frames[rows] - b * BLOCK]
            out[rows] = data if atoms is None else data[:, atoms]
        return FrameBlock(positions=out)


def write_big(path: Path, n_frames: int, n_ions: int, n_carbon: int, compression: str | None,
              seed: int = 2024, progress: bool = True) -> dict:
    """Write the trajectory to ``path``; return size and timing."""
    from hcanalysis import Trajectory, write_h5md

    src = LazyHCSource(n_frames=n_frames, n_ions=n_ions, n_carbon=n_carbon, seed=seed)
    t0 = time.perf_counter()
    write_h5md(Trajectory(src), path, compression=compression, overwrite=True,
               show_progress=progress)
    wall = time.perf_counter() - t0
    size = path.stat().st_size
    return {"path": str(path), "n_frames": n_frames, "n_ions": n_ions, "n_carbon": n_carbon,
            "box_A": round(src.length, 3), "compression": compression or "none",
            "file_bytes": size, "write_s": round(wall, 2),
            "write_MB_per_s": round(size / wall / 1e6, 1),
            "frames_per_s": round(n_frames / wall, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.make_big", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("output", type=Path)
    ap.add_argument("--frames", type=int, default=50_000)
    ap.add_argument("--ions", type=int, default=2_000)
    ap.add_argument("--carbon", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--compression", default="none", choices=["none", "lzf", "gzip"])
    ap.add_argument("--probe", type=int, default=0,
                    help="write only this many frames to a temporary file and extrapolate")
    args = ap.parse_args(argv)
    comp = None if args.compression == "none" else args.compression
    if args.probe:
        fd, tmp = tempfile.mkstemp(suffix=".h5", dir=args.output.parent)
        os.close(fd)
        try:
            res = write_big(Path(tmp), args.probe, args.ions, args.carbon, comp, args.seed,
                            progress=False)
        finally:
            Path(tmp).unlink(missing_ok=True)
        res["extrapolated_full_s"] = round(res["write_s"] * args.frames / args.probe, 1)
        res["extrapolated_full_GB"] = round(res["file_bytes"] * args.frames / args.probe / 1e9,
                                            2)
        print(json.dumps(res, indent=1))
        return 0
    print(json.dumps(write_big(args.output, args.frames, args.ions, args.carbon, comp,
                               args.seed), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
