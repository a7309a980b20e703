"""Mean-squared displacement and diffusion: per ion, per (ion, window), and system level.

Definitions (see ``docs/msd.md``):

* ``MSD_i(τ) = <|r_i(t+τ) - r_i(t)|²>_t`` over all time origins ``t`` (FFT algorithm,
  float64 accumulation whatever the input dtype), for lags ``τ = 0 .. max_lag`` frames.
* Diffusion coefficient from the Einstein relation: a least-squares straight line through
  ``MSD/(2 d)`` against ``τ`` in ps over the fit range of lags (inclusive, in frames), with
  ``d`` the number of components used (3 for "xyz"); ``D`` is its slope, in Å²/ps
  (1 Å²/ps = 1e-4 cm²/s). The anomalous exponent ``α`` is the least-squares slope of
  ``log MSD`` against ``log τ``; ``r2`` is the coefficient of determination of the
  straight-line fit.
* Fit range: by default found from the data by one rule,
  :func:`hcanalysis.msd_fit.find_fit_range` (the lags where the local log-log slope of the
  ion-averaged MSD is 1 within a tolerance, after the ballistic and cage regimes); given in
  ps (``fit_ps``) or in frames (``fit``) otherwise. No diffusive range: D is NaN, with the
  reason in the result's ``range``.
* Windows: :func:`hcanalysis.windows.window_bounds` (``window`` frames, starts ``stride``
  frames apart; only whole windows).

Positions are unwrapped Cartesian coordinates ``(n_frames, n_ions, 3)`` in Å, e.g.
``traj.positions("Na", unwrap=True)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hcanalysis.deprecation import keyword_only
from hcanalysis.kernels import msd as _k
from hcanalysis.kernels.backend import resolve_backend
from hcanalysis.msd_fit import (
    MIN_SPAN,
    SLOPE_TOL,
    FitRange,
    GLSResult,
    ballistic_end,
    find_fit_range,
    gls_diffusion,
    gls_lags,
    resolve_fit,
)
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
    return line_fit(t, np.asarray(msd[..., lo : hi + 1], dtype=np.float64), n_dims)


def line_fit(t: np.ndarray, y: np.ndarray, n_dims: int = 3) -> LineFit:
    """Least-squares line and log-log slope of curves ``y (..., k)`` against times ``t (k,)``
    in ps (any lags, e.g. the stored subset of a long curve); see :func:`fit_msd`."""
    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
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
class WindowFits:
    """The per-(ion, window) fits of :func:`fit_windows` (arrays ``(n_ions, n_windows)``).

    Attributes
    ----------
    range : FitRange
        The fit range (found from the ion- and window-averaged MSD, or given).
    window_ranges : list of FitRange
        The rule applied to each window's ion-averaged MSD ("auto" only; else empty).
    diffusive : (n_windows,) bool
        Whether the window has a diffusive range (always True for a given range).
    D, intercept, r2 : Å²/ps, Å², -
        Line fit over ``range``; ``D`` is NaN in every window when ``range.found`` is False
        and in the windows that are not ``diffusive``.
    alpha : -
        Log-log slope over ``alpha_range`` (frames, inclusive).
    alpha_range : (lo, hi)
        The fit range when one exists, else from the end of the ballistic regime (local slope
        <= 1 + tol) to the largest lag; or as given.
    mobility_lag : int
        Lag (frames) of ``msd_lag``: the first lag of the diffusive range when one exists,
        else the largest lag; or as given.
    msd_lag : Å²
        MSD at ``mobility_lag``.
    """

    range: FitRange
    window_ranges: list
    diffusive: np.ndarray
    D: np.ndarray
    intercept: np.ndarray
    r2: np.ndarray
    alpha: np.ndarray
    alpha_range: tuple[int, int]
    mobility_lag: int
    msd_lag: np.ndarray

    def summary(self, dt_ps: float) -> dict:
        """Plain numbers (ranges in ps and frames, per-window verdicts and reasons) for
        HDF5 attributes and JSON metadata."""
        out = self.range.as_dict()
        out.update({
            "alpha_range_ps": [self.alpha_range[0] * dt_ps, self.alpha_range[1] * dt_ps],
            "mobility_lag_ps": self.mobility_lag * dt_ps,
            "windows_diffusive": [bool(v) for v in self.diffusive],
            "window_reasons": [r.reason for r in self.window_ranges],
        })
        return out


def _lag_frames(value_ps: float, dt_ps: float, max_lag: int, name: str) -> int:
    lag = int(round(float(value_ps) / dt_ps))
    if not 1 <= lag <= max_lag:
        raise ValueError(f"{name}={value_ps:g} ps must lie within {dt_ps:g}..{max_lag * dt_ps:g}"
                         f" ps (1..{max_lag} frames of {dt_ps:g} ps)")
    return lag


def fit_windows(
    curves: np.ndarray,
    lags: np.ndarray,
    dt_ps: float,
    window_mean: np.ndarray,
    n_dims: int = 3,
    *,
    fit=None,
    fit_ps: tuple[float, float] | None = None,
    slope_tol: float = SLOPE_TOL,
    min_span: float = MIN_SPAN,
    mobility_lag_ps: float | None = None,
    alpha_range_ps: tuple[float, float] | None = None,
) -> WindowFits:
    """D, α and the MSD at a fixed lag of every (ion, window), over one fit range: the shared
    step of :func:`windowed` and the descriptor table's ``msd`` stage.

    Parameters
    ----------
    curves : (n_ions, n_windows, n_stored) float
        MSD curves, Å², at the integer ``lags`` (frames, increasing, all of ``0..max_lag`` or a
        subset that includes ``max_lag``); fits use the stored lags inside each range.
    lags : (n_stored,) int
        Their lags, frames.
    dt_ps : float
        Time between frames, ps.
    window_mean : (n_windows, max_lag + 1) float
        Ion-averaged MSD of each window at every lag, Å²: the rule
        (:func:`hcanalysis.msd_fit.find_fit_range`) runs on their mean (the range) and on
        each (the per-window verdict).
    n_dims : int
        Components in the MSD.
    fit, fit_ps
        Fit range in frames or ps (default found from the data).
    slope_tol, min_span
        Parameters of the rule.
    mobility_lag_ps : float, optional
        Lag of ``msd_lag``, ps (default: see :class:`WindowFits`).
    alpha_range_ps : (lo, hi), optional
        Range of ``alpha``, ps (default: see :class:`WindowFits`).
    """
    lags = np.asarray(lags, dtype=np.int64)
    wm = np.asarray(window_mean, dtype=np.float64)
    max_lag = wm.shape[-1] - 1
    n_windows = wm.shape[0]
    mean = wm.mean(axis=0)
    fr = resolve_fit(fit, dt_ps, max_lag, mean, fit_ps=fit_ps, tol=slope_tol,
                     min_span=min_span)
    shape = curves.shape[:2]
    if fr.source == "auto":
        window_ranges = [find_fit_range(wm[w], dt_ps, max_lag, tol=slope_tol,
                                        min_span=min_span) for w in range(n_windows)]
        diffusive = np.array([r.found for r in window_ranges])
    else:
        window_ranges = []
        diffusive = np.ones(n_windows, dtype=bool)
    nan = np.full(shape, np.nan)
    if fr.found:
        sel = (lags >= fr.lo) & (lags <= fr.hi)
        if not sel.any():  # a stored subset without a lag in the range: its nearest lag
            sel = np.abs(lags - fr.lo) == np.abs(lags - fr.lo).min()
        lf = line_fit(lags[sel] * float(dt_ps), curves[..., sel], n_dims)
        ok = diffusive[None, :]
        d, icpt, r2 = np.where(ok, lf.D, np.nan), lf.intercept, lf.r2
    else:
        d, icpt, r2 = nan, nan.copy(), nan.copy()
    if alpha_range_ps is not None:
        a_lo = _lag_frames(alpha_range_ps[0], dt_ps, max_lag, "alpha_range_ps[0]")
        a_hi = _lag_frames(alpha_range_ps[1], dt_ps, max_lag, "alpha_range_ps[1]")
        if a_hi <= a_lo:
            raise ValueError(f"alpha_range_ps={tuple(alpha_range_ps)}: needs lo < hi")
    elif fr.found:
        a_lo, a_hi = fr.lo, fr.hi
    else:
        a_lo, a_hi = min(ballistic_end(fr), max(max_lag - 1, 1)), max_lag
    sel = (lags >= a_lo) & (lags <= a_hi)
    alpha = line_fit(lags[sel] * float(dt_ps), curves[..., sel], n_dims).alpha \
        if sel.sum() >= 2 else nan.copy()
    if mobility_lag_ps is not None:
        mlag = _lag_frames(mobility_lag_ps, dt_ps, max_lag, "mobility_lag_ps")
    else:
        mlag = fr.lo if fr.found else max_lag
    j = int(np.searchsorted(lags, mlag))
    if j < len(lags) and lags[j] == mlag:
        msd_lag = np.asarray(curves[..., j], dtype=np.float64)
    else:  # stored subset: interpolate linearly between the neighbouring stored lags
        w = (mlag - lags[j - 1]) / (lags[j] - lags[j - 1])
        msd_lag = (1 - w) * curves[..., j - 1] + w * curves[..., j]
    return WindowFits(range=fr, window_ranges=window_ranges, diffusive=diffusive, D=d,
                      intercept=icpt, r2=r2, alpha=alpha, alpha_range=(int(a_lo), int(a_hi)),
                      mobility_lag=int(mlag), msd_lag=msd_lag)


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
        Inclusive fit range, frames (``(-1, -1)`` when there is no diffusive range).
    D, intercept, alpha, r2 : (n_ions, n_windows) float64
        See :class:`LineFit` and :class:`WindowFits`; ``D`` in Å²/ps, NaN without a
        diffusive range.
    dims : str
        Components used.
    fits : WindowFits
        The fit range and how it was chosen (``fits.range``), per-window verdicts,
        ``msd_lag`` at ``mobility_lag`` and the α range.
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
    fits: WindowFits | None = None

    @property
    def lag_ps(self) -> np.ndarray:
        """Lags in ps."""
        return self.lags * self.dt_ps

    @property
    def D_cm2_s(self) -> np.ndarray:
        """D in cm²/s."""
        return self.D * A2_PS_TO_CM2_S

    @property
    def range(self) -> FitRange:
        """The fit range (ps via ``range.lo_ps`` / ``hi_ps``) and the reason when none."""
        return self.fits.range

    @property
    def msd_lag(self) -> np.ndarray:
        """MSD at ``fits.mobility_lag``, Å² (n_ions, n_windows)."""
        return self.fits.msd_lag


@keyword_only
def windowed(
    positions: np.ndarray,
    *,
    window: int | None = None,
    stride: int | None = None,
    max_lag: int | None = None,
    fit: tuple[int, int] | str | None = None,
    dt_ps: float = 1.0,
    fit_ps: tuple[float, float] | None = None,
    slope_tol: float = SLOPE_TOL,
    min_span: float = MIN_SPAN,
    mobility_lag_ps: float | None = None,
    alpha_range_ps: tuple[float, float] | None = None,
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
    fit : (lag_lo, lag_hi) or "auto", optional
        Inclusive fit range in frames; default "auto": found from the ion- and window-averaged
        MSD by :func:`hcanalysis.msd_fit.find_fit_range` (windows whose own ion-averaged MSD
        has no diffusive range get D = NaN).
    dt_ps : float
        Time between frames, ps.
    fit_ps : (lo, hi), optional
        Fit range in ps instead of ``fit``.
    slope_tol, min_span : float
        Tolerance on the local log-log slope and minimum extent (ratio of last to first lag)
        of an automatic range.
    mobility_lag_ps, alpha_range_ps : optional
        Lag of ``msd_lag`` and range of ``alpha``, ps (defaults: :class:`WindowFits`).
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
    be = resolve_backend(backend)
    msd = _k.msd_windows(
        pos, bounds[:, 0], length, max_lag, dims=dims, backend=be, max_memory=max_memory,
        drift=_resolve_drift(drift, pos),
    )
    fits = fit_windows(
        msd, np.arange(max_lag + 1), dt_ps, msd.mean(axis=0), len(_k.dims_indices(dims)),
        fit=fit, fit_ps=fit_ps, slope_tol=slope_tol, min_span=min_span,
        mobility_lag_ps=mobility_lag_ps, alpha_range_ps=alpha_range_ps,
    )
    return WindowedMSD(
        windows=bounds, lags=np.arange(max_lag + 1), dt_ps=float(dt_ps), msd=msd,
        fit=fits.range.frames, D=fits.D, intercept=fits.intercept, alpha=fits.alpha,
        r2=fits.r2, dims=dims, fits=fits,
    )


# ----------------------------------------------------------------------------- system level
@dataclass
class Diffusion:
    """System-level diffusion of one species.

    Attributes
    ----------
    D, D_err : float
        Diffusion coefficient and its standard error, Å²/ps (block average over windows; see
        :func:`diffusion`); NaN when there is no diffusive range (``range.reason``).
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
    range : FitRange
        The fit range (``fit`` in frames, ``range.lo_ps`` / ``hi_ps`` in ps) and how it was
        chosen, or why there is none.
    gls : GLSResult or None
        D over the same range by generalised least squares with the MSD covariance of a random
        walk, on the whole trajectory (``D_gls``, ``D_gls_err``, ``D_gls_ci95``).
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
    range: FitRange | None = None
    gls: GLSResult | None = None

    @property
    def D_gls(self) -> float:
        """D by generalised least squares over the whole trajectory, Å²/ps (NaN without a
        diffusive range); see :func:`hcanalysis.msd_fit.gls_diffusion`."""
        return self.gls.D if self.gls is not None else float("nan")

    @property
    def D_gls_err(self) -> float:
        """Standard error of :attr:`D_gls`, Å²/ps."""
        return self.gls.D_err if self.gls is not None else float("nan")

    @property
    def D_gls_ci95(self) -> np.ndarray:
        """95 % interval of :attr:`D_gls`, Å²/ps."""
        return self.gls.ci95 if self.gls is not None else np.full(2, np.nan)

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
    fit: tuple[int, int] | str | None = None,
    fit_ps: tuple[float, float] | None = None,
    slope_tol: float = SLOPE_TOL,
    min_span: float = MIN_SPAN,
    gls: bool = True,
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
    """System diffusion coefficient with a block-averaging error and a generalised-least-squares
    interval, per-component D, the non-Gaussian parameter and the self van Hove function.

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
    fit : (lag_lo, lag_hi) or "auto", optional
        Inclusive fit range in frames (default "auto": found from the data).
    fit_ps : (lo, hi), optional
        Fit range in ps instead of ``fit``.
    slope_tol, min_span : float
        Parameters of the automatic range (see :func:`windowed`).
    gls : bool
        Also compute the GLS estimate and its interval.
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

    Notes
    -----
    The frames are cut into windows (blocks) of ``window`` frames, ``stride`` apart (default:
    five non-overlapping blocks). In each block the all-origin MSD of every ion is averaged
    over the ions. The fit range is found from the mean of these curves by
    :func:`hcanalysis.msd_fit.find_fit_range` (the rule :func:`windowed` and the descriptor
    table use), unless ``fit`` / ``fit_ps`` give it; without a diffusive range every D is NaN
    and ``range.reason`` says why. Each block's curve is fitted (:func:`fit_msd`) over the
    range, giving ``D_blocks``.
    ``D`` is their mean, which equals the fit of the block- and ion-averaged curve ``msd``
    (the least-squares slope is linear in the data). ``D_err`` is the standard error of the
    mean over blocks, ``std(D_blocks, ddof=1) / sqrt(n_eff)``, with
    ``n_eff = min(n_blocks, 1 + (n_blocks - 1) * stride / window)`` so that overlapping
    blocks are not counted as independent. Blocks should be long compared with the
    correlation time of the displacements (check that ``D_err`` is stable when the window
    doubles). Per-component ``D_dim`` use ``MSD_x / 2`` etc. and the same blocks.

    ``gls=True`` also fits the whole trajectory's all-origin MSD over the same range by
    generalised least squares with the covariance of the MSD of a random walk with
    localisation noise, modelled analytically between every pair of lags and origins
    (Bullerjahn, von Bülow & Hummer, J. Chem. Phys. 153, 024116 (2020)), and tests that model
    against the spread of the per-ion estimates (:func:`hcanalysis.msd_fit.gls_diffusion`):
    ``D_gls`` with ``D_gls_ci95``.

    The non-Gaussian parameter ``α2(τ) = d <Δr⁴> / ((d + 2) <Δr²>²) - 1`` (``3/5`` for
    ``d = 3``) and the self van Hove histograms use every ion and every ``origin_stride``-th
    time origin of the whole trajectory (not the blocks), by direct summation at the lags
    asked for.
    """
    pos = _as_positions(positions)
    n_frames = pos.shape[0]
    if window is None:
        window = n_frames // 5 if n_frames >= 20 else n_frames
    bounds = window_bounds(n_frames, window, stride)
    length = int(bounds[0, 1] - bounds[0, 0])
    stride_eff = int(bounds[1, 0] - bounds[0, 0]) if len(bounds) > 1 else length
    max_lag = _lag_range(length, max_lag, max(1, length // 2))
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
    msd = block.mean(axis=0)
    fr = resolve_fit(fit, dt_ps, max_lag, msd, fit_ps=fit_ps, tol=slope_tol, min_span=min_span)
    if fr.found:
        lo, hi = fr.lo, fr.hi
        fb = fit_msd(block, dt_ps, (lo, hi), nd)
        fdim = fit_msd(block_dim, dt_ps, (lo, hi), 1)  # (n_windows, nd)
        fm = fit_msd(msd, dt_ps, (lo, hi), nd)
        alpha = float(fm.alpha)
        gres = _gls(pos, fr, dt_ps, dims, nd, be, max_memory, dr) if gls else None
    else:  # no diffusive range: no D; α from the end of the ballistic regime to max_lag
        lo, hi = -1, -1
        nan_b = np.full(nb, np.nan)
        fb = LineFit(D=nan_b, intercept=nan_b, alpha=nan_b, r2=nan_b)
        fdim = LineFit(D=np.full((nb, nd), np.nan), intercept=None, alpha=None, r2=None)
        fm = LineFit(D=np.nan, intercept=np.nan, alpha=np.nan, r2=np.nan)
        a_lo = min(ballistic_end(fr), max(max_lag - 1, 1))
        alpha = float(fit_msd(msd, dt_ps, (a_lo, max_lag), nd).alpha) if max_lag > a_lo \
            else float("nan")
        gres = None

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
        alpha=alpha,
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
        range=fr,
        gls=gres,
    )


def _gls(pos, fr: FitRange, dt_ps: float, dims: str, nd: int, be: str,
         max_memory: int | None, dr) -> GLSResult | None:
    """GLS D over ``fr`` from the whole trajectory's per-ion all-origin MSD (ions streamed in
    chunks; only the fitted lags are kept)."""
    lags = gls_lags(fr.lo, fr.hi)
    if len(lags) < 3:
        return None
    n_ions = pos.shape[1]
    step = max(1, min(n_ions, DIFFUSION_CHUNK_BYTES // max((fr.hi + 1) * 8, 1)))
    per = np.empty((n_ions, len(lags)))
    for i0 in range(0, n_ions, step):
        c = _k.msd_windows(pos[:, i0 : i0 + step], np.array([0]), pos.shape[0], fr.hi,
                           dims=dims, backend=be, max_memory=max_memory, drift=dr)
        per[i0 : i0 + step] = c[:, 0, lags]
    return gls_diffusion(per, lags, dt_ps, pos.shape[0], n_dims=nd)


__all__ = [
    "A2_PS_TO_CM2_S",
    "Diffusion",
    "FitRange",
    "LineFit",
    "WindowFits",
    "WindowedMSD",
    "com_drift",
    "diffusion",
    "find_fit_range",
    "fit_msd",
    "fit_windows",
    "line_fit",
    "log_lags",
    "per_ion",
    "windowed",
]
