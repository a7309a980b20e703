"""Hops against pore-to-pore transitions: Na in a rigid hard-carbon framework, run by LAMMPS.

The framework is mdrunner's curved-fragment hard carbon (200 C at 1.3 g/cm³); Na sits at the
centres of its largest pores; Na–C and Na–Na are UFF 12-6 Lennard-Jones (Rappé et al. 1992,
geometric mixing), the carbon is rigid, Na is thermostatted (Langevin, 0.5 ps) at 800 K for
200 ps (2 fs steps, a frame every 40 fs). LAMMPS runs in a child process
(``lammps_fixture.run_commands``).

The reference is geometric and shares nothing with p_hop: the void map of the carbon
(``hcanalysis.voids.tessellate``) assigns every Na frame to a pore; pores whose inscribed
radius (distance to the carbon surface, C radius 1.7 Å) is at least 1.0 Å, i.e. room for a Na
centre 2.7 Å from the carbon centres (0.9 × the UFF Na–C sigma of 3.0 Å), are the sites
("cores"); time spent elsewhere belongs to the last site visited (milestoning; Buchete &
Hummer, J. Phys. Chem. B 112, 6057, 2008), and a move to a new site counts when the ion stays
there for at least 1 ps (recrossings of a pore boundary are not transitions).
"""

from __future__ import annotations

import numpy as np
import pytest
from lammps_fixture import lammps_available, run_commands

from hcanalysis import hops, load, voids

KCAL_MOL_EV = 0.0433641043
#: UFF (x_i Å, D_i kcal/mol) of C and Na; sigma = x / 2^(1/6).
UFF = {"C": (3.851, 0.105), "Na": (2.983, 0.030)}
T_K, STEPS, EVERY, DT_FS = 800.0, 100_000, 20, 2.0
CORE_RADIUS = 1.0  # Å
DWELL_PS = 1.0


def _sigma_eps(el: str) -> tuple[float, float]:
    x, d = UFF[el]
    return x / 2 ** (1 / 6), d * KCAL_MOL_EV


def _data_file(path, carbon, na, length) -> None:
    lines = ["hard carbon + Na (rigid carbon)", "", f"{len(carbon) + len(na)} atoms",
             "2 atom types", "", f"0 {length} xlo xhi", f"0 {length} ylo yhi",
             f"0 {length} zlo zhi", "", "Masses", "", "1 12.011", "2 22.98977", "",
             "Atoms # atomic", ""]
    for k, p in enumerate(np.vstack([carbon, na]) % length, start=1):
        lines.append(f"{k} {1 if k <= len(carbon) else 2} {p[0]:.6f} {p[1]:.6f} {p[2]:.6f}")
    path.write_text("\n".join(lines) + "\n")


def site_moves(labels: np.ndarray, is_core: np.ndarray, dwell: int) -> list[int]:
    """Frames at which one ion moves to a new core pore (milestoning on its per-frame pore
    labels), counted when it then stays at the new core for at least ``dwell`` frames."""
    visits = []  # (core, first frame)
    last = -1
    for f, lab in enumerate(labels):
        if lab >= 0 and is_core[lab] and lab != last:
            visits.append((int(lab), f))
            last = lab
    ends = [f for _, f in visits[1:]] + ([len(labels)] if visits else [])
    kept = [(c, f) for (c, f), e in zip(visits, ends, strict=True) if e - f >= dwell]
    return [f for (a, _), (b, f) in zip(kept, kept[1:], strict=False) if a != b]


@pytest.fixture(scope="module")
def na_in_carbon(tmp_path_factory):
    if not lammps_available():
        pytest.skip("the lammps Python module cannot be imported (pip install 'lammps[mpi]')")
    from mdrunner import build_fragments

    atoms, _ = build_fragments(200, 1.3, seed=0)
    carbon = atoms.get_positions()
    box = np.asarray(atoms.cell[:])
    length = float(box[0, 0])
    vmap = voids.tessellate(carbon, box, None, radii=1.7, spacing=0.4)
    radius = np.asarray(vmap.pores["radius"])
    sites: list[np.ndarray] = []
    for k in np.argsort(radius)[::-1]:  # largest pores first, sites >= 3.5 Å apart
        p = vmap.pore_centres[k]
        if all(np.linalg.norm((p - q + length / 2) % length - length / 2) > 3.5 for q in sites):
            sites.append(p)
    na = np.array(sites[:12])
    out = tmp_path_factory.mktemp("na_hc")
    _data_file(out / "system.data", carbon, na, length)
    (s_c, e_c), (s_na, e_na) = _sigma_eps("C"), _sigma_eps("Na")
    run_commands([
        "units metal", "atom_style atomic", "boundary p p p",
        f"read_data {out / 'system.data'}",
        "pair_style lj/cut 7.0", "pair_modify shift yes", "pair_coeff 1 1 0.0 3.4",
        f"pair_coeff 1 2 {np.sqrt(e_c * e_na):.6f} {np.sqrt(s_c * s_na):.6f}",
        f"pair_coeff 2 2 {e_na:.6f} {s_na:.6f}",
        "group na type 2", "neigh_modify exclude type 1 1 every 1 delay 0",
        f"velocity na create {T_K} 11 dist gaussian", "fix 1 na nve",
        f"fix 2 na langevin {T_K} {T_K} 0.5 7", f"timestep {DT_FS / 1000}",
        f"dump d na custom {EVERY} {out / 'na.dump'} id type xu yu zu",
        "dump_modify d sort id format float %.6f", f"run {STEPS}",
    ], cwd=out)
    traj = load(out / "na.dump", type_map={2: "Na"}, dt_ps=DT_FS / 1000)
    x = traj.positions("Na", unwrap=True)
    labels = vmap.pore_at(x.reshape(-1, 3) % length).reshape(x.shape[0], x.shape[1])
    core = radius >= CORE_RADIUS
    dwell = int(round(DWELL_PS / traj.dt_ps))
    return x, traj.dt_ps, [site_moves(labels[:, i], core, dwell) for i in range(x.shape[1])]


def agreement(events, moves: list[list[int]]) -> tuple[float, float, float]:
    """(recall, r, ratio): the fraction of pore-to-pore moves with a detected hop of the same
    ion within 2 half-windows of the move's frame; Pearson r of the per-ion counts of hops
    and moves; total hops / total moves."""
    w = events.attrs["half_window"]
    hit = 0
    for i, frames in enumerate(moves):
        fh = events.loc[events["ion"] == i, "frame_hop"].to_numpy()
        hit += sum(bool(np.any(np.abs(fh - f) <= 2 * w)) for f in frames)
    n_moves = np.array([len(m) for m in moves])
    counts = np.bincount(events["ion"], minlength=len(moves))
    return (hit / n_moves.sum(), float(np.corrcoef(counts, n_moves)[0, 1]),
            counts.sum() / n_moves.sum())


@pytest.mark.slow
def test_hops_agree_with_pore_to_pore_transitions(na_in_carbon):
    """With the half-window and the threshold from the data, p_hop finds the moves between
    pores of the void map: recall >= 0.6 (measured 0.72-0.93 over five runs at 700-900 K,
    100-200 ps), Pearson r of the per-ion counts > 0.4 (0.57-0.84), and more hops than moves
    (1.8-5.8x: jumps between sites inside one pore count as hops too). The former per-ion
    threshold, which scales each ion's threshold by its own motion, finds fewer of the moves
    (recall 0.21-0.47)."""
    x, dt, moves = na_in_carbon
    assert sum(len(m) for m in moves) >= 10  # the run is in a hopping regime
    ev = hops.detect(x, dt_ps=dt)
    assert "cage time" in ev.attrs["half_window_source"]
    assert 0.1 < ev.attrs["half_window_ps"] < 5
    recall, r, ratio = agreement(ev, moves)
    old = hops.detect(x, dt_ps=dt, threshold="per_ion")
    recall_old, r_old, ratio_old = agreement(old, moves)
    print(f"auto: recall {recall:.2f} r {r:.2f} ratio {ratio:.2f} (w = "
          f"{ev.attrs['half_window_ps']:.3g} ps, p_c = {ev.attrs['thresholds'][0]:.3g} Å²); "
          f"per_ion: recall {recall_old:.2f} r {r_old:.2f} ratio {ratio_old:.2f}")
    assert recall >= 0.6
    assert r > 0.4
    assert 1.0 <= ratio < 8.0
    assert recall_old < recall
