"""Crash-safe, appendable H5MD 1.1 trajectory writer for MD runs.

Layout (the one :mod:`hcanalysis.io.h5md` writes, plus observables; what
:func:`hcanalysis.load` reads)::

    /h5md                         version = [1, 1]; author/, creator/
    /particles/all/species        (N,) int32 atomic numbers (attrs names, codes)
    /particles/all/element        (N,) element symbols (UTF-8 strings)
    /particles/all/box            dimension = 3, boundary = periodic ×3
    /particles/all/box/edges/     value (F, 3, 3) Å rows = cell vectors; step (F,); time (F,) ps
    /particles/all/position/      value (F, N, 3) Å, wrapped into the cell; step; time
    /particles/all/image/         value (F, N, 3) int32 periodic images (unwrapped = pos + img·box)
    /particles/all/velocity/      value (F, N, 3) Å/ps; step; time
    /observables/<name>/          value (F,); step; time   (potential_energy, kinetic_energy,
                                  total_energy in eV; temperature in K; conserved_energy)
    /parameters/mdrunner          attribute ``json``: the run's metadata

**Crash safety.** HDF5 files are not crash-consistent: a process killed while it resizes or
writes a dataset can leave the whole file unreadable. So, while a run goes, frames are written
into *segment* files under ``traj.h5.segments/``, and ``traj.h5`` is a small file of HDF5
virtual datasets that maps the committed segments (relative paths, so the run folder can be
moved). :meth:`H5MDAppender.commit` (called before every checkpoint) closes and syncs the
current segment, then replaces ``traj.h5`` atomically (temporary file, fsync, rename): a kill
at any instant leaves a readable ``traj.h5`` with every frame up to the last commit, and the
segment being written is simply dropped on resume. When a run ends normally,
:meth:`H5MDAppender.close` merges the segments into one plain, compressed ``traj.h5`` (again
written aside and renamed) and removes them. Resuming a finished file (to extend a run) moves it
into the segment folder first.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import h5py
import numpy as np

from hcanalysis.atomic import atomic_output, fsync_path

OBSERVABLES = {
    "potential_energy": "eV",
    "kinetic_energy": "eV",
    "total_energy": "eV",
    "conserved_energy": "eV",
    "temperature": "K",
}

#: Time-dependent elements (group path, unit) whose value/step/time datasets hold the frames.
_PER_ATOM = (("particles/all/position", "Angstrom"), ("particles/all/image", None),
             ("particles/all/velocity", "Angstrom ps-1"))
_EDGES = "particles/all/box/edges"
#: Datasets of a master file listing its segments (file names, frames used of each).
_SEG_NAMES, _SEG_USED = "parameters/mdrunner/segments", "parameters/mdrunner/segment_frames"
#: Bytes of frames copied at once when the segments are merged.
_MERGE_BLOCK = 64 << 20


def wrap_with_images(positions: np.ndarray, cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split continuous positions into wrapped positions and integer periodic images."""
    frac = np.linalg.solve(np.asarray(cell).T, np.asarray(positions).T).T
    img = np.floor(frac)
    return (frac - img) @ cell, img.astype(np.int32)


class H5MDAppender:
    """Write an MD trajectory frame by frame, crash-safely (see the module docstring).

    Parameters
    ----------
    path : path-like
        Output file. ``mode="w"`` creates it (refusing an existing file unless
        ``overwrite``), ``mode="a"`` reopens one written before (for resume).
    species : sequence of str
        Element per atom (needed for ``mode="w"``).
    dtype : numpy dtype
        Storage type of positions and velocities (float32 keeps files small; float64 keeps
        them exact).
    metadata : dict, optional
        Stored as JSON in ``/parameters/mdrunner``.
    compression : {"gzip", None}
        Compression of the frame datasets.
    """

    def __init__(self, path, species=None, *, mode: str = "w", dtype=np.float32,
                 metadata: dict | None = None, overwrite: bool = False,
                 compression: str | None = "gzip") -> None:
        self.path = Path(path)
        self.seg_dir = self.path.with_name(self.path.name + ".segments")
        self._cur: h5py.File | None = None
        self._cur_name = ""
        self._cur_steps: list[int] = []
        if mode == "w":
            if self.path.exists() and not overwrite:
                raise FileExistsError(f"{self.path} exists; resume it or remove it first")
            if species is None:
                raise ValueError("species is required to create a trajectory file")
            if self.seg_dir.exists():
                shutil.rmtree(self.seg_dir)
            self.species = [str(s) for s in species]
            self.dtype = np.dtype(dtype)
            self.compression = compression
            self.metadata = dict(metadata or {})
            self._segments: list[tuple[str, np.ndarray]] = []  # (file name, its frames' steps)
            self._seg_frames: dict[str, int] = {}  # frames stored in each segment file
            self.seg_dir.mkdir(parents=True)
            self._write_master()
        elif mode == "a":
            self._open_existing()
        else:
            raise ValueError("mode must be 'w' or 'a'")
        self.n_atoms = len(self.species)

    # ------------------------------------------------------------------ reopening
    def _open_existing(self) -> None:
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path}: no trajectory to resume")
        with h5py.File(self.path, "r") as f:
            all_ = f["particles/all"]
            self.species = [s.decode() if isinstance(s, bytes) else str(s)
                            for s in all_["element"][()]]
            pos = all_["position/value"]
            self.dtype = np.dtype(pos.dtype)
            par = f["parameters/mdrunner"].attrs
            self.metadata = json.loads(par.get("json", "{}"))
            self.compression = par.get("compression", "gzip") or None
            steps = np.asarray(all_["position/step"][()], dtype=np.int64)
            names = used = None
            if _SEG_NAMES in f:
                names = [n.decode() if isinstance(n, bytes) else str(n)
                         for n in f[_SEG_NAMES][()]]
                used = np.asarray(f[_SEG_USED][()], dtype=np.int64)
        if isinstance(self.compression, bytes):
            self.compression = self.compression.decode()
        if names is None:  # a finished (merged) or older single file: it becomes segment 0
            self.seg_dir.mkdir(exist_ok=True)
            name = "seg-000000.h5"
            os.replace(self.path, self.seg_dir / name)
            self._segments = [(name, steps)]
            self._seg_frames = {name: len(steps)}
            self._write_master()
        else:
            bounds = np.concatenate([[0], np.cumsum(used)])
            self._segments = [(n, steps[bounds[i]:bounds[i + 1]]) for i, n in enumerate(names)]
            self._seg_frames = {}
            for name, _ in self._segments:
                with h5py.File(self.seg_dir / name, "r") as f:
                    self._seg_frames[name] = int(f[_PER_ATOM[0][0] + "/step"].shape[0])
        # a segment that was being written when the run stopped is not in the master: drop it
        keep = {s[0] for s in self._segments}
        if self.seg_dir.exists():
            for p in self.seg_dir.iterdir():
                if p.name not in keep:
                    p.unlink()

    # ------------------------------------------------------------------ layout
    def _datasets(self) -> list[tuple[str, tuple, np.dtype, str | None]]:
        """(path of the element group, per-frame shape, dtype, unit) of every element."""
        n = len(self.species)
        out = [(_EDGES, (3, 3), np.dtype(np.float64), "Angstrom")]
        for grp, unit in _PER_ATOM:
            dt = np.dtype(np.int32) if grp.endswith("image") else self.dtype
            out.append((grp, (n, 3), dt, unit))
        out += [(f"observables/{name}", (), np.dtype(np.float64), unit)
                for name, unit in OBSERVABLES.items()]
        return out

    def _static(self, f: h5py.File) -> None:
        """Everything of the file but the frames."""
        h = f.create_group("h5md")
        h.attrs["version"] = np.array([1, 1], dtype=np.int32)
        h.create_group("author").attrs["name"] = "hcanalysis mdrunner"
        cr = h.create_group("creator")
        cr.attrs["name"] = "mdrunner"
        try:
            from importlib.metadata import version

            cr.attrs["version"] = version("hcanalysis")
        except Exception:  # pragma: no cover - source tree without metadata
            cr.attrs["version"] = "0.1.0"
        grp = f.create_group("particles/all")
        from ase.data import atomic_numbers

        names = list(dict.fromkeys(self.species))
        if all(x in atomic_numbers for x in names):
            codes = [atomic_numbers[x] for x in names]
        else:
            codes = list(range(1, len(names) + 1))
        lut = dict(zip(names, codes, strict=True))
        sp = grp.create_dataset("species", data=np.array([lut[x] for x in self.species],
                                                         np.int32))
        sp.attrs["names"] = np.array(names, dtype=h5py.string_dtype())
        sp.attrs["codes"] = np.array(codes, dtype=np.int32)
        grp.create_dataset("element", data=np.array(self.species, dtype=object),
                           dtype=h5py.string_dtype("utf-8"))
        box = grp.create_group("box")
        box.attrs["dimension"] = 3
        box.attrs["boundary"] = np.array([b"periodic"] * 3)
        par = f.create_group("parameters").create_group("mdrunner")
        par.attrs["json"] = json.dumps(self.metadata, default=str)
        par.attrs["compression"] = self.compression or ""

    def _chunk(self, shape: tuple) -> int:
        per = max(1, int(np.prod(shape)) * self.dtype.itemsize)
        return max(1, min(64, (1 << 20) // per)) if shape else 256

    def _next_name(self) -> str:
        used = [int(p.stem[4:]) for p in self.seg_dir.glob("seg-*.h5") if p.stem[4:].isdigit()]
        return f"seg-{max(used, default=-1) + 1:06d}.h5"

    def _new_segment(self) -> None:
        self._cur_name = self._next_name()
        self._cur = h5py.File(self.seg_dir / self._cur_name, "w")
        kw = dict(compression=self.compression, shuffle=True) if self.compression else {}
        for grp, shape, dt, unit in self._datasets():
            g = self._cur.require_group(grp)
            c = self._chunk(shape)
            v = g.create_dataset("value", shape=(0, *shape), maxshape=(None, *shape), dtype=dt,
                                 chunks=(c, *shape), **(kw if shape else {}))
            if unit:
                v.attrs["unit"] = unit
            g.create_dataset("step", shape=(0,), maxshape=(None,), dtype=np.int64,
                             chunks=(256,))
            g.create_dataset("time", shape=(0,), maxshape=(None,), dtype=np.float64,
                             chunks=(256,)).attrs["unit"] = "ps"
        self._cur_steps = []

    def _write_master(self) -> None:
        """Replace ``traj.h5`` atomically by a file mapping the committed segments."""
        total = sum(len(st) for _, st in self._segments)
        with atomic_output(self.path, durable=True) as tmp:
            with h5py.File(tmp, "w") as f:
                self._static(f)
                f.create_dataset(_SEG_NAMES, data=np.array([n for n, _ in self._segments],
                                                           dtype=object),
                                 dtype=h5py.string_dtype(), maxshape=(None,))
                f.create_dataset(_SEG_USED, data=np.array([len(st) for _, st in self._segments],
                                                          dtype=np.int64), maxshape=(None,))
                rel = self.seg_dir.name
                for grp, shape, dt, unit in self._datasets():
                    g = f.require_group(grp)
                    for name, dtype, sh in (("value", dt, shape), ("step", np.int64, ()),
                                            ("time", np.float64, ())):
                        if total == 0:
                            g.create_dataset(name, shape=(0, *sh), dtype=dtype)
                        else:
                            lay = h5py.VirtualLayout(shape=(total, *sh), dtype=dtype)
                            off = 0
                            for seg, seg_steps in self._segments:
                                n_used = len(seg_steps)
                                full = self._seg_frames[seg]
                                src = h5py.VirtualSource(f"{rel}/{seg}", f"{grp}/{name}",
                                                         shape=(full, *sh))
                                # slicing a source costs ~0.3 ms in h5py: only when cut short
                                lay[off:off + n_used] = src if n_used == full else src[:n_used]
                                off += n_used
                            g.create_virtual_dataset(name, lay)
                        if name == "value" and unit:
                            g[name].attrs["unit"] = unit
                        if name == "time":
                            g[name].attrs["unit"] = "ps"

    # ------------------------------------------------------------------ access
    @property
    def n_frames(self) -> int:
        return sum(len(st) for _, st in self._segments) + len(self._cur_steps)

    @property
    def steps(self) -> np.ndarray:
        parts = [st for _, st in self._segments] + [np.asarray(self._cur_steps, np.int64)]
        return np.concatenate(parts).astype(np.int64)

    def commit(self) -> None:
        """Make every frame appended so far durable: close and sync the current segment and
        replace ``traj.h5`` by a map that includes it. Call before writing a checkpoint."""
        if self._cur is not None:
            self._cur.close()
            self._cur = None
            seg = self.seg_dir / self._cur_name
            if self._cur_steps:
                fsync_path(seg)
                self._segments.append((self._cur_name,
                                       np.asarray(self._cur_steps, dtype=np.int64)))
                self._seg_frames[self._cur_name] = len(self._cur_steps)
                self._cur_steps = []
                replaced = self._compact()
                self._write_master()
                for old in replaced:  # only once the new master no longer maps them
                    (self.seg_dir / old).unlink(missing_ok=True)
                    self._seg_frames.pop(old, None)
            else:
                seg.unlink()

    def _compact(self) -> list[str]:
        """Keep the segments few (O(log frames)): while the newest segment holds at least as
        many frames as the one before, the two are copied into one new, synced segment. Each
        frame is copied O(log F) times over a run. Returns the segment files replaced: the
        caller removes them after the master that no longer maps them is in place (until then
        the old master, and its files, stay valid)."""
        replaced: list[str] = []
        while len(self._segments) >= 2 and \
                len(self._segments[-1][1]) >= len(self._segments[-2][1]):
            (a, sa), (b, sb) = self._segments[-2:]
            name = self._next_name()
            with h5py.File(self.seg_dir / name, "w") as f:
                self._copy_frames(f, [(self.seg_dir / a, len(sa)), (self.seg_dir / b, len(sb))])
            fsync_path(self.seg_dir / name)
            self._segments[-2:] = [(name, np.concatenate([sa, sb]))]
            self._seg_frames[name] = len(sa) + len(sb)
            replaced += [a, b]
        return replaced

    def _copy_frames(self, dst: h5py.File, sources: list[tuple[Path, int]]) -> None:
        """Write the first ``n`` frames of each source file (segments, or a master), in order,
        into new datasets of ``dst``, block by block."""
        total = sum(n for _, n in sources)
        kw = dict(compression=self.compression, shuffle=True) if self.compression else {}
        files = [(h5py.File(path, "r"), n) for path, n in sources]
        try:
            for grp, shape, dt, unit in self._datasets():
                g = dst.require_group(grp)
                for name, dtype, sh in (("value", dt, shape), ("step", np.int64, ()),
                                        ("time", np.float64, ())):
                    d = g.create_dataset(name, shape=(total, *sh), maxshape=(None, *sh),
                                         dtype=dtype,
                                         chunks=(self._chunk(sh), *sh) if total else None,
                                         **(kw if sh and total else {}))
                    if name == "value" and unit:
                        d.attrs["unit"] = unit
                    if name == "time":
                        d.attrs["unit"] = "ps"
                    block = max(1, _MERGE_BLOCK // max(1, int(np.prod(sh)) * d.dtype.itemsize))
                    off = 0
                    for f, n in files:
                        src = f[f"{grp}/{name}"]
                        for lo in range(0, n, block):
                            hi = min(n, lo + block)
                            d[off + lo:off + hi] = src[lo:hi]
                        off += n
        finally:
            for f, _ in files:
                f.close()

    def truncate_after(self, step: int) -> int:
        """Drop frames with MD step > ``step`` (for resume); returns the frames kept. The
        result is committed."""
        self.commit()
        kept: list[tuple[str, np.ndarray]] = []
        for name, steps in self._segments:
            n = int(np.searchsorted(steps, step, side="right"))
            if n:
                kept.append((name, steps[:n]))
            if n < len(steps):
                break
        if sum(len(st) for _, st in kept) != self.n_frames:
            dropped = {s[0] for s in self._segments} - {s[0] for s in kept}
            self._segments = kept
            self._write_master()
            for name in dropped:
                (self.seg_dir / name).unlink(missing_ok=True)
                self._seg_frames.pop(name, None)
        return self.n_frames

    def append(self, step: int, time_ps: float, positions: np.ndarray, cell: np.ndarray,
               velocities: np.ndarray | None = None, observables: dict | None = None) -> None:
        """Append one frame. ``positions`` continuous (unwrapped) Å; velocities Å/ps."""
        if self._cur is None:
            self._new_segment()
        cell = np.asarray(cell, dtype=np.float64)
        wrapped, img = wrap_with_images(np.asarray(positions, dtype=np.float64), cell)
        vel = np.zeros_like(wrapped) if velocities is None else velocities
        data = {_EDGES: cell, _PER_ATOM[0][0]: wrapped, _PER_ATOM[1][0]: img,
                _PER_ATOM[2][0]: vel}
        obs = observables or {}
        for name in OBSERVABLES:
            data[f"observables/{name}"] = float(obs.get(name, np.nan))
        for grp, value in data.items():
            g = self._cur[grp]
            n = g["step"].shape[0]
            for ds, val in (("value", value), ("step", step), ("time", time_ps)):
                d = g[ds]
                d.resize(n + 1, axis=0)
                d[n] = val
        self._cur_steps.append(int(step))

    def close(self, merge: bool = True) -> None:
        """Commit, then (``merge``) write the frames into one plain ``traj.h5`` and remove the
        segments (a finished run is one self-contained file)."""
        if getattr(self, "_segments", None) is None:
            return
        self.commit()
        if merge:
            self._merge()

    def _merge(self) -> None:
        with atomic_output(self.path, durable=True) as tmp, h5py.File(tmp, "w") as f:
            self._static(f)
            self._copy_frames(f, [(self.seg_dir / name, len(st))
                                  for name, st in self._segments])
        shutil.rmtree(self.seg_dir, ignore_errors=True)
        self._segments = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
