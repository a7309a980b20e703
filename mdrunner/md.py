"""NVT/NVE molecular dynamics with ASE: H5MD output, checkpoints, exact resume.

A run directory holds ``traj.h5`` (H5MD, a frame every ``save_every`` steps),
``checkpoint.npz`` (positions, momenta, cell, step, RNG state and thermostat state, written
atomically every ``checkpoint_every`` steps and on SIGTERM/SIGINT), ``run.json`` (metadata)
and ``md.log`` (temperature, energies and the energy drift). ``resume=True`` reloads the
checkpoint, truncates the trajectory back to it and continues: an interrupted and resumed
run writes the same frames, bit for bit, as an uninterrupted one with the same seed
(for a deterministic calculator).
"""

from __future__ import annotations

import json
import pickle
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms, units

from hcanalysis.atomic import atomic_output
from mdrunner.h5md import H5MDAppender

FS_TO_PS = 1e-3
#: ASE velocity unit (Å / (Å·sqrt(u/eV))) -> Å/ps
ASE_VEL_TO_A_PS = 1.0 / (units.fs * 1e3)  # Å per ASE time unit -> Å/ps


#: Thermostat names accepted (aliases -> the one used); ``csvr`` (Bussi) is the LAMMPS
#: engine's, the others are the ASE engine's and the LAMMPS engine's.
THERMOSTATS = {"langevin": "langevin", "nose-hoover": "nose-hoover",
               "nosehoover": "nose-hoover", "nhc": "nose-hoover", "nve": "nve",
               "csvr": "csvr"}


@dataclass
class MDConfig:
    """MD settings.

    Attributes
    ----------
    temperature_K : target temperature (start of a ramp), K
    steps : total MD steps of the run
    timestep_fs : time step, fs (1 fs default)
    thermostat : ``"langevin"``, ``"nose-hoover"`` (chain) or ``"nve"``
    friction_per_ps : Langevin friction, 1/ps
    tdamp_fs : Nosé-Hoover damping time, fs; ``chain_length`` its chain length
    temperature_end_K : if set, the target ramps linearly to it over the run
    save_every : steps between trajectory frames
    checkpoint_every : steps between checkpoints (rounded up to a multiple of save_every)
    seed : seed of the initial velocities and of the Langevin noise
    relax_steps : FIRE steps (fmax ``relax_fmax`` eV/Å) before MD, to remove clashes
    equilibration_steps : steps of Langevin dynamics (friction ``friction_per_ps``, target
        ``temperature_K``) after the start velocities and before production; not written to
        the trajectory; their temperature and potential-energy drift are reported
    position_dtype : ``"float32"`` (small files) or ``"float64"`` (exact) storage
    """

    temperature_K: float = 300.0
    steps: int = 1000
    timestep_fs: float = 1.0
    thermostat: str = "langevin"
    friction_per_ps: float = 5.0
    tdamp_fs: float = 100.0
    chain_length: int = 3
    temperature_end_K: float | None = None
    save_every: int = 10
    checkpoint_every: int = 500
    seed: int = 0
    relax_steps: int = 0
    relax_fmax: float = 0.5
    equilibration_steps: int = 0
    position_dtype: str = "float32"
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Check every setting up front (one-line ValueError naming it)."""
        import math

        def bad(name: str, why: str) -> None:
            raise ValueError(f"{name} = {getattr(self, name)!r}: {why}")

        for name in ("temperature_K", "timestep_fs", "friction_per_ps", "tdamp_fs"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                bad(name, "must be a finite number")
        if self.temperature_K < 0:
            bad("temperature_K", "a temperature cannot be negative (K)")
        if self.temperature_end_K is not None and not (
                math.isfinite(self.temperature_end_K) and self.temperature_end_K >= 0):
            bad("temperature_end_K", "must be a finite temperature >= 0 K, or None")
        if self.timestep_fs <= 0:
            bad("timestep_fs", "the time step must be > 0 fs")
        th = self.thermostat.lower().replace("_", "-")
        if th not in THERMOSTATS:
            bad("thermostat", f"use one of {', '.join(sorted(set(THERMOSTATS.values())))}")
        if th == "langevin" and self.friction_per_ps <= 0:
            bad("friction_per_ps", "Langevin needs a friction > 0 (1/ps)")
        if th in ("nose-hoover", "nosehoover", "nhc") and self.tdamp_fs <= 0:
            bad("tdamp_fs", "Nosé-Hoover needs a damping time > 0 fs")
        for name in ("steps", "save_every", "checkpoint_every", "chain_length",
                     "relax_steps"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                bad(name, "must be an integer")
        if self.steps < 0 or self.relax_steps < 0:
            bad("steps" if self.steps < 0 else "relax_steps", "must be >= 0")
        for name in ("save_every", "checkpoint_every", "chain_length"):
            if getattr(self, name) < 1:
                bad(name, "must be >= 1")
        if self.position_dtype not in ("float32", "float64"):
            bad("position_dtype", "use float32 or float64")

    def target_T(self, step: int) -> float:
        if self.temperature_end_K is None or self.steps <= 0:
            return self.temperature_K
        f = min(1.0, step / self.steps)
        return self.temperature_K + f * (self.temperature_end_K - self.temperature_K)


#: MDConfig fields that define the simulated physics (a resume must keep them); ``steps`` (to
#: extend a run), ``checkpoint_every`` and the pre-relaxation may change.
PHYSICS_FIELDS = ("temperature_K", "temperature_end_K", "timestep_fs", "thermostat",
                  "friction_per_ps", "tdamp_fs", "chain_length", "save_every", "seed",
                  "position_dtype")


def physics_changes(old: dict, new: dict, fields=PHYSICS_FIELDS) -> list[str]:
    """``"name old -> new"`` for each physics field that differs between two settings dicts
    (missing fields in ``old``, from older files, are not compared)."""
    out = []
    for k in fields:
        if k in old and k in new and old[k] != new[k]:
            out.append(f"{k} {old[k]!r} -> {new[k]!r}")
    return out


def refuse_changed_physics(run_dir, changes: list[str]) -> None:
    """One-line error for a resume whose physics differs from the run's."""
    if changes:
        raise ValueError(
            f"{run_dir}: --resume with different physics ({'; '.join(changes)}): the "
            "trajectory would mix two simulations; resume with the run's settings (run.json), "
            "or start a new run directory from its last frame"
        )


class StopFlag:
    """Turns SIGTERM/SIGINT into a flag checked between MD steps."""

    def __init__(self) -> None:
        self.flag = False
        self._old: dict = {}

    def __enter__(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not in the main thread
                pass
        return self

    def _handle(self, signum, frame) -> None:
        self.flag = True

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _make_dynamics(atoms: Atoms, cfg: MDConfig, rng: np.random.Generator, step: int):
    dt = cfg.timestep_fs * units.fs
    t = cfg.target_T(step)
    th = cfg.thermostat.lower().replace("_", "-")
    if th == "langevin":
        from ase.md.langevin import Langevin

        return Langevin(atoms, dt, temperature_K=t,
                        friction=cfg.friction_per_ps / (1000 * units.fs), fixcm=False, rng=rng)
    if th in ("nose-hoover", "nosehoover", "nhc"):
        from ase.md.nose_hoover_chain import NoseHooverChainNVT

        return NoseHooverChainNVT(atoms, dt, temperature_K=t, tdamp=cfg.tdamp_fs * units.fs,
                                  tchain=cfg.chain_length)
    if th == "nve":
        from ase.md.verlet import VelocityVerlet

        return VelocityVerlet(atoms, dt)
    raise ValueError(f"unknown thermostat {cfg.thermostat!r}: langevin, nose-hoover or nve")


def _set_target(dyn, cfg: MDConfig, step: int) -> None:
    if cfg.temperature_end_K is None:
        return
    t = cfg.target_T(step)
    if hasattr(dyn, "set_temperature"):
        dyn.set_temperature(temperature_K=t)
    elif hasattr(dyn, "_thermostat"):
        # ASE's NoseHooverChainThermostat keeps kT and the masses Q derived from it
        th = dyn._thermostat
        th._kT = units.kB * t
        th._Q[0] = 3 * th._num_atoms_global * th._kT * th._tdamp**2
        th._Q[1:] = th._kT * th._tdamp**2


def _thermostat_state(dyn) -> dict:
    if hasattr(dyn, "_thermostat"):
        th = dyn._thermostat
        return {"eta": th._eta.copy(), "p_eta": th._p_eta.copy()}
    return {}


def _restore_thermostat(dyn, state: dict) -> None:
    if state and hasattr(dyn, "_thermostat"):
        dyn._thermostat._eta = np.array(state["eta"])
        dyn._thermostat._p_eta = np.array(state["p_eta"])


def save_checkpoint(path: Path, atoms: Atoms, step: int, rng: np.random.Generator,
                    thermostat: dict, n_frames: int, extra: dict | None = None) -> None:
    """Write the checkpoint atomically (tmp file + rename)."""
    payload = {
        "positions": atoms.get_positions(),
        "momenta": atoms.get_momenta(),
        "cell": np.asarray(atoms.cell[:]),
        "numbers": atoms.get_atomic_numbers(),
        "step": int(step),
        "rng_state": rng.bit_generator.state,
        "thermostat": thermostat,
        "n_frames": int(n_frames),
        "extra": extra or {},
    }
    atomic_pickle(path, payload)


def atomic_pickle(path: Path, payload: dict) -> None:
    """Write ``payload`` to ``path`` atomically: a pickle in a hidden sibling file, synced to
    disk, then renamed over ``path`` (a crash leaves the previous checkpoint intact)."""
    with atomic_output(path, durable=True) as tmp, open(tmp, "wb") as fh:
        pickle.dump(payload, fh, protocol=4)


def load_checkpoint(path: Path) -> dict:
    with open(path, "rb") as fh:
        return pickle.load(fh)


def _observables(atoms: Atoms, dyn) -> dict:
    epot = float(atoms.get_potential_energy())
    ekin = float(atoms.get_kinetic_energy())
    obs = {
        "potential_energy": epot,
        "kinetic_energy": ekin,
        "total_energy": epot + ekin,
        "temperature": float(atoms.get_temperature()),
    }
    if hasattr(dyn, "_thermostat"):
        obs["conserved_energy"] = epot + ekin + float(dyn._thermostat.get_thermostat_energy())
    return obs


def run_md(
    atoms: Atoms,
    calculator,
    run_dir,
    config: MDConfig | None = None,
    *,
    resume: bool = False,
    metadata: dict | None = None,
    progress: bool | Callable[[str, int, int], None] = False,
    log=None,
    stop_after: int | None = None,
) -> dict:
    """Run (or resume) MD of ``atoms`` with ``calculator`` into ``run_dir``.

    Parameters
    ----------
    atoms : ase.Atoms
        Start structure (ignored on resume, where the checkpoint is the state).
    calculator : ASE calculator
    run_dir : path-like
        Gets ``traj.h5``, ``checkpoint.npz``, ``md.log``.
    config : MDConfig
    resume : bool
        Continue from ``checkpoint.npz`` (error if absent); with ``False`` an existing
        ``traj.h5`` is an error.
    metadata : dict
        Stored in the H5MD file's ``/parameters/mdrunner``.
    stop_after : int, optional
        Stop (with a checkpoint) once this many steps have been done in this call — used to
        test interruption.

    Returns
    -------
    dict with ``steps_done``, ``n_frames``, ``seconds``, ``s_per_step``, ``interrupted``,
    ``energy_drift_eV_per_atom_ps`` and the paths.
    """
    cfg = config or MDConfig()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    traj_path = run_dir / "traj.h5"
    ckpt_path = run_dir / "checkpoint.npz"
    log_path = run_dir / "md.log"
    if cfg.checkpoint_every % cfg.save_every:
        cfg.checkpoint_every += cfg.save_every - cfg.checkpoint_every % cfg.save_every

    def say(msg: str) -> None:
        with open(log_path, "a") as fh:
            fh.write(msg + "\n")
        if log is not None:
            log(msg)

    atoms = None if atoms is None else atoms.copy()
    rng = np.random.default_rng(cfg.seed)
    eq_report: dict | None = None
    thermo_state: dict = {}
    if resume:
        if not ckpt_path.exists():
            raise FileNotFoundError(f"{ckpt_path}: no checkpoint to resume from")
        ck = load_checkpoint(ckpt_path)
        atoms = Atoms(numbers=ck["numbers"], positions=ck["positions"], cell=ck["cell"],
                      pbc=True)
        atoms.set_momenta(ck["momenta"])
        rng.bit_generator.state = ck["rng_state"]
        thermo_state = ck["thermostat"]
        step = int(ck["step"])
        writer = H5MDAppender(traj_path, mode="a")
        stored = writer.metadata.get("md", {})
        try:
            refuse_changed_physics(run_dir, physics_changes(stored, asdict(cfg)))
        except ValueError:
            writer.close()  # the file back as it was (one plain file)
            raise
        writer.metadata["md"] = {**stored, **asdict(cfg)}  # steps may have been extended
        kept = writer.truncate_after(step)
        say(f"resumed at step {step} ({kept} frames kept)")
    else:
        if atoms is None:
            raise ValueError("atoms is required unless resume=True")
        if traj_path.exists():
            raise FileExistsError(f"{traj_path} exists: use resume, or a new run directory")
        atoms.calc = calculator
        if cfg.relax_steps > 0:
            from ase.optimize import FIRE

            opt = FIRE(atoms, logfile=None)
            opt.run(fmax=cfg.relax_fmax, steps=cfg.relax_steps)
            say(f"FIRE pre-relaxation: {opt.nsteps} steps, "
                f"fmax {np.abs(atoms.get_forces()).max():.3f} eV/Å")
        from ase.md import velocitydistribution as vd

        # same draws either way; thermalize_momenta is the name from ASE 3.29 on
        thermalize = getattr(vd, "thermalize_momenta", None)
        if thermalize is not None:
            thermalize(atoms, cfg.temperature_K, rng=rng)
        else:  # pragma: no cover - older ASE
            vd.MaxwellBoltzmannDistribution(atoms, temperature_K=cfg.temperature_K, rng=rng)
        Stationary = vd.Stationary
        Stationary(atoms)
        if cfg.equilibration_steps > 0:
            eq_report = equilibrate(atoms, cfg, rng)
            say("equilibration: " + json.dumps(eq_report))
        step = 0
        meta = dict(metadata or {})
        meta["md"] = asdict(cfg)
        if eq_report is not None:
            meta["equilibration"] = eq_report
        writer = H5MDAppender(traj_path, atoms.get_chemical_symbols(), mode="w",
                              dtype=np.dtype(cfg.position_dtype), metadata=meta)
    atoms.calc = calculator
    atoms.pbc = True
    dyn = _make_dynamics(atoms, cfg, rng, step)
    _restore_thermostat(dyn, thermo_state)
    dt_ps = cfg.timestep_fs * FS_TO_PS

    def frame() -> None:
        obs = _observables(atoms, dyn)
        writer.append(step, step * dt_ps, atoms.get_positions(), np.asarray(atoms.cell[:]),
                      atoms.get_velocities() * ASE_VEL_TO_A_PS, obs)
        return obs

    def checkpoint() -> None:
        writer.commit()  # the frames up to here become durable before the checkpoint names them
        save_checkpoint(ckpt_path, atoms, step, rng, _thermostat_state(dyn), writer.n_frames)

    if step == 0 and writer.n_frames == 0:
        obs0 = frame()
        checkpoint()
        say(f"step 0: T = {obs0['temperature']:.1f} K, Epot = {obs0['potential_energy']:.4f} eV")
    from hcanalysis.progress import Counter, resolve

    bar = Counter(resolve(None if progress is True else progress) if progress else None,
                  "MD: steps", cfg.steps) if progress else None
    if bar is not None:
        bar.__enter__()
        bar.update(step)
    t0 = time.perf_counter()
    done = 0
    interrupted = False
    e_first = None
    e_hist: list[tuple[float, float]] = []
    try:
        with StopFlag() as stop:
            while step < cfg.steps:
                _set_target(dyn, cfg, step)
                dyn.step()
                step += 1
                done += 1
                if step % cfg.save_every == 0:
                    obs = frame()
                    key = "conserved_energy" if "conserved_energy" in obs else "total_energy"
                    e_hist.append((step * dt_ps, obs[key]))
                    if e_first is None:
                        e_first = obs[key]
                    if step % (cfg.save_every * 10) == 0:
                        say(f"step {step}: T = {obs['temperature']:.1f} K, Epot = "
                            f"{obs['potential_energy']:.4f} eV, {key} = {obs[key]:.4f} eV, "
                            f"{(time.perf_counter() - t0) / done:.3f} s/step")
                if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                    checkpoint()
                if bar is not None:
                    bar.update(step)
                if stop.flag or (stop_after is not None and done >= stop_after):
                    interrupted = step < cfg.steps
                    break
            if interrupted:
                # frames past the last save are re-done on resume; checkpoint where we are
                writer.truncate_after(step)
                checkpoint()
                say(f"stopped at step {step} (checkpoint written)")
    finally:
        if bar is not None and not interrupted and step >= cfg.steps:
            bar.update(cfg.steps)
        writer.close()
    seconds = time.perf_counter() - t0
    drift = float("nan")
    if len(e_hist) >= 2:
        tt, ee = np.array(e_hist).T
        drift = float(np.polyfit(tt, ee, 1)[0] / len(atoms))
    n_frames = count_frames(traj_path)
    t_mean = _mean_temperature(traj_path)
    summary = dict(
        steps_done=done,
        step=step,
        n_frames=n_frames,
        seconds=seconds,
        s_per_step=seconds / max(done, 1),
        interrupted=interrupted,
        energy_drift_eV_per_atom_ps=drift,
        temperature_mean_K=t_mean,
        equilibration=eq_report,
        traj=str(traj_path),
        checkpoint=str(ckpt_path),
    )
    say("summary " + json.dumps(summary))
    return summary


def equilibrate(atoms: Atoms, cfg: MDConfig, rng: np.random.Generator) -> dict:
    """Langevin equilibration before production (``cfg.equilibration_steps`` steps).

    Returns the report stored in the run's metadata and ``md.log``: the steps, the friction
    (1/ps), the mean and standard deviation of the temperature (K) over the second half, and
    the drift of the potential energy over the second half (eV/atom/ps, a linear fit; near
    zero once the cell has relaxed).
    """
    from ase.md.langevin import Langevin

    dyn = Langevin(atoms, cfg.timestep_fs * units.fs, temperature_K=cfg.temperature_K,
                   friction=cfg.friction_per_ps / (1000 * units.fs), fixcm=False, rng=rng)
    n = int(cfg.equilibration_steps)
    every = max(1, n // 200)
    rows = []
    for k in range(1, n + 1):
        dyn.step()
        if k % every == 0:
            rows.append((k * cfg.timestep_fs * FS_TO_PS, atoms.get_temperature(),
                         atoms.get_potential_energy()))
    arr = np.array(rows) if rows else np.zeros((0, 3))
    half = arr[len(arr) // 2:]
    drift = float(np.polyfit(half[:, 0], half[:, 2], 1)[0] / len(atoms)) \
        if len(half) >= 2 else float("nan")
    return {"steps": n, "thermostat": "langevin", "friction_per_ps": cfg.friction_per_ps,
            "temperature_mean_K": float(half[:, 1].mean()) if len(half) else float("nan"),
            "temperature_std_K": float(half[:, 1].std()) if len(half) else float("nan"),
            "epot_drift_eV_per_atom_ps": drift}


def _mean_temperature(path: Path) -> float:
    import h5py

    with h5py.File(path, "r") as f:
        t = f["observables/temperature/value"][()]
    return float(t.mean()) if len(t) else float("nan")


def count_frames(path: Path) -> int:
    """Frames in an H5MD trajectory written by mdrunner."""
    import h5py

    with h5py.File(path, "r") as f:
        return int(f["particles/all/position/step"].shape[0])
