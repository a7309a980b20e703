"""The descriptor columns: names, units, meaning and family (dynamic or structural).

One source of truth for the descriptor table, the mode finder, the importance ranking and the
report.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """A descriptor column."""

    name: str
    unit: str
    kind: str  # "id", "dynamic" or "structural"
    description: str


COLUMNS: tuple[Column, ...] = (
    Column("trajectory", "", "id", "index of the trajectory in the analysed set"),
    Column("ion", "", "id", "index of the ion among the selected ions"),
    Column("window", "", "id", "index of the time window"),
    Column("atom_index", "", "id", "index of the ion among all atoms of the file"),
    Column("t_start_ps", "ps", "id", "time of the window's first frame"),
    Column("t_stop_ps", "ps", "id", "time of the window's last frame"),
    # dynamic
    Column("log_D", "log10(Å²/ps)", "dynamic",
           "log10 of D (NaN where D is NaN or <= 0: no diffusive range, or a caged ion)"),
    Column("D", "Å²/ps", "dynamic",
           "windowed diffusion coefficient, MSD/6 slope over the diffusive range (else NaN)"),
    Column("msd_lag", "Å²", "dynamic", "MSD at the fixed lag msd.mobility_lag_ps"),
    Column("log_msd_lag", "log10(Å²)", "dynamic", "log10 of msd_lag (the mobility measure)"),
    Column("alpha", "", "dynamic", "anomalous exponent, log-log MSD slope over the α range"),
    Column("msd_plateau", "Å²", "dynamic", "MSD at the largest lag of the window"),
    Column("hop_rate", "1/ps", "dynamic", "hops per ps in the window"),
    Column("hop_length", "Å", "dynamic", "mean hop length in the window (0 without hops)"),
    Column("p_hop_max", "Å²", "dynamic", "largest cage-jump indicator in the window"),
    Column("path_tortuosity", "", "dynamic", "coarse-grained path length / net displacement"),
    Column("net_displacement", "Å", "dynamic", "end-to-end displacement over the window"),
    # structural
    Column("n_NaNa", "", "structural", "mean number of Na neighbours within the Na–Na cutoff"),
    Column("nana_contact_fraction", "", "structural",
           "fraction of sampled frames with >= 1 Na within the Na–Na cutoff"),
    Column("nana_partner_persistence", "", "structural",
           "largest fraction of sampled frames with one same Na within the Na–Na cutoff"),
    Column("nana_enrichment", "", "structural",
           "n_NaNa over its value for a random arrangement at the cell's Na density"),
    Column("n_NaC", "", "structural", "mean number of C neighbours within the Na–C cutoff"),
    Column("cluster_size", "", "structural", "mean size of the ion's Na cluster"),
    Column("d_NaNa_min", "Å", "structural", "mean nearest Na–Na distance"),
    Column("d_NaC_min", "Å", "structural", "mean nearest Na–C distance"),
    Column("carbon_density", "g/cm³", "structural", "carbon mass density within R of the ion"),
    Column("sp2_fraction", "", "structural", "sp2 fraction of the carbons near the ion"),
    Column("pore_radius", "Å", "structural", "largest inscribed sphere radius of the ion's pore"),
    Column("pore_volume", "Å³", "structural", "volume of the ion's pore"),
    Column("wall_distance", "Å", "structural", "distance from the ion to the carbon wall"),
    Column("pore_throats", "", "structural", "number of throats of the ion's pore"),
    Column("pores_visited", "", "structural", "distinct pores the ion visited in the window"),
    Column("voronoi_volume", "Å³", "structural", "Voronoi volume of the ion among all atoms"),
    Column("local_tortuosity", "", "structural", "geodesic / Euclidean distance on a shell"),
    Column("shell_reachable", "", "structural", "fraction of the shell reachable through void"),
)

BY_NAME = {c.name: c for c in COLUMNS}
ID_COLUMNS = tuple(c.name for c in COLUMNS if c.kind == "id")
# the linear D and msd_lag are left out of the feature sets: their logs carry them
DYNAMIC = tuple(c.name for c in COLUMNS if c.kind == "dynamic" and c.name not in ("D", "msd_lag"))
STRUCTURAL = tuple(c.name for c in COLUMNS if c.kind == "structural")


def unit(name: str) -> str:
    """Unit of a column ('' for dimensionless or unknown columns)."""
    c = BY_NAME.get(name)
    return c.unit if c else ""


def feature_set(which: str | list[str] | tuple[str, ...], available: list[str]) -> list[str]:
    """Resolve ``"all" | "dynamic" | "structural"`` or an explicit list against the columns a
    table has.

    Raises
    ------
    ValueError
        For an unknown set name, an explicit column the table lacks, or an empty result.
    """
    if isinstance(which, str):
        if which == "dynamic":
            wanted = list(DYNAMIC)
        elif which == "structural":
            wanted = list(STRUCTURAL)
        elif which == "all":
            wanted = list(DYNAMIC) + list(STRUCTURAL)
        else:
            raise ValueError(f"features={which!r}: use 'all', 'dynamic', 'structural' or a list")
        cols = [c for c in wanted if c in available]
    else:
        missing = [c for c in which if c not in available]
        if missing:
            raise ValueError(f"the table has no column(s) {missing}; it has {available}")
        cols = list(which)
    if not cols:
        raise ValueError(f"no descriptor columns of set {which!r} in the table ({available})")
    return cols
