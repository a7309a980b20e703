"""mdrunner without torch: builders, Na insertion, MD checkpoint/resume, H5MD, sweeps, CLI.

The MD here runs with ASE's EMT (Cu) or the Lennard-Jones stand-in: fast and deterministic,
so interrupted-and-resumed runs can be compared bit for bit with uninterrupted ones.
"""

from __future__ import annotations

import json
import os
import signal

import h5py
import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from mdrunner import calculators
from mdrunner.builders import build_fragments, cell_length_for_density, describe
from mdrunner.insertion import insert_na, parse_loading
from mdrunner.md import MDConfig, run_md
from mdrunner.sweep import SweepPoint, run_point, run_sweep


def _min_image_dists(a: np.ndarray, b: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Brute-force all-pairs minimum-image distances (orthorhombic or small triclinic)."""
    d = a[:, None, :] - b[None, :, :]
    frac = np.linalg.solve(cell.T, d.reshape(-1, 3).T).T
    frac -= np.round(frac)
    return np.linalg.norm(frac @ cell, axis=1).reshape(len(a), len(b))


@pytest.mark.parametrize("n,density,seed", [(96, 0.9, 0), (96, 1.5, 1), (60, 2.0, 1)])
def test_fragments_density_and_distances(n, density, seed):
    atoms, rep = build_fragments(n, density, seed=seed)
    assert len(atoms) == n and rep.composition == {"C": n}
    assert abs(rep.carbon_density - density) / density < 0.02
    mass = atoms.get_masses().sum() / atoms.get_volume() / 0.602214076
    assert mass == pytest.approx(density, rel=0.02)
    pos = atoms.get_positions()
    d = _min_image_dists(pos, pos, np.asarray(atoms.cell[:]))
    d[np.diag_indices_from(d)] = np.inf
    assert d.min() == pytest.approx(rep.min_distance, abs=1e-9)
    assert d.min() >= 1.3  # no two atoms closer than a stretched-curved C-C bond
    # pairs not bonded (farther than 1.7 Å) respect the stated inter-fragment separation
    # (second neighbours inside a fragment sit at ~2.4 Å, above it)
    far = d[d > 1.7]
    assert far.min() >= min(rep.params["final_min_separation"], 2.3) - 1e-9
    assert rep.params["final_min_separation"] >= 1.9
    assert 0.0 < rep.sp2_fraction <= 1.0


@pytest.mark.parametrize("n, density", [(20, 1.2), (24, 1.5)])
def test_fragments_small_cells_wrap_strictly_inside_the_box(n, density):
    """Small cells used to fail ~30 % of the time: np.mod(-1e-17, L) == L, which periodic k-d
    trees reject ("greater than the size of the periodic box")."""
    from mdrunner.builders import _wrap

    box = np.array([7.0, 7.0, 7.0])
    w = _wrap(np.array([[-1e-17, -0.0, 7.0], [3.5, -7.0, 14.0 - 1e-15]]), box)
    assert np.all(w >= 0) and np.all(w < box)
    for seed in range(4):
        atoms, rep = build_fragments(n, density, seed=seed)
        assert len(atoms) == n
        assert abs(rep.carbon_density - density) / density < 0.02


def test_fragments_seeded():
    a1, _ = build_fragments(60, 1.2, seed=5)
    a2, _ = build_fragments(60, 1.2, seed=5)
    a3, _ = build_fragments(60, 1.2, seed=6)
    assert np.array_equal(a1.get_positions(), a2.get_positions())
    assert not np.allclose(a1.get_positions(), a3.get_positions())


def test_cell_length():
    edge = cell_length_for_density(1000, 2.0)
    assert 1000 * 12.011 / edge**3 / 0.602214076 == pytest.approx(2.0)


@pytest.mark.parametrize("loading,n_c,expected", [("NaC8", 96, 12), ("C6", 60, 10),
                                                  (7, 50, 7), ("5", 50, 5), (8.0, 80, 10)])
def test_parse_loading(loading, n_c, expected):
    assert parse_loading(loading, n_c) == expected


def test_parse_loading_rejects():
    with pytest.raises(ValueError, match="NaC"):
        parse_loading("lots", 10)


@pytest.mark.parametrize("method", ["kdtree", "hcanalysis"])
def test_insert_na_counts_and_voids(method):
    carbon, _ = build_fragments(96, 1.2, seed=2)
    atoms, rep = insert_na(carbon, "NaC8", min_na_na=3.0, min_na_c=2.0, method=method)
    sym = np.array(atoms.get_chemical_symbols())
    assert (sym == "Na").sum() == 12 == rep.composition["Na"]
    assert (sym == "C").sum() == 96
    cell = np.asarray(atoms.cell[:])
    na, c = atoms.get_positions()[sym == "Na"], atoms.get_positions()[sym == "C"]
    dnc = _min_image_dists(na, c, cell).min(axis=1)
    dnn = _min_image_dists(na, na, cell)
    dnn[np.diag_indices_from(dnn)] = np.inf
    assert dnc.min() >= 2.0 - 1e-6 and dnn.min() >= 3.0 - 1e-6
    np.testing.assert_allclose(dnc, rep.params["site_depths"], atol=1e-6)
    # in void by hcanalysis' own void map (carbon vdW radius 1.7 Å, probe 0)
    from hcanalysis.voids import tessellate

    vm = tessellate(c, cell, spacing=0.5)
    assert np.all(vm.distance_at(na) >= 0.0)
    # and deep: each Na sits deeper than most of the void space
    assert np.all(vm.distance_at(na) >= np.median(vm.distance[vm.mask]))


def test_insert_na_too_many():
    carbon, _ = build_fragments(60, 1.5, seed=0)
    with pytest.raises(ValueError, match="fit in the voids"):
        insert_na(carbon, 200)


def test_describe_triclinic():
    atoms = bulk("C", "diamond", a=3.567) * (2, 2, 2)
    rep = describe(atoms)
    assert rep.min_distance == pytest.approx(3.567 * np.sqrt(3) / 4, rel=1e-6)
    assert rep.carbon_density == pytest.approx(3.51, abs=0.02)
    assert rep.sp2_fraction == 0.0


# --------------------------------------------------------------------------- MD


class StatelessEMT(EMT):
    """EMT that rebuilds its neighbour list every call, so that its forces depend only on the
    positions (as with MLIPs, which build their graph each step). Plain EMT keeps a skin
    neighbour list whose pair order depends on the history, which changes the last bits."""

    def calculate(self, atoms=None, properties=("energy",), system_changes=None):
        from ase.calculators.calculator import all_changes

        super().calculate(atoms, properties, all_changes)


def _cu():
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True) * (2, 2, 2)
    atoms.rattle(0.05, seed=3)
    return atoms


def _read(path):
    with h5py.File(path, "r") as f:
        return {k: f[f"particles/all/{k}/value"][()] for k in ("position", "image", "velocity")}


@pytest.mark.parametrize("thermostat", ["langevin", "nose-hoover"])
def test_resume_is_bit_for_bit(tmp_path, thermostat):
    cfg = dict(temperature_K=600, steps=40, save_every=5, checkpoint_every=10, seed=11,
               thermostat=thermostat, position_dtype="float64", temperature_end_K=500)
    ref = run_md(_cu(), StatelessEMT(), tmp_path / "ref", MDConfig(**cfg))
    assert not ref["interrupted"] and ref["n_frames"] == 9
    part = run_md(_cu(), StatelessEMT(), tmp_path / "cut", MDConfig(**cfg), stop_after=17)
    assert part["interrupted"] and part["step"] == 17
    with pytest.raises(FileExistsError):
        run_md(_cu(), StatelessEMT(), tmp_path / "cut", MDConfig(**cfg))
    rest = run_md(None, StatelessEMT(), tmp_path / "cut", MDConfig(**cfg), resume=True)
    assert rest["step"] == 40 and rest["steps_done"] == 23
    a, b = _read(tmp_path / "ref" / "traj.h5"), _read(tmp_path / "cut" / "traj.h5")
    for key in a:
        assert np.array_equal(a[key], b[key]), key


def test_sigterm_checkpoints_and_resumes(tmp_path):
    """A SIGTERM in the middle writes a checkpoint; resuming gives the uninterrupted run."""

    class Killer(StatelessEMT):
        calls = 0

        def calculate(self, *args, **kwargs):
            Killer.calls += 1
            if Killer.calls == 14:
                os.kill(os.getpid(), signal.SIGTERM)
            super().calculate(*args, **kwargs)

    cfg = dict(temperature_K=400, steps=30, save_every=4, checkpoint_every=8, seed=2,
               position_dtype="float64")
    run_md(_cu(), StatelessEMT(), tmp_path / "ref", MDConfig(**cfg))
    part = run_md(_cu(), Killer(), tmp_path / "cut", MDConfig(**cfg))
    assert part["interrupted"] and 0 < part["step"] < 30
    run_md(None, StatelessEMT(), tmp_path / "cut", MDConfig(**cfg), resume=True)
    a, b = _read(tmp_path / "ref" / "traj.h5"), _read(tmp_path / "cut" / "traj.h5")
    assert np.array_equal(a["position"], b["position"])
    assert "stopped at step" in (tmp_path / "cut" / "md.log").read_text()


def test_h5md_output_loads_with_hcanalysis(tmp_path):
    import hcanalysis

    cfg = MDConfig(temperature_K=900, steps=30, save_every=3, checkpoint_every=6, seed=1,
                   position_dtype="float64", friction_per_ps=1.0)
    run_md(_cu(), EMT(), tmp_path, cfg)
    traj = hcanalysis.load(tmp_path / "traj.h5")
    assert traj.n_frames == 11 and traj.n_atoms == 32
    assert list(traj.species) == ["Cu"] * 32
    np.testing.assert_allclose(traj.time_ps, np.arange(11) * 0.003)
    assert traj.boxes().shape == (11, 3, 3)
    # unwrapped final frame == the continuous positions in the final checkpoint
    from mdrunner.md import load_checkpoint

    ck = load_checkpoint(tmp_path / "checkpoint.npz")
    assert ck["step"] == 30
    un = traj.positions(unwrap=True)
    np.testing.assert_allclose(un[-1], ck["positions"], atol=1e-9)
    with h5py.File(tmp_path / "traj.h5", "r") as f:
        temps = f["observables/temperature/value"][()]
        meta = json.loads(f["parameters/mdrunner"].attrs["json"])
    assert temps.shape == (11,) and np.all(np.isfinite(temps))
    assert meta["md"]["seed"] == 1


def test_nve_conserves_energy(tmp_path):
    cfg = MDConfig(temperature_K=300, steps=60, save_every=10, thermostat="nve", seed=0)
    out = run_md(_cu(), EMT(), tmp_path, cfg)
    with h5py.File(tmp_path / "traj.h5", "r") as f:
        e = f["observables/total_energy/value"][()]
    assert np.ptp(e) < 5e-3 * 32 and abs(out["energy_drift_eV_per_atom_ps"]) < 0.05


# --------------------------------------------------------------------------- calculators


def test_get_calculator_objects_and_names():
    emt = EMT()
    assert calculators.get(emt) is emt
    assert type(calculators.get("lj")).__name__ == "LennardJones"
    with pytest.raises(ValueError, match="unknown potential"):
        calculators.get("gap")
    with pytest.raises(TypeError):
        calculators.get(42)


def test_mace_missing_model_message(tmp_path):
    with pytest.raises(FileNotFoundError, match="downloads nothing"):
        calculators.resolve_model_path(None)
    with pytest.raises(FileNotFoundError, match="never downloads"):
        calculators.resolve_model_path(tmp_path / "nope.model")


def test_sevenn_missing_names_extra():
    try:
        import sevenn  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"hcanalysis\[sevenn\]"):
            calculators.get("sevenn")
    else:  # pragma: no cover
        pytest.skip("sevenn is installed here")


# --------------------------------------------------------------------------- sweeps


def _point(seed, density=1.0):
    md = dict(temperature_K=300, steps=24, save_every=4, checkpoint_every=8,
              position_dtype="float64")
    return SweepPoint(density=density, loading="NaC10", seed=seed, n_carbon=40,
                      potential="lj", threads=None, md=md)


def test_sweep_resumes_without_redoing(tmp_path):
    a, b = _point(0), _point(1, 1.2)
    run_point(a, tmp_path)  # finished point
    part = run_point(b, tmp_path, stop_after=9)  # the killed one
    assert part["status"] == "interrupted"
    mtime = os.path.getmtime(tmp_path / a.name / "traj.h5")
    res = run_sweep([a, b], tmp_path, log=lambda m: None)
    assert [r["status"] for r in res] == ["done", "done"]
    assert res[0].get("skipped") and os.path.getmtime(tmp_path / a.name / "traj.h5") == mtime
    assert "resumed at step 9" in (tmp_path / b.name / "md.log").read_text()
    # the resumed point equals an uninterrupted run of the same point (to round-off: ASE's
    # LJ keeps a neighbour list whose pair order depends on where it was built)
    run_point(b, tmp_path / "ref")
    x = _read(tmp_path / b.name / "traj.h5")["position"]
    y = _read(tmp_path / "ref" / b.name / "traj.h5")["position"]
    assert x.shape == y.shape == (7, 44, 3)
    np.testing.assert_allclose(x, y, atol=1e-8)
    meta = json.loads((tmp_path / b.name / "run.json").read_text())
    assert meta["density"] == 1.2 and meta["loading"] == "NaC10" and meta["n_na"] == 4
    assert meta["seed"] == 1 and meta["temperature_K"] == 300 == meta["temperature"]
    assert meta["na_loading"] == pytest.approx(0.1)
    from hcanalysis.ensemble import read_metadata

    table = read_metadata([tmp_path / a.name / "traj.h5", tmp_path / b.name / "traj.h5"])
    assert list(table["density"]) == [1.0, 1.2]
    assert list(table["na_loading"]) == pytest.approx([0.1, 0.1])
    assert meta["potential"]["potential"] == "lj" and "ase" in meta["versions"]
    assert meta["paths"]["traj"] == "traj.h5"


def test_sweep_parallel_workers(tmp_path):
    pts = [_point(0), _point(1)]
    res = run_sweep(pts, tmp_path, workers=2, log=lambda m: None)
    assert sorted(r["seed"] for r in res) == [0, 1]
    assert all(r["status"] == "done" for r in res)
    import hcanalysis

    for p in pts:
        assert hcanalysis.load(tmp_path / p.name / "traj.h5").n_frames == 7


def test_cli_build_and_run(tmp_path):
    from mdrunner.cli import main

    out = tmp_path / "cell.extxyz"
    assert main(["build", "-o", str(out), "--n-carbon", "48", "--density", "1.1",
                 "--loading", "NaC12", "--seed", "3"]) == 0
    rep = json.loads(out.with_suffix(".json").read_text())
    assert rep["composition"] == {"C": 48, "Na": 4}
    assert main(["build", "-o", str(out)]) == 2  # exists, no --force
    run_dir = tmp_path / "run"
    assert main(["run", "-o", str(run_dir), "--structure", str(out), "--potential", "lj",
                 "--steps", "12", "--save-every", "3", "-T", "300"]) == 0
    import hcanalysis

    traj = hcanalysis.load(run_dir / "traj.h5")
    assert traj.n_frames == 5 and traj.counts() == {"C": 48, "Na": 4}
    assert main(["run", "-o", str(run_dir), "--potential", "lj", "--steps", "18",
                 "--save-every", "3", "--resume"]) == 0
    assert hcanalysis.load(run_dir / "traj.h5").n_frames == 7
    assert json.loads((run_dir / "run.json").read_text())["status"] == "done"


def test_melt_quench_with_any_calculator():
    from mdrunner.builders import build_melt_quench

    atoms, rep = build_melt_quench(EMT(), 32, 1.4, seed=1, t_melt=3000, t_anneal=1500,
                                   steps_melt=10, steps_quench=10, steps_anneal=10)
    assert rep.composition == {"C": 32} and rep.method == "melt-quench"
    assert rep.carbon_density == pytest.approx(1.4, rel=1e-9)
    assert np.isfinite(rep.min_distance) and rep.min_distance > 0.8
    assert atoms.calc is None


def test_read_structure_roundtrip(tmp_path):
    from ase import Atoms
    from ase.io import write

    from mdrunner.builders import read_structure

    carbon, rep = build_fragments(40, 1.0, seed=8)
    write(tmp_path / "c.extxyz", carbon)
    back, rep2 = read_structure(tmp_path / "c.extxyz")
    np.testing.assert_allclose(back.get_positions(), carbon.get_positions(), atol=1e-6)
    assert rep2.carbon_density == pytest.approx(rep.carbon_density)
    write(tmp_path / "mol.xyz", Atoms("C2", positions=[[0, 0, 0], [1.4, 0, 0]]))
    with pytest.raises(ValueError, match="no 3D cell"):
        read_structure(tmp_path / "mol.xyz")


def test_chgnet_sample_loads():
    from pathlib import Path

    import hcanalysis

    path = Path(hcanalysis.__file__).parent / "data" / "sample_chgnet.h5"
    traj = hcanalysis.load(path)
    assert traj.counts() == {"C": 144, "Na": 18}
    assert traj.n_frames >= 300 and np.all(np.diff(traj.time_ps) > 0)
    assert np.allclose(np.diff(traj.time_ps), 0.002)
    assert traj.boxes().shape == (traj.n_frames, 3, 3)
    na = traj.positions("Na", unwrap=True, frames=slice(0, 50))
    assert np.all(np.isfinite(na)) and np.abs(np.diff(na, axis=0)).max() < 1.0
    with h5py.File(path, "r") as f:
        temps = f["observables/temperature/value"][()]
        meta = json.loads(f["parameters/mdrunner"].attrs["json"])
    assert temps.shape == (traj.n_frames,) and 700 < temps.mean() < 1200
    assert meta["sample"]["potential"] == "chgnet" and meta["sample"]["md_seed"] == 9


def test_bundled_lammps_sample():
    """The default sample: 67 Na in a rigid 1,000-C framework stored once, 1.5 ns, a frame
    every 1 ps. The Na MSD reaches the diffusive regime by the toolkit's own rule (local
    log-log slope 1 ± 0.1 over >= a factor 3 of lag; a caged or sub-diffusive system has
    none), most ions hop (p_hop, automatic half-window and threshold), and the run's
    equilibration report says it settled."""
    from pathlib import Path

    import hcanalysis
    from hcanalysis import hops
    from hcanalysis.io.h5md import read_static_framework
    from hcanalysis.msd import diffusion

    path = Path(hcanalysis.__file__).parent / "data" / "sample.h5"
    assert read_static_framework(path) is not None  # the framework is stored once
    traj = hcanalysis.load(path)
    assert traj.counts() == {"C": 1000, "Na": 67}
    assert traj.n_frames == 1501 and np.allclose(np.diff(traj.time_ps), 1.0)
    c = traj.positions("C", frames=[0, traj.n_frames - 1])
    assert np.array_equal(c[0], c[1])  # rigid framework
    na = traj.positions("Na", unwrap=True)
    assert np.abs(np.diff(na, axis=0)).max() < 26.7 * 0.6  # unwrapped: no jump of a box
    dif = diffusion(na, traj.dt_ps, window=750, max_lag=250)
    assert dif.range.found, dif.range.reason
    assert dif.range.hi_ps / dif.range.lo_ps >= 3.0 and dif.range.lo_ps >= 10.0
    lo, hi = dif.D_gls_ci95
    assert 0 < lo < dif.D < hi  # Å²/ps, with its interval
    events = hops.detect(na, dt_ps=traj.dt_ps)
    assert events["ion"].nunique() > 67 // 2 and len(events) > 3 * 67
    with h5py.File(path, "r") as f:
        meta = json.loads(f["parameters/mdrunner"].attrs["json"])
    assert meta["model"]["framework"] == "rigid" and meta["sample"]["temperature_K"] == 600.0
    assert meta["equilibration"]["settled"] and meta["equilibration"]["time_ps"] == 50.0


def test_equilibration_stage_reported_not_saved(tmp_path):
    """Langevin equilibration before a Nosé-Hoover production: not in the trajectory, its
    temperature and drift in the summary and the file's metadata; the production starts at
    step 0 from the equilibrated state (hotter than a cold start)."""
    from mdrunner.md import MDConfig, run_md

    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 2))
    cfg = MDConfig(temperature_K=600, steps=40, save_every=10, thermostat="nose-hoover",
                   equilibration_steps=400, friction_per_ps=20.0, seed=1)
    out = run_md(atoms, EMT(), tmp_path / "eq", cfg)
    eq = out["equilibration"]
    assert eq["steps"] == 400 and eq["friction_per_ps"] == 20.0
    assert 300 < eq["temperature_mean_K"] < 900  # 32 atoms: ±25 % fluctuations
    assert np.isfinite(eq["epot_drift_eV_per_atom_ps"])
    with h5py.File(tmp_path / "eq" / "traj.h5") as f:
        steps = f["particles/all/position/step"][()]
        meta = json.loads(f["parameters/mdrunner"].attrs["json"])
    assert steps.tolist() == [0, 10, 20, 30, 40]
    assert meta["equilibration"]["steps"] == 400
    # equipartition: a cold start at 600 K sits near 300 K; an equilibrated one near 600 K
    assert out["temperature_mean_K"] > 400


def test_sweep_stops_when_a_point_is_interrupted(tmp_path, monkeypatch):
    """A SIGTERM turns the running point into "interrupted": the sweep stops there instead of
    starting the next point (rerunning it resumes)."""
    from mdrunner import sweep

    calls = []

    def fake(point, out_dir, stop_after=None):
        calls.append(point.name)
        return {"status": "interrupted"}

    monkeypatch.setattr(sweep, "run_point", fake)
    pts = sweep.make_points([1.0, 1.2], ["NaC8"], 1, n_carbon=40, potential="lj")
    res = sweep.run_sweep(pts, tmp_path, log=lambda m: None)
    assert len(res) == 1 and calls == [pts[0].name]


def test_start_point_records_the_structure_files_density_and_loading(tmp_path):
    """A point started from a structure file records that file's carbon density and, when
    the file carries its own Na, no command-line loading (``mdrunner run --structure`` used
    to record the --density default, 1.5, for a 1.1 g/cm³ file)."""
    from ase.io import write

    from mdrunner.points import start_point

    carbon, rep = build_fragments(48, 1.1, seed=3)
    loaded, _ = insert_na(carbon, "NaC12", seed=3)
    write(tmp_path / "loaded.extxyz", loaded)
    write(tmp_path / "bare.extxyz", carbon)
    cfg = MDConfig(steps=1)
    for name, want_loading, want_na in (("loaded", None, 4), ("bare", "NaC24", 2)):
        point = SweepPoint(density=1.5, loading="NaC24", seed=0, n_carbon=48, potential="lj",
                           structure=str(tmp_path / f"{name}.extxyz"))
        run_dir = tmp_path / name
        run_dir.mkdir()
        _, meta = start_point(point, run_dir, cfg)
        assert meta["density"] == pytest.approx(rep.carbon_density, rel=1e-6)
        assert meta["density"] == pytest.approx(1.1, rel=1e-6)
        assert meta["loading"] == want_loading and meta["n_na"] == want_na
