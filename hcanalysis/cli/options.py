"""The options every command shares: one vocabulary, one set of defaults (issue 20).

Names: ``--ions`` (aliases ``--species``, ``--ion``) and ``--carbon`` for species;
``--framework FILE`` is, in every command, the structure file of an ion-only trajectory's
framework; frames by ``--start/--stop/--step`` (``--frames start:stop:step`` kept as an alias);
``--window``/``--stride`` in analysed frames with the default of
:func:`hcanalysis.windows.resolve_window`; ``--max-memory 512MiB`` (``--max-memory-mb 512``
kept); ``--remove-drift`` with the default of :class:`hcanalysis.config.MSDConfig`. The old names
keep working: users have scripts.

Each ``*_option()`` returns a fresh ``typer.Option`` for a command signature; the
``resolve_*`` helpers turn the parsed values into what the Python API takes.
"""

from __future__ import annotations

import re
from pathlib import Path

import typer

from hcanalysis.config import MSDConfig
from hcanalysis.errors import HCAnalysisError
from hcanalysis.windows import DEFAULT_WINDOW_FRACTION, MIN_DEFAULT_WINDOW

_WINDOW_HELP = (f"Window length, analysed frames (default 1/{DEFAULT_WINDOW_FRACTION} of them, "
                f"at least {MIN_DEFAULT_WINDOW}).")


def _no_bool_placeholder() -> None:
    """Flags (``--force``, ``--plots/--no-plots``, ``--help``) take no value: show no
    ``<bool>`` type placeholder for them in ``--help`` (typer >= 0.16 prints one)."""
    try:
        from typer.core import TyperOption
    except ImportError:  # pragma: no cover - very old typer
        return
    if getattr(TyperOption.display_type_rich, "_hcanalysis", False):
        return
    original = TyperOption.display_type_rich

    def display_type_rich(self, ctx):
        if getattr(self, "is_flag", False) or getattr(self, "count", False):
            return None
        return original(self, ctx)

    display_type_rich._hcanalysis = True
    TyperOption.display_type_rich = display_type_rich


_no_bool_placeholder()


# ----------------------------------------------------------------------------- species
def ions_option(default: str = "Na"):
    """``--ions`` (aliases ``--species``, ``--ion``): element(s) of the mobile ions."""
    return typer.Option(default, "--ions", "--species", "--ion",
                        help="Element of the mobile ions (aliases --species, --ion).")


def framework_option(default: str = "C"):
    """``--carbon``: framework species, comma list (``--framework`` names a structure file)."""
    return typer.Option(default, "--carbon",
                        help="Framework species, comma list (default C; --framework names a "
                             "framework file).")


def framework_file_option():
    """``--framework FILE``: the framework of an ion-only trajectory, as in ``analyze``."""
    return typer.Option(None, "--framework",
                        help="Ion-only trajectories: structure file (LAMMPS data, extxyz, ...) "
                             "holding the framework, added to every frame.")


def species_list(text: str) -> str | list[str]:
    """``"C"`` -> ``"C"``, ``"C,O"`` -> ``["C", "O"]``."""
    parts = [s.strip() for s in str(text).split(",") if s.strip()]
    return parts[0] if len(parts) == 1 else parts


# ----------------------------------------------------------------------------- frames
def start_option():
    """``--start``: first analysed frame."""
    return typer.Option(None, "--start", help="First analysed frame (default 0).")


def stop_option():
    """``--stop``: analysed frames stop before this one."""
    return typer.Option(None, "--stop", help="Stop before this frame (default the end).")


def step_option():
    """``--step``: every n-th frame."""
    return typer.Option(None, "--step", help="Analyse every n-th frame (default 1).")


def frames_option():
    """``--frames start:stop:step``, the alias of ``--start/--stop/--step``."""
    return typer.Option(None, "--frames",
                        help="Frames start:stop:step (alias of --start/--stop/--step).")


def parse_frames(text: str | None) -> slice:
    """``"start:stop:step"`` (any part optional) -> slice."""
    if not text:
        return slice(None)
    parts = [p.strip() for p in text.split(":")]
    if len(parts) > 3 or not all(p == "" or p.lstrip("-").isdigit() for p in parts):
        raise HCAnalysisError(f"--frames: cannot read {text!r}; write start:stop:step")
    vals = [int(p) if p else None for p in parts] + [None] * (3 - len(parts))
    return slice(*vals)


def resolve_frames(start: int | None, stop: int | None, step: int | None,
                   frames: str | None) -> slice:
    """The frame slice of ``--start/--stop/--step`` or of ``--frames`` (not both)."""
    if frames and any(v is not None for v in (start, stop, step)):
        raise HCAnalysisError("give --frames or --start/--stop/--step, not both")
    if frames:
        return parse_frames(frames)
    if step is not None and step < 1:
        raise HCAnalysisError(f"--step {step}: must be at least 1")
    return slice(start, stop, step)


# ---------------------------------------------------------------------------- windows
def window_option():
    """``--window``: frames per window (shared default)."""
    return typer.Option(None, "--window", help=_WINDOW_HELP)


def stride_option():
    """``--stride``: frames between window starts (default the window)."""
    return typer.Option(None, "--stride", help="Window stride, analysed frames (default the "
                        "window: tiling).")


# ---------------------------------------------------------------------------- drift
def drift_option():
    """``--remove-drift``: centre of mass removed (default the framework, as ``analyze``)."""
    return typer.Option(
        MSDConfig.remove_drift or "none", "--remove-drift",
        help="Centre-of-mass drift removed: an element (C, the framework), 'C,O', species "
             "(the ions), all, or none.")


def resolve_drift(text: str | None, traj) -> str | None:
    """``--remove-drift`` as the Python API takes it: None for "none", and None (with a note
    on stderr) when the named elements are absent (an ion-only trajectory)."""
    if text is None or text.strip().lower() in ("none", "null", ""):
        return None
    key = text.strip()
    if key.lower() in ("species", "self", "all"):
        return key.lower()
    names = [s.strip() for s in key.split(",") if s.strip()]
    present = set(traj.species.tolist()) if hasattr(traj.species, "tolist") else set(traj.species)
    missing = [n for n in names if n not in present]
    if missing and len(missing) == len(names):
        from hcanalysis.cli.app import console

        console.print(f"note: no {', '.join(missing)} atoms: the centre-of-mass drift is not "
                      "removed (--remove-drift none to silence this)", markup=False)
        return None
    return key


# ---------------------------------------------------------------------------- memory
def max_memory_option():
    """``--max-memory SIZE`` (2GiB, 512MiB, 4GB; a plain number is bytes)."""
    return typer.Option(None, "--max-memory",
                        help="Working-memory budget, e.g. 2GiB or 512MiB (default 1/4 of the "
                             "free memory).")


def max_memory_mb_option():
    """``--max-memory-mb N``, the old spelling of ``--max-memory NMiB``."""
    return typer.Option(None, "--max-memory-mb",
                        help="Working-memory budget in MiB (alias: --max-memory NMiB).")


_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "t": 1e12, "tb": 1e12}


def parse_bytes(text: str) -> int:
    """``"2GiB"``, ``"512MiB"``, ``"1.5GB"``, ``"1000000"`` -> bytes."""
    m = re.fullmatch(r"\s*([0-9.]+(?:e[0-9]+)?)\s*([a-zA-Z]*)\s*", str(text))
    unit = m.group(2).lower() if m else None
    if m is None or unit not in _UNITS:
        raise HCAnalysisError(f"--max-memory {text!r}: give a size such as 2GiB, 512MiB or "
                              "4GB (a plain number is bytes)")
    return int(float(m.group(1)) * _UNITS[unit])


def resolve_memory(max_memory: str | None, max_memory_mb: float | None) -> int | None:
    """Bytes of ``--max-memory`` or ``--max-memory-mb`` (not both); None for the default."""
    if max_memory and max_memory_mb is not None:
        raise HCAnalysisError("give --max-memory or --max-memory-mb, not both")
    if max_memory:
        return parse_bytes(max_memory)
    if max_memory_mb is not None:
        return int(max_memory_mb * 2**20)
    return None


# ---------------------------------------------------------------------------- loading
def backend_option():
    """``--backend auto|cpu|cuda``."""
    return typer.Option("auto", "--backend", help="auto, cpu or cuda.")


def format_option():
    """``--format/-f``: the reader."""
    return typer.Option(None, "--format", "-f", help="Reader (default: from the name).")


def topology_option():
    """``--topology/-t``: topology file for XTC/DCD."""
    return typer.Option(None, "--topology", "-t", help="Topology (XTC/DCD need one).")


def type_map_option():
    """``--type-map 1:C,2:Na``."""
    return typer.Option(None, "--type-map", help="LAMMPS types, e.g. 1:C,2:Na.")


def dt_ps_option():
    """``--dt-ps``: MD step (dumps) or frame spacing."""
    return typer.Option(None, "--dt-ps", help="MD step (dumps) or frame spacing, ps.")


def load_trajectory(path: Path, format: str | None = None, topology: Path | None = None,
                    type_map: str | None = None, dt_ps: float | None = None,
                    framework: Path | None = None):
    """:func:`hcanalysis.load` with the shared loading options (``framework``: the structure
    file of an ion-only trajectory's framework)."""
    from hcanalysis.cli.io_cmds import parse_type_map
    from hcanalysis.io import load

    if framework is not None and not Path(framework).is_file():
        raise HCAnalysisError(f"--framework {framework}: no such file (it takes a structure "
                              "file; the framework species is --carbon)")
    return load(path, format=format, topology=topology, dt_ps=dt_ps,
                type_map=parse_type_map(type_map), framework=framework)


def seed_option():
    """``--seed``: seed of every random step."""
    return typer.Option(0, "--seed", help="Seed of every random step.")


def force_option():
    """``--force``: overwrite existing outputs."""
    return typer.Option(False, "--force", help="Overwrite existing outputs.")
