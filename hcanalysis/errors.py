"""Exceptions and warnings that carry the file, frame and line a problem was found at.

The CLI prints these as one line (no traceback unless ``--debug``).
"""

from __future__ import annotations


def where(path: object = None, frame: int | None = None, line: int | None = None) -> str:
    """Format a location such as ``'run.dump, frame 12, line 4013'``."""
    parts = []
    if path is not None:
        parts.append(str(path))
    if frame is not None:
        parts.append(f"frame {frame}")
    if line is not None:
        parts.append(f"line {line}")
    return ", ".join(parts)


class HCAnalysisError(Exception):
    """Base class of every error hcanalysis raises on purpose (bad input, bad options)."""


class TrajectoryFormatError(HCAnalysisError, ValueError):
    """A trajectory or topology file is malformed.

    Parameters
    ----------
    message : str
        What is wrong and what to do about it.
    path, frame, line : optional
        Where it was found; they prefix the message.
    """

    def __init__(
        self,
        message: str,
        *,
        path: object = None,
        frame: int | None = None,
        line: int | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.frame = frame
        self.line = line
        loc = where(path, frame, line)
        super().__init__(f"{loc}: {message}" if loc else message)


class SelectionError(HCAnalysisError, ValueError):
    """An atom selection is empty or names a species that is not in the trajectory."""


class MemoryBudgetError(HCAnalysisError, MemoryError):
    """A step would need more memory than the budget (checked before allocating)."""


class DiskFullError(HCAnalysisError, OSError):
    """The disk filled up while an output was written (nothing was left behind)."""


class HCAnalysisWarning(UserWarning):
    """Base class of hcanalysis warnings."""


class TruncatedTrajectoryWarning(HCAnalysisWarning):
    """The last frame of a file is incomplete; the complete frames are still used."""


class UnwrapWarning(HCAnalysisWarning):
    """A frame-to-frame step too large to unwrap unambiguously (more than half a box)."""
