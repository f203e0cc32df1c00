"""The tables the KPI cells read: a workbook table (an Excel range, a headless DataFrame or
a 2-D list with its header row) as a typed DataFrame, parsed once and cached.

The cell functions (:mod:`sop_workbook.kpi.cell_functions`, which the ``udfs`` Excel glue
declares to Excel and the headless recalculation calls) read every table argument with
:func:`as_table`; the live workbook adapter
(:meth:`sop_workbook.workbook.live.LiveWorkbook.prime_udf_tables`) hands *Refresh*'s freshly
written frames to the cache with :func:`prime`. An Excel range is recognised by its
attributes (no xlwings import): the module is plain pandas.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from ..errors import SopError
from ..frames import excel_text

_CACHE: OrderedDict[object, pd.DataFrame] = OrderedDict()
_CACHE_SIZE = 16
_BY_IDENTITY: OrderedDict[int, tuple[object, pd.DataFrame]] = OrderedDict()
_FLOAT = np.dtype(np.float64)


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


@runtime_checkable
class ExcelRange(Protocol):
    """What a UDF receives from Excel for a range argument: an xlwings ``Range`` (named by
    what it offers, so that the core does not import xlwings)."""

    address: str
    sheet: object

    def options(self, *args, **kwargs): ...


def _is_range(data) -> bool:
    return isinstance(data, ExcelRange)


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
    """:func:`~sop_workbook.frames.excel_text` of every element of a column. A column that
    holds only text already (the usual case) is the same text, taken in one step instead of
    element by element."""
    values = column.to_numpy(dtype=object)
    if infer_dtype(values, skipna=False) == "string":
        return pd.Series(values, index=column.index, name=column.name)
    return column.map(excel_text)


def _remember(data, frame: pd.DataFrame) -> None:
    _BY_IDENTITY[id(data)] = (data, frame)  # holding data keeps its id from being reused
    if len(_BY_IDENTITY) > _CACHE_SIZE:
        _BY_IDENTITY.popitem(last=False)


_TEXT_COLUMNS = frozenset({"period", "item_no", "category", "location_code", "customer_no",
                           "salesperson", "vendor_no", "work_center", "gl_account", "name",
                           "account_type", "assessment", "gen_bus_posting_group",
                           "gen_prod_posting_group"})

