"""``hcanalysis info`` and ``hcanalysis convert``: look at a trajectory, turn it into H5MD."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import typer

from hcanalysis.cli.app import app, console
from hcanalysis.errors import HCAnalysisError


def parse_type_map(text: str | None) -> dict[int, str] | None:
    """``"1:C,2:Na"`` -> ``{1: "C", 2: "Na"}`` (None for None or an empty string)."""
    if not text:
        return None
    out: dict[int, str] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, val = item.partition(":")
        if not sep or not key.strip().lstrip("-").isdigit() or not val.strip():
            raise HCAnalysisError(
                f"--type-map: cannot read {item!r}; write type:element pairs such as 1:C,2:Na"
            )
        out[int(key)] = val.strip()
    return out or None


def box_lengths_angles(box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cell vector lengths (Å) and angles alpha, beta, gamma (degrees) of a 3x3 cell."""
    box = np.asarray(box, dtype=np.float64)
    lengths = np.linalg.norm(box, axis=1)

    def angle(u: np.ndarray, v: np.ndarray) -> float:
        nu, nv = np.linalg.norm(u), np.linalg.norm(v)
        if nu == 0 or nv == 0:
            return 90.0
        return float(np.degrees(np.arccos(np.clip(np.dot(u, v) / (nu * nv), -1.0, 1.0))))

    angles = np.array([angle(box[1], box[2]), angle(box[0], box[2]), angle(box[0], box[1])])
    return lengths, angles


def trajectory_info(traj: Any, path: Path | None = None, fmt: str | None = None) -> dict:
    """A JSON-ready summary of a trajectory (what ``hcanalysis info`` prints)."""
    boxes = traj.boxes()
    lengths, angles = box_lengths_angles(boxes[0]) if len(boxes) else (np.zeros(3), np.zeros(3))
    t = traj.time_ps
    info: dict[str, Any] = {
        "path": str(path) if path is not None else traj.path,
        "format": fmt,
        "file_size_bytes": int(path.stat().st_size) if path is not None and path.exists() else None,
        "n_frames": traj.n_frames,
        "n_atoms": traj.n_atoms,
        "species": traj.counts(),
        "box_lengths_A": [float(x) for x in lengths],
        "box_angles_deg": [float(x) for x in angles],
        "box_changes": not traj.box_is_constant,
        "volume_A3": float(abs(np.linalg.det(boxes[0]))) if len(boxes) else None,
        "dt_ps": float(traj.dt_ps),
        "total_time_ps": float(t[-1] - t[0]) if t.size else 0.0,
        "first_time_ps": float(t[0]) if t.size else None,
        "coords_unwrapped": bool(traj.coords_unwrapped),
        "image_flags": bool(traj.has_image_flags),
        "velocities": bool(traj.has_velocities),
        "notes": list(traj.notes),
    }
    return info


def _human_size(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _print_info(info: dict) -> None:
    from rich.table import Table

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    yes = {True: "yes", False: "no"}
    a, b, c = info["box_lengths_A"]
    al, be, ga = info["box_angles_deg"]
    rows = [
        ("file", f"{info['path']} ({info['format']}, {_human_size(info['file_size_bytes'])})"),
        ("frames", str(info["n_frames"])),
        ("atoms", str(info["n_atoms"])),
        ("species", ", ".join(f"{k}: {v}" for k, v in info["species"].items())),
        ("box (frame 0)", f"a={a:.4f} b={b:.4f} c={c:.4f} Å; "
                          f"alpha={al:.3f} beta={be:.3f} gamma={ga:.3f}°"),
        ("box changes", yes[info["box_changes"]] + (" (NPT)" if info["box_changes"] else "")),
        ("time step", f"{info['dt_ps']:g} ps between frames"),
        ("total time", f"{info['total_time_ps']:g} ps (from {info['first_time_ps']:g} ps)"
         if info["first_time_ps"] is not None else "-"),
        ("unwrapped coords", yes[info["coords_unwrapped"]]),
        ("image flags", yes[info["image_flags"]]),
        ("velocities", yes[info["velocities"]]),
    ]
    for k, v in rows:
        table.add_row(k, v)
    for note in info["notes"]:
        table.add_row("note", note)
    from rich.console import Console

    Console(width=max(100, Console().width)).print(table)


@app.command("info")
def info_cmd(
    traj_path: Path = typer.Argument(..., help="Trajectory file.", metavar="TRAJ"),
    format: str = typer.Option(None, "--format", "-f", help="Reader (default: from the name)."),
    topology: Path = typer.Option(None, "--topology", "-t", help="Topology (XTC/DCD need one)."),
    type_map: str = typer.Option(None, "--type-map", help="LAMMPS types, e.g. 1:C,2:Na."),
    dt_ps: float = typer.Option(None, "--dt-ps", help="MD step (dumps) or frame spacing, ps."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Frames, atoms per species, box, time step, file size and what the file carries."""
    from hcanalysis.io import guess_format, load

    fmt = format or guess_format(traj_path)
    traj = load(traj_path, format=fmt, topology=topology, dt_ps=dt_ps,
                type_map=parse_type_map(type_map))
    info = trajectory_info(traj, traj_path, fmt)
    if as_json:
        typer.echo(json.dumps(info, indent=2))
    else:
        _print_info(info)


@app.command("convert")
def convert_cmd(
    in_path: Path = typer.Argument(..., help="Input trajectory.", metavar="IN"),
    out_path: Path = typer.Argument(..., help="Output H5MD file (.h5).", metavar="OUT"),
    select: str = typer.Option(None, "--select", "-s", help="Element(s) to keep, e.g. Na or Na,C."),
    format: str = typer.Option(None, "--format", "-f", help="Input reader (default: from name)."),
    topology: Path = typer.Option(None, "--topology", "-t", help="Topology (XTC/DCD need one)."),
    type_map: str = typer.Option(None, "--type-map", help="LAMMPS types, e.g. 1:C,2:Na."),
    dt_ps: float = typer.Option(None, "--dt-ps", help="MD step (dumps) or frame spacing, ps."),
    overlap: str = typer.Option("error", "--overlap",
                                help="Frames whose time repeats an earlier one (restarted "
                                     "runs): keep-last | keep-first | error."),
    float64: bool = typer.Option(False, "--float64", help="Store positions as float64."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output file."),
) -> None:
    """Convert any readable trajectory to compressed, chunked H5MD."""
    from hcanalysis.io import load
    from hcanalysis.io.h5md import write

    traj = load(in_path, format=format, topology=topology, dt_ps=dt_ps,
                type_map=parse_type_map(type_map), overlap=overlap)
    sel = None
    if select:
        names = [s.strip() for s in select.split(",") if s.strip()]
        sel = names[0] if len(names) == 1 else names
    out = write(traj, out_path, select=sel, overwrite=force,
                dtype=np.float64 if float64 else np.float32, show_progress=True)
    n = traj.n_atoms if sel is None else len(traj.indices(sel))
    console.print(f"wrote {out}: {traj.n_frames} frames, {n} atoms")
