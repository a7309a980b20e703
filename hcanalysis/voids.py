"""Periodic void tessellation of a carbon framework and per-ion void descriptors.

:func:`tessellate` grids the (triclinic) periodic cell, computes the exact distance ``d`` from
every grid point to the nearest atom surface, and returns a :class:`VoidMap` with the void
mask (``d >= probe``), pores (periodic watershed of ``d``), throats, connected components and
percolation per axis, porosity, LCD, PLD and the local-thickness pore-size distribution.
:func:`ion_descriptors` and :func:`void_descriptors` turn it into per-ion (per frame / per
window) descriptors. Definitions and methods: ``docs/voids.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hcanalysis.deprecation import old_callback
from hcanalysis.kernels import voids as kv
from hcanalysis.kernels.backend import resolve_backend
from hcanalysis.memory import check_memory
from hcanalysis.progress import Counter, ProgressFn

#: Default atomic radii (Å) for the distance field: carbon van der Waals radius.
DEFAULT_RADII: dict[str, float] = {"C": 1.7}
#: Default persistence (Å) below which two watershed basins are merged.
DEFAULT_MERGE_DELTA = 0.25
#: Reach (Å) beyond the largest atomic radius of the scatter pass of the distance field.
SCATTER_EXTRA = 1.5
#: Default tolerance (Å) of the local-thickness centre pruning (0 = exact).
DEFAULT_LT_TOL = 0.0


@dataclass
class VoidMap:
    """The void space of one carbon frame on a periodic grid.

    Attributes
    ----------
    box : (3, 3) float64
        Cell, rows are the cell vectors a, b, c, Å.
    distance : (nx, ny, nz) float64
        Exact distance from each grid point to the nearest atom surface (centre distance minus
        radius), Å; negative inside atoms. Grid point (i, j, k) is at fractional
        (i/nx, j/ny, k/nz).
    probe : float
        Probe radius defining the void, Å: ``mask = distance >= probe``.
    labels : (nx, ny, nz) int64
        Pore id per grid point (row of :attr:`pores`), -1 outside the void.
    components : (nx, ny, nz) int64
        Connected void component per grid point (26-connected, periodic), -1 outside the void;
        components are numbered in the order of their first grid point (C order).
    component_percolates : (n_components, 3) bool
        Component percolates along a, b, c (joins its own periodic image).
    pld : (3,) float64
        Pore limiting diameter along a, b, c, Å (0 where the void does not percolate).
    pores : pandas.DataFrame
        One row per pore: ``volume`` (Å³), ``radius`` (largest inscribed sphere, Å),
        ``centre_x``, ``centre_y``, ``centre_z`` (its centre, Å), ``n_points``, ``n_throats``.
    throats : pandas.DataFrame
        One row per pore pair that touches: ``pore_a``, ``pore_b``, ``radius`` (Å, largest
        sphere that passes from one to the other, the highest saddle of d).
    params : dict
        The parameters that made the map.
    """

    box: np.ndarray
    distance: np.ndarray
    probe: float
    labels: np.ndarray
    components: np.ndarray
    component_percolates: np.ndarray
    pld: np.ndarray
    pores: pd.DataFrame
    throats: pd.DataFrame
    params: dict = field(default_factory=dict)
    _lt: np.ndarray | None = field(default=None, repr=False)

    # ---------------------------------------------------------------- geometry
    @property
    def shape(self) -> tuple[int, int, int]:
        """Grid points along a, b, c."""
        return tuple(int(n) for n in self.distance.shape)  # type: ignore[return-value]

    @property
    def spacing(self) -> np.ndarray:
        """Actual grid spacing along each cell vector, Å."""
        return np.linalg.norm(self.box, axis=1) / np.asarray(self.shape)

    @property
    def volume(self) -> float:
        """Cell volume, Å³."""
        return float(abs(np.linalg.det(self.box)))

    @property
    def voxel_volume(self) -> float:
        """Volume per grid point, Å³."""
        return self.volume / float(np.prod(self.shape))

    @property
    def mask(self) -> np.ndarray:
        """Void grid points, ``distance >= probe`` (bool, shape ``shape``)."""
        return self.distance >= self.probe

    def index_to_frac(self, idx: np.ndarray) -> np.ndarray:
        """Grid indices (..., 3) -> fractional coordinates."""
        return np.asarray(idx, dtype=np.float64) / np.asarray(self.shape)

    def index_to_cart(self, idx: np.ndarray) -> np.ndarray:
        """Grid indices (..., 3) -> Cartesian positions, Å."""
        return self.index_to_frac(idx) @ self.box

    def frac_to_index(self, frac: np.ndarray) -> np.ndarray:
        """Fractional coordinates (..., 3) -> nearest grid index, wrapped into the grid."""
        n = np.asarray(self.shape)
        return np.mod(np.rint(np.asarray(frac, dtype=np.float64) * n).astype(np.int64), n)

    def cart_to_index(self, xyz: np.ndarray) -> np.ndarray:
        """Cartesian positions (..., 3), Å -> nearest grid index, wrapped."""
        return self.frac_to_index(np.asarray(xyz, dtype=np.float64) @ np.linalg.inv(self.box))

    def grid_points(self) -> np.ndarray:
        """Cartesian position of every grid point, (nx, ny, nz, 3), Å."""
        return kv.grid_fractional(self.shape).reshape(*self.shape, 3) @ self.box

    def distance_at(self, xyz: np.ndarray) -> np.ndarray:
        """Exact distance to the nearest atom surface at arbitrary points (n, 3), Å."""
        atoms = self.params.get("_atoms")
        if atoms is None:
            raise ValueError("this VoidMap has no atom positions (read from a cache); use "
                             "the grid value at cart_to_index(xyz) instead")
        afrac, radii = atoms
        q = kv.wrap_fractional(np.atleast_2d(xyz), self.box)
        m, start, cells, w_min = kv.build_cell_list(afrac, self.box)
        return kv.distance_points_numba(q, afrac, radii, self.box, m, start, cells, w_min,
                                        kv.max_shell(self.box, w_min))

    # ---------------------------------------------------------------- scalars
    @property
    def porosity(self) -> float:
        """Void volume fraction (grid points with ``d >= probe``)."""
        return float(np.mean(self.mask))

    @property
    def lcd(self) -> float:
        """Largest cavity diameter: 2 x the largest d (largest inscribed sphere), Å."""
        return float(2.0 * max(self.distance.max(), 0.0))

    @property
    def n_pores(self) -> int:
        """Number of pores."""
        return len(self.pores)

    @property
    def pore_centres(self) -> np.ndarray:
        """Centres of the pores' largest inscribed spheres, (n_pores, 3), Å."""
        return self.pores[["centre_x", "centre_y", "centre_z"]].to_numpy()

    @property
    def percolates(self) -> np.ndarray:
        """Whether the void (``d >= probe``) percolates along a, b, c."""
        if len(self.component_percolates) == 0:
            return np.zeros(3, dtype=bool)
        return self.component_percolates.any(axis=0)

    def accessible_porosity(self, probe: float | None = None) -> float:
        """Volume fraction of grid points with ``d >= probe`` that belong to a void component
        percolating along at least one axis (the space a probe centre can reach from far
        away, Zeo++'s accessible volume for probe centres)."""
        probe = self.probe if probe is None else float(probe)
        root, perc = _components(self.distance, probe)
        if root.size == 0:
            return 0.0
        ok = perc.any(axis=1)
        return float(np.count_nonzero(ok[root[root >= 0]]) / root.size)

    # ---------------------------------------------------------------- local thickness / PSD
    @property
    def local_thickness(self) -> np.ndarray:
        """Local thickness (radius, Å) of each void point: the largest ``d(c)`` of a void
        centre ``c`` whose inscribed ball covers it; 0 outside the void. Computed on first use.
        """
        if self._lt is None:
            d = self.distance.ravel()
            mask = self.mask.ravel()
            h = np.ascontiguousarray(self.box)
            nx, ny, nz = self.shape
            tol = float(self.params.get("lt_tol", DEFAULT_LT_TOL))
            if tol > 0.0:
                # centres: void points whose ball is not inside a neighbour's ball up to tol
                cand = np.flatnonzero(kv.ridge_centres_numba(d, mask, h, nx, ny, nz,
                                                             kv.OFFSETS_26, tol))
            else:
                cand = np.flatnonzero(mask)  # exact: every void point is a centre
            order = cand[np.argsort(-d[cand], kind="stable")]
            lt = kv.local_thickness_blocks_numba(d, mask, order, h, nx, ny, nz)
            # a void point no kept ball reached keeps its own inscribed ball (a lower bound)
            miss = mask & (lt == 0.0)
            lt[miss] = np.maximum(d[miss], 0.0)
            self._lt = lt.reshape(self.shape)
        return self._lt

    def psd(self, bins: int | Sequence[float] | np.ndarray = 30) -> tuple[np.ndarray, np.ndarray]:
        """Pore size distribution by local thickness.

        Parameters
        ----------
        bins : int or array of edges
            Histogram bins of the local-thickness *radius* (Å); an int spans 0 .. max.

        Returns
        -------
        fraction : (n_bins,) float
            Fraction of the void volume whose local thickness falls in each bin (sums to 1
            when the bins cover every value).
        edges : (n_bins + 1,) float
            Bin edges, Å (radius).
        """
        lt = self.local_thickness[self.mask]
        if isinstance(bins, int | np.integer):
            top = float(lt.max()) if lt.size else 1.0
            bins = np.linspace(0.0, top * (1 + 1e-9) + 1e-12, int(bins) + 1)
        counts, edges = np.histogram(lt, bins=np.asarray(bins, dtype=np.float64))
        frac = counts / max(lt.size, 1)
        return frac, edges

    # ---------------------------------------------------------------- lookups
    def pore_at(self, xyz: np.ndarray) -> np.ndarray:
        """Pore id at each position (nearest grid point; when that is wall, its void
        26-neighbour with the largest d; -1 when none)."""
        idx = self.cart_to_index(np.atleast_2d(xyz))
        lab = self.labels[idx[:, 0], idx[:, 1], idx[:, 2]].copy()
        n = np.asarray(self.shape)
        for q in np.flatnonzero(lab < 0):
            best, best_d = -1, -np.inf
            for o in kv.OFFSETS_26:
                i, j, k = np.mod(idx[q] + o, n)
                if self.labels[i, j, k] >= 0 and self.distance[i, j, k] > best_d:
                    best, best_d = self.labels[i, j, k], self.distance[i, j, k]
            lab[q] = best
        return lab

    # ---------------------------------------------------------------- HDF5
    def to_h5(self, group) -> None:
        """Write into an open h5py group (distance as float32, compressed)."""
        group.attrs["probe"] = self.probe
        group.create_dataset("box", data=self.box)
        group.create_dataset("distance", data=self.distance.astype(np.float32),
                             compression="gzip", shuffle=True)
        group.create_dataset("labels", data=self.labels.astype(np.int32), compression="gzip")
        group.create_dataset("components", data=self.components.astype(np.int32),
                             compression="gzip")
        group.create_dataset("component_percolates", data=self.component_percolates)
        group.create_dataset("pld", data=self.pld)
        for name in ("pores", "throats"):
            sub = group.create_group(name)
            for col in getattr(self, name).columns:
                sub.create_dataset(col, data=getattr(self, name)[col].to_numpy())
        for k, v in self.params.items():
            if not k.startswith("_"):
                group.attrs[f"param_{k}"] = v

    @classmethod
    def from_h5(cls, group) -> VoidMap:
        """Read a map written by :meth:`to_h5` (distance comes back as float32 precision)."""
        params = {k[6:]: group.attrs[k] for k in group.attrs if k.startswith("param_")}
        return cls(
            box=group["box"][()],
            distance=group["distance"][()].astype(np.float64),
            probe=float(group.attrs["probe"]),
            labels=group["labels"][()].astype(np.int64),
            components=group["components"][()].astype(np.int64),
            component_percolates=group["component_percolates"][()],
            pld=group["pld"][()],
            pores=pd.DataFrame({c: group["pores"][c][()] for c in group["pores"]}),
            throats=pd.DataFrame({c: group["throats"][c][()] for c in group["throats"]}),
            params=params,
        )


# ---------------------------------------------------------------------------- building


def radii_for(species: np.ndarray, radii: Mapping[str, float]) -> np.ndarray:
    species = np.asarray(species).astype(str)
    missing = sorted(set(species) - set(radii))
    if missing:
        raise ValueError(
            f"no radius for species {missing}; pass radii={{...}} with a radius (Å) for each "
            "framework species, or select only the framework atoms"
        )
    return np.array([float(radii[s]) for s in species], dtype=np.float64)


def distance_field(
    positions: np.ndarray,
    box: np.ndarray,
    radii: np.ndarray,
    shape: tuple[int, int, int],
    backend: str = "auto",
) -> np.ndarray:
    """Exact periodic distance field (Å) on the grid ``shape`` (see module docs)."""
    h = np.ascontiguousarray(box, dtype=np.float64)
    pos = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    if len(pos) == 0:
        raise ValueError("no framework atoms: the distance field needs at least one atom")
    afrac = kv.wrap_fractional(pos, h)
    m, start, cells, w_min = kv.build_cell_list(afrac, h)
    n_shell = kv.max_shell(h, w_min)
    radii = np.ascontiguousarray(radii, dtype=np.float64)
    nx, ny, nz = shape
    if resolve_backend(backend) == "cuda":
        return kv.distance_grid_cuda(afrac, radii, h, m, start, cells, w_min, n_shell,
                                     nx, ny, nz)
    # pass 1: scatter every atom over the grid points within `cutoff` of it (exact there);
    # pass 2: exact cell-list shell search for the points no atom reached closely enough
    cutoff = float(radii.max()) + SCATTER_EXTRA
    out = kv.distance_scatter_numba(afrac, radii, h, np.linalg.inv(h), cutoff, nx, ny, nz)
    todo = np.flatnonzero(out > cutoff - float(radii.max()))
    kv.distance_resolve_numba(out, todo, afrac, radii, h, m, start, cells, w_min, n_shell,
                              nx, ny, nz)
    return out.reshape(shape)


def _components(distance: np.ndarray, stop: float, order: np.ndarray | None = None):
    d = distance.ravel()
    if order is None:
        cand = np.flatnonzero(d >= stop)
        order = cand[np.argsort(-d[cand], kind="stable")]
    nx, ny, nz = distance.shape
    root, perc, _level = kv.components_sweep_numba(d, order, stop, nx, ny, nz, kv.OFFSETS_26)
    roots = np.unique(root[root >= 0])
    remap = np.full(d.size, -1, dtype=np.int64)
    remap[roots] = np.arange(roots.size)
    comp = np.where(root >= 0, remap[np.maximum(root, 0)], -1)
    return comp, perc[roots]


def _basins(d, cand, probe, delta, nx, ny, nz):
    """Components (ids by first grid point), their percolation, PLD levels, pore seeds (grid
    indices, by descending d) and pore labels from the steepest-ascent basin forest (see
    ``kernels.voids.basins``; equal to the sequential sweep ``sweep_numba`` kept in
    ``tests/void_kernel_refs.py``)."""
    n = d.size
    cid = np.full(n, -1, dtype=np.int32)
    cid[cand] = np.arange(cand.size, dtype=np.int32)
    offs = kv.OFFSETS_26
    best, shift = kv.basin_parents_numba(d, cand, cid, nx, ny, nz, offs)
    seed, off = kv.basin_seeds_numba(best, shift)
    start, eb, ev, bits = kv.basin_edges_numba(d, cand, cid, seed, off, nx, ny, nz, offs)
    ev_pts = np.flatnonzero(start[1:] > start[:-1]).astype(np.int32)
    events = ev_pts[np.argsort(-d[cand[ev_pts]], kind="stable")]  # the sweep's order
    seeds, comp_root, comp_perc, pore_root, level = kv.basin_merge_numba(
        d, cand, cid, best, seed, start, eb, ev, bits, events, probe, delta, nx, ny, nz, offs)
    sid, comp_id, pore_id, croots, pgrid = kv.basin_numbering_numba(
        d, cand, seed, seeds, comp_root, pore_root, probe)
    comp, labels = kv.basin_labels_numba(d, cand, seed, sid, probe, comp_id, pore_id, n)
    return comp, comp_perc[croots], level, pgrid, labels


#: Peak bytes per grid point of :func:`tessellate` (measured: 37 B on 200³ grids with the
#: distance field, labels, components and local thickness; rounded up).
BYTES_PER_GRID_POINT = 40


def tessellate(
    positions: np.ndarray,
    box: np.ndarray,
    species: Sequence[str] | np.ndarray | None = None,
    *,
    spacing: float = 0.3,
    radii: Mapping[str, float] | float = DEFAULT_RADII,
    probe: float = 0.0,
    merge_delta: float = DEFAULT_MERGE_DELTA,
    lt_tol: float = DEFAULT_LT_TOL,
    backend: str = "auto",
    max_memory: int | None = None,
) -> VoidMap:
    """Tessellate the void space of one periodic frame.

    Parameters
    ----------
    positions : (n, 3) float
        Framework atom positions, Å (any image; wrapped internally).
    box : (3, 3) float
        Cell, rows are cell vectors, Å (triclinic allowed).
    species : (n,) str, optional
        Element per atom; atoms whose species is not in ``radii`` raise. ``None`` = all
        atoms take the single radius (``radii`` a float or a one-entry mapping).
    spacing : float
        Target grid spacing along each cell vector, Å.
    radii : mapping or float
        Atomic radius per species, Å (default carbon vdW 1.7 Å).
    probe : float
        Probe radius, Å: the void is ``d >= probe``.
    merge_delta : float
        Persistence threshold of the watershed, Å: two basins meeting at a saddle of height
        ``d_s`` are one pore when the lower peak exceeds ``d_s`` by at most this.
    lt_tol : float
        Tolerance of the local-thickness centre pruning, Å: 0 (default) is exact; > 0 drops
        the centres whose ball lies inside a 26-neighbour's ball up to ``lt_tol`` (faster,
        local thickness lowered at a few points; docs/voids.md).
    backend : {"auto", "cpu", "cuda"}
        Backend of the distance field.
    max_memory : int, optional
        Memory budget, bytes (default the free memory): a grid whose estimated peak
        (:data:`BYTES_PER_GRID_POINT` per point) exceeds it is refused before allocation.

    Returns
    -------
    VoidMap

    Raises
    ------
    MemoryBudgetError
        When the grid cannot fit (e.g. a spacing far too fine for the cell).
    """
    h = np.asarray(box, dtype=np.float64)
    if h.shape != (3, 3) or abs(np.linalg.det(h)) < 1e-9:
        raise ValueError("box must be a non-singular 3x3 cell matrix (rows are cell vectors)")
    if spacing <= 0:
        raise ValueError(f"spacing={spacing}: must be positive (Å)")
    pos = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    if species is None:
        r = float(radii) if not isinstance(radii, Mapping) else float(next(iter(radii.values())))
        rad = np.full(len(pos), r)
    elif not isinstance(radii, Mapping):
        rad = np.full(len(pos), float(radii))
    else:
        rad = radii_for(species, radii)
    shape = kv.grid_shape(h, spacing)
    check_memory(BYTES_PER_GRID_POINT * float(np.prod(np.asarray(shape, dtype=np.float64))),
                 f"a void grid of {shape[0]} x {shape[1]} x {shape[2]} points "
                 f"(spacing {spacing:g} Å)", max_memory=max_memory,
                 hint="use a coarser spacing (0.25-0.5 Å resolves pores of hard carbon)")
    dist = distance_field(pos, h, rad, shape, backend=backend)
    return from_distance(dist, h, probe=probe, merge_delta=merge_delta, lt_tol=lt_tol,
                         params={"spacing": float(spacing), "probe": float(probe),
                                 "merge_delta": float(merge_delta), "lt_tol": float(lt_tol),
                                 "_atoms": (kv.wrap_fractional(pos, h), rad)})


def from_distance(
    distance: np.ndarray,
    box: np.ndarray,
    *,
    probe: float = 0.0,
    merge_delta: float = DEFAULT_MERGE_DELTA,
    lt_tol: float = DEFAULT_LT_TOL,
    params: dict | None = None,
) -> VoidMap:
    """Pores, throats, components and PLD from a distance field already on the grid."""
    if merge_delta < 0:
        raise ValueError(f"merge_delta={merge_delta}: must be >= 0 Å")
    h = np.asarray(box, dtype=np.float64)
    dist = np.ascontiguousarray(distance, dtype=np.float64)
    nx, ny, nz = dist.shape
    d = dist.ravel()
    probe = float(probe)
    cand = np.flatnonzero(d >= min(probe, 0.0))  # void points (down to d = 0 for the PLD)
    comp, perc, level, seeds, labels = _basins(d, cand, probe, float(merge_delta), nx, ny, nz)
    pld = np.where(np.isfinite(level), 2.0 * np.maximum(level, 0.0), 0.0)
    n_pores = seeds.size
    vox = abs(np.linalg.det(h)) / d.size
    npts = np.bincount(labels[labels >= 0], minlength=n_pores)
    sidx = np.stack(np.unravel_index(seeds, dist.shape), axis=1)
    centres = (sidx / np.array(dist.shape)) @ h
    # throats: highest min(d_p, d_q) over neighbouring points of two pores
    pa, pb, sv = kv.throat_pairs_numba(labels, d, nx, ny, nz, kv.OFFSETS_FORWARD_13, cand)
    if pa.size:
        key = pa * n_pores + pb
        o = np.lexsort((-sv, key))
        first = np.ones(o.size, dtype=bool)
        first[1:] = key[o][1:] != key[o][:-1]
        sel = o[first]
        throats = pd.DataFrame({"pore_a": pa[sel], "pore_b": pb[sel], "radius": sv[sel]})
    else:
        throats = pd.DataFrame({"pore_a": np.zeros(0, np.int64), "pore_b": np.zeros(0, np.int64),
                                "radius": np.zeros(0)})
    n_thr = np.bincount(np.concatenate([throats["pore_a"].to_numpy(),
                                        throats["pore_b"].to_numpy()]), minlength=n_pores)
    pores = pd.DataFrame({
        "volume": npts * vox,
        "radius": d[seeds] if n_pores else np.zeros(0),
        "centre_x": centres[:, 0], "centre_y": centres[:, 1], "centre_z": centres[:, 2],
        "n_points": npts,
        "n_throats": n_thr[:n_pores],
    })
    p = {"probe": float(probe), "merge_delta": float(merge_delta), "lt_tol": float(lt_tol)}
    p.update(params or {})
    return VoidMap(box=h, distance=dist, probe=float(probe), labels=labels.reshape(dist.shape),
                   components=comp.reshape(dist.shape), component_percolates=perc,
                   pld=pld, pores=pores, throats=throats, params=p)


# ---------------------------------------------------------------------------- per ion


def voronoi_volumes(positions: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Periodic Voronoi cell volume of every point (freud.locality.Voronoi), Å³."""
    import freud

    h = np.asarray(box, dtype=np.float64)
    fbox = freud.box.Box.from_matrix(h.T)
    frac = kv.wrap_fractional(positions, h)
    pts = np.asarray(fbox.make_absolute(frac), dtype=np.float64)
    vor = freud.locality.Voronoi()
    vor.compute((fbox, pts))
    return np.asarray(vor.volumes, dtype=np.float64)


def ion_descriptors(
    vm: VoidMap,
    ions: np.ndarray,
    framework: np.ndarray | None = None,
    *,
    framework_radii: np.ndarray | None = None,
    voronoi: bool = True,
) -> pd.DataFrame:
    """Void descriptors of ions in one frame.

    Parameters
    ----------
    vm : VoidMap
        The void map of the carbon frame (pores and throats come from it).
    ions : (n_ions, 3)
        Ion positions, Å.
    framework : (n, 3), optional
        Framework positions of this frame, Å, for the exact wall distance and the Voronoi
        tessellation; default the atoms the map was built from.
    framework_radii : (n,), optional
        Radii of ``framework``; default those of the map's atoms (or 1.7 Å).
    voronoi : bool
        Compute the Voronoi volumes (freud).

    Returns
    -------
    DataFrame with one row per ion: ``pore`` (id, -1 if none), ``pore_radius`` (Å),
    ``pore_volume`` (Å³), ``wall_distance`` (exact d at the ion, Å), ``pore_throats``,
    ``voronoi_volume`` (Å³, among framework + ions).
    """
    ions = np.atleast_2d(np.asarray(ions, dtype=np.float64))
    h = vm.box
    atoms = vm.params.get("_atoms")
    if framework is None:
        if atoms is None:
            raise ValueError("pass framework= positions: this VoidMap carries no atoms")
        afrac, rad = atoms
        framework = afrac @ h
    else:
        framework = np.asarray(framework, dtype=np.float64).reshape(-1, 3)
        if framework_radii is not None:
            rad = np.asarray(framework_radii, dtype=np.float64)
        elif atoms is not None and len(atoms[1]) == len(framework):
            rad = atoms[1]
        else:
            rad = np.full(len(framework), DEFAULT_RADII["C"])
        afrac = kv.wrap_fractional(framework, h)
    m, start, cells, w_min = kv.build_cell_list(afrac, h)
    d_wall = kv.distance_points_numba(kv.wrap_fractional(ions, h), afrac,
                                      np.ascontiguousarray(rad, np.float64), h, m, start, cells,
                                      w_min, kv.max_shell(h, w_min))
    pore = vm.pore_at(ions)
    ok = pore >= 0
    pr = np.full(len(ions), np.nan)
    pv = np.full(len(ions), np.nan)
    nt = np.zeros(len(ions), dtype=np.int64)
    pr[ok] = vm.pores["radius"].to_numpy()[pore[ok]]
    pv[ok] = vm.pores["volume"].to_numpy()[pore[ok]]
    nt[ok] = vm.pores["n_throats"].to_numpy()[pore[ok]]
    if voronoi:
        vv = voronoi_volumes(np.vstack([framework, ions]), h)[len(framework):]
    else:
        vv = np.full(len(ions), np.nan)
    return pd.DataFrame({"pore": pore, "pore_radius": pr, "pore_volume": pv,
                         "wall_distance": d_wall, "pore_throats": nt, "voronoi_volume": vv})


# ---------------------------------------------------------------------------- trajectories


def params_key(spacing, radii, probe, merge_delta) -> str:
    import json

    return json.dumps({"spacing": float(spacing), "radii": {k: float(v) for k, v in
                       sorted(dict(radii).items())}, "probe": float(probe),
                       "merge_delta": float(merge_delta)}, sort_keys=True)


def void_maps(
    traj,
    frames: np.ndarray,
    *,
    framework: str | Sequence[str] = "C",
    map_stride: int = 100,
    spacing: float = 0.3,
    radii: Mapping[str, float] | None = None,
    probe: float = 0.0,
    merge_delta: float = DEFAULT_MERGE_DELTA,
    backend: str = "auto",
    cache=None,
    progress: ProgressFn | None = None,
    on_map=None,
) -> dict[int, VoidMap]:
    """Void maps of the framework every ``map_stride`` analysed frames.

    Frame ``frames[i]`` uses the map of ``frames[(i // map_stride) * map_stride]`` (hard-carbon
    frameworks are nearly rigid at room temperature). ``cache`` is an open h5py group: maps
    found there with the same parameters are read back instead of recomputed, new ones are
    written there. ``progress``: :class:`hcanalysis.progress.ProgressFn`, called as
    ``progress("void maps", k, n_maps)`` (default the installed one); ``on_map``: deprecated
    (``on_map(frame)`` after each map; use ``progress``).

    Returns
    -------
    dict frame -> VoidMap
    """
    if map_stride < 1:
        raise ValueError(f"map_stride={map_stride}: must be >= 1 frame")
    on_map = old_callback("void_maps", "on_map", on_map)
    radii = dict(DEFAULT_RADII if radii is None else radii)
    key = params_key(spacing, radii, probe, merge_delta)
    fw = traj.indices(framework)
    species = traj.species[fw]
    out: dict[int, VoidMap] = {}
    todo = np.asarray(frames)[::map_stride]
    count = Counter(progress, "void maps", len(todo))
    count.update(0)
    for f in todo:
        f = int(f)
        name = f"frame_{f:09d}"
        if cache is not None and name in cache and cache[name].attrs.get("params_key") == key:
            out[f] = VoidMap.from_h5(cache[name])
        else:
            pos = traj.positions(fw, frames=[f])[0]
            out[f] = tessellate(pos, traj.box(f), species, spacing=spacing, radii=radii,
                                probe=probe, merge_delta=merge_delta, backend=backend)
            if cache is not None:
                if name in cache:
                    del cache[name]
                g = cache.create_group(name)
                out[f].to_h5(g)
                g.attrs["params_key"] = key
                g.attrs["frame"] = f
        if on_map is not None:
            on_map(f)
        count.advance()
    return out


def global_pore_ids(maps: Mapping[int, VoidMap]) -> dict[int, np.ndarray]:
    """A pore identity that persists across successive void maps.

    Maps are taken in frame order; a pore of a map takes the identity of the pore of the
    previous map that contains its centre (its largest inscribed sphere's centre), else a new
    identity. For a rigid framework every map gets the same identities.
    """
    out: dict[int, np.ndarray] = {}
    prev_ids = np.zeros(0, dtype=np.int64)
    prev: VoidMap | None = None
    nxt = 0
    for f in sorted(maps):
        vm = maps[f]
        ids = np.empty(vm.n_pores, dtype=np.int64)
        old = (prev.pore_at(vm.pore_centres) if prev is not None and vm.n_pores
               else np.full(vm.n_pores, -1))
        used: set[int] = set()
        for p in range(vm.n_pores):
            if old[p] >= 0 and int(prev_ids[old[p]]) not in used:
                ids[p] = prev_ids[old[p]]
            else:
                ids[p] = nxt
                nxt += 1
            used.add(int(ids[p]))
        out[f] = ids
        prev, prev_ids = vm, ids
    return out


@dataclass
class VoidDescriptors:
    """Per-ion void descriptors of a trajectory.

    Attributes
    ----------
    frames : (n_frames,) int
        Analysed frame indices.
    map_frame : (n_frames,) int
        Frame whose void map each analysed frame used.
    per_frame : dict of (n_frames, n_ions) arrays
        ``pore``, ``pore_radius`` (Å), ``pore_volume`` (Å³), ``wall_distance`` (Å),
        ``pore_throats``, ``voronoi_volume`` (Å³), ``global_pore`` (pore identity across maps).
    table : pandas.DataFrame
        One row per (ion, window): ``ion``, ``window``, ``atom_index``, ``t_start_ps``,
        ``t_stop_ps`` and the window means of ``pore_radius``, ``pore_volume``,
        ``wall_distance``, ``pore_throats``, ``voronoi_volume``, plus ``pores_visited`` (distinct
        pores the ion was in during the window, pores of successive maps identified by
        :func:`global_pore_ids`).
    maps : dict frame -> VoidMap
    """

    frames: np.ndarray
    map_frame: np.ndarray
    per_frame: dict
    table: pd.DataFrame
    maps: dict


def void_descriptors(
    traj,
    *,
    ions: str | Sequence[str] = "Na",
    framework: str | Sequence[str] = "C",
    frames: slice | Sequence[int] | np.ndarray = slice(None),
    window: int | None = None,
    stride: int | None = None,
    map_stride: int = 100,
    spacing: float = 0.3,
    radii: Mapping[str, float] | None = None,
    probe: float = 0.0,
    merge_delta: float = DEFAULT_MERGE_DELTA,
    voronoi: bool = True,
    backend: str = "auto",
    cache=None,
    progress: ProgressFn | None = None,
    on_frame=None,
) -> VoidDescriptors:
    """Per-ion void descriptors per frame and their means per window.

    Parameters
    ----------
    traj : Trajectory
    ions, framework : selection
        The mobile ions and the framework atoms (the void is the space between framework
        atoms).
    frames : slice or indices
        Frames analysed; windows (:func:`hcanalysis.windows.window_bounds`) count analysed
        frames.
    window, stride : int, optional
        Window length and stride in analysed frames (default one window of all frames).
    map_stride : int
        A new void map every this many analysed frames (see :func:`void_maps`).
    spacing, radii, probe, merge_delta, backend
        As :func:`tessellate`.
    voronoi : bool
        Compute the ions' Voronoi volumes among all framework atoms and ions (freud).
    cache : h5py group, optional
        Void-map cache (see :func:`void_maps`).
    progress : callable, optional
        :class:`hcanalysis.progress.ProgressFn`: ``("void maps", k, n)`` while the maps are
        made, then ``("voids: frames", i, n_frames)``; default the installed one.
    on_frame : callable, optional
        Deprecated (DeprecationWarning): called with each analysed frame index; use
        ``progress``.
    """
    import warnings

    from hcanalysis.windows import window_bounds

    warnings.warn("voids.void_descriptors is deprecated: hcanalysis.families.Voids is the one "
                  "estimator of these descriptors (the one of `hcanalysis voids` and "
                  "`analyze`); this function keeps its older estimator (a map every "
                  "map_stride frames, every frame averaged)", DeprecationWarning, stacklevel=2)
    on_frame = old_callback("void_descriptors", "on_frame", on_frame)
    fidx = np.arange(traj.n_frames)[frames] if isinstance(frames, slice) else np.asarray(frames)
    if fidx.size == 0:
        raise ValueError("no frames selected")
    radii = dict(DEFAULT_RADII if radii is None else radii)
    maps = void_maps(traj, fidx, framework=framework, map_stride=map_stride, spacing=spacing,
                     radii=radii, probe=probe, merge_delta=merge_delta, backend=backend,
                     cache=cache, progress=progress)
    fw = traj.indices(framework)
    ion_idx = traj.indices(ions)
    fw_rad = radii_for(traj.species[fw], radii)
    nf, ni = fidx.size, ion_idx.size
    cols = ("pore", "pore_radius", "pore_volume", "wall_distance", "pore_throats",
            "voronoi_volume")
    per = {c: np.zeros((nf, ni), dtype=np.int64 if c in ("pore", "pore_throats") else float)
           for c in cols}
    map_frame = np.asarray([fidx[(i // map_stride) * map_stride] for i in range(nf)])
    count = Counter(progress, "voids: frames", nf)
    count.update(0)
    for i, f in enumerate(fidx):
        vm = maps[int(map_frame[i])]
        pos = traj.positions(None, frames=[int(f)])[0]
        fwp = pos[fw]
        desc = ion_descriptors(vm, pos[ion_idx], fwp, framework_radii=fw_rad, voronoi=voronoi)
        for c in cols:
            per[c][i] = desc[c].to_numpy()
        if on_frame is not None:
            on_frame(int(f))
        count.advance()
    gid = global_pore_ids(maps)
    per["global_pore"] = np.where(per["pore"] >= 0, 0, -1)
    for i in range(nf):
        ok = per["pore"][i] >= 0
        per["global_pore"][i, ok] = gid[int(map_frame[i])][per["pore"][i, ok]]
    bounds = window_bounds(nf, window, stride)
    t = traj.time_ps[fidx]
    rows = []
    for w, (a, b) in enumerate(bounds):
        sl = slice(int(a), int(b))
        for j in range(ni):
            pid = per["pore"][sl, j]
            gp = per["global_pore"][sl, j]
            rows.append({
                "ion": j, "window": w, "atom_index": int(traj.atom_indices[ion_idx[j]]),
                "t_start_ps": float(t[a]), "t_stop_ps": float(t[b - 1]),
                "pore_radius": float(np.nanmean(per["pore_radius"][sl, j]))
                if np.any(pid >= 0) else np.nan,
                "pore_volume": float(np.nanmean(per["pore_volume"][sl, j]))
                if np.any(pid >= 0) else np.nan,
                "wall_distance": float(per["wall_distance"][sl, j].mean()),
                "pore_throats": float(per["pore_throats"][sl, j].mean()),
                "voronoi_volume": float(per["voronoi_volume"][sl, j].mean()),
                "pores_visited": int(np.unique(gp[gp >= 0]).size),
            })
    return VoidDescriptors(frames=fidx, map_frame=map_frame, per_frame=per,
                           table=pd.DataFrame(rows), maps=maps)



def grid_shape(box: np.ndarray, spacing: float) -> tuple[int, int, int]:
    """Grid points per cell vector for a spacing of about ``spacing`` (Å; at least 3 each),
    as :func:`tessellate` and :func:`distance_field` use."""
    return kv.grid_shape(box, spacing)


def grid_points(box: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Cartesian positions (Å) of the points of a ``shape`` grid over the cell ``box`` (rows
    are cell vectors): ``(nx * ny * nz, 3)``, C order, the order of :func:`distance_field`'s
    values raveled."""
    return kv.grid_fractional(shape) @ np.asarray(box, dtype=np.float64)

__all__ = [
    "DEFAULT_RADII",
    "VoidDescriptors",
    "VoidMap",
    "distance_field",
    "from_distance",
    "global_pore_ids",
    "grid_points",
    "grid_shape",
    "ion_descriptors",
    "tessellate",
    "void_descriptors",
    "void_maps",
    "voronoi_volumes",
]
