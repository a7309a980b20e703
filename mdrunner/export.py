"""Export a window of an mdrunner trajectory through hcanalysis' own H5MD writer.

Used to cut the bundled sample out of a longer run (dropping the equilibration): the frames
are written with :func:`hcanalysis.write_h5md` (the project's canonical layout) and the
run's observables (energies, temperature) and metadata are copied next to them.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np


def export_window(src, dst, *, start_step: int = 0, stop_step: int | None = None,
                  every_step: int | None = None, extra_metadata: dict | None = None,
                  overwrite: bool = False, dtype=np.float32,
                  static_framework: bool = False) -> Path:
    """Write frames with ``start_step <= step <= stop_step`` (and ``step % every_step == 0``)
    of the mdrunner file ``src`` to ``dst``.

    Times stay those of the run (ps since the start of the MD). With ``static_framework``
    (a rigid-framework run) the framework atoms (every species but the mobile ions) are
    stored once, at full precision, in ``/particles/framework``
    (:func:`hcanalysis.io.h5md.write_static_framework`) and only the ions in every frame;
    :func:`hcanalysis.load` joins them again. It is an error if a framework atom moves or the
    box changes within the window. Returns ``dst``.
    """
    from hcanalysis import Trajectory, write_h5md

    src, dst = Path(src), Path(dst)
    with h5py.File(src, "r") as f:
        g = f["particles/all"]
        steps = g["position/step"][()]
        keep = steps >= start_step
        if stop_step is not None:
            keep &= steps <= stop_step
        if every_step:
            keep &= steps % every_step == 0
        idx = np.flatnonzero(keep)
        if idx.size == 0:
            raise ValueError(f"{src}: no frames between steps {start_step} and {stop_step}")
        species = [s.decode() if isinstance(s, bytes) else str(s)
                   for s in (g["element"][()] if "element" in g else g["species"][()])]
        pos = g["position/value"][idx].astype(np.float64)
        img = g["image/value"][idx]
        vel = g["velocity/value"][idx].astype(np.float64)
        boxes = g["box/edges/value"][idx]
        time = g["position/time"][idx]
        obs = {}
        for name in f["observables"]:
            o = f["observables"][name]
            ostep = o["step"][()]
            sel = np.isin(ostep, steps[idx])
            if sel.any():
                obs[name] = (o["value"][()][sel], ostep[sel], o["time"][()][sel],
                             dict(o["value"].attrs))
        meta = json.loads(f["parameters/mdrunner"].attrs.get("json", "{}"))
    fw = None
    if static_framework:
        from mdrunner.lammps_engine import MOBILE_SPECIES

        is_fw = ~np.isin(species, MOBILE_SPECIES)
        moved = np.abs(pos[:, is_fw] - pos[:1, is_fw]).max() if is_fw.any() else 0.0
        if moved > 0 or np.any(img[:, is_fw]) or np.ptp(boxes, axis=0).max() > 0:
            raise ValueError(f"{src}: the framework moves ({moved:.3g} Å) or the box changes "
                             "in the window: static_framework is for rigid-framework runs")
        fw = ([s for s, k in zip(species, is_fw, strict=True) if k], pos[0, is_fw],
              boxes[0])
        keep_atoms = ~is_fw
        species = [s for s, k in zip(species, keep_atoms, strict=True) if k]
        pos, img, vel = pos[:, keep_atoms], img[:, keep_atoms], vel[:, keep_atoms]
    traj = Trajectory.from_arrays(pos, boxes, species, time, images=img, velocities=vel)
    write_h5md(traj, dst, overwrite=overwrite, dtype=dtype)
    if fw is not None:
        from hcanalysis.io.h5md import write_static_framework

        write_static_framework(dst, *fw)
    meta.update(extra_metadata or {})
    meta["export"] = dict(source=src.name, start_step=int(steps[idx[0]]),
                          stop_step=int(steps[idx[-1]]), n_frames=int(idx.size),
                          static_framework=bool(static_framework))
    with h5py.File(dst, "a") as f:
        og = f.require_group("observables")
        for name, (val, st, tm, attrs) in obs.items():
            e = og.create_group(name)
            v = e.create_dataset("value", data=val)
            for k, a in attrs.items():
                v.attrs[k] = a
            e.create_dataset("step", data=st)
            t = e.create_dataset("time", data=tm)
            t.attrs["unit"] = "ps"
        pg = f.require_group("parameters").require_group("mdrunner")
        pg.attrs["json"] = json.dumps(meta, default=str)
    return dst
