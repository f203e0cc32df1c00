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
- on write, the rows are encoded (:func:`encode`): cell XML per distinct value
  (``pandas.factorize``) and a code per row — inline strings for text (never a
  formula), numbers as ``<v>``, dates as serial numbers with a date style — checked
  before anything changes; the numbers' XML, the rows (:func:`render_rows`: a grid of
  pieces joined per chunk of rows) and their compression follow in a background thread
  (:class:`Job`), as raw-deflate segments that join into one stream (:class:`Deflated`);
- on save, openpyxl writes everything else (header, column widths, views, protection, the
  table part with its new ``ref``), then :func:`write_package` puts the rows into that
  sheet's ``<sheetData>`` (the segments made since, or made now beside the background
  thread) and writes the zip itself (:func:`_zip`). A data sheet that was not changed
  and holds no shared-string cells is copied through byte for byte.
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
import math
import os
import posixpath
import queue
import re
import struct
import threading
import zipfile
import zlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from io import BytesIO

import numpy as np
import pandas as pd
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import range_boundaries
from openpyxl.utils.datetime import from_excel

from ..errors import SopError

#: Compression level of data-sheet parts: on a 142 MiB agg_sales part zlib level 1 took
#: 1.4 s for 27.4 MiB, level 6 5.6 s for 21.4 MiB (4× the time for 22 % less): level 1
#: (benchmarks/bench_workbook_io.py). Level 0 (stored) would cost nothing but make the file
#: 7× larger. With ISA-L (``_data_zlib``) level 1 is 5× faster than zlib's and 10 % smaller.
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
    values: list | None = None  # the rows as cell values (for recalculation)
    deflated: list[Job] | None = None  # ... rendered and compressed (segments, see Job)


@dataclass
class Package:
    """The file's bytes with every data sheet cut down to its header (for openpyxl)."""

    stub: bytes
    sheets: dict[str, DataSheet]  # by sheet title
    source: bytes  # the original file
    #: big tables of the other sheets, cut out of the stub (kept.KeptTable, by table name)
    kept: dict = field(default_factory=dict)


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
        others = {part: title for title, part in worksheets.items()}
        kept_tables = {}
        for info in z.infolist():
            body = read_member(data, z, info)
            found = None
            if info.filename in candidates:
                title = candidates[info.filename]
                found = _inspect(z, names, title, info.filename, body)
                if found is not None:
                    sheets[title] = found
                    body = _stub(body, found)
            if found is None and info.filename in others:  # big tables of a mixed sheet
                from .kept import cut_tables

                body, tables = cut_tables(z, names, others[info.filename], info.filename,
                                          body)
                kept_tables.update((t.name, t) for t in tables)
            entry = zipfile.ZipInfo(info.filename, info.date_time)
            entry.external_attr = info.external_attr
            stub.writestr(entry, body, compress_type=zipfile.ZIP_STORED)
    return Package(out.getvalue(), sheets, data, kept_tables)


def read_member(data: bytes, z: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """A member of the zip ``z`` (whose bytes are ``data``), inflated by ISA-L when
    installed (~3× zlib on the big sheet parts; CRC checked as zipfile does)."""
    if info.compress_type != zipfile.ZIP_DEFLATED or _data_zlib is zlib \
            or info.file_size < (1 << 16):
        return z.read(info.filename)
    at = info.header_offset
    if data[at:at + 4] != b"PK\x03\x04":
        return z.read(info.filename)  # zipfile reports what is wrong
    name_len, extra_len = struct.unpack("<HH", data[at + 26:at + 30])
    begin = at + 30 + name_len + extra_len
    try:
        inflater = _data_zlib.decompressobj(-15)  # no more than the size declared
        out = inflater.decompress(memoryview(data)[begin:begin + info.compress_size],
                                  info.file_size + 1)
    except Exception:  # a damaged member: zipfile reports it
        return z.read(info.filename)
    if len(out) != info.file_size or _data_zlib.crc32(out) != info.CRC:
        return z.read(info.filename)
    return out


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
               shared_strings: list | None, epoch: dt.datetime,
               only: Collection[int] | None = None) -> pd.DataFrame:
    """The table's rows (below the header) as a DataFrame — the values and column types
    openpyxl cells would give; empty rows dropped, index = offset below the header.
    ``only``: the positions (0 = the table's first column) of the columns to parse; the
    others come back empty (a reader that needs a few columns of a wide table skips
    converting the rest)."""
    min_col, min_row, max_col, max_row = range_boundaries(sheet.ref)
    n_rows = max_row - min_row
    wanted = None if only is None else np.asarray(sorted(set(only)), dtype=np.int64)
    try:
        try:
            data = _parse_vectorised(xml, min_col, max_col, min_row, max_row, date_styles,
                                     shared_strings, epoch, len(columns), wanted)
        except _Irregular:
            data = _parse_fast(xml, min_col, max_col, min_row, max_row, date_styles,
                               shared_strings, epoch, len(columns))
    except _Irregular:
        rows = _parse_openpyxl(xml, min_col, max_col, min_row, max_row, date_styles,
                               shared_strings, epoch)
        grid = np.full((n_rows, max_col - min_col + 1), None, dtype=object)
        for r, c, values in rows:
            grid[r, c] = values
        data = [grid[:, j] for j in range(len(columns))]
    if wanted is not None:  # the other parsers read every column: the same result
        data = [d if j in wanted else np.full(n_rows, None, dtype=object)
                for j, d in enumerate(data)]
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
    """A table body ready to stream. The cell of row ``i`` and column ``j`` is written as
    ``<c r="`` + letter + row number + ``"`` + ``texts[j][codes[j][i]]``: each column's
    XML per distinct value, a code per row (-1, a missing value, is the last text: the
    empty cell) — None for the columns of numbers in ``later``, whose XML is made with the
    layout (:meth:`layout`)."""

    n: int
    letters: list[str]
    codes: list[np.ndarray | None]
    texts: list[np.ndarray | None]  # object arrays of str
    first_row: int
    empty_row: str  # the row written for an empty table
    later: dict[int, _Numbers] = field(default_factory=dict)  # columns rendered later
    min_col: int = 1
    _layout: _Layout | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def rows(self) -> int:
        """Body rows on the sheet (an empty table keeps one)."""
        return max(self.n, 1)

    def layout(self) -> _Layout:
        """The body's cells as pieces (:class:`_Layout`), made once — with the XML of the
        number columns left for later (made in the background thread, usually: a number
        cannot fail to render, so write_table need not wait for it)."""
        with self._lock:
            if self._layout is None:
                self._layout = _Layout(self)
                self.later = {}  # rendered into the layout
            return self._layout


def encode(frame: pd.DataFrame, columns: list[str], specs: list[ColumnSpec], min_col: int,
           first_row: int, table: str) -> Encoded:
    """Render every cell's XML (per distinct value) — raising SopError, naming the table,
    row, cell and column, for a value a workbook cannot hold — before anything is saved."""
    letters = [get_column_letter(min_col + j) for j in range(len(columns))]
    n = len(frame)
    codes, texts, later = [], [], {}
    for j, col in enumerate(columns):
        if col in frame.columns:
            values = frame[col].reset_index(drop=True)
        else:
            values = pd.Series([None] * n, dtype=object)
        rendered = _cell_texts(values, specs[j], table, col, first_row, letters[j])
        if isinstance(rendered, _Numbers):
            later[j] = rendered
            rendered = (None, None)
        codes.append(rendered[0])
        texts.append(rendered[1])
    cells = "".join(f'<c r="{L}{first_row}" s="{s.style_id}"/>'
                    for L, s in zip(letters, specs, strict=True) if s.style_id)
    return Encoded(n, letters, codes, texts, first_row, f'<row r="{first_row}">{cells}</row>',
                   later, min_col)


def _texts_array(texts: list[str]) -> np.ndarray:
    out = np.empty(len(texts), dtype=object)
    out[:] = texts
    return out


def _cell_texts(values: pd.Series, spec: ColumnSpec, table: str, column: str,
                first_row: int, col_letter: str) -> tuple[np.ndarray, np.ndarray] | _Numbers:
    """(codes, texts): the XML after ``<c r="A2"`` per distinct value of a column (the
    last text is the empty cell) and each row's code (-1 for a missing value); for a
    column of numbers, the values to render later (:class:`_Numbers`)."""
    s_attr = f' s="{spec.style_id}"' if spec.style_id else ""
    empty = f"{s_attr}/>"
    d_attr = f' s="{spec.date_style_id}"' if spec.date_style_id else ""
    if len(values) == 0:
        return np.empty(0, dtype=np.intp), _texts_array([empty])
    dtype = values.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        if getattr(dtype, "tz", None) is not None:
            values = values.dt.tz_localize(None)
        arr = values.to_numpy(dtype="datetime64[ns]")
        na = np.isnat(arr)
        serial = (arr - np.datetime64("1899-12-30", "ns")).astype(np.int64) / 86_400e9
        codes, uniques = pd.factorize(np.where(na, np.nan, serial))
        return codes, _texts_array([f"{d_attr}><v>{_serial_text(u)}</v></c>"
                                    for u in uniques] + [empty])
    kind = dtype.kind
    if dtype == np.dtype(object):
        kind, values = _object_kind(values)
    if kind == "f":  # numbers: rendered later, from a copy
        return _Numbers(kind, values.to_numpy(dtype=np.float64, na_value=np.nan, copy=True),
                        s_attr)
    if kind in ("i", "u", "b"):
        return _Numbers(kind, np.array(values.to_numpy(), copy=True), s_attr)
    where = (table, column, first_row, col_letter, values)
    if kind == "mixed":
        # mixed types: 1, 1.0 and True are equal keys for factorize; render each value
        texts = [_render(v, s_attr, empty, d_attr, where) for v in values.tolist()]
        return np.arange(len(texts), dtype=np.intp), _texts_array([*texts, empty])
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    uniques = uniques.tolist() if hasattr(uniques, "tolist") else list(uniques)
    return codes, _texts_array([_render(u, s_attr, empty, d_attr, where) for u in uniques]
                               + [empty])


@dataclass
class _Numbers:
    """A column of numbers (numpy kind f, i, u or b) whose cell XML is rendered later."""

    kind: str
    values: np.ndarray
    s_attr: str

    def pieces(self, after: str) -> tuple[np.ndarray, np.ndarray]:
        """(codes, pieces) as :class:`_Layout` uses them: per distinct value ``"`` + the
        XML after ``<c r="A2`` + ``after``; the last piece is the empty cell's."""
        s = self.s_attr
        codes, uniques = pd.factorize(self.values, use_na_sentinel=True)
        if self.kind == "f":
            pieces = [f'"{s}><v>{u!r}</v></c>{after}' for u in uniques.tolist()]
            for i in np.flatnonzero(~np.isfinite(uniques)):
                pieces[i] = f'"{s} t="e"><v>#NUM!</v></c>{after}'
        elif self.kind == "b":
            pieces = [f'"{s} t="b"><v>{int(u)}</v></c>{after}' for u in uniques.tolist()]
        else:
            pieces = [f'"{s}><v>{u}</v></c>{after}' for u in uniques.tolist()]
        pieces.append(f'"{s}/>{after}')
        return codes, _texts_array(pieces)


def _object_kind(values: pd.Series) -> tuple[str, pd.Series]:
    """How an object column is rendered: ("f", the values as floats) for floats and
    missing values only (rendered as a float column is, vectorised); "mixed" for values of
    several types (rendered one by one: 1, 1.0 and True are equal keys for factorize);
    else "" (rendered per distinct value)."""
    inferred = pd.api.types.infer_dtype(values, skipna=True)
    if inferred == "floating":
        try:
            return "f", values.astype(np.float64)
        except (TypeError, ValueError):  # e.g. pd.NA among the floats
            return "", values
    if inferred in ("string", "empty", "integer", "date", "datetime"):
        return "", values
    return "mixed", values


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


def render_rows(enc: Encoded, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
    """The <row> elements of the table body (of its rows ``start`` … ``stop - 1``), in
    chunks of UTF-8 bytes. An empty table gives one row of empty (styled) cells: a table
    keeps one body row."""
    layout = [enc.layout()]
    stop = enc.rows if stop is None else min(stop, enc.rows)
    for a in range(enc.first_row + start, enc.first_row + stop, ROWS_PER_CHUNK):
        yield _rows_xml(a, min(enc.first_row + stop, a + ROWS_PER_CHUNK), layout, {})


class _Layout:
    """One table's body cells as columns of a grid of XML pieces, one grid row per sheet
    row. A row's cells are ``<c r="A`` n ``" s="1"><v>…</v></c><c r="B`` n ``"…`` … —
    pieces alternating with the row number n, where each piece after a number is the
    column's text for the row's value followed by the start of the next cell, picked
    per row by the column's codes (so nothing is formatted per cell)."""

    def __init__(self, enc: Encoded) -> None:
        self.min_col = enc.min_col
        self.first_row = enc.first_row
        self.stop_row = enc.first_row + enc.rows
        self.n = enc.n
        if enc.n == 0:  # the one empty row: its (styled) empty cells
            self.pieces: list = [enc.empty_row[enc.empty_row.index(">") + 1:-len("</row>")]]
            return
        self.pieces = [f'<c r="{enc.letters[0]}']
        last = len(enc.letters) - 1
        for j, (codes, texts) in enumerate(zip(enc.codes, enc.texts, strict=True)):
            after = f'<c r="{enc.letters[j + 1]}' if j < last else ""
            if j in enc.later:
                codes, joined = enc.later[j].pieces(after)
            else:
                joined = _texts_array(['"' + t + after for t in texts.tolist()])
            if len(joined) < 2**31:  # half the memory of the platform's index type
                codes = codes.astype(np.int32)
            self.pieces.append(None)  # the row number
            self.pieces.append((codes, joined))

    def fill(self, grid: np.ndarray, k: int, a: int, b: int, numbers: np.ndarray
             ) -> slice | None:
        """Put the cells of sheet rows a … b-1 in grid columns k … (rows this table does not
        cover stay empty); the grid rows covered, or None."""
        r0, r1 = max(a, self.first_row), min(b, self.stop_row)
        columns = slice(k, k + len(self.pieces))
        if r0 >= r1:
            grid[:, columns] = ""
            return None
        grid[:r0 - a, columns] = ""
        grid[r1 - a:, columns] = ""
        rows = slice(r0 - a, r1 - a)
        for i, piece in enumerate(self.pieces):
            if piece is None:
                grid[rows, k + i] = numbers[rows]
            elif isinstance(piece, str):
                grid[rows, k + i] = piece
            else:
                codes, joined = piece
                grid[rows, k + i] = joined[codes[r0 - self.first_row:r1 - self.first_row]]
        return rows


def _rows_xml(a: int, b: int, layouts: list[_Layout], inside: dict[int, bytes]) -> bytes:
    """The <row> elements of sheet rows a … b-1: the cells of the tables in ``layouts``
    (in column order), merged into the rows openpyxl wrote (``inside``, by row number);
    a row with neither is left out."""
    m = b - a
    width = 3 + sum(len(t.pieces) for t in layouts) + 1
    grid = np.empty((m, width), dtype=object)  # every piece is set below
    numbers = np.empty(m, dtype=object)
    numbers[:] = [str(r) for r in range(a, b)]
    grid[:, 0] = '<row r="'
    grid[:, 1] = numbers
    grid[:, 2] = '">'
    grid[:, -1] = "</row>"
    keep = np.zeros(m, dtype=bool)
    spans = []
    k = 3
    for t in layouts:
        rows = t.fill(grid, k, a, b, numbers)
        if rows is not None:
            keep[rows] = True
        spans.append((t.min_col, k, k + len(t.pieces)))
        k += len(t.pieces)
    for r, row_xml in inside.items():
        if a <= r < b:
            i = r - a
            cells = [(c, "".join(grid[i, k0:k1].tolist())) for c, k0, k1 in spans]
            grid[i, :] = ""
            grid[i, 0] = _merged_row(row_xml, [(c, x) for c, x in cells if x])
            keep[i] = True
    if not keep.all():
        grid = grid[keep]
    return "".join(grid.ravel().tolist()).encode("utf-8")


def _merged_row(row_xml: bytes, pieces: list[tuple[int, str]]) -> str:
    """A row openpyxl wrote with table cells (column, cell XML) merged in column order."""
    tag, cells = _split_row(row_xml.decode("utf-8"))
    return tag + "".join(p for _, p in sorted(pieces + cells, key=lambda x: x[0])) + "</row>"


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


def write_package(small: bytes, bodies: dict[str, tuple[bytes, object, bytes]]) -> bytes:
    """:func:`write_package_pieces` joined into the file's bytes."""
    return b"".join(write_package_pieces(small, bodies))


def write_package_pieces(small: bytes, bodies: dict[str, tuple[bytes, object, bytes]]
                         ) -> list:
    """``small`` (a zip) with the parts in ``bodies`` replaced by head + body + tail, the
    body being either chunks of bytes (compressed now, in a second thread while the next
    chunks are built) or a list of :class:`Job` giving its :class:`Deflated` segments
    (:func:`deflate_rows_later`: compressed in the background since; the jobs not yet
    started run here)."""
    segments = {}
    for part, (_, body, _) in bodies.items():  # first what is built now, then the rest
        if not isinstance(body, list):
            segments[part] = [deflate_in_thread(body, DATA_COMPRESSLEVEL, _data_zlib)]
    jobs = [job for _, body, _ in bodies.values() if isinstance(body, list) for job in body]
    for job in reversed(jobs):  # the background thread runs them from the first on
        job.run()
    members = []
    with zipfile.ZipFile(BytesIO(small)) as src:
        for info in src.infolist():
            if info.filename not in bodies:
                members.append((info, [deflate([src.read(info.filename)],
                                               OTHER_COMPRESSLEVEL, last=True)]))
                continue
            head, body, tail = bodies[info.filename]
            body = segments.get(info.filename) or [job.result() for job in body]
            members.append((info, [deflate([head], OTHER_COMPRESSLEVEL), *body,
                                   deflate([tail], OTHER_COMPRESSLEVEL, last=True)]))
    return _zip_pieces(members)


# --------------------------------------------------------------------------- compression

#: the zlib-compatible module data-sheet rows are compressed with: ISA-L's (package isal)
#: when installed — the same deflate format, on a 165 MB agg_sales part 5× faster than
#: zlib at level 1 and 10 % smaller — else zlib
try:
    from isal import isal_zlib as _data_zlib
except ImportError:
    _data_zlib = zlib


@dataclass
class Deflated:
    """Bytes of a zip member compressed on their own as raw deflate. A segment that is not
    the member's last ends on a byte boundary without the final-block flag (a sync flush),
    so segments compressed apart — at another time, in another thread — join into one
    valid deflate stream (as pigz does); their CRCs combine (:func:`_crc32_combine`)."""

    pieces: list[bytes]
    crc: int  # CRC-32 of the uncompressed bytes
    size: int  # number of uncompressed bytes


def deflate(chunks, level: int, lib=zlib, *, last: bool = False) -> Deflated:
    """The chunks (an iterable of bytes) compressed as one segment."""
    compressor = lib.compressobj(level, lib.DEFLATED, -15)
    pieces, crc, size = [], 0, 0
    for chunk in chunks:
        crc = lib.crc32(chunk, crc)
        size += len(chunk)
        out = compressor.compress(chunk)
        if out:
            pieces.append(out)
    pieces.append(compressor.flush(lib.Z_FINISH if last else lib.Z_SYNC_FLUSH))
    return Deflated(pieces, crc, size)


def deflate_in_thread(chunks: Iterator[bytes], level: int, lib=zlib) -> Deflated:
    """:func:`deflate` with the chunks built in this thread while another compresses the
    ones before (compression releases the GIL: it runs on a second core)."""
    q: queue.Queue = queue.Queue(maxsize=4)
    result: list = []

    def consume():
        try:
            result.append(deflate(iter(q.get, None), level, lib))
        except BaseException as exc:
            result.append(exc)
            while q.get() is not None:
                pass

    worker = threading.Thread(target=consume, daemon=True)
    worker.start()
    try:
        for chunk in chunks:
            if result:  # the compressor failed
                break
            q.put(chunk)
    finally:
        q.put(None)
        worker.join()
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]


#: cells per background job compressing a data sheet's rows (a job's rows make one
#: segment; a save runs the jobs not yet started itself, beside the background thread)
JOB_CELLS = 1 << 19


def deflate_rows_later(enc: Encoded) -> list[Job]:
    """A table body's rows (:func:`render_rows`) compressed by background jobs, in
    segments of rows, so that by the time the workbook is saved the work is done or
    shared between two cores."""
    step = max(1, JOB_CELLS // max(1, len(enc.letters)) // ROWS_PER_CHUNK) * ROWS_PER_CHUNK
    return [Job(lambda a=a: deflate_in_thread(render_rows(enc, a, a + step),
                                              DATA_COMPRESSLEVEL, _data_zlib))
            for a in range(0, enc.rows, step)]


def prepare_later(enc: Encoded) -> Job:
    """The table's cell pieces (:meth:`Encoded.layout`) made by a background job."""
    return Job(enc.layout)


class Job:
    """``fn()`` run once: by the background thread of the process (jobs in order), or by
    the first caller of :meth:`result` if the thread has not started it yet."""

    def __init__(self, fn) -> None:
        self._fn = fn
        self._claim = threading.Lock()
        self._done = threading.Event()
        self._outcome: tuple[bool, object] = (False, None)
        self.cancelled = False
        _background_jobs().put(self)

    def run(self) -> None:
        """Run the job here unless it was cancelled or someone else runs or ran it."""
        if not self._claim.acquire(blocking=False):
            return
        try:
            if not self.cancelled:
                self._outcome = (True, self._fn())
        except BaseException as exc:
            self._outcome = (False, exc)
        finally:
            self._fn = None
            self._done.set()

    def result(self):
        """The job's result (run here if not started; its exception raised here)."""
        self.run()
        self._done.wait()
        ok, value = self._outcome
        if not ok:
            raise value if value is not None else SopError("a cancelled job's result")
        return value

    def cancel(self) -> None:
        """Do not run the job if it has not started (its result is no longer wanted)."""
        self.cancelled = True


_background: tuple[int, queue.SimpleQueue] | None = None  # (process id, jobs)
_background_lock = threading.Lock()


def _background_jobs() -> queue.SimpleQueue:
    """The queue of the process's background thread (started when first needed)."""
    global _background
    with _background_lock:
        if _background is None or _background[0] != os.getpid():  # none yet, or forked
            _background = (os.getpid(), queue.SimpleQueue())
            threading.Thread(target=_run_jobs, args=(_background[1],), daemon=True,
                             name="sop-workbook-deflate").start()
        return _background[1]


def _run_jobs(jobs: queue.SimpleQueue) -> None:
    while True:
        jobs.get().run()


def _crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of A + B from crc1 = CRC-32 of A, crc2 = CRC-32 of B and len2 = len(B).
    Appending a zero byte multiplies the CRC register by a constant 32×32 matrix over
    GF(2); appending len2 zero bytes, by the product of the matrices for the powers of two
    that sum to len2 (as zlib's crc32_combine does)."""
    k = 0
    while len2:
        if len2 & 1:
            crc1 = _gf2_times(_zero_bytes_operator(k), crc1)
        len2 >>= 1
        k += 1
    return crc1 ^ crc2


_ZERO_OPERATORS: list[list[int]] = []


def _zero_bytes_operator(k: int) -> list[int]:
    """The matrix (32 columns as ints) that appends 2**k zero bytes to a CRC-32 register."""
    if not _ZERO_OPERATORS:
        one_bit = [0xEDB88320] + [1 << n for n in range(31)]  # reflected polynomial, shift
        op = one_bit
        for _ in range(3):  # 2, 4, 8 zero bits: one zero byte
            op = _gf2_square(op)
        ops = [op]
        for _ in range(63):
            ops.append(_gf2_square(ops[-1]))
        _ZERO_OPERATORS[:] = ops
    return _ZERO_OPERATORS[k]


def _gf2_times(matrix: list[int], vector: int) -> int:
    total, i = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[i]
        vector >>= 1
        i += 1
    return total


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, row) for row in matrix]


def _zip_pieces(members: list[tuple[zipfile.ZipInfo, list[Deflated]]]) -> list:
    """A zip file of deflated members, as the pieces of bytes that make it up in order
    (written one after the other, never joined in memory): name, date and attributes from
    each ZipInfo, the content its segments in order (no zip64: a workbook this module
    reopens is far below 4 GiB, see io.MAX_UNCOMPRESSED)."""
    out: list[bytes] = []
    directory: list[bytes] = []
    offset = 0
    for info, segments in members:
        crc, size = segments[0].crc, segments[0].size
        for seg in segments[1:]:
            crc = _crc32_combine(crc, seg.crc, seg.size)
            size += seg.size
        pieces = [p for seg in segments for p in seg.pieces]
        packed = sum(map(len, pieces))
        name = info.filename.encode("utf-8")
        flags = 0 if name.isascii() else 0x800  # bit 11: the name is UTF-8
        y, mo, d, h, mi, sec = info.date_time
        dos_time, dos_date = h << 11 | mi << 5 | sec // 2, max(y - 1980, 0) << 9 | mo << 5 | d
        fields = (flags, zipfile.ZIP_DEFLATED, dos_time, dos_date, crc, packed, size,
                  len(name))
        header = struct.pack("<4s5H3LHH", b"PK\x03\x04", 20, *fields, 0) + name
        directory.append(struct.pack("<4s4B4H3L5H2L", b"PK\x01\x02", 20, 3, 20, 0, *fields,
                                     0, 0, 0, 0, info.external_attr, offset) + name)
        out.append(header)
        out.extend(pieces)
        offset += len(header) + packed
        if max(size, offset) >= 0xFFFFFFFF:
            raise SopError(f"the workbook would be larger than 4 GiB ({info.filename})",
                           "The workbook was not changed.")
    listing = b"".join(directory)
    out.append(listing)
    out.append(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(directory), len(directory),
                           len(listing), offset, 0))
    return out


# --------------------------------------------------------------------------- mixed sheets


@dataclass
class StreamedTable:
    """A big table written through ``write_table`` on a sheet with other content: its
    header stays in openpyxl, its body rows are streamed into the sheet XML at save and
    merged row by row with the cells openpyxl wrote (:func:`merge_sheet_data`)."""

    name: str
    title: str  # the sheet
    min_col: int
    max_col: int
    header_row: int
    encoded: Encoded
    written: pd.DataFrame
    columns: list[str]
    styles: dict[int, object]  # column → StyleArray of the first body row
    values: list | None = None  # the rows as cell values (recalculation, read_table)

    @property
    def first_row(self) -> int:
        return self.header_row + 1

    @property
    def last_row(self) -> int:
        return self.header_row + max(self.encoded.n, 1)

    def holds(self, r: int, c: int) -> bool:
        return self.first_row <= r <= self.last_row and self.min_col <= c <= self.max_col

    def layout(self) -> _Layout:
        return self.encoded.layout()


_ROW_CELL = re.compile(r"<c\b[^>]*?(?:/>|>.*?</c>)", re.S)
_CELL_COL = re.compile(r'\sr="([A-Z]{1,3})\d+"')


def _split_row(row_xml: str) -> tuple[str, list[tuple[int, str]]]:
    """openpyxl's <row> element → (its opening tag without spans, [(column, cell XML)])."""
    m = re.match(r"<row\b[^>]*?(/?)>", row_xml)
    tag = m.group(0)
    if m.group(1):
        tag = tag[:-2].rstrip() + ">"
    tag = re.sub(r'\sspans="[^"]*"', "", tag)
    cells = []
    for c in _ROW_CELL.finditer(row_xml, m.end()):
        col = _CELL_COL.search(c.group(0))
        cells.append((_col_number(col.group(1)) if col else 0, c.group(0)))
    return tag, cells


def merge_sheet_data(xml: bytes, tables: list[StreamedTable]
                     ) -> tuple[bytes, Iterator[bytes], bytes]:
    """openpyxl's worksheet XML with the bodies of ``tables`` merged in: (head, chunks of
    rows, tail) for :func:`write_package`. Rows openpyxl wrote keep their attributes
    (height, hidden, outline level); within a row the cells are in column order; the
    ``<dimension>`` covers the streamed rows."""
    bounds = _sheetdata_bounds(xml)
    if bounds is None:
        raise SopError("the worksheet written for a streamed table has no <sheetData>")
    start, end, _ = bounds
    lo = min(t.first_row for t in tables)
    hi = max(t.last_row for t in tables)
    before, inside, after = [], {}, []
    for m in _ROW.finditer(xml, start, end):
        n = _row_number(m.group(0))
        if n is None:
            raise SopError("a row without a number in the worksheet written by openpyxl")
        if n < lo:
            before.append(m.group(0))
        elif n > hi:
            after.append(m.group(0))
        else:
            inside[n] = m.group(0)
    head = xml[:start]
    if head.endswith(b"/>"):  # <sheetData/>
        head = head[:-2] + b">"
        tail_data = b"</sheetData>" + xml[end:]
    else:
        tail_data = xml[end:]
    head = _widen_dimension(head, tables)
    head += b"".join(before)
    tail = b"".join(after) + tail_data
    ordered = sorted(tables, key=lambda t: t.min_col)
    if len(ordered) == 1 and not inside and hasattr(ordered[0], "raw_rows"):
        return head, ordered[0].raw_rows(), tail  # a kept table alone in its rows
    stacked = sorted(tables, key=lambda t: t.first_row)
    if not inside and any(hasattr(t, "raw_rows") for t in stacked) and all(
            a.last_row < b.first_row for a, b in itertools.pairwise(stacked)):
        # bodies one below the other, alone in their rows (a kept table and the rows
        # appended to it): each as it comes, the kept one copied as it was
        return head, _stacked_rows(stacked), tail
    return head, _merged_rows(ordered, inside, lo, hi), tail


def _stacked_rows(tables: list) -> Iterator[bytes]:
    for t in tables:
        if hasattr(t, "raw_rows"):
            yield from t.raw_rows()
        else:
            yield from _merged_rows([t], {}, t.first_row, t.last_row)


def _widen_dimension(head: bytes, tables: list[StreamedTable]) -> bytes:
    m = re.search(rb'<dimension\s+ref="([^"]*)"\s*/>', head)
    bounds = [(t.min_col, t.header_row, t.max_col, t.last_row) for t in tables]
    if m is not None:
        try:
            b = range_boundaries(m.group(1).decode())
            if None not in b:
                bounds.append(b)
        except (ValueError, TypeError):
            pass
    ref = (f"{get_column_letter(min(b[0] for b in bounds))}{min(b[1] for b in bounds)}:"
           f"{get_column_letter(max(b[2] for b in bounds))}{max(b[3] for b in bounds)}")
    new = f'<dimension ref="{ref}"/>'.encode()
    if m is None:
        return head
    return head[:m.start()] + new + head[m.end():]


def _merged_rows(tables: list[StreamedTable], inside: dict[int, bytes], lo: int, hi: int
                 ) -> Iterator[bytes]:
    layouts = [t.layout() for t in tables]
    for a in range(lo, hi + 1, ROWS_PER_CHUNK):
        yield _rows_xml(a, min(hi + 1, a + ROWS_PER_CHUNK), layouts, inside)


# --------------------------------------------------------------------------- vectorised


#: bytes of XML per block of whole rows the vectorised parser works on (bounds memory)
PARSE_BLOCK = 8 << 20
_KIND_NUM, _KIND_TEXT, _KIND_EMPTY, _KIND_OTHER = 0, 1, 2, 3


def _parse_vectorised(xml, min_col, max_col, min_row, max_row, date_styles,
                      shared_strings, epoch, width, wanted=None) -> list[np.ndarray]:
    """:func:`_parse_fast`'s result without a Python object per cell: the cells' markup is
    located with numpy over the bytes, block by block of rows; only text values (per
    distinct value) and rare kinds (booleans, errors, shared strings) become objects.
    Anything outside the regular shape raises _Irregular."""
    n_rows = max_row - min_row
    bounds = _sheetdata_bounds(xml)
    if bounds is None:
        raise _Irregular
    start, end, _ = bounds
    per_col: list[list[dict]] = [[] for _ in range(width)]
    pos = start
    view = memoryview(xml)
    dates = np.array(sorted(date_styles), dtype=np.int64)
    while pos < end:
        stop = xml.find(b"</row>", min(end, pos + PARSE_BLOCK))
        stop = end if stop < 0 or stop >= end else stop + len(b"</row>")
        block = _block_cells(xml, view, pos, stop, min_col, min_row, n_rows, width, wanted)
        _by_column(block, per_col, width, dates)
        pos = stop
    del view
    out = []
    for col in range(width):
        pieces = per_col[col]
        if not pieces:
            out.append(np.full(n_rows, None, dtype=object))
            continue
        ic, kc, dc, fc, vc, nc = (np.concatenate([p[k] for p in pieces])
                                  for k in ("i", "kind", "dated", "fv", "iv", "isint"))
        texts = np.concatenate([p["texts"] for p in pieces])
        others = [o for p in pieces for o in p["others"]]
        del pieces
        num = (kc == _KIND_NUM) & ~dc
        if not ((kc == _KIND_TEXT) | (kc == _KIND_OTHER) | dc).any():
            rows = ic[num]
            if not len(rows):
                out.append(np.full(n_rows, None, dtype=object))
                continue
            if nc[num].all():
                if len(rows) == n_rows:
                    column = np.zeros(n_rows, dtype=np.int64)
                    column[rows] = vc[num]
                else:
                    column = np.full(n_rows, np.nan)
                    column[rows] = vc[num]
            else:
                column = np.full(n_rows, np.nan)
                column[rows] = fc[num]
            if np.isnan(column).all() if column.dtype == np.float64 else False:
                column = np.full(n_rows, None, dtype=object)
            out.append(column)
            continue
        column = np.full(n_rows, None, dtype=object)
        if num.any():
            column[ic[num]] = _python_numbers(fc[num], vc[num], nc[num])
        sel = kc == _KIND_TEXT
        if sel.any():
            column[ic[sel]] = _decode_many(texts)
        if dc.any():
            column[ic[dc]] = _convert_many(
                _python_numbers(fc[dc], vc[dc], nc[dc]), lambda v: from_excel(v, epoch))
        for r, t, raw in others:
            column[r] = _other_value(t, raw, shared_strings)
        out.append(column)
    return out


def _by_column(block: dict, per_col: list[list[dict]], width: int, dates) -> None:
    """Split a block's body cells by column (appending to ``per_col``)."""
    body = block["i"] >= 0
    fields = {k: block[k][body] for k in ("i", "j", "kind", "fv", "iv", "isint", "style")}
    text_of = np.full(len(body), -1, dtype=np.int64)
    text_of[block["kind"] == _KIND_TEXT] = np.arange(len(block["texts"]))
    text_of = text_of[body]
    other_of = np.full(len(body), -1, dtype=np.int64)
    other_of[block["kind"] == _KIND_OTHER] = np.arange(len(block["others"]))
    other_of = other_of[body]
    order = np.argsort(fields["j"].astype(np.int16), kind="stable")
    fields = {k: v[order] for k, v in fields.items()}
    text_of, other_of = text_of[order], other_of[order]
    texts = _objects(tuple(block["texts"])) if block["texts"] else np.empty(0, dtype=object)
    dated = (np.isin(fields["style"], dates) & (fields["kind"] == _KIND_NUM)) if len(dates) \
        else np.zeros(len(order), dtype=bool)
    cuts = np.searchsorted(fields["j"], np.arange(width + 1))
    for col in range(width):
        a, b = cuts[col], cuts[col + 1]
        if a == b:
            continue
        kc = fields["kind"][a:b]
        t_idx = text_of[a:b][kc == _KIND_TEXT]
        o_idx = np.flatnonzero(kc == _KIND_OTHER)
        per_col[col].append({
            "i": fields["i"][a:b], "kind": kc, "dated": dated[a:b], "fv": fields["fv"][a:b],
            "iv": fields["iv"][a:b], "isint": fields["isint"][a:b], "texts": texts[t_idx],
            "others": [(int(fields["i"][a + k]), *block["others"][other_of[a + k]])
                       for k in o_idx]})


def _python_numbers(fv, iv, isint) -> np.ndarray:
    out = np.empty(len(fv), dtype=object)
    out[:] = fv.tolist()
    if isint.any():
        ints = np.empty(int(isint.sum()), dtype=object)
        ints[:] = iv[isint].tolist()
        out[isint] = ints
    return out


def _digits(a: np.ndarray, pos: np.ndarray, most: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """The unsigned integers written at ``pos`` (up to ``most`` digits) and where each
    ends."""
    value = np.zeros(len(pos), dtype=np.int64)
    done = np.zeros(len(pos), dtype=bool)
    stop = pos.copy()
    for k in range(most + 1):
        ch = a[np.minimum(pos + k, len(a) - 1)].astype(np.int64)
        digit = (ch >= 48) & (ch <= 57) & ~done
        if k == most and digit.any():
            raise _Irregular
        value = np.where(digit, value * 10 + ch - 48, value)
        ending = ~digit & ~done
        stop[ending] = pos[ending] + k
        done |= ending
        if done.all():
            break
    if not done.all():
        raise _Irregular
    return value, stop


def _block_cells(xml, view, lo, hi, min_col, min_row, n_rows, width, wanted=None) -> dict:
    a = np.frombuffer(view[lo:hi], dtype=np.uint8)
    n = len(a)
    if n < 3:
        raise _Irregular
    lt = np.flatnonzero(a[:-2] == 60)
    nx, nx2 = a[lt + 1], a[lt + 2]
    cs = lt[(nx == 99) & (nx2 == 32)]  # <c
    if ((nx == 99) & (nx2 != 32) & (nx2 != 111)).any() or (nx == 102).any() \
            or ((nx == 116) & (nx2 == 47)).any() or ((nx == 114) & (nx2 == 105)).any():
        raise _Irregular  # <c> or <col…>, a formula <f, an empty <t/>, rich text <r>
    rp = lt[(nx == 114) & (nx2 == 111)]  # <row
    vs = lt[(nx == 118) & (nx2 == 62)] + 3  # after <v>
    ve = lt[(nx == 47) & (nx2 == 118)]  # </v
    ts = lt[(nx == 116) & ((nx2 == 62) | (nx2 == 32))]  # <t> or <t xml:space=…>
    te = lt[(nx == 47) & (nx2 == 116)]  # </t
    del lt, nx, nx2
    if len(vs) != len(ve) or len(ts) != len(te) or (len(cs) and not len(rp)):
        raise _Irregular
    if len(cs) and (not (a[cs + 3] == 114).all() or not (a[cs + 4] == 61).all()
                    or not (a[cs + 5] == 34).all()):
        raise _Irregular  # r="…" must come first
    # column letters
    c1 = a[cs + 6].astype(np.int64)
    c2 = a[np.minimum(cs + 7, n - 1)].astype(np.int64)
    c3 = a[np.minimum(cs + 8, n - 1)].astype(np.int64)
    is2 = (c2 >= 65) & (c2 <= 90)
    is3 = is2 & (c3 >= 65) & (c3 <= 90)
    if not ((c1 >= 65) & (c1 <= 90)).all():
        raise _Irregular
    col = c1 - 64
    col = np.where(is2, col * 26 + c2 - 64, col)
    col = np.where(is3, col * 26 + c3 - 64, col)
    letters = 1 + is2.astype(np.int64) + is3.astype(np.int64)
    cell_row, r_end = _digits(a, cs + 6 + letters)
    # rows: each cell must lie in the last <row> before it, with the same number
    if len(rp):
        if not ((a[rp + 4] == 32) & (a[rp + 5] == 114) & (a[rp + 6] == 61)
                & (a[rp + 7] == 34)).all():
            raise _Irregular
        row_no, _ = _digits(a, rp + 8)
        owner = np.searchsorted(rp, cs, side="right") - 1
        if (owner < 0).any() or (row_no[owner] != cell_row).any():
            raise _Irregular
    i = cell_row - min_row - 1
    j = col - min_col
    if ((i < -1) | (i >= n_rows) | (j < 0) | (j >= width)).any():
        raise _Irregular
    kind = np.full(len(cs), _KIND_EMPTY, dtype=np.int8)
    # the attributes after r="…": s="…" then t="…" (each optional), then > or />
    if len(cs) and not (a[r_end] == 34).all():
        raise _Irregular
    p = r_end + 1
    style = np.zeros(len(cs), dtype=np.int64)
    has_s = (a[p] == 32) & (a[np.minimum(p + 1, n - 1)] == 115) \
        & (a[np.minimum(p + 2, n - 1)] == 61)
    if has_s.any():
        values, s_end = _digits(a, p[has_s] + 4)
        if not (a[s_end] == 34).all():
            raise _Irregular
        style[has_s] = values
        p = p.copy()
        p[has_s] = s_end + 1
    has_t = (a[p] == 32) & (a[np.minimum(p + 1, n - 1)] == 116) \
        & (a[np.minimum(p + 2, n - 1)] == 61)
    k = np.flatnonzero(has_t)
    q = p[has_t] + 1  # at t="
    if len(q):
        t_end = a[np.minimum(q[:, None] + 3 + np.arange(10)[None, :], n - 1)] == 34
        if not t_end.any(axis=1).all():
            raise _Irregular
        p = p.copy()
        p[has_t] = q + 3 + t_end.argmax(axis=1) + 1
    closing = a[np.minimum(p, n - 1)]
    if len(cs) and not ((closing == 62) | ((closing == 47)
                                           & (a[np.minimum(p + 1, n - 1)] == 62))).all():
        raise _Irregular  # another attribute, or another order
    t_first = a[q + 3]
    is_inline = (t_first == 105) & (a[q + 4] == 110)  # inlineStr
    is_plain_n = (t_first == 110) & (a[q + 4] == 34)  # t="n"
    typed = np.zeros(len(cs), dtype=bool)
    typed[k[~is_plain_n]] = True
    inline = np.zeros(len(cs), dtype=bool)
    inline[k[is_inline]] = True
    # values
    kv = np.searchsorted(cs, vs, side="right") - 1
    kt = np.searchsorted(cs, ts, side="right") - 1
    if (kv < 0).any() or (kt < 0).any() or (np.diff(kv) <= 0).any() \
            or (np.diff(kt) <= 0).any():  # one value per cell at most
        raise _Irregular
    if inline[kv].any() or not inline[kt].all() or inline.sum() != len(kt):
        raise _Irregular  # an inline string holds one <t>, nothing else a <t>
    kind[kv] = np.where(typed[kv], _KIND_OTHER, _KIND_NUM)
    kind[kt] = _KIND_TEXT
    if wanted is not None:  # the cells of the other columns: checked above, not converted
        skip = ~np.isin(j, wanted)
        kind[skip] = _KIND_EMPTY
        i = np.where(skip, -1, i)
        ts, te = ts[~skip[kt]], te[~skip[kt]]
    # numbers: parsed from fixed-width byte strings
    num = kind[kv] == _KIND_NUM
    nv_s, nv_e = vs[num], ve[num]
    lengths = nv_e - nv_s
    fv = np.full(len(cs), np.nan)
    iv = np.zeros(len(cs), dtype=np.int64)
    isint = np.zeros(len(cs), dtype=bool)
    if len(nv_s):
        if (lengths <= 0).any() or lengths.max() > 40:
            raise _Irregular
        w = int(lengths.max())
        idx = nv_s[:, None] + np.arange(w)[None, :]
        grid = a[np.minimum(idx, n - 1)]
        grid = np.where(np.arange(w)[None, :] < lengths[:, None], grid, 0).astype(np.uint8)
        fixed = np.ascontiguousarray(grid).view(f"S{w}").ravel()
        special = ((grid > 57) | (grid == 46)).any(axis=1)  # a point, e, nan, inf
        cells = kv[num]
        try:
            whole = ~special
            if special.any():
                fv[cells[special]] = fixed[special].astype(np.float64)
            if whole.any():
                ints = fixed[whole].astype(np.int64)
                iv[cells[whole]] = ints
                fv[cells[whole]] = ints
        except (ValueError, OverflowError):
            raise _Irregular from None
        isint[cells[~special]] = True
    others = []
    for c in np.flatnonzero(kind == _KIND_OTHER):
        m = int(np.searchsorted(kv, c))
        t0 = lo + int(q[np.searchsorted(k, c)]) + 3
        kind_name = xml[t0:xml.find(b'"', t0, lo + hi)]
        others.append((kind_name, xml[lo + int(vs[m]):lo + int(ve[m])]))
    # texts: after the > of the <t …> tag, up to </t>
    plain = a[ts + 2] == 62  # <t>, else <t xml:space="preserve">
    t_start = np.where(plain, ts + 3, ts + len(b'<t xml:space="preserve">'))
    if not (plain | (a[np.minimum(t_start - 1, n - 1)] == 62)).all():
        raise _Irregular
    texts = [xml[lo + s:lo + e] for s, e in zip(t_start.tolist(), te.tolist(), strict=True)]
    return {"i": i, "j": j, "kind": kind, "fv": fv, "iv": iv, "isint": isint,
            "style": style, "texts": texts, "others": others}
