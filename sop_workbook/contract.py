"""The source data contract (``docs/data-contract.md``) as data.

Each :class:`TableSpec` names a table's key, its required and optional columns, the type
of every column and the references it makes to master tables. The loader validates a
source against these specs; nothing else in the package hard-codes column lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

# Column types understood by the loader.
TEXT = "text"  # kept verbatim (stripped); text that looks like a formula stays text
INT = "int"  # whole number (line numbers)
NUMBER = "number"  # decimal quantity or amount
DATE = "date"  # ISO YYYY-MM-DD, ISO datetime or an Excel date serial
PERIOD = "period"  # YYYY-MM
BOOL = "bool"  # true/false, yes/no, 1/0


@dataclass(frozen=True)
class Reference:
    """Columns of a table that must match the key of another table."""

    columns: tuple[str, ...]
    table: str
    key: tuple[str, ...]


@dataclass(frozen=True)
class TableSpec:
    name: str
    key: tuple[str, ...]
    required: tuple[str, ...]
    optional: tuple[str, ...]
    types: dict[str, str]
    references: tuple[Reference, ...] = ()
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    nullable: tuple[str, ...] = ()  # required columns whose cells may be empty

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional

    def type_of(self, column: str) -> str:
        return self.types.get(column, TEXT)


def _ref(cols: str, table: str, key: str | None = None) -> Reference:
    columns = tuple(cols.split("+"))
    return Reference(columns, table, tuple((key or cols).split("+")))


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in [
        TableSpec(
            "items",
            ("item_no",),
            ("item_no", "description", "category", "gen_prod_posting_group", "unit_cost"),
            ("unit_price", "lead_time_days", "uom"),
            {"unit_cost": NUMBER, "unit_price": NUMBER, "lead_time_days": NUMBER},
        ),
        TableSpec(
            "customers",
            ("customer_no",),
            ("customer_no", "name", "gen_bus_posting_group"),
            ("salesperson",),
            {},
        ),
        TableSpec("locations", ("location_code",), ("location_code",), ("name",), {}),
        TableSpec("vendors", ("vendor_no",), ("vendor_no", "name"), (), {}),
        TableSpec(
            "gl_accounts",
            ("gl_account",),
            ("gl_account", "name", "account_type"),
            ("category",),
            {},
            enums={"account_type": ("income", "expense")},
        ),
        TableSpec(
            "posting_setup",
            ("gen_bus_posting_group", "gen_prod_posting_group"),
            ("gen_bus_posting_group", "gen_prod_posting_group", "sales_account"),
            ("cogs_account",),
            {},
            references=(
                _ref("sales_account", "gl_accounts", "gl_account"),
                _ref("cogs_account", "gl_accounts", "gl_account"),
            ),
        ),
        TableSpec(
            "sales_lines",
            ("order_no", "line_no"),
            (
                "order_no",
                "line_no",
                "customer_no",
                "item_no",
                "location_code",
                "order_date",
                "promised_date",
                "quantity",
            ),
            ("requested_date", "unit_price"),
            {
                "line_no": INT,
                "order_date": DATE,
                "promised_date": DATE,
                "requested_date": DATE,
                "quantity": NUMBER,
                "unit_price": NUMBER,
            },
            references=(
                _ref("customer_no", "customers"),
                _ref("item_no", "items"),
                _ref("location_code", "locations"),
            ),
            nullable=("promised_date",),
        ),
        TableSpec(
            "sales_shipments",
            ("shipment_no", "line_no"),
            ("shipment_no", "line_no", "order_no", "order_line_no", "shipment_date", "quantity"),
            (),
            {"line_no": INT, "order_line_no": INT, "shipment_date": DATE, "quantity": NUMBER},
            references=(_ref("order_no+order_line_no", "sales_lines", "order_no+line_no"),),
        ),
        TableSpec(
            "sales_invoices",
            ("invoice_no", "line_no"),
            (
                "invoice_no",
                "line_no",
                "posting_date",
                "customer_no",
                "item_no",
                "location_code",
                "quantity",
                "amount",
                "cost_amount",
            ),
            ("salesperson",),
            {
                "line_no": INT,
                "posting_date": DATE,
                "quantity": NUMBER,
                "amount": NUMBER,
                "cost_amount": NUMBER,
            },
            references=(
                _ref("customer_no", "customers"),
                _ref("item_no", "items"),
                _ref("location_code", "locations"),
            ),
        ),
        TableSpec(
            "sales_budget",
            ("period", "customer_no", "item_no", "location_code"),
            ("period", "customer_no", "item_no", "location_code", "quantity", "amount"),
            (),
            {"period": PERIOD, "quantity": NUMBER, "amount": NUMBER},
            references=(
                _ref("customer_no", "customers"),
                _ref("item_no", "items"),
                _ref("location_code", "locations"),
            ),
        ),
        TableSpec(
            "gl_budget",
            ("gl_account", "period"),
            ("gl_account", "period", "amount"),
            ("budget_name",),
            {"period": PERIOD, "amount": NUMBER},
            references=(_ref("gl_account", "gl_accounts"),),
        ),
        TableSpec(
            "purchase_receipts",
            ("receipt_no", "line_no"),
            (
                "receipt_no",
                "line_no",
                "vendor_no",
                "item_no",
                "expected_receipt_date",
                "receipt_date",
                "quantity",
            ),
            ("order_no",),
            {
                "line_no": INT,
                "expected_receipt_date": DATE,
                "receipt_date": DATE,
                "quantity": NUMBER,
            },
            references=(_ref("vendor_no", "vendors"), _ref("item_no", "items")),
        ),
        TableSpec(
            "purchase_orders",
            ("order_no", "line_no"),
            (
                "order_no",
                "line_no",
                "vendor_no",
                "item_no",
                "location_code",
                "expected_receipt_date",
                "outstanding_quantity",
            ),
            (),
            {"line_no": INT, "expected_receipt_date": DATE, "outstanding_quantity": NUMBER},
            references=(
                _ref("vendor_no", "vendors"),
                _ref("item_no", "items"),
                _ref("location_code", "locations"),
            ),
        ),
        TableSpec(
            "production_orders",
            ("prod_order_no",),
            ("prod_order_no", "item_no", "location_code", "due_date", "planned_quantity"),
            ("finished_date", "finished_quantity", "status", "work_center"),
            {
                "due_date": DATE,
                "planned_quantity": NUMBER,
                "finished_date": DATE,
                "finished_quantity": NUMBER,
            },
            references=(_ref("item_no", "items"), _ref("location_code", "locations")),
        ),
        TableSpec(
            "inventory",
            ("period", "item_no", "location_code"),
            ("period", "item_no", "location_code", "quantity", "value"),
            (),
            {"period": PERIOD, "quantity": NUMBER, "value": NUMBER},
            references=(_ref("item_no", "items"), _ref("location_code", "locations")),
        ),
        TableSpec(
            "opportunities",
            ("opportunity_no",),
            (
                "opportunity_no",
                "salesperson",
                "customer_no",
                "expected_close_date",
                "amount",
                "status",
            ),
            ("item_no", "quantity", "probability", "commit", "close_date"),
            {
                "expected_close_date": DATE,
                "amount": NUMBER,
                "quantity": NUMBER,
                "probability": NUMBER,
                "commit": BOOL,
                "close_date": DATE,
            },
            references=(_ref("customer_no", "customers"), _ref("item_no", "items")),
            enums={"status": ("open", "won", "lost")},
        ),
        TableSpec(
            "capacity",
            ("work_center", "period"),
            ("work_center", "period", "available_hours"),
            (),
            {"period": PERIOD, "available_hours": NUMBER},
        ),
        TableSpec(
            "routings",
            ("item_no", "work_center"),
            ("item_no", "work_center", "hours_per_unit"),
            (),
            {"hours_per_unit": NUMBER},
            references=(_ref("item_no", "items"),),
        ),
        # the hours actually worked per work center, as Business Central's capacity ledger
        # entries export them (labour absorption needs it)
        TableSpec(
            "capacity_ledger",
            ("entry_no",),
            ("entry_no", "work_center", "posting_date", "hours"),
            ("cost_amount", "item_no", "prod_order_no"),
            {"posting_date": DATE, "hours": NUMBER, "cost_amount": NUMBER},
            references=(_ref("item_no", "items"),),
        ),
    ]
}

#: Tables the contract says may be absent from a source (no purchases / no capacity check
#: / no hours worked for labour absorption).
OPTIONAL_TABLES = frozenset({"purchase_orders", "capacity", "routings", "capacity_ledger"})

#: The master tables the transaction tables refer to. One that is missing from a source, or
#: has no rows, while rows refer to it is one problem (:func:`empty_master_problem`), not
#: one "not a known …" problem per referring row.
MASTER_TABLES = frozenset({"items", "customers", "locations", "vendors", "gl_accounts"})


def empty_master_problem(table: str, missing: bool, referring: dict[str, int]):
    """The one problem of a master table that is missing or empty while ``referring``
    ({table: rows}) rows refer to it."""
    from .errors import Problem

    state = ("is missing from the source" if missing else "has no rows")
    total = sum(referring.values())
    where = ", ".join(f"{name} ({n:,})" for name, n in referring.items())
    return Problem(table, None, None,
                   f"the master table {state}, but {total:,} rows refer to it: {where}; "
                   f"add the {table} table (none of these references can be checked)")


#: Load order: master tables first so references can be checked against them.
TABLE_ORDER: tuple[str, ...] = tuple(TABLES)

#: The plan history archived by *Roll forward* (not a source table): the consensus plan as
#: it stood when the workbook was at ``snapshot_period``, per plan period, item and location.
PLAN_SNAPSHOTS = TableSpec(
    "plan_snapshots",
    ("snapshot_period", "period", "item_no", "location_code"),
    ("snapshot_period", "period", "item_no", "location_code", "quantity"),
    ("baseline_quantity",),
    {"snapshot_period": PERIOD, "period": PERIOD, "quantity": NUMBER,
     "baseline_quantity": NUMBER},
)


# ----------------------------------------------------------------------------- loaded data

#: Numbers beyond this magnitude are rejected (they would overflow sums and Excel cells).
MAX_ABS_NUMBER = 1e15


@dataclass
class SourceData:
    """The validated contract tables, typed: dates as ``datetime64``, periods as ``YYYY-MM``
    text, numbers as ``float64``, line numbers as ``int64``, text as strings."""

    tables: dict[str, pd.DataFrame]
    source: str = ""
    warnings: list[str] = field(default_factory=list)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(name)


def bad_value_message(kind: str, value: object) -> str:
    """The message for a value that does not parse as ``kind`` (both source paths)."""
    shown = repr(value) if len(str(value)) <= 40 else repr(str(value)[:40] + "…")
    return {
        NUMBER: f"{shown} is not a number (or is out of range ±{MAX_ABS_NUMBER:.0e})",
        INT: f"{shown} is not a whole number",
        DATE: f"{shown} is not a date (YYYY-MM-DD, 1900–2199)",
        PERIOD: f"{shown} is not a period (YYYY-MM)",
        BOOL: f"{shown} is not true/false",
    }.get(kind, f"{shown} is not valid")
