"""An Office Open XML package (a zip) as a dict of its parts, and back — written the same
way every time (fixed part order and timestamp, MS-DOS attributes as Excel writes them),
so that a rebuilt file is byte-identical. Used by the template builder and the headless
workbook alike; neither owns it.

A save builds the dict once (:class:`PartsArchive` takes what openpyxl writes, without a
zip), changes parts in place, and zips the result once (:func:`write_parts`, or the
headless workbook's streaming writer in the same :func:`part_order`)."""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Iterable, Mapping
from html import unescape

#: Every zip entry gets this timestamp (the earliest a zip can hold).
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
ZIP_COMPRESSLEVEL = 6
#: The external attributes of every entry: what ``zipfile`` writes for an entry
#: whose ``external_attr`` is 0 (read and write for the owner, as Unix mode bits).
ZIP_EXTERNAL_ATTR = 0o600 << 16


def read_parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        if len(set(names)) != len(names):
            raise ValueError("the package has duplicate zip entries")
        return {n: z.read(n) for n in names if not n.endswith("/")}


def part_order(names: Iterable[str]) -> list[str]:
    """The order parts are written in: ``[Content_Types].xml``, ``_rels/.rels``, then the
    others by name."""
    names = list(names)
    first = ["[Content_Types].xml", "_rels/.rels"]
    return [n for n in first if n in names] + sorted(n for n in names if n not in first)


def write_parts(parts: Mapping[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name in part_order(parts):
            info = zipfile.ZipInfo(name, ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0  # MS-DOS, as Excel writes it; not the build machine's OS
            info.external_attr = 0  # zipfile writes ZIP_EXTERNAL_ATTR
            z.writestr(info, parts[name], compresslevel=ZIP_COMPRESSLEVEL)
    return buf.getvalue()


class PartsArchive:
    """What a writer that fills a ``zipfile.ZipFile`` (openpyxl's ``ExcelWriter``: its
    ``writestr``, ``write``, ``namelist``, ``close``) puts in, kept as parts in memory —
    nothing compressed, nothing to unzip again. A name written twice is an error, as
    :func:`read_parts` makes it for a zip that holds it twice."""

    def __init__(self) -> None:
        self.parts: dict[str, bytes] = {}

    def writestr(self, name, data, *args, **kwargs) -> None:
        name = name.filename if isinstance(name, zipfile.ZipInfo) else name
        if name in self.parts:
            raise ValueError("the package has duplicate zip entries")
        self.parts[name] = data.encode("utf-8") if isinstance(data, str) else bytes(data)

    def write(self, filename, arcname=None, *args, **kwargs) -> None:
        with open(filename, "rb") as fh:
            self.writestr(arcname or posixpath.basename(str(filename)), fh.read())

    def namelist(self) -> list[str]:
        return list(self.parts)

    def close(self) -> None:
        pass


def sheet_parts(parts: Mapping[str, bytes]) -> dict[str, str]:
    """Sheet title → worksheet part name (from ``xl/workbook.xml`` and its relationships)."""
    wb_xml = parts["xl/workbook.xml"].decode("utf-8")
    rels = parts["xl/_rels/workbook.xml.rels"].decode("utf-8")
    targets = {m.group(1): m.group(2) for m in re.finditer(
        r'<Relationship[^>]*?Id="([^"]+)"[^>]*?Target="([^"]+)"', rels)}
    targets.update({m.group(2): m.group(1) for m in re.finditer(
        r'<Relationship[^>]*?Target="([^"]+)"[^>]*?Id="([^"]+)"', rels)})
    out = {}
    for m in re.finditer(r'<sheet [^>]*?name="([^"]+)"[^>]*?r:id="([^"]+)"', wb_xml):
        target = targets[m.group(2)]
        part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
            posixpath.join("xl", target))
        out[unescape(m.group(1))] = part
    return out
