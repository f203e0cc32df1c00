"""`sop history WORKBOOK --out FILE`: the plan history as the snapshot file that
`sop kpis --snapshots` reads (its reader, :func:`sop_workbook.loader.load_plan_snapshots`,
checks it here)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sop_workbook.cli import app
from sop_workbook.loader import load_plan_snapshots
from sop_workbook.workbook.headless import HeadlessWorkbook

TEMPLATE = Path(__file__).resolve().parents[2] / "SOP_Template.xlsm"


def sop(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def workbook(tmp_path) -> Path:
    path = tmp_path / "wb.xlsm"
    shutil.copy(TEMPLATE, path)
    book = HeadlessWorkbook(path)
    # as Roll forward archives it (p01 = the snapshot's period, p02 the next ...); one
    # snapshot-period cell became a date in Excel
    periods = {f"p{k:02d}": [None] * 6 for k in range(1, 13)}
    periods["p02"] = [12.5, 11.0, 10.0, 9.0, None, None]
    periods["p01"] = [None, None, None, None, 4.0, None]
    book.write_table("plan_history", pd.DataFrame({
        "snapshot_period": ["2026-12", "2026-12", "2026-11", "2026-11",
                            dt.datetime(2026, 11, 1), "2026-11"],
        "item_no": ["CH-1", "CH-1", "CH-1", "CH-1", "DK-2", "DK-2"],
        "location_code": ["MAIN", "MAIN", "MAIN", "MAIN", "EAST", "EAST"],
        "layer": ["consensus", "baseline"] * 3, **periods}))
    book.save(backups=0)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_history_is_read_back_by_the_snapshot_reader(workbook, tmp_path, suffix):
    target = tmp_path / f"plan history{suffix}"
    run = sop("history", workbook, "--out", target)
    assert run.exit_code == 0, run.output
    assert "3 plan rows" in run.output
    back = load_plan_snapshots(target)
    rows = back[["snapshot_period", "period", "item_no", "location_code", "quantity",
                 "baseline_quantity"]].astype(object).where(back.notna(), None)
    assert rows.values.tolist() == [
        ["2026-11", "2026-11", "DK-2", "EAST", 4.0, None],
        ["2026-11", "2026-12", "CH-1", "MAIN", 10.0, 9.0],
        ["2026-12", "2027-01", "CH-1", "MAIN", 12.5, 11.0],
    ]


def test_an_empty_history_exports_the_header(tmp_path):
    path = tmp_path / "wb.xlsm"
    shutil.copy(TEMPLATE, path)
    target = tmp_path / "h.csv"
    run = sop("history", path, "--out", target)
    assert run.exit_code == 0, run.output
    assert target.read_text().splitlines() == [
        "snapshot_period,period,item_no,location_code,quantity,baseline_quantity"]
    assert len(load_plan_snapshots(target)) == 0


def test_history_needs_a_csv_or_parquet_name(workbook, tmp_path):
    run = sop("history", workbook, "--out", tmp_path / "h.xlsx")
    assert run.exit_code == 2 and ".csv or .parquet" in run.output
    assert not (tmp_path / "h.xlsx").exists()
