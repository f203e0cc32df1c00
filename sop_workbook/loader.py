"""Load and validate the contract's source tables.

The embedded default source is a folder of ``<table>.csv`` or ``<table>.parquet`` files,
read through DuckDB (in-process, no server). Every cell is read as text first and then
parsed against the contract (:mod:`sop_workbook.contract`), so that each problem can be
reported with its table, row (as numbered in the file: a CSV's header is row 1, its first
data row row 2; a Parquet file's first record is row 1) and column. If any problem is
found, :class:`~sop_workbook.errors.SourceValidationError` lists them all and nothing is
returned: a partly valid source is never loaded.

Text stays text: a cell such as ``=HYPERLINK("http://x")`` in a text column is kept as
that string, and is never turned into a formula by anything in this package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import contract as c
from .contract import MAX_ABS_NUMBER, SourceData, bad_value_message
from .errors import Problem, SopError, SourceValidationError

#: At most this many problems are listed for one table, column and kind of check.
MAX_PROBLEMS_PER_CHECK = 50
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_MIN_DATE, _MAX_DATE = pd.Timestamp("1900-01-01"), pd.Timestamp("2199-12-31")


def load_source(
    source: str | Path,
    *,
    gl_income_sign: str = "positive",
) -> SourceData:
    """Read, validate and type every contract table of ``source`` (a folder).

    ``gl_income_sign`` says how the source stores income amounts in ``gl_budget``:
    ``positive`` (natural sign, the default) or ``negative`` (Business Central stores income
    budgets as negative amounts); with ``negative`` the amounts of income accounts are
    multiplied by −1 on load, so that every figure downstream is in natural sign.
    """
    raw, warnings, read_problems = read_raw_tables(source)
    tables, problems = validate_tables(raw)
    problems = read_problems + problems
    if problems:
        raise SourceValidationError(problems, str(source))
    data = SourceData(tables, str(source), warnings)
    normalise_gl_sign(data, gl_income_sign)
    return data


def validate_source(source: str | Path) -> tuple[list[Problem], list[str]]:
    """Check ``source`` against the contract; return (problems, warnings). Loads nothing."""
    raw, warnings, read_problems = read_raw_tables(source)
    _, problems = validate_tables(raw, unreadable={p.table for p in read_problems})
    return read_problems + problems, warnings


# --------------------------------------------------------------------------- reading


@dataclass
class RawTable:
    """A table as read from the file: every cell as text (or None), plus row numbering."""

    name: str
    frame: pd.DataFrame
    first_row: int  # row number of the frame's first record as the user sees the file
    path: str


def read_raw_tables(
    source: str | Path,
) -> tuple[dict[str, RawTable], list[str], list[Problem]]:
    """Read every contract table present in ``source`` as text.

    Returns (tables, warnings, problems); a table that cannot be read at all is a problem.
    """
    folder = Path(source)
    if not folder.exists():
        raise SopError(f"source not found: {folder}", "Give a folder of <table>.csv files.")
    if not folder.is_dir():
        raise SopError(f"source is not a folder: {folder}", "Give a folder of <table>.csv files.")
    import duckdb

    con = duckdb.connect(":memory:")
    raw: dict[str, RawTable] = {}
    warnings: list[str] = []
    problems: list[Problem] = []
    for name in c.TABLE_ORDER:
        candidates = [p for p in (folder / f"{name}.csv", folder / f"{name}.parquet") if p.exists()]
        if len(candidates) > 1:
            problems.append(Problem(name, None, None, "both a .csv and a .parquet file; keep one"))
            continue
        if not candidates:
            if name not in c.OPTIONAL_TABLES:
                warnings.append(f"{name}: no {name}.csv or {name}.parquet in the source; "
                                "treated as an empty table")
            continue
        path = candidates[0]
        try:
            raw[name] = _read_one(con, name, path)
        except _ReadError as exc:
            problems.append(Problem(name, exc.row, exc.column, exc.message))
    con.close()
    if not raw and not problems:
        raise SopError(
            f"no contract tables found in {folder}",
            "Expected files such as items.csv, sales_lines.csv (see the data contract).",
        )
    return raw, warnings, problems


class _ReadError(Exception):
    def __init__(self, message: str, row: int | None = None, column: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.row = row
        self.column = column


def _read_one(con, name: str, path: Path) -> RawTable:
    """Read one file as text cells: trimmed, with empty cells as None (done in DuckDB)."""
    import duckdb

    from .sql.sources import FileReadError, check_regular, csv_reading, file_problem

    try:
        check_regular(path)
        if path.suffix == ".csv":
            _check_csv_bytes(path)
            # read as the SQL path reads it (sop_workbook.sql.sources.csv_reading)
            relation, _, fallback = csv_reading(lambda sql: con.execute(sql).fetchall(), path)
            try:
                rel = con.sql(f"SELECT * FROM {relation}")
                rel.columns  # noqa: B018 (binds the reading: an error surfaces here)
            except duckdb.Error:
                rel = con.sql(f"SELECT * FROM {fallback}")
            first_row = 2
        else:
            rel = con.read_parquet(str(path))
            first_row = 1
        cells = ", ".join(
            f"NULLIF(TRIM(CAST({_quote(col)} AS VARCHAR)), '') AS {_quote(col)}"
            for col in rel.columns)
        frame = con.sql(f"SELECT {cells} FROM rel").df()
    except FileReadError as exc:
        raise _ReadError(exc.message, exc.row, exc.column) from None
    except duckdb.Error as exc:
        found = file_problem(name, path, exc)
        raise _ReadError(found.message, found.row, found.column) from None
    frame = frame.astype(object).where(frame.notna(), None)
    return RawTable(name, frame, first_row, str(path))


def _quote(identifier: str) -> str:
    return '"' + str(identifier).replace('"', '""') + '"'


def _check_csv_bytes(path: Path) -> None:
    """Reject empty files and bytes that are not UTF-8, naming the line."""
    data = path.read_bytes()
    if not data.strip():
        raise _ReadError("file is empty (a header row naming the columns is required)")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _ReadError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save the file as UTF-8",
            row=line,
        ) from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# --------------------------------------------------------------------------- validation


def validate_tables(raw: dict[str, RawTable], unreadable: set[str] = frozenset()
                    ) -> tuple[dict[str, pd.DataFrame], list[Problem]]:
    """Parse every table against its spec and check keys and references (not references
    to the ``unreadable`` tables, whose file problem is reported instead)."""
    problems: list[Problem] = []
    typed: dict[str, pd.DataFrame] = {}
    rows: dict[str, np.ndarray] = {}
    # tables lacking required columns or unreadable: references to them not checkable
    broken: set[str] = set(unreadable)
    for name, spec in c.TABLES.items():
        if name in raw:
            table = raw[name]
            frame, table_problems = _parse_table(spec, table)
            problems += table_problems
            if any(col not in frame.columns for col in spec.required):
                broken.add(name)
            rows[name] = np.arange(len(frame)) + table.first_row
        else:
            frame = _empty_frame(spec)
            rows[name] = np.arange(0)
        typed[name] = frame
    orphans: dict[str, dict[str, int]] = {}
    reference_problems: list[Problem] = []
    for name, spec in c.TABLES.items():
        if name in broken:
            continue
        refs = [r for r in spec.references if r.table not in broken]
        # a missing or empty master table is one problem, not one per referring row
        empty = [r for r in refs if r.table in c.MASTER_TABLES and typed[r.table].empty]
        for ref in empty:
            cols = [col for col in ref.columns if col in typed[name]]
            n = int(typed[name][cols].notna().all(axis=1).sum()) if cols else 0
            if n:
                orphans.setdefault(ref.table, {})[name] = n
        refs = [r for r in refs if r not in empty]
        reference_problems += _check_references(spec, refs, typed, rows[name])
    for table, referring in orphans.items():
        problems.append(c.empty_master_problem(table, table not in raw, referring))
    return typed, problems + reference_problems


def _empty_frame(spec: c.TableSpec) -> pd.DataFrame:
    return pd.DataFrame({col: _parse_values(pd.Series([], dtype=object), spec.type_of(col))[0]
                         for col in spec.columns})


def _parse_table(spec: c.TableSpec, table: RawTable) -> tuple[pd.DataFrame, list[Problem]]:
    problems: list[Problem] = []
    frame = table.frame
    row_no = np.arange(len(frame)) + table.first_row

    # Column names: case-insensitive, surrounding spaces ignored; extras kept.
    renamed: dict[str, str] = {}
    seen: dict[str, str] = {}
    for col in frame.columns:
        norm = str(col).strip().lower()
        if norm in seen:
            problems.append(Problem(spec.name, None, norm,
                                    f"column appears twice ({seen[norm]!r} and {col!r})"))
        seen[norm] = str(col)
        renamed[col] = norm
    frame = frame.rename(columns=renamed)
    frame = frame.loc[:, ~frame.columns.duplicated()]
    missing = [col for col in spec.required if col not in frame.columns]
    for col in missing:
        problems.append(Problem(spec.name, 1 if table.first_row == 2 else None, col,
                                "required column is missing"))
    if missing:
        return frame, problems

    out: dict[str, pd.Series] = {}
    given: dict[str, np.ndarray] = {}  # per contract column: cell is non-empty in the file
    for col in frame.columns:
        if col not in spec.columns:
            out[col] = frame[col]  # extra column: kept, ignored
            continue
        kind = spec.type_of(col)
        text = _clean_text(frame[col])
        values, bad = _parse_values(text, kind)
        present = text.notna().to_numpy()
        given[col] = present
        if bad.any():
            problems += _problems_at(spec.name, row_no, col, bad,
                                     lambda i, t=text, k=kind: bad_value_message(k, t.iloc[i]))
        if col in spec.enums:
            allowed = spec.enums[col]
            lowered = text.str.lower()
            wrong = present & ~lowered.isin(allowed).to_numpy()
            problems += _problems_at(spec.name, row_no, col, wrong,
                                     lambda i, t=text, a=allowed: f"{t.iloc[i]!r} is not one of "
                                     f"{', '.join(a)}")
            values = lowered
        if col in spec.required and col not in spec.nullable:
            empty = ~present
            problems += _problems_at(spec.name, row_no, col, empty,
                                     lambda i: "value is empty (required)")
        if kind == c.TEXT and col not in spec.enums and col not in {
                r for ref in spec.references for r in ref.columns}:
            from .sql.validation import control_character_message

            held = (text.str.contains(_CONTROL, regex=True, na=False)
                    | (text.str.len().fillna(0) > 32_767)).to_numpy(dtype=bool)
            problems += _problems_at(spec.name, row_no, col, held,
                                     lambda i, t=text: control_character_message(t.iloc[i]))
        out[col] = values
    parsed = pd.DataFrame(out, index=frame.index)
    for col in spec.columns:
        if col not in parsed.columns:
            parsed[col] = _parse_values(pd.Series([None] * len(parsed), dtype=object),
                                        spec.type_of(col))[0]
    parsed = parsed.reset_index(drop=True)
    problems += _check_keys(spec, parsed, row_no)
    problems += _check_rules(spec, given, row_no)
    return parsed, problems


#: characters a workbook cell cannot hold (as sql.dialect.CONTROL_RE)
_CONTROL = "[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]"


def _clean_text(series: pd.Series) -> pd.Series:
    """Cells as Python strings or None (the reader has trimmed them and nulled blanks)."""
    s = series.astype(object)
    return s.where(s.notna(), None)


def _parse_values(text: pd.Series, kind: str) -> tuple[pd.Series, np.ndarray]:
    """Parse text cells to ``kind``; return (values, mask of unparseable non-empty cells)."""
    present = text.notna().to_numpy()
    if kind == c.TEXT:
        return text.astype(object), np.zeros(len(text), dtype=bool)
    if kind in (c.NUMBER, c.INT):
        numbers = pd.to_numeric(text, errors="coerce").astype("float64")
        arr = numbers.to_numpy()
        bad = present & ~(np.isfinite(arr) & (np.abs(np.nan_to_num(arr)) <= MAX_ABS_NUMBER))
        if kind == c.INT:
            bad |= present & ~bad & (np.nan_to_num(arr) != np.round(np.nan_to_num(arr)))
            ints = numbers.where(~pd.Series(bad, index=text.index)).astype("Int64")
            return ints, bad
        return numbers.where(~pd.Series(bad, index=text.index)), bad
    if kind == c.DATE:
        return _parse_dates(text, present)
    if kind == c.PERIOD:
        parsed = pd.to_datetime(text, format="%Y-%m", errors="coerce")
        years = parsed.dt.year
        ok = (parsed.notna() & (text.str.len() == 7) & (years >= 1900) & (years <= 2199))
        ok = ok.to_numpy(dtype=bool)
        return text.where(ok, None).astype(object), present & ~ok
    if kind == c.BOOL:
        lowered = text.str.lower()
        values = lowered.map(lambda v: True if v in _TRUE else False if v in _FALSE else None)
        bad = present & values.isna().to_numpy()
        return values.astype("boolean"), bad
    raise ValueError(f"unknown column type {kind}")


def _parse_dates(text: pd.Series, present: np.ndarray) -> tuple[pd.Series, np.ndarray]:
    """ISO dates (fast path), then ISO datetimes, then Excel date serials."""
    dates = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    dates = dates.where(text.str.len() == 10)
    rest = present & dates.isna().to_numpy()
    if rest.any():
        sub = text[rest]
        iso = np.array([bool(_ISO_DATE.match(v)) for v in sub], dtype=bool)
        from_iso = pd.to_datetime(sub.where(iso).str.slice(0, 10), format="%Y-%m-%d",
                                  errors="coerce")
        serial = pd.to_numeric(sub.where(~iso), errors="coerce")
        serial_ok = serial.notna() & (serial >= 1) & (serial <= 109574)  # ..2199-12-31
        from_serial = _EXCEL_EPOCH + pd.to_timedelta(np.floor(serial.where(serial_ok)),
                                                     unit="D")
        dates = dates.copy()
        dates[rest] = from_iso.where(from_iso.notna(), from_serial)
    dates = dates.where((dates >= _MIN_DATE) & (dates <= _MAX_DATE))
    dates = dates.astype("datetime64[ns]")
    bad = present & dates.isna().to_numpy()
    return dates, bad


def _problems_at(table, row_no, column, mask, message) -> list[Problem]:
    idx = np.flatnonzero(mask)
    problems = [Problem(table, int(row_no[i]), column, message(i))
                for i in idx[:MAX_PROBLEMS_PER_CHECK]]
    if len(idx) > MAX_PROBLEMS_PER_CHECK:
        problems.append(Problem(table, None, column,
                                f"... and {len(idx) - MAX_PROBLEMS_PER_CHECK} more rows like "
                                f"row {int(row_no[idx[0]])}"))
    return problems


def _check_keys(spec: c.TableSpec, frame: pd.DataFrame, row_no: np.ndarray) -> list[Problem]:
    key = list(spec.key)
    if frame.empty or frame[key].isna().any(axis=None):
        return []  # empty key cells are reported as such
    dup = frame.duplicated(key, keep="first").to_numpy()
    if not dup.any():
        return []
    first = frame.drop_duplicates(key).assign(_row=row_no[~dup]).set_index(key)["_row"]

    def message(i: int) -> str:
        k = tuple(frame.iloc[i][key]) if len(key) > 1 else frame.iloc[i][key[0]]
        return f"duplicate key {k!r} (first at row {int(first.loc[k])})"

    return _problems_at(spec.name, row_no, "+".join(key), dup, message)


def _check_rules(spec: c.TableSpec, given: dict[str, np.ndarray],
                 row_no: np.ndarray) -> list[Problem]:
    """Table-specific rules of the contract beyond types and keys (on the cells as given)."""
    problems: list[Problem] = []
    if spec.name == "sales_lines":
        no_request = ~given.get("requested_date", np.zeros(len(row_no), dtype=bool))
        no_date = ~given["promised_date"] & no_request
        problems += _problems_at(spec.name, row_no, "promised_date", no_date,
                                 lambda i: "empty, and requested_date is empty too: the line "
                                 "has no due date")
    return problems


def _check_references(spec: c.TableSpec, refs: list[c.Reference],
                      typed: dict[str, pd.DataFrame], row_no: np.ndarray) -> list[Problem]:
    problems: list[Problem] = []
    frame = typed[spec.name]
    for ref in refs:
        cols = list(ref.columns)
        if frame.empty or any(col not in frame for col in cols):
            continue
        target = typed[ref.table]
        values = frame[cols]
        present = values.notna().all(axis=1).to_numpy()
        if len(cols) == 1:
            known = values[cols[0]].isin(set(target[ref.key[0]].dropna())).to_numpy()
        else:
            known = pd.MultiIndex.from_frame(values.astype(object)).isin(
                pd.MultiIndex.from_frame(target[list(ref.key)].astype(object)))
        unknown = present & ~known
        label = "+".join(cols)

        def message(i, v=values, t=ref.table, k=ref.key):
            shown = v.iloc[i].tolist()
            shown = shown[0] if len(shown) == 1 else tuple(shown)
            return f"{shown!r} is not a known {'+'.join(k)} in {t}"

        problems += _problems_at(spec.name, row_no, label, unknown, message)
    return problems


# --------------------------------------------------------------------------- signs


def normalise_gl_sign(data: SourceData, gl_income_sign: str) -> None:
    """Put ``gl_budget`` income amounts in natural sign (revenue positive).

    ``negative``: the source stores income as negative amounts (Business Central); those of
    income accounts are multiplied by −1. ``positive``: amounts are kept. Either way, income
    amounts still negative afterwards are warned about, naming the accounts
    (:func:`sop_workbook.kpi.finance.income_sign_warnings`): the sign is never changed
    silently, and a budget stored with the other sign is never judged silently.
    """
    from .kpi.finance import income_sign_warnings

    if gl_income_sign not in ("positive", "negative"):
        raise SopError(f"gl income sign must be 'positive' or 'negative', not {gl_income_sign!r}")
    budget = data.tables["gl_budget"]
    if budget.empty:
        return
    accounts = data.tables["gl_accounts"].set_index("gl_account")
    income = budget["gl_account"].map(accounts["account_type"]).eq("income").to_numpy()
    if gl_income_sign == "negative":
        budget = budget.copy()
        budget.loc[income, "amount"] = -budget.loc[income, "amount"]
        data.tables["gl_budget"] = budget
    rows = budget[income]
    if len(rows):
        per = rows.assign(neg=(rows["amount"] < 0).astype(int)).groupby(
            "gl_account", sort=True).agg(lines=("neg", "size"), negative=("neg", "sum"))
        per = per.reset_index()
        per["name"] = per["gl_account"].map(accounts["name"])
        data.warnings.extend(income_sign_warnings(per, gl_income_sign))


def load_plan_snapshots(path: str | Path) -> pd.DataFrame:
    """Read and validate a plan-snapshot file (CSV or Parquet; see ``PLAN_SNAPSHOTS``)."""
    import duckdb

    file = Path(path)
    spec = c.PLAN_SNAPSHOTS
    if not file.is_file():
        raise SopError(f"plan snapshots file not found: {file}")
    con = duckdb.connect(":memory:")
    try:
        table = _read_one(con, spec.name, file)
    except _ReadError as exc:
        raise SourceValidationError([Problem(spec.name, exc.row, exc.column, exc.message)],
                                    str(file)) from None
    finally:
        con.close()
    frame, problems = _parse_table(spec, table)
    if problems:
        raise SourceValidationError(problems, str(file))
    return frame
