"""Many trajectories: mode fractions and descriptor means against processing variables.

Each trajectory carries metadata (carbon density in g/cm³, Na loading as Na/C, temperature in
K, seed), read from the JSON file mdrunner writes beside each run or from a CSV. Per
trajectory the fraction of (ion, window) rows in each named mode and the mean of each
descriptor are computed; their Spearman rank correlation with each processing variable forms
the correlation map, with, in every cell, the number of runs n, a two-sided permutation
p-value (exact by enumerating all n! pairings for n <= :data:`EXACT_MAX_N`, Monte Carlo
above) and the Benjamini-Hochberg q-value over the whole map. No map is made from fewer than
:data:`MIN_RUNS` runs.

References: the permutation (randomisation) distribution of Spearman's ρ under independence
(e.g. Kendall & Gibbons, *Rank Correlation Methods*, 5th ed., 1990, ch. 4; exact tables of
Zar, J. Am. Stat. Assoc. 67, 578, 1972); Benjamini & Hochberg, J. R. Stat. Soc. B 57, 289
(1995), the step-up procedure controlling the false discovery rate.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from hcanalysis.columns import DYNAMIC, STRUCTURAL

#: Processing variables looked for in the metadata.
VARIABLES = ("density", "na_loading", "temperature")
#: Fewest runs for a correlation map. With n runs the smallest two-sided permutation p-value
#: of Spearman's ρ is 2/n! (only the two perfectly monotone pairings reach |ρ| = 1): 1/3 for
#: 3 runs and 1/12 for 4, so below 5 runs (1/60) no cell could ever reach p < 0.05.
MIN_RUNS = 5
#: Largest n whose p-value enumerates all n! pairings (9! = 362,880); above it, Monte Carlo.
EXACT_MAX_N = 9
#: Random pairings of the Monte Carlo p-value (n > EXACT_MAX_N).
N_PERMUTATIONS = 20_000


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


# ---------------------------------------------------------------------------- statistics
@functools.lru_cache(maxsize=4)
def _all_permutations(n: int) -> np.ndarray:
    """Every permutation of range(n), (n!, n) int8 (9! x 9 = 3.3 MB)."""
    return np.array(list(itertools.permutations(range(n))), dtype=np.int8)


def spearman_permutation(
    x: np.ndarray, y: np.ndarray, *, n_permutations: int = N_PERMUTATIONS,
    exact_max_n: int = EXACT_MAX_N, seed: int = 0,
) -> tuple[float, float, bool]:
    """Spearman's ρ and its two-sided permutation p-value under independence.

    ρ is the Pearson correlation of the ranks (ties get their mean rank). The p-value is the
    fraction of pairings of the ranks, with the ties as observed, whose |ρ| is at least the
    observed |ρ| (to a relative 1e-12). For n <= ``exact_max_n`` all n! pairings are
    enumerated: the exact conditional p-value (a perfect monotone trend over n distinct values
    gets 2/n!: 1/3 for n = 3, 1/60 for n = 5, 5.5e-6 for n = 9). Above it, ``n_permutations``
    random pairings give ``(1 + hits) / (1 + n_permutations)``, never 0 (Phipson & Smyth,
    Stat. Appl. Genet. Mol. Biol. 9, 39, 2010).

    Parameters
    ----------
    x, y : (n,) float
        Paired finite values (n >= 3).
    n_permutations : int
        Random pairings when n > ``exact_max_n``.
    exact_max_n : int
    seed : int
        Seed of the random pairings.

    Returns
    -------
    rho, p, exact : float, float, bool
        NaN ρ and p when either variable is constant.
    """
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    n = a.size
    if b.size != n or n < 3:
        raise ValueError(f"spearman_permutation needs >= 3 paired values, got {a.size} and "
                         f"{b.size}")
    ra = rankdata(a) - (n + 1) / 2.0
    rb = rankdata(b) - (n + 1) / 2.0
    norm = np.sqrt(np.sum(ra**2) * np.sum(rb**2))
    if norm == 0:
        return float("nan"), float("nan"), n <= exact_max_n
    rho = float(ra @ rb / norm)
    if n <= exact_max_n:
        perms = _all_permutations(n)
        null = (rb[perms] @ ra) / norm
        hits = np.count_nonzero(np.abs(null) >= abs(rho) * (1 - 1e-12) - 1e-15)
        return rho, float(hits / len(perms)), True
    rng = np.random.default_rng(seed)
    hits = 0
    for lo in range(0, n_permutations, 4096):
        k = min(4096, n_permutations - lo)
        perms = rng.permuted(np.broadcast_to(np.arange(n), (k, n)), axis=1)
        null = (rb[perms] @ ra) / norm
        hits += int(np.count_nonzero(np.abs(null) >= abs(rho) * (1 - 1e-12) - 1e-15))
    return rho, float((1 + hits) / (1 + n_permutations)), False


def benjamini_hochberg(pvalues) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values) of a family of tests.

    With the m finite p-values sorted, p_(1) <= ... <= p_(m),
    q_(i) = min over j >= i of min(1, m p_(j) / j) (Benjamini & Hochberg, J. R. Stat. Soc. B
    57, 289, 1995): rejecting every test with q <= α controls the false discovery rate at α
    for independent or positively dependent tests. NaN entries are not tests: they stay NaN
    and do not count in m.

    Parameters
    ----------
    pvalues : array_like of float (any shape)

    Returns
    -------
    ndarray of the same shape
    """
    p = np.asarray(pvalues, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    flat = p.ravel()
    ok = np.flatnonzero(np.isfinite(flat))
    m = ok.size
    if m == 0:
        return q
    order = ok[np.argsort(flat[ok], kind="stable")]
    scaled = flat[order] * m / np.arange(1, m + 1)
    adj = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    out = q.ravel()
    out[order] = adj
    return out.reshape(p.shape)


@dataclass
class CorrelationMap:
    """Spearman correlation of per-trajectory quantities (rows) with processing variables
    (columns).

    Attributes
    ----------
    rho : DataFrame
        Spearman ρ (NaN where a variable or quantity is constant, or fewer than 3 runs).
    pvalue : DataFrame
        Two-sided permutation p-value of each cell (see :func:`spearman_permutation`).
    qvalue : DataFrame
        Benjamini-Hochberg q-value over all finite cells of the map.
    n_cell : DataFrame of int
        Runs with finite values in each cell.
    exact : DataFrame of bool
        Whether the cell's p-value enumerated all pairings.
    n : int
        Runs merged with metadata.
    min_runs, alpha : the rule used (a cell is significant when q <= alpha).
    """

    rho: pd.DataFrame
    pvalue: pd.DataFrame
    n: int
    qvalue: pd.DataFrame | None = None
    n_cell: pd.DataFrame | None = None
    exact: pd.DataFrame | None = None
    min_runs: int = MIN_RUNS
    alpha: float = 0.05

    def significant(self) -> pd.DataFrame:
        """Cells with q <= alpha, strongest first: quantity, variable, rho, n, p, q."""
        rows = []
        for q in self.rho.index:
            for v in self.rho.columns:
                if np.isfinite(self.qvalue.loc[q, v]) and self.qvalue.loc[q, v] <= self.alpha:
                    rows.append((q, v, self.rho.loc[q, v], int(self.n_cell.loc[q, v]),
                                 self.pvalue.loc[q, v], self.qvalue.loc[q, v]))
        df = pd.DataFrame(rows, columns=["quantity", "variable", "rho", "n", "p", "q"])
        return df.reindex(df["rho"].abs().sort_values(ascending=False).index).reset_index(
            drop=True)

    def lines(self, top: int = 5) -> list[str]:
        """What to print: the rule, then the cells with Benjamini-Hochberg q <= alpha (each
        with its n, p and q), or that none survives and the strongest cells with theirs."""
        cells = self.cells().dropna(subset=["rho"])
        head = (f"correlation map over {self.n} runs: Spearman ρ, permutation p (exact for "
                f"n <= {EXACT_MAX_N}), Benjamini-Hochberg q over {len(cells)} cells")

        def fmt(r) -> str:
            return (f"{r.quantity} ~ {r.variable}: ρ = {r.rho:+.2f} (n = {r.n}, p = {r.p:.2g}, "
                    f"q = {r.q:.2g})")

        sig = self.significant()
        if len(sig):
            return [head, f"correlations with q <= {self.alpha:g}: "
                    + "; ".join(fmt(r) for r in sig.head(top).itertuples())]
        strongest = cells.reindex(cells["rho"].abs().sort_values(ascending=False).index)
        return [head, f"no correlation passes the false-discovery rate {self.alpha:g}; "
                "strongest: " + "; ".join(fmt(r) for r in strongest.head(3).itertuples())]

    def cells(self) -> pd.DataFrame:
        """Every cell in long form: quantity, variable, rho, n, p, q, exact."""
        out = pd.DataFrame({
            "rho": self.rho.stack(future_stack=True), "n": self.n_cell.stack(future_stack=True),
            "p": self.pvalue.stack(future_stack=True), "q": self.qvalue.stack(future_stack=True),
            "exact": self.exact.stack(future_stack=True),
        })
        out.index.names = ["quantity", "variable"]
        return out.reset_index()


def correlate(
    summary: pd.DataFrame, metadata: pd.DataFrame, variables: Sequence[str] = VARIABLES, *,
    min_runs: int = MIN_RUNS, alpha: float = 0.05, n_permutations: int = N_PERMUTATIONS,
    seed: int = 0,
) -> CorrelationMap:
    """Spearman correlation of every per-trajectory quantity with each processing variable,
    with permutation p-values, Benjamini-Hochberg q-values over the map and n per cell.

    Variables absent from the metadata are skipped; a constant variable or quantity (or a
    cell with fewer than 3 finite runs) gives NaN and is not counted as a test.

    Parameters
    ----------
    summary : from :func:`summarise`.
    metadata : from :func:`read_metadata`.
    variables : processing variables to correlate with.
    min_runs : int
        Fewest runs for a map (default :data:`MIN_RUNS` = 5: below it no cell can reach
        p < 0.05).
    alpha : float
        False discovery rate of :meth:`CorrelationMap.significant`.
    n_permutations, seed : Monte Carlo p-values for cells with n > :data:`EXACT_MAX_N`.

    Raises
    ------
    ValueError
        Fewer than ``min_runs`` runs, or none of the variables in the metadata.
    """
    merged = summary.merge(metadata, on="trajectory", how="inner")
    if len(merged) < min_runs:
        raise ValueError(
            f"{len(merged)} runs with metadata: a correlation map needs at least {min_runs} "
            f"(with n runs the smallest two-sided Spearman p-value is 2/n!); add runs"
        )
    present = [v for v in variables if v in merged.columns]
    if not present:
        raise ValueError(f"none of the variables {list(variables)} is in the metadata")
    quantities = [c for c in summary.columns if c.startswith(("frac_", "mean_"))]
    rho = pd.DataFrame(np.nan, index=quantities, columns=present, dtype=float)
    pval = rho.copy()
    ncell = pd.DataFrame(0, index=quantities, columns=present, dtype=int)
    exact = pd.DataFrame(False, index=quantities, columns=present, dtype=bool)
    for q in quantities:
        for v in present:
            a = merged[q].to_numpy(dtype=float)
            b = merged[v].to_numpy(dtype=float)
            ok = np.isfinite(a) & np.isfinite(b)
            ncell.loc[q, v] = int(ok.sum())
            if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
                continue
            r, p, ex = spearman_permutation(a[ok], b[ok], n_permutations=n_permutations,
                                            seed=seed)
            rho.loc[q, v], pval.loc[q, v], exact.loc[q, v] = r, p, ex
    qval = pd.DataFrame(benjamini_hochberg(pval.to_numpy()), index=quantities, columns=present)
    return CorrelationMap(rho=rho, pvalue=pval, n=len(merged), qvalue=qval, n_cell=ncell,
                          exact=exact, min_runs=min_runs, alpha=alpha)
