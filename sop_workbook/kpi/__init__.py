"""The KPI engine: pure functions over :class:`~sop_workbook.kpi.facts.Facts`.

Each KPI takes the facts, a period ``YYYY-MM`` and keyword options, and returns a figure
for the whole period or, with ``by=<dimension>``, a DataFrame with one row per value of
that dimension. Formulas are stated in each function's docstring and follow the KPI
definitions in ``docs/kpis.md``. Every KPI's pieces — engine function, aggregate
columns and SQL, ratio, UDF, Scorecard cell — are named in one entry of
:mod:`sop_workbook.kpi.registry`.
"""

from .cuts import DimensionNotApplicable, Ratio
from .delivery import FILL_BASES, FILL_LEVELS, fill_rate, sales_otd
from .facts import DIMENSIONS, Facts, build_facts
from .finance import GlMapping, budget_variance, map_sales_budget_to_gl, variance_detail
from .forecast import (
    TRACKING_SIGNAL_LIMIT,
    ForecastError,
    accuracy_at_lag,
    forecast_error,
    forecast_value_added,
    tracking_signal,
)
from .inventory import days_of_supply, inventory_turns
from .sales import CommitVsClosed, close_ratio, commit_vs_closed
from .supply import schedule_attainment, vendor_otd

__all__ = [
    "DIMENSIONS",
    "FILL_BASES",
    "FILL_LEVELS",
    "TRACKING_SIGNAL_LIMIT",
    "CommitVsClosed",
    "DimensionNotApplicable",
    "Facts",
    "ForecastError",
    "GlMapping",
    "Ratio",
    "accuracy_at_lag",
    "budget_variance",
    "build_facts",
    "close_ratio",
    "commit_vs_closed",
    "days_of_supply",
    "fill_rate",
    "forecast_error",
    "forecast_value_added",
    "inventory_turns",
    "map_sales_budget_to_gl",
    "sales_otd",
    "schedule_attainment",
    "tracking_signal",
    "variance_detail",
    "vendor_otd",
]
