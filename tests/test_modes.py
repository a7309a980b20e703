"""ModeFinder recovers planted diffusion modes, their count, their names; it is reproducible."""

import numpy as np
import pytest
from planted import planted_modes
from sklearn.metrics import adjusted_rand_score

from hcanalysis.modes import CAGED, CLUSTERING, HOPPING, VOID_TRAPPING, ModeFinder, name_modes


@pytest.fixture(scope="module")
def planted():
    return planted_modes(seed=3)


@pytest.fixture(scope="module")
def fitted(planted):
    table, _ = planted
    return ModeFinder(random_state=0, max_modes=6).fit(table)


def test_recovers_planted_modes(planted, fitted):
    table, _ = planted
    assert fitted.n_modes_ == 4
    assert adjusted_rand_score(table["true_mode"], fitted.labels_) >= 0.9
    # every planted mode gets its physical name
    named = fitted.named_labels()
    for truth in (HOPPING, CLUSTERING, VOID_TRAPPING, CAGED):
        agree = np.mean(named[table["true_mode"].to_numpy() == truth] == truth)
        assert agree >= 0.9, truth
    assert sorted(fitted.mode_names_.values()) == sorted(
        [HOPPING, CLUSTERING, VOID_TRAPPING, CAGED]
    )
    # the most mobile mode is label 0
    assert fitted.mode_names_[0] == HOPPING
    assert min(fitted.bic_, key=fitted.bic_.get) == 4
    assert fitted.stability_["mean"] > 0.8


def test_reproducible_and_predict(planted, fitted):
    table, _ = planted
    again = ModeFinder(random_state=0, max_modes=6, stability_seeds=0,
                       stability_bootstraps=0).fit(table)
    np.testing.assert_array_equal(again.labels_, fitted.labels_)
    np.testing.assert_allclose(again.embedding_, fitted.embedding_)
    assert fitted.embedding_.shape == (len(table), 2)
    pred = fitted.predict(table.iloc[:200])
    assert adjusted_rand_score(pred, fitted.labels_[:200]) > 0.9


def test_dynamic_subset_without_umap(planted):
    table, _ = planted
    mf = ModeFinder(features="dynamic", embed=False, random_state=1, max_modes=6,
                    stability_seeds=0, stability_bootstraps=1).fit(table)
    assert set(mf.features_) <= {"log_D", "alpha", "hop_rate", "hop_length", "p_hop_max"}
    assert mf.mode_names_[0] == HOPPING
    assert adjusted_rand_score(table["true_mode"], mf.labels_) > 0.8


def test_name_rules_on_centroids():
    import pandas as pd

    z = pd.DataFrame(
        {"log_D": [2.0, -0.5, -1.0, -0.8], "hop_rate": [1.5, 0.0, -0.5, -0.5],
         "n_NaNa": [0.0, 2.0, -0.3, 0.1], "pore_radius": [0.0, 0.0, 1.5, -0.2]}
    )
    names, rules = name_modes(z)
    assert names == {0: HOPPING, 1: CLUSTERING, 2: VOID_TRAPPING, 3: CAGED}
    assert "mobile" in rules[0] and "pore" in rules[2]
    # no mobility contrast and nothing else stands out: all caged
    flat = pd.DataFrame({"log_D": [0.1, 0.0], "n_NaNa": [0.1, 0.0]})
    assert set(name_modes(flat)[0].values()) == {CAGED}
    # two mobile modes (split by structure) are both hopping; the slow one is caged
    two = pd.DataFrame({"log_D": [0.6, 0.5, -1.2], "n_NaNa": [-0.3, 0.2, 0.1]})
    assert name_modes(two)[0] == {0: HOPPING, 1: HOPPING, 2: CAGED}


def test_cluster_on_umap_option(planted):
    table, _ = planted
    mf = ModeFinder(cluster_on="umap", min_dist=0.3, random_state=0, max_modes=5,
                    stability_seeds=0, stability_bootstraps=0).fit(table)
    assert adjusted_rand_score(table["true_mode"], mf.labels_) >= 0.9
    assert mf.predict(table.iloc[:50]).shape == (50,)


def test_errors(planted):
    table, _ = planted
    with pytest.raises(ValueError, match="no column"):
        ModeFinder(features=["nope"]).fit(table)
    with pytest.raises(ValueError, match="needs embed=True"):
        ModeFinder(cluster_on="umap", embed=False).fit(table)
    with pytest.raises(ValueError, match="at least 3"):
        ModeFinder().fit(table.iloc[:2])


def test_umap_functions_get_an_on_disk_cache():
    """umap-learn compiles its layout without cache=True; hcanalysis switches Numba's cache
    on, so a new process does not recompile it (~7 s per `hcanalysis analyze`)."""
    from hcanalysis.modes import import_umap_cached

    mod = import_umap_cached()
    from umap import layouts

    fn = layouts._nb_optimize_layout_euclidean_single_epoch  # the SGD epoch kernel
    assert type(fn._cache).__name__ != "NullCache"
    assert import_umap_cached() is mod
