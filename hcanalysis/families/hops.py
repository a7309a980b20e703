"""The hops family: cage jumps per (ion, window)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hcanalysis.analysis import WindowedAnalysis, WindowPlan
from hcanalysis.config import HopsConfig, MSDConfig

_D = HopsConfig()


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


class Hops(WindowedAnalysis):
    """Cage jumps (Candelier, Dauchot & Biroli, PRL 105, 135702 (2010); docs/hops.md) per
    (ion, window): ``hop_rate``, ``hop_length``, ``p_hop_max``, ``path_tortuosity``,
    ``net_displacement``.

    One half-window (ps, default the data's cage time, :func:`hcanalysis.hops.cage_scale`)
    and one threshold (Å², default ``auto_factor`` x the pooled cage size of up to
    :data:`hcanalysis.hops.SCALE_IONS` evenly spaced ions) are fixed before the ions are
    streamed, so every chunk of ions uses the same ones whatever the memory budget.

    Parameters
    ----------
    ions, framework : str or list of str
    half_window_ps : float or "auto"
        Half-window of p_hop, ps.
    half_window : int, optional
        Half-window in frames (overrides ``half_window_ps``).
    threshold : float, "auto" or "per_ion"
        Hop threshold (Å² for p_hop, Å for the displacement rule).
    auto_factor : float
        Multiple of the cage size of the "auto" threshold.
    method : "p_hop" or "displacement"
    remove_drift : str or None
        As :class:`hcanalysis.families.MSD` (the default removes the framework's drift).
    min_separation : int, optional
        Runs above the threshold closer than this are merged, frames
        (:func:`hcanalysis.hops.detect`).
    cage_size : float
        Trapped = no hop and sqrt(MSD plateau) below this, Å (:func:`hcanalysis.hops.per_ion`).
    keep_events : bool
        Also keep every hop event (``events``, ``arrays["events_<column>"]``) and the full
        per-(ion, window) statistics of :func:`hcanalysis.hops.per_ion` (``stats``,
        ``arrays["per_ion_<column>"]``), ions numbered over all ions (``hcanalysis hops``).
    """

    family = "hops"
    columns = ("hop_rate", "hop_length", "p_hop_max", "path_tortuosity", "net_displacement")
    streamed = True
    _min_frames = 5

    def __init__(self, *, ions: str | Sequence[str] = "Na", framework: str | Sequence[str] = "C",
                 half_window_ps: float | str = _D.half_window_ps,
                 half_window: int | None = _D.half_window,
                 threshold: float | str = _D.threshold, auto_factor: float = _D.auto_factor,
                 method: str = _D.method,
                 remove_drift: str | None = MSDConfig.remove_drift,
                 min_separation: int | None = None, cage_size: float = 1.0,
                 keep_events: bool = False) -> None:
        super().__init__(ions=ions, framework=framework)
        self.min_separation = None if min_separation is None else int(min_separation)
        self.cage_size = float(cage_size)
        self.keep_events = bool(keep_events)
        self.events = None
        self.stats = None
        self.half_window_ps = half_window_ps
        self.half_window = half_window
        self.threshold = threshold
        self.auto_factor = float(auto_factor)
        self.method = method
        self.remove_drift = remove_drift
        self.cage_u2 = float("nan")

    @classmethod
    def from_config(cls, cfg) -> Hops:
        """The family as ``hcanalysis analyze`` runs it (an :class:`AnalysisConfig`)."""
        h = cfg.hops
        return cls(ions=cfg.species, framework=cfg.carbon, half_window_ps=h.half_window_ps,
                   half_window=h.half_window, threshold=h.threshold,
                   auto_factor=h.auto_factor, method=h.method,
                   remove_drift=cfg.msd.remove_drift)

    def params(self):
        """The parameters given to ``__init__`` (JSON-serialisable)."""
        p = super().params()
        for k in ("cage_u2", "events", "stats"):
            p.pop(k, None)
        return p

    def drift_species(self) -> str | None:
        """The drift removed from the positions: ``remove_drift``."""
        return self.remove_drift

    def scale_sample(self, plan: WindowPlan) -> np.ndarray:
        """Unwrapped drift-corrected positions of up to ``hops.SCALE_IONS`` evenly spaced
        ions, (n_frames, n, 3) Å: the population sample of the time and length scales."""
        from hcanalysis.hops import SCALE_IONS, scale_ions

        key = ("hops_scale_sample", self.remove_drift)
        if key not in plan.shared:
            plan.shared[key] = plan.ion_positions(scale_ions(plan.n_ions, SCALE_IONS),
                                                  self.remove_drift)
        return plan.shared[key]

    def scale(self, plan: WindowPlan) -> tuple[int, float, str]:
        """Half-window (frames), threshold (NaN for "per_ion") and how they were chosen."""
        from hcanalysis import hops

        limit = (len(plan.frames) - 1) // 2
        sample = None
        if self.half_window is not None:
            half, how = int(self.half_window), f"{int(self.half_window)} frames (given)"
        elif self.half_window_ps != "auto":
            half = max(1, int(round(float(self.half_window_ps) / plan.dt_ps)))
            how = f"{float(self.half_window_ps):g} ps (given)"
        else:
            sample = self.scale_sample(plan)
            sc = hops.cage_scale(sample, plan.dt_ps, max_ions=None)
            half, how = sc.half_window, sc.source
        half = max(2, min(half, limit))
        self.cage_u2 = float("nan")
        if self.threshold == "auto":
            sample = self.scale_sample(plan) if sample is None else sample
            thr, u2 = hops.auto_threshold(sample, half, method=self.method,
                                          auto_factor=self.auto_factor, max_ions=None,
                                          backend=plan.backend)
            self.cage_u2 = float(u2)
            thr_how = (f"threshold {thr:.3g} {'Å²' if self.method == 'p_hop' else 'Å'} = "
                       f"{self.auto_factor:g} x the pooled median of {sample.shape[1]} ions "
                       f"(cage size <u²> = {u2:.3g} Å²)")
        elif self.threshold == "per_ion":
            thr = float("nan")
            thr_how = f"per-ion thresholds ({self.auto_factor:g} x own median)"
        else:
            thr = float(self.threshold)
            thr_how = f"threshold {thr:g} (given)"
        return half, thr, (f"half window {half} frames = {half * plan.dt_ps:.4g} ps ({how}); "
                           f"{thr_how}")

    def _prepare(self, plan: WindowPlan) -> None:
        self._scale = self.scale(plan)
        self._n_events = 0
        self._kept: list = []
        self.values = {c: np.empty((plan.n_ions, plan.n_windows)) for c in self.columns}

    def _accumulate(self, plan: WindowPlan, sl: slice, pos: np.ndarray) -> None:
        from hcanalysis import hops

        half, thr, _how = self._scale
        ph = hops.p_hop(pos, half, backend=plan.backend)
        events = hops.detect(pos, half_window=half,
                             threshold="per_ion" if np.isnan(thr) else thr, method=self.method,
                             auto_factor=self.auto_factor, dt_ps=plan.dt_ps,
                             min_separation=self.min_separation,
                             time_ps=plan.time_ps, backend=plan.backend,
                             p_hop_values=ph if self.method == "p_hop" else None)
        stats = hops.per_ion(pos, events, half_window=half, window=plan.window,
                             stride=plan.stride, cage_size=self.cage_size,
                             p_hop_values=ph).sort_values(["ion", "window"])
        self._n_events += len(events)
        if self.keep_events:  # ions numbered over all ions
            self._kept.append((events.assign(ion=events["ion"] + sl.start),
                               stats.assign(ion=stats["ion"] + sl.start), events.attrs))
        shape = (pos.shape[1], plan.n_windows)
        length = stats["mean_length"].to_numpy(dtype=float)
        v = self.values
        v["hop_rate"][sl] = stats["hop_rate"].to_numpy(dtype=float).reshape(shape)
        v["hop_length"][sl] = np.where(np.isfinite(length), length, 0.0).reshape(shape)
        v["p_hop_max"][sl] = stats["p_hop_max"].to_numpy(dtype=float).reshape(shape)
        v["path_tortuosity"][sl] = stats["tortuosity"].to_numpy(dtype=float).reshape(shape)
        v["net_displacement"][sl] = net_displacement(pos, plan.bounds)

    def _conclude(self, plan: WindowPlan) -> None:
        half, thr, how = self._scale
        self.report = f"{self._n_events} hop events; {how}"
        self.meta.update({"half_window_frames": int(half), "threshold": float(thr),
                          "scale": how,
                          "n_events": int(self._n_events), "remove_drift": self.remove_drift})
        plan.shared.pop(("hops_scale_sample", self.remove_drift), None)
        if self.keep_events:
            self._keep(plan)

    def _keep(self, plan: WindowPlan) -> None:
        import pandas as pd

        kept, self._kept = self._kept, []
        events = pd.concat([k[0] for k in kept], ignore_index=True)
        attrs = dict(kept[0][2])
        attrs["thresholds"] = tuple(t for k in kept for t in k[2]["thresholds"])
        attrs["n_ions"] = plan.n_ions
        events.attrs = attrs
        self.events = events
        self.stats = pd.concat([k[1] for k in kept], ignore_index=True)
        self.arrays.update({f"events_{c}": events[c].to_numpy() for c in events.columns})
        self.arrays.update({f"per_ion_{c}": self.stats[c].to_numpy() for c in self.stats.columns})
        self.arrays["thresholds"] = np.asarray(attrs["thresholds"])
        self.meta["events"] = {k: v for k, v in attrs.items() if k != "thresholds"}
