"""Renamed keywords keep working: the old name is accepted with a ``DeprecationWarning``
(users have scripts), the new one is the vocabulary of the Python API (``ions=``,
``framework=``, ``seed=``, ``progress=``)."""

from __future__ import annotations

import functools
import inspect
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


def keyword_only(fn: F) -> F:
    """Decorator: options after the data are keyword-only; positional use still works, warns.

    ``fn`` declares its options keyword-only (after ``*``), in the order they used to have as
    positional parameters. A call that passes them by position (an older script) has them
    mapped to those names in that order, with a DeprecationWarning naming the keywords to
    use; too many positional arguments, or one also given by keyword, is a TypeError as
    before.
    """
    params = list(inspect.signature(fn).parameters.values())
    n_data = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
    options = [p.name for p in params if p.kind is p.KEYWORD_ONLY]
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        raise TypeError(f"keyword_only cannot wrap {fn.__name__}(*args)")

    @functools.wraps(fn)
    def inner(*args: Any, **kwargs: Any) -> Any:
        if len(args) > n_data:
            extra = args[n_data:]
            if len(extra) > len(options):
                raise TypeError(f"{fn.__name__}() takes {n_data} positional arguments "
                                f"but {len(args)} were given")
            names = options[:len(extra)]
            both = [n for n in names if n in kwargs]
            if both:
                raise TypeError(f"{fn.__name__}() got multiple values for {both[0]}=")
            warnings.warn(f"{fn.__name__}(): passing {', '.join(names)} by position is "
                          "deprecated; pass them by keyword ("
                          + ", ".join(f"{n}=..." for n in names) + ")",
                          DeprecationWarning, stacklevel=2)
            kwargs.update(zip(names, extra, strict=True))
            args = args[:n_data]
        return fn(*args, **kwargs)

    return inner  # type: ignore[return-value]


def old_callback(func: str, old: str, fn: Callable[..., Any] | None) -> Callable[..., Any] | None:
    """An older progress keyword (``on_progress=``, ``on_stage=``, ``on_map=``, ...) given to
    ``func``: warn (DeprecationWarning: use ``progress=``, :class:`hcanalysis.progress.ProgressFn`)
    and return ``fn``, which the caller keeps calling as before; None passes silently."""
    if fn is not None:
        warnings.warn(f"{func}({old}=...) is deprecated; use progress=, a callable "
                      "progress(stage, done, total) (hcanalysis.progress.ProgressFn)",
                      DeprecationWarning, stacklevel=3)
    return fn


__all__ = ["keyword_only", "old_callback", "renamed"]
