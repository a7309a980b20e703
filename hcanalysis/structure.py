"""Local structure around the ions: RDFs, coordination, Na clusters, carbon hybridisation.

Definitions (see ``docs/structure.md``):

* :func:`rdf` — g_ab(r) averaged over frames, normalised by the mean cell volume and by
  ``N_a N_b`` pairs (``N_a (N_a - 1)`` when a == b), as MDAnalysis ``InterRDF``; the running
  coordination number ``n_ab(r)`` is the mean number of b atoms within r of an a atom.
* :func:`first_minimum` — the first minimum of a Gaussian-smoothed g(r) after its first peak.
* :func:`analyze` — per ion and frame, then per window (:func:`hcanalysis.windows.window_bounds`):
  n(Na–Na), n(Na–C) within cutoffs (default: first minima of the matching RDFs), local carbon
  density within R (g/cm³), nearest Na–Na / Na–C distances, Na cluster (connected component of
  the Na–Na graph at the cutoff, periodic) and its size, cluster-partner lifetimes, and the sp²
  fraction of the carbons within R; per frame the carbon sp/sp²/sp³ fractions and the cluster
  size distribution.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from hcanalysis.deprecation import keyword_only, renamed
from hcanalysis.kernels.neighbors import (
    connected_components,
    neighbor_counts,
    neighbor_pairs,
    pair_histogram,
)
from hcanalysis.kernels.pbc import minimum_image, perpendicular_widths
from hcanalysis.windows import window_bounds

#: g/cm³ per (amu / Å³).
AMU_PER_A3_TO_G_PER_CM3 = 1.66053906660

__all__ = [
    "CarbonStructure",
    "FirstMinimum",
    "RDFResult",
    "StructureResult",
    "analyze",
    "carbon_hybridisation",
    "ring_statistics",
    "cluster_labels",
    "cluster_lifetimes",
    "partner_persistence",
    "cluster_size_distribution",
    "first_minimum",
    "rdf",
    "rdf_from_positions",
]


# --------------------------------------------------------------------------- RDF


@dataclass
class RDFResult:
    """A radial distribution function and its running coordination number.

    Attributes
    ----------
    edges : (bins + 1,) float64
        Bin edges, Å.
    r : (bins,) float64
        Bin centres, Å.
    g : (bins,) float64
        g_ab(r), dimensionless.
    n_cum : (bins,) float64
        Running coordination number at each bin's upper edge: mean number of b atoms within
        ``edges[k + 1]`` of an a atom.
    counts : (bins,) int64
        Raw pair counts summed over frames (ordered pairs).
    n_a, n_b : int
        Atoms of each species; ``same`` is True when a == b.
    n_frames : int
    mean_volume : float
        Mean cell volume over the frames, Å³.
    a, b : str
        Species (or labels) of the two groups.
    """

    edges: np.ndarray
    r: np.ndarray
    g: np.ndarray
    n_cum: np.ndarray
    counts: np.ndarray
    n_a: int
    n_b: int
    same: bool
    n_frames: int
    mean_volume: float
    a: str = "a"
    b: str = "b"


def _max_r(boxes: np.ndarray) -> float:
    return float(min(perpendicular_widths(b).min() for b in boxes) * 0.5)


@keyword_only
def rdf_from_positions(
    pos_a: np.ndarray,
    pos_b: np.ndarray | None,
    boxes: np.ndarray,
    r_max: float,
    *,
    bins: int = 200,
    r_min: float = 0.0,
    backend: str | None = "auto",
    a: str = "a",
    b: str = "b",
) -> RDFResult:
    """g_ab(r) from positions of the two groups over frames.

    Parameters
    ----------
    pos_a : (n_frames, n_a, 3) float
        Positions of group a, Å.
    pos_b : (n_frames, n_b, 3) float or None
        Positions of group b, Å; ``None`` = same group as a (pairs ``i != j``).
    boxes : (3, 3) or (n_frames, 3, 3) float
        Cell matrices, rows are cell vectors, Å.
    r_max : float
        Largest distance, Å (at most half the shortest perpendicular width).
    bins : int
        Number of equal bins over ``[r_min, r_max)``.
    """
    pos_a = np.asarray(pos_a, dtype=np.float64)
    if pos_a.ndim == 2:
        pos_a = pos_a[None]
    same = pos_b is None
    if not same:
        pos_b = np.asarray(pos_b, dtype=np.float64)
        if pos_b.ndim == 2:
            pos_b = pos_b[None]
    nf = pos_a.shape[0]
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.ndim == 2:
        boxes = np.broadcast_to(boxes, (nf, 3, 3))
    counts = np.zeros(int(bins), dtype=np.int64)
    vol = 0.0
    for f in range(nf):
        counts += pair_histogram(pos_a[f], None if same else pos_b[f], boxes[f], r_max, bins,
                                 r_min, backend)
        vol += abs(np.linalg.det(boxes[f]))
    return _rdf_result(counts, pos_a.shape[1], pos_a.shape[1] if same else pos_b.shape[1],
                       same, nf, vol / nf, r_min, r_max, a, b)


def _rdf_result(counts, n_a, n_b, same, nf, mean_vol, r_min, r_max, a, b) -> RDFResult:
    bins = len(counts)
    edges = np.linspace(r_min, r_max, bins + 1)
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    n_pairs = n_a * (n_a - 1) if same else n_a * n_b
    with np.errstate(invalid="ignore", divide="ignore"):
        g = counts / (nf * n_pairs / mean_vol * shell) if n_pairs > 0 else np.zeros(bins)
        n_cum = np.cumsum(counts) / (nf * n_a) if n_a > 0 else np.zeros(bins)
    return RDFResult(edges=edges, r=0.5 * (edges[1:] + edges[:-1]), g=g, n_cum=n_cum,
                     counts=counts, n_a=int(n_a), n_b=int(n_b), same=bool(same), n_frames=nf,
                     mean_volume=float(mean_vol), a=a, b=b)


@keyword_only
def rdf(
    traj,
    a: str = "Na",
    b: str = "Na",
    *,
    r_max: float | None = None,
    bins: int = 200,
    frames: slice | Sequence[int] | np.ndarray = slice(None),
    r_min: float = 0.0,
    backend: str | None = "auto",
) -> RDFResult:
    """Radial distribution function g_ab(r) of a trajectory.

    Parameters
    ----------
    traj : hcanalysis.Trajectory
    a, b : str or selection
        Species (or any selection :meth:`Trajectory.indices` accepts) of the two groups;
        ``a == b`` counts pairs ``i != j`` and normalises by ``N_a (N_a - 1)``.
    r_max : float, optional
        Largest distance, Å; default ``min(10, half the shortest perpendicular width)``.
    bins : int
        Equal bins over ``[r_min, r_max)``.
    frames : slice or array of int
        Frames averaged over.
    backend : {"auto", "cpu", "cuda"}

    Returns
    -------
    RDFResult
        g(r), the running coordination number and the raw counts.
    """
    fidx = _frame_list(traj, frames)
    boxes = traj.boxes(fidx)
    if r_max is None:
        r_max = min(10.0, _max_r(boxes))
    same = _same_selection(a, b)
    ia = traj.indices(a)
    ib = ia if same else traj.indices(b)
    counts = np.zeros(int(bins), dtype=np.int64)
    vol = 0.0
    nf = 0
    sel = ia if same else np.concatenate([ia, ib])
    for chunk_frames, pos in traj.iter_chunks(select=sel, frames=fidx, chunk_frames=256):
        for k, f in enumerate(chunk_frames):
            box = traj.box(int(f))
            pa = pos[k, : len(ia)]
            pb = None if same else pos[k, len(ia):]
            counts += pair_histogram(pa, pb, box, r_max, bins, r_min, backend)
            vol += abs(np.linalg.det(box))
            nf += 1
    if nf == 0:
        raise ValueError("no frames selected for the RDF")
    return _rdf_result(counts, len(ia), len(ib), same, nf, vol / nf, r_min, float(r_max),
                       _label(a), _label(b))


def _frame_list(traj, frames) -> np.ndarray:
    """Sorted, distinct frame indices of a slice, an int or an array (negative from the end)."""
    if isinstance(frames, slice):
        return np.arange(traj.n_frames)[frames]
    f = np.atleast_1d(np.asarray(frames, dtype=np.int64))
    f = np.where(f < 0, f + traj.n_frames, f)
    if f.size and (f.min() < 0 or f.max() >= traj.n_frames):
        raise IndexError(f"frame index out of range 0..{traj.n_frames - 1}")
    return np.unique(f)


def _same_selection(a, b) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    try:
        return bool(np.array_equal(np.asarray(a), np.asarray(b)))
    except Exception:  # noqa: BLE001
        return False


def _label(sel) -> str:
    return sel if isinstance(sel, str) else "sel"


# --------------------------------------------------------------------------- first minimum


@dataclass
class FirstMinimum:
    """Where g(r) has its first peak and its first minimum after that peak.

    Attributes
    ----------
    r_min, g_min : float
        Position (Å) and smoothed height of the first minimum (NaN when none was found).
    r_peak, g_peak : float
        Position (Å) and smoothed height of the first peak.
    found : bool
        False when g(r) has no minimum after its first peak inside the range.
    smooth : float
        Gaussian smoothing width used, Å.
    """

    r_min: float
    g_min: float
    r_peak: float
    g_peak: float
    found: bool
    smooth: float


def _parabola_vertex(x: np.ndarray, y: np.ndarray, k: int) -> tuple[float, float]:
    """Vertex of the parabola through points k-1, k, k+1 (falls back to point k)."""
    if k <= 0 or k >= len(x) - 1:
        return float(x[k]), float(y[k])
    x0, x1, x2 = x[k - 1 : k + 2]
    y0, y1, y2 = y[k - 1 : k + 2]
    denom = (x0 - x1) * (x0 - x2) * (x1 - x2)
    a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denom
    b = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / denom
    if a == 0:
        return float(x1), float(y1)
    xv = -b / (2 * a)
    if not x0 <= xv <= x2:
        return float(x1), float(y1)
    c = y0 - a * x0 * x0 - b * x0
    return float(xv), float(a * xv * xv + b * xv + c)


@keyword_only
def first_minimum(
    r: np.ndarray | RDFResult,
    g: np.ndarray | None = None,
    *,
    smooth: float = 0.15,
    peak_fraction: float = 0.5,
    prominence: float = 0.05,
) -> FirstMinimum:
    """First minimum of g(r) after its first peak, robust to noise.

    g is smoothed with a Gaussian of width ``smooth`` Å. The first peak is the first local
    maximum of the smoothed curve whose height is at least ``peak_fraction`` of its global
    maximum and above 1 (so noise at small r where g ≈ 0 is skipped); the first minimum is
    the first local minimum after that peak whose prominence (how far g rises on its lower
    side before coming back down, as in ``scipy.signal.find_peaks``) is at least
    ``prominence``, so shoulders and wiggles on the falling side of the peak are passed over;
    it is refined by a parabola through the three smoothed points around it.

    Parameters
    ----------
    r : (bins,) float or RDFResult
        Bin centres, Å (equally spaced), or an :class:`RDFResult` (then ``g`` is omitted).
    g : (bins,) float
        g(r).
    smooth : float
        Gaussian smoothing width (standard deviation), Å; 0 = no smoothing.
    peak_fraction : float
        A first peak must reach this fraction of the smoothed global maximum.
    prominence : float
        Smallest prominence of the minimum, in units of g.
    """
    from scipy.ndimage import gaussian_filter1d

    if isinstance(r, RDFResult):
        r, g = r.r, r.g
    r = np.asarray(r, dtype=np.float64)
    g = np.nan_to_num(np.asarray(g, dtype=np.float64))
    if len(r) < 3:
        raise ValueError("g(r) needs at least 3 bins to find a minimum")
    dr = float(r[1] - r[0])
    gs = gaussian_filter1d(g, smooth / dr, mode="nearest") if smooth > 0 else g.copy()
    nan = FirstMinimum(np.nan, np.nan, np.nan, np.nan, False, float(smooth))
    top = gs.max()
    if not top > 0:
        return nan
    thresh = max(peak_fraction * top, min(1.0, top))
    peak = -1
    for k in range(1, len(gs) - 1):
        if gs[k] >= thresh and gs[k] >= gs[k - 1] and gs[k] > gs[k + 1]:
            peak = k
            break
    if peak < 0:
        return nan
    from scipy.signal import find_peaks

    rp, gp = _parabola_vertex(r, gs, peak)
    minima, _ = find_peaks(-gs[peak:], prominence=prominence)
    if len(minima):
        rm, gm = _parabola_vertex(r, gs, int(minima[0]) + peak)
        return FirstMinimum(rm, gm, rp, gp, True, float(smooth))
    return FirstMinimum(np.nan, np.nan, rp, gp, False, float(smooth))


# --------------------------------------------------------------------------- clusters


def cluster_labels(
    positions: np.ndarray, box: np.ndarray | None, cutoff: float, backend: str | None = "auto"
) -> np.ndarray:
    """Cluster label of each atom: connected components of the graph whose edges join atoms
    closer than ``cutoff`` (Å, minimum image under the cell ``box``; ``None`` = open).

    Labels are ``0 .. n_clusters - 1`` numbered by each cluster's smallest atom index.
    """
    pos = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    i, j, _ = neighbor_pairs(pos, None, box, cutoff, backend)
    return connected_components(len(pos), i, j)


def cluster_size_distribution(labels: np.ndarray, max_size: int | None = None) -> np.ndarray:
    """Number of clusters of each size: ``out[s]`` = clusters with s members (``out[0] = 0``).

    ``labels`` may be ``(n,)`` or ``(n_frames, n)``; then one row per frame.
    """
    lab = np.atleast_2d(np.asarray(labels))
    n = lab.shape[1]
    m = n if max_size is None else int(max_size)
    out = np.zeros((lab.shape[0], m + 1), dtype=np.int64)
    for f, row in enumerate(lab):
        sizes = np.bincount(row)
        out[f] = np.bincount(sizes[sizes > 0], minlength=m + 1)[: m + 1]
    return out if np.ndim(labels) == 2 else out[0]


@njit(cache=True)
def _membership_runs(labels, keys, starts, stops, dt):
    """Per ion and window: mean duration of runs of unchanged cluster membership (size >= 2)."""
    nf, n = labels.shape
    sig = np.zeros((nf, n), dtype=np.uint64)
    size = np.zeros((nf, n), dtype=np.int64)
    csig = np.zeros(n, dtype=np.uint64)
    csize = np.zeros(n, dtype=np.int64)
    for f in range(nf):
        csig[:] = 0
        csize[:] = 0
        for i in range(n):
            csig[labels[f, i]] += keys[i]
            csize[labels[f, i]] += 1
        for i in range(n):
            sig[f, i] = csig[labels[f, i]]
            size[f, i] = csize[labels[f, i]]
    nw = starts.shape[0]
    out = np.full((nw, n), np.nan)
    for w in range(nw):
        a = starts[w]
        b = stops[w]
        for i in range(n):
            total = 0.0
            runs = 0
            run = 0
            for f in range(a, b):
                if size[f, i] >= 2:
                    if run > 0 and sig[f, i] == sig[f - 1, i]:
                        run += 1
                    else:
                        if run > 0:
                            total += run * dt
                            runs += 1
                        run = 1
                else:
                    if run > 0:
                        total += run * dt
                        runs += 1
                    run = 0
            if run > 0:
                total += run * dt
                runs += 1
            if runs > 0:
                out[w, i] = total / runs
    return out


def cluster_lifetimes(
    labels: np.ndarray, bounds: np.ndarray, dt_ps: float, seed: int = 0
) -> np.ndarray:
    """Mean cluster-partner lifetime per ion and window, ps.

    Definition: for ion i, a *run* is a maximal stretch of consecutive analysed frames in
    which i belongs to a cluster of at least two ions whose membership (the set of i's
    partners) does not change. Each run lasts ``n_frames_in_run * dt_ps``. The lifetime of
    i in a window is the mean duration of its runs inside the window (runs are cut at the
    window edges, so long-lived clusters are under-estimated); NaN when i is never in a
    cluster of two or more ions in the window.

    Membership is compared through a 64-bit random key per ion summed over the members of
    each cluster (collision probability ~ 2^-64 per comparison).

    Parameters
    ----------
    labels : (n_frames, n_ions) int
        Cluster labels per frame (any numbering).
    bounds : (n_windows, 2) int
        ``[start, stop)`` rows of :func:`hcanalysis.windows.window_bounds`.
    dt_ps : float
        Time between consecutive analysed frames, ps.
    """
    lab = np.ascontiguousarray(labels, dtype=np.int64)
    keys = np.random.default_rng(seed).integers(1, 2**63 - 1, size=lab.shape[1],
                                                dtype=np.int64).astype(np.uint64)
    b = np.asarray(bounds, dtype=np.int64)
    return _membership_runs(lab, keys, b[:, 0].copy(), b[:, 1].copy(), float(dt_ps))


def partner_persistence(
    positions: np.ndarray, box: np.ndarray | None, cutoff: float,
    frame_groups: list[np.ndarray], backend: str | None = "auto",
) -> np.ndarray:
    """Fraction of the frames of each group (window) in which an ion keeps the same Na
    partner within ``cutoff``: for ion i and window w, the largest, over the other ions j,
    of the fraction of the window's frames with |r_i − r_j| ≤ ``cutoff`` (minimum image).

    A cluster partner that stays all window gives 1; passing encounters with changing
    neighbours (a crowded cell, a liquid) give the fraction of the most frequent one. This
    is the cluster-partner lifetime as a fraction of the window (a contact lifetime measured
    on one partner, unlike the any-contact fraction).

    Parameters
    ----------
    positions : (n_frames, n_ions, 3) float
        Ion positions, Å.
    box : (3, 3) or None
        Cell matrix (rows are cell vectors), Å; None = open boundaries.
    cutoff : float
        Na–Na contact distance, Å (the first minimum of the Na–Na RDF).
    frame_groups : list of int arrays
        Rows of ``positions`` in each window.

    Returns
    -------
    (n_windows, n_ions) float
    """
    pos = np.asarray(positions, dtype=np.float64)
    n_frames, n = pos.shape[:2]
    pairs = []
    for f in range(n_frames):
        i, j, _ = neighbor_pairs(pos[f], None, box, cutoff, backend)
        i, j = np.asarray(i, np.int64), np.asarray(j, np.int64)
        pairs.append(np.concatenate([i * n + j, j * n + i]))
    out = np.zeros((len(frame_groups), n))
    for w, rows in enumerate(frame_groups):
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows):
            out[w] = np.nan
            continue
        keys = np.concatenate([pairs[r] for r in rows]) if len(rows) else np.empty(0, int)
        if not keys.size:
            continue
        uniq, counts = np.unique(keys, return_counts=True)
        best = np.zeros(n)
        np.maximum.at(best, uniq // n, counts)
        out[w] = best / len(rows)
    return out


# --------------------------------------------------------------------------- carbon


@dataclass
class CarbonStructure:
    """Carbon coordination in one frame.

    Attributes
    ----------
    coordination : (n_C,) int64
        Carbon neighbours of each carbon within ``cutoff``.
    fractions : dict
        Fraction of carbons with coordination 2 (``sp``), 3 (``sp2``), 4 (``sp3``) and
        anything else (``other``).
    mean_coordination : float
    cutoff : float
        C–C bond cutoff, Å.
    """

    coordination: np.ndarray
    fractions: dict[str, float]
    mean_coordination: float
    cutoff: float


HYBRID_NAMES = ("sp", "sp2", "sp3", "other")


def _fractions(cn: np.ndarray) -> dict[str, float]:
    n = max(len(cn), 1)
    sp = float(np.sum(cn == 2)) / n
    sp2 = float(np.sum(cn == 3)) / n
    sp3 = float(np.sum(cn == 4)) / n
    return {"sp": sp, "sp2": sp2, "sp3": sp3, "other": 1.0 - sp - sp2 - sp3 if len(cn) else 0.0}


@keyword_only
def carbon_hybridisation(
    positions: np.ndarray, box: np.ndarray | None, *, cutoff: float = 1.85,
    backend: str | None = "auto",
) -> CarbonStructure:
    """C–C coordination and sp/sp²/sp³ fractions (coordination 2/3/4 within ``cutoff`` Å)."""
    cn = neighbor_counts(positions, None, box, cutoff, backend=backend).counts[:, 0]
    return CarbonStructure(cn, _fractions(cn), float(cn.mean()) if len(cn) else 0.0,
                           float(cutoff))


@keyword_only
def ring_statistics(
    positions: np.ndarray, box: np.ndarray | None, *, cutoff: float = 1.85, max_size: int = 8,
    backend: str | None = "auto",
) -> np.ndarray:
    """Ring size counts of the C–C bond graph (bonds ``r <= cutoff`` Å, periodic).

    Rings are shortest-path rings (Franzblau) among the smallest rings through every bond
    angle (King), each distinct ring once; see :mod:`hcanalysis.kernels.rings`.

    Returns
    -------
    (max_size + 1,) int64
        ``out[s]`` = number of distinct rings of s atoms (sizes below 3 are 0).
    """
    from hcanalysis.kernels.rings import ring_size_counts

    pos = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    i, j, _ = neighbor_pairs(pos, None, box, cutoff, backend)
    return ring_size_counts(len(pos), i, j, max_size)


# --------------------------------------------------------------------------- per-ion analysis


@dataclass
class StructureResult:
    """Per-ion local structure, per frame and per window.

    Per-frame arrays are ``(n_frames, n_ions)`` in the order of ``frames`` and of the ions'
    atom indices ``ion_indices``; per-window arrays in ``windowed[name]`` are
    ``(n_windows, n_ions)`` NaN-aware means over the frames of each window.

    Attributes
    ----------
    n_ion_ion, n_ion_c : int64
        Ions / carbons within ``cutoffs["ion-ion"]`` / ``cutoffs["ion-C"]`` of each ion.
    carbon_density : float64
        Carbon mass density in a sphere of radius ``density_radius`` around each ion, g/cm³.
    nearest_ion, nearest_c : float64
        Distance to the nearest other ion / carbon, Å (NaN when there is none).
    cluster_label, cluster_size : int64
        Na cluster (connected component at ``cutoffs["ion-ion"]``) and its size (1 = alone).
    sp2_near : float64
        Fraction of the carbons within ``density_radius`` of the ion that are sp² (3 C–C
        neighbours); NaN when there are none.
    carbon_fractions : (n_frames, 4) float64
        sp, sp², sp³, other fractions of all carbons per frame (``HYBRID_NAMES``).
    carbon_mean_cn : (n_frames,) float64
    cluster_sizes : (n_frames, n_ions + 1) int64
        Number of clusters of each size per frame.
    cluster_lifetime : (n_windows, n_ions) float64
        See :func:`cluster_lifetimes`, ps.
    ring_counts : (n_frames, max_ring + 1) int64 or None
        Carbon rings of each size per frame (:func:`ring_statistics`), when asked for.
    cutoffs, cutoff_source : dict
        The cutoffs used (Å) and where each came from.
    rdfs, minima : dict
        The RDFs computed for the defaults (``"ion-ion"``, ``"ion-C"``) and their first minima.
    """

    ion: str
    carbon: str
    frames: np.ndarray
    time_ps: np.ndarray
    ion_indices: np.ndarray
    windows: np.ndarray
    cutoffs: dict[str, float]
    cutoff_source: dict[str, str]
    density_radius: float
    cc_cutoff: float
    n_ion_ion: np.ndarray
    n_ion_c: np.ndarray
    carbon_density: np.ndarray
    nearest_ion: np.ndarray
    nearest_c: np.ndarray
    cluster_label: np.ndarray
    cluster_size: np.ndarray
    sp2_near: np.ndarray
    carbon_fractions: np.ndarray
    carbon_mean_cn: np.ndarray
    cluster_sizes: np.ndarray
    cluster_lifetime: np.ndarray
    ring_counts: np.ndarray | None = None
    rdfs: dict[str, RDFResult] = field(default_factory=dict)
    minima: dict[str, FirstMinimum] = field(default_factory=dict)
    windowed: dict[str, np.ndarray] = field(default_factory=dict)

    PER_ION = ("n_ion_ion", "n_ion_c", "carbon_density", "nearest_ion", "nearest_c",
               "cluster_size", "sp2_near")


def _nearest_fallback(q: np.ndarray, p: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Nearest minimum-image distance from each of ``q`` to ``p`` by brute force (for the few
    queries with nothing inside the search radius); NaN when ``p`` is empty."""
    out = np.full(len(q), np.nan)
    if len(p) == 0:
        return out
    for k in range(len(q)):
        d = minimum_image(p - q[k], box)
        out[k] = float(np.sqrt(np.einsum("ij,ij->i", d, d).min()))
    return out


def _nearest(q, p, box, found, backend) -> np.ndarray:
    """Complete the nearest distances ``found`` (inf where nothing was inside the search
    radius): search again to half the cell width, then by brute force; NaN if no other atom."""
    out = np.where(np.isfinite(found), found, np.nan)
    miss = np.flatnonzero(~np.isfinite(found))
    if miss.size == 0:
        return out
    half = 0.5 * float(perpendicular_widths(box).min())
    if p is None:  # self mode: search all queries again (cheap next to brute force)
        wide = neighbor_counts(q, None, box, half, backend=backend).nearest[miss]
    else:
        wide = neighbor_counts(q[miss], p, box, half, backend=backend).nearest
    out[miss] = np.where(np.isfinite(wide), wide, np.nan)
    for k in miss[~np.isfinite(wide)]:  # nothing within half the cell: brute force
        others = np.delete(q, k, axis=0) if p is None else p
        out[k] = _nearest_fallback(q[k : k + 1], others, box)[0]
    return out


def _carbon_mass(symbol: str) -> float:
    from ase.data import atomic_masses, atomic_numbers

    return float(atomic_masses[atomic_numbers.get(symbol, 6)])


def _pick_cutoff(name, user, rdf_res, default_fallback) -> tuple[float, str, FirstMinimum]:
    fm = first_minimum(rdf_res)
    if user is not None:
        return float(user), "user", fm
    if fm.found:
        return float(fm.r_min), f"first minimum of g_{name}(r)", fm
    return float(default_fallback), (
        f"fallback {default_fallback} Å (g_{name}(r) has no first minimum below "
        f"{rdf_res.edges[-1]:.3g} Å)"
    ), fm


@renamed(ion="ions", carbon="framework")
def analyze(
    traj,
    *,
    ions: str = "Na",
    framework: str = "C",
    cutoff_ion_ion: float | None = None,
    cutoff_ion_c: float | None = None,
    density_radius: float = 6.0,
    cc_cutoff: float = 1.85,
    frames: slice | Sequence[int] | np.ndarray = slice(None),
    window: int | None = None,
    stride: int | None = None,
    r_max: float | None = None,
    bins: int = 200,
    rdf_frames: int = 50,
    backend: str | None = "auto",
    seed: int = 0,
    rings: bool = False,
    max_ring: int = 8,
) -> StructureResult:
    """Local structure of every ion, per frame and per window.

    Parameters
    ----------
    traj : hcanalysis.Trajectory
    ions, framework : str
        Species of the mobile ions and of the host carbon (the old keywords ``ion=`` and
        ``carbon=`` still work, with a DeprecationWarning).
    cutoff_ion_ion, cutoff_ion_c : float, optional
        Coordination cutoffs, Å; default: first minimum of g_NaNa(r) / g_NaC(r) computed on
        up to ``rdf_frames`` frames spread evenly over ``frames`` (fallbacks 4.0 / 3.0 Å
        when an RDF has no minimum, reported in ``cutoff_source``).
    density_radius : float
        Radius R of the sphere for the local carbon density and the sp² fraction, Å.
    cc_cutoff : float
        C–C bond cutoff for the carbon coordination, Å.
    frames : slice or array of int
        Frames analysed (in ascending order, each once).
    window, stride : int, optional
        Windows (in analysed frames) as in :func:`hcanalysis.windows.window_bounds`.
    r_max, bins : RDF range (Å; default ``min(10, half the shortest width)``) and bins.
    backend : {"auto", "cpu", "cuda"}
    seed : int
        Seed of the membership keys of :func:`cluster_lifetimes`.
    rings : bool
        Also count carbon rings up to ``max_ring`` atoms in every frame (:func:`ring_statistics`).
    """
    ion, carbon = ions, framework
    fidx = _frame_list(traj, frames)
    if len(fidx) == 0:
        raise ValueError("no frames selected")
    ii = traj.indices(ion)
    ic = traj.indices(carbon)
    boxes = traj.boxes(fidx)
    half = _max_r(boxes)
    if r_max is None:
        r_max = min(10.0, half)
    pick = fidx[np.unique(np.linspace(0, len(fidx) - 1, min(rdf_frames, len(fidx))).astype(int))]
    rdfs = {
        "ion-ion": rdf(traj, ion, ion, r_max=r_max, bins=bins, frames=pick, backend=backend),
        "ion-C": rdf(traj, ion, carbon, r_max=r_max, bins=bins, frames=pick, backend=backend),
    }
    cutoffs, source, minima = {}, {}, {}
    for key, user, fb in (("ion-ion", cutoff_ion_ion, 4.0), ("ion-C", cutoff_ion_c, 3.0)):
        name = f"{ion}{ion}" if key == "ion-ion" else f"{ion}{carbon}"
        cutoffs[key], source[key], minima[key] = _pick_cutoff(name, user, rdfs[key], fb)
    r_search = max(cutoffs["ion-C"], density_radius)
    for name, rc in (("ion-ion cutoff", cutoffs["ion-ion"]), ("ion-C search radius", r_search),
                     ("C-C cutoff", cc_cutoff)):
        if rc > half * (1 + 1e-12):
            raise ValueError(
                f"{name} {rc:g} Å exceeds half the shortest perpendicular cell width "
                f"({half:.4g} Å); lower it (e.g. --density-radius) or use a larger cell"
            )

    nf, ni = len(fidx), len(ii)
    n_ii = np.zeros((nf, ni), np.int64)
    n_ic = np.zeros((nf, ni), np.int64)
    dens = np.zeros((nf, ni))
    near_i = np.full((nf, ni), np.nan)
    near_c = np.full((nf, ni), np.nan)
    lab = np.zeros((nf, ni), np.int64)
    csize = np.zeros((nf, ni), np.int64)
    sp2n = np.full((nf, ni), np.nan)
    cfrac = np.zeros((nf, 4))
    cmean = np.zeros(nf)
    ring_counts = np.zeros((nf, max_ring + 1), np.int64) if rings else None
    mass_factor = _carbon_mass(carbon) / (4.0 / 3.0 * np.pi * density_radius**3)
    mass_factor *= AMU_PER_A3_TO_G_PER_CM3
    sel = np.concatenate([ii, ic])
    row = 0
    for chunk_frames, pos in traj.iter_chunks(select=sel, frames=fidx, chunk_frames=128):
        for k, f in enumerate(chunk_frames):
            box = traj.box(int(f))
            pi, pc = pos[k, :ni], pos[k, ni:]
            cs = carbon_hybridisation(pc, box, cutoff=cc_cutoff, backend=backend)
            cfrac[row] = [cs.fractions[n] for n in HYBRID_NAMES]
            cmean[row] = cs.mean_coordination
            if ring_counts is not None:
                ring_counts[row] = ring_statistics(pc, box, cutoff=cc_cutoff, max_size=max_ring,
                                                   backend=backend)
            nc = neighbor_counts(pi, pc, box, [cutoffs["ion-C"], density_radius],
                                 weights=(cs.coordination == 3).astype(np.float64),
                                 backend=backend)
            n_ic[row] = nc.counts[:, 0]
            dens[row] = nc.counts[:, 1] * mass_factor
            with np.errstate(invalid="ignore", divide="ignore"):
                sp2n[row] = np.where(nc.counts[:, 1] > 0, nc.weighted[:, 1] / nc.counts[:, 1],
                                     np.nan)
            near_c[row] = _nearest(pi, pc, box, nc.nearest, backend)
            ni_c = neighbor_counts(pi, None, box, cutoffs["ion-ion"], backend=backend)
            n_ii[row] = ni_c.counts[:, 0]
            near_i[row] = _nearest(pi, None, box, ni_c.nearest, backend)
            lab[row] = cluster_labels(pi, box, cutoffs["ion-ion"], backend)
            csize[row] = np.bincount(lab[row])[lab[row]]
            row += 1
    t = traj.time_ps[fidx]
    dt = float(np.median(np.diff(t))) if nf > 1 else float(traj.dt_ps or 1.0)
    bounds = window_bounds(nf, window, stride)
    res = StructureResult(
        ion=ion, carbon=carbon, frames=fidx, time_ps=t, ion_indices=traj.atom_indices[ii],
        windows=bounds, cutoffs=cutoffs, cutoff_source=source,
        density_radius=float(density_radius), cc_cutoff=float(cc_cutoff),
        n_ion_ion=n_ii, n_ion_c=n_ic, carbon_density=dens, nearest_ion=near_i,
        nearest_c=near_c, cluster_label=lab, cluster_size=csize, sp2_near=sp2n,
        carbon_fractions=cfrac, carbon_mean_cn=cmean,
        cluster_sizes=cluster_size_distribution(lab),
        cluster_lifetime=cluster_lifetimes(lab, bounds, dt, seed),
        ring_counts=ring_counts, rdfs=rdfs, minima=minima,
    )
    for name in StructureResult.PER_ION:
        arr = np.asarray(getattr(res, name), dtype=np.float64)
        res.windowed[name] = _window_means(arr, bounds)
    res.windowed["cluster_lifetime"] = res.cluster_lifetime
    return res


def _window_means(arr: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    out = np.full((len(bounds), arr.shape[1]), np.nan)
    for w, (a, b) in enumerate(bounds):
        block = arr[a:b]
        ok = np.isfinite(block)
        n = ok.sum(axis=0)
        s = np.where(ok, block, 0.0).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[w] = np.where(n > 0, s / np.maximum(n, 1), np.nan)
    return out
