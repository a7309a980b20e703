"""Compiled kernels: Numba on the CPU, Numba CUDA (+ CuPy) on NVIDIA GPUs.

Kernels take numpy (or CuPy) arrays and a box and return arrays; they know nothing of
files, tables or plots. Each family has a plain reference implementation used by the tests.
"""

from hcanalysis.kernels.backend import (
    BackendError,
    cuda_available,
    cupy_or_none,
    free_memory_bytes,
    resolve_backend,
)

__all__ = [
    "BackendError",
    "cuda_available",
    "cupy_or_none",
    "free_memory_bytes",
    "resolve_backend",
]
