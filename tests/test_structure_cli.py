"""``hcanalysis structure`` on an H5MD file written by hcanalysis."""

import h5py
import numpy as np
import pytest

import hcanalysis as hca
from hcanalysis import structure as st
from hcanalysis.cli import main


@pytest.fixture
def h5md_file(tmp_path, rng):
    from ase.lattice.hexagonal import Graphite

    g = Graphite(symbol="C", latticeconstant={"a": 2.46, "c": 6.70}, size=(6, 6, 2))
    box = np.asarray(g.cell)
    c = g.get_positions()
    nf, ni = 6, 16
    na = rng.uniform(0, 1, (ni, 3)) @ box
    pos = np.empty((nf, ni + len(c), 3))
    for f in range(nf):
        pos[f, :ni] = na + rng.normal(0, 0.2, (ni, 3))
        pos[f, ni:] = c + rng.normal(0, 0.02, c.shape)
    traj = hca.Trajectory.from_arrays(pos, box, ["Na"] * ni + ["C"] * len(c), dt_ps=0.1)
    path = tmp_path / "run.h5"
    hca.write_h5md(traj, path)
    return path, traj


def test_structure_command_writes_h5_and_plot(tmp_path, h5md_file):
    path, traj = h5md_file
    out = tmp_path / "s.h5"
    args = ["structure", str(path), "-o", str(out), "--window", "3", "--density-radius", "5",
            "--cutoff-nana", "3.2", "--bins", "80", "--backend", "cpu", "--rings"]
    assert main(args) == 0
    assert (tmp_path / "s_rdf.png").stat().st_size > 10_000
    ref = st.analyze(traj, cutoff_ion_ion=3.2, density_radius=5.0, window=3, bins=80,
                     backend="cpu")
    with h5py.File(out) as f:
        assert f["cutoffs"].attrs["Na-Na"] == 3.2
        assert f["cutoffs"].attrs["Na-Na source"] == "user"
        assert f["cutoffs"].attrs["Na-C"] == pytest.approx(ref.cutoffs["ion-C"])
        assert f["cutoffs"].attrs["Na-C source"].startswith(ref.cutoff_source["ion-C"][:8])
        np.testing.assert_array_equal(f["per_frame/n_NaC"][()], ref.n_ion_c)
        np.testing.assert_allclose(f["per_frame/rho_C_local"][()], ref.carbon_density)
        np.testing.assert_allclose(f["per_frame/carbon_fractions"][()][:, 1], 1.0)
        assert f["per_ion/ion"].shape == (2 * 16,)
        # per (ion, window) rows, ion-major, the descriptor table's names (all 3 frames of
        # each window sampled: the window means of the per-frame values)
        np.testing.assert_allclose(f["per_ion/n_NaNa"][()], ref.windowed["n_ion_ion"].T.ravel())
        np.testing.assert_allclose(f["per_ion/rho_C_local"][()],
                                   ref.windowed["carbon_density"].T.ravel())
        np.testing.assert_allclose(f["rdf/NaC/g"][()], ref.rdfs["ion-C"].g)
        assert f.attrs["input_sha256"]
        rings = f["per_frame/carbon_ring_counts"][()]
        assert rings.shape == (6, 9) and np.all(rings[:, 6] == 144) and rings.sum() == 6 * 144
    # never overwrite without --force; never write over the input
    assert main(args) == 2
    assert main(args + ["--force"]) == 0
    assert main(["structure", str(path), "-o", str(path), "--force"]) == 2
