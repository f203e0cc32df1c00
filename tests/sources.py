"""Build small contract sources for tests: every table's header is written, rows only
where a case needs them, so a fixture reads like the figures worked out next to it."""

from __future__ import annotations

import csv
from pathlib import Path

from sop_workbook.contract import TABLES

MASTER = {
    "items": [
        {"item_no": "A", "description": "Widget A", "category": "WIDGETS",
         "gen_prod_posting_group": "RETAIL", "unit_cost": 10, "unit_price": 20},
        {"item_no": "B", "description": "Gadget B", "category": "GADGETS",
         "gen_prod_posting_group": "RETAIL", "unit_cost": 5, "unit_price": 8},
    ],
    "customers": [
        {"customer_no": "C1", "name": "Cust one", "gen_bus_posting_group": "DOMESTIC",
         "salesperson": "JO"},
        {"customer_no": "C2", "name": "Cust two", "gen_bus_posting_group": "EXPORT",
         "salesperson": "KE"},
    ],
    "locations": [{"location_code": "MAIN"}, {"location_code": "EAST"}],
    "vendors": [{"vendor_no": "V1", "name": "Vendor one"}, {"vendor_no": "V2", "name": "Two"}],
    "gl_accounts": [
        {"gl_account": "6110", "name": "Sales, domestic", "account_type": "income"},
        {"gl_account": "6120", "name": "Sales, export", "account_type": "income"},
        {"gl_account": "7110", "name": "COGS", "account_type": "expense"},
    ],
    "posting_setup": [
        {"gen_bus_posting_group": "DOMESTIC", "gen_prod_posting_group": "RETAIL",
         "sales_account": "6110", "cogs_account": "7110"},
    ],
}


def write_source(folder: Path, with_master: bool = True, **tables: list[dict]) -> Path:
    """Write ``<table>.csv`` for every contract table into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rows_by_table = {**(MASTER if with_master else {}), **tables}
    for name, spec in TABLES.items():
        rows = rows_by_table.get(name, [])
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(spec.columns))
            writer.writeheader()
            for row in rows:
                writer.writerow(row)
    return folder


def line(order, no, qty, promised, requested="", customer="C1", item="A", location="MAIN",
         order_date="2026-01-02"):
    return {"order_no": order, "line_no": no, "customer_no": customer, "item_no": item,
            "location_code": location, "order_date": order_date, "promised_date": promised,
            "requested_date": requested, "quantity": qty}


def ship(shipment, no, order, order_line, date, qty):
    return {"shipment_no": shipment, "line_no": no, "order_no": order,
            "order_line_no": order_line, "shipment_date": date, "quantity": qty}
