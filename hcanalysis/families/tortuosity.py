"""The tortuosity family: local geodesic tortuosity per (ion, window) and the global one."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from hcanalysis.analysis import WindowedAnalysis, WindowPlan
from hcanalysis.config import TortuosityConfig, VoidsConfig
from hcanalysis.families.voids import framework_radii, window_void_maps

_D = TortuosityConfig()
_V = VoidsConfig()


class Tortuosity(WindowedAnalysis):
    """Geodesic tortuosity on the void map (docs/tortuosity.md): per (ion, window)
    ``local_tortuosity`` (geodesic / Euclidean distance averaged over the reachable void
    points of a shell of radius ``shell_radius`` around the ion) and ``shell_reachable``
    (reachable fraction of the shell); and the global tortuosity per cell axis of the first
    void map (``arrays["global_tau"]``, :func:`hcanalysis.tortuosity.global_tortuosity`).

    The estimator (the one of the CLI, the Python API and ``hcanalysis analyze``): the void
    maps of :func:`hcanalysis.families.voids.window_void_maps` (one per window, re-made only
    when the framework moved by more than ``remap_rmsd``; shared with :class:`Voids`), the
    ions' local tortuosity (:func:`hcanalysis.tortuosity.local`) at up to
    ``frames_per_window`` evenly spaced frames of the window (the first frame when 1),
    averaged (NaN-aware).

    Parameters
    ----------
    ions, framework : str or list of str
    shell_radius : float
        Shell radius R, Å.
    frames_per_window : int
        Frames sampled per window.
    max_ratio : float
        Local paths longer than this x R are not followed.
    method : "dijkstra" or "fmm"
    global_max_starts : int
        Global: start points per axis.
    exact : bool
        Global: every start-plane point.
    seed : int
        Seed of the global start-point sample.
    local : bool
        Compute the local tortuosity (else only the global one).
    spacing, carbon_radius, radii, probe, merge_delta, remap_rmsd, map_stride, cache
        The void maps' parameters (as :class:`hcanalysis.families.Voids`).
    """

    family = "tortuosity"
    columns = ("local_tortuosity", "shell_reachable")

    def __init__(self, *, ions: str | Sequence[str] = "Na", framework: str | Sequence[str] = "C",
                 shell_radius: float = _D.shell_radius,
                 frames_per_window: int = _D.frames_per_window, max_ratio: float = 2.0,
                 method: str = "dijkstra", global_max_starts: int = 32, exact: bool = False,
                 seed: int = 0, local: bool = True, spacing: float = _V.spacing,
                 carbon_radius: float = _V.carbon_radius,
                 radii: Mapping[str, float] | None = None, probe: float = _V.probe,
                 merge_delta: float | None = None, remap_rmsd: float = _V.remap_rmsd,
                 map_stride: int | None = _V.map_stride, cache=None) -> None:
        super().__init__(ions=ions, framework=framework)
        self.shell_radius = float(shell_radius)
        self.frames_per_window = int(frames_per_window)
        self.max_ratio = float(max_ratio)
        self.method = method
        self.global_max_starts = int(global_max_starts)
        self.exact = bool(exact)
        self.seed = int(seed)
        self.local = bool(local)
        self.spacing = float(spacing)
        self.carbon_radius = float(carbon_radius)
        self.radii = None if radii is None else {k: float(v) for k, v in dict(radii).items()}
        self.probe = float(probe)
        self.merge_delta = merge_delta
        self.remap_rmsd = float(remap_rmsd)
        self.map_stride = None if map_stride is None else int(map_stride)
        self._cache = cache
        self.maps: list = []
        self.global_result = None
        self.snapped = None

    @classmethod
    def from_config(cls, cfg) -> Tortuosity:
        """The family as ``hcanalysis analyze`` runs it (an :class:`AnalysisConfig`)."""
        t, v = cfg.tortuosity, cfg.voids
        return cls(ions=cfg.species, framework=cfg.carbon, shell_radius=t.shell_radius,
                   frames_per_window=t.frames_per_window, seed=cfg.seed, spacing=v.spacing,
                   carbon_radius=v.carbon_radius, probe=v.probe, remap_rmsd=v.remap_rmsd,
                   map_stride=v.map_stride)

    def params(self):
        """The parameters given to ``__init__`` (JSON-serialisable)."""
        p = super().params()
        for k in ("maps", "global_result", "snapped"):
            p.pop(k, None)
        return p

    def map_radii(self) -> dict[str, float]:
        """Radius per framework species, Å."""
        return framework_radii(self.framework, self.carbon_radius, self.radii)

    def _run(self, plan: WindowPlan) -> None:
        from hcanalysis import tortuosity

        maps, _made = window_void_maps(plan, spacing=self.spacing, radii=self.map_radii(),
                                       probe=self.probe, merge_delta=self.merge_delta,
                                       remap_rmsd=self.remap_rmsd,
                                       map_stride=self.map_stride, cache=self._cache)
        self.maps = maps
        shape = (plan.n_ions, plan.n_windows)
        tau, reach, snap = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
        samples = plan.sample_frames(self.frames_per_window)
        sampled = []
        if self.local:
            n_done, n_total = 0, sum(len(s) for s in samples)
            for k, fr in enumerate(samples):
                t_s, r_s, s_s = [], [], []
                for f in fr:
                    ions = plan.traj.positions(plan.ion_sel, frames=[int(plan.frames[f])])[0]
                    res = tortuosity.local(maps[k], ions, radius=self.shell_radius,
                                           max_ratio=self.max_ratio, method=self.method,
                                           backend=plan.backend, max_memory=plan.max_memory)
                    t_s.append(np.asarray(res.tau, dtype=float))
                    r_s.append(np.asarray(res.reachable, dtype=float))
                    s_s.append(np.asarray(res.snapped, dtype=float))
                    sampled.append(int(plan.frames[f]))
                    n_done += 1
                    plan.tick("tortuosity", n_done, n_total)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: no reachable
                    tau[:, k] = np.nanmean(np.stack(t_s), axis=0)
                    reach[:, k] = np.nanmean(np.stack(r_s), axis=0)
                snap[:, k] = np.mean(np.stack(s_s), axis=0)
        g = tortuosity.global_tortuosity(maps[0], max_starts=self.global_max_starts,
                                         exact=self.exact, seed=self.seed, method=self.method,
                                         backend=plan.backend)
        self.global_result = g
        self.snapped = snap
        self.values = {"local_tortuosity": tau, "shell_reachable": reach}
        self.arrays = {"global_tau": np.asarray(g.tau, dtype=float),
                       "sample_frames": np.asarray(sampled, dtype=np.int64), "snapped": snap,
                       **global_arrays(g)}
        self.report = f"global τ (a, b, c) = {np.round(np.asarray(g.tau, float), 3).tolist()}"
        self.meta["global"] = {k: v for k, v in g.to_dict().items()
                               if not isinstance(v, (list, tuple)) or len(v) <= 3}


def global_arrays(g) -> dict[str, np.ndarray]:
    """The arrays of a :class:`hcanalysis.tortuosity.GlobalTortuosity` beyond ``tau``, as
    ``arrays`` entries (``global_median``, ..., ``global_samples_a``, ``global_starts_a``,
    ...), so that :meth:`Tortuosity.to_h5` saves them."""
    out = {f"global_{k}": np.asarray(getattr(g, k)) for k in (
        "median", "std", "percolates", "start_fraction", "network_fraction", "lengths")}
    for ax, name in enumerate("abc"):
        out[f"global_samples_{name}"] = np.asarray(g.samples[ax])
        out[f"global_starts_{name}"] = np.asarray(g.starts[ax])
    return out
