"""Supply-side and funnel aggregates in SQL.

``agg_vendor``, ``agg_production``, ``agg_funnel`` as :mod:`sop_workbook.aggregate_tables`
defines them, ``agg_pipeline``, ``agg_supply_open``, ``routings`` and ``capacity`` as
:mod:`sop_workbook.plan_inputs` does. A blank dimension value is ``(none)`` (as
``kpi.facts``); months are calendar months of the named date.

- ``agg_vendor`` — month of ``receipt_date`` × ``vendor_no`` × ``item_no`` × item
  ``category``: ``receipt_lines`` = # receipt lines; ``receipts_on_time`` = # with
  ``receipt_date ≤ expected_receipt_date + days_late`` and, when ``days_early`` is set,
  ``receipt_date ≥ expected_receipt_date − days_early`` (None = early is always on time).
- ``agg_production`` — month of ``due_date`` × item × category × location × ``work_center``:
  ``planned_qty`` = Σ ``planned_quantity``; ``attained_qty`` = Σ max(0, min(finished_quantity
  (empty → 0), planned_quantity)) over orders with ``finished_date ≤ due_date`` (0 for an
  order not finished by its due date).
- ``agg_funnel`` — month × opportunity ``salesperson`` × ``customer_no``: ``won`` / ``lost``
  = # opportunities of that status by month of ``close_date`` (empty → expected close
  date); ``won_amount`` = Σ ``amount`` of the won ones (same month); ``committed_amount``
  = Σ ``amount`` with ``commit`` true, by month of ``expected_close_date``.
- ``agg_pipeline`` — month of ``expected_close_date`` × ``item_no`` over open opportunities
  with an item and a quantity: ``open_qty`` = Σ quantity; ``commit_qty`` = Σ quantity where
  commit; ``weighted_qty`` = Σ quantity × p where not commit (p = probability, ÷ 100 when
  above 1, empty → 0); ``open_amount`` = Σ amount; ``commit_amount`` = Σ amount where commit.
- ``agg_supply_open`` — month × item × location: ``po_qty`` = Σ purchase-order
  ``outstanding_quantity`` by month of ``expected_receipt_date``; ``production_qty`` =
  Σ max(0, planned − finished (empty → 0)) of production orders with no ``finished_date``
  and a status other than finished/closed (any case), by month of ``due_date``.
- ``routings``, ``capacity`` — the contract columns, sorted by key.
"""

from __future__ import annotations

import pandas as pd

from .. import contract as c
from ..kpi.options import KpiOptions
from ..kpi.supply import receipt_on_time_sql
from ..plan_inputs import CLOSED_STATUSES, PIPELINE_COLUMNS, SUPPLY_COLUMNS
from .dialect import literal
from .group_by import MONTH, NONE_LABEL, Part, query_finished, text_column, union_sum
from .sources import Source
from .validation import staged

_NONE = f"'{NONE_LABEL}'"


def agg_vendor(src: Source, options: KpiOptions) -> pd.DataFrame:
    d = src.dialect
    q = d.quote
    received, expected = f"r.{q('receipt_date')}", f"r.{q('expected_receipt_date')}"
    on_time = receipt_on_time_sql(received, expected, options.days_early, options.days_late,
                                  d.add_days)
    part = Part(
        f"{staged('purchase_receipts')} AS r LEFT JOIN {staged('items')} AS i "
        f"ON i.{q('item_no')} = r.{q('item_no')}",
        {MONTH: d.month_index(received), "vendor_no": f"COALESCE(r.{q('vendor_no')}, {_NONE})",
         "item_no": f"COALESCE(r.{q('item_no')}, {_NONE})",
         "category": f"COALESCE(i.{q('category')}, {_NONE})"},
        {"receipt_lines": "1", "receipts_on_time": f"CASE WHEN {on_time} THEN 1 ELSE 0 END"})
    grain = ["vendor_no", "item_no", "category"]
    columns = ["receipt_lines", "receipts_on_time"]
    return query_finished(src, union_sum([part], [MONTH, *grain], columns, d),
                  ["period", *grain], columns)


def agg_production(src: Source) -> pd.DataFrame:
    d = src.dialect
    q = d.quote
    due, done = f"p.{q('due_date')}", f"p.{q('finished_date')}"
    planned = f"p.{q('planned_quantity')}"
    finished = f"COALESCE(p.{q('finished_quantity')}, 0)"
    capped = f"CASE WHEN {finished} < {planned} THEN {finished} ELSE {planned} END"
    attained = (f"CASE WHEN {done} IS NOT NULL AND {done} <= {due} THEN "
                f"CASE WHEN {capped} > 0 THEN {capped} ELSE 0 END ELSE 0 END")
    part = Part(
        f"{staged('production_orders')} AS p LEFT JOIN {staged('items')} AS i "
        f"ON i.{q('item_no')} = p.{q('item_no')}",
        {MONTH: d.month_index(due), "item_no": f"COALESCE(p.{q('item_no')}, {_NONE})",
         "category": f"COALESCE(i.{q('category')}, {_NONE})",
         "location_code": f"COALESCE(p.{q('location_code')}, {_NONE})",
         "work_center": f"COALESCE(p.{q('work_center')}, {_NONE})"},
        {"planned_qty": planned, "attained_qty": attained})
    grain = ["item_no", "category", "location_code", "work_center"]
    columns = ["planned_qty", "attained_qty"]
    return query_finished(src, union_sum([part], [MONTH, *grain], columns, d),
                  ["period", *grain], columns)


def agg_funnel(src: Source) -> pd.DataFrame:
    d = src.dialect
    q = d.quote
    status = f"o.{q('status')}"
    close_month = d.month_index(f"COALESCE(o.{q('close_date')}, o.{q('expected_close_date')})")
    dims = {"salesperson": f"COALESCE(o.{q('salesperson')}, {_NONE})",
            "customer_no": f"COALESCE(o.{q('customer_no')}, {_NONE})"}
    opp = f"{staged('opportunities')} AS o"
    parts = [
        Part(f"{opp} WHERE {status} IN ('won', 'lost')", {MONTH: close_month, **dims},
             {"won": f"CASE WHEN {status} = 'won' THEN 1 ELSE 0 END",
              "lost": f"CASE WHEN {status} = 'lost' THEN 1 ELSE 0 END",
              "won_amount": f"CASE WHEN {status} = 'won' THEN o.{q('amount')} ELSE 0 END"}),
        Part(f"{opp} WHERE o.{q('commit')}",
             {MONTH: d.month_index(f"o.{q('expected_close_date')}"), **dims},
             {"committed_amount": f"o.{q('amount')}"}),
    ]
    grain = ["salesperson", "customer_no"]
    columns = ["won", "lost", "committed_amount", "won_amount"]
    return query_finished(src, union_sum(parts, [MONTH, *grain], columns, d),
                  ["period", *grain], columns)


def agg_pipeline(src: Source) -> pd.DataFrame:
    d = src.dialect
    q = d.quote
    qty, amount, commit = f"o.{q('quantity')}", f"o.{q('amount')}", f"o.{q('commit')}"
    prob = f"o.{q('probability')}"
    p = (f"CASE WHEN {prob} IS NULL THEN 0 WHEN {prob} > 1 THEN {prob} / "
         f"CAST(100 AS {d.double_type}) ELSE {prob} END")
    part = Part(
        f"{staged('opportunities')} AS o WHERE o.{q('status')} = 'open' "
        f"AND o.{q('item_no')} IS NOT NULL AND {qty} IS NOT NULL",
        {MONTH: d.month_index(f"o.{q('expected_close_date')}"), "item_no": f"o.{q('item_no')}"},
        {"open_qty": qty,
         "commit_qty": f"CASE WHEN {commit} THEN {qty} ELSE 0 END",
         "weighted_qty": f"CASE WHEN {commit} THEN 0 ELSE {qty} * ({p}) END",
         "open_amount": amount,
         "commit_amount": f"CASE WHEN {commit} THEN {amount} ELSE 0 END"})
    return query_finished(src, union_sum([part], [MONTH, "item_no"], PIPELINE_COLUMNS, d),
                  ["period", "item_no"], PIPELINE_COLUMNS)


def agg_supply_open(src: Source) -> pd.DataFrame:
    d = src.dialect
    q = d.quote
    closed = ", ".join(literal(s) for s in CLOSED_STATUSES)
    remaining = f"p.{q('planned_quantity')} - COALESCE(p.{q('finished_quantity')}, 0)"
    parts = [
        Part(f"{staged('purchase_orders')} AS o",
             {MONTH: d.month_index(f"o.{q('expected_receipt_date')}"),
              "item_no": f"o.{q('item_no')}", "location_code": f"o.{q('location_code')}"},
             {"po_qty": f"o.{q('outstanding_quantity')}"}),
        Part(f"{staged('production_orders')} AS p WHERE p.{q('finished_date')} IS NULL "
             f"AND LOWER(TRIM(COALESCE(p.{q('status')}, ''))) NOT IN ({closed})",
             {MONTH: d.month_index(f"p.{q('due_date')}"),
              "item_no": f"p.{q('item_no')}", "location_code": f"p.{q('location_code')}"},
             {"production_qty": f"CASE WHEN {remaining} > 0 THEN {remaining} ELSE 0 END"}),
    ]
    grain = ["item_no", "location_code"]
    return query_finished(src, union_sum(parts, [MONTH, *grain], SUPPLY_COLUMNS, d),
                  ["period", *grain], SUPPLY_COLUMNS)


def copy_table(src: Source, name: str, order_by_key: bool = True) -> pd.DataFrame:
    """A staged table's contract columns, typed as the loader types them; sorted by key
    (``order_by_key``) or in file order (a file source) / key order (a database)."""
    d = src.dialect
    spec = c.TABLES[name]
    cols = ", ".join(d.quote(col) for col in spec.columns)
    row = src.row_number(name, staged(name))
    order = ", ".join(d.quote(k) for k in spec.key) if order_by_key or row is None else row
    frame = src.query(f"SELECT {cols} FROM {staged(name)} ORDER BY {order}")
    return typed_frame(spec, frame)


def typed_frame(spec: c.TableSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """Columns typed like the loader's frames (text object/None, numbers float64, whole
    numbers Int64, dates datetime64, booleans boolean)."""
    out = {}
    for col in spec.columns:
        kind = spec.type_of(col)
        values = frame[col]
        if kind == c.NUMBER:
            out[col] = pd.to_numeric(values, errors="coerce").astype("float64")
        elif kind == c.INT:
            out[col] = pd.to_numeric(values, errors="coerce").astype("Int64")
        elif kind == c.DATE:
            out[col] = pd.to_datetime(values).astype("datetime64[ns]")
        elif kind == c.BOOL:
            out[col] = values.astype("boolean")
        else:
            out[col] = text_column(values)
    return pd.DataFrame(out, index=range(len(frame)))


def agg_lead_time(src: Source) -> pd.DataFrame:
    """``agg_lead_time`` as :func:`sop_workbook.kpi.standards.lead_time_aggregate`: per
    month of ``order_date`` × the customer's salesperson × customer: ``lt_lines`` (lines
    whose item has a ``lead_time_days``), ``lt_adhered`` (of them, due date ≥ order date +
    lead time; the due date is the promised date, else the requested date; whole days, so
    ≥ order date + CEIL(lead time)), ``lt_without_standard`` (lines of items without)."""
    from ..kpi.standards import LEAD_TIME_COLUMNS, LEAD_TIME_GRAIN

    d = src.dialect
    q = d.quote
    order, lead = f"l.{q('order_date')}", f"i.{q('lead_time_days')}"
    due = f"COALESCE(l.{q('promised_date')}, l.{q('requested_date')})"
    standard = f"{lead} IS NOT NULL AND {due} IS NOT NULL"
    days = f"CAST(CEIL({lead}) AS INTEGER)"
    part = Part(
        f"{staged('sales_lines')} AS l LEFT JOIN {staged('items')} AS i "
        f"ON i.{q('item_no')} = l.{q('item_no')} LEFT JOIN {staged('customers')} AS cu "
        f"ON cu.{q('customer_no')} = l.{q('customer_no')} WHERE {order} IS NOT NULL",
        {MONTH: d.month_index(order),
         "salesperson": f"COALESCE(cu.{q('salesperson')}, {_NONE})",
         "customer_no": f"l.{q('customer_no')}"},
        {"lt_lines": f"CASE WHEN {standard} THEN 1 ELSE 0 END",
         "lt_adhered": f"CASE WHEN {standard} AND {due} >= {d.add_days(order, days)} "
                       f"THEN 1 ELSE 0 END",
         "lt_without_standard": f"CASE WHEN {standard} THEN 0 ELSE 1 END"})
    grain = LEAD_TIME_GRAIN[1:]
    return query_finished(src, union_sum([part], [MONTH, *grain], LEAD_TIME_COLUMNS, d),
                          LEAD_TIME_GRAIN, LEAD_TIME_COLUMNS)


def agg_labour(src: Source) -> pd.DataFrame:
    """``agg_labour`` as :func:`sop_workbook.kpi.standards.labour_aggregate`: per month ×
    work center: ``earned_hours`` = Σ finished_quantity (empty → 0) × routing
    hours_per_unit of the production orders by month of ``finished_date``, at each work
    center of the item's routing; ``worked_hours`` / ``worked_cost`` = Σ capacity-ledger
    ``hours`` / ``cost_amount`` (empty → 0) by month of ``posting_date``."""
    from ..kpi.standards import LABOUR_COLUMNS, LABOUR_GRAIN

    d = src.dialect
    q = d.quote
    done = f"p.{q('finished_date')}"
    posted = f"c.{q('posting_date')}"
    parts = [
        Part(f"{staged('production_orders')} AS p JOIN {staged('routings')} AS r "
             f"ON r.{q('item_no')} = p.{q('item_no')} WHERE {done} IS NOT NULL",
             {MONTH: d.month_index(done),
              "work_center": f"COALESCE(r.{q('work_center')}, {_NONE})"},
             {"earned_hours": f"COALESCE(p.{q('finished_quantity')}, 0) * "
                              f"r.{q('hours_per_unit')}"}),
        Part(f"{staged('capacity_ledger')} AS c WHERE {posted} IS NOT NULL",
             {MONTH: d.month_index(posted),
              "work_center": f"COALESCE(c.{q('work_center')}, {_NONE})"},
             {"worked_hours": f"c.{q('hours')}",
              "worked_cost": f"COALESCE(c.{q('cost_amount')}, 0)"}),
    ]
    grain = LABOUR_GRAIN[1:]
    return query_finished(src, union_sum(parts, [MONTH, *grain], LABOUR_COLUMNS, d),
                          LABOUR_GRAIN, LABOUR_COLUMNS)
