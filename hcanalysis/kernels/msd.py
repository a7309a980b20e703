"""Mean-squared-displacement kernels: all-origin MSD by FFT, and displacement moments.

Arrays in, arrays out. Positions are ``(n_frames, n_ions, 3)`` (float32 or float64, Å,
unwrapped); every sum is accumulated in float64.

MSD algorithm (per ion, per window of ``T`` frames, per group of dimensions)::

    MSD(m) = S1(m) - 2 S2(m) / (T - m)
    S1(m)  = (sum_{k<T-m} |x_k|^2 + sum_{k>=m} |x_k|^2) / (T - m)
    S2(m)  = sum_{k<T-m} x_k . x_{k+m}   (autocorrelation, by FFT)

Lags with at most ``DIRECT_TAIL`` origins (``m > T - 1 - DIRECT_TAIL``) are summed directly.

Each series is first taken relative to its first frame (MSD is translation invariant; this
keeps the FFT rounding error relative to the displacements, not to the absolute coordinates). The
autocorrelation uses a zero-padded FFT of length ``next_fast_len(T + max_lag)`` (enough for
lags ``0..max_lag`` without wrap-around); the power spectra of the dimensions of a group are
summed before the one inverse FFT. ``S1`` uses a prefix sum from the start and a suffix sum
from the end, so the sums for lags near ``T`` (few origins) are as accurate as for short lags.

Three implementations with one contract:

* :func:`msd_direct` -- plain numpy loop over lags (the reference used by tests);
* :func:`msd_windows` with ``backend="cpu"`` -- Numba ``nogil`` kernels (pack, power, S1) +
  scipy's pocketfft, chunks of ions (sized by a memory budget) shared out to one worker
  thread per core, each with its own buffers;
* :func:`msd_windows` with ``backend="cuda"`` -- Numba CUDA kernels (pack, power, S1 and
  combine) + cuFFT through CuPy; under ``NUMBA_ENABLE_CUDASIM=1`` (no CuPy) the FFT runs in
  numpy on the host and the kernels in the simulator.

Displacement moments for the non-Gaussian parameter and the self van Hove function at a set of
lags: :func:`moments_direct` (reference) and :func:`displacement_moments` (Numba / CUDA).
"""

from __future__ import annotations

import math
import os

import numpy as np
from numba import cuda, njit, prange

#: Working bytes per frame of padded FFT length, per dimension row, on the CPU path
#: (real buffer 8 + complex spectrum 16 + share of power / inverse output).
_BYTES_PER_SAMPLE = 8 + 16

#: Lags with at most this many time origins are summed directly (exact to rounding, however
#: small the MSD there) instead of through the FFT; it costs O(DIRECT_TAIL²) per series.
DIRECT_TAIL = 32

#: Cap of each CPU worker's chunk working set (bytes): chunks of cache-friendly size are as
#: fast as one huge batch (measured: 8 MB within 10 % of the best) and keep the peak memory
#: far below the positions array.
CHUNK_CAP_BYTES = 8 << 20


def dims_indices(dims: str | tuple[int, ...] | list[int] = "xyz") -> np.ndarray:
    """Indices of the Cartesian components named by ``dims`` ("xyz", "xy", "z", (0, 2), ...)."""
    if isinstance(dims, str):
        lookup = {"x": 0, "y": 1, "z": 2}
        try:
            idx = [lookup[c] for c in dims.lower()]
        except KeyError:
            raise ValueError(f"dims={dims!r}: use letters from 'xyz', e.g. 'xyz' or 'xy'") from None
    else:
        idx = [int(d) for d in dims]
    if not idx or len(set(idx)) != len(idx) or min(idx) < 0 or max(idx) > 2:
        raise ValueError(f"dims={dims!r}: give distinct components among x, y, z")
    return np.asarray(sorted(idx), dtype=np.int64)


def n_threads() -> int:
    """CPU threads this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def fft_length(length: int, max_lag: int) -> int:
    """Zero-padded FFT length for lags ``0..max_lag`` of a series of ``length`` frames."""
    from scipy.fft import next_fast_len

    return int(next_fast_len(int(length) + int(max_lag), real=True))


# ----------------------------------------------------------------------------- reference
def msd_direct(
    positions: np.ndarray,
    max_lag: int | None = None,
    dims="xyz",
    per_dim: bool = False,
    drift: np.ndarray | None = None,
) -> np.ndarray:
    """All-origin MSD per ion by the direct double loop (lags x origins), float64.

    Parameters
    ----------
    positions : (n_frames, n_ions, 3)
        Unwrapped positions, Å.
    max_lag : int, optional
        Largest lag in frames (default ``n_frames - 1``).
    dims : str or sequence of int
        Components summed.
    per_dim : bool
        Return one curve per component instead of their sum.

    Returns
    -------
    (n_ions, n_lags) or (n_ions, n_dims, n_lags) float64, Å².
    """
    x = np.asarray(positions, dtype=np.float64)
    if drift is not None:
        x = x - np.asarray(drift, dtype=np.float64)[:, None, :]
    x = x[:, :, dims_indices(dims)]
    t = x.shape[0]
    max_lag = t - 1 if max_lag is None else int(max_lag)
    out = np.empty((x.shape[1], x.shape[2], max_lag + 1))
    for m in range(max_lag + 1):
        d = x[m:] - x[: t - m]
        out[:, :, m] = np.mean(d * d, axis=0)
    return out if per_dim else out.sum(axis=1)


def moments_direct(
    positions: np.ndarray,
    lags: np.ndarray,
    dims="xyz",
    r_edges: np.ndarray | None = None,
    drift: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Reference sums of |Δr|² and |Δr|⁴ over ions and all origins at each lag, and the
    histogram of |Δr| on ``r_edges`` (Å).

    Returns
    -------
    sum2, sum4 : (n_lags,) float64
    count : (n_lags,) int64  (ions x origins)
    hist : (n_lags, n_bins) int64 or None
    """
    x = np.asarray(positions, dtype=np.float64)
    if drift is not None:
        x = x - np.asarray(drift, dtype=np.float64)[:, None, :]
    x = x[:, :, dims_indices(dims)]
    t = x.shape[0]
    lags = np.asarray(lags, dtype=np.int64)
    s2 = np.zeros(len(lags))
    s4 = np.zeros(len(lags))
    cnt = np.zeros(len(lags), dtype=np.int64)
    hist = None if r_edges is None else np.zeros((len(lags), len(r_edges) - 1), dtype=np.int64)
    for j, m in enumerate(lags):
        r2 = np.sum((x[m:] - x[: t - m]) ** 2, axis=-1).ravel()
        s2[j] = r2.sum()
        s4[j] = (r2 * r2).sum()
        cnt[j] = r2.size
        if hist is not None:
            hist[j] = np.histogram(np.sqrt(r2), bins=r_edges)[0]
    return s2, s4, cnt, hist


def _drift_array(drift: np.ndarray | None, n_frames: int) -> np.ndarray:
    if drift is None:
        return np.zeros((n_frames, 3))
    arr = np.ascontiguousarray(drift, dtype=np.float64)
    if arr.shape != (n_frames, 3):
        raise ValueError(f"drift must have shape ({n_frames}, 3); got {arr.shape}")
    return arr


# ----------------------------------------------------------------------------- planning
def pairs_per_chunk(
    n_pairs: int, n_fft: int, n_dims: int, budget: int, cap: int | None | str = "default"
) -> int:
    """Number of (ion, window) series processed at once so the working set fits ``budget``.

    The working set per series is about ``n_fft * (24 * n_dims + 16)`` bytes (padded real
    rows, their spectra, the power spectrum and the inverse transform).
    """
    per = n_fft * (_BYTES_PER_SAMPLE * n_dims + 16)
    cap = CHUNK_CAP_BYTES if cap == "default" else cap
    limit = budget if cap is None else min(budget, cap)
    return int(max(1, min(n_pairs, limit // max(per, 1))))


# ----------------------------------------------------------------------------- CPU kernels
@njit(nogil=True, cache=True)
def _pack_cpu(pos, drift, starts, length, nw, p0, dims, buf):  # pragma: no cover - compiled
    """Rows (q*nd + a), frames 0..length-1: component dims[a] of series p0+q minus the drift,
    relative to the series' first frame (one pass; the FFT pads with zeros itself)."""
    nd = dims.shape[0]
    n_q = buf.shape[0] // nd
    ref = np.empty(nd)
    for q in range(n_q):
        p = p0 + q
        i = p // nw
        s = starts[p % nw]
        for a in range(nd):
            ref[a] = np.float64(pos[s, i, dims[a]]) - drift[s, dims[a]]
        for k in range(length):
            for a in range(nd):
                d = dims[a]
                buf[q * nd + a, k] = (np.float64(pos[s + k, i, d]) - drift[s + k, d]) - ref[a]


@njit(nogil=True, cache=True)
def _power_cpu(spec, gsize, power):  # pragma: no cover - compiled
    """power[g, f] = sum over the gsize rows of group g of |spec[row, f]|²."""
    n_f = spec.shape[1]
    for g in range(power.shape[0]):
        for f in range(n_f):
            acc = 0.0
            for r in range(gsize):
                c = spec[g * gsize + r, f]
                acc += c.real * c.real + c.imag * c.imag
            power[g, f] = acc


@njit(nogil=True, cache=True)
def _finish_cpu(buf, s2, length, gsize, out):  # pragma: no cover - compiled
    """out[g, m] = S1(m) - 2 S2(m)/(T-m) for the rows of group g (see module docstring)."""
    n_lags = out.shape[1]
    sq = np.empty(length)
    head = np.empty(length + 1)  # head[j] = sum_{k<j} sq[k]
    tail = np.empty(length + 1)  # tail[j] = sum_{k>=j} sq[k]
    for g in range(out.shape[0]):
        for k in range(length):
            acc = 0.0
            for r in range(gsize):
                v = buf[g * gsize + r, k]
                acc += v * v
            sq[k] = acc
        head[0] = 0.0
        for k in range(length):
            head[k + 1] = head[k] + sq[k]
        tail[length] = 0.0
        for k in range(length - 1, -1, -1):
            tail[k] = tail[k + 1] + sq[k]
        for m in range(n_lags):
            n_orig = length - m
            if m == 0:
                out[g, 0] = 0.0
            elif n_orig <= DIRECT_TAIL:
                acc = 0.0
                for k in range(n_orig):
                    for r in range(gsize):
                        v = buf[g * gsize + r, k + m] - buf[g * gsize + r, k]
                        acc += v * v
                out[g, m] = acc / n_orig
            else:
                out[g, m] = (head[n_orig] + tail[m] - 2.0 * s2[g, m]) / n_orig


def _msd_chunks_cpu(pos, drift, starts, length, max_lag, dims, per_dim, chunk, out_flat):
    """Chunks of series are shared out to one worker thread per core; each worker packs,
    transforms (scipy pocketfft, single-threaded) and finishes its own chunks with its own
    buffer, so the threads never wait on each other (the kernels release the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    from scipy import fft as sfft

    nd = len(dims)
    nw = len(starts)
    n_pairs = pos.shape[1] * nw
    n_fft = fft_length(length, max_lag)
    gsize = 1 if per_dim else nd
    per_pair = nd // gsize
    p0s = list(range(0, n_pairs, chunk))
    n_workers = min(n_threads(), len(p0s))

    def work(worker: int) -> None:
        buf = np.empty((chunk * nd, length))
        for p0 in p0s[worker::n_workers]:
            nq = min(chunk, n_pairs - p0)
            b = buf[: nq * nd]
            _pack_cpu(pos, drift, starts, length, nw, p0, dims, b)
            spec = sfft.rfft(b, n=n_fft, axis=1, workers=1)
            power = np.empty((nq * per_pair, spec.shape[1]))
            _power_cpu(spec, gsize, power)
            del spec
            s2 = sfft.irfft(power, n=n_fft, axis=1, workers=1)
            del power
            _finish_cpu(b, s2, length, gsize, out_flat[p0 * per_pair : (p0 + nq) * per_pair])

    if n_workers <= 1:
        work(0)
        return
    with ThreadPoolExecutor(n_workers) as ex:
        for f in [ex.submit(work, w) for w in range(n_workers)]:
            f.result()


# ----------------------------------------------------------------------------- CUDA kernels
@cuda.jit
def _k_means(pos, drift, starts, length, nw, p0, dims, means):  # pragma: no cover - device
    row = cuda.grid(1)
    nd = dims.shape[0]
    if row < means.shape[0]:
        q = row // nd
        p = p0 + q
        i = p // nw
        s = starts[p % nw]
        d = dims[row % nd]
        acc = 0.0
        for k in range(length):
            acc += pos[s + k, i, d] - drift[s + k, d]
        means[row] = acc / length


@cuda.jit
def _k_pack(pos, drift, starts, length, nw, p0, dims, means, buf):  # pragma: no cover
    tid = cuda.grid(1)
    n_fft = buf.shape[1]
    nd = dims.shape[0]
    if tid < buf.shape[0] * n_fft:
        row = tid // n_fft
        k = tid % n_fft
        if k < length:
            q = row // nd
            p = p0 + q
            s = starts[p % nw]
            d = dims[row % nd]
            buf[row, k] = pos[s + k, p // nw, d] - drift[s + k, d] - means[row]
        else:
            buf[row, k] = 0.0


@cuda.jit
def _k_power(spec, gsize, power):  # pragma: no cover - device code
    tid = cuda.grid(1)
    n_f = power.shape[1]
    if tid < power.shape[0] * n_f:
        g = tid // n_f
        f = tid % n_f
        acc = 0.0
        for r in range(gsize):
            c = spec[g * gsize + r, f]
            acc += c.real * c.real + c.imag * c.imag
        power[g, f] = acc


@cuda.jit
def _k_s1(buf, length, gsize, head, tail):  # pragma: no cover - device code
    g = cuda.grid(1)
    if g < head.shape[0]:
        head[g, 0] = 0.0
        for k in range(length):
            acc = 0.0
            for r in range(gsize):
                v = buf[g * gsize + r, k]
                acc += v * v
            head[g, k + 1] = head[g, k] + acc
        tail[g, length] = 0.0
        for k in range(length - 1, -1, -1):
            acc = 0.0
            for r in range(gsize):
                v = buf[g * gsize + r, k]
                acc += v * v
            tail[g, k] = tail[g, k + 1] + acc


@cuda.jit
def _k_combine(buf, head, tail, s2, length, gsize, out):  # pragma: no cover - device code
    tid = cuda.grid(1)
    n_lags = out.shape[1]
    if tid < out.shape[0] * n_lags:
        g = tid // n_lags
        m = tid % n_lags
        n_orig = length - m
        if m == 0:
            out[g, 0] = 0.0
        elif n_orig <= DIRECT_TAIL:
            acc = 0.0
            for k in range(n_orig):
                for r in range(gsize):
                    v = buf[g * gsize + r, k + m] - buf[g * gsize + r, k]
                    acc += v * v
            out[g, m] = acc / n_orig
        else:
            out[g, m] = (head[g, n_orig] + tail[g, m] - 2.0 * s2[g, m]) / n_orig


_TPB = 128


def _blocks(n: int) -> int:
    return max(1, (int(n) + _TPB - 1) // _TPB)


def _msd_chunks_cuda(pos, drift, starts, length, max_lag, dims, per_dim, chunk, out_flat):
    from hcanalysis.kernels.backend import cupy_or_none

    cp = cupy_or_none()
    nd = len(dims)
    nw = len(starts)
    n_ions = pos.shape[1]
    n_fft = fft_length(length, max_lag)
    gsize = 1 if per_dim else nd
    n_lags = max_lag + 1
    d_starts = cuda.to_device(np.ascontiguousarray(starts, dtype=np.int64))
    d_dims = cuda.to_device(np.ascontiguousarray(dims, dtype=np.int64))
    d_drift = cuda.to_device(drift)
    # chunks of whole ions (all windows of an ion), so only those ions' frames go to the GPU
    ions_per = max(1, chunk // nw)
    for i0 in range(0, n_ions, ions_per):
        i1 = min(n_ions, i0 + ions_per)
        nq = (i1 - i0) * nw
        rows = nq * nd
        n_groups = rows // gsize
        d_pos = cuda.to_device(np.ascontiguousarray(pos[:, i0:i1, :], dtype=np.float64))
        means = cuda.device_array(rows)
        _k_means[_blocks(rows), _TPB](d_pos, d_drift, d_starts, length, nw, 0, d_dims, means)
        buf = cuda.device_array((rows, n_fft))
        _k_pack[_blocks(rows * n_fft), _TPB](
            d_pos, d_drift, d_starts, length, nw, 0, d_dims, means, buf
        )
        del d_pos
        if cp is not None:
            spec = cp.fft.rfft(cp.asarray(buf), axis=1)
        else:
            spec = cuda.to_device(np.fft.rfft(buf.copy_to_host(), axis=1))
        power = cuda.device_array((n_groups, n_fft // 2 + 1))
        _k_power[_blocks(power.size), _TPB](spec, gsize, power)
        del spec
        if cp is not None:
            s2 = cp.ascontiguousarray(cp.fft.irfft(cp.asarray(power), n=n_fft, axis=1)[:, :n_lags])
        else:
            s2_host = np.fft.irfft(power.copy_to_host(), n=n_fft, axis=1)[:, :n_lags]
            s2 = cuda.to_device(np.ascontiguousarray(s2_host))
        del power
        head = cuda.device_array((n_groups, length + 1))
        tail = cuda.device_array((n_groups, length + 1))
        _k_s1[_blocks(n_groups), _TPB](buf, length, gsize, head, tail)
        res = cuda.device_array((n_groups, n_lags))
        _k_combine[_blocks(n_groups * n_lags), _TPB](buf, head, tail, s2, length, gsize, res)
        del buf
        g0 = i0 * nw * (nd // gsize)
        out_flat[g0 : g0 + n_groups] = res.copy_to_host()


# ----------------------------------------------------------------------------- driver
def msd_windows(
    positions: np.ndarray,
    starts: np.ndarray,
    length: int,
    max_lag: int,
    *,
    dims="xyz",
    per_dim: bool = False,
    backend: str = "cpu",
    max_memory: int | None = None,
    drift: np.ndarray | None = None,
) -> np.ndarray:
    """All-origin MSD of every ion inside every window ``[s, s + length)`` of frames.

    Parameters
    ----------
    positions : (n_frames, n_ions, 3) float32 or float64
        Unwrapped positions, Å. Not copied: only chunks of ions are converted.
    starts : (n_windows,) int
        First frame of each window.
    length : int
        Frames per window (>= 2).
    max_lag : int
        Largest lag (frames), ``0 <= max_lag < length``.
    dims : str or sequence of int
        Components used.
    per_dim : bool
        One curve per component (shape ``(n_ions, n_windows, n_dims, n_lags)``) instead of
        their sum (``(n_ions, n_windows, n_lags)``).
    backend : {"cpu", "cuda"}
        A resolved backend (see :func:`hcanalysis.kernels.backend.resolve_backend`).
    max_memory : int, optional
        Working-memory budget in bytes for the chunks (default a quarter of free memory).
    drift : (n_frames, 3), optional
        A displacement per frame subtracted from every ion (centre-of-mass drift), Å.

    Returns
    -------
    float64 array, Å².
    """
    from hcanalysis.kernels.backend import default_memory_budget

    pos = np.asarray(positions)
    if pos.ndim != 3 or pos.shape[2] != 3:
        raise ValueError(f"positions must be (n_frames, n_ions, 3); got shape {pos.shape}")
    if pos.dtype not in (np.float32, np.float64):
        pos = pos.astype(np.float64)
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    length = int(length)
    max_lag = int(max_lag)
    if length < 2:
        raise ValueError(f"a window needs at least 2 frames (got {length})")
    if not 0 <= max_lag < length:
        raise ValueError(f"max_lag={max_lag} must be in 0..{length - 1} (frames per window - 1)")
    if starts.size and (starts.min() < 0 or starts.max() + length > pos.shape[0]):
        raise ValueError("a window reaches past the last frame")
    d = dims_indices(dims)
    nd = len(d)
    n_ions, nw = pos.shape[1], len(starts)
    drift = _drift_array(drift, pos.shape[0])
    n_out = nd if per_dim else 1
    out = np.empty((n_ions * nw * n_out, max_lag + 1))
    if out.size == 0:
        return out.reshape((n_ions, nw) + ((nd,) if per_dim else ()) + (max_lag + 1,))
    budget = int(max_memory) if max_memory else default_memory_budget(backend)
    n_fft = fft_length(length, max_lag)
    if backend == "cuda":
        chunk = pairs_per_chunk(n_ions * nw, n_fft, nd + 2, budget, cap=None)
        _msd_chunks_cuda(pos, drift, starts, length, max_lag, d, per_dim, chunk, out)
    else:
        workers = n_threads()
        # each worker's buffers stay below a quarter of the positions array (at least 1 MB), so
        # the peak stays within ~2x the positions however small the problem
        per_worker = min(budget // workers, max(pos.nbytes // (4 * workers), 1 << 20))
        chunk = pairs_per_chunk(n_ions * nw, n_fft, nd, per_worker)
        chunk = max(1, min(chunk, -(-n_ions * nw // workers)))
        _msd_chunks_cpu(pos, drift, starts, length, max_lag, d, per_dim, chunk, out)
    shape = (n_ions, nw) + ((nd,) if per_dim else ()) + (max_lag + 1,)
    return out.reshape(shape)


# ----------------------------------------------------------------------------- moments
@njit(parallel=True, cache=True)
def _moments_cpu(pos, drift, lags, dims, origin_stride, vh_row, r_max, n_bins, s2, s4, cnt,
                 hist):
    # pragma: no cover - compiled
    t = pos.shape[0]
    n = pos.shape[1]
    nd = dims.shape[0]
    for j in prange(lags.shape[0]):
        m = lags[j]
        a2 = 0.0
        a4 = 0.0
        c = 0
        h = vh_row[j]
        for t0 in range(0, t - m, origin_stride):
            for i in range(n):
                r2 = 0.0
                for a in range(nd):
                    d = dims[a]
                    dd = (np.float64(pos[t0 + m, i, d]) - np.float64(pos[t0, i, d])) - (
                        drift[t0 + m, d] - drift[t0, d]
                    )
                    r2 += dd * dd
                a2 += r2
                a4 += r2 * r2
                c += 1
                if h >= 0:
                    b = int(math.sqrt(r2) / r_max * n_bins)
                    if b < n_bins:
                        hist[h, b] += 1
        s2[j] = a2
        s4[j] = a4
        cnt[j] = c


@cuda.jit
def _k_moments(pos, drift, lags, dims, origin_stride, vh_row, r_max, n_bins, s2, s4, cnt, hist):
    # pragma: no cover - device code; one thread per (lag, ion), atomics into per-lag sums
    tid = cuda.grid(1)
    n = pos.shape[1]
    if tid < lags.shape[0] * n:
        j = tid // n
        i = tid % n
        m = lags[j]
        h = vh_row[j]
        a2 = 0.0
        a4 = 0.0
        c = 0
        for t0 in range(0, pos.shape[0] - m, origin_stride):
            r2 = 0.0
            for a in range(dims.shape[0]):
                d = dims[a]
                dd = (pos[t0 + m, i, d] - pos[t0, i, d]) - (drift[t0 + m, d] - drift[t0, d])
                r2 += dd * dd
            a2 += r2
            a4 += r2 * r2
            c += 1
            if h >= 0:
                b = int(math.sqrt(r2) / r_max * n_bins)
                if b < n_bins:
                    cuda.atomic.add(hist, (h, b), 1)
        cuda.atomic.add(s2, j, a2)
        cuda.atomic.add(s4, j, a4)
        cuda.atomic.add(cnt, j, c)


def displacement_moments(
    positions: np.ndarray,
    lags: np.ndarray,
    *,
    dims="xyz",
    vanhove_lags: np.ndarray | None = None,
    r_max: float = 10.0,
    n_bins: int = 100,
    origin_stride: int = 1,
    backend: str = "cpu",
    drift: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sums of |Δr|², |Δr|⁴ over ions and origins at each lag, and |Δr| histograms.

    Parameters
    ----------
    positions : (n_frames, n_ions, 3)
        Unwrapped positions, Å.
    lags : (n_lags,) int
        Lags in frames (each < n_frames).
    vanhove_lags : array of int, optional
        Lags (a subset of ``lags``) at which |Δr| is histogrammed on ``n_bins`` equal bins
        over ``[0, r_max)`` Å; displacements beyond ``r_max`` are not counted.
    origin_stride : int
        Use every ``origin_stride``-th time origin (1 = all origins).
    drift : (n_frames, 3), optional
        Displacement per frame subtracted from every ion, Å.

    Returns
    -------
    sum2, sum4 : (n_lags,) float64
    count : (n_lags,) int64
    hist : (n_vanhove, n_bins) int64 (rows in the order of ``vanhove_lags``)
    """
    pos = np.asarray(positions)
    if pos.dtype not in (np.float32, np.float64):
        pos = pos.astype(np.float64)
    lags = np.ascontiguousarray(lags, dtype=np.int64)
    if lags.size and (lags.min() < 0 or lags.max() >= pos.shape[0]):
        raise ValueError(f"lags must be in 0..{pos.shape[0] - 1}")
    d = dims_indices(dims)
    drift = _drift_array(drift, pos.shape[0])
    vh = np.asarray([] if vanhove_lags is None else vanhove_lags, dtype=np.int64)
    vh_row = np.full(len(lags), -1, dtype=np.int64)
    for k, m in enumerate(vh):
        hit = np.flatnonzero(lags == m)
        if hit.size == 0:
            raise ValueError(f"van Hove lag {m} is not among the lags")
        vh_row[hit[0]] = k
    n_bins = int(n_bins)
    hist = np.zeros((max(len(vh), 1), n_bins), dtype=np.int64)
    s2 = np.zeros(len(lags))
    s4 = np.zeros(len(lags))
    cnt = np.zeros(len(lags), dtype=np.int64)
    stride = max(1, int(origin_stride))
    if backend == "cuda":
        d_pos = cuda.to_device(np.ascontiguousarray(pos, dtype=np.float64))
        d_s2, d_s4, d_cnt, d_hist = (cuda.to_device(a) for a in (s2, s4, cnt, hist))
        n_thr = len(lags) * pos.shape[1]
        _k_moments[_blocks(n_thr), _TPB](
            d_pos, cuda.to_device(drift), cuda.to_device(lags), cuda.to_device(d), stride,
            cuda.to_device(vh_row), float(r_max), n_bins, d_s2, d_s4, d_cnt, d_hist,
        )
        s2, s4, cnt, hist = (a.copy_to_host() for a in (d_s2, d_s4, d_cnt, d_hist))
    else:
        _moments_cpu(pos, drift, lags, d, stride, vh_row, float(r_max), n_bins, s2, s4, cnt, hist)
    return s2, s4, cnt, hist[: len(vh)]


__all__ = [
    "CHUNK_CAP_BYTES",
    "dims_indices",
    "displacement_moments",
    "fft_length",
    "moments_direct",
    "msd_direct",
    "msd_windows",
    "pairs_per_chunk",
]
