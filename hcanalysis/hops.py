"""Hop detection, residence (waiting) times, trapping and concerted hops of ions.

Hard carbon has no site lattice, so hops are found from each ion's own path (DESIGN.md §3,
docs/hops.md):

* :func:`p_hop` — the cage-jump indicator of Candelier, Dauchot & Biroli (PRL 105, 135702,
  2010), O(T) per ion with running sums, NaN in the first and last ``half_window`` frames;
* :func:`cage_scale` — the data's cage time (minimum of the log-slope of the ion-averaged MSD,
  Larini et al., Nature Phys. 4, 42, 2008), the default p_hop half-window in ps, and the
  population's cage size <u²> (Å²) that scales the "auto" threshold;
* :func:`detect` — hop events (runs of the indicator above a threshold), as a table;
* :func:`per_ion` — one row per (ion, window): hop count, rate, lengths, waiting times with the
  censored first / last intervals kept apart, MSD plateau, trapped flag, trajectory tortuosity;
* :func:`waiting_times`, :func:`kaplan_meier` — residence times with censoring;
* :func:`correlated_hops` — fraction of hops made together with a neighbour.

Units: positions Å (unwrapped), times ps, p_hop Å², rates 1/ps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hcanalysis.kernels import hops as _k
from hcanalysis.kernels.backend import resolve_backend
from hcanalysis.kernels.pbc import minimum_image
from hcanalysis.windows import window_bounds

#: Default multiple of the population's cage size <u²> used as the "auto" threshold (Å²).
AUTO_FACTOR = 9.0
#: :func:`cage_scale`: below this minimum MSD log-slope the data has a cage regime.
CAGE_SLOPE = 0.8
#: :func:`cage_scale`: t* is the first lag whose MSD log-slope is within this of its minimum.
MIN_TOLERANCE = 0.1
#: :func:`cage_scale`: half-window (frames) when the data shows no cage regime.
NO_CAGE_FRAMES = 10
#: :func:`cage_scale` and the "auto" threshold use at most this many ions (evenly spaced).
SCALE_IONS = 64
#: The "auto" threshold's median is taken over at most about this many evenly spaced frames.
MEDIAN_SAMPLES = 4096

EVENT_COLUMNS = (
    "ion",
    "frame_start",
    "frame_end",
    "frame_peak",
    "frame_hop",
    "t_start",
    "t_end",
    "t_peak",
    "t_hop",
    "dx",
    "dy",
    "dz",
    "length",
    "p_hop_peak",
    "d_peak",
    "threshold",
)


def _positions(positions: np.ndarray) -> np.ndarray:
    x = np.asarray(positions)
    if x.ndim == 2 and x.shape[1] == 3:
        x = x[:, None, :]
    if x.ndim != 3 or x.shape[2] != 3:
        raise ValueError(
            f"positions must be (n_frames, n_ions, 3) in Å (e.g. traj.positions('Na', "
            f"unwrap=True)), got shape {x.shape}"
        )
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    return np.ascontiguousarray(x)


def _half_window(half_window: int, n_frames: int) -> int:
    w = int(half_window)
    if w < 1:
        raise ValueError(f"half_window={half_window}: must be at least 1 frame")
    if 2 * w + 1 > n_frames:
        raise ValueError(
            f"half_window={w} needs at least {2 * w + 1} frames; the trajectory has "
            f"{n_frames}: use a smaller half_window"
        )
    return w


#: Default dtype of p_hop arrays (see :func:`p_hop`).
P_HOP_DTYPE = np.float32


def p_hop(
    positions: np.ndarray,
    half_window: int,
    *,
    backend: str = "auto",
    dtype: np.dtype | type | str | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """The cage-jump indicator p_hop of every ion at every frame.

    With A = frames [t-w, t] and B = frames [t, t+w] (both inclusive, w+1 frames each,
    w = ``half_window``)::

        p_hop(t) = sqrt( <|r - <r>_B|^2>_A * <|r - <r>_A|^2>_B )

    Computed in O(T) per ion from running sums of r and |r|^2, in float64.

    Parameters
    ----------
    positions : (n_frames, n_ions, 3) float
        Unwrapped positions, Å (``traj.positions("Na", unwrap=True)``).
    half_window : int
        w, frames.
    backend : {"auto", "cpu", "cuda"}
    dtype : {float32, float64}, optional
        Dtype of the result. Default float32 (``hops.P_HOP_DTYPE``), or ``out``'s dtype: the
        float64 result is rounded once at the store (relative error <= 6e-8, far below the
        indicator's own noise; a threshold indicator), which halves the memory and the
        output traffic (2,000 ions x 50,000 frames: 400 MB instead of 800 MB). Pass
        ``np.float64`` for the unrounded values.
    out : (n_ions, n_frames) float32 or float64 array, optional
        Written in place and returned, e.g. the result of a previous call on positions of
        the same shape, or ``np.empty((n_frames, n_ions), dtype).T``; its transpose must be
        C-contiguous. Reusing one buffer for chunks of ions avoids the operating system's
        zeroing of a fresh array's pages on every call.

    Returns
    -------
    (n_ions, n_frames) float32 or float64
        p_hop in Å²; NaN for the first and last ``half_window`` frames, where A or B would
        leave the trajectory. (A transposed view of a frame-major array; ``out`` when given.)
    """
    x = _positions(positions)
    w = _half_window(half_window, x.shape[0])
    if out is None:
        dt = P_HOP_DTYPE if dtype is None else dtype
        return _finite_or_raise(_k.phop(x, w, resolve_backend(backend), dtype=dt), x, w).T
    if not isinstance(out, np.ndarray) or out.ndim != 2:
        raise ValueError("out must be a 2-d (n_ions, n_frames) numpy array")
    if out.shape != (x.shape[1], x.shape[0]):
        raise ValueError(
            f"out has shape {out.shape}; p_hop of these positions is {(x.shape[1], x.shape[0])}"
        )
    if not out.T.flags.c_contiguous:
        raise ValueError(
            "out.T must be C-contiguous: pass a previous result of p_hop or "
            "np.empty((n_frames, n_ions), dtype).T"
        )
    _k.phop(x, w, resolve_backend(backend), dtype=dtype, out=out.T)
    _finite_or_raise(out.T, x, w)
    return out


def _finite_or_raise(frame_major: np.ndarray, x: np.ndarray, w: int) -> np.ndarray:
    """A non-finite position makes NaN (or inf) of the windows that hold it: rather than return an
    ion whose indicator is NaN over 2w + 1 frames (or the whole run), name the position.
    Checked on the result's interior frames (a read of the output, not of the larger input);
    the input is searched only when something is found."""
    inner = frame_major[w: frame_major.shape[0] - w]
    if inner.size and not np.isfinite(inner).all():
        f, i = (int(v[0]) for v in np.nonzero(~np.isfinite(x).all(axis=2)))
        raise ValueError(
            f"positions are not finite at frame {f}, ion {i} ({tuple(x[f, i].tolist())}): "
            "p_hop needs finite unwrapped positions; every window holding that frame would "
            "be NaN. Repair or drop the frame (or the ion) first")
    return frame_major


@dataclass
class CageScale:
    """The time and length scales of caging, from the ion-averaged MSD (:func:`cage_scale`).

    Attributes
    ----------
    half_window : int
        Default p_hop half-window, frames (``round(half_window_ps / dt_ps)``, >= 2).
    half_window_ps : float
        The same in ps: the cage time t* when the data has a cage regime.
    t_cage_ps : float
        t*, the lag of the minimum of Δ(t) = d ln MSD / d ln t (NaN without a cage regime).
    slope_min : float
        Δ(t*), the minimum log-slope.
    u2 : float
        Cage size from the MSD, Å²: half the median over ions of the per-ion MSD at the
        half-window lag (the MSD of a caged ion is 2<u²>; Larini et al. take MSD(t*) as the
        Debye-Waller factor). Reported for comparison with the "auto" threshold's <u²>
        (from the pooled p_hop, :func:`auto_threshold`), which resists hops better.
    source : str
        How the half-window was chosen.
    lags_ps, msd, slope : arrays
        The lags (ps), the ion-averaged MSD (Å²) and Δ at those lags.
    n_ions : int
        Ions used.
    """

    half_window: int
    half_window_ps: float
    t_cage_ps: float
    slope_min: float
    u2: float
    source: str
    lags_ps: np.ndarray
    msd: np.ndarray
    slope: np.ndarray
    n_ions: int


def scale_ions(n_ions: int, max_ions: int | None) -> np.ndarray:
    if max_ions is None or n_ions <= max_ions:
        return np.arange(n_ions)
    return np.unique(np.linspace(0, n_ions - 1, int(max_ions)).round().astype(np.int64))


def _msd_at(x: np.ndarray, lag: int) -> np.ndarray:
    """Per-ion MSD at one lag, averaged over every origin (Å², (n_ions,))."""
    d = x[lag:].astype(np.float64) - x[:-lag]
    return np.einsum("tij,tij->i", d, d) / d.shape[0]


def pooled_median(signal: np.ndarray, valid: tuple[int, int],
                  max_samples: int = MEDIAN_SAMPLES) -> float:
    """Median of a frame-major ``(n_frames, n_ions)`` signal pooled over every ion and over at
    most ~``max_samples`` evenly spaced frames of ``valid`` = (start, stop)."""
    seg = np.asarray(signal[valid[0]:valid[1]])
    seg = seg[:: max(1, len(seg) // max_samples)]
    vals = seg[np.isfinite(seg)]
    if vals.size == 0:
        raise ValueError("no defined values of the indicator: the trajectory is too short for "
                         "this half-window")
    return float(np.median(vals))


def displacement(positions: np.ndarray, lag: int, *, backend: str = "auto") -> np.ndarray:
    """The signal of the displacement rule: ``d(t) = |r(t + lag) - r(t)|`` (Å).

    Parameters
    ----------
    positions : (n_frames, n_ions, 3) float
        Unwrapped positions, Å.
    lag : int
        Δ, frames.
    backend : {"auto", "cpu", "cuda"}

    Returns
    -------
    (n_frames, n_ions) float64
        NaN for the last ``lag`` frames.
    """
    return _k.displacement(positions, int(lag), resolve_backend(backend))


def auto_threshold(positions: np.ndarray, half_window: int, *, method: str = "p_hop",
                   lag: int | None = None, auto_factor: float = AUTO_FACTOR,
                   max_ions: int | None = SCALE_IONS, backend: str = "auto") -> tuple[float, float]:
    """The "auto" threshold of :func:`detect` from a population of ions, and its cage size.

    The population's cage size is <u²> = m / (1 + 1/(w+1)) with m the median of p_hop pooled
    over all ions (at most ``max_ions``, evenly spaced) and frames: for an ion rattling in a
    cage with mean-square amplitude <u²>, p_hop ≈ <u²>(1 + 1/(w+1)), and the pooled median
    ignores the frames near hops as long as they are fewer than half. The threshold is
    ``auto_factor × m`` (Å²) for p_hop, one value for every ion; for the displacement rule
    d_hop = sqrt(``auto_factor`` × the pooled median of d(t)²) (Å), d at lag Δ (default w).

    Returns
    -------
    threshold, u2 : float, float
        Å² (Å for the displacement rule) and Å².
    """
    x = _positions(positions)
    w = _half_window(half_window, x.shape[0])
    xs = np.ascontiguousarray(x[:, scale_ions(x.shape[1], max_ions)])
    be = resolve_backend(backend)
    if method == "p_hop":
        # p_hop in the dtype detection compares against (P_HOP_DTYPE): one compiled kernel
        # (a float64 copy compiled a second, 4 s on a cold machine) and the same values
        ph = _k.phop(xs, w, be, dtype=P_HOP_DTYPE)
        m = pooled_median(_finite_or_raise(ph, xs, w).astype(np.float64), (w, x.shape[0] - w))
        return auto_factor * m, m / (1 + 1 / (w + 1))
    if method == "displacement":
        lag = w if lag is None else int(lag)
        d = _k.displacement(xs, lag, be)
        m2 = pooled_median(np.asarray(d) ** 2, (0, x.shape[0] - lag))
        return float(np.sqrt(auto_factor * m2)), m2 / 2
    raise ValueError(f"method={method!r}: use 'p_hop' or 'displacement'")


def cage_scale(
    positions: np.ndarray,
    dt_ps: float,
    *,
    max_lag: int | None = None,
    n_lags: int = 40,
    max_ions: int | None = SCALE_IONS,
    cage_slope: float = CAGE_SLOPE,
    no_cage_frames: int = NO_CAGE_FRAMES,
) -> CageScale:
    """The data's cage time and cage size: the default p_hop half-window (ps) and the scale of
    the "auto" threshold.

    The ion-averaged all-origin MSD is evaluated at ``n_lags`` log-spaced lags up to
    ``max_lag`` (default a quarter of the frames) and its log-slope Δ(t) = d ln MSD / d ln t
    taken by finite differences (smoothed over 3 lags). Ballistic motion gives Δ = 2, a cage
    makes Δ fall towards 0, hops bring it back to 1. The cage (rattling) time t* follows
    Larini, Ottochian, De Michele & Leporini (Nature Phys. 4, 42, 2008), who take the
    minimum of Δ, with MSD(t*) the Debye-Waller factor. For MSD = 2<u²>(1 − e^(−t/τ)) + 6Dt
    the minimum lies at t* ≈ τ ln(2<u²>/(6Dτ)): a few cage decorrelation times τ, short of
    the residence time. By t* an ion has explored its cage and hops have not yet taken over,
    so t* is the default half-window of p_hop: each half of the window samples the cage
    several times, and a hop shows as the change of cage between the halves (Candelier et
    al., PRL 105, 135702, 2010). Two refinements make this robust on MD data: the minimum
    taken is the first local minimum of Δ below ``cage_slope`` (a later, deeper dip is
    confinement on a larger scale, e.g. within a cluster of connected pores), and, as a deep
    cage gives a flat bottom whose exact minimum noise moves anywhere along it, t* is the
    first lag at which Δ comes within ``MIN_TOLERANCE`` = 0.1 of that minimum: the start of
    the bottom.

    When min Δ >= ``cage_slope`` (default 0.8) the data has no cage regime (e.g. plain
    diffusion, or frames too far apart to resolve the rattling); the half-window is then
    ``no_cage_frames`` frames and ``source`` says so.

    Parameters
    ----------
    positions : (n_frames, n_ions, 3)
        Unwrapped positions, Å.
    dt_ps : float
        Time between frames, ps.
    max_lag : int, optional
        Largest lag, frames (default n_frames // 4, at least 4).
    n_lags : int
    max_ions : int or None
        Ions used (evenly spaced), default 64; None: all.
    cage_slope : float
    no_cage_frames : int

    Returns
    -------
    CageScale
    """
    x = _positions(positions)
    n_frames = x.shape[0]
    if n_frames < 8:
        raise ValueError(f"cage_scale needs at least 8 frames, got {n_frames}")
    dt = float(dt_ps)
    if not dt > 0:
        raise ValueError(f"dt_ps={dt_ps}: must be > 0 (time between frames, ps)")
    ions = scale_ions(x.shape[1], max_ions)
    xs = x[:, ions]
    top = int(max_lag) if max_lag is not None else max(4, n_frames // 4)
    top = max(2, min(top, n_frames - 1))
    lags = np.unique(np.round(np.geomspace(1, top, n_lags)).astype(np.int64))
    per_ion = np.stack([_msd_at(xs, int(k)) for k in lags])  # (n_lags, n_ions)
    mean = per_ion.mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.gradient(np.log(mean), np.log(lags.astype(float)))
    smooth = np.convolve(np.pad(slope, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    ok = np.isfinite(smooth)
    if ok.any() and np.nanmin(smooth) < cage_slope:
        # the first dip of Δ below cage_slope: its first local minimum (a later, deeper dip
        # is confinement on a larger scale, e.g. a cluster of pores) ...
        vals = np.where(ok, smooth, np.inf)
        below = np.flatnonzero(vals < cage_slope)
        kmin = int(below[-1])
        for j in below:
            if j + 1 >= len(vals) or vals[j + 1] > vals[j]:
                kmin = int(j)
                break
        smin = float(vals[kmin])
        # ... and the start of its bottom: the first lag within MIN_TOLERANCE of that minimum
        # (a flat bottom's minimum itself lies anywhere on it, moved by noise)
        k = int(np.flatnonzero(vals[: kmin + 1] <= smin + MIN_TOLERANCE)[0])
        what = (f"start of the first dip of the MSD log-slope: within {MIN_TOLERANCE:g} of "
                f"its local minimum {smin:.2f}")
        w = max(2, int(lags[k]))
        t_cage = float(lags[k] * dt)
        source = f"cage time t* = {t_cage:.4g} ps ({what}; {len(ions)} ions)"
    else:
        w = int(no_cage_frames)
        t_cage, smin = float("nan"), float(np.nanmin(smooth)) if ok.any() else float("nan")
        source = (f"no cage regime (MSD log-slope >= {cage_slope:g} at every lag up to "
                  f"{top * dt:.4g} ps): {w} frames")
    w = min(w, (n_frames - 1) // 2)
    u2 = float(np.median(_msd_at(xs, w)) / 2)
    return CageScale(half_window=w, half_window_ps=w * dt, t_cage_ps=t_cage, slope_min=smin,
                     u2=u2, source=source, lags_ps=lags * dt, msd=mean, slope=smooth,
                     n_ions=len(ions))


def _resolve_half_window(x: np.ndarray, half_window: int | None, half_window_ps: float | None,
                         dt: float) -> tuple[int, str]:
    """Frames of the half-window and how it was chosen."""
    if half_window is not None and half_window_ps is not None:
        raise ValueError("give half_window (frames) or half_window_ps (ps), not both")
    if half_window is not None:
        return int(half_window), f"{int(half_window)} frames (given)"
    if half_window_ps is not None:
        if not float(half_window_ps) > 0:
            raise ValueError(f"half_window_ps={half_window_ps}: must be > 0 ps")
        w = max(1, int(round(float(half_window_ps) / dt)))
        return w, f"{float(half_window_ps):g} ps (given) = {w} frames of {dt:g} ps"
    sc = cage_scale(x, dt)
    return sc.half_window, sc.source


def _runs(mask_col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = np.concatenate(([0], mask_col.astype(np.int8), [0]))
    d = np.diff(m)
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1


def _merge(starts: np.ndarray, ends: np.ndarray, min_sep: int) -> tuple[np.ndarray, np.ndarray]:
    if len(starts) < 2 or min_sep <= 0:
        return starts, ends
    gap = starts[1:] - ends[:-1] - 1
    keep = np.concatenate(([True], gap >= min_sep))
    new_start = starts[keep]
    last = np.concatenate((np.flatnonzero(keep)[1:] - 1, [len(ends) - 1]))
    return new_start, ends[last]


def _column_median(seg: np.ndarray, max_samples: int = MEDIAN_SAMPLES) -> np.ndarray:
    """Median of each column over at most ~``max_samples`` evenly spaced frames (NaN-aware
    only when NaNs are present: np.nanmedian is slow)."""
    seg = seg[:: max(1, len(seg) // max_samples)]
    with np.errstate(all="ignore"):
        if np.isnan(seg).any():
            return np.nanmedian(seg, axis=0)
        return _k.column_median(seg)


def _times(n_frames: int, dt_ps: float, time_ps: np.ndarray | None) -> np.ndarray:
    if time_ps is None:
        return np.arange(n_frames) * float(dt_ps)
    t = np.asarray(time_ps, dtype=np.float64)
    if t.shape != (n_frames,):
        raise ValueError(f"time_ps has {t.size} entries for {n_frames} frames")
    return t


def detect(
    positions: np.ndarray,
    *,
    half_window: int | None = None,
    half_window_ps: float | None = None,
    threshold: str | float = "auto",
    min_separation: int | None = None,
    method: str = "p_hop",
    dt_ps: float = 1.0,
    time_ps: np.ndarray | None = None,
    auto_factor: float = AUTO_FACTOR,
    lag: int | None = None,
    hysteresis: float | None = None,
    backend: str = "auto",
    dtype: np.dtype | type | str | None = None,
    p_hop_values: np.ndarray | None = None,
) -> pd.DataFrame:
    """Find hop events of every ion.

    Parameters
    ----------
    positions : (n_frames, n_ions, 3) float
        Unwrapped positions, Å.
    half_window : int, optional
        w, frames: the half-window of p_hop, and of the two disjoint windows whose mean
        positions give the hop vector (both methods).
    half_window_ps : float, optional
        The same in ps (rounded to whole frames). With neither, the data's cage time
        (:func:`cage_scale`); the choice is in ``df.attrs["half_window_source"]``.
    threshold : "auto", "per_ion" or float
        ``method="p_hop"``: p_c in Å². "auto" (default) = ``auto_factor`` × the median of
        p_hop pooled over all ions and frames, i.e. ``auto_factor`` × <u²>(1 + 1/(w+1)) with
        <u²> the population's mean-square cage amplitude (see :func:`auto_threshold`): one
        value for every ion, so hop rates of different ions are comparable (a hop must move
        an ion by more than sqrt(``auto_factor``) × the typical rms cage amplitude).
        "per_ion" = ``auto_factor`` × each ion's own median p_hop (the former rule: an ion
        that hops often raises its own threshold). ``method="displacement"``: d_hop in Å;
        "auto" = sqrt(``auto_factor`` × pooled median d(t)²), "per_ion" = the same per ion.
    min_separation : int, optional
        Runs above threshold separated by fewer than this many frames are merged into one
        event; default ``half_window``.
    method : {"p_hop", "displacement"}
        ``"displacement"``: d(t) = |r(t+lag) - r(t)| > d_hop, with hysteresis.
    dt_ps : float
        Time between frames, ps (ignored when ``time_ps`` is given).
    time_ps : (n_frames,) float, optional
        Time of each frame, ps.
    auto_factor : float
        Multiplier of the automatic threshold (default 9: a hop must move the ion by more than
        3 × the rms cage amplitude).
    lag : int, optional
        Δ of the displacement rule, frames; default ``half_window``.
    hysteresis : float, optional
        An event starts above ``threshold`` and ends below ``hysteresis × threshold``;
        default 1.0 for p_hop (no hysteresis) and 0.5 for the displacement rule.
    backend : {"auto", "cpu", "cuda"}
    dtype : {float32, float64}, optional
        Dtype of the p_hop signal the events are found on (default float32, as
        :func:`p_hop`; ``p_hop_peak`` and the "auto" thresholds are then float32 values).
    p_hop_values : (n_ions, n_frames) float, optional
        ``p_hop(positions, half_window)`` when the caller already has it (``method="p_hop"``):
        used as the signal instead of computing it again.

    Returns
    -------
    pandas.DataFrame
        One row per event, sorted by ion then time, columns :data:`EVENT_COLUMNS`:
        ``ion``; ``frame_start``/``frame_end`` (first/last frame above threshold),
        ``frame_peak`` (maximum of the indicator), ``frame_hop`` (first frame at the new site:
        the split s maximising |<r>_[s,s+w) - <r>_[s-w,s)|) and the same as times ``t_*`` in
        ps; ``dx, dy, dz`` = <r>_[s,s+w) - <r>_[s-w,s) (Å) and ``length`` its norm;
        ``p_hop_peak`` (Å², NaN for the displacement rule), ``d_peak`` (Å, NaN for p_hop);
        ``threshold`` (the ion's threshold). ``df.attrs`` holds ``thresholds`` (tuple, per ion),
        ``method``, ``half_window`` (frames), ``half_window_ps``, ``half_window_source``,
        ``threshold_rule``, ``u2`` (Å², the population's cage size of the "auto" rule, else
        NaN),
        ``n_frames``, ``n_ions``, ``dt_ps``, ``valid_start`` and ``valid_stop`` (frames where
        the indicator is defined) and the other parameters.
    """
    x = _positions(positions)
    n_frames, n_ions, _ = x.shape
    t = _times(n_frames, dt_ps, time_ps)
    dt = float(np.median(np.diff(t))) if n_frames > 1 else float(dt_ps)
    half_window, w_source = _resolve_half_window(x, half_window, half_window_ps, dt)
    w = _half_window(half_window, n_frames)
    be = resolve_backend(backend)
    min_sep = w if min_separation is None else int(min_separation)
    if method == "p_hop" and p_hop_values is not None:
        pv = np.asarray(p_hop_values)
        if pv.shape != (n_ions, n_frames):
            raise ValueError(f"p_hop_values has shape {pv.shape}: expected (n_ions, n_frames) = "
                             f"{(n_ions, n_frames)}, as returned by p_hop(positions, "
                             f"half_window={w})")
        signal = np.ascontiguousarray(pv.T)  # frame-major (a view for p_hop's own output)
        valid = (w, n_frames - w)
        hyst = 1.0 if hysteresis is None else float(hysteresis)
    elif method == "p_hop":
        signal = _finite_or_raise(
            _k.phop(x, w, be, dtype=P_HOP_DTYPE if dtype is None else dtype), x, w)
        valid = (w, n_frames - w)
        hyst = 1.0 if hysteresis is None else float(hysteresis)
    elif method == "displacement":
        lag = w if lag is None else int(lag)
        if not 1 <= lag < n_frames:
            raise ValueError(f"lag={lag}: must be between 1 and n_frames-1 frames")
        signal = _k.displacement(x, lag, be)
        valid = (0, n_frames - lag)
        hyst = 0.5 if hysteresis is None else float(hysteresis)
    else:
        raise ValueError(f"method={method!r}: use 'p_hop' or 'displacement'")
    if not 0 < hyst <= 1:
        raise ValueError(f"hysteresis={hyst}: must be in (0, 1]")

    u2 = float("nan")
    if isinstance(threshold, str):
        if threshold == "per_ion":
            med = _column_median(signal[valid[0] : valid[1]])
            thr = auto_factor * med if method == "p_hop" else np.sqrt(auto_factor * med**2)
        elif threshold == "auto":
            m = pooled_median(signal, valid)
            if method == "p_hop":
                value, u2 = auto_factor * m, m / (1 + 1 / (w + 1))
            else:
                value, u2 = float(np.sqrt(auto_factor * m**2)), m**2 / 2
            thr = np.full(n_ions, value)
        else:
            raise ValueError(f"threshold={threshold!r}: give 'auto', 'per_ion' or a number")
    else:
        thr = np.full(n_ions, float(threshold))
    thr = np.asarray(thr, dtype=np.float64)
    mask = _k.hysteresis(signal, thr, hyst * thr, be)

    ions, lo, hi = [], [], []
    for i in range(n_ions):
        s, e = _merge(*_runs(mask[:, i]), min_sep)
        ions.append(np.full(len(s), i))
        lo.append(s)
        hi.append(e)
    ions = np.concatenate(ions).astype(np.int64) if ions else np.zeros(0, np.int64)
    lo = np.concatenate(lo).astype(np.int64) if lo else np.zeros(0, np.int64)
    hi = np.concatenate(hi).astype(np.int64) if hi else np.zeros(0, np.int64)
    peak_t, peak_v = _k.event_peaks(signal, ions, lo, hi)
    split, dvec = _k.split_displacements(x, ions, lo, np.minimum(hi + 1, n_frames - w), w)
    df = pd.DataFrame(
        {
            "ion": ions,
            "frame_start": lo,
            "frame_end": hi,
            "frame_peak": peak_t,
            "frame_hop": split,
            "t_start": t[lo],
            "t_end": t[hi],
            "t_peak": t[peak_t],
            "t_hop": t[np.clip(split, 0, n_frames - 1)],
            "dx": dvec[:, 0],
            "dy": dvec[:, 1],
            "dz": dvec[:, 2],
            "length": np.linalg.norm(dvec, axis=1),
            "p_hop_peak": peak_v if method == "p_hop" else np.full(len(ions), np.nan),
            "d_peak": peak_v if method == "displacement" else np.full(len(ions), np.nan),
            "threshold": thr[ions],
        },
        columns=list(EVENT_COLUMNS),
    )
    df.attrs.update(
        method=method,
        half_window=w,
        half_window_ps=w * dt,
        half_window_source=w_source,
        thresholds=tuple(float(v) for v in thr),  # a tuple: pandas compares attrs with ==
        threshold_rule=(threshold if isinstance(threshold, str) else "fixed"),
        u2=u2,
        auto_factor=float(auto_factor),
        hysteresis=hyst,
        lag=(lag if method == "displacement" else None),
        min_separation=min_sep,
        n_frames=n_frames,
        n_ions=n_ions,
        dt_ps=dt,
        valid_start=int(valid[0]),
        valid_stop=int(valid[1]),
    )
    return df


# ---------------------------------------------------------------------------- waiting times
@dataclass
class WaitingTimes:
    """Residence (waiting) times between hops, ps, with censoring kept apart.

    Attributes
    ----------
    complete : (n,) float
        Intervals between consecutive hops of the same ion (uncensored).
    first_censored : (m,) float
        From the start of observation to an ion's first hop (left-censored).
    last_censored : (m,) float
        From an ion's last hop to the end of observation (right-censored).
    no_hop : (k,) float
        Observation spans of ions that never hopped (censored at both ends).
    n_hops : int
    observed_ps : float
        Total observation time summed over ions.
    """

    complete: np.ndarray
    first_censored: np.ndarray
    last_censored: np.ndarray
    no_hop: np.ndarray
    n_hops: int
    observed_ps: float

    @property
    def rate(self) -> float:
        """Hops per ion per ps: n_hops / observed_ps."""
        return self.n_hops / self.observed_ps if self.observed_ps > 0 else float("nan")

    @property
    def residence_mle(self) -> float:
        """Mean residence time (ps), maximum-likelihood for exponential waiting times with
        censoring: total time at risk (every interval, censored or not) / number of hops.
        ``inf`` when no hop was seen."""
        return self.observed_ps / self.n_hops if self.n_hops else float("inf")

    @property
    def mean_complete(self) -> float:
        """Plain mean of the complete intervals (biased short when waits are long compared
        with the observation; reported for comparison)."""
        return float(self.complete.mean()) if self.complete.size else float("nan")


def _observation(
    events: pd.DataFrame, start: int, stop: int
) -> tuple[int, int]:
    a = events.attrs
    return max(start, int(a.get("valid_start", 0))), min(stop, int(a.get("valid_stop", stop)))


def waiting_times(
    events: pd.DataFrame,
    *,
    frames: tuple[int, int] | None = None,
    ions: np.ndarray | None = None,
) -> WaitingTimes:
    """Waiting times between hops from a :func:`detect` table.

    Hops are placed at their ``frame_hop``; observation runs over the frames where the
    indicator is defined (``events.attrs['valid_start']`` to ``valid_stop``), optionally cut
    to ``frames = (start, stop)``. Durations are frame counts × ``dt_ps``.

    Parameters
    ----------
    events : DataFrame from :func:`detect`
    frames : (start, stop), optional
        Only this range of frames ([start, stop)).
    ions : array of int, optional
        Only these ions (default all ``attrs['n_ions']``).
    """
    a = events.attrs
    n_ions = int(a["n_ions"])
    dt = float(a["dt_ps"])
    start, stop = frames if frames is not None else (0, int(a["n_frames"]))
    o0, o1 = _observation(events, int(start), int(stop))
    span = max(o1 - o0, 0)
    ions = np.arange(n_ions) if ions is None else np.asarray(ions)
    hop_f = events["frame_hop"].to_numpy()
    ion_col = events["ion"].to_numpy()
    inside = (hop_f >= o0) & (hop_f < o1)
    comp, first, last, none = [], [], [], []
    n_hops = 0
    for i in ions:
        f = np.sort(hop_f[inside & (ion_col == i)])
        n_hops += len(f)
        if len(f) == 0:
            none.append(span)
            continue
        first.append(f[0] - o0)
        last.append(o1 - f[-1])
        comp.extend(np.diff(f).tolist())
    as_ps = lambda v: np.asarray(v, dtype=np.float64) * dt  # noqa: E731
    return WaitingTimes(
        complete=as_ps(comp),
        first_censored=as_ps(first),
        last_censored=as_ps(last),
        no_hop=as_ps(none),
        n_hops=int(n_hops),
        observed_ps=float(span * len(ions) * dt),
    )


def kaplan_meier(durations: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan–Meier survival function S(t) of waiting times with right censoring.

    Parameters
    ----------
    durations : (n,) float
        Interval lengths, ps.
    observed : (n,) bool
        True for a complete interval (ended by a hop), False for a censored one.

    Returns
    -------
    times, survival : arrays
        Distinct event times and S just after each.
    """
    d = np.asarray(durations, dtype=np.float64)
    e = np.asarray(observed, dtype=bool)
    times = np.unique(d[e])
    surv = np.empty(len(times))
    s = 1.0
    for k, t in enumerate(times):
        at_risk = np.count_nonzero(d >= t)
        deaths = np.count_nonzero((d == t) & e)
        s *= 1.0 - deaths / at_risk
        surv[k] = s
    return times, surv


# ---------------------------------------------------------------------------- per (ion, window)
def msd_plateau(positions: np.ndarray, bounds: np.ndarray, n_lags: int = 4) -> np.ndarray:
    """A simple MSD plateau per ion and window (Å²): the origin-averaged MSD at ``n_lags`` lags
    evenly spread over [W/8, W/4] of each window (W frames), averaged.

    Returns ``(n_ions, n_windows)``.
    """
    x = _positions(positions)
    out = np.empty((x.shape[1], len(bounds)))
    for k, (a, b) in enumerate(np.asarray(bounds)):
        n = int(b - a)
        lags = np.unique(np.linspace(max(n // 8, 1), max(n // 4, 1), n_lags).astype(int))
        lags = lags[lags < n]
        if lags.size == 0:
            out[:, k] = np.nan
            continue
        acc = np.zeros(x.shape[1])
        seg = x[a:b].astype(np.float64)
        for lag in lags:
            d = seg[lag:] - seg[:-lag]
            acc += np.einsum("tij,tij->i", d, d) / d.shape[0]
        out[:, k] = acc / lags.size
    return out


def tortuosity(positions: np.ndarray, half_window: int, bounds: np.ndarray) -> np.ndarray:
    """Trajectory tortuosity per ion and window: the path is coarse-grained to the means over
    consecutive blocks of ``half_window`` frames inside the window; tortuosity = summed length
    of that coarse path / distance between its first and last points (≥ 1; ``inf`` when the
    two coincide; NaN with fewer than two blocks). Returns ``(n_ions, n_windows)``."""
    x = _positions(positions)
    h = int(half_window)
    out = np.full((x.shape[1], len(bounds)), np.nan)
    for k, (a, b) in enumerate(np.asarray(bounds)):
        nb = int(b - a) // h
        if nb < 2:
            continue
        c = x[a : a + nb * h].astype(np.float64).reshape(nb, h, x.shape[1], 3).mean(axis=1)
        path = np.linalg.norm(np.diff(c, axis=0), axis=2).sum(axis=0)
        net = np.linalg.norm(c[-1] - c[0], axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, k] = np.where(net > 0, path / net, np.inf)
    return out


def per_ion(
    positions: np.ndarray,
    events: pd.DataFrame | None = None,
    *,
    half_window: int | None = None,
    window: int | None = None,
    stride: int | None = None,
    cage_size: float = 1.0,
    p_hop_values: np.ndarray | None = None,
    **detect_kwargs,
) -> pd.DataFrame:
    """Hop statistics per ion and window (the windows of :func:`hcanalysis.windows.window_bounds`,
    the same as the windowed MSD).

    Parameters
    ----------
    positions : (n_frames, n_ions, 3)
        Unwrapped positions, Å.
    events : DataFrame, optional
        From :func:`detect`; detected here (with ``half_window`` and ``detect_kwargs``) when
        omitted.
    half_window : int, optional
        Default: the events' half-window.
    window, stride : int, optional
        Window length and stride in frames (default one window of all frames).
    cage_size : float
        Å. Trapped = no hop in the window and sqrt(MSD plateau) < ``cage_size``.
    p_hop_values : (n_ions, n_frames), optional
        p_hop (from :func:`p_hop`) to report its maximum per window.

    Returns
    -------
    pandas.DataFrame
        One row per (ion, window): ``ion, window, frame_start, frame_stop, observed_ps`` (frames
        where the indicator is defined × dt), ``n_hops``, ``hop_rate`` (1/ps),
        ``mean_length``, ``max_length``, ``mean_sq_length`` (Å, Å²), ``n_waits`` and
        ``wait_mean`` (complete intervals, ps), ``wait_first_censored`` and
        ``wait_last_censored`` (ps, NaN without hops), ``residence_mle`` (ps; observed / n_hops,
        inf without hops), ``msd_plateau`` (Å², :func:`msd_plateau`), ``trapped``,
        ``tortuosity`` and ``p_hop_max`` (Å², when given).
    """
    x = _positions(positions)
    n_frames, n_ions, _ = x.shape
    if events is None:
        if half_window is None:
            raise ValueError("give events (from detect) or half_window")
        events = detect(x, half_window=half_window, **detect_kwargs)
    h = int(events.attrs["half_window"] if half_window is None else half_window)
    dt = float(events.attrs["dt_ps"])
    bounds = window_bounds(n_frames, window, stride)
    plateau = msd_plateau(x, bounds)
    tort = tortuosity(x, h, bounds)
    ion_col = events["ion"].to_numpy()
    hop_f = events["frame_hop"].to_numpy()
    length = events["length"].to_numpy()
    rows = []
    for k, (a, b) in enumerate(bounds):
        o0, o1 = _observation(events, int(a), int(b))
        obs = max(o1 - o0, 0) * dt
        inside = (hop_f >= o0) & (hop_f < o1)
        for i in range(n_ions):
            sel = inside & (ion_col == i)
            f = np.sort(hop_f[sel])
            ln = length[sel]
            n = len(f)
            waits = np.diff(f) * dt
            rows.append(
                (
                    i, k, int(a), int(b), obs, n,
                    n / obs if obs > 0 else np.nan,
                    ln.mean() if n else np.nan,
                    ln.max() if n else np.nan,
                    (ln**2).mean() if n else np.nan,
                    len(waits),
                    waits.mean() if len(waits) else np.nan,
                    (f[0] - o0) * dt if n else np.nan,
                    (o1 - f[-1]) * dt if n else np.nan,
                    obs / n if n else np.inf,
                    plateau[i, k],
                    bool(n == 0 and plateau[i, k] < cage_size**2),
                    tort[i, k],
                )
            )
    cols = [
        "ion", "window", "frame_start", "frame_stop", "observed_ps", "n_hops", "hop_rate",
        "mean_length", "max_length", "mean_sq_length", "n_waits", "wait_mean",
        "wait_first_censored", "wait_last_censored", "residence_mle", "msd_plateau", "trapped",
        "tortuosity",
    ]
    df = pd.DataFrame(rows, columns=cols)
    if p_hop_values is not None:
        ph = np.asarray(p_hop_values)
        pmax = np.full((n_ions, len(bounds)), np.nan)
        for k, (a, b) in enumerate(bounds):
            seg = ph[:, a:b]
            ok = np.isfinite(seg).any(axis=1)
            pmax[ok, k] = np.nanmax(seg[ok], axis=1)
        df["p_hop_max"] = pmax.ravel(order="F")[
            (df["window"].to_numpy() * n_ions + df["ion"].to_numpy())
        ]
    df.attrs.update(cage_size=float(cage_size), half_window=h, window=window, stride=stride)
    return df


# ---------------------------------------------------------------------------- correlated hops
@dataclass
class CorrelatedHops:
    """Hops made together with a neighbour.

    Attributes
    ----------
    fraction : float
        Correlated hops / all hops (NaN without hops).
    correlated : (n_events,) bool
        Per event (rows of the events table): a neighbour hopped within the time tolerance.
    partner : (n_events,) int
        The nearest such neighbour's ion index, -1 when none.
    distance : (n_events,) float
        Its minimum-image distance at the hop frame, Å (NaN when none).
    """

    fraction: float
    correlated: np.ndarray
    partner: np.ndarray
    distance: np.ndarray


def correlated_hops(
    events: pd.DataFrame,
    positions: np.ndarray,
    boxes: np.ndarray,
    *,
    cutoff: float = 4.0,
    time_tolerance_ps: float | None = None,
) -> CorrelatedHops:
    """Fraction of hops that happen within a time tolerance of a hop of a neighbour.

    A hop of ion i at frame f (``frame_hop``) is correlated when another ion j hops with
    |t_hop,j - t_hop,i| <= ``time_tolerance_ps`` and the minimum-image distance between i and j
    at frame f is at most ``cutoff``.

    Parameters
    ----------
    events : DataFrame from :func:`detect` (on these positions)
    positions : (n_frames, n_ions, 3)
        Positions of the same ions, Å (wrapped or unwrapped: distances use the minimum image).
    boxes : (3, 3) or (n_frames, 3, 3)
        Cell matrices, rows are cell vectors, Å (triclinic allowed).
    cutoff : float
        Neighbour distance, Å.
    time_tolerance_ps : float, optional
        Default: the half-window in ps.
    """
    x = _positions(positions)
    n_ev = len(events)
    tol = (
        events.attrs["half_window"] * events.attrs["dt_ps"]
        if time_tolerance_ps is None
        else float(time_tolerance_ps)
    )
    box = np.asarray(boxes, dtype=np.float64)
    corr = np.zeros(n_ev, dtype=bool)
    partner = np.full(n_ev, -1, dtype=np.int64)
    dist = np.full(n_ev, np.nan)
    if n_ev == 0:
        return CorrelatedHops(float("nan"), corr, partner, dist)
    t = events["t_hop"].to_numpy()
    ion = events["ion"].to_numpy()
    fr = events["frame_hop"].to_numpy()
    order = np.argsort(t, kind="stable")
    ts = t[order]
    lo = np.searchsorted(ts, t - tol * (1 + 1e-12), side="left")
    hi = np.searchsorted(ts, t + tol * (1 + 1e-12), side="right")
    for e in range(n_ev):
        cand = order[lo[e] : hi[e]]
        others = np.unique(ion[cand][ion[cand] != ion[e]])
        if others.size == 0:
            continue
        f = int(fr[e])
        h = box if box.ndim == 2 else box[f]
        d = minimum_image(x[f, others] - x[f, ion[e]], h)
        r = np.linalg.norm(d, axis=1)
        j = int(np.argmin(r))
        if r[j] <= cutoff:
            corr[e] = True
            partner[e] = int(others[j])
            dist[e] = float(r[j])
    return CorrelatedHops(float(corr.mean()), corr, partner, dist)


__all__ = [
    "displacement",
    "AUTO_FACTOR",
    "EVENT_COLUMNS",
    "CageScale",
    "CorrelatedHops",
    "WaitingTimes",
    "auto_threshold",
    "cage_scale",
    "correlated_hops",
    "detect",
    "kaplan_meier",
    "msd_plateau",
    "p_hop",
    "per_ion",
    "pooled_median",
    "tortuosity",
    "waiting_times",
]
