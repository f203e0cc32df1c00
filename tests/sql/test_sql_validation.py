"""Contract validation in SQL (folder sources): the problems the loader reports, at the
same table, row and column; nothing is computed from an invalid source."""

from __future__ import annotations

import pytest
from sources import line, ship, write_source
from sql_postgres import assert_same_tables

from sop_workbook.errors import SourceValidationError
from sop_workbook.loader import validate_source
from sop_workbook.sql import in_memory_tables, load_aggregates, validate
from sop_workbook.sql.validation import MAX_PROBLEMS_PER_CHECK

GOOD_LINES = [line("SO1", 1, 10, "2026-03-10"), line("SO1", 2, 5, "2026-03-12", item="B")]
GOOD_SHIPS = [ship("SH1", 1, "SO1", 1, "2026-03-10", 10)]


def _where(problems):
    return sorted({(p.table, p.row, p.column) for p in problems}, key=str)


def _sql_problems(folder):
    with pytest.raises(SourceValidationError) as info:
        load_aggregates(str(folder))
    return info.value.problems


def test_duplicate_key_unknown_item_bad_date_missing_column(tmp_path):
    folder = write_source(
        tmp_path / "bad",
        sales_lines=[*GOOD_LINES, line("SO1", 2, 7, "2026-03-15"),  # duplicate key, row 4
                     line("SO2", 1, 3, "2026-02-30", item="ZZZ")],  # bad date, unknown item
        sales_shipments=GOOD_SHIPS)
    # a missing required column: drop quantity from the invoices header
    inv = folder / "sales_invoices.csv"
    header = inv.read_text().splitlines()[0].split(",")
    inv.write_text(",".join(c for c in header if c != "quantity") + "\n")
    problems = _sql_problems(folder)
    where = _where(problems)
    assert ("sales_lines", 4, "order_no+line_no") in where
    assert ("sales_lines", 5, "item_no") in where
    assert ("sales_lines", 5, "promised_date") in where
    assert ("sales_invoices", 1, "quantity") in where
    messages = {(p.table, p.column): p.message for p in problems}
    assert messages[("sales_lines", "order_no+line_no")] == \
        "duplicate key ('SO1', 2) (first at row 3)"
    assert messages[("sales_lines", "item_no")] == "'ZZZ' is not a known item_no in items"
    assert "'2026-02-30' is not a date" in messages[("sales_lines", "promised_date")]
    assert messages[("sales_invoices", "quantity")] == "required column is missing"
    # the loader finds the same problems at the same places
    assert where == _where(validate_source(folder)[0])


BAD_VALUES = [
    # (table rows, problem column) — each value is one the loader rejects
    ({"sales_lines": [line("SO1", "1.5", 10, "2026-03-10")]}, "line_no"),
    ({"sales_lines": [line("SO1", 1, "1_000", "2026-03-10")]}, "quantity"),
    ({"sales_lines": [line("SO1", 1, "+-5", "2026-03-10")]}, "quantity"),
    ({"sales_lines": [line("SO1", 1, "1e16", "2026-03-10")]}, "quantity"),
    ({"sales_lines": [line("SO1", 1, "nan", "2026-03-10")]}, "quantity"),
    ({"sales_lines": [line("SO1", 1, 10, "2026/03/10")]}, "promised_date"),
    ({"sales_lines": [line("SO1", 1, 10, "1")]}, "promised_date"),  # serial 1 = 1899-12-31
    ({"sales_lines": [line("SO1", 1, 10, "2200-01-01")]}, "promised_date"),
    ({"sales_lines": [line("SO1", 1, 10, "")]}, "promised_date"),  # no due date at all
    ({"sales_lines": [line("SO1", 1, "", "2026-03-10")]}, "quantity"),  # empty, required
    ({"sales_budget": [{"period": "2026-13", "customer_no": "C1", "item_no": "A",
                        "location_code": "MAIN", "quantity": 1, "amount": 1}]}, "period"),
    ({"opportunities": [{"opportunity_no": "O1", "salesperson": "JO", "customer_no": "C1",
                         "expected_close_date": "2026-03-01", "amount": 1,
                         "status": "pending"}]}, "status"),
    ({"opportunities": [{"opportunity_no": "O1", "salesperson": "JO", "customer_no": "C1",
                         "expected_close_date": "2026-03-01", "amount": 1, "status": "open",
                         "commit": "maybe"}]}, "commit"),
    ({"gl_accounts": [{"gl_account": "1", "name": "x", "account_type": "asset"}]},
     "account_type"),
    ({"posting_setup": [{"gen_bus_posting_group": "D", "gen_prod_posting_group": "R",
                         "sales_account": "9999"}]}, "sales_account"),
    ({"purchase_receipts": [{"receipt_no": "R1", "line_no": 1, "vendor_no": "V9",
                             "item_no": "A", "expected_receipt_date": "2026-03-01",
                             "receipt_date": "2026-03-01", "quantity": 1}]}, "vendor_no"),
    ({"sales_shipments": [ship("SH1", 1, "SO9", 1, "2026-03-10", 1)]},
     "order_no+order_line_no"),
]


@pytest.mark.parametrize("tables,column", BAD_VALUES,
                         ids=[f"{c}-{i}" for i, (_, c) in enumerate(BAD_VALUES)])
def test_bad_values_reported_where_the_loader_reports_them(tmp_path, tables, column):
    folder = write_source(tmp_path / "bad", **tables)
    problems = _sql_problems(folder)
    assert column in {p.column for p in problems}
    assert _where(problems) == _where(validate_source(folder)[0])


def test_values_the_loader_accepts_give_the_same_tables(tmp_path):
    """Excel serials, ISO datetimes, exponents, signs, padded cells, upper-case enums and
    booleans are read as the loader reads them."""
    folder = write_source(
        tmp_path / "ok",
        sales_lines=[line("SO1", "1.0", "1e1", "46091"),  # 2026-03-10 as an Excel serial
                     line("SO1", 2, "+5.", "2026-03-12T08:30:00", item="B"),
                     line("SO2", 1, ".5e1", "2026-03-15 10:00", requested="2026-03-14")],
        sales_shipments=[ship("SH1", 1, "SO1", 1, "2026-03-10", "10"),
                         ship("SH2", 1, "SO1", 2, "46093", "5"),
                         ship("SH3", 1, "SO2", "1", " 2026-03-16 ", "5")],
        opportunities=[{"opportunity_no": "O1", "salesperson": "JO", "customer_no": "C1",
                        "expected_close_date": "2026-03-01", "amount": "1E3",
                        "status": "WON", "commit": "Yes", "close_date": "2026-03-02"},
                       {"opportunity_no": "O2", "salesperson": "JO", "customer_no": "C1",
                        "expected_close_date": "2026-04-01", "amount": 10, "status": "Open",
                        "item_no": "A", "quantity": "2", "probability": "50", "commit": "0"}])
    assert validate(str(folder))[0] == []
    got = load_aggregates(str(folder))
    assert_same_tables(in_memory_tables(str(folder)), got.tables)
    march = got.tables["agg_sales"]
    assert march["fill_lines_filled"].sum() == 2  # SO1/1 and SO1/2 on time; SO2/1 late


def test_problems_are_capped_per_check(tmp_path):
    n = MAX_PROBLEMS_PER_CHECK + 7
    folder = write_source(tmp_path / "many",
                          sales_lines=[line(f"SO{i}", 1, "x", "2026-03-10") for i in range(n)])
    problems = [p for p in _sql_problems(folder) if p.column == "quantity"]
    assert len(problems) == MAX_PROBLEMS_PER_CHECK + 1
    assert [p.row for p in problems[1:]] == list(range(2, 2 + MAX_PROBLEMS_PER_CHECK))
    assert problems[0].row is None and problems[0].message == "... and 7 more rows like row 2"


def test_not_utf8_and_empty_files(tmp_path):
    folder = write_source(tmp_path / "enc", sales_lines=GOOD_LINES)
    path = folder / "customers.csv"
    path.write_bytes(path.read_bytes() + b"C3,Caf\xe9,DOMESTIC,JO\n")
    (folder / "vendors.csv").write_text("  \n")
    problems = _sql_problems(folder)
    assert _where(problems) == _where(validate_source(folder)[0])
    by_table = {p.table: p for p in problems if p.table in ("customers", "vendors")}
    assert by_table["customers"].row == 4 and "not UTF-8" in by_table["customers"].message
    assert "file is empty" in by_table["vendors"].message


def test_header_names_differing_in_case_only(tmp_path):
    """DuckDB's CSV reader renames the second of two names equal up to case
    (Location_Code_1), for the loader and the SQL path alike: the first is used."""
    folder = write_source(tmp_path / "dup", sales_lines=GOOD_LINES, sales_shipments=GOOD_SHIPS)
    path = folder / "locations.csv"
    path.write_text("location_code, Location_Code \nMAIN,x\nEAST,y\n")
    assert validate(str(folder))[0] == [] == validate_source(folder)[0]
    assert_same_tables(in_memory_tables(str(folder)), load_aggregates(str(folder)).tables)


@pytest.mark.parametrize("order,increasing,duplicate_row", [
    (["SO1/1", "SO1/2", "SO2/1", "SO3/1"], True, None),  # sorted by key: one cheap pass
    (["SO2/1", "SO1/2", "SO1/1", "SO10/1"], False, None),  # unsorted (as text), no duplicate
    (["SO1/1", "SO1/2", "SO1/2", "SO2/1"], False, 4),  # sorted, a repeat next to its key
    (["SO1/2", "SO2/1", "SO3/1", "SO1/2"], False, 5),  # sorted up to a repeat far away
])
def test_duplicate_keys_in_any_order(tmp_path, order, increasing, duplicate_row):
    """Duplicate keys are found whatever the rows' order; a table whose key increases row
    after row is proved free of them without grouping (DuckDB's streamed LAG)."""
    from sop_workbook.contract import TABLES
    from sop_workbook.sql import open_source
    from sop_workbook.sql.validation import _check_keys, _increasing_keys, stage_and_validate

    rows = [line(key.split("/")[0], int(key.split("/")[1]), 5, "2026-03-10") for key in order]
    folder = write_source(tmp_path / "keys", sales_lines=rows)
    with open_source(str(folder)) as src:
        stage_and_validate(src)
        assert _increasing_keys(src, "sop_stg_sales_lines", '"order_no", "line_no"') \
            == increasing
        problems = _check_keys(src, TABLES["sales_lines"])
    if duplicate_row is None:
        assert problems == []
    else:
        assert [(p.row, p.column) for p in problems] == [(duplicate_row, "order_no+line_no")]
        assert problems[0].message.startswith("duplicate key ('SO1', 2) (first at row ")
    # the loader agrees
    loader = [p for p in validate_source(folder)[0] if p.column == "order_no+line_no"]
    assert [p.row for p in loader] == ([] if duplicate_row is None else [duplicate_row])


def test_characters_a_workbook_cannot_hold(tmp_path):
    """Text landing in the workbook holding U+0001, U+001F or U+FFFF is reported where the
    loader reports it; a tab, spaces, punctuation and accents are fine (DuckDB tests
    such text with the full pattern, plain codes with a cheaper one)."""
    lines = [line("SO-1/A b", 1, 10, "2026-03-10"),  # punctuation and a space: fine
             line("SO\x01", 1, 10, "2026-03-10"),  # row 3
             line("SO\tÉ~", 1, 10, "2026-03-10"),  # a tab and an accent: fine
             line("SO\uffff", 1, 10, "2026-03-10"),  # row 5
             line("SO2", 1, 10, "2026-03-10"),
             line("S\x1fO", 1, 10, "2026-03-10")]  # row 7
    folder = write_source(tmp_path / "ctrl", sales_lines=lines)
    problems = [p for p in _sql_problems(folder) if p.column == "order_no"]
    assert [p.row for p in problems] == [3, 5, 7]
    assert "contains the character U+0001" in problems[0].message
    assert "contains the character U+FFFF" in problems[1].message
    assert "contains the character U+001F" in problems[2].message
    assert _where(problems) == _where([p for p in validate_source(folder)[0]
                                       if p.column == "order_no"])


def test_unknown_references_found_through_the_grouped_sums(tmp_path):
    """A source whose rows and keys are fine: the sales lines' and invoices' references
    are checked against the values their grouped sums gather (DuckDB), including a line
    that is not due (quantity 0) — each unknown value still named with its row, as the
    loader names it; nothing is computed."""
    def invoice(no, customer):
        return {"invoice_no": no, "line_no": 1, "posting_date": "2026-03-10",
                "customer_no": customer, "item_no": "A", "location_code": "MAIN",
                "quantity": 2, "amount": 40, "cost_amount": 20}

    folder = write_source(
        tmp_path / "refs",
        sales_lines=[*GOOD_LINES,
                     line("SO2", 1, 0, "2026-03-12", item="ZZZ"),  # row 4: not due
                     line("SO3", 1, 4, "2026-04-01", location="NOWHERE")],  # row 5
        sales_shipments=GOOD_SHIPS,
        sales_invoices=[invoice("IN1", "C1"), invoice("IN2", "C9")])  # row 3
    problems = _sql_problems(folder)
    where = _where(problems)
    assert where == [("sales_invoices", 3, "customer_no"), ("sales_lines", 4, "item_no"),
                     ("sales_lines", 5, "location_code")]
    assert where == _where(validate_source(folder)[0])
    # the references are not checked against the staged tables when the sums hold no
    # unknown value
    clean = write_source(tmp_path / "clean", sales_lines=GOOD_LINES,
                         sales_shipments=GOOD_SHIPS, sales_invoices=[invoice("IN1", "C1")])
    assert validate(str(clean))[0] == []
    assert_same_tables(in_memory_tables(str(clean)), load_aggregates(str(clean)).tables)
