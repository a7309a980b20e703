"""``hcanalysis hops`` on an H5MD file with planted hops in a triclinic, wrapped cell."""

import h5py
import numpy as np
import pytest
from conftest import triclinic_box

import hcanalysis as hca
from hcanalysis.cli import main

PLANTED = {0: [], 1: [400], 2: [300, 900], 3: [200, 800, 1400]}


@pytest.fixture
def h5_traj(tmp_path):
    rng = np.random.default_rng(11)
    n, box = 1800, triclinic_box(15.0, 16.0, 17.0, 2.0, 1.0, -1.0)
    na = []
    for i in range(4):
        site = rng.random(3) @ box
        sites = np.tile(site, (n, 1))
        for f in PLANTED[i]:
            v = rng.normal(size=3)
            site = site + 2.0 * v / np.linalg.norm(v)
            sites[f:] = site
        na.append(sites + rng.normal(scale=0.1, size=(n, 3)))
    carbon = np.tile(rng.random((6, 3)) @ box, (n, 1, 1))
    pos = np.concatenate([np.stack(na, axis=1), carbon], axis=1)
    frac = pos @ np.linalg.inv(box)
    wrapped = (frac - np.floor(frac)) @ box
    traj = hca.Trajectory.from_arrays(wrapped, box, ["Na"] * 4 + ["C"] * 6, dt_ps=0.1)
    path = tmp_path / "traj.h5"
    hca.write_h5md(traj, path)
    return path


def test_hops_command_writes_events_table_and_plots(h5_traj, tmp_path, capsys):
    out = tmp_path / "hops.h5"
    rc = main(["hops", str(h5_traj), "--species", "Na", "-o", str(out), "-w", "30",
               "--window", "900"])
    assert rc == 0
    with h5py.File(out, "r") as f:
        ions = f["events/ion"][:]
        assert sorted(ions.tolist()) == [1, 2, 2, 3, 3, 3]
        hop = f["events/frame_hop"][:]
        planted = np.concatenate([PLANTED[i] for i in (1, 2, 3)])
        order = np.lexsort((hop, ions))
        assert np.all(np.abs(hop[order] - planted) <= 30)
        np.testing.assert_allclose(f["events/length"][:], 2.0, atol=0.07)
        np.testing.assert_allclose(f["events/t_hop"][:], hop * 0.1, rtol=1e-5)
        assert f["per_ion/ion"].shape == (8,)  # 4 ions x 2 windows
        assert f["per_ion/n_hops"][:].sum() == 6
        trapped = f["per_ion/trapped"][:]
        assert trapped[f["per_ion/ion"][:] == 0].all()
        assert f["thresholds"].shape == (4,)
        np.testing.assert_array_equal(f["ion_atom_index"][:], [0, 1, 2, 3])
        assert f["waiting_times"].attrs["n_hops"] == 6
        assert f.attrs["method"] == "p_hop" and len(f.attrs["input_sha256"]) == 64
    for suffix in ("_phop.png", "_hist.png"):
        png = tmp_path / f"hops{suffix}"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "6 hops" in capsys.readouterr().err


def test_hops_command_refuses_to_overwrite(h5_traj, tmp_path, capsys):
    out = tmp_path / "hops.h5"
    assert main(["hops", str(h5_traj), "-o", str(out), "-w", "30", "--no-plots"]) == 0
    assert main(["hops", str(h5_traj), "-o", str(out), "-w", "30", "--no-plots"]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["hops", str(h5_traj), "-o", str(out), "-w", "30", "--no-plots",
                 "--force", "--method", "displacement"]) == 0
    with h5py.File(out, "r") as f:
        assert f.attrs["method"] == "displacement"
    assert main(["hops", str(h5_traj), "-o", str(h5_traj), "--force", "--no-plots"]) == 2
    assert "input" in capsys.readouterr().err
