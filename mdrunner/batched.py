"""Batched NVT Langevin MD of many small cells at once with torch-sim and a MACE model.

Optional engine (``pip install 'hcanalysis[torchsim]'``, which needs the ``[md]`` extra's
mace-torch too): the cells of a batch, of any sizes, share one torch-sim state and one
MACE evaluation per step, on ``"cuda"`` or ``"cpu"``. Each cell still gets its own run
directory with a ``traj.h5`` in exactly the layout :mod:`mdrunner.h5md` writes for the
ASE engine (:func:`mdrunner.md.run_md`), so ``hcanalysis.load(run_dir / "traj.h5")`` and
``hcanalysis analyze`` read it unchanged.

Integrator: torch-sim's BAOAB Langevin (:func:`torch_sim.integrators.nvt_langevin`), with
a target temperature and friction per cell; the time step, the number of steps and the
frame/checkpoint intervals are shared by a batch. torch-sim wraps positions into the cell
every step; the periodic images are counted here (a cell's atoms move far less than half a
box per step) so that the trajectory keeps continuous (unwrapped) coordinates.

Checkpoints: every ``checkpoint_every`` steps (and on SIGTERM/SIGINT) each cell writes
``checkpoint_torchsim.pkl`` into its run directory: wrapped positions, image counts,
momenta, step, frames, and the batch's torch RNG state with the names of the batch's
members. Resuming a batch with the same members at the same step continues bit for bit
(CPU; on a GPU up to the nondeterminism of its scatter sums); a cell resumed in a
different batch continues from its own positions and momenta with a fresh Langevin noise
stream (statistically equivalent, not bit-identical).

Units: torch-sim's metal units are ASE's (Å, eV, amu; time in Å·sqrt(amu/eV) ≈ 10.18 fs),
so the momenta are ASE momenta and ``dt = timestep_fs * ase.units.fs``.
"""

from __future__ import annotations

import json
import pickle
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from ase import Atoms, units

from mdrunner.h5md import H5MDAppender
from mdrunner.md import (
    ASE_VEL_TO_A_PS,
    FS_TO_PS,
    MDConfig,
    StopFlag,
    atomic_pickle,
    count_frames,
)

CHECKPOINT = "checkpoint_torchsim.pkl"
EXTRA = "pip install 'hcanalysis[md,torchsim]'"


def _import_torchsim():
    """Import mace (first, for e3nn), torch-sim and its MACE wrapper; clear error if absent."""
    from mdrunner.calculators import import_mace

    try:
        import_mace()
    except ImportError as exc:
        raise ImportError(
            f"the torchsim engine runs MACE models and needs mace-torch: {EXTRA}"
        ) from exc
    try:
        import torch_sim
        from torch_sim.models.mace import MaceModel
    except ImportError as exc:
        raise ImportError(
            "the batched torchsim engine needs torch-sim (the 'torch-sim-atomistic' "
            f"package): {EXTRA}"
        ) from exc
    return torch_sim, MaceModel


def load_model(model, *, device: str = "cpu", dtype: str = "float64",
               threads: int | None = None, enable_cueq: bool | None = None):
    """A MACE model file wrapped as a torch-sim model (energies and forces, no stress).

    Parameters
    ----------
    model : path-like or torch.nn.Module
        MACE model file, found like ``calculators.get("mace", model=PATH)`` finds it (a path
        or a name in ``$MDRUNNER_MODELS``), or an already loaded MACE module.
    device : ``"cpu"`` or ``"cuda"``
    dtype : ``"float32"`` or ``"float64"``
        Precision of the model and of the MD state.
    threads : int, optional
        torch CPU threads.
    enable_cueq : bool, optional
        cuEquivariance kernels; ``None`` turns them on for CUDA when installed.

    Returns
    -------
    torch_sim.models.mace.MaceModel

    Raises
    ------
    ImportError
        torch-sim or mace-torch missing (the message names the extras).
    FileNotFoundError
        The model file is missing.
    """
    _, mace_model = _import_torchsim()
    import torch

    from mdrunner.calculators import resolve_model_path, set_threads

    set_threads(threads)
    if dtype not in ("float32", "float64"):
        raise ValueError("dtype must be 'float32' or 'float64'")
    if isinstance(model, torch.nn.Module):
        module = model
    else:
        # a MACE model file is a pickled module (what mace's own calculator loads)
        module = torch.load(resolve_model_path(model), map_location=device,
                            weights_only=False)
    if enable_cueq is None:
        enable_cueq = False
        if str(device).startswith("cuda"):
            try:
                import cuequivariance_torch  # noqa: F401

                enable_cueq = True
            except ImportError:
                pass
    return mace_model(module, device=torch.device(device), dtype=getattr(torch, dtype),
                      compute_forces=True, compute_stress=False, enable_cueq=enable_cueq)


def _sim_state(cells: list[Atoms], model):
    """One torch-sim state holding every cell (ASE positions, not yet wrapped)."""
    import torch_sim as ts

    return ts.io.atoms_to_state(list(cells), device=model.device, dtype=model.dtype)


def evaluate(cells, model) -> list[dict]:
    """Energies (eV) and forces (eV/Å) of several cells in one batched model call.

    Parameters
    ----------
    cells : ase.Atoms or list of ase.Atoms
        Periodic cells, of any sizes.
    model : torch-sim model, e.g. from :func:`load_model`

    Returns
    -------
    list of dict with ``energy`` (float, eV) and ``forces`` ((n, 3) array, eV/Å), per cell.
    """
    if isinstance(cells, Atoms):
        cells = [cells]
    state = _sim_state(cells, model)
    out = model(state)
    e = out["energy"].detach().cpu().numpy().astype(np.float64)
    f = out["forces"].detach().cpu().numpy().astype(np.float64)
    bounds = np.cumsum([0] + [len(a) for a in cells])
    return [dict(energy=float(e[i]), forces=f[bounds[i]:bounds[i + 1]])
            for i in range(len(cells))]


# ---------------------------------------------------------------------------- checkpoints
def _save(path: Path, payload: dict) -> None:
    atomic_pickle(path, payload)


def load_checkpoint(run_dir) -> dict:
    """The batched engine's checkpoint of one run directory."""
    with open(Path(run_dir) / CHECKPOINT, "rb") as fh:
        return pickle.load(fh)


def checkpoint_step(run_dir) -> int | None:
    """Step of the batched engine's checkpoint in ``run_dir`` (``None``: there is none)."""
    p = Path(run_dir) / CHECKPOINT
    if not p.exists() or not (Path(run_dir) / "traj.h5").exists():
        return None
    return int(load_checkpoint(run_dir)["step"])


def _common(configs: list[MDConfig]) -> MDConfig:
    first = configs[0]
    for c in configs[1:]:
        for key in ("steps", "timestep_fs", "save_every", "checkpoint_every"):
            if getattr(c, key) != getattr(first, key):
                raise ValueError(f"the cells of a batch must share {key}: "
                                 f"{getattr(first, key)} vs {getattr(c, key)}")
    for c in configs:
        if c.thermostat.lower() != "langevin":
            raise ValueError("the torchsim engine runs NVT Langevin only "
                             f"(thermostat {c.thermostat!r})")
    return first


# ---------------------------------------------------------------------------- MD
def run_batched_md(
    cells,
    run_dirs,
    model,
    configs: MDConfig | list[MDConfig] | None = None,
    *,
    resume: bool = False,
    metadata: list[dict] | None = None,
    stop_after: int | None = None,
    log=None,
) -> list[dict]:
    """Run (or resume) NVT Langevin MD of several cells at once, one run directory each.

    Parameters
    ----------
    cells : list of ase.Atoms
        Start structures, of any sizes (ignored on resume: the checkpoints are the state;
        entries may then be ``None``).
    run_dirs : list of path-like
        One per cell; each gets ``traj.h5`` (H5MD, same layout as :func:`run_md`),
        ``checkpoint_torchsim.pkl`` and ``md.log``.
    model : torch-sim model
        From :func:`load_model`; its device and dtype are the run's.
    configs : MDConfig or list of MDConfig
        One for all cells or one per cell. Per cell: ``temperature_K`` (K),
        ``temperature_end_K`` (K, linear ramp), ``friction_per_ps`` (1/ps), ``seed``
        (initial velocities), ``relax_steps``/``relax_fmax`` (eV/Å, batched FIRE before
        MD), ``position_dtype``. Shared by the batch: ``steps``, ``timestep_fs`` (fs),
        ``save_every``, ``checkpoint_every`` (steps). ``thermostat`` must be
        ``"langevin"``.
    resume : bool
        Continue every cell from its checkpoint (all at the same step).
    metadata : list of dict, optional
        Stored per cell in the H5MD file's ``/parameters/mdrunner``.
    stop_after : int, optional
        Stop (with checkpoints) after this many steps in this call, to test interruption.
    log : callable, optional
        Gets progress lines.

    Returns
    -------
    list of dict, one per cell, with ``steps_done``, ``step``, ``n_frames``, ``seconds``
    (wall time of the whole batch), ``s_per_step`` (batch seconds per step),
    ``interrupted``, ``energy_drift_eV_per_atom_ps``, ``batch_size``, ``traj`` and
    ``checkpoint``.
    """
    ts, _ = _import_torchsim()
    import torch
    from torch_sim.integrators import MDState

    run_dirs = [Path(d) for d in run_dirs]
    n_sys = len(run_dirs)
    if n_sys == 0:
        return []
    if configs is None:
        configs = MDConfig()
    cfgs = list(configs) if isinstance(configs, list | tuple) else [configs] * n_sys
    if len(cfgs) != n_sys:
        raise ValueError("one config per cell (or one for all)")
    cfgs = [MDConfig(**asdict(c)) for c in cfgs]
    for c in cfgs:
        if c.checkpoint_every % c.save_every:
            c.checkpoint_every += c.save_every - c.checkpoint_every % c.save_every
    base = _common(cfgs)
    metas = list(metadata) if metadata is not None else [{} for _ in run_dirs]
    members = [d.name for d in run_dirs]
    device, dtype = model.device, model.dtype
    for d in run_dirs:
        d.mkdir(parents=True, exist_ok=True)

    def say(i: int | None, msg: str) -> None:
        for j in range(n_sys) if i is None else [i]:
            with open(run_dirs[j] / "md.log", "a") as fh:
                fh.write(msg + "\n")
        if log is not None:
            log(msg if i is None else f"{run_dirs[i].name}: {msg}")

    rng_state = None
    writers: list[H5MDAppender] = []
    if resume:
        cks = [load_checkpoint(d) for d in run_dirs]
        steps = {int(c["step"]) for c in cks}
        if len(steps) != 1:
            raise ValueError(f"cells of a resumed batch must be at one step, got {steps}")
        step = steps.pop()
        cells = [Atoms(numbers=c["numbers"], positions=c["positions"], cell=c["cell"],
                       pbc=True) for c in cks]
        state = _sim_state(cells, model)
        state.positions = torch.as_tensor(np.concatenate([c["positions"] for c in cks]),
                                          dtype=dtype, device=device)
        momenta = torch.as_tensor(np.concatenate([c["momenta"] for c in cks]), dtype=dtype,
                                  device=device)
        images = torch.as_tensor(np.concatenate([c["images"] for c in cks]), dtype=dtype,
                                 device=device)
        if all(c.get("batch") == members for c in cks):
            rng_state = cks[0]["rng"]
        for d in run_dirs:
            w = H5MDAppender(d / "traj.h5", mode="a")
            kept = w.truncate_after(step)
            writers.append(w)
            say(run_dirs.index(d), f"resumed at step {step} ({kept} frames kept, "
                f"{'same batch' if rng_state is not None else 'new batch: fresh noise'})")
    else:
        if cells is None or len(cells) != n_sys or any(a is None for a in cells):
            raise ValueError("one start structure per run directory is required")
        for d in run_dirs:
            if (d / "traj.h5").exists():
                raise FileExistsError(f"{d / 'traj.h5'} exists: resume, or a new directory")
        cells = [a.copy() for a in cells]
        for a in cells:
            a.pbc = True
        step = 0
        state = _sim_state(cells, model)
        # periodic images of the start positions; torch-sim works with wrapped ones
        inv = torch.linalg.inv(state.row_vector_cell)[state.system_idx]
        frac = torch.bmm(state.positions.unsqueeze(1), inv).squeeze(1)
        images = torch.floor(frac)
        state.positions = torch.bmm((frac - images).unsqueeze(1),
                                    state.row_vector_cell[state.system_idx]).squeeze(1)
        if any(c.relax_steps > 0 for c in cfgs):
            state = _relax(state, model, cfgs, say)
        # initial velocities per cell exactly as run_md draws them (same seed, same draws)
        from ase.md import velocitydistribution as vd

        moms = []
        for a, c, pos in zip(cells, cfgs, _split(state.positions, state), strict=True):
            a.positions = pos
            rng = np.random.default_rng(c.seed)
            thermalize = getattr(vd, "thermalize_momenta", None)
            if thermalize is not None:
                thermalize(a, c.temperature_K, rng=rng)
            else:  # pragma: no cover - older ASE
                vd.MaxwellBoltzmannDistribution(a, temperature_K=c.temperature_K, rng=rng)
            vd.Stationary(a)
            moms.append(a.get_momenta())
        momenta = torch.as_tensor(np.concatenate(moms), dtype=dtype, device=device)
        for d, a, c, m in zip(run_dirs, cells, cfgs, metas, strict=True):
            meta = dict(m)
            meta["md"] = asdict(c)
            meta["engine"] = "torchsim"
            writers.append(H5MDAppender(d / "traj.h5", a.get_chemical_symbols(), mode="w",
                                        dtype=np.dtype(c.position_dtype), metadata=meta))
    out = model(state)
    state = MDState(positions=state.positions, momenta=momenta, energy=out["energy"],
                    forces=out["forces"], masses=state.masses, cell=state.cell, pbc=True,
                    system_idx=state.system_idx, atomic_numbers=state.atomic_numbers)

    sys_idx = state.system_idx
    n_atoms = torch.bincount(sys_idx, minlength=n_sys).to(dtype)
    dt = torch.tensor(base.timestep_fs * units.fs, dtype=dtype, device=device)
    gamma = torch.tensor([c.friction_per_ps / (1000 * units.fs) for c in cfgs], dtype=dtype,
                         device=device)
    kT0 = torch.tensor([units.kB * c.target_T(step) for c in cfgs], dtype=dtype,
                       device=device)
    _, update = ts.integrators.nvt_langevin(model, dt=dt, kT=kT0, gamma=gamma)
    ramp = any(c.temperature_end_K is not None for c in cfgs)
    dt_ps = base.timestep_fs * FS_TO_PS
    inv_cell = torch.linalg.inv(state.row_vector_cell)[sys_idx]
    frac_prev = torch.bmm(state.positions.unsqueeze(1), inv_cell).squeeze(1)
    e_hist: list[list[tuple[float, float]]] = [[] for _ in range(n_sys)]

    def frame() -> list[dict]:
        ekin = torch.zeros(n_sys, dtype=dtype, device=device).index_add_(
            0, sys_idx, 0.5 * (state.momenta**2).sum(1) / state.masses)
        temp = 2.0 * ekin / (3.0 * n_atoms * units.kB)
        epot = state.energy.detach().cpu().numpy().astype(np.float64)
        ekin_np = ekin.cpu().numpy().astype(np.float64)
        temp_np = temp.cpu().numpy().astype(np.float64)
        cont = state.positions + torch.bmm(images.unsqueeze(1),
                                           state.row_vector_cell[sys_idx]).squeeze(1)
        pos = _split(cont, state)
        vel = _split(state.momenta / state.masses.unsqueeze(1) * ASE_VEL_TO_A_PS, state)
        boxes = state.row_vector_cell.detach().cpu().numpy().astype(np.float64)
        obs_all = []
        for i, w in enumerate(writers):
            obs = dict(potential_energy=epot[i], kinetic_energy=ekin_np[i],
                       total_energy=epot[i] + ekin_np[i], temperature=temp_np[i])
            w.append(step, step * dt_ps, pos[i], boxes[i], vel[i], obs)
            obs_all.append(obs)
        return obs_all

    def checkpoint(rng) -> None:
        pos = _split(state.positions, state)
        mom = _split(state.momenta, state)
        img = _split(images, state)
        numbers = _split(state.atomic_numbers, state)
        boxes = state.row_vector_cell.detach().cpu().numpy().astype(np.float64)
        for i, d in enumerate(run_dirs):
            writers[i].commit()  # frames durable before the checkpoint names them
            _save(d / CHECKPOINT, dict(
                engine="torchsim", positions=pos[i], momenta=mom[i],
                images=img[i].astype(np.int64), cell=boxes[i], numbers=numbers[i],
                step=int(step), n_frames=writers[i].n_frames, batch=members, index=i,
                rng=rng,
            ))

    def rng_get():
        return (torch.get_rng_state(),
                torch.cuda.get_rng_state(device) if device.type == "cuda" else None)

    def rng_set(s) -> None:
        torch.set_rng_state(s[0])
        if s[1] is not None:
            torch.cuda.set_rng_state(s[1], device)

    t0 = time.perf_counter()
    done = 0
    interrupted = False
    fork_devices = [device] if device.type == "cuda" else []
    try:
        with StopFlag() as stop, torch.random.fork_rng(devices=fork_devices):
            if rng_state is not None:
                rng_set(rng_state)
            else:
                # one noise stream per batch, from the cells' seeds and the start step
                torch.manual_seed(hash((tuple(c.seed for c in cfgs), step)) % (2**63))
            if step == 0 and writers[0].n_frames == 0:
                obs0 = frame()
                checkpoint(rng_get())
                for i, o in enumerate(obs0):
                    say(i, f"step 0: T = {o['temperature']:.1f} K, "
                        f"Epot = {o['potential_energy']:.4f} eV (batch of {n_sys})")
            while step < base.steps:
                if ramp:
                    kT = torch.tensor([units.kB * c.target_T(step) for c in cfgs],
                                      dtype=dtype, device=device)
                    state = update(state, kT=kT)
                else:
                    state = update(state)
                step += 1
                done += 1
                # count the periodic images torch-sim's wrapping removed
                frac = torch.bmm(state.positions.unsqueeze(1), inv_cell).squeeze(1)
                images -= torch.round(frac - frac_prev)
                frac_prev = frac
                if step % base.save_every == 0:
                    obs = frame()
                    for i, o in enumerate(obs):
                        e_hist[i].append((step * dt_ps, o["total_energy"]))
                    if step % (base.save_every * 10) == 0:
                        rate = (time.perf_counter() - t0) / done
                        for i, o in enumerate(obs):
                            say(i, f"step {step}: T = {o['temperature']:.1f} K, Epot = "
                                f"{o['potential_energy']:.4f} eV, {rate:.3f} s/batch step")
                if step % base.checkpoint_every == 0 or step == base.steps:
                    checkpoint(rng_get())
                if stop.flag or (stop_after is not None and done >= stop_after):
                    interrupted = step < base.steps
                    break
            if interrupted:
                checkpoint(rng_get())
                say(None, f"stopped at step {step} (checkpoints written)")
    finally:
        for w in writers:
            w.close()
    seconds = time.perf_counter() - t0
    results = []
    for i, d in enumerate(run_dirs):
        drift = float("nan")
        if len(e_hist[i]) >= 2:
            tt, ee = np.array(e_hist[i]).T
            drift = float(np.polyfit(tt, ee, 1)[0] / float(n_atoms[i]))
        res = dict(steps_done=done, step=step, n_frames=count_frames(d / "traj.h5"),
                   seconds=seconds, s_per_step=seconds / max(done, 1),
                   interrupted=interrupted, energy_drift_eV_per_atom_ps=drift,
                   batch_size=n_sys, engine="torchsim", traj=str(d / "traj.h5"),
                   checkpoint=str(d / CHECKPOINT))
        say(i, "summary " + json.dumps(res))
        results.append(res)
    return results


def _split(t, state) -> list[np.ndarray]:
    """A per-atom tensor as one numpy array per cell."""
    arr = t.detach().cpu().numpy()
    counts = np.bincount(state.system_idx.detach().cpu().numpy(), minlength=state.n_systems)
    return np.split(arr, np.cumsum(counts)[:-1])


def _relax(state, model, cfgs: list[MDConfig], say):
    """Batched FIRE (positions only) until every cell's fmax is below its ``relax_fmax``."""
    import torch
    import torch_sim as ts

    init, update = ts.optimizers.fire(model)
    fs = init(state)
    fmax_lim = torch.tensor([c.relax_fmax for c in cfgs], dtype=model.dtype,
                            device=model.device)
    n_max = max(c.relax_steps for c in cfgs)
    n = 0

    def fmax():
        f = fs.forces.norm(dim=1)
        return torch.zeros(fs.n_systems, dtype=f.dtype, device=f.device).scatter_reduce(
            0, fs.system_idx, f, reduce="amax")

    while n < n_max and bool((fmax() > fmax_lim).any()):
        fs = update(fs)
        n += 1
    fm = fmax().cpu().numpy()
    for i in range(len(cfgs)):
        say(i, f"FIRE pre-relaxation (batched): {n} steps, fmax {fm[i]:.3f} eV/Å")
    state.positions = fs.positions.detach()
    return state


# ---------------------------------------------------------------------------- sweeps
def run_sweep_batched(points, out_dir, *, batch_size: int | None = None,
                      stop_after: int | None = None, log=print) -> list[dict]:
    """Run sweep points (``mdrunner.sweep.SweepPoint``) in batches with torch-sim.

    Every point gets the run directory, ``start.extxyz``, ``run.json`` and ``traj.h5`` that
    :func:`mdrunner.sweep.run_point` would write (``run.json`` also says
    ``"engine": "torchsim"``). Re-running skips points whose status is ``"done"``; an
    interrupted point resumes from its ``checkpoint_torchsim.pkl`` (at most
    ``checkpoint_every`` steps are redone), points at the same step are batched together,
    and points without a checkpoint start afresh.

    Parameters
    ----------
    points : list of SweepPoint
        ``potential`` must be ``"mace"`` with ``model`` a MACE model file. Points are
        batched when they share model, device, dtype, threads, their step and the MD
        settings a batch must share (see :func:`run_batched_md`).
    out_dir : path-like
        Sweep directory.
    batch_size : int, optional
        Most cells per batch (default: all the compatible points at once).
    stop_after : int, optional
        Stop every batch after this many steps (to test interruption).
    log : callable

    Returns
    -------
    list of dict: the points' ``run.json`` contents, in the order of ``points``.
    """
    from mdrunner.points import read_run_json, start_point, write_json

    out_dir = Path(out_dir)
    results: dict[str, dict] = {}
    groups: dict[tuple, list] = {}
    for p in points:
        if p.potential.lower() != "mace":
            raise ValueError(f"the torchsim engine runs MACE models; point {p.name} asks for "
                             f"{p.potential!r} (use --potential mace --model FILE)")
        run_dir = out_dir / p.name
        run_dir.mkdir(parents=True, exist_ok=True)
        meta = read_run_json(run_dir)
        if meta and meta.get("status") == "done":
            meta["skipped"] = True
            results[p.name] = meta
            log(f"{p.name}: skipped (done)")
            continue
        if (meta and meta.get("engine", "ase") != "torchsim"
                and (run_dir / "checkpoint.npz").exists()):
            raise ValueError(f"{run_dir} was started by the ase engine: finish it with "
                             "--engine ase (or remove the directory)")
        cfg = MDConfig(**{**p.md, "seed": p.seed})
        step = checkpoint_step(run_dir) if meta else None
        atoms = None
        if step is None:
            atoms, meta = start_point(p, run_dir, cfg,
                                       stale=("traj.h5", "checkpoint.npz", CHECKPOINT))
            meta["engine"] = "torchsim"
            meta["paths"]["checkpoint"] = CHECKPOINT
            write_json(run_dir / "run.json", meta)
            step = 0
        key = (str(p.model), p.device, p.dtype, p.threads, atoms is None, step, cfg.steps,
               cfg.timestep_fs, cfg.save_every, cfg.checkpoint_every)
        groups.setdefault(key, []).append((p, run_dir, cfg, atoms, meta))
    models: dict[tuple, object] = {}
    for key, items in groups.items():
        mkey = key[:4]
        if mkey not in models:
            models[mkey] = load_model(key[0], device=key[1], dtype=key[2], threads=key[3])
        size = batch_size or len(items)
        for k in range(0, len(items), size):
            chunk = items[k:k + size]
            outs = run_batched_md(
                [it[3] for it in chunk], [it[1] for it in chunk], models[mkey],
                [it[2] for it in chunk], resume=key[4], metadata=[it[4] for it in chunk],
                stop_after=stop_after, log=None)
            for (p, run_dir, _, _, meta), out in zip(chunk, outs, strict=True):
                meta["status"] = "interrupted" if out["interrupted"] else "done"
                meta["result"] = out
                write_json(run_dir / "run.json", meta)
                results[p.name] = meta
                log(f"{p.name}: {meta['status']} (torchsim batch of {len(chunk)}, "
                    f"{out['s_per_step']:.3f} s/batch step)")
    return [results[p.name] for p in points]
