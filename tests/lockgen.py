"""Generate a uv.lock in the layout uv writes, for the lock-reading tests and benchmark."""

from __future__ import annotations

import hashlib

PYPI = "https://pypi.org/simple"
CU128 = "https://download.pytorch.org/whl/cu128"

GENERIC_TAGS = [
    "cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64",
    "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
    "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64",
    "cp312-cp312-macosx_11_0_arm64",
    "cp312-cp312-win_amd64",
    "cp313-cp313-manylinux_2_28_aarch64",
    "cp313-cp313-win_amd64",
    "cp313-cp313-macosx_11_0_arm64",
]
# (name, version, registry, wheel tags): the torch family as a cu128 project locks it.
FAMILY = [
    ("torch", "2.9.1+cu128", CU128, ["cp312-cp312-manylinux_2_28_x86_64", "cp312-cp312-win_amd64"]),
    ("torch", "2.9.1", PYPI, ["cp312-none-macosx_11_0_arm64"]),
    ("torchvision", "0.24.1+cu128", CU128, ["cp312-cp312-manylinux_2_28_x86_64", "cp312-cp312-win_amd64"]),
    ("triton", "3.5.1", PYPI, ["cp312-cp312-manylinux_2_27_x86_64.manylinux_2_28_x86_64"]),
    ("nvidia-cublas-cu12", "12.8.4.1", PYPI, ["py3-none-manylinux_2_27_x86_64", "py3-none-win_amd64"]),
    ("nvidia-cudnn-cu12", "9.10.2.21", PYPI, ["py3-none-manylinux_2_27_x86_64", "py3-none-win_amd64"]),
]


def _entry(name: str, version: str, registry: str, tags: list[str], dependencies: list[str]) -> list[str]:
    digest = hashlib.sha256(f"{name}{version}".encode()).hexdigest()
    stem = name.replace("-", "_")
    quoted = version.replace("+", "%2B")
    lines = ["[[package]]", f'name = "{name}"', f'version = "{version}"', f'source = {{ registry = "{registry}" }}']
    if name == "torch" and "+" not in version:
        lines.append("resolution-markers = [\n    \"sys_platform == 'darwin'\",\n]")
    if dependencies:
        lines.append("dependencies = [")
        lines += [f'    {{ name = "{d}" }},' for d in dependencies]
        lines.append("]")
    if registry == PYPI and "+" not in version:
        lines.append(
            f'sdist = {{ url = "https://files.pythonhosted.org/packages/{digest[:2]}/{digest[2:4]}/{digest[4:60]}/{stem}-{version}.tar.gz", '
            f'hash = "sha256:{digest}", size = 123456, upload-time = "2025-01-01T00:00:00.000Z" }}'
        )
    lines.append("wheels = [")
    for tag in tags:
        host = "https://download.pytorch.org/whl/cu128" if registry == CU128 else f"https://files.pythonhosted.org/packages/{digest[:2]}/{digest[2:4]}/{digest[4:60]}"
        lines.append(
            f'    {{ url = "{host}/{stem}-{quoted}-{tag}.whl", hash = "sha256:{digest}", size = 1234567, upload-time = "2025-01-01T00:00:00.000Z" }},'
        )
    lines.append("]")
    return lines


def generate_lock(packages: int = 2000, project: str = "demo") -> str:
    """A lock with `packages` entries in all: the project, the torch family and generic packages."""
    out = [
        "version = 1",
        "revision = 3",
        'requires-python = ">=3.10"',
        "resolution-markers = [",
        "    \"sys_platform == 'darwin'\",",
        "    \"sys_platform != 'darwin'\",",
        "]",
        "",
    ]
    generic = packages - len(FAMILY) - 1
    entries = [
        "\n".join(
            ["[[package]]", f'name = "{project}"', 'version = "0.1.0"', 'source = { editable = "." }',
             "dependencies = [", '    { name = "torch" },', "]", "", "[package.metadata]",
             'requires-dist = [{ name = "torch", specifier = ">=2.9" }]']
        )
    ]
    for name, version, registry, tags in FAMILY:
        entries.append("\n".join(_entry(name, version, registry, tags, ["pkg-1"] if name == "torch" else [])))
    for number in range(generic):
        deps = [f"pkg-{(number * 7) % max(generic, 1)}", f"pkg-{(number * 13) % max(generic, 1)}"]
        entries.append("\n".join(_entry(f"pkg-{number}", f"1.{number % 50}.{number % 7}", PYPI, GENERIC_TAGS, deps)))
    return "\n".join(out) + "\n" + "\n\n".join(entries) + "\n"
