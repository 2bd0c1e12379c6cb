# Runs in a child of torchdoctor's own interpreter, so that a driver call that hangs (a wedged GPU,
# a driver mid-upgrade) or crashes the process cannot take torchdoctor with it. Prints one JSON line.
import json
import os
import sys

MARKER = "@@torchdoctor@@ "

# nvml.h return codes, as torchdoctor's status names (the codes are stable across driver releases).
STATUS_BY_CODE = {
    4: "no-permission",
    9: "driver-not-loaded",
    12: "library-not-found",
    15: "gpu-lost",
    18: "rm-version-mismatch",
}
REASON_TEXT = {
    3: "not supported",
    4: "no permission",
    13: "function not found in this driver",
    15: "GPU is lost",
}

# nvmlClocksEventReasons bits (nvml.h); "GpuIdle" is reported but is not a slowdown.
CLOCK_EVENT_BITS = [
    (0x1, "gpu_idle"),
    (0x2, "applications_clocks_setting"),
    (0x4, "sw_power_cap"),
    (0x8, "hw_slowdown"),
    (0x10, "sync_boost"),
    (0x20, "sw_thermal_slowdown"),
    (0x40, "hw_thermal_slowdown"),
    (0x80, "hw_power_brake_slowdown"),
    (0x100, "display_clock_setting"),
]


def text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def emit(values):
    sys.stdout.write(MARKER + json.dumps(values) + "\n")
    sys.stdout.flush()


def loaded_library():
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                if "libnvidia-ml" in line:
                    return line.split(None, 5)[-1].strip()
    except OSError:
        pass
    return None


def safely(reader, *args):
    """What one of the readers below returns, or None (unknown) if it fails in a way nobody foresaw: a fact missed
    must not cost the driver's other facts."""
    try:
        return reader(*args)
    except Exception:
        return None


def process_stat(pid):
    """(state letter, parent pid) from /proc/PID/stat, or None where that pid is not visible here (another PID
    namespace: inside a container NVML may name the host's pids)."""
    try:
        with open(f"/proc/{int(pid)}/stat") as stat:
            line = stat.read()
    except (OSError, ValueError):
        return None
    fields = line[line.rfind(")") + 2:].split()
    try:
        return fields[0], int(fields[1])
    except (IndexError, ValueError):
        return None


def started_by_torchdoctor(pid):
    """Whether `pid` is torchdoctor (this probe's parent) or one of its other children and their children: the torch
    probe may hold a CUDA context while NVML is asked, and is not somebody else's work. torchdoctor may itself be
    pid 1 (a container's entry point)."""
    ours = os.getppid()
    for _ in range(4):
        if pid == ours:
            return True
        facts = process_stat(pid)
        if facts is None:
            return False
        if facts[1] == ours:
            return True
        if facts[1] <= 1:
            return False
        pid = facts[1]
    return False


def holds_a_gpu(pid):
    """Whether /proc/PID/fd shows an NVIDIA device open: readable for this user's own processes only. It tells that the
    pid NVML names is this process here (inside a container NVML may name the host's pids, whose numbers can belong to
    another process of this namespace), so its state can be trusted."""
    folder = f"/proc/{int(pid)}/fd"
    try:
        names = os.listdir(folder)[:65536]
    except OSError:
        return False
    for name in names:
        try:
            if os.readlink(f"{folder}/{name}").startswith("/dev/nvidia"):
                return True
        except OSError:
            continue
    return False


def running_processes(pynvml, handle, value):
    """The compute and graphics processes NVML lists on one GPU, with their state from /proc where the process is
    this user's and has the GPU open (else unknown); None when NVML could not list the compute processes (in MIG mode
    a user without privileges is refused), since a partial list would read as "no compute process"."""
    found = []
    for name in ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetGraphicsRunningProcesses"):
        listed = value(getattr(pynvml, name, None), handle)
        if listed is None:
            if name == "nvmlDeviceGetComputeRunningProcesses":
                return None
            continue
        for process in listed:
            pid = int(process.pid)
            if any(pid == other["pid"] for other in found) or started_by_torchdoctor(pid):
                continue
            memory = getattr(process, "usedGpuMemory", None)
            entry = {"pid": pid, "used_memory": int(memory) if isinstance(memory, int) else None}
            process_name = value(getattr(pynvml, "nvmlSystemGetProcessName", None), pid)
            if process_name is not None:
                entry["name"] = text(process_name)[:120]
            facts = process_stat(pid)
            if facts is not None and holds_a_gpu(pid):
                entry["state"] = facts[0]
            found.append(entry)
    return found


def mig_devices(pynvml, handle, slots, value):
    """The MIG devices (compute instances) created on a GPU in MIG mode, with their UUID and memory; [] when none is
    created (CUDA then has no device on this GPU), None when NVML could not say how many there may be."""
    by_index = getattr(pynvml, "nvmlDeviceGetMigDeviceHandleByIndex", None)
    if slots is None or by_index is None:
        return None
    found = []
    for slot in range(min(int(slots), 64)):
        try:
            device = by_index(handle, slot)
        except pynvml.NVMLError as error:
            if getattr(error, "value", None) == 6:  # NVML_ERROR_NOT_FOUND: an empty slot
                continue
            return None  # refused or failed: how many MIG devices there are is unknown, not "none"
        uuid = value(getattr(pynvml, "nvmlDeviceGetUUID", None), device)
        memory = value(getattr(pynvml, "nvmlDeviceGetMemoryInfo", None), device)
        found.append({"uuid": text(uuid) if uuid is not None else None,
                      "memory_total": int(memory.total) if memory is not None else None})
    return found


# nvmlGpuP2PStatus_t and nvmlGpuP2PCapsIndex_t (nvml.h).
P2P_STATUS = ["ok", "chipset-not-supported", "gpu-not-supported", "topology-not-supported", "disabled-by-regkey",
              "not-supported", "unknown"]
P2P_READ, P2P_NVLINK = 0, 2


def peer_links(pynvml, count, value):
    """For each pair of GPUs (the first 16), whether the driver reports that one may read the other's memory directly
    (what `nvidia-smi topo -p2p r` shows) and whether over NVLink; None where it could not say."""
    function = getattr(pynvml, "nvmlDeviceGetP2PStatus", None)
    handles = [value(getattr(pynvml, "nvmlDeviceGetHandleByIndex", None), i) for i in range(min(count, 16))]
    if function is None:
        return None

    def status(first, second, index):
        answer = value(function, first, second, index)
        return P2P_STATUS[answer] if isinstance(answer, int) and 0 <= answer < len(P2P_STATUS) else None

    links = []
    for i, first in enumerate(handles):
        for j in range(i + 1, len(handles)):
            if first is not None and handles[j] is not None:
                links.append({"gpus": [i, j], "read": status(first, handles[j], P2P_READ),
                              "nvlink": status(first, handles[j], P2P_NVLINK)})
    return links


def main():
    try:
        import pynvml
    except ImportError as error:
        emit({"status": "module-missing", "error": f"nvidia-ml-py is not installed beside torchdoctor: {error}"})
        return
    NVMLError = pynvml.NVMLError

    def code_of(error):
        return getattr(error, "value", None)

    try:
        pynvml.nvmlInit()
    except NVMLError as error:
        code = code_of(error)
        emit({"status": STATUS_BY_CODE.get(code, "error"), "error": text(error), "error_code": code})
        return

    result = {"status": "ok", "library_path": loaded_library(), "gpus": []}

    def named(name):
        """The nvidia-ml-py function, or one that raises AttributeError if this version lacks it."""
        function = getattr(pynvml, name, None)
        if function is not None:
            return function

        def missing(*args):
            raise AttributeError(name)

        return missing

    def value(function, *args):
        try:
            return function(*args) if function is not None else None
        except (NVMLError, TypeError):
            return None

    def call(name, *args):
        function = getattr(pynvml, name, None)
        if function is None:
            raise AttributeError(name)
        return function(*args)

    for key, names in (
        ("driver_version", ["nvmlSystemGetDriverVersion"]),
        ("cuda_driver_version", ["nvmlSystemGetCudaDriverVersion_v2", "nvmlSystemGetCudaDriverVersion"]),
        ("nvml_version", ["nvmlSystemGetNVMLVersion"]),
    ):
        for name in names:
            try:
                answer = call(name)
                result[key] = answer if isinstance(answer, int) else text(answer)
                break
            except (NVMLError, AttributeError):
                continue
    try:
        count = pynvml.nvmlDeviceGetCount()
    except NVMLError as error:
        emit({"status": STATUS_BY_CODE.get(code_of(error), "error"), "error": text(error), "error_code": code_of(error)})
        return

    for index in range(count):
        gpu = {"index": index, "unavailable": {}}
        result["gpus"].append(gpu)
        try:
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        except NVMLError as error:
            gpu["unavailable"]["handle"] = text(error)
            if code_of(error) == 15:
                result["status"] = "gpu-lost"
                result["error"] = f"GPU {index}: {text(error)}"
            continue

        def field(key, function, *args, gpu=gpu, handle=handle):
            try:
                return function(handle, *args)
            except NVMLError as error:
                gpu["unavailable"][key] = REASON_TEXT.get(code_of(error), text(error))
            except AttributeError:
                gpu["unavailable"][key] = "not in this nvidia-ml-py"
            return None

        name = field("name", named("nvmlDeviceGetName"))
        gpu["name"] = text(name) if name is not None else None
        pci = field("pci", named("nvmlDeviceGetPciInfo"))
        if pci is not None:
            gpu["pci_device_id"] = int(pci.pciDeviceId)
            gpu["pci_bus_id"] = text(pci.busId)
        capability = field("compute_capability", named("nvmlDeviceGetCudaComputeCapability"))
        if capability is not None:
            gpu["compute_capability"] = [int(capability[0]), int(capability[1])]
        memory = field("memory", named("nvmlDeviceGetMemoryInfo"))
        if memory is not None:
            gpu["memory_total"] = int(memory.total)
            gpu["memory_used"] = int(memory.used)
        gpu["pcie_gen_current"] = field("pcie_gen_current", named("nvmlDeviceGetCurrPcieLinkGeneration"))
        gpu["pcie_gen_max"] = field("pcie_gen_max", named("nvmlDeviceGetMaxPcieLinkGeneration"))
        gpu["pcie_width_current"] = field("pcie_width_current", named("nvmlDeviceGetCurrPcieLinkWidth"))
        gpu["pcie_width_max"] = field("pcie_width_max", named("nvmlDeviceGetMaxPcieLinkWidth"))
        power = field("power_limit", named("nvmlDeviceGetPowerManagementLimit"))
        gpu["power_limit_w"] = power / 1000.0 if power is not None else None
        sm = getattr(pynvml, "NVML_CLOCK_SM", 1)
        gpu["sm_clock_mhz"] = field("sm_clock", named("nvmlDeviceGetClockInfo"), sm)
        gpu["sm_clock_max_mhz"] = field("sm_clock_max", named("nvmlDeviceGetMaxClockInfo"), sm)
        reasons_function = getattr(pynvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or named(
            "nvmlDeviceGetCurrentClocksThrottleReasons")
        reasons = field("clock_event_reasons", reasons_function)
        if reasons is not None:
            gpu["clock_event_reasons"] = [label for bit, label in CLOCK_EVENT_BITS if reasons & bit]
        mig = field("mig_mode", named("nvmlDeviceGetMigMode"))
        gpu["mig_enabled"] = bool(mig[0]) if mig is not None else None
        if gpu["mig_enabled"]:
            slots = field("mig_devices", named("nvmlDeviceGetMaxMigDeviceCount"))
            gpu["mig_devices"] = safely(mig_devices, pynvml, handle, slots, value)
        persistence = field("persistence_mode", named("nvmlDeviceGetPersistenceMode"))
        gpu["persistence_mode"] = bool(persistence) if persistence is not None else None
        gpu["minor_number"] = field("minor_number", named("nvmlDeviceGetMinorNumber"))
        gpu["processes"] = safely(running_processes, pynvml, handle, value)
    if count >= 2:
        result["peer_links"] = safely(peer_links, pynvml, count, value)
    try:
        pynvml.nvmlShutdown()
    except NVMLError:
        pass
    emit(result)


def sample(interval_s, limit_s):
    """Sample what the GPUs do while the GEMM test runs: one "baseline" record first (utilization,
    memory and processes from before the test started), then a "sample" record every interval until
    killed, or until `limit_s` passes or the parent is gone (so it can never outlive torchdoctor)."""
    import os
    import time

    try:
        import pynvml
        pynvml.nvmlInit()
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
    except Exception as error:
        emit({"kind": "unavailable", "error": text(error)})
        return
    NVMLError = pynvml.NVMLError
    reasons_function = getattr(pynvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or getattr(
        pynvml, "nvmlDeviceGetCurrentClocksThrottleReasons", None)
    sm = getattr(pynvml, "NVML_CLOCK_SM", 1)

    def value(function, *args):
        try:
            return function(*args)
        except (NVMLError, AttributeError, TypeError):
            return None

    identities = []
    for index, handle in enumerate(handles):
        pci = value(pynvml.nvmlDeviceGetPciInfo, handle)
        uuid = value(pynvml.nvmlDeviceGetUUID, handle)
        identities.append({
            "index": index,
            "uuid": text(uuid) if uuid is not None else None,
            "pci_bus_id": text(pci.busId) if pci is not None else None,
            "sm_clock_max_mhz": value(pynvml.nvmlDeviceGetMaxClockInfo, handle, sm),
            "pcie_gen_max": value(pynvml.nvmlDeviceGetMaxPcieLinkGeneration, handle),
            "pcie_width_max": value(pynvml.nvmlDeviceGetMaxPcieLinkWidth, handle),
            "power_limit_w": (lambda p: p / 1000.0 if p is not None else None)(
                value(pynvml.nvmlDeviceGetEnforcedPowerLimit, handle)),
        })

    def state(handle):
        reasons = value(reasons_function, handle) if reasons_function else None
        power = value(pynvml.nvmlDeviceGetPowerUsage, handle)
        utilization = value(pynvml.nvmlDeviceGetUtilizationRates, handle)
        return {
            "reasons": [label for bit, label in CLOCK_EVENT_BITS if reasons & bit] if reasons is not None else None,
            "sm_clock_mhz": value(pynvml.nvmlDeviceGetClockInfo, handle, sm),
            "power_w": power / 1000.0 if power is not None else None,
            "temperature_c": value(pynvml.nvmlDeviceGetTemperature, handle, getattr(pynvml, "NVML_TEMPERATURE_GPU", 0)),
            "utilization_pct": utilization.gpu if utilization is not None else None,
            "pcie_gen": value(pynvml.nvmlDeviceGetCurrPcieLinkGeneration, handle),
            "pcie_width": value(pynvml.nvmlDeviceGetCurrPcieLinkWidth, handle),
        }

    def processes(handle):
        found = []
        for name in ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetGraphicsRunningProcesses"):
            for process in value(getattr(pynvml, name, None), handle) or ():
                memory = getattr(process, "usedGpuMemory", None)
                entry = {"pid": int(process.pid), "used_memory": int(memory) if isinstance(memory, int) else None}
                process_name = value(pynvml.nvmlSystemGetProcessName, process.pid)
                if process_name is not None:
                    entry["name"] = text(process_name)
                if all(entry["pid"] != other["pid"] for other in found):
                    found.append(entry)
        return found

    baseline = []
    for identity, handle in zip(identities, handles, strict=True):
        memory = value(pynvml.nvmlDeviceGetMemoryInfo, handle)
        entry = dict(identity, **state(handle))
        entry["memory_used"] = int(memory.used) if memory is not None else None
        entry["processes"] = processes(handle)
        baseline.append(entry)
    emit({"kind": "baseline", "t": time.monotonic(), "gpus": baseline})
    parent = os.getppid()
    stop_at = time.monotonic() + limit_s
    while time.monotonic() < stop_at and os.getppid() == parent:
        time.sleep(interval_s)
        emit({"kind": "sample", "t": time.monotonic(), "gpus": [state(handle) for handle in handles]})


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--sample":
        sample(float(sys.argv[2]) if len(sys.argv) > 2 else 0.02, float(sys.argv[3]) if len(sys.argv) > 3 else 120.0)
    else:
        main()
