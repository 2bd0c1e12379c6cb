"""Facts from pasted text: what a user put into a bug report (collect_env, nvidia-smi in its layouts, pip, conda, uname,
/proc/driver/nvidia/version, free-form lines, tracebacks and error lines), in any mix and order.

Every fact is read from a line of its own kind and keeps that line's number; a fact no line states stays None (not
read), which `triage` shows as unknown and never treats as absent. Nothing is run or imported; the text is capped
(MAX_BYTES) and only its lines are looked at, each with bounded regular expressions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from torchdoctor.redact import clean

MAX_BYTES = 1 << 20
"""Pasted text beyond 1 MiB is not read (a report rarely holds a tenth of it); the reader says so."""
MAX_LINE = 4000


@dataclass(frozen=True)
class Fact:
    """One fact and where it was read: the line number in the pasted text and what the line is."""

    value: str
    line: int
    kind: str
    """"collect_env", "nvidia-smi", "pip", "conda", "uname", "proc", "error", "free-form"."""


@dataclass(frozen=True)
class PastedFacts:
    """What the text states. None: not read (unknown), never "absent"."""

    gpus: tuple[Fact, ...] = ()
    """GPU names as written (nvidia-smi rows, -L, -q, collect_env, free-form)."""
    gpu_sm: Fact | None = None
    """A compute capability an error states ("with CUDA capability sm_120"), as "12.0"."""
    driver_version: Fact | None = None
    driver_cuda: Fact | None = None
    """The newest CUDA the driver supports ("CUDA Version: 12.2" in nvidia-smi, "found version 11040" in torch's error)."""
    kernel_module: Fact | None = None
    nvml_library: Fact | None = None
    torch_version: Fact | None = None
    torch_cuda: Fact | None = None
    """"12.1", or "None" for a CPU build (collect_env's "CUDA used to build PyTorch")."""
    cuda_available: Fact | None = None
    arch_list: Fact | None = None
    """The archs a build supports, as its warning lists them ("sm_50 sm_60 … sm_90")."""
    python_version: Fact | None = None
    os: Fact | None = None
    wsl: Fact | None = None
    container: Fact | None = None
    nvml_error: Fact | None = None
    """What NVML said when it could not start ("Driver/library version mismatch"): nvidia-smi prints it."""
    cuda_error: Fact | None = None
    """A CUDA error torch printed ("CUDA error: …", "Unexpected error from cudaGetDeviceCount() … Error 804: …")."""
    packages: dict[str, Fact] = field(default_factory=dict)
    """pip/conda/uv lists, collect_env's library versions: name (normalised) to version."""
    truncated: bool = False


_SINGLE = [
    # (field, kind, pattern): the first line that matches sets the field
    ("torch_version", "collect_env", re.compile(r"^\s*PyTorch version:\s*(\d\S*)")),  # "N/A": torch did not import
    ("torch_cuda", "collect_env", re.compile(r"^\s*CUDA used to build PyTorch:\s*(\d+\.\d+|None)$")),
    ("cuda_available", "collect_env", re.compile(r"^\s*Is CUDA available:\s*(True|False)")),
    ("driver_version", "collect_env", re.compile(r"^\s*Nvidia driver version:\s*(\d+\.\d+(?:\.\d+)?)")),
    ("os", "collect_env", re.compile(r"^OS: *(.+)$")),
    ("python_version", "collect_env", re.compile(r"^\s*Python version:\s*(\d+\.\d+(?:\.\d+)?)")),
    ("driver_version", "nvidia-smi", re.compile(r"Driver Version\s*:?\s*(\d+\.\d+(?:\.\d+)?)")),
    # nvidia-smi's header ("Driver Version: 535.54.03   CUDA Version: 12.2") or -q ("CUDA Version    : 12.2"); a bare
    # "CUDA Version: 11.8" in a form is the toolkit's, not the driver's, and is not read as the driver's
    ("driver_cuda", "nvidia-smi", re.compile(r"Driver Version:\s*\S+\s+CUDA Version:\s*(\d+\.\d+)")),
    ("driver_cuda", "nvidia-smi", re.compile(r"^CUDA Version\s{2,}:\s*(\d+\.\d+)")),
    ("kernel_module", "proc", re.compile(r"NVRM version:.*Kernel Module(?: for \S+)?\s+(\d+\.\d+(?:\.\d+)?)")),
    ("nvml_library", "nvidia-smi", re.compile(r"NVML library version:\s*(\d+\.\d+(?:\.\d+)?)")),
    ("python_version", "python", re.compile(r"^\s*Python (\d+\.\d+\.\d+)\s*$")),
    ("nvml_error", "nvidia-smi", re.compile(r"(?:Failed to initialize NVML|nvml error): *(.+)$", re.IGNORECASE)),
    ("cuda_error", "error", re.compile(r"((?:RuntimeError: )?CUDA error: .+|Unexpected error from cudaGetDeviceCount\(\).*)$")),
    ("gpu_sm", "error", re.compile(r"with CUDA capability sm_(\d+)")),
    ("gpu_sm", "error", re.compile(r"which is of cuda capability (\d+\.\d+)")),
    ("gpu_sm", "free-form", re.compile(r"\bcompute capability\s*[:=]?\s*(\d{1,2}\.\d)\b", re.IGNORECASE)),
    ("gpu_sm", "free-form", re.compile(r"\bcompute capability\W{0,6}sm_(\d{2,3})\b", re.IGNORECASE)),
    ("torch_cuda", "free-form", re.compile(r"^CUDA \((?:via|from|of) (?:torch|pytorch)\)\s*[:=]\s*(\d+\.\d+)", re.IGNORECASE)),
    ("arch_list", "error", re.compile(r"supports CUDA capabilities ((?:sm_\d+a?\s*)+)")),
    ("driver_cuda", "error", re.compile(r"driver on your system is too old \(found version (\d{4,6})\)")),
    # A program's own log line may lead with its level ("[INFO] PyTorch Version: 2.8.0+cpu").
    ("torch_version", "free-form", re.compile(r"^\s*(?:\[[A-Z]{3,8}\]\s*)?(?:torch|pytorch)\s*(?:version\s*)?[:=]+\s*v?"
                                              r"(\d+\.\d+(?:\.\d+)?(?:\+\w+)?)\s*$", re.IGNORECASE)),
    # In prose, only a version with its build tag is torch's beyond doubt ("`torch 2.10.0+cu128`", "PyTorch version
    # 2.8.0+cpu").
    ("torch_version", "free-form", re.compile(r"(?<![\w.-])(?:torch|pytorch)(?:==|=| (?:version:? ?)?|\s+version\s*[:=]\s*)v?"
                                              r"(\d+\.\d+\.\d+\+(?:cu\d{3}|cpu|rocm[\d.]+))\b", re.IGNORECASE)),
    ("driver_version", "free-form", re.compile(r"^\s*(?:nvidia\s+)?driver(?:\s+version)?\s*[:=]\s*(\d{3}\.\d+(?:\.\d+)?)",
                                               re.IGNORECASE)),
]
_GPU_LINES = [
    ("collect_env", re.compile(r"^(?:GPU models and configuration: *)?GPU \d+: *([^(]+?)(?: \(UUID:[^)]*\))?$")),
    ("nvidia-smi", re.compile(r"^\|\s*\d+\s+((?:NVIDIA|Tesla|GeForce|Quadro|TITAN)[^|]*?)\s+(?:On|Off)\s*\|")),
    ("nvidia-smi", re.compile(r"^Product Name\s*: *(.+)$")),
    ("free-form", re.compile(r"^(?:GPU|Graphics(?: card)?|显卡) *[:=] *(.+?)(?: *\((?:compute capability|sm_|cc)[^)]*\))?$",
                             re.IGNORECASE)),
]
_PROSE_GPU = re.compile(
    r"(?<![\w/.+-])((?:NVIDIA\s+)?(?:GeForce\s+)?(?:RTX\s?(?:PRO\s)?\d{4}(?:\s?Ti)?(?:\s?SUPER)?|GTX\s?\d{3,4}(?:\s?Ti)?"
    r"|(?:Tesla\s)?[AHLBV]\d{2,3}[SG]?|Tesla T4|GH200|GB[23]00|DGX Spark|Jetson(?: AGX)? (?:Orin|Thor|Xavier)))(?![\w/.-])")
"""A GPU named in prose ("I have an RTX 5090", "on my H100"): read only where no line states the GPU, only when one
GPU is named (two in one paste, "works on the 4090, fails on the 5090", say nothing for sure), and only a name NVIDIA's
tables know (the capability is then not guessed)."""
_PIP_LINE = re.compile(r"^(?:\[(?:pip3?|conda|uv)\] ?)?([A-Za-z0-9][A-Za-z0-9._-]*)(?:\s*==\s*|\s+)(\d+[\w.+!-]*)(?:\s+(\S+))?(?:\s+(\S+))?$")
_WANTED = re.compile(r"^(torch|pytorch|torchvision|torchaudio|torchcodec|triton|pytorch-triton.*|numpy|xformers|flash[-_]attn|"
                     r"bitsandbytes|vllm|nvidia-.*|cuda-.*|pytorch-cuda|cudatoolkit|cuda-version|transformers|accelerate)$",
                     re.IGNORECASE)
_LIST_ITEM = re.compile(r"^(?:[-*+>]\s+|\d{1,2}[.)]\s+)(?=\S)")


def read_pasted(text: str) -> PastedFacts:
    """The facts `text` states, each with its line."""
    truncated = len(text.encode("utf-8", "replace")) > MAX_BYTES
    if truncated:
        text = text.encode("utf-8", "replace")[:MAX_BYTES].decode("utf-8", "ignore")
    values: dict[str, Fact] = {}
    gpus: list[Fact] = []
    in_prose: list[Fact] = []
    packages: dict[str, Fact] = {}
    for number, raw in enumerate(text.split("\n"), start=1):  # numbered as an editor numbers them (\r is not a line)
        line = raw[:MAX_LINE].strip()
        if not line:
            continue
        # An issue template's list ("- **GPU**: …", "* PyTorch: …", "> Driver: …") states facts as plain lines do.
        line = _LIST_ITEM.sub("", line).replace("**", "").strip()
        for name, kind, pattern in _SINGLE:
            if name not in values and (match := pattern.search(line)):
                values[name] = Fact(clean(match.group(1).strip()), number, kind)
        for kind, pattern in _GPU_LINES:
            match = pattern.search(line)
            if match and _looks_like_gpu(match.group(1)):
                gpus.append(Fact(clean(match.group(1).strip()), number, kind))
                break
        else:
            if not line.startswith(("File ", "Traceback", "at ", "http")):
                in_prose += [Fact(clean(" ".join(m.group(1).split())), number, "free-form")
                             for m in _PROSE_GPU.finditer(line)]
        if "microsoft-standard-WSL2" in line or re.search(r"\bWSL ?2\b", line):
            values.setdefault("wsl", Fact("WSL2", number, "uname" if "Linux" in line else "free-form"))
        if re.search(r"root@[0-9a-f]{12}:|\binside (?:a |the |my )?(?:docker |podman )?container\b", line, re.IGNORECASE):
            # the text was produced inside a container (a container's shell prompt, or said so); a `docker run` line or
            # an nvidia-docker error is the host's
            values.setdefault("container", Fact("docker", number, "free-form"))
        package = _PIP_LINE.match(line)
        if package and _WANTED.match(package.group(1)) and not line.lstrip().startswith(("File ", "Traceback")):
            name = package.group(1).lower().replace("_", "-")
            name = "torch" if name == "pytorch" else name
            version = package.group(2)
            build = package.group(3) or ""
            if name == "torch" and "+" not in version and (cuda := re.search(r"cuda(\d+)\.?(\d)", build)):
                version = f"{version}+cu{cuda.group(1)}{cuda.group(2)}"  # conda's build string: py3.10_cuda12.1_cudnn…
            elif name == "torch" and "+" not in version and build.startswith(("cpu", "py3")) and "cpu" in build:
                version = f"{version}+cpu"
            packages.setdefault(name, Fact(clean(version), number, "conda" if package.group(4) else "pip"))
    if not gpus:
        gpus = _one_gpu_in_prose(in_prose)
    sm = values.get("gpu_sm")
    if sm is not None and "." not in sm.value and len(sm.value) >= 2:  # "sm_120" read as "120": said as "12.0"
        values["gpu_sm"] = Fact(f"{sm.value[:-1]}.{sm.value[-1]}", sm.line, sm.kind)
    return PastedFacts(
        gpus=tuple(_unique(gpus)), packages=packages, truncated=truncated,
        **{name: values.get(name) for name in ("gpu_sm", "driver_version", "driver_cuda", "kernel_module", "nvml_library",
                                               "torch_version", "torch_cuda", "cuda_available", "arch_list",
                                               "python_version", "os", "wsl", "container", "nvml_error",
                                               "cuda_error")},
    )


def _one_gpu_in_prose(found: list[Fact]) -> list[Fact]:
    """The GPU prose names, when it names one that NVIDIA's tables know (see _PROSE_GPU); none otherwise."""
    from torchdoctor.knowledge import knowledge

    known = [f for f in found if knowledge().capability_of_name(f.value) is not None]
    models = {re.sub(r"^(?:NVIDIA\s+)?(?:GeForce\s+)?(?:Tesla\s+)?", "", f.value, flags=re.IGNORECASE).replace(" ", "").upper()
              for f in known}
    return known[:1] if len(models) == 1 else []


def _looks_like_gpu(name: str) -> bool:
    return bool(re.search(r"NVIDIA|GeForce|Tesla|Quadro|TITAN|RTX|GTX|\b[AHLBTVPK]\d{1,3}\b|Jetson", name)) and len(name) < 120


def _unique(facts: list[Fact]) -> list[Fact]:
    seen, kept = set(), []
    for fact in facts:
        key = fact.value.lower()
        if key not in seen:
            seen.add(key)
            kept.append(fact)
    return kept[:16]
