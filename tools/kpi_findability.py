"""How many files a newcomer opens to find a KPI — the measure of issue 21.

Method (grep-based, the same before and after the KPI registry):

- The newcomer knows a KPI by its name (e.g. "vendor on-time delivery") and searches the
  product's own files — ``sop_workbook/``, ``udfs/``, ``macros/``, ``xl/``, ``docs/``,
  ``README.md`` (not tests, benchmarks or tools) — for its key (``vendor_otd``), its label
  (case-insensitive), its UDF (``SOP_VENDOR_OTD``) and the aggregate columns that hold its
  numerator and denominator. Every file with a hit has to be opened to learn what it holds
  about the KPI: that count is ``files with a hit``.
- ``files to open`` is what it takes to find the six pieces — definition, row-level code,
  aggregate (pandas), SQL, UDF and template cell: before the registry, the files holding
  them (the cell needs ``xl/sheets.toml`` for the block, ``xl/scorecard.toml`` for the
  formula and ``template/build.py`` to work out the row — or building the workbook); with
  the registry, ``sop_workbook/kpi/registry.py`` alone when its entry names all six
  (checked here), else the same count as before. Reading a piece's code then opens the
  file the entry names — directly, without searching the hits (``files they are in``;
  before the registry the same as ``files to open``).

Run: ``uv run python tools/kpi_findability.py`` (prints a Markdown table).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCOPE = ["sop_workbook", "udfs", "macros", "xl", "docs"]
SUFFIXES = {".py", ".toml", ".md", ".bas", ".cls", ".xml"}

#: key → (label, UDF, aggregate columns) — written by hand from the code before the
#: registry, so that the measure does not depend on what it measures.
KPIS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "sales_otd": ("Sales on-time delivery", "SOP_SALES_OTD", ("otd_on_time", "otd_lines")),
    "fill_rate": ("Fill rate", "SOP_FILL_RATE",
                  ("fill_lines_filled", "fill_lines_due", "fill_qty_on_time", "fill_qty_due")),
    "vendor_otd": ("Vendor on-time delivery", "SOP_VENDOR_OTD",
                   ("receipts_on_time", "receipt_lines")),
    "schedule_attainment": ("Schedule attainment", "SOP_SCHEDULE_ATTAINMENT",
                            ("attained_qty", "planned_qty")),
    "inventory_turns": ("Inventory turns", "SOP_INVENTORY_TURNS", ("cogs", "inventory_value")),
    "days_of_supply": ("Days of supply", "SOP_DAYS_OF_SUPPLY", ("on_hand_qty", "shipped_qty")),
    "forecast_accuracy": ("Forecast accuracy", "SOP_FORECAST_ACCURACY",
                          ("forecast_abs_error", "invoiced_amount")),
    "forecast_bias": ("Forecast bias", "SOP_FORECAST_BIAS", ("budget_amount", "invoiced_amount")),
    "tracking_signal": ("Tracking signal", "SOP_TRACKING_SIGNAL",
                        ("budget_amount", "invoiced_amount")),
    "close_ratio": ("Close ratio", "SOP_CLOSE_RATIO", ("won", "lost")),
    "commit_vs_closed": ("Won ÷ committed", "SOP_COMMIT_VS_CLOSED",
                         ("won_amount", "committed_amount")),
    "lead_time_adherence": ("Adherence to standard lead times", "SOP_LEAD_TIME_ADHERENCE",
                            ("lt_adhered", "lt_lines")),
    "labour_absorption": ("Labour absorption", "SOP_LABOUR_ABSORPTION",
                          ("earned_hours", "worked_hours")),
    "absorbed_payroll": ("Over/under-absorbed payroll", "SOP_ABSORBED_PAYROLL",
                         ("earned_hours", "worked_hours")),
}

#: The pieces before the registry: where each is, found by opening the hits above.
PIECES_BEFORE = ("definition: docs/kpis.md (+ README table, xl/scorecard.toml basis, UDF "
                 "doc, docstrings); row-level: kpi/<module>.py; aggregate: aggregates.py or "
                 "kpi/standards.py; SQL: sql/sales.py or sql/operations.py; ratio: "
                 "kpi/aggregated.py; UDF: udfs/__init__.py; cell: xl/sheets.toml + "
                 "xl/scorecard.toml + template/build.py")


def _files() -> list[Path]:
    found = [ROOT / "README.md"]
    for folder in SCOPE:
        found += sorted(p for p in (ROOT / folder).rglob("*")
                        if p.is_file() and p.suffix in SUFFIXES)
    return found


def hits(key: str) -> list[str]:
    label, udf, columns = KPIS[key]
    words = [key, udf, *columns]
    pattern = re.compile("|".join([rf"\b{re.escape(w)}\b" for w in words]
                                  + [re.escape(label.lower())]))
    out = []
    for path in _files():
        text = path.read_text(encoding="utf-8", errors="replace")
        if pattern.search(text) or pattern.search(text.lower()):
            out.append(str(path.relative_to(ROOT)))
    return out


def pieces_before(key: str, files: list[str]) -> int:
    """Files holding the six pieces before the registry (see the module docstring)."""
    holding = {"docs/kpis.md", "udfs/__init__.py", "kpi/aggregated.py", "xl/sheets.toml",
               "xl/scorecard.toml", "template/build.py"}
    # row-level + aggregate + SQL: the files among the hits that define them
    for f in files:
        if re.search(r"sop_workbook/(kpi/(delivery|supply|inventory|forecast|sales|standards)"
                     r"|aggregates|sql/(sales|operations))\.py$", f):
            holding.add(f)
    return len(holding)


def registry_entry_complete(key: str) -> bool:
    """Whether the registry (if there is one) names all six pieces of the KPI."""
    sys.path.insert(0, str(ROOT))
    try:
        from sop_workbook.kpi.registry import KPIS as REGISTRY
    except ImportError:
        return False
    entry = REGISTRY.get(key)
    return bool(entry and entry.definition and entry.row_level and entry.aggregate
                and entry.sql and entry.udf and entry.cell)


def files_named(key: str) -> int | None:
    """With the registry: the files its entry points to for the code and text of the six
    pieces (docs/kpis.md, the engine's, the aggregate's, the SQL's, the ratio's and the
    UDF's modules) — what reading them all opens, without a search. None without one."""
    if not registry_entry_complete(key):
        return None
    from sop_workbook.kpi.registry import KPIS as REGISTRY

    entry = REGISTRY[key]
    modules = {entry.row_level.__module__, entry.aggregate.rsplit(".", 1)[0],
               entry.sql.rsplit(".", 1)[0], entry.ratio.__module__, "udfs"}
    return len(modules) + 1  # + docs/kpis.md


def main() -> None:
    print("| KPI | files with a hit | files to open to find the 6 pieces | files they are in |")
    print("|---|---:|---:|---:|")
    for key in KPIS:
        files = hits(key)
        named = files_named(key)
        to_open = 1 if named is not None else pieces_before(key, files)
        print(f"| {key} | {len(files)} | {to_open} | "
              f"{pieces_before(key, files) if named is None else named} |")
    if "-v" in sys.argv:
        for key in KPIS:
            print(key, hits(key))


if __name__ == "__main__":
    main()
