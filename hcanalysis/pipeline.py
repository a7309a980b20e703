"""``hcanalysis analyze``: trajectories -> descriptor table -> modes -> importance -> ensemble
correlation map -> report, with per-trajectory caching.

Outputs in ``outdir``: ``descriptors.h5`` (all rows, with the mode of each), ``modes.h5``
(labels, names, the naming evidence and thresholds, UMAP map, centroids, BIC scan, null
test, stability), ``report.html`` and the PNGs,
for three or more trajectories with metadata ``ensemble_summary.csv`` (per-trajectory mode
fractions, descriptor means and processing variables), and with at least
``ensemble.MIN_RUNS`` (5) runs ``correlation_rho.csv``, ``correlation_p.csv``,
``correlation_q.csv`` and ``correlation_n.csv`` (Spearman ρ, permutation p-values,
Benjamini-Hochberg q-values over the map, runs per cell),
and ``cache/`` with one descriptor file per trajectory keyed on the input's fingerprint, the
parameters and the package version: a re-run with the same inputs reuses them. Every file is
written under a temporary name and renamed into place, so an interrupted run leaves nothing a
re-run would trust.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from hcanalysis.atomic import atomic_output
from hcanalysis.config import AnalysisConfig
from hcanalysis.deprecation import old_callback
from hcanalysis.progress import ProgressFn, messages, tee
from hcanalysis.progress import resolve as resolve_progress
from hcanalysis.table import DescriptorTable

#: Config sections that change the descriptor table (the others only change the models).
DESCRIPTOR_SECTIONS = ("species", "carbon", "stages", "frames", "windows", "msd", "hops",
                       "structure", "voids", "tortuosity")


@dataclass
class AnalysisResult:
    """Everything ``analyze`` produced (paths and in-memory objects)."""

    table: pd.DataFrame
    descriptors: list[DescriptorTable]
    modes: Any = None
    importance: Any = None
    correlation: Any = None
    metadata: pd.DataFrame | None = None
    files: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    reused: list[bool] = field(default_factory=list)


def cache_key(path: str | os.PathLike, cfg: AnalysisConfig, load_options: Mapping) -> str:
    """Key of a trajectory's cached descriptor table."""
    from hcanalysis import __version__
    from hcanalysis.descriptors import file_fingerprint

    payload = json.dumps({
        "file": file_fingerprint(path),
        "config": cfg.fingerprint(*DESCRIPTOR_SECTIONS),
        "load": {k: str(v) for k, v in sorted(load_options.items())},
        "version": __version__,
    }, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def trajectory_labels(paths: Sequence[str | os.PathLike]) -> list[str]:
    """Names for the trajectories in progress lines: the file name, or ``folder/file`` when
    several share a file name (every run of an mdrunner sweep is ``traj.h5``)."""
    names = [Path(p).name for p in paths]
    if len(set(names)) == len(names):
        return names
    return [f"{Path(p).parent.name}/{Path(p).name}" for p in paths]


def descriptor_job(path: str, index: int, cfg_dict: dict, load_options: dict,
                   cache_file: str | None,
                   on_stage: Callable[[str], None] | None = None,
                   label: str | None = None, *,
                   progress: ProgressFn | None = None) -> DescriptorTable:
    """Compute (or read from the cache) one trajectory's descriptor table. A plain function of
    plain arguments, so Dask can ship it to a worker (``label``: the trajectory's name in
    progress lines, by default the file name; ``progress``: a
    :class:`hcanalysis.progress.ProgressFn` that gets the stages of
    :func:`hcanalysis.descriptors.compute` named ``"<label>: <stage>"``, in this process only,
    default the installed one; ``on_stage``: deprecated, each stage's name as it starts)."""
    on_stage = old_callback("descriptor_job", "on_stage", on_stage)
    from hcanalysis import load
    from hcanalysis.descriptors import compute

    if cache_file and Path(cache_file).is_file():
        try:
            table = DescriptorTable.read(cache_file)
        except Exception as exc:  # noqa: BLE001 - a damaged cache is recomputed, never fatal
            warnings.warn(f"{cache_file}: unreadable cached descriptor table "
                          f"({type(exc).__name__}: {exc}); recomputing it", stacklevel=2)
        else:
            table.frame["trajectory"] = index
            table.metadata["reused_cache"] = True
            return table
    traj = load(path, **load_options)
    cfg, skipped = without_framework(traj, AnalysisConfig.from_dict(cfg_dict))
    report = tee(resolve_progress(progress), None if on_stage is None else messages(on_stage))
    name = label or Path(path).name
    table = compute(traj, cfg, trajectory_index=index,
                    progress=lambda stage, done, total: report(f"{name}: {stage}", done, total))
    if skipped:
        table.metadata["skipped"] = skipped
    if cache_file:
        table.write(cache_file)
    return table


#: Stages that need the framework's atoms (Na–C coordination and carbon density, the void
#: map, geodesic paths through it).
FRAMEWORK_STAGES = ("structure", "voids", "tortuosity")


def without_framework(traj, cfg: AnalysisConfig) -> tuple[AnalysisConfig, str]:
    """The configuration an ion-only trajectory can run, and a sentence saying what was
    skipped and why ("" when the framework species is present).

    Without ``cfg.carbon`` atoms the framework stages (:data:`FRAMEWORK_STAGES`) are dropped
    and the centre-of-mass drift of the framework is not removed; MSD and hops run.

    Raises
    ------
    HCAnalysisError
        When no requested stage can run.
    """
    from hcanalysis.errors import HCAnalysisError

    present = sorted(set(map(str, traj.species)))
    if cfg.carbon in present or cfg.species not in present:
        return cfg, ""  # a missing ion species keeps its own error
    name = Path(str(traj.path)).name if traj.path else "trajectory"
    skipped = [s for s in cfg.stages if s in FRAMEWORK_STAGES]
    kept = [s for s in cfg.stages if s not in FRAMEWORK_STAGES]
    if not kept:
        raise HCAnalysisError(
            f"{name}: no {cfg.carbon} atoms (species present: {', '.join(present)}), and the "
            f"stages asked for ({', '.join(cfg.stages)}) all need the framework; give it with "
            "--framework FILE (a LAMMPS data or extxyz file of the framework)")
    cfg = AnalysisConfig.from_dict(cfg.to_dict())
    cfg.stages = kept
    parts = []
    if skipped:
        parts.append(f"skipped {', '.join(skipped)} (they need the framework's atoms)")
    if cfg.msd.remove_drift == cfg.carbon:
        cfg.msd.remove_drift = None
        parts.append(f"the {cfg.carbon} centre-of-mass drift is not removed")
    return cfg, (f"{name}: no {cfg.carbon} atoms (species present: {', '.join(present)}): "
                 + "; ".join(parts) + f"; ran {', '.join(kept)}. Give the framework with "
                 "--framework FILE (LAMMPS data, extxyz, ...) to run the skipped stages")


def jobqueue_cluster(kind: str, cores: int, memory: str, jobs: int, **kwargs):
    """A dask-jobqueue cluster (``kind="slurm"``: SLURMCluster) of ``jobs`` batch jobs, each
    one worker with ``cores`` cores and ``memory`` (e.g. "16GB"); extra keyword arguments
    (queue, account, walltime, ...) go to the cluster."""
    try:
        import dask_jobqueue
    except ImportError as exc:  # pragma: no cover - depends on the [dist] extra
        raise RuntimeError("--jobqueue needs the [dist] extra: pip install 'hcanalysis[dist]'") \
            from exc
    classes = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster",
               "lsf": "LSFCluster"}
    if kind not in classes:
        raise ValueError(f"--jobqueue {kind!r}: use one of {', '.join(classes)}")
    cluster = getattr(dask_jobqueue, classes[kind])(cores=cores, memory=memory, processes=1,
                                                    **kwargs)
    cluster.scale(jobs=jobs)
    return cluster


def _dask_client(scheduler: str | None, n_workers: int | None, jobqueue: dict | None = None):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - depends on the [dist] extra
        raise RuntimeError("--dask needs the [dist] extra: pip install 'hcanalysis[dist]'") \
            from exc
    if scheduler:
        return Client(scheduler)
    if jobqueue:
        return Client(jobqueue_cluster(**jobqueue))
    cluster = LocalCluster(n_workers=n_workers or 2, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    return Client(cluster)


def _stack_arrays(tables: Sequence[DescriptorTable], key: str) -> np.ndarray | None:
    arrs = [t.arrays.get(key) for t in tables]
    if any(a is None for a in arrs):
        return None
    width = max(a.shape[1] for a in arrs)
    return np.concatenate(
        [np.pad(a.astype(float), ((0, 0), (0, width - a.shape[1])), constant_values=np.nan)
         for a in arrs]
    )


def diffusion_summary(frame: pd.DataFrame, tables: Sequence[DescriptorTable]) -> dict:
    """What the report says about D and mobility: D with its standard error over windows only
    where a diffusive range exists, else why not; the MSD at the fixed mobility lag."""
    out: dict[str, str] = {}
    if "D" not in frame:
        return out
    msd_meta = [t.metadata.get("msd", {}) for t in tables]
    d = frame["D"].to_numpy(dtype=float)
    if np.isfinite(d).any():
        per_win = frame.groupby(["trajectory", "window"])["D"].mean().dropna().to_numpy()
        err = per_win.std(ddof=1) / np.sqrt(len(per_win)) if len(per_win) > 1 else np.nan
        rng = "; ".join(f"{m['fit_ps'][0]:.4g}-{m['fit_ps'][1]:.4g} ps" for m in msd_meta
                        if m.get("found"))
        out["mean D (Å²/ps), ± s.e. over windows"] = (
            f"{np.nanmean(d):.4g} ± {err:.2g} (fit {rng}; {np.isfinite(d).sum()} of {len(d)} "
            "rows)")
        out["mean D (cm²/s)"] = f"{np.nanmean(d) * 1e-4:.3g}"
    else:
        reasons = sorted({m.get("reason", "") for m in msd_meta if not m.get("found", True)})
        out["D"] = ("not supported by this data: " + "; ".join(r for r in reasons if r)
                    + " (mobility: see msd_lag)")
    if "msd_lag" in frame:
        lags = sorted({round(m["mobility_lag_ps"], 6) for m in msd_meta
                       if "mobility_lag_ps" in m})
        m = frame["msd_lag"].to_numpy(dtype=float)
        q = np.nanpercentile(m, [25, 50, 75]) if np.isfinite(m).any() else [np.nan] * 3
        where = ", ".join(f"{v:g}" for v in lags)
        out[f"MSD at {where} ps (Å²), median [IQR] over rows"] = (
            f"{q[1]:.3g} [{q[0]:.3g}, {q[2]:.3g}]"
            + (" (different lags per trajectory: set msd.mobility_lag_ps to compare them)"
               if len(lags) > 1 else ""))
    return out


def cell_view(path: Path, load_options: Mapping[str, Any], cfg: AnalysisConfig,
              frame: pd.DataFrame, table: DescriptorTable) -> dict:
    """The report's 3D view of the first trajectory (:func:`report_view3d.cell_data`): its
    framework at the first analysed frame, its pores (those of the voids stage's first map,
    ``arrays["first_map_pores"]``, the void map of that frame; tables cached before it was
    stored tessellate the frame again) and ion paths coloured by mode."""
    from hcanalysis import load
    from hcanalysis.report import MODE_COLOURS
    from hcanalysis.report_view3d import cell_data

    traj = load(path, **load_options)
    c = table.metadata.get("config", {})
    fr = c.get("frames", {}) if isinstance(c.get("frames"), dict) else {}
    frames = np.arange(traj.n_frames)[slice(fr.get("start"), fr.get("stop"), fr.get("step"))]
    pores = None
    if "first_map_pores" in table.arrays:  # the voids stage's first map: no second tessellation
        from hcanalysis.families.voids import POR_COLUMNS

        pores = pd.DataFrame(table.arrays["first_map_pores"], columns=list(POR_COLUMNS))
    elif "voids" in (c.get("stages") or cfg.stages) and "pore_radius" in frame:
        from hcanalysis.voids import tessellate

        sel = traj.indices(cfg.carbon)
        if len(sel):
            xyz = traj.positions(sel, frames=[int(frames[0])])[0]
            vm = tessellate(xyz, traj.box(int(frames[0])), None, spacing=cfg.voids.spacing,
                            radii=cfg.voids.carbon_radius, probe=cfg.voids.probe,
                            max_memory=cfg.max_memory)
            pores = vm.pores
    rows = frame[frame["trajectory"] == frame["trajectory"].iloc[0]]
    return cell_data(traj, rows, ions=cfg.species, framework=cfg.carbon, frames=frames,
                     pores=pores, colours=MODE_COLOURS,
                     trajectory=int(frame["trajectory"].iloc[0]))


def write_modes(mf, path: Path) -> Path:
    """Write a fitted ModeFinder's results to HDF5 (atomically)."""
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as fh:
        fh["labels"] = mf.labels_
        fh["names"] = np.array([mf.mode_names_[int(k)] for k in mf.labels_],
                               dtype=h5py.string_dtype())
        if mf.embedding_ is not None:
            fh["embedding"] = mf.embedding_
        fh["centroids"] = mf.centroids_.to_numpy()
        fh["zcentroids"] = mf.zcentroids_.to_numpy()
        fh.attrs["features"] = json.dumps(mf.features_)
        fh.attrs["mode_names"] = json.dumps({int(k): v for k, v in mf.mode_names_.items()})
        fh.attrs["naming_rules"] = json.dumps(
            {int(k): v for k, v in mf.naming_rules_.items()})
        fh.attrs["fractions"] = json.dumps({int(k): v for k, v in mf.fractions_.items()})
        fh.attrs["bic"] = json.dumps({int(k): v for k, v in mf.bic_.items()})
        fh.attrs["stability"] = json.dumps(mf.stability_)
        fh.attrs["status"] = mf.status_
        fh.attrs["verdict"] = mf.verdict()
        fh.attrs["evidence"] = json.dumps({int(k): v for k, v in mf.evidence_.items()})
        fh.attrs["thresholds"] = json.dumps(mf.thresholds_, default=str)
        fh.attrs["selection"] = json.dumps(mf.selection_, default=str)
        fh.attrs["params"] = json.dumps(mf.get_params(), default=str)
    return path


def analyze(
    paths: Sequence[str | os.PathLike],
    outdir: str | os.PathLike,
    config: AnalysisConfig | None = None,
    *,
    load_options: Mapping[str, Any] | None = None,
    metadata_csv: str | os.PathLike | None = None,
    dask: bool = False,
    scheduler: str | None = None,
    n_workers: int | None = None,
    jobqueue: dict | None = None,
    force: bool = False,
    progress: ProgressFn | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> AnalysisResult:
    """Run the whole analysis on one or more trajectories.

    Parameters
    ----------
    paths : trajectory files (any format :func:`hcanalysis.load` reads).
    outdir : output folder (created; existing outputs are replaced, inputs never touched).
    config : parameters; default :class:`AnalysisConfig()`.
    load_options : keyword arguments for :func:`hcanalysis.load` (type_map, dt_ps, topology).
    metadata_csv : processing variables per trajectory (else mdrunner's ``run.json`` files).
    dask : run the trajectories as Dask tasks (LocalCluster unless ``scheduler`` or
        ``jobqueue`` is given).
    jobqueue : keyword arguments of :func:`jobqueue_cluster` (kind, cores, memory, jobs) to run
        the Dask workers as batch jobs (SLURM, PBS, SGE, LSF).
    force : recompute even when a cached descriptor table matches.
    progress : ``progress(stage, done, total)`` (:class:`hcanalysis.progress.ProgressFn`): a
        message ``(text, 0, 0)`` at each step ("descriptors 1/2: run.h5", "run.h5: msd",
        "modes", ...) and the counts of the long loops inside them; default the installed one
        (the command line's bar or timestamped lines), else none.
        ``progress=hcanalysis.progress.LineProgress()`` prints timestamped lines.
    on_progress : deprecated (DeprecationWarning): called with each step's message; use
        ``progress``.
    """
    from hcanalysis.ensemble import correlate, read_metadata, summarise
    from hcanalysis.importance import rank
    from hcanalysis.modes import ModeFinder, NamingThresholds
    from hcanalysis.report import ReportInputs, write_report

    on_progress = old_callback("analyze", "on_progress", on_progress)
    report = tee(resolve_progress(progress),
                 None if on_progress is None else messages(on_progress))

    def say(msg: str) -> None:
        report(msg, 0, 0)

    cfg = config or AnalysisConfig()
    opts = dict(load_options or {})
    out = Path(outdir)
    (out / "cache").mkdir(parents=True, exist_ok=True)
    paths = [Path(p) for p in paths]
    for p in paths:
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such file")
        if p.resolve().parent == out.resolve() and p.name in {"descriptors.h5", "modes.h5"}:
            raise ValueError(f"{p}: an input may not be one of the outputs of {out}")
    caches = [out / "cache" / f"{i:03d}-{p.stem}-{cache_key(p, cfg, opts)}.h5"
              for i, p in enumerate(paths)]
    if force:
        for c in caches:
            c.unlink(missing_ok=True)
    reused = [c.is_file() for c in caches]
    cfg_dict = cfg.to_dict()
    if dask:
        client = _dask_client(scheduler, n_workers, jobqueue)
        try:
            say(f"dask: {len(paths)} trajectories on {client}")
            futures = [
                client.submit(descriptor_job, str(p), i, cfg_dict, opts, str(c), pure=False)
                for i, (p, c) in enumerate(zip(paths, caches, strict=True))
            ]
            tables = client.gather(futures)
        finally:
            client.close()
    else:
        from hcanalysis.warmup import start_for

        # a cold machine: a second process compiles the late steps' kernels meanwhile
        warm = None if all(reused) else start_for(
            cfg.stages, shell_radius=cfg.tortuosity.shell_radius)

        def job_progress(stage: str, done: int, total: int, name: str) -> None:
            if warm is not None and total <= 0 and stage == f"{name}: tortuosity":
                warm.wait("tortuosity")  # the warm-up process has compiled its kernels
            report(stage, done, total)

        tables = []
        try:
            labels = trajectory_labels(paths)
            for i, (p, c) in enumerate(zip(paths, caches, strict=True)):
                say(f"descriptors {i + 1}/{len(paths)}: {labels[i]}"
                    + (" (cached)" if reused[i] else ""))
                tables.append(descriptor_job(
                    str(p), i, cfg_dict, opts, str(c),
                    label=labels[i],
                    progress=lambda s, d, t, name=labels[i]: job_progress(s, d, t, name)))
            if warm is not None:
                warm.wait("umap")
        finally:
            if warm is not None:
                warm.close()
    frame = pd.concat([t.frame for t in tables], ignore_index=True)
    result = AnalysisResult(table=frame, descriptors=tables, reused=reused)
    result.notes.extend(t.metadata["skipped"] for t in tables if t.metadata.get("skipped"))
    for note in result.notes:
        say(note)
    curves = _stack_arrays(tables, "msd")
    lag = tables[0].arrays.get("msd_lag_ps")
    say("modes")
    mc = cfg.modes
    mf = ModeFinder(
        features=mc.features, n_neighbors=mc.n_neighbors,
        min_dist=mc.min_dist, max_modes=mc.max_modes,
        cluster_on=mc.cluster_on, covariance_type=mc.covariance_type,
        min_stability=mc.min_stability, random_state=cfg.seed,
        thresholds=NamingThresholds(
            min_hop_fraction=mc.min_hop_fraction, min_hop_length=mc.min_hop_length,
            min_partner_persistence=mc.min_partner_persistence,
            min_nana_enrichment=mc.min_nana_enrichment,
            void_wall_distance=mc.void_wall_distance,
            void_net_displacement=mc.void_net_displacement,
            max_hop_fraction=mc.max_hop_fraction, cage_radius=mc.cage_radius),
    )
    mf.fit(frame)
    frame["mode"] = mf.labels_
    frame["mode_name"] = mf.named_labels()
    result.modes = mf
    result.files["modes"] = write_modes(mf, out / "modes.h5")
    say("importance")
    try:
        result.importance = rank(frame, target=cfg.importance.target,
                                 features=cfg.importance.features, model=cfg.importance.model,
                                 groups=cfg.importance.groups,
                                 cluster_threshold=cfg.importance.cluster_threshold,
                                 seed=cfg.seed)
    except ValueError as exc:
        why = str(exc)
        if any(t.metadata.get("skipped") for t in tables):
            why = "no structural descriptors to rank (the framework stages were skipped)"
        result.notes.append(f"importance skipped: {why}")
    if len(paths) >= 3:
        try:
            meta = read_metadata(paths, metadata_csv)
            result.metadata = meta
            summary = summarise(frame)
            summary.merge(meta, on="trajectory").to_csv(out / "ensemble_summary.csv",
                                                         index=False)
            result.files["ensemble_summary"] = out / "ensemble_summary.csv"
            result.correlation = correlate(summary, meta, seed=cfg.seed)
            cmap = result.correlation
            for name, df in (("correlation_rho", cmap.rho), ("correlation_p", cmap.pvalue),
                             ("correlation_q", cmap.qvalue), ("correlation_n", cmap.n_cell)):
                df.to_csv(out / f"{name}.csv")
                result.files[name] = out / f"{name}.csv"
        except (FileNotFoundError, ValueError) as exc:
            result.notes.append(f"correlation map not made: {exc}")
    combined = DescriptorTable(
        frame, {k: v for k, v in {"msd": curves, "msd_lag_ps": lag}.items() if v is not None},
        {"inputs": [str(p) for p in paths], "config": cfg_dict,
         "per_trajectory": [t.metadata for t in tables], "notes": result.notes},
    )
    result.files["descriptors"] = combined.write(out / "descriptors.h5")
    say("report")
    first = tables[0]
    psd = None
    if "psd_edges" in first.arrays:
        psd = (first.arrays["psd_edges"], first.arrays["psd_fraction"])
    tort = {"tau": first.arrays["global_tau"]} if "global_tau" in first.arrays else None
    m0 = first.metadata
    system = {
        "trajectories": len(paths),
        "ions per trajectory": m0.get("n_ions"),
        "frames analysed": m0.get("n_frames"),
        "frame interval (ps)": f"{m0.get('dt_ps', float('nan')):.4g}",
        "windows": f"{m0.get('n_windows')} × {m0.get('window_frames')} frames",
        "rows (ion, window)": len(frame),
    }
    system.update(diffusion_summary(frame, tables))
    for k, v in m0.get("reports", {}).items():
        system[k] = v
    for n in result.notes:
        system.setdefault("notes", "")
        system["notes"] += n + " "
    cell = None
    try:
        cell = cell_view(paths[0], opts, cfg, frame, first)
    except (OSError, ValueError, KeyError, MemoryError) as exc:  # the view is optional
        result.notes.append(f"3D view not drawn: {type(exc).__name__}: {exc}")
    inp = ReportInputs(
        table=frame, modes=mf, importance=result.importance, correlation=result.correlation,
        msd_curves=curves, msd_lag_ps=lag, psd=psd, tortuosity=tort, system=system,
        metadata={"inputs": ", ".join(str(p) for p in paths), "seed": cfg.seed,
                  "species": cfg.species, "per_trajectory": [t.metadata for t in tables],
                  "notes": list(result.notes)},
        cell=cell,
    )
    result.files["report"] = write_report(inp, out, title="hcanalysis report")
    return result
