"""The learn stage (modes + stability) against UMAP plus one BIC scan run directly with the
same libraries, on the same table.

Ours: ``hcanalysis.modes.ModeFinder(random_state=0).fit(table)``: features, effective-n BIC
scan, column-permutation null test, stability refits, names, and the UMAP map of every row.

Peer: scikit-learn ``StandardScaler`` on the same descriptor columns, umap-learn ``UMAP``
(``n_neighbors`` 15, ``min_dist`` 0, seeded) and scikit-learn ``GaussianMixture`` fitted for
1..6 components (library defaults: full covariance, one start) with its BIC: what the
original design ran, without null test, stability or names.

Table: a planted trajectory of ``tests/planted_traj.py`` (hopping, clusters, void
wanderers and caged Na in a carbon framework) through ``descriptors.compute`` (msd, hops,
structure: 19 descriptor columns), its ions replicated with 5 % log-normal noise on every
descriptor up to 8,000 rows (``--quick``) and 100,000 rows. At 8,000 rows the labels with
the default selection subsample (``max_fit_rows`` 3,000) are compared with those of a fit
on every row (ARI with each other and with the planted behaviour): the subsampling claim.

    python -m benchmarks.bench_modes [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from benchmarks.common import write_results

ROOT = Path(__file__).resolve().parent.parent
ID = ("trajectory", "ion", "window", "atom_index", "t_start_ps", "t_stop_ps")


def base_table():
    """A planted trajectory's descriptor table and the planted behaviour of each row."""
    sys.path.insert(0, str(ROOT / "tests"))
    from modes_suite import Case, table  # noqa: PLC0415

    return table(Case({"hopping": 40, "cluster": 10, "void": 40, "caged": 80}, 4, 0.15, 31))


def grow(frame, truth, n_rows: int, seed: int = 0):
    """Replicate whole ions (new ion ids) with 5 % log-normal noise until ``n_rows`` rows."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    n_win = int(frame["window"].max()) + 1
    ions = frame["ion"].unique()
    parts, truths = [], []
    rows = 0
    copy = 0
    while rows < n_rows:
        pick = rng.choice(ions, size=min(len(ions), (n_rows - rows) // n_win + 1))
        for i in pick:
            sel = (frame["ion"] == i).to_numpy()
            part = frame[sel].copy()
            for c in part.columns:
                if c not in ID and part[c].dtype.kind == "f":
                    part[c] = part[c] * np.exp(0.05 * rng.normal(size=len(part)))
            part["ion"] = copy
            copy += 1
            parts.append(part)
            truths.append(truth[sel])
            rows += len(part)
    out = pd.concat(parts, ignore_index=True).iloc[:n_rows]
    return out, np.concatenate(truths)[:n_rows]


def peer(frame) -> float:
    """StandardScaler + UMAP + GaussianMixture 1..6 with BIC, seconds."""
    import umap
    from sklearn.mixture import GaussianMixture
    from sklearn.preprocessing import StandardScaler

    cols = [c for c in frame.columns if c not in ID and frame[c].dtype.kind == "f"]
    x = frame[cols].to_numpy(dtype=float)
    x[~np.isfinite(x)] = np.nan
    keep = np.isfinite(x).any(axis=0)  # columns with no value at all (log_D here) dropped
    x = x[:, keep]
    x = np.where(np.isfinite(x), x, np.nanmedian(x, axis=0))
    x = x[:, x.std(axis=0) > 0]
    t0 = time.perf_counter()
    z = StandardScaler().fit_transform(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        umap.UMAP(n_neighbors=15, min_dist=0.0, random_state=0).fit_transform(z)
        for k in range(1, 7):
            GaussianMixture(k, random_state=0).fit(z).bic(z)
    return time.perf_counter() - t0


def ours(frame, **params):
    from hcanalysis.modes import ModeFinder

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mf = ModeFinder(random_state=0, **params).fit(frame)
    return time.perf_counter() - t0, mf


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="8,000 rows only")
    args = ap.parse_args(argv)
    from sklearn.metrics import adjusted_rand_score as ari

    from hcanalysis.modes import import_umap_cached

    import_umap_cached()
    base, truth = base_table()
    rows, extra = [], {}
    sizes = [8000] if args.quick else [8000, 100000]
    # warm-up, not timed, for both sides: imports and the Numba compilation of every UMAP
    # path the timed runs take (NN-descent, which umap-learn uses from 4,096 rows and
    # ModeFinder forces above 1,000; the placement of rows beyond max_embed_rows on the map)
    small, _ = grow(base, truth, 4200)
    t_warm = time.perf_counter()
    ours(small)
    peer(small)
    extra["warm_up_s"] = round(time.perf_counter() - t_warm, 1)
    for n in sizes:
        frame, tr = grow(base, truth, n)
        n_features = sum(1 for c in frame.columns
                         if c not in ID and np.isfinite(frame[c].to_numpy(dtype=float)).any())
        t_ours, mf = ours(frame)
        t_peer = peer(frame)
        rows.append({"case": f"{n:,} rows x {n_features} descriptors", "ours": "ModeFinder.fit",
                     "ours_s": round(t_ours, 2), "peer": "UMAP + GMM BIC scan 1..6",
                     "peer_s": round(t_peer, 2), "ratio": round(t_peer / t_ours, 3)})
        extra[str(n)] = {"n_modes": mf.n_modes_, "status": mf.status_,
                         "ari_vs_planted": round(float(ari(tr, mf.labels_)), 3),
                         "verdict": mf.verdict()}
        print(f"{n:>7,} rows: ours {t_ours:7.1f} s  peer {t_peer:7.1f} s  "
              f"peer/ours {t_peer / t_ours:.2f}  ({mf.verdict()})", flush=True)
        if n == 8000:
            t_all, mf_all = ours(frame, max_fit_rows=n, embed=False)
            extra["subsample_check"] = {
                "rows": n, "ari_subsample_vs_all_rows": round(float(ari(mf.labels_,
                                                                        mf_all.labels_)), 3),
                "ari_all_rows_vs_planted": round(float(ari(tr, mf_all.labels_)), 3),
                "ari_subsample_vs_planted": round(float(ari(tr, mf.labels_)), 3),
                "all_rows_fit_s_without_umap": round(t_all, 2)}
            print(f"  subsample check: {extra['subsample_check']}", flush=True)
    name = "modes_cpu_quick" if args.quick else "modes_cpu"
    path = write_results(name, {"table": rows, "details": extra})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
