"""The level chain (FE before, inflation, cement, FE after) and its JSON on a coarse phantom."""

from __future__ import annotations

import json

import numpy as np

from kypho.model.serialize import to_json
from kypho.simulate.level import BalloonAxis, end_caps, simulate_level


def test_level_chain_on_a_fractured_box_at_2_mm():
    h = 2.0
    shape = (24, 19, 16)
    body = np.zeros(shape, dtype=bool)
    body[2:22, 2:17, 4:12] = True  # 40 x 30 x 16 mm, i.e. ~8 mm lost from ~24 mm
    density = np.where(body, 90.0, 0.0)
    inf, sup = end_caps(body, h)
    assert inf[:, :, 2:4].sum() == 2 * body[:, :, 4].sum() and not (inf & body).any()
    assert sup[:, :, 12:14].sum() == 2 * body[:, :, 11].sum() and not (sup & body).any()
    zc = 7.5
    balloons = [
        BalloonAxis("left", (7, 12, zc), (7, 5, zc), 3.0, 2.07),
        BalloonAxis("right", (16, 12, zc), (16, 5, zc), 3.0, 2.07),
    ]
    sim = simulate_level("L1", density, body, body, h, balloons, 2, 16, 8.0)
    out = json.loads(json.dumps(to_json(sim)))
    assert out["level"] == "L1"
    pre, post = out["fe_pre"], out["fe_post"]
    assert pre["stiffness_n_per_mm"] > 0 and pre["failure_load_n"] > 0
    assert post["stiffness_n_per_mm"] >= pre["stiffness_n_per_mm"]
    assert set(out["inflation"]["per_balloon"]) == {"left", "right"}
    steps = out["inflation"]["steps"]
    assert steps[-1]["volume_ml"] > steps[0]["volume_ml"]
    assert steps[-1]["heights_mm"]["hm"] > 0
    assert 0 < out["cement"]["fill_fraction"] < 1
    assert out["fe_pre"]["fragility_pipeline_specific"]["female"] in {
        "fragile", "low strength", "normal"}
