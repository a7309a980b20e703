"""Mean-squared displacement and diffusion: per ion, per (ion, window), and system level.

Definitions (see ``docs/msd.md``):

* ``MSD_i(τ) = <|r_i(t+τ) - r_i(t)|²>_t`` over all time origins ``t`` (FFT algorithm,
  float64 accumulation whatever the input dtype), for lags ``τ = 0 .. max_lag`` frames.
* Diffusion coefficient from the Einstein relation: a least-squares straight line through
  ``MSD/(2 d)`` against ``τ`` in ps over the fit range of lags (inclusive, in frames), with
  ``d`` the number of components used (3 for "xyz"); ``D`` is its slope, in Å²/ps
  (1 Å²/ps = 1e-4 cm²/s). The anomalous exponent ``α`` is the least-squares slope of
  ``log MSD`` against ``log τ`` over the same lags; ``r2`` is the coefficient of
  determination of the straight-line fit.
* Windows: :func:`hcanalysis.windows.window_bounds` (``window`` frames, starts ``stride``
  frames apart; only whole windows).

Positions are unwrapped Cartesian coordinates ``(n_frames, n_ions, 3)`` in Å, e.g.
``traj.positions("Na", unwrap=True)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hcanalysis.kernels import msd as _k
from hcanalysis.kernels.backend import resolve_backend
from hcanalysis.windows import window_bounds

#: 1 Å²/ps in cm²/s.
A2_PS_TO_CM2_S = 1e-4

#: :func:`diffusion` accumulates ion-averaged curves over chunks of ions whose per-ion curves
#: take at most this many bytes.
DIFFUSION_CHUNK_BYTES = 64 << 20

DriftSpec = None | str | np.ndarray


# ----------------------------------------------------------------------------- helpers
def _as_positions(positions) -> np.ndarray:
    pos = np.asarray(positions)
    if pos.ndim != 3 or pos.shape[2] != 3:
        raise ValueError(
            f"positions must be an array (n_frames, n_ions, 3) in Å; got shape {pos.shape}"
        )
    if pos.shape[0] < 2:
        raise ValueError("an MSD needs at least 2 frames")
    if pos.shape[1] < 1:
        raise ValueError("no ions in positions")
    if pos.dtype not in (np.float32, np.float64):
        pos = pos.astype(np.float64)
    return pos


def com_drift(positions: np.ndarray, masses: np.ndarray | None = None) -> np.ndarray:
    """Displacement of the centre of mass of a set of atoms since the first frame, Å.

    Parameters
    ----------
    positions : (n_frames, n_atoms, 3)
        Unwrapped positions of the atoms that define the reference frame (the mobile species
        itself, the carbon host, or all atoms), Å.
    masses : (n_atoms,), optional
        Atomic masses (any unit); default equal masses.

    Returns
    -------
    (n_frames, 3) float64, zero at frame 0: pass it as ``drift=`` to remove the drift.
    """
    pos = np.asarray(positions)
    if masses is None:
        com = pos.mean(axis=1, dtype=np.float64)
    else:
        w = np.asarray(masses, dtype=np.float64)
        com = np.einsum("fai,a->fi", pos, w / w.sum(), dtype=np.float64)
    return com - com[0]


def _resolve_drift(drift: DriftSpec, pos: np.ndarray) -> np.ndarray | None:
    """``None``/"none" -> no correction; "species"/"self" -> COM of the given ions; array ->
    that drift (n_frames, 3)."""
    if drift is None:
        return None
    if isinstance(drift, str):
        key = drift.lower()
        if key == "none":
            return None
        if key in ("species", "self"):
            return com_drift(pos)
        raise ValueError(
            f"drift={drift!r}: use None, 'species' (centre of mass of these ions) or an "
            "(n_frames, 3) array such as com_drift(all_atom_positions, masses)"
        )
    arr = np.asarray(drift, dtype=np.float64)
    if arr.shape != (pos.shape[0], 3):
        raise ValueError(f"drift must have shape ({pos.shape[0]}, 3); got {arr.shape}")
    return arr


def _lag_range(n_frames: int, max_lag: int | None, default: int) -> int:
    max_lag = default if max_lag is None else int(max_lag)
    if not 1 <= max_lag < n_frames:
        raise ValueError(f"max_lag={max_lag} must be in 1..{n_frames - 1} frames")
    return max_lag


def _fit_range(fit: tuple[int, int] | None, max_lag: int) -> tuple[int, int]:
    if fit is None:
        lo = max(1, int(round(0.2 * max_lag)))
        return (min(lo, max_lag), max_lag)
    lo, hi = (int(fit[0]), int(fit[1]))
    if not 1 <= lo <= hi <= max_lag:
        raise ValueError(
            f"fit=({lo}, {hi}) must satisfy 1 <= lag_lo <= lag_hi <= max_lag={max_lag} (frames)"
        )
    return lo, hi


@dataclass
class LineFit:
    """Least-squares fits of MSD curves over a range of lags (arrays of the curves' leading
    shape).

    Attributes
    ----------
    D : Å²/ps, slope of MSD/(2 d) against τ.
    intercept : Å², intercept of the MSD line (``2 d`` times that of MSD/(2 d)).
    alpha : log-log slope (1 = diffusive, 2 = ballistic, < 1 = sub-diffusive).
    r2 : coefficient of determination of the straight-line fit.
    """

    D: np.ndarray
    intercept: np.ndarray
    alpha: np.ndarray
    r2: np.ndarray

    @property
    def D_cm2_s(self) -> np.ndarray:
        """D in cm²/s."""
        return self.D * A2_PS_TO_CM2_S


def fit_msd(
    msd: np.ndarray, dt_ps: float, fit: tuple[int, int], n_dims: int = 3
) -> LineFit:
    """Fit ``MSD/(2 n_dims)`` against time over lags ``fit[0]..fit[1]`` (frames, inclusive).

    Parameters
    ----------
    msd : (..., n_lags) float
        MSD curves, Å², lag 0 first.
    dt_ps : float
        Time between frames, ps.
    fit : (lag_lo, lag_hi)
        Inclusive range of lags in frames, ``lag_lo >= 1``.
    n_dims : int
        Number of Cartesian components in the MSD.
    """
    lo, hi = int(fit[0]), int(fit[1])
    if lo < 1 or hi < lo or hi >= msd.shape[-1]:
        raise ValueError(f"fit range ({lo}, {hi}) is outside lags 1..{msd.shape[-1] - 1}")
    t = np.arange(lo, hi + 1, dtype=np.float64) * float(dt_ps)
    y = np.asarray(msd[..., lo : hi + 1], dtype=np.float64)
    if len(t) == 1:
        slope = y[..., 0] / t[0]
        icpt = np.zeros_like(slope)
        r2 = np.full_like(slope, np.nan)
        alpha = np.full_like(slope, np.nan)
    else:
        tc = t - t.mean()
        stt = float(tc @ tc)
        ybar = y.mean(axis=-1)
        slope = (y @ tc) / stt
        icpt = ybar - slope * t.mean()
        resid = y - (icpt[..., None] + slope[..., None] * t)
        ss_res = np.sum(resid * resid, axis=-1)
        ss_tot = np.sum((y - ybar[..., None]) ** 2, axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(ss_tot > 0, 1.0 - ss_res / ss_tot, np.nan)
            ly = np.where(y > 0, np.log(np.where(y > 0, y, 1.0)), np.nan)
        lt = np.log(t)
        ltc = lt - lt.mean()
        alpha = (ly @ ltc) / float(ltc @ ltc)
    return LineFit(D=slope / (2 * n_dims), intercept=icpt, alpha=alpha, r2=r2)


# ----------------------------------------------------------------------------- per ion
def per_ion(
    positions: np.ndarray,
    *,
    max_lag: int | None = None,
    backend: str = "auto",
    dims: str = "xyz",
    max_memory: int | None = None,
    drift: DriftSpec = None,
) -> np.ndarray:
    """All-origin MSD of each ion over the whole trajectory, by FFT.

    Parameters
    ----------
    positions : (n_frames, n_ions, 3) float32 or float64
        Unwrapped positions, Å.
    max_lag : int, optional
        Largest lag in frames (default ``n_frames - 1``).
    backend : {"auto", "cpu", "cuda"}
        Compute backend (``HCANALYSIS_BACKEND`` when "auto").
    dims : str
        Components summed, e.g. "xyz" (default), "xy", "z".
    max_memory : int, optional
        Working-memory budget in bytes; ions are processed in chunks that fit it (default
        :func:`hcanalysis.kernels.backend.default_memory_budget`, a quarter of free memory).
    drift : None, "species" or (n_frames, 3) array
        Centre-of-mass drift to remove (see :func:`com_drift`).

    Returns
    -------
    (n_ions, max_lag + 1) float64, Å²; column ``m`` is the MSD at lag ``m`` frames.
    """
    pos = _as_positions(positions)
    t = pos.shape[0]
    max_lag = _lag_range(t, max_lag, t - 1)
    be = resolve_backend(backend)
    out = _k.msd_windows(
        pos, np.array([0]), t, max_lag, dims=dims, backend=be, max_memory=max_memory,
        drift=_resolve_drift(drift, pos),
    )
    return out[:, 0, :]


# ----------------------------------------------------------------------------- windowed
@dataclass
class WindowedMSD:
    """MSD curves and diffusion fits per (ion, window).

    Attributes
    ----------
    windows : (n_windows, 2) int
        ``[start, stop)`` frames of each window (:func:`hcanalysis.windows.window_bounds`).
    lags : (n_lags,) int
        Lags in frames, ``0..max_lag``.
    dt_ps : float
        Time between frames, ps.
    msd : (n_ions, n_windows, n_lags) float64
        All-origin MSD inside each window, Å².
    fit : (lag_lo, lag_hi)
        Inclusive fit range, frames.
    D, intercept, alpha, r2 : (n_ions, n_windows) float64
        See :class:`LineFit`; ``D`` in Å²/ps.
    dims : str
        Components used.
    """

    windows: np.ndarray
    lags: np.ndarray
    dt_ps: float
    msd: np.ndarray
    fit: tuple[int, int]
    D: np.ndarray
    intercept: np.ndarray
    alpha: np.ndarray
    r2: np.ndarray
    dims: str = "xyz"

    @property
    def lag_ps(self) -> np.ndarray:
        """Lags in ps."""
        return self.lags * self.dt_ps

    @property
    def D_cm2_s(self) -> np.ndarray:
        """D in cm²/s."""
        return self.D * A2_PS_TO_CM2_S


def windowed(
    positions: np.ndarray,
    window: int | None = None,
    stride: int | None = None,
    max_lag: int | None = None,
    fit: tuple[int, int] | None = None,
    dt_ps: float = 1.0,
    *,
    dims: str = "xyz",
    backend: str = "auto",
    max_memory: int | None = None,
    drift: DriftSpec = None,
) -> WindowedMSD:
    """MSD, D, α and fit quality of every ion in every window.

    Parameters
    ----------
    positions : (n_frames, n_ions, 3)
        Unwrapped positions, Å.
    window, stride : int, optional
        Frames per window and between window starts (:func:`hcanalysis.windows.window_bounds`;
        default one window of all frames; stride defaults to ``window``).
    max_lag : int, optional
        Largest lag in frames (default half the window).
    fit : (lag_lo, lag_hi), optional
        Inclusive fit range in frames (default ``(round(0.2 max_lag), max_lag)``, at least 1).
    dt_ps : float
        Time between frames, ps.
    dims, backend, max_memory, drift
        As in :func:`per_ion`.

    Returns
    -------
    WindowedMSD
    """
    pos = _as_positions(positions)
    bounds = window_bounds(pos.shape[0], window, stride)
    length = int(bounds[0, 1] - bounds[0, 0])
    max_lag = _lag_range(length, max_lag, max(1, length // 2))
    lo, hi = _fit_range(fit, max_lag)
    be = resolve_backend(backend)
    msd = _k.msd_windows(
        pos, bounds[:, 0], length, max_lag, dims=dims, backend=be, max_memory=max_memory,
        drift=_resolve_drift(drift, pos),
    )
    lf = fit_msd(msd, dt_ps, (lo, hi), len(_k.dims_indices(dims)))
    return WindowedMSD(
        windows=bounds, lags=np.arange(max_lag + 1), dt_ps=float(dt_ps), msd=msd,
        fit=(lo, hi), D=lf.D, intercept=lf.intercept, alpha=lf.alpha, r2=lf.r2, dims=dims,
    )


# ----------------------------------------------------------------------------- system level
@dataclass
class Diffusion:
    """System-level diffusion of one species.

    Attributes
    ----------
    D, D_err : float
        Diffusion coefficient and its standard error, Å²/ps (block average over windows; see
        :func:`diffusion`).
    alpha, r2 : float
        Log-log slope and R² of the fit of the ion- and window-averaged MSD.
    D_blocks : (n_windows,)
        D of the ion-averaged MSD in each window (the blocks), Å²/ps.
    n_eff : float
        Effective number of independent blocks used for ``D_err``.
    D_dim, D_dim_err : (n_dims,)
        Per-component D (MSD_x/2 etc.) and standard errors, Å²/ps.
    lags, dt_ps, msd, msd_err, msd_dim :
        Lags (frames), frame time (ps), mean MSD curve (Å²), its block standard error and
        the per-component curves ``(n_dims, n_lags)``.
    alpha2_lags, alpha2 : (n_alpha2,)
        Non-Gaussian parameter at those lags (frames), all origins, all ions.
    vanhove_lags, vanhove_r, vanhove_p, vanhove_gs :
        Self van Hove function at those lags: bin centres (Å), probability density of
        |Δr| (Å⁻¹, integrates to 1 over all r), and ``G_s(r, τ) = p(r) / (4π r²)`` (Å⁻³;
        for 2 components ``p/(2π r)``, for 1 component ``p/2``).
    vanhove_overflow : (n_vanhove,)
        Fraction of displacements beyond the last bin.
    """

    D: float
    D_err: float
    alpha: float
    r2: float
    D_blocks: np.ndarray
    n_eff: float
    D_dim: np.ndarray
    D_dim_err: np.ndarray
    lags: np.ndarray
    dt_ps: float
    msd: np.ndarray
    msd_err: np.ndarray
    msd_dim: np.ndarray
    windows: np.ndarray
    fit: tuple[int, int]
    dims: str
    alpha2_lags: np.ndarray
    alpha2: np.ndarray
    vanhove_lags: np.ndarray
    vanhove_r: np.ndarray
    vanhove_p: np.ndarray
    vanhove_gs: np.ndarray
    vanhove_overflow: np.ndarray
    n_ions: int
    method: str = field(
        default="block average over windows: D = mean of per-window D; "
        "D_err = std(D_blocks, ddof=1) / sqrt(n_eff)"
    )

    @property
    def D_cm2_s(self) -> float:
        """D in cm²/s."""
        return self.D * A2_PS_TO_CM2_S

    @property
    def D_err_cm2_s(self) -> float:
        """Standard error of D in cm²/s."""
        return self.D_err * A2_PS_TO_CM2_S

    @property
    def lag_ps(self) -> np.ndarray:
        """Lags in ps."""
        return self.lags * self.dt_ps


def log_lags(max_lag: int, n: int) -> np.ndarray:
    """About ``n`` distinct integer lags spaced evenly in log between 1 and ``max_lag``."""
    if max_lag < 1:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.round(np.geomspace(1, max_lag, max(1, int(n)))).astype(np.int64))


def _block_error(values: np.ndarray, n_eff: float) -> np.ndarray:
    """Standard error of the mean over blocks (axis 0) with ``n_eff`` independent blocks."""
    nb = values.shape[0]
    if nb < 2:
        return np.full(values.shape[1:], np.nan)
    return np.std(values, axis=0, ddof=1) / np.sqrt(n_eff)


def diffusion(
    positions: np.ndarray,
    dt_ps: float = 1.0,
    *,
    window: int | None = None,
    stride: int | None = None,
    max_lag: int | None = None,
    fit: tuple[int, int] | None = None,
    dims: str = "xyz",
    drift: DriftSpec = None,
    n_alpha2_lags: int = 20,
    alpha2_lags: np.ndarray | None = None,
    vanhove_lags: np.ndarray | None = None,
    vanhove_bins: int = 100,
    vanhove_rmax: float | None = None,
    origin_stride: int = 1,
    backend: str = "auto",
    max_memory: int | None = None,
) -> Diffusion:
    """System diffusion coefficient with a block-averaging error, per-component D, the
    non-Gaussian parameter and the self van Hove function.

    Notes
    -----
    The frames are cut into windows (blocks) of ``window`` frames, ``stride`` apart (default:
    five non-overlapping blocks). In each block the all-origin MSD of every ion is averaged
    over the ions and fitted (:func:`fit_msd`) over ``fit`` lags, giving ``D_blocks``.
    ``D`` is their mean, which equals the fit of the block- and ion-averaged curve ``msd``
    (the least-squares slope is linear in the data). ``D_err`` is the standard error of the
    mean over blocks, ``std(D_blocks, ddof=1) / sqrt(n_eff)``, with
    ``n_eff = min(n_blocks, 1 + (n_blocks - 1) * stride / window)`` so that overlapping
    blocks are not counted as independent. Blocks should be long compared with the
    correlation time of the displacements (check that ``D_err`` is stable when the window
    doubles). Per-component ``D_dim`` use ``MSD_x / 2`` etc. and the same blocks.

    The non-Gaussian parameter ``α2(τ) = d <Δr⁴> / ((d + 2) <Δr²>²) - 1`` (``3/5`` for
    ``d = 3``) and the self van Hove histograms use every ion and every ``origin_stride``-th
    time origin of the whole trajectory (not the blocks), by direct summation at the lags
    asked for.

    Parameters
    ----------
    positions : (n_frames, n_ions, 3)
        Unwrapped positions, Å.
    dt_ps : float
        Time between frames, ps.
    window, stride : int, optional
        Block length and spacing in frames (default ``n_frames // 5`` and ``window``).
    max_lag : int, optional
        Largest MSD lag in frames (default half the window).
    fit : (lag_lo, lag_hi), optional
        Inclusive fit range in frames (default ``(round(0.2 max_lag), max_lag)``).
    dims : str
        Components used ("xyz", "xy", "z", ...).
    drift : None, "species" or (n_frames, 3) array
        Centre-of-mass drift removed before everything (see :func:`com_drift`).
    n_alpha2_lags : int
        Number of log-spaced lags for α2 when ``alpha2_lags`` is not given.
    alpha2_lags, vanhove_lags : arrays of int, optional
        Lags in frames (default: log-spaced up to ``max_lag``; four van Hove lags).
    vanhove_bins : int
        Histogram bins over ``[0, vanhove_rmax)``.
    vanhove_rmax : float, optional
        Histogram range in Å (default five times the RMS displacement at the longest van
        Hove lag).
    origin_stride : int
        Time-origin stride for α2 and van Hove.
    backend, max_memory
        As in :func:`per_ion`.
    """
    pos = _as_positions(positions)
    n_frames = pos.shape[0]
    if window is None:
        window = n_frames // 5 if n_frames >= 20 else n_frames
    bounds = window_bounds(n_frames, window, stride)
    length = int(bounds[0, 1] - bounds[0, 0])
    stride_eff = int(bounds[1, 0] - bounds[0, 0]) if len(bounds) > 1 else length
    max_lag = _lag_range(length, max_lag, max(1, length // 2))
    lo, hi = _fit_range(fit, max_lag)
    be = resolve_backend(backend)
    dr = _resolve_drift(drift, pos)
    didx = _k.dims_indices(dims)
    nd = len(didx)

    # ion-averaged per-component curves of each block, accumulated over chunks of ions so
    # that the per-ion curves (n_ions x n_windows x nd x n_lags) are never all held at once
    n_ions = pos.shape[1]
    per_ion_bytes = len(bounds) * nd * (max_lag + 1) * 8
    step = max(1, min(n_ions, DIFFUSION_CHUNK_BYTES // max(per_ion_bytes, 1)))
    block_dim = np.zeros((len(bounds), nd, max_lag + 1))
    for i0 in range(0, n_ions, step):
        per = _k.msd_windows(
            pos[:, i0 : i0 + step], bounds[:, 0], length, max_lag, dims=dims, per_dim=True,
            backend=be, max_memory=max_memory, drift=dr,
        )  # (n_chunk, n_windows, nd, n_lags)
        block_dim += per.sum(axis=0)
        del per
    block_dim /= n_ions  # (n_windows, nd, n_lags)
    block = block_dim.sum(axis=1)  # (n_windows, n_lags)
    nb = len(bounds)
    n_eff = float(min(nb, 1 + (nb - 1) * stride_eff / length))
    fb = fit_msd(block, dt_ps, (lo, hi), nd)
    fdim = fit_msd(block_dim, dt_ps, (lo, hi), 1)  # (n_windows, nd)
    msd = block.mean(axis=0)
    fm = fit_msd(msd, dt_ps, (lo, hi), nd)

    # non-Gaussian parameter and van Hove, direct sums at a bounded set of lags
    a2_lags = (
        log_lags(max_lag, n_alpha2_lags)
        if alpha2_lags is None
        else np.unique(np.asarray(alpha2_lags, dtype=np.int64))
    )
    vh_lags = (
        log_lags(max_lag, 4) if vanhove_lags is None else np.asarray(vanhove_lags, dtype=np.int64)
    )
    if (a2_lags.size and (a2_lags.min() < 1 or a2_lags.max() >= n_frames)) or (
        vh_lags.size and (vh_lags.min() < 1 or vh_lags.max() >= n_frames)
    ):
        raise ValueError(f"alpha2 / van Hove lags must be in 1..{n_frames - 1} frames")
    all_lags = np.union1d(a2_lags, vh_lags)
    if vanhove_rmax is None:
        longest = int(vh_lags.max()) if vh_lags.size else 1
        ref = msd[longest] if longest <= max_lag else msd[-1] * longest / max(max_lag, 1)
        vanhove_rmax = 5.0 * float(np.sqrt(max(ref, 1e-12)))
    s2, s4, cnt, hist = _k.displacement_moments(
        pos, all_lags, dims=dims, vanhove_lags=vh_lags, r_max=vanhove_rmax,
        n_bins=vanhove_bins, origin_stride=origin_stride, backend=be, drift=dr,
    )
    sel = np.searchsorted(all_lags, a2_lags)
    m2 = s2[sel] / cnt[sel]
    m4 = s4[sel] / cnt[sel]
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha2 = nd * m4 / ((nd + 2) * m2 * m2) - 1.0
    edges = np.linspace(0.0, vanhove_rmax, vanhove_bins + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    width = edges[1] - edges[0]
    vh_cnt = cnt[np.searchsorted(all_lags, vh_lags)].astype(np.float64)
    p = hist / (vh_cnt[:, None] * width) if vh_lags.size else np.zeros((0, vanhove_bins))
    shell = {1: 2.0 * np.ones_like(centres), 2: 2 * np.pi * centres, 3: 4 * np.pi * centres**2}
    gs = p / shell[nd]
    overflow = 1.0 - hist.sum(axis=1) / vh_cnt if vh_lags.size else np.zeros(0)

    return Diffusion(
        D=float(fm.D),
        D_err=float(_block_error(fb.D[:, None], n_eff)[0]),
        alpha=float(fm.alpha),
        r2=float(fm.r2),
        D_blocks=fb.D,
        n_eff=n_eff,
        D_dim=fdim.D.mean(axis=0),
        D_dim_err=_block_error(fdim.D, n_eff),
        lags=np.arange(max_lag + 1),
        dt_ps=float(dt_ps),
        msd=msd,
        msd_err=_block_error(block, n_eff),
        msd_dim=block_dim.mean(axis=0),
        windows=bounds,
        fit=(lo, hi),
        dims=dims,
        alpha2_lags=a2_lags,
        alpha2=alpha2,
        vanhove_lags=vh_lags,
        vanhove_r=centres,
        vanhove_p=p,
        vanhove_gs=gs,
        vanhove_overflow=overflow,
        n_ions=int(pos.shape[1]),
    )


__all__ = [
    "A2_PS_TO_CM2_S",
    "Diffusion",
    "LineFit",
    "WindowedMSD",
    "com_drift",
    "diffusion",
    "fit_msd",
    "log_lags",
    "per_ion",
    "windowed",
]
