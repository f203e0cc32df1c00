"""The few things that differ between SQL dialects, in one place.

Every query of :mod:`sop_workbook.sql` is portable SQL (CTEs, CASE, COALESCE, standard
aggregates, ``EXTRACT``); the only vendor-specific pieces are the helpers below:

- :meth:`Dialect.full_match` — does a text match a regular expression as a whole;
- :meth:`Dialect.to_double` — text already known to look like a decimal number → double;
- :meth:`Dialect.to_date` — text already known to look like ``YYYY-MM-DD`` → date, or NULL
  when it is not a calendar date;
- :meth:`Dialect.add_days` — date + whole days;
- type names and identifier quoting.

No ``%`` character appears in generated SQL (DBAPI drivers with the ``pyformat``
parameter style, such as psycopg, would read it as a placeholder).
"""

from __future__ import annotations

from dataclasses import dataclass

#: A decimal number as pandas.to_numeric reads it (sign, digits, point, exponent). The
#: exponent has at most 4 digits so that every dialect can convert the text safely.
NUMBER_RE = r"[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]{1,4})?"
#: An ISO date, optionally followed by a time (the loader's ``_ISO_DATE``).
ISO_DATE_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?)?"
#: A period ``YYYY-MM``.
PERIOD_RE = r"[0-9]{4}-(0[1-9]|1[0-2])"


#: characters a workbook cell cannot hold (RE2 and PostgreSQL syntax)
CONTROL_RE = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{fffe}\x{ffff}]"
#: the same class for PostgreSQL, with the characters themselves instead of escapes (its
#: text cannot hold U+0000 and refuses a \x00 escape; \uXXXX would not transpile)
CONTROL_RE_POSTGRES = ("[" + chr(1) + "-" + chr(8) + chr(11) + chr(12) + chr(14) + "-"
                       + chr(31) + "\ufffe\uffff]")


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


@dataclass(frozen=True)
class Dialect:
    """SQL spelling for one database family (see the module docstring)."""

    name: str
    text_type: str = "VARCHAR"
    double_type: str = "DOUBLE PRECISION"
    bigint_type: str = "BIGINT"
    #: temporary tables are available (staging and shared intermediate results are
    #: materialised once); otherwise they are inlined as CTEs into every query.
    temp_tables: bool = True
    #: ``ORDER BY`` on text sorts as Python sorts str (by code point: a binary collation)
    #: with NULLs last, as pandas does; then aggregates are sorted in the query.
    binary_text_order: bool = False
    #: aggregates of several parts are the parts' sums joined on the grain (FULL OUTER
    #: JOIN ... IS NOT DISTINCT FROM), rather than stacked and grouped again: needs a SUM
    #: that starts from +0.0 (so that adding zeros changes no sum) and hash joins on
    #: IS NOT DISTINCT FROM (see ``frames._join_sum``)
    joins_sums: bool = False
    #: the sales facts (shipments, sales lines due, invoices) are summed once for both
    #: grains of agg_sales and agg_customer (``GROUP BY GROUPING SETS``), into small
    #: tables both read (see ``sales.prepare``)
    grouping_sets: bool = False
    #: ``LAG(x) OVER ()`` streams through a table in one pass, without sorting or grouping
    #: (DuckDB): a key that only ever increases from one row to the next, in that order,
    #: is proved free of duplicates (see ``validation._check_keys``)
    streams_lag: bool = False

    def quote(self, identifier: str) -> str:
        if self.name == "databricks":
            return "`" + str(identifier).replace("`", "``") + "`"
        return '"' + str(identifier).replace('"', '""') + '"'

    def clean_text(self, expr: str) -> str:
        """A cell as the loader sees it: trimmed text, empty → NULL."""
        if self.name == "duckdb":
            # TRIM only where it can change something (a space, or any non-ASCII character
            # since DuckDB also trims Unicode spaces): the same result, much cheaper
            return (f"CASE WHEN contains({expr}, ' ') OR strlen({expr}) <> length({expr}) "
                    f"THEN NULLIF(TRIM({expr}), '') WHEN {expr} = '' THEN NULL ELSE {expr} END")
        return f"NULLIF(TRIM({expr}), '')"

    def full_match(self, expr: str, pattern: str) -> str:
        if self.name == "duckdb":
            return f"regexp_full_match({expr}, {literal(pattern)})"
        if self.name == "postgresql":
            return f"({expr} ~ {literal('^(' + pattern + ')$')})"
        if self.name == "snowflake":
            return f"REGEXP_LIKE({expr}, {literal(pattern)})"
        if self.name == "databricks":
            return f"({expr} RLIKE {literal('^(' + pattern + ')$')})"
        return f"regexp_like({expr}, {literal('^(' + pattern + ')$')})"  # trino and others

    def length(self, expr: str) -> str:
        """SQL: a text's length in characters."""
        return f"char_length({expr})" if self.name == "postgresql" else f"LENGTH({expr})"

    def has_control_character(self, expr: str) -> str | None:
        """SQL: does a text hold a character a workbook cannot (XML 1.0: U+0000–U+0008,
        U+000B, U+000C, U+000E–U+001F, U+FFFE, U+FFFF)? None where not expressible."""
        if self.name == "duckdb":
            # the regex only where url_encode changes the text (anything but ASCII letters,
            # digits and -._~, which every such character is): codes and numbers, the bulk
            # of a large table's text, pass on a much cheaper test
            return (f"CASE WHEN strlen(url_encode({expr})) = strlen({expr}) THEN FALSE "
                    f"ELSE regexp_matches({expr}, {literal(CONTROL_RE)}) END")
        if self.name == "postgresql":  # its text cannot hold U+0000 at all
            return f"({expr} ~ {literal(CONTROL_RE_POSTGRES)})"
        return None

    def number(self, text: str) -> str:
        """Trimmed text → double, as the loader reads numbers (pandas.to_numeric: a decimal
        with optional sign and exponent), NULL when not a number or beyond ±1e15."""
        if self.name == "duckdb":
            # DuckDB's cast reads what pandas reads, plus '_' digit separators and '+-5'
            value = f"TRY_CAST({text} AS DOUBLE)"
            return (f"CASE WHEN ABS({value}) <= 1e15 AND NOT contains({text}, '_') "
                    f"AND NOT contains({text}, '+-') THEN {value} END")
        return f"CASE WHEN {self.full_match(text, NUMBER_RE)} THEN {self.to_double(text)} END"

    def date(self, text: str) -> str:
        """Trimmed text → date, as the loader reads dates: ``YYYY-MM-DD`` (optionally with a
        time) or else an Excel date serial; NULL unless a date in 1900-01-01..2199-12-31."""
        # an Excel serial: day 1 is 1899-12-31, so 2..109574 is 1900-01-01..2199-12-31
        n = self.number(text)
        day = self.add_days(self.date_literal("1899-12-30"), f"CAST(FLOOR({n}) AS INTEGER)")
        serial = f"CASE WHEN {n} >= 2 AND {n} <= 109574 THEN {day} END"
        slow = (f"CASE WHEN {self.full_match(text, ISO_DATE_RE)} THEN {self.to_date(text)} "
                f"ELSE {serial} END")
        if self.name == "duckdb":  # the common case first: exactly YYYY-MM-DD
            return (f"CASE WHEN {text} LIKE '____-__-__' THEN {self._ten_to_date(text)} "
                    f"ELSE {slow} END")
        return slow

    def number_raw(self, raw: str, clean: str) -> str:
        """:meth:`number` of the cleaned text ``clean`` of ``raw``; DuckDB reads the raw
        text first (its cast ignores surrounding spaces) and cleans only what it rejects."""
        if self.name == "duckdb":
            return (f"CASE WHEN TRY_CAST({raw} AS DOUBLE) IS NOT NULL THEN {self.number(raw)} "
                    f"ELSE {self.number(clean)} END")
        return self.number(clean)

    def date_raw(self, raw: str, clean: str) -> str:
        """:meth:`date` of the cleaned text ``clean`` of ``raw`` (DuckDB: exactly
        ``YYYY-MM-DD`` is read from the raw text, anything else is cleaned first)."""
        if self.name == "duckdb":
            return (f"CASE WHEN {raw} LIKE '____-__-__' THEN {self._ten_to_date(raw)} "
                    f"ELSE {self.date(clean)} END")
        return self.date(clean)

    def to_double(self, text: str) -> str:
        """``text`` matches :data:`NUMBER_RE`; NULL when beyond ±1e15 (never an error)."""
        if self.name == "postgresql":
            # via NUMERIC (exact, any exponent of 4 digits) so the range test cannot overflow
            num = f"CAST({text} AS NUMERIC)"
            return (f"CASE WHEN ABS({num}) > 1e15 THEN NULL "
                    f"WHEN ABS({num}) < 1e-300 THEN CAST(0 AS DOUBLE PRECISION) "
                    f"ELSE CAST({text} AS DOUBLE PRECISION) END")
        cast = "TRY_CAST" if self.name in ("trino", "snowflake", "databricks") else "CAST"
        value = f"{cast}({text} AS {self.double_type})"
        return f"CASE WHEN ABS({value}) <= 1e15 THEN {value} END"

    def to_date(self, text: str) -> str:
        """``text`` starts with ``YYYY-MM-DD`` (checked); the date, NULL if not a calendar
        date between 1900-01-01 and 2199-12-31."""
        ymd = f"SUBSTRING({text}, 1, 10)"
        if self.name == "duckdb":
            date = f"TRY_CAST({ymd} AS DATE)"
            return (f"CASE WHEN {date} BETWEEN DATE '1900-01-01' AND DATE '2199-12-31' "
                    f"THEN {date} END")
        # Portable: check the calendar arithmetically, then cast (never an error).
        y = f"CAST(SUBSTRING({text}, 1, 4) AS INTEGER)"
        m = f"CAST(SUBSTRING({text}, 6, 2) AS INTEGER)"
        d = f"CAST(SUBSTRING({text}, 9, 2) AS INTEGER)"
        leap = f"(MOD({y}, 4) = 0 AND MOD({y}, 100) <> 0 OR MOD({y}, 400) = 0)"
        last = (f"CASE WHEN {m} = 2 THEN CASE WHEN {leap} THEN 29 ELSE 28 END "
                f"WHEN {m} IN (4, 6, 9, 11) THEN 30 ELSE 31 END")
        return (f"CASE WHEN {y} BETWEEN 1900 AND 2199 AND {m} BETWEEN 1 AND 12 "
                f"AND {d} >= 1 THEN CASE WHEN {d} <= {last} THEN CAST({ymd} AS DATE) END END")

    def _ten_to_date(self, text: str) -> str:
        """DuckDB: :meth:`to_date` of a text known to match ``LIKE '____-__-__'`` (ten
        characters, so its first ten characters are the whole text: no SUBSTRING, which
        is the costly part)."""
        date = f"TRY_CAST({text} AS DATE)"
        return (f"CASE WHEN {date} BETWEEN DATE '1900-01-01' AND DATE '2199-12-31' "
                f"THEN {date} END")

    def date_literal(self, iso: str) -> str:
        """A date constant (``iso``: ``YYYY-MM-DD``)."""
        return f"DATE {literal(iso)}"

    def create_statements(self, name: str, select: str) -> list[str]:
        """Statements materialising ``select`` as the relation ``name`` (where
        :attr:`temp_tables`); :mod:`.dialects` spells other engines' ways."""
        return [f"DROP TABLE IF EXISTS {name}", f"CREATE TEMPORARY TABLE {name} AS {select}"]

    def drop_statements(self, name: str) -> list[str]:
        return [f"DROP TABLE IF EXISTS {name}"]

    def add_days(self, date: str, days: str) -> str:
        if self.name in ("duckdb", "postgresql"):
            return f"({date} + {days})"
        if self.name == "trino":
            return f"date_add('day', {days}, {date})"
        if self.name in ("snowflake", "databricks"):
            return f"DATEADD(day, {days}, {date})"
        return f"({date} + {days})"

    def month_index(self, date: str) -> str:
        """A date's month as ``year × 12 + month − 1`` (an integer)."""
        return (f"(CAST(EXTRACT(YEAR FROM {date}) AS INTEGER) * 12 "
                f"+ CAST(EXTRACT(MONTH FROM {date}) AS INTEGER) - 1)")

    def period_index(self, period: str) -> str:
        """A validated ``YYYY-MM`` text's month index."""
        return (f"(CAST(SUBSTRING({period}, 1, 4) AS INTEGER) * 12 "
                f"+ CAST(SUBSTRING({period}, 6, 2) AS INTEGER) - 1)")


DUCKDB = Dialect("duckdb", text_type="VARCHAR", double_type="DOUBLE", binary_text_order=True,
                 joins_sums=True, grouping_sets=True, streams_lag=True)
POSTGRESQL = Dialect("postgresql", text_type="TEXT")

