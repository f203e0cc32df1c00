"""The live workbook adapter: the same interface as the headless one, on an xlwings
``Book`` inside Excel (a ribbon button's ``RunPython`` → :mod:`macros`).

Excel computes the UDF cells itself (through the xlwings add-in), so :meth:`recalculate`
asks Excel to calculate; saving is Excel's (the planner saves, or the macro does).
"""

from __future__ import annotations

import pandas as pd

from ..errors import SopError

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

    # ------------------------------------------------------------- calculation + save
    def recalculate(self) -> int:
        self.prime_udf_tables()
        self.book.app.calculate()
        return 0

    def prime_udf_tables(self) -> int:
        """Hand the tables written since opening to the UDFs' per-refresh cache (the UDF
        server is this process: xlwings.conf "Use UDF Server"), keyed by the refresh stamp
        now on Config, so that Excel's recalculation reads none of them back. Returns how
        many tables were primed."""
        import udfs

        stamp = udfs.refresh_stamp(self.book)
        for name, frame in self._written.items():
            _, table = self._table(name)
            udfs.prime(table.range, frame, stamp)
        return len(self._written)

    def save(self, path=None, **_) -> None:
        self.book.save(path)
