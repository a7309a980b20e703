"""Every parameter of an analysis, with documented defaults, loadable from TOML.

``AnalysisConfig`` groups the parameters by stage; a TOML file uses one table per stage::

    seed = 0
    species = "Na"
    [windows]
    window = 200          # frames
    [voids]
    spacing = 0.4         # Å

CLI flags override the file (``--set voids.spacing=0.5`` for any field).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@dataclass
class FramesConfig:
    """Which frames are analysed (Python slice semantics)."""

    start: int = 0
    stop: int | None = None
    step: int = 1


@dataclass
class WindowsConfig:
    """Time windows for per-(ion, window) descriptors (frames; see hcanalysis.windows)."""

    window: int | None = None  # None: about n_frames / 4, at least 20 frames
    stride: int | None = None  # None: = window (tiling)


@dataclass
class MSDConfig:
    """Windowed MSD and diffusion coefficients."""

    max_lag_fraction: float = 0.5  # largest lag as a fraction of the window
    fit_fraction: tuple[float, float] = (0.1, 0.5)  # fit range as fractions of the window
    remove_drift: str | None = "C"  # species whose centre of mass is removed, or None
    d_floor: float = 1e-5  # Å²/ps; log_D uses max(D, d_floor) (a caged ion's fit can be <= 0)


@dataclass
class HopsConfig:
    """Cage-jump detection."""

    half_window: int = 10  # frames
    threshold: float | str = "auto"  # Å² or "auto"
    method: str = "p_hop"


@dataclass
class StructureConfig:
    """Coordination, clusters, local density."""

    cutoff_NaNa: float | None = None  # Å; None = first minimum of the Na–Na RDF
    cutoff_NaC: float | None = None  # Å; None = first minimum of the Na–C RDF
    density_radius: float = 6.0  # Å
    frames_per_window: int = 20  # evenly spaced frames sampled in each window


@dataclass
class VoidsConfig:
    """Void tessellation and pores."""

    spacing: float = 0.3  # Å
    carbon_radius: float = 1.7  # Å
    probe: float = 0.0  # Å
    remap_rmsd: float = 0.5  # Å; a new void map when the carbon moved more (RMS) since the last
    frames_per_window: int = 5  # frames sampled per window for the per-ion void descriptors


@dataclass
class TortuosityConfig:
    """Geodesic tortuosity."""

    shell_radius: float = 6.0  # Å
    max_start_points: int = 200


@dataclass
class ModesConfig:
    """Mode discovery."""

    features: str = "all"
    n_neighbors: int = 15
    min_dist: float = 0.0
    max_modes: int = 6
    cluster_on: str = "descriptors"


@dataclass
class ImportanceConfig:
    """Importance ranking."""

    target: str = "log_D"
    features: str = "structural"
    model: str = "random_forest"


@dataclass
class AnalysisConfig:
    """All parameters of ``hcanalysis analyze``.

    Attributes
    ----------
    species : str
        The mobile ions (default Na).
    carbon : str
        The framework species (default C).
    seed : int
        Seed of every random step.
    backend : str
        "auto" | "cpu" | "cuda".
    max_memory : int or None
        Working-memory budget in bytes (None: a quarter of the free memory).
    stages : list of str
        Descriptor families to compute; default all.
    """

    species: str = "Na"
    carbon: str = "C"
    seed: int = 0
    backend: str = "auto"
    max_memory: int | None = None
    stages: list[str] = field(
        default_factory=lambda: ["msd", "hops", "structure", "voids", "tortuosity"]
    )
    frames: FramesConfig = field(default_factory=FramesConfig)
    windows: WindowsConfig = field(default_factory=WindowsConfig)
    msd: MSDConfig = field(default_factory=MSDConfig)
    hops: HopsConfig = field(default_factory=HopsConfig)
    structure: StructureConfig = field(default_factory=StructureConfig)
    voids: VoidsConfig = field(default_factory=VoidsConfig)
    tortuosity: TortuosityConfig = field(default_factory=TortuosityConfig)
    modes: ModesConfig = field(default_factory=ModesConfig)
    importance: ImportanceConfig = field(default_factory=ImportanceConfig)

    # ------------------------------------------------------------------ io
    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnalysisConfig:
        """Build from a (TOML-like) nested dict; unknown keys are an error."""
        cfg = cls()
        for key, value in data.items():
            cfg.set(key, value)
        return cfg

    @classmethod
    def from_toml(cls, path: str | os.PathLike) -> AnalysisConfig:
        """Read a TOML file (see the module docstring)."""
        with open(path, "rb") as fh:
            try:
                data = tomllib.load(fh)
            except tomllib.TOMLDecodeError as exc:
                raise ValueError(f"{path}: not valid TOML: {exc}") from exc
        try:
            return cls.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: {exc}") from exc

    def set(self, key: str, value: Any) -> None:
        """Set ``"section.name"`` or a top-level field (or a whole section from a dict)."""
        section, _, name = key.partition(".")
        if not name:
            if not hasattr(self, section):
                raise KeyError(f"unknown parameter {key!r}")
            current = getattr(self, section)
            if dataclasses.is_dataclass(current):
                if not isinstance(value, dict):
                    raise TypeError(f"[{section}] must be a table of parameters")
                for k, v in value.items():
                    self.set(f"{section}.{k}", v)
                return
            setattr(self, section, value)
            return
        sub = getattr(self, section, None)
        if not dataclasses.is_dataclass(sub) or not hasattr(sub, name):
            raise KeyError(f"unknown parameter {key!r}")
        if isinstance(getattr(sub, name), tuple) and isinstance(value, list):
            value = tuple(value)
        setattr(sub, name, value)

    def set_from_string(self, assignment: str) -> None:
        """Apply ``"section.name=value"`` (the value parsed as JSON, else kept as a string)."""
        key, sep, raw = assignment.partition("=")
        if not sep:
            raise ValueError(f"--set {assignment!r}: expected name=value")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        self.set(key.strip(), value)

    def to_dict(self) -> dict[str, Any]:
        """A plain nested dict (JSON-serialisable)."""
        return dataclasses.asdict(self)

    def fingerprint(self, *sections: str) -> str:
        """A short hash of the named sections (all when none), for stage caching."""
        d = self.to_dict()
        part = {k: d[k] for k in sections} if sections else d
        return hashlib.sha256(json.dumps(part, sort_keys=True).encode()).hexdigest()[:16]
