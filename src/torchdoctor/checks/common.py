"""Small questions about a Snapshot that several rules ask, each answered with its evidence."""

from __future__ import annotations

import re

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet

from torchdoctor.model import Evidence
from torchdoctor.snapshot import DocumentedSync, NvmlGpu, PeerLink, PyprojectInfo, Snapshot, UvSource

NVML_SOURCE = "NVML (the NVIDIA driver)"
SLOWDOWN_REASONS = {
    "sw_power_cap": "the power cap (the board drew its power limit; on a laptop, also a battery or power-mode limit)",
    "hw_slowdown": "a hardware slowdown (the board signalled overheating or a power-supply problem)",
    "sw_thermal_slowdown": "thermal slowdown by the driver (the GPU or its memory is too hot)",
    "hw_thermal_slowdown": "hardware thermal slowdown (the GPU hit its temperature limit)",
    "hw_power_brake_slowdown": "the power brake (the system asserted an external power-brake signal)",
}
"""NVML's clock-event reasons that slow a GPU down, in the user's words (NVML also reports "gpu_idle" and settings,
which do not): the GEMM test's TD602 and the fleet's TD705 name them."""


def nvml_source(snapshot: Snapshot) -> str:
    """Where the driver's facts were read: NVML, or the text a user pasted (`triage`: nvidia-smi's output, a GPU named
    in prose), never "NVML" for what no driver answered."""
    if snapshot.interpreter.source == "pasted":
        return "the pasted text"
    return NVML_SOURCE


def torch_source(snapshot: Snapshot) -> str:
    """Where the torch facts were read: the probe in an interpreter, or the text a user pasted (`triage`)."""
    if snapshot.interpreter.source == "pasted" or not snapshot.interpreter.path:
        return snapshot.interpreter.reason or "the pasted text"
    return f"torch probe in {snapshot.interpreter.path}"


def interpreter_evidence(snapshot: Snapshot) -> Evidence:
    interpreter = snapshot.interpreter
    return Evidence("project interpreter", interpreter.path, interpreter.reason)


def nvidia_gpu_evidence(snapshot: Snapshot) -> tuple[Evidence, ...]:
    """Facts showing that this machine has an NVIDIA GPU, strongest first; empty if none do."""
    found: list[Evidence] = []
    nvml = snapshot.nvml
    if nvml.status == "ok" and nvml.gpus:
        names = ", ".join(g.name or f"GPU {g.index}" for g in nvml.gpus)
        found.append(Evidence("NVIDIA GPUs", f"{len(nvml.gpus)}: {names}", nvml_source(snapshot)))
    if snapshot.torch.devices and not snapshot.torch.hip:  # a ROCm build's devices are AMD's
        names = ", ".join(d.name for d in snapshot.torch.devices)
        found.append(Evidence("CUDA devices torch sees", names, torch_source(snapshot)))
    if snapshot.system.nvidia_kernel_driver:
        found.append(Evidence("NVIDIA kernel module", snapshot.system.nvidia_kernel_driver, "/proc/driver/nvidia/version"))
    nodes = [n for n in snapshot.system.gpu_device_nodes if n == "/dev/dxg" or n[len("/dev/nvidia"):].isdigit()]
    if nodes:
        found.append(Evidence("GPU device files", " ".join(nodes), "/dev"))
    return tuple(found)


def declared_torch_groups(snapshot: Snapshot) -> tuple[str, ...]:
    """Where the project asks for torch: "dependencies", "optional:cu128", "group:dev" ..."""
    pyproject = snapshot.project.pyproject
    if pyproject is None:
        return ()
    return tuple(dict.fromkeys(r.group for r in pyproject.torch_requirements if r.name == "torch"))


def torch_specifier(pyproject: PyprojectInfo | None) -> SpecifierSet | None:
    """The torch range of a plain install: the base dependencies' ranges together; when torch is only in extras
    or groups, the first of those alone (ranges of conflicting extras are never intersected: uv resolves each on
    its own). Empty when the project names none, None when one does not parse (TD001 reports that)."""
    declared = [d for d in (pyproject.torch_requirements if pyproject else ()) if d.name == "torch"]
    base = [d for d in declared if d.group == "dependencies"]
    chosen = base or [d for d in declared if d.group == declared[0].group] if declared else []
    combined = SpecifierSet()
    for requirement in chosen:
        try:
            combined &= Requirement(requirement.requirement).specifier
        except InvalidRequirement:
            return None
    return combined


def python_marked(pyproject: PyprojectInfo | None) -> bool:
    """Whether a base torch requirement carries a Python marker (`torch>=2.8; python_version == '3.9'`): its range
    then depends on the Python, and is read per Python (torch_specifier_for)."""
    return any(d.name == "torch" and d.group == "dependencies" and "python_" in d.requirement.partition(";")[2]
               for d in (pyproject.torch_requirements if pyproject else ()))


def torch_specifier_for(pyproject: PyprojectInfo, python: str) -> SpecifierSet | None:
    """The torch range of a plain install on CPython `python`: the base requirements whose marker can hold for it
    (on any platform uv resolves for) together; None when none applies there (no torch for that Python) or one does
    not parse."""
    from torchdoctor.resolution import PLATFORMS

    combined, applies = SpecifierSet(), False
    for declared in pyproject.torch_requirements:
        if declared.name != "torch" or declared.group != "dependencies":
            continue
        try:
            requirement = Requirement(declared.requirement)
        except InvalidRequirement:
            return None
        if requirement.marker is not None and not any(
                requirement.marker.evaluate({**dict(platform.environment(python)), "extra": ""}) for platform in PLATFORMS):
            continue
        combined &= requirement.specifier
        applies = True
    return combined if applies else None


def places_text(resolutions) -> str:
    """Where something happens, by platform and selection: "this machine, Windows x86_64 with `--extra cu128`"."""
    by_platform: dict[str, list[str | None]] = {}
    for resolution in resolutions:
        label = "this machine" if resolution.platform == "this-machine" else resolution.platform_label
        by_platform.setdefault(label, [])
        if resolution.option not in by_platform[label]:
            by_platform[label].append(resolution.option)
    parts = []
    for label, options in by_platform.items():
        opt_ins = [f"`{o}`" for o in options if o]
        parts.append(label if None in options or not opt_ins else f"{label} with {', '.join(opt_ins)}")
    return "; ".join(parts)


COMPANION_FAILURE = ("its GPU operators then fail (for torchvision: \"Could not run 'torchvision::nms' with arguments from "
                     "the 'CUDA' backend\"), or the import stops (\"compiled with different CUDA major versions\")")


def pyproject_of(snapshot: Snapshot) -> PyprojectInfo | None:
    return snapshot.project.pyproject


def sources_for(pyproject: PyprojectInfo, package: str) -> list[UvSource]:
    """The package's [tool.uv.sources] entries."""
    return [s for s in pyproject.sources if s.package == package]


def declared_requirements(pyproject: PyprojectInfo, package: str) -> list:
    """The package's requirements in the project (dependencies, extras, groups)."""
    return [r for r in pyproject.torch_requirements if r.name == package]


DRIVER_LIBRARY_VERSION = re.compile(r"/lib(?:nvidia-ml|cuda)\.so\.(\d{3,}\.\d+(?:\.\d+)?)$")


def driver_library_versions(snapshot: Snapshot) -> tuple[str, ...]:
    """The versions in the file names of the driver's user-space libraries found (libnvidia-ml.so.580.95.05)."""
    return tuple(dict.fromkeys(m.group(1) for path in snapshot.system.system_driver_libraries
                               if (m := DRIVER_LIBRARY_VERSION.search(path))))


def _canonical(option: str) -> str:
    """`--extra GPU_Extra` as uv names it: `--extra gpu-extra`."""
    kind, _, name = option.partition(" ")
    return f"{kind} {re.sub(r'[-_.]+', '-', name).lower()}"


def documented_sync(snapshot: Snapshot, option: str | None) -> DocumentedSync | None:
    """The `uv sync` of the project's README, Makefile, Dockerfile or CI that installs this opt-in selection (`--extra
    gpu`), if one does: a selection the project tells everyone to run is rated as its plain install (issue 28)."""
    if not option:
        return None
    wanted = _canonical(option)
    every = {"*extra": "--extra ", "*group": "--group "}  # --all-extras, --all-groups
    for sync in snapshot.project.documented_syncs:
        if any(_canonical(o) == wanted if o not in every else wanted.startswith(every[o]) for o in sync.options):
            return sync
    return None


def documented_evidence(sync: DocumentedSync | None) -> tuple[Evidence, ...]:
    if sync is None:
        return ()
    return (Evidence("the project runs", sync.command, f"{sync.file}:{sync.line}"),)


def gpu_count(snapshot: Snapshot) -> int:
    return len(snapshot.nvml.gpus) or len(snapshot.torch.devices)


IOMMU_PASSTHROUGH = frozenset({"iommu=pt", "iommu=off", "intel_iommu=off", "amd_iommu=off"})


def _passthrough(option: str) -> bool:
    """A kernel option that leaves device addresses untranslated; `iommu.passthrough=` takes any kernel boolean."""
    name, _, value = option.partition("=")
    if name == "iommu.passthrough":
        return value.lower() in ("1", "y", "yes", "on", "true")
    return option in IOMMU_PASSTHROUGH
NCCL_TROUBLESHOOTING = "docs.nvidia.com/deeplearning/nccl/user-guide/docs/troubleshooting.html (\"PCI Access Control Services\"), read 2026-12-06"


def iommu_in_the_way(snapshot: Snapshot) -> tuple[Evidence, ...]:
    """The facts showing that the IOMMU translates the traffic between this machine's GPUs (active, not in
    passthrough), with two GPUs or more; empty when it does not, or when a fact was not read."""
    system = snapshot.system
    count = max(gpu_count(snapshot), len(system.amd_gpus or ()))
    if count < 2 or not system.iommu_groups or system.kernel_iommu_options is None:
        return ()
    if any(_passthrough(option) for option in system.kernel_iommu_options):
        return ()
    return (Evidence("IOMMU groups", str(system.iommu_groups), "/sys/kernel/iommu_groups"),
            Evidence("kernel IOMMU options", " ".join(system.kernel_iommu_options) or "none (no iommu=pt)", "/proc/cmdline"),
            Evidence("GPUs", str(count), nvml_source(snapshot) if snapshot.nvml.gpus else "the KFD topology"),
            *peer_access_evidence(snapshot))


def peer_access_evidence(snapshot: Snapshot) -> tuple[Evidence, ...]:
    """The driver's peer-to-peer answer for each pair of GPUs (`nvidia-smi topo -p2p r`), as evidence; the first 6."""
    return tuple(Evidence(f"peer access GPU {a} <-> GPU {b}", (link.read or "unknown")
                          + (" (NVLink)" if link.nvlink == "ok" else ""), nvml_source(snapshot))
                 for link in (snapshot.nvml.peer_links or ())[:6] for a, b in (link.gpus,))


SHM_ENOUGH = 1 << 30
"""1 GiB: NCCL's troubleshooting guide asks Docker users for `--shm-size=1g` (docs.nvidia.com/deeplearning/nccl/
user-guide/docs/troubleshooting.html, "Docker", read 2026-12-06); PyTorch's README asks for `--ipc=host` or
`--shm-size` for DataLoader workers. Docker's own default is 64 MB."""


def shm_too_small(snapshot: Snapshot) -> tuple[Evidence, ...]:
    """/dev/shm under 1 GiB or not writable, as evidence; empty when it is fine or was not read."""
    shm = snapshot.system.shm
    if shm is None or not ((shm.size_bytes is not None and shm.size_bytes < SHM_ENOUGH) or shm.writable is False):
        return ()
    return (Evidence("/dev/shm size", str(shm.size_bytes) if shm.size_bytes is not None else "unknown", "statvfs(/dev/shm)"),
            Evidence("/dev/shm writable", {True: "yes", False: "no", None: "unknown"}[shm.writable], "access(/dev/shm, W_OK)"))


GEFORCE_P2P = ("an NCCL developer in NVIDIA/nccl-tests#287 (2025-02-20): \"GeForce cards do not support P2P.\"; "
               "hangs and wrong copies on GeForce RTX 3090/4090 with drivers that report it: pytorch/pytorch#119638, "
               "Lightning-AI/pytorch-lightning#19425, InternLM/lmdeploy#1750 (read 2026-12-06)")
P2P_CONSUMER_FROM = (8, 6)
"""GeForce GPUs from Ampere's GA10x on (RTX 30xx: 8.6, RTX 40xx: 8.9, RTX 50xx: 12.0), whose peer access over PCIe the
threads above show broken where a driver reports it; older GeForce cards are left out (their PCIe peer access is not
what the threads are about)."""


def nccl_kept_off_pcie_p2p(snapshot: Snapshot) -> str | None:
    """The variable that keeps NCCL off peer-to-peer over PCIe ("NCCL_P2P_DISABLE=1", "NCCL_P2P_LEVEL=NVL"), or None.
    NCCL_P2P_LEVEL's LOC (0) and NVL allow no PCIe path; PIX, PXB, PHB and SYS (1-5) do (NCCL's environment variables,
    docs.nvidia.com/deeplearning/nccl/user-guide/docs/env.html, read 2026-12-06)."""
    environment = snapshot.system.environment
    if environment.get("NCCL_P2P_DISABLE", "0") not in ("", "0"):
        return f"NCCL_P2P_DISABLE={environment['NCCL_P2P_DISABLE']}"
    level = environment.get("NCCL_P2P_LEVEL", "").strip().upper()
    return f"NCCL_P2P_LEVEL={level}" if level in ("LOC", "NVL", "0") else None


def geforce_peer_access(snapshot: Snapshot) -> tuple[PeerLink, ...]:
    """The pairs of GeForce GPUs (RTX 30 series on) the driver says have peer access over PCIe; empty otherwise, or when
    it was not read. Whether NCCL is kept off it is nccl_kept_off_pcie_p2p's question."""
    gpus = {g.index: g for g in snapshot.nvml.gpus}
    return tuple(link for link in snapshot.nvml.peer_links or () if link.read == "ok" and link.nvlink != "ok"
                 and all(_geforce_from_ampere(gpus.get(i)) for i in link.gpus))


def _geforce_from_ampere(gpu: NvmlGpu | None) -> bool:
    return (gpu is not None and "geforce" in (gpu.name or "").lower() and gpu.compute_capability is not None
            and tuple(gpu.compute_capability) >= P2P_CONSUMER_FROM)
