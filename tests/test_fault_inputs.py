"""Damaged and unusual LAMMPS input (issue 19): each case is a one-line error naming the file
(and frame where there is one), or a documented warning for a real end-of-file truncation.
Nothing is read silently wrong."""

from __future__ import annotations

import gzip
import struct
import warnings

import numpy as np
import pytest
from test_lammps_bin import _snapshot, _synthetic
from test_lammps_errors import TMAP, frame, write

import hcanalysis as hc
from hcanalysis.errors import TrajectoryFormatError, TruncatedTrajectoryWarning


@pytest.fixture(autouse=True)
def _index_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HCANALYSIS_INDEX_DIR", str(tmp_path / "idx"))


def _one_line_error(path, match, **kw):
    with pytest.raises(TrajectoryFormatError, match=match) as err:
        traj = hc.load(path, **kw)
        traj.positions(None, unwrap=False)
    msg = str(err.value)
    assert str(path) in msg and "\n" not in msg
    return msg


def _text(n_frames=300, n=50):
    return "".join(frame(100 * s, n=n) for s in range(n_frames))


# ----------------------------------------------------------------------------- compression
@pytest.mark.parametrize("fraction", [0.35, 0.6, 0.9])
def test_truncated_gzip_keeps_the_complete_frames(tmp_path, fraction):
    text = _text()
    data = gzip.compress(text.encode())
    p = tmp_path / "t.dump.gz"
    p.write_bytes(data[: int(len(data) * fraction)])
    with pytest.warns(TruncatedTrajectoryWarning,
                      match=r"is incomplete.*the compressed stream ends early.*complete frames"):
        traj = hc.load(p, type_map=TMAP)
    assert 0 < traj.n_frames < 300
    ref = hc.load(write(tmp_path, text, "full.dump"), type_map=TMAP)
    np.testing.assert_array_equal(traj.positions(None, unwrap=False),
                                  ref.positions(None, unwrap=False, frames=range(traj.n_frames)))


def test_not_a_gzip_file(tmp_path):
    p = write(tmp_path, _text(3), "plain.dump.gz")
    _one_line_error(p, r"not a gzip file although its name ends in \.gz", type_map=TMAP)


def test_gzip_crc_error(tmp_path):
    data = bytearray(gzip.compress(_text(20).encode()))
    data[-6] ^= 0xFF  # inside the CRC-32 of the trailer
    p = tmp_path / "crc.dump.gz"
    p.write_bytes(bytes(data))
    _one_line_error(p, r"the gzip stream is damaged \(CRC check failed", type_map=TMAP)


# ----------------------------------------------------------------------------- text dumps
def test_zero_atom_dump(tmp_path):
    p = write(tmp_path, frame(0, n=0) + frame(100, n=0))
    _one_line_error(p, r"frame 0, line 4: 'ITEM: NUMBER OF ATOMS' is 0: the frame has no atoms",
                    type_map=TMAP)


def test_type_changing_mid_trajectory(tmp_path):
    rows = [f"{i} {1 + i % 2} {i}.5 1 1" for i in range(1, 5)]
    changed = list(rows)
    changed[2] = "3 1 3.5 1 1"  # atom 3 (Na) becomes type 1 (C) in frame 2
    p = write(tmp_path, frame(0, rows=rows) + frame(100, rows=rows) + frame(200, rows=changed))
    _one_line_error(p, r"frame 2, line \d+: atom id 3 has type 1 here but 2 in frame 0",
                    type_map=TMAP)


def test_image_flags_beyond_int32(tmp_path):
    cols = "id type x y z ix iy iz"
    rows = [f"{i} {1 + i % 2} {i}.5 1 1 0 0 0" for i in range(1, 5)]
    big = list(rows)
    big[1] = "2 1 2.5 1 1 0 -2147483649 0"
    p = write(tmp_path, frame(0, rows=rows, cols=cols) + frame(100, rows=big, cols=cols))
    _one_line_error(p, r"frame 1, line \d+: image flag \(0, -2147483649, 0\) of atom id 2 does "
                    r"not fit in 32 bits", type_map=TMAP)
    # the largest int32 is still read exactly
    ok = list(rows)
    ok[1] = "2 1 2.5 1 1 0 2147483647 0"
    q = write(tmp_path, frame(0, rows=rows, cols=cols) + frame(100, rows=ok, cols=cols), "ok.dump")
    assert hc.load(q, type_map=TMAP).image_flags()[1, 1, 1] == 2147483647


@pytest.mark.parametrize("flags", ["ff pp pp", "pp pp ss", "pp fm pp"])
def test_non_periodic_boundaries(tmp_path, flags):
    box = f"ITEM: BOX BOUNDS {flags}\n0 10\n0 10\n0 10\n"
    p = write(tmp_path, frame(0, box=box) + frame(100, box=box))
    traj = hc.load(p, type_map=TMAP)  # read as written, with a note
    assert traj.positions(None, unwrap=False).shape == (2, 4, 3)
    assert any(f"boundaries '{flags}' are not periodic" in n for n in traj.notes)
    with pytest.raises(TrajectoryFormatError, match=rf"boundaries '{flags}' are not periodic "
                       r"along every axis: unwrapping .* assumes periodic images"):
        traj.positions("Na", unwrap=True)
    from hcanalysis.config import AnalysisConfig
    from hcanalysis.descriptors import compute

    cfg = AnalysisConfig(stages=["msd"])
    with pytest.raises(TrajectoryFormatError, match="not periodic"):
        compute(hc.load(write(tmp_path, "".join(frame(100 * s, box=box) for s in range(12)),
                              "long.dump"), type_map=TMAP), cfg)
    periodic = write(tmp_path, frame(0) + frame(100), "pp.dump")
    assert hc.load(periodic, type_map=TMAP).positions("Na", unwrap=True).shape == (2, 2, 3)


def test_symlink_loop_and_dangling_link(tmp_path):
    loop = tmp_path / "loop.dump"
    loop.symlink_to(loop)
    with pytest.raises(FileNotFoundError, match=r"loop.dump: a symbolic link that leads nowhere"):
        hc.load(loop)
    dangling = tmp_path / "d.dump"
    dangling.symlink_to(tmp_path / "gone.dump")
    with pytest.raises(FileNotFoundError, match=r"target '.*gone.dump' is missing"):
        hc.load(dangling)


# ----------------------------------------------------------------------------- binary dumps
def _bin(tmp_path, n_frames=6, n=6, name="s.bin"):
    p, xyz = _synthetic(tmp_path, n_frames=n_frames, n=n, name=name)
    return p, xyz


def _frame_offsets(raw: bytes) -> list[int]:
    """Byte offset of each snapshot (they start with the magic length -10)."""
    marker = struct.pack("<q", -10) + b"DUMPCUSTOM"
    out, i = [], raw.find(marker)
    while i >= 0:
        out.append(i)
        i = raw.find(marker, i + 1)
    return out


def test_binary_truncation_at_every_byte_of_the_last_frame_is_a_warning(tmp_path):
    p, xyz = _bin(tmp_path)
    raw = p.read_bytes()
    last = _frame_offsets(raw)[-1]
    for cut in range(last + 1, len(raw), 7):
        p.write_bytes(raw[:cut])
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            traj = hc.load(p, type_map=TMAP)
        assert traj.n_frames == 5, cut
        assert any(issubclass(x.category, TruncatedTrajectoryWarning) for x in w)
        np.testing.assert_allclose(traj.positions(None, unwrap=False), xyz[:5])


def test_binary_corrupt_chunk_length_mid_file_is_an_error(tmp_path):
    p, _ = _bin(tmp_path)
    raw = bytearray(p.read_bytes())
    offsets = _frame_offsets(bytes(raw))
    # the first chunk length of frame 2: after magic, header, box, ncol, units, columns, nch
    cols = b"id type x y z"
    head = 8 + 10 + 8 + 8 + 12 + 24 + 48 + 4 + 4 + 1 + 4 + len(cols) + 4
    for value in (10**6, 7, -5):
        bad = bytearray(raw)
        struct.pack_into("<i", bad, offsets[2] + head, value)
        p.write_bytes(bytes(bad))
        msg = _one_line_error(p, r"frame 2", type_map=TMAP)
        assert "corrupt" in msg or "values stored" in msg, msg


def test_binary_hole_of_zeros_mid_file(tmp_path):
    p, _ = _bin(tmp_path)
    raw = bytearray(p.read_bytes())
    start = _frame_offsets(bytes(raw))[3]
    raw[start : start + 200] = bytes(200)
    p.write_bytes(bytes(raw))
    msg = _one_line_error(p, r"frame 3: corrupt snapshot header at byte \d+: expected the magic",
                          type_map=TMAP)
    assert "before 2021" not in msg


def test_binary_bad_magic(tmp_path):
    p, _ = _bin(tmp_path)
    raw = p.read_bytes().replace(b"DUMPCUSTOM", b"DUMPXXXXXX", 1)
    p.write_bytes(raw)
    _one_line_error(p, r"frame 0: unknown snapshot magic b'DUMPXXXXXX'", type_map=TMAP)


def test_binary_zero_atoms_types_and_images(tmp_path):
    p = tmp_path / "z.bin"
    p.write_bytes(_snapshot(0, [], [], np.zeros((0, 3))))
    _one_line_error(p, r"frame 0: 0 atoms: the snapshot is empty", type_map=TMAP)
    ids = np.arange(1, 5)
    q = tmp_path / "types.bin"
    q.write_bytes(_snapshot(0, ids, [1, 2, 1, 2], np.ones((4, 3)))
                  + _snapshot(10, ids, [1, 2, 2, 2], np.ones((4, 3))))
    _one_line_error(q, r"frame 1: atom id 3 has type 2 here but 1 in frame 0", type_map=TMAP)
    cols = "id type x y z ix iy iz"
    img = np.zeros((4, 3))
    img[3, 0] = 2.0**33
    r = tmp_path / "img.bin"
    r.write_bytes(_snapshot(0, ids, [1, 2, 1, 2], np.column_stack([np.ones((4, 3)), img]),
                            cols=cols))
    _one_line_error(r, r"frame 0: image flag \(8589934592, 0, 0\) of atom id 4", type_map=TMAP)


# ----------------------------------------------------------------------------- H5MD
def _h5md_file(tmp_path, images=True):
    pos = np.random.default_rng(2).uniform(0, 9, (5, 3, 3))
    img = np.zeros((5, 3, 3), np.int32) if images else None
    traj = hc.Trajectory.from_arrays(pos, np.eye(3) * 10, ["C", "Na", "Na"], dt_ps=0.5,
                                     images=img)
    return hc.write_h5md(traj, tmp_path / "t.h5")


def _resize(path, dataset, n):
    import h5py

    with h5py.File(path, "a") as f:
        data = f[dataset][()]
        del f[dataset]
        f[dataset] = data[:n]


@pytest.mark.parametrize("dataset", ["particles/all/position/time",
                                     "particles/all/position/step"])
def test_h5md_time_or_step_shorter_than_positions(tmp_path, dataset):
    p = _h5md_file(tmp_path)
    _resize(p, dataset, 3)
    name = dataset.rsplit("/", 1)[1]
    _one_line_error(p, rf"/particles/all/position/{name} has 3 entries for 5 frames of "
                    r"/particles/all/position/value: the file is inconsistent")


def test_h5md_images_of_another_shape(tmp_path):
    p = _h5md_file(tmp_path)
    _resize(p, "particles/all/image/value", 4)
    _one_line_error(p, r"image/value has shape \(4, 3, 3\) but position/value \(5, 3, 3\)")


def test_h5md_non_periodic_boundary(tmp_path):
    import h5py

    p = _h5md_file(tmp_path, images=False)
    with h5py.File(p, "a") as f:
        f["particles/all/box"].attrs["boundary"] = np.array(
            ["periodic", "periodic", "none"], dtype=h5py.string_dtype())
    traj = hc.load(p)
    assert traj.positions(None).shape == (5, 3, 3)
    with pytest.raises(TrajectoryFormatError, match=r"boundaries 'pp pp ff' are not periodic"):
        traj.positions("Na", unwrap=True)


# ----------------------------------------------------------------------------- properties
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_TEXT = "".join(frame(100 * s, n=6) for s in range(8))
_ENDS = np.cumsum([len(frame(100 * s, n=6)) for s in range(8)])  # end of each frame's text


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=1, max_value=len(_TEXT) - 1), gz=st.booleans())
def test_a_dump_cut_anywhere_gives_exactly_its_complete_frames(tmp_path, cut, gz):
    """Whatever byte a text dump (plain or gzip) is cut at, the reader returns exactly the
    frames complete before the cut (a frame whose final newline alone is lost is complete),
    with a truncation warning, or a one-line error when there is none: never a partial frame,
    never a silent loss."""
    # a cut inside a frame's last number keeps all its columns and is read as complete (no
    # reader can tell "6.12" from "6.125" in a file without its final newline; documented)
    last_field = [_TEXT.rfind(" ", 0, e - 1) + 1 for e in _ENDS]
    assume(not any(f < cut < e - 1 for f, e in zip(last_field, _ENDS, strict=True)))
    complete = int(np.sum(_ENDS - 1 <= cut))
    p = tmp_path / f"cut{cut}{'.dump.gz' if gz else '.dump'}"
    data = _TEXT[:cut].encode()
    p.write_bytes(gzip.compress(data) if gz else data)
    if complete == 0:
        with pytest.raises(TrajectoryFormatError, match="no complete frame"):
            hc.load(p, type_map=TMAP)
        return
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        traj = hc.load(p, type_map=TMAP)
    assert traj.n_frames == complete
    truncated = any(issubclass(x.category, TruncatedTrajectoryWarning) for x in w)
    assert truncated == (cut > _ENDS[complete - 1])  # bytes of an incomplete frame follow
    ref = hc.load(write(tmp_path, _TEXT, "full.dump"), type_map=TMAP)
    np.testing.assert_array_equal(traj.positions(None, unwrap=False),
                                  ref.positions(None, unwrap=False, frames=range(complete)))
