"""Read what a Dockerfile installs: base images, and each `pip install` / `uv pip install` in RUN lines.

Dockerfiles are where "my build downloads 3 GB of torch every time" comes from, so the facts kept are
the ones that decide caching and reproducibility: package pins, `--pre`, index URLs, `--upgrade`,
`--no-cache-dir` and BuildKit cache mounts. Build arguments and ENV values are substituted from their
defaults, as `docker build` without `--build-arg` would. Shell control flow (`if ...; then ...; else
...; fi`) is not evaluated: every install in every branch is reported, because every branch is a build
someone runs.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from torchdoctor.redact import REDACTED, clean, is_secret_name, redact_url
from torchdoctor.snapshot import BaseImage, DockerfileInfo, InstallCommand

SEPARATORS = {";", "&&", "||", "|", "&", "(", ")", ";;"}
SHELL_WORDS = {"if", "then", "else", "elif", "fi", "do", "done", "while", "for", "until", "!", "{", "}"}
# pip options that take a value (the value is not a package).
VALUE_OPTIONS = {
    "-r", "--requirement", "-c", "--constraint", "-i", "--index-url", "--extra-index-url", "-f", "--find-links",
    "-t", "--target", "--prefix", "--root", "--platform", "--python-version", "--implementation", "--abi",
    "--only-binary", "--no-binary", "--progress-bar", "--cache-dir", "--log", "--timeout", "--retries",
    "-e", "--editable", "--src", "--upgrade-strategy", "--python", "-p", "--index-strategy", "--torch-backend",
    "--trusted-host", "--proxy", "--cert", "--client-cert", "--root-user-action", "--report", "--config-settings",
    "-C", "--global-option", "--extra-index", "--index", "--default-index", "--link-mode", "--group", "--extra",
}
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-+][^}]*)?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Instructions with `\\` continuations joined and comment lines inside them dropped (as Docker does)."""
    lines: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending:
            if not stripped or stripped.startswith("#"):
                continue
            start = number
        elif stripped.startswith("#"):
            continue
        if raw.rstrip().endswith("\\"):
            pending.append(raw.rstrip()[:-1])
            continue
        pending.append(raw)
        lines.append((start, " ".join(part.strip() for part in pending)))
        pending = []
    if pending:
        lines.append((start, " ".join(part.strip() for part in pending)))
    return lines


MAX_EXPANDED = 64 * 1024
"""The longest an ARG/ENV value or a substituted line may grow: values that reference each other twice can double
at every line (`ARG B=$A$A`, `ARG C=$B$B` …), and 40 such lines would need terabytes. Longer values are cut here,
which keeps every real Dockerfile whole (a command line of 64 KiB is already over most shells' limits)."""


def substitute(text: str, values: dict[str, str]) -> str:
    """${NAME}, ${NAME:-default} and $NAME replaced by known values; unknown ones stay as written. The result is
    cut at MAX_EXPANDED characters."""
    grown = len(text)

    def replace(match: re.Match) -> str:
        nonlocal grown
        name = match.group(1) or match.group(2)
        if name in values:
            value = values[name]
        else:
            default = re.match(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}", match.group(0))
            value = default.group(1) if default else match.group(0)
        if grown + len(value) > MAX_EXPANDED:
            value = value[:max(0, MAX_EXPANDED - grown)]
        grown += len(value)
        return value

    return VARIABLE.sub(replace, text)[:MAX_EXPANDED]


def _assignments(rest: str) -> dict[str, str]:
    """`ARG A=1 B="two"` / `ENV A=1` / `ENV A 1` -> {"A": "1", ...} (ARGs without a default are skipped)."""
    try:
        tokens = shlex.split(rest)
    except ValueError:
        return {}
    if len(tokens) == 2 and "=" not in tokens[0]:
        return {tokens[0]: tokens[1]}  # legacy `ENV NAME value`
    found = {}
    for token in tokens:
        name, sep, value = token.partition("=")
        if sep:
            found[name] = value
    return found


def read_dockerfile(path: Path, text: str, relative: str) -> DockerfileInfo:
    values: dict[str, str] = {}
    bases: list[BaseImage] = []
    installs: list[InstallCommand] = []
    for number, line in logical_lines(text):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword in ("ARG", "ENV"):
            values.update({k: REDACTED if is_secret_name(k) else substitute(v, values) for k, v in _assignments(rest).items()})
        elif keyword == "FROM":
            words = [w for w in rest.split() if not w.startswith("--")]
            if words:
                bases.append(BaseImage(number, clean(substitute(words[0], values))))
        elif keyword == "RUN":
            installs.extend(_installs(relative, number, rest.strip(), values))
    return DockerfileInfo(path=relative, base_images=tuple(bases), installs=tuple(installs))


def _installs(path: str, number: int, command: str, values: dict[str, str]) -> list[InstallCommand]:
    flags: list[str] = []
    while command.startswith("--"):
        flag, _, command = command.partition(" ")
        flags.append(flag)
        command = command.lstrip()
    if command.startswith("["):  # exec form: RUN ["pip", "install", ...]
        try:
            command = " ".join(shlex.quote(str(part)) for part in json.loads(command))
        except ValueError:
            pass
    command = clean(substitute(command, values))  # ARG values can assemble a URL with credentials: cleaned again
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:
        return []
    segments: list[list[str]] = [[]]
    for token in tokens:
        if token in SEPARATORS:
            segments.append([])
        elif not segments[-1] and token in SHELL_WORDS:
            continue
        else:
            segments[-1].append(token)
    cache_mount = any(f.startswith("--mount=") and "type=cache" in f for f in flags)
    found = []
    for segment in segments:
        install = _install_in(segment)
        if install is None:
            continue
        tool, arguments, text = install
        found.append(_parse_install(path, number, tool, arguments, text, cache_mount, tuple(flags)))
    return found


def _install_in(segment: list[str]) -> tuple[str, list[str], str] | None:
    """(tool, arguments after `install`, the command's text) when the segment runs pip/uv install."""
    for index, token in enumerate(segment):
        if token != "install" or index == 0:
            continue
        before = segment[index - 1]
        is_pip = before in ("pip", "pip3") or before.endswith(("/pip", "/pip3"))
        if is_pip:
            tool = "uv" if index >= 2 and (segment[index - 2] == "uv" or segment[index - 2].endswith("/uv")) else "pip"
            start = _command_start(segment, index)
            return tool, segment[index + 1 :], " ".join(shlex.quote(t) if " " in t else t for t in segment[start:])
    return None


def _command_start(segment: list[str], install_index: int) -> int:
    """Where the command begins: skip leading variable assignments (`PIP_X=1 pip install`)."""
    start = 0
    while start < install_index and "=" in segment[start] and not segment[start].startswith("-"):
        start += 1
    return start


def _parse_install(path, number, tool, arguments, text, cache_mount, flags) -> InstallCommand:
    packages: list[str] = []
    requirement_files: list[str] = []
    extra: list[str] = []
    index_url = None
    pre = upgrade = no_cache = False
    position = 0
    while position < len(arguments):
        token = arguments[position]
        option, sep, inline = token.partition("=")
        if token.startswith("-"):
            value = inline if sep else (arguments[position + 1] if position + 1 < len(arguments) else "")
            takes_value = option in VALUE_OPTIONS
            if option in ("-r", "--requirement"):
                requirement_files.append(value)
            elif option in ("-i", "--index-url", "--default-index"):
                index_url = redact_url(value)
            elif option in ("--extra-index-url", "--index"):
                extra.append(redact_url(value))
            elif option == "--pre" or option == "--prerelease":
                pre = True
            elif option in ("-U", "--upgrade"):
                upgrade = True
            elif option in ("--no-cache-dir", "--no-cache", "-n"):
                no_cache = True
            position += 1 + (1 if takes_value and not sep else 0)
            continue
        packages.append(token)
        position += 1
    return InstallCommand(
        path=path, line=number, tool=tool, text=text, packages=tuple(packages),
        requirement_files=tuple(requirement_files), pre=pre, upgrade=upgrade, no_cache_dir=no_cache,
        cache_mount=cache_mount, index_url=index_url, extra_index_urls=tuple(extra), run_flags=flags,
    )
