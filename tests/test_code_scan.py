"""The project's own Python files, read with `ast` for CUDA_VISIBLE_DEVICES: never imported, never run, capped."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path

from conftest import SNAPSHOTS
from torchdoctor.checks import run_checks
from torchdoctor.model import Severity
from torchdoctor.probes import code_scan
from torchdoctor.probes.code_scan import scan_device_assignments
from torchdoctor.probes.project import probe_project
from torchdoctor.snapshot import Snapshot

H100 = Snapshot.from_json((SNAPSHOTS / "h100-pypi.json").read_text(encoding="utf-8"))


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def test_every_way_of_setting_it_is_found_with_whether_cuda_started_before(tmp_path):
    root = write(tmp_path, {
        "train.py": """
            import os, torch
            os.environ["CUDA_VISIBLE_DEVICES"] = "1"

            def main(args):
                if torch.cuda.is_available():
                    os.environ["CUDA_VISIBLE_DEVICES"] = args.gpus
                os.environ.setdefault("CUDA_VISIBLE_DEVICES", "0,1")

            def other():
                device = torch.device("cuda")  # builds a device object: CUDA has not started
                x = torch.zeros(1).to("cuda:0")
                def inner():
                    os.putenv("CUDA_VISIBLE_DEVICES", 3)
                os.environ.update(CUDA_VISIBLE_DEVICES="2")
                os.environ.update({"CUDA_VISIBLE_DEVICES": "4"})
            """,
        "pkg/tool.py": "import os\nprint(os.environ.get('CUDA_VISIBLE_DEVICES'))\n",  # read, not set
        ".venv/lib/site.py": "import os\nos.environ['CUDA_VISIBLE_DEVICES'] = '9'\n",  # an environment, skipped
        "broken.py": "os.environ['CUDA_VISIBLE_DEVICES'] = (\n",  # does not parse: skipped, no crash
    })
    scan = scan_device_assignments(root)
    found = [(a.path, a.line, a.value, a.cuda_used_at) for a in scan.assignments]
    assert found == [("train.py", 3, "1", None), ("train.py", 7, None, 6), ("train.py", 8, "0,1", 6),
                     ("train.py", 14, "3", None), ("train.py", 15, "2", 12), ("train.py", 16, "4", 12)]
    assert not scan.truncated and scan.files == 3 and scan.duration_s is not None


def test_the_scan_stops_at_its_caps_and_says_so(tmp_path, monkeypatch):
    write(tmp_path, {f"m{n}.py": "x = 1\n" for n in range(30)})
    monkeypatch.setattr(code_scan, "MAX_FILES", 10)
    scan = scan_device_assignments(tmp_path)
    assert scan.files == 10 and scan.truncated
    (tmp_path / "huge.py").write_bytes(b"import os\nos.environ['CUDA_VISIBLE_DEVICES'] = '5'\n" + b"#" * (600 * 1024))
    monkeypatch.setattr(code_scan, "MAX_FILES", 1000)
    assert not scan_device_assignments(tmp_path).assignments  # over the per-file cap: not parsed


def test_td526_too_late_and_beyond_the_gpus_and_silent_when_right(tmp_path):
    late = write(tmp_path / "late", {"pyproject.toml": "[project]\nname = 'x'\nversion = '0'\n", "train.py": """
        import os, torch
        def main():
            torch.cuda.is_available()
            os.environ["CUDA_VISIBLE_DEVICES"] = "0"
        """})
    finding = next(d for d in run_checks(replace(H100, project=probe_project(late))) if d.code == "TD526")
    assert finding.severity is Severity.WARNING and finding.message.startswith("train.py:5 sets CUDA_VISIBLE_DEVICES after")
    beyond = write(tmp_path / "beyond", {"pyproject.toml": "[project]\nname = 'x'\nversion = '0'\n",
                                         "run.py": "import os\nos.environ['CUDA_VISIBLE_DEVICES'] = '2,3'\nimport torch\n"})
    error = next(d for d in run_checks(replace(H100, project=probe_project(beyond))) if d.code == "TD526")
    assert error.severity is Severity.WARNING and "this machine has 1 GPU(s)" in error.message  # maybe meant elsewhere
    right = write(tmp_path / "right", {"pyproject.toml": "[project]\nname = 'x'\nversion = '0'\n",
                                       "run.py": "import os\nos.environ['CUDA_VISIBLE_DEVICES'] = '0'\nimport torch\n"})
    assert "TD526" not in {d.code for d in run_checks(replace(H100, project=probe_project(right)))}


def test_pinned_memory_is_found_and_named_under_wsl2_only(tmp_path):
    root = write(tmp_path / "p", {
        "train.py": """
            from torch.utils.data import DataLoader
            loader = DataLoader(data, batch_size=8, pin_memory=True, num_workers=4)
            other = DataLoader(data, pin_memory=False)
            """,
        "cache.py": "import torch\nbuffer = torch.empty(1024).pin_memory()\n",
        "notes.py": "# pin_memory=True is only said here\n",
    })
    scan = scan_device_assignments(root)
    assert scan.pinned_memory == ("cache.py:2", "train.py:3")
    (root / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n', encoding="utf-8")
    wsl = Snapshot.from_json((SNAPSHOTS / "wsl2-rtx5060ti-nightly.json").read_text(encoding="utf-8"))
    here = replace(wsl, project=replace(probe_project(root), code_scan=scan))
    [found] = [d for d in run_checks(here) if d.code == "TD512"]
    assert found.severity is Severity.INFO and "cache.py:2" in found.message
    assert "TD512" not in [d.code for d in run_checks(replace(H100, project=here.project))]  # not WSL: nothing to say
