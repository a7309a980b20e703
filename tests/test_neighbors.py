"""Cell-list neighbour search vs brute force, freud and MDAnalysis; CUDA (simulator) vs CPU."""

import numpy as np
import pytest
from conftest import triclinic_box
from hypothesis import given, settings
from hypothesis import strategies as st

from hcanalysis.kernels import neighbors as nb
from hcanalysis.kernels.pbc import perpendicular_widths

ORTHO = np.diag([18.0, 21.0, 24.0])
TILTED = np.array([[20.0, 0.0, 0.0], [9.5, 17.0, 0.0], [-8.0, 7.5, 15.0]])  # strong tilts
BOXES = {"ortho": ORTHO, "tric": triclinic_box(), "tilted": TILTED, "open": None}


def _sorted(i, j, d):
    o = np.lexsort((j, i))
    return i[o], j[o], d[o]


def _points(rng, box, n, spread=(-1.0, 2.0)):
    """Random points, many outside the cell, plus points exactly on faces, edges, corners."""
    h = np.eye(3) * 20.0 if box is None else box
    s = rng.uniform(*spread, (n, 3))
    edge = np.array([[0, 0, 0], [1, 1, 1], [0.5, 0, 1], [1, 0.5, 0], [0, 1, 0.25],
                     [1 - 1e-15, 0.5, 0.5], [-1e-15, 0.5, 0.5], [0.25, 0.75, 1.0]])
    return np.concatenate([s, edge]) @ h


def _limit(box, frac=0.999):
    return 8.0 if box is None else frac * 0.5 * perpendicular_widths(box).min()


@pytest.mark.parametrize("name", list(BOXES))
@pytest.mark.parametrize("self_mode", [True, False])
def test_pairs_counts_histogram_equal_brute_force(rng, name, self_mode):
    box = BOXES[name]
    q = _points(rng, box, 250)
    p = None if self_mode else _points(rng, box, 400)
    for rc in (2.5, _limit(box)):
        i, j, d = _sorted(*nb.neighbor_pairs(q, p, box, rc, backend="cpu"))
        ri, rj, rd = nb.pairs_reference(q, p, box, rc)
        assert len(ri) > 0
        np.testing.assert_array_equal(i, ri)
        np.testing.assert_array_equal(j, rj)
        np.testing.assert_allclose(d, rd, atol=1e-10)
        if self_mode:
            assert np.all(i < j)
        w = rng.random(len(q) if p is None else len(p))
        c = nb.neighbor_counts(q, p, box, [rc, 1.5], weights=w, backend="cpu")
        r = nb.counts_reference(q, p, box, [rc, 1.5], weights=w)
        np.testing.assert_array_equal(c.counts, r.counts)
        np.testing.assert_allclose(c.weighted, r.weighted, atol=1e-12)
        np.testing.assert_allclose(c.nearest, r.nearest, atol=1e-10)
        h = nb.pair_histogram(q, p, box, rc, 37, backend="cpu")
        np.testing.assert_array_equal(h, nb.histogram_reference(q, p, box, rc, 37))
        # counts equal the pair list (self mode: each pair counted on both atoms)
        per = np.bincount(ri, minlength=len(q))
        if self_mode:
            per = per + np.bincount(rj, minlength=len(q))
        np.testing.assert_array_equal(c.counts[:, 0], per)


def test_points_wrapped_or_shifted_by_lattice_vectors_give_same_pairs(rng):
    box = TILTED
    q = rng.uniform(0, 1, (200, 3)) @ box
    shift = rng.integers(-3, 4, (200, 3)) @ box
    a = _sorted(*nb.neighbor_pairs(q, None, box, 4.0, backend="cpu"))
    b = _sorted(*nb.neighbor_pairs(q + shift, None, box, 4.0, backend="cpu"))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_allclose(a[2], b[2], atol=1e-10)


def test_pair_across_the_periodic_boundary_of_a_tilted_cell():
    box = TILTED
    a = np.array([[0.2, 0.2, 0.2]])
    b = a + box[0] + box[1] - box[2] + np.array([[0.5, -0.3, 0.4]])  # image + small offset
    i, j, d = nb.neighbor_pairs(a, b, box, 1.0, backend="cpu")
    assert len(i) == 1
    assert d[0] == pytest.approx(np.linalg.norm([0.5, -0.3, 0.4]), abs=1e-12)


def test_cutoff_above_half_the_shortest_width_is_refused(rng):
    q = rng.uniform(0, 15, (10, 3))
    w = perpendicular_widths(TILTED).min()
    with pytest.raises(ValueError, match="half the shortest perpendicular width"):
        nb.neighbor_pairs(q, None, TILTED, 0.5 * w + 0.01)
    with pytest.raises(ValueError, match="positive"):
        nb.neighbor_counts(q, None, ORTHO, 0.0)
    nb.neighbor_pairs(q, None, TILTED, 0.5 * w)  # exactly at the limit is allowed


def test_empty_and_tiny_inputs():
    i, j, d = nb.neighbor_pairs(np.zeros((0, 3)), None, ORTHO, 3.0, backend="cpu")
    assert len(i) == len(j) == len(d) == 0
    c = nb.neighbor_counts(np.zeros((1, 3)), None, ORTHO, 3.0, backend="cpu")
    assert c.counts[0, 0] == 0 and np.isinf(c.nearest[0])
    c = nb.neighbor_counts(np.zeros((2, 3)), np.zeros((0, 3)), ORTHO, 3.0, backend="cpu")
    assert c.counts.sum() == 0


@pytest.mark.parametrize("name", ["ortho", "tric"])
def test_agrees_with_freud_aabb_and_linkcell(rng, name):
    freud = pytest.importorskip("freud")
    box = BOXES[name]
    q = rng.uniform(0, 1, (300, 3)) @ box
    p = rng.uniform(0, 1, (900, 3)) @ box
    rc = 4.0
    i, j, d = _sorted(*nb.neighbor_pairs(q, p, box, rc, backend="cpu"))
    fbox = freud.box.Box.from_matrix(box.T)
    p32 = p.astype(np.float32)
    q32 = q.astype(np.float32)
    for nq in (freud.locality.AABBQuery(fbox, p32), freud.locality.LinkCell(fbox, p32, rc)):
        nl = nq.query(q32, {"r_max": rc}).toNeighborList()
        fi, fj, fd = _sorted(nl.query_point_indices.astype(np.int64),
                             nl.point_indices.astype(np.int64), nl.distances.astype(np.float64))
        # freud works in float32: ignore pairs within 1e-4 Å of the cutoff
        ours = {(a, b) for a, b, x in zip(i, j, d, strict=True) if abs(x - rc) > 1e-4}
        theirs = {(a, b) for a, b, x in zip(fi, fj, fd, strict=True) if abs(x - rc) > 1e-4}
        assert ours == theirs and len(ours) > 1000
        np.testing.assert_allclose(fd, d[np.isin(i * 10**6 + j, fi * 10**6 + fj)], atol=1e-4)


@pytest.mark.parametrize("name", ["ortho", "tric"])
def test_agrees_with_mdanalysis_capped_distance(rng, name):
    from MDAnalysis.lib.distances import capped_distance, self_capped_distance
    from MDAnalysis.lib.mdamath import triclinic_box as mda_box

    box = BOXES[name]
    dims = mda_box(*box).astype(np.float32)
    q = rng.uniform(0, 1, (300, 3)) @ box
    p = rng.uniform(0, 1, (900, 3)) @ box
    rc = 4.0
    i, j, d = _sorted(*nb.neighbor_pairs(q, p, box, rc, backend="cpu"))
    pairs, dist = capped_distance(q, p, rc, box=dims)
    mi, mj, md = _sorted(pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64), dist)
    np.testing.assert_array_equal(i, mi)
    np.testing.assert_array_equal(j, mj)
    np.testing.assert_allclose(d, md, atol=1e-4)
    i, j, d = _sorted(*nb.neighbor_pairs(q, None, box, rc, backend="cpu"))
    pairs, dist = self_capped_distance(q, rc, box=dims)
    pairs = np.sort(pairs, axis=1)
    mi, mj, md = _sorted(pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64), dist)
    np.testing.assert_array_equal(i, mi)
    np.testing.assert_array_equal(j, mj)


def test_connected_components_equal_scipy(rng):
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components as cc

    n = 300
    i = rng.integers(0, n, 250)
    j = rng.integers(0, n, 250)
    lab = nb.connected_components(n, i, j)
    k, ref = cc(coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)), directed=False)
    assert lab.max() + 1 == k
    # same partition: a bijection between the two labellings
    pairs = set(zip(lab.tolist(), ref.tolist(), strict=True))
    assert len(pairs) == k
    # canonical numbering: first appearance order
    _, first = np.unique(lab, return_index=True)
    assert np.all(np.diff(first) > 0)


@pytest.mark.cudasim
@pytest.mark.parametrize("name", ["tilted", "open"])
@pytest.mark.parametrize("self_mode", [True, False])
def test_cuda_equals_cpu_under_simulator(rng, name, self_mode):
    box = BOXES[name]
    q = _points(rng, box, 24)
    p = None if self_mode else _points(rng, box, 40)
    rc = _limit(box)
    a = _sorted(*nb.neighbor_pairs(q, p, box, rc, backend="cpu"))
    b = _sorted(*nb.neighbor_pairs(q, p, box, rc, backend="cuda"))
    assert len(a[0]) > 0
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, atol=1e-12)
    w = rng.random(len(q) if p is None else len(p))
    c1 = nb.neighbor_counts(q, p, box, [rc, 3.0], weights=w, backend="cpu")
    c2 = nb.neighbor_counts(q, p, box, [rc, 3.0], weights=w, backend="cuda")
    np.testing.assert_array_equal(c1.counts, c2.counts)
    np.testing.assert_allclose(c1.weighted, c2.weighted, atol=1e-12)
    np.testing.assert_allclose(c1.nearest, c2.nearest, atol=1e-12)
    h1 = nb.pair_histogram(q, p, box, rc, 16, backend="cpu")
    h2 = nb.pair_histogram(q, p, box, rc, 16, backend="cuda")
    np.testing.assert_array_equal(h1, h2)


@settings(max_examples=40, deadline=None)
@given(
    diag=st.tuples(*[st.floats(6.0, 20.0)] * 3),
    tilt=st.tuples(*[st.floats(-0.5, 0.5)] * 3),
    frac=st.floats(0.05, 1.0),
    n=st.integers(1, 40),
    m=st.integers(0, 40),
    seed=st.integers(0, 2**31),
)
def test_random_triclinic_cells_property(diag, tilt, frac, n, m, seed):
    a, b, c = diag
    box = np.array([[a, 0, 0], [tilt[0] * a, b, 0], [tilt[1] * a, tilt[2] * b, c]])
    r = np.random.default_rng(seed)
    q = r.uniform(-0.5, 1.5, (n, 3)) @ box
    p = None if m == 0 else r.uniform(0, 1, (m, 3)) @ box
    rc = frac * 0.5 * perpendicular_widths(box).min()
    i, j, d = _sorted(*nb.neighbor_pairs(q, p, box, rc, backend="cpu"))
    ri, rj, rd = nb.pairs_reference(q, p, box, rc)
    np.testing.assert_array_equal(i, ri)
    np.testing.assert_array_equal(j, rj)
    np.testing.assert_allclose(d, rd, atol=1e-9)
    c1 = nb.neighbor_counts(q, p, box, rc, backend="cpu")
    np.testing.assert_array_equal(c1.counts, nb.counts_reference(q, p, box, rc).counts)
