"""``hcanalysis voids``: void maps of the framework and per-ion void descriptors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from hcanalysis.atomic import atomic_output
from hcanalysis.cli.app import app, check_output, console, progress
from hcanalysis.errors import HCAnalysisError


def parse_radii(items: list[str] | None) -> dict[str, float]:
    """``["C:1.7", "O:1.52"]`` -> ``{"C": 1.7, "O": 1.52}`` (default carbon 1.7 Å)."""
    out: dict[str, float] = {}
    for item in items or []:
        for part in item.split(","):
            name, sep, val = part.partition(":")
            try:
                out[name.strip()] = float(val)
            except ValueError:
                raise HCAnalysisError(
                    f"--radius: cannot read {part!r}; write element:radius such as C:1.7"
                ) from None
            if not sep or not name.strip():
                raise HCAnalysisError(f"--radius: cannot read {part!r}; write C:1.7")
    return out or {"C": 1.7}


def parse_frames(text: str | None) -> slice:
    """``"start:stop:step"`` (any part optional) -> slice."""
    if not text:
        return slice(None)
    parts = [p.strip() for p in text.split(":")]
    if len(parts) > 3 or not all(p == "" or p.lstrip("-").isdigit() for p in parts):
        raise HCAnalysisError(f"--frames: cannot read {text!r}; write start:stop:step")
    vals = [int(p) if p else None for p in parts] + [None] * (3 - len(parts))
    return slice(*vals)


def plot_psd(vm, path: Path, bins: int = 40) -> None:
    """Local-thickness pore-size distribution (diameter) of one void map as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frac, edges = vm.psd(bins)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.bar(2 * edges[:-1], frac, width=2 * np.diff(edges), align="edge", color="tab:blue")
    ax.set_xlabel("local thickness diameter (Å)")
    ax.set_ylabel("fraction of void volume")
    ax.set_title(f"porosity {vm.porosity:.3f}, LCD {vm.lcd:.2f} Å", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_slice(vm, path: Path, ions: np.ndarray | None = None, axis: int = 2,
               frac: float = 0.5) -> None:
    """A plane of the distance field (fractional ``frac`` along ``axis``) with the pore
    boundaries outlined and the ions within one grid step of the plane overlaid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = vm.shape[axis]
    k = int(round(frac * n)) % n
    sl = [slice(None)] * 3
    sl[axis] = k
    d = vm.distance[tuple(sl)]
    lab = vm.labels[tuple(sl)]
    xyz = vm.grid_points()[tuple(sl)]
    others = [a for a in range(3) if a != axis]
    # Cartesian coordinates in the plane: project on the two in-plane cell vectors' frame
    e1 = vm.box[others[0]] / np.linalg.norm(vm.box[others[0]])
    e2 = vm.box[others[1]] - e1 * (vm.box[others[1]] @ e1)
    e2 /= np.linalg.norm(e2)
    X, Y = xyz @ e1, xyz @ e2
    fig, ax = plt.subplots(figsize=(6, 5))
    m = ax.pcolormesh(X, Y, np.where(d >= vm.probe, d, np.nan), shading="nearest",
                      cmap="viridis")
    ax.pcolormesh(X, Y, np.where(d < vm.probe, 1.0, np.nan), shading="nearest",
                  cmap="Greys", vmin=0, vmax=2)
    # pore-pore boundaries (walls are grey already), periodic in the plane
    edge = np.zeros_like(lab, dtype=bool)
    for ax_ in (0, 1):
        for sh in (1, -1):
            nb = np.roll(lab, sh, axis=ax_)
            edge |= (nb >= 0) & (nb != lab)
    edge &= lab >= 0
    ax.scatter(X[edge], Y[edge], s=4, c="white", marker="s", linewidths=0, alpha=0.8)
    if ions is not None and len(ions):
        s = (np.asarray(ions) @ np.linalg.inv(vm.box))[:, axis]
        dz = (s - k / n + 0.5) % 1.0 - 0.5
        near = np.abs(dz) * np.linalg.norm(vm.box[axis]) <= 1.5
        p = (np.asarray(ions)[near] @ np.linalg.inv(vm.box)) % 1.0 @ vm.box
        ax.scatter(p @ e1, p @ e2, s=18, c="red", edgecolors="k", linewidths=0.4,
                   label="Na within 1.5 Å")
        ax.legend(loc="upper right", fontsize=7)
    fig.colorbar(m, ax=ax, label="distance to wall d (Å)")
    ax.set_aspect("equal")
    ax.set_xlabel("Å")
    ax.set_ylabel("Å")
    ax.set_title(f"plane {'abc'[axis]} = {k / n:.2f}; walls grey, pore boundaries white",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@app.command("voids")
def voids_cmd(
    traj_path: Path = typer.Argument(..., help="Trajectory file.", metavar="TRAJ"),
    out_path: Path = typer.Option(..., "--output", "-o", help="Output HDF5 file."),
    format: str = typer.Option(None, "--format", "-f", help="Reader (default: from the name)."),
    topology: Path = typer.Option(None, "--topology", "-t", help="Topology (XTC/DCD need one)."),
    type_map: str = typer.Option(None, "--type-map", help="LAMMPS types, e.g. 1:C,2:Na."),
    dt_ps: float = typer.Option(None, "--dt-ps", help="MD step (dumps) or frame spacing, ps."),
    ions: str = typer.Option("Na", "--ions", help="Ion species."),
    framework: str = typer.Option("C", "--framework", help="Framework species (comma list)."),
    radius: list[str] = typer.Option(None, "--radius", help="Radius per species, e.g. C:1.7."),
    spacing: float = typer.Option(0.3, "--spacing", help="Grid spacing, Å."),
    probe: float = typer.Option(0.0, "--probe", help="Probe radius of the void, Å."),
    merge_delta: float = typer.Option(0.25, "--merge-delta",
                                      help="Watershed persistence threshold, Å."),
    map_stride: int = typer.Option(100, "--map-stride",
                                   help="New void map every N analysed frames."),
    frames: str = typer.Option(None, "--frames", help="Frames start:stop:step."),
    window: int = typer.Option(None, "--window", help="Window length, analysed frames."),
    stride: int = typer.Option(None, "--stride", help="Window stride, analysed frames."),
    voronoi: bool = typer.Option(True, "--voronoi/--no-voronoi", help="Ion Voronoi volumes."),
    backend: str = typer.Option("auto", "--backend", help="auto, cpu or cuda."),
    reuse_maps: bool = typer.Option(False, "--reuse-maps",
                                    help="Reuse void maps cached in an existing OUT."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output file."),
) -> None:
    """Void maps (distance field, pores, throats, PSD, LCD/PLD) every --map-stride frames and
    per-ion void descriptors per window; writes OUT.h5, OUT_psd.png and OUT_slice.png."""
    import h5py

    from hcanalysis.cli.io_cmds import parse_type_map
    from hcanalysis.io import load
    from hcanalysis.voids import void_descriptors

    check_output(out_path, [traj_path, topology], force or reuse_maps,
                 hint="pass --force to overwrite it or --reuse-maps to reuse its void maps")
    traj = load(traj_path, format=format, topology=topology, dt_ps=dt_ps,
                type_map=parse_type_map(type_map))
    fw = [s.strip() for s in framework.split(",") if s.strip()]
    radii = parse_radii(radius)
    fsl = parse_frames(frames)
    n_an = len(np.arange(traj.n_frames)[fsl])
    mode = "a" if (reuse_maps and out_path.exists() and not force) else "w"
    with atomic_output(out_path, copy_existing=mode == "a") as tmp, h5py.File(tmp, mode) as h5:
        cache = h5.require_group("voids/maps")
        for name in ("ions", "per_frame", "summary"):
            if f"voids/{name}" in h5:
                del h5[f"voids/{name}"]
        with progress() as bar:
            task = bar.add_task("ion descriptors", total=n_an)
            res = void_descriptors(
                traj, ions=ions, framework=fw, frames=fsl, window=window, stride=stride,
                map_stride=map_stride, spacing=spacing, radii=radii, probe=probe,
                merge_delta=merge_delta, voronoi=voronoi, backend=backend, cache=cache,
                on_frame=lambda _f: bar.advance(task))
        g = h5.require_group("voids")
        g.attrs.update({"trajectory": str(traj_path), "spacing_A": spacing, "probe_A": probe,
                        "merge_delta_A": merge_delta, "map_stride": map_stride,
                        "radii": str(radii), "ions": ions, "framework": framework})
        tab = g.create_group("ions")
        for col in res.table.columns:
            tab.create_dataset(col, data=res.table[col].to_numpy())
        pf = g.create_group("per_frame")
        pf.create_dataset("frames", data=res.frames)
        pf.create_dataset("map_frame", data=res.map_frame)
        for k, v in res.per_frame.items():
            pf.create_dataset(k, data=v, compression="gzip")
        summ = g.create_group("summary")
        mf = np.array(sorted(res.maps))
        summ.create_dataset("frame", data=mf)
        summ.create_dataset("porosity", data=[res.maps[f].porosity for f in mf])
        summ.create_dataset("lcd", data=[res.maps[f].lcd for f in mf])
        summ.create_dataset("pld", data=np.array([res.maps[f].pld for f in mf]))
        summ.create_dataset("n_pores", data=[res.maps[f].n_pores for f in mf])
    first = res.maps[int(mf[0])]
    stem = out_path.with_suffix("")
    plot_psd(first, Path(f"{stem}_psd.png"))
    na = traj.positions(ions, frames=[int(mf[0])])[0]
    plot_slice(first, Path(f"{stem}_slice.png"), ions=na)
    console.print(
        f"[bold]voids[/]: {len(mf)} map(s), porosity {first.porosity:.3f}, "
        f"LCD {first.lcd:.2f} Å, PLD a/b/c {np.round(first.pld, 2).tolist()} Å, "
        f"{first.n_pores} pores; {len(res.table)} (ion, window) rows -> {out_path}")
