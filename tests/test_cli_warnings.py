"""The command line shows hcanalysis' own warnings as one line each and hides library
warnings (counted; --debug shows them) (issue 20)."""

from __future__ import annotations

import warnings

import numpy as np
import typer

from hcanalysis.cli.app import run_app
from hcanalysis.errors import TruncatedTrajectoryWarning


def _app():
    app = typer.Typer()

    @app.command()
    def go() -> None:
        np.nanmean(np.array([np.nan]))  # NumPy: "Mean of empty slice"
        warnings.warn("a library notice\nsecond line", DeprecationWarning, stacklevel=1)
        warnings.warn("t.dump: frame 3 is incomplete; using the 3 complete frames before it",
                      TruncatedTrajectoryWarning, stacklevel=1)
        print("result")

    @app.command()
    def other() -> None:
        pass

    return app


def test_library_warnings_hidden_ours_one_line(capsys):
    assert run_app(_app(), ["go"], "hcanalysis", debug=False) == 0
    out, err = capsys.readouterr()
    assert out.strip() == "result"
    lines = err.strip().splitlines()
    assert lines == [
        "hcanalysis: warning: t.dump: frame 3 is incomplete; using the 3 complete frames "
        "before it",
        "hcanalysis: 1 warning(s) from libraries hidden (--debug shows them)",
    ]
    assert "Warning" not in err.replace("warning", "")


def test_debug_shows_library_warnings(capsys):
    assert run_app(_app(), ["go"], "hcanalysis", debug=True) == 0
    err = capsys.readouterr().err
    assert "RuntimeWarning: Mean of empty slice" in err and "hidden" not in err
    assert "DeprecationWarning: a library notice" in err  # developer notices only with --debug


def test_compile_notice_only_without_a_kernel_cache(tmp_path, monkeypatch, capsys):
    import importlib

    cli_app = importlib.import_module("hcanalysis.cli.app")  # the module (cli.app is the Typer)
    monkeypatch.setattr(cli_app, "kernels_cached", lambda: False)
    cli_app.compile_notice("hcanalysis", ["analyze", "x.dump"])
    assert "first run on this machine: compiling" in capsys.readouterr().err
    cli_app.compile_notice("hcanalysis", ["--help"])
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(cli_app, "kernels_cached", lambda: True)
    cli_app.compile_notice("hcanalysis", ["analyze", "x.dump"])
    assert capsys.readouterr().err == ""


def test_kernels_cached_reads_numba_index_files(tmp_path, monkeypatch):
    from hcanalysis.cli.app import kernels_cached

    fake = tmp_path / "kernels"
    (fake / "__pycache__").mkdir(parents=True)
    (fake / "voids" / "__pycache__").mkdir(parents=True)
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    assert not kernels_cached(fake)
    (fake / "voids" / "__pycache__" / "basins.basin_seeds_numba-12.py311.nbi").write_bytes(b"")
    assert kernels_cached(fake)  # a subpackage's cache counts


def test_demo_on_the_bundled_sample_prints_no_warning_text(tmp_path, capsys):
    """`hcanalysis demo` (analyze on hcanalysis/data/sample.h5): results on stdout, progress
    lines on stderr (not a terminal here), and no library warning text anywhere."""
    from hcanalysis.cli import main

    assert main(["demo", "-o", str(tmp_path / "demo")]) == 0
    out, err = capsys.readouterr()
    assert "(ion, window) rows" in out and "report:" in out
    assert "hcanalysis: sample.h5: voids" in err  # a timestamped progress line
    assert "Warning" not in out + err and "warnings.warn" not in out + err
    assert (tmp_path / "demo" / "report.html").stat().st_size > 100_000
