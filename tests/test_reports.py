"""Real failure reports, recorded: each file of tests/fixtures/reports/ is one resolved public thread (its URL, the
cause it established, the error the reporter pasted) turned into a snapshot, the reporter's facts laid over a recorded
machine, with the finding it must give and a healthy twin (the same machine after the fix the thread confirmed) that
must stay silent. tests/fixtures/reports/README.md says how they were gathered.

`facts` and `twin` set snapshot fields by dotted path (`system.shm`, `nvml.error_code`); the string "null" stands for
an absent value (TOML has none); `gpus` lays out GPUs as NVML and torch see them, by name, count and capability
(and, where the thread states it, `total_gib` and `used_gib` of memory); any other key of a GPU is an NVML field of it
(`mig_enabled`, `mig_devices`, `processes`).
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES, SNAPSHOTS
from torchdoctor.checks import run_checks
from torchdoctor.model import Severity
from torchdoctor.snapshot import Snapshot

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPORTS = FIXTURES / "reports"
CASES = sorted(REPORTS.glob("*.toml"))


def recorded(base: dict, facts: dict) -> Snapshot:
    plain = copy.deepcopy(base)
    for key, value in facts.items():
        value = None if value == "null" else value
        if key == "gpus":
            _lay_out_gpus(plain, value)
            continue
        *path, last = key.split(".")
        node = plain
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return Snapshot.from_json(json.dumps(plain))


LAYOUT_KEYS = {"name", "count", "capability", "total_gib", "used_gib"}


def _lay_out_gpus(plain: dict, gpus: list[dict]) -> None:
    template_nvml = plain["nvml"]["gpus"][0]
    template_torch = (plain["torch"].get("devices") or [None])[0]
    nvml, devices = [], []
    for gpu in gpus:
        for _ in range(gpu["count"]):
            index = len(nvml)
            memory = {f"memory_{k}": int(gpu[f"{k}_gib"] * (1 << 30)) for k in ("total", "used") if f"{k}_gib" in gpu}
            nvml_only = {k: v for k, v in gpu.items() if k not in LAYOUT_KEYS}  # mig_enabled, processes …, as NVML says
            nvml.append({**template_nvml, "index": index, "name": gpu["name"], "compute_capability": gpu["capability"],
                         "pci_device_id": None, "pci_bus_id": f"00000000:{index + 1:02x}:00.0", **memory, **nvml_only})
            if template_torch is not None:
                devices.append({**template_torch, "index": index, "name": gpu["name"], "capability": gpu["capability"]})
    plain["nvml"]["gpus"] = nvml
    if template_torch is not None:
        plain["torch"]["devices"] = devices
        plain["torch"]["device_count"] = len(devices)


def load(path: Path) -> tuple[dict, Snapshot, Snapshot]:
    case = tomllib.loads(path.read_text(encoding="utf-8"))
    base = json.loads((SNAPSHOTS / case["base"]).read_text(encoding="utf-8"))
    return case, recorded(base, case["facts"]), recorded(base, {**case["facts"], **case["twin"]})


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_a_real_report_is_named_and_its_healthy_twin_is_silent(path):
    case, sick, healthy = load(path)
    found = {d.code: d for d in run_checks(sick)}
    assert case["expect"] in found, f"{case['url']}: {sorted(found)}"
    # `twin_may_note`: the rule also notes a state that stays true after the fix (MIG mode is still on); the twin may
    # keep that note, never the warning or error.
    quiet = Severity.INFO if case.get("twin_may_note") else None
    assert all(d.severity is quiet for d in run_checks(healthy) if d.code == case["expect"]), case["url"]


def test_the_reports_are_many_varied_and_cited():
    cases = [tomllib.loads(p.read_text(encoding="utf-8")) for p in CASES]
    assert len(cases) >= 30
    assert len({c["cause"] for c in cases}) >= 8
    readme = (REPORTS / "README.md").read_text(encoding="utf-8")
    for case in cases:
        assert case["url"].startswith("https://github.com/") and case["url"] in readme
        assert case["established"].strip() and case["error"].strip()


@pytest.mark.parametrize("name", ["h100-pypi.json", "h200-pypi.json", "wsl2-rtx5060ti-nightly.json",
                                  "h100-live-2026-12-06.json", "h100-live-2026-12-06-second.json"])
def test_the_recorded_machines_stay_silent_on_the_new_causes(name):
    snapshot = Snapshot.from_json((SNAPSHOTS / name).read_text(encoding="utf-8"))
    codes = {d.code for d in run_checks(snapshot) if d.severity >= Severity.WARNING}
    assert not codes & {"TD121", "TD122", "TD231", "TD240", "TD523", "TD524", "TD525", "TD527", "TD528", "TD529"}


def test_the_lent_h100_shows_its_substrate_facts_and_they_read_healthy():
    """Recorded live on the lent H100 (2026-12-06): /dev/shm 128 GiB and writable, the image's forward-compatibility
    libcuda (harmless on a data-center GPU: TD524 needs error 804), torch's own triton pin met, one torch install."""
    machine = Snapshot.from_json((SNAPSHOTS / "h100-live-2026-12-06.json").read_text(encoding="utf-8"))
    assert machine.system.shm is not None and machine.system.shm.size_bytes == 128 << 30 and machine.system.shm.writable
    assert any("/compat/libcuda.so" in path for path in machine.system.cuda_compat_libraries or ())
    assert 'triton==3.6.0; platform_system == "Linux"' in (machine.torch.torch_requires or ())
    assert machine.torch.packages.get("triton") == "3.6.0" and len(machine.torch.torch_installs or ()) == 1


def test_the_lent_h100_names_another_process_that_stopped_holding_most_of_it():
    """Recorded live on the lent H100 (2026-12-06, scripts/device-held-memory.sh): a process of this user allocated 60%
    of the GPU and stopped itself (SIGSTOP, as Ctrl+Z does); `check` named it, stopped, with how to end it. Before and
    after it (the recording of the same machine as it was, and released), the probe's own torch process is not
    counted: NVML's list and the /proc scan are empty and nothing is said."""
    held = Snapshot.from_json((SNAPSHOTS / "h100-live-held-by-stopped-process.json").read_text(encoding="utf-8"))
    gpu = held.nvml.gpus[0]
    assert [(p.pid, p.state) for p in gpu.processes] == [(1251, "T")] and gpu.minor_number == 0
    assert [(h.pid, h.state, h.devices) for h in held.system.gpu_holders] == [(1251, "T", (0,))]
    found = [d for d in run_checks(held) if d.code == "TD527"]
    assert len(found) == 1 and found[0].severity is Severity.WARNING
    assert "process 1251" in found[0].message and "is stopped" in found[0].message
    assert found[0].fix.commands[0].startswith("kill 1251; kill -CONT 1251")
    released = Snapshot.from_json((SNAPSHOTS / "h100-live-2026-12-06-second.json").read_text(encoding="utf-8"))
    assert released.nvml.gpus[0].processes == () and released.system.gpu_holders == ()
    assert released.nvml.gpus[0].mig_enabled is False and released.nvml.gpus[0].mig_devices is None
    assert "TD527" not in {d.code for d in run_checks(released)}
