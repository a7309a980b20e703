"""MSD kernels: FFT algorithm == direct double loop, on the CPU and under the CUDA simulator."""

import tracemalloc

import numpy as np
import pytest

from hcanalysis.kernels import msd as K
from hcanalysis.kernels.backend import resolve_backend


def _walk(rng, shape, scale=1.0, offset=0.0, dtype=np.float64):
    return (np.cumsum(rng.normal(scale=scale, size=shape + (3,)), axis=0) + offset).astype(dtype)


def _assert_rel(got, ref, rtol=1e-10):
    """Relative agreement at every lag >= 1 (lag 0 is exactly zero)."""
    assert got.shape == ref.shape
    assert np.all(got[..., 0] == 0.0)
    rel = np.abs(got[..., 1:] - ref[..., 1:]) / np.abs(ref[..., 1:])
    assert rel.max() < rtol, rel.max()


@pytest.mark.parametrize("shape", [(2, 1), (3, 4), (57, 3), (300, 7), (1000, 2)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("per_dim", [False, True])
def test_fft_equals_direct_loop(rng, shape, dtype, per_dim):
    x = _walk(rng, shape, offset=40.0, dtype=dtype)
    t = shape[0]
    got = K.msd_windows(x, np.array([0]), t, t - 1, per_dim=per_dim)[:, 0]
    _assert_rel(got, K.msd_direct(x, per_dim=per_dim))


def test_uniform_noise_and_partial_dims(rng):
    x = rng.uniform(-50, 50, size=(500, 5, 3))
    got = K.msd_windows(x, np.array([0]), 500, 123, dims="xz")[:, 0]
    _assert_rel(got, K.msd_direct(x, 123, dims="xz"))
    got_y = K.msd_windows(x, np.array([0]), 500, 499, dims=(1,))[:, 0]
    _assert_rel(got_y, K.msd_direct(x, dims="y"))


def test_windows_equal_direct_on_each_slice(rng):
    x = _walk(rng, (400, 6), dtype=np.float32)
    starts = np.array([0, 90, 180, 250])
    got = K.msd_windows(x, starts, 150, 70)
    assert got.shape == (6, 4, 71)
    for w, s in enumerate(starts):
        _assert_rel(got[:, w], K.msd_direct(x[s : s + 150], 70))


def test_drift_is_subtracted(rng):
    x = _walk(rng, (200, 4))
    drift = np.cumsum(rng.normal(size=(200, 3)), axis=0)
    got = K.msd_windows(x + drift[:, None, :], np.array([0, 50]), 150, 100, drift=drift)
    for w, s in enumerate((0, 50)):
        _assert_rel(got[:, w], K.msd_direct(x[s : s + 150], 100))
    ref = K.msd_direct(x + drift[:, None, :], 100, drift=drift)
    np.testing.assert_allclose(ref, K.msd_direct(x, 100), rtol=1e-9)


def test_chunking_does_not_change_results(rng):
    x = _walk(rng, (300, 37))
    full = K.msd_windows(x, np.array([0, 100]), 200, 150, max_memory=1 << 30)
    tiny = K.msd_windows(x, np.array([0, 100]), 200, 150, max_memory=1)  # one series a chunk
    np.testing.assert_array_equal(full, tiny)
    assert K.pairs_per_chunk(1000, 8192, 3, budget=8192 * (24 * 3 + 16) * 10) == 10
    assert K.pairs_per_chunk(5, 8192, 3, budget=1 << 40) == 5


def test_memory_stays_within_budget(rng):
    x = _walk(rng, (4000, 100))  # 9.6 MB
    budget = 4 << 20
    K.msd_windows(x[:50, :2], np.array([0]), 50, 49)  # compile outside the trace
    tracemalloc.start()
    out = K.msd_windows(x, np.array([0]), 4000, 3999, max_memory=budget)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    extra = peak - out.nbytes
    assert extra <= budget + (1 << 20), (extra, budget)


def test_fft_length_is_enough_for_the_lags():
    n = K.fft_length(1000, 10)
    assert n >= 1010 and n < 2000
    assert K.fft_length(1000, 999) >= 1999


@pytest.mark.parametrize("bad", ["xq", "", (0, 0), (3,)])
def test_bad_dims(bad):
    with pytest.raises(ValueError):
        K.dims_indices(bad)


def test_bad_arguments(rng):
    x = _walk(rng, (20, 2))
    with pytest.raises(ValueError, match="max_lag"):
        K.msd_windows(x, np.array([0]), 20, 20)
    with pytest.raises(ValueError, match="past the last frame"):
        K.msd_windows(x, np.array([5]), 20, 3)
    with pytest.raises(ValueError, match="n_frames, n_ions, 3"):
        K.msd_windows(x[:, :, :2], np.array([0]), 20, 3)
    with pytest.raises(ValueError, match="drift"):
        K.msd_windows(x, np.array([0]), 20, 3, drift=np.zeros((19, 3)))


def test_moments_match_reference(rng):
    x = _walk(rng, (300, 9), dtype=np.float32)
    drift = np.cumsum(rng.normal(scale=0.1, size=(300, 3)), axis=0)
    lags = np.array([1, 3, 10, 50, 299])
    edges = np.linspace(0, 20.0, 41)
    s2, s4, cnt, hist = K.displacement_moments(
        x, lags, vanhove_lags=np.array([3, 50]), r_max=20.0, n_bins=40, drift=drift
    )
    r2, r4, rc, rh = K.moments_direct(x, lags, r_edges=edges, drift=drift)
    np.testing.assert_allclose(s2, r2, rtol=1e-12)
    np.testing.assert_allclose(s4, r4, rtol=1e-12)
    np.testing.assert_array_equal(cnt, rc)
    np.testing.assert_array_equal(hist, rh[[1, 3]])
    # origin stride
    s2b, _, cntb, _ = K.displacement_moments(x, lags, origin_stride=7)
    assert cntb[0] == 9 * len(range(0, 299, 7))
    assert np.all(s2b > 0)
    with pytest.raises(ValueError, match="not among the lags"):
        K.displacement_moments(x, lags, vanhove_lags=np.array([2]))


# ----------------------------------------------------------------------------- CUDA (simulator)
@pytest.mark.cudasim
@pytest.mark.parametrize("per_dim", [False, True])
def test_cuda_kernels_equal_direct(rng, per_dim):
    assert resolve_backend("cuda") == "cuda"
    x = _walk(rng, (40, 3), offset=10.0, dtype=np.float32)
    got = K.msd_windows(x, np.array([0]), 40, 39, per_dim=per_dim, backend="cuda")[:, 0]
    _assert_rel(got, K.msd_direct(x, per_dim=per_dim))
    cpu = K.msd_windows(x, np.array([0]), 40, 39, per_dim=per_dim, backend="cpu")[:, 0]
    np.testing.assert_allclose(got, cpu, rtol=1e-12, atol=1e-12)


@pytest.mark.cudasim
def test_cuda_windows_drift_and_chunks(rng):
    x = _walk(rng, (48, 3))
    drift = np.cumsum(rng.normal(size=(48, 3)), axis=0)
    got = K.msd_windows(
        x + drift[:, None, :], np.array([0, 12, 24]), 24, 10, dims="xy", backend="cuda",
        drift=drift, max_memory=1,
    )
    for w, s in enumerate((0, 12, 24)):
        _assert_rel(got[:, w], K.msd_direct(x[s : s + 24], 10, dims="xy"))


@pytest.mark.cudasim
def test_cuda_moments_equal_reference(rng):
    x = _walk(rng, (30, 3))
    lags = np.array([1, 4, 20])
    edges = np.linspace(0, 10.0, 11)
    s2, s4, cnt, hist = K.displacement_moments(
        x, lags, vanhove_lags=np.array([4]), r_max=10.0, n_bins=10, backend="cuda"
    )
    r2, r4, rc, rh = K.moments_direct(x, lags, r_edges=edges)
    np.testing.assert_allclose(s2, r2, rtol=1e-12)
    np.testing.assert_allclose(s4, r4, rtol=1e-12)
    np.testing.assert_array_equal(cnt, rc)
    np.testing.assert_array_equal(hist[0], rh[1])
