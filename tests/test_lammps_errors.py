"""Bad LAMMPS input: each problem gives a one-line message naming file, frame and line."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import hcanalysis as hc
from hcanalysis.errors import TrajectoryFormatError, TruncatedTrajectoryWarning

TMAP = {1: "C", 2: "Na"}


def frame(step, n=4, *, box="ITEM: BOX BOUNDS pp pp pp\n0 10\n0 10\n0 10\n",
          cols="id type x y z", rows=None):
    rows = rows if rows is not None else [
        f"{i} {1 + i % 2} {i}.5 {i}.25 {i}.125" for i in range(1, n + 1)
    ]
    return (f"ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n{n}\n{box}ITEM: ATOMS {cols}\n"
            + "".join(r + "\n" for r in rows))


def write(tmp_path, text, name="bad.dump"):
    p = tmp_path / name
    p.write_text(text)
    return p


def one_line(exc) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_truncated_last_frame_keeps_complete_frames(tmp_path):
    text = frame(0) + frame(100) + frame(200)[:-30]  # cut inside the last atom lines
    p = write(tmp_path, text)
    with pytest.warns(TruncatedTrajectoryWarning, match=r"frame 2 \(line 27\) is incomplete: "
                      r"\d of 4 atom lines; using the 2 complete frames"):
        tr = hc.load(p, type_map=TMAP)
    assert tr.n_frames == 2
    np.testing.assert_allclose(tr.positions()[1, 0], [1.5, 1.25, 1.125])
    assert any(n.startswith("truncated: frame 2") for n in tr.notes)


def test_truncated_inside_header_and_inside_a_line(tmp_path):
    p = write(tmp_path, frame(0) + "ITEM: TIMESTEP\n100\nITEM: NUMB")
    with pytest.warns(TruncatedTrajectoryWarning, match="file ends in its header"):
        assert hc.load(p, type_map=TMAP).n_frames == 1
    # the file ends in the middle of the last atom line (no newline): incomplete
    p = write(tmp_path, frame(0) + frame(1).rstrip("\n")[:-7], "cut.dump")
    with pytest.warns(TruncatedTrajectoryWarning, match="3 of 4 atom lines"):
        assert hc.load(p, type_map=TMAP).n_frames == 1
    # a complete last line without its newline is fine
    p = write(tmp_path, frame(0) + frame(1).rstrip("\n"), "nonl.dump")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert hc.load(p, type_map=TMAP).n_frames == 2


def test_no_complete_frame(tmp_path):
    p = write(tmp_path, frame(0)[:-20])
    with pytest.raises(TrajectoryFormatError, match=r"bad.dump: no complete frame in the file "
                       r"\(frame 0 \(line 1\) is incomplete"):
        hc.load(p, type_map=TMAP)


def test_atom_count_changes(tmp_path):
    p = write(tmp_path, frame(0) + frame(1, n=3))
    with pytest.raises(TrajectoryFormatError) as e:
        hc.load(p, type_map=TMAP)
    assert re.fullmatch(r".*bad\.dump, frame 1, line 17: the atom count changes from 4 \(frame "
                        r"0\) to 3; hcanalysis needs the same atoms in every frame.*", one_line(e))


def test_atom_lines_disagree_with_count(tmp_path):
    rows = [f"{i} 1 0 0 0" for i in range(1, 6)]
    p = write(tmp_path, frame(0, rows=rows) + frame(1))
    with pytest.raises(TrajectoryFormatError,
                       match=r"frame 0, line 10: 5 atom lines where 'ITEM: NUMBER OF ATOMS' "
                             r"\(line 4\) says 4; the file is corrupt"):
        hc.load(p, type_map=TMAP)


def test_missing_box(tmp_path):
    p = write(tmp_path, frame(0) + frame(1, box=""))
    with pytest.raises(TrajectoryFormatError,
                       match=r"frame 1, line 18: missing box: expected 'ITEM: BOX BOUNDS', "
                             r"found 'ITEM: ATOMS id type x y z'"):
        hc.load(p, type_map=TMAP)


def test_malformed_box(tmp_path):
    box = "ITEM: BOX BOUNDS xy xz yz pp pp pp\n0 10 1\n0 10\n0 10 0\n"
    p = write(tmp_path, frame(0) + frame(1, box=box))
    with pytest.raises(TrajectoryFormatError,
                       match=r"frame 1, line 20: malformed box line '0 10': expected 3 numbers"):
        hc.load(p, type_map=TMAP)
    box = "ITEM: BOX BOUNDS pp pp pp\n0 10\n0 ten\n0 10\n"
    p = write(tmp_path, frame(0, box=box), "b2.dump")
    with pytest.raises(TrajectoryFormatError, match=r"frame 0, line 7: malformed box line"):
        hc.load(p, type_map=TMAP)
    box = "ITEM: BOX BOUNDS pp pp pp\n0 10\n5 5\n0 10\n"
    p = write(tmp_path, frame(0, box=box), "b3.dump")
    with pytest.raises(TrajectoryFormatError, match=r"frame 0, line 6: the box has zero"):
        hc.load(p, type_map=TMAP)


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "NaN"])
def test_non_finite_coordinates(tmp_path, bad):
    rows = [f"{i} 1 {i}.5 {i}.25 {i}.125" for i in (4, 2, 1)] + [f"3 2 1.0 {bad} 2.0"]
    p = write(tmp_path, frame(0) + frame(100, rows=rows) + frame(200))
    tr = hc.load(p, type_map=TMAP)  # found when the frame is read, not when indexing
    np.testing.assert_allclose(tr.positions(frames=[0, 2])[:, 0], [[1.5, 1.25, 1.125]] * 2)
    with pytest.raises(TrajectoryFormatError) as e:
        tr.positions()
    assert re.fullmatch(r".*bad\.dump, frame 1, line 26: non-finite coordinate \(1\.0, -?(nan|"
                        r"inf), 2\.0\) for atom id 3; the simulation blew up here.*",
                        one_line(e))


def test_unknown_column_layout(tmp_path):
    p = write(tmp_path, frame(0, cols="id type x y q",
                             rows=[f"{i} 1 0 0 0" for i in range(1, 5)]))
    with pytest.raises(TrajectoryFormatError,
                       match=r"frame 0, line 9: unknown column layout 'ITEM: ATOMS id type x y "
                             r"q': no complete set of coordinate columns.*re-dump with"):
        hc.load(p, type_map=TMAP)


def test_unknown_type_with_type_map(tmp_path):
    rows = ["1 1 0 0 0", "2 2 0 0 0", "3 3 0 0 0", "4 1 0 0 0"]
    p = write(tmp_path, frame(0, rows=rows))
    with pytest.raises(TrajectoryFormatError,
                       match=r"frame 0, line 12: atom type 3 has no element in the type map "
                             r"\(\{1: 'C', 2: 'Na'\}\); add it"):
        hc.load(p, type_map=TMAP)


def test_not_a_number_and_short_lines(tmp_path):
    rows = ["1 1 0 0 0", "2 1 0 zero 0", "3 1 0 0 0", "4 1 0 0 0"]
    p = write(tmp_path, frame(0) + frame(5, rows=rows))
    tr = hc.load(p, type_map=TMAP)
    with pytest.raises(TrajectoryFormatError,
                       match=r"frame 1, line 24: column 'y' is not a number: 'zero'"):
        tr.positions()
    rows = ["1 1 0 0 0", "2 1 0 0 0", "3 1 0 0", "4 1 0 0 0"]
    p = write(tmp_path, frame(0) + frame(5, rows=rows), "short.dump")
    with pytest.raises(TrajectoryFormatError,
                       match=r"frame 1, line 25: 4 values where 'ITEM: ATOMS' names 5 columns"):
        hc.load(p, type_map=TMAP).positions()


def test_ids_change_between_frames(tmp_path):
    rows = [f"{i} 1 0 0 0" for i in (1, 2, 3, 7)]
    p = write(tmp_path, frame(0) + frame(5, rows=rows))
    with pytest.raises(TrajectoryFormatError,
                       match=r"frame 1, line 26: the atom ids differ from frame 0 \(atom id 7 is "
                             r"not in frame 0\)"):
        hc.load(p, type_map=TMAP).positions()


def test_sparse_ids_are_sorted_and_checked(tmp_path):
    ids = [7, 10**9, 42, 5 * 10**8]
    rows = [f"{i} 1 {k}.0 0 0" for k, i in enumerate(ids)]
    p = write(tmp_path, frame(0, rows=rows) + frame(1, rows=rows[::-1]))
    tr = hc.load(p, type_map=TMAP)
    np.testing.assert_array_equal(tr.source.ids, sorted(ids))
    np.testing.assert_allclose(tr.positions()[:, :, 0], [[0, 2, 3, 1]] * 2)
    rows2 = rows[:3] + ["8 1 0 0 0"]
    p = write(tmp_path, frame(0, rows=rows) + frame(1, rows=rows2), "sp.dump")
    with pytest.raises(TrajectoryFormatError, match=r"frame 1, line 23: the atom ids differ "
                       r"from frame 0 \(id 8 where frame 0 has 42\)"):
        hc.load(p, type_map=TMAP).positions()
    rows3 = rows[:3] + ["42 1 0 0 0"]
    p = write(tmp_path, frame(0, rows=rows) + frame(1, rows=rows3), "dup.dump")
    with pytest.raises(TrajectoryFormatError, match=r"frame 1, line 2[3-6]: .*"):
        hc.load(p, type_map=TMAP).positions()


def test_duplicate_ids_and_columns_changing(tmp_path):
    rows = [f"{i} 1 0 0 0" for i in (1, 2, 2, 4)]
    p = write(tmp_path, frame(0, rows=rows))
    with pytest.raises(TrajectoryFormatError, match=r"frame 0, line 12: atom id 2 appears twice"):
        hc.load(p, type_map=TMAP)
    p = write(tmp_path, frame(0) + frame(1, cols="id type xs ys zs"), "cols.dump")
    with pytest.raises(TrajectoryFormatError, match=r"frame 1, line 22: the columns change"):
        hc.load(p, type_map=TMAP)


def test_not_a_dump(tmp_path):
    p = write(tmp_path, "hello\nworld\n", "x.dump")
    with pytest.raises(TrajectoryFormatError,
                       match=r"x\.dump, frame 0, line 1: expected 'ITEM: TIMESTEP', found "
                             r"'hello'"):
        hc.load(p)


def test_data_file_errors(tmp_path):
    base = ("LAMMPS data\n\n2 atoms\n1 atom types\n\n0 10 xlo xhi\n0 10 ylo yhi\n{z}\n"
            "Atoms # atomic\n\n1 1 0 0 0\n2 1 1 1 {v}\n")
    p = write(tmp_path, base.format(z="", v="1"), "a.data")
    with pytest.raises(TrajectoryFormatError,
                       match=r"a\.data: missing or malformed box line 'zlo zhi'"):
        hc.load(p)
    p = write(tmp_path, base.format(z="0 10 zlo zhi", v="nan"), "b.data")
    with pytest.raises(TrajectoryFormatError,
                       match=r"b\.data, line 12: non-finite coordinate for atom id 2"):
        hc.load(p)
    p = write(tmp_path, base.format(z="0 10 zlo zhi", v="1").replace("2 atoms", "3 atoms"),
              "c.data")
    with pytest.raises(TrajectoryFormatError,
                       match=r"c\.data, line 9: the Atoms section has 2 lines where the header "
                             r"says 3 atoms"):
        hc.load(p)
    p = write(tmp_path, base.format(z="0 10 zlo zhi", v="1"), "d.data")
    with pytest.raises(TrajectoryFormatError, match=r"line 11: atom type 1 has no element"):
        hc.load(p, type_map={2: "Na"})


def test_type_without_mass_in_topology(tmp_path):
    """The dump has a type the topology's Masses lack: missing element, clear error."""
    data = ("LAMMPS data\n\n2 atoms\n1 atom types\n\n0 10 xlo xhi\n0 10 ylo yhi\n"
            "0 10 zlo zhi\n\nMasses\n\n1 12.011\n\nAtoms # atomic\n\n1 1 0 0 0\n"
            "2 1 1 1 1\n")
    topo = write(tmp_path, data, "topo.data")
    p = write(tmp_path, frame(0))
    with pytest.raises(TrajectoryFormatError,
                       match=r"bad\.dump, frame 0, line 10: atom type 2 has no mass in the "
                             r"Masses section of .*topo\.data \(types 1\), so its element is "
                             r"missing; is that the data file of this run\?"):
        hc.load(p, topology=topo)
    # a mass that matches no element is not an error: the type keeps its id as name
    topo.write_text(data.replace("1 12.011", "1 12.011\n2 0.5").replace("1 atom types",
                                                                       "2 atom types"))
    tr = hc.load(p, topology=topo)
    assert set(tr.species) == {"C", "2"}
    assert any("match no element by mass" in n for n in tr.notes)
