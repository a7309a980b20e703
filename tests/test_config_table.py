"""AnalysisConfig (TOML, overrides) and DescriptorTable (HDF5 round trip, atomic write)."""

import numpy as np
import pandas as pd
import pytest

from hcanalysis.config import AnalysisConfig
from hcanalysis.table import DescriptorTable


def test_toml_and_overrides(tmp_path):
    f = tmp_path / "a.toml"
    f.write_text('seed = 7\n[windows]\nwindow = 120\n[msd]\nfit_fraction = [0.2, 0.6]\n')
    cfg = AnalysisConfig.from_toml(f)
    assert cfg.seed == 7 and cfg.windows.window == 120 and cfg.msd.fit_fraction == (0.2, 0.6)
    cfg.set_from_string("voids.spacing=0.5")
    cfg.set_from_string("species=Li")
    assert cfg.voids.spacing == 0.5 and cfg.species == "Li"
    assert cfg.fingerprint("voids") != AnalysisConfig().fingerprint("voids")
    assert cfg.fingerprint("hops") == AnalysisConfig().fingerprint("hops")
    bad = tmp_path / "b.toml"
    bad.write_text("[voids]\nspacnig = 0.2\n")
    with pytest.raises(ValueError, match=r"b.toml: .*unknown parameter 'voids.spacnig'"):
        AnalysisConfig.from_toml(bad)
    with pytest.raises(ValueError, match="expected name=value"):
        cfg.set_from_string("seed")


def test_table_round_trip(tmp_path):
    frame = pd.DataFrame({"trajectory": [0, 0, 1], "ion": [0, 1, 0], "window": [0, 0, 0],
                          "log_D": [-1.0, np.nan, -2.5], "mode_name": ["a", "b", "c"]})
    tab = DescriptorTable(frame, {"msd": np.arange(9.0).reshape(3, 3)}, {"seed": 3})
    path = tab.write(tmp_path / "d.h5")
    back = DescriptorTable.read(path)
    pd.testing.assert_frame_equal(back.frame, frame, check_dtype=False)
    np.testing.assert_array_equal(back.arrays["msd"], tab.arrays["msd"])
    assert back.metadata == {"seed": 3}
    assert back.units["log_D"] == "log10(Å²/ps)"
    with pytest.raises(FileExistsError):
        tab.write(path, overwrite=False)
    assert not list(tmp_path.glob(".*partial*"))
