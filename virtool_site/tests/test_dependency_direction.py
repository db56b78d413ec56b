"""The dependency rules of docs/architecture.md, read from the source with `ast`:

- the kernel (`virtool_site/`, tests aside) imports nothing from the apps;
- an app's services never import its tasks (services queue tasks by name through
  virtool_site.tasks_queue; tasks call services).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("refs", "history", "indexes", "analyses", "brapi")


def _modules(package: Path):
    """Every source module of a package, tests and migrations left out."""
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).parts
        if parts[0] in ("tests", "migrations"):
            continue
        yield path


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in the file, at any depth (function-level too);
    relative imports are resolved against the file's package."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                name = _module_name(path)
                package = (name if path.name == "__init__.py" else name.rpartition(".")[0]).split(".")
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            # `from refs import tasks` names a module too.
            found.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names)
    return found


def _is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_kernel_imports_no_app():
    offending = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in _modules(ROOT / "virtool_site")
        for line, module in _imported(path)
        if any(_is_within(module, app) for app in APPS)
    ]
    assert offending == []


def _services_modules(app: str) -> list[Path]:
    module = ROOT / app / "services.py"
    package = ROOT / app / "services"
    return [module] if module.exists() else sorted(package.rglob("*.py"))


@pytest.mark.parametrize("app", APPS)
def test_services_never_import_their_apps_tasks(app):
    paths = _services_modules(app)
    assert paths, f"{app} has no services"
    offending = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in paths
        for line, module in _imported(path)
        if _is_within(module, f"{app}.tasks")
    ]
    assert offending == []


def test_the_checks_see_an_offending_import(tmp_path):
    """The walk finds imports inside functions and `from app import tasks` alike."""
    source = tmp_path / "example.py"
    source.write_text("def queue():\n    from refs import tasks\n\nimport indexes.tasks as t\n")
    modules = [module for _, module in _imported(source)]
    assert "refs.tasks" in modules and "indexes.tasks" in modules
