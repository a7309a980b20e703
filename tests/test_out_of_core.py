"""Out-of-core pieces: the lazy big-trajectory source, budget-sized passes, stored MSD lags."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.make_big import BLOCK, LazyHCSource
from hcanalysis import Trajectory, load, write_h5md
from hcanalysis.config import AnalysisConfig
from hcanalysis.descriptors import MAX_STORED_LAGS, compute, plan_for, stored_lags
from hcanalysis.kernels.pbc import minimum_image


@pytest.fixture(scope="module")
def source():
    return LazyHCSource(n_frames=3 * BLOCK + 17, n_ions=40, n_carbon=400, seed=5)


def test_lazy_source_is_deterministic_in_any_order(source):
    frames = np.array([0, 5, BLOCK - 1, BLOCK, 2 * BLOCK + 3, source.n_frames - 1])
    a = source.read(frames).positions
    b = np.concatenate([source.read([f]).positions for f in frames[::-1]])[::-1]
    np.testing.assert_array_equal(a, b)
    again = LazyHCSource(n_frames=source.n_frames, n_ions=40, n_carbon=400, seed=5)
    np.testing.assert_array_equal(again.read(frames, np.arange(10, 60)).positions,
                                  a[:, 10:60])
    assert a.min() >= 0 and a.max() < source.length  # wrapped into the cell
    assert list(source.species[:40]) == ["Na"] * 40 and set(source.species[40:]) == {"C"}


def test_lazy_source_walk_is_continuous_across_blocks(source):
    pos = source.read(np.arange(source.n_frames)).positions
    box = source.boxes[0]
    steps = minimum_image((pos[1:] - pos[:-1]).reshape(-1, 3), box).reshape(
        pos.shape[0] - 1, -1, 3)
    na = np.linalg.norm(steps[:, :40], axis=-1)
    # largest mobility 0.25 Å/axis per frame plus a 0.1 Å jitter: no jump anywhere, including
    # at the block boundaries (the anchors join the blocks)
    assert na.max() < 3.0
    boundary = na[BLOCK - 1::BLOCK]
    assert boundary.max() < 3.0
    # the mobilities differ: the fast ions move further than the caged ones over the run
    un = np.cumsum(steps[:, :40], axis=0)
    msd_end = (un[-1] ** 2).sum(-1)
    fast, slow = source.sigma == 0.25, source.sigma == 0.02
    assert msd_end[fast].mean() > 10 * msd_end[slow].mean()
    # carbon vibrates about fixed sites
    c = minimum_image((pos[:, 40:] - source.carbon).reshape(-1, 3), box)
    assert 0.03 < c.std() < 0.08


def test_written_h5md_matches_the_source(source, tmp_path):
    path = write_h5md(Trajectory(source), tmp_path / "big.h5", compression=None,
                      show_progress=False)
    traj = load(path)
    assert (traj.n_frames, traj.n_atoms) == (source.n_frames, source.n_atoms)
    frames = np.arange(0, source.n_frames, 7)
    np.testing.assert_allclose(traj.positions("Na", frames=frames),
                               source.read(frames, np.arange(40)).positions, atol=1e-4)


def test_budget_sized_passes_give_the_same_descriptors(source, tmp_path):
    traj = Trajectory(source)

    def run(budget):
        cfg = AnalysisConfig()
        cfg.stages = ["msd"]
        cfg.windows.window = 60
        cfg.max_memory = budget
        ctx = plan_for(traj, cfg)
        return compute(traj, cfg), ctx

    small, ctx_small = run(200_000)  # several ion chunks, few carbon frames per read
    big, ctx_big = run(1 << 30)
    assert ctx_small.ion_chunk_size() < ctx_big.ion_chunk_size() == 40
    assert "ion chunk(s)" in small.metadata["reports"]["dynamics"]
    np.testing.assert_allclose(ctx_small.drift("C"), ctx_big.drift("C"), atol=1e-12)
    np.testing.assert_allclose(small.frame["D"], big.frame["D"], rtol=1e-10)
    np.testing.assert_allclose(small.arrays["msd"], big.arrays["msd"], rtol=1e-10)


def test_fits_over_every_lag_whatever_the_budget():
    """Curves longer than MAX_STORED_LAGS lags that do not fit in the budget are refitted in a
    second pass: D, alpha and msd_lag equal the all-lag fits of msd.windowed."""
    from hcanalysis import msd

    src = LazyHCSource(n_frames=2 * 1100, n_ions=12, n_carbon=60, seed=7)
    traj = Trajectory(src)

    def run(budget):
        cfg = AnalysisConfig()
        cfg.stages = ["msd"]
        cfg.msd.remove_drift = None
        cfg.windows.window = 1100  # 551 lags > MAX_STORED_LAGS
        cfg.max_memory = budget
        return compute(traj, cfg)

    small, big = run(300_000), run(1 << 30)
    assert "second pass" in small.metadata["reports"]["msd"]
    assert "second pass" not in big.metadata["reports"]["msd"]
    ref = msd.windowed(traj.positions("Na", unwrap=True), window=1100, dt_ps=src.dt_ps)
    for col, want in (("D", ref.D), ("alpha", ref.alpha), ("msd_lag", ref.fits.msd_lag)):
        np.testing.assert_allclose(small.frame[col], want.ravel(), rtol=1e-9)
        np.testing.assert_allclose(big.frame[col], want.ravel(), rtol=1e-9)


def test_stored_lags():
    np.testing.assert_array_equal(stored_lags(10), np.arange(10))
    lags = stored_lags(25_000)
    assert lags[0] == 0 and lags[1] == 1 and lags[-1] == 24_999
    assert np.all(np.diff(lags) > 0) and len(lags) <= MAX_STORED_LAGS + 1
    # log-spaced: about as many lags per decade at the end as at the start
    assert np.sum((lags >= 10) & (lags < 100)) > 20 and np.sum(lags >= 10_000) < 100


def test_max_memory_flag_parsing():
    from hcanalysis.cli.analyze_cmd import parse_bytes
    from hcanalysis.errors import HCAnalysisError

    assert parse_bytes("2GiB") == 2 * 1024**3
    assert parse_bytes("512MiB") == 512 * 1024**2
    assert parse_bytes("1.5GB") == 1_500_000_000
    assert parse_bytes("1000000") == 1_000_000
    with pytest.raises(HCAnalysisError, match="max-memory"):
        parse_bytes("lots")
