"""The :class:`DescriptorTable`: one row per (ion, window), units per column, run metadata.

Stored as HDF5: ``/descriptors/<column>`` datasets (attributes ``unit`` and ``description``),
optional ``/arrays/<name>`` (e.g. the MSD curve of every row), and the metadata as JSON in the
root attribute ``metadata``. Files are written to a temporary name and renamed into place, so
an interrupted run never leaves a half-written file behind.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from hcanalysis.atomic import atomic_output
from hcanalysis.columns import BY_NAME, unit


@dataclass
class DescriptorTable:
    """Per-(ion, window) descriptors.

    Attributes
    ----------
    frame : DataFrame
        Integer id columns ``trajectory``, ``ion``, ``window``, ``atom_index`` and the
        descriptor columns (see :mod:`hcanalysis.columns` for names and units).
    arrays : dict of str to ndarray
        Per-row arrays (first axis = rows), e.g. ``msd`` curves and their ``lag_ps``.
    metadata : dict
        Input file fingerprints, parameters, package version, seed, what each stage reported.
    """

    frame: pd.DataFrame
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_pandas(self) -> pd.DataFrame:
        """The table as a DataFrame (a copy)."""
        return self.frame.copy()

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def columns(self) -> list[str]:
        return list(self.frame.columns)

    @property
    def units(self) -> dict[str, str]:
        """Unit of each column."""
        return {c: unit(c) for c in self.frame.columns}

    def write(self, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
        """Write to HDF5 (atomically: temporary file, then rename)."""
        path = Path(path)
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True or choose another name")
        with atomic_output(path) as tmp, h5py.File(tmp, "w") as fh:
            grp = fh.create_group("descriptors")
            for c in self.frame.columns:
                col = self.frame[c]
                if col.dtype == object or pd.api.types.is_string_dtype(col):
                    data = np.asarray(col.astype(str), dtype=h5py.string_dtype())
                else:
                    data = col.to_numpy()
                ds = grp.create_dataset(c, data=data)
                ds.attrs["unit"] = unit(c)
                ds.attrs["description"] = BY_NAME[c].description if c in BY_NAME else ""
            grp.attrs["columns"] = json.dumps(list(self.frame.columns))
            arr = fh.create_group("arrays")
            for name, a in self.arrays.items():
                arr.create_dataset(name, data=np.asarray(a), compression="gzip")
            fh.attrs["metadata"] = json.dumps(self.metadata, default=_json_default)
        return path

    @classmethod
    def read(cls, path: str | os.PathLike) -> DescriptorTable:
        """Read a table written by :meth:`write`."""
        with h5py.File(path, "r") as fh:
            if "descriptors" not in fh:
                raise ValueError(f"{path}: not a descriptor table (no /descriptors group)")
            grp = fh["descriptors"]
            cols = json.loads(grp.attrs["columns"])
            data = {}
            for c in cols:
                v = grp[c][()]
                if v.dtype.kind in "OS":
                    v = np.array([x.decode() if isinstance(x, bytes) else x for x in v])
                data[c] = v
            arrays = {k: fh["arrays"][k][()] for k in fh.get("arrays", {})}
            meta = json.loads(fh.attrs.get("metadata", "{}"))
        return cls(pd.DataFrame(data, columns=cols), arrays, meta)


def as_frame(table) -> pd.DataFrame:
    """A descriptor table as a pandas DataFrame: a DataFrame as it is, a
    :class:`DescriptorTable` through ``to_pandas()``; anything else is a TypeError."""
    if isinstance(table, pd.DataFrame):
        return table
    if hasattr(table, "to_pandas"):
        return table.to_pandas()
    raise TypeError("expected a pandas DataFrame or a DescriptorTable")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, tuple):
        return list(obj)
    return str(obj)
