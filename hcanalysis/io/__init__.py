"""Readers and writers: every format becomes a :class:`hcanalysis.Trajectory`.

:func:`load` picks the reader from ``format`` or the file name:

============================  =============================================================
format                        files
============================  =============================================================
``lammps-dump``               ``*.dump``, ``*.lammpstrj``, ``*.dump.gz`` (text dumps)
``lammps-bin``                ``*.bin`` (LAMMPS binary ``dump custom``)
``lammps-data``               ``*.data``, ``*.lmp`` (one frame; or a topology)
``h5md``                      ``*.h5``, ``*.h5md``, ``*.hdf5``
``ase``                       ``*.xyz``, ``*.extxyz``, ``*.exyz``, ``*.traj``, any ase.io format
``mdanalysis``                anything MDAnalysis reads (XTC, DCD, ...) with a ``topology``
============================  =============================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from hcanalysis.errors import TrajectoryFormatError
from hcanalysis.io.trajectory import Trajectory
from hcanalysis.progress import ProgressFn

FORMATS = ("lammps-dump", "lammps-bin", "lammps-data", "h5md", "ase", "mdanalysis")

_SUFFIXES = {
    ".dump": "lammps-dump",
    ".lammpstrj": "lammps-dump",
    ".lammpsdump": "lammps-dump",
    ".bin": "lammps-bin",
    ".data": "lammps-data",
    ".lmp": "lammps-data",
    ".h5": "h5md",
    ".h5md": "h5md",
    ".hdf5": "h5md",
    ".xyz": "ase",
    ".extxyz": "ase",
    ".exyz": "ase",
    ".traj": "ase",
}


def guess_format(path: str | os.PathLike) -> str:
    """The reader name for a file, from its suffix (``.gz`` is looked through)."""
    p = Path(path)
    suffixes = [s.lower() for s in p.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2"):
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in _SUFFIXES:
        return _SUFFIXES[suffixes[-1]]
    name = p.name.lower()
    if "dump" in name or "lammpstrj" in name:
        return "lammps-dump"
    return "mdanalysis"


def load(
    path: str | os.PathLike,
    format: str | None = None,
    *,
    topology: str | os.PathLike | None = None,
    dt_ps: float | None = None,
    type_map: Mapping[int, str] | None = None,
    overlap: str = "error",
    framework: str | os.PathLike | None = None,
    progress: ProgressFn | None = None,
) -> Trajectory:
    """Open a trajectory file lazily.

    Parameters
    ----------
    path : path-like
        The trajectory (or single-structure) file.
    format : str, optional
        One of :data:`FORMATS`; guessed from the file name when omitted.
    topology : path-like, optional
        A topology for formats without species (XTC, DCD: a LAMMPS data file, PDB, ...); for a
        LAMMPS dump it supplies elements by type via the data file's masses.
    dt_ps : float, optional
        For files that count MD steps (LAMMPS dumps, binary dumps): the MD time step in ps, so
        that time = step × dt_ps (default 0.001 ps, LAMMPS ``metal`` units, reported in the
        trajectory's ``notes``). For files without times: the time between frames, ps.
        Files that store times (H5MD, XTC) use their own unless this is given.
    type_map : mapping of int to str, optional
        LAMMPS type id -> element, e.g. ``{1: "C", 2: "Na"}``.
    overlap : {"error", "keep-last", "keep-first"}
        What to do when frame times go back to an earlier value (a restarted run whose dump
        repeats steps): refuse (default, the message says which frame), keep the later
        segment's frames, or drop the repeated ones (see :mod:`hcanalysis.io.validate`).
    framework : path-like, optional
        For a trajectory of the mobile ions only: a structure file (LAMMPS data, extxyz, ...;
        its first frame) whose atoms are added, at the same positions, to every frame (see
        :mod:`hcanalysis.io.framework`). A frame whose box differs from the file's cell is
        an error naming the frame. An H5MD file that stores a rigid framework once
        (``/particles/framework``, :func:`hcanalysis.io.h5md.write_static_framework`; the
        bundled sample) gets it joined the same way without this argument.
    progress : callable, optional
        ``progress(stage, done, total)`` (:class:`hcanalysis.progress.ProgressFn`) for the
        readers' indexing of large files ("indexing run.dump: MiB"); default the callback
        installed with :func:`hcanalysis.progress.use`, else none.

    Returns
    -------
    Trajectory

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    TrajectoryFormatError
        When the file is malformed, its times do not increase or a box has no positive
        volume; the message names the file, frame and line.
    """
    from hcanalysis.io.validate import check_dt_ps, validate_source

    if progress is not None:  # the readers report to the installed callback
        from hcanalysis.progress import use

        with use(progress):
            return load(path, format, topology=topology, dt_ps=dt_ps, type_map=type_map,
                        overlap=overlap, framework=framework)
    check_dt_ps(dt_ps)
    p = Path(path)
    if not p.exists():
        if p.is_symlink():
            raise FileNotFoundError(f"{p}: a symbolic link that leads nowhere (its target "
                                    f"{os.readlink(p)!r} is missing, or the links form a loop)")
        raise FileNotFoundError(f"{p}: no such file")
    fmt = (format or guess_format(p)).lower()
    if fmt not in FORMATS:
        raise TrajectoryFormatError(
            f"unknown format {format!r}; use one of {', '.join(FORMATS)}", path=p
        )
    tmap = dict(type_map) if type_map else None
    if fmt == "lammps-dump":
        from hcanalysis.io.lammps_dump import LammpsDumpSource

        src = LammpsDumpSource(p, dt_ps=dt_ps, type_map=tmap, topology=topology)
    elif fmt == "lammps-bin":
        from hcanalysis.io.lammps_bin import LammpsBinarySource

        src = LammpsBinarySource(p, dt_ps=dt_ps, type_map=tmap, topology=topology)
    elif fmt == "lammps-data":
        from hcanalysis.io.lammps_data import LammpsDataSource

        src = LammpsDataSource(p, type_map=tmap)
    elif fmt == "h5md":
        from hcanalysis.io.h5md import H5MDSource

        src = H5MDSource(p, dt_ps=dt_ps)
    elif fmt == "ase":
        from hcanalysis.io.ase_reader import AseSource

        src = AseSource(p, dt_ps=dt_ps)
    else:
        from hcanalysis.io.mda import MDAnalysisSource

        src = MDAnalysisSource(p, topology=topology, dt_ps=dt_ps, type_map=tmap)
    src = validate_source(src, overlap)
    if fmt == "h5md":
        from hcanalysis.io.h5md import FRAMEWORK_GROUP, read_static_framework

        static = read_static_framework(p)
        if static is not None:  # a rigid framework stored once in the file
            if framework is not None:
                raise TrajectoryFormatError(
                    f"the file stores its framework once (/particles/{FRAMEWORK_GROUP}); "
                    f"drop framework={str(framework)!r} (--framework)", path=p)
            from hcanalysis.io.framework import FrameworkSource

            src = FrameworkSource(src, *static, f"{p}:/particles/{FRAMEWORK_GROUP}")
    if framework is not None:
        from hcanalysis.io.framework import with_framework

        src = with_framework(src, framework, type_map=tmap)
    return Trajectory(src)


def write_h5md(traj: Trajectory, path: str | os.PathLike, select=None, **kwargs) -> Path:
    """Write a trajectory (or a selection of it) to H5MD; see :func:`hcanalysis.io.h5md.write`."""
    from hcanalysis.io.h5md import write

    return write(traj, path, select=select, **kwargs)


__all__ = ["FORMATS", "guess_format", "load", "write_h5md"]
