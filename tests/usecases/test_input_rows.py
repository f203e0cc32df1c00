"""Every input typed where the sheet invites it is used, or refused loudly (issue 15).

A workbook whose input tables were shrunk to their data rows (as Roll forward and the demo
left them before) has yellow, unlocked rows below each table; a planner types there. The
rows must be taken into the table by Refresh and Roll forward (and read by the meeting
commands); an input that cannot be used is refused with its sheet and cell, and the file
is left as it was. Input tables never shrink below their blank rows.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT, TEMPLATE, copy_book, refreshed_demo, sop
from openpyxl.utils.cell import range_boundaries
from python_calamine import CalamineWorkbook

from sop_workbook import demo_data
from sop_workbook.input_rows import INPUT_TABLES
from sop_workbook.workbook.headless import HeadlessWorkbook


@pytest.fixture(scope="module")
def shrunk(tmp_path_factory):
    """A refreshed workbook (demo data to 2026-10, current period 2026-11) whose input
    tables hold only their data rows, the rows they left below still yellow and
    unlocked: plan_overrides AR27:AX28 (one override), plan_events AZ27:BI28."""
    folder = tmp_path_factory.mktemp("inputs")

    def shrink(book):
        for name, frame in demo_data.planner_inputs("2026-10").items():
            book.write_table(name, frame.head(1))  # the old write: the table shrinks

    path = refreshed_demo(folder, "shrunk.xlsm", before=shrink, items=12, months=26,
                          end_period="2026-10")
    return folder / "data", path


def copy_of(shrunk, tmp_path) -> Path:
    return copy_book(shrunk[1], tmp_path)


def type_cells(path: Path, sheet: str, values: dict[str, object]) -> None:
    """What a planner does in Excel: type values into cells (the file is saved)."""
    book = HeadlessWorkbook(path)
    ws = book.wb[sheet]
    for coord, value in values.items():
        assert not ws[coord].protection.locked, f"{sheet}!{coord} is locked"
        ws[coord] = value
    book.save(backups=0)


def run(*args):
    return sop(*args)


def plan_cell(path: Path, item: str, layer: str, slot: str) -> float:
    """A cell of the Demand plan, read back with calamine."""
    wb = CalamineWorkbook.from_path(str(path))
    rows = wb.get_sheet_by_name("2 Demand").to_python(skip_empty_area=False)
    header = next(i for i, r in enumerate(rows) if r[:5] == ["item_no", "description",
                                                              "category", "location_code",
                                                              "layer"])
    col = rows[header].index(slot)
    for r in rows[header + 1:]:
        if r[0] == item and r[3] == "MAIN" and r[4] == layer:
            return r[col]
    raise AssertionError(f"no {layer} row for {item}")


def table_ref(path: Path, name: str) -> str:
    return HeadlessWorkbook(path).tables[name][1].ref


def test_the_fixture_has_the_shrunk_tables_of_the_issue(shrunk):
    assert table_ref(shrunk[1], "plan_overrides") == "AR27:AX28"
    assert table_ref(shrunk[1], "plan_events") == "AZ27:BI28"


def test_refresh_takes_an_override_and_an_event_typed_below_their_tables(shrunk, tmp_path):
    path = copy_of(shrunk, tmp_path)
    before = plan_cell(path, "CH-1003", "consensus", "p03")
    # an override of +25 on CH-1003 for 2027-01 (p03), two rows below the table (row 29
    # left blank), and a 40-unit spiff on CH-1003 in 2027-01 right below plan_events
    type_cells(path, "2 Demand", {
        "AR30": "CH-1003", "AS30": "MAIN", "AT30": "2027-01", "AU30": 25,
        "AV30": "Promotion", "AW30": "typed below the table",
        "AZ29": "Trade show", "BA29": "spiff", "BB29": "CH-1003", "BE29": "2027-01",
        "BH29": 40})
    result = run("refresh", path, "--source", shrunk[0])
    assert result.exit_code == 0, result.output
    assert "2 Demand!AR30:AX30: 1 typed row(s) taken into plan_overrides" in result.output
    assert "2 Demand!AZ29:BI29: 1 typed row(s) taken into plan_events" in result.output
    assert table_ref(path, "plan_overrides") == "AR27:AX30"
    assert table_ref(path, "plan_events") == "AZ27:BI29"
    assert plan_cell(path, "CH-1003", "override", "p03") == 25
    assert plan_cell(path, "CH-1003", "events", "p03") == 40
    assert plan_cell(path, "CH-1003", "consensus", "p03") == pytest.approx(before + 65)
    # the demo's own override (CH-1001, +40 in 2026-12 = p02) is still applied
    assert plan_cell(path, "CH-1001", "override", "p02") == 40


_GOOD = {"AR": "CH-1003", "AS": "MAIN", "AT": "2027-01", "AU": 5, "AV": "Promotion"}


def _override_rows(*changes: dict) -> dict[str, object]:
    """Override rows typed from row 29 down, each a good row with ``changes``."""
    cells = {}
    for i, change in enumerate(changes):
        for col, value in {**_GOOD, **change}.items():
            if value is not None:
                cells[f"{col}{29 + i}"] = value
    return cells


@pytest.mark.parametrize(("cells", "messages"), [
    (_override_rows({"AT": "Jan 27"}, {"AU": "lots"}),
     ["2 Demand!AT29: period 'Jan 27' is not YYYY-MM",
      "2 Demand!AU30: quantity 'lots' is not a number"]),
    (_override_rows({"AR": "ZZ-9999"}, {"AS": "MOON"}, {"AV": "Hunch"}, {"AV": None}),
     ["2 Demand!AR29: item 'ZZ-9999' is not in the items table",
      "2 Demand!AS30: location 'MOON' is not in the locations table",
      "2 Demand!AV31: reason code 'Hunch' is not one of Config's reason codes",
      "2 Demand!AV32: reason code empty is not one of Config's reason codes"]),
    ({"AZ29": "Launch", "BA29": "launch", "BB29": "ZZ-9999", "BE29": "2027-01", "BH29": 5},
     ["2 Demand!BB29: item_no item 'ZZ-9999' is not in the items table"]),
], ids=["number-period", "item-location-reason", "event"])
@pytest.mark.parametrize("command", ["refresh", "roll-forward"])
def test_an_input_typed_below_that_cannot_be_used_is_refused_with_its_cell(
        shrunk, tmp_path, cells, messages, command):
    path = copy_of(shrunk, tmp_path)
    type_cells(path, "2 Demand", cells)
    before = path.read_bytes()
    args = ["--source", shrunk[0]] if command == "refresh" else []
    result = run(command, path, *args)
    assert result.exit_code == 2, result.output
    for message in messages:
        assert message in result.output
    assert path.read_bytes() == before  # the workbook is not touched
    assert not list(tmp_path.glob("book.xlsm.bak*"))


def test_roll_forward_takes_typed_rows_and_keeps_the_blank_rows(shrunk, tmp_path):
    path = copy_of(shrunk, tmp_path)
    type_cells(path, "2 Demand", {
        "AR29": "CH-1002", "AS29": "MAIN", "AT29": "2027-02", "AU29": 11,
        "AV29": "Customer forecast"})
    result = run("roll-forward", path)
    assert result.exit_code == 0, result.output
    assert "taken into plan_overrides" in result.output
    book = HeadlessWorkbook(path)
    kept = book.read_table("plan_overrides")
    assert kept[["item_no", "period", "quantity"]].values.tolist() == [
        ["CH-1001", "2026-12", 40], ["CH-1002", "2027-02", 11]]
    # the table keeps the template's 20 rows: 2 overrides + 18 blank input rows
    _, min_row, _, max_row = range_boundaries(table_ref(path, "plan_overrides"))
    assert max_row - min_row == INPUT_TABLES["plan_overrides"] == 20
    # 2027-02 is p03 after the roll to 2026-12
    assert plan_cell(path, "CH-1002", "override", "p03") == 11


def test_input_tables_never_shrink(tmp_path):
    """Rolled twice from a table grown to 24 rows by the planners: still 24 rows."""
    path = tmp_path / "wb.xlsm"
    shutil.copy(TEMPLATE, path)
    book = HeadlessWorkbook(path)
    from sop_workbook.input_rows import write_input_table

    rows = pd.DataFrame({"item_no": ["A"] * 24, "location_code": "MAIN",
                         "period": "2026-12", "quantity": 1.0, "reason_code": "Promotion"})
    write_input_table(book, "plan_overrides", rows)
    assert table_ref_of(book, "plan_overrides") == "AR27:AX51"
    write_input_table(book, "plan_overrides", rows.head(2))
    assert table_ref_of(book, "plan_overrides") == "AR27:AX51"
    assert len(book.read_table("plan_overrides")) == 2
    write_input_table(book, "act_log", pd.DataFrame({"id": ["A-1"], "action": ["x"]}))
    assert table_ref_of(book, "act_log") == "A4:H34"  # the template's 30 rows


def table_ref_of(book, name: str) -> str:
    return book.tables[name][1].ref


def test_only_the_unlocked_rows_right_below_are_an_input_area(shrunk, tmp_path):
    """A value in a locked row (not an input area) is not taken, nor anything past it."""
    path = copy_of(shrunk, tmp_path)
    book = HeadlessWorkbook(path)
    ws = book.wb["Actions"]
    _, _, _, last = range_boundaries(table_ref_of(book, "act_log"))
    unlocked_rows = [r for r in range(last + 1, last + 60)
                     if not ws.cell(r, 2).protection.locked]
    # the rows the table left are yellow and unlocked up to the template's 30 rows (A34)
    assert unlocked_rows == list(range(last + 1, 35))
    ws["B40"] = "not an input cell"
    ws["B33"] = "Call the carrier about the damaged pallets"
    ws["C33"] = "Operations leader"
    assert [r for r, _ in book.typed_rows_below("act_log")] == [33]
    from sop_workbook.input_rows import take_typed_rows

    assert take_typed_rows(book) == [
        "Actions!A33:H33: 1 typed row(s) taken into act_log"]
    log = book.read_table("act_log")
    assert log["action"].iloc[-1] == "Call the carrier about the damaged pallets"
    assert "not an input cell" not in log["action"].tolist()


def test_the_agenda_reads_an_action_typed_below_the_log(shrunk, tmp_path):
    path = copy_of(shrunk, tmp_path)
    type_cells(path, "Actions", {"A6": "A-200", "B6": "Book the auditor for Q1",
                                 "C6": "Finance", "D6": "2026-11-20", "E6": "open",
                                 "F6": "4 Finance", "G6": "2026-11"})
    before = path.read_bytes()
    result = run("agenda", path, "--out", tmp_path / "agenda")
    assert result.exit_code == 0, result.output
    assert "Book the auditor for Q1" in (tmp_path / "agenda" / "agenda.md").read_text()
    assert path.read_bytes() == before  # the agenda does not write the workbook


def test_calendar_takes_a_closure_typed_below_its_table(shrunk, tmp_path):
    path = copy_of(shrunk, tmp_path)
    book = HeadlessWorkbook(path)
    book.write_table("cal_closures", pd.DataFrame({"date": ["2027-01-04"],
                                                   "reason": ["Inventory count"]}))
    book.save(backups=0)
    assert table_ref(path, "cal_closures") == "O4:P5"
    type_cells(path, "Calendar", {"O6": "2027-01-05", "P6": "Inventory count, day 2"})
    result = run("calendar", path, "--year", "2027")
    assert result.exit_code == 0, result.output
    closures = HeadlessWorkbook(path).read_table("cal_closures")
    assert closures["reason"].tolist() == ["Inventory count", "Inventory count, day 2"]
    events = HeadlessWorkbook(path).read_table("cal_events")
    dates = {str(d)[:10] for d in events["date"]}
    assert not {"2027-01-04", "2027-01-05"} & dates


def test_input_tables_are_the_yellow_tables_of_the_template_with_their_rows():
    """INPUT_TABLES lists every table with input (yellow) columns in xl/sheets.toml, with
    the body rows the template gives it."""
    import tomllib

    spec = tomllib.loads((ROOT / "xl" / "sheets.toml").read_text())
    found = {}
    for sheet in spec["sheet"]:
        for table in sheet.get("tables", []):
            if any(str(v).startswith("input") for v in table.get("column_styles", {}).values()):
                rows = len(table.get("rows", [])) if not table.get("from_scorecard") else 1
                found[table["name"]] = max(rows, table.get("empty_rows", 1))
    assert found == INPUT_TABLES


def test_protected_sheets_let_a_planner_insert_rows():
    """Every protected sheet of the template allows inserting rows, resizing rows and
    columns (sheetProtection: 0 = allowed), and keeps cells, columns and deletions
    protected."""
    import re
    import zipfile

    with zipfile.ZipFile(TEMPLATE) as z:
        parts = [n for n in z.namelist() if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)]
        protections = [re.search(r"<sheetProtection[^>]*>", z.read(n).decode())
                       for n in parts]
    found = [m.group(0) for m in protections if m]
    assert len(found) >= 10
    for tag in found:
        attrs = dict(re.findall(r'(\w+)="([^"]*)"', tag))
        assert attrs["sheet"] == "1"
        assert attrs["insertRows"] == "0", tag
        assert attrs["formatRows"] == attrs["formatColumns"] == "0", tag
        assert attrs.get("formatCells", "1") == "1", tag
        assert attrs.get("deleteRows", "1") == "1", tag


def test_a_row_written_right_below_a_full_table_joins_it_but_not_a_title(tmp_path):
    """Headless writers (and Excel on an unprotected sheet) put a row right after the
    table: it joins the table as Excel would grow it. A section title that follows a
    table (6 Executive: "Open actions" right below a grown exec_decisions) does not."""
    from sop_workbook.input_rows import take_typed_rows, write_input_table

    path = tmp_path / "wb.xlsm"
    shutil.copy(TEMPLATE, path)
    book = HeadlessWorkbook(path)
    ws = book.wb["2 Demand"]
    assert table_ref_of(book, "plan_overrides") == "AR27:AX47"
    assert ws["AR48"].protection.locked  # no yellow row below the template's table
    for col, value in zip("RSTUV", ["CH-1001", "MAIN", "2026-12", 3, "Promotion"],
                          strict=True):
        ws[f"A{col}48"] = value
    ws["AR50"] = "after a blank locked row: not an input"
    assert take_typed_rows(book, ["plan_overrides"]) == [
        "2 Demand!AR48:AX48: 1 typed row(s) taken into plan_overrides"]
    assert table_ref_of(book, "plan_overrides") == "AR27:AX48"
    assert book.read_table("plan_overrides")["item_no"].tolist() == ["CH-1001"]

    write_input_table(book, "exec_decisions", pd.DataFrame({"decision": list("ABCDEFGHIJK")}))
    assert table_ref_of(book, "exec_decisions") == "F5:I16"
    assert book.wb["6 Executive"]["F17"].value == "Open actions (from the action log)"
    assert book.typed_rows_below("exec_decisions") == []


def test_the_settings_below_the_kpi_targets_are_not_taken_into_them(tmp_path):
    """Config's planning settings (rows 37–43, under a section title in row 36: a locked
    label, a yellow value) follow the KPI targets (cfg_targets A18:F33): they are
    settings, not targets typed below it."""
    from sop_workbook.input_rows import take_typed_rows

    path = tmp_path / "wb.xlsm"
    shutil.copy(TEMPLATE, path)
    book = HeadlessWorkbook(path)
    assert book.wb["Config"]["A37"].value == "Safety stock (days of supply)"
    assert not book.wb["Config"]["B37"].protection.locked
    assert book.typed_rows_below("cfg_targets") == []
    assert take_typed_rows(book) == []
    assert table_ref_of(book, "cfg_targets") == "A18:F33"
    assert len(book.read_table("cfg_targets")) == 15  # the scorecard's 15 KPIs
