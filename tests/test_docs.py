"""The API reference (Sphinx, docs/sphinx) documents every public entry point of the contract
(`make lint` builds it with numpydoc validation, warnings as errors); the pages' links
exist."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

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
    "hcanalysis.structure.rdf",
    "hcanalysis.voids.tessellate",
    "hcanalysis.voids.VoidMap",
    "hcanalysis.tortuosity.global_tortuosity",
    "hcanalysis.tortuosity.local",
    "hcanalysis.descriptors.compute",
    "hcanalysis.modes.ModeFinder",
)


def _sphinx_conf():
    spec = importlib.util.spec_from_file_location("sphinx_conf_names", DOCS / "sphinx" / "conf.py")
    text = (DOCS / "sphinx" / "conf.py").read_text()
    # the module lists only, without running the page generation at the bottom
    head = text.split("def _write_api", 1)[0]
    ns: dict = {"__file__": str(DOCS / "sphinx" / "conf.py")}
    exec(compile(head, spec.origin, "exec"), ns)  # noqa: S102 - our own config file
    return ns


def test_contract_names_are_documented():
    """Every contract name exists, has a numpy docstring, and lives in a module of the
    Sphinx API reference (docs/sphinx/conf.py MODULES; `make lint` builds it with numpydoc
    validation, warnings as errors)."""
    modules = {m for m, _t in _sphinx_conf()["MODULES"]}
    import hcanalysis

    for name in CONTRACT:
        if name.startswith("Trajectory."):
            obj, home = getattr(hcanalysis.Trajectory, name.split(".")[1]), "hcanalysis"
        else:
            mod, _, attr = name.rpartition(".")
            obj, home = getattr(importlib.import_module(mod), attr), mod
        assert home in modules, f"{name}: module {home} is not in the API reference"
        doc = obj.__doc__ or (obj.fget.__doc__ if isinstance(obj, property) else None)
        assert doc and doc.strip(), f"{name}: no docstring"


def test_doc_links_resolve():
    """Relative links of README.md, docs/*.md and tutorials/README.md point at files that
    exist."""
    pages = [ROOT / "README.md", ROOT / "tutorials" / "README.md", *DOCS.glob("*.md")]
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            assert (page.parent / target).exists(), f"{page.name}: broken link {target}"
