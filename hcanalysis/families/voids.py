"""The voids family: the void map of the framework and the ions' pores per (ion, window)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from hcanalysis.analysis import WindowedAnalysis, WindowPlan
from hcanalysis.config import VoidsConfig

_D = VoidsConfig()

#: Columns of ``arrays["first_map_pores"]``: the pores of the first void map (centre, Å;
#: radius of the largest inscribed sphere, Å; volume, Å³).
POR_COLUMNS = ("centre_x", "centre_y", "centre_z", "radius", "volume")


def _rmsd_min_image(a: np.ndarray, b: np.ndarray, box: np.ndarray) -> float:
    from hcanalysis.kernels.pbc import minimum_image

    d = minimum_image(a - b, box)
    return float(np.sqrt(np.mean(np.sum(d * d, axis=1))))


def window_void_maps(plan: WindowPlan, *, spacing: float = _D.spacing,
                     radii: Mapping[str, float] | None = None, probe: float = _D.probe,
                     merge_delta: float | None = None, remap_rmsd: float = _D.remap_rmsd,
                     map_stride: int | None = _D.map_stride,
                     cache=None) -> tuple[list, list[int]]:
    """One void map per window: the framework at the window's first frame, re-tessellated
    only when it moved by more than ``remap_rmsd`` Å (RMS, minimum image) since the last map,
    the box changed, or (``map_stride`` given) the last map is at least ``map_stride``
    analysed frames old; else the previous map is reused.

    The maps are shared through ``plan.shared`` by every family with the same parameters
    (voids and tortuosity use the same maps). ``cache`` is an open h5py group: maps found
    there with the same parameters are read back instead of recomputed, new ones written.

    Returns
    -------
    maps : list of VoidMap, one per window (the same object where reused)
    made : list of int, the analysed-frame positions where a map was made
    """
    from hcanalysis import voids

    radii = dict(voids.DEFAULT_RADII if radii is None else radii)
    merge = voids.DEFAULT_MERGE_DELTA if merge_delta is None else float(merge_delta)
    if map_stride is not None and map_stride < 1:
        raise ValueError(f"map_stride={map_stride}: must be >= 1 frame")
    key = ("void_maps", voids.params_key(spacing, radii, probe, merge), float(remap_rmsd),
           map_stride)
    if key in plan.shared:
        return plan.shared[key]
    fw = plan.traj.indices(plan.framework)
    species = plan.traj.species[fw]
    last_c, last_map, made, maps = None, None, [], []
    for k, (a, _b) in enumerate(plan.bounds):
        f = int(plan.frames[a])
        c = plan.traj.positions(fw, frames=[f])[0]
        box = plan.traj.box(f)
        if (last_c is None or not np.allclose(box, last_map.box)
                or (map_stride is not None and a - made[-1] >= map_stride)
                or _rmsd_min_image(c, last_c, box) > remap_rmsd):
            name = f"frame_{f:09d}"
            if cache is not None and name in cache and \
                    cache[name].attrs.get("params_key") == key[1]:
                last_map = voids.VoidMap.from_h5(cache[name])
            else:
                last_map = voids.tessellate(c, box, species, spacing=spacing, radii=radii,
                                            probe=probe, merge_delta=merge,
                                            backend=plan.backend, max_memory=plan.max_memory)
                if cache is not None:
                    if name in cache:
                        del cache[name]
                    g = cache.create_group(name)
                    last_map.to_h5(g)
                    g.attrs["params_key"] = key[1]
                    g.attrs["frame"] = f
            last_c = c
            made.append(int(a))
        maps.append(last_map)
        plan.tick("void maps", k + 1, plan.n_windows)
    plan.shared[key] = (maps, made)
    return maps, made



def framework_radii(framework: str | Sequence[str], carbon_radius: float,
                    radii: Mapping[str, float] | None = None) -> dict[str, float]:
    """Radius per framework species for the void map, Å: ``carbon_radius`` for each, then
    ``radii`` where given."""
    fw = [framework] if isinstance(framework, str) else list(framework)
    out = {s: carbon_radius for s in fw}
    out.update(radii or {})
    return out

class Voids(WindowedAnalysis):
    """Per-ion void descriptors per (ion, window) (docs/voids.md): ``pore_radius``,
    ``pore_volume``, ``wall_distance``, ``pore_throats``, ``pores_visited``,
    ``voronoi_volume``.

    The estimator (the one of the CLI, the Python API and ``hcanalysis analyze``): one void
    map per window (:func:`window_void_maps`: the framework at the window's first frame,
    re-tessellated only when it moved by more than ``remap_rmsd``), the ions' descriptors
    (:func:`hcanalysis.voids.ion_descriptors`) at up to ``frames_per_window`` evenly spaced
    frames of the window, averaged (NaN-aware); ``pores_visited`` counts the distinct pores
    the ion was in at those frames, pores of successive maps identified by
    :func:`hcanalysis.voids.global_pore_ids`.

    Parameters
    ----------
    ions, framework : str or list of str
    spacing : float
        Grid spacing, Å.
    carbon_radius : float
        Radius of carbon atoms, Å (``radii`` for other species).
    radii : dict, optional
        Radius per framework species, Å (overrides ``carbon_radius``).
    probe : float
        Probe radius of the void, Å.
    merge_delta : float, optional
        Watershed persistence threshold, Å (default :data:`voids.DEFAULT_MERGE_DELTA`).
    remap_rmsd : float
        A new map when the framework moved more than this (RMS, Å) since the last one.
    map_stride : int, optional
        Also a new map once the last one is this many analysed frames old.
    frames_per_window : int
        Frames sampled per window.
    voronoi : bool
        Compute the ions' Voronoi volumes (else NaN).
    cache : h5py group, optional
        Void-map cache (see :func:`window_void_maps`).
    """

    family = "voids"
    columns = ("pore_radius", "pore_volume", "wall_distance", "pore_throats", "voronoi_volume",
               "pores_visited")

    def __init__(self, *, ions: str | Sequence[str] = "Na", framework: str | Sequence[str] = "C",
                 spacing: float = _D.spacing, carbon_radius: float = _D.carbon_radius,
                 radii: Mapping[str, float] | None = None, probe: float = _D.probe,
                 merge_delta: float | None = None, remap_rmsd: float = _D.remap_rmsd,
                 map_stride: int | None = _D.map_stride,
                 frames_per_window: int = _D.frames_per_window, voronoi: bool = True,
                 cache=None) -> None:
        super().__init__(ions=ions, framework=framework)
        self.spacing = float(spacing)
        self.carbon_radius = float(carbon_radius)
        self.radii = None if radii is None else {k: float(v) for k, v in dict(radii).items()}
        self.probe = float(probe)
        self.merge_delta = merge_delta
        self.remap_rmsd = float(remap_rmsd)
        self.map_stride = None if map_stride is None else int(map_stride)
        self.frames_per_window = int(frames_per_window)
        self.voronoi = bool(voronoi)
        self._cache = cache
        self.maps: list = []
        self.per_frame: dict[str, np.ndarray] = {}

    @classmethod
    def from_config(cls, cfg) -> Voids:
        """The family as ``hcanalysis analyze`` runs it (an :class:`AnalysisConfig`)."""
        v = cfg.voids
        return cls(ions=cfg.species, framework=cfg.carbon, spacing=v.spacing,
                   carbon_radius=v.carbon_radius, probe=v.probe, remap_rmsd=v.remap_rmsd,
                   map_stride=v.map_stride, frames_per_window=v.frames_per_window)

    def params(self):
        """The parameters given to ``__init__`` (JSON-serialisable)."""
        p = super().params()
        for k in ("maps", "per_frame"):
            p.pop(k, None)
        return p

    def map_radii(self) -> dict[str, float]:
        """Radius per framework species, Å."""
        return framework_radii(self.framework, self.carbon_radius, self.radii)

    def window_maps(self, plan: WindowPlan) -> tuple[list, list[int]]:
        """The plan's void maps with these parameters (see :func:`window_void_maps`)."""
        return window_void_maps(plan, spacing=self.spacing, radii=self.map_radii(),
                                probe=self.probe, merge_delta=self.merge_delta,
                                remap_rmsd=self.remap_rmsd, map_stride=self.map_stride,
                                cache=self._cache)

    def _run(self, plan: WindowPlan) -> None:
        from hcanalysis import voids
        from hcanalysis.voids import global_pore_ids

        maps, made = self.window_maps(plan)
        self.maps = maps
        samples = plan.sample_frames(self.frames_per_window)
        ion_idx = plan.ion_sel
        fw_idx = plan.traj.indices(self.framework)
        fw_rad = voids.radii_for(plan.traj.species[fw_idx], self.map_radii())
        keys = ["pore_radius", "pore_volume", "wall_distance", "pore_throats",
                "voronoi_volume"]
        acc = {k: np.full((plan.n_ions, plan.n_windows), np.nan) for k in keys}
        visited = np.zeros((plan.n_ions, plan.n_windows))
        uniq = {id(m): m for m in maps}
        order = sorted(uniq, key=lambda i: next(k for k, m in enumerate(maps) if id(m) == i))
        gids = global_pore_ids({n: uniq[i] for n, i in enumerate(order)})
        gid_of = {i: gids[n] for n, i in enumerate(order)}
        per = {k: [] for k in ["pore", *keys]}
        pf = []
        n_done, n_total = 0, sum(len(s) for s in samples)
        for k, fr in enumerate(samples):
            vm = maps[k]
            rows, pores = [], []
            for f in fr:
                frame = plan.traj.positions(frames=[int(plan.frames[f])])[0]  # one read
                df = voids.ion_descriptors(vm, frame[ion_idx], frame[fw_idx],
                                           framework_radii=fw_rad, voronoi=self.voronoi)
                rows.append(df[keys].to_numpy(dtype=float))
                pores.append(df["pore"].to_numpy())
                for c in per:
                    per[c].append(df[c].to_numpy())
                pf.append(int(plan.frames[f]))
                n_done += 1
                plan.tick("voids", n_done, n_total)
            stack = np.stack(rows)  # (n_samples, n_ions, n_keys)
            ok = np.isfinite(stack)
            n = ok.sum(axis=0)
            mean = np.where(n > 0, np.where(ok, stack, 0.0).sum(axis=0) / np.maximum(n, 1),
                            np.nan)
            for j, key in enumerate(keys):
                acc[key][:, k] = mean[:, j]
            p = np.stack(pores)
            g = np.where(p >= 0, gid_of[id(vm)][np.maximum(p, 0)], -1)
            visited[:, k] = [len(set(g[:, i][g[:, i] >= 0].tolist()))
                             for i in range(plan.n_ions)]
        self.values = {**acc, "pores_visited": visited}
        self.values = {c: self.values[c] for c in self.columns}
        self.per_frame = {c: np.stack(v) for c, v in per.items()}
        self.per_frame["frames"] = np.asarray(pf)
        vm = maps[0]
        frac, edges = vm.psd(30)
        self.arrays = {"psd_edges": np.asarray(edges), "psd_fraction": np.asarray(frac),
                       "map_windows": np.asarray(made),
                       # the first map's pores (the report's 3D view draws them)
                       "first_map_pores": vm.pores[list(POR_COLUMNS)].to_numpy(dtype=float)}
        self.report = (
            f"{len(made)} void map(s) for {plan.n_windows} window(s), grid {vm.shape}, "
            f"porosity {vm.porosity:.3f}, LCD {vm.lcd:.2f} Å, "
            f"PLD {np.round(vm.pld, 2).tolist()} Å")
        self.meta["map_frames"] = [int(plan.frames[a]) for a in made]

    def plot(self, ax=None, column: str | None = None):
        """Pore-size distribution (local-thickness diameter) of the first void map, or with
        ``column`` a histogram of that descriptor. Returns the axes."""
        import matplotlib.pyplot as plt

        if column is not None:
            return super().plot(ax, column)
        self._check_computed()
        if ax is None:
            _fig, ax = plt.subplots(figsize=(5, 3.5))
        edges = np.asarray(self.arrays["psd_edges"])
        frac = np.asarray(self.arrays["psd_fraction"])
        ax.bar(2 * edges[:-1], frac, width=2 * np.diff(edges), align="edge", color="tab:blue")
        ax.set_xlabel("local thickness diameter (Å)")
        ax.set_ylabel("fraction of void volume")
        return ax
