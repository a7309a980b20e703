"""``hcanalysis tortuosity``: global geodesic tortuosity of the void and local tortuosity per
ion and window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from hcanalysis.cli import options as opt
from hcanalysis.cli.app import app, check_output, console, progress
from hcanalysis.cli.layout import write_family_output
from hcanalysis.cli.voids_cmd import parse_radii
from hcanalysis.config import TortuosityConfig, VoidsConfig
from hcanalysis.errors import HCAnalysisError

_T = TortuosityConfig()
_V = VoidsConfig()


def legacy_views(fam, ion_index: np.ndarray, top: dict, glob: dict) -> tuple[dict, dict]:
    """The views and attributes of the command's layout (``tortuosity/global/*``,
    ``tortuosity/local/*``, ``tortuosity/family``; docs/tortuosity.md) from the
    :class:`hcanalysis.families.Tortuosity` result written at ``/tortuosity`` (see
    :mod:`hcanalysis.cli.layout`)."""
    a = "/tortuosity/arrays/"
    keys = ["median", "std", "percolates", "start_fraction", "network_fraction", "lengths"]
    keys += [f"{k}_{n}" for n in "abc" for k in ("samples", "starts")]
    views: dict = {"tortuosity/global/tau": a + "global_tau",
                   **{f"tortuosity/global/{k}": a + f"global_{k}" for k in keys},
                   "tortuosity/family": "/tortuosity"}
    if fam.local:
        views.update({
            "tortuosity/local/tau": "/tortuosity/values/local_tortuosity",
            "tortuosity/local/reachable": "/tortuosity/values/shell_reachable",
            "tortuosity/local/snapped": a + "snapped",
            "tortuosity/local/window_bounds": "/tortuosity/bounds",
            "tortuosity/local/frames": "/tortuosity/frames",
            "tortuosity/local/sample_frames": a + "sample_frames",
            "tortuosity/local/ion_index": np.asarray(ion_index)})
    return views, {"tortuosity": top, "tortuosity/global": glob}


def plot_geodesic_slice(vm, path: Path, axis: int = 0, plane_axis: int = 2,
                        frac: float = 0.5) -> None:
    """Geodesic distance (Å) from the void of the start plane ``axis = 0`` (multi-source,
    periodic), drawn on the plane ``plane_axis = frac``; wall in grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hcanalysis.tortuosity import as_void_grid, geodesic_field

    g = as_void_grid(vm)
    sl = [slice(None)] * 3
    sl[axis] = 0
    start = np.zeros(g.shape, dtype=bool)
    start[tuple(sl)] = g.mask[tuple(sl)]
    seeds = np.argwhere(start)
    d = geodesic_field(g, (seeds / np.asarray(g.shape)) @ g.box)
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
    format: str = opt.format_option(),
    topology: Path = opt.topology_option(),
    type_map: str = opt.type_map_option(),
    dt_ps: float = opt.dt_ps_option(),
    ions: str = opt.ions_option(),
    framework: str = opt.framework_option(),
    framework_file: Path | None = opt.framework_file_option(),
    radius: list[str] = typer.Option(None, "--radius", help="Atom radius per species, C:1.7."),
    spacing: float = typer.Option(_V.spacing, "--spacing", help="Void grid spacing, Å."),
    probe: float = typer.Option(_V.probe, "--probe", help="Probe radius of the void, Å."),
    remap_rmsd: float = typer.Option(_V.remap_rmsd, "--remap-rmsd",
                                     help="New void map when the framework moved more than "
                                          "this since the last map (RMS, Å)."),
    map_stride: int = typer.Option(None, "--map-stride",
                                   help="Also a new void map once the last is N analysed "
                                        "frames old (checked at window starts)."),
    frames_per_window: int = typer.Option(
        _T.frames_per_window, "--frames-per-window",
        help="Frames sampled per window for the local tortuosity (1: its first frame)."),
    sample_stride: int = typer.Option(
        None, "--sample-stride",
        help="Alias: one sample every N analysed frames (sets --frames-per-window to "
             "window / N)."),
    start: int = opt.start_option(),
    stop: int = opt.stop_option(),
    step: int = opt.step_option(),
    frames: str = opt.frames_option(),
    window: int = opt.window_option(),
    stride: int = opt.stride_option(),
    shell_radius: float = typer.Option(_T.shell_radius, "--shell-radius",
                                       help="Local shell radius R, Å."),
    max_ratio: float = typer.Option(2.0, "--max-ratio",
                                    help="Local paths longer than this x R are not followed."),
    method: str = typer.Option("dijkstra", "--method", help="dijkstra or fmm (orthogonal)."),
    max_starts: int = typer.Option(32, "--max-starts", help="Global: start points per axis."),
    exact: bool = typer.Option(False, "--exact", help="Global: every start-plane point."),
    seed: int = opt.seed_option(),
    no_local: bool = typer.Option(False, "--no-local", help="Global tortuosity only."),
    backend: str = opt.backend_option(),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output file."),
) -> None:
    """Global geodesic tortuosity per cell axis of the void (first void map) and local
    tortuosity per ion and window (the estimator of `analyze`); writes OUT.h5 and
    OUT_geodesic.png."""
    from hcanalysis.families import Tortuosity

    check_output(out_path, [traj_path, topology], force)
    traj = opt.load_trajectory(traj_path, format, topology, type_map, dt_ps, framework_file)
    fsl = opt.resolve_frames(start, stop, step, frames)
    fam = Tortuosity(ions=opt.species_list(ions), framework=opt.species_list(framework),
                     shell_radius=shell_radius, frames_per_window=frames_per_window,
                     max_ratio=max_ratio, method=method, global_max_starts=max_starts,
                     exact=exact, seed=seed, local=not no_local, spacing=spacing,
                     radii=parse_radii(radius), probe=probe, remap_rmsd=remap_rmsd,
                     map_stride=map_stride)
    plan = fam.plan(traj, frames=fsl, windows=(window, stride), backend=backend)
    if sample_stride is not None:
        if sample_stride < 1:
            raise HCAnalysisError(f"--sample-stride {sample_stride}: must be >= 1 frame")
        fam.frames_per_window = max(1, -(-plan.window // sample_stride))
    with progress() as bar:
        task = bar.add_task("tortuosity", total=None)
        plan.progress = lambda _s, d, n: bar.update(task, completed=d, total=n)
        fam.compute(traj, plan=plan)
    g = fam.global_result
    vm = fam.maps[0]
    top = {"trajectory": str(traj_path), "spacing_A": spacing, "probe_A": probe,
           "radii": str(fam.map_radii()), "ions": ions, "framework": framework,
           "method": method, "remap_rmsd_A": remap_rmsd,
           "map_stride": -1 if map_stride is None else map_stride,
           "frames_per_window": fam.frames_per_window, "shell_radius_A": shell_radius,
           "max_ratio": max_ratio}
    glob = {"map_frame": int(fam.frames[fam.bounds[0, 0]]),
            "connected_fraction": g.connected_fraction, "porosity": g.porosity,
            "exact": g.exact, "max_starts": max_starts, "seed": seed}
    write_family_output(out_path, fam, *legacy_views(fam, traj.indices(opt.species_list(ions)),
                                                     top, glob))
    plot_geodesic_slice(vm, Path(f"{out_path.with_suffix('')}_geodesic.png"))
    tau_txt = ", ".join("inf" if not np.isfinite(t) else f"{t:.3f}" for t in g.tau)
    extra = ""
    if not no_local:
        extra = (f"; local tau (median over ions, windows) "
                 f"{np.nanmedian(fam.values['local_tortuosity']):.3f}, reachable "
                 f"{np.nanmedian(fam.values['shell_reachable']):.2f}")
    console.print(f"[bold]tortuosity[/]: global tau a, b, c = {tau_txt} "
                  f"(network {g.connected_fraction:.2f} of the void){extra} -> {out_path}")
