"""The Typer application object shared by the command modules."""

from __future__ import annotations

import hashlib
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console

from hcanalysis import __version__
from hcanalysis.errors import HCAnalysisError, HCAnalysisWarning
from hcanalysis.warmup import kernels_cached


@dataclass
class CLIState:
    """Global flags of one invocation."""

    debug: bool = False
    quiet: bool = False
    verbose: bool = False


state = CLIState()
#: Logs, progress and errors (stderr).
console = Console(stderr=True)
#: Results (stdout), so that ``2>/dev/null`` hides the logs, not the findings.
results = Console()

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
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    quiet: bool = typer.Option(False, "-q", "--quiet",
                               help="No progress and no log lines (results and errors only)."),
    verbose: bool = typer.Option(False, "-v", "--verbose",
                                 help="More progress lines off a terminal (every 2 s or 5 %)."),
) -> None:
    """hcanalysis command line."""
    state.debug = state.debug or debug
    install_progress(ctx, quiet, verbose)


def install_progress(ctx, quiet: bool, verbose: bool, log_console: Console | None = None) -> None:
    """Set the log console's verbosity and install the progress reporter of this invocation
    (:func:`hcanalysis.progress.reporter`: a rich bar on a terminal, timestamped lines off
    one, nothing with ``quiet``) until the command returns."""
    from hcanalysis.progress import reporter

    log_console = log_console or console
    state.quiet, state.verbose = quiet, verbose
    log_console.quiet = quiet
    if ctx is not None:
        ctx.with_resource(reporter(quiet=quiet, verbose=verbose, console=log_console,
                                   prog=ctx.find_root().info_name or "hcanalysis"))


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


def compile_notice(prog: str, args: list[str]) -> None:
    """Say once, before a first analysis on a machine, that the kernels are being compiled
    (the first run spends a minute or more in Numba's compiler, silently otherwise)."""
    quiet = {"--help", "-h", "--version", "info", "convert", "-q", "--quiet"}
    if args and not quiet.intersection(args) and not kernels_cached():
        print(f"{prog}: first run on this machine: compiling the analysis kernels (a minute "
              "or two, once; later runs reuse them)", file=sys.stderr)


def sha256(path: Path, chunk: int = 1 << 24) -> str:
    """SHA-256 of a whole file (recorded with each command's output)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def check_output(path: Path, inputs: list[Path | None], force: bool,
                 hint: str = "use --force to overwrite it") -> None:
    """Refuse an output that is one of the inputs, or that exists without ``--force``.

    Raises
    ------
    HCAnalysisError
        Naming the file and what to do.
    """
    for p in inputs:
        if p is not None and Path(p).exists() and Path(path).resolve() == Path(p).resolve():
            raise HCAnalysisError(f"{path}: the output would overwrite an input file")
    if Path(path).exists() and not force:
        raise HCAnalysisError(f"{path} exists; {hint}")


#: Global flags accepted anywhere on the command line (moved before the command).
GLOBAL_FLAGS = ("-q", "--quiet", "-v", "--verbose")


def global_flags_first(args: list[str]) -> list[str]:
    """``hcanalysis analyze x.h5 -q`` works like ``hcanalysis -q analyze x.h5``: the global
    flags (:data:`GLOBAL_FLAGS`; no command uses these names) are moved to the front, up to a
    ``--`` separator."""
    cut = args.index("--") if "--" in args else len(args)
    flags = [a for a in args[:cut] if a in GLOBAL_FLAGS]
    return flags + [a for a in args[:cut] if a not in GLOBAL_FLAGS] + args[cut:]


def run_app(typer_app: typer.Typer, args: list[str], prog: str, debug: bool) -> int:
    """Run a Typer app and turn errors into one line on stderr (a traceback with ``debug``);
    returns the exit code. Shared by the ``hcanalysis`` and ``mdrunner`` scripts."""
    import click

    args = global_flags_first(list(args))

    hidden: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")  # each warning once per place
            warnings.showwarning = _warning_printer(prog, debug, hidden)
            typer_app(args=args, prog_name=prog, standalone_mode=False)
    except SystemExit as exc:  # typer/click exits on --help, --version
        return int(exc.code or 0)
    except Exception as exc:  # noqa: BLE001
        if debug:
            raise
        if isinstance(exc, click.exceptions.Exit):
            return int(exc.exit_code)
        if isinstance(exc, click.ClickException):
            exc.show()
            return int(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            console.print("aborted", style="red")
            return 1
        print(f"{prog}: error: {str(exc) or exc.__class__.__name__}", file=sys.stderr)
        return 2
    finally:
        if hidden:
            print(f"{prog}: {len(hidden)} warning(s) from libraries hidden (--debug shows "
                  "them)", file=sys.stderr)
    return 0


#: Library warnings addressed to developers (an optional import missing, an API to change):
#: never counted for the user; ``--debug`` shows them.
_FOR_DEVELOPERS = (ImportWarning, DeprecationWarning, PendingDeprecationWarning, FutureWarning)


def _warning_printer(prog: str, debug: bool, hidden: list[str]):
    """``warnings.showwarning`` for the command line: hcanalysis' and mdrunner's own warnings
    as one line each (``prog: warning: ...``); library warnings about the computation
    (NumPy's "Mean of empty slice", ...) are hidden and counted in one closing line, those
    addressed to developers (UMAP's "Tensorflow not installed", deprecations) are hidden
    without a count; ``--debug`` shows them all."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        # ours: our warning classes, or a plain UserWarning raised by our code (NumPy's
        # RuntimeWarnings point at our line too, through stacklevel, but are not ours)
        ours = issubclass(category, HCAnalysisWarning) or (category is UserWarning and any(
            f"{os.sep}{pkg}{os.sep}" in str(filename) for pkg in ("hcanalysis", "mdrunner")))
        if ours:
            text = str(message).strip().splitlines()[0] if str(message).strip() else ""
            print(f"{prog}: warning: {text}", file=sys.stderr)
        elif debug:
            print(warnings.formatwarning(message, category, filename, lineno, line),
                  file=sys.stderr, end="")
        elif not issubclass(category, _FOR_DEVELOPERS):
            hidden.append(f"{category.__name__}: {message}")

    return show
