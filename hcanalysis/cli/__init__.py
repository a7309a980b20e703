"""The ``hcanalysis`` command line.

Each command family lives in its own module here and registers itself on :data:`app`;
:func:`main` turns hcanalysis' own errors into one line (``--debug`` shows the traceback).
"""

from __future__ import annotations

import importlib
import sys

from hcanalysis.cli.app import app, console, state

# Command modules register their commands on import: add one name per command family.
COMMAND_MODULES = (
    "io_cmds",  # info, convert
    "analyze_cmd",  # analyze, demo
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
    try:
        app(args=args, prog_name="hcanalysis", standalone_mode=False)
    except SystemExit as exc:  # typer/click exits on --help, --version
        return int(exc.code or 0)
    except Exception as exc:  # noqa: BLE001
        import click

        if state.debug:
            raise
        if isinstance(exc, click.exceptions.Exit):
            return int(exc.exit_code)
        if isinstance(exc, click.ClickException):
            exc.show()
            return int(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            console.print("aborted", style="red")
            return 1
        msg = str(exc) or exc.__class__.__name__
        print(f"hcanalysis: error: {msg}", file=sys.stderr)
        return 2
    return 0


__all__ = ["app", "main"]
