"""Sheets a planner can read, checked on the demo workbook after `sop demo` (a headless
Refresh of the embedded demo data):

- quantities and money are whole numbers (``#,##0``), ratios one percentage format
  (``0.0%``), also on the ratio rows of mixed tables (capacity utilisation, Margin %) and
  on the targets of ratio KPIs on Config;
- no stage sheet shows a fraction in the General format (``172.3333333333``);
- every stage sheet is frozen right below a table header row;
- every table has a title (a text within the two rows above its header);
- wrapped text on the executive page gets the row height it needs.

The expected formats and panes below are the layout decided for issue 17, written here
(not read from the template sources).
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from openpyxl.formula.translate import Translator
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.utils.cell import coordinate_from_string

QTY = "#,##0"
PCT = "0.0%"

STAGE_SHEETS = ["1 Performance", "2 Demand", "3 Supply", "4 Finance", "5 Pre-S&OP",
                "6 Executive"]

#: sheet → the top-left cell of the scrolling pane (the row under a table header)
FROZEN = {"1 Performance": "A6", "2 Demand": "F28", "3 Supply": "A15", "4 Finance": "A6",
          "5 Pre-S&OP": "A6", "6 Executive": "A6", "Scorecard": "A6"}

#: (table, column) → number format of its body cells
TABLE_FORMATS = {
    ("plan_demand", "h01"): QTY, ("plan_demand", "p01"): QTY,
    ("demand_rollup", "p12"): QTY, ("demand_accuracy", "actual"): QTY,
    ("demand_accuracy", "accuracy_lag1"): PCT, ("demand_fva", "fva"): PCT,
    ("plan_overrides", "quantity"): QTY, ("plan_events", "uplift_units"): QTY,
    ("plan_events", "uplift_pct"): PCT,
    ("supply_capacity", "p01"): QTY, ("supply_projection", "p06"): QTY,
    ("supply_exceptions", "shortfall"): QTY, ("supply_exceptions", "safety_qty"): QTY,
    ("fin_budget_variance", "variance"): QTY, ("fin_budget_variance", "variance_pct"): PCT,
    ("fin_unmapped", "amount"): QTY, ("fin_plan_value", "total"): QTY,
    ("fin_cash_need", "labour"): QTY, ("fin_value_summary", "margin_pct"): PCT,
    ("fin_actual_vs_budget", "accuracy"): PCT,
    ("presop_scenarios", "consensus"): QTY, ("presop_scenarios", "difference_pct"): PCT,
    ("presop_scenario_periods", "consensus_revenue"): QTY,
}

#: spilled columns (KPI by category, supplier watch list …) → number format
SPILL_FORMATS = {
    ("1 Performance", "N6"): PCT,  # fill rate by category
    ("1 Performance", "Q6"): PCT,  # lead times kept by salesperson
    ("1 Performance", "T6"): QTY,  # earned hours
    ("1 Performance", "V6"): PCT,  # labour absorption
    ("1 Performance", "W6"): QTY,  # absorbed payroll
    ("3 Supply", "AP15"): PCT,  # vendor OTD, 3 months
    ("3 Supply", "AR15"): PCT,  # vendor OTD, 6 months
    ("3 Supply", "AU15"): PCT,  # schedule attainment by work center
    ("3 Supply", "AX15"): PCT,  # schedule attainment by item
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> openpyxl.Workbook:
    out = tmp_path_factory.mktemp("formats")
    subprocess.run([sys.executable, "-m", "sop_workbook", "demo", "--out", str(out)],
                   check=True, capture_output=True, timeout=600)
    return openpyxl.load_workbook(out / "SOP_Demo.xlsm", keep_vba=True)


def _tables(wb) -> dict[str, tuple]:
    return {table.name: (ws, table) for ws in wb.worksheets for table in ws.tables.values()}


def _body(ws, table, column: str) -> list:
    c1, r1, c2, r2 = range_boundaries(table.ref)
    headers = [ws.cell(r1, c).value for c in range(c1, c2 + 1)]
    col = c1 + headers.index(column)
    return [ws.cell(r, col) for r in range(r1 + 1, r2 + 1)]


def _rule_formats(ws, cell) -> list[tuple[str, str]]:
    """(formula, number format) of the conditional rules over ``cell`` that set a format."""
    found = []
    for cf in ws.conditional_formatting:
        if cell.coordinate in cf.sqref:
            # a rule's formula is written for the top-left cell of its range
            c1, r1, _, _ = min(range_boundaries(str(r)) for r in cf.sqref.ranges)
            origin = f"{get_column_letter(c1)}{r1}"
            for rule in cf.rules:
                if rule.dxf is not None and rule.dxf.numFmt is not None:
                    formula = Translator("=" + rule.formula[0], origin).translate_formula(
                        cell.coordinate)[1:]
                    found.append((formula, rule.dxf.numFmt.formatCode))
    return found


@pytest.mark.parametrize("table,column", sorted(TABLE_FORMATS))
def test_quantity_and_ratio_columns(demo, table, column):
    ws, t = _tables(demo)[table]
    cells = _body(ws, t, column)
    assert {c.number_format for c in cells} == {TABLE_FORMATS[table, column]}


@pytest.mark.parametrize("sheet,at", sorted(SPILL_FORMATS))
def test_spilled_columns(demo, sheet, at):
    cell = demo[sheet][at]
    assert isinstance(cell.value, str) or cell.value is not None  # something was spilled
    assert cell.number_format == SPILL_FORMATS[sheet, at]


def test_utilisation_rows_are_percentages_and_load_rows_hours(demo):
    ws, t = _tables(demo)["supply_capacity"]
    measures = [c.value for c in _body(ws, t, "measure")]
    p01 = _body(ws, t, "p01")
    assert {"load", "available", "utilisation"} <= set(measures)
    for measure, cell in zip(measures, p01, strict=True):
        rules = [fmt for formula, fmt in _rule_formats(ws, cell)
                 if f'$B{cell.row}="utilisation"' in formula.replace(" ", "")]
        if measure == "utilisation":
            assert 0.3 < cell.value < 3  # a ratio, shown as 114.2 %, never 1.14
            assert rules and set(rules) == {PCT}
        else:
            assert cell.number_format == QTY


def test_margin_percent_row_of_the_scenarios(demo):
    ws, t = _tables(demo)["presop_scenarios"]
    measures = [c.value for c in _body(ws, t, "measure")]
    row = _body(ws, t, "consensus")[measures.index("Margin %")]
    assert 0 < row.value < 1
    assert (f'$A{row.row}="Margin %"', PCT) in _rule_formats(ws, row)


def test_ratio_kpi_targets_on_config_are_percentages(demo):
    ws, t = _tables(demo)["cfg_targets"]
    keys = [c.value for c in _body(ws, t, "kpi")]
    targets = dict(zip(keys, _body(ws, t, "target"), strict=True))
    ratio = targets["fill_rate"]
    rules = [(formula, fmt) for formula, fmt in _rule_formats(ws, ratio)]
    assert any('="fill_rate"' in formula and fmt == PCT for formula, fmt in rules)
    # inventory turns is a count: no rule names it, it keeps the plain number format
    turns = targets["inventory_turns"]
    assert not any('="inventory_turns"' in f for f, _ in _rule_formats(ws, turns))
    assert turns.number_format == "#,##0.00"


@pytest.mark.parametrize("sheet", STAGE_SHEETS)
def test_no_fraction_in_the_general_format(demo, sheet):
    ws = demo[sheet]
    general = [c.coordinate for row in ws.iter_rows() for c in row
               if isinstance(c.value, float) and math.isfinite(c.value)
               and c.value != int(c.value) and c.number_format == "General"]
    assert general == []


@pytest.mark.parametrize("sheet", sorted(FROZEN))
def test_frozen_below_a_table_header(demo, sheet):
    ws = demo[sheet]
    assert ws.freeze_panes == FROZEN[sheet]
    _, row = coordinate_from_string(ws.freeze_panes)
    header_rows = {range_boundaries(t.ref)[1] for t in ws.tables.values()}
    # the KPI tables of Performance and Scorecard are cells, not Excel tables: their header
    # row is the row of the "KPI" heading
    header_rows |= {c.row for r in ws.iter_rows(max_row=30, max_col=1) for c in r
                    if c.value == "KPI"}
    assert row - 1 in header_rows


@pytest.mark.parametrize("sheet", STAGE_SHEETS)
def test_every_table_has_a_title(demo, sheet):
    ws = demo[sheet]
    for t in ws.tables.values():
        c1, r1, _, _ = range_boundaries(t.ref)
        above = [ws.cell(r, c1).value for r in range(max(1, r1 - 2), r1)]
        assert any(isinstance(v, str) and v.strip() and not v.startswith("=")
                   for v in above), t.name


def test_wrapped_text_rows_are_tall_enough_on_the_executive_page(demo):
    ws, t = _tables(demo)["exec_needed"]
    gaps = _body(ws, t, "gap")
    long = [c for c in gaps if isinstance(c.value, str) and len(c.value) > 60]
    assert long, "the demo has long gap texts"
    for cell in long:
        assert cell.alignment.wrap_text
        # column A is 34 wide (~39 characters a line): two lines or more, 15 pt each
        assert ws.row_dimensions[cell.row].height >= 30


def test_screenshots_script_renders_whole_sheets():
    """tools/screenshots.py prints the used range of each sheet, not a fixed crop."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
    try:
        import screenshots
    finally:
        sys.path.pop(0)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"] = "title"
    ws["AZ300"] = 5
    ws["C400"].number_format = "0.0%"  # a style alone does not extend the range
    assert screenshots.used_range(ws) == "A1:AZ300"
    assert set(screenshots.SHEETS) == {*STAGE_SHEETS, "Guide"}
