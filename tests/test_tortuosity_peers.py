"""Tortuosity against peers: porespy's diffusive ``tortuosity_fd`` and scikit-fmm travel
times, on the same images."""

from __future__ import annotations

import numpy as np
import pytest
from tortuosity_geometry import sphere_packing

from hcanalysis import tortuosity as T
from hcanalysis.kernels import tortuosity as K


def test_geodesic_vs_skfmm_around_cylinder():
    """Non-periodic open box with a solid cylinder: our fast marching and scikit-fmm's
    (both second order) agree on the travel time around the obstacle."""
    skfmm = pytest.importorskip("skfmm")
    h, size, rc = 0.1, 13.0, 3.0
    n = int(round(size / h))
    x = (np.arange(n) - n / 2) * h
    xx, yy = np.meshgrid(x, x, indexing="ij")
    m2 = xx ** 2 + yy ** 2 > rc ** 2
    src = (n // 2 - 50, n // 2)
    r0 = 0.25
    phi = np.hypot(xx - x[src[0]], yy - x[src[1]]) - r0
    tt = np.asarray(skfmm.travel_time(np.ma.MaskedArray(phi, ~m2), np.ones_like(phi), dx=h,
                                      order=2).filled(np.inf)) + r0
    m = np.repeat(m2[:, :, None], 2, axis=2)
    box = np.diag([n * h, n * h, 2 * h])
    flat = np.ravel_multi_index((*src, 0), m.shape)
    si, sd = K.point_source_init(m, box, flat, periodic=False)
    ours = K.geodesic_fmm(m, box, si, sd, periodic=(False, False, True))[:, :, 0]
    far = np.isfinite(tt) & np.isfinite(ours) & (np.hypot(xx - x[src[0]], yy) > 1.0)
    rel = np.abs(ours[far] - tt[far]) / tt[far]
    assert np.median(rel) < 0.01 and np.percentile(rel, 99) < 0.03
    dj = K.geodesic_dijkstra(m, box, [flat], periodic=False)[:, :, 0]
    assert np.median(np.abs(dj[far] - tt[far]) / tt[far]) > np.median(rel)


def test_periodic_skfmm_equals_our_fmm_field():
    skfmm = pytest.importorskip("skfmm")
    m = sphere_packing(24, 10, 3.0, seed=2)
    box = np.eye(3) * 24.0
    plane = np.zeros(m.shape, dtype=bool)
    plane[0] = m[0]
    ours = K.geodesic_fmm(m, box, np.flatnonzero(plane), order=2)
    # scikit-fmm needs a zero contour: phi changes sign half a voxel off the plane
    phi = np.where(plane, -0.5, 0.5)
    tt = skfmm.travel_time(np.ma.MaskedArray(phi, ~m), np.ones(m.shape), periodic=True)
    tt = np.asarray(tt.filled(np.inf)) + 0.5
    ok = np.isfinite(ours) & np.isfinite(tt) & (ours > 3)
    assert np.median(np.abs(ours[ok] - tt[ok]) / tt[ok]) < 0.03


def test_sphere_packings_geodesic_falls_with_porosity_and_porespy_fd():
    ps = pytest.importorskip("porespy")
    n = 40
    geo, fd, por = [], [], []
    for count in (60, 35, 15):
        m = sphere_packing(n, count, 5.0, seed=1)
        g = T.global_tortuosity(m, axes=(0,), max_starts=16, seed=0)
        por.append(m.mean())
        geo.append(g.tau[0])
        # porespy: non-periodic, fixed-concentration faces along x, diffusive tau = eps D0/Deff
        fd.append(ps.simulations.tortuosity_fd(m, axis=0).tortuosity)
    assert por[0] < por[1] < por[2]
    assert geo[0] > geo[1] > geo[2] >= 1.0
    assert fd[0] > fd[2]
    # diffusive tortuosity factors exceed geodesic ratios (they grow like tau_geo^2)
    assert all(f > g for f, g in zip(fd, geo, strict=True))
    # our blind-ant random walk measures the same diffusive factor as porespy's solver
    m = sphere_packing(n, 60, 5.0, seed=1)
    walk = T.diffusive_tortuosity(m, axes=(0,), n_walkers=2000, n_steps=40000)
    assert abs(walk.tau[0] - fd[0]) < 3 * walk.stderr[0] + 0.02
