"""``sop doctor`` and the ribbon's *Check setup*: is this machine ready to run the workbook?

What xlwings users report most is setup: an add-in whose version differs from the Python
package ("File not found: xlwings64-<version>.dll"), the wrong interpreter, "No module
named …". Each check below returns the problems it finds, one line each, with the fix:

- the Python running this (version, path) and that ``udfs`` and ``macros`` import here;
- the xlwings add-in is installed in Excel's start-up folder (``XLSTART``) and is the one
  this Python's xlwings package ships (same bytes, hence the same version);
- the interpreter the add-in will use (``Interpreter_Win`` / ``Interpreter_Mac`` from the
  workbook's ``xlwings.conf`` sheet, else the user's ``~/.xlwings/xlwings.conf``, else
  ``python`` on PATH) exists and imports ``udfs`` and ``macros``;
- the workbook's ``xlwings.conf`` sheet: ``UDF Modules`` = ``udfs``, ``Use UDF Server`` =
  True, no empty row;
- Windows: Excel's macro setting (``VBAWarnings``: 4 = all macros disabled) and the Mark of
  the Web on the workbook (a ``Zone.Identifier`` stream: Excel blocks its macros).

The checks read files, the registry and environment only (no Excel needed), so they run the
same from a terminal and from the ribbon (``macros.check_setup``). The machine's facts come
in through :class:`Machine`, so that tests can describe a Windows or macOS machine.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REQUIRED_PYTHON = (3, 11)
UDF_MODULES = "udfs"
FIXES_TITLE = "S&OP setup"


@dataclass(frozen=True)
class Problem:
    check: str
    problem: str
    fix: str

    def line(self) -> str:
        return f"{self.check}: {self.problem} — fix: {self.fix}"


@dataclass
class Machine:
    """The facts the checks read (defaults: this machine)."""

    platform: str = sys.platform
    home: Path = field(default_factory=Path.home)
    environ: dict = field(default_factory=lambda: dict(os.environ))
    python: str = sys.executable
    python_version: tuple[int, int] = sys.version_info[:2]
    #: registry value reader: (key path under HKCU, value name) → value or None
    registry: Callable[[str, str], object] | None = None
    #: runs ``python -c code``; returns (exit code, output)
    run_python: Callable[[str, str], tuple[int, str]] | None = None

    def is_windows(self) -> bool:
        return self.platform.startswith("win")

    def is_mac(self) -> bool:
        return self.platform == "darwin"


def _run_python(python: str, code: str) -> tuple[int, str]:
    try:
        run = subprocess.run([python, "-c", code], capture_output=True, text=True,
                             timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 1, str(exc)
    return run.returncode, (run.stdout + run.stderr).strip()


def _windows_registry(key: str, name: str):
    try:
        import winreg
    except ImportError:
        return None
    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, key) as handle:
            return winreg.QueryValueEx(handle, name)[0]
    except OSError:
        return None


# --------------------------------------------------------------------------- checks


def check_python(m: Machine) -> list[Problem]:
    if m.python_version < REQUIRED_PYTHON:
        need = ".".join(map(str, REQUIRED_PYTHON))
        return [Problem("Python", f"{m.python} is Python "
                        f"{'.'.join(map(str, m.python_version))}",
                        f"install Python ≥ {need} and sop-workbook into it "
                        "(pip install sop-workbook)")]
    return []


IMPORT_CHECK = "import udfs, macros, xlwings; print(xlwings.__version__)"


def check_imports(m: Machine, python: str, where: str) -> list[Problem]:
    run = m.run_python or _run_python
    code, output = run(python, IMPORT_CHECK)
    if code != 0:
        last = output.strip().splitlines()[-1] if output.strip() else "it does not run"
        return [Problem(where, f"{python} cannot import udfs and macros ({last})",
                        f'"{python}" -m pip install sop-workbook — or point the xlwings '
                        "add-in at the Python that has it (xlwings ribbon › Interpreter)")]
    return []


def xlstart_dir(m: Machine) -> Path | None:
    """Excel's per-user start-up folder, where ``xlwings addin install`` puts the add-in."""
    if m.is_windows():
        appdata = m.environ.get("APPDATA") or str(m.home / "AppData" / "Roaming")
        return Path(appdata) / "Microsoft" / "Excel" / "XLSTART"
    if m.is_mac():
        return (m.home / "Library" / "Group Containers" / "UBF8T346G9.Office" /
                "User Content.localized" / "Startup.localized" / "Excel")
    return None


def packaged_addin() -> Path:
    import xlwings

    return Path(xlwings.__file__).parent / "addin" / "xlwings.xlam"


def check_addin(m: Machine, shipped: Path | None = None) -> list[Problem]:
    import xlwings

    folder = xlstart_dir(m)
    if folder is None:
        return []
    installed = folder / "xlwings.xlam"
    shipped = shipped or packaged_addin()
    if not installed.is_file():
        return [Problem("xlwings add-in", f"not installed (no {installed})",
                        "xlwings addin install (then restart Excel)")]
    if _digest(installed) != _digest(shipped):
        return [Problem("xlwings add-in", f"{installed} is not the add-in of xlwings "
                        f"{xlwings.__version__} installed in {m.python} (versions out of "
                        "sync: 'File not found: xlwings64-….dll')",
                        "xlwings addin install (replaces it; then restart Excel)")]
    return []


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def user_config(m: Machine) -> dict[str, str]:
    """The xlwings add-in's own settings (``~/.xlwings/xlwings.conf``: ``"KEY","value"``)."""
    path = m.home / ".xlwings" / "xlwings.conf"
    if m.is_mac():
        path = m.home / "Library" / "Containers" / "com.microsoft.Excel" / "Data" / \
            "xlwings.conf"
    found = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            key, sep, value = line.partition(",")
            if sep:
                found[key.strip().strip('"').upper()] = value.strip().strip('"')
    return found


def workbook_config(workbook: Path) -> dict[str, str] | None:
    """The ``xlwings.conf`` sheet of a workbook (key → value, keys as written), or None."""
    import openpyxl

    from .workbook.io import check_zip_limits

    check_zip_limits(workbook)
    wb = openpyxl.load_workbook(workbook, read_only=True, keep_vba=False)
    try:
        if "xlwings.conf" not in wb.sheetnames:
            return None
        conf = {}
        for row in wb["xlwings.conf"].iter_rows(min_col=1, max_col=2, values_only=True):
            if row and row[0] not in (None, ""):
                conf[str(row[0])] = "" if len(row) < 2 or row[1] is None else str(row[1])
        return conf
    finally:
        wb.close()


def interpreter(m: Machine, sheet: dict[str, str] | None) -> tuple[str, str]:
    """(interpreter the add-in will start, where that setting comes from) — the order of
    xlwings' ``GetConfig``: the workbook's sheet, then the user's settings, then PATH."""
    key = "INTERPRETER_WIN" if m.is_windows() else "INTERPRETER_MAC"
    for source, conf in (("the workbook's xlwings.conf sheet", sheet or {}),
                         ("the xlwings add-in settings", user_config(m))):
        for k, v in conf.items():
            if k.upper() == key:
                return v, source
    found = shutil.which("pythonw" if m.is_windows() else "python", path=m.environ.get(
        "PATH")) or ""
    return found, "python on PATH (nothing set in the add-in)"


def check_interpreter(m: Machine, sheet: dict[str, str] | None) -> list[Problem]:
    if not (m.is_windows() or m.is_mac()):
        return []
    python, source = interpreter(m, sheet)
    if not python:
        return [Problem("Interpreter", f"none found ({source})",
                        f"xlwings ribbon › Interpreter: set it to {m.python}")]
    if not Path(python).is_file():
        return [Problem("Interpreter", f"{python} (from {source}) does not exist",
                        f"xlwings ribbon › Interpreter: set it to {m.python}")]
    return check_imports(m, python, "Interpreter")


def check_workbook_sheet(sheet: dict[str, str] | None, workbook: Path) -> list[Problem]:
    if sheet is None:
        return [Problem("xlwings.conf", f"{workbook.name} has no xlwings.conf sheet",
                        "start from SOP_Template.xlsm (sop build-template --out …)")]
    problems = []
    lowered = {k.upper(): v for k, v in sheet.items()}
    if lowered.get("UDF MODULES", "").strip() != UDF_MODULES:
        problems.append(Problem("xlwings.conf", f"UDF Modules is "
                                f"{lowered.get('UDF MODULES')!r}, not {UDF_MODULES!r}",
                                f"set UDF Modules to {UDF_MODULES} on the xlwings.conf sheet"))
    if lowered.get("USE UDF SERVER", "").strip().lower() != "true":
        problems.append(Problem("xlwings.conf", "Use UDF Server is not True (the KPI cells "
                                "and the buttons would not share one Python process)",
                                "set Use UDF Server to True on the xlwings.conf sheet"))
    for key, value in sheet.items():
        if str(value).strip() == "":
            problems.append(Problem("xlwings.conf", f"{key} is empty: it hides the xlwings "
                                    "add-in's own setting", f"delete the {key} row"))
    return problems


VBA_WARNINGS_KEY = r"Software\Microsoft\Office\16.0\Excel\Security"


def check_macro_security(m: Machine, workbook: Path | None) -> list[Problem]:
    if not m.is_windows():
        return []
    problems = []
    read = m.registry or _windows_registry
    level = read(VBA_WARNINGS_KEY, "VBAWarnings")
    if level == 4:
        problems.append(Problem("Macro security", "Excel disables all macros (Trust Center)",
                                "File › Options › Trust Center › Macro Settings: 'Disable "
                                "VBA macros with notification', or open the workbook from a "
                                "Trusted Location"))
    elif level == 3:
        problems.append(Problem("Macro security", "Excel runs only digitally signed macros",
                                "put the workbook in a Trusted Location (Trust Center)"))
    if workbook is not None and Path(f"{workbook}:Zone.Identifier").exists():
        problems.append(Problem("Mark of the Web", f"{workbook.name} came from the internet: "
                                "Excel blocks its macros",
                                f"right-click {workbook.name} › Properties › Unblock (or "
                                f"PowerShell: Unblock-File '{workbook}')"))
    return problems


def diagnose(workbook: Path | None = None, machine: Machine | None = None,
             shipped_addin: Path | None = None) -> tuple[list[str], list[Problem]]:
    """(what was checked, the problems found)."""
    m = machine or Machine()
    facts = [f"Python: {m.python} ({'.'.join(map(str, m.python_version))})"]
    problems = check_python(m) + check_imports(m, m.python, "This Python")
    if xlstart_dir(m) is None:
        facts.append("Excel: not on this platform (Linux): the add-in, interpreter and "
                     "macro checks apply on Windows and macOS")
    problems += check_addin(m, shipped_addin)
    sheet = None
    if workbook is not None:
        workbook = Path(workbook)
        if not workbook.is_file():
            what = ("is a folder" if workbook.is_dir()
                    else "is not a regular file" if workbook.exists() else "not found")
            problems.append(Problem("Workbook", f"{workbook} {what}",
                                    "give the path of the .xlsm"))
            workbook = None
        else:
            sheet = workbook_config(workbook)
            problems += check_workbook_sheet(sheet, workbook)
    python, source = interpreter(m, sheet)
    if m.is_windows() or m.is_mac():
        facts.append(f"Interpreter the add-in will use: {python or '(none)'} — {source}")
    problems += check_interpreter(m, sheet)
    problems += check_macro_security(m, workbook)
    return facts, problems


def report(workbook: Path | None = None, machine: Machine | None = None) -> tuple[str, int]:
    """The text ``sop doctor`` prints and its exit code (0: ready, 1: problems)."""
    facts, problems = diagnose(workbook, machine)
    lines = list(facts)
    if problems:
        lines.append(f"{len(problems)} problem(s):")
        lines += [p.line() for p in problems]
    else:
        lines.append("Ready: no problem found.")
    return "\n".join(lines), 1 if problems else 0

