"""The workbook zip and its worksheet XML as both sides of data-sheet I/O see them: zip
members inflated, relationships and their targets, a sheet's ``<sheetData>`` and its rows,
and the primitives of the vectorised row scan (:mod:`.datasheet_reader`,
:mod:`.datasheet_writer`, :mod:`.kept`).
"""

from __future__ import annotations

import posixpath
import re
import struct
import zipfile
import zlib
from io import BytesIO

import numpy as np

#: the zlib-compatible module data-sheet rows are compressed with: ISA-L's (package isal,
#: a dependency) — the same deflate format, on a 165 MB agg_sales part 5× faster than zlib
#: at level 1 and 10 % smaller; its crc32_combine joins segments' CRCs (datasheet_writer)
from isal import isal_zlib as _data_zlib

from ..errors import DamagedWorkbookError

_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_TABLE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/table"


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


def member_span(data: bytes, info: zipfile.ZipInfo) -> tuple[int, int] | None:
    """Where the compressed bytes of a deflated member of the zip ``data`` begin and end
    (from its local header), or None when it is not a plain deflated member with a local
    header where the directory says."""
    at = info.header_offset
    if info.compress_type != zipfile.ZIP_DEFLATED or data[at:at + 4] != b"PK\x03\x04":
        return None
    name_len, extra_len = struct.unpack("<HH", data[at + 26:at + 30])
    begin = at + 30 + name_len + extra_len
    if begin + info.compress_size > len(data):
        return None
    return begin, begin + info.compress_size


def read_member(data: bytes, z: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """A member of the zip ``z`` (whose bytes are ``data``), inflated by ISA-L
    (~3× zlib on the big sheet parts; CRC checked as zipfile does)."""
    span = member_span(data, info)
    if span is None or info.file_size < (1 << 16):
        return z.read(info.filename)  # (a damaged member: zipfile reports what is wrong)
    begin = span[0]
    try:
        inflater = _data_zlib.decompressobj(-15)  # no more than the size declared
        out = inflater.decompress(memoryview(data)[begin:begin + info.compress_size],
                                  info.file_size + 1)
    except Exception:  # a damaged member: zipfile reports it
        return z.read(info.filename)
    if len(out) != info.file_size or _data_zlib.crc32(out) != info.CRC:
        return z.read(info.filename)
    return out


def sheet_xml(data: bytes, part: str, title: str | None = None) -> bytes:
    """A worksheet part read whole by zipfile (its CRC checked) — the rows of a data
    sheet read after open, which did not inflate them: a damaged part is the error it
    would have been on open, naming the sheet (``title``), not a crash."""
    with zipfile.ZipFile(BytesIO(data)) as z:
        return read_checked(z, part, title)


def read_checked(z: zipfile.ZipFile, part: str, title: str | None = None) -> bytes:
    """``z.read(part)``, a damaged member reported as a :class:`DamagedWorkbookError`
    naming the sheet ``title`` (else the part)."""
    try:
        return z.read(part)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        where = f"sheet {title!r}" if title else part
        raise DamagedWorkbookError(f"the workbook is damaged: {where} cannot be read ({exc})",
                       "The workbook was not changed; `sop undo` puts back its newest "
                       "backup.") from None


# --------------------------------------------------------------------------- vectorised scan


class _Irregular(Exception):
    """A sheet the fast parser does not read (then openpyxl's parser does)."""


def _col_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


#: bytes of XML per block of whole rows the vectorised parser works on (bounds memory)
PARSE_BLOCK = 8 << 20


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
