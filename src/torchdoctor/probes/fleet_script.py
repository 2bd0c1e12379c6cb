# Runs in every rank of a torchrun job, in the project's interpreter: standard library and torch only, one file,
# so that it can be copied to every node of a cluster. torchdoctor never imports it.
#
#     torchrun [--nnodes N --rdzv-backend c10d --rdzv-endpoint HOST:PORT] --nproc-per-node N \
#         fleet_script.py --out fleet.json [--timeout 120] [--gemm-seconds 2] [--max-bytes 1073741824]
#
# Each rank records its facts (host, build, GPU, NVML clocks and power cap, NCCL_*/CUDA_* variables, NUMA and
# PCIe placement) in torchrun's own key-value store, not through a collective: a rank that hangs or died is then
# missing from the store when the time is up, and rank 0 says so instead of hanging with it. Only when every rank
# has reported do the ranks run the GEMM test (all GPUs at once) and then the collectives (all-reduce and
# all-gather, 1 MB to 1 GB, timed as nccl-tests times them). Rank 0 writes --out after each phase, so a job stopped
# midway leaves what it had, and prints one marked line when it is done.
import argparse
import ctypes
import json
import os
import socket
import statistics
import sys
import threading
import time
from datetime import timedelta

MARKER = "@@torchdoctor@@ "
ENVIRONMENT_PREFIXES = ("NCCL_", "CUDA_", "TORCH_NCCL_", "TORCH_DISTRIBUTED_", "GLOO_", "NVIDIA_", "UCX_", "FI_")
ENVIRONMENT_NAMES = ("OMP_NUM_THREADS", "LD_LIBRARY_PATH", "LD_PRELOAD")
SIZES = [1 << 20, 4 << 20, 16 << 20, 64 << 20, 256 << 20, 1 << 30]
CLOCK_EVENT_BITS = [(0x2, "applications_clocks_setting"), (0x4, "sw_power_cap"), (0x8, "hw_slowdown"),
                    (0x20, "sw_thermal_slowdown"), (0x40, "hw_thermal_slowdown"), (0x80, "hw_power_brake_slowdown")]
POLL_S = 0.2


def emit(values):
    sys.stdout.write(MARKER + json.dumps(values) + "\n")
    sys.stdout.flush()


class Nvml:
    """The few NVML calls a rank needs, through ctypes (the project's environment need not have nvidia-ml-py)."""

    def __init__(self):
        self.error = None
        self.library = None
        for name in ("nvml.dll",) if sys.platform == "win32" else ("libnvidia-ml.so.1", "libnvidia-ml.so"):
            try:
                self.library = ctypes.CDLL(name)
                self.error = None
                break
            except OSError as error:
                self.error = self.error or f"NVML: {error}"
        if self.library is not None:
            init = getattr(self.library, "nvmlInit_v2", None) or getattr(self.library, "nvmlInit", None)
            code = init() if init is not None else -1
            if code != 0:
                self.error, self.library = f"nvmlInit returned {code}", None

    def call(self, name, *args):
        function = getattr(self.library, name, None) if self.library is not None else None
        if function is None:
            return False
        return function(*args) == 0

    def text(self, name, *args, size=96):
        buffer = ctypes.create_string_buffer(size)
        return buffer.value.decode("utf-8", "replace") if self.call(name, *args, buffer, ctypes.c_uint(size)) else None

    def uint(self, name, *args):
        value = ctypes.c_uint()
        return value.value if self.call(name, *args, ctypes.byref(value)) else None

    def handle(self, uuid):
        handle = ctypes.c_void_p()
        if uuid and self.call("nvmlDeviceGetHandleByUUID", f"GPU-{uuid}".encode(), ctypes.byref(handle)):
            return handle
        return None

    def reasons(self, handle):
        value = ctypes.c_ulonglong()
        for name in ("nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons"):
            if self.call(name, handle, ctypes.byref(value)):
                return [label for bit, label in CLOCK_EVENT_BITS if value.value & bit]
        return None

    def process_ids(self, handle):
        """The processes computing on this GPU (anything else there competes with the rank for it)."""
        for name, stride in (("nvmlDeviceGetComputeRunningProcesses_v3", 24), ("nvmlDeviceGetComputeRunningProcesses_v2", 24),
                             ("nvmlDeviceGetComputeRunningProcesses", 16)):
            count = ctypes.c_uint(64)
            buffer = ctypes.create_string_buffer(64 * stride)
            if self.call(name, handle, ctypes.byref(count), buffer):
                return [int.from_bytes(buffer.raw[i * stride:i * stride + 4], sys.byteorder) for i in range(count.value)]
        return None

    def gpu(self, uuid):
        handle = self.handle(uuid)
        if handle is None:
            return {"error": self.error or "this GPU has no NVML handle"}
        facts = {"name": self.text("nvmlDeviceGetName", handle)}
        pci = ctypes.create_string_buffer(68)  # nvmlPciInfo_t: busIdLegacy[16], 5 uints, busId[32]
        if self.call("nvmlDeviceGetPciInfo_v3", handle, pci) or self.call("nvmlDeviceGetPciInfo_v2", handle, pci):
            facts["pci_bus_id"] = pci.raw[36:68].split(b"\0")[0].decode("ascii", "replace")
        for key, name, extra in (("sm_clock_mhz", "nvmlDeviceGetClockInfo", (1,)), ("sm_clock_max_mhz", "nvmlDeviceGetMaxClockInfo", (1,)),
                                 ("power_limit_mw", "nvmlDeviceGetEnforcedPowerLimit", ()),
                                 ("power_default_limit_mw", "nvmlDeviceGetPowerManagementDefaultLimit", ()),
                                 ("temperature_c", "nvmlDeviceGetTemperature", (0,)),
                                 ("pcie_gen", "nvmlDeviceGetCurrPcieLinkGeneration", ()), ("pcie_width", "nvmlDeviceGetCurrPcieLinkWidth", ()),
                                 ("pcie_gen_max", "nvmlDeviceGetMaxPcieLinkGeneration", ()), ("pcie_width_max", "nvmlDeviceGetMaxPcieLinkWidth", ())):
            facts[key] = self.uint(name, handle, *extra)
        links, versions = 0, set()
        for link in range(18):  # NVML_NVLINK_MAX_LINKS
            active = self.uint("nvmlDeviceGetNvLinkState", handle, ctypes.c_uint(link))
            if active:
                links += 1
                version = self.uint("nvmlDeviceGetNvLinkVersion", handle, ctypes.c_uint(link))
                if version:
                    versions.add(version)
        facts["nvlink_active"] = links
        facts["nvlink_version"] = max(versions) if versions else None
        facts["clock_event_reasons"] = self.reasons(handle)
        facts["processes"] = self.process_ids(handle)
        return facts


def numa_node(bus_id):
    if not bus_id:
        return None
    domain, _, rest = bus_id.lower().partition(":")
    try:
        with open(f"/sys/bus/pci/devices/{domain[-4:]}:{rest}/numa_node") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def cpu_ranges(cpus):
    ranges, start, last = [], None, None
    for cpu in sorted(cpus):
        if start is None:
            start = last = cpu
        elif cpu == last + 1:
            last = cpu
        else:
            ranges.append(f"{start}-{last}" if last > start else str(start))
            start = last = cpu
    if start is not None:
        ranges.append(f"{start}-{last}" if last > start else str(start))
    return ",".join(ranges)


def rank_facts(torch, nvml, rank, local_rank, device):
    facts = {
        "rank": rank, "local_rank": local_rank, "node_rank": int(os.environ.get("GROUP_RANK", "0") or 0),
        "host": socket.gethostname(), "pid": os.getpid(),
        "python": ".".join(str(part) for part in sys.version_info[:3]), "executable": sys.executable,
        "torch": torch.__version__, "cuda": torch.version.cuda, "git_version": getattr(torch.version, "git_version", None),
        "environment": {k: v for k, v in sorted(os.environ.items()) if k.startswith(ENVIRONMENT_PREFIXES) or k in ENVIRONMENT_NAMES},
        "device": str(device), "nvml_error": nvml.error,
    }
    try:
        facts["cpu_affinity"] = cpu_ranges(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        facts["cpu_affinity"] = None
    try:
        facts["nccl"] = ".".join(str(part) for part in torch.cuda.nccl.version()) if device.type == "cuda" else None
    except Exception:
        facts["nccl"] = None
    try:
        facts["cudnn"] = torch.backends.cudnn.version() if device.type == "cuda" else None
    except Exception:
        facts["cudnn"] = None
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        facts["gpu"] = {"name": props.name, "capability": [props.major, props.minor], "memory": props.total_memory,
                        "multiprocessors": props.multi_processor_count, "uuid": str(getattr(props, "uuid", "") or "") or None}
        facts["driver"] = nvml.text("nvmlSystemGetDriverVersion") if nvml.library is not None else None
        facts["nvml"] = nvml.gpu(facts["gpu"]["uuid"])
        facts["numa_node"] = numa_node(facts["nvml"].get("pci_bus_id"))
        if local_rank == 0:  # the node's peer-to-peer matrix, once per node
            count = torch.cuda.device_count()
            facts["p2p"] = [[i == j or bool(torch.cuda.can_device_access_peer(i, j)) for j in range(count)] for i in range(count)]
    return facts


def gemm(torch, device, seconds, nvml, uuid):
    """A square matmul for `seconds` (bf16 on a GPU, fp32 on a CPU), timed in batches; NVML sampled meanwhile."""
    cuda = device.type == "cuda"
    n, dtype = (8192, torch.bfloat16) if cuda else (512, torch.float32)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    samples, stop = [], threading.Event()
    handle = nvml.handle(uuid) if cuda else None

    def sample():
        while not stop.wait(0.05):
            clock = nvml.uint("nvmlDeviceGetClockInfo", handle, 1)
            samples.append((clock, tuple(nvml.reasons(handle) or ())))

    sampler = threading.Thread(target=sample, daemon=True) if handle is not None else None
    for _ in range(3):
        torch.matmul(a, b)
    if cuda:
        torch.cuda.synchronize(device)
    if sampler is not None:
        sampler.start()
    rates, batch, end = [], 10 if cuda else 2, time.monotonic() + seconds
    while time.monotonic() < end or len(rates) < 3:
        start = time.perf_counter()
        for _ in range(batch):
            torch.matmul(a, b)
        if cuda:
            torch.cuda.synchronize(device)
        rates.append(2 * n**3 * batch / (time.perf_counter() - start) / 1e12)
    stop.set()
    if sampler is not None:
        sampler.join()
    result = {"dtype": "bf16" if dtype == torch.bfloat16 else "fp32", "n": n, "tflops": statistics.median(rates), "batches": len(rates)}
    clocks = [clock for clock, _ in samples if clock]
    if clocks:
        result["sm_clock_median_mhz"] = statistics.median(clocks)
        reasons = {}
        for _, held in samples:
            for reason in held:
                reasons[reason] = reasons.get(reason, 0) + 1
        result["clock_event_reasons"] = {reason: count / len(samples) for reason, count in reasons.items()}
    if handle is not None:
        result["processes"] = nvml.process_ids(handle)
    return result


def collectives(torch, dist, device, world, max_bytes, budget_s):
    """All-reduce and all-gather over sizes from 1 MB: (op, bytes, seconds per call) as nccl-tests times them —
    a few calls to warm up, then the mean of timed calls between two synchronisations."""
    results = []
    gather_into = getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor  # the name since torch 2.12

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for op in ("all_reduce", "all_gather"):
        for size in [s for s in SIZES if s <= max_bytes]:
            count = size // 4
            if op == "all_reduce":
                buffers = (torch.ones(count, device=device, dtype=torch.float32),)
            else:
                count -= count % world
                buffers = (torch.empty(count, device=device, dtype=torch.float32),
                           torch.ones(count // world, device=device, dtype=torch.float32))

            def call(op=op, buffers=buffers):
                if op == "all_reduce":
                    dist.all_reduce(buffers[0])
                else:
                    gather_into(*buffers)
            for _ in range(2):
                call()
            sync()
            start = time.perf_counter()
            call()
            sync()
            one = torch.tensor([max(time.perf_counter() - start, 1e-6)], device=device)
            dist.all_reduce(one, op=dist.ReduceOp.MAX)  # every rank must make the same number of calls
            iterations = max(3, min(50, int(budget_s / len(SIZES) / 2 / one.item())))
            dist.barrier()
            start = time.perf_counter()
            for _ in range(iterations):
                call()
            sync()
            seconds = (time.perf_counter() - start) / iterations
            results.append({"op": op, "size": size, "bytes": count * 4, "seconds": seconds, "iterations": iterations})
    return results


def wait_for(store, keys, deadline):
    """The keys that are present by the deadline (polled, so a rank that never writes costs no more than the wait)."""
    present = set()
    while True:
        present.update(key for key in keys if key not in present and store.check([key]))
        if len(present) == len(keys) or time.monotonic() >= deadline:
            return present
        time.sleep(POLL_S)


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--gemm-seconds", type=float, default=2.0)
    parser.add_argument("--max-bytes", type=int, default=None)
    parser.add_argument("--collective-seconds", type=float, default=20.0)
    options = parser.parse_args(argv)
    started = time.monotonic()
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    import torch
    import torch.distributed as dist

    cuda = torch.cuda.is_available() and torch.cuda.device_count() > 0
    device = torch.device("cuda", local_rank % torch.cuda.device_count()) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    else:
        torch.set_num_threads(1)  # the ranks share the machine's cores: one each, as one GPU each
    agent_store = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
    store = dist.PrefixStore("torchdoctor-fleet/", dist.TCPStore(
        os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), world, is_master=rank == 0 and not agent_store,
        timeout=timedelta(seconds=options.timeout)))
    nvml = Nvml()
    ranks = [str(r) for r in range(world)]

    facts = rank_facts(torch, nvml, rank, local_rank, device)
    facts["startup_s"] = time.monotonic() - started
    store.set(f"facts/{rank}", json.dumps(facts))
    report = {"kind": "torchdoctor-fleet", "version": 1, "world_size": world, "backend": "nccl" if cuda else "gloo",
              "timeout_s": options.timeout, "ranks": {}, "missing": {}, "gemm": {}, "collectives": [], "errors": [],
              "phases": []}

    def write(done=False):
        report["done"] = done
        temporary = options.out + ".part"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(report, handle)
        os.replace(temporary, options.out)

    def gather(phase, deadline):
        keys = [f"{phase}/{r}" for r in ranks]
        present = wait_for(store, keys, deadline)
        values = {key.split("/")[1]: json.loads(store.get(key)) for key in keys if key in present}
        missing = [r for r in ranks if f"{phase}/{r}" not in present]
        report["phases"].append({"phase": phase, "seconds": time.monotonic() - started, "missing": missing})
        return values, missing

    # Phase 1: every rank's facts. A rank missing here is hung or dead (or never started): nothing else is run.
    if rank == 0:
        report["ranks"], missing = gather("facts", time.monotonic() + options.timeout)
        for r in missing:
            report["missing"][r] = "facts"
        store.set("go", "stop" if missing else "gemm")
        if missing:
            write(done=True)
            emit({"kind": "fleet-done", "out": options.out})
            return 0
        write()
    elif wait_for(store, ["go"], time.monotonic() + 2 * options.timeout) == set() or store.get("go") != b"gemm":
        return 0
    # Phase 2: the GEMM test on every rank at once.
    try:
        result = gemm(torch, device, options.gemm_seconds, nvml, facts.get("gpu", {}).get("uuid"))
    except Exception as error:
        result = {"error": f"{type(error).__name__}: {error}"}
    store.set(f"gemm/{rank}", json.dumps(result))
    if rank == 0:
        report["gemm"], missing = gather("gemm", time.monotonic() + options.gemm_seconds + options.timeout)
        for r in missing:
            report["missing"][r] = "gemm"
        write()
        store.set("go2", "stop" if missing or world == 1 else "collectives")
    if world == 1 or wait_for(store, ["go2"], time.monotonic() + options.gemm_seconds + 2 * options.timeout) == set() \
            or store.get("go2") != b"collectives":
        if rank == 0:
            write(done=True)
            emit({"kind": "fleet-done", "out": options.out})
        return 0
    # Phase 3: the collectives, in a process group made only now that every rank is known to be alive.
    max_bytes = options.max_bytes if options.max_bytes is not None else (1 << 30) if cuda else (16 << 20)
    try:
        group_store = dist.PrefixStore("group/", store)
        try:
            dist.init_process_group("nccl" if cuda else "gloo", store=group_store, rank=rank, world_size=world,
                                    timeout=timedelta(seconds=options.timeout), **({"device_id": device} if cuda else {}))
        except TypeError:  # a torch before device_id (2.3)
            dist.init_process_group("nccl" if cuda else "gloo", store=group_store, rank=rank, world_size=world,
                                    timeout=timedelta(seconds=options.timeout))
        timings = {"results": collectives(torch, dist, device, world, max_bytes, options.collective_seconds)}
    except Exception as error:
        timings = {"error": f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"}
    store.set(f"collectives/{rank}", json.dumps(timings))
    if rank == 0:
        values, missing = gather("collectives", time.monotonic() + options.timeout)
        for r in missing:
            report["missing"][r] = "collectives"
        report["errors"] = [{"rank": r, "phase": "collectives", "error": v["error"]} for r, v in sorted(values.items()) if "error" in v]
        measured = [v["results"] for v in values.values() if "results" in v]
        if measured and len(measured) == world:
            for index, first in enumerate(measured[0]):
                slowest = max(m[index]["seconds"] for m in measured)  # a collective ends when its slowest rank does
                report["collectives"].append(dict(first, seconds=slowest))
        write(done=True)
        emit({"kind": "fleet-done", "out": options.out})
    try:
        dist.destroy_process_group()
    except Exception:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
