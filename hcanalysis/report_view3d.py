"""The report's 3D view of the cell: framework atoms, pores drawn as spheres of their radius,
and ion paths coloured by the diffusion mode of each (ion, window).

Self-contained: the data are inlined as JSON and drawn by a small hand-written canvas
renderer (orthographic projection, drag to rotate, wheel to zoom), so the report needs no
network and no plotting library in the browser.
"""

from __future__ import annotations

import html
import json
from typing import Any

import numpy as np
import pandas as pd

#: Caps that keep the inlined data small (a few hundred kB at most).
MAX_FRAMEWORK_ATOMS = 4000
MAX_PATH_IONS = 48
MAX_PATH_POINTS = 240
MAX_PORES = 300


def cell_data(traj, table: pd.DataFrame, *, ions: str, framework: str,
              frames: np.ndarray | None = None, pores: pd.DataFrame | None = None,
              colours: dict[str, str] | None = None, trajectory: int = 0) -> dict[str, Any]:
    """Collect what the 3D view draws from one trajectory.

    Parameters
    ----------
    traj : Trajectory
    table : DataFrame
        Descriptor rows with ``trajectory``, ``ion``, ``t_start_ps``, ``t_stop_ps`` and, when
        modes were found, ``mode_name``.
    ions, framework : str
        Species of the mobile ions and of the framework.
    frames : array of int, optional
        The analysed frames (default all).
    pores : DataFrame, optional
        ``centre_x/y/z`` (Å) and ``radius`` (Å) per pore (:attr:`VoidMap.pores`).
    colours : dict, optional
        Mode name -> CSS colour.

    Returns
    -------
    dict
        ``box`` (3 x 3, Å, rows = cell vectors), ``atoms`` (flat x, y, z of up to
        :data:`MAX_FRAMEWORK_ATOMS` framework atoms), ``pores`` ([x, y, z, r] rows), ``paths``
        (per ion: flat x, y, z of its unwrapped path, shifted so it starts in the cell),
        ``path_mode`` (per ion: mode index per path point, -1 outside every window) and
        ``modes`` ([name, colour]).
    """
    frames = np.arange(traj.n_frames) if frames is None else np.asarray(frames)
    box = np.asarray(traj.box(int(frames[0])), dtype=float)
    out: dict[str, Any] = {"box": np.round(box, 3).tolist(), "atoms": [], "pores": [],
                           "paths": [], "path_mode": [], "modes": []}
    species = set(map(str, traj.species))
    if framework in species:
        fw = traj.positions(framework, frames=[int(frames[0])])[0]
        if len(fw) > MAX_FRAMEWORK_ATOMS:
            fw = fw[np.linspace(0, len(fw) - 1, MAX_FRAMEWORK_ATOMS).astype(int)]
        out["atoms"] = np.round(fw, 2).ravel().tolist()
    if pores is not None and len(pores):
        p = pores.sort_values("volume" if "volume" in pores else "radius",
                              ascending=False).head(MAX_PORES)
        out["pores"] = np.round(p[["centre_x", "centre_y", "centre_z", "radius"]]
                                .to_numpy(dtype=float), 2).tolist()
    if ions not in species:
        return out
    n_ions = len(traj.indices(ions))
    pick = np.unique(np.linspace(0, n_ions - 1, min(n_ions, MAX_PATH_IONS)).astype(int))
    step = max(1, int(np.ceil(len(frames) / MAX_PATH_POINTS)))
    shown = frames[::step]
    sel = traj.indices(ions)[pick]
    path = traj.positions(sel, unwrap=True, frames=shown)  # (n_points, n_pick, 3)
    shift = np.floor(path[0] @ np.linalg.inv(box))  # the cell image each path starts in
    path = path - (shift @ box)[None]
    times = traj.time_ps[shown]
    names = (list(pd.unique(table["mode_name"])) if "mode_name" in table else [])
    colours = colours or {}
    out["modes"] = [[str(n), colours.get(str(n), f"hsl({(47 * k) % 360},70%,45%)")]
                    for k, n in enumerate(names)]
    index = {n: k for k, n in enumerate(names)}
    rows = table[table["trajectory"] == trajectory] if "trajectory" in table else table
    for j, ion in enumerate(pick):
        out["paths"].append(np.round(path[:, j], 2).ravel().tolist())
        mode = np.full(len(shown), -1, dtype=int)
        if names:
            for r in rows[rows["ion"] == ion].itertuples():
                inside = (times >= r.t_start_ps) & (times <= r.t_stop_ps)
                mode[inside] = index[r.mode_name]
        out["path_mode"].append(mode.tolist())
    return out


_JS = r"""
(function () {
  const D = JSON.parse(document.getElementById('cell-data').textContent);
  const cv = document.getElementById('cell-view');
  const g = cv.getContext('2d');
  const H = D.box;
  const C = [0, 1, 2].map(k => (H[0][k] + H[1][k] + H[2][k]) / 2);
  const corners = [];
  for (let i = 0; i < 8; i++) {
    const a = i & 1, b = (i >> 1) & 1, c = (i >> 2) & 1;
    corners.push([0, 1, 2].map(k => a * H[0][k] + b * H[1][k] + c * H[2][k]));
  }
  const edges = [];
  for (let i = 0; i < 8; i++) for (let k = 0; k < 3; k++) {
    const j = i | (1 << k); if (j !== i) edges.push([i, j]);
  }
  const span = Math.max(...corners.map(p => Math.hypot(p[0] - C[0], p[1] - C[1], p[2] - C[2])));
  let yaw = 0.65, pitch = 0.45, zoom = 1.0, drag = null;
  function project(x, y, z) {
    x -= C[0]; y -= C[1]; z -= C[2];
    const cy = Math.cos(yaw), sy = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
    const x1 = x * cy - y * sy, y1 = x * sy + y * cy;
    const y2 = y1 * cp - z * sp, z2 = y1 * sp + z * cp;
    const s = zoom * 0.46 * Math.min(cv.width, cv.height) / span;
    return [cv.width / 2 + s * x1, cv.height / 2 - s * z2, y2, s];
  }
  function draw() {
    g.fillStyle = '#ffffff'; g.fillRect(0, 0, cv.width, cv.height);
    g.strokeStyle = '#333'; g.lineWidth = 1;
    for (const [i, j] of edges) {
      const a = project(...corners[i]), b = project(...corners[j]);
      g.beginPath(); g.moveTo(a[0], a[1]); g.lineTo(b[0], b[1]); g.stroke();
    }
    const show = id => { const e = document.getElementById(id); return !e || e.checked; };
    if (show('cv-atoms')) {
      g.fillStyle = 'rgba(90,90,90,0.55)';
      for (let i = 0; i < D.atoms.length; i += 3) {
        const p = project(D.atoms[i], D.atoms[i + 1], D.atoms[i + 2]);
        g.fillRect(p[0] - 1.2, p[1] - 1.2, 2.4, 2.4);
      }
    }
    if (show('cv-pores')) {
      const pp = D.pores.map(q => [project(q[0], q[1], q[2]), q[3]]);
      pp.sort((a, b) => a[0][2] - b[0][2]);
      for (const [p, r] of pp) {
        g.beginPath(); g.arc(p[0], p[1], Math.max(1, r * p[3]), 0, 2 * Math.PI);
        g.fillStyle = 'rgba(23,160,200,0.16)'; g.fill();
        g.strokeStyle = 'rgba(23,130,170,0.55)'; g.stroke();
      }
    }
    let segments = 0;
    if (show('cv-paths')) {
      g.lineWidth = 1.6;
      D.paths.forEach((xs, n) => {
        const m = D.path_mode[n];
        let prev = project(xs[0], xs[1], xs[2]);
        for (let i = 3; i < xs.length; i += 3) {
          const p = project(xs[i], xs[i + 1], xs[i + 2]);
          const k = m[i / 3];
          g.strokeStyle = k >= 0 && D.modes[k] ? D.modes[k][1] : '#999';
          g.beginPath(); g.moveTo(prev[0], prev[1]); g.lineTo(p[0], p[1]); g.stroke();
          prev = p; segments++;
        }
      });
    }
    cv.setAttribute('data-drawn', String(segments));
  }
  cv.addEventListener('mousedown', e => { drag = [e.clientX, e.clientY, yaw, pitch]; });
  window.addEventListener('mouseup', () => { drag = null; });
  window.addEventListener('mousemove', e => {
    if (!drag) return;
    yaw = drag[2] + (e.clientX - drag[0]) * 0.01;
    pitch = Math.max(-1.5, Math.min(1.5, drag[3] + (e.clientY - drag[1]) * 0.01));
    draw();
  });
  cv.addEventListener('wheel', e => {
    e.preventDefault(); zoom *= e.deltaY < 0 ? 1.1 : 1 / 1.1; draw();
  }, {passive: false});
  for (const id of ['cv-atoms', 'cv-pores', 'cv-paths']) {
    const e = document.getElementById(id); if (e) e.addEventListener('change', draw);
  }
  draw();
})();
"""


def view_html(data: dict[str, Any]) -> str:
    """The 3D view: a canvas, its legend and toggles, the inlined data and the renderer."""
    n_atoms = len(data["atoms"]) // 3
    legend = "".join(
        f"<span class='key'><i style='background:{html.escape(c)}'></i>"
        f"{html.escape(n)}</span>" for n, c in data["modes"])
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return (
        "<div class='view3d'><canvas id='cell-view' width='760' height='560' "
        "aria-label='3D view of the simulation cell'></canvas>"
        "<div class='controls'>"
        f"<label><input type='checkbox' id='cv-atoms' checked> framework ({n_atoms} atoms)"
        "</label>"
        f"<label><input type='checkbox' id='cv-pores' checked> pores ({len(data['pores'])}, "
        "circles of their inscribed radius)</label>"
        f"<label><input type='checkbox' id='cv-paths' checked> ion paths "
        f"({len(data['paths'])} ions)</label>"
        f"<div class='legend'>paths coloured by mode: {legend}"
        "<span class='key'><i style='background:#999'></i>outside the windows</span></div>"
        "<p class='hint'>Drag to rotate, scroll to zoom.</p></div></div>"
        f"<script type='application/json' id='cell-data'>{payload}</script>"
        f"<script>{_JS}</script>"
    )
