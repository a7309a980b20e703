"""``hcanalysis tortuosity``: global geodesic tortuosity of the void and local tortuosity per
ion and window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from hcanalysis.atomic import atomic_output
from hcanalysis.cli.app import app, check_output, console, progress
from hcanalysis.errors import HCAnalysisError


def plot_geodesic_slice(vm, path: Path, axis: int = 0, plane_axis: int = 2,
                        frac: float = 0.5) -> None:
    """Geodesic distance (Å) from the void of the start plane ``axis = 0`` (multi-source,
    periodic), drawn on the plane ``plane_axis = frac``; wall in grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hcanalysis.kernels import tortuosity as K
    from hcanalysis.tortuosity import as_void_grid

    g = as_void_grid(vm)
    sl = [slice(None)] * 3
    sl[axis] = 0
    start = np.zeros(g.shape, dtype=bool)
    start[tuple(sl)] = g.mask[tuple(sl)]
    d = K.geodesic_dijkstra(g.mask, g.box, np.flatnonzero(start))
    n = g.shape[plane_axis]
    k = int(round(frac * n)) % n
    sl = [slice(None)] * 3
    sl[plane_axis] = k
    dd = d[tuple(sl)]
    others = [a for a in range(3) if a != plane_axis]
    idx = np.stack(np.meshgrid(*[np.arange(g.shape[a]) for a in range(3)], indexing="ij"),
                   axis=-1)[tuple(sl)]
    xyz = (idx / np.asarray(g.shape)) @ g.box
    e1 = g.box[others[0]] / np.linalg.norm(g.box[others[0]])
    e2 = g.box[others[1]] - e1 * (g.box[others[1]] @ e1)
    e2 /= np.linalg.norm(e2)
    X, Y = xyz @ e1, xyz @ e2
    fig, ax = plt.subplots(figsize=(6, 5))
    mesh = ax.pcolormesh(X, Y, np.where(np.isfinite(dd), dd, np.nan), shading="nearest",
                         cmap="magma")
    wall = ~g.mask[tuple(sl)]
    ax.pcolormesh(X, Y, np.where(wall, 1.0, np.nan), shading="nearest", cmap="Greys",
                  vmin=0, vmax=2)
    fig.colorbar(mesh, ax=ax, label=f"geodesic distance from plane {'abc'[axis]} = 0 (Å)")
    ax.set_aspect("equal")
    ax.set_xlabel("Å")
    ax.set_ylabel("Å")
    ax.set_title(f"plane {'abc'[plane_axis]} = {k / n:.2f}; wall grey, unreachable void blank",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@app.command("tortuosity")
def tortuosity_cmd(
    traj_path: Path = typer.Argument(..., help="Trajectory file.", metavar="TRAJ"),
    out_path: Path = typer.Option(..., "--output", "-o", help="Output HDF5 file."),
    format: str = typer.Option(None, "--format", "-f", help="Reader (default: from the name)."),
    topology: Path = typer.Option(None, "--topology", "-t", help="Topology (XTC/DCD need one)."),
    type_map: str = typer.Option(None, "--type-map", help="LAMMPS types, e.g. 1:C,2:Na."),
    dt_ps: float = typer.Option(None, "--dt-ps", help="MD step (dumps) or frame spacing, ps."),
    ions: str = typer.Option("Na", "--ions", help="Ion species."),
    framework: str = typer.Option("C", "--framework", help="Framework species (comma list)."),
    radius: list[str] = typer.Option(None, "--radius", help="Atom radius per species, C:1.7."),
    spacing: float = typer.Option(0.3, "--spacing", help="Void grid spacing, Å."),
    probe: float = typer.Option(0.0, "--probe", help="Probe radius of the void, Å."),
    map_stride: int = typer.Option(100, "--map-stride",
                                   help="New void map every N analysed frames."),
    sample_stride: int = typer.Option(10, "--sample-stride",
                                      help="Local tortuosity every N analysed frames."),
    frames: str = typer.Option(None, "--frames", help="Frames start:stop:step."),
    window: int = typer.Option(None, "--window", help="Window length, analysed frames."),
    stride: int = typer.Option(None, "--stride", help="Window stride, analysed frames."),
    shell_radius: float = typer.Option(6.0, "--shell-radius", help="Local shell radius R, Å."),
    max_ratio: float = typer.Option(2.0, "--max-ratio",
                                    help="Local paths longer than this x R are not followed."),
    method: str = typer.Option("dijkstra", "--method", help="dijkstra or fmm (orthogonal)."),
    max_starts: int = typer.Option(32, "--max-starts", help="Global: start points per axis."),
    exact: bool = typer.Option(False, "--exact", help="Global: every start-plane point."),
    seed: int = typer.Option(0, "--seed", help="Seed of the start-point sample."),
    no_local: bool = typer.Option(False, "--no-local", help="Global tortuosity only."),
    backend: str = typer.Option("auto", "--backend", help="auto, cpu or cuda."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output file."),
) -> None:
    """Global geodesic tortuosity per cell axis of the void (first void map) and local
    tortuosity per ion and window; writes OUT.h5 and OUT_geodesic.png."""
    import h5py

    from hcanalysis import tortuosity as tort
    from hcanalysis.cli.io_cmds import parse_type_map
    from hcanalysis.cli.voids_cmd import parse_frames, parse_radii
    from hcanalysis.io import load
    from hcanalysis.voids import void_maps

    check_output(out_path, [traj_path, topology], force)
    traj = load(traj_path, format=format, topology=topology, dt_ps=dt_ps,
                type_map=parse_type_map(type_map))
    fw = [s.strip() for s in framework.split(",") if s.strip()]
    radii = parse_radii(radius)
    fsl = parse_frames(frames)
    fidx = np.arange(traj.n_frames)[fsl]
    if fidx.size == 0:
        raise HCAnalysisError("--frames selects no frame")
    if no_local:
        maps = void_maps(traj, fidx[:1], framework=fw, spacing=spacing, radii=radii,
                         probe=probe, backend=backend)
        loc = None
    else:
        n_s = len(range(0, len(fidx), sample_stride))
        with progress() as bar:
            task = bar.add_task("local tortuosity", total=n_s)
            loc = tort.local_per_window(
                traj, ions=ions, framework=fw, frames=fidx, window=window, stride=stride,
                sample_stride=sample_stride, map_stride=map_stride, spacing=spacing,
                radii=radii, probe=probe, radius=shell_radius, max_ratio=max_ratio,
                method=method, backend=backend, on_sample=lambda _f: bar.advance(task))
        maps = loc.maps
    first_frame = int(sorted(maps)[0])
    vm = maps[first_frame]
    g = tort.global_tortuosity(vm, max_starts=max_starts, exact=exact, seed=seed,
                               method=method, backend=backend)
    with atomic_output(out_path) as tmp, h5py.File(tmp, "w") as h5:
        top = h5.create_group("tortuosity")
        top.attrs.update({"trajectory": str(traj_path), "spacing_A": spacing, "probe_A": probe,
                          "radii": str(radii), "ions": ions, "framework": framework,
                          "method": method, "map_stride": map_stride,
                          "sample_stride": sample_stride, "shell_radius_A": shell_radius,
                          "max_ratio": max_ratio})
        gg = top.create_group("global")
        gg.attrs["map_frame"] = first_frame
        for key in ("tau", "median", "std", "percolates", "start_fraction", "network_fraction",
                    "lengths"):
            gg.create_dataset(key, data=np.asarray(getattr(g, key)))
        gg.attrs.update({"connected_fraction": g.connected_fraction, "porosity": g.porosity,
                         "exact": g.exact, "max_starts": max_starts, "seed": seed})
        for ax, name in enumerate("abc"):
            gg.create_dataset(f"samples_{name}", data=g.samples[ax])
            gg.create_dataset(f"starts_{name}", data=g.starts[ax])
        if loc is not None:
            lg = top.create_group("local")
            lg.create_dataset("tau", data=loc.tau)
            lg.create_dataset("reachable", data=loc.reachable)
            lg.create_dataset("snapped", data=loc.snapped)
            lg.create_dataset("window_bounds", data=loc.bounds)
            lg.create_dataset("frames", data=loc.frames)
            lg.create_dataset("sample_frames", data=loc.sample_frames)
            lg.create_dataset("ion_index", data=traj.indices(ions))
    plot_geodesic_slice(vm, Path(f"{out_path.with_suffix('')}_geodesic.png"))
    tau_txt = ", ".join("inf" if not np.isfinite(t) else f"{t:.3f}" for t in g.tau)
    extra = ""
    if loc is not None:
        extra = (f"; local tau (median over ions, windows) {np.nanmedian(loc.tau):.3f}, "
                 f"reachable {np.nanmedian(loc.reachable):.2f}")
    console.print(f"[bold]tortuosity[/]: global tau a, b, c = {tau_txt} "
                  f"(network {g.connected_fraction:.2f} of the void){extra} -> {out_path}")
