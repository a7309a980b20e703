"""Many trajectories: mode fractions and descriptor means against processing variables.

Each trajectory carries metadata (carbon density in g/cm³, Na loading as Na/C, temperature in
K, seed), read from the JSON file mdrunner writes beside each run or from a CSV. Per
trajectory the fraction of (ion, window) rows in each named mode and the mean of each
descriptor are computed; their Spearman rank correlation with each processing variable, with
a two-sided p-value, forms the correlation map.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from hcanalysis.columns import DYNAMIC, STRUCTURAL

#: Processing variables looked for in the metadata.
VARIABLES = ("density", "na_loading", "temperature")


def read_metadata(paths: Sequence[str | os.PathLike], csv: str | os.PathLike | None = None):
    """Metadata per trajectory, one row each, in the order of ``paths``.

    Parameters
    ----------
    paths : trajectory files.
    csv : optional CSV with a ``path`` column (matched by file name) and variable columns.
        Without it, for each trajectory the first of ``<file>.json``, ``<stem>.json`` and
        ``run.json`` / ``metadata.json`` in its folder is read (mdrunner writes ``run.json``).

    Returns
    -------
    DataFrame with ``trajectory`` (index), ``path`` and every variable found.

    Raises
    ------
    FileNotFoundError
        When a trajectory has no metadata file and no CSV row.
    """
    rows = []
    table = None
    if csv is not None:
        table = pd.read_csv(csv)
        if "path" not in table.columns:
            raise ValueError(f"{csv}: the metadata CSV needs a 'path' column")
    for i, p in enumerate(paths):
        p = Path(p)
        if table is not None:
            meta = _csv_row(table, p, Path(csv))
        else:
            candidates = [p.with_name(p.name + ".json"), p.with_suffix(".json"),
                          p.parent / "run.json", p.parent / "metadata.json"]
            found = next((c for c in candidates if c.is_file()), None)
            if found is None:
                raise FileNotFoundError(
                    f"{p}: no metadata; put density/na_loading/temperature in "
                    f"{candidates[1].name} or run.json beside it, or pass a CSV"
                )
            meta = json.loads(found.read_text())
        flat = {k: v for k, v in meta.items() if isinstance(v, int | float | str | bool)}
        rows.append({"trajectory": i, "path": str(p), **flat})
    return pd.DataFrame(rows)


def _csv_row(table: pd.DataFrame, traj: Path, csv: Path) -> dict:
    """The CSV row of a trajectory: the same file (paths relative to the CSV's folder or
    absolute), else the one row whose path is a trailing part of the trajectory's path
    (``b/traj.h5`` matches ``runs/b/traj.h5``). mdrunner names every trajectory ``traj.h5``,
    so the file name alone is not enough."""
    target = traj.resolve()
    listed = [Path(str(x)) for x in table["path"]]
    same = [k for k, q in enumerate(listed)
            if (q if q.is_absolute() else csv.parent / q).resolve() == target]
    if not same:
        same = [k for k, q in enumerate(listed)
                if target.parts[-len(q.parts):] == q.parts]
    if len(same) != 1:
        what = "no row" if not same else f"{len(same)} rows"
        raise FileNotFoundError(f"{csv}: {what} for trajectory {traj}; give paths that tell "
                                "the runs apart (e.g. run_a/traj.h5)")
    return table.iloc[same[0]].drop(labels=["path"]).to_dict()


def summarise(table: pd.DataFrame, mode_names: Sequence[str] | None = None) -> pd.DataFrame:
    """Per trajectory: fraction of rows in each named mode (``frac_<name>``) and the mean of
    each descriptor (``mean_<column>``).

    Parameters
    ----------
    table : descriptor table with a ``trajectory`` column (and ``mode_name`` when modes are
        summarised).
    mode_names : names to report (default: those present), so absent modes count as 0.
    """
    out = []
    names = list(mode_names) if mode_names is not None else (
        sorted(table["mode_name"].unique()) if "mode_name" in table else []
    )
    desc = [c for c in (*DYNAMIC, *STRUCTURAL) if c in table.columns]
    for t, sub in table.groupby("trajectory", sort=True):
        row = {"trajectory": t, "n_rows": len(sub)}
        for n in names:
            row[f"frac_{n.replace(' ', '_')}"] = float(np.mean(sub["mode_name"] == n))
        for c in desc:
            row[f"mean_{c}"] = float(np.nanmean(sub[c].to_numpy(dtype=float)))
        out.append(row)
    return pd.DataFrame(out)


@dataclass
class CorrelationMap:
    """Spearman rho and p-values: rows = per-trajectory quantities, columns = variables."""

    rho: pd.DataFrame
    pvalue: pd.DataFrame
    n: int


def correlate(
    summary: pd.DataFrame, metadata: pd.DataFrame, variables: Sequence[str] = VARIABLES
) -> CorrelationMap:
    """Spearman correlation of every per-trajectory quantity with each processing variable.

    Variables absent from the metadata are skipped; a constant variable or quantity gives NaN.
    """
    merged = summary.merge(metadata, on="trajectory", how="inner")
    present = [v for v in variables if v in merged.columns]
    if not present:
        raise ValueError(f"none of the variables {list(variables)} is in the metadata")
    quantities = [c for c in summary.columns if c.startswith(("frac_", "mean_"))]
    rho = pd.DataFrame(index=quantities, columns=present, dtype=float)
    pval = rho.copy()
    for q in quantities:
        for v in present:
            a = merged[q].to_numpy(dtype=float)
            b = merged[v].to_numpy(dtype=float)
            ok = np.isfinite(a) & np.isfinite(b)
            if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
                rho.loc[q, v] = pval.loc[q, v] = np.nan
                continue
            r, p = spearmanr(a[ok], b[ok])
            rho.loc[q, v], pval.loc[q, v] = float(r), float(p)
    return CorrelationMap(rho=rho, pvalue=pval, n=len(merged))
