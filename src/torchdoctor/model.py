"""The diagnosis model: what a check says about a Snapshot, and the Report that collects it all."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from torchdoctor.snapshot import Snapshot


class Severity(enum.Enum):
    """How bad a finding is. Ordered: INFO < WARNING < ERROR."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def __ge__(self, other: Severity) -> bool:  # type: ignore[override]
        return self.rank >= other.rank

    def __gt__(self, other: Severity) -> bool:  # type: ignore[override]
        return self.rank > other.rank

    def __le__(self, other: Severity) -> bool:  # type: ignore[override]
        return self.rank <= other.rank

    def __lt__(self, other: Severity) -> bool:  # type: ignore[override]
        return self.rank < other.rank


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


@dataclass(frozen=True)
class Evidence:
    """One fact a diagnosis rests on, and where torchdoctor read it."""

    fact: str
    """What was read, e.g. "torch.version.cuda"."""
    value: str
    source: str
    """Where: "torch probe in /proj/.venv/bin/python", "NVML", "pyproject.toml:12:5"."""


@dataclass(frozen=True)
class Diagnosis:
    """A finding: what is wrong (or worth knowing), why, and the facts that show it."""

    code: str
    slug: str
    severity: Severity
    message: str
    """One line: what is wrong."""
    explanation: str
    """A paragraph a newcomer understands: why it happens and what it breaks."""
    evidence: tuple[Evidence, ...] = ()
    fix: Any = None
    """The fix for this diagnosis; none exist yet, so always None in this version."""


@dataclass(frozen=True)
class Report:
    """The snapshot and everything the checks found in it, most severe first."""

    snapshot: Snapshot
    diagnoses: tuple[Diagnosis, ...] = field(default_factory=tuple)

    def worst(self) -> Severity | None:
        return max((d.severity for d in self.diagnoses), key=lambda s: s.rank, default=None)

    def count(self, severity: Severity) -> int:
        return sum(1 for d in self.diagnoses if d.severity is severity)
