"""Element names from masses or LAMMPS type ids."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

#: A mass must lie within this many amu of an element's standard atomic mass to be matched.
MASS_TOLERANCE = 0.15


def element_from_mass(mass: float, tolerance: float = MASS_TOLERANCE) -> str | None:
    """The element whose standard atomic mass is nearest ``mass`` (amu), or None when none lies
    within ``tolerance``."""
    from ase.data import atomic_masses, chemical_symbols

    diffs = np.abs(np.asarray(atomic_masses[1:]) - float(mass))
    z = int(np.argmin(diffs)) + 1
    return chemical_symbols[z] if diffs[z - 1] <= tolerance else None


def guess_elements(masses: Mapping[int, float]) -> tuple[dict[int, str], str]:
    """Guess an element per LAMMPS type from its mass.

    Returns
    -------
    type_map : dict of int to str
        type id -> element (types whose mass matches no element are left out).
    report : str
        A human-readable line saying what was guessed, e.g. ``"type 1 (12.011) -> C"``.
    """
    out: dict[int, str] = {}
    parts = []
    for t, m in sorted(masses.items()):
        el = element_from_mass(m)
        if el is not None:
            out[int(t)] = el
            parts.append(f"type {t} ({m:g} amu) -> {el}")
        else:
            parts.append(f"type {t} ({m:g} amu) -> no element")
    return out, "elements guessed from masses: " + ", ".join(parts)
