"""mdrunner with the machine-learned potentials of the ``[md]`` extra (torch, chgnet, mace).

Skipped with a reason when the extra is not installed (the default CI install). The MACE
model is a tiny randomly initialised one that the test builds and saves itself: nothing is
downloaded.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch not installed (pip install 'hcanalysis[md]')")

from mdrunner import calculators  # noqa: E402
from mdrunner.builders import build_fragments  # noqa: E402
from mdrunner.insertion import insert_na  # noqa: E402
from mdrunner.md import MDConfig, run_md  # noqa: E402


@pytest.fixture(scope="module")
def cell():
    carbon, _ = build_fragments(90, 1.3, seed=4)
    atoms, _ = insert_na(carbon, "NaC9", seed=4)
    assert len(atoms) == 100
    return atoms


def _tiny_mace(path):
    """A small random MACE model for C and Na (float64), saved like a model file."""
    pytest.importorskip("mace", reason="mace-torch not installed (pip install 'hcanalysis[md]')")
    return calculators.random_mace(path, "tiny")


def test_chgnet_short_run(cell, tmp_path):
    pytest.importorskip("chgnet", reason="chgnet not installed (pip install 'hcanalysis[md]')")
    import h5py

    import hcanalysis

    calc = calculators.get("chgnet", threads=1)
    cfg = MDConfig(temperature_K=300, steps=20, save_every=5, checkpoint_every=10, seed=0,
                   friction_per_ps=20.0, relax_steps=10)
    out = run_md(cell, calc, tmp_path, cfg)
    assert out["n_frames"] == 5
    with h5py.File(tmp_path / "traj.h5", "r") as f:
        epot = f["observables/potential_energy/value"][()]
        temp = f["observables/temperature/value"][()]
    assert np.all(np.isfinite(epot)) and np.all(np.isfinite(temp))
    # CHGNet 0.3.0: about -7 to -9 eV/atom for carbon; a broken calculator gives 0 or NaN
    assert -10.0 < epot.mean() / len(cell) < -5.0
    assert 100.0 < temp[1:].mean() < 600.0  # near the 300 K target after 20 fs
    traj = hcanalysis.load(tmp_path / "traj.h5")
    assert traj.counts() == {"C": 90, "Na": 10}


def test_chgnet_resume_bit_for_bit(cell, tmp_path):
    pytest.importorskip("chgnet", reason="chgnet not installed (pip install 'hcanalysis[md]')")
    import h5py

    small = cell[:40]
    calc = calculators.get("chgnet", threads=1)
    cfg = dict(temperature_K=600, steps=6, save_every=2, checkpoint_every=2, seed=3,
               position_dtype="float64")
    run_md(small, calc, tmp_path / "ref", MDConfig(**cfg))
    run_md(small, calc, tmp_path / "cut", MDConfig(**cfg), stop_after=3)
    run_md(None, calc, tmp_path / "cut", MDConfig(**cfg), resume=True)
    with h5py.File(tmp_path / "ref/traj.h5") as a, h5py.File(tmp_path / "cut/traj.h5") as b:
        assert np.array_equal(a["particles/all/position/value"][()],
                              b["particles/all/position/value"][()])


def test_mace_random_model_through_get(cell, tmp_path):
    model = _tiny_mace(tmp_path / "tiny.model")
    calc = calculators.get("mace", model=model, device="cpu", dtype="float64", threads=1)
    small = cell[:50]
    small.calc = calc
    e = small.get_potential_energy()
    f = small.get_forces()
    assert np.isfinite(e) and f.shape == (50, 3) and np.all(np.isfinite(f))
    # forces are minus the gradient of the energy (finite difference on one coordinate)
    h = 1e-4
    p = small.get_positions()
    p[3, 0] += h
    small.set_positions(p)
    ep = small.get_potential_energy()
    p[3, 0] -= 2 * h
    small.set_positions(p)
    em = small.get_potential_energy()
    assert -(ep - em) / (2 * h) == pytest.approx(f[3, 0], rel=1e-3, abs=1e-6)
    out = run_md(cell[:50], calc, tmp_path / "md", MDConfig(temperature_K=300, steps=4,
                                                             save_every=2))
    assert out["n_frames"] == 3


def test_mace_missing_file_is_clear(tmp_path):
    pytest.importorskip("mace", reason="mace-torch not installed (pip install 'hcanalysis[md]')")
    with pytest.raises(FileNotFoundError, match="never downloads"):
        calculators.get("mace", model=tmp_path / "absent.model")


def test_sevenn_runs_md(cell, tmp_path):
    """SevenNet-0 (weights inside the sevenn wheel) through get("sevenn"): finite energy and
    forces, and 10 MD steps. Runs where the [sevenn] extra is installed (beside [md]: e3nn
    0.4.4 with calculators.allow_e3nn_constants)."""
    pytest.importorskip("sevenn", reason="sevenn not installed (pip install 'hcanalysis[sevenn]')")
    atoms = cell.copy()
    atoms.calc = calculators.get("sevenn", device="cpu", threads=1)
    energy = atoms.get_potential_energy()
    forces = atoms.get_forces()
    assert np.isfinite(energy) and np.isfinite(forces).all() and forces.shape == (100, 3)
    # translation invariance of a conservative MLIP: forces sum to ~0
    assert np.abs(forces.sum(axis=0)).max() < 1e-3
    run_md(cell.copy(), atoms.calc, tmp_path / "run",
           MDConfig(temperature_K=600.0, steps=10, save_every=5, seed=1))
    assert (tmp_path / "run" / "traj.h5").is_file()
