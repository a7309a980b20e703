"""Child process of the kill-at-random test: an MD run (or its resume) that the parent kills
with SIGKILL at a random instant. Usage: python md_kill_child.py RUN_DIR {new|resume}."""

import sys
import time

from ase.build import bulk
from ase.calculators.emt import EMT

from mdrunner.md import MDConfig, run_md

CONFIG = dict(temperature_K=700, steps=60, save_every=2, checkpoint_every=6, seed=5,
              thermostat="langevin", position_dtype="float64")


class SlowStatelessEMT(EMT):
    """EMT whose forces depend only on the positions (see test_mdrunner.StatelessEMT), slowed
    so that a kill can land anywhere in a step, a frame write or a commit."""

    def calculate(self, atoms=None, properties=("energy",), system_changes=None):
        from ase.calculators.calculator import all_changes

        time.sleep(0.002)
        super().calculate(atoms, properties, all_changes)


def cell():
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True) * (2, 2, 2)
    atoms.rattle(0.05, seed=3)
    return atoms


if __name__ == "__main__":
    run_dir, what = sys.argv[1], sys.argv[2]
    resume = what == "resume"
    run_md(None if resume else cell(), SlowStatelessEMT(), run_dir, MDConfig(**CONFIG),
           resume=resume)
