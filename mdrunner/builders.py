"""Hard-carbon structure builders: a fast fragment generator, melt-quench, and user files.

Every builder is seeded and returns ``(atoms, BuildReport)``. Densities are *carbon*
densities (carbon mass / cell volume, g/cm³), the quantity the ensemble maps are drawn
against; the report also gives the total density once Na is inserted.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

#: Avogadro's number × 1e-24: g/cm³ = amu / Å³ / AMU_A3_TO_G_CM3
AMU_A3_TO_G_CM3 = 0.602214076
CC_BOND = 1.42  # Å, graphene C-C bond
SP2_CUTOFF = 1.85  # Å, C-C neighbour cutoff for the sp2 count


@dataclass
class BuildReport:
    """What a builder made.

    Attributes
    ----------
    n_atoms, composition : total count and ``{element: count}``
    carbon_density : g/cm³, carbon mass / cell volume
    density : g/cm³, total mass / cell volume
    min_distance : Å, shortest interatomic distance (periodic)
    min_cc_distance, min_na_c_distance, min_na_na_distance : Å (NaN where absent)
    sp2_fraction : fraction of C with exactly 3 C neighbours within 1.85 Å
    cell : (3, 3) Å, rows are cell vectors
    seed : the seed used
    method : builder name; ``params`` : its parameters; ``notes`` : what it relaxed
    """

    n_atoms: int
    composition: dict[str, int]
    carbon_density: float
    density: float
    min_distance: float
    min_cc_distance: float
    min_na_c_distance: float
    min_na_na_distance: float
    sp2_fraction: float
    cell: list[list[float]]
    seed: int | None
    method: str
    params: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        comp = " ".join(f"{k}{v}" for k, v in sorted(self.composition.items()))
        return (
            f"{self.method}: {comp} ({self.n_atoms} atoms), carbon density "
            f"{self.carbon_density:.3f} g/cm³ (total {self.density:.3f}), "
            f"min distance {self.min_distance:.3f} Å, sp2 fraction {self.sp2_fraction:.2f}"
        )



def _wrap(xyz: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Cartesian positions (Å) wrapped into ``[0, box)`` per axis of an orthogonal box.

    ``np.mod`` alone returns exactly ``box`` for tiny negative inputs (``-1e-17 % L == L`` in
    floating point), which periodic k-d trees (``cKDTree(boxsize=box)``) reject."""
    w = np.mod(xyz, box)
    return np.where(w >= box, w - box, w)

def cell_length_for_density(n_carbon: int, density: float) -> float:
    """Edge (Å) of the cubic cell holding ``n_carbon`` C atoms at carbon density ``density``."""
    mass = n_carbon * 12.011
    return float((mass / (density * AMU_A3_TO_G_CM3)) ** (1.0 / 3.0))


def _pairs_min(
    cell: np.ndarray, pos_a: np.ndarray, pos_b: np.ndarray | None, cutoff: float
) -> float:
    """Shortest periodic distance between two sets (or within one set), NaN if none < cutoff."""
    from ase.neighborlist import neighbor_list

    if pos_b is None:
        n_a = len(pos_a)
        if n_a < 2:
            return float("nan")
        at = Atoms("X" * n_a, positions=pos_a, cell=cell, pbc=True)
        d = neighbor_list("d", at, cutoff)
        return float(d.min()) if d.size else float("nan")
    at = Atoms(
        "X" * (len(pos_a) + len(pos_b)),
        positions=np.vstack([pos_a, pos_b]),
        cell=cell,
        pbc=True,
    )
    i, j, d = neighbor_list("ijd", at, cutoff)
    n_a = len(pos_a)
    mask = (i < n_a) & (j >= n_a)
    return float(d[mask].min()) if mask.any() else float("nan")


def describe(atoms: Atoms, *, method: str = "structure", seed: int | None = None,
             params: dict | None = None, notes: list[str] | None = None) -> BuildReport:
    """Measure a structure: composition, densities, minimum distances, sp2 fraction."""
    from ase.neighborlist import neighbor_list

    sym = np.array(atoms.get_chemical_symbols())
    vol = atoms.get_volume()
    masses = atoms.get_masses()
    is_c = sym == "C"
    is_na = sym == "Na"
    comp: dict[str, int] = {}
    for s in sym:
        comp[str(s)] = comp.get(str(s), 0) + 1
    cell = np.asarray(atoms.cell[:])
    pos = atoms.get_positions()
    cut = 6.0
    min_all = _pairs_min(cell, pos, None, cut) if len(atoms) > 1 else float("nan")
    min_cc = _pairs_min(cell, pos[is_c], None, cut)
    min_nac = _pairs_min(cell, pos[is_na], pos[is_c], cut) if is_na.any() else float("nan")
    min_nana = _pairs_min(cell, pos[is_na], None, 12.0) if is_na.sum() > 1 else float("nan")
    sp2 = float("nan")
    if is_c.any():
        c_atoms = atoms[is_c]
        i = neighbor_list("i", c_atoms, SP2_CUTOFF)
        coord = np.bincount(i, minlength=len(c_atoms))
        sp2 = float(np.mean(coord == 3))
    return BuildReport(
        n_atoms=len(atoms),
        composition=comp,
        carbon_density=float(masses[is_c].sum() / vol / AMU_A3_TO_G_CM3),
        density=float(masses.sum() / vol / AMU_A3_TO_G_CM3),
        min_distance=min_all,
        min_cc_distance=min_cc,
        min_na_c_distance=min_nac,
        min_na_na_distance=min_nana,
        sp2_fraction=sp2,
        cell=cell.tolist(),
        seed=seed,
        method=method,
        params=dict(params or {}),
        notes=list(notes or []),
    )


# --------------------------------------------------------------------------- fragments


def _honeycomb_disc(radius: float, aspect: float) -> np.ndarray:
    """2D honeycomb points (Å) inside an ellipse of semi-axes radius·aspect, radius/aspect."""
    a = CC_BOND * math.sqrt(3.0)
    a1 = np.array([a, 0.0])
    a2 = np.array([a / 2.0, a * math.sqrt(3.0) / 2.0])
    basis = np.array([[0.0, 0.0], [a / 2.0, CC_BOND / 2.0]])
    n = int(math.ceil(2 * radius * max(aspect, 1 / aspect) / a)) + 2
    ii, jj = np.meshgrid(np.arange(-n, n + 1), np.arange(-n, n + 1), indexing="ij")
    lattice = ii.reshape(-1, 1) * a1 + jj.reshape(-1, 1) * a2
    pts = (lattice[:, None, :] + basis[None, :, :]).reshape(-1, 2)
    pts -= pts.mean(axis=0)
    rx, ry = radius * aspect, radius / aspect
    inside = (pts[:, 0] / rx) ** 2 + (pts[:, 1] / ry) ** 2 <= 1.0
    return pts[inside]


def _prune_dangling(pts: np.ndarray) -> np.ndarray:
    """Drop atoms with fewer than two in-fragment neighbours, repeatedly."""
    while len(pts) > 2:
        tree = cKDTree(pts)
        counts = np.array([len(x) - 1 for x in tree.query_ball_point(pts, CC_BOND * 1.1)])
        keep = counts >= 2
        if keep.all():
            break
        pts = pts[keep]
    return pts


def _curve(pts2d: np.ndarray, layer_z: float, kind: str, rc: float) -> np.ndarray:
    """Map a flat layer at height ``layer_z`` onto a cylinder or sphere of radius ``rc``.

    Concentric surfaces (radius rc - layer_z) keep stacked layers parallel; the cylinder
    map is an isometry, the sphere map keeps radial distances (azimuthal ones shrink by
    sin θ / θ, a few per cent for the radii used).
    """
    x, y = pts2d[:, 0], pts2d[:, 1]
    r_k = rc - layer_z
    if kind == "flat" or not np.isfinite(rc):
        return np.column_stack([x, y, np.full_like(x, layer_z)])
    if kind == "cylinder":
        th = x / r_k
        return np.column_stack([r_k * np.sin(th), y, rc - r_k * np.cos(th)])
    rho = np.hypot(x, y)
    phi = np.arctan2(y, x)
    th = rho / r_k
    return np.column_stack(
        [r_k * np.sin(th) * np.cos(phi), r_k * np.sin(th) * np.sin(phi), rc - r_k * np.cos(th)]
    )


def make_fragment(
    rng: np.random.Generator,
    radius_range: tuple[float, float] = (3.5, 7.0),
    max_layers: int = 3,
    stack_probability: float = 0.35,
    interlayer: tuple[float, float] = (3.4, 3.7),
    curvature_radius: tuple[float, float] = (7.0, 25.0),
) -> np.ndarray:
    """One curved graphene-like fragment (possibly a turbostratic stack), centred at 0, Å."""
    radius = rng.uniform(*radius_range)
    n_layers = 1
    while n_layers < max_layers and rng.random() < stack_probability:
        n_layers += 1
    kind = rng.choice(["flat", "cylinder", "sphere"], p=[0.15, 0.45, 0.40])
    rc = rng.uniform(*curvature_radius) * rng.choice([-1.0, 1.0])
    if kind == "sphere":
        rc = math.copysign(max(abs(rc), 1.6 * radius + 3.0), rc)
    layers = []
    z = 0.0
    for k in range(n_layers):
        if k:
            z += rng.uniform(*interlayer) * math.copysign(1.0, rc)
        r_layer = radius * rng.uniform(0.75, 1.0) if k else radius
        pts = _prune_dangling(_honeycomb_disc(r_layer, rng.uniform(0.75, 1.33)))
        ang = rng.uniform(0, 2 * np.pi)  # turbostratic: random in-plane rotation and shift
        rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
        pts = pts @ rot.T + rng.normal(scale=0.5, size=2)
        if layers and kind != "flat" and abs(rc - z) < radius + 1.0:
            break  # would fold over itself
        layers.append(_curve(pts, z, str(kind) if abs(rc - z) >= radius + 1.0 else "flat", rc))
    frag = np.vstack(layers)
    return frag - frag.mean(axis=0)


def _grid_points(box: np.ndarray, spacing: float) -> np.ndarray:
    n = np.maximum(2, np.ceil(box / spacing).astype(int))
    axes = [(np.arange(k) + 0.5) * (b / k) for k, b in zip(n, box, strict=True)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)


def _trim(frag: np.ndarray, n: int) -> np.ndarray:
    """Keep the ``n`` atoms nearest the fragment's centre."""
    d = np.linalg.norm(frag - frag.mean(axis=0), axis=1)
    return frag[np.argsort(d, kind="stable")[:n]]


def _touches_own_image(frag_wrapped: np.ndarray, box: np.ndarray) -> bool:
    """Whether two atoms of one fragment are closer than a C-C bond in minimum image (the
    fragment overlaps its own periodic image)."""
    return bool(cKDTree(frag_wrapped, boxsize=box).query_pairs(CC_BOND * 0.9))


def _build_fragments_once(
    n_carbon: int = 200,
    density: float = 1.5,
    *,
    cell: np.ndarray | None = None,
    seed: int = 0,
    min_separation: float = 3.0,
    min_separation_floor: float = 2.2,
    radius_range: tuple[float, float] = (3.5, 7.0),
    stack_probability: float = 0.35,
    max_tries: int = 6,
    n_centres: int = 6,
    n_orientations: int = 12,
    direct_max_density: float = 1.6,
    _return_ids: bool = False,
) -> tuple[Atoms, BuildReport]:
    """Fast hard-carbon model: curved, randomly oriented and stacked graphene fragments.

    Fragments (ellipse-shaped graphene discs of radius ``radius_range`` Å, curved onto a
    cylinder or sphere, sometimes stacked turbostratically at 3.4-3.7 Å) are dropped at random
    orientations and positions into a periodic cubic cell until it holds exactly
    ``n_carbon`` atoms; the gaps between them are the voids. A fragment is accepted only when
    all its atoms are at least ``min_separation`` Å from every atom already placed; after
    ``max_tries`` rejections the separation is lowered by 3 % (never below
    ``min_separation_floor``) and smaller fragments are tried. The carbon density is exact
    by construction (the cell is sized from ``n_carbon`` and ``density``).

    A random placement that jams (no fragment fits even at the smallest size and
    separation, which happens in small cells for some seeds) is redrawn from a seed derived
    from ``seed`` (up to 4 draws; noted in the report), so the same seed always gives the same
    structure.

    Random placement of rigid plates jams above about 1.7 g/cm³, so denser targets (above
    ``direct_max_density``, default 1.6) are placed at 1.6 g/cm³ and then compressed: the
    fragment centres are scaled affinely in 2 % stages and overlapping fragments take random
    rigid moves that lower their overlap until every inter-fragment distance is again above
    the separation (lowered in 5 % steps, not below 1.9 Å, when a stage jams).

    Parameters
    ----------
    n_carbon : int
        Number of C atoms.
    density : float
        Carbon density, g/cm³ (0.8-2.0 are typical hard carbons).
    cell : (3, 3) array, optional
        Orthorhombic cell (Å) to fill instead of a cube from ``density``; then the density
        follows from ``n_carbon`` and the cell.
    seed : int
        Seed of the generator (same seed, same structure).
    min_separation : float
        Minimum distance between atoms of different fragments, Å (the value finally used
        is ``report.params["final_min_separation"]``).
    direct_max_density : float
        Above this carbon density, place then compress (see above), g/cm³.

    Returns
    -------
    atoms : ase.Atoms
    report : BuildReport
    """
    if n_carbon < 1:
        raise ValueError("n_carbon must be positive")
    if cell is None:
        if not 0.3 <= density <= 3.0:
            raise ValueError(f"density {density} g/cm³ is outside 0.3-3.0")
        if density > direct_max_density:
            # dense: place at direct_max_density, then compress with rigid-fragment moves;
            # a packing whose fragment meets its own image (or that jams) is redrawn
            errors = []
            for attempt in range(6):
                sub = seed + attempt * 1_000_003
                try:
                    return _build_dense(
                        n_carbon, density, sub, direct_max_density,
                        dict(min_separation=min_separation,
                             min_separation_floor=min_separation_floor,
                             radius_range=radius_range, stack_probability=stack_probability,
                             max_tries=max_tries, n_centres=n_centres,
                             n_orientations=n_orientations),
                        seed, attempt,
                    )
                except RuntimeError as exc:
                    errors.append(str(exc))
            raise RuntimeError(f"dense build failed 6 times; last: {errors[-1]}")
        edge = cell_length_for_density(n_carbon, density)
        cell = np.eye(3) * edge
    cell = np.asarray(cell, dtype=float)
    if np.count_nonzero(cell - np.diag(np.diag(cell))):
        raise ValueError("build_fragments fills orthorhombic cells only")
    box = np.diag(cell).copy()
    rng = np.random.default_rng(seed)
    placed = np.zeros((0, 3))
    sep = float(min_separation)
    rmin, rmax = radius_range
    rmax = min(rmax, 0.45 * box.min())
    rmin = min(rmin, rmax)
    notes: list[str] = []
    fails = 0
    frag_ids: list[np.ndarray] = []
    unwrapped: list[np.ndarray] = []
    grid = _grid_points(box, 0.5)
    while len(placed) < n_carbon:
        frag = make_fragment(rng, (rmin, rmax), stack_probability=stack_probability)
        need = n_carbon - len(placed)
        if len(frag) > need:
            frag = _trim(frag, need)
        frag = frag - frag.mean(axis=0)
        tree = cKDTree(placed, boxsize=box) if len(placed) else None
        if tree is None:
            centres = [rng.uniform(0, 1, 3) * box]
        else:
            # void-guided: centres drawn from the deepest grid points (farthest from carbon)
            depth, _ = tree.query(grid, k=1)
            top = np.argsort(-depth)[: max(8, len(grid) // 200)]
            centres = grid[rng.choice(top, size=min(n_centres, len(top)), replace=False)]
        ok = False
        for centre in centres:
            for _ in range(n_orientations):
                trial_unwrapped = Rotation.random(random_state=rng).apply(frag) + centre
                trial = _wrap(trial_unwrapped, box)
                # the fragment, as oriented, must not touch its own periodic image (whether
                # it does depends on the orientation: checking it unrotated let one build in
                # ~50 small cells through with C-C 0.6-0.9 Å)
                ok = not _touches_own_image(trial, box)
                if ok and tree is not None:
                    d, _ = tree.query(trial, k=1, distance_upper_bound=sep)
                    ok = bool(np.all(np.isinf(d)))
                if ok:
                    break
            if ok:
                break
        if ok:
            placed = np.vstack([placed, trial])
            frag_ids.append(np.full(len(trial), len(frag_ids)))
            unwrapped.append(trial_unwrapped)
            fails = 0
            continue
        fails += 1
        if fails >= max_tries:
            fails = 0
            if rmax > rmin * 1.05:
                rmax = max(rmin, rmax * 0.9)
            elif sep > min_separation_floor:
                sep = max(min_separation_floor, sep * 0.97)
                notes.append(f"inter-fragment separation lowered to {sep:.2f} Å")
            else:
                rmin = max(1.5, rmin * 0.9)
                rmax = rmin
                if rmin <= 1.5:
                    raise RuntimeError(
                        f"could not place {n_carbon} C atoms at {density} g/cm³ with "
                        f"separation >= {min_separation_floor} Å; lower the density, or use "
                        "build_melt_quench for dense carbons"
                    )
    atoms = Atoms(f"C{n_carbon}", positions=placed, cell=cell, pbc=True)
    if _return_ids:
        atoms.arrays["fragment"] = np.concatenate(frag_ids)
        atoms.arrays["unwrapped"] = np.vstack(unwrapped)
    params = dict(
        n_carbon=n_carbon,
        density=density,
        min_separation=min_separation,
        final_min_separation=sep,
        radius_range=list(radius_range),
        stack_probability=stack_probability,
    )
    rep = describe(atoms, method="fragments", seed=seed, params=params, notes=notes)
    if not rep.min_distance >= CC_BOND * 0.9:  # a guarantee, whatever the placement rules
        raise RuntimeError(f"build_fragments made atoms {rep.min_distance:.2f} Å apart (seed "
                           f"{seed}); please report this with the arguments")
    return atoms, rep


def build_fragments(n_carbon: int = 200, density: float = 1.5, *, seed: int = 0, **kwargs):
    errors: list[str] = []
    for attempt in range(4):
        try:
            atoms, rep = _build_fragments_once(n_carbon, density, seed=seed + attempt * 7_919,
                                               **kwargs)
        except RuntimeError as exc:
            if "could not place" not in str(exc):
                raise
            errors.append(str(exc))
            continue
        if attempt:
            rep.notes.append(f"random placement jammed; redrawn {attempt} time(s) "
                             f"(sub-seed {seed + attempt * 7_919})")
            rep.seed = seed
        return atoms, rep
    raise RuntimeError(f"{errors[-1]} ({len(errors)} draws)")


build_fragments.__doc__ = _build_fragments_once.__doc__
build_fragments.__signature__ = inspect.signature(_build_fragments_once)


def _build_dense(n_carbon, density, sub_seed, start_density, kw, seed, attempt):
    cap = 0.4 * cell_length_for_density(n_carbon, density)
    rr = kw["radius_range"]
    kw = dict(kw, radius_range=(min(rr[0], cap), min(rr[1], cap)))
    atoms, rep = build_fragments(n_carbon, start_density, seed=sub_seed,
                                 direct_max_density=start_density, _return_ids=True, **kw)
    edge = cell_length_for_density(n_carbon, density)
    pos, notes, sep_c = _compress(
        atoms.arrays["unwrapped"], atoms.arrays["fragment"], np.diag(atoms.cell[:]).copy(),
        edge, kw["min_separation_floor"], np.random.default_rng(sub_seed + 1),
    )
    out = Atoms(f"C{n_carbon}", positions=pos, cell=np.eye(3) * edge, pbc=True)
    if not describe(out).min_distance >= 1.3:
        raise RuntimeError(
            f"compression to {density} g/cm³ made a fragment touch its own periodic "
            "image; use a larger cell (more atoms) or build_melt_quench"
        )
    if attempt:
        notes.append(f"dense packing redrawn {attempt} time(s) (sub-seed {sub_seed})")
    params = dict(rep.params, density=density, compressed_from=start_density,
                  final_min_separation=min(sep_c, rep.params["final_min_separation"]))
    return out, describe(out, method="fragments", seed=seed, params=params,
                         notes=rep.notes + notes)


def _overlap(trial: np.ndarray, tree: cKDTree, box: np.ndarray, ids: np.ndarray, k: int,
             sep: float) -> float:
    """Sum of (sep - d)² over pairs closer than ``sep`` between ``trial`` (fragment k) and
    atoms of other fragments."""
    pairs = tree.query_ball_point(trial, sep)
    pen = 0.0
    for a, js in enumerate(pairs):
        js = [j for j in js if ids[j] != k]
        if js:
            d = tree.data[js] - trial[a]
            d -= box * np.round(d / box)
            r = np.linalg.norm(d, axis=1)
            pen += float(np.sum((sep - r[r < sep]) ** 2))
    return pen


def _compress(pos: np.ndarray, ids: np.ndarray, box: np.ndarray, edge: float, sep: float,
              rng: np.random.Generator, stage: float = 0.98, max_sweeps: int = 150,
              sep_floor: float = 1.9) -> tuple[np.ndarray, list[str], float]:
    """Compress a packing of rigid fragments to a cube of ``edge`` Å.

    Stages scale the fragment centres affinely (fragments keep their shape) by at most
    ``stage`` per stage; after each, overlapping fragments (atoms of different fragments
    closer than ``sep``) take random rigid moves (translation ≤ 0.3 Å, rotation ≤ 0.15 rad)
    that are kept when they lower the overlap, until none is left.
    """
    n_frag = int(ids.max()) + 1
    frags = []
    for k in range(n_frag):
        p = pos[ids == k]  # unwrapped (whole) fragment
        com = p.mean(axis=0)
        frags.append([p - com, com, np.eye(3)])
    notes: list[str] = []
    cur = box.copy()
    target = np.full(3, edge)

    def assemble():
        out = np.empty_like(pos)
        for k, (loc, com, rot) in enumerate(frags):
            out[ids == k] = loc @ rot.T + com
        return _wrap(out, cur)

    while True:
        new = np.maximum(target, cur * stage)
        for f in frags:
            f[1] = f[1] * new / cur
        cur = new
        for _sweep in range(max_sweeps):
            allpos = assemble()
            tree = cKDTree(allpos, boxsize=cur)
            bad = {int(ids[i]) for i, j in tree.query_pairs(sep) if ids[i] != ids[j]}
            bad |= {int(ids[j]) for i, j in tree.query_pairs(sep) if ids[i] != ids[j]}
            if not bad:
                break
            for k in rng.permutation(sorted(bad)):
                loc, com, rot = frags[k]
                now = _overlap(_wrap(loc @ rot.T + com, cur), tree, cur, ids, k, sep)
                for _ in range(8):
                    dr = Rotation.from_rotvec(rng.normal(scale=0.15 / 3**0.5, size=3))
                    rot2 = dr.as_matrix() @ rot
                    com2 = com + rng.normal(scale=0.3 / 3**0.5, size=3)
                    trial = _wrap(loc @ rot2.T + com2, cur)
                    pen = _overlap(trial, tree, cur, ids, k, sep)
                    if pen < now:
                        frags[k][1], frags[k][2] = com2, rot2
                        allpos[ids == k] = trial
                        tree = cKDTree(allpos, boxsize=cur)
                        break
        else:
            if sep * 0.95 < sep_floor:
                raise RuntimeError(
                    f"compression jammed at {cur[0]:.2f} Å (target {edge:.2f} Å): lower the "
                    "density or use build_melt_quench for dense carbons"
                )
            sep *= 0.95
            notes.append(f"compression: separation lowered to {sep:.2f} Å")
            continue
        if np.allclose(cur, target):
            break
    notes.append(f"compressed from {box[0]:.2f} Å to {edge:.2f} Å with rigid-fragment moves "
                 f"(separation {sep:.2f} Å)")
    return assemble(), notes, sep


# --------------------------------------------------------------------------- melt-quench


def build_melt_quench(
    calculator,
    n_carbon: int = 200,
    density: float = 1.5,
    *,
    seed: int = 0,
    t_melt: float = 5000.0,
    t_anneal: float = 3000.0,
    t_final: float = 300.0,
    steps_melt: int = 5000,
    steps_quench: int = 10000,
    steps_anneal: int = 5000,
    timestep_fs: float = 1.0,
    min_start_distance: float = 1.3,
    log=None,
) -> tuple[Atoms, BuildReport]:
    """Melt-quench hard carbon with any ASE calculator (GPU MLIPs make this practical).

    Random start (C atoms at least ``min_start_distance`` apart) at the target carbon
    density; Langevin NVT at ``t_melt`` (liquid), a linear quench to ``t_anneal``, an anneal
    there, then a linear quench to ``t_final``. Steps of 1 fs by default; the published
    protocols use 10-100 ps per stage, so the defaults here (5/10/5 ps) are the short end.
    """
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    rng = np.random.default_rng(seed)
    edge = cell_length_for_density(n_carbon, density)
    box = np.full(3, edge)
    pts = np.zeros((0, 3))
    tries = 0
    while len(pts) < n_carbon:
        p = rng.uniform(0, 1, 3) * box
        if len(pts):
            d = pts - p
            d -= box * np.round(d / box)
            if np.min(np.einsum("ij,ij->i", d, d)) < min_start_distance**2:
                tries += 1
                if tries > 200000:
                    raise RuntimeError("random start failed; lower min_start_distance")
                continue
        pts = np.vstack([pts, p])
    atoms = Atoms(f"C{n_carbon}", positions=pts, cell=np.diag(box), pbc=True)
    atoms.calc = calculator
    MaxwellBoltzmannDistribution(atoms, temperature_K=t_melt, rng=rng)
    dyn = Langevin(atoms, timestep_fs * units.fs, temperature_K=t_melt, friction=0.01 / units.fs,
                   rng=rng)

    def stage(n: int, t0: float, t1: float, name: str) -> None:
        if n <= 0:
            return
        block = max(1, n // 50)
        done = 0
        while done < n:
            k = min(block, n - done)
            dyn.set_temperature(temperature_K=t0 + (t1 - t0) * (done + k) / n)
            dyn.run(k)
            done += k
        if log is not None:
            log(f"{name}: {n} steps {t0:.0f} -> {t1:.0f} K, T = {atoms.get_temperature():.0f} K")

    stage(steps_melt, t_melt, t_melt, "melt")
    stage(steps_quench, t_melt, t_anneal, "quench")
    stage(steps_anneal, t_anneal, t_anneal, "anneal")
    stage(steps_quench, t_anneal, t_final, "final quench")
    atoms.wrap()
    atoms.calc = None
    params = dict(
        n_carbon=n_carbon, density=density, t_melt=t_melt, t_anneal=t_anneal, t_final=t_final,
        steps=[steps_melt, steps_quench, steps_anneal, steps_quench], timestep_fs=timestep_fs,
        calculator=type(calculator).__name__,
    )
    return atoms, describe(atoms, method="melt-quench", seed=seed, params=params)


# --------------------------------------------------------------------------- user files


def read_structure(path, index: int | str = -1, format: str | None = None
                   ) -> tuple[Atoms, BuildReport]:
    """Read a user's structure with :func:`ase.io.read` (any format it knows).

    Raises ``ValueError`` when the structure has no periodic cell.
    """
    from ase.io import read

    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such structure file")
    try:
        atoms = read(str(path), index=index, format=format)
    except Exception as exc:  # noqa: BLE001 - ASE raises many types for unreadable files
        raise ValueError(f"{path}: cannot read the structure ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else exc!r}); give a file "
                         "ASE reads (extxyz, cif, LAMMPS data, POSCAR, ...)") from exc
    if isinstance(atoms, list):
        atoms = atoms[-1]
    if atoms.cell.rank < 3:
        raise ValueError(f"{path}: the structure has no 3D cell; MD here needs periodic cells")
    atoms.pbc = True
    atoms.wrap()
    return atoms, describe(atoms, method="file", params={"path": str(path)})
