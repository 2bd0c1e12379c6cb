"""The core never imports Textual or torch: a fresh interpreter proves it, not a grep."""

from __future__ import annotations

import subprocess
import sys

CORE = [
    "torchdoctor.cli", "torchdoctor.checks", "torchdoctor.probes.collect", "torchdoctor.render.text",
    "torchdoctor.render.json_report", "torchdoctor.render.markdown", "torchdoctor.render.rules",
    "torchdoctor.render.bench", "torchdoctor.probes.gemm", "torchdoctor.demo", "torchdoctor.uvlock", "torchdoctor.files",
]


def test_core_imports_neither_textual_nor_torch():
    code = (
        "import sys\n"
        + "".join(f"import {module}\n" for module in CORE)
        + "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'torch', 'tomlkit')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
