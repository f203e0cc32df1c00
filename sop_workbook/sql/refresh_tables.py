"""``load_aggregates``: validate a source and compute every table *Refresh* writes, in SQL.

Only aggregates (and the small master tables) travel from the database to Python; raw
transactions never do. The result equals, table by table, what the in-memory path builds
from the same source (:func:`sop_workbook.sql.reference.in_memory_tables`).

Staging, checks and computations are tasks (:class:`~.sources.Task`) that a folder or
DuckDB source runs two at a time (:meth:`~.sources.DuckDBSource.run_tasks`); a database
reached by URL runs them one after the other, all checks first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import pandas as pd

from ..errors import SourceValidationError
from ..kpi.options import KpiOptions
from . import finance, operations, sales
from .failures import engine_errors
from .opening import open_source
from .sources import Source, Task, shown_source
from .validation import Validation, stage_and_validate

#: The master tables *Refresh* writes, with their contract columns.
MASTER_TABLES = ("items", "customers", "locations", "vendors", "gl_accounts", "posting_setup")
#: Every table :func:`load_aggregates` returns, in order.
RESULT_ORDER = (*MASTER_TABLES, "agg_sales", "agg_customer", "agg_vendor", "agg_production",
                "agg_funnel", "agg_pipeline", "agg_supply_open", "agg_item_mix", "routings",
                "capacity", "fin_budget_variance", "fin_budget_detail", "fin_unmapped",
                "agg_lead_time", "agg_labour")


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
    ``routings``, ``capacity``), the finance tables (``fin_budget_variance``,
    ``fin_budget_detail``, ``fin_unmapped``) and the performance-against-standards tables
    (``agg_lead_time``, ``agg_labour``).

    Raises :class:`~sop_workbook.errors.SourceValidationError` listing every problem if
    the source fails the contract (no table is returned then).
    """
    options = options or KpiOptions()
    finance.check_sign(gl_income_sign)
    with open_source(source) as src, engine_errors(src.name):
        if src.parallel and not src.problems:
            # tables are computed as soon as the tables they read are staged without a
            # problem, while the rest is still being staged and checked (if a problem
            # turns up, what was computed is dropped and the problems are raised)
            checks = Validation(src, first=sales.PREPARED_FROM, known={
                ("sales_shipments", "sales_lines"): (
                    "compute:prepare", partial(sales.shipments_all_known, src))}, values={
                "sales_lines": ("compute:prepare",
                                partial(sales.gathered_values, src, "sales_lines")),
                "sales_invoices": ("compute:invoice_sums",
                                   partial(sales.gathered_values, src, "sales_invoices"))})
            computing = compute_tasks(src, options, gl_income_sign, checks)
            done = src.run_tasks(_by_priority(checks.tasks, computing))
            result = checks.result(done)
            if not result.problems:
                tables = _tables(computing, done)
        else:
            result = stage_and_validate(src)
            if not result.problems:
                tables = compute_tables(src, options, gl_income_sign)
        if result.problems:
            raise SourceValidationError(result.problems, shown_source(source))
        warnings = list(src.warnings) + finance.sign_warning(src, gl_income_sign)
    return AggregateData(tables, warnings, str(source))


def compute_tables(src: Source, options: KpiOptions,
                   gl_income_sign: str) -> dict[str, pd.DataFrame]:
    """Every table from a staged, valid source, in the order *Refresh* lists them."""
    computing = compute_tasks(src, options, gl_income_sign)
    return _tables(computing, src.run_tasks(computing))


def _tables(computing: list[Task], done: dict[str, object]) -> dict[str, pd.DataFrame]:
    found = {name: table for task in computing for name, table in done[task.name].items()}
    return {name: found[name] for name in RESULT_ORDER}


def _by_priority(checking: list[Task], computing: list[Task]) -> list[Task]:
    """Checks and computations in one list for :meth:`DuckDBSource.run_tasks`, whose
    first worker takes the first task it can start, the second worker the last one. First
    the large tables (staged by the first worker, sales lines and shipments first), then
    agg_sales (which waits for every table), the other checks and tables; last
    agg_customer and ``sales.prepare``, which the second worker takes as soon as it can:
    ``prepare`` once the sales lines and shipments are staged (while the first worker
    stages the other large tables), agg_customer once every table is (while the first
    computes agg_sales); the release of the staged sales lines and shipments comes first
    for it (a memory saving is worth most before the large aggregates run)."""
    rest = {task.name: task for task in computing}
    prepare, invoices, sales_table, customer_table, release = (
        rest.pop(f"compute:{name}") for name in ("prepare", "invoice_sums", "agg_sales",
                                                 "agg_customer", "release"))
    return [*(task for task in checking if task.solo), invoices, sales_table,
            *(task for task in checking if not task.solo), *rest.values(), customer_table,
            prepare, release]


def compute_tasks(src: Source, options: KpiOptions, gl_income_sign: str,
                  checks: Validation | None = None) -> list[Task]:
    """Tasks (:meth:`Source.run_tasks`) computing every table from a staged, valid source,
    each returning {table name: frame}; the costliest first.

    With ``checks`` (still running: the same :meth:`Source.run_tasks` call) the tasks
    start once the tables they read are staged (``sales.prepare`` once the sales lines and
    shipments are, the others once every table is) and compute only if these have no
    problem; the staged sales lines and shipments are released once their references are
    checked too.
    """
    names = [task.name for task in checks.tasks] if checks else []
    stages = checks.checked() if checks else ()
    refs = tuple(f"refs:{table}" for table in sales.PREPARED_FROM if f"refs:{table}" in names)

    def computed(compute: Callable[[], dict[str, pd.DataFrame]],
                 reads: tuple[str, ...] | None = None):
        def run() -> dict[str, pd.DataFrame]:
            if checks is not None and not checks.passed(reads):
                return {}
            return compute()
        return run

    def one(name: str, compute) -> Callable[[], dict[str, pd.DataFrame]]:
        return computed(lambda: {name: compute()})

    def finance_tables() -> dict[str, pd.DataFrame]:
        finance.prepare(src)
        return {"fin_budget_variance": finance.fin_budget_variance(src, gl_income_sign),
                "fin_budget_detail": finance.fin_budget_detail(src),
                "fin_unmapped": finance.fin_unmapped(src)}

    prepared = ("compute:prepare", "compute:invoice_sums", *stages)
    tasks = [
        Task("compute:prepare",
             computed(lambda: sales.prepare(src, options) or {}, sales.PREPARED_FROM),
             needs=checks.checked(sales.PREPARED_FROM) if checks else ()),
        Task("compute:invoice_sums", computed(lambda: sales.prepare_invoices(src) or {}),
             needs=stages),
        Task("compute:agg_sales", one("agg_sales", partial(sales.agg_sales, src)),
             needs=prepared),
        Task("compute:agg_customer", one("agg_customer", partial(sales.agg_customer, src)),
             needs=prepared),
        # the staged sales lines and shipments are read by nothing else (but agg_lead_time)
        Task("compute:release", lambda: sales.release(src) or {},
             needs=("compute:prepare", "compute:agg_lead_time", *refs)),
        Task("compute:agg_lead_time", one("agg_lead_time",
                                          partial(operations.agg_lead_time, src)),
             needs=stages),
        Task("compute:agg_labour", one("agg_labour", partial(operations.agg_labour, src)),
             needs=stages),
        Task("compute:agg_item_mix", one("agg_item_mix", partial(sales.agg_item_mix, src)),
             needs=stages),
        Task("compute:finance", computed(finance_tables), needs=stages),
        *(Task(f"compute:{name}", one(name, compute), needs=stages) for name, compute in [
            ("agg_vendor", partial(operations.agg_vendor, src, options)),
            ("agg_production", partial(operations.agg_production, src)),
            ("agg_funnel", partial(operations.agg_funnel, src)),
            ("agg_pipeline", partial(operations.agg_pipeline, src)),
            ("agg_supply_open", partial(operations.agg_supply_open, src)),
            ("routings", partial(operations.copy_table, src, "routings")),
            ("capacity", partial(operations.copy_table, src, "capacity")),
            *((name, partial(operations.copy_table, src, name, order_by_key=False))
              for name in MASTER_TABLES)]),
    ]
    return tasks
