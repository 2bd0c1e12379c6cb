"""TD0xx: the project files torchdoctor could not read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from torchdoctor.checks.registry import Finding, rule
from torchdoctor.model import Evidence, Severity
from torchdoctor.snapshot import Snapshot

WHAT_BREAKS = {
    "pyproject.toml": "uv cannot lock or sync the project until it is repaired, and torchdoctor cannot check "
    "where torch comes from.",
    "uv.lock": "uv will refuse the lock (or silently re-resolve it), so the versions it pinned are not reliable; "
    "`uv lock` rewrites it from pyproject.toml.",
}


@rule("TD001", "project-file-unusable", reads="project")
def project_file_unusable(snapshot: Snapshot) -> Iterator[Finding]:
    """A project file that decides which torch gets installed cannot be read.

    What it detects:
        pyproject.toml, uv.lock or a requirements file that is malformed TOML, binary, empty, too large
        to be what its name says, unreadable (permissions), or holds a value of the wrong kind (an
        invalid requirement string). A requirement that uv accepts but pip does not (`pkg @ URL; marker`
        with no space before the `;`) is only a note: the file is usable.
    Why it matters:
        uv cannot lock or install from a broken pyproject.toml, and a damaged uv.lock cannot be trusted.
        The machine part of the report is still valid.
    Fix safety:
        torchdoctor never rewrites a file it could not parse. The message
        names the line and column to repair by hand.
    """
    for error in snapshot.project.errors:
        name = Path(error.path).name
        if error.problem == "pip-incompatible":
            yield Finding(
                Severity.INFO,
                f"{name}: a requirement only uv accepts: {error.message}",
                "uv reads it and locks the project; pip, and tools that follow PEP 508 strictly, refuse the line.",
                (Evidence(f"{name} (requirement)", error.message, f"{error.path}:{error.line}" if error.line else error.path),),
            )
            continue
        if error.problem == "invalid-setting":
            where = error.path + (f":{error.line}" if error.line is not None else "")
            yield Finding(
                Severity.WARNING,
                f"{name}: {error.message}",
                "torchdoctor leaves this setting out, so the report may show findings the project meant to select "
                "away, or exit on another severity than intended.",
                (Evidence(f"{name} [tool.torchdoctor]", error.message, where),),
            )
            continue
        if error.problem == "unknown-version":
            yield Finding(
                Severity.WARNING,
                f"{name}: a format torchdoctor does not know: {error.message}",
                "uv reads its own lock; torchdoctor's reader follows the format it knows and may miss what a newer one says.",
                (Evidence(f"{name} (version)", error.message, error.path),),
            )
            continue
        where = error.path
        if error.line is not None:
            where += f":{error.line}" + (f":{error.column}" if error.column is not None else "")
        is_requirements = name.endswith(".txt")
        yield Finding(
            severity=Severity.WARNING if is_requirements else Severity.ERROR,
            message=f"{name} cannot be used: {error.message}" + (f" (line {error.line}, column {error.column})" if error.line else ""),
            explanation=WHAT_BREAKS.get(
                name, "torchdoctor skipped this file, so index options in it are not checked."
            ),
            evidence=(Evidence(f"{name} ({error.problem})", error.message, where),),
        )
