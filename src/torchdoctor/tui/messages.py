"""Messages the workers post to the app. Workers never touch widgets; the app reacts to these."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:  # annotations only: the first screen is drawn before these are imported
    from torchdoctor.probes.runner import CommandResult
    from torchdoctor.snapshot import BenchInfo, Snapshot


class PartProbed(Message):
    """One probe finished ("interpreter", "project", "system", "nvml" or "torch")."""

    def __init__(self, name: str, value: Any) -> None:
        super().__init__()
        self.name = name
        self.value = value


class SnapshotReady(Message):
    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class BenchEvent(Message):
    """A record the GEMM test streamed. Progress records may replace each other in the queue."""

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__()
        self.record = record

    def can_replace(self, message: Message) -> bool:
        return (
            isinstance(message, BenchEvent)
            and message.record.get("event") == "progress"
            and self.record.get("event") == "progress"
        )


class BenchFinished(Message):
    def __init__(self, bench: BenchInfo) -> None:
        super().__init__()
        self.bench = bench


class LockLine(Message):
    def __init__(self, line: str) -> None:
        super().__init__()
        self.line = line


class LockFinished(Message):
    def __init__(self, result: CommandResult) -> None:
        super().__init__()
        self.result = result
