"""LAMMPS text dumps (``dump custom`` / ``dump atom``, plain or ``.gz``), read lazily.

Opening a dump builds a *frame index* in one pass: for every frame the byte offsets of its
atom lines, its line number, time step and box. Atom lines are not parsed in that pass: one
compiled loop counts the newlines up to the next ``ITEM:`` line, over a memory map of a plain
file (no reads or copies) or over 32 MiB blocks of a decompressed stream, so indexing runs at
disk speed. Files of 1 MiB or more have their index cached next to
the file as ``<file>.hcaidx`` (an ``.npz``), keyed on the file's size and modification time, so
a second open is instant; when that directory is read-only the index goes to
``~/.cache/hcanalysis`` (``$HCANALYSIS_INDEX_DIR`` overrides both).

Reading frames seeks to their byte ranges and parses the numeric columns with a compiled
parser (:mod:`hcanalysis.io._textparse`), many frames at a time, in parallel over frames.
Atoms are returned sorted by ``id`` whatever their order in the file. For ``.gz`` (and
``.bz2``) files offsets are into the decompressed stream: reading forward is one decompression
pass, but going back to an earlier frame decompresses the file again from its start; convert
a compressed dump you analyse repeatedly (``hcanalysis convert``) or decompress it.
"""

from __future__ import annotations

import contextlib
import gzip
import mmap
import os
import re
import warnings
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from hcanalysis.errors import TrajectoryFormatError, TruncatedTrajectoryWarning
from hcanalysis.io._textparse import (
    DUPLICATE_ID,
    NOT_A_NUMBER,
    SHORT_LINE,
    TOO_MANY_LINES,
    UNKNOWN_ID,
    parse_frames,
    scan_block,
)
from hcanalysis.io.lammps_common import (
    ColumnLayout,
    boundary_flags,
    box_from_bounds,
    check_image_range,
    check_types,
    column_layout,
    complete_type_map,
    load_index,
    note_boundary,
    save_index,
    species_from_types,
    time_axis,
    to_cartesian,
)
from hcanalysis.io.lammps_data import resolve_type_map
from hcanalysis.io.source import FrameBlock
from hcanalysis.progress import Counter, ProgressFn
from hcanalysis.progress import null as null_progress
from hcanalysis.progress import resolve as resolve_progress

#: Bytes read per block while indexing.
SCAN_BLOCK = 32 << 20
#: Bytes kept before the scan position when a new block is read (for trailing-blank handling).
_KEEP = 1 << 16
#: Plain dumps larger than this show a progress bar while they are indexed.
PROGRESS_BYTES = 256 << 20
#: Mapped bytes scanned between two releases of their pages (see ``_release``).
_RELEASE = 64 << 20
#: Most bytes of atom lines read and parsed at once when reading frames.
PARSE_BATCH = 16 << 20

_INDEX_KIND = "lammps-dump"
_NONSPACE = re.compile(rb"\S")


def _open(path: Path):
    suf = path.suffix.lower()
    if suf == ".gz":
        return gzip.open(path, "rb")
    if suf == ".bz2":
        import bz2

        return bz2.open(path, "rb")
    return open(path, "rb")  # noqa: SIM115


def _compression_error(path: Path, exc: BaseException) -> str:
    """One line for a damaged or mislabelled compressed file."""
    text = str(exc)
    if "Not a gzipped file" in text:
        return (f"not a gzip file although its name ends in .gz ({text}); rename it without "
                ".gz if it is a plain dump")
    if "CRC check failed" in text or "Incorrect length" in text:
        return (f"the gzip stream is damaged ({text}): the file was corrupted after it was "
                "written; recompress it from the original, or read the frames before the "
                "damage with `gzip -dc FILE > plain.dump` and load that")
    kind = "bz2" if path.suffix.lower() == ".bz2" else "gzip"
    return f"the {kind} stream cannot be decompressed ({type(exc).__name__}: {text})"


class _Truncated(Exception):
    """End of file inside a frame."""


class _Scanner:
    """Line reader and atom-block skipper over a binary file, in large blocks."""

    def __init__(self, fh, path: Path) -> None:
        self.fh = fh
        self.path = path
        self.buf = b""
        self.base = 0  # absolute offset of buf[0]
        self.cur = 0  # position in buf
        self.line = 1  # 1-based line number at cur
        self.eof = False
        self.stream_note = ""  # why a compressed stream ended, when it ended early

    @property
    def pos(self) -> int:
        return self.base + self.cur

    def _fill(self, keep_from: int) -> bool:
        if self.eof:
            return False
        data = self._read_block()
        if not data:
            self.eof = True
            return False
        self.buf = self.buf[keep_from:] + data
        self.base += keep_from
        self.cur -= keep_from
        return True

    def _read_block(self) -> bytes:
        """Up to SCAN_BLOCK bytes of the (decompressed) file. A compressed stream cut short
        keeps what was decompressed before the cut, so that, as with a plain file cut short,
        the frame in progress is incomplete and the complete frames before it are used (with a
        warning); a damaged or mislabelled stream is an error."""
        parts: list[bytes] = []
        size = 0
        read1 = getattr(self.fh, "read1", None)
        try:
            if read1 is None:
                return self.fh.read(SCAN_BLOCK)
            while size < SCAN_BLOCK:
                piece = read1(SCAN_BLOCK - size)
                if not piece:
                    break
                parts.append(piece)
                size += len(piece)
        except EOFError:
            self.stream_note = "the compressed stream ends early (the file was cut short)"
        except (OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            raise TrajectoryFormatError(_compression_error(self.path, exc),
                                        path=self.path) from None
        return b"".join(parts)

    def at_end(self) -> bool:
        """True when nothing but whitespace is left."""
        while True:
            if _NONSPACE.search(self.buf, self.cur) is not None:
                return False
            if not self._fill(len(self.buf)):
                return True


    def readline(self) -> bytes:
        """The next line without its newline; raises _Truncated at end of file."""
        while True:
            j = self.buf.find(b"\n", self.cur)
            if j >= 0:
                out = self.buf[self.cur : j]
                self.cur = j + 1
                self.line += 1
                return out.rstrip(b"\r")
            if not self._fill(self.cur):
                raise _Truncated

    def skip_atoms(self, data_start: int) -> tuple[int, int, bool, bytes]:
        """Skip atom lines (starting at absolute offset ``data_start``) up to the next line
        starting with ``ITEM:`` or the end of file.

        Returns (number of lines, absolute end offset, at_eof, last line of the block if the
        file ends without a newline, else b""). Trailing blank lines at the end of the file are
        not counted.
        """
        count = 0
        while True:
            arr = np.frombuffer(self.buf, np.uint8)
            lo = max(self.cur - 1, 0)
            c, j = scan_block(arr, lo, len(self.buf))
            if lo < self.cur and arr[lo] == 10:
                c -= 1  # the newline before cur was counted with the header line
            if j >= 0:
                count += c
                self.cur = j
                self.line += count
                return count, self.pos, False, b""
            safe = max(self.cur, len(self.buf) - 5)
            count += c
            self.cur = safe
            if not self._fill(max(self.cur - _KEEP, 0)):
                buf = self.buf
                e = len(buf)
                lo = max(data_start - self.base, 0)
                while e > lo and buf[e - 1] in b" \t\r\n":
                    e -= 1
                ls = max(bytes(buf[lo:e]).rfind(b"\n") + 1 + lo, lo)
                tail = bytes(buf[ls:e])
                if ls > lo and tail and (tail.startswith(b"ITEM:") or b"ITEM:".startswith(tail)):
                    # the file was cut inside the next frame's first header line: that line
                    # is not an atom line; the scan stops before it (the caller then finds the
                    # header incomplete: a truncation, not a malformed atom line)
                    e = ls
                    while e > lo and buf[e - 1] in b" \t\r\n":
                        e -= 1
                    if e >= self.cur:
                        count += bytes(buf[self.cur : e]).count(b"\n") + 1
                    self.cur = ls
                    self.line += count
                    return count, self.base + e, False, b""
                if e >= self.cur:
                    count += bytes(buf[self.cur : e]).count(b"\n")
                else:  # trailing whitespace already counted
                    count -= bytes(buf[e : self.cur]).count(b"\n")
                last = b""
                if self.base + e > data_start:
                    count += 1  # the last line, its newline stripped
                    if bytes(buf[len(buf) - 1:]) != b"\n":  # the file ends inside a line
                        last = buf[buf.rfind(b"\n", 0, e) + 1 : e]
                self.cur = len(buf)
                self.line += count
                return count, self.base + e, True, last


@contextlib.contextmanager
def _scanner(path: Path):
    """A scanner over ``path``: a memory map of a plain file (no reads, no copies), or blocks
    read from a decompressing stream."""
    if path.suffix.lower() not in (".gz", ".bz2") and path.stat().st_size > 0:
        with open(path, "rb") as fh:
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            sc = _Scanner(None, path)
            sc.buf = mm
            sc.eof = True
            try:
                yield sc
            finally:
                sc.buf = b""
                try:
                    mm.close()
                except BufferError:  # a view is still alive (in a traceback): closed by GC
                    pass
        return
    with _open(path) as fh:
        yield _Scanner(fh, path)


def _release(sc: _Scanner, done: int) -> int:
    """Let the kernel drop mapped pages before the scan position from this process (they stay
    in the page cache), so indexing a large file does not grow the resident memory."""
    if isinstance(sc.buf, mmap.mmap) and sc.pos - done >= _RELEASE:
        upto = sc.pos // mmap.PAGESIZE * mmap.PAGESIZE
        if hasattr(sc.buf, "madvise") and hasattr(mmap, "MADV_DONTNEED") and upto > done:
            sc.buf.madvise(mmap.MADV_DONTNEED, done, upto - done)
            return upto
    return done


def _parse_box(header: bytes, lines: list[bytes], *, path, frame, line):
    """Cell matrix and origin from an ``ITEM: BOX BOUNDS`` header and its three lines."""
    words = header.split()[3:]
    general = b"abc" in words and b"origin" in words
    try:
        vals = [np.array(ln.split(), dtype=np.float64) for ln in lines]
    except ValueError:
        vals = None
    need = 4 if general else (3 if b"xy" in words else 2)
    if vals is None or any(v.size < need for v in vals):
        bad = next(
            (k for k, ln in enumerate(lines) if len(ln.split()) < need or not _floats(ln)), 0
        )
        raise TrajectoryFormatError(
            f"malformed box line {lines[bad].decode(errors='replace')!r}: expected {need} "
            f"numbers after '{header.decode(errors='replace')}'",
            path=path, frame=frame, line=line + 1 + bad,
        )
    v = np.array([x[:need] for x in vals])
    if not np.all(np.isfinite(v)):
        raise TrajectoryFormatError(
            "non-finite number in the box", path=path, frame=frame, line=line + 1
        )
    if general:
        h = v[:, :3].copy()
        origin = v[:, 3].copy()
    elif need == 3:
        h, origin = box_from_bounds(v[:, :2], v[:, 2])
    else:
        h, origin = box_from_bounds(v[:, :2])
    if np.linalg.det(h) <= 0:
        raise TrajectoryFormatError(
            "the box has zero or negative volume", path=path, frame=frame, line=line + 1
        )
    return h, origin


def _floats(line: bytes) -> bool:
    try:
        [float(x) for x in line.split()]
    except ValueError:
        return False
    return True


def build_index(path: Path, progress: ProgressFn | None = None) -> dict[str, np.ndarray]:
    """Scan a text dump once and return its frame index (see the module docstring).

    ``progress(stage, done, total)`` (MiB scanned; default the installed callback,
    :mod:`hcanalysis.progress`) is called for plain dumps over ``PROGRESS_BYTES``.

    Raises
    ------
    TrajectoryFormatError
        On a malformed header, box, a changing atom count or column layout, or a frame whose
        number of atom lines disagrees with its ``NUMBER OF ATOMS``.
    """
    starts, data0, data1, line0, steps, natoms, times, boxes, origins = ([] for _ in range(9))
    columns: bytes | None = None
    boundary = "pp pp pp"
    units = ""
    truncated = ""
    released = 0
    size = path.stat().st_size
    show = size > PROGRESS_BYTES and path.suffix.lower() not in (".gz", ".bz2")
    fn = resolve_progress(progress) if show else null_progress
    with _scanner(path) as sc, Counter(fn, f"indexing {path.name}: MiB", size >> 20) as count:
        shown = 0
        while not sc.at_end():
            released = _release(sc, released)
            if sc.pos - shown > (32 << 20):
                shown = sc.pos
                count.update(shown >> 20)
            k = len(starts)
            fstart, fline = sc.pos, sc.line
            try:
                ln = sc.readline()
                t = np.nan
                if ln.strip() == b"ITEM: UNITS":
                    units = sc.readline().strip().decode()
                    ln = sc.readline()
                if ln.strip() == b"ITEM: TIME":
                    t = _number(sc.readline(), float, path, k, sc.line - 1, "time")
                    ln = sc.readline()
                if ln.strip() != b"ITEM: TIMESTEP":
                    raise TrajectoryFormatError(
                        f"expected 'ITEM: TIMESTEP', found {ln[:60].decode(errors='replace')!r}"
                        "; is this a LAMMPS text dump (binary dumps end in .bin)?",
                        path=path, frame=k, line=sc.line - 1,
                    )
                step = _number(sc.readline(), int, path, k, sc.line - 1, "time step")
                ln = sc.readline()
                if ln.strip() != b"ITEM: NUMBER OF ATOMS":
                    raise TrajectoryFormatError(
                        "expected 'ITEM: NUMBER OF ATOMS', found "
                        f"{ln[:60].decode(errors='replace')!r}",
                        path=path, frame=k, line=sc.line - 1,
                    )
                n = _number(sc.readline(), int, path, k, sc.line - 1, "number of atoms")
                nline = sc.line - 1
                if n <= 0:
                    raise TrajectoryFormatError(
                        f"'ITEM: NUMBER OF ATOMS' is {n}: the frame has no atoms (was the dump "
                        "group empty?); dump a group that holds the atoms to analyse",
                        path=path, frame=k, line=nline,
                    )
                ln = sc.readline()
                if not ln.startswith(b"ITEM: BOX BOUNDS"):
                    raise TrajectoryFormatError(
                        f"missing box: expected 'ITEM: BOX BOUNDS', found "
                        f"{ln[:60].decode(errors='replace')!r}",
                        path=path, frame=k, line=sc.line - 1,
                    )
                bline = sc.line - 1
                bheader = ln
                blines = [sc.readline(), sc.readline(), sc.readline()]
                ln = sc.readline()
                if not ln.startswith(b"ITEM: ATOMS"):
                    raise TrajectoryFormatError(
                        f"malformed box: expected 3 box lines then 'ITEM: ATOMS', found "
                        f"{ln[:60].decode(errors='replace')!r}",
                        path=path, frame=k, line=sc.line - 1,
                    )
                h, origin = _parse_box(bheader, blines, path=path, frame=k, line=bline)
                if not starts:
                    boundary = boundary_flags(bheader)
                cols = ln[len(b"ITEM: ATOMS") :].strip()
                cline = sc.line - 1
                dstart = sc.pos
                count, end, eof, last = sc.skip_atoms(dstart)
            except _Truncated:
                truncated = f"frame {k} (line {fline}) is incomplete (file ends in its header)"
                if sc.stream_note:
                    truncated += f"; {sc.stream_note}"
                break
            if columns is None:
                columns = cols
            elif cols != columns:
                raise TrajectoryFormatError(
                    f"the columns change from 'ITEM: ATOMS {columns.decode()}' to "
                    f"'ITEM: ATOMS {cols.decode()}'; split the file where the dump changed",
                    path=path, frame=k, line=cline,
                )
            if natoms and n != natoms[0]:
                raise TrajectoryFormatError(
                    f"the atom count changes from {natoms[0]} (frame 0) to {n}; hcanalysis needs "
                    "the same atoms in every frame (dump all atoms, or split the file)",
                    path=path, frame=k, line=nline,
                )
            if last and len(last.split()) < len(cols.split()):
                count -= 1  # the file ends inside an atom line
            if count != n:
                if eof and count < n:
                    truncated = (
                        f"frame {k} (line {fline}) is incomplete: {count} of {n} atom lines"
                    )
                    if sc.stream_note:
                        truncated += f"; {sc.stream_note}"
                    break
                raise TrajectoryFormatError(
                    f"{count} atom lines where 'ITEM: NUMBER OF ATOMS' (line {nline}) says {n}; "
                    "the file is corrupt here (was it written by two runs at once?)",
                    path=path, frame=k, line=cline + 1,
                )
            starts.append(fstart)
            data0.append(dstart)
            data1.append(end)
            line0.append(cline + 1)
            steps.append(step)
            natoms.append(n)
            times.append(t)
            boxes.append(h)
            origins.append(origin)
    if not starts:
        raise TrajectoryFormatError(
            "no complete frame in the file" + (f" ({truncated})" if truncated else ""),
            path=path,
        )
    return {
        "frame_start": np.asarray(starts, dtype=np.int64),
        "data_start": np.asarray(data0, dtype=np.int64),
        "data_end": np.asarray(data1, dtype=np.int64),
        "data_line": np.asarray(line0, dtype=np.int64),
        "step": np.asarray(steps, dtype=np.int64),
        "n_atoms": np.asarray(natoms, dtype=np.int64),
        "time": np.asarray(times, dtype=np.float64),
        "boxes": np.asarray(boxes, dtype=np.float64).reshape(-1, 3, 3),
        "origins": np.asarray(origins, dtype=np.float64).reshape(-1, 3),
        "columns": np.array((columns or b"").decode()),
        "units": np.array(units),
        "truncated": np.array(truncated),
        "boundary": np.array(boundary),
    }


def _number(line: bytes, typ, path, frame, lineno, what):
    try:
        return typ(line.strip())
    except ValueError:
        raise TrajectoryFormatError(
            f"expected the {what}, found {line[:60].decode(errors='replace')!r}",
            path=path, frame=frame, line=lineno,
        ) from None


def open_index(path: Path) -> dict[str, np.ndarray]:
    """The frame index of ``path``: from the cache when it matches the file, else built (and
    cached)."""
    idx = load_index(path, _INDEX_KIND)
    if idx is None:
        idx = build_index(path)
        idx.update(_first_frame_tables(path, idx))
        save_index(path, _INDEX_KIND, idx)
    return idx


def _first_frame_tables(path: Path, idx: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """ids, types and element names of frame 0, in id order (stored with the index)."""
    names = str(idx["columns"]).split()
    layout = column_layout(names, path=path, frame=0, line=int(idx["data_line"][0]) - 1)
    raw = _read_range(path, int(idx["data_start"][0]), int(idx["data_end"][0]))
    n = int(idx["n_atoms"][0])
    line0 = int(idx["data_line"][0])
    cols = [c for c in (layout.id, layout.type) if c is not None]
    out: dict[str, np.ndarray] = {}
    if cols:
        want = np.full(len(names), -1, np.int64)
        want[cols] = np.arange(len(cols))
        buf = np.frombuffer(raw, np.uint8)
        tab, err = parse_frames(buf, [0], [len(buf)], n, want, -1, np.zeros(1, np.int64),
                                len(cols))
        if err[0, 0]:
            _locate_bad_line(raw, layout, path, 0, line0)
            raise TrajectoryFormatError("malformed atom line", path=path, frame=0,
                                        line=line0 + int(err[0, 1]))
        tab = tab[0]
    ids = (tab[:, 0].astype(np.int64) if layout.id is not None
           else np.arange(1, n + 1, dtype=np.int64))
    order = np.argsort(ids, kind="stable")
    if np.any(np.diff(ids[order]) == 0):
        dup = int(ids[order][np.flatnonzero(np.diff(ids[order]) == 0)[0]])
        k = int(np.flatnonzero(ids == dup)[1])
        raise TrajectoryFormatError(
            f"atom id {dup} appears twice; each atom needs a unique id",
            path=path, frame=0, line=line0 + k,
        )
    out["ids"] = ids[order]
    out["lines0"] = (line0 + order).astype(np.int64)
    if layout.type is not None:
        out["types"] = tab[order, cols.index(layout.type)].astype(np.int64)
    if layout.element is not None:
        words = raw.split()
        if len(words) < n * len(names):
            _locate_bad_line(raw, layout, path, 0, line0)
        el = np.array(words[layout.element :: len(names)][:n]).astype(str)
        out["elements"] = el[order]
    return out


def _read_range(path: Path, start: int, end: int) -> bytes:
    with _open(path) as fh:
        fh.seek(start)
        return fh.read(end - start)


def _locate_bad_line(raw: bytes, layout: ColumnLayout, path, frame: int, line0: int,
                     frame_of=None) -> None:
    """Find the first atom line that is short or has a non-number in a numeric column and raise
    a TrajectoryFormatError naming it (slow path, only after a parse failure)."""
    numeric = layout.numeric()
    ncol = len(layout.names)
    for k, ln in enumerate(raw.split(b"\n")):
        words = ln.split()
        if not words and k == len(raw.split(b"\n")) - 1:
            break
        fr, lineno = (frame, line0 + k) if frame_of is None else frame_of(k)
        if len(words) < ncol:
            raise TrajectoryFormatError(
                f"{len(words)} values where 'ITEM: ATOMS' names {ncol} columns: "
                f"{ln[:80].decode(errors='replace')!r}",
                path=path, frame=fr, line=lineno,
            )
        for c in numeric:
            try:
                float(words[c])
            except ValueError:
                raise TrajectoryFormatError(
                    f"column '{layout.names[c]}' is not a number: "
                    f"{words[c][:30].decode(errors='replace')!r}",
                    path=path, frame=fr, line=lineno,
                ) from None


class LammpsDumpSource:
    """A LAMMPS text dump as a :class:`~hcanalysis.io.source.FrameSource`.

    Parameters
    ----------
    path : path-like
        ``*.dump``, ``*.lammpstrj`` (optionally ``.gz``).
    dt_ps : float, optional
        MD time step, ps: time = step × dt_ps. Default: the file's ``ITEM: TIME`` when it has
        one, else 0.001 ps (LAMMPS ``metal``; noted in :attr:`notes`).
    type_map : mapping int -> str, optional
        Element per LAMMPS type (takes precedence over an ``element`` column).
    topology : path-like, optional
        A LAMMPS data file whose ``Masses`` give the elements (guess noted in :attr:`notes`).

    Notes
    -----
    Positions are Cartesian in LAMMPS' own frame: unscaled columns as written, scaled ones
    converted as ``origin + s @ H``. The box origin of each frame is in :attr:`origins`. Image
    flags (``ix iy iz``) are returned as they are; wrapped columns are preferred over unwrapped
    ones when image flags are present (the flags then carry the unwrapping), unwrapped ones
    otherwise.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        dt_ps: float | None = None,
        type_map: Mapping[int, str] | None = None,
        topology: str | os.PathLike | None = None,
    ) -> None:
        self.path = str(path)
        self._path = Path(path)
        self.notes: list[str] = []
        idx = open_index(self._path)
        self._idx = idx
        trunc = str(idx["truncated"])
        if trunc:
            msg = (f"{self.path}: {trunc}; using the {len(idx['step'])} complete frames "
                   "before it")
            warnings.warn(msg, TruncatedTrajectoryWarning, stacklevel=3)
            self.notes.append(f"truncated: {trunc}; the complete frames before it are used")
        self.layout = column_layout(str(idx["columns"]).split(), path=self.path, frame=0,
                                    line=int(idx["data_line"][0]) - 1)
        self.n_frames = int(len(idx["step"]))
        self.n_atoms = int(idx["n_atoms"][0])
        self.steps = idx["step"]
        self.boxes = idx["boxes"]
        self.origins = idx["origins"]
        self.units = str(idx["units"]) or None
        self.boundary = str(idx["boundary"])
        note_boundary(self.boundary, self.notes)
        self.ids = idx["ids"]
        self.has_images = self.layout.img is not None
        self.has_velocities = self.layout.vel is not None
        self.coords_unwrapped = self.layout.unwrapped
        if self.layout.id is None:
            self.notes.append("no id column: atoms are in file order, assumed the same in "
                              "every frame")
        self.species = self._species(type_map, topology)
        self.time_ps = time_axis(self.steps, idx["time"], self.units, dt_ps, self.notes)
        self._fh = None
        self._lut: np.ndarray | None = None
        self._compressed = self._path.suffix.lower() in (".gz", ".bz2")

    # ------------------------------------------------------------------ metadata
    def _species(self, type_map, topology) -> np.ndarray:
        idx = self._idx
        tmap, masses = resolve_type_map(type_map, topology, self.notes)
        if tmap is not None and not type_map and "types" in idx:
            tmap = complete_type_map(tmap, idx["types"], self.notes, masses=masses,
                                     source=topology, path=self.path, lines=idx.get("lines0"))
        if "types" in idx and (tmap or "elements" not in idx):
            return species_from_types(idx["types"], tmap, path=self.path, frame=0,
                                      lines=idx.get("lines0"), notes=self.notes)
        if "elements" in idx:
            return np.asarray(idx["elements"]).astype(str)
        self.notes.append("no 'type' or 'element' column: every atom is named 'X' (re-dump "
                          "with 'dump custom ... id type x y z' to tell species apart)")
        return np.full(self.n_atoms, "X")

    # ------------------------------------------------------------------ data
    def _handle(self):
        if self._fh is None:
            self._fh = _open(self._path)
        return self._fh

    def _read_bytes(self, start: int, end: int) -> bytes:
        fh = self._handle()
        if self._compressed and start < fh.tell():
            fh.close()  # gzip cannot seek back cheaply: reopen and decompress again
            self._fh = fh = _open(self._path)
        fh.seek(start)
        return fh.read(end - start)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_fh"] = None  # file handles are reopened in each process (Dask, multiprocessing)
        return state

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass

    def read(self, frames: np.ndarray, atoms: np.ndarray | None = None) -> FrameBlock:
        """Positions (Å, Cartesian), image flags and velocities of ``frames`` (sorted by atom
        id), for ``atoms`` (indices into the id-sorted atoms; None = all)."""
        frames = np.asarray(frames, dtype=np.int64).ravel()
        n_sel = self.n_atoms if atoms is None else len(atoms)
        nf = len(frames)
        pos = np.empty((nf, n_sel, 3))
        img = np.empty((nf, n_sel, 3), np.int32) if self.has_images else None
        vel = np.empty((nf, n_sel, 3)) if self.has_velocities else None
        s0, s1 = self._idx["data_start"], self._idx["data_end"]
        lo = 0
        while lo < nf:
            # a batch: up to PARSE_BATCH bytes of frames
            hi, size = lo, 0
            while hi < nf and (hi == lo or size + s1[frames[hi]] - s0[frames[hi]] <= PARSE_BATCH):
                size += int(s1[frames[hi]] - s0[frames[hi]])
                hi += 1
            batch = frames[lo:hi]
            p, i, v = self._parse_batch(batch)
            sel = slice(None) if atoms is None else atoms
            pos[lo:hi] = to_cartesian(p[:, sel], self.layout.kind, self.boxes[batch],
                                      self.origins[batch])
            if img is not None:
                img[lo:hi] = i[:, sel]
            if vel is not None:
                vel[lo:hi] = v[:, sel]
            lo = hi
        return FrameBlock(positions=pos, images=img, velocities=vel)

    def _lookup(self) -> tuple[int, np.ndarray]:
        """(id column in the parsed table or -1, id -> row table)."""
        if self._lut is None:
            ids = self.ids
            if self.layout.id is not None and ids.size and ids.max() < 4 * ids.size + (1 << 20):
                lut = np.full(int(ids.max()) + 1, -1, np.int64)
                lut[ids] = np.arange(ids.size)
                self._lut = lut
            else:
                self._lut = np.zeros(0, np.int64)
        return (0 if self._lut.size else -1), self._lut

    def _parse_batch(self, batch: np.ndarray):
        """Parse frames ``batch``: positions as stored, images, velocities (id order)."""
        lay = self.layout
        s0, s1 = self._idx["data_start"], self._idx["data_end"]
        dline = self._idx["data_line"]
        n = self.n_atoms
        groups = [g for g in (lay.pos, lay.img, lay.vel) if g is not None]
        types0 = self._idx.get("types") if lay.type is not None else None
        cols = ([lay.id] if lay.id is not None else []) + [c for g in groups for c in g]
        if types0 is not None:
            cols.append(lay.type)  # checked against frame 0: species come from frame 0
        want = np.full(len(lay.names), -1, np.int64)
        want[cols] = np.arange(len(cols))
        id_out, lut = self._lookup()
        table = None
        k = 0
        while k < len(batch):  # runs of consecutive frames are read in one go
            j = k
            while j + 1 < len(batch) and batch[j + 1] == batch[j] + 1:
                j += 1
            base = int(s0[batch[k]])
            raw = self._read_bytes(base, int(s1[batch[j]]))
            buf = np.frombuffer(raw, np.uint8)
            run = batch[k : j + 1]
            out, err = parse_frames(buf, s0[run] - base, s1[run] - base, n, want, id_out, lut,
                                    len(cols))
            bad = np.flatnonzero(err[:, 0])
            if bad.size:
                b = int(bad[0])
                f = int(run[b])
                self._raise_parse_error(raw[int(s0[f]) - base : int(s1[f]) - base], f,
                                        err[b])
            if k == 0 and j == len(batch) - 1:
                table = out  # one run of frames: no copy
            else:
                if table is None:
                    table = np.empty((len(batch), n, len(cols)))
                table[k : j + 1] = out
            k = j + 1
        if lay.id is not None and id_out < 0:  # sparse ids: sort in numpy
            order = np.argsort(table[:, :, 0], axis=1, kind="stable")
            table = np.take_along_axis(table, order[:, :, None], axis=1)
            srt = table[:, :, 0].astype(np.int64)
            bad = np.flatnonzero(np.any(srt != self.ids[None, :], axis=1))
            if bad.size:
                f = int(bad[0])
                a = int(np.flatnonzero(srt[f] != self.ids)[0])
                raise TrajectoryFormatError(
                    f"the atom ids differ from frame 0 (id {int(srt[f][a])} where frame 0 has "
                    f"{int(self.ids[a])}); hcanalysis needs the same atoms in every frame",
                    path=self.path, frame=int(batch[f]), line=int(dline[batch[f]]),
                )
        c = 1 if lay.id is not None else 0
        p = table[:, :, c : c + 3]
        if not np.isfinite(p.sum()):  # cheap test first; coordinates never overflow a sum
            fin = np.isfinite(p).all(axis=2)
            f, a = (int(x[0]) for x in np.nonzero(~fin))
            aid = int(self.ids[a]) if lay.id is not None else a + 1
            fr = int(batch[f])
            raw = self._read_bytes(int(s0[fr]), int(s1[fr]))
            _locate_bad_line(raw, lay, self.path, fr, int(dline[fr]))
            row = a
            if lay.id is not None:
                ids = [int(float(ln.split()[lay.id])) for ln in raw.splitlines() if ln.strip()]
                row = ids.index(aid)
            raise TrajectoryFormatError(
                f"non-finite coordinate {tuple(float(x) for x in p[f, a])} for atom id {aid}; "
                f"the simulation blew up here: use the frames before it (frames=slice(0, {fr}))",
                path=self.path, frame=fr, line=int(dline[fr]) + row,
            )
        c += 3
        i = None
        if lay.img is not None:
            i = table[:, :, c : c + 3]  # exact integers; cast when copied out
            c += 3
            check_image_range(i, self._atom_ids(), batch, path=self.path,
                              lines=self._idx["data_line"])
        v = table[:, :, c : c + 3] if lay.vel is not None else None
        if types0 is not None:
            check_types(table[:, :, -1], types0, self._atom_ids(), batch, path=self.path,
                        lines=self._idx["data_line"])
        return p, i, v

    def _atom_ids(self) -> np.ndarray:
        """Atom ids in the order of the parsed table (file order when there is no id
        column)."""
        return self.ids if self.layout.id is not None else np.arange(1, self.n_atoms + 1)

    def _raise_parse_error(self, raw: bytes, f: int, err: np.ndarray) -> None:
        code, line, extra = (int(x) for x in err)
        line0 = int(self._idx["data_line"][f])
        if code in (SHORT_LINE, NOT_A_NUMBER):
            _locate_bad_line(raw, self.layout, self.path, f, line0)
        if code == UNKNOWN_ID:
            msg = (f"the atom ids differ from frame 0 (atom id {extra} is not in frame 0); "
                   "hcanalysis needs the same atoms in every frame")
        elif code == DUPLICATE_ID:
            msg = f"atom id {extra} appears twice; each atom needs a unique id"
        elif code == TOO_MANY_LINES:
            msg = (f"more than {self.n_atoms} atom lines; the file changed since it was "
                   "indexed? delete its .hcaidx file")
        else:
            msg = (f"fewer than {self.n_atoms} atom lines; the file changed since it was "
                   "indexed? delete its .hcaidx file")
        raise TrajectoryFormatError(msg, path=self.path, frame=f, line=line0 + line)
