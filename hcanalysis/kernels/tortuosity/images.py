"""Distance from start points to their own periodic image along an axis (for the global
tortuosity): A* with the free-space 26-grid bound on the grid lifted along that axis, in
parallel."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from hcanalysis.kernels.tortuosity.dijkstra import (
    H_GENERAL,
    H_OCTILE,
    H_ORTHO,
    bucket_core,
    geodesic_dijkstra,
    ring_size,
)
from hcanalysis.kernels.tortuosity.fmm import fmm_core
from hcanalysis.kernels.tortuosity.geometry import (
    NOFIELD,
    STEPS,
    check_orthogonal,
    is_orthogonal,
    step_lengths,
    voxel_vectors,
    wrap_table,
)


def lifted_mask(mask: np.ndarray, axis: int, copies: int = 3) -> np.ndarray:
    """The mask repeated ``copies`` times along ``axis`` (that axis then non-periodic): the
    grid unrolled along the transport axis."""
    return np.ascontiguousarray(np.concatenate([mask] * copies, axis=axis), dtype=np.uint8)


@njit(parallel=True, cache=True)
def _image_distances_kernel(lmask, lshape, wrap0, wrap1, wrap2, per, steps, wts, starts,
                            targets, hkind, hcoef, cutoff, method, hsp, order, n_chunks, hfield,
                            width, n_buckets):
    n = starts.shape[0]
    out = np.full(n, np.inf)
    size = lmask.shape[0]
    for ch in prange(n_chunks):
        dist = np.empty(size)
        stamp = np.zeros(size, dtype=np.int32)
        acc = np.zeros(size, dtype=np.uint8)
        hk = np.empty(4096)
        hv = np.empty(4096, dtype=np.int64)
        pv = np.empty(4096, dtype=np.int64)
        pn = np.empty(4096, dtype=np.int64)
        heads = np.empty(n_buckets, dtype=np.int64)
        src = np.empty(1, dtype=np.int64)
        sd = np.zeros(1)
        nomark = np.zeros(1, dtype=np.uint8)
        sv = 0
        for q in range(ch, n, n_chunks):
            sv += 1
            src[0] = starts[q]
            if method == 0:
                d, pv, pn = bucket_core(lmask, lshape[0], lshape[1], lshape[2], wrap0, wrap1,
                                         wrap2, per, steps, wts, src, sd, targets[q], hkind,
                                         hcoef, hfield, cutoff, width, dist, stamp, sv, pv, pn,
                                         heads)
            else:
                d, hk, hv = fmm_core(lmask, lshape[0], lshape[1], lshape[2], per, hsp, order,
                                      src, sd, targets[q], cutoff, dist, stamp, acc, sv, hk, hv,
                                      nomark, 0)
            out[q] = d
    return out


#: A* bucket width as a fraction of the shortest step (finer buckets: fewer re-expansions).
ASTAR_BUCKET_FRACTION = 0.125


def heuristic_kind(box: np.ndarray, shape) -> int:
    """A* bound for this grid: the free-space 26-grid length for cubic voxels of an orthogonal
    cell, the Euclidean length with a per-axis minimum image for other orthogonal cells, the
    nearest of the 27 images for triclinic cells."""
    if not is_orthogonal(box):
        return H_GENERAL
    h = np.diag(np.asarray(box, dtype=np.float64)) / np.asarray(shape, dtype=np.float64)
    return H_OCTILE if np.allclose(h, h[0], rtol=1e-12, atol=0.0) else H_ORTHO


def image_distances(mask: np.ndarray, box: np.ndarray, axis: int, starts: np.ndarray,
                    method: str = "dijkstra", order: int = 2, max_ratio: float = np.inf,
                    n_threads: int | None = None, landmark: bool | None = None) -> np.ndarray:
    """Geodesic distance (Å) from each start point to its own periodic image one cell vector
    along ``axis``.

    The grid is unrolled to three copies along ``axis`` (the start in the middle copy; paths may
    run up to one cell behind the start or beyond the image); the other two axes stay periodic.
    Dijkstra uses A* and stops when the image is reached; the heuristic is the Euclidean
    distance to the nearest periodic image of the target and, with ``landmark`` (default: when
    a plane has at least 64 start points), the larger of that and the graph distance to the
    whole target plane (one multi-source Dijkstra per plane, shared by its start points: a
    landmark bound that contains the medium's tortuosity; it halves the search but costs about
    as much as 40 searches). Both are consistent, so the result is exact either way.
    ``max_ratio``: give up (``inf``) beyond ``max_ratio`` cell lengths.

    Parameters
    ----------
    starts : (n, 3) int
        Grid indices of the start points (void).

    Returns
    -------
    (n,) float64 Å, ``inf`` where the image is not reachable.
    """
    import numba

    mask = np.asarray(mask, dtype=bool)
    shape = np.asarray(mask.shape, dtype=np.int64)
    lmask = lifted_mask(mask, axis)
    lshape = shape.copy()
    lshape[axis] *= 3
    per = np.ones(3, dtype=np.int64)
    per[axis] = 0
    starts = np.atleast_2d(np.asarray(starts, dtype=np.int64))
    s_l = starts.copy()
    s_l[:, axis] += shape[axis]
    t_l = s_l.copy()
    t_l[:, axis] += shape[axis]
    sflat = np.ravel_multi_index(s_l.T, tuple(lshape)).astype(np.int64)
    tflat = np.ravel_multi_index(t_l.T, tuple(lshape)).astype(np.int64)

    length = float(np.linalg.norm(np.asarray(box, dtype=np.float64)[axis]))
    meth = 0 if method == "dijkstra" else 1
    hsp = np.ones(3)
    hcoef = voxel_vectors(box, mask.shape)
    hkind = heuristic_kind(box, mask.shape)
    if meth == 1:
        check_orthogonal(box)
        hsp = np.diag(np.asarray(box, dtype=np.float64)) / shape
    cutoff = max_ratio * length if np.isfinite(max_ratio) else np.inf
    nthr = n_threads or numba.get_num_threads()
    n_chunks = max(1, min(nthr, len(sflat)))
    wts = step_lengths(box, mask.shape)
    width = float(wts.min()) * ASTAR_BUCKET_FRACTION
    nb = ring_size(wts, width, astar=True)
    wraps = [wrap_table(int(lshape[a]), bool(per[a])) for a in range(3)]

    def run(sel, hfield):
        return _image_distances_kernel(lmask.ravel(), lshape, *wraps, per, STEPS, wts,
                                       sflat[sel], tflat[sel], hkind, hcoef, cutoff, meth, hsp,
                                       int(order), max(1, min(n_chunks, len(sflat[sel]))),
                                       hfield, width, nb)

    if landmark is None:
        landmark = bool(np.max(np.unique(t_l[:, axis], return_counts=True)[1]) >= 64)
    if not (meth == 0 and landmark):
        return run(slice(None), NOFIELD)
    out = np.full(len(sflat), np.inf)
    lbox = np.asarray(box, dtype=np.float64).copy()
    lbox[axis] *= 3
    lm3 = lmask.reshape(tuple(lshape))
    for plane_idx in np.unique(t_l[:, axis]):
        # graph distance from every point to the target plane (copy 3): a lower bound of the
        # distance to any target on it (landmark A*), shared by the start points of one plane
        sel = np.flatnonzero(t_l[:, axis] == plane_idx)
        plane = np.zeros(tuple(lshape), dtype=bool)
        sl = [slice(None)] * 3
        sl[axis] = int(plane_idx)
        plane[tuple(sl)] = lm3[tuple(sl)] != 0
        hfield = geodesic_dijkstra(lm3, lbox, np.flatnonzero(plane),
                                   periodic=per.astype(bool)).ravel()
        out[sel] = run(sel, hfield)
    return out
