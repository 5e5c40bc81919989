"""No circles between modules: the import graph of our packages has no cycle.

A circle means two modules cannot be understood, tested or changed one without the other (and, imported at
module level, it breaks on import order); the usual cure is the piece both need, moved into a module below
both (as `wallet.vouchers.transitions` below the guardians' answers and the voucher jobs). The graph is
grimp's (import-linter's engine): every import statement, at module level or inside a function, counts,
except those under `if TYPE_CHECKING:` (annotations only, never executed).
"""

from __future__ import annotations

import graphlib

import grimp

PACKAGES = ("wallet", "api", "devices", "cli")


def _import_graph() -> dict[str, set[str]]:
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True, cache_dir=None)
    return {module: graph.find_modules_directly_imported_by(module) - {module} for module in graph.modules}


def test_the_graph_sees_every_package_and_imports_inside_functions():
    graph = _import_graph()
    assert {module.split(".")[0] for module in graph} == set(PACKAGES)
    assert "cli.context" in graph["cli.main"]  # at module level
    assert "wallet.migrate" in graph["cli.main"]  # inside a function


def test_no_module_imports_itself_back_through_others():
    try:
        graphlib.TopologicalSorter(_import_graph()).prepare()
    except graphlib.CycleError as error:
        cycle = error.args[1]
        raise AssertionError("import cycle: " + " -> ".join(reversed(cycle))) from None
