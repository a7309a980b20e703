"""``hcanalysis voids``: void maps of the framework and per-ion void descriptors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from hcanalysis.atomic import atomic_output
from hcanalysis.cli import options as opt
from hcanalysis.cli.app import app, check_output, console, progress
from hcanalysis.cli.layout import write_views
from hcanalysis.cli.options import parse_frames  # noqa: F401  (kept importable here)
from hcanalysis.config import VoidsConfig
from hcanalysis.errors import HCAnalysisError

_V = VoidsConfig()


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


def legacy_views(fam, top: dict) -> tuple[dict, dict]:
    """The views and attributes of the command's layout (``voids/ions/*`` the long rows,
    ``voids/per_frame/*``, ``voids/summary/*``, ``voids/family``; docs/voids.md) from the
    :class:`hcanalysis.families.Voids` result written at ``/voids`` (see
    :mod:`hcanalysis.cli.layout`)."""
    table = fam.to_frame()
    views: dict = {f"voids/ions/{c}": table[c].to_numpy() for c in table.columns}
    views.update({f"voids/per_frame/{k}": v for k, v in fam.per_frame.items()})
    maps = [fam.maps[int(np.searchsorted(fam.bounds[:, 0], a, side="right")) - 1]
            for a in fam.arrays["map_windows"]]
    views.update({
        "voids/summary/frame": np.asarray(fam.meta["map_frames"]),
        "voids/summary/porosity": np.asarray([m.porosity for m in maps]),
        "voids/summary/lcd": np.asarray([m.lcd for m in maps]),
        "voids/summary/pld": np.array([m.pld for m in maps]),
        "voids/summary/n_pores": np.asarray([m.n_pores for m in maps]),
        "voids/family": "/voids"})
    attrs = {"voids": top, "voids/per_frame": {
        "description": "the sampled frames (--frames-per-window per window)"}}
    return views, attrs


@app.command("voids")
def voids_cmd(
    traj_path: Path = typer.Argument(..., help="Trajectory file.", metavar="TRAJ"),
    out_path: Path = typer.Option(..., "--output", "-o", help="Output HDF5 file."),
    format: str = opt.format_option(),
    topology: Path = opt.topology_option(),
    type_map: str = opt.type_map_option(),
    dt_ps: float = opt.dt_ps_option(),
    ions: str = opt.ions_option(),
    framework: str = opt.framework_option(),
    framework_file: Path | None = opt.framework_file_option(),
    radius: list[str] = typer.Option(None, "--radius", help="Radius per species, e.g. C:1.7."),
    spacing: float = typer.Option(_V.spacing, "--spacing", help="Grid spacing, Å."),
    probe: float = typer.Option(_V.probe, "--probe", help="Probe radius of the void, Å."),
    merge_delta: float = typer.Option(0.25, "--merge-delta",
                                      help="Watershed persistence threshold, Å."),
    remap_rmsd: float = typer.Option(_V.remap_rmsd, "--remap-rmsd",
                                     help="New void map when the framework moved more than "
                                          "this since the last map (RMS, Å)."),
    map_stride: int = typer.Option(None, "--map-stride",
                                   help="Also a new void map once the last is N analysed "
                                        "frames old (checked at window starts)."),
    frames_per_window: int = typer.Option(_V.frames_per_window, "--frames-per-window",
                                          help="Frames sampled per window."),
    start: int = opt.start_option(),
    stop: int = opt.stop_option(),
    step: int = opt.step_option(),
    frames: str = opt.frames_option(),
    window: int = opt.window_option(),
    stride: int = opt.stride_option(),
    voronoi: bool = typer.Option(True, "--voronoi/--no-voronoi", help="Ion Voronoi volumes."),
    backend: str = opt.backend_option(),
    reuse_maps: bool = typer.Option(False, "--reuse-maps",
                                    help="Reuse void maps cached in an existing OUT."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output file."),
) -> None:
    """Void maps (distance field, pores, throats, PSD, LCD/PLD), one per window re-made when
    the framework moved, and per-ion void descriptors per window at --frames-per-window
    frames (the estimator of `analyze`); writes OUT.h5, OUT_psd.png and OUT_slice.png."""
    import h5py

    from hcanalysis.families import Voids

    check_output(out_path, [traj_path, topology], force or reuse_maps,
                 hint="pass --force to overwrite it or --reuse-maps to reuse its void maps")
    traj = opt.load_trajectory(traj_path, format, topology, type_map, dt_ps, framework_file)
    fsl = opt.resolve_frames(start, stop, step, frames)
    mode = "a" if (reuse_maps and out_path.exists() and not force) else "w"
    with atomic_output(out_path, copy_existing=mode == "a") as tmp, h5py.File(tmp, mode) as h5:
        g = h5.require_group("voids")
        for name in list(g):  # a reused file: everything but the map cache is rewritten
            if name != "maps":
                del g[name]
        fam = Voids(ions=opt.species_list(ions), framework=opt.species_list(framework),
                    spacing=spacing, radii=parse_radii(radius), probe=probe,
                    merge_delta=merge_delta, remap_rmsd=remap_rmsd, map_stride=map_stride,
                    frames_per_window=frames_per_window, voronoi=voronoi,
                    cache=g.require_group("maps"))
        with progress() as bar:
            task = bar.add_task("voids", total=None)
            fam.compute(traj, frames=fsl, windows=(window, stride), backend=backend,
                        progress=lambda _s, d, n: bar.update(task, completed=d, total=n))
        fam.to_h5(g)
        top = {"trajectory": str(traj_path), "spacing_A": spacing, "probe_A": probe,
               "merge_delta_A": merge_delta, "remap_rmsd_A": remap_rmsd,
               "map_stride": -1 if map_stride is None else map_stride,
               "frames_per_window": frames_per_window, "radii": str(fam.map_radii()),
               "ions": ions, "framework": framework}
        write_views(h5, *legacy_views(fam, top))
    made = fam.meta["map_frames"]
    table = fam.to_frame()
    first = fam.maps[0]
    stem = out_path.with_suffix("")
    plot_psd(first, Path(f"{stem}_psd.png"))
    na = traj.positions(opt.species_list(ions), frames=[int(made[0])])[0]
    plot_slice(first, Path(f"{stem}_slice.png"), ions=na)
    console.print(
        f"[bold]voids[/]: {len(made)} map(s) for {fam.n_windows} window(s), porosity "
        f"{first.porosity:.3f}, LCD {first.lcd:.2f} Å, PLD a/b/c "
        f"{np.round(first.pld, 2).tolist()} Å, {first.n_pores} pores; {len(table)} "
        f"(ion, window) rows -> {out_path}")
