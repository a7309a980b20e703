"""One backend switch for every kernel family.

``backend="auto" | "cpu" | "cuda"``. ``"auto"`` means one thing everywhere: **the faster
backend for that computation on this machine**. That is ``HCANALYSIS_BACKEND`` when it is set
(the user's choice for every family); otherwise CUDA when a real GPU is present (never under
Numba's CUDA simulator, which is for tests) *and* the family's GPU path is the faster one,
else the CPU. Every family's GPU path is the faster one except the geodesic tortuosity, whose
GPU relaxation sweeps do more work than the CPU's A* / early-stopped Dijkstra on these
single-source queries: it passes ``gpu_faster=False`` and runs on the GPU on request only.
Asking for ``"cuda"`` without a GPU raises :class:`BackendError`, except under
``NUMBA_ENABLE_CUDASIM=1`` where the CUDA kernels run in the simulator on the CPU (slowly, on
small inputs).
"""

from __future__ import annotations

import functools
import os
from typing import Literal

Backend = Literal["cpu", "cuda"]
_VALID = ("auto", "cpu", "cuda")


class BackendError(RuntimeError):
    """The requested compute backend is not available."""


def cudasim_enabled() -> bool:
    """True when Numba's CUDA simulator is switched on (``NUMBA_ENABLE_CUDASIM=1``)."""
    from numba import config

    return bool(getattr(config, "ENABLE_CUDASIM", False))


@functools.lru_cache(maxsize=1)
def _real_gpu_present() -> bool:
    if cudasim_enabled():
        return False
    try:
        from numba import cuda

        return bool(cuda.is_available()) and len(cuda.gpus) > 0
    except Exception:
        return False


def cuda_available() -> bool:
    """True when CUDA kernels can run: a real GPU, or the CUDA simulator."""
    return cudasim_enabled() or _real_gpu_present()


def resolve_backend(backend: str | None = "auto", *, gpu_faster: bool = True) -> Backend:
    """Turn a user's backend choice into ``"cpu"`` or ``"cuda"``.

    Parameters
    ----------
    backend : {"auto", "cpu", "cuda"} or None
        ``None`` and ``"auto"`` defer to ``HCANALYSIS_BACKEND`` when set, else take CUDA
        when a real GPU is present and ``gpu_faster``, and the CPU otherwise.
    gpu_faster : bool
        Whether the calling family's GPU path beats its CPU path (the families say so once,
        see the module docstring); ``False`` keeps ``"auto"`` on the CPU.

    Raises
    ------
    BackendError
        For an unknown name, or ``"cuda"`` on a machine with no GPU.
    """
    choice = (backend or "auto").lower()
    if choice == "auto":
        choice = os.environ.get("HCANALYSIS_BACKEND", "auto").lower() or "auto"
        if choice not in _VALID:
            raise BackendError(
                f"HCANALYSIS_BACKEND={choice!r} is not a backend; use one of auto, cpu, cuda"
            )
    if choice not in _VALID:
        raise BackendError(f"backend={backend!r} is not a backend; use one of {_VALID}")
    if choice == "auto":
        return "cuda" if gpu_faster and _real_gpu_present() else "cpu"
    if choice == "cuda" and not cuda_available():
        raise BackendError(
            "backend='cuda' was asked for but no CUDA GPU is visible to Numba "
            "(check `nvidia-smi` and that the [gpu] extra is installed); use backend='cpu' "
            "or 'auto'"
        )
    return choice  # type: ignore[return-value]


def cupy_or_none():
    """The CuPy module when it is importable and a real GPU is present, else ``None``.

    Under the CUDA simulator the CUDA paths fall back to numpy for array work and FFTs.
    """
    if not _real_gpu_present():
        return None
    try:
        import cupy

        return cupy
    except Exception:
        return None


def free_memory_bytes(backend: Backend = "cpu") -> int:
    """Free memory in bytes on the backend's device (RAM for the CPU).

    Falls back to 2 GiB when it cannot be read.
    """
    if backend == "cuda" and _real_gpu_present():
        try:
            from numba import cuda

            free, _total = cuda.current_context().get_memory_info()
            return int(free)
        except Exception:
            return 2 << 30
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 2 << 30


def default_memory_budget(backend: Backend = "cpu") -> int:
    """Default working-memory budget: a quarter of the free memory of the device."""
    return max(free_memory_bytes(backend) // 4, 64 << 20)
