"""tools/check_private_names.py (run by `make lint`) finds private names used across modules."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _checker():
    spec = importlib.util.spec_from_file_location("cpn", ROOT / "tools" / "check_private_names.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_finds_imports_and_attribute_uses_of_other_modules_privates(tmp_path):
    pkg = tmp_path / "hcanalysis"
    (pkg / "sub").mkdir(parents=True)
    (tmp_path / "mdrunner").mkdir()
    (pkg / "__init__.py").write_text("__version__ = '1'\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def _x():\n    return 1\n\n\ndef y():\n    return _x()\n")
    (pkg / "sub" / "b.py").write_text(
        "from hcanalysis.a import _x, y\n"          # private import: reported
        "from hcanalysis import a as mod_a\n"
        "from .. import __version__\n"              # dunder: not private
        "import hcanalysis.a as A\n"
        "z = A._x() + mod_a._x() + y() + A.y()\n"  # two attribute uses: reported
    )
    found = _checker().violations(tmp_path)
    assert sorted(found) == sorted([
        "hcanalysis/sub/b.py:1: imports _x from hcanalysis.a",
        "hcanalysis/sub/b.py:5: uses hcanalysis.a._x",
        "hcanalysis/sub/b.py:5: uses hcanalysis.a._x",
    ])


def test_the_library_uses_no_private_names_across_modules():
    assert _checker().violations(ROOT) == []
