"""hcanalysis: Na-ion transport in hard-carbon anodes, from trajectories to diffusion modes.

Quick start::

    import hcanalysis as hca
    traj = hca.load("run.dump", type_map={1: "C", 2: "Na"})
    na = traj.positions("Na", unwrap=True)       # (n_frames, n_Na, 3), Å
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from hcanalysis.errors import HCAnalysisError, SelectionError, TrajectoryFormatError
from hcanalysis.io import load, write_h5md
from hcanalysis.trajectory import Trajectory

try:
    __version__ = version("hcanalysis")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.1.0"

_SUBMODULES = {
    "msd",
    "hops",
    "structure",
    "voids",
    "tortuosity",
    "descriptors",
    "modes",
    "importance",
    "ensemble",
    "report",
    "io",
    "kernels",
}


def __getattr__(name: str):
    """Import analysis submodules on first use (``hcanalysis.msd.per_ion(...)``)."""
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"hcanalysis.{name}")
    raise AttributeError(f"module 'hcanalysis' has no attribute {name!r}")


__all__ = [
    "HCAnalysisError",
    "SelectionError",
    "Trajectory",
    "TrajectoryFormatError",
    "__version__",
    "load",
    "write_h5md",
]
