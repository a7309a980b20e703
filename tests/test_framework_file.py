"""Ion-only trajectories + a framework structure file (hcanalysis.load(..., framework=)):
the same descriptors as the trajectory that holds the framework in every frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import synthetic_traj as st
from ase import Atoms
from ase.io import write
from test_pipeline import _config  # the pipeline tests' small-cell analysis settings

import hcanalysis as hca
from hcanalysis.cli import main
from hcanalysis.descriptors import compute
from hcanalysis.errors import TrajectoryFormatError


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A rigid-framework trajectory written twice: whole (C in every frame, C after the
    ions) and ions only + the framework as an extxyz file."""
    d = tmp_path_factory.mktemp("fw")
    src = st.make(n_frames=80, seed=2)
    sp = np.asarray(src.species)
    na, c = np.flatnonzero(sp == "Na"), np.flatnonzero(sp == "C")
    pos = src.positions()
    box = src.box(0)
    c0 = pos[0, c]
    whole = np.concatenate([pos[:, na], np.broadcast_to(c0, (len(pos), len(c), 3))], axis=1)
    species = ["Na"] * len(na) + ["C"] * len(c)
    hca.write_h5md(hca.Trajectory.from_arrays(whole, box, species, dt_ps=src.dt_ps),
                   d / "whole.h5")
    hca.write_h5md(hca.Trajectory.from_arrays(pos[:, na], box, ["Na"] * len(na),
                                              dt_ps=src.dt_ps), d / "ions.h5")
    write(d / "framework.extxyz", Atoms(["C"] * len(c), positions=c0, cell=box, pbc=True))
    wrong = box.copy()
    wrong[0, 0] += 0.5
    write(d / "wrong_cell.extxyz", Atoms(["C"] * len(c), positions=c0, cell=wrong, pbc=True))
    return d


def test_same_descriptors_as_framework_in_every_frame(files):
    whole = hca.load(files / "whole.h5")
    joined = hca.load(files / "ions.h5", framework=files / "framework.extxyz")
    assert joined.n_atoms == whole.n_atoms and list(joined.species) == list(whole.species)
    assert np.allclose(joined.positions(frames=[0, 41, 79]),
                       whole.positions(frames=[0, 41, 79]), atol=1e-4)
    a = compute(whole, _config()).to_pandas()
    b = compute(joined, _config()).to_pandas()
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True),
                                  check_exact=False, rtol=1e-4, atol=1e-4)


def test_box_mismatch_and_not_ion_only_are_errors(files):
    with pytest.raises(TrajectoryFormatError, match=r"frame 0: box .* differs .* by 0\.5"):
        hca.load(files / "ions.h5", framework=files / "wrong_cell.extxyz")
    with pytest.raises(TrajectoryFormatError, match="already holds C"):
        hca.load(files / "whole.h5", framework=files / "framework.extxyz")


def test_cli_framework_option(files, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["analyze", str(files / "ions.h5"), "-o", str(out), "--framework",
               str(files / "framework.extxyz"), "--set", "windows.window=40",
               "--set", "voids.spacing=0.5"])
    assert rc == 0 and (out / "descriptors.h5").exists()
    rc = main(["analyze", str(files / "ions.h5"), "-o", str(tmp_path / "o2"), "--framework",
               str(files / "wrong_cell.extxyz")])
    assert rc != 0
    assert "differs from the cell of the framework" in capsys.readouterr().err


def test_family_commands_take_the_framework_file(files, tmp_path, capsys):
    """``--framework FILE`` means the same in the family commands as in ``analyze``: the
    structure command on the ion-only file + framework writes the numbers it writes for the
    trajectory that holds the framework in every frame; a species there is a clear error."""
    import h5py

    a, b = tmp_path / "whole.h5", tmp_path / "joined.h5"
    common = ["--window", "40", "--frames-per-window", "4"]
    assert main(["structure", str(files / "whole.h5"), "-o", str(a), *common]) == 0
    assert main(["structure", str(files / "ions.h5"), "-o", str(b), *common, "--framework",
                 str(files / "framework.extxyz")]) == 0
    with h5py.File(a) as fa, h5py.File(b) as fb:
        names = [k for k in fa["per_ion"] if isinstance(fa["per_ion"][k], h5py.Dataset)]
        assert "n_NaC" in names
        for k in names:
            np.testing.assert_allclose(fa["per_ion"][k][()], fb["per_ion"][k][()],
                                       rtol=1e-4, atol=1e-4, err_msg=k)
    capsys.readouterr()
    assert main(["structure", str(files / "ions.h5"), "-o", str(tmp_path / "x.h5"),
                 "--framework", "C"]) != 0
    assert "--framework C: no such file" in capsys.readouterr().err


def test_framework_stored_once_in_the_h5md_file(files, tmp_path):
    """An H5MD file with the ions per frame and the rigid framework stored once
    (/particles/framework, time-independent) loads as the whole system, without --framework:
    the same atoms, positions and descriptors as the file with C in every frame."""
    import shutil

    from ase.io import read

    from hcanalysis.io.h5md import read_static_framework, write_static_framework

    once = tmp_path / "once.h5"
    shutil.copy(files / "ions.h5", once)
    fw = read(files / "framework.extxyz")
    write_static_framework(once, fw.get_chemical_symbols(), fw.get_positions(), fw.cell[:])
    sp, pos, cell = read_static_framework(once)
    assert list(sp) == fw.get_chemical_symbols() and np.array_equal(pos, fw.get_positions())
    assert read_static_framework(files / "ions.h5") is None
    whole = hca.load(files / "whole.h5")
    joined = hca.load(once)
    assert list(joined.species) == list(whole.species)
    assert np.allclose(joined.positions(frames=[0, 79]), whole.positions(frames=[0, 79]),
                       atol=1e-4)
    a = compute(whole, _config()).to_pandas()
    b = compute(joined, _config()).to_pandas()
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True),
                                  check_exact=False, rtol=1e-4, atol=1e-4)
    with pytest.raises(TrajectoryFormatError, match="stores its framework once"):
        hca.load(once, framework=files / "framework.extxyz")
