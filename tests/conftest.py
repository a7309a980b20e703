"""Test configuration.

CUDA kernels run under Numba's CUDA simulator on the CPU: the variable must be set before
numba is first imported, so it is set here (and by `make test`).
"""

import os

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from lammps_fixture import lammps_runs  # noqa: E402, F401  (session fixture: dumps by LAMMPS)


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded random generator (each test gets the same stream)."""
    return np.random.default_rng(20261125)


def triclinic_box(a: float = 20.0, b: float = 22.0, c: float = 24.0,
                  xy: float = 3.0, xz: float = -2.0, yz: float = 1.5) -> np.ndarray:
    """A LAMMPS-style triclinic cell (rows are cell vectors), Å."""
    return np.array([[a, 0.0, 0.0], [xy, b, 0.0], [xz, yz, c]])
