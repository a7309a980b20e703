"""Carbon structures with known pores for the void tests (Å)."""

from __future__ import annotations

import numpy as np

BCC = 1.42  # graphene C-C bond, Å
LATTICE = 1.5  # simple-cubic "dense carbon" lattice constant: no void at radius 1.7 Å


def cubic_matrix(n: int, a: float = LATTICE) -> tuple[np.ndarray, np.ndarray]:
    """Simple-cubic carbon lattice of n^3 atoms in an orthogonal cube of edge n*a.

    At a = 1.5 Å every point lies within 1.3 Å of an atom, so with radius 1.7 Å the matrix has
    no void at all: pores appear only where atoms are removed.
    """
    g = np.arange(n) * a
    pos = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    return pos, np.diag([n * a] * 3)


def min_image_norm(d: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Minimum-image lengths of separation vectors (27-image check)."""
    s = d @ np.linalg.inv(box)
    s -= np.rint(s)
    best = np.full(len(d), np.inf)
    for i in (-1, 0, 1):
        for j in (-1, 0, 1):
            for k in (-1, 0, 1):
                best = np.minimum(best, np.linalg.norm((s + [i, j, k]) @ box, axis=1))
    return best


def carve(pos: np.ndarray, box: np.ndarray, inside) -> np.ndarray:
    """Remove the atoms for which ``inside(pos)`` is True."""
    return pos[~inside(pos)]


def sphere(centre, radius, box, r_atom=1.7):
    """Predicate: atom overlaps a sphere of ``radius`` (i.e. lies within radius + r_atom)."""
    c = np.asarray(centre, float)
    return lambda p: min_image_norm(p - c, box) < radius + r_atom


def cylinder_x(y0, z0, radius, box, r_atom=1.7):
    """Predicate: atom within radius + r_atom of the line (y0, z0) along x (orthogonal box)."""
    def f(p):
        d = p - np.array([0.0, y0, z0])
        d[:, 0] = 0.0
        return min_image_norm(d, box) < radius + r_atom
    return f


def graphene_slit(s: float, nx: int = 4, ny: int = 2):
    """One graphene sheet per cell of height ``s`` (so slits between a sheet and its periodic
    image). The sheet lies at z = s/2 and a hexagon centre sits at x = y = 0, so the grid
    point (0, 0, 0) is the centre of the largest inscribed sphere."""
    a = np.sqrt(3.0) * BCC
    base = np.array([[0.0, 0.0], [0.0, BCC], [a / 2, 1.5 * BCC], [a / 2, 2.5 * BCC]])
    base -= [a / 2, 0.5 * BCC]  # hexagon centre (a/2, bcc/2) -> origin
    cells = [base + [i * a, j * 3 * BCC] for i in range(nx) for j in range(ny)]
    xy = np.concatenate(cells)
    pos = np.column_stack([xy, np.full(len(xy), s / 2)])
    box = np.diag([nx * a, ny * 3 * BCC, s])
    return pos, box


def two_cavities(rt: float = 1.0, r_cav: float = 3.0):
    """Two cavities of radius ``r_cav`` at x = 6 and 18 Å in a 24 x 18 x 18 Å cubic-lattice
    block, joined by a straight channel of radius ``rt`` along x between them."""
    box = np.diag([24.0, 18.0, 18.0])
    pos = np.stack(np.meshgrid(np.arange(16) * LATTICE, np.arange(12) * LATTICE,
                               np.arange(12) * LATTICE, indexing="ij"), -1).reshape(-1, 3)
    c1, c2 = np.array([6.0, 9.0, 9.0]), np.array([18.0, 9.0, 9.0])

    def joined(p):
        inside = sphere(c1, r_cav, box)(p) | sphere(c2, r_cav, box)(p)
        seg = (p[:, 0] > 6.0) & (p[:, 0] < 18.0)
        radial = np.hypot(p[:, 1] - 9.0, p[:, 2] - 9.0)
        return inside | (seg & (radial < rt + 1.7))

    return carve(pos, box, joined), box, c1, c2
