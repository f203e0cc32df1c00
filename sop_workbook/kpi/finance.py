"""Finance: sales budget → GL mapping and budget variance by GL account and period."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..loader import SourceData

ASSESSMENTS = ("favourable", "unfavourable", "on budget")


@dataclass(frozen=True)
class GlMapping:
    """The sales budget mapped to sales GL accounts.

    ``mapped``: every budget line that has a sales account, with ``gl_account`` and both
    posting groups. ``unmapped``: every line without one (never dropped), with the
    (gen_bus_posting_group, gen_prod_posting_group) pair that the posting setup lacks.
    """

    mapped: pd.DataFrame
    unmapped: pd.DataFrame


def map_sales_budget_to_gl(data: SourceData) -> GlMapping:
    """Map each sales-budget line to a sales GL account through the general posting setup.

    ``gl_account = posting_setup.sales_account[(customer.gen_bus_posting_group,
    item.gen_prod_posting_group)]``. A line whose pair has no setup row, or whose setup row
    has no sales account, is *unmapped*: reported, never dropped.
    """
    budget = data["sales_budget"]
    bus = data["customers"].set_index("customer_no")["gen_bus_posting_group"]
    prod = data["items"].set_index("item_no")["gen_prod_posting_group"]
    lines = budget.assign(
        gen_bus_posting_group=budget["customer_no"].map(bus),
        gen_prod_posting_group=budget["item_no"].map(prod),
    )
    setup = data["posting_setup"][["gen_bus_posting_group", "gen_prod_posting_group",
                                   "sales_account"]].rename(columns={"sales_account": "gl_account"})
    merged = lines.merge(setup, how="left", on=["gen_bus_posting_group", "gen_prod_posting_group"],
                         validate="many_to_one")
    has_account = merged["gl_account"].notna().to_numpy()
    return GlMapping(merged[has_account].reset_index(drop=True),
                     merged[~has_account].drop(columns="gl_account").reset_index(drop=True))


def budget_variance(data: SourceData, mapping: GlMapping | None = None,
                    period: str | None = None) -> pd.DataFrame:
    """Sales budget vs financial budget per GL account and period.

    ``variance = sales budget (mapped, Σ amount) − financial budget``;
    ``variance_pct = variance ÷ |financial budget|`` (no value when the financial budget is
    0). Assessment by account type: on an income account a positive variance is
    *favourable* and a negative one *unfavourable*; on an expense account the reverse; 0 is
    *on budget*. Accounts present on either side are listed (the missing side is 0).
    Amounts are in natural sign (see ``normalise_gl_sign`` for credit-style sources).
    """
    mapping = mapping or map_sales_budget_to_gl(data)
    sales = mapping.mapped.groupby(["gl_account", "period"])["amount"].sum().rename("sales_budget")
    fin = data["gl_budget"].groupby(["gl_account", "period"])["amount"].sum()
    frame = pd.concat([sales, fin.rename("financial_budget")], axis=1).fillna(0.0).reset_index()
    if period is not None:
        frame = frame[frame["period"] == period]
    accounts = data["gl_accounts"].set_index("gl_account")
    frame["name"] = frame["gl_account"].map(accounts["name"])
    frame["account_type"] = frame["gl_account"].map(accounts["account_type"])
    frame["variance"] = frame["sales_budget"] - frame["financial_budget"]
    fin_abs = frame["financial_budget"].abs().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["variance_pct"] = np.where(fin_abs != 0, frame["variance"].to_numpy() / fin_abs,
                                         np.nan)
    sign = np.where(frame["account_type"].eq("expense"), -1.0, 1.0) * np.sign(frame["variance"])
    frame["assessment"] = np.select([sign > 0, sign < 0], ASSESSMENTS[:2], ASSESSMENTS[2])
    columns = ["gl_account", "name", "account_type", "period", "sales_budget",
               "financial_budget", "variance", "variance_pct", "assessment"]
    return frame[columns].sort_values(["gl_account", "period"]).reset_index(drop=True)


def variance_detail(mapping: GlMapping, gl_account: str, period: str) -> pd.DataFrame:
    """Drill-down: the sales-budget lines (customer, item, location) behind one GL × period,
    largest amount first."""
    m = mapping.mapped
    rows = m[(m["gl_account"] == gl_account) & (m["period"] == period)]
    cols = ["customer_no", "item_no", "location_code", "quantity", "amount"]
    return rows[cols].sort_values("amount", ascending=False).reset_index(drop=True)
