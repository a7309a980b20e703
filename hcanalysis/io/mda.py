"""Anything MDAnalysis reads (XTC, DCD, TRR, NetCDF, ...) with a topology (PDB, GRO, PSF, a
LAMMPS data file, ...).

:class:`MDAnalysisSource` keeps an ``MDAnalysis.Universe`` and reads frames lazily through
``universe.trajectory[i]``. The metadata pass walks the trajectory once to collect the box and
time of every frame (MDAnalysis decodes each frame for that; XTC/TRR offsets are cached by
MDAnalysis next to the file, so a second open seeks directly).

Element per atom, in this order: ``atoms.elements`` when the topology has them, else
``type_map`` on integer ``atoms.types`` (LAMMPS), else a guess from ``atoms.masses`` (reported
in ``notes``), else the type names themselves. Boxes come from ``ts.dimensions``
(``[a, b, c, alpha, beta, gamma]``, turned into cell vectors with
``MDAnalysis.lib.mdamath.triclinic_vectors``), times from ``ts.time`` (ps).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hcanalysis.errors import TrajectoryFormatError
from hcanalysis.io.source import ArraySource, FrameBlock
from hcanalysis.progress import Counter
from hcanalysis.progress import null as null_progress
from hcanalysis.progress import resolve as resolve_progress

#: Trajectory-only formats: they carry no atom names, so a topology is required.
COORDINATE_ONLY = {"xtc", "trr", "dcd", "nc", "ncdf", "netcdf", "tng", "trj", "mdcrd", "crd",
                   "inpcrd", "dms", "trz", "lammpsdump"}


def _topology_format(path: Path) -> str | None:
    """MDAnalysis topology format for suffixes it would not guess (LAMMPS data files)."""
    return "DATA" if path.suffix.lower() in (".data", ".lmp") else None


def species_of(atoms: Any, type_map: Mapping[int, str] | None, notes: list[str],
               path: Any = None) -> np.ndarray:
    """Element per atom of an MDAnalysis AtomGroup (see the module docstring)."""
    from ase.data import atomic_numbers

    n = len(atoms)
    if hasattr(atoms, "elements"):
        el = np.array([str(e).strip().capitalize() for e in atoms.elements])
        if n and all(e in atomic_numbers and e != "X" for e in el):
            return el
    types = np.array([str(t) for t in atoms.types]) if hasattr(atoms, "types") else None
    if type_map and types is not None:
        if not all(t.lstrip("-").isdigit() for t in types):
            raise TrajectoryFormatError(
                "type_map given but the topology's atom types are not integers "
                f"(e.g. {types[0]!r})", path=path)
        ids = types.astype(int)
        missing = sorted(set(np.unique(ids).tolist()) - set(int(k) for k in type_map))
        if missing:
            raise TrajectoryFormatError(
                f"type id {missing[0]} is not in the type_map "
                f"{dict(type_map)}; add it (e.g. --type-map {missing[0]}:Na)", path=path)
        return np.array([type_map[int(t)] for t in ids])
    if hasattr(atoms, "masses") and n:
        from hcanalysis.io.elements import element_from_mass

        masses = np.asarray(atoms.masses, dtype=float)
        guess = {float(m): element_from_mass(m) for m in np.unique(masses)}
        matched = {m: g for m, g in guess.items() if g is not None}
        if matched:
            fallback = types if types is not None else np.full(n, "X")
            out = np.array([guess[float(m)] or fallback[i] for i, m in enumerate(masses)])
            notes.append("elements guessed from masses: " + ", ".join(
                f"{m:g} amu -> {g}" for m, g in matched.items()))
            unmatched = sorted(set(out[[guess[float(m)] is None for m in masses]].tolist()))
            if unmatched:
                notes.append("no element for masses of types " + ", ".join(unmatched)
                             + ": type names kept")
            return out
    if types is not None:
        notes.append("no elements or masses matched: atom types used as species names")
        return types
    notes.append("no elements, types or masses in the topology: every atom is named 'X'")
    return np.full(n, "X")


def dimensions_to_box(dims: Any, path: Any = None, frame: int | None = None) -> np.ndarray:
    """``[a, b, c, alpha, beta, gamma]`` (Å, degrees) -> 3x3 cell, rows are cell vectors."""
    from MDAnalysis.lib.mdamath import triclinic_vectors

    if dims is None or not np.all(np.isfinite(dims)) or np.any(np.asarray(dims)[:3] <= 0):
        raise TrajectoryFormatError(
            f"no periodic box ({dims!r}); hcanalysis needs a cell for every frame",
            path=path, frame=frame)
    return np.asarray(triclinic_vectors(np.asarray(dims, dtype=np.float64)), dtype=np.float64)


class MDAnalysisSource:
    """Lazy reader of any trajectory MDAnalysis reads.

    Parameters
    ----------
    path : path-like
        Trajectory (XTC, DCD, TRR, ...) or a file MDAnalysis reads alone (PDB, GRO, ...).
    topology : path-like, optional
        Topology (PDB, GRO, PSF, TPR, LAMMPS data ``.data``/``.lmp``, ...). Required for
        coordinate-only formats.
    dt_ps : float, optional
        Time between frames, ps; replaces ``ts.time``.
    type_map : mapping of int to str, optional
        Integer atom type -> element (LAMMPS data topologies).
    """

    def __init__(self, path: str | os.PathLike, topology: str | os.PathLike | None = None,
                 dt_ps: float | None = None, type_map: Mapping[int, str] | None = None,
                 show_progress: bool | None = None) -> None:
        import MDAnalysis as mda

        self.path = str(path)
        self.notes: list[str] = []
        self.has_images = False
        self.coords_unwrapped = False
        p = Path(path)
        ext = p.suffix.lower().lstrip(".")
        if topology is None and ext in COORDINATE_ONLY:
            raise TrajectoryFormatError(
                f"a .{ext} file has no atom names or types: give a topology "
                "(topology=... or --topology FILE: a PDB, GRO, PSF, TPR or LAMMPS data file)",
                path=self.path)
        if topology is not None and not Path(topology).exists():
            raise FileNotFoundError(f"{topology}: no such topology file")
        try:
            if topology is None:
                u = mda.Universe(self.path)
            else:
                tp = Path(topology)
                kw = {}
                if _topology_format(tp):
                    kw["topology_format"] = _topology_format(tp)
                u = mda.Universe(str(tp), self.path, **kw)
        except Exception as exc:  # noqa: BLE001 - MDAnalysis raises many kinds
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise TrajectoryFormatError(
                f"MDAnalysis cannot read it ({type(exc).__name__}: {msg})"
                + ("" if topology is not None else "; a topology may be needed (--topology)"),
                path=self.path) from None
        self._u = u
        self.n_atoms = int(u.atoms.n_atoms)
        self.n_frames = int(u.trajectory.n_frames)
        self.species = species_of(u.atoms, type_map, self.notes, self.path)
        self.has_velocities = bool(getattr(u.trajectory.ts, "has_velocities", False))
        self._index(dt_ps, show_progress)

    def _index(self, dt_ps: float | None, show_progress: bool | None) -> None:
        boxes = np.empty((self.n_frames, 3, 3))
        times = np.empty(self.n_frames)
        if show_progress is None:
            show_progress = self.n_frames * self.n_atoms > 20_000_000
        fn = resolve_progress(None) if show_progress else null_progress
        with Counter(fn, f"indexing {Path(self.path).name}: frames", self.n_frames) as count:
            for i, ts in enumerate(self._u.trajectory):
                boxes[i] = dimensions_to_box(ts.dimensions, self.path, i)
                times[i] = ts.time
                if i % 256 == 0:
                    count.update(i)
        self._u.trajectory[0]
        self.boxes = boxes
        if dt_ps is not None:
            self.time_ps = np.arange(self.n_frames, dtype=np.float64) * float(dt_ps)
        else:
            self.time_ps = times

    @property
    def universe(self) -> Any:
        """The ``MDAnalysis.Universe`` behind this reader."""
        return self._u

    def read(self, frames: np.ndarray, atoms: np.ndarray | None = None) -> FrameBlock:
        from hcanalysis.io.h5md import check_finite

        frames = np.asarray(frames, dtype=np.int64)
        sel = slice(None) if atoms is None else np.asarray(atoms)
        n_sel = self.n_atoms if atoms is None else len(atoms)
        pos = np.empty((len(frames), n_sel, 3))
        vel = np.empty((len(frames), n_sel, 3)) if self.has_velocities else None
        traj = self._u.trajectory
        contiguous = len(frames) > 1 and bool(np.all(np.diff(frames) == 1))
        it = (traj[int(frames[0]):int(frames[-1]) + 1] if contiguous
              else (traj[int(f)] for f in frames))
        for k, ts in enumerate(it):
            pos[k] = ts.positions[sel]
            if vel is not None:
                vel[k] = ts.velocities[sel]
        check_finite(pos, frames, atoms, self.path)
        return FrameBlock(positions=pos, velocities=vel)


def universe_to_arrays(universe: Any, select: str = "all") -> ArraySource:
    """Every frame of ``universe`` (atoms chosen by the MDAnalysis selection ``select``) as an
    in-memory :class:`~hcanalysis.io.source.ArraySource`."""
    from hcanalysis.errors import SelectionError

    ag = universe.select_atoms(select)
    if ag.n_atoms == 0:
        raise SelectionError(f"the MDAnalysis selection {select!r} matches no atoms")
    notes: list[str] = []
    species = species_of(ag, None, notes)
    traj = universe.trajectory
    n = traj.n_frames
    pos = np.empty((n, ag.n_atoms, 3))
    boxes = np.empty((n, 3, 3))
    times = np.empty(n)
    has_vel = bool(getattr(traj.ts, "has_velocities", False))
    vel = np.empty((n, ag.n_atoms, 3)) if has_vel else None
    for i, ts in enumerate(traj):
        pos[i] = ag.positions
        boxes[i] = dimensions_to_box(ts.dimensions, getattr(traj, "filename", None), i)
        times[i] = ts.time
        if vel is not None:
            vel[i] = ag.velocities
    traj[0]
    fname = getattr(traj, "filename", None)
    return ArraySource(positions=pos, boxes=boxes, species=species, time_ps=times,
                       velocities=vel, path=str(fname) if isinstance(fname, str) else None,
                       notes=notes)
