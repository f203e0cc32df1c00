"""Is this file an S&OP workbook we may work on? Checked before any work.

:func:`check_sop_workbook` reads only the zip directory and the small XML parts that name
sheets, defined names and tables (with defusedxml: no entity expansion), and refuses, in
one line naming what is wrong:

- a path that is not a regular file (a directory, FIFO or device), or unreadable;
- a file that is not a zip, a zip bomb (:func:`io.check_zip_limits`), a zip holding two
  entries of the same name (readers disagree on which one counts);
- a workbook that is not an S&OP workbook: every sheet, table (with its columns) and
  defined name of the template (``SOP_Template.xlsm``) the commands rely on must be
  there, and each defined name must point at a sheet that exists. Extra sheets, tables,
  columns and names are fine.

``sop undo`` applies the same check to the backup it would restore
(:mod:`sop_workbook.workbook.undo`).
"""

from __future__ import annotations

import functools
import io
import os
import posixpath
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import SopError
from .io import check_zip_limits, io_error

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_RID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


@dataclass(frozen=True)
class Structure:
    sheets: tuple[str, ...]
    names: dict[str, str]  # defined name → its formula text (workbook scope)
    tables: dict[str, tuple[str, ...]]  # table display name → column names


def check_regular_file(path: Path, what: str = "workbook") -> None:
    """A regular file (after symlinks) that exists — never block on a FIFO or device."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise SopError(f"{what} not found: {path}") from None
    except OSError as exc:
        raise io_error(exc, f"cannot read {path}") from None
    if not stat.S_ISREG(st.st_mode):
        kind = ("a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO (named pipe)"
                if stat.S_ISFIFO(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode)
                or stat.S_ISBLK(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
                else "not a regular file")
        raise SopError(f"{path} is {kind}, not a {what} file")


def structure(data: bytes, label: str) -> Structure:
    """Sheets, defined names and tables of a workbook zip (refusing duplicate entries)."""
    from defusedxml import ElementTree

    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise SopError(f"{label} is not a workbook (.xlsx/.xlsm is a zip file): {exc}") \
            from None
    with z:
        names = [i.filename for i in z.infolist()]
        seen: set[str] = set()
        for name in names:
            key = name.lower()
            if key in seen:
                raise SopError(f"{label} holds two zip entries named {name!r}; refusing to "
                               "use it (programs disagree on which one counts)")
            seen.add(key)
        if "xl/workbook.xml" not in seen:
            raise SopError(f"{label} is not an Excel workbook (no xl/workbook.xml)")

        def parse(part: str):
            try:
                return ElementTree.fromstring(z.read(part))
            except Exception as exc:  # defusedxml refusals, syntax errors, bad CRC
                raise SopError(f"{label}: part {part} is damaged or unsafe ({exc})") from None

        book = parse("xl/workbook.xml")
        sheets = tuple(el.get("name", "") for el in book.iter(f"{_MAIN}sheet"))
        defined = {el.get("name", ""): (el.text or "") for el in book.iter(f"{_MAIN}definedName")
                   if el.get("localSheetId") is None}
        tables: dict[str, tuple[str, ...]] = {}
        for part in sorted(_table_parts(z, parse, set(names))):
            root = parse(part)
            cols = tuple(el.get("name", "") for el in root.iter(f"{_MAIN}tableColumn"))
            tables[root.get("displayName") or root.get("name") or part] = cols
    return Structure(sheets, defined, tables)


def _table_parts(z: zipfile.ZipFile, parse, names: set[str]) -> set[str]:
    """Table parts referenced from the worksheets of the workbook."""
    found: set[str] = set()
    rels_part = "xl/_rels/workbook.xml.rels"
    if rels_part not in names:
        return found
    for rel in parse(rels_part).iter(f"{_REL}Relationship"):
        if not rel.get("Type", "").endswith("/worksheet"):
            continue
        sheet = posixpath.normpath(posixpath.join("xl", rel.get("Target", "")))
        if rel.get("Target", "").startswith("/"):
            sheet = rel.get("Target", "").lstrip("/")
        sheet_rels = posixpath.join(posixpath.dirname(sheet), "_rels",
                                    posixpath.basename(sheet) + ".rels")
        if sheet_rels not in names:
            continue
        for srel in parse(sheet_rels).iter(f"{_REL}Relationship"):
            if srel.get("Type", "").endswith("/table"):
                target = srel.get("Target", "")
                part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                    posixpath.join(posixpath.dirname(sheet), target))
                if part in names:
                    found.add(part)
    return found


#: Builds the template's bytes (:func:`sop_workbook.template.build.build_template_bytes`,
#: which the command line passes in): what a workbook is checked against when no
#: SOP_Template.xlsm is at hand.
TemplateBuilder = Callable[[], bytes]


@functools.lru_cache(maxsize=1)
def reference(build: TemplateBuilder | None = None) -> Structure:
    """What every S&OP workbook has: the template's sheets, tables and names — read from
    SOP_Template.xlsm, or from the template ``build`` makes when there is none."""
    here = Path(__file__).resolve()
    # the repository's file, or the copy inside an installed package (as
    # template.build.packaged_template, without importing the builder)
    for template in (here.parents[2] / "SOP_Template.xlsm", here.parents[1] /
                     "SOP_Template.xlsm"):
        if template.is_file():
            data = template.read_bytes()
            break
    else:
        if build is None:
            raise SopError("no SOP_Template.xlsm to check the workbook against",
                           "Run sop build-template, or check through the sop command.")
        data = build()
    return structure(data, "SOP_Template.xlsm")


def check_sop_workbook(path: str | Path, what: str = "workbook",
                       template: TemplateBuilder | None = None) -> Structure:
    """Refuse ``path`` unless it is a readable, sane S&OP workbook (module docstring);
    ``template`` builds the template to compare with when SOP_Template.xlsm is missing."""
    path = Path(path)
    check_regular_file(path, what)
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise io_error(exc, f"cannot read {path}") from None
    if head[:2] != b"PK":
        raise SopError(f"{path} is not a workbook (.xlsx/.xlsm is a zip file)")
    check_zip_limits(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise io_error(exc, f"cannot read {path}") from None
    found = structure(data, str(path))
    ref = reference(template)
    problems = []
    missing_sheets = [s for s in ref.sheets if s not in found.sheets]
    missing_tables = [t for t in ref.tables if t not in found.tables]
    if len(missing_tables) > len(ref.tables) // 2:
        raise SopError(f"{path} is not an S&OP workbook: it lacks {len(missing_tables)} of "
                       f"the template's {len(ref.tables)} tables (e.g. "
                       f"{', '.join(missing_tables[:3])})", "Nothing was changed.")
    if missing_sheets:
        problems.append(f"no sheet {missing_sheets[0]!r}"
                        + (f" (and {len(missing_sheets) - 1} more)" if len(missing_sheets) > 1
                           else ""))
    for table in missing_tables:
        problems.append(f"no table {table!r}")
    for table, cols in ref.tables.items():
        if table in found.tables:
            have = {str(c).strip().lower() for c in found.tables[table]}
            lost = [c for c in cols if str(c).strip().lower() not in have]
            if lost:
                problems.append(f"table {table!r} has no column {lost[0]!r}"
                                + (f" (and {len(lost) - 1} more)" if len(lost) > 1 else ""))
    for name in ref.names:
        if name.startswith("_xlnm") or name.startswith("_xlfn"):
            continue
        text = found.names.get(name)
        if text is None:
            problems.append(f"no defined name {name!r}")
            continue
        sheet = _sheet_of(text)
        if sheet is not None and sheet not in found.sheets:
            problems.append(f"defined name {name!r} points at sheet {sheet!r}, which does "
                            "not exist" if "#REF" not in text else
                            f"defined name {name!r} points nowhere ({text})")
        elif "#REF!" in text:
            problems.append(f"defined name {name!r} points nowhere ({text})")
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise SopError(f"{path} is not a usable S&OP workbook: {problems[0]}{more}",
                       "\n".join(problems[1:21]))
    return found


def _sheet_of(formula: str) -> str | None:
    """The sheet a simple reference (``'1 Performance'!$B$2``, ``Config!B5``) names."""
    text = formula.strip().lstrip("=")
    if "!" not in text or "(" in text:
        return None
    sheet = text.rsplit("!", 1)[0]
    if sheet.startswith("'") and sheet.endswith("'"):
        sheet = sheet[1:-1].replace("''", "'")
    return sheet
