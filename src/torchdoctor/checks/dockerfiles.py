"""TD53x: Dockerfiles and requirements files: the builds that download 3 GB of torch every time.

Each finding quotes the line and suggests its pinned, cached version. The suggestions are display-only:
torchdoctor edits pyproject.toml, not Dockerfiles, whose shell it cannot fully understand.
Case: ../shared/cases/docker-nightly-cache (an image rebuilt with a fresh nightly torch on every build).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from torchdoctor.checks.registry import DISPLAY_ONLY, Finding, rule
from torchdoctor.family import VERSIONED_WITH_TORCH
from torchdoctor.indexes import parse_index_url
from torchdoctor.knowledge import Release, cuda_of_variant, knowledge, series_of
from torchdoctor.model import Applicability, Evidence, Fix, Severity
from torchdoctor.snapshot import InstallCommand, Snapshot

FAMILY = VERSIONED_WITH_TORCH
# Packages of hundreds of megabytes or more, whose every new version costs a long download and layer.
LARGE_PACKAGES = (
    "torch", "torchvision", "torchaudio", "tensorrt", "tensorflow", "jax", "jaxlib", "triton", "xformers",
    "vllm", "flash-attn", "deepspeed", "bitsandbytes", "onnxruntime-gpu", "paddlepaddle-gpu", "mxnet",
)
LARGE_PREFIXES = ("nvidia-", "tensorrt-", "cupy-cuda", "tensorflow-")
PIP_TOOLING = {"pip", "setuptools", "wheel"}
PIP_CACHE = "/root/.cache/pip"
UV_CACHE = "/root/.cache/uv"


def parsed(text: str) -> Requirement | None:
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


def requirements(packages: Iterable[str]) -> list[Requirement]:
    """The packages of an install command that parse as requirements (options and URLs left out)."""
    return [requirement for requirement in map(parsed, packages) if requirement is not None]


def is_large(name: str) -> bool:
    name = canonicalize_name(name)
    return name in LARGE_PACKAGES or name.startswith(LARGE_PREFIXES)


def pinned_version(requirement: Requirement) -> str | None:
    specifiers = list(requirement.specifier)
    if len(specifiers) == 1 and specifiers[0].operator in ("==", "===") and "*" not in specifiers[0].version:
        return specifiers[0].version
    return None


def family_pins(install: InstallCommand) -> dict[str, tuple[str, Requirement]]:
    found = {}
    for text in install.packages:
        requirement = parsed(text)
        if requirement is not None and requirement.name in FAMILY:
            found[requirement.name] = (text, requirement)
    return found


def companion_versions(release: Release) -> dict[str, str]:
    """torch X.Y.Z and its companions: torchvision 0.(Y+15).Z and torchaudio X.Y.Z are released together
    (2.5.1/0.20.1/2.5.1, 2.7.1/0.22.1/2.7.1, 2.9.1/0.24.1/2.9.1), so the patch number carries over."""
    patch = release.latest.split(".")[2] if release.latest.count(".") >= 2 else "0"
    versions = {"torch": release.latest}
    if release.torchvision:
        versions["torchvision"] = f"{release.torchvision}.{patch}"
    if release.torchaudio:
        versions["torchaudio"] = f"{release.torchaudio}.{patch}"
    return versions


def newest_release_with(variant: str | None) -> Release:
    """The newest stable release that publishes `variant` (any release when there is no variant)."""
    releases = sorted(knowledge().releases, key=lambda r: Version(r.latest), reverse=True)
    for release in releases:
        if variant is None or variant in release.variants:
            return release
    return releases[0]


def stable_index(install: InstallCommand) -> tuple[str | None, str | None]:
    """(the stable index URL for this install's variant, the variant), from its --index-url."""
    if not install.index_url:
        return None, None
    url = parse_index_url(install.index_url)
    if not url.pytorch or url.variant is None:
        return install.index_url, url.variant
    return f"https://download.pytorch.org/whl/{url.variant}", url.variant


def suggested_run(install: InstallCommand, packages: list[str] | None = None, index_url: str | None = None,
                  drop: tuple[str, ...] = ()) -> str:
    """The RUN line rewritten: a BuildKit cache mount instead of --no-cache-dir, and the given pins/index."""
    tokens = install.text.split()
    start = tokens.index("install") + 1
    head, rest = tokens[:start], tokens[start:]
    skip_next = False
    kept: list[str] = []
    names = {r.name for r in requirements(install.packages)} if packages is not None else set()
    for token in rest:
        if skip_next:
            skip_next = False
            continue
        if token in ("--no-cache-dir", "--no-cache", *drop):
            continue
        if token in ("-i", "--index-url") and index_url:
            skip_next = True
            continue
        if token.startswith("--index-url=") and index_url:
            continue
        bare = token.strip("'\"")
        requirement = parsed(bare) if not bare.startswith("-") else None
        if packages is not None and requirement is not None and requirement.name in names:
            continue
        kept.append(token)
    if packages is not None:
        kept += [f'"{p}"' for p in packages]
    if index_url:
        kept += ["--index-url", index_url]
    cache = UV_CACHE if install.tool == "uv" else PIP_CACHE
    flags = [f for f in install.run_flags if "type=cache" not in f] + [f"--mount=type=cache,target={cache}"]
    return "RUN " + " ".join(flags + head + kept)


def where(install: InstallCommand) -> str:
    return f"{install.path}:{install.line}"


@rule("TD530", "dockerfile-unpinned-torch", fix=DISPLAY_ONLY, reads="project")
def dockerfile_unpinned_torch(snapshot: Snapshot) -> Iterator[Finding]:
    """A Dockerfile installs torch without pinning its version (a nightly with `--pre`, or the latest release).

    What it detects:
        A `pip install` / `uv pip install` in a RUN line naming torch, torchvision or torchaudio without
        `==`, especially with `--pre` from the nightly index.
    Why it matters:
        The RUN line's text never changes, so Docker reuses a stale layer until the cache is lost, and
        then downloads 2-3 GB again and gets whatever was published that day: each build may ship a
        different torch, and a nightly can break overnight. Builds are not reproducible.
    Fix safety:
        The suggested RUN line pins the newest stable release published for the same
        CUDA variant, with its matching torchvision/torchaudio, and caches downloads.
    """
    for dockerfile in snapshot.project.dockerfile_details:
        for install in dockerfile.installs:
            pins = family_pins(install)
            unpinned = [text for text, requirement in pins.values() if pinned_version(requirement) is None]
            if not unpinned:
                continue
            index, variant = stable_index(install)
            release = newest_release_with(variant)
            versions = companion_versions(release)
            packages = [f"{name}=={versions[name]}" for name in FAMILY if name in pins and name in versions]
            nightly = install.pre and install.index_url and "nightly" in install.index_url
            kind = "nightly" if nightly else "latest"
            yield Finding(
                Severity.WARNING,
                f"{where(install)} installs the {kind} {', '.join(unpinned)} with no version: builds are not reproducible and re-download torch",
                "An unpinned install gets whatever is newest on the day the layer is rebuilt"
                + (" (a nightly changes every day and can break overnight)" if nightly else "")
                + "; Docker's layer cache keys on the line's text, so it either keeps a stale torch or, once the"
                f" cache is gone, downloads 2-3 GB again. Pin a release: torch {release.latest} is the newest"
                + (f" published for {variant}" if variant else "") + f" (knowledge as of {knowledge().as_of}).",
                (Evidence("install", install.text, where(install)),),
                Fix(f"Pin torch {release.latest} and its companions, and cache downloads", Applicability.DISPLAY_ONLY,
                    commands=(suggested_run(install, packages, index, drop=("--pre",)),)),
            )


@rule("TD531", "dockerfile-upgrades-pip-tooling", fix=DISPLAY_ONLY, reads="project")
def dockerfile_upgrades_pip_tooling(snapshot: Snapshot) -> Iterator[Finding]:
    """A Dockerfile runs `pip install --upgrade pip setuptools wheel` with no versions.

    What it detects:
        An install with `--upgrade` whose packages are only pip, setuptools and wheel, unpinned.
    Why it matters:
        The image gets whatever versions are newest when the layer is rebuilt, and when it is rebuilt every
        layer after it is too, torch included. New setuptools releases have broken builds of packages
        from source more than once. The base image's pip installs wheels fine.
    Fix safety:
        Drop the line, or pin the versions you test with.
    """
    for dockerfile in snapshot.project.dockerfile_details:
        for install in dockerfile.installs:
            names = {r.name for r in requirements(install.packages)}
            if not install.upgrade or not names or not names <= PIP_TOOLING:
                continue
            if all((r := parsed(p)) is not None and pinned_version(r) for p in install.packages):
                continue
            yield Finding(
                Severity.INFO,
                f"{where(install)} upgrades {', '.join(sorted(names))} to whatever is newest at build time",
                "Unpinned tooling makes each rebuild differ from the last and invalidates every later layer"
                " when it changes. Remove the line (the base image's pip is enough for wheels), or pin the"
                " versions you test with (`python3 -m pip --version` in the current image shows them).",
                (Evidence("install", install.text, where(install)),),
                Fix("Remove the upgrade, or pin it", Applicability.DISPLAY_ONLY,
                    commands=(f"# delete line {install.line}: {install.text}",)),
            )


@rule("TD532", "dockerfile-no-cache-mount", fix=DISPLAY_ONLY, reads="project")
def dockerfile_no_cache_mount(snapshot: Snapshot) -> Iterator[Finding]:
    """A Dockerfile installs large packages without a BuildKit cache mount.

    What it detects:
        A RUN line that installs torch (or a requirements file) without `--mount=type=cache`, often with
        `--no-cache-dir`.
    Why it matters:
        Whenever the layer is rebuilt (a changed requirements file, a new base image) every wheel is
        downloaded again: 2-3 GB for torch and its CUDA libraries, 5-15 minutes. A cache mount keeps the
        downloads between builds without putting them in the image, so `--no-cache-dir` is no longer needed.
    Fix safety:
        The suggested line needs BuildKit (the default builder since Docker 23).
    """
    for dockerfile in snapshot.project.dockerfile_details:
        by_line: dict[int, list[InstallCommand]] = {}
        for install in dockerfile.installs:
            large = [r for r in requirements(install.packages) if is_large(r.name)]
            if not install.cache_mount and (large or install.requirement_files):
                by_line.setdefault(install.line, []).append(install)
        for installs in by_line.values():  # one finding per RUN line, however many branches it has
            first = installs[0]
            names = dict.fromkeys(
                r.name for i in installs for r in requirements(i.packages) if is_large(r.name)
            )
            what = ", ".join(names) if names else "-r " + " ".join(first.requirement_files)
            no_cache = any(i.no_cache_dir for i in installs)
            yield Finding(
                Severity.INFO,
                f"{where(first)} downloads {what} again on every rebuild: no BuildKit cache mount",
                "Docker's layer cache is all or nothing: once the layer must be rebuilt, pip starts from an"
                " empty cache" + (" (and --no-cache-dir says so)" if no_cache else "") + ". A cache"
                f" mount ({PIP_CACHE if first.tool == 'pip' else UV_CACHE}) survives between builds and never"
                " enters the image.",
                tuple(Evidence("install", i.text, where(i)) for i in installs),
                Fix("Mount a download cache for this RUN", Applicability.DISPLAY_ONLY,
                    commands=tuple(suggested_run(i) for i in installs)),
            )


def requirement_sources(snapshot: Snapshot) -> Iterator[tuple[str, str]]:
    """(requirement text, where) from requirements files and Dockerfile install lines."""
    for line in snapshot.project.requirement_lines:
        yield line.requirement, f"{line.path}:{line.line}"
    for dockerfile in snapshot.project.dockerfile_details:
        for install in dockerfile.installs:
            for package in install.packages:
                yield package, where(install)


@rule("TD533", "open-bound-on-large-package", fix=DISPLAY_ONLY, reads="project")
def open_bound_on_large_package(snapshot: Snapshot) -> Iterator[Finding]:
    """A requirements file or Dockerfile gives a large package only a lower bound (`>=`).

    What it detects:
        `tensorrt>=10.8.0`, `torch>=2.4` and the like (no `==`, no upper bound) for packages of hundreds
        of megabytes: torch and its companions, TensorRT, TensorFlow, JAX, Triton, vLLM, NVIDIA libraries.
    Why it matters:
        Every build resolves anew and may pull a new multi-gigabyte release, which also breaks
        reproducibility and the layer cache. A lock file, or a pin, makes builds repeatable.
    Fix safety:
        Pin what you test with, or compile a lock (`uv pip compile`).
    """
    for text, place in requirement_sources(snapshot):
        requirement = parsed(text)
        if requirement is None or not is_large(requirement.name):
            continue
        operators = {s.operator for s in requirement.specifier}
        if not operators & {">=", ">"} or operators & {"<", "<=", "==", "===", "~="}:
            continue
        lower = next(s.version for s in requirement.specifier if s.operator in (">=", ">"))
        path = place.rsplit(":", 1)[0]
        commands = [f"{requirement.name}=={lower}   # in {place}: the version you test with (your lower bound is {lower})"]
        if path.endswith(".txt"):
            commands.append(f"uv pip compile {path} -o {path.removesuffix('.txt')}.lock.txt   # then install from the lock")
        yield Finding(
            Severity.WARNING,
            f"{place} allows any {requirement.name} from {lower} up: each build may download a new release",
            f"{requirement.name} is large; an open bound re-resolves on every build and can jump to a new major"
            " version without warning. Pin it, or install from a compiled lock file.",
            (Evidence("requirement", text, place),),
            Fix(f"Pin {requirement.name}", Applicability.DISPLAY_ONLY, commands=tuple(commands)),
        )


def family_groups(snapshot: Snapshot) -> Iterator[tuple[dict[str, str], str, InstallCommand | None]]:
    """Pinned torch-family versions that are installed together: per install command, per requirements file."""
    for dockerfile in snapshot.project.dockerfile_details:
        for install in dockerfile.installs:
            versions = {name: pinned_version(req) for name, (_, req) in family_pins(install).items()}
            yield {k: v for k, v in versions.items() if v}, where(install), install
    by_file: dict[str, dict[str, str]] = {}
    for line in snapshot.project.requirement_lines:
        requirement = parsed(line.requirement)
        version = pinned_version(requirement) if requirement is not None and requirement.name in FAMILY else None
        if requirement is not None and version:
            by_file.setdefault(line.path, {})[requirement.name] = version
    for path, pins in by_file.items():
        yield pins, path, None


@rule("TD534", "torch-companion-versions-mismatch", fix=DISPLAY_ONLY, reads="project")
def torch_companion_versions_mismatch(snapshot: Snapshot) -> Iterator[Finding]:
    """torch, torchvision and torchaudio pinned to versions that were not released together.

    What it detects:
        In one install command or requirements file, `torch==X` with a torchvision or torchaudio pin from
        another release (torchvision 0.20.1 belongs to torch 2.5.1, not 2.9.1).
    Why it matters:
        pip either refuses ("ResolutionImpossible": torchvision pins its torch exactly) or, with
        `--no-deps`, installs a pair that fails at import ("operator torchvision::nms does not exist").
    Fix safety:
        The suggested pins are the companions released with that torch.
    """
    facts = knowledge()
    for pins, place, install in family_groups(snapshot):
        torch = pins.get("torch")
        release = facts.release(torch) if torch else None
        if release is None or torch is None:
            continue
        base = torch.split("+")[0]
        wanted = {"torch": base}
        patch = base.split(".")[2] if base.count(".") >= 2 else "0"
        if release.torchvision:
            wanted["torchvision"] = f"{release.torchvision}.{patch}"
        if release.torchaudio:
            wanted["torchaudio"] = f"{release.torchaudio}.{patch}"
        wrong = {
            name: version for name, version in pins.items()
            if name != "torch" and name in wanted and series_of(version) != series_of(wanted[name])
        }
        if not wrong:
            continue
        evidence = [Evidence(f"{name} pin", f"=={version}", place) for name, version in sorted(pins.items())]
        fixed = [f"{name}=={wanted[name]}" for name in FAMILY if name in pins]
        commands: tuple[str, ...]
        if install is not None:
            index, _ = stable_index(install)
            commands = (suggested_run(install, fixed, index),)
        else:
            commands = tuple(f"{line}   # in {place}" for line in fixed)
        note = ""
        if install is not None and install.index_url and "nightly" in install.index_url:
            note = " The line also installs these stable releases from the nightly index, which does not carry them."
        mismatched = ", ".join(f"{name} {version}" for name, version in wrong.items())
        yield Finding(
            Severity.ERROR,
            f"{place}: {mismatched} does not belong with torch {torch}",
            f"Each torch release has its own torchvision and torchaudio; torch {base} comes with "
            + ", ".join(f"{name} {wanted[name]}" for name in FAMILY if name in pins and name != "torch") + "." + note,
            tuple(evidence),
            Fix("Pin the companions released with this torch", Applicability.DISPLAY_ONLY, commands=commands),
        )


@rule("TD535", "index-variant-newer-than-base-image", fix=DISPLAY_ONLY, reads="project")
def index_variant_newer_than_base_image(snapshot: Snapshot) -> Iterator[Finding]:
    """The torch wheels' CUDA is newer than the CUDA of the Dockerfile's nvidia/cuda base image.

    What it detects:
        A PyTorch index of variant cuXYZ in a RUN line, and a `FROM nvidia/cuda:A.B...` base image with
        A.B older than X.Y.
    Why it matters:
        The base image was chosen for hosts whose driver supports CUDA A.B; wheels built for a newer CUDA
        need a newer driver there ("driver is too old"), and the image's own CUDA libraries go unused.
    Fix safety:
        Choose the index matching the image, or a newer image.
    """
    for dockerfile in snapshot.project.dockerfile_details:
        image_cuda = None
        for base in dockerfile.base_images:
            name, _, tag = base.image.partition(":")
            if name.endswith("nvidia/cuda") and tag[:1].isdigit():
                parts = tag.split("-")[0].split(".")
                if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
                    image_cuda = ((int(parts[0]), int(parts[1])), base)
        if image_cuda is None:
            continue
        (cuda, base) = image_cuda
        for install in dockerfile.installs:
            _, variant = stable_index(install)
            wheel_cuda = cuda_of_variant(variant) if variant else None
            if wheel_cuda is None or wheel_cuda <= cuda:
                continue
            matching = f"cu{cuda[0]}{cuda[1]}"
            yield Finding(
                Severity.WARNING,
                f"{where(install)} installs {variant} wheels on a CUDA {cuda[0]}.{cuda[1]} base image",
                f"The wheels need a driver for CUDA {wheel_cuda[0]}.{wheel_cuda[1]}; the image ({base.image}) was"
                f" made for CUDA {cuda[0]}.{cuda[1]}. Use the {matching} index, or a newer base image.",
                (Evidence("base image", base.image, f"{dockerfile.path}:{base.line}"),
                 Evidence("index", install.index_url or "", where(install))),
                Fix(f"Install the {matching} build", Applicability.DISPLAY_ONLY,
                    commands=(suggested_run(install, None, f"https://download.pytorch.org/whl/{matching}"),)),
            )


@rule("TD536", "extra-index-url-for-pytorch", fix=DISPLAY_ONLY, reads="project")
def extra_index_url_for_pytorch(snapshot: Snapshot) -> Iterator[Finding]:
    """The PyTorch index is added with `--extra-index-url` in a Dockerfile or requirements file.

    What it detects:
        `--extra-index-url https://download.pytorch.org/whl/...` (or a mirror of it).
    Why it matters:
        pip merges extra indexes with PyPI and takes the highest version from any of them: PyPI's build
        (or a package someone published under the same name) can win over the CUDA build you meant. An
        index used for torch should be the only index for that install (`--index-url`).
    Fix safety:
        Install torch in its own command with `--index-url`.
    """
    found: list[tuple[str, str, InstallCommand | None]] = []
    for option in snapshot.project.requirements_options:
        if option.option == "--extra-index-url" and option.value and parse_index_url(option.value).variant:
            found.append((option.value, f"{option.path}:{option.line}", None))
    for dockerfile in snapshot.project.dockerfile_details:
        for install in dockerfile.installs:
            for url in install.extra_index_urls:
                if parse_index_url(url).variant:
                    found.append((url, where(install), install))
    for url, place, command in found:
        variant = parse_index_url(url).variant
        stable = f"https://download.pytorch.org/whl/{variant}"
        if command is not None:
            family = [p for p in command.packages if (r := parsed(p)) is not None and r.name in FAMILY]
            commands = (
                "RUN --mount=type=cache,target=/root/.cache/pip python3 -m pip install "
                + " ".join(f'"{p}"' for p in (family or ["torch"])) + f" --index-url {stable}",
            )
        else:
            commands = (f"--index-url {stable}   # in a requirements file of its own, for torch and its companions",)
        yield Finding(
            Severity.WARNING,
            f"{place} adds the PyTorch index with --extra-index-url: PyPI's torch can win over the {variant} build",
            "With several indexes pip takes the highest version found anywhere, so the CUDA variant is not"
            " guaranteed, and any index can shadow another's package.",
            (Evidence("--extra-index-url", url, place),),
            Fix("Give torch its own install with --index-url", Applicability.DISPLAY_ONLY, commands=commands),
        )


TOOLKIT_PARTS = ("nvidia-ctk", "nvidia-container-cli", "nvidia-container-runtime", "nvidia-container-runtime-hook", "cdi")


@rule("TD537", "container-toolkit-not-installed", fix=DISPLAY_ONLY)
def container_toolkit_not_installed(snapshot: Snapshot) -> Iterator[Finding]:
    """This host has an NVIDIA GPU and Docker or Podman, but not the NVIDIA Container Toolkit that gives containers the GPU.

    What it detects:
        On a host (not inside a container, not WSL, where Docker Desktop brings the GPU itself) whose NVIDIA driver
        answers, with docker or podman on PATH (not the docker snap, which carries the toolkit): none of the toolkit's
        parts (nvidia-ctk, nvidia-container-cli, nvidia-container-runtime(-hook) on PATH, an NVIDIA CDI spec). A
        warning when the project has a Dockerfile, or a compose file that asks for NVIDIA GPUs (it is meant to run in a
        container); else a note.
    Why it matters:
        `docker run --gpus all` fails before the container starts: "could not select device driver \"\" with
        capabilities: [[gpu]]" (Compose: "could not select device driver \"nvidia\"", `--runtime nvidia`: "Unknown
        runtime specified nvidia"); started without it, the container has no GPU and torch.cuda.is_available() is False.
    Fix safety:
        Installing the toolkit is the host's administrator's to do: the commands are shown, never run.
    """
    system = snapshot.system
    tools = system.container_tools
    if tools is None or system.container or system.wsl or snapshot.nvml.status != "ok" or not snapshot.nvml.gpus:
        return  # under WSL, Docker Desktop gives its containers the GPU without the toolkit in the distribution
    # The docker snap carries the toolkit inside the snap.
    engines = [name for name in ("docker", "podman") if name in tools and not tools[name].startswith("/snap/")]
    if not engines or any(part in tools for part in TOOLKIT_PARTS):
        return
    dockerfiles = snapshot.project.dockerfile_details
    composed = snapshot.project.compose_gpu_files or ()
    meant = (f" ({composed[0]} asks for the GPU)" if composed else f" ({dockerfiles[0].path} builds one)" if dockerfiles
             else "")
    yield Finding(
        Severity.WARNING if dockerfiles or composed else Severity.INFO,
        f"{' and '.join(engines)} {'are' if len(engines) > 1 else 'is'} installed but the NVIDIA Container Toolkit is "
        "not: containers cannot use this machine's GPU" + meant,
        "Containers reach the GPU through the NVIDIA Container Toolkit, which mounts the host driver's libraries and "
        "device files into them. Without it `docker run --gpus all` stops with \"could not select device driver \"\" "
        "with capabilities: [[gpu]]\" (or \"Unknown runtime specified nvidia\"), and a container started without "
        "--gpus has no GPU at all.",
        tuple(Evidence(name, tools[name], "PATH") for name in engines)
        + (Evidence("NVIDIA Container Toolkit", "not found (nvidia-ctk, nvidia-container-cli, a CDI spec)",
                    "PATH, /etc/cdi, /var/run/cdi"),
           Evidence("GPUs", str(len(snapshot.nvml.gpus)), "NVML")),
        Fix("Install the NVIDIA Container Toolkit and configure the engine", Applicability.DISPLAY_ONLY, commands=(
            "# the distribution's package repository: docs.nvidia.com/datacenter/cloud-native/container-toolkit/",
            "sudo apt-get install -y nvidia-container-toolkit   # or dnf/zypper install nvidia-container-toolkit",
            "sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker"
            if "docker" in engines else "sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml   # podman uses CDI",
        )),
    )
