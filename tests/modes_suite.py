"""The planted-trajectory validation suite of the mode finder (used by
``tests/test_modes_planted.py`` and ``benchmarks/bench_modes.py``).

Each case is a trajectory from :mod:`planted_traj` (behaviours written in physical terms)
run through :func:`hcanalysis.descriptors.compute` (stages msd, hops, structure) and
:class:`hcanalysis.modes.ModeFinder`. A case is scored by the adjusted Rand index of the
labels against the planted behaviour of each row and by the names: a planted group is named
right when the mode holding most of its rows carries the group's name.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import planted_traj
from sklearn.metrics import adjusted_rand_score

from hcanalysis.config import AnalysisConfig
from hcanalysis.descriptors import compute
from hcanalysis.modes import ModeFinder

EXPECTED = {"hopping": "hopping", "cluster": "clustering", "void": "void trapping",
            "free": "void trapping",
            "caged": "caged"}


@dataclass
class Case:
    """One planted trajectory: units per behaviour, windows, noise, seed."""

    units: dict[str, int]
    n_windows: int = 3
    noise: float = 0.15
    seed: int = 0
    n_frames: int = 360
    framework: str = "fragments"

    @property
    def n_ions(self) -> int:
        return sum(planted_traj.IONS_PER_UNIT[k] * n for k, n in self.units.items())

    def label(self) -> str:
        parts = "+".join(f"{k}{n * planted_traj.IONS_PER_UNIT[k]}" for k, n in self.units.items())
        return f"{parts} w{self.n_windows} noise{self.noise:g} s{self.seed} {self.framework}"


#: 22 cases: 2-4 behaviours, groups of 5-60 % of the ions, 40-400 ions, 2-4 windows,
#: noise 0.1-0.3, in both frameworks
CASES = [
    Case({"hopping": 20, "caged": 20}, 3, 0.15, 1, framework="aC"),
    Case({"void": 30, "caged": 10}, 2, 0.15, 2),
    Case({"cluster": 5, "void": 20}, 3, 0.15, 3, framework="aC"),
    Case({"hopping": 10, "cluster": 3, "void": 10, "caged": 10}, 3, 0.15, 4),
    Case({"hopping": 30, "caged": 50, "void": 20}, 4, 0.2, 5, framework="aC"),
    Case({"cluster": 10, "hopping": 60}, 3, 0.15, 6),
    Case({"hopping": 5, "caged": 95}, 3, 0.1, 7, framework="aC"),
    Case({"void": 10, "hopping": 40, "caged": 50}, 2, 0.2, 8),
    Case({"hopping": 40, "cluster": 10, "void": 40, "caged": 40}, 3, 0.15, 9, framework="aC"),
    Case({"caged": 120, "void": 40}, 4, 0.25, 10, framework="aC"),
    Case({"hopping": 12, "void": 12, "caged": 96}, 3, 0.15, 11, framework="aC"),
    Case({"cluster": 15, "caged": 140}, 3, 0.2, 12),
    Case({"hopping": 100, "void": 100}, 2, 0.15, 13),
    Case({"hopping": 20, "cluster": 5, "void": 20, "caged": 140}, 3, 0.15, 14, framework="aC"),
    Case({"hopping": 120, "caged": 80}, 4, 0.3, 15),
    Case({"hopping": 20, "cluster": 15, "void": 60, "caged": 260}, 3, 0.15, 16, 240),
    Case({"cluster": 8, "hopping": 48}, 4, 0.2, 17, framework="aC"),
    Case({"void": 60, "cluster": 5}, 3, 0.3, 18),
    Case({"hopping": 30, "void": 30, "caged": 30}, 3, 0.3, 19, framework="aC"),
    Case({"caged": 28, "hopping": 12}, 2, 0.1, 20),
    Case({"void": 24, "caged": 24, "cluster": 4}, 4, 0.15, 21, framework="aC"),
    Case({"hopping": 15, "caged": 285}, 3, 0.15, 22, 240),
]


def config(n_frames: int, n_windows: int) -> AnalysisConfig:
    """The descriptor stages the names need, tiling windows."""
    cfg = AnalysisConfig()
    cfg.stages = ["msd", "hops", "structure", "voids"]
    # the names need the wall distance (exact at the ion); a coarser grid and fewer sampled
    # frames keep the suite's void maps and Voronoi volumes cheap
    cfg.voids.spacing = 0.5  # Å
    cfg.voids.frames_per_window = 2
    cfg.windows.window = n_frames // n_windows
    return cfg


_TABLES: dict[str, tuple[pd.DataFrame, np.ndarray]] = {}

#: on-disk cache of the descriptor tables (set ``HCA_MODES_CACHE`` to a folder to use it;
#: ``python tests/modes_suite.py`` defaults it to /work/modes-cache when that exists)
CACHE_ENV = "HCA_MODES_CACHE"


def _code_key() -> str:
    """Hash of what decides a table: the generator's source and this module's config."""
    import hashlib
    import inspect

    h = hashlib.sha1(Path(planted_traj.__file__).read_bytes())
    h.update(inspect.getsource(config).encode())
    return h.hexdigest()[:10]


def _cache_path(key: str) -> Path | None:
    import os

    folder = os.environ.get(CACHE_ENV)
    if not folder:
        return None
    safe = "".join(ch if ch.isalnum() or ch in "._+-" else "_" for ch in key)
    return Path(folder) / f"{safe}_{_code_key()}.pkl"


def table(case: Case) -> tuple[pd.DataFrame, np.ndarray]:
    """The case's descriptor table and the planted behaviour of each row (made once per
    process: the test files share them).

    A hopping ion whose window holds no planted jump only vibrated at its site in that
    window: its row's planted behaviour is "caged" (the generator's own events decide)."""
    key = case.label() + f" f{case.n_frames}"
    if key in _TABLES:
        frame, rows = _TABLES[key]
        return frame.copy(), rows.copy()
    cached = _cache_path(key)
    if cached is not None and cached.exists():
        frame, rows = pd.read_pickle(cached)
        _TABLES[key] = (frame, rows)
        return frame.copy(), rows.copy()
    traj, truth, jumps = planted_traj.make(case.units, n_frames=case.n_frames,
                                           seed=case.seed, noise=case.noise,
                                           framework=case.framework)
    frame = compute(traj, config(case.n_frames, case.n_windows)).frame
    ion = frame["ion"].to_numpy()
    rows = truth[ion].astype(object)


    win = frame["window"].to_numpy()
    w = case.n_frames // case.n_windows
    for r in np.flatnonzero(rows == "hopping"):
        lo = win[r] * w
        if not jumps[lo + 1: lo + w, ion[r]].any():
            rows[r] = "caged"

    _TABLES[key] = (frame, rows.astype(str))
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp")
        pd.to_pickle((frame, rows.astype(str)), tmp)
        tmp.replace(cached)
    return frame.copy(), rows.astype(str)


def score(frame: pd.DataFrame, truth: np.ndarray, mf: ModeFinder) -> dict:
    """ARI and naming of one fitted case."""
    named = mf.named_labels()
    groups = {}
    for beh in np.unique(truth):
        rows = truth == beh
        if rows.sum() < 2:
            continue
        major = pd.Series(mf.labels_[rows]).mode().iloc[0]
        groups[beh] = (mf.mode_names_[int(major)] == EXPECTED[beh], mf.mode_names_[int(major)])
    return {"ari": float(adjusted_rand_score(truth, mf.labels_)),
            "names_right": sum(ok for ok, _ in groups.values()), "groups": len(groups),
            "n_modes": mf.n_modes_, "planted": len(groups), "status": mf.status_,
            "named": {b: n for b, (_, n) in groups.items()},
            "row_names_right": float(np.mean(named == np.array([EXPECTED[b] for b in truth])))}


def run_case(case: Case, **params) -> dict:
    """Generate, describe, fit and score one case (timings in seconds)."""
    t0 = time.perf_counter()
    frame, truth = table(case)
    t1 = time.perf_counter()
    mf = ModeFinder(random_state=0, embed=False, **params).fit(frame)
    t2 = time.perf_counter()
    out = score(frame, truth, mf)
    out.update(case=case.label(), n_ions=case.n_ions, rows=len(frame),
               describe_s=round(t1 - t0, 2), fit_s=round(t2 - t1, 2))
    return out


def permuted(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Every descriptor column shuffled independently (the id columns kept)."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    for c in out.columns:
        if c not in ("trajectory", "ion", "window", "atom_index", "t_start_ps", "t_stop_ps"):
            out[c] = rng.permutation(out[c].to_numpy())
    return out


#: homogeneous populations (null cases): one behaviour, several sizes and seeds
NULL_CASES = [Case({"free": 48}, 3, 0.15, 40), Case({"caged": 48}, 3, 0.15, 41, framework="aC"),
              Case({"free": 120}, 4, 0.25, 42), Case({"caged": 100}, 2, 0.3, 43)]


def run_suite(tables=None, null_tables=None, null_seeds: int = 3, cases=None, null_cases=None,
              **params) -> dict:
    """Every planted case, a column-permuted copy of each, and the homogeneous populations
    at ``null_seeds`` mode-finder seeds. Returns the per-case rows and the figures."""
    cases = CASES if cases is None else cases
    null_cases = NULL_CASES if null_cases is None else null_cases
    tables = tables or [table(c) for c in cases]
    null_tables = null_tables or [table(c) for c in null_cases]
    rows = []
    t_fit = 0.0
    for case, (frame, truth) in zip(cases, tables, strict=True):
        t0 = time.perf_counter()
        mf = ModeFinder(random_state=0, embed=False, **params).fit(frame)
        t_fit += time.perf_counter() - t0
        s = score(frame, truth, mf)
        s.update(case=case.label(), n_ions=case.n_ions, rows=len(frame),
                 fit_s=round(time.perf_counter() - t0, 2))
        rows.append(s)
    nulls = []
    for i, (frame, _) in enumerate(tables):
        t0 = time.perf_counter()
        mf = ModeFinder(random_state=i, embed=False, **params).fit(permuted(frame, i))
        t_fit += time.perf_counter() - t0
        nulls.append({"case": "column-permuted " + cases[i].label(), "n_modes": mf.n_modes_,
                      "status": mf.status_})
    for case, (frame, _) in zip(null_cases, null_tables, strict=True):
        for seed in range(null_seeds):
            t0 = time.perf_counter()
            mf = ModeFinder(random_state=seed, embed=False, **params).fit(frame)
            t_fit += time.perf_counter() - t0
            nulls.append({"case": f"homogeneous {case.label()} seed {seed}",
                          "n_modes": mf.n_modes_, "status": mf.status_,
                          "names": sorted(set(mf.mode_names_.values()))})
    aris = np.array([r["ari"] for r in rows])
    return {
        "cases": rows, "nulls": nulls,
        "median_ari": float(np.median(aris)),
        "names_right": int(sum(r["names_right"] for r in rows)),
        "groups": int(sum(r["groups"] for r in rows)),
        "null_one_mode_rate": float(np.mean([n["n_modes"] == 1 for n in nulls])),
        "n_null": len(nulls),
        "fit_seconds_all_runs": round(t_fit, 1),
        "params": params,
    }


def write_results(res: dict, describe_s: float, path_md, path_json) -> None:
    """The suite's figures and per-case table (markdown) and the raw results (JSON)."""
    import json

    n1 = sum(n["n_modes"] == 1 for n in res["nulls"])
    lines = [
        "# Planted-trajectory suite of the mode finder", "",
        "`python tests/modes_suite.py` (cases of `tests/planted_traj.py`: planted behaviours "
        "placed in the frameworks of `tests/data/frameworks` — a `build_fragments` cell and a "
        "LAMMPS melt-quenched amorphous carbon — through `descriptors.compute` (msd, hops, "
        "structure, voids) and `ModeFinder(random_state=0)` defaults). "
        f"Median ARI **{res['median_ari']:.3f}**, planted groups named right "
        f"**{res['names_right']}/{res['groups']}** "
        f"({100 * res['names_right'] / res['groups']:.1f} %), null runs with one mode "
        f"**{n1}/{res['n_null']}** ({100 * n1 / res['n_null']:.0f} %). Descriptor tables "
        f"{describe_s:.0f} s, fits of all runs {res['fit_seconds_all_runs']:.0f} s on the "
        "shared 2-core machine.", "",
        "| case | Na | rows | modes found | status | ARI | groups named right | "
        "names of the planted groups |", "|---|---|---|---|---|---|---|---|"]
    for r in res["cases"]:
        named = ", ".join(f"{k} → {v}" for k, v in sorted(r["named"].items()))
        lines.append(f"| {r['case']} | {r['n_ions']} | {r['rows']} | {r['n_modes']} | "
                     f"{r['status']} | {r['ari']:.2f} | {r['names_right']}/{r['groups']} | "
                     f"{named} |")
    lines += ["", "Null runs (column-permuted copy of each case, seed = case index; "
              "homogeneous populations at 3 seeds):", "", "| null case | modes | status |",
              "|---|---|---|"]
    lines += [f"| {n['case']} | {n['n_modes']} | {n['status']} |" for n in res["nulls"]]
    with open(path_md, "w") as fh:
        fh.write("\n".join(lines) + "\n")

    def plain(o):
        if isinstance(o, dict):
            return {str(k): plain(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [plain(v) for v in o]
        if isinstance(o, (np.integer, np.floating, np.str_)):
            return o.item()
        return o

    with open(path_json, "w") as fh:
        json.dump(plain(dict(res, describe_seconds=round(describe_s, 1))), fh, indent=1)


if __name__ == "__main__":
    import argparse
    from pathlib import Path

    ap = argparse.ArgumentParser(description="run the full planted-trajectory suite")
    ap.add_argument("--covariance", default="diag")
    ap.add_argument("--out", default=str(Path(__file__).parent.parent / "benchmarks" / "results"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    tabs = [table(c) for c in CASES]
    ntabs = [table(c) for c in NULL_CASES]
    describe_s = time.perf_counter() - t0
    res = run_suite(tabs, ntabs, covariance_type=args.covariance)
    stem = "modes_suite" if args.covariance == "diag" else f"modes_suite_{args.covariance}"
    write_results(res, describe_s, Path(args.out) / f"{stem}.md",
                  Path(args.out) / f"{stem}.json")
    print(f"median ARI {res['median_ari']:.3f}, names {res['names_right']}/{res['groups']}, "
          f"null one-mode {res['null_one_mode_rate']:.3f} of {res['n_null']}")
