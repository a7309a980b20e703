"""Renamed keywords keep working: the old name is accepted with a ``DeprecationWarning``
(users have scripts), the new one is the vocabulary of the Python API (``ions=``,
``framework=``, ``seed=``, ``progress=``)."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def renamed(**old_to_new: str) -> Callable[[F], F]:
    """Decorator: accept ``old=value`` as ``new=value`` with a DeprecationWarning.

    Example: ``@renamed(ion="ions", carbon="framework")``. Giving both names is a TypeError.
    """

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{fn.__name__}() got both {old}= and {new}=; "
                                        f"use {new}=")
                    warnings.warn(f"{fn.__name__}({old}=...) is deprecated; use {new}=",
                                  DeprecationWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        return inner  # type: ignore[return-value]

    return wrap


def old_callback(func: str, old: str, fn: Callable[..., Any] | None) -> Callable[..., Any] | None:
    """An older progress keyword (``on_progress=``, ``on_stage=``, ``on_map=``, ...) given to
    ``func``: warn (DeprecationWarning: use ``progress=``, :class:`hcanalysis.progress.ProgressFn`)
    and return ``fn``, which the caller keeps calling as before; None passes silently."""
    if fn is not None:
        warnings.warn(f"{func}({old}=...) is deprecated; use progress=, a callable "
                      "progress(stage, done, total) (hcanalysis.progress.ProgressFn)",
                      DeprecationWarning, stacklevel=3)
    return fn


__all__ = ["old_callback", "renamed"]
