"""The structure family: coordination, clusters and local carbon per (ion, window)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hcanalysis.analysis import WindowedAnalysis, WindowPlan
from hcanalysis.config import StructureConfig

_D = StructureConfig()

#: Descriptor column -> attribute of :class:`hcanalysis.structure.StructureResult`.
PER_FRAME = {
    "n_NaNa": "n_ion_ion", "n_NaC": "n_ion_c", "cluster_size": "cluster_size",
    "d_NaNa_min": "nearest_ion", "d_NaC_min": "nearest_c",
    "carbon_density": "carbon_density", "sp2_fraction": "sp2_near",
}


class Structure(WindowedAnalysis):
    """Local structure per (ion, window) (docs/structure.md): Na–Na and Na–C coordination
    within cutoffs (default the first minima of the RDFs, reported), the fraction of sampled
    frames with a Na–Na contact, the same-partner persistence (largest fraction of the
    window's sampled frames with one same Na within the cutoff,
    :func:`hcanalysis.structure.partner_persistence`), the Na–Na coordination over its value
    for a random arrangement at the cell's Na density (``nana_enrichment`` = n_NaNa /
    (ρ_Na 4/3 π r_c³)), Na cluster size, nearest distances, carbon mass density and
    sp² fraction within ``density_radius``.

    Sampled at up to ``frames_per_window`` evenly spaced frames of each window (they change
    slowly), by :func:`hcanalysis.structure.analyze`; each column is the NaN-aware mean over
    the window's samples.

    Parameters
    ----------
    ions, framework : str
    cutoff_NaNa, cutoff_NaC : float, optional
        Cutoffs, Å (default: first minimum of the RDF).
    density_radius : float
        Radius of the local carbon density and sp² fraction, Å.
    frames_per_window : int
        Frames sampled per window.
    seed : int
        Seed (cluster membership keys).
    cc_cutoff, r_max, bins, rdf_frames, rings, max_ring
        As :func:`hcanalysis.structure.analyze` (C–C bond cutoff, RDF range and bins, frames
        of the RDFs among the sampled ones, carbon ring counts).

    After :meth:`compute`, ``result`` is the :class:`hcanalysis.structure.StructureResult` of
    the sampled frames (RDFs, cutoffs, per-frame arrays, carbon hybridisation).
    """

    family = "structure"
    columns = ("nana_contact_fraction", "nana_partner_persistence", "nana_enrichment",
               "n_NaNa", "n_NaC", "cluster_size", "d_NaNa_min", "d_NaC_min", "carbon_density",
               "sp2_fraction")

    def __init__(self, *, ions: str | Sequence[str] = "Na", framework: str | Sequence[str] = "C",
                 cutoff_NaNa: float | None = _D.cutoff_NaNa,
                 cutoff_NaC: float | None = _D.cutoff_NaC,
                 density_radius: float = _D.density_radius,
                 frames_per_window: int = _D.frames_per_window, seed: int = 0,
                 cc_cutoff: float = 1.85, r_max: float | None = None, bins: int = 200,
                 rdf_frames: int = 50, rings: bool = False, max_ring: int = 8) -> None:
        super().__init__(ions=ions, framework=framework)
        self.cutoff_NaNa = cutoff_NaNa
        self.cutoff_NaC = cutoff_NaC
        self.density_radius = float(density_radius)
        self.frames_per_window = int(frames_per_window)
        self.seed = int(seed)
        self.cc_cutoff = float(cc_cutoff)
        self.r_max = r_max
        self.bins = int(bins)
        self.rdf_frames = int(rdf_frames)
        self.rings = bool(rings)
        self.max_ring = int(max_ring)
        self.result = None

    @classmethod
    def from_config(cls, cfg) -> Structure:
        """The family as ``hcanalysis analyze`` runs it (an :class:`AnalysisConfig`)."""
        s = cfg.structure
        return cls(ions=cfg.species, framework=cfg.carbon, cutoff_NaNa=s.cutoff_NaNa,
                   cutoff_NaC=s.cutoff_NaC, density_radius=s.density_radius,
                   frames_per_window=s.frames_per_window, seed=cfg.seed)

    def params(self):
        """The parameters given to ``__init__`` (JSON-serialisable)."""
        p = super().params()
        p.pop("result", None)
        return p

    def _run(self, plan: WindowPlan) -> None:
        from hcanalysis import structure

        samples = plan.sample_frames(self.frames_per_window)
        local = np.unique(np.concatenate(samples))
        res = structure.analyze(
            plan.traj, ions=self.ions, framework=self.framework, cutoff_ion_ion=self.cutoff_NaNa,
            cutoff_ion_c=self.cutoff_NaC, density_radius=self.density_radius,
            cc_cutoff=self.cc_cutoff, frames=plan.frames[local], r_max=self.r_max,
            bins=self.bins, rdf_frames=self.rdf_frames, backend=plan.backend, seed=self.seed,
            rings=self.rings, max_ring=self.max_ring)
        self.result = res
        pos_of = {int(f): k for k, f in enumerate(local)}
        rows = [[pos_of[int(f)] for f in fr] for fr in samples]
        # fraction of the sampled frames in which the ion has >= 1 Na within the Na–Na
        # cutoff (a sustained contact is the clustering mode's criterion, docs/modes.md)
        per = {"nana_contact_fraction":
               (np.asarray(res.n_ion_ion, dtype=float) >= 1).astype(float)}
        per.update({c: np.asarray(getattr(res, a), dtype=float) for c, a in PER_FRAME.items()})
        # clustering's criteria (docs/modes.md): one same partner over the window, and more
        # Na–Na neighbours than a random arrangement at the cell's Na density gives (an
        # any-contact fraction is high in any crowded cell)
        rc = float(res.cutoffs["ion-ion"])
        box = np.asarray(plan.traj.box(int(plan.frames[0])), dtype=float)
        volume = abs(float(np.linalg.det(box)))
        ideal = (plan.n_ions - 1) / volume * 4.0 / 3.0 * np.pi * rc**3 if volume > 0 else 0.0
        per["nana_enrichment"] = per["n_NaNa"] / ideal if ideal > 0 else per["n_NaNa"] * np.nan
        na = plan.traj.positions(self.ions, frames=plan.frames[local])
        persistence = structure.partner_persistence(
            na, box, rc, [np.asarray(r, dtype=np.int64) for r in rows], plan.backend).T
        self.values = {}
        for col in self.columns:
            if col == "nana_partner_persistence":
                self.values[col] = persistence
                continue
            w = np.full((plan.n_ions, plan.n_windows), np.nan)
            for k, r in enumerate(rows):
                with np.errstate(invalid="ignore"):
                    block = per[col][r]
                    ok = np.isfinite(block)
                    n = ok.sum(axis=0)
                    w[:, k] = np.where(n > 0, np.where(ok, block, 0.0).sum(axis=0)
                                       / np.maximum(n, 1), np.nan)
            self.values[col] = w
        self.report = ", ".join(f"{k} cutoff {v:.2f} Å ({res.cutoff_source[k]})"
                                for k, v in res.cutoffs.items())
        self.meta["cutoffs"] = {k: float(v) for k, v in res.cutoffs.items()}
        self.meta["sample_frames"] = plan.frames[local].tolist()
        # cluster lifetimes over the sampled frames of each window ([first, last] sample)
        rows_b = np.array([[r[0], r[-1] + 1] for r in rows], dtype=np.int64)
        t = np.asarray(res.time_ps)
        dt = float(np.median(np.diff(t))) if len(t) > 1 else float(plan.dt_ps)
        self.arrays["cluster_lifetime"] = structure.cluster_lifetimes(
            res.cluster_label, rows_b, dt, self.seed).T  # (n_ions, n_windows), ps
        self.arrays["sample_rows"] = rows_b
