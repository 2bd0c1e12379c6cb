"""TD224-TD225: torch against this machine's AMD GPUs, as AMD's kernel driver lists them (KFD topology).

A ROCm build of torch carries code for a list of gfx targets (`torch.cuda.get_arch_list()`: gfx900, gfx90a, gfx1030
…), as a CUDA build carries sm_XY targets; an AMD GPU whose target is not in that list fails every kernel with
"hipErrorNoBinaryForGpu: Unable to find code object for all current devices". And a CUDA or CPU build cannot use an
AMD GPU at all.
"""

from __future__ import annotations

from collections.abc import Iterator

from torchdoctor.checks.common import torch_source
from torchdoctor.checks.registry import DISPLAY_ONLY, Finding, rule
from torchdoctor.model import Applicability, Evidence, Fix, Severity
from torchdoctor.probes.system import gfx_name
from torchdoctor.snapshot import AmdGpu, DeviceFile, Snapshot

KFD = "/sys/class/kfd/kfd/topology"
OVERRIDE = "HSA_OVERRIDE_GFX_VERSION"


def _override_target(value: str | None) -> str | None:
    """HSA_OVERRIDE_GFX_VERSION ("10.3.0") as the gfx target ROCm then loads code for ("gfx1030"); None if unset or
    not three numbers."""
    parts = (value or "").strip().split(".")
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() for p in parts):
        return None
    major, minor, stepping = (int(p) for p in parts)
    return gfx_name(major * 10000 + minor * 100 + stepping)


def _as_override(target: str) -> str | None:
    """"gfx1030" as the HSA_OVERRIDE_GFX_VERSION value that selects it ("10.3.0"); None for a name it cannot split."""
    digits = target.removeprefix("gfx")
    if len(digits) < 3:
        return None
    try:
        return f"{int(digits[:-2])}.{int(digits[-2], 16)}.{int(digits[-1], 16)}"
    except ValueError:
        return None


def _family_neighbour(target: str, built: tuple[str, ...]) -> str | None:
    """A target of the build in the GPU's own RDNA family (same major and minor ISA, another stepping: gfx1030 for an
    RX 6600's gfx1032, gfx1100 for gfx1101), the one HSA_OVERRIDE_GFX_VERSION is commonly pointed at; None when the
    build has none. Not for gfx9: gfx900, gfx906, gfx908 and gfx90a share a prefix but are different instruction sets."""
    if not target.startswith(("gfx10", "gfx11", "gfx12")):
        return None
    family = target[:-1]
    return next((b for b in sorted(built) if b[:-1] == family and b != target), None)


def visible_gpus(snapshot: Snapshot) -> tuple[AmdGpu, ...] | None:
    """The AMD GPUs ROCm shows this process: HIP_VISIBLE_DEVICES (or ROCR_VISIBLE_DEVICES) by ordinal among the GPUs
    KFD lists; None when the variable names them another way (UUIDs), which this reading does not follow."""
    gpus = snapshot.system.amd_gpus or ()
    environment = snapshot.system.environment
    chosen = environment.get("HIP_VISIBLE_DEVICES", environment.get("ROCR_VISIBLE_DEVICES"))
    if chosen is None:
        return tuple(gpus)
    picked = []
    for part in (p.strip() for p in chosen.split(",")):
        if not part:
            continue
        if not (part.isascii() and part.isdigit()):
            return None
        if int(part) < len(gpus):
            picked.append(gpus[int(part)])
    return tuple(picked)


def discrete_gpus(snapshot: Snapshot) -> tuple[AmdGpu, ...]:
    return tuple(g for g in snapshot.system.amd_gpus or () if g.integrated is not True)


def _gpu_text(gpu: AmdGpu) -> str:
    device = f", device 0x{gpu.device_id:04x}" if gpu.device_id is not None else ""
    return f"{gpu.gfx_target} (KFD node {gpu.node}{device})"


@rule("TD224", "gpu-not-in-rocm-build", fix=DISPLAY_ONLY)
def gpu_not_in_rocm_build(snapshot: Snapshot) -> Iterator[Finding]:
    """The installed ROCm build of torch has no code for this AMD GPU's gfx target.

    What it detects:
        torch is a ROCm build (torch.version.hip) and an AMD GPU in the KFD topology has a gfx target that is not
        in the build's list (`torch.cuda.get_arch_list()`, as the probe read it): an RX 6600 (gfx1032) with a build
        for gfx900;gfx906;gfx908;gfx90a;gfx1030, an RX 580 (gfx803) with any build since ROCm 4. With
        HSA_OVERRIDE_GFX_VERSION set, the target it names is the one checked.
    Why it matters:
        ROCm loads no code for the GPU: the first kernel aborts with "hipErrorNoBinaryForGpu: Unable to find code
        object for all current devices!" (or "invalid device function").
    Fix safety:
        Nothing in the project can add a target to a build. Where the build carries a target of the GPU's own family
        (gfx1030 for gfx1031/gfx1032), `HSA_OVERRIDE_GFX_VERSION` makes ROCm load that code: an unofficial
        workaround AMD does not support, widely reported to work for RDNA2/RDNA3 consumer cards; otherwise a build
        that lists the target (PyTorch's newer ROCm wheels, or one built with PYTORCH_ROCM_ARCH).
    """
    torch = snapshot.torch
    gpus = visible_gpus(snapshot)
    if not torch.hip or not torch.arch_list or not gpus:
        return  # not a ROCm build, its list unread, no AMD GPU read or visible: unknown, not a finding
    built = tuple(a.split(":")[0] for a in torch.arch_list)  # "gfx90a:xnack-" is gfx90a's code
    override = snapshot.system.environment.get(OVERRIDE)
    forced = _override_target(override)
    missing = [g for g in gpus if (forced or g.gfx_target) not in built]
    if not missing:
        return
    gpu = missing[0]
    seen_as = forced or gpu.gfx_target
    running = [index for index, g in enumerate(gpus) if g.gfx_target in built]
    # The override applies to every GPU: offered only where every visible GPU is of the missing one's family. A GPU
    # the build has code for beside it (a discrete card beside the CPU's own GPU) is kept by hiding the other.
    same_family = all(g.gfx_target[:-1] == gpu.gfx_target[:-1] for g in gpus)
    neighbour = None if forced or not same_family else _family_neighbour(gpu.gfx_target, built)
    value = _as_override(neighbour) if neighbour else None
    evidence = (
        Evidence("torch", f"{torch.version} (ROCm {torch.hip})", torch_source(snapshot)),
        Evidence("torch arch list", " ".join(torch.arch_list), torch_source(snapshot)),
        *(Evidence(f"AMD GPU {g.node}", _gpu_text(g), f"{KFD}/nodes/{g.node}/properties") for g in missing),
    ) + ((Evidence(OVERRIDE, override or "", "environment"),) if override else ())
    yield Finding(
        Severity.ERROR,
        f"torch {torch.version} has no code for the AMD GPU's {seen_as}"
        + (f" ({OVERRIDE}={override} makes ROCm load it for {gpu.gfx_target})" if forced else "")
        + ": every GPU kernel fails with hipErrorNoBinaryForGpu",
        f"This ROCm build of torch carries code for {', '.join(built)}; ROCm loads code by the GPU's exact gfx target, "
        "so the first kernel launched on the GPU aborts (\"Unable to find code object for all current devices\")."
        + (f" The build carries {neighbour}, a target of the same family, which the override {OVERRIDE}={value} "
           "makes ROCm use: unofficial, but the usual way to run such a card with PyTorch's wheels." if value else
           f" {OVERRIDE} names a target this build does not carry either." if forced else
           " The build carries no target of the GPU's family: only a build that lists it runs here."),
        evidence,
        Fix(f"Run with {OVERRIDE}={value}, which makes ROCm load the build's {neighbour} code", Applicability.DISPLAY_ONLY,
            commands=(f"export {OVERRIDE}={value}",)) if value else
        Fix("Show ROCm only the GPUs this build runs on", Applicability.DISPLAY_ONLY,
            commands=(f"export HIP_VISIBLE_DEVICES={','.join(str(i) for i in running)}",)) if running and not forced else
        Fix("Install a ROCm build of torch whose arch list has the GPU's target", Applicability.DISPLAY_ONLY,
            commands=("python -c 'import torch; print(torch.cuda.get_arch_list())'  # the targets of a build",)),
    )


@rule("TD225", "torch-build-cannot-use-amd-gpu", reads="machine")
def torch_build_cannot_use_amd_gpu(snapshot: Snapshot) -> Iterator[Finding]:
    """torch is a CUDA or CPU build on a machine whose GPUs are AMD's, with no NVIDIA GPU.

    What it detects:
        Discrete AMD GPUs in the KFD topology (the GPU built into the CPU is no reason to install ROCm), no NVIDIA GPU
        (none in NVML, no /dev/nvidia* device files), and an installed torch that is not a ROCm build.
    Why it matters:
        Only a ROCm build of torch uses AMD GPUs: a CUDA or CPU build runs everything on the CPU and
        `torch.cuda.is_available()` is False (the PyPI wheel on Linux is a CUDA build).
    Fix safety:
        No fix offered here: which ROCm line fits is the installed ROCm's and the GPU's question (PyTorch's
        ROCm index, https://download.pytorch.org/whl/rocmX.Y).
    """
    torch = snapshot.torch
    gpus = discrete_gpus(snapshot)
    if not gpus or torch.status != "ok" or not torch.version or torch.hip:
        return  # no discrete AMD GPU: the CPU's own GPU is no reason to install ROCm
    if snapshot.nvml.gpus or any("nvidia" in node for node in snapshot.system.gpu_device_nodes):
        return  # an NVIDIA GPU is here too: the CUDA build may be meant for it
    build = f"a CUDA {torch.cuda} build" if torch.cuda else "a CPU-only build"
    rocm = snapshot.system.rocm_version
    yield Finding(
        Severity.ERROR,
        f"torch {torch.version} is {build}, and this machine's GPUs are AMD's: torch runs on the CPU",
        "Only ROCm builds of torch run on AMD GPUs; this one does not load ROCm, so `torch.cuda.is_available()` is "
        "False. Install torch from PyTorch's ROCm index"
        + (f" (ROCm {rocm.split('-')[0]} is installed here)" if rocm else "") + ".",
        (Evidence("torch", f"{torch.version}" + (f" (CUDA {torch.cuda})" if torch.cuda else ""), torch_source(snapshot)),
         *(Evidence(f"AMD GPU {g.node}", _gpu_text(g), f"{KFD}/nodes/{g.node}/properties") for g in gpus))
        + ((Evidence("ROCm", rocm, "/opt/rocm/.info/version"),) if rocm else ()),
    )


@rule("TD226", "amd-gpu-device-not-accessible", fix=DISPLAY_ONLY)
def amd_gpu_device_not_accessible(snapshot: Snapshot) -> Iterator[Finding]:
    """ROCm cannot open the AMD GPU's device files: this user is not in their group, or the container was not given them.

    What it detects:
        AMD GPUs in the KFD topology (readable by anyone), a ROCm build of torch, and /dev/kfd or every
        /dev/dri/renderD* node that this user may not read and write (they belong to the `render` or `video` group,
        and the user is not in it; in a container, the host's group by a number the container does not map), or a
        /dev/kfd at mode 0600 (root alone); or, inside a container, no /dev/kfd or no render node at all (started
        without `--device=/dev/kfd --device=/dev/dri`).
    Why it matters:
        ROCm opens /dev/kfd and a render node for every GPU it uses: without them torch.cuda.is_available() is False
        ("No HIP GPUs are available", hipErrorNoDevice), rocminfo says "Unable to open /dev/kfd read-write:
        Permission denied".
    Fix safety:
        Group membership and container flags are the system's, not the project's: the commands are shown, never run;
        a new group takes effect at the next login.
    """
    torch = snapshot.torch
    files = snapshot.system.amd_device_files
    if not snapshot.system.amd_gpus or files is None or not torch.hip:
        return  # with a ROCm build installed, a GPU built into the CPU counts (a Strix Halo's is the one it is for)
    container = snapshot.system.container
    kfd = next((f for f in files if f.path == "/dev/kfd"), None)
    render = [f for f in files if f.path.startswith("/dev/dri/renderD")]
    if (kfd is None or not render) and container:
        missing = " and ".join(p for p, gone in (("/dev/kfd", kfd is None), ("/dev/dri/renderD*", not render)) if gone)
        yield Finding(
            Severity.ERROR,
            f"this {'' if container == 'container' else container + ' '}container has no {missing}: it was started "
            "without the AMD GPU's device files",
            "ROCm reaches an AMD GPU through /dev/kfd and a /dev/dri/renderD* node; a container sees them only when it is "
            "started with them, so torch finds no GPU (\"No HIP GPUs are available\").",
            (Evidence(missing, "absent", "/dev"), Evidence("container", container, snapshot.system.container_evidence or "")),
            Fix("Start the container with the GPU's device files", Applicability.DISPLAY_ONLY, commands=(
                "docker run --device=/dev/kfd --device=/dev/dri --group-add $(stat -c %g /dev/kfd) --group-add "
                "$(stat -c %g /dev/dri/renderD128) ...   # the host's numeric groups: the image may name none",
                "# Apptainer: --bind=/dev/kfd,/dev/dri (with --containall); Kubernetes: AMD's device plugin")),
        )
        return
    kfd_refused = kfd is not None and kfd.accessible is False
    render_refused = bool(render) and all(f.accessible is False for f in render)
    if not (kfd_refused or render_refused):
        return
    refused = [f for f in ([kfd] if kfd else []) + render if f.accessible is False]
    groups = sorted({f.group for f in refused if f.group})
    mine = snapshot.system.user_groups
    if any(f.group_rw is False for f in refused):
        yield _root_only(snapshot, [f for f in refused if f.group_rw is False])
        return
    yield Finding(
        Severity.ERROR,
        f"this user may not open {', '.join(f.path for f in refused[:3])}"
        + (f" ({'groups' if len(groups) > 1 else 'group'} {', '.join(groups)}"
           + (", which this session is not in)" if mine is not None and not set(groups) & set(mine) else ")")
           if groups else "")
        + ": ROCm cannot use the AMD GPU",
        "ROCm opens /dev/kfd and a /dev/dri/renderD* node for each GPU; they belong to the `render` (or `video`) group, "
        "and a user outside it gets no GPU: torch.cuda.is_available() is False, rocminfo says \"Permission denied\". "
        "Add the user to the group and log in again (a running session keeps its old groups)."
        + (" In a container, add the host's group ids with --group-add." if container else ""),
        tuple(Evidence(f.path, ("read-write" if f.accessible else "no access") + (f", group {f.group}" if f.group else ""),
                       f"access({f.path}, R_OK|W_OK)") for f in ([kfd] if kfd else []) + render[:3])
        + ((Evidence("this user's groups", " ".join(mine) or "none", "getgroups()"),) if mine is not None else ()),
        Fix("Give the container the host's GPU groups" if container else "Join the device files' groups, then log in again",
            Applicability.DISPLAY_ONLY, commands=(
                "docker run ... " + " ".join(f"--group-add $(stat -c %g {f.path})" for f in refused[:2])
                + "   # on the host: the files' numeric groups (rootless podman: --group-add keep-groups)",
                "# Kubernetes: securityContext.supplementalGroups: [<those numeric group ids>]") if container else (
                f"sudo usermod -aG {','.join(groups) or 'render,video'} $USER   # then log out and in (or reboot)",)),
    )


def _root_only(snapshot: Snapshot, files: list[DeviceFile]) -> Finding:
    """/dev/kfd at mode 0600: no group admits anyone but root; a udev rule sets its group and mode (AMD's answer in
    ROCm/ROCT-Thunk-Interface#36)."""
    return Finding(
        Severity.ERROR,
        f"{', '.join(f.path for f in files)} admits root alone (its group may not read and write it): ROCm runs only as root",
        "ROCm opens /dev/kfd and a render node for each GPU; their mode lets no group in, so joining `render` or `video` "
        "changes nothing. udev sets the mode when the device appears: a rule giving the `render` group read and write "
        "(mode 0660) is the cure.",
        tuple(Evidence(f.path, "group may not read and write" + (f", group {f.group}" if f.group else ""),
                       f"stat({f.path})") for f in files),
        Fix("Let the render group use the devices with a udev rule", Applicability.DISPLAY_ONLY, commands=(
            "printf '%s\\n' 'KERNEL==\"kfd\", GROUP=\"render\", MODE=\"0660\"' 'SUBSYSTEM==\"drm\", KERNEL==\"renderD*\", "
            "GROUP=\"render\", MODE=\"0660\"' | sudo tee /etc/udev/rules.d/70-amdgpu.rules",
            "sudo udevadm control --reload && sudo udevadm trigger   # then: sudo usermod -aG render $USER, log in again",
        )),
    )
