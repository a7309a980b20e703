"""extxyz and ASE .traj through hcanalysis.load, compared with ase.io.read."""

from __future__ import annotations

import pickle
import warnings

import ase.io
import numpy as np
import pytest
from ase import Atoms, units
from conftest import triclinic_box

import hcanalysis as hca
from hcanalysis.errors import TrajectoryFormatError, TruncatedTrajectoryWarning

A_PER_PS = 1000.0 * units.fs


def make_images(rng, n_frames=7, n_atoms=20, velocities=True, time_key="time_fs"):
    symbols = ["C"] * (n_atoms - 5) + ["Na"] * 5
    out = []
    for i in range(n_frames):
        cell = triclinic_box() * (1 + 0.01 * i)
        a = Atoms(symbols, positions=rng.random((n_atoms, 3)) @ cell, cell=cell, pbc=True)
        if velocities:
            a.set_velocities(rng.normal(size=(n_atoms, 3)) * 0.05)
        if time_key:
            a.info[time_key] = 2.0 * i
        out.append(a)
    return out


@pytest.mark.parametrize("suffix", [".extxyz", ".xyz", ".traj"])
def test_agrees_with_ase_read(tmp_path, rng, suffix):
    path = tmp_path / f"run{suffix}"
    ase.io.write(path, make_images(rng))
    ref = ase.io.read(path, ":")
    t = hca.load(path)
    assert t.n_frames == 7 and t.n_atoms == 20
    assert list(t.species) == ref[0].get_chemical_symbols()
    assert np.array_equal(t.positions(), np.array([a.positions for a in ref]))
    assert np.array_equal(t.boxes(), np.array([a.cell[:] for a in ref]))
    np.testing.assert_allclose(t.velocities(),
                               np.array([a.get_velocities() for a in ref]) * A_PER_PS,
                               rtol=1e-12)
    np.testing.assert_allclose(t.time_ps, 0.002 * np.arange(7))
    assert not t.box_is_constant
    # random access of frames x atoms
    fr, at = [6, 1, 3], [19, 0, 7, 7]
    assert np.array_equal(t.positions(at, frames=fr),
                          np.array([ref[f].positions[at] for f in fr]))


def test_extxyz_no_times_and_dt(tmp_path, rng):
    path = tmp_path / "n.xyz"
    ase.io.write(path, make_images(rng, 3, velocities=False, time_key=None))
    t = hca.load(path)
    np.testing.assert_allclose(t.time_ps, [0, 1, 2])
    assert any("give dt_ps" in n for n in t.notes)
    assert not t.has_velocities
    t2 = hca.load(path, dt_ps=0.05)
    np.testing.assert_allclose(t2.time_ps, [0, 0.05, 0.1])


def test_info_time_taken_as_ps(tmp_path, rng):
    path = tmp_path / "t.traj"
    ase.io.write(path, make_images(rng, 3, time_key="time"))
    t = hca.load(path)
    np.testing.assert_allclose(t.time_ps, [0, 2, 4])
    assert any("assumed to be in ps" in n for n in t.notes)


def test_h5md_from_extxyz(tmp_path, rng):
    path = tmp_path / "r.extxyz"
    ase.io.write(path, make_images(rng))
    t = hca.load(path)
    back = hca.load(hca.write_h5md(t, tmp_path / "r.h5", dtype=np.float64))
    assert np.array_equal(back.positions(), t.positions())
    assert np.array_equal(back.velocities(), t.velocities())
    assert np.array_equal(back.time_ps, t.time_ps)
    assert list(back.species) == list(t.species)


def test_to_ase_from_ase_roundtrip(rng):
    images = make_images(rng, 4, velocities=False)
    t = hca.Trajectory.from_ase(images, dt_ps=0.1)
    assert np.array_equal(t.positions(), np.array([a.positions for a in images]))
    back = t.to_ase()
    for a, b in zip(images, back, strict=True):
        assert np.array_equal(a.positions, b.positions)
        assert np.array_equal(a.cell[:], b.cell[:])
        assert a.get_chemical_symbols() == b.get_chemical_symbols()


def test_pickle_traj_source(tmp_path, rng):
    path = tmp_path / "p.traj"
    ase.io.write(path, make_images(rng, 3))
    t = hca.load(path)
    clone = pickle.loads(pickle.dumps(t.source))
    assert np.array_equal(clone.read(np.arange(3)).positions, t.positions())


# ------------------------------------------------------------------ bad inputs
def _xyz_frames(path, rng, n_frames, n_atoms=4):
    ase.io.write(path, make_images(rng, n_frames, n_atoms=n_atoms + 5, velocities=False)[:])
    return path.read_text().splitlines(keepends=True)


def test_truncated_extxyz_keeps_complete_frames(tmp_path, rng):
    path = tmp_path / "tr.xyz"
    lines = _xyz_frames(path, rng, 3)
    path.write_text("".join(lines[:-3]))
    with pytest.warns(TruncatedTrajectoryWarning, match="frame 2 is truncated"):
        t = hca.load(path)
    assert t.n_frames == 2
    assert any("truncated" in n for n in t.notes)


def test_atom_count_change(tmp_path, rng):
    path = tmp_path / "ac.xyz"
    lines = _xyz_frames(path, rng, 3)
    per = len(lines) // 3
    lines[per] = "8\n"
    path.write_text("".join(lines[: per + 10]))
    with pytest.raises(TrajectoryFormatError,
                       match=rf"ac\.xyz, frame 1, line {per + 1}: atom count changes from 9 to 8"):
        hca.load(path)


def test_missing_lattice(tmp_path):
    path = tmp_path / "nl.xyz"
    path.write_text("2\nno cell here\nNa 0 0 0\nC 1 1 1\n")
    with pytest.raises(TrajectoryFormatError, match=r"frame 0, line 2: no Lattice="):
        hca.load(path)


def test_nan_names_frame_and_atom(tmp_path, rng):
    path = tmp_path / "nan.extxyz"
    images = make_images(rng, 3, n_atoms=6, velocities=False)
    images[2].positions[4, 0] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ase.io.write(path, images)
    t = hca.load(path)
    with pytest.raises(TrajectoryFormatError,
                       match=r"nan\.extxyz, frame 2: non-finite coordinate \(nan\) for atom 4"):
        t.positions()


def test_not_readable(tmp_path):
    path = tmp_path / "junk.traj"
    path.write_bytes(b"\x00garbage")
    with pytest.raises(TrajectoryFormatError, match=r"junk\.traj: ASE cannot read it"):
        hca.load(path)


def test_exyz_suffix_is_extxyz(tmp_path):
    """``.exyz`` (used by kinisi's examples) is read as extended XYZ."""
    import ase.io
    from ase import Atoms

    import hcanalysis as hca

    frames = [Atoms("NaC", positions=[[0, 0, 0], [1, 1, 1 + 0.1 * i]], cell=np.eye(3) * 5,
                    pbc=True) for i in range(3)]
    path = tmp_path / "t.exyz"
    ase.io.write(path, frames, format="extxyz")
    traj = hca.load(path)
    assert traj.n_frames == 3
    np.testing.assert_allclose(traj.positions()[2, 1], [1, 1, 1.2])
