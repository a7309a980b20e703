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


__all__ = ["renamed"]
