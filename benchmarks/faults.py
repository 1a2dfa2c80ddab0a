"""Benchmark: interrupt the output writer 200 times and count partial output folders.

A writer subprocess writes a phantom analysis into a folder that holds an earlier
complete set, exactly as ``kypho analyze`` does, and is hit by SIGINT, SIGTERM or
SIGKILL after a random delay (0 to 1.3x the measured write time), or runs into a full
disk: a small tmpfs when this process may mount one (root), else a file size limit
(RLIMIT_FSIZE). After each, the folder must hold, file for file, the complete previous
set or the complete new one; anything else is a partial folder (target: 0).

Usage::

    .venv/bin/python benchmarks/faults.py [--cases 200] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fault_helpers import (
    interrupt,
    leftovers,
    make_analyses,
    snapshot,
    start_writer,
    write_fully,
)


def _tmpfs(where: Path, size: str) -> bool:
    where.mkdir()
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True).returncode == 0


def full_disk_case(pickled: Path, work: Path, refs: dict[str, dict], limit: int) -> str:
    """Fill a small file system (or hit a file size limit) while writing over a set."""
    mnt = work / "small"
    mounted = _tmpfs(mnt, "1200k")
    out = mnt / "out"
    try:
        shutil.copytree(work / "ref-A", out)
        proc = start_writer(pickled, out, None if mounted else limit)
        proc.communicate(timeout=300)
        state = snapshot(out)
        ok = state in refs.values()
        return ("tmpfs" if mounted else "rlimit") + (" ok" if ok else " PARTIAL")
    finally:
        if mounted:
            subprocess.run(["umount", str(mnt)], check=False)
        shutil.rmtree(mnt, ignore_errors=True)


def describe(state: dict | None, refs: dict[str, dict]) -> str:
    """Which files differ from each complete set."""
    if state is None:
        return "folder missing"
    parts = []
    for name, ref in refs.items():
        diff = sorted(set(state) ^ set(ref)) + sorted(k for k in ref if k in state
                                                      and state[k] != ref[k])
        parts.append(f"vs {name}: {diff[:6]}")
    return "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kypho-faults-") as tmp:
        work = Path(tmp)
        a, b = make_analyses(work)
        t = time.perf_counter()
        write_fully(a, work / "ref-A")
        write_s = time.perf_counter() - t
        write_fully(b, work / "ref-B")
        refs = {"A": snapshot(work / "ref-A"), "B": snapshot(work / "ref-B")}
        out = work / "out"
        shutil.copytree(work / "ref-A", out)
        counts: Counter[str] = Counter()
        for k in range(args.cases):
            kind = rng.choice(["SIGINT", "SIGTERM", "SIGKILL", "SIGKILL", "full disk"])
            if kind == "full disk":
                counts[f"full disk {full_disk_case(b, work, refs, 40_000)}"] += 1
                continue
            current = "A" if snapshot(out) == refs["A"] else "B"
            pickled = b if current == "A" else a
            delay = rng.uniform(0.0, 1.3 * write_s)
            interrupt(pickled, out, delay, getattr(signal, kind))
            state = snapshot(out)
            verdict = "ok" if state in refs.values() else "PARTIAL"
            if verdict == "PARTIAL":
                print(f"  partial after {kind} at {delay:.2f} s: " + describe(state, refs))
            stray = leftovers(out)
            if kind != "SIGKILL" and stray:
                verdict += " (stage left)"
            counts[f"{kind} {verdict}"] += 1
            if k % 20 == 19:
                print(f"  {k + 1} cases, {time.perf_counter() - t0:.0f} s", flush=True)
        # The next run after SIGKILLs must clean their staging folders.
        write_fully(a, out)
        counts[f"stages left after a final clean run: {len(leftovers(out))}"] += 1
    partial = sum(n for key, n in counts.items() if "PARTIAL" in key)
    print(f"{args.cases} interrupted writes (write alone {write_s:.1f} s with start-up) "
          f"in {time.perf_counter() - t0:.0f} s")
    for key, n in sorted(counts.items()):
        print(f"  {key}: {n}")
    print(f"partial output folders: {partial}")


if __name__ == "__main__":
    main()
