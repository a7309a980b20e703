"""AnalysisConfig (TOML, overrides) and DescriptorTable (HDF5 round trip, atomic write)."""

import numpy as np
import pandas as pd
import pytest

from hcanalysis.config import AnalysisConfig
from hcanalysis.table import DescriptorTable


def test_toml_and_overrides(tmp_path):
    f = tmp_path / "a.toml"
    f.write_text('seed = 7\n[windows]\nwindow = 120\n[msd]\nfit_ps = [0.2, 0.6]\n')
    cfg = AnalysisConfig.from_toml(f)
    assert cfg.seed == 7 and cfg.windows.window == 120 and cfg.msd.fit_ps == (0.2, 0.6)
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


@pytest.mark.parametrize("raw, value", [
    ("msd,hops", ["msd", "hops"]), ('["msd", "hops"]', ["msd", "hops"]), ("none", None),
    ("null", None), ("0.5", 0.5), ("10", 10), ("true", True), ("false", False), ("abc", "abc"),
    ('"a,b"', "a,b"), ("1e-3", 1e-3), ("[0.2, 0.4]", [0.2, 0.4]),
])
def test_set_values_read_as_toml(raw, value):
    from hcanalysis.config import parse_value

    assert parse_value(raw) == value and type(parse_value(raw)) is type(value)


def test_set_from_string_types_and_errors():
    cfg = AnalysisConfig()
    cfg.set_from_string("stages=msd,hops")
    cfg.set_from_string("msd.remove_drift=none")
    cfg.set_from_string("msd.fit_ps=[0.2, 0.4]")
    cfg.set_from_string("hops.threshold=2")
    cfg.set_from_string("hops.threshold=auto")
    cfg.set_from_string("modes.features=log_D,hop_rate")
    assert cfg.stages == ["msd", "hops"] and cfg.msd.remove_drift is None
    assert cfg.msd.fit_ps == (0.2, 0.4) and cfg.hops.threshold == "auto"
    assert cfg.modes.features == ["log_D", "hop_rate"]
    cfg.set_from_string("voids.spacing=1")
    assert cfg.voids.spacing == 1.0 and isinstance(cfg.voids.spacing, float)
    for bad, msg in [("voids.spacing=abc", r"voids.spacing = 'abc': expected float"),
                     ("seed=1.5", "seed = 1.5: expected int"),
                     ("stages=3", r"stages = 3: expected list\[str\]"),
                     ("windows.window=true", r"windows.window = True: expected int \| none"),
                     ("msd.fit_ps=[0.1]", "expected tuple"),
                     ("voids.spacing=none", "voids.spacing = none: expected float")]:
        with pytest.raises(TypeError, match=msg):
            cfg.set_from_string(bad)
    assert cfg.voids.spacing == 1.0  # a refused value leaves the parameter as it was


def test_toml_file_values_are_type_checked(tmp_path):
    f = tmp_path / "t.toml"
    f.write_text('[voids]\nspacing = "fine"\n')
    with pytest.raises(ValueError, match=r"t.toml: voids.spacing = 'fine': expected float"):
        AnalysisConfig.from_toml(f)


def test_cli_set_error_before_any_work(tmp_path, capsys):
    from hcanalysis.cli import main

    missing = tmp_path / "nothing.lammpstrj"  # never opened: the config fails first
    assert main(["analyze", str(missing), "-o", str(tmp_path / "o"),
                 "--set", "voids.spacing=abc"]) == 2
    err = capsys.readouterr().err
    assert "voids.spacing = 'abc': expected float" in err and "Traceback" not in err


def test_removed_parameter_warns_and_is_ignored(tmp_path):
    """A configuration written for an older release that still sets a removed parameter
    (tortuosity.max_start_points, never read) loads with a one-line warning; a parameter
    that never existed is still an error."""
    import pytest

    from hcanalysis.config import AnalysisConfig

    path = tmp_path / "old.toml"
    path.write_text("[tortuosity]\nmax_start_points = 200\nshell_radius = 5.0\n")
    with pytest.warns(UserWarning, match="max_start_points.*ignored"):
        cfg = AnalysisConfig.from_toml(path)
    assert cfg.tortuosity.shell_radius == 5.0
    assert not hasattr(cfg.tortuosity, "max_start_points")
    with pytest.raises(KeyError, match="unknown parameter"):
        AnalysisConfig().set("tortuosity.max_start_pointz", 1)
