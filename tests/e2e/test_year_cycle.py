"""A year in CI (issue 15): one workbook lives through 13 monthly S&OP cycles.

It starts with ``sop new`` at 2026-11 on the data as it stood at the end of 2026-10, then
every month: the month closes (``sop roll-forward``), the planner types an override, a
marketing event and an action in the input areas below the input tables, the month's data
arrives (one demo data set cut by date, :func:`sop_workbook.demo_data.as_of`) and
``sop refresh`` loads it (taking the typed rows into the tables);
the calendar of the year is generated, the scorecard is exported and the executive
meeting's agenda and minutes drafted. Once, a roll forward made by mistake is undone
(``sop undo``). After each step the plan, the planner's inputs, the KPI cells, the plan
history and the accuracy figures are checked against what the step must leave.

The commands run in this process through the ``sop`` app (typer's test runner), as a user
runs them. ``sop calendar`` runs right after the refresh: the KPI values it must keep are
then checked on the reopened workbook and needed by the export, agenda and minutes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl.utils.cell import range_boundaries
from typer.testing import CliRunner

from sop_workbook import demo_data
from sop_workbook.actions import plan_history
from sop_workbook.cli import app
from sop_workbook.periods import shift_period
from sop_workbook.workbook.headless import HeadlessWorkbook

START = "2026-11"  # the workbook's first current period; data to 2026-10
CYCLES = 13
SLOTS = [f"p{i:02d}" for i in range(1, 13)]
KPIS = ("kpi_sales_otd", "kpi_fill_rate", "kpi_inventory_turns", "kpi_days_of_supply",
        "kpi_forecast_accuracy", "kpi_forecast_bias")
NOT_LOADED = "not loaded: Refresh"

pytestmark = pytest.mark.slow


def sop(*args) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.output


def warnings_in(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("warning: ")]


def plan_layer(book: HeadlessWorkbook, layer: str) -> pd.DataFrame:
    grid = book.read_table("plan_demand")
    rows = grid[grid["layer"] == layer].set_index(["item_no", "location_code"])
    return rows[SLOTS].astype(float)


def monthly_actuals(book: HeadlessWorkbook) -> pd.Series:
    """Invoiced quantity per period (all items), from the workbook's agg_sales."""
    agg = book.read_table("agg_sales")
    return agg.groupby("period")["invoiced_qty"].sum().astype(float)


class Planner:
    """What the planner typed, cycle after cycle, to check nothing was dropped."""

    def __init__(self) -> None:
        self.overrides: list[dict] = []
        self.events: list[dict] = []
        self.actions: list[dict] = []

    def type_inputs(self, book: HeadlessWorkbook, cycle: int, current: str) -> None:
        """An override for next month, a campaign two months out (units on one item ×
        location) and an action — typed in the input area right below each input table
        (the table itself is not touched: Refresh takes the rows in), saved."""
        series = plan_layer(book, "baseline").index
        item, location = series[cycle % len(series)]
        item2, location2 = series[(3 * cycle + 1) % len(series)]
        override = {"item_no": item, "location_code": location,
                    "period": shift_period(current, 1), "quantity": 20.0 + cycle,
                    "reason_code": "Customer forecast", "comment": f"cycle {cycle}",
                    "entered_by": "Demand planner"}
        event = {"event": f"Cycle {cycle} campaign", "kind": "campaign", "item_no": item2,
                 "category": None, "location_code": location2,
                 "period_from": shift_period(current, 2),
                 "period_to": shift_period(current, 2), "uplift_pct": None,
                 "uplift_units": 30.0}
        action = {"id": f"Y-{cycle:02d}", "action": f"Review cycle {cycle} exceptions",
                  "owner": "Demand planner", "due": f"{current}-20", "status": "open",
                  "stage": "2 Demand", "cycle": current}
        for table, row, typed in (("plan_overrides", override, self.overrides),
                                  ("plan_events", event, self.events),
                                  ("act_log", action, self.actions)):
            type_below(book, table, row)
            typed.append(row)
        book.save()  # as Excel saves what the planner typed

    def check_kept(self, book: HeadlessWorkbook, current: str) -> None:
        """Every override still in the horizon is in plan_overrides and in the plan's
        override layer; every event and action typed is still in its table; an event in
        the horizon adds its units to its cell."""
        last = shift_period(current, 11)
        slot = {shift_period(current, i): s for i, s in enumerate(SLOTS)}
        table = book.read_table("plan_overrides")
        layer = plan_layer(book, "override")
        live = [o for o in self.overrides if current <= o["period"] <= last]
        assert len(table) == len(live), (table, live)
        for o in live:
            key = (o["item_no"], o["location_code"])
            assert layer.loc[key, slot[o["period"]]] == pytest.approx(o["quantity"]), o
        events = book.read_table("plan_events")
        assert list(events["event"]) == [e["event"] for e in self.events]
        layer = plan_layer(book, "events")
        for e in self.events:
            if current <= e["period_from"] <= last:
                key = (e["item_no"], e["location_code"])
                assert layer.loc[key, slot[e["period_from"]]] == pytest.approx(
                    e["uplift_units"]), e
        actions = book.read_table("act_log")
        assert set(actions["id"]) == {a["id"] for a in self.actions}


def type_below(book: HeadlessWorkbook, table: str, row: dict) -> None:
    """What a planner does in Excel: type a row's values in the first row below the table
    (after its last row, blank rows included), column by column, into empty cells."""
    ws, t = book.tables[table]
    min_col, _, _, max_row = range_boundaries(t.ref)
    columns = book.table_columns(table)
    assert set(row) <= set(columns), (table, row)
    r = max_row + 1
    for name, value in row.items():
        if value is None:
            continue
        cell = ws.cell(r, min_col + columns.index(name))
        assert cell.value is None, f"{ws.title}!{cell.coordinate} is not empty"
        cell.value = value


def check_not_collapsed(book: HeadlessWorkbook, current: str) -> None:
    """The consensus holds up against the trailing actuals: next month's total is within
    ½…2× the mean of the last 3 loaded months, the 12th month within ½…2× the mean of
    the last 12, and no more series plan 0 in the 12th month than in the first (the
    issue saw 29 of 85 series drop to 0 in the new 12th month after one roll)."""
    actual = monthly_actuals(book)
    loaded = actual[(actual.index < current) & (actual > 0)]
    consensus = plan_layer(book, "consensus")
    recent, year = loaded.iloc[-3:].mean(), loaded.iloc[-12:].mean()
    first, twelfth = consensus["p01"].sum(), consensus["p12"].sum()
    assert 0.5 * recent <= first <= 2 * recent, (current, first, recent)
    assert 0.5 * year <= twelfth <= 2 * year, (current, twelfth, year)
    assert (consensus["p12"] == 0).sum() <= (consensus["p01"] == 0).sum() + 1, current


def check_kpi_values(book: HeadlessWorkbook) -> None:
    for name in KPIS:
        value = book.result_of_name(name)
        assert isinstance(value, (int, float)) and np.isfinite(value), (name, value)


def check_history(book: HeadlessWorkbook, rolled: list[str], series: dict[str, int]) -> None:
    """One archived plan per roll — 12 months of every series the plan had then."""
    history = plan_history(book)  # one row per snapshot × period × item × location
    counts = history.groupby("snapshot_period").size()
    assert list(counts.index) == rolled
    for period in rolled:
        assert counts[period] == 12 * series[period], period


def test_a_year_of_monthly_cycles(tmp_path):
    full = demo_data.generate(items=10, months=36, end_period="2027-11")
    path = tmp_path / "Our S&OP.xlsm"

    def data_through(period: str) -> Path:
        folder = tmp_path / f"data-{period}"
        demo_data.write_tables(folder, demo_data.as_of(full, period))
        return folder

    start = sop("new", path, "--period", START, "--company", "Year Test Co",
                "--source", data_through(shift_period(START, -1)))
    assert warnings_in(start) == []
    book = HeadlessWorkbook(path)
    assert book.get_value("cfg_company_name") == "Year Test Co"
    check_kpi_values(book)
    check_not_collapsed(book, START)
    assert not path.with_name(path.name + ".bak1").exists()  # a new file: nothing to undo

    planner, rolled, series = Planner(), [], {}
    for cycle in range(1, CYCLES + 1):
        closing, current = shift_period(START, cycle - 1), shift_period(START, cycle)

        # 1. the month closes: its data is not in yet
        series[closing] = len(plan_layer(book, "consensus"))
        out = sop("roll-forward", path)
        (warning,) = warnings_in(out)
        assert f"{closing} is not loaded" in warning
        rolled.append(closing)
        book = HeadlessWorkbook(path)
        assert book.get_value("cfg_current_period") == current
        check_history(book, rolled, series)
        check_not_collapsed(book, current)
        planner.check_kept(book, current)
        accuracy = book.read_table("demand_accuracy").set_index("period")
        assert accuracy.loc[closing, "actual"] == NOT_LOADED

        # 2. the planner types this cycle's inputs; the month's data arrives; Refresh
        planner.type_inputs(book, cycle, current)
        out = sop("refresh", path, "--source", data_through(closing))
        assert warnings_in(out) == [], out
        for table in ("plan_overrides", "plan_events", "act_log"):
            assert f"1 typed row(s) taken into {table}" in out, (table, out)
        book = HeadlessWorkbook(path)
        assert book.get_value("cfg_data_through") == closing
        check_kpi_values(book)
        check_not_collapsed(book, current)
        planner.check_kept(book, current)
        check_history(book, rolled, series)
        row = book.read_table("demand_accuracy").set_index("period").loc[closing]
        assert row["actual"] > 0
        if cycle >= 2:  # the plan archived a month before the closed month
            assert 0 <= row["accuracy_lag1"] <= 1, (cycle, row)
            assert -1 <= row["fva_lag1"] <= 1, (cycle, row)
        else:
            assert pd.isna(row["accuracy_lag1"])
        if cycle >= 4:  # and three months before
            assert 0 <= row["accuracy_lag3"] <= 1, (cycle, row)
        else:
            assert pd.isna(row["accuracy_lag3"])

        # 3. once: a roll forward by mistake, undone
        if cycle == 7:
            before = path.read_bytes()
            sop("roll-forward", path)
            assert HeadlessWorkbook(path).get_value("cfg_current_period") == \
                shift_period(current, 1)
            sop("undo", path)
            assert path.read_bytes() == before
            book = HeadlessWorkbook(path)
            assert book.get_value("cfg_current_period") == current
            check_history(book, rolled, series)
            check_kpi_values(book)

        # 4. the year's calendar: it keeps the stored KPI values and the planner's inputs
        # (checked on the reopened workbook in a few cycles: opening it again costs more
        # than the check; in every cycle the meeting commands below need the KPI values)
        sop("calendar", path, "--year", current[:4])
        if cycle in (1, 2, CYCLES):
            book = HeadlessWorkbook(path)
            check_kpi_values(book)
            planner.check_kept(book, current)
            events = book.read_table("cal_events")
            assert events["date"].astype(str).str[:4].eq(current[:4]).any()

        # 5. the meeting: scorecard, agenda, minutes (they only read the workbook)
        meeting = tmp_path / f"meeting-{current}"
        saved = path.read_bytes()
        sop("export-scorecard", path, "--out", meeting)  # fails without KPI values
        assert (meeting / "scorecard.pdf").stat().st_size > 0
        for kind in ("agenda", "minutes"):
            out = sop(kind, path, "--out", meeting)
            assert "no values yet" not in out  # the KPI exceptions section is there
            text = (meeting / f"{kind}.md").read_text(encoding="utf-8")
            assert "Year Test Co" in text and f"Y-{cycle:02d}" in text
        assert path.read_bytes() == saved

    assert rolled[-1] == "2027-11" and len(rolled) == CYCLES

    # the plan history, exported, is what `sop kpis --snapshots` reads: its accuracy at
    # lag 1 and 3 and FVA of the last closed month agree with the Demand sheet's
    history = tmp_path / "plan history.csv"
    sop("history", path, "--out", history)
    exported = pd.read_csv(history, dtype={"snapshot_period": str, "period": str})
    assert sorted(set(exported["snapshot_period"])) == rolled
    shown = book.read_table("demand_accuracy").set_index("period").loc[rolled[-1]]
    for lag, column in ((1, "accuracy_lag1"), (3, "accuracy_lag3")):
        out = sop("kpis", "--source", data_through(rolled[-1]), "--period", rolled[-1],
                  "--snapshots", history, "--lag", lag, "--format", "json")
        result = json.loads(out[out.index("{"):])
        assert result["accuracy_at_lag"] == pytest.approx(shown[column])
        if lag == 1:
            assert result["forecast_value_added"] == pytest.approx(shown["fva_lag1"])
