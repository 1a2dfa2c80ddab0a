"""Interrupting the output writer: signals at random moments, a full disk, a read-only target.

A small phantom is analysed once and pickled twice (A and B differ in their source
name, so every document differs). A writer subprocess writes one of them into a folder
exactly as ``kypho analyze`` does (kypho.output_folder + write_analysis); the folder
must afterwards hold, file for file, the complete previous set or the complete new set.

Used by tests/test_output_faults.py (a few cases) and benchmarks/faults.py (200).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

WRITER = """
import pickle, sys
from pathlib import Path
from kypho.cli import OUTPUT_NAMES
from kypho.output_folder import output_folder
from kypho.outputs import write_analysis
analysis = pickle.loads(Path(sys.argv[1]).read_bytes())
from kypho.errors import KyphoError
print("ready", flush=True)
try:
    with output_folder(Path(sys.argv[2]), OUTPUT_NAMES, overwrite=True) as stage:
        write_analysis(analysis, stage)
except KyphoError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(2)
print("done", flush=True)
"""


def make_analyses(work: Path) -> tuple[Path, Path]:
    """Pickled analyses A and B of a 3-vertebra phantom at 2 mm (a few seconds)."""
    from kypho.phantom import generate
    from kypho.phantom.config import FractureSpec, PhantomConfig
    from kypho.pipeline import analyze

    cfg = PhantomConfig(top="L3", bottom="L5", spacing_mm=(2.0, 2.0, 2.0),
                        fractures=(FractureSpec("L4", "wedge", 0.3),))
    phantom = generate(cfg)
    analysis = analyze(phantom.volume, plan=False)
    paths = []
    for name in ("A", "B"):
        analysis.volume.source = f"patient-{name}.nii.gz"
        p = work / f"analysis-{name}.pkl"
        p.write_bytes(pickle.dumps(analysis))
        paths.append(p)
    return paths[0], paths[1]


def snapshot(folder: Path) -> dict[str, str] | None:
    """Relative path -> sha1 of every file under `folder` (None when it is missing)."""
    if not folder.exists():
        return None
    return {
        str(p.relative_to(folder)): hashlib.sha1(_content(p)).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _content(p: Path) -> bytes:
    """File bytes; the report's generation time (to the minute) is masked."""
    data = p.read_bytes()
    if p.suffix == ".html":
        data = re.sub(rb"\d{4}-\d\d-\d\d \d\d:\d\d UTC", b"<time>", data)
    return data


def start_writer(pickled: Path, target: Path, fsize_limit: int | None = None
                 ) -> subprocess.Popen[str]:
    def limit() -> None:
        if fsize_limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() then fails with EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize_limit, fsize_limit))

    return subprocess.Popen([sys.executable, "-c", WRITER, str(pickled), str(target)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=limit)


def write_fully(pickled: Path, target: Path) -> None:
    proc = start_writer(pickled, target)
    _, err = proc.communicate(timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"writer failed: {err[-2000:]}")


def interrupt(pickled: Path, target: Path, delay_s: float, signum: int) -> int:
    """Start a writer, send `signum` `delay_s` after it is ready; return its exit code."""
    proc = start_writer(pickled, target)
    assert proc.stdout is not None
    proc.stdout.readline()  # "ready": imports done, the write starts now
    time.sleep(delay_s)
    with contextlib.suppress(ProcessLookupError):  # it may have finished already
        os.kill(proc.pid, signum)
    proc.communicate(timeout=120)
    return proc.returncode


def leftovers(target: Path) -> list[str]:
    """Staging folders of `target` still on disk."""
    return sorted(p.name for p in target.parent.glob(f".{target.name}.kypho-stage-*"))
