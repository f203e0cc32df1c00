"""Saving rows that did not change without compressing them again (issue 15: a planner's
year on one workbook): the segments of a part that lie inside unchanged rows are copied
into the next save as they are — proved self-contained first, so a part written by
another program, or a chance ``00 00 ff ff`` in its bytes, is inflated and compressed
again as before. Every figure compared with is the plain bytes given to the writer or what
zipfile (CPython's own inflater) reads back."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
import zlib
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from sop_workbook.workbook import datasheet_reader
from sop_workbook.workbook.datasheet_writer import _zip_pieces, deflate, deflate_runs
from sop_workbook.workbook.deflate_segments import Deflated, SegmentMap
from sop_workbook.workbook.headless import HeadlessWorkbook
from sop_workbook.zip_parts import sheet_parts
from tests.workbook.test_workbook_io import big_sales_frame

ROOT = Path(__file__).resolve().parents[2]
PART = "xl/worksheets/sheet1.xml"


def _rows(first: int, n: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    return b"".join(b'<row r="%d"><c r="A%d"><v>%d</v></c></row>' % (r, r, v)
                    for r, v in zip(range(first, first + n),
                                    rng.integers(0, 10**9, n).tolist(), strict=True))


def _zip(members: list[tuple[str, list[Deflated]]]) -> bytes:
    return b"".join(bytes(p) for p in _zip_pieces(members))


def _segmented(chunks: list[bytes]) -> bytes:
    """A zip of one member written as this product writes a sheet: each chunk a segment."""
    segments = [deflate([c], 1, last=k == len(chunks) - 1) for k, c in enumerate(chunks)]
    return _zip([(PART, segments)])


def _info(data: bytes) -> zipfile.ZipInfo:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.getinfo(PART)


def _read(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.read(PART)


CHUNKS = [b"<worksheet><sheetData>", _rows(1, 20_000, 1), _rows(20_001, 20_000, 2),
          b"</sheetData></worksheet>"]
PLAIN = b"".join(CHUNKS)


def test_a_member_written_in_segments_is_mapped_segment_by_segment():
    data = _segmented(CHUNKS)
    segmap, whole = SegmentMap.of_member(data, _info(data), keep=True)
    assert bytes(whole) == PLAIN
    sizes = [s.end - s.start for s in segmap.segments]
    assert sizes == [len(c) for c in CHUNKS]
    assert [s.last for s in segmap.segments] == [False, False, False, True]
    assert [s.crc for s in segmap.segments] == [zlib.crc32(c) for c in CHUNKS]


def test_the_segments_inside_a_range_are_copied_and_the_rest_compressed_again():
    data = _segmented(CHUNKS)
    segmap, _ = SegmentMap.of_member(data, _info(data))
    start = len(CHUNKS[0]) - 5  # five bytes of the head, both row segments, some tail
    stop = len(PLAIN) - 3
    pieces = list(segmap.pieces(start, stop))
    copied = [p for p in pieces if isinstance(p, Deflated)]
    assert [c.size for c in copied] == [len(CHUNKS[1]), len(CHUNKS[2])]
    assert b"".join(bytes(p) for p in pieces if not isinstance(p, Deflated)) == \
        PLAIN[start:len(CHUNKS[0])] + PLAIN[len(PLAIN) - len(CHUNKS[3]):stop]
    # written into a new member between a new head and tail, they read back right
    body = deflate_runs(pieces, 1)
    out = _zip([(PART, [deflate([b"<new>"], 6), *body, deflate([b"</new>"], 6, last=True)])])
    assert _read(out) == b"<new>" + PLAIN[start:stop] + b"</new>"
    # and the copied bytes are the file's own
    assert bytes(copied[0].pieces[0]) in data and bytes(copied[1].pieces[0]) in data


def test_a_member_compressed_as_one_stream_is_not_mapped():
    """What Excel or zipfile write: no segments to copy, the member is read as before."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(PART, PLAIN)
    data = buf.getvalue()
    assert SegmentMap.of_member(data, _info(data)) == (None, None)


def test_a_chance_marker_inside_the_data_is_not_taken_for_a_segment_end():
    """Stored (level 0) blocks hold the data as it is: ``00 00 ff ff`` in the data is in
    the compressed bytes too, but what follows it is not a stream of its own."""
    rng = np.random.default_rng(5)
    noise = rng.integers(0, 256, 300_000, dtype=np.uint8).tobytes()
    plain = noise[:100_000] + b"\x00\x00\xff\xff" + noise[100_000:]
    compressor = zlib.compressobj(0, zlib.DEFLATED, -15)
    packed = compressor.compress(plain) + compressor.flush()
    member = Deflated([packed], zlib.crc32(plain), len(plain))
    data = _zip([(PART, [member])])
    assert b"\x00\x00\xff\xff" in packed and _read(data) == plain
    assert SegmentMap.of_member(data, _info(data)) == (None, None)


def test_a_damaged_segment_is_not_mapped():
    data = bytearray(_segmented(CHUNKS))
    info = _info(bytes(data))
    segmap, _ = SegmentMap.of_member(bytes(data), info)
    middle = segmap.segments[1]
    at = info.header_offset + 30 + len(PART) + (middle.packed_start + middle.packed_end) // 2
    data[at] ^= 0x55
    assert SegmentMap.of_member(bytes(data), info) == (None, None)


def _history(snapshots: int, series: int) -> pd.DataFrame:
    from sop_workbook.plan_history import LONG_COLUMNS, to_table

    rows = []
    for s in range(snapshots):
        snap = f"{2025 + (s + 10) // 12}-{(s + 10) % 12 + 1:02d}"
        for i in range(series):
            for k in range(12):
                m = 2025 * 12 + 10 + s + k
                rows.append([snap, f"{m // 12}-{m % 12 + 1:02d}", f"I{i:03d}", "MAIN",
                             float(100 * s + i + k), float(i)])
    return to_table(pd.DataFrame(rows, columns=LONG_COLUMNS))


@pytest.fixture()
def copied(monkeypatch):
    """Count the segments a save copies (and make small parts count as big)."""
    monkeypatch.setattr(datasheet_reader, "SEGMENTED_MIN_BYTES", 0)
    seen: list[int] = []
    real = SegmentMap.pieces

    def pieces(self, start, stop):
        for p in real(self, start, stop):
            if isinstance(p, Deflated):
                seen.append(p.size)
            yield p

    monkeypatch.setattr(SegmentMap, "pieces", pieces)
    return seen


def test_a_kept_history_is_copied_into_the_next_save_and_reads_back(tmp_path, copied):
    history = _history(12, 40)
    cut = len(history) * 11 // 12  # eleven plans, then the twelfth appended
    old, new = history.iloc[:cut].reset_index(drop=True), \
        history.iloc[cut:].reset_index(drop=True)
    path = tmp_path / "wb.xlsm"
    shutil.copy(ROOT / "SOP_Template.xlsm", path)
    book = HeadlessWorkbook(path)
    book.write_table("plan_history", old)
    book.save(backups=0)
    with zipfile.ZipFile(path) as z:
        first = {n: z.read(n) for n in z.namelist()}

    book = HeadlessWorkbook(path)  # a command that leaves the history as it is
    book.set_value("cfg_data_source", "somewhere")
    book.save(backups=0)
    assert copied, "the history's rows were compressed again"
    with zipfile.ZipFile(path) as z:
        part = sheet_parts(first)["Plan history"]
        assert z.read(part) == first[part]  # the history's XML, as it was

    copied.clear()
    book = HeadlessWorkbook(path)  # a roll forward: one plan appended below
    book.append_rows("plan_history", new)
    book.save(backups=0)
    assert copied
    back = HeadlessWorkbook(path).read_table("plan_history")
    assert back.astype(object).values.tolist() == history.astype(object).values.tolist()
    reference = pd.DataFrame(
        [[c.value for c in row] for row in _openpyxl_rows(path, "plan_history")])
    assert reference.iloc[1:].values.tolist() == \
        history.astype(object).values.tolist()
    # a spreadsheet engine reads the copied segments too (LibreOffice, converted to xlsx)
    sheet, header = HeadlessWorkbook(path).table_position("plan_history")
    out = path.parent / "lo"
    run = subprocess.run(["soffice", "--headless",
                          f"-env:UserInstallation=file://{path.parent}/u", "--convert-to",
                          "xlsx", "--outdir", str(out), str(path)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    ws = openpyxl.load_workbook(out / "wb.xlsx", data_only=True)[sheet]
    for k in (0, cut - 1, cut, len(history) - 1):  # first, last copied, first appended, last
        got = [c.value for c in ws[header + 1 + k]][:len(history.columns)]
        want = history.iloc[k].tolist()
        assert [str(v) for v in got[:4]] == [str(v) for v in want[:4]]
        assert got[4:] == pytest.approx(want[4:])


def _openpyxl_rows(path: Path, table: str):
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        if table in ws.tables:
            return ws[ws.tables[table].ref]
    raise KeyError(table)


def test_an_unchanged_data_sheet_is_copied_into_the_next_save(tmp_path, copied):
    n = 30_000
    frame = big_sales_frame(n)
    path = tmp_path / "wb.xlsm"
    shutil.copy(ROOT / "SOP_Template.xlsm", path)
    book = HeadlessWorkbook(path)
    book.write_table("agg_sales", frame)
    book.save(backups=0)
    book = HeadlessWorkbook(path)
    book.set_value("cfg_data_source", "somewhere")
    book.save(backups=0)
    assert copied, "the data sheet's rows were compressed again"
    got = HeadlessWorkbook(path).read_table("agg_sales")
    for col in frame.columns:
        pd.testing.assert_series_equal(got[col], frame[col], check_dtype=False,
                                       check_names=False)
    rows = _openpyxl_rows(path, "agg_sales")
    assert len(rows) == n + 1 and rows[-1][1].value == frame["item_no"].iloc[-1]


def test_ranges_are_read_from_the_segment_that_holds_them():
    """PartSource.reader() of a segmented part: ranges asked for in increasing order (gaps
    over whole segments skipped without inflating them) are the part's bytes."""
    from sop_workbook.workbook.kept import PartSource

    chunks = [b"<worksheet><sheetData>", *(_rows(1 + 5000 * k, 5000, k) for k in range(6)),
              b"</sheetData></worksheet>"]
    plain = b"".join(chunks)
    data = _segmented(chunks)
    segmap, _ = SegmentMap.of_member(data, _info(data))
    assert len(segmap.segments) == len(chunks)
    rng = np.random.default_rng(11)
    for _ in range(5):
        cuts = np.sort(rng.choice(len(plain), 12, replace=False)).tolist()
        reader = PartSource(data, PART, segmap).reader()
        for a, b in zip(cuts[::2], cuts[1::2], strict=True):
            assert bytes(reader.read(a, b)) == plain[a:b]


def test_small_pieces_read_the_same(monkeypatch):
    """With pieces far smaller than a segment (the inflater holding output back when its
    input runs out), the map, the copied pieces and the ranges read are the same."""
    from sop_workbook.workbook import deflate_segments

    monkeypatch.setattr(deflate_segments, "_PIECE", 997)
    data = _segmented(CHUNKS)
    segmap, whole = SegmentMap.of_member(data, _info(data), keep=True)
    assert bytes(whole) == PLAIN
    assert len([p for p in segmap.pieces(3, len(PLAIN) - 3) if isinstance(p, Deflated)]) == 2
    assert b"".join(segmap.inflate(3, len(PLAIN) - 3)) == PLAIN[3:-3]


def test_a_flush_inside_one_compressors_stream_is_not_a_segment_end():
    """A sync flush that does not restart the compressor (what another writer may emit):
    what follows it refers back to bytes before it, so it cannot be copied alone."""
    part = _rows(1, 3000, 9)
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    packed = compressor.compress(part) + compressor.flush(zlib.Z_SYNC_FLUSH) \
        + compressor.compress(part) + compressor.flush()
    plain = part + part
    data = _zip([(PART, [Deflated([packed], zlib.crc32(plain), len(plain))])])
    assert _read(data) == plain and b"\x00\x00\xff\xff" in packed
    assert SegmentMap.of_member(data, _info(data)) == (None, None)


def test_the_review_reads_the_last_plans_from_their_own_segments(tmp_path, monkeypatch):
    """A history appended plan by plan holds a segment per plan: read_table_from starts
    inflating at the segment of the first plan it reads (the plans before are not
    inflated) and reads what reading the whole table and cutting it gives."""
    from sop_workbook.periods import parse_period
    from sop_workbook.plan_history import period_text
    from sop_workbook.workbook import headless

    monkeypatch.setattr(datasheet_reader, "SEGMENTED_MIN_BYTES", 0)
    history = _history(8, 300)  # 600 rows a plan: kept out of openpyxl from the first
    per_plan = len(history) // 8
    path = tmp_path / "wb.xlsm"
    shutil.copy(ROOT / "SOP_Template.xlsm", path)
    book = HeadlessWorkbook(path)
    book.write_table("plan_history", history.iloc[:per_plan].reset_index(drop=True))
    book.save(backups=0)
    for k in range(1, 8):  # seven rolls, each appending one plan
        book = HeadlessWorkbook(path)
        book.append_rows("plan_history",
                         history.iloc[k * per_plan:(k + 1) * per_plan].reset_index(drop=True))
        book.save(backups=0)

    firsts: list[int] = []
    real = headless._kept_slices

    def slices(table, data, segments=None, first=0):
        firsts.append(first)
        return real(table, data, segments, first)

    monkeypatch.setattr(headless, "_kept_slices", slices)
    earliest = parse_period("2026-03")  # the sixth plan's snapshot (2025-11 + 4 months)

    def starts(v):
        return parse_period(period_text(v)) >= earliest

    book = HeadlessWorkbook(path)
    got = book.read_table_from("plan_history", "snapshot_period", starts)
    whole = HeadlessWorkbook(path).read_table("plan_history")
    want = whole[[starts(v) for v in whole["snapshot_period"]]]
    assert len(want) == 4 * per_plan
    assert got.astype(object).values.tolist() == want.astype(object).values.tolist()
    assert list(got.index) == list(want.index)
    assert firsts and firsts[-1] > 0  # began at a plan's segment, not at the first row
    assert firsts[-1] <= want.index[0]
