"""Helpers for the hand-worked acceptance tests (tests/handworked).

These tests are written from the KPI definitions and the data contract
(``docs/kpis.md``, ``docs/data-contract.md``) only; every expected figure is worked out by
hand next to its assertion. The helpers here write a CSV source folder (every contract
table, headers always present) and
run the CLI as a user would: ``python -m sop_workbook kpis --source DIR ...``.

Named ``hw_support`` (not ``conftest``/``helpers``) so it cannot clash with modules of
the same basename elsewhere in ``tests/`` under pytest's default import mode.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Required + optional columns of every table, copied by hand from data-contract.md.
COLUMNS: dict[str, list[str]] = {
    "items": [
        "item_no",
        "description",
        "category",
        "gen_prod_posting_group",
        "unit_cost",
        "unit_price",
        "lead_time_days",
        "uom",
    ],
    "customers": ["customer_no", "name", "gen_bus_posting_group", "salesperson"],
    "locations": ["location_code", "name"],
    "vendors": ["vendor_no", "name"],
    "gl_accounts": ["gl_account", "name", "account_type", "category"],
    "posting_setup": [
        "gen_bus_posting_group",
        "gen_prod_posting_group",
        "sales_account",
        "cogs_account",
    ],
    "sales_lines": [
        "order_no",
        "line_no",
        "customer_no",
        "item_no",
        "location_code",
        "order_date",
        "promised_date",
        "quantity",
        "requested_date",
        "unit_price",
    ],
    "sales_shipments": [
        "shipment_no",
        "line_no",
        "order_no",
        "order_line_no",
        "shipment_date",
        "quantity",
    ],
    "sales_invoices": [
        "invoice_no",
        "line_no",
        "posting_date",
        "customer_no",
        "item_no",
        "location_code",
        "quantity",
        "amount",
        "cost_amount",
        "salesperson",
    ],
    "sales_budget": ["period", "customer_no", "item_no", "location_code", "quantity", "amount"],
    "gl_budget": ["gl_account", "period", "amount", "budget_name"],
    "purchase_receipts": [
        "receipt_no",
        "line_no",
        "vendor_no",
        "item_no",
        "expected_receipt_date",
        "receipt_date",
        "quantity",
        "order_no",
    ],
    "purchase_orders": [
        "order_no",
        "line_no",
        "vendor_no",
        "item_no",
        "location_code",
        "expected_receipt_date",
        "outstanding_quantity",
    ],
    "production_orders": [
        "prod_order_no",
        "item_no",
        "location_code",
        "due_date",
        "planned_quantity",
        "finished_date",
        "finished_quantity",
        "status",
        "work_center",
    ],
    "inventory": ["period", "item_no", "location_code", "quantity", "value"],
    "opportunities": [
        "opportunity_no",
        "salesperson",
        "customer_no",
        "expected_close_date",
        "amount",
        "status",
        "item_no",
        "quantity",
        "probability",
        "commit",
        "close_date",
    ],
    "capacity": ["work_center", "period", "available_hours"],
    "routings": ["item_no", "work_center", "hours_per_unit"],
    "capacity_ledger": [
        "entry_no",
        "work_center",
        "posting_date",
        "hours",
        "cost_amount",
        "item_no",
        "prod_order_no",
    ],
}

# Master data shared by every case.
#   posting setup: DOM+RETAIL -> 4000, EXP+RETAIL -> 4100, DOM+FREIGHT -> 6100;
#   nothing for SERVICE (item I3), so I3 budget lines are unmapped.
MASTER: dict[str, list[dict]] = {
    "items": [
        {
            "item_no": "I1",
            "description": "Widget",
            "category": "CAT-A",
            "gen_prod_posting_group": "RETAIL",
            "unit_cost": 5,
            "unit_price": 10,
        },
        {
            "item_no": "I2",
            "description": "Gadget",
            "category": "CAT-B",
            "gen_prod_posting_group": "RETAIL",
            "unit_cost": 8,
            "unit_price": 15,
        },
        {
            "item_no": "I3",
            "description": "Installation service",
            "category": "SVC",
            "gen_prod_posting_group": "SERVICE",
            "unit_cost": 0,
        },
        {
            "item_no": "I4",
            "description": "Freight recharge",
            "category": "SVC",
            "gen_prod_posting_group": "FREIGHT",
            "unit_cost": 0,
        },
    ],
    "customers": [
        {"customer_no": "C1", "name": "Acme", "gen_bus_posting_group": "DOM", "salesperson": "SP1"},
        {
            "customer_no": "C2",
            "name": "Globex",
            "gen_bus_posting_group": "EXP",
            "salesperson": "SP2",
        },
    ],
    "locations": [
        {"location_code": "WH1", "name": "Main"},
        {"location_code": "WH2", "name": "Second"},
    ],
    "vendors": [
        {"vendor_no": "V1", "name": "Supplier one"},
        {"vendor_no": "V2", "name": "Supplier two"},
    ],
    "gl_accounts": [
        {"gl_account": "4000", "name": "Sales domestic", "account_type": "income"},
        {"gl_account": "4100", "name": "Sales export", "account_type": "income"},
        {"gl_account": "5000", "name": "COGS", "account_type": "expense"},
        {"gl_account": "6000", "name": "Marketing", "account_type": "expense"},
        {"gl_account": "6100", "name": "Freight", "account_type": "expense"},
    ],
    "posting_setup": [
        {
            "gen_bus_posting_group": "DOM",
            "gen_prod_posting_group": "RETAIL",
            "sales_account": "4000",
            "cogs_account": "5000",
        },
        {
            "gen_bus_posting_group": "EXP",
            "gen_prod_posting_group": "RETAIL",
            "sales_account": "4100",
            "cogs_account": "5000",
        },
        {
            "gen_bus_posting_group": "DOM",
            "gen_prod_posting_group": "FREIGHT",
            "sales_account": "6100",
            "cogs_account": "5000",
        },
    ],
}


# ---------------------------------------------------------------- row builders
def sl(
    order,
    line,
    promised,
    qty,
    requested="",
    customer="C1",
    item="I1",
    loc="WH1",
    order_date="2024-01-15",
):
    """A sales line."""
    return {
        "order_no": order,
        "line_no": line,
        "customer_no": customer,
        "item_no": item,
        "location_code": loc,
        "order_date": order_date,
        "promised_date": promised,
        "quantity": qty,
        "requested_date": requested,
    }


def sh(shipment, line, order, order_line, date, qty):
    """A sales shipment line."""
    return {
        "shipment_no": shipment,
        "line_no": line,
        "order_no": order,
        "order_line_no": order_line,
        "shipment_date": date,
        "quantity": qty,
    }


def inv(invoice, line, date, amount, cost=0, customer="C1", item="I1", loc="WH1", qty=1):
    """A sales invoice line."""
    return {
        "invoice_no": invoice,
        "line_no": line,
        "posting_date": date,
        "customer_no": customer,
        "item_no": item,
        "location_code": loc,
        "quantity": qty,
        "amount": amount,
        "cost_amount": cost,
    }


def bud(period, amount, customer="C1", item="I1", loc="WH1", qty=1):
    """A sales budget line."""
    return {
        "period": period,
        "customer_no": customer,
        "item_no": item,
        "location_code": loc,
        "quantity": qty,
        "amount": amount,
    }


def rcpt(receipt, line, vendor, expected, received, item="I1", qty=10):
    """A purchase receipt line."""
    return {
        "receipt_no": receipt,
        "line_no": line,
        "vendor_no": vendor,
        "item_no": item,
        "expected_receipt_date": expected,
        "receipt_date": received,
        "quantity": qty,
    }


def prod(
    no,
    due,
    planned,
    finished_date="",
    finished_qty="",
    item="I1",
    loc="WH1",
    status="",
    work_center="",
):
    """A production order."""
    return {
        "prod_order_no": no,
        "item_no": item,
        "location_code": loc,
        "due_date": due,
        "planned_quantity": planned,
        "finished_date": finished_date,
        "finished_quantity": finished_qty,
        "status": status,
        "work_center": work_center,
    }


def opp(no, salesperson, customer, expected, amount, status, commit, close_date=""):
    """An opportunity."""
    return {
        "opportunity_no": no,
        "salesperson": salesperson,
        "customer_no": customer,
        "expected_close_date": expected,
        "amount": amount,
        "status": status,
        "commit": commit,
        "close_date": close_date,
    }


def stock(period, qty, value, item="I1", loc="WH1"):
    """An inventory (period-end on-hand) row."""
    return {
        "period": period,
        "item_no": item,
        "location_code": loc,
        "quantity": qty,
        "value": value,
    }


# ---------------------------------------------------------------- source folder
def write_source(
    tmp_path: Path,
    *parts: dict,
    replace: dict | None = None,
    omit: tuple[str, ...] = (),
    drop_columns: dict | None = None,
    name: str = "src",
) -> Path:
    """Write a CSV source folder: MASTER + the rows of ``parts`` (concatenated per table).

    ``replace`` replaces a table's rows entirely (master included); ``omit`` leaves a
    table's file out; ``drop_columns`` removes columns from a table's header.
    """
    tables: dict[str, list[dict]] = {t: [dict(r) for r in MASTER.get(t, [])] for t in COLUMNS}
    for part in parts:
        for table, rows in part.items():
            assert table in COLUMNS, f"typo in table name {table!r}"
            tables[table].extend(dict(r) for r in rows)
    for table, rows in (replace or {}).items():
        tables[table] = [dict(r) for r in rows]
    folder = tmp_path / name
    folder.mkdir()
    for table, columns in COLUMNS.items():
        if table in omit:
            continue
        cols = [c for c in columns if c not in (drop_columns or {}).get(table, ())]
        with open(folder / f"{table}.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=cols, restval="", extrasaction="ignore")
            writer.writeheader()
            for row in tables[table]:
                unknown = set(row) - set(columns)
                assert not unknown, f"typo in {table} columns: {unknown}"
                writer.writerow(row)
    return folder


# ---------------------------------------------------------------- running the CLI
def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sop_workbook", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )


def _no_nan(name: str):
    raise ValueError(f"CLI printed {name} in JSON; the contract says null for 'no value'")


def strict_json(text: str):
    """Parse JSON rejecting NaN/Infinity (not JSON per RFC 8259; the contract says null)."""
    return json.loads(text, parse_constant=_no_nan)


def kpis(source: Path, period: str, *options) -> dict:
    """Run ``sop kpis`` and return its JSON; fail with stderr if it did not exit 0."""
    proc = run_cli("kpis", "--source", source, "--period", period, "--format", "json", *options)
    assert proc.returncode == 0, (
        f"sop kpis exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    )
    # Lenient here (NaN tolerated anywhere, e.g. in extra keys) so one stray NaN does not
    # hide every KPI check; strictness is asserted by a dedicated test, and a KPI that
    # is NaN instead of null still fails its own `is None` / approx assertion.
    out = json.loads(proc.stdout)
    assert out["period"] == period
    assert isinstance(out["parameters"], dict)
    return out


def rows_by(out: dict, dim: str) -> dict:
    """The ``--by`` rows keyed by the dimension value (as text)."""
    assert out["by"] == dim
    rows = {str(r[dim]): r for r in out["rows"]}
    assert len(rows) == len(out["rows"]), "duplicate dimension values in rows"
    return rows


def problem_lines(stderr: str, table: str, column: str, row: int | None = None) -> list[str]:
    """Lines of a validation report naming ``table``, ``column`` and (if given) ``row``."""
    hits = []
    for line in stderr.splitlines():
        if not re.search(rf"\b{re.escape(table)}\b", line):
            continue
        if not re.search(rf"\b{re.escape(column)}\b", line):
            continue
        if row is not None and not re.search(rf"(?<![\w.-]){row}(?![\w.-])", line):
            continue
        hits.append(line)
    return hits
