"""Outputs appear whole or not at all, with the umask's permissions; a full disk is one line
and leaves nothing behind (issue 19). The full disk is real: the temporary file is a symlink
to /dev/full, whose every write fails with ENOSPC."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

import hcanalysis as hca
from hcanalysis import atomic
from hcanalysis.atomic import atomic_output
from hcanalysis.cli import main
from hcanalysis.errors import DiskFullError

needs_dev_full = pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield lambda m: os.umask(m)
    os.umask(old)


class FullDisk:
    """Once enabled, every atomic output's temporary file is a symlink to /dev/full."""

    def __init__(self, monkeypatch):
        self.monkeypatch = monkeypatch
        self.made: list[Path] = []

    def _to_dev_full(self, path):
        p = Path(path)
        tmp = p.with_name(f".{p.name}.partial-full")
        tmp.symlink_to("/dev/full")
        self.made.append(tmp)
        return tmp

    def enable(self) -> FullDisk:
        self.monkeypatch.setattr(atomic, "partial_path", self._to_dev_full)
        return self

    def left_behind(self) -> bool:
        return any(p.is_symlink() for p in self.made)


@pytest.fixture
def full_disk(monkeypatch):
    return FullDisk(monkeypatch)


def _small_traj(tmp_path):
    pos = np.random.default_rng(0).uniform(0, 10, (6, 4, 3))
    traj = hca.Trajectory.from_arrays(pos, np.eye(3) * 10, ["C", "C", "Na", "Na"], dt_ps=0.1)
    return hca.write_h5md(traj, tmp_path / "in.h5")


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_outputs_follow_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    src = _small_traj(tmp_path)
    out = tmp_path / f"out{mask}.h5"
    assert main(["convert", str(src), str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == mode
    with atomic_output(tmp_path / f"plain{mask}.txt") as tmp:
        tmp.write_text("x")
    assert stat.S_IMODE((tmp_path / f"plain{mask}.txt").stat().st_mode) == mode


def test_a_failed_block_leaves_nothing_and_keeps_the_original(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("original")
    with pytest.raises(RuntimeError), atomic_output(target, copy_existing=True) as tmp:
        assert tmp.read_text() == "original"
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "original" and sorted(os.listdir(tmp_path)) == ["a.txt"]


@needs_dev_full
def test_disk_full_is_one_line_and_leaves_nothing(tmp_path, full_disk):
    target = tmp_path / "x.bin"
    full_disk.enable()
    with pytest.raises(DiskFullError, match=r"x.bin: disk full .*nothing was written"), \
            atomic_output(target) as tmp, open(tmp, "wb") as fh:
        fh.write(b"\0" * 100_000)
    assert full_disk.made and not target.exists() and not full_disk.left_behind()


@needs_dev_full
def test_convert_on_a_full_disk(tmp_path, monkeypatch, full_disk, capsys):
    src = _small_traj(tmp_path)
    out = tmp_path / "out.h5"
    full_disk.enable()
    assert main(["convert", str(src), str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "out.h5: disk full" in err and len(err.splitlines()) == 1
    assert full_disk.made and not out.exists() and not full_disk.left_behind()
    monkeypatch.undo()  # space freed: the rerun is not refused as "exists"
    assert main(["convert", str(src), str(out)]) == 0
    np.testing.assert_allclose(hca.load(out).time_ps, hca.load(src).time_ps)


@needs_dev_full
def test_descriptor_table_on_a_full_disk(tmp_path, full_disk):
    import pandas as pd

    from hcanalysis.table import DescriptorTable

    tab = DescriptorTable(pd.DataFrame({"ion": [0, 1], "window": [0, 0], "log_D": [1.0, 2.0]}))
    full_disk.enable()
    with pytest.raises(DiskFullError, match="d.h5: disk full"):
        tab.write(tmp_path / "d.h5")
    assert os.listdir(tmp_path) == []
