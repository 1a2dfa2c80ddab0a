"""Family phantoms beyond the benchmark suite: does the built-in engine generalise?

Scores the randomised phantom family (:mod:`kypho.phantom.family`: contrast phases,
degenerate/vacuum/calcified discs, osteophytes and DISH, Schmorl's nodes, scoliosis and
kyphosis, 11/13 ribs, L6, sacralised L5, partial fields of view, 0.5-5 mm slices, low-dose
noise, screws and cement, table and arms, all orientations, 0-3 fractures) through the
pipeline as ``kypho analyze`` runs it (segment, measure, grade, plan). Per case and
overall: vertebrae identified (name right, centroid < 20 mm), wrong names and how many at
confidence >= 0.5, body Dice, fracture sensitivity/specificity, "not measurable",
exceptions by type and stage, time; then the same figures per variation.

    .venv/bin/python benchmarks/robustness.py --n 100 --seed 1 --jobs 2 \\
        --out /tmp/family-baseline.json
    .venv/bin/python benchmarks/robustness.py --quick            # 10 cases
    .venv/bin/python benchmarks/robustness.py --n 1 --only contrast=arterial -v
    .venv/bin/python benchmarks/robustness.py --case s1-0007 -v  # one case by name
    .venv/bin/python benchmarks/robustness.py --table /tmp/family-baseline.json

Generated phantoms are cached (pickles) under --cache, keyed by case and generator code.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from family_score import (
    HEADER,
    aggregate,
    analyse_and_score,
    error_record,
    format_row,
    missed_line,
)
from morphometry import load_phantom

from kypho.phantom.family import FamilyCase, draw_case, family_cases, generate_case
from kypho.threads import THREADS_ENV, share_of_cores


def run_case(case: FamilyCase, cache: Path | None) -> dict[str, Any]:
    """Generate (or load) one case, run the pipeline on it, score it; never raises."""
    row: dict[str, Any] = {"name": case.name, "tags": case.tags}
    try:
        ph, row["generate_s"] = load_phantom(case.name, case, cache, lambda: generate_case(case))
    except Exception as exc:  # every failure is counted and reported, never fatal
        row["error"] = error_record("generate", exc)
        return row
    analyse_and_score(ph, row)
    return row


def _line(row: dict[str, Any]) -> str:
    err = ""
    if row.get("error"):
        e = row["error"]
        err = f" EXCEPTION in {e['stage']}: {e['type']}: {e['message'][:120]}"
        if not row.get("score"):
            return f"{row['name']:12s}{err}"
    s = row["score"]
    fr = s["fractures"]
    return (
        f"{row['name']:12s} ident {s['identified']:2d}/{s['n_truth']:2d} "
        f"wrong {len(s['wrong_names'])} (>=.5: {s['wrong_confident']}) "
        f"Dice {s['dice_mean']:.3f} frac tp {fr['tp']} fn "
        f"{fr['fn']} fp {fr['fp']} n.m. {len(s['not_measurable'])} {row['time_s']:.1f} s | "
        + " ".join(f"{k}={v}" for k, v in row["tags"].items() if v not in ("none", "normal"))
        + err
    )


def _parse_only(items: list[str]) -> dict[str, str]:
    out = {}
    for it in items:
        if "=" not in it:
            raise SystemExit(f"--only takes key=value (e.g. contrast=arterial), got {it!r}")
        k, v = it.split("=", 1)
        out[k] = v
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100, help="number of cases")
    ap.add_argument("--seed", type=int, default=1, help="family run seed")
    ap.add_argument("--quick", action="store_true", help="10 cases")
    ap.add_argument("--only", nargs="*", default=[], help="tag filters, e.g. contrast=arterial")
    ap.add_argument("--case", help="one case by name, e.g. s1-0007")
    ap.add_argument("--skip", type=int, default=0, help="start after this many cases")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/kypho-family-cache"))
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("--out", type=Path, help="write per-case rows and aggregates (JSON)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print wrong names, tracebacks")
    ap.add_argument(
        "--table", type=Path, nargs="+", help="only print the tables of saved --out files"
    )
    args = ap.parse_args()
    if args.table:  # several files (a run split with --skip): each case once
        merged: dict[str, dict[str, Any]] = {}
        for path in args.table:
            for row in json.loads(path.read_text())["cases"]:
                merged.setdefault(row["name"], row)
        _print_tables(sorted(merged.values(), key=lambda r: r["name"]))
        return
    if args.case:
        seed, idx = args.case.removeprefix("s").split("-")
        cases = [draw_case(int(seed), int(idx))]
    else:
        n = 10 if args.quick else args.n
        cases = family_cases(args.seed, n + args.skip, _parse_only(args.only))[args.skip :]
    cache = None if args.no_cache else args.cache
    t0 = time.perf_counter()
    rows = []
    # Each worker process gets its share of the cores for kypho's threads.
    os.environ.setdefault(THREADS_ENV, str(share_of_cores(args.jobs)))
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for row in pool.map(run_case, cases, [cache] * len(cases)):
            rows.append(row)
            print(_line(row), flush=True)
            if args.verbose:
                if row.get("error"):
                    print(row["error"]["traceback"])
                if row.get("score"):
                    s = row["score"]
                    print(
                        f"    truth {row['truth_levels']}\n    reported {row['reported_levels']}"
                        f"\n    wrong {s['wrong_names']} missed {s['missed']}"
                        f"\n    grades (level, truth, reported) {s['grades_truth_vs_reported']}"
                        f"\n    not measurable {s['not_measurable']}"
                    )
            if args.out:  # after every case: a long run that is stopped keeps its rows
                _write(args, cache, rows)
    _print_tables(rows)
    print(f"wall time {time.perf_counter() - t0:.0f} s for {len(rows)} cases (jobs {args.jobs})")
    if args.out:
        print(f"per-case results: {args.out}")


def _print_tables(rows: list[dict[str, Any]]) -> None:
    agg = aggregate(rows)
    print("\n" + HEADER)
    print(format_row("OVERALL", agg["overall"]))
    for key, vals in agg["by_variation"].items():
        for v, a in vals.items():
            print(format_row(f"{key}={v}", a))
    print(f"exceptions by type: {agg['exceptions_by_type'] or 'none'}")
    print(missed_line(agg["overall"]))


def _write(args: argparse.Namespace, cache: Path | None, rows: list[dict[str, Any]]) -> None:
    meta = vars(args) | {"cache": str(cache), "out": str(args.out)}
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(
        json.dumps(
            {"args": meta, "aggregate": aggregate(rows), "cases": rows}, indent=1, default=str
        )
    )
    tmp.replace(args.out)


if __name__ == "__main__":
    main()
