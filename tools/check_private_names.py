"""No private names across modules: ``make lint`` runs this next to import-linter.

A name that starts with one underscore is private to the module that defines it. This check
reads every module of the library packages (``hcanalysis``, ``mdrunner``) and reports

* ``from pkg.mod import _name`` in any other module, and
* ``mod._name`` where ``mod`` is bound to another project module (``import pkg.mod as mod``,
  ``from pkg import mod``).

Dunder names (``__version__``) are not private. Tests and benchmarks may reach into privates
(they test them) and are not checked. Exit status 1 with one line per use when any is found.

Usage: ``python tools/check_private_names.py [ROOT]`` (default: the repository root).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGES = ("hcanalysis", "mdrunner")


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(current: str, is_package: bool, node: ast.ImportFrom) -> str:
    """Absolute module name of a ``from ... import`` (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = current.split(".")
    drop = node.level - 1 if is_package else node.level
    base = base[: len(base) - drop] if drop else base
    return ".".join(base + ([node.module] if node.module else []))


def violations(root: Path) -> list[str]:
    modules = {}
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            modules[module_name(root, path)] = path
    out = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        aliases: dict[str, str] = {}  # local name -> project module it is bound to
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name in modules and a.asname:
                        aliases[a.asname] = a.name
            elif isinstance(node, ast.ImportFrom):
                src = _resolve(name, is_package, node)
                if src not in modules or src == name:
                    continue
                for a in node.names:
                    if f"{src}.{a.name}" in modules:
                        aliases[a.asname or a.name] = f"{src}.{a.name}"
                    elif _private(a.name):
                        out.append(f"{path.relative_to(root)}:{node.lineno}: imports {a.name} "
                                   f"from {src}")
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and _private(node.attr)
                    and aliases[node.value.id] != name):
                out.append(f"{path.relative_to(root)}:{node.lineno}: uses "
                           f"{aliases[node.value.id]}.{node.attr}")
    return out


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent
    found = violations(root)
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} private name(s) used across modules: make them public (no "
              "leading underscore) where they are shared, or move them to the module that "
              "uses them", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
