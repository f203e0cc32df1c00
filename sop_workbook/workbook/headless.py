"""The headless workbook adapter: the workbook interface on openpyxl (no Excel).

The same interface has an xlwings adapter (:mod:`sop_workbook.workbook.live`) used when a
ribbon button runs inside Excel; the actions in :mod:`sop_workbook.actions` only see this
interface.
"""

from __future__ import annotations

import io
import math
from copy import copy
from pathlib import Path

import openpyxl
import pandas as pd
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import range_boundaries
from openpyxl.worksheet.formula import ArrayFormula

from ..errors import SopError
from .io import DEFAULT_BACKUPS, atomic_write, check_zip_limits
from .recalc import evaluate_all, formula_text, write_cached_values


def _cell_value(value):
    """A DataFrame value as a cell value (NaN/NaT → empty; numpy → Python)."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NaT or value is pd.NA:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


class HeadlessWorkbook:
    """A workbook file opened with openpyxl (formulas kept, VBA project kept)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise SopError(f"workbook not found: {self.path}")
        check_zip_limits(self.path)
        try:
            self.wb = openpyxl.load_workbook(self.path, keep_vba=True)
        except Exception as exc:  # openpyxl raises many kinds for a bad file
            raise SopError(f"cannot open {self.path} as a workbook: {exc}") from None
        self.tables = {t.displayName: (ws, t) for ws in self.wb.worksheets
                       for t in ws.tables.values()}
        self._cached: dict[tuple[str, str], object] = {}
        self._values = None  # the file's cached results, loaded when first needed

    # ------------------------------------------------------------- names and cells
    def _name_cell(self, name: str):
        defined = self.wb.defined_names.get(name)
        if defined is None:
            raise SopError(f"the workbook has no name {name!r}")
        sheet, _, ref = defined.attr_text.rpartition("!")
        return self.wb[sheet.strip("'").replace("''", "'")][ref.replace("$", "")]

    def get_value(self, name: str):
        return self._name_cell(name).value

    def set_value(self, name: str, value) -> None:
        cell = self._name_cell(name)
        cell.value = value
        if isinstance(value, str):
            cell.data_type = "s"  # text stays text, even if it starts with "="

    # ------------------------------------------------------------- shown values
    def result_at(self, sheet: str, coord: str):
        """What the cell shows: its value, or for a formula the last computed result."""
        coord = coord.replace("$", "").upper()
        if (sheet, coord) in self._cached:
            return self._cached[(sheet, coord)]
        value = self.wb[sheet][coord].value
        if isinstance(value, str) and value.startswith("="):
            if self._values is None:
                self._values = openpyxl.load_workbook(self.path, data_only=True,
                                                      keep_vba=True)
            return self._values[sheet][coord].value
        return value

    def result_of_name(self, name: str):
        cell = self._name_cell(name)
        return self.result_at(cell.parent.title, cell.coordinate)

    # ------------------------------------------------------------- tables
    def table_columns(self, name: str) -> list[str]:
        ws, table = self._table(name)
        min_col, min_row, max_col, _ = range_boundaries(table.ref)
        return [ws.cell(min_row, c).value for c in range(min_col, max_col + 1)]

    def _table(self, name: str):
        if name not in self.tables:
            raise SopError(f"the workbook has no table {name!r}")
        return self.tables[name]

    def read_table(self, name: str) -> pd.DataFrame:
        """The table's rows (empty rows dropped; the index is each row's offset below the
        header, so ``header row + 1 + index`` is its row on the sheet)."""
        ws, table = self._table(name)
        min_col, min_row, max_col, max_row = range_boundaries(table.ref)
        rows = [[c.value for c in row] for row in ws.iter_rows(
            min_row=min_row, max_row=max_row, min_col=min_col, max_col=max_col)]
        frame = pd.DataFrame(rows[1:], columns=rows[0])
        return frame.dropna(how="all")

    def _check_no_overlap(self, ws, name: str, ref: str) -> None:
        a = range_boundaries(ref)
        for other in ws.tables.values():
            if other.displayName == name:
                continue
            b = range_boundaries(other.ref)
            if a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]:
                raise SopError(f"table {name} would grow over table {other.displayName} on "
                               f"sheet {ws.title}", "The workbook was not changed.")

    def table_position(self, name: str) -> tuple[str, int]:
        """(sheet title, header row) of a table."""
        ws, table = self._table(name)
        return ws.title, range_boundaries(table.ref)[1]

    def column_letter(self, table: str, column: str) -> str:
        _, t = self._table(table)
        min_col = range_boundaries(t.ref)[0]
        return get_column_letter(min_col + self.table_columns(table).index(column))

    def write_table(self, name: str, frame: pd.DataFrame) -> None:
        """Replace the table's rows with ``frame`` (columns matched by name; the table
        grows or shrinks, keeping at least one row). Text is written as text."""
        ws, table = self._table(name)
        min_col, min_row, max_col, max_row = range_boundaries(table.ref)
        columns = self.table_columns(name)
        unknown = [c for c in frame.columns if c not in columns]
        if unknown:
            raise SopError(f"table {name} has no column(s) {', '.join(map(str, unknown))}")
        n = len(frame)
        new_max = min_row + max(n, 1)
        # each column keeps the look of its first row (number format, input colour, lock)
        styles = {c: ws.cell(min_row + 1, c)._style for c in range(min_col, max_col + 1)}
        self._check_no_overlap(
            ws, name, f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}"
            f"{new_max}")
        for r in range(min_row + 1, max(max_row, new_max) + 1):
            for c in range(min_col, max_col + 1):
                ws.cell(r, c).value = None
        for r in range(min_row + 1, new_max + 1):
            for c in range(min_col, max_col + 1):
                ws.cell(r, c)._style = copy(styles[c])
        for j, col in enumerate(columns):
            if col not in frame.columns:
                continue
            c = min_col + j
            for i, value in enumerate(frame[col].tolist()):
                cell = ws.cell(min_row + 1 + i, c)
                cell.value = _cell_value(value)
                if isinstance(cell.value, str):
                    cell.data_type = "s"
        ref = f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{new_max}"
        self._check_no_overlap(ws, name, ref)
        table.ref = ref
        if table.autoFilter is not None:
            table.autoFilter.ref = ref

    # ------------------------------------------------------------- recalculation + save
    def recalculate(self) -> int:
        """Evaluate every UDF cell (and the native formulas they depend on) in Python."""
        resolver = evaluate_all(self.wb)
        cached = {**resolver.native_values}
        for (sheet, coord), value in resolver.udf_values.items():
            if isinstance(value, list):
                cached[(sheet, coord)] = self._spill(sheet, coord, value)
            else:
                cached[(sheet, coord)] = value
        self._cached = cached
        return len(resolver.udf_values)

    def _spill(self, sheet: str, coord: str, rows: list[list]):
        """Lay a UDF's array result out over the cells below and right of the formula cell
        (an array formula over that range, as Excel shows a spilled result); the cells it
        covered before are cleared first. Returns the top-left value."""
        ws = self.wb[sheet]
        cell = ws[coord]
        text = formula_text(cell.value)
        old = cell.value.ref if isinstance(cell.value, ArrayFormula) else coord
        o_min_col, o_min_row, o_max_col, o_max_row = range_boundaries(old)
        for r in range(o_min_row, o_max_row + 1):
            for c in range(o_min_col, o_max_col + 1):
                if (r, c) != (cell.row, cell.column):
                    ws.cell(r, c).value = None
        height, width = len(rows), max((len(r) for r in rows), default=1)
        for i in range(height):
            for j in range(width):
                if i == j == 0:
                    continue
                target = ws.cell(cell.row + i, cell.column + j)
                if target.value is not None or target.coordinate in ws.merged_cells:
                    raise SopError(f"{sheet}!{coord}: the result needs {height} × {width} "
                                   f"cells but {target.coordinate} is not empty (#SPILL!)")
                value = rows[i][j] if j < len(rows[i]) else None
                target.value = _cell_value(value)
                if isinstance(target.value, str):
                    target.data_type = "e" if target.value == "#N/A" else "s"
        end = f"{get_column_letter(cell.column + width - 1)}{cell.row + height - 1}"
        cell.value = ArrayFormula(f"{coord}:{end}", text)
        return rows[0][0] if rows and rows[0] else None

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        self.wb.save(buf)
        data = buf.getvalue()
        return write_cached_values(data, self._cached) if self._cached else data

    def save(self, path: str | Path | None = None, *, backups: int = DEFAULT_BACKUPS) -> Path:
        target = Path(path) if path else self.path
        atomic_write(target, self.to_bytes(), backups=backups)
        return target
