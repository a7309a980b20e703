"""ASE files: extended XYZ and ASE ``.traj`` (and, in memory, anything else ``ase.io`` reads).

* ``.traj`` (ULM): random access through ``ase.io.Trajectory``'s per-frame backend; the
  metadata pass reads only each frame's cell and ``info``, positions are read when asked.
* extended XYZ (``.xyz``/``.extxyz``): ASE has no random access, so a first pass records the
  byte offset of every frame and parses only the comment lines (cell, pbc, time); a read
  then seeks to the frames asked for and parses just those with ASE's extxyz parser. Nothing
  is held in memory but the offsets (8 bytes a frame) and the cells. The index is not cached
  on disk (the pass costs one read of the file, at line speed).
* any other format ``ase.io`` knows: read whole with ``ase.io.read(path, ":")`` (a note says
  so), which is fine for the small structure files such formats hold.

Times: ``dt_ps`` when given; else a per-frame ``info`` entry ``time_ps`` (ps), ``time_fs`` (fs)
or ``time``/``Time`` (taken as ps; noted); else frame k is at k × 1 ps, with a note asking for
``dt_ps``. Velocities (ASE momenta / masses, or an extxyz ``vel``/``velocities`` column) are
converted from ASE units to Å/ps (a ``vel``/``velocities`` column has no unit convention and
is taken as Å/ps).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from hcanalysis.errors import TrajectoryFormatError
from hcanalysis.io.source import FrameBlock
from hcanalysis.progress import Counter
from hcanalysis.progress import null as null_progress
from hcanalysis.progress import resolve as resolve_progress


def _ase_to_A_per_ps() -> float:
    """Factor from ASE's velocity unit (Å per ASE time unit) to Å/ps."""
    from ase import units

    return 1000.0 * units.fs


#: extxyz files larger than this show a progress bar while they are indexed.
PROGRESS_BYTES = 64 * 1024**2


def _frame_time(info: dict) -> tuple[float | None, str | None]:
    if "time_ps" in info:
        return float(info["time_ps"]), None
    if "time_fs" in info:
        return float(info["time_fs"]) * 1e-3, None
    for key in ("time", "Time"):
        if key in info:
            return float(info[key]), f"time taken from info[{key!r}], assumed to be in ps"
    return None, None


class AseSource:
    """Lazy reader of extxyz and ASE ``.traj`` files (see the module docstring).

    Parameters
    ----------
    path : path-like
        The file.
    dt_ps : float, optional
        Time between frames, ps (overrides times stored in the frames' ``info``).
    format : str, optional
        ASE format name; guessed from the suffix (``.traj`` -> ULM, ``.xyz``/``.extxyz`` ->
        extxyz).
    """

    def __init__(self, path: str | os.PathLike, dt_ps: float | None = None,
                 format: str | None = None) -> None:
        self.path = str(path)
        self.notes: list[str] = []
        self.coords_unwrapped = False
        self.has_images = False
        suffix = Path(self.path).suffix.lower()
        fmt = format or {".traj": "traj", ".xyz": "extxyz", ".extxyz": "extxyz",
                         ".exyz": "extxyz"}.get(suffix)
        self._kind = fmt if fmt in ("traj", "extxyz") else "memory"
        self._format = fmt
        self._traj = None
        self._mem = None
        try:
            if self._kind == "traj":
                times = self._index_traj()
            elif self._kind == "extxyz":
                times = self._index_extxyz()
            else:
                times = self._load_memory()
        except TrajectoryFormatError:
            raise
        except Exception as exc:  # noqa: BLE001 - ASE raises many kinds
            raise TrajectoryFormatError(f"ASE cannot read it ({exc.__class__.__name__}: {exc})",
                                        path=self.path) from None
        if self.n_frames == 0:
            raise TrajectoryFormatError("the file has no frames", path=self.path)
        if dt_ps is not None:
            self.time_ps = np.arange(self.n_frames, dtype=np.float64) * float(dt_ps)
        elif times is not None:
            self.time_ps = np.asarray(times, dtype=np.float64)
        else:
            self.time_ps = np.arange(self.n_frames, dtype=np.float64)
            self.notes.append("no times in the file: 1 frame = 1 ps assumed; give dt_ps")
        self._check_boxes()

    # -------------------------------------------------------------- indexing
    def _set_species(self, atoms: Any) -> None:
        self.species = np.array(atoms.get_chemical_symbols(), dtype=str)
        self.n_atoms = len(atoms)

    def _times(self, infos: list[dict]) -> list[float] | None:
        times, note = [], None
        for info in infos:
            t, n = _frame_time(info or {})
            if t is None:
                return None
            times.append(t)
            note = note or n
        if note:
            self.notes.append(note)
        return times

    def _index_traj(self) -> list[float] | None:
        from ase.io import Trajectory as AseTrajectory

        self._traj = AseTrajectory(self.path, "r")
        backend = self._traj.backend
        self.n_frames = len(self._traj)
        if self.n_frames == 0:
            return None
        first = self._traj[0]
        self._set_species(first)
        self._masses = first.get_masses()
        boxes, infos, pbc = [], [], np.asarray(first.pbc, dtype=bool)
        for i in range(self.n_frames):
            b = backend[i]
            boxes.append(np.asarray(b.get("cell", boxes[-1] if boxes else np.zeros((3, 3)))))
            infos.append(b.get("info") or {})
        self.boxes = np.array(boxes, dtype=np.float64).reshape(self.n_frames, 3, 3)
        self.pbc = pbc
        self.has_velocities = backend[0].get("momenta") is not None
        return self._times(infos)

    def _index_extxyz(self) -> list[float] | None:
        from ase.io.extxyz import key_val_str_to_dict

        offsets, boxes, infos, pbcs = [], [], [], []
        n_atoms = None
        size = os.path.getsize(self.path)
        fn = resolve_progress(None) if size > PROGRESS_BYTES else null_progress
        with open(self.path, "rb") as fh, \
                Counter(fn, f"indexing {Path(self.path).name}: MiB", size >> 20) as count:
            lineno = 0
            while True:
                pos = fh.tell()
                if len(offsets) % 64 == 0:
                    count.update(pos >> 20)
                line = fh.readline()
                if not line:
                    break
                lineno += 1
                if not line.strip():
                    continue
                try:
                    n = int(line.split()[0])
                except ValueError:
                    raise TrajectoryFormatError(
                        f"expected an atom count, found {line[:40]!r}", path=self.path,
                        frame=len(offsets), line=lineno) from None
                if n_atoms is None:
                    n_atoms = n
                elif n != n_atoms:
                    raise TrajectoryFormatError(
                        f"atom count changes from {n_atoms} to {n}; every frame must hold the "
                        "same atoms", path=self.path, frame=len(offsets), line=lineno)
                comment = fh.readline().decode(errors="replace")
                lineno += 1
                body = [fh.readline() for _ in range(n)]
                lineno += n
                if len(body) < n or not body[-1]:
                    import warnings

                    from hcanalysis.errors import TruncatedTrajectoryWarning

                    warnings.warn(f"{self.path}: frame {len(offsets)} is truncated; "
                                  f"{len(offsets)} complete frames used",
                                  TruncatedTrajectoryWarning, stacklevel=3)
                    self.notes.append(f"truncated last frame {len(offsets)} dropped")
                    break
                kv = key_val_str_to_dict(comment)
                if "Lattice" not in kv:
                    raise TrajectoryFormatError(
                        "no Lattice= in the comment line: the cell is unknown "
                        "(write the file with ase.io.write(..., format='extxyz') and a cell)",
                        path=self.path, frame=len(offsets), line=lineno - n)
                offsets.append(pos)
                # ASE parses Lattice column-major (as ase.io.extxyz does: cell = Lattice.T)
                boxes.append(np.asarray(kv["Lattice"], dtype=np.float64).reshape(3, 3).T)
                pbcs.append(np.asarray(kv.get("pbc", [True] * 3), dtype=bool))
                infos.append(kv)
        self.n_frames = len(offsets)
        self._offsets = np.array(offsets + [0], dtype=np.int64)
        if self.n_frames == 0:
            return None
        self.boxes = np.array(boxes)
        self.pbc = pbcs[0]
        first = self._parse_extxyz(np.array([0]))[0]
        self._set_species(first)
        self._masses = first.get_masses()
        self.has_velocities = first.has("momenta") or any(
            k in first.arrays for k in ("vel", "velocities"))
        return self._times(infos)

    def _load_memory(self) -> list[float] | None:
        import ase.io

        images = ase.io.read(self.path, ":", format=self._format)
        self.n_frames = len(images)
        if not images:
            return None
        self._set_species(images[0])
        self._mem = images
        self.notes.append("read whole into memory with ase.io.read (no random access)")
        self.boxes = np.array([np.asarray(a.get_cell()) for a in images], dtype=np.float64)
        self.pbc = np.asarray(images[0].pbc, dtype=bool)
        self._masses = images[0].get_masses()
        self.has_velocities = images[0].has("momenta")
        return self._times([a.info for a in images])

    def _check_boxes(self) -> None:
        if not np.all(self.pbc):
            self.notes.append(f"pbc is {self.pbc.tolist()} in the file; treated as periodic")
        vol = np.abs(np.linalg.det(self.boxes))
        if np.any(vol <= 0):
            f = int(np.flatnonzero(vol <= 0)[0])
            raise TrajectoryFormatError("no periodic cell (zero volume): set a cell in the file",
                                        path=self.path, frame=f)

    # -------------------------------------------------------------- reading
    def _parse_extxyz(self, frames: np.ndarray) -> list[Any]:
        from ase.io.extxyz import read_xyz

        out = []
        with open(self.path, "rb") as fh:
            for f in frames:
                fh.seek(int(self._offsets[f]))
                n = int(fh.readline().split()[0])
                lines = [fh.readline() for _ in range(n + 1)]
                text = f"{n}\n" + b"".join(lines).decode()
                out.append(next(read_xyz(io.StringIO(text), 0)))
        return out

    def _frames_atoms(self, frames: np.ndarray) -> list[Any]:
        if self._kind == "extxyz":
            return self._parse_extxyz(frames)
        if self._kind == "memory":
            return [self._mem[int(f)] for f in frames]
        return [None] * len(frames)

    def _velocities(self, atoms: Any, momenta: np.ndarray | None = None) -> np.ndarray:
        if atoms is not None:
            for key in ("vel", "velocities"):
                if key in atoms.arrays:  # no unit convention for these columns: taken as Å/ps
                    return np.asarray(atoms.arrays[key], dtype=np.float64)
            momenta = atoms.get_momenta()
        return np.asarray(momenta) / self._masses[:, None] * _ase_to_A_per_ps()

    def read(self, frames: np.ndarray, atoms: np.ndarray | None = None) -> FrameBlock:
        from hcanalysis.io.h5md import check_finite

        frames = np.asarray(frames, dtype=np.int64)
        n_sel = self.n_atoms if atoms is None else len(atoms)
        sel = slice(None) if atoms is None else np.asarray(atoms)
        pos = np.empty((len(frames), n_sel, 3))
        vel = np.empty((len(frames), n_sel, 3)) if self.has_velocities else None
        for k, (f, a) in enumerate(zip(frames, self._frames_atoms(frames), strict=True)):
            if a is None:  # .traj
                b = self._traj.backend[int(f)]
                p = np.asarray(b.positions)
                mom = b.get("momenta") if vel is not None else None
            else:
                p = a.get_positions()
                mom = None
            if p.shape != (self.n_atoms, 3):
                raise TrajectoryFormatError(
                    f"frame has {p.shape[0]} atoms, the first frame {self.n_atoms}",
                    path=self.path, frame=int(f))
            pos[k] = p[sel]
            if vel is not None:
                if a is None and mom is None:
                    raise TrajectoryFormatError("frame has no momenta", path=self.path,
                                                frame=int(f))
                vel[k] = self._velocities(a, mom)[sel]
        check_finite(pos, frames, atoms, self.path)
        return FrameBlock(positions=pos, velocities=vel)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_traj"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self._kind == "traj":
            from ase.io import Trajectory as AseTrajectory

            self._traj = AseTrajectory(self.path, "r")
