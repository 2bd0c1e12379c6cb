"""The rule registry: every check is a pure function of a Snapshot, registered with its code.

Codes are `TD` + three digits, hundreds by area (see `AREAS`). A rule's docstring has the sections
"What it detects", "Why it matters" and "Fix safety"; `torchdoctor rules` and docs/rules.md are
generated from them. How safe a rule's fixes are is declared on `@rule` (`fix=SAFE`, `fix=(SAFE, UNSAFE)`,
none: it offers none), not told in prose: the catalogue prints the declaration before the docstring's words, and a
finding whose fix is not of a declared kind is reported as TD000 beside the finding, so the two cannot drift apart.
A rule that raises becomes a TD000 diagnosis, so one broken rule never hides the findings of the others.
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from torchdoctor.model import Applicability, Diagnosis, Evidence, Fix, Severity
from torchdoctor.snapshot import Snapshot

AREAS = {
    0: "torchdoctor and its inputs",
    1: "torch in the project interpreter",
    2: "the machine against the torch build",
    3: "project configuration",
    4: "lock and environment",
    5: "WSL and containers",
    6: "performance",
    7: "the ranks of a multi-GPU job (torchdoctor fleet)",
}
SECTIONS = ("What it detects", "Why it matters", "Fix safety")
READS = ("project", "machine")
SAFE, UNSAFE, DISPLAY_ONLY = Applicability.SAFE, Applicability.UNSAFE, Applicability.DISPLAY_ONLY
SAFETY_WORDS = {
    SAFE: "safe (`fix --all` applies it)",
    UNSAFE: "unsafe (applied only with --unsafe, after reading the diff)",
    DISPLAY_ONLY: "display only (commands shown, never run)",
}


@dataclass(frozen=True)
class Finding:
    """What a rule yields; the registry adds the rule's code and slug to make a Diagnosis."""

    severity: Severity
    message: str
    explanation: str
    evidence: tuple[Evidence, ...] = ()
    fix: Fix | None = None
    alternatives: tuple[Fix, ...] = ()


CheckFunction = Callable[[Snapshot], Iterator[Finding]]


@dataclass(frozen=True)
class Rule:
    code: str
    slug: str
    check: CheckFunction | None
    doc: str
    fixes: tuple[Applicability, ...] = ()
    """The kinds of fix its findings may carry (the main fix and the alternatives); empty: it offers none."""
    reads: str = "machine"
    """What it reads: "project" (the project's files alone, so `check --no-machine` runs it on any machine, a CI
    runner included) or "machine" (anything probed on this machine, the project's files beside it)."""
    cured_by_sync: bool = False
    """Its findings are about the torch build installed now: a fix that changes which build the project installs here
    cures them only once `uv sync` has run, so the proof and the re-check after `uv lock` judge them on the machine
    as the sync will leave it (workflow/proof.as_synced)."""

    @property
    def fix_safety(self) -> str:
        """The declared kinds in words, then the docstring's "Fix safety" text."""
        declared = " or ".join(SAFETY_WORDS[kind] for kind in self.fixes) if self.fixes else "no fix offered"
        said = self.section("Fix safety")
        return declared[0].upper() + declared[1:] + (f". {said}" if said else ".")

    def undeclared(self, finding: Finding) -> list[str]:
        """The kinds of the finding's fixes that the rule does not declare (its bug, not the project's)."""
        return [fix.applicability.value for fix in (finding.fix, *finding.alternatives)
                if fix is not None and fix.applicability not in self.fixes]

    @property
    def summary(self) -> str:
        return self.doc.strip().splitlines()[0].strip()

    def section(self, title: str) -> str:
        """The text under one docstring section ("What it detects", ...), unwrapped."""
        lines = inspect.cleandoc(self.doc).splitlines()
        collected: list[str] = []
        inside = False
        for line in lines:
            stripped = line.strip()
            if stripped.rstrip(":") in SECTIONS:
                inside = stripped.rstrip(":") == title
                continue
            if inside:
                collected.append(stripped)
        return " ".join(" ".join(collected).split())


RULES: dict[str, Rule] = {}


def _register(code: str, slug: str, check: CheckFunction | None, doc: str | None,
              fixes: tuple[Applicability, ...] = (), reads: str = "machine", cured_by_sync: bool = False) -> None:
    if not (len(code) == 5 and code.startswith("TD") and code[2:].isdigit()):
        raise ValueError(f"rule code {code!r} is not TD + three digits")
    if code in RULES or any(r.slug == slug for r in RULES.values()):
        raise ValueError(f"rule {code} {slug} is registered twice")
    if not doc or any(f"{section}:" not in doc for section in SECTIONS):
        raise ValueError(f"rule {code} must document {', '.join(SECTIONS)}")
    if reads not in READS:
        raise ValueError(f"rule {code} reads {reads!r}, not one of {', '.join(READS)}")
    RULES[code] = Rule(code, slug, check, doc, fixes, reads, cured_by_sync)


def rule(code: str, slug: str, *, fix: Applicability | tuple[Applicability, ...] = (), reads: str = "machine",
         cured_by_sync: bool = False) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check under its code. `fix` declares the kinds of fix it offers (none when left out); `reads`,
    whether it reads the project's files alone (see Rule.reads); `cured_by_sync`, that its findings are about the
    installed build (see Rule.cured_by_sync)."""
    fixes = (fix,) if isinstance(fix, Applicability) else tuple(fix)

    def register(check: CheckFunction) -> CheckFunction:
        _register(code, slug, check, check.__doc__, fixes, reads, cured_by_sync)
        return check

    return register


_register(
    "TD000",
    "check-crashed",
    None,
    """A check failed while examining the snapshot.

    What it detects:
        One of torchdoctor's own checks raised an exception instead of returning findings.
    Why it matters:
        The report may be missing a finding. The rest of the checks still ran. Please report it with
        the snapshot (`torchdoctor check --save-snapshot snapshot.json`).
    Fix safety:
        The project is not at fault: this is torchdoctor's own bug.
    """,
)


def run_checks(snapshot: Snapshot, codes: Iterable[str] | None = None) -> tuple[Diagnosis, ...]:
    """Every registered rule (or those of `codes`) over the snapshot, most severe first, then by code."""
    diagnoses: list[Diagnosis] = []
    for code in sorted(RULES if codes is None else set(codes) & set(RULES)):
        registered = RULES[code]
        if registered.check is None:
            continue
        try:
            findings = list(registered.check(snapshot))
        except Exception as error:  # a bug in one rule must not hide the others
            diagnoses.append(
                Diagnosis(
                    code="TD000",
                    slug="check-crashed",
                    severity=Severity.WARNING,
                    message=f"check {registered.code} ({registered.slug}) crashed: {type(error).__name__}: {error}",
                    explanation=RULES["TD000"].section("Why it matters"),
                    evidence=(Evidence("traceback", traceback.format_exc(limit=-3).strip(), "torchdoctor"),),
                )
            )
            continue
        for finding in findings:
            undeclared = registered.undeclared(finding)
            if undeclared:
                diagnoses.append(Diagnosis(
                    code="TD000", slug="check-crashed", severity=Severity.WARNING,
                    message=f"check {registered.code} ({registered.slug}) offered a fix of a kind it does not declare: "
                            f"{', '.join(undeclared)}",
                    explanation=RULES["TD000"].section("Why it matters"),
                ))
            diagnoses.append(
                Diagnosis(
                    code=registered.code,
                    slug=registered.slug,
                    severity=finding.severity,
                    message=finding.message,
                    explanation=finding.explanation,
                    evidence=finding.evidence,
                    fix=finding.fix,
                    alternatives=finding.alternatives,
                )
            )
    diagnoses.sort(key=lambda d: (-d.severity.rank, d.code))
    return tuple(diagnoses)
