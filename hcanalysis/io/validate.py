"""Checks every reader's time axis and boxes at load, and repairs restart overlaps on request.

A trajectory whose times do not increase, or whose boxes are not right-handed cells of
positive volume, would give a diffusion coefficient (even a negative one) from frames that do
not follow each other in time. :func:`validate_source` refuses such input with a one-line error
that names the file and the first offending frame, and handles the one common legitimate case:
a run restarted from an earlier step, whose dump repeats the overlapping steps (LAMMPS
``read_restart`` + the same ``dump`` file, or concatenated segments). With
``overlap="keep-last"`` the frames superseded by a later segment are dropped; with
``overlap="keep-first"`` the repeated frames are; the default ``"error"`` asks the user to
choose.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hcanalysis.errors import TrajectoryFormatError
from hcanalysis.io.source import FrameBlock, FrameSource

OVERLAP_CHOICES = ("error", "keep-last", "keep-first")


def check_dt_ps(dt_ps: float | None) -> None:
    """A user-given time step must be a finite number > 0 (ps)."""
    if dt_ps is None:
        return
    if not (isinstance(dt_ps, (int, float)) and np.isfinite(dt_ps) and dt_ps > 0):
        raise TrajectoryFormatError(
            f"dt_ps = {dt_ps!r}: give the MD time step (dumps) or the time between frames in "
            "ps, a number > 0"
        )


def frames_kept(time_ps: np.ndarray, overlap: str) -> np.ndarray:
    """Indices of the frames that make a strictly increasing time axis.

    ``"keep-last"``: a frame is kept when every later frame is later in time (the later
    segment of a restart wins); ``"keep-first"``: when every earlier frame is earlier (repeated
    frames are dropped).
    """
    t = np.asarray(time_ps, dtype=np.float64)
    if overlap == "keep-last":
        later_min = np.minimum.accumulate(t[::-1])[::-1]
        nxt = np.append(later_min[1:], np.inf)
        return np.flatnonzero(t < nxt)
    earlier_max = np.maximum.accumulate(t)
    prev = np.insert(earlier_max[:-1], 0, -np.inf)
    return np.flatnonzero(t > prev)


@dataclass
class FrameSubset:
    """A reader seen through a subset of its frames (restart overlaps removed)."""

    base: FrameSource
    keep: np.ndarray
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.path = self.base.path
        self.n_frames = int(len(self.keep))
        self.n_atoms = self.base.n_atoms
        self.species = self.base.species
        self.time_ps = np.asarray(self.base.time_ps, dtype=np.float64)[self.keep]
        self.boxes = np.asarray(self.base.boxes)[self.keep]
        self.has_images = self.base.has_images
        self.has_velocities = self.base.has_velocities
        self.coords_unwrapped = self.base.coords_unwrapped
        self.notes = list(self.base.notes) + list(self.notes)
        self.boundary = getattr(self.base, "boundary", None)
        steps = getattr(self.base, "steps", None)  # MD step numbers, where the reader has them
        if steps is not None:
            self.steps = np.asarray(steps)[self.keep]

    def read(self, frames: np.ndarray, atoms: np.ndarray | None = None) -> FrameBlock:
        return self.base.read(self.keep[np.asarray(frames, dtype=np.int64)], atoms)


def validate_source(src: FrameSource, overlap: str = "error") -> FrameSource:
    """Check a reader's times and boxes; return it, or a :class:`FrameSubset` of it when
    ``overlap`` removes repeated frames.

    Raises
    ------
    TrajectoryFormatError
        Non-finite times or boxes, all frames at the same time, times that go back without
        being a restart overlap the caller chose to repair, or a box of zero-or-negative
        volume where others are positive (naming the first such frame).
    """
    if overlap not in OVERLAP_CHOICES:
        raise ValueError(f"overlap={overlap!r}: use one of {', '.join(OVERLAP_CHOICES)}")
    name = src.path or "trajectory"
    _check_boxes(src, name)
    t = np.asarray(src.time_ps, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        raise TrajectoryFormatError(f"{name}: frame {bad[0]} has time {t[bad[0]]} ps; every "
                                    "frame needs a finite time (or give dt_ps)")
    if t.size < 2 or np.all(np.diff(t) > 0):
        return src
    if np.all(t == t[0]):
        raise TrajectoryFormatError(
            f"{name}: all {t.size} frames have the same time ({t[0]:g} ps): the file does not "
            "count steps; give dt_ps (the time between frames, ps)"
        )
    first = int(np.flatnonzero(np.diff(t) <= 0)[0]) + 1
    if overlap == "error":
        repeat = bool(np.isin(t[first], t[:first]))
        what = ("repeats the time of an earlier frame (a restart overlap?)" if repeat
                else "goes back in time")
        raise TrajectoryFormatError(
            f"{name}: frame {first} at {t[first]:g} ps {what} after frame {first - 1} at "
            f"{t[first - 1]:g} ps; load it with overlap='keep-last' (a restarted run: the later "
            "segment wins) or 'keep-first' (--overlap on the command line), or fix the file"
        )
    keep = frames_kept(t, overlap)
    dropped = t.size - keep.size
    note = (f"{dropped} of {t.size} frames dropped to make time increase (overlap={overlap}, "
            f"first at frame {first})")
    return FrameSubset(src, keep, [note])


def _check_boxes(src: FrameSource, name: str) -> None:
    boxes = np.asarray(src.boxes, dtype=np.float64)
    if boxes.size == 0:
        return
    finite = np.isfinite(boxes).all(axis=(1, 2))
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        raise TrajectoryFormatError(f"{name}: frame {i} has a non-finite box {boxes[i].tolist()}")
    vol = np.linalg.det(boxes)
    if np.all(np.abs(vol) < 1e-12):  # a file without a cell (e.g. plain xyz): not periodic
        return
    bad = np.flatnonzero(vol <= 1e-12)
    if bad.size:
        i = int(bad[0])
        raise TrajectoryFormatError(
            f"{name}: frame {i} has a box of volume {vol[i]:.6g} Å³ (cell vectors "
            f"{np.round(boxes[i], 6).tolist()}); box lengths must be positive (lo < hi)"
        )
