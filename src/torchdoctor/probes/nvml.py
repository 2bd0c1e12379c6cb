"""Probe the NVIDIA driver through NVML (nvidia-ml-py), in a child process with a timeout.

NVML is the driver's own view, independent of torch: it tells a CPU-only torch build apart from a
machine without a GPU, and gives the driver version that decides which CUDA builds can run. NVML
calls can block for tens of seconds on a GPU that fell off the bus, so they run in a child process
that is killed at the deadline; the report then says so instead of hanging.
"""

from __future__ import annotations

import sys
from importlib import resources

from torchdoctor.probes.runner import marked_records, python_argv, run_command, tail
from torchdoctor.snapshot import (
    GpuProcess,
    MigDevice,
    NvmlGpu,
    NvmlInfo,
    NvmlStatus,
    P2pStatus,
    PeerLink,
    status_in,
)

DEFAULT_TIMEOUT_S = 10.0


def probe_nvml(*, timeout_s: float = DEFAULT_TIMEOUT_S, python: str = sys.executable) -> NvmlInfo:
    source = resources.files("torchdoctor.probes").joinpath("nvml_script.py").read_text(encoding="utf-8")
    result = run_command(python_argv(python, source), timeout_s=timeout_s)
    duration = round(result.duration_s, 3)
    if result.timed_out:
        return NvmlInfo(status="timed-out", error=f"NVML did not answer within {timeout_s:g} s", duration_s=duration)
    records = marked_records(result.stdout)
    record = records[-1] if records else None
    if record is None:
        detail = tail(result.stderr, lines=3) or "no output"
        return NvmlInfo(status="error", error=f"the NVML probe {result.describe_failure()}: {detail}", duration_s=duration)
    gpus = tuple(
        NvmlGpu(
            index=g["index"],
            name=g.get("name"),
            pci_device_id=g.get("pci_device_id"),
            pci_bus_id=g.get("pci_bus_id"),
            compute_capability=tuple(g["compute_capability"]) if g.get("compute_capability") else None,
            memory_total=g.get("memory_total"),
            memory_used=g.get("memory_used"),
            pcie_gen_current=g.get("pcie_gen_current"),
            pcie_gen_max=g.get("pcie_gen_max"),
            pcie_width_current=g.get("pcie_width_current"),
            pcie_width_max=g.get("pcie_width_max"),
            power_limit_w=g.get("power_limit_w"),
            sm_clock_mhz=g.get("sm_clock_mhz"),
            sm_clock_max_mhz=g.get("sm_clock_max_mhz"),
            clock_event_reasons=tuple(g["clock_event_reasons"]) if g.get("clock_event_reasons") is not None else None,
            mig_enabled=g.get("mig_enabled"),
            mig_devices=tuple(MigDevice(uuid=d.get("uuid"), memory_total=d.get("memory_total")) for d in g["mig_devices"])
            if g.get("mig_devices") is not None else None,
            persistence_mode=g.get("persistence_mode"),
            minor_number=g.get("minor_number"),
            processes=tuple(GpuProcess(pid=p["pid"], name=p.get("name"), used_memory=p.get("used_memory"),
                                       state=p.get("state")) for p in g["processes"])
            if g.get("processes") is not None else None,
            unavailable=dict(g.get("unavailable", {})),
        )
        for g in record.get("gpus", ())
    )
    return NvmlInfo(
        status=status_in(NvmlStatus, record.get("status"), "error"),
        error=record.get("error"),
        error_code=record.get("error_code"),
        driver_version=record.get("driver_version"),
        cuda_driver_version=record.get("cuda_driver_version"),
        nvml_version=record.get("nvml_version"),
        library_path=record.get("library_path"),
        gpus=gpus,
        peer_links=_peer_links(record.get("peer_links")),
        duration_s=duration,
    )


def _peer_links(links: list[dict] | None) -> tuple[PeerLink, ...] | None:
    if links is None:
        return None
    return tuple(PeerLink(gpus=(link["gpus"][0], link["gpus"][1]),
                          read=status_in(P2pStatus, link["read"], "unknown") if link.get("read") else None,
                          nvlink=status_in(P2pStatus, link["nvlink"], "unknown") if link.get("nvlink") else None)
                 for link in links)
