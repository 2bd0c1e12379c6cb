"""The proven fix previews a face shows again and again (the app's findings tab on every highlight), kept by what
they depend on. Light to create: the proof is imported when the first preview is asked for, so the app can make its
cache before its first paint."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torchdoctor.model import Diagnosis
    from torchdoctor.snapshot import Snapshot
    from torchdoctor.workflow.fixing import FixPreview


class PreviewCache:
    """Proven previews by what they depend on (the fixes chosen, pyproject.toml's bytes, whether revealed fixes
    follow), or why there is none: a face that shows a finding's proven diff on every highlight (the app) asks again
    and again, and each proof reads the project once more. At most `limit` kept; each answer is stored whole, so
    a worker thread may fill it while the face reads it."""

    def __init__(self, limit: int = 64) -> None:
        self.limit = limit
        self._answers: dict[tuple[object, ...], FixPreview | str] = {}

    def known(self, snapshot: Snapshot | None, chosen: list[Diagnosis], follow: bool = False) -> FixPreview | str | None:
        """The answer if it was proven already (or why there can be none); None while it is not."""
        key = self._key(snapshot, chosen, follow)
        return key if isinstance(key, str) else self._answers.get(key)

    def preview(self, snapshot: Snapshot | None, chosen: list[Diagnosis], follow: bool = False) -> FixPreview | str:
        """The proven preview of the chosen fixes, as `fix` writes it, or why there is none, in one line."""
        key = self._key(snapshot, chosen, follow)
        if isinstance(key, str):
            return key
        answer = self._answers.get(key)
        if answer is None:
            assert snapshot is not None  # a key is only made for a probed project
            from torchdoctor.workflow import fixing  # the rules and the proof: when the first preview is asked for

            try:
                proven = fixing.preview_fixes(snapshot, chosen, follow=follow)
                answer = f"not applied: {proven.refusal}" if proven.refusal else proven
            except fixing.CannotFix as error:
                answer = str(error)
            except Exception as error:  # noqa: BLE001 - a fault in the proof is said where the diff would be
                answer = f"the proof failed ({type(error).__name__}: {error})"
            self._keep(key, answer)
        return answer

    def _keep(self, key: tuple[object, ...], answer: FixPreview | str) -> None:
        self._answers = {**self._answers, key: answer} if len(self._answers) < self.limit else {key: answer}

    @staticmethod
    def _key(snapshot: Snapshot | None, chosen: list[Diagnosis], follow: bool) -> tuple[object, ...] | str:
        if snapshot is None:
            return "nothing probed yet"
        path = Path(snapshot.project.pyproject.path) if snapshot.project.pyproject else None
        try:
            original = path.read_bytes() if path else b""
        except OSError as error:
            return f"cannot preview: {error}"
        return (tuple((d.code, d.message) for d in chosen), original, follow)
