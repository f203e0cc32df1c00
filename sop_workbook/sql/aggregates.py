"""``load_aggregates``: validate a source and compute every table *Refresh* writes, in SQL.

Only aggregates (and the small master tables) travel from the database to Python; raw
transactions never do. The result equals, table by table, what the in-memory path builds
from the same source (:func:`sop_workbook.sql.reference.in_memory_tables`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..errors import SourceValidationError
from ..scorecard import KpiOptions
from . import finance, operations, sales
from .sources import Source, open_source
from .validation import stage_and_validate

#: The master tables *Refresh* writes, with their contract columns.
MASTER_TABLES = ("items", "customers", "locations", "vendors", "gl_accounts", "posting_setup")


@dataclass
class AggregateData:
    """Tables by Excel table name, and the warnings of loading the source."""

    tables: dict[str, pd.DataFrame]
    warnings: list[str] = field(default_factory=list)
    source: str = ""


def validate(source: str) -> tuple[list, list[str]]:
    """Check ``source`` against the contract in SQL; return (problems, warnings)."""
    with open_source(source) as src:
        result = stage_and_validate(src)
        return result.problems, list(src.warnings)


def load_aggregates(source: str, options: KpiOptions | None = None,
                    gl_income_sign: str = "positive") -> AggregateData:
    """Validate ``source`` (a folder or a database URL, see :func:`open_source`) in SQL and
    compute in SQL every table *Refresh* writes: the master tables, the KPI aggregates
    (``agg_sales``, ``agg_customer``, ``agg_vendor``, ``agg_production``, ``agg_funnel``),
    the planning inputs (``agg_pipeline``, ``agg_supply_open``, ``agg_item_mix``,
    ``routings``, ``capacity``) and the finance tables (``fin_budget_variance``,
    ``fin_budget_detail``, ``fin_unmapped``).

    Raises :class:`~sop_workbook.errors.SourceValidationError` listing every problem if
    the source fails the contract (nothing is computed then).
    """
    options = options or KpiOptions()
    finance.check_sign(gl_income_sign)
    with open_source(source) as src:
        result = stage_and_validate(src)
        if result.problems:
            raise SourceValidationError(result.problems, str(source))
        tables = compute_tables(src, options, gl_income_sign)
        warnings = list(src.warnings) + finance.sign_warning(src, gl_income_sign)
    return AggregateData(tables, warnings, str(source))


def compute_tables(src: Source, options: KpiOptions,
                   gl_income_sign: str) -> dict[str, pd.DataFrame]:
    """Every table from a staged, valid source."""
    tables: dict[str, pd.DataFrame] = {
        name: operations.copy_table(src, name, order_by_key=False) for name in MASTER_TABLES}
    if src.dialect.name == "duckdb":  # staged in file order; the rest needs no order
        src.execute("SET preserve_insertion_order = false")
    sales.prepare(src, options)
    tables["agg_sales"] = sales.agg_sales(src)
    tables["agg_customer"] = sales.agg_customer(src)
    tables["agg_vendor"] = operations.agg_vendor(src, options)
    tables["agg_production"] = operations.agg_production(src)
    tables["agg_funnel"] = operations.agg_funnel(src)
    tables["agg_pipeline"] = operations.agg_pipeline(src)
    tables["agg_supply_open"] = operations.agg_supply_open(src)
    tables["agg_item_mix"] = sales.agg_item_mix(src)
    tables["routings"] = operations.copy_table(src, "routings")
    tables["capacity"] = operations.copy_table(src, "capacity")
    finance.prepare(src)
    tables["fin_budget_variance"] = finance.fin_budget_variance(src, gl_income_sign)
    tables["fin_budget_detail"] = finance.fin_budget_detail(src)
    tables["fin_unmapped"] = finance.fin_unmapped(src)
    return tables
