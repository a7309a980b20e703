"""The cold-start worker (hcanalysis.warmup): it compiles the late steps' kernels in a second
process and says when each job is ready; it starts only on a cold machine."""

from __future__ import annotations

import numpy as np

from hcanalysis import warmup


def test_worker_reports_each_job_then_ends():
    w = warmup.Warmup(["tortuosity"], ["--shell-radius", "4"])
    try:
        assert w.wait("tortuosity") is True
        assert w.wait("umap") is False  # not asked for: the worker ends without it
    finally:
        w.close()
    assert w.proc.returncode == 0


def test_tortuosity_job_input_is_a_real_channel_network():
    """The job's grid: three straight periodic channels, so global tau is 1 on every axis
    (a known answer: the warmup runs the real code path, not a stub)."""
    from hcanalysis import tortuosity

    n, h = 24, 0.5
    mask = np.zeros((n, n, n), dtype=bool)
    mid = slice(n // 2 - 3, n // 2 + 3)
    mask[:, mid, mid] = mask[mid, :, mid] = mask[mid, mid, :] = True
    g = tortuosity.global_tortuosity(mask, box=np.eye(3) * n * h)
    np.testing.assert_allclose(g.tau, 1.0, atol=1e-9)
    warmup.compile_tortuosity()  # runs without error in-process too


def test_starts_only_on_a_cold_machine(monkeypatch):
    monkeypatch.setattr(warmup, "kernels_cached", lambda: True)
    assert warmup.start_for(["msd", "tortuosity"]) is None
    monkeypatch.setattr(warmup, "kernels_cached", lambda: False)
    monkeypatch.setenv("HCANALYSIS_WARMUP", "0")
    assert warmup.start_for(["msd", "tortuosity"]) is None
    monkeypatch.setenv("HCANALYSIS_WARMUP", "1")
    assert warmup.start_for(["msd"], embed=False) is None  # nothing late to compile
