"""The per-(ion, window) families as compute objects (protocol: :mod:`hcanalysis.analysis`).

===================  =======================================================================
:class:`MSD`         windowed MSD -> ``D``, ``log_D``, ``msd_lag``, ``log_msd_lag``, ``alpha``,
                     ``msd_plateau`` (+ the curves; the system D with ``system=True``)
:class:`Hops`        cage jumps -> ``hop_rate``, ``hop_length``, ``p_hop_max``,
                     ``path_tortuosity``, ``net_displacement``
:class:`Structure`   coordination, clusters, local carbon -> ``n_NaNa``,
                     ``nana_contact_fraction``, ``nana_partner_persistence``,
                     ``nana_enrichment``, ``n_NaC``, ``cluster_size``, ``d_NaNa_min``,
                     ``d_NaC_min``, ``carbon_density``, ``sp2_fraction``
:class:`Voids`       void map -> ``pore_radius``, ``pore_volume``, ``wall_distance``,
                     ``pore_throats``, ``pores_visited``, ``voronoi_volume``
:class:`Tortuosity`  geodesic shell tortuosity -> ``local_tortuosity``, ``shell_reachable``
                     (+ the global tortuosity per axis)
===================  =======================================================================

Each is used the same way by the Python API, the CLI commands and
:func:`hcanalysis.descriptors.compute` (one estimator per descriptor name).
"""

from hcanalysis.families.hops import Hops
from hcanalysis.families.msd import MSD
from hcanalysis.families.structure import Structure
from hcanalysis.families.tortuosity import Tortuosity
from hcanalysis.families.voids import Voids, window_void_maps

#: Family name -> class, in the order ``hcanalysis analyze`` runs them.
FAMILIES = {"msd": MSD, "hops": Hops, "structure": Structure, "voids": Voids,
            "tortuosity": Tortuosity}

__all__ = ["FAMILIES", "MSD", "Hops", "Structure", "Tortuosity", "Voids", "window_void_maps"]
