"""Which Python versions a package index publishes a package for: read from its PEP 503 page.

Used for PyTorch's nightly index, whose Python support moves faster than any table: the newest nightly's
wheel tags (cp310, cp314t, ...) and its `data-requires-python` say which Pythons `uv lock` can use.
The read is the only network access in `check`; it is short (a few seconds at most), happens only for
projects that use a nightly index, and its answer is cached for a day in the user cache folder, so a
later check, or one without network, still has it (and says how old it is). Offline (the caller's `offline`, which
`check --offline` and TORCHDOCTOR_OFFLINE set, and the default of every caller but a live check) forbids the read:
only the cache answers (indexes on this machine, 127.0.0.1, are still read, which is how the tests serve theirs).
"""

from __future__ import annotations

import datetime
import json
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import Version

from torchdoctor.paths import user_folder
from torchdoctor.snapshot import IndexPythons

TIMEOUT_S = 4.0
FRESH_FOR = datetime.timedelta(days=1)
RETRY_AFTER = datetime.timedelta(minutes=10)  # an index that did not answer is not asked again sooner
MAX_BYTES = 32 * 1024 * 1024


class _Links(HTMLParser):
    """The anchors of a PEP 503 page: (file name, data-requires-python)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str | None]] = []
        self._attrs: dict[str, str | None] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._attrs = dict(attrs)

    def handle_data(self, data):
        if self._attrs is not None and data.strip():
            self.links.append((data.strip(), self._attrs.get("data-requires-python")))

    def handle_endtag(self, tag):
        if tag == "a":
            self._attrs = None


def newest_pythons(page: str, package: str) -> tuple[str | None, tuple[str, ...], str | None]:
    """(newest version, the Pythons its wheels are built for, its requires-python) from a PEP 503 page."""
    parser = _Links()
    parser.feed(page)
    by_version: dict[Version, tuple[set[str], str | None]] = {}
    for name, requires in parser.links:
        try:
            wheel_name, version, _build, tags = parse_wheel_filename(name.split("#")[0])
        except InvalidWheelFilename:
            continue
        if wheel_name != package:
            continue
        pythons, _ = by_version.setdefault(version, (set(), requires))
        for tag in tags:
            interpreter = tag.interpreter
            if interpreter.startswith("cp3") and interpreter[3:].rstrip("t").isdigit():
                pythons.add(f"3.{interpreter[3:].rstrip('t')}")
    if not by_version:
        return None, (), None
    newest = max(by_version)
    pythons, requires = by_version[newest]
    return str(newest), tuple(sorted(pythons, key=Version)), requires


def _cache_file() -> Path:
    return user_folder("cache") / "index-pythons.json"


def _read_cache() -> dict:
    """The cache as written, or empty: a file that is no JSON object (damaged, edited) is as good as none."""
    try:
        cache = json.loads(_cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return cache if isinstance(cache, dict) else {}


def _answer_entry(entry: object) -> dict | None:
    """A cached answer of the shape this module writes, else None (a damaged entry is a cache miss, never a crash
    of every check of a nightly-index project: issue 25 item 8)."""
    if not isinstance(entry, dict):
        return None
    try:
        read_at = datetime.datetime.fromisoformat(entry["read_at"])
        pythons, newest, requires = entry["pythons"], entry["newest"], entry.get("requires_python")
    except (KeyError, TypeError, ValueError):
        return None
    if (read_at.tzinfo is None or not isinstance(newest, str) or not isinstance(pythons, list)
            or not all(isinstance(p, str) for p in pythons) or not isinstance(requires, (str, type(None)))):
        return None
    return entry


def _failure_entry(entry: object) -> dict | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("reason"), str):
        return None
    try:
        at = datetime.datetime.fromisoformat(entry["at"])
    except (KeyError, TypeError, ValueError):
        return None
    return entry if at.tzinfo is not None else None


def _write_cache(cache: dict) -> None:
    from torchdoctor.files import atomic_write

    try:
        _cache_file().parent.mkdir(parents=True, exist_ok=True)
        atomic_write(_cache_file(), json.dumps(cache, indent=1).encode("utf-8"))
    except OSError:
        pass  # a cache that cannot be written only costs a later read


def published_pythons(index_name: str, url: str, package: str = "torch", *, offline: bool = True,
                      now: datetime.datetime | None = None) -> IndexPythons:
    """What `url` publishes `package` for: fresh from the cache, else read from the index, else the cached
    answer however old (marked so), else the reason it could not be read."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    page_url = url.rstrip("/") + f"/{package}/"
    cache = _read_cache()
    cached = _answer_entry(cache.get(page_url))

    def answer(found: dict, from_cache: bool, error: str | None = None) -> IndexPythons:
        return IndexPythons(index=index_name, url=page_url, package=package, newest=found["newest"],
                            pythons=tuple(found["pythons"]), requires_python=found.get("requires_python"),
                            read_at=found["read_at"], from_cache=from_cache, error=error)

    def no_answer(error: str) -> IndexPythons:
        return answer(cached, True, error) if cached else IndexPythons(index=index_name, url=page_url, package=package, error=error)

    if cached and now - datetime.datetime.fromisoformat(cached["read_at"]) < FRESH_FOR:
        return answer(cached, True)
    host = urllib.parse.urlsplit(page_url).hostname or ""
    if offline and host not in ("127.0.0.1", "localhost", "::1"):
        return no_answer("offline: the cached answer is used" if cached else "offline: not read (--offline)")
    failed = _failure_entry(cache.get(page_url + "#failed"))
    if failed and now - datetime.datetime.fromisoformat(failed["at"]) < RETRY_AFTER and not cached:
        return no_answer(f"not reachable: {failed['reason']}")
    from urllib import error as url_error  # here: with ssl and http, a tenth of a second
    from urllib import request as url_request

    try:
        request = url_request.Request(page_url, headers={"Accept": "text/html", "User-Agent": "torchdoctor"})
        with url_request.urlopen(request, timeout=TIMEOUT_S) as response:
            page = response.read(MAX_BYTES).decode("utf-8", "replace")
    except (url_error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        cache[page_url + "#failed"] = {"at": now.isoformat(), "reason": str(reason)}
        _write_cache(cache)
        return no_answer(f"not reachable now: {reason}" if cached else f"not reachable: {reason}")
    newest, pythons, requires = newest_pythons(page, package)
    if newest is None:
        return IndexPythons(index=index_name, url=page_url, package=package, error=f"the page lists no {package} wheels")
    found = {"newest": newest, "pythons": list(pythons), "requires_python": requires,
             "read_at": now.replace(microsecond=0).isoformat()}
    cache[page_url] = found
    _write_cache(cache)
    return answer(found, False)
