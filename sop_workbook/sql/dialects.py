"""The SQL dialects of the engines the README names, beyond DuckDB and PostgreSQL.

Each is a :class:`~sop_workbook.sql.dialect.Dialect` that spells the few vendor-specific
pieces (regex test, text → double/date, date + days, types, identifier quoting) for its
engine, and says how an intermediate relation is *materialised* — computed once and read
by the later statements — so that every raw table is scanned once per refresh:

========== ================================= ==================================================
engine     identifiers, regex, casts          materialised as
========== ================================= ==================================================
Snowflake  ``"X"`` (stored names: unquoted     ``CREATE TEMPORARY TABLE``
           names are upper case), REGEXP_LIKE
BigQuery   ```x```, REGEXP_CONTAINS,           a table of the default dataset, named for the run
           SAFE_CAST, FLOAT64/INT64/STRING     and dropped at the end (BigQuery has temporary
                                               tables only inside scripts)
Spark SQL  ```x```, RLIKE, TRY_CAST,           ``CACHE TABLE name AS SELECT`` (a session view
Databricks DOUBLE/BIGINT/STRING                computed once, kept in memory)
Trino      ``"x"``, regexp_like, TRY_CAST,     a table of the connection's catalog and schema,
           date_add('day', …)                  named for the run and dropped at the end
SQLite     ``"x"``, ``REGEXP`` (a Python       ``CREATE TEMPORARY TABLE``
           function registered on the
           connection), dates as ISO text
========== ================================= ==================================================

Where a materialisation is refused (no right to create a table), the source falls back to
inlining the relation as a CTE into each statement that reads it (correct, slower) and
says so in a warning.

Every generated statement is checked in the tests by parsing it with ``sqlglot`` for the
engine, transpiling it to DuckDB and running it on the demo tables (results equal to the
DuckDB path); SQLite and Spark also run for real.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import SopError
from .dialect import DUCKDB, POSTGRESQL, Dialect, literal

#: A materialised relation is a real table (dropped when the source closes).
SCRATCH = "scratch"
#: A materialised relation is a temporary table of the session.
TEMPORARY = "temporary"
#: A materialised relation is a cached session view (Spark: ``CACHE TABLE``).
CACHED = "cached"


@dataclass(frozen=True)
class EngineDialect(Dialect):
    """A dialect whose materialisation is spelt by :meth:`create_statements`."""

    #: how a materialised relation is stored (:data:`TEMPORARY`, :data:`SCRATCH`,
    #: :data:`CACHED`)
    storage: str = TEMPORARY
    #: sqlglot's name of the dialect (for the tests' parse-and-transpile check)
    sqlglot_name: str = ""
    #: the engine stores unquoted identifiers upper case and reports result columns so
    sqlalchemy_normalizes: bool = False

    def create_statements(self, name: str, select: str) -> list[str]:
        if self.storage == CACHED:
            return [*self.drop_statements(name), f"CACHE TABLE {name} AS {select}"]
        if self.storage == SCRATCH:
            return [f"CREATE TABLE {name} AS {select}"]
        return [f"DROP TABLE IF EXISTS {name}", f"CREATE TEMPORARY TABLE {name} AS {select}"]

    def drop_statements(self, name: str) -> list[str]:
        if self.storage == CACHED:
            return [f"UNCACHE TABLE IF EXISTS {name}", f"DROP VIEW IF EXISTS {name}"]
        return [f"DROP TABLE IF EXISTS {name}"]


@dataclass(frozen=True)
class Snowflake(EngineDialect):
    def full_match(self, expr: str, pattern: str) -> str:
        return f"REGEXP_LIKE({expr}, {literal(pattern)})"  # implicitly anchored

    def to_double(self, text: str) -> str:
        value = f"TRY_CAST({text} AS DOUBLE)"
        return f"CASE WHEN ABS({value}) <= 1e15 THEN {value} END"

    def add_days(self, date: str, days: str) -> str:
        return f"DATEADD(day, {days}, {date})"


@dataclass(frozen=True)
class BigQuery(EngineDialect):
    def quote(self, identifier: str) -> str:
        return "`" + str(identifier).replace("`", "\\`") + "`"

    def full_match(self, expr: str, pattern: str) -> str:
        return f"REGEXP_CONTAINS({expr}, {literal('^(' + pattern + ')$')})"

    def to_double(self, text: str) -> str:
        value = f"SAFE_CAST({text} AS FLOAT64)"
        return f"CASE WHEN ABS({value}) <= 1e15 THEN {value} END"

    def add_days(self, date: str, days: str) -> str:
        return f"DATE_ADD({date}, INTERVAL ({days}) DAY)"


@dataclass(frozen=True)
class Spark(EngineDialect):
    def quote(self, identifier: str) -> str:
        return "`" + str(identifier).replace("`", "``") + "`"

    def full_match(self, expr: str, pattern: str) -> str:
        return f"({expr} RLIKE {literal('^(' + pattern + ')$')})"

    def to_double(self, text: str) -> str:
        value = f"TRY_CAST({text} AS DOUBLE)"
        return f"CASE WHEN ABS({value}) <= 1e15 THEN {value} END"

    def add_days(self, date: str, days: str) -> str:
        return f"DATE_ADD({date}, {days})"


@dataclass(frozen=True)
class Trino(EngineDialect):
    def full_match(self, expr: str, pattern: str) -> str:
        return f"regexp_like({expr}, {literal('^(' + pattern + ')$')})"

    def to_double(self, text: str) -> str:
        value = f"TRY_CAST({text} AS DOUBLE)"
        return f"CASE WHEN ABS({value}) <= 1e15 THEN {value} END"

    def add_days(self, date: str, days: str) -> str:
        return f"date_add('day', {days}, {date})"


@dataclass(frozen=True)
class SQLite(EngineDialect):
    """SQLite has no date type: dates are ``YYYY-MM-DD`` text (which compares and sorts
    as dates do), computed with its ``date()`` function; ``REGEXP`` calls the Python
    function :func:`register_sqlite_functions` puts on each connection."""

    def full_match(self, expr: str, pattern: str) -> str:
        return f"({expr} REGEXP {literal('^(' + pattern + ')$')})"

    def to_double(self, text: str) -> str:
        value = f"CAST({text} AS REAL)"
        return f"CASE WHEN ABS({value}) <= 1e15 THEN {value} END"

    def to_date(self, text: str) -> str:
        # the base dialect's calendar check, the date kept as its ISO text
        checked = super().to_date(text)
        return checked.replace(f"CAST(SUBSTRING({text}, 1, 10) AS DATE)",
                               f"SUBSTRING({text}, 1, 10)")

    def date_literal(self, iso: str) -> str:
        return literal(iso)

    def add_days(self, date: str, days: str) -> str:
        return f"date({date}, ({days}) || ' days')"

    def month_index(self, date: str) -> str:
        return self.period_index(date)


SNOWFLAKE = Snowflake("snowflake", text_type="VARCHAR", double_type="DOUBLE",
                      sqlglot_name="snowflake", sqlalchemy_normalizes=True)
BIGQUERY = BigQuery("bigquery", text_type="STRING", double_type="FLOAT64", bigint_type="INT64",
                    storage=SCRATCH, sqlglot_name="bigquery")
SPARK = Spark("spark", text_type="STRING", double_type="DOUBLE", storage=CACHED,
              sqlglot_name="spark")
DATABRICKS = Spark("databricks", text_type="STRING", double_type="DOUBLE", storage=CACHED,
                   sqlglot_name="databricks")
TRINO = Trino("trino", text_type="VARCHAR", double_type="DOUBLE", storage=SCRATCH,
              sqlglot_name="trino")
SQLITE = SQLite("sqlite", text_type="TEXT", double_type="REAL", storage=TEMPORARY,
                sqlglot_name="sqlite")

#: SQLAlchemy dialect names → dialect
ENGINES: dict[str, EngineDialect] = {
    "snowflake": SNOWFLAKE, "bigquery": BIGQUERY, "spark": SPARK, "databricks": DATABRICKS,
    "hive": SPARK, "trino": TRINO, "presto": TRINO, "sqlite": SQLITE,
}

#: the engines as a user names them, for messages
SUPPORTED = ("duckdb", "postgresql", "snowflake", "bigquery", "databricks", "spark", "trino",
             "sqlite")


def register_sqlite_functions(dbapi_connection, _record=None) -> None:
    """Give a sqlite3 connection the ``REGEXP`` operator (``x REGEXP p`` calls
    ``regexp(p, x)``): true when the pattern matches, NULL for a NULL text."""
    cache: dict[str, re.Pattern] = {}

    def regexp(pattern, text):
        if text is None or pattern is None:
            return None
        compiled = cache.get(pattern)
        if compiled is None:
            # '$' as a whole-text end (Python's '$' also matches before a final newline)
            compiled = cache[pattern] = re.compile(
                pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern)
        return compiled.search(str(text)) is not None

    dbapi_connection.create_function("regexp", 2, regexp, deterministic=True)


def dialect_for(name: str) -> Dialect:
    """The dialect of a SQLAlchemy dialect name (``postgresql``, ``duckdb``, ``trino``…;
    the other engines' dialects are above); an engine without one is an error naming the
    supported engines."""
    name = name.lower()
    if name == "duckdb":
        return DUCKDB
    if name in ("postgresql", "postgres"):
        return POSTGRESQL
    if name in ENGINES:
        return ENGINES[name]
    raise SopError(f"database engine {name!r} is not supported",
                   f"Supported: {', '.join(SUPPORTED)} (see the README, SQL sources).")
