"""A big data sheet in a file this product saved opens without inflating its rows: its part
is compressed in segments (head, rows, tail), each ending with a sync flush but the last, so
the tail is inflated alone from the member's last ``00 00 ff ff`` (datasheet_reader.
_tail_alone). Anything that does not check out — a part compressed as one stream, as Excel
writes it, or a ``00 00 ff ff`` that is not the start of the tail — is inflated piece by
piece as before. The tables read are compared with openpyxl's reading of the same file."""

from __future__ import annotations

import copy
import re
import shutil
import struct
import zipfile
import zlib
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from sop_workbook import demo_data
from sop_workbook.actions import refresh
from sop_workbook.workbook import datasheet_reader, datasheet_xml
from sop_workbook.workbook.headless import HeadlessWorkbook

TEMPLATE = Path(__file__).resolve().parents[2] / "SOP_Template.xlsm"
SHEET = "agg_sales"  # ~250 kB of XML in the refreshed demo workbook
SYNC = b"\x00\x00\xff\xff"


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """A workbook refreshed from demo data and saved by the product."""
    root = tmp_path_factory.mktemp("sketch_tail")
    demo_data.write(root / "data", items=6, months=14, seed=4)
    path = root / "refreshed.xlsm"
    shutil.copy(TEMPLATE, path)
    book = HeadlessWorkbook(path)
    refresh(book, str(root / "data"))
    book.save(backups=0)
    return path


@pytest.fixture(scope="module")
def expected(saved) -> pd.DataFrame:
    """agg_sales as openpyxl reads it from the saved file (an independent reader)."""
    wb = openpyxl.load_workbook(saved, read_only=True)
    rows = list(wb[SHEET].iter_rows(values_only=True))
    wb.close()
    assert len(rows) > 300  # the header and hundreds of rows
    return pd.DataFrame(rows[1:], columns=list(rows[0]))


@pytest.fixture
def sketch_all(monkeypatch):
    """Every data sheet sketched, its start inflated 4 kB at a time (the head of a small
    part stops well before its end, as it does in a big one); what _tail_alone gave and
    how many bytes the piece-by-piece inflater gave, per part."""
    monkeypatch.setattr(datasheet_reader, "SKETCH_MIN_BYTES", 0)
    monkeypatch.setattr(datasheet_reader, "_PIECE", 1 << 12)
    probe = {"tail": {}, "pieces": {}}
    tail_alone, inflating = datasheet_reader._tail_alone, datasheet_reader._inflating

    def tail_probe(data, info, inflated):
        tail = tail_alone(data, info, inflated)
        probe["tail"][info.filename] = tail
        return tail

    def inflating_probe(data, info):
        pieces = inflating(data, info)
        if pieces is None:
            return None

        def counted():
            for out in pieces:
                probe["pieces"][info.filename] = probe["pieces"].get(info.filename, 0) \
                    + len(out)
                yield out

        return counted()

    monkeypatch.setattr(datasheet_reader, "_tail_alone", tail_probe)
    monkeypatch.setattr(datasheet_reader, "_inflating", inflating_probe)
    return probe


def _part(path: Path, title: str) -> tuple[str, bytes, zipfile.ZipInfo]:
    with zipfile.ZipFile(path) as z:
        part = datasheet_xml._worksheets(z, set(z.namelist()))[title]
        return part, z.read(part), z.getinfo(part)


def _same_table(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True),
                                  check_dtype=False)


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _saved_parts(path: Path) -> dict[str, bytes]:
    """The members of a saved file, but the time it was saved."""
    parts = _members(path)
    parts["docProps/core.xml"] = re.sub(rb"<dcterms:modified\b.*?</dcterms:modified>", b"",
                                        parts["docProps/core.xml"])
    return parts


def test_a_saved_workbook_opens_without_inflating_the_rows(saved, expected, sketch_all,
                                                           tmp_path, monkeypatch):
    """The product's file: every data sheet's tail is inflated alone; of agg_sales only the
    first pieces and the tail are inflated; the tables read and the file saved are those of
    inflating every part piece by piece."""
    part, xml, info = _part(saved, SHEET)
    book = HeadlessWorkbook(saved)
    tails = sketch_all["tail"]
    assert set(tails) == {s.part for s in book._data.values()}  # (each holds 3+ rows)
    with zipfile.ZipFile(saved) as z:  # (a part inflated whole in its first piece or
        big = {p for p in tails if z.getinfo(p).file_size >= 4 << 12}  # two: no tail alone)
    assert len(big) >= 6
    assert all(tails[p] is not None for p in big), [p for p in big if tails[p] is None]
    assert tails[part] == xml[xml.rindex(b"</sheetData>"):]
    inflated = sketch_all["pieces"][part] + len(tails[part])
    assert inflated < info.file_size // 10  # the rows were not inflated
    assert book._data[SHEET].shared is None  # not looked at on open
    _same_table(book.read_table(SHEET), expected)

    fast = tmp_path / "fast.xlsm"
    shutil.copy(saved, fast)
    book = HeadlessWorkbook(fast)
    book.set_value("cfg_company_name", "Tail Ltd")
    book.save(backups=0)
    monkeypatch.setattr(datasheet_reader, "_tail_alone", lambda *args: None)
    slow = tmp_path / "slow.xlsm"
    shutil.copy(saved, slow)
    book = HeadlessWorkbook(slow)
    book.set_value("cfg_company_name", "Tail Ltd")
    book.save(backups=0)
    assert _saved_parts(fast) == _saved_parts(slow)
    _same_table(HeadlessWorkbook(fast).read_table(SHEET), expected)


def test_a_workbook_recompressed_as_one_stream_falls_back(saved, expected, sketch_all,
                                                          tmp_path):
    """Every part compressed as one stream (zlib level 6, as Excel writes them): no tail is
    taken alone, every row is inflated, the tables read are right."""
    path = tmp_path / "excel.xlsm"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        for name, data in _members(saved).items():
            z.writestr(name, data)
    part, _, info = _part(path, SHEET)
    book = HeadlessWorkbook(path)
    assert sketch_all["tail"] and all(t is None for t in sketch_all["tail"].values())
    assert sketch_all["pieces"][part] == info.file_size  # inflated whole, piece by piece
    assert SHEET in book._data
    _same_table(book.read_table(SHEET), expected)


def _segment(data: bytes, *, last: bool) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


def _flushed_in_the_tail(head: bytes, rows: bytes, tail: bytes) -> tuple[bytes, bytes]:
    """The tail compressed by one compressor with a sync flush inside its </sheetData>:
    the last marker is followed by the tail's rest, which may refer back past it."""
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    end = c.compress(tail[:5]) + c.flush(zlib.Z_SYNC_FLUSH) + c.compress(tail[5:]) \
        + c.flush(zlib.Z_FINISH)
    return _segment(head, last=False) + _segment(rows, last=False) + end, head + rows + tail


def _segmented_inside_the_tail(head: bytes, rows: bytes, tail: bytes) -> tuple[bytes, bytes]:
    """Fresh segments, the last one starting inside </sheetData>: the last marker is
    followed by a clean stream, but not by the tail."""
    stream = _segment(head, last=False) + _segment(rows, last=False) \
        + _segment(tail[:5], last=False) + _segment(tail[5:], last=True)
    return stream, head + rows + tail


def _flushed_after_the_head(head: bytes, rows: bytes, tail: bytes) -> tuple[bytes, bytes]:
    """A flush after the head only: the last marker is followed by the rows and tail."""
    return _segment(head, last=False) + _segment(rows + tail, last=True), head + rows + tail


def _stored_block_reading_as_a_flush(head: bytes, rows: bytes,
                                     tail: bytes) -> tuple[bytes, bytes]:
    """The tail (padded with line ends, which XML allows between elements) as stored
    blocks, the first 0xff00 bytes long: its header byte 00 and lengths 00 ff / ff 00 read
    as a marker ``00 00 ff ff`` that is not one, planted after the tail's real one."""
    tail = b"</sheetData>" + b"\n" * 70_000 + tail[len(b"</sheetData>"):]
    n = 0xff00
    first = b"\x00" + struct.pack("<HH", n, n ^ 0xffff) + tail[:n]
    rest = tail[n:]
    final = b"\x01" + struct.pack("<HH", len(rest), len(rest) ^ 0xffff) + rest
    stream = _segment(head, last=False) + _segment(rows, last=False) + first + final
    planted = len(stream) - len(final) - len(first)
    assert stream.rfind(SYNC) == planted and stream[planted - 4:planted] == SYNC
    return stream, head + rows + tail


class _Canned:
    """A compressor giving prepared deflate bytes (for zipfile to write as a member)."""

    def __init__(self, stream: bytes) -> None:
        self.stream = stream

    def compress(self, data: bytes) -> bytes:
        out, self.stream = self.stream, b""
        return out

    def flush(self) -> bytes:
        return b""


@pytest.mark.parametrize("make", [_flushed_in_the_tail, _segmented_inside_the_tail,
                                  _flushed_after_the_head, _stored_block_reading_as_a_flush])
def test_a_marker_that_is_not_the_tails_falls_back(saved, expected, sketch_all, tmp_path,
                                                   monkeypatch, make):
    """agg_sales's part recompressed so that its last ``00 00 ff ff`` is not followed by
    the tail alone: rejected, the part inflated piece by piece; the table reads right and
    survives a save."""
    part, xml, _ = _part(saved, SHEET)
    start, end, _ = datasheet_xml._sheetdata_bounds(xml)
    stream, content = make(xml[:start], xml[start:end], xml[end:])
    assert zlib.decompress(stream, -15) == content  # a valid member
    path = tmp_path / "planted.xlsm"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in _members(saved).items():
            if name != part:
                z.writestr(name, data)
                continue
            with monkeypatch.context() as m:
                m.setattr(zipfile, "_get_compressor", lambda *args: _Canned(stream))
                z.writestr(name, content)
    with zipfile.ZipFile(path) as z:
        assert z.read(part) == content and z.getinfo(part).compress_size == len(stream)
    book = HeadlessWorkbook(path)
    assert part in sketch_all["tail"] and sketch_all["tail"][part] is None
    assert sketch_all["pieces"][part] == len(content)  # inflated whole, piece by piece
    assert SHEET in book._data
    _same_table(book.read_table(SHEET), expected)
    book.set_value("cfg_company_name", "Planted Ltd")
    book.save(backups=0)
    _same_table(HeadlessWorkbook(path).read_table(SHEET), expected)


def test_a_tail_is_taken_only_within_the_declared_size_and_up_to_the_members_end(saved):
    """_tail_alone gives the tail only if it fits in what is left of the member's declared
    size after the bytes inflated from the start, and if the stream after the marker ends
    exactly where the member does."""
    _, xml, info = _part(saved, SHEET)
    tail = xml[xml.rindex(b"</sheetData>"):]
    data = saved.read_bytes()
    left = info.file_size - len(tail)
    assert datasheet_reader._tail_alone(data, info, left) == tail
    assert datasheet_reader._tail_alone(data, info, left + 1) is None
    longer = copy.copy(info)  # the member's bytes read one byte further (into the next
    longer.compress_size += 1  # member's header): something follows the stream's end
    assert datasheet_reader._tail_alone(data, longer, left) is None
    shorter = copy.copy(info)  # ... or one byte short: the stream does not end
    shorter.compress_size -= 1
    assert datasheet_reader._tail_alone(data, shorter, left) is None


def test_rows_damaged_in_the_middle_are_a_clear_error_when_a_command_needs_them(
        saved, sketch_all, tmp_path):
    """The middle of a sketched sheet is not inflated on open, so damage there is found
    when a command reads or keeps those rows: the error it was on open — the sheet named,
    the workbook unchanged — not a crash, and never a table taken for missing."""
    from sop_workbook.actions import roll_forward
    from sop_workbook.errors import DamagedWorkbookError

    path = tmp_path / "damaged.xlsm"
    shutil.copy(saved, path)
    _, _, info = _part(path, SHEET)
    data = bytearray(path.read_bytes())
    begin, end = datasheet_xml.member_span(bytes(data), info)
    data[(begin + end) // 2] ^= 0x5A
    path.write_bytes(bytes(data))
    before = path.read_bytes()

    book = HeadlessWorkbook(path)  # opens: the rows are not looked at yet
    with pytest.raises(DamagedWorkbookError, match=f"sheet '{SHEET}' cannot be read"):
        book.read_table(SHEET)
    book = HeadlessWorkbook(path)  # a command that keeps the rows (sop calendar …)
    book.set_value("cfg_data_source", "elsewhere")
    with pytest.raises(DamagedWorkbookError, match=f"sheet '{SHEET}'"):
        book.save(backups=0)
    with pytest.raises(DamagedWorkbookError, match=f"sheet '{SHEET}'"):
        roll_forward(HeadlessWorkbook(path))  # reads agg_sales for the stages
    assert path.read_bytes() == before
