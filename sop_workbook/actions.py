"""The ribbon actions, once, behind both adapters (live Excel and headless).

Each action takes a workbook adapter (:class:`~sop_workbook.workbook.headless.
HeadlessWorkbook` or the xlwings one) and works through its small interface: read and
write Excel tables by name, read and write named cells, recalculate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .aggregates import build_aggregates
from .contract import TABLES
from .kpi import budget_variance, build_facts, map_sales_budget_to_gl
from .loader import load_source
from .scorecard import KpiOptions

MASTER_TABLES = ("items", "customers", "locations", "vendors", "gl_accounts", "posting_setup")


@dataclass
class RefreshReport:
    source: str
    rows: dict[str, int]
    udf_cells: int
    warnings: list[str]


def _int(value, default: int) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


def options_from_config(book) -> KpiOptions:
    """The KPI options set on the Config sheet (names cfg_*)."""
    early = book.get_value("cfg_days_early")
    basis = str(book.get_value("cfg_fill_basis") or "promised").strip().lower()
    return KpiOptions(
        tolerance_days=_int(book.get_value("cfg_tolerance_days"), 0),
        fill_basis=basis if basis in ("promised", "requested") else "promised",
        days_early=None if early in (None, "") else _int(early, 0),
        days_late=_int(book.get_value("cfg_days_late"), 0),
    )


def refresh(book, source: str, *, now: dt.datetime | None = None) -> RefreshReport:
    """Load and validate ``source``, write the data and aggregate tables, recompute every
    KPI cell, stamp time and source. Planner inputs (overrides, comments, actions,
    targets) live in other tables and are not touched. If the source is invalid the
    loader raises before anything in the workbook changes."""
    sign = str(book.get_value("cfg_gl_income_sign") or "positive").strip().lower()
    data = load_source(source, gl_income_sign=sign if sign in ("positive", "negative")
                       else "positive")
    options = options_from_config(book)
    facts = build_facts(data)
    tables = {name: data[name][list(TABLES[name].columns)] for name in MASTER_TABLES}
    tables.update(build_aggregates(facts, options))
    mapping = map_sales_budget_to_gl(data)
    tables["fin_budget_variance"] = budget_variance(data, mapping)
    tables["fin_unmapped"] = mapping.unmapped[["period", "customer_no", "item_no",
                                               "gen_bus_posting_group",
                                               "gen_prod_posting_group", "amount"]]
    rows = {}
    for name, frame in tables.items():
        book.write_table(name, frame)
        rows[name] = len(frame)
    stamp = (now or dt.datetime.now()).strftime("%Y-%m-%d %H:%M")
    book.set_value("cfg_data_source", str(source))
    book.set_value("cfg_last_refresh", f"{stamp} from {source}")
    udf_cells = book.recalculate()
    return RefreshReport(str(source), rows, udf_cells, list(data.warnings))
