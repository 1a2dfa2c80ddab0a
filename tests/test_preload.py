"""The stages' modules imported beside the CT's reading: imported, joined, errors kept."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from kypho import preload


def _module(tmp_path: Path, name: str, body: str) -> str:
    (tmp_path / f"{name}.py").write_text(body)
    return name


@pytest.fixture
def on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [n for n in sys.modules if n.startswith("kypho_preload_probe")]:
        del sys.modules[name]


def test_modules_are_imported_in_a_thread_and_joined_by_the_end(on_path: Path) -> None:
    name = _module(on_path, "kypho_preload_probe_a",
                   "import threading, time\ntime.sleep(0.2)\n"
                   "THREAD = threading.current_thread().name\n")
    with preload.preloaded([name]):
        pass  # the block ends at once: the import must still be complete after it
    assert sys.modules[name].THREAD == "kypho-preload"
    assert not any(t.name == "kypho-preload" for t in threading.enumerate())


def test_a_failing_import_fails_again_where_the_stage_needs_it(on_path: Path) -> None:
    bad = _module(on_path, "kypho_preload_probe_bad", "raise ImportError('no such library')\n")
    good = _module(on_path, "kypho_preload_probe_good", "X = 1\n")
    with preload.preloaded([bad, good]):
        pass
    assert bad not in sys.modules
    assert sys.modules[good].X == 1  # the others are still imported
    with pytest.raises(ImportError, match="no such library"):
        __import__(bad)


def test_the_stage_modules_exist() -> None:
    import importlib.util

    for name in preload.STAGE_MODULES:
        assert importlib.util.find_spec(name) is not None, name
