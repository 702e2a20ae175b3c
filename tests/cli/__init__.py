"""The `hotline` command, run in-process as a shell would run it."""

from __future__ import annotations

from typer.testing import CliRunner

from hotline.cli import app


def hotline(*args: str) -> tuple[int, str]:
    """Exit code and output of `hotline ARGS…`."""
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output
