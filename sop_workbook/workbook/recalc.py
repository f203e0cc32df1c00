"""Headless recalculation of the workbook's UDF cells (``sop recalc``).

Finds every cell whose formula is a call of a ``udfs`` function (``=SOP_X(...)`` — the
template keeps a UDF call as the whole cell formula), resolves its arguments — A1 and
sheet-qualified cells and ranges, defined names, structured references (``T[#All]``,
``T[#Data]``, ``T[Column]``), literals, and native formulas in referenced cells or in the
arguments (:mod:`sop_workbook.workbook.formula`) — calls the same Python function Excel
would call, and stores the result as the cell's cached value so that any spreadsheet
application shows it. The cell keeps its formula. Anything that cannot be resolved is a
:class:`~sop_workbook.workbook.formula.FormulaError` naming the cell.
"""

from __future__ import annotations

import math
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Protocol, runtime_checkable
from xml.sax.saxutils import escape

import openpyxl
from openpyxl.formula.tokenizer import Token, Tokenizer
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import range_boundaries
from openpyxl.worksheet.formula import ArrayFormula
from openpyxl.worksheet.worksheet import Worksheet

from ..kpi.ratios import shared_lookups
from ..zip_parts import sheet_parts
from .formula import FormulaError, XlError, evaluate

_STRUCTURED = re.compile(r"^(\w+)\[(.*)\]$")


# What the recalculation asks of a workbook beyond openpyxl's own objects: each is an
# optional capability a workbook adapter's views may offer (the headless adapter's data
# sheet and mixed sheet views, its recalculation book); anything else is read as openpyxl.
@runtime_checkable
class ListsFormulaCells(Protocol):
    """A sheet that names its formula cells itself: ``((row, column), value)`` pairs (a
    view whose big value-only table bodies never reach openpyxl)."""

    def formula_cells(self) -> Iterable[tuple[tuple[int, int], object]]: ...


@runtime_checkable
class ReadsAreas(Protocol):
    """A sheet that reads a range's values at once because it knows the range holds no
    formula; ``None`` for a range it cannot answer so (read cell by cell instead)."""

    def area_values(self, min_row: int, max_row: int, min_col: int,
                    max_col: int) -> list[list] | None: ...


@runtime_checkable
class HoldsTableFrames(Protocol):
    """A workbook that hands a table over as one DataFrame (``None`` if it cannot)."""

    def table_frame(self, name: str): ...


@dataclass
class RecalcResult:
    values: dict[tuple[str, str], object] = field(default_factory=dict)  # UDF cells
    native: dict[tuple[str, str], object] = field(default_factory=dict)  # evaluated natives
    unevaluated: dict[tuple[str, str], str] = field(default_factory=dict)  # cell → why not

    @property
    def udf_cells(self) -> int:
        return len(self.values)


def formula_text(value: object) -> str | None:
    """The formula of a cell value (plain or array formula), or None."""
    if isinstance(value, ArrayFormula):
        return value.text
    if isinstance(value, str) and value.startswith("="):
        return value
    return None


def is_udf_formula(value: object) -> bool:
    text = formula_text(value)
    return text is not None and text.upper().startswith("=SOP_")


class Resolver:
    """Values of references in a loaded (formulas, not cached values) workbook."""

    def __init__(self, wb, udf_functions: dict) -> None:
        self.wb = wb
        self.udfs = udf_functions
        self.tables = {t.displayName.lower(): (ws.title, t.ref) for ws in wb.worksheets
                       for t in ws.tables.values()}
        self.names = {n.lower(): d.attr_text for n, d in wb.defined_names.items()}
        self.memo: dict[tuple[str, str], object] = {}
        self.areas: dict[tuple[str, str], list[list]] = {}
        self.udf_values: dict[tuple[str, str], object] = {}
        self.native_values: dict[tuple[str, str], object] = {}
        self.busy: set[tuple[str, str]] = set()
        self.frames: dict[str, object] = {}  # table name → DataFrame or None
        self.unevaluated: dict[tuple[str, str], str] = {}  # natives no UDF needs, not done

    # --------------------------------------------------------------- cells
    def cell(self, sheet: str, coord: str) -> object:
        key = (sheet, coord.replace("$", "").upper())
        if key in self.memo:
            return self.memo[key]
        if key in self.busy:
            raise FormulaError(f"{sheet}!{key[1]}: circular reference")
        self.busy.add(key)
        try:
            found = self.wb[sheet][key[1]]
            value = found.value
            if not _is_formula_cell(found):
                pass  # a value (text that starts with "=" included)
            elif is_udf_formula(value):
                value = self.call_udf(sheet, key[1], formula_text(value))
                self.udf_values[key] = value
                if isinstance(value, list):  # a spilled array: the cell shows its top-left
                    value = value[0][0] if value and value[0] else None
            elif isinstance(value, ArrayFormula):
                raise FormulaError(f"{sheet}!{key[1]}: array formulas are not evaluated "
                                   "headless")
            elif isinstance(value, str) and value.startswith("="):
                value = evaluate(value, lambda ref: self.ref(ref, sheet), f"{sheet}!{key[1]}")
                self.native_values[key] = value
        finally:
            self.busy.discard(key)
        self.memo[key] = value
        return value

    def area(self, sheet: str, ref: str) -> list[list]:
        """Values of a range (the same list object for the same range: UDFs cache by it)."""
        key = (sheet, ref.replace("$", "").upper())
        if key not in self.areas:
            min_col, min_row, max_col, max_row = range_boundaries(key[1])
            ws = self.wb[sheet]
            rows = (ws.area_values(min_row, max_row, min_col, max_col)
                    if isinstance(ws, ReadsAreas) else None)
            if rows is not None:
                self.areas[key] = rows
                return rows
            rows = []
            for r, row in enumerate(ws.iter_rows(min_row=min_row, max_row=max_row,
                                                 min_col=min_col, max_col=max_col),
                                    start=min_row):
                values = []
                for c, cell in enumerate(row, start=min_col):
                    v = cell.value
                    if formula_text(v) is not None and _is_formula_cell(cell):
                        v = self.cell(sheet, f"{_col(c)}{r}")
                    values.append(v)
                rows.append(values)
            self.areas[key] = rows
        return self.areas[key]

    # --------------------------------------------------------------- references
    def ref(self, text: str, sheet: str) -> object:
        """A reference token → a single value or a 2-D list."""
        m = _STRUCTURED.match(text)
        if m:
            return self.structured(m.group(1), m.group(2), sheet)
        if "!" in text:
            sheet_part, _, addr = text.rpartition("!")
            sheet = sheet_part.strip("'").replace("''", "'")
            return self.address(sheet, addr, text)
        name = self.names.get(text.lower())
        if name is not None:
            target_sheet, _, addr = name.rpartition("!")
            return self.address(target_sheet.strip("'").replace("''", "'"), addr, text)
        if re.fullmatch(r"\$?[A-Za-z]{1,3}\$?\d+(:\$?[A-Za-z]{1,3}\$?\d+)?", text):
            return self.address(sheet, text, text)
        raise FormulaError(f"unknown reference {text!r}")

    def address(self, sheet: str, addr: str, shown: str) -> object:
        if sheet not in self.wb.sheetnames:
            raise FormulaError(f"{shown}: no sheet named {sheet!r}")
        if ":" in addr:
            return self.area(sheet, addr)
        return self.cell(sheet, addr)

    def structured(self, table: str, spec: str, sheet: str) -> list:
        if table.lower() not in self.tables:
            raise FormulaError(f"unknown table {table!r}")
        t_sheet, ref = self.tables[table.lower()]
        rows = self.area(t_sheet, ref)
        header, data = rows[0], rows[1:]
        spec = spec.strip()
        if spec.lower() == "#all":
            return rows
        if spec.lower() in ("#data", ""):
            return data
        if spec.lower() == "#headers":
            return [header]
        column = spec.strip("[]")
        if column not in header:
            raise FormulaError(f"table {table} has no column {column!r}")
        i = header.index(column)
        return [[r[i]] for r in data]

    # --------------------------------------------------------------- UDF calls
    def whole_table(self, text: str):
        """``table[#All]`` as a DataFrame when the workbook adapter holds the table as one
        (a UDF argument only: the UDFs take a table with its header either way)."""
        m = _STRUCTURED.match(text)
        if not m or m.group(2).strip().lower() != "#all":
            return None
        if not isinstance(self.wb, HoldsTableFrames):
            return None
        frames = self.wb.table_frame
        key = m.group(1).lower()
        if key not in self.frames:
            name = next((t.displayName for ws in self.wb.worksheets for t in
                         ws.tables.values() if t.displayName.lower() == key), None)
            self.frames[key] = frames(name) if name else None
        return self.frames[key]

    def call_udf(self, sheet: str, coord: str, formula: str) -> object:
        where = f"{sheet}!{coord}"
        tokens = [t for t in Tokenizer(formula).items if t.type != Token.WSPACE]
        first = tokens[0]
        if not (first.type == Token.FUNC and first.subtype == Token.OPEN):
            raise FormulaError(f"{where}: a UDF call must be the whole formula")
        name = first.value[:-1].upper()
        if name not in self.udfs:
            raise FormulaError(f"{where}: no Python function {name} in udfs")
        last = tokens[-1]
        if not (last.type == Token.FUNC and last.subtype == Token.CLOSE):
            raise FormulaError(f"{where}: a UDF call must be the whole formula")
        args, current, depth = [], [], 0
        for tok in tokens[1:-1]:
            if tok.type == Token.FUNC or tok.type == Token.PAREN:
                depth += 1 if tok.subtype == Token.OPEN else -1
            if depth == 0 and tok.type == Token.SEP and tok.subtype == Token.ARG:
                args.append(current)
                current = []
                continue
            current.append(tok)
        if tokens[1:-1] or args:
            args.append(current)
        values = [_as_udf_argument(self.argument(arg, sheet, where)) for arg in args]
        result = self.udfs[name](*values)
        return result

    def argument(self, tokens: list[Token], sheet: str, where: str) -> object:
        if not tokens:
            return None  # an omitted optional argument
        if len(tokens) == 1 and tokens[0].type == Token.OPERAND:
            tok = tokens[0]
            if tok.subtype == Token.RANGE:
                frame = self.whole_table(tok.value)
                return frame if frame is not None else self.ref(tok.value, sheet)
            if tok.subtype == Token.TEXT:
                return tok.value[1:-1].replace('""', '"')
            if tok.subtype == Token.NUMBER:
                return float(tok.value)
            if tok.subtype == Token.LOGICAL:
                return tok.value.upper() == "TRUE"
        text = "=" + "".join(t.value for t in tokens)
        return evaluate(text, lambda ref: self.ref(ref, sheet), where)


_col = get_column_letter


def _as_udf_argument(value):
    """An Excel error reaches a UDF as None (as xlwings reads an error cell)."""
    if isinstance(value, XlError):
        return None
    if isinstance(value, list) and any(isinstance(v, XlError) for row in value
                                       for v in (row if isinstance(row, list) else [row])):
        return [[None if isinstance(v, XlError) else v for v in row]
                if isinstance(row, list) else (None if isinstance(row, XlError) else row)
                for row in value]
    return value


def evaluate_all(wb, udf_functions: dict | None = None) -> Resolver:
    """Evaluate every UDF cell of a loaded workbook; the resolver holds the results
    (``udf_values``) and the native formulas evaluated on the way (``native_values``).
    The KPI functions share their per-table lookups for the duration of the call."""
    if udf_functions is None:
        from ..kpi.cell_functions import CELL_FUNCTIONS

        udf_functions = CELL_FUNCTIONS
    resolver = Resolver(wb, udf_functions)
    with shared_lookups():  # the tables do not change while the cells are evaluated
        for ws in wb.worksheets:
            for coord in udf_cells(ws):
                resolver.cell(ws.title, coord)
        # every other native formula too, so that each formula cell carries a cached value
        # (a workbook opened without Python — or by a reader that does not calculate —
        # shows stored values); one outside the evaluator's subset is left without one
        # and listed in ``unevaluated`` (a test requires that list to be empty)
        for ws in wb.worksheets:
            for coord in native_cells(ws):
                if (ws.title, coord) in resolver.memo:
                    continue
                try:
                    resolver.cell(ws.title, coord)
                except FormulaError as exc:
                    resolver.unevaluated[(ws.title, coord)] = exc.summary
    return resolver


def _is_formula_cell(cell) -> bool:
    """A cell holding a formula, not text that starts with "=" (openpyxl: data type "f";
    cells without a data type — the adapter's views — count when their value is one)."""
    return getattr(cell, "data_type", "f") == "f"


def native_cells(ws) -> list[str]:
    """The coordinates of a sheet's native (non-UDF, non-array) formula cells."""
    if isinstance(ws, ListsFormulaCells):
        found = [(r, c) for (r, c), value in ws.formula_cells()
                 if isinstance(value, str) and value.startswith("=")
                 and not is_udf_formula(value)]
    elif isinstance(ws, Worksheet):
        found = [(r, c) for (r, c), cell in list(ws._cells.items())
                 if cell.data_type == "f" and isinstance(cell._value, str)
                 and cell._value.startswith("=") and not is_udf_formula(cell._value)]
    else:
        return [cell.coordinate for row in ws.iter_rows() for cell in row
                if isinstance(cell.value, str) and cell.value.startswith("=")
                and _is_formula_cell(cell) and not is_udf_formula(cell.value)]
    return [f"{_col(c)}{r}" for r, c in sorted(found)]


def udf_cells(ws) -> list[str]:
    """The coordinates of a sheet's UDF cells, row by row. Only the cells the sheet holds
    are visited (openpyxl's ``_cells``; none is created): a sheet object may name its
    formula cells itself (``formula_cells()``: the headless adapter's views, whose big
    value-only table bodies never reach openpyxl)."""
    if isinstance(ws, ListsFormulaCells):
        found = [(r, c) for (r, c), value in ws.formula_cells() if is_udf_formula(value)]
    elif isinstance(ws, Worksheet):
        found = []
        for (r, c), cell in list(ws._cells.items()):
            if cell.data_type == "f" and is_udf_formula(cell._value):
                found.append((r, c))
    else:  # anything else that iterates its rows
        return [cell.coordinate for row in ws.iter_rows() for cell in row
                if is_udf_formula(cell.value) and _is_formula_cell(cell)]
    return [f"{_col(c)}{r}" for r, c in sorted(found)]


def compute(path: Path, udf_functions: dict | None = None) -> RecalcResult:
    """Evaluate every UDF cell of the workbook at ``path`` (nothing is written)."""
    resolver = evaluate_all(openpyxl.load_workbook(path, keep_vba=True), udf_functions)
    return RecalcResult(dict(resolver.udf_values), dict(resolver.native_values),
                        dict(resolver.unevaluated))


# --------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class StoredResult:
    """A formula cell's cached result exactly as a file holds it (type attribute and
    ``<v>`` text), carried from the file read to the file written unchanged."""

    kind: str | None
    text: str


_STORED = re.compile(r'<c r="([A-Z]+\d+)"((?:\s+[a-zA-Z:]+="[^"]*")*)\s*>'
                     r'(?:<f>[^<]*</f>|<f\s[^>]*>[^<]*</f>|<f\s[^>]*/>)<v>([^<]*)</v></c>')


def read_stored_results(data: bytes, sheets: set[str] | None = None
                        ) -> dict[tuple[str, str], StoredResult]:
    """The cached results of the formula cells of a workbook file, by (sheet, cell) — what
    Excel shows before it recalculates (only the sheets named in ``sheets``, if given).
    A shared string result (``t="s"``) is not carried: its index would not survive."""
    out: dict[tuple[str, str], StoredResult] = {}
    with zipfile.ZipFile(BytesIO(data)) as z:  # only the parts needed (not the data sheets)
        names = set(z.namelist())
        index = {n: z.read(n) for n in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels")}
        wanted = {title: part for title, part in sheet_parts(index).items()
                  if (sheets is None or title in sheets) and part in names}
        xmls = {title: z.read(part).decode("utf-8") for title, part in wanted.items()}
    for title, xml in xmls.items():
        if "<f" not in xml:
            continue
        for m in _STORED.finditer(xml):
            kind = re.search(r'\st="([^"]*)"', m.group(2) or "")
            kind = kind.group(1) if kind else None
            if kind == "s":
                continue
            out[(title, m.group(1))] = StoredResult(kind, m.group(3))
    return out


def _cached(value) -> tuple[str | None, str]:
    """(cell type attribute, <v> text) for a value."""
    if isinstance(value, StoredResult):
        return value.kind, value.text
    if isinstance(value, XlError):
        return "e", value.code
    if isinstance(value, bool):
        return "b", "1" if value else "0"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return "e", "#NUM!"
        return None, repr(float(value)) if isinstance(value, float) else str(value)
    text = "" if value is None else str(value)
    if text in ("#N/A", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#DIV/0!", "#NULL!"):
        return "e", text
    return "str", escape(text)


def store_cached_values(parts: dict[str, bytes], values: dict[tuple[str, str], object]
                        ) -> None:
    """Store ``values`` as the cached results of those formula cells in the package's
    ``parts`` (name → bytes, changed in place; their formulas unchanged)."""
    by_sheet: dict[str, dict[str, object]] = {}
    for (sheet, coord), value in values.items():
        by_sheet.setdefault(sheet, {})[coord] = value
    parts_of = sheet_parts(parts)
    for sheet, cells in by_sheet.items():
        part = parts_of[sheet]
        xml = parts[part].decode("utf-8")

        def replace(m: re.Match, cells=cells) -> str:
            coord = m.group(1)
            if coord not in cells:
                return m.group(0)
            attrs = re.sub(r'\s+t="[^"]*"', "", m.group(2) or "")
            kind, text = _cached(cells[coord])
            t_attr = f' t="{kind}"' if kind else ""
            return f'<c r="{coord}"{attrs}{t_attr}>{m.group(3)}<v>{text}</v></c>'

        xml = re.sub(r'<c r="([A-Z]+\d+)"((?:\s+[a-zA-Z:]+="[^"]*")*)\s*>(<f>.*?</f>|<f\s[^>]*>'
                     r'.*?</f>|<f\s[^>]*/>)(?:<v\s*/>|<v>.*?</v>)?</c>', replace, xml)
        parts[part] = xml.encode("utf-8")
