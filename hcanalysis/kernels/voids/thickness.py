"""Local thickness: for each void point the diameter-defining radius of the largest
inscribed ball that covers it, painted from the distance ridge, in parallel over blocks."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def ridge_centres_numba(dflat, mask, h, nx, ny, nz, offs, tol):
    """True for void points whose inscribed ball is *not* inside a 26-neighbour's ball up to
    ``tol`` Å (``|c - n| + d(c) <= d(n) + tol`` for no neighbour n): the centres near the
    medial axis (distance ridge), the only ones the local thickness needs to paint."""
    n = dflat.size
    keep = np.zeros(n, dtype=np.bool_)
    m = offs.shape[0]
    step = np.empty(m)
    for u in range(m):
        x = offs[u, 0] / nx * h[0, 0] + offs[u, 1] / ny * h[1, 0] + offs[u, 2] / nz * h[2, 0]
        y = offs[u, 0] / nx * h[0, 1] + offs[u, 1] / ny * h[1, 1] + offs[u, 2] / nz * h[2, 1]
        z = offs[u, 0] / nx * h[0, 2] + offs[u, 1] / ny * h[1, 2] + offs[u, 2] / nz * h[2, 2]
        step[u] = math.sqrt(x * x + y * y + z * z)
    for ij in prange(nx * ny):
        i = ij // ny
        j = ij - i * ny
        for k in range(nz):
            p = ij * nz + k
            if not mask[p]:
                continue
            dp = dflat[p]
            ok = True
            for u in range(m):
                gi = (i + offs[u, 0]) % nx
                gj = (j + offs[u, 1]) % ny
                gk = (k + offs[u, 2]) % nz
                q = (gi * ny + gj) * nz + gk
                if step[u] + dp <= dflat[q] + tol:
                    ok = False
                    break
            keep[p] = ok
    return keep


@njit(cache=True)
def _axis_segments(c, reach, n, seg_b, seg_base):
    """Blocks (of ``LT_BLOCK`` points) along one axis met by the unwrapped range
    ``[c - reach, c + reach]``: the wrapped block index and the unwrapped index of the block's
    first point minus ``c``. Returns their count."""
    ns = 0
    g = c - reach
    while g <= c + reach:
        w = g % n
        s = g - w
        b = w // LT_BLOCK
        seg_b[ns] = b
        seg_base[ns] = s + b * LT_BLOCK - c
        ns += 1
        g = s + min((b + 1) * LT_BLOCK, n)
    return ns


@njit(parallel=True, cache=True)
def local_thickness_blocks_numba(dflat, mask, order, h, nx, ny, nz):
    """Local thickness, exact: for each void point the largest ``d(c)`` over the centres
    ``order`` (void points by descending ``d``) whose ball ``|x - c| <= d(c)`` covers it
    (0 where none does).

    Balls are painted in descending ``d``, so the first ball to reach a point gives its value.
    The still unpainted void points are kept per block of 4 x 4 x 4 grid points in a compact
    list (a painted point is swapped out), so a ball only looks at blocks that intersect it
    and, in those, only at points not yet painted: late balls, mostly inside regions painted
    by larger ones, cost a few block checks. Squared distances come from the integer grid
    offset and the metric of the grid steps. Parallel over fixed slabs of block rows along a
    (each thread paints only its own points, so no races and no dependence on the thread
    count).
    """
    B = LT_BLOCK
    st = np.empty((3, 3))
    for a in range(3):
        na = nx if a == 0 else (ny if a == 1 else nz)
        for c in range(3):
            st[a, c] = h[a, c] / na
    g00 = st[0, 0] ** 2 + st[0, 1] ** 2 + st[0, 2] ** 2
    g11 = st[1, 0] ** 2 + st[1, 1] ** 2 + st[1, 2] ** 2
    g22 = st[2, 0] ** 2 + st[2, 1] ** 2 + st[2, 2] ** 2
    g01 = 2.0 * (st[0, 0] * st[1, 0] + st[0, 1] * st[1, 1] + st[0, 2] * st[1, 2])
    g02 = 2.0 * (st[0, 0] * st[2, 0] + st[0, 1] * st[2, 1] + st[0, 2] * st[2, 2])
    g12 = 2.0 * (st[1, 0] * st[2, 0] + st[1, 1] * st[2, 1] + st[1, 2] * st[2, 2])
    hinv = np.linalg.inv(h)
    e0 = math.sqrt(hinv[0, 0] ** 2 + hinv[1, 0] ** 2 + hinv[2, 0] ** 2) * nx
    e1 = math.sqrt(hinv[0, 1] ** 2 + hinv[1, 1] ** 2 + hinv[2, 1] ** 2) * ny
    e2 = math.sqrt(hinv[0, 2] ** 2 + hinv[1, 2] ** 2 + hinv[2, 2] ** 2) * nz
    # circumradius (Å) of a block about its centre, for skipping blocks outside the ball
    hb = 0.5 * (B - 1)
    brad = 0.0
    for s0 in (-hb, hb):
        for s1 in (-hb, hb):
            for s2 in (-hb, hb):
                q = (g00 * s0 * s0 + g11 * s1 * s1 + g22 * s2 * s2 + g01 * s0 * s1
                     + g02 * s0 * s2 + g12 * s1 * s2)
                brad = max(brad, math.sqrt(max(q, 0.0)))
    mx = (nx + B - 1) // B
    my = (ny + B - 1) // B
    mz = (nz + B - 1) // B
    nblk = mx * my * mz
    start = np.zeros(nblk + 1, dtype=np.int64)
    for i in range(nx):
        for j in range(ny):
            for k in range(nz):
                if mask[(i * ny + j) * nz + k]:
                    start[((i // B) * my + j // B) * mz + k // B + 1] += 1
    for b in range(nblk):
        start[b + 1] += start[b]
    left = np.zeros(nblk, dtype=np.int64)
    pts = np.empty(start[nblk], dtype=np.int16)  # local code (i % B, j % B, k % B)
    for i in range(nx):
        for j in range(ny):
            for k in range(nz):
                if mask[(i * ny + j) * nz + k]:
                    b = ((i // B) * my + j // B) * mz + k // B
                    pts[start[b] + left[b]] = ((i % B) * B + j % B) * B + k % B
                    left[b] += 1
    lt = np.zeros(dflat.size, dtype=np.float64)
    n_slab = min(mx, LT_SLABS)
    for sl in prange(n_slab):
        blo = (sl * mx) // n_slab
        bhi = ((sl + 1) * mx) // n_slab
        sb0 = np.empty(mx + 2, dtype=np.int64)
        sp0 = np.empty(mx + 2, dtype=np.int64)
        sb1 = np.empty(my + 2, dtype=np.int64)
        sp1 = np.empty(my + 2, dtype=np.int64)
        sb2 = np.empty(mz + 2, dtype=np.int64)
        sp2 = np.empty(mz + 2, dtype=np.int64)
        for t in range(order.size):
            c = order[t]
            r = dflat[c]
            if r < 0.0:
                break
            ck = c % nz
            cj = (c // nz) % ny
            ci = c // (ny * nz)
            ri = int(math.floor(r * e0))
            if ci - ri >= 0 and ci + ri < nx and (ci + ri < blo * B or ci - ri >= bhi * B):
                continue  # the ball does not reach this slab
            rj = int(math.floor(r * e1))
            rk = int(math.floor(r * e2))
            n0 = _axis_segments(ci, ri, nx, sb0, sp0)
            n1 = _axis_segments(cj, rj, ny, sb1, sp1)
            n2 = _axis_segments(ck, rk, nz, sb2, sp2)
            r2 = r * r
            rc2 = (r + brad) * (r + brad)
            for u0 in range(n0):
                bi = sb0[u0]
                if bi < blo or bi >= bhi:
                    continue
                a0b = sp0[u0]
                x0 = a0b + hb
                for u1 in range(n1):
                    bj = sb1[u1]
                    a1b = sp1[u1]
                    x1 = a1b + hb
                    brow = (bi * my + bj) * mz
                    for u2 in range(n2):
                        b = brow + sb2[u2]
                        m = left[b]
                        if m == 0:
                            continue
                        a2b = sp2[u2]
                        x2 = a2b + hb
                        if (g00 * x0 * x0 + g11 * x1 * x1 + g22 * x2 * x2 + g01 * x0 * x1
                                + g02 * x0 * x2 + g12 * x1 * x2) > rc2:
                            continue  # block entirely outside the ball
                        base = start[b]
                        u = 0
                        while u < m:
                            code = pts[base + u]
                            li = code // (B * B)
                            lj = (code // B) % B
                            lk = code % B
                            a0 = a0b + li
                            a1 = a1b + lj
                            a2 = a2b + lk
                            if (g00 * a0 * a0 + g11 * a1 * a1 + g22 * a2 * a2 + g01 * a0 * a1
                                    + g02 * a0 * a2 + g12 * a1 * a2) <= r2:
                                p = ((bi * B + li) * ny + bj * B + lj) * nz + sb2[u2] * B + lk
                                lt[p] = r
                                m -= 1
                                pts[base + u] = pts[base + m]
                                pts[base + m] = code
                            else:
                                u += 1
                        left[b] = m
    return lt


#: Slabs of the parallel local-thickness painting (fixed: results do not depend on threads).
LT_SLABS = 16


#: Edge (grid points) of the blocks of :func:`local_thickness_blocks_numba`.
LT_BLOCK = 4
