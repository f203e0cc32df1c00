"""The headless workbook adapter: the workbook interface on openpyxl (no Excel).

The same interface has an xlwings adapter (:mod:`sop_workbook.workbook.live`) used when a
ribbon button runs inside Excel; the actions in :mod:`sop_workbook.actions` only see this
interface.

Data sheets (one Excel table and nothing else — the master, ``agg_*`` and detail tables)
are not loaded cell by cell: openpyxl sees only their header, their rows are parsed when
:meth:`HeadlessWorkbook.read_table` asks and streamed into the file on save
(:mod:`sop_workbook.workbook.datasheet_reader`,
:mod:`~sop_workbook.workbook.datasheet_writer`). Big tables on the other sheets (the review
stages' plan tables, the plan history) are kept out of openpyxl the same way on open
(:mod:`sop_workbook.workbook.kept`: parsed when read, put back unchanged at save unless
rewritten) and streamed when written. ``wb`` (openpyxl) therefore holds every sheet
except the rows of data sheets and of those big tables.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import re
import weakref
import zipfile
from collections.abc import Callable
from copy import copy
from io import BytesIO
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
from openpyxl.cell.cell import Cell
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import coordinate_to_tuple, range_boundaries
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.formula import ArrayFormula

from ..errors import SopError
from ..zip_parts import sheet_parts
from . import datasheet_reader, datasheet_writer, datasheet_xml
from .col_widths import fit_sheet, frame_needs, merge_needs
from .datasheet_reader import DataSheet
from .datasheet_writer import ColumnSpec, StreamedTable
from .excel_form import dynamic_array_anchors, finish_parts, openpyxl_parts
from .formula import XlError
from .io import DEFAULT_BACKUPS, atomic_write, check_zip_limits
from .kept import KeptTable, PartSource, read_part
from .recalc import evaluate_all, formula_text, read_stored_results, store_cached_values
from .row_heights import fit_wrapped_rows
from .table_rows import rows_from_first

#: A table on a sheet with other content whose body has more rows than this is streamed
#: into the file at save (datasheet_writer.StreamedTable) instead of becoming openpyxl cells.
STREAM_MIN_ROWS = 500
#: Rows of a worksheet in Excel: a table written past it would make a file Excel refuses.
EXCEL_MAX_ROWS = 1_048_576


def _cell_value(value):
    """A DataFrame value as a cell value (NaN/NaT → empty; numpy → Python)."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NaT or value is pd.NA:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def _appended(name: str) -> str:
    """The key of the rows appended to a kept table (:meth:`HeadlessWorkbook.append_rows`)
    among the streamed bodies."""
    return f"{name}\0appended"


#: Bytes of a kept table's XML inflated and parsed at a time by
#: :meth:`HeadlessWorkbook.read_table_from` (whole rows; a row longer is one slice).
KEPT_SLICE = 8 << 20


def _kept_slices(table: KeptTable, data: bytes, segments=None, first: int = 0):
    """(a, b, xml, base) for successive runs a … b-1 of a kept table's rows from row
    ``first`` on, each of about :data:`KEPT_SLICE` bytes: ``xml`` the part's XML from
    ``base`` on, through the run's last row — inflated as it goes (what lies before a
    slice is dropped; with the part's ``segments``, a segment wholly before the slice is
    not inflated)."""
    begins, ends = table.row_bounds()
    n = len(table.rows)
    if table.xml is not None:
        whole = memoryview(table.xml)

        def read(start: int, stop: int):
            return whole[start:stop]
    else:
        read = PartSource(data, table.part, segments).reader().read
    a = first
    while a < n:
        b = int(np.searchsorted(begins, int(begins[a]) + KEPT_SLICE, side="left"))
        b = min(n, max(b, a + 1))
        base = int(begins[a])
        yield a, b, read(base, int(ends[b - 1])), base
        a = b


def _segment_rows(table: KeptTable, segments) -> list[int]:
    """The kept rows (indices) that begin a segment of the part (:mod:`.deflate_segments`),
    ascending: a row there is read without inflating anything before its segment."""
    if segments is None or table.xml is not None:
        return []
    begins, _ = table.row_bounds()
    starts = np.array([seg.start for seg in segments.segments], dtype=np.int64)
    at = np.searchsorted(begins, starts)
    hit = (at < len(begins)) & (begins[np.minimum(at, len(begins) - 1)] == starts)
    return sorted({int(i) for i in at[hit]})


class _Ref:
    """A range for :func:`datasheet_reader.parse_rows` (which reads only a table's ``ref``)."""

    def __init__(self, ref: str) -> None:
        self.ref = ref


class HeadlessWorkbook:
    """A workbook file opened with openpyxl (formulas kept, VBA project kept)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise SopError(f"workbook not found: {self.path}")
        check_zip_limits(self.path)
        try:
            self._package = datasheet_reader.open_package(self.path.read_bytes())
            self.wb = openpyxl.load_workbook(BytesIO(self._package.stub), keep_vba=True)
            self._package.stub = b""  # loaded: not held for the whole command
        except SopError:
            raise
        except Exception as exc:  # openpyxl raises many kinds for a bad file
            raise SopError(f"cannot open {self.path} as a workbook: {exc}") from None
        self.tables = {t.displayName: (ws, t) for ws in self.wb.worksheets
                       for t in ws.tables.values()}
        self._data: dict[str, DataSheet] = {}
        self._date_styles = set(self.wb._date_formats)
        self._shared_strings: list | None = None
        for title, sheet in self._package.sheets.items():
            ws = self.wb[title]
            if len(ws.tables) != 1:
                continue
            self._data[title] = sheet
            header = range_boundaries(sheet.ref)[1]
            for (r, c), cell in list(ws._cells.items()):
                if r > header:  # the stub's first data row: the columns' styles
                    sheet.styles[c] = copy(cell._style)
                    del ws._cells[(r, c)]
        self._streamed: dict[str, StreamedTable] = {}  # by table name
        # big tables of the stage sheets as they are in the file (parsed when read, put
        # back unchanged at save unless written): kept.py
        self._kept: dict[str, KeptTable] = dict(self._package.kept)
        for table in self._kept.values():
            ws = self.wb[table.title]
            table.columns = [ws.cell(table.header_row, c).value
                             for c in range(table.min_col, table.max_col + 1)]
            for c in range(table.min_col, table.max_col + 1):
                cell = ws._cells.pop((table.first_row, c), None)
                if cell is not None:  # the first body row: the columns' styles
                    table.styles[c] = copy(cell._style)
        # background jobs rendering and compressing table bodies written since open (by
        # table name): a table written again, or a workbook dropped unsaved, cancels them
        self._jobs: dict[str, list[datasheet_writer.Job]] = {}
        weakref.finalize(self, _cancel_jobs, self._jobs)
        self._cached: dict[tuple[str, str], object] = {}
        self._changed = False  # a value or table written since the last recalculation
        self._values = None  # the file's cached results, loaded when first needed

    # ------------------------------------------------------------- names and cells
    def _name_cell(self, name: str):
        defined = self.wb.defined_names.get(name)
        if defined is None:
            raise SopError(f"the workbook has no name {name!r}")
        sheet, _, ref = defined.attr_text.rpartition("!")
        return self.wb[sheet.strip("'").replace("''", "'")][ref.replace("$", "")]

    def get_value(self, name: str):
        return self._name_cell(name).value

    def address(self, name: str) -> str:
        """Where a defined name points, as Sheet!A1 (for messages)."""
        cell = self._name_cell(name)
        return f"{cell.parent.title}!{cell.coordinate}"

    def set_value(self, name: str, value) -> None:
        cell = self._name_cell(name)
        cell.value = value
        self._changed = True
        if isinstance(value, str):
            cell.data_type = "s"  # text stays text, even if it starts with "="

    # ------------------------------------------------------------- shown values
    def result_at(self, sheet: str, coord: str):
        """What the cell shows: its value, or for a formula the last computed result."""
        coord = coord.replace("$", "").upper()
        if (sheet, coord) in self._cached:
            value = self._cached[(sheet, coord)]
            return value.code if isinstance(value, XlError) else value  # e.g. "#N/A"
        if sheet in self._data:
            return _DataSheetView(self, self.wb[sheet])[coord].value
        if self._streamed_on(sheet):
            r, c = coordinate_to_tuple(coord)
            for body in self._streamed_on(sheet):
                if body.holds(r, c):
                    return self._body_rows(body)[r - body.first_row][c - body.min_col] \
                        if r - body.first_row < len(self._body_rows(body)) else None
        value = self.wb[sheet][coord].value
        if isinstance(value, str) and value.startswith("="):
            if self._values is None:
                package = datasheet_reader.open_package(self.path.read_bytes())
                self._values = openpyxl.load_workbook(BytesIO(package.stub), data_only=True,
                                                      keep_vba=True)
            return self._values[sheet][coord].value
        return value

    def result_of_name(self, name: str):
        cell = self._name_cell(name)
        return self.result_at(cell.parent.title, cell.coordinate)

    # ------------------------------------------------------------- tables
    def table_columns(self, name: str) -> list[str]:
        ws, table = self._table(name)
        min_col, min_row, max_col, _ = range_boundaries(table.ref)
        return [ws.cell(min_row, c).value for c in range(min_col, max_col + 1)]

    def _table(self, name: str):
        if name not in self.tables:
            raise SopError(f"the workbook has no table {name!r}")
        return self.tables[name]

    def _data_sheet(self, ws) -> DataSheet | None:
        return self._data.get(ws.title)

    def _frame(self, sheet: DataSheet, columns: list[str]) -> pd.DataFrame:
        """The rows of a data sheet as read_table gives them (parsed once)."""
        if sheet.frame is None:
            xml = datasheet_xml.sheet_xml(self._package.source, sheet.part, sheet.title)
            if sheet.shared is None:  # not looked for on open: in the rows read now
                sheet.shared = datasheet_reader.holds_shared_strings(xml)
            if sheet.has_shared_strings and self._shared_strings is None:
                self._shared_strings = _shared_strings(self._package.source)
            sheet.frame = datasheet_reader.parse_rows(
                xml, sheet, columns, date_styles=self._date_styles,
                shared_strings=self._shared_strings, epoch=self.wb.epoch)
        return sheet.frame

    def _rows(self, sheet: DataSheet, name: str) -> list[list]:
        """The rows of a data sheet as cell values (what openpyxl cells would hold)."""
        if sheet.values is None:
            columns = self.table_columns(name)
            frame = sheet.written if sheet.dirty else self._frame(sheet, columns)
            sheet.values = _python_rows(frame, columns)
        return sheet.values

    def read_table(self, name: str) -> pd.DataFrame:
        """The table's rows (empty rows dropped; the index is each row's offset below the
        header, so ``header row + 1 + index`` is its row on the sheet)."""
        ws, table = self._table(name)
        sheet = self._data_sheet(ws)
        if sheet is not None:
            columns = self.table_columns(name)
            if sheet.dirty:
                return pd.DataFrame(self._rows(sheet, name), columns=columns).dropna(
                    how="all")
            return self._frame(sheet, columns).copy()
        body = self._streamed.get(name)
        if body is not None:
            return pd.DataFrame(self._body_rows(body), columns=body.columns).dropna(
                how="all")
        if name in self._kept:  # usually read once per command: handed out, not kept
            kept = self._kept[name]
            frame = self._kept_frame(kept)
            kept.frame = None
            tail = self._streamed.get(_appended(name))
            if tail is not None:  # rows appended since open (append_rows)
                below = pd.DataFrame(self._body_rows(tail), columns=tail.columns, index=range(
                    tail.first_row - kept.first_row, tail.last_row - kept.first_row + 1))
                frame = pd.concat([frame, below.dropna(how="all")])
            return frame
        min_col, min_row, max_col, max_row = range_boundaries(table.ref)
        rows = [[c.value for c in row] for row in ws.iter_rows(
            min_row=min_row, max_row=max_row, min_col=min_col, max_col=max_col)]
        frame = pd.DataFrame(rows[1:], columns=rows[0])
        return frame.dropna(how="all")

    def read_table_from(self, name: str, column: str, starts: Callable[[object], bool],
                        columns: list[str] | None = None) -> pd.DataFrame:
        """The rows of a table kept in ascending order of ``column`` (as Roll forward keeps
        plan_history), from the first whose value satisfies ``starts`` on — ``starts``
        false before that row and true from it. A big table kept out of openpyxl is
        inflated slice by slice (never whole), the slices before that row skipped on one
        cell each, that row bisected within its slice (one cell parsed per step), and only
        the rows from there are parsed (a history of years costs what its tail costs);
        any other table is read whole and cut the same way. ``columns``: the columns
        the caller reads — of a kept table only those are checked and converted, the
        others come back empty. Index as :meth:`read_table`'s."""
        table = self._kept.get(name)
        if table is None or table.frame is not None or column not in table.columns \
                or len(table.rows) < 2 or _appended(name) in self._streamed:
            return rows_from_first(self.read_table(name), column, starts)
        if table.has_shared_strings and self._shared_strings is None:
            self._shared_strings = _shared_strings(self._package.source)
        at = table.columns.index(column)
        only = None if columns is None else \
            [table.columns.index(c) for c in {*columns, column} if c in table.columns]

        def parse(buf, base: int, a: int, b: int, which=None) -> pd.DataFrame:
            """Kept rows a … b-1 (of ``which`` columns), parsed from ``buf`` (the part's
            XML from ``base`` on), indexed as the whole table's rows are."""
            chosen = np.zeros(len(table.rows), dtype=bool)
            chosen[a:b] = True
            first, last = int(table.rows[a]), int(table.rows[b - 1])
            ref = _Ref(f"{get_column_letter(table.min_col)}{first - 1}:"
                       f"{get_column_letter(table.max_col)}{last}")
            frame = datasheet_reader.parse_rows(
                table.body_xml(buf, chosen, base), ref, table.columns,
                date_styles=self._date_styles, shared_strings=self._shared_strings,
                epoch=self.wb.epoch, only=which)
            frame.index = frame.index + (first - table.first_row)
            return frame

        def value(buf, base: int, i: int):  # the cell of ``column`` in kept row i, alone
            frame = parse(buf, base, i, i + 1, [at])
            return frame.iloc[0, at] if len(frame) else None

        # the part's XML is inflated once, slice by slice of whole rows (never whole): a
        # slice whose last row fails ``starts`` is skipped; in the first whose last row
        # satisfies it the first row that does is bisected (one cell parsed per step),
        # and the rows from there on are parsed. A row beginning a segment of the part
        # is read alone (its segment inflated from its start, nothing before it): the
        # last such row before the first that satisfies ``starts`` is bisected for, and
        # the slices begin there
        segments = self._package.segments.get(table.part)
        marks, first = _segment_rows(table, segments), 0
        if len(marks) > 1:
            begins, ends = table.row_bounds()

            def alone(i: int):
                read = PartSource(self._package.source, table.part, segments).reader().read
                return value(read(int(begins[i]), int(ends[i])), int(begins[i]), i)

            lo = bisect.bisect_left(marks, True, key=lambda i: bool(starts(alone(i))))
            first = marks[lo - 1] if lo else 0  # marks[:lo] fail ``starts``
        frames = []
        for a, b, buf, base in _kept_slices(table, self._package.source, segments, first):
            if not frames:
                if not starts(value(buf, base, b - 1)):
                    continue
                a = bisect.bisect_left(range(a, b - 1), True,
                                       key=lambda i: bool(starts(value(buf, base, i)))) + a
            frames.append(parse(buf, base, a, b, only))
        if not frames:  # no row from which ``starts`` holds
            return datasheet_reader.parse_rows(
                table.body_xml(b"", np.zeros(len(table.rows), dtype=bool)), table,
                table.columns, date_styles=self._date_styles,
                shared_strings=self._shared_strings, epoch=self.wb.epoch, only=only)
        if len(frames) == 1:
            return frames[0]
        # a column empty in one slice came back as objects there: typed as a whole read's
        return pd.concat(frames).infer_objects()

    def _check_no_overlap(self, ws, name: str, ref: str) -> None:
        a = range_boundaries(ref)
        for other in ws.tables.values():
            if other.displayName == name:
                continue
            b = range_boundaries(other.ref)
            if a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]:
                raise SopError(f"table {name} would grow over table {other.displayName} on "
                               f"sheet {ws.title}", "The workbook was not changed.")

    def table_position(self, name: str) -> tuple[str, int]:
        """(sheet title, header row) of a table."""
        ws, table = self._table(name)
        return ws.title, range_boundaries(table.ref)[1]

    def column_letter(self, table: str, column: str) -> str:
        _, t = self._table(table)
        min_col = range_boundaries(t.ref)[0]
        return get_column_letter(min_col + self.table_columns(table).index(column))

    # ------------------------------------------------------------- input areas
    def table_body_rows(self, name: str) -> int:
        """The rows of the table's body (blank rows included)."""
        _, table = self._table(name)
        _, min_row, _, max_row = range_boundaries(table.ref)
        return max_row - min_row

    def typed_rows_below(self, name: str) -> list[tuple[int, list]]:
        """(sheet row, values in the table's columns) of each row typed in the input area
        right below the table: the rows in which at least one of the table's columns is
        unlocked, and rows typed (unformatted, or formatted as the table's body) right
        after the table or those rows; up to the first other row or another table (see
        :mod:`sop_workbook.input_rows`)."""
        ws, table = self._table(name)
        if self._data_sheet(ws) is not None or name in self._streamed:
            return []
        min_col, min_row, max_col, max_row = range_boundaries(table.ref)
        others = [range_boundaries(t.ref) for t in ws.tables.values() if t is not table]
        last = max((r for r, _ in ws._cells), default=0)
        body = {c: ws._cells[(min_row + 1, c)]._style for c in range(min_col, max_col + 1)
                if (min_row + 1, c) in ws._cells}

        def looks_typed(cell, c: int) -> bool:  # unformatted, or formatted as the body
            return cell is None or not cell.has_style or cell._style == body.get(c)

        found = []
        for r in range(max_row + 1, last + 1):
            if any(o[0] <= max_col and min_col <= o[2] and o[1] <= r <= o[3] for o in others):
                break
            row = [ws._cells.get((r, c)) for c in range(min_col, max_col + 1)]
            values = [None if cell is None else cell.value for cell in row]
            typed = [not (v is None or (isinstance(v, str) and not v.strip())) for v in values]
            locked = not any(cell is not None and not cell.protection.locked for cell in row)
            # a locked row: taken only if typed right after the table or the rows taken (as
            # Excel grows a table on an unprotected sheet), never a title or a formatted
            # cell of something else
            if locked and (not any(typed) or not all(
                    looks_typed(cell, min_col + j) for j, cell in enumerate(row) if typed[j])):
                break
            # a row with yellow cells ends the area too when a locked cell of it holds
            # something formatted otherwise (a label of the settings below a table)
            if not locked and not all(
                    looks_typed(cell, min_col + j) for j, cell in enumerate(row)
                    if typed[j] and cell.protection.locked):
                break
            if any(typed):
                found.append((r, values))
        return found

    def extend_table(self, name: str, last_row: int) -> None:
        """Let the table's range reach down to ``last_row`` (its cells are not touched)."""
        ws, table = self._table(name)
        min_col, min_row, max_col, max_row = range_boundaries(table.ref)
        if last_row <= max_row:
            return
        ref = f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{last_row}"
        self._check_no_overlap(ws, name, ref)
        table.ref = ref
        if table.autoFilter is not None:
            table.autoFilter.ref = ref

    def write_table(self, name: str, frame: pd.DataFrame) -> None:
        """Replace the table's rows with ``frame`` (columns matched by name; the table
        grows or shrinks, keeping at least one row). Text is written as text."""
        ws, table = self._table(name)
        self._changed = True
        min_col, min_row, max_col, max_row = range_boundaries(table.ref)
        columns = self.table_columns(name)
        if _appended(name) in self._streamed:  # rows appended since open: rewritten too
            _cancel_jobs(self._jobs, _appended(name))
            del self._streamed[_appended(name)]
        unknown = [c for c in frame.columns if c not in columns]
        if unknown:
            raise SopError(f"table {name} has no column(s) {', '.join(map(str, unknown))}")
        n = len(frame)
        new_max = min_row + max(n, 1)
        if new_max > EXCEL_MAX_ROWS:
            raise SopError(f"table {name} would need {n:,} rows on sheet {ws.title}, past "
                           f"Excel's last row {EXCEL_MAX_ROWS:,}",
                           "The workbook was not changed.")
        ref = f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{new_max}"
        self._check_no_overlap(ws, name, ref)
        sheet = self._data_sheet(ws)
        if sheet is not None:
            specs = [self._column_spec(ws, sheet, min_col + j, frame.get(col))
                     for j, col in enumerate(columns)]
            encoded = datasheet_writer.encode(frame, columns, specs, min_col, min_row + 1,
                                       name)  # raises before anything changes
            _cancel_jobs(self._jobs, name)
            # the jobs hold the encoded rows until they are done
            sheet.deflated = self._jobs[name] = datasheet_writer.deflate_rows_later(encoded)
            sheet.written = frame.copy()
            sheet.columns = columns
            sheet.dirty = True
            sheet.frame = None
            sheet.values = None
        elif n > STREAM_MIN_ROWS:
            self._stream_body(ws, name, frame, columns, min_col, min_row, max_col, max_row)
        else:
            body = self._streamed.pop(name, None) or self._kept.pop(name, None)
            if body is not None:  # the first body row's cells carry the columns' styles
                for c, style in body.styles.items():
                    ws.cell(min_row + 1, c)._style = copy(style)
                max_row = min_row + 1
            self._write_cells(ws, frame, columns, min_col, min_row, max_col, max_row, new_max)
        table.ref = ref
        if table.autoFilter is not None:
            table.autoFilter.ref = ref

    def append_rows(self, name: str, frame: pd.DataFrame) -> None:
        """Add ``frame``'s rows (columns matched by name) below the table's rows — what
        ``write_table(name, read_table(name) + frame)`` writes. A big table kept from the
        file whose body rows follow one another without a gap (as write_table leaves
        them) is not read or encoded again: its rows are put back as they were at save,
        the new ones streamed below them (roll forward adds an archived plan to a plan
        history of years at the cost of the plan). Any other table is read, joined and
        written."""
        ws, table = self._table(name)
        kept = self._kept.get(name)
        columns = self.table_columns(name)
        gapless = kept is not None and kept.frame is None and len(kept.rows) > 0 \
            and int(kept.rows[0]) == kept.first_row and int(kept.rows[-1]) == kept.last_row \
            and len(kept.rows) == kept.n_rows and not kept.has_shared_strings \
            and _appended(name) not in self._streamed and name not in self._jobs
        if not gapless or frame.empty or range_boundaries(table.ref)[3] != kept.last_row:
            old = self.read_table(name)
            self.write_table(name, pd.concat([old.reset_index(drop=True), frame],
                                             ignore_index=True) if len(old) else frame)
            return
        unknown = [c for c in frame.columns if c not in columns]
        if unknown:
            raise SopError(f"table {name} has no column(s) {', '.join(map(str, unknown))}")
        new_max = kept.last_row + len(frame)
        if new_max > EXCEL_MAX_ROWS:
            raise SopError(f"table {name} would need {new_max - kept.header_row:,} rows on "
                           f"sheet {ws.title}, past Excel's last row {EXCEL_MAX_ROWS:,}",
                           "The workbook was not changed.")
        ref = f"{get_column_letter(kept.min_col)}{kept.header_row}:" \
              f"{get_column_letter(kept.max_col)}{new_max}"
        self._check_no_overlap(ws, name, ref)
        probe = DataSheet(ws.title, "", "", "", False, kept.last_row + 1, styles=kept.styles)
        specs = [self._column_spec(ws, probe, kept.min_col + j, frame.get(col))
                 for j, col in enumerate(columns)]
        encoded = datasheet_writer.encode(frame, columns, specs, kept.min_col, kept.last_row + 1,
                                   name)  # raises before anything changes
        self._changed = True
        self._jobs[_appended(name)] = [datasheet_writer.prepare_later(encoded)]
        for key in [k for k in ws._cells if kept.last_row < k[0] <= new_max
                    and kept.min_col <= k[1] <= kept.max_col]:
            del ws._cells[key]
        self._streamed[_appended(name)] = StreamedTable(
            name, ws.title, kept.min_col, kept.max_col, kept.last_row, encoded, frame.copy(),
            columns, kept.styles)
        table.ref = ref
        if table.autoFilter is not None:
            table.autoFilter.ref = ref

    def _stream_body(self, ws, name, frame, columns, min_col, min_row, max_col,
                     max_row) -> None:
        """Keep a big table's body out of openpyxl: encoded now (raising before anything
        changes), streamed into the sheet at save."""
        old = self._streamed.get(name) or self._kept.get(name)
        if old is not None:
            styles = old.styles
            max_row = max(max_row, old.last_row)
        else:
            styles = {c: copy(ws._cells[(min_row + 1, c)]._style)
                      for c in range(min_col, max_col + 1) if (min_row + 1, c) in ws._cells}
        probe = DataSheet(ws.title, "", "", "", False, min_row + 1, styles=styles)
        specs = [self._column_spec(ws, probe, min_col + j, frame.get(col))
                 for j, col in enumerate(columns)]
        encoded = datasheet_writer.encode(frame, columns, specs, min_col, min_row + 1, name)
        _cancel_jobs(self._jobs, name)
        self._kept.pop(name, None)  # replaced: its rows in the file are no longer wanted
        self._jobs[name] = [datasheet_writer.prepare_later(encoded)]
        for key in [k for k in ws._cells if k[0] > min_row and min_col <= k[1] <= max_col
                    and k[0] <= max_row]:
            del ws._cells[key]
        self._streamed[name] = StreamedTable(name, ws.title, min_col, max_col, min_row,
                                             encoded, frame.copy(), columns, styles)

    def _streamed_on(self, title: str) -> list[StreamedTable | KeptTable]:
        """The table bodies on a sheet that openpyxl does not hold (streamed or kept)."""
        return [b for b in (*self._streamed.values(), *self._kept.values())
                if b.title == title]

    def _body_rows(self, body: StreamedTable | KeptTable) -> list[list]:
        if body.values is None:
            if isinstance(body, KeptTable):
                frame = self._kept_frame(body).reindex(range(body.n_rows))
            else:
                frame = body.written
            body.values = _python_rows(frame, body.columns)
        return body.values

    def _kept_xml(self, table: KeptTable) -> bytes:
        """The XML of a kept table's sheet (the file's shared strings loaded if its cells
        point into them)."""
        if table.has_shared_strings and self._shared_strings is None:
            self._shared_strings = _shared_strings(self._package.source)
        return table.xml if table.xml is not None else read_part(self._package.source,
                                                                 table.part)

    def _kept_frame(self, table: KeptTable) -> pd.DataFrame:
        """A kept table's rows as read_table gives them (parsed from the file once)."""
        if table.frame is None:
            xml = self._kept_xml(table)
            body = table.body_xml(xml)
            del xml
            table.frame = datasheet_reader.parse_rows(
                body, table, table.columns, date_styles=self._date_styles,
                shared_strings=self._shared_strings, epoch=self.wb.epoch)
        return table.frame

    def _column_spec(self, ws, sheet: DataSheet, col: int, values) -> ColumnSpec:
        style = sheet.styles.get(col)
        style = copy(style) if style is not None else StyleArray()
        style_id = self.wb._cell_styles.add(style)
        date_id = style_id
        if values is not None and _has_dates(values):
            probe = Cell(ws, row=1, column=col, style_array=copy(style))
            if not probe.is_date:
                plain = _only_dates(values)
                probe.number_format = "yyyy-mm-dd" if plain else "yyyy-mm-dd h:mm:ss"
                date_id = self.wb._cell_styles.add(probe._style)
        return ColumnSpec(style_id, date_id)

    def _write_cells(self, ws, frame, columns, min_col, min_row, max_col, max_row,
                     new_max) -> None:
        # each column keeps the look of its first row (number format, input colour, lock)
        styles = {c: ws.cell(min_row + 1, c)._style for c in range(min_col, max_col + 1)}
        for r in range(min_row + 1, new_max + 1):
            for c in range(min_col, max_col + 1):
                ws.cell(r, c).value = None
        for r in range(new_max + 1, max_row + 1):  # rows the table leaves: only the cells
            for c in range(min_col, max_col + 1):  # that exist (none created)
                if (r, c) in ws._cells:
                    ws._cells[(r, c)].value = None
        for r in range(min_row + 1, new_max + 1):
            for c in range(min_col, max_col + 1):
                ws.cell(r, c)._style = copy(styles[c])
        for j, col in enumerate(columns):
            if col not in frame.columns:
                continue
            c = min_col + j
            for i, value in enumerate(frame[col].tolist()):
                cell = ws.cell(min_row + 1 + i, c)
                cell.value = _cell_value(value)
                if isinstance(cell.value, str):
                    cell.data_type = "s"
        fit_wrapped_rows(ws, min_row + 1, max(new_max, max_row))

    # ------------------------------------------------------------- charts
    def replace_charts(self, sheet: str, tag: str, charts: list) -> None:
        """Remove the charts added earlier under ``tag`` on ``sheet`` and add ``charts``
        (openpyxl chart objects, each with its ``.anchor`` set: a cell like ``"H2"``).

        Which charts carry the tag is kept in a hidden sheet-level defined name
        ``_charts_<tag>`` (their anchor cells), so it survives save and reopen; the
        sheet's other charts are left alone."""
        if not re.fullmatch(r"[A-Za-z0-9_]+", tag):
            raise SopError(f"chart tag {tag!r}: use letters, digits and _ only")
        if sheet not in self.wb.sheetnames:
            raise SopError(f"the workbook has no sheet {sheet!r}")
        ws = self.wb[sheet]
        name = f"_charts_{tag}"
        old = ws.defined_names.get(name)
        anchors = set()
        if old is not None:
            anchors = {a for a in old.attr_text.strip('"').split(",") if a}
        ws._charts = [c for c in ws._charts if _anchor_cell(c.anchor) not in anchors]
        cells = []
        for chart in charts:
            anchor = getattr(chart, "anchor", None)
            cell = _anchor_cell(anchor)
            if cell is None:
                raise SopError(f"a chart for {sheet} ({tag}) has no anchor cell")
            ws.add_chart(chart, anchor if isinstance(anchor, str) else None)
            cells.append(cell)
        if name in ws.defined_names:
            del ws.defined_names[name]
        ws.defined_names[name] = DefinedName(name, attr_text='"' + ",".join(cells) + '"',
                                             hidden=True)

    # ------------------------------------------------------------- recalculation + save
    def recalculate(self) -> int:
        """Evaluate every UDF cell (and the native formulas they depend on) in Python."""
        resolver = evaluate_all(_RecalcBook(self))
        cached = {**resolver.native_values}
        for (sheet, coord), value in resolver.udf_values.items():
            if isinstance(value, list):
                cached[(sheet, coord)] = self._spill(sheet, coord, value)
            else:
                cached[(sheet, coord)] = value
        self._cached = cached
        self._changed = False
        return len(resolver.udf_values)

    def _spill(self, sheet: str, coord: str, rows: list[list]):
        """Lay a UDF's array result out over the cells below and right of the formula cell
        (see :func:`spill_into`). Returns the top-left value."""
        return spill_into(self.wb[sheet], coord, rows, blocked=lambda r, c: any(
            b.holds(r, c) for b in self._streamed_on(sheet)))

    def to_bytes(self) -> bytes:
        """The workbook as a file's bytes."""
        return b"".join(self._pieces())

    def _pieces(self) -> list:
        """The workbook file as pieces of bytes in order (a save writes them one after
        the other: a big workbook is never held joined)."""
        # every formula cell is saved with its current result (openpyxl drops the file's
        # cached values on load; an input written since the last recalculation changes them)
        if self._changed or not self._cached:
            self.recalculate()
        # every data sheet's body is final (encoded) before openpyxl writes the styles
        bodies_src = {}
        for title, sheet in self._data.items():
            ws = self.wb[title]
            table = next(iter(ws.tables.values()))
            if not sheet.dirty and sheet.has_shared_strings:
                columns = [ws.cell(range_boundaries(table.ref)[1], c).value for c in range(
                    range_boundaries(table.ref)[0], range_boundaries(table.ref)[2] + 1)]
                frame = self._frame(sheet, columns)
                self.write_table(table.displayName, frame)
            bodies_src[title] = (sheet, table)
        for name, table in list(self._kept.items()):
            if table.has_shared_strings:  # its cells point into the file's sharedStrings,
                ws = self.wb[table.title]  # which openpyxl rewrites: written as values
                frame = self._kept_frame(table).reindex(range(table.n_rows))
                self._stream_body(ws, name, frame, table.columns, table.min_col,
                                  table.header_row, table.max_col, table.last_row)
        mixed: dict[str, list[StreamedTable | KeptTable]] = {}
        for body in (*self._streamed.values(), *self._kept.values()):
            mixed.setdefault(body.title, []).append(body)
        for title, streamed in mixed.items():
            self._clear_streamed_area(self.wb[title], streamed)
        cached = self._cached or self._stored_results()
        self._fit_columns(cached)
        # one pass: every part made once, in memory — openpyxl's, with the cached results
        # and Excel's own form put in, the table bodies spliced into their sheets — and
        # zipped once (datasheet_writer.package_pieces)
        parts = openpyxl_parts(self.wb)
        if cached:
            store_cached_values(parts, cached)
        # Excel's own form: dynamic arrays (cm + metadata.xml, which openpyxl dropped on
        # load), calculation properties, list validations, font records
        finish_parts(parts, dynamic_array_anchors(self.wb))
        sheets = sheet_parts(parts)
        bodies: dict[str, tuple[bytes, object, bytes]] = {}
        for title, (sheet, table) in bodies_src.items():
            part = sheets[title]
            head, tail = datasheet_writer.replace_sheet_data(parts[part], table.ref)
            if sheet.dirty:
                chunks = sheet.deflated  # rendered and compressed since write_table
            else:
                chunks = datasheet_reader.original_row_pieces(self._package.source, sheet)
            bodies[part] = (head, chunks, tail)
        sources = {}  # the parts holding kept tables in the file, once each: read as
        for title, streamed in mixed.items():  # their rows go back (never all at once)
            for table in streamed:
                if isinstance(table, KeptTable):
                    if table.part not in sources:
                        sources[table.part] = PartSource(
                            self._package.source, table.part,
                            self._package.segments.get(table.part))
                    table.source = sources[table.part]
            part = sheets[title]
            bodies[part] = datasheet_writer.merge_sheet_data(parts[part], streamed)
        for part in bodies:  # spliced: the parts as openpyxl wrote them are not kept
            parts[part] = b""
        self._verified = frozenset(bodies)
        try:
            return datasheet_writer.package_pieces(parts, bodies)
        finally:
            for table in self._kept.values():
                table.xml = table.source = None

    def _fit_columns(self, results: dict) -> None:
        """Every sheet's columns widened to the headers and values it shows (the cached
        results of its formula cells, the bodies written in this session); see
        col_widths.py. A table body kept unchanged from the file was fitted when written."""
        cached: dict[str, dict[str, object]] = {}
        for (sheet, coord), value in results.items():
            cached.setdefault(sheet, {})[coord] = value
        bodies: dict[str, list[dict[int, float]]] = {}
        for title, sheet in self._data.items():
            if sheet.dirty and sheet.written is not None:
                ws = self.wb[title]
                min_col = range_boundaries(next(iter(ws.tables.values())).ref)[0]
                bodies.setdefault(title, []).append(self._frame_needs(
                    ws, sheet.written, sheet.columns, min_col, sheet.styles))
        for body in self._streamed.values():
            ws = self.wb[body.title]
            bodies.setdefault(body.title, []).append(self._frame_needs(
                ws, body.written, body.columns, body.min_col, body.styles))
        for ws in self.wb.worksheets:
            fit_sheet(ws, cached.get(ws.title), merge_needs(*bodies.get(ws.title, [])))

    @staticmethod
    def _frame_needs(ws, frame, columns, min_col, styles) -> dict[int, float]:
        formats, fonts, wraps = {}, {}, {}
        for c, style in styles.items():
            probe = Cell(ws, row=1, column=c, style_array=copy(style))
            formats[c] = probe.number_format
            fonts[c] = (bool(probe.font.b), float(probe.font.sz or 11))
            wraps[c] = bool(probe.alignment.wrap_text)
        return frame_needs(frame, columns, min_col, formats, fonts, wraps)

    def _stored_results(self) -> dict:
        """The file's cached formula results (KPI values …), for a save without a
        recalculation in this session: openpyxl drops them, and a command that does not
        recompute (e.g. ``sop calendar``) must not erase what Refresh computed. The
        data sheets hold no formulas and are not scanned."""
        sheets = {ws.title for ws in self.wb.worksheets if ws.title not in self._data}
        return read_stored_results(self._package.source, sheets)

    @staticmethod
    def _clear_streamed_area(ws, streamed: list[StreamedTable]) -> None:
        """openpyxl must not write a cell where a streamed body goes: empty cells created
        there since (by reading them) are dropped; a value there is an error."""
        for key in [k for k in ws._cells if any(b.holds(*k) for b in streamed)]:
            cell = ws._cells[key]
            if cell.value is not None:
                table = next(b.name for b in streamed if b.holds(*key))
                raise SopError(f"{ws.title}!{cell.coordinate} holds a value inside the "
                               f"rows of table {table}", "The workbook was not changed.")
            del ws._cells[key]

    def save(self, path: str | Path | None = None, *, backups: int = DEFAULT_BACKUPS) -> Path:
        target = Path(path) if path else self.path
        pieces = self._pieces()
        # the streamed data-sheet parts got their checksums from their content as written
        atomic_write(target, pieces, backups=backups, verified=self._verified)
        return target


# --------------------------------------------------------------------------- helpers


def spill_into(ws, coord: str, rows: list[list], blocked=None):
    """Lay a UDF's array result out over the cells below and right of the formula cell
    (an array formula over that range; :func:`~.excel_form.finish_parts` stores it as
    Excel's dynamic array); the cells it covered before are cleared first. A cell in the
    way (a value, a merged cell, or ``blocked(row, col)``) is Excel's ``#SPILL!``: an
    error naming it. Returns the top-left value."""
    sheet = ws.title
    cell = ws[coord]
    text = formula_text(cell.value)
    old = cell.value.ref if isinstance(cell.value, ArrayFormula) else coord
    o_min_col, o_min_row, o_max_col, o_max_row = range_boundaries(old)
    for r in range(o_min_row, o_max_row + 1):
        for c in range(o_min_col, o_max_col + 1):
            if (r, c) != (cell.row, cell.column):
                ws.cell(r, c).value = None
    height, width = max(len(rows), 1), max((len(r) for r in rows), default=1)
    for i in range(height):
        for j in range(width):
            if i == j == 0:
                continue
            target = ws.cell(cell.row + i, cell.column + j)
            if target.value is not None or target.coordinate in ws.merged_cells or (
                    blocked is not None and blocked(target.row, target.column)):
                raise SopError(f"{sheet}!{coord}: the result needs {height} × {width} "
                               f"cells but {target.coordinate} is not empty (#SPILL!)")
            value = rows[i][j] if j < len(rows[i]) else None
            target.value = _cell_value(value)
            if isinstance(target.value, str):
                target.data_type = "e" if target.value == "#N/A" else "s"
    end = f"{get_column_letter(cell.column + width - 1)}{cell.row + height - 1}"
    cell.value = ArrayFormula(f"{coord}:{end}", text)
    return rows[0][0] if rows and rows[0] else None


def _python_rows(frame: pd.DataFrame, columns: list[str]) -> list[list]:
    n = len(frame)
    arrays = []
    for col in columns:
        if col not in frame.columns:
            arrays.append(np.full(n, None, dtype=object))
            continue
        series = frame[col].reset_index(drop=True)
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            arr = np.empty(n, dtype=object)
            arr[:] = [None if v is pd.NaT else v.to_pydatetime() for v in series.tolist()]
        elif series.dtype == object:
            arr = np.empty(n, dtype=object)
            arr[:] = [_cell_value(v) for v in series.tolist()]
        else:
            arr = series.to_numpy(dtype=object)
            mask = series.isna().to_numpy()
            if mask.any():
                arr[mask] = None
        arrays.append(arr)
    if not arrays or n == 0:
        return []
    return np.column_stack(arrays).tolist()


def _cancel_jobs(jobs: dict[str, list[datasheet_writer.Job]], name: str | None = None) -> None:
    """Cancel the background jobs of one table (or of all) that have not started."""
    for table in [name] if name is not None else list(jobs):
        for job in jobs.pop(table, ()):
            job.cancel()


#: what pandas.api.types.infer_dtype (skipping missing values) calls a column that holds
#: no date, datetime, Timestamp or NaT (NaT is not skipped: it makes a column "mixed")
_NO_DATES = frozenset({"string", "bytes", "empty", "integer", "floating", "decimal",
                       "complex", "mixed-integer-float", "boolean"})


def _has_dates(values) -> bool:
    """Whether a column holds dates (a datetime dtype, or date/datetime/Timestamp/NaT
    objects): such a column needs a date style."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return True
    if values.dtype != object:
        return False
    if pd.api.types.infer_dtype(values, skipna=True) in _NO_DATES:
        return False  # decided in one pass in C, without a Python object per value
    return any(isinstance(v, (pd.Timestamp, dt.date)) for v in values.tolist())


def _only_dates(values) -> bool:
    if values.dtype != object:
        return False
    found = [v for v in values.tolist() if isinstance(v, (dt.date, pd.Timestamp))]
    return bool(found) and all(not isinstance(v, (dt.datetime, pd.Timestamp)) for v in found)


def _anchor_cell(anchor) -> str | None:
    """The top-left cell of a chart anchor ("H2", or an openpyxl anchor object)."""
    if anchor is None:
        return None
    if isinstance(anchor, str):
        return anchor.replace("$", "").upper()
    start = getattr(anchor, "_from", None)
    if start is None:
        return None
    return f"{get_column_letter(start.col + 1)}{start.row + 1}"


def _shared_strings(data: bytes) -> list:

    from openpyxl.reader.strings import read_string_table

    with zipfile.ZipFile(BytesIO(data)) as z:
        names = [n for n in z.namelist() if n.lower().endswith("sharedstrings.xml")]
        if not names:
            return []
        with z.open(names[0]) as fh:
            return read_string_table(fh)


class _Cell:
    """A cell of a table body the adapter holds as rows: a value, never a formula."""

    __slots__ = ("value",)
    data_type = "n"

    def __init__(self, value) -> None:
        self.value = value


class _DataSheetView:
    """A data sheet as the recalculation reads it: header from openpyxl, rows from the
    table's frame (formulas never occur on a data sheet)."""

    def __init__(self, book: HeadlessWorkbook, ws) -> None:
        self.book, self.ws = book, ws
        self.title = ws.title
        self.tables = ws.tables
        self.sheet = book._data[ws.title]
        table = next(iter(ws.tables.values()))
        self.min_col, self.header, self.max_col, _ = range_boundaries(table.ref)
        self.table = table.displayName

    def _rows(self) -> list[list]:
        return self.book._rows(self.sheet, self.table)

    def formula_cells(self):
        """(row, column), value of the cells openpyxl holds (the header: the rows of a
        data sheet never hold a formula)."""
        return [(key, cell._value) for key, cell in self.ws._cells.items()
                if cell.data_type == "f"]

    def value(self, r: int, c: int):
        if r <= self.header or not self.min_col <= c <= self.max_col:
            return self.ws.cell(r, c).value if (r, c) in self.ws._cells else None
        rows = self._rows()
        i = r - self.header - 1
        return rows[i][c - self.min_col] if i < len(rows) else None

    def __getitem__(self, coord: str) -> _Cell:
        r, c = coordinate_to_tuple(coord.replace("$", "").upper())
        return _Cell(self.value(r, c))

    def area_values(self, min_row, max_row, min_col, max_col) -> list[list] | None:
        """The values of a range within the table's columns, row by row (no formula
        lives on a data sheet); None for a range that reaches outside them."""
        if min_col < self.min_col or max_col > self.max_col:
            return None
        rows = self._rows()
        a, b = min_col - self.min_col, max_col - self.min_col + 1
        out = []
        for r in range(min_row, max_row + 1):
            i = r - self.header - 1
            if i < 0:
                out.append([self.value(r, c) for c in range(min_col, max_col + 1)])
            elif i < len(rows):
                out.append(rows[i][a:b])
            else:
                out.append([None] * (b - a))
        return out

    def iter_rows(self, min_row=None, max_row=None, min_col=None, max_col=None):
        if min_row is None and max_row is None:
            yield from self.ws.iter_rows()  # the header: no formula lives on a data sheet
            return
        rows = self._rows()
        min_col = min_col or self.min_col
        max_col = max_col or self.max_col
        for r in range(min_row, max_row + 1):
            i = r - self.header - 1
            if r <= self.header or i >= len(rows) or min_col < self.min_col \
                    or max_col > self.max_col:
                yield tuple(_Cell(self.value(r, c)) for c in range(min_col, max_col + 1))
            else:
                yield tuple(map(_Cell, rows[i][min_col - self.min_col:
                                               max_col - self.min_col + 1]))


class _MixedSheetView:
    """A sheet with streamed table bodies as the recalculation reads it: cells from
    openpyxl, the streamed bodies' cells from their rows (values only, never formulas)."""

    def __init__(self, book: HeadlessWorkbook, ws, bodies: list[StreamedTable]) -> None:
        self.book, self.ws, self.bodies = book, ws, bodies
        self.title = ws.title
        self.tables = ws.tables

    def formula_cells(self):
        return [(key, cell._value) for key, cell in self.ws._cells.items()
                if cell.data_type == "f"]

    def value(self, r: int, c: int):
        for body in self.bodies:
            if body.holds(r, c):
                rows = self.book._body_rows(body)
                i = r - body.first_row
                return rows[i][c - body.min_col] if i < len(rows) else None
        cell = self.ws._cells.get((r, c))
        return cell.value if cell is not None else None

    def __getitem__(self, coord: str):
        r, c = coordinate_to_tuple(coord.replace("$", "").upper())
        if any(b.holds(r, c) for b in self.bodies):
            return _Cell(self.value(r, c))
        return self.ws.cell(r, c)

    def iter_rows(self, min_row=None, max_row=None, min_col=None, max_col=None):
        if min_row is None and max_row is None:
            yield from self.ws.iter_rows()
            return
        min_col = min_col or 1
        max_col = max_col or max([self.ws.max_column, *(b.max_col for b in self.bodies)])
        for r in range(min_row, max_row + 1):
            yield tuple(_Cell(self.value(r, c)) for c in range(min_col, max_col + 1))


class _RecalcBook:
    """The workbook as :func:`evaluate_all` reads it (data sheets through their views)."""

    def __init__(self, book: HeadlessWorkbook) -> None:
        self.book = book
        self.wb = book.wb
        self.defined_names = book.wb.defined_names
        self.sheetnames = book.wb.sheetnames
        self._views = {t: _DataSheetView(book, book.wb[t]) for t in book._data}
        for body in (*book._streamed.values(), *book._kept.values()):
            if body.title not in self._views:
                self._views[body.title] = _MixedSheetView(book, book.wb[body.title],
                                                          book._streamed_on(body.title))

    @property
    def worksheets(self):
        return [self._views.get(ws.title, ws) for ws in self.wb.worksheets]

    def table_frame(self, name: str) -> pd.DataFrame | None:
        """A data-sheet table written in this session as the frame given to write_table
        (every table column, in order), or as parsed from the file when it was not, so a
        UDF gets ``table[#All]`` without the frame being turned into cells and back; None
        otherwise (read through the cells)."""
        entry = self.book.tables.get(name)
        if entry is None:
            return None
        sheet = self.book._data.get(entry[0].title)
        if sheet is None:
            return None
        if sheet.written is None or not sheet.columns:
            if sheet.dirty:
                return None
            # not written in this session: the rows as parsed from the file (read_table's
            # frame, parsed once), not turned into cells and back either
            return self.book._frame(sheet, self.book.table_columns(name))
        return sheet.written.reindex(columns=sheet.columns)

    def __getitem__(self, title: str):
        return self._views.get(title) or self.wb[title]

