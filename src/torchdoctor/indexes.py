"""What an index URL is (the PyTorch index, a mirror of it, a PyPI mirror) and where a marker applies.

Shared by the project-configuration checks and the resolution model. URLs are taken apart with urllib,
markers are evaluated with packaging for each platform uv resolves for, never matched as text. (It lived in
checks/ until the resolution model, which the checks import, needed it too: importing anything under checks/
registers every rule, so the model's helpers live below the checks.)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from urllib.parse import urlsplit

from packaging.markers import InvalidMarker, Marker, default_environment

PYTORCH_HOST = "download.pytorch.org"
CHANNELS = ("nightly", "test")
PLATFORMS = {
    "linux": {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix", "platform_machine": "x86_64"},
    "win32": {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt", "platform_machine": "AMD64"},
    "darwin": {"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix", "platform_machine": "arm64"},
}
PLATFORM_NAMES = {"linux": "Linux", "win32": "Windows", "darwin": "macOS"}


@dataclass(frozen=True)
class IndexUrl:
    """An index URL taken apart."""

    text: str
    problems: tuple[str, ...] = ()
    """Why uv cannot use it as written (Markdown brackets, spaces, a /simple suffix the PyTorch index lacks)."""
    cleaned: str | None = None
    """The URL uv should have been given, where the problem is mechanical."""
    host: str | None = None
    pytorch: bool = False
    """download.pytorch.org/whl/..."""
    mirror_of_pytorch: bool = False
    """Another host serving the PyTorch index's layout (…/whl/cu124) that names PyTorch in its host or path."""
    channel: str = "stable"
    """"stable", "nightly" or "test"."""
    variant: str | None = None
    """"cpu", "cu128", "rocm6.4", "xpu" ..."""

    @property
    def serves_torch(self) -> bool:
        return self.pytorch or self.mirror_of_pytorch

    @property
    def accelerated(self) -> bool:
        return bool(self.variant) and self.variant != "cpu"


def _unwrap(text: str) -> tuple[str, list[str]]:
    problems = []
    value = text
    if value != value.strip():
        problems.append("it has spaces around it")
        value = value.strip()
    if value.startswith("[") and "](" in value and value.endswith(")"):
        problems.append("it is wrapped in Markdown link syntax [text](url)")
        value = value[value.index("](") + 2 : -1].strip()
    if any(c.isspace() for c in value):
        problems.append("it contains spaces")
    return value, problems


@functools.lru_cache(maxsize=1024)
def parse_index_url(text: str) -> IndexUrl:
    """`text` taken apart. Cached (the answer is frozen): the resolution model asks for the same few URLs for every
    platform, selection and package."""
    value, problems = _unwrap(text)
    try:
        parts = urlsplit(value)
    except ValueError:
        return IndexUrl(text, tuple(problems) + ("it is not a URL",))
    if parts.scheme not in ("http", "https", "file"):
        problems.append(f"it does not start with https:// (scheme {parts.scheme or 'missing'!r})")
    host = (parts.hostname or "").lower() or None
    segments = [s for s in parts.path.split("/") if s]
    channel, variant = "stable", None
    if "whl" in segments:
        rest = segments[segments.index("whl") + 1 :]
        if rest and rest[0] in CHANNELS:
            channel, rest = rest[0], rest[1:]
        if rest and (rest[0] == "cpu" or rest[0].startswith(("cu", "rocm", "xpu"))):
            variant = rest[0]
    pytorch = host == PYTORCH_HOST and "whl" in segments
    if pytorch and segments[-1] == "simple":
        problems.append("the PyTorch index has no /simple suffix")
        value = value.rstrip("/").removesuffix("/simple")
    return IndexUrl(
        text=text,
        problems=tuple(problems),
        cleaned=value if problems else None,
        host=host,
        pytorch=pytorch,
        mirror_of_pytorch=not pytorch and variant is not None and host is not None and _names_pytorch(host, segments),
        channel=channel,
        variant=variant,
    )


def _names_pytorch(host: str, segments: list[str]) -> bool:
    """A mirror of the PyTorch index says so in its host or path (mirrors.nju.edu.cn/pytorch/whl/cu124,
    pytorch-wheels/…); a vendor's own wheel index with the same layout (flashinfer.ai/whl/cu130) does not.
    An index on this machine (127.0.0.1, localhost) with that layout is taken as a local mirror."""
    before = segments[: segments.index("whl")] if "whl" in segments else segments
    local = host in ("localhost", "::1") or host.startswith("127.")
    return local or "torch" in host or any("torch" in segment.lower() for segment in before)


def _environment() -> dict[str, str]:
    """packaging's marker environment of this interpreter, as the plain mapping `Marker.evaluate` takes (a copy: the
    callers set their platform's values in it)."""
    return dict(_this_environment())


@functools.lru_cache(maxsize=1)
def _this_environment() -> dict[str, str]:
    return {str(key): str(value) for key, value in default_environment().items()}


# The three questions below are pure functions of the marker's text (and the platform or the extras), asked by several
# rules of every report and again for each text a proof reads: answered once each.


@functools.lru_cache(maxsize=4096)
def marker_applies(marker: str | None, platform: str) -> bool | None:
    """Whether a marker can be true on `platform` ("linux", "win32", "darwin"); None if it is invalid."""
    if not marker:
        return True
    try:
        parsed = Marker(marker)
    except InvalidMarker:
        return None
    environment = _environment()
    environment.update(PLATFORMS[platform])
    environment["extra"] = ""
    try:
        return parsed.evaluate(environment)
    except Exception:  # an undefined variable in an odd marker: unknown, not a verdict
        return None


def environments_allow(environments: tuple[str, ...], platform: str) -> bool:
    """Whether `[tool.uv] environments` (if set) lets uv resolve for `platform`."""
    if not environments:
        return True
    return any(marker_applies(m, platform) is not False for m in environments)


@functools.lru_cache(maxsize=4096)
def marker_uses_extra(marker: str, extras: tuple[str, ...]) -> bool:
    """Whether a marker's value depends on `extra` (it names one of the project's extras)."""
    try:
        parsed = Marker(marker)
    except InvalidMarker:
        return False
    environment = _environment()
    results = set()
    for extra in ("", *extras):
        environment["extra"] = extra
        try:
            results.add(parsed.evaluate(environment))
        except Exception:
            return False
    return len(results) > 1


@functools.lru_cache(maxsize=4096)
def extra_of_marker(marker: str, extras: tuple[str, ...]) -> str | None:
    """The extra a marker selects when the marker is nothing but `extra == '<name>'` (true on every platform
    with that extra, false without it); None otherwise."""
    try:
        parsed = Marker(marker)
    except InvalidMarker:
        return None
    selected = []
    for extra in extras:
        results = set()
        for platform in PLATFORMS.values():
            environment = {**_environment(), **platform}
            for value in ("", extra):
                environment["extra"] = value
                try:
                    results.add((value, parsed.evaluate(environment)))
                except Exception:
                    return None
        if results == {("", False), (extra, True)}:
            selected.append(extra)
    return selected[0] if len(selected) == 1 else None
