"""Ion-only trajectories with the framework from a separate structure file.

Long runs with a rigid framework often dump only the mobile ions. :class:`FrameworkSource`
joins such a trajectory with a static framework read from a structure file (a LAMMPS data
file, extxyz, ... anything :func:`hcanalysis.load` reads; its first frame): the framework
atoms come after the trajectory's atoms, at the same positions in every frame, with zero
image flags and velocities. Every frame's box must equal the framework file's cell;
``hcanalysis.load(path, framework=FILE)`` and ``hcanalysis analyze --framework FILE`` use it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hcanalysis.errors import TrajectoryFormatError
from hcanalysis.io.source import FrameBlock

#: Largest difference (Å) between a frame's box and the framework's cell that is accepted:
#: a float32 round trip of a 100 Å box changes it by ~1e-5 Å.
BOX_TOL_A = 1e-3


class FrameworkSource:
    """A reader that adds a static framework to an ion-only reader.

    Parameters
    ----------
    ions : FrameSource
        The ion-only trajectory.
    species : (n_fw,) str
        Framework elements.
    positions : (n_fw, 3) float
        Framework positions, Å.
    cell : (3, 3) float
        Framework cell (rows are cell vectors), Å; checked against every frame's box.
    framework_path : str
        For messages.
    """

    def __init__(self, ions, species, positions, cell, framework_path: str) -> None:
        self._ions = ions
        self.path = ions.path
        self.framework_path = str(framework_path)
        self._fw_pos = np.asarray(positions, dtype=np.float64)
        cell = np.asarray(cell, dtype=np.float64)
        fw_species = np.asarray(species).astype(str)
        shared = sorted(set(fw_species) & set(np.asarray(ions.species).astype(str)))
        if shared:
            raise TrajectoryFormatError(
                f"the trajectory already holds {', '.join(shared)} atoms, which the framework "
                f"{self.framework_path} also has: --framework is for ion-only trajectories "
                "(drop it, or dump only the ions)", path=ions.path)
        boxes = np.asarray(ions.boxes, dtype=np.float64)
        diff = np.abs(boxes - cell[None]).max(axis=(1, 2))
        bad = np.flatnonzero(diff > BOX_TOL_A)
        if bad.size:
            f = int(bad[0])
            raise TrajectoryFormatError(
                f"frame {f}: box {np.round(boxes[f], 4).tolist()} differs from the cell of "
                f"the framework {self.framework_path} ({np.round(cell, 4).tolist()}) by "
                f"{diff[f]:.3g} Å ({bad.size} frames differ): the framework file must be the "
                "run's fixed cell (a constant-volume run with this framework)", path=ions.path)
        self.n_frames = int(ions.n_frames)
        self._n_ions = int(ions.n_atoms)
        self.n_atoms = self._n_ions + len(fw_species)
        self.species = np.concatenate([np.asarray(ions.species).astype(str), fw_species])
        self.time_ps = ions.time_ps
        self.boxes = boxes
        self.has_images = bool(ions.has_images)
        self.has_velocities = bool(ions.has_velocities)
        self.coords_unwrapped = bool(ions.coords_unwrapped)
        self.notes = list(getattr(ions, "notes", [])) + [
            f"framework: {len(fw_species)} atoms from {self.framework_path}, the same in "
            "every frame"]

    def read(self, frames: np.ndarray, atoms: np.ndarray | None = None) -> FrameBlock:
        frames = np.asarray(frames)
        idx = np.arange(self.n_atoms) if atoms is None else np.asarray(atoms, dtype=np.int64)
        is_ion = idx < self._n_ions
        ion_idx = idx[is_ion]
        nf = len(frames)
        pos = np.empty((nf, len(idx), 3))
        img = np.zeros((nf, len(idx), 3), np.int32) if self.has_images else None
        vel = np.zeros((nf, len(idx), 3)) if self.has_velocities else None
        if ion_idx.size:
            blk = self._ions.read(frames, ion_idx)
            pos[:, is_ion] = blk.positions
            if img is not None and blk.images is not None:
                img[:, is_ion] = blk.images
            if vel is not None and blk.velocities is not None:
                vel[:, is_ion] = blk.velocities
        fw = idx[~is_ion] - self._n_ions
        pos[:, ~is_ion] = self._fw_pos[fw][None]
        return FrameBlock(positions=pos, images=img, velocities=vel)


def with_framework(ions, framework, *, type_map=None) -> FrameworkSource:
    """``ions`` (a FrameSource) joined with the first frame of the structure file
    ``framework`` (any format :func:`hcanalysis.load` reads)."""
    from hcanalysis.io import load

    p = Path(framework)
    fw = load(p, type_map=type_map)
    pos = fw.positions(frames=[0])[0]
    cell = np.asarray(fw.box(0), dtype=np.float64)
    return FrameworkSource(ions, fw.species, pos, cell, str(p))
