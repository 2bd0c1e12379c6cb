"""The NVML probe in its child process: this machine's real answer, and driver failures mapped to facts.

The NVIDIA driver is the one part these tests cannot have for real, so the failure cases put a small
stand-in `pynvml` module first on the child's path that raises the driver's own error codes.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from torchdoctor.probes.nvml import probe_nvml


def test_this_machine_answers_with_a_known_status():
    info = probe_nvml()
    assert info.status in {"ok", "library-not-found", "driver-not-loaded"}
    if info.status == "ok":
        assert info.driver_version
    else:
        assert info.gpus == () and info.error


def fake_pynvml(tmp_path, body: str):
    folder = tmp_path / "fake"
    folder.mkdir()
    (folder / "pynvml.py").write_text(
        textwrap.dedent(
            """
            class NVMLError(Exception):
                def __init__(self, value):
                    self.value = value
                def __str__(self):
                    return {18: "RM has detected an NVML/RM version mismatch.", 9: "Driver Not Loaded", 15: "GPU is lost"}.get(self.value, "Unknown Error")
            """
        )
        + textwrap.dedent(body),
        encoding="utf-8",
    )
    return folder


@pytest.mark.parametrize(
    ("code", "status"),
    [(18, "rm-version-mismatch"), (9, "driver-not-loaded"), (12, "library-not-found"), (999, "error")],
)
def test_init_errors_become_statuses(tmp_path, monkeypatch, code, status):
    folder = fake_pynvml(tmp_path, f"def nvmlInit():\n    raise NVMLError({code})\n")
    monkeypatch.setenv("PYTHONPATH", str(folder))
    info = probe_nvml()
    assert (info.status, info.error_code) == (status, code)


def test_a_hanging_driver_call_is_cut_off(tmp_path, monkeypatch):
    folder = fake_pynvml(tmp_path, "import time\ndef nvmlInit():\n    time.sleep(600)\n")
    monkeypatch.setenv("PYTHONPATH", str(folder))
    info = probe_nvml(timeout_s=2)
    assert info.status == "timed-out"
    assert info.duration_s < 8


def test_a_lost_gpu_is_reported(tmp_path, monkeypatch):
    body = """
        def nvmlInit(): pass
        def nvmlShutdown(): pass
        def nvmlSystemGetDriverVersion(): return "550.144.03"
        def nvmlDeviceGetCount(): return 1
        def nvmlDeviceGetHandleByIndex(index): raise NVMLError(15)
    """
    monkeypatch.setenv("PYTHONPATH", str(fake_pynvml(tmp_path, body)))
    info = probe_nvml()
    assert info.status == "gpu-lost"
    assert info.driver_version == "550.144.03"
    assert info.gpus[0].unavailable == {"handle": "GPU is lost"}


def test_processes_nvml_lists_carry_their_state_and_torchdoctors_own_are_left_out(tmp_path, monkeypatch):
    """A job stopped with Ctrl+Z keeps its GPU memory: the probe reads its state from /proc, but only where /proc shows
    that pid holding an NVIDIA device (inside a container NVML may name the host's pids, whose numbers can be another
    process here): this machine has no GPU, so none is confirmed and every state is unknown. A pid not visible here has
    no state either; a process torchdoctor started (its torch probe) is not somebody else's and is left out."""
    import os
    import signal
    import subprocess

    # A process that is not torchdoctor's (here: pytest's) descendant: started by a shell that exits at once.
    orphan = int(subprocess.run(["sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!"], capture_output=True, text=True,
                                check=True).stdout)
    sibling = subprocess.Popen(["sleep", "60"])
    try:
        os.kill(orphan, signal.SIGSTOP)
        body = f"""
            class P:
                def __init__(self, pid, memory): self.pid, self.usedGpuMemory = pid, memory
            def nvmlInit(): pass
            def nvmlShutdown(): pass
            def nvmlSystemGetDriverVersion(): return "580.95.05"
            def nvmlDeviceGetCount(): return 1
            def nvmlDeviceGetHandleByIndex(index): return index
            def nvmlDeviceGetMinorNumber(handle): return 3
            def nvmlDeviceGetComputeRunningProcesses(handle):
                return [P({orphan}, 12 << 30), P({sibling.pid}, 1 << 29), P(4194303, 2 << 30)]
        """
        monkeypatch.setenv("PYTHONPATH", str(fake_pynvml(tmp_path, body)))
        gpu = probe_nvml().gpus[0]
        # Where /proc does show the device open (a stand-in for the GPU this machine lacks), the state is kept.
        script = _load_script()
        monkeypatch.setattr(script, "holds_a_gpu", lambda pid: pid == orphan)
        fake = type("pynvml", (), {"nvmlDeviceGetComputeRunningProcesses": staticmethod(
            lambda handle: [type("P", (), {"pid": orphan, "usedGpuMemory": 12 << 30})()])})
        confirmed = script.running_processes(fake, 0, lambda function, *args: function(*args) if function else None)
    finally:
        os.kill(orphan, signal.SIGKILL)
        sibling.kill()
        sibling.wait()
    assert gpu.minor_number == 3
    assert [(p.pid, p.state, p.used_memory) for p in gpu.processes] == [(orphan, None, 12 << 30), (4194303, None, 2 << 30)]
    assert confirmed == [{"pid": orphan, "used_memory": 12 << 30, "state": "T"}]


def _load_script():
    import importlib.util

    from torchdoctor.probes import nvml as nvml_module

    spec = importlib.util.spec_from_file_location("nvml_script", Path(nvml_module.__file__).with_name("nvml_script.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_driver_that_cannot_list_processes_leaves_them_unknown(tmp_path, monkeypatch):
    body = """
        def nvmlInit(): pass
        def nvmlShutdown(): pass
        def nvmlDeviceGetCount(): return 1
        def nvmlDeviceGetHandleByIndex(index): return index
        def nvmlDeviceGetComputeRunningProcesses(handle): raise NVMLError(3)
    """
    monkeypatch.setenv("PYTHONPATH", str(fake_pynvml(tmp_path, body)))
    assert probe_nvml().gpus[0].processes is None


def test_mig_devices_are_counted_and_an_empty_mig_gpu_says_so(tmp_path, monkeypatch):
    """MIG mode with no MIG device created leaves CUDA no device on that GPU: the probe tells none from unknown."""
    body = """
        class Memory:
            total, used = 40 << 30, 0
        def nvmlInit(): pass
        def nvmlShutdown(): pass
        def nvmlDeviceGetCount(): return 2
        def nvmlDeviceGetHandleByIndex(index): return index
        def nvmlDeviceGetMigMode(handle): return (1, 1)
        def nvmlDeviceGetMaxMigDeviceCount(handle): return 7
        def nvmlDeviceGetMigDeviceHandleByIndex(handle, slot):
            if handle == 1 or slot > 1:
                raise NVMLError(6)
            return (handle, slot)
        def nvmlDeviceGetUUID(device): return f"MIG-{device[1]}"
        def nvmlDeviceGetMemoryInfo(device): return Memory()
    """
    monkeypatch.setenv("PYTHONPATH", str(fake_pynvml(tmp_path, body)))
    split, empty = probe_nvml().gpus
    assert [(d.uuid, d.memory_total) for d in split.mig_devices] == [("MIG-0", 40 << 30), ("MIG-1", 40 << 30)]
    assert empty.mig_enabled and empty.mig_devices == ()
    refused = body.replace("raise NVMLError(6)", "raise NVMLError(4)")  # no permission: unknown, never "none"
    (tmp_path / "fake" / "pynvml.py").unlink()
    (tmp_path / "fake").rmdir()
    monkeypatch.setenv("PYTHONPATH", str(fake_pynvml(tmp_path, refused)))
    assert all(g.mig_devices is None for g in probe_nvml().gpus)


def test_peer_access_between_gpus_is_read_for_each_pair(tmp_path, monkeypatch):
    """What `nvidia-smi topo -p2p r` shows: the driver's peer-read answer per pair, and whether NVLink carries it."""
    body = """
        def nvmlInit(): pass
        def nvmlShutdown(): pass
        def nvmlDeviceGetCount(): return 3
        def nvmlDeviceGetHandleByIndex(index): return index
        def nvmlDeviceGetP2PStatus(first, second, index):
            if index == 2:
                return 0 if (first, second) == (0, 1) else 5
            return 3 if second == 2 else 0
    """
    monkeypatch.setenv("PYTHONPATH", str(fake_pynvml(tmp_path, body)))
    links = probe_nvml().peer_links
    assert [(l.gpus, l.read, l.nvlink) for l in links] == [
        ((0, 1), "ok", "ok"), ((0, 2), "topology-not-supported", "not-supported"),
        ((1, 2), "topology-not-supported", "not-supported")]


def test_a_process_name_another_user_chose_reaches_the_snapshot_escaped(tmp_path, monkeypatch):
    """NVML names every user's processes; a name written with terminal escapes must not drive the reader's terminal."""
    body = """
        class P:
            pid, usedGpuMemory = 4194303, 1 << 30
        def nvmlInit(): pass
        def nvmlShutdown(): pass
        def nvmlDeviceGetCount(): return 1
        def nvmlDeviceGetHandleByIndex(index): return index
        def nvmlDeviceGetComputeRunningProcesses(handle): return [P()]
        def nvmlSystemGetProcessName(pid): return "evil\\x1b[2Jname"
    """
    monkeypatch.setenv("PYTHONPATH", str(fake_pynvml(tmp_path, body)))
    name = probe_nvml().gpus[0].processes[0].name
    assert "\x1b" not in name and name.startswith("evil")
