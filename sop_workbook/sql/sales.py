"""Sales and customer aggregates in SQL: ``agg_sales``, ``agg_customer``, ``agg_item_mix``.

The same figures as :mod:`sop_workbook.aggregate_tables` (``sales_aggregate``,
``customer_aggregate``) and :mod:`sop_workbook.plan_inputs` (``item_mix_aggregate``),
computed in the database from the staged tables. Dimensions of a sales line, shipment,
invoice or budget line: ``item_no``, the item's ``category``, ``location_code``,
``customer_no`` and the customer's ``salesperson`` (blank → ``(none)``). A line's *due
date* on the promised basis is ``COALESCE(promised_date, requested_date)``, on the
requested basis ``COALESCE(requested_date, promised_date)``. ``tol`` = tolerance days.

Columns (each Σ over the rows of its period × grain cell):

- ``otd_lines`` = # shipment lines that are deliveries, by month of ``shipment_date``;
  ``otd_on_time`` = # of them with ``shipment_date ≤ due date (promised basis) + tol``;
  ``shipped_qty`` = Σ shipment ``quantity`` (net: negative lines included). A delivery is
  a line with a positive quantity that the negative lines of its sales line do not
  cancel in full (:func:`sop_workbook.kpi.facts.delivery_flags`: in order of shipment
  date, positive before negative on a day, shipment_no, line_no, with C the running net
  quantity of the sales line, min(C from the line on) > C before it).
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

import pandas as pd

from ..aggregate_tables import CUSTOMER_COLUMNS, CUSTOMER_GRAIN, SALES_COLUMNS, SALES_GRAIN
from ..kpi.options import KpiOptions
from ..plan_inputs import MIX_COLUMNS
from .group_by import MONTH, NONE_LABEL, Part, query_finished, union_sum
from .sources import Source
from .validation import staged

#: The staged tables :func:`prepare` reads (and nothing else: see :func:`release`).
PREPARED_FROM = ("sales_lines", "sales_shipments")
SHIPS = "sop_ships"  # shipment lines with their sales line's dimensions and on-time flags
FILL = "sop_fill"  # sales lines due (quantity > 0) with their on-time shipped quantity

_KEYS = ("item_no", "location_code", "customer_no")  # category, salesperson joined after
#: where the dialect has ``grouping_sets``: the shipment, due-line and invoice sums by
#: month × item × location (``sop_set`` = 1) and by month × customer (``sop_set`` = 0)
GROUPED = {"ships": "sop_g_ships", "fill": "sop_g_fill", "invoices": "sop_g_invoices"}
_ITEM_GRAIN, _CUSTOMER_GRAIN = ("item_no", "location_code"), ("customer_no",)


def _measures(d) -> dict[str, dict[str, str]]:
    """The measures each sales fact contributes (SQL over its relation's columns)."""
    eps = f"CAST(1e-9 AS {d.double_type})"
    q = d.quote
    return {
        "ships": {"otd_lines": "delivery", "otd_on_time": "on_time * delivery",
                  "shipped_qty": "quantity"},
        "fill": {"fill_lines_due": "1",
                 "fill_lines_filled": f"CASE WHEN shipped >= quantity - {eps} THEN 1 ELSE 0 END",
                 "fill_qty_due": "quantity",
                 "fill_qty_on_time": "CASE WHEN shipped < quantity THEN shipped ELSE quantity END"},
        "invoices": {"invoiced_qty": f"v.{q('quantity')}", "invoiced_amount": f"v.{q('amount')}",
                     "cogs": f"v.{q('cost_amount')}"},
    }


def _due_only(measures: dict[str, str], d) -> dict[str, str]:
    """The fill measures of a relation of every sales line: 0 where ``sop_due`` is 0 (a
    line without a due date or quantity). Sums of a group with a due line are those of
    its due lines: the others add +0.0, which changes no sum."""
    zero = f"CAST(0 AS {d.double_type})"
    return {name: "sop_due" if sql == "1" else f"CASE WHEN sop_due = 1 THEN {sql} ELSE {zero} END"
            for name, sql in measures.items()}


def gathered_values(src: Source, table: str) -> dict[str, str]:
    """After :func:`prepare` (``sales_lines``) or :func:`prepare_invoices`
    (``sales_invoices``): column → a relation holding every value the table's
    ``item_no``, ``location_code`` and ``customer_no`` take (the grouped sums, whose groups
    cover every row: a few hundred thousand rows instead of millions), for the table's
    reference checks; {} where they were not made."""
    grouped = GROUPED["fill" if table == "sales_lines" else "invoices"]
    if grouped not in src.materialized:
        return {}
    return {col: f"(SELECT {col} FROM {grouped} WHERE sop_set = {int(col != 'customer_no')})"
            for col in _KEYS}


def _grouping_sets(src: Source, relation: str, grain: dict[str, str],
                   measures: dict[str, str]) -> str:
    """SQL: ``relation``'s ``measures`` summed by month × item × location and by month ×
    customer in one pass (``grain``: MONTH and the three keys → SQL)."""
    d = src.dialect
    inner = ", ".join([*(f"{sql} AS {name}" for name, sql in grain.items()),
                       *(f"{sql} AS {name}" for name, sql in measures.items())])
    sums = ", ".join(f"CAST(SUM({name}) AS {d.double_type}) AS {name}" for name in measures)
    sets = (f"({MONTH}, {', '.join(_ITEM_GRAIN)}), ({MONTH}, {', '.join(_CUSTOMER_GRAIN)})")
    return (f"SELECT {MONTH}, {', '.join(_KEYS)}, GROUPING(customer_no) AS sop_set, {sums} "
            f"FROM (SELECT {inner} FROM {relation}) AS sop_f GROUP BY GROUPING SETS ({sets})")


def prepare(src: Source, options: KpiOptions) -> None:
    """Materialise the shipment and fill relations both aggregates read."""
    d = src.dialect
    q = d.quote
    tol = str(int(options.tolerance_days))

    def due(basis: str, alias: str = "l") -> str:
        first, second = ("promised_date", "requested_date") if basis == "promised" else (
            "requested_date", "promised_date")
        return f"COALESCE({alias}.{q(first)}, {alias}.{q(second)})"

    keys = ", ".join(f"l.{q(k)} AS {k}" for k in _KEYS)
    shipped = f"s.{q('shipment_date')}"
    # a shipment's sales line: its row id where the database has one (cheaper to group
    # and join on than the two key columns), else its key
    row_id = src.row_id("l")
    if row_id is not None:
        line, line_cols, line_match = f"{row_id} AS line_id", "line_id", f"f.line_id = {row_id}"
    else:
        line = f"s.{q('order_no')} AS order_no, s.{q('order_line_no')} AS line_no"
        line_cols = "order_no, line_no"
        line_match = f"f.order_no = l.{q('order_no')} AND f.line_no = l.{q('line_no')}"
    qty = f"s.{q('quantity')}"
    negatives = src.query(f"SELECT COUNT(*) AS n FROM {staged('sales_shipments')} AS s "
                          f"WHERE {qty} < 0").iloc[0]["n"]
    joined = (
        f"SELECT {line}, {keys}, "
        f"{d.month_index(shipped)} AS {MONTH}, {qty} AS quantity, "
        f"CASE WHEN {shipped} <= {d.add_days(due('promised'), tol)} THEN 1 ELSE 0 END "
        f"AS on_time, "
        f"CASE WHEN {shipped} <= {d.add_days(due(options.fill_basis), tol)} "
        f"THEN {qty} ELSE 0 END AS fill_qty"
    )
    # where a line has a row id, every shipment is kept (LEFT JOIN): a shipment whose
    # sales line is unknown has none, which answers the reference check of the shipments
    # (:func:`shipments_all_known`) without joining the two tables a second time
    join = "LEFT JOIN" if row_id is not None else "JOIN"
    source = (
        f"FROM {staged('sales_shipments')} AS s {join} {staged('sales_lines')} AS l "
        f"ON l.{q('order_no')} = s.{q('order_no')} AND l.{q('line_no')} = s.{q('order_line_no')}"
    )
    if not int(negatives or 0):  # no undo or correction: every positive line delivers
        src.materialize(SHIPS, f"{joined}, CASE WHEN {qty} > 0 THEN 1 ELSE 0 END AS delivery "
                               f"{source}")
    else:
        part = (f"PARTITION BY s.{q('order_no')}, s.{q('order_line_no')} "
                f"ORDER BY {shipped}, CASE WHEN {qty} < 0 THEN 1 ELSE 0 END, "
                f"s.{q('shipment_no')}, s.{q('line_no')}")
        running = f"SUM({qty}) OVER ({part} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
        cols = ", ".join([*line_cols.split(", "), *_KEYS, MONTH, "quantity", "on_time",
                          "fill_qty"])
        src.materialize(SHIPS, (
            f"SELECT {cols}, CASE WHEN quantity > 0 AND lowest_after > "
            f"running - quantity + CAST(1e-9 AS {d.double_type}) THEN 1 ELSE 0 END "
            f"AS delivery FROM (SELECT *, MIN(running) OVER (PARTITION BY sop_k1, sop_k2 "
            f"ORDER BY sop_seq ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) "
            f"AS lowest_after FROM ({joined}, {running} AS running, "
            f"s.{q('order_no')} AS sop_k1, s.{q('order_line_no')} AS sop_k2, "
            f"ROW_NUMBER() OVER ({part}) AS sop_seq {source}) AS sop_r) AS sop_d"
        ))
    fill_due = due(options.fill_basis)
    per_line = (f"(SELECT {line_cols}, SUM(fill_qty) AS shipped FROM {SHIPS} "
                f"GROUP BY {line_cols}) AS f")

    is_due = f"{fill_due} IS NOT NULL AND l.{q('quantity')} > 0"

    def fill(lines_with_shipped: str) -> str:
        return (
            f"SELECT {keys}, {d.month_index(fill_due)} AS {MONTH}, "
            f"l.{q('quantity')} AS quantity, COALESCE(f.shipped, 0) AS shipped "
            f"FROM {lines_with_shipped} WHERE {is_due}")

    if not d.grouping_sets:
        src.materialize(FILL, fill(f"{staged('sales_lines')} AS l LEFT JOIN {per_line} "
                                   f"ON {line_match}"))
        return
    # both grains summed here; the due lines are not kept, the shipments once counted.
    # Every sales line is summed, the measures over the due lines only (sop_due; the
    # groups without one are left out where the sums are read): the groups then hold
    # every item, location and customer of the sales lines, for their reference checks
    # (:func:`gathered_values`)
    plain = {name: name for name in (MONTH, *_KEYS)}
    measures = _measures(d)

    def sum_fill(lines_with_shipped: str) -> None:
        every_line = (f"SELECT {keys}, {d.month_index(fill_due)} AS {MONTH}, "
                      f"l.{q('quantity')} AS quantity, COALESCE(f.shipped, 0) AS shipped, "
                      f"CASE WHEN {is_due} THEN 1 ELSE 0 END AS sop_due "
                      f"FROM {lines_with_shipped}")
        src.materialize(GROUPED["fill"], _grouping_sets(
            src, f"({every_line}) AS sop_l", plain, _due_only(measures["fill"], d)))

    if row_id is not None and src.positional:
        # each line's on-time shipped quantity summed by its row id outside the database
        # (an array indexed by it) and paired with the lines by position: no hash table of
        # one group per sales line, no join of the lines with it
        rows = int(src.query(f"SELECT COUNT(*) AS n FROM {staged('sales_lines')}"
                             ).iloc[0]["n"])
        sums = src.sums_by_row_id(f"SELECT line_id, fill_qty FROM {SHIPS} "
                                  f"WHERE line_id IS NOT NULL AND fill_qty <> 0", rows)
        with src.by_position("sop_line_shipped", pd.DataFrame({"shipped": sums})) as name:
            sum_fill(f"{staged('sales_lines')} AS l POSITIONAL JOIN {name} AS f")
    else:
        sum_fill(f"{staged('sales_lines')} AS l LEFT JOIN {per_line} ON {line_match}")
    src.materialize(GROUPED["ships"], _grouping_sets(src, SHIPS, plain, measures["ships"]))
    if row_id is not None:
        src.notes["unmatched_shipments"] = _unmatched(src)
    src.release(SHIPS)


def prepare_invoices(src: Source) -> None:
    """Where the dialect has ``grouping_sets``: the invoice sums of both grains."""
    d = src.dialect
    if not d.grouping_sets:
        return
    q = d.quote
    grain = {MONTH: d.month_index(f"v.{q('posting_date')}"),
             **{k: f"v.{q(k)}" for k in _KEYS}}
    src.materialize(GROUPED["invoices"], _grouping_sets(
        src, f"{staged('sales_invoices')} AS v", grain, _measures(d)["invoices"]))


def _unmatched(src: Source) -> int:
    found = src.query(f"SELECT COUNT(*) AS n FROM {SHIPS} WHERE line_id IS NULL")
    return int(found.iloc[0]["n"] or 0)


def shipments_all_known(src: Source) -> bool:
    """After :func:`prepare`: has every shipment a sales line (so the reference
    ``order_no+order_line_no`` → sales_lines needs no check of its own)? False where it
    cannot tell (no row ids, :func:`prepare` not run): the reference is then checked."""
    if src.row_id("l") is None:
        return False
    if "unmatched_shipments" in src.notes:
        return not src.notes["unmatched_shipments"]
    return SHIPS in src.materialized and not _unmatched(src)


def release(src: Source) -> None:
    """Drop the staged sales lines and shipments (once :func:`prepare` and their checks
    have read them: nothing else does)."""
    for table in PREPARED_FROM:
        src.release(staged(table))


def _sales_parts(src: Source, keys: list[str]) -> list[Part]:
    """The contributions common to agg_sales and agg_customer, grouped by month and
    ``keys`` (some of item_no, location_code, customer_no)."""
    d = src.dialect
    q = d.quote

    def grain(month: str, alias: str | None) -> dict[str, str]:
        return {MONTH: month, **{k: f"{alias}.{q(k)}" if alias else k for k in keys}}

    budget = Part(f"{staged('sales_budget')} AS v",
                  grain(d.period_index(f"v.{q('period')}"), "v"),
                  {"budget_qty": f"v.{q('quantity')}", "budget_amount": f"v.{q('amount')}"})
    measures = _measures(d)
    if d.grouping_sets:  # the sums of :func:`prepare` and :func:`prepare_invoices`
        which = 1 if tuple(keys) == _ITEM_GRAIN else 0
        due = {"fill": " AND fill_lines_due > 0"}  # see prepare: groups of due lines
        return [Part(f"{GROUPED[fact]} WHERE sop_set = {which}{due.get(fact, '')}",
                     grain(MONTH, None), {name: name for name in measures[fact]})
                for fact in ("ships", "fill", "invoices")] + [budget]
    return [
        Part(SHIPS, grain(MONTH, None), measures["ships"]),
        Part(FILL, grain(MONTH, None), measures["fill"]),
        Part(f"{staged('sales_invoices')} AS v",
             grain(d.month_index(f"v.{q('posting_date')}"), "v"), measures["invoices"]),
        budget,
    ]


def _attach(src: Source, sql: str, keys: list[str], table: str, key: str, column: str,
            grain_out: list[str], measures: list[str]) -> str:
    """Wrap an aggregate query: add ``column`` of the master ``table`` by ``key`` (blank →
    ``(none)``), selecting the grain and measures in order."""
    q = src.dialect.quote
    none = f"'{NONE_LABEL}'"
    cols = []
    for g in grain_out:
        if g == column:
            cols.append(f"COALESCE(m.{q(column)}, {none}) AS {q(column)}")
        else:
            cols.append(f"a.{q(g)}")
    cols += [f"a.{q(m)}" for m in measures]
    return (f"SELECT {', '.join(cols)} FROM ({sql}) AS a LEFT JOIN {staged(table)} AS m "
            f"ON m.{q(key)} = a.{q(key)}")


def agg_sales(src: Source) -> object:
    """``agg_sales``: period × item × category × location (see the module docstring)."""
    d = src.dialect
    q = d.quote
    keys = ["item_no", "location_code"]
    parts = _sales_parts(src, keys)
    parts.append(Part(
        f"{staged('inventory')} AS v",
        {MONTH: d.period_index(f"v.{q('period')}"), "item_no": f"v.{q('item_no')}",
         "location_code": f"v.{q('location_code')}"},
        {"on_hand_qty": f"v.{q('quantity')}", "inventory_value": f"v.{q('value')}"}))
    measures = [m for m in SALES_COLUMNS if m != "forecast_abs_error"]
    sql = union_sum(parts, [MONTH, *keys], measures, d, final={
        "forecast_abs_error": "ABS({invoiced_amount} - {budget_amount})"})
    sql = _attach(src, sql, keys, "items", "item_no", "category",
                  [MONTH, "item_no", "category", "location_code"], SALES_COLUMNS)
    return query_finished(src, sql, SALES_GRAIN, SALES_COLUMNS)


def agg_customer(src: Source) -> object:
    """``agg_customer``: period × customer × salesperson (see the module docstring)."""
    d = src.dialect
    q = d.quote
    keys = ["customer_no"]
    parts = _sales_parts(src, keys)
    cell = ["customer_no", "item_no", "location_code"]
    # the forecast cells: invoices summed per month × customer × item × location, joined
    # with the sales budget (one row per such cell: its key)
    inv = (f"SELECT {d.month_index('v.' + q('posting_date'))} AS {MONTH}, "
           f"{', '.join(f'v.{q(k)} AS {k}' for k in cell)}, SUM(v.{q('amount')}) AS a "
           f"FROM {staged('sales_invoices')} AS v GROUP BY "
           f"{d.month_index('v.' + q('posting_date'))}, {', '.join(f'v.{q(k)}' for k in cell)}")
    bud = (f"SELECT {d.period_index('b.' + q('period'))} AS {MONTH}, "
           f"{', '.join(f'b.{q(k)} AS {k}' for k in cell)}, b.{q('amount')} AS f "
           f"FROM {staged('sales_budget')} AS b")
    if d.joins_sums:
        inv = _invoice_cells(src)
    on = " AND ".join(f"i.{k} = b.{k}" for k in [MONTH, *cell])
    cells = (f"(SELECT COALESCE(i.{MONTH}, b.{MONTH}) AS {MONTH}, "
             f"COALESCE(i.customer_no, b.customer_no) AS customer_no, "
             f"ABS(COALESCE(i.a, 0) - COALESCE(b.f, 0)) AS err "
             f"FROM ({inv}) AS i FULL OUTER JOIN ({bud}) AS b ON {on}) AS sop_cells")
    parts.append(Part(cells, {MONTH: MONTH, "customer_no": "customer_no"},
                      {"forecast_abs_error": "err"}))
    sql = union_sum(parts, [MONTH, *keys], CUSTOMER_COLUMNS, d)
    sql = _attach(src, sql, keys, "customers", "customer_no", "salesperson",
                  [MONTH, "customer_no", "salesperson"], CUSTOMER_COLUMNS)
    return query_finished(src, sql, CUSTOMER_GRAIN, CUSTOMER_COLUMNS)


def _invoice_cells(src: Source) -> str:
    """The invoices' forecast cells for :func:`agg_customer` without grouping every
    invoice by month × customer × item × location (at 10 M lines nearly one group per
    invoice). Only the cells whose |Σ A − F| is not simply Σ A are grouped so: cells of
    a budget line, and cells holding a negative amount (``sop_k``, matched with
    ``IS NOT DISTINCT FROM``: a cell taken in for nothing is still exact). Every other
    cell has no budget line and no negative amount, so its |Σ A − 0| = Σ A: its invoices
    are summed by month × customer (item and location NULL, which matches no budget
    line), the same Σ over the customer's cells. Needs hash joins on ``IS NOT DISTINCT
    FROM`` (:attr:`Dialect.joins_sums`)."""
    d = src.dialect
    q = d.quote
    cell = ["customer_no", "item_no", "location_code"]
    month = d.month_index(f"v.{q('posting_date')}")
    amount = f"v.{q('amount')}"
    keys = (f"SELECT {d.period_index('b.' + q('period'))} AS {MONTH}, "
            f"{', '.join(f'b.{q(k)} AS {k}' for k in cell)}, 1 AS sop_hit "
            f"FROM {staged('sales_budget')} AS b "
            f"UNION SELECT {month}, {', '.join(f'v.{q(k)}' for k in cell)}, 1 "
            f"FROM {staged('sales_invoices')} AS v WHERE {amount} < 0")
    match = " AND ".join([f"sop_k.{MONTH} IS NOT DISTINCT FROM {month}",
                          *(f"sop_k.{c} IS NOT DISTINCT FROM v.{q(c)}" for c in cell)])
    exact = "sop_k.sop_hit IS NOT NULL"
    item = f"CASE WHEN {exact} THEN v.{q('item_no')} END"
    location = f"CASE WHEN {exact} THEN v.{q('location_code')} END"
    return (f"SELECT {month} AS {MONTH}, v.{q('customer_no')} AS customer_no, "
            f"{item} AS item_no, {location} AS location_code, SUM({amount}) AS a "
            f"FROM {staged('sales_invoices')} AS v LEFT JOIN ({keys}) AS sop_k ON {match} "
            f"GROUP BY {month}, v.{q('customer_no')}, {item}, {location}, {exact}")


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
    return query_finished(src, union_sum([part], grain, MIX_COLUMNS, d), grain,
                          MIX_COLUMNS)
