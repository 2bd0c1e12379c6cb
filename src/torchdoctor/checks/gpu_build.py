"""TD22x-TD24x: does the CUDA build of torch fit this GPU's architecture and this driver?"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from torchdoctor.checks.builds import (
    build_alternatives,
    driver_cuda,
    gpus,
    is_cuda_build,
    line_is_bound,
    selection_fix,
    use_build_fix,
)
from torchdoctor.checks.common import (
    documented_evidence,
    documented_sync,
    driver_library_versions,
    nvidia_gpu_evidence,
    nvml_source,
    torch_source,
)
from torchdoctor.checks.registry import DISPLAY_ONLY, SAFE, UNSAFE, Finding, rule
from torchdoctor.knowledge import (
    Capability,
    capability_text,
    coverage,
    cuda_of_variant,
    knowledge,
    series_of,
    sm_name,
    variant_of_cuda,
)
from torchdoctor.model import Applicability, Evidence, Fix, Severity
from torchdoctor.resolution import Planned, Resolution, project_model
from torchdoctor.snapshot import NvmlGpu, Snapshot

KNOWLEDGE_SOURCE = "torchdoctor knowledge base"


def build_arch_list(snapshot: Snapshot) -> tuple[tuple[str, ...], Evidence] | None:
    """The targets compiled into the installed torch: as it reports them, else from the knowledge base."""
    torch = snapshot.torch
    if torch.arch_list:
        return torch.arch_list, Evidence("torch arch list", " ".join(torch.arch_list), torch_source(snapshot))
    variant = variant_of_cuda(torch.cuda)
    if not torch.version or not variant:
        return None
    archs = knowledge().arch_list(torch.version, variant, snapshot.system.architecture or "x86_64")
    if not archs:
        return None
    build = knowledge().build(torch.version, variant)
    return archs, Evidence(f"arch list of torch {torch.version} wheels", " ".join(archs),
                           f"{KNOWLEDGE_SOURCE}: {build.source if build else 'the wheel tables'}")


def suggest_variant(snapshot: Snapshot, gpu: Capability) -> str | None:
    """A build that runs on `gpu` and that this driver supports, in one sentence, or None."""
    kb = knowledge()
    supported = driver_cuda(snapshot)
    driver = snapshot.nvml.driver_version or "current"

    def driver_ok(variant: str) -> bool:
        cuda = cuda_of_variant(variant)
        return supported is None or (cuda is not None and cuda[0] <= supported[0])

    version = snapshot.torch.version or snapshot.torch.installed_version
    if version:
        same = [v for v in kb.variants_covering(gpu, version) if driver_ok(v)]
        if same:
            release = kb.release(version)
            return (
                f"{same[0]}: the first torch {release.series if release else series_of(version)} variant with {sm_name(gpu)} that your {driver} driver supports "
                f"(https://download.pytorch.org/whl/{same[0]})"
            )
    for release, variant in kb.releases_covering(gpu):
        if driver_ok(variant):
            return (
                f"torch {release.latest} with {variant}: the newest release with {sm_name(gpu)} that your {driver} driver supports "
                f"(https://download.pytorch.org/whl/{variant})"
            )
    return None


def _arch_findings(snapshot: Snapshot, too_new: bool) -> Iterator[Finding]:
    torch = snapshot.torch
    if torch.status != "ok" or not torch.cuda:
        return
    found = build_arch_list(snapshot)
    if found is None:
        return
    archs, arch_evidence = found
    seen: set[Capability] = set()
    for gpu in gpus(snapshot):
        if gpu.capability in seen:
            continue
        seen.add(gpu.capability)
        result = coverage(gpu.capability, archs)
        if result.supported or result.reason == "no-targets":
            continue
        if (result.reason == "too-old") == too_new:
            continue
        arch_name = knowledge().architecture(gpu.capability) or "this"
        build_fix = use_build_fix(snapshot)
        evidence = (
            Evidence(f"GPU {gpu.index}", f"{gpu.name}, compute capability {capability_text(gpu.capability)} ({arch_name})", gpu.source),
            arch_evidence,
            Evidence("torch.__version__", str(torch.version), torch_source(snapshot)),
        )
        # The explanation names the same build the fix writes; without a pyproject fix, the best build here.
        suggestion = None if build_fix else suggest_variant(snapshot, gpu.capability)
        fix = f" The fix: {build_fix.title}." if build_fix else (f" Use {suggestion}." if suggestion else "")
        if too_new:
            why = (
                f"torch {torch.version} contains GPU code for {' '.join(archs)} only. A GPU of compute capability "
                f"{capability_text(gpu.capability)} can run code compiled for its own major version with an equal or lower minor "
                "(or PTX that the driver compiles forward), and this build has neither, so every CUDA operation fails with "
                "\"no kernel image is available for execution on the device\" even though is_available() may say True."
                + fix
            )
            message = f"{gpu.name} ({sm_name(gpu.capability)}, {arch_name}) is not supported by torch {torch.version}: the build has no code for it"
        else:
            why = (
                f"torch {torch.version} starts at {archs[0]}; the {arch_name} GPU here ({sm_name(gpu.capability)}) is older than "
                "every target in the build, so CUDA kernels cannot run on it (\"no kernel image is available\"). Newer CUDA "
                "variants dropped Maxwell, Pascal and then Volta; the cu126 variant (torch up to 2.14) still includes them."
                + fix
            )
            message = f"{gpu.name} ({sm_name(gpu.capability)}, {arch_name}) is too old for torch {torch.version}"
        yield Finding(Severity.ERROR, message, why, evidence, build_fix, build_alternatives(snapshot) if build_fix else ())


@rule("TD220", "gpu-too-new-for-build", fix=(SAFE, UNSAFE), cured_by_sync=True)
def gpu_too_new_for_build(snapshot: Snapshot) -> Iterator[Finding]:
    """The GPU is newer than every architecture the torch build was compiled for.

    What it detects:
        A GPU whose compute capability no SASS target of the build runs on (same major, equal or lower minor)
        and no PTX target can be JIT-compiled for: a Blackwell RTX 50-series (sm_120) or B200 (sm_100) with a
        cu118-cu126 build or torch older than 2.7. The build's list is the one torch reports, or the knowledge
        base's list for that version and variant. An RTX 4090 (sm_89) on a build with sm_86 is supported and
        not flagged.
    Why it matters:
        Every kernel launch fails with "no kernel image is available for execution on the device".
    Fix safety:
        In pyproject.toml, a CUDA variant whose arch list covers the GPU and that the driver supports (the message
        names it): the use-the-right-build fix maps the torch family to the recommended PyTorch index; it is unsafe when it
        replaces the index torch is mapped to now, and its alternatives (this machine's newest line, the extras
        pattern) are unsafe.
    """
    yield from _arch_findings(snapshot, too_new=True)


@rule("TD221", "gpu-too-old-for-build", fix=(SAFE, UNSAFE), cured_by_sync=True)
def gpu_too_old_for_build(snapshot: Snapshot) -> Iterator[Finding]:
    """The GPU is older than the oldest architecture the torch build was compiled for.

    What it detects:
        A Maxwell (sm_5x), Pascal (sm_6x) or Volta (sm_70) GPU with a build whose oldest target is newer: the
        cu128/cu129 builds of torch 2.8+ dropped Maxwell and Pascal, cu130+ and 2.11's cu128 dropped Volta.
    Why it matters:
        torch warns that the GPU "is too old" and kernels fail with "no kernel image is available".
    Fix safety:
        In pyproject.toml, the cu126 variant (torch <= 2.14), the last with these GPUs: the use-the-right-build fix maps the torch family to the recommended PyTorch index; it is unsafe when it
        replaces the index torch is mapped to now, and its alternatives (this machine's newest line, the extras
        pattern) are unsafe.
    """
    yield from _arch_findings(snapshot, too_new=False)


def _version_tuple(version: str | None) -> tuple[int, ...] | None:
    try:
        return Version(version).release if version else None
    except InvalidVersion:
        return None


@rule("TD222", "project-build-not-for-this-gpu", fix=(SAFE, UNSAFE, DISPLAY_ONLY))
def project_build_not_for_this_gpu(snapshot: Snapshot) -> Iterator[Finding]:
    """The torch build the project installs here has no code for this GPU.

    What it detects:
        For each selection (a plain `uv sync`, each extra and group), the torch build the resolution model
        says this machine gets, from uv.lock (exact) or pyproject.toml (predicted), checked against every GPU here
        by CUDA's SASS/PTX rules, with the knowledge base's arch list of that release and variant: a locked
        `2.6.0+cu126` on an RTX 5060 Ti (sm_120). A build already installed is left to TD220/TD221.
    Why it matters:
        The next `uv sync` installs a torch whose every kernel fails with "no kernel image is available". An error
        for a plain `uv sync`; for an opt-in extra a note when another selection works here.
    Fix safety:
        In pyproject.toml, then `uv lock`: the use-the-right-build fix maps the torch family to the recommended PyTorch index; it is unsafe when it
        replaces the index torch is mapped to now, and its alternatives (this machine's newest line, the extras
        pattern) are unsafe. Where each user picks the build with an extra or group (every torch source names
        one), no source can reach the plain install (uv refuses sources that overlap): the command that installs
        the project's own selection that runs here is shown instead.
    """
    yield from _planned_findings(snapshot, driver=False)


VENDOR_NAMED = re.compile(r"(?<![a-z])(rocm|amd|hip|xpu|intel|ipex)", re.IGNORECASE)
"""An extra or group named for a GPU vendor other than NVIDIA: choosing it is choosing that vendor's build."""


@rule("TD223", "project-build-for-another-gpu-vendor", fix=(SAFE, UNSAFE, DISPLAY_ONLY))
def project_build_for_another_gpu_vendor(snapshot: Snapshot) -> Iterator[Finding]:
    """The torch build the project installs here is for AMD (ROCm) or Intel (XPU) GPUs, on a machine with NVIDIA GPUs.

    What it detects:
        For each selection, the build the resolution model says this machine gets (uv.lock's `+rocm6.3`, `+xpu`, or
        the ROCm/XPU index pyproject.toml maps torch to), while NVML or the device files show an NVIDIA GPU.
    Why it matters:
        A ROCm or XPU build has no CUDA: `torch.cuda.is_available()` is False on an NVIDIA GPU and everything runs on
        the CPU. An error for a plain `uv sync` (a note when every torch source names that vendor's index: a project
        made for those GPUs); for an opt-in extra or group a note when another selection gives a CUDA build, a
        warning when none does. A selection named for its vendor (`--extra rocm`, `--group xpu`) is that
        vendor's on purpose and is not reported.
    Fix safety:
        For a plain `uv sync`, the use-the-right-build fix maps the torch family to a CUDA index (unsafe when it
        replaces the index torch is mapped to now); for an opt-in selection, the command of the project's own
        selection that gives a CUDA build, when there is one.
    """
    gpu = nvidia_gpu_evidence(snapshot)
    if not gpu:
        return
    model = project_model(snapshot)
    cuda = [r for r in model.machine if is_cuda_build(r.torch)]
    said: set[str] = set()
    for resolution in sorted(model.machine, key=lambda r: r.option is not None):
        planned = resolution.torch
        if planned is None or not planned.build or not planned.build.startswith(("rocm", "xpu")):
            continue
        if planned.version and snapshot.torch.status == "ok" and planned.version == snapshot.torch.version:
            continue  # installed already: the installed-torch rules speak about it
        default = resolution.option is None
        documented = documented_sync(snapshot, resolution.option)
        if not default and VENDOR_NAMED.search(resolution.option or ""):
            continue  # `--extra rocm`, `--group xpu`: a selection named for its vendor is for that vendor's GPUs
        if not default and planned.build in said:
            continue  # the plain install's error already says it
        if default:
            said.add(planned.build)
        how = "`uv sync`" if default else f"`uv sync {resolution.option}`"
        vendor = "AMD (ROCm)" if planned.build.startswith("rocm") else "Intel (XPU)"
        others = [r for r in cuda if r.option and r is not resolution]
        fix = use_build_fix(snapshot) if default else None
        if fix is None and others:
            fix = selection_fix(snapshot, None, lambda r: r in others)
        on_purpose = default and not cuda and _only_vendor_sources(snapshot, planned.build[:4])
        yield Finding(
            (Severity.INFO if on_purpose else Severity.ERROR) if default else Severity.ERROR if documented and not others
            else Severity.WARNING if documented or not others else Severity.INFO,
            f"{how} installs {_build_label(planned)}, a build for {vendor} GPUs, on this machine with an NVIDIA GPU"
            + ("" if default else f" ({documented.file} runs it)" if documented else " (an opt-in selection)")
            + (": the project is made for those GPUs" if on_purpose else ""),
            f"By the project's {resolution.basis}, {how} installs a {vendor} build of torch here. It has no CUDA: "
            "`torch.cuda.is_available()` is False on an NVIDIA GPU and everything runs on the CPU."
            + (f" {', '.join(f'`uv sync {r.option}`' for r in others)} installs a CUDA build." if others else ""),
            (Evidence(f"{'locked' if resolution.basis == 'uv.lock' else 'planned'} torch ({resolution.selection})",
                      f"{_build_label(planned)} ({planned.build_basis})", _planned_source(snapshot, resolution)), *gpu,
             *documented_evidence(documented)),
            fix,
        )


def _only_vendor_sources(snapshot: Snapshot, prefix: str) -> bool:
    """Every torch source of the project names an index of that vendor's builds (`rocm…`, `xpu…`): a project made for
    those GPUs, not one that sends an NVIDIA machine there by accident."""
    from torchdoctor.indexes import parse_index_url

    pyproject = snapshot.project.pyproject
    if pyproject is None:
        return False
    urls = {index.name: index.url for index in pyproject.indexes if index.name}
    torch_sources = [s for s in pyproject.sources if s.package == "torch" and s.kind == "index"]
    variants = [parse_index_url(urls.get(s.target or "") or "").variant or "" for s in torch_sources]
    return bool(variants) and all(v.startswith(prefix) for v in variants)


@rule("TD230", "driver-too-old-for-build", fix=(SAFE, UNSAFE, DISPLAY_ONLY), cured_by_sync=True)
def driver_too_old_for_build(snapshot: Snapshot) -> Iterator[Finding]:
    """The NVIDIA driver is older than the CUDA version the torch build needs.

    What it detects:
        The newest CUDA the driver supports (NVML, or cuDriverGetVersion in the project's interpreter)
        against `torch.version.cuda`. A lower CUDA major (a 575 driver with a cu130 build, which needs
        R580+) is an error. The same major with a lower minor (a 12.8 driver with a cu129 build) runs by CUDA's
        minor-version compatibility (NVIDIA's compatibility guide): a note that says so and what it does not cover,
        JIT of the newer toolkit's PTX; a warning only where torch needs that JIT here, a GPU the build carries as
        PTX alone ("the provided PTX was compiled with an unsupported toolchain"). Under WSL the driver is the
        Windows one.
    Why it matters:
        CUDA initialisation fails ("The NVIDIA driver on your system is too old") and torch runs on the CPU,
        or some kernels fail later.
    Fix safety:
        Where the project installs this torch (the interpreter is its uv environment), the fix maps the torch family to
        a CUDA line this driver runs outright, as the locked-build finding's fix does (safe, or unsafe when it
        replaces the index torch is mapped to now); it cures once `uv sync` has installed it. The driver update is
        the alternative, for you to run, and the fix itself where other packages are built for the project's line
        or no line in the project's range runs on this driver.
    """
    torch = snapshot.torch
    if torch.status != "ok" or not torch.cuda:
        return
    supported = driver_cuda(snapshot)
    needed = _version_tuple(torch.cuda)
    if supported is None or needed is None or len(needed) < 2:
        return
    needed = (needed[0], needed[1])
    if supported >= needed:
        return
    host = "Windows" if snapshot.system.wsl or snapshot.system.os_name == "Windows" else "Linux"
    floor = knowledge().driver_floor(needed[0])
    driver = snapshot.nvml.driver_version or "unknown"
    evidence = [
        Evidence("driver", f"{driver} (supports CUDA {supported[0]}.{supported[1]})", nvml_source(snapshot)),
        Evidence("torch.version.cuda", torch.cuda, torch_source(snapshot)),
    ]
    if floor is not None:
        minimum = floor.windows if host == "Windows" else floor.linux
        evidence.append(Evidence(f"minimum {host} driver for CUDA {needed[0]}.x", minimum, f"{KNOWLEDGE_SOURCE}: {floor.source}"))
    else:
        minimum = None
    where = " (the Windows host's driver, which WSL uses)" if snapshot.system.wsl else ""
    driver_fix, alternatives = _driver_cures(snapshot)
    if supported[0] < needed[0]:
        need = f"a CUDA {needed[0]} driver" + (f" ({minimum} or newer on {host})" if minimum else "")
        yield Finding(
            Severity.ERROR,
            f"the NVIDIA driver {driver}{where} supports CUDA up to {supported[0]}.{supported[1]}, but torch {torch.version} is a CUDA {torch.cuda} build",
            f"A CUDA {torch.cuda} build needs {need}. With this driver CUDA initialisation fails and torch runs on the CPU. "
            f"Update the driver{where}, or use a CUDA {supported[0]}.x variant of torch.",
            tuple(evidence),
            driver_fix,
            alternatives,
        )
    else:
        # Minor-version compatibility (NV-MVC in knowledge/cuda_drivers.toml): a CUDA X.y build runs on any driver of
        # CUDA X. What it does not cover is JIT-compiling PTX of the newer toolkit, which torch's own kernels need
        # only on a GPU the build carries as PTX alone: then it fails, and that is what is said.
        jit = _served_by_ptx_alone(snapshot)
        evidence.append(Evidence("CUDA minor-version compatibility", f"a CUDA {needed[0]}.x build runs on every CUDA "
                                 f"{needed[0]} driver, except for JIT of newer PTX", MINOR_COMPAT_SOURCE))
        if jit:
            gpu, target = jit
            yield Finding(
                Severity.WARNING,
                f"the {gpu} runs torch {torch.version} only through PTX ({target}), which the driver {driver}{where} "
                f"(CUDA {supported[0]}.{supported[1]}) cannot compile: it is from CUDA {torch.cuda}",
                f"CUDA's minor-version compatibility lets a CUDA {needed[0]}.x build run on this CUDA {needed[0]} driver, but "
                "not JIT-compile PTX made by the newer toolkit, and this build has no machine code for this GPU, only PTX: "
                "kernels fail with \"the provided PTX was compiled with an unsupported toolchain\". Update the driver, or "
                f"use a variant no newer than cu{supported[0]}{supported[1]}.",
                tuple(evidence),
                driver_fix,
                alternatives,
            )
            return
        yield Finding(
            Severity.INFO,
            f"torch {torch.version} (CUDA {torch.cuda}) runs on the driver {driver}{where} (CUDA {supported[0]}.{supported[1]}) "
            "by CUDA's minor-version compatibility",
            f"From CUDA 11, a build of a newer minor runs on any driver of its major: this one has machine code for every "
            f"GPU here, so torch's kernels need no JIT. Not covered: PTX of CUDA {torch.cuda} compiled by this driver, as an "
            "extension built with that toolkit that ships only PTX would need (\"the provided PTX was compiled with an "
            "unsupported toolchain\"). Updating the driver removes that limit.",
            tuple(evidence),
            driver_fix,
            alternatives,
        )


MINOR_COMPAT_SOURCE = f"{KNOWLEDGE_SOURCE}: NV-MVC (docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html)"


def _served_by_ptx_alone(snapshot: Snapshot) -> tuple[str, str] | None:
    """A GPU here that the installed build covers only with PTX (no SASS it can run), with that PTX target."""
    found = build_arch_list(snapshot)
    if found is None:
        return None
    for gpu in gpus(snapshot):
        result = coverage(gpu.capability, found[0])
        if result.supported and result.via and result.via.startswith("compute_"):
            return gpu.name, result.via
    return None


def _driver_cures(snapshot: Snapshot) -> tuple[Fix, tuple[Fix, ...]]:
    """The installed build needs a newer driver: where the project installs torch, its fix moves the family to a line
    this driver runs outright (the driver update the alternative); where other packages are built for the project's
    line, the driver update first and the move after it; otherwise the driver update alone."""
    driver = driver_update_fix(snapshot)
    move = use_build_fix(snapshot, outright=True)
    if move is None:
        return driver, ()
    others = build_alternatives(snapshot, outright=True)
    if line_is_bound(snapshot, move):
        return driver, (move, *others)
    return move, (*others, driver)


def driver_update_fix(snapshot: Snapshot) -> Fix:
    """The driver update, as commands for the user to run (under WSL the Windows host's driver)."""
    where = " (the Windows host's driver, which WSL uses)" if snapshot.system.wsl else ""
    if snapshot.system.wsl:
        update = ("# in Windows: install the newest NVIDIA driver from https://www.nvidia.com/Download/index.aspx",
                  "wsl --shutdown   # in PowerShell after the update, then reopen the WSL terminal")
    else:
        update = ("sudo ubuntu-drivers install   # Ubuntu; elsewhere your distribution's newest NVIDIA driver", "sudo reboot")
    return Fix(f"Update the NVIDIA driver{where}", Applicability.DISPLAY_ONLY, commands=update)


@rule("TD231", "driver-module-mismatch", fix=DISPLAY_ONLY)
def driver_module_mismatch(snapshot: Snapshot) -> Iterator[Finding]:
    """The loaded NVIDIA kernel module and the driver library have different versions.

    What it detects:
        On native Linux, outside a container (TD525 covers one): /proc/driver/nvidia/version (the kernel module that
        is running) differs from the driver library's version, as NVML reports it or, when NVML cannot start (which
        is what a mismatch does), as the library's file name says (libnvidia-ml.so.550.107.02); or NVML refuses with
        "Driver/library version mismatch". This is what a driver upgrade without a reboot leaves behind.
    Why it matters:
        CUDA fails to initialise ("system has unsupported display driver / cuda driver combination",
        error 803) or NVML reports "Driver/library version mismatch" until the module is reloaded.
    Fix safety:
        Reboot (or unload and reload the nvidia modules).
    """
    system = snapshot.system
    if system.wsl or system.container:
        return
    kernel = system.nvidia_kernel_driver
    refused = snapshot.nvml.error_code == 18 or "version mismatch" in (snapshot.nvml.error or "").lower()
    library = snapshot.nvml.driver_version or (next((v for v in driver_library_versions(snapshot) if v != kernel), None)
                                               if refused else None)  # a stale file beside a working driver is nothing
    source = nvml_source(snapshot) if snapshot.nvml.driver_version else "the driver library's file name"
    if not ((kernel and library and kernel != library) or refused):
        return
    yield Finding(
        Severity.ERROR,
        (f"the running NVIDIA kernel module is {kernel} but the driver library is {library}: reboot to finish the driver update"
         if kernel and library and kernel != library else
         "NVML refuses with \"Driver/library version mismatch\": the driver was updated and the old kernel module still runs"),
        "The driver was updated while the old kernel module kept running. Programs load the new library, which refuses to "
        "talk to the old module, so CUDA fails to initialise until the machine is rebooted (or the nvidia modules are "
        "reloaded).",
        tuple(e for e in (
            Evidence("kernel module", kernel, "/proc/driver/nvidia/version") if kernel else None,
            Evidence("driver library", library, source) if library else None,
            Evidence("NVML", snapshot.nvml.error or "", nvml_source(snapshot)) if refused else None,
        ) if e is not None),
        Fix("Reboot to load the updated kernel module", Applicability.DISPLAY_ONLY, commands=("sudo reboot",)),
    )


@rule("TD232", "project-build-needs-newer-driver", fix=(SAFE, UNSAFE, DISPLAY_ONLY))
def project_build_needs_newer_driver(snapshot: Snapshot) -> Iterator[Finding]:
    """The torch build the project installs here needs a newer NVIDIA driver than this machine has.

    What it detects:
        For each selection, the CUDA version of the build the resolution model says this machine gets (uv.lock's
        `+cu130`, or the index pyproject.toml maps torch to) against the newest CUDA the driver supports: an older
        CUDA major is an error for a plain `uv sync`. An older minor of the same major runs by CUDA's minor-version
        compatibility and is said only where the build reaches a GPU here through PTX alone, which this driver
        cannot JIT-compile (a warning for a plain `uv sync`).
    Why it matters:
        After `uv sync`, CUDA initialisation fails ("The NVIDIA driver on your system is too old") and torch runs
        on the CPU.
    Fix safety:
        The driver update is for you to run; in pyproject.toml, the use-the-right-build fix maps the torch family to
        the index of a variant this driver runs outright (never the line the finding is about, which runs only by
        CUDA's minor-version compatibility at best); it is unsafe when it replaces the index torch is mapped to
        now, and its alternatives (this machine's newest line, the extras pattern) are unsafe. Where no variant in
        the project's range runs on this driver, or each user picks the build with an extra or group, the fix is
        the project's own selection that runs here, else the driver update, as commands.
    """
    yield from _planned_findings(snapshot, driver=True)


MIG_GUIDE = ("NVIDIA's MIG user guide, \"CUDA Device Enumeration\" (docs.nvidia.com/datacenter/tesla/mig-user-guide/"
             "mig-device-names.html, read 2026-12-06)")


@rule("TD240", "mig-enabled", fix=DISPLAY_ONLY)
def mig_enabled(snapshot: Snapshot) -> Iterator[Finding]:
    """A GPU is in MIG (Multi-Instance GPU) mode: with no MIG device created, or with several a process cannot all see.

    What it detects:
        NVML reports MIG mode on a GPU (A100, H100, H200, B200 class), and the MIG devices created on it. No MIG
        device on it: an error when no other GPU is left to CUDA (nothing CUDA runs on), else a warning (in a
        container: none given to it, or none created). Several MIG devices and CUDA_VISIBLE_DEVICES unset or naming
        several: a warning, since a CUDA process sees only the first.
        torch seeing no device while MIG devices exist: a warning (none is given to this process). Else a note.
    Why it matters:
        A GPU in MIG mode runs CUDA only inside the MIG devices created on it, and MIG mode survives a reboot while
        its devices do not: torch.cuda.is_available() is False, "CUDA_ERROR_NO_DEVICE" (real threads:
        NVIDIA/k8s-device-plugin#225, nanoporetech/megalodon#275). A CUDA process enumerates a single MIG device
        (NVIDIA's MIG user guide): DDP over two MIG devices of one process fails with "device >= 0 && device <
        num_gpus INTERNAL ASSERT FAILED" (pytorch/pytorch#130181, #131650); one process per MIG device, each given
        its own by UUID in CUDA_VISIBLE_DEVICES, is the way.
    Fix safety:
        MIG is configured by the administrator (`nvidia-smi mig`, root): the commands are shown, never run.
    """
    enabled = [g for g in snapshot.nvml.gpus if g.mig_enabled]
    if not enabled:
        return
    torch = snapshot.torch
    no_devices = torch.status == "ok" and torch.imported and bool(torch.cuda) and not torch.device_count
    empty = [g for g in enabled if g.mig_devices == ()]
    visible = snapshot.system.environment.get("CUDA_VISIBLE_DEVICES")
    chosen = [part.strip() for part in (visible or "").split(",") if part.strip()]
    several = [g for g in enabled if g.mig_devices and len(g.mig_devices) > 1]
    evidence = tuple(Evidence(f"GPU {g.index} MIG mode", "enabled" + (
        f", {len(g.mig_devices)} MIG device(s)" if g.mig_devices is not None else ""), nvml_source(snapshot)) for g in enabled)
    if empty:
        yield _no_mig_device(snapshot, empty, evidence)
    elif several and len(chosen) != 1:
        # CUDA_VISIBLE_DEVICES naming one device (a MIG UUID, or the index a batch scheduler gives a one-slice job)
        # is one process given one MIG device: the way it is meant.
        yield _several_mig_devices(several, visible, evidence)
    else:
        names = ", ".join(f"{g.index}: {g.name}" for g in enabled)
        yield Finding(
            Severity.WARNING if no_devices else Severity.INFO,
            f"MIG mode is on for {names}" + ("; torch sees no CUDA device" if no_devices else ""),
            "In MIG mode a GPU is split into isolated instances, and a process only sees the instance it is given: part "
            "of the GPU's memory and compute. Benchmarks and memory limits reflect the slice, not the whole card."
            + (" torch sees no device, so no MIG device is given to this process (in a batch job, ask for one; or set "
               "CUDA_VISIBLE_DEVICES to a MIG device's UUID from `nvidia-smi -L`)." if no_devices else ""),
            evidence,
        )


def _no_mig_device(snapshot: Snapshot, empty: list[NvmlGpu], evidence: tuple[Evidence, ...]) -> Finding:
    others = [g for g in snapshot.nvml.gpus if g not in empty and not (g.mig_enabled and g.mig_devices == ())]
    first = empty[0].index
    container = snapshot.system.container
    if container:
        # A container sees the MIG devices it was given, not those created on the GPU: which is the case is unknown.
        return Finding(
            Severity.WARNING if others else Severity.ERROR,
            f"GPU {', '.join(str(g.index) for g in empty)} is in MIG mode and this {container} container sees no MIG "
            "device on it: CUDA has no device there",
            "A GPU in MIG mode runs CUDA only inside MIG devices, and a container sees only the ones it is given: none "
            "was given to this one, or none is created on the host (MIG devices do not survive a reboot).",
            evidence,
            Fix("Give the container a MIG device", Applicability.DISPLAY_ONLY, commands=(
                "nvidia-smi -L   # on the host: the MIG devices and their UUIDs (none listed: create them there)",
                "docker run --gpus '\"device=MIG-<uuid>\"' ...   # Kubernetes: request nvidia.com/mig-<profile>",
            )),
        )
    return Finding(
        Severity.WARNING if others else Severity.ERROR,
        f"GPU {', '.join(str(g.index) for g in empty)} is in MIG mode with no MIG device created: CUDA has no device "
        "there" + ("" if others else ", so nothing CUDA runs on this machine"),
        "A GPU in MIG mode runs CUDA only inside MIG devices (a GPU instance and a compute instance), and none is created "
        "on it: CUDA sees no device there (torch.cuda.is_available() is False, \"CUDA_ERROR_NO_DEVICE\", \"no CUDA-"
        "capable device is detected\"). MIG mode stays on across a reboot, but the MIG devices do not: they must be "
        "created again after every boot (NVIDIA's mig-parted or the GPU operator does it), or MIG turned off.",
        evidence,
        Fix("Create a MIG device, or turn MIG mode off", Applicability.DISPLAY_ONLY, commands=(
            f"sudo nvidia-smi mig -i {first} -lgip   # the GPU instance profiles this GPU offers",
            f"sudo nvidia-smi mig -i {first} -cgi <profile> -C   # create one and its compute instance",
            f"# or: sudo nvidia-smi -i {first} -mig 0   # MIG off; the GPU must be idle, and may need a reset",
        )),
    )


def _several_mig_devices(several: list[NvmlGpu], visible: str | None, evidence: tuple[Evidence, ...]) -> Finding:
    gpu = several[0]
    uuids = [d.uuid for d in gpu.mig_devices or () if d.uuid]
    return Finding(
        Severity.WARNING,
        f"GPU {gpu.index} has {len(gpu.mig_devices or ())} MIG devices, but a CUDA process sees only one"
        + (f" (CUDA_VISIBLE_DEVICES={visible})" if visible else ""),
        "CUDA enumerates a single MIG device per process (" + MIG_GUIDE + "): torch.cuda.device_count() is 1, and "
        "DDP or device_map over several MIG devices of one process fails (\"device >= 0 && device < num_gpus INTERNAL "
        "ASSERT FAILED\"); NCCL between MIG devices has no peer-to-peer path. Give each process one MIG device by its "
        "UUID in CUDA_VISIBLE_DEVICES (torchrun: one per rank, in a wrapper that reads LOCAL_RANK).",
        evidence,
        Fix("Give each process one MIG device by UUID", Applicability.DISPLAY_ONLY, commands=tuple(
            f"CUDA_VISIBLE_DEVICES={uuid} python train.py" for uuid in uuids[:4]) or (
            "nvidia-smi -L   # the MIG devices' UUIDs", "CUDA_VISIBLE_DEVICES=MIG-<uuid> python train.py")),
    )


# ---------------------------------------------------------------------------------------------
# The build the project installs, not only the one installed now


def _build_label(planned: Planned) -> str:
    """"torch 2.6.0+cu126", "torch 2.8.0 (cu128)" or "torch 2.9 (cu126)" for a predicted release series."""
    if planned.version:
        return f"torch {planned.version}" + ("" if "+" in planned.version else f" ({planned.build})")
    return f"torch {planned.series or planned.specifier or ''} ({planned.build})".replace("torch  (", "torch (")


@dataclass(frozen=True)
class _PlannedProblem:
    resolution: Resolution
    planned: Planned
    what: str
    reason: str
    evidence: tuple[Evidence, ...]
    fatal: bool
    """True when it will fail (no code for the GPU, a driver of an older CUDA major); False when it may."""


def _planned_source(snapshot: Snapshot, resolution: Resolution) -> str:
    project = snapshot.project
    if resolution.basis == "uv.lock" and project.lock is not None:
        return project.lock.path
    return project.pyproject.path if project.pyproject else "pyproject.toml"


def _planned_problems(snapshot: Snapshot, driver: bool) -> list[_PlannedProblem]:
    """For each selection on this machine whose torch is a CUDA build: what keeps it from running here."""
    model = project_model(snapshot)
    installed = snapshot.torch.version if snapshot.torch.status == "ok" else None
    problems = []
    kb = knowledge()
    for resolution in model.machine:
        planned = resolution.torch
        if planned is None or not planned.build or cuda_of_variant(planned.build) is None:
            continue
        if planned.version and installed and planned.version == installed:
            continue  # installed already: TD220/TD221/TD230 speak about it
        release = kb.release(planned.version or f"{planned.series}.0") if (planned.version or planned.series) else None
        version = planned.version or (release.latest if release else None)
        what = _build_label(planned)
        source = _planned_source(snapshot, resolution)
        planned_evidence = Evidence(f"{'locked' if resolution.basis == 'uv.lock' else 'planned'} torch ({resolution.selection})",
                                    f"{what} ({planned.build_basis})", source)
        if driver:
            supported = driver_cuda(snapshot)
            needed = cuda_of_variant(planned.build)
            if supported is None or needed is None or supported >= needed:
                continue
            fatal = supported[0] < needed[0]
            if not fatal and not _planned_needs_ptx_jit(snapshot, planned, version):
                continue  # minor-version compatibility: it runs here (TD230 says so once it is installed)
            floor = kb.driver_floor(needed[0])
            host = "Windows" if snapshot.system.wsl or snapshot.system.os_name == "Windows" else "Linux"
            minimum = (floor.windows if host == "Windows" else floor.linux) if floor else None
            reason = (f"{what} is a CUDA {needed[0]}.{needed[1]} build; the driver here supports CUDA up to "
                      f"{supported[0]}.{supported[1]}" + (f" (CUDA {needed[0]} needs {minimum} or newer on {host})" if minimum and fatal else ""))
            evidence: tuple[Evidence, ...] = (planned_evidence, Evidence("driver", f"{snapshot.nvml.driver_version or 'unknown'} (supports CUDA "
                                                   f"{supported[0]}.{supported[1]})", nvml_source(snapshot)))
            problems.append(_PlannedProblem(resolution, planned, what, reason, evidence, fatal))
            continue
        if version is None:
            continue
        archs = kb.arch_list(version, planned.build, snapshot.system.architecture or "x86_64")
        if not archs:
            continue
        build, release = kb.build(version, planned.build), kb.release(version)
        for gpu in gpus(snapshot):
            result = coverage(gpu.capability, archs)
            if result.supported or result.reason == "no-targets":
                continue
            reason = (f"{what} has no code for the {gpu.name} ({sm_name(gpu.capability)}): its wheels carry "
                      f"{' '.join(archs)}")
            evidence = (planned_evidence,
                        Evidence(f"GPU {gpu.index}", f"{gpu.name}, compute capability {capability_text(gpu.capability)}", gpu.source),
                        Evidence(f"arch list of torch {release.series if release else version} {planned.build} wheels",
                                 " ".join(archs), f"{KNOWLEDGE_SOURCE}: {build.source if build else 'the wheel tables'}"))
            problems.append(_PlannedProblem(resolution, planned, what, reason, evidence, True))
            break
    return problems


def _planned_needs_ptx_jit(snapshot: Snapshot, planned: Planned, version: str | None) -> bool:
    """Whether the planned build runs on a GPU here only through PTX (the one thing minor-version compatibility does
    not cover); False when the tables do not know its arch list (then nothing is claimed)."""
    archs = knowledge().arch_list(version, planned.build or "", snapshot.system.architecture or "x86_64") if version else None
    if not archs:
        return False
    return any((c := coverage(gpu.capability, archs)).supported and (c.via or "").startswith("compute_")
               for gpu in gpus(snapshot))


def _planned_findings(snapshot: Snapshot, driver: bool) -> Iterator[Finding]:
    problems = _planned_problems(snapshot, driver)
    if not problems:
        return
    model = project_model(snapshot)
    failing = {id(p.resolution) for p in problems}
    # A selection that runs here: a CUDA build this GPU and driver were not found to fail with.
    working = [r for r in model.machine if r.option and id(r) not in failing and is_cuda_build(r.torch)]
    for problem in problems:
        resolution = problem.resolution
        default = resolution.option is None
        documented = documented_sync(snapshot, resolution.option)
        how = "`uv sync`" if default else f"`uv sync {resolution.option}`"
        if default or documented:  # what the project tells everyone to run is its plain install in practice
            severity = Severity.ERROR if problem.fatal else Severity.WARNING
        else:
            severity = Severity.INFO if working else (Severity.WARNING if problem.fatal else Severity.INFO)
        alternative = f" {', '.join(f'`uv sync {r.option}`' for r in working)} installs a build that runs here." if working else ""
        suggestion = None
        if not driver:
            first_gpu = gpus(snapshot)[0].capability if gpus(snapshot) else None
            suggestion = suggest_variant(snapshot, first_gpu) if first_gpu else None
        fix = use_build_fix(snapshot, outright=driver) if default else None
        alternatives = build_alternatives(snapshot, outright=driver) if fix else ()
        if driver and fix is not None and line_is_bound(snapshot, fix):
            # Other packages are built for the project's line: moving torch off it breaks them. The driver is the cure;
            # the move stays on offer, saying what would not follow.
            fix, alternatives = driver_update_fix(snapshot), (fix, *alternatives)
        picked = selection_fix(snapshot, None, lambda r: r in working) if default and fix is None and working else None
        if driver and fix is None and picked is None:
            picked = driver_update_fix(snapshot)  # no line in the project's range runs on this driver: the driver must move
        yield Finding(
            severity,
            f"{how} installs {problem.what}, which "
            + ("cannot run on this GPU" if not driver else "needs a newer driver than this machine's")
            + ("" if default else f" ({documented.file} runs it)" if documented else " (an opt-in selection)"),
            f"By the project's {resolution.basis}, {how} on this machine installs a build that will not work here: "
            f"{problem.reason}."
            + (" Every CUDA operation would fail with \"no kernel image is available for execution on the device\"."
               if not driver else " CUDA initialisation would fail and torch would run on the CPU." if problem.fatal else
               " CUDA's minor-version compatibility covers most, not all, of that.")
            + alternative
            + (f" Use {suggestion}." if suggestion and not fix else "")
            + (f" The fix: {fix.title}." if fix else ""),
            (*problem.evidence, *documented_evidence(documented)),
            fix or picked,
            alternatives,
        )


@rule("TD250", "extension-without-kernels-for-this-gpu", fix=DISPLAY_ONLY)
def extension_without_kernels(snapshot: Snapshot) -> Iterator[Finding]:
    """An installed library with CUDA code carries no kernel that runs on this GPU.

    What it detects:
        A shared library of torch, or of a package that builds against torch (flash-attn, xformers, vllm,
        bitsandbytes, a project's own extension), whose embedded GPU code (read from its fat binary headers, without
        loading it) has neither SASS for this GPU's architecture family at or below its version (`sm_90a`-style code
        only for that exact GPU) nor PTX at or below it that the driver can compile.
    Why it matters:
        The first kernel launched from that library fails with "CUDA error: no kernel image is available for
        execution on the device", although `import torch` and `torch.cuda.is_available()` succeed: the usual case is
        an extension wheel built for sm_80/sm_90 on an RTX 50-series (sm_120). torch's own arch list says nothing
        about extensions.
    Fix safety:
        Install a build of the package made for this GPU (its release notes name the architectures),
        or build it here with TORCH_CUDA_ARCH_LIST set to this GPU's capability.
    """
    if not snapshot.gpu_code:
        return
    for gpu in gpus(snapshot):
        by_package: dict[str, list] = {}
        for library in snapshot.gpu_code:
            targets = [*library.sass, *(f"compute_{arch.removeprefix('sm_')}" for arch in library.ptx)]
            if not coverage(gpu.capability, targets).supported:
                by_package.setdefault(library.package, []).append(library)
        for package, libraries in sorted(by_package.items()):
            first = libraries[0]
            archs = " ".join(first.sass) + (f" · PTX {' '.join(first.ptx)}" if first.ptx else " · no PTX")
            build_for = capability_text(gpu.capability)
            yield Finding(
                Severity.ERROR,
                f"{package} has no kernels for GPU {gpu.index} ({gpu.name}, {sm_name(gpu.capability)}): "
                f"{len(libraries)} of its libraries carry only {archs}",
                f"A kernel launched from {first.path} fails with \"no kernel image is available for execution on the "
                f"device\": its SASS is for other architectures and it has no PTX this GPU's driver can compile. "
                f"Install a {package} build made for {sm_name(gpu.capability)}, or build it here with "
                f"TORCH_CUDA_ARCH_LIST=\"{build_for}\".",
                (Evidence(f"GPU code in {first.path}", archs, "fat binary headers of the installed library"),
                 Evidence(f"GPU {gpu.index}", f"{gpu.name} · {sm_name(gpu.capability)}", gpu.source)),
                Fix(f"Install or build {package} for {sm_name(gpu.capability)}", Applicability.DISPLAY_ONLY,
                    commands=(f'TORCH_CUDA_ARCH_LIST="{build_for}" uv pip install --no-build-isolation --no-binary {package} {package}',)),
            )


def ptx_beyond_driver(snapshot: Snapshot, library) -> str | None:
    """Why the driver cannot JIT this library's PTX (its ISA is newer than the driver's CUDA), or None when it can or
    when that is not known (no ISA read, no driver version, an ISA past our tables on a driver newer than them)."""
    driver = driver_cuda(snapshot)
    if not library.ptx_isa or driver is None:
        return None
    try:
        isa = tuple(int(part) for part in library.ptx_isa.split("."))
    except ValueError:
        return None
    needed, exact = knowledge().cuda_for_ptx_isa(isa)  # type: ignore[arg-type]
    if exact and driver < needed:
        return (f"its PTX is ISA {library.ptx_isa}, which a driver loads from CUDA {needed[0]}.{needed[1]} on; this driver"
                f" supports CUDA {driver[0]}.{driver[1]}")
    if not exact and driver <= needed:
        return (f"its PTX is ISA {library.ptx_isa}, newer than torchdoctor's tables (they end at CUDA {needed[0]}.{needed[1]}),"
                f" so it needs a driver newer than CUDA {needed[0]}.{needed[1]}; this driver supports CUDA {driver[0]}.{driver[1]}")
    return None


@rule("TD251", "extension-built-for-another-torch", fix=DISPLAY_ONLY)
def extension_built_for_another_torch(snapshot: Snapshot) -> Iterator[Finding]:
    """An installed package with compiled code was built against another torch than the one installed.

    What it detects:
        A package that ships GPU code built against torch whose own libraries need C++ symbols of torch's namespaces
        (c10, at, torch) that the installed torch's libraries do not define (read from both sides' ELF dynamic symbol
        tables, probes/symbols.py), or whose metadata names another torch (xformers, vllm, flash-attn wheels pin the
        torch they were built for: `Requires-Dist: torch==2.5.1`).
    Why it matters:
        A C++ extension is linked against one torch's symbols: beside another torch, importing it fails with
        "undefined symbol" (or crashes), although both installed without complaint (`pip install` does not check an
        environment after the fact, and `uv pip install --no-deps` or a later torch upgrade breaks the pairing). The
        symbol tables say it for extensions built from source too, which name no torch in their metadata.
    Fix safety:
        Install the release of the package built for this torch, or the torch it names, or rebuild it.
    """
    from packaging.requirements import InvalidRequirement, Requirement

    installed = snapshot.torch.version or snapshot.torch.installed_version
    if not installed or not snapshot.gpu_code:
        return
    try:
        version = Version(installed)
    except InvalidVersion:
        return
    packages: dict[str, list] = {}
    for library in snapshot.gpu_code:
        if library.package != "torch":
            packages.setdefault(library.package, []).append(library)
    for package, libraries in sorted(packages.items()):
        requirement = None
        try:
            requirement = Requirement(libraries[0].requires_torch) if libraries[0].requires_torch else None
        except InvalidRequirement:
            pass
        excluded = requirement is not None and bool(requirement.specifier) and not (
            requirement.specifier.contains(version, prereleases=True)
            or requirement.specifier.contains(Version(version.public), prereleases=True))
        unresolved = next((library for library in libraries if library.missing_torch_symbols), None)
        if not excluded and unresolved is None:
            continue
        evidence = []
        if unresolved is not None:
            evidence.append(Evidence(f"torch symbols {unresolved.path} needs and torch {installed} lacks",
                                     f"{unresolved.missing_torch_symbol_count}: " + ", ".join(unresolved.missing_torch_symbols),
                                     "ELF dynamic symbol tables of the extension and of torch's libraries"))
        if requirement is not None:
            evidence.append(Evidence(f"{package} requirement", str(requirement), "its installed METADATA"))
        evidence.append(Evidence("installed torch", installed, torch_source(snapshot)))
        if unresolved is not None:
            message = (f"{package} cannot be imported beside torch {installed}: {unresolved.path} needs "
                       f"{unresolved.missing_torch_symbol_count} of torch's C++ symbols that it does not define"
                       + (f" (it was built for {requirement})" if excluded else ""))
        else:
            message = (f"{package} requires {requirement}, but torch {installed} is installed: its compiled code was built "
                       "against another torch")
        wanted = f'"{requirement}"' if excluded else f"a {package} built for torch {version.public}"
        yield Finding(
            Severity.ERROR,
            message,
            f"{package}'s libraries are linked against the torch they were built with; beside torch {installed}, "
            f"`import {package.replace('-', '_')}` fails with \"undefined symbol\" or crashes.",
            tuple(evidence),
            Fix(f"Install the {package} release built for torch {version.public}"
                + (f", or {requirement}" if excluded else ", or rebuild it against this torch"),
                Applicability.DISPLAY_ONLY,
                commands=(f"uv pip install {wanted}   # or reinstall {package} from source against this torch",)),
        )
@rule("TD252", "ptx-newer-than-driver", fix=DISPLAY_ONLY)
def ptx_newer_than_driver(snapshot: Snapshot) -> Iterator[Finding]:
    """A library's only code for this GPU is PTX that the driver is too old to compile.

    What it detects:
        An installed library whose SASS does not run on this GPU, whose PTX would (same or older architecture),
        but whose PTX ISA version (read from the fat binary header) needs a newer CUDA than the driver supports
        (the PTX ISA release history, knowledge/cuda_drivers.toml).
    Why it matters:
        The driver JIT-compiles PTX when no SASS fits; PTX of a newer ISA than the driver knows fails with
        CUDA_ERROR_UNSUPPORTED_PTX_VERSION ("the provided PTX was compiled with an unsupported toolchain") at the
        first kernel launch. Typical: a wheel built with a newer CUDA toolkit than the driver, on a GPU newer than
        the wheel's SASS.
    Fix safety:
        A driver of that CUDA release or newer, or a build of the package with SASS for this GPU.
    """
    if not snapshot.gpu_code:
        return
    for gpu in gpus(snapshot):
        said: set[str] = set()  # a package's libraries fail alike: one finding each
        for library in snapshot.gpu_code:
            if library.package in said or coverage(gpu.capability, library.sass).supported or not library.ptx:
                continue
            if not coverage(gpu.capability, [f"compute_{arch.removeprefix('sm_')}" for arch in library.ptx]).supported:
                continue  # no PTX for this GPU at all: TD250 says so
            why = ptx_beyond_driver(snapshot, library)
            if why is None:
                continue
            yield Finding(
                Severity.ERROR,
                f"{library.package} cannot run on GPU {gpu.index} ({gpu.name}, {sm_name(gpu.capability)}) with this driver: "
                f"{why}",
                f"No SASS in {library.path} fits {sm_name(gpu.capability)}, so the driver must compile its PTX at the first"
                " launch, and it cannot compile PTX newer than its CUDA: the launch fails with"
                " CUDA_ERROR_UNSUPPORTED_PTX_VERSION.",
                (Evidence(f"GPU code in {library.path}",
                          f"{' '.join(library.sass) or 'no SASS'} · PTX {' '.join(library.ptx)} (ISA {library.ptx_isa})",
                          "fat binary headers of the installed library"),
                 Evidence("driver", f"supports CUDA {'.'.join(map(str, driver_cuda(snapshot) or ()))}", nvml_source(snapshot)),
                 Evidence("PTX ISA → CUDA", library.ptx_isa, knowledge().ptx_isa_source)),
                Fix(f"Update the driver, or install {library.package} built with SASS for {sm_name(gpu.capability)}",
                    Applicability.DISPLAY_ONLY, commands=("nvidia-smi  # the driver and the CUDA it supports",)),
            )
            said.add(library.package)
