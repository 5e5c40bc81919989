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

PACKAGES = ("wallet", "api", "devices", "cli", "tlog", "witness")


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


def _rooms_graph() -> dict[str, set[str]]:
    """The graph between rooms: a package's subpackage (`wallet.ingest`, `api.console`) or a single module
    beside them (`wallet.config`), each module counted in the room that holds it."""
    graph = _import_graph()

    def room(module: str) -> str:
        return ".".join(module.split(".")[:2])

    rooms: dict[str, set[str]] = {}
    for module, imported in graph.items():
        rooms.setdefault(room(module), set()).update(room(other) for other in imported)
    return {name: targets - {name} for name, targets in rooms.items()}


def test_no_two_rooms_import_each_other_even_through_others():
    """One level up from modules: `wallet.ingest` may use `wallet.qr`, but then nothing in `wallet.qr` (nor in
    any room it uses) may use `wallet.ingest`, so each room can be read with only what lies below it."""
    rooms = _rooms_graph()
    assert {"wallet.ingest", "wallet.qr", "api.console", "cli.main"} <= set(rooms)
    try:
        graphlib.TopologicalSorter(rooms).prepare()
    except graphlib.CycleError as error:
        cycle = error.args[1]
        raise AssertionError("rooms in a cycle: " + " -> ".join(reversed(cycle))) from None
