"""Unwrapping of periodic coordinates (definitions: docs/design.md, section 3).

Three rules, chosen by :func:`unwrap_block` callers in :class:`hcanalysis.Trajectory`:

* image flags present and a constant box: ``r + n @ H`` (rows of ``H`` are cell vectors);
* no image flags, constant box: continuity unwrap, i.e. the minimum-image step between
  consecutive frames (in fractional coordinates, so triclinic cells are exact) summed up;
* a changing box (NPT): the scheme of von Bülow, Bullerjahn and Hummer
  (J. Chem. Phys. 153, 021101, 2020): ``u[t+1] = u[t] + (w[t+1] - w[t]) - n H[t+1]`` with
  ``n = round((w[t+1] - w[t]) H[t+1]^-1)``, which keeps the diffusive displacement free of the
  box-rescaling artefact. With a constant box it reduces to the continuity unwrap.

All functions are pure: arrays in, arrays out, float64.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from hcanalysis.errors import UnwrapWarning

#: A minimum-image step longer than this fraction of a cell vector is reported: the true step
#: may have been longer than half a box, so the unwrapped path is not trustworthy there.
MAX_STEP_FRACTION = 0.4


@dataclass
class UnwrapState:
    """What continuity unwrapping must carry from one chunk of frames to the next."""

    last_wrapped: np.ndarray  # (n_atoms, 3) wrapped positions of the last frame seen, Å
    last_unwrapped: np.ndarray  # (n_atoms, 3) unwrapped positions of that frame, Å
    last_frame: int  # its frame index


def apply_image_flags(
    wrapped: np.ndarray, images: np.ndarray, boxes: np.ndarray
) -> np.ndarray:
    """Unwrap with image flags: ``r + n @ H`` per frame.

    Parameters
    ----------
    wrapped : (n_frames, n_atoms, 3) float
        Cartesian positions as stored, Å.
    images : (n_frames, n_atoms, 3) int
        Image flags (LAMMPS ix, iy, iz).
    boxes : (n_frames, 3, 3) float
        Cell matrices, rows are cell vectors a, b, c, Å.
    """
    wrapped = np.asarray(wrapped, dtype=np.float64)
    shift = np.einsum("fak,fkj->faj", np.asarray(images, dtype=np.float64), boxes)
    return wrapped + shift


def unwrap_block(
    wrapped: np.ndarray,
    boxes: np.ndarray,
    state: UnwrapState | None = None,
    first_frame: int = 0,
    atom_ids: np.ndarray | None = None,
    path: object = None,
) -> tuple[np.ndarray, UnwrapState]:
    """Continuity / von Bülow unwrap of a block of consecutive frames.

    Parameters
    ----------
    wrapped : (n_frames, n_atoms, 3) float
        Positions as stored (any image), Å.
    boxes : (n_frames, 3, 3) float
        Cell matrix per frame (rows are cell vectors), Å.
    state : UnwrapState, optional
        The state returned for the previous block; ``None`` starts a new path at the first
        frame of this block (which is then left as it is).
    first_frame : int
        Frame index of ``wrapped[0]`` in the trajectory, for messages.
    atom_ids : (n_atoms,) int, optional
        Atom indices, for messages.
    path : optional
        File name, for messages.

    Returns
    -------
    unwrapped : (n_frames, n_atoms, 3) float64
    state : UnwrapState
        To pass with the next block.

    Warns
    -----
    UnwrapWarning
        When a minimum-image step exceeds :data:`MAX_STEP_FRACTION` of a cell vector.
    """
    w = np.asarray(wrapped, dtype=np.float64)
    h = np.asarray(boxes, dtype=np.float64)
    n_frames = w.shape[0]
    if n_frames == 0:
        if state is None:
            raise ValueError("cannot start unwrapping from an empty block of frames")
        return w.reshape(0, *w.shape[1:]), state
    if state is None:
        prev_w = w[:1]
        start = w[0]
        steps_from = 1
    else:
        prev_w = state.last_wrapped[None]
        start = state.last_unwrapped
        steps_from = 0
    prev = np.concatenate([prev_w, w[:-1]], axis=0)[steps_from:]
    cur = w[steps_from:]
    hs = h[steps_from:]
    d = cur - prev
    frac = np.einsum("fai,fij->faj", d, np.linalg.inv(hs))
    n = np.rint(frac)
    resid = np.abs(frac - n)
    if resid.size and resid.max() > MAX_STEP_FRACTION:
        f, a, k = np.unravel_index(int(np.argmax(resid)), resid.shape)
        frame = first_frame + f + steps_from
        atom = int(atom_ids[a]) if atom_ids is not None else int(a)
        loc = f"{path}: " if path is not None else ""
        warnings.warn(
            f"{loc}frame {frame}, atom {atom}: a step of {resid.max():.2f} of cell vector "
            f"{'abc'[k]} between consecutive frames; it may have been longer than half a box "
            "and the unwrapped path is unreliable there (write image flags or unwrapped "
            "coordinates, or dump more often)",
            UnwrapWarning,
            stacklevel=3,
        )
    d -= np.einsum("faj,fjk->fak", n, hs)
    out = np.empty_like(w)
    if steps_from == 1:
        out[0] = start
        np.cumsum(d, axis=0, out=out[1:])
        out[1:] += start
    else:
        np.cumsum(d, axis=0, out=out)
        out += start
    new_state = UnwrapState(
        last_wrapped=w[-1].copy(),
        last_unwrapped=out[-1].copy(),
        last_frame=first_frame + n_frames - 1,
    )
    return out, new_state


def check_image_steps(
    unwrapped: np.ndarray,
    boxes: np.ndarray,
    prev: np.ndarray | None = None,
    first_frame: int = 0,
    atom_ids: np.ndarray | None = None,
    path: object = None,
) -> None:
    """Report a step longer than half a box in already unwrapped coordinates (from image flags
    or unwrapped columns), which means frames are too far apart for the dynamics."""
    u = np.asarray(unwrapped, dtype=np.float64)
    if prev is not None:
        u = np.concatenate([np.asarray(prev, dtype=np.float64)[None], u], axis=0)
        first_frame -= 1
    if u.shape[0] < 2:
        return
    d = np.diff(u, axis=0)
    frac = np.abs(np.einsum("fai,fij->faj", d, np.linalg.inv(boxes[-d.shape[0]:])))
    if frac.max() > 0.5:
        f, a, k = np.unravel_index(int(np.argmax(frac)), frac.shape)
        atom = int(atom_ids[a]) if atom_ids is not None else int(a)
        loc = f"{path}: " if path is not None else ""
        warnings.warn(
            f"{loc}frame {first_frame + f + 1}, atom {atom}: moved {frac.max():.2f} of cell "
            f"vector {'abc'[k]} in one frame (more than half a box); check the dump interval",
            UnwrapWarning,
            stacklevel=3,
        )
