"""``hcanalysis structure``: RDFs, per-ion coordination, Na clusters, carbon hybridisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from hcanalysis.cli import options as opt
from hcanalysis.cli.app import app, check_output, console, sha256
from hcanalysis.cli.layout import write_family_output
from hcanalysis.config import StructureConfig
from hcanalysis.errors import HCAnalysisError

_S = StructureConfig()

#: Names of the per-ion descriptors in the output, with units.
COLUMNS = {
    "n_ion_ion": ("n_{ion}{ion}", "1"),
    "n_ion_c": ("n_{ion}{c}", "1"),
    "carbon_density": ("rho_{c}_local", "g/cm^3"),
    "nearest_ion": ("d_{ion}{ion}_min", "Å"),
    "nearest_c": ("d_{ion}{c}_min", "Å"),
    "cluster_size": ("cluster_size", "1"),
    "sp2_near": ("sp2_fraction_near", "1"),
    "cluster_lifetime": ("cluster_lifetime", "ps"),
}






def column_name(key: str, ion: str, carbon: str) -> str:
    """Output name of a per-ion descriptor, e.g. ``n_ion_c`` -> ``n_NaC``."""
    return COLUMNS[key][0].format(ion=ion, c=carbon)


def legacy_views(fam, meta: dict) -> tuple[dict, dict]:
    """The views and attributes of the command's layout (``cutoffs``, ``rdf/*``,
    ``per_frame/*``, ``per_ion/*`` the long rows, ``windows``, ``family``;
    docs/structure.md) from the :class:`hcanalysis.families.Structure` result written at
    ``/structure`` (see :mod:`hcanalysis.cli.layout`)."""
    from hcanalysis.columns import unit
    from hcanalysis.structure import HYBRID_NAMES

    res = fam.result
    ion, c = res.ion, res.carbon
    views: dict = {"windows": "/structure/bounds", "family": "/structure"}
    attrs: dict = {"": meta, "windows": {"description": (
        "[start, stop) rows in analysed frames; per_frame holds the sampled frames")}}
    cut = {"units": "Å", "density_radius": res.density_radius, "C-C": res.cc_cutoff}
    for key, label in (("ion-ion", f"{ion}-{ion}"), ("ion-C", f"{ion}-{c}")):
        cut[label] = res.cutoffs[key]
        cut[f"{label} source"] = res.cutoff_source[key]
    attrs["cutoffs"] = cut
    for key, label in (("ion-ion", f"{ion}{ion}"), ("ion-C", f"{ion}{c}")):
        r, fm = res.rdfs[key], res.minima[key]
        for name in ("edges", "r", "g", "n_cum", "counts"):
            views[f"rdf/{label}/{name}"] = getattr(r, name)
        attrs[f"rdf/{label}"] = {"n_frames": r.n_frames, "mean_volume_A3": r.mean_volume,
                                 "first_minimum_A": fm.r_min, "first_peak_A": fm.r_peak,
                                 "first_minimum_found": fm.found, "smooth_A": fm.smooth,
                                 "cutoff_A": res.cutoffs[key]}
    pf = {"frame": res.frames, "time_ps": res.time_ps, "ion_atom_index": res.ion_indices}
    for key in res.PER_ION:
        pf[column_name(key, ion, c)] = getattr(res, key)
        attrs[f"per_frame/{column_name(key, ion, c)}"] = {"units": COLUMNS[key][1]}
    pf.update({"cluster_label": res.cluster_label, "carbon_fractions": res.carbon_fractions,
               "carbon_mean_coordination": res.carbon_mean_cn,
               "cluster_size_distribution": res.cluster_sizes})
    attrs["per_frame"] = {"description": "(n_frames, n_ions) arrays; frames as in 'frame'"}
    attrs["per_frame/carbon_fractions"] = {"columns": ",".join(HYBRID_NAMES)}
    attrs["per_frame/cluster_size_distribution"] = {
        "description": "[frame, s] = number of clusters with s ions"}
    if res.ring_counts is not None:
        pf["carbon_ring_counts"] = res.ring_counts
        attrs["per_frame/carbon_ring_counts"] = {
            "description": "[frame, s] = distinct carbon rings of s atoms (King)"}
    views.update({f"per_frame/{k}": v for k, v in pf.items()})
    # one row per (ion, window), ion-major, columns named as in the descriptor table
    df = fam.to_frame()
    rows = {"ion": fam.ion_atoms[df["ion"].to_numpy()], "ion_index": df["ion"].to_numpy(),
            "window": df["window"].to_numpy(), "t_start": df["t_start_ps"].to_numpy(),
            "t_end": df["t_stop_ps"].to_numpy()}
    rows.update({col: df[col].to_numpy() for col in fam.columns})
    rows["cluster_lifetime"] = np.asarray(fam.arrays["cluster_lifetime"]).ravel()
    views.update({f"per_ion/{k}": v for k, v in rows.items()})
    attrs["per_ion"] = {"description": (
        "one row per (ion, window), ion-major: the descriptor table's structure columns "
        "(means over the sampled frames of each window)")}
    attrs.update({f"per_ion/{col}": {"units": unit(col)} for col in fam.columns})
    attrs["per_ion/cluster_lifetime"] = {"units": "ps"}
    for key, col in (("carbon_density", "carbon_density"), ("sp2_near", "sp2_fraction")):
        old = column_name(key, ion, c)  # the older names of these columns
        if f"per_ion/{old}" not in views:
            views[f"per_ion/{old}"] = f"/per_ion/{col}"
    return views, attrs


def plot_rdfs(path: Path, res) -> None:
    """g(r) and the running coordination number of both RDFs with the chosen cutoffs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, (key, label) in zip(axes, (("ion-ion", f"{res.ion}–{res.ion}"),
                                       ("ion-C", f"{res.ion}–{res.carbon}")), strict=True):
        from scipy.ndimage import gaussian_filter1d

        r = res.rdfs[key]
        fm = res.minima[key]
        ax.plot(r.r, r.g, color="C0", lw=0.8, alpha=0.6, label="g(r)")
        if fm.smooth > 0 and len(r.r) > 1:
            sm = gaussian_filter1d(r.g, fm.smooth / (r.r[1] - r.r[0]), mode="nearest")
            ax.plot(r.r, sm, color="C0", lw=1.4, label=f"smoothed ({fm.smooth:g} Å)")
        rc = res.cutoffs[key]
        ax.axvline(rc, color="C3", ls="--", lw=1.0,
                   label=f"cutoff {rc:.2f} Å ({res.cutoff_source[key].split(' (')[0]})")
        if fm.found:
            ax.plot([fm.r_min], [fm.g_min], "v", color="C3", ms=7)
        ax.set_xlabel("r (Å)")
        ax.set_ylabel("g(r)")
        ax.set_title(f"{label}: {r.n_frames} frames")
        ax2 = ax.twinx()
        ax2.plot(r.edges[1:], r.n_cum, color="C2", lw=1.0, label="n(r)")
        ax2.set_ylabel("running coordination number n(r)", color="C2")
        n_at = float(np.interp(rc, r.edges[1:], r.n_cum))
        ax2.axhline(n_at, color="C2", ls=":", lw=0.8)
        lines = ax.get_legend_handles_labels()
        extra = ax2.get_legend_handles_labels()
        ax.legend(lines[0] + extra[0], lines[1] + [f"n(r), {n_at:.2f} at cutoff"],
                  fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@app.command("structure")
def structure_cmd(
    traj_path: Path = typer.Argument(..., help="Trajectory file.", metavar="TRAJ"),
    output: Path = typer.Option(..., "--output", "-o", help="Output HDF5 file (.h5)."),
    ion: str = opt.ions_option(),
    carbon: str = opt.framework_option(),
    framework_file: Path | None = opt.framework_file_option(),
    cutoff_ion_ion: float = typer.Option(
        None, "--cutoff-nana", help="Na–Na cutoff, Å (default: first minimum of g_NaNa)."),
    cutoff_ion_c: float = typer.Option(
        None, "--cutoff-nac", help="Na–C cutoff, Å (default: first minimum of g_NaC)."),
    density_radius: float = typer.Option(_S.density_radius, "--density-radius",
                                         help="Sphere radius of the local carbon density, Å."),
    cc_cutoff: float = typer.Option(1.85, "--cc-cutoff", help="C–C bond cutoff, Å."),
    window: int = opt.window_option(),
    stride: int = opt.stride_option(),
    frames_per_window: int = typer.Option(_S.frames_per_window, "--frames-per-window",
                                          help="Frames sampled per window."),
    start: int = opt.start_option(),
    stop: int = opt.stop_option(),
    step: int = opt.step_option(),
    frames: str = opt.frames_option(),
    seed: int = opt.seed_option(),
    r_max: float = typer.Option(None, "--r-max", help="RDF range, Å (default min(10, L/2))."),
    bins: int = typer.Option(200, "--bins", help="RDF bins."),
    rdf_frames: int = typer.Option(50, "--rdf-frames", help="Frames used for the RDFs."),
    backend: str = opt.backend_option(),
    format: str = opt.format_option(),
    topology: Path = opt.topology_option(),
    type_map: str = opt.type_map_option(),
    dt_ps: float = opt.dt_ps_option(),
    rings: bool = typer.Option(False, "--rings/--no-rings",
                               help="Count carbon rings (3..--max-ring atoms) in every frame."),
    max_ring: int = typer.Option(8, "--max-ring", help="Largest ring counted, atoms."),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Write the RDF plot (PNG)."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing outputs."),
) -> None:
    """Na–Na and Na–C RDFs with their first minima, per-ion coordination, local carbon
    density, nearest distances, Na clusters and their lifetimes, carbon sp/sp2/sp3 fractions;
    HDF5 output and a PNG of the RDFs with the chosen cutoffs."""
    from hcanalysis.families import Structure

    png = output.with_name(output.stem + "_rdf.png")
    inputs = [traj_path, topology]
    for p in [output] + ([png] if plots else []):
        check_output(p, inputs, force)
    traj = opt.load_trajectory(traj_path, format, topology, type_map, dt_ps, framework_file)
    fsl = opt.resolve_frames(start, stop, step, frames)
    if len(range(traj.n_frames)[fsl]) == 0:
        raise HCAnalysisError(f"--start/--stop/--step select no frames of {traj.n_frames}")
    fam = Structure(ions=opt.species_list(ion), framework=opt.species_list(carbon),
                    cutoff_NaNa=cutoff_ion_ion, cutoff_NaC=cutoff_ion_c,
                    density_radius=density_radius, frames_per_window=frames_per_window,
                    seed=seed, cc_cutoff=cc_cutoff, r_max=r_max, bins=bins,
                    rdf_frames=rdf_frames, rings=rings, max_ring=max_ring)
    with console.status("RDFs, coordination, clusters, carbon structure"):
        fam.compute(traj, frames=fsl, windows=(window, stride), backend=backend)
    res = fam.result
    meta = {
        "input": str(traj_path), "input_sha256": sha256(traj_path), "ion": ion,
        "carbon": carbon, "window": fam.meta["window_frames"],
        "stride": fam.meta["stride_frames"], "start": fsl.start or 0, "stop": fsl.stop,
        "step": fsl.step or 1, "frames_per_window": frames_per_window, "bins": bins,
        "rdf_frames": rdf_frames, "backend": backend,
        "rings": rings, "max_ring": max_ring,
    }
    write_family_output(output, fam, *legacy_views(fam, meta))
    if plots:
        plot_rdfs(png, res)
    ion_c = f"{ion}–{carbon}"
    for key, label in (("ion-ion", f"{ion}–{ion}"), ("ion-C", ion_c)):
        console.print(f"{label} cutoff {res.cutoffs[key]:.3f} Å ({res.cutoff_source[key]})")
    fr = res.carbon_fractions.mean(axis=0)
    console.print(
        f"mean n({ion}–{ion}) {res.n_ion_ion.mean():.2f}, n({ion_c}) {res.n_ion_c.mean():.2f}, "
        f"local {carbon} density {np.nanmean(res.carbon_density):.3f} g/cm³ "
        f"(R = {density_radius:g} Å); {carbon} sp/sp2/sp3/other "
        f"{fr[0]:.3f}/{fr[1]:.3f}/{fr[2]:.3f}/{fr[3]:.3f}; "
        f"ions in clusters of ≥2: {np.mean(res.cluster_size >= 2):.1%}"
    )
    if res.ring_counts is not None:
        rc = res.ring_counts.mean(axis=0)
        text = ", ".join(f"{s}: {rc[s]:.1f}" for s in range(3, len(rc)) if rc[s] > 0)
        console.print(f"mean rings per frame by size: {text or 'none'}")
    console.print(f"wrote {output}" + (f" and {png}" if plots else ""))
