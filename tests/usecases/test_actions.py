"""Refresh, roll forward and export scorecard on a workbook, headless (the same actions the
ribbon runs live), and the plan logic behind roll forward."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from sop_workbook import demo_data
from sop_workbook.actions import export_scorecard, plan_history, refresh, roll_forward
from sop_workbook.errors import SopError
from sop_workbook.review.demand_plan import consensus, statistical_baseline
from sop_workbook.review.demand_plan import roll_forward as roll_plan
from sop_workbook.workbook.headless import HeadlessWorkbook

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "SOP_Template.xlsm"


def sop(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sop_workbook", *args], capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("actions")
    demo_data.write(folder / "data", items=10, months=18)
    path = folder / "wb.xlsm"
    shutil.copy(TEMPLATE, path)
    book = HeadlessWorkbook(path)
    refresh(book, str(folder / "data"))
    book.save()
    return path


def fresh_copy(refreshed: Path, tmp_path: Path) -> Path:
    path = tmp_path / "wb.xlsm"
    shutil.copy(refreshed, path)
    return path


def inventory(path: Path) -> dict:
    wb = openpyxl.load_workbook(path, keep_vba=True)
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in ("xl/vbaProject.bin", "customUI/customUI.xml")}
        charts = sum(n.startswith("xl/charts/chart") for n in z.namelist())
        rels = z.read("_rels/.rels")
    return {
        "parts": parts, "charts": charts, "ribbon_rel": b"ui/extensibility" in rels,
        "sheets": wb.sheetnames,
        "tables": sorted(t.displayName for ws in wb.worksheets for t in ws.tables.values()),
        "names": sorted(wb.defined_names),
        "validations": sorted((ws.title, str(dv.sqref)) for ws in wb.worksheets
                              for dv in ws.data_validations.dataValidation),
        "conditional": sorted((ws.title, str(cf.sqref)) for ws in wb.worksheets
                              for cf in ws.conditional_formatting),
    }


def test_every_action_keeps_the_workbook_intact(refreshed, tmp_path):
    template = inventory(TEMPLATE)
    # refresh adds one demand chart per item category (demo: one per category it sells)
    categories = HeadlessWorkbook(refreshed).read_table("items")["category"].nunique()
    template["charts"] += categories
    assert inventory(refreshed) == template  # after refresh
    path = fresh_copy(refreshed, tmp_path)
    book = HeadlessWorkbook(path)
    roll_forward(book)
    book.save()
    assert inventory(path) == template  # after roll forward
    export_scorecard(HeadlessWorkbook(path), tmp_path / "export")
    assert inventory(path) == template  # export reads only


def test_roll_forward_archives_the_plan_and_keeps_overrides(refreshed, tmp_path):
    path = fresh_copy(refreshed, tmp_path)
    book = HeadlessWorkbook(path)
    before = book.read_table("plan_demand")
    book.write_table("plan_overrides", pd.DataFrame({
        "item_no": ["CH-1001", "CH-1001"], "location_code": ["MAIN", "MAIN"],
        "period": ["2026-11", "2026-12"], "quantity": [5, 7], "reason_code": ["Promotion"] * 2}))
    report = roll_forward(book)
    assert (report.from_period, report.to_period) == ("2026-11", "2026-12")
    assert book.get_value("cfg_current_period") == "2026-12"
    history = book.read_table("plan_history")
    # per series: shipped, invoiced (history), baseline, override, events, commits, consensus
    series = len(before) // 7
    # archived as the plan grid is laid out: a consensus and a baseline row per series
    assert len(history) == series * 2
    assert history["layer"].tolist() == ["consensus", "baseline"] * series
    assert set(history["snapshot_period"]) == {"2026-11"}
    # ... and read back one row per period of the horizon (sop history's form)
    assert len(plan_history(book)) == series * 12
    # the override on 2026-11 left the horizon with its period; the one on 2026-12 stays
    kept = book.read_table("plan_overrides")
    assert kept[["period", "quantity"]].values.tolist() == [["2026-12", 7]]
    grid = book.read_table("plan_demand")
    row = grid[(grid["item_no"] == "CH-1001") & (grid["location_code"] == "MAIN")]
    layers = row.set_index("layer")
    # p01 is now 2026-12: consensus = baseline + 7 (+ events and commits, if any)
    assert layers.loc["override", "p01"] == 7
    assert layers.loc["consensus", "p01"] == pytest.approx(
        layers.loc["baseline", "p01"] + 7 + layers.loc["events", "p01"]
        + layers.loc["commits", "p01"])
    # the new 12th period (2027-11) is seeded from the baseline (+ any events/commits)
    assert layers.loc["consensus", "p12"] == pytest.approx(
        layers.loc["baseline", "p12"] + layers.loc["events", "p12"]
        + layers.loc["commits", "p12"])


def test_roll_forward_to_the_current_period_changes_nothing(refreshed, tmp_path):
    path = fresh_copy(refreshed, tmp_path)
    before = path.read_bytes()
    run = sop("roll-forward", str(path), "--to", "2026-11")
    assert run.returncode == 0, run.stderr
    assert "nothing changed" in run.stdout
    assert path.read_bytes() == before
    back = sop("roll-forward", str(path), "--to", "2026-09")
    assert back.returncode == 2 and "cannot roll back" in back.stderr
    assert path.read_bytes() == before


def test_invalid_override_is_reported_with_its_cell(refreshed, tmp_path):
    path = fresh_copy(refreshed, tmp_path)
    book = HeadlessWorkbook(path)
    book.write_table("plan_overrides", pd.DataFrame({
        "item_no": ["CH-1001", "CH-1001"], "location_code": ["MAIN", "MAIN"],
        "period": ["2026-12", "Dec"], "quantity": ["ten", 3]}))
    with pytest.raises(SopError) as exc:
        roll_forward(book)
    # plan_overrides' header is row 27 from column AR: AU = quantity, AT = period
    assert "2 Demand!AU28: quantity 'ten' is not a number" in exc.value.detail
    assert "2 Demand!AT29: period 'Dec' is not YYYY-MM" in exc.value.detail


def test_export_scorecard_one_page_with_the_figures(refreshed, tmp_path):
    files = export_scorecard(HeadlessWorkbook(refreshed), tmp_path)
    info = subprocess.run(["pdfinfo", str(files["pdf"])], capture_output=True, text=True,
                          check=True).stdout
    assert "Pages:           1" in info
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(files["pdf"]), str(tmp_path / "page")],
                   check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) == 1 and pages[0].stat().st_size > 20_000
    text = subprocess.run(["pdftotext", "-layout", str(files["pdf"]), "-"],
                          capture_output=True, text=True, check=True).stdout
    values = openpyxl.load_workbook(refreshed, data_only=True, keep_vba=True)
    otd = values["Scorecard"]["B6"].value
    assert "Period 2026-10" in text
    assert f"{otd:.1%}" in text  # the sales OTD figure of the workbook
    assert "Fill rate (on time, in full)" in text
    for name in ("scorecard_delivery", "scorecard_forecast"):
        assert files[name].stat().st_size > 5_000
    exported = openpyxl.load_workbook(files["xlsx"])
    rows = {r[0]: r for r in exported["Scorecard"].iter_rows(min_row=4, values_only=True)}
    assert rows["Sales on-time delivery"][1] == pytest.approx(otd)
    assert not any(isinstance(c.value, str) and c.value.startswith("=")
                   for ws in exported.worksheets for row in ws.iter_rows() for c in row
                   if c.data_type == "f")


def test_statistical_baseline_repeats_a_seasonal_pattern():
    # three identical years of a seasonal pattern (36 months, the window the plan uses):
    # seasonal naive repeats it exactly and the seasonally adjusted models (flat adjusted
    # history) do too; all backtest with zero error, ties go to MODELS order
    pattern = [10, 12, 30, 50, 40, 20, 10, 8, 9, 11, 25, 60]
    periods = pd.period_range("2023-11", periods=36, freq="M").strftime("%Y-%m")
    history = pd.DataFrame({"item_no": "A", "location_code": "MAIN", "period": periods,
                            "quantity": pattern * 3})
    base = statistical_baseline(history, "2026-11", horizon=12)
    assert set(base["model"]) == {"seasonal_naive+ses"}
    assert base["baseline"].tolist() == pytest.approx(pattern)  # next year repeats
    assert base["backtest_mae"].tolist() == pytest.approx([0.0] * 12)


def test_statistical_baseline_level_shift_is_followed():
    # 12 months at 10 then a shift to 40 for 6 months: the one-step selection chose the
    # 3-month average; the rolling origin over the horizon scores the smoothing models,
    # which end near 40, and seasonal naive (needs 12 months at the origins) is not in it
    periods = pd.period_range("2025-05", periods=18, freq="M").strftime("%Y-%m")
    history = pd.DataFrame({"item_no": "A", "location_code": "MAIN", "period": periods,
                            "quantity": [10] * 12 + [40] * 6})
    base = statistical_baseline(history, "2026-11", horizon=3)
    assert "seasonal_naive" not in base["model"].iloc[0]
    assert ((base["baseline"] > 30) & (base["baseline"] < 50)).all()


def test_plan_roll_forward_is_idempotent_at_the_target():
    baseline = pd.DataFrame({"item_no": "A", "location_code": "MAIN",
                             "period": ["2026-11", "2026-12"], "baseline": [10.0, 20.0]})
    overrides = pd.DataFrame({"item_no": ["A"], "location_code": ["MAIN"],
                              "period": ["2026-12"], "quantity": [5.0]})
    plan = consensus(baseline, overrides)
    assert plan.set_index("period")["consensus"].to_dict() == {"2026-11": 10.0, "2026-12": 25.0}
    same = roll_plan(plan, overrides, "2026-11", "2026-11")
    assert same.rolled == 0 and same.snapshot.empty and same.current_period == "2026-11"
    moved = roll_plan(plan, overrides, "2026-11")
    assert moved.current_period == "2026-12"
    assert moved.snapshot["quantity"].tolist() == [10.0, 25.0]
    assert moved.snapshot["baseline_quantity"].tolist() == [10.0, 20.0]


def test_sop_demo_writes_workbook_and_scorecard(tmp_path):
    run = sop("demo", "--out", str(tmp_path / "demo"))
    assert run.returncode == 0, run.stderr
    for name in ("SOP_Demo.xlsm", "scorecard/scorecard.pdf", "scorecard/scorecard_values.xlsx",
                 "data/sales_lines.csv"):
        assert (tmp_path / "demo" / name).is_file(), name


def test_refresh_keeps_what_planners_typed(refreshed, tmp_path):
    path = fresh_copy(refreshed, tmp_path)
    book = HeadlessWorkbook(path)
    targets = book.read_table("cfg_targets")
    targets.loc[targets["kpi"] == "fill_rate", "target"] = 0.97
    book.write_table("cfg_targets", targets)
    book.write_table("act_log", pd.DataFrame({
        "id": ["A1"], "action": ["=HYPERLINK(\"http://x\",\"expedite\") vendor V0003"],
        "owner": ["Supply planning"], "status": ["open"], "stage": ["3 Supply"],
        "cycle": ["2026-11"]}))
    book.write_table("plan_overrides", pd.DataFrame({
        "item_no": ["CH-1001"], "location_code": ["MAIN"], "period": ["2026-12"],
        "quantity": [12], "reason_code": ["Promotion"], "comment": ["spring campaign"]}))
    book.write_table("exec_decisions", pd.DataFrame({"decision": ["Add a shift in March"],
                                                     "owner": ["Operations leader"]}))
    book.save()
    source = Path(str(HeadlessWorkbook(path).get_value("cfg_data_source")))
    book = HeadlessWorkbook(path)
    refresh(book, str(source))
    book.save()
    after = HeadlessWorkbook(path)
    assert after.read_table("cfg_targets").set_index("kpi").loc["fill_rate", "target"] == 0.97
    log = after.read_table("act_log")
    assert log["action"].tolist() == ["=HYPERLINK(\"http://x\",\"expedite\") vendor V0003"]
    assert after.wb["Actions"]["B5"].data_type == "s"  # text, not a formula
    assert after.read_table("plan_overrides")["comment"].tolist() == ["spring campaign"]
    assert after.read_table("exec_decisions")["decision"].tolist() == ["Add a shift in March"]
    grid = after.read_table("plan_demand")
    row = grid[(grid["item_no"] == "CH-1001") & (grid["location_code"] == "MAIN")]
    assert row.set_index("layer").loc["override", "p02"] == 12  # 2026-12 is p02
    # the fill-rate status now compares with the typed target
    assert after.wb["Scorecard"]["C7"].value.startswith("=INDEX(cfg_targets[target]")
