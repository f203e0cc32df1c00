"""xlwings UDFs: the KPI functions that Excel cells call.

The functions themselves are plain Python in :mod:`sop_workbook.kpi.cell_functions` (the
headless recalculation calls them there); this module only declares each one to Excel as
an xlwings UDF of the same name — ``xw.arg`` for every argument (its description, and
``"range"`` for a table, so that a table crosses into Python only when a UDF asks) and
``xw.func`` in the category ``S&OP``. In Excel::

    =SOP_FILL_RATE(agg_sales[#All], kpi_period)
    =SOP_FILL_RATE(agg_sales[#All], kpi_period, "category", "CHAIRS", "unit")

A figure with no value returns :data:`NO_VALUE`, which the VBA wrapper turns into
``#N/A``; a wrong argument returns a short text naming the argument and the reason.
"""

from __future__ import annotations

from collections.abc import Callable

import xlwings as xw

from sop_workbook.kpi.cell_functions import (
    _ARG_DOCS,
    ARG_OPTIONS,
    CELL_FUNCTIONS,
    NO_VALUE,
    SOP_ABSORBED_PAYROLL,
    SOP_BUDGET_VARIANCE,
    SOP_CLOSE_RATIO,
    SOP_COMMIT_VS_CLOSED,
    SOP_DAYS_OF_SUPPLY,
    SOP_FILL_RATE,
    SOP_FORECAST_ACCURACY,
    SOP_FORECAST_BIAS,
    SOP_INVENTORY_TURNS,
    SOP_KPI_BY,
    SOP_LABOUR_ABSORPTION,
    SOP_LABOUR_BY_WORK_CENTER,
    SOP_LEAD_TIME_ADHERENCE,
    SOP_SALES_OTD,
    SOP_SCHEDULE_ATTAINMENT,
    SOP_TRACKING_SIGNAL,
    SOP_VARIANCE_DETAIL,
    SOP_VENDOR_OTD,
    SOP_VENDOR_WATCH,
    function_help,
)
from sop_workbook.kpi.cell_tables import clear_table_cache

__all__ = [  # the UDFs, then what the template builder and the tests read
    "ARG_OPTIONS",
    "NO_VALUE",
    "SOP_ABSORBED_PAYROLL",
    "SOP_BUDGET_VARIANCE",
    "SOP_CLOSE_RATIO",
    "SOP_COMMIT_VS_CLOSED",
    "SOP_DAYS_OF_SUPPLY",
    "SOP_FILL_RATE",
    "SOP_FORECAST_ACCURACY",
    "SOP_FORECAST_BIAS",
    "SOP_INVENTORY_TURNS",
    "SOP_KPI_BY",
    "SOP_LABOUR_ABSORPTION",
    "SOP_LABOUR_BY_WORK_CENTER",
    "SOP_LEAD_TIME_ADHERENCE",
    "SOP_SALES_OTD",
    "SOP_SCHEDULE_ATTAINMENT",
    "SOP_TRACKING_SIGNAL",
    "SOP_VARIANCE_DETAIL",
    "SOP_VENDOR_OTD",
    "SOP_VENDOR_WATCH",
    "UDFS",
    "clear_table_cache",
    "function_help",
]


def _declared(name: str, fn: Callable) -> Callable:
    """``fn`` declared to Excel: ``xw.arg`` for each argument with its description and
    conversion options, then ``xw.func`` (both mark the function itself and return it)."""
    docs = _ARG_DOCS.get(name, {})
    for arg, options in ARG_OPTIONS.get(name, {}).items():
        xw.arg(arg, doc=docs.get(arg, ""), **options)(fn)
    return xw.func(category="S&OP")(fn)


for _name, _fn in CELL_FUNCTIONS.items():
    _declared(_name, _fn)
del _name, _fn  # not a second module attribute for the last UDF (xlwings would wrap it twice)

#: Every UDF the workbook may call, by name (the template generates VBA wrappers for these):
#: the cell functions' own table, so that the headless recalculation calls what is listed
#: here. Each is also an attribute of this module under its name (imported above): xlwings
#: finds the UDFs of a module by its attributes (a test checks none is missing).
UDFS: dict[str, Callable] = CELL_FUNCTIONS
