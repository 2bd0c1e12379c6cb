"""Shared test helpers: real interpreters, real virtual environments, the real CLI in a subprocess."""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# pytest rewrites each test module's asserts, and caches the result only where Python may write bytecode. Where the
# environment says it may not (PYTHONDONTWRITEBYTECODE, as on some CI images), every worker rewrote all 34 modules on
# every run: 4.7 s of a worker's start against about 2 s. The cache goes under tests/__pycache__ (git-ignored); the
# children the tests start keep the environment's setting.
sys.dont_write_bytecode = False

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
# The field cases from the team's shared folder, copied so a clone tests on its own;
# test_cases_match_shared keeps the copy identical to the shared originals where those are present.
CASES = FIXTURES / "cases"
SHARED_CASES = REPO.parent / "shared" / "cases"
SNAPSHOTS = FIXTURES / "snapshots"


@pytest.fixture(scope="session")
def real_torch_python() -> str:
    """An interpreter with a real torch build: the one running the tests (the README installs a CPU torch)."""
    if importlib.util.find_spec("torch") is None:
        message = "torch is not installed beside the tests; the README's test command installs it"
        if os.environ.get("TORCHDOCTOR_REQUIRE_TORCH"):
            pytest.fail(message)
        pytest.skip(message)
    return sys.executable


def make_venv(folder: Path, packages: dict[str, str] | None = None) -> Path:
    """A real virtual environment without pip (fast), with `packages` written as modules into it.

    `packages` maps a top-level package name to the source of its __init__.py; a fake `torch` whose
    import sleeps or aborts is how the probe's timeout and crash handling is tested.
    """
    venv.EnvBuilder(with_pip=False, symlinks=True).create(folder)
    python = folder / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
    )
    for name, source in (packages or {}).items():
        package = site / name
        package.mkdir(parents=True, exist_ok=True)
        (package / "__init__.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return python


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120) -> CliResult:
    """Run the real `python -m torchdoctor` as a user would, and capture what it printed."""
    environment = dict(os.environ)
    environment.pop("VIRTUAL_ENV", None)
    environment.update(env or {})
    result = subprocess.run(
        [sys.executable, "-m", "torchdoctor", *args],
        cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout,
    )
    return CliResult(result.returncode, result.stdout, result.stderr)


def write_project(folder: Path, pyproject: str, files: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(textwrap.dedent(pyproject), encoding="utf-8")
    for name, text in (files or {}).items():
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Each test gets its own probe cache, backup folder (`fix` keeps one before writing; undo reads it), and uv its
    own cache and configuration folder: no test sees another's, none reads or writes the user's. Without this, a
    `fix --yes` test that set no folder of its own left its backup in ~/.local/state/torchdoctor, uv (run by the
    lock-freshness check) kept interpreter facts in ~/.cache/uv and a lock of its credentials in ~/.local/share/uv, and
    a uv.toml in ~/.config/uv would have changed what it resolved. A test that sets one of these itself wins."""
    monkeypatch.setenv("TORCHDOCTOR_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("TORCHDOCTOR_STATE_DIR", str(tmp_path_factory.mktemp("state")))
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path_factory.mktemp("uv-cache")))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
    # uv 0.13 keeps a lock of its credentials store in its data folder (~/.local/share/uv/credentials) on every lock.
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data")))
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")
    # No test reads the real nightly index: what it publishes changes daily. The local index still answers.
    monkeypatch.setenv("TORCHDOCTOR_OFFLINE", "1")
    # The text report fits COLUMNS; Textual's headless apps set it for the process, and a test after one would see it.
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)


def contains(bigger, smaller) -> bool:
    """Whether every key and value of `smaller` (JSON) is in `bigger`: a recording made before a field was
    added to the Snapshot still matches what this version writes, which only adds defaulted fields."""
    if isinstance(smaller, dict):
        return isinstance(bigger, dict) and all(k in bigger and contains(bigger[k], v) for k, v in smaller.items())
    if isinstance(smaller, list):  # a list of records (the lock's packages) gains the new fields of each
        return isinstance(bigger, list) and len(bigger) == len(smaller) and all(map(contains, bigger, smaller))
    return bigger == smaller


def processes_with(text: str) -> list[int]:
    """The processes whose command line (its arguments joined by spaces) holds `text`, read from /proc; one that
    ends meanwhile is skipped. How a test finds the children a command left behind."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if text in Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(name))
            except OSError:
                continue
    return found


HANGING_TORCH = "import time\ntime.sleep(600)\n"
"""A `torch` whose import never finishes, as on a wedged driver or a stalled network file system."""


def fake_cuda_torch(version: str, cuda: str, is_available: str = "return False", arch_flags: str | None = None,
                    cudnn: int | None = None, imports: str = "") -> str:
    """Source of a stand-in `torch` package with just what the probe reads of a CUDA build.

    `is_available` is the body of torch.cuda.is_available(): it may warn, abort or return a verdict.
    """
    lines = [imports, f"__version__ = {version!r}", "class version:",
             f"    cuda = {cuda!r}; hip = None; git_version = 'abc'; debug = False", "class _C:"]
    if arch_flags is None:
        lines.append("    pass")
    else:
        lines += ["    @staticmethod", "    def _cuda_getArchFlags():", f"        return {arch_flags!r}"]
    if cudnn is not None:
        lines += ["class backends:", "    class cudnn:", "        @staticmethod", "        def version():",
                  f"            return {cudnn}"]
    lines += ["class cuda:", "    @staticmethod", "    def is_available():", f"        {is_available}"]
    return "\n".join(lines) + "\n"


def pytest_xdist_auto_num_workers(config) -> int:
    """`pytest -n auto`: one worker more than the cores this process may use. About a fifth of the suite's time is
    spent waiting on child processes (timeouts that must run out, uv against the local index, torchrun's teardown);
    a worker per core leaves a core idle through each wait, and the extra worker fills it. On 2 cores: 155 s with 2
    workers, 134 s with 3, 163 s with 4 (torch's threads then fight for the cores), measured one after the other."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores + 1


# Property tests: the "ci" profile keeps the suite quick; `HYPOTHESIS_PROFILE=thorough pytest` runs ten times the
# examples. Each test asks for a share of the profile's budget, so their proportions stay as written.
settings.register_profile("ci", max_examples=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("thorough", parent=settings.get_profile("ci"), max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def examples(share: float) -> int:
    """The number of examples for a property test: `share` times the profile's budget (30 in ci, 300 thorough)."""
    return max(10, round(settings.default.max_examples * share))


def interruptible() -> None:
    """For a child that a test sends Ctrl-C: a suite started in the background (`cmd &` in a script, nohup) inherits
    SIGINT ignored, and a Python started so never raises KeyboardInterrupt. The child gets the default back."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


@functools.cache
def installed_pythons() -> tuple[tuple[str, str], ...]:
    """(path, version) of the Python interpreters here that run, the one running the tests first: pyenv's versions
    (found through PYENV_ROOT or `pyenv root`, never by guessing a home folder) and `python3.X` on PATH. A pyenv shim
    that cannot run that version in this environment is left out, so a test skips rather than fails on it."""
    candidates = [sys.executable]
    root = os.environ.get("PYENV_ROOT")
    if not root and shutil.which("pyenv"):
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=30).stdout.strip()
    if root:
        candidates += sorted(str(path) for path in Path(root).glob("versions/3.*/bin/python"))
    # pyenv's shims run the versions listed above, each through a chain of some fifty shell processes: not again.
    shims = Path(root, "shims") if root else None
    candidates += [path for minor in range(8, 16)
                   if (path := shutil.which(f"python3.{minor}")) and (shims is None or Path(path).parent != shims)]
    found: dict[str, str] = {}
    for candidate in candidates:
        try:
            ran = subprocess.run([candidate, "-c", "import platform; print(platform.python_version())"],
                                 capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if ran.returncode == 0 and ran.stdout.strip():
            found.setdefault(candidate, ran.stdout.strip())
    return tuple(found.items())


@pytest.fixture(scope="session")
def uv() -> str:
    """The real uv (the test extra installs it); missing, the test is skipped, or fails where CI demands real parts."""
    found = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    if not Path(found).exists():
        if os.environ.get("TORCHDOCTOR_REQUIRE_TORCH"):
            pytest.fail("uv is not installed; the README's test command installs it with the test extra")
        pytest.skip("uv is not installed")
    return found


@pytest.fixture(scope="session")
def index(tmp_path_factory):
    """The local package index on 127.0.0.1 (tests/pyindex.py), shaped like PyPI and download.pytorch.org."""
    from pyindex import LocalIndex

    served = LocalIndex(tmp_path_factory.mktemp("index"))
    yield served
    served.close()
