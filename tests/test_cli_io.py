"""`hcanalysis info` and `hcanalysis convert` through hcanalysis.cli.main."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import triclinic_box

import hcanalysis as hca
from hcanalysis.cli import main
from hcanalysis.cli.io_cmds import box_lengths_angles, parse_type_map
from hcanalysis.errors import HCAnalysisError


@pytest.fixture
def h5(tmp_path, rng):
    n_frames, n_atoms = 12, 10
    pos = rng.random((n_frames, n_atoms, 3)) * 20
    img = rng.integers(-2, 3, (n_frames, n_atoms, 3))
    traj = hca.Trajectory.from_arrays(pos, triclinic_box(), ["C"] * 7 + ["Na"] * 3,
                                      dt_ps=0.5, images=img)
    return hca.write_h5md(traj, tmp_path / "in.h5", dtype=np.float64), pos, img


def test_version(capsys):
    assert main(["--version"]) == 0
    assert hca.__version__ in capsys.readouterr().out


def test_info_json(h5, capsys):
    path, *_ = h5
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["n_frames"] == 12 and info["n_atoms"] == 10
    assert info["species"] == {"C": 7, "Na": 3}
    assert info["dt_ps"] == pytest.approx(0.5)
    assert info["total_time_ps"] == pytest.approx(5.5)
    assert info["image_flags"] is True and info["velocities"] is False
    assert info["coords_unwrapped"] is False and info["box_changes"] is False
    assert info["format"] == "h5md"
    assert info["file_size_bytes"] == path.stat().st_size
    lengths, angles = box_lengths_angles(triclinic_box())
    np.testing.assert_allclose(info["box_lengths_A"], lengths)
    np.testing.assert_allclose(info["box_angles_deg"], angles)


def test_info_table(h5, capsys):
    path, *_ = h5
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "frames" in out and "12" in out and "Na: 3" in out and "C: 7" in out
    assert "0.5 ps" in out and "image flags" in out


def test_box_angles_analytic():
    lengths, angles = box_lengths_angles(np.diag([3.0, 4.0, 5.0]))
    np.testing.assert_allclose(lengths, [3, 4, 5])
    np.testing.assert_allclose(angles, [90, 90, 90])
    hexa = np.array([[2.0, 0, 0], [-1.0, np.sqrt(3.0), 0], [0, 0, 7.0]])
    np.testing.assert_allclose(box_lengths_angles(hexa)[1], [90, 90, 120])


def test_parse_type_map():
    assert parse_type_map("1:C, 2:Na") == {1: "C", 2: "Na"}
    assert parse_type_map(None) is None
    with pytest.raises(HCAnalysisError, match="type:element pairs"):
        parse_type_map("1=C")


def test_convert_select_float64(h5, tmp_path, capsys):
    path, pos, img = h5
    out = tmp_path / "na.h5"
    assert main(["convert", str(path), str(out), "--select", "Na", "--float64"]) == 0
    assert "wrote" in capsys.readouterr().err
    t = hca.load(out)
    assert list(t.species) == ["Na"] * 3
    assert np.array_equal(t.positions(), pos[:, 7:])
    assert np.array_equal(t.image_flags(), img[:, 7:])


def test_convert_refuses_existing_then_force(h5, tmp_path, capsys):
    path, pos, _ = h5
    out = tmp_path / "o.h5"
    out.write_bytes(b"keep me")
    assert main(["convert", str(path), str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hcanalysis: error: ") and "file exists" in err and "--force" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert out.read_bytes() == b"keep me"
    assert main(["convert", str(path), str(out), "--force"]) == 0
    assert np.array_equal(hca.load(out).positions(), pos.astype(np.float32))


def test_convert_onto_input_is_refused(h5, capsys):
    path, *_ = h5
    assert main(["convert", str(path), str(path), "--force"]) == 2
    assert "input trajectory" in capsys.readouterr().err
    assert hca.load(path).n_frames == 12


def test_info_errors_one_line(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing.h5")]) == 2
    err = capsys.readouterr().err
    assert "missing.h5: no such file" in err and "Traceback" not in err
    bad = tmp_path / "bad.h5"
    bad.write_text("not hdf5")
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hcanalysis: error: {bad}: not an HDF5 file")
    assert len(err.strip().splitlines()) == 1
    assert main(["info", str(bad), "--type-map", "1-C"]) == 2
    assert "type:element pairs" in capsys.readouterr().err


def test_empty_selection_error(h5, tmp_path, capsys):
    path, *_ = h5
    assert main(["convert", str(path), str(tmp_path / "x.h5"), "--select", "Li"]) == 2
    err = capsys.readouterr().err
    assert "no atoms of species Li" in err and "Traceback" not in err
    assert not (tmp_path / "x.h5").exists()
