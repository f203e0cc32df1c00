"""Finance review cores: volume → value by GL account, value summary, cash need.

Pure functions on the workbook's tables (pandas/numpy only).

**Price** of an item (:func:`item_prices`): ``items.unit_price`` when given (a non-empty,
non-zero value — an ERP such as Business Central exports 0 for "no unit price"); else the
item's realised average price ``Σ invoiced_amount ÷ Σ invoiced_qty`` over every
``agg_item_mix`` row of the item (when that quantity is > 0); else the item has **no
price**: it is listed in ``missing_price`` and contributes no revenue (never a silent 0
price). **Cost** = ``items.unit_cost``; an item with no cost (not in ``items``, or an empty
cost) is listed in ``missing_cost`` and contributes no COGS.

**Volume → value** (:func:`volume_to_value`), per item × period with
``volume = Σ_locations consensus``: ``revenue = volume × price``,
``cogs = volume × unit_cost``. GL mapping (domain.md, *Sales budget → GL*):

- The item's plan is split over customers' ``gen_bus_posting_group`` in proportion to the
  item's invoiced-amount share in ``agg_item_mix``:
  ``share[g] = max(0, amount[g]) ÷ Σ_g max(0, amount[g])`` (a group whose history nets to
  a credit gets no share). Revenue **and COGS** use the same shares (each group gets the
  same slice of the volume, so a group's margin is its share of the item margin).
- Group *g* × the item's ``gen_prod_posting_group`` → ``posting_setup.sales_account``
  (revenue) and ``posting_setup.cogs_account`` (COGS).
- No usable history (no mix row, or Σ positive amount 0): the posting-setup row of the
  item's product group is used when **exactly one** exists (its business group is
  reported as ``gen_bus_posting_group``); with none or several, the whole amount is
  unmapped with an empty business group.
- An amount without an account (no setup row for the pair, or an empty
  sales/cogs account) goes to the account ``"(unmapped)"`` and is listed in ``unmapped``
  with the pair — an error to report, never a line to drop.

**Cash need** (:func:`cash_need`) — see its docstring.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..frames import (
    PlanCells,
    by_item_of,
    key_text,
    numbers_or_zero,
    read_columns,
    to_float,
    to_wide,
)
from ..periods import format_period, parse_period
from . import loaded
from .demand_plan import plan_periods
from .inputs import Settings
from .supply import clean_routings

UNMAPPED = "(unmapped)"
ALL = "(all)"
NO_CATEGORY = "(none)"
LINES = ("revenue", "cogs")
LINE_COLUMNS = ["period", "category", "gl_account", "gl_name", "line", "amount"]
DETAIL_COLUMNS = ["period", "item_no", "category", "gen_bus_posting_group",
                  "gen_prod_posting_group", "line", "gl_account", "amount"]
ITEM_COLUMNS = ["period", "item_no", "category", "volume", "price", "price_source",
                "unit_cost", "revenue", "cogs"]
UNMAPPED_COLUMNS = ["period", "item_no", "category", "gen_bus_posting_group",
                    "gen_prod_posting_group", "line", "amount", "reason"]
SUMMARY_COLUMNS = ["period", "category", "volume", "volume_unpriced", "revenue", "cogs",
                   "margin", "margin_pct"]
CASH_COLUMNS = ["period", "material", "labour", "total", "volume_without_cost"]


@dataclass(frozen=True)
class ValuePlan:
    """The plan in value.

    - ``lines`` — period × category × GL account × line (``revenue``/``cogs``): ``amount``
      (with ``gl_name`` from gl_accounts); unmapped amounts under ``"(unmapped)"``.
    - ``detail`` — the same at item × business group grain (drill-down).
    - ``items`` — period × item: volume, price, price_source (``unit_price``/``realised``/
      ``missing``), unit_cost, revenue, cogs (NaN where the price/cost is missing).
    - ``missing_price`` — items with plan volume and no price: ``item_no``, ``category``,
      ``volume`` (Σ over the horizon). ``missing_cost`` likewise for the cost.
    - ``unmapped`` — every amount without a GL account, with the posting-group pair and
      the reason.
    """

    lines: pd.DataFrame
    detail: pd.DataFrame
    items: pd.DataFrame
    missing_price: pd.DataFrame
    missing_cost: pd.DataFrame
    unmapped: pd.DataFrame


def clean_items(items: pd.DataFrame | None) -> pd.DataFrame:
    """Item master indexed by ``item_no`` with ``category``, ``gen_prod_posting_group``,
    ``unit_cost``, ``unit_price`` (NaN when empty)."""
    i = read_columns(items, {"item_no": "", "category": None, "gen_prod_posting_group": None,
                         "unit_cost": np.nan, "unit_price": np.nan})
    out = pd.DataFrame({"item_no": key_text(i["item_no"]),
                        "category": i["category"].where(i["category"].notna(), NO_CATEGORY)
                        .astype(str),
                        "gen_prod_posting_group": i["gen_prod_posting_group"].fillna("")
                        .astype(str).str.strip(),
                        "unit_cost": to_float(i["unit_cost"]),
                        "unit_price": to_float(i["unit_price"])})
    return out.drop_duplicates("item_no", keep="last").set_index("item_no")


def clean_mix(agg_item_mix: pd.DataFrame | None) -> pd.DataFrame:
    m = read_columns(agg_item_mix, {"item_no": "", "gen_bus_posting_group": "",
                                "invoiced_qty": 0.0, "invoiced_amount": 0.0})
    out = pd.DataFrame({"item_no": key_text(m["item_no"]),
                        "gen_bus_posting_group": m["gen_bus_posting_group"].fillna("")
                        .astype(str).str.strip(),
                        "invoiced_qty": to_float(m["invoiced_qty"]).fillna(0.0),
                        "invoiced_amount": to_float(m["invoiced_amount"]).fillna(0.0)})
    return out.groupby(["item_no", "gen_bus_posting_group"], as_index=False, sort=True).sum()


def item_prices(items: pd.DataFrame | None, agg_item_mix: pd.DataFrame | None
                ) -> pd.DataFrame:
    """Price per item (module docstring, *Price*): index ``item_no``; columns ``price``
    (NaN when missing) and ``price_source`` (``unit_price``/``realised``). Items with no
    price are absent. Usable as ``price_of`` in :mod:`sop_workbook.review.presop`
    (``item_prices(...)['price']``)."""
    master = clean_items(items)
    mix = clean_mix(agg_item_mix).groupby("item_no")[["invoiced_qty", "invoiced_amount"]].sum()
    realised = (mix["invoiced_amount"] / mix["invoiced_qty"]).where(mix["invoiced_qty"] > 0)
    realised = realised.dropna()
    given = master["unit_price"].where(master["unit_price"].notna()
                                       & (master["unit_price"] != 0)).dropna()
    rows = {item: (float(p), "realised") for item, p in realised.items()}
    rows |= {item: (float(p), "unit_price") for item, p in given.items()}
    out = pd.DataFrame.from_dict(rows, orient="index", columns=["price", "price_source"])
    out.index.name = "item_no"
    return out.sort_index()


def _plan_periods(plan: pd.DataFrame) -> list[str]:
    """Every period of the plan, in calendar order."""
    p = read_columns(plan, {"period": ""})
    return sorted(set(pd.unique(key_text(p["period"]))), key=parse_period)


def _setup(posting_setup: pd.DataFrame | None) -> pd.DataFrame:
    s = read_columns(posting_setup, {"gen_bus_posting_group": "", "gen_prod_posting_group": "",
                                 "sales_account": None, "cogs_account": None})

    def account(col: pd.Series) -> pd.Series:
        text = col.astype(object).where(col.notna(), None)
        return text.map(lambda v: None if v is None or str(v).strip() == ""
                        else _account_text(v))

    return pd.DataFrame({
        "gen_bus_posting_group": s["gen_bus_posting_group"].fillna("").astype(str).str.strip(),
        "gen_prod_posting_group": s["gen_prod_posting_group"].fillna("").astype(str).str.strip(),
        "sales_account": account(s["sales_account"]),
        "cogs_account": account(s["cogs_account"])})


def _account_text(value) -> str:
    """An account number as text (a float 6110.0 read from a sheet → ``'6110'``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _shares(mix: pd.DataFrame, setup: pd.DataFrame, master: pd.DataFrame,
            items: list[str]) -> pd.DataFrame:
    """Per item: the business groups its plan is split over and their shares (module
    docstring). Columns ``item_no``, ``gen_bus_posting_group`` (``None`` = no mapping
    possible), ``share``."""
    m = mix[mix["item_no"].isin(items)].copy()
    m["positive"] = m["invoiced_amount"].clip(lower=0)
    m["total"] = m.groupby("item_no")["positive"].transform("sum")
    hist = m[(m["total"] > 0) & (m["positive"] > 0)]
    hist = pd.DataFrame({"item_no": hist["item_no"],
                         "gen_bus_posting_group": hist["gen_bus_posting_group"].astype(object),
                         "share": hist["positive"] / hist["total"]})
    rest = sorted(set(items) - set(hist["item_no"]))
    prod = master["gen_prod_posting_group"].reindex(rest).fillna("")
    rows_per_group = setup.groupby("gen_prod_posting_group")["gen_bus_posting_group"]
    single = rows_per_group.first()[rows_per_group.size() == 1]
    fallback = pd.DataFrame({"item_no": rest,
                             "gen_bus_posting_group": prod.map(single).astype(object)
                             .where(prod.map(single).notna(), None).to_numpy(),
                             "share": 1.0})
    return pd.concat([hist, fallback], ignore_index=True)


def volume_to_value(plan: pd.DataFrame, items: pd.DataFrame | None,
                    agg_item_mix: pd.DataFrame | None, posting_setup: pd.DataFrame | None,
                    gl_accounts: pd.DataFrame | None, *,
                    periods: list[str] | None = None,
                    cells: PlanCells | None = None) -> ValuePlan:
    """The consensus plan in value by GL account (module docstring for every formula).

    ``periods`` restricts the plan (default: every period of the plan). Returns a
    :class:`ValuePlan`; ``lines`` has columns ``period``, ``category``, ``gl_account``,
    ``gl_name``, ``line``, ``amount``. ``cells``: :class:`~sop_workbook.frames.
    PlanCells` of ``plan``, when the caller has them.
    """
    if periods is None:
        periods = _plan_periods(plan)
    master = clean_items(items)
    prices = item_prices(items, agg_item_mix)
    setup = _setup(posting_setup).drop_duplicates(
        ["gen_bus_posting_group", "gen_prod_posting_group"], keep="last")
    volume = by_item_of(plan, periods, cells).rename(columns={"consensus": "volume"})
    it = volume["item_no"]
    volume["category"] = it.map(master["category"]).fillna(NO_CATEGORY)
    volume["gen_prod_posting_group"] = it.map(master["gen_prod_posting_group"]).fillna("")
    volume["price"] = it.map(prices["price"]).astype(float)
    volume["price_source"] = it.map(prices["price_source"]).fillna("missing")
    volume["unit_cost"] = it.map(master["unit_cost"]).astype(float)
    volume["revenue"] = volume["volume"] * volume["price"]
    volume["cogs"] = volume["volume"] * volume["unit_cost"]
    items_frame = volume[ITEM_COLUMNS].reset_index(drop=True)

    shares = _shares(clean_mix(agg_item_mix), setup, master, sorted(set(it)))
    split = volume.merge(shares, on="item_no", how="left")
    pair = ["gen_bus_posting_group", "gen_prod_posting_group"]
    # text keys on both sides even when a side is empty (an empty column reads as float)
    split[pair] = split[pair].astype(object)
    setup = setup.astype(dict.fromkeys(pair, object))
    split = split.merge(setup, on=pair, how="left", indicator=True)
    has_row = split.pop("_merge").eq("both").to_numpy()
    no_group = split["gen_bus_posting_group"].isna().to_numpy()
    parts, unmapped = [], []
    for line, account_column in (("revenue", "sales_account"), ("cogs", "cogs_account")):
        part = split[split[line].notna()]
        account = part[account_column]
        missing = account.isna().to_numpy()
        sel = split[line].notna().to_numpy()
        reason = np.select(
            [no_group[sel], ~has_row[sel]],
            ["no sales history and no single posting-setup row for the product group",
             "no posting-setup row for the pair"],
            f"posting-setup row has no {account_column}")
        frame = pd.DataFrame({
            "period": part["period"].to_numpy(), "item_no": part["item_no"].to_numpy(),
            "category": part["category"].to_numpy(),
            "gen_bus_posting_group": part["gen_bus_posting_group"].to_numpy(),
            "gen_prod_posting_group": part["gen_prod_posting_group"].to_numpy(),
            "line": line,
            "gl_account": np.where(missing, UNMAPPED, account.astype(object).to_numpy()),
            "amount": (part[line] * part["share"]).to_numpy(),
            "reason": reason, "_o": part.index.to_numpy()})
        parts.append(frame)
        unmapped.append(frame[missing])
    detail_frame = pd.concat(parts, ignore_index=True).sort_values(["_o", "line"],
                                                                   kind="stable")
    unmapped_frame = pd.concat(unmapped, ignore_index=True).sort_values(
        ["_o", "line"], ascending=[True, False], kind="stable")
    detail_frame = detail_frame[DETAIL_COLUMNS].reset_index(drop=True)
    unmapped_frame = unmapped_frame[UNMAPPED_COLUMNS].reset_index(drop=True)

    names = read_columns(gl_accounts, {"gl_account": "", "name": None})
    names = pd.Series(names["name"].to_numpy(),
                      index=[_account_text(a) for a in names["gl_account"]])
    names = names[~names.index.duplicated(keep="last")]
    if detail_frame.empty:
        lines = pd.DataFrame(columns=LINE_COLUMNS)
    else:
        lines = detail_frame.groupby(["period", "category", "gl_account", "line"],
                                     as_index=False, sort=False)["amount"].sum()
        lines["gl_name"] = lines["gl_account"].map(names)
        lines["_m"] = lines["period"].map(parse_period)
        lines["_l"] = lines["line"].map({"revenue": 0, "cogs": 1})
        lines = lines.sort_values(["_m", "category", "_l", "gl_account"])[LINE_COLUMNS]
        lines = lines.reset_index(drop=True)

    def missing(column: str) -> pd.DataFrame:
        rows = items_frame[items_frame[column].isna()]
        return rows.groupby(["item_no", "category"], as_index=False, sort=True)["volume"].sum()

    return ValuePlan(lines, detail_frame, items_frame, missing("price"), missing("unit_cost"),
                     unmapped_frame)



def value_summary(values: ValuePlan) -> pd.DataFrame:
    """Per period and category (plus ``category = '(all)'`` for the period total, listed
    after the categories): ``volume`` (Σ consensus of every item), ``volume_unpriced``
    (the part of it with no price), ``revenue`` (Σ priced revenue), ``cogs`` (Σ volume ×
    unit_cost of items with a cost), ``margin = revenue − cogs``,
    ``margin_pct = margin ÷ revenue`` (``None`` when revenue is 0)."""
    it = values.items.copy()
    if it.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    it["volume_unpriced"] = np.where(it["price"].isna(), it["volume"], 0.0)
    measures = ["volume", "volume_unpriced", "revenue", "cogs"]
    by_cat = it.groupby(["period", "category"], as_index=False)[measures].sum(min_count=0)
    total = it.groupby("period", as_index=False)[measures].sum(min_count=0)
    total["category"] = ALL
    out = pd.concat([by_cat, total], ignore_index=True)
    out["margin"] = out["revenue"] - out["cogs"]
    rev = out["revenue"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(rev != 0, out["margin"].to_numpy(dtype=float) / rev, np.nan)
    out["margin_pct"] = pd.Series([None if np.isnan(v) else float(v) for v in pct],
                                  dtype=object)
    out["_m"] = out["period"].map(parse_period)
    out["_t"] = out["category"].eq(ALL)
    out = out.sort_values(["_m", "_t", "category"])
    return out[SUMMARY_COLUMNS].reset_index(drop=True)


def _rate_of(labour_rate: float | Mapping[str, float], centre: str) -> float:
    if isinstance(labour_rate, Mapping):
        return float(labour_rate.get(centre, 0.0))
    return float(labour_rate)


def material_cost_per_unit(items: pd.DataFrame | None, routings: pd.DataFrame | None,
                           labour_rate: float | Mapping[str, float]) -> pd.Series:
    """Material cost per unit by item: ``max(0, unit_cost − Σ_w hours_per_unit[w] ×
    rate[w])`` for an item with a routing (standard cost less its labour content), and
    ``unit_cost`` for a bought-in item (no routing). NaN when the cost is missing."""
    master = clean_items(items)
    r = clean_routings(routings)
    r["labour"] = [h * _rate_of(labour_rate, w)
                   for h, w in zip(r["hours_per_unit"], r["work_center"], strict=True)]
    labour = r.groupby("item_no")["labour"].sum()
    cost = master["unit_cost"]
    routed = cost.index.isin(labour.index)
    per_unit = cost.copy()
    per_unit[routed] = np.maximum(0.0, cost[routed] - labour.reindex(cost.index[routed]))
    return per_unit


def cash_need(plan: pd.DataFrame, items: pd.DataFrame | None, routings: pd.DataFrame | None,
              capacity_load_frame: pd.DataFrame | None,
              labour_rate: float | Mapping[str, float], *,
              periods: list[str] | None = None,
              cells: PlanCells | None = None) -> pd.DataFrame:
    """Cash needed for labour and material per period, reading the supply plan as
    **chase**: what the consensus demands in a period is produced (or bought) and paid in
    that same period (no lead-time offset, no payment terms, no use of stock on hand or
    open orders).

    - ``labour = Σ_work centres load_hours[w, p] × rate[w]`` from
      :func:`sop_workbook.review.supply.capacity_load` (``labour_rate`` is one rate per
      hour, or a mapping work centre → rate; a centre absent from the mapping costs 0).
    - ``material = Σ_items consensus[item, p] × material cost per unit``
      (:func:`material_cost_per_unit`: unit_cost less the routing's labour content,
      floored at 0, for manufactured items; unit_cost for bought-in items).
    - ``total = material + labour``; ``volume_without_cost`` = the consensus volume of
      items with no unit_cost (no material cash counted for it — reported, not hidden).

    Columns: ``period``, ``material``, ``labour``, ``total``, ``volume_without_cost``.
    ``cells`` as in :func:`volume_to_value`.
    """
    if periods is None:
        periods = _plan_periods(plan)
    volume = by_item_of(plan, periods, cells)
    per_unit = material_cost_per_unit(items, routings, labour_rate)
    volume["unit_material"] = volume["item_no"].map(per_unit)
    has_cost = volume["unit_material"].notna()
    volume["material"] = np.where(has_cost, volume["consensus"] * volume["unit_material"], 0.0)
    volume["without_cost"] = np.where(has_cost, 0.0, volume["consensus"])
    material = volume.groupby("period")["material"].sum().reindex(periods).fillna(0.0)
    without = volume.groupby("period")["without_cost"].sum().reindex(periods).fillna(0.0)
    load = read_columns(capacity_load_frame, {"work_center": "", "period": "", "load_hours": 0.0})
    if load.empty:
        labour = pd.Series(0.0, index=periods)
    else:
        cost = [float(h) * _rate_of(labour_rate, str(w))
                for h, w in zip(to_float(load["load_hours"]).fillna(0.0), load["work_center"],
                                strict=True)]
        labour = pd.Series(cost, index=key_text(load["period"]).to_numpy()).groupby(
            level=0).sum().reindex(periods).fillna(0.0)
    out = pd.DataFrame({"period": periods, "material": material.to_numpy(),
                        "labour": labour.to_numpy()})
    out["total"] = out["material"] + out["labour"]
    out["volume_without_cost"] = without.to_numpy()
    return out[CASH_COLUMNS]


def actual_vs_budget(agg_sales: pd.DataFrame, current: str, months: int = 3,
                     last_loaded: str | None = "") -> pd.DataFrame:
    """``fin_actual_vs_budget``: per closed period × item × location (last ``months``):
    actual revenue (invoiced amount), sales budget amount, variance = actual − budget,
    accuracy = max(0, 1 − |actual − budget| ÷ actual) (None when actual is 0). Closed
    periods whose actuals are not loaded (after ``last_loaded``; default: as found in
    ``agg_sales``) are left out — their actual is unknown, not 0."""
    first = parse_period(current)
    if last_loaded == "":
        last_loaded = loaded.last_loaded_period(agg_sales)
    periods = [format_period(first - k) for k in range(months, 0, -1)]
    periods = [p for p in periods if loaded.is_loaded(p, last_loaded)]
    rows = agg_sales[agg_sales["period"].astype(str).isin(periods)]
    frame = pd.DataFrame({"period": rows["period"].astype(str),
                          "item_no": rows["item_no"].astype(str),
                          "location_code": rows["location_code"].astype(str),
                          "actual_revenue": numbers_or_zero(rows, "invoiced_amount"),
                          "sales_budget": numbers_or_zero(rows, "budget_amount")})
    frame = frame.groupby(["period", "item_no", "location_code"], as_index=False).sum()
    frame = frame[(frame["actual_revenue"] != 0) | (frame["sales_budget"] != 0)]
    frame["variance"] = frame["actual_revenue"] - frame["sales_budget"]
    actual = frame["actual_revenue"].to_numpy()
    err = np.abs(frame["variance"].to_numpy())
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.where(actual != 0, np.maximum(0.0, 1 - err / np.where(actual != 0, actual,
                                                                         1)), np.nan)
    frame["accuracy"] = acc
    return frame.sort_values(["period", "item_no", "location_code"]).reset_index(drop=True)


def finance_stage(agg: dict[str, pd.DataFrame], plan: pd.DataFrame, load: pd.DataFrame,
                  settings: Settings, cells: PlanCells | None = None
                  ) -> dict[str, pd.DataFrame]:
    """The Finance sheet's tables (``cells``: the plan as the supply stage read it)."""
    periods = plan_periods(settings.current, settings.horizon)
    values = volume_to_value(plan, agg["items"], agg.get("agg_item_mix"),
                                          agg.get("posting_setup"), agg.get("gl_accounts"),
                                          cells=cells)
    cash = cash_need(plan, agg["items"], agg.get("routings"), load,
                                  settings.labour_rate, periods=periods, cells=cells)
    return {
        "fin_plan_value": value_grid(values.lines, periods),
        "fin_cash_need": cash[["period", "material", "labour", "total"]],
        "fin_value_summary": value_summary(values)[
            ["period", "category", "volume", "revenue", "cogs", "margin", "margin_pct"]],
        "fin_actual_vs_budget": actual_vs_budget(agg["agg_sales"], settings.current),
        "fin_value_issues": value_issues(values),
    }


def value_grid(lines: pd.DataFrame, periods: list[str]) -> pd.DataFrame:
    """``fin_plan_value``: rows line (revenue, cogs, then margin = revenue − cogs per
    category) × category × GL account, columns p01…p12 and total."""
    pcols = {p: f"p{i + 1:02d}" for i, p in enumerate(periods)}
    out_cols = ["line", "category", "gl_account", "name", *pcols.values(), "total"]
    if lines.empty:
        return pd.DataFrame(columns=out_cols)
    frame = lines.rename(columns={"gl_name": "name"}).copy()
    frame["gl_account"] = frame["gl_account"].astype(str)
    frame["name"] = frame["name"].fillna("")
    margin = frame.assign(amount=np.where(frame["line"].eq("cogs"), -frame["amount"],
                                          frame["amount"]), line="margin", gl_account="",
                          name="revenue − COGS")
    frame = pd.concat([frame, margin], ignore_index=True)
    wide = to_wide(frame, ["line", "category", "gl_account", "name"], pcols, "amount")
    wide["total"] = wide[list(pcols.values())].sum(axis=1)
    order = {"revenue": 0, "cogs": 1, "margin": 2}
    wide = wide.assign(_o=wide["line"].map(order)).sort_values(["_o", "category",
                                                                "gl_account"])
    return wide[out_cols].reset_index(drop=True)


def value_issues(values) -> pd.DataFrame:
    """``fin_value_issues``: items valued without a price (never silently 0) and amounts
    without a GL account (with the missing posting-group pair)."""
    rows = []
    for rec in values.missing_price.itertuples(index=False):
        rows.append((rec.item_no, "missing price",
                     f"{rec.volume:,.0f} units in the horizon have no unit_price and no "
                     "sales history to price them"))
    unmapped = values.unmapped
    if len(unmapped):
        grouped = unmapped.groupby(["item_no", "line", "gen_bus_posting_group",
                                    "gen_prod_posting_group", "reason"], dropna=False,
                                   as_index=False)["amount"].sum()
        for rec in grouped.itertuples(index=False):
            rows.append((rec.item_no, f"unmapped {rec.line}",
                         f"{rec.amount:,.2f} with no GL account for "
                         f"{rec.gen_bus_posting_group} × {rec.gen_prod_posting_group} "
                         f"({rec.reason})"))
    return pd.DataFrame(rows, columns=["item_no", "issue", "detail"])
