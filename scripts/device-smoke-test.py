"""Run the fix transaction's smoke test on this machine's GPU, as its last step runs it, and save what it printed.

    python scripts/device-smoke-test.py OUT_FOLDER

Run on the lent GPU machine (its system Python has torch and torchvision): the recording, with the NVML facts of the
same run, goes to tests/fixtures/smoke/, where tests/test_fix_transaction.py replays the verdict.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from torchdoctor.fixes.verify import SMOKE_TEST, smoke_test  # noqa: E402
from torchdoctor.probes.nvml import probe_nvml  # noqa: E402
from torchdoctor.probes.runner import run_command  # noqa: E402
from torchdoctor.snapshot import Snapshot  # noqa: E402


def main() -> int:
    out = Path(sys.argv[1])
    nvml = probe_nvml()
    snapshot = replace(Snapshot.from_json((Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "snapshots"
                                           / "h100-pypi.json").read_text(encoding="utf-8")), nvml=nvml)
    verification = smoke_test(snapshot, Path(sys.executable))
    raw = run_command([sys.executable, "-I", "-c", SMOKE_TEST], timeout_s=300)
    record = {"gpus": [g.name for g in nvml.gpus], "driver": nvml.driver_version, "python": sys.executable,
              "passed": verification.passed, "summary": verification.summary, "stdout": raw.stdout}
    (out / "smoke.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    print(json.dumps(record, indent=2))
    return 0 if verification.passed else 1


if __name__ == "__main__":
    sys.exit(main())
