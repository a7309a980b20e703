"""Options after the data are keyword-only in the public API; older positional calls still
work, give the same result and warn (hcanalysis.deprecation.keyword_only)."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

from hcanalysis import importance, msd, msd_fit, structure
from hcanalysis.deprecation import keyword_only


def test_positional_options_map_in_order_and_warn():
    @keyword_only
    def f(data, *, a=1, b=2, c=3):
        return data, a, b, c

    assert f(0, b=5) == (0, 1, 5, 3)
    warned = r"f\(\): passing a, b by position .*a=\.\.\., b=\.\.\."
    with pytest.warns(DeprecationWarning, match=warned):
        assert f(0, 7, 8, c=9) == (0, 7, 8, 9)
    with pytest.raises(TypeError, match="takes 1 positional arguments but 5 were given"):
        f(0, 1, 2, 3, 4)
    with pytest.raises(TypeError, match="multiple values for a="), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        f(0, 1, a=2)
    with pytest.raises(TypeError, match="cannot wrap"):
        keyword_only(lambda *args, x=1: x)


@pytest.mark.parametrize("fn, n_data", [
    (msd.windowed, 1), (structure.rdf, 3), (structure.rdf_from_positions, 4),
    (structure.first_minimum, 2), (structure.carbon_hybridisation, 2),
    (structure.ring_statistics, 2), (msd_fit.local_slope, 1), (msd_fit.gls_diffusion, 4),
    (importance.rank, 1), (importance.permutation_drops, 4), (importance.bootstrap_r2, 3),
])
def test_signatures_are_keyword_only_after_the_data(fn, n_data):
    params = list(inspect.signature(fn).parameters.values())
    positional = [p for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert len(positional) == n_data
    assert all(p.kind is p.KEYWORD_ONLY for p in params[n_data:])


def test_msd_windowed_positional_call_equals_keywords():
    rng = np.random.default_rng(3)
    x = np.cumsum(rng.normal(0.0, 0.3, (1200, 6, 3)), axis=0)
    new = msd.windowed(x, window=400, stride=200, max_lag=150, dt_ps=0.1)
    with pytest.warns(DeprecationWarning, match="window, stride, max_lag"):
        old = msd.windowed(x, 400, 200, 150, dt_ps=0.1)
    np.testing.assert_array_equal(new.msd, old.msd)
    np.testing.assert_array_equal(new.D, old.D)
    assert (new.range.lo_ps, new.range.hi_ps) == (old.range.lo_ps, old.range.hi_ps)
