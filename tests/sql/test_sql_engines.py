"""The SQL of every engine the README names: each statement generated for Snowflake,
BigQuery, Spark SQL / Databricks, Trino, SQLite and PostgreSQL parses with sqlglot for
that engine and, transpiled to DuckDB and run on the demo tables, gives the same tables
as the in-memory path; each raw table is read by one statement per refresh; SQLite runs
for real (and PostgreSQL in test_sql_postgres.py, Spark in test_sql_spark.py)."""

from __future__ import annotations

import sqlite3

import pytest
from sql_engines import DIALECTS, transpiled
from sql_postgres import assert_same_tables, folder_as_text_tables, write_small_source
from sqlalchemy.dialects import oracle

from sop_workbook import demo_data
from sop_workbook.contract import TABLES
from sop_workbook.errors import SourceValidationError
from sop_workbook.kpi.options import KpiOptions
from sop_workbook.sql import in_memory_tables, load_aggregates
from sop_workbook.sql.dialects import SNOWFLAKE
from sop_workbook.sql.sources import stored_name

DEMO = {"seed": 11, "items": 15, "months": 14}
TOLERANT = KpiOptions(tolerance_days=2, fill_basis="requested", days_early=1, days_late=2)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo data set: as a CSV folder (the in-memory reference), its tables typed as
    a database holds them, and its tables as text."""
    folder = tmp_path_factory.mktemp("demo")
    demo_data.write(folder, **DEMO)
    expected = {"default": in_memory_tables(str(folder)),
                "tolerant": in_memory_tables(str(folder), TOLERANT, gl_income_sign="negative")}
    return folder, demo_data.generate(**DEMO), folder_as_text_tables(folder), expected


@pytest.mark.parametrize("engine", list(DIALECTS))
def test_demo_through_each_engines_sql(demo, engine):
    _folder, typed, _, expected = demo
    with transpiled(DIALECTS[engine], typed) as src:
        got = load_aggregates("transpiled")
    assert_same_tables(expected["default"], got.tables)
    assert len(src.statements) > 50
    # every raw table is scanned once: one statement (staging) reads it
    for name in TABLES:
        if name in typed:
            assert len(src.reads(name)) == 1, (name, src.reads(name))


@pytest.mark.parametrize("engine", ["snowflake", "bigquery", "spark", "trino", "sqlite"])
def test_demo_as_text_other_options(demo, engine):
    _, _, text, expected = demo
    with transpiled(DIALECTS[engine], text):
        got = load_aggregates("transpiled", TOLERANT, gl_income_sign="negative")
    assert_same_tables(expected["tolerant"], got.tables)


@pytest.mark.parametrize("engine", ["bigquery", "spark", "trino"])
def test_small_sources_as_text(tmp_path, engine):
    for name in ("delivery", "supply", "finance", "funnel"):
        folder = write_small_source(tmp_path / name, name)
        with transpiled(DIALECTS[engine], folder_as_text_tables(folder)):
            got = load_aggregates("transpiled")
        assert_same_tables(in_memory_tables(str(folder)), got.tables)


def test_snowflake_upper_case_tables_are_found_and_named_as_stored(demo):
    """Snowflake stores unquoted names upper case: tables created the usual way are
    SALES_LINES with ORDER_NO…; the generated SQL must name them exactly so."""
    _, typed, _, expected = demo
    with transpiled(SNOWFLAKE, typed, upper_case=True) as src:
        got = load_aggregates("transpiled")
    assert_same_tables(expected["default"], got.tables)
    staging = src.reads("SALES_LINES")
    assert len(staging) == 1
    assert 'FROM "SALES_LINES"' in staging[0] and '"ORDER_NO"' in staging[0]
    assert not src.reads("sales_lines")
    # SQLAlchemy dialects of such engines report names lower case; the stored spelling
    # is what the queries quote (Oracle's dialect, in SQLAlchemy itself, normalises alike)
    stored = stored_name(oracle.dialect())
    assert [stored(n) for n in ("sales_lines", "order_no", "MixedCase")] == [
        "SALES_LINES", "ORDER_NO", "MixedCase"]


@pytest.mark.parametrize("engine", ["snowflake", "bigquery", "spark", "trino", "sqlite"])
def test_problems_reported_by_table_column_and_key(demo, engine):
    _, _, text, _ = demo
    bad = {name: frame.copy() for name, frame in text.items()}
    lines = bad["sales_lines"]
    lines.loc[3, "promised_date"] = "2026-02-30"
    lines.loc[4, "quantity"] = "ten"
    lines.loc[5, "item_no"] = "NO-SUCH-ITEM"
    with transpiled(DIALECTS[engine], bad), pytest.raises(SourceValidationError) as info:
        load_aggregates("transpiled")
    key = f"order_no={lines.loc[3, 'order_no']}, line_no={lines.loc[3, 'line_no']}"
    found = {(p.table, p.column): p.message for p in info.value.problems}
    assert found[("sales_lines", "promised_date")] == (
        f"'2026-02-30' is not a date (YYYY-MM-DD, 1900–2199) ({key})")
    assert "'ten' is not a number" in found[("sales_lines", "quantity")]
    assert found[("sales_lines", "item_no")].startswith(
        "'NO-SUCH-ITEM' is not a known item_no in items")


@pytest.fixture(scope="module")
def sqlite_db(demo, tmp_path_factory):
    """The demo data in a SQLite file, as pandas.to_sql stores it (typed columns)."""
    _, typed, _, _ = demo
    path = tmp_path_factory.mktemp("sqlite") / "demo.db"
    with sqlite3.connect(path) as con:
        for name, frame in typed.items():
            frame.to_sql(name, con, index=False)
    return path


def test_sqlite_runs_for_real(demo, sqlite_db):
    _, _, _, expected = demo
    got = load_aggregates(f"sqlite:///{sqlite_db}")
    assert_same_tables(expected["default"], got.tables)
    got = load_aggregates(f"sqlite:///{sqlite_db}", TOLERANT, gl_income_sign="negative")
    assert_same_tables(expected["tolerant"], got.tables)


def test_sqlite_text_tables_for_real(tmp_path):
    folder = write_small_source(tmp_path / "d", "delivery")
    path = tmp_path / "d.db"
    with sqlite3.connect(path) as con:
        for name, frame in folder_as_text_tables(folder).items():
            frame.to_sql(name, con, index=False)
    got = load_aggregates(f"sqlite:///{path}", KpiOptions(tolerance_days=1))
    assert_same_tables(in_memory_tables(str(folder), KpiOptions(tolerance_days=1)), got.tables)


def test_typed_parquet_values_checked_without_text(tmp_path):
    """Typed Parquet columns are staged from their values (no text parsing), and a value
    the contract rejects is still reported with table, row and column."""
    import duckdb

    from sop_workbook.sql import open_source

    folder = write_small_source(tmp_path / "d", "delivery")
    con = duckdb.connect()
    for path in sorted(folder.glob("*.csv")):
        select = f"SELECT * FROM read_csv('{path}', header = true)"
        if path.stem == "sales_lines":  # typed: DOUBLE quantity, DATE promised_date
            select = (f"SELECT * REPLACE (CASE WHEN order_no = 'SO1' AND line_no = 2 "
                      f"THEN 1e20 ELSE quantity END::DOUBLE AS quantity, CASE WHEN "
                      f"order_no = 'SO2' AND line_no = 1 THEN DATE '1850-01-01' ELSE "
                      f"promised_date::DATE END AS promised_date) FROM ({select})")
        con.execute(f"COPY ({select}) TO '{path.with_suffix('.parquet')}' (FORMAT parquet)")
        path.unlink()
    con.close()
    with open_source(str(folder)) as src:
        assert src.tables["sales_lines"].native["quantity"] == "number"
        assert src.tables["sales_lines"].native["promised_date"] == "date"
    with pytest.raises(SourceValidationError) as info:
        load_aggregates(str(folder))
    found = {(p.table, p.row, p.column): p.message for p in info.value.problems}
    assert found[("sales_lines", 2, "quantity")] == (
        "'1e+20' is not a number (or is out of range ±1e+15)")
    assert found[("sales_lines", 3, "promised_date")] == (
        "'1850-01-01' is not a date (YYYY-MM-DD, 1900–2199)")
    assert len(info.value.problems) == 2
