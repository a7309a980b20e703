"""Interatomic potentials for mdrunner, by name or as any ASE calculator.

``get("chgnet")`` is the embedded default: CHGNet 0.3.0, whose weights ship inside the
``chgnet`` wheel, so it works offline on a CPU. ``get("mace", model=PATH)`` loads a MACE
model file through mace-torch's ASE calculator (GPU when ``device="cuda"``). ``get("sevenn")``
is SevenNet-0 (weights in the ``sevenn`` wheel; the ``sevenn`` extra), which runs beside
mace-torch on mace's e3nn 0.4.4 (:func:`allow_e3nn_constants`). Nothing is downloaded at run
time.
"""

from __future__ import annotations

import os
from pathlib import Path

NAMES = ("chgnet", "mace", "sevenn", "emt", "lj")
MODEL_DIR_ENV = "MDRUNNER_MODELS"


def import_mace():
    """Import mace-torch and return its ``MACECalculator`` (clear ImportError when absent).

    mace must be imported before anything imports e3nn: with torch >= 2.6, e3nn 0.4.4's own
    torch.load of its constants fails under weights-only loading otherwise."""
    try:
        import mace  # noqa: F401
        from mace.calculators import MACECalculator
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the MACE calculator needs torch and mace-torch: pip install 'hcanalysis[md]'"
        ) from exc
    return MACECalculator


def allow_e3nn_constants() -> None:
    """Let e3nn 0.4.4 (the version mace-torch pins) load its own ``constants.pt`` under
    torch >= 2.6's weights-only ``torch.load``: the file holds ``slice`` objects, which are
    allow-listed here (nothing else). mace-torch does the same more broadly on import (it sets
    ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``); SevenNet, which imports e3nn without mace, needs
    this to share mace-torch's environment (measured: sevenn 0.10.4 + e3nn 0.4.4 + torch
    2.13 then gives SevenNet-0's -9.09 eV/atom for diamond)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - depends on the environment
        return
    add = getattr(getattr(torch, "serialization", None), "add_safe_globals", None)
    if add is not None:
        add([slice])


def set_threads(threads: int | None) -> None:
    """Limit torch's intra-op CPU threads (``None``: leave torch's default)."""
    if threads:
        import torch

        torch.set_num_threads(int(threads))


#: Architectures of :func:`random_mace` (mace-torch ``ScaleShiftMACE`` arguments): "tiny" for
#: tests, "medium" the size of MACE-MP-0-medium (128x0e+128x1o, L = 3, correlation 3, two
#: interactions, r_max 6 Å) for speed measurements.
RANDOM_MACE_SIZES = {
    "tiny": dict(r_max=4.0, num_bessel=4, max_ell=1, num_interactions=1,
                 hidden_irreps="8x0e", MLP_irreps="8x0e", avg_num_neighbors=8.0,
                 correlation=2),
    "medium": dict(r_max=6.0, num_bessel=10, max_ell=3, num_interactions=2,
                   hidden_irreps="128x0e + 128x1o", MLP_irreps="16x0e",
                   avg_num_neighbors=40.0, correlation=3),
}


def random_mace(path, size: str = "tiny", seed: int = 0) -> Path:
    """Build a MACE model for C and Na with random weights (float64) and save it as a model
    file that ``get("mace", model=path)`` loads: for tests and speed benchmarks (the cost of
    an evaluation does not depend on the weights), never for physics. Nothing is downloaded.

    Parameters
    ----------
    path : str or Path
        Where to write the model file.
    size : {"tiny", "medium"}
        Architecture (:data:`RANDOM_MACE_SIZES`).
    seed : int
        torch seed of the weights.
    """
    if size not in RANDOM_MACE_SIZES:
        raise ValueError(f"size={size!r}: use one of {sorted(RANDOM_MACE_SIZES)}")
    import_mace()  # mace before e3nn
    import numpy as np
    import torch
    from e3nn import o3
    from mace import modules

    arch = dict(RANDOM_MACE_SIZES[size])
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        torch.manual_seed(seed)
        block = modules.interaction_classes["RealAgnosticResidualInteractionBlock"]
        model = modules.ScaleShiftMACE(
            num_polynomial_cutoff=5, interaction_cls=block, interaction_cls_first=block,
            num_elements=2, hidden_irreps=o3.Irreps(arch.pop("hidden_irreps")),
            MLP_irreps=o3.Irreps(arch.pop("MLP_irreps")), gate=torch.nn.functional.silu,
            atomic_energies=np.array([-1.0, -0.5]), atomic_numbers=[6, 11],
            radial_type="bessel", atomic_inter_scale=1.0, atomic_inter_shift=0.0, **arch,
        )
    finally:
        torch.set_default_dtype(old)
    torch.save(model, path)
    return Path(path)


def resolve_model_path(model) -> Path:
    """Find a MACE model file: an existing path, or a name in ``$MDRUNNER_MODELS``."""
    if model is None:
        raise FileNotFoundError(
            "MACE needs a model file: pass model=PATH (--model PATH), e.g. a MACE-MP-0 "
            "'.model' file downloaded once by hand; mdrunner downloads nothing at run time. "
            f"Files put in ${MODEL_DIR_ENV} can be named without their directory."
        )
    p = Path(model).expanduser()
    if p.is_file():
        return p
    root = os.environ.get(MODEL_DIR_ENV)
    if root and (Path(root) / str(model)).is_file():
        return Path(root) / str(model)
    raise FileNotFoundError(
        f"MACE model file {model!s} not found. Put the model file there (or in the folder "
        f"named by ${MODEL_DIR_ENV}) and pass its path with model=/--model; mdrunner never "
        "downloads models at run time."
    )


def get(name_or_calc="chgnet", *, model=None, device: str = "cpu", dtype: str = "float64",
        threads: int | None = None, **kwargs):
    """An ASE calculator by name, or ``name_or_calc`` itself when it already is one.

    Parameters
    ----------
    name_or_calc : str or ase Calculator
        ``"chgnet"`` (embedded CPU default), ``"mace"``, ``"sevenn"``, ``"emt"`` or ``"lj"``
        (fast classical stand-ins for tests), or any ASE calculator object.
    model : path-like, optional
        MACE: model file (required). CHGNet: model version (default ``"0.3.0"``).
        SevenNet: model name (default ``"7net-0"``).
    device : ``"cpu"`` or ``"cuda"``
    dtype : ``"float32"`` or ``"float64"`` (MACE)
    threads : int, optional
        torch CPU threads (e.g. 1 on a shared machine).
    **kwargs
        Passed to the calculator's constructor; for CHGNet ``stress=True`` also computes
        the stress (off by default: NVT does not need it).

    Raises
    ------
    FileNotFoundError
        MACE model file missing (the message says where to put one).
    ImportError
        The extra that provides the potential is not installed (the message names it).
    """
    if not isinstance(name_or_calc, str):
        if not hasattr(name_or_calc, "get_potential_energy") and not hasattr(
            name_or_calc, "calculate"
        ):
            raise TypeError(f"{name_or_calc!r} is neither a potential name nor an ASE calculator")
        return name_or_calc
    name = name_or_calc.lower()
    if name == "mace":
        mace_calc = import_mace()
        set_threads(threads)
        path = resolve_model_path(model)
        if dtype not in ("float32", "float64"):
            raise ValueError("dtype must be 'float32' or 'float64'")
        if "enable_cueq" not in kwargs and device.startswith("cuda"):
            try:
                import cuequivariance_torch  # noqa: F401

                kwargs["enable_cueq"] = True
            except ImportError:
                pass
        return mace_calc(model_paths=str(path), device=device, default_dtype=dtype, **kwargs)
    if name == "chgnet":
        try:
            import_mace()  # keep the e3nn import order right when both are installed
        except ImportError:
            pass
        try:
            from chgnet.model import CHGNet
            from chgnet.model.dynamics import CHGNetCalculator
        except ImportError as exc:
            raise ImportError(
                "the CHGNet calculator needs torch and chgnet: pip install 'hcanalysis[md]'"
            ) from exc
        set_threads(threads)
        stress = bool(kwargs.pop("stress", False))
        net = CHGNet.load(model_name=str(model or "0.3.0"), verbose=False, use_device=device)

        class CHGNetMD(CHGNetCalculator):
            """CHGNet asked only for what NVT needs (energy, forces; stress on request):
            skipping the stress and magmom heads saves about a third of the step time."""

            implemented_properties = ["energy", "free_energy", "forces"] + (
                ["stress"] if stress else []
            )

            def calculate(self, atoms=None, properties=None, system_changes=None, task=None):
                task = task or ("efs" if stress else "ef")
                super().calculate(atoms, properties, system_changes, task=task)

        return CHGNetMD(model=net, use_device=device, **kwargs)
    if name in ("sevenn", "7net", "sevennet"):
        try:
            allow_e3nn_constants()
            from sevenn.calculator import SevenNetCalculator
        except ImportError as exc:
            raise ImportError(
                "SevenNet is not installed: pip install 'hcanalysis[sevenn]'") from exc
        set_threads(threads)
        return SevenNetCalculator(model=str(model or "7net-0"), device=device, **kwargs)
    if name == "emt":
        from ase.calculators.emt import EMT

        return EMT(**kwargs)
    if name == "lj":
        from ase.calculators.lj import LennardJones

        # a fast, deterministic stand-in for tests (not a carbon potential): its minimum sits
        # near the C-C bond length so that generated cells stay intact
        kwargs.setdefault("sigma", 1.25)
        kwargs.setdefault("epsilon", 0.02)
        kwargs.setdefault("rc", 3.0)
        return LennardJones(**kwargs)
    raise ValueError(f"unknown potential {name_or_calc!r}; use one of {', '.join(NAMES)}")


def describe(name_or_calc, model=None) -> dict:
    """Name and version of a potential, for run metadata."""
    from importlib.metadata import PackageNotFoundError, version

    if not isinstance(name_or_calc, str):
        return {"potential": type(name_or_calc).__name__}
    pkg = {"chgnet": "chgnet", "mace": "mace-torch", "sevenn": "sevenn", "emt": "ase",
           "lj": "ase"}.get(name_or_calc.lower())
    out = {"potential": name_or_calc.lower(), "model": None if model is None else str(model)}
    if name_or_calc.lower() == "chgnet":
        out["model"] = str(model or "0.3.0")
    if pkg:
        try:
            out["package_version"] = version(pkg)
        except PackageNotFoundError:
            out["package_version"] = None
    try:
        out["torch_version"] = version("torch")
    except PackageNotFoundError:
        pass
    return out
