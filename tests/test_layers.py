"""The layers of hemproto and who may import whom (docs/architecture.md), read from the code.

Every module of the package has a layer; a module imports only from its own layer or the
ones below, whether at the top of the file or inside a function. A few rules go further: the
bottom modules import nothing of hemproto but errors, the Python codec never reaches the C
one, only the C codec's wrappers touch the compiled extension, and the benchmark package is
reached only from the command line, when it runs. Importing the core loads no network layer.

``python tests/test_layers.py`` prints the layers and the import graph.
"""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

# The installed package's sources, found without importing it.
_SPEC = importlib.util.find_spec("hemproto")
assert _SPEC is not None and _SPEC.origin is not None
PACKAGE = Path(_SPEC.origin).parent
BENCH = "hemproto_bench"

# Bottom to top. A module may import any module of its own layer or of a lower one.
LAYERS: dict[str, tuple[str, ...]] = {
    "bottom": ("errors", "_bytes"),
    "tables": ("schema", "status"),
    "codec": ("_codec_contract", "_pycodec", "_hemcodec", "_ccodec", "_codec"),
    "json and bodies": ("_json", "bodies"),
    "tokens and keys": ("jws", "x25519"),
    "messages": ("claims", "_fastpath"),
    "roles": ("releases", "replay", "backend", "device", "relay", "cbor"),
    "wire": ("asgi", "client", "redis_store"),
    "people": ("serve", "cli", "checkin_cli", "__main__"),
}
# The package's own __init__ is the public API: it imports the core and nothing imports it
# for anything but __version__.
FACADE = "__init__"
NETWORK = ("asgi", "client", "redis_store", "serve", "cli", "checkin_cli", BENCH)
THIRD_PARTY_NETWORK = ("httpx", "uvicorn", "redis", "starlette", "fastapi")


def layer_of(module: str) -> int:
    for index, members in enumerate(LAYERS.values()):
        if module in members:
            return index
    raise KeyError(module)


def modules() -> list[str]:
    return sorted(path.stem for path in PACKAGE.glob("*.py"))


def imports(module: str) -> dict[str, bool]:
    """hemproto modules (and hemproto_bench) that ``module`` imports: name -> at top level.

    Imports under ``if TYPE_CHECKING`` count as top level; a name imported from the package
    itself (``from . import __version__``) counts as the facade.
    """
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    top_level = {id(node) for node in tree.body}
    for node in tree.body:
        if isinstance(node, ast.If):
            top_level.update(id(child) for child in node.body)
    found: dict[str, bool] = {}

    def add(name: str, node: ast.AST) -> None:
        found[name] = found.get(name, False) or id(node) in top_level

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                if node.module is None:
                    for alias in node.names:
                        is_module = (PACKAGE / f"{alias.name}.py").exists()
                        add(alias.name if is_module else FACADE, node)
                else:
                    add(node.module.split(".")[0], node)
            elif node.level == 0 and node.module is not None:
                root, _, rest = node.module.partition(".")
                if root == "hemproto":
                    add(rest.split(".")[0] if rest else FACADE, node)
                elif root == BENCH:
                    add(BENCH, node)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                root, _, rest = alias.name.partition(".")
                if root == "hemproto":
                    add(rest.split(".")[0] if rest else FACADE, node)
                elif root == BENCH:
                    add(BENCH, node)
    found.pop(module, None)
    return found


def graph() -> dict[str, dict[str, bool]]:
    return {module: imports(module) for module in modules()}


# --- the rules ---------------------------------------------------------------------------------


def test_every_module_has_one_layer() -> None:
    placed = [name for members in LAYERS.values() for name in members]
    assert len(placed) == len(set(placed))
    unplaced = set(modules()) - set(placed) - {FACADE}
    assert not unplaced, f"give these modules a layer in LAYERS: {sorted(unplaced)}"


def test_modules_import_only_their_layer_or_below() -> None:
    upward = []
    for module, imported in graph().items():
        if module == FACADE:
            continue
        for name in imported:
            if name in (FACADE, BENCH):
                continue
            if layer_of(name) > layer_of(module):
                upward.append(f"{module} imports {name}")
    assert not upward, upward


@pytest.mark.parametrize("module", ["errors", "_bytes"])
def test_the_bottom_imports_nothing_of_hemproto(module: str) -> None:
    assert imports(module) == {}


def test_the_tables_import_only_errors_and_each_other_one_way() -> None:
    # The status table words the body cap, which the schema holds; the schema needs no status.
    assert set(imports("schema")) <= {"errors"}
    assert set(imports("status")) <= {"errors", "schema"}


def test_the_python_codec_never_reaches_c() -> None:
    assert not set(imports("_pycodec")) & {"_ccodec", "_hemcodec", "_codec"}


def test_only_the_c_wrappers_touch_the_extension() -> None:
    users = sorted(module for module, imported in graph().items() if "_hemcodec" in imported)
    assert users == ["_ccodec"]


def test_only_the_command_line_reaches_the_benchmarks_and_only_when_run() -> None:
    users = {module: imported[BENCH] for module, imported in graph().items() if BENCH in imported}
    assert users == {"cli": False}


def test_the_core_never_imports_the_network_layers() -> None:
    core = [m for m in modules() if m not in NETWORK and m != FACADE and m != "__main__"]
    for module in core:
        reached = set(imports(module)) & set(NETWORK)
        assert not reached, f"{module} imports {sorted(reached)}"


def test_importing_the_package_loads_no_network_layer(tmp_path: Path) -> None:
    # A fresh interpreter: what `import hemproto` loads is the core only.
    names = (*(f"hemproto.{m}" for m in NETWORK if m != BENCH), BENCH, *THIRD_PARTY_NETWORK)
    probe = (
        "import sys, hemproto, hemproto.backend, hemproto.device, hemproto.relay;"
        f"print(sorted(n for n in {names!r} if n in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# --- printing the graph ------------------------------------------------------------------------


def main() -> None:
    edges = graph()
    for name, members in LAYERS.items():
        print(f"{name}:")
        for module in members:
            if module not in edges:
                print(f"  {module} (compiled)")
                continue
            imported = sorted(
                f"{target}{'' if top else ' (in a function)'}"
                for target, top in edges[module].items()
                if target != FACADE
            )
            print(f"  {module} -> {', '.join(imported) or '-'}")
    print(f"{FACADE} -> {', '.join(sorted(edges[FACADE]))}")


if __name__ == "__main__":
    main()
