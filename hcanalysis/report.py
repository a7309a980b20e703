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
    "caged": "#ff7f0e",
}


def _figure(size: tuple[float, float]):
    """A matplotlib Figure drawn without pyplot, so that writing a report never changes the
    backend of the caller (a notebook keeps showing its figures)."""
    from matplotlib.figure import Figure

    return Figure(figsize=size)


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
    metadata: dict[str, Any] = field(default_factory=dict)  # "per_trajectory", "notes", ...
    cell: dict[str, Any] | None = None  # report_view3d.cell_data: the 3D view's data


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
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    made = {}
    for name, (_title, draw, size) in FIGURES.items():
        fig = _figure(size)
        ok = draw(inp, fig) if name == "umap_descriptors" else draw(inp, fig.add_subplot())
        if ok:
            fig.tight_layout()
            path = out / f"{name}.png"
            fig.savefig(path, dpi=110)
            made[name] = path
    return made


#: What each figure shows and what to look for (the report's captions).
CAPTIONS: dict[str, str] = {
    "msd_by_mode": (
        "Mean MSD of each mode's (ion, window) rows against the lag, log-log. A slope of 1 is "
        "diffusion (D = slope/6); a slope below 1 is sub-diffusive, a flat stretch is an ion "
        "rattling in a cage. Look for modes whose curves separate by more than the spread "
        "within a mode, and for the lag where the slope approaches 1 (if it does)."),
    "umap_modes": (
        "Each dot is one (ion, window) row placed on a 2D UMAP map of the standardized "
        "descriptors, coloured by its mode. Compact, separated groups support the modes; a "
        "continuum cut into pieces means the modes are a partition of a gradient (check the "
        "stability in the summary). The map's axes have no units."),
    "umap_descriptors": (
        "The same map coloured by key descriptors (units in the colour bars). Look for "
        "descriptors whose colour changes along the same direction as the modes: they are "
        "what separates them."),
    "mode_centroids": (
        "Each mode's centroid as a z-score per descriptor (0 = the mean over all rows, ±1 = "
        "one standard deviation). Bars far from 0 are what characterises a mode; the names "
        "come from absolute thresholds (table above), not from this plot."),
    "mobility_by_mode": (
        "Histogram of the mobility measure per mode. Modes that overlap strongly here differ "
        "in structure more than in mobility."),
    "importance": (
        "How much the held-out R² drops when a descriptor (or a group of correlated "
        "descriptors, permuted together) is shuffled; bars are 95 % intervals. Only drawn as a "
        "ranking when the held-out R² interval is above 0; otherwise the plot shows the skill "
        "alone and no descriptor is ranked."),
    "correlation": (
        "Spearman ρ between each run's mode fractions / descriptor means and its processing "
        "variables; n = runs per cell; * marks Benjamini–Hochberg q ≤ 0.05. With few runs "
        "even a large |ρ| is not significant: trust the stars, not the colour."),
    "psd": (
        "Pore size distribution by local thickness: the fraction of the void volume in pores "
        "of each inscribed radius. Compare the peak with the Na radius (~1 Å) and with the "
        "wall distances of the ions."),
    "tortuosity": (
        "Geodesic tortuosity τ per cell axis: shortest path through the void to the periodic "
        "image one cell vector along, divided by the cell length. τ = 1 is a straight "
        "channel; ∞ means the void does not percolate along that axis. 26-connected grid "
        "paths overestimate off-lattice directions by up to 12.8 %."),
}

#: Sections of the report: title, figures in it, and one sentence of what the section asks.
SECTIONS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("diffusion", "Diffusion and mobility", ("msd_by_mode", "mobility_by_mode"),
     "How far the ions move, and whether a diffusion coefficient exists on these time "
     "scales."),
    ("modes-figs", "Diffusion modes: maps and signatures",
     ("umap_modes", "umap_descriptors", "mode_centroids"),
     "Whether the (ion, window) rows form distinct groups, and what distinguishes them."),
    ("importance-figs", "What predicts mobility", ("importance",),
     "Whether the local structure around an ion predicts how mobile it is."),
    ("pores", "Pores and tortuosity", ("psd", "tortuosity"),
     "The void space the ions move through."),
    ("ensemble", "Across runs", ("correlation",),
     "How modes and descriptors change with the processing variables."),
)

#: References per descriptor family (docs/methods.md has the full definitions).
REFERENCES: dict[str, str] = {
    "msd": "Einstein relation, D = lim MSD/6t; fit range where the local log-log slope is "
           "1 ± 0.1 (docs/msd.md); GLS: Bullerjahn, von Bülow & Hummer, J. Chem. Phys. 153, "
           "024116 (2020)",
    "hops": "p_hop: Candelier, Dauchot & Biroli, Phys. Rev. Lett. 105, 135702 (2010); cage "
            "time: Larini et al., Nature Phys. 4, 42 (2008) (docs/hops.md)",
    "structure": "cell-list neighbours, first minimum of g(r) (docs/structure.md)",
    "voids": "exact distance field, periodic watershed pores, local-thickness PSD "
             "(docs/voids.md)",
    "tortuosity": "geodesic paths through the void, 26-connected Dijkstra "
                  "(docs/tortuosity.md)",
}

_FAMILY = {
    "log_D": "msd", "D": "msd", "msd_lag": "msd", "log_msd_lag": "msd", "alpha": "msd",
    "msd_plateau": "msd", "hop_rate": "hops", "hop_length": "hops", "p_hop_max": "hops",
    "path_tortuosity": "hops", "net_displacement": "hops", "n_NaNa": "structure",
    "nana_contact_fraction": "structure", "n_NaC": "structure", "cluster_size": "structure",
    "d_NaNa_min": "structure", "d_NaC_min": "structure", "carbon_density": "structure",
    "sp2_fraction": "structure", "pore_radius": "voids", "pore_volume": "voids",
    "wall_distance": "voids", "pore_throats": "voids", "pores_visited": "voids",
    "voronoi_volume": "voids", "local_tortuosity": "tortuosity",
    "shell_reachable": "tortuosity",
}

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1180px;margin:auto;padding:1em 1.5em;
color:#222;line-height:1.45}
h1{margin-bottom:0.2em}h2{border-bottom:1px solid #ddd;padding-bottom:0.2em;margin-top:1.6em}
.summary{background:#f6f8fa;border-left:4px solid #2c7be5;padding:0.6em 1.2em}
.summary h3{margin:0.6em 0 0.2em}.summary ul{margin:0.2em 0}
.cannot{border-left-color:#d9822b}
.tblwrap{overflow-x:auto;max-width:100%;margin:0.5em 0}
.tbl{border-collapse:collapse;font-size:88%}
.tbl td,.tbl th{padding:3px 8px;border-bottom:1px solid #eee;text-align:left;
vertical-align:top}
.tbl th{background:#fafafa}.tbl td.num{text-align:right;white-space:nowrap}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:92%;color:#444;margin-top:0.3em}figcaption b{color:#222}
.view3d{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}
.view3d canvas{border:1px solid #ccc;max-width:100%;cursor:grab}
.controls label{display:block}.legend{margin-top:0.5em}
.key{display:inline-block;margin-right:0.8em}
.key i{display:inline-block;width:1.4em;height:0.35em;margin-right:0.3em;
vertical-align:middle}
.hint,.skipped{color:#666;font-size:90%}
dl.glossary dt{font-weight:600;margin-top:0.5em}dl.glossary dd{margin-left:1.2em}
"""


def _esc(v: Any) -> str:
    return html.escape(str(v))


def _num(v: Any, fmt: str = "{:.3g}") -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return _esc(v)
    return "–" if not np.isfinite(f) else fmt.format(f)


def _header(col: str) -> str:
    u = unit(col)
    return f"{col} ({u})" if u else col


def _table_html(df: pd.DataFrame, floatfmt: str = "{:.3g}", table_id: str = "") -> str:
    """A table in a horizontally scrolling box (wide tables never overflow the page)."""
    head = "".join(f"<th>{_esc(c)}</th>" for c in df.columns)
    rows = []
    for rec in df.itertuples(index=False):
        cells = []
        for v in rec:
            if isinstance(v, float | np.floating):
                cells.append(f"<td class='num'>{_num(v, floatfmt)}</td>")
            else:
                cells.append(f"<td>{_esc(v)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    ident = f" id='{table_id}'" if table_id else ""
    return (f"<div class='tblwrap'{ident}><table class='tbl'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def mode_table(modes, table: pd.DataFrame) -> pd.DataFrame:
    """The modes as columns and the descriptors as rows: share of rows, the naming evidence,
    then the median of each clustering descriptor over the mode's rows in the descriptor's
    own unit (not the transformed values the mixture was fitted on). As tall as there are
    descriptors and as wide as there are modes, so it fits the page."""
    feats = [c for c in getattr(modes, "features_", []) if c in table]
    labels = np.asarray(modes.labels_)
    cols = {}
    for k in range(modes.n_modes_):
        rows = table.loc[labels == k, feats] if len(labels) == len(table) else table.iloc[:0]
        values = {"share of rows (%)": f"{100 * float(modes.fractions_[k]):.1f}",
                  "naming evidence": str(modes.naming_rules_[k])}
        for c in feats:
            values[f"median {_header(c)}"] = _num(rows[c].median() if len(rows) else np.nan)
        cols[f"mode {k}: {modes.mode_names_[k]}"] = values
    out = pd.DataFrame(cols)
    out.insert(0, "quantity (unit)", out.index)
    return out.reset_index(drop=True)


def _stability(modes) -> float | None:
    st = (getattr(modes, "selection_", None) or {}).get("stability")
    return float(st["mean"]) if st else None


def summary(inp: ReportInputs) -> tuple[list[str], list[str]]:
    """What this run can and cannot say, in sentences built from the results' evidence:
    (can, cannot)."""
    can: list[str] = []
    cannot: list[str] = []
    t = inp.table
    per = inp.metadata.get("per_trajectory") or []
    m0 = per[0] if per else {}
    n_traj = int(t["trajectory"].nunique()) if "trajectory" in t else 1
    if m0:
        dt = float(m0.get("dt_ps", np.nan))
        n_frames = int(m0.get("n_frames", 0))
        win = m0.get("window_frames")
        can.append(
            f"Data: {n_traj} trajectory(ies); {m0.get('n_ions')} {m0.get('species', 'ions')} "
            f"ions over {n_frames} frames ({_num(n_frames * dt)} ps at {_num(dt)} ps per "
            f"frame), cut into {m0.get('n_windows')} windows of {win} frames "
            f"({_num((win or 0) * dt)} ps): {len(t)} (ion, window) rows.")
    # diffusion
    msd = [m.get("msd", {}) for m in per if m.get("msd")]
    if "D" in t and np.isfinite(t["D"].to_numpy(dtype=float)).any():
        d = t["D"].to_numpy(dtype=float)
        rng = "; ".join(f"{_num(m['fit_ps'][0])}–{_num(m['fit_ps'][1])} ps" for m in msd
                        if m.get("found"))
        can.append(f"Diffusion: mean D = {_num(np.nanmean(d))} Å²/ps "
                   f"({_num(np.nanmean(d) * 1e-4)} cm²/s), fitted where the MSD is linear "
                   f"(local log-log slope 1 ± 0.1; {rng}); {int(np.isfinite(d).sum())} of "
                   f"{len(d)} rows have a D.")
    elif msd:
        reason = "; ".join(sorted({str(m.get("reason", "")) for m in msd if m.get("reason")}))
        cannot.append("A diffusion coefficient: the MSD never becomes linear on these time "
                      f"scales ({reason or 'no diffusive range'}), so D would be an "
                      "extrapolation; longer runs are needed.")
    if "msd_lag" in t and np.isfinite(t["msd_lag"].to_numpy(dtype=float)).any():
        q = np.nanpercentile(t["msd_lag"].to_numpy(dtype=float), [25, 50, 75])
        lags = sorted({round(float(m["mobility_lag_ps"]), 4) for m in msd
                       if "mobility_lag_ps" in m})
        at = f" at {', '.join(_num(v) for v in lags)} ps" if lags else ""
        a = (f"; median anomalous exponent α = {_num(np.nanmedian(t['alpha']))}"
             if "alpha" in t else "")
        can.append(f"Mobility: MSD{at} has median {_num(q[1])} Å² (interquartile "
                   f"{_num(q[0])}–{_num(q[2])} Å²) over the rows{a} (α = 1 is diffusive, "
                   "below 1 sub-diffusive).")
    # hops
    if "hop_rate" in t and "ion" in t:
        keys = ["trajectory", "ion"] if "trajectory" in t else ["ion"]
        per_ion = t.groupby(keys)["hop_rate"].max()
        n_events = sum(int(str(m.get("reports", {}).get("hops", "0")).split()[0])
                       for m in per if str(m.get("reports", {}).get("hops", "x")).split()[0]
                       .isdigit())
        can.append(f"Hops: {int((per_ion > 0).sum())} of {len(per_ion)} ions make at least "
                   f"one cage-to-cage jump ({n_events} hop events; median hop rate "
                   f"{_num(t['hop_rate'].median())} 1/ps over the rows).")
    # modes
    mf = inp.modes
    if mf is not None:
        st = _stability(mf)
        st_text = (f"stability ARI {st:.2f}, where 1 means reseeded and bootstrapped fits "
                   "give the same modes" if st is not None else "no stability test")
        if mf.n_modes_ > 1:
            parts = ", ".join(f"{mf.mode_names_[k]} {100 * mf.fractions_[k]:.0f} %"
                              for k in range(mf.n_modes_))
            can.append(f"Modes: the rows form {mf.n_modes_} diffusion modes that beat a "
                       f"column-permuted null and are stable ({st_text}): {parts}. A name "
                       "holds only where its physical criteria pass (table below).")
            unnamed = [k for k in range(mf.n_modes_) if mf.mode_names_[k] == "unassigned"]
            if unnamed:
                cannot.append(f"A physical name for mode(s) {', '.join(map(str, unnamed))}: "
                              "no name's criteria all pass on their rows.")
        else:
            cannot.append(f"Distinct diffusion modes: {mf.status_} — the rows are one "
                          f"population at this resolution ({mf.verdict()}).")
    # importance
    imp = inp.importance
    if imp is not None:
        lo, hi = imp.r2_ci
        if imp.has_skill:
            top = ", ".join(str(r.feature) for r in imp.ranking.head(3).itertuples())
            can.append(f"Structure → mobility: the {imp.params.get('features', 'structural')} "
                       f"descriptors predict {imp.target} on held-out "
                       f"{imp.groups or 'groups'} with R² = {imp.r2:.2f} (95 % interval "
                       f"{lo:.2f}–{hi:.2f}); most important: {top}.")
        else:
            cannot.append(f"Which structure controls mobility: held-out R² = {imp.r2:.2f} "
                          f"(95 % interval {lo:.2f}–{hi:.2f}) is not above 0, so no "
                          "descriptor is ranked.")
    # ensemble
    c = inp.correlation
    if c is not None and len(c.cells()):
        can.append(f"Across {c.n} runs: {len(c.cells())} correlation(s) with the processing "
                   f"variables pass Benjamini–Hochberg q ≤ {c.alpha:g} (table below).")
    elif c is not None:
        cannot.append(f"A dependence on the processing variables: no correlation over the "
                      f"{c.n} runs passes q ≤ {c.alpha:g}.")
    elif n_traj < 5:
        cannot.append(f"How modes and mobility change with density, loading or temperature: "
                      f"that needs at least 5 runs with metadata (this analysis has {n_traj}).")
    # pores
    for m in per[:1]:
        rep = m.get("reports", {})
        if rep.get("voids"):
            can.append(f"Pores: {rep['voids']}" + (f"; {rep['tortuosity']}" if
                                                  rep.get("tortuosity") else "") + ".")
    for note in inp.metadata.get("notes") or []:
        cannot.append(str(note))
    return can, cannot


def glossary(columns: list[str]) -> str:
    """Definitions and units of the descriptors present in ``columns``, grouped by family,
    each family with its method and references."""
    from hcanalysis.columns import BY_NAME

    titles = {"msd": "MSD and diffusion", "hops": "Hops", "structure": "Coordination, "
              "clusters and carbon", "voids": "Pores and voids", "tortuosity": "Tortuosity"}
    out = []
    for fam, ftitle in titles.items():
        items = []
        for name in columns:
            col = BY_NAME.get(name)
            if col is None or col.kind == "id" or _FAMILY.get(name) != fam:
                continue
            items.append(f"<dt id='g-{_esc(name)}'>{_esc(name)} "
                         f"({_esc(col.unit) if col.unit else 'dimensionless'})</dt>"
                         f"<dd>{_esc(col.description)}.</dd>")
        if items:
            out.append(f"<h3>{_esc(ftitle)}</h3><p class='hint'>Method: "
                       f"{_esc(REFERENCES[fam])}.</p><dl class='glossary'>{''.join(items)}"
                       "</dl>")
    return "".join(out)


def _figure_html(name: str, png: Path) -> str:
    title = FIGURES[name][0]
    b64 = base64.b64encode(png.read_bytes()).decode()
    return (f"<figure id='fig-{name}'><img alt='{_esc(title)}' "
            f"src='data:image/png;base64,{b64}'><figcaption><b>{_esc(title)}.</b> "
            f"{_esc(CAPTIONS.get(name, ''))}</figcaption></figure>")


def write_report(inp: ReportInputs, outdir: str | os.PathLike, title: str = "hcanalysis") -> Path:
    """Write the PNGs and ``report.html`` into ``outdir``: a summary of what the run can and
    cannot say, a 3D view of the cell (when ``inp.cell`` is given), sections with captions,
    the tables (units in every header, scrolling when wide), a glossary of the descriptors
    and the run's details. One file: figures, data and the viewer's script are inlined."""
    from hcanalysis.report_view3d import view_html

    out = Path(outdir)
    figs = make_figures(inp, out)
    can, cannot = summary(inp)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_esc(title)}</h1>",
        "<section id='summary'><h2>Summary: what this run can and cannot say</h2>",
        "<div class='summary'><h3>Supported by this data</h3><ul>"
        + "".join(f"<li>{_esc(x)}</li>" for x in can) + "</ul></div>",
    ]
    if cannot:
        parts.append("<div class='summary cannot'><h3>Not supported by this data</h3><ul>"
                     + "".join(f"<li>{_esc(x)}</li>" for x in cannot) + "</ul></div>")
    parts.append("</section>")
    if inp.cell is not None:
        parts.append(
            "<section id='cell'><h2>The cell</h2><p>Framework atoms (grey), pores as circles "
            "of their inscribed radius (blue), and the paths of a sample of ions coloured by "
            "the mode of each (ion, window). Look for where the modes sit: paths confined to "
            "one pore, paths threading between pores, paths in crowded regions.</p>"
            + view_html(inp.cell) + "</section>")
    if inp.system:
        rows = pd.DataFrame({"quantity": list(map(str, inp.system)),
                             "value": list(map(str, inp.system.values()))})
        parts.append("<section><h2>System</h2>" + _table_html(rows, table_id="system")
                     + "</section>")
    if inp.modes is not None:
        parts.append(
            f"<section><h2>Diffusion modes</h2><p>{_esc(inp.modes.verdict())}</p>"
            "<p>Each column is a mode; rows are its share of the (ion, window) rows, the "
            "evidence for its name (the mode's median values against absolute thresholds, "
            "docs/modes.md: a name holds only when all its criteria pass) and the median of "
            "each descriptor the modes were found from, over the mode's rows, in the "
            "descriptor's unit. A stability (adjusted "
            "Rand index) near 1 means reseeded and bootstrapped fits give the same modes; "
            "below the minimum printed above, the split is not trusted and one mode is "
            "reported.</p>" + _table_html(mode_table(inp.modes, inp.table), table_id="modes")
            + "</section>")
    if inp.importance is not None:
        imp = inp.importance
        text = "<br>".join(_esc(line) for line in imp.lines())
        body = (_table_html(imp.ranking.drop(columns=["members"], errors="ignore")
                            .rename(columns={"importance": "importance (drop in R²)",
                                             "ci_low": "95 % low", "ci_high": "95 % high"}))
                if imp.has_skill else
                "<p>No ranking: the held-out R² interval is not above 0.</p>")
        parts.append(f"<section><h2>What predicts mobility (table)</h2><p>{_esc(imp.model)}: "
                     f"{text}</p><div id='importance'>{body}</div></section>")
    if inp.correlation is not None:
        c = inp.correlation
        text = "<br>".join(_esc(line) for line in c.lines())
        parts.append(f"<section><h2>Correlation with processing variables</h2><p>{text}</p>"
                     f"{_table_html(c.cells(), table_id='correlation')}</section>")
    for sec_id, sec_title, names, question in SECTIONS:
        shown = [n for n in names if n in figs]
        if shown:
            parts.append(f"<section id='{sec_id}'><h2>{_esc(sec_title)}</h2>"
                         f"<p>{_esc(question)}</p>"
                         + "".join(_figure_html(n, figs[n]) for n in shown) + "</section>")
    skipped = [FIGURES[n][0] for n in FIGURES if n not in figs]
    if skipped:
        parts.append("<p class='skipped'>Not drawn (no input for them in this run): "
                     + _esc(", ".join(skipped)) + "</p>")
    parts.append("<section id='glossary'><h2>Glossary of descriptors</h2>"
                 + glossary(list(inp.table.columns)) + "</section>")
    meta = {k: v for k, v in inp.metadata.items() if not isinstance(v, dict | list)}
    if meta:
        rows = pd.DataFrame({"item": list(map(str, meta)), "value": list(map(str, meta.values()))})
        parts.append("<section><h2>Run</h2>" + _table_html(rows, table_id="run") + "</section>")
    parts.append("</body></html>")
    path = out / "report.html"
    with atomic_output(path) as tmp:
        tmp.write_text("\n".join(parts), encoding="utf-8")
    return path
