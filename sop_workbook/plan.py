"""The rolling 12-month demand plan: statistical baseline, overrides, consensus, roll forward.

Pure functions on DataFrames. The plan covers ``horizon`` periods starting at the
workbook's current period. Demand history is the invoiced quantity per item × location ×
period (:func:`demand_history`).

- **Baseline** (:func:`statistical_baseline`): per item × location, the model with the
  smallest mean absolute error when backtested one period ahead over the last
  ``backtest`` periods of history, among *seasonal naive* (same period last year),
  *moving average* (mean of the last 3 periods) and *12-month average*; the chosen model
  then forecasts every period of the horizon (the seasonal naive model repeats last year's
  period). The chosen model is named in the ``model`` column.
- **Consensus** = baseline + overrides (per item × location × period, quantities added).
- **Roll forward** (:func:`roll_forward`): snapshot of the plan as it stood (consensus and
  baseline, for accuracy at lag), the current period advances by one, overrides on periods
  still in the horizon are kept, and the new last period is seeded from the baseline.
  Rolling to the period the plan is already at changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .kpi import Facts
from .periods import format_period, parse_period, shift_period

KEYS = ["item_no", "location_code"]
MODELS = ("seasonal_naive", "moving_average_3", "average_12")


def demand_history(facts: Facts) -> pd.DataFrame:
    """Invoiced quantity per item × location × period (the run-rate history)."""
    inv = facts.invoices
    frame = pd.DataFrame({
        "item_no": np.asarray(inv.dims["item"]), "location_code": np.asarray(
            inv.dims["location"]), "month": inv["month"], "quantity": inv["quantity"]})
    out = frame.groupby(["item_no", "location_code", "month"], sort=True)["quantity"].sum()
    out = out.reset_index()
    out["period"] = [format_period(int(m)) for m in out["month"]]
    return out[["item_no", "location_code", "period", "quantity"]]


def _forecast(model: str, series: np.ndarray, steps: int) -> np.ndarray:
    """Forecast ``steps`` periods after ``series`` (oldest first, zeros where no demand)."""
    if model == "seasonal_naive":
        if len(series) >= 12:
            last_year = series[-12:]
            return np.array([last_year[i % 12] for i in range(steps)], dtype=float)
        model = "average_12"
    if model == "moving_average_3":
        return np.full(steps, series[-3:].mean() if len(series) else 0.0)
    return np.full(steps, series[-12:].mean() if len(series) else 0.0)


def _choose(series: np.ndarray, backtest: int) -> str:
    best, best_err = "moving_average_3", np.inf
    for model in MODELS:
        errors = []
        for k in range(backtest, 0, -1):
            train = series[:-k]
            if len(train) < 3 or (model == "seasonal_naive" and len(train) < 12):
                continue
            errors.append(abs(_forecast(model, train, 1)[0] - series[-k]))
        if errors and np.mean(errors) < best_err:
            best, best_err = model, float(np.mean(errors))
    return best


def statistical_baseline(history: pd.DataFrame, current_period: str, horizon: int = 12,
                         backtest: int = 6) -> pd.DataFrame:
    """Baseline per item × location × plan period (see the module docstring)."""
    current = parse_period(current_period)
    months = np.arange(current - 36, current)
    rows = []
    for (item, location), grp in history.groupby(KEYS, sort=True):
        by_month = dict(zip([parse_period(p) for p in grp["period"]], grp["quantity"],
                            strict=True))
        first = min(by_month)
        series = np.array([by_month.get(m, 0.0) for m in months if m >= first], dtype=float)
        if series.size == 0:
            continue
        model = _choose(series, backtest)
        values = _forecast(model, series, horizon)
        for i, value in enumerate(values):
            rows.append((item, location, format_period(current + i), max(0.0, float(value)),
                         model))
    return pd.DataFrame(rows, columns=[*KEYS, "period", "baseline", "model"])


def plan_periods(current_period: str, horizon: int = 12) -> list[str]:
    return [shift_period(current_period, i) for i in range(horizon)]


def consensus(baseline: pd.DataFrame, overrides: pd.DataFrame) -> pd.DataFrame:
    """Baseline + overrides per item × location × period; columns baseline, override,
    consensus (each layer kept visible)."""
    over = overrides.copy()
    if over.empty:
        over = pd.DataFrame(columns=[*KEYS, "period", "quantity"])
    over["quantity"] = pd.to_numeric(over["quantity"], errors="coerce").fillna(0.0)
    over = over.groupby([*KEYS, "period"])["quantity"].sum().rename("override")
    base = baseline.set_index([*KEYS, "period"])["baseline"]
    plan = pd.concat([base, over], axis=1)
    plan = plan[plan.index.get_level_values("period").isin(
        baseline["period"].unique())].fillna(0.0)
    plan["consensus"] = (plan["baseline"] + plan["override"]).clip(lower=0.0)
    return plan.reset_index()


def plan_grid(plan: pd.DataFrame, periods: list[str], items: pd.DataFrame) -> pd.DataFrame:
    """The Demand sheet's plan table: one row per item × location × layer, p01..p12."""
    layers = ["baseline", "override", "consensus"]
    long = plan.melt(id_vars=[*KEYS, "period"], value_vars=layers, var_name="layer")
    wide = long.pivot_table(index=[*KEYS, "layer"], columns="period", values="value",
                            aggfunc="sum", fill_value=0.0)
    wide = wide.reindex(columns=periods, fill_value=0.0)
    wide.columns = [f"p{i + 1:02d}" for i in range(len(periods))]
    wide = wide.reset_index()
    wide["layer"] = pd.Categorical(wide["layer"], layers)
    info = items.set_index("item_no")[["description", "category"]]
    wide = wide.join(info, on="item_no")
    wide = wide.sort_values(["category", "item_no", "location_code", "layer"])
    wide["layer"] = wide["layer"].astype(str)
    cols = ["item_no", "description", "category", "location_code", "layer",
            *[f"p{i + 1:02d}" for i in range(len(periods))]]
    return wide[cols].reset_index(drop=True)


@dataclass
class RollResult:
    current_period: str
    snapshot: pd.DataFrame  # rows appended to the plan history
    overrides: pd.DataFrame  # overrides kept
    rolled: int  # periods advanced (0 = nothing changed)


def roll_forward(plan: pd.DataFrame, overrides: pd.DataFrame, current_period: str,
                 to_period: str | None = None) -> RollResult:
    """Advance the plan from ``current_period`` to ``to_period`` (default: one period).

    Each step snapshots the plan as it stood — consensus as ``quantity``, baseline as
    ``baseline_quantity``, ``snapshot_period`` = the period the workbook was at — and drops
    overrides on the period that leaves the horizon. ``to_period`` equal to the current
    period changes nothing; an earlier one is an error (use the backup to go back).
    """
    current = parse_period(current_period)
    target = current + 1 if to_period is None else parse_period(to_period)
    if target < current:
        raise ValueError(f"cannot roll back from {current_period} to {to_period}; restore "
                         "the backup instead")
    snapshots = []
    if target > current and not plan.empty:
        snap = plan.rename(columns={"consensus": "quantity",
                                    "baseline": "baseline_quantity"})
        snap = snap[[*KEYS, "period", "quantity", "baseline_quantity"]].copy()
        snap.insert(0, "snapshot_period", current_period)
        snapshots.append(snap)
    kept = overrides
    if target > current and not overrides.empty:
        periods = overrides["period"].astype(str)
        kept = overrides[periods.map(lambda p: _month_or_none(p)).ge(target).to_numpy()]
    snapshot = (pd.concat(snapshots, ignore_index=True) if snapshots else
                pd.DataFrame(columns=["snapshot_period", *KEYS, "period", "quantity",
                                      "baseline_quantity"]))
    snapshot = snapshot[["snapshot_period", "period", *KEYS, "quantity", "baseline_quantity"]]
    return RollResult(format_period(target), snapshot, kept.reset_index(drop=True),
                      target - current)


def _month_or_none(text: str) -> float:
    try:
        return parse_period(text)
    except Exception:
        return np.inf  # an unreadable period is kept for the planner to fix, not dropped
