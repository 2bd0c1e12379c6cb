# The GEMM throughput test. Runs in the project's own interpreter (standard library + torch only,
# Python 3.8+), because the GPU speed that matters is the one the project's torch gets.
#
# It streams one JSON record per line behind MARKER, so the caller can show progress while it runs and
# keep whatever arrived if it is killed:
#   start     torch imported (import time, torch version, device chosen)
#   ready     CUDA context and cuBLAS created (their time is reported, and is not the GPU's fault)
#   progress  a phase began (dtype, warm-up or measure, elapsed measurement time)
#   gemm      one dtype's result: median rate, 10th/90th percentile, relative error against float64
#   copy      one host<->device copy's bandwidth
#   done      the whole measurement's time
#   failed    an exception, with its message (out of memory, no kernel image, ...)
#
# How it measures, and why:
#   * Inputs are random normal numbers, never zeros or uninitialised memory (zeros make some hardware
#     draw less power and run faster than real data would).
#   * Every product is timed alone with CUDA events (the host clock only bounds the budget), after a
#     write of twice the L2 cache's size has evicted the previous inputs, so no call is flattered by a
#     warm cache; the median of these calls is the rate. This is triton's `do_bench` method, what
#     kernel authors report, and what benchmarks/gemm_accuracy.py compares against for >= 1 s per dtype.
#   * Warm-up runs until two ~10 ms groups of calls agree within 2% (clocks ramp, cuBLAS picks and loads
#     its kernel on the first call). All measured calls are queued at once and waited for once.
#   * A second, "sustained" rate counts the whole measurement window: when another process shares the
#     GPU its time slices fall between our calls, so the median stays high while this rate drops.
#   * The result of the last timed call is checked on a slice against a float64 product of the same
#     (already rounded) inputs, so a GPU or library that computes wrong numbers is caught.
import json
import math
import os
import sys
import time

MARKER = "@@torchdoctor@@ "
DTYPES = ("bf16", "fp16", "tf32", "fp32")
# The order they run in, and how the measurement time is shared. A GPU coming out of idle runs its
# first few hundred milliseconds of load at boost clocks that power management then takes back, and
# under steady load a power-limited GPU's clocks step with its power controller. fp32 (CUDA cores, far
# from the power limit) is the least affected, so it runs first while the GPU settles; the 16-bit
# products run last and get the longest windows to average the steps out (an H100's 0.3 s windows
# read 665-780 TFLOP/s where 1.5 s read 680 +- 2%). Tuned on an H100 with benchmarks/gemm_accuracy.py:
# with fp16 second instead of third it read 8-13% high in half of the runs.
RUN_ORDER = ("fp32", "tf32", "fp16", "bf16")
TIME_WEIGHTS = {"fp32": 0.8, "tf32": 1.2, "fp16": 2.5, "bf16": 2.5}  # fp32 is steady after 30 calls
# Relative Frobenius error of a slice against float64 above which the numbers are wrong. Expected values
# from the formats' rounding: bf16 ~2e-3, fp16 ~3e-4, tf32 ~4e-4 (inputs rounded to 10 bits), fp32 ~1e-6.
ERROR_LIMITS = {"bf16": 1e-2, "fp16": 1e-2, "tf32": 2e-3, "fp32": 1e-4}
INPUT_SETS = 2
TRACE = False  # set by the "trace" option: every measured call's rate goes into the record
GROUP_S = 0.010  # warm-up groups last about this long
WARM_SHARE = 0.3  # of a dtype's time, at most, for warm-up
MAX_CALLS = 3000
CHECK_RESERVE_S = 0.015  # per dtype, for the float64 check
PLAN_SHARE = 0.9  # of the budget is planned for; the rest absorbs allocation and launch overheads
COPY_SHARE = 0.07  # of the budget, for the copy test
COPY_BYTES = 32 * 1024 * 1024
CHECK_ROWS = 64


def emit(kind, **values):
    values["event"] = kind
    sys.stdout.write(MARKER + json.dumps(values) + "\n")
    sys.stdout.flush()


def percentile(sorted_values, fraction):
    if not sorted_values:
        return None
    position = fraction * (len(sorted_values) - 1)
    low = int(math.floor(position))
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def settled_part(rates):
    """The calls after the GPU settled. Power management takes back boost clocks over a few hundred
    milliseconds, so a window often opens 5-15% fast and then steps down (seen in every per-call trace
    of an H100). Leading eighths of the window whose median is more than 3% above the median of the
    second half are warm-up that ran long, and are left out; a window that is flat keeps every call."""
    if len(rates) < 16:
        return rates
    size = len(rates) // 8
    ordered_tail = sorted(rates[len(rates) // 2 :])
    reference = percentile(ordered_tail, 0.5)
    start = 0
    for eighth in range(4):
        part = sorted(rates[eighth * size : (eighth + 1) * size])
        if percentile(part, 0.5) > 1.03 * reference:
            start = (eighth + 1) * size
        else:
            break
    return rates[start:]


def summary(rates):
    ordered = sorted(rates)
    return {
        "median": percentile(ordered, 0.5),
        "p10": percentile(ordered, 0.1),
        "p90": percentile(ordered, 0.9),
    }


class GpuTimer:
    """Times work queued on the current CUDA stream with events; the host never waits in between."""

    def __init__(self, torch):
        self.torch = torch

    def event(self):
        event = self.torch.cuda.Event(enable_timing=True)
        event.record()
        return event

    def sync(self):
        self.torch.cuda.synchronize()

    @staticmethod
    def seconds(start, end):
        return start.elapsed_time(end) / 1000.0


class CpuTimer:
    """On the CPU every call is synchronous, so the host clock is the right clock."""

    def event(self):
        return time.perf_counter()

    def sync(self):
        pass

    @staticmethod
    def seconds(start, end):
        return end - start


def relative_error(torch, result, a, b):
    """Frobenius norm of (result - exact) / exact on the first rows, exact computed in float64."""
    rows = min(CHECK_ROWS, result.shape[0])
    exact = a[:rows].double() @ b.double()
    got = result[:rows].double()
    if not bool(torch.isfinite(got).all()):
        return float("inf")
    return float(torch.linalg.norm(got - exact) / torch.linalg.norm(exact))


def gemm_size(torch, device, dtype_bytes, multiprocessors, wanted=None):
    """The product's size: large enough to fill the GPU and to be timed steadily, small enough for a
    few hundred calls in the budget and for half the free memory (inputs, output and the check).

    4096 fills every current GPU. On big GPUs (100 SMs or more) the 16-bit products use 8192: at 4096
    a call lasts 0.2 ms on an H100, and the first few hundred milliseconds after idle run at boost
    clocks that power management then takes back, so a short test read 700-770 TFLOP/s from run to run;
    at 8192 three short runs read 683-687 against 677-691 from 1.5 s references (H100, 2026-11-23).
    """
    free = torch.cuda.mem_get_info(device)[0]
    n = 8192 if dtype_bytes == 2 and (multiprocessors or 0) >= 100 else 4096
    n = int(wanted or n)
    while n > 512:
        needed = (2 * INPUT_SETS + 1) * n * n * dtype_bytes + n * n * 8 + CHECK_ROWS * n * 16
        if needed <= 0.5 * free:
            break
        n //= 2
    return n


def l2_flush_buffer(torch, device, props):
    """A buffer twice the L2 cache's size: zeroing it evicts whatever the previous call left in L2."""
    l2 = getattr(props, "L2_cache_size", 0) or 64 * 1024 * 1024
    return torch.empty(2 * l2 // 4, dtype=torch.int32, device=device)


def run_gemm(torch, name, n, device, timer, budget_s, flush):
    """Warm up, then time single n×n×n products; returns the record for this dtype."""
    started = time.perf_counter()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "tf32": torch.float32, "fp32": torch.float32}[name]
    if device.type == "cuda":
        # "high" lets fp32 products use TF32 tensor cores; "highest" keeps them in full fp32.
        torch.set_float32_matmul_precision("high" if name == "tf32" else "highest")
    flops = 2.0 * n * n * n
    generator = torch.Generator(device=device)
    generator.manual_seed(20261123)
    inputs = [
        (
            torch.randn(n, n, device=device, dtype=dtype, generator=generator),
            torch.randn(n, n, device=device, dtype=dtype, generator=generator),
        )
        for _ in range(INPUT_SETS)
    ]
    out = torch.empty(n, n, device=device, dtype=dtype)
    calls = [0]

    def timed_calls(count):
        """Queue `count` products, each after an L2 flush, with an event before the flush and around
        the product; wait once at the end. Returns (flush seconds, call seconds) per product."""
        marks = []
        for _ in range(count):
            a, b = inputs[calls[0] % INPUT_SETS]
            calls[0] += 1
            before = timer.event()
            if flush is not None:
                flush.zero_()
            start = timer.event()
            torch.matmul(a, b, out=out)
            marks.append((before, start, timer.event()))
        timer.sync()
        return [(timer.seconds(b, s), max(timer.seconds(s, e), 1e-9)) for b, s, e in marks], marks

    emit("progress", dtype=name, phase="warm-up", n=n)
    # Warm-up: the first call loads the kernel; then groups of ~GROUP_S until two groups agree.
    timings, _ = timed_calls(1)
    per_call = timings[0][0] + timings[0][1]
    warm_limit = started + WARM_SHARE * budget_s
    previous = None
    while True:
        count = max(1, int(round(GROUP_S / per_call)))
        timings, _ = timed_calls(count)
        per_call = sum(f + c for f, c in timings) / count
        rate = flops / sorted(c for _, c in timings)[count // 2]
        if previous is not None and abs(rate - previous) <= 0.02 * max(rate, previous):
            break
        previous = rate
        if time.perf_counter() >= warm_limit or (device.type == "cpu" and previous is not None):
            break  # the CPU's rate is steady after two groups; its budget is short

    emit("progress", dtype=name, phase="measure", n=n)
    remaining = started + budget_s - time.perf_counter() - CHECK_RESERVE_S
    planned = max(5, min(int(remaining / per_call), MAX_CALLS))
    measure_start = time.monotonic()
    if device.type == "cpu":
        # On the CPU a call's time is the host's: on a busy machine it grows while we measure. Calls are made one
        # at a time until the plan or the budget runs out (five at least), so the budget holds under load too.
        deadline = started + budget_s - CHECK_RESERVE_S
        timings, marks = [], []
        while len(timings) < planned and (len(timings) < 5 or time.perf_counter() < deadline):
            more, more_marks = timed_calls(1)
            timings += more
            marks += more_marks
    else:
        timings, marks = timed_calls(planned)
    measure_end = time.monotonic()
    call_seconds = [c for _, c in timings]
    rates = [flops / c / 1e12 for c in call_seconds]
    settled = settled_part(rates)
    record = summary(settled)
    record["unsettled_calls"] = len(rates) - len(settled)
    # The sustained rate counts every moment of the measurement window except the flushes' usual
    # time: when another process shares the GPU, its time slices land between or inside our calls
    # and lower this rate, while the median of single calls can stay at full speed.
    window = timer.seconds(marks[0][0], marks[-1][2])
    usual_flush = sorted(f for f, _ in timings)[len(timings) // 2]
    busy = max(window - usual_flush * len(timings), 1e-9)
    record["sustained"] = flops * len(timings) / busy / 1e12
    a, b = inputs[(calls[0] - 1) % INPUT_SETS]
    error = relative_error(torch, out, a, b)
    if TRACE:
        record["trace"] = [round(flops / c / 1e12, 2) for c in call_seconds]
    record.update(
        dtype=name,
        n=n,
        calls=len(timings),
        relative_error=error if math.isfinite(error) else None,
        finite=math.isfinite(error),
        error_limit=ERROR_LIMITS[name],
        measure_window=[measure_start, measure_end],
        seconds=round(time.perf_counter() - started, 4),
    )
    return record


def run_copies(torch, device, timer, budget_s):
    """Host->device (pinned and pageable) and device->host (pinned) bandwidth of 32 MiB copies."""
    records = []
    count = COPY_BYTES // 4
    gpu = torch.empty(count, dtype=torch.float32, device=device)
    gpu.fill_(1.0)
    pageable = torch.empty(count, dtype=torch.float32)
    pageable.fill_(1.0)  # touch every page, so the copy does not time page faults
    pinned = None
    pinned_error = None
    try:
        pinned = torch.empty(count, dtype=torch.float32, pin_memory=True)
        pinned.fill_(1.0)
    except Exception as error:  # pinned allocation can fail (WSL's limits, locked-memory ulimit)
        pinned_error = " ".join(str(error).split())[:300]
    plans = [("h2d", "pinned", pinned, gpu), ("h2d", "pageable", pageable, gpu), ("d2h", "pinned", gpu, pinned)]
    deadline = time.perf_counter() + budget_s
    for direction, memory, source, target in plans:
        if source is None or target is None:
            records.append({"direction": direction, "memory": memory, "error": pinned_error})
            continue
        window_start = time.monotonic()
        target.copy_(source, non_blocking=False)
        timer.sync()
        speeds = []
        while len(speeds) < 8 and (len(speeds) < 3 or time.perf_counter() < deadline):
            start = timer.event()
            target.copy_(source, non_blocking=memory == "pinned")
            end = timer.event()
            timer.sync()
            speeds.append(COPY_BYTES / max(timer.seconds(start, end), 1e-9) / 1e9)
        ordered = sorted(speeds)
        records.append(
            {
                "direction": direction,
                "memory": memory,
                "gb_per_s": percentile(ordered, 0.5),
                "bytes": COPY_BYTES,
                "repeats": len(speeds),
                "window": [window_start, time.monotonic()],
            }
        )
    return records


def device_facts(torch, device, props):
    facts = {"type": "cuda", "index": device.index, "name": props.name, "capability": [props.major, props.minor]}
    facts["multiprocessors"] = getattr(props, "multi_processor_count", None)
    uuid = getattr(props, "uuid", None)
    if uuid is not None:
        facts["uuid"] = str(uuid)
    for key in ("pci_domain_id", "pci_bus_id", "pci_device_id"):
        value = getattr(props, key, None)
        if isinstance(value, int):
            facts[key] = value
    return facts


def main(argv):
    options = json.loads(argv[1]) if len(argv) > 1 else {}
    budget_s = float(options.get("seconds", 1.5))
    global TRACE
    TRACE = bool(options.get("trace"))
    wanted = options.get("dtypes") or list(DTYPES)
    started_import = time.perf_counter()
    try:
        import torch
    except Exception as error:
        emit("failed", stage="import", error="import torch failed: " + " ".join(str(error).split())[:500])
        return 1
    import_s = time.perf_counter() - started_import
    use_cuda = bool(getattr(torch.version, "cuda", None)) and torch.cuda.is_available() and not options.get("cpu")
    if not use_cuda:
        return main_cpu(torch, import_s, budget_s, options)

    device = torch.device("cuda", int(options.get("device", 0)))
    props = torch.cuda.get_device_properties(device)
    emit(
        "start",
        torch_version=torch.__version__,
        torch_cuda=torch.version.cuda,
        import_s=round(import_s, 4),
        device=device_facts(torch, device, props),
        tf32_override=os.environ.get("NVIDIA_TF32_OVERRIDE"),
        pid=os.getpid(),
    )
    stage = "cuda-init"
    try:
        init_start = time.perf_counter()
        torch.cuda.set_device(device)
        small = torch.randn(64, 64, device=device)
        torch.matmul(small, small)  # creates the cuBLAS handle and its workspace
        torch.cuda.synchronize()
        emit("ready", cuda_init_s=round(time.perf_counter() - init_start, 4))

        stage = "gemm"
        started = time.perf_counter()
        bf16_ok = props.major >= 8
        dtypes = [d for d in RUN_ORDER if d in wanted]
        runnable = []
        for name in dtypes:
            if name in ("bf16", "tf32") and not bf16_ok:
                emit("gemm", dtype=name, skipped="needs compute capability 8.0 or newer (Ampere); this GPU is "
                     + "{}.{}".format(props.major, props.minor))
            else:
                runnable.append(name)
        gemm_budget = budget_s * (PLAN_SHARE - COPY_SHARE)
        timer = GpuTimer(torch)
        flush = l2_flush_buffer(torch, device, props)
        for position, name in enumerate(runnable):
            spent = time.perf_counter() - started
            weights = [TIME_WEIGHTS[other] for other in runnable[position:]]
            share = max(0.05, (gemm_budget - spent) * weights[0] / sum(weights))
            n = gemm_size(torch, device, 2 if name in ("bf16", "fp16") else 4, props.multi_processor_count, options.get("n"))
            record = run_gemm(torch, name, n, device, timer, share, flush)
            emit("gemm", **record)
            torch.cuda.empty_cache()  # give the inputs back, so the next size sees the real free memory
        torch.set_float32_matmul_precision("highest")
        stage = "copy"
        emit("progress", dtype=None, phase="copy", elapsed_s=round(time.perf_counter() - started, 4))
        copy_budget = max(0.03, PLAN_SHARE * budget_s - (time.perf_counter() - started))
        for record in run_copies(torch, device, timer, copy_budget):
            emit("copy", **record)
        emit("done", measure_s=round(time.perf_counter() - started, 4))
    except Exception as error:
        emit("failed", stage=stage, error=type(error).__name__ + ": " + " ".join(str(error).split())[:500])
        return 1
    return 0


def main_cpu(torch, import_s, budget_s, options):
    """No usable CUDA: a short fp32 and bf16 GEMM on the CPU, so the user sees what they are getting."""
    emit(
        "start",
        torch_version=torch.__version__,
        torch_cuda=getattr(torch.version, "cuda", None),
        import_s=round(import_s, 4),
        device={"type": "cpu", "name": cpu_name(), "threads": torch.get_num_threads()},
        pid=os.getpid(),
    )
    emit("ready", cuda_init_s=None)
    started = time.perf_counter()
    timer = CpuTimer()
    wanted = options.get("dtypes") or ["fp32", "bf16"]
    dtypes = [d for d in ("fp32", "bf16") if d in wanted]
    try:
        for position, name in enumerate(dtypes):
            n = cpu_size(torch, name)  # sizing takes time too: the share is what is left after it
            share = max(0.05, (PLAN_SHARE * budget_s - (time.perf_counter() - started)) / (len(dtypes) - position))
            record = run_gemm(torch, name, n, torch.device("cpu"), timer, share, None)
            emit("gemm", **record)
        emit("done", measure_s=round(time.perf_counter() - started, 4))
    except Exception as error:
        emit("failed", stage="gemm", error=type(error).__name__ + ": " + " ".join(str(error).split())[:500])
        return 1
    return 0


def cpu_size(torch, name):
    """The largest power of two up to 2048 whose product takes at most ~20 ms on this CPU."""
    dtype = torch.bfloat16 if name == "bf16" else torch.float32
    n = 256
    while n < 2048:
        a = torch.randn(n, n, dtype=dtype)
        torch.matmul(a, a)  # the first call pays for thread-pool start-up and kernel choice
        start = time.perf_counter()
        torch.matmul(a, a)
        if time.perf_counter() - start > 0.0025:  # the next size up costs 8x as much
            break
        n *= 2
    return n


def cpu_name():
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine() or "CPU"


if __name__ == "__main__":
    sys.exit(main(sys.argv))
