"""xlwings UDFs: the KPI functions that Excel cells call.

Each UDF takes an aggregate table of the workbook (pass the whole table with its header,
e.g. ``agg_sales[#All]``), a period ``YYYY-MM`` and optionally a dimension and member,
and calls :mod:`sop_workbook.kpi.aggregated` — nothing else. In Excel::

    =SOP_FILL_RATE(agg_sales[#All], kpi_period)
    =SOP_FILL_RATE(agg_sales[#All], kpi_period, "category", "CHAIRS", "unit")

A figure with no value returns :data:`NO_VALUE`, which the VBA wrapper turns into
``#N/A``; a wrong argument returns a short text naming the argument and the reason.
Parsed tables are cached by content, so unchanged tables are not re-parsed per call.
"""

from __future__ import annotations

import hashlib
import inspect
import math
from collections import OrderedDict
from collections.abc import Callable
from functools import wraps

import numpy as np
import pandas as pd
import xlwings as xw
from pandas.api.types import infer_dtype

from sop_workbook.errors import SopError
from sop_workbook.kpi import aggregated as agg
from sop_workbook.kpi.registry import KPIS
from sop_workbook.periods import parse_period

NO_VALUE = "#N/A"  # reaches Excel as text: xlwings returns no error values (README)
_CACHE: OrderedDict[object, pd.DataFrame] = OrderedDict()
_CACHE_SIZE = 16
_BY_IDENTITY: OrderedDict[int, tuple[object, pd.DataFrame]] = OrderedDict()
_FLOAT = np.dtype(np.float64)


_ARG_DOCS: dict[str, dict[str, str]] = {}  # UDF name → argument → description
#: UDF name → argument → xlwings conversion options (``{"convert": "range"}`` for tables)
ARG_OPTIONS: dict[str, dict[str, dict]] = {}


def _arg(name: str, *args, **kwargs):
    """``xw.arg``, keeping the argument's description for the template too: xlwings
    registers descriptions with Excel (``Application.MacroOptions``) when *Import Functions*
    runs; the template registers them itself when it opens (:func:`function_help`)."""

    def deco(fn):
        _ARG_DOCS.setdefault(fn.__name__, {})[name] = kwargs.get("doc", "")
        options = {k: v for k, v in kwargs.items() if k != "doc"}
        if args:
            options["convert"] = args[0]
        ARG_OPTIONS.setdefault(fn.__name__, {})[name] = options
        return xw.arg(name, *args, **kwargs)(fn)

    return deco


# ------------------------------------------------------------------ tables from Excel
#
# In Excel each table argument arrives as an xlwings Range (``@xw.arg("data", "range")``):
# no cell crosses into Python until a UDF asks. The first UDF that needs a table after a
# refresh reads it once (one ``range.value``: a single call through xlwings' conversion
# layer); every other UDF cell passing that table gets the parsed frame from this cache.
# The key is (workbook, sheet, address, refresh stamp): the stamp is Config's
# cfg_last_refresh, which *Refresh* rewrites, so a refreshed table is read again; a table
# that grew or shrank has a new address. *Refresh* (macros.refresh, in the same UDF-server
# process: xlwings.conf "Use UDF Server" = True) primes the cache with the frames it has
# just written, so after a refresh no table crosses the boundary at all.

REFRESH_STAMP_NAME = "cfg_last_refresh"
_RANGE_CACHE: OrderedDict[tuple, pd.DataFrame] = OrderedDict()
_RANGE_CACHE_SIZE = 64


def _is_range(data) -> bool:
    return hasattr(data, "options") and hasattr(data, "sheet") and hasattr(data, "address")


def refresh_stamp(book) -> str:
    """The workbook's refresh stamp (one cell), "" when it has none."""
    try:
        value = book.names[REFRESH_STAMP_NAME].refers_to_range.value
    except Exception:  # a workbook without the name: no stamp (cache by address only)
        return ""
    return "" if value is None else str(value)


def range_key(rng, stamp: str) -> tuple:
    sheet = rng.sheet
    return (sheet.book.name, sheet.name, rng.address, stamp)


def _from_range(rng) -> pd.DataFrame:
    key = range_key(rng, refresh_stamp(rng.sheet.book))
    frame = _RANGE_CACHE.get(key)
    if frame is None:
        rows = rng.options(ndim=2).value  # the one crossing of this table
        frame = as_table(rows)
        _RANGE_CACHE[key] = frame
        if len(_RANGE_CACHE) > _RANGE_CACHE_SIZE:
            _RANGE_CACHE.popitem(last=False)
    else:
        _RANGE_CACHE.move_to_end(key)
    return frame


def prime(rng, frame: pd.DataFrame, stamp: str) -> None:
    """Put a table written by *Refresh* into the cache (``frame``: its rows, with the
    table's columns), so that no UDF reads it back from Excel."""
    frame = frame.reindex(columns=[str(c).strip() for c in frame.columns])
    _RANGE_CACHE[range_key(rng, stamp)] = _typed(frame)


def clear_table_cache() -> None:
    _RANGE_CACHE.clear()


def as_table(data) -> pd.DataFrame:
    """A table passed as a 2-D range with its header row → DataFrame (cached by content);
    an xlwings Range (Excel) is read through the per-refresh cache above."""
    if _is_range(data):
        return _from_range(data)
    if isinstance(data, pd.DataFrame):  # the headless adapter passes a written table as is
        hit = _BY_IDENTITY.get(id(data))
        if hit is not None and hit[0] is data:
            return hit[1]
        frame = _typed(data.rename(columns=lambda h: str(h).strip()))
        _remember(data, frame)
        return frame
    if not isinstance(data, (list, tuple)) or not data or not isinstance(data[0], (list, tuple)):
        raise SopError("data: pass a whole table with its header, e.g. agg_sales[#All]")
    # The same range object (headless recalc passes one object per range) → no rehash.
    hit = _BY_IDENTITY.get(id(data))
    if hit is not None and hit[0] is data:
        return hit[1]
    key = hashlib.blake2b(repr(data).encode(), digest_size=16).hexdigest()
    cached = _CACHE.get(key)
    if cached is not None:
        _CACHE.move_to_end(key)
        _remember(data, cached)
        return cached
    header = [str(h).strip() for h in data[0]]
    frame = _typed(pd.DataFrame([list(r) for r in data[1:]], columns=header))
    _CACHE[key] = frame
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    _remember(data, frame)
    return frame


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Empty rows dropped; text columns as text, the others as numbers (blank → 0)."""
    frame = _blank_rows_dropped(frame).copy(deep=False)  # every column is replaced below
    for col in frame.columns:
        if col not in _TEXT_COLUMNS:
            frame[col] = _number_column(frame[col])
        else:
            frame[col] = _text_column(frame[col])
    return frame


def _blank_rows_dropped(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows that are not all blank (``dropna(how="all")``); when a number column has no
    blank at all, no row is all blank and the frame is returned as is."""
    for _, column in frame.items():
        if column.dtype == _FLOAT and not np.isnan(column.to_numpy()).any():
            return frame
    return frame.dropna(how="all")


def _number_column(column: pd.Series) -> pd.Series:
    """A column as numbers, blank or not a number → 0 (a float column without a blank is
    that already)."""
    if column.dtype == _FLOAT and not np.isnan(column.to_numpy()).any():
        return column
    return pd.to_numeric(column, errors="coerce").fillna(0.0)


def _text_column(column: pd.Series) -> pd.Series:
    """:func:`_text` of every element of a column. A column that holds only text already
    (the usual case) is the same text, taken in one step instead of element by element."""
    values = column.to_numpy(dtype=object)
    if infer_dtype(values, skipna=False) == "string":
        return pd.Series(values, index=column.index, name=column.name)
    return column.map(_text)


def _remember(data, frame: pd.DataFrame) -> None:
    _BY_IDENTITY[id(data)] = (data, frame)  # holding data keeps its id from being reused
    if len(_BY_IDENTITY) > _CACHE_SIZE:
        _BY_IDENTITY.popitem(last=False)


_TEXT_COLUMNS = frozenset({"period", "item_no", "category", "location_code", "customer_no",
                           "salesperson", "vendor_no", "work_center", "gl_account", "name",
                           "account_type", "assessment", "gen_bus_posting_group",
                           "gen_prod_posting_group"})


def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _period(value) -> str:
    text = _text(value).strip()
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
    dim = _text(dimension).strip() or None
    return dim, (_text(member).strip() if dim else None)


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
    return xw.func(category="S&OP")(udf)


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


@xw.func(category="S&OP")
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
    level = (_text(level).strip().lower() or "line")
    if level not in ("line", "unit"):
        raise SopError(f"level: {level!r} must be line or unit")
    return agg.fill_rate(as_table(data), _period(period), dim, mem, level=level)


@xw.func(category="S&OP")
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


@xw.func(category="S&OP")
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


@xw.func(category="S&OP")
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


@xw.func(category="S&OP")
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
    if value is None or _text(value).strip() == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SopError(f"{name}: {value!r} is not a number") from None
    if number < 1 or not number.is_integer():
        raise SopError(f"{name}: must be a whole number ≥ 1")
    return int(number)


@xw.func(category="S&OP")
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
    account = _text(gl_account).strip()
    if not account:
        return None
    measure = _text(measure).strip().lower() or "variance"
    return agg.budget_variance(as_table(data), account, _period(period), measure)


@xw.func(category="S&OP")
@_arg("data", "range",
      doc="The mapped budget lines with their header: fin_budget_detail[#All]")
@_arg("gl_account", doc="GL account number, e.g. 6110")
@_arg("period", doc=PERIOD_DOC)
@_udf
def SOP_VARIANCE_DETAIL(data, gl_account, period):
    """Drill-down (spills): the customers, items and locations whose sales budget is mapped
    to the GL account in the period, largest amount first, with a header row."""
    account = _text(gl_account).strip()
    detail = agg.variance_detail(as_table(data), account, _period(period)) if account else \
        pd.DataFrame(columns=["customer_no", "item_no", "location_code", "amount"])
    return _spill(detail)


@xw.func(category="S&OP")
@_arg("data", "range", doc=DATA_DOC)
@_arg("kpi", doc="KPI name, e.g. fill_rate, sales_otd, forecast_accuracy")
@_arg("period", doc=PERIOD_DOC)
@_arg("dimension", doc="item, category, location, customer, salesperson, vendor or "
        "work_center")
@_udf
def SOP_KPI_BY(data, kpi, period, dimension):
    """A KPI for every member of a dimension (spills two columns: member, value; #N/A where
    a member has no value), with a header row."""
    frame = agg.kpi_by(as_table(data), _text(kpi).strip().lower(), _period(period),
                       _text(dimension).strip().lower())
    return _spill(frame)


@xw.func(category="S&OP")
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


#: Every UDF the workbook may call, by name (the template generates VBA wrappers for these).
UDFS: dict[str, Callable] = {
    name: obj for name, obj in sorted(globals().items())
    if name.startswith("SOP_") and callable(obj)
}


def function_help() -> list[tuple[str, str, list[str]]]:
    """(name, description, one description per argument) of every UDF: what Excel's
    *Insert Function* dialog shows — the docstring and the ``doc`` of each argument, at most
    255 characters each (Excel's limit; xlwings cuts them the same way)."""
    out = []
    for name, fn in UDFS.items():
        docs = _ARG_DOCS.get(name, {})
        params = inspect.signature(fn).parameters
        out.append((name, " ".join((fn.__doc__ or "").split())[:255],
                    [" ".join(docs.get(p, "").split())[:255] for p in params]))
    return out
