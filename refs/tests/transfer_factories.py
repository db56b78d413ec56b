"""Test data for reference import/export/clone/remote: small generated reference files,
uploads of them, and a local stand-in for GitHub's releases API."""

import gzip
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from refs.tests.factories import random_bases
from virtool_site.ids import random_id
from virtool_site.models import Upload

_counter = itertools.count()


def file_otu(
    name: str | None = None,
    abbreviation: str | None = None,
    *,
    isolates: int = 2,
    sequences: int = 2,
    length: int = 60,
    otu_id: str | None = None,
) -> dict:
    """An OTU in reference-file form: `isolates` isolates of `sequences` sequences each."""
    n = next(_counter)
    return {
        "_id": otu_id or random_id(),
        "name": name or f"Test virus {n}",
        "abbreviation": f"TV{n}" if abbreviation is None else abbreviation,
        "schema": [{"name": f"RNA {k}", "molecule": "ssRNA", "required": True} for k in range(sequences)],
        "taxid": 1000 + n,
        "isolates": [
            {
                "id": random_id(),
                "source_type": "isolate",
                "source_name": f"S{n}-{i}",
                "default": i == 0,
                "sequences": [
                    {
                        "_id": random_id(),
                        "accession": f"NC_{n:04d}{i}{j}",
                        "definition": f"Test virus {n} segment {j}",
                        "host": "Nicotiana tabacum",
                        "segment": f"RNA {j}",
                        "sequence": random_bases(length, seed=n * 100 + i * 10 + j),
                    }
                    for j in range(sequences)
                ],
            }
            for i in range(isolates)
        ],
    }


def file_document(otus: list[dict], **header) -> dict:
    return {
        "data_type": header.get("data_type", "genome"),
        "organism": header.get("organism", "virus"),
        "name": header.get("name", "Test reference"),
        "created_at": header.get("created_at", "2024-01-01T00:00:00Z"),
        "otus": otus,
    }


def write_gz(path: Path, content: bytes | str | dict | list) -> Path:
    if isinstance(content, (dict, list)):
        content = json.dumps(content)
    if isinstance(content, str):
        content = content.encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    # The fastest level: the large test files are megabases of random sequence, which level 9
    # takes seconds to squeeze for no gain.
    with gzip.open(path, "wb", compresslevel=1) as handle:
        handle.write(content)
    return path


def reference_file(path: Path, otus: list[dict] | None = None, **header) -> Path:
    return write_gz(path, file_document(otus if otus is not None else [file_otu() for _ in range(3)], **header))


def upload_from(path: Path, *, user, name: str = "reference.json.gz", upload_type: str = "reference") -> Upload:
    """An Upload of `path`, as POST /api/uploads leaves it (the file stored as uploads/{id},
    under DATA_DIR or in the test's bucket)."""
    from virtool_site.storage import stored_save

    upload_id = f"{random_id()}-{name}"
    with open(path, "rb") as handle:
        size = stored_save(f"uploads/{upload_id}", handle)
    return Upload.objects.create(id=upload_id, name=name, type=upload_type, size=size, user=user, ready=True)


def gzip_bomb(path: Path, *, decompressed_bytes: int, prefix: bytes = b'{"otus": [{"name": "') -> Path:
    """A small file that inflates to `decompressed_bytes`: a JSON string that never ends."""
    chunk = b"A" * (1024 * 1024)
    with gzip.open(path, "wb", compresslevel=9) as handle:
        handle.write(prefix)
        written = len(prefix)
        while written < decompressed_bytes:
            handle.write(chunk)
            written += len(chunk)
    return path


class FakeGitHub:
    """GitHub's releases API on 127.0.0.1, served from a thread.

    `publish(slug, content, release_id=..)` makes a release with a reference.json.gz asset the
    latest of `slug`. Releases answer with an ETag and honour If-None-Match; `status[slug]`
    forces an error status. `requests` lists the paths asked for.
    """

    def __init__(self):
        self.releases: dict[str, dict] = {}
        self.assets: dict[str, bytes] = {}
        self.status: dict[str, int] = {}
        self.requests: list[tuple[str, dict]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code: int, body: bytes = b"", content_type="application/json", headers=None):
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                fake.requests.append((self.path, dict(self.headers)))
                if self.path.startswith("/repos/") and self.path.endswith("/releases/latest"):
                    slug = self.path[len("/repos/") : -len("/releases/latest")]
                    if slug in fake.status:
                        return self._send(fake.status[slug], b'{"message": "error"}')
                    release = fake.releases.get(slug)
                    if release is None:
                        return self._send(404, b'{"message": "Not Found"}')
                    etag = f'W/"{release["id"]}"'
                    if self.headers.get("If-None-Match") == etag:
                        return self._send(304)
                    return self._send(200, json.dumps(release).encode(), headers={"ETag": etag})
                if self.path.startswith("/download/"):
                    asset = fake.assets.get(self.path)
                    if asset is None:
                        return self._send(404, b"Not Found", "text/plain")
                    return self._send(200, asset, "application/gzip")
                self._send(404, b'{"message": "Not Found"}')

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def publish(self, slug: str, content: bytes, *, release_id: int, name: str | None = None,
                published_at: str | None = None, asset_name: str = "reference.json.gz") -> dict:
        path = f"/download/{slug}/{release_id}/{asset_name}"
        self.assets[path] = content
        self.releases[slug] = {
            "id": release_id,
            "name": name or f"v{release_id}.0.0",
            "tag_name": name or f"v{release_id}.0.0",
            "body": f"Release {release_id}",
            "html_url": f"https://github.com/{slug}/releases/tag/v{release_id}.0.0",
            "published_at": published_at or f"2024-01-{release_id:02d}T00:00:00Z",
            "assets": [
                {
                    "name": asset_name,
                    "size": len(content),
                    "content_type": "application/gzip",
                    "browser_download_url": f"{self.url}{path}",
                }
            ],
        }
        return self.releases[slug]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def gz_bytes(document: dict) -> bytes:
    return gzip.compress(json.dumps(document).encode())
