"""Fast I/O of the workbook's data sheets (one Excel table each, nothing else).

openpyxl builds a Python object per cell, which makes a 200,000-row aggregate table cost
a minute to write and as long to load. The headless adapter therefore never lets openpyxl
see the rows of a *data sheet* — a worksheet whose only relationship is one table part,
with no formula, merged cell or other content outside the table (decided by inspecting
the sheet's XML, see :func:`open_package`):

- on open, the sheet's ``<sheetData>`` is cut down to the table's header row and first
  data row (whose cells carry the columns' styles) before openpyxl loads the package; the
  original rows stay in the file's bytes and are parsed only when asked for
  (:func:`parse_rows`: one regular expression over the part for the regular shape that
  Excel, openpyxl and this module write; openpyxl's own cell parser for anything else);
- on save, openpyxl writes everything else (header, column widths, views, protection, the
  table part with its new ``ref``), then :func:`write_package` streams the rows into that
  sheet's ``<sheetData>``: cell XML built per distinct value (``pandas.factorize``) and
  one ``%`` template per row, inline strings for text (never a formula), numbers as
  ``<v>``, dates as serial numbers with a date style. A data sheet that was not changed
  and holds no shared-string cells is copied through byte for byte.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import posixpath
import queue
import re
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import BytesIO

import numpy as np
import pandas as pd
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import range_boundaries
from openpyxl.utils.datetime import from_excel

from ..errors import SopError

#: Compression level of data-sheet parts (zlib): on a 142 MiB agg_sales part level 1 took
#: 1.4 s for 27.4 MiB, level 6 5.6 s for 21.4 MiB (4× the time for 22 % less):
#: level 1 (benchmarks/bench_workbook_io.py).
DATA_COMPRESSLEVEL = 1
OTHER_COMPRESSLEVEL = 6
ROWS_PER_CHUNK = 8192

_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_TABLE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/table"
_EPOCH = dt.datetime(1899, 12, 30)
#: characters XML 1.0 does not allow (openpyxl refuses them too)
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_FORMULA = re.compile(rb"<f[\s>/]")
_FORBIDDEN_IN_DATA_SHEET = (b"<mergeCell", b"<hyperlink",
                            b"<drawing", b"<legacyDrawing", b"<oleObjects", b"<controls")


# --------------------------------------------------------------------------- package


@dataclass
class DataSheet:
    """One data sheet of the opened file."""

    title: str
    part: str  # zip member name of the worksheet
    table_part: str
    ref: str  # the table's ref in the file
    has_shared_strings: bool  # cells of type "s" (refer to the file's sharedStrings)
    first_data_row: int  # header row + 1
    frame: pd.DataFrame | None = None  # the rows as parsed from the file
    dirty: bool = False  # written through write_table since open
    styles: dict[int, object] = field(default_factory=dict)  # column → StyleArray
    written: pd.DataFrame | None = None  # the frame given to write_table
    encoded: Encoded | None = None  # ... rendered for the file
    values: list | None = None  # the rows as cell values (for recalculation)


@dataclass
class Package:
    """The file's bytes with every data sheet cut down to its header (for openpyxl)."""

    stub: bytes
    sheets: dict[str, DataSheet]  # by sheet title
    source: bytes  # the original file


def _attr(tag: bytes, name: bytes) -> str | None:
    m = re.search(rb"\s" + re.escape(name) + rb'\s*=\s*"([^"]*)"', tag)
    return _unescape(m.group(1).decode("utf-8")) if m else None


def _unescape(text: str) -> str:
    if "&" not in text:
        return text
    return re.sub(r"&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|quot|apos);", _entity, text)


def _entity(m: re.Match) -> str:
    name = m.group(1)
    if name[0] == "#":
        return chr(int(name[2:], 16) if name[1] in "xX" else int(name[1:]))
    return {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}[name]


def _target(base: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(base), target))


def _rels(z: zipfile.ZipFile, part: str, names: set[str]) -> list[tuple[str, str, str]]:
    """(Id, Type, target part) of a part's relationships."""
    path = posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")
    if path not in names:
        return []
    out = []
    for tag in re.findall(rb"<(?:\w+:)?Relationship\b[^>]*>", z.read(path)):
        mode = _attr(tag, b"TargetMode")
        target = _attr(tag, b"Target") or ""
        out.append((_attr(tag, b"Id") or "", _attr(tag, b"Type") or "",
                    target if mode == "External" else _target(part, target)))
    return out


def _worksheets(z: zipfile.ZipFile, names: set[str]) -> dict[str, str]:
    """Sheet title → worksheet part."""
    wb_part = "xl/workbook.xml"
    for _, kind, target in _rels(z, "", names):
        if kind.endswith("/officeDocument"):
            wb_part = target
    rels = {rid: target for rid, _, target in _rels(z, wb_part, names)}
    out = {}
    for tag in re.findall(rb"<(?:\w+:)?sheet\b[^>]*>", z.read(wb_part)):
        rid = re.search(rb'\br:id="([^"]*)"', tag) or re.search(rb':id="([^"]*)"', tag)
        title = _attr(tag, b"name")
        if rid and title is not None and rels.get(rid.group(1).decode()) in names:
            out[title] = rels[rid.group(1).decode()]
    return out


def _sheetdata_bounds(xml: bytes) -> tuple[int, int, int] | None:
    """(start of the content, end of the content, end of the element) of <sheetData>."""
    m = re.search(rb"<sheetData\s*(/?)>", xml)
    if m is None:
        return None
    if m.group(1):
        return m.end(), m.end(), m.end()
    end = xml.rfind(b"</sheetData>")
    if end < m.end():
        return None
    return m.end(), end, end + len(b"</sheetData>")


_ROW = re.compile(rb"<row\b[^>]*?(?:/>|>.*?</row>)", re.S)


def _row_number(row_xml: bytes) -> int | None:
    m = re.match(rb'<row\b[^>]*?\br="(\d+)"', row_xml)
    return int(m.group(1)) if m else None


def _inspect(z: zipfile.ZipFile, names: set[str], title: str, part: str,
             xml: bytes) -> DataSheet | None:
    """A DataSheet if the worksheet holds one table and nothing else, else None."""
    rels = _rels(z, part, names)
    if len(rels) != 1 or rels[0][1] != _TABLE_REL or rels[0][2] not in names:
        return None
    table_xml = z.read(rels[0][2])
    head = re.search(rb"<(?:\w+:)?table\b[^>]*>", table_xml)
    if head is None or not head.group(0).startswith(b"<table"):
        return None
    ref = _attr(head.group(0), b"ref")
    if ref is None or _attr(head.group(0), b"headerRowCount") not in (None, "1") \
            or _attr(head.group(0), b"totalsRowCount") not in (None, "0") \
            or (_attr(head.group(0), b"totalsRowShown") == "1" and b"totalsRowFunction" in \
            table_xml):
        return None
    root = re.search(rb"<(\w+:)?worksheet\b", xml)
    if root is None or root.group(1):  # a prefixed main namespace: leave it to openpyxl
        return None
    bounds = _sheetdata_bounds(xml)
    if bounds is None:
        return None
    outside = xml[:bounds[0]] + xml[bounds[1]:]
    if any(word in outside for word in _FORBIDDEN_IN_DATA_SHEET) \
            or _FORMULA.search(xml, bounds[0], bounds[1]):
        return None
    try:
        min_col, min_row, max_col, _ = range_boundaries(ref)
    except (ValueError, TypeError):
        return None
    dim = re.search(rb'<dimension\s+ref="([^"]*)"', xml)
    if dim is None:
        return None
    try:
        d = range_boundaries(dim.group(1).decode())
    except (ValueError, TypeError):
        return None
    if None in d or d[0] < min_col or d[2] > max_col or d[1] < min_row:
        return None  # cells outside the table's columns or above its header
    return DataSheet(title, part, rels[0][2], ref, b't="s"' in xml, min_row + 1)


def _stub(xml: bytes, sheet: DataSheet) -> bytes:
    """The worksheet with only the header row and first data row in <sheetData>."""
    start, end, _ = _sheetdata_bounds(xml)
    keep = []
    pos = start
    while pos < end:
        m = _ROW.match(xml, pos)
        if m is None:
            m = _ROW.search(xml, pos, end)
            if m is None:
                break
        n = _row_number(m.group(0))
        if n is not None and n > sheet.first_data_row:
            break
        keep.append(m.group(0))
        pos = m.end()
    return xml[:start] + b"".join(keep) + xml[end:]


def open_package(data: bytes) -> Package:
    """Find the data sheets of a workbook file and cut them down for openpyxl."""
    sheets: dict[str, DataSheet] = {}
    out = BytesIO()
    with zipfile.ZipFile(BytesIO(data)) as z, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as stub:
        names = set(z.namelist())
        try:
            worksheets = _worksheets(z, names)
        except (KeyError, UnicodeDecodeError, zipfile.BadZipFile):
            worksheets = {}
        candidates = {part: title for title, part in worksheets.items()
                      if len(_rels(z, part, names)) == 1}
        for info in z.infolist():
            body = z.read(info.filename)
            if info.filename in candidates:
                title = candidates[info.filename]
                found = _inspect(z, names, title, info.filename, body)
                if found is not None:
                    sheets[title] = found
                    body = _stub(body, found)
            entry = zipfile.ZipInfo(info.filename, info.date_time)
            entry.external_attr = info.external_attr
            stub.writestr(entry, body, compress_type=zipfile.ZIP_STORED)
    return Package(out.getvalue(), sheets, data)


def sheet_xml(data: bytes, part: str) -> bytes:
    with zipfile.ZipFile(BytesIO(data)) as z:
        return z.read(part)


def output_parts(data: bytes) -> dict[str, str]:
    """Sheet title → worksheet part of a workbook zip."""
    with zipfile.ZipFile(BytesIO(data)) as z:
        return _worksheets(z, set(z.namelist()))


def original_rows(data: bytes, sheet: DataSheet, size: int = 1 << 22) -> Iterator[bytes]:
    """The rows below the header of a data sheet in the file, unchanged, in slices."""
    xml = sheet_xml(data, sheet.part)
    start, end, _ = _sheetdata_bounds(xml)
    pos = start
    while pos < end:
        m = _ROW.search(xml, pos, end)
        if m is None:
            pos = end
            break
        n = _row_number(m.group(0))
        if n is not None and n >= sheet.first_data_row:
            pos = m.start()
            break
        pos = m.end()
    view = memoryview(xml)
    for i in range(pos, end, size):
        yield bytes(view[i:min(end, i + size)])


# --------------------------------------------------------------------------- reading

_CELL = re.compile(
    rb'<c r="([A-Z]{1,3})(\d+)"(?: s="(\d+)")?(?: t="([a-zA-Z]+)")?\s*'
    rb'(?:/>|></c>|><v>([^<]*)</v></c>|><is><t(?: xml:space="preserve")?>([^<]*)</t></is></c>'
    rb'|><is><t(?: xml:space="preserve")?/></is></c>)')


class _Irregular(Exception):
    """A sheet the fast parser does not read (then openpyxl's parser does)."""


def _number(text: str):
    if "." in text or "E" in text or "e" in text:
        return float(text)
    try:
        return int(text)
    except ValueError:
        return float(text)  # inf, nan


def parse_rows(xml: bytes, sheet: DataSheet, columns: list[str], *, date_styles: set[int],
               shared_strings: list | None, epoch: dt.datetime) -> pd.DataFrame:
    """The table's rows (below the header) as a DataFrame — the values and column types
    openpyxl cells would give; empty rows dropped, index = offset below the header."""
    min_col, min_row, max_col, max_row = range_boundaries(sheet.ref)
    n_rows = max_row - min_row
    try:
        data = _parse_fast(xml, min_col, max_col, min_row, max_row, date_styles,
                           shared_strings, epoch, len(columns))
    except _Irregular:
        rows = _parse_openpyxl(xml, min_col, max_col, min_row, max_row, date_styles,
                               shared_strings, epoch)
        grid = np.full((n_rows, max_col - min_col + 1), None, dtype=object)
        for r, c, values in rows:
            grid[r, c] = values
        data = [grid[:, j] for j in range(len(columns))]
    frame = pd.DataFrame(dict(zip(range(len(columns)), data, strict=True)))
    frame.columns = columns
    return frame.infer_objects().dropna(how="all")


def _parse_fast(xml, min_col, max_col, min_row, max_row, date_styles, shared_strings,
                epoch, width) -> list[np.ndarray]:
    """Per column, the values (a float/int array for an all-number column, else objects)."""
    n_rows = max_row - min_row
    bounds = _sheetdata_bounds(xml)
    if bounds is None:
        raise _Irregular
    start, end, _ = bounds
    body = xml[start:end]
    matches = _CELL.findall(body)
    if len(matches) != body.count(b"<c ") + body.count(b"<c>"):
        raise _Irregular
    del body
    if not matches:
        return [np.full(n_rows, None, dtype=object) for _ in range(width)]
    cols, rows_, styles, types, values, texts = (_objects(x) for x in zip(*matches, strict=True))
    del matches
    col_codes, col_uniques = pd.factorize(cols)
    col_index = np.array([_col_number(u.decode()) for u in col_uniques])[col_codes] - min_col
    del cols, col_codes
    row_index = rows_.astype(np.int64) - min_row - 1
    del rows_
    if ((row_index < -1) | (row_index >= n_rows) | (col_index < 0)
            | (col_index >= width)).any():
        raise _Irregular  # openpyxl's parser then names the cell outside the table
    body_cells = row_index >= 0
    kind_codes, kind_uniques = pd.factorize(types)
    kind_of = {k: i for i, k in enumerate(kind_uniques)}
    empty_v = values == b""
    is_text = (kind_codes == kind_of.get(b"inlineStr", -2)) & body_cells
    is_num = ((kind_codes == kind_of.get(b"", -2)) | (kind_codes == kind_of.get(b"n", -2))) \
        & ~empty_v & body_cells
    dated = np.zeros(len(types), dtype=bool)
    if date_styles and is_num.any():
        s_codes, s_uniques = pd.factorize(styles)
        date_codes = [i for i, u in enumerate(s_uniques) if int(u or 0) in date_styles]
        dated = np.isin(s_codes, date_codes) & is_num
    other = body_cells & ~is_text & ~is_num & ~empty_v
    out = []
    for j in range(width):
        in_col = col_index == j
        num = is_num & in_col & ~dated
        if not (in_col & (is_text | other | dated)).any():
            # an all-number column: parsed in one go
            raw = values[num]
            column = np.full(n_rows, np.nan)
            if len(raw):
                joined = b"|".join(raw)
                if b"." in joined or b"e" in joined or b"E" in joined or b"n" in joined:
                    parsed = raw.astype("S64").astype(np.float64)
                else:
                    parsed = raw.astype("S64").astype(np.int64)
                    if num.sum() == n_rows:
                        column = np.zeros(n_rows, dtype=np.int64)
                column[row_index[num]] = parsed
            if not len(raw) or (column.dtype == np.float64 and np.isnan(column).all()):
                column = np.full(n_rows, None, dtype=object)
            out.append(column)
            continue
        column = np.full(n_rows, None, dtype=object)
        if num.any():
            column[row_index[num]] = _convert_many(values[num], _number_text)
        sel = is_text & in_col
        if sel.any():
            column[row_index[sel]] = _decode_many(texts[sel])
        sel = dated & in_col
        if sel.any():
            column[row_index[sel]] = [from_excel(v, epoch) for v in
                                      _convert_many(values[sel], _number_text)]
        for i in np.flatnonzero(other & in_col):
            column[row_index[i]] = _other_value(kind_uniques[kind_codes[i]], values[i],
                                                shared_strings)
        out.append(column)
    return out


def _objects(items: tuple) -> np.ndarray:
    arr = np.empty(len(items), dtype=object)
    arr[:] = items
    return arr


def _other_value(kind: bytes, raw: bytes, shared_strings):
    text = raw.decode("utf-8")
    if kind == b"s":
        if shared_strings is None:
            raise _Irregular
        return shared_strings[int(text)]
    if kind == b"b":
        return bool(int(text))
    if kind in (b"str", b"e"):
        return _unescape(text)
    if kind == b"d":
        from openpyxl.utils.datetime import from_ISO8601

        return from_ISO8601(text)
    raise _Irregular


def _number_text(raw: bytes):
    return _number(raw.decode("ascii"))


def _to_date(value, epoch):
    return from_excel(value, epoch)


def _decode_many(raw: np.ndarray) -> np.ndarray:
    return _convert_many(raw, lambda b: _unescape(b.decode("utf-8")))


def _convert_many(raw: np.ndarray, fn) -> np.ndarray:
    """fn applied once per distinct value."""
    codes, uniques = pd.factorize(raw)
    converted = np.empty(len(uniques), dtype=object)
    converted[:] = [fn(u) for u in uniques]
    return converted[codes]


def _col_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def _parse_openpyxl(xml, min_col, max_col, min_row, max_row, date_styles, shared_strings,
                    epoch):
    from openpyxl.worksheet._reader import WorkSheetParser

    parser = WorkSheetParser(BytesIO(xml), shared_strings or [], False, epoch,
                             set(date_styles), set())
    rs, cs, vs = [], [], []
    for _, row in parser.parse():
        for cell in row:
            value = cell["value"]
            r, c = cell["row"], cell["column"]
            if value is None:
                continue
            if not (min_row <= r <= max_row and min_col <= c <= max_col):
                raise SopError(f"cell {get_column_letter(c)}{r} lies outside the table "
                               f"{min_col}:{max_col} of a data sheet")
            if r == min_row:
                continue
            rs.append(r - min_row - 1)
            cs.append(c - min_col)
            vs.append(value)
    if not rs:
        return []
    values = np.empty(len(vs), dtype=object)
    values[:] = vs
    return [(np.array(rs), np.array(cs), values)]


# --------------------------------------------------------------------------- writing


@dataclass
class ColumnSpec:
    style_id: int  # the column's style (cells of the first data row)
    date_style_id: int  # for dates when the column style is not a date format


@dataclass
class Encoded:
    """A table body ready to stream: per column, the XML after ``<c r="A2"`` per row."""

    n: int
    letters: list[str]
    texts: list[np.ndarray]
    first_row: int
    empty_row: str  # the row written for an empty table


def encode(frame: pd.DataFrame, columns: list[str], specs: list[ColumnSpec], min_col: int,
           first_row: int, table: str) -> Encoded:
    """Render every cell's XML (per distinct value) — raising SopError, naming the table,
    row, cell and column, for a value a workbook cannot hold — before anything is saved."""
    letters = [get_column_letter(min_col + j) for j in range(len(columns))]
    n = len(frame)
    texts = []
    for j, col in enumerate(columns):
        if col in frame.columns:
            values = frame[col].reset_index(drop=True)
        else:
            values = pd.Series([None] * n, dtype=object)
        texts.append(_cell_texts(values, specs[j], table, col, first_row, letters[j]))
    cells = "".join(f'<c r="{L}{first_row}" s="{s.style_id}"/>'
                    for L, s in zip(letters, specs, strict=True) if s.style_id)
    return Encoded(n, letters, texts, first_row, f'<row r="{first_row}">{cells}</row>')


def _cell_texts(values: pd.Series, spec: ColumnSpec, table: str, column: str,
                first_row: int, col_letter: str) -> np.ndarray:
    """The XML after ``<c r="A2"`` for each value of a column."""
    s_attr = f' s="{spec.style_id}"' if spec.style_id else ""
    empty = f"{s_attr}/>"
    d_attr = f' s="{spec.date_style_id}"' if spec.date_style_id else ""
    if len(values) == 0:
        return np.empty(0, dtype=object)
    dtype = values.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        if getattr(dtype, "tz", None) is not None:
            values = values.dt.tz_localize(None)
        arr = values.to_numpy(dtype="datetime64[ns]")
        na = np.isnat(arr)
        serial = (arr - np.datetime64("1899-12-30", "ns")).astype(np.int64) / 86_400e9
        codes, uniques = pd.factorize(np.where(na, np.nan, serial))
        texts = np.array([f"{d_attr}><v>{_serial_text(u)}</v></c>" for u in uniques]
                         + [empty], dtype=object)
        return texts[codes]
    if dtype.kind in "fiub":  # numpy numbers: rendered per distinct value, vectorised
        codes, uniques = pd.factorize(values.to_numpy(), use_na_sentinel=True)
        if dtype.kind == "f":
            pre, post = f"{s_attr}><v>", "</v></c>"
            texts = [pre + r + post for r in map(repr, uniques.tolist())]
            for i in np.flatnonzero(~np.isfinite(uniques)):
                texts[i] = f'{s_attr} t="e"><v>#NUM!</v></c>'
        elif dtype.kind == "b":
            texts = [f'{s_attr} t="b"><v>{int(u)}</v></c>' for u in uniques.tolist()]
        else:
            pre, post = f"{s_attr}><v>", "</v></c>"
            texts = [pre + r + post for r in map(str, uniques.tolist())]
        texts.append(empty)
        out = np.empty(len(texts), dtype=object)
        out[:] = texts
        return out[codes]
    where = (table, column, first_row, col_letter, values)
    if dtype == np.dtype(object) and pd.api.types.infer_dtype(values, skipna=True) not in (
            "string", "empty", "integer", "floating", "date", "datetime"):
        # mixed types: 1, 1.0 and True are equal keys for factorize; render each value
        return np.array([_render(v, s_attr, empty, d_attr, where) for v in values.tolist()]
                        + [empty], dtype=object)[:-1]
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    uniques = uniques.tolist() if hasattr(uniques, "tolist") else list(uniques)
    texts = np.array([_render(u, s_attr, empty, d_attr, where) for u in uniques] + [empty],
                     dtype=object)
    return texts[codes]


def _serial_text(value: float) -> str:
    if value == int(value):
        return str(int(value))
    return repr(float(value))


def _position(values: pd.Series, value) -> int:
    for i, v in enumerate(values.tolist()):
        if v is value or (type(v) is type(value) and v == value):
            return i
    return 0


def _render(value, s_attr: str, empty: str, d_attr: str, where) -> str:
    if value is None or value is pd.NaT or value is pd.NA:
        return empty
    if isinstance(value, (bool, np.bool_)):
        return f'{s_attr} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, np.integer)):
        return f"{s_attr}><v>{int(value)}</v></c>"
    if isinstance(value, (float, np.floating, decimal.Decimal)):
        x = float(value)
        if math.isnan(x):
            return empty
        if math.isinf(x):
            return f'{s_attr} t="e"><v>#NUM!</v></c>'
        return f"{s_attr}><v>{x!r}</v></c>"
    if isinstance(value, str):
        if value == "":
            return empty  # as openpyxl writes it: an empty cell
        bad = _ILLEGAL.search(value)
        if bad:
            table, column, first_row, letter, values = where
            pos = _position(values, value)
            raise SopError(
                f"table {table}, row {pos + 1} (cell {letter}{first_row + pos}), column "
                f"{column}: the text contains the character U+{ord(bad.group(0)):04X}, "
                "which a workbook cannot hold", "The workbook was not changed.")
        text = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
        return f'{s_attr} t="inlineStr"><is><t{space}>{text}</t></is></c>'
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        if not isinstance(value, dt.datetime):
            value = dt.datetime.combine(value, dt.time())
        value = value.replace(tzinfo=None)
        delta = value - _EPOCH
        serial = delta.days + delta.seconds / 86400 + delta.microseconds / 86400e6
        return f"{d_attr}><v>{_serial_text(serial)}</v></c>"
    table, column, first_row, letter, values = where
    pos = _position(values, value)
    raise SopError(f"table {table}, row {pos + 1} (cell {letter}{first_row + pos}), "
                   f"column {column}: cannot write a {type(value).__name__} value",
                   "The workbook was not changed.")


def render_rows(enc: Encoded) -> Iterator[bytes]:
    """The <row> elements of the table body, in chunks of UTF-8 bytes. An empty table
    gives one row of empty (styled) cells: a table keeps one body row."""
    if enc.n == 0:
        yield enc.empty_row.encode()
        return
    fmt = '<row r="%s">' + "".join(f'<c r="{L}%s"%s' for L in enc.letters) + "</row>"
    for start in range(0, enc.n, ROWS_PER_CHUNK):
        stop = min(enc.n, start + ROWS_PER_CHUNK)
        numbers = [str(enc.first_row + i) for i in range(start, stop)]
        args = [numbers]
        for t in enc.texts:
            args.append(numbers)
            args.append(t[start:stop].tolist())
        yield "".join(fmt % row for row in zip(*args, strict=True)).encode("utf-8")


# --------------------------------------------------------------------------- package


def replace_sheet_data(xml: bytes, new_ref: str | None) -> tuple[bytes, bytes]:
    """Split openpyxl's worksheet XML around its body rows: (head up to and including the
    header row, tail from ``</sheetData>``), with ``<dimension>`` set to ``new_ref``."""
    start, end, _ = _sheetdata_bounds(xml)
    m = _ROW.match(xml, start)
    head_end = m.end() if m else start
    head, tail = xml[:head_end], xml[end:]
    if new_ref is not None:
        head = re.sub(rb'<dimension\s+ref="[^"]*"\s*/>', f'<dimension ref="{new_ref}"/>'
                      .encode(), head, count=1)
    if start == end and xml[start - 2:start] == b"/>":  # <sheetData/>
        head = head[:start - 2] + b">"
        tail = b"</sheetData>" + tail
    return head, tail


def write_package(small: bytes, bodies: dict[str, tuple[bytes, Iterator[bytes], bytes]],
                  level: int = DATA_COMPRESSLEVEL) -> bytes:
    """``small`` (a zip) with the parts in ``bodies`` replaced by head + streamed chunks +
    tail. Chunks are compressed in a second thread while the next ones are built."""
    out = BytesIO()
    with zipfile.ZipFile(BytesIO(small)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED,
                            compresslevel=OTHER_COMPRESSLEVEL) as dst:
        for info in src.infolist():
            if info.filename not in bodies:
                new = zipfile.ZipInfo(info.filename, info.date_time)
                new.compress_type = zipfile.ZIP_DEFLATED
                new.external_attr = info.external_attr
                dst.writestr(new, src.read(info.filename), compresslevel=OTHER_COMPRESSLEVEL)
                continue
            head, chunks, tail = bodies[info.filename]
            new = zipfile.ZipInfo(info.filename, info.date_time)
            new.compress_type = zipfile.ZIP_DEFLATED
            new._compresslevel = level
            new.external_attr = info.external_attr
            with dst.open(new, "w", force_zip64=True) as fh:
                _stream(fh, head, chunks, tail)
    return out.getvalue()


def _stream(fh, head: bytes, chunks: Iterator[bytes], tail: bytes) -> None:
    q: queue.Queue = queue.Queue(maxsize=4)
    failure: list[BaseException] = []

    def consume():
        try:
            while True:
                item = q.get()
                if item is None:
                    return
                fh.write(item)
        except BaseException as exc:
            failure.append(exc)
            while q.get() is not None:
                pass

    worker = threading.Thread(target=consume, daemon=True)
    worker.start()
    try:
        q.put(head)
        for chunk in chunks:
            if failure:
                break
            q.put(chunk)
        q.put(tail)
    finally:
        q.put(None)
        worker.join()
    if failure:
        raise failure[0]
