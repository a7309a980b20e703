"""Importance ranks the planted determinant first, with grouped CV, reproducibly."""

import numpy as np
import pytest
from planted import planted_importance

from hcanalysis.importance import rank


@pytest.fixture(scope="module")
def table():
    return planted_importance(seed=1)


def test_planted_determinant_first(table):
    res = rank(table, features="structural", n_repeats=3, seed=0)
    assert res.top == "local_tortuosity"
    assert res.groups == "trajectory"
    assert res.r2 > 0.8
    imp = res.ranking.set_index("feature")["importance"]
    # the weak planted effect beats pure-noise columns, and noise is near zero
    assert imp["n_NaNa"] > imp["voronoi_volume"]
    assert abs(imp["voronoi_volume"]) < 0.05
    assert (res.ranking["ci_low"] <= res.ranking["importance"]).all()


def test_reproducible_and_gradient_boosting(table):
    a = rank(table, n_repeats=2, seed=5, model="gradient_boosting")
    with pytest.warns(DeprecationWarning, match="use seed="):  # the old keyword still works
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
    np.testing.assert_allclose(importance.permutation_drops(est, xt, yt, 5, random_state=7), want,
                               rtol=1e-12, atol=1e-12)
    sk = permutation_importance(est, xt, yt, n_repeats=30, random_state=0, scoring="r2")
    ours = importance.permutation_drops(est, xt, yt, n_repeats=30, random_state=0)
    spread = np.maximum(sk.importances_std, ours.std(axis=1)) / np.sqrt(30)
    assert np.all(np.abs(ours.mean(axis=1) - sk.importances_mean) < 5 * spread + 1e-3)
    assert ours.mean(axis=1).argmax() == 0 and ours.mean(axis=1)[0] > 1.0


# ------------------------------------------------------- skill first, ranking only with skill
@pytest.fixture(scope="module")
def small():
    """The planted table with 60 rows per trajectory (360 rows): lean tests."""
    return planted_importance(seed=1, n_rows=60)


def test_pure_noise_target_prints_no_ranking(small):
    """A target that is pure noise: the held-out R² interval is not above 0, so no ranking is
    printed, and the lines say that the descriptors do not predict mobility."""
    noise = small.assign(log_D=np.random.default_rng(11).normal(-1.0, 0.5, len(small)))
    res = rank(noise, n_repeats=2, seed=0)
    assert not res.has_skill
    assert res.r2_ci[0] <= 0 < res.r2_ci[1] or res.r2_ci[1] <= 0
    text = "\n".join(res.lines())
    assert "do not predict mobility" in text
    assert "predicted best by" not in text and "local_tortuosity (" not in text


def test_planted_signal_has_skill_and_a_ranking(small):
    res = rank(small, n_repeats=2, seed=0)
    assert res.has_skill and 0.9 < res.r2_ci[0] <= res.r2 <= res.r2_ci[1] < 1
    text = "\n".join(res.lines())
    assert "predicted best by: local_tortuosity" in text
    assert res.n_groups == 6 and "bootstrap over 6 groups" in text


def test_ion_groups_inside_one_trajectory(small):
    one = small[small["trajectory"] == 0]
    res = rank(one, n_repeats=2)
    assert res.groups == "trajectory and ion" and res.n_groups == len(one)
    assert res.has_skill and res.top == "local_tortuosity"
    with pytest.raises(ValueError, match="groups='pore'"):
        rank(one, groups="pore")


def test_correlated_descriptors_are_permuted_together(small):
    """Two near-copies of the planted determinant form one group, whose importance is the
    importance the determinant has alone (the copies do not split it)."""
    rng = np.random.default_rng(2)
    twin = small.assign(shell_reachable=small["local_tortuosity"] * 0.5
                        + rng.normal(0, 0.01, len(small)))
    res = rank(twin, n_repeats=2)
    assert ["local_tortuosity", "shell_reachable"] in res.descriptor_groups
    assert res.top == "local_tortuosity + shell_reachable"
    alone = rank(small, n_repeats=2).ranking.set_index("feature")["importance"]
    together = res.ranking.set_index("feature")["importance"]
    assert together["local_tortuosity + shell_reachable"] == pytest.approx(
        alone["local_tortuosity"], rel=0.15)
    assert "permuted together" in "\n".join(res.lines())


def test_target_choice_and_no_floored_target(small):
    withlag = small.assign(log_msd_lag=small["log_D"] + 1.0)
    assert rank(withlag, n_repeats=1).target == "log_msd_lag"
    holes = small.copy()
    holes.loc[holes.index[:40], "log_D"] = np.nan
    res = rank(holes, n_repeats=1)
    assert res.target == "log_D" and res.n_rows == len(small) - 40
    assert "40 of 360 rows with undefined log_D dropped" in res.target_note
    floored = small.copy()
    floored.loc[floored.index[:50], "log_D"] = -5.0   # log10(max(D, 1e-5)) style floor
    with pytest.raises(ValueError, match="looks floored"):
        rank(floored, n_repeats=1)


def test_group_permutation_equals_manual_joint_shuffle():
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.metrics import r2_score

    from hcanalysis import importance

    rng = np.random.default_rng(4)
    x = rng.normal(size=(120, 3))
    y = x[:, 0] + x[:, 1] + 0.1 * rng.normal(size=120)
    est = RandomForestRegressor(n_estimators=20, random_state=0).fit(x, y)
    got = importance.permutation_drops(est, x, y, 3, random_state=9, groups=[[0, 1], [2]])
    ref = np.random.default_rng(9)
    base = r2_score(y, est.predict(x))
    for gi, cols in enumerate([[0, 1], [2]]):
        for r in range(3):
            perm = ref.permutation(120)
            xp = x.copy()
            xp[:, cols] = x[perm][:, cols]
            assert got[gi, r] == pytest.approx(base - r2_score(y, est.predict(xp)), abs=1e-12)
