"""Errors the user can act on. Each carries a one-line summary and a detail text."""

from __future__ import annotations

from dataclasses import dataclass


class SopError(Exception):
    """An error caused by the user's input or environment (CLI exit code 2)."""

    def __init__(self, summary: str, detail: str = "") -> None:
        super().__init__(summary)
        self.summary = summary
        self.detail = detail


@dataclass(frozen=True, order=True)
class Problem:
    """One validation problem, located by table, row (as numbered in the file) and column."""

    table: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = [self.table]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}"


class DamagedWorkbookError(SopError):
    """A part of the workbook file cannot be read (a bad CRC, broken compression): never
    taken for a table that is missing."""


class SourceValidationError(SopError):
    """A source failed the data contract. Nothing was loaded."""

    max_listed = 200

    def __init__(self, problems: list[Problem], source: str = "") -> None:
        self.problems = sorted(problems, key=_sort_key)
        n = len(self.problems)
        summary = f"source {source!r} fails the data contract: {n} problem{'s' * (n != 1)}"
        lines = [str(p) for p in self.problems[: self.max_listed]]
        if n > self.max_listed:
            lines.append(f"... and {n - self.max_listed} more")
        super().__init__(summary, "\n".join(lines))


def _sort_key(p: Problem) -> tuple:
    return (p.table, p.row if p.row is not None else -1, p.column or "", p.message)
