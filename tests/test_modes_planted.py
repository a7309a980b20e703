"""The planted-trajectory suite (issue 14), CI part: trajectories with planted behaviours
placed in real carbon frameworks (tests/data/frameworks: a build_fragments cell and a
LAMMPS melt-quenched amorphous carbon), run through descriptors.compute and ModeFinder.

CI runs a representative subset (small cases of both frameworks, 2-4 behaviours, among them
5 hoppers among 100 Na, and two homogeneous populations with their column-permuted copies);
the full suite (22 cases + 26 null runs) is ``python tests/modes_suite.py`` and its results
are committed in benchmarks/results/modes_suite.md. The generator (tests/planted_traj.py) is
written in physical terms and shares no threshold with the names."""

import numpy as np
import pytest
from modes_suite import CASES, NULL_CASES, run_suite, table
from planted_traj import FRAMEWORKS, load_framework

#: the CI subset: indices into CASES and NULL_CASES
CI_CASES = (1, 2, 6)
CI_NULLS = (1,)


def test_frameworks_are_what_they_say():
    """The committed frameworks are the builders' output the README describes."""
    from ase.io import read
    from planted_traj import FRAMEWORK_DIR

    from mdrunner.builders import describe
    from mdrunner.lammps_builders import carbon_report

    frag = read(FRAMEWORK_DIR / FRAMEWORKS["fragments"])
    rep = describe(frag)
    assert len(frag) == 1000 and set(frag.get_chemical_symbols()) == {"C"}
    assert rep.carbon_density == pytest.approx(0.8, abs=1e-3)
    assert rep.min_distance == pytest.approx(1.309, abs=0.01)
    ac = read(FRAMEWORK_DIR / FRAMEWORKS["aC"])
    figs, _ = carbon_report(ac, warn=False)
    assert len(ac) == 640
    assert figs["density_g_cm3"] == pytest.approx(1.2, abs=1e-3)
    # a melt-quenched sp2 carbon, not a fragment model: mostly threefold, few sp3
    assert figs["sp2"] == pytest.approx(0.847, abs=0.005) and figs["sp3"] < 0.05
    assert figs["rings"][6] == 100 and figs["largest_void_radius_A"] > 5.5
    carbon, box = load_framework("aC")
    assert box == pytest.approx(21.99, abs=0.01) and carbon.min() >= 0 and carbon.max() < box


@pytest.fixture(scope="module")
def suite():
    cases = [CASES[i] for i in CI_CASES]
    nulls = [NULL_CASES[i] for i in CI_NULLS]
    return run_suite([table(c) for c in cases], [table(c) for c in nulls], null_seeds=2,
                     cases=cases, null_cases=nulls)


def test_planted_modes_recovered_and_named(suite):
    assert {CASES[i].framework for i in CI_CASES} == {"fragments", "aC"}
    assert suite["median_ari"] >= 0.9, [(r["case"], round(r["ari"], 2)) for r in suite["cases"]]
    assert suite["names_right"] >= 0.9 * suite["groups"], [
        (r["case"], r["named"]) for r in suite["cases"] if r["names_right"] < r["groups"]]
    # 5 hoppers among 100 Na: their own mode, named hopping
    few = next(r for r in suite["cases"] if r["case"].startswith("hopping5+caged95"))
    assert few["named"]["hopping"] == "hopping" and few["ari"] >= 0.8, few


def test_null_cases_give_one_mode(suite):
    assert suite["n_null"] >= 5
    assert suite["null_one_mode_rate"] == 1.0, [n for n in suite["nulls"] if n["n_modes"] > 1]
    # a homogeneous population is still named from its physics
    named = [n["names"] for n in suite["nulls"] if "names" in n]
    assert named and all(len(n) == 1 and n[0] != "hopping" for n in named), named
    assert np.all([n["n_modes"] == 1 for n in suite["nulls"]])
