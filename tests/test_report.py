"""The report: every figure file exists and is non-empty, the HTML embeds them, and headless
Chromium (when installed) loads every image."""

import re
import shutil
import subprocess

import numpy as np
import pytest
from planted import planted_modes

from hcanalysis.ensemble import correlate, summarise
from hcanalysis.importance import rank
from hcanalysis.modes import ModeFinder
from hcanalysis.report import ReportInputs, write_report


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    table, meta = planted_modes(seed=4, n_traj=5, n_ions=16, n_windows=3)
    mf = ModeFinder(random_state=0, max_modes=5, stability_seeds=1, stability_bootstraps=0)
    mf.fit(table)
    table = table.assign(mode=mf.labels_, mode_name=mf.named_labels())
    imp = rank(table, n_repeats=2)
    corr = correlate(summarise(table), meta)
    lag = np.linspace(0, 10, 21)
    curves = np.outer(10 ** table["log_D"].to_numpy(), 6 * lag)
    inp = ReportInputs(
        table=table, modes=mf, importance=imp, correlation=corr, msd_curves=curves,
        msd_lag_ps=lag, psd=(np.linspace(0, 5, 11), np.full(10, 0.1)),
        tortuosity={"tau": [1.2, 1.5, np.inf]}, system={"D (Å²/ps)": "0.1 ± 0.01"},
        metadata={"input": "planted", "seed": 0},
    )
    out = tmp_path_factory.mktemp("report")
    return write_report(inp, out, title="planted test"), out


def test_files_and_structure(report):
    path, out = report
    text = path.read_text()
    names = ["msd_by_mode", "umap_modes", "umap_descriptors", "mode_centroids",
             "mobility_by_mode", "importance", "correlation", "psd", "tortuosity"]
    for n in names:
        png = out / f"{n}.png"
        assert png.is_file() and png.stat().st_size > 1000, n
        assert f"id='fig-{n}'" in text
    imgs = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", text)
    assert len(imgs) == len(names)
    assert all(len(i) > 1000 for i in imgs)
    for section in ("id='run'", "id='system'", "id='modes'", "id='importance'"):
        assert section in text
    assert "hopping" in text and "Not drawn" not in text
    assert not list(out.glob(".*partial*"))


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="Debian's chromium is not installed")
def test_renders_in_headless_chromium(report, tmp_path):
    path, _ = report
    probe = tmp_path / "probe.html"
    script = ("<script>window.addEventListener('load',()=>{const i=[...document.images];"
              "document.body.setAttribute('data-images',i.length);document.body.setAttribute("
              "'data-loaded',i.filter(x=>x.complete&&x.naturalWidth>0).length)});</script>")
    probe.write_text(path.read_text().replace("</body>", script + "</body>"))
    res = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
         "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    m = re.search(r'data-images="(\d+)" data-loaded="(\d+)"', res.stdout)
    assert m, res.stderr[-2000:]
    assert int(m.group(1)) == 9 and m.group(1) == m.group(2)
