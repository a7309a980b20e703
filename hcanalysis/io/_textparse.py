"""Compiled parser of whitespace-separated numeric text (the atom lines of LAMMPS dumps).

``parse_frames`` parses the atom lines of many frames at once, in parallel over frames,
straight from the bytes read from the file (no copy, no Python objects per number), in one
pass over the bytes, and puts each atom in its id-sorted row using a lookup table from atom id
to row. Numbers are converted
exactly (correctly rounded) when they have at most 15 significant digits and a decimal exponent
within ±22 (Clinger's fast path: an exact integer mantissa times or over an exact power of
ten); others are within a few ulps, far below any coordinate precision.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

#: Error codes returned per frame (0 = fine).
OK, SHORT_LINE, NOT_A_NUMBER, UNKNOWN_ID, DUPLICATE_ID, TOO_MANY_LINES = 0, 1, 2, 3, 4, 5

_P10 = np.array([10.0**k for k in range(23)])


@njit(cache=True, nogil=True)
def _special(buf, i, end, neg):
    """nan / inf (any case; ``inf`` or ``infinity``) at ``buf[i:end]``."""
    n = end - i
    c0 = np.int64(buf[i]) | 32
    if n == 3 and c0 == 110 and (np.int64(buf[i + 1]) | 32) == 97 \
            and (np.int64(buf[i + 2]) | 32) == 110:
        return np.nan, True
    if (n == 3 or n == 8) and c0 == 105 and (np.int64(buf[i + 1]) | 32) == 110 \
            and (np.int64(buf[i + 2]) | 32) == 102:
        return (-np.inf if neg else np.inf), True
    return 0.0, False


@njit(cache=True, nogil=True, inline="always")
def parse_number(buf, start, end, p10):
    """The float in ``buf[start:end]``; returns (value, ok)."""
    i = start
    neg = False
    if i >= end:
        return 0.0, False
    c = np.int64(buf[i])
    if c == 45 or c == 43:  # - +
        neg = c == 45
        i += 1
        if i >= end:
            return 0.0, False
        c = np.int64(buf[i])
    if c > 57:  # a letter: nan / inf
        return _special(buf, i, end, neg)
    mant = np.int64(0)
    exp10 = np.int64(0)
    seen = False
    while i < end:
        d = np.int64(buf[i]) - 48
        if d < 0 or d > 9:
            break
        seen = True
        if mant < 100000000000000000:
            mant = mant * 10 + d
        else:
            exp10 += 1
        i += 1
    if i < end and buf[i] == 46:  # .
        i += 1
        while i < end:
            d = np.int64(buf[i]) - 48
            if d < 0 or d > 9:
                break
            seen = True
            if mant < 100000000000000000:
                mant = mant * 10 + d
                exp10 -= 1
            i += 1
    if not seen:
        return 0.0, False
    if i < end:
        c = np.int64(buf[i]) | 32
        if c != 101:  # e
            return 0.0, False
        i += 1
        eneg = False
        if i < end and (buf[i] == 45 or buf[i] == 43):
            eneg = buf[i] == 45
            i += 1
        if i >= end:
            return 0.0, False
        e = np.int64(0)
        while i < end:
            d = np.int64(buf[i]) - 48
            if d < 0 or d > 9:
                return 0.0, False
            if e < 100000:
                e = e * 10 + d
            i += 1
        exp10 += -e if eneg else e
    v = float(mant)
    if mant < 9007199254740992 and -22 <= exp10 <= 22:
        v = v * p10[exp10] if exp10 >= 0 else v / p10[-exp10]
    elif exp10 > 0:
        v = v * math.pow(10.0, float(exp10))
    elif exp10 < 0:
        # split to avoid overflow of 10**-exp10 for subnormal-range exponents
        if exp10 < -300:
            v = v / 1e300
            exp10 += 300
        v = v / math.pow(10.0, float(-exp10))
    return (-v if neg else v), True


@njit(cache=True, nogil=True)
def _end_line(col, ncol, line, n_lines, id_col, row, lut, seen, out, f, err):
    """Store a finished line; returns the next line number, or -1 after recording an error."""
    if col == 0:
        return line  # blank line
    if col < ncol:
        err[f, 0] = SHORT_LINE
        err[f, 1] = line
        err[f, 2] = col
        return -1
    if line >= n_lines:
        err[f, 0] = TOO_MANY_LINES
        err[f, 1] = line
        return -1
    if id_col >= 0:
        aid = int(row[id_col])
        r = lut[aid] if 0 <= aid < lut.shape[0] else -1
        if r < 0:
            err[f, 0] = UNKNOWN_ID
            err[f, 1] = line
            err[f, 2] = aid
            return -1
        if seen[r]:
            err[f, 0] = DUPLICATE_ID
            err[f, 1] = line
            err[f, 2] = aid
            return -1
        seen[r] = 1
    else:
        r = line
    for k in range(row.shape[0]):
        out[f, r, k] = row[k]
    return line + 1


@njit(cache=True, nogil=True)
def _parse_frame(buf, start, end, n_lines, want, id_col, lut, out, f, err, p10):
    """Parse the lines of one frame in ``buf[start:end]`` into ``out[f]``. ``want[c]`` is the
    output column of file column ``c`` (-1: skip). Rows go to ``lut[id]`` when ``id_col >= 0``,
    else in file order. Records the first problem in ``err[f] = (code, line, column)``.

    One pass over the bytes: plain decimals (``-12.345``, ``7``) are accumulated as they are
    read; any other token (exponent, sign ``+``, nan, inf, too many digits, garbage) is
    handed to :func:`parse_number`.
    """
    ncol = want.shape[0]
    row = np.zeros(out.shape[2])
    seen = np.zeros(n_lines, np.uint8)
    line = 0
    col = 0
    mant = np.int64(0)
    ex = 0
    ndig = 0
    frac = False
    neg = False
    intok = False
    odd = False
    tstart = 0
    pos = start
    while pos <= end:
        c = np.int64(buf[pos]) if pos < end else np.int64(10)
        d = c - 48
        if 0 <= d <= 9:
            mant = mant * 10 + d
            ndig += 1
            if frac:
                ex -= 1
            if not intok:
                intok = True
                tstart = pos
        elif c == 32 or c == 10 or c == 9 or c == 13 or c == 11 or c == 12:
            if intok:
                w = want[col] if col < ncol else -1
                if w >= 0:
                    if odd or ndig == 0 or ndig > 18:
                        v, ok = parse_number(buf, tstart, pos, p10)
                        if not ok:
                            err[f, 0] = NOT_A_NUMBER
                            err[f, 1] = line
                            err[f, 2] = col
                            return
                    else:
                        v = float(mant)
                        v = v * p10[ex] if ex >= 0 else v / p10[-ex]
                        if neg:
                            v = -v
                    row[w] = v
                col += 1
                mant = 0
                ex = 0
                ndig = 0
                frac = False
                neg = False
                intok = False
                odd = False
            if c == 10:
                line = _end_line(col, ncol, line, n_lines, id_col, row, lut, seen, out, f, err)
                if line < 0:
                    return
                col = 0
        elif c == 46 and not frac:  # .
            frac = True
            if not intok:
                intok = True
                tstart = pos
        elif c == 45 and not intok:  # leading -
            neg = True
            intok = True
            tstart = pos
        else:
            odd = True
            if not intok:
                intok = True
                tstart = pos
        pos += 1
    if line < n_lines:
        err[f, 0] = SHORT_LINE
        err[f, 1] = line
        err[f, 2] = -1


@njit(cache=True, parallel=True, nogil=True)
def _parse_frames(buf, starts, ends, n_lines, want, id_col, lut, out, err, p10):
    for f in prange(starts.shape[0]):
        _parse_frame(buf, starts[f], ends[f], n_lines, want, id_col, lut, out, f, err, p10)


@njit(cache=True, parallel=True, nogil=True)
def _scatter(tmp, id_col, lut, out, err):
    """Rows of ``tmp`` (file order) to their id-sorted rows of ``out``, checking the ids."""
    for f in prange(tmp.shape[0]):
        if err[f, 0] != OK:
            continue
        seen = np.zeros(tmp.shape[1], np.uint8)
        for i in range(tmp.shape[1]):
            aid = int(tmp[f, i, id_col])
            r = lut[aid] if 0 <= aid < lut.shape[0] else -1
            if r < 0 or seen[r]:
                err[f, 0] = UNKNOWN_ID if r < 0 else DUPLICATE_ID
                err[f, 1] = i
                err[f, 2] = aid
                break
            seen[r] = 1
            for k in range(tmp.shape[2]):
                out[f, r, k] = tmp[f, i, k]


def parse_frames(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, n_lines: int,
                 want: np.ndarray, id_col: int, lut: np.ndarray, n_out: int):
    """Parse frames ``buf[starts[f]:ends[f]]`` (uint8) of ``n_lines`` atom lines each.

    Returns
    -------
    out : (n_frames, n_lines, n_out) float64
        Rows in id order (``lut[id]``, when ``id_col >= 0``; else file order), columns as
        chosen by ``want``.
    err : (n_frames, 3) int64
        ``(code, line within the frame, column or atom id)``; code 0 where the frame is fine.
    """
    nf = len(starts)
    out = np.empty((nf, n_lines, n_out))
    err = np.zeros((nf, 3), np.int64)
    # parsing in file order and moving rows afterwards is faster than scattered writes
    # while parsing
    _parse_frames(buf, np.asarray(starts, np.int64), np.asarray(ends, np.int64), n_lines,
                  np.asarray(want, np.int64), -1, np.zeros(0, np.int64), out, err, _P10)
    if id_col < 0:
        return out, err
    sorted_out = np.empty_like(out)
    _scatter(out, int(id_col), np.asarray(lut, np.int64), sorted_out, err)
    return sorted_out, err


@njit(cache=True, nogil=True)
def scan_block(buf, start, end):
    """Count newlines in ``buf[start:end]`` up to the first line that starts with ``ITEM:``.

    Returns ``(count, pos)``: ``pos`` is the offset of that ``ITEM:`` line (``count`` newlines
    precede it from ``start``), or -1 when none starts before ``end - 5`` (then ``count`` is
    the number of newlines in ``buf[start:end - 5]`` and scanning may resume there).
    """
    count = 0
    stop = end - 5
    i = start
    while i < stop:
        if buf[i] == 10:
            count += 1
            if buf[i + 1] == 73 and buf[i + 2] == 84 and buf[i + 3] == 69 \
                    and buf[i + 4] == 77 and buf[i + 5] == 58:
                return count, i + 1
        i += 1
    return count, -1
