"""The reliability campaign (issue 20): a hostile user and a busy team against `sop`.

    uv run python tools/reliability_campaign.py [--only GROUP ...] [--kills N] [--pairs N]
    uv run python tools/reliability_campaign.py --table   # the README's table, from docs/

Each group's run is recorded in ``docs/reliability/GROUP.json`` (checks, failures with
what went wrong, every check's name, date, runtime, the machine's load and the commit)
and appended, without the list of checks, to ``docs/reliability/history.jsonl`` (failed
runs too); ``--table`` prints the README's table from the GROUP.json records.

Every check is one command run (or one kill) judged by what a user would expect; a check
fails on a traceback, a hang (timeout), an exit code other than expected, an error that is
not one ``error: …`` line, a workbook changed when it must not be (or lost, or damaged),
a temporary file left behind, a lost update, or a problem reported elsewhere than where
it is. Groups:

- ``workbooks``: >= 30 hostile workbooks (not a zip, zip bomb, XML bomb, duplicate zip
  entries, a plain .xlsx, a sheet/table/column/name removed or renamed, Config values out
  of range, FIFO/folder/device paths, damaged parts) x every workbook command (refresh,
  roll-forward, recalc, export-scorecard, history, baseline, calendar, agenda, minutes,
  and undo with the hostile file as the backup);
- ``sources``: >= 50 hostile sources x (validate, refresh): each problem located with its
  row and column, validation and refresh agreeing, the workbook untouched;
- ``kills``: refresh / roll-forward killed (SIGKILL) at random moments, a third of them
  aimed inside the save: the old or the new workbook, intact; the next command on it
  removes every temporary file;
- ``disk``: the disk filling up (a real file-size limit, RLIMIT_FSIZE; ENOSPC injected at
  the write layer; a small tmpfs when mounting is permitted) and permission errors (when
  run as root: without CAP_DAC_OVERRIDE via setpriv, else as user nobody): ``error: …``,
  exit 2, original intact, no temporary left;
- ``concurrency``: pairs of writers started together on one workbook: each change kept
  or refused, none lost.

The test suite runs a fast subset (tests/e2e/test_reliability_campaign.py).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "SOP_Template.xlsm"
SOP = [sys.executable, "-m", "sop_workbook"]
#: every command that works on an existing workbook (``new`` makes one and refuses an
#: existing file; ``doctor`` diagnoses the machine's Excel setup, not the workbook)
COMMANDS = ("refresh", "roll-forward", "recalc", "export-scorecard", "history", "baseline",
            "calendar", "agenda", "minutes", "undo")


@dataclass
class Result:
    checks: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    #: every check: (group, name, passed)
    log: list[tuple[str, str, bool]] = field(default_factory=list)
    #: what the group tried (numbers of cases), for its record
    meta: dict = field(default_factory=dict)

    def check(self, group: str, name: str, ok: bool, detail: str = "") -> bool:
        self.checks[group] += 1
        self.log.append((group, name, bool(ok)))
        if not ok:
            self.failures.append(f"[{group}] {name}: {detail[:600]}")
        return ok

    def merge(self, other: Result) -> None:
        self.checks.update(other.checks)
        self.failures += other.failures
        self.log += other.log
        self.meta.update(other.meta)


def run(args: list[str], timeout: float = 180, env: dict | None = None,
        preexec=None, prefix: tuple[str, ...] = ()) -> tuple[int | None, str]:
    """Run ``sop ARGS`` (after the ``prefix`` command, e.g. setpriv); (exit code or None
    on timeout, stdout+stderr)."""
    try:
        proc = subprocess.run([*prefix, *SOP, *map(str, args)], capture_output=True,
                              text=True,
                              timeout=timeout, env={**os.environ, **(env or {})},
                              preexec_fn=preexec, errors="replace")
    except subprocess.TimeoutExpired as exc:
        return None, f"timed out after {timeout} s: {exc.stdout or ''}{exc.stderr or ''}"
    return proc.returncode, proc.stdout + proc.stderr


def clean_error(code: int | None, output: str, expect: str | None = None) -> str:
    """'' if the run ended as a clean user error (exit 2, one ``error:`` line first, no
    traceback, ``expect`` in the output), else why not."""
    if code is None:
        return output
    if "Traceback" in output:
        return "traceback: " + output[-800:]
    if code != 2:
        return f"exit {code}: {output[-800:]}"
    lines = [line for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    if not lines or len(errors) != 1 or not lines[0].startswith(("error:", "warning:")):
        return f"not one error line: {output[-800:]}"
    if expect and expect not in output:
        return f"{expect!r} not in: {output[-800:]}"
    return ""


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp")
                  or p.name.endswith(".lock"))


# --------------------------------------------------------------------------- fixtures


def make_fixtures(folder: Path) -> dict[str, Path]:
    """Two demo sources and a refreshed workbook (from source a)."""
    from sop_workbook import demo_data
    from sop_workbook.actions import refresh
    from sop_workbook.workbook.headless import HeadlessWorkbook

    folder.mkdir(parents=True, exist_ok=True)
    demo_data.write(folder / "a", items=8, months=14, seed=1)
    demo_data.write(folder / "b", items=8, months=14, seed=2)
    good = folder / "good.xlsm"
    shutil.copy(TEMPLATE, good)
    book = HeadlessWorkbook(good)
    refresh(book, str(folder / "a"))
    book.save(backups=0)
    return {"a": folder / "a", "b": folder / "b", "good": good}


# --------------------------------------------------------------------------- workbooks


def _rezip(src: Path, dst: Path, edit=None, extra: list[tuple[str, bytes]] = ()) -> None:
    """Copy a workbook zip, ``edit(name, data) -> data | None`` (None drops the part)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as out:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if edit is not None:
                data = edit(info.filename, data)
            if data is not None:
                out.writestr(info.filename, data)
        for name, data in extra:
            with contextlib.suppress(UserWarning):
                out.writestr(name, data)


def _table_part(path: Path, table: str) -> str:
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/tables/") and f'displayName="{table}"'.encode() in z.read(name):
                return name
    raise KeyError(table)


def _config(src: Path, dst: Path, name: str, value) -> None:
    """A copy of ``src`` whose cell named ``name`` holds ``value`` (None: empty): the cell
    of the Config sheet's part rewritten as a headless save writes it (numbers as ``<v>``,
    text as an inline string), the rest of the file as it is — a fraction of the time of
    loading and saving the whole workbook."""
    import re
    from xml.sax.saxutils import escape

    with zipfile.ZipFile(src) as z:
        wb = z.read("xl/workbook.xml").decode()
        rels = z.read("xl/_rels/workbook.xml.rels").decode()
    sheet, cell = _name_target(wb, name)
    rid = re.search(rf'<sheet [^>]*name="{re.escape(sheet)}"[^>]*r:id="(rId\d+)"', wb).group(1)
    part = re.search(rf'Target="/?([^"]+)" Id="{rid}"', rels).group(1)

    def edit(part_name: str, data: bytes) -> bytes:
        if part_name != part:
            return data
        text = data.decode()
        pattern = re.compile(rf'<c r="{cell}"( s="\d+")?[^>]*?(/>|>.*?</c>)', re.S)
        found = pattern.search(text)
        style = found.group(1) or ""
        if value is None:
            new = f'<c r="{cell}"{style}/>'
        elif isinstance(value, (int, float)):
            new = f'<c r="{cell}"{style} t="n"><v>{value!r}</v></c>'
        else:
            new = f'<c r="{cell}"{style} t="inlineStr"><is><t>{escape(str(value))}</t></is></c>'
        return (text[:found.start()] + new + text[found.end():]).encode()

    _rezip(src, dst, edit)


def _name_target(workbook_xml: str, name: str) -> tuple[str, str]:
    """(sheet, cell) a defined name points at (``'Config'!$B$6`` → ("Config", "B6"))."""
    import re

    ref = re.search(rf'<definedName name="{name}">([^<]+)</definedName>', workbook_xml).group(1)
    sheet, _, coord = ref.rpartition("!")
    return sheet.strip("'").replace("''", "'"), coord.replace("$", "")


#: (hostile workbook, command) pairs that succeed by design: Refresh on a workbook whose
#: current period is empty starts the month after the data's last one (issue 15)
STARTS_FROM_DATA = {("Config cfg_current_period = None", "refresh")}


def hostile_workbooks(good: Path, folder: Path) -> list[tuple[str, Path, str | None]]:
    """(name, path, what the error must mention or None) for each hostile workbook."""
    import warnings

    warnings.simplefilter("ignore")
    folder.mkdir(parents=True, exist_ok=True)
    out: list[tuple[str, Path, str | None]] = []

    def new(name: str) -> Path:
        return folder / f"{name}.xlsm"

    p = new("text")
    p.write_text("=cmd|' /C calc'!A0")
    out.append(("not a zip", p, "not a workbook"))
    p = new("empty"); p.write_bytes(b""); out.append(("empty file", p, "not a workbook"))  # noqa: E702
    p = new("truncated"); p.write_bytes(good.read_bytes()[: good.stat().st_size // 2])  # noqa: E702
    out.append(("truncated zip", p, "not a workbook"))
    p = new("bomb")
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            for _ in range(12):
                part.write(b"\0" * (1 << 24))
    out.append(("zip bomb", p, "refusing"))
    laughs = ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
              + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'
                        for i in range(8))
              + ']><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/'
              'main">&i;</workbook>').encode()
    p = new("laughs"); _rezip(good, p, lambda n, d: laughs if n == "xl/workbook.xml" else d)  # noqa: E702
    out.append(("billion laughs", p, "unsafe"))
    with zipfile.ZipFile(good) as z:
        sheet1 = z.read("xl/worksheets/sheet1.xml")
        wbxml = z.read("xl/workbook.xml")
    p = new("dup_sheet"); _rezip(good, p, extra=[("xl/worksheets/sheet1.xml", sheet1)])  # noqa: E702
    out.append(("duplicate sheet entry", p, "two zip entries"))
    p = new("dup_wb"); _rezip(good, p, extra=[("xl/workbook.xml", wbxml)])  # noqa: E702
    out.append(("duplicate workbook.xml", p, "two zip entries"))
    p = new("dup_case"); _rezip(good, p, extra=[("XL/Worksheets/Sheet1.xml", sheet1)])  # noqa: E702
    out.append(("duplicate entry, other case", p, "two zip entries"))
    import openpyxl

    plain = openpyxl.Workbook()
    plain.active["A1"] = "hello"
    p = new("plain_xlsx"); plain.save(p)  # noqa: E702
    out.append(("plain .xlsx renamed .xlsm", p, "not an S&OP workbook"))
    p = new("no_workbook_xml"); _rezip(good, p, lambda n, d: None if n == "xl/workbook.xml" else d)  # noqa: E702
    out.append(("no xl/workbook.xml", p, "no xl/workbook.xml"))
    p = new("garbage_wb"); _rezip(good, p, lambda n, d: b"<<<" if n == "xl/workbook.xml" else d)  # noqa: E702
    out.append(("workbook.xml not XML", p, "damaged"))
    items_part = _table_part(good, "items")
    p = new("garbage_table"); _rezip(good, p, lambda n, d: b"\xff\xfe" if n == items_part else d)  # noqa: E702
    out.append(("table part not XML", p, "damaged"))
    p = new("renamed_table")
    _rezip(good, p, lambda n, d: d.replace(b'displayName="items"', b'displayName="items2"')
           .replace(b'name="items"', b'name="items2"') if n == items_part else d)
    out.append(("items table renamed", p, "no table 'items'"))
    ov = _table_part(good, "plan_overrides")
    p = new("renamed_column")
    _rezip(good, p, lambda n, d: d.replace(b'name="quantity"', b'name="qty"') if n == ov else d)
    out.append(("input-table column renamed", p, "has no column 'quantity'"))
    agg = _table_part(good, "agg_sales")
    p = new("renamed_agg_column")
    _rezip(good, p, lambda n, d: d.replace(b'tableColumn id="1" name="', b'tableColumn id="1" '
                                           b'name="x') if n == agg else d)
    out.append(("aggregate column renamed", p, "agg_sales"))
    p = new("no_name")
    _rezip(good, p, lambda n, d: _drop_name(d, b"cfg_horizon") if n == "xl/workbook.xml" else d)
    out.append(("defined name removed", p, "cfg_horizon"))
    p = new("ref_name")
    _rezip(good, p, lambda n, d: d.replace(b"'Config'!$B$6", b"#REF!")
           if n == "xl/workbook.xml" else d)
    out.append(("defined name #REF!", p, "cfg_horizon"))
    p = new("no_config")
    _rezip(good, p, lambda n, d: _drop_sheet(d, b"Config") if n == "xl/workbook.xml" else d)
    out.append(("Config sheet removed", p, "Config"))
    p = new("crc")
    raw = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as z:
        info = z.getinfo("xl/workbook.xml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 5
    raw[start] ^= 0xFF
    p.write_bytes(bytes(raw))
    out.append(("damaged part (CRC)", p, None))
    for name, cfg, value, expect in [
            ("horizon_huge", "cfg_horizon", 100_000_000, "Config!B6"),
            ("horizon_negative", "cfg_horizon", -1, "Config!B6"),
            ("horizon_text", "cfg_horizon", "twelve", "Config!B6"),
            ("horizon_fraction", "cfg_horizon", 6.5, "Config!B6"),
            ("period_13", "cfg_current_period", "2026-13", "current period"),
            ("period_far", "cfg_current_period", "9999-01", "current period"),
            ("period_empty", "cfg_current_period", None, "current period"),
            ("tolerance_huge", "cfg_tolerance_days", 1e9, "tolerance"),
            ("days_late_negative", "cfg_days_late", -1, "days late"),
            ("safety_negative", "cfg_safety_days", -5, "safety"),
            ("lookahead_zero", "cfg_dos_lookahead", 0, "lookahead"),
            ("labour_text", "cfg_labour_rate", "lots", "labour"),
            ("fill_basis", "cfg_fill_basis", "sometimes", "fill basis"),
            ("income_sign", "cfg_gl_income_sign", "maybe", "gl income sign")]:
        p = new(name)
        _config(good, p, cfg, value)
        out.append((f"Config {cfg} = {value!r}", p, expect))
    p = new("override_text")
    from sop_workbook.workbook.headless import HeadlessWorkbook

    shutil.copy(good, p)
    book = HeadlessWorkbook(p)
    import pandas as pd

    book.write_table("plan_overrides", pd.DataFrame({
        "item_no": ["X"], "location_code": ["MAIN"], "period": ["2026-12"],
        "quantity": ["a lot"]}))
    book.save(backups=0)
    out.append(("override quantity not a number", p, "2 Demand!"))
    p = folder / "folder.xlsm"
    p.mkdir(exist_ok=True)
    out.append(("a folder", p, "folder"))
    p = folder / "fifo.xlsm"
    if not p.exists():
        os.mkfifo(p)
    out.append(("a FIFO", p, "FIFO"))
    p = folder / "device.xlsm"
    if not p.exists():
        p.symlink_to("/dev/zero")
    out.append(("a device", p, "device"))
    out.append(("missing file", folder / "missing.xlsm", "not found"))
    return out


def _drop_name(xml: bytes, name: bytes) -> bytes:
    import re

    return re.sub(rb'<definedName name="' + name + rb'"[^>]*>[^<]*</definedName>', b"", xml)


def _drop_sheet(xml: bytes, name: bytes) -> bytes:
    import re

    return re.sub(rb'<sheet [^>]*name="' + name + rb'"[^>]*/>', b"", xml)


def command_args(command: str, workbook: Path, fx: dict, scratch: Path) -> list:
    return {"refresh": ["refresh", workbook, "--source", fx["b"]],
            "roll-forward": ["roll-forward", workbook],
            "recalc": ["recalc", workbook],
            "export-scorecard": ["export-scorecard", workbook, "--out", scratch / "sc"],
            "history": ["history", workbook, "--out", scratch / "history.csv"],
            "baseline": ["baseline", workbook],
            "calendar": ["calendar", workbook, "--year", "2027"],
            "agenda": ["agenda", workbook, "--out", scratch / "ag"],
            "minutes": ["minutes", workbook, "--out", scratch / "mi"],
            "undo": ["undo", workbook]}[command]


def snapshot(path: Path) -> bytes | str:
    try:
        if path.is_file() and not path.is_symlink():
            return path.read_bytes()
    except OSError:
        pass
    return "special"


def workbooks_group(fx: dict, folder: Path, commands=COMMANDS, limit: int | None = None
                    ) -> Result:
    res = Result()
    cases = hostile_workbooks(fx["good"], folder / "hostile")
    if limit:
        cases = cases[:limit]
    res.meta["cases"] = len(cases)
    for name, path, expect in cases:
        original = snapshot(path)
        for command in commands:
            if isinstance(original, bytes) and snapshot(path) != original:
                # a command that succeeded (by design) rewrote it: each command gets the
                # hostile file as it was made
                path.write_bytes(original)
            scratch = Path(tempfile.mkdtemp(dir=folder))
            if command == "undo":  # the hostile file is the backup; the workbook is good
                target = scratch / "wb.xlsm"
                shutil.copy(fx["good"], target)
                backup = scratch / "wb.xlsm.bak1"
                if path.exists() or path.is_symlink():
                    if path.is_dir() and not path.is_symlink():
                        backup.mkdir()
                    elif path.is_symlink() or not path.is_file():
                        backup.symlink_to(path.resolve() if path.is_symlink() else path)
                    else:
                        shutil.copy(path, backup)
                else:
                    backup = None
                before = target.read_bytes()
                code, output = run(["undo", target], timeout=60)
                ok_structural = code == 0 and expect and expect.startswith(
                    ("Config", "current", "tolerance", "days", "safety", "lookahead", "labour",
                     "fill", "gl", "2 Demand"))
                why = "" if ok_structural else clean_error(
                    code, output, None if backup is not None else "no backup")
                if not why and not ok_structural and target.read_bytes() != before:
                    why = "the workbook changed"
                res.check("workbooks", f"{name} x undo", not why, why)
                shutil.rmtree(scratch, ignore_errors=True)
                continue
            before = snapshot(path)
            code, output = run(command_args(command, path, fx, scratch), timeout=90)
            bad_value = name.startswith(("Config", "override"))  # a sane file, a bad entry
            if code == 0 and (name, command) in STARTS_FROM_DATA:
                why = ""  # by design (see STARTS_FROM_DATA)
            elif code == 0 and bad_value and command not in ("refresh", "roll-forward"):
                # a command that does not read that entry may succeed; the file stays sane
                why = intact(path, fx["good"])
            else:
                why = clean_error(code, output, expect if not bad_value
                                  or command in ("refresh", "roll-forward") else None)
            if not why and code == 2 and snapshot(path) != before:
                why = "the hostile workbook was changed"
            if not why and path.parent.is_dir() and leftovers(path.parent):
                why = f"left {leftovers(path.parent)}"
            res.check("workbooks", f"{name} x {command}", not why, why)
            shutil.rmtree(scratch, ignore_errors=True)
            for stray in path.parent.glob(f"{path.name}.bak*"):
                if stray.is_file():
                    stray.unlink()
    return res


# --------------------------------------------------------------------------- sources


def hostile_sources(base: Path, folder: Path) -> list[tuple[str, Path, str | None]]:
    """(name, folder, the location the report must name — None: the source is valid)."""
    folder.mkdir(parents=True, exist_ok=True)
    out: list[tuple[str, Path, str | None]] = []
    n = [0]

    def variant(name: str, table: str, edit, expect: str | None) -> None:
        n[0] += 1
        d = folder / f"s{n[0]:02d}"
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(base, d)
        edit(d / f"{table}.csv")
        out.append((name, d, expect))

    def special(kind: str):
        def edit(path: Path) -> None:
            path.unlink()
            if kind == "fifo":
                os.mkfifo(path)
            elif kind == "dir":
                path.mkdir()
            elif kind == "dev":
                path.symlink_to("/dev/zero")
            elif kind == "null":
                path.symlink_to("/dev/null")
        return edit

    def write(content: bytes):
        return lambda path: path.write_bytes(content)

    # the file's line i is row i + 1 (header = row 1); raw_cell puts bytes as they are
    for table, line, col in [("items", 3, "description"), ("customers", 2, "name"),
                             ("vendors", 1, "name"), ("locations", 1, "name")]:
        variant(f"NUL byte in {table}.{col}", table, raw_cell(line, col, b'"AB\0CD"'),
                f"{table}, row {line + 1}, column {col}")
        variant(f"control character in {table}.{col}", table,
                raw_cell(line, col, b"Bell\x07" if line % 2 else b"Esc\x1b[0m"),
                f"{table}, row {line + 1}, column {col}")
    variant("U+FFFF in a text", "customers", raw_cell(4, "name", "x\uffffy".encode()),
            "customers, row 5, column name")
    variant("quoted field starting with CR", "items",
            raw_cell(3, "description", b'"\rChair, white"'), None)
    variant("quoted field starting with CR (first row)", "items",
            raw_cell(1, "description", b'"\rDesk"'), None)
    variant("quoted field starting with CRLF, CRLF file", "items", lambda p: (
        raw_cell(2, "description", b'"\r\nLamp"')(p),
        p.write_bytes(p.read_bytes().replace(b"\r\n", b"\0").replace(b"\n", b"\r\n")
                      .replace(b"\0", b"\r\n"))), None)
    variant("quoted field holding a line break", "customers",
            raw_cell(2, "name", b'"Blue\nHarbor"'), None)
    variant("tab in a text", "customers", raw_cell(3, "name", b"Blue\tHarbor"), None)
    variant("quoted comma and doubled quotes", "customers",
            raw_cell(5, "name", b'"The ""Big"", Co"'), None)
    variant("non-BMP text", "vendors", raw_cell(2, "name", "Caf\u00e9 \U0001F600".encode()),
            None)
    variant("10 MB field", "items", raw_cell(3, "description",
                                           b'"' + b"x" * 10_000_000 + b'"'),
            "items, row 4, column description")
    variant("40,000-character field", "items", raw_cell(5, "description", b"y" * 40_000),
            "items, row 6, column description")
    variant("quote inside an unquoted field (read as it is)", "items",
            raw_cell(4, "description", b'ab"c'), None)
    variant("stray quote breaking the quoting", "items",
            raw_cell(4, "description", b'ab"c"Storage, grey"'),
            "items, row 5, column description")
    variant("text after a closing quote", "items", raw_cell(4, "description", b'"abc"x'),
            "items, row 5, column description")
    variant("quote never closed (last row)", "vendors",
            lambda p: p.write_bytes(p.read_bytes().rstrip(b"\n") + b'\nV9,"Open\n'),
            "vendors, row")
    variant("stray quote in sales_lines", "sales_lines", raw_cell(7, "order_no", b'S"O'),
            "sales_lines, row 8, column order_no")
    variant("extra field", "customers", lambda p: p.write_bytes(
        _lines_edit(p, 3, lambda b: b + b",extra")), "customers, row 4")
    variant("missing field", "customers", lambda p: p.write_bytes(
        _lines_edit(p, 1, lambda b: b"C1,only")), "customers, row 2")
    for kind, what in [("fifo", "FIFO"), ("dir", "folder"), ("dev", "device"),
                       ("null", "device")]:
        for table in ("items", "sales_lines"):
            variant(f"{table}.csv is a {kind}", table, special(kind),
                    f"{table}: {table}.csv is a {what}")
    variant("empty file", "items", write(b""), "items: file is empty")
    variant("blank file", "customers", write(b"\n\n  \n"), "customers: file is empty")
    variant("not UTF-8", "items", raw_cell(2, "description", b"Caf\xe9"), "items, row 3")
    variant("UTF-16", "vendors", lambda p: p.write_bytes(p.read_text().encode("utf-16")),
            "vendors, row 1")
    variant("BOM", "items", lambda p: p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes()), None)
    variant("CRLF line ends", "sales_lines",
            lambda p: p.write_bytes(p.read_bytes().replace(b"\n", b"\r\n")), None)
    variant("header only", "purchase_orders",
            lambda p: p.write_bytes(p.read_bytes().split(b"\n")[0] + b"\n"), None)
    variant("required column missing", "items",
            lambda p: p.write_bytes(p.read_bytes().replace(b"item_no,", b"itemno,", 1)),
            "items, row 1, column item_no")
    variant("column twice, differing in case (the first is used)", "customers",
            lambda p: p.write_bytes(p.read_bytes().replace(b",salesperson", b",NAME", 1)),
            None)
    variant("quantity a formula", "sales_lines", _cell_edit(4, "quantity", "=1+1"),
            "sales_lines, row 5, column quantity")
    variant("date invalid", "sales_lines", _cell_edit(6, "promised_date", "2026-02-30"),
            "sales_lines, row 7, column promised_date")
    variant("date far future", "sales_lines", _cell_edit(3, "order_date", "2300-01-01"),
            "sales_lines, row 4, column order_date")
    variant("number huge", "sales_lines", _cell_edit(2, "quantity", "1e400"),
            "sales_lines, row 3, column quantity")
    variant("number inf", "items", _cell_edit(2, "unit_cost", "inf"),
            "items, row 3, column unit_cost")
    variant("duplicate key", "items", lambda p: p.write_bytes(
        p.read_bytes() + p.read_bytes().split(b"\n")[1] + b"\n"), "items, row")
    variant("unknown item", "sales_lines", _cell_edit(5, "item_no", "NOPE"),
            "sales_lines, row 6, column item_no")
    variant("bad period", "inventory", _cell_edit(1, "period", "2026-13"),
            "inventory, row 2, column period")
    variant("formula text", "customers", _cell_edit(1, "name", '=HYPERLINK("x")'), None)
    variant("empty required value", "items", _cell_edit(2, "category", ""),
            "items, row 3, column category")
    variant("csv and parquet", "vendors", lambda p: (p.parent / "vendors.parquet").write_bytes(
        b"PAR1"), "vendors: both")
    variant("parquet garbage", "vendors", lambda p: (p.unlink(), (p.parent / "vendors.parquet")
                                                      .write_bytes(b"PAR1garbagePAR1")),
            "vendors")
    variant("semicolon file", "locations", _rewrite(delimiter=";"), None)
    return out


def _lines_edit(path: Path, line: int, change) -> bytes:
    lines = path.read_bytes().split(b"\n")
    lines[line] = change(lines[line])
    return b"\n".join(lines)


def raw_cell(line: int, column: str, raw: bytes):
    """Put ``raw`` bytes, exactly, as the cell of record ``line`` (0 = header) and
    ``column`` (the rest of the file rewritten as standard CSV)."""
    import csv

    def edit(path: Path) -> None:
        rows = list(csv.reader(io.StringIO(path.read_text("utf-8"))))
        rows[line][rows[0].index(column)] = "SOPPLACEHOLDER"
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        path.write_bytes(buf.getvalue().encode("utf-8").replace(b"SOPPLACEHOLDER", raw, 1))
    return edit


def _cell_edit(line: int, column: str, value: str):
    """A cell set to ``value`` (written as CSV writes it)."""
    import csv

    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([value])
    return raw_cell(line, column, buf.getvalue().encode("utf-8") if value else b"")


def _rewrite(delimiter: str):
    import csv

    def edit(path: Path) -> None:
        rows = list(csv.reader(io.StringIO(path.read_text("utf-8"))))
        buf = io.StringIO()
        csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerows(rows)
        path.write_text(buf.getvalue(), "utf-8")
    return edit


def sources_group(fx: dict, folder: Path, limit: int | None = None) -> Result:
    res = Result()
    cases = hostile_sources(fx["a"], folder / "sources")
    if limit:
        cases = cases[:limit]
    res.meta["cases"] = len(cases)
    for name, src, expect in cases:
        vcode, vout = run(["validate", "--source", src], timeout=120)
        target = folder / "src-wb.xlsm"
        shutil.copy(fx["good"], target)
        before = target.read_bytes()
        rcode, rout = run(["refresh", target, "--source", src], timeout=240)
        if expect is None:
            why_v = "" if vcode == 0 and "Traceback" not in vout else f"validate: {vout[-600:]}"
            why_r = "" if rcode == 0 and "Traceback" not in rout else f"refresh: {rout[-600:]}"
        else:
            why_v = clean_error(vcode, vout, expect)
            why_r = clean_error(rcode, rout, expect)
            if not why_r and target.read_bytes() != before:
                why_r = "the workbook changed"
        res.check("sources", f"{name}: validate", not why_v, why_v)
        res.check("sources", f"{name}: refresh", not why_r, why_r)
        agree = (vcode == 0) == (rcode == 0)
        res.check("sources", f"{name}: validate and refresh agree", agree,
                  f"validate {vcode}, refresh {rcode}: {vout[-300:]} / {rout[-300:]}")
        for stray in folder.glob("src-wb.xlsm*"):
            stray.unlink()
    return res


# --------------------------------------------------------------------------- kills


def intact(path: Path, reference: Path) -> str:
    from sop_workbook.workbook.checks import check_sop_workbook

    try:
        with zipfile.ZipFile(path) as z, zipfile.ZipFile(reference) as ref:
            if z.testzip() is not None:
                return "CRC error"
            for part in ("xl/vbaProject.bin", "customUI/customUI.xml"):
                if z.read(part) != ref.read(part):
                    return f"{part} differs"
        check_sop_workbook(path)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return ""


def _saving(work: Path) -> bool:
    """Is a save under way in ``work`` (a temporary file of it there)?"""
    return any(p.name.endswith(".tmp") for p in work.iterdir())


def kills_group(fx: dict, folder: Path, kills: int, seed: int = 20,
                aimed_at: set[int] | None = None) -> Result:
    """SIGKILL refresh / roll forward: two kills in three at a random moment of the run,
    one in three (those in ``aimed_at`` if given) aimed inside the save (once its
    temporary file appears, after a random few milliseconds more; the save takes
    ~10 ms). The process is stopped (SIGSTOP) at that moment, then killed: the kill
    counts as inside the save when a temporary file was there while it was stopped.
    Either way the workbook must be the old one or an intact new one, and the next
    command on it (recalc, or agenda, which only reads) must remove everything the
    killed run left."""
    res = Result()
    rng = random.Random(seed)
    work = folder / "kills"
    work.mkdir(parents=True, exist_ok=True)
    old = fx["good"]
    old_bytes = old.read_bytes()
    target = work / "wb.xlsm"

    def args_for(action: str) -> list:
        return ["refresh", target, "--source", fx["b"]] if action == "refresh" else \
            ["roll-forward", target]

    durations: dict[str, float] = {}

    def duration(action: str) -> float:
        """How long an unkilled run takes (measured once, when a random kill needs it)."""
        if action not in durations:
            shutil.copy(old, target)
            start = time.perf_counter()
            run(args_for(action))
            durations[action] = time.perf_counter() - start
        return durations[action]

    inside = 0
    for i in range(kills):
        action = ("refresh", "roll-forward")[i % 2]
        aimed = i % 3 == 2 if aimed_at is None else i in aimed_at
        pause = None if aimed else duration(action) * rng.uniform(0.3, 1.1)
        for p in work.iterdir():
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()
        shutil.copy(old, target)
        proc = subprocess.Popen([*SOP, *map(str, args_for(action))],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if aimed:  # wait for the save to begin
            deadline = time.perf_counter() + 600
            while proc.poll() is None and not _saving(work) \
                    and time.perf_counter() < deadline:
                time.sleep(0.001)
            time.sleep(rng.uniform(0, 0.008))
        else:
            time.sleep(pause)
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGSTOP)
        in_save = proc.poll() is None and _saving(work)
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        inside += in_save
        data = target.read_bytes()
        why = "" if data == old_bytes else intact(target, old)
        when = "inside the save" if in_save else "aimed at the save, landed outside" \
            if aimed else "at a random moment"
        res.check("kills", f"kill {i} ({action}, {when}): workbook intact", not why, why)
        # the next command on the workbook removes what the killed run left
        if i % 3 == 0:
            code, output = run(["recalc", target])
        else:
            code, output = run(["agenda", target, "--out", work / "agenda"])
            shutil.rmtree(work / "agenda", ignore_errors=True)
        left = leftovers(work)
        res.check("kills", f"kill {i}: the next command ({('recalc', 'agenda')[i % 3 != 0]}) "
                  "cleans up", code == 0 and not left,
                  f"exit {code}, left {left}: {output[-300:]}")
    res.meta["inside_save"] = inside
    return res


# --------------------------------------------------------------------------- disk


_INJECT = """
import builtins, errno, os, sys
_open = builtins.open
class _Full:
    def __init__(self, fh): self._fh = fh
    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    def __getattr__(self, name): return getattr(self._fh, name)
    def __enter__(self): return self
    def __exit__(self, *a): self._fh.close()
def _patched(file, mode="r", *a, **k):
    fh = _open(file, mode, *a, **k)
    if ("w" in mode or "a" in mode) and str(file).endswith(".tmp"):
        return _Full(fh)
    return fh
builtins.open = _patched
sys.argv = ["sop", *sys.argv[1:]]
from sop_workbook.cli import main
main()
"""


def _fsize_limit(limit: int):
    def apply() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def disk_group(fx: dict, folder: Path, quick: bool = False) -> Result:
    res = Result()
    work = folder / "disk"
    work.mkdir(parents=True, exist_ok=True)
    cases = [("refresh", lambda t: ["refresh", t, "--source", fx["b"]]),
             ("roll-forward", lambda t: ["roll-forward", t]),
             ("recalc", lambda t: ["recalc", t]),
             ("calendar", lambda t: ["calendar", t, "--year", "2027"])]
    if quick:  # the suite's subset: roll forward and recalc
        cases = cases[1:3]
    size = fx["good"].stat().st_size
    for how in ("file-size limit (EFBIG)", "ENOSPC injected at the write layer"):
        for name, args in cases:
            for p in work.iterdir():
                if p.is_file():
                    p.unlink()
            target = work / "wb.xlsm"
            shutil.copy(fx["good"], target)
            before = target.read_bytes()
            if how.startswith("file-size"):
                code, output = run(args(target), preexec=_fsize_limit(size // 3))
            else:
                try:
                    proc = subprocess.run([sys.executable, "-c", _INJECT, *map(str, args(target))],
                                          capture_output=True, text=True, timeout=180)
                    code, output = proc.returncode, proc.stdout + proc.stderr
                except subprocess.TimeoutExpired:
                    code, output = None, "timed out"
            why = clean_error(code, output)
            if not why and not any(k in output for k in ("disk is full", "cannot write",
                                                         "larger than this system allows")):
                why = f"the error does not say the disk is full: {output[-400:]}"
            if not why and target.read_bytes() != before:
                why = "the workbook changed"
            if not why and leftovers(work):
                why = f"left {leftovers(work)}"
            res.check("disk", f"{how}: {name}", not why, why)
    res.merge(_tmpfs_case(fx, folder))
    res.merge(_permission_cases(fx, folder, quick))
    return res


def _tmpfs_case(fx: dict, folder: Path) -> Result:
    """A real full disk: a 1 MiB tmpfs holding the workbook (only where mounting works)."""
    res = Result()
    mount = folder / "tmpfs"
    mount.mkdir(exist_ok=True)
    size = fx["good"].stat().st_size
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size + size // 2}", "tmpfs",
                         str(mount)], capture_output=True).returncode == 0
    if not ok:
        return res
    res.meta["tmpfs"] = True
    try:
        target = mount / "wb.xlsm"
        shutil.copy(fx["good"], target)
        before = target.read_bytes()
        code, output = run(["roll-forward", target])
        why = clean_error(code, output, "disk is full")
        if not why and target.read_bytes() != before:
            why = "the workbook changed"
        if not why and leftovers(mount):
            why = f"left {leftovers(mount)}"
        res.check("disk", "tmpfs full: roll-forward", not why, why)
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)
    return res


#: root without the capabilities that override file modes: real permission errors
SETPRIV = ("setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner")


def _unprivileged() -> tuple[str, tuple[str, ...], object] | None:
    """How to run ``sop`` so that file modes apply: (how, command prefix, preexec).
    As root: without CAP_DAC_OVERRIDE (setpriv), else as user nobody when the
    interpreter is reachable for it; otherwise as this user. None: not possible here."""
    if os.geteuid() != 0:
        return "as this user", (), None
    probe = [sys.executable, "-c", "import sop_workbook"]
    if shutil.which("setpriv"):
        try:
            subprocess.run([*SETPRIV, *probe], check=True, capture_output=True, timeout=60)
            return "as root without CAP_DAC_OVERRIDE (setpriv)", SETPRIV, None
        except (OSError, subprocess.SubprocessError):
            pass
    import pwd

    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        return None

    def as_nobody() -> None:
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)

    try:  # the interpreter must be reachable for nobody (not under /root)
        subprocess.run(probe, preexec_fn=as_nobody, check=True, capture_output=True,
                       timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return "as user nobody", (), as_nobody


def _permission_cases(fx: dict, folder: Path, quick: bool = False) -> Result:
    """Permission errors for real (file modes that apply to the process, see
    :func:`_unprivileged`): a folder that cannot be written, a workbook that cannot be
    read, a read-only workbook, a backup that cannot be read — each a clean error naming
    it, exit 2, the workbook unchanged."""
    res = Result()
    if os.name != "posix":
        return res
    how = _unprivileged()
    if how is None:
        res.meta["permissions"] = "not possible here"
        return res
    res.meta["permissions"] = how[0]
    _, prefix, preexec = how
    work = Path(tempfile.mkdtemp(prefix="sop-perm-"))
    os.chmod(work, 0o755)
    env = {"HOME": str(work), "SOP_LOG_DIR": str(work / "logs"), "UV_NO_SYNC": "1"}
    target = work / "wb.xlsm"

    def attempt(name: str, args: list, expect: str | None, setup, undo) -> None:
        for p in work.iterdir():
            if p.is_file():
                p.unlink()
        shutil.copy(fx["good"], target)
        os.chmod(target, 0o644)
        before = target.read_bytes()
        setup()
        try:
            code, output = run(args, env=env, preexec=preexec, prefix=prefix)
        finally:
            undo()
        why = clean_error(code, output, expect)
        if not why and target.read_bytes() != before:
            why = "the workbook changed"
        if not why and leftovers(work):
            why = f"left {leftovers(work)}"
        res.check("disk", name, not why, why)

    try:
        if quick:  # the suite's subset: a save refused, a load refused
            attempt("folder not writable: roll-forward", ["roll-forward", target], "cannot",
                    lambda: os.chmod(work, 0o555), lambda: os.chmod(work, 0o755))
            attempt("workbook not readable: agenda", ["agenda", target, "--out", work / "ag"],
                    "ermission", lambda: os.chmod(target, 0o000),
                    lambda: os.chmod(target, 0o644))
            return res
        for command, args in [("roll-forward", ["roll-forward", target]),
                              ("refresh", ["refresh", target, "--source", fx["b"]])]:
            attempt(f"folder not writable: {command}", args, "cannot",
                    lambda: os.chmod(work, 0o555), lambda: os.chmod(work, 0o755))
            attempt(f"workbook not readable: {command}", args, "ermission",
                    lambda: os.chmod(target, 0o000), lambda: os.chmod(target, 0o644))
            attempt(f"workbook read-only: {command}", args, "read-only",
                    lambda: os.chmod(target, 0o444), lambda: os.chmod(target, 0o644))
        attempt("workbook not readable: agenda", ["agenda", target, "--out", work / "ag"],
                "ermission", lambda: os.chmod(target, 0o000), lambda: os.chmod(target, 0o644))
        backup = work / "wb.xlsm.bak1"
        attempt("backup not readable: undo", ["undo", target], "ermission",
                lambda: (shutil.copy(fx["good"], backup), os.chmod(backup, 0o000)),
                lambda: os.chmod(backup, 0o644))
    finally:
        with contextlib.suppress(OSError):
            os.chmod(work, 0o755)
        shutil.rmtree(work, ignore_errors=True)
    return res


# --------------------------------------------------------------------------- concurrency


def concurrency_group(fx: dict, folder: Path, pairs: int) -> Result:
    from sop_workbook.periods import shift_period
    from sop_workbook.workbook.headless import HeadlessWorkbook

    res = Result()
    work = folder / "pairs"
    work.mkdir(parents=True, exist_ok=True)
    start_period = HeadlessWorkbook(fx["good"]).get_value("cfg_current_period")
    for i in range(pairs):
        kind = ("refresh+roll", "roll+roll", "roll+recalc", "refresh+refresh")[i % 4]
        target = work / f"wb{i}.xlsm"
        shutil.copy(fx["good"], target)
        a = ["refresh", target, "--source", fx["b"]] if kind.startswith("refresh") else \
            ["roll-forward", target]
        b = {"refresh+roll": ["roll-forward", target], "roll+roll": ["roll-forward", target],
             "roll+recalc": ["recalc", target],
             "refresh+refresh": ["refresh", target, "--source", fx["a"]]}[kind]
        env = {**os.environ, "SOP_LOCK_WAIT": str((0, 120)[i % 2])}  # refuse, or wait
        procs = [subprocess.Popen([*SOP, *map(str, args)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env)
                 for args in (a, b)]
        outs = [p.communicate(timeout=600) for p in procs]
        codes = [p.returncode for p in procs]
        texts = [o[0] + o[1] for o in outs]
        why = ""
        for code, text in zip(codes, texts, strict=True):
            if code == 2 and "is being changed by" in text:
                continue
            if code != 0:
                why = f"exit {code}: {text[-400:]}"
        book = HeadlessWorkbook(target)
        rolls = sum(1 for args, code in zip((a, b), codes, strict=True)
                    if args[0] == "roll-forward" and code == 0)
        period = book.get_value("cfg_current_period")
        if not why and period != shift_period(start_period, rolls):
            why = f"lost update: {rolls} roll(s) reported, period {period}"
        refreshed = [args[3] for args, code in zip((a, b), codes, strict=True)
                     if args[0] == "refresh" and code == 0]
        source = book.get_value("cfg_data_source")
        if not why and refreshed and str(source) not in {str(s) for s in refreshed}:
            why = f"lost update: refreshed from {refreshed}, workbook says {source}"
        if not why and kind == "refresh+roll" and codes == [0, 0] and source != str(fx["b"]):
            why = f"lost update: the refresh is gone ({source})"
        res.check("concurrency", f"pair {i} ({kind}, {codes})", not why, why)
        if leftovers(work):
            res.check("concurrency", f"pair {i} leftovers", False, str(leftovers(work)))
        for p in work.iterdir():
            p.unlink()
    return res


# --------------------------------------------------------------------------- main

RECORDS = ROOT / "docs" / "reliability"
GROUPS = ("workbooks", "sources", "kills", "disk", "concurrency")


class LoadSampler:
    """The machine's 1-minute load average, sampled every ``every`` seconds in a thread
    (the campaign shares its machine; its runtime means little without the load)."""

    def __init__(self, every: float = 15.0) -> None:
        import threading

        self.samples: list[float] = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)
        self._thread.start()

    def _run(self, every: float) -> None:
        while not self._stop.wait(every):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> dict:
        self._stop.set()
        self.samples.append(os.getloadavg()[0])
        return {"mean": round(sum(self.samples) / len(self.samples), 2),
                "max": round(max(self.samples), 2), "samples": len(self.samples)}


def _commit() -> str:
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--",
                                "sop_workbook", "tools", "SOP_Template.xlsm"],
                               capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+changes" if dirty else "") if head else "unknown"


def describe(group: str, res: Result, args: argparse.Namespace) -> str:
    """What the group tried, for the README's table."""
    meta = res.meta
    return {
        "workbooks": f"{meta.get('cases', '?')} hostile workbooks × {len(COMMANDS)} commands "
                     "(undo: the hostile file as the backup)",
        "sources": f"{meta.get('cases', '?')} hostile sources × (validate, refresh, the two "
                   "agree)",
        "kills": f"{args.kills} SIGKILLs of refresh / roll forward at random moments "
                 f"({meta.get('inside_save', '?')} inside the save) × (workbook intact, the "
                 "next command tidies)",
        "disk": "EFBIG (RLIMIT_FSIZE) and injected ENOSPC × 4 writers, a full tmpfs"
                + ("" if meta.get("tmpfs") else " (not mountable here)")
                + f", permission errors ({meta.get('permissions', '?')})",
        "concurrency": f"{args.pairs} pairs of writers started together (half wait, half "
                       "refuse)",
    }[group]


def record(group: str, res: Result, args: argparse.Namespace, seconds: float,
           load: dict, folder: Path = RECORDS) -> Path:
    import datetime as dt
    import json
    import platform

    folder.mkdir(parents=True, exist_ok=True)
    entry = {
        "group": group, "what": describe(group, res, args),
        "checks": res.checks[group], "failed": len(res.failures),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": round(seconds), "load_1min": load, "cpus": os.cpu_count(),
        "commit": _commit(), "python": platform.python_version(),
        "arguments": {"kills": args.kills, "pairs": args.pairs},
        "failures": res.failures,
        "every_check": [f"{'ok' if ok else 'FAIL'}  {name}" for g, name, ok in res.log
                        if g == group],
    }
    path = folder / f"{group}.json"
    path.write_text(json.dumps(entry, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    # every run, failed ones too, one line each (GROUP.json holds the latest in full)
    brief = {k: v for k, v in entry.items() if k not in ("every_check", "what")}
    with open(folder / "history.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(brief, ensure_ascii=False) + "\n")
    return path


def table(folder: Path = RECORDS) -> str:
    """The README's table, from the recorded runs."""
    import json

    lines = ["| group | what | checks | failed | runtime | load (1-min mean / max) | run |",
             "|---|---|---:|---:|---:|---:|---|"]
    total = failed = 0
    for group in GROUPS:
        path = folder / f"{group}.json"
        if not path.exists():
            lines.append(f"| {group} | not run | | | | | |")
            continue
        e = json.loads(path.read_text(encoding="utf-8"))
        total += e["checks"]
        failed += e["failed"]
        minutes = f"{e['seconds'] / 60:.0f} min" if e["seconds"] >= 90 else f"{e['seconds']} s"
        lines.append(f"| {group} | {e['what']} | {e['checks']} | {e['failed']} | {minutes} | "
                     f"{e['load_1min']['mean']:.1f} / {e['load_1min']['max']:.1f} on "
                     f"{e['cpus']} CPUs | {e['date']}, {e['commit']} |")
    lines.append(f"| **total** | | **{total}** | **{failed}** | | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=60)
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--only", nargs="*", default=None, choices=GROUPS, metavar="GROUP",
                        help="groups: " + " ".join(GROUPS))
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--no-record", action="store_true",
                        help=f"do not write {RECORDS.relative_to(ROOT)}/GROUP.json")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every check")
    parser.add_argument("--table", action="store_true",
                        help="print the README's table from the recorded runs and exit")
    args = parser.parse_args(argv)
    if args.table:
        print(table())
        return 0
    folder = Path(tempfile.mkdtemp(prefix="sop-campaign-"))
    started = time.perf_counter()
    total = Result()
    try:
        fx = make_fixtures(folder)
        groups = {"workbooks": lambda: workbooks_group(fx, folder),
                  "sources": lambda: sources_group(fx, folder),
                  "kills": lambda: kills_group(fx, folder, args.kills),
                  "disk": lambda: disk_group(fx, folder),
                  "concurrency": lambda: concurrency_group(fx, folder, args.pairs)}
        for name, group in groups.items():
            if args.only and name not in args.only:
                continue
            t = time.perf_counter()
            sampler = LoadSampler()
            res = group()
            seconds = time.perf_counter() - t
            load = sampler.stop()
            total.merge(res)
            print(f"{name}: {res.checks[name]} checks, {len(res.failures)} failed "
                  f"({seconds:.0f} s, load {load['mean']:.1f} mean / {load['max']:.1f} max)",
                  flush=True)
            for failure in res.failures:
                print("  FAIL", failure, flush=True)
            if args.verbose:
                for _, check, ok in res.log:
                    print(f"  {'ok' if ok else 'FAIL'}  {check}")
            if not args.no_record:
                print("  recorded in", record(name, res, args, seconds, load), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    n = sum(total.checks.values())
    print(f"total: {n} checks, {len(total.failures)} failed, "
          f"{time.perf_counter() - started:.0f} s")
    return 1 if total.failures else 0


if __name__ == "__main__":
    sys.exit(main())
