"""The service runs on requirements.txt alone: loading it pulls in no test or benchmark tool."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

TEST_TOOLING = {"pytest", "_pytest", "pytest_django", "xdist", "hypothesis", "schemathesis", "factory", "faker", "moto"}

# What a web process and a worker load: settings, every app, every URL and view, the admin,
# the Celery app with its tasks, and the WSGI application.
LOAD_THE_SERVICE = """
import json, sys
import django
django.setup()
from django.urls import get_resolver
from django.contrib import admin
from django.core.management import get_commands
import virtool_site.wsgi
from virtool_site.celery import app
get_resolver().url_patterns
admin.autodiscover()
app.loader.import_default_modules()
get_commands()
print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))
"""


def _requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "-r")):
            names.add(line.split("==")[0].split("[")[0].lower().replace("_", "-"))
    return names


def test_loading_the_service_imports_no_test_tooling():
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    env["DJANGO_SETTINGS_MODULE"] = "virtool_site.settings"
    result = subprocess.run(
        [sys.executable, "-c", LOAD_THE_SERVICE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert loaded & TEST_TOOLING == set()


def test_run_time_requirements_hold_no_test_tooling_and_are_pinned():
    runtime = (ROOT / "requirements.txt").read_text().splitlines()
    pinned = [line for line in runtime if line.strip() and not line.startswith("#")]
    assert all("==" in line for line in pinned), "every run-time requirement is pinned"
    assert _requirement_names(ROOT / "requirements.txt") & {
        "pytest", "pytest-django", "pytest-xdist", "hypothesis", "schemathesis", "factory-boy", "faker", "moto"
    } == set()


def test_dev_requirements_add_the_test_tools_to_the_run_time_ones():
    dev = (ROOT / "requirements-dev.txt").read_text()
    assert "-r requirements.txt" in dev
    assert {"pytest", "pytest-django", "pytest-xdist", "hypothesis", "schemathesis", "factory-boy", "faker"} <= (
        _requirement_names(ROOT / "requirements-dev.txt")
    )
