"""Where a table row is, for error messages a planner can act on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TableRef:
    """A workbook table, optionally located on its sheet.

    Rows are identified by the DataFrame index as :meth:`HeadlessWorkbook.read_table`
    returns it (the offset below the header): index 0 is the table's first data row.
    With ``sheet`` and ``header_row`` the message also names the row on the sheet.
    """

    table: str
    sheet: str | None = None
    header_row: int | None = None

    def row(self, index) -> str:
        try:
            i = int(index)
        except (TypeError, ValueError):
            return f"{self.table} row {index}"
        where = f"{self.table} row {i + 1}"
        if self.sheet is not None and self.header_row is not None:
            where += f" (sheet {self.sheet!r}, row {self.header_row + 1 + i})"
        return where
