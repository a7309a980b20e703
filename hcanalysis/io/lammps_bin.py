"""LAMMPS binary dumps (``dump custom`` / ``dump atom`` written to a ``*.bin`` file).

Layout of one snapshot, as LAMMPS writes it (native byte order, ``bigint`` = int64)::

    [int64 -len(magic)] [magic, e.g. "DUMPCUSTOM"] [int32 endian = 1] [int32 revision]
    int64 timestep, int64 natoms, int32 triclinic (0, 1, or 2 = general), int32 boundary[6]
    triclinic 0/1: double xlo xhi ylo yhi zlo zhi [xy xz yz]   (bounding box, as in text)
    triclinic 2:   double avec[3] bvec[3] cvec[3] origin[3]
    int32 ncolumns
    [revision >= 2: int32 len, unit style; char time_flag [double time]; int32 len, columns]
    int32 nchunks, then per chunk: int32 n, double[n]   (n = atoms in chunk × ncolumns)

The bracketed header is absent in files from LAMMPS before 2021; those carry no column names,
so pass ``columns="id type x y z ..."``. Indexing reads only the headers (chunks are skipped
by seeking); the index is cached like that of text dumps (see :mod:`.lammps_dump`).
"""

from __future__ import annotations

import os
import struct
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from hcanalysis.errors import TrajectoryFormatError, TruncatedTrajectoryWarning
from hcanalysis.io.lammps_common import (
    box_from_bounds,
    check_image_range,
    check_types,
    column_layout,
    complete_type_map,
    load_index,
    save_index,
    species_from_types,
    time_axis,
    to_cartesian,
)
from hcanalysis.io.lammps_data import resolve_type_map
from hcanalysis.io.source import FrameBlock

_INDEX_KIND = "lammps-bin"
_KNOWN_MAGIC = (b"DUMPCUSTOM", b"DUMPATOM")


class _EOF(Exception):
    pass


def _read(fh, n: int) -> bytes:
    b = fh.read(n)
    if len(b) < n:
        raise _EOF
    return b


def build_index(path: Path, columns: str | None = None) -> dict[str, np.ndarray]:
    """Scan the snapshot headers of a binary dump (chunks are skipped by seeking)."""
    starts, d0, d1, nchunks, steps, natoms, times, boxes, origins = ([] for _ in range(9))
    cols_seen: str | None = None
    units = ""
    truncated = ""
    seen_magic = False  # snapshots of revision >= 1 files start with a magic string
    size = path.stat().st_size
    bo = "<"
    with open(path, "rb") as fh:
        while fh.tell() < size:
            k = len(starts)
            fstart = fh.tell()
            try:
                (first,) = struct.unpack(bo + "q", _read(fh, 8))
                revision = 1
                if first < 0:
                    if -first > 64:
                        raise TrajectoryFormatError(
                            f"not a LAMMPS binary dump (bad magic length {-first} at byte "
                            f"{fstart}); text dumps should not end in .bin",
                            path=path, frame=k,
                        )
                    magic = _read(fh, -first)
                    endian, revision = struct.unpack(bo + "ii", _read(fh, 8))
                    if endian != 1:
                        raise TrajectoryFormatError(
                            f"endian flag {endian} at byte {fstart}: the file was written on a "
                            "machine of another byte order (only little-endian is read)",
                            path=path, frame=k,
                        )
                    (step,) = struct.unpack(bo + "q", _read(fh, 8))
                    if magic not in _KNOWN_MAGIC:
                        raise TrajectoryFormatError(
                            f"unknown snapshot magic {magic!r} at byte {fstart}: only LAMMPS "
                            f"'dump custom' and 'dump atom' binary files "
                            f"({', '.join(m.decode() for m in _KNOWN_MAGIC)}) are read; if the "
                            "file is one, it is corrupt here",
                            path=path, frame=k,
                        )
                    seen_magic = True
                elif seen_magic:
                    raise TrajectoryFormatError(
                        f"corrupt snapshot header at byte {fstart}: expected the magic string "
                        f"that starts every snapshot of this file, found {first} (a hole of "
                        "zeros or overwritten data); the frames before it are intact: convert "
                        f"them with frames=slice(0, {k})",
                        path=path, frame=k,
                    )
                else:
                    step = first
                n, tri = struct.unpack(bo + "qi", _read(fh, 12))
                if n <= 0 or (natoms and n != natoms[0]):
                    what = (f"{n} atoms: the snapshot is empty or its header is corrupt"
                            if n <= 0 else
                            f"the atom count changes from {natoms[0]} (frame 0) to {n}")
                    raise TrajectoryFormatError(
                        f"{what} at byte {fstart}; hcanalysis needs the same atoms in every "
                        "frame",
                        path=path, frame=k,
                    )
                _read(fh, 24)  # boundary flags
                if tri == 2:
                    v = np.frombuffer(_read(fh, 96), dtype=bo + "f8").reshape(4, 3)
                    h, origin = v[:3].copy(), v[3].copy()
                elif tri in (0, 1):
                    v = np.frombuffer(_read(fh, 48), dtype=bo + "f8").reshape(3, 2)
                    tilts = np.frombuffer(_read(fh, 24), dtype=bo + "f8") if tri else None
                    h, origin = box_from_bounds(v, tilts)
                else:
                    raise TrajectoryFormatError(
                        f"malformed box: triclinic flag {tri} at byte {fh.tell() - 4}; is this "
                        "a LAMMPS binary dump?",
                        path=path, frame=k,
                    )
                (ncol,) = struct.unpack(bo + "i", _read(fh, 4))
                t = np.nan
                cols = columns
                if revision >= 2:
                    (ln,) = struct.unpack(bo + "i", _read(fh, 4))
                    if ln:
                        units = _read(fh, ln).decode()
                    if _read(fh, 1) != b"\x00":
                        (t,) = struct.unpack(bo + "d", _read(fh, 8))
                    (ln,) = struct.unpack(bo + "i", _read(fh, 4))
                    cols = _read(fh, ln).decode() if columns is None else columns
                if cols is None:
                    raise TrajectoryFormatError(
                        "this binary dump is in the format of LAMMPS before 2021, which stores "
                        "no column names: pass columns='id type x y z ...' (as in the dump "
                        "command), or convert it with LAMMPS' tools/binary2txt",
                        path=path, frame=k,
                    )
                if len(cols.split()) != ncol:
                    raise TrajectoryFormatError(
                        f"the column names {cols!r} do not match the {ncol} columns stored",
                        path=path, frame=k,
                    )
                (nch,) = struct.unpack(bo + "i", _read(fh, 4))
                if nch < 0 or n < 0:
                    raise TrajectoryFormatError(
                        f"corrupt header at byte {fstart} (negative count)", path=path, frame=k
                    )
                dstart = fh.tell()
                total = 0
                for _ in range(nch):
                    (m,) = struct.unpack(bo + "i", _read(fh, 4))
                    if m < 0 or total + m > n * ncol:
                        raise TrajectoryFormatError(
                            f"corrupt chunk length {m} at byte {fh.tell() - 4} (the snapshot "
                            f"holds {n} atoms × {ncol} columns); the frames before it are "
                            f"intact: convert them with frames=slice(0, {k})",
                            path=path, frame=k,
                        )
                    total += m
                    fh.seek(8 * m, os.SEEK_CUR)
                if fh.tell() > size:
                    raise _EOF
            except _EOF:
                truncated = f"frame {k} (byte {fstart}) is incomplete"
                break
            if total != n * ncol:
                raise TrajectoryFormatError(
                    f"{total} values stored at byte {dstart} where {n} atoms × {ncol} columns "
                    "were announced; the file is corrupt",
                    path=path, frame=k,
                )
            if cols_seen is None:
                cols_seen = cols
            elif cols != cols_seen:
                raise TrajectoryFormatError(
                    f"the columns change from {cols_seen!r} to {cols!r}", path=path, frame=k
                )
            if np.linalg.det(h) <= 0 or not np.all(np.isfinite(h)):
                raise TrajectoryFormatError(
                    f"malformed box (zero or negative volume) at byte {fstart}", path=path,
                    frame=k,
                )
            starts.append(fstart)
            d0.append(dstart)
            d1.append(fh.tell())
            nchunks.append(nch)
            steps.append(step)
            natoms.append(n)
            times.append(t)
            boxes.append(h)
            origins.append(origin)
    if not starts:
        raise TrajectoryFormatError(
            "no complete frame in the file" + (f" ({truncated})" if truncated else ""),
            path=path,
        )
    return {
        "frame_start": np.asarray(starts, np.int64),
        "data_start": np.asarray(d0, np.int64),
        "data_end": np.asarray(d1, np.int64),
        "n_chunks": np.asarray(nchunks, np.int64),
        "step": np.asarray(steps, np.int64),
        "n_atoms": np.asarray(natoms, np.int64),
        "time": np.asarray(times, np.float64),
        "boxes": np.asarray(boxes, np.float64).reshape(-1, 3, 3),
        "origins": np.asarray(origins, np.float64).reshape(-1, 3),
        "columns": np.array(cols_seen or ""),
        "units": np.array(units),
        "truncated": np.array(truncated),
        "byteorder": np.array(bo),
    }


def _frame_values(raw: bytes, nch: int, n: int, ncol: int, bo: str) -> np.ndarray:
    """The (n_atoms, ncol) table of one snapshot from its chunk bytes."""
    parts = []
    pos = 0
    for _ in range(nch):
        (m,) = struct.unpack_from(bo + "i", raw, pos)
        parts.append(np.frombuffer(raw, dtype=bo + "f8", count=m, offset=pos + 4))
        pos += 4 + 8 * m
    data = np.concatenate(parts) if len(parts) != 1 else parts[0]
    return data.reshape(n, ncol)


class LammpsBinarySource:
    """A LAMMPS binary dump as a :class:`~hcanalysis.io.source.FrameSource`.

    Parameters are those of :class:`~hcanalysis.io.lammps_dump.LammpsDumpSource`, plus
    ``columns`` for files in the pre-2021 format, which store no column names. An ``element``
    column holds type ids in binary dumps (LAMMPS cannot store strings there), so elements come
    from ``type_map`` or ``topology``.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        dt_ps: float | None = None,
        type_map: Mapping[int, str] | None = None,
        topology: str | os.PathLike | None = None,
        columns: str | None = None,
    ) -> None:
        self.path = str(path)
        self._path = Path(path)
        self.notes: list[str] = []
        idx = None if columns else load_index(self._path, _INDEX_KIND)
        if idx is None:
            idx = build_index(self._path, columns)
            save_index(self._path, _INDEX_KIND, idx)
        self._idx = idx
        if str(idx["truncated"]):
            msg = (f"{self.path}: {idx['truncated']}; using the {len(idx['step'])} complete "
                   "frames before it")
            warnings.warn(msg, TruncatedTrajectoryWarning, stacklevel=3)
            self.notes.append(f"truncated: {idx['truncated']}; the complete frames before it "
                              "are used")
        names = [("type" if c == "element" else c) for c in str(idx["columns"]).split()]
        self.layout = column_layout(names, path=self.path, frame=0)
        self._bo = str(idx["byteorder"])
        self.n_frames = int(len(idx["step"]))
        self.n_atoms = int(idx["n_atoms"][0])
        self.steps = idx["step"]
        self.boxes = idx["boxes"]
        self.origins = idx["origins"]
        self.units = str(idx["units"]) or None
        self.has_images = self.layout.img is not None
        self.has_velocities = self.layout.vel is not None
        self.coords_unwrapped = self.layout.unwrapped
        first = self._table(0)
        lay = self.layout
        ids = (first[:, lay.id].astype(np.int64) if lay.id is not None
               else np.arange(1, self.n_atoms + 1))
        order = np.argsort(ids, kind="stable")
        if np.any(np.diff(ids[order]) == 0):
            dup = int(ids[order][np.flatnonzero(np.diff(ids[order]) == 0)[0]])
            raise TrajectoryFormatError(f"atom id {dup} appears twice", path=self.path, frame=0)
        self.ids = ids[order]
        tmap, masses = resolve_type_map(type_map, topology, self.notes)
        self._types0 = None
        if lay.type is not None:
            types = first[order, lay.type].astype(np.int64)
            self._types0 = types
            if tmap is not None and not type_map:
                tmap = complete_type_map(tmap, types, self.notes, masses=masses,
                                         source=topology, path=self.path)
            self.species = species_from_types(types, tmap, path=self.path, frame=0,
                                              notes=self.notes)
        else:
            self.notes.append("no 'type' column: every atom is named 'X'")
            self.species = np.full(self.n_atoms, "X")
        self.time_ps = time_axis(self.steps, idx["time"], self.units, dt_ps, self.notes)

    def _table(self, f: int, fh=None) -> np.ndarray:
        idx = self._idx
        s0, s1 = int(idx["data_start"][f]), int(idx["data_end"][f])
        if fh is None:
            with open(self._path, "rb") as fh2:
                fh2.seek(s0)
                raw = fh2.read(s1 - s0)
        else:
            fh.seek(s0)
            raw = fh.read(s1 - s0)
        if len(raw) < s1 - s0:
            raise TrajectoryFormatError(
                "the file is shorter than when it was indexed; delete its .hcaidx file",
                path=self.path, frame=f,
            )
        return _frame_values(raw, int(idx["n_chunks"][f]), self.n_atoms,
                             len(self.layout.names), self._bo)

    def read(self, frames: np.ndarray, atoms: np.ndarray | None = None) -> FrameBlock:
        frames = np.asarray(frames, dtype=np.int64).ravel()
        lay = self.layout
        sel = slice(None) if atoms is None else atoms
        n_sel = self.n_atoms if atoms is None else len(atoms)
        pos = np.empty((len(frames), n_sel, 3))
        img = np.empty((len(frames), n_sel, 3), np.int32) if self.has_images else None
        vel = np.empty((len(frames), n_sel, 3)) if self.has_velocities else None
        with open(self._path, "rb") as fh:
            for j, f in enumerate(frames):
                t = self._table(int(f), fh)
                if lay.id is not None:
                    ids = t[:, lay.id].astype(np.int64)
                    order = np.argsort(ids, kind="stable")
                    if not np.array_equal(ids[order], self.ids):
                        raise TrajectoryFormatError(
                            "the atom ids differ from frame 0; hcanalysis needs the same atoms "
                            "in every frame", path=self.path, frame=int(f),
                        )
                    t = t[order]
                p = t[:, list(lay.pos)][sel]
                fin = np.isfinite(p).all(axis=1)
                if not fin.all():
                    a = int(np.flatnonzero(~fin)[0])
                    aid = int(self.ids[sel][a]) if lay.id is not None else a + 1
                    raise TrajectoryFormatError(
                        f"non-finite coordinate {tuple(float(x) for x in p[a])} for atom id "
                        f"{aid}; the simulation blew up here: use the frames before it",
                        path=self.path, frame=int(f),
                    )
                pos[j] = p
                fj = frames[j : j + 1]
                if self._types0 is not None:
                    check_types(t[None, :, lay.type], self._types0, self.ids, fj, path=self.path)
                if img is not None:
                    flags = t[:, list(lay.img)]
                    check_image_range(flags[None], self.ids, fj, path=self.path)
                    img[j] = flags[sel]
                if vel is not None:
                    vel[j] = t[:, list(lay.vel)][sel]
        pos = to_cartesian(pos, lay.kind, self.boxes[frames], self.origins[frames])
        return FrameBlock(positions=pos, images=img, velocities=vel)
