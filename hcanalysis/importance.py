"""Which structural descriptors control mobility: supervised ranking with grouped CV.

:func:`rank` fits a model (random forest by default, or gradient boosting) that predicts the
target (``log_D``) from the chosen descriptors, validates it by cross-validation grouped by
trajectory (or, with fewer trajectories than folds, by (trajectory, ion) so no ion's windows
are split between training and test), and ranks the descriptors by permutation importance on
the held-out folds. The confidence interval of each importance is the 2.5–97.5 percentile
over folds × permutation repeats.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
from sklearn.inspection import permutation_importance
from sklearn.metrics import r2_score
from sklearn.model_selection import GroupKFold

from hcanalysis.columns import feature_set
from hcanalysis.modes import _as_frame


@dataclass
class ImportanceResult:
    """Result of :func:`rank`.

    Attributes
    ----------
    ranking : DataFrame
        One row per feature, most important first: ``feature``, ``importance`` (mean drop of
        R² when the feature is permuted), ``std``, ``ci_low``, ``ci_high``.
    r2 : float
        Mean held-out R² over the folds.
    r2_folds : list of float
    groups : str
        What the folds were grouped by.
    target, features, model : the inputs.
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
    shap_values: np.ndarray | None = None
    params: dict = field(default_factory=dict)

    @property
    def top(self) -> str:
        """The most important feature."""
        return str(self.ranking["feature"].iloc[0])


def _model(name: str, seed: int):
    if name == "random_forest":
        return RandomForestRegressor(n_estimators=200, min_samples_leaf=2, random_state=seed,
                                     n_jobs=1)
    if name == "gradient_boosting":
        return GradientBoostingRegressor(random_state=seed)
    raise ValueError(f"model={name!r}: use 'random_forest' or 'gradient_boosting'")


def rank(
    table,
    target: str = "log_D",
    features: str | list[str] = "structural",
    *,
    model: str = "random_forest",
    n_splits: int = 5,
    n_repeats: int = 10,
    random_state: int = 0,
    shap: bool = False,
) -> ImportanceResult:
    """Rank descriptors by how much they control ``target``.

    Parameters
    ----------
    table : DataFrame or DescriptorTable
        Needs ``target``, the feature columns, and ``trajectory`` / ``ion`` id columns when
        present (used for grouping).
    target : str
        Column to predict (default ``log_D``, log10 Å²/ps).
    features : {"structural", "dynamic", "all"} or list of str
        Predictors (the target itself is always excluded).
    model : {"random_forest", "gradient_boosting"}
    n_splits : int
        Cross-validation folds (reduced to the number of groups when fewer).
    n_repeats : int
        Permutations per feature per fold.
    random_state : int
    shap : bool
        Also compute mean |SHAP| values (needs the optional ``shap`` package).

    Raises
    ------
    ValueError
        Missing target, fewer than 2 groups, or no usable rows.
    """
    frame = _as_frame(table)
    if target not in frame.columns:
        raise ValueError(f"the table has no target column {target!r}")
    cols = [c for c in feature_set(features, list(frame.columns)) if c != target]
    data = frame[cols + [target]].replace([np.inf, -np.inf], np.nan).dropna()
    if len(data) < 10:
        raise ValueError(f"only {len(data)} rows with finite {target} and features: need >= 10")
    x = data[cols].to_numpy(dtype=np.float64)
    y = data[target].to_numpy(dtype=np.float64)
    sub = frame.loc[data.index]
    traj = sub["trajectory"].to_numpy() if "trajectory" in sub else np.zeros(len(sub), int)
    n_traj = len(np.unique(traj))
    if n_traj >= n_splits:
        groups, grouped_by = traj, "trajectory"
    elif "ion" in sub:
        groups = traj.astype(np.int64) * (int(sub["ion"].max()) + 1) + sub["ion"].to_numpy()
        grouped_by = "trajectory and ion"
    else:
        groups, grouped_by = np.arange(len(sub)), "row"
    k = min(n_splits, len(np.unique(groups)))
    if k < 2:
        raise ValueError("cross-validation needs at least 2 groups (trajectories or ions)")
    drops, r2s = [], []
    for fold, (train, test) in enumerate(GroupKFold(n_splits=k).split(x, y, groups)):
        est = _model(model, random_state + fold).fit(x[train], y[train])
        r2s.append(float(r2_score(y[test], est.predict(x[test]))))
        perm = permutation_importance(est, x[test], y[test], n_repeats=n_repeats,
                                      random_state=random_state + fold, scoring="r2")
        drops.append(perm.importances)  # (n_features, n_repeats)
    allimp = np.concatenate(drops, axis=1)
    ranking = pd.DataFrame({
        "feature": cols,
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
        est = _model(model, random_state).fit(x, y)
        shap_values = np.abs(shap_mod.TreeExplainer(est).shap_values(x)).mean(axis=0)
    return ImportanceResult(
        ranking=ranking, r2=float(np.mean(r2s)), r2_folds=r2s, groups=grouped_by,
        target=target, features=cols, model=model, shap_values=shap_values,
        params=dict(n_splits=k, n_repeats=n_repeats, random_state=random_state),
    )
