"""Void tessellation against peers on the same voxel image.

porespy has no periodic local thickness; the two-cavity structure keeps all void away from
the cell faces, so periodic and non-periodic treatments coincide and the comparison is fair.
"""

from __future__ import annotations

import numpy as np
import pytest
from voids_geometry import two_cavities

from hcanalysis import voids

ps = pytest.importorskip("porespy")


@pytest.fixture(scope="module")
def cav():
    pos, box, _c1, _c2 = two_cavities()
    return voids.tessellate(pos, box, None, radii=1.7, spacing=0.25, backend="cpu")


def test_void_is_away_from_the_faces(cav):
    m = cav.mask
    assert not (m[0].any() or m[-1].any() or m[:, 0].any() or m[:, -1].any()
                or m[:, :, 0].any() or m[:, :, -1].any())


def test_porosity_matches_porespy(cav):
    assert cav.porosity == pytest.approx(ps.metrics.porosity(cav.mask), abs=1e-12)


def test_exact_distance_vs_voxel_edt(cav):
    from scipy import ndimage

    m = cav.mask
    h = cav.spacing[0]
    edt = ndimage.distance_transform_edt(m) * h
    diff = edt[m] - cav.distance[m]
    # the EDT measures to the nearest solid voxel centre, which lies beyond the true surface:
    # never below the exact value, and at most about one voxel above it
    assert diff.min() >= -1e-9
    assert diff.max() <= h
    assert 0.0 < diff.mean() < 0.5 * h


def test_local_thickness_vs_porespy(cav):
    m = cav.mask
    h = cav.spacing[0]
    lt_ps = ps.filters.local_thickness(m, method="dt") * h  # integer voxel radii
    ours = cav.local_thickness[m]
    theirs = lt_ps[m]
    assert abs(ours.mean() - theirs.mean()) < 0.1
    for q in (50, 90):
        assert abs(np.percentile(ours, q) - np.percentile(theirs, q)) <= h
    # the large cavities dominate the volume in both
    frac, edges = cav.psd(np.arange(0.0, 3.51, 0.5))
    big = np.histogram(theirs, edges)[0] / theirs.size
    assert frac[-1] > 0.5 and big[-1] > 0.5


def _write_cssr(path, pos, box):
    lengths = np.linalg.norm(box, axis=1)
    a, b, c = box

    def ang(u, v):
        return np.degrees(np.arccos(u @ v / np.linalg.norm(u) / np.linalg.norm(v)))

    frac = (pos @ np.linalg.inv(box)) % 1.0
    with open(path, "w") as f:
        f.write(f"{lengths[0]:38.4f}{lengths[1]:8.4f}{lengths[2]:8.4f}\n")
        f.write(f"{ang(b, c):21.3f}{ang(a, c):8.3f}{ang(a, b):8.3f}"
                "    SPGR =  1 P 1         OPT = 1\n")
        f.write(f"{len(pos):4d}   0\n0 hcanalysis\n")
        for i, s in enumerate(frac):
            f.write(f"{i + 1:4d} C   {s[0]:9.5f} {s[1]:9.5f} {s[2]:9.5f}"
                    "    0   0   0   0   0   0   0   0  0.000\n")


@pytest.mark.parametrize("case", ["slit", "cavity", "channel"])
def test_lcd_pld_vs_zeopp(case, tmp_path):
    """Zeo++ (pyzeo) on the same atoms: Di (largest included sphere) = our LCD and Df (largest
    free sphere, any direction) = our largest per-axis PLD, within the grid resolution."""
    pyzeo = pytest.importorskip("pyzeo")
    from voids_geometry import carve, cubic_matrix, cylinder_x, graphene_slit, sphere

    cube = np.diag([18.0] * 3)
    if case == "slit":
        pos, box = graphene_slit(7.0)
    elif case == "cavity":
        pos, box = carve(cubic_matrix(12)[0], cube, sphere([9.0, 9.0, 9.0], 3.0, cube)), cube
    else:
        pos, box = carve(cubic_matrix(12)[0], cube, cylinder_x(9.0, 9.0, 2.5, cube)), cube
    vm = voids.tessellate(pos, box, None, radii=1.7, spacing=0.25, backend="cpu")
    _write_cssr(tmp_path / "s.cssr", pos, box)
    (tmp_path / "r.rad").write_text("C 1.7\n")
    net = pyzeo.AtomNetwork.read_from_CSSR(str(tmp_path / "s.cssr"), rad_flag=True,
                                           rad_file=str(tmp_path / "r.rad"))
    net.calculate_free_sphere_parameters(str(tmp_path / "s.res"))
    di, df = (float(x) for x in (tmp_path / "s.res").read_text().split()[1:3])
    steps = vm.box / np.asarray(vm.shape)[:, None]
    tol = 2 * 0.5 * np.linalg.norm(steps.sum(0))  # diameter: 2 x grid half-diagonal
    assert abs(vm.lcd - di) <= tol
    assert abs(vm.pld.max() - df) <= tol
    assert (df == 0.0) == (not vm.percolates.any())
