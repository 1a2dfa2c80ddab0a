"""Morphometry benchmark: heights, grades, morphotypes, density and Cobb vs phantom truth.

Run: ``.venv/bin/python benchmarks/morphometry.py [--quick]`` from the repository root.
Uses the truth label maps (segmentation-independent) and, when kypho.anatomy.segment is
available, the built-in segmentation too. Prints per case and overall; real cases from
../shared/data are measured and printed (no height truth exists for them).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from measure_helpers import segmentation_from_labels  # noqa: E402

from kypho.measure.spine import measure_spine  # noqa: E402
from kypho.phantom import generate  # noqa: E402
from kypho.phantom.suite import suite_configs  # noqa: E402


def _segmenters():
    yield "truth", lambda ph: segmentation_from_labels(ph.vertebrae, ph.bodies)
    try:
        from kypho.anatomy.segment import segment_spine
    except ImportError:
        return
    yield "builtin", lambda ph: segment_spine(ph.volume)


def main(quick: bool = False) -> None:
    cases = suite_configs("benchmark")
    if quick:
        cases = cases[:3]
    rows: dict[str, list] = {}
    for name, cfg in cases:
        t0 = time.perf_counter()
        ph = generate(cfg)
        t_gen = time.perf_counter() - t0
        truth = {v.level: v for v in ph.truth.vertebrae}
        for method, segment in _segmenters():
            try:
                seg = segment(ph)
                t0 = time.perf_counter()
                spine = measure_spine(ph.volume, seg)
                t_meas = time.perf_counter() - t0
            except Exception as exc:  # a benchmark reports failures, it does not stop
                print(f"{name:28s} {method:8s} FAILED: {exc}")
                continue
            err, grade_ok, tp, fn, tn, fp, morph_ok, n_frac, hu_err = [], 0, 0, 0, 0, 0, 0, 0, []
            n = 0
            for v in spine.vertebrae:
                t = truth.get(v.level)
                if t is None or not v.measurable:
                    continue
                n += 1
                err.extend(np.abs(v.heights_mm.as_array() - t.heights_mm.as_array()))
                grade_ok += int(v.genant_grade == t.genant_grade)
                fr_t, fr_m = t.genant_grade >= 1, v.genant_grade >= 1
                tp += fr_t and fr_m
                fn += fr_t and not fr_m
                tn += (not fr_t) and not fr_m
                fp += (not fr_t) and fr_m
                if fr_t:
                    n_frac += 1
                    morph_ok += int(v.morphotype == t.morphotype)
                if v.trabecular_hu_mean is not None:
                    hu_err.append(abs(v.trabecular_hu_mean - t.trabecular_hu))
            cobb = (
                abs(spine.cobb_deg - ph.truth.cobb_thoracic_deg)
                if spine.cobb_deg is not None and spine.cobb_levels == ("T4", "T12")
                else float("nan")
            )
            mae = float(np.mean(err)) if err else np.nan
            hue = float(np.mean(hu_err)) if hu_err else np.nan
            row = [mae, grade_ok, n, tp, fn, tn, fp, morph_ok, n_frac, hue, cobb]
            rows.setdefault(method, []).append(row)
            sp = "x".join(f"{s:g}" for s in cfg.spacing_mm)
            print(
                f"{name:28s} {method:8s} {sp:12s} n={n:2d} MAE={row[0]:.2f} mm "
                f"grade {grade_ok}/{n} sens {tp}/{tp + fn} spec {tn}/{tn + fp} "
                f"morph {morph_ok}/{n_frac} HUerr={row[9]:.1f} Cobb err={cobb:.1f} "
                f"(gen {t_gen:.0f}s, measure {t_meas:.1f}s)",
                flush=True,
            )
    for method, rs in rows.items():
        a = np.array(rs, float)
        tp, fn, tn, fp = a[:, 3].sum(), a[:, 4].sum(), a[:, 5].sum(), a[:, 6].sum()
        print(
            f"OVERALL {method}: height MAE {np.nanmean(a[:, 0]):.2f} mm; grade agreement "
            f"{a[:, 1].sum() / a[:, 2].sum():.1%}; sensitivity {tp / max(tp + fn, 1):.1%}; "
            f"specificity {tn / max(tn + fp, 1):.1%}; morphotype "
            f"{a[:, 7].sum() / max(a[:, 8].sum(), 1):.1%}; trabecular HU error "
            f"{np.nanmean(a[:, 9]):.1f} HU; Cobb error {np.nanmean(a[:, 10]):.1f} deg"
        )


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
