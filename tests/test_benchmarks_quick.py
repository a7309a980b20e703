"""Smoke test of the benchmark suite's entry point (``python -m benchmarks run --quick``).

Runs two cheap benchmarks through the runner in a subprocess and checks what it writes: the
summary JSON (machine, per-benchmark return codes, the combined ratio table) and the PNG scaling
plot (drawn from the MSD benchmark's committed results). No timing assertions.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "benchmarks" / "results"


@pytest.mark.slow
def test_benchmarks_run_quick_smoke(tmp_path):
    """Writes into a scratch results folder (``HCANALYSIS_BENCH_RESULTS``): the committed,
    measured results are never touched by the tests."""
    import os

    results = tmp_path / "results"
    committed_before = {p.name: p.read_bytes() for p in COMMITTED.glob("*.json")}
    summary_path = results / "summary_quick.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "run", "--quick", "--only", "hops,h5md"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "HCANALYSIS_BENCH_RESULTS": str(results)},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert summary_path.is_file()
    assert {p.name: p.read_bytes() for p in COMMITTED.glob("*.json")} == committed_before
    summary = json.loads(summary_path.read_text())
    assert summary["quick"] is True
    assert summary["machine"]["cores"] >= 1
    assert set(summary["benchmarks"]) == {"hops", "h5md"}
    for name, entry in summary["benchmarks"].items():
        assert entry["returncode"] == 0, name
        assert entry["results"], f"{name} wrote no results JSON"
    rows = summary["ratio_table"]
    assert {r["benchmark"] for r in rows} == {"hops", "h5md"}
    for r in rows:
        assert set(r) >= {"benchmark", "case", "ours", "peer", "ratio"}
        assert r["ratio"] > 0
    assert "ratio" in proc.stdout and "hops" in proc.stdout  # the printed table
    png = results / summary["scaling_plot"]["png"]
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ratio_table_extractors():
    """The table rows of known result layouts (ours / peer times and ratio kept)."""
    from benchmarks.report import format_table, ratio_rows

    msd = {"reference": {"n_ions": 10, "n_frames": 100, "hcanalysis_s": 1.0,
                         "mdanalysis_s": 3.0, "speedup_vs_mdanalysis": 3.0,
                         "fft_floor_s": 0.5}}
    rows = ratio_rows("msd", {"msd_cpu.json": msd})
    peers = {r["peer"]: r for r in rows}
    assert peers["mdanalysis"]["ratio"] == 3.0 and peers["mdanalysis"]["peer_s"] == 3.0
    assert peers["bare FFT floor"]["ratio"] == 0.5
    custom = {"table": [{"case": "c", "ours": "a", "ours_s": 1.0, "peer": "b", "peer_s": 2.0,
                         "ratio": 2.0}]}
    assert ratio_rows("x", {"x.json": custom}) == [{"benchmark": "x", **custom["table"][0]}]
    generic = ratio_rows("y", {"y.json": {"inner": {"speedup_vs_foo": 4.0, "other": 1.0}}})
    assert [(r["peer"], r["ratio"]) for r in generic] == [("foo", 4.0)]
    text = format_table(rows)
    assert "mdanalysis" in text and "3.00" in text
