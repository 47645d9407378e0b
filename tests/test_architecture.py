"""The import rule of docs/architecture.md: a module never imports one of a higher layer.

Every import counts, those inside functions too; only imports for type checking
(`if TYPE_CHECKING:`) are exempt, since they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "conformance"

# Lowest first. The mock is the reference server, not part of the suite: it imports only the base.
LAYERS = (
    ("base", ("conformance.errors", "conformance.config", "conformance.contract")),
    ("http", ("conformance.http",)),
    ("target", ("conformance.target",)),
    ("layers", ("conformance.layers",)),
    ("run", ("conformance.run",)),
    ("cassettes", ("conformance.cassettes",)),
    ("adapters", ("conformance.cli", "conformance.plugin", "conformance.testing", "conformance.suite")),
)
MOCK = "conformance.mock"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int | None:
    """The rank of `module` in `LAYERS`; None for the package itself and the mock."""
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return None


def _runtime_imports(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, absolute module) of each import that runs, `if TYPE_CHECKING:` blocks left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
        for inner in ast.walk(node)
    }
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            source = ".".join(p for p in (base, node.module or "") if p)
            # `from conformance.run import report` imports conformance.run.report
            found += [(node.lineno, f"{source}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if name.startswith("conformance")]


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_higher_layer(path: Path) -> None:
    module = _module_name(path)
    rank = _layer(module)
    for line, imported in _runtime_imports(path, module):
        if module.startswith(MOCK):
            assert imported.startswith(MOCK) or _layer(imported) == 0, f"{path}:{line}: the mock imports {imported}"
            continue
        target = _layer(imported)
        if rank is None or target is None:
            continue  # the package's own __init__ (lazy names), or a name of the package itself
        assert target <= rank, (
            f"{path}:{line}: {module} ({LAYERS[rank][0]}) imports {imported} ({LAYERS[target][0]}), a higher layer"
        )


def test_every_module_has_a_layer() -> None:
    """A new top-level module or folder is given its place in the picture, not left outside it."""
    for path in MODULES:
        module = _module_name(path)
        if module in ("conformance", "conformance.__main__") or module.startswith(MOCK):
            continue
        assert _layer(module) is not None, f"{path} belongs to no layer of docs/architecture.md"


def test_the_rule_catches_an_upward_import(tmp_path: Path) -> None:
    """The checker itself: an import of the run layer from the http layer is seen, even inside a function."""
    fake = PACKAGE / "http" / "client.py"
    source = "def f():\n    from conformance.run import session\n"
    (tmp_path / "client.py").write_text(source)
    imports = _runtime_imports(tmp_path / "client.py", _module_name(fake))
    assert imports == [(2, "conformance.run.session")]
    assert _layer("conformance.run.session") > _layer(_module_name(fake))  # type: ignore[operator]
