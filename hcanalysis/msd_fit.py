"""Where an MSD is diffusive, and the diffusion coefficient with an interval that accounts for
the correlations between lags and time origins.

One rule (:func:`find_fit_range`) chooses the fit range of every D in the package
(:func:`hcanalysis.msd.windowed`, :func:`hcanalysis.msd.diffusion`, the ``msd`` stage of the
descriptor table): the lags where the *local* log-log slope of an ion-averaged MSD,
``α(τ) = d ln MSD / d ln τ``, stays within ``1 ± tol`` over at least a factor ``min_span`` in
lag time, the widest such stretch (past the ballistic regime, α = 2, and the cage, α < 1). When
no stretch qualifies there is no diffusive range: D is NaN with the reason, never a floor.

:func:`gls_diffusion` fits ``MSD = 2 d D τ + b`` over that range by generalised least squares
with the covariance of the all-origin, ion-averaged MSD of a random walk with localisation
noise (Bullerjahn, von Bülow & Hummer, J. Chem. Phys. 153, 024116 (2020)), and checks that
model against the spread between ions (see ``docs/methods.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hcanalysis.deprecation import keyword_only

#: default tolerance on the local log-log slope (|α(τ) - 1| <= tol is diffusive)
SLOPE_TOL = 0.1
#: default minimum extent of a diffusive range, as the ratio of its last to its first lag
MIN_SPAN = 3.0
#: lags per decade of the grid on which the local slope is evaluated
POINTS_PER_DECADE = 12
#: the local slope at a lag τ is the least-squares slope over the grid lags in
#: [τ / sqrt(SMOOTH), τ sqrt(SMOOTH)] (at least the two neighbours)
SMOOTH = 2.0
#: at most this many lags enter the GLS fit (evenly spaced over the range)
GLS_MAX_LAGS = 64


# ------------------------------------------------------------------------------ the rule
@dataclass
class FitRange:
    """A fit range of lags and how it was chosen.

    Attributes
    ----------
    lo, hi : int
        Inclusive range of lags in frames (``-1`` when ``found`` is False).
    dt_ps : float
        Time between frames, ps.
    found : bool
        Whether a diffusive range exists (always True for a range given by the user).
    source : str
        "auto" (found from the data by :func:`find_fit_range`), "ps" or "frames" (given).
    reason : str
        Why no diffusive range exists ("" when found).
    tol, min_span : float
        The rule's parameters.
    grid_lags : (n,) int
        Lags (frames) at which the local slope was evaluated ("auto" only).
    local_slope : (n,) float
        Local log-log slope of the ion-averaged MSD at ``grid_lags``.
    """

    lo: int
    hi: int
    dt_ps: float
    found: bool = True
    source: str = "frames"
    reason: str = ""
    tol: float = SLOPE_TOL
    min_span: float = MIN_SPAN
    grid_lags: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    local_slope: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def lo_ps(self) -> float:
        """First lag of the range, ps (NaN when none)."""
        return self.lo * self.dt_ps if self.found else float("nan")

    @property
    def hi_ps(self) -> float:
        """Last lag of the range, ps (NaN when none)."""
        return self.hi * self.dt_ps if self.found else float("nan")

    @property
    def frames(self) -> tuple[int, int]:
        """``(lo, hi)`` in frames."""
        return (self.lo, self.hi)

    def describe(self) -> str:
        """One line for summaries: the range in ps and frames, or why there is none."""
        if not self.found:
            return f"no diffusive range: {self.reason}"
        how = {"auto": f"local log-log slope within 1 ± {self.tol:g} over >= x{self.min_span:g}",
               "ps": "given in ps", "frames": "given in frames"}[self.source]
        return (f"fit {self.lo_ps:.4g}-{self.hi_ps:.4g} ps (lags {self.lo}-{self.hi} frames; "
                f"{how})")

    def as_dict(self) -> dict:
        """Plain numbers for HDF5 attributes / JSON metadata."""
        return {
            "found": bool(self.found), "fit_ps": [self.lo_ps, self.hi_ps],
            "fit_frames": [int(self.lo), int(self.hi)], "source": self.source,
            "reason": self.reason, "slope_tol": float(self.tol),
            "min_span": float(self.min_span),
        }


def _grid(max_lag: int, per_decade: int = POINTS_PER_DECADE) -> np.ndarray:
    n = max(2, int(np.ceil(per_decade * np.log10(max(max_lag, 2)))) + 1)
    return np.unique(np.round(np.geomspace(1, max_lag, n)).astype(np.int64))


@keyword_only
def local_slope(msd: np.ndarray, *, max_lag: int | None = None,
                smooth: float = SMOOTH) -> tuple[np.ndarray, np.ndarray]:
    """Local log-log slope ``d ln MSD / d ln τ`` of one MSD curve on a log-spaced lag grid.

    Parameters
    ----------
    msd : (n_lags,) float
        MSD at lags ``0..n_lags-1`` frames, Å².
    max_lag : int, optional
        Largest lag used (default ``n_lags - 1``).
    smooth : float
        The slope at τ is the least-squares slope of ``ln MSD`` against ``ln τ`` over the grid
        lags within a factor ``sqrt(smooth)`` of τ (at least the two neighbours).

    Returns
    -------
    grid_lags (n,) int, slope (n,) float (NaN where the MSD is not positive).
    """
    m = np.asarray(msd, dtype=np.float64)
    max_lag = len(m) - 1 if max_lag is None else int(max_lag)
    g = _grid(max_lag)
    y = np.full(len(g), np.nan)
    pos = m[g] > 0
    y[pos] = np.log(m[g][pos])
    x = np.log(g.astype(np.float64))
    half = 0.5 * np.log(smooth)
    out = np.full(len(g), np.nan)
    for j in range(len(g)):
        sel = np.abs(x - x[j]) <= half + 1e-12
        sel[max(j - 1, 0) : j + 2] = True
        xs, ys = x[sel], y[sel]
        if np.isnan(ys).any() or len(xs) < 2:
            continue
        xc = xs - xs.mean()
        out[j] = float(xc @ (ys - ys.mean()) / (xc @ xc))
    return g, out


def find_fit_range(msd: np.ndarray, dt_ps: float, max_lag: int | None = None, *,
                   tol: float = SLOPE_TOL, min_span: float = MIN_SPAN) -> FitRange:
    """The diffusive range of an (ion-averaged) MSD curve: the rule every D here uses.

    The local log-log slope α(τ) (:func:`local_slope`) is evaluated on a log-spaced grid of
    lags (:data:`POINTS_PER_DECADE` per decade). The diffusive range is the widest contiguous
    stretch of grid lags with ``|α(τ) - 1| <= tol`` (a single grid lag outside the band
    between two inside it is taken as noise) whose last lag is at least ``min_span`` times
    its first; on a tie the later one. The ballistic regime (α near 2) and a cage (α < 1)
    fall outside the band; the brief passage of α through 1 between them spans much less
    than ``min_span`` and is rejected.

    Parameters
    ----------
    msd : (n_lags,) float
        MSD at lags ``0..n_lags-1`` frames, Å² (average over ions and windows).
    dt_ps : float
        Time between frames, ps.
    max_lag : int, optional
        Largest lag considered, frames (default ``n_lags - 1``).
    tol : float
        Tolerance on the local slope.
    min_span : float
        Minimum ratio of the range's last to first lag.

    Returns
    -------
    FitRange
        ``found=False`` with the reason when no stretch qualifies.
    """
    m = np.asarray(msd, dtype=np.float64)
    max_lag = len(m) - 1 if max_lag is None else int(max_lag)
    base = {"dt_ps": float(dt_ps), "source": "auto", "tol": float(tol),
            "min_span": float(min_span)}
    if max_lag < 2:
        return FitRange(-1, -1, found=False, reason=f"{max_lag} lag(s) only", **base)
    if not np.isfinite(m[1 : max_lag + 1]).all():
        return FitRange(-1, -1, found=False, reason="the MSD has non-finite values", **base)
    g, a = local_slope(m, max_lag=max_lag)
    base.update(grid_lags=g, local_slope=a)
    ok = np.abs(a - 1.0) <= tol  # NaN -> False
    # a single grid lag outside the band between two inside it is noise, not a regime
    gap = np.zeros_like(ok)
    gap[1:-1] = ~ok[1:-1] & ok[:-2] & ok[2:] & np.isfinite(a[1:-1])
    inside = ok | gap
    runs = []
    j = 0
    while j < len(g):
        if inside[j]:
            k = j
            while k + 1 < len(g) and inside[k + 1]:
                k += 1
            runs.append((j, k))
            j = k + 1
        else:
            j += 1
    good = [(j, k) for j, k in runs if g[k] >= min_span * g[j]]
    if good:  # the widest (ratio of last to first lag); the later one on a tie
        j, k = max(good, key=lambda r: (g[r[1]] / g[r[0]], r[0]))
        return FitRange(int(g[j]), int(g[k]), **base)
    dt = float(dt_ps)
    if not runs:
        fin = a[np.isfinite(a)]
        span = f"{fin.min():.2f}..{fin.max():.2f}" if fin.size else "undefined"
        reason = (f"local log-log slope never within 1 ± {tol:g} up to {max_lag * dt:.4g} ps "
                  f"(it spans {span})")
    else:
        best = max(runs, key=lambda r: g[r[1]] / g[r[0]])
        reason = (f"local log-log slope within 1 ± {tol:g} only over "
                  f"{g[best[0]] * dt:.4g}-{g[best[1]] * dt:.4g} ps (x{g[best[1]] / g[best[0]]:.2g}"
                  f" < x{min_span:g}) up to {max_lag * dt:.4g} ps")
    return FitRange(-1, -1, found=False, reason=reason, **base)


def resolve_fit(fit, dt_ps: float, max_lag: int, mean_msd: np.ndarray | None = None, *,
                fit_ps: tuple[float, float] | None = None, tol: float = SLOPE_TOL,
                min_span: float = MIN_SPAN) -> FitRange:
    """The fit range from what the caller gave.

    ``fit`` (frames, inclusive) or ``fit_ps`` (ps, rounded to frames) fix it; ``fit=None`` or
    ``"auto"`` finds it from ``mean_msd`` with :func:`find_fit_range`.
    """
    if fit is not None and fit_ps is not None:
        raise ValueError("give fit (frames) or fit_ps (ps), not both")
    if fit_ps is not None:
        lo_ps, hi_ps = float(fit_ps[0]), float(fit_ps[1])
        lo, hi = int(round(lo_ps / dt_ps)), int(round(hi_ps / dt_ps))
        if not (0 < lo_ps <= hi_ps and 1 <= lo <= hi <= max_lag):
            raise ValueError(
                f"fit_ps=({lo_ps:g}, {hi_ps:g}) must lie within 1..{max_lag} frames = "
                f"{dt_ps:g}..{max_lag * dt_ps:g} ps (frame time {dt_ps:g} ps)"
            )
        return FitRange(lo, hi, float(dt_ps), source="ps", tol=tol, min_span=min_span)
    if fit is None or (isinstance(fit, str) and fit == "auto"):
        if mean_msd is None:
            raise ValueError("an automatic fit range needs the mean MSD curve")
        return find_fit_range(mean_msd, dt_ps, max_lag, tol=tol, min_span=min_span)
    if isinstance(fit, str):
        raise ValueError(f"fit={fit!r}: use 'auto', None, or (lag_lo, lag_hi) in frames")
    lo, hi = (int(fit[0]), int(fit[1]))
    if not 1 <= lo <= hi <= max_lag:
        raise ValueError(
            f"fit=({lo}, {hi}) must satisfy 1 <= lag_lo <= lag_hi <= max_lag={max_lag} (frames)"
        )
    return FitRange(lo, hi, float(dt_ps), source="frames", tol=tol, min_span=min_span)


def ballistic_end(fr: FitRange) -> int:
    """First grid lag (frames) where the local slope has fallen to ``1 + tol`` or below
    (the end of the ballistic regime); 1 when the slope was never evaluated or never falls."""
    a = fr.local_slope
    idx = np.flatnonzero(np.isfinite(a) & (a <= 1.0 + fr.tol))
    return int(fr.grid_lags[idx[0]]) if idx.size else 1


# ------------------------------------------------------------------------------ GLS
@dataclass
class GLSResult:
    """Generalised-least-squares D over a fit range (see :func:`gls_diffusion`).

    Attributes
    ----------
    D, D_err : float
        Å²/ps; ``D_err`` is the standard error used for the interval.
    ci95 : (2,) float
        95 % interval for D, Å²/ps.
    intercept : float
        Å², intercept of the MSD line.
    D_err_model, D_err_ions : float
        Standard error from the random-walk covariance model and from the spread of the
        per-ion estimates (same weights), Å²/ps.
    overdispersion_p : float
        P-value of the ions' spread under the model (chi-square, n_ions - 1 dof); below 0.05
        the ions' spread sets ``D_err``.
    error_source : str
        "model" or "ions".
    fit_lags : (K,) int
        Lags (frames) in the fit.
    n_ions : int
    """

    D: float
    D_err: float
    ci95: np.ndarray
    intercept: float
    D_err_model: float
    D_err_ions: float
    overdispersion_p: float
    error_source: str
    fit_lags: np.ndarray
    n_ions: int


def rw_covariance_terms(n_frames: int, lags: np.ndarray, n_dims: int) -> np.ndarray:
    """Terms of the covariance of the all-origin MSD of one random walk with noise.

    For positions ``x_t = y_t + ε_t`` (``y`` a random walk with per-component step variance
    ``s2``, ``ε`` independent noise of variance ``a2`` per component, Gaussian), the all-origin
    MSD ``M_n`` (``n_frames - n`` origins) has
    ``Cov(M_n, M_m) = s2² T0 + s2 a2 T1 + a2² T2`` with the returned ``T = (T0, T1, T2)``,
    each ``(K, K)``. Derivation: ``Cov(|Δa|², |Δb|²) = 2 d c²`` for Gaussian displacements
    whose components have covariance ``c = s2 ov + a2 e`` (``ov`` shared steps, ``e`` shared
    end points), summed over the pairs of origins by their offset (Bullerjahn et al. 2020,
    Sec. II).
    """
    lags = np.asarray(lags, dtype=np.int64)
    k = len(lags)
    out = np.zeros((3, k, k))
    for i in range(k):
        n = int(lags[i])
        for j in range(i, k):
            m = int(lags[j])
            u = np.arange(-m, n + 1)
            ov = np.clip(np.minimum(n, u + m) - np.maximum(0, u), 0, None).astype(np.float64)
            e = ((u == n - m).astype(np.float64) - (u == n) - (u == -m) + (u == 0))
            cnt = np.clip(np.minimum(n_frames - 1 - n, n_frames - 1 - m - u)
                          - np.maximum(0, -u) + 1, 0, None).astype(np.float64)
            norm = 2.0 * n_dims / ((n_frames - n) * (n_frames - m))
            t = norm * np.array([cnt @ (ov * ov), 2.0 * (cnt @ (ov * e)), cnt @ (e * e)])
            out[:, i, j] = t
            out[:, j, i] = t
    return out


def gls_lags(lo: int, hi: int, max_n: int = GLS_MAX_LAGS) -> np.ndarray:
    """The lags of a GLS fit: every lag of ``lo..hi`` up to ``max_n``, else ``max_n`` evenly
    spaced ones (both ends included)."""
    if hi - lo + 1 <= max_n:
        return np.arange(lo, hi + 1)
    return np.unique(np.round(np.linspace(lo, hi, max_n)).astype(np.int64))


@keyword_only
def gls_diffusion(per_ion_msd: np.ndarray, lags: np.ndarray, dt_ps: float, n_frames: int, *,
                  n_dims: int = 3, terms: np.ndarray | None = None,
                  max_iter: int = 20) -> GLSResult:
    """D by generalised least squares with a random-walk covariance, checked against the ions.

    Parameters
    ----------
    per_ion_msd : (n_ions, K) float
        All-origin MSD of each ion over the whole trajectory at ``lags``, Å².
    lags : (K,) int
        Lags in frames (inside the diffusive range).
    dt_ps : float
        Time between frames, ps.
    n_frames : int
        Frames of the trajectory the MSDs were computed over.
    n_dims : int
        Components in the MSD.
    terms : (3, K, K), optional
        :func:`rw_covariance_terms` for these lags (pass it when fitting many data sets of one
        shape).

    Notes
    -----
    ``y`` = ion mean of the MSD at the lags, ``X = [2 d τ, 1]``; the covariance of ``y`` is
    ``Σ = (s2² T0 + s2 a2 T1 + a2² T2) / n_ions`` with ``s2 = 2 D dt`` and ``a2 = b / (2 d)``
    (``b`` the intercept, 0 if negative) taken from the current estimate; ``β = (Xᵀ Σ⁻¹ X)⁻¹
    Xᵀ Σ⁻¹ y`` is iterated to convergence, ``Var β = (Xᵀ Σ⁻¹ X)⁻¹`` (Bullerjahn, von Bülow &
    Hummer 2020, the GLS estimator with the analytic MSD covariance). Ions are taken as
    independent (as kinisi does). The model assumes Gaussian, uncorrelated steps; the same
    weights applied to each ion's MSD give per-ion estimates ``D_i`` whose spread
    ``std(D_i) / sqrt(n)`` is the model-free error. If the ions scatter more than the model
    allows (chi-square test at 5 %), that error and a t quantile set the interval.
    """
    from scipy import stats

    y_ion = np.asarray(per_ion_msd, dtype=np.float64)
    lags = np.asarray(lags, dtype=np.int64)
    n_ions, k = y_ion.shape
    t = lags * float(dt_ps)
    y = y_ion.mean(axis=0)
    x = np.stack([2.0 * n_dims * t, np.ones(k)], axis=1)
    if terms is None:
        terms = rw_covariance_terms(n_frames, lags, n_dims)
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    if k < 3:
        raise ValueError(f"a GLS fit needs at least 3 lags; got {k}")
    scale = max(float(y.mean()), 1e-300)
    for _ in range(max_iter):
        s2 = max(2.0 * beta[0] * dt_ps, 1e-12 * scale / max(lags.max(), 1))
        a2 = max(beta[1], 0.0) / (2.0 * n_dims)
        cov = (s2 * s2 * terms[0] + s2 * a2 * terms[1] + a2 * a2 * terms[2]) / n_ions
        cs = cov / scale**2
        ci = np.linalg.solve(cs, x)  # Σ⁻¹ X (scaled)
        fisher = x.T @ ci
        new = np.linalg.solve(fisher, ci.T @ y)
        done = np.allclose(new, beta, rtol=1e-9, atol=1e-12 * scale)
        beta = new
        if done:
            break
    cov_beta = np.linalg.inv(fisher) * scale**2
    weights = np.linalg.solve(fisher, ci.T)[0]  # slope = weights @ y
    d = float(beta[0])
    err_model = float(np.sqrt(max(cov_beta[0, 0], 0.0)))
    if n_ions >= 2:
        d_i = y_ion @ weights
        err_ions = float(np.std(d_i, ddof=1) / np.sqrt(n_ions))
        chi2 = (n_ions - 1) * (err_ions / err_model) ** 2 if err_model > 0 else np.inf
        p = float(stats.chi2.sf(chi2, n_ions - 1))
    else:
        err_ions, p = float("nan"), float("nan")
    if np.isfinite(p) and p < 0.05:
        err, source = err_ions, "ions"
        q = float(stats.t.ppf(0.975, n_ions - 1))
    else:
        err, source = err_model, "model"
        q = float(stats.norm.ppf(0.975))
    return GLSResult(
        D=d, D_err=err, ci95=np.array([d - q * err, d + q * err]), intercept=float(beta[1]),
        D_err_model=err_model, D_err_ions=err_ions, overdispersion_p=p,
        error_source=source, fit_lags=lags, n_ions=int(n_ions),
    )


__all__ = [
    "FitRange",
    "GLSResult",
    "MIN_SPAN",
    "SLOPE_TOL",
    "ballistic_end",
    "find_fit_range",
    "gls_diffusion",
    "gls_lags",
    "local_slope",
    "resolve_fit",
    "rw_covariance_terms",
]
