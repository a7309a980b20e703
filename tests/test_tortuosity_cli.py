"""``hcanalysis tortuosity`` end to end on a carbon block with a straight channel along a."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from voids_geometry import cubic_matrix

from hcanalysis import Trajectory, write_h5md
from hcanalysis.cli import main


@pytest.fixture
def traj_file(tmp_path, rng):
    pos, box = cubic_matrix(10)  # 15 Å cube, no void
    d = np.hypot(pos[:, 1] - 7.5, pos[:, 2] - 7.5)
    pos = pos[d > 4.0]  # a channel along a, void radius about 2.5 Å
    na = np.array([[3.0, 7.5, 7.5], [9.0, 7.6, 7.4]])
    frames = [np.vstack([pos + rng.normal(0, 0.01, pos.shape), na + 0.1 * f])
              for f in range(4)]
    traj = Trajectory.from_arrays(np.array(frames), box, ["C"] * len(pos) + ["Na", "Na"])
    return write_h5md(traj, tmp_path / "t.h5")


def test_tortuosity_command(tmp_path, traj_file):
    out = tmp_path / "tau.h5"
    args = ["tortuosity", str(traj_file), "-o", str(out), "--spacing", "0.5",
            "--shell-radius", "2.0", "--sample-stride", "2", "--window", "2",
            "--map-stride", "4", "--max-starts", "4"]
    assert main(args) == 0
    with h5py.File(out, "r") as f:
        tau = f["tortuosity/global/tau"][()]
        assert tau[0] == pytest.approx(1.0, abs=1e-9) and np.all(np.isinf(tau[1:]))
        assert f["tortuosity/global/percolates"][()].tolist() == [True, False, False]
        loc = f["tortuosity/local/tau"][()]
        assert loc.shape == (2, 2)
        assert np.all((loc >= 1.0) & (loc < 1.15))
        reach = f["tortuosity/local/reachable"][()]
        assert np.all((reach > 0.3) & (reach <= 1.0))
        assert f["tortuosity/local/sample_frames"][()].tolist() == [0, 2]
    assert (tmp_path / "tau_geodesic.png").stat().st_size > 1000
    assert main(args) == 2  # exists, no --force
    assert main(args + ["--force", "--no-local", "--method", "fmm"]) == 0
    assert main(["tortuosity", str(traj_file), "-o", str(traj_file), "--force"]) == 2
