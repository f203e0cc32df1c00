"""The live workbook adapter: the same interface as the headless one, on an xlwings
``Book`` inside Excel (a ribbon button's ``RunPython`` → :mod:`macros`).

Excel computes the UDF cells itself (through the xlwings add-in), so :meth:`recalculate`
asks Excel to calculate; saving is Excel's (the planner saves, or the macro does).
"""

from __future__ import annotations

import pandas as pd

from ..errors import SopError
from .col_widths import MAX_WIDTH
from .table_rows import rows_from_first

_FORMULA_START = ("=", "+", "-", "@")


def _as_cell(value):
    """Text that Excel would read as a formula is written as text (leading apostrophe)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


class LiveWorkbook:
    def __init__(self, book) -> None:
        self.book = book
        self._written: dict[str, pd.DataFrame] = {}  # tables written since opened

    # ------------------------------------------------------------- names and cells
    def _name_range(self, name: str):
        try:
            return self.book.names[name].refers_to_range
        except Exception:
            raise SopError(f"the workbook has no name {name!r}") from None

    def get_value(self, name: str):
        return self._name_range(name).value

    def address(self, name: str) -> str:
        """Where a defined name points, as Sheet!A1 (for messages)."""
        rng = self._name_range(name)
        return f"{rng.sheet.name}!{rng.address.replace('$', '')}"

    def set_value(self, name: str, value) -> None:
        self._name_range(name).value = _as_cell(value)

    def result_at(self, sheet: str, coord: str):
        return self.book.sheets[sheet].range(coord).value

    def result_of_name(self, name: str):
        return self.get_value(name)

    # ------------------------------------------------------------- tables
    def _table(self, name: str):
        for sheet in self.book.sheets:
            for table in sheet.tables:
                if table.name == name:
                    return sheet, table
        raise SopError(f"the workbook has no table {name!r}")

    def table_columns(self, name: str) -> list[str]:
        _, table = self._table(name)
        return list(table.header_row_range.value)

    def table_position(self, name: str) -> tuple[str, int]:
        sheet, table = self._table(name)
        return sheet.name, table.header_row_range.row

    def column_letter(self, table: str, column: str) -> str:
        _, t = self._table(table)
        cell = t.header_row_range[self.table_columns(table).index(column)]
        return cell.get_address(False, False).rstrip("0123456789")

    def read_table(self, name: str) -> pd.DataFrame:
        _, table = self._table(name)
        columns = self.table_columns(name)
        body = table.data_body_range
        rows = [] if body is None else body.options(ndim=2).value
        frame = pd.DataFrame(rows, columns=columns)
        return frame.dropna(how="all")

    def read_table_from(self, name: str, column: str, starts,
                        columns: list[str] | None = None) -> pd.DataFrame:
        """The table's rows from the first whose ``column`` satisfies ``starts`` on (as
        the headless adapter's; Excel hands the whole range over, every column)."""
        return rows_from_first(self.read_table(name), column, starts)

    def append_rows(self, name: str, frame: pd.DataFrame) -> None:
        """``frame``'s rows below the table's rows (the table rewritten whole)."""
        old = self.read_table(name)
        self.write_table(name, pd.concat([old.reset_index(drop=True), frame],
                                         ignore_index=True) if len(old) else frame)

    def write_table(self, name: str, frame: pd.DataFrame) -> None:
        _, table = self._table(name)
        columns = self.table_columns(name)
        unknown = [c for c in frame.columns if c not in columns]
        if unknown:
            raise SopError(f"table {name} has no column(s) {', '.join(map(str, unknown))}")
        data = frame.reindex(columns=columns).astype(object)
        self._written[name] = data
        data = data.where(data.notna(), None).map(_as_cell)
        table.update(data, index=False)
        self._fit_columns(table)

    @staticmethod
    def _fit_columns(table) -> None:
        """Excel's own AutoFit over the table's columns (its header and rows only), as the
        headless writer fits them (col_widths.py): a column only widens, up to
        MAX_WIDTH; then the rows' heights for wrapped text. An engine that cannot read a
        width (xlwings' remote engine) gets the AutoFit alone."""
        whole = table.range
        for j in range(whole.columns.count):
            column = whole.columns[j]
            try:
                before = column.column_width
            except Exception:  # the remote engine reads widths only asynchronously
                before = None
            column.columns.autofit()
            if before is None:
                continue
            after = column.column_width
            if after < before:
                column.column_width = before
            elif after > MAX_WIDTH:
                column.column_width = MAX_WIDTH
        whole.rows.autofit()

    # ------------------------------------------------------------- input areas
    #: how far below a table an input area is looked for (rows)
    INPUT_AREA_ROWS = 500

    def table_body_rows(self, name: str) -> int:
        _, table = self._table(name)
        body = table.data_body_range
        return 0 if body is None else body.rows.count

    def typed_rows_below(self, name: str) -> list[tuple[int, list]]:
        """As the headless adapter: the rows typed in the unlocked rows right below the
        table (Excel's ``Range.Locked`` is True for a row whose cells are all locked)."""
        sheet, table = self._table(name)
        whole = table.range
        first_col, width = whole.column, whole.columns.count
        top = whole.last_cell.row + 1
        others = [t.range for t in sheet.tables if t.name != name]
        found = []
        for r in range(top, top + self.INPUT_AREA_ROWS):
            if any(o.row <= r <= o.last_cell.row and o.column <= first_col + width - 1
                   and first_col <= o.last_cell.column for o in others):
                break
            row = sheet.range((r, first_col), (r, first_col + width - 1))
            # an engine without Range.Locked (xlwings' remote engine hands back cell data,
            # not a COM range) cannot tell an input area: no rows are taken there
            locked = getattr(row.api, "Locked", None)
            if locked is None or locked is True:
                break
            values = row.options(ndim=1).value
            if any(not (v is None or (isinstance(v, str) and not v.strip())) for v in values):
                found.append((r, values))
        return found

    def extend_table(self, name: str, last_row: int) -> None:
        """Resize the table down to ``last_row``; a protected sheet (no password, as the
        template's) is unprotected for the resize and protected again with the same
        permissions."""
        sheet, table = self._table(name)
        whole = table.range
        if last_row <= whole.last_cell.row:
            return
        target = sheet.range((whole.row, whole.column), (last_row, whole.last_cell.column))
        api = sheet.api
        protected = bool(api.ProtectContents)
        if protected:
            p = api.Protection
            allow = {k: getattr(p, k) for k in (
                "AllowFormattingCells", "AllowFormattingColumns", "AllowFormattingRows",
                "AllowInsertingColumns", "AllowInsertingRows", "AllowInsertingHyperlinks",
                "AllowDeletingColumns", "AllowDeletingRows", "AllowSorting", "AllowFiltering",
                "AllowUsingPivotTables")}
            api.Unprotect()
        try:
            table.resize(target)
        finally:
            if protected:
                api.Protect(DrawingObjects=True, Contents=True, Scenarios=True, **allow)

    # ------------------------------------------------------------- calculation + save
    def replace_charts(self, sheet: str, tag: str, charts: list) -> None:
        """Charts are drawn headless only: in Excel the charts of the last headless
        refresh stay as they are (Excel redraws them from the refreshed table)."""

    def recalculate(self) -> int:
        self.prime_udf_tables()
        self.book.app.calculate()
        return 0

    def prime_udf_tables(self) -> int:
        """Hand the tables written since opening to the UDFs' per-refresh cache (the UDF
        server is this process: xlwings.conf "Use UDF Server"), keyed by the refresh stamp
        now on Config, so that Excel's recalculation reads none of them back. Returns how
        many tables were primed."""
        from ..kpi import cell_tables

        stamp = cell_tables.refresh_stamp(self.book)
        for name, frame in self._written.items():
            _, table = self._table(name)
            cell_tables.prime(table.range, frame, stamp)
        return len(self._written)

    def save(self, path=None, **_) -> None:
        self.book.save(path)
