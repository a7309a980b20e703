"""Refuse work that cannot fit in memory before allocating it.

Grids and search boxes grow with the cube of a length a user chooses (a void-grid spacing, a
tortuosity shell radius), so a typo (``--spacing 0.0001``, ``radius=1e4``) would otherwise ask
the system for tens of GB or TiB and end in a crash or a swap storm. :func:`check_memory`
compares an estimate with the budget (``--max-memory`` / ``max_memory=`` when given, else the
free memory) and raises a one-line :class:`~hcanalysis.errors.MemoryBudgetError` with both
numbers and what to change.
"""

from __future__ import annotations

from hcanalysis.errors import MemoryBudgetError
from hcanalysis.kernels.backend import free_memory_bytes


def format_bytes(n: float) -> str:
    """``1.5 GiB``-style size."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.3g} PiB"  # pragma: no cover


def check_memory(nbytes: float, what: str, *, max_memory: int | None = None,
                 hint: str = "") -> None:
    """Raise when ``nbytes`` (an estimate of the peak) exceeds the budget.

    Parameters
    ----------
    nbytes : float
        Estimated peak memory of the step, bytes.
    what : str
        The step, for the message ("a void grid of 400 x 400 x 400 points").
    max_memory : int, optional
        The user's budget in bytes; default the free memory of the machine.
    hint : str
        What to change, appended to the message.

    Raises
    ------
    MemoryBudgetError
    """
    limit = int(max_memory) if max_memory else free_memory_bytes("cpu")
    if nbytes > limit:
        source = "the max_memory budget" if max_memory else "the free memory"
        raise MemoryBudgetError(
            f"{what} needs about {format_bytes(nbytes)}, more than {source} "
            f"({format_bytes(limit)})" + (f"; {hint}" if hint else "")
        )
