"""Void tessellation: exact distance field, pores, throats, percolation, LCD/PLD, PSD."""

from __future__ import annotations

import numpy as np
import pytest
import void_kernel_refs as vref
from conftest import triclinic_box
from voids_geometry import (
    BCC,
    carve,
    cubic_matrix,
    cylinder_x,
    graphene_slit,
    min_image_norm,
    sphere,
    two_cavities,
)

from hcanalysis import Trajectory, voids
from hcanalysis.kernels import voids as kv

R_C = 1.7


def _grid_halfdiag(vm) -> float:
    """Largest distance from any point of the cell to its nearest grid point (bound)."""
    steps = vm.box / np.asarray(vm.shape)[:, None]
    return 0.5 * float(max(np.linalg.norm(s) for s in
                           [steps.sum(0), steps[0] + steps[1] - steps[2],
                            steps[0] - steps[1] + steps[2], -steps[0] + steps[1] + steps[2]]))


# ----------------------------------------------------------------------------- distance field


def test_distance_field_equals_brute_force_triclinic(rng):
    box = triclinic_box(9.0, 10.0, 8.0, 2.5, -1.5, 1.0)
    pos = rng.uniform(-5, 15, size=(25, 3))  # many outside the cell: wrapped internally
    species = np.where(rng.random(25) < 0.7, "C", "O")
    radii = {"C": 1.7, "O": 1.2}
    shape = kv.grid_shape(box, 1.0)
    rad = np.array([radii[s] for s in species])
    got = voids.distance_field(pos, box, rad, shape, backend="cpu")
    ref = kv.distance_grid_reference(kv.wrap_fractional(pos, box), rad, box, shape)
    assert got.shape == shape
    np.testing.assert_allclose(got, ref, atol=1e-10)
    assert got.max() > 0.5  # some points far from every atom: the shell search went wide
    # the all-points cell-list search (the CPU twin of the CUDA kernel) agrees as well
    afrac = kv.wrap_fractional(pos, box)
    m, start, cells, w_min = kv.build_cell_list(afrac, box)
    gather = kv.distance_grid_numba(afrac, rad, box, m, start, cells, w_min,
                                    kv.max_shell(box, w_min), *shape)
    np.testing.assert_allclose(gather, ref, atol=1e-10)


def test_distance_far_from_sparse_atoms():
    # two atoms in a 20 A cell: most points lie far outside the first cell shell
    box = triclinic_box(20.0, 18.0, 16.0, 4.0, 2.0, -3.0)
    pos = np.array([[1.0, 1.0, 1.0], [10.0, 9.0, 7.0]])
    shape = kv.grid_shape(box, 2.0)
    got = voids.distance_field(pos, box, np.array([1.7, 1.0]), shape, backend="cpu")
    ref = kv.distance_grid_reference(kv.wrap_fractional(pos, box), np.array([1.7, 1.0]), box,
                                     shape)
    np.testing.assert_allclose(got, ref, atol=1e-10)


@pytest.mark.cudasim
def test_cuda_distance_equals_cpu(rng):
    box = triclinic_box(5.0, 5.5, 6.0, 1.0, -0.5, 0.7)
    pos = rng.uniform(0, 6, size=(5, 3))
    rad = np.full(5, 1.2)
    shape = (3, 4, 4)
    cpu = voids.distance_field(pos, box, rad, shape, backend="cpu")
    gpu = voids.distance_field(pos, box, rad, shape, backend="cuda")
    np.testing.assert_allclose(gpu, cpu, atol=1e-12)


def test_distance_at_points_exact(rng):
    pos, box = cubic_matrix(6)
    pos = pos + rng.normal(0, 0.1, pos.shape)
    vm = voids.tessellate(pos, box, ["C"] * len(pos), spacing=0.5, backend="cpu")
    q = rng.uniform(-3, 12, size=(20, 3))
    ref = kv.distance_points_reference(kv.wrap_fractional(q, box), kv.wrap_fractional(pos, box),
                                       np.full(len(pos), R_C), box)
    np.testing.assert_allclose(vm.distance_at(q), ref, atol=1e-10)


def test_unknown_species_raises():
    with pytest.raises(ValueError, match="no radius"):
        voids.tessellate(np.zeros((2, 3)), np.eye(3) * 5, ["C", "Na"], spacing=0.5)


# ----------------------------------------------------------------------------- slit pore


def test_graphene_slit_lcd_pld_percolation():
    s = 7.0
    pos, box = graphene_slit(s)
    vm = voids.tessellate(pos, box, ["C"] * len(pos), spacing=0.25, backend="cpu")
    # exact largest inscribed radius: centre over a hexagon centre, midway between sheets,
    # 6 atoms at in-plane distance BCC
    r_star = np.hypot(BCC, s / 2) - R_C
    # brute force over candidate centres on a fine mesh of the slit mid-plane
    a = np.sqrt(3) * BCC
    xs, ys = np.meshgrid(np.linspace(-a, a, 61), np.linspace(-1.5 * BCC, 1.5 * BCC, 61))
    cand = np.column_stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)])
    brute = kv.distance_points_reference(kv.wrap_fractional(cand, box),
                                         kv.wrap_fractional(pos, box), np.full(len(pos), R_C),
                                         box)
    assert brute.max() == pytest.approx(r_star, abs=1e-9)
    # (0, 0, 0) is a grid point and the exact centre, so the grid LCD is exact
    assert vm.lcd == pytest.approx(2 * r_star, abs=1e-9)
    assert r_star > (s - 2 * R_C) / 2
    assert list(vm.percolates) == [True, True, False]
    # PLD in-plane: the saddle over a C-C bond midpoint, nearest atoms at BCC/2 in-plane;
    # the grid maximin lies within one grid half-diagonal of it (a discrete path can also
    # step across the saddle line between two grid points, slightly above the saddle)
    r_sad = np.hypot(BCC / 2, s / 2) - R_C
    tol = _grid_halfdiag(vm)
    for ax in (0, 1):
        assert abs(vm.pld[ax] / 2 - r_sad) <= tol
        assert vm.pld[ax] / 2 < r_star - 0.1
    assert vm.pld[2] == 0.0
    assert 0.0 < vm.porosity < 1.0


# ----------------------------------------------------------------------------- cavity


@pytest.fixture(scope="module")
def cavity():
    pos, box = cubic_matrix(12)  # 18 A cube
    centre = np.full(3, 9.0)
    pos = carve(pos, box, sphere(centre, 3.0, box))
    vm = voids.tessellate(pos, box, ["C"] * len(pos), spacing=0.3, backend="cpu")
    return pos, box, centre, vm


def test_closed_cavity_one_pore_no_percolation(cavity):
    pos, box, centre, vm = cavity
    d_c = min_image_norm(pos - centre, box).min() - R_C
    assert d_c >= 3.0
    assert vm.n_pores == 1
    assert vm.pores["radius"].iloc[0] >= d_c - 1e-9
    assert vm.lcd == pytest.approx(2 * vm.pores["radius"].iloc[0])
    assert 2 * 3.0 <= vm.lcd <= 2 * (3.0 + LATTICE_TOL)
    assert not vm.percolates.any()
    assert np.all(vm.pld == 0)
    vol = vm.pores["volume"].iloc[0]
    assert 4 / 3 * np.pi * 3.0**3 < vol < 4 / 3 * np.pi * (3.0 + LATTICE_TOL) ** 3
    assert vm.porosity == pytest.approx(vol / vm.volume)
    assert len(vm.throats) == 0


LATTICE_TOL = 0.8  # carving a 1.5 A lattice leaves the cavity up to ~this much larger than R


def test_cavity_across_periodic_boundary_is_one_pore(cavity):
    pos, box, centre, vm = cavity
    # the same structure shifted by half a cell: the cavity now straddles every face
    pos2 = pos + 9.0
    vm2 = voids.tessellate(pos2, box, ["C"] * len(pos), spacing=0.3, backend="cpu")
    assert vm2.n_pores == 1
    assert vm2.pores["volume"].iloc[0] == pytest.approx(vm.pores["volume"].iloc[0], rel=1e-12)
    assert vm2.lcd == pytest.approx(vm.lcd, abs=1e-9)
    np.testing.assert_allclose(np.roll(vm.distance, 30, axis=(0, 1, 2)), vm2.distance,
                               atol=1e-9)
    assert not vm2.percolates.any()


def test_triclinic_cell_equals_orthogonal(cavity):
    pos, box, centre, vm = cavity
    tilted = np.array([[18.0, 0, 0], [18.0, 18.0, 0], [0, 0, 18.0]])  # same lattice
    vmt = voids.tessellate(pos, tilted, ["C"] * len(pos), spacing=0.3, backend="cpu")
    assert vmt.volume == pytest.approx(vm.volume)
    assert vmt.n_pores == 1
    # radius and volume agree within the grid resolution
    assert abs(vmt.lcd - vm.lcd) <= 2 * _grid_halfdiag(vmt)
    assert vmt.pores["volume"].iloc[0] == pytest.approx(vm.pores["volume"].iloc[0], rel=0.03)
    assert vmt.porosity == pytest.approx(vm.porosity, rel=0.03)
    assert not vmt.percolates.any()


def test_ion_descriptors_at_cavity_centre(cavity):
    pos, box, centre, vm = cavity
    ions = np.array([centre, centre + [1.0, 0.0, 0.0]])
    desc = voids.ion_descriptors(vm, ions, framework=pos)
    d_ref = min_image_norm(pos - centre, box).min() - R_C
    assert desc["wall_distance"][0] == pytest.approx(d_ref, abs=1e-10)
    assert list(desc["pore"]) == [0, 0]
    assert desc["pore_radius"][0] == pytest.approx(vm.pores["radius"].iloc[0])
    assert desc["pore_volume"][0] == pytest.approx(vm.pores["volume"].iloc[0])
    assert list(desc["pore_throats"]) == [0, 0]
    # Voronoi volumes of all atoms tile the cell; the ions share the empty cavity
    assert desc["voronoi_volume"].sum() > 4 / 3 * np.pi * 3.0**3 * 0.5
    assert desc["voronoi_volume"].sum() < 4 / 3 * np.pi * (3.0 + 1.7 + 1.5) ** 3


# ----------------------------------------------------------------------------- channel


def test_cylindrical_channel_percolates_along_its_axis_only():
    pos, box = cubic_matrix(12)
    R = 2.5
    pos = carve(pos, box, cylinder_x(9.0, 9.0, R, box))
    vm = voids.tessellate(pos, box, ["C"] * len(pos), spacing=0.3, backend="cpu")
    assert list(vm.percolates) == [True, False, False]
    assert vm.pld[1] == 0 and vm.pld[2] == 0
    # the channel's narrowest cross-section is at least R wide, at most R + lattice slack
    assert 2 * (R - _grid_halfdiag(vm)) <= vm.pld[0] <= 2 * (R + LATTICE_TOL)
    assert vm.pld[0] <= vm.lcd + 1e-12
    assert vm.accessible_porosity() == pytest.approx(vm.porosity)
    # a probe wider than the channel's limiting radius cannot pass
    assert vm.accessible_porosity(vm.pld[0] / 2 + 0.05) == 0.0


def test_channel_along_diagonal_of_tilted_cell():
    # the x-channel expressed in a cell whose second vector is (18, 18, 0): the channel still
    # runs along a, and b's projection carries no void path -> percolates along a only
    pos, box = cubic_matrix(12)
    pos = carve(pos, box, cylinder_x(9.0, 9.0, 2.5, box))
    tilted = np.array([[18.0, 0, 0], [18.0, 18.0, 0], [0, 0, 18.0]])
    vm = voids.tessellate(pos, tilted, ["C"] * len(pos), spacing=0.35, backend="cpu")
    assert list(vm.percolates) == [True, False, False]


# ----------------------------------------------------------------------------- two cavities


def test_two_cavities_joined_by_throat():
    pos, box, c1, c2 = two_cavities(rt=1.0)
    rt = 1.0
    vm = voids.tessellate(pos, box, ["C"] * len(pos), spacing=0.3, backend="cpu")
    assert vm.n_pores == 2
    assert len(vm.throats) == 1
    th = vm.throats.iloc[0]
    assert {int(th.pore_a), int(th.pore_b)} == {0, 1}
    assert rt - _grid_halfdiag(vm) <= th.radius <= rt + LATTICE_TOL
    assert th.radius < vm.pores["radius"].min()
    assert list(vm.pores["n_throats"]) == [1, 1]
    assert not vm.percolates.any()
    centres = vm.pore_centres
    near = [min(min_image_norm(c[None] - c1, box)[0], min_image_norm(c[None] - c2, box)[0])
            for c in centres]
    assert max(near) < LATTICE_TOL


# ----------------------------------------------------------------------------- watershed rule


def _two_bumps(sep: float, dip: float):
    """Periodic synthetic field on a 40x8x8 grid: two maxima (heights 3 and 2.5) separated by
    a saddle of height 2.5 - dip along a."""
    x = np.arange(40)
    prof = np.interp(x, [0, 10, 20, 30, 39], [0.5, 3.0, 2.5 - dip, 2.5, 0.5])
    d = np.broadcast_to(prof[:, None, None], (40, 8, 8)).copy()
    d[:, :, :] -= 0.01 * (np.abs(np.arange(8) - 4)[None, :, None]
                          + np.abs(np.arange(8) - 4)[None, None, :])
    return d, np.diag([12.0, 2.4, 2.4])


def test_watershed_persistence_rule():
    d, box = _two_bumps(0, dip=0.6)
    two = voids.from_distance(d, box, merge_delta=0.25)
    one = voids.from_distance(d, box, merge_delta=0.7)
    assert two.n_pores == 2 and one.n_pores == 1
    assert two.throats["radius"].iloc[0] == pytest.approx(d[20].max(), abs=1e-12)
    assert sorted(two.pores["radius"]) == pytest.approx(sorted([d[10].max(), d[30].max()]))
    # plateau maxima are one pore whatever the merge threshold
    flat = np.full((12, 6, 6), 1.0)
    assert voids.from_distance(flat, np.eye(3) * 4, merge_delta=0.0).n_pores == 1


def test_local_thickness_equals_brute_force(rng):
    box = triclinic_box(6.0, 6.5, 7.0, 1.0, -0.5, 0.5)
    pos = rng.uniform(0, 7, size=(4, 3))
    vm = voids.tessellate(pos, box, ["C"] * 4, spacing=0.6, lt_tol=0.0, backend="cpu")
    ref = kv.local_thickness_reference(vm.distance.ravel(), vm.mask.ravel(), vm.box, vm.shape)
    np.testing.assert_allclose(vm.local_thickness.ravel(), ref, atol=1e-12)
    frac, edges = vm.psd(10)
    assert frac.sum() == pytest.approx(1.0)
    assert np.all(vm.local_thickness[vm.mask] >= vm.distance[vm.mask] - 1e-12)


def test_h5_round_trip(tmp_path, cavity):
    h5py = pytest.importorskip("h5py")
    _pos, _box, _c, vm = cavity
    with h5py.File(tmp_path / "v.h5", "w") as f:
        vm.to_h5(f.create_group("m"))
    with h5py.File(tmp_path / "v.h5", "r") as f:
        back = voids.VoidMap.from_h5(f["m"])
    np.testing.assert_array_equal(back.labels, vm.labels)
    assert back.pores["volume"].to_numpy() == pytest.approx(vm.pores["volume"].to_numpy())
    np.testing.assert_allclose(back.distance, vm.distance, atol=1e-5)
    assert back.params["spacing"] == 0.3


def _two_cavity_traj(rng, n_frames=8):
    pos, box, c1, c2 = two_cavities()
    frames = []
    for f in range(n_frames):
        na0 = c1 if f < 4 else c2
        na1 = c2 + [0.3, 0.0, 0.0]
        frames.append(np.vstack([pos + rng.normal(0, 0.01, pos.shape), [na0, na1]]))
    species = ["C"] * len(pos) + ["Na", "Na"]
    return Trajectory.from_arrays(np.array(frames), box, species, dt_ps=0.5), c1, c2


@pytest.mark.filterwarnings("ignore:voids.void_descriptors is deprecated:DeprecationWarning")
def test_void_descriptors_windows_and_cache(rng, tmp_path):
    import h5py

    traj, c1, c2 = _two_cavity_traj(rng)
    kw = dict(window=4, stride=2, map_stride=2, spacing=0.4)
    with h5py.File(tmp_path / "c.h5", "w") as f:
        res = voids.void_descriptors(traj, cache=f.create_group("maps"), **kw)
    assert sorted(res.maps) == [0, 2, 4, 6]
    tab = res.table
    assert len(tab) == 3 * 2
    ion0 = tab[tab.ion == 0].sort_values("window")
    ion1 = tab[tab.ion == 1].sort_values("window")
    assert list(ion0.pores_visited) == [1, 2, 1]
    assert list(ion1.pores_visited) == [1, 1, 1]
    assert list(ion0.pore_throats) == [1.0, 1.0, 1.0]
    assert ion0.t_start_ps.tolist() == [0.0, 1.0, 2.0]
    # the wall distance is exact per frame against that frame's carbon
    f0 = traj.positions(None, frames=[0])[0]
    carbon = f0[:-2]
    ref = min_image_norm(carbon - f0[-2], traj.box(0)).min() - R_C
    assert res.per_frame["wall_distance"][0, 0] == pytest.approx(ref, abs=1e-10)
    assert np.all(res.per_frame["voronoi_volume"] > 0)
    # the cache gives back the same maps and descriptors
    with h5py.File(tmp_path / "c.h5", "r+") as f:
        again = voids.void_descriptors(traj, cache=f["maps"], **kw)
    np.testing.assert_array_equal(again.per_frame["pore"], res.per_frame["pore"])
    pd_cols = ["pore_radius", "pores_visited", "wall_distance"]
    np.testing.assert_allclose(again.table[pd_cols].to_numpy(), tab[pd_cols].to_numpy(),
                               atol=1e-5)


def test_local_thickness_tolerance_close_to_exact(cavity):
    _pos, box, _c, exact = cavity
    assert exact.params["lt_tol"] == 0.0  # the default is exact
    vm = voids.from_distance(exact.distance, box, lt_tol=0.02)
    m = vm.mask
    diff = exact.local_thickness[m] - vm.local_thickness[m]
    assert 0 < np.mean(np.abs(diff) > 1e-9) < 0.02  # lt_tol = 0.02 A (docs/voids.md)
    assert diff.min() >= -1e-12  # pruning can only lower the value
    assert abs(diff.mean()) < 0.002 * exact.local_thickness[m].mean()
    edges = np.arange(0.0, 4.01, 0.25)
    assert np.abs(vm.psd(edges)[0] - exact.psd(edges)[0]).sum() < 0.02
    assert np.all(vm.local_thickness[m] >= vm.distance[m] - 1e-12)


@pytest.mark.parametrize("probe", [0.0, 0.4])
def test_fused_sweep_equals_separate_sweeps(rng, probe):
    box = triclinic_box(14.0, 13.0, 15.0, 2.0, -1.0, 1.5)
    pos = rng.uniform(0, 15, size=(70, 3))
    shape = kv.grid_shape(box, 0.5)
    d = voids.distance_field(pos, box, np.full(70, 1.7), shape, backend="cpu").ravel()
    order = np.flatnonzero(d >= 0)
    order = order[np.argsort(-d[order], kind="stable")]
    root, perc, level, seed = vref.sweep_numba(d, order, probe, 0.25, *shape, kv.OFFSETS_26)
    r2, p2, _l2 = kv.components_sweep_numba(d, order, probe, *shape, kv.OFFSETS_26)
    _r3, _p3, l3 = kv.components_sweep_numba(d, order, 0.0, *shape, kv.OFFSETS_26)
    s2 = vref.watershed_numba(d, order, probe, 0.25, *shape, kv.OFFSETS_26)
    np.testing.assert_array_equal(root, r2)
    np.testing.assert_array_equal(perc, p2)
    np.testing.assert_array_equal(level, l3)
    np.testing.assert_array_equal(seed, s2)
    assert np.count_nonzero(seed >= 0) == np.count_nonzero(d >= probe)


def _sweep_reference(d, shape, probe, delta):
    """from_distance's former path: the sequential fused sweep over all void points."""
    cand = np.flatnonzero(d >= min(probe, 0.0))
    order = cand[np.argsort(-d[cand], kind="stable")]
    root, perc, level, seed = vref.sweep_numba(d, order, probe, delta, *shape, kv.OFFSETS_26)
    roots = np.unique(root[root >= 0])
    remap = np.full(d.size, -1, dtype=np.int64)
    remap[roots] = np.arange(roots.size)
    comp = np.where(root >= 0, remap[np.maximum(root, 0)], -1)
    seeds = np.unique(seed[seed >= 0])
    seeds = seeds[np.argsort(-d[seeds], kind="stable")]
    pmap = np.full(d.size, -1, dtype=np.int64)
    pmap[seeds] = np.arange(seeds.size)
    return comp, perc[roots], level, seeds, np.where(seed >= 0, pmap[np.maximum(seed, 0)], -1)


def _assert_basins_equal_sweep(d, shape, probe, delta):
    comp, perc, level, seeds, labels = _sweep_reference(d, shape, probe, delta)
    cand = np.flatnonzero(d >= min(probe, 0.0))
    comp2, perc2, level2, seeds2, labels2 = voids._basins(d, cand, probe, delta, *shape)
    np.testing.assert_array_equal(labels2, labels)  # pores, numbered alike
    np.testing.assert_array_equal(seeds2, seeds)
    np.testing.assert_array_equal(level2, level)  # PLD levels
    # components: the same partition (ids may differ), the same percolation per component
    assert np.array_equal(comp2 < 0, comp < 0)
    m = comp >= 0
    pairs = np.unique(np.stack([comp[m], comp2[m]], axis=1), axis=0)
    assert len(pairs) == len(perc) == len(perc2)
    np.testing.assert_array_equal(perc2[pairs[:, 1]], perc[pairs[:, 0]])
    # new ids follow each component's first grid point
    first = [np.flatnonzero(comp2 == c)[0] for c in range(len(perc2))]
    assert first == sorted(first)
    return len(perc), len(seeds)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_basin_forest_equals_sequential_sweep(seed):
    rng = np.random.default_rng(seed)
    n_comp = n_pores = 0
    for _ in range(4):
        box = triclinic_box(*rng.uniform(8, 13, 3), *rng.uniform(-2.5, 2.5, 3))
        n = int(rng.integers(60, 240))
        pos = rng.uniform(-3, 16, (n, 3))  # many images: periodic wrap everywhere
        shape = kv.grid_shape(box, rng.uniform(0.4, 0.7))
        d = voids.distance_field(pos, box, np.full(n, 1.6), shape, backend="cpu").ravel()
        for probe in (0.0, 0.35, -0.2):
            for delta in (0.0, 0.25, 1.0):
                c, p = _assert_basins_equal_sweep(d, shape, probe, delta)
                n_comp, n_pores = max(n_comp, c), max(n_pores, p)
    assert n_comp > 1 and n_pores > 3  # the cases exercise several components and pores


def test_basin_forest_ties_and_plateaus(rng):
    # quantised fields: many equal values, so the tie order (ascending index) matters
    for _ in range(6):
        shape = tuple(int(x) for x in rng.integers(3, 11, 3))
        d = np.round(rng.uniform(-0.5, 2.0, shape), 1).ravel()
        for probe in (0.0, 0.5):
            _assert_basins_equal_sweep(d, shape, probe, 0.25)
    _assert_basins_equal_sweep(np.ones(12 * 6 * 6), (12, 6, 6), 0.0, 0.0)
    # a channel along a with a flat crest winds through its own basin
    d, _box = _two_bumps(0, dip=0.6)
    _assert_basins_equal_sweep(np.minimum(d, 2.0).ravel(), d.shape, 0.0, 0.25)


@pytest.mark.parametrize("seed", [0, 1])
def test_block_local_thickness_equals_painting_and_brute_force(seed):
    rng = np.random.default_rng(seed)
    for trial in range(5):
        box = triclinic_box(*rng.uniform(5, 9, 3), *rng.uniform(-2.0, 2.0, 3))
        n = int(rng.integers(3, 30))
        pos = rng.uniform(-2, 10, (n, 3))
        # coarse grids: balls wider than the cell, wrapping onto themselves
        shape = kv.grid_shape(box, rng.uniform(0.45, 0.9))
        d = voids.distance_field(pos, box, np.full(n, 1.5), shape, backend="cpu").ravel()
        probe = (0.0, 0.3, -0.2)[trial % 3]
        mask = d >= probe
        order = np.flatnonzero(mask)
        order = order[np.argsort(-d[order], kind="stable")]
        new = kv.local_thickness_blocks_numba(d, mask, order, box, *shape)
        old = vref.local_thickness_numba(d, mask, order, box, np.linalg.inv(box), *shape, 0.0)
        np.testing.assert_array_equal(new, old)
        if probe >= 0.0:
            ref = kv.local_thickness_reference(d, mask, box, shape)
            vm = voids.from_distance(d.reshape(shape), box, probe=probe)
            np.testing.assert_allclose(vm.local_thickness.ravel(), ref, atol=1e-12)
