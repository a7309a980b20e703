"""The MSD family: windowed MSD curves and D, α, MSD at a fixed lag per (ion, window)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hcanalysis.analysis import WindowedAnalysis, WindowPlan
from hcanalysis.config import MSDConfig

_D = MSDConfig()

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


def _log10(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, np.log10(np.where(x > 0, x, 1.0)), np.nan)  # NaN: no floor


class MSD(WindowedAnalysis):
    """Windowed all-origin MSD of every ion and its fits (docs/msd.md).

    Inside each window, ``MSD_i,w(τ)`` for ``τ = 0 .. max_lag`` (FFT algorithm, ions streamed
    in chunks within the memory budget); ``D`` (slope of MSD / 2d over one fit range in ps,
    found from the ion-averaged MSD by :func:`hcanalysis.msd_fit.find_fit_range` unless
    given; NaN without a diffusive range), ``alpha`` (log-log slope), ``msd_lag`` (MSD at
    ``mobility_lag_ps``) and ``msd_plateau`` (MSD at the largest lag); the step
    :func:`hcanalysis.msd.fit_windows` shared with :func:`hcanalysis.msd.windowed`.

    Parameters
    ----------
    ions, framework : str or list of str
        The mobile ions; the framework species.
    max_lag_fraction : float
        Largest lag as a fraction of the window (unless ``max_lag`` is given).
    max_lag : int, optional
        Largest lag, frames.
    fit_ps : (lo, hi), optional
        Fit range of D, ps (default: found from the data).
    fit : (lo, hi), optional
        Fit range of D in frames (instead of ``fit_ps``).
    slope_tol, min_span : float
        The automatic range's tolerance on the local log-log slope and smallest extent.
    mobility_lag_ps : float, optional
        Lag of ``msd_lag``, ps (default: the first lag of the diffusive range, else the
        largest lag).
    alpha_range_ps : (lo, hi), optional
        Range of ``alpha``, ps.
    remove_drift : str or None
        Centre of mass removed from the ions' positions: an element ("C", the framework),
        "species" (the ions), "all", or None (see :meth:`hcanalysis.analysis.WindowPlan.drift`).
    dims : str
        Components ("xyz", "xy", "z", ...).
    system : bool
        Also compute the system-level :func:`hcanalysis.msd.diffusion` (block-averaged and
        GLS D, α2, van Hove) over the same windows and fit range (in ``self.system``).
    n_alpha2_lags : int
        Log-spaced lags of α2 (``system=True``).
    """

    family = "msd"
    columns = ("D", "log_D", "msd_lag", "log_msd_lag", "alpha", "msd_plateau")
    streamed = True
    _min_frames = 4

    def __init__(self, *, ions: str | Sequence[str] = "Na", framework: str | Sequence[str] = "C",
                 max_lag_fraction: float = _D.max_lag_fraction, max_lag: int | None = None,
                 fit_ps: tuple[float, float] | None = _D.fit_ps,
                 fit: tuple[int, int] | None = None, slope_tol: float = _D.slope_tol,
                 min_span: float = _D.min_span, mobility_lag_ps: float | None = _D.mobility_lag_ps,
                 alpha_range_ps: tuple[float, float] | None = _D.alpha_range_ps,
                 remove_drift: str | None = _D.remove_drift, dims: str = "xyz",
                 system: bool = False, n_alpha2_lags: int = 20) -> None:
        super().__init__(ions=ions, framework=framework)
        self.max_lag_fraction = float(max_lag_fraction)
        self.max_lag = None if max_lag is None else int(max_lag)
        self.fit_ps = None if fit_ps is None else tuple(float(v) for v in fit_ps)
        self.fit = None if fit is None else tuple(int(v) for v in fit)
        self.slope_tol = float(slope_tol)
        self.min_span = float(min_span)
        self.mobility_lag_ps = mobility_lag_ps
        self.alpha_range_ps = None if alpha_range_ps is None else tuple(alpha_range_ps)
        self.remove_drift = remove_drift
        self.dims = dims
        self.system = bool(system)
        self.n_alpha2_lags = int(n_alpha2_lags)
        self.fits = None
        self.diffusion = None

    @classmethod
    def from_config(cls, cfg) -> MSD:
        """The family as ``hcanalysis analyze`` runs it (an :class:`AnalysisConfig`)."""
        m = cfg.msd
        return cls(ions=cfg.species, framework=cfg.carbon,
                   max_lag_fraction=m.max_lag_fraction, fit_ps=m.fit_ps, slope_tol=m.slope_tol,
                   min_span=m.min_span, mobility_lag_ps=m.mobility_lag_ps,
                   alpha_range_ps=m.alpha_range_ps, remove_drift=m.remove_drift)

    def params(self) -> dict[str, Any]:
        """The parameters given to ``__init__`` (JSON-serialisable)."""
        p = super().params()
        p.pop("fits", None)
        p.pop("diffusion", None)
        return p

    def drift_species(self) -> str | None:
        """The drift removed from the positions: ``remove_drift``."""
        return self.remove_drift

    def lag_count(self, window: int) -> int:
        """Largest lag in frames for a window of ``window`` frames."""
        if self.max_lag is not None:
            if not 1 <= self.max_lag < window:
                raise ValueError(f"max_lag={self.max_lag}: must be 1..{window - 1} frames "
                                 f"(the window is {window} frames)")
            return self.max_lag
        return max(2, min(window - 1, int(round(self.max_lag_fraction * window))))

    # ------------------------------------------------------------------------ stream
    def _prepare(self, plan: WindowPlan) -> None:
        from hcanalysis.kernels.msd import dims_indices

        self._n_lags = self.lag_count(plan.window) + 1
        self._nd = len(dims_indices(self.dims))
        # the fits use every lag (they equal msd.windowed's exactly, whatever the budget):
        # when all curves fit in a quarter of the budget they are kept, else the stored
        # log-spaced lags are kept and _conclude refits in a second pass over the ion chunks
        self._fit_all = (plan.n_ions * plan.n_windows * self._n_lags * 8
                         <= plan.memory_budget() // 4)
        self._keep = (np.arange(self._n_lags) if self._fit_all
                      else stored_lags(self._n_lags))
        self._curves = np.empty((plan.n_ions, plan.n_windows, len(self._keep)))
        self._window_sum = np.zeros((plan.n_windows, self._n_lags))

    def _accumulate(self, plan: WindowPlan, sl: slice, pos: np.ndarray) -> None:
        from hcanalysis.kernels import msd as _k

        # the kernel sizes its FFT work arrays by half the budget: the chunk's positions and
        # the hops family's arrays hold the other half
        c = _k.msd_windows(pos, plan.bounds[:, 0], plan.window, self._n_lags - 1,
                           dims=self.dims, backend=plan.backend,
                           max_memory=plan.memory_budget() // 2)
        self._window_sum += c.sum(axis=0)
        self._curves[sl] = c[..., self._keep]

    def _conclude(self, plan: WindowPlan) -> None:

        curves, keep = self._curves, self._keep
        dt = plan.dt_ps
        fits = self._fit(curves, keep, dt, plan)
        if not self._fit_all:
            fits = self._refit_all_lags(plan, fits)
        self.fits = fits
        n_ok = int(fits.diffusive.sum())
        text = fits.range.describe()
        if fits.range.found and fits.range.source == "auto":
            text += f"; {n_ok}/{plan.n_windows} windows diffusive"
        text += (f"; α over {fits.alpha_range[0] * dt:.4g}-{fits.alpha_range[1] * dt:.4g} ps; "
                 f"msd_lag at {fits.mobility_lag * dt:.4g} ps")
        if not self._fit_all:
            text += (f" (curves of {self._n_lags} lags over the budget: fits in a second pass "
                     "over the ion chunks)")
        self.report = text
        d = np.asarray(fits.D, dtype=float)
        m = np.asarray(fits.msd_lag, dtype=float)
        self.values = {"D": d, "log_D": _log10(d), "msd_lag": m, "log_msd_lag": _log10(m),
                       "alpha": np.asarray(fits.alpha, dtype=float),
                       "msd_plateau": np.asarray(curves[..., -1], dtype=float),
                       "r2": np.asarray(fits.r2, dtype=float),
                       "intercept": np.asarray(fits.intercept, dtype=float)}
        stored = stored_lags(self._n_lags)
        if len(stored) < len(keep):
            curves = curves[..., np.searchsorted(keep, stored)]
        self.arrays = {"msd": curves, "lags": stored}
        self.meta["msd"] = fits.summary(dt)
        self.meta["remove_drift"] = self.remove_drift
        self.meta["dims"] = self.dims
        del self._curves, self._window_sum
        if self.system:
            self._system(plan)

    def _fit(self, curves: np.ndarray, lags: np.ndarray, dt: float, plan: WindowPlan):
        from hcanalysis import msd

        return msd.fit_windows(
            curves, lags, dt, self._window_sum / plan.n_ions, self._nd, fit=self.fit,
            fit_ps=self.fit_ps, slope_tol=self.slope_tol, min_span=self.min_span,
            mobility_lag_ps=self.mobility_lag_ps, alpha_range_ps=self.alpha_range_ps)

    def _refit_all_lags(self, plan: WindowPlan, fits):
        """The fits over every lag when the curves did not fit in the budget: each ion chunk's
        curves are computed again and fitted (the fit range, the per-window verdicts and the
        lags come from the ion-averaged MSD, which the first pass summed at every lag), so D,
        α and ``msd_lag`` do not depend on ``max_memory``."""
        from hcanalysis.kernels import msd as _k

        all_lags = np.arange(self._n_lags)
        out = {k: np.empty((plan.n_ions, plan.n_windows))
               for k in ("D", "intercept", "r2", "alpha", "msd_lag")}
        for sl, pos in plan.ion_chunks(self.remove_drift):
            c = _k.msd_windows(pos, plan.bounds[:, 0], plan.window, self._n_lags - 1,
                               dims=self.dims, backend=plan.backend,
                               max_memory=plan.memory_budget() // 2)
            del pos
            part = self._fit(c, all_lags, plan.dt_ps, plan)
            for k, arr in out.items():
                arr[sl] = getattr(part, k)
            plan.tick("msd fits", sl.stop, plan.n_ions)
        for k, arr in out.items():
            setattr(fits, k, arr)
        return fits

    def _system(self, plan: WindowPlan) -> None:
        from hcanalysis import msd

        pos = plan.ion_positions(slice(None), self.remove_drift)
        rng = self.fits.range
        try:
            sysd = msd.diffusion(pos, plan.dt_ps, window=plan.window, stride=plan.stride,
                                 max_lag=self._n_lags - 1,
                                 fit=rng.frames if rng.found else None,
                                 slope_tol=self.slope_tol, min_span=self.min_span,
                                 dims=self.dims, n_alpha2_lags=self.n_alpha2_lags,
                                 backend=plan.backend, max_memory=plan.max_memory)
        finally:
            del pos
        if rng.found and rng.source != "frames":
            sysd.range = rng  # report how the range was chosen (auto / ps), not "frames"
        self.diffusion = sysd
        self._store_system(sysd)

    def _store_system(self, sysd) -> None:
        """The system-level results in ``arrays`` (``system_*``, ``fit_*``, ``alpha2*``,
        ``vanhove_*``) and ``meta["system"]`` / ``meta["fit_range"]``, so that
        :meth:`to_h5` saves them (``hcanalysis msd`` writes its file from them)."""
        dt = sysd.dt_ps
        self.arrays.update({
            "system_lags": sysd.lags, "system_lag_ps": sysd.lag_ps, "system_msd": sysd.msd,
            "system_msd_err": sysd.msd_err, "system_msd_dim": sysd.msd_dim,
            "system_D_blocks": sysd.D_blocks, "system_D_dim": sysd.D_dim,
            "system_D_dim_err": sysd.D_dim_err,
            "fit_grid_lag_ps": sysd.range.grid_lags * dt, "fit_local_slope": sysd.range.local_slope,
            "alpha2_lags": sysd.alpha2_lags, "alpha2_lag_ps": sysd.alpha2_lags * dt,
            "alpha2": sysd.alpha2, "vanhove_lags": sysd.vanhove_lags, "vanhove_r": sysd.vanhove_r,
            "vanhove_p": sysd.vanhove_p, "vanhove_gs": sysd.vanhove_gs,
            "vanhove_overflow": sysd.vanhove_overflow,
        })
        system = {"method": sysd.method}
        for name in ("D", "D_err", "D_cm2_s", "D_err_cm2_s", "alpha", "r2", "n_eff", "D_gls",
                     "D_gls_err"):
            system[name] = float(getattr(sysd, name))
        system["D_gls_ci95"] = [float(v) for v in sysd.D_gls_ci95]
        if sysd.gls is not None:
            self.arrays["system_gls_fit_lags"] = sysd.gls.fit_lags
            system["gls_method"] = (
                "generalised least squares over the fit range, whole trajectory, MSD covariance "
                "of a random walk with noise (Bullerjahn et al. 2020); error from the model "
                "unless the per-ion spread rejects it (chi-square, 5 %)")
            system["gls_error_source"] = sysd.gls.error_source
            system["gls_overdispersion_p"] = float(sysd.gls.overdispersion_p)
        self.meta["system"] = system
        self.meta["fit_range"] = sysd.range.as_dict()

    # ---------------------------------------------------------------------- results
    @property
    def lag_ps(self) -> np.ndarray:
        """Lags of the stored curves ``arrays["msd"]``, ps."""
        return np.asarray(self.arrays["lags"]) * self.dt_ps

    def plot(self, ax=None, column: str | None = None):
        """Log-log MSD(τ): up to 20 ions' window-averaged curves in grey, the ion- and
        window-averaged curve, and the fit range; with ``column`` a histogram of that
        descriptor instead. Returns the axes."""
        import matplotlib.pyplot as plt

        if column is not None:
            return super().plot(ax, column)
        self._check_computed()
        if ax is None:
            _fig, ax = plt.subplots(figsize=(5.5, 4))
        t = self.lag_ps[1:]
        curves = np.asarray(self.arrays["msd"])
        n = curves.shape[0]
        for i in np.linspace(0, n - 1, min(n, 20)).astype(int):
            ax.plot(t, curves[i].mean(axis=0)[1:], color="0.75", lw=0.5, zorder=1)
        ax.plot(t, curves.mean(axis=(0, 1))[1:], color="C0", lw=2,
                label=f"{self.ions} mean ({n} ions)", zorder=3)
        rng = self.meta.get("msd", {})
        if rng.get("found"):
            lo, hi = rng["fit_ps"]
            ax.axvspan(lo, hi, color="C2", alpha=0.12, label="fit range")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("τ (ps)")
        ax.set_ylabel("MSD (Å²)")
        ax.legend(fontsize=7, loc="upper left")
        return ax
