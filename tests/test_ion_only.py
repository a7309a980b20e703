"""`hcanalysis analyze` on a dump of the ions alone (no framework atoms): the stages that need
the framework are skipped with a sentence saying which and why, pointing to --framework; MSD
and hops run and their columns are those of the full analysis."""

from __future__ import annotations

import numpy as np

from hcanalysis.cli import main
from hcanalysis.table import DescriptorTable


def _na_dump(path, rng, n_frames=160, n_ions=10, box=20.0):
    """Brownian Na (D = 0.05 Å²/ps at 0.2 ps per frame) written as a LAMMPS text dump of
    type 2 only, unwrapped coordinates."""
    steps = rng.normal(0.0, np.sqrt(2 * 0.05 * 0.2), (n_frames, n_ions, 3))
    pos = rng.random((n_ions, 3)) * box + np.cumsum(steps, axis=0)
    with open(path, "w") as fh:
        for f in range(n_frames):
            fh.write(f"ITEM: TIMESTEP\n{f * 200}\nITEM: NUMBER OF ATOMS\n{n_ions}\n"
                     "ITEM: BOX BOUNDS pp pp pp\n" + f"0 {box}\n" * 3
                     + "ITEM: ATOMS id type xu yu zu\n")
            fh.writelines(f"{i + 1} 2 {x:.5f} {y:.5f} {z:.5f}\n"
                          for i, (x, y, z) in enumerate(pos[f]))
    return path


def test_ion_only_runs_msd_and_hops_and_says_what_it_skipped(tmp_path, rng, capsys):
    dump = _na_dump(tmp_path / "na_only.lammpstrj", rng)
    out = tmp_path / "out"
    rc = main(["analyze", str(dump), "--type-map", "2:Na", "--dt-ps", "0.001",
               "--window", "40", "-o", str(out)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    text = " ".join(cap.out.split())  # rich wraps long lines
    assert "no C atoms (species present: Na)" in text
    assert "skipped structure, voids, tortuosity" in text
    assert "drift is not removed" in text and "--framework FILE" in text
    assert "importance skipped: no structural descriptors" in text
    table = DescriptorTable.read(out / "descriptors.h5")
    cols = set(table.frame.columns)
    assert {"msd_lag", "alpha", "hop_rate"} <= cols
    assert not cols & {"n_NaC", "pore_radius", "local_tortuosity"}
    assert len(table.frame) == 10 * 4  # 10 ions x 4 windows of 40 frames
    # the Brownian ions' MSD grows about linearly: alpha near 1 (not a caged 0.3)
    assert 0.7 < float(np.nanmedian(table.frame["alpha"])) < 1.3


def test_ion_only_with_framework_stages_only_is_one_line(tmp_path, rng, capsys):
    dump = _na_dump(tmp_path / "na.lammpstrj", rng, n_frames=40, n_ions=4)
    rc = main(["analyze", str(dump), "--type-map", "2:Na", "-o", str(tmp_path / "o"),
               "--set", 'stages=["voids", "tortuosity"]'])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert err[-1].startswith("hcanalysis: error: na.lammpstrj: no C atoms")
    assert "--framework FILE" in err[-1]
