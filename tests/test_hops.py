"""Hop detection: p_hop kernels against the direct formula, planted hops on a lattice hopper,
Poisson waiting times, hysteresis, periodic triclinic hops, trapping, correlated hops."""

import numpy as np
import pandas as pd
import pytest
from conftest import triclinic_box
from scipy import stats

from hcanalysis import Trajectory, hops
from hcanalysis.kernels import hops as K


def _walk(rng, n_frames, n_ions, step=0.3, offset=50.0):
    return offset + np.cumsum(rng.normal(scale=step, size=(n_frames, n_ions, 3)), axis=0)


def _hopper(rng, n_frames, hop_frames, length=2.0, sigma=0.1, direction=None):
    """One ion vibrating (Gaussian, sigma per component) around sites; it arrives at a new site
    ``length`` Å away at each frame of ``hop_frames``. Returns positions (n_frames, 3) and the
    hop vectors."""
    sites = np.zeros((n_frames, 3))
    vecs = []
    site = np.zeros(3)
    for f in hop_frames:
        v = rng.normal(size=3) if direction is None else np.asarray(direction, float)
        v = length * v / np.linalg.norm(v)
        site = site + v
        sites[f:] = site
        vecs.append(v)
    return sites + rng.normal(scale=sigma, size=sites.shape), np.array(vecs)


# ---------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("w", [1, 4, 25])
def test_running_sum_equals_direct_formula(rng, w):
    x = _walk(rng, 400, 6)
    ref = K.phop_reference(x, w)
    scale = np.nanmax(ref)
    variants = (K.phop_cpu(x, w), K.phop_cpu(x, w, block=7, tile=4), K.phop_cumsum_numpy(x, w))
    for got in variants:
        assert np.array_equal(np.isnan(got), np.isnan(ref))
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10 * scale)
    # public API: (n_ions, n_frames); float32 by default (float64 arithmetic, one rounding at
    # the store), float64 on request; float32 input accumulates in float64
    got32 = hops.p_hop(x, w, backend="cpu")
    assert got32.dtype == np.float32 and got32.shape == ref.T.shape
    np.testing.assert_allclose(got32, ref.T, rtol=1e-6, atol=1e-6 * scale)
    got64 = hops.p_hop(x, w, backend="cpu", dtype=np.float64)
    assert got64.dtype == np.float64
    np.testing.assert_allclose(got64, ref.T, rtol=1e-10, atol=1e-10 * scale)
    # float32 is the float64 result rounded once
    np.testing.assert_array_equal(got32, got64.astype(np.float32))
    x32 = x.astype(np.float32)
    np.testing.assert_allclose(
        K.phop_cpu(x32, w), K.phop_reference(x32.astype(np.float64), w), rtol=1e-9, atol=1e-9
    )


@pytest.mark.parametrize("w", [1, 3, 25])
def test_cpu_kernel_tasks_and_layouts(rng, w):
    """Every split into tasks (block x tile, including one frame / one ion per task and tiles
    wider than the array), the shortest trajectory (2w+1 frames), float32 and non-contiguous
    input give the direct formula."""
    x = _walk(rng, 3 * w + 40, 7, offset=500.0)
    ref = K.phop_reference(x, w)
    scale = np.nanmax(ref)
    for block, tile in ((1, 1), (2, 3), (5, 7), (64, 2), (10_000, 10_000)):
        got = K.phop_cpu(x, w, block=block, tile=tile)
        assert np.array_equal(np.isnan(got), np.isnan(ref))
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10 * scale)
    short = x[: 2 * w + 1]
    got = K.phop_cpu(short, w, block=1, tile=2)
    assert np.isfinite(got[w]).all() and np.isnan(np.delete(got, w, axis=0)).all()
    np.testing.assert_allclose(got[w], K.phop_reference(short, w)[w], rtol=1e-10)
    # a strided view (every other ion) is copied to a contiguous array first
    np.testing.assert_allclose(K.phop_cpu(x[:, ::2], w), ref[:, ::2], rtol=1e-10,
                               atol=1e-10 * scale)
    x32 = (x - 500.0).astype(np.float32)
    np.testing.assert_allclose(K.phop_cpu(x32, w, block=9, tile=4),
                               K.phop_reference(x32.astype(np.float64), w), rtol=1e-9,
                               atol=1e-9 * scale)
    # float32 output, every task split, against the direct float64 formula
    for block, tile in ((1, 1), (5, 7), (10_000, 10_000)):
        got = K.phop_cpu(x, w, block=block, tile=tile, dtype=np.float32)
        assert got.dtype == np.float32
        assert np.array_equal(np.isnan(got), np.isnan(ref))
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6 * scale)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_out_buffer_reused(rng, dtype):
    """``out=``: written in place (edges re-set to NaN), returned, equal to a fresh result;
    one buffer serves successive chunks of ions; bad buffers are refused."""
    w = 4
    x = _walk(rng, 120, 9)
    buf = np.full((9, 120), 123.0, dtype=dtype).T.copy().T  # (n_ions, n_frames), F-order
    got = hops.p_hop(x, w, backend="cpu", out=buf)
    assert got is buf and got.dtype == dtype
    fresh = hops.p_hop(x, w, backend="cpu", dtype=dtype)
    np.testing.assert_array_equal(got, fresh)
    ref = K.phop_reference(x, w).T
    tol = 1e-6 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * np.nanmax(ref))
    # chunks of ions through one buffer: each chunk equals its own fresh result
    chunk = np.empty((120, 3), dtype=dtype).T
    for i0 in range(0, 9, 3):
        res = hops.p_hop(x[:, i0 : i0 + 3], w, backend="cpu", out=chunk)
        np.testing.assert_array_equal(res, fresh[i0 : i0 + 3])
    # the kernel's frame-major buffer
    kbuf = np.zeros((120, 9), dtype=dtype)
    assert K.phop_cpu(x, w, out=kbuf) is kbuf
    np.testing.assert_array_equal(kbuf, fresh.T)
    with pytest.raises(ValueError, match="shape"):
        hops.p_hop(x, w, out=np.empty((120, 8), dtype=dtype).T)
    with pytest.raises(ValueError, match="C-contiguous"):
        hops.p_hop(x, w, out=np.empty((9, 120), dtype=dtype))
    with pytest.raises(ValueError, match="dtype"):
        hops.p_hop(x, w, out=np.empty((120, 9), dtype=np.int64).T)
    with pytest.raises(ValueError, match="dtype"):
        other = np.float64 if dtype == np.float32 else np.float32
        hops.p_hop(x, w, dtype=other, out=np.empty((120, 9), dtype=dtype).T)
    with pytest.raises(ValueError, match="float32 or float64"):
        hops.p_hop(x, w, dtype=np.float16)


def test_edges_and_step_analytic():
    w, n, l = 5, 40, 3.0
    x = np.zeros((n, 1, 3))
    x[20:, 0, 0] = l  # first frame at the new site: 20
    p = hops.p_hop(x, w, dtype=np.float64)[0]
    assert np.isnan(p[:w]).all() and np.isnan(p[n - w :]).all()
    assert np.isfinite(p[w : n - w]).all()
    # A = [t-w, t] holds w old + 1 new frame, B all new: p = l^2 (w/(w+1))^1.5
    exact = l**2 * (w / (w + 1)) ** 1.5
    assert abs(p[20] - exact) <= 1e-12 * exact
    assert abs(p[19] - p[20]) <= 1e-12 * exact
    p32 = hops.p_hop(x, w)[0]  # default float32: the same value rounded once
    assert p32.dtype == np.float32 and abs(float(p32[20]) - exact) <= 1e-7 * exact
    assert p[20 - w - 1] == 0.0 and p[20 + w] == 0.0
    with pytest.raises(ValueError, match="half_window"):
        hops.p_hop(x[:10], w)


def test_hysteresis_kernels_agree(rng):
    s = rng.random((300, 5))
    s[rng.random(s.shape) < 0.02] = np.nan
    on, off = np.full(5, 0.8), np.full(5, 0.4)
    ref = K.hysteresis_reference(s, on, off)
    np.testing.assert_array_equal(K.hysteresis_cpu(s, on, off), ref)
    assert ref.sum() > 0


@pytest.mark.cudasim
def test_cuda_kernels_equal_cpu_under_simulator(rng):
    x = _walk(rng, 48, 3)
    for w, block in ((3, 5), (6, 128)):
        np.testing.assert_allclose(
            K.phop_cuda(x, w, block=block), K.phop_cpu(x, w), rtol=1e-12, atol=1e-12
        )
        # float32 output into a caller's buffer, against the CPU kernel and the direct formula
        buf = np.empty(x.shape[:2], dtype=np.float32)
        got = K.phop_cuda(x, w, block=block, out=buf)
        assert got is buf
        ref = K.phop_reference(x, w)
        np.testing.assert_allclose(got, K.phop_cpu(x, w, dtype=np.float32), rtol=1e-6,
                                   atol=1e-6 * np.nanmax(ref))
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6 * np.nanmax(ref))
    np.testing.assert_allclose(K.displacement_cuda(x, 4), K.displacement_reference(x, 4),
                               rtol=1e-12, equal_nan=True)
    s = K.displacement_cpu(x, 2)
    on = np.full(3, np.nanmedian(s))
    np.testing.assert_array_equal(K.hysteresis_cuda(s, on, on / 2),
                                  K.hysteresis_reference(s, on, on / 2))


@pytest.mark.cudasim
@pytest.mark.parametrize("method", ["p_hop", "displacement"])
def test_detect_cuda_equals_cpu(rng, method):
    x = np.stack([_hopper(rng, 60, [30])[0] for _ in range(2)], axis=1)
    a = hops.detect(x, half_window=5, method=method, threshold=1.0, backend="cpu")
    b = hops.detect(x, half_window=5, method=method, threshold=1.0, backend="cuda")
    assert len(a) == 2
    np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-10)


def test_detect_float32_signal_equals_float64(rng):
    """The default float32 p_hop signal finds the same events as float64 on planted hops;
    peaks and thresholds agree to float32 rounding."""
    planted = [[200, 500], [350], [120, 600, 800]]
    x = np.stack([_hopper(rng, 1000, f, length=2.0)[0] for f in planted], axis=1)
    a = hops.detect(x, half_window=20, backend="cpu")
    b = hops.detect(x, half_window=20, backend="cpu", dtype=np.float64)
    assert len(a) == sum(map(len, planted))
    cols = ["ion", "frame_start", "frame_end", "frame_peak", "frame_hop", "dx", "dy", "dz"]
    np.testing.assert_array_equal(a[cols].to_numpy(), b[cols].to_numpy())
    np.testing.assert_allclose(a["p_hop_peak"], b["p_hop_peak"], rtol=1e-7)
    np.testing.assert_allclose(a.attrs["thresholds"], b.attrs["thresholds"], rtol=1e-7)


def test_detect_reuses_given_p_hop_values(rng):
    """A caller's p_hop array gives the same events as detect's own computation (the pipeline
    and the CLI pass theirs instead of computing p_hop twice); a wrong shape is an error."""
    planted = [[200, 500], [350]]
    x = np.stack([_hopper(rng, 1000, f, length=2.0)[0] for f in planted], axis=1)
    ph = hops.p_hop(x, 20, backend="cpu")
    a = hops.detect(x, half_window=20, backend="cpu")
    b = hops.detect(x, half_window=20, backend="cpu", p_hop_values=ph)
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(ValueError, match="expected \\(n_ions, n_frames\\)"):
        hops.detect(x, half_window=20, p_hop_values=ph.T)


def test_split_displacement_matches_reference(rng):
    x = _walk(rng, 200, 3)
    ions, lo, hi = np.array([0, 2, 1]), np.array([20, 50, 100]), np.array([35, 80, 101])
    s, d = K.split_displacements(x, ions, lo, hi, 9)
    for e in range(3):
        rs, rd = K.split_displacement_reference(x, ions[e], lo[e], hi[e], 9)
        assert s[e] == rs
        np.testing.assert_allclose(d[e], rd, atol=1e-12)


# ---------------------------------------------------------------------------- lattice hopper
def test_planted_hops_found_with_lengths(rng):
    # window means of w frames: length error ~ sigma sqrt(2/w) = 0.02 Å at w = 50
    w = 50
    planted = np.array([150, 400, 700, 850, 1100, 1500, 1900])
    x, vecs = _hopper(rng, 2000, planted, length=2.5)
    ev = hops.detect(x[:, None, :], half_window=w, dt_ps=0.5)
    assert len(ev) == len(planted)
    found = ev["frame_hop"].to_numpy()
    assert np.all(np.abs(found - planted) <= w)
    assert np.all(np.abs(ev["frame_peak"].to_numpy() - planted) <= w)
    np.testing.assert_allclose(ev["length"], 2.5, atol=0.05)
    np.testing.assert_allclose(ev[["dx", "dy", "dz"]].to_numpy(), vecs, atol=0.08)
    np.testing.assert_allclose(ev["t_hop"], found * 0.5)
    # threshold reported: 9 x median p_hop ~ 9 x 3 sigma^2
    assert ev.attrs["thresholds"][0] == pytest.approx(9 * 0.03, rel=0.15)
    assert (ev["frame_start"] <= ev["frame_peak"]).all()
    # tables combine with pandas (attrs hold only comparable values)
    assert len(pd.concat([ev, ev[ev["ion"] == 0]]).merge(ev, on="ion")) == 2 * len(ev) ** 2
    assert (ev["frame_peak"] <= ev["frame_end"]).all()


def test_no_false_hops_in_pure_vibration(rng):
    x = rng.normal(scale=0.1, size=(100_000, 3, 3)) + np.array([1.0, 5.0, 9.0])[:, None]
    for w in (5, 20):
        ev = hops.detect(x, half_window=w)
        assert len(ev) == 0
    table = hops.per_ion(x, ev, window=25_000)
    assert table["trapped"].all() and (table["n_hops"] == 0).all()
    assert np.isinf(table["residence_mle"]).all()
    # plateau of a caged ion: 2 <u^2> = 6 sigma^2
    np.testing.assert_allclose(table["msd_plateau"], 0.06, rtol=0.05)


def test_poisson_hopper_rate_and_exponential_waits(rng):
    n_ions, n_frames, mean_wait, dt = 12, 100_000, 1500.0, 0.01
    x = np.empty((n_frames, n_ions, 3))
    w = 8
    n_true = n_resolvable = 0
    for i in range(n_ions):
        t = np.cumsum(rng.exponential(mean_wait, size=200).astype(int) + 1)
        t = t[t < n_frames]
        n_true += len(t)
        gaps = np.diff(np.concatenate(([-n_frames], t, [2 * n_frames])))
        ok = (gaps[:-1] >= 3 * w) & (gaps[1:] >= 3 * w) & (t >= w) & (t < n_frames - w)
        n_resolvable += int(ok.sum())
        x[:, i], _ = _hopper(rng, n_frames, t, length=1.8)
    ev = hops.detect(x, half_window=w, dt_ps=dt)
    wt = hops.waiting_times(ev)
    true_rate = 1.0 / (mean_wait * dt)
    # hops closer than the p_hop windows (a few %) merge; every resolvable one is found
    assert n_resolvable <= len(ev) <= n_true
    # the rate estimate agrees with the truth within 4 standard errors (Poisson counts)
    assert abs(wt.rate - true_rate) < 4 * true_rate / np.sqrt(wt.n_hops)
    assert abs(wt.residence_mle - mean_wait * dt) < 4 * mean_wait * dt / np.sqrt(wt.n_hops)
    # complete intervals are exponential with that mean (KS test)
    res = stats.kstest(wt.complete, "expon", args=(0, mean_wait * dt))
    assert res.pvalue > 0.01
    assert len(wt.first_censored) == len(wt.last_censored) == n_ions
    assert len(wt.complete) == wt.n_hops - n_ions
    np.testing.assert_allclose(ev["length"].median(), 1.8, atol=0.02)
    # uncorrelated random-direction hops: D = rate <l^2> / 6 agrees with the MSD slope
    lag = 5000
    msd = np.mean(np.sum((x[lag:] - x[:-lag]) ** 2, axis=2))
    d_msd = msd / (6 * lag * dt)
    d_hop = wt.rate * np.mean(ev["length"] ** 2) / 6
    assert d_hop == pytest.approx(d_msd, rel=0.2)


def test_per_ion_windows_and_censoring(rng):
    w = 10
    planted = [300, 500, 900, 1300, 1700]
    a, _ = _hopper(rng, 2000, planted, length=2.0)
    b = rng.normal(scale=0.1, size=(2000, 3))
    x = np.stack([a, b], axis=1)
    ev = hops.detect(x, half_window=w, dt_ps=2.0)
    table = hops.per_ion(x, ev, window=1000, p_hop_values=hops.p_hop(x, w))
    assert list(table["window"]) == [0, 0, 1, 1]
    hopper = table[table["ion"] == 0].reset_index(drop=True)
    assert list(hopper["n_hops"]) == [3, 2]
    assert hopper["n_hops"].sum() == len(ev)
    f = ev["frame_hop"].to_numpy()
    # window 0 observes frames [w, 1000): censored first from w, last to 1000
    assert hopper.loc[0, "wait_first_censored"] == (f[0] - w) * 2.0
    assert hopper.loc[0, "wait_last_censored"] == (1000 - f[2]) * 2.0
    assert hopper.loc[0, "wait_mean"] == pytest.approx(np.diff(f[:3]).mean() * 2.0)
    assert hopper.loc[0, "observed_ps"] == (1000 - w) * 2.0
    assert hopper.loc[1, "observed_ps"] == (2000 - w - 1000) * 2.0
    assert hopper.loc[0, "hop_rate"] == pytest.approx(3 / ((1000 - w) * 2.0))
    assert not hopper["trapped"].any()
    caged = table[table["ion"] == 1]
    assert caged["trapped"].all() and (caged["n_hops"] == 0).all()
    assert (hopper["p_hop_max"] > 3.0).all() and (caged["p_hop_max"] < 0.2).all()


def test_tortuosity_straight_and_zigzag():
    n, h = 400, 10
    straight = np.zeros((n, 1, 3))
    straight[:, 0, 0] = np.arange(n) * 0.1
    bounds = np.array([[0, n]])
    assert hops.tortuosity(straight, h, bounds)[0, 0] == pytest.approx(1.0, rel=1e-12)
    # back and forth along x, 4 blocks out and 4 back, repeated: net displacement of block
    # means over 40 blocks is 1 block step
    zig = np.zeros((n, 1, 3))
    step = np.repeat(np.tile([1.0] * 4 + [-1.0] * 4, 5), h)[:n]
    zig[:, 0, 0] = np.concatenate(([0.0], np.cumsum(step)[:-1]))
    t = hops.tortuosity(zig, h, bounds)[0, 0]
    c = zig[:, 0, 0].reshape(-1, h).mean(axis=1)
    assert t == pytest.approx(np.abs(np.diff(c)).sum() / abs(c[-1] - c[0]))
    assert t > 5


def test_kaplan_meier():
    t, s = hops.kaplan_meier([1.0, 2.0, 3.0, 4.0], [True, True, True, True])
    np.testing.assert_allclose(s, [0.75, 0.5, 0.25, 0.0])
    # a censored 2.5 leaves the risk set without a death
    t, s = hops.kaplan_meier([1.0, 2.5, 3.0, 4.0], [True, False, True, True])
    np.testing.assert_allclose(t, [1.0, 3.0, 4.0])
    np.testing.assert_allclose(s, [0.75, 0.75 * 0.5, 0.0])


# ---------------------------------------------------------------------------- displacement rule
def test_displacement_rule_hysteresis_on_constructed_path():
    # steps along x; with lag=1, d(t) = |step t|
    steps = np.array([0.1, 0.1, 1.2, 0.8, 1.1, 0.1, 0.1, 0.9, 0.2, 0.1, 0.1, 1.5, 0.1, 0.1])
    x = np.zeros((len(steps) + 1, 1, 3))
    x[1:, 0, 0] = np.cumsum(steps)
    kw = dict(half_window=1, method="displacement", lag=1, threshold=1.0, min_separation=0)
    with_h = hops.detect(x, hysteresis=0.5, **kw)
    assert list(zip(with_h["frame_start"], with_h["frame_end"], strict=True)) == [(2, 4), (11, 11)]
    assert list(with_h["frame_peak"]) == [2, 11]
    assert with_h["d_peak"].tolist() == pytest.approx([1.2, 1.5])
    without = hops.detect(x, hysteresis=1.0, **kw)
    assert list(zip(without["frame_start"], without["frame_end"], strict=True)) == [
        (2, 2), (4, 4), (11, 11)
    ]
    # min_separation merges runs closer than it
    merged = hops.detect(x, **{**kw, "min_separation": 2}, hysteresis=1.0)
    assert list(zip(merged["frame_start"], merged["frame_end"], strict=True)) == [
        (2, 4), (11, 11)
    ]


def test_displacement_rule_on_hopper(rng):
    planted = np.array([300, 800, 1400])
    x, _ = _hopper(rng, 2000, planted, length=3.0)
    ev = hops.detect(x[:, None], half_window=15, method="displacement", threshold=1.5)
    assert len(ev) == 3
    assert np.all(np.abs(ev["frame_hop"].to_numpy() - planted) <= 15)
    np.testing.assert_allclose(ev["length"], 3.0, atol=0.06)


# ---------------------------------------------------------------------------- periodic
def test_hop_across_triclinic_boundary(rng):
    box = triclinic_box(12.0, 13.0, 14.0, 3.0, -2.0, 1.5)
    n = 600
    # a hop of 2.2 Å that carries the ion across the a-face of the cell
    start = np.array([0.93, 0.4, 0.5]) @ box
    true, vecs = _hopper(rng, n, [300], length=2.2, direction=[1.0, 0.3, -0.2])
    true = true + start
    frac = true @ np.linalg.inv(box)
    assert np.ptp(np.floor(frac[:, 0])) >= 1
    wrapped = (frac - np.floor(frac)) @ box
    carbon = np.tile(np.array([[5.0, 5.0, 5.0]]), (n, 1))
    traj = Trajectory.from_arrays(np.stack([wrapped, carbon], axis=1), box, ["Na", "C"])
    na = traj.positions("Na", unwrap=True)
    ev = hops.detect(na, half_window=50)
    assert len(ev) == 1
    assert abs(ev["frame_hop"].iloc[0] - 300) <= 50
    assert ev["length"].iloc[0] == pytest.approx(2.2, abs=0.05)
    np.testing.assert_allclose(ev[["dx", "dy", "dz"]].to_numpy()[0], vecs[0], atol=0.08)
    # the wrapped coordinates alone would see a jump of about a cell length
    ev_wrapped = hops.detect(wrapped[:, None], half_window=12)
    assert (ev_wrapped["length"] > 5).any()


# ---------------------------------------------------------------------------- correlated hops
def test_correlated_hops_pair_together_and_apart(rng):
    box = triclinic_box(15.0, 15.0, 15.0, 2.0, 1.0, -1.0)
    n, w = 1200, 10
    d = [1.0, 0.0, 0.0]
    # ions 0 and 1 hop together (same frames) near opposite faces: minimum image ~1.5 Å
    a, _ = _hopper(rng, n, [300, 800], direction=d)
    b, _ = _hopper(rng, n, [302, 803], direction=d)
    a += np.array([0.7, 7.0, 7.0])
    b += np.array([0.7, 7.0, 7.0]) - box[0] + np.array([1.5, 0.0, 0.0])
    # ion 2 hops at other times (close in space), ion 3 hops together with 0 but far away
    c, _ = _hopper(rng, n, [550], direction=d)
    c += a[0] + np.array([0.0, 1.0, 0.0])
    e, _ = _hopper(rng, n, [1000], direction=d)
    e += np.array([7.0, 7.0, 0.5]) + 0.5 * box[2]
    f, _ = _hopper(rng, n, [300], direction=d)
    f += np.array([0.7, 7.0, 7.0]) + 0.5 * box[1]  # far from 0 and 1 (half a cell)
    x = np.stack([a, b, c, e, f], axis=1)
    ev = hops.detect(x, half_window=w)
    assert len(ev) == 7
    res = hops.correlated_hops(ev, x, box, cutoff=3.0, time_tolerance_ps=10.0)
    by_ion = {i: res.correlated[ev["ion"].to_numpy() == i] for i in range(5)}
    assert by_ion[0].all() and by_ion[1].all()
    assert not by_ion[2].any() and not by_ion[3].any() and not by_ion[4].any()
    assert res.fraction == pytest.approx(4 / 7)
    assert set(res.partner[ev["ion"].to_numpy() == 0]) == {1}
    assert (res.distance[res.correlated] < 2.2).all()
    # a tolerance of 1 frame separates the pair's hops (2-3 frames apart)
    tight = hops.correlated_hops(ev, x, box, cutoff=3.0, time_tolerance_ps=1.0)
    assert tight.fraction < res.fraction


# ------------------------------------------- half-window in ps, one physical "auto" threshold
def _jump_process(n_ions, n_frames, dt_ps, rate_per_ps, length, sigma, tau_ps, seed):
    """Ions on a simple cubic lattice (spacing ``length`` Å) hopping to one of their 6
    neighbours as a Poisson process (``rate_per_ps``), rattling around the site as an
    Ornstein-Uhlenbeck process (rms ``sigma`` Å per component, correlation time ``tau_ps``).
    Returns positions (n_frames, n_ions, 3) and the planted hop count per ion. Shares no
    code or threshold with hcanalysis.hops."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    jumps = rng.random((n_frames - 1, n_ions)) < rate_per_ps * dt_ps
    axis = np.eye(3)[rng.integers(0, 3, size=jumps.shape)]
    sign = rng.choice([-1.0, 1.0], size=jumps.shape)[..., None]
    steps = np.where(jumps[..., None], axis * sign * length, 0.0)
    site = np.concatenate([np.zeros((1, n_ions, 3)), np.cumsum(steps, axis=0)])
    a = np.exp(-dt_ps / tau_ps)
    noise = rng.normal(0, sigma * np.sqrt(1 - a * a), size=(n_frames, n_ions, 3))
    noise[0] = rng.normal(0, sigma, size=(n_ions, 3))
    return site + lfilter([1.0], [1.0, -a], noise, axis=0), jumps.sum(axis=0)


def test_half_window_in_ps_from_the_cage_time_on_a_known_rate_jump_process():
    dt = 0.01
    x, planted = _jump_process(30, 20000, dt, 0.1, 2.0, 0.12, 0.03, seed=5)
    sc = hops.cage_scale(x, dt)
    # the cage time lies between the rattling time (0.03 ps) and the residence time (10 ps)
    assert "minimum" in sc.source and 0.03 < sc.t_cage_ps < 1.0
    assert sc.half_window_ps == pytest.approx(sc.t_cage_ps)
    # MSD(t*)/2 against the planted process: MSD(t) = 6 sigma² (1 - exp(-t/tau)) + k l² t
    t = sc.half_window_ps
    assert sc.u2 == pytest.approx((6 * 0.12**2 * (1 - np.exp(-t / 0.03)) + 0.1 * 4 * t) / 2,
                                  rel=0.15)
    ev = hops.detect(x, dt_ps=dt)
    assert ev.attrs["half_window_ps"] == pytest.approx(sc.half_window_ps)
    assert "cage time" in ev.attrs["half_window_source"]
    n = len(ev)
    assert abs(n - planted.sum()) < 0.08 * planted.sum()
    observed = (ev.attrs["valid_stop"] - ev.attrs["valid_start"]) * dt * 30
    assert n / observed == pytest.approx(0.1, rel=0.12)  # the planted rate, 1/ps
    # the same physics sampled every 2nd frame, half-window given in ps: same window in ps,
    # same hops (a window in frames would have doubled in time)
    ev2 = hops.detect(x[::2], dt_ps=2 * dt, half_window_ps=ev.attrs["half_window_ps"])
    assert abs(ev2.attrs["half_window_ps"] - ev.attrs["half_window_ps"]) <= 2 * dt
    assert abs(len(ev2) - planted.sum()) < 0.08 * planted.sum()
    # the contract: frames still work and mean the same window
    w = ev.attrs["half_window"]
    ev3 = hops.detect(x, half_window=w, dt_ps=dt)
    pd.testing.assert_frame_equal(ev3, ev)
    with pytest.raises(ValueError, match="not both"):
        hops.detect(x, half_window=w, half_window_ps=0.1, dt_ps=dt)


def test_auto_threshold_is_one_cage_scale_for_all_ions():
    """Tight (0.1 Å) and looser cages with the same planted rate and hop length (1.5 Å).
    "auto" gives every ion one threshold tied to the population's cage size. At a 2x contrast
    of rms amplitude (0.2 Å) both rules count both populations right. At 3x (0.3 Å) the rules
    fail in opposite directions, which is the trade-off docs/hops.md states: the per-ion
    median sets the loose ions' threshold above their own hops (a third of them found);
    the population threshold finds all of them plus runs of the loose ions' vibration above
    it (~1.5x the planted count at this half-window)."""
    dt = 0.01
    xa, na = _jump_process(20, 20000, dt, 0.1, 1.5, 0.1, 0.03, seed=1)
    for sigma, auto_range, old_range in ((0.2, (0.9, 1.1), (0.9, 1.1)),
                                         (0.3, (1.2, 1.8), (0.1, 0.5))):
        xb, nb = _jump_process(20, 20000, dt, 0.1, 1.5, sigma, 0.03, seed=2)
        x = np.concatenate([xa, xb], axis=1)
        ev = hops.detect(x, dt_ps=dt)
        thr = np.asarray(ev.attrs["thresholds"])
        assert np.all(thr == thr[0]) and ev.attrs["threshold_rule"] == "auto"
        w = ev.attrs["half_window"]
        assert thr[0] == pytest.approx(9 * ev.attrs["u2"] * (1 + 1 / (w + 1)))
        assert 0.03 < ev.attrs["u2"] < 3 * sigma**2  # between the planted 3 sigma²
        got = np.bincount(ev["ion"], minlength=40)
        assert 0.9 < got[:20].sum() / na.sum() < 1.05
        assert auto_range[0] < got[20:].sum() / nb.sum() < auto_range[1]
        old = np.bincount(hops.detect(x, dt_ps=dt, threshold="per_ion")["ion"], minlength=40)
        assert old_range[0] < old[20:].sum() / nb.sum() < old_range[1]
    # auto_threshold on the population gives the same threshold as detect
    t_pop, u2 = hops.auto_threshold(x, w, max_ions=None)
    assert t_pop == pytest.approx(thr[0], rel=1e-6) and u2 == pytest.approx(ev.attrs["u2"])


@pytest.mark.parametrize("frame", [0, 17, 59])
def test_nonfinite_position_is_named_not_spread(frame):
    """A NaN (or inf) position would make p_hop NaN in every window holding it (issue 19):
    the error names the frame and ion instead."""
    from hcanalysis.hops import detect, p_hop

    x = np.cumsum(np.random.default_rng(0).normal(0, 0.1, (60, 5, 3)), axis=0)
    x[frame, 3, 1] = np.nan
    match = rf"positions are not finite at frame {frame}, ion 3"
    with pytest.raises(ValueError, match=match):
        p_hop(x, 5)
    with pytest.raises(ValueError, match=match):
        p_hop(x, 5, out=np.empty((60, 5), np.float32).T)
    with pytest.raises(ValueError, match=match):
        detect(x, half_window=5)
    x[frame, 3, 1] = np.inf
    with pytest.raises(ValueError, match=match):
        p_hop(x, 5, dtype=np.float64)
    x[frame, 3, 1] = 0.0
    assert np.isfinite(p_hop(x, 5)[:, 5:-5]).all()
