"""Hop-detection kernels: the cage-jump indicator p_hop and the displacement rule.

Arrays in, arrays out. Positions are ``(n_frames, n_ions, 3)`` (float32 or float64, Å,
unwrapped); indicator arrays are ``(n_frames, n_ions)`` (frame-major, so the CPU kernel
streams the positions once in file order), float64 by default; the p_hop kernels also write
float32 (computed in float64, rounded once at the store) and into a caller's array (``out=``).
Three implementations of each quantity:

* ``*_reference``: plain numpy / Python, slow, obviously right (tests);
* ``*_cpu``: Numba, ``parallel=True``;
* ``*_cuda``: Numba CUDA kernels (run under ``NUMBA_ENABLE_CUDASIM=1`` in the tests).

p_hop (Candelier, Dauchot & Biroli, PRL 105, 135702, 2010), half-window ``w`` frames::

    A = frames [t-w, t]  (inclusive, w+1 frames),  B = frames [t, t+w]  (inclusive)
    p_hop(t) = sqrt( <|r - <r>_B|^2>_A * <|r - <r>_A|^2>_B )        (Å^2)

defined for ``w <= t <= n_frames-1-w`` and NaN in the first and last ``w`` frames. Expanding
the squares, ``<|r - m_B|^2>_A = <|r|^2>_A - 2 m_A.m_B + |m_B|^2``, so only running sums of r
and |r|^2 over each window are needed: O(T) per ion instead of O(T w). To keep the expansion
free of cancellation the sums are taken relative to an anchor (the ion's position at the start
of each block of frames) and recomputed from scratch every block. Since B(t) = A(t+w), one
sliding window sum suffices: the CPU kernel keeps the last w+1 of them in a ring and reads
each frame of the positions array from memory once.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, njit, prange

#: Output frames per block of the running-sum kernels (sums are re-anchored and recomputed at
#: each block start).
CPU_BLOCK = 1024
#: Ions per task of the CPU kernel.
CPU_TILE = 1024
CUDA_BLOCK = 128
_THREADS = 128


def _check(positions: np.ndarray, w: int) -> np.ndarray:
    x = np.asarray(positions)
    if x.ndim != 3 or x.shape[2] != 3:
        raise ValueError(f"positions must be (n_frames, n_ions, 3), got shape {x.shape}")
    if int(w) < 1:
        raise ValueError(f"half_window={w}: must be at least 1 frame")
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    return np.ascontiguousarray(x)


# ---------------------------------------------------------------------------- references
def phop_reference(positions: np.ndarray, w: int) -> np.ndarray:
    """p_hop by the direct O(T w) formula (numpy), ``(n_frames, n_ions)``, NaN at the edges."""
    x = _check(positions, w).astype(np.float64)
    n_frames, n_ions, _ = x.shape
    out = np.full((n_frames, n_ions), np.nan)
    for t in range(w, n_frames - w):
        a = x[t - w : t + 1]
        b = x[t : t + w + 1]
        ma = a.mean(axis=0)
        mb = b.mean(axis=0)
        va = ((a - mb) ** 2).sum(axis=2).mean(axis=0)
        vb = ((b - ma) ** 2).sum(axis=2).mean(axis=0)
        out[t] = np.sqrt(va * vb)
    return out


def phop_cumsum_numpy(positions: np.ndarray, w: int) -> np.ndarray:
    """p_hop from whole-trajectory cumulative sums, vectorised numpy (O(T), no Numba).

    Positions are centred on each ion's mean first; cancellation grows with the spread of the
    path, so this is a benchmark peer, not the production kernel.
    """
    x = _check(positions, w).astype(np.float64)
    n_frames, n_ions, _ = x.shape
    out = np.full((n_frames, n_ions), np.nan)
    if n_frames < 2 * w + 1:
        return out
    x = x - x.mean(axis=0)
    c1 = np.zeros((n_frames + 1, n_ions, 3))
    np.cumsum(x, axis=0, out=c1[1:])
    c2 = np.zeros((n_frames + 1, n_ions))
    np.cumsum(np.einsum("tij,tij->ti", x, x), axis=0, out=c2[1:])
    n = w + 1
    t = np.arange(w, n_frames - w)
    ma = (c1[t + 1] - c1[t - w]) / n
    mb = (c1[t + w + 1] - c1[t]) / n
    qa = (c2[t + 1] - c2[t - w]) / n
    qb = (c2[t + w + 1] - c2[t]) / n
    dot = np.einsum("tij,tij->ti", ma, mb)
    va = qa - 2 * dot + np.einsum("tij,tij->ti", mb, mb)
    vb = qb - 2 * dot + np.einsum("tij,tij->ti", ma, ma)
    out[w : n_frames - w] = np.sqrt(np.maximum(va, 0.0) * np.maximum(vb, 0.0))
    return out


def displacement_reference(positions: np.ndarray, lag: int) -> np.ndarray:
    """d(t) = |r(t+lag) - r(t)| (Å), ``(n_frames, n_ions)``, NaN for the last ``lag`` frames."""
    x = _check(positions, lag).astype(np.float64)
    out = np.full(x.shape[:2], np.nan)
    if x.shape[0] > lag:
        out[:-lag] = np.linalg.norm(x[lag:] - x[:-lag], axis=2)
    return out


def hysteresis_reference(signal: np.ndarray, on: np.ndarray, off: np.ndarray) -> np.ndarray:
    """Hysteresis state per frame and ion (1 = inside an event), plain Python.

    An event starts at the first frame whose signal exceeds ``on`` (strictly) and lasts while
    the signal stays above ``off`` (strictly); NaN ends an event and never starts one.
    """
    s = np.asarray(signal, dtype=np.float64)
    mask = np.zeros(s.shape, dtype=np.uint8)
    for i in range(s.shape[1]):
        inside = False
        for t in range(s.shape[0]):
            v = s[t, i]
            inside = (v > off[i]) if inside else (v > on[i])
            mask[t, i] = inside
    return mask


def split_displacement_reference(
    positions: np.ndarray, ion: int, lo: int, hi: int, h: int
) -> tuple[int, np.ndarray]:
    """Best split frame ``s`` in ``[lo, hi]`` maximising ``|<r>_[s, s+h) - <r>_[s-h, s)|`` and
    that displacement vector (plain numpy)."""
    x = np.asarray(positions, dtype=np.float64)[:, ion]
    best, best_s, best_d = -1.0, lo, np.zeros(3)
    for s in range(lo, hi + 1):
        d = x[s : s + h].mean(axis=0) - x[s - h : s].mean(axis=0)
        if d @ d > best:
            best, best_s, best_d = d @ d, s, d
    return best_s, best_d


# ---------------------------------------------------------------------------- Numba CPU
@njit(cache=True, fastmath={"contract"})
def _phop_task(x2, w, t0, t1, i0, m, out):  # pragma: no cover - compiled
    """p_hop of ions ``[i0, i0+m)`` at frames ``[t0, t1)`` in one pass over frames
    ``[t0-w, t1+w)``.

    ``x2`` is the positions array viewed as ``(n_frames, 3*n_ions)`` (Å); ``out`` is
    ``(n_frames, n_ions)`` float64 (Å²). Window sums S(f) over ``[f-w, f]`` of (r - c) and
    |r - c|², with c = r(t0) the anchor, are slid along the frames; S(f) is kept in a ring of
    w+1 slots, so when frame f = t+w arrives B(t) = S(f) and A(t) = S(t) is in the ring. Each
    frame of the tile is read from memory once (the frame leaving the window, w+1 frames later,
    is re-read from cache) and each output value written once. With n = w+1 the variances are
    evaluated scaled by n², which saves the divisions:
    n² <|r - m_B|²>_A = n Q_A - 2 S_A.S_B + |S_B|².
    """
    r = w + 1
    fn = float(r)
    inv_n2 = 1.0 / (fn * fn)
    ws = np.empty((r, 4, m))  # ring of window sums: x, y, z, |.|^2
    c = np.empty((3, m))
    lo = 3 * i0
    hi = 3 * (i0 + m)
    xc = x2[t0, lo:hi]
    for j in range(m):
        c[0, j] = xc[3 * j]
        c[1, j] = xc[3 * j + 1]
        c[2, j] = xc[3 * j + 2]
        ws[0, 0, j] = 0.0
        ws[0, 1, j] = 0.0
        ws[0, 2, j] = 0.0
        ws[0, 3, j] = 0.0
    # S(t0): the first window [t0-w, t0]
    for f in range(t0 - w, t0 + 1):
        xf = x2[f, lo:hi]
        for j in range(m):
            dx = xf[3 * j] - c[0, j]
            dy = xf[3 * j + 1] - c[1, j]
            dz = xf[3 * j + 2] - c[2, j]
            ws[0, 0, j] += dx
            ws[0, 1, j] += dy
            ws[0, 2, j] += dz
            ws[0, 3, j] += dx * dx + dy * dy + dz * dz
    kw = 0
    for f in range(t0 + 1, t1 + w):
        kp = kw  # slot of S(f-1)
        kw = (f - t0) % r  # slot of S(f); it held S(f-w-1), no longer needed
        ka = (f - w - t0) % r  # slot of S(f-w) = A(f-w)
        xf = x2[f, lo:hi]
        xg = x2[f - w - 1, lo:hi]  # the frame leaving the window
        if f < t0 + w:
            for j in range(m):
                dx = xf[3 * j] - c[0, j]
                dy = xf[3 * j + 1] - c[1, j]
                dz = xf[3 * j + 2] - c[2, j]
                ox = xg[3 * j] - c[0, j]
                oy = xg[3 * j + 1] - c[1, j]
                oz = xg[3 * j + 2] - c[2, j]
                ws[kw, 0, j] = ws[kp, 0, j] + (dx - ox)
                ws[kw, 1, j] = ws[kp, 1, j] + (dy - oy)
                ws[kw, 2, j] = ws[kp, 2, j] + (dz - oz)
                ws[kw, 3, j] = ws[kp, 3, j] + (
                    (dx * dx + dy * dy + dz * dz) - (ox * ox + oy * oy + oz * oz)
                )
        else:
            ot = out[f - w, i0 : i0 + m]
            for j in range(m):
                dx = xf[3 * j] - c[0, j]
                dy = xf[3 * j + 1] - c[1, j]
                dz = xf[3 * j + 2] - c[2, j]
                ox = xg[3 * j] - c[0, j]
                oy = xg[3 * j + 1] - c[1, j]
                oz = xg[3 * j + 2] - c[2, j]
                bx = ws[kp, 0, j] + (dx - ox)
                by = ws[kp, 1, j] + (dy - oy)
                bz = ws[kp, 2, j] + (dz - oz)
                bq = ws[kp, 3, j] + ((dx * dx + dy * dy + dz * dz) - (ox * ox + oy * oy + oz * oz))
                ax = ws[ka, 0, j]
                ay = ws[ka, 1, j]
                az = ws[ka, 2, j]
                aq = ws[ka, 3, j]
                ws[kw, 0, j] = bx
                ws[kw, 1, j] = by
                ws[kw, 2, j] = bz
                ws[kw, 3, j] = bq
                dot2 = 2.0 * (ax * bx + ay * by + az * bz)
                va = max(fn * aq - dot2 + (bx * bx + by * by + bz * bz), 0.0)
                vb = max(fn * bq - dot2 + (ax * ax + ay * ay + az * az), 0.0)
                ot[j] = math.sqrt(va * vb) * inv_n2


@njit(parallel=True, cache=True)
def _phop_cpu(x, w, block, tile, out):  # pragma: no cover - compiled
    n_frames, n_ions, _ = x.shape
    x2 = x.reshape(n_frames, 3 * n_ions)
    nb = (n_frames - 2 * w + block - 1) // block
    nt = (n_ions + tile - 1) // tile
    # task k: block k // nt of frames, tile k % nt of ions; each thread gets a contiguous
    # run of tasks, i.e. a contiguous slab of the array
    for k in prange(nb * nt):
        t0 = w + (k // nt) * block
        i0 = (k % nt) * tile
        _phop_task(x2, w, t0, min(t0 + block, n_frames - w), i0, min(tile, n_ions - i0), out)


def _phop_out(
    x: np.ndarray, dtype: np.dtype | type | str | None, out: np.ndarray | None
) -> np.ndarray:
    """The ``(n_frames, n_ions)`` output of p_hop: ``out`` checked, or a new array."""
    shape = x.shape[:2]
    if out is None:
        dt = np.dtype(np.float64 if dtype is None else dtype)
        if dt not in (np.float32, np.float64):
            raise ValueError(f"dtype={dt}: p_hop is written as float32 or float64")
        return np.empty(shape, dtype=dt)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy array, got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"out has shape {out.shape}; p_hop of these positions is {shape}")
    if out.dtype not in (np.float32, np.float64):
        raise ValueError(f"out has dtype {out.dtype}: use float32 or float64")
    if dtype is not None and np.dtype(dtype) != out.dtype:
        raise ValueError(f"dtype={np.dtype(dtype)} but out has dtype {out.dtype}")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError("out must be a writeable C-contiguous (n_frames, n_ions) array")
    if np.may_share_memory(out, x):
        raise ValueError("out overlaps the positions")
    return out


def phop_cpu(
    positions: np.ndarray,
    w: int,
    block: int = CPU_BLOCK,
    tile: int = CPU_TILE,
    *,
    dtype: np.dtype | type | str | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """p_hop with the Numba running-sum kernel, ``(n_frames, n_ions)``, NaN at the edges.

    Parameters
    ----------
    positions : (n_frames, n_ions, 3) float32 or float64
        Unwrapped positions, Å. C-contiguous input of either dtype is used in place (no copy);
        other dtypes or layouts are converted first. Arithmetic is float64.
    w : int
        Half-window, frames.
    block : int
        Output frames per task; the window sums are re-anchored (recomputed from scratch
        relative to the ion's position at the block's first frame) at each block.
    tile : int
        Ions per task.
    dtype : {float64, float32}, optional
        Output dtype (default float64, or ``out``'s). float32 is rounded once from the
        float64 result.
    out : (n_frames, n_ions) float32 or float64 C-contiguous array, optional
        Written in place and returned (no allocation: a reused buffer skips the operating
        system's zeroing of fresh pages).

    Returns
    -------
    (n_frames, n_ions) float64 or float32
        p_hop, Å²; NaN in the first and last ``w`` frames.

    Notes
    -----
    Tasks of ``block`` frames x ``tile`` ions run in parallel (``prange``). Each task makes one
    pass over its frames (plus ``w`` either side), sliding the window sums of r and |r|²
    and writing each p_hop value once, directly from the positions array.
    """
    x = _check(positions, w)
    out = _phop_out(x, dtype, out)
    n_frames = x.shape[0]
    out[: min(w, n_frames)] = np.nan
    out[max(n_frames - w, 0) :] = np.nan
    if n_frames >= 2 * w + 1 and x.shape[1] > 0:
        _phop_cpu(x, int(w), max(int(block), 1), max(int(tile), 1), out)
    return out


@njit(parallel=True, cache=True)
def _displacement_cpu(x, lag, out):
    n_frames, n_ions, _ = x.shape
    for t in prange(n_frames):
        for i in range(n_ions):
            if t + lag < n_frames:
                dx = x[t + lag, i, 0] - x[t, i, 0]
                dy = x[t + lag, i, 1] - x[t, i, 1]
                dz = x[t + lag, i, 2] - x[t, i, 2]
                out[t, i] = math.sqrt(dx * dx + dy * dy + dz * dz)
            else:
                out[t, i] = np.nan


def displacement_cpu(positions: np.ndarray, lag: int) -> np.ndarray:
    """d(t) = |r(t+lag) - r(t)| with Numba, ``(n_frames, n_ions)``."""
    x = _check(positions, lag)
    out = np.empty(x.shape[:2])
    _displacement_cpu(x, int(lag), out)
    return out


@njit(parallel=True, cache=True)
def _hysteresis_cpu(s, on, off, mask):
    n_frames, n_ions = s.shape
    tile = 64
    for k in prange((n_ions + tile - 1) // tile):
        i0 = k * tile
        i1 = min(i0 + tile, n_ions)
        # the threshold each ion must exceed now: ``on`` outside an event, ``off`` inside
        th = np.empty(i1 - i0)
        for i in range(i0, i1):
            th[i - i0] = on[i]
        for t in range(n_frames):
            for i in range(i0, i1):
                now = s[t, i] > th[i - i0]
                th[i - i0] = off[i] if now else on[i]
                mask[t, i] = now


@njit(parallel=True, cache=True)
def _median_cols(s, out):
    n_frames, n_ions = s.shape
    tile = 16
    for k in prange((n_ions + tile - 1) // tile):
        i0 = k * tile
        i1 = min(i0 + tile, n_ions)
        buf = np.empty((i1 - i0, n_frames))
        for t in range(n_frames):
            for i in range(i0, i1):
                buf[i - i0, t] = s[t, i]
        for i in range(i0, i1):
            out[i] = np.median(buf[i - i0])


def _signal(signal: np.ndarray) -> np.ndarray:
    """An indicator array for the Numba kernels: float32 and float64 kept as they are (the
    kernels compile for both; a float32 p_hop is not copied), C-contiguous."""
    s = np.asarray(signal)
    if s.dtype not in (np.float32, np.float64):
        s = s.astype(np.float64)
    return np.ascontiguousarray(s)


def column_median(signal: np.ndarray) -> np.ndarray:
    """Median of each column of a ``(n_frames, n_ions)`` array without NaNs (Numba)."""
    s = _signal(signal)
    out = np.full(s.shape[1], np.nan)
    if s.shape[0]:
        _median_cols(s, out)
    return out


def hysteresis_cpu(signal: np.ndarray, on: np.ndarray, off: np.ndarray) -> np.ndarray:
    """Hysteresis event mask (see :func:`hysteresis_reference`) with Numba."""
    s = _signal(signal)
    mask = np.empty(s.shape, dtype=np.uint8)
    _hysteresis_cpu(s, np.asarray(on, np.float64), np.asarray(off, np.float64), mask)
    return mask


@njit(parallel=True, cache=True)
def _split_cpu(x, ions, lo, hi, h, s_out, d_out):
    for e in prange(ions.shape[0]):
        i = ions[e]
        a = lo[e]
        # sums of the windows [s-h, s) and [s, s+h) at s = a, relative to an anchor
        c0 = x[a, i, 0]
        c1 = x[a, i, 1]
        c2 = x[a, i, 2]
        l0 = 0.0
        l1 = 0.0
        l2 = 0.0
        r0 = 0.0
        r1 = 0.0
        r2 = 0.0
        for s in range(a - h, a):
            l0 += x[s, i, 0] - c0
            l1 += x[s, i, 1] - c1
            l2 += x[s, i, 2] - c2
        for s in range(a, a + h):
            r0 += x[s, i, 0] - c0
            r1 += x[s, i, 1] - c1
            r2 += x[s, i, 2] - c2
        best = -1.0
        for s in range(a, hi[e] + 1):
            if s > a:
                # left gains s-1, loses s-1-h; right loses s-1, gains s+h-1
                l0 += x[s - 1, i, 0] - x[s - 1 - h, i, 0]
                l1 += x[s - 1, i, 1] - x[s - 1 - h, i, 1]
                l2 += x[s - 1, i, 2] - x[s - 1 - h, i, 2]
                r0 += x[s + h - 1, i, 0] - x[s - 1, i, 0]
                r1 += x[s + h - 1, i, 1] - x[s - 1, i, 1]
                r2 += x[s + h - 1, i, 2] - x[s - 1, i, 2]
            d0 = (r0 - l0) / h
            d1 = (r1 - l1) / h
            d2 = (r2 - l2) / h
            q = d0 * d0 + d1 * d1 + d2 * d2
            if q > best:
                best = q
                s_out[e] = s
                d_out[e, 0] = d0
                d_out[e, 1] = d1
                d_out[e, 2] = d2


def split_displacements(
    positions: np.ndarray, ions: np.ndarray, lo: np.ndarray, hi: np.ndarray, h: int
) -> tuple[np.ndarray, np.ndarray]:
    """For each event (ion, frame range ``[lo, hi]``) the split frame ``s`` maximising
    ``|<r>_[s, s+h) - <r>_[s-h, s)|`` and that vector (Å); ranges are clipped to
    ``[h, n_frames-h]``. Numba, parallel over events."""
    x = _check(positions, h)
    n_frames = x.shape[0]
    lo = np.clip(np.asarray(lo, np.int64), h, n_frames - h)
    hi = np.clip(np.asarray(hi, np.int64), lo, n_frames - h)
    s_out = np.empty(len(lo), dtype=np.int64)
    d_out = np.empty((len(lo), 3))
    if len(lo) and n_frames >= 2 * h:
        _split_cpu(x, np.asarray(ions, np.int64), lo, hi, int(h), s_out, d_out)
    else:
        s_out[:] = -1
        d_out[:] = np.nan
    return s_out, d_out


# ---------------------------------------------------------------------------- CUDA
@cuda.jit
def _phop_cuda_kernel(x, w, block, out):  # pragma: no cover - runs on GPU / simulator
    n_frames = x.shape[0]
    n_ions = x.shape[1]
    g = cuda.grid(1)
    i = g % n_ions
    b = g // n_ions
    t0 = w + b * block
    hi = n_frames - w
    if t0 >= hi:
        return
    t1 = min(t0 + block, hi)
    inv_n = 1.0 / (w + 1)
    c0 = x[t0, i, 0]
    c1 = x[t0, i, 1]
    c2 = x[t0, i, 2]
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    b0 = 0.0
    b1 = 0.0
    b2 = 0.0
    b3 = 0.0
    for s in range(t0 - w, t0 + 1):
        dx = x[s, i, 0] - c0
        dy = x[s, i, 1] - c1
        dz = x[s, i, 2] - c2
        a0 += dx
        a1 += dy
        a2 += dz
        a3 += dx * dx + dy * dy + dz * dz
    for s in range(t0, t0 + w + 1):
        dx = x[s, i, 0] - c0
        dy = x[s, i, 1] - c1
        dz = x[s, i, 2] - c2
        b0 += dx
        b1 += dy
        b2 += dz
        b3 += dx * dx + dy * dy + dz * dz
    for t in range(t0, t1):
        if t > t0:
            s = t - 1 - w
            dx = x[s, i, 0] - c0
            dy = x[s, i, 1] - c1
            dz = x[s, i, 2] - c2
            a0 -= dx
            a1 -= dy
            a2 -= dz
            a3 -= dx * dx + dy * dy + dz * dz
            dx = x[t, i, 0] - c0
            dy = x[t, i, 1] - c1
            dz = x[t, i, 2] - c2
            a0 += dx
            a1 += dy
            a2 += dz
            a3 += dx * dx + dy * dy + dz * dz
            s = t - 1
            dx = x[s, i, 0] - c0
            dy = x[s, i, 1] - c1
            dz = x[s, i, 2] - c2
            b0 -= dx
            b1 -= dy
            b2 -= dz
            b3 -= dx * dx + dy * dy + dz * dz
            s = t + w
            dx = x[s, i, 0] - c0
            dy = x[s, i, 1] - c1
            dz = x[s, i, 2] - c2
            b0 += dx
            b1 += dy
            b2 += dz
            b3 += dx * dx + dy * dy + dz * dz
        mx = a0 * inv_n
        my = a1 * inv_n
        mz = a2 * inv_n
        nx = b0 * inv_n
        ny = b1 * inv_n
        nz = b2 * inv_n
        dot = mx * nx + my * ny + mz * nz
        va = a3 * inv_n - 2.0 * dot + (nx * nx + ny * ny + nz * nz)
        vb = b3 * inv_n - 2.0 * dot + (mx * mx + my * my + mz * mz)
        if va < 0.0:
            va = 0.0
        if vb < 0.0:
            vb = 0.0
        out[t, i] = math.sqrt(va * vb)


@cuda.jit
def _displacement_cuda_kernel(x, lag, out):  # pragma: no cover
    n_frames = x.shape[0]
    n_ions = x.shape[1]
    g = cuda.grid(1)
    if g >= n_frames * n_ions:
        return
    t = g // n_ions
    i = g % n_ions
    if t + lag < n_frames:
        dx = x[t + lag, i, 0] - x[t, i, 0]
        dy = x[t + lag, i, 1] - x[t, i, 1]
        dz = x[t + lag, i, 2] - x[t, i, 2]
        out[t, i] = math.sqrt(dx * dx + dy * dy + dz * dz)
    else:
        out[t, i] = math.nan


@cuda.jit
def _hysteresis_cuda_kernel(s, on, off, mask):  # pragma: no cover
    n_frames = s.shape[0]
    n_ions = s.shape[1]
    i = cuda.grid(1)
    if i >= n_ions:
        return
    inside = False
    for t in range(n_frames):
        v = s[t, i]
        if inside:
            inside = v > off[i]
        else:
            inside = v > on[i]
        mask[t, i] = 1 if inside else 0


def _blocks(n: int) -> int:
    return max((n + _THREADS - 1) // _THREADS, 1)


def phop_cuda(
    positions: np.ndarray,
    w: int,
    block: int = CUDA_BLOCK,
    *,
    dtype: np.dtype | type | str | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """p_hop with the CUDA running-sum kernel (one thread per ion and block of frames).

    ``dtype`` and ``out`` as in :func:`phop_cpu` (arithmetic float64, float32 rounded once
    at the store); the result is copied into ``out`` when given."""
    x = _check(positions, w)
    out = _phop_out(x, dtype, out)
    n_frames, n_ions, _ = x.shape
    out[...] = np.nan
    if n_frames < 2 * w + 1 or n_ions == 0:
        return out
    block = max(int(block), 1)
    nb = (n_frames - 2 * w + block - 1) // block
    d_x = cuda.to_device(x)
    d_out = cuda.to_device(out)
    _phop_cuda_kernel[_blocks(nb * n_ions), _THREADS](d_x, int(w), block, d_out)
    d_out.copy_to_host(out)
    return out


def displacement_cuda(positions: np.ndarray, lag: int) -> np.ndarray:
    """d(t) = |r(t+lag) - r(t)| with a CUDA kernel (one thread per frame and ion)."""
    x = _check(positions, lag)
    n_frames, n_ions, _ = x.shape
    d_out = cuda.device_array((n_frames, n_ions), dtype=np.float64)
    if n_frames * n_ions:
        _displacement_cuda_kernel[_blocks(n_frames * n_ions), _THREADS](
            cuda.to_device(x), int(lag), d_out
        )
    return d_out.copy_to_host()


def hysteresis_cuda(signal: np.ndarray, on: np.ndarray, off: np.ndarray) -> np.ndarray:
    """Hysteresis event mask with a CUDA kernel (one thread per ion)."""
    s = np.ascontiguousarray(signal, dtype=np.float64)
    d_mask = cuda.device_array(s.shape, dtype=np.uint8)
    if s.size:
        _hysteresis_cuda_kernel[_blocks(s.shape[1]), _THREADS](
            cuda.to_device(s),
            cuda.to_device(np.ascontiguousarray(on, np.float64)),
            cuda.to_device(np.ascontiguousarray(off, np.float64)),
            d_mask,
        )
    return d_mask.copy_to_host()


# ---------------------------------------------------------------------------- dispatch
def phop(
    positions: np.ndarray,
    w: int,
    backend: str = "cpu",
    *,
    dtype: np.dtype | type | str | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """p_hop ``(n_frames, n_ions)`` on ``backend`` ("cpu" or "cuda"); ``dtype`` and ``out`` as
    in :func:`phop_cpu`."""
    if backend == "cuda":
        return phop_cuda(positions, w, dtype=dtype, out=out)
    return phop_cpu(positions, w, dtype=dtype, out=out)


def displacement(positions: np.ndarray, lag: int, backend: str = "cpu") -> np.ndarray:
    """d(t) = |r(t+lag) - r(t)| ``(n_frames, n_ions)`` on ``backend``."""
    return displacement_cuda(positions, lag) if backend == "cuda" else displacement_cpu(
        positions, lag
    )


def hysteresis(
    signal: np.ndarray, on: np.ndarray, off: np.ndarray, backend: str = "cpu"
) -> np.ndarray:
    """Hysteresis event mask ``(n_frames, n_ions)`` uint8 on ``backend``."""
    if backend == "cuda":
        return hysteresis_cuda(signal, on, off)
    return hysteresis_cpu(signal, on, off)


@njit(parallel=True, cache=True)
def _peaks_cpu(signal, ions, lo, hi, t_out, v_out):
    for e in prange(ions.shape[0]):
        i = ions[e]
        best = -np.inf
        arg = lo[e]
        for t in range(lo[e], hi[e] + 1):
            v = signal[t, i]
            if v > best:
                best = v
                arg = t
        t_out[e] = arg
        v_out[e] = best


def event_peaks(
    signal: np.ndarray, ions: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Frame of the maximum of ``signal[:, ion]`` over each ``[lo, hi]`` and that maximum."""
    n = len(ions)
    t_out = np.empty(n, dtype=np.int64)
    v_out = np.empty(n)
    if n:
        _peaks_cpu(
            _signal(signal),
            np.asarray(ions, np.int64),
            np.asarray(lo, np.int64),
            np.asarray(hi, np.int64),
            t_out,
            v_out,
        )
    return t_out, v_out
