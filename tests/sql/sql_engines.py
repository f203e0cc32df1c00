"""Test support: run the SQL generated for an engine we have no server of, by parsing each
statement with sqlglot *for that engine* (a statement the engine's grammar rejects fails
the test), transpiling it to DuckDB and executing it against the source tables held in
DuckDB (SQLite's statements, parsed the same way, run on SQLite itself).

:class:`TranspiledSource` is a :class:`~sop_workbook.sql.sources.Source` with the engine's
dialect: the SQL path (staging, checks, aggregates) runs through it unchanged, and every
statement it sent is kept (``statements``: the engine's text and its parsed tree) so the
tests can also check which tables each statement reads.
"""

from __future__ import annotations

import contextlib
import sqlite3
from unittest import mock

import duckdb
import pandas as pd
import sqlglot
from sqlglot import exp

from sop_workbook.sql import sources as sql_sources
from sop_workbook.sql.dialect import POSTGRESQL, Dialect
from sop_workbook.sql.dialects import ENGINES, register_sqlite_functions

#: every dialect the README names besides DuckDB, by the name the tests use
DIALECTS: dict[str, Dialect] = {"postgresql": POSTGRESQL, **{
    name: ENGINES[name] for name in ("snowflake", "bigquery", "spark", "databricks", "trino",
                                     "sqlite")}}


def sqlglot_name(d: Dialect) -> str:
    return getattr(d, "sqlglot_name", "") or {"postgresql": "postgres"}[d.name]


class TranspiledSource(sql_sources.Source):
    """The contract tables in an in-memory DuckDB, queried through ``dialect``'s SQL."""

    def __init__(self, dialect: Dialect, tables: dict[str, pd.DataFrame],
                 upper_case: bool = False) -> None:
        super().__init__(f"transpiled:{dialect.name}", dialect)
        self.read = sqlglot_name(dialect)
        #: SQLite is at hand: its statements are parsed by sqlglot and run on SQLite itself
        self.native = dialect.name == "sqlite"
        self.con = sqlite3.connect(":memory:") if self.native else duckdb.connect(":memory:")
        if self.native:
            register_sqlite_functions(self.con)
        self.statements: list[tuple[str, exp.Expression]] = []
        found: dict[str, tuple[str, str, list[str]]] = {}
        types: dict[str, dict[str, str]] = {}
        for name, frame in tables.items():
            stored = name.upper() if upper_case else name
            cols = [c.upper() if upper_case else c for c in frame.columns]
            if self.native:
                frame.set_axis(cols, axis=1).to_sql(stored, self.con, index=False)
            else:
                self.con.register("sop_frame", frame.set_axis(cols, axis=1))
                self.con.execute(f'CREATE TABLE "{stored}" AS SELECT * FROM sop_frame')
                self.con.unregister("sop_frame")
            found[name] = ("", stored, cols)
            if not self.native:  # the columns' types, as the engine would report them
                types[name] = {row[0]: row[1] for row in
                               self.con.execute(f'DESCRIBE "{stored}"').fetchall()}
        #: the names the source tables are stored under (exactly, case included)
        self.stored_tables = {entry[1] for entry in found.values()}
        sql_sources._register_db_tables(self, found, lambda s, t: dialect.quote(t), types)

    def _duckdb(self, sql: str) -> str:
        tree = sqlglot.parse_one(sql, read=self.read)  # raises on what the engine rejects
        self.statements.append((sql, tree))
        if self.native:
            return sql
        if isinstance(tree, exp.Cache):  # Spark's CACHE TABLE name AS SELECT
            return (f"CREATE OR REPLACE TABLE {tree.this.sql('duckdb')} AS "
                    f"{tree.expression.sql('duckdb')}")
        if isinstance(tree, exp.Uncache):
            return f"DROP TABLE IF EXISTS {tree.find(exp.Table).sql('duckdb')}"
        if isinstance(tree, exp.Drop) and tree.args.get("kind") == "VIEW":
            return f"DROP TABLE IF EXISTS {tree.find(exp.Table).sql('duckdb')}"
        return tree.sql("duckdb")

    def _execute(self, sql: str) -> None:
        self.con.execute(self._duckdb(sql))

    def _query(self, sql: str) -> pd.DataFrame:
        if self.native:
            cur = self.con.execute(self._duckdb(sql))
            return pd.DataFrame.from_records(cur.fetchall(),
                                             columns=[d[0] for d in cur.description])
        return self.con.execute(self._duckdb(sql)).df()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.con.close()

    def reads(self, table: str) -> list[str]:
        """The statements that read the source table stored as ``table``."""
        return [sql for sql, tree in self.statements
                if any(t.name == table for t in tree.find_all(exp.Table))]


@contextlib.contextmanager
def transpiled(dialect: Dialect, tables: dict[str, pd.DataFrame], upper_case: bool = False):
    """``load_aggregates``/``validate`` (which open their source by name) run on a
    :class:`TranspiledSource` while in this context; yields the source."""
    src = TranspiledSource(dialect, tables, upper_case)
    with mock.patch("sop_workbook.sql.refresh_tables.open_source", lambda _source: src):
        yield src
