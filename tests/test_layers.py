"""The package's layers (README, Development), checked on every import in the source.

- The contract (the rules, their checks, the schema, tracking plans) imports nothing of HTTP,
  sockets or the journal.
- The journal imports nothing of HTTP or sockets, and nothing of the fake around it.
- The fake (the app, its HTTP server, the Python handle without assertions) imports nothing of
  the test kit (assertions, strategies, conform, the delivery kit, the pytest plugin).

Every ``import`` counts, at module level or inside a function, so a lazy import cannot hide a
dependency that runs the wrong way; so does a module named in ``importlib.import_module()`` or
``__import__()``. The entry points (``mockseg``, ``python -m mockseg`` and the command line)
wire the layers together and may import any of them; a name taken from the package itself
(``from mockseg import MockSegment``) counts as importing the entry point.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (ROOT / "mockseg", ROOT / "pytest_plugin" / "pytest_mockseg")

CONTRACT = ("mockseg.rules", "mockseg.validation", "mockseg.schema", "mockseg.plans")
JOURNAL = ("mockseg.records", "mockseg.journal", "mockseg.sqlite_journal", "mockseg.sqlite_rows",
           "mockseg.waiting")
KIT = ("mockseg.assertions", "mockseg.mocksegment", "mockseg.strategies", "mockseg.conform",
       "mockseg.conform_cases", "mockseg.stateful", "mockseg.golden", "pytest_mockseg")
FAKE = ("mockseg.admin", "mockseg.app", "mockseg.cdn", "mockseg.connection", "mockseg.decoding",
        "mockseg.environ", "mockseg.errors", "mockseg.faults", "mockseg.framing", "mockseg.guard",
        "mockseg.intercept", "mockseg.listener", "mockseg.logline", "mockseg.openapi",
        "mockseg.responses", "mockseg.routes", "mockseg.server", "mockseg.serving", "mockseg.tls",
        "mockseg.webui", "mockseg.wsgi")
ENTRY_POINTS = ("mockseg", "mockseg.__main__", "mockseg.cli")
#: Helpers with no layer of their own, which any layer may use.
SHARED = ("mockseg.jsoncodec", "mockseg._version")
#: What speaks HTTP or opens sockets, in the standard library and beyond.
NETWORK = ("http", "socket", "socketserver", "ssl", "selectors", "wsgiref", "urllib.request",
           "werkzeug", "urllib3", "requests", "httpx", "_typeshed.wsgi")


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def _module_name(path: Path) -> str:
    for package in PACKAGES:
        if package in path.parents:
            parts = [package.name, *path.relative_to(package).with_suffix("").parts]
            return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    raise ValueError(path)


def _imports(path: Path) -> set[str]:
    return _imports_in(path.read_text("utf-8"), _module_name(path), path.name == "__init__.py")


def _imports_in(source: str, name: str, is_package: bool) -> set[str]:
    """Every module the source of module ``name`` imports, anywhere in it (``from a import b``
    counts ``a.b`` too, since ``b`` may be a module)."""
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.update(f"{module}.{alias.name}" for alias in node.names)
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and (getattr(node.func, "attr", None) == "import_module"
                   or getattr(node.func, "id", None) in ("import_module", "__import__"))):
            found.add(node.args[0].value)
    return found


MODULES = {_module_name(path): _imports(path)
           for package in PACKAGES for path in sorted(package.rglob("*.py"))}


LAYERS = {"contract": CONTRACT, "journal": JOURNAL, "fake": FAKE, "kit": KIT, "shared": SHARED}


def _layer(name: str) -> str:
    if name in ENTRY_POINTS:
        return "entry"
    found = [layer for layer, prefixes in LAYERS.items() if _within(name, prefixes)]
    if len(found) != 1:
        raise AssertionError(f"{name} is in {found or 'no layer'}: give it one in {__file__}")
    return found[0]


def test_every_module_is_in_one_layer_and_every_listed_name_is_a_module() -> None:
    assert {_layer(name) for name in MODULES} == {"entry", *LAYERS}
    listed = [prefix for prefixes in LAYERS.values() for prefix in prefixes]
    assert [prefix for prefix in [*listed, *ENTRY_POINTS] if prefix not in MODULES] == []


def _of_layers(imports: set[str], layers: set[str]) -> list[str]:
    """The imported modules of ours that belong to ``layers`` (names of things inside a
    module, such as ``mockseg.rules.Limits`` or ``mockseg.MockSegment``, count as that
    module)."""
    hits = []
    for name in sorted(imports):
        if name.partition(".")[0] not in ("mockseg", "pytest_mockseg"):
            continue
        module = name
        while module and module not in MODULES:
            module = module.rpartition(".")[0]
        if module and _layer(module) in layers:
            hits.append(name)
    return hits


@pytest.mark.parametrize("name", sorted(n for n in MODULES if _layer(n) == "contract"))
def test_the_contract_imports_no_http_and_no_journal(name: str) -> None:
    imports = MODULES[name]
    assert sorted(i for i in imports if _within(i, NETWORK)) == []
    assert _of_layers(imports, {"journal", "fake", "kit", "entry"}) == []


@pytest.mark.parametrize("name", sorted(n for n in MODULES if _layer(n) == "journal"))
def test_the_journal_imports_no_http_and_nothing_of_the_fake(name: str) -> None:
    imports = MODULES[name]
    assert sorted(i for i in imports if _within(i, NETWORK)) == []
    assert _of_layers(imports, {"fake", "kit", "entry"}) == []


@pytest.mark.parametrize("name", sorted(n for n in MODULES if _layer(n) == "fake"))
def test_the_fake_imports_nothing_of_the_test_kit(name: str) -> None:
    assert _of_layers(MODULES[name], {"kit", "entry"}) == []


@pytest.mark.parametrize("name", sorted(n for n in MODULES if _layer(n) == "shared"))
def test_the_shared_helpers_import_nothing_of_ours(name: str) -> None:
    assert _of_layers(MODULES[name], {"contract", "journal", "fake", "kit", "entry"}) == []


def test_the_checks_see_a_wrong_way_import() -> None:
    """An import inside a function, or a relative one, is found and judged like any other."""
    source = ("from __future__ import annotations\n"
              "from .rules import Limits\n"
              "def later():\n"
              "    from . import assertions\n"
              "    import mockseg.strategies._valid\n")
    found = _imports_in(source, "mockseg.routes", is_package=False)
    assert {"mockseg.rules.Limits", "mockseg.assertions", "mockseg.strategies._valid"} <= found
    assert _of_layers(found, {"kit"}) == ["mockseg.assertions", "mockseg.strategies._valid"]
    assert _of_layers(found, {"contract"}) == ["mockseg.rules.Limits"]
    inside = _imports_in("from ..rules import Limits\n", "mockseg.plans._plan", is_package=False)
    assert "mockseg.rules.Limits" in inside
    dynamic = _imports_in("import importlib\nimportlib.import_module('mockseg.conform')\n"
                          "__import__('mockseg.golden')\n", "mockseg.app", is_package=False)
    assert _of_layers(dynamic, {"kit"}) == ["mockseg.conform", "mockseg.golden"]
    from_package = _imports_in("from mockseg import MockSegment, errors\n", "mockseg.app",
                               is_package=False)
    assert _of_layers(from_package, {"entry"}) == ["mockseg.MockSegment"]
    assert _of_layers(from_package, {"fake"}) == ["mockseg.errors"]
