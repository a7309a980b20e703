"""Void-tessellation kernels: exact periodic distance field, periodic watershed, components with
percolation (union-find with image offsets), throats and local thickness.

Arrays in, arrays out. Grids are periodic over a (triclinic) cell whose rows are the cell
vectors; grid point ``(i, j, k)`` sits at fractional coordinates ``(i/nx, j/ny, k/nz)``.
Flat indices are C order: ``p = (i * ny + j) * nz + k``.

Modules, one per section:

* :mod:`.grid`: grid shape, fractional coordinates, the atom cell list;
* :mod:`.distance`: the exact distance field (CPU scatter + shell search; CUDA shell search);
* :mod:`.unionfind`: union-find with periodic image offsets, the components sweep;
* :mod:`.basins`: pores, components, percolation and PLD from the steepest-ascent forest, and
  the throats between pores;
* :mod:`.thickness`: the distance ridge and the local thickness;
* :mod:`.references`: plain numpy references (brute force) used by the tests.

The 26-neighbour offsets and :func:`~hcanalysis.kernels.lattice.fill_neighbours` are in
:mod:`hcanalysis.kernels.lattice` (shared with the tortuosity kernels). The older sequential
sweeps (``sweep_numba``, ``watershed_numba``) and the slab-parallel local thickness are kept
as references in ``tests/void_kernel_refs.py``. All but the distance field run on the CPU for
both backends. This package re-exports every public kernel, so ``kernels.voids.X`` works as
before the split.
"""

from hcanalysis.kernels.lattice import OFFSETS_26, OFFSETS_FORWARD_13
from hcanalysis.kernels.voids.basins import (
    basin_edges_numba,
    basin_labels_numba,
    basin_merge_numba,
    basin_numbering_numba,
    basin_parents_numba,
    basin_seeds_numba,
    throat_pairs_numba,
)
from hcanalysis.kernels.voids.distance import (
    distance_grid_cuda,
    distance_grid_numba,
    distance_points_numba,
    distance_resolve_numba,
    distance_scatter_numba,
)
from hcanalysis.kernels.voids.grid import (
    build_cell_list,
    grid_fractional,
    grid_shape,
    max_shell,
    wrap_fractional,
)
from hcanalysis.kernels.voids.references import (
    distance_grid_reference,
    distance_points_reference,
    local_thickness_reference,
)
from hcanalysis.kernels.voids.thickness import (
    LT_BLOCK,
    LT_SLABS,
    local_thickness_blocks_numba,
    ridge_centres_numba,
)
from hcanalysis.kernels.voids.unionfind import components_sweep_numba

__all__ = [
    "LT_BLOCK",
    "LT_SLABS",
    "OFFSETS_26",
    "OFFSETS_FORWARD_13",
    "basin_edges_numba",
    "basin_labels_numba",
    "basin_merge_numba",
    "basin_numbering_numba",
    "basin_parents_numba",
    "basin_seeds_numba",
    "build_cell_list",
    "components_sweep_numba",
    "distance_grid_cuda",
    "distance_grid_numba",
    "distance_grid_reference",
    "distance_points_numba",
    "distance_points_reference",
    "distance_resolve_numba",
    "distance_scatter_numba",
    "grid_fractional",
    "grid_shape",
    "local_thickness_blocks_numba",
    "local_thickness_reference",
    "max_shell",
    "ridge_centres_numba",
    "throat_pairs_numba",
    "wrap_fractional",
]
