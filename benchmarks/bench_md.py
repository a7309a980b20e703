"""MD throughput of mdrunner's potentials: ns/day and atom-steps/s.

Potentials: CHGNet 0.3.0 (the embedded default), SevenNet-0 (when its extra is installed; it
cannot share an environment with mace-torch), and a MACE model of MACE-MP-0-medium size
(128x0e+128x1o, L=3, correlation 3, two interactions, r_max 6 Å) with random weights — the
speed does not depend on the weights. Cells: a 200-atom HC + Na cell (fragment generator,
1.5 g/cm³, NaC8) repeated to 1,000 and 5,000 atoms. One MD step costs one energy + forces
evaluation; the time of that (best of a few, after a warm-up) gives atom-steps/s and, at
1 fs, ns/day. With one CPU thread the process CPU time is used (the wall time on a shared
machine measures the other users too); both are stored. Reference: the published
MACE-MP-0b2-L throughput on one H100 for batched relaxations, about 3.3e5 atom-steps/s.

    python -m benchmarks.bench_md [--quick] [--device cpu|cuda] [--threads N] [--sizes ...]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.common import machine_info, write_results

PUBLISHED_MACE_H100 = 3.3e5  # atom-steps/s, MACE-MP-0b2-L batched relaxations on one H100
#: measured peak memory of one CHGNet energy + forces evaluation on the CPU, bytes per atom
#: (5,000 atoms of HC + Na took ~19 GB and were killed by the OOM killer on a 24 GB machine)
CHGNET_BYTES_PER_ATOM = 4.0e6


def available_memory() -> float:
    """MemAvailable in bytes (inf when unknown)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024.0
    except OSError:
        pass
    return float("inf")


def cells(sizes):
    from mdrunner.builders import build_fragments
    from mdrunner.insertion import insert_na

    carbon, _ = build_fragments(178, 1.5, seed=0)
    base, _ = insert_na(carbon, "NaC8", seed=0, method="kdtree")  # 178 C + 22 Na = 200
    reps = {200: (1, 1, 1), 1000: (1, 1, 5), 5000: (5, 5, 1)}
    out = {}
    for n in sizes:
        out[n] = base.repeat(reps.get(n, (1, 1, max(1, round(n / 200)))))
    return out


def mace_medium(path, device):
    import mace  # noqa: F401  (before e3nn)
    import torch
    from e3nn import o3
    from mace import modules

    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        torch.manual_seed(0)
        block = modules.interaction_classes["RealAgnosticResidualInteractionBlock"]
        model = modules.ScaleShiftMACE(
            r_max=6.0, num_bessel=10, num_polynomial_cutoff=5, max_ell=3,
            interaction_cls=block, interaction_cls_first=block, num_interactions=2,
            num_elements=2, hidden_irreps=o3.Irreps("128x0e + 128x1o"),
            MLP_irreps=o3.Irreps("16x0e"), gate=torch.nn.functional.silu,
            atomic_energies=np.array([-1.0, -0.5]), avg_num_neighbors=40.0,
            atomic_numbers=[6, 11], correlation=3, radial_type="bessel",
            atomic_inter_scale=1.0, atomic_inter_shift=0.0,
        )
    finally:
        torch.set_default_dtype(old)
    torch.save(model, path)
    return path


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


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="200 atoms, CHGNet only (< 30 s)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--gpu", action="store_true", help="--device cuda when torch sees a GPU")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sizes", default="200,1000,5000")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--potentials", default="chgnet,mace,sevenn")
    args = ap.parse_args(argv)
    if args.gpu:
        import torch

        if torch.cuda.is_available():
            args.device = "cuda"
    import tempfile
    from pathlib import Path

    from mdrunner import calculators

    sizes = [200] if args.quick else [int(x) for x in args.sizes.split(",")]
    pots = ["chgnet"] if args.quick else args.potentials.split(",")
    structs = cells(sizes)
    rows = []
    tmp = Path(tempfile.mkdtemp())
    for pot in pots:
        try:
            if pot == "mace":
                calc = calculators.get("mace", model=mace_medium(tmp / "mace_medium.model",
                                                                 args.device),
                                       device=args.device, dtype="float32",
                                       threads=args.threads)
            else:
                calc = calculators.get(pot, device=args.device, threads=args.threads)
        except ImportError as exc:
            print(f"{pot}: skipped ({exc})")
            rows.append({"potential": pot, "skipped": str(exc)})
            continue
        for n, atoms in structs.items():
            need = CHGNET_BYTES_PER_ATOM * n if pot == "chgnet" and args.device == "cpu" else 0
            if need > 0.6 * available_memory():
                msg = (f"needs ~{need / 2**30:.0f} GiB, "
                       f"{available_memory() / 2**30:.0f} GiB available")
                print(f"{pot:7s} {n:5d} atoms: skipped ({msg})")
                rows.append({"potential": pot, "n_atoms": n, "skipped": msg})
                continue
            wall, cpu = time_calc(calc, atoms, 1 if args.quick else args.repeat)
            # on a shared machine the wall time mostly measures the other users; with one
            # torch thread the CPU time is the time the step takes on a free core
            t = cpu if args.device == "cpu" and args.threads == 1 else wall
            aps = n / t
            row = {"potential": pot, "n_atoms": n, "s_per_step": t, "wall_s_per_step": wall,
                   "cpu_s_per_step": cpu, "atom_steps_per_s": aps,
                   "ns_per_day_1fs": 86400.0 / t * 1e-6,
                   "ratio_to_published_mace_h100": aps / PUBLISHED_MACE_H100}
            rows.append(row)
            print(f"{pot:7s} {n:5d} atoms: {t:8.3f} s/step  {aps:10.1f} atom-steps/s  "
                  f"{row['ns_per_day_1fs']:.4f} ns/day  "
                  f"x{row['ratio_to_published_mace_h100']:.2e} of MACE on H100")
    name = "md_cpu_quick" if args.quick else f"md_{args.device}"
    out = write_results(name, {"device": args.device, "torch_threads": args.threads,
                               "published_mace_h100_atom_steps_per_s": PUBLISHED_MACE_H100,
                               "rows": rows, "machine_extra": machine_info()["load_average"]})
    print(f"results -> {out}")
    return {"rows": rows}


if __name__ == "__main__":
    main()
