"""Geodesic tortuosity: kernels against references, and known geometries."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import triclinic_box
from tortuosity_geometry import maze, straight_channel, zigzag_band, zigzag_length

from hcanalysis import tortuosity as T
from hcanalysis.kernels import tortuosity as K

TRI = np.array([[12.0, 0.0, 0.0], [3.0, 12.0, 0.0], [-2.0, 1.5, 12.0]])


# ---------------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("periodic", [True, (True, False, True)])
def test_dijkstra_equals_scipy_and_heapq_exactly(rng, periodic):
    box = triclinic_box(9.0, 10.0, 11.0)
    for _ in range(3):
        mask = rng.random((7, 8, 9)) < 0.55
        seeds = rng.choice(np.flatnonzero(mask), 3, replace=False)
        d = K.geodesic_dijkstra(mask, box, seeds, periodic=periodic)
        np.testing.assert_array_equal(d, K.reference_distances(mask, box, seeds, periodic))
        np.testing.assert_array_equal(d, K.reference_dijkstra_python(mask, box, seeds, periodic))
        assert np.isfinite(d).sum() > len(seeds)


def test_dijkstra_cutoff_and_seed_distances(rng):
    mask = rng.random((8, 8, 8)) < 0.7
    box = np.eye(3) * 8.0
    s = np.flatnonzero(mask)[:2]
    full = K.geodesic_dijkstra(mask, box, s, seed_dist=[0.0, 1.5])
    cut = K.geodesic_dijkstra(mask, box, s, seed_dist=[0.0, 1.5], cutoff=3.0)
    np.testing.assert_array_equal(cut[cut <= 3.0], full[full <= 3.0])
    assert np.all(np.isinf(cut[full > 3.0]))


def test_image_distances_equal_reference_triclinic(rng):
    mask = rng.random((6, 7, 8)) < 0.65
    for ax in range(3):
        st = np.argwhere(mask)[rng.choice(int(mask.sum()), 4, replace=False)]
        got = K.image_distances(mask, TRI, ax, st)
        want = [K.reference_image_distance(mask, TRI, ax, s) for s in st]
        np.testing.assert_array_equal(got, want)


def test_maze_matches_brute_force():
    m = maze(cells=3, pitch=2, seed=3)
    for seed in range(4):
        extra = maze(cells=3, pitch=2, seed=10 + seed)
        m |= extra
    box = np.eye(3) * 6.0
    for ax in range(3):
        st = np.argwhere(m)[:5]
        got = K.image_distances(m, box, ax, st)
        lm = K.lifted_mask(m, ax).astype(bool)
        per = [True] * 3
        per[ax] = False
        lbox = box.copy()
        lbox[ax] *= 3
        for s, g in zip(st, got, strict=True):
            a = s.copy()
            a[ax] += 6
            b = a.copy()
            b[ax] += 6
            d = K.reference_dijkstra_python(lm, lbox, [np.ravel_multi_index(tuple(a), lm.shape)],
                                            per)
            assert g == d[tuple(b)]


def test_components_winding_lattice():
    n = 12
    diag = np.zeros((n, n, n), dtype=bool)
    for i in range(n):
        diag[i, i, 5] = True  # winds along a + b only
    lab, perc = K.wrapping_components(diag)
    assert lab.max() == 0 and perc.tolist() == [[False, False, False]]
    both = diag.copy()
    both[3, :, 5] = True  # plus a channel along b: a = (a + b) - b
    _, perc = K.wrapping_components(both)
    assert perc.tolist() == [[True, True, False]]
    g = T.global_tortuosity(both)
    assert np.isfinite(g.tau[0]) and np.isfinite(g.tau[1]) and np.isinf(g.tau[2])
    # a path to p + a must run along the diagonal (sqrt2 per step) and back along b
    assert g.tau[0] >= np.sqrt(2) - 1e-12
    assert np.all(np.isinf(T.global_tortuosity(diag).tau))


# ---------------------------------------------------------------------------------- global
def test_straight_channel():
    g = T.global_tortuosity(straight_channel(), spacing=0.5)
    assert g.tau[0] == 1.0 and g.median[0] == 1.0
    assert np.isinf(g.tau[1]) and np.isinf(g.tau[2])
    assert g.percolates.tolist() == [True, False, False]
    assert g.network_fraction[0] == 1.0 and g.connected_fraction == 1.0


def test_channel_through_periodic_boundary_and_dead_end_fraction():
    m = np.zeros((20, 20, 20), dtype=bool)
    m[:, [19, 0, 1], :][:, :, [19, 0, 1]] = True
    m[:, np.r_[19, 0, 1][:, None], np.r_[19, 0, 1][None, :]] = True  # straddles y/z faces
    m[8:11, 8:11, 8:11] = True  # a closed pocket (27 points)
    g = T.global_tortuosity(m, spacing=0.4, exact=True)
    assert g.tau[0] == pytest.approx(1.0, abs=1e-12) and np.all(np.isinf(g.tau[1:]))
    n_void = m.sum()
    assert g.connected_fraction == pytest.approx((n_void - 27) / n_void)
    assert g.start_fraction[0] == 1.0


@pytest.mark.parametrize("h", [0.5, 0.25])
def test_zigzag_dijkstra_converges_to_lattice_metric(h):
    L, amp, w = 12.0, 2.5, 1.5
    nx, ny = int(round(L / h)), int(round(8 / h))
    m = zigzag_band(nx, ny, 2, amp, w, h)
    box = np.diag([nx * h, ny * h, 2 * h])
    g = T.global_tortuosity(m, box=box, axes=(0,), exact=True)
    # the shortest periodic path: two legs (6, rise) corner to corner; the 8-connected lattice
    # length of a leg is dx - dy + sqrt2 dy; staircase corners add O(h)
    rise = zigzag_length(amp, w, L) / 2
    rise = np.sqrt(rise ** 2 - (L / 2) ** 2)
    lattice = 2 * (L / 2 - rise + np.sqrt(2) * rise) / L
    err = g.samples[0].min() / lattice - 1
    assert 0 <= err < {0.5: 0.06, 0.25: 0.03}[h]
    assert g.tau[0] >= g.samples[0].min()
    assert np.isnan(g.tau[1])  # not asked for


def test_zigzag_fmm_error_shrinks_with_spacing():
    L, amp, w = 12.0, 2.5, 1.5
    exact = zigzag_length(amp, w, L) / L
    errs = []
    for h in (0.5, 0.25, 0.125):
        nx, ny = int(round(L / h)), int(round(8 / h))
        m = zigzag_band(nx, ny, 2, amp, w, h)
        box = np.diag([nx * h, ny * h, 2 * h])
        g = T.global_tortuosity(m, box=box, axes=(0,), exact=True, method="fmm")
        errs.append(g.samples[0].min() / exact - 1)
    assert errs[0] > errs[1] > errs[2] > -0.005
    assert errs[2] < 0.03


def test_triclinic_same_geometry_same_tau():
    """The zig-zag band in the a-b plane of a cell whose c is tilted: in-plane paths use the
    same steps, so tau along a is identical; along a straight channel in a tilted cell tau=1."""
    h = 0.5
    nx, ny = 24, 16
    m = zigzag_band(nx, ny, 4, 2.5, 1.5, h)
    ortho = np.diag([nx * h, ny * h, 4 * h])
    tilted = ortho.copy()
    tilted[2, :2] = [0.7, -0.4]
    a = T.global_tortuosity(m, box=ortho, axes=(0,), exact=True)
    b = T.global_tortuosity(m, box=tilted, axes=(0,), exact=True)
    np.testing.assert_allclose(b.samples[0], a.samples[0], rtol=1e-12)
    ch = T.global_tortuosity(straight_channel(), box=TRI)
    assert ch.tau[0] == pytest.approx(1.0, abs=1e-12) and np.all(np.isinf(ch.tau[1:]))


def test_open_box_tau_one_every_axis():
    for box in (np.eye(3) * 8.0, TRI):
        g = T.global_tortuosity(np.ones((10, 10, 10), dtype=bool), box=box)
        np.testing.assert_allclose(g.tau, 1.0, atol=1e-12)
        assert g.porosity == 1.0


def test_sampling_is_seeded_and_exact_mode_uses_all(rng):
    m = rng.random((12, 12, 12)) < 0.75
    a = T.global_tortuosity(m, max_starts=5, seed=1)
    b = T.global_tortuosity(m, max_starts=5, seed=1)
    np.testing.assert_array_equal(a.samples[0], b.samples[0])
    assert all(len(s) == 5 for s in a.samples)
    e = T.global_tortuosity(m, axes=(2,), exact=True)
    net = T.percolation(m).network[2][:, :, 0]
    assert len(e.samples[2]) == net.sum()
    assert np.isnan(e.tau[0])


def test_voidmap_like_input_and_errors():
    class VM:
        mask = straight_channel()
        box = np.eye(3) * 12.0

    assert T.global_tortuosity(VM()).tau[0] == 1.0
    with pytest.raises(ValueError, match="method"):
        T.global_tortuosity(VM(), method="bfs")
    with pytest.raises(ValueError, match="orthogonal"):
        T.global_tortuosity(straight_channel(), box=TRI, method="fmm")
    with pytest.raises(ValueError, match="boolean"):
        T.global_tortuosity(np.zeros((4, 4, 4)))


# ---------------------------------------------------------------------------------- local
def test_open_box_local_dijkstra_bias_and_fmm():
    n, h = 40, 0.25
    o = np.ones((n, n, n), dtype=bool)
    pts = np.array([[1.0, 2.0, 3.0], [7.3, 4.1, 9.9]])
    d = T.local(o, pts, radius=3.0, spacing=h)
    f = T.local(o, pts, radius=3.0, spacing=h, method="fmm")
    np.testing.assert_allclose(d.reachable, 1.0)
    np.testing.assert_allclose(f.reachable, 1.0)
    # 26-connected lattice metric: +8.8 % averaged over directions, at most +12.8 %
    assert np.all((d.tau > 1.06) & (d.tau < 1.10))
    assert np.all(np.abs(f.tau - 1.0) < 0.015)
    assert np.all(~d.snapped)


def test_lattice_bias_bounds():
    """The quoted 26-connected bias: the largest ratio over directions is 1.1281."""
    n = 41
    o = np.ones((n, n, n), dtype=bool)
    c = np.ravel_multi_index((20, 20, 20), o.shape)
    d = K.geodesic_dijkstra(o, np.eye(3) * n, [c])
    r = np.linalg.norm(np.indices(o.shape).reshape(3, -1).T - 20, axis=1).reshape(o.shape)
    sh = (r > 15) & (r < 20)
    ratio = d[sh] / r[sh]
    assert ratio.min() == pytest.approx(1.0)
    assert 1.12 < ratio.max() <= 1.1281 + 1e-6


def test_wall_blocks_part_of_shell():
    n, h, R = 80, 0.25, 3.0
    m = np.ones((n, n, n), dtype=bool)
    centre = np.array([40, 40, 40])
    # a wall 1 Å thick whose near face is t = 1.5 Å from the ion, normal to a
    m[46:50] = False
    res = T.local(m, centre * h, radius=R, spacing=h)
    # the shell's part on the ion's side of the plane at t: cap fraction (1 + t/R) / 2
    t = (46 - 40) * h - h / 2
    assert res.reachable[0] == pytest.approx((1 + t / R) / 2, abs=0.03)
    assert res.void_fraction[0] > res.reachable[0]  # the far side is void but cut off
    assert 1.0 < res.tau[0] < 1.13


def test_point_in_wall_snaps_to_nearest_void():
    m = np.zeros((20, 20, 20), dtype=bool)
    m[:, :, 10:] = True
    res = T.local(m, [[5.0, 5.0, 8.2]], radius=2.0, spacing=1.0)
    assert res.snapped[0] and res.grid_index[0].tolist() == [5, 5, 10]
    assert res.snap_distance[0] == pytest.approx(1.8)
    far = T.local(m, [[5.0, 5.0, 5.0]], radius=2.0, spacing=1.0, snap_distance=3.0)
    assert np.isnan(far.tau[0]) and far.reachable[0] == 0 and far.grid_index[0, 0] == -1


@pytest.mark.parametrize("box", [np.eye(3) * 16.0, np.diag([16.0, 12.0, 20.0]),
                                 triclinic_box(16.0, 17.0, 18.0)],
                         ids=["cubic", "orthorhombic", "triclinic"])
def test_pruned_local_search_equals_reference_with_wraparound(rng, box):
    """The bucket-queue shell search (pruned by the free-space distance to the shell, flat
    neighbour offsets in the local box) equals scipy on the periodic grid, for centres on the
    cell faces (their boxes wrap around) in cubic, anisotropic and triclinic cells."""
    m = rng.random((16, 16, 16)) < 0.7
    offs, _ = K.shell_offsets(box, m.shape, 3.0, 1.0)
    void = np.argwhere(m)
    centres = np.concatenate([void[(void == 0).any(axis=1)][:4],
                              void[(void == 15).any(axis=1)][:4],
                              void[rng.choice(len(void), 8, replace=False)]])
    cut = 4.2  # paths up to 1.4 R: many shell points sit near the cut, where pruning bites
    got = K.local_shell_distances(m, box, centres, offs, cutoff=cut,
                                  labels=K.wrapping_components(m)[0])
    for c, row in zip(centres, got, strict=True):
        ref = K.reference_distances(m, box, [np.ravel_multi_index(tuple(c), m.shape)])
        p = (c + offs) % 16
        want = ref[p[:, 0], p[:, 1], p[:, 2]]
        np.testing.assert_array_equal(row, np.where(want <= cut, want, np.inf))
        assert np.isfinite(row).sum() > 0


@pytest.mark.parametrize("box", [np.eye(3) * 7.0, np.diag([7.0, 8.5, 6.0])],
                         ids=["cubic-octile", "orthorhombic-euclidean"])
def test_image_distances_orthogonal_bounds_equal_reference(rng, box):
    """A* with the free-space 26-grid bound (cubic voxels) and the per-axis minimum-image
    Euclidean bound (other orthogonal cells) is exact."""
    assert K.heuristic_kind(box, (7, 7, 7)) == (K.H_OCTILE if box[1, 1] == 7.0 else K.H_ORTHO)
    m = rng.random((7, 7, 7)) < 0.6
    for ax in range(3):
        st = np.argwhere(m)[rng.choice(int(m.sum()), 5, replace=False)]
        got = K.image_distances(m, box, ax, st)
        want = [K.reference_image_distance(m, box, ax, s) for s in st]
        np.testing.assert_array_equal(got, want)


def test_void_grid_shares_its_components(rng):
    """global then local on one VoidGrid compute the components once; results equal those
    from bare arrays."""
    m = rng.random((12, 12, 12)) < 0.6
    box = np.eye(3) * 12.0
    vg = T.as_void_grid(m, box=box)
    g = T.global_tortuosity(vg, max_starts=3)
    perc = vg._percolation
    assert perc is not None and T.percolation(vg) is perc
    pts = np.argwhere(m)[:12] + 0.2
    a = T.local(vg, pts, radius=2.5)
    b = T.local(m, pts, radius=2.5, box=box)
    np.testing.assert_array_equal(a.tau, b.tau)
    np.testing.assert_array_equal(g.tau, T.global_tortuosity(m, box=box, max_starts=3).tau)


def test_local_matches_reference_in_periodic_cell(rng):
    """Shell distances from the local unrolled box equal scipy on the periodic grid when the
    cell is much larger than the reach (no image ambiguity)."""
    m = rng.random((16, 16, 16)) < 0.7
    box = np.eye(3) * 16.0
    c = np.argwhere(m)[0]
    offs, r = K.shell_offsets(box, m.shape, 3.0, 1.0)
    got = K.local_shell_distances(m, box, c[None], offs, cutoff=4.0)[0]
    ref = K.reference_distances(m, box, [np.ravel_multi_index(tuple(c), m.shape)])
    p = (c + offs) % 16
    want = ref[p[:, 0], p[:, 1], p[:, 2]]
    want = np.where(want <= 4.0, want, np.inf)
    np.testing.assert_array_equal(got, want)


def test_circular_arc_fast_marching_within_2_percent():
    """Around a cylinder of radius r: tangent + arc + tangent from a point at distance d to
    the diametrically opposite point."""
    h, size, rc, dd = 0.1, 13.0, 3.0, 5.0
    n = int(round(size / h))
    x = (np.arange(n) - n / 2) * h
    xx, yy = np.meshgrid(x, x, indexing="ij")
    m2 = xx ** 2 + yy ** 2 > rc ** 2
    m = np.repeat(m2[:, :, None], 2, axis=2)
    box = np.diag([n * h, n * h, 2 * h])
    src = np.ravel_multi_index((n // 2 - int(dd / h), n // 2, 0), m.shape)
    si, sd = K.point_source_init(m, box, src, periodic=False)
    f = K.geodesic_fmm(m, box, si, sd, periodic=False)
    got = f[n // 2 + int(dd / h), n // 2, 0]
    exact = 2 * np.sqrt(dd ** 2 - rc ** 2) + rc * (np.pi - 2 * np.arccos(rc / dd))
    assert got == pytest.approx(exact, rel=0.02)
    dj = K.geodesic_dijkstra(m, box, [src], periodic=False)[n // 2 + int(dd / h), n // 2, 0]
    assert abs(got - exact) < abs(dj - exact)


# ---------------------------------------------------------------------------------- diffusive
def test_diffusive_open_and_channel():
    o = T.diffusive_tortuosity(np.ones((8, 8, 8), dtype=bool), n_walkers=3000, n_steps=2000)
    np.testing.assert_allclose(o.tau, 1.0, atol=5 * np.max(o.stderr))
    ch = T.diffusive_tortuosity(straight_channel(16, 6, 10), n_walkers=3000, n_steps=2000)
    assert abs(ch.tau[0] - 1.0) < 5 * ch.stderr[0] and np.all(np.isinf(ch.tau[1:]))
    m = zigzag_band(24, 16, 2, 2.5, 1.5, 0.5)
    z = T.diffusive_tortuosity(m, n_walkers=2000, n_steps=20000, axes=(0,))
    assert z.tau[0] > 1.2  # obstructed


# ---------------------------------------------------------------------------------- CUDA
@pytest.mark.cudasim
def test_cuda_relaxation_equals_dijkstra(rng):
    box = triclinic_box(5.0, 5.5, 6.0)
    masks = rng.random((2, 4, 5, 5)) < 0.7
    seeds = [np.flatnonzero(masks[0])[:1], np.flatnonzero(masks[1])[:2]]
    got = K.geodesic_relax_cuda(masks, box, seeds, mask_of=[0, 1])
    for b in range(2):
        np.testing.assert_array_equal(got[b], K.geodesic_dijkstra(masks[b], box, seeds[b]))


@pytest.mark.cudasim
def test_cuda_global_and_local_equal_cpu(rng):
    m = rng.random((4, 4, 4)) < 0.8
    box = triclinic_box(4.0, 4.0, 4.0, 0.5, -0.3, 0.2)
    cpu = T.global_tortuosity(m, box=box, axes=(0,), max_starts=2, backend="cpu")
    gpu = T.global_tortuosity(m, box=box, axes=(0,), max_starts=2, backend="cuda")
    np.testing.assert_array_equal(gpu.samples[0], cpu.samples[0])
    pts = np.argwhere(m)[:2] + 0.1
    lc = T.local(m, pts, radius=1.2, box=box, max_ratio=1.3, backend="cpu")
    lg = T.local(m, pts, radius=1.2, box=box, max_ratio=1.3, backend="cuda")
    np.testing.assert_array_equal(lg.reachable, lc.reachable)
    np.testing.assert_allclose(lg.tau, lc.tau, rtol=1e-12)


def test_component_labels_only_speed_up(rng):
    m = rng.random((14, 14, 14)) < 0.45
    box = np.eye(3) * 7.0
    pts = np.argwhere(m)[:12] * 0.5
    lab = K.wrapping_components(m)[0]
    a = T.local(m, pts, radius=2.0, box=box, labels=lab)
    b = T.local(m, pts[:3], radius=2.0, box=box)  # no labels for <= 8 points
    np.testing.assert_array_equal(a.tau[:3], b.tau)
    np.testing.assert_array_equal(a.reachable[:3], b.reachable)
    assert np.all(a.reachable <= a.void_fraction)


def test_components_agree_with_voidmap_and_voidmap_input(rng):
    """Our components partition the void exactly as VoidMap.components (26-connected,
    periodic), which ``local`` uses for early stopping; a VoidMap works as input."""
    from scipy import ndimage

    from hcanalysis import voids

    d = ndimage.gaussian_filter(rng.normal(size=(20, 22, 18)), 2, mode="wrap")
    vm = voids.from_distance(d / d.std(), TRI, probe=1.0)
    ours, _ = K.wrapping_components(vm.mask)
    m = vm.mask
    pairs = set(zip(vm.components[m].tolist(), ours[m].tolist(), strict=True))
    assert len(pairs) == ours.max() + 1 == vm.components.max() + 1 > 1
    pts = vm.index_to_cart(np.argwhere(m)[:10])
    a = T.local(vm, pts, radius=2.0)
    b = T.local(vm.mask, pts, radius=2.0, box=vm.box, labels=ours)
    np.testing.assert_array_equal(a.tau, b.tau)
    g = T.global_tortuosity(vm, max_starts=4)
    assert g.tau.shape == (3,)


def test_landmark_and_euclidean_heuristics_agree(rng):
    m = rng.random((10, 9, 8)) < 0.6
    for ax in range(3):
        st = np.argwhere(m)[rng.choice(int(m.sum()), 6, replace=False)]  # mixed planes
        a = K.image_distances(m, TRI, ax, st, landmark=True)
        b = K.image_distances(m, TRI, ax, st, landmark=False)
        np.testing.assert_array_equal(a, b)


def _reference_winding(mask):
    """Plain-Python periodic components (26-connected) and, per component, the winding
    vectors of the loops its edges close (BFS with the cell offset of each point's copy)."""
    import collections
    import itertools

    shape = mask.shape
    label = -np.ones(shape, dtype=int)
    shift = {}
    windings = collections.defaultdict(set)
    steps = [d for d in itertools.product((-1, 0, 1), repeat=3) if any(d)]
    n = 0
    for start in zip(*np.nonzero(mask), strict=True):
        if label[start] >= 0:
            continue
        label[start], shift[start] = n, (0, 0, 0)
        queue = collections.deque([start])
        while queue:
            v = queue.popleft()
            for d in steps:
                raw = [v[a] + d[a] for a in range(3)]
                u = tuple(r % shape[a] for a, r in enumerate(raw))
                w = tuple(r // shape[a] for a, r in enumerate(raw))
                if not mask[u]:
                    continue
                e = tuple(shift[v][a] + w[a] for a in range(3))
                if label[u] < 0:
                    label[u], shift[u] = n, e
                    queue.append(u)
                elif e != shift[u]:
                    windings[n].add(tuple(e[a] - shift[u][a] for a in range(3)))
        n += 1
    perc = np.zeros((n, 3), dtype=bool)
    for c, vecs in windings.items():
        for ax in range(3):
            perc[c, ax] = K.percolation._lattice_contains(np.array(sorted(vecs)),
                                                          np.eye(3, dtype=int)[ax])
    return label, perc


def test_wrapping_components_equal_plain_python_reference(rng):
    """Labels and exact percolation of the Numba kernels (BFS, then the loop-closing edges
    found in parallel) equal a plain-Python BFS on random grids, thin ones (1-2 points along
    an axis, where a point neighbours its own image) included."""
    from scipy import ndimage

    for trial in range(40):
        shape = tuple(int(x) for x in rng.integers(1, 9, 3))
        if trial % 2:
            d = ndimage.gaussian_filter(rng.normal(size=shape), 1.2, mode="wrap")
            m = d > np.quantile(d, rng.uniform(0.3, 0.8))
        else:
            m = rng.random(shape) < rng.uniform(0.2, 0.8)
        lab, perc = K.wrapping_components(m)
        ref_lab, ref_perc = _reference_winding(m)
        np.testing.assert_array_equal(lab, ref_lab)
        np.testing.assert_array_equal(perc, ref_perc)


def test_shell_bound_computed_once_per_grid_and_shell(rng):
    """The pruning bound depends only on the grid and the shell: a second call (the next
    chunk of ions, the next sampled frame) reuses it, with the same distances."""
    m = rng.random((14, 14, 14)) < 0.7
    box = np.eye(3) * 14.0
    offs, _ = K.shell_offsets(box, m.shape, 3.0, 1.0)
    c = np.argwhere(m)[:4]
    K.local._shell_bound.cache_clear()
    a = K.local_shell_distances(m, box, c, offs, cutoff=5.0)
    b = K.local_shell_distances(m, box, c[::-1], offs, cutoff=5.0)
    info = K.local._shell_bound.cache_info()
    assert (info.misses, info.hits) == (1, 1)
    np.testing.assert_array_equal(a, b[::-1])
