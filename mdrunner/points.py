"""A sweep point and its run folder: the point's parameters, building its cell and writing
``start.extxyz`` and ``run.json``, and reading/writing those JSON files atomically. Used by
the sweeps (:mod:`mdrunner.sweep`), the batched torch-sim engine (:mod:`mdrunner.batched`) and
``mdrunner run``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hcanalysis.atomic import atomic_output
from mdrunner.md import MDConfig


@dataclass
class SweepPoint:
    density: float
    loading: str
    seed: int
    n_carbon: int = 200
    potential: str = "chgnet"
    model: str | None = None
    device: str = "cpu"
    dtype: str = "float64"
    threads: int | None = 1
    md: dict = field(default_factory=dict)
    #: ``"ase"`` (``potential`` through ASE) or ``"lammps"`` (:mod:`mdrunner.lammps_engine`)
    engine: str = "ase"
    #: :class:`mdrunner.lammps_engine.LammpsConfig` fields (lammps engine)
    lammps: dict = field(default_factory=dict)
    #: start from this structure file instead of building the carbon
    structure: str | None = None

    @property
    def name(self) -> str:
        return f"rho{self.density:.2f}_{self.loading}_s{self.seed}"


def versions() -> dict:
    """Versions of the packages that shape a run."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("hcanalysis", "ase", "numpy", "torch", "chgnet", "mace-torch", "sevenn",
                "lammps"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def read_run_json(run_dir) -> dict | None:
    """A run folder's ``run.json`` as a dict (None when there is none)."""
    p = Path(run_dir) / "run.json"
    if not p.exists():
        return None
    return json.loads(p.read_text())


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically (temporary sibling, rename)."""
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, default=str))


def start_point(point: SweepPoint, run_dir: Path, cfg: MDConfig,
                 stale=("traj.h5", "checkpoint.npz")):
    """Build a point's cell, write ``start.extxyz`` and a fresh ``run.json``."""
    from mdrunner import calculators
    from mdrunner.builders import build_fragments
    from mdrunner.insertion import insert_na

    for name in stale:
        (run_dir / name).unlink(missing_ok=True)
    if point.structure is not None:
        from mdrunner.builders import read_structure

        atoms, rep = read_structure(point.structure)
        own_na = "Na" in rep.composition
        if not own_na and point.loading:
            atoms, rep = insert_na(atoms, point.loading, seed=point.seed)
    else:
        carbon, _ = build_fragments(point.n_carbon, point.density, seed=point.seed)
        atoms, rep = insert_na(carbon, point.loading, seed=point.seed)
    from ase.io import write

    write(run_dir / "start.extxyz", atoms)
    from_file = point.structure is not None
    meta = dict(
        # a structure file sets its own density (and loading, when it carries Na): the
        # command-line values were not used and are not recorded
        density=rep.carbon_density if from_file else point.density,
        carbon_density=rep.carbon_density,
        loading=None if from_file and own_na else point.loading,
        n_na=rep.composition.get("Na", 0),
        n_carbon=rep.composition.get("C", 0),
        temperature_K=cfg.temperature_K,
        # the names hcanalysis.ensemble reads: carbon density (g/cm³), Na/C, K
        na_loading=rep.composition.get("Na", 0) / max(1, rep.composition.get("C", 0)),
        temperature=cfg.temperature_K,
        seed=point.seed,
        potential=(calculators.describe(point.potential, point.model)
                   if point.engine != "lammps" else {"potential": "lammps"}),
        engine=point.engine,
        md=asdict(cfg),
        build=rep.to_dict(),
        versions=versions(),
        paths=dict(traj="traj.h5", structure="start.extxyz", checkpoint="checkpoint.npz",
                   log="md.log"),
        status="running",
    )
    if point.engine == "lammps":
        from mdrunner.lammps_engine import LammpsConfig, describe_model, species_types

        meta["potential"] = describe_model(species_types(atoms.get_chemical_symbols()),
                                           LammpsConfig(**point.lammps))
        meta["lammps"] = asdict(LammpsConfig(**point.lammps))  # checked on resume
        meta["paths"] = dict(traj="traj.h5", structure="start.extxyz",
                             checkpoint="checkpoint.restart", log="md.log")
    write_json(run_dir / "run.json", meta)
    return atoms, meta
