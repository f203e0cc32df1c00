"""Sales and customer aggregates in SQL: ``agg_sales``, ``agg_customer``, ``agg_item_mix``.

The same figures as :mod:`sop_workbook.aggregates` (``sales_aggregate``,
``customer_aggregate``) and :mod:`sop_workbook.plan_inputs` (``item_mix_aggregate``),
computed in the database from the staged tables. Dimensions of a sales line, shipment,
invoice or budget line: ``item_no``, the item's ``category``, ``location_code``,
``customer_no`` and the customer's ``salesperson`` (blank → ``(none)``). A line's *due
date* on the promised basis is ``COALESCE(promised_date, requested_date)``, on the
requested basis ``COALESCE(requested_date, promised_date)``. ``tol`` = tolerance days.

Columns (each Σ over the rows of its period × grain cell):

- ``otd_lines`` = # shipment lines, by month of ``shipment_date``;
  ``otd_on_time`` = # of them with ``shipment_date ≤ due date (promised basis) + tol``;
  ``shipped_qty`` = Σ shipment ``quantity``.
- ``fill_lines_due`` = # sales lines with ``quantity > 0``, by month of the due date on the
  configured fill basis; ``fill_lines_filled`` = # of them whose on-time shipped quantity
  (Σ of the line's shipment quantities dated ≤ due date + tol) ≥ ``quantity − 1e-9``;
  ``fill_qty_due`` = Σ ``quantity``; ``fill_qty_on_time`` = Σ min(on-time shipped, quantity).
- ``invoiced_qty``, ``invoiced_amount``, ``cogs`` = Σ invoice ``quantity``, ``amount``,
  ``cost_amount``, by month of ``posting_date``.
- ``budget_qty``, ``budget_amount`` = Σ sales-budget ``quantity``, ``amount`` by ``period``.
- ``on_hand_qty``, ``inventory_value`` (``agg_sales`` only) = Σ inventory ``quantity``,
  ``value`` by ``period`` (period-end stock).
- ``forecast_abs_error``: in ``agg_sales`` |Σ invoiced_amount − Σ budget_amount| of the
  period × item × location cell; in ``agg_customer`` Σ over the customer's
  item × location cells of |Σ A − Σ F| (A invoiced amount, F budget amount).
- ``agg_item_mix``: item × the customer's ``gen_bus_posting_group`` (blank → ``''``) over all
  invoices: ``invoiced_qty``, ``invoiced_amount``, ``cost_amount``.
"""

from __future__ import annotations

from ..aggregates import CUSTOMER_COLUMNS, CUSTOMER_GRAIN, SALES_COLUMNS, SALES_GRAIN
from ..plan_inputs import MIX_COLUMNS
from ..scorecard import KpiOptions
from .frames import MONTH, NONE_LABEL, Part, finish, union_sum
from .sources import Source
from .validation import staged

LINES = "sop_lines"  # sales lines with their dimensions and due dates
SHIPS = "sop_ships"  # shipment lines with their sales line's dimensions and on-time flags
FILL = "sop_fill"  # sales lines due (quantity > 0) with their on-time shipped quantity

_DIMS = ("item_no", "category", "location_code", "customer_no", "salesperson")


def prepare(src: Source, options: KpiOptions) -> None:
    """Materialise the sales-line, shipment and fill relations both aggregates read."""
    d = src.dialect
    q = d.quote
    tol = int(options.tolerance_days)
    none = f"'{NONE_LABEL}'"
    src.materialize(LINES, (
        f"SELECT l.{q('order_no')} AS order_no, l.{q('line_no')} AS line_no, "
        f"COALESCE(l.{q('item_no')}, {none}) AS item_no, "
        f"COALESCE(i.{q('category')}, {none}) AS category, "
        f"COALESCE(l.{q('location_code')}, {none}) AS location_code, "
        f"COALESCE(l.{q('customer_no')}, {none}) AS customer_no, "
        f"COALESCE(cu.{q('salesperson')}, {none}) AS salesperson, "
        f"l.{q('quantity')} AS quantity, "
        f"COALESCE(l.{q('promised_date')}, l.{q('requested_date')}) AS due_promised, "
        f"COALESCE(l.{q('requested_date')}, l.{q('promised_date')}) AS due_requested "
        f"FROM {staged('sales_lines')} AS l "
        f"LEFT JOIN {staged('items')} AS i ON i.{q('item_no')} = l.{q('item_no')} "
        f"LEFT JOIN {staged('customers')} AS cu ON cu.{q('customer_no')} = l.{q('customer_no')}"
    ))
    fill_due = "due_promised" if options.fill_basis == "promised" else "due_requested"
    dims = ", ".join(f"l.{c}" for c in _DIMS)
    src.materialize(SHIPS, (
        f"SELECT s.{q('order_no')} AS order_no, s.{q('order_line_no')} AS line_no, {dims}, "
        f"{d.month_index('s.' + q('shipment_date'))} AS {MONTH}, "
        f"s.{q('quantity')} AS quantity, "
        f"CASE WHEN s.{q('shipment_date')} <= {d.add_days('l.due_promised', str(tol))} "
        f"THEN 1 ELSE 0 END AS on_time, "
        f"CASE WHEN s.{q('shipment_date')} <= {d.add_days('l.' + fill_due, str(tol))} "
        f"THEN s.{q('quantity')} ELSE 0 END AS fill_qty "
        f"FROM {staged('sales_shipments')} AS s JOIN {LINES} AS l "
        f"ON l.order_no = s.{q('order_no')} AND l.line_no = s.{q('order_line_no')}"
    ))
    src.materialize(FILL, (
        f"SELECT {dims}, {d.month_index('l.' + fill_due)} AS {MONTH}, l.quantity, "
        f"COALESCE(f.shipped, 0) AS shipped "
        f"FROM {LINES} AS l LEFT JOIN (SELECT order_no, line_no, SUM(fill_qty) AS shipped "
        f"FROM {SHIPS} GROUP BY order_no, line_no) AS f "
        f"ON f.order_no = l.order_no AND f.line_no = l.line_no "
        f"WHERE l.{fill_due} IS NOT NULL AND l.quantity > 0"
    ))


def _invoice_source(src: Source) -> str:
    q = src.dialect.quote
    return (f"{staged('sales_invoices')} AS v "
            f"LEFT JOIN {staged('items')} AS i ON i.{q('item_no')} = v.{q('item_no')} "
            f"LEFT JOIN {staged('customers')} AS cu ON cu.{q('customer_no')} = "
            f"v.{q('customer_no')}")


def _budget_source(src: Source) -> str:
    q = src.dialect.quote
    return (f"{staged('sales_budget')} AS v "
            f"LEFT JOIN {staged('items')} AS i ON i.{q('item_no')} = v.{q('item_no')} "
            f"LEFT JOIN {staged('customers')} AS cu ON cu.{q('customer_no')} = "
            f"v.{q('customer_no')}")


def _dims_of(src: Source, alias: str) -> dict[str, str]:
    """Dimension expressions of an invoice / budget row (alias v, items i, customers cu)."""
    q = src.dialect.quote
    none = f"'{NONE_LABEL}'"
    return {"item_no": f"COALESCE({alias}.{q('item_no')}, {none})",
            "category": f"COALESCE(i.{q('category')}, {none})",
            "location_code": f"COALESCE({alias}.{q('location_code')}, {none})",
            "customer_no": f"COALESCE({alias}.{q('customer_no')}, {none})",
            "salesperson": f"COALESCE(cu.{q('salesperson')}, {none})"}


def _sales_parts(src: Source, grain_dims: list[str]) -> list[Part]:
    """The contributions common to agg_sales and agg_customer, at the given dimensions."""
    d = src.dialect
    q = d.quote
    eps = f"CAST(1e-9 AS {d.double_type})"
    dims = _dims_of(src, "v")

    def grain(month: str, exprs: dict[str, str]) -> dict[str, str]:
        return {MONTH: month, **{g: exprs[g] for g in grain_dims}}

    line_dims = {c: c for c in _DIMS}
    return [
        Part(SHIPS, grain(MONTH, line_dims),
             {"otd_lines": "1", "otd_on_time": "on_time", "shipped_qty": "quantity"}),
        Part(FILL, grain(MONTH, line_dims),
             {"fill_lines_due": "1",
              "fill_lines_filled": f"CASE WHEN shipped >= quantity - {eps} THEN 1 ELSE 0 END",
              "fill_qty_due": "quantity",
              "fill_qty_on_time": "CASE WHEN shipped < quantity THEN shipped ELSE quantity END"}),
        Part(_invoice_source(src), grain(d.month_index(f"v.{q('posting_date')}"), dims),
             {"invoiced_qty": f"v.{q('quantity')}", "invoiced_amount": f"v.{q('amount')}",
              "cogs": f"v.{q('cost_amount')}"}),
        Part(_budget_source(src), grain(d.period_index(f"v.{q('period')}"), dims),
             {"budget_qty": f"v.{q('quantity')}", "budget_amount": f"v.{q('amount')}"}),
    ]


def agg_sales(src: Source) -> object:
    """``agg_sales``: period × item × category × location (see the module docstring)."""
    d = src.dialect
    q = d.quote
    dims = ["item_no", "category", "location_code"]
    parts = _sales_parts(src, dims)
    none = f"'{NONE_LABEL}'"
    parts.append(Part(
        f"{staged('inventory')} AS v LEFT JOIN {staged('items')} AS i "
        f"ON i.{q('item_no')} = v.{q('item_no')}",
        {MONTH: d.period_index(f"v.{q('period')}"),
         "item_no": f"COALESCE(v.{q('item_no')}, {none})",
         "category": f"COALESCE(i.{q('category')}, {none})",
         "location_code": f"COALESCE(v.{q('location_code')}, {none})"},
        {"on_hand_qty": f"v.{q('quantity')}", "inventory_value": f"v.{q('value')}"}))
    measures = [m for m in SALES_COLUMNS if m != "forecast_abs_error"]
    sql = union_sum(parts, [MONTH, *dims], measures, d, final={
        "forecast_abs_error": f"ABS(SUM({q('invoiced_amount')}) - SUM({q('budget_amount')}))"})
    return finish(src.query(sql), SALES_GRAIN, SALES_COLUMNS)


def agg_customer(src: Source) -> object:
    """``agg_customer``: period × customer × salesperson (see the module docstring)."""
    d = src.dialect
    q = d.quote
    dims = ["customer_no", "salesperson"]
    parts = _sales_parts(src, dims)
    cell = ["customer_no", "salesperson", "item_no", "location_code"]
    inv_dims, bud_dims = _dims_of(src, "v"), _dims_of(src, "v")
    cells = union_sum(
        [Part(_invoice_source(src),
              {MONTH: d.month_index(f"v.{q('posting_date')}"), **{g: inv_dims[g] for g in cell}},
              {"a": f"v.{q('amount')}"}),
         Part(_budget_source(src),
              {MONTH: d.period_index(f"v.{q('period')}"), **{g: bud_dims[g] for g in cell}},
              {"f": f"v.{q('amount')}"})],
        [MONTH, *cell], ["a", "f"], d)
    parts.append(Part(f"({cells}) AS sop_cells",
                      {MONTH: q(MONTH), "customer_no": q("customer_no"),
                       "salesperson": q("salesperson")},
                      {"forecast_abs_error": f"ABS({q('a')} - {q('f')})"}))
    sql = union_sum(parts, [MONTH, *dims], CUSTOMER_COLUMNS, d)
    return finish(src.query(sql), CUSTOMER_GRAIN, CUSTOMER_COLUMNS)


def agg_item_mix(src: Source) -> object:
    """``agg_item_mix``: item × customer's gen_bus_posting_group over all invoices."""
    d = src.dialect
    q = d.quote
    part = Part(
        f"{staged('sales_invoices')} AS v LEFT JOIN {staged('customers')} AS cu "
        f"ON cu.{q('customer_no')} = v.{q('customer_no')}",
        {"item_no": f"v.{q('item_no')}",
         "gen_bus_posting_group": f"COALESCE(cu.{q('gen_bus_posting_group')}, '')"},
        {"invoiced_qty": f"v.{q('quantity')}", "invoiced_amount": f"v.{q('amount')}",
         "cost_amount": f"v.{q('cost_amount')}"})
    grain = ["item_no", "gen_bus_posting_group"]
    return finish(src.query(union_sum([part], grain, MIX_COLUMNS, d)), grain, MIX_COLUMNS)
