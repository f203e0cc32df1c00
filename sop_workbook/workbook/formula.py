"""A small evaluator for the native formulas that feed UDF arguments headless.

``sop recalc`` must give UDFs the values of the cells they reference, and some of those
cells hold native formulas (``kpi_period`` is ``=TEXT(EDATE(DATEVALUE(cfg_current_period
&"-01"),-1),"YYYY-MM")``). This evaluates such formulas the way Excel does for the subset
the template uses — literals, cell/name references, ``& + - * /``, comparisons, unary
minus, the functions in :data:`FUNCTIONS`, ``IS…`` tests and a lazy ``IF``/``IFERROR`` —
with Excel's error values (:class:`XlError`) propagating as in Excel, and raises
:class:`FormulaError` naming the cell for anything else, never a silent wrong value.
The headless recalculation evaluates every native formula of the workbook with it, so
each formula cell carries a cached value (a reader that does not calculate shows it).
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


def _datevalue(text):
    """Excel's DATEVALUE of ISO text; text that is not a date is ``#VALUE!`` (as in Excel:
    e.g. an empty current period on Config), not a failure of the whole recalculation."""
    try:
        return _serial(dt.date.fromisoformat(str(text).strip()[:10]))
    except ValueError:
        return XlError("#VALUE!")


def _edate(serial, months) -> int:
    day = _to_date(float(serial))
    m = day.month - 1 + int(months)
    year, month = day.year + m // 12, m % 12 + 1
    last = [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28, 31, 30, 31,
            30, 31, 31, 30, 31, 30, 31][month - 1]
    return _serial(dt.date(year, month, min(day.day, last)))


_DATE_FORMATS = {"YYYY-MM": "%Y-%m", "YYYY-MM-DD": "%Y-%m-%d", "YYYYMM": "%Y%m"}


def _excel_text(value, fmt) -> str:
    pattern = _DATE_FORMATS.get(str(fmt).upper())
    if pattern is None:
        raise FormulaError(f"TEXT format {fmt!r} is not supported headless")
    return _to_date(float(value)).strftime(pattern)


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class XlError:
    """An Excel error value (``#N/A``, ``#VALUE!``, …) as a formula result: it propagates
    through operators and functions as in Excel, and is stored as an error cell."""

    __slots__ = ("code",)

    def __init__(self, code: str) -> None:
        self.code = code

    def __eq__(self, other) -> bool:
        return isinstance(other, XlError) and other.code == self.code

    def __hash__(self) -> int:
        return hash(self.code)

    def __repr__(self) -> str:
        return f"XlError({self.code!r})"

    def __str__(self) -> str:
        return self.code


NA = XlError("#N/A")
VALUE = XlError("#VALUE!")
DIV0 = XlError("#DIV/0!")
REF = XlError("#REF!")


def _number(value) -> float:
    """A value as a number in arithmetic (blank → 0; text that is not a number → #VALUE!)."""
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return float(_serial(value if type(value) is dt.date else value.date()))
    try:
        return float(str(value).strip())
    except ValueError:
        raise _ErrorResult(VALUE) from None


class _ErrorResult(Exception):
    def __init__(self, error: XlError) -> None:
        self.error = error


def _rank(value) -> int:
    if isinstance(value, bool):
        return 2
    if isinstance(value, str):
        return 1
    return 0


def _compare(a, b) -> int:
    """Excel's ordering: numbers < text (case-insensitive) < logicals; blank is 0 or ""."""
    if a is None:
        a = "" if isinstance(b, str) else (False if isinstance(b, bool) else 0.0)
    if b is None:
        b = "" if isinstance(a, str) else (False if isinstance(a, bool) else 0.0)
    ra, rb = _rank(a), _rank(b)
    if ra != rb:
        return -1 if ra < rb else 1
    if ra == 1:
        a, b = a.lower(), b.lower()
    else:
        a, b = float(a), float(b)
    return (a > b) - (a < b)


def _divide(a, b):
    b = _number(b)
    if b == 0:
        raise _ErrorResult(DIV0)
    return _number(a) / b


_BINARY = {
    "=": (0, lambda a, b: _compare(a, b) == 0),
    "<>": (0, lambda a, b: _compare(a, b) != 0),
    "<": (0, lambda a, b: _compare(a, b) < 0),
    ">": (0, lambda a, b: _compare(a, b) > 0),
    "<=": (0, lambda a, b: _compare(a, b) <= 0),
    ">=": (0, lambda a, b: _compare(a, b) >= 0),
    "&": (1, lambda a, b: _as_text(a) + _as_text(b)),
    "+": (2, lambda a, b: _number(a) + _number(b)),
    "-": (2, lambda a, b: _number(a) - _number(b)),
    "*": (3, lambda a, b: _number(a) * _number(b)),
    "/": (3, _divide),
}


def _flat(values) -> list:
    if isinstance(values, list):
        return [v for row in values for v in (row if isinstance(row, list) else [row])]
    return [values]


def _match(value, lookup, match_type=1.0):
    if float(match_type) != 0:
        raise FormulaError("MATCH is evaluated headless with match type 0 only")
    for i, candidate in enumerate(_flat(lookup), start=1):
        if candidate is not None and _compare(candidate, value) == 0 \
                and _rank(candidate) == _rank(value):
            return float(i)
    return NA


def _index(array, row, column=None):
    rows = array if isinstance(array, list) else [[array]]
    rows = [r if isinstance(r, list) else [r] for r in rows]
    r = int(_number(row))
    c = int(_number(column)) if column is not None else None
    if c is None:
        if len(rows) == 1 and r >= 1:  # a single row: the index runs along it
            r, c = 1, r
        else:
            c = 1
    if r == 0 or c == 0:
        raise FormulaError("INDEX with a row or column of 0 is not evaluated headless")
    if not (1 <= r <= len(rows) and 1 <= c <= len(rows[r - 1])):
        return REF
    return rows[r - 1][c - 1]


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _logical(value) -> bool:
    if isinstance(value, str):
        if value.upper() in ("TRUE", "FALSE"):
            return value.upper() == "TRUE"
        raise _ErrorResult(VALUE)
    return bool(_number(value))


FUNCTIONS: dict[str, Callable] = {
    "TEXT": _excel_text,
    "EDATE": _edate,
    "DATEVALUE": _datevalue,
    "DATE": lambda y, m, d: _serial(dt.date(int(_number(y)), int(_number(m)),
                                            int(_number(d)))),
    "ABS": lambda x: abs(_number(x)),
    "CONCATENATE": lambda *xs: "".join(_as_text(x) for x in xs),
    "LEFT": lambda text, n=1: _as_text(text)[:int(_number(n))],
    "INDEX": _index,
    "MATCH": _match,
    "NOT": lambda x: not _logical(x),
    "AND": lambda *xs: all(_logical(x) for x in xs),
    "OR": lambda *xs: any(_logical(x) for x in xs),
    "NA": lambda: NA,
    "ROUND": lambda x, n=0: round(_number(x), int(_number(n))),
    "MIN": lambda *xs: min(v for x in xs for v in _flat(x) if _is_number(v)),
    "MAX": lambda *xs: max(v for x in xs for v in _flat(x) if _is_number(v)),
    "SUM": lambda *xs: float(sum(v for x in xs for v in _flat(x) if _is_number(v))),
}
#: functions that look at an error argument instead of returning it
_ERROR_AWARE = {
    "ISNUMBER": lambda x: _is_number(x),
    "ISTEXT": lambda x: isinstance(x, str),
    "ISBLANK": lambda x: x is None,
    "ISERROR": lambda x: isinstance(x, XlError),
    "ISNA": lambda x: x == NA,
}
#: functions whose arguments are evaluated only when needed (Excel's IF does not evaluate
#: the branch it does not take)
_LAZY = {"IF", "IFERROR", "IFNA"}


def evaluate(formula: str, resolve: Callable[[str], object], where: str = "") -> object:
    """Evaluate ``formula`` (with its leading ``=``); ``resolve`` returns the value of a
    reference token (``A1``, ``Sheet!A1``, a defined name, a structured reference). An
    Excel error is returned as an :class:`XlError`; a construct outside the supported
    subset raises :class:`FormulaError`."""
    tokens = [t for t in Tokenizer(formula).items if t.type != Token.WSPACE]
    try:
        tree, pos = _parse(tokens, 0, 0)
        if pos != len(tokens):
            raise FormulaError(f"cannot evaluate {formula!r} headless")
        return _eval(tree, resolve)
    except FormulaError as exc:
        raise FormulaError(f"{where}: {exc.summary}" if where else exc.summary) from None
    except (ValueError, TypeError, OverflowError, IndexError) as exc:
        raise FormulaError(f"{where}: cannot evaluate {formula!r} headless ({exc})") from None


# A parsed formula is a tree of tuples: ("lit", value), ("ref", text), ("neg", node),
# ("op", op, left, right), ("call", NAME, [nodes]).


def _parse(tokens, pos, min_prec):
    left, pos = _parse_operand(tokens, pos)
    while pos < len(tokens) and tokens[pos].type == Token.OP_IN:
        op = tokens[pos].value
        if op not in _BINARY:
            raise FormulaError(f"operator {op!r} is not supported headless")
        prec = _BINARY[op][0]
        if prec < min_prec:
            break
        right, pos = _parse(tokens, pos + 1, prec + 1)
        left = ("op", op, left, right)
    return left, pos


def _parse_operand(tokens, pos):
    if pos >= len(tokens):
        raise FormulaError("formula ends early")
    tok = tokens[pos]
    if tok.type == Token.OP_PRE and tok.value in "-+":
        node, pos = _parse_operand(tokens, pos + 1)
        return (("neg", node) if tok.value == "-" else ("pos", node)), pos
    if tok.type == Token.OPERAND:
        if tok.subtype == Token.NUMBER:
            return ("lit", float(tok.value)), pos + 1
        if tok.subtype == Token.TEXT:
            return ("lit", tok.value[1:-1].replace('""', '"')), pos + 1
        if tok.subtype == Token.LOGICAL:
            return ("lit", tok.value.upper() == "TRUE"), pos + 1
        if tok.subtype == Token.ERROR:
            return ("lit", XlError(tok.value.upper())), pos + 1
        if tok.subtype == Token.RANGE:
            return ("ref", tok.value), pos + 1
        raise FormulaError(f"operand {tok.value!r} is not supported headless")
    if tok.type == Token.FUNC and tok.subtype == Token.OPEN:
        name = tok.value[:-1].upper()
        if name.startswith("_XLFN."):
            name = name[6:]
        if name not in FUNCTIONS and name not in _ERROR_AWARE and name not in _LAZY:
            raise FormulaError(f"function {name} is not supported headless")
        args, pos = [], pos + 1
        if pos < len(tokens) and not (tokens[pos].type == Token.FUNC
                                      and tokens[pos].subtype == Token.CLOSE):
            while True:
                if tokens[pos].type == Token.SEP and tokens[pos].subtype == Token.ARG:
                    args.append(("lit", None))  # an omitted argument
                    pos += 1
                    continue
                node, pos = _parse(tokens, pos, 0)
                args.append(node)
                if tokens[pos].type == Token.SEP and tokens[pos].subtype == Token.ARG:
                    pos += 1
                    continue
                break
        if not (tokens[pos].type == Token.FUNC and tokens[pos].subtype == Token.CLOSE):
            raise FormulaError(f"cannot parse the arguments of {name}")
        return ("call", name, args), pos + 1
    if tok.type == Token.PAREN and tok.subtype == Token.OPEN:
        node, pos = _parse(tokens, pos + 1, 0)
        return node, pos + 1
    raise FormulaError(f"{tok.value!r} is not supported headless")


def _eval(node, resolve):
    try:
        return _eval_node(node, resolve)
    except _ErrorResult as exc:
        return exc.error


def _eval_node(node, resolve):
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "ref":
        return resolve(node[1])
    if kind in ("neg", "pos"):
        value = _eval(node[1], resolve)
        if isinstance(value, XlError):
            return value
        return -_number(value) if kind == "neg" else _number(value)
    if kind == "op":
        _, op, left, right = node
        a, b = _eval(left, resolve), _eval(right, resolve)
        for v in (a, b):
            if isinstance(v, XlError):
                return v
        if isinstance(a, list) or isinstance(b, list):
            raise FormulaError(f"a range in an {op!r} operation is not evaluated headless")
        return _BINARY[op][1](a, b)
    _, name, args = node
    if name in _LAZY:
        return _lazy(name, args, resolve)
    values = [_eval(a, resolve) for a in args]
    if name in _ERROR_AWARE:
        return _ERROR_AWARE[name](*values)
    for v in values:
        if isinstance(v, XlError):
            return v
    return FUNCTIONS[name](*values)


def _lazy(name: str, args: list, resolve):
    if name == "IF":
        if not 1 <= len(args) <= 3:
            raise FormulaError("IF takes 1 to 3 arguments")
        cond = _eval(args[0], resolve)
        if isinstance(cond, XlError):
            return cond
        if _logical(cond):
            return _eval(args[1], resolve) if len(args) > 1 else True
        return _eval(args[2], resolve) if len(args) > 2 else False
    if len(args) != 2:
        raise FormulaError(f"{name} takes 2 arguments")
    value = _eval(args[0], resolve)
    if (name == "IFERROR" and isinstance(value, XlError)) or (name == "IFNA" and value == NA):
        return _eval(args[1], resolve)
    return value
