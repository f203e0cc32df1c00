"""A refreshed workbook as an xlwings ``Book`` of xlwings' remote engine
(``xw.Book(json=...)``, the engine xlwings Server uses; it runs on Linux). Tests only: it
needs ``XLWINGS_LICENSE_KEY=noncommercial`` (set here, for the test process), which the
product never needs. The JSON is built from the file's stored values (openpyxl
``data_only``), its tables and its defined names, in the shape the Office Scripts client
sends."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import openpyxl
from openpyxl.utils.cell import range_boundaries


def _cell(value):
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


def book_json(path: Path) -> dict:
    import xlwings as xw

    wb = openpyxl.load_workbook(path, data_only=True, keep_vba=True)
    sheets, index = [], {}
    for i, ws in enumerate(wb.worksheets):
        index[ws.title] = i
        rows = [[_cell(c) for c in row] for row in ws.iter_rows(values_only=True)] or [[None]]
        width = max(len(r) for r in rows)
        rows = [r + [None] * (width - len(r)) for r in rows]
        tables = []
        for t in ws.tables.values():
            _, r1, _, r2 = range_boundaries(t.ref)
            first = t.ref.split(":")[0]
            last = t.ref.split(":")[1]
            col1, col2 = first.rstrip("0123456789"), last.rstrip("0123456789")
            tables.append({
                "name": t.displayName, "range_address": t.ref,
                "header_row_range_address": f"{col1}{r1}:{col2}{r1}",
                "data_body_range_address": f"{col1}{r1 + 1}:{col2}{r2}",
                "total_row_range_address": None, "show_headers": True,
                "show_totals": False, "table_style": "TableStyleMedium2",
                "show_autofilter": True})
        sheets.append({"name": ws.title, "values": rows, "pictures": [], "tables": tables,
                       "charts": [], "shapes": [], "pivot_tables": [],
                       "show_gridlines": False})
    names = []
    for name, d in wb.defined_names.items():
        sheet, _, address = d.attr_text.rpartition("!")
        sheet = sheet.strip("'").replace("''", "'")
        if sheet in index:
            names.append({"name": name, "sheet_index": index[sheet],
                          "address": address.replace("$", ""), "book_scope": True,
                          "scope_sheet_name": None, "scope_sheet_index": None})
    return {"client": "Microsoft Office Scripts", "version": xw.__version__,
            "book": {"name": Path(path).name, "active_sheet_index": 0, "selection": "A1"},
            "names": names, "sheets": sheets}


def remote_engine() -> None:
    """Register xlwings' remote engine in this test process (xlwings registers it at import
    only when a licence key is set then; the product never sets one)."""
    import xlwings as xw

    if "remote" in [e.name for e in xw.engines]:
        return
    os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")  # tests only
    from xlwings.main import Engine
    from xlwings.pro import _xlremote

    xw.engines.add(Engine(impl=_xlremote.engine))


def remote_book(path: Path):
    import xlwings as xw

    remote_engine()
    return xw.Book(json=book_json(path))
