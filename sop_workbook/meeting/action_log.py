"""The action-item log (table ``act_log`` on the Actions sheet): validation, overdue flag,
restatement at the end of a meeting, adding and updating rows.

Rules of the log:

* ``status`` is one of open, in progress, done, cancelled (case-insensitive; the
  workbook's ``lst_status`` list may be passed instead);
* ``owner`` and ``action`` are required;
* ``due`` is a date (a date cell or ISO text ``YYYY-MM-DD``) — required while the action
  is open or in progress, optional once it is done or cancelled;
* ``cycle`` (the S&OP cycle the action was raised in) is ``YYYY-MM`` or empty.

An action is **overdue** as of a date when it is still open/in progress and its due date
is before that date.

**Restating** the log for a cycle sorts the actions into four lists:
new (raised this cycle, still open), carried over (raised earlier, still open), closed
(done/cancelled and either raised this cycle or due on or after the first day of the
previous cycle — the log has no closing date, so this window stands for "since the last
meeting"), and overdue (open ones past due; also present in new or carried over).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pandas as pd

from ..errors import SopError
from ..frames import blank, cell_text
from .calendar import as_date
from .tableref import TableRef

ACTION_COLUMNS = ["id", "action", "owner", "due", "status", "stage", "cycle", "notes"]
STATUSES = ("open", "in progress", "done", "cancelled")
OPEN = ("open", "in progress")
CLOSED = ("done", "cancelled")


def _cycle_text(value) -> str:
    if blank(value):
        return ""
    if isinstance(value, (dt.date, pd.Timestamp)):
        return f"{value:%Y-%m}"
    text = str(value).strip()
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        raise ValueError(f"{text!r} is not a cycle (YYYY-MM)")
    return text


def _id_text(value) -> str:
    if blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


ACT_LOG = TableRef("act_log")


def validate_actions(actions: pd.DataFrame, statuses=STATUSES,
                     ref: TableRef = ACT_LOG) -> pd.DataFrame:
    """The log checked and normalised: ``due`` as ``datetime.date`` (or None), ``status``
    lower case, ``id``/``cycle`` as text; the index is kept (sheet rows). Raises
    :class:`SopError` listing every bad row (table row and sheet row)."""
    missing = [c for c in ("action", "owner", "due", "status") if c not in actions.columns]
    if missing:
        raise SopError(f"table {ref.table} has no column(s) {', '.join(missing)}",
                       f"expected columns: {', '.join(ACTION_COLUMNS)}")
    allowed = [str(s).strip().lower() for s in statuses if not blank(s)]
    rows, problems = [], []
    for idx, rec in actions.iterrows():
        row = {c: rec.get(c) for c in ACTION_COLUMNS}
        where = ref.row(idx)
        status = cell_text(rec.get("status")).lower()
        if status not in allowed:
            problems.append(f"{where}, column status: {cell_text(rec.get('status'))!r} is not one "
                            f"of {', '.join(allowed)}")
        if not cell_text(rec.get("action")):
            problems.append(f"{where}, column action: the action is empty")
        if not cell_text(rec.get("owner")):
            problems.append(f"{where}, column owner: the action has no owner")
        due = None
        if blank(rec.get("due")):
            if status not in CLOSED:
                problems.append(f"{where}, column due: an open action needs a due date")
        else:
            try:
                due = as_date(rec.get("due"))
            except ValueError as exc:
                problems.append(f"{where}, column due: {exc}")
        try:
            row["cycle"] = _cycle_text(rec.get("cycle"))
        except ValueError as exc:
            problems.append(f"{where}, column cycle: {exc}")
        row.update(id=_id_text(rec.get("id")), action=cell_text(rec.get("action")),
                   owner=cell_text(rec.get("owner")), due=due, status=status,
                   stage=cell_text(rec.get("stage")), notes=cell_text(rec.get("notes")))
        rows.append(row)
    if problems:
        raise SopError(f"the action log ({ref.table}) has {len(problems)} problem(s)",
                       "\n".join(problems))
    return pd.DataFrame(rows, columns=ACTION_COLUMNS, index=actions.index)


def overdue(actions: pd.DataFrame, as_of: dt.date) -> pd.Series:
    """True for each open/in-progress action due before ``as_of`` (validated log)."""
    as_of = as_date(as_of)
    flags = [r["status"] in OPEN and isinstance(r["due"], dt.date) and as_date(r["due"]) < as_of
             for r in actions.to_dict("records")]
    return pd.Series(flags, index=actions.index, dtype=bool)


@dataclass
class Restatement:
    cycle: str
    as_of: dt.date
    new: pd.DataFrame
    carried: pd.DataFrame
    closed: pd.DataFrame
    overdue: pd.DataFrame

    @property
    def open(self) -> pd.DataFrame:
        return pd.concat([self.carried, self.new])


def _previous_cycle(cycle: str) -> str:
    year, month = int(cycle[:4]), int(cycle[5:7])
    return f"{year - (month == 1)}-{(month - 2) % 12 + 1:02d}"


def restate(actions: pd.DataFrame, cycle: str, as_of: dt.date | None = None) -> Restatement:
    """Sort a validated log into new / carried over / closed / overdue for ``cycle``
    (YYYY-MM). ``as_of`` (default today) decides what is overdue. Each list is sorted by
    due date then id."""
    cycle = _cycle_text(cycle)
    as_of = as_date(as_of) if as_of is not None else dt.date.today()
    if not len(actions):
        empty = pd.DataFrame(columns=ACTION_COLUMNS)
        return Restatement(cycle, as_of, empty, empty, empty, empty)
    since = dt.date.fromisoformat(_previous_cycle(cycle) + "-01")
    is_open = actions["status"].isin(OPEN)
    this = actions["cycle"] == cycle
    earlier = ~this & ((actions["cycle"] == "") | (actions["cycle"] < cycle))
    due_since = actions["due"].apply(lambda d: d is not None and not pd.isna(d) and d >= since)
    late = overdue(actions, as_of)

    def ordered(frame: pd.DataFrame) -> pd.DataFrame:
        key = frame["due"].apply(lambda d: d if d is not None and not pd.isna(d)
                                 else dt.date.max)
        return frame.assign(_k=key).sort_values(["_k", "id"], kind="stable").drop(columns="_k")

    return Restatement(
        cycle, as_of,
        new=ordered(actions[is_open & this]),
        carried=ordered(actions[is_open & earlier]),
        closed=ordered(actions[actions["status"].isin(CLOSED) & (this | due_since)]),
        overdue=ordered(actions[late]),
    )


def next_id(actions: pd.DataFrame) -> str:
    """The next action id: one more than the largest numeric id (ids like "A-12" count
    by their number and keep their prefix)."""
    best, prefix = 0, ""
    for value in actions.get("id", pd.Series(dtype=object)):
        m = re.fullmatch(r"(\D*)(\d+)", _id_text(value))
        if m and int(m.group(2)) >= best:
            best, prefix = int(m.group(2)), m.group(1)
    return f"{prefix}{best + 1}"


def add_action(actions: pd.DataFrame, action: str, owner: str, due, *, stage: str = "",
               cycle: str = "", notes: str = "", status: str = "open") -> pd.DataFrame:
    """The log with one more row (a new id); the row is validated like the others."""
    row = {"id": next_id(actions), "action": action, "owner": owner, "due": as_date(due),
           "status": status, "stage": stage, "cycle": cycle, "notes": notes}
    validate_actions(pd.DataFrame([row]), ref=TableRef("new action"))
    base = actions.reindex(columns=ACTION_COLUMNS)
    return pd.concat([base, pd.DataFrame([row], columns=ACTION_COLUMNS)], ignore_index=True)


def set_status(actions: pd.DataFrame, action_id, status: str, note: str = "") -> pd.DataFrame:
    """The log with one action's status changed (and ``note`` appended to its notes)."""
    status = str(status).strip().lower()
    if status not in STATUSES:
        raise SopError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    ids = actions["id"].map(_id_text)
    hit = ids == _id_text(action_id)
    if not hit.any():
        raise SopError(f"the action log has no action with id {action_id!r}")
    out = actions.copy()
    out.loc[hit, "status"] = status
    if note:
        out.loc[hit, "notes"] = out.loc[hit, "notes"].map(
            lambda n: f"{cell_text(n)}; {note}" if cell_text(n) else note)
    return out
