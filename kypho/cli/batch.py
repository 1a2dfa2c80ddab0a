"""``kypho batch``: many studies, one worker process per case (kypho.batch)."""

from __future__ import annotations

import functools
from typing import Any

from kypho.batch.command import batch_command
from kypho.cli.console import run

__all__ = ["batch"]


@functools.wraps(batch_command)
def batch(*args: Any, **kwargs: Any) -> None:
    run(lambda: batch_command(*args, **kwargs))
