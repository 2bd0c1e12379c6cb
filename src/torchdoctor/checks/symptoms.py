"""Symptoms: the error text users paste, and the causes each one points to.

An error line is a symptom, not a diagnosis: "no kernel image is available" is a GPU newer or older than the build,
"Driver/library version mismatch" a driver updated without a reboot or one installed inside a container image. Each
symptom names its candidate causes, the rules that confirm a cause from facts (tried first), and, where no fact
decides, what to paste to decide. The strings are the ones PyTorch, NVIDIA's tools, NCCL, pip and uv print
(tests/fixtures/triage and tests/fixtures/reports hold real threads where they were pasted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from torchdoctor.checks.registry import _register


@dataclass(frozen=True)
class Cause:
    """A known cause of a symptom."""

    id: str
    title: str
    rules: tuple[str, ...]
    """The rules that name this cause when the facts show it (their finding is the confirmed diagnosis)."""
    remedy: str
    decide: str = ""
    """What to paste to confirm it, when the text alone cannot."""


@dataclass(frozen=True)
class Symptom:
    pattern: re.Pattern[str]
    causes: tuple[str, ...]
    """Candidate cause ids, the most common first."""


CAUSES = {c.id: c for c in (
    Cause("gpu-too-new-for-build", "the GPU is newer than every architecture the installed torch build carries",
          ("TD220", "TD222"), "install a torch build whose CUDA line covers the GPU (Blackwell, sm_120: cu128 or newer)",
          "`python -m torch.utils.collect_env` (the build) and `nvidia-smi -L` (the GPU)"),
    Cause("gpu-too-old-for-build", "the GPU is older than the oldest architecture the installed torch build carries",
          ("TD221", "TD222"), "install an older torch or CUDA line that still carries the GPU's architecture",
          "`nvidia-smi -L` (the GPU) and the torch version"),
    Cause("driver-too-old-for-build", "the NVIDIA driver is older than the CUDA the torch build needs",
          ("TD230", "TD232"), "update the NVIDIA driver, or install the torch build of a CUDA line the driver supports",
          "`nvidia-smi` (its CUDA Version) and the torch version with its +cuXXX tag"),
    Cause("cpu-only-build", "torch is a CPU-only build on a machine with an NVIDIA GPU",
          ("TD201", "TD402", "TD202"), "install a CUDA build of torch (the PyTorch index of a CUDA line: cu126, cu128 …)",
          "`python -m torch.utils.collect_env`"),
    Cause("driver-kernel-module-mismatch", "the NVIDIA driver was updated and the old kernel module still runs",
          ("TD231",), "reboot (or reload the nvidia kernel modules)",
          "`cat /proc/driver/nvidia/version` beside `nvidia-smi`'s NVML library version"),
    Cause("driver-in-container-image", "a container image carries NVIDIA driver libraries of its own",
          ("TD525",), "remove the driver from the image; the NVIDIA container toolkit mounts the host's",
          "whether this runs in a container, and `ls /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.*` there"),
    Cause("cuda-compat-804", "the image's CUDA forward-compatibility library runs on a GPU that does not support it",
          ("TD524",), "load the host driver's libcuda (drop /usr/local/cuda/compat from the library path), or use an "
                      "image for a CUDA the host driver supports"),
    Cause("container-toolkit-missing", "Docker has no NVIDIA runtime: the NVIDIA Container Toolkit is not installed",
          ("TD537", "TD520"), "install the NVIDIA Container Toolkit on the host and configure Docker "
                      "(`sudo nvidia-ctk runtime configure --runtime=docker`, then restart Docker)"),
    Cause("no-driver", "no NVIDIA driver is installed or loaded", ("TD210",),
          "install the NVIDIA driver (in a container: start it with --gpus all)", "`nvidia-smi`"),
    Cause("torchvision-torch-mismatch", "torchvision was built for another torch than the installed one", ("TD120",),
          "install the torchvision released with the installed torch, from the same index", "`pip list | grep torch`"),
    Cause("torchaudio-torch-mismatch", "torchaudio was built for another torch than the installed one", ("TD120",),
          "install the torchaudio released with the installed torch, from the same index", "`pip list | grep torch`"),
    Cause("extension-built-for-other-torch", "a compiled extension was built against another torch than the installed one",
          ("TD251",), "reinstall the extension for the installed torch (a wheel built for it, or rebuild it)",
          "`pip list` (torch and the extension)"),
    Cause("numpy2-abi", "a package compiled against NumPy 1.x runs with NumPy 2", ("TD130",),
          "install numpy<2, or versions of the packages built for NumPy 2", "`pip list | grep -i numpy`"),
    Cause("triton-torch-mismatch", "the installed triton is not the one torch was built with", ("TD121",),
          "install the triton version torch requires (`pip show torch` lists it)", "`pip list | grep -i triton`"),
    Cause("nccl-shm", "/dev/shm is too small for NCCL or the DataLoader's workers (Docker gives 64 MB)", ("TD523",),
          "start the container with --ipc=host or --shm-size=16g", "`df -h /dev/shm`"),
    Cause("nccl-p2p", "GPU peer-to-peer is broken (PCIe ACS or the IOMMU, or GeForce cards whose driver reports it), so "
          "NCCL hangs or fails", ("TD528", "TD529"),
          "disable ACS/IOMMU in the BIOS or kernel, or run with NCCL_P2P_DISABLE=1",
          "`nvidia-smi topo -m` and `nvidia-smi topo -p2p r`"),
    Cause("wsl-libcuda", "under WSL2, a library loads `libcuda.so` by its unversioned name, which does not resolve",
          ("TD505",), "export LD_LIBRARY_PATH=/usr/lib/wsl/lib:$LD_LIBRARY_PATH"),
    Cause("rocm-gfx-target", "the AMD GPU's gfx target is not in the ROCm build", ("TD224",),
          "use a ROCm build that lists the GPU's gfx target, or set HSA_OVERRIDE_GFX_VERSION to a supported neighbour",
          "`rocminfo | grep gfx` and the torch version"),
    Cause("no-wheel-for-python", "no torch wheel exists for this Python (version, or 32-bit)", ("TD104", "TD310"),
          "use a Python that torch publishes wheels for (64-bit; for new Pythons, check the release notes)",
          "`python -VV`"),
    Cause("missing-cuda-library", "a CUDA library torch needs is not found (a missing nvidia-* wheel, or two installs mixed)",
          ("TD123", "TD122"), "reinstall torch with its CUDA wheels into one environment", "`pip list | grep -i nvidia`"),
    Cause("cuda-library-mismatch", "torch loads a CUDA library (cuDNN, nvJitLink …) of another version than it was built "
          "with: an nvidia-* wheel moved by another install, or a system copy first on LD_LIBRARY_PATH", ("TD123", "TD260"),
          "reinstall the nvidia-* wheel version torch pins (`pip show torch` lists them), or drop the system CUDA folder "
          "from LD_LIBRARY_PATH", "`pip list | grep -i nvidia` and `echo $LD_LIBRARY_PATH`"),
    Cause("cuda-visible-devices", "CUDA_VISIBLE_DEVICES is set in the code after CUDA has started, so it changes nothing",
          ("TD526",), "set it before anything touches CUDA: in the shell (`CUDA_VISIBLE_DEVICES=2 python train.py`) or "
          "as the first lines of the script, before `import torch` uses the GPU",
          "the lines before the assignment (any torch.cuda call, .cuda() or .to('cuda') comes first?)"),
    Cause("mixed-installs", "two installs of torch mix: Python imports another torch than the one installed last",
          ("TD122",), "remove every torch but one (`pip uninstall torch` until none is left), then install once",
          "`python -c 'import torch; print(torch.__version__, torch.__file__)'` beside `pip list`"),
    Cause("nightly-index-resolution", "uv or pip cannot resolve torch from PyTorch's nightly index", ("TD308", "TD317"),
          "map torch and pytorch-triton to the nightly index and allow prereleases", "pyproject.toml"),
    Cause("rocm-device-permission", "ROCm cannot open /dev/kfd or the GPU's render node: the user is not in the `render` "
          "(or `video`) group, or the container was started without those devices", ("TD226",),
          "`sudo usermod -aG render,video $USER` and log in again; in a container: --device=/dev/kfd --device=/dev/dri",
          "`ls -l /dev/kfd /dev/dri/renderD*` and `groups`"),
    Cause("mig-devices", "the GPU is in MIG mode: no MIG device is created, or a process uses more than the one MIG "
          "device CUDA shows it", ("TD240",),
          "create MIG devices (`nvidia-smi mig -cgi … -C`) or turn MIG off; give each process one MIG device by UUID in "
          "CUDA_VISIBLE_DEVICES", "`nvidia-smi -L` (the MIG devices and their UUIDs)"),
    Cause("gpu-memory-held", "GPU memory is held by another (or a stopped) process", ("TD527",),
          "find the process in `nvidia-smi` (or `fuser -v /dev/nvidia*`) and end it", "`nvidia-smi`"),
)}

SYMPTOMS = (
    Symptom(re.compile(r"sm_\d+ is not compatible with the current PyTorch installation|"
                       r"is not compatible with the current PyTorch installation", re.I), ("gpu-too-new-for-build",)),
    Symptom(re.compile(r"no longer supports this GPU because it is too old|minimum cuda capability supported by this "
                       r"library is", re.I), ("gpu-too-old-for-build",)),
    Symptom(re.compile(r"no kernel image is available for execution on the device|CUDA_ERROR_NO_BINARY_FOR_GPU|"
                       r"cudaErrorNoKernelImageForDevice", re.I),
            ("gpu-too-new-for-build", "gpu-too-old-for-build")),
    Symptom(re.compile(r"driver version is insufficient for CUDA runtime version|NVIDIA driver on your system is too old|"
                       r"CUDA driver version is insufficient|"
                       # nvidia-container-cli checks the image's CUDA against the host driver's before starting it
                       r"unsatisfied condition: cuda\s*>=?\s*\d+\.\d+", re.I), ("driver-too-old-for-build",)),
    # Set in code and "does not work" (the shell prefix works): set after CUDA started, the variable changes nothing.
    Symptom(re.compile(r"os\.environ\[\s*['\"]CUDA_VISIBLE_DEVICES['\"]\s*\]\s*=.{0,300}"
                       r"(?:does not work|doesn't work|not work|no effect|ignored|always (?:use|select)|still (?:use|run))",
                       re.I), ("cuda-visible-devices",)),
    Symptom(re.compile(r"Torch not compiled with CUDA enabled", re.I), ("cpu-only-build",)),
    Symptom(re.compile(r"Driver/library version mismatch", re.I), ("driver-kernel-module-mismatch", "driver-in-container-image")),
    Symptom(re.compile(r"forward compatibility was attempted on non supported HW|Error 804\b", re.I), ("cuda-compat-804",)),
    Symptom(re.compile(r'could not select device driver "" with capabilities: \[\[gpu\]\]|unknown or invalid runtime name: '
                       r"nvidia|Unknown runtime specified nvidia|nvidia-container-cli: .{0,200}not found", re.I),
            ("container-toolkit-missing",)),
    Symptom(re.compile(r"Found no NVIDIA driver on your system|NVIDIA-SMI has failed because it couldn't communicate with "
                       r"the NVIDIA driver", re.I), ("no-driver",)),
    Symptom(re.compile(r"operator torchvision::\w+ does not exist|torchvision\S*\.so: undefined symbol|Couldn't load custom "
                       r"C\+\+ ops", re.I), ("torchvision-torch-mismatch", "mixed-installs")),
    # torchaudio's compiled modules: libtorchaudio, _torchaudio, and the older _torch_sox.
    Symptom(re.compile(r"libtorchaudio\S*\.so: undefined symbol|torchaudio\S{0,200}\.so.{0,200}undefined symbol|"
                       r"from torchaudio\.lib import .{0,200}_torchaudio|_torch(?:audio|_sox)\S{0,200}\.so.{0,200}undefined symbol",
                       re.I),
            ("torchaudio-torch-mismatch",)),
    # A mangled name of torch's C++ API: c10::, at::, torch:: (a const member function mangles as _ZNK).
    Symptom(re.compile(r"undefined symbol: _ZNK?(?:3c10|2at|5torch)", re.I), ("extension-built-for-other-torch",)),
    Symptom(re.compile(r"compiled using NumPy 1\.x cannot be run in\s+NumPy 2|_ARRAY_API not found|numpy\.core\.multiarray "
                       r"failed to import", re.I), ("numpy2-abi",)),
    Symptom(re.compile(r"cannot import name '\w+' from 'triton|No module named 'triton\.|module 'triton' has no attribute",
                       re.I), ("triton-torch-mismatch",)),
    Symptom(re.compile(r"failed to extend /dev/shm|Error while creating shared memory segment|/dev/shm.{0,200}No space left|"
                       r"insufficient shared memory \(shm\)|unable to write to file </torch_\d+", re.I), ("nccl-shm",)),
    Symptom(re.compile(r"peer access is not supported between these two devices|NCCL_P2P_DISABLE", re.I), ("nccl-p2p",)),
    # NCCL's catch-all for a failed system call: in a container most often /dev/shm (64 MB by default), else P2P.
    Symptom(re.compile(r"NCCL (?:Error 2|error)\W+unhandled system error|ncclSystemError", re.I), ("nccl-shm", "nccl-p2p")),
    Symptom(re.compile(r"libcuda\.so: cannot open shared object file|libcuda\.so not found|cannot find -lcuda", re.I),
            ("wsl-libcuda",)),
    Symptom(re.compile(r"hipErrorNoBinaryForGpu|HSA_OVERRIDE_GFX_VERSION|invalid device function.{0,200}(?:HIP|ROCm)", re.I),
            ("rocm-gfx-target",)),
    Symptom(re.compile(r"No matching distribution found for torch\b|Could not find a version that satisfies the requirement "
                       r"torch\b|torch\S* has no wheels with a matching Python|no wheels? (?:are )?available .{0,200} torch", re.I),
            ("no-wheel-for-python",)),
    Symptom(re.compile(r"lib(?:cudnn|cublas|cublasLt|cusparse|nccl|nvJitLink|cufft|curand|cudart)\S*\.so\S*: cannot open "
                       r"shared object file", re.I), ("missing-cuda-library", "mixed-installs")),
    Symptom(re.compile(r"No solution found when resolving dependencies.{0,300}(?:pytorch|torch)|download\.pytorch\.org/whl/nightly",
                       re.I), ("nightly-index-resolution",)),
    Symptom(re.compile(r"CUDA out of memory", re.I), ("gpu-memory-held",)),
    # A CUDA library's versioned symbol missing from the copy that was loaded: another version than torch's, first.
    Symptom(re.compile(r"cuDNN version (?:incompatibility|mismatch)|undefined symbol: __nvJitLink\w*|"
                       r"version `?libnvJitLink\.so\.\d+'? not found|"
                       r"symbol:? \w+,? version lib(?:cupti|cublas(?:Lt)?|cudnn\w*|cusparse(?:Lt)?|nvJitLink|nccl|cufft|"
                       r"curand|cusolver|cudart|nvrtc)\.so\.\d+", re.I), ("cuda-library-mismatch",)),
    # torch's own loader, when the nvidia-* wheel of a library it preloads is not installed.
    Symptom(re.compile(r"lib\w+\.so\.\*\[0-9\](?:\.\*\[0-9\])? not found in the system path", re.I),
            ("missing-cuda-library",)),
    # pip's resolver, or a reporter quoting it: a pin of torch's (or a companion's) that another install broke.
    Symptom(re.compile(r"\btorch \S+ requires (?:pytorch-)?triton(?:-rocm)?\s*[=<>]", re.I), ("triton-torch-mismatch",)),
    Symptom(re.compile(r"\btorch \S+ requires nvidia-[\w-]+\s*==.{0,200}(?:but you have|incompatible)", re.I),
            ("cuda-library-mismatch",)),
    # Several GeForce cards that hang together where other cards do not: peer access the driver reports but they lack.
    Symptom(re.compile(r"(?:multiple|several|\b(?:[2-9]|1\d)\s*x)\s*(?:(?:NVIDIA\s+)?(?:GeForce\s+)?RTX\s*)?[345]090s?\b"
                       r".{0,200}\b(?:stuck|hangs?|hanging|hung|deadlock(?:ed|s)?|freez\w*)\b|"
                       r"\b(?:stuck|hangs?|hanging|hung|deadlock(?:ed|s)?|freez\w*)\b.{0,200}"
                       r"(?:multiple|several|\b(?:[2-9]|1\d)\s*x)\s*(?:(?:NVIDIA\s+)?(?:GeForce\s+)?RTX\s*)?[345]090s?\b",
                       re.I), ("nccl-p2p",)),
    Symptom(re.compile(r"Unable to open /dev/kfd|/dev/kfd\S{0,20}:? .{0,40}Permission denied|No HIP GPUs are available|"
                       r"hipErrorNoDevice", re.I), ("rocm-device-permission", "rocm-gfx-target")),
    # A second CUDA device asked for where CUDA shows one: a MIG device is the one a process gets.
    Symptom(re.compile(r"device >= 0 && device < num_gpus INTERNAL ASSERT FAILED", re.I), ("mig-devices",)),
)


def symptoms_in(lines: list[tuple[int, str]]) -> list[tuple[int, str, tuple[str, ...]]]:
    """(line number, line, candidate causes) for each line that shows a known symptom, in the order they appear."""
    found = []
    for position, (number, line) in enumerate(lines):
        line = line[:2000]  # the patterns are bounded; so is the line they read
        # An error message wrapped over two lines (NumPy's "cannot be run in\nNumPy 2.1.1") is read with the next one.
        following = lines[position + 1][1][:2000] if position + 1 < len(lines) else ""
        for symptom in SYMPTOMS:
            if symptom.pattern.search(line) or (following and symptom.pattern.search(f"{line} {following}")
                                                and not symptom.pattern.search(following)):
                found.append((number, line, symptom.causes))
                break
    return found


_register(
    "TD800",
    "pasted-error-points-to-cause",
    None,
    """An error in the pasted text points to a known cause that the pasted facts do not confirm (`triage` only).

    What it detects:
        A line of the text given to `torchdoctor triage` (or `check --symptom`) shows an error whose known causes
        are listed in checks/symptoms.py, and no rule confirmed one of them from the facts in the text.
    Why it matters:
        The error names the likely cause; the facts that would make it certain (the GPU, the driver, the torch
        build) were not pasted. A warning when the error has one known cause, a note when it has several: never an
        error, since nothing was confirmed.
    Fix safety:
        The finding says what to paste to decide, and the usual remedy.
    """,
)
