"""Fact tables: the validated source joined once into KPI-ready columns.

Joins (shipment → sales line → customer/item) and date parsing are done here, once per
load, so that every KPI is a vectorised pass over these columns. Dates become day numbers
(:func:`sop_workbook.periods.day_numbers`), periods month indexes, and every dimension a
pandas ``Categorical`` (blank values become ``(none)``) so cuts are ``bincount``s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..contract import SourceData
from ..periods import NO_DAY, day_numbers, month_of_days, month_of_periods

NONE_LABEL = "(none)"

#: Dimensions a KPI can be cut by (domain.md), plus the work centre for production.
DIMENSIONS = ("item", "category", "location", "customer", "vendor", "salesperson", "work_center")


def categorical(values: pd.Series | np.ndarray, categories=None) -> pd.Categorical:
    """Values as a Categorical; blanks (and values outside ``categories``) → ``(none)``.

    Passing the master table's keys as ``categories`` gives every fact table the same codes
    for the same item/location/customer, so cells can be matched across tables by code.
    """
    series = pd.Series(values, dtype=object)
    if categories is None:
        series = series.where(series.notna() & (series.astype(str) != ""), NONE_LABEL)
        return pd.Categorical(series.astype(str))
    cats = [*dict.fromkeys(str(c) for c in categories if c is not None and c != NONE_LABEL),
            NONE_LABEL]
    cat = pd.Categorical(series, categories=cats)
    codes = np.asarray(cat.codes).copy()
    codes[codes < 0] = len(cats) - 1
    return pd.Categorical.from_codes(codes, categories=cats)


@dataclass
class FactTable:
    """Numeric columns as numpy arrays plus dimension columns as Categoricals."""

    columns: dict[str, np.ndarray]
    dims: dict[str, pd.Categorical]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0


@dataclass
class Facts:
    """Every fact table the KPIs read. Build with :func:`build_facts`."""

    sales_lines: FactTable
    shipments: FactTable
    invoices: FactTable
    sales_budget: FactTable
    receipts: FactTable
    production: FactTable
    inventory: FactTable
    opportunities: FactTable
    inventory_months: np.ndarray  # month indexes that have any inventory row (known ends)
    item_category: np.ndarray  # category code of each item code (shared categories)
    #: the whole business's forecast error per month, for the tracking signal:
    #: (first month index, Σ invoiced amount − Σ sales-budget amount of each month from
    #: it, whether the month has data: an invoice or budget line with a non-zero quantity
    #: or amount); None without invoices and budget lines
    month_errors: tuple[int, np.ndarray, np.ndarray] | None = None


def delivery_flags(line: np.ndarray, day: np.ndarray, quantity: np.ndarray,
                   shipment_no: pd.Series, line_no: pd.Series) -> np.ndarray:
    """Which shipment lines are deliveries (sales OTD counts them).

    A line with a quantity ≤ 0 is never a delivery. A negative line (an undo, a
    correction) nets against the earlier shipments of its sales line, the latest first:
    a positive line that the negative lines dated on or after it cancel entirely is not a
    delivery either; one cancelled only in part still is. The lines of a sales line are
    taken in order of shipment date (on the same day positive lines before negative ones),
    then shipment_no and line_no. Equivalently, with C the running net quantity of the
    sales line in that order, a positive line i is a delivery when
    min(C(t) for t ≥ i) > C(i − 1).
    """
    positive = quantity > 0
    if len(quantity) == 0 or not (quantity < 0).any():
        return positive
    frame = pd.DataFrame({"line": line, "day": day, "neg": quantity < 0,
                          "shipment_no": shipment_no.astype(str).to_numpy(),
                          "line_no": line_no.to_numpy(), "qty": quantity})
    frame = frame.sort_values(["line", "day", "neg", "shipment_no", "line_no"],
                              kind="mergesort")
    running = frame.groupby("line", sort=False)["qty"].cumsum()
    reverse = running.iloc[::-1].groupby(frame["line"].iloc[::-1], sort=False).cummin()
    lowest_after = reverse.iloc[::-1]
    kept = (lowest_after > running - frame["qty"] + 1e-9) & (frame["qty"] > 0)
    out = np.zeros(len(quantity), dtype=bool)
    out[frame.index.to_numpy()] = kept.to_numpy()
    return out


def build_facts(data: SourceData) -> Facts:
    """Join and encode the source tables for the KPI functions (pure)."""
    items = data["items"].set_index("item_no")
    customers = data["customers"].set_index("customer_no")
    category_of = items["category"]
    salesperson_of = customers["salesperson"] if "salesperson" in customers else pd.Series()
    item_keys = items.index.tolist()
    category_keys = sorted(category_of.dropna().unique().tolist())
    location_keys = data["locations"]["location_code"].tolist()
    customer_keys = customers.index.tolist()
    salesperson_keys = sorted(salesperson_of.dropna().unique().tolist())

    def item_dims(frame: pd.DataFrame) -> dict[str, pd.Categorical]:
        return {"item": categorical(frame["item_no"], item_keys),
                "category": categorical(frame["item_no"].map(category_of), category_keys)}

    def sales_dims(frame: pd.DataFrame) -> dict[str, pd.Categorical]:
        return {**item_dims(frame),
                "location": categorical(frame["location_code"], location_keys),
                "customer": categorical(frame["customer_no"], customer_keys),
                "salesperson": categorical(frame["customer_no"].map(salesperson_of),
                                           salesperson_keys)}

    lines = data["sales_lines"]
    promised = day_numbers(lines["promised_date"])
    requested = day_numbers(lines["requested_date"])
    sales_lines = FactTable(
        {
            "quantity": lines["quantity"].to_numpy(dtype=float),
            # due date on the promised basis (falls back to requested) and vice versa
            "due_promised": np.where(promised != NO_DAY, promised, requested),
            "due_requested": np.where(requested != NO_DAY, requested, promised),
            "order_code": pd.factorize(lines["order_no"])[0],
        },
        sales_dims(lines),
    )

    ships = data["sales_shipments"]
    line_index = pd.MultiIndex.from_frame(lines[["order_no", "line_no"]].astype(object))
    ship_keys = pd.MultiIndex.from_frame(ships[["order_no", "order_line_no"]].astype(object))
    line_idx = line_index.get_indexer(ship_keys) if len(ships) else np.zeros(0, dtype=np.int64)
    shipped_lines = lines.iloc[line_idx] if len(ships) else lines.iloc[:0]
    ship_day = day_numbers(ships["shipment_date"])
    ship_qty = ships["quantity"].to_numpy(dtype=float)
    shipments = FactTable(
        {
            "line": line_idx.astype(np.int64),
            "day": ship_day,
            "quantity": ship_qty,
            "delivery": delivery_flags(line_idx, ship_day, ship_qty, ships["shipment_no"],
                                       ships["line_no"]),
        },
        sales_dims(shipped_lines.reset_index(drop=True)),
    )

    def cell(dims: dict[str, pd.Categorical]) -> np.ndarray:
        """The item × location cell of each row (shared codes across fact tables)."""
        n_loc = len(dims["location"].categories)
        return (np.asarray(dims["item"].codes).astype(np.int64) * n_loc
                + np.asarray(dims["location"].codes))

    inv = data["sales_invoices"]
    inv_dims = sales_dims(inv)
    invoices = FactTable(
        {
            "cell": cell(inv_dims),
            "month": month_of_days(day_numbers(inv["posting_date"])),
            "quantity": inv["quantity"].to_numpy(dtype=float),
            "amount": inv["amount"].to_numpy(dtype=float),
            "cost_amount": inv["cost_amount"].to_numpy(dtype=float),
        },
        inv_dims,
    )

    sb = data["sales_budget"]
    sb_dims = sales_dims(sb)
    sales_budget = FactTable(
        {
            "cell": cell(sb_dims),
            "month": month_of_periods(sb["period"]),
            "quantity": sb["quantity"].to_numpy(dtype=float),
            "amount": sb["amount"].to_numpy(dtype=float),
        },
        sb_dims,
    )

    rc = data["purchase_receipts"]
    receipts = FactTable(
        {
            "day": day_numbers(rc["receipt_date"]),
            "expected_day": day_numbers(rc["expected_receipt_date"]),
        },
        {**item_dims(rc), "vendor": categorical(rc["vendor_no"])},
    )

    po = data["production_orders"]
    production = FactTable(
        {
            "due_day": day_numbers(po["due_date"]),
            "finished_day": day_numbers(po["finished_date"]),
            "planned": po["planned_quantity"].to_numpy(dtype=float),
            "finished": po["finished_quantity"].fillna(0).to_numpy(dtype=float),
        },
        {**item_dims(po), "location": categorical(po["location_code"], location_keys),
         "work_center": categorical(po["work_center"])},
    )

    stock = data["inventory"]
    inventory = FactTable(
        {
            "month": month_of_periods(stock["period"]),
            "quantity": stock["quantity"].to_numpy(dtype=float),
            "value": stock["value"].to_numpy(dtype=float),
        },
        {**item_dims(stock), "location": categorical(stock["location_code"], location_keys)},
    )

    op = data["opportunities"]
    close = day_numbers(op["close_date"])
    expected = day_numbers(op["expected_close_date"])
    opportunities = FactTable(
        {
            "close_month": month_of_days(np.where(close != NO_DAY, close, expected)),
            "expected_month": month_of_days(expected),
            "amount": op["amount"].to_numpy(dtype=float),
            "won": op["status"].eq("won").to_numpy(),
            "lost": op["status"].eq("lost").to_numpy(),
            "commit": op["commit"].fillna(False).to_numpy(dtype=bool),
        },
        {
            "salesperson": categorical(op["salesperson"]),
            "customer": categorical(op["customer_no"]),
            "item": categorical(op["item_no"]),
            "category": categorical(op["item_no"].map(category_of)),
        },
    )

    return Facts(
        sales_lines, shipments, invoices, sales_budget, receipts, production, inventory,
        opportunities, np.unique(inventory["month"]),
        np.asarray(categorical(pd.Series(item_keys).map(category_of), category_keys).codes),
        month_errors(invoices, sales_budget),
    )


def month_errors(invoices: FactTable, budget: FactTable) -> tuple[int, np.ndarray,
                                                                   np.ndarray] | None:
    """:attr:`Facts.month_errors` of these invoices and sales-budget lines (one pass each,
    once per load)."""
    tables = [t for t in (invoices, budget) if len(t)]
    if not tables:
        return None
    first = min(int(t["month"].min()) for t in tables)
    size = max(int(t["month"].max()) for t in tables) - first + 1
    err, rows = np.zeros(size), np.zeros(size)
    for table, sign in ((invoices, 1.0), (budget, -1.0)):
        if not len(table):
            continue
        at = table["month"] - first
        err += sign * np.bincount(at, weights=table["amount"], minlength=size)
        rows += np.bincount(at, weights=(table["amount"] != 0) | (table["quantity"] != 0),
                            minlength=size)
    return first, err, rows > 0
