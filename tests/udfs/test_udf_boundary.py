"""Each aggregate table crosses the Excel↔Python boundary at most once per refresh.

The UDF cells of a refreshed demo workbook are called as xlwings' UDF server calls them
(``xlwings/udfs.py``, ``call_udf``: every argument through ``xlwings.conversion.read`` with
the argument's options) on a workbook of xlwings' remote engine, and every read through the
conversion layer is counted: a table argument (``@xw.arg("data", "range")``) arrives as a
Range, and the cells that pass the same table read it once between them; after *Refresh*
has primed the cache, none; after a new refresh stamp, once again."""

from __future__ import annotations

import copy
import inspect
import time
from collections import Counter
from pathlib import Path

import openpyxl
import pytest
import xlwings as xw
import xlwings.conversion as conversion
from openpyxl.formula.tokenizer import Token, Tokenizer
from openpyxl.utils.cell import coordinate_to_tuple
from remote_book import book_json, remote_book

import udfs
from sop_workbook.workbook.headless import HeadlessWorkbook
from sop_workbook.workbook.live import LiveWorkbook


@pytest.fixture(scope="module")
def prepared(demo):
    """(UDF cells, stored values, remote-book JSON) of the demo workbook."""
    cells = udf_cells(demo)
    cached = openpyxl.load_workbook(demo, data_only=True, keep_vba=True)
    remote_book(demo)  # registers the engine
    return cells, cached, book_json(demo)


def new_book(prepared):
    return xw.Book(json=copy.deepcopy(prepared[2]))


def udf_cells(path: Path) -> list[tuple[str, str, str]]:
    wb = openpyxl.load_workbook(path, keep_vba=True)
    found = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                v = cell.value
                text = getattr(v, "text", v)
                if isinstance(text, str) and text.upper().startswith("=SOP_"):
                    found.append((ws.title, cell.coordinate, text))
    return found


def arguments(formula: str) -> tuple[str, list[list[Token]]]:
    tokens = [t for t in Tokenizer(formula).items if t.type != Token.WSPACE]
    name = tokens[0].value[:-1].upper()
    args, current, depth = [], [], 0
    for tok in tokens[1:-1]:
        if tok.type in (Token.FUNC, Token.PAREN):
            depth += 1 if tok.subtype == Token.OPEN else -1
        if depth == 0 and tok.type == Token.SEP and tok.subtype == Token.ARG:
            args.append(current)
            current = []
            continue
        current.append(tok)
    args.append(current)
    return name, args


def excel_argument(book, sheet: str, tokens: list[Token], cached_sheet):
    """What Excel hands xlwings for an argument: a Range for a reference, else a value."""
    if not tokens:
        return None
    tok = tokens[0]
    if len(tokens) == 1 and tok.type == Token.OPERAND:
        if tok.subtype == Token.TEXT:
            return tok.value[1:-1]
        if tok.subtype == Token.NUMBER:
            return float(tok.value)
        if tok.subtype == Token.RANGE:
            text = tok.value
            if "[" in text:  # table[#All]
                table = text.split("[")[0]
                for s in book.sheets:
                    for t in s.tables:
                        if t.name.lower() == table.lower():
                            return t.range
                raise AssertionError(text)
            if text.lower() in {n.name.lower() for n in book.names}:
                return book.names[text].refers_to_range
            return book.sheets[sheet].range(text.replace("$", ""))
    raise AssertionError(f"unexpected argument {tokens}")


def call_like_xlwings(name: str, args: list, counter: Counter):
    """xlwings' call_udf: each argument through conversion.read with its options."""
    fn = udfs.UDFS[name]
    params = list(inspect.signature(fn).parameters)
    options = udfs.ARG_OPTIONS.get(name, {})
    values = []
    for i, arg in enumerate(args):
        opts = dict(options.get(params[i], {}))
        if hasattr(arg, "sheet"):
            values.append(conversion.read(arg, None, opts))
        else:
            values.append(conversion.read(None, arg, opts, engine_name="remote"))
    return fn(*values)


@pytest.fixture
def counted(monkeypatch):
    """Reads of a multi-row range through xlwings' conversion layer, by address."""
    counter: Counter = Counter()
    original = conversion.read

    def read(rng, value, options, *args, **kwargs):
        if rng is not None and options.get("convert") != "range" and rng.shape[0] > 1:
            counter[(rng.sheet.name, rng.address)] += 1
        return original(rng, value, options, *args, **kwargs)

    monkeypatch.setattr(conversion, "read", read)
    return counter


def run_all(book, cells, cached) -> dict:
    results = {}
    for sheet, coord, formula in cells:
        name, toks = arguments(formula)
        args = [excel_argument(book, sheet, t, cached[sheet]) for t in toks]
        results[(sheet, coord)] = call_like_xlwings(name, args, None)
    return results


def test_each_table_is_read_once_then_never_again(prepared, counted):
    udfs.clear_table_cache()
    cells, cached, _ = prepared
    book = new_book(prepared)
    tables = {c[2].split("(")[1].split("[")[0] for c in cells}
    assert len(cells) > 80 and len(tables) >= 5

    t0 = time.perf_counter()
    results = run_all(book, cells, cached)
    first = time.perf_counter() - t0
    assert set(counted.values()) == {1}, counted  # each table once (some not at all:
    assert 4 <= len(counted) <= len(tables)  # a finance cell with no GL account reads none)
    assert {sheet for sheet, _ in counted} <= tables
    # the same figures as the headless recalculation stored
    for (sheet, coord), value in results.items():
        stored = cached[sheet][coord].value
        shown = value[0][0] if isinstance(value, list) else value
        if isinstance(stored, float):
            assert shown == pytest.approx(stored, rel=1e-9), (sheet, coord)
        else:
            assert str(shown) == str(stored), (sheet, coord)

    counted.clear()
    t0 = time.perf_counter()
    run_all(book, cells, cached)  # a recalculation with the same refresh stamp
    again = time.perf_counter() - t0
    assert not counted
    # without the cache every cell passing a table would read it: what crossed before
    per_cell = sum(1 for c in cells if "[#All]" in c[2])
    rng = next(t.range for s in book.sheets for t in s.tables if t.name == "agg_sales")
    t0 = time.perf_counter()
    rows = rng.options(ndim=2).value
    read = time.perf_counter() - t0
    print(f"\n{len(cells)} UDF cells, {per_cell} table arguments: {len(tables)} tables, "
          f"first pass {first:.3f} s, cached pass {again:.3f} s; one read of agg_sales "
          f"({len(rows) - 1} x {len(rows[0])}) through xlwings' remote engine {read:.3f} s")


def test_a_new_refresh_stamp_reads_each_table_once_more(prepared, counted):
    udfs.clear_table_cache()
    cells, cached, data = prepared
    run_all(new_book(prepared), cells, cached)
    n = len(counted)
    counted.clear()
    data = copy.deepcopy(data)  # the same workbook after another refresh: a new stamp
    name = next(n for n in data["names"] if n["name"] == "cfg_last_refresh")
    r, c = coordinate_to_tuple(name["address"])
    data["sheets"][name["sheet_index"]]["values"][r - 1][c - 1] = "2026-12-01 08:00 from x"
    run_all(xw.Book(json=data), cells, cached)
    assert len(counted) == n and set(counted.values()) == {1}


def test_refresh_primes_the_cache_so_nothing_is_read(demo, prepared, counted):
    """LiveWorkbook.recalculate (what Refresh calls before Excel calculates) hands the
    tables it wrote to the cache: the recalculation then reads none of them."""
    udfs.clear_table_cache()
    book = new_book(prepared)
    live = LiveWorkbook(book)
    headless = HeadlessWorkbook(demo)
    cells, cached, _ = prepared
    tables = sorted({c[2].split("(")[1].split("[")[0] for c in cells})
    for name in tables:  # as Refresh records them when it writes them
        live._written[name] = headless.read_table(name).reindex(
            columns=live.table_columns(name)).astype(object)
    assert live.prime_udf_tables() == len(tables)
    counted.clear()
    results = run_all(book, cells, cached)
    assert not counted
    scorecard = cached["Scorecard"]
    assert results[("Scorecard", "B6")] == pytest.approx(scorecard["B6"].value, rel=1e-9)
