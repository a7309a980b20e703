"""The HDF5 output of a family command: the family's own layout, and the command's older
layout as views of it, written by one function.

A family command (``hcanalysis msd``, ``voids``, ``tortuosity``) writes its family object with
:meth:`hcanalysis.analysis.WindowedAnalysis.to_h5` to ``/<family>`` (read back with
``Family.from_h5(out)``, e.g. ``MSD.from_h5("msd.h5")``). The dataset names scripts read from
the command's earlier layout (``per_ion_window/D``, ``curves/msd``, ``voids/ions/...``, see
the family pages in ``docs/``) stay readable: each is a *view* of the family's result, an
HDF5 soft link to the family's dataset when it is the same array, or a dataset derived from
it (a unit conversion, a column of the long rows) otherwise. A command states its views in
one table, ``{old name: source}``, and :func:`write_views` writes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

#: A view's source: an absolute path in the same file (written as a soft link) or an array.
Source = str | np.ndarray | list | float | int


def plain_attr(value: Any) -> Any:
    """A value HDF5 attributes take (None -> "none", lists -> arrays)."""
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return np.asarray(value)
    return value


def write_views(root, views: Mapping[str, Source],
                attrs: Mapping[str, Mapping[str, Any]] | None = None) -> None:
    """Write the views of a command's older layout into an open file or group ``root``.

    Parameters
    ----------
    root : h5py.File or h5py.Group
    views : mapping
        Old dataset name (relative to ``root``; groups are created) -> its source: a string
        is an absolute path in the file, written as a soft link (the same dataset, no copy);
        anything else is an array written as a dataset.
    attrs : mapping, optional
        Group or dataset name ("" for ``root``) -> attributes to set on it (after the views,
        so a name may be a view; a linked dataset's attributes are its target's).
    """
    import h5py

    for name, src in views.items():
        if name in root:
            del root[name]
        parent, _, leaf = name.rpartition("/")
        grp = root.require_group(parent) if parent else root
        if isinstance(src, str):
            if src not in root.file:
                raise KeyError(f"view {name!r}: {src!r} is not in the file")
            grp[leaf] = h5py.SoftLink(src)
        else:
            grp.create_dataset(leaf, data=np.asarray(src))
    for name, values in (attrs or {}).items():
        obj = root.require_group(name) if name and name not in root else (
            root[name] if name else root)
        for k, v in values.items():
            obj.attrs[k] = plain_attr(v)


def write_family_output(out: Path, fam, views: Mapping[str, Source],
                        attrs: Mapping[str, Mapping[str, Any]] | None = None) -> Path:
    """Write ``fam`` to ``/<family>`` of a new HDF5 file ``out`` (atomically) and the views
    of the command's older layout (:func:`write_views`); returns ``out``."""
    import h5py

    from hcanalysis import __version__
    from hcanalysis.atomic import atomic_output

    with atomic_output(out) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["hcanalysis_version"] = __version__
        fam.to_h5(f.create_group(fam.family))
        write_views(f, views, attrs)
    return out


__all__ = ["Source", "plain_attr", "write_family_output", "write_views"]
