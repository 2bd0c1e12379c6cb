"""A local package index shaped like PyPI and download.pytorch.org, served on 127.0.0.1, for real `uv lock`.

The wheels are small but real: valid zip files with METADATA, WHEEL and RECORD, named with the real
platform tags and local versions (`torch-2.9.1+cu128-cp312-cp312-manylinux_2_28_x86_64.whl`), so uv
parses, filters and resolves them exactly as it does the real ones. What is published where follows
the knowledge base and the real indexes:
- `/pypi/simple/`: plain versions; Linux x86_64 wheels of torch are CUDA builds (they require nvidia-*
  wheels and, from 2.11, cuda-toolkit), Windows and macOS wheels are CPU builds;
- `/whl/<variant>/`: `+cpu` / `+cuXYZ` builds for Linux x86_64 and Windows, no macOS wheels;
- `/whl/nightly/cu128/`: 2.10 dev builds whose Linux wheels require `pytorch-triton==3.5.0+git…`,
  which is published only there and only for Linux, as on the real nightly index.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import threading
import zipfile
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from packaging.version import Version

LINUX = "manylinux_2_28_x86_64"
WINDOWS = "win_amd64"
MAC = "macosx_11_0_arm64"
# torch series -> (Python tags, CUDA variants on the PyTorch index, PyPI's Linux variant); from the knowledge base.
RELEASES = {
    "2.4.0": (("cp310", "cp311", "cp312"), ("cu118", "cu121", "cu124"), "cu121"),
    "2.5.1": (("cp310", "cp311", "cp312", "cp313"), ("cu118", "cu121", "cu124"), "cu124"),
    "2.6.0": (("cp310", "cp311", "cp312", "cp313"), ("cu118", "cu124", "cu126"), "cu124"),
    "2.8.0": (("cp310", "cp311", "cp312", "cp313"), ("cu126", "cu128", "cu129"), "cu128"),
    "2.9.1": (("cp310", "cp311", "cp312", "cp313"), ("cu126", "cu128", "cu130"), "cu128"),
    "2.11.0": (("cp310", "cp311", "cp312", "cp313"), ("cu126", "cu128", "cu130"), "cu130"),
    "2.15.0": (("cp311", "cp312", "cp313"), ("cu130", "cu132"), "cu132"),
}
COMPANIONS = {  # torch -> (torchvision, torchaudio or None)
    "2.4.0": ("0.19.0", "2.4.0"), "2.5.1": ("0.20.1", "2.5.1"), "2.6.0": ("0.21.0", "2.6.0"),
    "2.8.0": ("0.23.0", "2.8.0"), "2.9.1": ("0.24.1", "2.9.1"), "2.11.0": ("0.26.0", "2.11.0"), "2.15.0": ("0.29.2", None),
}
NIGHTLY = "2.10.0.dev20251010"
NIGHTLY_TRITON = "3.5.0+git7416ffcb"
PLAIN_PACKAGES = {  # generic dependencies the cases need, on the PyPI-like index only
    "numpy": ["1.26.4", "2.2.6"], "funasr": ["1.2.7"], "modelscope": ["1.31.0"], "filelock": ["3.20.0"],
    "nvidia-cuda-runtime-cu12": ["12.8.90"], "nvidia-cuda-runtime": ["13.0.96"], "triton": ["3.5.1"],
}


@dataclass
class Wheel:
    name: str
    version: str
    tag: str
    requires: list[str] = field(default_factory=list)
    requires_python: str | None = None

    @property
    def filename(self) -> str:
        return f"{self.name.replace('-', '_')}-{self.version}-{self.tag}.whl"

    def build(self) -> bytes:
        dist = f"{self.name.replace('-', '_')}-{self.version}.dist-info"
        metadata = ["Metadata-Version: 2.1", f"Name: {self.name}", f"Version: {self.version}"]
        if self.requires_python:
            metadata.append(f"Requires-Python: {self.requires_python}")
        metadata += [f"Requires-Dist: {r}" for r in self.requires]
        files = {
            f"{self.name.replace('-', '_')}/__init__.py": f"__version__ = {self.version!r}\n",
            f"{dist}/METADATA": "\n".join(metadata) + "\n",
            f"{dist}/WHEEL": f"Wheel-Version: 1.0\nGenerator: torchdoctor-tests\nRoot-Is-Purelib: false\nTag: {self.tag}\n",
        }
        record = []
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for path, text in files.items():
                data = text.encode()
                digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                record.append(f"{path},sha256={digest},{len(data)}")
                archive.writestr(path, data)
            record.append(f"{dist}/RECORD,,")
            archive.writestr(f"{dist}/RECORD", "\n".join(record) + "\n")
        return buffer.getvalue()


# An sdist whose build imports torch, as flash-attn's does, with a tiny in-tree PEP 517 backend so that
# building it needs nothing from the index but torch itself.
EXTENSION_BACKEND = """
import base64, hashlib, io, os, zipfile

def _metadata():
    import torch  # what flash-attn's setup.py does first; fails in an isolated build without torch
    return "Metadata-Version: 2.1\\nName: flash-attn\\nVersion: 2.8.3\\nRequires-Dist: torch\\n"

def get_requires_for_build_wheel(config_settings=None):
    return []

def prepare_metadata_for_build_wheel(directory, config_settings=None):
    info = os.path.join(directory, "flash_attn-2.8.3.dist-info")
    os.makedirs(info)
    with open(os.path.join(info, "METADATA"), "w") as handle:
        handle.write(_metadata())
    return "flash_attn-2.8.3.dist-info"

def build_wheel(directory, config_settings=None, metadata_directory=None):
    name = "flash_attn-2.8.3-py3-none-any.whl"
    files = {"flash_attn/__init__.py": "", "flash_attn-2.8.3.dist-info/METADATA": _metadata(),
             "flash_attn-2.8.3.dist-info/WHEEL": "Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}
    with zipfile.ZipFile(os.path.join(directory, name), "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
        archive.writestr("flash_attn-2.8.3.dist-info/RECORD", "")
    return name
"""


def extension_sdist() -> bytes:
    import tarfile

    files = {
        "pyproject.toml": '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n\n'
                          '[project]\nname = "flash-attn"\nversion = "2.8.3"\ndynamic = ["dependencies"]\n',
        "backend.py": EXTENSION_BACKEND,
        "PKG-INFO": "Metadata-Version: 2.1\nName: flash-attn\nVersion: 2.8.3\n",
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"flash_attn-2.8.3/{path}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _torch_wheels(version: str, local: str | None, platforms: list[str], pythons: tuple[str, ...], linux_cuda: bool) -> list[Wheel]:
    full = f"{version}+{local}" if local else version
    requires_python = f">=3.{pythons[0][3:]}"
    cuda13 = Version(version) >= Version("2.11")
    wheels = []
    for python in pythons:
        for platform in platforms:
            requires = ["filelock"]
            # Every wheel of a release carries the same METADATA (uv reads one and trusts it for all), so the
            # Linux-only CUDA requirements are marker-gated, as on PyPI.
            if linux_cuda and not local:
                requires.append(f'nvidia-cuda-runtime{"" if cuda13 else "-cu12"} ; platform_system == "Linux"')
                requires.append('triton ; platform_system == "Linux"')
            wheels.append(Wheel("torch", full, f"{python}-{python}-{platform}", requires, requires_python))
    companions = COMPANIONS.get(version)
    if companions:
        vision, audio = companions
        for package, companion in (("torchvision", vision), ("torchaudio", audio)):
            if companion is None:
                continue
            companion_full = f"{companion}+{local}" if local else companion
            for python in pythons:
                for platform in platforms:
                    pin = f"torch=={full}"
                    wheels.append(Wheel(package, companion_full, f"{python}-{python}-{platform}", [pin], requires_python))
    return wheels


def build_indexes(root: Path) -> None:
    """Write every index's wheels and PEP 503 pages under `root`."""
    indexes: dict[str, list[Wheel]] = {}
    for version, (pythons, variants, _pypi_cuda) in RELEASES.items():
        indexes.setdefault("pypi/simple", []).extend(_torch_wheels(version, None, [LINUX, WINDOWS, MAC], pythons, True))
        indexes.setdefault("whl/cpu", []).extend(_torch_wheels(version, "cpu", [LINUX, WINDOWS], pythons, False))
        for variant in variants:
            indexes.setdefault(f"whl/{variant}", []).extend(_torch_wheels(version, variant, [LINUX, WINDOWS], pythons, False))
    # Like the real PyTorch index, every variant also carries an old copy of some common packages.
    for index in [i for i in indexes if i.startswith("whl/")]:
        indexes[index].append(Wheel("filelock", "3.13.1", "py3-none-any"))
    for name, versions in PLAIN_PACKAGES.items():
        for version in versions:
            indexes["pypi/simple"].append(Wheel(name, version, "py3-none-any"))
    nightly = indexes.setdefault("whl/nightly/cu128", [])
    for python in ("cp310", "cp311", "cp312", "cp313"):
        nightly.append(Wheel("torch", f"{NIGHTLY}+cu128", f"{python}-{python}-{LINUX}",
                             ["filelock", f'pytorch-triton=={NIGHTLY_TRITON} ; platform_system == "Linux"'], ">=3.10"))
        nightly.append(Wheel("torch", f"{NIGHTLY}+cu128", f"{python}-{python}-{WINDOWS}", ["filelock"], ">=3.10"))
        nightly.append(Wheel("pytorch-triton", NIGHTLY_TRITON, f"{python}-{python}-{LINUX}", [], ">=3.10"))
        for package, version in (("torchvision", "0.25.0.dev20251010"), ("torchaudio", "2.10.0.dev20251010")):
            for platform in (LINUX, WINDOWS):
                nightly.append(Wheel(package, f"{version}+cu128", f"{python}-{python}-{platform}", [f"torch=={NIGHTLY}+cu128"], ">=3.10"))
    sdist_folder = root / "pypi/simple/flash-attn"
    sdist_folder.mkdir(parents=True)
    sdist = extension_sdist()
    (sdist_folder / "flash_attn-2.8.3.tar.gz").write_bytes(sdist)
    (sdist_folder / "index.html").write_text(
        f'<a href="/pypi/simple/flash-attn/flash_attn-2.8.3.tar.gz#sha256={hashlib.sha256(sdist).hexdigest()}">'
        "flash_attn-2.8.3.tar.gz</a>\n", encoding="utf-8")
    for index, wheels in indexes.items():
        folder = root / index
        by_project: dict[str, list[Wheel]] = {}
        for wheel in wheels:
            by_project.setdefault(wheel.name, []).append(wheel)
        for project, project_wheels in by_project.items():
            project_folder = folder / project
            project_folder.mkdir(parents=True, exist_ok=True)
            links = []
            for wheel in {w.filename: w for w in project_wheels}.values():
                data = wheel.build()
                (project_folder / wheel.filename).write_bytes(data)
                digest = hashlib.sha256(data).hexdigest()
                requires_python = f' data-requires-python="{html.escape(wheel.requires_python)}"' if wheel.requires_python else ""
                # Absolute paths: the same page also serves as a find-links page reached without a trailing slash.
                href = f"/{index}/{project}/{wheel.filename}"
                links.append(f'<a href="{href}#sha256={digest}"{requires_python}>{wheel.filename}</a><br>')
            (project_folder / "index.html").write_text("<html><body>\n" + "\n".join(links) + "\n</body></html>\n", encoding="utf-8")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


class LocalIndex:
    """The indexes served over HTTP on 127.0.0.1 (an ephemeral port) from a background thread."""

    def __init__(self, root: Path):
        build_indexes(root)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def pypi(self) -> str:
        return f"{self.base}/pypi/simple"

    @property
    def whl(self) -> str:
        """Stands in for https://download.pytorch.org/whl."""
        return f"{self.base}/whl"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
