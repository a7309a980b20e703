"""Which structural descriptors predict mobility, and only when they do.

:func:`rank` fits a model (random forest by default, or gradient boosting) that predicts the
target from the chosen descriptors and first asks whether it predicts at all:

1. **Target.** ``target="auto"`` takes ``log_msd_lag`` (log10 of the MSD at a fixed lag, Å²)
   when the table has it, else ``log_D`` with the rows whose D is undefined (NaN) dropped and
   counted. A floored target (many rows at one minimum value) is refused: a regression on it
   learns the floor.
2. **Held-out skill.** Out-of-fold predictions from ``GroupKFold`` grouped by trajectory (or,
   with fewer trajectories than folds, by (trajectory, ion), or by any id column such as a
   pore/region, ``groups=``), so no group is both in training and test. The pooled held-out
   R² gets a percentile interval from a cluster bootstrap over the groups (resampling whole
   groups of held-out rows; Field & Welsh, J. R. Stat. Soc. B 69, 369, 2007). It is an
   interval for the test-set sampling of this fitted procedure (training variability is not
   included).
3. **Ranking only with skill.** When the interval's lower end is above 0, the descriptors are
   ranked by permutation importance on the held-out folds; otherwise :attr:`ImportanceResult.
   has_skill` is False and :meth:`ImportanceResult.lines` says that the descriptors do not
   predict mobility here (the ranking table is still computed for inspection, and carries
   the flag).
4. **Correlated descriptors together.** Descriptors are clustered hierarchically (average
   linkage) on 1 − |Spearman ρ|; those closer than ``1 − cluster_threshold`` form a group
   that is permuted together, so correlated descriptors do not split or mask their shared
   importance. The groups are reported.

The interval of each importance is the 2.5–97.5 percentile over folds × permutation repeats.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from scipy.stats import spearmanr
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
from sklearn.metrics import r2_score
from sklearn.model_selection import GroupKFold

from hcanalysis.columns import feature_set
from hcanalysis.deprecation import keyword_only, renamed
from hcanalysis.table import as_frame

#: |Spearman ρ| at or above which descriptors are grouped (average linkage).
CLUSTER_THRESHOLD = 0.7
#: Bootstrap resamples of the groups for the held-out R² interval.
N_BOOTSTRAP = 2000
#: A log target ("log_*") is "floored" when more than this fraction of its finite rows (and at
#: least 3) share its minimum value.
FLOOR_FRACTION = 0.03


@dataclass
class ImportanceResult:
    """Result of :func:`rank`.

    Attributes
    ----------
    ranking : DataFrame
        One row per descriptor group, most important first: ``feature`` (the group's label:
        its members joined by " + "), ``members`` (list), ``importance`` (mean drop of the
        held-out R² when the group is permuted), ``std``, ``ci_low``, ``ci_high``. Meaningful
        only when :attr:`has_skill`.
    r2 : float
        Pooled held-out (out-of-fold) R².
    r2_ci : (float, float)
        Its 95 % cluster-bootstrap interval over the groups.
    r2_folds : list of float
        R² of each fold.
    groups : str
        What the folds were grouped by, e.g. "trajectory" or "trajectory and ion".
    n_groups : int
    target : str
    target_note : str
        How the target was chosen and which rows were dropped.
    descriptor_groups : list of list of str
        The descriptor groups permuted together.
    features, model, params : the inputs.
    shap_values : ndarray or None
        Mean |SHAP| per feature when ``shap`` is installed and asked for.
    """

    ranking: pd.DataFrame
    r2: float
    r2_folds: list[float]
    groups: str
    target: str
    features: list[str]
    model: str
    r2_ci: tuple[float, float] = (float("nan"), float("nan"))
    n_groups: int = 0
    n_rows: int = 0
    target_note: str = ""
    descriptor_groups: list[list[str]] = field(default_factory=list)
    shap_values: np.ndarray | None = None
    params: dict = field(default_factory=dict)

    @property
    def has_skill(self) -> bool:
        """True when the lower end of the held-out R² interval is above zero."""
        return bool(np.isfinite(self.r2_ci[0]) and self.r2_ci[0] > 0)

    @property
    def top(self) -> str:
        """The most important descriptor group (its label)."""
        return str(self.ranking["feature"].iloc[0])

    def skill_text(self) -> str:
        """The held-out R² with its interval and how the folds were grouped."""
        lo, hi = self.r2_ci
        return (f"held-out R² = {self.r2:.2f} [{lo:.2f}, {hi:.2f}] (95 % interval, bootstrap "
                f"over {self.n_groups} groups; {self.params.get('n_splits', '?')} folds grouped "
                f"by {self.groups}; target {self.target}, {self.n_rows} rows)")

    def lines(self, top: int = 5) -> list[str]:
        """What to print: the skill, then the ranking (only with skill) or the verdict."""
        out = [self.skill_text()]
        if self.target_note:
            out.append(self.target_note)
        multi = [g for g in self.descriptor_groups if len(g) > 1]
        if multi:
            out.append("descriptors permuted together (|Spearman ρ| >= "
                       f"{self.params.get('cluster_threshold', CLUSTER_THRESHOLD):g}): "
                       + "; ".join(" + ".join(g) for g in multi))
        if self.has_skill:
            out.append(f"{self.target} is predicted best by: " + ", ".join(
                f"{r.feature} ({r.importance:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}])"
                for r in self.ranking.head(top).itertuples()))
        else:
            out.append(f"the {self.params.get('features', 'structural')} descriptors do not "
                       f"predict mobility ({self.target}) here: the held-out R² interval is not "
                       "above 0, so no ranking is given")
        return out


#: Rows per batched prediction of :func:`permutation_drops` (bounds its memory: 2e6 rows x
#: 20 features of float64 = 320 MB).
PERMUTATION_BATCH_ROWS = 2_000_000


@keyword_only
def permutation_drops(estimator, x: np.ndarray, y: np.ndarray, n_repeats: int, *,
                      random_state: int | np.random.Generator = 0,
                      groups: list[list[int]] | None = None) -> np.ndarray:
    """Permutation importance: the drop of R² when a feature (or a group of features) is
    shuffled.

    For every group j and repeat r the rows of the group's columns of ``x`` are permuted
    together (one fresh permutation from ``random_state`` per (j, r), applied to every column
    of the group, so the group's internal correlation is kept), the model predicts, and the
    drop is ``R²(x) - R²(x permuted)``; with one column per group (the default) this is
    ``sklearn.inspection.permutation_importance(scoring="r2")``. Permuting correlated
    descriptors together avoids splitting (and hiding) the importance they share (Strobl et
    al., BMC Bioinformatics 9, 307, 2008). All permuted copies are
    predicted in a few large batches (at most :data:`PERMUTATION_BATCH_ROWS` rows each)
    instead of one ``predict`` per (feature, repeat): a 200-tree forest pays its per-call
    overhead once per batch, not n_features x n_repeats times (the importance stage of
    ``analyze`` went from 6.7 s to a fraction of that on the bundled sample).

    Parameters
    ----------
    estimator : fitted regressor with ``predict``
    x : (n, p) float
        Held-out features.
    y : (n,) float
        Held-out target.
    n_repeats : int
    random_state : int or numpy Generator
    groups : list of lists of column indices, optional
        Columns permuted together; default each column alone.

    Returns
    -------
    (n_groups, n_repeats) float
        R² drops (n_groups = p without ``groups``).
    """
    rng = np.random.default_rng(random_state)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, p = x.shape
    cols = [[j] for j in range(p)] if groups is None else [list(g) for g in groups]
    base = r2_score(y, estimator.predict(x))
    jobs = [(c, rng.permutation(n)) for c in cols for _ in range(n_repeats)]
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    per_batch = max(1, PERMUTATION_BATCH_ROWS // max(n, 1))
    drops = np.empty(len(jobs))
    for lo in range(0, len(jobs), per_batch):
        chunk = jobs[lo:lo + per_batch]
        big = np.repeat(x[None], len(chunk), axis=0)  # (copies, n, p)
        for c, (j, perm) in enumerate(chunk):
            big[c][:, j] = x[np.ix_(perm, j)]
        pred = estimator.predict(big.reshape(-1, p)).reshape(len(chunk), n)
        ss_res = np.sum((y[None, :] - pred) ** 2, axis=1)
        r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else np.where(ss_res == 0, 1.0, 0.0)
        drops[lo:lo + len(chunk)] = base - r2
    return drops.reshape(len(cols), n_repeats)


def _model(name: str, seed: int):
    if name == "random_forest":
        return RandomForestRegressor(n_estimators=200, min_samples_leaf=2, random_state=seed,
                                     n_jobs=1)
    if name == "gradient_boosting":
        return GradientBoostingRegressor(random_state=seed)
    raise ValueError(f"model={name!r}: use 'random_forest' or 'gradient_boosting'")


def descriptor_groups(x: np.ndarray, names: list[str],
                      threshold: float = CLUSTER_THRESHOLD) -> list[list[str]]:
    """Groups of correlated descriptors: average-linkage hierarchical clustering on the
    distance 1 − |Spearman ρ|, cut at 1 − ``threshold``.

    Parameters
    ----------
    x : (n, p) float
        Descriptor values (finite).
    names : p column names.
    threshold : float
        |ρ| at which descriptors join a group (default 0.7). A constant column is its own
        group.

    Returns
    -------
    list of lists of names, in the order of the columns' first appearance.
    """
    p = x.shape[1]
    if p == 1:
        return [list(names)]
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = spearmanr(x).statistic if p > 2 else np.array(
            [[1.0, spearmanr(x[:, 0], x[:, 1]).statistic], [0.0, 1.0]])
    rho = np.atleast_2d(np.asarray(rho, dtype=float))
    if p == 2:
        rho[1, 0] = rho[0, 1]
    dist = 1.0 - np.abs(np.nan_to_num(rho, nan=0.0))
    dist = np.clip((dist + dist.T) / 2, 0.0, 1.0)
    np.fill_diagonal(dist, 0.0)
    labels = fcluster(linkage(squareform(dist, checks=False), method="average"),
                      t=1.0 - threshold, criterion="distance")
    order: dict[int, list[str]] = {}
    for lab, name in zip(labels, names, strict=True):
        order.setdefault(int(lab), []).append(name)
    return list(order.values())


def _choose_target(frame: pd.DataFrame, target: str) -> tuple[str, str]:
    if target == "auto":
        if "log_msd_lag" in frame.columns and np.isfinite(
                frame["log_msd_lag"].to_numpy(dtype=float)).any():
            return "log_msd_lag", "target log_msd_lag (log10 of the MSD at a fixed lag, Å²)"
        target = "log_D"
        how = "target log_D (the table has no log_msd_lag)"
    else:
        how = f"target {target}"
    if target not in frame.columns:
        raise ValueError(f"the table has no target column {target!r}")
    return target, how


def _floored(y: np.ndarray) -> bool:
    lo = np.min(y)
    n_lo = int(np.count_nonzero(y == lo))
    return n_lo >= 3 and n_lo > FLOOR_FRACTION * len(y)


def _pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One integer code per distinct (a, b) pair."""
    return pd.MultiIndex.from_arrays([a, b]).factorize()[0]


def _fold_groups(sub: pd.DataFrame, groups: str, n_splits: int) -> tuple[np.ndarray, str]:
    traj = sub["trajectory"].to_numpy() if "trajectory" in sub else np.zeros(len(sub), int)
    if groups == "auto":
        if len(np.unique(traj)) >= n_splits:
            return traj, "trajectory"
        if "ion" in sub:
            return _pairs(traj, sub["ion"].to_numpy()), "trajectory and ion"
        return np.arange(len(sub)), "row"
    if groups == "trajectory":
        return traj, "trajectory"
    if groups not in sub.columns:
        raise ValueError(f"groups={groups!r}: use 'auto', 'trajectory' or an id column of the "
                         f"table (e.g. 'ion' or 'pore')")
    return _pairs(traj, sub[groups].to_numpy()), f"trajectory and {groups}"


@keyword_only
def bootstrap_r2(y: np.ndarray, pred: np.ndarray, groups: np.ndarray, *,
                 n_bootstrap: int = N_BOOTSTRAP, seed: int = 0) -> np.ndarray:
    """R² of held-out predictions over cluster-bootstrap resamples of the groups.

    Each resample draws the groups with replacement (as many as there are) and computes
    R² = 1 − SS_res / SS_tot over all rows of the drawn groups (with their multiplicity).

    Returns
    -------
    (n_bootstrap,) float
    """
    codes, _ = pd.factorize(groups)
    g = codes.max() + 1
    n_g = np.bincount(codes, minlength=g).astype(float)
    s_y = np.bincount(codes, y, minlength=g)
    s_yy = np.bincount(codes, y * y, minlength=g)
    s_res = np.bincount(codes, (y - pred) ** 2, minlength=g)
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(g, np.full(g, 1.0 / g), size=n_bootstrap).astype(float)
    n = counts @ n_g
    ss_tot = counts @ s_yy - (counts @ s_y) ** 2 / n
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ss_tot > 0, 1.0 - (counts @ s_res) / ss_tot, np.nan)


@renamed(random_state="seed")
@keyword_only
def rank(
    table,
    *,
    target: str = "auto",
    features: str | list[str] = "structural",
    model: str = "random_forest",
    n_splits: int = 5,
    n_repeats: int = 10,
    seed: int = 0,
    groups: str = "auto",
    cluster_threshold: float = CLUSTER_THRESHOLD,
    n_bootstrap: int = N_BOOTSTRAP,
    shap: bool = False,
) -> ImportanceResult:
    """Held-out predictive skill of the descriptors for ``target``, and their ranking.

    Parameters
    ----------
    table : DataFrame or DescriptorTable
        Needs the target, the feature columns, and ``trajectory`` / ``ion`` id columns when
        present (used for grouping).
    target : str
        Column to predict. "auto" (default): ``log_msd_lag`` (log10 Å²) when present, else
        ``log_D`` (log10 Å²/ps) with NaN rows dropped (stated in ``target_note``).
    features : {"structural", "dynamic", "all"} or list of str
        Predictors (the target itself is always excluded).
    model : {"random_forest", "gradient_boosting"}
    n_splits : int
        Cross-validation folds (reduced to the number of groups when fewer).
    n_repeats : int
        Permutations per descriptor group per fold.
    seed : int
        Seed of the folds' models, the permutations and the bootstrap (the old keyword
        ``random_state=`` still works, with a DeprecationWarning).
    groups : str
        Fold grouping: "auto" (trajectory with >= ``n_splits`` trajectories, else (trajectory,
        ion)), "trajectory", or an id column (e.g. "ion", "pore"), taken within trajectory.
    cluster_threshold : float
        |Spearman ρ| at which descriptors are permuted together (1 keeps each alone).
    n_bootstrap : int
        Cluster-bootstrap resamples of the held-out R² interval.
    shap : bool
        Also compute mean |SHAP| values (needs the optional ``shap`` package).

    Raises
    ------
    ValueError
        Missing or floored target, fewer than 2 groups, or fewer than 10 usable rows.
    """
    frame = as_frame(table)
    target, how = _choose_target(frame, target)
    cols = [c for c in feature_set(features, list(frame.columns)) if c != target]
    if target == "log_D" and "log_msd_lag" in cols:
        cols.remove("log_msd_lag")
    clean = frame[cols + [target]].replace([np.inf, -np.inf], np.nan)
    n_bad_y = int(clean[target].isna().sum())
    data = clean.dropna()
    if n_bad_y:
        how += f"; {n_bad_y} of {len(frame)} rows with undefined {target} dropped"
    if len(data) < len(clean) - n_bad_y:
        how += f"; {len(clean) - n_bad_y - len(data)} rows with missing descriptors dropped"
    if len(data) < 10:
        raise ValueError(f"only {len(data)} rows with finite {target} and features: need >= 10")
    x = data[cols].to_numpy(dtype=np.float64)
    y = data[target].to_numpy(dtype=np.float64)
    if target.startswith("log") and _floored(y):
        raise ValueError(
            f"{target} looks floored ({int(np.count_nonzero(y == y.min()))} of {len(y)} rows "
            f"at its minimum {y.min():.4g}): a regression would learn the floor; use "
            "log_msd_lag or a target without a floor"
        )
    sub = frame.loc[data.index]
    grp, grouped_by = _fold_groups(sub, groups, n_splits)
    n_groups = len(np.unique(grp))
    k = min(n_splits, n_groups)
    if k < 2:
        raise ValueError("cross-validation needs at least 2 groups (trajectories or ions)")
    dgroups = descriptor_groups(x, cols, cluster_threshold)
    index = {c: j for j, c in enumerate(cols)}
    gidx = [[index[c] for c in g] for g in dgroups]
    drops, r2s = [], []
    oof = np.empty_like(y)
    for fold, (train, test) in enumerate(GroupKFold(n_splits=k).split(x, y, grp)):
        est = _model(model, seed + fold).fit(x[train], y[train])
        oof[test] = est.predict(x[test])
        r2s.append(float(r2_score(y[test], oof[test])))
        drops.append(permutation_drops(est, x[test], y[test], n_repeats,
                                       random_state=seed + fold, groups=gidx))
    r2 = float(r2_score(y, oof))
    boot = bootstrap_r2(y, oof, grp, n_bootstrap=n_bootstrap, seed=seed)
    boot = boot[np.isfinite(boot)]
    r2_ci = ((float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5)))
             if boot.size else (float("nan"), float("nan")))
    allimp = np.concatenate(drops, axis=1)
    ranking = pd.DataFrame({
        "feature": [" + ".join(g) for g in dgroups],
        "members": dgroups,
        "importance": allimp.mean(axis=1),
        "std": allimp.std(axis=1),
        "ci_low": np.percentile(allimp, 2.5, axis=1),
        "ci_high": np.percentile(allimp, 97.5, axis=1),
    }).sort_values("importance", ascending=False, ignore_index=True)
    shap_values = None
    if shap:
        try:
            import shap as shap_mod
        except ImportError as exc:
            raise ValueError("shap=True needs the optional 'shap' package (pip install shap)") \
                from exc
        est = _model(model, seed).fit(x, y)
        shap_values = np.abs(shap_mod.TreeExplainer(est).shap_values(x)).mean(axis=0)
    return ImportanceResult(
        ranking=ranking, r2=r2, r2_folds=r2s, groups=grouped_by, target=target,
        features=cols, model=model, r2_ci=r2_ci, n_groups=n_groups, n_rows=len(y),
        target_note=how, descriptor_groups=dgroups, shap_values=shap_values,
        params=dict(n_splits=k, n_repeats=n_repeats, seed=seed,
                    cluster_threshold=cluster_threshold, n_bootstrap=n_bootstrap,
                    features=features if isinstance(features, str) else "chosen"),
    )
