"""Settings read from the environment: a malformed value stops start-up with an error that
names its variable, instead of a bare traceback (or a silent misreading)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SETUP = "import django; django.setup(); from django.conf import settings; print('started', settings.DEBUG)"


def _start(tmp_path, code=SETUP, **variables):
    env = {**os.environ, "DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "virtool_site.settings", **variables}
    return subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("UPLOAD_MAX_BYTES", "2GB"),
        ("PAGE_SIZE_MAX", "lots"),
        ("STORAGE_CONNECT_TIMEOUT", "x"),
        ("CELERY_UNACKED_HEARTBEAT_SECONDS", "10s"),
        ("DEBUG", "maybe"),
        ("SECURE_SSL_REDIRECT", "ture"),
        ("THROTTLE_WRITE_RATE", "600"),
        ("THROTTLE_SEARCH_RATE", "many/minute"),
        ("THROTTLE_WRITE_RATE", "600/fortnight"),
        ("DATABASE_URL", "not-a-database-url"),
    ],
)
def test_a_malformed_environment_variable_stops_startup_with_an_error_naming_it(tmp_path, variable, value):
    result = _start(tmp_path, **{variable: value})
    assert result.returncode != 0, result.stdout
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured"), result.stderr
    assert variable in last_line and repr(value) in last_line, last_line


@pytest.mark.parametrize(
    ("variables", "debug"),
    [
        ({"DEBUG": "true", "UPLOAD_MAX_BYTES": "1024", "THROTTLE_WRITE_RATE": "10/s"}, "True"),
        ({"DEBUG": "0", "STORAGE_CONNECT_TIMEOUT": "2.5", "THROTTLE_SEARCH_RATE": "5/hour"}, "False"),
        ({"DEBUG": "", "CELERY_UNACKED_HEARTBEAT_SECONDS": "10"}, "False"),
    ],
)
def test_well_formed_environment_variables_start(tmp_path, variables, debug):
    result = _start(tmp_path, **variables)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["started", debug]


def _settings_value(tmp_path, name, **variables):
    code = f"import django; django.setup(); from django.conf import settings; print(settings.{name})"
    result = _start(tmp_path, code, **variables)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_shorter_task_time_limit_brings_the_soft_limit_below_it_so_a_process_ends_failed(tmp_path):
    # Only the soft limit raises inside the task (process_run then fails the process); the hard
    # limit kills it and would leave the process at its step for ever.
    assert int(_settings_value(tmp_path, "CELERY_TASK_SOFT_TIME_LIMIT", CELERY_TASK_TIME_LIMIT="600")) < 600


@pytest.mark.parametrize(
    "variables",
    [
        {"CELERY_TASK_TIME_LIMIT": "600", "CELERY_TASK_SOFT_TIME_LIMIT": "600"},
        {"CELERY_VISIBILITY_TIMEOUT": "30", "CELERY_UNACKED_HEARTBEAT_SECONDS": "30"},
    ],
    ids=["soft limit not below the hard one", "heartbeat not within the visibility timeout"],
)
def test_task_limits_that_contradict_each_other_stop_startup_naming_them(tmp_path, variables):
    result = _start(tmp_path, **variables)
    assert result.returncode != 0, result.stdout
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured"), result.stderr
    assert all(name in last_line for name in variables), last_line
