"""The tutorials run end to end and draw their figures; each notebook matches its script.

``tutorials/NN_name.py`` (jupytext percent format) is the source; ``NN_name.ipynb`` is its
paired notebook, committed without outputs. Each script runs in a fresh process in an empty
folder with the Agg backend, as CI and a user at the command line would run it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"
FIGURES = {
    "01_dump_to_diffusion": ["fig1_msd.png", "fig1_hops.png", "fig1_mobility.png"],
    "02_pores_tortuosity": ["fig2_slice.png", "fig2_psd.png", "fig2_tortuosity.png",
                            "fig2_descriptors.png"],
    "03_sweep_modes": ["fig3_modes.png"],
}


def _percent_cells(py: str) -> list[tuple[str, str]]:
    """(cell_type, source) of a jupytext percent script, header skipped."""
    lines = py.splitlines()
    if lines and lines[0] == "# ---":
        lines = lines[lines.index("# ---", 1) + 1:]
    cells: list[tuple[str, list[str]]] = []
    for ln in lines:
        if ln in ("# %%", "# %% [markdown]"):
            cells.append(("markdown" if ln.endswith("]") else "code", []))
        elif cells:
            cells[-1][1].append(ln)
        else:
            assert not ln.strip(), f"text before the first cell: {ln!r}"
    out = []
    for kind, body in cells:
        if kind == "markdown":
            body = [b[2:] if b.startswith("# ") else b.lstrip("#") for b in body]
        out.append((kind, "\n".join(body).strip("\n")))
    return out


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_notebook_is_paired_and_has_no_outputs(name):
    """The .ipynb has exactly the cells of the .py (jupytext percent format), and no cell
    carries outputs."""
    py = (TUTORIALS / f"{name}.py").read_text()
    nb = json.loads((TUTORIALS / f"{name}.ipynb").read_text())
    assert nb["metadata"]["jupytext"]["formats"] == "ipynb,py:percent"
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs", []) == [] and cell.get("execution_count") is None
    ours = [(c["cell_type"], "".join(c["source"]).strip("\n")) for c in nb["cells"]]
    assert ours == _percent_cells(py), (
        f"{name}.ipynb and {name}.py differ: run `jupytext --sync tutorials/{name}.py`"
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FIGURES))
def test_tutorial_runs_and_draws(name, tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONHASHSEED="0")
    env.pop("NUMBA_ENABLE_CUDASIM", None)  # the tutorials run on the CPU kernels
    proc = subprocess.run(
        [sys.executable, str(TUTORIALS / f"{name}.py")], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for fig in FIGURES[name]:
        p = tmp_path / fig
        assert p.is_file() and p.stat().st_size > 10_000, f"{name}: {fig} not drawn"
