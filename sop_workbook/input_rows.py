"""The planners' input tables: rows typed below a table are taken into it, and an input
table never shrinks below its blank rows.

A protected sheet does not let Excel grow a table when a planner types in the row below
it, so the yellow (unlocked) rows below an input table are its *input area*: *Refresh*,
*Roll forward* and the meeting commands first take every row typed there into the table
(:func:`take_typed_rows` — the table's range grows down to the last typed row; the cells
stay where they are, so a problem in them is reported at the cell the planner typed).
Whatever rewrites an input table keeps at least as many rows as it had, and never fewer
than the template's (:func:`write_input_table`), so there are always blank input rows.

Both workbook adapters (headless and live Excel) provide ``typed_rows_below``,
``extend_table`` and ``table_body_rows``; the functions here are the one place the rule
lives.
"""

from __future__ import annotations

import pandas as pd

from .errors import SopError
from .ports import Workbook

#: The input tables (yellow columns in xl/sheets.toml) → the rows of their body in the
#: template (data rows + blank rows): the least they keep when rewritten.
INPUT_TABLES: dict[str, int] = {
    "plan_overrides": 20,
    "plan_events": 12,
    "presop_decisions": 15,
    "exec_decisions": 10,
    "act_log": 30,
    "cal_rules": 10,
    "cal_launches": 8,
    "cal_closures": 8,
    "cfg_targets": 1,
    "lst_tables": 9,
}


#: Input tables with no input area below: the rows under cfg_targets are Config's
#: settings (their values are yellow), never KPI targets.
NO_INPUT_AREA = frozenset({"cfg_targets"})


def take_typed_rows(book: Workbook, names=None) -> list[str]:
    """Take the rows typed in the input area below each input table into the table.

    The input area is the run of rows right below the table in which at least one of the
    table's columns is unlocked (yellow), up to a locked row or another table. Returns one
    note per table that grew ("2 Demand!AR29:AX30: 2 typed row(s) taken into
    plan_overrides"). Nothing is checked here: the rows are then read, and checked, with
    the table's other rows."""
    notes = []
    for name in names or INPUT_TABLES:
        if name in NO_INPUT_AREA:
            continue
        try:
            rows = book.typed_rows_below(name)
        except SopError:  # a workbook without this table (older template)
            continue
        if not rows:
            continue
        sheet, _ = book.table_position(name)
        columns = book.table_columns(name)
        last = rows[-1][0]
        book.extend_table(name, last)
        first_col = book.column_letter(name, columns[0])
        last_col = book.column_letter(name, columns[-1])
        notes.append(f"{sheet}!{first_col}{rows[0][0]}:{last_col}{last}: {len(rows)} typed "
                     f"row(s) taken into {name}")
    return notes


def write_input_table(book: Workbook, name: str, frame: pd.DataFrame) -> None:
    """Replace an input table's rows with ``frame``, keeping blank rows below them: the
    table keeps at least the rows it has (and the template's), so it never shrinks and
    the planners always have blank rows inside it to type in."""
    keep = max(book.table_body_rows(name), INPUT_TABLES.get(name, 1))
    frame = frame.reset_index(drop=True)
    if len(frame) < keep:
        blank = pd.DataFrame(index=range(keep - len(frame)), columns=frame.columns,
                             dtype=object)
        frame = pd.concat([frame.astype(object), blank], ignore_index=True)
    book.write_table(name, frame)
