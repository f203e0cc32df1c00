"""Row heights for wrapped text written by the headless writer.

Excel and LibreOffice do not reliably re-fit the height of a row whose wrapped text was
written by another program: the text is then drawn over the rows below it. After a table is
written, each of its rows gets the height its wrapped text needs (lines × one line's
height), estimated from the column widths; rows that need one line get the default height.
"""

from __future__ import annotations

import math

from openpyxl.utils import get_column_letter

#: points per line of 11-pt text (Excel's default row height)
LINE_HEIGHT = 15.0
#: characters of 11-pt text per unit of Excel column width (widths count "0" digits,
#: average text is a little narrower)
CHARS_PER_WIDTH = 1.15
DEFAULT_WIDTH = 8.43


def lines_needed(text: str, width: float) -> int:
    """Lines a wrapped cell of ``width`` needs for ``text`` (each paragraph wraps alone)."""
    per_line = max(1, int(width * CHARS_PER_WIDTH))
    return sum(max(1, math.ceil(len(part) / per_line)) for part in text.split("\n"))


def fit_wrapped_rows(ws, first_row: int, last_row: int) -> None:
    """Set the height of rows first_row..last_row to what their wrapped text cells need."""
    widths: dict[int, float] = {}

    def width(col: int) -> float:
        if col not in widths:
            dim = ws.column_dimensions.get(get_column_letter(col))
            widths[col] = dim.width if dim is not None and dim.width else DEFAULT_WIDTH
        return widths[col]

    by_row: dict[int, int] = {}
    for (r, c), cell in ws._cells.items():
        if first_row <= r <= last_row and isinstance(cell.value, str) and cell.value \
                and cell.alignment is not None and cell.alignment.wrap_text:
            by_row[r] = max(by_row.get(r, 1), lines_needed(cell.value, width(c)))
    for r in range(first_row, last_row + 1):
        lines = by_row.get(r, 1)
        dim = ws.row_dimensions[r]
        if lines > 1:
            dim.height = lines * LINE_HEIGHT
        elif dim.customHeight and dim.height and dim.height > LINE_HEIGHT:
            dim.height = None  # a row that needed more lines before: back to the default
