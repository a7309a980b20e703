"""Periodic neighbour search with cell lists: pair lists, counts, nearest distances, histograms.

Boxes are 3x3 matrices whose rows are the cell vectors (Å), triclinic allowed; ``box=None``
means open boundaries. Two modes:

* **query mode** (``points`` given): every query point against every point;
* **self mode** (``points=None``): the query set against itself, ``i != j``; pair lists hold
  each unordered pair once (``i < j``), counts count every other atom.

Method
------
Positions are mapped to fractional coordinates ``s = r H^-1`` wrapped into ``[0, 1)``. Along
axis k the cell is cut into ``n_k = floor(w_k / r_c)`` bins, ``w_k`` the perpendicular width
(distance between opposite faces). Two points closer than ``r_c`` differ along axis k by at most
``r_c / w_k <= 1 / n_k`` in fractional coordinate, so only the 3x3x3 neighbouring bins are
searched, also in strongly tilted cells (axes with fewer than 3 bins are searched whole, once).
Separations are rounded in fractional coordinates: for ``|d| < w_min / 2`` every fractional
component of the minimum-image vector is below 1/2, so rounding gives exactly the minimum
image; this is why cutoffs above half the shortest perpendicular width are refused.

Backends: a Numba CPU kernel (``parallel=True``, one query per iteration, no N² matrix; pair
lists by a count pass, a prefix sum and a fill pass) and Numba CUDA kernels with the same cell
list (one thread per query; histograms with atomics) that also run under the CUDA simulator.
Plain references (brute-force minimum image over all pairs) are :func:`pairs_reference`,
:func:`counts_reference` and :func:`histogram_reference`.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass

import numba
import numpy as np
from numba import cuda, njit, prange

from hcanalysis.kernels.backend import resolve_backend
from hcanalysis.kernels.pbc import minimum_image, perpendicular_widths

__all__ = [
    "CellGrid",
    "NeighborCounts",
    "build_grid",
    "check_cutoff",
    "counts_reference",
    "histogram_reference",
    "neighbor_counts",
    "neighbor_pairs",
    "pair_histogram",
    "pairs_reference",
]

# --------------------------------------------------------------------------- shared helpers


def _walk_cell(u, c0, c1, c2, n0, n1, n2, periodic):
    """The 27-cell neighbour walk, written once for the CPU and CUDA kernels.

    Flat index of the ``u``-th (``u = 0 .. 26``, in (t0, t1, t2) lexicographic order) of the
    3x3x3 bins around bin ``(c0, c1, c2)`` of an ``n0 x n1 x n2`` grid, or -1 when there is
    none: an open boundary, or an axis with fewer than 3 bins, which is searched whole, once.
    Kernels loop ``for u in range(27)`` and skip the -1 entries.
    """
    b = 0
    for a in range(3):
        if a == 0:
            c = c0
            n = n0
            t = u // 9
        elif a == 1:
            c = c1
            n = n1
            t = (u // 3) % 3
        else:
            c = c2
            n = n2
            t = u % 3
        if periodic:
            if n >= 3:
                v = c + t - 1
                if v < 0:
                    v += n
                elif v >= n:
                    v -= n
            elif t < n:
                v = t
            else:
                return -1
        else:
            v = c + t - 1
            if v < 0 or v >= n:
                return -1
        b = b * n + v
    return b


def _bin_of(s, n):
    c = int(s * n)
    if c >= n:
        c = n - 1
    if c < 0:
        c = 0
    return c


def _dist2(qx, qy, qz, ps, j, hh, periodic):
    """Squared distance between a query at fractional ``(qx, qy, qz)`` and point ``j``;
    ``hh`` is the cell matrix as a flat 9-tuple (row major)."""
    dx = ps[j, 0] - qx
    dy = ps[j, 1] - qy
    dz = ps[j, 2] - qz
    if periodic:
        dx -= math.floor(dx + 0.5)
        dy -= math.floor(dy + 0.5)
        dz -= math.floor(dz + 0.5)
    x = dx * hh[0] + dy * hh[3] + dz * hh[6]
    y = dx * hh[1] + dy * hh[4] + dz * hh[7]
    z = dx * hh[2] + dy * hh[5] + dz * hh[8]
    return x * x + y * y + z * z


_walk_cell_cpu = njit(inline="always", cache=True)(_walk_cell)
_bin_of_cpu = njit(inline="always", cache=True)(_bin_of)
_dist2_cpu = njit(inline="always", cache=True)(_dist2)
_walk_cell_dev = cuda.jit(device=True)(_walk_cell)
_bin_of_dev = cuda.jit(device=True)(_bin_of)
_dist2_dev = cuda.jit(device=True)(_dist2)


# --------------------------------------------------------------------------- grid


@dataclass
class CellGrid:
    """A cell list over a set of points, plus the fractional query coordinates.

    Attributes
    ----------
    qs, ps : (n, 3) float64
        Fractional coordinates of queries and (bin-sorted) points, in [0, 1).
    order : (n_points,) int64
        Original index of each sorted point.
    start : (n_bins + 1,) int64
        Sorted points of bin b are ``start[b]:start[b+1]``; bins are numbered
        ``(c0 * n1 + c1) * n2 + c2``.
    nbins : (3,) int64
        Bins per axis.
    h : (3, 3) float64
        Cell matrix (open boundaries: the bounding box used for binning), Å.
    periodic : bool
    self_mode : bool
    """

    qs: np.ndarray
    ps: np.ndarray
    order: np.ndarray
    start: np.ndarray
    nbins: np.ndarray
    h: np.ndarray
    periodic: bool
    self_mode: bool


@njit(cache=True)
def _counting_sort(ps, nbins):
    n = ps.shape[0]
    nb = nbins[0] * nbins[1] * nbins[2]
    cell = np.empty(n, dtype=np.int64)
    counts = np.zeros(nb + 1, dtype=np.int64)
    for j in range(n):
        c0 = _bin_of_cpu(ps[j, 0], nbins[0])
        c1 = _bin_of_cpu(ps[j, 1], nbins[1])
        c2 = _bin_of_cpu(ps[j, 2], nbins[2])
        b = (c0 * nbins[1] + c1) * nbins[2] + c2
        cell[j] = b
        counts[b + 1] += 1
    for b in range(nb):
        counts[b + 1] += counts[b]
    fill = counts[:-1].copy()
    order = np.empty(n, dtype=np.int64)
    for j in range(n):
        b = cell[j]
        order[fill[b]] = j
        fill[b] += 1
    return order, counts


def check_cutoff(box: np.ndarray | None, cutoff: float) -> None:
    """Raise ``ValueError`` unless ``0 < cutoff <= w_min / 2`` (periodic cells).

    Parameters
    ----------
    box : (3, 3) float or None
        Cell matrix, rows are cell vectors, Å (None: open boundaries, any positive cutoff).
    cutoff : float
        Search radius, Å.
    """
    if not np.isfinite(cutoff) or cutoff <= 0:
        raise ValueError(f"cutoff={cutoff!r} Å: the search radius must be a positive number")
    if box is None:
        return
    w = perpendicular_widths(box)
    if cutoff > 0.5 * w.min() * (1 + 1e-12):
        raise ValueError(
            f"cutoff {cutoff:g} Å exceeds half the shortest perpendicular width of the cell "
            f"({w.min():.4g} Å / 2 = {0.5 * w.min():.4g} Å; widths {np.round(w, 3).tolist()}): "
            "the minimum image would be ambiguous. Use a smaller cutoff or a replicated cell."
        )


def _as_box(box) -> np.ndarray | None:
    if box is None:
        return None
    h = np.asarray(box, dtype=np.float64)
    if h.shape == (3,):
        h = np.diag(h)
    if h.shape != (3, 3) or abs(np.linalg.det(h)) < 1e-12:
        raise ValueError(f"box must be a non-singular 3x3 cell matrix (rows a, b, c), got {h}")
    return h


def build_grid(
    query: np.ndarray,
    points: np.ndarray | None,
    box: np.ndarray | None,
    cutoff: float,
    max_bins: int | None = None,
) -> CellGrid:
    """Bin ``points`` (or ``query`` in self mode) into a cell list for search radius ``cutoff``.

    Parameters
    ----------
    query : (n_q, 3) float
        Query positions, Å (need not be wrapped).
    points : (n_p, 3) float or None
        Searched positions, Å; ``None`` = self mode.
    box : (3, 3) float or None
        Cell matrix (rows are cell vectors), Å; ``None`` = open boundaries.
    cutoff : float
        Largest search radius, Å.
    max_bins : int, optional
        Upper bound on the number of bins (default ``max(27, 4 * n_points)``).
    """
    h = _as_box(box)
    check_cutoff(h, cutoff)
    q = np.ascontiguousarray(query, dtype=np.float64).reshape(-1, 3)
    self_mode = points is None
    p = q if self_mode else np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 3)
    if h is not None:
        hinv = np.linalg.inv(h)
        qs = q @ hinv
        qs -= np.floor(qs)
        qs[qs >= 1.0] = 0.0  # -tiny wraps to exactly 1.0 in floating point
        if self_mode:
            ps = qs
        else:
            ps = p @ hinv
            ps -= np.floor(ps)
            ps[ps >= 1.0] = 0.0
        widths = perpendicular_widths(h)
        periodic = True
    else:
        both = np.concatenate([q, p]) if not self_mode else q
        if both.size == 0:
            lo, span = np.zeros(3), np.ones(3)
        else:
            lo = both.min(axis=0)
            span = np.maximum(both.max(axis=0) - lo, 0.0) * (1 + 1e-9) + 1e-6
        h = np.diag(span)
        qs = (q - lo) / span
        ps = qs if self_mode else (p - lo) / span
        widths = span
        periodic = False
    nb = np.maximum(np.floor(widths / cutoff).astype(np.int64), 1)
    limit = max(27, 4 * len(ps)) if max_bins is None else max(1, int(max_bins))
    if int(np.prod(nb)) > limit:
        f = (np.prod(nb.astype(np.float64)) / limit) ** (1.0 / 3.0)
        nb = np.maximum(np.floor(nb / f).astype(np.int64), 1)
    order, start = _counting_sort(ps, nb)
    return CellGrid(
        qs=np.ascontiguousarray(qs),
        ps=np.ascontiguousarray(ps[order]),
        order=order,
        start=start,
        nbins=nb,
        h=h,
        periodic=periodic,
        self_mode=self_mode,
    )


# --------------------------------------------------------------------------- CPU kernels


@njit(parallel=True, cache=True)
def _counts_cpu(qs, ps, order, start, nb, h, periodic, self_mode, cut2, weights, use_w):
    nq = qs.shape[0]
    nc = cut2.shape[0]
    rmax2 = cut2[nc - 1]
    counts = np.zeros((nq, nc), dtype=np.int64)
    wsum = np.zeros((nq, nc), dtype=np.float64)
    dmin2 = np.full(nq, np.inf)
    for i in prange(nq):
        qx = qs[i, 0]
        qy = qs[i, 1]
        qz = qs[i, 2]
        c0 = _bin_of_cpu(qx, nb[0])
        c1 = _bin_of_cpu(qy, nb[1])
        c2 = _bin_of_cpu(qz, nb[2])
        best = np.inf
        for u in range(27):
            b = _walk_cell_cpu(u, c0, c1, c2, nb[0], nb[1], nb[2], periodic)
            if b < 0:
                continue
            for jj in range(start[b], start[b + 1]):
                r2 = _dist2_cpu(qx, qy, qz, ps, jj, h, periodic)
                if r2 > rmax2:
                    continue
                j = order[jj]
                if self_mode and j == i:
                    continue
                if r2 < best:
                    best = r2
                for k in range(nc):
                    if r2 <= cut2[k]:
                        counts[i, k] += 1
                        if use_w:
                            wsum[i, k] += weights[j]
        dmin2[i] = best
    return counts, wsum, np.sqrt(dmin2)


@njit(parallel=True, cache=True)
def _pairs_cpu(qs, ps, order, start, nb, h, periodic, self_mode, cut2, offsets, fill):
    """Count pass (``fill=False``: offsets[i] = pairs of query i) or fill pass."""
    nq = qs.shape[0]
    total = offsets[nq] if fill else 0
    pi = np.empty(total, dtype=np.int64)
    pj = np.empty(total, dtype=np.int64)
    pd = np.empty(total, dtype=np.float64)
    cnt = np.zeros(nq, dtype=np.int64)
    for i in prange(nq):
        qx = qs[i, 0]
        qy = qs[i, 1]
        qz = qs[i, 2]
        c0 = _bin_of_cpu(qx, nb[0])
        c1 = _bin_of_cpu(qy, nb[1])
        c2 = _bin_of_cpu(qz, nb[2])
        m = 0
        for u in range(27):
            b = _walk_cell_cpu(u, c0, c1, c2, nb[0], nb[1], nb[2], periodic)
            if b < 0:
                continue
            for jj in range(start[b], start[b + 1]):
                j = order[jj]
                if self_mode and j <= i:
                    continue
                r2 = _dist2_cpu(qx, qy, qz, ps, jj, h, periodic)
                if r2 <= cut2:
                    if fill:
                        o = offsets[i] + m
                        pi[o] = i
                        pj[o] = j
                        pd[o] = np.sqrt(r2)
                    m += 1
        cnt[i] = m
    return cnt, pi, pj, pd


@njit(parallel=True, cache=True)
def _hist_cpu(qs, ps, order, start, nb, h, periodic, self_mode, r_min, r_max, nbins, nchunk):
    nq = qs.shape[0]
    hist = np.zeros((nchunk, nbins), dtype=np.int64)
    rmax2 = r_max * r_max
    rmin2 = r_min * r_min
    scale = nbins / (r_max - r_min)
    per = (nq + nchunk - 1) // nchunk
    for ch in prange(nchunk):
        for i in range(ch * per, min(nq, (ch + 1) * per)):
            qx = qs[i, 0]
            qy = qs[i, 1]
            qz = qs[i, 2]
            c0 = _bin_of_cpu(qx, nb[0])
            c1 = _bin_of_cpu(qy, nb[1])
            c2 = _bin_of_cpu(qz, nb[2])
            for u in range(27):
                b = _walk_cell_cpu(u, c0, c1, c2, nb[0], nb[1], nb[2], periodic)
                if b < 0:
                    continue
                for jj in range(start[b], start[b + 1]):
                    r2 = _dist2_cpu(qx, qy, qz, ps, jj, h, periodic)
                    if r2 >= rmax2 or r2 < rmin2:
                        continue
                    if self_mode and order[jj] == i:
                        continue
                    k = int((np.sqrt(r2) - r_min) * scale)
                    if k >= nbins:
                        k = nbins - 1
                    hist[ch, k] += 1
    return hist.sum(axis=0)


# --------------------------------------------------------------------------- CUDA kernels


@cuda.jit
def _counts_cuda(qs, ps, order, start, nb, h, periodic, self_mode, cut2, weights, use_w,
                 counts, wsum, dmin2):
    i = cuda.grid(1)
    if i >= qs.shape[0]:
        return
    nc = cut2.shape[0]
    rmax2 = cut2[nc - 1]
    qx = qs[i, 0]
    qy = qs[i, 1]
    qz = qs[i, 2]
    c0 = _bin_of_dev(qx, nb[0])
    c1 = _bin_of_dev(qy, nb[1])
    c2 = _bin_of_dev(qz, nb[2])
    best = 1e300
    for u in range(27):
        b = _walk_cell_dev(u, c0, c1, c2, nb[0], nb[1], nb[2], periodic)
        if b < 0:
            continue
        for jj in range(start[b], start[b + 1]):
            r2 = _dist2_dev(qx, qy, qz, ps, jj, h, periodic)
            if r2 > rmax2:
                continue
            j = order[jj]
            if self_mode and j == i:
                continue
            if r2 < best:
                best = r2
            for k in range(nc):
                if r2 <= cut2[k]:
                    counts[i, k] += 1
                    if use_w:
                        wsum[i, k] += weights[j]
    dmin2[i] = best


@cuda.jit
def _pairs_cuda(qs, ps, order, start, nb, h, periodic, self_mode, cut2, offsets, fill,
                cnt, pi, pj, pd):
    i = cuda.grid(1)
    if i >= qs.shape[0]:
        return
    qx = qs[i, 0]
    qy = qs[i, 1]
    qz = qs[i, 2]
    c0 = _bin_of_dev(qx, nb[0])
    c1 = _bin_of_dev(qy, nb[1])
    c2 = _bin_of_dev(qz, nb[2])
    m = 0
    for u in range(27):
        b = _walk_cell_dev(u, c0, c1, c2, nb[0], nb[1], nb[2], periodic)
        if b < 0:
            continue
        for jj in range(start[b], start[b + 1]):
            j = order[jj]
            if self_mode and j <= i:
                continue
            r2 = _dist2_dev(qx, qy, qz, ps, jj, h, periodic)
            if r2 <= cut2:
                if fill:
                    o = offsets[i] + m
                    pi[o] = i
                    pj[o] = j
                    pd[o] = r2 ** 0.5
                m += 1
    cnt[i] = m


@cuda.jit
def _hist_cuda(qs, ps, order, start, nb, h, periodic, self_mode, r_min, r_max, hist):
    i = cuda.grid(1)
    if i >= qs.shape[0]:
        return
    nbins = hist.shape[0]
    rmax2 = r_max * r_max
    rmin2 = r_min * r_min
    scale = nbins / (r_max - r_min)
    qx = qs[i, 0]
    qy = qs[i, 1]
    qz = qs[i, 2]
    c0 = _bin_of_dev(qx, nb[0])
    c1 = _bin_of_dev(qy, nb[1])
    c2 = _bin_of_dev(qz, nb[2])
    for u in range(27):
        b = _walk_cell_dev(u, c0, c1, c2, nb[0], nb[1], nb[2], periodic)
        if b < 0:
            continue
        for jj in range(start[b], start[b + 1]):
            r2 = _dist2_dev(qx, qy, qz, ps, jj, h, periodic)
            if r2 >= rmax2 or r2 < rmin2:
                continue
            if self_mode and order[jj] == i:
                continue
            k = int((r2 ** 0.5 - r_min) * scale)
            if k >= nbins:
                k = nbins - 1
            cuda.atomic.add(hist, k, 1)


_TPB = 128


def _blocks(n: int) -> int:
    return max(1, (n + _TPB - 1) // _TPB)


#: Below this many expected distance evaluations the CPU kernels run on one thread (waking a
#: thread pool costs more than the work, and much more on an oversubscribed machine).
SERIAL_WORK = 400_000


@contextmanager
def _threads_for(g: CellGrid):
    work = len(g.qs) * 27 * (len(g.ps) / max(int(np.prod(g.nbins)), 1) + 1)
    if work >= SERIAL_WORK:
        yield
        return
    prev = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(prev)


def _grid_args(g: CellGrid, device: bool):
    args = (g.qs, g.ps, g.order, g.start, g.nbins)
    if device:
        args = tuple(cuda.to_device(np.ascontiguousarray(a)) for a in args)
    hh = tuple(float(x) for x in np.asarray(g.h, dtype=np.float64).ravel())
    return args + (hh, g.periodic, g.self_mode)


# --------------------------------------------------------------------------- public API


@dataclass
class NeighborCounts:
    """Per-query neighbour counts within one or more radii.

    Attributes
    ----------
    cutoffs : (n_cut,) float64
        Radii, Å, ascending.
    counts : (n_q, n_cut) int64
        Points within each radius (``r <= cutoff``), excluding the query itself in self mode.
    weighted : (n_q, n_cut) float64 or None
        Sum of the points' weights within each radius (when weights were given).
    nearest : (n_q,) float64
        Distance to the nearest point within the largest radius, Å (``inf`` if none).
    """

    cutoffs: np.ndarray
    counts: np.ndarray
    weighted: np.ndarray | None
    nearest: np.ndarray


def _cutoff_array(cutoffs) -> tuple[np.ndarray, np.ndarray]:
    c = np.atleast_1d(np.asarray(cutoffs, dtype=np.float64))
    if c.ndim != 1 or c.size == 0:
        raise ValueError("give at least one cutoff radius")
    order = np.argsort(c, kind="stable")
    return c, order


def neighbor_counts(
    query: np.ndarray,
    points: np.ndarray | None = None,
    box: np.ndarray | None = None,
    cutoffs: float | np.ndarray = 3.5,
    weights: np.ndarray | None = None,
    backend: str | None = "auto",
) -> NeighborCounts:
    """Count points within one or several radii of each query point.

    Parameters
    ----------
    query : (n_q, 3) float
        Query positions, Å.
    points : (n_p, 3) float, optional
        Searched positions, Å; ``None`` = self mode (query vs itself, self excluded).
    box : (3, 3) float or None
        Cell matrix (rows are cell vectors), Å; ``None`` = open boundaries.
    cutoffs : float or sequence of float
        Radii, Å; the largest must be at most half the shortest perpendicular cell width.
    weights : (n_p,) float, optional
        Per-point weights; their sums within each radius are returned as ``weighted``.
    backend : {"auto", "cpu", "cuda"}

    Returns
    -------
    NeighborCounts
        Columns in the order of ``cutoffs`` as given.
    """
    c, order = _cutoff_array(cutoffs)
    cs = c[order]
    g = build_grid(query, points, box, float(cs[-1]))
    n_p = len(g.ps)
    use_w = weights is not None
    w = (np.ascontiguousarray(weights, dtype=np.float64) if use_w else np.zeros(1))
    if use_w and w.shape != (n_p,):
        raise ValueError(f"weights must have one entry per point ({n_p}), got {w.shape}")
    cut2 = cs * cs
    nq = len(g.qs)
    if nq == 0:
        counts, wsum, dmin = np.zeros((0, len(c)), np.int64), np.zeros((0, len(c))), np.zeros(0)
    elif resolve_backend(backend) == "cuda":
        d_counts = cuda.to_device(np.zeros((nq, len(c)), dtype=np.int64))
        d_wsum = cuda.to_device(np.zeros((nq, len(c)), dtype=np.float64))
        d_dmin2 = cuda.to_device(np.zeros(nq, dtype=np.float64))
        _counts_cuda[_blocks(nq), _TPB](
            *_grid_args(g, True), cuda.to_device(cut2), cuda.to_device(w), use_w,
            d_counts, d_wsum, d_dmin2,
        )
        counts, wsum = d_counts.copy_to_host(), d_wsum.copy_to_host()
        d2 = d_dmin2.copy_to_host()
        dmin = np.where(d2 > 1e299, np.inf, np.sqrt(d2))
    else:
        with _threads_for(g):
            counts, wsum, dmin = _counts_cpu(*_grid_args(g, False), cut2, w, use_w)
    inv = np.empty_like(order)
    inv[order] = np.arange(len(order))
    return NeighborCounts(
        cutoffs=c,
        counts=np.ascontiguousarray(counts[:, inv]),
        weighted=np.ascontiguousarray(wsum[:, inv]) if use_w else None,
        nearest=dmin,
    )


def neighbor_pairs(
    query: np.ndarray,
    points: np.ndarray | None = None,
    box: np.ndarray | None = None,
    cutoff: float = 3.5,
    backend: str | None = "auto",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs closer than ``cutoff`` (``r <= cutoff``), without an N² distance matrix.

    Parameters
    ----------
    query, points, box, backend
        As in :func:`neighbor_counts`. In self mode each unordered pair appears once
        (``i < j``).
    cutoff : float
        Radius, Å.

    Returns
    -------
    i : (n_pairs,) int64
        Query index, ascending.
    j : (n_pairs,) int64
        Point index.
    d : (n_pairs,) float64
        Minimum-image distance, Å.
    """
    g = build_grid(query, points, box, float(cutoff))
    nq = len(g.qs)
    cut2 = float(cutoff) ** 2
    empty = np.zeros(nq + 1, dtype=np.int64)
    if nq == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    if resolve_backend(backend) == "cuda":
        args = _grid_args(g, True)
        d_cnt = cuda.to_device(np.zeros(nq, dtype=np.int64))
        dummy_i = cuda.to_device(np.zeros(1, np.int64))
        dummy_d = cuda.to_device(np.zeros(1))
        _pairs_cuda[_blocks(nq), _TPB](*args, cut2, cuda.to_device(empty), False, d_cnt,
                                        dummy_i, dummy_i, dummy_d)
        offsets = np.zeros(nq + 1, dtype=np.int64)
        np.cumsum(d_cnt.copy_to_host(), out=offsets[1:])
        total = int(offsets[-1])
        d_i = cuda.to_device(np.zeros(max(total, 1), np.int64))
        d_j = cuda.to_device(np.zeros(max(total, 1), np.int64))
        d_d = cuda.to_device(np.zeros(max(total, 1)))
        _pairs_cuda[_blocks(nq), _TPB](*args, cut2, cuda.to_device(offsets), True, d_cnt,
                                        d_i, d_j, d_d)
        return (d_i.copy_to_host()[:total], d_j.copy_to_host()[:total],
                d_d.copy_to_host()[:total])
    args = _grid_args(g, False)
    with _threads_for(g):
        cnt, _, _, _ = _pairs_cpu(*args, cut2, empty, False)
        offsets = np.zeros(nq + 1, dtype=np.int64)
        np.cumsum(cnt, out=offsets[1:])
        _, pi, pj, pd = _pairs_cpu(*args, cut2, offsets, True)
    return pi, pj, pd


def pair_histogram(
    query: np.ndarray,
    points: np.ndarray | None = None,
    box: np.ndarray | None = None,
    r_max: float = 10.0,
    bins: int = 200,
    r_min: float = 0.0,
    backend: str | None = "auto",
) -> np.ndarray:
    """Histogram of query–point distances in ``bins`` equal bins over ``[r_min, r_max)``.

    In self mode every ordered pair ``i != j`` is counted (each unordered pair twice), as in an
    RDF with ``N (N - 1)`` pairs. Returns ``(bins,)`` int64 counts.
    """
    if not r_max > r_min >= 0:
        raise ValueError(f"need 0 <= r_min < r_max, got r_min={r_min}, r_max={r_max}")
    if int(bins) < 1:
        raise ValueError("bins must be at least 1")
    g = build_grid(query, points, box, float(r_max))
    nq = len(g.qs)
    if nq == 0:
        return np.zeros(int(bins), dtype=np.int64)
    if resolve_backend(backend) == "cuda":
        d_hist = cuda.to_device(np.zeros(int(bins), dtype=np.int64))
        _hist_cuda[_blocks(nq), _TPB](*_grid_args(g, True), float(r_min), float(r_max), d_hist)
        return d_hist.copy_to_host()
    nchunk = int(min(nq, 256))
    with _threads_for(g):
        return _hist_cpu(*_grid_args(g, False), float(r_min), float(r_max), int(bins), nchunk)


# --------------------------------------------------------------------------- references


def _ref_distances(query, points, box, block=512):
    """Yield (i0, d) with d the (block, n_p) minimum-image (or open) distance block."""
    q = np.asarray(query, dtype=np.float64).reshape(-1, 3)
    p = q if points is None else np.asarray(points, dtype=np.float64).reshape(-1, 3)
    h = _as_box(box)
    for i0 in range(0, len(q), block):
        diff = p[None, :, :] - q[i0 : i0 + block, None, :]
        if h is not None:
            diff = minimum_image(diff, h)
        yield i0, np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))


def pairs_reference(query, points=None, box=None, cutoff=3.5):
    """Brute-force pair list (minimum image over all pairs), same conventions as
    :func:`neighbor_pairs`; sorted by (i, j)."""
    out_i, out_j, out_d = [], [], []
    for i0, d in _ref_distances(query, points, box):
        ii, jj = np.nonzero(d <= cutoff)
        ii = ii + i0
        keep = jj > ii if points is None else np.ones(len(ii), bool)
        out_i.append(ii[keep])
        out_j.append(jj[keep])
        out_d.append(d[ii[keep] - i0, jj[keep]])
    if not out_i:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_d)


def counts_reference(query, points=None, box=None, cutoffs=3.5, weights=None):
    """Brute-force :class:`NeighborCounts`."""
    c = np.atleast_1d(np.asarray(cutoffs, dtype=np.float64))
    q = np.asarray(query, dtype=np.float64).reshape(-1, 3)
    counts = np.zeros((len(q), len(c)), dtype=np.int64)
    wsum = np.zeros((len(q), len(c)))
    nearest = np.full(len(q), np.inf)
    for i0, d in _ref_distances(query, points, box):
        if points is None:
            d[np.arange(len(d)), np.arange(i0, i0 + len(d))] = np.inf
        for k, rc in enumerate(c):
            m = d <= rc
            counts[i0 : i0 + len(d), k] = m.sum(axis=1)
            if weights is not None:
                wsum[i0 : i0 + len(d), k] = (m * np.asarray(weights)[None, :]).sum(axis=1)
        dm = np.where(d <= c.max(), d, np.inf)
        nearest[i0 : i0 + len(d)] = dm.min(axis=1) if d.shape[1] else np.inf
    return NeighborCounts(c, counts, wsum if weights is not None else None, nearest)


def histogram_reference(query, points=None, box=None, r_max=10.0, bins=200, r_min=0.0):
    """Brute-force :func:`pair_histogram`."""
    hist = np.zeros(int(bins), dtype=np.int64)
    for i0, d in _ref_distances(query, points, box):
        if points is None:
            d[np.arange(len(d)), np.arange(i0, i0 + len(d))] = np.inf
        x = d[(d >= r_min) & (d < r_max)]
        k = np.minimum(((x - r_min) * (bins / (r_max - r_min))).astype(np.int64), bins - 1)
        hist += np.bincount(k, minlength=bins)
    return hist


# --------------------------------------------------------------------------- graph components


@njit(cache=True)
def _find(parent, x):
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:  # path compression
        nxt = parent[x]
        parent[x] = root
        x = nxt
    return root


@njit(cache=True)
def _components(n, pi, pj):
    parent = np.arange(n)
    for k in range(pi.shape[0]):
        a = _find(parent, pi[k])
        b = _find(parent, pj[k])
        if a != b:
            if a < b:
                parent[b] = a
            else:
                parent[a] = b
    labels = np.full(n, -1, dtype=np.int64)
    root_label = np.full(n, -1, dtype=np.int64)
    nxt = 0
    for i in range(n):  # labels numbered by the smallest member index
        r = _find(parent, i)
        if root_label[r] < 0:
            root_label[r] = nxt
            nxt += 1
        labels[i] = root_label[r]
    return labels


def connected_components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Connected components of the graph on ``n`` nodes with edges ``(i[k], j[k])``
    (union-find with path compression, Numba).

    Returns
    -------
    (n,) int64 labels ``0 .. n_components - 1``, numbered in order of each component's
    smallest node index (canonical, so equal partitions give equal label arrays).
    """
    return _components(int(n), np.ascontiguousarray(i, dtype=np.int64),
                       np.ascontiguousarray(j, dtype=np.int64))


__all__ += ["connected_components"]
