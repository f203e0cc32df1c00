"""Clear errors from SQL sources: a missing driver, a URL that cannot connect, an engine
without a dialect, an absent column, a failing query — one line naming it, exit code 2,
the workbook not touched, the URL's password never printed."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys

import pytest
from sql_postgres import folder_as_text_tables, write_small_source
from typer.testing import CliRunner

from sop_workbook.cli import app
from sop_workbook.template.build import packaged_template

SECRET = "s3cr3t-pw"


@pytest.fixture
def book(tmp_path):
    target = tmp_path / "book.xlsm"
    shutil.copy(packaged_template(), target)
    return target


def _refused(book, source: str) -> str:
    before = book.read_bytes()
    result = CliRunner().invoke(app, ["refresh", str(book), "--source", source])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: "), result.output
    assert "Traceback" not in result.output
    assert SECRET not in result.output
    assert book.read_bytes() == before
    assert not list(book.parent.glob("book.xlsm.bak*"))
    return result.output


def test_missing_driver_names_the_package(book):
    out = _refused(book, f"snowflake://me:{SECRET}@account/db/schema")
    assert "no driver for snowflake" in out and "snowflake-sqlalchemy" in out


def test_unreachable_server(book):
    out = _refused(book, f"postgresql://me:{SECRET}@127.0.0.1:1/db")
    assert out.startswith("error: cannot connect to postgresql+psycopg://me:***@127.0.0.1:1/db")
    assert len(out.strip().splitlines()) <= 2


def test_engine_without_a_dialect():
    """SQLAlchemy has an Oracle dialect; sop-workbook has no SQL spelling for it."""
    from sop_workbook.errors import SopError
    from sop_workbook.sql.dialects import dialect_for

    with pytest.raises(SopError) as info:
        dialect_for("oracle")
    assert info.value.summary == "database engine 'oracle' is not supported"
    assert "snowflake" in info.value.detail and "sqlite" in info.value.detail


def test_absent_column_and_table_in_sqlite(book, tmp_path):
    folder = write_small_source(tmp_path / "d", "delivery")
    path = tmp_path / "d.db"
    tables = folder_as_text_tables(folder)
    tables["sales_lines"] = tables["sales_lines"].drop(columns="quantity")
    with sqlite3.connect(path) as con:
        for name, frame in tables.items():
            frame.to_sql(name, con, index=False)
    out = _refused(book, f"sqlite:///{path}")
    assert "sales_lines, column quantity: required column is missing" in out


def test_sqlite_url_runs_in_a_fresh_process(tmp_path, book):
    """The issue's case: `sop refresh … --source sqlite:///file.db` used to die with a
    traceback (no regexp_like); now it refreshes."""
    folder = write_small_source(tmp_path / "d", "delivery")
    path = tmp_path / "d.db"
    with sqlite3.connect(path) as con:
        for name, frame in folder_as_text_tables(folder).items():
            frame.to_sql(name, con, index=False)
    result = subprocess.run([sys.executable, "-m", "sop_workbook", "refresh", str(book),
                             "--source", f"sqlite:///{path}"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert "refreshed" in result.stdout
