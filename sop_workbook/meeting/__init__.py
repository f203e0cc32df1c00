"""The monthly S&OP meeting cycle: calendar, .ics export, action-item log, agenda and
minutes. Pure functions over plain data (DataFrames, dataclasses); the CLI adapter
(:mod:`sop_workbook.cli_meeting`) reads and writes the workbook."""

from .action_log import (
                         ACTION_COLUMNS,
                         CLOSED,
                         OPEN,
                         STATUSES,
                         Restatement,
                         add_action,
                         overdue,
                         restate,
                         set_status,
                         validate_actions,
)
from .calendar import EVENT_COLUMNS, RULE_COLUMNS, WorkingDays, generate_calendar, parse_rule
from .documents import Document, KpiRow, Meeting, MeetingPack, agenda, minutes, to_eml
from .ics import calendar_to_ics, event_uid
from .tableref import TableRef

__all__ = [
    "ACTION_COLUMNS", "CLOSED", "EVENT_COLUMNS", "OPEN", "RULE_COLUMNS", "STATUSES",
    "Document", "KpiRow", "Meeting", "MeetingPack", "Restatement", "TableRef", "WorkingDays",
    "add_action", "agenda", "calendar_to_ics", "event_uid", "generate_calendar", "minutes",
    "overdue", "parse_rule", "restate", "set_status", "to_eml", "validate_actions",
]
