"""Regenerate the golden text reports (`check -v`, evidence included) of the recorded snapshots (review the
diff before committing).

    python scripts/update-goldens.py

It also rewrites the fix goldens of tests/fixtures/fix-cases. TD317's pair needs the local nightly
index, so its test writes it: `TORCHDOCTOR_UPDATE_GOLDENS=1 pytest tests/test_uv_lock.py -k td317`.
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
        [sys.executable, "-m", "torchdoctor", "check", "-v", "--snapshot", str(snapshot), "--color", "never"],
        capture_output=True, text=True,
    )
    if result.returncode not in (0, 1):
        sys.exit(f"{snapshot.name}: {result.stderr.strip()}")
    (GOLDEN / f"{snapshot.stem}.txt").write_text(result.stdout, encoding="utf-8")
    print(f"wrote {snapshot.stem}.txt")

# The golden after-files of the fixes: every safe fix the recorded H100 machine offers for each case.
sys.path.insert(0, str(REPO / "src"))
import tempfile  # noqa: E402
from dataclasses import replace  # noqa: E402

from torchdoctor.checks import run_checks  # noqa: E402
from torchdoctor.fixes import apply_fixes, fixable  # noqa: E402
from torchdoctor.probes.project import probe_project  # noqa: E402
from torchdoctor.snapshot import Snapshot  # noqa: E402

machine = Snapshot.from_json((SNAPSHOTS / "h100-pypi.json").read_text(encoding="utf-8"))
for case in sorted((REPO / "tests" / "fixtures" / "fix-cases").glob("*.toml")):
    with tempfile.TemporaryDirectory() as folder:
        text = case.read_text(encoding="utf-8")
        (Path(folder) / "pyproject.toml").write_text(text, encoding="utf-8")
        diagnoses = run_checks(replace(machine, project=probe_project(Path(folder))))
        after = apply_fixes(text, fixable(diagnoses, {case.stem}, unsafe=True))
    (GOLDEN / "fixes" / f"{case.stem}.after.toml").write_text(after, encoding="utf-8")
    print(f"wrote fixes/{case.stem}.after.toml")
for case in sorted((REPO / "tests" / "fixtures" / "cases").glob("*/*.toml")):
    with tempfile.TemporaryDirectory() as folder:
        text = case.read_text(encoding="utf-8")
        (Path(folder) / "pyproject.toml").write_text(text, encoding="utf-8")
        diagnoses = run_checks(replace(machine, project=probe_project(Path(folder))))
        after = apply_fixes(text, fixable(diagnoses))
    out = GOLDEN / "fixes" / f"{case.parent.name}.{case.stem}.after.toml"
    out.write_text(after, encoding="utf-8")
    print(f"wrote fixes/{out.name}")
