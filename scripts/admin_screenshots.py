#!/usr/bin/env python
"""Photograph the curation admin with headless Chromium, so a person can look at it.

    .venv/bin/python scripts/admin_screenshots.py [--out scripts/out] [--keep]

In a throwaway SQLite database (under the temporary directory) it loads the demo reference
(refs/demo.py), makes a few edits through refs.services as a curator, serves the site with
`manage.py runserver` on 127.0.0.1 at a free port, and writes PNGs of the OTU change page, the
OTU list, the reference page and two history diff pages to scripts/out/. Needs Debian's `chromium`
(apt-get install chromium). The server signs every request in as the curator through a
middleware that exists only in scripts/screenshot_settings.py.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
USERNAME = "curator"
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def chromium() -> str:
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    sys.exit("chromium not found: apt-get install -y chromium")


def environment(workdir: Path) -> dict:
    env = dict(os.environ)
    for name in ("REDIS_URL", "CELERY_TASK_ALWAYS_EAGER"):
        env.pop(name, None)  # tasks run in-process
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "scripts.screenshot_settings",
            "DATABASE_URL": f"sqlite:///{workdir / 'admin.sqlite3'}",
            "DATA_DIR": str(workdir / "data"),
            "SCREENSHOT_USER": USERNAME,
            "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def prepare_data() -> dict:
    """Runs inside this process with the screenshot environment: returns the pages to shoot."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from history.models import Change
    from refs import services
    from refs.demo import demo_reference_load
    from refs.models import OTU, Sequence
    from virtool_site.models import User

    call_command("migrate", verbosity=0, interactive=False)
    curator = User.objects.create_superuser(USERNAME, f"{USERNAME}@example.org", None)
    reference = demo_reference_load(user=curator)
    # The OTU with the most isolates makes the fullest page.
    otu = max(OTU.objects.filter(reference=reference), key=lambda o: (o.isolates.count(), o.name))
    services.otu_edit(
        user=curator,
        otu_id=otu.id,
        abbreviation=(otu.abbreviation or "X") + "-2",
        schema=list(otu.schema or []) + [{"name": "Satellite", "molecule": "ssDNA", "required": False}],
    )
    schema_change = Change.objects.filter(otu_id=otu.id).order_by("-otu_version").first()
    sequence = Sequence.objects.filter(otu=otu).select_related("isolate").order_by("isolate__position", "position").first()
    bases = sequence.sequence
    middle = len(bases) // 2
    mutated = bases[:middle] + ("A" if bases[middle] != "A" else "C") + bases[middle + 1 :]
    services.sequence_edit(
        user=curator,
        otu_id=otu.id,
        isolate_id=sequence.isolate.isolate_id,
        sequence_id=sequence.id,
        sequence=mutated,
        host=(sequence.host or "plant") + " (checked)",
    )
    sequence_change = Change.objects.filter(otu_id=otu.id).order_by("-otu_version").first()
    connection.close()
    return {
        "otu_change": f"/admin/refs/otu/{otu.id}/change/",
        "otu_list": f"/admin/refs/otu/?reference={reference.id}",
        "reference_change": f"/admin/refs/reference/{reference.id}/change/",
        "history_diff": f"/admin/history/change/{schema_change.id}/change/",
        "history_diff_sequence": f"/admin/history/change/{sequence_change.id}/change/",
    }


def wait_until_up(url: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the server stopped (exit {server.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    sys.exit(f"the server did not answer {url} within {timeout} s")


def shoot(browser: str, url: str, png: Path, profile: Path, height: int) -> None:
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size=1400,{height}",
        "--virtual-time-budget=3000",
        f"--screenshot={png}",
        url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0 or not png.exists():
        sys.exit(f"chromium failed for {url}:\n{result.stderr[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--out", type=Path, default=ROOT / "scripts" / "out")
    parser.add_argument("--keep", action="store_true", help="keep the temporary database and data")
    args = parser.parse_args()

    browser = chromium()
    workdir = Path(tempfile.mkdtemp(prefix="vs-admin-shots-")).resolve()
    env = environment(workdir)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    args.out.mkdir(parents=True, exist_ok=True)
    server = None
    try:
        print("loading the demo reference and making edits…", flush=True)
        pages = prepare_data()
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "runserver", f"127.0.0.1:{port}", "--noreload", "--insecure"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        base = f"http://127.0.0.1:{port}"
        wait_until_up(f"{base}/admin/", server)
        heights = {
            "otu_change": 2600,
            "otu_list": 1100,
            "reference_change": 1500,
            "history_diff": 1500,
            "history_diff_sequence": 1300,
        }
        for name, path in pages.items():
            png = args.out / f"{name}.png"
            png.unlink(missing_ok=True)
            shoot(browser, base + path, png, workdir / f"profile-{name}", heights[name])
            print(f"{png}  ←  {path}", flush=True)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
