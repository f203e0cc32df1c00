"""``load_aggregates``: validate a source and compute every table *Refresh* writes, in SQL.

Only aggregates (and the small master tables) travel from the database to Python; raw
transactions never do. The result equals, table by table, what the in-memory path builds
from the same source (:func:`sop_workbook.sql.reference.in_memory_tables`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import pandas as pd

from ..errors import SourceValidationError
from ..scorecard import KpiOptions
from . import finance, operations, sales
from .sources import Source, open_source
from .validation import stage_and_validate

#: The master tables *Refresh* writes, with their contract columns.
MASTER_TABLES = ("items", "customers", "locations", "vendors", "gl_accounts", "posting_setup")
#: Every table :func:`load_aggregates` returns, in order.
TABLE_ORDER = (*MASTER_TABLES, "agg_sales", "agg_customer", "agg_vendor", "agg_production",
               "agg_funnel", "agg_pipeline", "agg_supply_open", "agg_item_mix", "routings",
               "capacity", "fin_budget_variance", "fin_budget_detail", "fin_unmapped")


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
    """Every table from a staged, valid source (independent groups of tables computed by
    :meth:`Source.run_all`, the costliest first), in the order *Refresh* lists them."""
    masters = {name: partial(operations.copy_table, src, name, order_by_key=False)
               for name in MASTER_TABLES}
    if src.dialect.name == "duckdb":  # staged in file order; the rest needs no order
        src.execute("SET preserve_insertion_order = false")

    # agg_sales and agg_customer both read the relations sales.prepare materialises:
    # agg_customer waits for them (it is the second task, which the other worker takes
    # last: by then they are there), so that the two can run at the same time
    prepared = threading.Event()
    failed: list[BaseException] = []

    def sales_tables() -> dict[str, pd.DataFrame]:
        try:
            sales.prepare(src, options)
        except BaseException as exc:
            failed.append(exc)
            raise
        finally:
            prepared.set()
        return {"agg_sales": sales.agg_sales(src)}

    def customer_table() -> dict[str, pd.DataFrame]:
        prepared.wait()
        if failed:  # the error is raised by sales_tables
            return {}
        return {"agg_customer": sales.agg_customer(src)}

    def finance_tables() -> dict[str, pd.DataFrame]:
        finance.prepare(src)
        return {"fin_budget_variance": finance.fin_budget_variance(src, gl_income_sign),
                "fin_budget_detail": finance.fin_budget_detail(src),
                "fin_unmapped": finance.fin_unmapped(src)}

    def one(name: str, compute) -> Callable[[], dict[str, pd.DataFrame]]:
        return lambda: {name: compute()}

    groups = [
        sales_tables,
        customer_table,
        one("agg_item_mix", partial(sales.agg_item_mix, src)),
        finance_tables,
        one("agg_vendor", partial(operations.agg_vendor, src, options)),
        one("agg_production", partial(operations.agg_production, src)),
        one("agg_funnel", partial(operations.agg_funnel, src)),
        one("agg_pipeline", partial(operations.agg_pipeline, src)),
        one("agg_supply_open", partial(operations.agg_supply_open, src)),
        one("routings", partial(operations.copy_table, src, "routings")),
        one("capacity", partial(operations.copy_table, src, "capacity")),
        *(one(name, compute) for name, compute in masters.items()),
    ]
    found: dict[str, pd.DataFrame] = {}
    for tables in src.run_all(groups, solo=1):
        found.update(tables)
    return {name: found[name] for name in TABLE_ORDER}
