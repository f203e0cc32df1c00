"""Save the same workbooks with two versions of the code and compare the files byte for
byte, member by member — to show that a change to the save path (e.g. issue 21's one save
pass) writes exactly what the code before it wrote.

    # the code before, checked out beside this one (git worktree / git archive):
    PYTHONPATH=/path/to/old PYTHONHASHSEED=0 uv run python tools/compare_saves.py run OUT_OLD
    PYTHONHASHSEED=0 uv run python tools/compare_saves.py run OUT_NEW
    uv run python tools/compare_saves.py compare OUT_OLD OUT_NEW

``run`` builds the template and saves, for the demo data (40 items) and a bigger set
(300 items × 30 months: stage tables kept out of openpyxl), the workbook after Refresh,
a plain re-save, a recalculation, a repeat Refresh, Roll forward, Refresh after Roll
forward, and a file openpyxl itself saved (shared strings) re-saved and refreshed. The
clock of every save is frozen and DuckDB runs on one thread (its parallel float sums may
differ in the last digit from run to run), so two runs of the same code give the same
bytes. Data: ``OUT/../compare_saves_data`` (shared by both runs, so that the data source
shown in the workbook is the same).
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
import types
import zipfile
from pathlib import Path

FIXED = dt.datetime(2026, 11, 5, 12, 0, 0)


class _Frozen(dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return FIXED.replace(tzinfo=tz) if tz else FIXED


def _freeze() -> None:
    import duckdb
    import openpyxl.writer.excel

    clock = types.SimpleNamespace(datetime=_Frozen, timezone=dt.timezone)
    openpyxl.writer.excel.datetime = clock  # what wb.save stamps docProps/core.xml with
    from sop_workbook.workbook import excel_form

    if hasattr(excel_form, "_SAVE_CLOCK"):  # the one-pass save reads the time there
        excel_form._SAVE_CLOCK = clock
    connect = duckdb.connect

    def one_thread(*args, **kwargs):
        con = connect(*args, **kwargs)
        con.execute("SET threads TO 1")
        return con

    duckdb.connect = one_thread


def run(out: Path) -> None:
    _freeze()
    import openpyxl

    from sop_workbook import demo_data
    from sop_workbook.actions import refresh, roll_forward
    from sop_workbook.template.build import build_template_bytes
    from sop_workbook.workbook.headless import HeadlessWorkbook

    root = Path(__file__).resolve().parents[1]
    out.mkdir(parents=True, exist_ok=True)
    shared = out.resolve().parent / "compare_saves_data"
    shared.mkdir(exist_ok=True)

    def step(name, src, fn=None):
        path = out / f"{name}.xlsm"
        shutil.copy(src, path)
        book = HeadlessWorkbook(path)
        if fn:
            fn(book)
        book.save(backups=0)
        print(f"saved {name} ({path.stat().st_size:,} bytes)", flush=True)
        return path

    (out / "template.xlsm").write_bytes(build_template_bytes())
    for label, options in (("demo", {}), ("mid", {"items": 300, "months": 30})):
        data = shared / f"data_{label}"
        if not data.exists():
            demo_data.write(data, **options)

        def fresh(book, data=data):
            refresh(book, str(data), now=FIXED)

        first = step(f"{label}_refresh", root / "SOP_Template.xlsm", fresh)
        step(f"{label}_resave", first)
        step(f"{label}_recalc", first, lambda b: b.recalculate())
        again = step(f"{label}_refresh2", first, fresh)
        rolled = step(f"{label}_roll", again, roll_forward)
        step(f"{label}_roll_refresh", rolled, fresh)
        plain = shared / f"{label}_plain.xlsm"  # shared strings, as openpyxl saves
        openpyxl.load_workbook(first, keep_vba=True).save(plain)
        step(f"{label}_from_plain", plain)
        step(f"{label}_from_plain_refresh", plain, fresh)


def compare(a: Path, b: Path) -> int:
    names = sorted(p.name for p in a.glob("*.xlsm"))
    bad = 0
    for name in names:
        if not (b / name).exists():
            print(f"{name}: missing in {b}")
            bad += 1
            continue
        x, y = (a / name).read_bytes(), (b / name).read_bytes()
        if x == y:
            print(f"{name}: identical ({len(x):,} bytes)")
            continue
        bad += 1
        with zipfile.ZipFile(a / name) as za, zipfile.ZipFile(b / name) as zb:
            print(f"{name}: DIFFERENT (members in the same order: "
                  f"{za.namelist() == zb.namelist()})")
            for ia in za.infolist():
                if ia.filename not in zb.namelist():
                    print(f"   {ia.filename}: only in {a}")
                    continue
                ib = zb.getinfo(ia.filename)
                if za.read(ia) != zb.read(ib):
                    print(f"   {ia.filename}: content differs")
                elif (ia.compress_size, ia.external_attr, ia.flag_bits, ia.header_offset) != \
                        (ib.compress_size, ib.external_attr, ib.flag_bits, ib.header_offset):
                    print(f"   {ia.filename}: same content, another zip entry")
    print(f"files differing: {bad} of {len(names)}")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "run":
        run(Path(sys.argv[2]))
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(Path(sys.argv[2]), Path(sys.argv[3])))
    else:
        sys.exit(__doc__)
