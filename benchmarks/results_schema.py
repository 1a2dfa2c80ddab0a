"""Every benchmark-suite case's results.json against the shipped schema, and read back.

Each phantom of ``suite_configs("benchmark")`` (cached as by ``morphometry.py``) is
measured on its true masks and, when fractured, planned; its results document is
validated against ``kypho/model/results.schema.json`` and read back with
``kypho.model`` (byte-exact round trip expected). Run from the repository root::

    .venv/bin/python benchmarks/results_schema.py [CASE ...]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from measure_helpers import segmentation_from_labels  # noqa: E402
from morphometry import load_phantom  # noqa: E402
from schema_check import check_case  # noqa: E402

from kypho.measure.spine import measure_spine  # noqa: E402
from kypho.phantom.suite import suite_configs  # noqa: E402
from kypho.plan.plan import plan_levels  # noqa: E402

CACHE = Path("/tmp/kypho-bench-phantoms")


def main(names: list[str]) -> None:
    t0 = time.perf_counter()
    rows = []
    for name, cfg in suite_configs("benchmark"):
        if names and name not in names:
            continue
        ph, _ = load_phantom(name, cfg, CACHE)
        seg = segmentation_from_labels(ph.vertebrae, ph.bodies)
        spine = measure_spine(ph.volume, seg)
        plan = plan_levels(ph.volume, seg, spine) if spine.fractures else None
        valid, exact, why = check_case(ph.volume, seg, spine, plan)
        rows.append((valid, exact))
        planned = 0 if plan is None else len(plan.levels)
        print(f"{name:30s} {planned} planned  valid {valid}  round trip exact {exact}  {why}",
              flush=True)
    print(f"benchmark suite: {sum(v for v, _ in rows)}/{len(rows)} valid against the schema, "
          f"{sum(e for _, e in rows)}/{len(rows)} read back byte-exact "
          f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
