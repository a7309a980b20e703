"""H5MD 1.1 files (https://www.nongnu.org/h5md/h5md.html): writer and lazy reader.

Layout written by :func:`write` (``<g>`` is the particle group, ``"all"`` by default)::

    /h5md                      attrs version=[1, 1]; groups author (name), creator (name, version)
    /particles/<g>/position    value  (n_frames, n_atoms, 3) float32|float64, attr unit="Angstrom"
                               step   (n_frames,) int64     time (n_frames,) float64, unit="ps"
                               attr hcanalysis_unwrapped: 1 when the positions are unwrapped
    /particles/<g>/box         attrs dimension=3, boundary=["periodic"]*3
      edges/                   value (n_frames, 3, 3) float64, rows are the cell vectors, Å
                               step, time: hard links to position/step and position/time
    /particles/<g>/species     (n_atoms,) int32: atomic numbers when every name is an element
                               (else 1, 2, ... in order of appearance); attrs names, codes
    /particles/<g>/element     (n_atoms,) UTF-8 strings: the species name of each atom
    /particles/<g>/image       value (n_frames, n_atoms, 3) int32 + step/time links (if any)
    /particles/<g>/velocity    value (n_frames, n_atoms, 3), unit "Angstrom ps-1" (if any)
    /parameters/hcanalysis     attrs: source_file, source_format, hcanalysis_version, created,
                               selection, coords_unwrapped, notes

``species`` is an integer dataset as the H5MD standard asks; the names live in its ``names``
/``codes`` attributes and, for tools that want strings, in ``element``.

Chunks are ``(min(64, n_frames), min(512, n_atoms), 3)``: about 400 KiB of float32 each, so a
pass over frames touches few chunks per frame block, and reading every frame of a subset of
ions (the per-ion analyses, Dask ion chunks) reads only the atom blocks that hold them instead
of whole frames. Data are compressed with gzip (level 4) and the byte shuffle filter, or lzf.

The reader, :class:`H5MDSource`, also reads standard files from other writers (MDAnalysis'
``H5MDWriter`` and others): time-dependent or fixed ``box/edges``, edges given as a 3-vector
(cuboid) or a 3x3 matrix, scalar ``step``/``time`` with an ``offset``, length units nm/pm/Å,
time units fs/ps/ns.
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path
from typing import Any

import numpy as np

from hcanalysis.atomic import atomic_output
from hcanalysis.errors import HCAnalysisError, TrajectoryFormatError
from hcanalysis.io.source import FrameBlock
from hcanalysis.progress import Counter, ProgressFn
from hcanalysis.progress import null as null_progress
from hcanalysis.progress import resolve as resolve_progress

#: Frames per chunk (at most) of the time-dependent datasets.
CHUNK_FRAMES = 64
#: Atoms per chunk (at most): ion-subset reads touch only the atom blocks that hold the ions.
CHUNK_ATOMS = 512
#: HDF5 chunk cache of a reader, bytes (holds a full row of atom chunks for a frame block).
READ_CACHE_BYTES = 64 * 1024**2
#: Frames read from the source per write step are capped to about this many bytes of float64.
WRITE_BLOCK_BYTES = 64 * 1024**2

_LENGTH = {"angstrom": 1.0, "a": 1.0, "å": 1.0, "nm": 10.0, "pm": 0.01, "fm": 1e-5}
_TIME = {"ps": 1.0, "fs": 1e-3, "ns": 1e3, "s": 1e12, "second": 1e12, "sec": 1e12}


def _str_attr(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray) and value.shape == ():
        return _str_attr(value[()])
    return str(value)


# ---------------------------------------------------------------------------------- writing
def _species_codes(names: np.ndarray) -> tuple[np.ndarray, list[str], list[int]]:
    """Integer species per atom plus the mapping (names[i] <-> codes[i])."""
    from ase.data import atomic_numbers

    uniq, first = np.unique(names, return_index=True)
    order = [str(uniq[i]) for i in np.argsort(first)]
    if all(n in atomic_numbers and atomic_numbers[n] > 0 for n in order):
        codes = [int(atomic_numbers[n]) for n in order]
    else:
        codes = list(range(1, len(order) + 1))
    lut = dict(zip(order, codes, strict=True))
    return np.array([lut[str(n)] for n in names], dtype=np.int32), order, codes


def _check_paths(traj: Any, out: Path, overwrite: bool) -> None:
    src = getattr(traj, "path", None)
    if src is not None:
        sp = Path(src)
        if out.resolve() == sp.resolve() or (out.exists() and sp.exists() and
                                             os.path.samefile(out, sp)):
            raise HCAnalysisError(
                f"{out}: this is the input trajectory; choose another output path "
                "(an input is never written over)"
            )
    if out.exists() and not overwrite:
        raise HCAnalysisError(
            f"{out}: file exists; choose another name or pass overwrite=True (--force)"
        )
    if out.is_dir():
        raise HCAnalysisError(f"{out}: is a directory; give a file name such as run.h5")


def write(
    traj: Any,
    path: str | os.PathLike,
    select: Any = None,
    *,
    overwrite: bool = False,
    dtype: Any = np.float32,
    compression: str = "gzip",
    compression_level: int = 4,
    group: str = "all",
    chunk_frames: int = CHUNK_FRAMES,
    chunk_atoms: int = CHUNK_ATOMS,
    show_progress: bool | None = None,
    author: str | None = None,
    progress: ProgressFn | None = None,
) -> Path:
    """Write a trajectory (or a selection of its atoms) to an H5MD file, streaming by frames.

    Parameters
    ----------
    traj : Trajectory
        What to write (read chunk by chunk; never whole in memory).
    path : path-like
        Output file (``.h5``). Never the input file.
    select : selection, optional
        Atoms to keep (``"Na"``, a list of elements, indices); default all.
    overwrite : bool
        Replace an existing ``path`` (default: refuse).
    dtype : numpy dtype
        ``float32`` (default; ~1e-7 relative rounding) or ``float64`` (bitwise round trip) for
        positions and velocities. Boxes and times are always float64.
    compression : {"gzip", "lzf", None}
        HDF5 filter (gzip uses ``compression_level`` and the shuffle filter).
    group : str
        Name of the particle group.
    chunk_frames, chunk_atoms : int
        Chunk shape bounds (see the module docstring).
    show_progress : bool, optional
        Report progress (frames written); default on for more than 1e7 atom-frames.
    progress : callable, optional
        ``progress(stage, done, total)`` (:mod:`hcanalysis.progress`); default the one
        installed with :func:`hcanalysis.progress.use` (the command line's bar or lines).

    Returns
    -------
    Path of the file written. It is written to a temporary name in the same folder and renamed
    at the end, so an interrupted write never leaves a half file under ``path``.
    """
    import h5py

    from hcanalysis import __version__

    out = Path(path)
    _check_paths(traj, out, overwrite)
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    if compression not in ("gzip", "lzf", None):
        raise ValueError("compression must be 'gzip', 'lzf' or None")
    view = traj if select is None else traj.select(select)
    source = view.source
    atoms = view.atom_indices
    if len(atoms) == source.n_atoms and np.array_equal(atoms, np.arange(source.n_atoms)):
        atoms_arg = None
    else:
        atoms_arg = atoms
    n_frames, n_atoms = view.n_frames, view.n_atoms
    if n_frames == 0:
        raise TrajectoryFormatError("the trajectory has no frames to write", path=traj.path)
    species = np.asarray(view.species).astype(str)
    boxes = np.asarray(view.boxes(), dtype=np.float64)
    time_ps = np.asarray(view.time_ps, dtype=np.float64)
    steps = getattr(source, "steps", None)
    steps = (np.arange(n_frames, dtype=np.int64) if steps is None
             else np.asarray(steps, dtype=np.int64))
    has_img, has_vel = bool(view.has_image_flags), bool(view.has_velocities)

    cf = max(1, min(int(chunk_frames), n_frames))
    ca = max(1, min(int(chunk_atoms), n_atoms))
    filt: dict[str, Any] = {}
    if compression == "gzip":
        filt = {"compression": "gzip", "compression_opts": int(compression_level), "shuffle": True}
    elif compression == "lzf":
        filt = {"compression": "lzf", "shuffle": True}
    per_frame = max(1, n_atoms * 3 * 8 * (1 + has_img + has_vel))
    block = max(cf, (WRITE_BLOCK_BYTES // per_frame) // cf * cf)

    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(out) as tmp, h5py.File(tmp, "w") as f:
        h = f.create_group("h5md")
        h.attrs["version"] = np.array([1, 1], dtype=np.int32)
        h.create_group("author").attrs["name"] = author or os.environ.get("USER", "unknown")
        cr = h.create_group("creator")
        cr.attrs["name"] = "hcanalysis"
        cr.attrs["version"] = __version__
        g = f.create_group("particles").create_group(group)

        pos_g = g.create_group("position")
        pos_g.attrs["hcanalysis_unwrapped"] = np.int8(view.coords_unwrapped)
        shape = (n_frames, n_atoms, 3)
        pos_ds = pos_g.create_dataset("value", shape=shape, dtype=dtype,
                                      chunks=(cf, ca, 3), **filt)
        pos_ds.attrs["unit"] = "Angstrom"
        step_ds = pos_g.create_dataset("step", data=steps)
        time_ds = pos_g.create_dataset("time", data=time_ps)
        time_ds.attrs["unit"] = "ps"

        box = g.create_group("box")
        box.attrs["dimension"] = np.int32(3)
        box.attrs["boundary"] = np.array(["periodic"] * 3, dtype=h5py.string_dtype())
        edges = box.create_group("edges")
        edges.create_dataset("value", data=boxes, chunks=(min(4096, n_frames), 3, 3),
                             **filt).attrs["unit"] = "Angstrom"
        edges["step"] = step_ds
        edges["time"] = time_ds

        codes, names, code_list = _species_codes(species)
        sp = g.create_dataset("species", data=codes)
        sp.attrs["names"] = np.array(names, dtype=h5py.string_dtype())
        sp.attrs["codes"] = np.array(code_list, dtype=np.int32)
        g.create_dataset("element", data=species.astype(object),
                         dtype=h5py.string_dtype())

        img_ds = vel_ds = None
        if has_img:
            ig = g.create_group("image")
            img_ds = ig.create_dataset("value", shape=shape, dtype=np.int32,
                                       chunks=(cf, ca, 3), **filt)
            ig["step"], ig["time"] = step_ds, time_ds
        if has_vel:
            vg = g.create_group("velocity")
            vel_ds = vg.create_dataset("value", shape=shape, dtype=dtype,
                                       chunks=(cf, ca, 3), **filt)
            vel_ds.attrs["unit"] = "Angstrom ps-1"
            vg["step"], vg["time"] = step_ds, time_ds

        meta = f.create_group("parameters").create_group("hcanalysis")
        meta.attrs["source_file"] = str(traj.path) if traj.path else ""
        meta.attrs["source_format"] = type(getattr(source, "base", source)).__name__
        meta.attrs["hcanalysis_version"] = __version__
        meta.attrs["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(
            timespec="seconds")
        meta.attrs["selection"] = "" if select is None else repr(select)
        meta.attrs["coords_unwrapped"] = np.int8(view.coords_unwrapped)
        meta.attrs["notes"] = np.array([str(n) for n in view.notes] or [""],
                                       dtype=h5py.string_dtype())

        if show_progress is None:
            show_progress = n_frames * n_atoms > 10_000_000
        _stream(source, atoms_arg, n_frames, block, pos_ds, img_ds, vel_ds,
                resolve_progress(progress) if show_progress else null_progress, out.name)
    return out


def _stream(source, atoms, n_frames, block, pos_ds, img_ds, vel_ds, progress, label) -> None:
    """Copy frames block by block from the source into the datasets."""
    with Counter(progress, f"writing {label}: frames", n_frames) as count:
        for lo in range(0, n_frames, block):
            hi = min(n_frames, lo + block)
            fb = source.read(np.arange(lo, hi), atoms)
            pos_ds[lo:hi] = fb.positions
            if img_ds is not None:
                img_ds[lo:hi] = fb.images
            if vel_ds is not None:
                vel_ds[lo:hi] = fb.velocities
            count.advance(hi - lo)


# ---------------------------------------------------------------------------------- reading
def check_finite(pos: np.ndarray, frames: np.ndarray, atoms: np.ndarray | None, path: Any,
                 what: str = "coordinate") -> None:
    """Raise :class:`TrajectoryFormatError` naming the first frame and atom with a NaN or inf
    value in ``pos`` (n_frames, n_atoms, 3)."""
    ok = np.isfinite(pos)
    if ok.all():
        return
    f, a, k = np.argwhere(~ok)[0]
    frame = int(frames[f])
    atom = int(a if atoms is None else atoms[a])
    raise TrajectoryFormatError(
        f"non-finite {what} ({pos[f, a, k]}) for atom {atom} (index from 0), axis "
        f"{'xyz'[k]}; the file is corrupt there: cut the trajectory before this frame",
        path=path, frame=frame,
    )


#: Particle group of a rigid framework stored once (time-independent ``position``).
FRAMEWORK_GROUP = "framework"


def write_static_framework(path: str | os.PathLike, species, positions, cell) -> None:
    """Add a rigid framework, stored once, to the H5MD file ``path`` (opened for appending).

    ``/particles/framework`` gets H5MD time-independent datasets: ``position`` (n, 3) float64
    Å, ``element`` (n,) strings, ``species`` (n,) int32 (atomic numbers, as in :func:`write`)
    and ``box/edges`` (3, 3) Å. :func:`hcanalysis.load` joins these atoms to every frame of
    the ``all`` group (after its atoms; :class:`hcanalysis.io.framework.FrameworkSource`), so
    an ion-only trajectory of a rigid-framework run is read as the whole system.
    """
    import h5py

    names = np.asarray(species).astype(str)
    pos = np.asarray(positions, dtype=np.float64)
    cell = np.asarray(cell, dtype=np.float64)
    if pos.shape != (len(names), 3) or cell.shape != (3, 3):
        raise ValueError(f"framework positions {pos.shape} / cell {cell.shape}: expected "
                         f"({len(names)}, 3) and (3, 3)")
    codes_per_atom, uniq, codes = _species_codes(names)
    with h5py.File(path, "a") as f:
        g = f.require_group("particles").create_group(FRAMEWORK_GROUP)
        d = g.create_dataset("position", data=pos, compression="gzip", compression_opts=4,
                             shuffle=True)
        d.attrs["unit"] = "Angstrom"
        g.create_dataset("element", data=names.astype(object),
                         dtype=h5py.string_dtype("utf-8"))
        sp = g.create_dataset("species", data=codes_per_atom.astype(np.int32))
        sp.attrs["names"] = np.array(uniq, dtype=object)
        sp.attrs["codes"] = np.array(codes, dtype=np.int32)
        b = g.create_group("box")
        b.attrs["dimension"] = 3
        b.attrs["boundary"] = np.array(["periodic"] * 3, dtype=object)
        e = b.create_dataset("edges", data=cell)
        e.attrs["unit"] = "Angstrom"


def read_static_framework(path: str | os.PathLike):
    """``(species, positions, cell)`` of the framework stored once in ``path``
    (:func:`write_static_framework`), or None when the file has none."""
    import h5py

    with h5py.File(path, "r") as f:
        g = f.get(f"particles/{FRAMEWORK_GROUP}")
        if g is None or "position" not in g or hasattr(g["position"], "keys"):
            return None  # absent, or an ordinary time-dependent group
        pos = np.asarray(g["position"][()], dtype=np.float64)
        pos = pos * {"nm": 10.0, "pm": 0.01}.get(
            _str_attr(g["position"].attrs.get("unit", "Angstrom")).lower(), 1.0)
        if "element" in g:
            names = np.array([_str_attr(x) for x in g["element"][()]])
        else:
            raise TrajectoryFormatError(f"/particles/{FRAMEWORK_GROUP} has positions but no "
                                        "element dataset", path=str(path))
        if "box" not in g or "edges" not in g["box"]:
            raise TrajectoryFormatError(f"/particles/{FRAMEWORK_GROUP} has no box/edges",
                                        path=str(path))
        cell = np.asarray(g["box/edges"][()], dtype=np.float64)
        if cell.shape == (3,):
            cell = np.diag(cell)
    if pos.ndim != 2 or pos.shape != (len(names), 3):
        raise TrajectoryFormatError(f"/particles/{FRAMEWORK_GROUP}/position has shape "
                                    f"{pos.shape} for {len(names)} elements", path=str(path))
    return names, pos, cell


class H5MDSource:
    """Lazy reader of an H5MD file (see the module docstring for what it understands).

    Parameters
    ----------
    path : path-like
        The ``.h5`` file.
    dt_ps : float, optional
        Time between frames, ps; replaces the times stored in the file.
    group : str, optional
        Particle group to read (default: ``"all"`` if present, else the first one with
        positions).
    """

    def __init__(self, path: str | os.PathLike, dt_ps: float | None = None,
                 group: str | None = None) -> None:
        import h5py

        self.path = str(path)
        self.notes: list[str] = []
        self._file = None
        try:
            f = h5py.File(self.path, "r")
        except OSError as exc:
            raise TrajectoryFormatError(f"not an HDF5 file ({exc})", path=self.path) from None
        with f:
            self._read_metadata(f, dt_ps, group)

    # -------------------------------------------------------------- metadata
    def _read_metadata(self, f: Any, dt_ps: float | None, group: str | None) -> None:
        p = self.path
        if "particles" not in f:
            raise TrajectoryFormatError("no /particles group: not an H5MD trajectory", path=p)
        parts = f["particles"]
        if group is None:
            cands = [k for k in parts if "position" in parts[k]
                     and hasattr(parts[k]["position"], "keys")]  # not a static framework
            if not cands:
                raise TrajectoryFormatError("no /particles/*/position: nothing to read", path=p)
            group = "all" if "all" in cands else cands[0]
            if len(cands) > 1:
                self.notes.append(f"particle groups {', '.join(cands)}; reading {group!r}")
        elif group not in parts:
            raise TrajectoryFormatError(f"no particle group {group!r}", path=p)
        self.group = group
        g = parts[group]
        if "position" not in g or "value" not in g["position"]:
            raise TrajectoryFormatError(f"/particles/{group}/position/value is missing", path=p)
        pv = g["position/value"]
        if pv.ndim != 3 or pv.shape[2] != 3:
            raise TrajectoryFormatError(
                f"position/value has shape {pv.shape}; expected (n_frames, n_atoms, 3)", path=p)
        self.n_frames, self.n_atoms = int(pv.shape[0]), int(pv.shape[1])
        self._pos_scale = self._length_scale(pv)
        self.steps, t = self._step_time(g["position"], self.n_frames)
        if dt_ps is not None:
            self.time_ps = np.arange(self.n_frames, dtype=np.float64) * float(dt_ps)
            self.notes.append(f"times from dt_ps={dt_ps:g} ps (file times ignored)")
        elif t is None:
            self.time_ps = self.steps.astype(np.float64)
            self.notes.append("no times in the file: 1 step = 1 ps assumed; give dt_ps")
        else:
            self.time_ps = t
        self.boxes = self._read_box(g)
        self.species = self._read_species(g)
        self.has_images = "image" in g and "value" in g["image"]
        self.has_velocities = "velocity" in g and "value" in g["velocity"]
        for name, present in (("image", self.has_images), ("velocity", self.has_velocities)):
            if present and g[f"{name}/value"].shape != pv.shape:
                raise TrajectoryFormatError(
                    f"{name}/value has shape {g[f'{name}/value'].shape} but position/value "
                    f"{pv.shape}: the file is inconsistent (was its writer stopped between "
                    "datasets?)", path=p)
        self._vel_scale = 1.0
        if self.has_velocities:
            unit = _str_attr(g["velocity/value"].attrs.get("unit", "Angstrom ps-1"))
            self._vel_scale = _velocity_scale(unit, p)
        self.coords_unwrapped = bool(g["position"].attrs.get("hcanalysis_unwrapped", 0))
        if "parameters/hcanalysis" in f:
            m = f["parameters/hcanalysis"].attrs
            src = _str_attr(m.get("source_file", ""))
            ver = _str_attr(m.get("hcanalysis_version", "?"))
            self.metadata = {k: (_str_attr(v) if not isinstance(v, np.ndarray) or v.ndim == 0
                                 else [_str_attr(x) for x in v]) for k, v in m.items()}
            self.notes.append(f"written by hcanalysis {ver}" + (f" from {src}" if src else ""))
            self.notes.extend(f"source: {n}" for n in self.metadata.get("notes", []) if n)
        else:
            self.metadata = {}
            cr = f["h5md/creator"].attrs.get("name", "?") if "h5md/creator" in f else "?"
            self.notes.append(f"standard H5MD written by {_str_attr(cr)}")

    def _length_scale(self, ds: Any) -> float:
        unit = _str_attr(ds.attrs.get("unit", "Angstrom"))
        scale = _LENGTH.get(unit.strip().lower())
        if scale is None:
            raise TrajectoryFormatError(f"unknown length unit {unit!r} (use Angstrom, nm or pm)",
                                        path=self.path)
        if scale != 1.0:
            self.notes.append(f"lengths converted from {unit} to Angstrom")
        return scale

    def _step_time(self, elem: Any, n: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Steps and times (ps) of a time-dependent element (arrays or fixed increments)."""

        def series(name: str) -> np.ndarray | None:
            if name not in elem:
                return None
            ds = elem[name]
            if ds.shape == ():
                off = float(ds.attrs.get("offset", 0))
                return off + np.arange(n) * float(ds[()])
            if ds.shape[0] < n:
                raise TrajectoryFormatError(
                    f"{elem.name}/{name} has {ds.shape[0]} entries for {n} frames of "
                    f"{elem.name}/value: the file is inconsistent (was its writer stopped "
                    f"between datasets?); the first {ds.shape[0]} frames may be usable: "
                    "rewrite them with h5py", path=self.path)
            return np.asarray(ds[:n], dtype=np.float64)

        step = series("step")
        steps = np.arange(n, dtype=np.int64) if step is None else step.astype(np.int64)
        t = series("time")
        if t is not None:
            unit = _str_attr(elem["time"].attrs.get("unit", "ps")).strip()
            scale = _TIME.get(unit)
            if scale is None:
                raise TrajectoryFormatError(f"unknown time unit {unit!r} (use fs, ps or ns)",
                                            path=self.path)
            t = t * scale
        return steps, t

    def _read_box(self, g: Any) -> np.ndarray:
        p, n = self.path, self.n_frames
        if "box" not in g:
            raise TrajectoryFormatError(
                f"/particles/{self.group}/box is missing: a periodic cell is needed "
                "(write one with box/edges)", path=p)
        box = g["box"]
        dim = int(np.asarray(box.attrs.get("dimension", 3)))
        if dim != 3:
            raise TrajectoryFormatError(f"box dimension {dim}; only 3-D boxes are supported",
                                        path=p)
        bnd = box.attrs.get("boundary")
        self.boundary = None
        if bnd is not None and any(_str_attr(b) != "periodic" for b in np.atleast_1d(bnd)):
            kinds = [_str_attr(b) for b in np.atleast_1d(bnd)]
            self.boundary = " ".join("pp" if k == "periodic" else "ff" for k in kinds)
            self.notes.append(f"box boundary is not periodic on every axis: {kinds}; "
                              "unwrapping (and every analysis that needs it) refuses this file")
        if "edges" not in box:
            raise TrajectoryFormatError("box has no edges: the cell is unknown", path=p)
        e = box["edges"]
        if hasattr(e, "keys"):  # time-dependent element
            if "value" not in e:
                raise TrajectoryFormatError("box/edges has no value dataset", path=p)
            val = np.asarray(e["value"][()], dtype=np.float64) * self._length_scale(e["value"])
            if val.shape[0] != n:
                esteps, _ = self._step_time(e, val.shape[0])
                k = np.searchsorted(esteps, self.steps, side="right") - 1
                if k.min() < 0:
                    raise TrajectoryFormatError("box/edges starts after the first position step",
                                                path=p)
                self.notes.append(f"box sampled at {val.shape[0]} steps; latest box used")
                val = val[k]
        else:  # time-independent dataset
            val = np.asarray(e[()], dtype=np.float64) * self._length_scale(e)
            val = np.broadcast_to(val, (n, *val.shape))
        if val.shape[1:] == (3,):
            out = np.zeros((n, 3, 3))
            out[:, [0, 1, 2], [0, 1, 2]] = val
        elif val.shape[1:] == (3, 3):
            out = np.array(val)
        else:
            raise TrajectoryFormatError(f"box edges of shape {val.shape[1:]}; expected (3,) or "
                                        "(3, 3)", path=p)
        if not np.all(np.isfinite(out)):
            f0 = int(np.argwhere(~np.isfinite(out))[0][0])
            raise TrajectoryFormatError("non-finite box edges", path=p, frame=f0)
        vol = np.abs(np.linalg.det(out))
        if np.any(vol <= 0):
            f0 = int(np.flatnonzero(vol <= 0)[0])
            raise TrajectoryFormatError("box has zero volume", path=p, frame=f0)
        return out

    def _read_species(self, g: Any) -> np.ndarray:
        n = self.n_atoms
        if "element" in g:
            names = np.array([_str_attr(x) for x in g["element"][()]])
            if names.shape == (n,):
                return names
        if "species" in g:
            sp = g["species"]
            arr = np.asarray(sp["value"][0] if hasattr(sp, "keys") else sp[()])
            arr = np.broadcast_to(arr, (n,)) if arr.ndim == 0 else arr
            if "names" in sp.attrs and "codes" in sp.attrs:
                lut = {int(c): _str_attr(nm) for c, nm in zip(sp.attrs["codes"],
                                                              sp.attrs["names"], strict=False)}
                return np.array([lut.get(int(c), str(int(c))) for c in arr])
            if arr.dtype.kind in "iu":
                from ase.data import chemical_symbols

                if arr.size and arr.min() >= 1 and arr.max() < len(chemical_symbols):
                    self.notes.append("species integers read as atomic numbers")
                    return np.array([chemical_symbols[int(z)] for z in arr])
                return arr.astype(str)
            return np.array([_str_attr(x) for x in arr])
        self.notes.append("no species in the file: every atom is named 'X'")
        return np.full(n, "X")

    # -------------------------------------------------------------- data
    def _h5(self) -> Any:
        if self._file is None:
            import h5py

            self._file = h5py.File(self.path, "r", rdcc_nbytes=READ_CACHE_BYTES,
                                   rdcc_nslots=10007)
        return self._file

    def close(self) -> None:
        """Close the HDF5 handle (it reopens on the next read)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_file"] = None  # picklable for Dask workers: each reopens the file
        return state

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass

    def _take(self, ds: Any, frames: np.ndarray, atoms: np.ndarray | None) -> np.ndarray:
        """``ds[frames][:, atoms]`` with few HDF5 selections (h5py allows one index list)."""
        frames = np.asarray(frames, dtype=np.int64)
        if frames.size == 0:
            n = self.n_atoms if atoms is None else len(atoms)
            return np.empty((0, n, 3), dtype=ds.dtype)
        ufr, finv = np.unique(frames, return_inverse=True)
        fcontig = ufr[-1] - ufr[0] + 1 == len(ufr)
        fsel = slice(int(ufr[0]), int(ufr[-1]) + 1) if fcontig else ufr
        if atoms is None:
            data = ds[fsel]
        else:
            atoms = np.asarray(atoms, dtype=np.int64)
            uat, ainv = np.unique(atoms, return_inverse=True)
            # a block whose atoms are all wanted is used as read (no copy by index)
            parts = [ds[fsel, b0:b1] if k1 - k0 == b1 - b0 else ds[fsel, b0:b1][:, uat[k0:k1] - b0]
                     for b0, b1, k0, k1 in _atom_blocks(uat, ds.chunks)]
            data = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
            if len(uat) != len(atoms) or not np.array_equal(uat, atoms):
                data = data[:, ainv.ravel()]
        if len(ufr) != len(frames) or not np.array_equal(ufr, frames):
            data = data[finv.ravel()]
        return data

    def read(self, frames: np.ndarray, atoms: np.ndarray | None = None) -> FrameBlock:
        f = self._h5()
        g = f["particles"][self.group]
        frames = np.asarray(frames, dtype=np.int64)
        pos = self._take(g["position/value"], frames, atoms).astype(np.float64, copy=False)
        if self._pos_scale != 1.0:
            pos = pos * self._pos_scale
        check_finite(pos, frames, atoms, self.path)
        img = vel = None
        if self.has_images:
            img = self._take(g["image/value"], frames, atoms).astype(np.int32, copy=False)
        if self.has_velocities:
            vel = self._take(g["velocity/value"], frames, atoms).astype(np.float64, copy=False)
            if self._vel_scale != 1.0:
                vel = vel * self._vel_scale
        return FrameBlock(positions=pos, images=img, velocities=vel)


def _atom_blocks(uat: np.ndarray, chunks: tuple | None) -> list[tuple[int, int, int, int]]:
    """Contiguous atom ranges ``[b0, b1)`` to read for the sorted unique atoms ``uat``, with the
    slice ``uat[k0:k1]`` of the atoms inside each.

    Runs of atom chunks that hold a wanted atom are merged, and each block is cut to the atoms
    it needs, so a read only touches chunks that hold wanted atoms and never uses h5py's slow
    point-list selections. Without chunking (contiguous layout), atoms closer than 256 apart
    share a block.
    """
    ca = int(chunks[1]) if chunks else 256
    cid = uat // ca
    # a new block starts where the chunk id jumps by more than one
    starts = np.flatnonzero(np.diff(cid) > 1) + 1
    bounds = np.concatenate([[0], starts, [len(uat)]])
    return [(int(uat[k0]), int(uat[k1 - 1]) + 1, int(k0), int(k1))
            for k0, k1 in zip(bounds[:-1], bounds[1:], strict=True)]


def _velocity_scale(unit: str, path: Any) -> float:
    """Factor to Å/ps from an H5MD velocity unit such as ``"nm ps-1"``."""
    parts = unit.replace("/", " ").split()
    if len(parts) != 2:
        raise TrajectoryFormatError(f"unknown velocity unit {unit!r}", path=path)
    length, time = parts[0].lower(), parts[1].removesuffix("-1")
    if length not in _LENGTH or time not in _TIME:
        raise TrajectoryFormatError(f"unknown velocity unit {unit!r}", path=path)
    return _LENGTH[length] / _TIME[time]
