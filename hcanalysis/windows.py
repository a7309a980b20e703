"""Time windows shared by every per-(ion, window) descriptor.

Frames ``0 .. n_frames-1`` are cut into windows of ``window`` frames whose starts are
``stride`` frames apart: window ``k`` covers frames ``[k*stride, k*stride + window)``. Only
whole windows are kept (a tail shorter than ``window`` is dropped); ``window=None`` or a window
longer than the trajectory gives one window of all frames. ``stride`` defaults to ``window``
(tiling without overlap).
"""

from __future__ import annotations

import numpy as np


def window_bounds(
    n_frames: int, window: int | None = None, stride: int | None = None
) -> np.ndarray:
    """Start (inclusive) and stop (exclusive) frame of each window.

    Parameters
    ----------
    n_frames : int
        Number of frames in the trajectory (or the selection of frames analysed).
    window : int, optional
        Frames per window; ``None`` = all frames in one window.
    stride : int, optional
        Frames between consecutive window starts; default ``window``.

    Returns
    -------
    (n_windows, 2) int64 array of ``[start, stop)``.

    Raises
    ------
    ValueError
        For a window shorter than 2 frames or a stride below 1.
    """
    if n_frames < 1:
        raise ValueError("no frames to cut into windows")
    if window is None or window >= n_frames:
        return np.array([[0, n_frames]], dtype=np.int64)
    if window < 2:
        raise ValueError(f"window={window}: a window needs at least 2 frames")
    stride = window if stride is None else int(stride)
    if stride < 1:
        raise ValueError(f"stride={stride}: must be at least 1 frame")
    starts = np.arange(0, n_frames - window + 1, stride, dtype=np.int64)
    return np.stack([starts, starts + window], axis=1)


#: Default window: this fraction of the analysed frames ...
DEFAULT_WINDOW_FRACTION = 4
#: ... but at least this many frames (or all of them when fewer).
MIN_DEFAULT_WINDOW = 20


def resolve_window(n_frames: int, window: int | None = None,
                   stride: int | None = None) -> tuple[int, int]:
    """Window and stride in frames, the one default rule of the CLI, the Python API and
    ``hcanalysis analyze``: a quarter of the analysed frames, at least 20 (all frames when
    fewer); the stride defaults to the window (tiling).

    Parameters
    ----------
    n_frames : int
        Analysed frames.
    window, stride : int, optional
        Frames per window and between window starts.

    Returns
    -------
    (window, stride) : tuple of int
    """
    w = window or max(MIN_DEFAULT_WINDOW, n_frames // DEFAULT_WINDOW_FRACTION)
    w = min(int(w), n_frames)
    return w, int(stride or w)
