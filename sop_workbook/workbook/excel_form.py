"""The last step of every save: the package in the form Excel 365 itself writes.

openpyxl writes a valid package, but not quite what Excel writes, and it drops what it
does not model. :func:`finish_parts` runs on the parts of every template build and every
headless save (:func:`openpyxl_parts`: openpyxl's output, kept in memory) and puts back:

- **Dynamic arrays.** A UDF that spills (``SOP_KPI_BY``, ``SOP_VENDOR_WATCH``,
  ``SOP_VARIANCE_DETAIL``) is stored as Excel 365 stores a dynamic-array formula: the
  anchor cell ``<c … cm="1"><f t="array" ref="M5:N10">…</f><v>…</v></c>``, where
  ``cm="1"`` points at the cell-metadata record of ``xl/metadata.xml`` carrying the
  dynamic-array property (``XLDAPR``, ``xda:dynamicArrayProperties fDynamic="1"``), with
  the part's content type and workbook relationship (``…/relationships/sheetMetadata``).
  Without it Excel shows a legacy ``{=…}`` array that never resizes. The member cells
  hold plain cached values (``<v>``; text as ``t="str"``, as for any formula result),
  not inline strings. openpyxl drops ``metadata.xml`` and ``cm`` when it loads a file:
  they are written again here on every headless save.
- **Calculation properties.** ``<calcPr calcId="191029"/>`` (the calculation engine of
  current Excel 365) without ``fullCalcOnLoad``: Excel does not recalculate every UDF
  cell on open, so a workbook opened where Python or the xlwings add-in is missing shows
  the values stored by the last refresh instead of errors. (openpyxl writes
  ``calcId="124519" fullCalcOnLoad="1"``.)
- **List validations** without a leading ``=`` (``<formula1>lst_reason</formula1>``), as
  Excel, XlsxWriter and LibreOffice write them.
- **Font records** with their children in the schema's order (``b, i, …, sz, color,
  name, family, charset, scheme``), as Excel writes them; openpyxl writes ``color``
  before ``sz``, which a schema validator reports as an error.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping
from html import unescape
from xml.sax.saxutils import escape

from openpyxl.utils.cell import range_boundaries
from openpyxl.writer.excel import ExcelWriter

from ..zip_parts import PartsArchive, sheet_parts

#: Where :func:`openpyxl_parts` reads the time of the save (``datetime``, as ``wb.save``
#: does): a test that compares two saves byte for byte sets a fixed clock here.
_SAVE_CLOCK = datetime

#: ``calcId`` of the calculation engine of current Excel (2019 / 365).
CALC_ID = 191029

METADATA_PART = "xl/metadata.xml"
METADATA_CONTENT_TYPE = ("application/vnd.openxmlformats-officedocument.spreadsheetml."
                         "sheetMetadata+xml")
METADATA_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sheetMetadata"
#: The cell-metadata part as Excel writes it for dynamic arrays: one metadata type
#: (XLDAPR), one future-metadata block with the dynamic-array property, one cell-metadata
#: record — the record ``cm="1"`` refers to.
METADATA_XML = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<metadata xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    b'xmlns:xda="http://schemas.microsoft.com/office/spreadsheetml/2017/dynamicarray">'
    b'<metadataTypes count="1"><metadataType name="XLDAPR" minSupportedVersion="120000" '
    b'copy="1" pasteAll="1" pasteValues="1" merge="1" splitFirst="1" rowColShift="1" '
    b'clearFormats="1" clearComments="1" assign="1" coerce="1" cellMeta="1"/>'
    b'</metadataTypes><futureMetadata name="XLDAPR" count="1"><bk><extLst>'
    b'<ext uri="{bdbb8cdc-fa1e-496e-a857-3c3f30c029c3}">'
    b'<xda:dynamicArrayProperties fDynamic="1" fCollapsed="0"/></ext></extLst></bk>'
    b'</futureMetadata><cellMetadata count="1"><bk><rc t="1" v="0"/></bk></cellMetadata>'
    b"</metadata>"
)

#: CT_Font's children in schema order.
FONT_ORDER = ("b", "i", "strike", "condense", "extend", "outline", "shadow", "u",
              "vertAlign", "sz", "color", "name", "family", "charset", "scheme")

#: UDFs whose result is an array (spills).
SPILLING_UDFS = frozenset({"SOP_KPI_BY", "SOP_VENDOR_WATCH", "SOP_VARIANCE_DETAIL",
                           "SOP_LABOUR_BY_WORK_CENTER"})


def is_spilling_formula(text: str | None) -> bool:
    """Whether a formula is a call of a UDF that returns an array."""
    if not text:
        return False
    m = re.match(r"=?\s*([A-Za-z_][\w.]*)\s*\(", text)
    return bool(m) and m.group(1).upper() in SPILLING_UDFS


def dynamic_array_anchors(wb) -> dict[str, dict[str, str]]:
    """Sheet title → {anchor cell: array ref} of the dynamic-array (spilling UDF) cells
    an openpyxl workbook holds (``ArrayFormula`` values)."""
    from openpyxl.worksheet.formula import ArrayFormula

    found: dict[str, dict[str, str]] = {}
    for ws in wb.worksheets:
        for cell in list(ws._cells.values()):
            value = cell._value
            if isinstance(value, ArrayFormula) and is_spilling_formula(value.text):
                found.setdefault(ws.title, {})[cell.coordinate] = value.ref
    return found


def openpyxl_parts(wb) -> dict[str, bytes]:
    """The parts openpyxl writes for ``wb`` (what ``wb.save`` puts in its zip, stamped
    modified now as ``wb.save`` stamps it), kept in memory: a save changes them in place
    and zips them once."""
    wb.properties.modified = _SAVE_CLOCK.datetime.now(
        tz=_SAVE_CLOCK.timezone.utc).replace(tzinfo=None)
    archive = PartsArchive()
    ExcelWriter(wb, archive).save()
    return archive.parts


def finish_parts(parts: dict[str, bytes],
                 anchors: Mapping[str, Mapping[str, str]] | None = None) -> None:
    """The package's ``parts`` (name → bytes, changed in place) in Excel's own form
    (module docstring). ``anchors``: sheet title → {anchor cell: array ref} of the
    dynamic-array formulas."""
    anchors = {t: dict(a) for t, a in (anchors or {}).items() if a}
    for title, part in sheet_parts(parts).items():
        xml = parts[part].decode("utf-8")
        new = _list_validations(xml)
        if title in anchors:
            new = _dynamic_cells(new, anchors[title])
        if new != xml:
            parts[part] = new.encode("utf-8")
    if "xl/workbook.xml" in parts:
        parts["xl/workbook.xml"] = _calc_properties(parts["xl/workbook.xml"].decode(
            "utf-8")).encode("utf-8")
    if "xl/styles.xml" in parts:
        parts["xl/styles.xml"] = _font_order(parts["xl/styles.xml"].decode("utf-8")).encode(
            "utf-8")
    if anchors:
        _add_metadata_part(parts)


# --------------------------------------------------------------------------- parts


def _calc_properties(xml: str) -> str:
    calc = f'<calcPr calcId="{CALC_ID}"/>'
    m = re.search(r"<calcPr\b[^>]*?/>|<calcPr\b[^>]*>.*?</calcPr>", xml, re.S)
    if m:
        return xml[:m.start()] + calc + xml[m.end():]
    # after sheets/functionGroups/externalReferences/definedNames, before the rest
    for before in ("</definedNames>", "</externalReferences>", "</functionGroups>",
                   "</sheets>"):
        i = xml.find(before)
        if i >= 0:
            i += len(before)
            return xml[:i] + calc + xml[i:]
    return xml


def _list_validations(xml: str) -> str:
    if "<dataValidation" not in xml:
        return xml
    return re.sub(r"<(formula[12])>=", r"<\1>", xml)


def _font_order(xml: str) -> str:
    rank = {name: i for i, name in enumerate(FONT_ORDER)}

    def reorder(m: re.Match) -> str:
        body = m.group(2)
        children = re.findall(r"<(\w+)\b[^>]*/>", body)
        pieces = re.findall(r"<\w+\b[^>]*/>", body)
        if "".join(pieces) != re.sub(r">\s+<", "><", body.strip()) or any(
                c not in rank for c in children):
            return m.group(0)  # not only known empty elements: left as written
        ordered = sorted(zip(children, pieces, strict=True), key=lambda p: rank[p[0]])
        return m.group(1) + "".join(p for _, p in ordered) + "</font>"

    return re.sub(r"(<font\b[^>]*>)(.*?)</font>", reorder, xml, flags=re.S)


_CELL = re.compile(r'<c r="([A-Z]+)(\d+)"([^>]*?)(?:/>|>(.*?)</c>)', re.S)


def _dynamic_cells(xml: str, anchors: Mapping[str, str]) -> str:
    boxes = [(coord, range_boundaries(ref)) for coord, ref in anchors.items()]

    def col_index(letters: str) -> int:
        n = 0
        for ch in letters:
            n = n * 26 + ord(ch) - 64
        return n

    def fix(m: re.Match) -> str:
        letters, row, attrs, content = m.group(1), m.group(2), m.group(3), m.group(4)
        coord = letters + row
        if coord in anchors:
            attrs = re.sub(r'\s+cm="[^"]*"', "", attrs)
            return f'<c r="{coord}"{attrs} cm="1">{content or ""}</c>'
        c, r = col_index(letters), int(row)
        if not any(b[0] <= c <= b[2] and b[1] <= r <= b[3] for _, b in boxes):
            return m.group(0)
        if content is None or "<f" in content:
            return m.group(0)
        inline = re.fullmatch(r"<is>(.*)</is>", content, re.S)
        if inline and 't="inlineStr"' in attrs:
            text = "".join(unescape(t) for t in re.findall(r"<t[^>]*>(.*?)</t>",
                                                           inline.group(1), re.S))
            attrs = attrs.replace('t="inlineStr"', 't="str"')
            return f'<c r="{coord}"{attrs}><v>{escape(text)}</v></c>'
        return m.group(0)

    return _CELL.sub(fix, xml)


def _add_metadata_part(parts: dict[str, bytes]) -> None:
    parts[METADATA_PART] = METADATA_XML
    ct = parts["[Content_Types].xml"].decode("utf-8")
    if f'PartName="/{METADATA_PART}"' not in ct:
        ct = ct.replace("</Types>", f'<Override PartName="/{METADATA_PART}" '
                                    f'ContentType="{METADATA_CONTENT_TYPE}"/></Types>')
        parts["[Content_Types].xml"] = ct.encode("utf-8")
    rels_name = "xl/_rels/workbook.xml.rels"
    rels = parts[rels_name].decode("utf-8")
    if METADATA_REL not in rels:
        ids = {int(n) for n in re.findall(r'Id="rId(\d+)"', rels)}
        rid = f"rId{max(ids, default=0) + 1}"
        rels = rels.replace("</Relationships>", f'<Relationship Id="{rid}" '
                            f'Type="{METADATA_REL}" Target="metadata.xml"/></Relationships>')
        parts[rels_name] = rels.encode("utf-8")


def spill_members(anchors: Mapping[str, str]) -> Iterable[tuple[str, int, int]]:
    """(anchor, row, column) of every cell the arrays cover (anchors included)."""
    for coord, ref in anchors.items():
        min_col, min_row, max_col, max_row = range_boundaries(ref)
        for r in range(min_row, max_row + 1):
            for c in range(min_col, max_col + 1):
                yield coord, r, c
