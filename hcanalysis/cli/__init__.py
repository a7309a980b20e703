"""The ``hcanalysis`` command line.

Each command family lives in its own module here and registers itself on :data:`app`;
:func:`main` turns hcanalysis' own errors into one line (``--debug`` shows the traceback).
"""

from __future__ import annotations

import importlib
import sys

from hcanalysis.cli.app import app, compile_notice, run_app, state

# Command modules register their commands on import: add one name per command family.
COMMAND_MODULES = (
    "io_cmds",  # info, convert
    "analyze_cmd",  # analyze, demo, ensemble
    "hops_cmd",  # hops
    "msd_cmd",  # msd
    "structure_cmd",  # structure
    "voids_cmd",  # voids
    "tortuosity_cmd",  # tortuosity
)
for _name in COMMAND_MODULES:
    importlib.import_module(f"hcanalysis.cli.{_name}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``hcanalysis`` script."""
    args = list(sys.argv[1:] if argv is None else argv)
    state.debug = "--debug" in args
    compile_notice("hcanalysis", args)
    return run_app(app, args, "hcanalysis", state.debug)


__all__ = ["app", "main"]
