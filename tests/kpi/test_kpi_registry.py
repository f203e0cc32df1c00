"""The KPI registry (sop_workbook/kpi/registry.py) against everything that lists a KPI:
the docs, the template's sources and the committed template, the UDFs, the aggregate
lists, and the code its entries name (dimensions, columns, functions)."""

from __future__ import annotations

import importlib
import math
import re
import tomllib
import zipfile
from pathlib import Path

import pytest

import udfs
from sop_workbook import demo_data
from sop_workbook.aggregate_tables import build_aggregates
from sop_workbook.kpi import build_facts, ratios, standards
from sop_workbook.kpi.cuts import DimensionNotApplicable
from sop_workbook.kpi.facts import DIMENSIONS
from sop_workbook.kpi.options import KpiOptions
from sop_workbook.kpi.registry import KPIS
from sop_workbook.loader import load_source

ROOT = Path(__file__).resolve().parents[2]
PERIOD = "2026-06"
#: README rows that are the budget reconciliation, not KPIs of the registry.
FINANCE_ROWS = {"Sales budget → GL", "Budget variance"}


def _toml(name: str) -> dict:
    return tomllib.loads((ROOT / "xl" / name).read_text(encoding="utf-8"))


def readme_kpi_table() -> dict[str, str]:
    """The README's KPI table: first cell → formula cell (``\\|`` unescaped)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## KPI definitions\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("| KPI |"):
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            rows[cells[0]] = cells[1]
    return rows


def test_readme_kpi_table_is_the_registrys():
    table = readme_kpi_table()
    for entry in KPIS.values():
        if entry.in_sop_kpis:
            assert table.get(entry.readme) == entry.definition, entry.key
        else:  # a workbook variant (the unit fill rate): its row's "choices made"
            assert entry.readme in table, entry.key
    assert set(table) == {e.readme for e in KPIS.values()} | FINANCE_ROWS


def test_each_kpi_has_its_section_in_docs():
    headings = set(re.findall(r"^### (.+)$", (ROOT / "docs" / "kpis.md").read_text(
        encoding="utf-8"), flags=re.M))
    for entry in KPIS.values():
        assert entry.docs in headings, entry.key


def test_scorecard_rows_and_kpi_blocks_name_registered_cells():
    rows = [k["key"] for k in _toml("scorecard.toml")["kpi"]]
    assert rows == [k for k, e in sorted(KPIS.items(), key=lambda i: _row(i[1].cell))
                    if e.cell], "xl/scorecard.toml rows and the registry's cells differ"
    for sheet in _toml("sheets.toml")["sheet"]:
        for block in sheet.get("kpi_block", []):
            for key in block["keys"]:
                assert KPIS[key].cell, (sheet["name"], key)
        for chart in sheet.get("charts", []):
            for key in chart.get("series_kpis", []):
                assert KPIS[key].cell, (sheet["name"], chart["title"], key)


def _row(cell: str | None) -> int:
    return int(re.sub(r"\D", "", cell.split("!")[1])) if cell else 0


def test_cells_of_the_committed_template():
    """Each entry's cell is where the committed template's name kpi_<key> points, and the
    cell holds the entry's formula for the period cell."""
    from openpyxl import load_workbook

    template = ROOT / "SOP_Template.xlsm"
    with zipfile.ZipFile(template) as z:
        book_xml = z.read("xl/workbook.xml").decode()
    names = dict(re.findall(r'<definedName name="(kpi_[a-z_]+)"[^>]*>([^<]+)<', book_xml))
    wb = load_workbook(template, keep_vba=True)
    for entry in KPIS.values():
        if entry.cell is None:
            assert f"kpi_{entry.key}" not in names
            continue
        sheet, ref = entry.cell.split("!")
        assert names[f"kpi_{entry.key}"] == f"'{sheet}'!{ref}", entry.key
        value = wb[sheet][ref.replace("$", "")].value
        assert value == entry.formula.replace("{period}", "kpi_period"), entry.key


def test_udfs_and_formulas():
    for entry in KPIS.values():
        if entry.udf is None:
            assert entry.cell is None and entry.ratio is None, entry.key
            continue
        assert entry.udf in udfs.UDFS, entry.key
        assert entry.formula.startswith(f"={entry.udf}({entry.table}[#All],{{period}}"), \
            entry.key
        if entry.udf_doc is not None:  # generated from the entry
            assert udfs.UDFS[entry.udf].__doc__ == entry.udf_doc


def test_aggregated_lists_are_the_registrys():
    """kpi_by's table of functions: one per registered ratio (the unit fill rate is a level
    of fill_rate; the payroll needs a labour rate), and the windowed ones flagged."""
    assert dict(ratios.KPI_FUNCTIONS) == {
        e.key: e.ratio for e in KPIS.values()
        if e.ratio is not None and e.key not in ("fill_rate_unit", "absorbed_payroll")}
    assert {e.key for e in KPIS.values() if e.windowed} == ratios.WINDOWED
    assert set(ratios._FIGURES) == set(ratios.KPI_FUNCTIONS) - ratios.WINDOWED


def test_named_functions_and_columns():
    tables = {t["name"]: t["columns"] for t in _toml("tables.toml")["table"]}
    for entry in KPIS.values():
        if entry.table is None:
            assert not entry.columns and entry.sql is None, entry.key
            continue
        assert set(entry.columns) <= set(tables[entry.table]), entry.key
        for dotted in (entry.aggregate, entry.sql):
            module, name = dotted.rsplit(".", 1)
            assert callable(getattr(importlib.import_module(module), name)), dotted
        assert entry.sql.rsplit(".", 1)[1] == entry.table, entry.key


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    demo_data.write(folder, items=8, months=14)
    data = load_source(folder)
    facts = build_facts(data)
    tables = build_aggregates(facts, KpiOptions())
    tables["agg_lead_time"] = standards.lead_time_aggregate(data)
    tables["agg_labour"] = standards.labour_aggregate(data)
    return data, facts, tables


def _ratio(entry, table):
    if entry.key == "absorbed_payroll":
        return entry.ratio(table, PERIOD, 40.0)
    if entry.key == "fill_rate_unit":
        return entry.ratio(table, PERIOD, level="unit")
    return entry.ratio(table, PERIOD)


def test_each_ratio_reads_its_columns(demo):
    """Zeroing any of an entry's columns changes its figure (the ratio reads them); the UDF
    gives the ratio's figure."""
    _, _, tables = demo
    for entry in KPIS.values():
        if entry.ratio is None:
            continue
        table = tables[entry.table]
        value = _ratio(entry, table)
        assert value is not None and math.isfinite(value), entry.key
        for column in entry.columns:
            changed = _ratio(entry, table.assign(**{column: 0.0}))
            assert changed != pytest.approx(value), (entry.key, column)
        if entry.udf_doc is not None:
            assert udfs.UDFS[entry.udf](table, PERIOD) == pytest.approx(value), entry.key


def test_dimensions_are_the_row_level_cuts(demo):
    data, facts, _ = demo
    options = KpiOptions()
    for entry in KPIS.values():
        if entry.key in ("accuracy_at_lag", "forecast_value_added"):
            continue  # need plan snapshots (tests/review/test_forecasting.py)
        for dim in DIMENSIONS:
            if entry.figure is not None:
                def call(by, entry=entry):
                    return entry.figure(facts, PERIOD, options, by)
            else:
                source = data if entry.row_level.__module__.endswith("standards") else facts

                def call(by, entry=entry, source=source):
                    return entry.row_level(source, PERIOD, by=by)
            if dim in entry.dimensions:
                call(dim)
            else:
                with pytest.raises(DimensionNotApplicable):
                    call(dim)


def test_sop_kpis_prints_the_registrys_kpis(demo):
    """`sop kpis` (compute_kpis, compute_kpis_by) gives a figure for every registered KPI
    of its rows, and no KPI the registry does not know."""
    from sop_workbook.kpi_report import compute_kpis, compute_kpis_by

    data, facts, _ = demo
    keys = [k for k, e in KPIS.items() if e.in_sop_kpis]
    total = compute_kpis(data, PERIOD, facts=facts)
    assert set(keys) <= set(total)
    assert set(total["detail"]) <= set(keys)
    by = compute_kpis_by(data, PERIOD, "item", facts=facts)
    assert list(by.columns) == ["item", *keys[:keys.index("tracking_signal") + 1],
                                "tracking_signal_flag",
                                *keys[keys.index("tracking_signal") + 1:]]


def test_the_sop_kpis_basis_column_comes_from_the_registry():
    """The options in force, as `sop kpis` prints them (texts written out here)."""
    from sop_workbook.kpi.registry import options_notes

    assert options_notes(KpiOptions()) == {
        "sales_otd": "tolerance 0 d",
        "fill_rate": "line level, promised date, tolerance 0 d",
        "vendor_otd": "early unlimited, late 0 d",
        "inventory_turns": "1-month window, annualised",
        "forecast_accuracy": "invoiced revenue vs sales budget, item × location",
        "tracking_signal": "last 6 periods, flag beyond ±4",
        "accuracy_at_lag": "lag 1, needs plan snapshots",
        "lead_time_adherence": "lines ordered in the period, items with a lead time",
        "labour_absorption": "standard hours earned ÷ hours worked",
        "absorbed_payroll": "needs --labour-rate",
    }
    notes = options_notes(KpiOptions(tolerance_days=2, fill_level="unit",
                                     fill_basis="requested", days_early=3, days_late=1,
                                     turns_months=12, ts_periods=4, lag=2,
                                     labour_rate=1234.5))
    assert notes["fill_rate"] == "unit level, requested date, tolerance 2 d"
    assert notes["vendor_otd"] == "early 3 d, late 1 d"
    assert notes["inventory_turns"] == "12-month window, annualised"
    assert notes["tracking_signal"] == "last 4 periods, flag beyond ±4"
    assert notes["accuracy_at_lag"] == "lag 2, needs plan snapshots"
    assert notes["absorbed_payroll"] == "at 1,234.50 per hour"


def test_sop_kpis_prints_the_options_in_force(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from sop_workbook.cli import app

    monkeypatch.setenv("COLUMNS", "200")
    demo_data.write(tmp_path / "data")
    run = CliRunner().invoke(app, ["kpis", "--source", str(tmp_path / "data"), "--period",
                                   "2026-10", "--days-early", "2", "--labour-rate", "42"])
    assert run.exit_code == 0, run.output
    lines = {line.split("│")[1].strip(): line.split("│")[3].strip()
             for line in run.output.splitlines() if line.count("│") == 4}
    assert lines["Vendor on-time delivery"] == "early 2 d, late 0 d"
    assert lines["Over/under-absorbed payroll"] == "at 42.00 per hour"
    assert lines["Fill rate (OTIF)"] == "line level, promised date, tolerance 0 d"
    assert lines["Schedule attainment"] == ""


def test_kpi_trend_charts_plot_the_rows_of_their_kpis():
    """Each series of a chart that names its KPIs (``series_kpis``) reads, in the committed
    template, the trend row whose formulas call that KPI's UDF and whose label is its
    Scorecard label."""
    from openpyxl import load_workbook
    from openpyxl.utils.cell import range_boundaries

    from sop_workbook.kpi.registry import workbook_row

    wb = load_workbook(ROOT / "SOP_Template.xlsm", keep_vba=True)
    checked = 0
    for sheet in _toml("sheets.toml")["sheet"]:
        charts = [c for c in sheet.get("charts", []) if "series_kpis" in c]
        drawn = {c.title.tx.rich.p[0].r[0].t: c for c in wb[sheet["name"]]._charts
                 if c.title is not None}
        for spec in charts:
            chart = drawn[spec["title"]]
            assert len(chart.series) == len(spec["series_kpis"])
            for key, series in zip(spec["series_kpis"], chart.series, strict=True):
                data_sheet, ref = series.val.numRef.f.rsplit("!", 1)
                ws = wb[data_sheet.strip("'")]
                col, row, _, last_row = range_boundaries(ref.replace("$", ""))
                assert row == last_row
                assert ws.cell(row, col).value.startswith(f"={KPIS[key].udf}("), (key, ref)
                assert ws.cell(row, 1).value == workbook_row(key)["label"]
                checked += 1
    assert checked == 8  # delivery (3) on Performance and Executive, forecast (2)
