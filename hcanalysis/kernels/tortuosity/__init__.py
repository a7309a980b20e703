"""Geodesic distances on a periodic void grid (triclinic cells allowed).

The grid has ``shape = (nx, ny, nz)`` points over a cell whose rows are the cell vectors
``a, b, c`` (Å); grid point ``(i, j, k)`` sits at ``i/nx a + j/ny b + k/nz c`` (plus any common
origin, which does not matter here). Void points are ``True`` in a boolean ``mask``.

Graph: every void point is joined to its 26 neighbours ``(di, dj, dk) in {-1, 0, 1}^3`` that are
void; the step length is the Euclidean length ``|di a/nx + dj b/ny + dk c/nz|`` from the cell
metric. Each axis is periodic or not (``periodic`` flags); a non-periodic axis ends at the grid
edge. Distances are the shortest path lengths in that graph (Å).

Families of kernels here, all arrays in, arrays out:

* plain references: :func:`reference_graph`, :func:`reference_distances` (``scipy.sparse.csgraph``
  on the explicit graph), :func:`reference_dijkstra_python` (heapq, brute force);
* Numba CPU: :func:`geodesic_dijkstra` (multi-source, with a cutoff; a bucket queue,
  :func:`.dijkstra.bucket_core`, Dial's algorithm made label correcting so any bucket width
  is exact),
  :func:`geodesic_fmm` (fast marching, first or second order, orthogonal cells only; binary
  heap), :func:`image_distances` (distance from start points to their own periodic image: A*
  with the free-space 26-grid bound, in parallel), :func:`local_shell_distances` (geodesic
  distance from many centres to the points of a shell, each in its own unrolled local box,
  pruned exactly by the distance to the shell, in parallel), :func:`wrapping_components`
  (connected components by BFS, then the loop-closing edges in a parallel pass: the lattice of
  winding vectors, for percolation), :func:`random_walk_displacements` (blind-ant walkers for a
  diffusive check);
* Numba CUDA: :func:`geodesic_relax_cuda` (batched Bellman-Ford relaxation sweeps until no
  change; runs under ``NUMBA_ENABLE_CUDASIM=1`` on tiny grids), and the batching of the global
  and local queries on it (:func:`image_distances_cuda`, :func:`local_shell_distances_cuda`).

Limits: fast marching needs an orthogonal cell (diagonal box; anisotropic spacing allowed).

Modules, one per family: :mod:`.geometry` (steps, lengths, wrap tables), :mod:`.references`,
:mod:`.dijkstra`, :mod:`.fmm`, :mod:`.images` (global: distance to the own image),
:mod:`.local` (shell distances, nearest void point), :mod:`.percolation`, :mod:`.walk` and
:mod:`.cuda`. This package re-exports every public kernel, so ``kernels.tortuosity.X`` works as
before the split.
"""

from hcanalysis.kernels.tortuosity.cuda import (
    geodesic_relax_cuda,
    image_distances_cuda,
    local_shell_distances_cuda,
)
from hcanalysis.kernels.tortuosity.dijkstra import (
    H_GENERAL,
    H_NONE,
    H_OCTILE,
    H_ORTHO,
    geodesic_dijkstra,
)
from hcanalysis.kernels.tortuosity.fmm import (
    geodesic_fmm,
    point_source_init,
)
from hcanalysis.kernels.tortuosity.geometry import (
    INF,
    STEPS,
    is_orthogonal,
    step_lengths,
    voxel_vectors,
    wrap_table,
)
from hcanalysis.kernels.tortuosity.images import (
    ASTAR_BUCKET_FRACTION,
    heuristic_kind,
    image_distances,
    lifted_mask,
)
from hcanalysis.kernels.tortuosity.local import (
    local_extent,
    local_shell_distances,
    nearest_void,
    shell_offsets,
)
from hcanalysis.kernels.tortuosity.percolation import (
    wrapping_components,
)
from hcanalysis.kernels.tortuosity.references import (
    reference_dijkstra_python,
    reference_distances,
    reference_graph,
    reference_image_distance,
)
from hcanalysis.kernels.tortuosity.walk import (
    random_walk_displacements,
)

__all__ = [
    "ASTAR_BUCKET_FRACTION",
    "geodesic_dijkstra",
    "geodesic_fmm",
    "geodesic_relax_cuda",
    "H_GENERAL",
    "H_NONE",
    "H_OCTILE",
    "H_ORTHO",
    "heuristic_kind",
    "image_distances",
    "image_distances_cuda",
    "INF",
    "is_orthogonal",
    "lifted_mask",
    "local_extent",
    "local_shell_distances",
    "local_shell_distances_cuda",
    "nearest_void",
    "point_source_init",
    "random_walk_displacements",
    "reference_dijkstra_python",
    "reference_distances",
    "reference_graph",
    "reference_image_distance",
    "shell_offsets",
    "step_lengths",
    "STEPS",
    "voxel_vectors",
    "wrap_table",
    "wrapping_components",
]
