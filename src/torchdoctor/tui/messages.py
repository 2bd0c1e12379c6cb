"""Messages the workers post to the app. Workers never touch widgets; the app reacts to these.

Dataclasses, as Textual allows (Message.__init__ runs through __post_init__, which the dataclass's own __init__
calls): each message is the data it carries, compared and printed as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:  # annotations only: the first screen is drawn before these are imported
    from torchdoctor.snapshot import Snapshot
    from torchdoctor.workflow.transaction import CommandResult, Outcome


@dataclass
class PartProbed(Message):
    """One probe finished ("interpreter", "project", "system", "nvml" or "torch"), or "provisional": a first verdict's
    whole Snapshot, read from torch's files while `import torch` still runs."""

    name: str
    value: Any


@dataclass
class SnapshotReady(Message):
    snapshot: Snapshot


@dataclass
class LockLine(Message):
    line: str


@dataclass
class LockFinished(Message):
    result: CommandResult


@dataclass
class FixFinished(Message):
    outcome: Outcome
