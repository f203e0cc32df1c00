"""Test support for the SQL path: a throwaway PostgreSQL server, loading sources into it,
the small hand-made sources, and comparing the SQL tables with the in-memory ones.

The server: ``SOP_TEST_POSTGRES_URL`` (a database URL the tests may create databases on)
if set; otherwise ``initdb`` + ``pg_ctl`` start one on 127.0.0.1 in a temporary
directory (as the ``postgres`` user when running as root: PostgreSQL refuses to run as
root). PostgreSQL not installed is a test *failure* naming what to install, never a skip.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pandas as pd
import pytest
from sources import line, ship, write_source

from sop_workbook.contract import TABLES
from sop_workbook.sql import in_memory_tables, load_aggregates
from sop_workbook.sql.reference import table_differences

INSTALL_HINT = ("PostgreSQL is required by the SQL-source tests: install it (Debian: "
                "apt-get install postgresql; .ci/run does this) or set SOP_TEST_POSTGRES_URL "
                "to a server the tests may create databases on.")


def _pg_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """A PostgreSQL server the tests own (or the one of SOP_TEST_POSTGRES_URL)."""

    def __init__(self, admin_url: str, stop=None) -> None:
        self.admin_url = admin_url  # postgresql://user@host:port/postgres
        self._stop = stop

    def create_database(self) -> str:
        """A new empty database; its URL."""
        import psycopg
        from sqlalchemy.engine import make_url

        name = f"sop_test_{uuid.uuid4().hex[:10]}"
        url = make_url(self.admin_url)
        with psycopg.connect(url.set(drivername="postgresql").render_as_string(
                hide_password=False), autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return url.set(database=name).render_as_string(hide_password=False)

    def stop(self) -> None:
        if self._stop:
            self._stop()


def start_postgres(base: Path) -> PostgresServer:
    """Start a throwaway server under ``base`` (see the module docstring)."""
    env_url = os.environ.get("SOP_TEST_POSTGRES_URL")
    if env_url:
        return PostgresServer(env_url)
    initdb, pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.fail(f"initdb/pg_ctl not found on PATH or under /usr/lib/postgresql/*/bin. "
                    f"{INSTALL_HINT}", pytrace=False)
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:  # pytest's temporary directories are private to root: use one of our own
        base = Path(tempfile.mkdtemp(prefix="sop-pg-"))
    base.mkdir(parents=True, exist_ok=True)
    data, sock = base / "data", base / "sock"
    sock.mkdir(exist_ok=True)
    if as_root:
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
        os.chmod(base, 0o700)
    port = _free_port()

    def run(*cmd: str) -> None:
        result = subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            pytest.fail(f"{' '.join(cmd[:2])} failed ({result.returncode}):\n{result.stdout}\n"
                        f"{result.stderr}\n{INSTALL_HINT}", pytrace=False)

    run(initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
        "--locale=C", "--no-sync")
    run(pg_ctl, "-D", str(data), "-l", str(base / "server.log"), "-w", "-t", "60", "-o",
        f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c full_page_writes=off -c synchronous_commit=off", "start")

    def stop() -> None:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60)
        if as_root:
            shutil.rmtree(base, ignore_errors=True)

    return PostgresServer(f"postgresql://postgres@127.0.0.1:{port}/postgres", stop)


@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    """A running PostgreSQL server (stopped at the end of the session)."""
    base = Path(tmp_path_factory.mktemp("pg"))
    server = start_postgres(base)
    yield server
    server.stop()


def load_tables_into(url: str, tables: dict[str, pd.DataFrame]) -> None:
    """Create the tables in the database at ``url`` (pandas.to_sql)."""
    from sqlalchemy import create_engine

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as con:
            for name, frame in tables.items():
                frame.to_sql(name, con, index=False, if_exists="replace")
    finally:
        engine.dispose()


def folder_as_text_tables(folder: Path) -> dict[str, pd.DataFrame]:
    """Every ``<table>.csv`` of a folder with its cells as text (empty → NULL), as a
    database that stores everything as text would hold them."""
    return {path.stem: pd.read_csv(path, dtype=str, keep_default_na=False).replace("", None)
            for path in sorted(folder.glob("*.csv"))}


# --------------------------------------------------------------------------- small sources


def _receipt(no, vendor, item, expected, received):
    return {"receipt_no": no, "line_no": 1, "vendor_no": vendor, "item_no": item,
            "expected_receipt_date": expected, "receipt_date": received, "quantity": 10}


def _production(no, item, due, planned, finished_date="", finished_qty="", status="",
                work_center=""):
    return {"prod_order_no": no, "item_no": item, "location_code": "MAIN", "due_date": due,
            "planned_quantity": planned, "finished_date": finished_date,
            "finished_quantity": finished_qty, "status": status, "work_center": work_center}


def _invoice(no, date, customer, item, qty, amount, cost, location="MAIN"):
    return {"invoice_no": no, "line_no": 1, "posting_date": date, "customer_no": customer,
            "item_no": item, "location_code": location, "quantity": qty, "amount": amount,
            "cost_amount": cost}


def _budget(period, customer, item, qty, amount, location="MAIN"):
    return {"period": period, "customer_no": customer, "item_no": item,
            "location_code": location, "quantity": qty, "amount": amount}


def _opportunity(no, sp, customer, expected, amount, status, item="", qty="", prob="",
                 commit="", close=""):
    return {"opportunity_no": no, "salesperson": sp, "customer_no": customer,
            "expected_close_date": expected, "amount": amount, "status": status,
            "item_no": item, "quantity": qty, "probability": prob, "commit": commit,
            "close_date": close}


def small_sources() -> dict[str, dict[str, list[dict]]]:
    """Hand-made sources (rows per table; masters from tests/sources.py), each exercising
    figures the SQL path must get exactly right."""
    return {
        "delivery": {
            # promised/requested fallback, partial and late shipments, tolerance, a line
            # with quantity 0, a line shipped over two months
            "sales_lines": [
                line("SO1", 1, 10, "2026-03-10"),
                line("SO1", 2, 5, "", requested="2026-03-12", item="B"),
                line("SO2", 1, 8, "2026-03-31", requested="2026-03-25", customer="C2",
                     location="EAST"),
                line("SO2", 2, 0, "2026-04-02", customer="C2"),
                line("SO3", 1, 6, "2026-04-15", requested="2026-04-20", item="B"),
            ],
            "sales_shipments": [
                ship("SH1", 1, "SO1", 1, "2026-03-10", 6),
                ship("SH2", 1, "SO1", 1, "2026-03-11", 4),
                ship("SH3", 1, "SO1", 2, "2026-03-12", 5),
                ship("SH4", 1, "SO2", 1, "2026-03-30", 8),
                ship("SH5", 1, "SO2", 2, "2026-04-05", 1),
                ship("SH6", 1, "SO3", 1, "2026-04-16", 3),
                ship("SH7", 1, "SO3", 1, "2026-05-02", 3),
            ],
        },
        "returns": {
            # undo and reshipment, a partial return, an undo of the latest of two shipments
            "sales_lines": [
                line("SO1", 1, 10, "2026-03-10"),
                line("SO1", 2, 10, "2026-03-20", item="B"),
                line("SO2", 1, 10, "2026-03-10", customer="C2"),
            ],
            "sales_shipments": [
                ship("SH1", 1, "SO1", 1, "2026-03-08", 10),
                ship("SH2", 1, "SO1", 1, "2026-03-09", -10),
                ship("SH3", 1, "SO1", 1, "2026-03-15", 10),
                ship("SH4", 1, "SO1", 2, "2026-03-18", 10),
                ship("SH5", 1, "SO1", 2, "2026-04-02", -4),
                ship("SH6", 1, "SO2", 1, "2026-03-05", 10),
                ship("SH7", 1, "SO2", 1, "2026-03-12", 10),
                ship("SH8", 1, "SO2", 1, "2026-03-13", -10),
            ],
        },
        "supply": {
            "purchase_receipts": [
                _receipt("R1", "V1", "A", "2026-03-10", "2026-03-10"),
                _receipt("R2", "V1", "A", "2026-03-10", "2026-03-02"),
                _receipt("R3", "V2", "B", "2026-03-20", "2026-03-23"),
                _receipt("R4", "V2", "B", "2026-03-31", "2026-04-01"),
            ],
            "production_orders": [
                _production("P1", "A", "2026-03-15", 100, "2026-03-14", 120, "finished", "WC1"),
                _production("P2", "A", "2026-03-20", 50, "2026-03-25", 50, "finished", "WC1"),
                _production("P3", "B", "2026-03-31", 40, "2026-03-31", 30, "Finished"),
                _production("P4", "B", "2026-04-30", 70, "", "20", "released", "WC2"),
                _production("P5", "B", "2026-05-31", 10, "", "", "Closed", "WC2"),
            ],
            "purchase_orders": [
                {"order_no": "PO1", "line_no": 1, "vendor_no": "V1", "item_no": "A",
                 "location_code": "MAIN", "expected_receipt_date": "2026-05-04",
                 "outstanding_quantity": 25},
                {"order_no": "PO1", "line_no": 2, "vendor_no": "V1", "item_no": "A",
                 "location_code": "MAIN", "expected_receipt_date": "2026-05-28",
                 "outstanding_quantity": 5},
            ],
            "inventory": [
                {"period": "2026-03", "item_no": "A", "location_code": "MAIN",
                 "quantity": 40, "value": 400},
                {"period": "2026-03", "item_no": "B", "location_code": "EAST",
                 "quantity": 12, "value": 60},
            ],
            "capacity": [{"work_center": "WC1", "period": "2026-03", "available_hours": 160}],
            "routings": [{"item_no": "A", "work_center": "WC1", "hours_per_unit": 0.5}],
        },
        "finance": {
            # C2 is EXPORT: no posting setup → unmapped; income and expense GL budget
            "sales_invoices": [
                _invoice("I1", "2026-03-05", "C1", "A", 5, 100, 50),
                _invoice("I2", "2026-03-20", "C1", "A", 2, 40, 20, location="EAST"),
                _invoice("I3", "2026-03-21", "C2", "B", 3, 24, 15),
                _invoice("I4", "2026-04-02", "C1", "B", -1, -8, -5),
            ],
            "sales_budget": [
                _budget("2026-03", "C1", "A", 6, 120),
                _budget("2026-03", "C2", "B", 3, 30),
                _budget("2026-04", "C1", "A", 4, 80),
                _budget("2026-04", "C1", "B", 1, 8, location="EAST"),
            ],
            "gl_budget": [
                {"gl_account": "6110", "period": "2026-03", "amount": -100},
                {"gl_account": "6110", "period": "2026-04", "amount": -88},
                {"gl_account": "7110", "period": "2026-03", "amount": 60},
                {"gl_account": "6120", "period": "2026-05", "amount": 0},
            ],
        },
        "funnel": {
            "opportunities": [
                _opportunity("O1", "JO", "C1", "2026-03-15", 1000, "won", close="2026-03-20"),
                _opportunity("O2", "JO", "C1", "2026-03-25", 500, "lost"),
                _opportunity("O3", "KE", "C2", "2026-04-10", 800, "open", item="A", qty=10,
                             prob=60, commit="false"),
                _opportunity("O4", "KE", "C2", "2026-04-12", 300, "open", item="B", qty=4,
                             prob="0.25", commit="true"),
                _opportunity("O5", "JO", "C1", "2026-04-30", 200, "open", item="A", qty=2),
                _opportunity("O6", "JO", "C2", "2026-05-03", 150, "won", commit="yes"),
                _opportunity("O7", "KE", "C1", "2026-05-03", 90, "open", item="B"),
            ],
        },
        "empty": {},
    }


def write_small_source(folder: Path, name: str) -> Path:
    return write_source(folder, **small_sources()[name])


def assert_same_tables(expected: dict[str, pd.DataFrame], actual: dict[str, pd.DataFrame]):
    """Same table names, and each table the same rows, columns and values."""
    assert list(actual) == list(expected)
    problems = {name: diff for name in expected
                if (diff := table_differences(expected[name], actual[name]))}
    assert not problems, problems


def compare_paths(sql_source: str, folder: Path, options=None, sign: str = "positive"):
    """load_aggregates on ``sql_source`` equals the in-memory tables of ``folder``."""
    got = load_aggregates(sql_source, options, gl_income_sign=sign)
    want = in_memory_tables(str(folder), options, gl_income_sign=sign)
    assert_same_tables(want, got.tables)
    return got, want


def contract_columns(name: str) -> list[str]:
    return list(TABLES[name].columns)


@contextlib.contextmanager
def no_env(var: str):
    old = os.environ.pop(var, None)
    try:
        yield
    finally:
        if old is not None:
            os.environ[var] = old
