"""The loader: contract validation with table/row/column, text kept as text, formats."""

import duckdb
import pytest
from sources import line, write_source

from sop_workbook.errors import SopError, SourceValidationError
from sop_workbook.loader import load_source, validate_source


def problems_of(src) -> list[str]:
    with pytest.raises(SourceValidationError) as exc:
        load_source(src)
    return [str(p) for p in exc.value.problems]


def test_every_problem_is_reported_with_table_row_and_column(tmp_path):
    src = write_source(
        tmp_path,
        sales_lines=[line("O1", 1, 5, "2026-03-40"),  # row 2: bad date
                     line("O1", 1, 6, "2026-03-10"),  # row 3: duplicate key
                     line("O2", 1, "five", "2026-03-10"),  # row 4: not a number
                     line("O3", 1, 5, "2026-03-10", item="ZZ")],  # row 5: unknown item
    )
    found = problems_of(src)
    assert "sales_lines, row 2, column promised_date: '2026-03-40' is not a date " \
           "(YYYY-MM-DD, 1900–2199)" in found
    assert any(p.startswith("sales_lines, row 3, column order_no+line_no: duplicate key")
               and "first at row 2" in p for p in found)
    assert any(p.startswith("sales_lines, row 4, column quantity: 'five'") for p in found)
    assert "sales_lines, row 5, column item_no: 'ZZ' is not a known item_no in items" in found
    assert len(found) == 4


def test_missing_required_column(tmp_path):
    src = write_source(tmp_path)
    (src / "vendors.csv").write_text("vendor_no\nV1\n", encoding="utf-8")
    assert problems_of(src) == ["vendors, row 1, column name: required column is missing"]


def test_column_names_are_case_insensitive_and_extras_kept(tmp_path):
    src = write_source(tmp_path)
    (src / "vendors.csv").write_text(" Vendor_No ,NAME,Extra\nV1,One,x\n", encoding="utf-8")
    data = load_source(src)
    assert data["vendors"].to_dict("records") == [{"vendor_no": "V1", "name": "One",
                                                  "extra": "x"}]


def test_formula_looking_text_stays_text(tmp_path):
    hostile = ['=HYPERLINK("http://x","y")', "=cmd|' /C calc'!A0", "@SUM(A1)", "+1+1", "-2+3"]
    items = [{"item_no": f"I{i}", "description": text, "category": text,
              "gen_prod_posting_group": "RETAIL", "unit_cost": 1} for i, text in
             enumerate(hostile)]
    src = write_source(tmp_path, items=items)
    data = load_source(src)
    assert data["items"]["description"].tolist() == hostile
    # in a number column the same text is not a number: an error, never evaluated
    (src / "items.csv").write_text("item_no,description,category,gen_prod_posting_group,"
                                   "unit_cost\nX,d,c,RETAIL,+1+1\n", encoding="utf-8")
    assert problems_of(src) == ["items, row 2, column unit_cost: '+1+1' is not a number "
                                "(or is out of range ±1e+15)"]


def test_empty_file_and_non_utf8_are_clear_errors(tmp_path):
    src = write_source(tmp_path)
    (src / "vendors.csv").write_bytes(b"")
    (src / "locations.csv").write_bytes(b"location_code\nMAIN\nK\xf6ln\n")
    found = problems_of(src)
    assert "vendors: file is empty (a header row naming the columns is required)" in found
    assert any(p.startswith("locations, row 3: not UTF-8") for p in found)


def test_huge_and_non_finite_numbers_are_rejected(tmp_path):
    src = write_source(tmp_path)
    (src / "items.csv").write_text("item_no,description,category,gen_prod_posting_group,"
                                   "unit_cost\nX,d,c,R,1e300\nY,d,c,R,inf\nZ,d,c,R,NaN\n",
                                   encoding="utf-8")
    found = problems_of(src)
    assert [p.split(":")[0] for p in found] == [
        "items, row 2, column unit_cost", "items, row 3, column unit_cost",
        "items, row 4, column unit_cost"]


def test_line_without_any_due_date(tmp_path):
    src = write_source(tmp_path, sales_lines=[line("O1", 1, 5, "", "")])
    assert problems_of(src) == ["sales_lines, row 2, column promised_date: empty, and "
                                "requested_date is empty too: the line has no due date"]


def test_missing_tables_are_warned_and_empty(tmp_path):
    src = write_source(tmp_path)
    (src / "opportunities.csv").unlink()
    (src / "routings.csv").unlink()  # optional per the contract: no warning
    data = load_source(src)
    assert data["opportunities"].empty
    assert [w.split(":")[0] for w in data.warnings] == ["opportunities"]


def test_not_a_source(tmp_path):
    with pytest.raises(SopError, match="no contract tables"):
        load_source(tmp_path)
    with pytest.raises(SopError, match="not found"):
        load_source(tmp_path / "nope")


def test_parquet_source_equals_csv_source(tmp_path):
    csv_src = write_source(tmp_path / "csv", sales_lines=[line("O1", 1, 5, "2026-03-10")])
    pq_src = tmp_path / "pq"
    pq_src.mkdir()
    con = duckdb.connect()
    for f in csv_src.iterdir():
        con.sql(f"COPY (SELECT * FROM read_csv('{f}', all_varchar=true)) "
                f"TO '{pq_src / (f.stem + '.parquet')}' (FORMAT parquet)")
    a, b = load_source(csv_src), load_source(pq_src)
    for name in a.tables:
        assert a[name].astype(str).equals(b[name].astype(str)), name


def test_validate_source_reports_without_raising(tmp_path):
    src = write_source(tmp_path, sales_lines=[line("O1", 1, 5, "2026-03-10", item="ZZ")])
    problems, _ = validate_source(src)
    assert [(p.table, p.row, p.column) for p in problems] == [("sales_lines", 2, "item_no")]
