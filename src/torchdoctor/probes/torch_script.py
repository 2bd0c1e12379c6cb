# This script runs inside the *project's* interpreter, not torchdoctor's, so it is written for
# Python 3.8 and newer with the standard library and torch only (no annotations syntax, no match,
# no walrus-dependent logic). It prints one JSON record per stage, each on its own line behind a
# marker, and flushes after each: if `import torch` or CUDA initialisation crashes or hangs, the
# stages already printed still reach torchdoctor.
import importlib
import json
import sys
import time
import traceback
import warnings

MARKER = "@@torchdoctor@@ "

FAMILY = {
    "torchvision", "torchaudio", "torchcodec", "torchtext", "torchdata",
    "triton", "triton-rocm", "triton-xpu", "triton-windows",
    "pytorch-triton", "pytorch-triton-rocm", "pytorch-triton-xpu",
    "xformers", "flash-attn", "flash-attn-3", "deepspeed", "apex", "bitsandbytes", "vllm",
    "numba", "numba-cuda",  # load the CUDA driver as `libcuda.so` (no version): fails under WSL2
    "mamba-ssm", "causal-conv1d", "torch-scatter", "torch-sparse", "torch-cluster", "numpy",
}


def emit(stage, **values):
    values["stage"] = stage
    sys.stdout.write(MARKER + json.dumps(values) + "\n")
    sys.stdout.flush()


def normalise(name):
    return name.lower().replace("_", "-").replace(".", "-")


def wanted(name):
    return name == "torch" or name in FAMILY or (name.startswith(("nvidia-", "cuda-")) and name != "nvidia-ml-py")


def installed_packages():
    """Versions of the packages that have to match torch, read from their metadata (never pip).

    Installed wheels name their metadata folder `{name}-{version}.dist-info` (the wheel specification; `-` in the
    name escaped as `_`), so the names and versions are read from the folder names on sys.path, the first one of
    each name winning as for importlib.metadata: parsing every METADATA file of a large environment takes tenths of
    a second. An `.egg-info` (an old-style install) has no version in its name: then importlib.metadata reads all."""
    import os

    found, torch_version, names = {}, None, set()
    folders, installs, seen = {}, [], set()
    for folder in sys.path:
        real = os.path.realpath(folder or ".")
        if real in seen:
            continue  # lib64 -> lib in a venv (Fedora, RHEL): one folder, listed twice on sys.path
        seen.add(real)
        try:
            entries = sorted(os.listdir(folder or "."))
        except OSError:
            continue
        for entry in entries:
            if entry.endswith(".egg-info"):
                return installed_packages_from_metadata()
            if not entry.endswith(".dist-info") or "-" not in entry:
                continue
            name, version = entry[: -len(".dist-info")].split("-", 1)
            name = normalise(name)
            if name == "torch":
                installs.append(version + " in " + (folder or "."))
            if name in names:
                continue
            names.add(name)
            if name == "torch":
                torch_version = version
                folders[name] = folder or "."
            elif wanted(name):
                found[name] = version
                folders[name] = folder or "."
    INSTALLS.update(folders=folders, installs=installs)
    return found, torch_version


INSTALLS = {}  # type: dict
"""Where installed_packages found each package and every torch install (the metadata fallback leaves it empty)."""


def torch_requires():
    """torch's Requires-Dist lines for its family and CUDA wheels, from its METADATA: the triton it was built with."""
    import os

    folder = INSTALLS.get("folders", {}).get("torch")
    installs = INSTALLS.get("installs") or []
    if folder is None or not installs:
        return None
    version = installs[0].split(" in ", 1)[0]
    try:
        with open(os.path.join(folder, "torch-" + version + ".dist-info", "METADATA"), encoding="utf-8") as handle:
            text = handle.read(1 << 20)
    except OSError:
        return None
    lines = []
    for line in text.splitlines():
        if not line:
            break  # the headers end at the first blank line; the description follows
        if line.startswith("Requires-Dist:"):
            requirement = line[len("Requires-Dist:"):].strip()
            name = normalise(requirement.split(";")[0].split("=")[0].split("<")[0].split(">")[0].split("[")[0].strip())
            if wanted(name):
                lines.append(requirement)
    return lines


def installed_packages_from_metadata():
    try:
        from importlib import metadata
    except ImportError:  # Python < 3.8 has no importlib.metadata
        return {}, None
    found = {}
    torch_version = None
    for dist in metadata.distributions():
        try:
            name = normalise(dist.metadata["Name"] or "")
        except Exception:
            continue
        if name == "torch":
            torch_version = torch_version or dist.version
        elif wanted(name):
            found.setdefault(name, dist.version)
    return found, torch_version


def short_error(error):
    text = f"{type(error).__name__}: {error}"
    return text.strip()[:2000]


def stage_pre():
    started = time.perf_counter()
    import importlib.util
    import platform
    import sysconfig

    packages, torch_version = installed_packages()
    location = None
    try:
        spec = importlib.util.find_spec("torch")
        if spec is not None:
            location = spec.origin or (list(spec.submodule_search_locations or []) or [None])[0]
    except Exception:
        pass
    emit(
        "pre",
        python_version=platform.python_version(),
        python_executable=sys.executable,
        python_prefix=sys.prefix,
        python_platform=sysconfig.get_platform(),
        python_build=sys.version.replace("\n", " ")[:200],
        installed_version=torch_version,
        location=location,
        packages=packages,
        package_folders=INSTALLS.get("folders") or None,
        torch_installs=INSTALLS.get("installs") if "installs" in INSTALLS else None,
        torch_requires=torch_requires(),
        pre_s=time.perf_counter() - started,
    )
    return location is not None


def cuda_driver_facts(initialise=True):
    """Ask the CUDA driver API directly, through ctypes: what torch's CUDA initialisation will get. Without
    `initialise` (the first verdict) only the version is asked: cuInit takes a few tenths of a second."""
    import ctypes

    if sys.platform == "darwin":
        return {"library": None, "error": "macOS has no CUDA driver"}
    names = ["nvcuda.dll"] if sys.platform == "win32" else ["libcuda.so.1", "libcuda.so"]
    errors = []
    for name in names:
        try:
            library = ctypes.CDLL(name)
            break
        except OSError as error:
            errors.append(str(error))
    else:
        return {"library": None, "error": "; ".join(errors)}
    version = ctypes.c_int(0)
    count = ctypes.c_int(0)
    facts = {"library": name}
    try:
        if library.cuDriverGetVersion(ctypes.byref(version)) == 0:
            facts["driver_version"] = version.value
        if not initialise:
            return facts
        facts["init_result"] = library.cuInit(0)
        if facts["init_result"] == 0 and library.cuDeviceGetCount(ctypes.byref(count)) == 0:
            facts["device_count"] = count.value
    except AttributeError as error:  # a stub library without the entry points
        facts["error"] = str(error)
    return facts


def stage_import():
    started = time.perf_counter()
    try:
        import torch
    except BaseException as error:  # ImportError, OSError from a missing .so, SystemExit from odd builds
        emit("import", import_error=short_error(error), traceback=traceback.format_exc()[-4000:],
             import_s=time.perf_counter() - started)
        return None
    version = str(getattr(torch, "__version__", "")) or None
    local = version.split("+", 1)[1] if version and "+" in version else None
    torch_version = getattr(torch, "version", None)
    emit(
        "import",
        import_s=time.perf_counter() - started,
        version=version,
        local_tag=local,
        cuda=getattr(torch_version, "cuda", None),
        hip=getattr(torch_version, "hip", None),
        git_version=getattr(torch_version, "git_version", None),
        debug=getattr(torch_version, "debug", None),
        xnnpack=_flag(lambda: importlib.import_module("torch.backends.xnnpack").enabled),  # not imported by torch
        xpu_available=_flag(lambda: torch.xpu.is_available()) if hasattr(torch, "xpu") else None,
    )
    return torch


def _flag(read):
    """A yes/no fact that some builds lack: None when it cannot be read."""
    try:
        value = read()
    except Exception:
        return None
    return value if isinstance(value, bool) else None


def guarded(function, *args):
    try:
        return function(*args), None
    except Exception as error:
        return None, short_error(error)


def stage_cuda(torch):
    started = time.perf_counter()
    values = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        available, error = guarded(torch.cuda.is_available)
    values["is_available_s"] = time.perf_counter() - started
    values["cuda_available"] = available
    values["cuda_init_warnings"] = [str(w.message) for w in caught]
    errors = [error] if error else []

    # get_arch_list() returns [] whenever CUDA is unavailable; the flags compiled into the build are
    # still readable, and they are exactly what a "no kernel image" diagnosis needs.
    flags = getattr(torch._C, "_cuda_getArchFlags", None)
    arch, _ = guarded(flags) if flags else (None, None)
    values["arch_list"] = arch.split() if arch else []
    cudnn_version, _ = guarded(torch.backends.cudnn.version)
    values["cudnn_version"] = cudnn_version if isinstance(cudnn_version, int) else None

    devices = []
    if available:
        count, error = guarded(torch.cuda.device_count)
        if error:
            errors.append(error)
        values["device_count"] = count
        for index in range(count or 0):
            props, error = guarded(torch.cuda.get_device_properties, index)
            if error:
                errors.append(error)
                continue
            devices.append({
                "index": index,
                "name": props.name,
                "capability": [props.major, props.minor],
                "total_memory": int(props.total_memory),
                "multiprocessors": getattr(props, "multi_processor_count", None),
            })
        nccl = getattr(torch.cuda, "nccl", None)
        if nccl is not None and torch.version.cuda:
            version, _ = guarded(nccl.version)
            if isinstance(version, tuple):
                version = ".".join(str(part) for part in version)
            values["nccl_version"] = str(version) if version is not None else None
    else:
        values["device_count"] = 0
    values["devices"] = devices
    if sys.platform == "darwin":
        mps = getattr(torch.backends, "mps", None)
        values["mps_available"] = bool(mps and mps.is_available())
    values["cuda_error"] = "; ".join(errors) or None
    values["cuda_s"] = time.perf_counter() - started
    emit("cuda", **values)


def main():
    if "--driver-only" in sys.argv:
        emit("driver", cuda_driver=cuda_driver_facts())
        return
    if not stage_pre():
        emit("done", not_installed=True)
        return
    if "--files-only" in sys.argv:  # check --quick: torchdoctor reads the rest from torch's files
        emit("driver", cuda_driver=cuda_driver_facts(initialise=False))
        emit("done", files_only=True)
        return
    emit("driver", cuda_driver=cuda_driver_facts())
    torch = stage_import()
    if torch is not None:
        stage_cuda(torch)
    emit("done")


if __name__ == "__main__":
    main()
