"""An output folder written as a unit: built beside the target, locked, swapped in at the end.

The whole output set is written into a hidden staging folder next to the target (same
file system), then put in place with one atomic directory swap (Linux
``renameat2(RENAME_EXCHANGE)``, or ``rename`` when the target does not exist yet). Until
then the previous content is untouched; afterwards none of it is mixed in (files kypho
did not write, such as an input CT kept in the folder, are carried over by hard link).

A lock file beside the target makes a second run into the same folder fail at once.
Staging folders left by a killed run (``.NAME.kypho-stage-PID``) are removed by the
next run that holds the lock; SIGTERM is turned into KeyboardInterrupt so that it
cleans up like Ctrl-C.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import shutil
import signal
from collections.abc import Iterable, Iterator
from pathlib import Path

from kypho.errors import OutputExistsError, OutputLockedError, OutputWriteError

__all__ = ["KYPHO_OUTPUTS", "OutputLockedError", "OutputWriteError", "output_folder",
           "stage_prefix"]

_RENAME_EXCHANGE = 2
#: Everything any kypho command writes at the top of an output folder: never carried
#: over from an earlier run, so --force leaves no stale file of another patient.
KYPHO_OUTPUTS = frozenset({"results.json", "report.html", "labels.nii.gz", "bodies.nii.gz",
                           "levels.json", "figures", "dicom"})


def stage_prefix(target: Path) -> str:
    """Name prefix of staging and retired folders of `target` (hidden, recognisable)."""
    return f".{target.name}.kypho-"


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2); False when the call is unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _describe(exc: OSError, where: Path) -> OutputWriteError:
    reason = exc.strerror or str(exc)
    return OutputWriteError(
        f"Cannot write the outputs to {where}: {reason} (errno {exc.errno}); choose a "
        "writable folder with enough free space with -o."
    )


def _sweep(parent: Path, target: Path) -> None:
    """Remove staging folders of earlier runs that were killed (we hold the lock)."""
    for p in parent.glob(stage_prefix(target) + "stage-*"):
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)


def _carry_foreign(target: Path, stage: Path, ours: set[str]) -> None:
    """Hard-link into `stage` every top-level file of `target` kypho did not write."""
    for p in target.iterdir():
        if p.name in ours or (stage / p.name).exists():
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.copytree(p, stage / p.name, copy_function=os.link, symlinks=True)
        else:
            os.link(p, stage / p.name, follow_symlinks=False)


def _install(stage: Path, target: Path, ours: set[str]) -> None:
    if not target.exists():
        os.rename(stage, target)
        return
    _carry_foreign(target, stage, ours)
    if _exchange(stage, target):
        shutil.rmtree(stage, ignore_errors=True)  # now the previous content
        return
    # No atomic swap on this system: replace file by file (each one atomic).
    for p in stage.iterdir():
        dest = target / p.name
        if dest.is_dir() and not dest.is_symlink():
            shutil.rmtree(dest)
        os.replace(p, dest)
    shutil.rmtree(stage, ignore_errors=True)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def output_folder(
    target: Path,
    names: Iterable[str],
    *,
    overwrite: bool,
    protected: Iterable[Path] = (),
) -> Iterator[Path]:
    """Lock `target`, yield an empty staging folder, and swap it in if the body succeeds.

    Parameters
    ----------
    target : Path
        The output folder the user named.
    names : iterable of str
        Top-level entries kypho writes; existing ones need `overwrite`, and with it the
        previous ones are dropped whole (no stale figures).
    overwrite : bool
        ``--force``: replace an earlier run's outputs.
    protected : iterable of Path
        Inputs; refused if one of them is an output name inside `target`.

    Raises
    ------
    OutputExistsError, OutputLockedError, OutputWriteError
    """
    # Resolved: a symlinked -o is written where it points, the link itself is kept.
    target = Path(target).expanduser().resolve()
    names = set(names)
    ours = set(KYPHO_OUTPUTS) | names
    if target.exists() and not target.is_dir():
        raise OutputExistsError(f"{target} exists and is not a folder; choose another -o.")
    clashes = sorted(n for n in names if (target / n).exists())
    if clashes and not overwrite:
        raise OutputExistsError(
            f"{target} already holds {', '.join(clashes)}; choose another folder or pass "
            "--force to replace them"
        )
    for p in protected:
        p = Path(p).expanduser().resolve()
        if p.parent == target and p.name in ours:
            raise OutputExistsError(f"Refusing to write onto an input file: {p}")
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        lock_fd = os.open(parent / f"{stage_prefix(target)}lock", os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise _describe(exc, target) from exc
    previous = signal.getsignal(signal.SIGTERM)
    try:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputLockedError(
                f"Another kypho run is writing into {target}; wait for it or choose "
                "another folder with -o."
            ) from None
        _sweep(parent, target)
        # The handler comes first: a SIGTERM must never leave a created stage behind.
        with contextlib.suppress(ValueError):  # only the main thread may set handlers
            signal.signal(signal.SIGTERM, _raise_interrupt)
        stage = parent / f"{stage_prefix(target)}stage-{os.getpid()}"
        try:
            stage.mkdir(mode=0o777)
        except OSError as exc:
            raise _describe(exc, target) from exc
        try:
            yield stage
            _install(stage, target, ours)
        except OSError as exc:
            raise _describe(exc, target) from exc
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    finally:
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGTERM, previous)
        os.close(lock_fd)
