"""Big tables on sheets with other content (the review-stage sheets), kept out of openpyxl
when a workbook is opened.

A refreshed workbook holds tables of tens of thousands of rows on the stage sheets
(``plan_demand``: 6,000 series × 7 layers × 42 columns; ``plan_history``: 12,000 rows per
roll forward). openpyxl would build a Python object per cell of them on every open — most
of the cost of reopening a refreshed workbook — although the commands rewrite them anyway
(Refresh, Roll forward) or never look at them (recalc, export). So, like the rows of a data
sheet (:mod:`sop_workbook.workbook.datasheet_reader`), the body of such a table is cut out of the
sheet before openpyxl loads it (:func:`cut_tables`): the cells of the table's columns in its
body rows, located with numpy over the sheet's bytes, row by row; the first body row stays
in openpyxl (its cells carry the columns' styles). What is kept is where those cells are in
the file (:class:`KeptTable`): they are parsed only when the table is read
(:meth:`KeptTable.body_xml` → :func:`datasheet_reader.parse_rows`), and a table that is not
rewritten is put back into the sheet at save as it was, byte for byte, merged row by row
with the cells openpyxl wrote (:class:`_KeptLayout`, used by
:func:`datasheet_writer.merge_sheet_data`).

A table stays with openpyxl (nothing changes for it) when its body holds a formula, a cell
of another shape than ``<c r="…" …>``, cells out of column order, a merged cell or a
hyperlink, when its sheet has comments (notes are attached to cells), or when its table
part has a totals row.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from io import BytesIO

import numpy as np
import pandas as pd
from openpyxl.utils.cell import range_boundaries

from ..errors import SopError
from . import datasheet_xml
from .deflate_segments import SegmentMap, inflated_pieces

#: A table on a sheet with other content whose body has more rows than this is kept out
#: of openpyxl on open (the same threshold as for streaming one at save).
KEEP_MIN_ROWS = 500
_MAIN_NS = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_SHARED = re.compile(rb' t="s"')
_REF_OF = re.compile(rb'<(?:mergeCell|hyperlink)\b[^>]*?\sref="([^"]*)"')
#: a row left without cells whose attributes openpyxl ignores (r, spans, namespaced ones)
_EMPTY_ROW = re.compile(rb'<row r="\d+"(?:\s+(?:spans|[\w.-]+:[\w.-]+)="[^"]*")*\s*'
                        rb'(?:/>|>\s*</row>)')


class _Irregular(Exception):
    """A sheet whose markup the cutter does not read: left to openpyxl."""


@dataclass
class KeptTable:
    """A big table of a mixed sheet as it is in the file: for each sheet row that holds
    cells of the table's columns, where those cells are in the worksheet part's XML."""

    name: str
    title: str  # the sheet
    part: str  # zip member of the worksheet
    ref: str  # the table's ref in the file
    min_col: int
    max_col: int
    header_row: int
    last_row: int  # the table's last row (its ref)
    rows: np.ndarray  # sheet rows holding cells of the table, ascending
    starts: np.ndarray  # where their cells begin in the part's XML
    ends: np.ndarray  # ... and end
    has_shared_strings: bool  # cells of type "s" (indices into the file's sharedStrings)
    #: per row, where its <row r="n"> element begins and ends when the row is only a
    #: plain tag and the table's cells (-1 otherwise): runs of such rows are copied whole
    row_spans: np.ndarray | None = None
    columns: list[str] = field(default_factory=list)
    styles: dict[int, object] = field(default_factory=dict)  # column → StyleArray
    frame: pd.DataFrame | None = None  # the rows as parsed (empty rows dropped)
    values: list | None = None  # the rows as cell values, one per sheet row
    xml: bytes | None = None  # the part's XML, while a save puts the rows back
    #: or, instead, the part in the file (:class:`PartSource`), read as the rows go back
    source: PartSource | None = None

    @property
    def first_row(self) -> int:
        return self.header_row + 1

    @property
    def n_rows(self) -> int:
        return self.last_row - self.header_row

    def holds(self, r: int, c: int) -> bool:
        return self.first_row <= r <= self.last_row and self.min_col <= c <= self.max_col

    def body_xml(self, xml: bytes, chosen: np.ndarray | None = None, base: int = 0) -> bytes:
        """A worksheet holding only the table's body cells (what parse_rows reads): runs
        of whole rows copied in one slice each, the other rows cell run by cell run;
        ``chosen``: only these of :attr:`rows` (a mask); ``base``: where ``xml`` begins
        in the part's XML (a slice of it holding the chosen rows, :meth:`row_bounds`)."""
        pieces = [b'<worksheet xmlns="' + _MAIN_NS + b'"><sheetData>']
        view = memoryview(xml)
        if chosen is None:
            chosen = np.ones(len(self.rows), dtype=bool)
        for kind, a, b in _segments(self, chosen):
            if kind:  # rows a … b-1, whole and next to each other in the file
                pieces.append(view[int(self.row_spans[a, 0]) - base:
                                   int(self.row_spans[b - 1, 1]) - base])
            else:
                pieces.append(b'<row r="%d">' % int(self.rows[a]))
                pieces.append(view[int(self.starts[a]) - base:int(self.ends[a]) - base])
                pieces.append(b"</row>")
        pieces.append(b"</sheetData></worksheet>")
        return b"".join(pieces)

    def row_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Per row of :attr:`rows`, where what :meth:`body_xml` copies of it begins and
        ends in the part's XML (ascending: the rows are in file order)."""
        spans = self.row_spans
        if spans is None:
            return self.starts, self.ends
        return (np.where(spans[:, 0] >= 0, spans[:, 0], self.starts),
                np.where(spans[:, 1] >= 0, spans[:, 1], self.ends))

    def raw_rows(self, size: int = 1 << 22):
        """The body's <row> elements as they were in the file, for a save where no other
        cell lies in those rows: runs of whole rows as slices of the file, in pieces of
        about ``size`` bytes (nothing decoded or re-joined)."""
        if self.xml is not None:
            view = memoryview(self.xml)

            def read(start: int, stop: int):
                return view[start:stop]
        elif self.source is not None and self.source.segments is not None \
                and self.row_spans is not None \
                and (self.row_spans[:, 0] >= 0).all():
            # whole rows of a part made of self-contained segments: the segments inside
            # them are copied compressed, the rest inflated (deflate_segments)
            for _, a, b in _segments(self, np.ones(len(self.rows), dtype=bool)):
                yield from self.source.segments.pieces(int(self.row_spans[a, 0]),
                                                       int(self.row_spans[b - 1, 1]))
            return
        elif self.source is not None:  # inflated as it goes: the part is never whole
            read = self.source.reader().read
        else:
            raise RuntimeError(f"the XML of table {self.name} is not loaded")
        for kind, a, b in _segments(self, np.ones(len(self.rows), dtype=bool)):
            if kind:
                start, stop = int(self.row_spans[a, 0]), int(self.row_spans[b - 1, 1])
                for i in range(start, stop, size):
                    yield read(i, min(stop, i + size))
            else:
                yield b'<row r="%d">' % int(self.rows[a]) + \
                    bytes(read(int(self.starts[a]), int(self.ends[a]))) + b"</row>"

    def layout(self) -> _KeptLayout:
        xml = self.xml if self.xml is not None or self.source is None else self.source.whole()
        if xml is None:
            raise RuntimeError(f"the XML of table {self.name} is not loaded")
        return _KeptLayout(self, xml)


class PartSource:
    """A worksheet part of the file a save puts kept rows back from: read whole once
    (:meth:`whole`, shared by the tables of the part), or inflated piece by piece as the
    rows are copied (:meth:`reader`), so a save never holds the XML of a plan history of
    years at once; ``segments``: the part is made of self-contained segments, those
    inside the rows are copied as they are (:meth:`KeptTable.raw_rows`)."""

    def __init__(self, data: bytes, part: str, segments: SegmentMap | None = None) -> None:
        self.data, self.part, self.segments = data, part, segments
        self._whole: bytes | None = None

    def whole(self) -> bytes:
        if self._whole is None:
            self._whole = read_part(self.data, self.part)
        return self._whole

    def reader(self) -> _Inflating:
        if self._whole is not None:
            return _Inflating(self._whole)
        with zipfile.ZipFile(BytesIO(self.data)) as z:
            info = z.getinfo(self.part)
        span = datasheet_xml.member_span(self.data, info)
        if span is None:
            return _Inflating(self.whole())
        return _Inflating(None, memoryview(self.data)[span[0]:span[1]],
                          info.file_size, info.CRC, self.segments)


class _Inflating:
    """Ranges of a member's inflated bytes, asked for in increasing order (what lies
    before a range asked for is dropped); the CRC and size are checked at the end.
    ``segments``: the member is made of self-contained segments (their CRCs checked when
    the map was made), and a range beyond the next segment is inflated from the start of
    its own segment (what lies before it is not inflated at all)."""

    def __init__(self, whole: bytes | None, deflated=None, size: int = 0, crc: int = 0,
                 segments: SegmentMap | None = None):
        self._whole = whole
        self._in, self._size, self._crc = deflated, size, crc
        self._pieces = None if whole is not None else self._inflating_from(0)
        self._buf = bytearray()
        self._start = 0  # offset of _buf[0] in the inflated member
        self._check = 0  # running CRC of everything inflated
        self._done = 0  # bytes inflated
        self._segments = segments

    def _inflating_from(self, packed_start: int):
        inflater = datasheet_xml._data_zlib.decompressobj(-15)
        return inflated_pieces(inflater, self._in, packed_start, len(self._in))

    def read(self, start: int, stop: int):
        if self._whole is not None:
            return memoryview(self._whole)[start:stop]
        if start < self._start:
            raise RuntimeError("kept rows asked for out of order")
        if self._segments is not None:
            self._skip_to(start)
        while self._start + len(self._buf) < stop:
            out = next(self._pieces, None)
            if out is None:
                raise SopError("a sheet of the workbook ends before its rows",
                               "The workbook was not changed.")
            self._check = datasheet_xml._data_zlib.crc32(out, self._check)
            self._done += len(out)
            if self._done >= self._size and self._check != self._crc \
                    and self._segments is None:
                raise SopError("a sheet of the workbook changed while it was saved",
                               "The workbook was not changed.")
            self._buf += out
            if self._start + len(self._buf) <= start:  # all before the range: dropped
                self._start += len(self._buf)
                self._buf.clear()
        del self._buf[:start - self._start]  # what lies before the range
        self._start = start
        return bytes(self._buf[:stop - self._start])

    def _skip_to(self, start: int) -> None:
        """Begin inflating at the segment holding ``start`` when it lies past what is
        inflated so far."""
        seg = None
        for candidate in self._segments.segments:
            if candidate.start > start:
                break
            seg = candidate
        if seg is None or seg.start <= self._start + len(self._buf):
            return
        self._pieces = self._inflating_from(seg.packed_start)
        self._buf.clear()
        self._start = self._done = seg.start


class _KeptLayout:
    """A kept table's body as :func:`datasheet_writer._rows_xml` merges it: one grid column
    holding each row's cells as they were in the file."""

    def __init__(self, table: KeptTable, xml: bytes) -> None:
        self.min_col = table.min_col
        self.pieces = [None]
        self._table, self._xml = table, xml

    def fill(self, grid: np.ndarray, k: int, a: int, b: int, numbers) -> np.ndarray | None:
        t = self._table
        grid[:, k] = ""
        i0, i1 = np.searchsorted(t.rows, [a, b])
        if i0 == i1:
            return None
        at = t.rows[i0:i1] - a
        xml = self._xml
        cells = np.empty(i1 - i0, dtype=object)
        cells[:] = [xml[s:e].decode("utf-8") for s, e in
                    zip(t.starts[i0:i1].tolist(), t.ends[i0:i1].tolist(), strict=True)]
        grid[at, k] = cells
        return at


def _segments(table: KeptTable, chosen: np.ndarray):
    """(True, a, b) for each stretch of chosen rows a … b-1 that are whole rows directly
    after one another in the file, (False, i, i + 1) for each other chosen row; in order."""
    spans = table.row_spans
    n = len(chosen)
    whole = chosen & (spans[:, 0] >= 0)
    joined = np.zeros(n, dtype=bool)  # row i continues the stretch of row i - 1
    joined[1:] = whole[1:] & whole[:-1] & (spans[1:, 0] == spans[:-1, 1])
    first = np.flatnonzero(whole & ~joined)
    breaks = np.append(np.flatnonzero(~joined), n)
    last = breaks[np.searchsorted(breaks, first, side="right")]
    single = np.flatnonzero(chosen & ~whole)
    begin = np.concatenate([first, single])
    end = np.concatenate([last, single + 1])
    kind = np.concatenate([np.ones(len(first), dtype=bool), np.zeros(len(single), dtype=bool)])
    order = np.argsort(begin, kind="stable")
    yield from zip(kind[order].tolist(), begin[order].tolist(), end[order].tolist(),
                   strict=True)


def read_part(data: bytes, part: str) -> bytes:
    """A member of the workbook zip, inflated (:func:`datasheet_xml.read_member`)."""
    with zipfile.ZipFile(BytesIO(data)) as z:
        return datasheet_xml.read_member(data, z, z.getinfo(part))


# --------------------------------------------------------------------------- cutting


@dataclass
class _Candidate:
    name: str
    ref: str
    min_col: int
    header: int
    max_col: int
    last: int
    rows: list = field(default_factory=list)
    starts: list = field(default_factory=list)
    ends: list = field(default_factory=list)
    spans: list = field(default_factory=list)
    ok: bool = True


def cut_tables(z: zipfile.ZipFile, names: set[str], title: str, part: str, xml: bytes
               ) -> tuple[bytes, list[KeptTable]]:
    """The worksheet with the bodies of its big tables cut out (for openpyxl), and those
    tables; ``(xml, [])`` when there is nothing to keep."""
    try:
        candidates = _candidates(z, names, part, xml)
        if not candidates:
            return xml, []
        _scan(xml, candidates)
    except _Irregular:
        return xml, []
    hits = np.array([m.start() for m in _SHARED.finditer(xml)], dtype=np.int64)
    kept = []
    cuts = []
    for c in candidates:
        if not c.ok or not c.rows:
            continue
        rows = np.concatenate(c.rows)
        starts = np.concatenate(c.starts)
        ends = np.concatenate(c.ends)
        if len(rows) > 1 and (np.diff(rows) <= 0).any():
            continue
        shared = False
        if len(hits):
            k = np.searchsorted(starts, hits, side="right") - 1
            shared = bool(((k >= 0) & (hits < ends[np.maximum(k, 0)])).any())
        table = KeptTable(c.name, title, part, c.ref, c.min_col, c.max_col, c.header,
                          c.last, rows, starts, ends, shared, np.concatenate(c.spans))
        kept.append(table)
        body = rows > c.header + 1  # the first body row stays: it carries the styles
        for kind, a, b in _segments(table, body):
            if kind:  # whole rows: their elements go
                cuts.append((int(table.row_spans[a, 0]), int(table.row_spans[b - 1, 1])))
            else:
                cuts.append((int(starts[a]), int(ends[a])))
    if not kept:
        return xml, []
    view = memoryview(xml)
    pieces, pos = [], 0
    for s, e in sorted(cuts):
        pieces.append(view[pos:s])
        pos = e
    pieces.append(view[pos:])
    stub = b"".join(pieces)
    start, end, _ = datasheet_xml._sheetdata_bounds(stub)
    stub = stub[:start] + _EMPTY_ROW.sub(b"", stub[start:end]) + stub[end:]
    return stub, kept


def _candidates(z, names, part, xml) -> list[_Candidate]:
    rels = datasheet_xml._rels(z, part, names)
    if any(kind.endswith("/comments") for _, kind, _ in rels):
        return []
    root = re.search(rb"<(\w+:)?worksheet\b", xml)
    if root is None or root.group(1):
        return []
    bounds = datasheet_xml._sheetdata_bounds(xml)
    if bounds is None:
        return []
    outside = xml[:bounds[0]] + xml[bounds[1]:]
    blocked = []
    for m in _REF_OF.finditer(outside):
        try:
            blocked.append(range_boundaries(m.group(1).decode().split(" ")[0]))
        except (ValueError, TypeError):
            return []
    out = []
    for _, kind, target in rels:
        if kind != datasheet_xml._TABLE_REL or target not in names:
            continue
        head = re.search(rb"<(?:\w+:)?table\b[^>]*>", z.read(target))
        if head is None or not head.group(0).startswith(b"<table"):
            continue
        tag = head.group(0)
        ref = datasheet_xml._attr(tag, b"ref")
        name = datasheet_xml._attr(tag, b"displayName") or datasheet_xml._attr(tag, b"name")
        if ref is None or name is None \
                or datasheet_xml._attr(tag, b"headerRowCount") not in (None, "1") \
                or datasheet_xml._attr(tag, b"totalsRowCount") not in (None, "0") \
                or datasheet_xml._attr(tag, b"totalsRowShown") == "1":
            continue
        try:
            min_col, header, max_col, last = range_boundaries(ref)
        except (ValueError, TypeError):
            continue
        if None in (min_col, header, max_col, last) or last - header <= KEEP_MIN_ROWS:
            continue
        if any(b[0] <= max_col and min_col <= b[2] and b[1] <= last and header < b[3]
               for b in blocked if None not in b):
            continue
        out.append(_Candidate(name, ref, min_col, header, max_col, last))
    return out


def _scan(xml: bytes, candidates: list[_Candidate]) -> None:
    """Locate each candidate's body cells, block by block of whole rows."""
    start, end, _ = datasheet_xml._sheetdata_bounds(xml)
    view = memoryview(xml)
    pos = start
    while pos < end:
        stop = xml.find(b"</row>", min(end, pos + datasheet_xml.PARSE_BLOCK))
        stop = end if stop < 0 or stop >= end else stop + len(b"</row>")
        _scan_block(xml, view, pos, stop, candidates)
        pos = stop


def _scan_block(xml, view, lo, hi, candidates) -> None:
    a = np.frombuffer(view[lo:hi], dtype=np.uint8)
    n = len(a)
    if n < 3:
        return
    lt = np.flatnonzero(a[:-2] == 60)
    nx, nx2 = a[lt + 1], a[lt + 2]
    if ((nx == 99) & (nx2 != 32)).any():
        raise _Irregular  # <c> or <c/>: a cell without its reference
    cs = lt[(nx == 99) & (nx2 == 32)]  # <c
    fs = lt[(nx == 102) & ((nx2 == 32) | (nx2 == 62) | (nx2 == 47))] + lo  # <f: formulas
    rp = lt[(nx == 114) & (nx2 == 111)]  # <row
    row_end = lt[(nx == 47) & (nx2 == 114)]  # </row
    del lt, nx, nx2
    if not len(cs):
        return
    last = n - 1
    if not ((a[np.minimum(cs + 3, last)] == 114) & (a[np.minimum(cs + 4, last)] == 61)
            & (a[np.minimum(cs + 5, last)] == 34)).all():
        raise _Irregular  # r="…" must come first
    c1 = a[np.minimum(cs + 6, last)].astype(np.int64)
    c2 = a[np.minimum(cs + 7, last)].astype(np.int64)
    c3 = a[np.minimum(cs + 8, last)].astype(np.int64)
    if not ((c1 >= 65) & (c1 <= 90)).all():
        raise _Irregular
    is2 = (c2 >= 65) & (c2 <= 90)
    is3 = is2 & (c3 >= 65) & (c3 <= 90)
    col = c1 - 64
    col = np.where(is2, col * 26 + c2 - 64, col)
    col = np.where(is3, col * 26 + c3 - 64, col)
    try:
        cell_row, _ = datasheet_xml._digits(a, cs + 6 + 1 + is2 + is3)
    except datasheet_xml._Irregular:
        raise _Irregular from None
    if not len(rp) or not ((a[np.minimum(rp + 4, last)] == 32)
                           & (a[np.minimum(rp + 5, last)] == 114)
                           & (a[np.minimum(rp + 6, last)] == 61)
                           & (a[np.minimum(rp + 7, last)] == 34)).all():
        raise _Irregular
    try:
        row_no, row_no_end = datasheet_xml._digits(a, rp + 8)
    except datasheet_xml._Irregular:
        raise _Irregular from None
    owner = np.searchsorted(rp, cs, side="right") - 1
    if (owner < 0).any() or (row_no[owner] != cell_row).any():
        raise _Irregular
    closes = np.searchsorted(row_end, rp)  # each row's </row> (rows holding cells)
    for c in candidates:
        if not c.ok:
            continue
        sel = np.flatnonzero((cell_row > c.header) & (cell_row <= c.last)
                             & (col >= c.min_col) & (col <= c.max_col))
        if not len(sel):
            continue
        change = np.flatnonzero(np.diff(cell_row[sel]) != 0) + 1
        firsts = sel[np.r_[0, change]]
        lasts = sel[np.r_[change - 1, len(sel) - 1]]
        counts = np.diff(np.r_[0, change, len(sel)])
        if (lasts - firsts + 1 != counts).any() or (np.diff(cell_row[firsts]) <= 0).any():
            c.ok = False  # cells of the table not side by side, or rows out of order
            continue
        nxt = np.minimum(lasts + 1, len(cs) - 1)
        same_row = (lasts + 1 < len(cs)) & (owner[nxt] == owner[lasts])
        if (closes[owner[lasts]] >= len(row_end)).any():
            raise _Irregular
        ends = np.where(same_row, cs[nxt], row_end[closes[owner[lasts]]]) + lo
        starts = cs[firsts] + lo
        if len(fs):
            k = np.searchsorted(starts, fs, side="right") - 1
            if ((k >= 0) & (fs < ends[np.maximum(k, 0)])).any():
                c.ok = False  # a formula in the body: openpyxl keeps the table
                continue
        # whole rows: a plain <row r="n"> tag, then the table's cells, then </row>
        o = owner[firsts]
        plain = (a[np.minimum(row_no_end[o], last)] == 34) \
            & (a[np.minimum(row_no_end[o] + 1, last)] == 62) \
            & (row_no_end[o] + 2 == cs[firsts])
        whole = plain & ~same_row
        spans = np.full((len(firsts), 2), -1, dtype=np.int64)
        spans[whole, 0] = rp[o[whole]] + lo
        spans[whole, 1] = ends[whole] + len(b"</row>")
        c.rows.append(cell_row[firsts])
        c.starts.append(starts)
        c.ends.append(ends)
        c.spans.append(spans)
