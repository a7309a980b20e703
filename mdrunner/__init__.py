"""mdrunner: hard-carbon + Na cells and MLIP molecular dynamics writing H5MD for hcanalysis.

Builders (:mod:`mdrunner.builders`, :mod:`mdrunner.insertion`), potentials
(:mod:`mdrunner.calculators`: CHGNet embedded default, MACE, SevenNet, any ASE calculator),
MD with checkpoints (:mod:`mdrunner.md`), sweeps (:mod:`mdrunner.sweep`), and the recipe of
the bundled sample (:mod:`mdrunner.sample`). Torch-based potentials need the ``[md]`` extra.
"""

from mdrunner.builders import BuildReport, build_fragments, build_melt_quench, read_structure
from mdrunner.insertion import insert_na
from mdrunner.md import MDConfig, run_md

__all__ = [
    "BuildReport",
    "MDConfig",
    "build_fragments",
    "build_melt_quench",
    "insert_na",
    "read_structure",
    "run_md",
]
