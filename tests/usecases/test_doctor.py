"""``sop doctor`` / Check setup: each problem a planner meets setting up xlwings is found and
named with its fix. A Windows or macOS machine is described through ``Machine`` (its home
folder, environment, registry); the interpreters are real Python executables."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from sop_workbook.doctor import Machine, diagnose, packaged_addin

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "SOP_Template.xlsm"


def windows(tmp_path: Path, registry=None, **kw) -> Machine:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return Machine(platform="win32", home=home,
                   environ={"APPDATA": str(home / "AppData" / "Roaming"), "PATH": ""},
                   registry=registry or (lambda key, name: None), **kw)


def install_addin(machine: Machine, data: bytes | None = None) -> Path:
    folder = Path(machine.environ["APPDATA"]) / "Microsoft" / "Excel" / "XLSTART"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "xlwings.xlam"
    target.write_bytes(data if data is not None else packaged_addin().read_bytes())
    return target


def set_interpreter(machine: Machine, python: str) -> None:
    conf = machine.home / ".xlwings" / "xlwings.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(f'"INTERPRETER_WIN","{python}"\n"UDF_MODULES",""\n', encoding="utf-8")


def checks(problems) -> list[str]:
    return [p.check for p in problems]


def test_a_ready_windows_machine_has_no_problem(tmp_path):
    m = windows(tmp_path)
    install_addin(m)
    set_interpreter(m, sys.executable)  # this venv: has sop-workbook
    facts, problems = diagnose(TEMPLATE, m)
    assert problems == []
    assert any(sys.executable in f and "add-in settings" in f for f in facts)


def test_missing_and_out_of_sync_add_in(tmp_path):
    m = windows(tmp_path)
    set_interpreter(m, sys.executable)
    _, problems = diagnose(None, m)
    assert checks(problems) == ["xlwings add-in"]
    assert "not installed" in problems[0].problem and "xlwings addin install" in problems[0].fix
    install_addin(m, packaged_addin().read_bytes() + b"older")
    _, problems = diagnose(None, m)
    assert checks(problems) == ["xlwings add-in"] and "out of sync" in problems[0].problem


def test_wrong_interpreters(tmp_path):
    m = windows(tmp_path)
    install_addin(m)
    set_interpreter(m, str(tmp_path / "nowhere" / "python.exe"))
    _, problems = diagnose(None, m)
    assert checks(problems) == ["Interpreter"] and "does not exist" in problems[0].problem
    # a real Python without the package: "No module named …"
    bare = shutil.which("python3", path="/usr/bin") or "/usr/bin/python3"
    assert subprocess.run([bare, "-c", "import udfs"], capture_output=True).returncode != 0
    set_interpreter(m, bare)
    _, problems = diagnose(None, m)
    assert checks(problems) == ["Interpreter"]
    assert "No module named" in problems[0].problem and bare in problems[0].fix


def test_an_empty_interpreter_row_on_the_sheet_hides_the_add_in_setting(tmp_path):
    m = windows(tmp_path)
    install_addin(m)
    set_interpreter(m, sys.executable)
    book = tmp_path / "old.xlsm"
    wb = openpyxl.load_workbook(TEMPLATE, keep_vba=True)
    conf = wb["xlwings.conf"]
    conf.append(["Interpreter_Win", None])  # as the template had it before
    row = next(c.row for c in conf["A"] if c.value == "Use UDF Server")
    conf.cell(row, 2).value = "False"
    wb.save(book)
    _, problems = diagnose(book, m)
    lines = [p.line() for p in problems]
    assert any("Interpreter_Win is empty" in ln and "delete the Interpreter_Win row" in ln
               for ln in lines), lines
    assert any(p.check == "Interpreter" and "none found" in p.problem for p in problems)
    assert any("Use UDF Server is not True" in ln for ln in lines)


def test_macro_security_and_mark_of_the_web(tmp_path):
    levels = {"VBAWarnings": 4}
    m = windows(tmp_path, registry=lambda key, name: levels.get(name))
    install_addin(m)
    set_interpreter(m, sys.executable)
    book = tmp_path / "downloaded.xlsm"
    shutil.copy(TEMPLATE, book)
    Path(f"{book}:Zone.Identifier").write_text("[ZoneTransfer]\nZoneId=3\n")
    _, problems = diagnose(book, m)
    assert checks(problems) == ["Macro security", "Mark of the Web"]
    assert "Unblock" in problems[1].fix and "Trust Center" in problems[0].fix


def test_linux_checks_python_and_the_workbook_only(tmp_path):
    facts, problems = diagnose(TEMPLATE, Machine(platform="linux"))
    assert problems == [] and any("not on this platform" in f for f in facts)


@pytest.mark.parametrize("good", [True, False])
def test_the_command(tmp_path, good):
    book = tmp_path / "wb.xlsm"
    if good:
        shutil.copy(TEMPLATE, book)
    run = subprocess.run([sys.executable, "-m", "sop_workbook", "doctor", str(book)],
                         capture_output=True, text=True, timeout=120)
    if good:
        assert run.returncode == 0 and "Ready: no problem found." in run.stdout
    else:
        assert run.returncode == 1 and "Workbook:" in run.stdout and "fix:" in run.stdout


def test_a_folder_or_fifo_is_named_as_such_not_missing(tmp_path):
    folder = tmp_path / "book.xlsm"
    folder.mkdir()
    fifo = tmp_path / "pipe.xlsm"
    os.mkfifo(fifo)
    said = {p: [x.problem for x in diagnose(p, Machine(platform="linux"))[1]]
            for p in (folder, fifo, tmp_path / "absent.xlsm")}
    assert said[folder] == [f"{folder} is a folder"]
    assert said[fifo] == [f"{fifo} is not a regular file"]
    assert said[tmp_path / "absent.xlsm"] == [f"{tmp_path / 'absent.xlsm'} not found"]
