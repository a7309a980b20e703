"""Diffusion-mode discovery: robust scaling -> Gaussian mixture (BIC) -> named modes, with a
seeded UMAP map of the same rows.

The mixture is fitted in the robust z-space of the descriptors by default
(``cluster_on="descriptors"``), not in the UMAP embedding: UMAP does not preserve density, so
the BIC scan over a UMAP map over-splits compact modes (on the planted-mode test table it picks
6 components for 4 planted modes at ``min_dist=0``, and a 4-vs-5 BIC margin of 0.1 % at 0.3),
while in z-space the 4 modes win by a wide margin. ``cluster_on="umap"`` keeps the original
design's choice available. See docs/modes.md.

:class:`ModeFinder` follows scikit-learn's estimator conventions: parameters in ``__init__``,
``fit`` / ``predict`` / ``fit_predict``, fitted attributes ending in ``_``.

Naming rules (applied in this order to the mode centroids in standard z-units, i.e. (mean of
the mode − mean of all rows) / standard deviation of all rows; see docs/modes.md). The
mobility score of a mode is the mean z of ``log_msd_lag``, ``log_D`` and ``hop_rate`` (those
present); its contrast is the spread between the most and the least mobile mode:

1. **hopping**: the most mobile mode, if the contrast is at least 0.5;
2. **clustering**: of the remaining modes, the one with the highest z of ``n_NaNa`` (else
   ``cluster_size``), if it exceeds ``+0.5``;
3. **void trapping**: of the remaining modes in the lower half of the mobility range, the one
   with the highest z of ``pore_radius`` (else ``wall_distance``), if it exceeds ``+0.5``;
4. the rest: **hopping** when in the upper half of the mobility range (a second mobile mode),
   else **caged** (vibrating in place).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture

from hcanalysis.columns import feature_set

HOPPING, CLUSTERING, VOID_TRAPPING, CAGED = "hopping", "clustering", "void trapping", "caged"
MODE_NAMES = (HOPPING, CLUSTERING, VOID_TRAPPING, CAGED)

_MOBILITY = ("log_msd_lag", "log_D", "hop_rate")
_CROWDING = ("n_NaNa", "cluster_size")
_VOID = ("pore_radius", "wall_distance")


def _as_frame(table) -> pd.DataFrame:
    if isinstance(table, pd.DataFrame):
        return table
    if hasattr(table, "to_pandas"):
        return table.to_pandas()
    raise TypeError("expected a pandas DataFrame or a DescriptorTable")


@dataclass
class RobustScaling:
    """(x − median) / IQR per column; columns with zero IQR use the standard deviation, and
    constant columns are dropped by the caller."""

    center: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> RobustScaling:
        center = np.median(x, axis=0)
        q75, q25 = np.percentile(x, [75, 25], axis=0)
        scale = q75 - q25
        std = x.std(axis=0)
        scale = np.where(scale > 1e-12 * np.maximum(1.0, np.abs(center)), scale, std)
        scale = np.where(scale > 0, scale, 1.0)
        return cls(center, scale)

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (x - self.center) / self.scale


def name_modes(zcentroids: pd.DataFrame) -> tuple[dict[int, str], dict[int, str]]:
    """Name modes from their centroids in z-units (rows = modes, columns = descriptors) by the
    rules of the module docstring.

    Returns
    -------
    names : dict label -> one of :data:`MODE_NAMES`
    rules : dict label -> the rule that fired, in words
    """
    labels = list(zcentroids.index)
    cols = set(zcentroids.columns)
    names: dict[int, str] = {}
    rules: dict[int, str] = {}

    def first(row: pd.Series, keys: tuple[str, ...]) -> float | None:
        present = [k for k in keys if k in cols]
        return float(row[present[0]]) if present else None

    present_mob = [k for k in _MOBILITY if k in cols]
    mobility = {
        lab: float(np.mean([zcentroids.loc[lab, k] for k in present_mob])) if present_mob
        else 0.0
        for lab in labels
    }
    lo, hi = min(mobility.values()), max(mobility.values())
    contrast = hi - lo
    middle = 0.5 * (lo + hi)
    remaining = list(labels)
    if present_mob and contrast >= 0.5:
        best = max(remaining, key=lambda lab: mobility[lab])
        names[best] = HOPPING
        rules[best] = (f"most mobile mode (mobility z = {mobility[best]:+.2f}; contrast "
                       f"{contrast:.2f} >= 0.5)")
        remaining.remove(best)
    crowd = {lab: first(zcentroids.loc[lab], _CROWDING) for lab in remaining}
    if remaining and all(v is not None for v in crowd.values()):
        best = max(remaining, key=lambda lab: crowd[lab])
        if crowd[best] > 0.5:
            names[best] = CLUSTERING
            rules[best] = f"highest Na–Na coordination (z = {crowd[best]:+.2f} > +0.5)"
            remaining.remove(best)
    slow = [lab for lab in remaining if contrast < 0.5 or mobility[lab] < middle]
    void = {lab: first(zcentroids.loc[lab], _VOID) for lab in slow}
    if void and all(v is not None for v in void.values()):
        best = max(void, key=lambda lab: void[lab])
        if void[best] > 0.5:
            names[best] = VOID_TRAPPING
            rules[best] = (f"large pore (z = {void[best]:+.2f} > +0.5) with low mobility "
                           f"(z = {mobility[best]:+.2f})")
            remaining.remove(best)
    for lab in remaining:
        if contrast >= 0.5 and mobility[lab] >= middle:
            names[lab] = HOPPING
            rules[lab] = (f"mobile (mobility z = {mobility[lab]:+.2f} in the upper half of "
                          "the range): a second hopping mode")
        else:
            names[lab] = CAGED
            rules[lab] = "no other rule fired: low mobility, ordinary surroundings"
    return names, rules


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


class ModeFinder(ClusterMixin, BaseEstimator):
    """Find diffusion modes in a descriptor table.

    Parameters
    ----------
    features : {"all", "dynamic", "structural"} or list of str
        Descriptor columns to use (those the table has).
    n_neighbors, min_dist, n_components : UMAP parameters.
    cluster_on : {"descriptors", "umap"}
        Fit the mixture in the robust z-space of the descriptors (default) or in the UMAP
        embedding.
    embed : bool
        Compute the UMAP map (``embedding_``); required for ``cluster_on="umap"``.
    min_modes, max_modes : int
        Range of Gaussian-mixture component counts scanned; the count with the lowest BIC wins.
    covariance_type : str
        Gaussian-mixture covariance ("full", "diag", ...).
    n_init : int
        Gaussian-mixture restarts per component count.
    stability_seeds, stability_bootstraps : int
        Refits with other seeds / bootstrap resamples used for the adjusted-Rand stability.
    random_state : int
        Seed of UMAP, the mixture and the stability resampling.

    Attributes
    ----------
    features_ : list of str
    labels_ : (n_rows,) int, modes ordered by decreasing mobility (mode 0 is the most mobile)
    n_modes_ : int
    bic_ : dict n_components -> BIC
    embedding_ : (n_rows, n_components) UMAP coordinates, or None when ``embed=False``
    centroids_ : DataFrame, mean descriptor per mode in descriptor units
    zcentroids_ : DataFrame, centroid per mode in standard z-units (used for naming)
    mode_names_ : dict label -> physical name
    naming_rules_ : dict label -> the rule that fired
    fractions_ : dict label -> fraction of rows
    stability_ : dict with "ari_seeds", "ari_bootstrap" lists and their "mean"
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
        max_modes: int = 8,
        covariance_type: str = "full",
        n_init: int = 3,
        stability_seeds: int = 2,
        stability_bootstraps: int = 2,
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
        self.stability_seeds = stability_seeds
        self.stability_bootstraps = stability_bootstraps
        self.random_state = random_state

    # -------------------------------------------------------------- internals
    def _matrix(self, frame: pd.DataFrame, fit: bool) -> np.ndarray:
        if fit:
            cols = feature_set(self.features, list(frame.columns))
            x = frame[cols].to_numpy(dtype=np.float64)
            finite = np.isfinite(x)
            medians = np.array(
                [np.median(x[finite[:, j], j]) if finite[:, j].any() else 0.0
                 for j in range(x.shape[1])]
            )
            x = np.where(finite, x, medians)
            keep = x.std(axis=0) > 0
            if not keep.any():
                raise ValueError(f"every descriptor in {cols} is constant: nothing to cluster")
            self.features_ = [c for c, k in zip(cols, keep, strict=True) if k]
            self.dropped_constant_ = [c for c, k in zip(cols, keep, strict=True) if not k]
            self.fill_values_ = medians[keep]
            x = x[:, keep]
            self.scaling_ = RobustScaling.fit(x)
            return x
        missing = [c for c in self.features_ if c not in frame.columns]
        if missing:
            raise ValueError(f"the table lacks the fitted descriptor columns {missing}")
        x = frame[self.features_].to_numpy(dtype=np.float64)
        return np.where(np.isfinite(x), x, self.fill_values_)

    def _embedder(self, seed: int, n_rows: int):
        umap = import_umap_cached()
        return umap.UMAP(
            n_neighbors=min(self.n_neighbors, max(2, n_rows - 1)),
            min_dist=self.min_dist,
            n_components=self.n_components,
            random_state=seed,
            n_jobs=1,
        )

    def _embed(self, z: np.ndarray, seed: int):
        """The space the mixture is fitted in, and the UMAP model when that space is UMAP."""
        if self.cluster_on == "descriptors":
            return None, z
        model = self._embedder(seed, z.shape[0])
        return model, np.asarray(model.fit_transform(z))

    def _mixture(self, e: np.ndarray, seed: int, k: int | None = None):
        ks = [k] if k is not None else range(self.min_modes, min(self.max_modes, len(e)) + 1)
        best, best_bic, bics = None, np.inf, {}
        for n in ks:
            gmm = GaussianMixture(
                n_components=n,
                covariance_type=self.covariance_type,
                n_init=self.n_init,
                random_state=seed,
                reg_covar=1e-5,
            ).fit(e)
            bics[n] = float(gmm.bic(e))
            if bics[n] < best_bic:
                best, best_bic = gmm, bics[n]
        return best, bics

    # -------------------------------------------------------------- API
    def fit(self, X, y=None) -> ModeFinder:  # noqa: N803 (scikit-learn naming)
        """Fit on a descriptor table (DataFrame or DescriptorTable)."""
        frame = _as_frame(X)
        if len(frame) < 3:
            raise ValueError(f"{len(frame)} rows: at least 3 (ion, window) rows are needed")
        if self.cluster_on not in ("descriptors", "umap"):
            raise ValueError(f"cluster_on={self.cluster_on!r}: use 'descriptors' or 'umap'")
        if self.cluster_on == "umap" and not self.embed:
            raise ValueError("cluster_on='umap' needs embed=True")
        x = self._matrix(frame, fit=True)
        z = self.scaling_.transform(x)
        self.umap_, space = self._embed(z, self.random_state)
        if self.umap_ is None and self.embed:
            self.umap_ = self._embedder(self.random_state, z.shape[0])
            self.embedding_ = np.asarray(self.umap_.fit_transform(z))
        else:
            self.embedding_ = space if self.umap_ is not None else None
        self.gmm_, self.bic_ = self._mixture(space, self.random_state)
        raw = self.gmm_.predict(space)
        self.n_modes_ = int(self.gmm_.n_components)
        # order modes by decreasing mobility (first mobility column present, else first feature)
        key = next((c for c in _MOBILITY if c in self.features_), self.features_[0])
        kcol = self.features_.index(key)
        means = [z[raw == m, kcol].mean() if np.any(raw == m) else -np.inf
                 for m in range(self.n_modes_)]
        order = np.argsort(means)[::-1]
        self.component_to_label_ = {int(c): i for i, c in enumerate(order)}
        self.labels_ = np.array([self.component_to_label_[int(r)] for r in raw], dtype=np.int64)
        self._summarise(x, z)
        self.stability_ = self._stability(z)
        return self

    def _summarise(self, x: np.ndarray, z: np.ndarray) -> None:
        labs = range(self.n_modes_)
        self.centroids_ = pd.DataFrame(
            [x[self.labels_ == m].mean(axis=0) for m in labs], columns=self.features_
        )
        mean, std = x.mean(axis=0), x.std(axis=0)
        self.zcentroids_ = (self.centroids_ - mean) / np.where(std > 0, std, 1.0)
        self.centroids_.index.name = self.zcentroids_.index.name = "mode"
        self.mode_names_, self.naming_rules_ = name_modes(self.zcentroids_)
        n = len(self.labels_)
        self.fractions_ = {m: float(np.sum(self.labels_ == m)) / n for m in labs}

    def _stability(self, z: np.ndarray) -> dict:
        rng = np.random.default_rng(self.random_state)
        seeds, boots = [], []
        for i in range(self.stability_seeds):
            seed = self.random_state + 1000 + i
            _, e = self._embed(z, seed)
            gmm, _ = self._mixture(e, seed, k=self.n_modes_)
            seeds.append(float(adjusted_rand_score(self.labels_, gmm.predict(e))))
        for i in range(self.stability_bootstraps):
            idx = rng.integers(0, len(z), size=len(z))
            seed = self.random_state + 2000 + i
            model, e = self._embed(z[idx], seed)
            gmm, _ = self._mixture(e, seed, k=self.n_modes_)
            e_all = z if model is None else model.transform(z)
            boots.append(float(adjusted_rand_score(self.labels_, gmm.predict(e_all))))
        both = seeds + boots
        return {
            "ari_seeds": seeds,
            "ari_bootstrap": boots,
            "mean": float(np.mean(both)) if both else float("nan"),
        }

    def transform(self, X) -> np.ndarray:  # noqa: N803
        """Map new rows onto the fitted UMAP map (robust scaling with the fitted statistics)."""
        if self.umap_ is None:
            raise ValueError("fitted with embed=False: there is no UMAP map")
        z = self.scaling_.transform(self._matrix(_as_frame(X), fit=False))
        return np.asarray(self.umap_.transform(z))

    def predict(self, X) -> np.ndarray:  # noqa: N803
        """Mode label of each row of a table with the fitted descriptor columns."""
        z = self.scaling_.transform(self._matrix(_as_frame(X), fit=False))
        space = z if self.cluster_on == "descriptors" else self.transform(X)
        raw = self.gmm_.predict(space)
        return np.array([self.component_to_label_[int(r)] for r in raw], dtype=np.int64)

    def fit_predict(self, X, y=None) -> np.ndarray:  # noqa: N803
        """Fit and return ``labels_``."""
        return self.fit(X).labels_

    def named_labels(self) -> np.ndarray:
        """The physical mode name of each fitted row."""
        return np.array([self.mode_names_[int(m)] for m in self.labels_])

    def summary(self) -> pd.DataFrame:
        """One row per mode: name, rule, fraction and the centroid in descriptor units."""
        out = self.centroids_.copy()
        out.insert(0, "fraction", [self.fractions_[m] for m in out.index])
        out.insert(0, "rule", [self.naming_rules_[m] for m in out.index])
        out.insert(0, "name", [self.mode_names_[m] for m in out.index])
        return out
