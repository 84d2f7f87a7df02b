"""An import-linter contract type: no cycle between any two modules of the named packages.

The built-in ``acyclic_siblings`` contract sees cycles between the children of one package
(``search.api`` and ``search.experiments``), but not a package's ``__init__`` and one of its own
modules importing each other, nor a loop that crosses packages module by module. This one looks
at modules: any strongly connected set of two or more is a cycle, listed with the imports (and
line numbers) that close it. ``pyproject.toml`` registers it (``contract_types``), so
``lint-imports`` (``make lint``) runs it with the others; it lives under ``tests/`` because it is
a check on the product, not part of it.
"""

from __future__ import annotations

from collections.abc import Iterable

import grimp
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


def module_cycles(graph: grimp.ImportGraph, packages: Iterable[str]) -> list[list[str]]:
    """Every set of two or more modules of ``packages`` that import each other in a loop
    (strongly connected components, Tarjan's algorithm, iterative), each sorted, in name order.

    TYPE_CHECKING imports count when the graph was built with them (grimp's default)."""
    roots = tuple(packages)
    inside = {m for m in graph.modules if any(m == r or m.startswith(f"{r}.") for r in roots)}
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & inside - {m}) for m in inside}
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for start in sorted(inside):
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, next_edge = work.pop()
            if next_edge == 0:
                index[node] = lowlink[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            descended = False
            for position in range(next_edge, len(edges[node])):
                target = edges[node][position]
                if target not in index:
                    work.append((node, position + 1))
                    work.append((target, 0))
                    descended = True
                    break
                if target in on_stack:
                    lowlink[node] = min(lowlink[node], index[target])
            if descended:
                continue
            if lowlink[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
            if work:
                parent = work[-1][0]
                lowlink[parent] = min(lowlink[parent], lowlink[node])
    return sorted(cycles)


def cycle_imports(graph: grimp.ImportGraph, cycle: list[str]) -> list[str]:
    """The imports inside one cycle, as ``importer -> imported (line N, ...)`` lines."""
    members = set(cycle)
    lines = []
    for importer in cycle:
        for imported in sorted(graph.find_modules_directly_imported_by(importer) & members):
            details = graph.get_import_details(importer=importer, imported=imported)
            numbers = ", ".join(str(d["line_number"]) for d in details) or "?"
            lines.append(f"{importer} -> {imported} (line {numbers})")
    return lines


class AcyclicModulesContract(Contract):
    """``type = "acyclic_modules"``: no module of ``packages`` imports one that imports it
    back, directly or through others."""

    type_name = "acyclic_modules"

    packages = fields.ListField(subfield=fields.StringField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        """Kept when the modules of ``packages`` form no cycle; the cycles go in the metadata."""
        packages: list[str] = self.packages  # type: ignore[assignment]
        cycles = module_cycles(graph, packages)
        described = [cycle_imports(graph, cycle) for cycle in cycles]
        return ContractCheck(kept=not cycles, metadata={"cycles": cycles, "imports": described})

    def render_broken_contract(self, check: ContractCheck) -> None:
        """One block per cycle: its modules, then the imports that close it."""
        for cycle, imports in zip(check.metadata["cycles"], check.metadata["imports"], strict=True):
            output.print_error(f"Import cycle between {len(cycle)} modules: {', '.join(cycle)}")
            for line in imports:
                output.print_error(f"- {line}", bold=False)
            output.new_line()
