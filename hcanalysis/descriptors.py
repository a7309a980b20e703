"""The per-(ion, window) descriptor table, built from every kernel family.

:func:`compute` is a loop over the families of :mod:`hcanalysis.families` (the protocol of
:mod:`hcanalysis.analysis`): one :class:`~hcanalysis.analysis.WindowPlan` (the analysed frames
cut into the shared windows, :func:`hcanalysis.windows.window_bounds`), the streamed families
(MSD, hops) in one pass over the ion chunks, the others on the plan, and the table is their
``to_frame()`` rows side by side. The stages named in ``config.stages``
(:class:`hcanalysis.families.MSD`, :class:`~hcanalysis.families.Hops`,
:class:`~hcanalysis.families.Structure`, :class:`~hcanalysis.families.Voids`,
:class:`~hcanalysis.families.Tortuosity`; their columns are listed in
:mod:`hcanalysis.families`). The MSD fit range in ps is found from the ion-averaged MSD
(:func:`hcanalysis.msd.fit_windows`, the rule of :func:`hcanalysis.msd.windowed`) and stored in
``metadata["msd"]``.

MSD and hops are per-ion: they stream the ions in chunks sized by ``config.max_memory`` (default
a quarter of the free RAM), each chunk read once from the file (H5MD is chunked by atoms, so a
trajectory larger than memory is processed in passes); the peak memory is reported.

Structure, voids and tortuosity are sampled at up to ``frames_per_window`` evenly spaced frames
of each window (their descriptors change slowly; the dynamics use every frame). A void map is
recomputed only when the carbon has moved by more than ``voids.remap_rmsd`` Å (RMS, minimum
image) since the last map.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hcanalysis.analysis import (
    WindowedAnalysis,
    WindowPlan,
    run_streamed,
    sample_frames,
)
from hcanalysis.config import AnalysisConfig
from hcanalysis.deprecation import old_callback
from hcanalysis.errors import HCAnalysisError
from hcanalysis.families.msd import MAX_STORED_LAGS, stored_lags
from hcanalysis.progress import ProgressFn
from hcanalysis.table import DescriptorTable
from hcanalysis.trajectory import Trajectory
from hcanalysis.windows import resolve_window as _resolve_window

STAGES = ("msd", "hops", "structure", "voids", "tortuosity")


#: Files up to this size are hashed whole for the cache key; larger ones are sampled.
FULL_HASH_BYTES = 256 << 20


def file_fingerprint(path: str | os.PathLike | None, block: int = 4 << 20,
                     samples: int = 256, sample_bytes: int = 16 << 10) -> str | None:
    """A key that changes whenever a file's content can have changed.

    SHA-256 of the size, the modification time (ns) and the content: the whole file up to
    :data:`FULL_HASH_BYTES`, else the first and last ``block`` bytes plus ``samples`` blocks of
    ``sample_bytes`` spread evenly between them (about 12 MiB read whatever the size, so a
    10 GB dump costs a few hundredths of a second). Any write to a file changes its
    modification time, so an in-place edit of a large file's middle changes the key even where
    the samples miss it; a small file's key changes with any byte even when the modification
    time is reset.
    """
    if path is None or not Path(path).is_file():
        return None
    p = Path(path)
    h = hashlib.sha256()
    st = p.stat()
    size = st.st_size
    h.update(f"{size}:{st.st_mtime_ns}".encode())
    with open(p, "rb") as fh:
        if size <= FULL_HASH_BYTES:
            for chunk in iter(lambda: fh.read(block), b""):
                h.update(chunk)
            return h.hexdigest()
        h.update(fh.read(block))
        for start in np.linspace(block, size - block - sample_bytes, samples).astype(np.int64):
            fh.seek(int(start))
            h.update(fh.read(sample_bytes))
        fh.seek(size - block)
        h.update(fh.read(block))
    return h.hexdigest()


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MiB."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def resolve_window(cfg: AnalysisConfig, n_frames: int) -> tuple[int, int]:
    """Window and stride in frames (:func:`hcanalysis.windows.resolve_window`: a quarter of
    the frames, at least 20)."""
    return _resolve_window(n_frames, cfg.windows.window, cfg.windows.stride)


def plan_for(traj: Trajectory, cfg: AnalysisConfig, progress: ProgressFn | None = None
             ) -> WindowPlan:
    """The :class:`hcanalysis.analysis.WindowPlan` an analysis with ``cfg`` uses (analysed
    frames, windows, ions, memory budget), shared by every family."""
    f = cfg.frames
    return WindowPlan(traj, ions=cfg.species, framework=cfg.carbon,
                      frames=slice(f.start, f.stop, f.step),
                      windows=(cfg.windows.window, cfg.windows.stride), backend=cfg.backend,
                      max_memory=cfg.max_memory, progress=progress)


def families_for(cfg: AnalysisConfig) -> list[WindowedAnalysis]:
    """The family objects of ``cfg.stages``, in :data:`STAGES` order, with ``cfg``'s
    parameters (``Family.from_config``)."""
    from hcanalysis.families import FAMILIES

    return [FAMILIES[name].from_config(cfg) for name in STAGES if name in cfg.stages]


def compute(
    traj: Trajectory,
    config: AnalysisConfig | None = None,
    *,
    trajectory_index: int = 0,
    progress: ProgressFn | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> DescriptorTable:
    """Compute every descriptor of every (ion, window) of a trajectory.

    Parameters
    ----------
    traj : Trajectory
        Any trajectory :func:`hcanalysis.load` returns.
    config : AnalysisConfig, optional
        Parameters (defaults documented in :mod:`hcanalysis.config`).
    trajectory_index : int
        Value of the ``trajectory`` column (for ensembles).
    progress : callable, optional
        ``progress(stage, done, total)`` (:class:`hcanalysis.progress.ProgressFn`): a message
        ``(stage name, 0, 0)`` as each stage starts, then the counts inside the stages (ion
        chunks, void maps, sampled frames); default the installed callback, else none.
    on_stage : callable, optional
        Deprecated (DeprecationWarning): ``on_stage(stage name)`` as each stage starts; use
        ``progress``.

    Returns
    -------
    DescriptorTable
        ``frame`` has integer ``trajectory``, ``ion`` (index among the selected ions) and
        ``window`` columns and one column per descriptor; ``arrays`` holds the per-row MSD
        curves (``msd``, Å², at the lags ``msd_lag_ps``: every lag, or about
        :data:`MAX_STORED_LAGS` log-spaced ones when there are more), the PSD of the first
        void map and the global tortuosity; ``metadata`` the input fingerprint, parameters,
        version, seed and what each stage reported.
    """
    from hcanalysis import __version__

    cfg = config or AnalysisConfig()
    unknown = sorted(set(cfg.stages) - set(STAGES))
    if unknown:
        raise HCAnalysisError(f"unknown stage(s) {unknown}; the stages are {list(STAGES)}")
    on_stage = old_callback("descriptors.compute", "on_stage", on_stage)
    t0 = time.perf_counter()
    plan = plan_for(traj, cfg, progress)

    def stage_starts(name: str) -> None:
        if on_stage is not None:
            on_stage(name)
        plan.tick(name, 0, 0)

    families = families_for(cfg)
    frame = plan.ids()
    frame.insert(0, "trajectory", int(trajectory_index))
    arrays: dict[str, np.ndarray] = {}
    timings: dict[str, float] = {}
    streamed = [f for f in families if f.streamed]
    if streamed:
        for fam in streamed:
            stage_starts(fam.family)
        ts = time.perf_counter()
        n_chunks = run_streamed(plan, streamed)
        size = plan.report_chunk_ions or plan.ion_chunk_size()
        plan.report["dynamics"] = f"{n_chunks} ion chunk(s) of <= {size} ions"
        timings[streamed[0].family] = round(time.perf_counter() - ts, 3)
    for fam in families:
        if not fam.streamed:
            stage_starts(fam.family)
            ts = time.perf_counter()
            fam.compute(traj, plan=plan)
            timings[fam.family] = round(time.perf_counter() - ts, 3)
    for fam in families:  # the table: each family's long rows, side by side
        rows = fam.to_frame()
        for c in fam.columns:
            frame[c] = rows[c].to_numpy()
        plan.report[fam.family] = fam.report
        if fam.family == "msd":
            arrays["msd"] = fam.arrays["msd"].reshape(plan.n_ions * plan.n_windows, -1)
            arrays["msd_lag_ps"] = fam.lag_ps
        elif fam.family == "voids":
            arrays["psd_edges"] = fam.arrays["psd_edges"]
            arrays["psd_fraction"] = fam.arrays["psd_fraction"]
            arrays["first_map_pores"] = fam.arrays["first_map_pores"]
        elif fam.family == "tortuosity":
            arrays["global_tau"] = fam.arrays["global_tau"]
    meta = {
        "input": str(traj.path) if traj.path else None,
        "input_fingerprint": file_fingerprint(traj.path),
        "hcanalysis_version": __version__,
        "seed": cfg.seed,
        "config": cfg.to_dict(),
        "n_frames": int(len(plan.frames)),
        "dt_ps": plan.dt_ps,
        "window_frames": plan.window,
        "stride_frames": plan.stride,
        "n_windows": plan.n_windows,
        "n_ions": plan.n_ions,
        "species": cfg.species,
        "stage_seconds": timings,
        "total_seconds": round(time.perf_counter() - t0, 3),
        "peak_rss_mb": peak_rss_mb(),
        "memory_budget_bytes": cfg.max_memory,
        "reports": plan.report,
    }
    for fam in families:
        if fam.family == "msd":
            meta["msd"] = fam.meta["msd"]
    return DescriptorTable(frame, arrays, meta)


__all__ = ["MAX_STORED_LAGS", "STAGES", "compute", "families_for", "file_fingerprint",
           "peak_rss_mb", "plan_for", "resolve_window", "run_streamed", "sample_frames",
           "stored_lags"]
