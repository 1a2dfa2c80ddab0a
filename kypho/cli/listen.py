"""``kypho listen``: a DICOM node that analyses the studies sent to it (kypho.pacs)."""

from __future__ import annotations

import functools
from typing import Any

from kypho.cli.console import run
from kypho.pacs.command import listen_command

__all__ = ["listen"]


@functools.wraps(listen_command)
def listen(*args: Any, **kwargs: Any) -> None:
    run(lambda: listen_command(*args, **kwargs))
