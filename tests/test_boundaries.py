"""The seams between the apps, read off the source: who may import whom.

- ``monitoring`` owns stores, polls, hours and zones and knows nothing of reports or alerts;
- ``reports`` knows nothing of alerts (alerts listen to its signals);
- the calculator (``reports/uptime/``) and the binary COPY reader are plain Python + numpy;
- no module imports another module's private (underscore) names;
- only ``storemonitor/settings.py`` (through ``storemonitor/env.py``) reads the environment.
"""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("storemonitor", "monitoring", "reports", "alerts", "accounts")
STANDARD_LIBRARY_AND_NUMPY = {"numpy", *sys.stdlib_module_names}


def modules(*folders: str) -> list[Path]:
    return sorted(
        path for folder in folders for path in (ROOT / folder).rglob("*.py") if "migrations" not in path.parts
    )


def imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, imported names, line) of every import in the file, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, [], node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, [alias.name for alias in node.names], node.lineno))
    return found


def where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


@pytest.mark.parametrize(("app", "forbidden"), [("monitoring", {"reports", "alerts"}), ("reports", {"alerts"})])
def test_the_apps_below_do_not_import_the_apps_above(app, forbidden):
    offending = [
        where(path, line)
        for path in modules(app)
        for module, _, line in imports(path)
        if module.split(".")[0] in forbidden
    ]
    assert offending == []


@pytest.mark.parametrize("folder", ["reports/uptime", "reports/pg_binary.py"])
def test_the_calculator_and_the_binary_reader_need_only_python_and_numpy(folder):
    paths = [ROOT / folder] if folder.endswith(".py") else modules(folder)
    offending = [
        f"{where(path, line)} imports {module}"
        for path in paths
        for module, _, line in imports(path)
        if module.split(".")[0] not in STANDARD_LIBRARY_AND_NUMPY and not module.startswith("reports.uptime")
    ]
    assert offending == []


def test_no_module_imports_another_modules_private_names():
    offending = [
        f"{where(path, line)} imports {module}: {', '.join(names)}"
        for path in modules(*APPS, "tests", "benchmarks")
        for module, names, line in imports(path)
        if any(part.startswith("_") and not part.startswith("__") for part in module.split("."))
        or any(name.startswith("_") and not name.startswith("__") for name in names)
    ]
    assert offending == []


def test_only_the_settings_read_the_environment():
    readers = {
        str(path.relative_to(ROOT))
        for path in modules(*APPS)
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv"}
    }
    # wsgi.py and asgi.py only name the settings module, as Django's templates do; qcluster sets
    # Q_CLUSTER_NAME from its --name option, as django-q2's own command does.
    assert readers <= {
        "storemonitor/env.py",
        "storemonitor/wsgi.py",
        "storemonitor/asgi.py",
        "reports/management/commands/qcluster.py",
    }
