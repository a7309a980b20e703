"""The per-(ion, window) descriptor table, built from every kernel family.

:func:`compute` reads the mobile ions' unwrapped positions once, cuts the analysed frames into
the shared windows (:func:`hcanalysis.windows.window_bounds`) and runs the stages named in
``config.stages``:

``msd``         windowed MSD -> ``D``, ``log_D``, ``msd_lag``, ``log_msd_lag``, ``alpha``,
                ``msd_plateau`` (+ MSD curves); the fit range in ps is found from the
                ion-averaged MSD (:func:`hcanalysis.msd.fit_windows`, the rule of
                :func:`hcanalysis.msd.windowed`) and stored in ``metadata["msd"]``
``hops``        cage-jump events -> ``hop_rate``, ``hop_length``, ``p_hop_max``,
                ``path_tortuosity``, ``net_displacement``

MSD and hops are per-ion: they stream the ions in chunks sized by ``config.max_memory`` (default
a quarter of the free RAM), each chunk read once from the file (H5MD is chunked by atoms, so a
trajectory larger than memory is processed in passes); the peak memory is reported.
``structure``   coordination, clusters, local carbon -> ``n_NaNa``, ``nana_contact_fraction``,
                ``n_NaC``, ``cluster_size``, ``d_NaNa_min``, ``d_NaC_min``, ``carbon_density``,
                ``sp2_fraction``
``voids``       void map of the carbon -> ``pore_radius``, ``pore_volume``, ``wall_distance``,
                ``pore_throats``, ``pores_visited``, ``voronoi_volume``
``tortuosity``  geodesic shell tortuosity on the void map -> ``local_tortuosity``,
                ``shell_reachable``

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
from typing import Any

import numpy as np
import pandas as pd

from hcanalysis.config import AnalysisConfig
from hcanalysis.errors import HCAnalysisError
from hcanalysis.table import DescriptorTable
from hcanalysis.trajectory import Trajectory
from hcanalysis.windows import window_bounds

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
    """Window and stride in frames (default window: a quarter of the frames, >= 20)."""
    window = cfg.windows.window or max(20, n_frames // 4)
    window = min(int(window), n_frames)
    stride = int(cfg.windows.stride or window)
    return window, stride


def sample_frames(bounds: np.ndarray, per_window: int) -> list[np.ndarray]:
    """Up to ``per_window`` evenly spaced frame indices inside each window."""
    out = []
    for a, b in bounds:
        m = min(per_window, int(b - a))
        out.append(np.unique(np.linspace(a, b - 1, m).round().astype(np.int64)))
    return out


class _Context:
    """What every stage needs: the trajectory, the analysed frames, windows, positions."""

    def __init__(self, traj: Trajectory, cfg: AnalysisConfig) -> None:
        self.traj = traj
        self.cfg = cfg
        self.frames = np.arange(traj.n_frames)[
            slice(cfg.frames.start, cfg.frames.stop, cfg.frames.step)
        ]
        if len(self.frames) < 8:
            raise HCAnalysisError(
                f"{traj.path or 'trajectory'}: {len(self.frames)} frames selected; the "
                "analysis needs at least 8 (check frames.start/stop/step)"
            )
        self.ion_atoms = traj.atom_indices[traj.indices(cfg.species)]
        self.n_ions = len(self.ion_atoms)
        self.time_ps = traj.time_ps[self.frames]
        steps = np.diff(self.time_ps)
        self.dt_ps = float(np.median(steps)) if steps.size else 1.0
        if not self.dt_ps > 0:
            raise HCAnalysisError(
                f"{traj.path or 'trajectory'}: frame times do not increase; give dt_ps"
            )
        self.window, self.stride = resolve_window(cfg, len(self.frames))
        self.bounds = window_bounds(len(self.frames), self.window, self.stride)
        self.n_windows = len(self.bounds)
        self.report: dict[str, Any] = {}
        self._drift: np.ndarray | None = None
        self.void_maps: list[Any] = []  # one per window (shared objects when reused)
        self.void_frames: list[np.ndarray] = []

    @property
    def drift(self) -> np.ndarray | None:
        """Centre-of-mass displacement (n_frames, 3) of ``msd.remove_drift``, Å, or None."""
        species = self.cfg.msd.remove_drift
        if not species:
            return None
        if self._drift is None:
            self._drift = self._centre_of_mass_drift(species)
            self.report["drift_removed"] = (
                f"centre of mass of {species}: max drift {np.abs(self._drift).max():.3g} Å"
            )
        return self._drift

    def ion_chunk_size(self) -> int:
        """Ions per chunk so that a chunk's positions and the kernels' work arrays fit in the
        memory budget (MSD + hops hold about 6.5 times the chunk's float64 positions plus a
        few MiB, measured with tracemalloc; a factor 8 leaves room)."""
        per_ion = len(self.frames) * 3 * 8 * 8
        return int(max(1, min(self.n_ions, self.memory_budget() // per_ion)))

    def memory_budget(self) -> int:
        """``config.max_memory`` bytes, default a quarter of the free memory."""
        from hcanalysis.kernels.backend import default_memory_budget

        return int(self.cfg.max_memory or default_memory_budget("cpu"))

    def ion_chunks(self):
        """Yield (ion slice, unwrapped drift-corrected positions (n_frames, n_chunk, 3) Å)."""
        size = self.ion_chunk_size()
        drift = self.drift
        sel_all = self.traj.indices(self.cfg.species)
        for lo in range(0, self.n_ions, size):
            sl = slice(lo, min(lo + size, self.n_ions))
            pos = self.traj.positions(sel_all[sl], unwrap=True, frames=self.frames)
            if drift is not None:
                pos -= drift[:, None, :]
            yield sl, pos

    def scale_sample(self) -> np.ndarray:
        """Unwrapped drift-corrected positions of up to ``hops.SCALE_IONS`` evenly spaced
        ions, (n_frames, n, 3) Å: the population sample of the hops stage's time and length
        scales (independent of the memory budget's ion chunks)."""
        from hcanalysis.hops import SCALE_IONS, _scale_ions

        if getattr(self, "_scale_sample", None) is None:
            pick = _scale_ions(self.n_ions, SCALE_IONS)
            sel = self.traj.indices(self.cfg.species)[pick]
            pos = self.traj.positions(sel, unwrap=True, frames=self.frames)
            if self.drift is not None:
                pos -= self.drift[:, None, :]
            self._scale_sample = pos
        return self._scale_sample

    def _centre_of_mass_drift(self, species: str) -> np.ndarray:
        """Displacement of the centre of mass of ``species`` from the first analysed frame."""
        sel = "all" if species == "all" else species
        select = None if sel == "all" else sel
        com = np.empty((len(self.frames), 3))
        row = 0
        # frames per read sized by the budget (like the ion chunks): all the carbon of a frame
        # is read, and unwrapping holds about eight float64 copies of the block (measured with
        # tracemalloc: 1.34 x the budget with a factor 6), so a factor 10 keeps it under
        n_sel = max(1, len(self.traj.indices(select)))
        frames_per_read = int(np.clip(self.memory_budget() // (n_sel * 3 * 8 * 10), 1, 256))
        for _f, pos in self.traj.iter_chunks(select, unwrap=True, frames=self.frames,
                                             chunk_frames=frames_per_read):
            com[row:row + len(pos)] = pos.mean(axis=1)
            row += len(pos)
        return com - com[0]

    def ids(self) -> pd.DataFrame:
        ion = np.repeat(np.arange(self.n_ions), self.n_windows)
        win = np.tile(np.arange(self.n_windows), self.n_ions)
        a, b = self.bounds[win, 0], self.bounds[win, 1] - 1
        return pd.DataFrame({
            "ion": ion, "window": win, "atom_index": self.ion_atoms[ion],
            "t_start_ps": self.time_ps[a], "t_stop_ps": self.time_ps[b],
        })

    def per_window(self, arr: np.ndarray) -> np.ndarray:
        """(n_ions, n_windows) array -> the id order (ion-major) as a flat column."""
        return np.asarray(arr).reshape(self.n_ions, self.n_windows).ravel()


# ------------------------------------------------------------------------------ stages
def _msd_max_lag(ctx: _Context) -> int:
    return max(2, min(ctx.window - 1, int(round(ctx.cfg.msd.max_lag_fraction * ctx.window))))


def _msd_chunk(ctx: _Context, pos: np.ndarray) -> np.ndarray:
    """The chunk's windowed MSD curves (n_chunk, n_windows, max_lag + 1), Å²; their sum over
    ions accumulates in ``ctx.msd_window_sum`` for the fit range."""
    from hcanalysis.kernels import msd as _k

    # the kernel sizes its FFT work arrays by max_memory: half the budget, as the chunk's
    # positions and the hops stage's arrays hold the other half
    curves = _k.msd_windows(pos, ctx.bounds[:, 0], ctx.window, _msd_max_lag(ctx),
                            backend=ctx.cfg.backend, max_memory=ctx.memory_budget() // 2)
    total = curves.sum(axis=0)
    prev = getattr(ctx, "msd_window_sum", None)
    ctx.msd_window_sum = total if prev is None else prev + total
    return curves


def _msd_columns(ctx: _Context, curves: np.ndarray, keep: np.ndarray) -> dict[str, np.ndarray]:
    """D, log_D, msd_lag, log_msd_lag, alpha, msd_plateau of every (ion, window) from the
    stored curves, over the range :func:`hcanalysis.msd.fit_windows` chooses (the rule of
    :func:`hcanalysis.msd.windowed`); the range, in ps, goes to the report and metadata."""
    from hcanalysis import msd

    cfg = ctx.cfg.msd
    fits = msd.fit_windows(
        curves, keep, ctx.dt_ps, ctx.msd_window_sum / ctx.n_ions, 3, fit_ps=cfg.fit_ps,
        slope_tol=cfg.slope_tol, min_span=cfg.min_span, mobility_lag_ps=cfg.mobility_lag_ps,
        alpha_range_ps=cfg.alpha_range_ps,
    )
    dt = ctx.dt_ps
    summary = fits.summary(dt)
    ctx.msd_summary = summary
    n_ok = int(fits.diffusive.sum())
    text = fits.range.describe()
    if fits.range.found and fits.range.source == "auto":
        text += f"; {n_ok}/{ctx.n_windows} windows diffusive"
    ctx.report["msd"] = (
        f"{text}; α over {fits.alpha_range[0] * dt:.4g}-{fits.alpha_range[1] * dt:.4g} ps; "
        f"msd_lag at {fits.mobility_lag * dt:.4g} ps"
    )
    d = np.asarray(fits.D)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_d = np.where(d > 0, np.log10(np.where(d > 0, d, 1.0)), np.nan)  # NaN: no floor
        m = np.asarray(fits.msd_lag)
        log_m = np.where(m > 0, np.log10(np.where(m > 0, m, 1.0)), np.nan)
    return {"D": d, "log_D": log_d, "msd_lag": m, "log_msd_lag": log_m,
            "alpha": np.asarray(fits.alpha), "msd_plateau": curves[..., -1]}


def hop_scale(ctx: _Context) -> tuple[int, float, str]:
    """The hops stage's half-window (frames) and threshold, fixed once for all ion chunks.

    Half-window: ``hops.half_window`` frames when set, else ``hops.half_window_ps`` ps, else
    ("auto") the cage time of :func:`hcanalysis.hops.cage_scale`. Threshold: a number as
    given, else the "auto" (or "per_ion") rule; "auto" is computed here from up to
    ``hops.SCALE_IONS`` evenly spaced ions, so every chunk uses the same threshold whatever
    the memory budget. Returns (frames, threshold or NaN for "per_ion", description)."""
    from hcanalysis import hops

    cfg = ctx.cfg.hops
    limit = (len(ctx.frames) - 1) // 2
    sample = None
    if cfg.half_window is not None:
        half, how = int(cfg.half_window), f"{int(cfg.half_window)} frames (given)"
    elif cfg.half_window_ps != "auto":
        half = max(1, int(round(float(cfg.half_window_ps) / ctx.dt_ps)))
        how = f"{float(cfg.half_window_ps):g} ps (given)"
    else:
        sample = ctx.scale_sample()
        sc = hops.cage_scale(sample, ctx.dt_ps, max_ions=None)
        half, how = sc.half_window, sc.source
    half = max(2, min(half, limit))
    if cfg.threshold == "auto":
        sample = ctx.scale_sample() if sample is None else sample
        thr, u2 = hops.auto_threshold(sample, half, method=cfg.method,
                                      auto_factor=cfg.auto_factor, max_ions=None,
                                      backend=ctx.cfg.backend)
        thr_how = (f"threshold {thr:.3g} {'Å²' if cfg.method == 'p_hop' else 'Å'} = "
                   f"{cfg.auto_factor:g} x the pooled median of {sample.shape[1]} ions "
                   f"(cage size <u²> = {u2:.3g} Å²)")
    elif cfg.threshold == "per_ion":
        thr, thr_how = float("nan"), f"per-ion thresholds ({cfg.auto_factor:g} x own median)"
    else:
        thr = float(cfg.threshold)
        thr_how = f"threshold {thr:g} (given)"
    text = (f"half window {half} frames = {half * ctx.dt_ps:.4g} ps ({how}); {thr_how}")
    return half, thr, text


def _hops_chunk(ctx: _Context, pos: np.ndarray) -> dict[str, np.ndarray]:
    from hcanalysis import hops

    cfg = ctx.cfg.hops
    if getattr(ctx, "_hop_scale", None) is None:
        ctx._hop_scale = hop_scale(ctx)
    half, thr, how = ctx._hop_scale
    ph = hops.p_hop(pos, half, backend=ctx.cfg.backend)
    events = hops.detect(pos, half_window=half,
                         threshold="per_ion" if np.isnan(thr) else thr, method=cfg.method,
                         auto_factor=cfg.auto_factor,
                         dt_ps=ctx.dt_ps, time_ps=ctx.time_ps, backend=ctx.cfg.backend,
                         p_hop_values=ph if cfg.method == "p_hop" else None)
    stats = hops.per_ion(pos, events, half_window=half, window=ctx.window, stride=ctx.stride,
                         p_hop_values=ph).sort_values(["ion", "window"])
    ctx.n_hop_events = getattr(ctx, "n_hop_events", 0) + len(events)
    ctx.report["hops"] = f"{ctx.n_hop_events} hop events; {how}"
    shape = (pos.shape[1], ctx.n_windows)
    length = stats["mean_length"].to_numpy(dtype=float)
    return {
        "hop_rate": stats["hop_rate"].to_numpy(dtype=float).reshape(shape),
        "hop_length": np.where(np.isfinite(length), length, 0.0).reshape(shape),
        "p_hop_max": stats["p_hop_max"].to_numpy(dtype=float).reshape(shape),
        "path_tortuosity": stats["tortuosity"].to_numpy(dtype=float).reshape(shape),
        "net_displacement": net_displacement(pos, ctx.bounds),
    }


def net_displacement(pos: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """End-to-end displacement of each ion over each window, Å.

    Parameters
    ----------
    pos : (n_frames, n_ions, 3) unwrapped positions, Å
    bounds : (n_windows, 2) frame ranges [a, b) of the windows

    Returns
    -------
    (n_ions, n_windows) |r(b - 1) - r(a)|, Å (the mode names' "stays in its pore" test)
    """
    a, b = bounds[:, 0], bounds[:, 1] - 1
    return np.linalg.norm(pos[b] - pos[a], axis=-1).T


#: MSD curves with more lags than this are stored at about this many log-spaced lags (the
#: curves of every ion are kept in memory and written; all lags would cost n_ions x n_frames / 2
#: float64 for tiling windows, outside the memory budget, on long trajectories).
MAX_STORED_LAGS = 512


def stored_lags(n_lags: int, limit: int = MAX_STORED_LAGS) -> np.ndarray:
    """Lag indices kept in the stored MSD curves: all of ``0..n_lags-1`` up to ``limit``, else
    0 and about ``limit`` log-spaced lags from 1 to the last (always included)."""
    if n_lags <= limit:
        return np.arange(n_lags)
    grid = np.geomspace(1, n_lags - 1, limit - 1).round().astype(np.int64)
    return np.unique(np.concatenate([[0], grid, [n_lags - 1]]))


def stage_dynamics(ctx: _Context) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """MSD and hops, ion chunk by ion chunk (each chunk read once), within the budget."""
    want_msd = "msd" in ctx.cfg.stages
    want_hops = "hops" in ctx.cfg.stages
    cols: dict[str, np.ndarray] = {}
    curves = None
    keep = None
    n_chunks = 0
    n_lags = _msd_max_lag(ctx) + 1
    # the fits use every lag when all curves fit in a quarter of the budget (then they equal
    # msd.windowed's exactly), else the stored log-spaced lags
    fit_all = ctx.n_ions * ctx.n_windows * n_lags * 8 <= ctx.memory_budget() // 4
    for sl, pos in ctx.ion_chunks():
        n_chunks += 1
        parts = {}
        if want_msd:
            c = _msd_chunk(ctx, pos)
            if curves is None:
                keep = np.arange(n_lags) if fit_all else stored_lags(n_lags)
                curves = np.empty((ctx.n_ions, ctx.n_windows, len(keep)))
            curves[sl] = c[..., keep]
            del c
        if want_hops:
            parts.update(_hops_chunk(ctx, pos))
        for k, v in parts.items():
            if k not in cols:
                cols[k] = np.empty((ctx.n_ions, ctx.n_windows))
            cols[k][sl] = v
        del pos
    ctx.report["dynamics"] = f"{n_chunks} ion chunk(s) of <= {ctx.ion_chunk_size()} ions"
    arrays = {}
    if curves is not None:
        cols = {**_msd_columns(ctx, curves, keep), **cols}
        if not fit_all:
            ctx.report["msd"] += f" (fits on {len(keep)} log-spaced lags)"
        stored = stored_lags(n_lags)
        if len(stored) < len(keep):
            curves = curves[..., stored]
        arrays = {"msd": curves.reshape(ctx.n_ions * ctx.n_windows, -1),
                  "msd_lag_ps": stored * ctx.dt_ps}
    return {k: ctx.per_window(v) for k, v in cols.items()}, arrays


def stage_structure(ctx: _Context) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    from hcanalysis import structure

    cfg = ctx.cfg.structure
    samples = sample_frames(ctx.bounds, cfg.frames_per_window)
    local = np.unique(np.concatenate(samples))
    res = structure.analyze(
        ctx.traj, ion=ctx.cfg.species, carbon=ctx.cfg.carbon,
        cutoff_ion_ion=cfg.cutoff_NaNa, cutoff_ion_c=cfg.cutoff_NaC,
        density_radius=cfg.density_radius, frames=ctx.frames[local],
        backend=ctx.cfg.backend, seed=ctx.cfg.seed,
    )
    pos_of = {int(f): k for k, f in enumerate(local)}
    names = {
        "n_NaNa": "n_ion_ion", "n_NaC": "n_ion_c", "cluster_size": "cluster_size",
        "d_NaNa_min": "nearest_ion", "d_NaC_min": "nearest_c",
        "carbon_density": "carbon_density", "sp2_fraction": "sp2_near",
    }
    out = {}
    # fraction of the sampled frames in which the ion has >= 1 Na within the Na–Na cutoff
    # (a sustained contact is the clustering mode's criterion, see docs/modes.md)
    contact = (np.asarray(res.n_ion_ion, dtype=float) >= 1).astype(float)
    frac = np.empty((ctx.n_ions, ctx.n_windows))
    for k, fr in enumerate(samples):
        rows = [pos_of[int(f)] for f in fr]
        frac[:, k] = contact[rows].mean(axis=0) if rows else np.nan
    out["nana_contact_fraction"] = ctx.per_window(frac)
    for col, attr in names.items():
        per_frame = np.asarray(getattr(res, attr), dtype=float)  # (n_sampled, n_ions)
        w = np.empty((ctx.n_ions, ctx.n_windows))
        for k, fr in enumerate(samples):
            rows = [pos_of[int(f)] for f in fr]
            with np.errstate(invalid="ignore"):
                w[:, k] = np.nanmean(per_frame[rows], axis=0) if rows else np.nan
        out[col] = ctx.per_window(w)
    ctx.report["structure"] = ", ".join(
        f"{k} cutoff {v:.2f} Å ({res.cutoff_source[k]})" for k, v in res.cutoffs.items()
    )
    ctx.structure_result = res
    return out, {}


def _carbon_frame(ctx: _Context, frame: int) -> np.ndarray:
    return ctx.traj.positions(ctx.cfg.carbon, frames=[int(ctx.frames[frame])])[0]


def _rmsd_min_image(a: np.ndarray, b: np.ndarray, box: np.ndarray) -> float:
    from hcanalysis.kernels.pbc import minimum_image

    d = minimum_image(a - b, box)
    return float(np.sqrt(np.mean(np.sum(d * d, axis=1))))


def void_maps(ctx: _Context) -> None:
    """One void map per window, recomputed only when the carbon has moved."""
    from hcanalysis import voids

    if ctx.void_maps:
        return
    cfg = ctx.cfg.voids
    last_c, last_map, made = None, None, 0
    for a, _b in ctx.bounds:
        c = _carbon_frame(ctx, int(a))
        box = ctx.traj.box(int(ctx.frames[a]))
        moved = (
            last_c is None
            or not np.allclose(box, last_map.box)
            or _rmsd_min_image(c, last_c, box) > cfg.remap_rmsd
        )
        if moved:
            last_map = voids.tessellate(c, box, None, spacing=cfg.spacing,
                                        radii=cfg.carbon_radius, probe=cfg.probe,
                                        backend=ctx.cfg.backend,
                                        max_memory=ctx.cfg.max_memory)
            last_c, made = c, made + 1
        ctx.void_maps.append(last_map)
    vm = ctx.void_maps[0]
    ctx.report["voids"] = (
        f"{made} void map(s) for {ctx.n_windows} window(s), grid {vm.shape}, porosity "
        f"{vm.porosity:.3f}, LCD {vm.lcd:.2f} Å, PLD {np.round(vm.pld, 2).tolist()} Å"
    )


def stage_voids(ctx: _Context) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    from hcanalysis import voids

    void_maps(ctx)
    samples = sample_frames(ctx.bounds, ctx.cfg.voids.frames_per_window)
    ion_idx = ctx.traj.indices(ctx.cfg.species)
    carbon_idx = ctx.traj.indices(ctx.cfg.carbon)
    keys = ["pore_radius", "pore_volume", "wall_distance", "pore_throats", "voronoi_volume"]
    acc = {k: np.empty((ctx.n_ions, ctx.n_windows)) for k in keys}
    visited = np.empty((ctx.n_ions, ctx.n_windows))
    for k, fr in enumerate(samples):
        vm = ctx.void_maps[k]
        rows, pores = [], []
        for f in fr:
            frame = ctx.traj.positions(frames=[int(ctx.frames[f])])[0]  # one read per frame
            df = voids.ion_descriptors(vm, frame[ion_idx], frame[carbon_idx])
            rows.append(df[keys].to_numpy(dtype=float))
            pores.append(df["pore"].to_numpy())
        stack = np.stack(rows)  # (n_samples, n_ions, n_keys)
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(stack, axis=0)
        for j, key in enumerate(keys):
            acc[key][:, k] = mean[:, j]
        p = np.stack(pores)
        visited[:, k] = [len(set(p[:, i][p[:, i] >= 0].tolist())) for i in range(ctx.n_ions)]
    out = {k: ctx.per_window(v) for k, v in acc.items()}
    out["pores_visited"] = ctx.per_window(visited)
    vm = ctx.void_maps[0]
    frac, edges = vm.psd(30)
    return out, {"psd_edges": np.asarray(edges), "psd_fraction": np.asarray(frac)}


def stage_tortuosity(ctx: _Context) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    from hcanalysis import tortuosity

    void_maps(ctx)
    radius = ctx.cfg.tortuosity.shell_radius
    tau = np.empty((ctx.n_ions, ctx.n_windows))
    reach = np.empty((ctx.n_ions, ctx.n_windows))
    for k, (a, _b) in enumerate(ctx.bounds):
        ions = ctx.traj.positions(ctx.cfg.species, frames=[int(ctx.frames[a])])[0]
        res = tortuosity.local(ctx.void_maps[k], ions, radius=radius,
                               max_memory=ctx.cfg.max_memory)
        tau[:, k] = np.asarray(res.tau, dtype=float)
        reach[:, k] = np.asarray(res.reachable, dtype=float)
    g = tortuosity.global_tortuosity(ctx.void_maps[0])
    tau_g = np.asarray(g.tau, dtype=float)
    ctx.report["tortuosity"] = f"global τ (a, b, c) = {np.round(tau_g, 3).tolist()}"
    return (
        {"local_tortuosity": ctx.per_window(tau), "shell_reachable": ctx.per_window(reach)},
        {"global_tau": tau_g},
    )


STAGE_FUNCTIONS: dict[str, Callable[[_Context], tuple[dict, dict]]] = {
    "msd": stage_dynamics,  # msd and hops share one pass over the ion chunks
    "hops": stage_dynamics,
    "structure": stage_structure,
    "voids": stage_voids,
    "tortuosity": stage_tortuosity,
}


def compute(
    traj: Trajectory,
    config: AnalysisConfig | None = None,
    *,
    trajectory_index: int = 0,
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
    on_stage : callable, optional
        Called with each stage name as it starts (progress display).

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
    t0 = time.perf_counter()
    ctx = _Context(traj, cfg)
    frame = ctx.ids()
    frame.insert(0, "trajectory", int(trajectory_index))
    arrays: dict[str, np.ndarray] = {}
    timings = {}
    done: set = set()
    for name in STAGES:
        fn = STAGE_FUNCTIONS[name]
        if name not in cfg.stages or fn in done:
            continue
        done.add(fn)
        if on_stage is not None:
            on_stage(name)
        ts = time.perf_counter()
        cols, arr = fn(ctx)
        timings[name] = round(time.perf_counter() - ts, 3)
        for c, v in cols.items():
            frame[c] = v
        arrays.update(arr)
    meta = {
        "input": str(traj.path) if traj.path else None,
        "input_fingerprint": file_fingerprint(traj.path),
        "hcanalysis_version": __version__,
        "seed": cfg.seed,
        "config": cfg.to_dict(),
        "n_frames": int(len(ctx.frames)),
        "dt_ps": ctx.dt_ps,
        "window_frames": ctx.window,
        "stride_frames": ctx.stride,
        "n_windows": ctx.n_windows,
        "n_ions": ctx.n_ions,
        "species": cfg.species,
        "stage_seconds": timings,
        "total_seconds": round(time.perf_counter() - t0, 3),
        "peak_rss_mb": peak_rss_mb(),
        "memory_budget_bytes": cfg.max_memory,
        "reports": ctx.report,
    }
    if getattr(ctx, "msd_summary", None) is not None:
        meta["msd"] = ctx.msd_summary
    return DescriptorTable(frame, arrays, meta)
