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
import warnings
from dataclasses import dataclass, field
from typing import Any

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib


#: Parameters that older releases accepted and that are gone: a configuration that still sets
#: one gets a warning (and the value is ignored) instead of an "unknown parameter" error.
REMOVED_PARAMETERS: dict[str, str] = {
    "tortuosity.max_start_points": "it was never used by the tortuosity computation",
}


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
    # fit range of D in ps; None: found from the data (hcanalysis.msd_fit.find_fit_range: the
    # lags where the local log-log slope of the ion-averaged MSD is 1 ± slope_tol over at
    # least a factor min_span); no diffusive range -> D and log_D are NaN (never a floor)
    fit_ps: tuple[float, float] | None = None
    slope_tol: float = 0.1
    min_span: float = 3.0
    # lag of msd_lag / log_msd_lag, ps; None: the first lag of the diffusive range, else the
    # largest lag (the value used is in the table's metadata)
    mobility_lag_ps: float | None = None
    # range of alpha, ps; None: the fit range, else end of the ballistic regime to max lag
    alpha_range_ps: tuple[float, float] | None = None
    remove_drift: str | None = "C"  # species whose centre of mass is removed, or None


@dataclass
class HopsConfig:
    """Cage-jump detection (see hcanalysis.hops and docs/hops.md)."""

    half_window_ps: float | str = "auto"  # ps; "auto" = the data's cage time (hops.cage_scale)
    half_window: int | None = None  # frames; when set, used instead of half_window_ps
    threshold: float | str = "auto"  # Å²; "auto" = auto_factor x population cage size; "per_ion"
    auto_factor: float = 9.0  # multiple of the cage size <u²>(1 + 1/(w+1)) of the auto threshold
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
    map_stride: int | None = None  # frames; also a new map once the last is this many frames old
    frames_per_window: int = 5  # frames sampled per window for the per-ion void descriptors


@dataclass
class TortuosityConfig:
    """Geodesic tortuosity."""

    shell_radius: float = 6.0  # Å
    # frames sampled per window (1: the window's first frame); each sample searches the shell
    # of every ion, so the cost grows with it
    frames_per_window: int = 1


@dataclass
class ModesConfig:
    """Mode discovery."""

    features: str | list[str] = "all"
    n_neighbors: int = 15
    min_dist: float = 0.0
    max_modes: int = 6
    cluster_on: str = "descriptors"
    covariance_type: str = "diag"  # chosen by the planted-trajectory suite (docs/modes.md)
    min_stability: float = 0.8  # mean ARI over refits below which modes are "unstable"
    # naming thresholds (hcanalysis.modes.NamingThresholds; None = from the data)
    min_hop_fraction: float = 0.5  # hopping: fraction of the mode's rows with >= 1 hop
    min_hop_length: float = 2.0  # Å, hopping: median hop length (a site spacing)
    min_partner_persistence: float = 0.8  # clustering: same Na partner most of the window
    min_nana_enrichment: float = 2.0  # clustering: Na–Na coordination / random expectation
    void_wall_distance: float = 1.2  # Å, void trapping: median distance to the carbon surface
    void_net_displacement: float | None = None  # Å; None: pore diameter, else 10 Å
    max_hop_fraction: float = 0.5  # void trapping / caged: at most this fraction hop
    cage_radius: float | None = None  # Å; None: half the median nearest Na–C distance


@dataclass
class ImportanceConfig:
    """Importance: held-out skill, then a ranking only when the skill's interval is above 0."""

    target: str = "auto"  # log_msd_lag when present, else log_D (NaN rows dropped)
    features: str | list[str] = "structural"
    model: str = "random_forest"
    groups: str = "auto"  # fold grouping: trajectory, else (trajectory, ion); or an id column
    cluster_threshold: float = 0.7  # |Spearman rho| at which descriptors are permuted together


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
        """Set ``"section.name"`` or a top-level field (or a whole section from a dict).

        The value is checked against the field's type (e.g. ``voids.spacing`` takes a number,
        ``stages`` a list of strings, ``msd.remove_drift`` a string or None) before it is
        stored, so a wrong value fails here, before any work starts.

        Raises
        ------
        KeyError
            For an unknown parameter.
        TypeError
            For a value of the wrong type, naming the parameter, the value and the type.
        """
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
            setattr(self, section, check_type(key, field_annotation(type(self), section), value))
            return
        sub = getattr(self, section, None)
        if key in REMOVED_PARAMETERS:
            warnings.warn(f"parameter {key!r} is ignored: {REMOVED_PARAMETERS[key]}; "
                          "remove it from your configuration", UserWarning, stacklevel=2)
            return
        if not dataclasses.is_dataclass(sub) or not hasattr(sub, name):
            raise KeyError(f"unknown parameter {key!r}")
        setattr(sub, name, check_type(key, field_annotation(type(sub), name), value))

    def set_from_string(self, assignment: str) -> None:
        """Apply ``"section.name=value"``, the value read as a TOML value (see
        :func:`parse_value`: numbers, booleans, quoted or bare strings, lists with or without
        brackets, ``none``/``null``), then type-checked by :meth:`set`."""
        key, sep, raw = assignment.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set {assignment!r}: expected name=value")
        self.set(key.strip(), parse_value(raw))

    def to_dict(self) -> dict[str, Any]:
        """A plain nested dict (JSON-serialisable)."""
        return dataclasses.asdict(self)

    def fingerprint(self, *sections: str) -> str:
        """A short hash of the named sections (all when none), for stage caching."""
        d = self.to_dict()
        part = {k: d[k] for k in sections} if sections else d
        return hashlib.sha256(json.dumps(part, sort_keys=True).encode()).hexdigest()[:16]


_NONE_WORDS = ("none", "null", "None")


def parse_value(raw: str) -> Any:
    """A command-line value read the way TOML reads a value.

    ``0.5`` -> float, ``10`` -> int, ``true``/``false`` -> bool, ``"a b"`` or a bare word ->
    str, ``[1, 2]`` -> list, and two conveniences TOML lacks: ``none``/``null`` -> None and a
    bare comma-separated list (``msd,hops``) -> a list of those values.
    """
    text = raw.strip()
    if text in _NONE_WORDS:
        return None
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        pass
    if "," in text and not text.startswith(("[", "{", '"', "'")):
        return [parse_value(part) for part in text.split(",") if part.strip()]
    return text


def field_annotation(cls: type, name: str) -> str:
    """The type annotation of a dataclass field, as written in the source."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            return f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
    return ""


def _split_top(text: str, sep: str) -> list[str]:
    """Split ``text`` at ``sep`` outside brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch == "["
        depth -= ch == "]"
        if ch == sep and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def _matches(annotation: str, value: Any) -> tuple[bool, Any]:
    """Whether ``value`` fits one alternative of an annotation, and the value to store."""
    if annotation == "Any" or not annotation:
        return True, value
    if annotation == "None":
        return value is None, value
    if annotation == "bool":
        return isinstance(value, bool), value
    if annotation == "int":
        return isinstance(value, int) and not isinstance(value, bool), value
    if annotation == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if annotation == "str":
        return isinstance(value, str), value
    for outer, kind in (("list[", list), ("tuple[", tuple)):
        if annotation.startswith(outer) and annotation.endswith("]"):
            if not isinstance(value, (list, tuple)):
                return False, value
            inner = _split_top(annotation[len(outer):-1], ",")
            if kind is tuple and inner[-1] != "..." and len(inner) != len(value):
                return False, value
            item = inner[0]
            out = []
            for j, v in enumerate(value):
                ok, v = _matches_any(item if kind is list or inner[-1] == "..." else inner[j], v)
                if not ok:
                    return False, value
                out.append(v)
            return True, kind(out)
    return True, value  # an annotation this checker does not know: accept


def _matches_any(annotation: str, value: Any) -> tuple[bool, Any]:
    for alt in _split_top(annotation, "|"):
        ok, stored = _matches(alt, value)
        if ok:
            return True, stored
    return False, value


def check_type(key: str, annotation: str, value: Any) -> Any:
    """``value`` converted for storage (int -> float, list -> tuple where the field says so),
    or a TypeError naming the parameter, the value and the type it needs."""
    ok, stored = _matches_any(annotation, value)
    if not ok:
        shown = "none" if value is None else repr(value)
        raise TypeError(f"{key} = {shown}: expected {annotation.replace('None', 'none')}")
    return stored
