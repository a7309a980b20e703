"""Trajectories with planted Na behaviours in a carbon framework, for the mode-finder suite.

Written in physical terms only (sites, rates, amplitudes, pore sizes in Å and ps); it shares
no number and no rule with :mod:`hcanalysis.modes` (whose naming thresholds are absolute
criteria on the descriptors, see docs/modes.md). The framework is a simple-cubic carbon
lattice (``spacing`` Å; carbon spheres of radius 1.7 Å overlap into a solid) filling a
periodic box of cubic cells, ``cell`` Å each; every planted unit owns one cell and carves its
own cavity (at a random offset of up to 0.5 Å) out of the carbon:

``hopping``   three sites on a line ``site_spacing`` Å apart (pockets joined by a narrow
              channel); the ion vibrates about its site (``vib`` Å per axis) and jumps to a
              neighbouring site at ``hop_rate`` per ps (Poisson), the jump taking one frame.
``cluster``   four Na at the corners of a tetrahedron (edge ``edge`` Å) whose centre drifts
              as a Brownian walker (``D_cluster`` Å²/ps) inside a cavity of free radius
              ``cluster_pore`` Å; each ion vibrates about its corner.
``void``      one ion wandering (Brownian, ``D_void`` Å²/ps, reflected) inside its own large
              cavity of free radius ``void_pore`` Å.
``caged``     one ion vibrating (``vib`` Å per axis) at a site carved just wide enough for it
              (free radius ``cage_pore`` Å), so it touches the wall.
``free``      (null population) one ion wandering like ``void`` but in a cavity of the same
              free radius as every other ``free`` unit: a homogeneous population.

``noise`` scales every amplitude and rate by a log-normal factor per ion (spread ``noise``),
so units of one behaviour differ from each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hcanalysis import Trajectory

CARBON_RADIUS = 1.7  # Å, the radius the carving keeps free of carbon surface


@dataclass
class Physics:
    """The planted behaviours' physical parameters (Å, ps)."""

    site_spacing: float = 3.6
    hop_rate: float = 0.06
    vib: float = 0.12
    edge: float = 3.1
    D_cluster: float = 0.03
    cluster_pore: float = 3.2
    D_void: float = 0.25
    void_pore: float = 3.0
    cage_pore: float = 0.6
    free_pore: float = 2.6


IONS_PER_UNIT = {"hopping": 1, "cluster": 4, "void": 1, "caged": 1, "free": 1}


def _reflect_ball(x: np.ndarray, radius: float) -> np.ndarray:
    """Bring points outside a ball of ``radius`` back inside by reflection at its surface."""
    r = np.linalg.norm(x, axis=-1, keepdims=True)
    out = r > radius
    safe = np.where(r > 0, r, 1.0)
    return np.where(out, x * ((2 * radius - r) / safe).clip(0.0, None), x)


def _brownian_in_ball(rng, n_frames: int, dt: float, d: float, radius: float) -> np.ndarray:
    sig = np.sqrt(2 * d * dt)
    x = np.empty((n_frames, 3))
    x[0] = rng.uniform(-0.5, 0.5, 3) * radius
    for t in range(1, n_frames):
        x[t] = _reflect_ball((x[t - 1] + rng.normal(0, sig, 3))[None], radius)[0]
    return x


def _random_rotation(rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.diag(r))


def make(units: dict[str, int], n_frames: int = 360, dt_ps: float = 0.25, seed: int = 0,
         noise: float = 0.15, physics: Physics | None = None, cell: float = 10.5,
         spacing: float = 2.4) -> tuple[Trajectory, np.ndarray, np.ndarray]:
    """A trajectory with the planted units and the true behaviour of each Na.

    Parameters
    ----------
    units : behaviour -> number of units (a ``cluster`` unit holds 4 Na, the others 1)
    n_frames, dt_ps : frames and frame interval, ps
    seed : random seed
    noise : log-normal spread of every unit's amplitudes and rates
    physics : the behaviours' parameters
    cell : edge of the cubic cell each unit owns, Å
    spacing : carbon lattice spacing, Å

    Returns
    -------
    traj : Trajectory (carbon first, then Na in unit order)
    truth : (n_na,) behaviour name of each Na
    jumps : (n_frames, n_na) bool, True at the frames where a hopping ion jumps
    """
    ph = physics or Physics()
    rng = np.random.default_rng(seed)
    kinds = [k for k, n in units.items() for _ in range(n)]
    rng.shuffle(kinds)
    n_side = int(np.ceil(len(kinds) ** (1 / 3)))
    box = n_side * cell
    g = np.stack(np.meshgrid(*[np.arange(n_side)] * 3, indexing="ij"), -1).reshape(-1, 3)
    # each unit's cavity sits at a random offset in its cell, so units see a continuum of
    # local carbon arrangements (not a few lattice registries)
    centres = (g[: len(kinds)] + 0.5) * cell + rng.uniform(-0.5, 0.5, (len(kinds), 3))

    n_c_side = int(round(box / spacing))
    lat = (np.stack(np.meshgrid(*[np.arange(n_c_side)] * 3, indexing="ij"), -1)
           .reshape(-1, 3) + 0.5) * (box / n_c_side)
    keep = np.ones(len(lat), bool)
    ions, truth, jumps = [], [], []

    def carve(points: np.ndarray, free: float) -> None:
        for p in np.atleast_2d(points):
            d = lat - p
            d -= box * np.round(d / box)
            keep[np.linalg.norm(d, axis=1) < free + CARBON_RADIUS] = False

    for kind, c in zip(kinds, centres, strict=True):
        f = np.exp(noise * rng.normal(size=4))  # per-unit spread of amplitudes and rates
        vib = ph.vib * f[0]
        if kind == "hopping":
            axis = _random_rotation(rng)[0]
            s = ph.site_spacing * f[1] ** 0.3
            sites = c + np.outer([-1.0, 0.0, 1.0], axis) * s
            carve(sites, 0.8)
            carve(c + np.outer(np.linspace(-s, s, 9), axis), 0.5)
            rate = ph.hop_rate * f[2]
            site = np.empty(n_frames, int)
            site[0] = rng.integers(3)
            for t in range(1, n_frames):
                site[t] = site[t - 1]
                if rng.random() < rate * dt_ps:
                    site[t] = 1 if site[t - 1] != 1 else rng.choice([0, 2])
            x = sites[site] + rng.normal(0, vib, (n_frames, 3))
            ions.append(x[:, None])
            truth.append(kind)
            jumps.append(np.r_[False, site[1:] != site[:-1]])
        elif kind == "cluster":
            radius = ph.cluster_pore * f[1] ** 0.2
            carve(c[None], radius)
            rot = _random_rotation(rng)
            tet = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], float)
            tet *= ph.edge * f[3] ** 0.2 / np.sqrt(8.0)
            centre = _brownian_in_ball(rng, n_frames, dt_ps, ph.D_cluster * f[2],
                                       max(radius - 2.4, 0.3))
            x = c + centre[:, None] + (tet @ rot)[None] + rng.normal(0, vib, (n_frames, 4, 3))
            ions.append(x)
            truth += [kind] * 4
            jumps += [np.zeros(n_frames, bool)] * 4
        elif kind in ("void", "free"):
            pore = (ph.void_pore if kind == "void" else ph.free_pore) * f[1] ** 0.2
            carve(c[None], pore)
            d = ph.D_void * f[2]
            x = c + _brownian_in_ball(rng, n_frames, dt_ps, d, max(pore - 0.4, 0.5))
            ions.append(x[:, None])
            truth.append(kind)
            jumps.append(np.zeros(n_frames, bool))
        elif kind == "caged":
            carve(c[None], ph.cage_pore)
            x = c + rng.normal(0, vib, (n_frames, 3))
            ions.append(x[:, None])
            truth.append(kind)
            jumps.append(np.zeros(n_frames, bool))
        else:
            raise ValueError(f"unknown behaviour {kind!r}")
    carbon = lat[keep]
    na = np.concatenate(ions, axis=1)
    pos = np.empty((n_frames, len(carbon) + na.shape[1], 3))
    pos[:, : len(carbon)] = carbon + rng.normal(0, 0.04, (n_frames, len(carbon), 3))
    pos[:, len(carbon):] = na
    pos %= box
    species = ["C"] * len(carbon) + ["Na"] * na.shape[1]
    traj = Trajectory.from_arrays(pos, np.eye(3) * box, species, dt_ps=dt_ps)
    return traj, np.array(truth), np.stack(jumps, axis=1)
