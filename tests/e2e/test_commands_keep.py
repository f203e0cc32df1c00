"""No command loses what another computed (issue 15).

Each command that writes a workbook — or might — is run on a refreshed workbook (demo data,
the demo's planner inputs, a calendar), and the files before and after are compared cell by
cell, read independently of the code under test: cell values and stored formula results
with python-calamine (a Rust reader), table ranges from the tables' XML parts. Only the
cells a command is there to change may differ.
"""

from __future__ import annotations

import hashlib
import math
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from conftest import TEMPLATE, copy_book, sop
from openpyxl.utils.cell import range_boundaries
from python_calamine import CalamineWorkbook

from sop_workbook import demo_data
from sop_workbook.actions import refresh
from sop_workbook.meeting.book import build_calendar, write_calendar
from sop_workbook.workbook.headless import HeadlessWorkbook

#: KPI labels of the Scorecard sheet whose stored values must survive every command
SCORECARD_KPIS = ("Sales on-time delivery", "Fill rate (on time, in full)",
                  "Vendor on-time delivery", "Schedule attainment", "Inventory turns",
                  "Days of supply")


# --------------------------------------------------------------------------- reading


def cells(path: Path) -> dict[str, dict[tuple[int, int], object]]:
    """Every non-empty cell of every sheet as calamine reads it (stored formula results
    included), by sheet and 1-based (row, column)."""
    wb = CalamineWorkbook.from_path(str(path))
    out = {}
    for name in wb.sheet_names:
        sheet = wb.get_sheet_by_name(name)
        r0, c0 = sheet.start or (0, 0)
        grid = {}
        for i, row in enumerate(sheet.to_python(skip_empty_area=False)):
            for j, value in enumerate(row):
                if value not in ("", None):
                    grid[(r0 + i + 1, c0 + j + 1)] = value
        out[name] = grid
    return out


def tables(path: Path) -> dict[str, tuple[str, str]]:
    """Table name → (sheet, ref), from the package's XML (workbook, rels, table parts)."""
    with zipfile.ZipFile(path) as z:
        wb = z.read("xl/workbook.xml").decode()
        rels = z.read("xl/_rels/workbook.xml.rels").decode()
        target = {m.group(1): m.group(2) for m in re.finditer(
            r'<Relationship[^>]*Id="([^"]+)"[^>]*Target="([^"]+)"', rels)}
        target.update({m.group(2): m.group(1) for m in re.finditer(
            r'<Relationship[^>]*Target="([^"]+)"[^>]*Id="([^"]+)"', rels)})
        out = {}
        for m in re.finditer(r'<sheet [^>]*name="([^"]+)"[^>]*r:id="([^"]+)"', wb):
            part = "xl/" + target[m.group(2)].removeprefix("/xl/")
            rel_part = part.replace("worksheets/", "worksheets/_rels/") + ".rels"
            if rel_part not in z.namelist():
                continue
            for t in re.findall(r'Target="([^"]*tables/[^"]+)"', z.read(rel_part).decode()):
                xml = z.read("xl/tables/" + t.rsplit("/", 1)[1]).decode()
                name = re.search(r'displayName="([^"]+)"', xml).group(1)
                ref = re.search(r'\sref="([^"]+)"', xml).group(1)
                out[name] = (m.group(1).replace("&amp;", "&"), ref)
        return out


def table_rows(path: Path, name: str) -> list[tuple]:
    """The non-empty rows of a table's body as calamine reads them."""
    sheet, ref = tables(path)[name]
    min_col, min_row, max_col, max_row = range_boundaries(ref)
    grid = cells(path)[sheet]
    rows = [tuple(grid.get((r, c)) for c in range(min_col, max_col + 1))
            for r in range(min_row + 1, max_row + 1)]
    return [r for r in rows if any(v is not None for v in r)]


def same(a, b) -> bool:
    if (isinstance(a, float) and isinstance(b, (int, float))) or \
            (isinstance(b, float) and isinstance(a, (int, float))):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    return a == b


class Area:
    """Cells a command may change: whole sheets, tables (their body under either ref,
    down to the sheet's end: a table may grow or shrink), single cells."""

    def __init__(self, sheets=(), tables_=(), cells_=()) -> None:
        self.sheets, self.tables, self.cells = set(sheets), set(tables_), set(cells_)

    def resolve(self, before: Path, after: Path) -> dict[str, list[tuple[int, int, int, int]]]:
        boxes: dict[str, list] = {}
        for path in (before, after):
            for name, (sheet, ref) in tables(path).items():
                if name in self.tables:
                    min_col, min_row, max_col, _ = range_boundaries(ref)
                    boxes.setdefault(sheet, []).append((min_col, min_row, max_col, 10**7))
        for where in self.cells:
            sheet, coord = where.rsplit("!", 1)
            boxes.setdefault(sheet, []).append(range_boundaries(f"{coord}:{coord}"))
        return boxes


def changed_cells(before: Path, after: Path, allowed: Area) -> list[str]:
    """The cells that differ between the two files outside ``allowed`` (at most 20)."""
    a, b = cells(before), cells(after)
    assert set(a) == set(b), "sheets differ"
    boxes = allowed.resolve(before, after)
    out = []
    for sheet in a:
        if sheet in allowed.sheets:
            continue
        inside = boxes.get(sheet, [])
        for key in set(a[sheet]) | set(b[sheet]):
            r, c = key
            if any(x0 <= c <= x1 and y0 <= r <= y1 for x0, y0, x1, y1 in inside):
                continue
            if not same(a[sheet].get(key), b[sheet].get(key)):
                out.append(f"{sheet}!R{r}C{c}: {a[sheet].get(key)!r} -> {b[sheet].get(key)!r}")
                if len(out) >= 20:
                    return out
    return out


def scorecard_values(path: Path) -> dict[str, object]:
    """KPI label → the stored value in the column right of it on the Scorecard sheet."""
    grid = cells(path)["Scorecard"]
    out = {}
    for (r, c), v in grid.items():
        if v in SCORECARD_KPIS:
            out[v] = grid.get((r, c + 1))
    return out


def kpi_cells_without_result(path: Path) -> tuple[int, list[str]]:
    """(number of KPI cells, those without a stored result): cells whose formula calls a
    Python UDF (SOP_…), read from the sheets' XML."""
    total, missing = 0, []
    with zipfile.ZipFile(path) as z:
        for part in z.namelist():
            if not part.startswith("xl/worksheets/sheet"):
                continue
            xml = z.read(part).decode()
            for m in re.finditer(r'<c r="([A-Z]+[0-9]+)"[^>]*>(<f[^>]*>(?:_xlfn\.)?SOP_'
                                 r'[^<]*</f>)(<v>[^<]*</v>)?', xml):
                total += 1
                if not m.group(3):
                    missing.append(f"{part}:{m.group(1)}")
    return total, missing


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- fixture


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory):
    """A refreshed workbook as a planning team has it: demo data to 2026-10, the demo's
    planner inputs, the 2026 calendar (KPI values stored by the refresh)."""
    folder = tmp_path_factory.mktemp("keep")
    data = folder / "data"
    demo_data.write(data, items=12, months=26, end_period="2026-10")
    path = folder / "base.xlsm"
    shutil.copy(TEMPLATE, path)
    book = HeadlessWorkbook(path)
    from sop_workbook.input_rows import write_input_table

    for name, frame in demo_data.planner_inputs("2026-10").items():
        write_input_table(book, name, frame)
    refresh(book, str(data))
    write_calendar(book, build_calendar(book, 2026), 2026)
    book.save(backups=0)
    values = scorecard_values(path)
    assert len(values) == len(SCORECARD_KPIS)
    assert all(isinstance(v, float) for v in values.values()), values
    return folder, data, path


def copy_of(refreshed, tmp_path) -> Path:
    return copy_book(refreshed[2], tmp_path)


def run(*args) -> None:
    result = sop(*args)
    assert result.exit_code == 0, result.output


# --------------------------------------------------------------------------- commands


def test_calendar_keeps_the_kpi_values_and_every_other_table(refreshed, tmp_path):
    path = copy_of(refreshed, tmp_path)
    run("calendar", path, "--year", "2027")
    assert changed_cells(refreshed[2], path, Area(tables_={"cal_events"})) == []
    assert scorecard_values(path) == scorecard_values(refreshed[2])
    assert kpi_cells_without_result(path)[1] == []
    # the calendar did change: 2027's meetings were added next to 2026's
    years = {str(r[0])[:4] for r in table_rows(path, "cal_events")}
    assert years == {"2026", "2027"}
    # and what reads the stored values still works
    run("export-scorecard", path, "--out", tmp_path / "sc")
    assert (tmp_path / "sc" / "scorecard.pdf").stat().st_size > 0


def test_recalc_changes_nothing_on_a_refreshed_workbook(refreshed, tmp_path):
    path = copy_of(refreshed, tmp_path)
    run("recalc", path)
    assert changed_cells(refreshed[2], path, Area()) == []


def test_refresh_from_the_same_data_changes_only_its_stamp(refreshed, tmp_path):
    path = copy_of(refreshed, tmp_path)
    run("refresh", path, "--source", refreshed[1])
    assert changed_cells(refreshed[2], path, Area(cells_={"Config!B13"})) == []


def test_roll_forward_keeps_the_data_inputs_and_stored_kpis(refreshed, tmp_path):
    path = copy_of(refreshed, tmp_path)
    before = refreshed[2]
    run("roll-forward", path)
    # the plan, the review stages, the scorecard's period and the plan history are its to
    # change, and Config's current period and "Data loaded through" (the month it closes
    # is not loaded yet); the data tables, the calendar, the action log and the settings
    # are not
    stages = {"1 Performance", "2 Demand", "3 Supply", "4 Finance", "5 Pre-S&OP",
              "6 Executive", "Scorecard", "Plan history"}
    assert changed_cells(before, path, Area(sheets=stages,
                                            cells_={"Config!B5", "Config!B14"})) == []
    for name in ("plan_events", "presop_decisions", "exec_decisions", "act_log",
                 "cal_rules", "cal_launches", "cal_closures", "cal_events", "cfg_targets"):
        assert table_rows(path, name) == table_rows(before, name), name
    # the override on 2026-12 stays in the horizon (2026-12 … 2027-11) and is kept
    assert table_rows(path, "plan_overrides") == table_rows(before, "plan_overrides")
    # every KPI cell holds a stored result (recomputed for the new last closed period)
    total, missing = kpi_cells_without_result(path)
    assert total == kpi_cells_without_result(before)[0] > 50
    assert missing == []


def test_undo_puts_back_every_cell(refreshed, tmp_path):
    path = copy_of(refreshed, tmp_path)
    run("calendar", path, "--year", "2027")
    run("undo", path)
    assert changed_cells(refreshed[2], path, Area()) == []
    assert digest(path) == digest(refreshed[2])


@pytest.mark.parametrize("command", [
    ["export-scorecard", "{book}", "--out", "{tmp}/sc"],
    ["agenda", "{book}", "--out", "{tmp}/meeting"],
    ["minutes", "{book}", "--out", "{tmp}/meeting"],
    ["calendar", "{book}", "--year", "2027", "--no-save", "--ics", "{tmp}/cal.ics"],
])
def test_commands_that_only_read_leave_the_file_as_it_was(refreshed, tmp_path, command):
    path = copy_of(refreshed, tmp_path)
    run(*[a.format(book=path, tmp=tmp_path) for a in command])
    assert digest(path) == digest(refreshed[2])


def test_agenda_after_calendar_still_has_the_kpi_section(refreshed, tmp_path):
    """The issue's symptom: after `sop calendar`, the agenda dropped the KPI exceptions."""
    path = copy_of(refreshed, tmp_path)
    run("agenda", path, "--out", tmp_path / "a1")
    run("calendar", path, "--year", "2027")
    run("agenda", path, "--out", tmp_path / "a2")
    first = (tmp_path / "a1" / "agenda.md").read_text()
    second = (tmp_path / "a2" / "agenda.md").read_text()
    assert "KPI" in first
    assert second == first


def test_the_comparison_sees_a_lost_value(refreshed, tmp_path):
    """The checker itself: a stored KPI value removed is reported."""
    path = copy_of(refreshed, tmp_path)
    with zipfile.ZipFile(refreshed[2]) as z, zipfile.ZipFile(path, "w") as out:
        for info in z.infolist():
            data = z.read(info.filename)
            if info.filename.startswith("xl/worksheets/") and b"SOP_" in data:
                data = re.sub(rb"(<f>SOP_[^<]*</f>)<v>[^<]*</v>", rb"\1", data, count=1)
            out.writestr(info, data)
    assert changed_cells(refreshed[2], path, Area()) != []
