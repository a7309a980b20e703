"""Progress reporting (hcanalysis.progress): timestamped lines off a terminal, rate-limited;
``-q`` silences them; readers report through the installed callback, not the CLI."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from conftest import triclinic_box

import hcanalysis as hca
from hcanalysis import progress
from hcanalysis.cli import main

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d hcanalysis: ")


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_lines_rate_limited_with_eta():
    out, clock = io.StringIO(), FakeClock()
    rep = progress.LineProgress(out, every_s=10, every_fraction=0.1, clock=clock)
    rep("msd: ions", 0, 1000)  # start: always a line
    for done in range(1, 1001):
        clock.t = done * 0.05  # 0.05 s per ion: 100 ions (10 %) every 5 s
        rep("msd: ions", done, 1000)
    lines = out.getvalue().splitlines()
    # start + one line per 10 % (100 ions; the 10 s rule never fires at 5 s per 10 %) + end
    assert len(lines) == 11
    assert all(LINE.match(ln) for ln in lines)
    assert "msd: ions 0/1,000 (0 %)" in lines[0]
    assert "msd: ions 100/1,000 (10 %), 0:00:05 elapsed, ETA 0:00:45" in lines[1]
    assert lines[-1].endswith("1,000/1,000 (100 %), 0:00:50 elapsed, done")


def test_lines_time_rule_and_messages():
    out, clock = io.StringIO(), FakeClock()
    rep = progress.LineProgress(out, every_s=10, every_fraction=0.5, clock=clock)
    rep("voids: frames", 0, 100)
    for done in range(1, 40):  # 1 s per frame: the 10 s rule fires before 50 %
        clock.t = float(done)
        rep("voids: frames", done, 100)
    rep("modes", 0, 0)
    lines = out.getvalue().splitlines()
    assert [ln.split("voids: frames ")[1].split("/")[0] for ln in lines[:-1]] == \
        ["0", "10", "20", "30"]
    assert lines[-1].endswith("hcanalysis: modes")


@pytest.fixture
def h5(tmp_path, rng):
    pos = rng.random((12, 10, 3)) * 20
    traj = hca.Trajectory.from_arrays(pos, triclinic_box(), ["C"] * 7 + ["Na"] * 3, dt_ps=0.5)
    return hca.write_h5md(traj, tmp_path / "in.h5", dtype=np.float64)


def test_cli_progress_lines_off_tty_and_quiet(h5, tmp_path, capsys):
    """capsys' stderr is not a terminal: convert's writing pass prints timestamped lines;
    ``-q`` prints none (and no log line), the result is the same file."""
    assert main(["convert", str(h5), str(tmp_path / "a.h5")]) == 0
    err = capsys.readouterr().err.splitlines()
    prog = [ln for ln in err if LINE.match(ln)]
    assert prog and "writing a.h5: frames 0/12" in prog[0]
    assert "12/12 (100 %)" in prog[-1] and prog[-1].endswith("done")
    assert main(["-q", "convert", str(h5), str(tmp_path / "b.h5")]) == 0
    cap = capsys.readouterr()
    assert cap.err == ""
    assert main(["convert", str(h5), str(tmp_path / "q.h5"), "--quiet"]) == 0  # anywhere
    assert capsys.readouterr().err == ""
    assert np.array_equal(hca.load(tmp_path / "b.h5").positions(),
                          hca.load(tmp_path / "a.h5").positions())


def test_reader_uses_installed_callback(h5, tmp_path):
    """No CLI involved: a library call reports through the callback given with ``use``."""
    seen = []
    with progress.use(lambda stage, done, total: seen.append((stage, done, total))):
        hca.write_h5md(hca.load(h5), tmp_path / "c.h5", show_progress=True)
    assert seen[0] == ("writing c.h5: frames", 0, 12) and seen[-1][1:] == (12, 12)
    seen.clear()
    hca.write_h5md(hca.load(h5), tmp_path / "d.h5", show_progress=True)  # nothing installed
    assert seen == []


def test_mdrunner_log_reports_md_steps_and_sweep_points(capsys):
    """mdrunner's engines print ``step N: ...`` lines and the sweep ``NAME: done``: the CLI's
    log callback turns them into progress (and still prints them)."""
    from mdrunner.cli import _md_log

    seen = []
    with progress.use(lambda stage, done, total: seen.append((stage, done, total))):
        log = _md_log(200, n_points=2)
        log("step 0: T = 600.0 K, Epot = -1.0 eV")
        log("step 100: T = 601.2 K, Epot = -1.1 eV")
        log("rho1.3_NaC8_s0: done")
        log("rho1.3_NaC8_s1: skipped (done)")
    assert seen == [("MD: steps", 0, 200), ("MD: steps", 100, 200), ("sweep: points", 1, 2),
                    ("sweep: points", 2, 2)]
    assert "step 100: T = 601.2 K" in capsys.readouterr().err
