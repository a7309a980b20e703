"""Carbon frameworks made by melt-quench-and-anneal MD in LAMMPS, with a report that says how
hard-carbon-like they are.

:func:`melt_quench` puts ``n_carbon`` atoms at random (>= 1.3 Å apart) in a cubic cell of the
requested carbon density and runs, with a carbon potential that ships with LAMMPS
(:data:`mdrunner.lammps_engine.CARBON_POTENTIALS`) and a Nosé–Hoover thermostat: a liquid at
``t_melt``, a linear quench to ``t_anneal``, an anneal there (the stage in which sp² layers
grow: the annealed-MD protocol of de Tomas et al., Carbon 109, 681 (2016)), a linear quench
to ``t_final`` and a minimisation. LAMMPS runs in a child process (see
:mod:`mdrunner.lammps_engine`).

:func:`carbon_report` measures any carbon cell: density, sp/sp²/sp³ fractions (coordination
2/3/4 within 1.85 Å, :func:`hcanalysis.structure.carbon_hybridisation`), ring statistics
(:func:`hcanalysis.structure.ring_statistics`), the C–C first RDF peak, the largest void
(distance from any point to the nearest C) and warnings when the cell is far from hard
carbon. The reference figures (:data:`HARD_CARBON_REFERENCE`) are those of published hard
and amorphous carbon models and measurements: sp² fraction above ~0.8 with a few per cent
sp³ for annealed, graphitising carbons (de Tomas et al. 2016; hard-carbon models of
Shiell et al., Phys. Rev. Lett. 120, 215701 (2018)), a C–C first peak at 1.42–1.44 Å
(graphene 1.42 Å; sp²-rich amorphous carbon 1.42-1.44 Å), mostly six-membered rings with
five- and seven-membered rings for curvature, densities 1.4–1.7 g/cm³ (skeletal) and
pores of 0.5–2 nm.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

#: What a hard-carbon-like framework looks like (see the module docstring for sources).
HARD_CARBON_REFERENCE = {
    "sp2_min": 0.75,
    "sp3_max": 0.15,
    "cc_peak_A": (1.40, 1.46),
    "density_g_cm3": (1.2, 1.8),
    "six_ring_fraction_min": 0.4,
}


def melt_quench(n_carbon: int, density: float, *, seed: int = 0, potential: str = "tersoff",
                t_melt: float = 5000.0, t_anneal: float = 3500.0, t_final: float = 300.0,
                ps_melt: float = 5.0, ps_quench: float = 5.0, ps_anneal: float = 20.0,
                ps_cool: float = 10.0, timestep_fs: float = 0.5, np_: int = 1,
                workdir=None, log=None):
    """Melt-quench-and-anneal ``n_carbon`` C at ``density`` g/cm³ with LAMMPS.

    Parameters
    ----------
    n_carbon : int
    density : float
        Carbon density, g/cm³ (the cell is cubic and fixed: NVT throughout).
    seed : int
        Seed of the random start and the velocities.
    potential : str
        Key of :data:`mdrunner.lammps_engine.CARBON_POTENTIALS` (``tersoff`` is the
        fastest; ``lcbop`` and ``rebo`` describe sp² carbon better).
    t_melt, t_anneal, t_final : float
        Temperatures of the liquid, the anneal and the end, K.
    ps_melt, ps_quench, ps_anneal, ps_cool : float
        Durations, ps: liquid, quench to ``t_anneal``, anneal, quench to ``t_final``.
    timestep_fs : float
        Time step, fs (0.5 fs: the liquid at 5,000 K needs it).

    Returns
    -------
    (ase.Atoms, BuildReport)
        The report's ``params["carbon"]`` holds :func:`carbon_report`'s figures, and its
        notes any warnings.
    """
    from ase.io import read

    from mdrunner.builders import cell_length_for_density, describe
    from mdrunner.lammps_engine import CARBON_POTENTIALS, mpi_launcher, potentials_dir

    if potential not in CARBON_POTENTIALS:
        raise ValueError(f"potential {potential!r}: one of {', '.join(CARBON_POTENTIALS)}")
    style, fname, ref = CARBON_POTENTIALS[potential]
    length = cell_length_for_density(n_carbon, density)
    dt = timestep_fs / 1000.0

    def steps(ps: float) -> int:
        return max(1, int(round(ps / dt)))

    tmp = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="meltquench_"))
    tmp.mkdir(parents=True, exist_ok=True)
    out = tmp / "quenched.data"
    s1, s2 = 1 + seed % 900000, 1 + (seed * 7919 + 13) % 900000
    cmds = [
        "units metal", "atom_style atomic", "boundary p p p",
        f"region box block 0 {length:.10f} 0 {length:.10f} 0 {length:.10f}",
        "create_box 1 box",
        f"create_atoms 1 random {n_carbon} {s1} NULL overlap 1.3 maxtry 1000",
        "mass 1 12.011",
        f"pair_style {style}",
        f"pair_coeff * * {potentials_dir() / fname} C",
        "neighbor 2.0 bin", "neigh_modify delay 0 every 1 check yes",
        f"timestep {dt}", "thermo 1000",
        "minimize 0 1e-3 200 2000", "reset_timestep 0",
        f"velocity all create {t_melt} {s2} mom yes rot no dist gaussian",
        f"fix nvt all nvt temp {t_melt} {t_melt} {100 * dt}",
        f"run {steps(ps_melt)}", "unfix nvt",
        f"fix nvt all nvt temp {t_melt} {t_anneal} {100 * dt}",
        f"run {steps(ps_quench)}", "unfix nvt",
        f"fix nvt all nvt temp {t_anneal} {t_anneal} {100 * dt}",
        f"run {steps(ps_anneal)}", "unfix nvt",
        f"fix nvt all nvt temp {t_anneal} {t_final} {100 * dt}",
        f"run {steps(ps_cool)}", "unfix nvt",
        "minimize 0 1e-4 2000 20000",
        f"write_data {out}",
    ]
    (tmp / "commands.json").write_text(json.dumps(cmds))
    cmd = [sys.executable, "-m", "mdrunner.lammps_builders", str(tmp / "commands.json")]
    if np_ > 1:
        launcher = mpi_launcher()
        if launcher is None:
            raise RuntimeError(f"np = {np_} needs mpiexec; none found")
        cmd = [launcher, "-n", str(np_)] + cmd
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent) + os.pathsep + \
        env.get("PYTHONPATH", "")
    proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"LAMMPS melt-quench failed:\n{proc.stderr[-3000:]}")
    atoms = read(out, format="lammps-data", atom_style="atomic", Z_of_type={1: 6})
    atoms.pbc = True
    params = dict(n_carbon=n_carbon, density=density, potential=potential, reference=ref,
                  t_melt=t_melt, t_anneal=t_anneal, t_final=t_final, ps_melt=ps_melt,
                  ps_quench=ps_quench, ps_anneal=ps_anneal, ps_cool=ps_cool,
                  timestep_fs=timestep_fs)
    rep_c, notes = carbon_report(atoms)
    params["carbon"] = rep_c
    report = describe(atoms, method="melt-quench-lammps", seed=seed, params=params,
                      notes=notes)
    if log is not None:
        log(report.summary())
    return atoms, report


def carbon_report(atoms, *, warn: bool = True) -> tuple[dict, list[str]]:
    """Figures of a carbon cell and the ways it is not hard-carbon-like.

    Returns
    -------
    (dict, list of str)
        ``density_g_cm3``, ``sp``, ``sp2``, ``sp3``, ``other`` fractions,
        ``mean_coordination``, ``rings`` (count by size 3..8), ``six_ring_fraction``,
        ``cc_peak_A`` (first maximum of the C–C RDF), ``largest_void_radius_A`` (largest
        distance from a 0.5 Å grid point to the nearest C), ``psd`` (pore-size distribution
        by local thickness, see :func:`_pore_size_distribution`); and the warnings (also
        issued as ``UserWarning`` when ``warn``).
    """
    from hcanalysis.structure import carbon_hybridisation, rdf_from_positions, ring_statistics
    from mdrunner.builders import describe
    from mdrunner.insertion import void_sites

    sym = np.array(atoms.get_chemical_symbols())
    c = atoms[sym == "C"]
    box = np.asarray(c.cell[:], dtype=float)
    pos = c.get_positions()
    hyb = carbon_hybridisation(pos, box, backend="cpu")
    rings = ring_statistics(pos, box, backend="cpu")
    res = rdf_from_positions(pos, None, box, r_max=2.0, bins=400, r_min=1.0, backend="cpu")
    peak = float("nan")
    r, g = np.asarray(res.r), np.asarray(res.g)
    sel = (r > 1.1) & (r < 1.8)
    if sel.any() and np.nanmax(g[sel]) > 0:
        peak = float(r[sel][np.nanargmax(g[sel])])
    _, dist = void_sites(c, spacing=0.5, method="kdtree")
    dens = describe(c).carbon_density
    n_rings = int(rings[3:].sum())
    out = dict(density_g_cm3=dens, **{k: float(v) for k, v in hyb.fractions.items()},
               mean_coordination=hyb.mean_coordination,
               rings={int(s): int(rings[s]) for s in range(3, len(rings)) if rings[s]},
               six_ring_fraction=float(rings[6] / n_rings) if n_rings else 0.0,
               cc_peak_A=peak, largest_void_radius_A=float(dist.max()))
    out["psd"] = _pore_size_distribution(pos, box)
    ref = HARD_CARBON_REFERENCE
    notes = []
    if out["sp2"] < ref["sp2_min"]:
        notes.append(f"sp2 fraction {out['sp2']:.2f} < {ref['sp2_min']} (hard carbon is "
                     "sp2-dominated): not hard-carbon-like")
    if out["sp3"] > ref["sp3_max"]:
        notes.append(f"sp3 fraction {out['sp3']:.2f} > {ref['sp3_max']}: closer to "
                     "tetrahedral amorphous carbon than to hard carbon")
    lo, hi = ref["cc_peak_A"]
    if np.isfinite(peak) and not lo <= peak <= hi:
        notes.append(f"C-C first peak at {peak:.3f} Å, outside {lo}-{hi} Å (graphene-like "
                     "sp2 bonds give 1.42-1.44 Å)")
    lo, hi = ref["density_g_cm3"]
    if not lo - 1e-6 <= dens <= hi + 1e-6:  # a cell built at 1.2 measures 1.1999999999999995
        notes.append(f"carbon density {dens:.2f} g/cm³ outside the hard-carbon range "
                     f"{lo}-{hi} g/cm³")
    if n_rings and out["six_ring_fraction"] < ref["six_ring_fraction_min"]:
        notes.append(f"six-membered rings are {out['six_ring_fraction']:.2f} of the rings "
                     f"(< {ref['six_ring_fraction_min']}): little graphene-like order")
    if warn:
        for n in notes:
            warnings.warn(n, UserWarning, stacklevel=2)
    return out, notes


def _pore_size_distribution(pos: np.ndarray, box: np.ndarray, spacing: float = 0.5,
                            bin_A: float = 0.25) -> dict:
    """Pore-size distribution of a carbon cell by local thickness
    (:meth:`hcanalysis.voids.VoidMap.psd`; C radius 1.7 Å, probe 0, grid ``spacing`` Å).

    Returns ``radius_edges_A`` (bins of ``bin_A`` Å), ``volume_fraction`` per bin (of the
    void volume), ``void_fraction`` (of the cell), ``median_radius_A`` and ``max_radius_A``
    (local-thickness radius: the largest C-free sphere, measured from the C surfaces, that
    covers a void point).
    """
    from hcanalysis import voids

    vm = voids.tessellate(pos, box, spacing=spacing, backend="cpu")
    lt = vm.local_thickness[vm.mask]
    top = float(lt.max()) if lt.size else 0.0
    frac, edges = vm.psd(bins=np.arange(0.0, top + bin_A + 1e-9, bin_A))
    return dict(radius_edges_A=[round(float(e), 4) for e in edges],
                volume_fraction=[round(float(f), 5) for f in frac],
                void_fraction=float(vm.mask.mean()),
                median_radius_A=float(np.median(lt)) if lt.size else float("nan"),
                max_radius_A=top)


def _child(commands_path: str) -> int:
    from mdrunner.lammps_engine import load_lammps

    cmds = json.loads(Path(commands_path).read_text())
    lmp = load_lammps().lammps(cmdargs=["-log", "log.lammps", "-screen", "none", "-nocite"])
    for c in cmds:
        lmp.command(c)
    lmp.close()
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
