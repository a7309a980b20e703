"""``hcanalysis voids`` end to end on a small two-cavity trajectory."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from voids_geometry import two_cavities

from hcanalysis import Trajectory, write_h5md
from hcanalysis.cli import main


@pytest.fixture
def traj_file(tmp_path, rng):
    pos, box, c1, c2 = two_cavities()
    frames = [np.vstack([pos + rng.normal(0, 0.01, pos.shape), [c1 if f < 3 else c2, c2]])
              for f in range(6)]
    traj = Trajectory.from_arrays(np.array(frames), box, ["C"] * len(pos) + ["Na", "Na"])
    return write_h5md(traj, tmp_path / "t.h5")


def test_voids_command_writes_maps_table_and_plots(tmp_path, traj_file):
    out = tmp_path / "v.h5"
    args = ["voids", str(traj_file), "-o", str(out), "--spacing", "0.5", "--map-stride", "3",
            "--window", "3", "--no-voronoi"]
    assert main(args) == 0
    with h5py.File(out, "r") as f:
        assert sorted(f["voids/maps"]) == ["frame_000000000", "frame_000000003"]
        assert list(f["voids/ions/pores_visited"][()]) == [1, 1, 1, 1]
        assert f["voids/summary/n_pores"][()].tolist() == [2, 2]
        assert f["voids/per_frame/pore"].shape == (6, 2)
    assert (tmp_path / "v_psd.png").stat().st_size > 1000
    assert (tmp_path / "v_slice.png").stat().st_size > 1000
    # never overwrites without --force; --reuse-maps reads the cached maps back
    assert main(args) == 2
    assert main(args + ["--reuse-maps"]) == 0
    assert main(args + ["--force"]) == 0
    assert main(["voids", str(traj_file), "-o", str(traj_file), "--force"]) == 2
