"""LAMMPS data files (``read_data`` / ``write_data`` format): one frame, or a topology.

Read: the header (atom count, box bounds, tilts ``xy xz yz``, or the general-triclinic
``avec bvec cvec abc origin`` lines), ``Masses``, ``Atoms`` (styles ``atomic``, ``charge``,
``full``, ``molecular``/``bond``/``angle``; taken from the ``# style`` comment or, without one,
from the column count), image flags at the end of atom lines, and ``Velocities``. Elements come
from a ``type_map``, else from the masses (the guess is reported in ``notes``), else the type
ids are used as names.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hcanalysis.errors import TrajectoryFormatError
from hcanalysis.io.elements import guess_elements
from hcanalysis.io.lammps_common import (
    box_from_data_header,
    complete_type_map,
    species_from_types,
)
from hcanalysis.io.source import FrameBlock

#: Per-atom columns before the coordinates, by atom style: (names, index of x).
ATOM_STYLES = {
    "atomic": ("id type x y z", 2),
    "charge": ("id type q x y z", 3),
    "full": ("id molecule type q x y z", 4),
    "molecular": ("id molecule type x y z", 3),
    "bond": ("id molecule type x y z", 3),
    "angle": ("id molecule type x y z", 3),
}
#: Style assumed from the number of columns when the Atoms line has no ``# style`` comment.
STYLE_BY_NCOL = {5: "atomic", 8: "atomic", 6: "charge", 9: "charge", 7: "full", 10: "full"}

SECTIONS = {
    "Atoms", "Velocities", "Masses", "Ellipsoids", "Lines", "Triangles", "Bodies", "Bonds",
    "Angles", "Dihedrals", "Impropers", "Pair Coeffs", "PairIJ Coeffs", "Bond Coeffs",
    "Angle Coeffs", "Dihedral Coeffs", "Improper Coeffs", "BondBond Coeffs",
    "BondAngle Coeffs", "MiddleBondTorsion Coeffs", "EndBondTorsion Coeffs",
    "AngleTorsion Coeffs", "AngleAngleTorsion Coeffs", "BondBond13 Coeffs",
    "AngleAngle Coeffs", "Atom Type Labels", "Bond Type Labels", "Angle Type Labels",
    "Dihedral Type Labels", "Improper Type Labels",
}
_HEADER = re.compile(
    r"^\s*(?P<vals>[-+0-9.eE\s]+?)\s+(?P<key>atoms|atom types|xlo xhi|ylo yhi|zlo zhi|"
    r"xy xz yz|avec|bvec|cvec|abc origin)\s*$"
)


@dataclass
class DataFile:
    """The parsed content of a data file (atoms in id order)."""

    n_atoms: int
    box: np.ndarray  # (3, 3) rows are cell vectors
    origin: np.ndarray  # (3,)
    masses: dict[int, float]
    style: str
    ids: np.ndarray
    types: np.ndarray
    positions: np.ndarray  # (n, 3)
    images: np.ndarray | None
    velocities: np.ndarray | None
    atom_lines: np.ndarray  # file line of each atom
    type_labels: dict[str, int]
    notes: list[str]


def _read_lines(path: Path) -> list[str]:
    """Lines of a data file (``.gz`` and ``.bz2`` are decompressed)."""
    suf = path.suffix.lower()
    if suf in (".gz", ".bz2"):
        import bz2
        import gzip

        opener = gzip.open if suf == ".gz" else bz2.open
        with opener(path, "rt", errors="replace") as fh:
            return fh.read().splitlines()
    return path.read_text(errors="replace").splitlines()


def _sections(lines: list[str]) -> dict[str, tuple[int, str]]:
    """Start line index (of the header line) and its comment, per section."""
    out = {}
    for i, ln in enumerate(lines):
        body, _, comment = ln.partition("#")
        key = body.strip()
        if key in SECTIONS:
            out[key] = (i, comment.strip())
    return out


def _section_rows(lines: list[str], start: int, n: int, path, name: str):
    """The ``n`` non-blank lines after a section header at ``start``: (line numbers, text)."""
    rows, nums = [], []
    i = start + 1
    while len(rows) < n and i < len(lines):
        body = lines[i].split("#", 1)[0].strip()
        if body:
            if body in SECTIONS:
                break
            rows.append(body)
            nums.append(i + 1)
        i += 1
    if len(rows) < n:
        raise TrajectoryFormatError(
            f"the {name} section has {len(rows)} lines where the header says {n} atoms",
            path=path, line=start + 1,
        )
    return np.array(nums), rows


def resolve_type_map(
    type_map: Mapping[int, str] | None,
    topology: str | os.PathLike | None,
    notes: list[str],
) -> tuple[dict[int, str] | None, dict[int, float] | None]:
    """The type -> element map to use: ``type_map`` if given, else one guessed from the masses
    of a LAMMPS data file given as ``topology`` (the guess is added to ``notes``).

    Returns the map and the topology's masses (None without a topology)."""
    if type_map:
        return {int(k): str(v) for k, v in type_map.items()}, None
    if topology is None:
        return None, None
    masses = read_masses(topology)
    if not masses:
        raise TrajectoryFormatError(
            "the topology has no Masses section, so elements cannot be guessed; give "
            "--type-map 1:C,2:Na (Python: type_map={1: 'C', 2: 'Na'})",
            path=topology,
        )
    tmap, report = guess_elements(masses)
    notes.append(f"{report} (from {Path(topology).name})")
    return tmap, masses


def read_masses(path: str | os.PathLike) -> dict[int, float]:
    """The ``Masses`` section of a data file: ``{type: mass in amu}`` (empty when absent)."""
    lines = _read_lines(Path(path))
    secs = _sections(lines)
    if "Masses" not in secs:
        return {}
    labels = _type_labels(lines, secs)
    out: dict[int, float] = {}
    i = secs["Masses"][0] + 1
    while i < len(lines):
        body = lines[i].split("#", 1)[0].strip()
        i += 1
        if not body:
            if out:
                break
            continue
        if body in SECTIONS:
            break
        w = body.split()
        try:
            t = int(w[0]) if w[0].lstrip("-").isdigit() else labels[w[0]]
            out[t] = float(w[1])
        except (KeyError, IndexError, ValueError):
            raise TrajectoryFormatError(
                f"malformed Masses line {body!r}: expected 'type mass'", path=path, line=i
            ) from None
    return out


def _type_labels(lines: list[str], secs) -> dict[str, int]:
    if "Atom Type Labels" not in secs:
        return {}
    out = {}
    i = secs["Atom Type Labels"][0] + 1
    while i < len(lines):
        body = lines[i].split("#", 1)[0].strip()
        i += 1
        if not body:
            if out:
                break
            continue
        if body in SECTIONS:
            break
        w = body.split()
        out[w[1]] = int(w[0])
    return out


def read_data(path: str | os.PathLike) -> DataFile:
    """Parse a LAMMPS data file.

    Raises
    ------
    TrajectoryFormatError
        On a missing atom count, box or Atoms section, an unknown atom style, or a malformed or
        non-finite atom line; the message names the line.
    """
    path = Path(path)
    lines = _read_lines(path)
    secs = _sections(lines)
    first_sec = min((v[0] for v in secs.values()), default=len(lines))
    head: dict[str, tuple[list[float], int]] = {}
    for i in range(1, first_sec):
        m = _HEADER.match(lines[i].split("#", 1)[0])
        if m:
            try:
                vals = [float(v) for v in m["vals"].split()]
            except ValueError:
                raise TrajectoryFormatError(
                    f"malformed header line {lines[i].strip()!r}", path=path, line=i + 1
                ) from None
            head[m["key"]] = (vals, i + 1)
    notes: list[str] = []
    if "atoms" not in head:
        raise TrajectoryFormatError(
            "no 'N atoms' line in the header; is this a LAMMPS data file?", path=path
        )
    n = int(head["atoms"][0][0])
    if all(k in head for k in ("avec", "bvec", "cvec", "abc origin")):
        box = np.array([head[k][0][:3] for k in ("avec", "bvec", "cvec")])
        origin = np.array(head["abc origin"][0][:3])
    else:
        for key in ("xlo xhi", "ylo yhi", "zlo zhi"):
            if key not in head or len(head[key][0]) != 2:
                raise TrajectoryFormatError(
                    f"missing or malformed box line '{key}': the header needs "
                    "'xlo xhi', 'ylo yhi' and 'zlo zhi' lines",
                    path=path, line=head[key][1] if key in head else None,
                )
        tilts = head["xy xz yz"][0] if "xy xz yz" in head else None
        lohi = np.array([head[k][0] for k in ("xlo xhi", "ylo yhi", "zlo zhi")])
        box, origin = box_from_data_header(lohi, tilts)
    if np.linalg.det(box) <= 0 or not np.all(np.isfinite(box)):
        raise TrajectoryFormatError("the box has zero or negative volume", path=path,
                                    line=head.get("xlo xhi", ([], None))[1])
    if "Atoms" not in secs:
        raise TrajectoryFormatError("no Atoms section; cannot read positions", path=path)
    start, comment = secs["Atoms"]
    nums, rows = _section_rows(lines, start, n, path, "Atoms")
    labels = _type_labels(lines, secs)
    ncol = len(rows[0].split()) if rows else 5
    style = comment.split()[0] if comment else None
    if style not in ATOM_STYLES:
        style = STYLE_BY_NCOL.get(ncol)
        notes.append(f"atom style '{style}' assumed from {ncol} columns"
                     + (f" ('# {comment}' names no style)" if comment else ""))
    if style not in ATOM_STYLES:
        raise TrajectoryFormatError(
            f"unsupported atom style {style!r} ({ncol} columns); supported: "
            f"{', '.join(ATOM_STYLES)} (add '# atomic' etc. after 'Atoms')",
            path=path, line=start + 1,
        )
    names, ix = ATOM_STYLES[style]
    nbase = len(names.split())
    tcol = names.split().index("type")
    table = _parse_rows(rows, nums, nbase, tcol, labels, path)
    has_img = table.shape[1] >= nbase + 3
    ids = table[:, 0].astype(np.int64)
    order = np.argsort(ids, kind="stable")
    pos = table[order, ix : ix + 3]
    bad = ~np.isfinite(pos).all(axis=1)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise TrajectoryFormatError(
            f"non-finite coordinate for atom id {ids[order][k]}", path=path,
            line=int(nums[order][k]),
        )
    images = table[order, nbase : nbase + 3].astype(np.int32) if has_img else None
    vel = None
    if "Velocities" in secs:
        vnums, vrows = _section_rows(lines, secs["Velocities"][0], n, path, "Velocities")
        vt = _parse_rows(vrows, vnums, 4, None, {}, path)
        vmap = dict(zip(vt[:, 0].astype(np.int64), range(len(vt)), strict=True))
        try:
            vel = vt[[vmap[int(i)] for i in ids[order]], 1:4]
        except KeyError as e:
            raise TrajectoryFormatError(
                f"atom id {e.args[0]} has no line in the Velocities section", path=path,
                line=secs["Velocities"][0] + 1,
            ) from None
    return DataFile(
        n_atoms=n, box=box, origin=origin, masses=read_masses(path), style=style,
        ids=ids[order], types=table[order, tcol].astype(np.int64), positions=pos,
        images=images, velocities=vel, atom_lines=nums[order], type_labels=labels,
        notes=notes,
    )


def _parse_rows(rows, nums, nbase, tcol, labels, path) -> np.ndarray:
    """Numbers of the atom lines; type labels become type ids."""
    import pandas as pd

    text = "\n".join(rows) + "\n"
    try:
        df = pd.read_csv(io.StringIO(text), sep=r"\s+", header=None, engine="c",
                         dtype=str, na_filter=False)
    except pd.errors.ParserError:
        ncol = len(rows[0].split())
        k = next(i for i, r in enumerate(rows) if len(r.split()) != ncol)
        raise TrajectoryFormatError(
            f"{len(rows[k].split())} values where the first atom line has {ncol}: {rows[k]!r}",
            path=path, line=int(nums[k]),
        ) from None
    if tcol is not None and labels:
        df[tcol] = df[tcol].map(lambda s: str(labels.get(s, s)))
    try:
        return df.to_numpy(dtype=np.float64)
    except ValueError:
        for k, r in enumerate(rows):
            for w in r.split():
                try:
                    float(labels.get(w, w))
                except ValueError:
                    raise TrajectoryFormatError(
                        f"not a number: {w!r} in {r!r}", path=path, line=int(nums[k])
                    ) from None
        raise


class LammpsDataSource:
    """A LAMMPS data file as a one-frame :class:`~hcanalysis.io.source.FrameSource`.

    Parameters
    ----------
    path : path-like
        The data file.
    type_map : mapping int -> str, optional
        Element per type; default: guessed from ``Masses`` (reported in :attr:`notes`).
    """

    def __init__(self, path: str | os.PathLike, type_map: Mapping[int, str] | None = None,
                 dt_ps: float | None = None, topology=None) -> None:
        self.path = str(path)
        d = read_data(path)
        self.data = d
        self.notes = list(d.notes)
        tmap = {int(k): str(v) for k, v in type_map.items()} if type_map else None
        if tmap is None and d.masses:
            from hcanalysis.io.elements import guess_elements

            tmap, report = guess_elements(d.masses)
            self.notes.append(report)
            tmap = complete_type_map(tmap, d.types, self.notes, masses=d.masses,
                                     source="this file", path=path, lines=d.atom_lines)
        elif tmap is None and d.type_labels:
            from ase.data import chemical_symbols

            inv = {v: k for k, v in d.type_labels.items()}
            if all(inv.get(int(t)) in chemical_symbols for t in np.unique(d.types)):
                tmap = {int(t): inv[int(t)] for t in np.unique(d.types)}
                self.notes.append("elements from the Atom Type Labels section")
        self.species = species_from_types(d.types, tmap, path=self.path, frame=0,
                                          lines=d.atom_lines, notes=self.notes)
        self.n_frames = 1
        self.n_atoms = d.n_atoms
        self.ids = d.ids
        self.boxes = d.box[None]
        self.origins = d.origin[None]
        self.time_ps = np.zeros(1)
        self.has_images = d.images is not None
        self.has_velocities = d.velocities is not None
        self.coords_unwrapped = False

    def read(self, frames: np.ndarray, atoms: np.ndarray | None = None) -> FrameBlock:
        frames = np.asarray(frames, dtype=np.int64).ravel()
        if frames.size and (frames.min() < 0 or frames.max() > 0):
            raise IndexError("a data file has one frame (index 0)")
        sel = slice(None) if atoms is None else atoms
        nf = len(frames)
        d = self.data

        def rep(a):
            return None if a is None else np.repeat(a[sel][None], nf, axis=0)

        return FrameBlock(positions=rep(d.positions), images=rep(d.images),
                          velocities=rep(d.velocities))
