"""Sphinx configuration of the API reference (``make docs``; ``make lint`` builds it with
warnings as errors). The pages are generated from the docstrings (autodoc + numpydoc, whose
validation runs on every documented object); the command-line reference from the Typer
applications' ``--help``."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_DISABLE_JIT", "0")

project = "hcanalysis"
author = "hcanalysis maintainers"
extensions = ["sphinx.ext.autodoc", "numpydoc"]
exclude_patterns = ["_build"]
html_theme = "alabaster"
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # numpy docstrings carry the types
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
# numpydoc validation (warnings; -W makes them errors): every public object has a docstring
# (GL08) and the sections are numpydoc sections in order (GL06, GL07); parameter checks are
# left to review (many short helpers document their parameters in prose).
numpydoc_validation_checks = {"GL06", "GL07", "GL08"}
numpydoc_validation_exclude = {r"\.__init__$", r"\.__call__$", r"\.__repr__$",
                               # a dataclass field documented by a #: comment that numpydoc
                               # does not see (its name is also a module's)
                               r"^mdrunner\.sweep\.SweepPoint\.structure$"}
suppress_warnings = ["ref.python"]
nitpicky = False

#: (module, title) in the order they appear: the public API.
MODULES = (
    ("hcanalysis", "Package entry points: load, write, Trajectory, errors"),
    ("hcanalysis.trajectory", "The Trajectory object"),
    ("hcanalysis.io", "Readers and writers"),
    ("hcanalysis.io.unwrap", "Unwrapping"),
    ("hcanalysis.windows", "Time windows shared by every per-(ion, window) descriptor"),
    ("hcanalysis.analysis", "The protocol of the per-(ion, window) families"),
    ("hcanalysis.families", "The families: MSD, Hops, Structure, Voids, Tortuosity"),
    ("hcanalysis.msd", "MSD, D, α, α2, van Hove"),
    ("hcanalysis.msd_fit", "The diffusive fit range and D by generalised least squares"),
    ("hcanalysis.hops", "Hops, residence times, trapping"),
    ("hcanalysis.structure", "RDFs, coordination, clusters, carbon structure"),
    ("hcanalysis.voids", "Void tessellation, pores, PSD"),
    ("hcanalysis.tortuosity", "Geodesic tortuosity"),
    ("hcanalysis.descriptors", "The per-(ion, window) descriptor table"),
    ("hcanalysis.table", "DescriptorTable"),
    ("hcanalysis.columns", "Descriptor columns and units"),
    ("hcanalysis.config", "AnalysisConfig"),
    ("hcanalysis.modes", "Diffusion modes"),
    ("hcanalysis.importance", "Importance of the structural descriptors"),
    ("hcanalysis.ensemble", "Ensembles of trajectories"),
    ("hcanalysis.report", "Figures and the HTML report"),
    ("hcanalysis.pipeline", "`hcanalysis analyze` as a function"),
    ("hcanalysis.progress", "Progress reporting"),
    ("hcanalysis.errors", "Exceptions"),
    ("mdrunner.builders", "Hard-carbon cells"),
    ("mdrunner.insertion", "Na insertion"),
    ("mdrunner.calculators", "Potentials"),
    ("mdrunner.md", "Molecular dynamics"),
    ("mdrunner.sweep", "Sweeps"),
    ("mdrunner.h5md", "H5MD writer of mdrunner"),
)
#: Modules that re-export names documented under another module (not indexed twice).
NO_INDEX = {"hcanalysis", "hcanalysis.io"}
#: Typer applications of the command-line reference.
CLIS = (("hcanalysis", "hcanalysis.cli"), ("mdrunner", "mdrunner.cli"))


def _write_api() -> None:
    out = ["API reference", "=============", "",
           "Generated from the docstrings (numpy style; units in the descriptions).", ""]
    for mod, title in MODULES:
        head = f"``{mod}``: {title}"
        out += [head, "-" * len(head), "", f".. automodule:: {mod}", "   :members:"]
        out += ["   :no-index:", ""] if mod in NO_INDEX else [""]
    (HERE / "api.rst").write_text("\n".join(out))


def _write_cli() -> None:
    import importlib

    import click
    import typer

    out = ["Command line", "============", ""]
    for prog, mod in CLIS:
        app = importlib.import_module(mod).app
        group = typer.main.get_command(app)
        for name in sorted(group.commands):
            cmd = group.commands[name]
            with click.Context(cmd, info_name=f"{prog} {name}", terminal_width=100) as ctx:
                rows = [p.get_help_record(ctx) for p in cmd.get_params(ctx)]
                formatter = click.HelpFormatter(width=96)
                formatter.write_text(" ".join((cmd.help or "").split()))
                formatter.write_dl([r for r in rows if r is not None])
                text = formatter.getvalue()
            head = f"``{prog} {name}``"
            out += [head, "-" * len(head), "", "::", ""]
            out += ["   " + ln if ln.strip() else "" for ln in text.splitlines()]
            out += [""]
    (HERE / "cli.rst").write_text("\n".join(out))


_write_api()
_write_cli()


_BAR = re.compile(r"(?<!\\)\|")


def _escape_bars(app, what, name, obj, options, lines) -> None:
    """Docstrings write absolute values and norms as ``|x|`` (plain-text math); reST would read
    them as substitution references: escape every bar outside literal text."""
    for i, line in enumerate(lines):
        if "|" in line and not line.lstrip().startswith("+"):
            parts = line.split("``")
            lines[i] = "``".join(_BAR.sub(r"\\|", p) if k % 2 == 0 else p
                                 for k, p in enumerate(parts))


def _skip_foreign(app, what, name, obj, skip, options):
    """Document only hcanalysis' and mdrunner's own objects (not names a module imports)."""
    mod = getattr(obj, "__module__", None)
    if isinstance(mod, str) and not mod.startswith(("hcanalysis", "mdrunner")):
        return True
    return skip


def setup(app) -> None:
    app.connect("autodoc-process-docstring", _escape_bars, priority=400)  # before numpydoc
    app.connect("autodoc-process-docstring", _escape_bars, priority=600)  # and after it
    app.connect("autodoc-skip-member", _skip_foreign)
