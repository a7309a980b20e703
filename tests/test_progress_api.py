"""One progress vocabulary in the Python API (issue 17): ``progress=`` taking
``progress(stage, done, total)`` everywhere; the older keywords (``on_progress=``,
``on_stage=``, ``on_map=``) keep working with a DeprecationWarning and get what they got."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import synthetic_traj as st

import hcanalysis as hca
from hcanalysis import progress, voids
from hcanalysis.config import AnalysisConfig
from hcanalysis.descriptors import compute
from hcanalysis.pipeline import analyze


def _cfg(stages=("msd", "hops")) -> AnalysisConfig:
    cfg = AnalysisConfig(stages=list(stages))
    cfg.windows.window = 40
    cfg.modes.max_modes = 2
    return cfg


@pytest.fixture(scope="module")
def traj():
    return st.make(seed=4, n_frames=120)


def test_compute_reports_stage_messages_and_counts(traj):
    """``progress=``: a message (stage, 0, 0) as each stage starts, in order, then counts that
    start at 0 and end at their total; ``on_stage=`` warns and gets the same stage names."""
    seen = []
    table = compute(traj, _cfg(), progress=lambda s, d, t: seen.append((s, d, t)))
    assert [s for s, d, t in seen if t == 0] == ["msd", "hops"]
    counts = [(d, t) for s, d, t in seen if s == "dynamics"]
    n = table.metadata["n_ions"]
    assert counts and counts[-1] == (n, n) and all(0 < d <= n for d, _ in counts)
    names = []
    with pytest.warns(DeprecationWarning, match="on_stage=.*use progress="):
        old = compute(traj, _cfg(), on_stage=names.append)
    assert names == ["msd", "hops"]
    np.testing.assert_array_equal(old.frame["D"].to_numpy(), table.frame["D"].to_numpy())


def test_analyze_progress_and_old_on_progress_get_the_same_steps(traj, tmp_path):
    """The step messages ``progress=`` gets (total 0) are exactly what ``on_progress=`` got,
    and the inner counts come through ``progress=`` (not only through an installed one)."""
    path = hca.write_h5md(traj, tmp_path / "t.h5")
    seen, old = [], []
    with pytest.warns(DeprecationWarning, match="on_progress=.*use progress="), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        analyze([path], tmp_path / "out", _cfg(), force=True,
                progress=lambda s, d, t: seen.append((s, d, t)), on_progress=old.append)
    steps = [s for s, d, t in seen if t == 0 and d == 0]
    assert steps == old
    assert steps[:3] == ["descriptors 1/1: t.h5", "t.h5: msd", "t.h5: hops"]
    assert "modes" in steps
    assert any(s == "t.h5: dynamics" and t > 0 and d == t for s, d, t in seen)


def test_void_maps_progress_and_old_on_map(traj):
    frames = np.arange(0, 120, 10)
    seen = []
    maps = voids.void_maps(traj, frames, map_stride=4, spacing=0.6,
                           progress=lambda s, d, t: seen.append((s, d, t)))
    assert seen[0] == ("void maps", 0, 3) and seen[-1] == ("void maps", 3, 3)
    got = []
    with pytest.warns(DeprecationWarning, match="on_map="):
        again = voids.void_maps(traj, frames, map_stride=4, spacing=0.6, on_map=got.append)
    assert got == sorted(maps) == sorted(again) == [0, 40, 80]


def test_load_takes_progress(tmp_path, monkeypatch):
    """Readers report their indexing to ``load(progress=)`` (the same callback type)."""
    from ase import Atoms
    from ase.io import write

    import hcanalysis.io.ase_reader as ar

    monkeypatch.setattr(ar, "PROGRESS_BYTES", -1)  # report even for a tiny file
    frames = [Atoms("NaC", positions=[[0, 0, 0], [1.5, 0, 0]], cell=[8, 8, 8], pbc=True)
              for _ in range(3)]
    write(tmp_path / "x.extxyz", frames, format="extxyz")
    seen = []
    t = hca.load(tmp_path / "x.extxyz", dt_ps=0.1,
                 progress=lambda s, d, tot: seen.append((s, d, tot)))
    assert t.n_frames == 3
    assert seen and seen[0][0] == "indexing x.extxyz: MiB"
    seen.clear()
    with progress.use(lambda s, d, tot: seen.append(s)):  # the installed one still works
        hca.load(tmp_path / "x.extxyz", dt_ps=0.1)
    assert seen


def test_helpers():
    got = []
    fn = progress.tee(progress.messages(got.append), None)
    fn("modes", 0, 0)
    fn("msd", 3, 10)
    assert got == ["modes"]
    both = []
    progress.tee(lambda *a: both.append(a), lambda *a: both.append(a))("x", 1, 2)
    assert both == [("x", 1, 2), ("x", 1, 2)]


@pytest.mark.filterwarnings("ignore:tortuosity.local_per_window is deprecated")
@pytest.mark.filterwarnings("ignore:voids.void_descriptors is deprecated")
def test_older_per_frame_estimators_take_progress(traj):
    """The two older estimators kept for scripts: ``progress=`` gets the maps and the samples;
    ``on_sample=`` / ``on_frame=`` warn and still get each frame."""
    from hcanalysis import tortuosity

    kw = dict(frames=slice(0, 60), window=30, map_stride=30, spacing=0.6)
    seen = []
    tortuosity.local_per_window(traj, sample_stride=10, radius=3.0, **kw,
                                progress=lambda s, d, t: seen.append((s, d, t)))
    assert ("void maps", 2, 2) in seen and seen[-1] == ("tortuosity: samples", 6, 6)
    got = []
    with pytest.warns(DeprecationWarning, match="on_sample="):
        tortuosity.local_per_window(traj, sample_stride=10, radius=3.0, **kw,
                                    on_sample=got.append)
    assert got == [0, 10, 20, 30, 40, 50]
    frames = []
    with pytest.warns(DeprecationWarning, match="on_frame="):
        voids.void_descriptors(traj, frames=slice(0, 6), map_stride=6, spacing=0.6,
                               voronoi=False, on_frame=frames.append)
    assert frames == list(range(6))
