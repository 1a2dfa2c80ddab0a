"""Ground truth of a case.

Per level in view: grade, morphotype, loss fraction, analytic heights, fraction in the
field of view and body centroid; plus sacrum visibility, rib pairs and spacing.
"""

from __future__ import annotations

import numpy as np

from .rendering import Grid
from .vertebra import Vert, body_heights


def _truth(verts: list[Vert], rend: dict, g: dict, gr: Grid, offset: np.ndarray,
           fov: dict) -> dict:
    """Assemble the ground-truth dictionary (levels cranial to caudal)."""
    levels = []
    for v in reversed(verts):
        frac, cen = rend.get(v.name, (float("nan"), None))
        if not frac or np.isnan(frac) or frac <= 0:
            continue
        levels.append({
            "name": v.name, "label": v.label, "grade": int(v.frac["grade"]),
            "morphotype": str(v.frac["morph"]),
            "loss_fraction": round(float(v.frac["loss"]), 4),
            "heights_mm": [round(h, 3) for h in body_heights(v.p)],
            "expected_heights_mm": [round(h, 3) for h in v.p["expected"]],  # type: ignore
            "fraction_in_fov": round(frac, 4),
            "body_centroid_ras_mm": None if cen is None else
            [round(float(c), 3) for c in cen + offset],
        })
    s = rend.get("S", (0.0, None))[0]
    return {"levels": levels, "sacrum_in_view": bool(s and not np.isnan(s) and s > 0),
            "sacrum_fraction_in_fov": None if not s or np.isnan(s) else round(s, 4),
            "rib_pairs": g["rib_pairs"], "spacing_mm": [gr.dx, gr.dx, gr.dz],
            "notes": (f"independent phantom; fov={fov['kind']}; heights are analytic "
                      "(outer cortex to outer cortex, along the body's mean endplate normal, "
                      "mid-sagittal, 10/50/90 % of AP depth from the anterior cortex); "
                      "fraction_in_fov counts centre samples of the whole vertebra label; "
                      "sacrum (26) is not listed in levels; spacing is canonical x, y, z.")}
