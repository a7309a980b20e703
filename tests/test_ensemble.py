"""The correlation map recovers a planted monotone dependence on density."""

import json

import numpy as np
import pytest
from planted import planted_modes

from hcanalysis.ensemble import correlate, read_metadata, summarise


def test_planted_density_dependence():
    table, meta = planted_modes(seed=2, n_traj=8)
    table = table.rename(columns={"true_mode": "mode_name"})
    summary = summarise(table, ["hopping", "clustering", "void trapping", "caged"])
    assert np.allclose(summary.filter(like="frac_").sum(axis=1), 1.0)
    cmap = correlate(summary, meta)
    assert cmap.rho.loc["frac_void_trapping", "density"] < -0.8
    assert cmap.pvalue.loc["frac_void_trapping", "density"] < 0.05
    # temperature is constant: no correlation can be computed
    assert np.isnan(cmap.rho.loc["frac_caged", "temperature"])


def test_read_metadata(tmp_path):
    a = tmp_path / "a" / "traj.h5"
    a.parent.mkdir()
    a.write_bytes(b"")
    (a.parent / "run.json").write_text(json.dumps({"density": 1.2, "na_loading": 0.1,
                                                   "nested": {"x": 1}}))
    b = tmp_path / "b.h5"
    b.write_bytes(b"")
    (tmp_path / "b.json").write_text(json.dumps({"density": 0.9}))
    meta = read_metadata([a, b])
    assert list(meta["density"]) == [1.2, 0.9]
    assert "nested" not in meta.columns
    csv = tmp_path / "meta.csv"
    csv.write_text("path,density\na/traj.h5,1.5\nb.h5,1.0\n")
    assert list(read_metadata([a, b], csv)["density"]) == [1.5, 1.0]
    # every mdrunner run is called traj.h5: rows are told apart by their folders
    d = tmp_path / "d" / "traj.h5"
    d.parent.mkdir()
    d.write_bytes(b"")
    csv.write_text(f"path,density\na/traj.h5,1.5\n{d},0.7\n")
    assert list(read_metadata([d, a], csv)["density"]) == [0.7, 1.5]
    csv.write_text("path,density\ntraj.h5,1.5\ntraj.h5,1.0\n")
    with pytest.raises(FileNotFoundError, match="2 rows for trajectory"):
        read_metadata([a], csv)
    csv.write_text("path,density\nx/traj.h5,1.5\nb.h5,1.0\n")
    with pytest.raises(FileNotFoundError, match="no row for trajectory"):
        read_metadata([a], csv)
    with pytest.raises(FileNotFoundError, match="no metadata"):
        c = tmp_path / "c" / "c.h5"
        c.parent.mkdir()
        read_metadata([c])


# ---------------------------------------------------------------- exact p-values, BH, min runs
def _brute_force_p(x, y):
    """Two-sided permutation p of Spearman's rho by enumerating every pairing with
    itertools, rho from the d² formula on ranks (distinct values): no code shared with
    hcanalysis.ensemble."""
    import itertools
    from math import factorial

    n = len(x)
    rx = np.argsort(np.argsort(x)) + 1
    ry = np.argsort(np.argsort(y)) + 1
    c = 6.0 / (n * (n * n - 1))
    obs = 1 - c * np.sum((rx - ry) ** 2)
    perms = np.array(list(itertools.permutations(ry)))
    null = 1 - c * np.sum((perms - rx) ** 2, axis=1)
    assert len(perms) == factorial(n)
    return obs, np.count_nonzero(np.abs(null) >= abs(obs) - 1e-12) / len(perms)


@pytest.mark.parametrize("n", [3, 5, 9])
def test_exact_p_of_planted_monotone_trends(n):
    from math import factorial

    from scipy.stats import spearmanr

    from hcanalysis.ensemble import spearman_permutation

    x = np.linspace(0.8, 1.6, n)                      # e.g. densities of n runs
    y = np.exp(2 * x)                                 # a perfect monotone trend
    rho, p, exact = spearman_permutation(x, y)
    assert exact and rho == pytest.approx(1.0)
    assert p == pytest.approx(2 / factorial(n), rel=1e-12)  # 1/3, 1/60, 1/181440
    assert p == pytest.approx(_brute_force_p(x, y)[1], rel=1e-12)
    if n == 3:
        assert p == pytest.approx(1 / 3)
        assert spearmanr(x, y).pvalue < 1e-6  # what the asymptotic formula said before
    # a decreasing trend is as significant; an imperfect one (two runs swapped) matches the
    # enumeration too
    assert spearman_permutation(x, -y)[1] == pytest.approx(p)
    z = y.copy()
    z[[0, 1]] = z[[1, 0]]
    r2, p2, _ = spearman_permutation(x, z)
    ref_rho, ref_p = _brute_force_p(x, z)
    assert r2 == pytest.approx(ref_rho) and p2 == pytest.approx(ref_p, rel=1e-12)
    assert p2 > p


def test_monte_carlo_p_agrees_with_the_exact_one():
    from hcanalysis.ensemble import spearman_permutation

    rng = np.random.default_rng(0)
    x = np.arange(9.0)
    y = x + rng.normal(0, 3, 9)
    _, exact_p, ex = spearman_permutation(x, y)
    _, mc_p, mc = spearman_permutation(x, y, exact_max_n=8, n_permutations=20000, seed=1)
    assert ex and not mc
    assert abs(mc_p - exact_p) < 4 * np.sqrt(exact_p * (1 - exact_p) / 20000) + 1e-4


def test_benjamini_hochberg_hand_computed():
    from hcanalysis.ensemble import benjamini_hochberg

    # m = 5 finite p-values (NaN is not a test). Sorted: .001 .008 .039 .041 .6
    # m p_(i) / i: .005 .02 .065 .05125 .6 -> running minimum from the top:
    #              .005 .02 .05125 .05125 .6
    p = np.array([[0.039, 0.001], [np.nan, 0.6], [0.008, 0.041]])
    want = np.array([[0.05125, 0.005], [np.nan, 0.6], [0.02, 0.05125]])
    np.testing.assert_allclose(benjamini_hochberg(p), want, rtol=1e-12)
    assert np.isnan(benjamini_hochberg([np.nan])).all()
    np.testing.assert_allclose(benjamini_hochberg([0.9, 0.95]), [0.95, 0.95])


def test_map_needs_min_runs_and_reports_n_per_cell():
    table, meta = planted_modes(seed=2, n_traj=8)
    table = table.rename(columns={"true_mode": "mode_name"})
    summary = summarise(table, ["hopping", "clustering", "void trapping", "caged"])
    with pytest.raises(ValueError, match="at least 5"):
        correlate(summary[summary["trajectory"] < 4], meta)
    summary.loc[summary["trajectory"] == 0, "mean_log_D"] = np.nan
    cmap = correlate(summary, meta)
    assert cmap.n == 8
    assert cmap.n_cell.loc["mean_log_D", "density"] == 7
    assert cmap.n_cell.loc["frac_caged", "density"] == 8
    assert cmap.exact.loc["frac_caged", "density"]
    cells = cmap.cells()
    finite = cells.dropna(subset=["p"])
    assert (finite["q"] >= finite["p"] - 1e-15).all()
    assert set(cmap.significant()["quantity"]) <= set(finite["quantity"])


def test_printed_lines_carry_n_p_q():
    table, meta = planted_modes(seed=2, n_traj=8)
    table = table.rename(columns={"true_mode": "mode_name"})
    cmap = correlate(summarise(table), meta)
    text = "\n".join(cmap.lines())
    assert "correlation map over 8 runs" in text and "Benjamini-Hochberg" in text
    assert "(n = 8, p = " in text and ", q = " in text
