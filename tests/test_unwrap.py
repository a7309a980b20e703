"""Unwrapping recovers a known path exactly: image flags, continuity, triclinic, NPT."""

import warnings

import numpy as np
import pytest
from conftest import triclinic_box

from hcanalysis import Trajectory
from hcanalysis.errors import UnwrapWarning
from hcanalysis.io.unwrap import unwrap_block


def _wrap(true: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Wrap positions into the cell of each frame; return wrapped positions and image flags."""
    inv = np.linalg.inv(boxes)
    frac = np.einsum("fai,fij->faj", true, inv)
    images = np.floor(frac)
    wrapped = np.einsum("faj,fjk->fak", frac - images, boxes)
    return wrapped, images.astype(np.int32)


def _walk(rng, n_frames=2000, n_atoms=7, step=0.7):
    return np.cumsum(rng.normal(scale=step, size=(n_frames, n_atoms, 3)), axis=0)


@pytest.mark.parametrize(
    "box", [np.diag([10.0, 11.0, 12.0]), triclinic_box(10, 11, 12, 2, -1.5, 1)]
)
def test_constant_box_flags_and_continuity(rng, box):
    true = _walk(rng)
    boxes = np.broadcast_to(box, (true.shape[0], 3, 3))
    wrapped, images = _wrap(true, boxes)
    # crosses the boundaries many times
    assert np.abs(np.diff(images, axis=0)).sum() > 100
    with_flags = Trajectory.from_arrays(wrapped, box, ["Na"] * 7, images=images)
    continuity = Trajectory.from_arrays(wrapped, box, ["Na"] * 7)
    np.testing.assert_allclose(with_flags.positions(unwrap=True), true, atol=1e-9)
    got = continuity.positions(unwrap=True)
    # continuity unwrapping starts from the wrapped first frame: same path up to a lattice shift
    np.testing.assert_allclose(got - got[0], true - true[0], atol=1e-9)


def test_npt_von_bulow(rng):
    """A barostat rescales the wrapped coordinates with the box and the ion then moves by a
    random step. The von Bülow scheme's displacement per frame is that affine move of the
    wrapped coordinate plus the step, so the unwrapped path is their running sum (and not the
    fractional path times the current box, which inflates the MSD)."""
    n_frames, n_atoms = 1500, 7
    scale = 1.0 + 0.05 * np.sin(np.linspace(0, 6 * np.pi, n_frames))
    boxes = scale[:, None, None] * triclinic_box(9, 10, 11, 1.5, -1.0, 0.5)[None]
    noise = rng.normal(scale=0.5, size=(n_frames, n_atoms, 3))
    wrapped = np.empty((n_frames, n_atoms, 3))
    expected = np.empty_like(wrapped)
    wrapped[0] = expected[0] = rng.uniform(0, 9, size=(n_atoms, 3))
    for t in range(n_frames - 1):
        affine = wrapped[t] @ np.linalg.inv(boxes[t]) @ boxes[t + 1]
        moved = affine + noise[t]
        expected[t + 1] = expected[t] + (moved - wrapped[t])
        wrapped[t + 1] = _wrap(moved[None], boxes[t + 1][None])[0][0]
    got = Trajectory.from_arrays(wrapped, boxes, ["Na"] * n_atoms).positions(unwrap=True)
    np.testing.assert_allclose(got, expected, atol=1e-8)
    frac = np.einsum("fai,fij->faj", wrapped, np.linalg.inv(boxes))
    dfrac = np.diff(frac, axis=0)
    naive_frac = np.concatenate([frac[:1], frac[:1] + np.cumsum(dfrac - np.rint(dfrac), 0)])
    naive = np.einsum("faj,fjk->fak", naive_frac, boxes)
    assert np.abs(naive - expected).max() > 1.0


def test_chunked_unwrap_equals_whole(rng):
    true = _walk(rng, n_frames=250, step=0.6)
    box = np.diag([8.0, 9.0, 10.0])
    wrapped, _ = _wrap(true, np.broadcast_to(box, (250, 3, 3)))
    traj = Trajectory.from_arrays(wrapped, box, ["Na"] * 7)
    whole = traj.positions(unwrap=True)
    chunks = np.concatenate([p for _, p in traj.iter_chunks(unwrap=True, chunk_frames=37)])
    np.testing.assert_allclose(chunks, whole, atol=1e-12)
    stepped = traj.positions(unwrap=True, frames=slice(10, 200, 7))
    np.testing.assert_allclose(stepped - stepped[0], (whole[10:200:7] - whole[10]), atol=1e-9)


def test_large_step_is_reported(rng):
    box = np.diag([10.0, 10.0, 10.0])
    pos = np.zeros((3, 1, 3))
    pos[1, 0] = [4.6, 0, 0]  # 0.46 of the box in one frame: ambiguous
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        unwrap_block(pos, np.broadcast_to(box, (3, 3, 3)), path="x.dump")
    assert any(
        issubclass(w.category, UnwrapWarning) and "x.dump: frame 1, atom 0" in str(w.message)
        for w in rec
    )


def test_selection_errors():
    from hcanalysis.errors import SelectionError

    traj = Trajectory.from_arrays(np.zeros((2, 3, 3)), np.eye(3) * 10, ["C", "Na", "C"])
    assert traj.positions("Na").shape == (2, 1, 3)
    with pytest.raises(SelectionError, match="no atoms of species Li.*present: C, Na"):
        traj.positions("Li")
    with pytest.raises(SelectionError, match="matches no atoms"):
        traj.indices(np.zeros(3, dtype=bool))
    assert traj.select("C").n_atoms == 2
