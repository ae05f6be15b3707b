"""The package's import graph, read from the source with `ast`: no module is on an import circle, and the
domain (`kasir.payments`, `kasir.sales`) imports no web layer, directly or through other modules.

Every import counts, at module level or inside a function; relative imports are resolved, and
`from package import name` is an import of the submodule `package.name` when there is one. Running a
submodule's parent `__init__` is not counted: an area's `__init__` imports its route modules so that their
views attach to the blueprint, and the route modules import `blueprint.py`, never the package, so no
exception for Flask's "views import the package" pattern is needed.
"""
import ast
from collections import deque
from pathlib import Path

import pytest

import kasir

PACKAGE_DIR = Path(kasir.__file__).parent
DOMAIN = ("kasir.payments", "kasir.sales")
WEB_LAYERS = ("kasir.api", "kasir.pos", "kasir.admin", "kasir.display", "kasir.printing", "kasir.webhooks")


def module_names() -> dict[str, Path]:
    names = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = ("kasir", *path.relative_to(PACKAGE_DIR).with_suffix("").parts)
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def imported_by(module: str, is_package: bool, source: str, modules) -> set[str]:
    """The package's modules that `module` imports anywhere in its source."""
    package = module if is_package else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            origin = ".".join([*base, node.module] if node.module else base)
            found.update(f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in modules else origin
                         for alias in node.names)
    return found & set(modules)


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    return {module: imported_by(module, path.name == "__init__.py", path.read_text(encoding="utf-8"), modules)
            for module, path in modules.items()}


GRAPH = import_graph()


def shortest_path(start: str, arrives) -> list[str] | None:
    """The shortest import chain from `start` (at least one step) to a module for which `arrives` holds."""
    came_from, queue = {}, deque([start])
    while queue:
        current = queue.popleft()
        for target in sorted(GRAPH[current]):
            if target in came_from:
                continue
            came_from[target] = current
            if arrives(target):
                chain = [target]
                while chain[-1] != start or len(chain) == 1:
                    chain.append(came_from[chain[-1]])
                return chain[::-1]
            queue.append(target)
    return None


def circle_through(module: str) -> list[str] | None:
    return shortest_path(module, lambda target: target == module)


def in_area(module: str, areas) -> bool:
    return any(module == area or module.startswith(area + ".") for area in areas)


def test_imports_anywhere_in_a_module_count_relative_ones_resolved():
    modules = {"kasir", "kasir.audit", "kasir.pos", "kasir.pos.blueprint", "kasir.pos.routes", "kasir.sales"}
    source = ("from flask import g\nfrom .. import audit\nfrom . import bp\nfrom .blueprint import bp\n"
              "def view():\n    import kasir.sales\n")
    assert imported_by("kasir.pos.routes", False, source, modules) == {
        "kasir.audit", "kasir.pos", "kasir.pos.blueprint", "kasir.sales"}


def test_a_package_init_resolves_relative_imports_from_itself():
    modules = {"kasir", "kasir.pos", "kasir.pos.routes"}
    assert imported_by("kasir.pos", True, "from . import routes\n", modules) == {"kasir.pos.routes"}


def describe_circles() -> str:
    circles = {frozenset(chain): chain for chain in map(circle_through, sorted(GRAPH)) if chain}
    return "import circles left:\n" + "\n".join(sorted(" -> ".join(chain) for chain in circles.values()))


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_module_is_on_an_import_circle(module):
    circle = circle_through(module)
    assert circle is None, " -> ".join(circle) + "\n" + describe_circles()


@pytest.mark.parametrize("web_layer", WEB_LAYERS)
def test_the_domain_imports_no_web_layer(web_layer):
    domain = [module for module in GRAPH if in_area(module, DOMAIN)]
    chains = [chain for chain in (shortest_path(module, lambda target: in_area(target, [web_layer]))
                                  for module in sorted(domain)) if chain]
    assert not chains, "\n".join(" -> ".join(chain) for chain in chains)
