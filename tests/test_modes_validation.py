"""ModeFinder refuses what it cannot fit with one-line errors naming the parameter or the
row and column (issue 19)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from hcanalysis.modes import ModeFinder


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    n = 60
    return pd.DataFrame({
        "ion": np.repeat(np.arange(20), 3), "window": np.tile(np.arange(3), 20),
        "log_msd_lag": rng.normal(0, 1, n), "n_NaNa": rng.poisson(1, n).astype(float),
        "pore_radius": rng.normal(3, 0.5, n), "wall_distance": rng.normal(2, 0.3, n),
    })


@pytest.mark.parametrize("params, msg", [
    (dict(max_modes=0), r"max_modes=0: must be an integer >= 1"),
    (dict(min_modes=0), r"min_modes=0: must be an integer >= 1"),
    (dict(min_modes=4, max_modes=2), r"max_modes=2 < min_modes=4: the scanned range"),
    (dict(max_modes=2.5), r"max_modes=2.5: must be an integer"),
])
def test_parameters(table, params, msg):
    with pytest.raises(ValueError, match=msg):
        ModeFinder(**params).fit(table)


def test_too_few_rows(table):
    with pytest.raises(ValueError, match=r"3 rows: at least 10 \(ion, window\) rows"):
        ModeFinder().fit(table.iloc[:3])


@pytest.mark.parametrize("value, msg", [
    (1e300, r"descriptor 'pore_radius' is 1e\+300 in row 5 \(ion 1, window 2\), 1e\+06 "
            r"spreads from its median"),
    (np.inf, r"descriptor 'pore_radius' is inf in row 5 \(ion 1, window 2\): not a value"),
    (-np.inf, r"descriptor 'pore_radius' is -inf in row 5"),
])
def test_bad_values_are_named(table, value, msg):
    bad = table.copy()
    bad.loc[5, "pore_radius"] = value
    with pytest.raises(ValueError, match=msg):
        ModeFinder().fit(bad)


def test_missing_values_are_not_errors(table):
    gaps = table.copy()
    gaps.loc[[3, 8], "pore_radius"] = np.nan  # missing: filled, as documented
    assert len(ModeFinder().fit(gaps).labels_) == len(gaps)


def test_predict_before_fit(table):
    with pytest.raises(NotFittedError, match="not fitted yet: call fit"):
        ModeFinder().predict(table)
