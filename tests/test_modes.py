"""ModeFinder on trajectories with planted behaviours (run through descriptors.compute): it
recovers and names the planted modes, says "one mode" for a homogeneous population and for
a column-permuted table, stores the evidence of each name; the naming rules themselves on
hand-made rows; the contract; errors. The full planted suite is test_modes_planted.py."""

import numpy as np
import pandas as pd
import pytest
from modes_suite import CASES, EXPECTED, NULL_CASES, permuted, score, table
from sklearn.metrics import adjusted_rand_score

from hcanalysis.modes import (
    CAGED,
    CLUSTERING,
    HOPPING,
    MODE_NAMES,
    UNASSIGNED,
    VOID_TRAPPING,
    ModeFinder,
    NamingThresholds,
    design_effect,
    name_modes,
)


@pytest.fixture(scope="module")
def planted():
    return table(CASES[2])  # cluster20+void20 in the melt-quenched a-C


@pytest.fixture(scope="module")
def fitted(planted):
    frame, _ = planted
    return ModeFinder(random_state=0).fit(frame)


def test_contract_and_recovery(planted, fitted):
    frame, truth = planted
    assert frame["ion"].dtype.kind == "i" and frame["window"].dtype.kind == "i"
    assert fitted.labels_.shape == (len(frame),)
    assert fitted.n_modes_ == len(set(fitted.labels_)) >= 2
    assert set(fitted.mode_names_) == set(range(fitted.n_modes_))
    assert set(fitted.mode_names_.values()) <= set(MODE_NAMES)
    s = score(frame, truth, fitted)
    assert s["ari"] >= 0.85, s
    assert s["names_right"] == s["groups"], s["named"]
    # the evidence of each name: every criterion passed, with value and threshold
    for lab, name in fitted.mode_names_.items():
        if name != UNASSIGNED:
            crits = fitted.evidence_[lab][name]
            assert crits and all(c["passed"] for c in crits)
            assert all(np.isfinite(c["value"]) and np.isfinite(c["threshold"]) for c in crits)
    assert fitted.status_ == "modes" and fitted.stability_["mean"] >= 0.8
    assert fitted.embedding_.shape == (len(frame), 2)
    summ = fitted.summary()
    assert list(summ["name"]) == [fitted.mode_names_[k] for k in range(fitted.n_modes_)]
    assert "≥" in " ".join(summ["evidence"]) or "≤" in " ".join(summ["evidence"])


def test_reproducible_and_predict(planted, fitted):
    frame, _ = planted
    again = ModeFinder(random_state=0, embed=False).fit(frame)
    np.testing.assert_array_equal(again.labels_, fitted.labels_)
    pred = fitted.predict(frame.iloc[:100])
    assert adjusted_rand_score(pred, fitted.labels_[:100]) > 0.9


def test_column_permuted_table_is_one_mode(planted):
    frame, _ = planted
    n_modes = [ModeFinder(random_state=s, embed=False).fit(permuted(frame, s)).n_modes_
               for s in range(4)]
    assert n_modes == [1, 1, 1, 1]


@pytest.mark.parametrize("case,name", [(0, VOID_TRAPPING), (1, CAGED)])
def test_homogeneous_population_is_one_mode(case, name):
    """Na wandering in equal pores of the fragment framework (case 0) split into two modes
    by their surroundings (carbon density, Na–C distance) before components had to differ
    in a behaviour column to be two modes (modes.BEHAVIOUR)."""
    frame, _ = table(NULL_CASES[case])
    for seed in (0, 2):  # the seeds at which case 0 gave 2 modes before
        mf = ModeFinder(random_state=seed, embed=False).fit(frame)
        assert mf.n_modes_ == 1 and set(mf.labels_) == {0}, mf.verdict()
        assert mf.status_.startswith("one mode")
        assert mf.mode_names_[0] == name, mf.naming_rules_


def _rows(n, **cols):
    return pd.DataFrame({k: np.full(n, v, dtype=float) for k, v in cols.items()})


def test_naming_rules_on_hand_made_rows():
    """The rules themselves (absolute thresholds), on rows built to sit on either side."""
    base = dict(msd_plateau=0.05, hop_rate=0.0, hop_length=0.0, nana_partner_persistence=0.0,
                nana_enrichment=0.0, d_NaC_min=2.4, net_displacement=0.3)
    hop = {**base, "msd_plateau": 9.0, "hop_rate": 0.1, "hop_length": 3.5}
    clus = {**base, "nana_partner_persistence": 1.0, "nana_enrichment": 8.0, "msd_plateau": 0.6}
    # crowded: the same neighbours all window, but no more of them than at random
    crowd = {**base, "nana_partner_persistence": 1.0, "nana_enrichment": 1.1}
    void = {**base, "msd_plateau": 6.0, "d_NaC_min": 3.5, "net_displacement": 2.0}
    short = {**hop, "hop_length": 1.0}  # hops shorter than a site spacing: not hopping
    # vibrating only, far from the wall: caged (void trapping is moving inside the void)
    still = {**base, "d_NaC_min": 3.5}
    frame = pd.concat([_rows(10, **r) for r in (hop, clus, void, base, short, crowd, still)],
                      ignore_index=True)
    labels = np.repeat(np.arange(7), 10)
    names, rules, evidence, th = name_modes(frame, labels)
    assert names == {0: HOPPING, 1: CLUSTERING, 2: VOID_TRAPPING, 3: CAGED, 4: UNASSIGNED,
                     5: CAGED, 6: CAGED}
    assert not all(c["passed"] for c in evidence[6][VOID_TRAPPING])
    # cage radius from the data: half the median nearest Na–C distance
    assert th["cage_radius"] == pytest.approx(0.5 * np.median(frame["d_NaC_min"]))
    assert "hop length 1" in rules[4] and "✗" in rules[4]
    # thresholds are configurable: a 0.5 Å "site spacing" makes the short hops hopping
    names2, *_ = name_modes(frame, labels, NamingThresholds(min_hop_length=0.5))
    assert names2[4] == HOPPING
    # two modes with one name get the reason
    twins = pd.concat([_rows(10, **hop), _rows(10, **{**hop, "hop_length": 4.5})],
                      ignore_index=True)
    names3, rules3, *_ = name_modes(twins, np.repeat([0, 1], 10))
    assert names3 == {0: HOPPING, 1: HOPPING} and "shares the name" in rules3[0]


def test_no_hops_no_hopping():
    """A table whose hop columns are all zero can never produce a hopping mode."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"msd_plateau": 10 ** rng.normal(0, 1, 200), "hop_rate": 0.0,
                          "hop_length": 0.0, "p_hop_max": 10 ** rng.normal(0, 1, 200)})
    mf = ModeFinder(random_state=0, embed=False).fit(frame)
    assert HOPPING not in mf.mode_names_.values()


def test_components_differing_only_in_surroundings_are_one_mode():
    """merge_map: two components far apart in an environment column (carbon density) but
    not in a behaviour column are one mode; apart in mobility they are two."""
    from sklearn.mixture import GaussianMixture

    from hcanalysis.modes import merge_map

    rng = np.random.default_rng(3)
    a = rng.normal(0, 1, (300, 2))
    env = np.r_[a[:150] + [0, 8], a[150:]]  # column 1 (environment) split, column 0 not
    g = GaussianMixture(2, covariance_type="diag", random_state=0).fit(env)
    behaviour = np.array([True, False])
    assert merge_map(g, 2.0, behaviour).tolist() == [0, 0]
    assert sorted(merge_map(g, 2.0).tolist()) == [0, 1]  # every column: two modes
    mob = np.r_[a[:150] + [8, 0], a[150:]]  # the behaviour column split
    g = GaussianMixture(2, covariance_type="diag", random_state=0).fit(mob)
    assert sorted(merge_map(g, 2.0, behaviour).tolist()) == [0, 1]


def test_design_effect():
    rng = np.random.default_rng(1)
    ion = np.repeat(np.arange(100), 4)
    same = np.repeat(rng.normal(size=100), 4)[:, None]  # windows identical within an ion
    deff, icc = design_effect(same, ion)
    assert icc == pytest.approx(1.0) and deff == pytest.approx(4.0)
    indep = rng.normal(size=(400, 1))
    deff, icc = design_effect(indep, ion)
    assert icc < 0.15 and deff < 1.5


def test_errors(planted):
    frame, _ = planted
    with pytest.raises(ValueError, match="no column"):
        ModeFinder(features=["nope"]).fit(frame)
    with pytest.raises(ValueError, match="use 'descriptors'"):
        ModeFinder(cluster_on="umap").fit(frame)
    with pytest.raises(ValueError, match="at least 10"):
        ModeFinder().fit(frame.iloc[:2])


def test_umap_functions_get_an_on_disk_cache():
    """umap-learn compiles its layout without cache=True; hcanalysis switches Numba's cache
    on, so a new process does not recompile it (~7 s per `hcanalysis analyze`)."""
    from hcanalysis.modes import import_umap_cached

    mod = import_umap_cached()
    from umap import layouts

    fn = layouts._nb_optimize_layout_euclidean_single_epoch  # the SGD epoch kernel
    assert type(fn._cache).__name__ != "NullCache"
    assert import_umap_cached() is mod


def test_expected_names_cover_the_planted_behaviours():
    assert set(EXPECTED.values()) == {HOPPING, CLUSTERING, VOID_TRAPPING, CAGED}
