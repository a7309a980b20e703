"""MDAnalysis-read formats (XTC, TRR, DCD with PDB/GRO/PSF/LAMMPS data topologies) agree with
MDAnalysis' own reading; Universe round trips; topology errors."""

from __future__ import annotations

import json
import warnings

import MDAnalysis as mda
import numpy as np
import pytest
from conftest import triclinic_box
from MDAnalysis.lib.mdamath import triclinic_vectors
from MDAnalysisTests.datafiles import (
    DCD,
    DCD_TRICLINIC,
    GRO,
    PSF,
    PSF_TRICLINIC,
    TRR,
    XTC,
    LAMMPSdata2,
    LAMMPSdcd2,
)

import hcanalysis as hca
from hcanalysis.cli import main
from hcanalysis.errors import TrajectoryFormatError

warnings.filterwarnings("ignore", module="MDAnalysis")


def assert_agrees(traj, u, atoms=None, vel=False):
    assert traj.n_frames == u.trajectory.n_frames and traj.n_atoms == u.atoms.n_atoms
    sel = slice(None) if atoms is None else atoms
    pos = traj.positions(atoms)
    boxes = traj.boxes()
    for i, ts in enumerate(u.trajectory):
        assert np.array_equal(pos[i], ts.positions[sel].astype(np.float64))
        np.testing.assert_allclose(boxes[i], triclinic_vectors(ts.dimensions), atol=1e-5)
        assert traj.time_ps[i] == pytest.approx(ts.time)
        if vel:
            assert np.array_equal(traj.velocities(atoms, frames=i)[0], ts.velocities[sel])


@pytest.mark.parametrize("top,trj,vel", [(GRO, XTC, False), (GRO, TRR, True),
                                         (PSF_TRICLINIC, DCD_TRICLINIC, False)])
def test_agrees_with_mdanalysis(top, trj, vel, rng):
    t = hca.load(trj, topology=top)
    u = mda.Universe(top, trj)
    atoms = np.sort(rng.choice(u.atoms.n_atoms, 200, replace=False))
    assert_agrees(t, u, atoms, vel=vel)
    assert t.has_velocities is vel
    # arbitrary frames x atoms
    fr = [7, 2, 2, 9]
    at = [5, 0, 333, 5]
    ref = np.array([u.trajectory[f].positions[at] for f in fr])
    assert np.array_equal(t.positions(at, frames=fr), ref)


def test_species_from_masses_and_triclinic_box():
    t = hca.load(DCD_TRICLINIC, topology=PSF_TRICLINIC)
    assert t.counts() == {"O": 125, "H": 250}
    assert any("guessed from masses" in n for n in t.notes)
    assert not np.allclose(t.box(0), np.diag(np.diag(t.box(0))))  # really triclinic


def test_gro_species_keep_unmatched_type_names():
    t = hca.load(XTC, topology=GRO)
    c = t.counts()
    assert c["Na"] == 4 and c["O"] == 11404 and c["DUMMY"] == 11084
    assert any("DUMMY" in n for n in t.notes)


def test_lammps_data_topology_type_map():
    u = mda.Universe(LAMMPSdata2, LAMMPSdcd2)
    tmap = {int(k): ("Na" if k == "1" else "C") for k in set(u.atoms.types)}
    t = hca.load(LAMMPSdcd2, topology=LAMMPSdata2, type_map=tmap)
    assert_agrees(t, u)
    expect = np.where(u.atoms.types == "1", "Na", "C")
    assert np.array_equal(t.species, expect)
    g = hca.load(LAMMPSdcd2, topology=LAMMPSdata2)  # no map: masses
    assert set(g.species) <= {"H", "C", "N", "O", "S", "Na", "Cl"} and "Na" in set(g.species)


def test_type_map_missing_type():
    with pytest.raises(TrajectoryFormatError, match=r"type id 2 is not in the type_map"):
        hca.load(LAMMPSdcd2, topology=LAMMPSdata2, type_map={1: "Na"})


def test_missing_topology_error(capsys):
    with pytest.raises(TrajectoryFormatError, match=r"adk_oplsaa\.xtc: a \.xtc file has no atom "
                                                     r"names or types: give a topology"):
        hca.load(XTC)
    assert main(["info", XTC]) == 2
    err = capsys.readouterr().err
    assert "give a topology" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    with pytest.raises(FileNotFoundError, match="nope.pdb: no such topology file"):
        hca.load(XTC, topology="nope.pdb")


def test_no_box_is_an_error():
    with pytest.raises(TrajectoryFormatError, match=r"adk_dims\.dcd, frame 0: no periodic box"):
        hca.load(DCD, topology=PSF)


def test_dt_override():
    t = hca.load(DCD_TRICLINIC, topology=PSF_TRICLINIC, dt_ps=0.25)
    np.testing.assert_allclose(t.time_ps, 0.25 * np.arange(t.n_frames))


def test_universe_roundtrip(rng):
    n_frames, n_atoms = 6, 15
    box = triclinic_box()
    pos = rng.random((n_frames, n_atoms, 3)) @ box
    species = ["C"] * 10 + ["Na"] * 5
    t = hca.Trajectory.from_arrays(pos, box, species, dt_ps=0.5)
    u = t.to_universe()
    assert u.trajectory.n_frames == n_frames
    back = hca.Trajectory.from_universe(u)
    assert list(back.species) == species
    np.testing.assert_array_equal(back.positions(), pos.astype(np.float32))
    np.testing.assert_allclose(back.boxes(), t.boxes(), atol=2e-5)
    np.testing.assert_allclose(back.time_ps, t.time_ps, atol=1e-6)
    na = hca.Trajectory.from_universe(u, "element Na")
    assert na.n_atoms == 5 and set(na.species) == {"Na"}
    np.testing.assert_array_equal(na.positions(), pos[:, 10:].astype(np.float32))


def test_from_universe_file_agrees():
    u = mda.Universe(PSF_TRICLINIC, DCD_TRICLINIC)
    t = hca.Trajectory.from_universe(u, "name OH2")
    assert t.n_atoms == 125 and set(t.species) == {"O"}
    u.trajectory[4]
    assert np.array_equal(t.positions(frames=4)[0], u.select_atoms("name OH2").positions)


def test_cli_info_and_convert_xtc(tmp_path, capsys):
    assert main(["info", XTC, "--topology", GRO, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["n_frames"] == 10 and info["n_atoms"] == 47681
    assert info["format"] == "mdanalysis" and info["species"]["Na"] == 4
    np.testing.assert_allclose(info["box_angles_deg"], [60, 60, 90], atol=1e-3)
    assert info["dt_ps"] == pytest.approx(100.0, rel=1e-6)
    out = tmp_path / "x.h5"
    assert main(["convert", XTC, str(out), "--topology", GRO, "--select", "Na,O"]) == 0
    t = hca.load(out)
    u = mda.Universe(GRO, XTC)
    idx = np.flatnonzero(np.isin(hca.load(XTC, topology=GRO).species, ["Na", "O"]))
    u.trajectory[9]
    assert np.array_equal(t.positions(frames=9)[0], u.atoms.positions[idx].astype(np.float64))
    np.testing.assert_allclose(t.box(9), triclinic_vectors(u.dimensions), atol=1e-5)
