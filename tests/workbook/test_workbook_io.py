"""Fast data-sheet I/O of the headless adapter: what write_table saves, openpyxl, the
adapter itself and LibreOffice read back exactly; data sheets are recognised by their
content; bad text is refused with its table, row, cell and column; charts can be replaced
by tag."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from openpyxl.chart import BarChart, LineChart, Reference

from sop_workbook import demo_data
from sop_workbook.actions import refresh
from sop_workbook.errors import SopError
from sop_workbook.workbook import datasheet_reader, datasheet_xml
from sop_workbook.workbook.headless import HeadlessWorkbook
from sop_workbook.zip_parts import sheet_parts as _sheet_parts

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "SOP_Template.xlsm"

TRICKY_TEXT = ["=1+1", "=HYPERLINK(\"http://x\",\"y\")", "@SUM(A1)", "Ünïcødé €✓ 漢字",
               "a < b & c > d", " lead and trail ", "tab\there", "line\nbreak", "100%",
               "%s %d", "00123", "", None]
FLOATS = [0.1, 1 / 3, 1e-300, 5e-324, 1.7976931348623157e308, -2.5e-17, 123456789.123456789,
          3.0, -0.0, float("nan"), 2**53 + 0.0, 1e16, 7.0]


def tricky_items(n: int = 13) -> pd.DataFrame:
    return pd.DataFrame({
        "item_no": TRICKY_TEXT[:n],
        "description": [f"item {i}" if i % 4 else None for i in range(n)],
        "unit_cost": FLOATS[:n],
        "lead_time_days": list(range(n)),
        "unit_price": [dt.datetime(2026, 1, 1) + dt.timedelta(days=i, hours=i)
                       if i % 3 else None for i in range(n)],
    })


def copy_template(tmp_path: Path, name: str = "wb.xlsm") -> Path:
    path = tmp_path / name
    shutil.copy(TEMPLATE, path)
    return path


def openpyxl_table(path: Path, table: str) -> pd.DataFrame:
    """The table as the adapter read it before data sheets existed: through openpyxl."""
    wb = openpyxl.load_workbook(path, keep_vba=True)
    for ws in wb.worksheets:
        if table in ws.tables:
            rows = [[c.value for c in row] for row in ws[ws.tables[table].ref]]
            return pd.DataFrame(rows[1:], columns=rows[0]).dropna(how="all")
    raise KeyError(table)


def test_template_data_sheets_are_recognised_by_content():
    book = HeadlessWorkbook(TEMPLATE)
    data = set(book._data)
    assert {"agg_sales", "agg_customer", "items", "fin_budget_detail"} <= data
    # sheets with a table and anything else (titles, formulas, other tables) are not
    for title in ("Config", "Plan history", "Actions", "2 Demand", "Scorecard"):
        assert title not in data
    for title in data:
        ws = book.wb[title]
        assert len(ws.tables) == 1 and title in ws.tables  # each holds its own table


def test_round_trip_write_save_reopen_read(tmp_path):
    path = copy_template(tmp_path)
    frame = tricky_items()
    book = HeadlessWorkbook(path)
    book.write_table("items", frame)
    before_save = book.read_table("items")
    book.save(backups=0)
    fast = HeadlessWorkbook(path).read_table("items")
    slow = openpyxl_table(path, "items")
    pd.testing.assert_frame_equal(fast, slow)
    # before saving, "" is still "" (as an openpyxl cell holds it); saved, an empty cell
    pd.testing.assert_frame_equal(before_save.replace("", np.nan), fast, check_dtype=False)
    assert fast["item_no"].tolist()[:11] == TRICKY_TEXT[:11]  # "=1+1" is text
    assert pd.isna(fast["item_no"].iloc[11]) and pd.isna(fast["item_no"].iloc[12])
    got = fast["unit_cost"].tolist()
    for want, value in zip(FLOATS, got, strict=True):
        if want != want:
            assert value != value
        else:
            assert repr(value) == repr(float(want))  # exact, sign of zero included
    dates = fast["unit_price"].tolist()
    assert dates[1] == dt.datetime(2026, 1, 2, 1) and pd.isna(dates[0])
    assert fast["lead_time_days"].tolist() == list(range(13))
    ws = openpyxl.load_workbook(path)["items"]
    assert ws["A2"].data_type == "s" and ws["A2"].value == "=1+1"  # never a formula
    assert ws["F3"].is_date and not ws["E3"].is_date
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    xml = parts[_sheet_parts(parts)["items"]].decode()
    assert "<f>" not in xml and '<dimension ref="A1:H14"/>' in xml


def big_sales_frame(n: int = 30_000) -> pd.DataFrame:
    """An agg_sales table of ``n`` rows: texts, whole numbers, decimals, empty cells."""
    rng = np.random.default_rng(3)
    return pd.DataFrame({
        "period": rng.choice(["2026-01", "2026-02", "2026-03"], n),
        "item_no": [f"IT-{i % 977:04d}" for i in range(n)],
        "category": "Chairs", "location_code": "MAIN",
        "otd_lines": rng.integers(0, 50, n),
        "invoiced_amount": np.round(rng.gamma(2, 500, n), 2),
        "budget_amount": np.where(rng.random(n) < 0.1, np.nan, rng.random(n)),
    })


def test_big_table_round_trip_and_unchanged_sheets_kept(tmp_path):
    path = copy_template(tmp_path)
    n = 30_000
    frame = big_sales_frame(n)
    book = HeadlessWorkbook(path)
    book.write_table("agg_sales", frame)
    book.write_table("items", tricky_items(5))
    book.save(backups=0)
    # change something else only: the data sheets are copied through
    again = HeadlessWorkbook(path)
    again.set_value("cfg_data_source", "somewhere")
    again.save(backups=0)
    third = HeadlessWorkbook(path)
    assert third.get_value("cfg_data_source") == "somewhere"
    got = third.read_table("agg_sales")
    assert len(got) == n
    pd.testing.assert_frame_equal(got, openpyxl_table(path, "agg_sales"))
    for col in frame.columns:
        pd.testing.assert_series_equal(got[col], frame[col], check_dtype=False,
                                       check_names=False)
    assert third.tables["agg_sales"][1].ref == f"A1:S{n + 1}"
    pd.testing.assert_frame_equal(third.read_table("items"), openpyxl_table(path, "items"))


def test_empty_table_keeps_one_blank_row(tmp_path):
    path = copy_template(tmp_path)
    book = HeadlessWorkbook(path)
    book.write_table("vendors", pd.DataFrame({"vendor_no": ["V1", "V2"], "name": ["a", "b"]}))
    book.save(backups=0)
    book = HeadlessWorkbook(path)
    book.write_table("vendors", pd.DataFrame(columns=["vendor_no", "name"]))
    book.save(backups=0)
    wb = openpyxl.load_workbook(path)
    assert wb["vendors"].tables["vendors"].ref == "A1:B2"
    assert HeadlessWorkbook(path).read_table("vendors").empty


def test_illegal_character_names_table_row_and_column(tmp_path):
    path = copy_template(tmp_path)
    before = path.read_bytes()
    book = HeadlessWorkbook(path)
    frame = pd.DataFrame({"vendor_no": ["V1", "V2", "V3"], "name": ["ok", "ok", "bad\x01"]})
    with pytest.raises(SopError) as exc:
        book.write_table("vendors", frame)
    assert "table vendors, row 3 (cell B4), column name" in exc.value.summary
    assert "U+0001" in exc.value.summary
    assert path.read_bytes() == before


def test_a_sheet_with_more_than_its_table_is_left_to_openpyxl(tmp_path):
    """A note typed beside a data table (or a formula in it) makes the sheet an ordinary
    one: nothing on it is lost."""
    path = copy_template(tmp_path)
    wb = openpyxl.load_workbook(path, keep_vba=True)
    wb["vendors"]["E1"] = "a planner's note"
    wb["locations"]["B2"] = "=A2&\"x\""
    wb.save(path)
    book = HeadlessWorkbook(path)
    assert "vendors" not in book._data and "locations" not in book._data
    assert "customers" in book._data
    book.write_table("vendors", pd.DataFrame({"vendor_no": ["V1"], "name": ["n"]}))
    book.save(backups=0)
    wb = openpyxl.load_workbook(path, keep_vba=True)
    assert wb["vendors"]["E1"].value == "a planner's note"
    assert wb["locations"]["B2"].value == "=A2&\"x\""


def test_irregular_xml_is_read_by_the_general_parser(tmp_path):
    """Cells in a shape the fast parser does not know (attributes in another order, shared
    strings, rich text) are read like openpyxl reads them."""
    path = copy_template(tmp_path)
    book = HeadlessWorkbook(path)
    book.write_table("vendors", pd.DataFrame({"vendor_no": ["V1", "V2"], "name": ["a", "b"]}))
    book.save(backups=0)
    with zipfile.ZipFile(path) as z:
        parts = {i.filename: z.read(i.filename) for i in z.infolist()}
    part = _sheet_parts(parts)["vendors"]
    xml = parts[part].decode()
    xml = xml.replace('<c r="A2" t="inlineStr"><is><t>V1</t></is></c>',
                      '<c t="inlineStr" r="A2"><is><r><t>V</t></r><r><t>1</t></r></is></c>')
    parts[part] = xml.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in parts.items():
            z.writestr(name, body)
    again = HeadlessWorkbook(path)
    assert "vendors" in again._data
    assert again.read_table("vendors")["vendor_no"].tolist() == ["V1", "V2"]


def test_recalculation_reads_data_sheets(tmp_path):
    folder = tmp_path / "data"
    demo_data.write(folder, items=6, months=14, seed=4)
    path = copy_template(tmp_path)
    book = HeadlessWorkbook(path)
    refresh(book, str(folder))
    book.save(backups=0)
    cached = dict(book._cached)
    reopened = HeadlessWorkbook(path)  # rows now come from the file, parsed lazily
    reopened.recalculate()
    for key, value in reopened._cached.items():
        want = cached[key]
        if isinstance(value, float) and isinstance(want, float):
            assert value == pytest.approx(want, nan_ok=True), key
        else:
            assert value == want, key


def test_libreoffice_opens_a_refreshed_workbook(tmp_path):
    folder = tmp_path / "data"
    demo_data.write(folder, items=40, months=24, seed=5)  # a few thousand source rows
    path = copy_template(tmp_path)
    book = HeadlessWorkbook(path)
    report = refresh(book, str(folder))
    book.save(backups=0)
    assert report.rows["agg_sales"] > 500
    agg = book.read_table("agg_sales")
    out = tmp_path / "lo"
    run = subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/u",
                          "--convert-to", "xlsx", "--outdir", str(out), str(path)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    converted = openpyxl.load_workbook(out / "wb.xlsx", data_only=True)
    ws = converted["agg_sales"]
    last = report.rows["agg_sales"] + 1
    assert ws["A1"].value == "period"
    assert ws[f"B{last}"].value == agg["item_no"].iloc[-1]
    assert ws[f"L{last}"].value == pytest.approx(float(agg["invoiced_qty"].iloc[-1]))
    assert ws[f"A{last + 1}"].value is None


def _chart(title: str, ws, anchor: str):
    chart = BarChart() if "bar" in title else LineChart()
    chart.title = title
    chart.add_data(Reference(ws, min_col=2, min_row=4, max_row=8), titles_from_data=True)
    chart.anchor = anchor
    return chart


def test_replace_charts_by_tag_survives_save_and_reopen(tmp_path):
    path = copy_template(tmp_path)
    sheet = "1 Performance"
    own = len(HeadlessWorkbook(path).wb[sheet]._charts)
    assert own >= 1  # the template's own charts
    book = HeadlessWorkbook(path)
    ws = book.wb[sheet]
    book.replace_charts(sheet, "trend", [_chart("bar one", ws, "H40"),
                                         _chart("line two", ws, "P40")])
    book.save(backups=0)
    book = HeadlessWorkbook(path)
    assert len(book.wb[sheet]._charts) == own + 2
    book.replace_charts(sheet, "trend", [_chart("bar three", book.wb[sheet], "H60")])
    book.save(backups=0)
    final = HeadlessWorkbook(path).wb[sheet]
    assert len(final._charts) == own + 1
    titles = [c.title.tx.rich.p[0].r[0].t for c in final._charts
              if c.title is not None and c.title.tx is not None and c.title.tx.rich]
    assert "bar three" in titles and "bar one" not in titles and "line two" not in titles
    with zipfile.ZipFile(TEMPLATE) as z:  # the template's charts on every sheet
        before = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
    with zipfile.ZipFile(path) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
    assert len(charts) == len(before) + 1


def test_open_package_leaves_non_workbooks_to_the_caller():
    with pytest.raises(zipfile.BadZipFile):
        datasheet_reader.open_package(b"not a zip")


def test_vectorised_parser_reads_the_tricky_round_trip(tmp_path, monkeypatch):
    """The numpy parser (no object per cell) reads what write_table saved — tricky text,
    floats, dates, empties — exactly as the regular-expression parser does, in blocks."""
    path = copy_template(tmp_path)
    book = HeadlessWorkbook(path)
    book.write_table("items", tricky_items())
    book.save(backups=0)
    monkeypatch.setattr(datasheet_xml, "PARSE_BLOCK", 64)  # a block per row or two
    again = HeadlessWorkbook(path)
    sheet = again._data["items"]
    xml = datasheet_xml.sheet_xml(again._package.source, sheet.part)
    min_col, min_row, max_col, max_row = openpyxl.utils.cell.range_boundaries(sheet.ref)
    args = (xml, min_col, max_col, min_row, max_row, again._date_styles, None,
            again.wb.epoch, max_col - min_col + 1)
    fast = datasheet_reader._parse_vectorised(*args)  # raises _Irregular if it gave up
    slow = datasheet_reader._parse_fast(*args)
    for a, b in zip(fast, slow, strict=True):
        assert a.dtype == b.dtype
        assert [repr(x) for x in a.tolist()] == [repr(x) for x in b.tolist()]
    pd.testing.assert_frame_equal(again.read_table("items"), openpyxl_table(path, "items"))
