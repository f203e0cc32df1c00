"""Fast reading of the workbook's data sheets (one Excel table each, nothing else).

openpyxl builds a Python object per cell, which makes a 200,000-row aggregate table cost
a minute to load. The headless adapter therefore never lets openpyxl see the rows of a
*data sheet* — a worksheet whose only relationship is one table part, with no formula,
merged cell or other content outside the table (decided by inspecting the sheet's XML, see
:func:`open_package`): on open, the sheet's ``<sheetData>`` is cut down to the table's
header row and first data row (whose cells carry the columns' styles) before openpyxl
loads the package; the original rows stay in the file's bytes and are parsed only when
asked for (:func:`parse_rows`: one regular expression over the part for the regular shape
that Excel, openpyxl and :mod:`.datasheet_writer` write; openpyxl's own cell parser for
anything else). A data sheet that was not changed and holds no shared-string cells is
copied through byte for byte at save (:func:`original_rows`).

A big data sheet (:data:`SKETCH_MIN_BYTES`) is not even inflated whole on open: its rows
below the first data row are dropped as they are inflated (:func:`_sketch`), or, in a file
this product saved (whose worksheet parts are compressed in segments), not inflated at all:
what follows them is inflated on its own (:func:`_tail_alone`) — Refresh replaces them,
any other command reads them again from the file when it asks (the whole member, its CRC
checked: a sketch that skipped the rows did not check it). They are
therefore not looked at on open: whether they hold shared-string cells is looked for when
first asked (:attr:`DataSheet.has_shared_strings`), and a formula typed into them (not in
the header or first data row, which are checked) is read as its text and kept as it is.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from io import BytesIO
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import range_boundaries
from openpyxl.utils.datetime import from_excel

from ..errors import SopError
from . import datasheet_xml
from .datasheet_xml import (
    _ROW,
    _TABLE_REL,
    _attr,
    _col_number,
    _digits,
    _Irregular,
    _rels,
    _row_number,
    _sheetdata_bounds,
    _unescape,
    _worksheets,
    member_span,
    read_member,
    sheet_xml,
)
from .deflate_segments import SYNC_MARKER, SegmentMap, inflated_pieces

if TYPE_CHECKING:
    from .datasheet_writer import Job

_FORMULA = re.compile(rb"<f[\s>/]")
_SHARED_CELL = re.compile(rb't="s"')
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
    #: cells of type "s" (refer to the file's sharedStrings); None: not looked for yet
    #: (the rows of a big sheet are not scanned on open: :attr:`has_shared_strings`)
    shared: bool | None
    first_data_row: int  # header row + 1
    frame: pd.DataFrame | None = None  # the rows as parsed from the file
    dirty: bool = False  # written through write_table since open
    styles: dict[int, object] = field(default_factory=dict)  # column → StyleArray
    written: pd.DataFrame | None = None  # the frame given to write_table
    values: list | None = None  # the rows as cell values (for recalculation)
    deflated: list[Job] | None = None  # ... rendered and compressed (segments, see Job)
    source: bytes | None = field(default=None, repr=False)  # the file, while not looked

    @property
    def has_shared_strings(self) -> bool:
        """Whether the sheet's cells in the file refer to its sharedStrings (looked for in
        the part, inflated piece by piece, its size and CRC checked, when first asked)."""
        if self.shared is None:
            self.shared = self.source is not None and _part_holds(
                self.source, self.part, _SHARED_CELL, self.title)
            self.source = None
        return self.shared


@dataclass
class Package:
    """The file's bytes with every data sheet cut down to its header (for openpyxl)."""

    stub: bytes
    sheets: dict[str, DataSheet]  # by sheet title
    source: bytes  # the original file
    #: big tables of the other sheets, cut out of the stub (kept.KeptTable, by table name)
    kept: dict = field(default_factory=dict)
    #: the parts holding kept tables that are made of self-contained segments
    #: (deflate_segments.SegmentMap, by part): a save copies the unchanged ones
    segments: dict = field(default_factory=dict)


def _inspect(z: zipfile.ZipFile, names: set[str], title: str, part: str,
             xml: bytes, sketch: _Sketch | None = None) -> DataSheet | None:
    """A DataSheet if the worksheet holds one table and nothing else, else None;
    ``sketch``: ``xml`` is the part without its rows below the first data row
    (:func:`_sketch`), which are not looked at (a formula in them is not seen; whether
    they hold shared strings is looked for when asked)."""
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
    if dim is None or (sketch is not None and dim.start() >= sketch.head):
        return None  # (a dimension only after the rows: the part is read whole)
    try:
        d = range_boundaries(dim.group(1).decode())
    except (ValueError, TypeError):
        return None
    if None in d or d[0] < min_col or d[2] > max_col or d[1] < min_row:
        return None  # cells outside the table's columns or above its header
    shared = _SHARED_CELL.search(xml) is not None
    return DataSheet(title, part, rels[0][2], ref, None if sketch and not shared else shared,
                     min_row + 1)


def holds_shared_strings(xml: bytes) -> bool:
    """Whether a worksheet's XML holds a shared-string cell (``t="s"``)."""
    return _SHARED_CELL.search(xml) is not None


def _table_bounds(z: zipfile.ZipFile, names: set[str], part: str) -> tuple | None:
    """(min_col, header row, max_col, last row) of the one table of a worksheet (None if
    it has not one table)."""
    rels = _rels(z, part, names)
    if len(rels) != 1 or rels[0][1] != _TABLE_REL or rels[0][2] not in names:
        return None
    head = re.search(rb"<(?:\w+:)?table\b[^>]*>", z.read(rels[0][2]))
    ref = None if head is None else _attr(head.group(0), b"ref")
    try:
        bounds = range_boundaries(ref) if ref else None
    except (ValueError, TypeError):
        return None
    return None if bounds is None or None in bounds else bounds


def _head_fits(head: bytes, bounds: tuple) -> bool:
    """Whether a worksheet's start (up to its rows below the first data row) passes what
    :func:`_inspect` checks there: an unprefixed worksheet whose dimension lies in the
    table's columns, not above its header."""
    root = re.search(rb"<(\w+:)?worksheet\b", head)
    dim = re.search(rb'<dimension\s+ref="([^"]*)"', head)
    if root is None or root.group(1) or dim is None:
        return False
    try:
        d = range_boundaries(dim.group(1).decode())
    except (ValueError, TypeError):
        return False
    return None not in d and d[0] >= bounds[0] and d[2] <= bounds[2] and d[1] >= bounds[1]


@dataclass
class _Sketch:
    """A worksheet part without its rows below the first data row: what :func:`_inspect`
    and :func:`_stub` read of a big data sheet."""

    xml: bytes  # the part up to the first row past the first data row, then from its
    #: last </sheetData> on
    head: int  # where the rows left out were


#: A stage sheet's part at least this big is looked at for self-contained segments on
#: open (:class:`~.deflate_segments.SegmentMap`: its kept tables' rows are copied
#: compressed at save).
SEGMENTED_MIN_BYTES = 1 << 20
#: A data sheet's part at least this big is not inflated whole on open (:func:`_sketch`).
SKETCH_MIN_BYTES = 4 << 20
_PIECE = 4 << 20
_ROW_NUMBER = re.compile(rb'<row\b[^>]*?\br="(\d+)"')
_SHEETDATA = re.compile(rb"<sheetData\s*(/?)>")


def _inflating(data: bytes, info: zipfile.ZipInfo) -> Iterator[bytes] | None:
    """A deflated member's bytes, inflated piece by piece (its size and CRC checked at the
    end: a :class:`_Irregular` if they do not match); None if it is not a plain deflated
    member."""
    span = member_span(data, info)
    if span is None:
        return None
    deflated = memoryview(data)[span[0]:span[1]]

    def pieces():
        inflater = datasheet_xml._data_zlib.decompressobj(-15)
        crc = size = 0
        for out in inflated_pieces(inflater, deflated, 0, len(deflated), _PIECE):
            crc = datasheet_xml._data_zlib.crc32(out, crc)
            size += len(out)
            if size > info.file_size:
                raise _Irregular
            yield out
        if size != info.file_size or crc != info.CRC:
            raise _Irregular

    return pieces()


def _part_holds(data: bytes, part: str, pattern: re.Pattern, title: str | None = None
                ) -> bool:
    """Whether the member ``part`` (of sheet ``title``) of the zip ``data`` holds
    ``pattern`` (at most 16 bytes long), inflated piece by piece."""
    with zipfile.ZipFile(BytesIO(data)) as z:
        info = z.getinfo(part)
        pieces = _inflating(data, info)
        if pieces is None:
            return pattern.search(datasheet_xml.read_checked(z, part, title)) is not None
    carry = b""
    try:
        for out in pieces:
            if pattern.search(carry + out[:16]) or pattern.search(out):
                return True
            carry = out[-16:]
    except _Irregular:
        with zipfile.ZipFile(BytesIO(data)) as z:  # zipfile reports what is wrong
            return pattern.search(datasheet_xml.read_checked(z, part, title)) is not None
    return False


def _sketch(data: bytes, info: zipfile.ZipInfo, bounds: tuple) -> _Sketch | None:
    """The part of a data sheet whose table lies at ``bounds`` as a :class:`_Sketch`: its
    start is inflated piece by piece up to the first row numbered past the first data row
    (the cut); what follows the rows (from the last ``</sheetData>``) is then inflated on
    its own when the part was compressed in segments as this product saves it
    (:func:`_tail_alone`: the rows in between are not inflated at all), else the rows are
    inflated and dropped as they come, the member's size and CRC checked at its end.
    None when the part is not a plain deflated member (whose size and CRC check out, when
    inflated whole), or when its start is not a data sheet's (:func:`_head_fits`): then it
    is read whole.

    When the tail is inflated on its own, the member's CRC is not verified here: that is
    safe because the rows left out are never used from this sketch — whoever needs them
    reads the whole member again, its CRC checked (:attr:`DataSheet.has_shared_strings`,
    :func:`original_rows`, the headless adapter's ``_frame``), and Refresh replaces them."""
    pieces = _inflating(data, info)
    if pieces is None:
        return None
    try:
        joined, cut = _inflate_to_cut(pieces, bounds[1] + 1)
    except _Irregular:
        return None
    if cut is None:  # no row past the first data row: the part is all head (and checked)
        return _Sketch(joined, len(joined))
    head = joined[:cut]
    if not _head_fits(head, bounds):
        return None
    tail = _tail_alone(data, info, len(joined))
    if tail is not None:
        pieces.close()
        return _Sketch(head + tail, cut)
    # the rows inflated and dropped as they come; what follows them is, from the last
    # </sheetData>, in the last two pieces (else the part is read whole)
    last = [joined[cut:]]
    del joined
    try:
        for out in pieces:
            last = [*last[-1:], out]
    except _Irregular:
        return None
    window = b"".join(last)
    end = window.rfind(b"</sheetData>")
    if end < 0:
        return None
    return _Sketch(head + window[end:], cut)


def _inflate_to_cut(pieces: Iterator[bytes], first_data_row: int) -> tuple[bytes, int | None]:
    """A worksheet part inflated from its start until the first row numbered past
    ``first_data_row`` is seen: (what was inflated, where that row begins in it), or (the
    whole part, None) when there is no such row."""
    joined = b""
    for out in pieces:
        joined += out
        m = _SHEETDATA.search(joined)
        if m is not None and not m.group(1):
            for row in _ROW_NUMBER.finditer(joined, m.end()):
                if int(row.group(1)) > first_data_row:
                    return joined, row.start()
    return joined, None


#: the tail of a part is looked for in this many last compressed bytes of its member
_TAIL_WINDOW = 1 << 20


def _tail_alone(data: bytes, info: zipfile.ZipInfo, inflated: int) -> bytes | None:
    """What follows the rows of a worksheet part (from its last ``</sheetData>`` on),
    inflated alone from its member's last sync flush: None unless that checks out.

    :func:`.datasheet_writer.package_pieces` compresses a worksheet in segments (head,
    rows, tail), each by a fresh compressor, every one but the last ending with a sync
    flush (``00 00 ff ff``, byte aligned). The tail segment refers to no byte before it,
    so it inflates alone. The bytes after the marker are taken as the tail only if they
    inflate without error, end exactly at the member's end (final block, nothing left
    over), give at most what is left of the declared size after the ``inflated`` bytes of
    the start, start with ``</sheetData>``, hold no second one and end with
    ``</worksheet>``; else None, and the part is inflated whole. A part compressed as one
    stream (Excel, LibreOffice) has no such marker but by chance; a chance ``00 00 ff ff``
    in compressed bytes, or a stream whose later blocks refer back past a flush, is
    followed by bytes that fail these checks (short of being made to pass them: a member
    forged to carry a second stream after its own end would have that stream's markup
    taken for the sheet's settings after its rows — the rows themselves are always read
    from the whole member, CRC checked)."""
    span = member_span(data, info)
    if span is None:
        return None
    begin, end = span
    mark = data.rfind(SYNC_MARKER, max(begin, end - _TAIL_WINDOW), end)
    if mark < 0:
        return None
    room = info.file_size - inflated
    inflater = datasheet_xml._data_zlib.decompressobj(-15)
    try:
        tail = inflater.decompress(memoryview(data)[mark + len(SYNC_MARKER):end], room + 1)
    except datasheet_xml._data_zlib.error:
        return None
    if not inflater.eof or inflater.unused_data or inflater.unconsumed_tail \
            or len(tail) > room:
        return None
    if not tail.startswith(b"</sheetData>") or tail.find(b"</sheetData>", 1) >= 0 \
            or not tail.rstrip().endswith(b"</worksheet>"):
        return None
    return tail


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
        kept_tables, segment_maps = {}, {}
        for info in z.infolist():
            body = segmap = None
            found = None
            if info.filename in candidates:
                title = candidates[info.filename]
                if info.file_size >= SKETCH_MIN_BYTES:
                    # a big data sheet's rows are not kept (nor scanned): they are read
                    # again from the file when asked for, and Refresh replaces them
                    bounds = _table_bounds(z, names, info.filename)
                    sketch = None if bounds is None else _sketch(data, info, bounds)
                    if sketch is not None:
                        found = _inspect(z, names, title, info.filename, sketch.xml, sketch)
                        if found is not None:
                            found.source = data
                            body = _stub(sketch.xml, found)
                if found is None:
                    body, segmap = _part_and_segments(data, z, info)
                    found = _inspect(z, names, title, info.filename, body)
                    if found is not None:
                        body = _stub(body, found)
                if found is not None:
                    sheets[title] = found
            if body is None:
                body, segmap = _part_and_segments(data, z, info) if info.filename in others \
                    else (read_member(data, z, info), None)
            if found is None and info.filename in others:  # big tables of a mixed sheet
                from .kept import cut_tables

                body, tables = cut_tables(z, names, others[info.filename], info.filename,
                                          body)
                kept_tables.update((t.name, t) for t in tables)
                if tables and segmap is not None:
                    segment_maps[info.filename] = segmap
            entry = zipfile.ZipInfo(info.filename, info.date_time)
            entry.external_attr = info.external_attr
            stub.writestr(entry, body, compress_type=zipfile.ZIP_STORED)
    return Package(out.getvalue(), sheets, data, kept_tables, segment_maps)


def _part_and_segments(data: bytes, z: zipfile.ZipFile, info: zipfile.ZipInfo
              ) -> tuple[bytes | bytearray, SegmentMap | None]:
    """A worksheet part inflated, and, when it is big and made of self-contained segments,
    their map (for a save to copy the segments of its kept tables' rows)."""
    if info.file_size >= SEGMENTED_MIN_BYTES:
        segmap, body = SegmentMap.of_member(data, info, keep=True)
        if body is not None:
            return body, segmap
    return read_member(data, z, info), None


def original_rows(data: bytes, sheet: DataSheet, size: int = 1 << 22) -> Iterator[bytes]:
    """The rows below the header of a data sheet in the file, unchanged, in slices."""
    xml = sheet_xml(data, sheet.part, sheet.title)
    start, end, _ = _sheetdata_bounds(xml)
    pos = _first_data_row_at(xml, start, end, sheet.first_data_row)
    pos = end if pos is None else pos
    view = memoryview(xml)
    for i in range(pos, end, size):
        yield bytes(view[i:min(end, i + size)])


def _first_data_row_at(xml: bytes, pos: int, end: int, first_data_row: int) -> int | None:
    """Where the first row numbered ``first_data_row`` or more begins in ``xml[pos:end]``
    (the rows of a sheet), or None when there is none."""
    while pos < end:
        m = _ROW.search(xml, pos, end)
        if m is None:
            return None
        n = _row_number(m.group(0))
        if n is not None and n >= first_data_row:
            return m.start()
        pos = m.end()
    return None


def original_row_pieces(data: bytes, sheet: DataSheet) -> Iterator:
    """:func:`original_rows` for a save: when the part is made of self-contained segments
    (:class:`~.deflate_segments.SegmentMap`, as this module's saves write a data sheet)
    the segments lying inside the rows are given compressed, as they are in the file, to
    be copied (nothing inflated and compressed again but what is around them); otherwise
    the rows as :func:`original_rows` gives them."""
    with zipfile.ZipFile(BytesIO(data)) as z:
        info = z.getinfo(sheet.part)
    segmap = SegmentMap.of_member(data, info)[0] if info.file_size >= SEGMENTED_MIN_BYTES \
        else None
    span = None if segmap is None else _rows_span(segmap, sheet, info.file_size)
    if span is None:
        yield from original_rows(data, sheet)
        return
    yield from segmap.pieces(*span)


def _rows_span(segmap: SegmentMap, sheet: DataSheet, size: int) -> tuple[int, int] | None:
    """Where a data sheet's rows from its first data row up to ``</sheetData>`` lie in the
    inflated part — found in the first segment (and the start of the next) and in the last
    one — or None."""
    first, last = segmap.segments[0], segmap.segments[-1]
    head = b"".join(segmap.inflate(0, min(size, first.end + (1 << 16))))
    bounds = re.search(rb"<sheetData\s*>", head)
    # (a row cut off at the end of the window is not matched: then the part is read whole)
    start = None if bounds is None else \
        _first_data_row_at(head, bounds.end(), len(head), sheet.first_data_row)
    if start is None:
        return None
    tail = b"".join(segmap.inflate(last.start, last.end))
    end = tail.rfind(b"</sheetData>")
    if end < 0 or last.start + end < start:
        return None
    return start, last.start + end


# --------------------------------------------------------------------------- reading


_CELL = re.compile(
    rb'<c r="([A-Z]{1,3})(\d+)"(?: s="(\d+)")?(?: t="([a-zA-Z]+)")?\s*'
    rb'(?:/>|></c>|><v>([^<]*)</v></c>|><is><t(?: xml:space="preserve")?>([^<]*)</t></is></c>'
    rb'|><is><t(?: xml:space="preserve")?/></is></c>)')


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


# --------------------------------------------------------------------------- vectorised


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
        stop = xml.find(b"</row>", min(end, pos + datasheet_xml.PARSE_BLOCK))
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
    texts = block["texts"]
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
    if wanted is not None:
        # only the cells of the columns asked for go on (with their values and texts),
        # checked and converted; the others are left alone (a caller asking for some
        # columns reads rows whose cells were checked before: a kept table's, on open)
        keep = np.isin(col - min_col, wanted)
        if not keep.all():
            owner_v = np.searchsorted(cs, vs, side="right") - 1
            owner_t = np.searchsorted(cs, ts, side="right") - 1
            if (owner_v < 0).any() or (owner_t < 0).any():
                raise _Irregular
            vs, ve = vs[keep[owner_v]], ve[keep[owner_v]]
            ts, te = ts[keep[owner_t]], te[keep[owner_t]]
            cs, col, letters = cs[keep], col[keep], letters[keep]
            del owner_v, owner_t
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
    texts = _texts(xml, a, lo, t_start, te)
    return {"i": i, "j": j, "kind": kind, "fv": fv, "iv": iv, "isint": isint,
            "style": style, "texts": texts, "others": others}


#: Texts of a block at most this long are gathered with numpy (else sliced one by one).
_GATHER_TEXT = 48


def _texts(xml: bytes, a: np.ndarray, lo: int, starts: np.ndarray,
           ends: np.ndarray) -> np.ndarray:
    """The bytes ``a[s:e]`` of each text, as an object array of ``bytes``: for short
    texts gathered in one go as fixed-width byte strings (none holds a NUL byte, which
    such strings drop at their end; XML has none), else sliced one by one."""
    out = np.empty(len(starts), dtype=object)
    if not len(starts):
        return out
    lengths = ends - starts
    width = int(lengths.max())
    if width == 0:
        out[:] = [b""] * len(starts)
        return out
    if width <= _GATHER_TEXT:
        cols = np.arange(width)[None, :]
        grid = a[np.minimum(starts[:, None] + cols, len(a) - 1)]
        inside = cols < lengths[:, None]
        if not ((grid == 0) & inside).any():
            grid[~inside] = 0
            return np.ascontiguousarray(grid).view(f"S{width}").ravel().astype(object)
    out[:] = [xml[lo + s:lo + e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
    return out
