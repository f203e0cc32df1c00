"""Open a source for SQL: a folder of files in an embedded DuckDB, or a database by URL.

:func:`open_folder_or_database` (through :func:`sop_workbook.sql.opening.open_source`)
accepts

- a folder of ``<table>.csv`` / ``<table>.parquet`` files: an in-memory DuckDB in which
  each file is read once, as text (``read_csv(..., all_varchar=true)``, the loader's
  reading: the format DuckDB detects, spelt out), when its table is staged
  (:mod:`sop_workbook.sql.validation`); the CSV safety checks of the loader (empty file,
  bytes that are not UTF-8, both a .csv and a .parquet file) apply;
- ``duckdb:///path/file.duckdb``: that file, attached read-only to an in-memory DuckDB
  through the ``duckdb`` module;
- any other SQLAlchemy URL (``postgresql://…`` is read with psycopg, as
  ``postgresql+psycopg://…``; a warehouse's URL such as ``trino://…`` or
  ``snowflake://…`` works once its SQLAlchemy dialect is installed): the tables (or views)
  of the connection's default schema whose names are the contract's, case-insensitively.

In every case a table's columns are matched to the contract by name, case-insensitively
and ignoring surrounding spaces; extra columns are ignored. A contract table that is not
there is empty, with a warning unless the contract lists it as optional
(``contract.OPTIONAL_TABLES``), exactly as the loader does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import stat
import tempfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

import pandas as pd

from .. import contract as c
from ..errors import Problem, SopError
from .dialect import DUCKDB, Dialect, literal
from .dialects import dialect_for

T = TypeVar("T")


@dataclass
class SourceTable:
    """One contract table as found in the source."""

    name: str
    relation: str  # what to select FROM (a quoted table name or a DuckDB table function)
    columns: dict[str, str]  # normalised column name → quoted source column (first of a name)
    first_row: int | None  # row number of the first record in the file; None in a database
    where: str  # file path or qualified table name (for messages)
    duplicates: list[Problem] = field(default_factory=list)
    #: a CSV file: the reading DuckDB detects by itself, for when ``relation`` (the same
    #: reading with the detected options spelt out) fails
    fallback: str | None = None
    #: the native kind of typed source columns (:func:`.typed.native_kind`) by contract
    #: column; text columns are not listed
    native: dict[str, str] = field(default_factory=dict)


@dataclass
class Task:
    """A unit of work for :meth:`Source.run_tasks`: ``run`` executes its own statements and
    returns a result; it starts once the tasks named in ``needs`` have finished. A ``solo``
    task (a large one DuckDB runs on both cores by itself) never runs alongside another
    solo task: two at once would only hold more memory."""

    name: str
    run: Callable[[], object]
    needs: tuple[str, ...] = ()
    solo: bool = False


class Source:
    """An open source: its dialect, the contract tables found, and a connection.

    ``execute(sql)`` runs a statement, ``query(sql)`` returns a DataFrame; temporary
    objects created through it disappear with :meth:`close`.
    """

    #: tasks run two at a time (see :meth:`run_tasks`)
    parallel = False
    #: :meth:`drop_columns` frees memory
    drops_columns = False
    #: :meth:`sums_by_row_id` and :meth:`by_position` are available: a staged table is
    #: joined, row by row in storage order, with sums computed outside the database
    positional = False

    def __init__(self, name: str, dialect: Dialect) -> None:
        self.name = name
        self.dialect = dialect
        self.tables: dict[str, SourceTable] = {}
        self.warnings: list[str] = []
        self.problems: list[Problem] = []  # tables that cannot be read at all
        self.is_files = False
        self.ctes: dict[str, str] = {}
        #: materialised relations stored under another name (see :meth:`materialize`)
        self.renames: dict[str, str] = {}
        #: columns dropped from materialised relations (see :meth:`drop_columns`)
        self.dropped_columns: dict[str, set[str]] = {}
        #: the relations :meth:`materialize` made (and :meth:`release` did not drop)
        self.materialized: set[str] = set()
        #: what one step found out for a later one (e.g. ``sales.shipments_all_known``)
        self.notes: dict[str, object] = {}
        self.run_id = uuid.uuid4().hex[:12]

    # -- execution
    def execute(self, sql: str) -> None:
        self._execute(self._with_ctes(sql))

    def query(self, sql: str) -> pd.DataFrame:
        """Run a query; its result as a DataFrame."""
        return self._query(self._with_ctes(sql))

    def materialize(self, name: str, select: str) -> None:
        """Make ``name`` the result of ``select`` for later statements: a temporary table
        where the dialect has them, else a CTE put in front of every query that uses it."""
        self.materialized.add(name)
        if self.dialect.temp_tables and name not in self.ctes:
            if getattr(self.dialect, "storage", None) == "scratch":
                # a real table: named for this run (several may run at once), dropped by
                # close()
                self.renames.setdefault(name, f"{name}_{self.run_id}")
            for statement in self.dialect.create_statements(name, select):
                self._execute(self._renamed(statement))
        else:
            self.ctes[name] = select

    def release(self, name: str) -> None:
        """Drop the materialised relation ``name`` that no later statement reads (frees
        its memory; a CTE stays, as the relations defined from it need it)."""
        if self.dialect.temp_tables and name not in self.ctes:
            self.materialized.discard(name)
            for statement in self.dialect.drop_statements(name):
                self._execute(self._renamed(statement))
            self.renames.pop(name, None)

    def drop_columns(self, name: str, columns: list[str]) -> None:
        """Drop ``columns`` that no later statement reads from the materialised relation
        ``name`` where that frees memory (:class:`DuckDBSource`); recorded in
        :attr:`dropped_columns`. Elsewhere nothing is dropped."""

    def _renamed(self, sql: str) -> str:
        """``sql`` with the materialised relations named as stored for this run."""
        if not self.renames:
            return sql
        names = "|".join(map(re.escape, self.renames))
        return re.sub(rf"\b({names})\b", lambda m: self.renames[m.group(1)], sql)

    def run_all(self, tasks: list[Callable[[], T]]) -> list[T]:
        """Run independent tasks, the costliest first; their results in order."""
        named = [Task(str(i), task) for i, task in enumerate(tasks)]
        done = self.run_tasks(named)
        return [done[task.name] for task in named]

    def run_tasks(self, tasks: list[Task]) -> dict[str, object]:
        """Run tasks (listed in order of priority, each after the tasks it needs); their
        results by name. Here one after the other, in the listed order as far as the
        needs allow; :class:`DuckDBSource` runs two at a time."""
        return {task.name: task.run() for task in _in_needed_order(tasks)}

    def _with_ctes(self, sql: str) -> str:
        return self._renamed(self._inlined(sql))

    def _inlined(self, sql: str) -> str:
        if not self.ctes:
            return sql
        needed: set[str] = set()
        pending = [sql]
        while pending:
            text = pending.pop()
            for name, body in self.ctes.items():
                if name not in needed and re.search(rf"\b{name}\b", text):
                    needed.add(name)
                    pending.append(body)
        if not needed:
            return sql
        defs = ", ".join(f"{name} AS ({body})" for name, body in self.ctes.items()
                         if name in needed)
        stripped = sql.lstrip()
        if stripped[:5].upper() == "WITH ":
            return f"WITH {defs}, {stripped[5:]}"
        return f"WITH {defs} {sql}"

    def _execute(self, sql: str) -> None:
        raise NotImplementedError

    def _query(self, sql: str) -> pd.DataFrame:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def row_number(self, table: str, alias: str) -> str | None:
        """SQL for a staged row's number as the user sees the file (None in a database)."""
        return None

    def row_id(self, alias: str) -> str | None:
        """SQL for a unique integer id of a row of a staged table (None: no such id)."""
        return None

    def sums_by_row_id(self, sql: str, rows: int):
        """Where :attr:`positional`: see :meth:`DuckDBSource.sums_by_row_id`."""
        raise NotImplementedError

    def by_position(self, name: str, frame: pd.DataFrame):
        """Where :attr:`positional`: see :meth:`DuckDBSource.by_position`."""
        raise NotImplementedError


class DuckDBSource(Source):
    """A source read through an in-process DuckDB connection (its own in-memory database).

    :meth:`run_tasks` runs tasks on two threads, each with its own connection to the same
    database (DuckDB executes queries without holding Python's GIL), so that the
    statements DuckDB runs on one core (reading a small file, a query with a small
    result, shaping a result in pandas) overlap. Materialised relations are therefore
    tables of that private database rather than temporary tables, which only the
    connection that creates them sees.
    """

    parallel = True
    drops_columns = True
    positional = True

    def __init__(self, name: str, con) -> None:
        super().__init__(name, DUCKDB)
        self.con = con
        self._local = threading.local()  # .con: the connection of a worker thread
        # The staged tables live only as long as the connection: DuckDB's automatic
        # checkpoint (compressing them once enough was written) is wasted work here.
        con.execute("SET checkpoint_threshold = '1TB'")
        self._spill = bound_memory(con)

    def _connection(self):
        return getattr(self._local, "con", None) or self.con

    def _execute(self, sql: str) -> None:
        self._connection().execute(sql)

    def _query(self, sql: str) -> pd.DataFrame:
        return self._connection().execute(sql).df()

    def fetch(self, sql: str) -> list[tuple]:
        """Run a query; its rows as tuples."""
        return self._connection().execute(sql).fetchall()

    def sums_by_row_id(self, sql: str, rows: int):
        """The Σ of the value (second column) of the rows of ``sql`` by their row id (first
        column: the :meth:`row_id` of a table of ``rows`` rows, never NULL), as an array of
        ``rows`` sums in row-id order — what ``GROUP BY`` row id gives, without a hash
        table of one group per row: the ids index the array (``numpy.add.at``), read a
        million rows at a time (memory: the array and one chunk)."""
        import numpy as np

        sums = np.zeros(rows)
        result = self._connection().execute(sql)
        while len(chunk := result.fetch_df_chunk(512)):
            ids = chunk.iloc[:, 0].to_numpy(dtype=np.int64)
            if len(ids) and (ids.min() < 0 or ids.max() >= rows):
                raise ValueError(f"sums_by_row_id: a row id outside 0..{rows - 1}")
            np.add.at(sums, ids, chunk.iloc[:, 1].to_numpy(dtype=float))
        return sums

    @contextlib.contextmanager
    def by_position(self, name: str, frame: pd.DataFrame):
        """``frame`` readable as the relation ``name`` by this thread's statements while the
        ``with`` block runs: a table of as many rows in the same order (:meth:`row_id`)
        pairs with it through ``POSITIONAL JOIN`` (row i with row i: no hashing)."""
        con = self._connection()
        con.register(name, frame)
        try:
            yield name
        finally:
            con.unregister(name)

    def materialize(self, name: str, select: str) -> None:
        self._execute(f"DROP TABLE IF EXISTS {name}")
        self._execute(f"CREATE TABLE {name} AS {select}")
        self.materialized.add(name)

    def drop_columns(self, name: str, columns: list[str]) -> None:
        """Drop the columns (a table of this in-memory database holds even a column of
        NULLs in full: ~7 bytes a row, spilled to disk beyond the memory limit)."""
        for column in columns:
            self._execute(f"ALTER TABLE {name} DROP COLUMN {self.dialect.quote(column)}")
            self.dropped_columns.setdefault(name, set()).add(column)

    def run_tasks(self, tasks: list[Task]) -> dict[str, object]:
        """Two worker threads: one takes the first task it can start (all it needs done)
        in the listed order, the other the last one, except solo tasks, which only the
        first takes. After an error no task starts; the first (in the listed order) is
        raised once both threads stopped."""
        _in_needed_order(tasks)  # the needs are met by tasks in the list
        if len(tasks) < 2:
            return super().run_tasks(tasks)
        results: dict[str, object] = {}
        errors: list[tuple[int, BaseException]] = []
        pending = list(range(len(tasks)))
        finished: set[str] = set()
        running_solo = [False]
        changed = threading.Condition()

        def startable(i: int, front: bool) -> bool:
            task = tasks[i]
            return (all(name in finished for name in task.needs)
                    and not (task.solo and (running_solo[0] or not front)))

        def work(front: bool) -> None:
            try:
                self._local.con = self.con.cursor()
            except BaseException as exc:  # no connection for this thread: the other stops too
                with changed:
                    errors.append((-1, exc))
                    changed.notify_all()
                return
            try:
                while True:
                    with changed:
                        while True:
                            if errors or not pending:
                                return
                            order = pending if front else reversed(pending)
                            i = next((i for i in order if startable(i, front)), None)
                            if i is not None:
                                break
                            changed.wait()
                        pending.remove(i)
                        task = tasks[i]
                        running_solo[0] = running_solo[0] or task.solo
                    try:
                        results[task.name] = task.run()
                    except BaseException as exc:  # re-raised below, in the caller's thread
                        errors.append((i, exc))
                    with changed:
                        finished.add(task.name)
                        running_solo[0] = running_solo[0] and not task.solo
                        changed.notify_all()
            finally:
                with contextlib.suppress(Exception):
                    self._local.con.close()
                self._local.con = None

        threads = [threading.Thread(target=work, args=(front,), daemon=True)
                   for front in (True, False)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise min(errors, key=lambda e: e[0])[1]
        return results

    def close(self) -> None:
        with contextlib.suppress(Exception):  # already closed
            self.con.close()
        if self._spill:
            shutil.rmtree(self._spill, ignore_errors=True)

    def row_id(self, alias: str) -> str | None:
        return f"{alias}.rowid"

    def row_number(self, table: str, alias: str) -> str | None:
        first = self.tables[table].first_row if table in self.tables else None
        # the staged table was created from the file in file order (insertion order kept)
        return None if first is None else f"({alias}.rowid + {first})"


class DbapiSource(Source):
    """A database reached through SQLAlchemy; statements run on one DBAPI connection (one
    session, so temporary tables are visible to every query; rolled back on close)."""

    def __init__(self, name: str, engine, dialect: Dialect) -> None:
        super().__init__(name, dialect)
        self.engine = engine
        self.raw = engine.raw_connection()
        self._materialized_once = False

    def materialize(self, name: str, select: str) -> None:
        """As :meth:`Source.materialize`; where the first materialisation is refused (a
        warehouse where this user may not create tables), every relation is inlined as a
        CTE instead, with a warning."""
        if self._materialized_once or not self.dialect.temp_tables:
            return super().materialize(name, select)
        try:
            super().materialize(name, select)
        except Exception as exc:
            with contextlib.suppress(Exception):
                self.raw.rollback()
            self.renames.pop(name, None)
            self.dialect = dataclasses.replace(self.dialect, temp_tables=False)
            self.warnings.append(
                f"{self.name}: cannot create a table ({first_line(exc)}); every query "
                "reads the source tables again instead")
            super().materialize(name, select)
        self._materialized_once = True

    def _execute(self, sql: str) -> None:
        cur = self.raw.cursor()
        try:
            cur.execute(sql)
        finally:
            cur.close()

    def _query(self, sql: str) -> pd.DataFrame:
        cur = self.raw.cursor()
        try:
            cur.execute(sql)
            names = [d[0] for d in cur.description]
            if getattr(self.dialect, "sqlalchemy_normalizes", False):
                # unquoted aliases come back upper case (Snowflake): every name this
                # package asks for is lower case
                names = [str(n).lower() for n in names]
            rows = cur.fetchall()
        finally:
            cur.close()
        return pd.DataFrame.from_records(rows, columns=names)

    def close(self) -> None:
        try:
            for name in list(self.renames):  # the run's tables in the warehouse
                with contextlib.suppress(Exception):
                    self.release(name)
            self.raw.rollback()
            self.raw.close()
        finally:
            self.engine.dispose()


#: The embedded DuckDB's memory limit unless ``SOP_DUCKDB_MEMORY_LIMIT`` says otherwise:
#: enough for the 1 M-line staging without spilling much, and a peak RSS of the whole
#: process ≤ 1 GiB at 3 M and ≤ 1.5 GiB at 10 M sales lines (README, *Benchmarks*).
DEFAULT_MEMORY_LIMIT_MB = 500


def default_memory_limit() -> str:
    """``DEFAULT_MEMORY_LIMIT_MB``, or half the machine's RAM where that is less."""
    try:
        ram_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20)
    except (ValueError, OSError, AttributeError):  # not on this platform
        ram_mb = 0
    limit = DEFAULT_MEMORY_LIMIT_MB if ram_mb <= 0 else min(DEFAULT_MEMORY_LIMIT_MB,
                                                           max(64, ram_mb // 2))
    return f"{limit}MB"


def bound_memory(con) -> str | None:
    """Bound an embedded DuckDB's memory and let it spill to disk: a temporary folder (in
    the system's temp folder, removed on close) for what does not fit its memory limit —
    ``SOP_DUCKDB_MEMORY_LIMIT`` (any DuckDB size, e.g. ``600MB``, ``8GB``) if set, else
    :func:`default_memory_limit`. An in-memory DuckDB has no spill folder unless given
    one. Returns the folder."""
    limit = os.environ.get("SOP_DUCKDB_MEMORY_LIMIT", "").strip() or default_memory_limit()
    folder = tempfile.mkdtemp(prefix="sop-duckdb-")
    try:
        con.execute(f"SET temp_directory = {literal(folder)}")
        con.execute(f"SET memory_limit = {literal(limit)}")
    except Exception as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise SopError(f"cannot set DuckDB's memory limit {limit!r}", first_line(exc)) from None
    return folder


def _in_needed_order(tasks: list[Task]) -> list[Task]:
    """The tasks in the listed order as far as their needs allow (each after the tasks it
    needs); an error if a need is not a listed task or the needs form a cycle."""
    names = {task.name for task in tasks}
    missing = {need for task in tasks for need in task.needs} - names
    if missing or len(names) < len(tasks):
        raise ValueError(f"tasks: unknown or repeated names {sorted(missing)}")
    done: set[str] = set()
    ordered: list[Task] = []
    left = list(tasks)
    while left:
        task = next((t for t in left if all(n in done for n in t.needs)), None)
        if task is None:
            raise ValueError("tasks: the needs form a cycle")
        left.remove(task)
        done.add(task.name)
        ordered.append(task)
    return ordered


# --------------------------------------------------------------------------- opening


def shown_source(source: str | Path) -> str:
    """``source`` as it may be printed: a folder as given, a database URL without its
    password (even a URL SQLAlchemy cannot parse: ``user:secret@`` → ``user:***@``)."""
    text = str(source)
    if "://" not in text:
        return text
    try:
        from sqlalchemy.engine import make_url

        return make_url(text).render_as_string(hide_password=True)
    except Exception:
        return re.sub(r"(://[^/@:]*):[^/@]*@", r"\1:***@", text)


def open_folder_or_database(source: str | Path) -> Source:
    """Open ``source`` (a folder or a database URL; see the module docstring). A Spark URL
    is opened by :func:`sop_workbook.sql.opening.open_source`."""
    text = str(source)
    if "://" not in text:
        return _open_folder(Path(text))
    from sqlalchemy.engine import make_url

    try:
        url = make_url(text)
    except Exception:
        raise SopError(f"not a database URL: {shown_source(text)!r}",
                       "expected dialect://user:password@host/database") from None
    backend = url.get_backend_name()
    if backend == "duckdb":
        return _open_duckdb_file(text, url.database or "")
    if backend in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return _open_sqlalchemy(text, url)


def _normalise(name: str) -> str:
    return str(name).strip().lower()


def _match_columns(table: str, names: list[str], dialect: Dialect) -> tuple[dict[str, str],
                                                                           list[Problem]]:
    """Contract-relevant columns by normalised name; a name that appears twice is a problem
    (the first is used, as the loader does)."""
    columns: dict[str, str] = {}
    seen: dict[str, str] = {}
    problems = []
    for name in names:
        norm = _normalise(name)
        if norm in seen:
            problems.append(Problem(table, None, norm,
                                    f"column appears twice ({seen[norm]!r} and {name!r})"))
            continue
        seen[norm] = name
        columns[norm] = dialect.quote(name)
    return columns, problems


def _open_folder(folder: Path) -> DuckDBSource:
    if not folder.exists():
        raise SopError(f"source not found: {folder}", "Give a folder of <table>.csv files.")
    if not folder.is_dir():
        raise SopError(f"source is not a folder: {folder}", "Give a folder of <table>.csv files.")
    import duckdb

    con = duckdb.connect(":memory:")
    src = DuckDBSource(str(folder), con)
    src.is_files = True
    found: dict[str, Path | Problem | None] = {}  # a table's file, or why there is none
    for name in c.TABLE_ORDER:
        candidates = [p for p in (folder / f"{name}.csv", folder / f"{name}.parquet") if p.exists()]
        if len(candidates) > 1:
            found[name] = Problem(name, None, None, "both a .csv and a .parquet file; keep one")
        elif candidates:
            found[name] = candidates[0]
        else:
            found[name] = None
            if name not in c.OPTIONAL_TABLES:
                src.warnings.append(f"{name}: no {name}.csv or {name}.parquet in the source; "
                                    "treated as an empty table")
    # each file's columns (DuckDB sniffs a CSV file's format: two files at a time)
    files = sorted((name for name, path in found.items() if isinstance(path, Path)),
                   key=lambda name: -found[name].stat().st_size)
    found.update(zip(files, src.run_all([partial(_open_file, src, name, found[name])
                                         for name in files]), strict=True))
    for name, outcome in found.items():
        if isinstance(outcome, Problem):
            src.problems.append(outcome)
        elif isinstance(outcome, SourceTable):
            src.tables[name] = outcome
    if not src.tables and not src.problems:
        src.close()
        raise SopError(
            f"no contract tables found in {folder}",
            "Expected files such as items.csv, sales_lines.csv (see the data contract).",
        )
    return src


def _open_file(src: DuckDBSource, name: str, path: Path) -> SourceTable | Problem:
    """A contract table's file: its relation and columns, or the problem reading it."""
    import duckdb

    fallback = None
    native: dict[str, str] = {}
    try:
        if path.suffix == ".csv":
            relation, names, fallback = csv_reading(src.fetch, path)
            first_row = 2
        else:
            check_regular(path)
            relation = f"read_parquet({literal(str(path))})"
            described = src.fetch(f"DESCRIBE SELECT * FROM {relation}")
            names = [row[0] for row in described]
            native = native_columns({row[0]: row[1] for row in described})
            first_row = 1
    except FileReadError as exc:
        return Problem(name, exc.row, exc.column, exc.message)
    except duckdb.Error as exc:
        return file_problem(name, path, exc)
    columns, dups = _match_columns(name, names, src.dialect)
    return SourceTable(name, relation, columns, first_row, str(path), dups,
                       fallback if relation != fallback else None,
                       native=native if path.suffix != ".csv" else {})


def csv_reading(fetch, path: Path) -> tuple[str, list[str], str]:
    """How to read a CSV file: (the ``read_csv(...)`` relation, its column names, the
    plain auto-detecting reading to fall back on). ``fetch(sql)`` runs a query on a DuckDB
    connection. DuckDB detects the format (delimiter, quoting, line ends, columns) once,
    here; staging then reads the file with these options spelt out. When the detection
    fails, or settles on something other than commas and double quotes although the header
    has commas (a stray quote throws it off), the file is read as the standard CSV it
    should be: its first problem is reported with row and column
    (:func:`locate_csv_problem`), or, if it has none, it is read with the standard options.
    """
    import duckdb

    check_regular(path)
    check_csv_start(path)
    options = f"{literal(str(path))}, header = true, all_varchar = true"
    fallback = f"read_csv({options})"
    standard = f"read_csv({options}, delim = ',', quote = '\"', escape = '\"')"
    try:
        found = fetch(f"SELECT Columns, Prompt, Delimiter, Quote FROM sniff_csv({options})")[0]
    except duckdb.Error:
        problem = _located(path)
        if problem is not None:
            raise problem from None
        found = None
    if found is not None and ((found[2] == "," and _quoting_holds(found[3], path))
                              or b"," not in _first_line_bytes(path)):
        names = [column["name"] for column in found[0]]
        return _detected_reading(found[1]) or fallback, names, fallback
    problem = _located(path)
    if problem is not None:
        raise problem
    names = [row[0] for row in fetch(f"DESCRIBE SELECT * FROM {standard}")]
    return standard, names, standard


def _quoting_holds(quote: str, path: Path) -> bool:
    """Whether the quoting DuckDB detected reads ``path`` as the standard CSV it is: double
    quotes, or none detected ("" or "(empty)") in a file without a double quote at all —
    a stray quote makes the detection settle on no quoting, and the file is then checked
    field by field instead (:func:`locate_csv_problem`)."""
    if quote == '"':
        return True
    return quote in ("", "(empty)") and not _holds_byte(path, b'"')


def _holds_byte(path: Path, byte: bytes, chunk: int = 1 << 22) -> bool:
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            if byte in block:
                return True
    return False


def _first_line_bytes(path: Path, size: int = 1 << 16) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(size).split(b"\n", 1)[0]


def _located(path: Path) -> FileReadError | None:
    try:
        check_csv_bytes(path)
    except FileReadError as exc:
        return exc
    return locate_csv_problem(path)


def _detected_reading(prompt: str) -> str | None:
    """The ``read_csv(...)`` call of the prompt ``sniff_csv`` returns (``FROM read_csv(
    'file', auto_detect=false, delim=',', ..., columns={...}, ...);``), None if it is not
    of that form."""
    text = str(prompt or "").strip().removesuffix(";").strip()
    if not (text.startswith("FROM read_csv(") and text.endswith(")")):
        return None
    return text.removeprefix("FROM ")


def _open_duckdb_file(text: str, database: str) -> DuckDBSource:
    import duckdb

    path = Path(database)
    if not database or not path.is_file():
        raise SopError(f"DuckDB database file not found: {database!r}",
                       "Use duckdb:///path/to/file.duckdb")
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH {literal(str(path))} AS sop_src (READ_ONLY)")
        rows = con.execute(
            "SELECT table_schema, table_name, column_name, data_type "
            "FROM information_schema.columns "
            "WHERE table_catalog = 'sop_src' ORDER BY table_schema, table_name, "
            "ordinal_position").fetchall()
    except duckdb.Error as exc:
        con.close()
        raise SopError(f"cannot open DuckDB database {database!r}", first_line(exc)) from None
    src = DuckDBSource(text, con)
    found: dict[str, tuple[str, str, list[str]]] = {}
    types: dict[str, dict[str, str]] = {}
    for schema, table, column, data_type in rows:
        if schema == "main" and table.lower() in c.TABLES:
            entry = found.setdefault(table.lower(), (schema, table, []))
            if entry[1] == table:  # the first of names differing only in case
                entry[2].append(column)
                types.setdefault(table.lower(), {}).setdefault(column, data_type)
    _register_db_tables(src, found, lambda schema, table: (
        f"sop_src.{src.dialect.quote(schema)}.{src.dialect.quote(table)}"), types)
    return src


def _open_sqlalchemy(text: str, url) -> DbapiSource:
    from sqlalchemy import create_engine, inspect

    from .failures import missing_driver, scrub

    shown = url.render_as_string(hide_password=True)
    try:
        engine = create_engine(url, poolclass=None)
    except Exception as exc:  # missing driver, bad URL
        if isinstance(exc, ImportError) or type(exc).__name__ == "NoSuchModuleError":
            raise missing_driver(url.get_backend_name(), shown, exc) from None
        raise SopError(f"cannot use database URL {shown}",
                       scrub(first_line(exc), url.password)) from None
    dialect = dialect_for(engine.dialect.name)
    if dialect.name == "sqlite":
        from sqlalchemy import event

        from .dialects import register_sqlite_functions

        event.listen(engine, "connect", register_sqlite_functions)
    try:
        src = DbapiSource(url.render_as_string(hide_password=True), engine, dialect)
    except Exception as exc:
        engine.dispose()
        raise SopError(f"cannot connect to {shown}: {scrub(first_line(exc), url.password)}"
                       ) from None
    try:
        if dialect.name == "postgresql":
            src.execute("SET DateStyle = 'ISO, YMD'")  # dates cast to text as YYYY-MM-DD
        insp = inspect(engine)
        schema = insp.default_schema_name
        names = list(insp.get_table_names(schema)) + list(insp.get_view_names(schema))
        found: dict[str, tuple[str, str, list[str]]] = {}
        types: dict[str, dict[str, str]] = {}
        stored = stored_name(engine.dialect)
        for table in names:
            if table.lower() in c.TABLES and table.lower() not in found:
                described = insp.get_columns(table, schema)
                cols = [stored(col["name"]) for col in described]
                types[table.lower()] = {stored(col["name"]): _type_name(col.get("type"))
                                        for col in described}
                found[table.lower()] = (stored(schema) if schema else schema, stored(table),
                                        cols)
    except Exception as exc:
        src.close()
        raise SopError(f"cannot read the tables of {src.name}",
                       scrub(first_line(exc), url.password)) from None
    _register_db_tables(src, found, lambda s, t: (
        f"{dialect.quote(s)}.{dialect.quote(t)}" if s else dialect.quote(t)), types)
    return src


def native_columns(types: dict[str, str]) -> dict[str, str]:
    """Normalised column name → native kind (:func:`.typed.native_kind`) of the typed
    columns among ``types`` (source column name → type name); the first of a name."""
    from .typed import native_kind

    out: dict[str, str] = {}
    seen: set[str] = set()
    for column, type_name in types.items():
        norm = _normalise(column)
        if norm in seen:
            continue
        seen.add(norm)
        kind = native_kind(type_name)
        if kind:
            out[norm] = kind
    return out


def _type_name(sqlalchemy_type) -> str:
    try:
        return str(sqlalchemy_type)
    except Exception:  # a type the default compiler cannot spell: treated as text
        return ""


def stored_name(sqlalchemy_dialect) -> Callable[[str], str]:
    """How a name SQLAlchemy reports is stored in the database, for quoting it: engines
    that store unquoted names upper case (Snowflake, Oracle) are reported lower case by
    their SQLAlchemy dialects (``requires_name_normalize``); ``denormalize_name`` gives
    the stored spelling back (``sales_lines`` → ``SALES_LINES``; a name created quoted in
    mixed or lower case is reported, and kept, as it is)."""
    if getattr(sqlalchemy_dialect, "requires_name_normalize", False):
        return lambda name: str(sqlalchemy_dialect.denormalize_name(name))
    return str


def _register_db_tables(src: Source, found: dict[str, tuple[str, str, list[str]]],
                        qualify, types: dict[str, dict[str, str]] | None = None) -> None:
    """Register the contract tables ``found`` (name → schema, table, columns as stored);
    ``types``: per table, the source columns' type names (typed columns stay typed)."""
    for name in c.TABLE_ORDER:
        if name not in found:
            if name not in c.OPTIONAL_TABLES:
                src.warnings.append(f"{name}: no table {name} in the database; treated as an "
                                    "empty table")
            continue
        schema, table, cols = found[name]
        columns, dups = _match_columns(name, cols, src.dialect)
        src.tables[name] = SourceTable(name, qualify(schema, table), columns, None,
                                       f"{schema}.{table}" if schema else table, dups,
                                       native=native_columns((types or {}).get(name, {})))
    if not src.tables:
        src.close()
        raise SopError(f"no contract tables found in {src.name}",
                       "Expected tables such as items, sales_lines (see the data contract).")


# --------------------------------------------------------------------------- file checks


class FileReadError(Exception):
    def __init__(self, message: str, row: int | None = None, column: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.row = row
        self.column = column


def check_regular(path: Path) -> None:
    """A source file must be a regular file: reading a FIFO would wait forever, a device
    never end, a folder fail."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise FileReadError(f"cannot read {path.name}: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO (named pipe)"
                if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode)
                or stat.S_ISBLK(mode) else "not a regular file")
        raise FileReadError(f"{path.name} is {kind}, not a regular file")


#: the longest text a workbook cell holds
MAX_CELL_CHARS = 32_767


def locate_csv_problem(path: Path, delimiter: str = ",") -> FileReadError | None:
    """The first place where ``path`` (UTF-8 text) is not well-formed CSV (RFC 4180:
    fields separated by ``delimiter``, optionally in double quotes with quotes doubled
    inside, records ended by CRLF, LF or CR), with its row as numbered in the file (the
    header is row 1; a record spanning lines is one row) and its column (the header's
    name, else ``field N``): an unclosed quote, text after a closing quote, a quote inside
    an unquoted field, a field longer than a cell holds, a record with another number of
    fields than the header. None if the file is well-formed."""
    try:
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
    except OSError as exc:
        return FileReadError(f"cannot read {path.name}: {exc.strerror}")
    unquoted = re.compile(f"[^{re.escape(delimiter)}\"\r\n]*")
    n = len(text)
    pos, row, col = 0, 1, 1
    header: list[str] | None = None
    values: list[str] = []

    def where(column: int) -> str:
        if header is not None and column <= len(header) and header[column - 1].strip():
            return header[column - 1].strip().lower()
        return f"field {column}"

    while pos < n:
        if text[pos] == '"':
            m = _QUOTED.match(text, pos)
            if m is None:
                return FileReadError("a quoted field is not closed (a stray quote?); a quote "
                                     'inside a quoted field must be doubled ("")', row, where(col))
            value, pos = m.group(1).replace('""', '"'), m.end()
            if pos < n and text[pos] not in (delimiter, "\r", "\n"):
                return FileReadError(f"text after the closing quote ({text[pos:pos + 12]!r}); "
                                     'a quote inside a quoted field must be doubled ("")',
                                     row, where(col))
        else:
            m = unquoted.match(text, pos)
            value, pos = m.group(0), m.end()
            if pos < n and text[pos] == '"':
                return FileReadError("a quote inside an unquoted field; put the field in "
                                     'quotes and double the quote ("")', row, where(col))
        if len(value) > MAX_CELL_CHARS:
            return FileReadError(f"a field of {len(value):,} characters (a cell holds at most "
                                 f"{MAX_CELL_CHARS:,})", row, where(col))
        values.append(value)
        if pos < n and text[pos] == delimiter:
            pos += 1
            col += 1
            if pos < n:
                continue
            values.append("")
        elif pos < n:
            pos += 2 if text.startswith("\r\n", pos) else 1
        if header is None:
            header = values
        elif len(values) != len(header) and not (len(values) == 1 and not values[0]):
            return FileReadError(f"{len(values)} fields, the header has {len(header)}", row,
                                 where(min(len(values), len(header) + 1)))
        row, col, values = row + 1, 1, []
    return None


_QUOTED = re.compile(r'"((?:[^"]|"")*)"', re.S)


def file_problem(table: str, path: str | Path, exc: Exception) -> Problem:
    """The problem to report for a file DuckDB could not read: for a CSV file the first
    place where it is not UTF-8 or not well-formed CSV, with row and column; else
    DuckDB's first line."""
    path = Path(path)
    if path.suffix == ".csv":
        found = _located(path)
        if found is not None:
            return Problem(table, found.row, found.column, found.message)
    kind = "CSV" if path.suffix == ".csv" else "Parquet"
    return Problem(table, None, None, f"cannot read {kind}: {first_line(exc)}")


def check_csv_start(path: Path, size: int = 1 << 16) -> None:
    """The cheap part of the CSV checks, before DuckDB reads the file (which rejects bytes
    that are not UTF-8 itself; :func:`file_problem` then names the line): an empty file."""
    with open(path, "rb") as fh:
        head = fh.read(size)
    if not head.strip():
        check_csv_bytes(path)  # all blank so far: look at the whole file


def check_csv_bytes(path: Path, chunk_size: int = 1 << 23) -> None:
    """The loader's CSV safety checks, streamed (constant memory): reject an empty file and
    bytes that are not UTF-8, naming the line (``row``) as the loader does."""
    base = 0  # file offset of data[0]
    carry = b""  # an incomplete UTF-8 sequence at the end of the previous chunk
    lines = 0
    content = False
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(chunk_size)
            final = not chunk
            data = carry + chunk
            good = len(data)
            carry = b""
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                if not final and exc.reason == "unexpected end of data":
                    good, carry = exc.start, data[exc.start:]
                else:
                    line = lines + data.count(b"\n", 0, exc.start) + 1
                    raise FileReadError(
                        f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                        f"{base + exc.start}); save the file as UTF-8", row=line) from None
            if final:
                break
            part = data[:good] if good < len(data) else data
            content = content or bool(part.strip())
            lines += part.count(b"\n")
            base += good
    if not content:
        raise FileReadError("file is empty (a header row naming the columns is required)")


def first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
