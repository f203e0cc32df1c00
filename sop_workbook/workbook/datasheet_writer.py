"""Fast writing of the workbook's data sheets (one Excel table each, nothing else; see
:mod:`.datasheet_reader` for what makes a data sheet and how it is read).

openpyxl builds a Python object per cell, which makes a 200,000-row aggregate table cost
a minute to write. The headless adapter therefore writes a data sheet's rows itself:

- on write, the rows are encoded (:func:`encode`): cell XML per distinct value
  (``pandas.factorize``) and a code per row — inline strings for text (never a
  formula), numbers as ``<v>``, dates as serial numbers with a date style — checked
  before anything changes; the numbers' XML, the rows (:func:`render_rows`: a grid of
  pieces joined per chunk of rows) and their compression follow in a background thread
  (:class:`Job`), as raw-deflate segments that join into one stream (:class:`Deflated`);
- on save, openpyxl writes everything else (header, column widths, views, protection, the
  table part with its new ``ref``) into parts kept in memory
  (:func:`~.excel_form.openpyxl_parts`), then :func:`package_pieces` puts the rows into
  that sheet's ``<sheetData>`` (the segments made since, or made now beside the
  background thread) and writes the zip, once (:func:`_zip_pieces`).
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
import math
import os
import queue
import re
import struct
import threading
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np
import pandas as pd
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import range_boundaries

from ..errors import SopError
from ..zip_parts import ZIP_EXTERNAL_ATTR, ZIP_TIMESTAMP, part_order
from .datasheet_xml import (
    _ROW,
    _col_number,
    _data_zlib,
    _row_number,
    _sheetdata_bounds,
)
from .deflate_segments import Deflated
from .kept import KeptTable

#: Compression level of data-sheet parts: on a 142 MiB agg_sales part zlib level 1 took
#: 1.4 s for 27.4 MiB, level 6 5.6 s for 21.4 MiB (4× the time for 22 % less): level 1
#: (benchmarks/bench_workbook_io.py). Level 0 (stored) would cost nothing but make the file
#: 7× larger. With ISA-L (``_data_zlib``) level 1 is 5× faster than zlib's and 10 % smaller.
DATA_COMPRESSLEVEL = 1
OTHER_COMPRESSLEVEL = 6
ROWS_PER_CHUNK = 8192
_EPOCH = dt.datetime(1899, 12, 30)
#: characters XML 1.0 does not allow (openpyxl refuses them too)
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


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


def package_pieces(parts: Mapping[str, bytes],
                   bodies: Mapping[str, tuple[bytes, object, bytes]]) -> list:
    """The package's zip, written once: every part of ``parts`` (name → bytes) in
    :func:`part_order`, those in ``bodies`` as head + body + tail instead, the body being
    either chunks of bytes (compressed now, in a second thread while the next chunks are
    built) or a list of :class:`Job` giving its :class:`Deflated` segments
    (:func:`deflate_rows_later`: compressed in the background since; the jobs not yet
    started run here). The other parts are compressed here, one segment each."""
    segments = {}
    for part, (_, body, _) in bodies.items():  # first what is built now, then the rest
        if not isinstance(body, list):
            segments[part] = deflate_runs(body, DATA_COMPRESSLEVEL, _data_zlib)
    jobs = [job for _, body, _ in bodies.values() if isinstance(body, list) for job in body]
    for job in reversed(jobs):  # the background thread runs them from the first on
        job.run()
    members = []
    for name in part_order(parts):
        if name not in bodies:
            members.append((name, [deflate([parts[name]], OTHER_COMPRESSLEVEL, last=True)]))
            continue
        head, body, tail = bodies[name]
        body = segments[name] if name in segments else [job.result() for job in body]
        members.append((name, [deflate([head], OTHER_COMPRESSLEVEL), *body,
                               deflate([tail], OTHER_COMPRESSLEVEL, last=True)]))
    return _zip_pieces(members)


# --------------------------------------------------------------------------- compression


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


def deflate_runs(chunks, level: int, lib=zlib) -> list[Deflated]:
    """The chunks as segments: each run of bytes compressed as one
    (:func:`deflate_in_thread`), each :class:`Deflated` among them — a segment of the
    file copied as it was (:meth:`SegmentMap.pieces`) — kept as it is, in order."""
    source = iter(chunks)
    copied: list[Deflated] = []

    def run():
        for chunk in source:
            if isinstance(chunk, Deflated):
                copied.append(chunk)
                return
            yield chunk

    out = []
    while True:
        before = len(copied)
        segment = deflate_in_thread(run(), level, lib)
        if segment.size:
            out.append(segment)
        if len(copied) == before:
            return out
        out.append(copied[-1])


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


def _zip_pieces(members: list[tuple[str, list[Deflated]]]) -> list:
    """A zip file of deflated members, as the pieces of bytes that make it up in order
    (written one after the other, never joined in memory): each member's name, the
    content its segments in order; every entry dated and attributed as
    :func:`~sop_workbook.zip_parts.write_parts` writes them (no zip64: a workbook this
    module reopens is far below 4 GiB, see io.MAX_UNCOMPRESSED)."""
    out: list[bytes] = []
    directory: list[bytes] = []
    offset = 0
    y, mo, d, h, mi, sec = ZIP_TIMESTAMP
    dos_time, dos_date = h << 11 | mi << 5 | sec // 2, max(y - 1980, 0) << 9 | mo << 5 | d
    for filename, segments in members:
        crc, size = segments[0].crc, segments[0].size
        for seg in segments[1:]:
            crc = _data_zlib.crc32_combine(crc, seg.crc, seg.size)
            size += seg.size
        pieces = [p for seg in segments for p in seg.pieces]
        packed = sum(map(len, pieces))
        name = filename.encode("utf-8")
        flags = 0 if name.isascii() else 0x800  # bit 11: the name is UTF-8
        fields = (flags, zipfile.ZIP_DEFLATED, dos_time, dos_date, crc, packed, size,
                  len(name))
        header = struct.pack("<4s5H3LHH", b"PK\x03\x04", 20, *fields, 0) + name
        directory.append(struct.pack("<4s4B4H3L5H2L", b"PK\x01\x02", 20, 3, 20, 0, *fields,
                                     0, 0, 0, 0, ZIP_EXTERNAL_ATTR, offset) + name)
        out.append(header)
        out.extend(pieces)
        offset += len(header) + packed
        if max(size, offset) >= 0xFFFFFFFF:
            raise SopError(f"the workbook would be larger than 4 GiB ({filename})",
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


#: A table body a save puts into its sheet beside the cells openpyxl wrote: rendered from
#: rows written in this session, or kept from the file as it was (:mod:`.kept`).
SheetBody: TypeAlias = StreamedTable | KeptTable


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


def merge_sheet_data(xml: bytes, tables: list[SheetBody]
                     ) -> tuple[bytes, Iterator[bytes], bytes]:
    """openpyxl's worksheet XML with the bodies of ``tables`` merged in: (head, chunks of
    rows, tail) for :func:`package_pieces`. Rows openpyxl wrote keep their attributes
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
    if len(ordered) == 1 and not inside and isinstance(ordered[0], KeptTable):
        return head, ordered[0].raw_rows(), tail  # a kept table alone in its rows
    stacked = sorted(tables, key=lambda t: t.first_row)
    if not inside and any(isinstance(t, KeptTable) for t in stacked) and all(
            a.last_row < b.first_row for a, b in itertools.pairwise(stacked)):
        # bodies one below the other, alone in their rows (a kept table and the rows
        # appended to it): each as it comes, the kept one copied as it was
        return head, _stacked_rows(stacked), tail
    return head, _merged_rows(ordered, inside, lo, hi), tail


def _stacked_rows(tables: list[SheetBody]) -> Iterator[bytes]:
    for t in tables:
        if isinstance(t, KeptTable):
            yield from t.raw_rows()
        else:
            yield from _merged_rows([t], {}, t.first_row, t.last_row)


def _widen_dimension(head: bytes, tables: list[SheetBody]) -> bytes:
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


def _merged_rows(tables: list[SheetBody], inside: dict[int, bytes], lo: int, hi: int
                 ) -> Iterator[bytes]:
    layouts = [t.layout() for t in tables]
    for a in range(lo, hi + 1, ROWS_PER_CHUNK):
        yield _rows_xml(a, min(hi + 1, a + ROWS_PER_CHUNK), layouts, inside)
