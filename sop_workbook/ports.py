"""The ports: what the use cases (:mod:`sop_workbook.actions`, :mod:`sop_workbook.meeting`,
:mod:`sop_workbook.scorecard_export`) need from the outside, written down as typing Protocols.

- :class:`Workbook` — an S&OP workbook, by defined name and Excel table name. Adapters:
  :class:`~sop_workbook.workbook.headless.HeadlessWorkbook` (the ``.xlsm`` file, no
  Excel) and :class:`~sop_workbook.workbook.live.LiveWorkbook` (the open book in Excel,
  through xlwings).
- :class:`LoadAggregates` — the source as *Refresh* reads it: a folder of CSV/Parquet
  files or a database URL in, the tables *Refresh* writes out. Adapter:
  :func:`sop_workbook.sql.load_aggregates` (DuckDB for files, the database itself for a
  URL); :class:`Aggregates` is what it returns.
- :class:`SqlSource` — one open source as the SQL that computes the aggregates uses it.
  Adapters: the sources of :mod:`sop_workbook.sql.sources` (DuckDB, SQLAlchemy DB-API,
  Spark).

A test (``tests/test_layers.py``) checks that every adapter has every member of its port
with the same parameters, and that the core imports no adapter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd

    from .kpi.options import KpiOptions


class Workbook(Protocol):
    """An S&OP workbook: defined names (``cfg_*``, KPI cells) and Excel tables."""

    # -- names and cells
    def get_value(self, name: str) -> Any:
        """The value of the cell the defined name ``name`` refers to."""

    def address(self, name: str) -> str:
        """``Sheet!A1`` of the defined name ``name`` (for messages)."""

    def set_value(self, name: str, value) -> None:
        """Write ``value`` into the defined name's cell."""

    def result_at(self, sheet: str, coord: str) -> Any:
        """The computed value of a cell (a formula's result, not its text)."""

    def result_of_name(self, name: str) -> Any:
        """The computed value of the defined name's cell."""

    # -- tables
    def table_columns(self, name: str) -> list[str]:
        """The header of Excel table ``name``."""

    def table_position(self, name: str) -> tuple[str, int]:
        """(sheet title, header row) of table ``name``."""

    def column_letter(self, table: str, column: str) -> str:
        """The sheet column letter of ``column`` in ``table``."""

    def read_table(self, name: str) -> pd.DataFrame:
        """Table ``name``'s body as a DataFrame (its header as the columns)."""

    def read_table_from(self, name: str, column: str, starts,
                        columns: list[str] | None = None) -> pd.DataFrame:
        """The rows of table ``name`` from the first whose ``column`` satisfies
        ``starts`` on (the table being sorted by that column); ``columns``: the columns
        that must be converted (None: all)."""

    def write_table(self, name: str, frame: pd.DataFrame) -> None:
        """Replace table ``name``'s body with ``frame`` (the table resized to fit)."""

    def append_rows(self, name: str, frame: pd.DataFrame) -> None:
        """Add ``frame``'s rows below table ``name``'s rows (what writing the table with
        them added writes)."""

    def table_body_rows(self, name: str) -> int:
        """How many body rows table ``name`` has."""

    def typed_rows_below(self, name: str) -> list[tuple[int, list]]:
        """Rows typed right below table ``name`` (outside it): (sheet row, values)."""

    def extend_table(self, name: str, last_row: int) -> None:
        """Make table ``name`` reach down to sheet row ``last_row``."""

    def replace_charts(self, sheet: str, tag: str, charts: list) -> None:
        """Replace the charts added earlier under ``tag`` on ``sheet`` by ``charts``."""

    # -- the whole book
    def recalculate(self) -> int:
        """Compute every formula cell; returns how many were computed."""

    def save(self, path=None) -> Any:
        """Save the workbook (to ``path``, or where it was opened from)."""


class Aggregates(Protocol):
    """The tables *Refresh* writes, by Excel table name, and the source's warnings."""

    tables: dict[str, pd.DataFrame]
    warnings: list[str]


class LoadAggregates(Protocol):
    """Validate ``source`` (a folder or a database URL) and compute every table *Refresh*
    writes from it."""

    def __call__(self, source: str, options: KpiOptions | None = None,
                 gl_income_sign: str = "positive") -> Aggregates: ...


class SqlSource(Protocol):
    """One open source: statements and queries in its dialect, relations materialised
    for later statements, tasks run (two at a time where it can), closed at the end."""

    name: str
    dialect: Any

    def execute(self, sql: str) -> None: ...

    def query(self, sql: str) -> pd.DataFrame: ...

    def materialize(self, name: str, select: str) -> None: ...

    def release(self, name: str) -> None: ...

    def run_all(self, tasks: list[Callable[[], Any]]) -> list[Any]: ...

    def run_tasks(self, tasks: list) -> dict[str, object]: ...

    def row_number(self, table: str, alias: str) -> str | None: ...

    def row_id(self, alias: str) -> str | None: ...

    def close(self) -> None: ...

    def __enter__(self) -> SqlSource: ...

    def __exit__(self, *exc) -> None: ...
