"""LAMMPS data files: styles, image flags, triclinic tilts, masses -> elements; and the real
LAMMPS files shipped with MDAnalysis' test data, against MDAnalysis' own reading."""

from __future__ import annotations

import numpy as np
import pytest

import hcanalysis as hc
from hcanalysis.errors import TrajectoryFormatError

HEAD = """LAMMPS data file written by hand

3 atoms
2 atom types

0.0 10.0 xlo xhi
-1.0 9.0 ylo yhi
0.5 10.5 zlo zhi
{tilt}
Masses

1 12.011  # C
2 22.98977

Atoms{style}

"""
ROWS = {
    "atomic": ["3 2 1.0 2.0 3.0", "1 1 4.0 5.0 6.0", "2 1 7.0 8.0 9.0"],
    "charge": ["3 2 1.0 1.0 2.0 3.0", "1 1 -0.5 4.0 5.0 6.0", "2 1 -0.5 7.0 8.0 9.0"],
    "full": ["3 1 2 1.0 1.0 2.0 3.0", "1 1 1 -0.5 4.0 5.0 6.0", "2 1 1 -0.5 7.0 8.0 9.0"],
}
EXPECT = np.array([[4.0, 5.0, 6.0], [7.0, 8.0, 9.0], [1.0, 2.0, 3.0]])  # id order


def _write(tmp_path, style, *, comment=True, images=False, tilt="", extra=""):
    rows = ROWS[style]
    if images:
        rows = [r + f" {k - 1} 0 {-k}" for k, r in enumerate(rows)]
    text = HEAD.format(tilt=tilt, style=f" # {style}" if comment else "")
    path = tmp_path / f"{style}.data"
    path.write_text(text + "\n".join(rows) + "\n" + extra)
    return path


@pytest.mark.parametrize("style", ["atomic", "charge", "full"])
@pytest.mark.parametrize("comment", [True, False])
def test_styles(tmp_path, style, comment):
    tr = hc.load(_write(tmp_path, style, comment=comment))
    assert tr.n_frames == 1 and tr.n_atoms == 3
    np.testing.assert_allclose(tr.positions()[0], EXPECT)
    assert list(tr.species) == ["C", "C", "Na"]
    assert any("type 2 (22.9898 amu) -> Na" in n for n in tr.notes)
    assert tr.source.data.style == style
    assert comment or any(f"'{style}' assumed from" in n for n in tr.notes)
    np.testing.assert_allclose(tr.box(0), np.diag([10.0, 10.0, 10.0]))
    np.testing.assert_allclose(tr.source.origins[0], [0.0, -1.0, 0.5])


def test_images_tilts_velocities(tmp_path):
    vel = "\nVelocities\n\n2 0.2 0 0\n1 0.1 0 0\n3 0.3 0 0\n"
    path = _write(tmp_path, "full", images=True, tilt="1.5 -2.0 0.5 xy xz yz\n", extra=vel)
    tr = hc.load(path, type_map={1: "C", 2: "Li"})
    np.testing.assert_allclose(tr.box(0), [[10, 0, 0], [1.5, 10, 0], [-2.0, 0.5, 10]])
    np.testing.assert_array_equal(tr.image_flags()[0], [[0, 0, -1], [1, 0, -2], [-1, 0, 0]])
    h = tr.box(0)
    unwrapped = EXPECT + tr.image_flags()[0] @ h  # cell vectors, not box lengths
    np.testing.assert_allclose(tr.positions(unwrap=True)[0], unwrapped)
    np.testing.assert_allclose(tr.velocities()[0][:, 0], [0.1, 0.2, 0.3])
    assert list(tr.species) == ["C", "C", "Li"]


def test_lammps_written_data_file(lammps_runs):
    """write_data output of the fixture run: same atoms, box and species as its first frame."""
    for geom in ("orth", "tri"):
        data = hc.load(lammps_runs[geom]["data"])
        dump = hc.load(lammps_runs[geom]["x_img_v"], type_map={1: "C", 2: "Na"})
        np.testing.assert_array_equal(data.species, dump.species)
        np.testing.assert_allclose(data.box(0), dump.box(0), atol=1e-12)
        np.testing.assert_allclose(data.positions()[0], dump.positions(frames=[0])[0],
                                   atol=1e-8)
        np.testing.assert_array_equal(data.image_flags()[0], dump.image_flags(frames=[0])[0])


def test_type_labels(tmp_path):
    text = (HEAD.format(tilt="", style=" # atomic").replace("Masses", "Atom Type Labels\n\n"
            "1 C\n2 Na\n\nMasses") + "1 C 0 0 0\n2 Na 1 1 1\n3 Na 2 2 2\n")
    path = tmp_path / "labels.data"
    path.write_text(text)
    tr = hc.load(path)
    assert list(tr.species) == ["C", "Na", "Na"]


# ------------------------------------------------------------------ real files
def _mda_files():
    pytest.importorskip("MDAnalysisTests")
    from MDAnalysisTests import datafiles as D

    return D


DATA_FILES = [
    ("LAMMPSdata", {}),
    ("LAMMPSdata2", {}),
    ("LAMMPSdata_mini", {}),
    ("LAMMPSdata_triclinic", {"atom_style": "id type x y z"}),
    ("LAMMPSdata_deletedatoms", {}),
    ("LAMMPSdata_many_bonds", {}),
    ("LAMMPSdata_additional_columns", {}),
    ("LAMMPSdata_PairIJ", {}),
    ("LAMMPS_image_vf", {}),
    ("LAMMPS_chain", {}),
]


@pytest.mark.parametrize("name,kw", DATA_FILES, ids=[d[0] for d in DATA_FILES])
def test_mdanalysis_data_files(name, kw):
    import MDAnalysis as mda
    from MDAnalysis.lib.mdamath import triclinic_box

    path = getattr(_mda_files(), name)
    tr = hc.load(path, format="lammps-data")
    u = mda.Universe(path, format="DATA", **kw)
    assert tr.n_atoms == len(u.atoms)
    np.testing.assert_array_equal(tr.source.ids, u.atoms.ids)
    np.testing.assert_allclose(tr.positions()[0], u.atoms.positions, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(triclinic_box(*tr.box(0)), u.dimensions, rtol=1e-6, atol=1e-4)
    if hasattr(u.atoms, "masses") and tr.source.data.masses:
        # wherever the masses name an element, it is the one of that mass
        from hcanalysis.io.elements import element_from_mass

        for sp, m in zip(tr.species, u.atoms.masses, strict=True):
            el = element_from_mass(m)
            assert sp == (el if el is not None else sp)


DUMP_FILES = [
    ("LAMMPSDUMP", "auto"),
    ("LAMMPSDUMP_long", "auto"),
    ("LAMMPSDUMP_triclinic", "auto"),
    ("LAMMPSDUMP_image_vf", "auto"),
    ("LAMMPSDUMP_allcoords", "unwrapped"),
    ("LAMMPSDUMP_allinfo", "auto"),
    ("LAMMPSDUMP_nomass_elemx", "auto"),
    ("LAMMPSDUMP_additional_columns", "auto"),
    ("LAMMPSDUMP_chain1", "auto"),
    ("LAMMPSDUMP_non_linear", "auto"),
    ("WIN_LAMMPSDUMP", "auto"),
]


@pytest.mark.parametrize("name,conv", DUMP_FILES, ids=[d[0] for d in DUMP_FILES])
def test_mdanalysis_dump_files(name, conv, tmp_path, monkeypatch):
    """MDAnalysis shifts positions by the box origin, and scaled ones by it twice (s·H − o,
    where LAMMPS means o + s·H)."""
    import MDAnalysis as mda
    from MDAnalysis.lib.mdamath import triclinic_box

    monkeypatch.setenv("HCANALYSIS_INDEX_DIR", str(tmp_path))
    path = getattr(_mda_files(), name)
    tr = hc.load(path, format="lammps-dump")
    u = mda.Universe(path, format="LAMMPSDUMP", lammps_coordinate_convention=conv)
    pm = np.array([u.atoms.positions.astype(np.float64) for _ in u.trajectory])
    dims = np.array([ts.dimensions.copy() for ts in u.trajectory])
    assert tr.n_frames == len(u.trajectory) and tr.n_atoms == len(u.atoms)
    o = tr.source.origins[:, None, :]
    ours = tr.positions() - (2 * o if tr.source.layout.scaled else o)
    np.testing.assert_allclose(ours, pm, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(np.array([triclinic_box(*b) for b in tr.boxes()]), dims,
                               rtol=1e-6, atol=1e-4)
    np.testing.assert_array_equal(tr.source.ids, u.atoms.ids)
    if tr.has_image_flags:
        img = np.array([np.asarray(u.trajectory.ts.data.get("image", np.zeros(0)))
                        for _ in u.trajectory[:1]])
        if img.size:
            np.testing.assert_array_equal(tr.image_flags(frames=[0]), img)


def test_mdanalysis_dump_without_coordinates():
    path = _mda_files().LAMMPSDUMP_nocoords
    with pytest.raises(TrajectoryFormatError,
                       match=r"line 9: unknown column layout 'ITEM: ATOMS id type'.*dump custom"):
        hc.load(path, format="lammps-dump")


def test_mdanalysis_data_as_topology():
    """A dump whose elements come from the masses of the data file that started the run."""
    D = _mda_files()
    tr = hc.load(D.LAMMPSDUMP_image_vf, topology=D.LAMMPS_image_vf)
    data = hc.load(D.LAMMPS_image_vf)
    np.testing.assert_array_equal(tr.species, data.species)
    assert any("from image_vf.data" in n for n in tr.notes)
