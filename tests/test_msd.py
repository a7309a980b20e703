"""Public MSD / diffusion API: analytic cases (Brownian motion, lattice random walk, exact
lines), windows, drift removal, non-Gaussian parameter and self van Hove function."""

import numpy as np
import pytest

import hcanalysis
from hcanalysis import msd
from hcanalysis.kernels.msd import msd_direct
from hcanalysis.windows import window_bounds


def _brownian(rng, n_frames, n_ions, D, dt, anisotropy=(1.0, 1.0, 1.0)):
    scale = np.sqrt(2 * D * dt * np.asarray(anisotropy))
    return np.cumsum(rng.normal(size=(n_frames, n_ions, 3)) * scale, axis=0)


def _lattice_walk(rng, n_frames, n_ions, rate, a, dt):
    """Hops of length a to one of the 6 neighbours, Poisson in time with ``rate`` per ps."""
    n_hops = rng.poisson(rate * dt, size=(n_frames - 1, n_ions))
    steps = np.zeros((n_frames - 1, n_ions, 3))
    kmax = int(n_hops.max())
    for k in range(kmax):
        active = n_hops > k
        axis = rng.integers(0, 3, size=active.shape)
        sign = rng.choice([-1.0, 1.0], size=active.shape)
        for d in range(3):
            steps[..., d] += np.where(active & (axis == d), sign * a, 0.0)
    return np.concatenate([np.zeros((1, n_ions, 3)), np.cumsum(steps, axis=0)])


def test_lazy_submodule_and_per_ion_contract(rng):
    x = rng.normal(size=(120, 4, 3)).cumsum(axis=0).astype(np.float32)
    out = hcanalysis.msd.per_ion(x, max_lag=50, backend="cpu", dims="xyz")
    assert out.shape == (4, 51) and out.dtype == np.float64
    np.testing.assert_allclose(out[:, 1:], msd_direct(x, 50)[:, 1:], rtol=1e-10)
    xy = msd.per_ion(x, dims="xy")
    np.testing.assert_allclose(xy[:, 1:], msd_direct(x, dims="xy")[:, 1:], rtol=1e-10)


def test_fit_of_exact_lines():
    t = np.arange(101) * 0.5  # dt = 0.5 ps
    curves = np.stack([6 * 0.3 * t + 2.0, 6 * 1.7 * t, 4.0 * t**2])
    lf = msd.fit_msd(curves, 0.5, (10, 100), n_dims=3)
    np.testing.assert_allclose(lf.D[:2], [0.3, 1.7], rtol=1e-12)
    np.testing.assert_allclose(lf.intercept[:2], [2.0, 0.0], atol=1e-10)
    np.testing.assert_allclose(lf.r2[:2], 1.0, rtol=1e-12)
    np.testing.assert_allclose(lf.alpha[1:], [1.0, 2.0], rtol=1e-10)  # pure power laws
    assert lf.alpha[0] < 1.0  # a positive intercept bends the log-log slope down
    assert lf.r2[2] < 1.0
    np.testing.assert_allclose(lf.D_cm2_s[:2], [0.3e-4, 1.7e-4])
    with pytest.raises(ValueError, match="fit range"):
        msd.fit_msd(curves, 0.5, (0, 10))


def test_windowed_tiles_as_documented(rng):
    x = _brownian(rng, 1000, 5, 0.2, 0.1)
    res = msd.windowed(x, window=300, stride=150, max_lag=100, fit=(20, 100), dt_ps=0.1)
    np.testing.assert_array_equal(res.windows, window_bounds(1000, 300, 150))
    assert res.windows.tolist() == [[0, 300], [150, 450], [300, 600], [450, 750], [600, 900]]
    assert res.msd.shape == (5, 5, 101) and res.D.shape == (5, 5)
    for w, (a, b) in enumerate(res.windows):
        np.testing.assert_allclose(
            res.msd[:, w, 1:], msd_direct(x[a:b], 100)[:, 1:], rtol=1e-10
        )
        ref = msd.fit_msd(msd.per_ion(x[a:b], max_lag=100), 0.1, (20, 100))
        np.testing.assert_allclose(res.D[:, w], ref.D, rtol=1e-10)
    np.testing.assert_allclose(res.lag_ps, np.arange(101) * 0.1)
    np.testing.assert_allclose(res.D_cm2_s, res.D * 1e-4)
    # default: one window, max_lag = half, fit range found from the data (Brownian: diffusive
    # from the first lag, the widest stretch spans at least the default factor 3)
    d = msd.windowed(x)
    assert d.windows.tolist() == [[0, 1000]] and d.lags[-1] == 500
    assert d.range.found and d.range.source == "auto" and d.fit == (d.range.lo, d.range.hi)
    assert d.fit[1] >= 3 * d.fit[0] and np.isclose(d.range.lo_ps, d.fit[0] * 1.0)
    np.testing.assert_allclose(np.nanmean(d.D), 0.2 * 0.1, rtol=0.3)  # dt_ps = 1 here
    with pytest.raises(ValueError, match="fit="):
        msd.windowed(x, window=300, fit=(0, 10))
    with pytest.raises(ValueError, match="max_lag"):
        msd.windowed(x, window=300, max_lag=300)


def test_brownian_D_within_stated_error(rng):
    D, dt = 0.25, 0.2
    x = _brownian(rng, 4000, 64, D, dt)
    res = msd.diffusion(x, dt, window=400, max_lag=100, fit=(10, 100))
    assert len(res.D_blocks) == 10 and res.n_eff == 10
    assert res.D_err > 0
    assert abs(res.D - D) < 3 * res.D_err, (res.D, res.D_err)
    assert abs(res.D - D) < 0.05 * D
    np.testing.assert_allclose(res.D, res.D_blocks.mean(), rtol=1e-12)
    assert abs(res.alpha - 1.0) < 0.02 and res.r2 > 0.99
    np.testing.assert_allclose(res.D_dim, D, rtol=0.1)
    np.testing.assert_allclose(res.msd, res.msd_dim.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(res.D_cm2_s, res.D * 1e-4)


def test_block_error_is_calibrated(rng):
    """Across independent trajectories, the spread of D matches the stated error."""
    D, dt = 1.0, 0.1
    ests, errs = [], []
    for _ in range(40):
        x = _brownian(rng, 1000, 8, D, dt)
        r = msd.diffusion(x, dt, window=100, max_lag=20, fit=(2, 20), n_alpha2_lags=1,
                          vanhove_lags=[])
        ests.append(r.D)
        errs.append(r.D_err)
    ests, errs = np.array(ests), np.array(errs)
    spread = ests.std(ddof=1)
    assert 0.6 < np.mean(errs) / spread < 1.6, (np.mean(errs), spread)
    z = np.abs(ests - D) / errs
    assert np.mean(z < 2) > 0.8


def test_diffusion_chunks_of_ions_give_the_same_result(rng, monkeypatch):
    x = _brownian(rng, 600, 7, 0.5, 0.1)
    whole = msd.diffusion(x, 0.1, max_lag=40, n_alpha2_lags=3)
    monkeypatch.setattr(msd, "DIFFUSION_CHUNK_BYTES", 1)  # one ion per chunk
    chunked = msd.diffusion(x, 0.1, max_lag=40, n_alpha2_lags=3)
    np.testing.assert_allclose(chunked.msd_dim, whole.msd_dim, rtol=1e-12)
    np.testing.assert_allclose(chunked.D_blocks, whole.D_blocks, rtol=1e-12)


def test_overlapping_blocks_are_not_counted_as_independent(rng):
    x = _brownian(rng, 1000, 4, 0.5, 0.1)
    r = msd.diffusion(x, 0.1, window=200, stride=50, max_lag=50, n_alpha2_lags=2)
    assert len(r.D_blocks) == 17
    np.testing.assert_allclose(r.n_eff, 1 + 16 * 50 / 200)


def test_lattice_random_walk_D_and_alpha2(rng):
    rate, a, dt = 2.0, 1.5, 0.05  # hops per ps, Å, ps
    x = _lattice_walk(rng, 6000, 60, rate, a, dt)
    r = msd.diffusion(x, dt, window=1200, max_lag=300, fit=(20, 300),
                      alpha2_lags=[2, 10, 40, 200])
    d_true = rate * a**2 / 6
    assert abs(r.D - d_true) < max(3 * r.D_err, 0.0), (r.D, r.D_err, d_true)
    assert abs(r.D - d_true) < 0.06 * d_true
    # α2(τ) = 3 / (5 k τ) for Poisson hops on a cubic lattice
    tau = r.alpha2_lags * dt
    np.testing.assert_allclose(r.alpha2, 3 / (5 * rate * tau), rtol=0.15, atol=0.02)


def test_brownian_alpha2_and_van_hove(rng):
    D, dt = 0.5, 0.1
    x = _brownian(rng, 3000, 50, D, dt)
    r = msd.diffusion(x, dt, max_lag=100, vanhove_lags=[5, 50], vanhove_bins=60)
    assert np.all(np.abs(r.alpha2) < 0.05)
    width = r.vanhove_r[1] - r.vanhove_r[0]
    np.testing.assert_allclose(r.vanhove_p.sum(axis=1) * width + r.vanhove_overflow, 1.0)
    assert np.all(r.vanhove_overflow < 1e-3)
    for row, lag in enumerate(r.vanhove_lags):
        s = 2 * D * lag * dt  # variance per component
        p_true = 4 * np.pi * r.vanhove_r**2 * np.exp(-r.vanhove_r**2 / (2 * s)) / (
            2 * np.pi * s
        ) ** 1.5
        np.testing.assert_allclose(r.vanhove_p[row], p_true, atol=0.04 * p_true.max())
        np.testing.assert_allclose(
            r.vanhove_gs[row], r.vanhove_p[row] / (4 * np.pi * r.vanhove_r**2)
        )


def test_anisotropic_per_direction_D(rng):
    D, dt = 0.4, 0.1
    x = _brownian(rng, 3000, 40, D, dt, anisotropy=(1.0, 0.5, 0.1))
    r = msd.diffusion(x, dt, max_lag=100, n_alpha2_lags=3)
    np.testing.assert_allclose(r.D_dim, [0.4, 0.2, 0.04], rtol=0.12)
    np.testing.assert_allclose(r.D, np.mean(r.D_dim), rtol=1e-10)
    rz = msd.diffusion(x, dt, max_lag=100, dims="z", n_alpha2_lags=3)
    np.testing.assert_allclose(rz.D, 0.04, rtol=0.12)
    np.testing.assert_allclose(rz.D, r.D_dim[2], rtol=1e-10)


def test_drift_removal(rng):
    D, dt = 0.1, 0.1
    x = _brownian(rng, 2000, 30, D, dt)
    v = np.array([0.5, -0.2, 0.1])  # Å/ps: a flowing frame
    moving = x + (np.arange(2000) * dt)[:, None, None] * v
    # a flowing frame is super-diffusive: no diffusive range, so no D, unless a range is forced
    flowing = msd.diffusion(moving, dt, max_lag=100, n_alpha2_lags=2)
    assert not flowing.range.found and np.isnan(flowing.D) and flowing.alpha > 1.2
    assert "never within" in flowing.range.reason or "only over" in flowing.range.reason
    biased = msd.diffusion(moving, dt, max_lag=100, fit=(20, 100), n_alpha2_lags=2)
    assert biased.D > 2 * D and biased.alpha > 1.2
    fixed = msd.diffusion(moving, dt, max_lag=100, drift="species", n_alpha2_lags=2)
    ref = msd.diffusion(x - x.mean(axis=1, keepdims=True), dt, max_lag=100, n_alpha2_lags=2)
    np.testing.assert_allclose(fixed.D, ref.D, rtol=1e-9)
    assert abs(fixed.D - D) < 0.1 * D
    # a drift array from other atoms (here heavier host atoms moving with the frame)
    host = rng.normal(size=(1, 10, 3)) + (np.arange(2000) * dt)[:, None, None] * v
    dr = msd.com_drift(host, masses=np.full(10, 12.0))
    assert dr.shape == (2000, 3) and np.all(dr[0] == 0)
    by_host = msd.per_ion(moving, max_lag=100, drift=dr)
    np.testing.assert_allclose(by_host, msd.per_ion(x, max_lag=100), rtol=1e-8, atol=1e-10)
    with pytest.raises(ValueError, match="drift"):
        msd.per_ion(x, drift="carbon")
    with pytest.raises(ValueError, match="drift"):
        msd.per_ion(x, drift=np.zeros((3, 3)))


def test_input_errors():
    with pytest.raises(ValueError, match="n_frames, n_ions, 3"):
        msd.per_ion(np.zeros((10, 3)))
    with pytest.raises(ValueError, match="at least 2 frames"):
        msd.per_ion(np.zeros((1, 3, 3)))
    with pytest.raises(ValueError, match="max_lag"):
        msd.per_ion(np.zeros((10, 3, 3)), max_lag=10)
    with pytest.raises(hcanalysis.kernels.BackendError):
        msd.per_ion(np.zeros((10, 3, 3)), backend="gpu")


def test_log_lags():
    lags = msd.log_lags(1000, 20)
    assert lags[0] == 1 and lags[-1] == 1000 and np.all(np.diff(lags) > 0)
    assert len(msd.log_lags(5, 20)) == 5
