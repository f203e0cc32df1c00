"""The functions the workbook's KPI cells call, as plain Python.

Each takes an aggregate table of the workbook (the whole table with its header, e.g.
``agg_sales[#All]``), a period ``YYYY-MM`` and optionally a dimension and member, and
calls :mod:`sop_workbook.kpi.ratios` — nothing else. In Excel::

    =SOP_FILL_RATE(agg_sales[#All], kpi_period)
    =SOP_FILL_RATE(agg_sales[#All], kpi_period, "category", "CHAIRS", "unit")

The Excel glue (:mod:`udfs`) declares every one of them to Excel as an xlwings UDF of the
same name; the headless recalculation (:mod:`sop_workbook.workbook.recalc`) calls them
directly. A figure with no value returns :data:`NO_VALUE`, which the VBA wrapper turns
into ``#N/A``; a wrong argument returns a short text naming the argument and the reason.
Parsed tables are cached by content (:mod:`.cell_tables`), so unchanged tables are not
re-parsed per call.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from functools import wraps

import pandas as pd

from ..errors import SopError
from ..frames import excel_text
from ..periods import parse_period
from . import ratios as agg
from .cell_tables import as_table
from .registry import KPIS

NO_VALUE = "#N/A"  # reaches Excel as text: xlwings returns no error values (README)


_ARG_DOCS: dict[str, dict[str, str]] = {}  # function name → argument → description
#: Function name → argument → xlwings conversion options (``{"convert": "range"}`` for
#: tables), which the Excel glue hands to ``xw.arg``
ARG_OPTIONS: dict[str, dict[str, dict]] = {}


def _arg(name: str, *args, **kwargs):
    """Record an argument's description and conversion options (the arguments of
    ``xw.arg``, which :mod:`udfs` applies): xlwings registers descriptions with Excel
    (``Application.MacroOptions``) when *Import Functions* runs; the template registers
    them itself when it opens (:func:`function_help`)."""

    def deco(fn):
        _ARG_DOCS.setdefault(fn.__name__, {})[name] = kwargs.get("doc", "")
        options = {k: v for k, v in kwargs.items() if k != "doc"}
        if args:
            options["convert"] = args[0]
        ARG_OPTIONS.setdefault(fn.__name__, {})[name] = options
        return fn

    return deco


def _period(value) -> str:
    text = excel_text(value).strip()
    try:
        parse_period(text)
    except SopError:
        raise SopError(f"period: {text!r} is not YYYY-MM") from None
    return text


def _udf(fn: Callable) -> Callable:
    """Common behaviour: argument checks, no value → #N/A, errors → short text."""

    @wraps(fn)
    def wrapper(*args):
        try:
            result = fn(*args)
        except SopError as exc:
            return f"#SOP! {exc.summary}"
        if result is None or (isinstance(result, float) and not math.isfinite(result)):
            return NO_VALUE
        return result

    return wrapper


def _cut(dimension, member) -> tuple[str | None, str | None]:
    dim = excel_text(dimension).strip() or None
    return dim, (excel_text(member).strip() if dim else None)


DATA_DOC = "The aggregate table with its header, e.g. agg_sales[#All]"
PERIOD_DOC = "Period YYYY-MM, e.g. kpi_period (the last closed period)"
DIM_DOC = "Optional: item, category, location, customer, salesperson, vendor or work_center"
MEMBER_DOC = "Optional: the value of the dimension, e.g. an item number"


def _kpi_udf(name: str, fn: Callable, doc: str) -> Callable:
    @_udf
    def udf(data, period, dimension=None, member=None):
        dim, mem = _cut(dimension, member)
        return fn(as_table(data), _period(period), dim, mem)

    udf.__name__ = udf.__qualname__ = name
    udf.__doc__ = doc
    udf = _arg("data", "range", doc=DATA_DOC)(udf)
    udf = _arg("period", doc=PERIOD_DOC)(udf)
    udf = _arg("dimension", doc=DIM_DOC)(udf)
    udf = _arg("member", doc=MEMBER_DOC)(udf)
    return udf


def _registered_udf(key: str) -> Callable:
    """The single-cut UDF of a KPI registry entry (:mod:`sop_workbook.kpi.registry`): its
    name, its ratio over the aggregate table and its help text."""
    entry = KPIS[key]
    return _kpi_udf(entry.udf, entry.ratio, entry.udf_doc)


SOP_SALES_OTD = _registered_udf("sales_otd")
SOP_VENDOR_OTD = _registered_udf("vendor_otd")
SOP_SCHEDULE_ATTAINMENT = _registered_udf("schedule_attainment")
SOP_DAYS_OF_SUPPLY = _registered_udf("days_of_supply")
SOP_FORECAST_ACCURACY = _registered_udf("forecast_accuracy")
SOP_FORECAST_BIAS = _registered_udf("forecast_bias")
SOP_CLOSE_RATIO = _registered_udf("close_ratio")
SOP_COMMIT_VS_CLOSED = _registered_udf("commit_vs_closed")


@_arg("data", "range", doc=DATA_DOC)
@_arg("period", doc=PERIOD_DOC)
@_arg("dimension", doc=DIM_DOC)
@_arg("member", doc=MEMBER_DOC)
@_arg("level", doc="Optional: line (default) or unit")
@_udf
def SOP_FILL_RATE(data, period, dimension=None, member=None, level=None):
    """Fill rate (on time, in full) of the sales lines due in the period: line level =
    lines filled ÷ lines due; unit level = quantity shipped on time ÷ quantity due."""
    dim, mem = _cut(dimension, member)
    level = (excel_text(level).strip().lower() or "line")
    if level not in ("line", "unit"):
        raise SopError(f"level: {level!r} must be line or unit")
    return agg.fill_rate(as_table(data), _period(period), dim, mem, level=level)


@_arg("data", "range", doc=DATA_DOC)
@_arg("period", doc=PERIOD_DOC)
@_arg("dimension", doc=DIM_DOC)
@_arg("member", doc=MEMBER_DOC)
@_arg("months", doc="Optional: months in the window ending at the period (default 1)")
@_udf
def SOP_INVENTORY_TURNS(data, period, dimension=None, member=None, months=None):
    """Inventory turns: COGS of the window × 12 / months ÷ mean of the period-end inventory
    values including the opening one. Table: agg_sales."""
    dim, mem = _cut(dimension, member)
    n = _whole(months, "months", default=1)
    return agg.inventory_turns(as_table(data), _period(period), dim, mem, months=n)


@_arg("data", "range", doc=DATA_DOC)
@_arg("period", doc=PERIOD_DOC)
@_arg("dimension", doc=DIM_DOC)
@_arg("member", doc=MEMBER_DOC)
@_arg("periods", doc="Optional: periods in the window ending at the period (default 6)")
@_udf
def SOP_TRACKING_SIGNAL(data, period, dimension=None, member=None, periods=None):
    """Tracking signal: Σ(A − F) ÷ MAD over the last n periods; beyond ±4 the forecast is
    biased. Table: agg_sales."""
    dim, mem = _cut(dimension, member)
    n = _whole(periods, "periods", default=6)
    return agg.tracking_signal(as_table(data), _period(period), dim, mem, periods=n)


SOP_LEAD_TIME_ADHERENCE = _registered_udf("lead_time_adherence")
SOP_LABOUR_ABSORPTION = _registered_udf("labour_absorption")


def _rate(value) -> float:
    try:
        rate = float(value)
    except (TypeError, ValueError):
        raise SopError(f"labour_rate: {value!r} is not a number") from None
    if not math.isfinite(rate) or rate < 0:
        raise SopError("labour_rate: must be a number ≥ 0")
    return rate


@_arg("data", "range", doc="The labour aggregate with its header: agg_labour[#All]")
@_arg("period", doc=PERIOD_DOC)
@_arg("labour_rate", doc="Labour rate per hour, e.g. cfg_labour_rate")
@_arg("dimension", doc="Optional: work_center")
@_arg("member", doc="Optional: the work center")
@_udf
def SOP_ABSORBED_PAYROLL(data, period, labour_rate, dimension=None, member=None):
    """Over/under-absorbed payroll: (standard hours earned − hours worked) × labour rate;
    positive = over-absorbed."""
    dim, mem = _cut(dimension, member)
    return agg.absorbed_payroll(as_table(data), _period(period), _rate(labour_rate), dim, mem)


@_arg("data", "range", doc="The labour aggregate with its header: agg_labour[#All]")
@_arg("period", doc=PERIOD_DOC)
@_arg("labour_rate", doc="Labour rate per hour, e.g. cfg_labour_rate")
@_udf
def SOP_LABOUR_BY_WORK_CENTER(data, period, labour_rate):
    """Labour absorption by work center (spills): earned and worked hours, absorption and
    over/under-absorbed payroll of the period, with a header row."""
    return _spill(agg.labour_by_work_center(as_table(data), _period(period),
                                            _rate(labour_rate)))


def _whole(value, name: str, default: int) -> int:
    if value is None or excel_text(value).strip() == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SopError(f"{name}: {value!r} is not a number") from None
    if number < 1 or not number.is_integer():
        raise SopError(f"{name}: must be a whole number ≥ 1")
    return int(number)


@_arg("data", "range",
      doc="The variance table with its header: fin_budget_variance[#All]")
@_arg("gl_account", doc="GL account number, e.g. 6110")
@_arg("period", doc=PERIOD_DOC)
@_arg("measure", doc="Optional: variance (default), variance_pct, sales_budget or "
        "financial_budget")
@_udf
def SOP_BUDGET_VARIANCE(data, gl_account, period, measure=None):
    """Sales budget (mapped to GL) vs financial budget for one GL account and period:
    variance = sales budget − financial budget; variance_pct = variance ÷ |financial|."""
    account = excel_text(gl_account).strip()
    if not account:
        return None
    measure = excel_text(measure).strip().lower() or "variance"
    return agg.budget_variance(as_table(data), account, _period(period), measure)


@_arg("data", "range",
      doc="The mapped budget lines with their header: fin_budget_detail[#All]")
@_arg("gl_account", doc="GL account number, e.g. 6110")
@_arg("period", doc=PERIOD_DOC)
@_udf
def SOP_VARIANCE_DETAIL(data, gl_account, period):
    """Drill-down (spills): the customers, items and locations whose sales budget is mapped
    to the GL account in the period, largest amount first, with a header row."""
    account = excel_text(gl_account).strip()
    detail = agg.variance_detail(as_table(data), account, _period(period)) if account else \
        pd.DataFrame(columns=["customer_no", "item_no", "location_code", "amount"])
    return _spill(detail)


@_arg("data", "range", doc=DATA_DOC)
@_arg("kpi", doc="KPI name, e.g. fill_rate, sales_otd, forecast_accuracy")
@_arg("period", doc=PERIOD_DOC)
@_arg("dimension", doc="item, category, location, customer, salesperson, vendor or "
        "work_center")
@_udf
def SOP_KPI_BY(data, kpi, period, dimension):
    """A KPI for every member of a dimension (spills two columns: member, value; #N/A where
    a member has no value), with a header row."""
    frame = agg.kpi_by(as_table(data), excel_text(kpi).strip().lower(), _period(period),
                       excel_text(dimension).strip().lower())
    return _spill(frame)


@_arg("data", "range", doc="The vendor aggregate with its header: agg_vendor[#All]")
@_arg("period", doc=PERIOD_DOC)
@_udf
def SOP_VENDOR_WATCH(data, period):
    """Supplier watch list (spills): per vendor, receipt lines and vendor OTD over the last
    3 and 6 months ending at the period (Σ on-time receipt lines ÷ Σ receipt lines), worst
    3-month OTD first, with a header row."""
    return _spill(agg.vendor_watch(as_table(data), _period(period)))


def _spill(frame: pd.DataFrame) -> list[list]:
    """A DataFrame as the 2-D array Excel spills: header row, then rows; no value → #N/A."""
    rows = [list(frame.columns)]
    for rec in frame.itertuples(index=False):
        rows.append([NO_VALUE if v is None or (isinstance(v, float) and not math.isfinite(v))
                     else v for v in rec])
    return rows


#: Every function a workbook cell may call, by name, sorted (the Excel glue declares each
#: one to Excel as a UDF; the template generates VBA wrappers for these).
CELL_FUNCTIONS: dict[str, Callable] = {
    name: obj for name, obj in sorted(globals().items())
    if name.startswith("SOP_") and callable(obj)
}


def function_help() -> list[tuple[str, str, list[str]]]:
    """(name, description, one description per argument) of every UDF: what Excel's
    *Insert Function* dialog shows — the docstring and the ``doc`` of each argument, at most
    255 characters each (Excel's limit; xlwings cuts them the same way)."""
    out = []
    for name, fn in CELL_FUNCTIONS.items():
        docs = _ARG_DOCS.get(name, {})
        params = inspect.signature(fn).parameters
        out.append((name, " ".join((fn.__doc__ or "").split())[:255],
                    [" ".join(docs.get(p, "").split())[:255] for p in params]))
    return out
