"""TD2xx: does the torch build fit this machine's GPU and driver?"""

from __future__ import annotations

from collections.abc import Iterator

from torchdoctor.checks.builds import build_alternatives, use_build_fix
from torchdoctor.checks.common import nvml_source, nvidia_gpu_evidence, torch_source
from torchdoctor.checks.registry import DISPLAY_ONLY, SAFE, UNSAFE, Finding, rule
from torchdoctor.model import Applicability, Evidence, Fix, Severity
from torchdoctor.snapshot import Snapshot

# What the "CUDA initialization: ..." warning (or the error it wraps) means, in the user's words.
# Matched as plain substrings of torch's own text; the first match wins.
CUDA_INIT_CAUSES = (
    ("driver on your system is too old", "the NVIDIA driver is older than the CUDA version this torch build needs"),
    ("driver version is insufficient", "the NVIDIA driver is older than the CUDA version this torch build needs"),
    ("Found no NVIDIA driver", "no NVIDIA driver is loaded (none installed, or its kernel module is not running)"),
    ("no CUDA-capable device is detected", "the driver sees no GPU: CUDA_VISIBLE_DEVICES, a container without GPU access, or a GPU that fell off the bus"),
    ("Error 803", "the driver's user-space library and kernel module do not match (a driver update without a reboot, or a CUDA compat package)"),
    ("Error 804", "a CUDA forward-compatibility package is in use on a GPU that does not support it (GeForce/RTX); remove cuda-compat from the library path"),
    ("CUDA unknown error", "the driver returned an unknown error; after suspend/resume on Linux the nvidia_uvm module usually needs a reload (or a reboot)"),
    ("Error 999", "the driver returned an unknown error; after suspend/resume on Linux the nvidia_uvm module usually needs a reload (or a reboot)"),
    ("busy or unavailable", "every GPU is in exclusive-process mode and already in use by another process"),
)


# CUresult codes of cuInit (cuda.h), as the driver API answered the probe before torch was imported.
CU_INIT_RESULTS = {
    0: "success",
    3: "CUDA_ERROR_NOT_INITIALIZED",
    35: "CUDA_ERROR_INSUFFICIENT_DRIVER: the driver is too old for this CUDA",
    46: "CUDA_ERROR_DEVICES_UNAVAILABLE: every GPU is busy or unavailable",
    100: "CUDA_ERROR_NO_DEVICE: no CUDA device is visible",
    101: "CUDA_ERROR_INVALID_DEVICE",
    304: "CUDA_ERROR_OPERATING_SYSTEM: an OS call failed",
    803: "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH: driver library and kernel module differ",
    804: "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE: forward-compatibility package on an unsupported GPU",
    999: "CUDA_ERROR_UNKNOWN",
}


def cuda_driver_evidence(snapshot: Snapshot) -> tuple[Evidence, ...]:
    """What cuInit said in the project's interpreter, before torch was imported."""
    driver = snapshot.torch.cuda_driver
    if driver is None:
        return ()
    source = f"CUDA driver API in {snapshot.interpreter.path}"
    if driver.library is None:
        return (Evidence("libcuda", f"not loadable: {driver.error}", source),)
    if driver.init_result is None:  # the first verdict asks only the version
        return ()
    meaning = CU_INIT_RESULTS.get(driver.init_result, "unrecognised result")
    return (Evidence(f"cuInit(0) via {driver.library}", f"{driver.init_result} ({meaning})", source),)


def explain_cuda_warning(text: str) -> str | None:
    for needle, meaning in CUDA_INIT_CAUSES:
        if needle.lower() in text.lower():
            return meaning
    return None


@rule("TD200", "cpu-only-setup")
def cpu_only_setup(snapshot: Snapshot) -> Iterator[Finding]:
    """A deliberate CPU-only setup: no NVIDIA GPU, and torch runs on the CPU (or Apple's GPU).

    What it detects:
        torch imports, this machine shows no NVIDIA GPU (and no AMD GPU), and torch is a CPU build (or macOS with MPS).
    Why it matters:
        Nothing is wrong; the note says what torch will use, so a healthy laptop is reported as healthy.
    Fix safety:
        Nothing to fix: torch runs on the CPU where no NVIDIA GPU is present.
    """
    torch = snapshot.torch
    if torch.status != "ok" or nvidia_gpu_evidence(snapshot) or torch.hip or (torch.cuda and torch.cuda_available):
        return
    if any(g.integrated is not True for g in snapshot.system.amd_gpus or ()):
        return  # a discrete AMD GPU is here: a build that cannot use it is TD225's finding, not a deliberate CPU setup
    if torch.mps_available:
        yield Finding(
            Severity.INFO,
            f"torch {torch.version} can use this Mac's GPU through MPS (device \"mps\")",
            "Apple GPUs are used through the Metal Performance Shaders backend, not CUDA: move models with `.to(\"mps\")`.",
            (Evidence("torch.backends.mps.is_available()", "True", torch_source(snapshot)),),
        )
    elif not torch.cuda:
        yield Finding(
            Severity.INFO,
            f"CPU-only setup: torch {torch.version} runs on the CPU, and this machine has no NVIDIA GPU",
            "This is a consistent setup for development or CPU inference. On a machine with an NVIDIA GPU the same project "
            "would need a CUDA build.",
            (Evidence("torch.version.cuda", "None", torch_source(snapshot)), Evidence("NVML", snapshot.nvml.status, nvml_source(snapshot))),
        )
@rule("TD201", "cpu-build-on-nvidia-machine", fix=(SAFE, UNSAFE))
def cpu_build_on_nvidia_machine(snapshot: Snapshot) -> Iterator[Finding]:
    """A CPU-only torch build is installed on a machine that has an NVIDIA GPU.

    What it detects:
        torch imports, `torch.version.cuda` and `torch.version.hip` are empty (a `+cpu` wheel, or a
        Windows/macOS wheel from PyPI, which are CPU-only), while NVML, the kernel module or the device
        files show an NVIDIA GPU.
    Why it matters:
        Everything runs on the CPU, often 10-100x slower, and `.cuda()` raises "Torch not compiled with
        CUDA enabled". This is the most common PyTorch installation problem: on Windows, PyPI serves
        only CPU wheels, so a plain `uv add torch` gets one.
    Fix safety:
        In pyproject.toml: the use-the-right-build fix maps the torch family to the recommended PyTorch index; it is unsafe when it
        replaces the index torch is mapped to now, and its alternatives (this machine's newest line, the extras
        pattern) are unsafe.
    """
    torch = snapshot.torch
    if torch.status != "ok" or torch.cuda or torch.hip:
        return
    gpu = nvidia_gpu_evidence(snapshot)
    if not gpu:
        return
    windows = torch.python_platform or ""
    why = (
        "This torch was built without CUDA, so it cannot use the GPU this machine has: models run on the "
        "CPU and `.cuda()` fails with \"Torch not compiled with CUDA enabled\". "
    )
    if windows.startswith("win") or snapshot.system.os_name == "Windows":
        why += "On Windows, PyPI only has CPU builds of torch; CUDA builds come from the PyTorch index. "
    why += (
        "Map torch (and torchvision/torchaudio) to a CUDA index such as https://download.pytorch.org/whl/cu128 "
        "in [tool.uv.sources], then run `uv lock` and `uv sync`."
    )
    yield Finding(
        Severity.ERROR,
        f"torch {torch.version} is a CPU-only build, but this machine has an NVIDIA GPU",
        why,
        (
            Evidence("torch.__version__", str(torch.version), torch_source(snapshot)),
            Evidence("torch.version.cuda", "None (built without CUDA)", torch_source(snapshot)),
            *gpu,
        ),
        use_build_fix(snapshot),
        build_alternatives(snapshot),
    )


@rule("TD202", "cuda-not-available", fix=DISPLAY_ONLY)
def cuda_not_available(snapshot: Snapshot) -> Iterator[Finding]:
    """A CUDA build of torch reports `torch.cuda.is_available() == False`.

    What it detects:
        torch was built with CUDA, yet CUDA initialisation failed. The cause comes from the warning torch
        emitted during `is_available()` ("CUDA initialization: ..."), mapped to a known cause where
        the text is recognised, and from the driver facts.
    Why it matters:
        torch silently falls back to the CPU. When the machine has no NVIDIA GPU at all this is only
        informative (the PyPI Linux wheel is a CUDA build, which runs fine on the CPU).
    Fix safety:
        The causes are outside pyproject.toml (driver, environment variables, reboot).
    """
    torch = snapshot.torch
    if torch.status != "ok" or not torch.cuda or torch.cuda_available is not False:
        return
    evidence = [
        Evidence("torch.__version__", str(torch.version), torch_source(snapshot)),
        Evidence("torch.version.cuda", torch.cuda, torch_source(snapshot)),
        Evidence("torch.cuda.is_available()", "False", torch_source(snapshot)),
    ]
    for warning in torch.cuda_init_warnings:
        evidence.append(Evidence("warning from is_available()", warning, torch_source(snapshot)))
    if torch.cuda_error:
        evidence.append(Evidence("error", torch.cuda_error, torch_source(snapshot)))
    gpu = nvidia_gpu_evidence(snapshot)
    visible = snapshot.system.environment.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        evidence.append(Evidence("CUDA_VISIBLE_DEVICES", repr(visible), "environment"))
    if not gpu and not torch.cuda_init_warnings:
        yield Finding(
            Severity.INFO,
            f"torch {torch.version} is a CUDA {torch.cuda} build on a machine without an NVIDIA GPU",
            "It runs on the CPU. The CUDA libraries that came with it (several GB on Linux) are unused; a "
            "CPU build from https://download.pytorch.org/whl/cpu is much smaller, which matters in containers.",
            tuple(evidence),
        )
        return
    causes = [c for c in (explain_cuda_warning(w) for w in (*torch.cuda_init_warnings, torch.cuda_error or "")) if c]
    if visible is not None and visible.strip() in ("", "-1", "none", "NoDevFiles"):
        causes.insert(0, f"CUDA_VISIBLE_DEVICES={visible!r} hides every GPU from CUDA")
    driver = torch.cuda_driver
    if not causes and driver is not None and driver.library is not None and driver.init_result not in (None, 0):
        causes.append(f"the CUDA driver itself fails: cuInit returned {CU_INIT_RESULTS.get(driver.init_result, driver.init_result)}")
    evidence.extend(cuda_driver_evidence(snapshot))
    cause = causes[0] if causes else None
    message = f"torch {torch.version} is a CUDA {torch.cuda} build, but CUDA is not available"
    if cause:
        message += f": {cause}"
    why = (
        "torch found the CUDA libraries it was built with, but initialising CUDA failed, so it silently runs on "
        "the CPU. "
    )
    if cause and torch.cuda_init_warnings and explain_cuda_warning(" ".join(torch.cuda_init_warnings)) == cause:
        why += f"The warning torch printed points to the cause: {cause}."
    elif cause:
        why += f"torch printed no reason; the facts below point to the cause: {cause}."
    else:
        why += "torch gave no recognised reason; the warning text and driver facts below are what is known."
    commands: tuple[str, ...] = ()
    if cause and cause.startswith("CUDA_VISIBLE_DEVICES"):
        commands = ("unset CUDA_VISIBLE_DEVICES",)
    elif cause and "suspend/resume" in cause:
        commands = ("sudo rmmod nvidia_uvm && sudo modprobe nvidia_uvm   # or reboot",)
    elif cause and "kernel module" in cause:
        commands = ("sudo reboot",)
    fix = Fix(f"Clear the cause: {cause}", Applicability.DISPLAY_ONLY, commands=commands) if commands else None
    yield Finding(Severity.ERROR, message, why, (*evidence, *gpu), fix)


NVML_STATUS_MEANING = {
    "library-not-found": "the NVIDIA driver's NVML library (libnvidia-ml) is not installed or not on the loader path",
    "driver-not-loaded": "the NVIDIA kernel driver is not loaded",
    "rm-version-mismatch": "the driver's library and its kernel module have different versions (a driver update without a reboot)",
    "no-permission": "this user may not open the GPU device files",
    "gpu-lost": "a GPU has fallen off the bus (hardware, power or thermal fault); a reboot is needed",
    "timed-out": "the driver did not answer: it may be wedged",
    "module-missing": "nvidia-ml-py is missing beside torchdoctor",
    "error": "NVML failed",
}


@rule("TD210", "driver-unreadable", fix=DISPLAY_ONLY)
def driver_unreadable(snapshot: Snapshot) -> Iterator[Finding]:
    """The NVIDIA driver cannot be queried (NVML fails) on a machine where a GPU is expected.

    What it detects:
        NVML (libnvidia-ml, which nvidia-smi uses too) fails to initialise or answer, while the kernel
        module, the device files or torch show that an NVIDIA GPU is there. NVML's error is mapped to its
        meaning: library missing, driver not loaded, library/kernel version mismatch, GPU lost, timeout.
    Why it matters:
        A driver whose library and kernel module disagree, or that is not loaded, breaks CUDA for every
        program; when NVML only is missing, torchdoctor cannot check the driver version against torch.
    Fix safety:
        Reboot after a driver update, reload the driver, or reinstall it.
    """
    nvml = snapshot.nvml
    if nvml.status == "ok":
        return
    gpu = nvidia_gpu_evidence(snapshot)
    if not gpu and nvml.status in ("library-not-found", "driver-not-loaded", "module-missing"):
        return  # no sign of an NVIDIA GPU: a missing driver is normal on this machine
    meaning = NVML_STATUS_MEANING.get(nvml.status, "NVML failed")
    severe = nvml.status in ("rm-version-mismatch", "gpu-lost", "driver-not-loaded", "timed-out")
    if snapshot.torch.cuda_available:
        severe = nvml.status in ("rm-version-mismatch", "gpu-lost")
    yield Finding(
        Severity.ERROR if severe else Severity.WARNING,
        f"the NVIDIA driver cannot be queried: {meaning}",
        f"NVML is the driver's own interface (nvidia-smi uses it). It failed here: {meaning}. "
        + (
            "Until this is resolved CUDA programs are likely to fail as well."
            if severe
            else "torchdoctor cannot read the driver version, so driver-dependent checks are skipped."
        ),
        (Evidence("NVML", f"{nvml.status}: {nvml.error}", nvml_source(snapshot)), *gpu),
        _reboot_fix(snapshot) if nvml.status in ("rm-version-mismatch", "gpu-lost") else None,
    )


def _reboot_fix(snapshot: Snapshot) -> Fix:
    """Outside a container, a reboot loads the updated kernel module. Inside one, rebooting the container's view of
    the machine changes nothing: the host's module stays, and the libraries are the image's (TD525) or the ones the
    NVIDIA toolkit mounted when the container started."""
    if snapshot.system.container:
        return Fix("Restart the container after the host's driver matches (and install no driver in the image)",
                   Applicability.DISPLAY_ONLY,
                   commands=("# on the host: nvidia-smi  (it must answer; reboot the host after a driver update)",
                             "docker restart <container>  # the toolkit mounts the host's driver libraries at start"))
    return Fix("Reboot so the driver's library and kernel module match", Applicability.DISPLAY_ONLY, commands=("sudo reboot",))
