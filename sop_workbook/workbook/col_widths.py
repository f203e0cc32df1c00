"""Column widths that fit what a sheet shows: a width model of Excel's default font, the
text a cell displays under its number format, and the fitting of every column to its
header and values (template build and every save after Refresh).

Excel measures a column's width in characters of "0" in the default font (Calibri 11): a
cell of width *w* shows text up to about *w* digits wide. The model below gives each
printable ASCII character its advance in digit widths (Calibri's metrics, read from its
metric-compatible twin Carlito; other characters count as one digit), scaled by the font
size, so that "Adherence to standard lead times" needs 28.6 units in bold and 1,234,567
needs 9.

What counts as cut (:func:`cut_cells`), as Excel draws a cell:

- a number or date wider than its column shows ``######``;
- text that does not wrap runs on into empty cells to its right; it is cut where the text
  is wider than its cell plus those empty cells;
- wrapped text is cut where a single word is wider than the column, or where its lines
  need more height than the row has.

The fitting (:func:`fit_columns`) widens a column to its widest header or value (never
narrows it: a width a planner chose, or the template's, is a minimum), up to
:data:`MAX_WIDTH`; wrapped text asks for at most :data:`WRAP_WIDTH` and wraps beyond.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import weakref
from decimal import ROUND_HALF_UP, Decimal

from openpyxl.utils import get_column_letter, range_boundaries

#: advance width of characters 32..126 of Calibri (regular, bold), in widths of "0"
_REGULAR = (
    "0.45 0.64 0.79 0.98 1.0 1.41 1.35 0.44 0.6 0.6 0.98 0.98 0.49 0.6 0.5 0.76 1.0 1.0 1.0 "
    "1.0 1.0 1.0 1.0 1.0 1.0 1.0 0.53 0.53 0.98 0.98 0.98 0.91 1.76 1.14 1.07 1.05 1.21 0.96 "
    "0.91 1.24 1.23 0.5 0.63 1.03 0.83 1.69 1.27 1.31 1.02 1.33 1.07 0.91 0.96 1.27 1.12 1.76 "
    "1.02 0.96 0.92 0.61 0.76 0.61 0.98 0.98 0.57 0.95 1.04 0.83 1.04 0.98 0.6 0.93 1.04 0.45 "
    "0.47 0.9 0.45 1.58 1.04 1.04 1.04 1.04 0.69 0.77 0.66 1.04 0.89 1.41 0.85 0.89 0.78 0.62 "
    "0.91 0.62 0.98")
_BOLD = (
    "0.45 0.64 0.87 0.98 1.0 1.44 1.39 0.46 0.61 0.61 0.98 0.98 0.51 0.6 0.53 0.85 1.0 1.0 1.0 "
    "1.0 1.0 1.0 1.0 1.0 1.0 1.0 0.54 0.54 0.98 0.98 0.98 0.91 1.77 1.2 1.11 1.04 1.24 0.96 "
    "0.91 1.26 1.24 0.53 0.65 1.08 0.83 1.72 1.3 1.33 1.05 1.35 1.11 0.93 0.98 1.29 1.17 1.79 "
    "1.09 1.03 0.94 0.64 0.85 0.64 0.98 0.98 0.59 0.97 1.06 0.83 1.06 0.99 0.62 0.94 1.06 0.48 "
    "0.5 0.95 0.48 1.61 1.06 1.06 1.06 1.06 0.7 0.79 0.68 1.06 0.93 1.47 0.91 0.93 0.78 0.68 "
    "0.94 0.68 0.98")
_ADVANCE = {False: {chr(32 + i): float(w) for i, w in enumerate(_REGULAR.split())},
            True: {chr(32 + i): float(w) for i, w in enumerate(_BOLD.split())}}

#: Excel's default column width and row height (points) of Calibri 11
DEFAULT_WIDTH = 8.43
LINE_HEIGHT = 15.0
#: room a cell keeps around its text (Excel's cell padding, and a margin for renderers
#: whose metrics differ a little), in widths of "0"
PADDING = 1.0
#: room for the filter button Excel draws in a table's header cells
FILTER_BUTTON = 2.0
#: widths a fitted column stays within; wrapped text asks for no more than WRAP_WIDTH
MAX_WIDTH = 60.0
WRAP_WIDTH = 30.0
#: a wrapped header asks for its full text up to this width, and wraps beyond
HEADER_WIDTH = 16.0


def text_width(text: str, bold: bool = False, size: float = 11.0) -> float:
    """Width of one line of ``text`` in Excel's column units (widths of "0" in Calibri
    11), without padding."""
    advance = _ADVANCE[bold]
    return sum(advance.get(ch, 1.0) for ch in text) * size / 11.0


def _decimals(section: str) -> int:
    m = re.search(r"\.([0#]+)", section)
    return len(m.group(1)) if m else 0


def _half_up(number: float, decimals: int) -> Decimal:
    """Rounded as Excel rounds for display: halves away from zero (1234.5 → 1,235)."""
    return Decimal(repr(number)).quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP)


def _general(value: float) -> str:
    """A number as Excel's General format shows it in a wide enough cell (up to 11
    characters: 10 significant digits, scientific beyond)."""
    if float(value).is_integer() and abs(value) < 1e11:
        return str(int(value))
    text = f"{value:.10g}"
    if len(text) > 11 and "e" not in text:
        digits = max(0, 10 - len(str(int(abs(value)))))
        text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return text


def plain_value(value):
    """A cached formula result as a cell value: an Excel error as its text (``#N/A``), a
    result carried from the file (``recalc.StoredResult``: type attribute and text) as the
    number, text or truth value it holds."""
    code = getattr(value, "code", None)
    if isinstance(code, str):
        return code
    kind, text = getattr(value, "kind", False), getattr(value, "text", None)
    if kind is not False and isinstance(text, str):
        if kind in (None, "n"):
            try:
                return float(text)
            except ValueError:
                return text
        if kind == "b":
            return text == "1"
        return text
    return value


def display_text(value, number_format: str | None = "General") -> str:
    """The text a cell shows for ``value`` under ``number_format`` (the formats this
    workbook uses: General, @, 0, 0.0, #,##0, #,##0.00, 0.0%, yyyy-mm-dd [h:mm:ss])."""
    value = plain_value(value)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    fmt = number_format or "General"
    if isinstance(value, (dt.datetime, dt.date)):
        if isinstance(value, dt.datetime) and ("h" in fmt.lower()):
            return value.strftime("%Y-%m-%d %H:%M:%S")
        return value.strftime("%Y-%m-%d")
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number) or math.isinf(number):
        return ""
    if fmt in ("General", "@"):
        return _general(number)
    sections = fmt.split(";")
    section = sections[1] if number < 0 and len(sections) > 1 else sections[0]
    section = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.|_.', "", section)
    decimals = _decimals(section)
    sign = "-" if number < 0 and len(sections) == 1 else ""
    if "%" in section:
        return f"{sign}{_half_up(abs(number) * 100, decimals):,.{decimals}f}%".replace(
            ",", "," if "," in section else "")
    if re.search(r"[yd]", section, re.I):  # a date format on a serial number
        return "2026-12-31"
    rounded = _half_up(abs(number), decimals)
    text = f"{rounded:,.{decimals}f}" if "," in section else f"{rounded:.{decimals}f}"
    if "(" in section and number < 0:
        return f"({text})"
    return sign + text


def _font(cell) -> tuple[bool, float]:
    font = cell.font
    return bool(font is not None and font.b), float(font.sz) if font is not None and \
        font.sz else 11.0


def _wraps(cell) -> bool:
    return cell.alignment is not None and bool(cell.alignment.wrap_text)


_LOOKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # workbook → style → look


def _look(cell) -> tuple[str, bool, float, bool]:
    """(number format, bold, font size, wraps) of a cell, looked up once per style of a
    workbook (the style lookups of openpyxl are slow over thousands of cells)."""
    style = getattr(cell, "_style", None)
    if style is None:
        return cell.number_format, *_font(cell), _wraps(cell)
    looks = _LOOKS.setdefault(cell.parent.parent, {})
    key = style.tobytes()
    look = looks.get(key)
    if look is None:
        bold, size = _font(cell)
        look = looks[key] = (cell.number_format, bold, size, _wraps(cell))
    return look


def wrapped_lines(text: str, width: float, bold: bool = False, size: float = 11.0) -> int:
    """Lines wrapped ``text`` needs in a column ``width`` wide (breaking at spaces; each
    paragraph wraps alone; a word wider than the column is broken)."""
    room = max(1.0, width - PADDING)
    space = text_width(" ", bold, size)
    lines = 0
    for para in text.split("\n"):
        lines += 1
        used = 0.0
        for word in para.split(" "):
            w = text_width(word, bold, size)
            if used and used + space + w > room:
                lines += 1
                used = 0.0
            if w > room:  # a word wider than the column is broken over lines
                lines += int(w // room)
                w = w % room
            used = used + space + w if used else w
    return lines


def line_height(size: float = 11.0) -> float:
    return LINE_HEIGHT * max(size, 11.0) / 11.0


# ------------------------------------------------------------------- what a sheet shows


class SheetCells:
    """What a worksheet shows, cell by cell: value (the cached result of a formula
    cell), number format, font and wrap. Built from an openpyxl worksheet (values, or a
    ``data_only`` load) plus an optional map coordinate → cached value."""

    def __init__(self, ws, cached: dict[str, object] | None = None) -> None:
        self.ws = ws
        self.cells: dict[tuple[int, int], object] = {}
        cached = cached or {}
        for (r, c), cell in ws._cells.items():
            value = cell.value
            if cell.data_type == "f" or (isinstance(value, str) and value.startswith("=")) \
                    or type(value).__name__ in ("ArrayFormula", "DataTableFormula"):
                value = cached.get(cell.coordinate)
            if value is not None and value != "":
                self.cells[(r, c)] = value
        self.merged = {}
        for rng in ws.merged_cells.ranges:
            self.merged[(rng.min_row, rng.min_col)] = rng
        self.covered = {(r, c) for rng in ws.merged_cells.ranges
                        for r in range(rng.min_row, rng.max_row + 1)
                        for c in range(rng.min_col, rng.max_col + 1)}
        self.headers: set[tuple[int, int]] = set()
        for table in ws.tables.values():
            min_col, min_row, max_col, _ = range_boundaries(table.ref)
            self.headers.update((min_row, c) for c in range(min_col, max_col + 1))

    def width(self, col: int) -> float:
        return column_width(self.ws, col)

    def hidden(self, col: int) -> bool:
        dim = _dimension_of(self.ws, col)
        return dim is not None and bool(dim.hidden)


def _dimension_of(ws, col: int):
    """The column dimension covering ``col`` (openpyxl keys a span by its first column)."""
    dim = ws.column_dimensions.get(get_column_letter(col))
    if dim is not None and dim.min is not None and dim.min <= col <= (dim.max or col):
        return dim
    for other in ws.column_dimensions.values():
        if other.min is not None and other.max is not None and other.min <= col <= other.max:
            return other
    return dim


def column_width(ws, col: int) -> float:
    dim = _dimension_of(ws, col)
    if dim is not None and dim.width:
        return float(dim.width)
    return DEFAULT_WIDTH


def cut_cells(ws, cached: dict[str, object] | None = None) -> list[str]:
    """Every cell whose text Excel would show cut (see the module's docstring), as
    ``"C7: '1,234,567' needs 9.0, has 8.0"`` lines. ``ws`` is an openpyxl worksheet; formula
    cells show ``cached`` (coordinate → value) or, in a ``data_only`` load, their value."""
    view = SheetCells(ws, cached)
    problems = []
    for (r, c), value in sorted(view.cells.items()):
        if view.hidden(c) or ((r, c) in view.covered and (r, c) not in view.merged):
            continue
        cell = ws._cells[(r, c)]
        text = display_text(value, cell.number_format)
        if not text:
            continue
        bold, size = _font(cell)
        if (r, c) in view.merged:
            rng = view.merged[(r, c)]
            width = sum(view.width(k) for k in range(rng.min_col, rng.max_col + 1))
        else:
            width = view.width(c)
        where = f"{ws.title}!{cell.coordinate}"
        if _wraps(cell) and isinstance(value, str):
            longest = max((text_width(w, bold, size) for w in text.split()), default=0.0)
            longest += PADDING + (FILTER_BUTTON if (r, c) in view.headers else 0.0)
            if longest > width + 0.01:
                problems.append(f"{where}: a word of {text!r} needs {longest:.1f}, has "
                                f"{width:.1f}")
                continue
            dim = ws.row_dimensions.get(r)
            height = dim.height if dim is not None and dim.height else LINE_HEIGHT
            need = wrapped_lines(text, width, bold, size) * line_height(size)
            if need > height + 0.5 and (r, c) not in view.merged:
                problems.append(f"{where}: {text!r} needs {need:.0f} pt of height, the row "
                                f"has {height:.0f}")
            continue
        need = text_width(text, bold, size) + PADDING
        if isinstance(value, str):
            # text runs on over the empty cells to its right
            k = c + 1
            while need > width + 0.01 and (r, k) not in view.cells \
                    and (r, k) not in view.covered and k <= c + 30:
                width += view.width(k)
                k += 1
        if need > width + 0.01:
            problems.append(f"{where}: {text!r} needs {need:.1f}, has {width:.1f}")
    return problems


# ------------------------------------------------------------------------------ fitting


def cell_need(value, number_format: str | None, bold: bool, size: float, wraps: bool,
              header: bool = False) -> float:
    """The width a cell asks for (its text, padding, a header's filter button; wrapped
    text at most WRAP_WIDTH — or HEADER_WIDTH for a header — but its longest word)."""
    text = display_text(value, number_format)
    if not text:
        return 0.0
    extra = PADDING + (FILTER_BUTTON if header else 0.0)
    full = max(text_width(line, bold, size) for line in text.split("\n")) + extra
    if wraps and isinstance(value, str):
        longest = max((text_width(w, bold, size) for w in text.split()), default=0.0)
        cap = HEADER_WIDTH if header else WRAP_WIDTH
        return max(min(full, cap), longest + extra)
    return full


def needs_of_sheet(ws, cached: dict[str, object] | None = None) -> dict[int, float]:
    """Column → the width its header and value cells ask for, over the cells openpyxl
    holds. A text cell that does not wrap asks only when it may not run on to the right
    (its right-hand neighbour holds a value, or it is in a table); a merged cell asks
    nothing (it spans)."""
    view = SheetCells(ws, cached)
    table_cells = []
    for table in ws.tables.values():
        table_cells.append(range_boundaries(table.ref))
    spills = []
    for cell in ws._cells.values():
        ref = getattr(cell.value, "ref", None)
        if type(cell.value).__name__ == "ArrayFormula" and ref:
            spills.append(range_boundaries(ref))
    boxes = table_cells + spills

    def boxed(r: int, c: int) -> bool:
        return any(a <= c <= b2 and b <= r <= d for a, b, b2, d in boxes)

    needs: dict[int, float] = {}
    for (r, c), value in view.cells.items():
        if (r, c) in view.covered:
            continue
        cell = ws._cells[(r, c)]
        fmt, bold, size, wraps = _look(cell)
        if isinstance(value, str) and not wraps and (r, c + 1) not in view.cells \
                and not boxed(r, c):
            continue
        need = cell_need(value, fmt, bold, size, wraps,
                         header=(r, c) in view.headers)
        if need > needs.get(c, 0.0):
            needs[c] = need
    return needs


def frame_needs(frame, columns: list[str], min_col: int, formats: dict[int, str],
                fonts: dict[int, tuple[bool, float]] | None = None,
                wraps: dict[int, bool] | None = None) -> dict[int, float]:
    """Column → the width the values of a table body (a DataFrame, written outside
    openpyxl) ask for, vectorised: a numeric column's extremes (and a sample, for General
    decimals), a text column's longest strings."""
    fonts, wraps = fonts or {}, wraps or {}
    needs: dict[int, float] = {}
    for j, name in enumerate(columns):
        if name not in frame.columns:
            continue
        c = min_col + j
        try:
            need = _column_need(frame[name], formats.get(c, "General"),
                                *fonts.get(c, (False, 11.0)), wraps.get(c, False))
        except Exception:  # a width is cosmetic: never fail a save on it
            continue
        if need:
            needs[c] = need
    return needs


def _column_need(s, fmt: str, bold: bool, size: float, wrap: bool) -> float:
    """The width one column of values asks for (see :func:`frame_needs`)."""
    import numpy as np
    import pandas as pd

    candidates: list = []
    if pd.api.types.is_bool_dtype(s):
        candidates = [True, False]
    elif pd.api.types.is_numeric_dtype(s):
        finite = s[np.isfinite(s.to_numpy(dtype="float64", na_value=np.nan))]
        if len(finite):
            # a fixed number of decimals: the extremes are the widest; General shows
            # up to 10 significant digits: a sample of values too
            candidates = [finite.min(), finite.max()]
            if fmt in ("General", "@"):
                candidates += finite.head(50).tolist()
    elif pd.api.types.is_datetime64_any_dtype(s):
        valid = s.dropna()
        if len(valid):
            candidates = [valid.max().to_pydatetime()]
    else:
        # distinct values first (hashed in C: codes, categories, periods repeat)
        try:
            raw = s.to_numpy(dtype=object)
        except (TypeError, ValueError):
            raw = np.array(list(s), dtype=object)
        raw = raw[~pd.isna(raw)]  # None, NaN, NA (also in a string column holding None)
        values = pd.Series(pd.unique(raw), dtype=object)
        if len(values):
            try:
                lengths = values.str.len()  # NaN where not text
            except AttributeError:  # no text at all
                lengths = pd.Series(np.nan, index=values.index)
            text = lengths.dropna()
            candidates = values.loc[text.nlargest(min(20, len(text))).index].tolist()
            candidates += values[lengths.isna()].head(50).tolist()
    need = 0.0
    for value in candidates:
        if isinstance(value, (np.generic,)):
            value = value.item()
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        need = max(need, cell_need(value, fmt, bold, size, wrap))
    return need


def apply_needs(ws, needs: dict[int, float], max_width: float = MAX_WIDTH) -> None:
    """Widen each column to what it needs (up to ``max_width``); a span of columns
    sharing one dimension (an outline group) gets the widest need of its columns."""
    spans: dict[int, float] = {}
    for col, need in needs.items():
        dim = _dimension_of(ws, col)
        if dim is not None and dim.min is not None and dim.max is not None \
                and dim.max > dim.min:
            spans[dim.min] = max(spans.get(dim.min, 0.0), need)
        else:
            spans[col] = max(spans.get(col, 0.0), need)
    for col, need in sorted(spans.items()):
        want = math.ceil(min(need, max_width) * 10 - 1e-6) / 10
        if want > column_width(ws, col) + 0.05:
            dim = _dimension_of(ws, col)
            if dim is None or dim.min is None or not (dim.min <= col <= (dim.max or col)):
                dim = ws.column_dimensions[get_column_letter(col)]
            dim.width = want


def merge_needs(*maps: dict[int, float]) -> dict[int, float]:
    out: dict[int, float] = {}
    for m in maps:
        for c, v in m.items():
            out[c] = max(out.get(c, 0.0), v)
    return out


def fit_rows(ws, cached: dict[str, object] | None = None) -> None:
    """Give each row holding wrapped text (openpyxl's cells; a formula cell by its cached
    text) the height its lines need at the current column widths; a row whose wrapped
    text fits on one line goes back to Excel's automatic height."""
    cached = cached or {}
    need: dict[int, float] = {}
    merged = {(rng.min_row, rng.min_col) for rng in ws.merged_cells.ranges}
    for (r, c), cell in ws._cells.items():
        if not _look(cell)[3] or (r, c) in merged:
            continue
        value = cell.value
        if cell.data_type == "f" or (isinstance(value, str) and value.startswith("=")):
            value = cached.get(cell.coordinate)
        if not isinstance(value, str) or not value:
            continue
        bold, size = _font(cell)
        lines = wrapped_lines(value, column_width(ws, c), bold, size)
        need[r] = max(need.get(r, 0.0), lines * line_height(size))
    for r, height in need.items():
        dim = ws.row_dimensions[r]
        if height > LINE_HEIGHT + 0.5:
            dim.height = height
        elif dim.height and dim.height > LINE_HEIGHT + 0.5:
            dim.height = None  # one line: Excel's automatic height


def fit_sheet(ws, cached: dict[str, object] | None = None,
              extra: dict[int, float] | None = None) -> None:
    """Fit the sheet's columns to their headers and values (and ``extra`` needs, e.g. of
    table bodies held outside openpyxl), then the heights of rows with wrapped text."""
    apply_needs(ws, merge_needs(needs_of_sheet(ws, cached), extra or {}))
    fit_rows(ws, cached)
