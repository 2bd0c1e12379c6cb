"""Run the GEMM throughput test in the project's interpreter while NVML watches the GPU.

Two children run side by side. `gemm_script.py` runs in the project's interpreter (that torch's speed
is what the user gets) and streams JSON records: progress for the TUI, then one result per dtype and
per copy, each with the monotonic-clock window it ran in. `nvml_script.py --sample` runs beside
torchdoctor (NVML needs no torch) and records, first, whether anything was already using the GPU, then
clocks, clock-event reasons, power, temperature and the PCIe link every 20 ms. Both use CLOCK_MONOTONIC,
which is one clock for the whole machine, so each result gets the samples of its own window: the
evidence for "bf16 ran at 60% of what this GPU reaches, the power cap held the clocks down".
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from importlib import resources
from typing import Any

from torchdoctor.probes.runner import StreamingCommand, marked_records, python_argv, tail
from torchdoctor.snapshot import BenchInfo, BenchStatus, CopyResult, GemmResult, GpuActivity, GpuBaseline, GpuProcess

DEFAULT_SECONDS = 1.5
SAMPLE_INTERVAL_S = 0.02
# `import torch` and CUDA initialisation come before the measurement and can take a minute cold.
STARTUP_ALLOWANCE_S = 90.0

EventHandler = Callable[[dict[str, Any]], None]


def _script(name: str) -> str:
    return resources.files("torchdoctor.probes").joinpath(name).read_text(encoding="utf-8")


def _record(line: str) -> dict[str, Any] | None:
    """The JSON record on one streamed line, or None for anything else the child printed."""
    records = marked_records(line)
    return records[0] if records else None


class GpuSampler:
    """The NVML sampler child: a baseline record, then samples until stopped."""

    def __init__(self, python: str = sys.executable, limit_s: float = 600.0):
        self.records: list[dict[str, Any]] = []
        self._baseline = threading.Event()
        self._command = StreamingCommand(
            python_argv(python, _script("nvml_script.py"), "--sample", str(SAMPLE_INTERVAL_S), str(limit_s)),
            on_line=self._on_line,
        )

    def _on_line(self, line: str) -> None:
        record = _record(line)
        if record is not None:
            self.records.append(record)
            if record.get("kind") in ("baseline", "unavailable"):
                self._baseline.set()

    def wait_for_baseline(self, timeout_s: float = 5.0) -> None:
        """The baseline must be read before the test touches the GPU, or the test would see itself."""
        deadline = time.monotonic() + timeout_s
        while not self._baseline.is_set() and time.monotonic() < deadline:
            if self._command.process is None or self._command.process.poll() is not None:
                time.sleep(0.05)  # let the reader thread deliver the last line
                break
            self._baseline.wait(0.02)

    def stop(self) -> str | None:
        """Stop sampling; returns why NVML could not watch the GPU, if it could not."""
        result = self._command.stop()
        for record in self.records:
            if record.get("kind") == "unavailable":
                return f"NVML could not watch the GPU: {record.get('error')}"
        if not any(r.get("kind") == "baseline" for r in self.records):
            detail = tail(result.stderr, lines=2) or result.describe_failure()
            return f"NVML could not watch the GPU: {detail}"
        return None


def run_bench(
    python: str,
    *,
    seconds: float = DEFAULT_SECONDS,
    device: int = 0,
    on_event: EventHandler | None = None,
    cancel: threading.Event | None = None,
    watch_gpu: bool = True,
    options: dict[str, Any] | None = None,
    timeout_s: float | None = None,
) -> BenchInfo:
    """Run the test in `python`; every way it can end (crash, timeout, cancel) becomes a BenchInfo.

    `on_event` receives each record as it arrives (from a reader thread), for live progress.
    `timeout_s` bounds the whole run (default: a minute and a half for `import torch` and CUDA
    initialisation, plus ten times the measurement budget).
    """
    started = time.monotonic()
    sampler = GpuSampler() if watch_gpu else None
    if sampler is not None:
        sampler.wait_for_baseline()
    records: list[dict[str, Any]] = []

    def on_line(line: str) -> None:
        record = _record(line)
        if record is not None:
            records.append(record)
            if on_event is not None:
                on_event(record)

    env = dict(os.environ)
    env["PYTHONIOENCODING"] = "utf-8"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    arguments = json.dumps({"seconds": seconds, "device": device, **(options or {})})
    # The child runs in an empty folder of its own, never the project's: nothing there can be imported.
    child = StreamingCommand(python_argv(python, _script("gemm_script.py"), arguments), on_line=on_line, env=env)
    try:
        result = child.wait(timeout_s or STARTUP_ALLOWANCE_S + 10 * seconds, cancel)
    finally:
        sampler_error = sampler.stop() if sampler is not None else None
    samples = sampler.records if sampler is not None else []
    info = assemble(records, samples, budget_s=seconds, sampler_error=sampler_error)

    status, error = info.status, info.error
    if result.error is not None:
        status, error = "interpreter-failed", result.error
    elif cancel is not None and cancel.is_set() and status != "ok":
        status, error = "cancelled", "the test was cancelled"
    elif result.timed_out:
        status, error = "timed-out", f"the test did not finish within {result.duration_s:.0f} s and was stopped"
    elif status == "incomplete":
        status = "crashed"
        error = f"the test process {result.describe_failure()} before it finished"
    stderr_tail = (tail(result.stderr, lines=12) or None) if status != "ok" else None
    return replace(info, status=status, error=error, wall_s=round(time.monotonic() - started, 3), stderr_tail=stderr_tail)


def assemble(
    records: list[dict[str, Any]], samples: list[dict[str, Any]], *, budget_s: float, sampler_error: str | None = None
) -> BenchInfo:
    """Turn the test's records and NVML's samples into a BenchInfo (pure, so tests replay captures)."""
    by_event: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_event.setdefault(str(record.get("event")), []).append(record)
    start = (by_event.get("start") or [{}])[0]
    device = start.get("device") or {}
    ready = (by_event.get("ready") or [{}])[0]
    done = next(iter(by_event.get("done", [])), None)
    failed = next(iter(by_event.get("failed", [])), None)

    baseline_record = next((s for s in samples if s.get("kind") == "baseline"), None)
    nvml_index = _match_gpu(device, baseline_record["gpus"]) if baseline_record and device.get("type") == "cuda" else None
    if device.get("type") == "cuda" and baseline_record and nvml_index is None and sampler_error is None:
        sampler_error = "could not tell which NVML GPU torch tested (no matching UUID or PCI address)"
    sample_rows = [s for s in samples if s.get("kind") == "sample"]
    identity = baseline_record["gpus"][nvml_index] if baseline_record is not None and nvml_index is not None else {}

    def activity(window: Any) -> GpuActivity | None:
        if nvml_index is None or not isinstance(window, list) or len(window) != 2:
            return None
        return summarise_activity(sample_rows, nvml_index, identity, window[0], window[1])

    gemm = tuple(
        GemmResult(
            dtype=r["dtype"],
            n=r.get("n"),
            tflops=r.get("median"),
            tflops_p10=r.get("p10"),
            tflops_p90=r.get("p90"),
            tflops_sustained=r.get("sustained"),
            calls=r.get("calls", 0),
            unsettled_calls=r.get("unsettled_calls", 0),
            relative_error=r.get("relative_error"),
            finite=r.get("finite", True),
            error_limit=r.get("error_limit"),
            seconds=r.get("seconds"),
            skipped=r.get("skipped"),
            activity=activity(r.get("measure_window")),
        )
        for r in by_event.get("gemm", [])
    )
    # Each copy lasts a few milliseconds, shorter than the sampling interval, so every copy gets the
    # samples of the whole copy phase (the PCIe link's state is what matters there).
    windows = [r["window"] for r in by_event.get("copy", []) if isinstance(r.get("window"), list) and len(r["window"]) == 2]
    copy_activity = activity([min(w[0] for w in windows), max(w[1] for w in windows)]) if windows else None
    copies = tuple(
        CopyResult(
            direction=r["direction"],
            memory=r["memory"],
            gb_per_s=r.get("gb_per_s"),
            bytes=r.get("bytes"),
            error=r.get("error"),
            activity=copy_activity,
        )
        for r in by_event.get("copy", [])
    )
    status: BenchStatus
    if failed is not None:
        status, error = "failed", f"{failed.get('error')} (while {failed.get('stage')})"
    elif done is not None:
        status, error = "ok", None
    else:
        status, error = "incomplete", None
    capability = device.get("capability")
    return BenchInfo(
        status=status,
        error=error,
        device_type=device.get("type"),
        device_name=device.get("name"),
        device_index=device.get("index"),
        capability=(capability[0], capability[1]) if isinstance(capability, list) and len(capability) == 2 else None,
        multiprocessors=device.get("multiprocessors"),
        cpu_threads=device.get("threads"),
        torch_version=start.get("torch_version"),
        torch_cuda=start.get("torch_cuda"),
        tf32_override=start.get("tf32_override"),
        budget_s=budget_s,
        import_s=start.get("import_s"),
        cuda_init_s=ready.get("cuda_init_s"),
        measure_s=done.get("measure_s") if done else None,
        nvml_index=nvml_index,
        sampler_error=sampler_error if device.get("type") == "cuda" else None,
        baseline=_baseline(baseline_record["gpus"][nvml_index]) if nvml_index is not None and baseline_record else None,
        gemm=gemm,
        copies=copies,
    )


def _match_gpu(device: dict[str, Any], gpus: list[dict[str, Any]]) -> int | None:
    """The NVML index of the device torch used: by UUID, then PCI address, then the only GPU there is."""
    uuid = str(device.get("uuid") or "").lower().removeprefix("gpu-")
    if uuid:
        for position, gpu in enumerate(gpus):
            if str(gpu.get("uuid") or "").lower().removeprefix("gpu-") == uuid:
                return position
    if isinstance(device.get("pci_bus_id"), int) and isinstance(device.get("pci_device_id"), int):
        address = (device.get("pci_domain_id") or 0, device["pci_bus_id"], device["pci_device_id"])
        for position, gpu in enumerate(gpus):
            if _pci_address(gpu.get("pci_bus_id")) == address:
                return position
    return 0 if len(gpus) == 1 else None


def _pci_address(bus_id: Any) -> tuple[int, int, int] | None:
    """"00000000:00:06.0" -> (0, 0, 6)."""
    try:
        domain, bus, rest = str(bus_id).split(":")
        return int(domain, 16), int(bus, 16), int(rest.split(".")[0], 16)
    except ValueError:
        return None


def _baseline(gpu: dict[str, Any]) -> GpuBaseline:
    return GpuBaseline(
        utilization_pct=gpu.get("utilization_pct"),
        memory_used=gpu.get("memory_used"),
        processes=tuple(
            GpuProcess(pid=p["pid"], name=p.get("name"), used_memory=p.get("used_memory")) for p in gpu.get("processes", ())
        ),
        sm_clock_max_mhz=gpu.get("sm_clock_max_mhz"),
        pcie_gen_max=gpu.get("pcie_gen_max"),
        pcie_width_max=gpu.get("pcie_width_max"),
        power_limit_w=gpu.get("power_limit_w"),
    )


def summarise_activity(
    samples: list[dict[str, Any]], index: int, identity: dict[str, Any], start: float, end: float
) -> GpuActivity:
    """What the samples taken between `start` and `end` say about GPU `index`."""
    rows = [s["gpus"][index] for s in samples if start <= s.get("t", -1) <= end and index < len(s.get("gpus", ()))]

    def values(key: str) -> list[float]:
        return [row[key] for row in rows if isinstance(row.get(key), (int, float))]

    reasons: dict[str, int] = {}
    with_reasons = [row["reasons"] for row in rows if isinstance(row.get("reasons"), list)]
    for listed in with_reasons:
        for reason in listed:
            reasons[reason] = reasons.get(reason, 0) + 1
    clocks, power, temperature, utilization = values("sm_clock_mhz"), values("power_w"), values("temperature_c"), values("utilization_pct")
    generations, widths = values("pcie_gen"), values("pcie_width")
    return GpuActivity(
        samples=len(rows),
        sm_clock_median_mhz=statistics.median(clocks) if clocks else None,
        sm_clock_max_mhz=identity.get("sm_clock_max_mhz"),
        clock_event_reasons={k: round(v / len(with_reasons), 3) for k, v in sorted(reasons.items())},
        power_max_w=max(power) if power else None,
        power_limit_w=identity.get("power_limit_w"),
        temperature_max_c=int(max(temperature)) if temperature else None,
        utilization_median_pct=statistics.median(utilization) if utilization else None,
        pcie_gen_min=int(min(generations)) if generations else None,
        pcie_width_min=int(min(widths)) if widths else None,
    )
