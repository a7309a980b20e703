"""The compiled number parser of text dumps against Python's float()."""

from __future__ import annotations

import numpy as np
import pytest

from hcanalysis.io._textparse import _P10, NOT_A_NUMBER, SHORT_LINE, parse_frames, parse_number


def _parse(s: str):
    b = np.frombuffer(s.encode(), np.uint8)
    return parse_number(b, 0, len(b), _P10)


def test_common_formats_are_exact(rng):
    vals = rng.normal(scale=30.0, size=3000)
    for fmt in ("{:.6f}", "{:.10g}", "{:g}", "{:.8e}", "{:.15g}", "{:d}"):
        for v in vals:
            s = fmt.format(int(v) if fmt == "{:d}" else v)
            got, ok = _parse(s)
            assert ok and got == float(s), s


def test_any_float_within_four_ulps(rng):
    vals = rng.normal(size=3000) * 10.0 ** rng.integers(-300, 300, 3000)
    for v in vals:
        for s in (repr(float(v)), f"{v:.16e}", f"{v:.3E}"):
            got, ok = _parse(s)
            assert ok and abs(got - float(s)) <= 4 * np.spacing(abs(float(s))), s


@pytest.mark.parametrize("s,expect", [("nan", np.nan), ("-nan", np.nan), ("NaN", np.nan),
                                      ("inf", np.inf), ("-inf", -np.inf),
                                      ("Infinity", np.inf), ("+4.5", 4.5), (".5", 0.5),
                                      ("5.", 5.0), ("-0", -0.0), ("1e5", 1e5),
                                      ("00012.500", 12.5), ("2.5E-3", 2.5e-3)])
def test_special_values(s, expect):
    got, ok = _parse(s)
    assert ok
    np.testing.assert_equal(got, expect)


@pytest.mark.parametrize("s", ["", "-", ".", "1.2.3", "abc", "1e", "--1", "1x", "e5", "1e5x",
                               "nanx", "0x10"])
def test_rejects_non_numbers(s):
    assert not _parse(s)[1]


def test_parse_frames_orders_rows_and_reports_errors():
    text = b"3 1 0.5\n1 2 1.5\n2 1 2.5\n"
    buf = np.frombuffer(text + text[::-1].strip()[::-1] + b"\n", np.uint8)
    lut = np.array([-1, 0, 1, 2])
    want = np.array([0, 1, 2])
    out, err = parse_frames(buf, [0], [len(text)], 3, want, 0, lut, 3)
    assert not err.any()
    np.testing.assert_array_equal(out[0], [[1, 2, 1.5], [2, 1, 2.5], [3, 1, 0.5]])
    bad = np.frombuffer(b"1 1 0.5\n2 1 x\n3 1 1\n", np.uint8)
    out, err = parse_frames(bad, [0], [len(bad)], 3, want, 0, lut, 3)
    assert tuple(err[0]) == (NOT_A_NUMBER, 1, 2)
    short = np.frombuffer(b"1 1 0.5\n2 1\n3 1 1\n", np.uint8)
    out, err = parse_frames(short, [0], [len(short)], 3, want, 0, lut, 3)
    assert tuple(err[0]) == (SHORT_LINE, 1, 2)
