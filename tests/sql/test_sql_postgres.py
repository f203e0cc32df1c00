"""The SQL path on a real PostgreSQL server (started for the session, see
tests/sql/sql_postgres.py): the same tables as the in-memory path, and contract problems
reported by table, column and key."""

from __future__ import annotations

import pandas as pd
import psycopg
import pytest
from sources import line, ship, write_source
from sql_postgres import (
    assert_same_tables,
    compare_paths,
    folder_as_text_tables,
    load_tables_into,
    postgres,  # noqa: F401  (the session fixture)
    small_sources,
    write_small_source,
)

from sop_workbook import demo_data
from sop_workbook.errors import SourceValidationError
from sop_workbook.kpi.options import KpiOptions
from sop_workbook.sql import in_memory_tables, load_aggregates, open_source
from sop_workbook.sql.validation import MAX_PROBLEMS_PER_CHECK

DEMO = {"seed": 11, "items": 15, "months": 14}


@pytest.fixture(scope="module")
def demo_db(postgres, tmp_path_factory):  # noqa: F811
    """The demo data set in PostgreSQL with typed columns (dates, booleans, numbers), and
    the same data set as a folder of CSV files for the in-memory path."""
    folder = tmp_path_factory.mktemp("demo")
    demo_data.write(folder, **DEMO)
    url = postgres.create_database()
    load_tables_into(url, demo_data.generate(**DEMO))
    return url, folder


def test_server_is_postgresql(demo_db):
    url, _ = demo_db
    with psycopg.connect(url) as con:
        version = con.execute("SELECT version()").fetchone()[0]
    assert version.startswith("PostgreSQL")
    with open_source(url) as src:
        assert src.dialect.name == "postgresql"
        assert set(src.tables) >= {"items", "sales_lines", "purchase_orders"}


@pytest.mark.parametrize("options,sign", [
    (KpiOptions(), "positive"),
    (KpiOptions(tolerance_days=2, fill_basis="requested", days_early=1, days_late=2),
     "negative"),
])
def test_demo_in_postgres_same_tables_as_in_memory(demo_db, options, sign):
    url, folder = demo_db
    got, want = compare_paths(url, folder, options, sign)
    assert len(want["agg_sales"]) > 100 and len(want["fin_budget_detail"]) > 100
    if sign == "positive":
        assert got.warnings == []
    else:  # the demo stores income positive: negated, every income line is negative
        assert len(got.warnings) == 1
        assert "6110" in got.warnings[0] and "--gl-income-sign positive" in got.warnings[0]


def test_psycopg_url_spelling(demo_db):
    url, folder = demo_db
    got = load_aggregates(url.replace("postgresql://", "postgresql+psycopg://", 1))
    assert_same_tables(in_memory_tables(str(folder)), got.tables)


@pytest.mark.parametrize("name", list(small_sources()))
def test_small_sources_in_postgres_as_text(postgres, tmp_path, name):  # noqa: F811
    """Hand-made sources stored as text columns (as a staging database might hold them)."""
    folder = write_small_source(tmp_path / name, name)
    url = postgres.create_database()
    load_tables_into(url, folder_as_text_tables(folder))
    for options in (KpiOptions(), KpiOptions(tolerance_days=1, fill_basis="requested",
                                             days_early=2)):
        compare_paths(url, folder, options, "negative")


def test_column_names_case_and_spaces_extra_columns_absent_tables(postgres, tmp_path):  # noqa: F811
    folder = write_small_source(tmp_path / "d", "delivery")
    tables = folder_as_text_tables(folder)
    tables["sales_lines"] = tables["sales_lines"].rename(
        columns={"order_no": " Order_No ", "quantity": "QUANTITY"}).assign(note="extra")
    del tables["inventory"]  # required table absent: empty, with the loader's warning
    del tables["routings"]  # optional: absent silently
    (folder / "inventory.csv").unlink()
    (folder / "routings.csv").unlink()
    url = postgres.create_database()
    load_tables_into(url, tables)
    got, _ = compare_paths(url, folder)
    assert got.warnings == ["inventory: no table inventory in the database; treated as an "
                            "empty table"]


def _problems(url):
    with pytest.raises(SourceValidationError) as info:
        load_aggregates(url)
    return info.value.problems


def test_validation_problems_named_by_table_column_and_key(postgres, tmp_path):  # noqa: F811
    folder = write_source(
        tmp_path / "bad",
        sales_lines=[line("SO1", 1, 10, "2026-03-10"), line("SO1", 2, 5, "2026-03-12"),
                     line("SO1", 2, 7, "2026-03-15"),  # duplicate key
                     line("SO2", 1, 3, "2026-02-30", item="ZZZ")],  # bad date, unknown item
        sales_shipments=[ship("SH1", 1, "SO1", 1, "2026-03-10", 10)])
    tables = folder_as_text_tables(folder)
    tables["sales_invoices"] = tables["sales_invoices"].drop(columns="quantity")
    tables["sales_invoices"].to_csv(folder / "sales_invoices.csv", index=False)
    url = postgres.create_database()
    load_tables_into(url, tables)
    problems = _problems(url)
    by_column = {(p.table, p.column): p for p in problems}
    assert all(p.row is None for p in problems)
    dup = by_column[("sales_lines", "order_no+line_no")]
    assert dup.message == "duplicate key order_no=SO1, line_no=2 (2 rows)"
    unknown = by_column[("sales_lines", "item_no")]
    assert unknown.message == "'ZZZ' is not a known item_no in items (order_no=SO2, line_no=1)"
    bad_date = by_column[("sales_lines", "promised_date")]
    assert bad_date.message.startswith("'2026-02-30' is not a date")
    assert bad_date.message.endswith("(order_no=SO2, line_no=1)")
    assert by_column[("sales_invoices", "quantity")].message == "required column is missing"
    # the same checks as the loader on the same data (rows aside)
    from sop_workbook.loader import validate_source

    assert {(p.table, p.column) for p in problems} == {
        (p.table, p.column) for p in validate_source(folder)[0]}


def test_problems_capped_and_typed_columns(postgres, tmp_path):  # noqa: F811
    n = MAX_PROBLEMS_PER_CHECK + 5
    frame = pd.DataFrame({"order_no": [f"SO{i:02d}" for i in range(n)], "line_no": 1,
                          "customer_no": "C1", "item_no": "NOPE", "location_code": "MAIN",
                          "order_date": pd.Timestamp("2026-03-01"),
                          "promised_date": pd.Timestamp("2026-03-10"), "quantity": 1.0})
    folder = write_source(tmp_path / "m")
    tables = folder_as_text_tables(folder)
    tables["sales_lines"] = frame
    url = postgres.create_database()
    load_tables_into(url, tables)
    problems = [p for p in _problems(url) if p.column == "item_no"]
    assert len(problems) == MAX_PROBLEMS_PER_CHECK + 1
    more = [p.message for p in problems if p.message.startswith("...")]
    assert more == ["... and 5 more rows like (order_no=SO00, line_no=1)"]
    listed = sorted(p.message for p in problems if not p.message.startswith("..."))
    assert listed == [f"'NOPE' is not a known item_no in items (order_no=SO{i:02d}, line_no=1)"
                      for i in range(MAX_PROBLEMS_PER_CHECK)]


def test_column_twice_in_a_table(postgres, tmp_path):  # noqa: F811
    folder = write_small_source(tmp_path / "d", "delivery")
    url = postgres.create_database()
    load_tables_into(url, folder_as_text_tables(folder))
    with psycopg.connect(url) as con:
        con.execute('ALTER TABLE locations ADD COLUMN "Location_Code" text')
    problems = _problems(url)
    assert [(p.table, p.column) for p in problems] == [("locations", "location_code")]
    assert "appears twice" in problems[0].message


def test_missing_postgresql_fails_the_tests_with_a_hint(monkeypatch, tmp_path):
    """Without initdb/pg_ctl (and no SOP_TEST_POSTGRES_URL) the fixture fails — it never
    skips — and says what to install."""
    import sql_postgres

    monkeypatch.delenv("SOP_TEST_POSTGRES_URL", raising=False)
    monkeypatch.setattr(sql_postgres, "_pg_binary", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match="apt-get install postgresql"):
        sql_postgres.start_postgres(tmp_path)
