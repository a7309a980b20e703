"""``hcanalysis msd`` on wrapped trajectories in a triclinic cell (H5MD and extxyz)."""

import h5py
import numpy as np
import pytest
from conftest import triclinic_box

import hcanalysis as hca
from hcanalysis import msd
from hcanalysis.cli import main

D_TRUE, DT = 0.5, 0.1
BOX = triclinic_box(15.0, 16.0, 17.0, 2.0, 1.0, -1.0)


@pytest.fixture(scope="module")
def walk():
    """12 Brownian Na and 6 C atoms; every atom shares a uniform drift of the frame."""
    rng = np.random.default_rng(5)
    n = 1000
    na = np.cumsum(rng.normal(scale=np.sqrt(2 * D_TRUE * DT), size=(n, 12, 3)), axis=0)
    na += rng.random((1, 12, 3)) @ BOX
    c = np.tile(rng.random((6, 3)) @ BOX, (n, 1, 1))
    flow = (np.arange(n) * DT)[:, None, None] * np.array([0.8, 0.0, -0.4])  # Å/ps
    return np.concatenate([na, c], axis=1) + flow, na


def _wrap(pos):
    frac = pos @ np.linalg.inv(BOX)
    return (frac - np.floor(frac)) @ BOX


@pytest.fixture(scope="module")
def h5_traj(walk, tmp_path_factory):
    pos, _ = walk
    traj = hca.Trajectory.from_arrays(_wrap(pos), BOX, ["Na"] * 12 + ["C"] * 6, dt_ps=DT)
    path = tmp_path_factory.mktemp("msd") / "traj.h5"
    hca.write_h5md(traj, path)
    return path


def test_msd_command_writes_curves_fits_and_plot(h5_traj, walk, tmp_path, capsys):
    pos, na = walk
    out = tmp_path / "msd.h5"
    rc = main(["msd", str(h5_traj), "--species", "Na", "--window", "250", "--stride", "250",
               "-o", str(out), "--remove-drift", "C"])
    assert rc == 0, capsys.readouterr()
    assert out.exists() and out.with_suffix(".png").stat().st_size > 10_000
    # drift of the (static) carbon frame removed -> the Na walk itself (H5MD stores float32)
    ref = msd.diffusion(na, DT, window=250)
    with h5py.File(out) as f:
        assert f["curves/msd"].shape == (12, 4, 126)
        assert f["curves/windows"][:].tolist() == [[0, 250], [250, 500], [500, 750], [750, 1000]]
        np.testing.assert_allclose(f["curves/msd_mean"][:], ref.msd, rtol=1e-5)
        assert f["per_ion_window/D"].shape == (12, 4)
        np.testing.assert_allclose(f["per_ion_window/D_cm2_s"][:], f["per_ion_window/D"][:] * 1e-4)
        np.testing.assert_allclose(f["system"].attrs["D"], ref.D, rtol=1e-5)
        np.testing.assert_allclose(f["system"].attrs["D_err"], ref.D_err, rtol=1e-4)
        assert abs(f["system"].attrs["D"] - D_TRUE) < 3 * f["system"].attrs["D_err"]
        # the fit range is found from the data (Brownian: diffusive from short lags), in ps
        lo, hi = f.attrs["fit_lo_frames"], f.attrs["fit_hi_frames"]
        assert f.attrs["fit_source"] == "auto" and hi >= 3 * lo and hi <= 125
        assert f.attrs["fit_lo_ps"] == pytest.approx(lo * DT)
        assert f["fit_range"].attrs["found"]
        assert list(f["fit_range"].attrs["fit_frames"]) == [lo, hi]
        ci = f["system"].attrs["D_gls_ci95"]
        assert ci[0] < D_TRUE < ci[1] and ci[0] < f["system"].attrs["D_gls"] < ci[1]
        assert f["alpha2/alpha2"].shape == f["alpha2/lags"].shape
        assert f["van_hove/p"].shape[0] == f["van_hove/lags"].shape[0]
        np.testing.assert_array_equal(f["per_ion_window/ion_atom_index"][:], np.arange(12))
        assert f.attrs["species"] == "Na" and f.attrs["remove_drift"] == "C"
    err = capsys.readouterr().out  # results on stdout (logs on stderr)
    assert "D (block average) = " in err and "D (GLS, whole trajectory) = " in err
    assert f"fit {lo * DT:.4g}-{hi * DT:.4g} ps" in err


def test_drift_options_and_overwrite(h5_traj, walk, tmp_path, capsys):
    out = tmp_path / "m.h5"
    # the default removes the framework's drift, as `analyze` does
    assert main(["msd", str(h5_traj), "-o", str(out), "--no-plots", "--max-lag", "50"]) == 0
    with h5py.File(out) as f:
        assert f.attrs["remove_drift"] == "C"
        assert abs(f["system"].attrs["D"] - D_TRUE) < 0.15 * D_TRUE
    out.unlink()
    args = ["msd", str(h5_traj), "-o", str(out), "--no-plots", "--max-lag", "50",
            "--remove-drift", "none"]
    # no drift removal: the flow (0.9 Å/ps) makes the MSD super-diffusive beyond ~0.5 ps, so
    # the diffusive range found shrinks to the short lags where 6 D τ dominates v² τ²
    assert main(args) == 0
    with h5py.File(out) as f:
        assert f.attrs["max_lag_frames"] == 50
        assert f["fit_range"].attrs["found"] and f.attrs["fit_hi_frames"] <= 6
        assert abs(f["system"].attrs["D"] - D_TRUE) < 0.25 * D_TRUE
    assert main(args + ["--force", "--fit-ps", "1,5"]) == 0  # a range given in ps: D inflated
    with h5py.File(out) as f:
        d_raw = f["system"].attrs["D"]
        assert f.attrs["fit_source"] == "ps"
        assert list(f["fit_range"].attrs["fit_frames"]) == [10, 50]
    assert not out.with_suffix(".png").exists()
    assert main(args) == 2  # refuses to overwrite
    assert "exists" in capsys.readouterr().err
    assert main(args[:-2] + ["--force", "--remove-drift", "species"]) == 0
    with h5py.File(out) as f:
        d_species = f["system"].attrs["D"]
    assert main(args[:-2] + ["--force", "--remove-drift", "all"]) == 0
    with h5py.File(out) as f:
        d_all = f["system"].attrs["D"]
    assert d_raw > 1.5 * D_TRUE
    assert abs(d_species - D_TRUE) < 0.15 * D_TRUE
    assert abs(d_all - D_TRUE) < 0.15 * D_TRUE
    assert main(args + ["--force", "--fit-ps", "1,50"]) == 2  # beyond the largest lag
    assert "fit_ps=(1, 50) must lie within" in capsys.readouterr().err
    assert main(["msd", str(h5_traj), "-o", str(h5_traj), "--force"]) == 2  # input kept
    assert main(["msd", str(h5_traj), "-o", str(tmp_path / "x.h5"), "--species", "Li"]) == 2


def test_msd_command_reads_extxyz(walk, tmp_path, capsys):
    from ase import Atoms
    from ase.io import write

    pos, _ = walk
    wrapped = _wrap(pos[:300])
    frames = [Atoms(["Na"] * 12 + ["C"] * 6, positions=p, cell=BOX, pbc=True) for p in wrapped]
    path = tmp_path / "traj.extxyz"
    write(path, frames)
    out = tmp_path / "x.h5"
    rc = main(["msd", str(path), "-o", str(out), "--dt-ps", str(DT), "--dims", "xy",
               "--fit-lo", "5", "--fit-hi", "20", "--max-lag", "30", "--no-plots"])
    assert rc == 0, capsys.readouterr()
    with h5py.File(out) as f:
        assert f.attrs["fit_lo_frames"] == 5 and f.attrs["dims"] == "xy"
        assert f["curves/msd_dim"].shape == (2, 31)
        np.testing.assert_allclose(f["curves/lag_ps"][:], np.arange(31) * DT, rtol=1e-9)
