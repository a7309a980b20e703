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


# ------------------------------------------------------------- 3D view, summary, screenshot
@pytest.fixture(scope="module")
def cell_report(tmp_path_factory):
    """A report with the 3D view of a small synthetic cell: 10 Na in a carbon lattice, two
    windows, the mobile ions named "hopping" and the caged ones "caged" (colours #d62728 and
    #ff7f0e), three hand-placed pores."""
    import pandas as pd
    from synthetic_traj import make

    from hcanalysis.report_view3d import cell_data

    traj = make(n_frames=60, n_mobile=6, n_caged=4)
    t = traj.time_ps
    rows = [(0, ion, w, t[30 * w], t[30 * w + 29], "hopping" if ion < 6 else "caged",
             1.0 + ion) for ion in range(10) for w in range(2)]
    table = pd.DataFrame(rows, columns=["trajectory", "ion", "window", "t_start_ps",
                                        "t_stop_ps", "mode_name", "msd_lag"])
    pores = pd.DataFrame({"centre_x": [5.0, 10.0, 15.0], "centre_y": [5.0, 10.0, 15.0],
                          "centre_z": [5.0, 10.0, 15.0], "radius": [1.5, 3.0, 2.0],
                          "volume": [14.0, 113.0, 33.0]})
    cell = cell_data(traj, table, ions="Na", framework="C", pores=pores,
                     colours={"hopping": "#d62728", "caged": "#ff7f0e"})
    inp = ReportInputs(table=table, cell=cell, metadata={"input": "synthetic"})
    out = tmp_path_factory.mktemp("cell")
    return write_report(inp, out, title="cell test"), cell


def test_cell_data_paths_and_modes(cell_report):
    _, cell = cell_report
    assert len(cell["paths"]) == 10 and len(cell["atoms"]) % 3 == 0 and len(cell["pores"]) == 3
    names = [n for n, _ in cell["modes"]]
    for ion, modes in enumerate(cell["path_mode"]):  # every point lies in a window
        assert set(modes) == {names.index("hopping" if ion < 6 else "caged")}
    box = np.asarray(cell["box"])
    for xs in cell["paths"]:  # each path starts inside the cell
        f = np.asarray(xs[:3]) @ np.linalg.inv(box)
        assert np.all((f >= -1e-6) & (f < 1 + 1e-6))


def _run_chromium(args, tmp_path):
    return subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars",
         "--window-size=1200,1500", "--virtual-time-budget=5000", *args],
        capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(_chromium() is None, reason="Debian's chromium is not installed")
def test_screenshot_renders_summary_and_3d_view(cell_report, tmp_path):
    """Headless Chromium: the DOM has the summary and a drawn canvas (its renderer counts the
    path segments it drew); the screenshot's canvas region holds framework grey and the two
    mode colours, and the summary region holds text."""
    from PIL import Image

    path, cell = cell_report
    probe = tmp_path / "probe.html"
    script = ("<script>window.addEventListener('load',()=>{const r=document.getElementById("
              "'cell-view').getBoundingClientRect(),s=document.getElementById('summary')"
              ".getBoundingClientRect();document.body.setAttribute('data-cv',[r.left,r.top,"
              "r.width,r.height].map(Math.round).join(','));document.body.setAttribute("
              "'data-sum',[s.left,s.top,s.width,s.height].map(Math.round).join(','))});"
              "</script>")
    probe.write_text(path.read_text().replace("</body>", script + "</body>"))
    dom = _run_chromium(["--dump-dom", probe.as_uri()], tmp_path).stdout
    assert "what this run can and cannot say" in dom
    drawn = re.search(r'data-drawn="(\d+)"', dom)
    assert drawn, "the 3D view's script did not run"
    assert int(drawn.group(1)) == sum(len(p) // 3 - 1 for p in cell["paths"])
    x, y, w, h = map(int, re.search(r'data-cv="([\d,]+)"', dom).group(1).split(","))
    sx, sy, sw, sh = map(int, re.search(r'data-sum="([\d,]+)"', dom).group(1).split(","))
    assert y + h <= 1500, "the 3D view should be in the first screen"
    shot = tmp_path / "shot.png"
    _run_chromium([f"--screenshot={shot}", path.as_uri()], tmp_path)
    img = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    canvas = img[y + 2:y + h - 2, x + 2:x + w - 2]

    def share(rgb, tol=40):
        return float((np.abs(canvas - np.array(rgb)).sum(axis=-1) < tol).mean())

    assert float((canvas.sum(axis=-1) < 720).mean()) > 0.01  # not blank
    assert share((0xd6, 0x27, 0x28)) > 1e-3 and share((0xff, 0x7f, 0x0e)) > 2e-4
    summary = img[sy:sy + sh, sx:sx + sw]
    assert float((summary.sum(axis=-1) < 300).mean()) > 0.005  # dark text in the summary


def test_report_keeps_the_callers_matplotlib_backend(tmp_path):
    """Writing a report must not switch the backend (notebook 03 showed no figures when it
    did): figures are drawn with matplotlib's object API, without pyplot."""
    import matplotlib
    import pandas as pd

    before = matplotlib.get_backend()
    matplotlib.use("svg")  # any non-Agg backend stands for a notebook's inline backend
    try:
        table = pd.DataFrame({"mode_name": ["a"] * 5 + ["b"] * 5,
                              "log_msd_lag": np.linspace(0, 1, 10)})
        write_report(ReportInputs(table=table, psd=(np.linspace(0, 5, 6), np.full(5, 0.2))),
                     tmp_path)
        assert matplotlib.get_backend().lower() == "svg"
        assert (tmp_path / "psd.png").stat().st_size > 1000
    finally:
        matplotlib.use(before)
