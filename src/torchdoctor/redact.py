"""Clean what is read from outside before it reaches a Snapshot, a report or a bug report.

Index URLs often carry tokens (``https://user:token@mirror.example/simple``, ``?token=…``) and CI machines
export them in variables such as ``UV_INDEX_PRIVATE_PASSWORD``; project files can also carry terminal escape
sequences that would rewrite a user's terminal when printed. Every reader passes what it read through
`clean` / `clean_data` (pyproject.toml and uv.lock values, requirements files and Dockerfiles as text, the
environment, the probes' output, a snapshot handed over), so nothing downstream can leak a credential or
print a control character. Fixes re-read the file itself, so they keep credentials byte for byte.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "<redacted>"

# The user-info part of any URL in a string: scheme://user[:password]@host. It also matches URLs
# inside other text (a Markdown link, a requirements line), which a URL parser would not find.
# The password may itself contain `@` (`user:p@ss@host`): the user-info runs to the last `@` before the path.
# Anything but a slash or a space may stand in it (a quote or a bracket in a damaged file too): better a host
# hidden in odd text than a token shown.
# The scheme may be missing or mangled (`://user:token@host` in a damaged line): the user-info is hidden all the same.
_USERINFO = re.compile(r"(?P<scheme>(?:[A-Za-z][A-Za-z0-9+.-]*)?://)(?P<userinfo>[^/\s]+)@")
# Credentials passed as query parameters (`?token=…`, signed URLs).
_QUERY_SECRET = re.compile(
    r"(?P<name>[?&](?:[\w.-]*token|auth|password|passwd|pwd|secret|[\w.-]*key|signature|sig|x-amz-credential|"
    r"x-amz-signature|x-amz-security-token|credential)=)[^&#\s\"'<>]+", re.I)
# `NAME=value` where the name says it holds a secret (`TOKEN=…` in a RUN line, `HF_TOKEN=…` in a command): an
# environment variable's name, in capitals, so that `tiktoken==0.9` or `alibabacloud-credentials>=1` stay whole; also
# glued to other text (`…exampleTOKEN=…` in a damaged line), where hiding a value too many costs nothing.
_SECRET_ASSIGNMENT = re.compile(
    r"(?P<name>[A-Z0-9_]*(?:TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?|CREDS)=)"
    r"(?!=)(?P<value>[^\s\"'&;|]+)")
# A variable declared with a secret name in any case (`ENV hf_token=…`, `export Api_Key=…`, `--build-arg token=…`).
_DECLARED_SECRET = re.compile(
    r"(?P<name>(?:\bENV|\bARG|\bexport|--build-arg|--env|-e)\s+[A-Za-z0-9_]*(?:token|secret|password|passwd|api_?key|"
    r"access_?key|private_?key|credentials?|creds)[A-Za-z0-9_]*\s*=)(?P<value>[^\s\"'&;|]+)", re.I)
# What every secret name above contains (PASSW for PASSWORD and PASSWD, KEY for the keys): a text without one of
# these, in any case, cannot match _SECRET_ASSIGNMENT (in capitals) or _DECLARED_SECRET.
_SECRET_WORDS = ("TOKEN", "SECRET", "PASSW", "KEY", "CRED")
# Control characters a terminal acts on (C0 but tab, newline and carriage return, DEL, C1) and the bidirectional
# overrides that make text read otherwise than it is.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

_SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|CREDS|AUTH|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY)", re.I)


def _hide_userinfo(match: re.Match[str]) -> str:
    return f"{match.group('scheme')}***@"


def _hide_query_value(match: re.Match[str]) -> str:
    return f"{match.group('name')}***"


def _hide_value(match: re.Match[str]) -> str:
    """A secret's value shown as ***; one already shown as REDACTED (redact_variable's word) keeps it."""
    return match.group("name") + ("***" if match.group("value") != REDACTED else REDACTED)


def _escape_control(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\u{code:04x}" if code > 0xFF else f"\\x{code:02x}"


def redact_url(text: str) -> str:
    """Replace the user-info of every URL in `text`, and credentials in its query, with ***."""
    # Each pattern runs only where the characters it needs are there: a uv.lock holds thousands of URLs and
    # markers, and most have no `@`, `?` or `&`.
    if "://" in text and "@" in text:
        text = _USERINFO.sub(_hide_userinfo, text)
    if "=" in text:
        if "?" in text or "&" in text:
            text = _QUERY_SECRET.sub(_hide_query_value, text)
        # Both need a secret's name: a lock's markers (kilobytes of `extra == '…'`) have none, and scanning them
        # for one took most of the time of reading a large lock.
        if any(word in text for word in _SECRET_WORDS):
            text = _SECRET_ASSIGNMENT.sub(_hide_value, text)
        lowered = text.lower()
        if any(word.lower() in lowered for word in _SECRET_WORDS):
            text = _DECLARED_SECRET.sub(_hide_value, text)
    return text


def escape_controls(text: str) -> str:
    """Control characters shown as their escapes (`\\x1b`), so printing the text cannot drive the terminal."""
    if text.isprintable():  # every character _CONTROLS matches is unprintable (Cc or Cf): nothing to escape
        return text
    return _CONTROLS.sub(_escape_control, text)


def clean(text: str) -> str:
    """A string read from outside, safe to keep and print: credentials redacted, control characters escaped.
    Carriage returns stay (files written on Windows), as do tabs and newlines."""
    return escape_controls(redact_url(text))


def clean_data(value: Any) -> Any:
    """`clean` on every string (keys included) in parsed TOML or JSON data; other values as they are."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean(key) if isinstance(key, str) else key: clean_data(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_data(item) for item in value]
    return value


def is_secret_name(name: str) -> bool:
    """True for variable names that by convention hold secrets (UV_INDEX_X_PASSWORD, HF_TOKEN)."""
    return bool(_SECRET_NAME.search(name))


def redact_variable(name: str, value: str) -> str:
    """The value to record for an environment variable: hidden if secret, else with URL credentials removed."""
    if is_secret_name(name):
        return REDACTED
    return clean(value)
