"""Regenerate screenshots/*.svg, the pictures the README shows, from the real app.

    .venv/bin/python scripts/screenshots.py

Each picture is the app driven by keys on a recorded machine: the demo (RTX 5060 Ti under WSL2 with
the nightly project), its fix confirmation and the state after the fix, and the recorded H100 with a
GEMM test run while another process shared the GPU.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from torchdoctor.demo import demo_snapshot, prepare_demo_project
from torchdoctor.snapshot import Snapshot
from torchdoctor.tui.app import TorchDoctorApp

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "screenshots"
SIZE = (110, 32)


async def shoot(app: TorchDoctorApp, name: str, keys: tuple[str, ...] = ()) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        for key in keys:
            await pilot.press(key)
            await app.workers.wait_for_complete()
            await pilot.pause()
        app.save_screenshot(str(OUT / f"{name}.svg"))
    print(f"wrote screenshots/{name}.svg")


def demo(folder: Path) -> TorchDoctorApp:
    shutil.rmtree(folder, ignore_errors=True)
    project = prepare_demo_project(folder)
    return TorchDoctorApp(project, recorded=demo_snapshot(), label="demo: RTX 5060 Ti under WSL2, the nightly project",
                          output_dir=folder)


def h100(folder: Path, machine: str) -> TorchDoctorApp:
    shutil.rmtree(folder, ignore_errors=True)
    project = folder / "gpu-train"
    shutil.copytree(REPO / "tests" / "fixtures" / "projects" / "h100-pypi", project)
    recorded = Snapshot.from_json((REPO / "tests" / "fixtures" / "snapshots" / f"{machine}.json").read_text(encoding="utf-8"))
    return TorchDoctorApp(project, recorded=recorded, label="gpu-train on a recorded H100", output_dir=folder)


async def main() -> None:
    OUT.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="torchdoctor-screens-"))
    await shoot(demo(work / "a"), "demo")
    await shoot(demo(work / "b"), "demo-fix-confirmation", ("a",))
    await shoot(demo(work / "c"), "demo-after-fix", ("a", "y"))
    await shoot(demo(work / "d"), "demo-torch", ("3",))
    await shoot(h100(work / "e", "h100-bench-contended"), "h100-gemm-shared", ("5",))
    await shoot(h100(work / "f", "h100-bench-contended"), "h100-gemm-finding")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
