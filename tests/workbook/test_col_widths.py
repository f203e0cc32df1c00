"""Column widths that fit what each sheet shows (issue 17: "column widths fit headers and
values … no text cut").

The width model (sop_workbook/workbook/col_widths.py) is checked against figures worked
by hand from Calibri's metrics and Excel's number formats; the cut-text check against
small sheets built here with a known defect each; then every sheet of the template and
of the demo workbook after Refresh (read back as any reader does: values and cached
results, ``data_only``) must have no cut cell, and a value written by a later Refresh
that is wider than its column widens it.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from openpyxl.styles import Alignment, Font
from openpyxl.utils import range_boundaries

from sop_workbook.template.build import packaged_template
from sop_workbook.workbook.col_widths import (
    MAX_WIDTH,
    cut_cells,
    display_text,
    fit_sheet,
    text_width,
    wrapped_lines,
)
from sop_workbook.workbook.headless import HeadlessWorkbook

# ------------------------------------------------------------------------ the model


def test_digits_are_one_unit_each():
    # Excel's column width counts characters of "0" of the default font
    assert text_width("0123456789") == pytest.approx(10.0)
    assert text_width("1,234,567") == pytest.approx(7 + 2 * 0.49)  # comma: 0.49 of "0"
    assert text_width("00", size=22) == pytest.approx(4.0)  # twice the size, twice as wide


def test_bold_capitals_are_wider_than_regular_lower_case():
    assert text_width("WWW", bold=True) > text_width("WWW") > text_width("iii") * 2


@pytest.mark.parametrize("value,fmt,shown", [
    (1234567.4, "#,##0", "1,234,567"),
    (-1234.5, "#,##0", "-1,235"),
    (0.1234, "0.0%", "12.3%"),
    (-0.05, "0.0%", "-5.0%"),
    (2.5, "#,##0.00", "2.50"),
    (172.33333333333334, "General", "172.3333333"),
    (42.0, "General", "42"),
    (dt.datetime(2026, 11, 20), "yyyy-mm-dd", "2026-11-20"),
    ("RED", "General", "RED"),
    (None, "General", ""),
])
def test_the_text_a_cell_shows(value, fmt, shown):
    assert display_text(value, fmt) == shown


def test_wrapped_lines_break_at_spaces():
    # "aaaa" is 4 × 0.95 = 3.8 units; a column of 10 units holds 9 after padding: two
    # words (3.8 + 0.45 + 3.8 = 8.05) per line
    assert wrapped_lines("aaaa aaaa aaaa aaaa aaaa", 10) == 3
    assert wrapped_lines("aaaa\naaaa", 40) == 2  # each paragraph on its own line


# ------------------------------------------------------------------- what counts as cut


def _sheet():
    wb = openpyxl.Workbook()
    return wb.active


def test_a_number_wider_than_its_column_is_cut():
    ws = _sheet()
    ws["A1"] = 123456789.0
    ws["A1"].number_format = "#,##0"  # "123,456,789": 9 digits + 2 commas = 9.98, + 1 pad
    ws.column_dimensions["A"].width = 10.5  # Excel shows ######
    assert [p.split(":")[0] for p in cut_cells(ws)] == ["Sheet!A1"]
    ws.column_dimensions["A"].width = 11
    assert cut_cells(ws) == []


def test_text_runs_on_into_empty_cells_but_not_into_filled_ones():
    ws = _sheet()
    ws["A1"] = "Adherence to standard lead times"  # about 28 units, column A is 8.43
    assert cut_cells(ws) == []  # B1, C1 … are empty: the text runs on
    ws["C1"] = "x"  # A1 + B1 = 16.9 units: not enough any more
    assert [p.split(":")[0] for p in cut_cells(ws)] == ["Sheet!A1"]


def test_wrapped_text_needs_its_row_height():
    ws = _sheet()
    ws["A1"] = "Root-cause the late vendor receipts (V-2002) with the buyer"
    ws["A1"].alignment = Alignment(wrap_text=True)
    ws.column_dimensions["A"].width = 20
    lines = wrapped_lines(ws["A1"].value, 20)
    assert lines >= 3
    ws.row_dimensions[1].height = 15 * (lines - 1)
    assert "needs" in cut_cells(ws)[0] and "height" in cut_cells(ws)[0]
    ws.row_dimensions[1].height = 15 * lines
    assert cut_cells(ws) == []


def test_a_header_word_leaves_room_for_the_filter_button():
    from openpyxl.worksheet.table import Table

    ws = _sheet()
    ws["A1"], ws["A2"] = "location_code", "L1"
    ws["A1"].alignment = Alignment(wrap_text=True)
    ws.add_table(Table(displayName="t", ref="A1:A2"))
    ws.column_dimensions["A"].width = text_width("location_code") + 1.5  # text fits alone
    assert cut_cells(ws)  # but not beside Excel's filter button


def test_fitting_widens_to_the_widest_value_and_never_narrows():
    ws = _sheet()
    ws["A1"], ws["B1"] = "Operations leader", "2026-11-20"
    ws["A2"] = 1234567.0
    ws["A2"].number_format = "#,##0"
    ws["A3"] = 0.5
    ws["A3"].font = Font(bold=True, size=12)
    ws.column_dimensions["C"].width = 30  # a wider width set by hand stays
    ws["C1"] = "x"
    ws["D1"] = "y" * 300  # longer than any column may be: capped
    ws["E1"] = "z"
    assert cut_cells(ws)
    fit_sheet(ws)
    assert ws.column_dimensions["A"].width == pytest.approx(
        text_width("Operations leader") + 1.0, abs=0.11)
    assert ws.column_dimensions["C"].width == 30
    assert ws.column_dimensions["D"].width == MAX_WIDTH
    assert [p for p in cut_cells(ws) if "!D1" not in p] == []


def test_a_column_inside_an_outline_group_widens_the_whole_group(tmp_path):
    ws = _sheet()
    ws.column_dimensions.group("B", "D", hidden=False, outline_level=1)
    ws["C1"], ws["E1"] = 1234567890123.0, "x"
    ws["C1"].number_format = "#,##0"
    fit_sheet(ws)
    ws.parent.save(tmp_path / "g.xlsx")
    back = openpyxl.load_workbook(tmp_path / "g.xlsx").active
    dims = [(d.min, d.max) for d in back.column_dimensions.values() if d.min]
    assert (2, 4) in dims  # one span, no overlapping <col> ranges (Excel rejects those)
    assert not any(a <= 3 <= b for a, b in dims if (a, b) != (2, 4))
    assert cut_cells(back) == []


# ------------------------------------------------------- the template and the demo book


def _sheets_cut(path: Path) -> list[str]:
    wb = openpyxl.load_workbook(path, data_only=True)
    return [p for ws in wb.worksheets for p in cut_cells(ws)]


def test_no_text_cut_on_any_sheet_of_the_template():
    assert _sheets_cut(packaged_template()) == []


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("widths")
    subprocess.run([sys.executable, "-m", "sop_workbook", "demo", "--out", str(out)],
                   check=True, capture_output=True, timeout=600)
    return out / "SOP_Demo.xlsm"


@pytest.fixture(scope="module")
def demo_values(demo) -> openpyxl.Workbook:
    return openpyxl.load_workbook(demo, data_only=True)


def test_no_text_cut_on_any_sheet_after_refresh(demo_values):
    wb = demo_values
    assert len(wb.worksheets) > 20  # every sheet: stages, Config, Calendar, Actions, data
    cut = [p for ws in wb.worksheets for p in cut_cells(ws)]
    assert cut == []


def test_performance_actions_read_in_wide_columns(demo_values):
    ws = demo_values["1 Performance"]
    c1, r1, c2, r2 = range_boundaries(ws.tables["perf_actions"].ref)
    header = [ws.cell(r1, c).value for c in range(c1, c2 + 1)]
    assert header[:2] == ["action", "owner"]  # the text where the wide column A is
    owners = [ws.cell(r, c1 + 1).value for r in range(r1 + 1, r2 + 1)]
    assert r2 > r1 + 1 and all(owners)
    owner_width = ws.column_dimensions["B"].width
    assert owner_width >= max(text_width(o) for o in owners) + 1.0  # one line each
    assert ws.column_dimensions["A"].width >= 30


def test_a_wider_value_written_by_a_later_refresh_widens_its_column(demo, tmp_path):
    copy = tmp_path / "book.xlsm"
    shutil.copy(demo, copy)
    book = HeadlessWorkbook(copy)
    ws, _ = book.tables["perf_actions"]
    owner = "Head of operations planning"
    before = ws.column_dimensions["B"].width
    assert before < text_width(owner) + 1.0
    book.write_table("perf_actions", pd.DataFrame({
        "action": ["Quote overtime"], "owner": [owner], "due": ["2026-12-01"],
        "status": ["open"], "id": ["A-900"], "cycle": ["2026-11"]}))
    book.save(backups=0)
    after = openpyxl.load_workbook(copy, data_only=True)[ws.title]
    assert cut_cells(after) == []
    assert after.column_dimensions["B"].width >= text_width(owner) + 1.0
