"""Finance: sales budget → GL mapping and budget variance by GL account and period."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..contract import SourceData

ASSESSMENTS = ("favourable", "unfavourable", "on budget")
#: The assessment of a GL account that no posting-setup pair feeds (payroll, overheads …):
#: listed apart, never judged favourable or unfavourable.
OUTSIDE = "outside the sales budget"


@dataclass(frozen=True)
class GlMapping:
    """The sales budget mapped to GL accounts through the general posting setup.

    ``mapped``: every budget line that has a sales account, with ``gl_account`` and both
    posting groups (revenue: the line's ``amount``). ``unmapped``: every line without one
    (never dropped), with the (gen_bus_posting_group, gen_prod_posting_group) pair that the
    posting setup lacks. ``cost``: the lines whose setup row has a COGS account, with
    ``gl_account`` = that account and ``amount`` = budgeted quantity × the item's unit cost.
    ``fed_accounts``: every GL account a posting-setup row names (sales or COGS account).
    """

    mapped: pd.DataFrame
    unmapped: pd.DataFrame
    cost: pd.DataFrame | None = None
    fed_accounts: frozenset = frozenset()


def fed_accounts(posting_setup: pd.DataFrame) -> frozenset:
    """The GL accounts the sales budget can feed: every ``sales_account`` and
    ``cogs_account`` of the posting setup."""
    found = set()
    for column in ("sales_account", "cogs_account"):
        if column in posting_setup:
            values = posting_setup[column].dropna().astype(str)
            found.update(v for v in values if v != "")
    return frozenset(found)


def map_sales_budget_to_gl(data: SourceData) -> GlMapping:
    """Map each sales-budget line to GL accounts through the general posting setup.

    Revenue: ``gl_account = posting_setup.sales_account[(customer.gen_bus_posting_group,
    item.gen_prod_posting_group)]`` with the line's ``amount``. A line whose pair has no
    setup row, or whose setup row has no sales account, is *unmapped*: reported, never
    dropped. Cost of sales: the same pair's ``cogs_account`` (when the setup row has one)
    receives ``quantity × items.unit_cost``.
    """
    budget = data["sales_budget"]
    bus = data["customers"].set_index("customer_no")["gen_bus_posting_group"]
    items = data["items"].set_index("item_no")
    lines = budget.assign(
        gen_bus_posting_group=budget["customer_no"].map(bus),
        gen_prod_posting_group=budget["item_no"].map(items["gen_prod_posting_group"]),
    )
    setup = data["posting_setup"]
    cols = ["gen_bus_posting_group", "gen_prod_posting_group", "sales_account"]
    has_cogs = "cogs_account" in setup
    if has_cogs:
        cols.append("cogs_account")
    merged = lines.merge(setup[cols].rename(columns={"sales_account": "gl_account"}),
                         how="left", on=["gen_bus_posting_group", "gen_prod_posting_group"],
                         validate="many_to_one")
    if not has_cogs:
        merged["cogs_account"] = None
    has_account = merged["gl_account"].notna().to_numpy()
    cogs = merged["cogs_account"]
    has_cogs_account = (cogs.notna() & (cogs.astype(str) != "")).to_numpy()
    cost = merged[has_cogs_account].copy()
    unit_cost = pd.to_numeric(cost["item_no"].map(items["unit_cost"]), errors="coerce")
    cost["amount"] = cost["quantity"].astype(float) * unit_cost.fillna(0.0).to_numpy()
    cost["gl_account"] = cost["cogs_account"]
    merged = merged.drop(columns="cogs_account")
    cost = cost.drop(columns="cogs_account").reset_index(drop=True)
    return GlMapping(merged[has_account].reset_index(drop=True),
                     merged[~has_account].drop(columns="gl_account").reset_index(drop=True),
                     cost, fed_accounts(setup))


def budget_variance(data: SourceData, mapping: GlMapping | None = None,
                    period: str | None = None) -> pd.DataFrame:
    """Sales budget vs financial budget per GL account and period.

    ``sales_budget`` = Σ of what the sales budget feeds into the account: the mapped
    revenue (budget ``amount``) on a sales account, Σ budgeted quantity × item unit cost
    on a COGS account. ``variance = sales_budget − financial budget``; ``variance_pct =
    variance ÷ |financial budget|`` (no value when the financial budget is 0). Assessment
    by account type: on an income account a positive variance is *favourable* and a
    negative one *unfavourable*; on an expense account the reverse; 0 is *on budget*.
    An account that no posting-setup row names (payroll, overheads …) is *outside the
    sales budget*: listed with its financial budget, no sales budget, no variance and no
    judgement. Accounts present on either side are listed (a fed account's missing side is
    0). Amounts are in natural sign (see ``normalise_gl_sign`` for credit-style sources).
    """
    mapping = mapping or map_sales_budget_to_gl(data)
    fed = mapping.fed_accounts or fed_accounts(data["posting_setup"])
    parts = [mapping.mapped[["gl_account", "period", "amount"]]]
    if mapping.cost is not None and len(mapping.cost):
        parts.append(mapping.cost[["gl_account", "period", "amount"]])
    fed_lines = pd.concat(parts, ignore_index=True)
    fed_lines["gl_account"] = fed_lines["gl_account"].astype(str)
    sales = fed_lines.groupby(["gl_account", "period"])["amount"].sum().rename("sales_budget")
    gl = data["gl_budget"].assign(gl_account=data["gl_budget"]["gl_account"].astype(str))
    fin = gl.groupby(["gl_account", "period"])["amount"].sum()
    frame = pd.concat([sales, fin.rename("financial_budget")], axis=1).fillna(0.0).reset_index()
    if period is not None:
        frame = frame[frame["period"] == period]
    accounts = data["gl_accounts"].assign(
        gl_account=data["gl_accounts"]["gl_account"].astype(str)).set_index("gl_account")
    frame["name"] = frame["gl_account"].map(accounts["name"])
    frame["account_type"] = frame["gl_account"].map(accounts["account_type"])
    outside = ~frame["gl_account"].isin(fed).to_numpy()
    frame["sales_budget"] = np.where(outside, np.nan, frame["sales_budget"].to_numpy())
    frame["variance"] = frame["sales_budget"] - frame["financial_budget"]
    fin_abs = frame["financial_budget"].abs().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["variance_pct"] = np.where(fin_abs != 0, frame["variance"].to_numpy() / fin_abs,
                                         np.nan)
    sign = np.where(frame["account_type"].eq("expense"), -1.0, 1.0) * np.sign(frame["variance"])
    frame["assessment"] = np.where(
        outside, OUTSIDE, np.select([sign > 0, sign < 0], ASSESSMENTS[:2], ASSESSMENTS[2]))
    columns = ["gl_account", "name", "account_type", "period", "sales_budget",
               "financial_budget", "variance", "variance_pct", "assessment"]
    return frame[columns].sort_values(["gl_account", "period"]).reset_index(drop=True)


def income_sign_warnings(lines: pd.DataFrame, gl_income_sign: str) -> list[str]:
    """Warnings about income amounts of the financial budget with the other sign.

    ``lines``: one row per income account of ``gl_budget`` after normalisation, with
    ``gl_account``, ``name``, ``lines`` (budget lines) and ``negative`` (lines < 0).
    Revenue is positive in natural sign, so a negative income line is either a budget
    stored with the other sign (most lines negative: the configured sign is wrong) or an
    inconsistent line (a few): either way it is named, never silently judged.
    """
    lines = lines[lines["negative"] > 0]
    if lines.empty:
        return []
    total = int(lines["lines"].sum())
    negative = int(lines["negative"].sum())

    def named(frame: pd.DataFrame) -> str:
        names = [f"{r.gl_account} {r.name}".strip() if isinstance(r.name, str) and r.name
                 else str(r.gl_account) for r in frame.itertuples(index=False)]
        shown = ", ".join(names[:10])
        return shown + (f" and {len(names) - 10} more" if len(names) > 10 else "")

    other = "positive" if gl_income_sign == "negative" else "negative"
    if negative * 2 > total:
        return [f"gl_budget: income amounts are negative after normalisation with "
                f"--gl-income-sign {gl_income_sign} ({negative} of {total} lines) on "
                f"{named(lines)}: the source seems to store income with the other sign; load "
                f"it with --gl-income-sign {other} (Config: GL income sign)"]
    return [f"gl_budget: income account(s) with negative amounts after normalisation "
            f"({negative} line(s)): {named(lines)} — revenue is positive in natural sign; "
            f"check these budget lines (stored with the other sign?)"]


def variance_detail(mapping: GlMapping, gl_account: str, period: str) -> pd.DataFrame:
    """Drill-down: the sales-budget lines (customer, item, location) behind one GL × period,
    largest amount first."""
    m = mapping.mapped
    if mapping.cost is not None and len(mapping.cost):
        m = pd.concat([m, mapping.cost], ignore_index=True)
    rows = m[(m["gl_account"].astype(str) == str(gl_account)) & (m["period"] == period)]
    cols = ["customer_no", "item_no", "location_code", "quantity", "amount"]
    return rows[cols].sort_values("amount", ascending=False).reset_index(drop=True)
