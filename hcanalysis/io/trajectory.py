"""The :class:`Trajectory`: species, lazily read positions, boxes and times.

Contract (used by outside checks): ``n_frames``, ``n_atoms``, ``species``, ``time_ps``,
``box(i)``, ``positions(select=None, unwrap=False, frames=slice(None))``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from hcanalysis.errors import SelectionError, TrajectoryFormatError
from hcanalysis.io.source import ArraySource, FrameSource, is_periodic
from hcanalysis.io.unwrap import UnwrapState, apply_image_flags, check_image_steps, unwrap_block

Selection = None | str | Sequence[str] | Sequence[int] | np.ndarray | slice

#: Default number of frames read per chunk when streaming.
CHUNK_FRAMES = 1024


class Trajectory:
    """A molecular-dynamics trajectory: species per atom, positions per frame (Å), a cell
    matrix per frame (rows are cell vectors, triclinic allowed, Å) and a time per frame (ps).

    Positions are read lazily, in chunks of frames, from the underlying reader; subsetting
    (:meth:`select`) gives a view that never copies the file into memory.

    Parameters
    ----------
    source : FrameSource
        A reader (see :mod:`hcanalysis.io.source`).
    atoms : array of int, optional
        Indices of the source's atoms this trajectory shows (a view); default all.
    """

    def __init__(self, source: FrameSource, atoms: np.ndarray | None = None) -> None:
        self._source = source
        self._atoms = None if atoms is None else np.asarray(atoms, dtype=np.int64)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(
        cls,
        positions: np.ndarray,
        boxes: np.ndarray,
        species: Sequence[str] | np.ndarray,
        time_ps: np.ndarray | None = None,
        *,
        dt_ps: float = 1.0,
        images: np.ndarray | None = None,
        velocities: np.ndarray | None = None,
        unwrapped: bool = False,
    ) -> Trajectory:
        """Build a trajectory from arrays in memory.

        Parameters
        ----------
        positions : (n_frames, n_atoms, 3)
            Positions, Å.
        boxes : (3, 3) or (n_frames, 3, 3)
            Cell matrix (rows are cell vectors), Å.
        species : (n_atoms,)
            Element symbols.
        time_ps : (n_frames,), optional
            Times, ps (default ``arange(n_frames) * dt_ps``).
        images : (n_frames, n_atoms, 3) int, optional
            Image flags.
        unwrapped : bool
            The positions are already unwrapped.
        """
        return cls(
            ArraySource(
                positions=np.asarray(positions),
                boxes=boxes,
                species=np.asarray(species),
                time_ps=time_ps,
                images=images,
                velocities=velocities,
                coords_unwrapped=unwrapped,
                dt_ps=dt_ps,
            )
        )

    # ------------------------------------------------------------------ metadata
    @property
    def source(self) -> FrameSource:
        """The reader behind this trajectory."""
        return self._source

    @property
    def path(self) -> str | None:
        """The file this trajectory was read from, if any."""
        return self._source.path

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return int(self._source.n_frames)

    @property
    def n_atoms(self) -> int:
        """Number of atoms (of this view)."""
        return int(self._source.n_atoms if self._atoms is None else len(self._atoms))

    @property
    def atom_indices(self) -> np.ndarray:
        """Indices of this view's atoms in the file (sorted by atom id)."""
        if self._atoms is None:
            return np.arange(self._source.n_atoms)
        return self._atoms

    @property
    def species(self) -> np.ndarray:
        """Element symbol per atom, ``(n_atoms,)`` str."""
        sp = np.asarray(self._source.species)
        return sp if self._atoms is None else sp[self._atoms]

    @property
    def time_ps(self) -> np.ndarray:
        """Time of each frame, ps, ``(n_frames,)`` float64."""
        return np.asarray(self._source.time_ps, dtype=np.float64)

    @property
    def dt_ps(self) -> float:
        """Median time between consecutive frames, ps (0 for a single frame)."""
        t = self.time_ps
        return float(np.median(np.diff(t))) if t.size > 1 else 0.0

    @property
    def has_image_flags(self) -> bool:
        """The file carries image flags."""
        return bool(self._source.has_images)

    @property
    def has_velocities(self) -> bool:
        """The file carries velocities."""
        return bool(self._source.has_velocities)

    @property
    def coords_unwrapped(self) -> bool:
        """The stored coordinates are already unwrapped (e.g. LAMMPS xu/yu/zu)."""
        return bool(self._source.coords_unwrapped)

    @property
    def notes(self) -> list[str]:
        """What the reader guessed or repaired (element guesses, a truncated last frame)."""
        return list(getattr(self._source, "notes", []))

    def box(self, i: int = 0) -> np.ndarray:
        """Cell matrix of frame ``i`` (3x3, rows are the cell vectors a, b, c), Å."""
        return np.array(self._source.boxes[i], dtype=np.float64)

    def boxes(self, frames: slice | Sequence[int] | np.ndarray = slice(None)) -> np.ndarray:
        """Cell matrices of the given frames, ``(n, 3, 3)``, Å."""
        return np.asarray(self._source.boxes, dtype=np.float64)[self._frame_indices(frames)]

    @property
    def box_is_constant(self) -> bool:
        """True when every frame has the same cell (NVT/NVE)."""
        b = np.asarray(self._source.boxes)
        return bool(np.all(b == b[:1]))

    def volume(self, i: int = 0) -> float:
        """Cell volume of frame ``i``, Å³."""
        return float(abs(np.linalg.det(self.box(i))))

    def counts(self) -> dict[str, int]:
        """Number of atoms per species, in order of first appearance."""
        names, first, counts = np.unique(self.species, return_index=True, return_counts=True)
        order = np.argsort(first)
        return {str(names[i]): int(counts[i]) for i in order}

    # ------------------------------------------------------------------ selection
    def indices(self, select: Selection = None) -> np.ndarray:
        """Indices (into this view) of the atoms a selection names.

        Parameters
        ----------
        select : None, str, list of str, array of int or bool, or slice
            ``None`` = all atoms; an element ("Na"); several elements (["Na", "Li"]);
            integer indices; a boolean mask.

        Raises
        ------
        SelectionError
            When the selection is empty or names an element absent from the trajectory.
        """
        n = self.n_atoms
        if select is None:
            return np.arange(n)
        if isinstance(select, slice):
            idx = np.arange(n)[select]
        elif isinstance(select, str) or (
            isinstance(select, Sequence | np.ndarray)
            and len(select) > 0
            and isinstance(np.asarray(select).flat[0], str | np.str_)
        ):
            names = [select] if isinstance(select, str) else [str(s) for s in select]
            present = set(np.unique(self.species).tolist())
            missing = [s for s in names if s not in present]
            if missing:
                where = f" in {self.path}" if self.path else ""
                raise SelectionError(
                    f"no atoms of species {', '.join(missing)}{where}; species present: "
                    f"{', '.join(sorted(present))} (give a type_map if the file has type ids)"
                )
            idx = np.flatnonzero(np.isin(self.species, names))
        else:
            arr = np.asarray(select)
            if arr.dtype == bool:
                if arr.shape != (n,):
                    raise SelectionError(f"boolean selection has {arr.size} entries for {n} atoms")
                idx = np.flatnonzero(arr)
            else:
                idx = arr.astype(np.int64).ravel()
                if idx.size and (idx.min() < -n or idx.max() >= n):
                    raise SelectionError(f"atom index out of range 0..{n - 1}")
                idx = np.where(idx < 0, idx + n, idx)
        if idx.size == 0:
            raise SelectionError(f"the selection {select!r} matches no atoms")
        return idx

    def select(self, select: Selection) -> Trajectory:
        """A view of a subset of atoms (no data is read or copied)."""
        idx = self.indices(select)
        return Trajectory(self._source, self.atom_indices[idx])

    def _source_atoms(self, select: Selection) -> np.ndarray | None:
        if select is None:
            return self._atoms
        return self.atom_indices[self.indices(select)]

    def _frame_indices(self, frames: slice | Sequence[int] | np.ndarray | int) -> np.ndarray:
        if isinstance(frames, slice):
            return np.arange(self.n_frames)[frames]
        idx = np.atleast_1d(np.asarray(frames, dtype=np.int64))
        idx = np.where(idx < 0, idx + self.n_frames, idx)
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_frames):
            raise IndexError(f"frame index out of range 0..{self.n_frames - 1}")
        return idx

    # ------------------------------------------------------------------ data
    def positions(
        self,
        select: Selection = None,
        unwrap: bool = False,
        frames: slice | Sequence[int] | np.ndarray | int = slice(None),
    ) -> np.ndarray:
        """Positions of the selected atoms in the given frames, ``(n_frames, n_sel, 3)``
        float64, Å.

        Parameters
        ----------
        select : selection, optional
            See :meth:`indices`.
        unwrap : bool
            ``False``: coordinates as stored in the file. ``True``: unwrapped coordinates (by
            image flags, continuity, or the von Bülow scheme for a changing box; see
            :mod:`hcanalysis.io.unwrap`). Continuity unwrapping always walks every frame from
            the first one requested to the last, so a stepped ``frames`` slice is exact.
        frames : slice, int or array of int
            Frames to return.
        """
        fidx = self._frame_indices(frames)
        atoms = self._source_atoms(select)
        if not unwrap:
            return self._source.read(fidx, atoms).positions.astype(np.float64, copy=False)
        out = np.empty((len(fidx), self.n_atoms if atoms is None else len(atoms), 3))
        if len(fidx) == 0:
            return out
        rows: dict[int, list[int]] = {}
        for k, f in enumerate(fidx):
            rows.setdefault(int(f), []).append(k)
        for chunk_frames, pos in self._iter_unwrapped(atoms, np.unique(fidx)):
            for j, f in enumerate(chunk_frames):
                out[rows[int(f)]] = pos[j]
        return out

    def _require_periodic(self) -> None:
        """Unwrapping needs periodic images on all three axes: a clear error otherwise."""
        boundary = getattr(self._source, "boundary", None)
        if not is_periodic(boundary):
            raise TrajectoryFormatError(
                f"boundaries '{boundary}' are not periodic along every axis: unwrapping (and the "
                "MSD, hops, neighbours and void maps built on it) assumes periodic images on all "
                "three axes; rerun with 'boundary p p p', or read positions with unwrap=False",
                path=self.path,
            )

    def _iter_unwrapped(
        self, atoms: np.ndarray | None, fidx: np.ndarray, chunk_frames: int = CHUNK_FRAMES
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Unwrapped positions of the sorted frames ``fidx``, chunk by chunk.

        Image flags with a constant box, or stored unwrapped coordinates, need only the frames
        asked for; continuity / von Bülow unwrapping walks every frame in between.
        """
        self._require_periodic()
        ids = np.arange(self._source.n_atoms) if atoms is None else atoms
        all_boxes = np.asarray(self._source.boxes, dtype=np.float64)
        direct = self.coords_unwrapped or (self.has_image_flags and self.box_is_constant)
        contiguous = bool(np.all(np.diff(fidx) == 1))
        walk = fidx if (direct or contiguous) else np.arange(fidx[0], fidx[-1] + 1)
        keep = None if walk is fidx else np.isin(walk, fidx)
        state: UnwrapState | None = None
        prev_unwrapped = None
        for lo in range(0, len(walk), chunk_frames):
            f = walk[lo : lo + chunk_frames]
            block = self._source.read(f, atoms)
            boxes = all_boxes[f]
            if direct:
                if self.coords_unwrapped:
                    pos = block.positions.astype(np.float64, copy=False)
                else:
                    pos = apply_image_flags(block.positions, block.images, boxes)
                if contiguous:
                    check_image_steps(pos, boxes, prev_unwrapped, int(f[0]), ids, self.path)
            else:
                pos, state = unwrap_block(block.positions, boxes, state, int(f[0]), ids, self.path)
            prev_unwrapped = pos[-1]
            if keep is not None:
                m = keep[lo : lo + chunk_frames]
                if not m.any():
                    continue
                f, pos = f[m], pos[m]
            yield f, pos

    def centre_of_mass(
        self,
        select: Selection = None,
        weights: np.ndarray | None = None,
        frames: slice | Sequence[int] | np.ndarray = slice(None),
        chunk_frames: int = CHUNK_FRAMES,
    ) -> np.ndarray:
        """Weighted mean of the selected atoms' unwrapped positions at each frame, Å.

        The same numbers as ``np.einsum("fai,a->fi", positions(select, unwrap=True,
        frames=frames), weights)`` (to rounding), streamed in chunks of ``chunk_frames``
        frames. With continuity unwrapping (no image flags, or a changing box) the unwrapped
        positions are never built: the centre moves from frame to frame by the weighted sum of
        the atoms' minimum-image steps (the steps :func:`hcanalysis.io.unwrap.unwrap_block`
        takes), summed in one pass by :func:`hcanalysis.kernels.pbc.weighted_unwrap_steps`
        (about 30 times faster than unwrapping 20,000 atoms and averaging). Steps of more than
        :data:`hcanalysis.io.unwrap.MAX_STEP_FRACTION` of a cell vector warn
        (:class:`~hcanalysis.errors.UnwrapWarning`) as unwrapping does.

        Parameters
        ----------
        select : selection, optional
            See :meth:`indices`.
        weights : (n_sel,) float, optional
            Weights (e.g. masses / total mass); default equal weights summing to 1.
        frames : slice or array of int
            Frames (sorted, each once).
        chunk_frames : int
            Frames read at a time.

        Returns
        -------
        (n_frames, 3) float64
        """
        import warnings

        from hcanalysis.errors import UnwrapWarning
        from hcanalysis.io.unwrap import MAX_STEP_FRACTION
        from hcanalysis.kernels.pbc import weighted_unwrap_steps

        fidx = np.unique(self._frame_indices(frames))
        atoms = self._source_atoms(select)
        n_sel = self.n_atoms if atoms is None else len(atoms)
        w = (np.full(n_sel, 1.0 / max(n_sel, 1)) if weights is None
             else np.asarray(weights, dtype=np.float64))
        out = np.empty((len(fidx), 3))
        if len(fidx) == 0:
            return out
        direct = self.coords_unwrapped or (self.has_image_flags and self.box_is_constant)
        if direct:
            row = 0
            for _f, pos in self._iter_unwrapped(atoms, fidx, chunk_frames):
                out[row:row + len(pos)] = np.einsum("fai,a->fi", pos, w)
                row += len(pos)
            return out
        self._require_periodic()
        all_boxes = np.asarray(self._source.boxes, dtype=np.float64)
        walk = np.arange(fidx[0], fidx[-1] + 1)
        keep = np.isin(walk, fidx)
        com = np.empty((len(walk), 3))
        previous = None
        for lo in range(0, len(walk), chunk_frames):
            f = walk[lo:lo + chunk_frames]
            pos = self._source.read(f, atoms).positions
            boxes = all_boxes[f]
            if previous is None:  # the path starts at the first frame as stored
                com[0] = w @ np.asarray(pos[0], dtype=np.float64)
                previous = np.asarray(pos[0], dtype=np.float64)
            steps, worst, where = weighted_unwrap_steps(
                pos, previous, boxes, np.linalg.inv(boxes), w)
            if worst.max() > MAX_STEP_FRACTION:
                k = int(np.argmax(worst))
                atom = int(self.atom_indices[self.indices(select)][where[k, 0]])
                warnings.warn(
                    f"{self.path}: frame {int(f[k])}, atom {atom}: a step of {worst[k]:.2f} of "
                    f"cell vector {'abc'[where[k, 1]]} between consecutive frames; it may have "
                    "been longer than half a box and the unwrapped path is unreliable there "
                    "(write image flags or unwrapped coordinates, or dump more often)",
                    UnwrapWarning, stacklevel=2)
            start = com[lo - 1] if lo else com[0] - steps[0]  # steps[0] of frame 0 is 0
            com[lo:lo + len(f)] = start + np.cumsum(steps, axis=0)
            previous = np.asarray(pos[-1], dtype=np.float64)
        return com[keep]

    def iter_chunks(
        self,
        select: Selection = None,
        unwrap: bool = False,
        chunk_frames: int = CHUNK_FRAMES,
        frames: slice | Sequence[int] | np.ndarray = slice(None),
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Stream positions in chunks of frames, never holding more than one chunk.

        Yields
        ------
        frame_indices : (n,) int
        positions : (n, n_sel, 3) float64, Å (unwrapped when asked, with the unwrapping state
            carried across chunks).
        """
        fidx = np.unique(self._frame_indices(frames))
        if len(fidx) == 0:
            return
        atoms = self._source_atoms(select)
        if unwrap:
            yield from self._iter_unwrapped(atoms, fidx, chunk_frames)
            return
        for lo in range(0, len(fidx), chunk_frames):
            f = fidx[lo : lo + chunk_frames]
            yield f, self._source.read(f, atoms).positions.astype(np.float64, copy=False)

    def image_flags(
        self, select: Selection = None, frames: slice | Sequence[int] | np.ndarray = slice(None)
    ) -> np.ndarray:
        """Image flags ``(n_frames, n_sel, 3)`` int32 as stored.

        Raises
        ------
        TrajectoryFormatError
            When the file has no image flags.
        """
        if not self.has_image_flags:
            raise TrajectoryFormatError("the file has no image flags (ix iy iz)", path=self.path)
        return self._source.read(self._frame_indices(frames), self._source_atoms(select)).images

    def velocities(
        self, select: Selection = None, frames: slice | Sequence[int] | np.ndarray = slice(None)
    ) -> np.ndarray:
        """Velocities ``(n_frames, n_sel, 3)`` float64, Å/ps.

        Raises
        ------
        TrajectoryFormatError
            When the file has no velocities.
        """
        if not self.has_velocities:
            raise TrajectoryFormatError("the file has no velocities (vx vy vz)", path=self.path)
        v = self._source.read(self._frame_indices(frames), self._source_atoms(select)).velocities
        return np.asarray(v, dtype=np.float64)

    # ------------------------------------------------------------------ conversions
    def to_ase(self, frames: slice | Sequence[int] | np.ndarray = slice(None)) -> list[Any]:
        """The frames as a list of ``ase.Atoms`` (periodic, with the cell of each frame)."""
        from ase import Atoms

        fidx = self._frame_indices(frames)
        pos = self.positions(frames=fidx)
        boxes = self.boxes(fidx)
        symbols = list(self.species)
        return [
            Atoms(symbols=symbols, positions=pos[k], cell=boxes[k], pbc=True)
            for k in range(len(fidx))
        ]

    @classmethod
    def from_ase(cls, images: Sequence[Any], dt_ps: float = 1.0) -> Trajectory:
        """Build a trajectory from a list of ``ase.Atoms`` (same atoms in every frame)."""
        if len(images) == 0:
            raise TrajectoryFormatError("an empty list of ase.Atoms has no frames")
        pos = np.stack([a.get_positions() for a in images])
        boxes = np.stack([np.asarray(a.get_cell()) for a in images])
        return cls.from_arrays(pos, boxes, images[0].get_chemical_symbols(), dt_ps=dt_ps)

    def to_universe(self, frames: slice | Sequence[int] | np.ndarray = slice(None)) -> Any:
        """An in-memory ``MDAnalysis.Universe`` of the given frames (names/types/elements set
        from the species, dimensions from the cells)."""
        import MDAnalysis as mda
        from MDAnalysis.lib.mdamath import triclinic_box

        fidx = self._frame_indices(frames)
        u = mda.Universe.empty(self.n_atoms, trajectory=True)
        for attr in ("names", "types", "elements"):
            u.add_TopologyAttr(attr, list(self.species))
        pos = self.positions(frames=fidx).astype(np.float32)
        dims = np.array([triclinic_box(*b) for b in self.boxes(fidx)], dtype=np.float32)
        from MDAnalysis.coordinates.memory import MemoryReader

        u.trajectory = MemoryReader(pos, dimensions=dims, dt=self.dt_ps or 1.0)
        return u

    @classmethod
    def from_universe(cls, universe: Any, select: str = "all") -> Trajectory:
        """Build an in-memory trajectory from an ``MDAnalysis.Universe``."""
        from hcanalysis.io.mda import universe_to_arrays

        return cls(universe_to_arrays(universe, select))

    def __repr__(self) -> str:
        comp = ", ".join(f"{k}: {v}" for k, v in self.counts().items())
        src = f" from {self.path}" if self.path else ""
        return f"<Trajectory{src}: {self.n_frames} frames, {self.n_atoms} atoms ({comp})>"

    def __len__(self) -> int:
        return self.n_frames
