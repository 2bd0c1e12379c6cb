"""Texts the first screen shows before any data: here, so that drawing it imports nothing of torchdoctor's core."""

from __future__ import annotations

from rich.text import Text

WAITING = Text("probing…", style="dim italic")
BENCH_HINT = Text("press g to run the GEMM test (about 1.5 s of measurement after torch starts)", style="dim")
