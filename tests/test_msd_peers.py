"""Per-ion MSD agrees with MDAnalysis, freud and tidynamics on the same array."""

import warnings

import numpy as np
import pytest

from hcanalysis import Trajectory, msd


@pytest.fixture
def walk(rng):
    """float32 positions (as MDAnalysis stores them), offset from the origin."""
    x = np.cumsum(rng.normal(scale=0.8, size=(500, 16, 3)), axis=0) + [5.0, -3.0, 12.0]
    return x.astype(np.float32)


def test_mdanalysis_einstein_msd_fft(walk):
    from MDAnalysis.analysis.msd import EinsteinMSD

    u = Trajectory.from_arrays(walk, np.diag([500.0] * 3), ["Na"] * walk.shape[1]).to_universe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e = EinsteinMSD(u, select="all", msd_type="xyz", fft=True).run()
    theirs = e.results.msds_by_particle.T  # (n_particles, n_frames)
    ours = msd.per_ion(walk)
    np.testing.assert_allclose(ours[:, 1:], theirs[:, 1:], rtol=1e-6)
    np.testing.assert_allclose(ours.mean(axis=0)[1:], e.results.timeseries[1:], rtol=1e-6)
    # per-direction: msd_type "xy"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exy = EinsteinMSD(u, select="all", msd_type="xy", fft=True).run()
    np.testing.assert_allclose(
        msd.per_ion(walk, dims="xy")[:, 1:], exy.results.msds_by_particle.T[:, 1:], rtol=1e-6
    )


def test_freud_msd_window(walk):
    """freud converts positions to float32 and works in float32 (FFT and running sums), so its
    own rounding at lag m is ~ eps32 * T * <|r|²> * T / (T - m); within that bound (plus 1e-6
    relative) the curves agree, and their typical difference is float32 rounding."""
    import freud

    theirs = freud.msd.MSD(mode="window").compute(walk).particle_msd.T
    ours = msd.per_ion(walk)
    t = walk.shape[0]
    sq = np.mean(np.sum(walk.astype(np.float64) ** 2, axis=-1), axis=0)  # per ion
    n_orig = t - np.arange(t)
    bound = 1e-6 * ours + 4 * np.finfo(np.float32).eps * t * sq[:, None] * (t / n_orig)
    assert np.all(np.abs(ours - theirs) <= bound)
    # typical agreement is at float32 rounding
    rel = np.abs(ours[:, 1:] - theirs[:, 1:]) / ours[:, 1:]
    assert np.median(rel) < 1e-6


def test_tidynamics_msd(walk):
    import tidynamics

    ours = msd.per_ion(walk)
    for i in range(walk.shape[1]):
        theirs = tidynamics.msd(walk[:, i].astype(np.float64))
        np.testing.assert_allclose(ours[i, 1:], theirs[1:], rtol=1e-9)
