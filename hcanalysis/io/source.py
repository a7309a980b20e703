"""The reader interface behind :class:`hcanalysis.Trajectory`.

Every reader implements :class:`FrameSource`: cheap metadata (atom count, species, times,
boxes) known after a first indexing pass, and :meth:`FrameSource.read` for any set of frames
and atoms, so a file is never read whole into memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


def is_periodic(boundary: str | None) -> bool:
    """Whether a reader's LAMMPS-style boundary flags (``"pp pp ff"``; None: the format has
    none, taken as periodic) are periodic on all three axes. Readers of files that record a
    non-periodic axis expose it as an optional ``boundary`` attribute."""
    return boundary is None or all(f == "pp" for f in boundary.split())


@dataclass
class FrameBlock:
    """Data of a set of frames for a set of atoms, as stored in the file.

    Attributes
    ----------
    positions : (n_frames, n_atoms, 3) float64
        Cartesian positions, Å (scaled coordinates are already converted).
    images : (n_frames, n_atoms, 3) int32 or None
        Image flags, when the file has them.
    velocities : (n_frames, n_atoms, 3) float64 or None
        Velocities in Å/ps, when the file has them.
    """

    positions: np.ndarray
    images: np.ndarray | None = None
    velocities: np.ndarray | None = None


@runtime_checkable
class FrameSource(Protocol):
    """What a reader provides. Attributes are read once; :meth:`read` is called per chunk."""

    path: str | None
    n_frames: int
    n_atoms: int
    species: np.ndarray  # (n_atoms,) element symbols, str
    time_ps: np.ndarray  # (n_frames,) float64
    boxes: np.ndarray  # (n_frames, 3, 3) float64, rows are cell vectors, Å
    has_images: bool
    has_velocities: bool
    coords_unwrapped: bool  # the stored positions are already unwrapped (xu/xsu columns)
    notes: list[str]  # what the reader guessed or repaired (reported by `info`)

    def read(self, frames: np.ndarray, atoms: np.ndarray | None = None) -> FrameBlock:
        """Read ``frames`` (sorted frame indices) for ``atoms`` (indices, None = all)."""
        ...


@dataclass
class ArraySource:
    """A trajectory held in memory (numpy arrays), e.g. from a simulation or a test.

    Parameters
    ----------
    positions : (n_frames, n_atoms, 3)
        Positions, Å (wrapped or not, see ``coords_unwrapped``).
    boxes : (n_frames, 3, 3) or (3, 3)
        Cell matrices (rows are cell vectors), Å; one matrix is repeated for every frame.
    species : (n_atoms,) str
        Element per atom.
    time_ps : (n_frames,), optional
        Times, ps; default ``arange(n_frames) * dt_ps``.
    """

    positions: np.ndarray
    boxes: np.ndarray
    species: np.ndarray
    time_ps: np.ndarray | None = None
    images: np.ndarray | None = None
    velocities: np.ndarray | None = None
    coords_unwrapped: bool = False
    dt_ps: float = 1.0
    path: str | None = None
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        pos = np.asarray(self.positions)
        if pos.ndim != 3 or pos.shape[2] != 3:
            raise ValueError(f"positions must be (n_frames, n_atoms, 3), got {pos.shape}")
        self.positions = pos
        boxes = np.asarray(self.boxes, dtype=np.float64)
        if boxes.shape == (3, 3):
            boxes = np.broadcast_to(boxes, (pos.shape[0], 3, 3))
        if boxes.shape != (pos.shape[0], 3, 3):
            raise ValueError(f"boxes must be (3, 3) or (n_frames, 3, 3), got {boxes.shape}")
        self.boxes = boxes
        self.species = np.asarray(self.species).astype(str)
        if self.species.shape != (pos.shape[1],):
            raise ValueError(
                f"species has {self.species.shape[0]} entries for {pos.shape[1]} atoms"
            )
        if self.time_ps is None:
            self.time_ps = np.arange(pos.shape[0], dtype=np.float64) * self.dt_ps
        self.time_ps = np.asarray(self.time_ps, dtype=np.float64)

    @property
    def n_frames(self) -> int:
        return int(self.positions.shape[0])

    @property
    def n_atoms(self) -> int:
        return int(self.positions.shape[1])

    @property
    def has_images(self) -> bool:
        return self.images is not None

    @property
    def has_velocities(self) -> bool:
        return self.velocities is not None

    def read(self, frames: np.ndarray, atoms: np.ndarray | None = None) -> FrameBlock:
        sel = slice(None) if atoms is None else atoms

        def take(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[frames][:, sel]

        return FrameBlock(
            positions=np.asarray(take(self.positions), dtype=np.float64),
            images=take(self.images),
            velocities=take(self.velocities),
        )
