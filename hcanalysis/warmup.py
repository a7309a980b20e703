"""Compile, in a second process, kernels a cold analysis needs only later.

On a machine whose Numba cache is empty, ``hcanalysis analyze`` spends most of its first run
compiling: about 110 s of the demo's 121 s here, one kernel after another in one process. The
kernels of the late steps do not depend on the data, only on their argument types, so a
second process can compile them while the first works through the early stages; it writes
them to Numba's on-disk cache, from which the first process loads them when it gets there.

Jobs (each compiles what one step uses, on a tiny input with the argument types of the real
call):

``tortuosity``
    geodesic tortuosity, global and local (Dijkstra, or fast marching when asked), on a small
    periodic void grid;
``umap``
    umap-learn's and pynndescent's functions behind the modes' UMAP map
    (:func:`hcanalysis.modes.import_umap_cached` switches their cache on).

The worker prints ``ready JOB`` after each job; :class:`Warmup` waits for that line before
the step that needs it (never longer than the worker lives). Nothing depends on it: without
the worker, or when it fails, every step compiles its own kernels as before. It starts only
when the kernels have never been compiled on this machine (:func:`kernels_cached`) and
``HCANALYSIS_WARMUP`` is not ``0``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

JOBS = ("tortuosity", "umap")


def kernels_cached(folder: Path | None = None) -> bool:
    """Whether Numba has compiled hcanalysis' kernels on this machine before: ``*.nbi`` index
    files under ``NUMBA_CACHE_DIR`` when it is set (Numba then writes only there), else in the
    ``__pycache__`` folders under ``folder`` (default: the ``hcanalysis.kernels`` package,
    found without importing it or Numba)."""
    import importlib.util

    if os.environ.get("NUMBA_CACHE_DIR"):
        places = [Path(os.environ["NUMBA_CACHE_DIR"])]
    else:
        if folder is None:
            folder = Path(importlib.util.find_spec("hcanalysis.kernels").origin).parent
        places = [folder]
    return any(next(p.rglob("*.nbi"), None) is not None for p in places if p.is_dir())


def compile_tortuosity(method: str = "dijkstra", shell_radius: float = 6.0) -> None:
    """Run global and local tortuosity on a 24³ periodic grid (three crossing channels)."""
    import numpy as np

    from hcanalysis import tortuosity

    n, h = 24, 0.5
    mask = np.zeros((n, n, n), dtype=bool)
    mid = slice(n // 2 - 3, n // 2 + 3)
    mask[:, mid, mid] = mask[mid, :, mid] = mask[mid, mid, :] = True
    box = np.eye(3) * n * h
    radius = min(shell_radius, 0.45 * n * h)
    tortuosity.global_tortuosity(mask, box=box, method=method)
    pts = np.array([[n * h / 2] * 3, [1.0, n * h / 2, n * h / 2]])
    tortuosity.local(mask, pts, radius=radius, box=box, method=method)


def compile_umap() -> None:
    """Fit a 2D UMAP map of 60 random rows as :class:`hcanalysis.modes.ModeFinder` does."""
    import numpy as np

    from hcanalysis.modes import import_umap_cached

    umap = import_umap_cached()
    z = np.random.default_rng(0).normal(size=(60, 8))
    umap.UMAP(n_neighbors=15, min_dist=0.1, n_components=2, random_state=0,
              n_jobs=1).fit_transform(z)


def main(argv: list[str]) -> int:
    """``python -m hcanalysis.warmup JOB [JOB ...] [--method M --shell-radius R]``."""
    import warnings

    warnings.simplefilter("ignore")
    method, radius, jobs = "dijkstra", 6.0, []
    it = iter(argv)
    for a in it:
        if a == "--method":
            method = next(it)
        elif a == "--shell-radius":
            radius = float(next(it))
        else:
            jobs.append(a)
    for job in jobs:
        if job == "tortuosity":
            compile_tortuosity(method, radius)
        elif job == "umap":
            compile_umap()
        else:
            print(f"unknown job {job}", file=sys.stderr)
            return 2
        print(f"ready {job}", flush=True)
    return 0


class Warmup:
    """The worker process; :meth:`wait` blocks until a job is ready or the worker is gone.

    Parameters
    ----------
    jobs : list of str
        Names from :data:`JOBS`, compiled in this order.
    args : list of str
        Extra worker arguments (``--method``, ``--shell-radius``).
    """

    def __init__(self, jobs: list[str], args: list[str] | None = None) -> None:
        self.ready: set[str] = set()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hcanalysis.warmup", *jobs, *(args or [])],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def wait(self, job: str) -> bool:
        """Wait for ``job``; True when it was compiled (False: the worker ended without)."""
        while job not in self.ready:
            line = self.proc.stdout.readline() if self.proc.stdout else ""
            if not line:  # the worker ended
                return False
            if line.startswith("ready "):
                self.ready.add(line.split()[1])
        return True

    def close(self) -> None:
        """Stop the worker if it still runs (its finished jobs stay in the cache)."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            self.proc.kill()
        if self.proc.stdout:
            self.proc.stdout.close()


def start_for(stages: list[str], *, embed: bool = True, method: str = "dijkstra",
              shell_radius: float = 6.0) -> Warmup | None:
    """A worker for the late steps of an analysis with these stages, or None when the
    kernels are cached already or ``HCANALYSIS_WARMUP=0``."""
    if os.environ.get("HCANALYSIS_WARMUP", "1") == "0" or kernels_cached():
        return None
    jobs = [j for j, on in (("tortuosity", "tortuosity" in stages), ("umap", embed)) if on]
    if not jobs:
        return None
    return Warmup(jobs, ["--method", method, "--shell-radius", str(shell_radius)])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
