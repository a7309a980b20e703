"""Grids and search boxes whose size a user chooses are refused before allocation when they
cannot fit (issue 19): the message gives the estimate, the limit and what to change."""

from __future__ import annotations

import numpy as np
import pytest

from hcanalysis import tortuosity, voids
from hcanalysis.errors import MemoryBudgetError
from hcanalysis.memory import check_memory, format_bytes

BOX = np.eye(3) * 12.0
POS = np.random.default_rng(0).uniform(0, 12, (150, 3))


def test_fine_spacing_is_refused_with_numbers():
    with pytest.raises(MemoryBudgetError, match=r"a void grid of 120000 x 120000 x 120000 points "
                       r"\(spacing 0.0001 Å\) needs about 61.4 PiB, more than the free memory "
                       r"\(.* GiB\); use a coarser spacing") as err:
        voids.tessellate(POS, BOX, spacing=1e-4)
    assert "\n" not in str(err.value)


def test_max_memory_budget_is_honoured():
    # 0.2 Å on a 12 Å cell: 60^3 points x 40 B = 8.2 MiB
    with pytest.raises(MemoryBudgetError, match=r"needs about 8.24 MiB, more than the "
                       r"max_memory budget \(4 MiB\)"):
        voids.tessellate(POS, BOX, spacing=0.2, max_memory=4 << 20)
    vm = voids.tessellate(POS, BOX, spacing=0.2, max_memory=16 << 20)
    assert vm.distance.shape == (60, 60, 60)


def test_estimate_covers_the_measured_peak():
    """The per-point estimate is not below what a tessellation really holds at its end: the
    distance field, labels, components and local thickness arrays of the returned map."""
    vm = voids.tessellate(POS, BOX, spacing=0.3)
    held = sum(np.asarray(getattr(vm, name)).nbytes for name in
               ("distance", "labels", "components") if getattr(vm, name, None) is not None)
    assert held <= voids.BYTES_PER_GRID_POINT * vm.distance.size


def test_huge_tortuosity_radius_is_refused():
    vm = voids.tessellate(POS, BOX, spacing=0.4)
    with pytest.raises(MemoryBudgetError, match=r"local tortuosity on shells of radius 10000 Å "
                       r"needs about .* PiB.*use a smaller radius"):
        tortuosity.local(vm, POS[:3], radius=1e4)
    assert np.isfinite(tortuosity.local(vm, POS[:3], radius=4.0).tau).any()


def test_check_memory_and_format():
    check_memory(10, "x", max_memory=100)
    with pytest.raises(MemoryBudgetError, match=r"x needs about 1.5 GiB, more than the "
                       r"max_memory budget \(1 GiB\); do less"):
        check_memory(1.5 * 2**30, "x", max_memory=2**30, hint="do less")
    assert format_bytes(512) == "512 B" and format_bytes(3 * 2**40) == "3 TiB"


def test_cli_voids_spacing(tmp_path, capsys):
    import hcanalysis as hca
    from hcanalysis.cli import main

    pos = np.concatenate([POS[None]] * 3)
    species = ["C"] * 140 + ["Na"] * 10
    path = hca.write_h5md(hca.Trajectory.from_arrays(pos, BOX, species), tmp_path / "t.h5")
    assert main(["voids", str(path), "-o", str(tmp_path / "v.h5"), "--spacing", "0.0001"]) == 2
    err = capsys.readouterr().err
    assert "needs about 61.4 PiB" in err and "Traceback" not in err
    assert not (tmp_path / "v.h5").exists()


def test_analysis_budget_reaches_the_void_grid(tmp_path):
    """``max_memory`` of an analysis (``--max-memory``) also bounds the void grids."""
    import hcanalysis as hca
    from hcanalysis.config import AnalysisConfig
    from hcanalysis.descriptors import compute

    rng = np.random.default_rng(1)
    pos = np.concatenate([POS[None]] * 12) + rng.normal(0, 0.01, (12, 150, 3))
    traj = hca.Trajectory.from_arrays(pos, BOX, ["C"] * 140 + ["Na"] * 10, dt_ps=0.1)
    cfg = AnalysisConfig(stages=["voids"], max_memory=2 << 20)  # 0.2 Å grid: 8.2 MiB
    cfg.voids.spacing = 0.2
    with pytest.raises(MemoryBudgetError, match=r"needs about 8.24 MiB, more than the "
                       r"max_memory budget \(2 MiB\)"):
        compute(traj, cfg)
