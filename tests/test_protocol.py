"""The per-(ion, window) protocol (hcanalysis.analysis, hcanalysis.families): axes, long rows
with units, HDF5 round trip, plots, agreement with the array-level functions and with
``descriptors.compute``."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import synthetic_traj as st  # noqa: E402

import hcanalysis as hca  # noqa: E402
from hcanalysis import msd  # noqa: E402
from hcanalysis.config import AnalysisConfig  # noqa: E402
from hcanalysis.descriptors import compute  # noqa: E402
from hcanalysis.families import FAMILIES, MSD, Hops, Structure, Tortuosity, Voids  # noqa: E402


def _config() -> AnalysisConfig:
    cfg = AnalysisConfig()
    cfg.windows.window = 40
    cfg.voids.spacing = 0.5
    cfg.voids.frames_per_window = 2
    cfg.tortuosity.frames_per_window = 2
    cfg.structure.frames_per_window = 3
    cfg.structure.cutoff_NaNa = 4.0
    cfg.structure.cutoff_NaC = 3.0
    return cfg


@pytest.fixture(scope="module")
def traj(tmp_path_factory):
    path = tmp_path_factory.mktemp("traj") / "synthetic.h5"
    hca.write_h5md(st.make(seed=1), path)
    return hca.load(path)


@pytest.fixture(scope="module")
def table(traj):
    return compute(traj, _config())


@pytest.fixture(scope="module")
def families(traj):
    cfg = _config()
    return {name: cls.from_config(cfg).compute(traj, windows=40)
            for name, cls in FAMILIES.items()}


def test_every_family_has_fixed_axes_units_and_round_trips(families, traj, tmp_path):
    n_ions = len(traj.indices("Na"))
    for name, fam in families.items():
        assert fam.family == name
        for col in fam.columns:
            assert fam.values[col].shape == (n_ions, fam.n_windows), (name, col)
        df = fam.to_frame()
        assert len(df) == n_ions * fam.n_windows
        assert df["ion"].dtype.kind == "i" and df["window"].dtype.kind == "i"
        assert set(fam.columns) <= set(df.columns)
        assert df.attrs["units"]["t_start_ps"] == "ps"
        back = type(fam).from_h5(fam.to_h5(tmp_path / f"{name}.h5"))
        assert back.params() == fam.params()
        for col in fam.columns:
            np.testing.assert_array_equal(back.values[col], fam.values[col])
        np.testing.assert_array_equal(back.to_frame()[list(fam.columns)],
                                      df[list(fam.columns)])
        assert fam.plot() is not None


def test_table_is_the_families_rows(families, table):
    frame = table.frame
    for fam in families.values():
        rows = fam.to_frame()
        for col in fam.columns:
            np.testing.assert_array_equal(frame[col].to_numpy(), rows[col].to_numpy(),
                                          err_msg=col)


def test_msd_family_equals_windowed(traj):
    fam = MSD(remove_drift=None, max_lag=19).compute(traj, windows=40)
    ref = msd.windowed(traj.positions("Na", unwrap=True), window=40, max_lag=19,
                       dt_ps=float(np.median(np.diff(traj.time_ps))))
    np.testing.assert_allclose(fam.arrays["msd"], ref.msd, rtol=1e-12)
    np.testing.assert_allclose(fam.values["alpha"], ref.alpha, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(fam.values["msd_lag"], ref.msd_lag, rtol=1e-12)


def test_frames_and_windows_arguments(traj):
    a = Hops(threshold=2.0, half_window=3).compute(traj, frames=slice(0, 120), windows=40)
    b = Hops(threshold=2.0, half_window=3).compute(traj, frames=(0, 120, None),
                                                    windows=(40, 40))
    assert a.n_windows == 3
    np.testing.assert_array_equal(a.values["hop_rate"], b.values["hop_rate"])
    with pytest.raises(hca.HCAnalysisError, match="call compute"):
        Structure().to_frame()


def test_voids_and_tortuosity_share_maps(traj):
    v, t = Voids(spacing=0.5), Tortuosity(spacing=0.5)
    plan = v.plan(traj, windows=40)
    v.compute(traj, plan=plan)
    t.compute(traj, plan=plan)
    assert all(a is b for a, b in zip(v.maps, t.maps, strict=True))


def test_cli_and_pipeline_give_the_same_numbers(traj, table, tmp_path):
    """One estimator per descriptor name: `hcanalysis voids`, `tortuosity` and `msd` with the
    analysis' parameters write the numbers of `descriptors.compute` (the pipeline)."""
    import h5py

    from hcanalysis.cli import main

    frame = table.frame
    path = traj.path
    common = ["--window", "40", "--spacing", "0.5"]
    assert main(["voids", str(path), "-o", str(tmp_path / "v.h5"), *common,
                 "--frames-per-window", "2"]) == 0
    with h5py.File(tmp_path / "v.h5") as f:
        for col in ("pore_radius", "pore_volume", "wall_distance", "pore_throats",
                    "voronoi_volume", "pores_visited"):
            np.testing.assert_array_equal(f[f"voids/ions/{col}"][()], frame[col], err_msg=col)
    assert main(["tortuosity", str(path), "-o", str(tmp_path / "t.h5"), *common,
                 "--frames-per-window", "2"]) == 0
    with h5py.File(tmp_path / "t.h5") as f:
        np.testing.assert_array_equal(f["tortuosity/local/tau"][()].ravel(),
                                      frame["local_tortuosity"])
        np.testing.assert_array_equal(f["tortuosity/local/reachable"][()].ravel(),
                                      frame["shell_reachable"])
        np.testing.assert_array_equal(f["tortuosity/global/tau"][()],
                                      table.arrays["global_tau"])
    assert main(["msd", str(path), "-o", str(tmp_path / "m.h5"), "--window", "40",
                 "--no-plots"]) == 0
    with h5py.File(tmp_path / "m.h5") as f:
        for col in ("D", "alpha", "msd_lag"):
            np.testing.assert_array_equal(f[f"per_ion_window/{col}"][()].ravel(), frame[col],
                                          err_msg=col)
    # the files hold the family at /<family> (Family.from_h5) and the older names as views:
    # soft links to the family's datasets, or arrays derived from its result
    for fname, cls, col, old in (("m.h5", MSD, "D", "per_ion_window/D"),
                                 ("t.h5", Tortuosity, "local_tortuosity", "tortuosity/local/tau"),
                                 ("v.h5", Voids, "pore_radius", None)):
        back = cls.from_h5(tmp_path / fname)
        np.testing.assert_array_equal(back.values[col].ravel(), frame[col], err_msg=fname)
        with h5py.File(tmp_path / fname) as f:
            if old is not None:
                assert isinstance(f.get(old, getlink=True), h5py.SoftLink)
                np.testing.assert_array_equal(f[old][()], back.values[col])
    with h5py.File(tmp_path / "m.h5") as f:
        np.testing.assert_equal(f["system"].attrs["D"],
                                MSD.from_h5(tmp_path / "m.h5").meta["system"]["D"])
        assert f["curves/msd"].shape == f["msd/arrays/msd"].shape
    assert main(["structure", str(path), "-o", str(tmp_path / "s.h5"), "--window", "40",
                 "--frames-per-window", "3", "--cutoff-nana", "4.0", "--cutoff-nac", "3.0",
                 "--no-plots"]) == 0
    with h5py.File(tmp_path / "s.h5") as f:
        for col in ("n_NaNa", "nana_contact_fraction", "n_NaC", "cluster_size", "d_NaNa_min",
                    "d_NaC_min", "carbon_density", "sp2_fraction"):
            np.testing.assert_array_equal(f[f"per_ion/{col}"][()], frame[col], err_msg=col)
        assert isinstance(f.get("per_ion/rho_C_local", getlink=True), h5py.SoftLink)
    np.testing.assert_array_equal(Structure.from_h5(tmp_path / "s.h5").values["n_NaC"].ravel(),
                                  frame["n_NaC"])
    assert main(["hops", str(path), "-o", str(tmp_path / "h.h5"), "--window", "40",
                 "--no-plots"]) == 0
    with h5py.File(tmp_path / "h.h5") as f:
        g = f["per_ion"]
        order = np.lexsort((g["window"][()], g["ion"][()]))
        length = g["mean_length"][()][order]
        np.testing.assert_array_equal(np.where(np.isfinite(length), length, 0.0),
                                      frame["hop_length"])
        for ours, col in (("hop_rate", "hop_rate"), ("p_hop_max", "p_hop_max"),
                          ("tortuosity", "path_tortuosity")):
            np.testing.assert_array_equal(g[ours][()][order], frame[col], err_msg=col)
        assert isinstance(f.get("events/length", getlink=True), h5py.SoftLink)
    back = Hops.from_h5(tmp_path / "h.h5")
    for col in ("hop_rate", "hop_length", "p_hop_max", "net_displacement"):
        np.testing.assert_array_equal(back.values[col].ravel(), frame[col], err_msg=col)


def test_old_keywords_still_work_with_a_warning(traj):
    from hcanalysis import structure

    new = structure.analyze(traj, ions="Na", framework="C", frames=[0, 50], backend="cpu")
    with pytest.warns(DeprecationWarning, match="use ions="):
        old = structure.analyze(traj, ion="Na", carbon="C", frames=[0, 50], backend="cpu")
    np.testing.assert_array_equal(new.n_ion_c, old.n_ion_c)
    with pytest.raises(TypeError, match="both"):
        structure.analyze(traj, ion="Na", ions="Na")
