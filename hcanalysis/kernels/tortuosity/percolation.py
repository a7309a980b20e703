"""Connected components of the void by BFS, then the loop-closing edges in a parallel pass:
the lattice of winding vectors, which says along which axes a component percolates."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from hcanalysis.kernels.lattice import fill_neighbours
from hcanalysis.kernels.tortuosity.geometry import STEPS


@njit(cache=True)
def _components_kernel(mask, nx, ny, nz, steps):
    """Breadth-first labelling of the periodic 26-connected void components; ``shift`` is the
    integer cell offset of the copy each point was first reached in."""
    size = nx * ny * nz
    label = np.full(size, -1, dtype=np.int64)
    shift = np.zeros((size, 3), dtype=np.int32)
    queue = np.empty(size, dtype=np.int64)
    ncomp = 0
    qbuf = np.empty(steps.shape[0], dtype=np.int64)
    tbuf = np.empty((steps.shape[0], 3), dtype=np.int64)
    doff = (steps[:, 0] * ny + steps[:, 1]) * nz + steps[:, 2]
    nyz = ny * nz
    for start in range(size):
        if mask[start] == 0 or label[start] >= 0:
            continue
        label[start] = ncomp
        head = 0
        tail = 1
        queue[0] = start
        while head < tail:
            v = queue[head]
            head += 1
            i = v // nyz
            j = (v // nz) % ny
            k = v % nz
            # interior points: flat offsets, no image shift (most of the grid)
            inner = 0 < i < nx - 1 and 0 < j < ny - 1 and 0 < k < nz - 1
            if not inner:
                fill_neighbours(v, nx, ny, nz, steps, qbuf, tbuf)
            for s in range(steps.shape[0]):
                if inner:
                    u = v + doff[s]
                else:
                    u = qbuf[s]
                if mask[u] == 0 or label[u] >= 0:
                    continue
                label[u] = ncomp
                if inner:
                    shift[u, 0] = shift[v, 0]
                    shift[u, 1] = shift[v, 1]
                    shift[u, 2] = shift[v, 2]
                else:
                    shift[u, 0] = shift[v, 0] + tbuf[s, 0]
                    shift[u, 1] = shift[v, 1] + tbuf[s, 1]
                    shift[u, 2] = shift[v, 2] + tbuf[s, 2]
                queue[tail] = u
                tail += 1
        ncomp += 1
    return label, shift, ncomp


@njit(parallel=True, cache=True)
def _seam_flags(mask, shift, nx, ny, nz, steps):
    """1 for every void point with a void neighbour (among ``steps``, one of each pair ±d)
    whose edge closes a loop around the cell: ``shift[v] + w - shift[u]`` is not zero (w: the
    image shift of the step), in parallel over planes."""
    flag = np.zeros(nx * ny * nz, dtype=np.uint8)
    for i in prange(nx):
        qbuf = np.empty(steps.shape[0], dtype=np.int64)
        tbuf = np.empty((steps.shape[0], 3), dtype=np.int64)
        for j in range(ny):
            for k in range(nz):
                v = (i * ny + j) * nz + k
                if mask[v] == 0:
                    continue
                fill_neighbours(v, nx, ny, nz, steps, qbuf, tbuf)
                for s in range(steps.shape[0]):
                    u = qbuf[s]
                    if mask[u] != 0 and (shift[v, 0] + tbuf[s, 0] != shift[u, 0]
                                         or shift[v, 1] + tbuf[s, 1] != shift[u, 1]
                                         or shift[v, 2] + tbuf[s, 2] != shift[u, 2]):
                        flag[v] = 1
                        break
    return flag


@njit(cache=True)
def _seam_vectors(points, mask, label, shift, nx, ny, nz, steps):
    """Rows (component, winding vector) of every loop-closing edge of the flagged points."""
    out = np.empty((points.shape[0] * steps.shape[0], 4), dtype=np.int64)
    qbuf = np.empty(steps.shape[0], dtype=np.int64)
    tbuf = np.empty((steps.shape[0], 3), dtype=np.int64)
    n = 0
    for q in range(points.shape[0]):
        v = points[q]
        fill_neighbours(v, nx, ny, nz, steps, qbuf, tbuf)
        for s in range(steps.shape[0]):
            u = qbuf[s]
            d0 = shift[v, 0] + tbuf[s, 0] - shift[u, 0]
            d1 = shift[v, 1] + tbuf[s, 1] - shift[u, 1]
            d2 = shift[v, 2] + tbuf[s, 2] - shift[u, 2]
            if mask[u] != 0 and (d0 != 0 or d1 != 0 or d2 != 0):
                out[n, 0] = label[v]
                out[n, 1] = d0
                out[n, 2] = d1
                out[n, 3] = d2
                n += 1
    return out[:n]


def _lattice_contains(vectors: np.ndarray, target: np.ndarray) -> bool:
    """Is the integer vector ``target`` in the lattice spanned by the integer ``vectors``?"""
    rows = [list(map(int, v)) for v in vectors if any(v)]
    piv = []
    for col in range(3):
        cand = [r for r in rows if r[col] != 0]
        rest = [r for r in rows if r[col] == 0]
        while len(cand) > 1:
            cand.sort(key=lambda r: abs(r[col]))
            p = cand[0]
            new = [p]
            for r in cand[1:]:
                f = r[col] // p[col]
                r = [r[x] - f * p[x] for x in range(3)]
                (new if r[col] != 0 else rest).append(r)
            cand = new
        if cand:
            piv.append((col, cand[0]))
        rows = [r for r in rest if any(r)]
    e = [int(x) for x in target]
    for col, p in piv:
        if e[col] % p[col] != 0:
            return False
        f = e[col] // p[col]
        e = [e[x] - f * p[x] for x in range(3)]
    return not any(e)


def wrapping_components(mask: np.ndarray):
    """26-connected periodic components of the void and, per component, whether it connects
    each point to its own image one cell vector along each axis.

    Returns
    -------
    label : (nx, ny, nz) int64
        Component of each void point (-1 for wall).
    percolates : (n_components, 3) bool
        ``percolates[c, ax]``: the unit vector along ``ax`` is in the lattice of winding
        vectors of component ``c`` (exact: a path from p to p + cell vector exists).
    """
    m = np.ascontiguousarray(mask, dtype=np.uint8)
    flat = m.ravel()
    label, shift, ncomp = _components_kernel(flat, *m.shape, STEPS)
    # winding vectors: every edge whose endpoints were reached in different cell copies
    # closes a loop around the cell; one of each pair of opposite steps suffices
    half = np.ascontiguousarray(STEPS[:13])
    seam = np.flatnonzero(_seam_flags(flat, shift, *m.shape, half))
    rows = np.unique(_seam_vectors(seam, flat, label, shift, *m.shape, half), axis=0)
    wcomp, wvec = rows[:, 0], rows[:, 1:]
    perc = np.zeros((ncomp, 3), dtype=bool)
    for c in np.unique(wcomp):
        vecs = wvec[wcomp == c]
        for ax in range(3):
            e = np.zeros(3, dtype=np.int64)
            e[ax] = 1
            perc[c, ax] = _lattice_contains(vecs, e)
    return label.reshape(m.shape), perc
