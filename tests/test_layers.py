"""The code's layout rules, read from the source with ``ast`` (every import statement,
those inside functions included):

- the core (KPI engine, review stages, shared helpers, contract, ports) imports no adapter
  and no use case;
- an adapter imports no other adapter, but for the few directions listed in ``ALLOWED``;
- no import cycle;
- every adapter has every member of its port (:mod:`sop_workbook.ports`), with the same
  parameters.

What still breaks a rule is listed in ``KNOWN`` with the reason; a listed exception that
no longer happens fails the test too, so the list cannot go stale.
"""

from __future__ import annotations

import ast
import inspect
from collections import defaultdict
from pathlib import Path

import pytest

from sop_workbook import ports

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sop_workbook", "udfs", "macros")

#: Layer of each module, by the longest matching prefix.
LAYERS = {
    # the core: pure computation on DataFrames, and the ports it is driven through
    "sop_workbook.kpi": "core",
    "sop_workbook.review": "core",
    "sop_workbook.frames": "core",
    "sop_workbook.periods": "core",
    "sop_workbook.errors": "core",
    "sop_workbook.contract": "core",
    "sop_workbook.ports": "core",
    "sop_workbook.plan_inputs": "core",
    "sop_workbook.aggregate_tables": "core",
    "sop_workbook.kpi_report": "core",
    "sop_workbook.zip_parts": "core",
    "sop_workbook.meeting.action_log": "core",
    "sop_workbook.meeting.calendar": "core",
    "sop_workbook.meeting.documents": "core",
    "sop_workbook.meeting.ics": "core",
    "sop_workbook.meeting.tableref": "core",
    "sop_workbook.meeting": "core",  # the package's __init__
    # the use cases: read and write through a port, compute with the core
    "sop_workbook.actions": "use case",
    "sop_workbook.scorecard_export": "use case",
    "sop_workbook.input_rows": "use case",
    "sop_workbook.plan_history": "use case",
    "sop_workbook.charts": "use case",
    "sop_workbook.meeting.book": "use case",
    "sop_workbook.forecast_csv": "use case",
    "sop_workbook.demo_data": "use case",
    "sop_workbook.doctor": "use case",
    # the adapters
    "sop_workbook.workbook": "workbook adapter",
    "sop_workbook.template": "template builder",
    "sop_workbook.loader": "source adapter",
    "sop_workbook.sql": "source adapter",
    "sop_workbook.cli": "command line",
    "sop_workbook.cli_console": "command line",
    "sop_workbook.cli_meeting": "command line",
    "sop_workbook.__main__": "command line",
    "udfs": "excel glue",
    "macros": "excel glue",
    "sop_workbook": "core",  # the package's __init__ (its version)
}
ADAPTERS = {"workbook adapter", "template builder", "source adapter", "command line",
            "excel glue"}
#: Adapter → adapter imports that are the design: the command line, and the ribbon's
#: macros inside Excel, are where adapters are put together; the template builder
#: computes the template's stored values with the headless workbook's recalculation and
#: declares the UDFs of the Excel glue in the template.
ALLOWED = {("command line", "workbook adapter"), ("command line", "template builder"),
           ("command line", "source adapter"), ("excel glue", "workbook adapter"),
           ("template builder", "workbook adapter"), ("template builder", "excel glue")}

#: Rules still broken, each with its reason (importer, imported).
KNOWN_LAYER: set[tuple[str, str]] = set()
KNOWN_CYCLES: set[frozenset[str]] = set()


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports() -> dict[str, set[str]]:
    """Module → the project modules it imports (anywhere in its code)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in MODULES.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package[:len(package) - node.level + 1] if node.level else []
                module = ".".join(base + ([node.module] if node.module else []))
                targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in MODULES else module
                           for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in MODULES:  # a name inside a module
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


IMPORTS = _imports()


def layer(module: str) -> str:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def test_every_module_has_a_layer():
    assert all(layer(m) for m in MODULES)
    assert {"sop_workbook.review.cycle", "sop_workbook.frames", "sop_workbook.ports",
            "sop_workbook.workbook.headless", "sop_workbook.sql.sources"} <= set(MODULES)


def _layer_breaks() -> set[tuple[str, str]]:
    breaks = set()
    for importer, imported in ((a, b) for a, bs in IMPORTS.items() for b in bs):
        mine, theirs = layer(importer), layer(imported)
        core_leak = mine == "core" and theirs != "core"
        between_adapters = mine in ADAPTERS and theirs in ADAPTERS and mine != theirs \
            and (mine, theirs) not in ALLOWED
        if core_leak or between_adapters:
            breaks.add((importer, imported))
    return breaks


def test_the_core_imports_no_adapter_and_adapters_not_each_other():
    breaks = _layer_breaks()
    assert breaks - KNOWN_LAYER == set()
    assert KNOWN_LAYER - breaks == set()  # fixed: take it off the list


def test_the_leaks_named_in_issue_21_are_gone():
    gone = [("sop_workbook.kpi.facts", "sop_workbook.loader"),
            ("sop_workbook.workbook.recalc", "sop_workbook.template.package"),
            ("sop_workbook.cli", "sop_workbook.cli_meeting"),
            ("sop_workbook.cli_meeting", "sop_workbook.cli")]
    still = [pair for pair in gone if pair[1] in IMPORTS[pair[0]]]
    assert still == [("sop_workbook.cli", "sop_workbook.cli_meeting")]  # one way only


def _cycles() -> set[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in IMPORTS.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.add(frozenset(component))

    for module in sorted(MODULES):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycle():
    cycles = _cycles()
    assert cycles - KNOWN_CYCLES == set()
    assert KNOWN_CYCLES - cycles == set()  # fixed: take it off the list


def _port_members(port: type) -> dict[str, object]:
    return {name: value for name, value in vars(port).items()
            if (not name.startswith("_") or name in ("__call__", "__enter__", "__exit__"))
            and callable(value)}


def _parameters(function) -> list[tuple[str, object]]:
    """Positional-or-keyword parameters after ``self``, with whether each has a default;
    keyword-only ones and ``**kwargs`` an adapter may add."""
    params = list(inspect.signature(function).parameters.values())[1:]
    return [(p.name, p.default is inspect.Parameter.empty) for p in params
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]


def _adapters():
    from sop_workbook.sql.sources import DbapiSource, DuckDBSource
    from sop_workbook.sql.spark import SparkSource
    from sop_workbook.workbook.headless import HeadlessWorkbook
    from sop_workbook.workbook.live import LiveWorkbook

    return [(ports.Workbook, HeadlessWorkbook), (ports.Workbook, LiveWorkbook),
            (ports.SqlSource, DuckDBSource), (ports.SqlSource, DbapiSource),
            (ports.SqlSource, SparkSource)]


@pytest.mark.parametrize(("port", "adapter"), _adapters(),
                         ids=lambda x: getattr(x, "__name__", str(x)))
def test_adapters_implement_their_port(port, adapter):
    members = _port_members(port)
    assert members, port
    for name, declared in members.items():
        implemented = getattr(adapter, name, None)
        assert callable(implemented), f"{adapter.__name__} has no {name}"
        assert _parameters(implemented) == _parameters(declared), \
            f"{adapter.__name__}.{name}{inspect.signature(implemented)} ≠ port's " \
            f"{inspect.signature(declared)}"


def test_refresh_loads_through_the_source_port():
    from sop_workbook.sql import load_aggregates
    from sop_workbook.sql.refresh_tables import AggregateData

    declared = inspect.signature(ports.LoadAggregates.__call__)
    assert list(inspect.signature(load_aggregates).parameters) == \
        list(declared.parameters)[1:]
    assert {"tables", "warnings"} <= set(AggregateData.__dataclass_fields__)


def test_no_hasattr_dispatch_on_the_workbook():
    """The use cases tell the adapters apart by nothing: each implements the port."""
    for module in ("actions", "scorecard_export", "input_rows", "meeting/book"):
        source = (ROOT / "sop_workbook" / f"{module}.py").read_text(encoding="utf-8")
        calls = [node for node in ast.walk(ast.parse(source))
                 if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "hasattr"
                 and node.args and getattr(node.args[0], "id", "") == "book"]
        assert calls == [], module
