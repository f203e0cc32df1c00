"""Every KPI of a period in one place: the figures ``sop kpis`` prints and the scorecard
shows. Pure: source data in, plain dicts/DataFrames out."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import asdict

import numpy as np
import pandas as pd

from . import kpi
from .contract import SourceData
from .kpi import standards
from .kpi.cuts import DimensionNotApplicable
from .kpi.options import KpiOptions
from .kpi.registry import KPIS
from .periods import parse_period

#: Ratio KPIs in scorecard order: key → (label, function(facts, period, options, by)),
#: from the KPI registry (:mod:`sop_workbook.kpi.registry`).
RatioKpi = Callable[[kpi.Facts, str, KpiOptions, str | None], object]
RATIO_KPIS: dict[str, tuple[str, RatioKpi]] = {
    key: (entry.label, entry.figure) for key, entry in KPIS.items() if entry.figure is not None
}

#: Every KPI `sop kpis` prints, key → label, in the registry's order.
LABELS: dict[str, str] = {key: entry.label for key, entry in KPIS.items() if entry.in_sop_kpis}

PERCENT_KPIS = frozenset(key for key, entry in KPIS.items()
                         if entry.in_sop_kpis and entry.percent)


def _clean(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


def compute_kpis(
    data: SourceData,
    period: str,
    options: KpiOptions | None = None,
    *,
    facts: kpi.Facts | None = None,
    snapshots: pd.DataFrame | None = None,
    unmapped_periods: str = "period",
) -> dict:
    """Every KPI of ``period`` in total: a flat dict of snake_case keys (None = no value),
    plus ``detail`` (numerator/denominator of each ratio), ``budget_variance`` (rows of the
    period: the accounts the sales budget feeds, then those outside it, see
    :func:`sop_workbook.kpi.finance.budget_variance`) and ``unmapped_budget_lines`` (the
    sales-budget lines of the period without a GL account; ``unmapped_periods='all'``: of
    every period), with ``unmapped_budget_lines_all_periods`` counting them over all
    periods."""
    if unmapped_periods not in ("period", "all"):
        raise ValueError("unmapped_periods must be 'period' or 'all'")
    parse_period(period)
    options = options or KpiOptions()
    facts = facts or kpi.build_facts(data)
    out: dict = {"period": period, "parameters": asdict(options)}
    detail: dict = {}
    for key, (_, fn) in RATIO_KPIS.items():
        r = fn(facts, period, options, None)
        out[key] = _clean(r.value)
        detail[key] = {"numerator": r.numerator, "denominator": _clean(r.denominator)}
    err = kpi.forecast_error(facts, period)
    out["forecast_accuracy"] = _clean(err.accuracy)
    out["forecast_bias"] = _clean(err.bias)
    detail["forecast_accuracy"] = {"abs_error": err.abs_error, "actual": err.actual,
                                   "forecast": err.forecast, "basis": "revenue vs sales budget"}
    ts = kpi.tracking_signal(facts, period, periods=options.ts_periods)
    out["tracking_signal"] = _clean(ts)
    out["tracking_signal_flag"] = None if ts is None else abs(ts) > kpi.TRACKING_SIGNAL_LIMIT
    out["accuracy_at_lag"] = None
    out["forecast_value_added"] = None
    if snapshots is not None:
        category_of = data["items"].set_index("item_no")["category"]
        lagged = kpi.accuracy_at_lag(facts, snapshots, period, lag=options.lag,
                                     category_of=category_of)
        out["accuracy_at_lag"] = None if lagged is None else _clean(lagged.accuracy)
        out["forecast_value_added"] = _clean(kpi.forecast_value_added(
            facts, snapshots, period, lag=options.lag, category_of=category_of))
    cvc = kpi.commit_vs_closed(facts, period)
    out["committed_amount"] = cvc.committed
    out["won_amount"] = cvc.won
    out["commit_vs_closed"] = _clean(cvc.ratio)
    adherence = standards.lead_time_adherence(data, period)
    out["lead_time_adherence"] = _clean(adherence.value)
    detail["lead_time_adherence"] = {"numerator": adherence.adhered,
                                     "denominator": adherence.lines,
                                     "without_standard": adherence.without_standard}
    labour = standards.labour_absorption(data, period, labour_rate=options.labour_rate)
    out["labour_absorption"] = _clean(labour.value)
    out["absorbed_payroll"] = _clean(labour.absorbed_payroll)
    detail["labour_absorption"] = {"numerator": labour.earned_hours,
                                   "denominator": labour.worked_hours,
                                   "labour_rate": options.labour_rate}
    mapping = kpi.map_sales_budget_to_gl(data)
    variance = kpi.budget_variance(data, mapping, period)
    outside = variance["assessment"].eq(kpi.finance.OUTSIDE)
    variance = pd.concat([variance[~outside], variance[outside]], ignore_index=True)
    out["budget_variance"] = _records(variance)
    unmapped_cols = ["period", "customer_no", "item_no", "location_code",
                     "gen_bus_posting_group", "gen_prod_posting_group", "quantity", "amount"]
    unmapped = mapping.unmapped[unmapped_cols]
    out["unmapped_budget_lines_all_periods"] = len(unmapped)
    if unmapped_periods == "period":
        unmapped = unmapped[unmapped["period"].astype(str) == period]
    out["unmapped_budget_lines"] = _records(unmapped)
    out["detail"] = detail
    out["warnings"] = list(data.warnings)
    return json_safe(out)


def compute_kpis_by(
    data: SourceData,
    period: str,
    by: str,
    options: KpiOptions | None = None,
    *,
    facts: kpi.Facts | None = None,
    snapshots: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every KPI of ``period`` cut by dimension ``by``: one row per value of ``by``.

    The columns are every KPI of :func:`compute_kpis` (the tracking-signal flag included:
    1 beyond ±4, 0 inside, empty without a signal; accuracy at lag and forecast value added
    with ``snapshots``, by item, category or location). A KPI whose facts do not carry
    that dimension (e.g. vendor OTD by customer) is left empty (NaN) in every row.
    """
    if by not in kpi.DIMENSIONS:
        raise ValueError(f"unknown dimension {by!r}; choose one of {', '.join(kpi.DIMENSIONS)}")
    options = options or KpiOptions()
    facts = facts or kpi.build_facts(data)
    columns: dict[str, pd.Series] = {}

    def add(key: str, compute: Callable[[], pd.Series]) -> None:
        try:
            columns[key] = compute()
        except DimensionNotApplicable:
            columns[key] = pd.Series(dtype=float)

    for key, (_, fn) in RATIO_KPIS.items():
        add(key, lambda fn=fn: fn(facts, period, options, by)["value"])
    add("forecast_accuracy", lambda: kpi.forecast_error(facts, period, by=by)["accuracy"])
    add("forecast_bias", lambda: kpi.forecast_error(facts, period, by=by)["bias"])
    add("tracking_signal", lambda: kpi.tracking_signal(facts, period,
                                                       periods=options.ts_periods, by=by))
    ts = columns["tracking_signal"]
    columns["tracking_signal_flag"] = (ts.abs() > kpi.TRACKING_SIGNAL_LIMIT).astype(float).where(
        ts.notna())
    columns["accuracy_at_lag"] = pd.Series(dtype=float)
    columns["forecast_value_added"] = pd.Series(dtype=float)
    if snapshots is not None:
        category_of = data["items"].set_index("item_no")["category"]

        def lagged() -> pd.Series:
            found = kpi.accuracy_at_lag(facts, snapshots, period, lag=options.lag, by=by,
                                        category_of=category_of)
            return pd.Series(dtype=float) if found is None else found["accuracy"]

        def fva() -> pd.Series:
            found = kpi.forecast_value_added(facts, snapshots, period, lag=options.lag, by=by,
                                             category_of=category_of)
            return pd.Series(dtype=float) if found is None else found

        add("accuracy_at_lag", lagged)
        add("forecast_value_added", fva)
    cvc = None
    with contextlib.suppress(DimensionNotApplicable):
        cvc = kpi.commit_vs_closed(facts, period, by=by)
    for key, col in (("committed_amount", "committed"), ("won_amount", "won"),
                     ("commit_vs_closed", "ratio")):
        columns[key] = cvc[col] if cvc is not None else pd.Series(dtype=float)
    add("lead_time_adherence",
        lambda: standards.lead_time_adherence(data, period, by=by)["value"])
    labour = None
    with contextlib.suppress(DimensionNotApplicable):
        labour = standards.labour_absorption(data, period, labour_rate=options.labour_rate,
                                             by=by)
    columns["labour_absorption"] = labour["value"] if labour is not None else pd.Series(
        dtype=float)
    columns["absorbed_payroll"] = (labour["absorbed_payroll"] if labour is not None
                                   else pd.Series(dtype=float))
    frame = pd.concat({k: v.astype(float) for k, v in columns.items()}, axis=1)
    frame.index.name = by
    return frame.sort_index().reset_index()


def _records(frame: pd.DataFrame) -> list[dict]:
    rows = []
    for rec in frame.to_dict(orient="records"):
        rows.append({k: _json_value(v) for k, v in rec.items()})
    return rows


def _json_value(value):
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (np.floating, float)):
        return _clean(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def json_safe(value):
    """Recursively: NaN/inf → None and numpy scalars → Python, so JSON is strict."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return _json_value(value)


def rows_to_records(frame: pd.DataFrame) -> list[dict]:
    """A by-dimension KPI frame as JSON-ready records (NaN → None)."""
    return _records(frame)
