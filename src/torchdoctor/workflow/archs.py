"""Archs: the SASS and PTX architectures compiled into libraries, wheels, folders or installed packages, read from
their fat binary headers (probes/fatbin.py) without loading them."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from torchdoctor.snapshot import LibraryCode
from torchdoctor.workflow.probing import CannotProbe

MAX_FOLDER_LIBRARIES = 5000


def gpu_code(targets: list[str], project_dir: Path, python: str | None) -> tuple[list[LibraryCode], Path | None]:
    """The GPU code of each target (a library, a wheel, a folder, an installed package), or of torch and every package
    that builds against it in the project's environment when none is named; and that environment's site-packages."""
    from torchdoctor.probes.fatbin import NotABinary, environment_gpu_code, is_library, package_gpu_code, read_gpu_code
    from torchdoctor.probes.fatbin import read_many, wheel_gpu_code

    found: list[LibraryCode] = []
    site = None
    if not targets or any(not Path(t).exists() for t in targets):
        site = _site_packages_of(project_dir, python)
    if not targets and site is not None:
        found = list(environment_gpu_code(site))
    for target in targets:
        path = Path(target)
        if path.is_file() and path.suffix == ".whl":
            try:
                found += [LibraryCode(path.name, member, code.sass, code.ptx, ptx_isa=code.ptx_isa)
                          for member, code in wheel_gpu_code(path)]
            except (OSError, zipfile.BadZipFile) as error:
                raise CannotProbe(f"{target}: not a readable wheel ({error})") from None
        elif path.is_file():
            try:
                code = read_gpu_code(path)
            except (OSError, NotABinary) as error:
                raise CannotProbe(f"{target}: {error}") from None
            found.append(LibraryCode(path.name, str(path), code.sass, code.ptx, ptx_isa=code.ptx_isa))
        elif path.is_dir():
            libraries = sorted(p for p in path.rglob("*") if is_library(p.name))
            found += [LibraryCode(path.name, str(code.path), code.sass, code.ptx, ptx_isa=code.ptx_isa)
                      for code in read_many(libraries[:MAX_FOLDER_LIBRARIES])]
        else:
            name = target.lower().replace("_", "-")
            if site is None:
                raise CannotProbe(f"{target}: not a file, a folder, or an installed package")
            matched = [c for c in environment_gpu_code(site) if c.package == name]
            if not matched:
                package = package_gpu_code(site, name)
                if package is None:
                    raise CannotProbe(f"{target}: not a file, a folder, or a package installed in {site}")
                matched = list(package)
            found += matched
    return found, site


def _site_packages_of(project_dir: Path, python: str | None) -> Path:
    """The site-packages of the interpreter chosen as for `check`, as it reports them (run isolated, like every probe)."""
    from torchdoctor.probes.interpreter import InterpreterNotFound, choose_interpreter
    from torchdoctor.probes.project import find_project_root
    from torchdoctor.probes.runner import python_argv, run_command

    root, _ = find_project_root(project_dir)
    try:
        interpreter = choose_interpreter(root, python)
    except InterpreterNotFound as error:
        raise CannotProbe(str(error)) from None
    result = run_command(python_argv(interpreter.path, "import json, site\nprint(json.dumps(site.getsitepackages()))"),
                         timeout_s=30)
    try:
        folders = [Path(p) for p in json.loads(result.stdout.strip().splitlines()[-1]) if Path(p).is_dir()]
    except (ValueError, IndexError, TypeError):
        folders = []
    site = next((f for f in folders if f.name == "site-packages"), folders[0] if folders else None)
    if site is None:
        raise CannotProbe(f"no site-packages found for {interpreter.path} ({interpreter.reason}); name a library or folder")
    return site
