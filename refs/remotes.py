"""A small GitHub releases client for remote references (`virtool/ref-plant-viruses`).

The latest release of a repository is read from `{GITHUB_API_URL}/repos/{slug}/releases/latest`
and shown in Virtool's release format; its `reference.json.gz` asset is downloaded in
chunks, never held in memory. `GITHUB_TOKEN` (optional) is sent to the API host only.
"""

import re
from pathlib import Path
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.utils import timezone

SLUG_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")
ASSET_NAME = "reference.json.gz"
DOWNLOAD_CHUNK = 1024 * 1024


class RemoteError(Exception):
    """The repository or release cannot be used (a message for the user)."""


class RemoteUnavailable(RemoteError):
    """GitHub could not be reached or answered with a server error."""


def slug_valid(slug) -> bool:
    return isinstance(slug, str) and bool(SLUG_PATTERN.match(slug)) and ".." not in slug


def _api_url(path: str) -> str:
    return settings.GITHUB_API_URL.rstrip("/") + path


def _headers(url: str, *, accept: str = "application/vnd.github+json") -> dict:
    headers = {"Accept": accept, "User-Agent": "virtool_site", "X-GitHub-Api-Version": "2022-11-28"}
    token = getattr(settings, "GITHUB_TOKEN", "")
    if token and urlsplit(url).netloc == urlsplit(settings.GITHUB_API_URL).netloc:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def release_format(release: dict, *, etag: str | None = None) -> dict:
    """Virtool's release document, from a GitHub release with a reference asset."""
    # Only a list of assets, and an asset with a URL, can be used: anything else GitHub (or a
    # proxy) sends is a release without the reference asset, never a 500.
    listed = release.get("assets")
    assets = [
        a for a in (listed if isinstance(listed, list) else [])
        if isinstance(a, dict) and isinstance(a.get("browser_download_url"), str)
    ]
    asset = next((a for a in assets if a.get("name") == ASSET_NAME), None)
    if asset is None:
        asset = next((a for a in assets if str(a.get("name", "")).endswith(".json.gz")), None)
    if asset is None:
        raise RemoteError(f"The latest release has no {ASSET_NAME} asset")
    return {
        "id": release.get("id"),
        "name": release.get("name") or release.get("tag_name") or "",
        "body": release.get("body") or "",
        "etag": etag,
        "filename": asset.get("name"),
        "size": _announced_size(asset.get("size")),
        "html_url": release.get("html_url"),
        "download_url": asset.get("browser_download_url"),
        # Compared with the installed release's (`_later`): a string or nothing.
        "published_at": published if isinstance(published := release.get("published_at"), str) else None,
        "content_type": asset.get("content_type"),
    }


def _announced_size(size) -> int | None:
    return size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None


def release_latest(slug: str, *, etag: str | None = None) -> dict | None:
    """The latest release of `slug` in Virtool's format; None when unchanged since `etag`.

    RemoteError when the repository or its release does not exist, RemoteUnavailable when
    GitHub cannot be reached.
    """
    if not slug_valid(slug):
        raise RemoteError("Invalid GitHub repository slug")
    url = _api_url(f"/repos/{slug}/releases/latest")
    headers = _headers(url)
    if etag:
        headers["If-None-Match"] = etag
    try:
        response = requests.get(url, headers=headers, timeout=settings.HTTP_TIMEOUT_SECONDS)
    except requests.RequestException as error:
        raise RemoteUnavailable("Could not reach GitHub") from error
    if response.status_code == 304:
        return None
    if response.status_code == 404:
        raise RemoteError("Release repository does not exist on GitHub")
    if response.status_code in (401, 403, 429) or response.status_code >= 500:
        raise RemoteUnavailable(f"GitHub answered {response.status_code}")
    if response.status_code != 200:
        raise RemoteError(f"GitHub answered {response.status_code}")
    try:
        document = response.json()
    except ValueError as error:
        raise RemoteUnavailable("GitHub sent an invalid release document") from error
    if not isinstance(document, dict):
        raise RemoteUnavailable("GitHub sent an invalid release document")
    return release_format(document, etag=response.headers.get("ETag"))


def release_retrieved(release: dict, *, installed: dict | None) -> dict:
    """The release as stored on the reference: with `newer` and `retrieved_at`."""
    newer = installed is None or (release.get("id") != installed.get("id") and _later(release, installed))
    return {**release, "newer": bool(newer), "retrieved_at": timezone.now().isoformat().replace("+00:00", "Z")}


def _later(release: dict, installed: dict) -> bool:
    published, installed_published = release.get("published_at"), installed.get("published_at")
    if not published or not installed_published:
        return True
    return published > installed_published


def release_download(release: dict, destination: Path, *, max_bytes: int | None = None) -> int:
    """Download the release's asset to `destination`, refusing more than `max_bytes`."""
    url = release.get("download_url")
    if not url:
        raise RemoteError("The release has no download URL")
    if urlsplit(url).scheme not in ("http", "https"):
        raise RemoteError("The release download URL is not HTTP")
    max_bytes = max_bytes or settings.UPLOAD_MAX_BYTES
    # GitHub announces the asset's exact size: a download larger than that is not the release
    # (still bounded by the upload limit when nothing was announced).
    announced = _announced_size(release.get("size"))
    limit = min(max_bytes, announced) if announced is not None else max_bytes
    size = 0
    try:
        with requests.get(
            # identity: the bytes counted and stored are the asset's own, not a decoding of them.
            url, headers={**_headers(url, accept="application/octet-stream"), "Accept-Encoding": "identity"}, stream=True,
            timeout=settings.HTTP_TIMEOUT_SECONDS,
        ) as response:
            if response.status_code != 200:
                raise RemoteUnavailable(f"Could not download the release: GitHub answered {response.status_code}")
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > limit:
                _too_large(limit, max_bytes)
            with open(destination, "wb") as handle:
                for chunk in response.iter_content(DOWNLOAD_CHUNK):
                    size += len(chunk)
                    if size > limit:
                        _too_large(limit, max_bytes)
                    handle.write(chunk)
    except requests.RequestException as error:
        raise RemoteUnavailable("Could not download the release") from error
    return size


def _too_large(limit: int, max_bytes: int):
    if limit < max_bytes:
        raise RemoteError(f"The release file is larger than announced ({limit} bytes)")
    raise RemoteError(f"The release file is larger than the limit of {max_bytes} bytes")


def update_document(release: dict, *, user, ready: bool = False) -> dict:
    """An entry of a reference's `updates` (and, once ready, its `installed`)."""
    return {
        "id": release.get("id"),
        "name": release.get("name"),
        "body": release.get("body"),
        "filename": release.get("filename"),
        "size": release.get("size"),
        "html_url": release.get("html_url"),
        "published_at": release.get("published_at"),
        "created_at": timezone.now().isoformat().replace("+00:00", "Z"),
        "ready": ready,
        "user": {"id": user.username} if user else None,
    }
