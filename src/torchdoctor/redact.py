"""Remove credentials before they reach a Snapshot, a report or a bug report.

Index URLs often carry tokens (``https://user:token@mirror.example/simple``) and CI machines export
them in variables such as ``UV_INDEX_PRIVATE_PASSWORD``. Probes pass every URL and variable they
record through here, so nothing downstream can leak them.
"""

from __future__ import annotations

import re

REDACTED = "<redacted>"

# The user-info part of any URL in a string: scheme://user[:password]@host. It also matches URLs
# inside other text (a Markdown link, a requirements line), which a URL parser would not find.
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s\]\)\"']+)@")

_SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY)", re.I)


def redact_url(text: str) -> str:
    """Replace the user-info of every URL in `text` with ***, keeping the rest readable."""
    return _USERINFO.sub(lambda m: f"{m.group('scheme')}***@", text)


def is_secret_name(name: str) -> bool:
    """True for variable names that by convention hold secrets (UV_INDEX_X_PASSWORD, HF_TOKEN)."""
    return bool(_SECRET_NAME.search(name))


def redact_variable(name: str, value: str) -> str:
    """The value to record for an environment variable: hidden if secret, else with URL credentials removed."""
    if is_secret_name(name):
        return REDACTED
    return redact_url(value)
