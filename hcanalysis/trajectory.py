"""The :class:`Trajectory`: species, lazily read positions, boxes and times.

Contract (used by outside checks): ``n_frames``, ``n_atoms``, ``species``, ``time_ps``,
``box(i)``, ``positions(select=None, unwrap=False, frames=slice(None))``.

It is defined in :mod:`hcanalysis.io.trajectory`, beside the frame sources and the unwrapping
it is built on, so that the readers (which return Trajectories) and the Trajectory do not
import each other; it is importable from here as before.
"""

from hcanalysis.io.trajectory import Trajectory

__all__ = ["Trajectory"]
