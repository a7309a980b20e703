"""Geodesic tortuosity of the void space: global per cell axis, and local per ion.

Contract (used by outside checks): :func:`global_tortuosity` ``(void, spacing=None) -> result``
with ``result.tau`` (3 values, one per cell axis a, b, c; ``inf`` where the void does not
percolate), and :func:`local` ``(void, points, radius=6.0)`` with ``.tau`` and ``.reachable``
per point.

``void`` is a :class:`hcanalysis.voids.VoidMap` (its ``mask`` and ``box`` are used), a
:class:`VoidGrid`, or a periodic boolean grid (``True`` = void) with ``box=`` (3x3 cell, rows
a, b, c, Å) or ``spacing=`` (voxel size of an orthogonal grid, Å; scalar or 3 values). Grid
point ``(i, j, k)`` sits at fractional coordinates ``(i/nx, j/ny, k/nz)``.

Definitions (see ``docs/tortuosity.md``):

* geodesic distance: shortest path through void grid points, 26-connected, each step weighted
  by its Euclidean length from the cell metric (Dijkstra, exact on that graph), or fast
  marching (sub-grid accurate; orthogonal cells);
* global tau along axis a: geodesic distance from a void point p of the start plane
  ``i = start_plane`` to its own periodic image ``p + a``, divided by ``|a|``; mean, median and
  distribution over start points that belong to the network percolating along a (all of them
  with ``exact=True``, else up to ``max_starts`` drawn with ``seed``);
* local tau of a point: from its grid point (the nearest void grid point if it sits in the
  wall; reported), the mean of geodesic / Euclidean distance over the void grid points of the
  shell ``|d| in [R - h/2, R + h/2]`` reachable by a path of at most ``max_ratio * R``; and the
  reachable fraction of the shell's grid points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from hcanalysis.deprecation import old_callback
from hcanalysis.kernels import tortuosity as K
from hcanalysis.kernels.backend import resolve_backend
from hcanalysis.memory import check_memory
from hcanalysis.progress import Counter, ProgressFn

_METHODS = ("dijkstra", "fmm")


def _backend(backend: str | None) -> str:
    """The tortuosity's GPU path (relaxation sweeps) does more work than the CPU's A* /
    early-stopped Dijkstra on these single-source queries, so ``auto`` keeps the CPU here
    unless ``HCANALYSIS_BACKEND`` says otherwise (see :mod:`hcanalysis.kernels.backend`)."""
    return resolve_backend(backend, gpu_faster=False)


# ---------------------------------------------------------------------------------- input
@dataclass
class VoidGrid:
    """A periodic void grid with its cell.

    Parameters
    ----------
    mask : (nx, ny, nz) bool
        Void grid points.
    box : (3, 3) float
        Cell matrix, rows are the cell vectors a, b, c, Å.

    The grid is treated as immutable: its periodic components (:func:`percolation`) are
    computed once and shared by every analysis given the same ``VoidGrid`` (global and local
    tortuosity), so build a new one after changing a mask.
    """

    mask: np.ndarray
    box: np.ndarray
    _percolation: Percolation | None = field(default=None, init=False, repr=False,
                                             compare=False)

    def __post_init__(self) -> None:
        self.mask = np.asarray(self.mask, dtype=bool)
        self.box = np.asarray(self.box, dtype=np.float64)
        if self.mask.ndim != 3:
            raise ValueError(f"void mask must be 3-D, got shape {self.mask.shape}")
        if self.box.shape != (3, 3):
            raise ValueError(f"box must be a 3x3 cell matrix, got shape {self.box.shape}")
        if abs(np.linalg.det(self.box)) < 1e-12:
            raise ValueError("box is singular: its rows must be three independent cell vectors")

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.mask.shape)  # type: ignore[return-value]

    def cart_to_index(self, xyz: np.ndarray) -> np.ndarray:
        """Cartesian positions (..., 3), Å -> nearest grid index, wrapped."""
        n = np.asarray(self.shape)
        s = np.asarray(xyz, dtype=np.float64) @ np.linalg.inv(self.box)
        return np.mod(np.rint(s * n).astype(np.int64), n)


def as_void_grid(void, spacing=None, box=None) -> VoidGrid:
    """Normalise the accepted inputs to a :class:`VoidGrid` (see the module docstring).

    A plain array with neither ``box`` nor ``spacing`` is taken as a cubic grid of 1 Å voxels
    (tortuosity is scale-free, so only the voxel shape matters).
    """
    if isinstance(void, VoidGrid):
        return void
    if hasattr(void, "mask") and hasattr(void, "box"):
        return VoidGrid(np.asarray(void.mask, dtype=bool), np.asarray(void.box, dtype=float))
    mask = np.asarray(void)
    if mask.dtype != bool:
        raise ValueError("void must be a VoidMap, a VoidGrid or a boolean grid (True = void)")
    if box is not None:
        return VoidGrid(mask, np.asarray(box, dtype=float))
    sp = np.broadcast_to(np.asarray(1.0 if spacing is None else spacing, dtype=float), (3,))
    if np.any(sp <= 0):
        raise ValueError(f"spacing must be positive, got {spacing}")
    return VoidGrid(mask, np.diag(sp * np.asarray(mask.shape, dtype=float)))


# ---------------------------------------------------------------------------------- percolation
@dataclass
class Percolation:
    """Connected void components and which of them percolate along each cell axis.

    ``labels`` (-1 in the wall), ``percolates`` (n_components, 3) bool (exact: a path from p
    to p + cell vector exists), ``network`` (3, nx, ny, nz) bool: void points of components
    percolating along each axis; ``fraction`` (3,) of the void in them, ``any_fraction`` of
    the void in components percolating along at least one axis (the rest are dead-end /
    closed pores).
    """

    labels: np.ndarray
    percolates: np.ndarray

    @cached_property
    def network(self) -> np.ndarray:
        lab = self.labels
        out = np.zeros((3, *lab.shape), dtype=bool)
        if self.percolates.size == 0:
            return out
        ok = lab >= 0
        for ax in range(3):
            out[ax][ok] = self.percolates[lab[ok], ax]
        return out

    @property
    def fraction(self) -> np.ndarray:
        n_void = max(int((self.labels >= 0).sum()), 1)
        return self.network.reshape(3, -1).sum(axis=1) / n_void

    @property
    def any_fraction(self) -> float:
        n_void = max(int((self.labels >= 0).sum()), 1)
        return float(self.network.any(axis=0).sum() / n_void)


def percolation(void, spacing=None, box=None) -> Percolation:
    """Periodic 26-connected components of the void and their percolation per axis (computed
    once per :class:`VoidGrid` and kept on it)."""
    g = as_void_grid(void, spacing, box)
    if g._percolation is None:
        g._percolation = Percolation(*K.wrapping_components(g.mask))
    return g._percolation


# ---------------------------------------------------------------------------------- global
@dataclass
class GlobalTortuosity:
    """Global geodesic tortuosity per cell axis (a, b, c).

    Attributes
    ----------
    tau : (3,) float
        Mean over start points of geodesic(p -> p + cell vector) / |cell vector|; ``inf``
        where no start point has a path (the void does not percolate along that axis), ``nan``
        for an axis not computed.
    median, std : (3,) float
        Median and standard deviation over start points.
    samples : tuple of 3 arrays
        tau of every start point used, per axis.
    starts : tuple of 3 (n, 3) int arrays
        Grid indices of those start points.
    percolates : (3,) bool
        Some path to the own image exists along the axis.
    start_fraction : (3,) float
        Fraction of the start plane's void points that belong to the percolating network.
    network_fraction : (3,) float
        Fraction of the void belonging to components percolating along each axis.
    connected_fraction : float
        Fraction of the void in components percolating along at least one axis;
        ``1 - connected_fraction`` is in closed (dead-end) pores.
    porosity : float
    lengths : (3,) float
        |a|, |b|, |c|, Å.
    method, exact, params
    """

    tau: np.ndarray
    median: np.ndarray
    std: np.ndarray
    samples: tuple
    starts: tuple
    percolates: np.ndarray
    start_fraction: np.ndarray
    network_fraction: np.ndarray
    connected_fraction: float
    porosity: float
    lengths: np.ndarray
    method: str
    exact: bool
    params: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Scalars and per-axis values as plain lists (JSON-friendly)."""
        return {
            "tau": self.tau.tolist(), "median": self.median.tolist(), "std": self.std.tolist(),
            "n_starts": [len(s) for s in self.samples],
            "percolates": self.percolates.tolist(),
            "start_fraction": self.start_fraction.tolist(),
            "network_fraction": self.network_fraction.tolist(),
            "connected_fraction": self.connected_fraction, "porosity": self.porosity,
            "method": self.method, "exact": self.exact, **self.params,
        }


def global_tortuosity(
    void,
    spacing: float | Sequence[float] | None = None,
    *,
    box: np.ndarray | None = None,
    axes: Sequence[int] = (0, 1, 2),
    max_starts: int = 32,
    exact: bool = False,
    seed: int = 0,
    start_plane: int = 0,
    method: str = "dijkstra",
    order: int = 2,
    max_ratio: float = 10.0,
    backend: str = "auto",
) -> GlobalTortuosity:
    """Global geodesic tortuosity along each cell axis.

    Parameters
    ----------
    void : VoidMap, VoidGrid or (nx, ny, nz) bool
        The void grid (periodic).
    spacing : float or 3 floats, optional
        Voxel size (Å) of an orthogonal grid when ``void`` is a bare array without ``box``.
    box : (3, 3), optional
        Cell matrix for a bare array (triclinic allowed).
    axes : sequence of int
        Axes to compute (others give ``nan``).
    max_starts : int
        Start points drawn (without replacement, ``seed``) from the start plane's void points in
        the percolating network; ignored with ``exact=True`` (all of them).
    start_plane : int
        Grid plane index along the axis holding the start points.
    method : {"dijkstra", "fmm"}
        26-connected Dijkstra (A* towards the image; exact on the graph), or fast marching
        (orthogonal cells; explores the whole unrolled grid: slow on large grids).
    order : {1, 2}
        Fast-marching order.
    max_ratio : float
        Paths longer than ``max_ratio`` cell lengths are not followed.
    backend : {"auto", "cpu", "cuda"}
        ``cuda``: batched relaxation sweeps on the GPU (Dijkstra metric), on request only
        (``auto`` = CPU unless ``HCANALYSIS_BACKEND`` is set).

    Returns
    -------
    GlobalTortuosity
    """
    if method not in _METHODS:
        raise ValueError(f"method={method!r}: use one of {_METHODS}")
    g = as_void_grid(void, spacing, box)
    be = _backend(backend)
    if be == "cuda" and method != "dijkstra":
        raise ValueError("backend='cuda' computes the Dijkstra metric; use method='dijkstra'")
    perc = percolation(g)
    network = perc.network
    rng = np.random.default_rng(seed)
    lengths = np.linalg.norm(g.box, axis=1)
    tau = np.full(3, np.nan)
    med = np.full(3, np.nan)
    std = np.full(3, np.nan)
    start_frac = np.full(3, np.nan)
    samples: list[np.ndarray] = [np.zeros(0)] * 3
    starts_out: list[np.ndarray] = [np.zeros((0, 3), dtype=np.int64)] * 3
    for ax in axes:
        ax = int(ax)
        n = g.shape[ax]
        plane = int(start_plane) % n
        sl = [slice(None)] * 3
        sl[ax] = plane
        pv = np.argwhere(g.mask[tuple(sl)])
        pn = np.argwhere(network[ax][tuple(sl)])
        start_frac[ax] = len(pn) / len(pv) if len(pv) else 0.0
        if len(pn) == 0:
            tau[ax] = med[ax] = np.inf
            std[ax] = np.nan
            continue
        if not exact and len(pn) > max_starts:
            pn = pn[np.sort(rng.choice(len(pn), size=max_starts, replace=False))]
        st = np.insert(pn, ax, plane, axis=1).astype(np.int64)
        if be == "cuda":
            d = K.image_distances_cuda(g.mask, g.box, ax, st)
        else:
            d = K.image_distances(g.mask, g.box, ax, st, method=method, order=order,
                                  max_ratio=max_ratio)
        t = d / lengths[ax]
        samples[ax] = t
        starts_out[ax] = st
        fin = t[np.isfinite(t)]
        tau[ax] = fin.mean() if fin.size else np.inf
        med[ax] = np.median(fin) if fin.size else np.inf
        std[ax] = fin.std() if fin.size > 1 else 0.0
    return GlobalTortuosity(
        tau=tau, median=med, std=std, samples=tuple(samples), starts=tuple(starts_out),
        percolates=perc.percolates.any(axis=0) if perc.percolates.size else np.zeros(3, bool),
        start_fraction=start_frac, network_fraction=perc.fraction,
        connected_fraction=perc.any_fraction, porosity=float(g.mask.mean()), lengths=lengths,
        method=method, exact=bool(exact),
        params={"max_starts": int(max_starts), "seed": int(seed), "start_plane": int(start_plane),
                "max_ratio": float(max_ratio), "backend": be, "shape": list(g.shape)},
    )


def geodesic_field(void, seeds_xyz: np.ndarray, spacing=None, *, box=None,
                   method: str = "dijkstra", order: int = 2) -> np.ndarray:
    """Periodic geodesic distance field (Å) from the grid points nearest the given Cartesian
    seeds (multi-source); ``inf`` in the wall and in void not connected to a seed."""
    g = as_void_grid(void, spacing, box)
    idx = g.cart_to_index(np.atleast_2d(seeds_xyz))
    flat = np.ravel_multi_index(idx.T, g.shape)
    if method == "fmm":
        si, sd = [], []
        for f in flat:
            a, b = K.point_source_init(g.mask, g.box, int(f))
            si.append(a)
            sd.append(b)
        return K.geodesic_fmm(g.mask, g.box, np.concatenate(si), np.concatenate(sd),
                              order=order)
    return K.geodesic_dijkstra(g.mask, g.box, flat)


# ---------------------------------------------------------------------------------- local
@dataclass
class LocalTortuosity:
    """Local geodesic tortuosity per point.

    Attributes
    ----------
    tau : (n,) float
        Mean geodesic / Euclidean distance over the reachable void points of the shell
        (``nan`` when none is reachable).
    reachable : (n,) float
        Reachable shell points / all shell grid points.
    void_fraction : (n,) float
        Void shell points / all shell grid points (upper bound of ``reachable``).
    grid_index : (n, 3) int
        Grid point the paths start from (-1 when no void point was found).
    snapped : (n,) bool
        The point's own grid point is wall and the nearest void grid point was used.
    snap_distance : (n,) float
        Distance from the point to the grid point used, Å.
    n_shell : int
        Grid points on the shell.
    radius, thickness, max_ratio : float
        Shell radius and thickness, Å; path-length cap in units of the radius.
    """

    tau: np.ndarray
    reachable: np.ndarray
    void_fraction: np.ndarray
    grid_index: np.ndarray
    snapped: np.ndarray
    snap_distance: np.ndarray
    n_shell: int
    radius: float
    thickness: float
    max_ratio: float
    method: str


def _check_local_memory(g: VoidGrid, radius: float, thickness: float, cutoff: float,
                        max_memory: int | None) -> None:
    """Refuse a shell radius whose offset table (the box of half-width R + thickness, ~40 B
    per point while the shell is cut out of it) or whose per-thread search boxes (half-width
    ``max_ratio * R``, 9 B per point: state and distance) cannot fit."""
    import numba

    def points(reach: float) -> float:
        m = K.local_extent(g.box, g.shape, reach)
        return float(np.prod(2.0 * np.asarray(m, dtype=np.float64) + 1.0))

    need = max(40.0 * points(radius + thickness),
               9.0 * points(cutoff) * numba.get_num_threads())
    check_memory(need, f"local tortuosity on shells of radius {radius:g} Å",
                 max_memory=max_memory,
                 hint="use a smaller radius (up to half the cell width is meaningful; "
                      "6 Å by default)")


def local(
    void,
    points: np.ndarray,
    radius: float = 6.0,
    *,
    spacing=None,
    box: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    thickness: float | None = None,
    max_ratio: float = 2.0,
    method: str = "dijkstra",
    order: int = 2,
    snap_distance: float = 3.0,
    backend: str = "auto",
    chunk: int = 1024,
    max_memory: int | None = None,
) -> LocalTortuosity:
    """Local geodesic tortuosity around points (ions).

    Parameters
    ----------
    void : VoidMap, VoidGrid or (nx, ny, nz) bool
    points : (n, 3) float
        Cartesian positions, Å (any image; wrapped onto the grid).
    radius : float
        Shell radius R, Å.
    thickness : float, optional
        Shell thickness, Å (default the largest grid spacing along a, b, c, ``h``): the shell is
        the grid offsets d with ``|d|`` in ``[R - h/2, R + h/2]`` (minimum image: each offset
        is a distinct lattice vector, so R up to half the cell is meaningful).
    max_ratio : float
        Paths longer than ``max_ratio * R`` are not followed; shell points farther by geodesic
        count as unreachable.
    method : {"dijkstra", "fmm"}
        26-connected Dijkstra (biased high by ~8.8% on average over directions, up to 12.8%)
        or fast marching (orthogonal cells; second order by default, ~1% on the open shell).
    snap_distance : float
        How far (Å) to look for a void grid point when the point's own grid point is wall.
    labels : (nx, ny, nz) int, optional
        Periodic 26-connected component ids (default ``void.components`` of a VoidMap, else
        computed); only used to stop searches early, results do not depend on it.
    backend : {"auto", "cpu", "cuda"}
        ``cuda``: batched relaxation on local boxes (Dijkstra metric), on request only
        (``auto`` = CPU unless ``HCANALYSIS_BACKEND`` is set).
    chunk : int
        Ions per kernel call (bounds the memory of the shell-distance block).
    max_memory : int, optional
        Memory budget, bytes (default the free memory): a radius whose shell and search boxes
        cannot fit is refused before allocation.

    Returns
    -------
    LocalTortuosity

    Raises
    ------
    MemoryBudgetError
        When the shell and search boxes of ``radius`` cannot fit.
    """
    if method not in _METHODS:
        raise ValueError(f"method={method!r}: use one of {_METHODS}")
    if radius <= 0:
        raise ValueError(f"radius={radius}: must be positive (Å)")
    g = as_void_grid(void, spacing, box)
    be = _backend(backend)
    if be == "cuda" and method != "dijkstra":
        raise ValueError("backend='cuda' computes the Dijkstra metric; use method='dijkstra'")
    pts = np.atleast_2d(np.asarray(points, dtype=np.float64))
    h = float(np.max(np.linalg.norm(g.box, axis=1) / np.asarray(g.shape)))
    thick = h if thickness is None else float(thickness)
    _check_local_memory(g, float(radius), thick, float(max_ratio) * float(radius), max_memory)
    offs, r = K.shell_offsets(g.box, g.shape, float(radius), thick)
    own = g.cart_to_index(pts)
    idx = K.nearest_void(g.mask, g.box, own, snap_distance) if len(pts) else own
    found = idx[:, 0] >= 0
    snapped = found & np.any(idx != own, axis=1)
    frac = pts @ np.linalg.inv(g.box)
    d_snap = np.full(len(pts), np.nan)
    if found.any():
        dv = (idx[found] / np.asarray(g.shape) - frac[found])
        d_snap[found] = np.linalg.norm((dv - np.rint(dv)) @ g.box, axis=1)
    cutoff = float(max_ratio) * float(radius)
    n = len(pts)
    tau = np.full(n, np.nan)
    reach = np.zeros(n)
    vfrac = np.zeros(n)
    if found.any() and len(offs):
        cs = idx[found]
        if be == "cuda":
            dist = K.local_shell_distances_cuda(g.mask, g.box, cs, offs, cutoff)
        else:
            if labels is None:
                comp = getattr(void, "components", None)
                if comp is not None and np.shape(comp) == g.shape:
                    labels = comp
                elif len(cs) > 8 or g._percolation is not None:
                    labels = percolation(g).labels
            # ions in chunks: the (n, n_shell) distance block stays bounded (streaming)
            dist = np.concatenate([
                K.local_shell_distances(g.mask, g.box, cs[lo:lo + chunk], offs, cutoff,
                                        method=method, order=order, labels=labels)
                for lo in range(0, len(cs), chunk)])
        ok = np.isfinite(dist)
        ratio = np.where(ok, dist / r, 0.0)
        cnt = ok.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            tau[found] = np.where(cnt > 0, ratio.sum(axis=1) / np.maximum(cnt, 1), np.nan)
        reach[found] = cnt / len(offs)
        shape = np.asarray(g.shape)
        vf = np.empty(len(cs))
        for q, c in enumerate(cs):
            p = (c + offs) % shape
            vf[q] = g.mask[p[:, 0], p[:, 1], p[:, 2]].mean()
        vfrac[found] = vf
    return LocalTortuosity(tau=tau, reachable=reach, void_fraction=vfrac, grid_index=idx,
                           snapped=snapped, snap_distance=d_snap, n_shell=len(offs),
                           radius=float(radius), thickness=thick, max_ratio=float(max_ratio),
                           method=method)


# ---------------------------------------------------------------------------------- windows
@dataclass
class LocalPerWindow:
    """Local tortuosity per (ion, window): ``tau``, ``reachable``, ``snapped`` (fraction of
    samples whose grid point was snapped off the wall), all ``(n_ions, n_windows)``; the
    window ``bounds`` (in analysed frames), the analysed ``frames``, the ``sample_frames``
    used and the void ``maps`` (frame -> VoidMap)."""

    tau: np.ndarray
    reachable: np.ndarray
    snapped: np.ndarray
    bounds: np.ndarray
    frames: np.ndarray
    sample_frames: np.ndarray
    maps: dict


def local_per_window(
    traj,
    *,
    ions="Na",
    framework="C",
    frames=slice(None),
    window: int | None = None,
    stride: int | None = None,
    sample_stride: int = 10,
    map_stride: int = 100,
    spacing: float = 0.3,
    radii=None,
    probe: float = 0.0,
    radius: float = 6.0,
    max_ratio: float = 2.0,
    method: str = "dijkstra",
    backend: str = "auto",
    cache=None,
    progress: ProgressFn | None = None,
    on_sample=None,
) -> LocalPerWindow:
    """Local tortuosity of every ion sampled every ``sample_stride`` analysed frames and
    averaged per window (:func:`hcanalysis.windows.window_bounds` over analysed frames).

    Each sample uses the void map of its block of ``map_stride`` analysed frames
    (:func:`hcanalysis.voids.void_maps`, the carbon-frame stride of the void maps).
    ``progress``: :class:`hcanalysis.progress.ProgressFn` (``"void maps"``, then
    ``"tortuosity: samples"``); ``on_sample``: deprecated (``on_sample(frame)`` after each
    sample; use ``progress``).
    """
    import warnings

    from hcanalysis import voids
    from hcanalysis.windows import window_bounds

    warnings.warn("tortuosity.local_per_window is deprecated: hcanalysis.families.Tortuosity "
                  "is the one estimator of local_tortuosity (the one of `hcanalysis "
                  "tortuosity` and `analyze`); this function keeps its older estimator",
                  DeprecationWarning, stacklevel=2)
    on_sample = old_callback("local_per_window", "on_sample", on_sample)
    fidx = np.arange(traj.n_frames)[frames] if isinstance(frames, slice) else np.asarray(frames)
    if fidx.size == 0:
        raise ValueError("no frames selected")
    if sample_stride < 1:
        raise ValueError(f"sample_stride={sample_stride}: must be >= 1 frame")
    maps = voids.void_maps(traj, fidx, framework=framework, map_stride=map_stride,
                           spacing=spacing, radii=radii, probe=probe, backend=backend,
                           cache=cache, progress=progress)
    bounds = window_bounds(len(fidx), window, stride)
    ion_idx = traj.indices(ions)
    samples = np.arange(0, len(fidx), sample_stride)
    tau_s = np.full((len(samples), len(ion_idx)), np.nan)
    reach_s = np.full_like(tau_s, np.nan)
    snap_s = np.zeros_like(tau_s)
    count = Counter(progress, "tortuosity: samples", len(samples))
    count.update(0)
    for q, i in enumerate(samples):
        vm = maps[int(fidx[(i // map_stride) * map_stride])]
        pos = traj.positions(ion_idx, frames=[int(fidx[i])])[0]
        res = local(vm, pos, radius, max_ratio=max_ratio, method=method, backend=backend)
        tau_s[q], reach_s[q], snap_s[q] = res.tau, res.reachable, res.snapped
        if on_sample is not None:
            on_sample(int(fidx[i]))
        count.advance()
    nw = len(bounds)
    tau = np.full((len(ion_idx), nw), np.nan)
    reach = np.full_like(tau, np.nan)
    snap = np.full_like(tau, np.nan)
    for w, (a, b) in enumerate(bounds):
        sel = (samples >= a) & (samples < b)
        if not sel.any():  # window shorter than the sample stride: nearest sample
            sel = np.zeros(len(samples), dtype=bool)
            sel[np.argmin(np.abs(samples - a))] = True
        with np.errstate(invalid="ignore"), _quiet():
            tau[:, w] = np.nanmean(tau_s[sel], axis=0)
            reach[:, w] = np.nanmean(reach_s[sel], axis=0)
            snap[:, w] = snap_s[sel].mean(axis=0)
    return LocalPerWindow(tau=tau, reachable=reach, snapped=snap, bounds=bounds, frames=fidx,
                          sample_frames=fidx[samples], maps=maps)


class _quiet:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._w.__exit__(*exc)


# ---------------------------------------------------------------------------------- diffusive
@dataclass
class DiffusiveTortuosity:
    """Diffusive tortuosity factor per cell axis from blind-ant random walkers.

    ``tau[ax] = D_open / D_void`` along the axis (grid-index space), with ``D`` from the mean
    squared displacement between ``n_steps/2`` and ``n_steps``; walkers start uniformly on the
    network percolating along the axis. ``inf`` where nothing percolates. ``stderr`` is the
    standard error from the walker-to-walker spread."""

    tau: np.ndarray
    stderr: np.ndarray
    n_walkers: int
    n_steps: int
    seed: int


def diffusive_tortuosity(void, spacing=None, *, box=None, n_walkers: int = 2000,
                         n_steps: int = 20000, seed: int = 0,
                         axes: Sequence[int] = (0, 1, 2)) -> DiffusiveTortuosity:
    """Monte-Carlo diffusive tortuosity (a check on the geodesic value; see
    :func:`hcanalysis.kernels.tortuosity.random_walk_displacements`). Comparable with
    porespy's ``tortuosity_fd`` (``tau = eps D0 / D_eff``) on the percolating network."""
    g = as_void_grid(void, spacing, box)
    net = percolation(g).network
    rng = np.random.default_rng(seed)
    tau = np.full(3, np.nan)
    err = np.full(3, np.nan)
    for ax in axes:
        pts = np.argwhere(net[ax])
        if len(pts) == 0:
            tau[ax] = np.inf
            continue
        st = pts[rng.integers(0, len(pts), n_walkers)]
        disp = K.random_walk_displacements(g.mask, st, n_steps, seed=seed + 17 * ax)
        half = n_steps // 2
        inc = disp[:, 1, ax] ** 2 - disp[:, 0, ax] ** 2
        d_void = inc.mean() / (n_steps - half)  # per step; open grid: 1/3
        se = inc.std() / np.sqrt(len(inc)) / (n_steps - half)
        tau[ax] = (1.0 / 3.0) / d_void if d_void > 0 else np.inf
        err[ax] = tau[ax] * se / d_void if d_void > 0 else np.nan
    return DiffusiveTortuosity(tau=tau, stderr=err, n_walkers=int(n_walkers),
                               n_steps=int(n_steps), seed=int(seed))


__all__ = [
    "DiffusiveTortuosity",
    "GlobalTortuosity",
    "LocalPerWindow",
    "LocalTortuosity",
    "Percolation",
    "VoidGrid",
    "as_void_grid",
    "diffusive_tortuosity",
    "geodesic_field",
    "global_tortuosity",
    "local",
    "local_per_window",
    "percolation",
]
