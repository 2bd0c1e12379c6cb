"""On a GPU machine: the TUI probes the machine live, `g` runs the GEMM test, and the results land in the
report. Proves the TUI's path to the GPU, which the tests (no GPU) cannot. Run from the repository root:

    OUT=/tmp/out PYTHONPATH=src:.tuideps python scripts/device-tui-gemm.py

(.tuideps holds Textual and its pure-Python dependencies: `pip install --target .tuideps textual`.)
It writes $OUT/tui-gemm.svg (the GEMM tab after the run) and prints what the app saw.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from torchdoctor.tui.app import TorchDoctorApp


async def main() -> None:
    out = Path(os.environ["OUT"])
    project = Path(tempfile.mkdtemp()) / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\ndependencies = ["torch"]\n')
    app = TorchDoctorApp(project, output_dir=out)
    async with app.run_test(size=(110, 32)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        print("summary:", app.query_one("#summary").content)
        await pilot.press("g")
        await pilot.pause(0.5)
        print("running:", app.bench_running, "tab:", app.query_one("#tabs").active)
        await app.workers.wait_for_complete()
        await pilot.pause()
        bench = app.snapshot.bench
        print("bench:", bench.status, bench.device_type, bench.device_name, f"measured {bench.measure_s} s")
        for result in bench.gemm:
            print(f"  {result.dtype} {result.tflops:.1f} TFLOP/s (sustained {result.tflops_sustained:.1f})")
        print("TD6xx:", [d.code for d in app.report.diagnoses if d.code.startswith("TD6")])
        app.save_screenshot(str(out / "tui-gemm.svg"))


asyncio.run(main())
