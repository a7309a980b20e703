"""H5MD writer and reader: round trips, layout, lazy slicing, standard files, bad inputs."""

from __future__ import annotations

import pickle
import warnings

import h5py
import numpy as np
import pytest
from conftest import triclinic_box

import hcanalysis as hca
from hcanalysis.errors import HCAnalysisError, TrajectoryFormatError
from hcanalysis.io import h5md
from hcanalysis.io.h5md import H5MDSource


def make_traj(rng, n_frames=23, n_atoms=41, npt=True, images=True, velocities=True,
              species=None):
    box0 = triclinic_box()
    scale = 1.0 + 0.02 * np.sin(np.arange(n_frames))[:, None, None] if npt else 1.0
    boxes = box0[None] * scale if npt else box0
    frac = rng.random((n_frames, n_atoms, 3))
    pos = np.einsum("fak,fkj->faj", frac, np.broadcast_to(boxes, (n_frames, 3, 3)))
    if species is None:
        nna = min(9, n_atoms // 2)
        species = ["C"] * (n_atoms - nna) + ["Na"] * nna
    img = rng.integers(-4, 5, (n_frames, n_atoms, 3)).astype(np.int32) if images else None
    vel = rng.normal(size=(n_frames, n_atoms, 3)) if velocities else None
    t = 0.5 + 0.25 * np.arange(n_frames)
    return hca.Trajectory.from_arrays(pos, boxes, species, time_ps=t, images=img,
                                      velocities=vel), pos, img, vel


def test_roundtrip_float64_bitwise(tmp_path, rng):
    traj, pos, img, vel = make_traj(rng)
    out = hca.write_h5md(traj, tmp_path / "a.h5", dtype=np.float64)
    back = hca.load(out)
    assert back.n_frames == traj.n_frames and back.n_atoms == traj.n_atoms
    assert np.array_equal(back.positions(), pos)
    assert np.array_equal(back.image_flags(), img)
    assert np.array_equal(back.velocities(), vel)
    assert np.array_equal(back.boxes(), traj.boxes())
    assert np.array_equal(back.time_ps, traj.time_ps)
    assert list(back.species) == list(traj.species)
    assert not back.box_is_constant
    assert not back.coords_unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.array_equal(back.positions(unwrap=True), traj.positions(unwrap=True))


def test_roundtrip_float32_default(tmp_path, rng):
    traj, pos, img, _ = make_traj(rng, velocities=False)
    back = hca.load(hca.write_h5md(traj, tmp_path / "a.h5"))
    assert np.array_equal(back.positions(), pos.astype(np.float32).astype(np.float64))
    assert np.array_equal(back.image_flags(), img)
    assert not back.has_velocities
    with h5py.File(tmp_path / "a.h5") as f:
        assert f["particles/all/position/value"].dtype == np.float32


def test_unwrapped_flag_and_nonelement_species(tmp_path, rng):
    pos = rng.random((5, 6, 3)) * 30
    species = ["1", "1", "2", "2", "3", "1"]
    traj = hca.Trajectory.from_arrays(pos, np.eye(3) * 10, species, unwrapped=True)
    back = hca.load(hca.write_h5md(traj, tmp_path / "u.h5", dtype=np.float64))
    assert back.coords_unwrapped
    assert list(back.species) == species
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.array_equal(back.positions(unwrap=True), pos)
    with h5py.File(tmp_path / "u.h5") as f:
        sp = f["particles/all/species"]
        assert list(sp[()]) == [1, 1, 2, 2, 3, 1]
        assert [s.decode() if isinstance(s, bytes) else s for s in sp.attrs["names"]] == [
            "1", "2", "3"]


def test_layout(tmp_path, rng):
    traj, *_ = make_traj(rng, n_frames=100, n_atoms=600)
    hca.write_h5md(traj, tmp_path / "l.h5")
    with h5py.File(tmp_path / "l.h5") as f:
        assert list(f["h5md"].attrs["version"]) == [1, 1]
        assert f["h5md/creator"].attrs["name"] == "hcanalysis"
        assert "name" in f["h5md/author"].attrs
        g = f["particles/all"]
        pv = g["position/value"]
        assert pv.shape == (100, 600, 3)
        assert pv.chunks == (64, 512, 3)
        assert pv.compression == "gzip" and pv.shuffle
        assert pv.attrs["unit"] == "Angstrom"
        assert g["position/time"].attrs["unit"] == "ps"
        assert g["box"].attrs["dimension"] == 3
        assert [b.decode() if isinstance(b, bytes) else b
                for b in g["box"].attrs["boundary"]] == ["periodic"] * 3
        assert g["box/edges/value"].shape == (100, 3, 3)
        # step/time of box and image are hard links to the position's
        assert g["box/edges/time"] == g["position/time"]
        assert g["image/step"] == g["position/step"]
        assert g["image/value"].dtype == np.int32
        assert g["velocity/value"].attrs["unit"] == "Angstrom ps-1"
        assert g["species"].dtype.kind == "i"
        assert list(g["species"].attrs["codes"]) == [6, 11]
        meta = f["parameters/hcanalysis"].attrs
        assert meta["hcanalysis_version"] == hca.__version__
        assert "source_file" in meta and "created" in meta


def test_lzf_and_small_chunks(tmp_path, rng):
    traj, pos, *_ = make_traj(rng, n_frames=7, n_atoms=5)
    hca.write_h5md(traj, tmp_path / "z.h5", compression="lzf", dtype=np.float64)
    with h5py.File(tmp_path / "z.h5") as f:
        assert f["particles/all/position/value"].compression == "lzf"
        assert f["particles/all/position/value"].chunks == (7, 5, 3)
    assert np.array_equal(hca.load(tmp_path / "z.h5").positions(), pos)


@pytest.mark.parametrize("case", range(6))
def test_lazy_slicing(tmp_path, rng, case):
    traj, pos, img, _ = make_traj(rng, n_frames=150, n_atoms=700)
    back = hca.load(hca.write_h5md(traj, tmp_path / "s.h5", dtype=np.float64,
                                   chunk_frames=16, chunk_atoms=64))
    frames = [slice(None), slice(3, 120, 7), np.array([149, 0, 5, 5, 77]), slice(10, 11),
              np.arange(40, 60), slice(None, None, 31)][case]
    atoms = [np.array([3, 690, 17, 17, 400]), np.arange(100, 180), None,
             rng.choice(700, 250, replace=False), np.array([699]),
             np.sort(rng.choice(700, 3, replace=False))][case]
    fidx = np.arange(150)[frames]
    aidx = np.arange(700) if atoms is None else atoms
    assert np.array_equal(back.positions(atoms, frames=frames), pos[fidx][:, aidx])
    assert np.array_equal(back.image_flags(atoms, frames=frames), img[fidx][:, aidx])


def test_select_and_species_view(tmp_path, rng):
    traj, pos, img, _ = make_traj(rng)
    back = hca.load(hca.write_h5md(traj, tmp_path / "na.h5", select="Na", dtype=np.float64))
    na = np.flatnonzero(traj.species == "Na")
    assert back.n_atoms == 9 and set(back.species) == {"Na"}
    assert np.array_equal(back.positions(), pos[:, na])
    assert np.array_equal(back.image_flags(), img[:, na])
    with h5py.File(tmp_path / "na.h5") as f:
        assert f["parameters/hcanalysis"].attrs["selection"] == "'Na'"


def test_streaming_blocks(tmp_path, rng, monkeypatch):
    traj, pos, *_ = make_traj(rng, n_frames=200, n_atoms=10)
    sizes = []
    real_read = traj.source.read

    def spy(frames, atoms=None):
        sizes.append(len(frames))
        return real_read(frames, atoms)

    monkeypatch.setattr(traj.source, "read", spy)
    monkeypatch.setattr(h5md, "WRITE_BLOCK_BYTES", 10 * 3 * 8 * 3 * 20)
    hca.write_h5md(traj, tmp_path / "b.h5", dtype=np.float64, chunk_frames=8,
                   show_progress=True)
    assert max(sizes) <= 24 and sum(sizes) == 200
    assert np.array_equal(hca.load(tmp_path / "b.h5").positions(), pos)


def test_never_overwrite(tmp_path, rng):
    traj, *_ = make_traj(rng, n_frames=3, n_atoms=4)
    out = hca.write_h5md(traj, tmp_path / "o.h5")
    mtime = out.stat().st_mtime_ns
    with pytest.raises(HCAnalysisError, match="file exists.*overwrite=True"):
        hca.write_h5md(traj, out)
    assert out.stat().st_mtime_ns == mtime
    hca.write_h5md(traj, out, overwrite=True)
    back = hca.load(out)
    with pytest.raises(HCAnalysisError, match="this is the input trajectory"):
        hca.write_h5md(back, out, overwrite=True)
    assert hca.load(out).n_frames == 3
    assert not list(tmp_path.glob(".*"))  # no temporary (hidden partial) file left behind


def test_pickle_source(tmp_path, rng):
    traj, pos, *_ = make_traj(rng, n_frames=5, n_atoms=4)
    back = hca.load(hca.write_h5md(traj, tmp_path / "p.h5", dtype=np.float64))
    back.positions()  # opens the handle
    clone = pickle.loads(pickle.dumps(back.source))
    assert np.array_equal(clone.read(np.arange(5)).positions, pos)


# ------------------------------------------------------------------ other writers
def test_mdanalysis_reads_our_file(tmp_path, rng):
    from MDAnalysis.lib.mdamath import triclinic_box as mda_box

    traj, pos, _, vel = make_traj(rng, n_frames=6, n_atoms=8)
    out = hca.write_h5md(traj, tmp_path / "m.h5", dtype=np.float64)
    from MDAnalysis.coordinates.H5MD import H5MDReader

    r = H5MDReader(str(out))
    assert r.n_frames == 6 and r.n_atoms == 8
    for i, ts in enumerate(r):
        np.testing.assert_allclose(ts.positions, pos[i], atol=1e-4)
        np.testing.assert_allclose(ts.dimensions, mda_box(*traj.box(i)), atol=1e-3)
        np.testing.assert_allclose(ts.time, traj.time_ps[i])
        np.testing.assert_allclose(ts.velocities, vel[i], atol=1e-5)


def test_read_mdanalysis_writer_output(tmp_path):
    mda = pytest.importorskip("MDAnalysis")
    from MDAnalysis.lib.mdamath import triclinic_vectors
    from MDAnalysisTests.datafiles import GRO, XTC

    u = mda.Universe(GRO, XTC)
    sel = u.atoms[:300]
    out = tmp_path / "mda.h5md"
    with mda.Writer(str(out), n_atoms=sel.n_atoms, format="H5MD") as w:
        for _ in u.trajectory[:5]:
            w.write(sel)
    from MDAnalysis.coordinates.H5MD import H5MDReader

    ours = hca.load(out)
    assert ours.n_frames == 5 and ours.n_atoms == 300
    for i, ts in enumerate(H5MDReader(str(out))):
        np.testing.assert_allclose(ours.positions(frames=i)[0], ts.positions, atol=1e-5)
        np.testing.assert_allclose(ours.positions(frames=i)[0],
                                   u.trajectory[i].positions[:300], atol=1e-4)
        np.testing.assert_allclose(ours.box(i), triclinic_vectors(ts.dimensions), atol=1e-4)
        assert ours.time_ps[i] == pytest.approx(ts.time)
    assert any("MDAnalysis" in n for n in ours.notes)


def test_read_mdanalysis_test_file_in_nm():
    mda = pytest.importorskip("MDAnalysis")
    from MDAnalysis.lib.mdamath import triclinic_vectors
    from MDAnalysisTests.datafiles import H5MD_xvf, TPR_xvf

    ours = hca.load(H5MD_xvf)
    u = mda.Universe(TPR_xvf, H5MD_xvf)
    assert ours.n_frames == u.trajectory.n_frames
    for i, ts in enumerate(u.trajectory):
        np.testing.assert_allclose(ours.positions(frames=i)[0], ts.positions, atol=2e-4)
        np.testing.assert_allclose(ours.velocities(frames=i)[0], ts.velocities, rtol=1e-5,
                                   atol=1e-4)
        np.testing.assert_allclose(ours.box(i), triclinic_vectors(ts.dimensions), atol=1e-3)
    assert any("nm" in n for n in ours.notes)


def _standard_file(path, pos, edges, **extra):
    with h5py.File(path, "w") as f:
        f.create_group("h5md").attrs["version"] = [1, 1]
        g = f.create_group("particles/atoms")
        p = g.create_group("position")
        p["value"] = pos
        for k, v in extra.items():
            if k == "species":
                g["species"] = v
            elif k in ("step", "time"):
                p[k] = v[0]
                if v[1] is not None:
                    p[k].attrs["offset"] = v[1]
        if edges is not None:
            b = g.create_group("box")
            b.attrs["dimension"] = 3
            b.attrs["boundary"] = ["periodic"] * 3
            b["edges"] = edges


def test_standard_cuboid_time_independent_box(tmp_path, rng):
    pos = rng.random((4, 3, 3)) * 5
    _standard_file(tmp_path / "c.h5", pos, np.array([5.0, 6.0, 7.0]),
                   species=np.array([11, 6, 6]), step=(10, 100), time=(0.02, 2.0))
    t = hca.load(tmp_path / "c.h5")
    assert np.array_equal(t.positions(), pos)
    assert np.array_equal(t.box(2), np.diag([5.0, 6.0, 7.0]))
    assert t.box_is_constant
    assert list(t.species) == ["Na", "C", "C"]
    np.testing.assert_allclose(t.time_ps, 2.0 + 0.02 * np.arange(4))
    assert any("atomic numbers" in n for n in t.notes)
    t2 = hca.load(tmp_path / "c.h5", dt_ps=0.1)
    np.testing.assert_allclose(t2.time_ps, 0.1 * np.arange(4))


def test_standard_matrix_box_without_species(tmp_path, rng):
    pos = rng.random((2, 3, 3))
    _standard_file(tmp_path / "m.h5", pos, triclinic_box())
    t = hca.load(tmp_path / "m.h5")
    assert np.array_equal(t.box(1), triclinic_box())
    assert list(t.species) == ["X"] * 3
    assert any("no species" in n for n in t.notes)


# ------------------------------------------------------------------ bad inputs
def test_missing_box(tmp_path, rng):
    _standard_file(tmp_path / "nb.h5", rng.random((2, 3, 3)), None)
    with pytest.raises(TrajectoryFormatError, match=r"nb\.h5: /particles/atoms/box is missing"):
        hca.load(tmp_path / "nb.h5")


def test_nan_coordinates_name_frame_and_atom(tmp_path, rng):
    pos = rng.random((6, 5, 3))
    pos[4, 3, 1] = np.nan
    _standard_file(tmp_path / "nan.h5", pos, np.array([5.0, 5.0, 5.0]))
    t = hca.load(tmp_path / "nan.h5")
    assert np.isfinite(t.positions(frames=slice(0, 4))).all()
    with pytest.raises(TrajectoryFormatError,
                       match=r"nan\.h5, frame 4: non-finite coordinate \(nan\) for atom 3"):
        t.positions()
    with pytest.raises(TrajectoryFormatError, match="frame 4.*atom 3"):
        t.positions(select=[1, 3], frames=[2, 4])


def test_not_h5md(tmp_path):
    (tmp_path / "x.h5").write_text("hello")
    with pytest.raises(TrajectoryFormatError, match="not an HDF5 file"):
        hca.load(tmp_path / "x.h5")
    with h5py.File(tmp_path / "y.h5", "w") as f:
        f["data"] = [1, 2]
    with pytest.raises(TrajectoryFormatError, match="no /particles group"):
        H5MDSource(tmp_path / "y.h5")


def test_source_steps_are_written(tmp_path, rng):
    traj, *_ = make_traj(rng, n_frames=5, n_atoms=4)
    traj.source.steps = np.arange(5) * 250
    hca.write_h5md(traj, tmp_path / "st.h5")
    with h5py.File(tmp_path / "st.h5") as f:
        assert list(f["particles/all/position/step"][()]) == [0, 250, 500, 750, 1000]
    assert np.array_equal(H5MDSource(tmp_path / "st.h5").steps, np.arange(5) * 250)


def test_take_random_selections_any_chunking(rng):
    data = rng.random((37, 300, 3))
    with h5py.File("mem.h5", "w", driver="core", backing_store=False) as f:
        dsets = [f.create_dataset("c1", data=data, chunks=(5, 7, 3)),
                 f.create_dataset("c2", data=data, chunks=(37, 300, 3)),
                 f.create_dataset("flat", data=data)]  # contiguous layout
        src = object.__new__(H5MDSource)
        src.n_atoms = 300
        for _ in range(25):
            frames = rng.choice(37, rng.integers(1, 37), replace=bool(rng.integers(2)))
            if rng.integers(2):
                frames = np.sort(frames)
            atoms = rng.choice(300, rng.integers(1, 300), replace=bool(rng.integers(2)))
            for ds in dsets:
                got = src._take(ds, frames, atoms)
                assert np.array_equal(got, data[frames][:, atoms])
