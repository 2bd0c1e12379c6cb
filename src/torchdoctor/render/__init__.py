"""Renderers: the only code that knows how a Report looks (text, JSON, Markdown, GitHub annotations, SARIF).

`render_report` is the faces' door: it imports the one renderer a format needs when it is asked for, so a face may
import this package before its first paint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torchdoctor.model import Report

FORMATS = ("text", "json", "markdown", "github", "sarif")


def render_report(report: Report, fmt: str, color: bool = False, verbose: bool = False) -> str:
    """The report in one of FORMATS (`--format`)."""
    if fmt in ("github", "sarif"):
        from torchdoctor.render.ci import render_github, render_sarif

        return render_github(report) if fmt == "github" else render_sarif(report)
    if fmt == "json":
        from torchdoctor.render.json_report import render_json

        return render_json(report)
    if fmt == "markdown":
        from torchdoctor.render.markdown import render_markdown

        return render_markdown(report)
    from torchdoctor.render.text import render_text

    return render_text(report, color=color, verbose=verbose)


def summary_line(report: Report) -> str:
    """The report's verdict in one line ("problems found: 1 error(s), …"), as the text report ends."""
    from torchdoctor.render.text import summary_line as line

    return line(report)
