"""Shared frame and cell helpers of the review stages (pandas/numpy only).

How a table read from the workbook or a source is taken in: empty cells
(:func:`blank`), cells and key columns as text (:func:`cell_text`, :func:`key_text`; as
the KPI cells read it, :func:`excel_text`),
columns by name with defaults (:func:`read_columns`), numbers as floats
(:func:`to_float`), periods as month numbers (:func:`months_of`); grouped sums that match
pandas' (:func:`group_sum`); long tables made wide by period (:func:`to_wide`); empty
cells as ``None`` (:func:`none_cells`); the consensus plan read once per horizon
(:class:`PlanCells`). The review stages (:mod:`sop_workbook.review`), the meeting
documents, the plan history and the actions use these; none of them belongs to one stage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .periods import month_of_periods, parse_period, period_range

KEYS = ["item_no", "location_code"]


def blank(value) -> bool:
    """An empty cell: ``None``, NaN/NaT, or text of spaces only."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def cell_text(value) -> str:
    """A cell as text, stripped; an empty cell (:func:`blank`) is ``''``."""
    return "" if blank(value) else str(value).strip()


def excel_text(value) -> str:
    """A value as the KPI cells read text from Excel: a whole number handed over as a float
    reads as the number Excel shows (1001.0 → ``'1001'``), ``None`` as ``''``, anything
    else as ``str`` gives it — not stripped, and NaN as ``'nan'`` (unlike
    :func:`cell_text`: the cell functions and their tables have read text so from the
    start, and their figures stay as they are)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def read_columns(frame: pd.DataFrame | None, columns: dict[str, object]) -> pd.DataFrame:
    """The listed columns of ``frame`` (its names read stripped and lower-cased), missing
    ones filled with the default; ``None`` or a frame without columns is read as an
    empty table. No data is copied."""
    frame = pd.DataFrame() if frame is None else frame
    names = [str(c).strip().lower() for c in frame.columns]
    if len(set(names)) < len(names):  # names that clash once lower-cased: as read
        frame = frame.copy()
        frame.columns = names
        position = None
    else:
        position = {name: k for k, name in enumerate(names)}
    out = {}
    for column, default in columns.items():
        if position is None and column in frame:
            out[column] = frame[column]
        elif position is not None and column in position:
            out[column] = frame.iloc[:, position[column]]
        else:
            out[column] = pd.Series(default, index=frame.index, dtype=object
                                    if isinstance(default, str) or default is None
                                    else float)
    return pd.DataFrame(out, index=frame.index)


def exact_hashable(series: pd.Series) -> bool:
    """True when equal values of ``series`` are the same value (so a column can be
    computed once per distinct value): numbers, ``str`` columns and object columns of
    text only. Mixed object columns are not (``1 == 1.0 == True``, ``None`` ~ NaN)."""
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype):
        return True
    if isinstance(dtype, np.dtype):
        if dtype.kind in "iuf":
            return True
        if dtype.kind == "O":
            return pd.api.types.infer_dtype(series, skipna=False) == "string"
    return False


def per_unique(series: pd.Series, func):
    """``func(series)`` for an element-wise ``func`` (Series → Series or array), computed
    on the distinct values only and spread back to every row (same result, dtype, index
    and name as calling ``func`` on the whole column)."""
    if len(series) < 64 or not exact_hashable(series):
        return func(series)
    codes, uniques = pd.factorize(series, use_na_sentinel=False)
    if len(uniques) * 2 > len(series):
        return func(series)
    small = func(pd.Series(uniques, dtype=series.dtype, name=series.name))
    if isinstance(small, pd.Series):
        return pd.Series(small.array.take(codes), index=series.index, name=small.name)
    return np.asarray(small)[codes]


def _text_each(series: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(series):
        return series.map(lambda v: str(int(v)) if float(v).is_integer() else str(v))
    return series.map(lambda v: str(int(v)) if isinstance(v, float) and v.is_integer()
                      else str(v)).str.strip()


def key_text(series: pd.Series) -> pd.Series:
    """Key column as text; a whole number read from a sheet as 1001.0 becomes ``'1001'``
    so it matches the same key typed as text in another table. Computed once per
    distinct value (:func:`per_unique`)."""
    return per_unique(series, _text_each)


def months_of(periods: pd.Series) -> np.ndarray:
    """:func:`~sop_workbook.periods.month_of_periods`, once per distinct period."""
    return per_unique(periods, month_of_periods)


def strict_months(periods: pd.Series) -> pd.Series:
    """:func:`~sop_workbook.periods.parse_period` of each period (an error for one that is
    not YYYY-MM), once per distinct period."""
    return per_unique(periods, lambda p: p.map(parse_period))


def to_float(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce").astype(float)


def key_codes(frame: pd.DataFrame, keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """One integer per row that orders the rows as sorting by ``keys`` does (equal keys,
    equal integer), and which rows have every key (a row with an empty key is left out
    of a groupby; its integer is −1)."""
    gid = np.zeros(len(frame), dtype=np.int64)
    keep = np.ones(len(frame), dtype=bool)
    for key in keys:
        codes, uniques = pd.factorize(frame[key], sort=True)
        keep &= codes >= 0
        gid = gid * max(len(uniques), 1) + np.maximum(codes, 0)
        if len(gid) and gid.max() > 2 ** 31:  # renumber, keeping the order
            gid = np.unique(gid, return_inverse=True)[1].astype(np.int64)
    gid[~keep] = -1
    return gid, keep


def one_row_sums(values: np.ndarray, nan_in_column: bool) -> np.ndarray:
    """What pandas' groupby sum gives for groups of one row each, in sorted order: the
    values themselves (it adds sorted groups with ``ufunc.reduceat``) or, when the summed
    column holds a NaN, ``0.0 + value`` with NaN as 0 (its compensated-sum kernel, which
    turns −0.0 into 0.0)."""
    if not nan_in_column:
        return values.copy()
    return np.where(np.isnan(values), 0.0, 0.0 + values)


def group_sum(frame: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    """``frame.groupby(keys, as_index=False, sort=True)[value].sum()`` — the same rows,
    key types and sums (the groups are added up by pandas over the rows in the same
    order) — for text or number keys and a float value; when every key combination
    occurs once, in sorted order (a table that is already an aggregate), no grouping is
    needed."""
    simple = len(frame) and all(exact_hashable(frame[k]) for k in keys) and \
        frame[value].dtype == np.float64
    gid, keep = key_codes(frame, keys) if simple else (None, None)
    if not simple or not keep.all():  # an empty key: left to pandas
        return frame.groupby(keys, as_index=False, sort=True)[value].sum()
    x = frame[value].to_numpy()
    if np.all(gid[1:] > gid[:-1]):
        first = np.arange(len(frame))
        sums = one_row_sums(x, bool(np.isnan(x).any()))
    else:
        sums = pd.Series(x).groupby(gid, sort=True).sum().to_numpy()
        first = np.unique(gid, return_index=True)[1]
    out = {k: pd.Index(frame[k].to_numpy()[first]) for k in keys}
    return pd.DataFrame(out | {value: sums})


def none_cells(values) -> np.ndarray:
    """Floats → object array of Python floats with NaN as ``None`` (an empty cell)."""
    numbers = np.asarray(values, dtype=float)
    out = numbers.astype(object)
    out[np.isnan(numbers)] = None
    return out


def none_list(values) -> list:
    """Floats → list with NaN as ``None`` (what a sheet shows as an empty cell)."""
    return none_cells(values).tolist()


def horizon_periods(current: str, horizon: int = 12) -> list[str]:
    """The ``horizon`` plan periods starting at ``current``."""
    return period_range(current, horizon)


def plan_long(plan: pd.DataFrame, periods: list[str]) -> pd.DataFrame:
    """The plan restricted to ``periods``, keys as text, consensus as float (empty → 0),
    Σ per item × location × period."""
    p = read_columns(plan, {"item_no": "", "location_code": "", "period": "", "consensus": 0.0})
    p = pd.DataFrame({"item_no": key_text(p["item_no"]),
                      "location_code": key_text(p["location_code"]),
                      "period": key_text(p["period"]),
                      "consensus": to_float(p["consensus"]).fillna(0.0)})
    p = p[p["period"].isin(periods)]
    return group_sum(p, [*KEYS, "period"], "consensus")


def item_period_consensus(plan: pd.DataFrame, periods: list[str]) -> pd.DataFrame:
    """Consensus Σ over locations: ``item_no``, ``period``, ``consensus``."""
    return _by_item(plan_long(plan, periods))


def _by_item(long: pd.DataFrame) -> pd.DataFrame:
    return group_sum(long, ["item_no", "period"], "consensus")


@dataclass(frozen=True)
class PlanCells:
    """One plan read once for a horizon, for the cores that take it (each computes the
    same itself when not given one, or given one for other periods): ``long`` =
    :func:`plan_long`, ``by_item`` = :func:`item_period_consensus`. Read-only."""

    periods: list[str]
    long: pd.DataFrame
    by_item: pd.DataFrame

    @classmethod
    def of(cls, plan: pd.DataFrame, periods: list[str]) -> PlanCells:
        long = plan_long(plan, periods)
        return cls(list(periods), long, _by_item(long))

    def fits(self, periods: list[str]) -> bool:
        return self.periods == list(periods)


def long_of(plan: pd.DataFrame, periods: list[str], cells: PlanCells | None
             ) -> pd.DataFrame:
    return cells.long.copy(deep=False) if cells is not None and cells.fits(periods) else \
        plan_long(plan, periods)


def by_item_of(plan: pd.DataFrame, periods: list[str], cells: PlanCells | None
               ) -> pd.DataFrame:
    """:func:`item_period_consensus`, from ``cells`` when they are for ``periods``."""
    return cells.by_item.copy(deep=False) if cells is not None and cells.fits(periods) \
        else item_period_consensus(plan, periods)


def period_columns(periods: list[str]) -> dict[str, str]:
    """``{'p01': '2026-04', …}`` — the grid column names and the period each stands for."""
    return {f"p{i + 1:02d}": p for i, p in enumerate(periods)}


def numbers_or_zero(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame:
        return pd.Series(0.0, index=frame.index)
    return pd.to_numeric(frame[column], errors="coerce").fillna(0.0)


def _cell_sums(long: pd.DataFrame, index: list[str], column: np.ndarray, n_periods: int,
               values: list[str], only: pd.MultiIndex | None = None
               ) -> tuple[list[np.ndarray], dict[str, np.ndarray]] | None:
    """Σ of each ``values`` column per ``index`` keys × period — what ``pivot_table(
    index=index, columns='period', aggfunc='sum', fill_value=0.0)`` of each value gives:
    the distinct keys (sorted; the values of each key column) and per value column a
    (keys × periods) array, 0 where a key has no row in a period. ``column``: the period
    column of each row (−1: not shown; shown periods in calendar order). The groups are
    added up by pandas over the rows in the same order as in the pivot, and a cell of
    one row is taken as pandas sums it (:func:`~sop_workbook.frames.one_row_sums`).
    With ``only``, of the rows whose keys are in ``only`` (as if selected first).
    ``None`` when a shown row has an empty or mixed-type key (left to the pivot)."""
    if not all(exact_hashable(long[k]) for k in index):
        return None
    gid, keep = key_codes(long, index)
    shown = column >= 0
    if not keep[shown].all():
        return None
    if only is not None:  # looked up once per distinct key
        codes, distinct = pd.factorize(gid)
        first = np.empty(len(distinct), dtype=np.int64)
        first[codes[::-1]] = np.arange(len(gid))[::-1]
        member = pd.MultiIndex.from_arrays(
            [long[k].to_numpy(dtype=object)[first] for k in index]).isin(only)
        shown &= member[codes]
    rows = np.flatnonzero(shown)
    cell = gid[rows] * n_periods + column[rows]
    sums = {}
    if np.all(cell[1:] > cell[:-1]):  # one row per cell, in order
        cells = cell
        for v in values:
            x = long[v].to_numpy(dtype=float)[rows]
            sums[v] = one_row_sums(x, bool(np.isnan(x).any()))
    else:
        cells = np.unique(cell)
        for v in values:  # one column at a time, as the pivot of each value
            sums[v] = pd.Series(long[v].to_numpy()[rows]).groupby(cell, sort=True).sum(
                ).to_numpy(dtype=float)
    row_ids, first = np.unique(gid[rows], return_index=True)
    keys = [long[name].to_numpy(dtype=object)[rows[first]] for name in index]
    at_row = np.searchsorted(row_ids, cells // n_periods)
    at_col = cells % n_periods
    arrays = {}
    for v in values:
        grid = np.zeros((len(row_ids), n_periods))
        grid[at_row, at_col] = sums[v]
        arrays[v] = grid
    return keys, arrays


def to_wide(long: pd.DataFrame, index: list[str], column_of: dict[str, str],
          value: str) -> pd.DataFrame:
    """``long`` pivoted: one row per ``index`` keys, one column per period (renamed by
    ``column_of``), Σ ``value`` (0 where there is no row). By ``pivot_table``, whose
    memory layout a row total over the periods depends on (see :func:`value_grid`);
    :func:`to_wide_frames` does the large grids."""
    frame = long[long["period"].isin(column_of)]
    if frame.empty:
        return pd.DataFrame(columns=[*index, *column_of.values()])
    wide = frame.pivot_table(index=index, columns="period", values=value, aggfunc="sum",
                             fill_value=0.0)
    wide = wide.reindex(columns=list(column_of), fill_value=0.0)
    wide.columns = [column_of[p] for p in wide.columns]
    return wide.reset_index()


def to_wide_frames(long: pd.DataFrame, index: list[str], column_of: dict[str, str],
                 values: list[str], only: pd.MultiIndex | None = None
                 ) -> dict[str, pd.DataFrame]:
    """:func:`to_wide` of several value columns of the same rows at once (with numpy);
    with ``only``, of the rows whose keys are in ``only`` (the same as selecting them
    first)."""
    empty = {v: pd.DataFrame(columns=[*index, *column_of.values()]) for v in values}
    if not len(long):
        return empty
    column = pd.Index(list(column_of), dtype=object).get_indexer(
        long["period"].to_numpy(dtype=object))
    if not (column >= 0).any():
        return empty
    found = _cell_sums(long, index, column, len(column_of), values, only)
    if found is None:
        if only is not None:
            long = long[pd.MultiIndex.from_arrays([long[k] for k in index]).isin(only)]
        return {v: to_wide(long, index, column_of, v) for v in values}
    keys, arrays = found
    if not len(keys[0]):
        return empty
    names = list(column_of.values())
    out = {}
    for v in values:
        wide = pd.DataFrame(arrays[v], columns=names, copy=False)
        for k, name in enumerate(index):
            wide.insert(k, name, pd.Index(keys[k]))
        out[v] = wide
    return out
