"""Progress reporting below the command line: one callback protocol for every long step.

A long step (indexing a dump, writing H5MD, a descriptor stage over ion chunks or frames)
reports ``progress(stage, done, total)``: ``stage`` names the step and what is counted
("msd: ions", "indexing run.dump: MiB"), ``done`` how many are done, ``total`` how many there
are (0 when unknown; a stage message). A step calls it with ``done=0`` when it starts and
``done=total`` when it ends. Library code never prints: it calls the callback it was given, or
the one installed with :func:`use` (the command line installs one per invocation), or none.

Two reporters are provided: :class:`LineProgress`, plain timestamped lines (stage, done of
total, percent, elapsed time, ETA), rate-limited so that a long run writes a line about every
``every_s`` seconds or ``every_fraction`` of a step, for logs and pipes; and
:class:`RichProgress`, a live bar for a terminal. :func:`reporter` picks one.

Example::

    from hcanalysis import progress
    with progress.use(progress.LineProgress()):
        traj = hcanalysis.load("run.lammpstrj")       # indexing lines on stderr
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import time
from collections.abc import Callable, Iterator
from typing import IO, Protocol


class ProgressFn(Protocol):
    """The one progress callback of the Python API: ``progress(stage, done, total)``.

    Every public function or method with a long loop takes it as ``progress=`` (keyword-only):
    :func:`hcanalysis.load` and the readers, :func:`hcanalysis.write_h5md`, the families'
    ``compute``, :func:`hcanalysis.descriptors.compute`, :func:`hcanalysis.pipeline.analyze`,
    :func:`hcanalysis.voids.void_maps`, ... Default (None): the callback installed with
    :func:`use`, else nothing.

    Parameters
    ----------
    stage : str
        What runs and what is counted ("msd", "voids: frames", "indexing run.dump: MiB"); a
        stage message when ``total`` is 0 (a step starts: "modes", "sample.h5: tortuosity").
    done : int
        How many are done (0 when the stage starts, ``total`` when it ends).
    total : int
        How many there are; 0 for a message or when unknown.
    """

    def __call__(self, stage: str, done: int, total: int) -> None: ...


def null(stage: str, done: int, total: int) -> None:
    """A callback that reports nothing."""


_current: contextvars.ContextVar[Callable[[str, int, int], None]] = contextvars.ContextVar(
    "hcanalysis_progress", default=null)


def current() -> Callable[[str, int, int], None]:
    """The callback installed with :func:`use` (:func:`null` when none is)."""
    return _current.get()


def resolve(progress: Callable[[str, int, int], None] | None) -> Callable[[str, int, int], None]:
    """``progress`` when given, else the installed one."""
    return progress if progress is not None else _current.get()


def messages(fn: Callable[[str], None]) -> Callable[[str, int, int], None]:
    """A :class:`ProgressFn` that passes the stage messages (``total`` 0) to ``fn(message)``,
    what the older ``on_progress=`` / ``on_stage=`` callbacks received."""

    def call(stage: str, done: int, total: int) -> None:
        if total <= 0 and done <= 0:
            fn(stage)

    return call


def tee(*fns: Callable[[str, int, int], None] | None) -> Callable[[str, int, int], None]:
    """One :class:`ProgressFn` that calls each of ``fns`` in turn (None entries skipped)."""
    calls = [f for f in fns if f is not None]
    if len(calls) == 1:
        return calls[0]

    def call(stage: str, done: int, total: int) -> None:
        for f in calls:
            f(stage, done, total)

    return call


@contextlib.contextmanager
def use(progress: Callable[[str, int, int], None] | None) -> Iterator[None]:
    """Install ``progress`` for the code run inside the ``with`` block (None: silence)."""
    token = _current.set(progress or null)
    try:
        yield
    finally:
        _current.reset(token)


def _clock_text(seconds: float) -> str:
    s = int(round(max(seconds, 0.0)))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class LineProgress:
    """Plain progress lines for logs and pipes, e.g.::

        2026-12-04 19:20:01 hcanalysis: msd: ions 1,024/4,096 (25 %), 0:00:12 elapsed, ETA 0:00:36

    A stage's first call prints a line, then a line is printed when ``every_s`` seconds or
    ``every_fraction`` of the total have passed since the last one, and when the stage ends.

    Parameters
    ----------
    stream : file, default sys.stderr
    prog : str
        Program name at the start of each line.
    every_s : float
        Seconds between lines of one stage (wall clock).
    every_fraction : float
        Fraction of a stage's total between lines.
    clock : callable
        Seconds (monotonic); replaceable in tests.
    """

    def __init__(self, stream: IO[str] | None = None, prog: str = "hcanalysis",
                 every_s: float = 10.0, every_fraction: float = 0.1,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.prog = prog
        self.every_s = float(every_s)
        self.every_fraction = float(every_fraction)
        self.clock = clock
        self._start: dict[str, float] = {}
        self._last: dict[str, tuple[float, int]] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = self.clock()
        first = stage not in self._start
        if first:
            self._start[stage] = now
        finished = total > 0 and done >= total
        if not first and not finished:
            t_last, d_last = self._last[stage]
            due = now - t_last >= self.every_s or (
                total > 0 and (done - d_last) >= self.every_fraction * total)
            if not due:
                return
        if not first and finished and self._last.get(stage, (0, -1))[1] >= total:
            return  # the end was printed already
        self._last[stage] = (now, done)
        self._print(stage, done, total, now - self._start[stage])
        if finished:
            self._start.pop(stage, None)
            self._last.pop(stage, None)

    def _print(self, stage: str, done: int, total: int, elapsed: float) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        if total <= 0:
            body = stage if done <= 0 else f"{stage} {done:,}"
        else:
            pct = 100.0 * done / total
            body = f"{stage} {done:,}/{total:,} ({pct:.0f} %), {_clock_text(elapsed)} elapsed"
            if 0 < done < total and elapsed > 0:
                body += f", ETA {_clock_text(elapsed * (total - done) / done)}"
            elif done >= total:
                body += ", done"
        print(f"{stamp} {self.prog}: {body}", file=self.stream or sys.stderr, flush=True)


class RichProgress:
    """A live progress bar per stage on a terminal (rich); use as a context manager.

    Stages with a total get a bar with the count and the time remaining; stage messages
    (total 0) replace a one-line status. Bars are removed when the block ends.
    """

    def __init__(self, console=None) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f}"), TimeElapsedColumn(),
            TimeRemainingColumn(), console=console, transient=True)
        self._tasks: dict[str, int] = {}
        self._message: int | None = None

    def __enter__(self) -> RichProgress:
        """Start the live display."""
        self._bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        """Stop the live display (its bars are removed)."""
        self._bar.__exit__(*exc)

    def __call__(self, stage: str, done: int, total: int) -> None:
        if total <= 0:  # a message: replaces the previous one
            if self._message is not None:
                self._bar.remove_task(self._message)
            self._message = self._bar.add_task(stage, total=None)
            return
        task = self._tasks.get(stage)
        if task is None:
            task = self._tasks[stage] = self._bar.add_task(stage, total=total)
        self._bar.update(task, completed=done, total=total)
        if done >= total:
            self._bar.remove_task(task)
            del self._tasks[stage]


@contextlib.contextmanager
def reporter(stream: IO[str] | None = None, *, quiet: bool = False, verbose: bool = False,
             prog: str = "hcanalysis", console=None) -> Iterator[Callable[[str, int, int], None]]:
    """The reporter for a command: none with ``quiet``, a rich bar when ``stream`` is a
    terminal, else :class:`LineProgress` (a line every 10 s or 10 %; every 2 s or 5 % with
    ``verbose``). Installed (:func:`use`) for the block and yielded."""
    stream = stream if stream is not None else sys.stderr
    if quiet:
        with use(null):
            yield null
        return
    if getattr(stream, "isatty", lambda: False)():
        with RichProgress(console) as bar, use(bar):
            yield bar
        return
    lines = LineProgress(stream, prog=prog, every_s=2.0 if verbose else 10.0,
                         every_fraction=0.05 if verbose else 0.1)
    with use(lines):
        yield lines


class Counter:
    """Counts one stage's work and reports it: ``with Counter(progress, stage, total) as c:
    ... c.advance(n)``; reports 0 at the start and ``total`` at the end."""

    def __init__(self, progress: Callable[[str, int, int], None] | None, stage: str,
                 total: int) -> None:
        self.fn = resolve(progress)
        self.stage = stage
        self.total = int(total)
        self.done = 0

    def __enter__(self) -> Counter:
        """Report the start (0 done)."""
        self.fn(self.stage, 0, self.total)
        return self

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more done and report."""
        self.done += int(n)
        self.fn(self.stage, min(self.done, self.total) if self.total else self.done, self.total)

    def update(self, done: int) -> None:
        """Set the count done and report."""
        self.done = int(done)
        self.fn(self.stage, self.done, self.total)

    def __exit__(self, exc_type, *exc) -> None:
        """Report the end (all done) unless an exception stopped the work."""
        if exc_type is None and self.total and self.done < self.total:
            self.fn(self.stage, self.total, self.total)
