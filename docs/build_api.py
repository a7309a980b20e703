"""Write ``docs/api.md``, the API reference, from the docstrings of the public modules.

Usage (from the repository root)::

    python docs/build_api.py            # rewrite docs/api.md
    python docs/build_api.py --check    # exit 1 when docs/api.md is out of date

Public names are a module's ``__all__`` when it has one, else the functions and classes it
defines whose names do not start with ``_``; they are listed in source order. Classes list
their own public methods and properties (not inherited ones). Numpy-style docstring sections
become bold headings and parameter lists; Sphinx roles (``:func:`x```) become code spans. The
command-line reference is read from the Typer applications. The output depends only on the
code, so ``tests/test_docs.py`` checks that the committed file is current.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "api.md"

#: (module, one-line title) in the order they appear.
MODULES = (
    ("hcanalysis", "Package entry points: load, write, Trajectory, errors"),
    ("hcanalysis.trajectory", "The Trajectory object"),
    ("hcanalysis.io", "Readers and writers"),
    ("hcanalysis.io.unwrap", "Unwrapping"),
    ("hcanalysis.windows", "Time windows shared by every per-(ion, window) descriptor"),
    ("hcanalysis.msd", "MSD, D, α, α2, van Hove"),
    ("hcanalysis.msd_fit", "The diffusive fit range and D by generalised least squares"),
    ("hcanalysis.hops", "Hops, residence times, trapping"),
    ("hcanalysis.structure", "RDFs, coordination, clusters, carbon structure"),
    ("hcanalysis.voids", "Void tessellation, pores, PSD"),
    ("hcanalysis.tortuosity", "Geodesic tortuosity"),
    ("hcanalysis.analysis", "The protocol of the per-(ion, window) families"),
    ("hcanalysis.families", "The families: MSD, Hops, Structure, Voids, Tortuosity"),
    ("hcanalysis.descriptors", "The per-(ion, window) descriptor table"),
    ("hcanalysis.table", "DescriptorTable"),
    ("hcanalysis.columns", "Descriptor columns and units"),
    ("hcanalysis.config", "AnalysisConfig"),
    ("hcanalysis.modes", "Diffusion modes"),
    ("hcanalysis.importance", "Importance of the structural descriptors"),
    ("hcanalysis.ensemble", "Ensembles of trajectories"),
    ("hcanalysis.report", "Figures and the HTML report"),
    ("hcanalysis.pipeline", "`hcanalysis analyze` as a function"),
    ("hcanalysis.errors", "Exceptions"),
    ("mdrunner.builders", "Hard-carbon cells"),
    ("mdrunner.insertion", "Na insertion"),
    ("mdrunner.calculators", "Potentials"),
    ("mdrunner.md", "Molecular dynamics"),
    ("mdrunner.sweep", "Sweeps"),
    ("mdrunner.batched", "Batched torch-sim engine"),
    ("mdrunner.h5md", "H5MD writer of mdrunner"),
)
#: Typer applications documented in the command-line section.
CLIS = (("hcanalysis", "hcanalysis.cli", "app"), ("mdrunner", "mdrunner.cli", "app"))

ITEM_SECTIONS = {"Parameters", "Returns", "Yields", "Attributes", "Raises", "Other Parameters",
                 "Warns"}
_ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|data|attr|obj|exc):`~?([^`]+)`")
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_RST_TABLE = re.compile(r"^\s*=+(\s+=+)+\s*$")


# ------------------------------------------------------------------------------ docstrings
def _is_rule(line: str) -> bool:
    s = line.strip()
    return len(s) >= 3 and set(s) == {"-"}


def render_doc(doc: str | None) -> str:
    """A numpy-style docstring as Markdown."""
    if not doc:
        return "*(no docstring)*"
    lines = inspect.cleandoc(_ROLE.sub(r"`\1`", doc)).splitlines()
    # RST simple tables and literal blocks after "::" become fenced blocks
    table = [i for i, ln in enumerate(lines) if _RST_TABLE.match(ln)]
    if table:
        lo, hi = table[0], table[-1]
        lo = lo - 1 if lo > 0 and lines[lo - 1].strip() else lo
        lines = lines[:lo] + ["```text"] + lines[lo:hi + 1] + ["```"] + lines[hi + 1:]
    out: list[str] = []
    section = None
    i = 0
    while i < len(lines):
        ln = lines[i]
        if ln.strip() and i + 1 < len(lines) and _is_rule(lines[i + 1]) and not ln[0].isspace():
            section = ln.strip()
            out += ["", f"**{section}**", ""]
            i += 2
            continue
        if section in ITEM_SECTIONS and ln.strip() and not ln[0].isspace():
            head, sep, typ = ln.partition(" : ")
            desc: list[str] = []
            j = i + 1
            while j < len(lines):
                nxt = lines[j]
                if nxt.strip() and not nxt[0].isspace():
                    break
                if not nxt.strip() and (j + 1 >= len(lines) or not lines[j + 1][:1].isspace()):
                    break
                desc.append(nxt.strip())
                j += 1
            if sep or re.fullmatch(r"[\w*, ]+", head.strip()):
                item = f"- `{head.strip()}`" + (f" ({typ.strip()})" if sep else "")
            else:
                item = f"- {head.strip()}"
            text = " ".join(d for d in desc if d)
            out.append(item + (f": {text}" if text else ""))
            i = j
            continue
        if ln.rstrip().endswith("::") and i + 1 < len(lines):
            out.append(ln.rstrip()[:-1])
            j = i + 1
            block: list[str] = []
            while j < len(lines) and (not lines[j].strip() or lines[j][:1].isspace()):
                block.append(lines[j])
                j += 1
            while block and not block[-1].strip():
                block.pop()
            body = inspect.cleandoc("\n".join(block)) if block else ""
            out += ["", "```text", body, "```", ""]
            i = j
            continue
        out.append(ln)
        i += 1
    text = "\n".join(out).strip("\n")
    return re.sub(r"\n{3,}", "\n\n", text)


# ------------------------------------------------------------------------------ signatures
class _Raw:
    """An annotation shown as written (``from __future__ import annotations`` strings)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def signature(obj, name: str) -> str:
    """``name(params) -> return`` with annotations as written, wrapped at 100 columns."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return f"{name}(...)"

    def raw(a):
        return a if a is inspect.Parameter.empty else _Raw(a if isinstance(a, str)
                                                          else inspect.formatannotation(a))

    params = [p.replace(annotation=raw(p.annotation)) for p in sig.parameters.values()]
    sig = sig.replace(parameters=params, return_annotation=raw(sig.return_annotation))
    text = _ADDRESS.sub("", f"{name}{sig}")
    if len(text) <= 100:
        return text
    parts = [_ADDRESS.sub("", str(p)) for p in sig.parameters.values()]
    # re-insert the "/" and "*" markers str(sig) would show
    shown, kinds = [], [p.kind for p in sig.parameters.values()]
    for k, (part, kind) in enumerate(zip(parts, kinds, strict=True)):
        if kind is inspect.Parameter.KEYWORD_ONLY and (
            k == 0 or kinds[k - 1] not in (inspect.Parameter.KEYWORD_ONLY,
                                           inspect.Parameter.VAR_POSITIONAL)
        ):
            shown.append("*")
        shown.append(part)
        if kind is inspect.Parameter.POSITIONAL_ONLY and (
            k + 1 == len(kinds) or kinds[k + 1] is not inspect.Parameter.POSITIONAL_ONLY
        ):
            shown.append("/")
    ret = "" if sig.return_annotation is inspect.Signature.empty else (
        f" -> {sig.return_annotation!r}")
    return f"{name}(\n" + "".join(f"    {s},\n" for s in shown) + f"){ret}"


# ------------------------------------------------------------------------------ objects
def _public_names(mod) -> list[str]:
    """``__all__`` (or public functions/classes defined here), in source order."""
    names = list(vars(mod))
    if hasattr(mod, "__all__"):
        listed = [n for n in mod.__all__ if n != "__version__"]
        order = {n: k for k, n in enumerate(names)}
        return sorted(listed, key=lambda n: order.get(n, len(order)))
    out = []
    for n in names:
        obj = vars(mod)[n]
        if n.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        if getattr(obj, "__module__", None) == mod.__name__:
            out.append(n)
    return out


def _short_repr(value) -> str:
    text = _ADDRESS.sub("", repr(value))
    return text if len(text) <= 90 else text[:87] + "..."


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.lower().replace("`", "")
    return "".join(c for c in text if c.isalnum() or c in " -_").replace(" ", "-")


def _class_members(cls) -> list[tuple[str, str, object]]:
    """Own public members: (name, kind, object) in definition order."""
    out = []
    for n, v in vars(cls).items():
        if n.startswith("_"):
            continue
        if isinstance(v, property):
            out.append((n, "property", v.fget))
        elif hasattr(v, "func") and type(v).__name__ == "cached_property":
            out.append((n, "property", v.func))
        elif isinstance(v, classmethod):
            out.append((n, "classmethod", v.__func__))
        elif isinstance(v, staticmethod):
            out.append((n, "staticmethod", v.__func__))
        elif inspect.isfunction(v):
            out.append((n, "method", v))
    return out


def render_class(cls, qual: str) -> list[str]:
    out = [f"### class `{qual}`", ""]
    if not issubclass(cls, BaseException):
        out += ["```python", signature(cls, qual.rsplit(".", 1)[-1]), "```", ""]
    out += [render_doc(cls.__doc__), ""]
    for name, kind, fn in _class_members(cls):
        out.append(f"#### `{qual.rsplit('.', 1)[-1]}.{name}`" + (
            " *(property)*" if kind == "property" else
            f" *({kind})*" if kind != "method" else ""))
        out.append("")
        if kind != "property":
            sig = signature(fn, name)
            if kind == "method":
                sig = sig.replace("(self, ", "(", 1).replace("(self)", "()", 1).replace(
                    "(\n    self,\n", "(\n", 1)
            elif kind == "classmethod":
                sig = sig.replace("(cls, ", "(", 1).replace("(cls)", "()", 1).replace(
                    "(\n    cls,\n", "(\n", 1)
            out += ["```python", sig, "```", ""]
        out += [render_doc(fn.__doc__), ""]
    return out


def render_module(modname: str, title: str, seen: dict) -> list[str]:
    mod = importlib.import_module(modname)
    out = [f"## `{modname}`", "", f"*{title}*", "", render_doc(mod.__doc__), ""]
    constants = []
    for name in _public_names(mod):
        obj = getattr(mod, name)
        qual = f"{modname}.{name}"
        if inspect.isfunction(obj) or inspect.isclass(obj):
            if id(obj) in seen:
                first, heading = seen[id(obj)]
                out += [f"- `{qual}`: the same object as [`{first}`](#{_anchor(heading)}).", ""]
                continue
            kind = "class " if inspect.isclass(obj) else ""
            seen[id(obj)] = (qual, f"{kind}`{qual}`")
            if inspect.isclass(obj):
                out += render_class(obj, qual)
            else:
                out += [f"### `{qual}`", "", "```python", signature(obj, name), "```", "",
                        render_doc(obj.__doc__), ""]
        elif inspect.ismodule(obj):
            continue
        else:
            constants.append(f"- `{name} = {_short_repr(obj)}`")
    if constants:
        out += ["**Constants**", "", *constants, ""]
    return out


# ------------------------------------------------------------------------------ command line
def _default(p) -> str:
    if getattr(p, "required", False):
        return "required"
    d = p.default
    if d is None or callable(d):
        return ""
    if isinstance(d, Path):
        return f"`{d}`"
    if isinstance(d, list | tuple):
        return f"`{', '.join(map(str, d))}`" if d else ""
    return f"`{d}`"


def render_cli(prog: str, modname: str, attr: str) -> list[str]:
    import typer.main

    app = getattr(importlib.import_module(modname), attr)
    group = typer.main.get_command(app)
    out = [f"### `{prog}`", "", (group.help or "").strip(), ""]
    for name, cmd in sorted(group.commands.items()):
        out += [f"#### `{prog} {name}`", "", inspect.cleandoc(cmd.help or "").strip(), ""]
        rows = []
        for p in cmd.params:
            if p.param_type_name == "argument":
                key = f"`{(p.metavar or p.name).upper()}`"
            else:
                key = ", ".join(f"`{o}`" for o in [*p.opts, *p.secondary_opts])
            helptext = (getattr(p, "help", None) or "").replace("|", "\\|").replace("\n", " ")
            rows.append(f"| {key} | {_default(p)} | {helptext} |")
        if rows:
            out += ["| argument / option | default | meaning |", "|---|---|---|", *rows, ""]
    return out


# ------------------------------------------------------------------------------ page
def render() -> str:
    """The whole page."""
    seen: dict[int, tuple[str, str]] = {}
    body: list[str] = []
    toc = []
    for modname, title in MODULES:
        body += render_module(modname, title, seen)
        toc.append(f"- [`{modname}`](#{_anchor(modname)}) — {title}")
    cli: list[str] = ["## Command line", "",
                      "Every command takes `--help`. Generated from the Typer applications.", ""]
    for prog, modname, attr in CLIS:
        cli += render_cli(prog, modname, attr)
    head = [
        "# API reference",
        "",
        "Generated from the docstrings by `python docs/build_api.py`; do not edit by hand "
        "(`tests/test_docs.py` checks that this file is current). Definitions, units, "
        "defaults and validation: [methods.md](methods.md).",
        "",
        *toc,
        "- [Command line](#command-line)",
        "",
    ]
    text = "\n".join(head + body + cli)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if docs/api.md is stale")
    args = ap.parse_args(argv)
    text = render()
    if args.check:
        current = OUT.read_text() if OUT.exists() else ""
        if current != text:
            print(f"{OUT} is out of date: run python docs/build_api.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
