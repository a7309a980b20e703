"""The correlation map recovers a planted monotone dependence on density."""

import json

import numpy as np
import pytest
from planted import planted_modes

from hcanalysis.ensemble import correlate, read_metadata, summarise


def test_planted_density_dependence():
    table, meta = planted_modes(seed=2, n_traj=8)
    table = table.rename(columns={"true_mode": "mode_name"})
    summary = summarise(table, ["hopping", "clustering", "void trapping", "caged"])
    assert np.allclose(summary.filter(like="frac_").sum(axis=1), 1.0)
    cmap = correlate(summary, meta)
    assert cmap.rho.loc["frac_void_trapping", "density"] < -0.8
    assert cmap.pvalue.loc["frac_void_trapping", "density"] < 0.05
    # temperature is constant: no correlation can be computed
    assert np.isnan(cmap.rho.loc["frac_caged", "temperature"])


def test_read_metadata(tmp_path):
    a = tmp_path / "a" / "traj.h5"
    a.parent.mkdir()
    a.write_bytes(b"")
    (a.parent / "run.json").write_text(json.dumps({"density": 1.2, "na_loading": 0.1,
                                                   "nested": {"x": 1}}))
    b = tmp_path / "b.h5"
    b.write_bytes(b"")
    (tmp_path / "b.json").write_text(json.dumps({"density": 0.9}))
    meta = read_metadata([a, b])
    assert list(meta["density"]) == [1.2, 0.9]
    assert "nested" not in meta.columns
    csv = tmp_path / "meta.csv"
    csv.write_text("path,density\na/traj.h5,1.5\nb.h5,1.0\n")
    assert list(read_metadata([a, b], csv)["density"]) == [1.5, 1.0]
    # every mdrunner run is called traj.h5: rows are told apart by their folders
    d = tmp_path / "d" / "traj.h5"
    d.parent.mkdir()
    d.write_bytes(b"")
    csv.write_text(f"path,density\na/traj.h5,1.5\n{d},0.7\n")
    assert list(read_metadata([d, a], csv)["density"]) == [0.7, 1.5]
    csv.write_text("path,density\ntraj.h5,1.5\ntraj.h5,1.0\n")
    with pytest.raises(FileNotFoundError, match="2 rows for trajectory"):
        read_metadata([a], csv)
    csv.write_text("path,density\nx/traj.h5,1.5\nb.h5,1.0\n")
    with pytest.raises(FileNotFoundError, match="no row for trajectory"):
        read_metadata([a], csv)
    with pytest.raises(FileNotFoundError, match="no metadata"):
        c = tmp_path / "c" / "c.h5"
        c.parent.mkdir()
        read_metadata([c])
