"""The main job end to end on a small documented synthetic trajectory (tests/synthetic_traj.py):
descriptors, modes, importance, report, caching, CLI."""

import json

import h5py
import numpy as np
import pandas as pd
import pytest
import synthetic_traj as st

import hcanalysis as hca
from hcanalysis.cli import main
from hcanalysis.config import AnalysisConfig
from hcanalysis.descriptors import compute
from hcanalysis.pipeline import analyze
from hcanalysis.table import DescriptorTable

STAGES = ["msd", "hops", "structure", "voids", "tortuosity"]


def _config() -> AnalysisConfig:
    cfg = AnalysisConfig(stages=list(STAGES))
    cfg.windows.window = 40
    cfg.voids.spacing = 0.5
    cfg.voids.frames_per_window = 2
    cfg.structure.frames_per_window = 5
    cfg.structure.cutoff_NaNa = 4.0
    cfg.structure.cutoff_NaC = 3.0
    cfg.msd.remove_drift = "C"
    cfg.modes.max_modes = 4
    return cfg


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    path = tmp_path_factory.mktemp("traj") / "synthetic.h5"
    hca.write_h5md(st.make(seed=1), path)
    return path


@pytest.fixture(scope="module")
def table(sample):
    return compute(hca.load(sample), _config())


def test_descriptor_table(table):
    df = table.to_pandas()
    n_ions, n_windows = 10, 4
    assert len(df) == n_ions * n_windows
    assert df["ion"].dtype.kind == "i" and df["window"].dtype.kind == "i"
    assert sorted(set(df["ion"])) == list(range(n_ions))
    for col in ("log_msd_lag", "msd_lag", "alpha", "hop_rate", "n_NaNa", "pore_radius",
                "wall_distance", "voronoi_volume", "carbon_density", "local_tortuosity",
                "shell_reachable"):
        assert col in df and np.isfinite(df[col]).all(), col
    # 6 walkers + 4 ions vibrating in place: the ion-averaged MSD bends (local slope < 0.9
    # below ~1 ps) and the 2 ps windows hold no diffusive stretch of a factor 3: no D, and
    # no floor value either; the reason and the chosen lags (ps) are in the metadata
    msd_meta = table.metadata["msd"]
    assert not msd_meta["found"] and "local log-log slope" in msd_meta["reason"]
    assert df["D"].isna().all() and df["log_D"].isna().all()
    assert "no diffusive range" in table.metadata["reports"]["msd"]
    assert msd_meta["mobility_lag_ps"] == pytest.approx(2.0)  # the largest lag (20 frames)
    np.testing.assert_allclose(df["log_msd_lag"], np.log10(df["msd_lag"]))
    np.testing.assert_allclose(df["msd_lag"], table.arrays["msd"][:, 20])
    # mobile walkers (ions 0-5) move; caged ions (6-9) vibrate in place
    m = df.groupby("ion")["msd_lag"].mean()
    assert m.iloc[:6].min() > 5 * m.iloc[6:].max()
    # with the range given in ps, D of the walkers is the planted one (0.5 Å²/ps, confined)
    cfg = _config()
    cfg.stages = ["msd"]
    cfg.msd.fit_ps = (0.3, 2.0)
    given = compute(hca.load(table.metadata["input"]), cfg).frame
    d = given.groupby("ion")["D"].mean()
    assert d.iloc[:6].min() > 5 * d.iloc[6:].max()
    assert 0.2 < d.iloc[:6].median() < 0.8
    # caged ions' slopes scatter around 0: log_D is NaN where D <= 0, never floored
    neg = given["D"] <= 0
    assert given.loc[neg, "log_D"].isna().all()
    np.testing.assert_allclose(given.loc[~neg, "log_D"], np.log10(given.loc[~neg, "D"]))
    # the cavity's inscribed radius is seen by the ions inside it (6.5 Å cavity)
    assert df.loc[df["ion"] < 6, "pore_radius"].median() > 5.0
    # open cavity + straight channel: local tortuosity close to 1, global τ_a ~ 1, no path b/c
    assert 1.0 <= df["local_tortuosity"].max() < 1.2
    tau = table.arrays["global_tau"]
    assert 0.99 < tau[0] < 1.1 and np.isinf(tau[1:]).all()
    assert table.metadata["input_fingerprint"] and table.metadata["seed"] == 0
    assert table.arrays["msd"].shape[0] == len(df)


def test_analyze_outputs_cache_and_cli(sample, tmp_path, capsys):
    out = tmp_path / "out"
    res = analyze([sample], out, _config())
    for name in ("descriptors.h5", "modes.h5", "report.html", "umap_modes.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    back = DescriptorTable.read(out / "descriptors.h5")
    assert len(back) == len(res.table)
    assert set(back.frame["mode_name"]) <= {"hopping", "clustering", "void trapping", "caged",
                                            "unassigned"}
    with h5py.File(out / "modes.h5") as fh:
        assert len(fh["labels"]) == len(res.table)
        names = json.loads(fh.attrs["mode_names"])
        evidence = json.loads(fh.attrs["evidence"])
        assert fh.attrs["status"] == res.modes.status_
    # every name stands on its evidence: all its criteria pass on the mode's rows
    for k, name in names.items():
        if name != "unassigned":
            assert all(c["passed"] for c in evidence[k][name]), (name, evidence[k][name])
    # this sample has no hop events: nothing may be called hopping
    assert res.table["hop_rate"].max() > 0 or "hopping" not in names.values()
    again = analyze([sample], out, _config())
    assert again.reused == [True]
    np.testing.assert_array_equal(again.table["mode"], res.table["mode"])
    # CLI on the same inputs reuses the cache and writes the same outputs
    toml = tmp_path / "c.toml"
    toml.write_text('stages = ["msd", "hops", "structure", "voids", "tortuosity"]\n'
                    '[windows]\nwindow = 40\n[voids]\nspacing = 0.5\nframes_per_window = 2\n'
                    '[structure]\n'
                    'frames_per_window = 5\ncutoff_NaNa = 4.0\ncutoff_NaC = 3.0\n'
                    '[modes]\nmax_modes = 4\n')
    capsys.readouterr()
    assert main(["analyze", str(sample), "-o", str(out), "--config", str(toml)]) == 0
    captured = capsys.readouterr()
    out_text = " ".join(captured.out.split())  # results on stdout, logs on stderr
    assert "msd: no diffusive range: local log-log slope" in out_text
    assert "D: not supported by this data" in out_text and "MSD at 2 ps (Å²)" in out_text
    assert "done in" in captured.err and "done in" not in captured.out
    assert "Warning" not in captured.out + captured.err  # no library warning text leaks
    assert not list(out.glob(".*partial*"))


def test_cli_errors(sample, tmp_path, capsys):
    assert main(["analyze", str(sample), "-o", str(tmp_path), "--set", "voids.spacnig=1"]) == 2
    assert "unknown parameter 'voids.spacnig'" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path / "nope.h5"), "-o", str(tmp_path)]) == 2
    assert "nope.h5: no such file" in capsys.readouterr().err


def _dynamics_config() -> AnalysisConfig:
    cfg = AnalysisConfig(stages=["msd", "hops"])
    cfg.windows.window = 40
    cfg.modes.max_modes = 3
    return cfg


def test_ion_chunks_equal_one_pass(sample, table):
    """A tiny memory budget streams the ions in many chunks; results are identical."""
    cfg = _dynamics_config()
    cfg.max_memory = 160 * 3 * 8 * 8 * 3  # three ions per chunk (8 x positions per ion)
    chunked = compute(hca.load(sample), cfg)
    assert chunked.metadata["reports"]["dynamics"].startswith("4 ion chunk(s) of <= 3 ions")
    for col in ("D", "alpha", "hop_rate", "p_hop_max", "path_tortuosity"):
        np.testing.assert_allclose(chunked.frame[col], table.frame[col], rtol=1e-12,
                                   equal_nan=True, err_msg=col)
    np.testing.assert_allclose(chunked.arrays["msd"], table.arrays["msd"], rtol=1e-12)
    assert chunked.metadata["peak_rss_mb"] > 0


def test_dask_equals_serial(tmp_path):
    pytest.importorskip("distributed")
    paths = []
    for seed in (2, 3):
        p = tmp_path / f"t{seed}.h5"
        hca.write_h5md(st.make(seed=seed, n_frames=120), p)
        paths.append(p)
    serial = analyze(paths, tmp_path / "serial", _dynamics_config())
    parallel = analyze(paths, tmp_path / "dask", _dynamics_config(), dask=True, n_workers=2)
    assert parallel.reused == [False, False]
    cols = ["trajectory", "ion", "window", "D", "alpha", "hop_rate", "mode"]
    np.testing.assert_array_equal(parallel.table[cols].to_numpy(), serial.table[cols].to_numpy())


def test_ensemble_command_on_a_sweep(tmp_path, capsys):
    """`hcanalysis ensemble` finds the runs of a sweep, reads their run.json and correlates."""
    sweep = tmp_path / "sweep"
    for k, d_mobile in enumerate((0.05, 0.3, 2.0)):
        run = sweep / f"rho{1.0 + 0.2 * k:.2f}_NaC8_s0"
        run.mkdir(parents=True)
        hca.write_h5md(st.make(seed=10 + k, n_frames=100, D_mobile=d_mobile), run / "traj.h5")
        (run / "run.json").write_text(json.dumps({"density": 1.0 + 0.2 * k,
                                                  "na_loading": 0.125, "temperature": 600}))
    toml = tmp_path / "c.toml"
    toml.write_text('stages = ["msd", "hops"]\n[windows]\nwindow = 20\n[msd]\n'
                    'remove_drift = "C"\nmobility_lag_ps = 0.5\n[modes]\nmax_modes = 3\n')
    out = tmp_path / "out"
    assert main(["ensemble", str(sweep), "-o", str(out), "--config", str(toml)]) == 0
    captured = capsys.readouterr()
    assert "3 runs in" in captured.err
    err = captured.out  # the results (and the notes about them) are on stdout
    assert "Warning" not in captured.err and "warning: Mean of empty" not in captured.err
    tab = DescriptorTable.read(out / "descriptors.h5").frame
    assert sorted(set(tab["trajectory"])) == [0, 1, 2]
    # the planted mobility rises with the run's density: the mean log MSD at the common lag
    # (0.5 ps, set in the config) rises with it
    means = tab.groupby("trajectory")["log_msd_lag"].mean().to_numpy()
    assert np.all(np.diff(means) > 0)
    # but 3 runs cannot show it: even a
    # perfect trend has the exact two-sided p = 1/3, so no map is made (ensemble.MIN_RUNS)
    assert "correlation map not made: 3 runs with metadata" in " ".join(err.split())
    summary = pd.read_csv(out / "ensemble_summary.csv")
    assert list(summary["density"]) == pytest.approx([1.0, 1.2, 1.4])
    assert not (out / "correlation_rho.csv").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["ensemble", str(empty), "-o", str(out)]) == 2
    assert "no run folders with traj.h5 and run.json" in capsys.readouterr().err


def test_jobqueue_cluster_builds_a_slurm_job():
    """--jobqueue slurm: a SLURMCluster whose job script asks for the cores and memory (no
    SLURM here, so nothing is submitted: the cluster is asked for zero jobs)."""
    pytest.importorskip("dask_jobqueue")
    from hcanalysis.pipeline import jobqueue_cluster

    cluster = jobqueue_cluster("slurm", cores=8, memory="32GB", jobs=0, walltime="01:00:00")
    try:
        script = cluster.job_script()
        assert "#SBATCH" in script and "--cpus-per-task=8" in script
        assert "01:00:00" in script and "--nthreads 8" in script
    finally:
        cluster.close()
    with pytest.raises(ValueError, match="use one of slurm"):
        jobqueue_cluster("condorx", cores=1, memory="1GB", jobs=0)


def test_progress_labels_tell_sweep_runs_apart():
    """Every run of an mdrunner sweep is ``traj.h5``: progress lines name the run folder."""
    from hcanalysis.pipeline import trajectory_labels

    assert trajectory_labels(["a/x.h5", "b/y.h5"]) == ["x.h5", "y.h5"]
    assert trajectory_labels(["s/rho1.2_s0/traj.h5", "s/rho1.5_s0/traj.h5"]) == [
        "rho1.2_s0/traj.h5", "rho1.5_s0/traj.h5"]
