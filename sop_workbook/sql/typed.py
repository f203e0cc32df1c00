"""Typed sources stay typed: a source column whose own type already is the contract's
(a number, a date, a boolean — Parquet files, database tables) is staged from its value,
not cast to text and parsed again.

The checks stay those of the text path: a number beyond ±1e15 or not finite (NaN,
infinity), a whole-number column holding a fraction, a date outside 1900–2199 is an
unparseable value, reported with table, key (or row) and column, its text being the
engine's own rendering of the value.
"""

from __future__ import annotations

import re

from .. import contract as c
from .dialect import Dialect

#: the native kinds of a source column's type
NUMBER, INTEGER, DATE, TIMESTAMP, BOOLEAN = "number", "integer", "date", "timestamp", "boolean"

_INTEGER = re.compile(r"^(u?(tiny|small|big|huge)?int(eger)?\d*|int64|long|short|byte)\b")
_NUMBER = re.compile(r"^(double|float|real|decimal|numeric|number|float64)\b")


def native_kind(type_text: str | None) -> str | None:
    """The native kind of a column of type ``type_text`` (as the engine or SQLAlchemy
    names it: ``DOUBLE``, ``BIGINT``, ``DATE``, ``TIMESTAMP WITH TIME ZONE``, ``BOOLEAN``,
    ``decimal(10,2)``…); None for text and anything else."""
    text = str(type_text or "").strip().lower()
    if not text:
        return None
    if text.startswith(("bool", "bit")):
        return BOOLEAN if text.startswith("bool") else None
    if text.startswith(("timestamp", "datetime")):
        return TIMESTAMP
    if text == "date":
        return DATE
    if _INTEGER.match(text):
        return INTEGER
    if _NUMBER.match(text):
        # NUMBER(p, 0) (Snowflake, Oracle) holds whole numbers
        return INTEGER if re.match(r"^number\(\d+,\s*0\)$", text) else NUMBER
    return None


#: which native kinds a contract kind is read from
_ACCEPTS = {c.NUMBER: (NUMBER, INTEGER), c.INT: (NUMBER, INTEGER), c.DATE: (DATE, TIMESTAMP),
            c.BOOL: (BOOLEAN,)}


def stays_typed(contract_kind: str, native: str | None, d: Dialect) -> bool:
    """Is a column of native kind ``native`` staged from its value for ``contract_kind``?
    (Not on SQLite, whose declared types are only affinities.)"""
    return native is not None and d.name != "sqlite" and native in _ACCEPTS.get(contract_kind,
                                                                               ())


def typed_value(contract_kind: str, native: str, raw: str, d: Dialect) -> str:
    """SQL of the staged value of the native column ``raw`` (NULL where the text path
    would find the value unparseable)."""
    if contract_kind == c.BOOL:
        return raw
    if contract_kind == c.DATE:
        day = f"CAST({raw} AS DATE)" if native == TIMESTAMP else raw
        return (f"CASE WHEN {day} BETWEEN {d.date_literal('1900-01-01')} AND "
                f"{d.date_literal('2199-12-31')} THEN {day} END")
    value = f"CAST({raw} AS {d.double_type})"
    finite = f"ABS({value}) <= 1e15"
    if contract_kind == c.INT:
        if native == INTEGER:
            return f"CASE WHEN {finite} THEN CAST({raw} AS {d.bigint_type}) END"
        return (f"CASE WHEN {finite} AND {value} = FLOOR({value}) "
                f"THEN CAST({value} AS {d.bigint_type}) END")
    return f"CASE WHEN {finite} THEN {value} END"


def shown_text(raw: str, d: Dialect) -> str:
    """The text of a native value in a message."""
    return f"CAST({raw} AS {d.text_type})"

