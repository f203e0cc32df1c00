"""Apache Spark as a source: ``spark://…`` (a Spark session) and ``sc://…`` (Spark Connect).

URLs (the part after ``?`` is optional)::

    spark://local                    a local Spark session on every core (local[*])
    spark://local[2]                 a local session on 2 cores
    spark://HOST:7077                a standalone Spark cluster's master
    sc://HOST:15002                  a Spark Connect server (Databricks Connect, Spark 3.4+)
    …?files=/path/to/folder          the folder's <table>.csv / <table>.parquet files, read
                                     by Spark (CSV as text), as the contract tables
    …?database=NAME                  the contract tables of that database (default: the
                                     session's current database)

Without ``files`` the contract tables are the tables and views of the database whose names
are the contract's (case-insensitively; temporary views included). The SQL is the Spark
dialect's (:mod:`.dialects`): intermediate relations are ``CACHE TABLE … AS SELECT`` views
(computed once), dropped when the source closes. A session this module starts is stopped
at the end; one that was already running in the process (``getActiveSession``) is left
running. Needs ``pyspark`` (``pip install pyspark``, or ``sop-workbook[spark]``) and, for
a local session, Java 17 or later.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pandas as pd

from .. import contract as c
from ..errors import SopError
from .dialects import SPARK
from .sources import Source, _register_db_tables, check_csv_start, first_line

SCHEMES = ("spark://", "sc://")


class SparkSource(Source):
    """Statements run through ``session.sql`` (one after the other)."""

    def __init__(self, name: str, session, owned: bool) -> None:
        super().__init__(name, SPARK)
        self.session = session
        self.owned = owned
        self.views: list[str] = []  # temporary views of files, dropped at close
        self.cached: list[str] = []

    def _execute(self, sql: str) -> None:
        self.session.sql(sql).collect()

    def _query(self, sql: str) -> pd.DataFrame:
        frame = self.session.sql(sql)
        rows = frame.collect()
        return pd.DataFrame.from_records([tuple(row) for row in rows], columns=frame.columns)

    def materialize(self, name: str, select: str) -> None:
        super().materialize(name, select)
        if name not in self.cached:
            self.cached.append(name)

    def release(self, name: str) -> None:
        """Nothing before :meth:`close`: a cached view is defined by its query, which later
        views (cached from it) still name."""

    def close(self) -> None:
        for name in reversed(self.cached):
            with contextlib.suppress(Exception):
                super().release(name)
        for view in self.views:
            with contextlib.suppress(Exception):
                self.session.catalog.dropTempView(view)
        if self.owned:
            with contextlib.suppress(Exception):
                self.session.stop()


def parse_url(url: str) -> tuple[str, dict[str, str]]:
    """``(master or connect URL, options)`` of a ``spark://`` / ``sc://`` URL."""
    from urllib.parse import parse_qsl

    base, _, query = url.partition("?")
    options = dict(parse_qsl(query, keep_blank_values=True))
    unknown = set(options) - {"files", "database"}
    if unknown:
        raise SopError(f"unknown option(s) {', '.join(sorted(unknown))} in Spark URL {base}",
                       "Options: files=FOLDER, database=NAME.")
    if base.startswith("sc://"):
        return base, options
    master = base.removeprefix("spark://").rstrip("/")
    if master == "local" or master.startswith("local["):
        return (master if master != "local" else "local[*]"), options
    return base, options


def open_spark(url: str) -> SparkSource:
    """Open a Spark source (see the module docstring)."""
    master, options = parse_url(url)
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SopError("Spark source needs pyspark, which is not installed",
                       "Install it next to sop-workbook: pip install pyspark "
                       "(or sop-workbook[spark]).") from None
    shown = url.partition("?")[0]
    active = SparkSession.getActiveSession()
    try:
        if active is not None and not master.startswith("sc://"):
            session, owned = active, False
        elif master.startswith("sc://"):
            _check_reachable(master)
            _check_connect_client()
            session, owned = SparkSession.builder.remote(master).getOrCreate(), False
        else:
            if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
                raise SopError("cannot start Spark: Java is not installed",
                               "Spark needs Java 17 or later (Debian: apt-get install "
                               "default-jre-headless).")
            session = (SparkSession.builder.master(master).appName("sop-workbook")
                       .config("spark.ui.enabled", "false")
                       .config("spark.sql.shuffle.partitions", "8")
                       .getOrCreate())
            owned = True
            session.sparkContext.setLogLevel("ERROR")
    except SopError:
        raise
    except Exception as exc:
        raise SopError(f"cannot start or reach Spark at {shown}", first_line(exc)) from None
    src = SparkSource(shown, session, owned)
    try:
        if "files" in options:
            _register_files(src, Path(options["files"]))
        else:
            _register_catalog(src, options.get("database") or None)
    except SopError:
        src.close()
        raise
    except Exception as exc:
        src.close()
        raise SopError(f"cannot read the tables of {shown}", first_line(exc)) from None
    return src


def _check_connect_client() -> None:
    """The Spark Connect client's own packages (``pyspark[connect]``) are installed."""
    import importlib.util

    missing = [name for name in ("grpc", "grpc_status", "pyarrow")
               if importlib.util.find_spec(name) is None]
    if missing:
        raise SopError("a Spark Connect source (sc://) needs the Spark Connect client, which "
                       f"is not installed ({', '.join(missing)} missing)",
                       "pip install 'pyspark[connect]' (or sop-workbook[spark-connect]).")


def _check_reachable(url: str, timeout: float = 15.0) -> None:
    """Fail at once when nothing listens at a Spark Connect URL's host and port (default
    15002): the Connect client would otherwise retry its first call for many minutes."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url.split(";", 1)[0])
    host, port = parts.hostname or "localhost", parts.port or 15002
    try:
        with socket.create_connection((host, port), timeout):
            pass
    except OSError as exc:
        raise SopError(f"cannot start or reach Spark at {url.split(';', 1)[0]}",
                       f"nothing answers at {host}:{port} ({exc.strerror or exc})") from None


def _register_catalog(src: SparkSource, database: str | None) -> None:
    q = src.dialect.quote
    found: dict[str, tuple[str, str, list[str]]] = {}
    types: dict[str, dict[str, str]] = {}
    for table in src.session.catalog.listTables(database) if database else \
            src.session.catalog.listTables():
        name = table.name.lower()
        if name in c.TABLES and name not in found:
            schema = database if (database and not table.isTemporary) else ""
            relation = f"{q(schema)}.{q(table.name)}" if schema else q(table.name)
            dtypes = src.session.table(relation).dtypes
            found[name] = (schema, table.name, [column for column, _ in dtypes])
            types[name] = dict(dtypes)
    _register_db_tables(src, found, lambda s, t: f"{q(s)}.{q(t)}" if s else q(t), types)


def _register_files(src: SparkSource, folder: Path) -> None:
    """Each contract table's file as a temporary view (named for this run); CSV read as
    text, the header naming the columns."""
    if not folder.is_dir():
        raise SopError(f"source folder not found: {folder}",
                       "Give files=FOLDER, a folder of <table>.csv files.")
    q = src.dialect.quote
    found: dict[str, tuple[str, str, list[str]]] = {}
    types: dict[str, dict[str, str]] = {}
    for name in c.TABLE_ORDER:
        paths = [p for p in (folder / f"{name}.csv", folder / f"{name}.parquet") if p.exists()]
        if len(paths) > 1:
            raise SopError(f"{name}: both a .csv and a .parquet file in {folder}; keep one")
        if not paths:
            continue
        path = paths[0]
        if path.suffix == ".csv":
            check_csv_start(path)
            frame = src.session.read.csv(str(path), header=True, inferSchema=False,
                                         escape='"', multiLine=True, encoding="UTF-8")
        else:
            frame = src.session.read.parquet(str(path))
        view = f"sop_file_{name}_{src.run_id}"
        frame.createOrReplaceTempView(view)
        src.views.append(view)
        found[name] = ("", view, list(frame.columns))
        types[name] = dict(frame.dtypes)
    if not found:
        raise SopError(f"no contract tables found in {folder}",
                       "Expected files such as items.csv, sales_lines.csv.")
    _register_db_tables(src, found, lambda s, t: q(t), types)
