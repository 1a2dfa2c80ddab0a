"""``kypho phantom``: write a synthetic spine CT with its ground truth (kypho.phantom)."""

from __future__ import annotations

import functools
from typing import Any

from kypho.cli.console import run
from kypho.phantom.command import phantom_command

__all__ = ["phantom"]


@functools.wraps(phantom_command)
def phantom(*args: Any, **kwargs: Any) -> None:
    run(lambda: phantom_command(*args, **kwargs))
