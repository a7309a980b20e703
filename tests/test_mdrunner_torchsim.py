"""mdrunner's optional batched engine (torch-sim + MACE): several small cells in one batch.

Skipped with a reason when torch, mace-torch or torch-sim is not installed (the default CI
install has none of them). The MACE model is a tiny randomly initialised one built here:
nothing is downloaded.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch not installed (pip install 'hcanalysis[md]')")
pytest.importorskip("mace", reason="mace-torch not installed (pip install 'hcanalysis[md]')")
pytest.importorskip("torch_sim",
                    reason="torch-sim not installed (pip install 'hcanalysis[torchsim]')")

from mdrunner import calculators  # noqa: E402
from mdrunner.batched import (  # noqa: E402
    evaluate,
    load_checkpoint,
    load_model,
    run_batched_md,
)
from mdrunner.builders import build_fragments  # noqa: E402
from mdrunner.insertion import insert_na  # noqa: E402
from mdrunner.md import MDConfig  # noqa: E402


def _tiny_mace(path):
    """A small random MACE model for C and Na (float64), saved like a model file."""
    return calculators.random_mace(path, "tiny")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return _tiny_mace(tmp_path_factory.mktemp("model") / "tiny.model")


@pytest.fixture(scope="module")
def cells():
    """Three cells of different sizes and compositions (20, 30 and 40 atoms)."""
    out = []
    for n_c, rho, loading, seed in ((18, 1.2, 2, 1), (27, 1.4, 3, 2), (36, 1.6, 4, 3)):
        carbon, _ = build_fragments(n_c, rho, seed=seed)
        atoms, _ = insert_na(carbon, loading, seed=seed)
        out.append(atoms)
    assert [len(a) for a in out] == [20, 30, 40]
    return out


def test_batched_forces_equal_single_cell(model_path, cells):
    model = load_model(model_path, device="cpu", dtype="float64", threads=1)
    batch = evaluate(cells, model)
    for i, atoms in enumerate(cells):
        alone = evaluate(atoms, model)[0]
        assert np.abs(batch[i]["forces"] - alone["forces"]).max() < 1e-10
        assert batch[i]["energy"] == pytest.approx(alone["energy"], abs=1e-9)
    # and torch-sim's wrapper agrees with mace-torch's own ASE calculator (the ASE engine)
    calc = calculators.get("mace", model=model_path, device="cpu", dtype="float64")
    for i, atoms in enumerate(cells):
        a = atoms.copy()
        a.calc = calc
        assert np.abs(batch[i]["forces"] - a.get_forces()).max() < 1e-6
        assert batch[i]["energy"] == pytest.approx(a.get_potential_energy(), abs=1e-6)


def test_batched_md_writes_one_h5md_per_cell(model_path, cells, tmp_path):
    import h5py

    import hcanalysis

    model = load_model(model_path, device="cpu", dtype="float64", threads=1)
    dirs = [tmp_path / f"c{i}" for i in range(len(cells))]
    temps = [300.0, 600.0, 900.0]
    # strong friction (50/ps, 20 fs relaxation time) so that 20 steps thermalise
    cfgs = [MDConfig(temperature_K=t, steps=20, save_every=5, checkpoint_every=10, seed=i,
                     friction_per_ps=50.0) for i, t in enumerate(temps)]
    res = run_batched_md(cells, dirs, model, cfgs, metadata=[{"i": i} for i in range(3)])
    assert [r["n_frames"] for r in res] == [5, 5, 5]
    for atoms, d, t_target in zip(cells, dirs, temps, strict=True):
        with h5py.File(d / "traj.h5", "r") as f:
            epot = f["observables/potential_energy/value"][()]
            temp = f["observables/temperature/value"][()]
            assert list(f["particles/all/position/step"][()]) == [0, 5, 10, 15, 20]
            assert f["particles/all/box/edges/value"].shape == (5, 3, 3)
        assert np.all(np.isfinite(epot)) and np.all(np.isfinite(temp))
        # T of n atoms fluctuates by sqrt(2/(3n)) of the target: 18 % for 20 atoms; the
        # Maxwell-Boltzmann start and Langevin noise keep every frame well inside 0.3-2 T
        assert 0.3 * t_target < temp.mean() < 2.0 * t_target
        traj = hcanalysis.load(d / "traj.h5")
        assert traj.n_atoms == len(atoms) and traj.n_frames == 5
        assert traj.counts() == {s: list(atoms.get_chemical_symbols()).count(s)
                                 for s in set(atoms.get_chemical_symbols())}
        # unwrapped (by the stored image flags) coordinates move continuously: well under
        # 1 Å in 5 fs, never a box length
        x = traj.positions(unwrap=True)
        assert np.abs(np.diff(x, axis=0)).max() < 1.0


def test_batched_resume_bit_for_bit(model_path, cells, tmp_path):
    import h5py

    model = load_model(model_path, device="cpu", dtype="float64", threads=1)
    cfg = MDConfig(temperature_K=600, steps=6, save_every=2, checkpoint_every=2, seed=0,
                   position_dtype="float64")
    small = cells[:2]
    ref = [tmp_path / "ref" / n for n in ("a", "b")]
    cut = [tmp_path / "cut" / n for n in ("a", "b")]
    run_batched_md(small, ref, model, cfg)
    out = run_batched_md(small, cut, model, cfg, stop_after=3)
    assert out[0]["interrupted"] and load_checkpoint(cut[0])["step"] == 3
    run_batched_md(None, cut, model, cfg, resume=True)
    for a, b in zip(ref, cut, strict=True):
        with h5py.File(a / "traj.h5") as fa, h5py.File(b / "traj.h5") as fb:
            for key in ("particles/all/position/value", "particles/all/image/value",
                        "observables/temperature/value"):
                assert np.array_equal(fa[key][()], fb[key][()]), key


def test_batched_sweep_engine_skips_done_points(model_path, tmp_path):
    from mdrunner.sweep import make_points, read_run_json, run_sweep

    md = dict(temperature_K=500, steps=4, save_every=2, checkpoint_every=2, relax_steps=3)
    pts = make_points([1.3, 1.5], ["NaC10"], [0], n_carbon=20, potential="mace",
                      model=str(model_path), dtype="float64", threads=1, md=md)
    res = run_sweep(pts, tmp_path, engine="torchsim", log=lambda m: None)
    assert [r["status"] for r in res] == ["done", "done"]
    for p in pts:
        meta = read_run_json(tmp_path / p.name)
        assert meta["engine"] == "torchsim" and meta["result"]["batch_size"] == 2
        assert meta["density"] == p.density and "na_loading" in meta
    again = run_sweep(pts, tmp_path, engine="torchsim", log=lambda m: None)
    assert all(r.get("skipped") for r in again)


def test_batched_sweep_interrupted_restarts(model_path, tmp_path):
    import h5py

    from mdrunner.sweep import make_points, read_run_json, run_sweep

    md = dict(temperature_K=500, steps=6, save_every=2, checkpoint_every=2,
              position_dtype="float64")
    # 33 and 32 atoms: cells of different sizes in one batch
    pts = make_points([1.3], ["NaC10", "NaC12"], [0], n_carbon=30, potential="mace",
                      model=str(model_path), dtype="float64", threads=1, md=md)
    run_sweep(pts, tmp_path / "ref", engine="torchsim", log=lambda m: None)
    cut = run_sweep(pts, tmp_path / "cut", engine="torchsim", stop_after=3,
                    log=lambda m: None)
    assert [r["status"] for r in cut] == ["interrupted", "interrupted"]
    res = run_sweep(pts, tmp_path / "cut", engine="torchsim", log=lambda m: None)
    assert [r["status"] for r in res] == ["done", "done"]
    for p in pts:
        assert read_run_json(tmp_path / "cut" / p.name)["result"]["step"] == 6
        with h5py.File(tmp_path / "ref" / p.name / "traj.h5") as fa, \
                h5py.File(tmp_path / "cut" / p.name / "traj.h5") as fb:
            key = "particles/all/position/value"
            assert np.array_equal(fa[key][()], fb[key][()])


def test_missing_torchsim_message(monkeypatch):
    import builtins

    from mdrunner import batched

    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name.startswith("torch_sim"):
            raise ImportError("no torch_sim")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ImportError, match=r"torch-sim-atomistic.*hcanalysis\[md,torchsim\]"):
        batched._import_torchsim()


def test_cli_sweep_engine_torchsim(model_path, tmp_path):
    import hcanalysis
    from mdrunner.cli import main
    from mdrunner.sweep import read_run_json

    args = ["sweep", "-o", str(tmp_path), "--densities", "1.3,1.5", "--loadings", "NaC10",
            "--n-carbon", "20", "--potential", "mace", "--model", str(model_path),
            "--steps", "4", "--save-every", "2", "--checkpoint-every", "2",
            "--relax-steps", "2", "--engine", "torchsim", "--batch-size", "1"]
    assert main(args) == 0
    for name in ("rho1.30_NaC10_s0", "rho1.50_NaC10_s0"):
        meta = read_run_json(tmp_path / name)
        assert meta["status"] == "done" and meta["result"]["batch_size"] == 1
        assert hcanalysis.load(tmp_path / name / "traj.h5").n_frames == 3
    assert main(["sweep", "-o", str(tmp_path / "x"), "--engine", "nope"]) == 2
