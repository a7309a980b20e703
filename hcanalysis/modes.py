"""Diffusion-mode discovery that can say "no modes": mixture-ready features, a Gaussian
mixture whose component count must beat a null, stability gating, and names from absolute
physical criteria with their evidence.

Pipeline of :meth:`ModeFinder.fit` (details and the validation in docs/modes.md):

1. **Features** (:class:`ModeFeatures`): one transform per descriptor family. Mobility is
   ``log_msd_lag`` when the table has it, else log10 of ``msd_plateau`` (never the floored
   ``log_D``); hop activity enters as log10 of ``p_hop_max`` (continuous), while the
   zero-inflated ``hop_rate`` and ``hop_length`` are kept out of the mixture and used by the
   names; positive, skewed lengths and volumes are log10-transformed; columns with ties
   (counts, fractions of sampled frames) are dequantised with uniform noise of one
   resolution step (Hunter's "jittering"; point masses would otherwise attract degenerate
   components); pore-level descriptors (one value per pore) stay out; then
   standardisation, and a column nearly collinear (|r| > ``max_corr``) with a
   higher-priority one is left out (at most ``max_dims`` columns; PCA whitening was tried
   and lost real modes, docs/modes.md).
2. **Rows are not independent**: the windows of one ion are correlated. The design effect
   (Kish 1965) deff = 1 + (m − 1) ICC, with m the windows per ion and ICC the intra-ion
   correlation (one-way ANOVA estimator, mean over the mixture columns), gives the
   effective sample size n_eff = n / deff. The BIC of each component count uses it:
   BIC_eff(k) = −2 (n_eff / n) log L_k + p_k log n_eff.
3. **Null test**: a k > 1 answer must beat a reference distribution without modes, the
   column-permuted table (each column's ions shuffled, each ion keeping its windows, within
   each trajectory: the marginals and the intra-ion correlation are kept, the joint
   structure is destroyed; a gap-statistic-style reference, Tibshirani, Walther & Hastie
   2001, with the permutation reference of a Monte Carlo test). The statistic is the
   per-row log-likelihood gain of k components over one (the likelihood-ratio statistic of
   McLachlan 1987); the observed gain must exceed every one of ``null_draws`` permuted gains
   (p ≤ 1/(B + 1)) and their mean by ``null_z`` standard deviations. The test stops early
   at the first permuted gain above the observed one (sequential Monte Carlo p-value,
   Besag & Clifford 1991).
4. **Stability**: refits with other seeds and on bootstrap resamples of ions; the mean
   adjusted Rand index against the fitted labels must reach ``min_stability`` (default
   0.8), else the answer is "unstable" and reported as one mode.
5. **Names** (:func:`name_modes`) from absolute, configurable criteria on each mode's rows
   (:class:`NamingThresholds`), applied in the order clustering, hopping, void trapping,
   caged; a mode that meets none is "unassigned". Each mode stores its evidence: every
   criterion's value, threshold and outcome (``evidence_``).

Selection, null test and stability run on at most ``max_fit_rows`` rows (whole ions drawn at
random); every row is then labelled by the selected mixture. The suite in
``tests/test_modes_planted.py`` measured no loss from this (docs/modes.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture

from hcanalysis.columns import feature_set
from hcanalysis.table import as_frame

HOPPING, CLUSTERING, VOID_TRAPPING, CAGED = "hopping", "clustering", "void trapping", "caged"
UNASSIGNED = "unassigned"
MODE_NAMES = (HOPPING, CLUSTERING, VOID_TRAPPING, CAGED, UNASSIGNED)

#: mobility columns in order of preference (the first present is the mixture's mobility)
MOBILITY = ("log_msd_lag", "msd_lag", "msd_plateau", "log_D")
#: never mixture features (the names use them): pore-level descriptors (one value shared by
#: every ion of a pore: point masses, and a framework's pore sizes are a continuum that a
#: mixture would cut at random; the per-ion wall_distance carries the Na–C signal),
#: zero-inflated (hop rate and length), a
#: ratio or an end-to-end distance that is multimodal within one behaviour (alpha,
#: path_tortuosity, net_displacement: a hopper's displacement is 0, 1 or 2 site spacings),
#: integer counts and fractions (point masses at 0 or 1; their continuous counterparts
#: d_NaNa_min, d_NaC_min carry the Na–Na and Na–C signals), and D (mobility is log MSD)
EXCLUDED = ("hop_rate", "D", "alpha", "path_tortuosity", "net_displacement",
            "n_NaNa", "cluster_size", "nana_contact_fraction", "nana_partner_persistence",
            "nana_enrichment", "pore_radius", "pore_volume", "pores_visited",
            "pore_throats", "n_NaC", "sp2_fraction", "shell_reachable")
#: behaviour columns: what the ion does (mobility, hop activity, distance to its nearest Na
#: partner). Two mixture components are two modes only when one of these separates them
#: (:func:`merge_map`); the other mixture columns describe the ion's surroundings (carbon
#: density, Voronoi volume, Na–C distance, wall distance) and help the mixture fit, but a
#: difference of neighbourhood alone is not a diffusion mode. The wall distance was a
#: behaviour column first: on the planted suite it split the Na of one kind of tetrahedral
#: cluster by where each corner sits in its pore (Ashman's D 3.4; ARI 1.00 -> 0.78),
#: docs/modes.md
BEHAVIOUR = ("log_msd_lag", "msd_lag", "msd_plateau", "log_D", "p_hop_max", "hop_length",
             "d_NaNa_min")
#: Å: a detected hop shorter than this is not a move between sites (the default of
#: NamingThresholds.min_hop_length; the mixture's hop_length column keeps only site hops)
SITE_HOP_LENGTH = 2.0
#: positive, right-skewed descriptors that enter as log10
LOG10 = ("msd_plateau", "msd_lag", "p_hop_max", "d_NaNa_min", "d_NaC_min", "pore_volume",
         "voronoi_volume", "net_displacement", "path_tortuosity", "local_tortuosity")


# ------------------------------------------------------------------------------ features


#: A value further than this many robust spreads (IQR, else standard deviation) from its
#: column's median is not a physical descriptor value (a unit or file error).
OUTLIER_SPREADS = 1e6


def _where(frame: pd.DataFrame, row: int) -> str:
    ids = [f"{k} {int(frame[k].iloc[row])}" for k in ("trajectory", "ion", "window")
           if k in frame.columns]
    return f"row {row}" + (f" ({', '.join(ids)})" if ids else "")


def check_values(frame: pd.DataFrame, cols: list[str]) -> None:
    """Refuse infinite values and absurd outliers in the descriptor columns, naming the row
    and column (NaN is a missing value and is filled; see the module docstring).

    Raises
    ------
    ValueError
    """
    for c in cols:
        v = pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=np.float64)
        inf = np.flatnonzero(np.isinf(v))
        if inf.size:
            raise ValueError(f"descriptor {c!r} is {v[inf[0]]} in {_where(frame, inf[0])}: "
                             "not a value; fix or drop the row")
        fin = v[np.isfinite(v)]
        if fin.size < 2:
            continue
        med = np.median(fin)
        q75, q25 = np.percentile(fin, [75, 25])
        spread = q75 - q25 if q75 > q25 else np.std(fin)
        if spread > 0:
            with np.errstate(over="ignore", invalid="ignore"):
                far = np.flatnonzero(np.abs(v - med) > OUTLIER_SPREADS * spread)
            if far.size:
                raise ValueError(
                    f"descriptor {c!r} is {v[far[0]]:.3g} in {_where(frame, far[0])}, "
                    f"{OUTLIER_SPREADS:.0e} spreads from its median {med:.3g}: not a physical "
                    "value (units? a corrupt row?); fix or drop the row")


@dataclass
class ModeFeatures:
    """The fitted feature transform: columns, per-column transforms, fill values, robust
    scaling and the PCA whitening (see the module docstring)."""

    columns: list[str]
    transforms: dict[str, str]
    fill: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    jitter: np.ndarray  # per column: dequantisation step (0 for continuous columns)

    @staticmethod
    def choose(frame: pd.DataFrame, features) -> tuple[list[str], dict[str, str], list[str]]:
        """Mixture columns and their transforms, and the columns left out (with why)."""
        cols = feature_set(features, list(frame.columns))
        mobility = next((c for c in MOBILITY if c in frame.columns), None)
        chosen, transforms, left = [], {}, []
        for c in cols:
            if c in EXCLUDED:
                left.append(f"{c} (not a mixture feature: used by the names only)")
            elif c in MOBILITY and c != mobility:
                left.append(f"{c} (mobility enters as {mobility})")
            elif c in LOG10:
                chosen.append(c)
                transforms[c] = "log10"
            elif c == "hop_length":
                # site-hop length: the mean detected hop length where it reaches a site
                # spacing (NamingThresholds.min_hop_length), else 0; shorter detected jumps
                # are moves inside a cage or pore (planted suite: names 53/60 -> 59/60,
                # median ARI 0.911 -> 0.993, nulls 34/34, docs/modes.md)
                chosen.append(c)
                transforms[c] = f"site_hop:{SITE_HOP_LENGTH:g}"
            elif c == "alpha":
                chosen.append(c)
                transforms[c] = "clip[-1,2]"
            else:
                chosen.append(c)
                transforms[c] = "identity"
        if mobility is not None and mobility not in chosen and (
                isinstance(features, str)):
            chosen.insert(0, mobility)
            transforms[mobility] = "log10" if mobility in LOG10 else "identity"
        return chosen, transforms, left

    @staticmethod
    def raw(frame: pd.DataFrame, columns: list[str], transforms: dict[str, str]) -> np.ndarray:
        """The transformed columns (NaN where undefined)."""
        out = np.empty((len(frame), len(columns)))
        for j, c in enumerate(columns):
            x = frame[c].to_numpy(dtype=np.float64)
            t = transforms[c]
            if t == "log10":
                with np.errstate(divide="ignore", invalid="ignore"):
                    pos = x[np.isfinite(x) & (x > 0)]
                    tiny = pos.min() if pos.size else 1e-12
                    x = np.log10(np.where(x > 0, x, np.where(np.isfinite(x), tiny, np.nan)))
            elif t.startswith("site_hop:"):
                x = np.where(x >= float(t.split(":")[1]), x, 0.0)
            elif t == "clip[-1,2]":
                x = np.clip(x, -1.0, 2.0)
            out[:, j] = x
        return out

    @classmethod
    def fit(cls, frame: pd.DataFrame, features, max_corr: float = 0.97, max_dims: int = 8,
            rng: np.random.Generator | None = None) -> tuple[ModeFeatures, np.ndarray, list]:
        """Fit the transform on a table; returns it, the scaled matrix and the left-out
        columns with the reason."""
        rng = rng or np.random.default_rng(0)
        cols, transforms, left = cls.choose(frame, features)
        # the features and the columns the names read (pore-level and zero-inflated columns
        # left out of the mixture still decide the names and their evidence)
        check_values(frame, cols + [c for c in _NAMING_COLUMNS
                                    if c in frame.columns and c not in cols])
        x = cls.raw(frame, cols, transforms)
        finite = np.isfinite(x)
        fill = np.array([np.median(x[finite[:, j], j]) if finite[:, j].any() else 0.0
                         for j in range(x.shape[1])])
        x = np.where(finite, x, fill)
        keep = x.std(axis=0) > 0
        left += [f"{c} (constant)" for c, k in zip(cols, keep, strict=True) if not k]
        if not keep.any():
            raise ValueError(f"every descriptor in {cols} is constant: nothing to cluster")
        cols = [c for c, k in zip(cols, keep, strict=True) if k]
        x, fill = x[:, keep], fill[keep]
        # dequantise columns with many ties (counts, fractions of sampled frames)
        step = np.zeros(x.shape[1])
        for j in range(x.shape[1]):
            u = np.unique(x[:, j])
            if len(u) < max(2, len(x) // 4):
                step[j] = float(np.median(np.diff(u))) if len(u) > 1 else 0.0
        x = x + step * (rng.random(x.shape) - 0.5)
        center = x.mean(axis=0)
        scale = x.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        z = (x - center) / scale
        # drop a column nearly collinear (|r| > max_corr) with a higher-priority one: the
        # mixture sees each physical signal once and stays low-dimensional
        order = sorted(range(len(cols)), key=lambda j: _priority(cols[j]))
        r = np.corrcoef(z[:: max(1, len(z) // 5000)].T) if len(cols) > 1 else np.ones((1, 1))
        kept: list[int] = []
        for j in order:
            if len(kept) >= max_dims:
                left.append(f"{cols[j]} (beyond max_dims = {max_dims})")
            elif any(abs(r[j, i]) > max_corr for i in kept):
                i = next(i for i in kept if abs(r[j, i]) > max_corr)
                left.append(f"{cols[j]} (|r| = {abs(r[j, i]):.2f} with {cols[i]})")
            else:
                kept.append(j)
        kept.sort()
        model = cls([cols[j] for j in kept], {cols[j]: transforms[cols[j]] for j in kept},
                    fill[kept], center[kept], scale[kept], step[kept])
        return model, z[:, kept], left

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Scaled coordinates of new rows (no dequantisation noise)."""
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise ValueError(f"the table lacks the fitted descriptor columns {missing}")
        x = self.raw(frame, self.columns, self.transforms)
        x = np.where(np.isfinite(x), x, self.fill)
        return (x - self.center) / self.scale


# ------------------------------------------------------------------------------ names
@dataclass
class NamingThresholds:
    """Absolute criteria of the mode names (docs/modes.md). ``None`` = from the data.

    Attributes
    ----------
    min_hop_fraction : hopping: fraction of the mode's rows with a site hop (>= 1 detected hop
        of mean length >= ``min_hop_length``): most rows
    min_hop_length : Å, a site spacing (Na sites in carbon hosts are >= ~2.5 Å apart; 2 Å
        leaves a margin): shorter detected jumps are moves inside a cage or pore
    min_partner_persistence : clustering: median fraction of the window in which the ion keeps
        one same Na partner within the Na–Na cutoff (``nana_partner_persistence``; the cutoff
        is the first minimum of the data's Na–Na RDF): a cluster-partner lifetime covering
        most of the window, not passing encounters
    min_nana_enrichment : clustering: median Na–Na coordination over its value for a random
        arrangement at the cell's Na density (``nana_enrichment``): twice the random
        expectation. In a crowded cell every Na has neighbours within the cutoff (the any-
        contact fraction is ~1 − exp(−n_random)); a cluster has more than crowding gives
    void_wall_distance : Å, void trapping: median distance to the carbon surface
        (``wall_distance``, else ``d_NaC_min`` − ``carbon_radius``); Na in contact with
        carbon sits at ~0.6–0.9 Å from the 1.7 Å carbon sphere
    void_net_displacement : Å, void trapping: median end-to-end displacement over a window
        must stay below it; None: the pore diameter (2 × the mode's median ``pore_radius``)
        when the table has it, else 10 Å (a large pore of hard carbon)
    max_hop_fraction : void trapping and caged: at most this fraction of rows with a site hop
        (0.5: not most rows, the complement of hopping; a Na wandering in a pore shows
        detected jumps >= 2 Å in 20-45 % of its windows on the planted suite)
    cage_radius : Å, caged: the MSD plateau must be below cage_radius²; None: half the
        median nearest Na–C distance of the whole table (an ion whose RMS excursion stays
        below half its distance to the carbon has not left its cage)
    carbon_radius : Å, carbon sphere radius used for the wall distance from ``d_NaC_min``
    """

    min_hop_fraction: float = 0.5
    min_hop_length: float = SITE_HOP_LENGTH
    min_partner_persistence: float = 0.8
    min_nana_enrichment: float = 2.0
    void_wall_distance: float = 1.2
    void_net_displacement: float | None = None
    max_hop_fraction: float = 0.5
    cage_radius: float | None = None
    carbon_radius: float = 1.7


def _crit(test: str, value: float, op: str, threshold: float, unit: str = "") -> dict:
    ok = bool(np.isfinite(value) and (value >= threshold if op == ">=" else value <= threshold))
    return {"test": test, "value": float(value), "op": op, "threshold": float(threshold),
            "unit": unit, "passed": ok}


def _median(frame: pd.DataFrame, col: str) -> float:
    if col not in frame:
        return float("nan")
    v = frame[col].to_numpy(dtype=float)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else float("nan")


def _mobility_plateau(frame: pd.DataFrame) -> pd.Series | None:
    if "msd_plateau" in frame:
        return frame["msd_plateau"]
    if "msd_lag" in frame:
        return frame["msd_lag"]
    if "log_msd_lag" in frame:
        return 10.0 ** frame["log_msd_lag"]
    return None


def resolve_thresholds(frame: pd.DataFrame, th: NamingThresholds) -> dict:
    """The thresholds with the data-derived defaults filled in (and where each came from)."""
    out = asdict(th)
    src = {k: "set" for k in out}
    if out["cage_radius"] is None:
        d = _median(frame, "d_NaC_min")
        out["cage_radius"] = 0.5 * d if np.isfinite(d) else 1.0
        src["cage_radius"] = ("half the median nearest Na–C distance" if np.isfinite(d)
                              else "1 Å (no d_NaC_min column)")
    if out["void_net_displacement"] is None:
        src["void_net_displacement"] = ("pore diameter of the mode (2 × median pore_radius)"
                                        if "pore_radius" in frame else "10 Å (no pore_radius)")
    out["sources"] = src
    return out


def mode_evidence(rows: pd.DataFrame, th: dict) -> dict[str, list[dict]]:
    """Every naming criterion evaluated on one mode's rows: name -> criteria."""
    ev: dict[str, list[dict]] = {}
    # a "site hop" row: >= 1 detected hop whose mean length reaches a site spacing (shorter
    # detected jumps are excursions inside a cage or a pore, not moves between sites)
    hop = rows["hop_rate"].to_numpy(dtype=float) if "hop_rate" in rows else None
    length = rows["hop_length"].to_numpy(dtype=float) if "hop_length" in rows else None
    if hop is not None and length is not None:
        site = (hop > 0) & (length >= th["min_hop_length"])
        hop_frac = float(np.mean(site))
        hop_len = float(np.median(length[hop > 0])) if np.any(hop > 0) else float("nan")
    else:
        hop_frac = hop_len = float("nan")
    ev[CLUSTERING] = [_crit("median Na–Na partner persistence",
                            _median(rows, "nana_partner_persistence"), ">=",
                            th["min_partner_persistence"]),
                      _crit("median Na–Na coordination / random",
                            _median(rows, "nana_enrichment"), ">=",
                            th["min_nana_enrichment"])]
    ev[HOPPING] = [_crit("fraction of rows with site hops", hop_frac, ">=",
                         th["min_hop_fraction"]),
                   _crit("median hop length", hop_len, ">=", th["min_hop_length"], "Å")]
    if "wall_distance" in rows:
        wall, wall_name = _median(rows, "wall_distance"), "median wall distance"
    else:
        wall = _median(rows, "d_NaC_min") - th["carbon_radius"]
        wall_name = f"median wall distance (d_NaC_min − {th['carbon_radius']:g} Å)"
    net_lim = th["void_net_displacement"]
    if net_lim is None:
        pr = _median(rows, "pore_radius")
        net_lim = 2.0 * pr if np.isfinite(pr) else 10.0
    plateau = _mobility_plateau(rows)
    pl = float(np.nanmedian(plateau.to_numpy(dtype=float))) if plateau is not None \
        else float("nan")
    # void trapping is moving inside a void (an MSD plateau above the cage size, bounded by
    # the pore); an ion that only vibrates is caged wherever it sits (the two are exclusive)
    ev[VOID_TRAPPING] = [
        _crit(wall_name, wall, ">=", th["void_wall_distance"], "Å"),
        _crit("median MSD plateau", pl, ">=", th["cage_radius"] ** 2, "Å²"),
        _crit("median net displacement", _median(rows, "net_displacement"), "<=", net_lim, "Å"),
        _crit("fraction of rows with site hops", hop_frac, "<=", th["max_hop_fraction"]),
    ]
    ev[CAGED] = [
        _crit("median MSD plateau", pl, "<=", th["cage_radius"] ** 2, "Å²"),
        _crit("fraction of rows with site hops", hop_frac, "<=", th["max_hop_fraction"]),
    ]
    return ev


def _describe(crits: list[dict]) -> str:
    return "; ".join(
        f"{c['test']} {c['value']:.3g}{(' ' + c['unit']) if c['unit'] else ''} "
        f"{'≥' if c['op'] == '>=' else '≤'} {c['threshold']:.3g}"
        f"{(' ' + c['unit']) if c['unit'] else ''} {'✓' if c['passed'] else '✗'}"
        for c in crits)


def name_modes(frame: pd.DataFrame, labels: np.ndarray,
               thresholds: NamingThresholds | None = None,
               ) -> tuple[dict[int, str], dict[int, str], dict[int, dict], dict]:
    """Name each mode from absolute criteria on its rows.

    The first name (in the order clustering, hopping, void trapping, caged) whose criteria
    all pass is the mode's name; a mode that passes none is "unassigned". Two modes with the
    same name get the reason (the descriptor in which they differ most).

    Returns
    -------
    names : label -> name
    rules : label -> the criteria of the name, in words, with values and thresholds
    evidence : label -> {name: [criterion dicts]} for every name
    resolved : the thresholds used (data-derived defaults filled in)
    """
    th = resolve_thresholds(frame, thresholds or NamingThresholds())
    names, rules, evidence = {}, {}, {}
    for lab in np.unique(labels):
        lab = int(lab)
        ev = mode_evidence(frame[labels == lab], th)
        evidence[lab] = ev
        for name in (CLUSTERING, HOPPING, VOID_TRAPPING, CAGED):
            if all(c["passed"] for c in ev[name]):
                names[lab], rules[lab] = name, _describe(ev[name])
                break
        else:
            names[lab] = UNASSIGNED
            rules[lab] = "no name's criteria all pass: " + " | ".join(
                f"{n}: {_describe(ev[n])}" for n in (CLUSTERING, HOPPING, VOID_TRAPPING, CAGED))
    numeric = [c for c in frame.columns if c in _NAMING_COLUMNS and c in frame]
    for lab, name in names.items():
        twins = [o for o, n in names.items() if n == name and o != lab]
        if not twins or not numeric:
            continue
        reasons = []
        for o in twins:
            a = frame.loc[labels == lab, numeric].median()
            b = frame.loc[labels == o, numeric].median()
            spread = frame[numeric].std().replace(0, np.nan)
            diff = ((a - b) / spread).abs().dropna()
            if len(diff):
                c = diff.idxmax()
                reasons.append(f"shares the name with mode {o}: differs most in {c} "
                               f"({a[c]:.3g} vs {b[c]:.3g})")
        rules[lab] += " — " + "; ".join(reasons)
    return names, rules, evidence, th


_PRIORITY = ("log_msd_lag", "msd_plateau", "log_D", "p_hop_max", "hop_length", "d_NaNa_min",
             "nana_contact_fraction", "n_NaNa", "cluster_size", "d_NaC_min", "wall_distance",
             "net_displacement", "alpha", "n_NaC", "pore_radius")


def _priority(col: str) -> int:
    return _PRIORITY.index(col) if col in _PRIORITY else len(_PRIORITY)


_NAMING_COLUMNS = ("msd_plateau", "log_msd_lag", "hop_rate", "hop_length", "p_hop_max",
                   "nana_partner_persistence", "nana_enrichment", "n_NaNa", "d_NaNa_min",
                   "d_NaC_min",
                   "wall_distance", "pore_radius", "net_displacement", "alpha")


# ------------------------------------------------------------------------------ UMAP
_UMAP_CACHED = False


def import_umap_cached():
    """Import ``umap`` with Numba's on-disk cache switched on for its (and pynndescent's)
    compiled functions.

    umap-learn compiles most of its Numba functions without ``cache=True``, so every new
    process (every ``hcanalysis analyze``) spent ~7 s compiling them before a map of even 70
    rows; with caching enabled the compiled code is reused (0.1 s for the same map). Only
    functions that have no cache are touched, and any that Numba cannot cache stay as they
    were (the result is unchanged: caching stores the same machine code). The cache sits
    next to umap's sources, or in Numba's user-wide cache folder when those are read-only
    (``NUMBA_CACHE_DIR`` moves it)."""
    global _UMAP_CACHED
    import umap

    if not _UMAP_CACHED:
        import sys

        from numba.core.registry import CPUDispatcher

        for name, mod in list(sys.modules.items()):
            if not name.startswith(("umap", "pynndescent")) or mod is None:
                continue
            for obj in list(vars(mod).values()):
                if isinstance(obj, CPUDispatcher) and \
                        type(obj._cache).__name__ == "NullCache":
                    try:
                        obj.enable_caching()
                    except Exception:  # noqa: BLE001 - uncachable: compile per process
                        pass
        _UMAP_CACHED = True
    return umap


# ------------------------------------------------------------------------------ selection
def block_permute(z: np.ndarray, groups: np.ndarray, strata: np.ndarray,
                  rng: np.random.Generator) -> np.ndarray:
    """Each column's groups (ions) shuffled independently within each stratum (trajectory);
    a group keeps its rows together. Strata whose groups differ in size fall back to row
    shuffles."""
    out = np.empty_like(z)
    for s in np.unique(strata):
        rows = np.flatnonzero(strata == s)
        order = np.argsort(groups[rows], kind="stable")
        rows = rows[order]
        _, counts = np.unique(groups[rows], return_counts=True)
        if np.all(counts == counts[0]):
            blocks = rows.reshape(-1, counts[0])
            for j in range(z.shape[1]):
                out[blocks, j] = z[blocks[rng.permutation(len(blocks))], j]
        else:
            for j in range(z.shape[1]):
                out[rows, j] = z[rng.permutation(rows), j]
    return out


def merge_map(gmm: GaussianMixture, min_separation: float,
              columns: np.ndarray | None = None) -> np.ndarray:
    """Component -> mode: components that no behaviour column separates are one mode.

    Two components are separated when some column of ``columns`` (a boolean mask over the
    mixture columns; default all) has Ashman's D = √2 |μ₁ − μ₂| / √(σ₁² + σ₂²) ≥
    ``min_separation`` (D > 2 is needed for a mixture of two Gaussians to be cleanly
    bimodal; Ashman, Bird & Zepf, *AJ* 108, 2348, 1994). Pairs that are not separated are
    merged transitively (single linkage), in the spirit of Hennig's merging of Gaussian
    mixture components (*ADAC* 4, 3, 2010): a skewed or heavy-tailed population that the
    mixture covers with several overlapping components stays one mode, and so do
    components that differ only in their surroundings (environment columns: carbon density,
    Voronoi volume, ...) and not in what the ions do (:data:`BEHAVIOUR`).
    """
    mu = gmm.means_
    var = gmm.covariances_ if gmm.covariance_type == "diag" else np.array(
        [np.diag(c) for c in gmm.covariances_])
    if columns is not None and np.any(columns):
        mu, var = mu[:, columns], var[:, columns]
    k = len(mu)
    parent = list(range(k))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(k):
        for j in range(i + 1, k):
            d = np.sqrt(2.0) * np.abs(mu[i] - mu[j]) / np.sqrt(var[i] + var[j])
            if d.max() < min_separation:
                parent[find(i)] = find(j)
    roots = [find(i) for i in range(k)]
    _, out = np.unique(roots, return_inverse=True)
    return out


def ion_groups(frame: pd.DataFrame) -> np.ndarray:
    """Group id of each row: one group per (trajectory, ion), else one per row."""
    if "ion" not in frame:
        return np.arange(len(frame))
    keys = [frame["ion"].to_numpy()]
    if "trajectory" in frame:
        keys.insert(0, frame["trajectory"].to_numpy())
    return pd.MultiIndex.from_arrays(keys).factorize()[0] if len(keys) > 1 else \
        pd.factorize(keys[0])[0]


def design_effect(z: np.ndarray, groups: np.ndarray) -> tuple[float, float]:
    """Kish's design effect 1 + (m̄ − 1) ICC and the mean ICC over the columns of ``z``
    (one-way ANOVA estimator of the intra-group correlation, clipped to [0, 1])."""
    g, inv, counts = np.unique(groups, return_inverse=True, return_counts=True)
    n, k = len(z), len(g)
    if k == n or k < 2:
        return 1.0, 0.0
    m0 = (n - np.sum(counts**2) / n) / (k - 1)
    iccs = []
    for j in range(z.shape[1]):
        x = z[:, j]
        means = np.bincount(inv, x) / counts
        ssb = np.sum(counts * (means - x.mean()) ** 2)
        ssw = np.sum((x - means[inv]) ** 2)
        msb, msw = ssb / (k - 1), ssw / max(n - k, 1)
        denom = msb + (m0 - 1) * msw
        iccs.append(float(np.clip((msb - msw) / denom, 0, 1)) if denom > 0 else 0.0)
    icc = float(np.mean(iccs))
    return 1.0 + (n / k - 1.0) * icc, icc


def _n_params(k: int, d: int, cov: str) -> int:
    per = {"full": d * (d + 1) / 2, "diag": d, "spherical": 1}[cov] * k
    if cov == "tied":
        per = d * (d + 1) / 2
    return int(per + k * d + k - 1)


#: Fewest (ion, window) rows a mode search accepts.
MIN_ROWS = 10


class ModeFinder(ClusterMixin, BaseEstimator):
    """Find diffusion modes in a descriptor table, or say there are none.

    Parameters
    ----------
    features : {"all", "dynamic", "structural"} or list of str
        Descriptor columns considered (transforms per family, module docstring).
    n_neighbors, min_dist, n_components : UMAP parameters of the map (``embedding_``).
    cluster_on : "descriptors"
        The mixture is fitted on the whitened descriptors (kept for configuration files).
    embed : bool
        Compute the UMAP map of every row.
    min_modes, max_modes : int
        Range of component counts scanned.
    covariance_type : {"full", "diag"}
        Gaussian-mixture covariance (chosen by the validation suite, docs/modes.md).
    n_init : int
        Mixture restarts per component count.
    max_corr, max_dims : float, int
        A column with |Pearson r| > ``max_corr`` with a higher-priority column is left out
        (0.97: near-duplicates only; at 0.9 the correlation that the modes themselves create
        across a pooled table removed p_hop_max, the column that tells hopping from
        wandering in a pore: planted suite median ARI 0.64 -> 0.86, docs/modes.md)
        (priority: mobility, hop activity, Na–Na, Na–C, displacement, the rest); at most
        ``max_dims`` columns.
    max_fit_rows : int
        Rows (whole ions) used by selection, null test and stability.
    max_embed_rows : int
        Rows the UMAP map is learnt on (at random); the others are placed with its transform.
    bic_tolerance : float
        The smallest k whose effective BIC is within this of the minimum is taken (6:
        "strong" evidence on Kass & Raftery's 1995 scale is needed for more components).
    null_draws, null_z : int, float
        Column-permuted copies of the null test, and the SDs by which the observed gain
        must exceed their mean.
    stability_seeds, stability_bootstraps : int
        Refits with other seeds / on bootstrap resamples of ions.
    min_stability : float
        Mean ARI below which a k > 1 answer is reported as unstable (one mode).
    min_separation : float
        Ashman's D a column must reach between two components for them to be two modes
        (:func:`merge_map`); less and they are merged.
    behaviour_columns : tuple of str
        The columns that can make two components two modes (default :data:`BEHAVIOUR`:
        mobility, hop activity, Na–Na distance); components that differ only in the other
        (environment) columns are merged.
    thresholds : NamingThresholds, optional
        Naming criteria (default :class:`NamingThresholds`).
    random_state : int

    Attributes
    ----------
    labels_ : (n_rows,) int, modes ordered by decreasing mobility (mode 0 the most mobile)
    n_modes_ : int (1: no distinct modes)
    mode_names_ : label -> name from :data:`MODE_NAMES`
    naming_rules_ : label -> the name's criteria in words
    evidence_ : label -> {name: [criterion dicts (test, value, op, threshold, unit, passed)]}
    thresholds_ : the naming thresholds used (data-derived ones filled in) and their sources
    status_ : "modes", "one mode (BIC)", "one mode (null)" or "one mode (unstable)"
    selection_ : the selection record (BIC scan, n_eff, design effect, null test, stability)
    bic_ : n_components -> effective BIC
    stability_ : dict with "ari_seeds", "ari_bootstrap", "mean"
    features_ : mixture columns; ``left_out_`` : columns not used, with the reason
    centroids_, zcentroids_ : per-mode means of the mixture columns (transformed units, and
        z-scores over all rows)
    fractions_ : label -> fraction of rows
    embedding_ : (n_rows, n_components) UMAP map, or None
    """

    def __init__(
        self,
        features: str | list[str] = "all",
        n_neighbors: int = 15,
        min_dist: float = 0.0,
        n_components: int = 2,
        cluster_on: str = "descriptors",
        embed: bool = True,
        min_modes: int = 1,
        max_modes: int = 6,
        covariance_type: str = "diag",
        n_init: int = 4,
        max_corr: float = 0.97,
        max_dims: int = 8,
        max_fit_rows: int = 3000,
        max_embed_rows: int = 3000,
        bic_tolerance: float = 6.0,
        null_draws: int = 9,
        null_z: float = 3.0,
        stability_seeds: int = 2,
        stability_bootstraps: int = 2,
        min_stability: float = 0.8,
        min_separation: float = 2.0,
        behaviour_columns: tuple[str, ...] = BEHAVIOUR,
        thresholds: NamingThresholds | None = None,
        random_state: int = 0,
    ) -> None:
        self.features = features
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.n_components = n_components
        self.cluster_on = cluster_on
        self.embed = embed
        self.min_modes = min_modes
        self.max_modes = max_modes
        self.covariance_type = covariance_type
        self.n_init = n_init
        self.max_corr = max_corr
        self.max_dims = max_dims
        self.max_fit_rows = max_fit_rows
        self.max_embed_rows = max_embed_rows
        self.bic_tolerance = bic_tolerance
        self.null_draws = null_draws
        self.null_z = null_z
        self.stability_seeds = stability_seeds
        self.stability_bootstraps = stability_bootstraps
        self.min_stability = min_stability
        self.min_separation = min_separation
        self.behaviour_columns = behaviour_columns
        self.thresholds = thresholds
        self.random_state = random_state

    # -------------------------------------------------------------- internals
    def _gmm(self, z: np.ndarray, k: int, seed: int) -> GaussianMixture:
        return GaussianMixture(n_components=k, covariance_type=self.covariance_type,
                               n_init=self.n_init, random_state=seed, reg_covar=1e-3,
                               max_iter=200, init_params="k-means++").fit(z)

    def _scan(self, z: np.ndarray, n_eff: float, seed: int):
        n, d = z.shape
        w = n_eff / n
        models, bics = {}, {}
        for k in range(self.min_modes, min(self.max_modes, n - 1) + 1):
            g = self._gmm(z, k, seed)
            ll = g.score(z) * n
            bics[k] = float(-2 * w * ll + _n_params(k, d, self.covariance_type) * np.log(n_eff))
            models[k] = g
        return models, bics

    def _null_test(self, zs, gs, strata, model_k, model_1, rng) -> dict:
        """Monte Carlo test of k components against the column-permuted table.

        Statistic: the per-row log-likelihood gain of the k-component mixture over one
        component (McLachlan 1987). Reference: the same gain on ``null_draws`` copies of the
        table with each column's ions shuffled independently (within each trajectory; an
        ion keeps its windows), which keep every marginal and the intra-ion correlation and
        destroy the joint structure. Passed when the observed gain exceeds every permuted
        gain and their mean by ``null_z`` SDs. Stops at the first permuted gain above the
        observed one (Besag & Clifford 1991)."""
        k = model_k.n_components
        observed = float(model_k.score(zs) - model_1.score(zs))
        gains = []
        for b in range(self.null_draws):
            perm = block_permute(zs, gs, strata, rng)
            seed = self.random_state + 3000 + b
            gains.append(float(self._gmm(perm, k, seed).score(perm)
                               - self._gmm(perm, 1, seed).score(perm)))
            if gains[-1] >= observed:
                break
        g = np.array(gains)
        sd = float(g.std(ddof=1)) if len(g) > 1 else float("nan")
        z = float((observed - g.mean()) / sd) if sd > 0 else float("nan")
        p = (1 + int(np.sum(g >= observed))) / (len(g) + 1)
        passed = bool(len(g) == self.null_draws and np.all(g < observed)
                      and np.isfinite(z) and z >= self.null_z)
        return {"k": int(k), "observed_gain": observed, "null_gains": g.tolist(),
                "p_value": p, "z": z, "passed": passed}

    # -------------------------------------------------------------- API
    def fit(self, X, y=None) -> ModeFinder:  # noqa: N803 (scikit-learn naming)
        """Fit on a descriptor table (DataFrame or DescriptorTable)."""
        frame = as_frame(X)
        self._check_params()
        if len(frame) < MIN_ROWS:
            raise ValueError(f"{len(frame)} rows: at least {MIN_ROWS} (ion, window) rows are "
                             "needed to look for modes")
        if self.cluster_on != "descriptors":
            raise ValueError(f"cluster_on={self.cluster_on!r}: the mixture is fitted on the "
                             "whitened descriptors; use 'descriptors' (docs/modes.md)")
        if self.covariance_type not in ("full", "diag"):
            raise ValueError(f"covariance_type={self.covariance_type!r}: use 'full' or 'diag'")
        rng = np.random.default_rng(self.random_state)
        self.transform_, z, self.left_out_ = ModeFeatures.fit(
            frame, self.features, self.max_corr, self.max_dims, rng)
        self.features_ = list(self.transform_.columns)
        self._behaviour = np.array([c in self.behaviour_columns for c in self.features_])
        groups = ion_groups(frame)
        # selection subsample: whole ions until max_fit_rows
        ug = rng.permutation(np.unique(groups))
        sizes = np.bincount(groups)
        take = ug[np.cumsum(sizes[ug]) <= max(self.max_fit_rows, sizes.max())]
        sub = np.flatnonzero(np.isin(groups, take))
        zs, gs = z[sub], groups[sub]
        deff, icc = design_effect(zs, gs)
        n_eff = max(len(sub) / deff, 2.0)
        models, self.bic_ = self._scan(zs, n_eff, self.random_state)
        best = min(self.bic_.values())
        k_bic = min(k for k, v in self.bic_.items() if v <= best + self.bic_tolerance)
        sel = {"rows": len(frame), "rows_used": len(sub), "ions_used": len(take),
               "design_effect": deff, "icc": icc, "n_eff": n_eff, "k_bic": int(k_bic),
               "bic": self.bic_, "columns": list(self.features_), "null": None,
               "stability": None, "tried": []}
        self.status_ = "one mode (BIC)"
        k = 1
        strata = frame["trajectory"].to_numpy()[sub] if "trajectory" in frame else \
            np.zeros(len(sub), int)
        # the largest k <= k_bic that beats the null and is stable
        for kk in range(int(k_bic), 1, -1):
            null = self._null_test(zs, gs, strata, models[kk], models[1], rng)
            stab = None
            merge = merge_map(models[kk], self.min_separation, self._behaviour)
            if null["passed"]:
                stab = self._stability(zs, gs, merge[models[kk].predict(zs)], kk, rng)
            sel["tried"].append({"k": kk, "null": null, "stability": stab})
            if not null["passed"]:
                self.status_ = "one mode (null)"
                break  # fewer components cannot beat a null that more could not
            if stab["mean"] >= self.min_stability:
                k, self.status_ = kk, "modes"
                sel["merged"] = merge.tolist()
                sel["null"], sel["stability"] = null, stab
                break
            self.status_ = "one mode (unstable)"
            sel["null"], sel["stability"] = null, stab
        gmm = models[k]
        self.stability_ = sel["stability"] or {"ari_seeds": [], "ari_bootstrap": [],
                                               "mean": float("nan")}
        self.selection_ = sel
        self.gmm_ = gmm
        merge = np.asarray(sel.get("merged") or np.zeros(k, int)) if k > 1 else np.zeros(1, int)
        self.merge_ = merge
        raw = merge[gmm.predict(z)]
        k = int(merge.max()) + 1
        if k == 1 and self.status_ == "modes":
            self.status_ = "one mode (merged)"
        sel["status"] = self.status_
        self.n_modes_ = int(k)
        mob = next((c for c in MOBILITY if c in frame.columns), None)
        key = (self.transform_.raw(frame, [mob], {mob: "log10" if mob in LOG10 else "x"})[:, 0]
               if mob else z[:, 0])
        means = [np.nanmean(key[raw == m]) if np.any(raw == m) else -np.inf for m in range(k)]
        order = np.argsort(means)[::-1]
        self.component_to_label_ = {int(c): i for i, c in enumerate(order)}
        self.labels_ = np.array([self.component_to_label_[int(r)] for r in raw], dtype=np.int64)
        self._summarise(frame)
        self.embedding_ = None
        self.umap_ = None
        if self.embed:
            # the map is learnt on at most max_embed_rows rows (whole ions at random) and the
            # others are placed on it with UMAP's transform (bench_modes: the full map of
            # 8,000 rows took ~60 s of a 75 s fit)
            umap = import_umap_cached()
            fit_rows = np.arange(len(z))
            if len(z) > self.max_embed_rows:
                fit_rows = np.sort(rng.choice(len(z), self.max_embed_rows, replace=False))
            self.umap_ = umap.UMAP(
                n_neighbors=min(self.n_neighbors, max(2, len(fit_rows) - 1)),
                min_dist=self.min_dist, n_components=self.n_components,
                random_state=self.random_state, n_jobs=1,
                # below 4,096 rows umap-learn computes all pairwise distances through a
                # Python-called metric (~30 s for 3,000 rows); NN-descent takes < 1 s
                force_approximation_algorithm=len(fit_rows) > 1000)
            emb = np.asarray(self.umap_.fit_transform(z[fit_rows]))
            if len(fit_rows) < len(z):
                full = np.empty((len(z), emb.shape[1]))
                full[fit_rows] = emb
                rest = np.setdiff1d(np.arange(len(z)), fit_rows)
                full[rest] = self.umap_.transform(z[rest])
                emb = full
            self.embedding_ = emb
        return self

    def _stability(self, zs, gs, ref, k: int, rng) -> dict:
        seeds, boots = [], []
        for i in range(self.stability_seeds):
            g = self._gmm(zs, k, self.random_state + 1000 + i)
            seeds.append(float(adjusted_rand_score(
                ref, merge_map(g, self.min_separation, self._behaviour)[g.predict(zs)])))
        ug = np.unique(gs)
        for i in range(self.stability_bootstraps):
            pick = rng.choice(ug, size=len(ug), replace=True)
            idx = np.concatenate([np.flatnonzero(gs == p) for p in pick])
            g = self._gmm(zs[idx], k, self.random_state + 2000 + i)
            boots.append(float(adjusted_rand_score(
                ref, merge_map(g, self.min_separation, self._behaviour)[g.predict(zs)])))
        both = seeds + boots
        return {"ari_seeds": seeds, "ari_bootstrap": boots,
                "mean": float(np.mean(both)) if both else float("nan")}

    def _summarise(self, frame: pd.DataFrame) -> None:
        labs = range(self.n_modes_)
        x = self.transform_.raw(frame, self.features_, self.transform_.transforms)
        x = np.where(np.isfinite(x), x, self.transform_.fill)
        self.centroids_ = pd.DataFrame(
            [x[self.labels_ == m].mean(axis=0) for m in labs], columns=self.features_)
        mean, std = x.mean(axis=0), x.std(axis=0)
        self.zcentroids_ = (self.centroids_ - mean) / np.where(std > 0, std, 1.0)
        self.centroids_.index.name = self.zcentroids_.index.name = "mode"
        self.mode_names_, self.naming_rules_, self.evidence_, self.thresholds_ = name_modes(
            frame, self.labels_, self.thresholds)
        n = len(self.labels_)
        self.fractions_ = {m: float(np.sum(self.labels_ == m)) / n for m in labs}

    def transform(self, X) -> np.ndarray:  # noqa: N803
        """Map new rows onto the fitted UMAP map."""
        if self.umap_ is None:
            raise ValueError("fitted with embed=False: there is no UMAP map")
        return np.asarray(self.umap_.transform(self.transform_.transform(as_frame(X))))

    def _check_params(self) -> None:
        """One-line errors for parameters that cannot work (scikit-learn checks at fit)."""
        for name in ("min_modes", "max_modes"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name}={v!r}: must be an integer >= 1")
        if self.max_modes < self.min_modes:
            raise ValueError(f"max_modes={self.max_modes} < min_modes={self.min_modes}: the "
                             "scanned range of mode counts is empty")

    def predict(self, X) -> np.ndarray:  # noqa: N803
        """Mode label of each row of a table with the fitted descriptor columns."""
        if not hasattr(self, "merge_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this ModeFinder is not fitted yet: call fit(table) first")
        raw = self.merge_[self.gmm_.predict(self.transform_.transform(as_frame(X)))]
        return np.array([self.component_to_label_[int(r)] for r in raw], dtype=np.int64)

    def fit_predict(self, X, y=None) -> np.ndarray:  # noqa: N803
        """Fit and return ``labels_``."""
        return self.fit(X).labels_

    def named_labels(self) -> np.ndarray:
        """The physical mode name of each fitted row."""
        return np.array([self.mode_names_[int(m)] for m in self.labels_])

    def verdict(self) -> str:
        """One line: how many modes and why (null test, stability)."""
        s = self.selection_
        parts = [f"{self.n_modes_} mode(s): {self.status_}",
                 f"BIC (n_eff = {s['n_eff']:.0f} of {s['rows_used']} rows) picked {s['k_bic']}"]
        if s["null"] is not None:
            nl = s["null"]
            parts.append(f"null test (column-permuted) at k = {nl['k']}: p = "
                         f"{nl['p_value']:.2f}, z = {nl['z']:.1f} "
                         f"({'passed' if nl['passed'] else 'not passed'})")
        if s["stability"] is not None:
            parts.append(f"stability ARI {s['stability']['mean']:.2f} "
                         f"(min {self.min_stability:g})")
        return "; ".join(parts)

    def summary(self) -> pd.DataFrame:
        """One row per mode: name, evidence (criteria with values and thresholds), fraction
        and the centroid of the mixture columns."""
        out = self.centroids_.copy()
        out.insert(0, "fraction", [self.fractions_[m] for m in out.index])
        out.insert(0, "evidence", [self.naming_rules_[m] for m in out.index])
        out.insert(0, "name", [self.mode_names_[m] for m in out.index])
        return out


__all__ = ["CAGED", "CLUSTERING", "HOPPING", "MODE_NAMES", "UNASSIGNED", "VOID_TRAPPING",
           "ModeFeatures", "ModeFinder", "NamingThresholds", "design_effect",
           "import_umap_cached", "name_modes"]
