"""Figures and a self-contained HTML report of an analysis.

Every figure is written as a PNG in the output folder and embedded (base64) in
``report.html``, so the report is one file a person opens in a browser. Figures whose inputs
are absent (e.g. no void map) are skipped and listed as such in the report.
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hcanalysis.atomic import atomic_output
from hcanalysis.columns import unit

MODE_COLOURS = {
    "hopping": "#d62728",
    "clustering": "#1f77b4",
    "void trapping": "#9467bd",
    "caged": "#7f7f7f",
}


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _colour(name: str, k: int) -> str:
    return MODE_COLOURS.get(name, f"C{k % 10}")


@dataclass
class ReportInputs:
    """What the report draws from (any may be None)."""

    table: pd.DataFrame  # descriptor rows, with mode / mode_name columns when modes were found
    modes: Any = None  # fitted hcanalysis.modes.ModeFinder
    importance: Any = None  # hcanalysis.importance.ImportanceResult
    correlation: Any = None  # hcanalysis.ensemble.CorrelationMap
    msd_curves: np.ndarray | None = None  # (n_rows, n_lags) Å²
    msd_lag_ps: np.ndarray | None = None  # (n_lags,) ps
    psd: tuple[np.ndarray, np.ndarray] | None = None  # (bin edges Å, volume fractions)
    tortuosity: dict[str, Any] | None = None  # {"tau": (3,), "percolates": (3,)}
    system: dict[str, Any] = field(default_factory=dict)  # system-level numbers to tabulate
    metadata: dict[str, Any] = field(default_factory=dict)


def fig_msd_by_mode(inp: ReportInputs, ax) -> bool:
    if inp.msd_curves is None or "mode_name" not in inp.table:
        return False
    lag = np.asarray(inp.msd_lag_ps)
    ok = lag > 0
    for k, name in enumerate(pd.unique(inp.table["mode_name"])):
        rows = (inp.table["mode_name"] == name).to_numpy()
        curve = np.nanmean(inp.msd_curves[rows], axis=0)
        ax.loglog(lag[ok], curve[ok], color=_colour(name, k), label=f"{name} ({rows.sum()})")
    ax.set_xlabel("lag τ (ps)")
    ax.set_ylabel("MSD (Å²)")
    ax.set_title("Mean MSD per mode")
    ax.legend(fontsize=8)
    return True


def fig_umap_modes(inp: ReportInputs, ax) -> bool:
    m = inp.modes
    if m is None or getattr(m, "embedding_", None) is None:
        return False
    e = m.embedding_
    for k in range(m.n_modes_):
        sel = m.labels_ == k
        name = m.mode_names_[k]
        ax.scatter(e[sel, 0], e[sel, 1], s=6, color=_colour(name, k),
                   label=f"{k}: {name} ({100 * m.fractions_[k]:.0f}%)")
    ax.set_xlabel("UMAP 1")
    ax.set_ylabel("UMAP 2")
    ax.set_title("Diffusion modes on the UMAP map")
    ax.legend(fontsize=7, markerscale=2)
    return True


def fig_centroids(inp: ReportInputs, ax) -> bool:
    m = inp.modes
    if m is None:
        return False
    z = m.zcentroids_
    width = 0.8 / max(1, len(z))
    x = np.arange(z.shape[1])
    for k in z.index:
        ax.bar(x + k * width, z.loc[k].to_numpy(), width,
               color=_colour(m.mode_names_[k], k), label=f"{k}: {m.mode_names_[k]}")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xticks(x + 0.4 - width / 2)
    ax.set_xticklabels(z.columns, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("centroid (z-score over all rows)")
    ax.set_title("Mode signatures")
    ax.legend(fontsize=7)
    return True


def fig_importance(inp: ReportInputs, ax) -> bool:
    r = inp.importance
    if r is None:
        return False
    lo, hi = r.r2_ci
    if not r.has_skill:  # no ranking without predictive skill: show the skill only
        ax.errorbar([r.r2], [0], xerr=[[max(r.r2 - lo, 0)], [max(hi - r.r2, 0)]], fmt="o",
                    color="k", capsize=4)
        ax.axvline(0, color="r", lw=1)
        ax.set_yticks([])
        ax.set_xlabel(f"held-out R² of {r.target} (95 % interval over {r.n_groups} groups)")
        ax.set_title(f"No ranking: the {r.params.get('features', 'structural')} descriptors "
                     f"do not predict {r.target} here", fontsize=9)
        return True
    rk = r.ranking.iloc[::-1]
    y = np.arange(len(rk))
    err = np.vstack([rk["importance"] - rk["ci_low"], rk["ci_high"] - rk["importance"]])
    ax.barh(y, rk["importance"], xerr=np.clip(err, 0, None), color="#2ca02c")
    ax.set_yticks(y)
    ax.set_yticklabels(rk["feature"], fontsize=8)
    ax.set_xlabel(f"permutation importance (drop in held-out R²); held-out R² = {r.r2:.2f} "
                  f"[{lo:.2f}, {hi:.2f}]", fontsize=8)
    ax.set_title(f"What predicts {r.target} (groups of correlated descriptors permuted "
                 "together)", fontsize=9)
    return True


def fig_correlation(inp: ReportInputs, ax) -> bool:
    c = inp.correlation
    if c is None or c.rho.empty or not np.isfinite(c.rho.to_numpy(dtype=float)).any():
        return False
    rho = c.rho.to_numpy(dtype=float)
    im = ax.imshow(rho, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks(range(rho.shape[1]))
    ax.set_xticklabels(c.rho.columns)
    ax.set_yticks(range(rho.shape[0]))
    ax.set_yticklabels(c.rho.index, fontsize=7)
    qv = c.qvalue.to_numpy(dtype=float)
    nc = c.n_cell.to_numpy()
    small = 7 if rho.shape[0] <= 20 else 5
    for i in range(rho.shape[0]):
        for j in range(rho.shape[1]):
            star = "*" if np.isfinite(qv[i, j]) and qv[i, j] <= c.alpha else ""
            dark = np.isfinite(rho[i, j]) and abs(rho[i, j]) > 0.6
            ax.text(j, i, f"n={nc[i, j]}{star}", ha="center", va="center", fontsize=small,
                    color="w" if dark else "k")
    ax.figure.colorbar(im, ax=ax, label="Spearman ρ")
    ax.set_title(f"Correlation with processing variables ({c.n} runs; n per cell;\n"
                 f"* Benjamini-Hochberg q <= {c.alpha:g}, permutation p-values)", fontsize=9)
    return True


def _mobility_column(table: pd.DataFrame) -> str | None:
    """log_msd_lag (defined for every row) when present, else log_D if it has any value."""
    for col in ("log_msd_lag", "log_D"):
        if col in table and np.isfinite(table[col].to_numpy(dtype=float)).any():
            return col
    return None


def fig_descriptor_by_mode(inp: ReportInputs, ax) -> bool:
    col = _mobility_column(inp.table)
    if "mode_name" not in inp.table or col is None:
        return False
    for k, name in enumerate(pd.unique(inp.table["mode_name"])):
        v = inp.table.loc[inp.table["mode_name"] == name, col].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        if v.size:
            ax.hist(v, bins=30, alpha=0.6, color=_colour(name, k), label=name)
    ax.set_xlabel(f"{col} ({unit(col)})")
    ax.set_ylabel("(ion, window) rows")
    ax.set_title("Mobility by mode")
    ax.legend(fontsize=8)
    return True


def fig_psd(inp: ReportInputs, ax) -> bool:
    if inp.psd is None:
        return False
    edges, frac = inp.psd
    centres = 0.5 * (edges[1:] + edges[:-1])
    ax.bar(centres, frac, width=np.diff(edges), color="#8c564b")
    ax.set_xlabel("pore radius (Å)")
    ax.set_ylabel("void volume fraction")
    ax.set_title("Pore size distribution (local thickness)")
    return True


def fig_tortuosity(inp: ReportInputs, ax) -> bool:
    t = inp.tortuosity
    if t is None:
        return False
    tau = np.asarray(t["tau"], dtype=float)
    shown = np.where(np.isfinite(tau), tau, 0.0)
    ax.bar(["a", "b", "c"], shown, color="#17becf")
    for i, v in enumerate(tau):
        ax.text(i, shown[i], "∞ (no path)" if not np.isfinite(v) else f"{v:.2f}",
                ha="center", va="bottom")
    ax.axhline(1.0, color="k", lw=0.5)
    ax.set_ylabel("geodesic tortuosity τ")
    ax.set_title("Global tortuosity per cell axis")
    return True


def fig_umap_descriptors(inp: ReportInputs, fig) -> bool:
    m = inp.modes
    if m is None or getattr(m, "embedding_", None) is None:
        return False
    keys = [c for c in (_mobility_column(inp.table), "hop_rate", "n_NaNa", "pore_radius",
                        "local_tortuosity", "wall_distance") if c in inp.table.columns][:4]
    if not keys:
        return False
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    for ax, key in zip(axes, keys, strict=False):
        sc = ax.scatter(m.embedding_[:, 0], m.embedding_[:, 1], s=4,
                        c=inp.table[key].to_numpy(dtype=float), cmap="viridis")
        fig.colorbar(sc, ax=ax, label=f"{key} ({unit(key)})" if unit(key) else key)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(key)
    return True


FIGURES: dict[str, tuple[str, Callable, tuple[float, float]]] = {
    "msd_by_mode": ("MSD curves by mode", fig_msd_by_mode, (6, 4.5)),
    "umap_modes": ("UMAP map coloured by mode", fig_umap_modes, (6, 5)),
    "umap_descriptors": ("UMAP map coloured by key descriptors", fig_umap_descriptors, (16, 3.8)),
    "mode_centroids": ("Mode centroids", fig_centroids, (9, 4.5)),
    "mobility_by_mode": ("Mobility by mode", fig_descriptor_by_mode, (6, 4)),
    "importance": ("Importance ranking", fig_importance, (6, 4.5)),
    "correlation": ("Correlation map", fig_correlation, (7, 6)),
    "psd": ("Pore size distribution", fig_psd, (6, 4)),
    "tortuosity": ("Global tortuosity", fig_tortuosity, (5, 4)),
}


def make_figures(inp: ReportInputs, outdir: str | os.PathLike) -> dict[str, Path]:
    """Draw every figure whose inputs exist; return name -> PNG path."""
    plt = _plt()
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    made = {}
    for name, (_title, draw, size) in FIGURES.items():
        fig = plt.figure(figsize=size)
        ok = draw(inp, fig) if name == "umap_descriptors" else draw(inp, fig.add_subplot())
        if ok:
            fig.tight_layout()
            path = out / f"{name}.png"
            fig.savefig(path, dpi=110)
            made[name] = path
        plt.close(fig)
    return made


def _table_html(df: pd.DataFrame, floatfmt: str = "{:.3g}") -> str:
    return df.to_html(
        index=False, border=0, classes="tbl", na_rep="–",
        float_format=lambda v: floatfmt.format(v),
    )


def write_report(inp: ReportInputs, outdir: str | os.PathLike, title: str = "hcanalysis") -> Path:
    """Write the PNGs and ``report.html`` (images embedded) into ``outdir``."""
    out = Path(outdir)
    figs = make_figures(inp, out)
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}"
        "img{max-width:100%;border:1px solid #ddd}.tbl{border-collapse:collapse;font-size:90%}"
        ".tbl td,.tbl th{padding:2px 8px;border-bottom:1px solid #eee}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    meta = inp.metadata
    if meta:
        rows = "".join(
            f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in meta.items() if not isinstance(v, dict | list)
        )
        parts.append(f"<h2>Run</h2><table class='tbl' id='run'>{rows}</table>")
    if inp.system:
        rows = "".join(
            f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in inp.system.items()
        )
        parts.append(f"<h2>System</h2><table class='tbl' id='system'>{rows}</table>")
    if inp.modes is not None:
        summ = inp.modes.summary().reset_index()
        parts.append(f"<h2>Diffusion modes</h2><p>{html.escape(inp.modes.verdict())}</p>"
                     "<p>Each name holds only when all its criteria pass (values of the "
                     "mode's rows against absolute thresholds, docs/modes.md); the "
                     "evidence column lists them.</p>")
        parts.append(f"<div id='modes'>{_table_html(summ)}</div>")
    if inp.importance is not None:
        imp = inp.importance
        text = "<br>".join(html.escape(line) for line in imp.lines())
        parts.append(f"<h2>What predicts mobility</h2><p>{html.escape(imp.model)}: {text}</p>")
        if imp.has_skill:
            rk = imp.ranking.drop(columns=["members"], errors="ignore")
            parts.append(f"<div id='importance'>{_table_html(rk)}</div>")
        else:
            parts.append("<div id='importance'><p>No ranking: the held-out R² interval is not "
                         "above 0.</p></div>")
    if inp.correlation is not None:
        c = inp.correlation
        text = "<br>".join(html.escape(line) for line in c.lines())
        parts.append(f"<h2>Correlation with processing variables</h2><p>{text}</p>")
        parts.append(f"<div id='correlation'>{_table_html(c.cells())}</div>")
    parts.append("<h2>Figures</h2>")
    for name, (ftitle, _draw, _size) in FIGURES.items():
        if name in figs:
            b64 = base64.b64encode(figs[name].read_bytes()).decode()
            parts.append(f"<figure id='fig-{name}'><figcaption>{html.escape(ftitle)}"
                         f"</figcaption><img alt='{html.escape(ftitle)}' "
                         f"src='data:image/png;base64,{b64}'></figure>")
    skipped = [FIGURES[n][0] for n in FIGURES if n not in figs]
    if skipped:
        parts.append("<p class='skipped'>Not drawn (no input for them in this run): "
                     + html.escape(", ".join(skipped)) + "</p>")
    parts.append("</body></html>")
    path = out / "report.html"
    with atomic_output(path) as tmp:
        tmp.write_text("\n".join(parts), encoding="utf-8")
    return path
