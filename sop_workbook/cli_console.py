"""The ``sop`` command's consoles and its one way to fail, shared by :mod:`sop_workbook.cli`
and the commands it registers from :mod:`sop_workbook.cli_meeting`."""

from __future__ import annotations

import typer
from rich.console import Console

from .errors import SopError

out = Console()
err = Console(stderr=True)


def fail(exc: SopError) -> None:
    """Print ``exc`` (summary, then detail) on stderr and exit with status 2."""
    err.print(f"error: {exc.summary}", markup=False, highlight=False, soft_wrap=True)
    if exc.detail:
        err.print(exc.detail, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(2)
