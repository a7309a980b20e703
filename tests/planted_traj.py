"""Trajectories with planted Na behaviours placed in real carbon frameworks, for the
mode-finder suite (``tests/modes_suite.py``).

Frameworks (``tests/data/frameworks/``, how each was built and checked in its README and
``tests/test_modes_planted.py``):

``fragments``  ``mdrunner.builders.build_fragments(1000, 1.0, seed=1)``: curved, stacked
               graphene fragments, 0.8 g/cm³, 29.2 Å cell.
``aC``         ``mdrunner.lammps_builders.melt_quench(640, 1.2, seed=14)``: amorphous carbon
               quenched from the melt with LAMMPS (Tersoff), 1.2 g/cm³, 22.0 Å cell.

A framework is tiled (2×2×2, ...) when a case needs more room than one cell holds; the
carbon atoms vibrate about their sites (``c_vib`` Å per axis).

Where the Na go is decided from a distance map of the carbon computed here (the distance
from each point of a 0.4 Å grid to the nearest C, with scipy's periodic k-d tree; the same
quantity as the void map, computed independently of :mod:`hcanalysis.voids`): pore sites
are its local maxima, and a Na fits where it is at least ``contact`` Å (the Na–C contact
distance) from every C. Behaviours, written in physical terms only:

``hopping``   two or three neighbouring pore sites (local maxima of the distance map,
              ``hop_site_range`` Å apart, joined by a throat wider than ``throat`` Å); the
              ion vibrates about its site (``vib`` Å per axis) and jumps to a neighbouring
              site of its chain at ``hop_rate`` per ps
              (Poisson), the jump taking one frame.
``cluster``   four Na at the corners of a tetrahedron (edge ``edge`` Å, a Na–Na contact) in a
              pore large enough to hold it; its centre drifts as a Brownian walker
              (``D_cluster`` Å²/ps, moves that would bring a Na into the carbon are refused)
              and each Na vibrates about its corner.
``void``      one Na wandering (Brownian, ``D_void`` Å²/ps, moves into the carbon refused)
              inside one large pore (a site at least ``void_site`` Å from every C), never
              more than ``void_reach`` Å from the pore's centre.
``caged``     one Na vibrating (``vib`` Å per axis) at a point in contact with the carbon
              (``contact``-``contact + 0.3`` Å from the nearest C): a small cage or a wall.
``free``      (null population) like ``void``, every unit in a pore of the same size range:
              one homogeneous population.

Units are kept ``unit_gap`` Å apart (Na of different units never touch). ``noise`` spreads
every unit's amplitudes and rates log-normally. None of these numbers or rules appears in
:mod:`hcanalysis.modes` (whose names use absolute criteria on the descriptors, see
docs/modes.md).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from hcanalysis import Trajectory

FRAMEWORK_DIR = Path(__file__).parent / "data" / "frameworks"
#: framework name -> file (extended XYZ written by ase; the README there says how each was made)
FRAMEWORKS = {"fragments": "fragments_1000_0.8_s1.xyz", "aC": "aC_640_1.2_s14.xyz"}


@dataclass
class Physics:
    """The planted behaviours' physical parameters (Å, ps)."""

    contact: float = 2.4  # Na–C contact distance
    hop_site_range: tuple[float, float] = (3.0, 5.0)
    throat: float = 1.9
    hop_rate: float = 0.06
    vib: float = 0.12
    edge: float = 3.4
    D_cluster: float = 0.03
    D_void: float = 0.25
    void_site: float = 4.0
    void_reach: float = 2.5
    cluster_site: float = 4.4
    unit_gap: float = 5.0
    c_vib: float = 0.05


IONS_PER_UNIT = {"hopping": 1, "cluster": 4, "void": 1, "caged": 1, "free": 1}


@functools.lru_cache(maxsize=4)
def load_framework(name: str) -> tuple[np.ndarray, float]:
    """Carbon positions (Å, wrapped into the cell) and the cubic cell edge (Å)."""
    from ase.io import read

    atoms = read(FRAMEWORK_DIR / FRAMEWORKS[name], format="extxyz")
    box = float(atoms.cell.lengths()[0])
    return np.mod(atoms.get_positions(), box), box


def tile(carbon: np.ndarray, box: float, reps: int) -> tuple[np.ndarray, float]:
    """The periodic framework repeated ``reps`` times along each axis."""
    shifts = np.stack(np.meshgrid(*[np.arange(reps)] * 3, indexing="ij"), -1).reshape(-1, 3)
    return (carbon[None] + shifts[:, None] * box).reshape(-1, 3), box * reps


class PoreMap:
    """Distance to the nearest carbon on a grid, its local maxima (pore sites) and exact
    distance queries."""

    def __init__(self, carbon: np.ndarray, box: float, spacing: float = 0.4) -> None:
        self.box = box
        self.tree = cKDTree(np.mod(carbon, box), boxsize=box)
        n = int(np.ceil(box / spacing))
        self.h = box / n
        ax = (np.arange(n) + 0.5) * self.h
        g = np.stack(np.meshgrid(ax, ax, ax, indexing="ij"), -1).reshape(-1, 3)
        self.grid = g
        self.d = self.tree.query(g)[0].reshape(n, n, n)
        peak = (self.d == ndimage.maximum_filter(self.d, size=3, mode="wrap"))
        idx = np.flatnonzero(peak.ravel())
        order = idx[np.argsort(-self.d.ravel()[idx])]
        # one site per pocket: maxima closer than 1.5 Å to a higher one are dropped
        kept: list[int] = []
        for i in order:
            p = g[i]
            if kept:
                dd = g[kept] - p
                dd -= box * np.round(dd / box)
                if np.min(np.sum(dd * dd, axis=1)) < 1.5**2:
                    continue
            kept.append(int(i))
        self.sites = g[kept]
        self.site_d = self.d.ravel()[kept]

    def dist(self, x: np.ndarray) -> np.ndarray:
        """Exact distance (Å) from each point to the nearest carbon."""
        return self.tree.query(np.mod(x, self.box))[0]

    def min_image(self, d: np.ndarray) -> np.ndarray:
        return d - self.box * np.round(d / self.box)


def _random_rotation(rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.diag(r))


class _Occupancy:
    """Reserved spheres of the units placed so far."""

    def __init__(self, box: float) -> None:
        self.box, self.c, self.r = box, [], []

    def free(self, p: np.ndarray, radius: float, gap: float) -> bool:
        if not self.c:
            return True
        d = np.asarray(self.c) - p
        d -= self.box * np.round(d / self.box)
        return bool(np.all(np.linalg.norm(d, axis=1) >= np.asarray(self.r) + radius + gap))

    def add(self, p: np.ndarray, radius: float) -> None:
        self.c.append(np.asarray(p, float))
        self.r.append(radius)


class NoRoom(RuntimeError):
    """The framework (at this tiling) has no room for the requested units."""


def _brownian(pm: PoreMap, start: np.ndarray, centre: np.ndarray, reach: np.ndarray,
              d_coef: np.ndarray, n_frames: int, dt: float, contact: float, rng,
              shape: np.ndarray | None = None) -> np.ndarray:
    """Brownian walkers (one per row of ``start``) whose moves into the carbon (a Na closer
    than ``contact`` to a C) or beyond ``reach`` of their pore centre are refused.
    ``shape`` (n, m, 3): rigid offsets of m Na carried by each walker (a cluster)."""
    n = len(start)
    shape = np.zeros((n, 1, 3)) if shape is None else shape
    x = np.empty((n_frames, n, 3))
    x[0] = start
    sig = np.sqrt(2 * d_coef * dt)[:, None]
    for t in range(1, n_frames):
        trial = x[t - 1] + rng.normal(size=(n, 3)) * sig
        na = (trial[:, None] + shape).reshape(-1, 3)
        ok = (pm.dist(na).reshape(n, -1) >= contact).all(axis=1)
        ok &= np.linalg.norm(pm.min_image(trial - centre), axis=1) <= reach
        x[t] = np.where(ok[:, None], trial, x[t - 1])
    return x


def place(pm: PoreMap, kinds: list[str], ph: Physics, f: np.ndarray, rng) -> list[dict]:
    """Choose where each unit lives (``f``: per-unit noise factors). Raises NoRoom."""
    occ = _Occupancy(pm.box)
    out: list[dict | None] = [None] * len(kinds)
    contact_pts = pm.grid[(pm.d.ravel() >= ph.contact) & (pm.d.ravel() < ph.contact + 0.3)]
    site_order = rng.permutation(len(pm.sites))
    need = {"cluster": 0, "void": 1, "free": 1, "hopping": 2, "caged": 3}
    for u in sorted(range(len(kinds)), key=lambda i: need[kinds[i]]):
        kind = kinds[u]
        if kind in ("cluster", "void", "free"):
            big = ph.cluster_site if kind == "cluster" else ph.void_site
            for s in site_order:
                c, dc = pm.sites[s], pm.site_d[s]
                if dc < big or (kind == "free" and dc > big + 1.0):
                    continue
                # the farthest a Na of the unit gets from the pore centre
                reach = ph.void_reach if kind != "cluster" else 0.8 + ph.edge * 0.62
                if not occ.free(c, reach, ph.unit_gap):
                    continue
                if kind == "cluster":
                    tet = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], float)
                    tet *= ph.edge * f[u, 3] ** 0.2 / np.sqrt(8.0)
                    for _ in range(20):
                        shape = tet @ _random_rotation(rng)
                        if (pm.dist(c + shape) >= ph.contact + 0.2).all():
                            break
                    else:
                        continue
                    out[u] = {"centre": c, "shape": shape}
                else:
                    out[u] = {"centre": c}
                occ.add(c, reach)
                break
        elif kind == "hopping":
            lo, hi = ph.hop_site_range
            for s in site_order:
                a = pm.sites[s]
                if pm.site_d[s] < ph.contact:
                    continue
                d = pm.min_image(pm.sites - a)
                r = np.linalg.norm(d, axis=1)
                nb = np.flatnonzero((r >= lo) & (r <= hi) & (pm.site_d >= ph.contact))
                nb = [j for j in rng.permutation(nb) if _throat(pm, a, a + d[j]) >= ph.throat]
                if not nb:
                    continue
                chain = [a + d[nb[0]], a] + ([a + d[nb[1]]] if len(nb) > 1 else [])
                chain = np.array(chain)
                mid = chain.mean(axis=0)
                span = np.max(np.linalg.norm(chain - mid, axis=1))
                if not occ.free(mid, span + 0.5, ph.unit_gap):
                    continue
                out[u] = {"sites": chain}
                occ.add(mid, span + 0.5)
                break
        else:  # caged: a point in contact with the carbon
            for i in rng.permutation(len(contact_pts))[:4000]:
                p = contact_pts[i]
                if occ.free(p, 0.5, ph.unit_gap):
                    out[u] = {"centre": p}
                    occ.add(p, 0.5)
                    break
        if out[u] is None:
            raise NoRoom(f"no room for a {kind} unit")
    return out  # type: ignore[return-value]


def _throat(pm: PoreMap, a: np.ndarray, b: np.ndarray) -> float:
    """Narrowest distance to the carbon along the segment a-b, Å."""
    return float(pm.dist(a + np.linspace(0, 1, 12)[:, None] * (b - a)).min())


def make(units: dict[str, int], n_frames: int = 360, dt_ps: float = 0.25, seed: int = 0,
         noise: float = 0.15, physics: Physics | None = None, framework: str = "fragments",
         ) -> tuple[Trajectory, np.ndarray, np.ndarray]:
    """A trajectory with the planted units and the true behaviour of each Na.

    Parameters
    ----------
    units : behaviour -> number of units (a ``cluster`` unit holds 4 Na, the others 1)
    n_frames, dt_ps : frames and frame interval, ps
    seed : random seed
    noise : log-normal spread of every unit's amplitudes and rates
    physics : the behaviours' parameters
    framework : key of :data:`FRAMEWORKS`

    Returns
    -------
    traj : Trajectory (carbon first, then Na in unit order)
    truth : (n_na,) behaviour name of each Na
    jumps : (n_frames, n_na) bool, True at the frames where a hopping ion jumps
    """
    ph = physics or Physics()
    rng = np.random.default_rng(seed)
    kinds = [k for k, n in units.items() for _ in range(n)]
    unknown = set(kinds) - set(IONS_PER_UNIT)
    if unknown:
        raise ValueError(f"unknown behaviour(s) {sorted(unknown)}")
    rng.shuffle(kinds)
    f = np.exp(noise * rng.normal(size=(len(kinds), 4)))
    carbon0, box0 = load_framework(framework)
    for reps in (1, 2, 3):
        carbon, box = tile(carbon0, box0, reps)
        pm = _pore_map(framework, reps)
        try:
            spots = place(pm, kinds, ph, f, rng)
            break
        except NoRoom:
            continue
    else:
        raise NoRoom(f"{framework} tiled 3×3×3 has no room for {units}")
    ions, truth, jumps = [], [], []
    walkers = [u for u, k in enumerate(kinds) if k in ("void", "free", "cluster")]
    paths = {}
    if walkers:
        start = np.array([spots[u]["centre"] for u in walkers])
        dco = np.array([(ph.D_cluster if kinds[u] == "cluster" else ph.D_void) * f[u, 2]
                        for u in walkers])
        reach = np.array([0.8 if kinds[u] == "cluster" else ph.void_reach * f[u, 1] ** 0.2
                          for u in walkers])
        shape = np.zeros((len(walkers), 4, 3))
        for i, u in enumerate(walkers):
            if kinds[u] == "cluster":
                shape[i] = spots[u]["shape"]
        x = _brownian(pm, start, start, reach, dco, n_frames, dt_ps, ph.contact, rng, shape)
        paths = {u: x[:, i] for i, u in enumerate(walkers)}
    for u, kind in enumerate(kinds):
        vib = ph.vib * f[u, 0]
        if kind == "hopping":
            sites = spots[u]["sites"]
            rate = ph.hop_rate * f[u, 2]
            site = np.empty(n_frames, int)
            site[0] = rng.integers(len(sites))
            for t in range(1, n_frames):
                site[t] = site[t - 1]
                if rng.random() < rate * dt_ps:
                    site[t] = 1 if site[t - 1] != 1 else rng.choice(
                        [0, 2] if len(sites) == 3 else [0])
            ions.append((sites[site] + rng.normal(0, vib, (n_frames, 3)))[:, None])
            truth.append(kind)
            jumps.append(np.r_[False, site[1:] != site[:-1]])
        elif kind == "cluster":
            x = paths[u][:, None] + spots[u]["shape"][None] + rng.normal(0, vib, (n_frames, 4, 3))
            ions.append(x)
            truth += [kind] * 4
            jumps += [np.zeros(n_frames, bool)] * 4
        elif kind in ("void", "free"):
            ions.append(paths[u][:, None])
            truth.append(kind)
            jumps.append(np.zeros(n_frames, bool))
        else:
            ions.append((spots[u]["centre"] + rng.normal(0, vib, (n_frames, 3)))[:, None])
            truth.append(kind)
            jumps.append(np.zeros(n_frames, bool))
    na = np.concatenate(ions, axis=1)
    pos = np.empty((n_frames, len(carbon) + na.shape[1], 3))
    pos[:, : len(carbon)] = carbon + rng.normal(0, ph.c_vib, (n_frames, len(carbon), 3))
    pos[:, len(carbon):] = na
    pos %= box
    species = ["C"] * len(carbon) + ["Na"] * na.shape[1]
    traj = Trajectory.from_arrays(pos, np.eye(3) * box, species, dt_ps=dt_ps)
    return traj, np.array(truth), np.stack(jumps, axis=1)


@functools.lru_cache(maxsize=8)
def _pore_map(framework: str, reps: int) -> PoreMap:
    carbon, box = tile(*load_framework(framework), reps)
    return PoreMap(carbon, box)
