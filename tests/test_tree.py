"""The test tree mirrors the code's layout (README, "How the code is laid out"):

- every folder of ``tests/`` is a package of ``sop_workbook/`` (``tests/kpi/`` tests
  ``sop_workbook/kpi/``), a top-level package (``udfs/``, ``macros/``), or one of the
  folders in ``OTHER``; and every package has its folder;
- no test module sits at the root of ``tests/`` but the layout checks;
- no two test modules share a file name: pytest's default import mode imports each test
  module by its file name, so the second one would not collect.

Where a new test module goes: in the folder of the README paragraph that names the module
it tests (``aggregates.py`` and ``scorecard.py`` are named with ``kpi/``, ``loader.py`` with
``sql/``); a test of a module directly in ``sop_workbook/`` goes to ``tests/usecases/``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
#: The top-level packages besides sop_workbook (the Excel glue).
TOP_LEVEL = ("udfs", "macros")
#: Test folders that are no package, and what they hold.
OTHER = {
    "usecases": "the modules directly in sop_workbook/ (use cases, command line, contract)",
    "e2e": "whole cycles through several commands, the reliability checks",
    "handworked": "acceptance cases worked by hand from the domain notes",
}
#: The only test modules at the root of tests/.
LAYOUT_CHECKS = {"test_layers.py", "test_tree.py"}


def _folders(path: Path) -> set[str]:
    return {p.name for p in path.iterdir()
            if p.is_dir() and not p.name.startswith((".", "_"))}


def _packages() -> set[str]:
    inner = {name for name in _folders(ROOT / "sop_workbook")
             if (ROOT / "sop_workbook" / name / "__init__.py").is_file()}
    return inner | {name for name in TOP_LEVEL if (ROOT / name / "__init__.py").is_file()}


def test_every_test_folder_is_a_package_or_named_here():
    packages = _packages()
    assert set(TOP_LEVEL) <= packages, "a top-level package is gone: update TOP_LEVEL"
    assert not packages & set(OTHER), "a package has the name of a folder in OTHER"
    strays = _folders(TESTS) - packages - set(OTHER)
    assert not strays, (", ".join(f"tests/{name}/" for name in sorted(strays))
                        + " match no package of sop_workbook/, udfs/ or macros/ (nor "
                        "OTHER): move the tests to the folder of what they test")


def test_every_package_has_its_test_folder():
    missing = _packages() - _folders(TESTS)
    assert not missing, f"no tests/<package>/ for {sorted(missing)}"


def test_no_test_module_at_the_root_but_the_layout_checks():
    at_root = {p.name for p in TESTS.glob("test_*.py")} - LAYOUT_CHECKS
    assert not at_root, (f"{sorted(at_root)} at the root of tests/: move each to the "
                         "folder of what it tests (see this module's docstring)")
    assert all((TESTS / name).is_file() for name in LAYOUT_CHECKS)


def test_test_module_names_are_unique():
    names = Counter(p.name for p in TESTS.rglob("test_*.py")
                    if "__pycache__" not in p.parts)
    assert not [name for name, n in names.items() if n > 1], names.most_common(3)
