"""RDFs, first minima, coordination, clusters and carbon hybridisation."""

import numpy as np
import pytest
from conftest import triclinic_box
from numba import njit

from hcanalysis import Trajectory
from hcanalysis import structure as st
from hcanalysis.kernels import neighbors as nb
from hcanalysis.kernels.pbc import minimum_image

# --------------------------------------------------------------------------- helpers


def _same_partition(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    pairs = set(zip(a.tolist(), b.tolist(), strict=True))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


@njit(cache=True, fastmath=True)
def _pair_e(dx, dy, dz, L):
    dx -= L * np.rint(dx / L)
    dy -= L * np.rint(dy / L)
    dz -= L * np.rint(dz / L)
    r2 = dx * dx + dy * dy + dz * dz
    if r2 >= 6.25:
        return 0.0
    ir6 = 1.0 / (r2 * r2 * r2)
    return 4.0 * (ir6 * ir6 - ir6)


@njit(cache=True, fastmath=True)
def _lj_mc(pos, L, beta, sweeps, step, seed, every, out):
    """Metropolis Monte Carlo of a Lennard-Jones liquid (sigma = epsilon = 1, cutoff 2.5)."""
    np.random.seed(seed)  # noqa: NPY002  (numba's per-thread legacy RNG)
    n = pos.shape[0]
    k = 0
    for s in range(sweeps):
        for _ in range(n):
            i = np.random.randint(n)  # noqa: NPY002
            nx = pos[i, 0] + (np.random.random() - 0.5) * step  # noqa: NPY002
            ny = pos[i, 1] + (np.random.random() - 0.5) * step  # noqa: NPY002
            nz = pos[i, 2] + (np.random.random() - 0.5) * step  # noqa: NPY002
            de = 0.0
            for j in range(n):
                if j != i:
                    de += _pair_e(pos[j, 0] - nx, pos[j, 1] - ny, pos[j, 2] - nz, L)
                    de -= _pair_e(pos[j, 0] - pos[i, 0], pos[j, 1] - pos[i, 1],
                                  pos[j, 2] - pos[i, 2], L)
            if de <= 0 or np.random.random() < np.exp(-beta * de):  # noqa: NPY002
                pos[i, 0] = nx - L * np.floor(nx / L)
                pos[i, 1] = ny - L * np.floor(ny / L)
                pos[i, 2] = nz - L * np.floor(nz / L)
        if s % every == every - 1 and k < out.shape[0]:
            out[k] = pos
            k += 1
    return k


@pytest.fixture(scope="module")
def lj_liquid():
    """256 LJ atoms at rho* = 0.8, T* = 1.0 (a liquid), sigma = 3.4 Å; 10 frames."""
    from ase.build import bulk

    sigma, rho = 3.4, 0.8
    n_cell = 4
    a = (4 / rho) ** (1 / 3)
    pos = bulk("Ar", "fcc", a=a, cubic=True).repeat((n_cell,) * 3).get_positions()
    L = a * n_cell
    out = np.zeros((10, len(pos), 3))
    _lj_mc(pos, L, 1.0, 150, 0.3, 7, 20, out[:0])  # equilibrate (melt the lattice)
    _lj_mc(pos, L, 1.0, 80, 0.3, 8, 8, out)
    return out * sigma, np.eye(3) * L * sigma, sigma


# --------------------------------------------------------------------------- RDF


def test_rdf_of_an_ideal_gas_is_one(rng):
    L, n, nf = 30.0, 1000, 12
    pos = rng.uniform(0, L, (nf, n, 3))
    res = st.rdf_from_positions(pos, None, np.eye(3) * L, 10.0, bins=40, backend="cpu")
    far = res.r > 2.0
    assert abs(res.g[far].mean() - 1.0) < 0.01
    assert np.all(np.abs(res.g[far] - 1.0) < 0.08)
    # running coordination number of an ideal gas: rho * 4/3 pi r^3
    rho = (n - 1) / L**3
    np.testing.assert_allclose(res.n_cum[-1], rho * 4 / 3 * np.pi * 10.0**3, rtol=0.02)


def test_rdf_of_fcc_has_peaks_and_shell_counts_12_6_24():
    from ase.build import bulk

    a = 5.25
    atoms = bulk("Ar", "fcc", a=a, cubic=True).repeat((4, 4, 4))
    pos = atoms.get_positions()[None]
    res = st.rdf_from_positions(pos, None, np.asarray(atoms.cell), 7.0, bins=350, backend="cpu")
    shells = [a / np.sqrt(2), a, a * np.sqrt(1.5)]
    for r0 in shells:  # each shell distance falls in a populated bin, the bins around it empty
        k = np.searchsorted(res.edges, r0) - 1
        assert res.g[k] > 10 and res.g[k - 3] == 0 and res.g[k + 3] == 0
    n_at = np.interp([4.5, 6.0, 7.0 - 1e-9], res.edges[1:], res.n_cum)
    np.testing.assert_allclose(n_at, [12, 18, 42])
    fm = st.first_minimum(res, smooth=0.05)
    assert fm.found and shells[0] < fm.r_min < shells[1]
    assert fm.r_peak == pytest.approx(shells[0], abs=0.05)


@pytest.mark.parametrize("same", [True, False])
def test_rdf_equals_freud_and_mdanalysis(rng, same):
    freud = pytest.importorskip("freud")
    from MDAnalysis.analysis.rdf import InterRDF

    h = triclinic_box()
    nf, na, nc = 3, 60, 150
    pos = rng.uniform(0, 1, (nf, na + nc, 3)) @ h
    species = np.array(["Na"] * na + ["C"] * nc)
    traj = Trajectory.from_arrays(pos, h, species)
    b = "Na" if same else "C"
    res = st.rdf(traj, "Na", b, r_max=8.0, bins=40, backend="cpu")
    # freud: 'finite_size' normalises self-RDFs by N(N-1), 'exact' cross-RDFs by N_a N_b
    fr = freud.density.RDF(40, 8.0, normalization_mode="finite_size" if same else "exact")
    fbox = freud.box.Box.from_matrix(h.T)
    for f in range(nf):
        if same:
            fr.compute((fbox, pos[f, :na]), reset=False)
        else:
            fr.compute((fbox, pos[f, na:]), query_points=pos[f, :na], reset=False)
    np.testing.assert_allclose(res.g, fr.rdf, atol=1e-4)
    np.testing.assert_allclose(res.n_cum, fr.n_r, atol=1e-4)
    np.testing.assert_allclose(res.r, fr.bin_centers, atol=1e-5)
    u = traj.to_universe()
    g1 = u.select_atoms("name Na")
    g2 = g1 if same else u.select_atoms("name C")
    mda = InterRDF(g1, g2, nbins=40, range=(0, 8.0),
                   exclusion_block=(1, 1) if same else None).run()
    np.testing.assert_allclose(res.g, mda.results.rdf, atol=1e-4)
    assert res.g.sum() > 20


def test_rdf_frames_and_cuda_simulator_match_cpu(rng):
    L = 14.0
    pos = rng.uniform(0, L, (4, 30, 3))
    traj = Trajectory.from_arrays(pos, np.eye(3) * L, ["Na"] * 10 + ["C"] * 20)
    a = st.rdf(traj, "Na", "C", r_max=6.0, bins=12, frames=[1, 3], backend="cpu")
    b = st.rdf(traj, "Na", "C", r_max=6.0, bins=12, frames=[1, 3], backend="cuda")
    np.testing.assert_array_equal(a.counts, b.counts)
    ref = sum(nb.histogram_reference(pos[f, :10], pos[f, 10:], np.eye(3) * L, 6.0, 12)
              for f in (1, 3))
    np.testing.assert_array_equal(a.counts, ref)
    assert a.n_frames == 2


# --------------------------------------------------------------------------- first minimum


def _analytic_g(r):
    return np.exp(-((2.5 / r) ** 12)) * (1 + 1.5 * np.exp(-(r - 3.0)) * np.cos(
        2 * np.pi * (r - 3.0) / 2.2))


def test_first_minimum_of_an_analytic_g(rng):
    fine = np.linspace(0.5, 10, 200001)
    gf = _analytic_g(fine)
    peak = np.argmax(gf)
    k = peak + np.argmax(np.diff(gf[peak:]) > 0)
    r_true = fine[k]
    r = np.linspace(0.01, 10, 500)
    fm = st.first_minimum(r, _analytic_g(r), smooth=0.0)
    assert fm.found and fm.r_min == pytest.approx(r_true, abs=0.005)
    assert fm.r_peak == pytest.approx(fine[peak], abs=0.01)
    noisy = _analytic_g(r) + rng.normal(0, 0.05, r.size)
    fm = st.first_minimum(r, noisy, smooth=0.2)
    assert fm.found and fm.r_min == pytest.approx(r_true, abs=0.1)
    flat = st.first_minimum(r, np.exp(-((2.5 / r) ** 12)))
    assert not flat.found and np.isnan(flat.r_min)


def test_first_minimum_skips_a_wiggle_after_the_peak():
    r = np.linspace(0.01, 10, 2000)
    base = np.exp(-((2.2 / r) ** 12)) * (
        1 + 1.2 * np.exp(-(((r - 3) / 0.8) ** 2)) - 0.3 * np.exp(-(((r - 4.6) / 0.5) ** 2)))
    true = st.first_minimum(r, base, smooth=0.0)
    assert true.found and 4.5 < true.r_min < 4.8
    wiggle = base + 0.03 * np.exp(-0.5 * ((r - 3.2) / 0.03) ** 2)  # tiny dip after the peak
    spurious = st.first_minimum(r, wiggle, smooth=0.0, prominence=0.0)
    assert spurious.found and spurious.r_min < 3.3
    fm = st.first_minimum(r, wiggle, smooth=0.0)
    assert fm.r_min == pytest.approx(true.r_min, abs=1e-6)


def test_first_minimum_of_a_lennard_jones_liquid(lj_liquid):
    pos, box, sigma = lj_liquid
    res = st.rdf_from_positions(pos, None, box, 0.5 * box[0, 0], bins=200, backend="cpu")
    fm = st.first_minimum(res)
    assert fm.found
    assert 1.0 * sigma < fm.r_peak < 1.2 * sigma
    assert 1.4 * sigma < fm.r_min < 1.7 * sigma
    assert fm.g_peak > 2.0 and fm.g_min < 1.0
    # about 12 neighbours in the first shell of a dense LJ liquid
    assert 10 < np.interp(fm.r_min, res.edges[1:], res.n_cum) < 14


# --------------------------------------------------------------------------- carbon


def test_graphite_is_all_sp2_and_diamond_all_sp3():
    from ase.build import bulk, graphene
    from ase.lattice.hexagonal import Graphite

    g = Graphite(symbol="C", latticeconstant={"a": 2.46, "c": 6.70}, size=(6, 6, 2))
    cs = st.carbon_hybridisation(g.get_positions(), np.asarray(g.cell), backend="cpu")
    assert cs.fractions["sp2"] == 1.0 and cs.mean_coordination == 3.0
    sheet = graphene(a=2.46, size=(8, 8, 1), vacuum=8.0)
    cs = st.carbon_hybridisation(sheet.get_positions(), np.asarray(sheet.cell), backend="cpu")
    assert cs.fractions["sp2"] == 1.0
    d = bulk("C", "diamond", a=3.567, cubic=True).repeat((3, 3, 3))
    cs = st.carbon_hybridisation(d.get_positions(), np.asarray(d.cell), backend="cpu")
    assert cs.fractions["sp3"] == 1.0 and cs.fractions["sp2"] == 0.0
    chain = np.stack([np.arange(10) * 1.28, np.full(10, 5.0), np.full(10, 5.0)], axis=1)
    cs = st.carbon_hybridisation(chain, np.diag([12.8, 10.0, 10.0]), backend="cpu")
    assert cs.fractions["sp"] == 1.0
    cs = st.carbon_hybridisation(chain, None, backend="cpu")  # open chain: two ends
    assert cs.fractions["sp"] == pytest.approx(0.8) and cs.fractions["other"] == pytest.approx(0.2)


# --------------------------------------------------------------------------- clusters


@pytest.mark.parametrize("box", [np.eye(3) * 20.0, triclinic_box(18.0, 19.0, 20.0, 6.0, -5.0, 4.0)])
def test_clusters_equal_freud_and_brute_force(rng, box):
    freud = pytest.importorskip("freud")
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rc = 3.0
    for trial in range(3):
        pts = rng.uniform(0, 1, (220, 3)) @ box
        if trial == 0:  # a chain straddling the periodic boundary along a
            s = np.stack([np.linspace(-0.3, 0.3, 9) % 1, np.full(9, 0.5), np.full(9, 0.5)], 1)
            pts = np.concatenate([pts[:50], s @ box])
        lab = st.cluster_labels(pts, box, rc, backend="cpu")
        cl = freud.cluster.Cluster()
        cl.compute((freud.box.Box.from_matrix(box.T), pts), neighbors={"r_max": rc})
        assert _same_partition(lab, cl.cluster_idx)
        i, j, _ = nb.pairs_reference(pts, None, box, rc)
        k, ref = connected_components(coo_matrix((np.ones(len(i)), (i, j)),
                                                 shape=(len(pts),) * 2), directed=False)
        assert _same_partition(lab, ref) and lab.max() + 1 == k
        assert k < len(pts) - 20  # not trivial: many atoms are in clusters
        if trial == 0:
            assert len(set(lab[50:].tolist())) == 1  # the chain is one cluster across the edge
    sizes = st.cluster_size_distribution(lab)
    assert (sizes * np.arange(len(sizes))).sum() == len(pts)


def test_cluster_lifetimes_follow_the_definition():
    labels = np.array([
        [0, 0, 1],
        [1, 1, 0],  # same membership, other numbering: the run goes on
        [0, 0, 0],  # 2 joins: new membership for everyone
        [0, 1, 2],
        [0, 0, 1],
        [0, 0, 1],
    ])
    one = st.cluster_lifetimes(labels, np.array([[0, 6]]), dt_ps=0.5)
    np.testing.assert_allclose(one[0], [(1.0 + 0.5 + 1.0) / 3, (1.0 + 0.5 + 1.0) / 3, 0.5])
    two = st.cluster_lifetimes(labels, np.array([[0, 3], [3, 6]]), dt_ps=0.5)
    np.testing.assert_allclose(two[0], [0.75, 0.75, 0.5])
    np.testing.assert_allclose(two[1, :2], [1.0, 1.0])
    assert np.isnan(two[1, 2])


# --------------------------------------------------------------------------- analyze


def test_analyze_per_ion_quantities_equal_brute_force(rng):
    from ase.data import atomic_masses

    box = triclinic_box(16.0, 17.0, 18.0, 2.0, -1.5, 1.0)
    nf, ni, nc = 4, 12, 500
    pos = rng.uniform(0, 1, (nf, ni + nc, 3)) @ box
    pos[:, 1] = pos[:, 0] + [2.0, 0.5, 0.0]  # ions 0 and 1 always paired
    species = np.array(["Na"] * ni + ["C"] * nc)
    traj = Trajectory.from_arrays(pos, box, species, dt_ps=0.25)
    res = st.analyze(traj, cutoff_ion_ion=3.0, cutoff_ion_c=2.8, density_radius=5.0,
                     window=2, backend="cpu")
    assert res.cutoff_source == {"ion-ion": "user", "ion-C": "user"}
    factor = atomic_masses[6] / (4 / 3 * np.pi * 5.0**3) * 1.66053906660
    for f in range(nf):
        na, c = pos[f, :ni], pos[f, ni:]
        r_ic = nb.counts_reference(na, c, box, [2.8, 5.0])
        np.testing.assert_array_equal(res.n_ion_c[f], r_ic.counts[:, 0])
        np.testing.assert_allclose(res.carbon_density[f], r_ic.counts[:, 1] * factor)
        np.testing.assert_array_equal(res.n_ion_ion[f],
                                      nb.counts_reference(na, None, box, 3.0).counts[:, 0])
        d_ii = np.linalg.norm(minimum_image(na[None] - na[:, None], box), axis=-1)
        d_ii[np.diag_indices(ni)] = np.inf
        np.testing.assert_allclose(res.nearest_ion[f], d_ii.min(axis=1))
        d_ic = np.linalg.norm(minimum_image(c[None] - na[:, None], box), axis=-1)
        np.testing.assert_allclose(res.nearest_c[f], d_ic.min(axis=1))
        cn = nb.counts_reference(c, None, box, 1.85).counts[:, 0]
        for i in range(ni):
            jj = np.flatnonzero(d_ic[i] <= 5.0)
            np.testing.assert_allclose(res.sp2_near[f, i], np.mean(cn[jj] == 3))
        np.testing.assert_allclose(res.carbon_fractions[f, 1], np.mean(cn == 3))
        assert res.cluster_size[f, 0] >= 2 and res.cluster_label[f, 0] == res.cluster_label[f, 1]
    assert 0 < np.nanmean(res.sp2_near) < 1
    assert res.windows.tolist() == [[0, 2], [2, 4]]
    np.testing.assert_allclose(res.windowed["n_ion_c"][1], res.n_ion_c[2:4].mean(axis=0))
    assert res.windowed["cluster_size"].shape == (2, ni)
    assert res.cluster_sizes.shape == (nf, ni + 1)
    np.testing.assert_array_equal((res.cluster_sizes * np.arange(ni + 1)).sum(axis=1), ni)


def test_analyze_default_cutoffs_are_first_minima_and_reported(lj_liquid):
    pos, box, sigma = lj_liquid
    n = pos.shape[1]
    species = np.array(["C"] * n, dtype="<U2")
    species[::8] = "Na"  # 32 'ions' inside an LJ liquid of 'carbons'
    traj = Trajectory.from_arrays(pos, box, species)
    res = st.analyze(traj, density_radius=6.0, cc_cutoff=1.85, backend="cpu")
    fm = st.first_minimum(res.rdfs["ion-C"])
    assert res.cutoffs["ion-C"] == pytest.approx(fm.r_min)
    assert res.cutoff_source["ion-C"].startswith("first minimum")
    assert 1.4 * sigma < res.cutoffs["ion-C"] < 1.7 * sigma
    assert 8 < res.n_ion_c.mean() < 13  # 7/8 of the ~12 first-shell neighbours are 'C'
    assert res.cutoff_source["ion-ion"] != "user" and res.n_ion_ion.mean() > 0


def test_analyze_refuses_a_radius_above_half_the_cell(rng):
    pos = rng.uniform(0, 10, (2, 20, 3))
    traj = Trajectory.from_arrays(pos, np.eye(3) * 10.0, ["Na"] * 5 + ["C"] * 15)
    with pytest.raises(ValueError, match="half the shortest"):
        st.analyze(traj, cutoff_ion_ion=3.0, cutoff_ion_c=3.0, density_radius=6.0)


# --------------------------------------------------------------------------- rings


def _graph_rings(edges, n, max_size=8, shortest_path=True):
    from hcanalysis.kernels.rings import ring_size_counts

    i, j = np.array(edges).T
    return ring_size_counts(n, i, j, max_size, shortest_path).tolist()


def test_ring_counts_of_small_graphs():
    cube = [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4),
            (0, 4), (1, 5), (2, 6), (3, 7)]
    assert _graph_rings(cube, 8) == [0, 0, 0, 0, 6, 0, 0, 0, 0]
    prism = [(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 3), (0, 3), (1, 4), (2, 5)]
    assert _graph_rings(prism, 6) == [0, 0, 0, 2, 3, 0, 0, 0, 0]
    # naphthalene and azulene skeletons: the outer 10-ring is the smallest ring through the
    # angle at a fusion atom (King) but not a shortest-path ring (Franzblau)
    naph = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 0), (4, 6), (6, 7), (7, 8), (8, 9),
            (9, 5)]
    assert _graph_rings(naph, 10, 10) == [0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0]
    assert _graph_rings(naph, 10, 10, False) == [0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1]
    azul = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 0), (3, 5), (5, 6), (6, 7), (7, 8), (8, 9),
            (9, 4)]
    assert _graph_rings(azul, 10, 10) == [0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0]
    assert _graph_rings(azul, 10, 6) == [0, 0, 0, 0, 0, 1, 0]  # the 7-ring is above max_size
    assert _graph_rings([(0, 1), (1, 2)], 3) == [0] * 9  # a chain has no ring


def test_ring_statistics_of_graphene_and_diamond():
    from ase.build import bulk, graphene

    sheet = graphene(a=2.46, size=(8, 8, 1), vacuum=8.0)
    rc = st.ring_statistics(sheet.get_positions(), np.asarray(sheet.cell), backend="cpu")
    assert rc[6] == len(sheet) // 2 and rc.sum() == rc[6]  # 3 hexagons per atom
    d = bulk("C", "diamond", a=3.567, cubic=True).repeat((3, 3, 3))
    rc = st.ring_statistics(d.get_positions(), np.asarray(d.cell), backend="cpu")
    assert rc[6] == 2 * len(d) and rc.sum() == rc[6]  # 12 chair six-rings per atom


def test_partner_persistence_counts_one_same_partner():
    """A pair that stays together all window gives 1; an ion whose neighbour changes every
    frame (a different one each time) gives 1/n_frames; each of those neighbours 1/n."""
    from hcanalysis.structure import partner_persistence

    box = np.eye(3) * 50.0
    n_frames = 4
    pos = np.zeros((n_frames, 7, 3))
    pos[:, 0] = [5, 5, 5]
    pos[:, 1] = [8, 5, 5]  # partner of 0, 3 Å, every frame
    pos[:, 2] = [25, 25, 25]  # ion 2: meets ions 3..6 in turn
    for f in range(n_frames):
        for k in range(4):
            pos[f, 3 + k] = [25, 25, 28] if k == f else [5 + 10 * k, 40, 10]
    out = partner_persistence(pos, box, 3.5, [np.arange(4), np.arange(2)])
    assert out.shape == (2, 7)
    assert out[0, 0] == out[0, 1] == 1.0
    assert out[0, 2] == pytest.approx(0.25)
    assert out[1, 2] == pytest.approx(0.5)
    assert out[0, 3:] == pytest.approx(0.25)
    assert out[1, 5:] == pytest.approx(0.0)
