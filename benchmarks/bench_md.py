"""MD throughput of mdrunner's potentials: ns/day and atom-steps/s.

Potentials: CHGNet 0.3.0 (the embedded default), SevenNet-0 (the ``sevenn`` extra; it shares
mace-torch's environment, see ``mdrunner.calculators.allow_e3nn_constants``), the LAMMPS engine
(rigid and flexible framework) and a MACE model of MACE-MP-0-medium size
(128x0e+128x1o, L=3, correlation 3, two interactions, r_max 6 Å) with random weights — the
speed does not depend on the weights. Cells: a 200-atom HC + Na cell (fragment generator,
1.5 g/cm³, NaC8) repeated to 1,000 and 5,000 atoms. One MD step costs one energy + forces
evaluation; the time of that (best of a few, after a warm-up) gives atom-steps/s and, at
1 fs, ns/day. With one CPU thread the process CPU time is used (the wall time on a shared
machine measures the other users too); both are stored. Reference: the published
MACE-MP-0b2-L throughput on one H100 for batched relaxations, about 3.3e5 atom-steps/s.

    python -m benchmarks.bench_md [--quick] [--device cpu|cuda] [--threads N] [--sizes ...]
        [--potentials chgnet,mace,sevenn,lammps-rigid,lammps-flexible] [--tag NAME]

``lammps-rigid`` and ``lammps-flexible`` time the LAMMPS engine of mdrunner
(:mod:`mdrunner.lammps_engine`: UFF Lennard-Jones Na in a rigid framework, or with LCBOP-I
carbon) on the same cells: a short CSVR MD run, one MPI rank, the CPU time per step of the
LAMMPS process (after its setup), frames every 100 steps.

Each (potential, size) point runs in its own process (its peak memory is recorded); sizes
whose extrapolated peak memory exceeds what the machine has are skipped with the estimate.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from benchmarks.common import machine_info, write_results
from hcanalysis.kernels.backend import free_memory_bytes

PUBLISHED_MACE_H100 = 3.3e5  # atom-steps/s, MACE-MP-0b2-L batched relaxations on one H100
#: Peak resident memory of one energy + forces evaluation on the CPU (float32, one thread),
#: bytes = base + per_atom * n_atoms, fitted to the peaks measured at 200 and 1,000 atoms
#: (CHGNet 2.14 / 8.75 GB, MACE-MP-0-medium size 2.03 / 6.32 GB, SevenNet-0 1.85 / 6.10 GB):
#: used to skip cells that cannot fit instead of letting the OOM killer take the machine.
CPU_MEMORY_MODEL = {"chgnet": (0.49e9, 8.26e6), "mace": (0.95e9, 5.37e6),
                    "sevenn": (0.79e9, 5.31e6)}


def cells(sizes):
    from mdrunner.builders import build_fragments
    from mdrunner.insertion import insert_na

    carbon, _ = build_fragments(178, 1.5, seed=0)
    base, _ = insert_na(carbon, "NaC8", seed=0, method="kdtree")  # 178 C + 22 Na = 200
    reps = {200: (1, 1, 1), 1000: (1, 1, 5), 2000: (2, 1, 5), 3000: (3, 1, 5),
            5000: (5, 5, 1)}
    out = {}
    for n in sizes:
        out[n] = base.repeat(reps.get(n, (1, 1, max(1, round(n / 200)))))
    return out


def mace_medium(path, device):
    """A MACE model of MACE-MP-0-medium size with random weights (the speed does not depend
    on the weights)."""
    from mdrunner.calculators import random_mace

    return random_mace(path, "medium")


def time_calc(calc, atoms, repeat: int) -> tuple[float, float]:
    """Best wall time and best CPU time (s) of one energy + forces evaluation."""
    atoms = atoms.copy()
    atoms.calc = calc
    rng = np.random.default_rng(0)
    atoms.get_forces()  # warm-up (graph compile, caches)
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeat):
        atoms.positions += rng.normal(scale=1e-3, size=atoms.positions.shape)
        t0, c0 = time.perf_counter(), time.process_time()
        atoms.get_forces()
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return best, best_cpu


def needed_bytes(pot: str, n_atoms: int, device: str) -> float:
    """Estimated peak memory (bytes) of one evaluation (0 when not modelled, e.g. a GPU)."""
    if device != "cpu" or pot not in CPU_MEMORY_MODEL:
        return 0.0
    base, per_atom = CPU_MEMORY_MODEL[pot]
    return base + per_atom * n_atoms


def measure_one(pot: str, n: int, device: str, threads: int, repeat: int) -> dict:
    """Time one (potential, cell size) point in this process; peak RSS included."""
    import resource
    import tempfile
    from pathlib import Path

    from mdrunner import calculators

    atoms = cells([n])[n]
    if pot.startswith("lammps"):
        return measure_lammps(pot, atoms, n)
    if pot == "mace":
        tmp = Path(tempfile.mkdtemp())
        calc = calculators.get("mace", model=mace_medium(tmp / "mace_medium.model", device),
                               device=device, dtype="float32", threads=threads)
    else:
        calc = calculators.get(pot, device=device, threads=threads)
    wall, cpu = time_calc(calc, atoms, repeat)
    # on a shared machine the wall time mostly measures the other users; with one torch
    # thread the CPU time is the time the step takes on a free core
    t = cpu if device == "cpu" and threads == 1 else wall
    aps = n / t
    return {"potential": pot, "n_atoms": n, "s_per_step": t, "wall_s_per_step": wall,
            "cpu_s_per_step": cpu, "atom_steps_per_s": aps,
            "ns_per_day_1fs": 86400.0 / t * 1e-6,
            "ratio_to_published_mace_h100": aps / PUBLISHED_MACE_H100,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}


def measure_lammps(pot: str, atoms, n: int) -> dict:
    """A short MD run of the LAMMPS engine (rigid or flexible framework) on ``atoms``."""
    import resource
    import tempfile

    from mdrunner.lammps_engine import LammpsConfig, run_lammps_md
    from mdrunner.md import MDConfig

    framework = pot.split("-", 1)[1]
    steps = int(max(200, min(2000, 4e5 // n if framework == "rigid" else 1e5 // n)))
    steps -= steps % 100
    cfg = MDConfig(thermostat="csvr", temperature_K=600.0, steps=steps, save_every=100,
                   checkpoint_every=steps, relax_steps=0)
    with tempfile.TemporaryDirectory() as d:
        out = run_lammps_md(atoms, d, cfg, LammpsConfig(framework=framework))
    t = out["cpu_s_per_step"]
    aps = n / t
    return {"potential": pot, "n_atoms": n, "s_per_step": t,
            "wall_s_per_step": out["s_per_step"], "cpu_s_per_step": t, "steps": steps,
            "atom_steps_per_s": aps, "ns_per_day_1fs": 86400.0 / t * 1e-6,
            "ratio_to_published_mace_h100": aps / PUBLISHED_MACE_H100,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6}


def run_point(pot: str, n: int, args) -> dict:
    """One point in a child process (its own peak memory; an out-of-memory kill is reported,
    not fatal)."""
    cmd = [sys.executable, "-m", "benchmarks.bench_md", "--one", pot, str(n),
           "--device", args.device, "--threads", str(args.threads),
           "--repeat", str(1 if args.quick else args.repeat)]
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for line in proc.stdout.splitlines()[::-1]:
        if line.startswith("{"):
            return json.loads(line)
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    if "No module named" in "\n".join(tail) or "ImportError" in "\n".join(tail) or \
            "not installed" in "\n".join(tail):
        return {"potential": pot, "skipped": " ".join(tail)}
    why = "killed (out of memory?)" if proc.returncode in (-9, 137) else f"rc {proc.returncode}"
    return {"potential": pot, "n_atoms": n, "failed": why, "stderr_tail": tail}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="200 atoms, CHGNet only (< 30 s)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--gpu", action="store_true", help="--device cuda when torch sees a GPU")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sizes", default="200,1000,2000,5000")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--potentials", default="chgnet,mace,sevenn,lammps-rigid,lammps-flexible")
    ap.add_argument("--tag", default="", help="suffix of the result file (md_<device>_<tag>)")
    ap.add_argument("--one", nargs=2, metavar=("POTENTIAL", "N_ATOMS"),
                    help=argparse.SUPPRESS)  # internal: one point, JSON on stdout
    args = ap.parse_args(argv)
    if args.one:
        row = measure_one(args.one[0], int(args.one[1]), args.device, args.threads,
                          args.repeat)
        print(json.dumps(row))
        return {"rows": [row]}
    if args.gpu:
        import torch

        if torch.cuda.is_available():
            args.device = "cuda"
    load_start = machine_info()["load_average"]
    sizes = [200] if args.quick else [int(x) for x in args.sizes.split(",")]
    pots = ["chgnet"] if args.quick else args.potentials.split(",")
    rows = []
    for pot in pots:
        for n in sizes:
            need = needed_bytes(pot, n, args.device)
            avail = free_memory_bytes("cpu")
            if need > 0.85 * avail:
                msg = (f"needs ~{need / 2**30:.0f} GiB (peak memory measured at 200 and 1,000 "
                       f"atoms, extrapolated), {avail / 2**30:.0f} GiB available")
                print(f"{pot:7s} {n:5d} atoms: skipped ({msg})")
                rows.append({"potential": pot, "n_atoms": n, "skipped": msg,
                             "estimated_peak_gb": need / 1e9})
                continue
            row = run_point(pot, n, args)
            rows.append(row)
            if "skipped" in row and "n_atoms" not in row:
                print(f"{pot}: skipped ({row['skipped']})")
                break  # not installed: no other size will work either
            if "failed" in row:
                print(f"{pot:7s} {n:5d} atoms: {row['failed']}")
                continue
            t = row["s_per_step"]
            t_txt = f"{t * 1e3:8.3f} ms/step" if t < 0.1 else f"{t:8.3f} s/step"
            print(f"{pot:7s} {n:5d} atoms: {t_txt}  "
                  f"{row['atom_steps_per_s']:10.1f} atom-steps/s  "
                  f"{row['ns_per_day_1fs']:.4f} ns/day  "
                  f"x{row['ratio_to_published_mace_h100']:.2e} of MACE on H100  "
                  f"peak {row['peak_rss_gb']:.1f} GB")
    name = "md_cpu_quick" if args.quick else f"md_{args.device}"
    if args.tag:
        name += f"_{args.tag}"
    out = write_results(name, {"device": args.device, "torch_threads": args.threads,
                               "published_mace_h100_atom_steps_per_s": PUBLISHED_MACE_H100,
                               "rows": rows, "load_average_start": load_start,
                               "machine_extra": machine_info()["load_average"]})
    print(f"results -> {out}")
    return {"rows": rows}


if __name__ == "__main__":
    main()
