"""Planning inputs the workbook holds next to the KPI aggregates (demand, supply, finance).

Like :mod:`sop_workbook.aggregate_tables`, these are aggregates small enough for a sheet, built
once per *Refresh* from the validated source (the SQL path computes the same tables in the
database, :mod:`sop_workbook.sql`). Tables (Excel table names):

- ``agg_pipeline`` — month of ``expected_close_date`` × ``item_no``, over **open**
  opportunities that name an item and a quantity:
  ``open_qty`` = Σ quantity; ``commit_qty`` = Σ quantity where ``commit`` is true;
  ``weighted_qty`` = Σ quantity × probability where ``commit`` is not true (a probability
  above 1 is read as a percentage, 60 = 60 %; a missing probability counts 0);
  ``open_amount`` = Σ amount; ``commit_amount`` = Σ amount where ``commit`` is true.
- ``agg_supply_open`` — month × ``item_no`` × ``location_code``, the planned supply of the
  projected inventory (data-contract.md): ``po_qty`` = Σ ``purchase_orders.
  outstanding_quantity`` by month of ``expected_receipt_date``; ``production_qty`` =
  Σ max(0, planned − finished quantity) of **open** production orders (no
  ``finished_date`` and a status other than finished/closed) by month of ``due_date``.
- ``agg_item_mix`` — ``item_no`` × the customer's ``gen_bus_posting_group`` over every
  invoice: ``invoiced_qty``, ``invoiced_amount``, ``cost_amount`` (the sales mix used to
  split a plan's revenue over sales GL accounts).
- ``routings`` and ``capacity`` — the source tables as they are (contract columns).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .contract import TABLES

PIPELINE_COLUMNS = ["open_qty", "commit_qty", "weighted_qty", "open_amount", "commit_amount"]
SUPPLY_COLUMNS = ["po_qty", "production_qty"]
MIX_COLUMNS = ["invoiced_qty", "invoiced_amount", "cost_amount"]
CLOSED_STATUSES = ("finished", "closed")


def _month_text(dates: pd.Series) -> pd.Series:
    return pd.to_datetime(dates).dt.strftime("%Y-%m")


def _ordered(frame: pd.DataFrame, grain: list[str], columns: list[str]) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in grain}
                            | {c: pd.Series(dtype=float) for c in columns})
    out = frame.groupby(grain, sort=True, as_index=False)[columns].sum()
    out[columns] = out[columns].astype(float)
    return out[[*grain, *columns]].reset_index(drop=True)


def pipeline_aggregate(opportunities: pd.DataFrame) -> pd.DataFrame:
    """``agg_pipeline`` (see the module docstring)."""
    op = opportunities
    keep = (op["status"].eq("open") & op["item_no"].notna() & (op["item_no"].astype(str) != "")
            & op["quantity"].notna())
    op = op[keep]
    commit = op["commit"].fillna(False).astype(bool).to_numpy()
    qty = op["quantity"].to_numpy(dtype=float)
    prob = op["probability"].to_numpy(dtype=float)
    prob = np.where(np.isnan(prob), 0.0, np.where(prob > 1, prob / 100.0, prob))
    amount = op["amount"].to_numpy(dtype=float)
    frame = pd.DataFrame({
        "period": _month_text(op["expected_close_date"]).to_numpy(),
        "item_no": op["item_no"].astype(str).to_numpy(),
        "open_qty": qty,
        "commit_qty": np.where(commit, qty, 0.0),
        "weighted_qty": np.where(commit, 0.0, qty * prob),
        "open_amount": amount,
        "commit_amount": np.where(commit, amount, 0.0),
    })
    return _ordered(frame, ["period", "item_no"], PIPELINE_COLUMNS)


def supply_open_aggregate(purchase_orders: pd.DataFrame,
                          production_orders: pd.DataFrame) -> pd.DataFrame:
    """``agg_supply_open`` (see the module docstring)."""
    po = purchase_orders
    purchases = pd.DataFrame({
        "period": _month_text(po["expected_receipt_date"]).to_numpy(),
        "item_no": po["item_no"].astype(str).to_numpy(),
        "location_code": po["location_code"].astype(str).to_numpy(),
        "po_qty": po["outstanding_quantity"].to_numpy(dtype=float),
        "production_qty": 0.0,
    })
    pr = production_orders
    status = pr["status"].fillna("").astype(str).str.strip().str.lower()
    open_ = pr["finished_date"].isna() & ~status.isin(CLOSED_STATUSES)
    pr = pr[open_]
    remaining = (pr["planned_quantity"].to_numpy(dtype=float)
                 - pr["finished_quantity"].fillna(0).to_numpy(dtype=float))
    production = pd.DataFrame({
        "period": _month_text(pr["due_date"]).to_numpy(),
        "item_no": pr["item_no"].astype(str).to_numpy(),
        "location_code": pr["location_code"].astype(str).to_numpy(),
        "po_qty": 0.0,
        "production_qty": np.maximum(remaining, 0.0),
    })
    frames = [f for f in (purchases, production) if len(f)]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return _ordered(frame, ["period", "item_no", "location_code"], SUPPLY_COLUMNS)


def item_mix_aggregate(invoices: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """``agg_item_mix`` (see the module docstring)."""
    group = customers.set_index("customer_no")["gen_bus_posting_group"]
    frame = pd.DataFrame({
        "item_no": invoices["item_no"].astype(str).to_numpy(),
        "gen_bus_posting_group": invoices["customer_no"].map(group).fillna("").astype(
            str).to_numpy(),
        "invoiced_qty": invoices["quantity"].to_numpy(dtype=float),
        "invoiced_amount": invoices["amount"].to_numpy(dtype=float),
        "cost_amount": invoices["cost_amount"].to_numpy(dtype=float),
    })
    return _ordered(frame, ["item_no", "gen_bus_posting_group"], MIX_COLUMNS)


def build_plan_inputs(data) -> dict[str, pd.DataFrame]:
    """Every planning-input table, by Excel table name, from a loaded source."""
    tables = {
        "agg_pipeline": pipeline_aggregate(data["opportunities"]),
        "agg_supply_open": supply_open_aggregate(data["purchase_orders"],
                                                 data["production_orders"]),
        "agg_item_mix": item_mix_aggregate(data["sales_invoices"], data["customers"]),
    }
    for name in ("routings", "capacity"):
        frame = data[name][list(TABLES[name].columns)]
        tables[name] = frame.sort_values(list(TABLES[name].key)).reset_index(drop=True)
    return tables
