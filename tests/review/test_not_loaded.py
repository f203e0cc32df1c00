"""A period without data is never zero demand (issue 15), and `sop new`.

Roll forward closes a month whose actuals have not arrived yet; Refresh may load data that
ends long before the workbook's period. Those months are *not loaded*: the baseline
forecasts from the last loaded month, accuracy skips them, the sheets say so, and both
commands warn in one line.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sop_workbook import demo_data
from sop_workbook.actions import plan_history
from sop_workbook.review.loaded import coverage_warning, last_loaded_period
from sop_workbook.review.supply import opening_on_hand
from sop_workbook.workbook.headless import HeadlessWorkbook

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "SOP_Template.xlsm"
SLOTS = [f"p{i:02d}" for i in range(1, 13)]


def sop(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sop_workbook", *map(str, args)],
                          capture_output=True, text=True, timeout=300,
                          env={"COLUMNS": "400", "PATH": "/usr/bin:/bin"})


def warnings_of(run: subprocess.CompletedProcess) -> list[str]:
    return [line for line in run.stderr.splitlines() if line.startswith("warning: ")]


def layer(path: Path, name: str) -> pd.DataFrame:
    grid = HeadlessWorkbook(path).read_table("plan_demand")
    rows = grid[grid["layer"] == name].set_index(["item_no", "location_code"])
    return rows


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("not_loaded")
    demo_data.write(folder / "to-2026-10", items=10, months=18, end_period="2026-10")
    return folder


@pytest.fixture(scope="module")
def refreshed(data) -> Path:
    path = data / "wb.xlsm"
    run = sop("new", path, "--period", "2026-11", "--source", data / "to-2026-10")
    assert run.returncode == 0, run.stderr
    assert warnings_of(run) == []  # the data ends at the last closed period
    return path


def test_last_loaded_period_counts_actuals_not_budget_rows():
    agg = pd.DataFrame({
        "period": ["2026-09", "2026-10", "2026-11", "2026-12"],
        "item_no": ["A"] * 4, "location_code": ["MAIN"] * 4,
        "shipped_qty": [5.0, 0.0, 0.0, 0.0], "invoiced_qty": [5.0, 3.0, 0.0, 0.0],
        "budget_qty": [4.0, 4.0, 4.0, 4.0], "fill_lines_due": [1.0, 1.0, 2.0, 0.0]})
    assert last_loaded_period(agg) == "2026-10"
    assert last_loaded_period(agg.assign(invoiced_qty=0.0, shipped_qty=0.0)) is None


def test_opening_stock_of_a_month_not_loaded_is_the_last_known_one():
    agg = pd.DataFrame({
        "period": ["2026-09", "2026-10", "2026-10", "2026-11", "2026-12"],
        "item_no": ["A", "A", "B", "A", "A"], "location_code": ["MAIN"] * 5,
        "on_hand_qty": [7.0, 5.0, 2.0, 0.0, 0.0]})
    # just after the roll to 2026-12: 2026-11 holds no stock yet → 2026-10's
    assert opening_on_hand(agg, "2026-12").to_dict() == {("A", "MAIN"): 5.0,
                                                         ("B", "MAIN"): 2.0}
    loaded = agg.assign(on_hand_qty=[7.0, 5.0, 2.0, 3.0, 0.0])
    assert opening_on_hand(loaded, "2026-12").to_dict() == {("A", "MAIN"): 3.0}


def test_coverage_warning_either_way():
    assert coverage_warning("2026-10", "2026-11") is None
    one = coverage_warning("2026-10", "2026-12")
    assert "2026-11 is not loaded" in one and "\n" not in one
    far = coverage_warning("2025-06", "2026-11")
    assert "2025-07…2026-10 (16 periods) are not loaded" in far
    assert "sop new WORKBOOK --period 2025-07" in far
    assert "current (open) period" in coverage_warning("2026-11", "2026-11")
    assert "roll forward to 2027-02" in coverage_warning("2027-01", "2026-11")


def test_roll_forward_without_new_data_keeps_the_plan(data, refreshed, tmp_path):
    path = tmp_path / "wb.xlsm"
    shutil.copy(refreshed, path)
    before = layer(path, "consensus")
    base_before = layer(path, "baseline")
    run = sop("roll-forward", path)
    assert run.returncode == 0, run.stderr
    (warning,) = warnings_of(run)
    assert "the data ends at 2026-10 but the last closed period is 2026-11" in warning
    after = layer(path, "consensus")
    base_after = layer(path, "baseline")
    # the months that stay in the horizon keep their plan: no data arrived, so the
    # baseline of each series (a flat or 12-periodic model) is the same; no override,
    # event or commit changed. The issue saw 2026-12 fall from 5,984 to 4,788.
    keys = before.index
    np.testing.assert_allclose(after.loc[keys, SLOTS[:11]].to_numpy(float),
                               before.loc[keys, SLOTS[1:]].to_numpy(float), atol=1e-6)
    np.testing.assert_allclose(base_after.loc[keys, SLOTS[:11]].to_numpy(float),
                               base_before.loc[keys, SLOTS[1:]].to_numpy(float), atol=1e-6)
    # the whole new horizon (the new 12th month 2027-11 included) is what a workbook
    # started at 2026-12 on the same data forecasts: both forecast from the data's end
    fresh = tmp_path / "fresh.xlsm"
    made = sop("new", fresh, "--period", "2026-12", "--source", data / "to-2026-10")
    assert made.returncode == 0, made.stderr
    base_fresh = layer(fresh, "baseline")
    np.testing.assert_allclose(base_after.loc[keys, SLOTS].to_numpy(float),
                               base_fresh.loc[keys, SLOTS].to_numpy(float), atol=1e-6)
    book = HeadlessWorkbook(path)
    assert book.get_value("cfg_current_period") == "2026-12"
    assert book.get_value("cfg_data_through") == "2026-10 (2026-11 not loaded: Refresh)"
    accuracy = book.read_table("demand_accuracy").set_index("period")
    assert accuracy.loc["2026-11", "actual"] == "not loaded: Refresh"
    assert accuracy.loc["2026-11", ["accuracy_lag1", "fva_lag1"]].isna().all()
    assert accuracy.loc["2026-10", "actual"] > 0
    invoiced = layer(path, "invoiced")
    assert invoiced["h01"].isna().all()  # 2026-11: blank, never 0
    assert (invoiced["h02"].astype(float) >= 0).all() and invoiced["h02"].notna().all()
    assert set(invoiced["note"]) == {"2026-11 not loaded: Refresh"}
    # the accuracy by item judges no month without actuals
    fva = book.read_table("demand_fva")
    assert fva.empty or (fva["actual"].astype(float) >= 0).all()


def test_data_that_arrives_is_judged_at_lag_1(refreshed, tmp_path):
    path = tmp_path / "wb.xlsm"
    shutil.copy(refreshed, path)
    assert sop("roll-forward", path).returncode == 0  # archives the plan made in 2026-11
    newer = tmp_path / "to-2026-12"
    demo_data.write(newer, items=10, months=20, end_period="2026-12")
    run = sop("refresh", path, "--source", newer)  # the data runs into the open month
    assert run.returncode == 0, run.stderr
    (warning,) = warnings_of(run)
    assert "runs into 2026-12, the current (open) period" in warning
    run = sop("roll-forward", path)  # 2026-12 closes: its actuals are in
    assert run.returncode == 0 and warnings_of(run) == [], run.stderr
    book = HeadlessWorkbook(path)
    assert book.get_value("cfg_data_through") == "2026-12"
    # accuracy at lag 1 of 2026-12 (the plan archived in 2026-11), worked here from the
    # archived plan and the actuals: 1 − Σ|A − F| ÷ ΣA over item × location
    history = plan_history(book)  # one row per snapshot × period × item × location
    agg = book.read_table("agg_sales")
    actual = agg[agg["period"] == "2026-12"].groupby(["item_no", "location_code"])[
        "invoiced_qty"].sum()
    plan = history[(history["snapshot_period"] == "2026-11")
                   & (history["period"] == "2026-12")].groupby(
        ["item_no", "location_code"])[["quantity", "baseline_quantity"]].sum()
    cells = pd.concat([actual, plan], axis=1).fillna(0.0)
    a = cells["invoiced_qty"].to_numpy(float)
    expected = max(0.0, 1 - np.abs(a - cells["quantity"].to_numpy(float)).sum() / a.sum())
    base = max(0.0, 1 - np.abs(a - cells["baseline_quantity"].to_numpy(float)).sum()
               / a.sum())
    rows = book.read_table("demand_accuracy").set_index("period")
    assert rows.loc["2026-12", "actual"] == pytest.approx(a.sum())
    assert rows.loc["2026-12", "accuracy_lag1"] == pytest.approx(expected)
    assert rows.loc["2026-12", "fva_lag1"] == pytest.approx(expected - base)
    assert pd.isna(rows.loc["2026-11", "accuracy_lag1"])  # no plan archived in 2026-10


def test_refresh_with_data_ending_long_before_warns_and_forecasts_from_it(tmp_path):
    old = tmp_path / "to-2025-06"
    demo_data.write(old, items=10, months=18, end_period="2025-06")
    late = tmp_path / "late.xlsm"
    assert sop("new", late, "--period", "2026-11").returncode == 0
    run = sop("refresh", late, "--source", old)
    assert run.returncode == 0, run.stderr
    (warning,) = warnings_of(run)
    assert "2025-07…2026-10 (16 periods) are not loaded" in warning
    start = tmp_path / "start.xlsm"
    assert sop("new", start, "--period", "2025-07", "--source", old).returncode == 0
    # the baseline of the late workbook is forecast from the data's last month, as the
    # workbook started right after it forecasts — never from 16 months of zeros: the same
    # history gives the same model and backtest error per series (the note), and a late
    # workbook one month later shows the same forecast shifted by one month
    late_base, start_base = layer(late, "baseline"), layer(start, "baseline")
    keys = start_base.index
    assert (late_base.loc[keys, "note"] == start_base.loc[keys, "note"]).all()
    later = tmp_path / "later.xlsm"
    assert sop("new", later, "--period", "2026-12", "--source", old).returncode == 0
    later_base = layer(later, "baseline")
    np.testing.assert_allclose(later_base.loc[keys, SLOTS[:11]].to_numpy(float),
                               late_base.loc[keys, SLOTS[1:]].to_numpy(float), atol=1e-6)
    assert late_base[SLOTS].to_numpy(float).sum() > 0
    book = HeadlessWorkbook(late)
    assert (book.read_table("demand_accuracy")["actual"] == "not loaded: Refresh").all()
    assert layer(late, "shipped")[["h16", "h01"]].isna().all().all()
    assert layer(late, "shipped")["h17"].notna().all()  # 2025-06 is loaded


def test_sop_new_sets_period_and_company_and_never_overwrites(tmp_path):
    template = HeadlessWorkbook(TEMPLATE)
    assert not template.get_value("cfg_company_name")  # the template names no company
    path = tmp_path / "ours.xlsm"
    run = sop("new", path, "--period", "2027-03", "--company", "Acme Ltd")
    assert run.returncode == 0, run.stderr
    book = HeadlessWorkbook(path)
    assert book.get_value("cfg_current_period") == "2027-03"
    assert book.get_value("cfg_company_name") == "Acme Ltd"
    kept = path.read_bytes()
    again = sop("new", path, "--period", "2026-01")
    assert again.returncode == 2 and "already exists" in again.stderr
    assert path.read_bytes() == kept
    for bad, says in (("2027-13", "is not a period"), ("March", "is not a period")):
        run = sop("new", tmp_path / "x.xlsm", "--period", bad)
        assert run.returncode == 2 and says in run.stderr
        assert not (tmp_path / "x.xlsm").exists()
    run = sop("new", tmp_path / "x.xlsx", "--period", "2027-03")
    assert run.returncode == 2 and ".xlsm" in run.stderr


def test_roll_back_is_refused_with_the_way_to_start_elsewhere(refreshed, tmp_path):
    path = tmp_path / "wb.xlsm"
    shutil.copy(refreshed, path)
    run = sop("roll-forward", path, "--to", "2026-06")
    assert run.returncode == 2
    assert "sop new WORKBOOK --period 2026-06" in run.stderr and "sop undo" in run.stderr


def test_refresh_with_an_empty_current_period_starts_after_the_data(data, tmp_path):
    path = tmp_path / "wb.xlsm"
    shutil.copy(TEMPLATE, path)
    book = HeadlessWorkbook(path)
    book.set_value("cfg_current_period", "")
    book.save(backups=0)
    run = sop("refresh", path, "--source", data / "to-2026-10")
    assert run.returncode == 0, run.stderr
    (warning,) = warnings_of(run)
    assert "current period was empty: set to 2026-11" in warning
    assert HeadlessWorkbook(path).get_value("cfg_current_period") == "2026-11"


def test_roll_forward_of_a_workbook_never_refreshed_advances_the_period(tmp_path):
    """A planner who makes a workbook and rolls it before the first Refresh: no data, no
    plan — the period advances, nothing is archived, the warning says why (it crashed on
    the empty finance tables' keys before)."""
    path = tmp_path / "fresh.xlsm"
    assert sop("new", path, "--period", "2026-09").returncode == 0
    run = sop("roll-forward", path)
    assert run.returncode == 0, run.stderr
    assert "0 plan rows archived" in run.stdout
    assert any("no sales actuals" in w for w in warnings_of(run))
    assert HeadlessWorkbook(path).get_value("cfg_current_period") == "2026-10"
    assert plan_history(HeadlessWorkbook(path)).empty
