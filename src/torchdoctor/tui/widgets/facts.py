"""The fact panels (machine, torch, project, fleet): what the probes read, as tables, redrawn as each probe answers
and when the snapshot is whole."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.widgets import Static

from torchdoctor.tui.texts import WAITING

if TYPE_CHECKING:
    from torchdoctor.plans import ProjectModel
    from torchdoctor.snapshot import Snapshot


class FactsPanel(Static):
    """One kind of facts: "machine", "torch", "project" or "fleet" (the panel's id, which the stylesheet uses)."""

    def __init__(self, kind: str) -> None:
        super().__init__(WAITING, id=kind)
        self.kind = kind

    def show(self, snapshot: Snapshot | None, parts: dict[str, Any], model: ProjectModel | None = None) -> None:
        """The facts so far: the probes that answered (`parts`) until the snapshot is whole; `model`, what each platform
        installs (the report's), for the project's."""
        from torchdoctor.tui import panels

        if self.kind == "fleet":
            self.update(panels.fleet_panel(snapshot))
            return
        if self.kind == "project":
            self.update(panels.project_panel(snapshot, parts, model))
            return
        draw = {"machine": panels.machine_panel, "torch": panels.torch_panel}[self.kind]
        self.update(draw(snapshot, parts))
