"""Na insertion into the voids of a carbon structure.

Candidate sites are points of a periodic grid over the cell, ranked by their distance to
the nearest carbon atom (largest first, the centres of the voids); ions are placed greedily
on that ranking, skipping sites closer than ``min_na_na`` Å to an ion already placed.
"""

from __future__ import annotations

import re

import numpy as np
from ase import Atoms
from scipy.spatial import cKDTree

from mdrunner.builders import BuildReport, describe


def parse_loading(loading: str | int | float, n_carbon: int) -> int:
    """Number of Na ions for a loading: ``"NaC8"`` (one Na per 8 C), ``"C8"``, ``8.0`` -> x,
    or an ``int``/``"24"`` number of ions."""
    if isinstance(loading, (int, np.integer)) and not isinstance(loading, bool):
        n = int(loading)
    elif isinstance(loading, float):
        n = _ions_per_carbon(loading, n_carbon, loading)
    else:
        s = str(loading).strip()
        m = re.fullmatch(r"(?i)(?:na)?c_?(\d+(?:\.\d+)?)", s)
        if m:
            n = _ions_per_carbon(float(m.group(1)), n_carbon, loading)
        elif re.fullmatch(r"\d+", s):
            n = int(s)
        else:
            raise ValueError(f"loading {loading!r}: use NaC<x> (e.g. NaC8) or a number of ions")
    if n < 0:
        raise ValueError(f"loading {loading!r}: a number of ions must be >= 0")
    return n


def _ions_per_carbon(x: float, n_carbon: int, loading) -> int:
    """Ions for one Na per ``x`` C; ``x`` must be a finite number > 0."""
    if not (np.isfinite(x) and x > 0):
        raise ValueError(f"loading {loading!r}: NaC<x> needs x > 0 carbons per Na (e.g. NaC8)")
    return int(round(n_carbon / x))


def distance_to_carbon(atoms: Atoms, points: np.ndarray, element: str = "C") -> np.ndarray:
    """Periodic distance (Å) from each point to the nearest atom of ``element``."""
    sym = np.array(atoms.get_chemical_symbols())
    c = atoms.get_positions()[sym == element]
    if len(c) == 0:
        return np.full(len(points), np.inf)
    cell = np.asarray(atoms.cell[:])
    if np.count_nonzero(cell - np.diag(np.diag(cell))) == 0:
        box = np.diag(cell)
        tree = cKDTree(np.mod(c, box), boxsize=box)
        d, _ = tree.query(np.mod(points, box), k=1)
        return d
    shifts = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)])
    frac = np.mod(np.linalg.solve(cell.T, c.T).T, 1.0)
    imgs = ((frac[None, :, :] + shifts[:, None, :]).reshape(-1, 3)) @ cell
    pfrac = np.mod(np.linalg.solve(cell.T, points.T).T, 1.0)
    d, _ = cKDTree(imgs).query(pfrac @ cell, k=1)
    return d


def void_sites(atoms: Atoms, spacing: float = 0.4, method: str = "auto"
               ) -> tuple[np.ndarray, np.ndarray]:
    """Grid points over the cell and their distance to carbon (Å), sorted largest first.

    ``method="hcanalysis"`` uses :func:`hcanalysis.voids.distance_field` (the void map of the
    analysis side, exact periodic distances on its grid), ``"kdtree"`` a k-d tree search on a
    grid of ``spacing`` Å; ``"auto"`` takes the first when it is importable.
    """
    cell = np.asarray(atoms.cell[:])
    if method == "auto":
        try:
            from hcanalysis.voids import distance_field  # noqa: F401

            method = "hcanalysis"
        except ImportError:
            method = "kdtree"
    if method == "hcanalysis":
        from hcanalysis.voids import distance_field, grid_points, grid_shape

        sym = np.array(atoms.get_chemical_symbols())
        c = atoms.get_positions()[sym == "C"]
        shape = grid_shape(cell, spacing)
        d = distance_field(c, cell, np.zeros(len(c)), shape, backend="cpu").ravel()
        pts = grid_points(cell, shape)
    elif method == "kdtree":
        lengths = np.linalg.norm(cell, axis=1)
        n = np.maximum(1, np.ceil(lengths / spacing).astype(int))
        g = [np.arange(k) / k for k in n]
        frac = np.stack(np.meshgrid(*g, indexing="ij"), axis=-1).reshape(-1, 3)
        pts = frac @ cell
        d = distance_to_carbon(atoms, pts)
    else:
        raise ValueError(f"method {method!r}: auto, hcanalysis or kdtree")
    order = np.argsort(-d, kind="stable")
    return pts[order], d[order]


def _min_image(delta: np.ndarray, cell: np.ndarray) -> np.ndarray:
    frac = np.linalg.solve(cell.T, delta.T).T
    frac -= np.round(frac)
    return frac @ cell


def insert_na(
    atoms: Atoms,
    loading: str | int | float = "NaC8",
    *,
    min_na_na: float = 3.2,
    min_na_c: float = 2.0,
    spacing: float = 0.4,
    seed: int = 0,
    jitter: float = 0.0,
    method: str = "auto",
) -> tuple[Atoms, BuildReport]:
    """Insert Na into the largest voids.

    Parameters
    ----------
    atoms : ase.Atoms
        Periodic carbon (or C + anything) structure.
    loading : str or int
        ``"NaC8"``-style stoichiometry (Na per C) or a number of ions.
    min_na_na : float
        Minimum Na-Na distance, Å.
    min_na_c : float
        Sites nearer than this to a carbon atom are not used, Å.
    spacing : float
        Grid spacing of the void search, Å.
    method : str
        Void search: ``"auto"`` (hcanalysis' void map when importable), ``"hcanalysis"``,
        ``"kdtree"`` (see :func:`void_sites`).
    seed : int
        Seed for the optional ``jitter`` (Å) added to the chosen sites, and for breaking
        ties between equally deep sites.

    Returns
    -------
    atoms : ase.Atoms with the Na appended after the existing atoms
    report : BuildReport (``params['site_depths']``: distance to C of each Na, Å)

    Raises
    ------
    ValueError
        When the voids cannot hold that many ions at the requested separations; the
        message says how many fit.
    """
    n_c = int(np.sum(np.array(atoms.get_chemical_symbols()) == "C"))
    n_na = parse_loading(loading, n_c)
    if n_na < 0:
        raise ValueError("negative loading")
    rng = np.random.default_rng(seed)
    pts, depth = void_sites(atoms, spacing, method)
    # random tie-break among equal depths (grid symmetry), stable otherwise
    key = depth + rng.uniform(0, 1e-9, size=len(depth))
    order = np.argsort(-key, kind="stable")
    pts, depth = pts[order], depth[order]
    cell = np.asarray(atoms.cell[:])
    chosen: list[int] = []
    for k in range(len(pts)):
        if len(chosen) == n_na or depth[k] < min_na_c:
            break
        if chosen:
            dv = _min_image(pts[chosen] - pts[k], cell)
            if np.min(np.einsum("ij,ij->i", dv, dv)) < min_na_na**2:
                continue
        chosen.append(k)
    if len(chosen) < n_na:
        raise ValueError(
            f"only {len(chosen)} of {n_na} Na fit in the voids with Na-Na >= {min_na_na} Å "
            f"and Na-C >= {min_na_c} Å; lower the loading or the separations"
        )
    na_pos = pts[chosen] + (rng.normal(scale=jitter, size=(n_na, 3)) if jitter > 0 else 0.0)
    out = atoms.copy()
    out.calc = None
    out += Atoms(f"Na{n_na}" if n_na else "", positions=na_pos, cell=cell, pbc=True)
    out.wrap()
    params = dict(
        loading=str(loading), n_na=n_na, min_na_na=min_na_na, min_na_c=min_na_c,
        spacing=spacing, method=method, site_depths=[float(x) for x in depth[chosen]],
    )
    return out, describe(out, method="insert_na", seed=seed, params=params)
