"""Pieces shared by the LAMMPS readers: boxes, column layouts, species, times, index caches."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hcanalysis.atomic import atomic_output
from hcanalysis.errors import TrajectoryFormatError
from hcanalysis.io.source import is_periodic

#: MD time step assumed when a dump counts steps and no ``dt_ps`` is given (LAMMPS ``metal``).
DEFAULT_DT_PS = 0.001

#: Frame indexes of files smaller than this are rebuilt at every open instead of being cached
#: (indexing them takes milliseconds; this keeps small files free of companion files).
INDEX_CACHE_MIN_BYTES = 1 << 20

#: Bump when the layout of the cached ``.hcaidx`` index changes.
INDEX_VERSION = 2  # 2: text-dump indexes store the boundary flags

#: Factor from a LAMMPS unit style's time unit to ps (``ITEM: UNITS`` / ``ITEM: TIME``).
TIME_UNIT_PS = {
    "metal": 1.0,
    "real": 1e-3,
    "electron": 1e-3,
    "si": 1e12,
    "cgs": 1e12,
    "micro": 1e6,
    "nano": 1e3,
}


# ---------------------------------------------------------------------------------- boxes
def box_from_bounds(
    bounds: np.ndarray, tilts: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Cell matrix and origin from a LAMMPS restricted-triclinic box.

    Parameters
    ----------
    bounds : (3, 2)
        ``[[xlo_bound, xhi_bound], [ylo_bound, yhi_bound], [zlo_bound, zhi_bound]]`` as a dump
        writes them. For a triclinic box these are the bounds of the bounding box, which
        include the tilts (LAMMPS ``Howto triclinic``).
    tilts : (3,), optional
        ``xy, xz, yz``; None (or zeros) for an orthogonal box.

    Returns
    -------
    H : (3, 3)
        Rows are the cell vectors ``a = (lx, 0, 0)``, ``b = (xy, ly, 0)``, ``c = (xz, yz, lz)``.
    origin : (3,)
        ``(xlo, ylo, zlo)``, the corner the cell vectors start from.
    """
    b = np.asarray(bounds, dtype=np.float64).reshape(3, 2)
    xy, xz, yz = (0.0, 0.0, 0.0) if tilts is None else (float(t) for t in tilts)
    xlo = b[0, 0] - min(0.0, xy, xz, xy + xz)
    xhi = b[0, 1] - max(0.0, xy, xz, xy + xz)
    ylo = b[1, 0] - min(0.0, yz)
    yhi = b[1, 1] - max(0.0, yz)
    zlo, zhi = b[2]
    h = np.array([[xhi - xlo, 0.0, 0.0], [xy, yhi - ylo, 0.0], [xz, yz, zhi - zlo]])
    return h, np.array([xlo, ylo, zlo])


def box_from_data_header(
    lo_hi: np.ndarray, tilts: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Cell matrix and origin from a data file's ``xlo xhi`` ... and ``xy xz yz`` lines (there
    the bounds are the cell's own, not a bounding box)."""
    lh = np.asarray(lo_hi, dtype=np.float64).reshape(3, 2)
    xy, xz, yz = (0.0, 0.0, 0.0) if tilts is None else (float(t) for t in tilts)
    lx, ly, lz = lh[:, 1] - lh[:, 0]
    h = np.array([[lx, 0.0, 0.0], [xy, ly, 0.0], [xz, yz, lz]])
    return h, lh[:, 0].copy()


# ---------------------------------------------------------------------------------- columns
#: Coordinate column kinds, in the order LAMMPS' own ``read_dump`` prefers them.
COORD_KINDS = {
    "x": ("x", "y", "z"),
    "xs": ("xs", "ys", "zs"),
    "xu": ("xu", "yu", "zu"),
    "xsu": ("xsu", "ysu", "zsu"),
}


@dataclass(frozen=True)
class ColumnLayout:
    """Which columns of ``ITEM: ATOMS ...`` hold what.

    Attributes
    ----------
    names : tuple of str
        All column names, in file order.
    kind : str
        ``"x"``, ``"xs"``, ``"xu"`` or ``"xsu"``: the coordinate columns used.
    pos, img, vel : tuple of int or None
        Column indices of the coordinates, image flags and velocities.
    id, type, element : int or None
        Column indices of the atom id, type and element name.
    """

    names: tuple[str, ...]
    kind: str
    pos: tuple[int, int, int]
    img: tuple[int, int, int] | None
    vel: tuple[int, int, int] | None
    id: int | None
    type: int | None
    element: int | None

    @property
    def scaled(self) -> bool:
        return self.kind in ("xs", "xsu")

    @property
    def unwrapped(self) -> bool:
        return self.kind in ("xu", "xsu")

    def numeric(self) -> list[int]:
        """Columns to parse as numbers, sorted: id, type, positions, images, velocities."""
        cols = set(self.pos)
        for c in (self.id, self.type):
            if c is not None:
                cols.add(c)
        for grp in (self.img, self.vel):
            if grp is not None:
                cols.update(grp)
        return sorted(cols)


def column_layout(names: Sequence[str], *, path: object = None, frame: int | None = None,
                  line: int | None = None) -> ColumnLayout:
    """Resolve the columns of an ``ITEM: ATOMS`` line (or a binary dump's column string).

    With image flags, wrapped coordinates are preferred (``x``, ``xs``, then ``xu``, ``xsu``), so
    the flags carry the unwrapping; without them unwrapped ones are (``xu``, ``xsu``, ``x``,
    ``xs``), so no continuity unwrapping is needed.

    Raises
    ------
    TrajectoryFormatError
        When no complete set of coordinate columns is present.
    """
    names = tuple(str(n) for n in names)
    idx = {n: i for i, n in enumerate(names)}

    def trio(cols: Sequence[str]) -> tuple[int, int, int] | None:
        return tuple(idx[c] for c in cols) if all(c in idx for c in cols) else None  # type: ignore[return-value]

    img = trio(("ix", "iy", "iz"))
    order = ["x", "xs", "xu", "xsu"] if img is not None else ["xu", "xsu", "x", "xs"]
    kind = next((k for k in order if trio(COORD_KINDS[k]) is not None), None)
    if kind is None:
        raise TrajectoryFormatError(
            f"unknown column layout 'ITEM: ATOMS {' '.join(names)}': no complete set of "
            "coordinate columns (x y z, xs ys zs, xu yu zu or xsu ysu zsu); re-dump with "
            "'dump custom ... id type x y z ix iy iz'",
            path=path, frame=frame, line=line,
        )
    return ColumnLayout(
        names=names,
        kind=kind,
        pos=trio(COORD_KINDS[kind]),  # type: ignore[arg-type]
        img=img,
        vel=trio(("vx", "vy", "vz")),
        id=idx.get("id"),
        type=idx.get("type"),
        element=idx.get("element"),
    )


def to_cartesian(coords: np.ndarray, kind: str, boxes: np.ndarray,
                 origins: np.ndarray) -> np.ndarray:
    """Cartesian positions from stored coordinates ``(n_frames, n_atoms, 3)``.

    Scaled coordinates become ``origin + s @ H`` (LAMMPS' definition, e.g.
    ``x = xlo + xs*lx + ys*xy + zs*xz``); Cartesian ones are returned as they are, so positions
    are in LAMMPS' own frame (the box spans ``origin .. origin + H``).
    """
    coords = np.asarray(coords, dtype=np.float64)
    if kind in ("xs", "xsu"):
        return np.einsum("fak,fkj->faj", coords, boxes) + origins[:, None, :]
    return coords


# ---------------------------------------------------------------------------------- species
def complete_type_map(
    tmap: dict[int, str],
    types: np.ndarray,
    notes: list[str],
    *,
    masses: Mapping[int, float] | None = None,
    source: object = None,
    path: object = None,
    lines: np.ndarray | None = None,
) -> dict[int, str]:
    """Name types whose mass matched no element by their type id (and say so in ``notes``).

    A type that has no mass at all in ``masses`` (the data file from ``source``) is an error:
    the data file is probably not the one of this run.
    """
    types = np.asarray(types)
    present = sorted(set(np.unique(types).tolist()))
    if masses is not None:
        absent = [t for t in present if t not in masses]
        if absent:
            t = absent[0]
            k = int(np.flatnonzero(types == t)[0])
            raise TrajectoryFormatError(
                f"atom type {t} has no mass in the Masses section of {source} (types "
                f"{', '.join(map(str, sorted(masses)))}), so its element is missing; is that "
                "the data file of this run? Or give the elements: --type-map 1:C,2:Na "
                "(Python: type_map={1: 'C', 2: 'Na'})",
                path=path, frame=0, line=None if lines is None else int(lines[k]),
            )
    missing = [t for t in present if t not in tmap]
    if missing:
        notes.append(
            f"type(s) {', '.join(map(str, missing))} match no element by mass and keep their "
            "type id as name; name them with --type-map 1:C,2:Na (Python: type_map=)"
        )
        tmap = {**tmap, **{int(t): str(t) for t in missing}}
    return tmap


def species_from_types(
    types: np.ndarray,
    type_map: Mapping[int, str] | None,
    *,
    path: object,
    frame: int = 0,
    lines: np.ndarray | None = None,
    notes: list[str] | None = None,
) -> np.ndarray:
    """Element per atom from LAMMPS type ids (``lines``: file line of each atom, for errors)."""
    types = np.asarray(types).astype(np.int64)
    if not type_map:
        if notes is not None:
            notes.append(
                "no elements in the file: species are LAMMPS type ids "
                f"({', '.join(map(str, np.unique(types)))}); give --type-map 1:C,2:Na or a data "
                "file as --topology (Python: type_map={1: 'C', 2: 'Na'}, topology=)"
            )
        return types.astype(str)
    missing = np.setdiff1d(np.unique(types), np.fromiter(type_map.keys(), dtype=np.int64))
    if missing.size:
        t = int(missing[0])
        k = int(np.flatnonzero(types == t)[0])
        line = None if lines is None else int(lines[k])
        raise TrajectoryFormatError(
            f"atom type {t} has no element in the type map ({dict(sorted(type_map.items()))}); "
            f"add it, e.g. --type-map ...,{t}:Na (Python: type_map={{..., {t}: 'Na'}})",
            path=path, frame=frame, line=line,
        )
    lut = np.empty(int(types.max()) + 1, dtype=object)
    for t, el in type_map.items():
        if 0 <= int(t) < lut.size:
            lut[int(t)] = el
    return lut[types].astype(str)


def time_axis(
    steps: np.ndarray,
    times: np.ndarray | None,
    units: str | None,
    dt_ps: float | None,
    notes: list[str],
) -> np.ndarray:
    """Frame times in ps: ``step * dt_ps``; the file's own ``ITEM: TIME`` (converted by its
    unit style) when present and no ``dt_ps`` is given; ``dt_ps`` defaults to 0.001 ps."""
    steps = np.asarray(steps, dtype=np.float64)
    if dt_ps is None and times is not None and np.all(np.isfinite(times)) and units:
        fac = TIME_UNIT_PS.get(units)
        if fac is not None:
            notes.append(f"times from the file's ITEM: TIME ({units} units)")
            return np.asarray(times, dtype=np.float64) * fac
    if dt_ps is None:
        notes.append(
            f"time step not given: assumed dt_ps={DEFAULT_DT_PS} ps (LAMMPS metal units); "
            "give --dt-ps (Python: dt_ps=) for other units or time steps"
        )
        dt_ps = DEFAULT_DT_PS
    return steps * float(dt_ps)


# ---------------------------------------------------------------------------------- index cache
def _stat_key(path: Path) -> tuple[int, int]:
    st = path.stat()
    return int(st.st_size), int(st.st_mtime_ns)


def index_paths(path: Path) -> list[Path]:
    """Where the index of ``path`` may be cached, in order of preference: ``$HCANALYSIS_INDEX_DIR``
    (if set), next to the file, then ``~/.cache/hcanalysis``."""
    path = Path(path).resolve()
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:16]
    name = f"{path.name}.{digest}.hcaidx"
    env = os.environ.get("HCANALYSIS_INDEX_DIR")
    out = [Path(env) / name] if env else []
    out.append(path.with_name(path.name + ".hcaidx"))
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hcanalysis"
    out.append(cache / name)
    return out


def load_index(path: Path, kind: str) -> dict[str, np.ndarray] | None:
    """A cached index of ``path`` if one matches the file's current size and mtime."""
    size, mtime = _stat_key(path)
    for p in index_paths(path):
        if not p.is_file():
            continue
        try:
            with np.load(p, allow_pickle=False) as z:
                d = {k: z[k] for k in z.files}
        except Exception:  # noqa: BLE001 - a corrupt cache is rebuilt
            continue
        if (
            int(d.get("_version", -1)) == INDEX_VERSION
            and str(d.get("_kind", "")) == kind
            and int(d.get("_size", -1)) == size
            and int(d.get("_mtime_ns", -1)) == mtime
        ):
            return d
    return None


def save_index(path: Path, kind: str, index: Mapping[str, np.ndarray]) -> Path | None:
    """Cache ``index`` for ``path`` (atomically); returns where, or None when no location is
    writable or the file is too small to bother."""
    size, mtime = _stat_key(path)
    if size < INDEX_CACHE_MIN_BYTES:
        return None
    data = dict(index)
    data.update(_version=INDEX_VERSION, _kind=kind, _size=size, _mtime_ns=mtime)
    for p in index_paths(path):
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(p) as tmp, open(tmp, "wb") as fh:
                np.savez(fh, **data)
            return p
        except OSError:
            continue
    return None


def check_image_range(img: np.ndarray, ids: np.ndarray, frames: np.ndarray, *, path,
                      lines: np.ndarray | None = None) -> None:
    """Image flags ``(n_frames, n_atoms, 3)`` (as read, before the int32 cast) must fit an
    int32: a silent wrap would move the atom by 2**32 boxes.

    Raises
    ------
    TrajectoryFormatError
        Naming the first frame and atom id whose flag does not fit.
    """
    limit = np.iinfo(np.int32).max
    if not img.size or np.abs(img).max() <= limit:
        return
    f, a = (int(x[0]) for x in np.nonzero(np.any(np.abs(img) > limit, axis=2)))
    _raise_at(f"image flag {tuple(int(x) for x in img[f, a])} of atom id {int(ids[a])} does "
              "not fit in 32 bits: the atom crossed the box more than 2 billion times, so the "
              "run blew up; use the frames before it", int(frames[f]), path, lines)


def check_types(types: np.ndarray, types0: np.ndarray, ids: np.ndarray, frames: np.ndarray,
                *, path, lines: np.ndarray | None = None) -> None:
    """Atom types ``(n_frames, n_atoms)`` (id order) must be those of frame 0, where each
    atom's species comes from.

    Raises
    ------
    TrajectoryFormatError
        Naming the first frame and atom id whose type changed.
    """
    changed = types != types0[None, :]
    if not changed.any():
        return
    f, a = (int(x[0]) for x in np.nonzero(changed))
    _raise_at(f"atom id {int(ids[a])} has type {int(types[f, a])} here but {int(types0[a])} in "
              "frame 0; hcanalysis takes each atom's species from frame 0: split the file where "
              "the types change (e.g. after a 'set type' or a fix that changes types)",
              int(frames[f]), path, lines)


def _raise_at(message: str, frame: int, path, lines: np.ndarray | None) -> None:
    """A TrajectoryFormatError at ``frame`` (and its first atom line when known)."""
    raise TrajectoryFormatError(message, path=path, frame=frame,
                                line=None if lines is None else int(lines[frame]))


def boundary_flags(header: bytes) -> str:
    """The boundary flags of an ``ITEM: BOX BOUNDS`` header (e.g. ``"pp pp ff"``); ``"pp pp
    pp"`` when the header (from old LAMMPS versions) has none."""
    flags = [w.decode() for w in header.split()[3:]
             if len(w) == 2 and all(c in b"pfsm" for c in w)]
    return " ".join(flags) if len(flags) == 3 else "pp pp pp"


def note_boundary(boundary: str, notes: list[str]) -> None:
    """Note a cell that is not periodic along every axis (see :func:`is_periodic`)."""
    if not is_periodic(boundary):
        notes.append(f"boundaries '{boundary}' are not periodic along every axis: positions "
                     "are read as written, but unwrapping (and every analysis that needs it) "
                     "refuses this file")

