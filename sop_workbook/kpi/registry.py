"""The KPI registry: one entry per KPI, everything about it in one place.

Search this file for a KPI's key (``vendor_otd``) to find, in its entry:

- ``definition`` — the formula in one line (the README's KPI table, checked by a test) and
  ``docs``, the heading of its full definition in ``docs/kpis.md``;
- ``dimensions`` — the cuts of the row-level engine (``sop kpis --by``);
- ``row_level`` — the engine function over the loaded source (``sop kpis``), and for the
  ratio KPIs ``figure``, the call with the planner's options;
- ``table`` and ``columns`` — the workbook aggregate and the columns its ratio reads;
  ``aggregate`` and ``sql`` — the functions that build that table, in pandas and in SQL
  (named, not imported: they sit above this package);
- ``ratio`` — the figure from the aggregate's rows (what the UDF calls);
- ``udf`` (and ``udf_doc``, the help Excel shows) — the worksheet function;
- ``cell`` — the Scorecard cell holding the KPI (defined name ``kpi_<key>``) and
  ``formula``, ``workbook_label``, ``basis`` — what the template writes on that row;
  ``export_chart`` — the trend chart of the exported scorecard that plots it;
- ``options_note`` — what ``sop kpis`` prints in its basis column: the options in force.

Generated from it: ``kpi_report.RATIO_KPIS``, ``LABELS`` and ``PERCENT_KPIS`` (so ``sop
kpis`` and the scorecard rows), the basis column of ``sop kpis`` (:func:`options_notes`),
``scorecard_export.PERCENT_KEYS`` and the export's trend charts, the single-cut cell
functions of :mod:`sop_workbook.kpi.cell_functions` (the UDFs of :mod:`udfs`) and the
label, formula, format and definition of each Scorecard row
(:func:`sop_workbook.template.build.read_sources`). Checked against it by
``tests/kpi/test_kpi_registry.py``: the README's KPI table, the headings of ``docs/kpis.md``,
the lists of :mod:`sop_workbook.kpi.ratios` (``KPI_FUNCTIONS``, ``WINDOWED``), the KPI
blocks of ``xl/sheets.toml``, the cells of the committed template, each entry's
dimensions, columns, UDF and functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import delivery, forecast, inventory, ratios, sales, standards, supply

if TYPE_CHECKING:
    from .cuts import Ratio
    from .facts import Facts
    from .options import KpiOptions

    Figure = Callable[[Facts, str, KpiOptions, str | None], Ratio]


@dataclass(frozen=True)
class Kpi:
    """One KPI: see the module docstring for what each field holds."""

    key: str
    label: str  # as `sop kpis` prints it
    definition: str  # the formula in one line
    docs: str  # its heading in docs/kpis.md
    readme: str  # its row in the README's KPI table
    dimensions: tuple[str, ...]
    percent: bool
    row_level: Callable
    figure: Figure | None = None
    table: str | None = None
    columns: tuple[str, ...] = ()
    aggregate: str | None = None  # dotted name of the pandas builder
    sql: str | None = None  # dotted name of the SQL builder (named as the table)
    ratio: Callable | None = None
    windowed: bool = False  # the ratio reads rows beyond the cut's rows of the period
    udf: str | None = None
    udf_doc: str | None = None  # set for the UDFs generated from the entry
    cell: str | None = None
    formula: str | None = None  # `{period}` stands for the period cell
    workbook_label: str | None = None
    basis: str | None = None
    in_sop_kpis: bool = True  # a row of `sop kpis` (fill_rate_unit is a workbook variant)
    options_note: Callable[[KpiOptions], str] | None = None  # `sop kpis` basis column
    export_chart: str | None = None  # its trend chart in the exported scorecard

    @property
    def format(self) -> str:
        """The Scorecard's number format: pct or num."""
        return "pct" if self.percent else "num"


SALES_CUTS = ("item", "category", "location", "customer", "salesperson")
PRODUCT_CUTS = ("item", "category", "location")
FUNNEL_CUTS = ("item", "category", "customer", "salesperson")

_AGG = "sop_workbook.aggregate_tables"
_SQL_SALES = "sop_workbook.sql.sales"
_SQL_OPS = "sop_workbook.sql.operations"


_ENTRIES = [
    Kpi(
        key="sales_otd",
        label="Sales on-time delivery",
        definition="shipment lines with shipment date ≤ promised date + tolerance ÷ shipment "
                   "lines shipped in the period",
        docs="Sales on-time delivery (OTD)",
        readme="Sales OTD",
        dimensions=SALES_CUTS,
        percent=True,
        row_level=delivery.sales_otd,
        figure=lambda f, p, o, by: delivery.sales_otd(f, p, tolerance_days=o.tolerance_days,
                                                      by=by),
        table="agg_sales",
        columns=("otd_on_time", "otd_lines"),
        aggregate=f"{_AGG}.sales_aggregate",
        sql=f"{_SQL_SALES}.agg_sales",
        ratio=ratios.sales_otd,
        udf="SOP_SALES_OTD",
        udf_doc="Sales on-time delivery: shipment lines shipped by the promised date (+ "
                "tolerance) ÷ shipment lines of the period. Table: agg_sales or agg_customer.",
        cell="Scorecard!$B$6",
        formula="=SOP_SALES_OTD(agg_sales[#All],{period})",
        workbook_label="Sales on-time delivery",
        basis="Shipment lines shipped by the promised date (+ tolerance) ÷ shipment lines of "
              "the period",
        export_chart="delivery",
        options_note=lambda o: f"tolerance {o.tolerance_days} d",
    ),
    Kpi(
        key="fill_rate",
        label="Fill rate (OTIF)",
        definition="lines due in the period (by promised date) fully shipped by due date + "
                   "tolerance ÷ lines due",
        docs="Fill rate (on time, in full)",
        readme="Fill rate (OTIF)",
        dimensions=SALES_CUTS,
        percent=True,
        row_level=delivery.fill_rate,
        figure=lambda f, p, o, by: delivery.fill_rate(
            f, p, level=o.fill_level, basis=o.fill_basis, tolerance_days=o.tolerance_days,
            by=by),
        table="agg_sales",
        columns=("fill_lines_filled", "fill_lines_due"),
        aggregate=f"{_AGG}.sales_aggregate",
        sql=f"{_SQL_SALES}.agg_sales",
        ratio=ratios.fill_rate,
        udf="SOP_FILL_RATE",
        cell="Scorecard!$B$7",
        formula="=SOP_FILL_RATE(agg_sales[#All],{period})",
        workbook_label="Fill rate (on time, in full)",
        basis="Lines due in the period (promised date) shipped in full by then ÷ lines due",
        export_chart="delivery",
        options_note=lambda o: f"{o.fill_level} level, {o.fill_basis} date, "
                             f"tolerance {o.tolerance_days} d",
    ),
    Kpi(
        key="fill_rate_unit",
        label="Fill rate, units",
        definition="Σ min(quantity shipped on time, quantity ordered) ÷ Σ quantity ordered",
        docs="Fill rate (on time, in full)",
        readme="Fill rate (OTIF)",
        dimensions=SALES_CUTS,
        percent=True,
        row_level=delivery.fill_rate,
        table="agg_sales",
        columns=("fill_qty_on_time", "fill_qty_due"),
        aggregate=f"{_AGG}.sales_aggregate",
        sql=f"{_SQL_SALES}.agg_sales",
        ratio=ratios.fill_rate,
        udf="SOP_FILL_RATE",
        cell="Scorecard!$B$8",
        formula="=SOP_FILL_RATE(agg_sales[#All],{period},\"\",\"\",\"unit\")",
        workbook_label="Fill rate, units",
        basis="Quantity shipped on time (capped at the ordered quantity) ÷ quantity due",
        in_sop_kpis=False,  # `sop kpis --fill-level unit` prints it as fill_rate
    ),
    Kpi(
        key="vendor_otd",
        label="Vendor on-time delivery",
        definition="receipt lines inside [expected − early, expected + late] ÷ receipt lines "
                   "received in the period",
        docs="Vendor on-time delivery",
        readme="Vendor OTD",
        dimensions=("item", "category", "vendor"),
        percent=True,
        row_level=supply.vendor_otd,  # the window: supply.receipt_on_time (and _sql)
        figure=lambda f, p, o, by: supply.vendor_otd(f, p, days_early=o.days_early,
                                                     days_late=o.days_late, by=by),
        table="agg_vendor",
        columns=("receipts_on_time", "receipt_lines"),
        aggregate=f"{_AGG}.vendor_aggregate",
        sql=f"{_SQL_OPS}.agg_vendor",
        ratio=ratios.vendor_otd,
        udf="SOP_VENDOR_OTD",
        udf_doc="Vendor on-time delivery: receipt lines inside the early/late window ÷ receipt "
                "lines of the period. Table: agg_vendor.",
        cell="Scorecard!$B$9",
        formula="=SOP_VENDOR_OTD(agg_vendor[#All],{period})",
        workbook_label="Vendor on-time delivery",
        basis="Receipt lines inside the early/late window ÷ receipt lines of the period",
        export_chart="delivery",
        options_note=lambda o: "early " + ("unlimited" if o.days_early is None
                                           else f"{o.days_early} d") + f", late {o.days_late} d",
    ),
    Kpi(
        key="schedule_attainment",
        label="Schedule attainment",
        definition="Σ min(qty finished by due date, planned) ÷ Σ planned, orders due in the "
                   "period",
        docs="Schedule attainment",
        readme="Schedule attainment",
        dimensions=("item", "category", "location", "work_center"),
        percent=True,
        row_level=supply.schedule_attainment,
        figure=lambda f, p, o, by: supply.schedule_attainment(f, p, by=by),
        table="agg_production",
        columns=("attained_qty", "planned_qty"),
        aggregate=f"{_AGG}.production_aggregate",
        sql=f"{_SQL_OPS}.agg_production",
        ratio=ratios.schedule_attainment,
        udf="SOP_SCHEDULE_ATTAINMENT",
        udf_doc="Schedule attainment: Σ min(finished by due date, planned) ÷ Σ planned, orders "
                "due in the period. Table: agg_production.",
        cell="Scorecard!$B$10",
        formula="=SOP_SCHEDULE_ATTAINMENT(agg_production[#All],{period})",
        workbook_label="Schedule attainment",
        basis="Σ min(finished by due date, planned) ÷ Σ planned, orders due in the period",
        export_chart="delivery",
    ),
    Kpi(
        key="inventory_turns",
        label="Inventory turns",
        definition="COGS of m1..mn × 12/n ÷ mean(end(m0), …, end(mn))",
        docs="Inventory turns",
        readme="Inventory turns",
        dimensions=PRODUCT_CUTS,
        percent=False,
        row_level=inventory.inventory_turns,
        figure=lambda f, p, o, by: inventory.inventory_turns(f, p, months=o.turns_months,
                                                             by=by),
        table="agg_sales",
        columns=("cogs", "inventory_value"),
        aggregate=f"{_AGG}.sales_aggregate",
        sql=f"{_SQL_SALES}.agg_sales",
        ratio=ratios.inventory_turns,
        windowed=True,
        udf="SOP_INVENTORY_TURNS",
        cell="Scorecard!$B$11",
        formula="=SOP_INVENTORY_TURNS(agg_sales[#All],{period})",
        workbook_label="Inventory turns",
        basis="COGS × 12 ÷ mean of opening and closing inventory value",
        options_note=lambda o: f"{o.turns_months}-month window, annualised",
    ),
    Kpi(
        key="days_of_supply",
        label="Days of supply",
        definition="on hand at period end ÷ (qty shipped in the period ÷ days)",
        docs="Days of supply",
        readme="Days of supply",
        dimensions=PRODUCT_CUTS,
        percent=False,
        row_level=inventory.days_of_supply,
        figure=lambda f, p, o, by: inventory.days_of_supply(f, p, by=by),
        table="agg_sales",
        columns=("on_hand_qty", "shipped_qty"),
        aggregate=f"{_AGG}.sales_aggregate",
        sql=f"{_SQL_SALES}.agg_sales",
        ratio=ratios.days_of_supply,
        windowed=True,
        udf="SOP_DAYS_OF_SUPPLY",
        udf_doc="Days of supply: on hand at period end ÷ (quantity shipped ÷ days in the "
                "period). Table: agg_sales.",
        cell="Scorecard!$B$12",
        formula="=SOP_DAYS_OF_SUPPLY(agg_sales[#All],{period})",
        workbook_label="Days of supply",
        basis="On hand at period end ÷ (quantity shipped ÷ days in the period)",
    ),
    Kpi(
        key="close_ratio",
        label="Close ratio",
        definition="won ÷ (won + lost) closed in the period",
        docs="Close ratio",
        readme="Close ratio",
        dimensions=FUNNEL_CUTS,
        percent=True,
        row_level=sales.close_ratio,
        figure=lambda f, p, o, by: sales.close_ratio(f, p, by=by),
        table="agg_funnel",
        columns=("won", "lost"),
        aggregate=f"{_AGG}.funnel_aggregate",
        sql=f"{_SQL_OPS}.agg_funnel",
        ratio=ratios.close_ratio,
        udf="SOP_CLOSE_RATIO",
        udf_doc="Close ratio: opportunities won ÷ (won + lost) closed in the period. Table: "
                "agg_funnel.",
        cell="Scorecard!$B$16",
        formula="=SOP_CLOSE_RATIO(agg_funnel[#All],{period})",
        workbook_label="Close ratio",
        basis="Opportunities won ÷ (won + lost) closed in the period",
    ),
    Kpi(
        key="forecast_accuracy",
        label="Forecast accuracy (1 − WMAPE)",
        definition="max(0, 1 − Σ|A−F| ÷ ΣA) / Σ(F−A) ÷ ΣA at item × location × period",
        docs="Forecast accuracy and bias",
        readme="Forecast accuracy / bias",
        dimensions=SALES_CUTS,
        percent=True,
        row_level=forecast.forecast_error,  # its accuracy
        table="agg_sales",
        columns=("forecast_abs_error", "invoiced_amount"),
        aggregate=f"{_AGG}.sales_aggregate",
        sql=f"{_SQL_SALES}.agg_sales",
        ratio=ratios.forecast_accuracy,
        udf="SOP_FORECAST_ACCURACY",
        udf_doc="Forecast accuracy: max(0, 1 − Σ|A − F| ÷ Σ A) at item × location (A = "
                "invoiced, F = sales budget). Table: agg_sales, or agg_customer for customer "
                "cuts.",
        cell="Scorecard!$B$13",
        formula="=SOP_FORECAST_ACCURACY(agg_sales[#All],{period})",
        workbook_label="Forecast accuracy (1 − WMAPE)",
        basis="max(0, 1 − Σ|A − F| ÷ ΣA) at item × location; A invoiced, F sales budget",
        export_chart="forecast",
        options_note=lambda o: "invoiced revenue vs sales budget, item × location",
    ),
    Kpi(
        key="forecast_bias",
        label="Forecast bias",
        definition="max(0, 1 − Σ|A−F| ÷ ΣA) / Σ(F−A) ÷ ΣA at item × location × period",
        docs="Forecast accuracy and bias",
        readme="Forecast accuracy / bias",
        dimensions=SALES_CUTS,
        percent=True,
        row_level=forecast.forecast_error,  # its bias
        table="agg_sales",
        columns=("budget_amount", "invoiced_amount"),
        aggregate=f"{_AGG}.sales_aggregate",
        sql=f"{_SQL_SALES}.agg_sales",
        ratio=ratios.forecast_bias,
        udf="SOP_FORECAST_BIAS",
        udf_doc="Forecast bias: Σ(F − A) ÷ Σ A; positive = over-forecast. Table: agg_sales.",
        cell="Scorecard!$B$14",
        formula="=SOP_FORECAST_BIAS(agg_sales[#All],{period})",
        workbook_label="Forecast bias",
        basis="Σ(F − A) ÷ ΣA; positive = over-forecast",
        export_chart="forecast",
    ),
    Kpi(
        key="tracking_signal",
        label="Tracking signal",
        definition="Σ(A−F) ÷ MAD over the last n periods with data (flag beyond ±4)",
        docs="Tracking signal",
        readme="Tracking signal",
        dimensions=SALES_CUTS,
        percent=False,
        row_level=forecast.tracking_signal,
        table="agg_sales",
        columns=("invoiced_amount", "budget_amount"),
        aggregate=f"{_AGG}.sales_aggregate",
        sql=f"{_SQL_SALES}.agg_sales",
        ratio=ratios.tracking_signal,
        windowed=True,
        udf="SOP_TRACKING_SIGNAL",
        cell="Scorecard!$B$15",
        formula="=SOP_TRACKING_SIGNAL(agg_sales[#All],{period})",
        workbook_label="Tracking signal (6 periods)",
        basis="Σ(A − F) ÷ MAD over the last 6 periods; beyond ±4 the forecast is biased",
        options_note=lambda o: f"last {o.ts_periods} periods, flag beyond ±4",
    ),
    Kpi(
        key="accuracy_at_lag",
        label="Forecast accuracy at lag",
        definition="as accuracy, F = plan snapshot made k periods earlier; FVA = consensus − "
                   "baseline accuracy",
        docs="Accuracy at lag k and forecast value added",
        readme="Accuracy at lag k / FVA",
        dimensions=PRODUCT_CUTS,
        percent=True,
        row_level=forecast.accuracy_at_lag,  # needs plan snapshots: not in the workbook
        options_note=lambda o: f"lag {o.lag}, needs plan snapshots",
    ),
    Kpi(
        key="forecast_value_added",
        label="Forecast value added",
        definition="as accuracy, F = plan snapshot made k periods earlier; FVA = consensus − "
                   "baseline accuracy",
        docs="Accuracy at lag k and forecast value added",
        readme="Accuracy at lag k / FVA",
        dimensions=PRODUCT_CUTS,
        percent=True,
        row_level=forecast.forecast_value_added,  # needs plan snapshots: not in the workbook
    ),
    Kpi(
        key="committed_amount",
        label="Committed amount",
        definition="Σ committed (commit flag, expected close in period) vs Σ won in period",
        docs="Commit vs closed",
        readme="Commit vs closed",
        dimensions=FUNNEL_CUTS,
        percent=False,
        row_level=sales.commit_vs_closed,  # its committed
        table="agg_funnel",
        columns=("committed_amount",),
        aggregate=f"{_AGG}.funnel_aggregate",
        sql=f"{_SQL_OPS}.agg_funnel",
    ),
    Kpi(
        key="won_amount",
        label="Won amount",
        definition="Σ committed (commit flag, expected close in period) vs Σ won in period",
        docs="Commit vs closed",
        readme="Commit vs closed",
        dimensions=FUNNEL_CUTS,
        percent=False,
        row_level=sales.commit_vs_closed,  # its won
        table="agg_funnel",
        columns=("won_amount",),
        aggregate=f"{_AGG}.funnel_aggregate",
        sql=f"{_SQL_OPS}.agg_funnel",
    ),
    Kpi(
        key="commit_vs_closed",
        label="Won ÷ committed",
        definition="Σ committed (commit flag, expected close in period) vs Σ won in period",
        docs="Commit vs closed",
        readme="Commit vs closed",
        dimensions=FUNNEL_CUTS,
        percent=True,
        row_level=sales.commit_vs_closed,  # its ratio
        table="agg_funnel",
        columns=("won_amount", "committed_amount"),
        aggregate=f"{_AGG}.funnel_aggregate",
        sql=f"{_SQL_OPS}.agg_funnel",
        ratio=ratios.commit_vs_closed,
        udf="SOP_COMMIT_VS_CLOSED",
        udf_doc="Won ÷ committed amount of the period. Table: agg_funnel.",
        cell="Scorecard!$B$17",
        formula="=SOP_COMMIT_VS_CLOSED(agg_funnel[#All],{period})",
        workbook_label="Won ÷ committed",
        basis="Amount won in the period ÷ amount committed for it",
    ),
    Kpi(
        key="lead_time_adherence",
        label="Adherence to standard lead times",
        definition="lines ordered in the period with promised ≥ order date + item lead time ÷ "
                   "lines of items with a lead time",
        docs="Adherence to standard lead times *(sales team, by salesperson)*",
        readme="Lead-time adherence",
        dimensions=SALES_CUTS,
        percent=True,
        row_level=standards.lead_time_adherence,
        table="agg_lead_time",
        columns=("lt_adhered", "lt_lines"),
        aggregate="sop_workbook.kpi.standards.lead_time_aggregate",
        sql=f"{_SQL_OPS}.agg_lead_time",
        ratio=ratios.lead_time_adherence,
        udf="SOP_LEAD_TIME_ADHERENCE",
        udf_doc="Adherence to standard lead times: sales lines ordered in the period promised "
                "no earlier than order date + the item's lead time ÷ lines of items with a "
                "standard lead time. Table: agg_lead_time (cut by salesperson or customer).",
        cell="Scorecard!$B$18",
        formula="=SOP_LEAD_TIME_ADHERENCE(agg_lead_time[#All],{period})",
        workbook_label="Adherence to standard lead times",
        basis="Lines ordered in the period promised ≥ order date + the item's lead time ÷ "
              "lines of items with one",
        options_note=lambda o: "lines ordered in the period, items with a lead time",
    ),
    Kpi(
        key="labour_absorption",
        label="Labour absorption",
        definition="standard hours earned (finished qty × routing hours) ÷ hours worked "
                   "(capacity ledger); payroll = (earned − worked) × labour rate",
        docs="Labour absorption *(operations leader, by work center)*",
        readme="Labour absorption",
        dimensions=("work_center",),
        percent=True,
        row_level=standards.labour_absorption,
        table="agg_labour",
        columns=("earned_hours", "worked_hours"),
        aggregate="sop_workbook.kpi.standards.labour_aggregate",
        sql=f"{_SQL_OPS}.agg_labour",
        ratio=ratios.labour_absorption,
        udf="SOP_LABOUR_ABSORPTION",
        udf_doc="Labour absorption: standard hours earned (finished quantity × routing hours) "
                "÷ hours worked (capacity ledger) in the period. Table: agg_labour (cut by "
                "work_center).",
        cell="Scorecard!$B$19",
        formula="=SOP_LABOUR_ABSORPTION(agg_labour[#All],{period})",
        workbook_label="Labour absorption",
        basis="Standard hours earned (finished qty × routing hours) ÷ hours worked (capacity "
              "ledger)",
        options_note=lambda o: "standard hours earned ÷ hours worked",
    ),
    Kpi(
        key="absorbed_payroll",
        label="Over/under-absorbed payroll",
        definition="standard hours earned (finished qty × routing hours) ÷ hours worked "
                   "(capacity ledger); payroll = (earned − worked) × labour rate",
        docs="Labour absorption *(operations leader, by work center)*",
        readme="Labour absorption",
        dimensions=("work_center",),
        percent=False,
        row_level=standards.labour_absorption,  # its absorbed_payroll
        table="agg_labour",
        columns=("earned_hours", "worked_hours"),
        aggregate="sop_workbook.kpi.standards.labour_aggregate",
        sql=f"{_SQL_OPS}.agg_labour",
        ratio=ratios.absorbed_payroll,
        udf="SOP_ABSORBED_PAYROLL",
        cell="Scorecard!$B$20",
        formula="=SOP_ABSORBED_PAYROLL(agg_labour[#All],{period},cfg_labour_rate)",
        workbook_label="Over/under-absorbed payroll",
        basis="(standard hours earned − hours worked) × labour rate (Config); positive = "
              "over-absorbed",
        options_note=lambda o: ("needs --labour-rate" if o.labour_rate is None
                                else f"at {o.labour_rate:,.2f} per hour"),
    ),
]

#: Every KPI by key, in the order `sop kpis` prints them.
KPIS: dict[str, Kpi] = {k.key: k for k in _ENTRIES}


def options_notes(options: KpiOptions) -> dict[str, str]:
    """The basis column of ``sop kpis``: for each KPI whose figure depends on the options (or
    that needs a note), what was in force — key → text."""
    return {key: entry.options_note(options) for key, entry in KPIS.items()
            if entry.options_note is not None}


def workbook_row(key: str) -> dict[str, str]:
    """What the template writes on a KPI's Scorecard row besides its targets: label,
    formula, format and definition (``xl/scorecard.toml`` holds the targets and owner)."""
    k = KPIS[key]
    if k.formula is None:
        raise KeyError(f"{key!r} has no cell in the workbook")
    return {"label": k.workbook_label or k.label, "formula": k.formula, "format": k.format,
            "basis": k.basis or ""}
