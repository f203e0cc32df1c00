"""A small evaluator for the native formulas that feed UDF arguments headless.

``sop recalc`` must give UDFs the values of the cells they reference, and some of those
cells hold native formulas (``kpi_period`` is ``=TEXT(EDATE(DATEVALUE(cfg_current_period
&"-01"),-1),"YYYY-MM")``). This evaluates such formulas the way Excel does for the subset
the template uses — literals, cell/name references, ``& + - * /``, comparisons
(``= <> < > <= >=``), unary minus and the
functions in :data:`FUNCTIONS` — and raises :class:`FormulaError` naming the cell for
anything else, never a silent wrong value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from openpyxl.formula.tokenizer import Token, Tokenizer

from ..errors import SopError

EXCEL_EPOCH = dt.date(1899, 12, 30)


class FormulaError(SopError):
    """A formula headless evaluation does not support (or that fails)."""


def _to_date(serial: float) -> dt.date:
    return EXCEL_EPOCH + dt.timedelta(days=int(serial))


def _serial(day: dt.date) -> int:
    return (day - EXCEL_EPOCH).days


def _datevalue(text) -> int:
    try:
        return _serial(dt.date.fromisoformat(str(text).strip()[:10]))
    except ValueError:
        raise FormulaError(f"DATEVALUE cannot read {text!r}") from None


def _edate(serial, months) -> int:
    day = _to_date(float(serial))
    m = day.month - 1 + int(months)
    year, month = day.year + m // 12, m % 12 + 1
    last = [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28, 31, 30, 31,
            30, 31, 31, 30, 31, 30, 31][month - 1]
    return _serial(dt.date(year, month, min(day.day, last)))


_DATE_FORMATS = {"YYYY-MM": "%Y-%m", "YYYY-MM-DD": "%Y-%m-%d", "YYYYMM": "%Y%m"}


def _text(value, fmt) -> str:
    pattern = _DATE_FORMATS.get(str(fmt).upper())
    if pattern is None:
        raise FormulaError(f"TEXT format {fmt!r} is not supported headless")
    return _to_date(float(value)).strftime(pattern)


FUNCTIONS: dict[str, Callable] = {
    "TEXT": _text,
    "EDATE": _edate,
    "DATEVALUE": _datevalue,
    "DATE": lambda y, m, d: _serial(dt.date(int(y), int(m), int(d))),
    "ABS": lambda x: abs(float(x)),
    "CONCATENATE": lambda *xs: "".join(_as_text(x) for x in xs),
    "IF": lambda test, yes=True, no=False: yes if _truth(test) else no,
    "LEFT": lambda text, n=1: _as_text(text)[:int(float(n))],
}


def _truth(value) -> bool:
    if isinstance(value, str):
        raise FormulaError(f"IF cannot test the text {value!r}")
    return bool(value)


def _compare(a, b) -> int:
    """Excel's comparison: text with text ignoring case, numbers with numbers (a blank is
    "" against text, 0 against a number), any text above any number."""
    if a is None:
        a = "" if isinstance(b, str) else 0.0
    if b is None:
        b = "" if isinstance(a, str) else 0.0
    if isinstance(a, str) != isinstance(b, str):
        return 1 if isinstance(a, str) else -1
    if isinstance(a, str):
        a, b = a.lower(), b.lower()
    else:
        a, b = float(a), float(b)
    return (a > b) - (a < b)

_BINARY = {
    "=": (0, lambda a, b: _compare(a, b) == 0),
    "<>": (0, lambda a, b: _compare(a, b) != 0),
    "<": (0, lambda a, b: _compare(a, b) < 0),
    ">": (0, lambda a, b: _compare(a, b) > 0),
    "<=": (0, lambda a, b: _compare(a, b) <= 0),
    ">=": (0, lambda a, b: _compare(a, b) >= 0),
    "&": (1, lambda a, b: _as_text(a) + _as_text(b)),
    "+": (2, lambda a, b: float(a) + float(b)),
    "-": (2, lambda a, b: float(a) - float(b)),
    "*": (3, lambda a, b: float(a) * float(b)),
    "/": (3, lambda a, b: float(a) / float(b)),
}


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def evaluate(formula: str, resolve: Callable[[str], object], where: str = "") -> object:
    """Evaluate ``formula`` (with its leading ``=``); ``resolve`` returns the value of a
    reference token (``A1``, ``Sheet!A1``, a defined name)."""
    tokens = [t for t in Tokenizer(formula).items if t.type != Token.WSPACE]
    try:
        value, pos = _expr(tokens, 0, resolve, 0)
    except FormulaError as exc:
        raise FormulaError(f"{where}: {exc.summary}" if where else exc.summary) from None
    except (ValueError, TypeError, ZeroDivisionError, OverflowError) as exc:
        raise FormulaError(f"{where}: cannot evaluate {formula!r} headless ({exc})") from None
    if pos != len(tokens):
        raise FormulaError(f"{where}: cannot evaluate {formula!r} headless")
    return value


def _expr(tokens, pos, resolve, min_prec):
    left, pos = _operand(tokens, pos, resolve)
    while pos < len(tokens) and tokens[pos].type == Token.OP_IN:
        op = tokens[pos].value
        if op not in _BINARY:
            raise FormulaError(f"operator {op!r} is not supported headless")
        prec, fn = _BINARY[op]
        if prec < min_prec:
            break
        right, pos = _expr(tokens, pos + 1, resolve, prec + 1)
        left = fn(left, right)
    return left, pos


def _operand(tokens, pos, resolve):
    if pos >= len(tokens):
        raise FormulaError("formula ends early")
    tok = tokens[pos]
    if tok.type == Token.OP_PRE and tok.value in "-+":
        value, pos = _operand(tokens, pos + 1, resolve)
        return (-float(value) if tok.value == "-" else float(value)), pos
    if tok.type == Token.OPERAND:
        if tok.subtype == Token.NUMBER:
            return float(tok.value), pos + 1
        if tok.subtype == Token.TEXT:
            return tok.value[1:-1].replace('""', '"'), pos + 1
        if tok.subtype == Token.LOGICAL:
            return tok.value.upper() == "TRUE", pos + 1
        if tok.subtype == Token.RANGE:
            return resolve(tok.value), pos + 1
        raise FormulaError(f"operand {tok.value!r} is not supported headless")
    if tok.type == Token.FUNC and tok.subtype == Token.OPEN:
        name = tok.value[:-1].upper()
        if name not in FUNCTIONS:
            raise FormulaError(f"function {name} is not supported headless")
        args, pos = [], pos + 1
        if pos < len(tokens) and not (tokens[pos].type == Token.FUNC
                                      and tokens[pos].subtype == Token.CLOSE):
            while True:
                value, pos = _expr(tokens, pos, resolve, 0)
                args.append(value)
                if tokens[pos].type == Token.SEP and tokens[pos].subtype == Token.ARG:
                    pos += 1
                    continue
                break
        if not (tokens[pos].type == Token.FUNC and tokens[pos].subtype == Token.CLOSE):
            raise FormulaError(f"cannot parse the arguments of {name}")
        return FUNCTIONS[name](*args), pos + 1
    if tok.type == Token.PAREN and tok.subtype == Token.OPEN:
        value, pos = _expr(tokens, pos + 1, resolve, 0)
        return value, pos + 1
    raise FormulaError(f"{tok.value!r} is not supported headless")
