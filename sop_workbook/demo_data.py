"""A realistic, deterministic demo data set in the source data contract.

The story
---------
*Harbor & Pine Office Furniture* makes chairs and desks in its plant at ``MAIN`` and buys
storage, lighting and spare parts from eight vendors for resale. It ships from three
locations: ``MAIN`` (plant and central warehouse, the only stock point of manufactured
goods), ``EAST`` and ``WEST`` (distribution centers; EU customers are served from ``EAST``,
export customers from ``WEST``). Thirty customers — domestic, EU and export, in Business
Central's general business posting groups ``DOMESTIC``/``EU``/``EXPORT`` — are looked after
by five salespeople (``PS`` runs the EU/export desk).

Demand per customer and item has a category seasonality (office furniture peaks in the
first quarter and at back-to-school, lighting in autumn), a per-item trend, a few product
launches and promotions (an uplift at 10 % off list price, followed by a small dip). Most
promotions were known when the sales budget was set; some were not. The sales budget (by
period, customer, item and location, history plus the next 12 months) is close to the
actuals but carries a per-item bias. Finance's G/L budget follows the mapped sales budget,
rounded, except for a few account-months that are 5–15 % off; it also carries COGS and
operating expenses. The general posting setup lacks ``EXPORT`` × ``RAW MAT`` — spare parts
sold to export customers do not map to a sales account, the data-quality issue the finance
review must report.

Sales orders have several lines, requested and promised dates (a few promised dates are
empty). Lines ship on time, early or late (more often late in peak months), some in two
or three partial shipments; the latest orders are still open. Each shipment is invoiced
(amount = quantity × price less the customer's discount; cost = quantity × unit cost).
Supply follows an order-up-to policy per item and location, so that period-end inventory
(quantity and value at unit cost) is consistent with receipts, production and shipments
and never negative. Two vendors are chronically late. Production orders are sometimes
finished late or short, some due in the last closed month are still open, and released or
firm-planned orders and open purchase orders cover the next months. Work-center capacity is
flat except holiday months, so seasonal peaks overload it. Opportunities are open, won or
lost, with probability (a fraction 0–1), a commit flag and a close date when closed.

Everything is drawn from ``numpy.random.default_rng`` seeded from ``seed`` (one stream per
part of the story) and from the arguments only — never today's date — so that the same
arguments give byte-identical CSV files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .contract import BOOL, DATE, TABLES
from .errors import SopError

COMPANY = "Harbor & Pine"  # the demo's company (Config's Company cell of its workbook)
DAY = "datetime64[D]"
MONTH = "datetime64[M]"
PLAN_MONTHS = 12

# --------------------------------------------------------------------------- master data

LOCATIONS = (
    ("MAIN", "Main Plant & Warehouse"),
    ("EAST", "East Distribution Center"),
    ("WEST", "West Distribution Center"),
)
MAIN = 0

SALESPERSONS = ("AH", "JR", "KL", "MD", "PS")
EXPORT_DESK = "PS"

#: (name, general business posting group)
CUSTOMERS = (
    ("Alpine Office Outfitters", "DOMESTIC"),
    ("Blue Harbor Interiors", "DOMESTIC"),
    ("Cedar & Stone Design", "DOMESTIC"),
    ("Crestview School District", "DOMESTIC"),
    ("Delta Workspace Ltd.", "DOMESTIC"),
    ("Evergreen Realty Group", "DOMESTIC"),
    ("Fairway Hotels", "DOMESTIC"),
    ("Granite Peak Consulting", "DOMESTIC"),
    ("Harborview Medical Center", "DOMESTIC"),
    ("Ironwood Coworking", "DOMESTIC"),
    ("Juniper Legal LLP", "DOMESTIC"),
    ("Keystone Office Supply", "DOMESTIC"),
    ("Lakeside University", "DOMESTIC"),
    ("Maple Leaf Furnishings", "DOMESTIC"),
    ("Northgate Business Park", "DOMESTIC"),
    ("Oakridge Insurance", "DOMESTIC"),
    ("Pinecrest Dental Group", "DOMESTIC"),
    ("Quarry Lane Architects", "DOMESTIC"),
    ("Riverside Public Library", "DOMESTIC"),
    ("Summit Office Solutions", "DOMESTIC"),
    ("Amsterdam Kantoormeubelen B.V.", "EU"),
    ("Berliner Büroeinrichtung GmbH", "EU"),
    ("Mobiliario Ibérico S.L.", "EU"),
    ("Nordisk Kontor A/S", "EU"),
    ("Bureaux de Lyon SARL", "EU"),
    ("Milano Ufficio S.p.A.", "EU"),
    ("Pacific Rim Trading Co.", "EXPORT"),
    ("Gulf Office Systems LLC", "EXPORT"),
    ("Southern Cross Furniture Pty Ltd", "EXPORT"),
    ("Great Lakes Supply Inc.", "EXPORT"),
)
BUS_GROUPS = ("DOMESTIC", "EU", "EXPORT")

#: (name, on-time profile): 'late' vendors are chronically late.
VENDORS = (
    ("Allied Metal Storage Inc.", "normal"),
    ("Woodcraft Cabinets Ltd.", "normal"),
    ("Lumen Lighting GmbH", "normal"),
    ("Shenzhen Brightway Lighting Co.", "late"),
    ("Precision Casters Corp.", "normal"),
    ("Gaslift Technologies", "normal"),
    ("Baltic Fasteners SIA", "late"),
    ("Midwest Packaging & Hardware", "normal"),
)
#: vendor profile → (P(late), late business days lo..hi, P(early))
VENDOR_PROFILES = {"normal": (0.08, (1, 4), 0.12), "late": (0.55, (2, 12), 0.05)}

WORK_CENTERS = ("MACHINING", "PAINTING", "ASSEMBLY", "PACKING")

SERIES = (
    "ATHENS", "BERLIN", "LONDON", "MUNICH", "PARIS", "ROME", "TOKYO", "SYDNEY", "OSLO",
    "MADRID", "VIENNA", "DUBLIN", "LISBON", "PRAGUE", "ZURICH", "HELSINKI", "BOSTON",
    "DENVER", "SEATTLE", "AUSTIN",
)
COLORS = ("black", "grey", "blue", "white", "oak", "green")
PART_VARIANTS = ("small", "medium", "large", "heavy duty", "black", "chrome", "universal")


@dataclass(frozen=True)
class Category:
    code: str
    prefix: str
    prod_group: str  # general product posting group
    make: bool  # manufactured at MAIN (else bought from a vendor)
    share: float  # share of the item count
    cost: tuple[float, float]  # unit cost range
    markup: tuple[float, float]  # list price ÷ unit cost
    uom: str
    lead_days: tuple[int, int]
    volume: float  # monthly quantity of a typical customer for a typical item
    lots: tuple[int, ...]  # lot sizes (order multiples)
    season: tuple[float, ...]  # Jan..Dec demand factors
    nouns: tuple[str, ...]
    vendors: tuple[int, ...] = ()  # indexes into VENDORS
    routing: tuple[tuple[float, float, float], ...] = ()  # per work center: P, hours lo, hi


CATEGORIES = (
    Category("CHAIRS", "CH", "MANUFACT", True, 0.25, (45, 220), (1.6, 2.1), "PCS", (10, 21),
             9.0, (10, 20, 25),
             (1.15, 1.1, 1.2, 1.0, 0.95, 0.9, 0.75, 1.05, 1.25, 1.05, 0.95, 0.7),
             ("Swivel Chair", "Guest Chair", "Conference Chair", "Stacking Chair",
              "Task Chair"),
             routing=((1.0, 0.10, 0.30), (0.4, 0.08, 0.25), (1.0, 0.25, 0.70),
                      (1.0, 0.04, 0.10))),
    Category("DESKS", "DK", "MANUFACT", True, 0.20, (140, 520), (1.5, 1.9), "PCS", (14, 28),
             4.0, (5, 10),
             (1.1, 1.0, 1.1, 0.95, 0.9, 0.9, 0.85, 1.35, 1.3, 1.0, 0.85, 0.7),
             ("Desk", "Standing Desk", "Corner Desk", "Conference Table", "Meeting Table"),
             routing=((1.0, 0.35, 0.90), (0.7, 0.20, 0.50), (1.0, 0.40, 1.10),
                      (1.0, 0.08, 0.20))),
    Category("STORAGE", "ST", "RETAIL", False, 0.20, (35, 260), (1.5, 1.9), "PCS", (21, 45),
             6.0, (6, 12, 24),
             (1.35, 1.1, 1.05, 1.0, 0.95, 0.9, 0.85, 1.0, 1.1, 0.95, 0.9, 0.85),
             ("Filing Cabinet", "Bookcase", "Storage Unit", "Mobile Pedestal", "Locker"),
             vendors=(0, 1)),
    Category("LIGHTING", "LT", "RETAIL", False, 0.15, (12, 95), (1.7, 2.3), "PCS", (28, 60),
             8.0, (12, 24, 48),
             (0.9, 0.85, 0.85, 0.8, 0.75, 0.7, 0.7, 0.85, 1.0, 1.3, 1.55, 1.5),
             ("Desk Lamp", "Floor Lamp", "LED Panel", "Pendant Light"),
             vendors=(2, 3)),
    Category("PARTS", "PT", "RAW MAT", False, 0.20, (0.8, 18), (1.8, 2.6), "BOX", (7, 21),
             25.0, (50, 100),
             (1.05, 1.0, 1.0, 1.0, 1.0, 0.95, 0.95, 1.0, 1.05, 1.0, 1.0, 0.95),
             ("Caster Set", "Gas Lift", "Armrest Pair", "Screw Kit", "Desk Leg", "Cable Tray",
              "Glide Set", "Shelf Pin Kit"),
             vendors=(4, 5, 6, 7)),
)

#: G/L accounts: (number, name, type, category)
_SALES_ACCOUNTS = {  # product posting group → (account prefix, name stem)
    "RETAIL": ("61", "Sales, Retail"),
    "RAW MAT": ("62", "Sales, Raw Materials"),
    "MANUFACT": ("63", "Sales, Finished Goods"),
}
_BUS_SUFFIX = {"DOMESTIC": ("10", "Dom."), "EU": ("20", "EU"), "EXPORT": ("30", "Export")}
_COGS_ACCOUNTS = {
    "RETAIL": ("7190", "Cost of Retail Sold"),
    "RAW MAT": ("7290", "Cost of Raw Materials Sold"),
    "MANUFACT": ("7390", "Cost of Finished Goods Sold"),
}
_EXPENSE_ACCOUNTS = (
    ("8110", "Salaries, Sales", "Personnel"),
    ("8210", "Wages, Production", "Personnel"),
    ("8310", "Freight Out", "Distribution"),
    ("8410", "Advertising & Promotions", "Marketing"),
    ("8510", "Electricity & Heating", "Facilities"),
)
#: The posting-setup pairs deliberately left out (sales budget lines that cannot be mapped).
MISSING_POSTING_PAIRS = (("EXPORT", "RAW MAT"),)

_STREAMS = (
    "items", "customers", "demand", "orders", "shipments", "invoices", "budget", "gl_budget",
    "supply", "receipts", "production", "purchase_orders", "capacity", "opportunities",
    "capacity_ledger",
)


# --------------------------------------------------------------------------- public API


def generate(
    seed: int = 7, items: int = 40, months: int = 24, end_period: str = "2026-10"
) -> dict[str, pd.DataFrame]:
    """Return every contract table as a DataFrame with exactly the contract's columns.

    History covers ``months`` calendar months ending at ``end_period``; the sales and G/L
    budgets, capacity, open purchase and production orders reach into the 12 months after
    it. Dates are ``datetime64`` (NaT where empty), periods ``YYYY-MM`` text, booleans
    ``bool``; quantities are whole numbers.
    """
    cal = _calendar(end_period, months)
    if items < 1:
        raise SopError(f"items must be at least 1, not {items}")
    rngs = {name: np.random.default_rng([seed, i]) for i, name in enumerate(_STREAMS)}

    itm = _make_items(rngs["items"], items, cal)
    cus = _make_customers(rngs["customers"], items)
    dem = _make_demand(rngs["demand"], itm, cus, cal)
    sales = _make_sales(rngs["orders"], itm, cus, dem, cal)
    ships = _make_shipments(rngs["shipments"], sales, dem, itm, cal)
    budget = _sales_budget(rngs["budget"], itm, cus, dem, cal)
    supply = _simulate_supply(rngs["supply"], itm, dem, sales, ships, cal)
    receipts, n_purchase_orders = _purchase_receipts(rngs["receipts"], itm, supply, cal)
    hours = _routing_hours(rngs["capacity"], itm)
    production = _production_orders(rngs["production"], itm, dem, supply, hours, cal)

    tables = {
        "items": itm.frame,
        "customers": cus.frame,
        "locations": pd.DataFrame({"location_code": [c for c, _ in LOCATIONS],
                                   "name": [n for _, n in LOCATIONS]}),
        "vendors": pd.DataFrame({"vendor_no": _vendor_no(np.arange(len(VENDORS))),
                                 "name": [n for n, _ in VENDORS]}),
        "gl_accounts": _gl_accounts(),
        "posting_setup": _posting_setup(),
        "sales_lines": sales.frame,
        "sales_shipments": ships.frame,
        "sales_invoices": _sales_invoices(rngs["invoices"], ships, sales, itm, cus, cal),
        "sales_budget": budget.frame,
        "gl_budget": _gl_budget(rngs["gl_budget"], budget, itm, cus, dem, hours, cal),
        "purchase_receipts": receipts,
        "purchase_orders": _purchase_orders(rngs["purchase_orders"], itm, supply, cal,
                                            first_no=n_purchase_orders),
        "production_orders": production.frame,
        "inventory": _inventory(itm, supply, cal),
        "opportunities": _opportunities(rngs["opportunities"], itm, cus, cal),
        "capacity": _capacity(rngs["capacity"], hours, production, cal),
        "routings": _routings(itm, hours),
        "capacity_ledger": _capacity_ledger(rngs["capacity_ledger"], itm, production, hours),
    }
    return {name: tables[name][list(spec.columns)] for name, spec in TABLES.items()}


def write(
    directory: str | Path,
    seed: int = 7,
    items: int = 40,
    months: int = 24,
    end_period: str = "2026-10",
    progress: Callable[[str], object] | None = None,
) -> dict[str, int]:
    """Write ``<table>.csv`` for every contract table into ``directory`` (created if
    needed) and return the number of rows per table. ``progress(table)`` is called after
    each table is written.

    CSV form: UTF-8, ``\\n`` line ends, dates ``YYYY-MM-DD``, periods ``YYYY-MM``,
    booleans ``true``/``false``, empty cells empty.
    """
    tables = generate(seed=seed, items=items, months=months, end_period=end_period)
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for name, frame in tables.items():
        _csv_frame(name, frame).to_csv(
            folder / f"{name}.csv", index=False, lineterminator="\n", encoding="utf-8"
        )
        counts[name] = len(frame)
        if progress is not None:
            progress(name)
    return counts


def write_tables(directory: str | Path, tables: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Write ``tables`` (as :func:`generate` or :func:`as_of` return them) as
    ``<table>.csv`` into ``directory``, in the same CSV form as :func:`write`."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        _csv_frame(name, frame).to_csv(folder / f"{name}.csv", index=False,
                                       lineterminator="\n", encoding="utf-8")
    return {name: len(frame) for name, frame in tables.items()}


def as_of(tables: dict[str, pd.DataFrame], last_period: str) -> dict[str, pd.DataFrame]:
    """The extract an ERP would have given at the end of ``last_period``: one demo data set
    (from :func:`generate`) cut by date, so that data can arrive month by month.

    Transactions dated after the last day of ``last_period`` are left out (sales lines by
    order date, shipments by shipment date, invoices by posting date, receipts by receipt
    date, inventory after the period); what was still open then is open: a receipt after
    the cut is an outstanding purchase order line (order ``R-<receipt_no>``), a production
    order finished after it is released and unfinished, an opportunity closed after it
    is open. Master data, budgets, capacity and routings are kept whole (plans and
    set-up, known ahead).
    """
    from .periods import parse_period

    month = np.datetime64(str(last_period).strip(), "M")
    parse_period(str(last_period).strip())
    cut = (month + 1).astype(DAY) - np.timedelta64(1, "D")

    def on_or_before(frame: pd.DataFrame, column: str) -> pd.DataFrame:
        days = frame[column].to_numpy(dtype=DAY)
        return frame[~np.isnat(days) & (days <= cut)].reset_index(drop=True)

    out = dict(tables)
    out["sales_lines"] = on_or_before(tables["sales_lines"], "order_date")
    out["sales_shipments"] = on_or_before(tables["sales_shipments"], "shipment_date")
    out["sales_invoices"] = on_or_before(tables["sales_invoices"], "posting_date")
    receipts = tables["purchase_receipts"]
    out["purchase_receipts"] = on_or_before(receipts, "receipt_date")
    later = receipts[receipts["receipt_date"].to_numpy(dtype=DAY) > cut]
    orders = tables["purchase_orders"]
    out["purchase_orders"] = pd.concat([orders, pd.DataFrame({
        "order_no": "R-" + later["receipt_no"].astype(str), "line_no": later["line_no"],
        "vendor_no": later["vendor_no"], "item_no": later["item_no"],
        "location_code": LOCATIONS[0][0],
        "expected_receipt_date": later["expected_receipt_date"],
        "outstanding_quantity": later["quantity"]})], ignore_index=True)[orders.columns]
    production = tables["production_orders"].copy()
    finished = production["finished_date"].to_numpy(dtype=DAY)
    reopened = ~np.isnat(finished) & (finished > cut)
    production.loc[reopened, "finished_date"] = pd.NaT
    production.loc[reopened, "finished_quantity"] = np.nan
    production.loc[reopened, "status"] = "Released"
    out["production_orders"] = production
    inventory = tables["inventory"]
    out["inventory"] = inventory[inventory["period"].astype(str) <= str(last_period)
                                 ].reset_index(drop=True)
    opportunities = tables["opportunities"].copy()
    closed = opportunities["close_date"].to_numpy(dtype=DAY)
    reopen = ~np.isnat(closed) & (closed > cut)
    opportunities.loc[reopen, "status"] = "open"
    opportunities.loc[reopen, "close_date"] = pd.NaT
    out["opportunities"] = opportunities
    return out


def _csv_frame(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Dates as ISO text, booleans as true/false, empty cells empty."""
    spec = TABLES[name]
    out = {}
    for col in frame.columns:
        kind = spec.type_of(col)
        values = frame[col]
        if kind == DATE:
            days = values.to_numpy(dtype=DAY)
            text = np.datetime_as_string(days, unit="D").astype(object)
            text[np.isnat(days)] = ""
            out[col] = text
        elif kind == BOOL:
            out[col] = np.where(values.to_numpy(dtype=bool), "true", "false")
        else:
            out[col] = values
    return pd.DataFrame(out)


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Calendar:
    history: np.ndarray  # history months, datetime64[M], oldest first
    plan: np.ndarray  # the 12 months after the history
    end: np.datetime64  # last day of the history (datetime64[D])

    @property
    def all(self) -> np.ndarray:
        return np.concatenate([self.history, self.plan])

    @property
    def n(self) -> int:
        return len(self.history)


def _calendar(end_period: str, months: int) -> Calendar:
    if months < 1:
        raise SopError(f"months must be at least 1, not {months}")
    try:
        end = np.datetime64(str(end_period).strip(), "M")
    except ValueError as exc:
        raise SopError(f"end_period {end_period!r} is not a period YYYY-MM") from exc
    history = end - np.arange(months - 1, -1, -1)
    plan = end + np.arange(1, PLAN_MONTHS + 1)
    return Calendar(history, plan, (end + 1).astype(DAY) - 1)


def _period_text(months: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(months.astype(MONTH), unit="M")


def _month_of_year(months: np.ndarray) -> np.ndarray:
    """0 = January."""
    return months.astype(MONTH).astype(np.int64) % 12


def _random_business_day(rng: np.random.Generator, months: np.ndarray) -> np.ndarray:
    """A uniformly drawn business day (Mon–Fri) inside each given month."""
    start = months.astype(MONTH).astype(DAY)
    stop = (months.astype(MONTH) + 1).astype(DAY)
    count = np.busday_count(start, stop)
    k = (rng.random(len(start)) * count).astype(np.int64)
    return np.busday_offset(start, k, roll="forward")


def _add_business_days(days: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    return np.busday_offset(days.astype(DAY), offsets.astype(np.int64), roll="forward")


def _codes(prefix: str, index: np.ndarray, start: int = 100001, step: int = 1,
           width: int = 0) -> np.ndarray:
    index = np.asarray(index, dtype=np.int64)
    if index.size == 0:
        return np.zeros(0, dtype=object)
    numbers = (start + step * index).astype(str)
    if width:
        numbers = np.char.zfill(numbers, width)
    return np.char.add(prefix, numbers).astype(object)


def _position_in_group(group: np.ndarray) -> np.ndarray:
    """0, 1, 2 … within runs of equal values of a sorted array."""
    n = len(group)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    lengths = np.diff(np.r_[starts, n])
    return np.arange(n) - np.repeat(starts, lengths)


def _rank_chronologically(days: np.ndarray, tiebreak: np.ndarray) -> np.ndarray:
    """Number of each element when sorted by (day, tiebreak): document numbers rise with time."""
    order = np.lexsort((tiebreak, days.astype(np.int64)))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


def _document_lines(header: np.ndarray, sort_within: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order rows by (header, sort_within); return that order and Business Central style
    line numbers (10000, 20000, …) within each header."""
    order = np.lexsort((sort_within, header))
    return order, (_position_in_group(header[order]) + 1) * 10000


def _round_up(values: np.ndarray, lot: np.ndarray) -> np.ndarray:
    return (np.ceil(np.maximum(values, 0) / lot) * lot).astype(np.int64)


_DAY_BITS = 20  # a header key packs (document, day) as document << _DAY_BITS | day
_DAY_ZERO = np.datetime64("1900-01-01")


def _day_key(days: np.ndarray) -> np.ndarray:
    """Days since 1900-01-01: non-negative and below 2**_DAY_BITS until the year 4770."""
    return (days.astype(DAY) - _DAY_ZERO).astype(np.int64)


# --------------------------------------------------------------------------- items & customers


@dataclass
class Items:
    frame: pd.DataFrame
    no: np.ndarray
    cat: np.ndarray  # index into CATEGORIES
    make: np.ndarray
    cost: np.ndarray
    price: np.ndarray
    lot: np.ndarray
    popularity: np.ndarray
    growth: np.ndarray  # yearly
    launch: np.ndarray  # history month index of the launch (0 = on sale throughout)
    vendor: np.ndarray  # index into VENDORS, -1 for manufactured items


def _make_items(rng: np.random.Generator, n: int, cal: Calendar) -> Items:
    shares = np.array([c.share for c in CATEGORIES])
    first = min(n, len(CATEGORIES))  # every category present when there are enough items
    cat = np.concatenate([np.arange(first),
                          rng.choice(len(CATEGORIES), size=n - first, p=shares / shares.sum())])
    cat = np.sort(cat, kind="stable")
    seq = np.arange(n) - np.searchsorted(cat, cat)
    cats = [CATEGORIES[k] for k in cat]

    def uniform(ranges: list[tuple[float, float]]) -> np.ndarray:
        lo, hi = np.array(ranges, dtype=float).T
        return lo + (hi - lo) * rng.random(n)

    cost = np.round(np.exp(uniform([(np.log(c.cost[0]), np.log(c.cost[1])) for c in cats])), 2)
    price = np.floor(cost * uniform([c.markup for c in cats])) + 0.99
    lead = np.floor(uniform([(c.lead_days[0], c.lead_days[1] + 1) for c in cats]))
    lot = np.array([c.lots[k % len(c.lots)] for c, k in zip(cats, rng.integers(0, 6, n),
                                                             strict=True)])
    series = rng.integers(0, len(SERIES), n)
    noun = rng.integers(0, 8, n)
    color = rng.integers(0, len(COLORS), n)
    description = [
        f"{c.nouns[j % len(c.nouns)]}, {PART_VARIANTS[(s + k) % len(PART_VARIANTS)]}"
        if c.code == "PARTS" else f"{SERIES[s]} {c.nouns[j % len(c.nouns)]}, {COLORS[k]}"
        for c, s, j, k in zip(cats, series, noun, color, strict=True)
    ]
    launch = np.zeros(n, dtype=np.int64)
    late = (rng.random(n) < 0.08) & (np.arange(n) >= len(CATEGORIES)) & (cal.n >= 4)
    launch[late] = rng.integers(cal.n // 2, cal.n, n)[late]
    # vendors take turns within a category, so each supplies some items
    turn = seq + rng.integers(0, 12, len(CATEGORIES))[cat]
    vendor = np.array([c.vendors[t % len(c.vendors)] if c.vendors else -1
                       for c, t in zip(cats, turn, strict=True)])
    no = np.array([f"{c.prefix}-{1001 + s}" for c, s in zip(cats, seq, strict=True)],
                  dtype=object)
    frame = pd.DataFrame({
        "item_no": no,
        "description": description,
        "category": [c.code for c in cats],
        "gen_prod_posting_group": [c.prod_group for c in cats],
        "unit_cost": cost,
        "unit_price": price,
        "lead_time_days": lead.astype(np.int64),
        "uom": [c.uom for c in cats],
    })
    return Items(
        frame, no, cat, np.array([c.make for c in cats]), cost, price, lot,
        _popularity(rng, n), rng.normal(0.04, 0.08, n), launch, vendor,
    )


def _popularity(rng: np.random.Generator, n: int) -> np.ndarray:
    """A Pareto (ABC) curve in random item order: a few fast movers, a long tail."""
    rank = rng.permutation(n)
    popularity = (rank + 1.0) ** -0.8 * rng.lognormal(0.0, 0.3, n)
    return popularity / popularity.mean()


@dataclass
class Customers:
    frame: pd.DataFrame
    no: np.ndarray
    bus: np.ndarray  # index into BUS_GROUPS
    salesperson: np.ndarray
    home: np.ndarray  # index into LOCATIONS
    size: np.ndarray  # relative purchasing volume
    discount: np.ndarray  # fraction off list price
    assortment: np.ndarray  # how many items the customer buys


def _make_customers(rng: np.random.Generator, n_items: int) -> Customers:
    n = len(CUSTOMERS)
    bus = np.array([BUS_GROUPS.index(g) for _, g in CUSTOMERS])
    domestic = np.flatnonzero(bus == 0)
    salesperson = np.full(n, EXPORT_DESK, dtype=object)
    salesperson[domestic] = np.array(SALESPERSONS[:4], dtype=object)[
        rng.permutation(len(domestic)) % 4]
    home = np.where(bus == 1, 1, np.where(bus == 2, 2, rng.choice(3, n, p=[0.5, 0.25, 0.25])))
    size = rng.lognormal(0.0, 0.6, n)
    size /= size.mean()
    assortment = np.clip(np.round(min(0.35 * n_items, 150.0) * np.sqrt(size)
                                  * rng.uniform(0.7, 1.3, n)), 1, n_items).astype(np.int64)
    no = _codes("C", np.arange(n), 10, 10, 5)
    frame = pd.DataFrame({
        "customer_no": no,
        "name": [name for name, _ in CUSTOMERS],
        "gen_bus_posting_group": [g for _, g in CUSTOMERS],
        "salesperson": salesperson,
    })
    discount = rng.choice([0.0, 0.02, 0.03, 0.05], n, p=[0.4, 0.25, 0.2, 0.15])
    return Customers(frame, no, bus, salesperson, home, size, discount, assortment)


# --------------------------------------------------------------------------- demand


@dataclass
class Demand:
    """Which customer buys which item from which location, and how much is expected."""

    cust: np.ndarray  # per combination (customer × item × location)
    item: np.ndarray
    loc: np.ndarray
    base: np.ndarray  # expected monthly quantity before seasonality, trend, promotions
    lines: np.ndarray  # expected order lines per month
    factor: np.ndarray  # items × (history + plan) months: season · trend · promo · launch
    budget_factor: np.ndarray  # the same as known when the budget was set
    promo: np.ndarray  # items × months: on promotion (10 % off list price)


def _make_demand(rng: np.random.Generator, itm: Items, cus: Customers, cal: Calendar) -> Demand:
    cust, item = _assortment(rng, itm, cus)
    loc = np.where(itm.make[item], MAIN, cus.home[cust])
    # dearer items of a category sell fewer units
    typical_cost = np.array([np.sqrt(c.cost[0] * c.cost[1]) for c in CATEGORIES])[itm.cat]
    item_volume = (np.array([c.volume for c in CATEGORIES])[itm.cat]
                   * (itm.cost / typical_cost) ** -0.8)
    volume = item_volume[item]
    # popular items are bought by more customers (the assortment) and a little more by each
    depth = itm.popularity[item] ** 0.35 * cus.size[cust]
    base = volume * depth * rng.uniform(0.7, 1.3, len(cust))
    lines = np.clip(0.45 + 1.05 * np.sqrt(depth) * rng.uniform(0.6, 1.4, len(cust)), 0.15, 6.0)
    factor, budget_factor, promo = _demand_factors(rng, itm, cal)
    return Demand(cust, item, loc, base, lines, factor, budget_factor, promo)


def _assortment(rng: np.random.Generator, itm: Items, cus: Customers):
    """Each customer buys the items of a popularity-weighted sample (Gumbel top-k); every
    item is bought by someone; an export customer buys spare parts (the unmapped pair)."""
    n_cust, n_items = len(cus.no), len(itm.no)
    keys = np.log(itm.popularity)[None, :] + rng.gumbel(size=(n_cust, n_items))
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    chosen = rank < cus.assortment[:, None]
    orphans = np.flatnonzero(~chosen.any(axis=0))
    chosen[rng.choice(n_cust, len(orphans), p=cus.size / cus.size.sum()), orphans] = True
    parts = np.flatnonzero(itm.cat == _category_index("PARTS"))
    export = np.flatnonzero(cus.bus == BUS_GROUPS.index("EXPORT"))
    if len(parts) and len(export):
        chosen[export[0], parts[0]] = True
    cust, item = np.nonzero(chosen)
    return cust, item


def _category_index(code: str) -> int:
    return next(i for i, c in enumerate(CATEGORIES) if c.code == code)


def _demand_factors(rng: np.random.Generator, itm: Items, cal: Calendar):
    months = cal.all
    n_items, n_months = len(itm.no), len(months)
    season = np.array([c.season for c in CATEGORIES])
    season /= season.mean(axis=1, keepdims=True)
    factor = season[itm.cat][:, _month_of_year(months)]
    factor *= (1.0 + itm.growth[:, None]) ** (np.arange(n_months)[None, :] / 12.0)
    can_promote = itm.cat != _category_index("PARTS")
    promo = (rng.random((n_items, n_months)) < 0.045) & can_promote[:, None]
    uplift = rng.uniform(1.4, 1.9, (n_items, n_months))
    dip = np.zeros_like(promo)
    dip[:, 1:] = promo[:, :-1] & ~promo[:, 1:]
    factor *= np.where(promo, uplift, np.where(dip, 0.85, 1.0))
    since_launch = np.arange(n_months)[None, :] - itm.launch[:, None]
    factor *= np.clip((since_launch + 1) / 3.0, 0.0, 1.0) ** (itm.launch[:, None] > 0)
    # a quarter of the past promotions were decided after the budget was set
    unplanned = promo & (rng.random(promo.shape) < 0.25)
    unplanned[:, cal.n:] = False
    budget_factor = np.where(unplanned, factor / uplift, factor)
    return factor, budget_factor, promo


# --------------------------------------------------------------------------- sales


@dataclass
class Sales:
    frame: pd.DataFrame
    combo: np.ndarray  # per line, index into the Demand combinations
    month: np.ndarray  # history month index of the order date
    order: np.ndarray  # chronological order index
    item: np.ndarray
    cust: np.ndarray
    quantity: np.ndarray
    order_date: np.ndarray
    due: np.ndarray  # the date the line is planned to ship (promised, else requested)
    price: np.ndarray


def _make_sales(rng: np.random.Generator, itm: Items, cus: Customers, dem: Demand,
                cal: Calendar) -> Sales:
    """Order lines of the history months, plus the opening backlog: lines ordered in the
    month before the history that are due inside it."""
    combo, month, quantity = _draw_order_lines(rng, dem, cal)
    order, order_date = _group_into_orders(rng, dem.cust[combo], month, cus, cal)
    # an item drawn twice for the same order becomes one line with the sum
    n_combos = len(dem.cust)
    keys, merged = np.unique(order * n_combos + combo, return_inverse=True)
    quantity = np.bincount(merged.ravel(), weights=quantity).astype(np.int64)
    order, combo = keys // n_combos, keys % n_combos
    order_date = order_date[order]
    month = (order_date.astype(MONTH) - cal.history[0]).astype(np.int64)  # -1: backlog
    item, n = dem.item[combo], len(combo)

    requested = _add_business_days(order_date, rng.integers(3, 12, n)
                                   + np.where(itm.make[item], 5, 0))
    peak = dem.factor[item, np.maximum(month, 0)] > 1.2
    delayed = rng.random(n) < np.where(peak, 0.35, 0.18)
    promised = _add_business_days(requested, np.where(delayed, rng.integers(1, 9, n), 0))
    blank = rng.random(n) < 0.015
    due = np.where(blank, requested, promised)
    price = np.round(itm.price[item] * np.where(dem.promo[item, np.maximum(month, 0)], 0.9,
                                                1.0), 2)

    keep = (month >= 0) | (due >= cal.history[0].astype(DAY))
    rows, line_no = _document_lines(order[keep], item[keep])
    rows = np.flatnonzero(keep)[rows]
    combo, month, order, item, quantity, order_date, requested, promised, due, price, blank = (
        a[rows] for a in (combo, month, order, item, quantity, order_date, requested, promised,
                          due, price, blank))
    cust = dem.cust[combo]
    frame = pd.DataFrame({
        "order_no": _codes("S-ORD", order),
        "line_no": line_no,
        "customer_no": cus.no[cust],
        "item_no": itm.no[item],
        "location_code": _location_codes(dem.loc[combo]),
        "order_date": order_date,
        "promised_date": np.where(blank, np.datetime64("NaT"), promised).astype(DAY),
        "quantity": quantity,
        "requested_date": requested,
        "unit_price": price,
    })
    return Sales(frame, combo, month, order, item, cust, quantity, order_date, due, price)


def _draw_order_lines(rng: np.random.Generator, dem: Demand, cal: Calendar):
    """Poisson many lines per combination and month (month -1 is the month before the
    history, drawn like the first); promotions bring more and bigger lines."""
    factor = dem.factor[dem.item, : cal.n]
    factor = np.concatenate([factor[:, :1], factor], axis=1)
    expected = dem.base[:, None] * factor
    rate = np.minimum(dem.lines[:, None] * np.sqrt(factor), expected)
    count = rng.poisson(rate)
    combo, month = np.nonzero(count)
    reps = count[combo, month]
    size = expected[combo, month] / rate[combo, month]
    combo, month, size = np.repeat(combo, reps), np.repeat(month, reps), np.repeat(size, reps)
    sigma = 0.35
    noise = rng.lognormal(-sigma**2 / 2, sigma, len(size))
    quantity = np.maximum(1, np.round(size * noise))
    return combo, month - 1, quantity.astype(np.int64)


def _group_into_orders(rng: np.random.Generator, cust: np.ndarray, month: np.ndarray,
                       cus: Customers, cal: Calendar):
    """Lines of one customer and month go onto a few orders (several lines each).
    Returns each line's chronological order index and each order's date."""
    months = np.concatenate([cal.history[:1] - 1, cal.history])
    n_months = len(months)
    group = cust.astype(np.int64) * n_months + month + 1
    lines_in_group = np.bincount(group, minlength=len(cus.no) * n_months)
    per_order = rng.uniform(2.0, 6.0, len(cus.no))[np.arange(len(lines_in_group)) // n_months]
    orders_in_group = np.ceil(lines_in_group / per_order).astype(np.int64)
    local = (rng.random(len(group)) * orders_in_group[group]).astype(np.int64)
    keys, order = np.unique(group * (1 << 20) + local, return_inverse=True)
    order_date = _random_business_day(rng, months[(keys >> 20) % n_months])
    number = _rank_chronologically(order_date, keys)
    sorted_dates = np.empty_like(order_date)
    sorted_dates[number] = order_date
    return number[order.ravel()], sorted_dates


@dataclass
class Shipments:
    frame: pd.DataFrame
    line: np.ndarray  # index into the sales lines
    header: np.ndarray  # shipment index (chronological)
    date: np.ndarray
    quantity: np.ndarray


def _make_shipments(rng: np.random.Generator, sales: Sales, dem: Demand, itm: Items,
                    cal: Calendar) -> Shipments:
    """Each line ships in one, two or three parts, early, on time or late; parts dated
    after the history are not shipped yet (open order lines)."""
    n = len(sales.quantity)
    item = dem.item[sales.combo]
    peak = dem.factor[item, np.maximum(sales.month, 0)] > 1.15
    p_late = 0.04 + np.where(peak, 0.06, 0.0) + np.where(itm.make[item], 0.03, 0.0)
    u = rng.random(n)
    offset = np.select(
        [u < 0.10, u < 0.985 - p_late, u < 0.985],
        [-rng.integers(1, 5, n), -rng.integers(0, 3, n), rng.integers(1, 7, n)],
        rng.integers(7, 21, n),
    )
    first = np.maximum(_add_business_days(sales.due, offset), sales.order_date)
    first = np.busday_offset(np.maximum(first, cal.history[0].astype(DAY)), 0, roll="forward")
    second = _add_business_days(first, rng.integers(3, 16, n))
    third = _add_business_days(second, rng.integers(3, 16, n))

    qty = sales.quantity
    v = rng.random(n)
    parts = np.minimum(np.where(v < 0.03, 3, np.where(v < 0.15, 2, 1)), qty)
    q1 = np.where(parts == 1, qty, np.clip(np.floor(qty * rng.uniform(0.35, 0.85, n)), 1,
                                           np.maximum(qty - 1, 1))).astype(np.int64)
    rest = qty - q1
    three = (parts == 3) & (rest >= 2)
    q2 = np.where(three, np.clip(np.floor(rest * rng.uniform(0.4, 0.7, n)), 1,
                                 np.maximum(rest - 1, 1)), rest).astype(np.int64)
    q3 = np.where(three, rest - q2, 0)

    line = np.tile(np.arange(n), 3)
    date = np.concatenate([first, second, third])
    quantity = np.concatenate([q1, q2, q3])
    keep = (quantity > 0) & (date <= cal.end)
    line, date, quantity = line[keep], date[keep], quantity[keep]

    header = _number_by_date(sales.order[line], date)
    rows, line_no = _document_lines(header, line)
    line, date, quantity, header = line[rows], date[rows], quantity[rows], header[rows]
    lines = sales.frame
    frame = pd.DataFrame({
        "shipment_no": _codes("S-SHPT", header),
        "line_no": line_no,
        "order_no": lines["order_no"].to_numpy()[line],
        "order_line_no": lines["line_no"].to_numpy()[line],
        "shipment_date": date,
        "quantity": quantity,
    })
    return Shipments(frame, line, header, date, quantity)


def _sales_invoices(rng: np.random.Generator, ships: Shipments, sales: Sales, itm: Items,
                    cus: Customers, cal: Calendar) -> pd.DataFrame:
    """One invoice per shipment, posted the same day or a few business days later;
    shipments whose invoice would post after the history are not invoiced yet."""
    n_headers = int(ships.header.max()) + 1 if len(ships.header) else 0
    shipped_on = np.empty(n_headers, dtype=DAY)
    shipped_on[ships.header] = ships.date
    delay = np.where(rng.random(n_headers) < 0.8, 0, rng.integers(1, 4, n_headers))
    posting = _add_business_days(shipped_on, delay)
    invoice = _rank_chronologically(posting, np.arange(n_headers))
    keep = (posting <= cal.end)[ships.header]
    header, line, qty = ships.header[keep], ships.line[keep], ships.quantity[keep]
    rows, line_no = _document_lines(invoice[header], line)
    header, line, qty = header[rows], line[rows], qty[rows]
    item, cust = sales.item[line], sales.cust[line]
    lines = sales.frame
    return pd.DataFrame({
        "invoice_no": _codes("S-INV", invoice[header]),
        "line_no": line_no,
        "posting_date": posting[header],
        "customer_no": cus.no[cust],
        "item_no": itm.no[item],
        "location_code": lines["location_code"].to_numpy()[line],
        "quantity": qty,
        "amount": np.round(qty * sales.price[line] * (1.0 - cus.discount[cust]), 2),
        "cost_amount": np.round(qty * itm.cost[item], 2),
        "salesperson": cus.salesperson[cust],
    })


# --------------------------------------------------------------------------- budgets


@dataclass
class SalesBudget:
    frame: pd.DataFrame
    item: np.ndarray
    cust: np.ndarray
    month: np.ndarray  # index into Calendar.all
    quantity: np.ndarray
    amount: np.ndarray


def _sales_budget(rng: np.random.Generator, itm: Items, cus: Customers, dem: Demand,
                  cal: Calendar) -> SalesBudget:
    """Expected demand as known when the budget was set, with a per-item planning bias,
    phased as it will be invoiced (about half of a month's orders ship the month after)."""
    bias = rng.normal(1.0, 0.07, len(itm.no))
    ordered = dem.budget_factor[dem.item]
    phased = ordered.copy()
    phased[:, 1:] = 0.55 * ordered[:, 1:] + 0.45 * ordered[:, :-1]
    expected = dem.base[:, None] * phased * bias[dem.item][:, None]
    planned = np.floor(expected * rng.normal(1.0, 0.05, expected.shape)
                       + rng.random(expected.shape))
    combo, month = np.nonzero(planned >= 1)
    quantity = planned[combo, month].astype(np.int64)
    item, cust, loc = dem.item[combo], dem.cust[combo], dem.loc[combo]
    rows = np.lexsort((loc, item, cust, month))
    combo, month, quantity, item, cust, loc = (
        a[rows] for a in (combo, month, quantity, item, cust, loc))
    promo = dem.promo[item, month] & (dem.budget_factor[item, month] == dem.factor[item, month])
    price = itm.price[item] * np.where(promo, 0.9, 1.0) * (1.0 - cus.discount[cust])
    amount = np.round(quantity * price, 2)
    frame = pd.DataFrame({
        "period": _period_text(cal.all[month]),
        "customer_no": cus.no[cust],
        "item_no": itm.no[item],
        "location_code": _location_codes(loc),
        "quantity": quantity,
        "amount": amount,
    })
    return SalesBudget(frame, item, cust, month, quantity, amount)


def _income_account(bus: str, prod: str) -> str:
    return _SALES_ACCOUNTS[prod][0] + _BUS_SUFFIX[bus][0]


def _gl_accounts() -> pd.DataFrame:
    rows = [
        (_income_account(bus, prod), f"{stem} - {_BUS_SUFFIX[bus][1]}", "income", "Revenue")
        for prod, (_, stem) in _SALES_ACCOUNTS.items()
        for bus in BUS_GROUPS
    ]
    rows += [(no, name, "expense", "Cost of Goods Sold") for no, name in _COGS_ACCOUNTS.values()]
    rows += [(no, name, "expense", cat) for no, name, cat in _EXPENSE_ACCOUNTS]
    rows.sort()
    return pd.DataFrame(rows, columns=["gl_account", "name", "account_type", "category"])


def _posting_setup() -> pd.DataFrame:
    rows = [
        (bus, prod, _income_account(bus, prod), _COGS_ACCOUNTS[prod][0])
        for bus in BUS_GROUPS
        for prod in _SALES_ACCOUNTS
        if (bus, prod) not in MISSING_POSTING_PAIRS
    ]
    return pd.DataFrame(rows, columns=["gen_bus_posting_group", "gen_prod_posting_group",
                                       "sales_account", "cogs_account"])


def _gl_budget(rng: np.random.Generator, budget: SalesBudget, itm: Items, cus: Customers,
               dem: Demand, hours: np.ndarray, cal: Calendar) -> pd.DataFrame:
    """Finance's budget: the sales budget per account (finance also budgets the pair the
    posting setup lacks), rounded to hundreds, a few account-months 7–14 % off; COGS at
    unit cost; operating expenses."""
    accounts = _gl_accounts()
    index = {no: i for i, no in enumerate(accounts["gl_account"])}
    n_acc, n_months = len(accounts), len(cal.all)
    groups = list(_SALES_ACCOUNTS)
    prod = np.array([groups.index(CATEGORIES[k].prod_group) for k in itm.cat])[budget.item]
    income_of = np.array([[index[_income_account(b, p)] for p in groups] for b in BUS_GROUPS])
    cogs_of = np.array([index[_COGS_ACCOUNTS[p][0]] for p in groups])
    income, cogs = income_of[cus.bus[budget.cust], prod], cogs_of[prod]
    cost = budget.quantity * itm.cost[budget.item]

    amount = np.zeros((n_acc, n_months))
    np.add.at(amount, (income, budget.month), budget.amount)
    np.add.at(amount, (cogs, budget.month), cost)
    amount *= rng.normal(1.0, 0.01, amount.shape)
    _disagree(rng, amount, np.unique(income))

    revenue = amount[np.unique(income)].sum(axis=0)
    moy = _month_of_year(cal.all)
    year = (cal.all.astype("datetime64[Y]").astype(np.int64) + 1970)
    raise_ = 1.03 ** (year - year[0])
    make_hours = (budget.quantity * hours[budget.item].sum(axis=1)) if len(hours) else 0.0
    production_hours = np.bincount(budget.month, weights=make_hours, minlength=n_months)
    promotions = dem.promo.sum(axis=0)
    heating = np.array([1.4, 1.3, 1.1, 0.9, 0.8, 0.8, 0.85, 0.85, 0.9, 1.0, 1.2, 1.35])
    expenses = {
        "8110": len(SALESPERSONS) * 6200.0 * raise_,
        "8210": production_hours * 42.0 * raise_,
        "8310": 0.032 * revenue,
        "8410": 0.012 * revenue + 2500.0 * promotions,
        "8510": 5200.0 * heating[moy] * raise_,
    }
    for no, values in expenses.items():
        amount[index[no]] = values
    amount = np.round(amount, -2).astype(np.int64)

    acc, month = np.meshgrid(np.arange(n_acc), np.arange(n_months), indexing="ij")
    return pd.DataFrame({
        "gl_account": accounts["gl_account"].to_numpy()[acc.ravel()],
        "period": _period_text(cal.all[month.ravel()]),
        "amount": amount.ravel(),
        "budget_name": np.char.add("FY", year[month.ravel()].astype(str)).astype(object),
    })


def _disagree(rng: np.random.Generator, amount: np.ndarray, income: np.ndarray) -> None:
    """Push two of the largest income accounts 7–14 % off for 2–3 consecutive months."""
    totals = amount[income].sum(axis=1)
    largest = income[np.argsort(-totals, kind="stable")][:4]
    n_months = amount.shape[1]
    for acc in rng.choice(largest, size=min(2, len(largest)), replace=False):
        length = min(int(rng.integers(2, 4)), n_months)
        start = int(rng.integers(0, n_months - length + 1))
        sign = rng.choice([-1.0, 1.0])
        amount[acc, start:start + length] *= 1.0 + sign * rng.uniform(0.07, 0.14)


# --------------------------------------------------------------------------- supply


@dataclass
class Supply:
    """Stock points (item × location) with their expected demand, monthly supply and stock."""

    item: np.ndarray
    loc: np.ndarray
    lot: np.ndarray
    expected: np.ndarray  # stock points × (history + plan) months: expected demand
    received: np.ndarray  # stock points × history months: quantity received / finished
    stock: np.ndarray  # stock points × (1 + history months): opening, then period ends


def _simulate_supply(rng: np.random.Generator, itm: Items, dem: Demand, sales: Sales,
                     ships: Shipments, cal: Calendar) -> Supply:
    """Each month's supply replaces the expected demand and closes half the gap to a target
    cover, in lots — and never less than needed to ship what was shipped."""
    key = dem.item * len(LOCATIONS) + dem.loc
    points, combo_point = np.unique(key, return_inverse=True)
    combo_point = combo_point.ravel()
    item, loc = points // len(LOCATIONS), points % len(LOCATIONS)
    n = len(points)
    expected = np.zeros((n, len(cal.all)))
    np.add.at(expected, combo_point, dem.base[:, None] * dem.factor[dem.item])

    month = (ships.date.astype(MONTH) - cal.history[0]).astype(np.int64)
    point = combo_point[sales.combo[ships.line]]
    shipped = np.bincount(point * cal.n + month, weights=ships.quantity,
                          minlength=n * cal.n).reshape(n, cal.n).round().astype(np.int64)

    lot = itm.lot[item]
    cover = np.where(itm.make[item], rng.uniform(0.6, 1.2, n), rng.uniform(1.0, 2.2, n))
    stock = np.zeros((n, cal.n + 1), dtype=np.int64)
    stock[:, 0] = np.round(expected[:, 0] * cover * rng.uniform(0.9, 1.1, n))
    received = np.zeros((n, cal.n), dtype=np.int64)
    for m in range(cal.n):
        gap = cover * expected[:, m] - stock[:, m]
        plan = _round_up(expected[:, m] * rng.uniform(0.95, 1.05, n) + 0.5 * gap, lot)
        need = _round_up(shipped[:, m] - stock[:, m], lot)
        received[:, m] = np.maximum(plan, need)
        stock[:, m + 1] = stock[:, m] + received[:, m] - shipped[:, m]
    return Supply(item, loc, lot, expected, received, stock)


def _split_lots(rng: np.random.Generator, total: np.ndarray, lot: np.ndarray,
                max_parts: int, months: np.ndarray):
    """Split each total (a multiple of its lot) into 1..max_parts lot-sized parts, each on a
    random business day of its month. Returns (index of the total, quantity, date)."""
    units = total // lot
    parts = np.minimum(rng.integers(1, max_parts + 1, len(total)), np.maximum(units, 1))
    group = np.repeat(np.arange(len(total)), parts)
    weight = rng.uniform(0.5, 1.5, len(group))
    share = weight / np.bincount(group, weight, minlength=len(total))[group]
    quantity = (np.floor(units[group] * share) * lot[group]).astype(np.int64)
    first = np.cumsum(parts) - parts
    quantity[first] += total - np.bincount(group, quantity, minlength=len(total)).astype(
        np.int64)
    date = _random_business_day(rng, months[group])
    keep = quantity > 0
    return group[keep], quantity[keep], date[keep]


def _lateness(rng: np.random.Generator, vendor: np.ndarray) -> np.ndarray:
    """Business days received after the expected date (negative = early), by vendor profile."""
    profiles = [VENDOR_PROFILES[p] for _, p in VENDORS]
    p_late = np.array([p[0] for p in profiles])[vendor]
    lo = np.array([p[1][0] for p in profiles])[vendor]
    hi = np.array([p[1][1] for p in profiles])[vendor]
    p_early = np.array([p[2] for p in profiles])[vendor]
    n = len(vendor)
    u = rng.random(n)
    late = lo + (rng.random(n) * (hi - lo + 1)).astype(np.int64)
    return np.where(u < p_late, late, np.where(u > 1.0 - p_early, -rng.integers(1, 6, n), 0))


def _number_by_date(group_key: np.ndarray, day: np.ndarray) -> np.ndarray:
    """One document per (group key, day), numbered 0, 1, … by date; per row."""
    keys, header = np.unique(group_key.astype(np.int64) << _DAY_BITS | _day_key(day),
                             return_inverse=True)
    return _rank_chronologically(keys & ((1 << _DAY_BITS) - 1), keys)[header.ravel()]


def _purchase_receipts(rng: np.random.Generator, itm: Items, supply: Supply,
                       cal: Calendar) -> tuple[pd.DataFrame, int]:
    """Receipts of bought items; returns the frame and how many purchase orders they used."""
    bought = ~itm.make[supply.item]
    point, month = np.nonzero(supply.received * bought[:, None] > 0)
    group, quantity, received_on = _split_lots(
        rng, supply.received[point, month], supply.lot[point], 3, cal.history[month])
    item = supply.item[point[group]]
    vendor = itm.vendor[item]
    expected = _add_business_days(received_on, -_lateness(rng, vendor))
    receipt = _number_by_date(vendor, received_on)
    order = _number_by_date(vendor, expected)
    rows, line_no = _document_lines(receipt, item * len(LOCATIONS) + supply.loc[point[group]])
    frame = pd.DataFrame({
        "receipt_no": _codes("P-RCPT", receipt[rows]),
        "line_no": line_no,
        "vendor_no": _vendor_no(vendor[rows]),
        "item_no": itm.no[item[rows]],
        "expected_receipt_date": expected[rows],
        "receipt_date": received_on[rows],
        "quantity": quantity[rows],
        "order_no": _codes("P-ORD", order[rows]),
    })
    return frame, int(order.max()) + 1 if len(order) else 0


def _vendor_no(vendor: np.ndarray) -> np.ndarray:
    return _codes("V", vendor, 10, 10, 5)


def _purchase_orders(rng: np.random.Generator, itm: Items, supply: Supply, cal: Calendar,
                     first_no: int) -> pd.DataFrame:
    """Open purchase order lines due in the next three months (the further out, the fewer
    already placed)."""
    bought = ~itm.make[supply.item]
    plan = supply.expected[:, cal.n: cal.n + 3]
    placed = rng.random(plan.shape) < np.array([0.95, 0.75, 0.4])[: plan.shape[1]]
    quantity = _round_up(plan * rng.uniform(0.8, 1.2, plan.shape), supply.lot[:, None])
    quantity *= placed & bought[:, None]
    point, month = np.nonzero(quantity > 0)
    group, qty, expected = _split_lots(rng, quantity[point, month], supply.lot[point], 2,
                                       cal.plan[month])
    point = point[group]
    item = supply.item[point]
    vendor = itm.vendor[item]
    order = _number_by_date(vendor, expected) + first_no
    rows, line_no = _document_lines(order, item * len(LOCATIONS) + supply.loc[point])
    return pd.DataFrame({
        "order_no": _codes("P-ORD", order[rows]),
        "line_no": line_no,
        "vendor_no": _vendor_no(vendor[rows]),
        "item_no": itm.no[item[rows]],
        "location_code": _location_codes(supply.loc[point[rows]]),
        "expected_receipt_date": expected[rows],
        "outstanding_quantity": qty[rows],
    })


def _location_codes(loc: np.ndarray) -> np.ndarray:
    return np.array([c for c, _ in LOCATIONS], dtype=object)[loc]


@dataclass
class Production:
    frame: pd.DataFrame
    item: np.ndarray
    due: np.ndarray
    planned: np.ndarray


def _production_orders(rng: np.random.Generator, itm: Items, dem: Demand, supply: Supply,
                       hours: np.ndarray, cal: Calendar) -> Production:
    """Finished orders make what the supply simulation received (some late, some short),
    a few orders due in the last closed month are still open, and released / firm planned
    orders cover the next three months."""
    made = itm.make[supply.item]
    point, month = np.nonzero(supply.received * made[:, None] > 0)
    group, finished, finished_on = _split_lots(
        rng, supply.received[point, month], supply.lot[point], 4, cal.history[month])
    point, month = point[group], month[group]
    item = supply.item[point]
    n = len(item)
    peak = dem.factor[item, month] > 1.15
    u = rng.random(n)
    late = u < np.where(peak, 0.22, 0.08)
    early = ~late & (u > 0.85)
    due = _add_business_days(finished_on, np.where(late, -rng.integers(1, 9, n),
                                                   np.where(early, rng.integers(1, 4, n), 0)))
    v = rng.random(n)
    planned = np.where(v < 0.10, np.ceil(finished / rng.uniform(0.6, 0.92, n)),
                       np.where(v > 0.96, np.maximum(1, np.floor(finished * 0.93)), finished))
    done = {"item": item, "due": due, "planned": planned.astype(np.int64),
            "finished": finished, "finished_on": finished_on,
            "status": np.full(n, "Finished", dtype=object)}

    open_points = np.flatnonzero(made & (supply.expected[:, cal.n - 1] > 0))
    late_points = np.sort(rng.choice(open_points, size=int(np.ceil(0.12 * len(open_points))),
                                     replace=False))
    overdue = _open_orders(
        supply.item[late_points], _round_up(supply.expected[late_points, cal.n - 1]
                                            * rng.uniform(0.2, 0.5, len(late_points)),
                                            supply.lot[late_points]),
        _random_business_day(rng, np.repeat(cal.history[-1], len(late_points))), "Released")

    plan = supply.expected[:, cal.n: cal.n + 3]
    scheduled = (rng.random(plan.shape) < np.array([1.0, 0.8, 0.5])[: plan.shape[1]])
    quantity = _round_up(plan * rng.uniform(0.9, 1.1, plan.shape), supply.lot[:, None])
    quantity *= scheduled & made[:, None]
    fpoint, fmonth = np.nonzero(quantity > 0)
    fgroup, fqty, fdue = _split_lots(rng, quantity[fpoint, fmonth], supply.lot[fpoint], 2,
                                     cal.plan[fmonth])
    status = np.where(fmonth[fgroup] == 0, "Released", "Firm Planned").astype(object)
    future = _open_orders(supply.item[fpoint[fgroup]], fqty, fdue, status)

    parts = [done, overdue, future]
    cols = {k: np.concatenate([p[k] for p in parts]) for k in done}
    number = _rank_chronologically(cols["due"], np.arange(len(cols["due"])))
    rows = np.argsort(number)
    cols = {k: v[rows] for k, v in cols.items()}
    item = cols["item"]
    open_ = cols["status"] != "Finished"
    primary = np.array(WORK_CENTERS, dtype=object)[np.argmax(hours, axis=1)]
    frame = pd.DataFrame({
        "prod_order_no": _codes("PRD-", np.arange(len(item))),
        "item_no": itm.no[item],
        "location_code": LOCATIONS[MAIN][0],
        "due_date": cols["due"],
        "planned_quantity": cols["planned"],
        "finished_date": np.where(open_, np.datetime64("NaT"), cols["finished_on"]).astype(DAY),
        "finished_quantity": pd.Series(cols["finished"], dtype="Int64").mask(open_),
        "status": cols["status"],
        "work_center": primary[item],
    })
    return Production(frame, item, cols["due"], cols["planned"])


def _open_orders(item: np.ndarray, planned: np.ndarray, due: np.ndarray, status) -> dict:
    n = len(item)
    return {"item": item, "due": due.astype(DAY), "planned": planned.astype(np.int64),
            "finished": np.zeros(n, dtype=np.int64),
            "finished_on": np.full(n, np.datetime64("NaT"), dtype=DAY),
            "status": np.broadcast_to(np.asarray(status, dtype=object), (n,)).copy()}


def _inventory(itm: Items, supply: Supply, cal: Calendar) -> pd.DataFrame:
    """Period-end on hand per stock point: the opening month and every history month."""
    periods = np.concatenate([cal.history[:1] - 1, cal.history])
    point, month = np.meshgrid(np.arange(len(supply.item)), np.arange(len(periods)),
                               indexing="ij")
    point, month = point.ravel(), month.ravel()
    rows = np.lexsort((supply.loc[point], itm.no[supply.item[point]].astype(str), month))
    point, month = point[rows], month[rows]
    quantity = supply.stock[point, month]
    return pd.DataFrame({
        "period": _period_text(periods[month]),
        "item_no": itm.no[supply.item[point]],
        "location_code": _location_codes(supply.loc[point]),
        "quantity": quantity,
        "value": np.round(quantity * itm.cost[supply.item[point]], 2),
    })


# --------------------------------------------------------------------------- capacity


def _routing_hours(rng: np.random.Generator, itm: Items) -> np.ndarray:
    """Hours per unit, items × WORK_CENTERS (0 = not routed there)."""
    hours = np.zeros((len(itm.no), len(WORK_CENTERS)))
    for k, category in enumerate(CATEGORIES):
        members = np.flatnonzero(itm.cat == k)
        for w, (p, lo, hi) in enumerate(category.routing):
            used = members[rng.random(len(members)) < p]
            hours[used, w] = np.round(rng.uniform(lo, hi, len(used)), 2)
    return hours


def _routings(itm: Items, hours: np.ndarray) -> pd.DataFrame:
    item, wc = np.nonzero(hours > 0)
    return pd.DataFrame({
        "item_no": itm.no[item],
        "work_center": np.array(WORK_CENTERS, dtype=object)[wc],
        "hours_per_unit": hours[item, wc],
    })


def _capacity_ledger(rng: np.random.Generator, itm: Items, production: Production,
                     hours: np.ndarray) -> pd.DataFrame:
    """Hours worked, as Business Central's capacity ledger posts them: one entry per
    finished production order and work center of its routing, on the finished date —
    the standard hours of the quantity finished × an efficiency factor per work center
    (some centres beat their standards, others do not) × a little noise per entry —
    costed at 38.50 per hour."""
    frame = production.frame
    finished = frame["finished_date"].notna().to_numpy()
    order = np.flatnonzero(finished)
    qty = frame["finished_quantity"].to_numpy(dtype=float)
    factor = rng.uniform(0.88, 1.12, len(WORK_CENTERS))
    rows = []
    for w, centre in enumerate(WORK_CENTERS):
        per_unit = hours[production.item[order], w]
        used = per_unit > 0
        if not used.any():
            continue
        chosen = order[used]
        standard = qty[chosen] * per_unit[used]
        worked = np.round(standard * factor[w] * rng.uniform(0.93, 1.07, len(chosen)), 2)
        rows.append(pd.DataFrame({
            "work_center": centre,
            "posting_date": frame["finished_date"].to_numpy()[chosen],
            "hours": worked,
            "cost_amount": np.round(worked * 38.5, 2),
            "item_no": itm.no[production.item[chosen]],
            "prod_order_no": frame["prod_order_no"].to_numpy()[chosen],
        }))
    out = (pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["work_center", "posting_date", "hours", "cost_amount", "item_no",
                 "prod_order_no"]))
    out = out.sort_values(["posting_date", "prod_order_no", "work_center"], kind="mergesort")
    out.insert(0, "entry_no", np.arange(1, len(out) + 1))
    return out.reset_index(drop=True)


def _capacity(rng: np.random.Generator, hours: np.ndarray, production: Production,
              cal: Calendar) -> pd.DataFrame:
    """Available hours per work center: a little above the average historical load, less
    in holiday months (August, December) — seasonal peaks overload it."""
    month = (production.due.astype(MONTH) - cal.history[0]).astype(np.int64)
    inside = (month >= 0) & (month < cal.n)
    load = np.array([
        np.bincount(month[inside], minlength=cal.n,
                    weights=(production.planned * hours[production.item, w])[inside])
        for w in range(len(WORK_CENTERS))
    ])
    base = np.maximum(load.mean(axis=1) * rng.uniform(1.06, 1.15, len(WORK_CENTERS)), 160.0)
    holiday = np.ones(12)
    holiday[[7, 11]] = [0.85, 0.8]
    months = cal.all
    available = base[:, None] * holiday[_month_of_year(months)][None, :]
    available = np.maximum(8, np.round(available / 8) * 8).astype(np.int64)
    wc, m = np.meshgrid(np.arange(len(WORK_CENTERS)), np.arange(len(months)), indexing="ij")
    return pd.DataFrame({
        "work_center": np.array(WORK_CENTERS, dtype=object)[wc.ravel()],
        "period": _period_text(months[m.ravel()]),
        "available_hours": available.ravel(),
    })


# --------------------------------------------------------------------------- opportunities


def _opportunities(rng: np.random.Generator, itm: Items, cus: Customers,
                   cal: Calendar) -> pd.DataFrame:
    """The sales funnel: deals expected to close in the history months (won, lost, a few
    stale open ones) and in the next six months (open, with probability and commit)."""
    months = np.concatenate([cal.history, cal.plan[:6]])
    per_month = rng.poisson(12.0 * max(1.0, np.sqrt(len(itm.no) / 40.0)), len(months))
    month = np.repeat(np.arange(len(months)), per_month)
    n = len(month)
    cust = rng.choice(len(cus.no), n, p=cus.size / cus.size.sum())
    salesperson = cus.salesperson[cust]
    goods = np.flatnonzero(itm.cat != _category_index("PARTS"))
    goods = goods if len(goods) else np.arange(len(itm.no))
    weight = itm.popularity[goods] / itm.popularity[goods].sum()
    item = rng.choice(goods, n, p=weight)
    with_item = rng.random(n) < 0.85
    quantity = itm.lot[item] * rng.integers(2, 16, n)
    amount = np.where(with_item, quantity * itm.price[item] * rng.uniform(0.88, 0.97, n),
                      np.round(rng.lognormal(np.log(15000.0), 0.7, n), -2))
    expected_close = _random_business_day(rng, months[month])

    win_rate = dict(zip(SALESPERSONS, rng.uniform(0.3, 0.6, len(SALESPERSONS)), strict=True))
    win = np.array([win_rate[s] for s in salesperson])
    u = rng.random(n)
    past = expected_close <= cal.end
    status = np.where(~past | (u < 0.08), "open", np.where(u < 0.08 + 0.92 * win, "won", "lost"))
    closed = status != "open"
    close_date = np.minimum(
        np.busday_offset(expected_close + rng.integers(-20, 15, n), 0, roll="backward"), cal.end)
    close_date = np.where(closed, close_date, np.datetime64("NaT")).astype(DAY)

    probability = rng.choice([0.1, 0.25, 0.5, 0.75, 0.9], n, p=[0.2, 0.25, 0.25, 0.2, 0.1])
    probability = np.where(status == "won", 1.0, np.where(status == "lost", 0.0, probability))
    v = rng.random(n)
    commit = np.select(
        [status == "won", status == "lost", probability >= 0.75, probability == 0.5],
        [v < 0.65, v < 0.2, v < 0.85, v < 0.1], False)

    created = expected_close - rng.integers(20, 120, n)
    rows = np.argsort(_rank_chronologically(created, np.arange(n)))
    return pd.DataFrame({
        "opportunity_no": _codes("OP-", np.arange(n)),
        "salesperson": salesperson[rows],
        "customer_no": cus.no[cust[rows]],
        "expected_close_date": expected_close[rows],
        "amount": np.round(amount[rows], 2),
        "status": status[rows].astype(object),
        "item_no": np.where(with_item, itm.no[item], None)[rows],
        "quantity": pd.Series(quantity[rows], dtype="Int64").mask(~with_item[rows]),
        "probability": probability[rows],
        "commit": commit[rows],
        "close_date": close_date[rows],
    })


def planner_inputs(end_period: str = "2026-10") -> dict[str, pd.DataFrame]:
    """What planners would have typed into the demo workbook by the time of the cycle after
    ``end_period``: an override, two marketing events, last cycle's actions and the
    decisions prepared in the pre-S&OP (tables of the workbook, by name)."""
    import pandas as pd

    from .periods import format_period, parse_period

    last = parse_period(end_period)
    cur, nxt, later = (format_period(last + k) for k in (1, 2, 4))
    due = f"{format_period(last + 1)}-20"
    return {
        "plan_overrides": pd.DataFrame([
            {"item_no": "CH-1001", "location_code": "MAIN", "period": nxt, "quantity": 40,
             "reason_code": "Customer forecast", "comment": "Northwind office refit",
             "entered_by": "Demand planner"}]),
        "plan_events": pd.DataFrame([
            {"event": "Spring office campaign", "kind": "campaign", "category": "DESKS",
             "period_from": later, "period_to": later, "uplift_pct": 0.15},
            {"event": "Dealer spiff", "kind": "spiff", "item_no": "CH-1002",
             "period_from": nxt, "period_to": nxt, "uplift_units": 60}]),
        "act_log": pd.DataFrame([
            {"id": "A-101", "action": "Agree safety stock for the top 10 chairs",
             "owner": "Supply planning", "due": f"{end_period}-25", "status": "done",
             "stage": "3 Supply", "cycle": end_period},
            {"id": "A-102", "action": "Root-cause the late vendor receipts (V-2002)",
             "owner": "Operations leader", "due": due, "status": "in progress",
             "stage": "1 Performance", "cycle": end_period},
            {"id": "A-103", "action": "Re-baseline the lighting forecast after the range change",
             "owner": "Demand planner", "due": due, "status": "open", "stage": "2 Demand",
             "cycle": end_period},
            {"id": "A-104", "action": "Quote overtime for assembly in the peak months",
             "owner": "Operations leader", "due": f"{cur}-28", "status": "open",
             "stage": "5 Pre-S&OP", "cycle": cur}]),
        "presop_decisions": pd.DataFrame([
            {"gap": "Assembly overloaded in the spring peak", "stage": "3 Supply",
             "impact": "Revenue at risk if the constrained plan is accepted (5 Pre-S&OP)",
             "options": "Overtime | pre-build in the quieter months | accept constrained",
             "recommendation": "Pre-build from spare hours, overtime for the rest",
             "owner": "Operations leader", "decide_by": f"{cur}-18", "status": "open"}]),
    }
