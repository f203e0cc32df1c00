"""The live path — ``sop_workbook/workbook/live.py`` and every entry point of ``macros`` —
run against a real xlwings engine on Linux: xlwings' remote engine (``xw.Book(json=...)``,
as xlwings Server uses it; tests set ``XLWINGS_LICENSE_KEY=noncommercial``, the product
never needs it). What the live adapter reads must equal what the headless adapter reads
from the same file; what it writes reaches Excel as the engine's actions (the protocol
xlwings' clients apply in Excel), checked against the headless run of the same action."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pandas as pd
import pytest
import xlwings as xw
from remote_book import book_json, remote_book

import macros
import udfs
from sop_workbook import actions, demo_data
from sop_workbook.workbook.headless import HeadlessWorkbook
from sop_workbook.workbook.live import LiveWorkbook

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "SOP_Template.xlsm"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("live")
    demo_data.write(folder / "data")
    path = folder / "SOP_Demo.xlsm"
    shutil.copy(TEMPLATE, path)
    book = HeadlessWorkbook(path)
    report = actions.refresh(book, str(folder / "data"))
    book.save(backups=0)
    remote_book(path)  # registers the engine
    return path, folder / "data", report, book_json(path)


def fresh(demo):
    return xw.Book(json=copy.deepcopy(demo[3]))


def actions_of(book, func: str) -> list[dict]:
    return [a for a in book.json()["actions"] if a["func"] == func]


def test_reads_equal_the_headless_adapter(demo):
    path = demo[0]
    live, headless = LiveWorkbook(fresh(demo)), HeadlessWorkbook(path)
    for name in ("cfg_current_period", "cfg_horizon", "kpi_period"):
        assert live.get_value(name) == headless.result_of_name(name), name
    for name in ("kpi_fill_rate", "kpi_sales_otd", "kpi_vendor_otd"):
        assert live.result_of_name(name) == pytest.approx(headless.result_of_name(name))
    assert live.result_at("Scorecard", "B6") == pytest.approx(
        headless.result_at("Scorecard", "B6"))
    for table in ("agg_vendor", "items", "plan_overrides"):
        assert live.table_columns(table) == headless.table_columns(table)
        assert live.table_position(table) == headless.table_position(table)
        column = headless.table_columns(table)[-1]
        assert live.column_letter(table, column) == headless.column_letter(table, column)
    a, b = live.read_table("agg_vendor"), headless.read_table("agg_vendor")
    assert a.shape == b.shape
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True),
                                  check_dtype=False)


def test_writes_reach_excel_as_actions(demo):
    book = fresh(demo)
    live = LiveWorkbook(book)
    live.set_value("cfg_horizon", 18)  # the engine queues writes for Excel to apply
    assert actions_of(book, "setValues")[-1]["values"] == [[18]]
    live.set_value("cfg_data_source", "=HYPERLINK(1)")  # text stays text
    assert actions_of(book, "setValues")[-1]["values"] == [["'=HYPERLINK(1)"]]
    frame = HeadlessWorkbook(demo[0]).read_table("agg_vendor").head(3)
    live.write_table("agg_vendor", frame)
    assert any(a["args"][1] == "$A$1:$F$4" for a in actions_of(book, "resizeTable"))
    written = actions_of(book, "setValues")[-1]["values"]
    # the written table's columns are fitted by Excel's AutoFit, then its rows
    fitted = [a for a in actions_of(book, "setAutofit") if a["args"] == ["columns"]]
    assert sorted(a["start_column"] for a in fitted) == list(range(frame.shape[1]))
    assert [a for a in actions_of(book, "setAutofit") if a["args"] == ["rows"]]
    assert len(written) == 3 and written[0][0] == frame.iloc[0, 0]
    assert written[2][-1] == pytest.approx(frame.iloc[2, -1])
    assert live.recalculate() == 0  # Excel calculates; the written table was primed
    assert live.prime_udf_tables() == 1
    live.save()


@pytest.fixture
def caller(monkeypatch):
    """xw.Book.caller() → the remote book a test sets."""
    holder = {}
    monkeypatch.setattr(xw.Book, "caller", staticmethod(lambda: holder["book"]))
    return holder


def alerts(book) -> list[str]:
    return [a["args"][0] for a in actions_of(book, "alert")]


def test_macro_refresh(demo, caller):
    path, data, report, _ = demo
    book = caller["book"] = fresh(demo)  # Config names the demo's data folder
    assert book.names["cfg_data_source"].refers_to_range.value == str(data)
    udfs.clear_table_cache()
    macros.refresh()
    assert alerts(book) == [f"Refreshed from {data}: {sum(report.rows.values()):,} rows."]
    # the tables Excel is told to write are the ones the headless refresh wrote
    headless = HeadlessWorkbook(path).read_table("agg_vendor")
    sheet = [s.name for s in book.sheets].index("agg_vendor")
    body = [a for a in actions_of(book, "setValues") if a["sheet_position"] == sheet][-1]
    assert len(body["values"]) == len(headless)
    assert body["values"][0][:2] == list(headless.iloc[0, :2])
    # Refresh primed the UDF cache: the KPI cells compute the headless figures from it
    fill = udfs.SOP_FILL_RATE(book.sheets["agg_sales"].tables["agg_sales"].range,
                              book.names["kpi_period"].refers_to_range.value)
    assert fill == pytest.approx(HeadlessWorkbook(path).result_of_name("kpi_fill_rate"))


def test_macro_roll_forward(demo, caller, tmp_path):
    book = caller["book"] = fresh(demo)
    macros.roll_forward()
    copy_path = tmp_path / "wb.xlsm"
    shutil.copy(demo[0], copy_path)
    headless = actions.roll_forward(HeadlessWorkbook(copy_path))
    # the same message as headless: the roll, then each warning (here: 2026-11 not loaded)
    assert headless.warnings
    assert alerts(book) == [f"Rolled forward from {headless.from_period} to "
                            f"{headless.to_period}."
                            + "".join(f"\n\nWarning: {w}" for w in headless.warnings)]
    assert [[headless.to_period]] in [a["values"] for a in actions_of(book, "setValues")]


def test_macro_export_scorecard(demo, caller, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the remote book's full name is its bare name
    book = caller["book"] = fresh(demo)
    macros.export_scorecard()
    folder = tmp_path / "SOP_Demo_scorecard"
    assert alerts(book) == ["Scorecard written to SOP_Demo_scorecard"]
    files = sorted(p.name for p in folder.iterdir())
    actions.export_scorecard(HeadlessWorkbook(demo[0]), tmp_path / "headless")
    expected = sorted(p.name for p in (tmp_path / "headless").iterdir())
    assert files == expected and "scorecard.pdf" in files


def test_macro_check_setup(demo, caller, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(demo[0], tmp_path / "SOP_Demo.xlsm")
    book = caller["book"] = fresh(demo)
    macros.check_setup()
    [text] = alerts(book)
    assert text.startswith("Python: ") and text.endswith("Ready: no problem found.")
