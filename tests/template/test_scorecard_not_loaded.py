"""The scorecard of a month not loaded (issue 15): it shows the last loaded month, says so.

After *Roll forward* closes a month, its actuals arrive only with the next *Refresh*. Until
then the Scorecard's period (``kpi_period``) is the last loaded month — its KPIs are real
figures — and the sheet names the month that is missing ("… not loaded: Refresh"). Once
the month's data is loaded, the scorecard shows it.
"""

from __future__ import annotations

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from sop_workbook import demo_data
from sop_workbook.cli import app
from sop_workbook.workbook.formula import evaluate
from sop_workbook.workbook.headless import HeadlessWorkbook
from sop_workbook.workbook.recalc import Resolver

KPIS = ("kpi_sales_otd", "kpi_fill_rate", "kpi_schedule_attainment", "kpi_inventory_turns",
        "kpi_tracking_signal", "kpi_commit_vs_closed")


def sop(*args) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.output


def fill_rate_by_hand(folder, period: str) -> float:
    """Lines promised in ``period`` whose whole quantity shipped by the promised date ÷
    lines promised in it (the domain's line-level fill rate, tolerance 0), from the raw
    sales lines and shipments."""
    lines = pd.read_csv(folder / "sales_lines.csv",
                        parse_dates=["promised_date", "requested_date"])
    ships = pd.read_csv(folder / "sales_shipments.csv", parse_dates=["shipment_date"])
    # a line without a promised date is due on its requested date (the data contract)
    lines["promised_date"] = lines["promised_date"].fillna(lines["requested_date"])
    due = lines[lines["promised_date"].dt.strftime("%Y-%m") == period]
    filled = 0
    for line in due.itertuples():
        shipped = ships[(ships["order_no"] == line.order_no)
                        & (ships["order_line_no"] == line.line_no)
                        & (ships["shipment_date"] <= line.promised_date)]["quantity"].sum()
        filled += shipped >= line.quantity
    return filled / len(due)


def shown(path, sheet: str, coord: str):
    """A native formula cell as Excel computes it (headless evaluator, current inputs)."""
    return Resolver(openpyxl.load_workbook(path, keep_vba=True), {}).cell(sheet, coord)


def test_a_month_not_loaded_shows_the_last_loaded_one_and_says_so(tmp_path):
    full = demo_data.generate(items=6, months=18, end_period="2026-11")
    folders = {}
    for last in ("2026-10", "2026-11"):
        folders[last] = tmp_path / f"data-{last}"
        demo_data.write_tables(folders[last], demo_data.as_of(full, last))
    path = tmp_path / "wb.xlsm"
    sop("new", path, "--period", "2026-11", "--source", folders["2026-10"])

    book = HeadlessWorkbook(path)
    assert book.result_of_name("kpi_period") == "2026-10"  # the last closed, loaded
    before = {name: book.result_of_name(name) for name in KPIS}
    assert before["kpi_fill_rate"] == pytest.approx(
        fill_rate_by_hand(folders["2026-10"], "2026-10"))
    assert shown(path, "Scorecard", "C3") == ""

    # the month closes; its data is not in yet: the scorecard stays on 2026-10, says so
    sop("roll-forward", path)
    book = HeadlessWorkbook(path)
    assert book.get_value("cfg_current_period") == "2026-12"
    assert book.result_of_name("kpi_period") == "2026-10"
    after = {name: book.result_of_name(name) for name in KPIS}
    assert after == pytest.approx(before)
    assert shown(path, "Scorecard", "C3") == \
        "2026-11 not loaded: Refresh (showing the last loaded period)"
    assert "(last loaded period; 2026-11 not loaded: Refresh)" in shown(
        path, "1 Performance", "A3")

    # its data arrives: the scorecard shows 2026-11
    sop("refresh", path, "--source", folders["2026-11"])
    book = HeadlessWorkbook(path)
    assert book.result_of_name("kpi_period") == "2026-11"
    assert book.result_of_name("kpi_fill_rate") == pytest.approx(
        fill_rate_by_hand(folders["2026-11"], "2026-11"))
    assert shown(path, "Scorecard", "C3") == ""
    assert "2026-11 (last closed period)" in shown(path, "1 Performance", "A3")


def test_comparisons_if_and_left_evaluate_as_excel_does():
    names = {"a": "2026-10 (2026-11 not loaded: Refresh)", "b": "", "n": 3.0}.get
    assert evaluate('=LEFT(a,7)', names) == "2026-10"
    assert evaluate('=IF(LEFT(a,7)<"2026-11","yes","no")', names) == "yes"
    assert evaluate('=IF(b>="1900-01","yes","no")', names) == "no"
    assert evaluate('="Abc"="aBC"', names) is True  # text compares ignoring case
    assert evaluate('=IF(n+1>=4,n&"x",0)', names) == "3x"  # & and + bind before >=
    assert evaluate('="nothing"<"2026-11"', names) is False  # letters sort after digits
