"""Validate a source against the data contract in SQL, and stage its typed tables.

Each contract table is *staged* once: a temporary table ``sop_stg_<table>`` (or a CTE where
the dialect has no temporary tables) with one column per contract column, typed as the
loader types it, plus ``bad__<column>`` holding the cell's text where it could not be
parsed (NULL otherwise). Parsing follows :mod:`sop_workbook.loader` exactly: cells are
trimmed text, empty cells are NULL; numbers are decimals within ±1e15; whole numbers for
``int`` columns; dates ``YYYY-MM-DD`` (optionally with a time) or an Excel date serial,
1900–2199; periods ``YYYY-MM``; booleans true/false, yes/no, 1/0 (any case); enumerated
text is lower-cased. Absent tables and optional columns are staged empty / NULL.

Then the same kinds of problems as the loader are collected — missing required columns,
unparseable values, empty required cells, rows without a due date, duplicate keys,
unknown references, enumeration violations — each as :class:`~sop_workbook.errors.Problem`
(table, row, column, message). In a file, ``row`` is the row as numbered in the file (CSV
header = row 1); a database table has no row numbers, so ``row`` is None and the message
names the row's key (``order_no=SO1, line_no=2``). At most
:data:`MAX_PROBLEMS_PER_CHECK` rows are listed per check, then "... and N more".
Only the listed rows travel from the database to Python.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import pandas as pd

from .. import contract as c
from ..contract import bad_value_message
from ..errors import Problem
from .dialect import PERIOD_RE, Dialect, literal
from .sources import MAX_CELL_CHARS, Source, SourceTable, Task, file_problem
from .typed import shown_text, stays_typed, typed_value

MAX_PROBLEMS_PER_CHECK = 20
#: Files of at least this size are staged one at a time (DuckDB reads them on all cores).
LARGE_FILE = 16 << 20

_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")
_PARSED = (c.NUMBER, c.INT, c.DATE, c.PERIOD, c.BOOL)


def staged(table: str) -> str:
    """Name of the staged (typed) relation of a contract table."""
    return f"sop_stg_{table}"


def sql_type(kind: str, d: Dialect) -> str:
    return {c.NUMBER: d.double_type, c.INT: d.bigint_type, c.DATE: "DATE",
            c.BOOL: "BOOLEAN"}.get(kind, d.text_type)


def has_bad_column(spec: c.TableSpec, column: str) -> bool:
    return spec.type_of(column) in _PARSED or column in spec.enums


# --------------------------------------------------------------------------- staging


def kept_columns(spec: c.TableSpec, columns: dict[str, str] | None,
                 native: dict[str, str] | None, d: Dialect) -> set[str]:
    """The present columns staged from their native values (:func:`.typed.stays_typed`)."""
    return {col for col in spec.columns if col in (columns or {}) and col not in spec.enums
            and stays_typed(spec.type_of(col), (native or {}).get(col), d)}


def staging_select(spec: c.TableSpec, columns: dict[str, str] | None, relation: str | None,
                   d: Dialect, native: dict[str, str] | None = None,
                   flag_kept: bool = False) -> str:
    """SELECT producing the staged table from the source relation (``columns``: contract
    column → quoted source column). ``relation`` None → an empty table of the right types.
    ``native``: the native kinds of source columns (:mod:`.typed`); a column whose kind is
    the contract's is staged from its value, without parsing its text. ``flag_kept``:
    instead of the ``bad__`` text of each such column, one column ``sop_kept_bad``, TRUE
    where any of them holds a value the contract rejects (NULL otherwise).
    """
    q = d.quote
    if relation is None:
        cols = [f"CAST(NULL AS {sql_type(spec.type_of(col), d)}) AS {q(col)}"
                for col in spec.columns]
        cols += [f"CAST(NULL AS {d.text_type}) AS {q('bad__' + col)}"
                 for col in spec.columns if has_bad_column(spec, col)]
        return _empty_select(cols, d)
    present = [col for col in spec.columns if col in (columns or {})]
    # level 1: trimmed text, empty → NULL
    direct = {c.NUMBER, c.INT, c.DATE}  # parsed from the raw text (fast paths), see Dialect

    def is_direct(col: str) -> bool:
        return spec.type_of(col) in direct and col not in spec.enums

    def clean(col: str) -> str:
        return d.clean_text(q("r__" + col))

    kept = kept_columns(spec, columns, native, d)

    # level 0: the source column as text; level 1: cleaned text (trimmed, empty → NULL)
    l0 = [f"{columns[col]} AS {q('r__' + col)}" if col in kept else
          f"CAST({columns[col]} AS {d.text_type}) AS {q('r__' + col)}" for col in present]
    l1 = [q("r__" + col) if is_direct(col) or col in kept else
          f"{clean(col)} AS {q('t__' + col)}" for col in present]
    # level 2: numbers of whole-number columns
    l2: list[str] = []
    for col in present:
        if col in kept:
            l2.append(q("r__" + col))
        elif is_direct(col):
            l2.append(q("r__" + col))
            if spec.type_of(col) == c.INT:
                l2.append(f"{d.number_raw(q('r__' + col), clean(col))} AS {q('n__' + col)}")
        else:
            l2.append(q("t__" + col))
    # level 3: typed values (and the text kept for level 4)
    l3: list[str] = []
    for col in present:
        t, r = q("t__" + col), q("r__" + col)
        kind = spec.type_of(col)
        if col in kept:
            l3 += [f"{typed_value(kind, native[col], r, d)} AS {q(col)}", r]
            continue
        if col in spec.enums:
            typed = f"LOWER({t})"
        elif kind == c.NUMBER:
            typed = d.number_raw(r, clean(col))
        elif kind == c.INT:
            n = q("n__" + col)
            typed = f"CASE WHEN {n} = FLOOR({n}) THEN CAST({n} AS {d.bigint_type}) END"
        elif kind == c.DATE:
            typed = d.date_raw(r, clean(col))
        elif kind == c.PERIOD:
            typed = (f"CASE WHEN {d.full_match(t, PERIOD_RE)} THEN CASE WHEN "
                     f"CAST(SUBSTRING({t}, 1, 4) AS INTEGER) BETWEEN 1900 AND 2199 "
                     f"THEN {t} END END")
        elif kind == c.BOOL:
            typed = (f"CASE WHEN LOWER({t}) IN ({', '.join(map(literal, _TRUE))}) THEN TRUE "
                     f"WHEN LOWER({t}) IN ({', '.join(map(literal, _FALSE))}) THEN FALSE END")
        else:
            typed = t
        l3.append(f"{typed} AS {q(col)}")
        if is_direct(col):
            l3.append(r)
        elif has_bad_column(spec, col):
            l3.append(t)
    # level 4: typed values and the text of unparseable cells
    l4: list[str] = []
    for col in spec.columns:
        kind = spec.type_of(col)
        if col in present:
            l4.append(q(col))
        else:
            l4.append(f"CAST(NULL AS {sql_type(kind, d)}) AS {q(col)}")
    for col in spec.columns:
        if not has_bad_column(spec, col):
            continue
        bad = q("bad__" + col)
        t = q("t__" + col)
        if col not in present:
            l4.append(f"CAST(NULL AS {d.text_type}) AS {bad}")
        elif col in kept:
            r = q("r__" + col)
            if not flag_kept:
                l4.append(f"CASE WHEN {q(col)} IS NULL AND {r} IS NOT NULL THEN "
                          f"{shown_text(r, d)} END AS {bad}")
        elif col in spec.enums:
            allowed = ", ".join(literal(v) for v in spec.enums[col])
            l4.append(f"CASE WHEN {q(col)} NOT IN ({allowed}) THEN {t} END AS {bad}")
        elif is_direct(col):
            l4.append(f"CASE WHEN {q(col)} IS NULL THEN {clean(col)} END AS {bad}")
        else:
            l4.append(f"CASE WHEN {t} IS NOT NULL AND {q(col)} IS NULL THEN {t} END AS {bad}")
    if flag_kept and kept:
        rejected = " OR ".join(f"({q(col)} IS NULL AND {q('r__' + col)} IS NOT NULL)"
                               for col in spec.columns if col in kept)
        l4.append(f"CASE WHEN {rejected} THEN TRUE END AS sop_kept_bad")
    return (f"SELECT {', '.join(l4)} FROM (SELECT {', '.join(l3)} FROM (SELECT "
            f"{', '.join(l2)} FROM (SELECT {', '.join(l1)} FROM (SELECT {', '.join(l0)} "
            f"FROM {relation}) AS sop_r0) AS sop_r1) AS sop_r2) AS sop_r3")


def _empty_select(columns: list[str], d: Dialect) -> str:
    body = f"SELECT {', '.join(columns)}"
    if d.name == "duckdb" or d.name == "postgresql":
        return f"{body} WHERE 1 = 0"
    return f"SELECT * FROM ({body}) AS sop_e WHERE 1 = 0"


# --------------------------------------------------------------------------- checks


@dataclass
class StageResult:
    """What staging found: problems, tables that lack required columns (references to and
    from them cannot be checked), and the row count of each staged table."""

    problems: list[Problem]
    broken: set[str]
    rows: dict[str, int]


def stage_and_validate(src: Source) -> StageResult:
    """Stage every contract table of ``src`` and check it (see the module docstring)."""
    checks = Validation(src)
    return checks.result(src.run_tasks(checks.tasks))


class Validation:
    """Staging and checking a source as tasks for :meth:`Source.run_tasks`: each table is
    staged and its rows checked (``stage:<table>``, the largest first), then its key
    checked for duplicates (``keys:<table>``) and its references (``refs:<table>``, once
    the tables it references are staged too). :meth:`result` lists the problems in
    contract order."""

    def __init__(self, src: Source, first: tuple[str, ...] = (),
                 known: dict[tuple[str, str], tuple[str, Callable[[], bool]]] | None = None,
                 values: dict[str, tuple[str, Callable[[], dict[str, str]]]] | None = None
                 ) -> None:
        """``first``: tables to stage before the others (then the largest first).
        ``known``: references answered by another task of the same run — (table,
        referenced table) → (that task's name, a function telling, once it ran, whether
        every row's reference is known: True skips the reference's own check).
        ``values``: tables whose columns' values another task of the same run gathers in
        a much smaller relation — table → (that task's name, a function giving, once it
        ran, column → a relation (SQL) holding that column with every value it takes in
        the table, or {} if the task did not make them): a one-column reference looks
        for unknown values there first."""
        self.src = src
        self.known = known or {}
        self.values = values or {}
        names = list(c.TABLES)
        self.broken = {name for name in names if name in src.tables
                       and _missing_columns(c.TABLES[name], src.tables[name])}
        # a file that cannot be read at all: its problem is reported, not every reference
        # to it (hundreds of knock-on "unknown item" lines)
        self.broken |= {problem.table for problem in src.problems}
        self.staged: dict[str, tuple[list[Problem], int | None, bool]] = {}
        self.keyed: dict[str, list[Problem]] = {}
        #: master table with no rows → {referring table: rows referring to it}
        self.orphans: dict[str, dict[str, int]] = {}
        order = sorted(names, key=lambda name: (name not in first, -_size(src, name)))
        self.tasks = [Task(f"stage:{name}", partial(self._stage, name),
                           solo=_size(src, name) >= LARGE_FILE) for name in order]
        self.references: dict[str, list[c.Reference]] = {}
        for name in order:
            refs = [] if name in self.broken else _checkable_references(src, name, self.broken)
            if refs:
                self.references[name] = refs
        self.tasks += [Task(f"refs:{name}", partial(self._references, name),
                            needs=tuple(dict.fromkeys(
                                [f"stage:{name}", *(f"stage:{r.table}" for r in refs),
                                 *(self.known[name, r.table][0] for r in refs
                                   if (name, r.table) in self.known),
                                 *([self.values[name][0]] if name in self.values else [])])))
                       for name, refs in self.references.items()]
        self.tasks += [Task(f"keys:{name}", partial(self._keys, name), needs=(f"stage:{name}",))
                       for name in order]

    def checked(self, names: tuple[str, ...] | None = None) -> tuple[str, ...]:
        """The tasks after which the tables ``names`` (all: None) are staged and their
        rows and keys checked."""
        return tuple(f"{step}:{name}" for name in (c.TABLES if names is None else names)
                     for step in ("stage", "keys"))

    def _stage(self, name: str) -> None:
        self.staged[name] = _stage_table(self.src, name)

    def _keys(self, name: str) -> None:
        keyed = self.staged[name][2]
        self.keyed[name] = _check_keys(self.src, c.TABLES[name]) if keyed else []

    def _references(self, name: str) -> list[Problem]:
        if not self.staged[name][1]:  # no rows (or none staged)
            return []
        # not to a file found unreadable
        refs = [ref for ref in self.references[name] if self.staged[ref.table][1] is not None]
        # a master table that is missing or empty: one problem for it (see result), not
        # one "not a known …" per row that refers to it
        empty = [ref for ref in refs if ref.table in c.MASTER_TABLES
                 and not self.staged[ref.table][1]]
        for ref in empty:
            n = _referring_rows(self.src, name, ref)
            if n:
                self.orphans.setdefault(ref.table, {})[name] = n
        rest = [ref for ref in refs if ref not in empty and not (
            (name, ref.table) in self.known and self.known[name, ref.table][1]())]
        if not rest:
            return []
        gathered = self.values[name][1]() if name in self.values else {}
        return _check_references(self.src, name, rest, gathered)

    def passed(self, names: tuple[str, ...] | None = None) -> bool:
        """No problem with the source's files and the rows and keys of the tables ``names``
        (all: None), once :meth:`checked` (their references may still be being checked)."""
        return not self.src.problems and all(
            not self.staged[name][0] and not self.keyed[name]
            for name in (c.TABLES if names is None else names))

    def result(self, done: dict[str, object]) -> StageResult:
        """The problems (in contract order) once every task has run (``done``: their
        results by name)."""
        problems = list(self.src.problems)
        rows: dict[str, int] = {}
        for name in c.TABLES:
            table_problems, n, _ = self.staged[name]
            problems += table_problems + self.keyed[name]
            if name in self.orphans:
                problems.append(c.empty_master_problem(name, name not in self.src.tables,
                                                       self.orphans[name]))
            if n is not None:
                rows[name] = n
        for name in c.TABLES:
            if name in self.references:
                problems += done[f"refs:{name}"]
        return StageResult(problems, self.broken, rows)


def _missing_columns(spec: c.TableSpec, table: SourceTable) -> list[str]:
    return [col for col in spec.required if col not in table.columns]


def _size(src: Source, name: str) -> int:
    """The size of a table's file (0 in a database): the order to stage tables in."""
    table = src.tables.get(name)
    if not src.is_files or table is None:
        return 0
    try:
        return os.path.getsize(table.where)
    except OSError:
        return 0


def _stage_table(src: Source, name: str) -> tuple[list[Problem], int | None, bool]:
    """Stage one contract table and check its rows: its problems, row count (None when
    required columns are missing: the table is *broken*) and whether its key can be
    checked for duplicates (:func:`_check_keys`: rows, none without a key)."""
    d = src.dialect
    spec = c.TABLES[name]
    table = src.tables.get(name)
    if table is None:
        src.materialize(staged(name), staging_select(spec, None, None, d))
        return [], 0, False
    problems = list(table.duplicates)
    missing = _missing_columns(spec, table)
    for col in missing:
        problems.append(Problem(name, 1 if table.first_row == 2 else None, col,
                                "required column is missing"))
    if missing:
        src.materialize(staged(name), staging_select(spec, None, None, d))
        return problems, None, False
    kept = kept_columns(spec, table.columns, table.native, d) if src.drops_columns else set()
    try:
        try:
            # typed columns flagged in one column rather than their text kept in one
            # column each (NULL throughout in a valid source): the table holds less
            src.materialize(staged(name), staging_select(spec, table.columns, table.relation,
                                                          d, table.native, flag_kept=bool(kept)))
            if kept:
                _unflag_kept(src, spec, table, kept)
        except Exception:
            if table.fallback is None:
                raise
            # the file as DuckDB reads it by itself (its own error, if it fails too)
            src.materialize(staged(name), staging_select(spec, table.columns, table.fallback,
                                                          d))
    except Exception as exc:  # a file that DuckDB cannot parse past its header
        if not src.is_files:
            raise
        problems.append(file_problem(name, table.where, exc))
        src.materialize(staged(name), staging_select(spec, None, None, d))
        return problems, None, False  # unreadable: references to it are not checked
    table_problems, n, keyed = _check_table(src, spec)
    return problems + table_problems, n, keyed


def _unflag_kept(src: Source, spec: c.TableSpec, table: SourceTable, kept: set[str]) -> None:
    """After staging with ``flag_kept``: no value rejected → the flag column is dropped
    (the ``bad__`` columns of the kept columns are recorded as absent); else the table is
    staged again with each column's ``bad__`` text, to list the rejected values."""
    stg = staged(spec.name)
    found = src.query(f"SELECT COUNT(*) AS n FROM {stg} WHERE sop_kept_bad")
    if int(_num(found.iloc[0]["n"])):
        src.materialize(stg, staging_select(spec, table.columns, table.relation, src.dialect,
                                            table.native))
        return
    src.drop_columns(stg, ["sop_kept_bad"])
    src.dropped_columns.setdefault(stg, set()).update(f"bad__{col}" for col in kept)


def _checkable_references(src: Source, name: str, broken: set[str]) -> list[c.Reference]:
    """The references of a table that can be checked: to a table that is not broken, by
    columns the source has."""
    present = _present(src, name)
    return [ref for ref in c.TABLES[name].references
            if ref.table not in broken and all(col in present for col in ref.columns)]


def _check_references(src: Source, name: str, refs: list[c.Reference],
                      gathered: dict[str, str] | None = None) -> list[Problem]:
    """The problems of a table's references: the rows of each reference listed only
    where a value is unknown (for one-column references, first looked for among the
    column's distinct values, a much smaller set, all references of the table at once;
    ``gathered``: column → a relation holding its values, read instead of the table)."""
    spec = c.TABLES[name]
    single = [ref for ref in refs if len(ref.columns) == 1]
    unknown = dict(zip(single, _has_unknown_values(src, spec, single, gathered),
                       strict=True))
    return [problem for ref in refs if unknown.get(ref, True)
            for problem in _check_reference(src, spec, ref)]


def _referring_rows(src: Source, name: str, ref: c.Reference) -> int:
    """How many rows of table ``name`` give a value for the reference ``ref``."""
    q = src.dialect.quote
    given = " AND ".join(f"{q(col)} IS NOT NULL" for col in ref.columns)
    return int(_num(src.query(f"SELECT COUNT(*) AS n FROM {staged(name)} WHERE {given}"
                              ).iloc[0]["n"]))


def _has_unknown_values(src: Source, spec: c.TableSpec, refs: list[c.Reference],
                        gathered: dict[str, str] | None = None) -> list[bool]:
    """For one-column references: does the column hold a value (not NULL) that is not a
    key of the referenced table (``gathered``: column → a relation holding every value
    of the column, read instead of the staged table)."""
    if not refs:
        return []
    q = src.dialect.quote
    counts = []
    for i, ref in enumerate(refs):
        col, key = q(ref.columns[0]), q(ref.key[0])
        values = (gathered or {}).get(ref.columns[0], staged(spec.name))
        counts.append(
            f"(SELECT COUNT(*) FROM (SELECT DISTINCT s.{col} AS sop_v FROM "
            f"{values} AS s WHERE s.{col} IS NOT NULL) AS sop_d WHERE NOT EXISTS "
            f"(SELECT 1 FROM {staged(ref.table)} AS t WHERE t.{key} = sop_d.sop_v)) AS sop_u{i}")
    row = src.query(f"SELECT {', '.join(counts)}").iloc[0]
    return [bool(_num(row[f"sop_u{i}"])) for i in range(len(refs))]


def _present(src: Source, name: str) -> set[str]:
    table = src.tables.get(name)
    return set(table.columns) if table else set()


@dataclass
class _Check:
    column: str
    condition: str
    value: str | None  # SQL of the text shown in the message
    message: object  # callable(value) -> str


def _row_checks(spec: c.TableSpec, present: set[str], d: Dialect,
                absent: set[str] = frozenset()) -> list[_Check]:
    """``absent``: ``bad__`` columns the staged table does not hold (none rejected)."""
    q = d.quote
    checks: list[_Check] = []
    for col in spec.columns:
        if col not in present:
            continue
        kind = spec.type_of(col)
        bad = q("bad__" + col)
        has_bad = has_bad_column(spec, col) and f"bad__{col}" not in absent
        if col in spec.enums:
            allowed = spec.enums[col]
            checks.append(_Check(col, f"{bad} IS NOT NULL", bad,
                                 lambda v, a=allowed: f"{v!r} is not one of {', '.join(a)}"))
        elif kind in _PARSED and has_bad:
            checks.append(_Check(col, f"{bad} IS NOT NULL", bad,
                                 lambda v, k=kind: bad_value_message(k, v)))
        if col in spec.required and col not in spec.nullable:
            empty = f"{q(col)} IS NULL" + (f" AND {bad} IS NULL" if has_bad else "")
            checks.append(_Check(col, empty, None, lambda v: "value is empty (required)"))
    referencing = {col for ref in spec.references for col in ref.columns}
    for col in spec.columns:  # text landing in the workbook (references match a master key)
        condition = d.has_control_character(q(col))
        if (col in present and condition and spec.type_of(col) == c.TEXT
                and col not in spec.enums and col not in referencing):
            checks.append(_Check(col, f"{q(col)} IS NOT NULL AND ({condition} OR "
                                 f"{d.length(q(col))} > {MAX_CELL_CHARS})", q(col),
                                 control_character_message))
    if spec.name == "sales_lines":
        def given(col):
            if f"bad__{col}" in absent:
                return f"({q(col)} IS NOT NULL)"
            return f"({q(col)} IS NOT NULL OR {q('bad__' + col)} IS NOT NULL)"
        checks.append(_Check(
            "promised_date", f"NOT {given('promised_date')} AND NOT {given('requested_date')}",
            None, lambda v: "empty, and requested_date is empty too: the line has no due date"))
    return checks


def control_character_message(value) -> str:
    """The message for a text a workbook cell cannot hold: too long, or holding a
    character it cannot hold."""
    text = str(value)
    if len(text) > MAX_CELL_CHARS:
        return f"a text of {len(text):,} characters (a cell holds at most {MAX_CELL_CHARS:,})"
    bad = next((ch for ch in text if (ord(ch) < 32 and ch not in "\t\n\r")
                or ch in "\ufffe\uffff"), None)
    code = f"U+{ord(bad):04X}" if bad is not None else "a control character"
    return f"{text[:40]!r} contains the character {code}, which a workbook cannot hold"


def _key_select(src: Source, spec: c.TableSpec, alias: str) -> list[str]:
    """Columns naming a row by its key: typed value and, where parsed, the raw text."""
    d = src.dialect
    out = []
    dropped = src.dropped_columns.get(staged(spec.name), set())
    for i, col in enumerate(spec.key):
        out.append(f"{alias}.{d.quote(col)} AS sop_k{i}")
        if has_bad_column(spec, col) and f"bad__{col}" not in dropped:
            out.append(f"{alias}.{d.quote('bad__' + col)} AS sop_b{i}")
        else:
            out.append(f"CAST(NULL AS {d.text_type}) AS sop_b{i}")
    return out


def _key_text(spec: c.TableSpec, record) -> str:
    parts = []
    for i, col in enumerate(spec.key):
        value = record[f"sop_k{i}"]
        if _missing(value):
            value = record[f"sop_b{i}"]
        parts.append(f"{col}={'(empty)' if _missing(value) else _plain(value)}")
    return ", ".join(parts)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA \
        or value is pd.NaT


def _plain(value):
    """A fetched value as Python (whole floats of integer columns as int)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _order(src: Source, spec: c.TableSpec, alias: str) -> tuple[str | None, str]:
    row = src.row_number(spec.name, alias)
    if row is not None:
        return row, row
    return None, ", ".join(f"{alias}.{src.dialect.quote(col)}" for col in spec.key)


def _listed(src: Source, spec: c.TableSpec, column: str, frame: pd.DataFrame, total: int,
            message) -> list[Problem]:
    """Problems for the listed rows of one check, plus the "... and N more" line."""
    problems = []
    first_where = None
    for _, rec in frame.iterrows():
        text = message(rec)
        if "sop_row" in rec and not _missing(rec["sop_row"]):
            row = int(rec["sop_row"])
            first_where = first_where or f"row {row}"
            problems.append(Problem(spec.name, row, column, text))
        else:
            key = _key_text(spec, rec)
            first_where = first_where or f"({key})"
            problems.append(Problem(spec.name, None, column, f"{text} ({key})"))
    if total > len(frame):
        problems.append(Problem(spec.name, None, column,
                                f"... and {total - len(frame)} more rows like {first_where}"))
    return problems


def _check_table(src: Source, spec: c.TableSpec) -> tuple[list[Problem], int, bool]:
    """The problems of a staged table's rows, its row count, and whether its key can be
    checked for duplicates (rows, none without a key)."""
    d = src.dialect
    q = d.quote
    stg = staged(spec.name)
    present = _present(src, spec.name)
    absent = src.dropped_columns.get(stg, set())
    checks = _row_checks(spec, present, d, absent)
    null_key = " OR ".join(f"{q(col)} IS NULL" for col in spec.key)
    sums = [f"SUM(CASE WHEN {chk.condition} THEN 1 ELSE 0 END) AS sop_c{i}"
            for i, chk in enumerate(checks)]
    sums.append(f"SUM(CASE WHEN {null_key} THEN 1 ELSE 0 END) AS sop_nullkey")
    counts = src.query(f"SELECT COUNT(*) AS sop_n, {', '.join(sums)} FROM {stg}").iloc[0]
    n_rows = int(counts["sop_n"])
    problems: list[Problem] = []
    row_sql, order = _order(src, spec, "s")
    row_col = [f"{row_sql} AS sop_row"] if row_sql else []
    for i, chk in enumerate(checks):
        total = int(_num(counts[f"sop_c{i}"]))
        if not total:
            continue
        value = [f"s.{chk.value} AS sop_v"] if chk.value else []
        frame = src.query(
            f"SELECT {', '.join([*row_col, *_key_select(src, spec, 's'), *value])} "
            f"FROM {stg} AS s WHERE {chk.condition} "
            f"ORDER BY {order} LIMIT {MAX_PROBLEMS_PER_CHECK}")
        problems += _listed(src, spec, chk.column, frame, total,
                            lambda rec, m=chk.message: m(rec.get("sop_v")))
    # the text of unparseable cells is read only to list them: a column of them that is
    # empty throughout is dropped (an engine that stores tables in memory frees it)
    flagged = {chk.column for i, chk in enumerate(checks)
               if chk.value == q("bad__" + chk.column) and _num(counts[f"sop_c{i}"])}
    src.drop_columns(stg, [f"bad__{col}" for col in spec.columns
                           if has_bad_column(spec, col) and col not in flagged
                           and f"bad__{col}" not in absent])
    return problems, n_rows, bool(n_rows and not _num(counts["sop_nullkey"]))


def _num(value) -> float:
    return 0.0 if _missing(value) else float(value)


def _check_keys(src: Source, spec: c.TableSpec) -> list[Problem]:
    d = src.dialect
    q = d.quote
    stg = staged(spec.name)
    keys = ", ".join(q(col) for col in spec.key)
    if d.streams_lag and _increasing_keys(src, stg, keys):
        return []
    found = src.query(f"SELECT COUNT(*) AS sop_keys, SUM(sop_n - 1) AS sop_extra FROM "
                      f"(SELECT COUNT(*) AS sop_n FROM {stg} GROUP BY {keys} "
                      f"HAVING COUNT(*) > 1) AS sop_d").iloc[0]
    if not _num(found["sop_extra"]):
        return []
    label = "+".join(spec.key)
    join = " AND ".join(f"s.{q(col)} = g.{q(col)}" for col in spec.key)
    row_sql = src.row_number(spec.name, "s")
    if row_sql is not None:
        # every repeat of a key, with the row of its first occurrence
        frame = src.query(
            f"WITH g AS (SELECT {keys}, MIN({src.row_number(spec.name, stg)}) AS sop_first "
            f"FROM {stg} GROUP BY {keys} HAVING COUNT(*) > 1) "
            f"SELECT {row_sql} AS sop_row, g.sop_first, {', '.join(_key_select(src, spec, 's'))} "
            f"FROM {stg} AS s JOIN g ON {join} WHERE {row_sql} > g.sop_first "
            f"ORDER BY sop_row LIMIT {MAX_PROBLEMS_PER_CHECK}")

        def message(rec):
            values = tuple(_plain(rec[f"sop_k{i}"]) for i in range(len(spec.key)))
            shown = values[0] if len(values) == 1 else values
            return f"duplicate key {shown!r} (first at row {int(rec['sop_first'])})"

        return _listed(src, spec, label, frame, int(_num(found["sop_extra"])), message)
    # a database: each duplicated key once, with its number of rows
    frame = src.query(
        f"SELECT {', '.join(f'{q(col)} AS sop_k{i}' for i, col in enumerate(spec.key))}, "
        f"{', '.join(f'CAST(NULL AS {d.text_type}) AS sop_b{i}' for i in range(len(spec.key)))}, "
        f"COUNT(*) AS sop_count FROM {stg} GROUP BY {keys} HAVING COUNT(*) > 1 "
        f"ORDER BY {', '.join(f'sop_k{i}' for i in range(len(spec.key)))} "
        f"LIMIT {MAX_PROBLEMS_PER_CHECK}")
    problems = [Problem(spec.name, None, label,
                        f"duplicate key {_key_text(spec, rec)} ({int(rec['sop_count'])} rows)")
                for _, rec in frame.iterrows()]
    total = int(_num(found["sop_keys"]))
    if total > len(frame):
        problems.append(Problem(spec.name, None, label,
                                f"... and {total - len(frame)} more duplicated keys"))
    return problems


def _increasing_keys(src: Source, stg: str, keys: str) -> bool:
    """Does the key (no part of it NULL) increase strictly from each row to the next, in
    the order ``LAG(…) OVER ()`` streams the table in? Then no two rows share a key —
    whatever that order is — and the grouping that finds duplicates is not needed. An
    export sorted by its key (the usual case) passes in one cheap pass; any other table
    is checked by grouping (:func:`_check_keys`). Exactly one row without a predecessor:
    the rows form a single sequence."""
    found = src.query(
        f"SELECT COUNT(*) FILTER (WHERE sop_p IS NULL) AS sop_starts, "
        f"COUNT(*) FILTER (WHERE NOT (sop_k > sop_p)) AS sop_unordered "
        f"FROM (SELECT sop_k, LAG(sop_k) OVER () AS sop_p "
        f"FROM (SELECT ({keys}) AS sop_k FROM {stg}) AS sop_s) AS sop_l").iloc[0]
    return int(_num(found["sop_starts"])) == 1 and not _num(found["sop_unordered"])


def _check_reference(src: Source, spec: c.TableSpec, ref: c.Reference) -> list[Problem]:
    d = src.dialect
    q = d.quote
    stg, target = staged(spec.name), staged(ref.table)
    present = " AND ".join(f"s.{q(col)} IS NOT NULL" for col in ref.columns)
    match = " AND ".join(f"t.{q(k)} = s.{q(col)}" for col, k in zip(ref.columns, ref.key,
                                                                     strict=True))
    row_sql, order = _order(src, spec, "s")
    cols = [*([f"{row_sql} AS sop_row"] if row_sql else []), *_key_select(src, spec, "s"),
            *(f"s.{q(col)} AS sop_r{i}" for i, col in enumerate(ref.columns)),
            "COUNT(*) OVER () AS sop_total"]
    frame = src.query(
        f"SELECT {', '.join(cols)} FROM {stg} AS s WHERE {present} AND NOT EXISTS "
        f"(SELECT 1 FROM {target} AS t WHERE {match}) ORDER BY {order} "
        f"LIMIT {MAX_PROBLEMS_PER_CHECK}")
    if frame.empty:
        return []

    def message(rec):
        values = [_plain(rec[f"sop_r{i}"]) for i in range(len(ref.columns))]
        shown = values[0] if len(values) == 1 else tuple(values)
        return f"{shown!r} is not a known {'+'.join(ref.key)} in {ref.table}"

    return _listed(src, spec, "+".join(ref.columns), frame,
                   int(frame["sop_total"].iloc[0]), message)
