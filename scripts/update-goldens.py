"""Regenerate the golden text reports of the recorded snapshots (review the diff before committing).

    python scripts/update-goldens.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SNAPSHOTS = REPO / "tests" / "fixtures" / "snapshots"
GOLDEN = REPO / "tests" / "fixtures" / "golden"

for snapshot in sorted(SNAPSHOTS.glob("*.json")):
    if snapshot.name.endswith(".report.json"):
        continue
    result = subprocess.run(
        [sys.executable, "-m", "torchdoctor", "check", "--snapshot", str(snapshot), "--color", "never"],
        capture_output=True, text=True,
    )
    if result.returncode not in (0, 1):
        sys.exit(f"{snapshot.name}: {result.stderr.strip()}")
    (GOLDEN / f"{snapshot.stem}.txt").write_text(result.stdout, encoding="utf-8")
    print(f"wrote {snapshot.stem}.txt")
