"""Appendable H5MD 1.1 trajectory writer for MD runs (frames written as the run goes).

Layout (the one :mod:`hcanalysis.io.h5md` writes, plus observables; what
:func:`hcanalysis.load` reads)::

    /h5md                         version = [1, 1]; author/, creator/
    /particles/all/species        (N,) int32 atomic numbers (attrs names, codes)
    /particles/all/element        (N,) element symbols (UTF-8 strings)
    /particles/all/box            dimension = 3, boundary = periodic ×3
    /particles/all/box/edges/     value (F, 3, 3) Å rows = cell vectors; step (F,); time (F,) ps
    /particles/all/position/      value (F, N, 3) Å, wrapped into the cell; step; time
    /particles/all/image/         value (F, N, 3) int32 periodic images (unwrapped = pos + img·box)
    /particles/all/velocity/      value (F, N, 3) Å/ps; step; time
    /observables/<name>/          value (F,); step; time   (potential_energy, kinetic_energy,
                                  total_energy in eV; temperature in K; conserved_energy)
    /parameters/mdrunner          attribute ``json``: the run's metadata

Every frame is flushed when written, so an interrupted run leaves a readable file; on
resume the file is truncated back to the checkpoint's step before appending.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np

OBSERVABLES = {
    "potential_energy": "eV",
    "kinetic_energy": "eV",
    "total_energy": "eV",
    "conserved_energy": "eV",
    "temperature": "K",
}


def wrap_with_images(positions: np.ndarray, cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split continuous positions into wrapped positions and integer periodic images."""
    frac = np.linalg.solve(np.asarray(cell).T, np.asarray(positions).T).T
    img = np.floor(frac)
    return (frac - img) @ cell, img.astype(np.int32)


class H5MDAppender:
    """Write an MD trajectory frame by frame.

    Parameters
    ----------
    path : path-like
        Output file. ``mode="w"`` creates it (refusing an existing file unless
        ``overwrite``), ``mode="a"`` reopens one written before (for resume).
    species : sequence of str
        Element per atom (needed for ``mode="w"``).
    dtype : numpy dtype
        Storage type of positions and velocities (float32 keeps files small; float64 keeps
        them exact).
    metadata : dict, optional
        Stored as JSON in ``/parameters/mdrunner``.
    """

    def __init__(self, path, species=None, *, mode: str = "w", dtype=np.float32,
                 metadata: dict | None = None, overwrite: bool = False,
                 compression: str | None = "gzip") -> None:
        self.path = Path(path)
        if mode == "w":
            if self.path.exists() and not overwrite:
                raise FileExistsError(f"{self.path} exists; resume it or remove it first")
            if species is None:
                raise ValueError("species is required to create a trajectory file")
            tmp = self.path.with_suffix(self.path.suffix + ".tmp")
            self._f = h5py.File(tmp, "w")
            self._create(list(species), np.dtype(dtype), metadata or {}, compression)
            self._f.close()
            os.replace(tmp, self.path)
        elif mode != "a":
            raise ValueError("mode must be 'w' or 'a'")
        self._f = h5py.File(self.path, "a")
        self._all = self._f["particles/all"]
        self.n_atoms = int(self._all["species"].shape[0])

    # ------------------------------------------------------------------ creation
    def _create(self, species, dtype, metadata, compression) -> None:
        f = self._f
        h = f.create_group("h5md")
        h.attrs["version"] = np.array([1, 1], dtype=np.int32)
        h.create_group("author").attrs["name"] = "hcanalysis mdrunner"
        cr = h.create_group("creator")
        cr.attrs["name"] = "mdrunner"
        try:
            from importlib.metadata import version

            cr.attrs["version"] = version("hcanalysis")
        except Exception:  # pragma: no cover - source tree without metadata
            cr.attrs["version"] = "0.1.0"
        n = len(species)
        grp = f.create_group("particles/all")
        from ase.data import atomic_numbers

        names = list(dict.fromkeys(species))
        if all(x in atomic_numbers for x in names):
            codes = [atomic_numbers[x] for x in names]
        else:
            codes = list(range(1, len(names) + 1))
        lut = dict(zip(names, codes, strict=True))
        sp = grp.create_dataset("species", data=np.array([lut[x] for x in species], np.int32))
        sp.attrs["names"] = np.array(names, dtype=h5py.string_dtype())
        sp.attrs["codes"] = np.array(codes, dtype=np.int32)
        grp.create_dataset("element", data=np.array(species, dtype=object),
                           dtype=h5py.string_dtype("utf-8"))
        box = grp.create_group("box")
        box.attrs["dimension"] = 3
        box.attrs["boundary"] = np.array([b"periodic"] * 3)
        chunk = max(1, min(64, (1 << 20) // max(1, n * 3 * dtype.itemsize)))
        kw = dict(compression=compression, shuffle=True) if compression else {}
        self._element(box, "edges", (3, 3), np.float64, chunk, kw, "Angstrom")
        self._element(grp, "position", (n, 3), dtype, chunk, kw, "Angstrom")
        self._element(grp, "image", (n, 3), np.int32, chunk, kw, None)
        self._element(grp, "velocity", (n, 3), dtype, chunk, kw, "Angstrom ps-1")
        obs = f.create_group("observables")
        for name, unit in OBSERVABLES.items():
            self._element(obs, name, (), np.float64, 256, {}, unit)
        par = f.create_group("parameters").create_group("mdrunner")
        par.attrs["json"] = json.dumps(metadata, default=str)

    @staticmethod
    def _element(parent, name, shape, dtype, chunk, kw, unit) -> None:
        g = parent.create_group(name)
        v = g.create_dataset("value", shape=(0, *shape), maxshape=(None, *shape), dtype=dtype,
                             chunks=(chunk, *shape) if shape else (chunk,), **kw)
        if unit:
            v.attrs["unit"] = unit
        g.create_dataset("step", shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(256,))
        t = g.create_dataset("time", shape=(0,), maxshape=(None,), dtype=np.float64,
                             chunks=(256,))
        t.attrs["unit"] = "ps"

    # ------------------------------------------------------------------ access
    def _groups(self):
        yield self._all["box/edges"]
        for name in ("position", "image", "velocity"):
            yield self._all[name]
        for name in self._f["observables"]:
            yield self._f["observables"][name]

    @property
    def n_frames(self) -> int:
        return int(self._all["position/step"].shape[0])

    @property
    def steps(self) -> np.ndarray:
        return self._all["position/step"][:]

    def truncate_after(self, step: int) -> int:
        """Drop frames with MD step > ``step`` (for resume); returns the frames kept."""
        keep = int(np.searchsorted(self.steps, step, side="right"))
        for g in self._groups():
            for ds in ("value", "step", "time"):
                d = g[ds]
                if d.shape[0] > keep:
                    d.resize(keep, axis=0)
        self._f.flush()
        return keep

    def append(self, step: int, time_ps: float, positions: np.ndarray, cell: np.ndarray,
               velocities: np.ndarray | None = None, observables: dict | None = None) -> None:
        """Append one frame. ``positions`` continuous (unwrapped) Å; velocities Å/ps."""
        cell = np.asarray(cell, dtype=np.float64)
        wrapped, img = wrap_with_images(np.asarray(positions, dtype=np.float64), cell)
        vel = np.zeros_like(wrapped) if velocities is None else velocities
        data = {
            "box/edges": cell,
            "position": wrapped,
            "image": img,
            "velocity": vel,
        }
        for key, arr in data.items():
            self._push(self._all[key], arr, step, time_ps)
        for name, val in (observables or {}).items():
            if name in self._f["observables"]:
                self._push(self._f["observables"][name], float(val), step, time_ps)
        self._f.flush()

    @staticmethod
    def _push(g, value, step, time_ps) -> None:
        n = g["step"].shape[0]
        for ds, val in (("value", value), ("step", step), ("time", time_ps)):
            d = g[ds]
            d.resize(n + 1, axis=0)
            d[n] = val

    def close(self) -> None:
        if self._f:
            self._f.close()
            self._f = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
