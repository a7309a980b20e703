"""The protocol every per-(ion, window) family follows (MSD, hops, structure, voids,
tortuosity), in the spirit of freud's compute objects and MDAnalysis' ``AnalysisBase``.

A family object holds its parameters (given to ``__init__``; the defaults are the fields of the
family's dataclass in :mod:`hcanalysis.config`, so the Python API, the CLI and
``hcanalysis analyze`` share them) and, after :meth:`WindowedAnalysis.compute`, its results::

    from hcanalysis.msd import MSD
    m = MSD(ions="Na", remove_drift="C").compute(traj, windows=200)
    m.values["D"]          # (n_ions, n_windows), Å²/ps
    m.to_frame()           # long rows: ion, window, atom_index, t_start_ps, t_stop_ps, D, ...
    m.to_h5("msd.h5"); MSD.from_h5("msd.h5"); m.plot()

Every result array has the axes ``(n_ions, n_windows)``; windows are cut from the analysed
frames by :func:`hcanalysis.windows.window_bounds`, and :class:`WindowPlan` (the analysed
frames, the windows, the ions, the drift, the memory budget) is shared when several families
run on one trajectory (:func:`hcanalysis.descriptors.compute`). Families whose estimator is
per ion (MSD, hops) are *streamed*: they see the ions in chunks sized by the memory budget, each
chunk read once for all of them. The array-level functions (:func:`hcanalysis.msd.per_ion`,
:func:`hcanalysis.hops.p_hop`, :func:`hcanalysis.voids.tessellate`, ...) stay underneath.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from hcanalysis.errors import HCAnalysisError
from hcanalysis.progress import ProgressFn  # progress(stage, done, total)
from hcanalysis.windows import resolve_window, window_bounds

#: What ``windows=`` accepts: None (the default rule), a window length in analysed frames,
#: ``(window, stride)``, or an ``(n_windows, 2)`` array of ``[start, stop)`` bounds.
WindowSpec = int | tuple[int | None, int | None] | np.ndarray | None

#: What ``frames=`` accepts: None (all), a slice, frame indices, or ``(start, stop, step)``.
FrameSpec = slice | Sequence[int] | np.ndarray | tuple | None


def frame_indices(n_frames: int, frames: FrameSpec = None) -> np.ndarray:
    """Indices of the analysed frames.

    Parameters
    ----------
    n_frames : int
        Frames in the trajectory.
    frames : None, slice, (start, stop, step) tuple, or a list / array of indices
        Which frames (slice semantics for a slice or a tuple; None = all).

    Returns
    -------
    (n,) int64 array
    """
    if frames is None:
        return np.arange(n_frames)
    if isinstance(frames, slice):
        return np.arange(n_frames)[frames]
    if isinstance(frames, tuple):  # (start, stop, step); indices are a list or an array
        if len(frames) != 3:
            raise HCAnalysisError(f"frames={frames!r}: a tuple is (start, stop, step)")
        return np.arange(n_frames)[slice(*frames)]
    idx = np.asarray(frames, dtype=np.int64).ravel()
    bad = (idx < 0) | (idx >= n_frames)
    if bad.any():
        raise HCAnalysisError(f"frame {int(idx[bad][0])} is outside 0..{n_frames - 1}")
    return idx


def window_ids(n_ions: int, n_windows: int, bounds: np.ndarray, ion_atoms: np.ndarray,
               time_ps: np.ndarray) -> pd.DataFrame:
    """The id columns of per-(ion, window) rows, ion-major: ``ion``, ``window``,
    ``atom_index``, ``t_start_ps``, ``t_stop_ps`` (ps; ``bounds``: frame ranges [a, b))."""
    ion = np.repeat(np.arange(n_ions), n_windows)
    win = np.tile(np.arange(n_windows), n_ions)
    a, b = bounds[win, 0], bounds[win, 1] - 1
    return pd.DataFrame({
        "ion": ion, "window": win, "atom_index": ion_atoms[ion],
        "t_start_ps": time_ps[a], "t_stop_ps": time_ps[b],
    })

class WindowPlan:
    """What every family needs from one trajectory: the analysed frames, the windows, the
    ions, the centre-of-mass drift, the memory budget, shared void maps and progress.

    Parameters
    ----------
    traj : Trajectory
    ions, framework : str or list of str
        The mobile ions and the framework species.
    frames : see :func:`frame_indices`
    windows : see :data:`WindowSpec` (default :func:`hcanalysis.windows.resolve_window`)
    backend : "auto" | "cpu" | "cuda"
    max_memory : int, optional
        Working-memory budget, bytes (default a quarter of the free memory).
    progress : callable, optional
        ``progress(stage, done, total)``.
    min_frames : int
        Fewest analysed frames accepted.
    """

    def __init__(self, traj, *, ions: str | Sequence[str] = "Na",
                 framework: str | Sequence[str] = "C", frames: FrameSpec = None,
                 windows: WindowSpec = None, backend: str = "auto",
                 max_memory: int | None = None, progress: ProgressFn | None = None,
                 min_frames: int = 8) -> None:
        self.traj = traj
        self.ions = ions
        self.framework = framework
        self.backend = backend
        self.max_memory = max_memory
        self.progress = progress
        self.frames = frame_indices(traj.n_frames, frames)
        where = traj.path or "trajectory"
        if len(self.frames) < min_frames:
            raise HCAnalysisError(
                f"{where}: {len(self.frames)} frames selected; the analysis needs at least "
                f"{min_frames} (check the frame selection: --start/--stop/--step)")
        self.ion_sel = traj.indices(ions)
        self.ion_atoms = traj.atom_indices[self.ion_sel]
        self.n_ions = len(self.ion_sel)
        self.time_ps = np.asarray(traj.time_ps)[self.frames]
        steps = np.diff(self.time_ps)
        self.dt_ps = float(np.median(steps)) if steps.size else 1.0
        if not self.dt_ps > 0:
            raise HCAnalysisError(f"{where}: frame times do not increase; give dt_ps")
        n = len(self.frames)
        if isinstance(windows, np.ndarray) and windows.ndim == 2:
            self.bounds = np.asarray(windows, dtype=np.int64)
            self.window = int(self.bounds[0, 1] - self.bounds[0, 0])
            self.stride = (int(self.bounds[1, 0] - self.bounds[0, 0]) if len(self.bounds) > 1
                           else self.window)
        else:
            w, s = windows if isinstance(windows, tuple) else (windows, None)
            self.window, self.stride = resolve_window(n, w, s)
            self.bounds = window_bounds(n, self.window, self.stride)
        self.n_windows = len(self.bounds)
        self.report: dict[str, str] = {}
        self.report_chunk_ions: int | None = None  # ions per chunk of the last ion_chunks pass
        self.shared: dict[str, Any] = {}  # results families share (void maps, scale samples)
        self._drift: dict[str, np.ndarray | None] = {}

    # ----------------------------------------------------------------- memory, progress
    def memory_budget(self) -> int:
        """``max_memory`` bytes, default a quarter of the free memory."""
        from hcanalysis.kernels.backend import default_memory_budget

        return int(self.max_memory or default_memory_budget("cpu"))

    def tick(self, stage: str, done: int, total: int = 0) -> None:
        """Report progress to the plan's callback, else to the one installed with
        :func:`hcanalysis.progress.use` (none: nothing)."""
        from hcanalysis.progress import resolve

        resolve(self.progress)(stage, done, total)

    # ------------------------------------------------------------------------- drift
    def drift(self, which: str | None) -> np.ndarray | None:
        """Centre-of-mass displacement ``(n_frames, 3)`` Å since the first analysed frame.

        ``which``: None or "none" (no drift), "species" / "self" (the analysed ions), "all"
        (every atom) or element names ("C", "C,O"); mass-weighted (equal masses within one
        element).
        """
        key = "none" if which is None else str(which).strip()
        if key.lower() == "none" or not key:
            return None
        if key not in self._drift:
            if key.lower() in ("species", "self"):
                select = self.ion_sel
            elif key.lower() == "all":
                select = None
            else:
                select = [s.strip() for s in key.split(",") if s.strip()]
            self._drift[key] = self._com_drift(select)
            self.report["drift_removed"] = (
                f"centre of mass of {key}: max drift {np.abs(self._drift[key]).max():.3g} Å")
        return self._drift[key]

    def _com_drift(self, select) -> np.ndarray:
        idx = self.traj.indices(select)
        w = _masses(self.traj.species[idx])
        w = w / w.sum()
        # frames per read sized by the budget: unwrapping by image flags holds about eight
        # float64 copies of the block (measured with tracemalloc), so a factor 10 keeps it
        # under; continuity unwrapping sums the steps in one pass (Trajectory.centre_of_mass)
        per_read = int(np.clip(self.memory_budget() // (max(1, len(idx)) * 3 * 8 * 10),
                               1, 256))
        com = self.traj.centre_of_mass(select, w, frames=self.frames, chunk_frames=per_read)
        return com - com[0]

    # ---------------------------------------------------------------------- ion chunks
    def ion_chunk_size(self) -> int:
        """Ions per chunk so that a chunk's positions and the streamed kernels' work arrays
        fit in the memory budget (MSD + hops hold about 6.5 times the chunk's float64
        positions plus a few MiB, measured with tracemalloc; a factor 8 leaves room)."""
        per_ion = len(self.frames) * 3 * 8 * 8
        return int(max(1, min(self.n_ions, self.memory_budget() // per_ion)))

    def ion_positions(self, ions: np.ndarray | slice, drift: str | None) -> np.ndarray:
        """Unwrapped, drift-corrected positions ``(n_frames, n, 3)`` Å of some of the ions
        (indices among the selected ions)."""
        pos = self.traj.positions(self.ion_sel[ions], unwrap=True, frames=self.frames)
        d = self.drift(drift)
        if d is not None:
            pos -= d[:, None, :]
        return pos

    def ion_chunks(self, drift: str | None) -> Iterator[tuple[slice, np.ndarray]]:
        """Yield ``(ion slice, positions (n_frames, n_chunk, 3))`` within the budget."""
        size = self.ion_chunk_size()
        self.report_chunk_ions = size  # the size used (the default budget follows free memory)
        for lo in range(0, self.n_ions, size):
            sl = slice(lo, min(lo + size, self.n_ions))
            yield sl, self.ion_positions(sl, drift)

    # ------------------------------------------------------------------ sampled frames
    def sample_frames(self, per_window: int) -> list[np.ndarray]:
        """Up to ``per_window`` evenly spaced analysed-frame positions inside each window
        (the first frame when ``per_window`` is 1)."""
        return sample_frames(self.bounds, per_window)

    # ---------------------------------------------------------------------------- ids
    def ids(self) -> pd.DataFrame:
        """The id columns of the long rows, ion-major: ``ion``, ``window``, ``atom_index``,
        ``t_start_ps``, ``t_stop_ps``."""
        return window_ids(self.n_ions, self.n_windows, self.bounds, self.ion_atoms,
                          self.time_ps)


def sample_frames(bounds: np.ndarray, per_window: int) -> list[np.ndarray]:
    """Up to ``per_window`` evenly spaced frame positions inside each window ``[a, b)``."""
    out = []
    for a, b in bounds:
        m = max(1, min(int(per_window), int(b - a)))
        out.append(np.unique(np.linspace(a, b - 1, m).round().astype(np.int64)))
    return out


def _masses(species: np.ndarray) -> np.ndarray:
    from ase.data import atomic_masses, atomic_numbers

    return np.array([atomic_masses[atomic_numbers[s]] if s in atomic_numbers else 1.0
                     for s in species])


class WindowedAnalysis:
    """Base of the per-(ion, window) families.

    Subclasses set :attr:`family` and :attr:`columns`, take their parameters in ``__init__``
    (keyword-only, defaults from their config dataclass) and implement either
    ``_prepare``/``_accumulate``/``_conclude`` (streamed over ion chunks, ``streamed =
    True``) or ``_run`` (whole plan). The attributes below are set by :meth:`compute`.

    Attributes
    ----------
    values : dict of str -> (n_ions, n_windows) float arrays
        One array per descriptor column (units in :mod:`hcanalysis.columns`).
    arrays : dict of str -> array
        Family-specific extras (MSD curves, PSD, global tortuosity, ...).
    bounds : (n_windows, 2) int
        ``[start, stop)`` of each window, in analysed frames.
    frames : (n_frames,) int
        The analysed frames (indices into the trajectory).
    time_ps : (n_frames,) float
        Their times, ps.
    ion_atoms : (n_ions,) int
        Atom index of each ion in the file.
    report : str
        What the estimator chose (ranges, cutoffs, thresholds), in words.
    """

    family: ClassVar[str] = ""
    columns: ClassVar[tuple[str, ...]] = ()
    streamed: ClassVar[bool] = False

    def __init__(self, *, ions: str | Sequence[str] = "Na",
                 framework: str | Sequence[str] = "C") -> None:
        self.ions = ions
        self.framework = framework
        self.values: dict[str, np.ndarray] = {}
        self.arrays: dict[str, np.ndarray] = {}
        self.report = ""
        self.meta: dict[str, Any] = {}
        self.bounds = np.zeros((0, 2), dtype=np.int64)
        self.frames = np.zeros(0, dtype=np.int64)
        self.time_ps = np.zeros(0)
        self.ion_atoms = np.zeros(0, dtype=np.int64)
        self.dt_ps = float("nan")

    # ---------------------------------------------------------------------- parameters
    def params(self) -> dict[str, Any]:
        """The parameters given to ``__init__`` (JSON-serialisable)."""
        return {k: _plain(v) for k, v in vars(self).items()
                if not k.startswith("_") and k not in _RESULT_ATTRS}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------------------ compute
    def plan(self, traj, *, frames: FrameSpec = None, windows: WindowSpec = None,
             backend: str = "auto", progress: ProgressFn | None = None,
             max_memory: int | None = None) -> WindowPlan:
        """The :class:`WindowPlan` this family would use on ``traj``."""
        return WindowPlan(traj, ions=self.ions, framework=self.framework, frames=frames,
                          windows=windows, backend=backend, max_memory=max_memory,
                          progress=progress, min_frames=self._min_frames)

    _min_frames: ClassVar[int] = 2

    def compute(self, traj, *, frames: FrameSpec = None, windows: WindowSpec = None,
                backend: str = "auto", progress: ProgressFn | None = None,
                max_memory: int | None = None, plan: WindowPlan | None = None):
        """Compute the family's descriptors of every (ion, window); returns ``self``.

        Parameters
        ----------
        traj : Trajectory
            Any trajectory :func:`hcanalysis.load` returns.
        frames : None, slice, (start, stop, step) or indices
            The analysed frames (default all).
        windows : None, int, (window, stride) or (n_windows, 2) array
            Windows in analysed frames (default :func:`hcanalysis.windows.resolve_window`:
            a quarter of the frames, at least 20).
        backend : "auto" | "cpu" | "cuda"
        progress : callable, optional
            ``progress(stage, done, total)``.
        max_memory : int, optional
            Working-memory budget, bytes.
        plan : WindowPlan, optional
            A plan shared with other families (then ``frames`` ... ``max_memory`` are the
            plan's).
        """
        if plan is None:
            plan = self.plan(traj, frames=frames, windows=windows, backend=backend,
                             progress=progress, max_memory=max_memory)
        self._begin(plan)
        if self.streamed:
            self._prepare(plan)
            done = 0
            for sl, pos in plan.ion_chunks(self.drift_species()):
                self._accumulate(plan, sl, pos)
                done = sl.stop
                plan.tick(self.family, done, plan.n_ions)
            self._conclude(plan)
        else:
            self._run(plan)
        return self

    def drift_species(self) -> str | None:
        """The drift a streamed family's positions are corrected for (see
        :meth:`WindowPlan.drift`)."""
        return None

    def _begin(self, plan: WindowPlan) -> None:
        self.bounds = plan.bounds
        self.frames = plan.frames
        self.time_ps = plan.time_ps
        self.ion_atoms = plan.ion_atoms
        self.dt_ps = plan.dt_ps
        self.values = {}
        self.arrays = {}
        self.meta = {"n_ions": plan.n_ions, "n_windows": plan.n_windows,
                     "window_frames": plan.window, "stride_frames": plan.stride,
                     "dt_ps": plan.dt_ps, "n_frames": int(len(plan.frames)),
                     "input": str(plan.traj.path) if plan.traj.path else ""}

    def _prepare(self, plan: WindowPlan) -> None:  # pragma: no cover - streamed families
        raise NotImplementedError

    def _accumulate(self, plan: WindowPlan, sl: slice, pos: np.ndarray) -> None:
        raise NotImplementedError  # pragma: no cover

    def _conclude(self, plan: WindowPlan) -> None:
        raise NotImplementedError  # pragma: no cover

    def _run(self, plan: WindowPlan) -> None:
        raise NotImplementedError  # pragma: no cover

    # ----------------------------------------------------------------------- results
    @property
    def n_ions(self) -> int:
        """Number of ions."""
        return int(len(self.ion_atoms))

    @property
    def n_windows(self) -> int:
        """Number of windows."""
        return int(len(self.bounds))

    def _check_computed(self) -> None:
        if not self.values:
            raise HCAnalysisError(f"{type(self).__name__}: call compute(traj) first")

    def ids(self) -> pd.DataFrame:
        """Id columns of :meth:`to_frame` (ion-major)."""
        return window_ids(self.n_ions, self.n_windows, self.bounds, self.ion_atoms,
                          self.time_ps)

    def to_frame(self) -> pd.DataFrame:
        """Long rows, one per (ion, window), ion-major: the id columns and the family's
        descriptor columns; ``attrs["units"]`` maps each column to its unit
        (:mod:`hcanalysis.columns`), ``attrs["params"]`` the parameters."""
        from hcanalysis.columns import unit

        self._check_computed()
        df = self.ids()
        for c in self.columns:
            if c in self.values:
                df[c] = np.asarray(self.values[c], dtype=float).ravel()
        df.attrs["units"] = {c: unit(c) for c in df.columns}
        df.attrs["params"] = self.params()
        df.attrs["report"] = self.report
        return df

    # -------------------------------------------------------------------------- HDF5
    def to_h5(self, target: str | os.PathLike | Any, *, group: str | None = None):
        """Write the results to an HDF5 file (atomically) or into an open h5py group.

        Layout of the group (``/<family>`` in a file unless ``group`` says otherwise):
        attributes ``family``, ``params`` (JSON), ``meta`` (JSON), ``report``; datasets
        ``bounds``, ``frames``, ``time_ps``, ``ion_atoms``, ``values/<column>`` (n_ions,
        n_windows) and ``arrays/<name>``. Returns the path or the group.
        """
        if isinstance(target, (str, os.PathLike)):
            import h5py

            from hcanalysis.atomic import atomic_output

            with atomic_output(Path(target)) as tmp, h5py.File(tmp, "w") as fh:
                self.to_h5(fh.create_group(group or self.family))
            return Path(target)
        self._check_computed()
        g = target
        from hcanalysis import __version__

        g.attrs["family"] = self.family
        g.attrs["class"] = type(self).__name__
        g.attrs["hcanalysis_version"] = __version__
        g.attrs["params"] = json.dumps(self.params(), default=str)
        g.attrs["meta"] = json.dumps(self.meta, default=_json_default)
        g.attrs["report"] = self.report
        for name in ("bounds", "frames", "time_ps", "ion_atoms"):
            g.create_dataset(name, data=np.asarray(getattr(self, name)))
        v = g.create_group("values")
        for k, arr in self.values.items():
            v.create_dataset(k, data=np.asarray(arr))
        a = g.create_group("arrays")
        for k, arr in self.arrays.items():
            a.create_dataset(k, data=np.asarray(arr))
        return g

    @classmethod
    def from_h5(cls, source: str | os.PathLike | Any, *, group: str | None = None):
        """Read back what :meth:`to_h5` wrote (a path or an open h5py group)."""
        if isinstance(source, (str, os.PathLike)):
            import h5py

            with h5py.File(source, "r") as fh:
                return cls.from_h5(fh[group or cls.family])
        g = source
        params = json.loads(g.attrs["params"])
        obj = cls(**params)
        obj.meta = json.loads(g.attrs["meta"])
        obj.report = str(g.attrs["report"])
        for name in ("bounds", "frames", "time_ps", "ion_atoms"):
            setattr(obj, name, g[name][()])
        obj.dt_ps = float(obj.meta.get("dt_ps", float("nan")))
        obj.values = {k: g["values"][k][()] for k in g["values"]}
        obj.arrays = {k: g["arrays"][k][()] for k in g["arrays"]}
        return obj

    # --------------------------------------------------------------------------- plot
    def plot(self, ax=None, column: str | None = None):
        """Histogram of one descriptor over (ion, window) rows (default the family's first
        column); returns the axes. Never switches the matplotlib backend."""
        import matplotlib.pyplot as plt

        from hcanalysis.columns import unit

        self._check_computed()
        col = column or next(c for c in self.columns if c in self.values)
        if ax is None:
            _fig, ax = plt.subplots(figsize=(5, 3.5))
        x = np.asarray(self.values[col], dtype=float).ravel()
        x = x[np.isfinite(x)]
        if x.size:
            ax.hist(x, bins=min(40, max(5, x.size // 5)), color="tab:blue")
        u = unit(col)
        ax.set_xlabel(f"{col} ({u})" if u else col)
        ax.set_ylabel("(ion, window) rows")
        ax.set_title(f"{self.family}: {x.size} finite rows", fontsize=9)
        return ax


def run_streamed(plan: WindowPlan, families: Sequence[WindowedAnalysis]) -> int:
    """Run the streamed families (MSD, hops) in one pass over the ion chunks per drift
    correction (each chunk read once for all of them); returns the number of chunks."""
    groups: dict[str | None, list[WindowedAnalysis]] = {}
    for fam in families:
        groups.setdefault(fam.drift_species(), []).append(fam)
    n_chunks = 0
    for drift, fams in groups.items():
        for fam in fams:
            fam._begin(plan)
            fam._prepare(plan)
        for sl, pos in plan.ion_chunks(drift):
            n_chunks += 1
            for fam in fams:
                fam._accumulate(plan, sl, pos)
            del pos
            plan.tick("dynamics", sl.stop, plan.n_ions)
        for fam in fams:
            fam._conclude(plan)
    return n_chunks


_RESULT_ATTRS = {"values", "arrays", "report", "meta", "bounds", "frames", "time_ps",
                 "ion_atoms", "dt_ps"}


def _plain(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, tuple):
        return list(v)
    if isinstance(v, np.generic):
        return v.item()
    return v


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return str(obj)


__all__ = ["ProgressFn", "WindowPlan", "WindowedAnalysis", "frame_indices", "run_streamed",
           "sample_frames"]
