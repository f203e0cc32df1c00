"""Performance against standards: adherence to standard lead times and labour absorption.

Both read the validated source tables (pure pandas), and both are additive, so the workbook
holds their numerators and denominators (``agg_lead_time``, ``agg_labour``) and any cut is
a ratio of sums.

- **Adherence to standard lead times** (sales team, by salesperson) — of the sales lines
  *ordered* in the period (month of ``order_date``) whose item has a standard lead time
  (``items.lead_time_days`` not empty): the share whose promised date ≥ order date + that
  lead time. A line without a promised date uses its requested date (the contract's rule
  for every due date). Lines of items without a standard lead time are left out of the
  ratio and counted apart (``without_standard``). Cuts: salesperson (the customer's),
  customer, item, category, location.
- **Labour absorption** (operations leader, by work center) — standard hours earned ÷ hours
  worked in the period. *Earned* = Σ finished quantity × routing ``hours_per_unit`` over
  the production orders finished in the period (month of ``finished_date``), at every work
  center of the item's routing; *worked* = Σ ``capacity_ledger.hours`` posted in the
  period. **Over/under-absorbed payroll** = (earned − worked) × labour rate (Config);
  positive = over-absorbed (the work center produced more standard hours than it was
  paid for). No hours worked → no absorption ratio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..contract import SourceData
from ..periods import NO_DAY, day_numbers, month_of_days, parse_period
from .cuts import DimensionNotApplicable

NONE_LABEL = "(none)"
#: Dimension → column of :func:`lead_time_lines`.
LEAD_TIME_DIMENSIONS = {"salesperson": "salesperson", "customer": "customer_no",
                        "item": "item_no", "category": "category", "location": "location_code"}


def _blank_to_none(values: pd.Series) -> pd.Series:
    values = values.astype(object)
    return values.where(values.notna() & (values.astype(str) != ""), NONE_LABEL).astype(str)


def lead_time_lines(data: SourceData) -> pd.DataFrame:
    """One row per sales line: ``month`` (index of the order month), the dimensions,
    ``with_standard`` (the item has a lead time), ``adhered`` (promised ≥ order date +
    lead time; False without a standard)."""
    lines = data["sales_lines"]
    items = data["items"].set_index("item_no")
    customers = data["customers"].set_index("customer_no")
    order_day = day_numbers(lines["order_date"])
    promised = day_numbers(lines["promised_date"])
    requested = day_numbers(lines["requested_date"])
    due = np.where(promised != NO_DAY, promised, requested)
    lead = pd.to_numeric(lines["item_no"].map(items["lead_time_days"]),
                         errors="coerce").to_numpy(dtype=float)
    with_standard = ~np.isnan(lead) & (order_day != NO_DAY) & (due != NO_DAY)
    adhered = with_standard & (due - order_day >= np.nan_to_num(lead))
    salesperson = (lines["customer_no"].map(customers["salesperson"])
                   if "salesperson" in customers else pd.Series(None, index=lines.index))
    return pd.DataFrame({
        "month": month_of_days(order_day),
        "salesperson": _blank_to_none(salesperson),
        "customer_no": lines["customer_no"].astype(str).to_numpy(),
        "item_no": lines["item_no"].astype(str).to_numpy(),
        "category": _blank_to_none(lines["item_no"].map(items["category"])).to_numpy(),
        "location_code": lines["location_code"].astype(str).to_numpy(),
        "with_standard": with_standard,
        "adhered": adhered,
    })


@dataclass(frozen=True)
class LeadTimeAdherence:
    """Lines with a standard lead time (``lines``), of which ``adhered``; lines of items
    without one (``without_standard``, left out of the ratio)."""

    adhered: float
    lines: float
    without_standard: float

    @property
    def value(self) -> float | None:
        """``adhered ÷ lines``; no value without lines."""
        return None if self.lines == 0 else self.adhered / self.lines


def lead_time_adherence(data: SourceData, period: str, *, by: str | None = None,
                        lines: pd.DataFrame | None = None):
    """Adherence to standard lead times of the lines ordered in ``period`` (see the module
    docstring): a :class:`LeadTimeAdherence`, or per ``by`` a DataFrame with columns
    adhered, lines, without_standard, value."""
    month = parse_period(period)
    lines = lead_time_lines(data) if lines is None else lines
    rows = lines[lines["month"] == month]
    sums = pd.DataFrame({"adhered": rows["adhered"].astype(float),
                         "lines": rows["with_standard"].astype(float),
                         "without_standard": (~rows["with_standard"]).astype(float)})
    if by is None:
        return LeadTimeAdherence(*(float(sums[c].sum()) for c in sums.columns))
    column = LEAD_TIME_DIMENSIONS.get(by)
    if column is None:
        raise DimensionNotApplicable(f"lead-time adherence cannot be cut by {by!r}")
    grouped = sums.groupby(rows[column].to_numpy()).sum()
    grouped.index.name = by
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(grouped["lines"] > 0, grouped["adhered"] / grouped["lines"], np.nan)
    return grouped.assign(value=value)


def labour_hours(data: SourceData) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(earned, worked): standard hours earned per production order × routing work center
    (``month`` of finished_date, ``work_center``, ``hours``) and hours worked per capacity
    ledger entry (``month`` of posting_date, ``work_center``, ``hours``, ``cost``)."""
    orders = data["production_orders"]
    finished = day_numbers(orders["finished_date"])
    done = orders[finished != NO_DAY].assign(month=month_of_days(finished[finished != NO_DAY]))
    routings = data["routings"]
    earned = done.merge(routings[["item_no", "work_center", "hours_per_unit"]]
                        .rename(columns={"work_center": "routing_center"}),
                        on="item_no", how="inner")
    earned = pd.DataFrame({
        "month": earned["month"].to_numpy(dtype=np.int64),
        "work_center": _blank_to_none(earned["routing_center"]).to_numpy(),
        "hours": (pd.to_numeric(earned["finished_quantity"], errors="coerce").fillna(0.0)
                  * earned["hours_per_unit"].astype(float)).to_numpy(dtype=float),
    })
    ledger = data["capacity_ledger"] if "capacity_ledger" in data.tables else None
    if ledger is None or ledger.empty:
        worked = pd.DataFrame({"month": pd.Series(dtype=np.int64),
                               "work_center": pd.Series(dtype=object),
                               "hours": pd.Series(dtype=float), "cost": pd.Series(dtype=float)})
    else:
        cost = (ledger["cost_amount"] if "cost_amount" in ledger
                else pd.Series(0.0, index=ledger.index))
        worked = pd.DataFrame({
            "month": month_of_days(day_numbers(ledger["posting_date"])),
            "work_center": _blank_to_none(ledger["work_center"]).to_numpy(),
            "hours": ledger["hours"].astype(float).to_numpy(),
            "cost": pd.to_numeric(cost, errors="coerce").fillna(0.0).to_numpy(dtype=float),
        })
    return earned, worked


@dataclass(frozen=True)
class LabourAbsorption:
    """Standard hours earned and hours worked in a period, and the labour rate used."""

    earned_hours: float
    worked_hours: float
    labour_rate: float | None = None

    @property
    def value(self) -> float | None:
        """``earned ÷ worked``; no value without hours worked."""
        return None if self.worked_hours == 0 else self.earned_hours / self.worked_hours

    @property
    def absorbed_payroll(self) -> float | None:
        """``(earned − worked) × labour rate``; positive = over-absorbed; None without a
        rate."""
        if self.labour_rate is None:
            return None
        return (self.earned_hours - self.worked_hours) * self.labour_rate


def labour_absorption(data: SourceData, period: str, *, labour_rate: float | None = None,
                      by: str | None = None):
    """Labour absorption of ``period`` (see the module docstring): a
    :class:`LabourAbsorption`, or with ``by='work_center'`` a DataFrame per work center
    with earned_hours, worked_hours, value (absorption) and absorbed_payroll."""
    if by is not None and by != "work_center":
        raise DimensionNotApplicable(f"labour absorption cannot be cut by {by!r}")
    month = parse_period(period)
    earned, worked = labour_hours(data)
    earned = earned[earned["month"] == month]
    worked = worked[worked["month"] == month]
    if by is None:
        return LabourAbsorption(float(earned["hours"].sum()), float(worked["hours"].sum()),
                                labour_rate)
    frame = pd.concat([earned.groupby("work_center")["hours"].sum().rename("earned_hours"),
                       worked.groupby("work_center")["hours"].sum().rename("worked_hours")],
                      axis=1).fillna(0.0).sort_index()
    frame.index.name = "work_center"
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(frame["worked_hours"] > 0,
                         frame["earned_hours"] / frame["worked_hours"], np.nan)
    payroll = ((frame["earned_hours"] - frame["worked_hours"]) * labour_rate
               if labour_rate is not None else np.nan)
    return frame.assign(value=value, absorbed_payroll=payroll)


# --------------------------------------------------------------------------- aggregates

LEAD_TIME_GRAIN = ["period", "salesperson", "customer_no"]
LEAD_TIME_COLUMNS = ["lt_lines", "lt_adhered", "lt_without_standard"]
LABOUR_GRAIN = ["period", "work_center"]
LABOUR_COLUMNS = ["earned_hours", "worked_hours", "worked_cost"]


def lead_time_aggregate(data: SourceData) -> pd.DataFrame:
    """``agg_lead_time``: per order month × salesperson × customer: ``lt_lines`` (lines with
    a standard lead time), ``lt_adhered`` (of them promised ≥ order date + lead time),
    ``lt_without_standard`` (lines of items without one)."""
    from ..periods import format_period

    lines = lead_time_lines(data)
    lines = lines[lines["month"] >= 0]
    frame = pd.DataFrame({
        "period": [format_period(int(m)) for m in lines["month"]],
        "salesperson": lines["salesperson"].to_numpy(),
        "customer_no": lines["customer_no"].to_numpy(),
        "lt_lines": lines["with_standard"].astype(float).to_numpy(),
        "lt_adhered": lines["adhered"].astype(float).to_numpy(),
        "lt_without_standard": (~lines["with_standard"]).astype(float).to_numpy(),
    })
    return _grouped(frame, LEAD_TIME_GRAIN, LEAD_TIME_COLUMNS)


def labour_aggregate(data: SourceData) -> pd.DataFrame:
    """``agg_labour``: per month × work center: ``earned_hours``, ``worked_hours`` and
    ``worked_cost`` (Σ capacity-ledger cost_amount, for reference)."""
    from ..periods import format_period

    earned, worked = labour_hours(data)
    parts = [pd.DataFrame({"month": earned["month"], "work_center": earned["work_center"],
                           "earned_hours": earned["hours"]}),
             pd.DataFrame({"month": worked["month"], "work_center": worked["work_center"],
                           "worked_hours": worked["hours"], "worked_cost": worked["cost"]})]
    frame = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(
        len(p) for p in parts) else pd.DataFrame(columns=["month", "work_center"])
    frame = frame[frame["month"] >= 0] if len(frame) else frame
    frame = frame.assign(period=[format_period(int(m)) for m in frame["month"]])
    return _grouped(frame.drop(columns="month"), LABOUR_GRAIN, LABOUR_COLUMNS)


def _grouped(frame: pd.DataFrame, grain: list[str], columns: list[str]) -> pd.DataFrame:
    for col in columns:
        if col not in frame:
            frame[col] = 0.0
    if frame.empty:
        return pd.DataFrame({**{g: pd.Series(dtype=object) for g in grain},
                             **{c: pd.Series(dtype=float) for c in columns}})
    frame[columns] = frame[columns].astype(float).fillna(0.0)
    out = frame.groupby(grain, sort=True)[columns].sum().reset_index()
    return out[[*grain, *columns]]
