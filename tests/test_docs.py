"""docs/api.md is current, names every public entry point of the contract, and the pages it
links to exist."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

#: Public names that outside users and checks rely on (DESIGN.md and the issues' contracts).
CONTRACT = (
    "hcanalysis.load",
    "hcanalysis.Trajectory",
    "Trajectory.n_frames",
    "Trajectory.n_atoms",
    "Trajectory.species",
    "Trajectory.time_ps",
    "Trajectory.box",
    "Trajectory.positions",
    "hcanalysis.msd.per_ion",
    "hcanalysis.msd.windowed",
    "hcanalysis.msd.diffusion",
    "hcanalysis.hops.p_hop",
    "hcanalysis.hops.detect",
    "hcanalysis.voids.tessellate",
    "hcanalysis.voids.VoidMap",
    "hcanalysis.tortuosity.global_tortuosity",
    "hcanalysis.tortuosity.local",
    "hcanalysis.descriptors.compute",
    "hcanalysis.modes.ModeFinder",
)


@pytest.fixture(scope="module")
def build_api():
    spec = importlib.util.spec_from_file_location("build_api", DOCS / "build_api.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_api_md_is_current(build_api):
    committed = (DOCS / "api.md").read_text()
    assert build_api.render() == committed, (
        "docs/api.md is out of date with the docstrings: run `python docs/build_api.py` "
        "and commit docs/api.md"
    )


def test_contract_names_have_entries():
    text = (DOCS / "api.md").read_text()
    headings = set(re.findall(r"^#{3,4} (?:class )?`([^`]+)`", text, flags=re.M))
    missing = [n for n in CONTRACT if n not in headings]
    assert not missing, f"no API entry for {missing}"


def test_render_doc_numpy_sections(build_api):
    doc = """Summary line.

    Parameters
    ----------
    x : (n, 3) float
        Positions, Å,
        continued.
    flag : bool

    Returns
    -------
    float
        The value, :func:`hcanalysis.msd.per_ion` style.
    """
    md = build_api.render_doc(doc)
    assert "**Parameters**" in md and "----" not in md
    assert "- `x` ((n, 3) float): Positions, Å, continued." in md
    assert "- `flag` (bool)" in md
    assert "- `float`: The value, `hcanalysis.msd.per_ion` style." in md


def test_doc_links_resolve():
    """Relative links of README.md, docs/*.md and tutorials/README.md point at files that
    exist, and api.md's in-page links at headings it has."""
    pages = [ROOT / "README.md", ROOT / "tutorials" / "README.md", *DOCS.glob("*.md")]
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            assert (page.parent / target).exists(), f"{page.name}: broken link {target}"
    api = (DOCS / "api.md").read_text()
    anchors = set()
    for h in re.findall(r"^#+ (.+)$", api, flags=re.M):
        text = h.lower().replace("`", "")
        anchors.add("".join(c for c in text if c.isalnum() or c in " -_").replace(" ", "-"))
    for a in re.findall(r"\]\(#([^)]+)\)", api):
        assert a in anchors, f"api.md: no heading for #{a}"
