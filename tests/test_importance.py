"""Importance ranks the planted determinant first, with grouped CV, reproducibly."""

import numpy as np
import pytest
from planted import planted_importance

from hcanalysis.importance import rank


@pytest.fixture(scope="module")
def table():
    return planted_importance(seed=1)


def test_planted_determinant_first(table):
    res = rank(table, features="structural", n_repeats=3, random_state=0)
    assert res.top == "local_tortuosity"
    assert res.groups == "trajectory"
    assert res.r2 > 0.8
    imp = res.ranking.set_index("feature")["importance"]
    # the weak planted effect beats pure-noise columns, and noise is near zero
    assert imp["n_NaNa"] > imp["voronoi_volume"]
    assert abs(imp["voronoi_volume"]) < 0.05
    assert (res.ranking["ci_low"] <= res.ranking["importance"]).all()


def test_reproducible_and_gradient_boosting(table):
    a = rank(table, n_repeats=2, random_state=5, model="gradient_boosting")
    b = rank(table, n_repeats=2, random_state=5, model="gradient_boosting")
    np.testing.assert_array_equal(a.ranking["importance"], b.ranking["importance"])
    assert a.top == "local_tortuosity"


def test_grouping_falls_back_to_ions(table):
    two = table[table["trajectory"] < 2]
    res = rank(two, n_repeats=2)
    assert res.groups == "trajectory and ion"


def test_errors(table):
    with pytest.raises(ValueError, match="no target column"):
        rank(table.drop(columns="log_D"))
    with pytest.raises(ValueError, match="model="):
        rank(table, model="svm")


def test_permutation_drops_equal_one_predict_per_copy_and_agree_with_sklearn(monkeypatch):
    """The batched permutation importance equals the brute-force loop (same permutations, one
    predict and sklearn's r2_score per copy), whatever the batch size; and its means agree
    with sklearn's permutation_importance (other permutations) within their spread."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import r2_score

    from hcanalysis import importance

    rng = np.random.default_rng(3)
    x = rng.normal(size=(160, 4))
    y = 2.0 * x[:, 0] + 0.5 * x[:, 1] + 0.1 * rng.normal(size=160)
    est = RandomForestRegressor(n_estimators=30, random_state=0).fit(x[:100], y[:100])
    xt, yt = x[100:], y[100:]
    got = importance.permutation_drops(est, xt, yt, n_repeats=5, random_state=7)
    ref_rng = np.random.default_rng(7)
    base = r2_score(yt, est.predict(xt))
    want = np.empty((4, 5))
    for j in range(4):
        for r in range(5):
            xp = xt.copy()
            xp[:, j] = xt[ref_rng.permutation(len(xt)), j]
            want[j, r] = base - r2_score(yt, est.predict(xp))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    monkeypatch.setattr(importance, "PERMUTATION_BATCH_ROWS", 130)  # 2 copies per batch
    np.testing.assert_allclose(importance.permutation_drops(est, xt, yt, 5, 7), want,
                               rtol=1e-12, atol=1e-12)
    sk = permutation_importance(est, xt, yt, n_repeats=30, random_state=0, scoring="r2")
    ours = importance.permutation_drops(est, xt, yt, n_repeats=30, random_state=0)
    spread = np.maximum(sk.importances_std, ours.std(axis=1)) / np.sqrt(30)
    assert np.all(np.abs(ours.mean(axis=1) - sk.importances_mean) < 5 * spread + 1e-3)
    assert ours.mean(axis=1).argmax() == 0 and ours.mean(axis=1)[0] > 1.0
