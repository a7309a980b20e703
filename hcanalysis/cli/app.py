"""The Typer application object shared by the command modules."""

from __future__ import annotations

from dataclasses import dataclass

import typer
from rich.console import Console

from hcanalysis import __version__


@dataclass
class CLIState:
    """Global flags of one invocation."""

    debug: bool = False


state = CLIState()
console = Console(stderr=True)

app = typer.Typer(
    name="hcanalysis",
    help="Na-ion transport in hard carbon: trajectories -> MSD, hops, voids, tortuosity, modes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hcanalysis {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """hcanalysis command line."""
    state.debug = state.debug or debug


def progress():
    """A rich progress bar for passes over files (shown only when a pass is slow enough to
    matter: rich hides bars that finish quickly when ``transient`` is set)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
