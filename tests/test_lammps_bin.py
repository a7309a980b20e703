"""LAMMPS binary dumps: written by LAMMPS itself (same run as the text dumps), and synthetic
files with several per-processor chunks, the pre-2021 layout and bad input."""

from __future__ import annotations

import struct
import warnings

import numpy as np
import pytest
from lammps_fixture import BIN_STYLES

import hcanalysis as hc
from hcanalysis.errors import TrajectoryFormatError, TruncatedTrajectoryWarning
from hcanalysis.io.lammps_bin import LammpsBinarySource

TMAP = {1: "C", 2: "Na"}


@pytest.fixture(autouse=True)
def _index_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HCANALYSIS_INDEX_DIR", str(tmp_path / "idx"))


@pytest.mark.parametrize("geom", ["orth", "tri"])
@pytest.mark.parametrize("style", list(BIN_STYLES))
def test_binary_equals_text_dump_of_the_same_run(lammps_runs, geom, style):
    text_style = style.removeprefix("bin_")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        b = hc.load(lammps_runs[geom][style], type_map=TMAP)
    t = hc.load(lammps_runs[geom][text_style], type_map=TMAP)
    ref = hc.load(lammps_runs[geom]["xu"], type_map=TMAP)
    assert (b.n_frames, b.n_atoms) == (41, 64)
    np.testing.assert_array_equal(b.species, t.species)
    np.testing.assert_allclose(b.boxes(), t.boxes(), atol=1e-12)
    # the text dump holds 10 significant digits
    np.testing.assert_allclose(b.positions(), t.positions(), atol=1e-8)
    np.testing.assert_allclose(b.positions(unwrap=True), ref.positions(), atol=1e-8)
    if b.has_velocities:
        np.testing.assert_allclose(b.velocities(), t.velocities(), rtol=1e-8, atol=1e-8)
    if b.has_image_flags:
        np.testing.assert_array_equal(b.image_flags(), t.image_flags())
        assert np.abs(b.image_flags()).max() >= 1


def test_units_and_time_header(lammps_runs):
    b = hc.load(lammps_runs["tri"]["bin_xu"])
    assert b.source.units == "metal"
    np.testing.assert_allclose(b.time_ps, np.arange(41) * 0.02)


def _snapshot(step, ids, types, xyz, *, cols="id type x y z", chunks=2, magic=True, box=None,
              tilt=None):
    """Bytes of one binary snapshot in LAMMPS' layout."""
    n = len(ids)
    table = np.column_stack([ids, types, xyz]).astype("<f8")
    out = b""
    if magic:
        out += struct.pack("<q", -10) + b"DUMPCUSTOM" + struct.pack("<ii", 1, 2)
    out += struct.pack("<qqi", step, n, 1 if tilt is not None else 0)
    out += struct.pack("<6i", 0, 0, 0, 0, 0, 0)
    bounds = box if box is not None else [0, 10, 0, 10, 0, 10]
    out += struct.pack("<6d", *bounds)
    if tilt is not None:
        out += struct.pack("<3d", *tilt)
    out += struct.pack("<i", table.shape[1])
    if magic:
        out += struct.pack("<i", 0) + b"\x00" + struct.pack("<i", len(cols)) + cols.encode()
    parts = np.array_split(table, chunks)
    out += struct.pack("<i", len(parts))
    for p in parts:
        out += struct.pack("<i", p.size) + p.tobytes()
    return out


def _synthetic(tmp_path, n_frames=3, n=6, name="s.bin", **kw):
    rng = np.random.default_rng(1)
    raw = b""
    xyz_all = []
    for f in range(n_frames):
        ids = rng.permutation(n) + 1
        xyz = np.column_stack([ids * 1.0 + f, ids * 0.5, np.full(n, 0.25 * f)])
        raw += _snapshot(10 * f, ids, 1 + ids % 2, xyz, chunks=3, **kw)
        xyz_all.append(xyz[np.argsort(ids)])
    p = tmp_path / name
    p.write_bytes(raw)
    return p, np.array(xyz_all)


def test_chunks_and_id_sorting(tmp_path):
    p, xyz = _synthetic(tmp_path)
    tr = hc.load(p, type_map=TMAP, dt_ps=0.5)
    np.testing.assert_allclose(tr.positions(), xyz)
    np.testing.assert_allclose(tr.time_ps, [0, 5, 10])
    assert list(tr.species) == ["Na", "C"] * 3


def test_triclinic_bounds(tmp_path):
    """Binary dumps store the bounding box, like text dumps."""
    raw = _snapshot(0, [1], [1], [[1.0, 2.0, 3.0]], box=[-1, 12, 0, 10, 0, 10],
                    tilt=[2.0, -1.0, 0.0])
    p = tmp_path / "t.bin"
    p.write_bytes(raw)
    tr = hc.load(p, type_map=TMAP)
    np.testing.assert_allclose(tr.box(0), [[10, 0, 0], [2, 10, 0], [-1, 0, 10]])
    np.testing.assert_allclose(tr.source.origins[0], [0.0, 0.0, 0.0])


def test_old_format_needs_columns(tmp_path):
    p, xyz = _synthetic(tmp_path, magic=False)
    with pytest.raises(TrajectoryFormatError, match=r"s\.bin, frame 0: this binary dump is in "
                       r"the format of LAMMPS before 2021.*pass columns="):
        hc.load(p)
    tr = hc.Trajectory(LammpsBinarySource(p, type_map=TMAP, columns="id type x y z"))
    np.testing.assert_allclose(tr.positions(), xyz)


def test_truncated_binary(tmp_path):
    p, xyz = _synthetic(tmp_path)
    p.write_bytes(p.read_bytes()[:-20])
    with pytest.warns(TruncatedTrajectoryWarning, match=r"frame 2 \(byte \d+\) is incomplete; "
                      r"using the 2 complete frames"):
        tr = hc.load(p, type_map=TMAP)
    np.testing.assert_allclose(tr.positions(), xyz[:2])


def test_binary_errors(tmp_path):
    ids = np.arange(1, 4)
    good = _snapshot(0, ids, ids, np.ones((3, 3)))
    p = tmp_path / "n.bin"
    p.write_bytes(good + _snapshot(1, ids[:2], ids[:2], np.ones((2, 3))))
    with pytest.raises(TrajectoryFormatError, match=r"n\.bin, frame 1: the atom count changes "
                       r"from 3 \(frame 0\) to 2 at byte \d+"):
        hc.load(p)
    bad = np.ones((3, 3))
    bad[1, 2] = np.nan
    p = tmp_path / "nan.bin"
    p.write_bytes(good + _snapshot(1, ids, ids, bad))
    tr = hc.load(p)
    with pytest.raises(TrajectoryFormatError, match=r"nan\.bin, frame 1: non-finite coordinate "
                       r"\(1\.0, 1\.0, nan\) for atom id 2"):
        tr.positions()
    p = tmp_path / "cols.bin"
    p.write_bytes(_snapshot(0, ids, ids, np.ones((3, 3)), cols="id type vx vy vz"))
    with pytest.raises(TrajectoryFormatError, match=r"cols\.bin, frame 0: unknown column layout"):
        hc.load(p)
    p = tmp_path / "text.bin"
    p.write_bytes(b"ITEM: TIMESTEP\n0\n" * 4)
    with pytest.raises(TrajectoryFormatError, match=r"text\.bin"):
        hc.load(p)
    p = tmp_path / "t.bin"
    p.write_bytes(good)
    with pytest.raises(TrajectoryFormatError, match=r"atom type 3 has no element"):
        hc.load(p, type_map=TMAP)
