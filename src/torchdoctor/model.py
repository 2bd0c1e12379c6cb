"""The diagnosis model: what a check says about a Snapshot, and the Report that collects it all."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

import re

from torchdoctor.edits import Edit
from torchdoctor.plans import CollectiveRate, ProjectModel
from torchdoctor.snapshot import GemmResult, Snapshot

SELECTION_NAMED = re.compile(r"`uv sync(?: --[a-z-]+(?: [^`\s]+)?)*`")
"""How a finding names the install it is about, in its message: "`uv sync --extra cu128`"."""


class Severity(enum.Enum):
    """How bad a finding is. Ordered: INFO < WARNING < ERROR."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def __ge__(self, other: Severity) -> bool:
        return self.rank >= other.rank

    def __gt__(self, other: Severity) -> bool:
        return self.rank > other.rank

    def __le__(self, other: Severity) -> bool:
        return self.rank <= other.rank

    def __lt__(self, other: Severity) -> bool:
        return self.rank < other.rank


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


class Applicability(enum.Enum):
    """How far a fix can be trusted, graded as ruff grades its fixes."""

    SAFE = "safe"
    """Keeps the project's meaning; applied by `fix --all`."""
    UNSAFE = "unsafe"
    """Changes what the project promises (a narrower range, another default); needs --unsafe."""
    DISPLAY_ONLY = "display-only"
    """Outside pyproject.toml (a driver, a reboot, a variable): shown as commands, never run."""


@dataclass(frozen=True)
class Fix:
    """A fix as data: what it does, how safe it is, and either an edit of pyproject.toml or commands to run.

    `edit` is typed data (torchdoctor.edits); torchdoctor.fixes applies it to the file's text when the fix is
    previewed or written, so a report stays plain data that serialises to JSON.
    """

    title: str
    applicability: Applicability
    edit: Edit | None = None
    commands: tuple[str, ...] = ()

    @property
    def action(self) -> str | None:
        """The edit's name ("use-pytorch-index"), None for a fix made of commands."""
        return self.edit.action if self.edit is not None else None


@dataclass(frozen=True)
class Evidence:
    """One fact a diagnosis rests on, and where torchdoctor read it."""

    fact: str
    """What was read, e.g. "torch.version.cuda"."""
    value: str
    source: str
    """Where: "torch probe in /proj/.venv/bin/python", "NVML", "pyproject.toml:12:5"."""


class Area(enum.IntEnum):
    """What a finding is about: the hundreds digit of its code (TD6xx: performance). The one place that reads it."""

    INPUTS = 0
    TORCH = 1
    BUILD = 2
    PROJECT = 3
    LOCK = 4
    CONTAINERS = 5
    PERFORMANCE = 6
    FLEET = 7

    @classmethod
    def of(cls, code: str) -> Area:
        return cls(int(code[2]))


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
    fix: Fix | None = None
    """How to cure it, when torchdoctor knows: a pyproject transform or the commands to run."""
    alternatives: tuple[Fix, ...] = ()
    """Other ways to cure it, applied with `torchdoctor fix CODE --alternative N` (1-based)."""
    no_fix: str = ""
    """Why no automatic fix is offered, when the rule had an edit for it that could not be proven (report-time proof,
    workflow/proof.py): every face says so in place of a fix line."""

    @property
    def area(self) -> Area:
        return Area.of(self.code)


@dataclass(frozen=True)
class GemmRate:
    """One dtype of the GEMM test, judged once (by the TD6xx rules' own lines) for every face to show."""

    result: GemmResult
    delivered: float | None
    """What the user got: the lower of the median single product and the sustained rate."""
    expected: float | None = None
    """What cuBLAS reaches for this dtype on this GPU model (our measurement, else a typical share of the peak)."""
    expected_basis: str = ""
    peak: float | None = None
    """The datasheet peak."""
    slow: bool = False
    """Below TD602's line (a share of `expected` from gpus.toml)."""
    accuracy: str = "ok"
    """"ok"; "wrong" (TD601: an error above the dtype's rounding, or not finite); "tf32" (fp32 computed at TF32
    precision because NVIDIA_TF32_OVERRIDE=1: TD605's, not a fault of the GPU)."""


@dataclass(frozen=True)
class GemmAssessment:
    """The GEMM test's rates against the GPU model's, in the order people read dtypes (bf16, fp16, tf32, fp32)."""

    model: str | None
    """The knowledge base's name for the GPU tested; None on the CPU or when the tables do not know it."""
    rates: tuple[GemmRate, ...] = ()
    tables_as_of: str = ""


@dataclass(frozen=True)
class Report:
    """The snapshot and everything the checks found in it, most severe first."""

    snapshot: Snapshot
    diagnoses: tuple[Diagnosis, ...] = field(default_factory=tuple)
    gemm: GemmAssessment | None = None
    """The GEMM test judged against the GPU model (None when it did not run): renderers show it, never judge."""
    model: ProjectModel | None = None
    """What each platform and selection installs, by the resolution model (diagnose sets it; None where no project
    was read, a paste or a fleet): renderers show it, never compute it."""
    collectives: tuple[CollectiveRate, ...] = ()
    """A fleet's collectives with their algorithm and bus bandwidth (diagnose computes them): renderers show them."""

    def worst(self) -> Severity | None:
        return max((d.severity for d in self.diagnoses), key=lambda s: s.rank, default=None)

    def count(self, severity: Severity) -> int:
        return sum(1 for d in self.diagnoses if d.severity is severity)

    def fails(self, threshold: Severity, area: Area | None = None) -> bool:
        """Whether a finding (of `area`, when given) is at least `threshold`: the one answer to "does this report
        fail?" that every command's exit code reads."""
        return any(d.severity >= threshold for d in self.diagnoses if area is None or d.area is area)

    def of(self, area: Area) -> Report:
        """The report with only the findings of one area (`torchdoctor fleet` reports the ranks')."""
        return replace(self, diagnoses=tuple(d for d in self.diagnoses if d.area is area))
