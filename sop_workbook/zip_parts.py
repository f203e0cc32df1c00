"""An Office Open XML package (a zip) as a dict of its parts, and back — written the same
way every time (fixed part order and timestamp, MS-DOS attributes as Excel writes them),
so that a rebuilt file is byte-identical. Used by the template builder and the headless
workbook alike; neither owns it."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping

#: Every zip entry gets this timestamp (the earliest a zip can hold).
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
ZIP_COMPRESSLEVEL = 6


def read_parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        if len(set(names)) != len(names):
            raise ValueError("the package has duplicate zip entries")
        return {n: z.read(n) for n in names if not n.endswith("/")}


def write_parts(parts: Mapping[str, bytes]) -> bytes:
    first = ["[Content_Types].xml", "_rels/.rels"]
    order = [n for n in first if n in parts] + sorted(n for n in parts if n not in first)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name in order:
            info = zipfile.ZipInfo(name, ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0  # MS-DOS, as Excel writes it; not the build machine's OS
            info.external_attr = 0
            z.writestr(info, parts[name], compresslevel=ZIP_COMPRESSLEVEL)
    return buf.getvalue()
