"""Finance tables in SQL: ``fin_budget_variance``, ``fin_budget_detail``, ``fin_unmapped``.

As :mod:`sop_workbook.kpi.finance` and *Refresh* build them:

- each sales-budget line is mapped to ``gl_account`` = ``posting_setup.sales_account`` of
  (the customer's ``gen_bus_posting_group``, the item's ``gen_prod_posting_group``); a line
  without such a setup row is *unmapped*; the same row's ``cogs_account`` (when it has
  one) receives the line's ``quantity`` × the item's ``unit_cost`` (cost of sales);
- ``fin_budget_variance`` — per ``gl_account`` × ``period`` present on either side:
  ``sales_budget`` = Σ mapped sales-budget ``amount`` on a sales account, Σ quantity ×
  unit cost on a COGS account; an account no setup row names is *outside the sales
  budget* (sales_budget, variance and variance_pct NULL, assessment ``outside the sales
  budget``); ``financial_budget`` = Σ
  ``gl_budget.amount`` in natural sign (with ``gl_income_sign='negative'`` the amounts of
  income accounts are negated); ``variance`` = sales_budget − financial_budget;
  ``variance_pct`` = variance ÷ |financial_budget| (NULL when 0); ``assessment`` =
  favourable / unfavourable by the sign of variance (reversed for expense accounts),
  ``on budget`` when 0; with the account's ``name`` and ``account_type``;
- ``fin_budget_detail`` — Σ mapped ``amount`` (revenue, or cost on a COGS account) per
  gl_account × period × customer × item × location;
- ``fin_unmapped`` — the unmapped lines: period, customer_no, item_no, both posting groups,
  amount (in file order for a file source, else by budget key).
"""

from __future__ import annotations

import pandas as pd

from ..errors import SopError
from ..kpi.finance import ASSESSMENTS, OUTSIDE, income_sign_warnings
from .group_by import sort_frame, sorted_sql, text_column
from .sources import Source
from .validation import staged

MAPPED = "sop_budget_gl"

VARIANCE_COLUMNS = ["gl_account", "name", "account_type", "period", "sales_budget",
                    "financial_budget", "variance", "variance_pct", "assessment"]
DETAIL_GRAIN = ["gl_account", "period", "customer_no", "item_no", "location_code"]
UNMAPPED_COLUMNS = ["period", "customer_no", "item_no", "gen_bus_posting_group",
                    "gen_prod_posting_group", "amount"]


def check_sign(gl_income_sign: str) -> None:
    if gl_income_sign not in ("positive", "negative"):
        raise SopError(f"gl income sign must be 'positive' or 'negative', not {gl_income_sign!r}")


def prepare(src: Source) -> None:
    """Materialise the sales budget with its posting groups and GL account (NULL: unmapped)."""
    q = src.dialect.quote
    # the budget's order: file order for a file source (as the in-memory path keeps it),
    # else the budget key
    row = src.row_number("sales_budget", "b")
    order = row if row is not None else (
        f"b.{q('period')}, b.{q('customer_no')}, b.{q('item_no')}, b.{q('location_code')}")
    src.materialize(MAPPED, (
        f"SELECT ROW_NUMBER() OVER (ORDER BY {order}) AS sop_order, "
        f"b.{q('period')} AS period, b.{q('customer_no')} AS customer_no, "
        f"b.{q('item_no')} AS item_no, b.{q('location_code')} AS location_code, "
        f"b.{q('amount')} AS amount, b.{q('quantity')} * COALESCE(i.{q('unit_cost')}, 0) "
        f"AS cost, ps.{q('cogs_account')} AS cogs_account, "
        f"cu.{q('gen_bus_posting_group')} AS gen_bus_posting_group, "
        f"i.{q('gen_prod_posting_group')} AS gen_prod_posting_group, "
        f"ps.{q('sales_account')} AS gl_account "
        f"FROM {staged('sales_budget')} AS b "
        f"LEFT JOIN {staged('customers')} AS cu ON cu.{q('customer_no')} = b.{q('customer_no')} "
        f"LEFT JOIN {staged('items')} AS i ON i.{q('item_no')} = b.{q('item_no')} "
        f"LEFT JOIN {staged('posting_setup')} AS ps "
        f"ON ps.{q('gen_bus_posting_group')} = cu.{q('gen_bus_posting_group')} "
        f"AND ps.{q('gen_prod_posting_group')} = i.{q('gen_prod_posting_group')}"
    ))


def sign_warning(src: Source, gl_income_sign: str) -> list[str]:
    """The loader's warnings: income budget amounts negative after normalisation, naming
    the accounts (:func:`~sop_workbook.kpi.finance.income_sign_warnings`)."""
    q = src.dialect.quote
    amount = f"g.{q('amount')}"
    if gl_income_sign == "negative":
        amount = f"-{amount}"
    frame = src.query(
        f"SELECT g.{q('gl_account')} AS gl_account, MAX(a.{q('name')}) AS name, "
        f"COUNT(*) AS lines, SUM(CASE WHEN {amount} < 0 THEN 1 ELSE 0 END) AS negative "
        f"FROM {staged('gl_budget')} AS g JOIN {staged('gl_accounts')} AS a "
        f"ON a.{q('gl_account')} = g.{q('gl_account')} WHERE a.{q('account_type')} = 'income' "
        f"GROUP BY g.{q('gl_account')} ORDER BY g.{q('gl_account')}"
    )
    if frame.empty:
        return []
    frame["lines"] = pd.to_numeric(frame["lines"]).astype(int)
    frame["negative"] = pd.to_numeric(frame["negative"]).fillna(0).astype(int)
    frame["gl_account"] = text_column(frame["gl_account"])
    return income_sign_warnings(frame, gl_income_sign)


def fin_budget_variance(src: Source, gl_income_sign: str) -> pd.DataFrame:
    d = src.dialect
    q = d.quote
    amount = f"g.{q('amount')}"
    if gl_income_sign == "negative":
        amount = f"CASE WHEN a.{q('account_type')} = 'income' THEN -{amount} ELSE {amount} END"
    fav, unfav, even = (f"'{a}'" for a in ASSESSMENTS)
    ps = staged("posting_setup")
    sql = (
        f"WITH fed_lines AS (SELECT gl_account, period, amount FROM {MAPPED} "
        f"WHERE gl_account IS NOT NULL UNION ALL SELECT cogs_account, period, cost "
        f"FROM {MAPPED} WHERE cogs_account IS NOT NULL), "
        f"sales AS (SELECT gl_account, period, SUM(amount) AS total FROM fed_lines "
        f"GROUP BY gl_account, period), "
        # (SELECT DISTINCT over UNION ALL: BigQuery has no bare UNION, SQLite no
        # UNION DISTINCT)
        f"fed AS (SELECT DISTINCT gl_account FROM (SELECT {q('sales_account')} AS gl_account "
        f"FROM {ps} WHERE {q('sales_account')} IS NOT NULL UNION ALL SELECT "
        f"{q('cogs_account')} FROM {ps} WHERE {q('cogs_account')} IS NOT NULL) AS fed_accounts), "
        f"fin AS (SELECT g.{q('gl_account')} AS gl_account, g.{q('period')} AS period, "
        f"SUM({amount}) AS total FROM {staged('gl_budget')} AS g "
        f"LEFT JOIN {staged('gl_accounts')} AS a ON a.{q('gl_account')} = g.{q('gl_account')} "
        f"GROUP BY g.{q('gl_account')}, g.{q('period')}), "
        f"both_sides AS (SELECT COALESCE(s.gl_account, f.gl_account) AS gl_account, "
        f"COALESCE(s.period, f.period) AS period, "
        f"CAST(COALESCE(s.total, 0) AS {d.double_type}) AS sales_budget, "
        f"CAST(COALESCE(f.total, 0) AS {d.double_type}) AS financial_budget "
        f"FROM sales AS s FULL OUTER JOIN fin AS f "
        f"ON f.gl_account = s.gl_account AND f.period = s.period), "
        f"v AS (SELECT b.gl_account, a.{q('name')} AS name, a.{q('account_type')} AS "
        f"account_type, b.period, CASE WHEN fed.gl_account IS NOT NULL THEN b.sales_budget "
        f"END AS sales_budget, b.financial_budget, "
        f"CASE WHEN fed.gl_account IS NOT NULL THEN b.sales_budget - b.financial_budget END "
        f"AS variance FROM both_sides AS b "
        f"LEFT JOIN {staged('gl_accounts')} AS a ON a.{q('gl_account')} = b.gl_account "
        f"LEFT JOIN fed ON fed.gl_account = b.gl_account) "
        f"SELECT gl_account, name, account_type, period, sales_budget, financial_budget, "
        f"variance, CASE WHEN ABS(financial_budget) <> 0 THEN variance / ABS(financial_budget) "
        f"END AS variance_pct, "
        f"CASE WHEN variance IS NULL THEN '{OUTSIDE}' "
        f"WHEN (CASE WHEN account_type = 'expense' THEN -variance ELSE variance END) > 0 "
        f"THEN {fav} WHEN (CASE WHEN account_type = 'expense' THEN -variance ELSE variance END)"
        f" < 0 THEN {unfav} ELSE {even} END AS assessment FROM v"
    )
    frame = src.query(sorted_sql(src, sql, ["gl_account", "period"]))
    out = pd.DataFrame(index=range(len(frame)))
    for col in VARIANCE_COLUMNS:
        if col in ("sales_budget", "financial_budget", "variance", "variance_pct"):
            out[col] = pd.to_numeric(frame[col], errors="coerce").astype(float) \
                if len(frame) else pd.Series(dtype=float)
        else:
            out[col] = text_column(frame[col]) if len(frame) else pd.Series(dtype=object)
    return sort_frame(src, out, ["gl_account", "period"])


def fin_budget_detail(src: Source) -> pd.DataFrame:
    d = src.dialect
    keys = ", ".join(DETAIL_GRAIN)
    lines = (f"SELECT gl_account, period, customer_no, item_no, location_code, amount "
             f"FROM {MAPPED} WHERE gl_account IS NOT NULL UNION ALL "
             f"SELECT cogs_account, period, customer_no, item_no, location_code, cost "
             f"FROM {MAPPED} WHERE cogs_account IS NOT NULL")
    frame = src.query(sorted_sql(
        src, f"SELECT {keys}, CAST(SUM(amount) AS {d.double_type}) AS amount "
        f"FROM ({lines}) AS fed_lines GROUP BY {keys}", DETAIL_GRAIN))
    out = pd.DataFrame({col: text_column(frame[col]) for col in DETAIL_GRAIN},
                       index=range(len(frame)))
    out["amount"] = pd.to_numeric(frame["amount"]).astype(float).to_numpy() if len(frame) \
        else pd.Series(dtype=float)
    return sort_frame(src, out, DETAIL_GRAIN)


def fin_unmapped(src: Source) -> pd.DataFrame:
    cols = ", ".join(UNMAPPED_COLUMNS)
    frame = src.query(f"SELECT {cols} FROM {MAPPED} WHERE gl_account IS NULL "
                      f"ORDER BY sop_order")
    out = pd.DataFrame({col: text_column(frame[col]) for col in UNMAPPED_COLUMNS[:-1]},
                       index=range(len(frame)))
    out["amount"] = pd.to_numeric(frame["amount"]).astype(float).to_numpy() if len(frame) \
        else pd.Series(dtype=float)
    return out
