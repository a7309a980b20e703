"""Numba CUDA: batched Bellman-Ford relaxation sweeps until no change (runs under
``NUMBA_ENABLE_CUDASIM=1`` on tiny grids), and the batching of the global and local
tortuosity queries on top of it."""

from __future__ import annotations

import numpy as np
from numba import cuda

from hcanalysis.kernels.backend import default_memory_budget
from hcanalysis.kernels.tortuosity.geometry import (
    STEPS,
    periodic_flags,
    step_lengths,
    voxel_vectors,
)
from hcanalysis.kernels.tortuosity.images import lifted_mask
from hcanalysis.kernels.tortuosity.local import local_extent


@cuda.jit
def _relax_kernel(mask, mask_of, dist, nx, ny, nz, per, steps, wts, changed):
    t = cuda.grid(1)
    size = nx * ny * nz
    nb = dist.shape[0] // size
    if t >= nb * size:
        return
    b = t // size
    v = t - b * size
    mo = mask_of[b] * size
    if mask[mo + v] == 0:
        return
    i = v // (ny * nz)
    j = (v // nz) % ny
    k = v % nz
    base = b * size
    best = dist[t]
    for s in range(26):
        i2 = i - steps[s, 0]
        j2 = j - steps[s, 1]
        k2 = k - steps[s, 2]
        if i2 < 0 or i2 >= nx:
            if per[0] == 0:
                continue
            i2 = (i2 + nx) % nx
        if j2 < 0 or j2 >= ny:
            if per[1] == 0:
                continue
            j2 = (j2 + ny) % ny
        if k2 < 0 or k2 >= nz:
            if per[2] == 0:
                continue
            k2 = (k2 + nz) % nz
        u = (i2 * ny + j2) * nz + k2
        if mask[mo + u] == 0:
            continue
        cand = dist[base + u] + wts[s]
        if cand < best:
            best = cand
    if best < dist[t]:
        dist[t] = best
        changed[0] = 1


def geodesic_relax_cuda(masks: np.ndarray, box: np.ndarray, seeds, mask_of=None,
                        periodic=True, max_sweeps: int | None = None) -> np.ndarray:
    """Batched geodesic distance fields on the GPU by Bellman-Ford relaxation sweeps.

    Every thread owns one (batch, grid point) and pulls ``min(dist[u] + w)`` from its 26
    neighbours; sweeps repeat until nothing changes. The fixed point is the same as Dijkstra's
    (float addition is monotone, so both give the minimum over paths of the same sums).

    Parameters
    ----------
    masks : (n_masks, nx, ny, nz) or (nx, ny, nz) bool
    seeds : sequence of int arrays
        Flat seed indices per batch entry (one batch entry per element).
    mask_of : (n_batch,) int, optional
        Which mask each batch entry uses (default 0 for all).

    Returns
    -------
    (n_batch, nx, ny, nz) float64, ``inf`` where unreached.
    """
    masks = np.asarray(masks, dtype=bool)
    if masks.ndim == 3:
        masks = masks[None]
    shape = masks.shape[1:]
    size = int(np.prod(shape))
    seeds = [np.atleast_1d(np.asarray(s, dtype=np.int64)) for s in seeds]
    nb = len(seeds)
    mask_of = np.zeros(nb, dtype=np.int64) if mask_of is None else np.asarray(mask_of, np.int64)
    dist = np.full(nb * size, np.inf)
    for b, s in enumerate(seeds):
        ok = s[masks[mask_of[b]].ravel()[s]]
        dist[b * size + ok] = 0.0
    d_mask = cuda.to_device(np.ascontiguousarray(masks.reshape(len(masks), -1)).ravel()
                            .astype(np.uint8))
    d_of = cuda.to_device(mask_of)
    d_dist = cuda.to_device(dist)
    d_per = cuda.to_device(periodic_flags(periodic))
    d_steps = cuda.to_device(STEPS)
    d_w = cuda.to_device(step_lengths(box, shape))
    threads = 128
    blocks = (nb * size + threads - 1) // threads
    limit = max_sweeps or (4 * size + 10)
    for _ in range(limit):
        changed = cuda.to_device(np.zeros(1, dtype=np.int32))
        _relax_kernel[blocks, threads](d_mask, d_of, d_dist, shape[0], shape[1], shape[2], d_per,
                                       d_steps, d_w, changed)
        if changed.copy_to_host()[0] == 0:
            break
    return d_dist.copy_to_host().reshape((nb, *shape))


def image_distances_cuda(mask: np.ndarray, box: np.ndarray, axis: int, starts: np.ndarray,
                         batch: int | None = None) -> np.ndarray:
    """Distance from each start point to its own image one cell along ``axis`` (Å), the CUDA
    counterpart of :func:`~hcanalysis.kernels.tortuosity.images.image_distances` (Dijkstra
    metric): relaxation on the grid lifted three cells along ``axis``, ``batch`` starts at a
    time (default: as many as fit in the GPU memory budget, at most 64).

    Parameters
    ----------
    mask : (nx, ny, nz) bool
        Void points.
    box : (3, 3) float
        Cell matrix (rows are cell vectors), Å.
    axis : int
        0, 1 or 2.
    starts : (n, 3) int
        Grid indices of the start points.
    batch : int, optional
        Starts per relaxation batch.

    Returns
    -------
    (n,) float64
        Path length to the image (``inf`` when it cannot be reached), Å.
    """
    shape = np.asarray(mask.shape)
    if batch is None:  # distances of one batch entry: 3 copies x 8 B, plus the mask
        batch = int(max(1, min(64, default_memory_budget("cuda") // (27 * mask.size))))
    lm = lifted_mask(mask, axis).astype(bool)
    per = [True, True, True]
    per[axis] = False
    lbox = np.asarray(box, dtype=float).copy()
    lbox[axis] *= 3
    s = np.asarray(starts, dtype=np.int64).copy()
    s[:, axis] += shape[axis]
    t = s.copy()
    t[:, axis] += shape[axis]
    sf = np.ravel_multi_index(s.T, lm.shape)
    tf = np.ravel_multi_index(t.T, lm.shape)
    out = np.empty(len(sf))
    for lo in range(0, len(sf), batch):
        d = geodesic_relax_cuda(lm, lbox, [[x] for x in sf[lo:lo + batch]], periodic=per)
        out[lo:lo + batch] = d.reshape(d.shape[0], -1)[np.arange(d.shape[0]),
                                                        tf[lo:lo + batch]]
    return out


def local_shell_distances_cuda(mask: np.ndarray, box: np.ndarray, centres: np.ndarray,
                               offs: np.ndarray, cutoff: float,
                               batch_bytes: int = 1 << 28) -> np.ndarray:
    """Geodesic distance from each centre to the shell points ``centre + offs`` (Å), the CUDA
    counterpart of :func:`~hcanalysis.kernels.tortuosity.local.local_shell_distances`
    (Dijkstra metric): each centre's local box (non-periodic) is cut out of the grid and the
    boxes are relaxed in batches of about ``batch_bytes``.

    Parameters
    ----------
    mask : (nx, ny, nz) bool
        Void points.
    box : (3, 3) float
        Cell matrix (rows are cell vectors), Å.
    centres : (n, 3) int
        Grid indices of the centres.
    offs : (m, 3) int
        Grid offsets of the shell points.
    cutoff : float
        Distances above it are ``inf``, Å.
    batch_bytes : int
        Device memory per batch, bytes.

    Returns
    -------
    (n, m) float64
        Distances, ``inf`` beyond ``cutoff`` or where not reached.
    """
    shape = np.asarray(mask.shape)
    m = np.maximum(local_extent(box, shape, cutoff), np.abs(offs).max(axis=0) + 1)
    rngs = [np.arange(-m[a], m[a] + 1) for a in range(3)]
    lshape = tuple(2 * m + 1)
    size = int(np.prod(lshape))
    per_batch = max(1, batch_bytes // (9 * size))
    centre = np.ravel_multi_index(tuple(m), lshape)
    sidx = np.ravel_multi_index(tuple((offs + m).T), lshape)
    out = np.full((len(centres), len(offs)), np.inf)
    for lo in range(0, len(centres), per_batch):
        cs = centres[lo:lo + per_batch]
        masks = np.stack([mask[np.ix_((c[0] + rngs[0]) % shape[0], (c[1] + rngs[1]) % shape[1],
                                      (c[2] + rngs[2]) % shape[2])] for c in cs])
        lbox = voxel_vectors(box, mask.shape) * np.asarray(lshape, dtype=float)[:, None]
        d = geodesic_relax_cuda(masks, lbox, [[centre]] * len(cs),
                                mask_of=np.arange(len(cs)), periodic=False)
        d = d.reshape(len(cs), -1)[:, sidx]
        out[lo:lo + per_batch] = np.where(d <= cutoff, d, np.inf)
    return out
