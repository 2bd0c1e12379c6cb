"""What `torchdoctor bench` prints: the GEMM test's results and the findings about speed and numbers.

The other findings (build, driver, project) belong to `torchdoctor check`; the bench view only
counts them, so a slow GPU and a wrong index are not mixed on one screen.
"""

from __future__ import annotations

from torchdoctor.model import Area, Report
from torchdoctor.render.facts import bench_lines
from torchdoctor.render.text import diagnosis_lines


def render_bench(report: Report, *, color: bool = False) -> str:
    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    snapshot = report.snapshot
    lines = [paint(f"torchdoctor {snapshot.torchdoctor_version}", "1") + " — GEMM test " + bench_lines(report)[0], ""]
    lines.extend(f"  {line}" for line in bench_lines(report)[1:])
    lines.append("")
    performance = [d for d in report.diagnoses if d.area is Area.PERFORMANCE]
    for diagnosis in performance:
        lines.extend(diagnosis_lines(diagnosis, paint))
        lines.append("")
    others = len(report.diagnoses) - len(performance)
    verdict = "as fast and as exact as expected" if not performance else f"{len(performance)} finding(s) about speed or results"
    if snapshot.bench is not None and snapshot.bench.device_type == "cpu":
        verdict = "measured the CPU: torch has no usable CUDA here"
    tail = f"; {others} other finding(s): run `torchdoctor check`" if others else ""
    lines.append(verdict + tail)
    return "\n".join(lines) + "\n"
