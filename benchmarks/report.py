"""The combined ratio table and the MSD scaling plot of ``python -m benchmarks run``.

Ratio table: a benchmark may write a ``"table"`` list of rows ``{case, ours, ours_s, peer,
peer_s, ratio}`` (used as it is); otherwise every number under a key naming a ratio or a
speed-up (or inside a ``ratios`` dict) becomes a row, its peer and case read from the key and
its JSON path, and the two times looked up next to it when the names allow. Ratios are
"peer time / our time" (> 1: hcanalysis faster) unless the key says otherwise.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

_OURS_KEYS = ("hcanalysis_s", "hcanalysis_total", "hcanalysis_cpu", "hcanalysis",
              "numba_cpu", "hcanalysis_analyze_s")
_TIME_DICTS = ("seconds", "times_s", "results", "")


def _num(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _is_ratio_key(key: str) -> bool:
    k = key.lower()
    return "ratio" in k or "speedup" in k or "_over_" in k or "_vs_" in k


def _find_ratios(obj, path: tuple = (), parent_is_ratios: bool = False):
    """(path tuple, key, value, the dict holding it) of every ratio in a JSON tree."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if _num(v) and (parent_is_ratios or _is_ratio_key(str(k))):
                yield path, str(k), float(v), obj
            elif isinstance(v, dict | list):
                yield from _find_ratios(v, (*path, str(k)), "ratio" in str(k).lower())
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _find_ratios(v, (*path, f"[{i}]"), parent_is_ratios)


def _peer_of(key: str) -> tuple[str, str]:
    """(peer, ours) names from a ratio key such as ``speedup_vs_freud`` or
    ``freud_aabb_over_hcanalysis_cpu`` or ``numpy_cumsum_vs_numba_cpu``."""
    k = re.sub(r"^(ratio_|cpu_)", "", key)
    k = re.sub(r"(_ratio)$", "", k)
    m = re.match(r"speedup_vs_(.+)", k)
    if m:
        return m.group(1), "hcanalysis"
    m = re.match(r"speedup_(.+)_vs_(.+)", k)
    if m:
        return m.group(2), m.group(1)
    for sep in ("_over_", "_vs_"):
        if sep in k:
            a, b = k.split(sep, 1)
            return a, b
    return k, "hcanalysis"


def _time(holder: dict, name: str) -> float | None:
    """A time (s) named ``name`` in ``holder`` or its seconds/times dicts."""
    for sub in _TIME_DICTS:
        d = holder.get(sub, {}) if sub else holder
        if not isinstance(d, dict):
            continue
        for cand in (f"{name}_s", name, f"{name}_total_s"):
            if _num(d.get(cand)):
                return float(d[cand])
    return None


def _case_label(path: tuple, holder: dict) -> str:
    label = ".".join(p for p in path if p not in ("ratios", "results", "cases")).replace(".[", "[")
    if "n_ions" in holder and "n_frames" in holder:
        size = f"{holder['n_ions']} ions x {holder['n_frames']} frames"
        label = f"{label} ({size})" if label else size
    return label or "-"


def _row(bench, case, ours, ours_s, peer, peer_s, ratio) -> dict:
    return {"benchmark": bench, "case": case, "ours": ours, "ours_s": ours_s, "peer": peer,
            "peer_s": peer_s, "ratio": ratio}


def _msd(d: dict) -> list[dict]:
    rows = []
    points = [(k, d[k]) for k in ("reference", "B1") if isinstance(d.get(k), dict)]
    for label, r in points:
        case = f"{label} {r['n_ions']} ions x {r['n_frames']} frames"
        for peer in ("mdanalysis", "freud", "tidynamics"):
            if _num(r.get(f"speedup_vs_{peer}")):
                rows.append(_row("msd", case, "per_ion (CPU)", r["hcanalysis_s"], peer,
                                 r.get(f"{peer}_s"), r[f"speedup_vs_{peer}"]))
        if _num(r.get("fft_floor_s")):
            rows.append(_row("msd", case, "per_ion (CPU)", r["hcanalysis_s"],
                             "bare FFT floor", r["fft_floor_s"],
                             r["fft_floor_s"] / r["hcanalysis_s"]))
        if _num(r.get("hcanalysis_cuda_s")):
            rows.append(_row("msd", case, "per_ion (CUDA)", r["hcanalysis_cuda_s"],
                             "per_ion (CPU)", r["hcanalysis_s"], r["speedup_cuda_vs_cpu"]))
    return rows


def _hops(d: dict) -> list[dict]:
    t, case = d.get("times_s", {}), f"{d.get('n_ions')} ions x {d.get('n_frames')} frames"
    rows = []
    for peer, key in (("numpy cumsum", "numpy_cumsum"),
                      ("numpy naive (extrapolated)", "numpy_naive_extrapolated")):
        if _num(t.get(key)) and _num(t.get("numba_cpu")):
            rows.append(_row("hops", f"p_hop {case}", "numba CPU", t["numba_cpu"], peer, t[key],
                             t[key] / t["numba_cpu"]))
    for ours, key in (("numba CPU", "numba_cpu"), ("numba CPU, reused out=", "numba_cpu_reused")):
        if _num(t.get(key)) and _num(t.get("read_floor")):
            rows.append(_row("hops", f"p_hop {case}", ours, t[key], "one read of the positions",
                             t["read_floor"], t["read_floor"] / t[key]))
    if _num(t.get("numba_cuda")):
        rows.append(_row("hops", f"p_hop {case}", "numba CUDA", t["numba_cuda"], "numba CPU",
                         t["numba_cpu"], t["numba_cpu"] / t["numba_cuda"]))
    return rows


def _neighbors(d: dict) -> list[dict]:
    rows = []
    for name, c in d.get("cases", {}).items():
        ms, n = c.get("ms_per_frame", {}), c.get("n_frames", 1)
        ours = "hcanalysis_cpu"
        for peer, v in c.get("ratios", {}).items():
            peer = peer.split("_over_")[0]
            rows.append(_row("neighbors", f"{name} {c.get('n_na')} Na + {c.get('n_c')} C, "
                             f"{n} frames", "neighbor_counts (CPU)",
                             ms.get(ours, 0) * n / 1e3, peer, ms.get(peer, 0) * n / 1e3, v))
        if "hcanalysis_cuda" in ms:
            rows.append(_row("neighbors", name, "neighbor_counts (CUDA)",
                             ms["hcanalysis_cuda"] * n / 1e3, "neighbor_counts (CPU)",
                             ms[ours] * n / 1e3, ms[ours] / ms["hcanalysis_cuda"]))
    return rows


def _voids(d: dict) -> list[dict]:
    s, case = d.get("seconds", {}), f"{d.get('case')} grid {d.get('grid')}"
    be = d.get("backend", "cpu")
    rows = []
    if _num(d.get("ratio_peer_over_hcanalysis")):
        rows.append(_row("voids", case, f"tessellate+psd ({be})", s.get("hcanalysis_total"),
                         "scipy EDT + porespy snow + local thickness",
                         s.get("peer_total_edt_snow_lt"), d["ratio_peer_over_hcanalysis"]))
    if _num(d.get("ratio_lt_porespy_over_hcanalysis")):
        rows.append(_row("voids", case, f"local thickness ({be})", s.get("local_thickness_psd"),
                         "porespy local_thickness", s.get("porespy_local_thickness"),
                         d["ratio_lt_porespy_over_hcanalysis"]))
    return rows


#: tortuosity ratio key -> (our label, our time key, peer label, peer time key(s))
_TORT_KEYS = {
    "skfmm_field_over_ours_dijkstra": ("field, Dijkstra", "field_dijkstra", "skfmm field",
                                       ("field_skfmm",)),
    "skfmm_field_over_ours_fmm": ("field, fast marching", "field_fmm", "skfmm field",
                                  ("field_skfmm",)),
    "skfmm_local_over_ours_local": ("local tau of the ions", "local_tau_ions",
                                    "skfmm per local box (scaled)", ("local_skfmm_scaled",)),
    "scipy_field_over_ours_dijkstra": ("field, Dijkstra", "field_dijkstra", "scipy csgraph field",
                                       ("field_scipy_csgraph",)),
    "scipy_build_plus_field_over_ours": ("field, Dijkstra", "field_dijkstra",
                                         "scipy graph build + field",
                                         ("scipy_graph_build", "field_scipy_csgraph")),
}


def _tortuosity(d: dict) -> list[dict]:
    rows = []
    for c in d.get("cases", []):
        s = c.get("seconds", {})
        case = f"{c.get('case', d.get('case'))} grid {c.get('grid')}"
        be = c.get("backend", "cpu")
        for key, v in c.get("ratios_peer_over_hcanalysis", {}).items():
            if key in _TORT_KEYS:
                ours, ours_key, peer, peer_keys = _TORT_KEYS[key]
                peer_s = sum(s.get(k, float("nan")) for k in peer_keys)
                rows.append(_row("tortuosity", case, f"{ours} ({be})", s.get(ours_key), peer,
                                 peer_s, v))
            else:  # an unknown layout: the ratio alone
                peer, _, ours = key.partition("_over_")
                rows.append(_row("tortuosity", case, f"{ours.replace('_', ' ')} ({be})", None,
                                 peer.replace("_", " "), s.get(peer), v))
        if _num(c.get("b5_total_global_plus_local")) and _num(c.get("b5_target_s")):
            total = c["b5_total_global_plus_local"]
            rows.append(_row("tortuosity", case, f"global + local, B5 ({be})", total,
                             "the issue's target", c["b5_target_s"], c["b5_target_s"] / total))
    return rows


def _h5md(d: dict) -> list[dict]:
    r, rows = d.get("results", {}), []
    ours = {"write": "write_chunks_64x512_s", "read_all": "read_all_chunks_64x512_s",
            "read_ions": "read_ions_scattered_chunks_64x512_s"}
    for op, key in ours.items():
        v = d.get("ratios", {}).get(f"{op}_mdanalysis_over_hcanalysis")
        if _num(v):
            peer_key = f"{op}_mdanalysis_s" if op != "read_ions" else \
                "read_ions_scattered_mdanalysis_s"
            rows.append(_row("h5md", f"{op} {d.get('n_frames')} frames x {d.get('n_atoms')} "
                             "atoms", "H5MD writer/reader", r.get(key), "MDAnalysis H5MD",
                             r.get(peer_key), v))
    return rows


def _io(d: dict) -> list[dict]:
    res, rows = d.get("results", {}), []
    mb = d.get("dump", {}).get("bytes", 0) / 1e6
    for peer in ("mdanalysis", "ase"):
        v = d.get("ratios", {}).get(f"{peer}_over_hcanalysis_time")
        if _num(v):
            rows.append(_row("io", f"read a {mb:.0f} MB LAMMPS dump", "hcanalysis.load",
                             res.get("hcanalysis", {}).get("total_s"), peer,
                             res.get(peer, {}).get("total_s"), v))
    return rows


EXTRACTORS = {"md": lambda d: [], "msd": _msd, "hops": _hops, "neighbors": _neighbors,
              "voids": _voids, "tortuosity": _tortuosity, "h5md": _h5md, "io": _io}


def ratio_rows(bench: str, results: dict) -> list[dict]:
    """Rows ``{benchmark, case, ours, ours_s, peer, peer_s, ratio}`` of one benchmark's result
    files (``{file name: JSON}``): a ``table`` list when the benchmark wrote one, else the
    benchmark's extractor above, else every ratio-named number (generic)."""
    rows: list[dict] = []
    for _fname, data in sorted(results.items()):
        data = {k: v for k, v in data.items() if k != "machine"}
        if isinstance(data.get("table"), list):
            rows += [{"benchmark": bench, **r} for r in data["table"]]
        elif bench in EXTRACTORS:
            rows += EXTRACTORS[bench](data)
        else:
            for path, key, val, holder in _find_ratios(data):
                if "ratio" in key or "speedup" in key:
                    peer, ours = _peer_of(key)
                    rows.append(_row(bench, _case_label(path, holder), ours, None, peer, None,
                                     val))
    return rows


def format_table(rows: list[dict]) -> str:
    """A fixed-width text table of ratio rows."""
    head = ("benchmark", "case", "ours", "ours s", "peer", "peer s", "ratio")

    def fmt_s(v) -> str:
        return "-" if v is None else (f"{v:.3g}" if v < 100 else f"{v:.0f}")

    body = [(r["benchmark"], str(r.get("case", "-")), str(r.get("ours", "hcanalysis")),
             fmt_s(r.get("ours_s")), str(r.get("peer", "-")), fmt_s(r.get("peer_s")),
             f"{r['ratio']:.2f}") for r in rows]
    widths = [min(max(len(x[i]) for x in [head, *body]), 48) for i in range(len(head))]
    line = "  ".join(f"{{:{'>' if i in (3, 5, 6) else '<'}{w}.{w}}}"
                     for i, w in enumerate(widths))
    out = [line.format(*head), line.format(*("-" * w for w in widths))]
    out += [line.format(*b) for b in body]
    return "\n".join(out)


def scaling_plot(msd_json: Path, out_png: Path) -> Path | None:
    """Log-log time vs frames (500 ions) and vs ions (4,000 frames) of the MSD benchmark, ours
    and the peers' lines. Returns the PNG path, or None when the JSON has no scaling series."""
    data = json.loads(Path(msd_json).read_text())
    if "scaling_frames" not in data and "scaling_ions" not in data:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ref = data.get("reference")

    def with_ref(rows: list, fixed: str, x: str) -> list:
        """The series plus the reference point when it lies on it and is not there yet."""
        if ref and all(ref[fixed] == r[fixed] for r in rows) and ref[x] not in {
                r[x] for r in rows}:
            rows = [*rows, ref]
        return sorted(rows, key=lambda r: r[x])

    series = {"frames": with_ref(data.get("scaling_frames", []), "n_ions", "n_frames"),
              "ions": with_ref(data.get("scaling_ions", []), "n_frames", "n_ions")}
    tools = [("hcanalysis_s", "hcanalysis (CPU)", "k", "o-"),
             ("hcanalysis_cuda_s", "hcanalysis (CUDA)", "tab:green", "o-"),
             ("mdanalysis_s", "MDAnalysis EinsteinMSD fft", "tab:blue", "s--"),
             ("freud_s", "freud MSD window", "tab:orange", "^--"),
             ("tidynamics_s", "tidynamics", "tab:purple", "v--"),
             ("fft_floor_s", "FFT floor (bare rFFT+irFFT)", "0.6", ":")]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    for ax, (axis, rows) in zip(axes, series.items(), strict=True):
        xkey = "n_frames" if axis == "frames" else "n_ions"
        fixed = ("ions", rows[0]["n_ions"]) if axis == "frames" and rows else (
            ("frames", rows[0]["n_frames"]) if rows else ("", ""))
        for key, label, colour, style in tools:
            pts = [(r[xkey], r[key]) for r in rows if _num(r.get(key))]
            if pts:
                x, y = zip(*pts, strict=True)
                ax.loglog(x, y, style, color=colour, label=label, lw=2 if "hcan" in key else 1)
        ax.set_xlabel("frames" if axis == "frames" else "ions")
        ax.set_ylabel("wall time (s)")
        ax.set_title(f"per-ion MSD, time vs {axis} ({fixed[1]} {fixed[0]})")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    m = data.get("machine", {})
    load = m.get("load_average") or [float("nan")]
    fig.suptitle(f"B1 MSD scaling — {m.get('cpu', '?')}, {m.get('cores', '?')} cores, load "
                 f"{load[0]:.1f}" + (" (quick)" if data.get("quick") else ""), fontsize=10)
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png
