"""Trajectory.centre_of_mass (the drift pass) against unwrapping every atom and averaging."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from hcanalysis import Trajectory
from hcanalysis.errors import UnwrapWarning


def _walk(n_frames: int, n_atoms: int, boxes: np.ndarray, step: float, seed: int):
    """Random walks in fractional coordinates, wrapped into the cell of each frame."""
    rng = np.random.default_rng(seed)
    frac = np.cumsum(rng.normal(0, step, (n_frames, n_atoms, 3)), axis=0)
    frac += rng.uniform(0, 1, (1, n_atoms, 3))
    unwrapped = np.einsum("faj,fjk->fak", frac, boxes)
    wrapped = np.einsum("faj,fjk->fak", frac - np.floor(frac), boxes)
    return wrapped, unwrapped


def _brute(traj: Trajectory, weights: np.ndarray, frames) -> np.ndarray:
    return np.einsum("fai,a->fi", traj.positions(unwrap=True, frames=frames), weights)


@pytest.mark.parametrize("kind", ["cubic", "triclinic_npt"])
@pytest.mark.parametrize("frames", [slice(None), slice(3, None, 7), [2, 5, 6, 40]])
def test_centre_of_mass_equals_unwrap_then_average(kind, frames):
    nf, na = 60, 37
    rng = np.random.default_rng(1)
    if kind == "cubic":
        boxes = np.broadcast_to(np.eye(3) * 12.0, (nf, 3, 3)).copy()
    else:  # a tilted cell that breathes: the von Bülow steps
        h = np.array([[11.0, 0, 0], [3.0, 10.0, 0], [-2.0, 1.5, 9.0]])
        boxes = h[None] * (1 + 0.02 * np.sin(np.arange(nf) / 5.0))[:, None, None]
    wrapped, _ = _walk(nf, na, boxes, 0.08, 2)
    traj = Trajectory.from_arrays(wrapped, boxes, ["C"] * na, dt_ps=0.1)
    w = rng.uniform(1, 3, na)
    w /= w.sum()
    got = traj.centre_of_mass(None, w, frames=frames, chunk_frames=9)
    want = _brute(traj, w, frames)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    # the walk crossed the cell: a plain average of the wrapped positions is wrong
    plain = np.einsum("fai,a->fi", traj.positions(frames=frames), w)
    assert np.abs(plain - want).max() > 0.1


def test_centre_of_mass_known_path_and_selection():
    """A known drift: every C moves by the same vector per frame, Na stay."""
    nf = 30
    box = np.eye(3) * 10.0
    rng = np.random.default_rng(3)
    c0 = rng.uniform(0, 10, (8, 3))
    v = np.array([0.7, -0.4, 0.25])
    c = c0[None] + np.arange(nf)[:, None, None] * v
    na = np.broadcast_to(rng.uniform(0, 10, (4, 3)), (nf, 4, 3))
    pos = np.concatenate([na, c], axis=1) % 10.0
    traj = Trajectory.from_arrays(pos, box, ["Na"] * 4 + ["C"] * 8)
    com = traj.centre_of_mass("C", chunk_frames=4)
    np.testing.assert_allclose(com - com[0], np.arange(nf)[:, None] * v, atol=1e-12)


def test_centre_of_mass_image_flags_path():
    nf, na = 20, 5
    boxes = np.broadcast_to(np.eye(3) * 8.0, (nf, 3, 3)).copy()
    wrapped, unwrapped = _walk(nf, na, boxes, 0.12, 4)
    images = np.rint((unwrapped - wrapped) / 8.0).astype(np.int32)
    traj = Trajectory.from_arrays(wrapped, boxes, ["C"] * na, images=images)
    np.testing.assert_allclose(traj.centre_of_mass(chunk_frames=6),
                               unwrapped.mean(axis=1), atol=1e-9)


def test_centre_of_mass_warns_on_long_steps():
    nf, na = 10, 3
    boxes = np.broadcast_to(np.eye(3) * 8.0, (nf, 3, 3)).copy()
    pos = np.zeros((nf, na, 3)) + 1.0
    pos[5:, 1, 0] = 4.6  # a jump of 0.45 of the cell vector a
    traj = Trajectory.from_arrays(pos, boxes, ["C"] * na)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        traj.centre_of_mass()
    msg = [str(r.message) for r in rec if issubclass(r.category, UnwrapWarning)]
    assert msg and "frame 5, atom 1" in msg[0] and "cell vector a" in msg[0]
