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
