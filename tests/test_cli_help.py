"""Every command's --help renders (help text is Rich markup: a stray "[/...]" crashed it)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from kypho.cli import app

COMMANDS = ["analyze", "segment", "plan", "simulate", "batch", "listen", "phantom", "info",
            "demo", "serve", "user-add"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_prints_its_help(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_the_dicomweb_address_shows_in_the_analyze_help() -> None:
    result = CliRunner().invoke(app, ["analyze", "--help"], env={"COLUMNS": "200"})
    assert "studies/UID[/series/UID]" in result.output
