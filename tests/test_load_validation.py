"""Time axes, time steps and boxes are validated at load (issue 19): impossible values are
one-line errors naming the file and frame; restart overlaps are repaired only on request."""

from __future__ import annotations

import numpy as np
import pytest
from test_lammps_errors import TMAP, frame, write

import hcanalysis as hc
from hcanalysis.cli import main
from hcanalysis.errors import TrajectoryFormatError
from hcanalysis.io.validate import frames_kept


def _dump(tmp_path, steps, name="t.dump", **kw):
    return write(tmp_path, "".join(frame(s, **kw) for s in steps), name)


def _positions_of(traj):
    return traj.positions(None, unwrap=False)


@pytest.mark.parametrize("steps, match", [
    ([0, 100, 50, 150], r"frame 2 at 0.05 ps goes back in time after frame 1 at 0.1 ps"),
    ([300, 200, 100, 0], r"frame 1 at 0.2 ps goes back in time"),
    ([0, 100, 200, 100, 200, 300], r"frame 3 at 0.1 ps repeats the time of an earlier frame"),
    ([0, 0, 0, 0], r"all 4 frames have the same time \(0 ps\).*give dt_ps"),
    ([0, 100, 100, 200], r"frame 2 at 0.1 ps repeats the time"),
])
def test_times_that_do_not_increase_are_refused(tmp_path, steps, match):
    p = _dump(tmp_path, steps)
    with pytest.raises(TrajectoryFormatError, match=match) as err:
        hc.load(p, type_map=TMAP)
    assert str(p) in str(err.value) and "\n" not in str(err.value)


def test_restart_overlap_keep_last_and_keep_first(tmp_path):
    # a run to step 300 restarted from step 200: steps 200 and 300 are written twice; the
    # atoms' x marks the segment (x = 1.5 in the first, x = 7.5 in the second)
    first = "".join(frame(s, rows=[f"{i} {1 + i % 2} 1.5 1 1" for i in range(1, 5)])
                    for s in (0, 100, 200, 300))
    second = "".join(frame(s, rows=[f"{i} {1 + i % 2} 7.5 1 1" for i in range(1, 5)])
                     for s in (200, 300, 400))
    p = write(tmp_path, first + second)
    last = hc.load(p, type_map=TMAP, overlap="keep-last")
    np.testing.assert_allclose(last.time_ps, [0, 0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(_positions_of(last)[:, 0, 0], [1.5, 1.5, 7.5, 7.5, 7.5])
    assert any("2 of 7 frames dropped" in n for n in last.notes)
    keep = hc.load(p, type_map=TMAP, overlap="keep-first")
    np.testing.assert_allclose(keep.time_ps, [0, 0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(_positions_of(keep)[:, 0, 0], [1.5, 1.5, 1.5, 1.5, 7.5])
    # positions of a subset of frames come from the right frames of the file
    np.testing.assert_allclose(last.positions(None, unwrap=False, frames=[1, 3])[:, 0, 0],
                               [1.5, 7.5])
    with pytest.raises(TrajectoryFormatError, match="frame 4 at 0.2 ps repeats the time"):
        hc.load(p, type_map=TMAP)


def test_frames_kept_against_brute_force():
    rng = np.random.default_rng(4)
    for _ in range(200):
        t = rng.integers(0, 12, size=rng.integers(1, 15)).astype(float)
        last = [i for i in range(len(t)) if all(t[j] > t[i] for j in range(i + 1, len(t)))]
        first = [i for i in range(len(t)) if all(t[j] < t[i] for j in range(i))]
        assert frames_kept(t, "keep-last").tolist() == last
        assert frames_kept(t, "keep-first").tolist() == first
        assert np.all(np.diff(t[frames_kept(t, "keep-last")]) > 0)


@pytest.mark.parametrize("dt", [0, -0.001, float("nan"), float("inf")])
def test_bad_dt_ps(tmp_path, dt):
    p = _dump(tmp_path, [0, 100, 200])
    with pytest.raises(TrajectoryFormatError, match=r"dt_ps = .*a number > 0"):
        hc.load(p, type_map=TMAP, dt_ps=dt)


def test_dump_reader_already_refuses_inverted_bounds(tmp_path):
    box = "ITEM: BOX BOUNDS pp pp pp\n10 0\n0 10\n0 10\n"
    p = write(tmp_path, frame(0) + frame(100, box=box) + frame(200))
    with pytest.raises(TrajectoryFormatError, match=r"frame 1, line 19: the box has zero"):
        hc.load(p, type_map=TMAP)


def _h5md(tmp_path, boxes, time_ps=None):
    pos = np.random.default_rng(0).uniform(0, 5, (len(boxes), 3, 3))
    traj = hc.Trajectory.from_arrays(pos, np.asarray(boxes, float), ["C", "Na", "Na"],
                                     time_ps=time_ps)
    return hc.write_h5md(traj, tmp_path / "t.h5")


@pytest.mark.parametrize("second, match", [
    (np.diag([10.0, -10.0, 10.0]), r"frame 1 has a box of volume -1000 Å³"),
    (np.array([[10.0, 0, 0], [10.0, 0, 0], [0, 0, 10.0]]), r"frame 1.*(zero volume|volume 0)"),
    (np.diag([10.0, np.nan, 10.0]), r"frame 1.*non-finite box"),
])
def test_h5md_boxes_without_positive_volume(tmp_path, second, match):
    p = _h5md(tmp_path, [np.eye(3) * 10, second, np.eye(3) * 10])
    with pytest.raises(TrajectoryFormatError, match=match) as err:
        hc.load(p)
    assert str(p) in str(err.value)


def test_h5md_times_are_checked(tmp_path):
    p = _h5md(tmp_path, [np.eye(3) * 10] * 3, time_ps=[0.0, np.nan, 2.0])
    with pytest.raises(TrajectoryFormatError, match=r"frame 1 has time nan ps"):
        hc.load(p)
    q = _h5md(tmp_path / "..", [np.eye(3) * 10] * 3, time_ps=[2.0, 1.0, 0.0])
    with pytest.raises(TrajectoryFormatError, match=r"frame 1 at 1 ps goes back in time"):
        hc.load(q)


def test_cli_overlap_option_and_error(tmp_path, capsys):
    p = _dump(tmp_path, [0, 100, 200, 100, 200, 300])
    assert main(["convert", str(p), str(tmp_path / "bad.h5"), "--type-map", "1:C,2:Na"]) == 2
    assert "repeats the time" in capsys.readouterr().err
    out = tmp_path / "fixed.h5"
    assert main(["convert", str(p), str(out), "--type-map", "1:C,2:Na",
                 "--overlap", "keep-last"]) == 0
    np.testing.assert_allclose(hc.load(out).time_ps, [0, 0.1, 0.2, 0.3])
    assert main(["convert", str(p), str(tmp_path / "x.h5"), "--overlap", "newest"]) == 2
    assert "overlap='newest'" in capsys.readouterr().err
