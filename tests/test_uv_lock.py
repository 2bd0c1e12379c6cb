"""The proof with the real resolver: each case fails to lock (or locks the wrong build) as reported, and
locks the intended build for Linux, Windows and macOS after torchdoctor's fixes.

`uv` (installed with the test extra) resolves against the local index of tests/pyindex.py. Fixes are
chosen and applied to the case files exactly as written, with the official URLs; only then are the
files pointed at the local server, so the fix logic is the one users run.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from pyindex import LocalIndex

from conftest import CASES, SNAPSHOTS
from torchdoctor.checks import run_checks
from torchdoctor.edits import SetRequiresPython
from torchdoctor.fixes import apply_fixes, fixable
from torchdoctor.model import Severity
from torchdoctor.probes.project import probe_project, read_lock
from torchdoctor.snapshot import Snapshot

H100 = Snapshot.from_json((SNAPSHOTS / "h100-pypi.json").read_text(encoding="utf-8"))
PUBLIC_TO_LOCAL = {
    "https://download.pytorch.org/whl": "{whl}",
    "https://mirrors.nju.edu.cn/pytorch/whl": "{whl}",
    "https://pypi.tuna.tsinghua.edu.cn/simple": "{pypi}",
}


def python_for(requires: str) -> str:
    """An interpreter that satisfies the case's requires-python (uv locks with one)."""
    from packaging.specifiers import SpecifierSet

    from conftest import installed_pythons

    wanted = SpecifierSet(requires)
    for candidate, version in installed_pythons():
        if wanted.contains(version):
            return candidate
    pytest.skip(f"no Python matching {requires} on this machine")


def localize(text: str, index: LocalIndex) -> str:
    for public, local in PUBLIC_TO_LOCAL.items():
        text = text.replace(public, local.format(whl=index.whl, pypi=index.pypi))
    return text


def uv_lock(uv: str, folder: Path, text: str, index: LocalIndex, tmp_path: Path) -> subprocess.CompletedProcess:
    (folder / "pyproject.toml").write_text(localize(text, index), encoding="utf-8")
    (folder / "uv.lock").unlink(missing_ok=True)
    requires = probe_project(folder).pyproject.requires_python or ">=3.10"
    env = dict(os.environ, UV_DEFAULT_INDEX=index.pypi, UV_CACHE_DIR=str(tmp_path / "uv-cache"),
               UV_PYTHON_DOWNLOADS="never", XDG_CONFIG_HOME=str(tmp_path / "config"))  # no user uv.toml
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run([uv, "lock", "--python", python_for(requires)], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=120)


def diagnose(text: str, tmp_path: Path, machine: Snapshot = H100):
    """The report for `text` as a project on `machine` (the recorded H100 by default)."""
    folder = tmp_path / "diagnose"
    folder.mkdir(exist_ok=True)
    (folder / "pyproject.toml").write_text(text, encoding="utf-8")
    return run_checks(replace(machine, project=probe_project(folder)))


def fixed(text: str, tmp_path: Path, machine: Snapshot = H100) -> str:
    """`text` with every safe fix the machine's report offers."""
    return apply_fixes(text, fixable(diagnose(text, tmp_path, machine)))


def locked_torch(folder: Path) -> dict[str, set[str]]:
    """Locked torch versions by platform family (linux, windows, macos), read with torchdoctor's reader."""
    found: dict[str, set[str]] = {"linux": set(), "windows": set(), "macos": set()}
    for package in read_lock(folder / "uv.lock").packages:
        if package.name != "torch":
            continue
        for platform in package.wheel_platforms:
            family = "linux" if "linux" in platform else "windows" if platform.startswith("win") else "macos"
            found[family].add(package.version)
    return found


def project_text(name: str) -> str:
    return (Path(__file__).parent / "fixtures" / "projects" / name / "pyproject.toml").read_text(encoding="utf-8")


def case_text(case: str, name: str = "pyproject.toml") -> str:
    return (CASES / case / name).read_text(encoding="utf-8")


def test_nightly_before_fails_on_pytorch_triton_and_locks_after_the_fix(uv, index, tmp_path):
    before = case_text("nightly-cu128-wsl2", "pyproject.before.toml")
    folder = tmp_path / "project"
    folder.mkdir()
    failed = uv_lock(uv, folder, before, index, tmp_path)
    assert failed.returncode != 0
    said = " ".join(failed.stderr.split())  # uv wraps its message to the terminal's width, which a test must not pin
    assert "No solution found" in said
    assert "there is no version of pytorch-triton" in said and "torch depend on pytorch-triton" in said
    result = uv_lock(uv, folder, fixed(before, tmp_path), index, tmp_path)
    assert result.returncode == 0, result.stderr
    torch = locked_torch(folder)
    assert torch["linux"] == {"2.10.0.dev20251010+cu128"}
    assert torch["windows"] == {"2.10.0.dev20251010+cu128"}
    assert torch["macos"] and all("+" not in v for v in torch["macos"])  # macOS stays on PyPI
    assert any(p.name == "pytorch-triton" for p in read_lock(folder / "uv.lock").packages)


def test_nightly_as_published_fails_on_its_urls_and_locks_after_the_fix(uv, index, tmp_path):
    published = case_text("nightly-cu128-wsl2")
    folder = tmp_path / "project"
    folder.mkdir()
    failed = uv_lock(uv, folder, published, index, tmp_path)
    assert failed.returncode != 0
    assert "No solution found" in failed.stderr  # as reported: the bracketed URLs serve nothing uv can use
    result = uv_lock(uv, folder, fixed(published, tmp_path), index, tmp_path)
    assert result.returncode == 0, result.stderr
    assert locked_torch(folder)["linux"] == {"2.10.0.dev20251010+cu128"}


def test_mirror_case_keeps_cu124_and_sends_macos_to_the_default_index(uv, index, tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    result = uv_lock(uv, folder, fixed(case_text("mirror-cu124-conda"), tmp_path), index, tmp_path)
    assert result.returncode == 0, result.stderr
    torch = locked_torch(folder)
    assert torch["linux"] == torch["windows"] == {"2.6.0+cu124"}
    assert torch["macos"] == {"2.6.0"}


def test_uv_guide_extras_lock_as_written(uv, index, tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    text = case_text("uv-guide-extras")
    assert fixed(text, tmp_path) == text  # nothing to fix
    result = uv_lock(uv, folder, text, index, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2.15.0+cpu" in locked_torch(folder)["linux"] and any("+cu124" in v for v in locked_torch(folder)["linux"])


def machine_with(name: str, capability: tuple[int, int], driver: str, cuda: int) -> Snapshot:
    gpu = replace(H100.nvml.gpus[0], name=name, compute_capability=capability, pci_device_id=None)
    return replace(H100, nvml=replace(H100.nvml, gpus=(gpu,), driver_version=driver, cuda_driver_version=cuda))


NO_GPU = replace(H100, nvml=replace(H100.nvml, status="library-not-found", gpus=()),
                 system=replace(H100.system, nvidia_kernel_driver=None, gpu_device_nodes=()),
                 torch=replace(H100.torch, devices=()))


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        (H100, "2.15.0+cu130"),  # the recorded H100: driver 580 supports CUDA 13.0, not 13.2
        (machine_with("NVIDIA GeForce RTX 5060 Ti", (12, 0), "572.83", 12080), "2.11.0+cu128"),  # Blackwell laptop
        (machine_with("NVIDIA GeForce GTX 1080", (6, 1), "570.133.07", 12080), "2.11.0+cu126"),  # Pascal
    ],
    ids=["h100", "blackwell-laptop", "pascal"],
)
def test_plain_project_locks_the_build_each_machine_needs(uv, index, tmp_path, machine, expected):
    plain = case_text("uv-guide-extras", "pyproject.plain.toml")
    before = tmp_path / "before"
    before.mkdir()
    assert uv_lock(uv, before, plain, index, tmp_path).returncode == 0
    assert locked_torch(before)["windows"] == {"2.15.0"}  # PyPI's CPU-only Windows wheel: the reported problem
    folder = tmp_path / "project"
    folder.mkdir()
    result = uv_lock(uv, folder, fixed(plain, tmp_path, machine), index, tmp_path)
    assert result.returncode == 0, result.stderr
    torch = locked_torch(folder)
    assert torch["linux"] == torch["windows"] == {expected}
    assert torch["macos"] == {"2.15.0"}


def test_a_machine_without_a_gpu_never_moves_linux_to_cpu(tmp_path):
    """The plain project gets CUDA torch from PyPI on Linux; a CPU CI job must not rewrite that to /whl/cpu."""
    plain = case_text("uv-guide-extras", "pyproject.plain.toml")
    diagnoses = diagnose(plain, tmp_path, NO_GPU)
    assert [d.fix for d in diagnoses if d.code == "TD316"] == [None]
    assert not any("/whl/cpu" in str(d.fix.edit) for d in diagnoses if d.fix is not None)


def test_find_links_case_locks_the_same_builds_through_an_explicit_index(uv, index, tmp_path):
    text = case_text("findlinks-cu118")
    before = tmp_path / "before"
    before.mkdir()
    result = uv_lock(uv, before, text, index, tmp_path)  # the legacy way still works for cu118, as reported
    assert result.returncode == 0, result.stderr
    diagnoses = diagnose(text, tmp_path)
    assert fixable(diagnoses) == []  # the only fix here is unsafe: it is not applied without --unsafe
    after_text = apply_fixes(text, fixable(diagnoses, unsafe=True))
    after = tmp_path / "after"
    after.mkdir()
    result = uv_lock(uv, after, after_text, index, tmp_path)
    assert result.returncode == 0, result.stderr
    assert locked_torch(after) == locked_torch(before)
    assert locked_torch(after)["linux"] == {"2.4.0+cu118"} and locked_torch(after)["macos"] == {"2.4.0"}


def fix_case(code: str) -> str:
    return (Path(__file__).parent / "fixtures" / "fix-cases" / f"{code}.toml").read_text(encoding="utf-8")


def fixed_for(code: str, text: str, tmp_path: Path) -> str:
    """`text` with the fix (safe or unsafe) of one diagnosis only."""
    return apply_fixes(text, fixable(diagnose(text, tmp_path), {code}, unsafe=True))


def lock_before_and_after(code: str, uv: str, index: LocalIndex, tmp_path: Path):
    text = fix_case(code)
    before, after = tmp_path / "before", tmp_path / "after"
    before.mkdir(parents=True)
    after.mkdir()
    return (uv_lock(uv, before, text, index, tmp_path), before), (uv_lock(uv, after, fixed_for(code, text, tmp_path), index, tmp_path), after)


def locked(folder: Path, name: str) -> set[tuple[str, str]]:
    """(version, source) of every locked entry of a package, read with tomllib (any package, not only torch's)."""
    import tomli as tomllib

    data = tomllib.loads((folder / "uv.lock").read_text(encoding="utf-8"))
    return {(p["version"], str(p.get("source"))) for p in data.get("package", []) if p["name"] == name}


def test_td301_explicit_index_stops_serving_filelock(uv, index, tmp_path):
    (first, before), (second, after) = lock_before_and_after("TD301", uv, index, tmp_path)
    assert first.returncode != 0  # filelock>=3.14 is not on the PyTorch index, which uv tried first
    assert "filelock" in first.stderr
    assert second.returncode == 0, second.stderr
    assert {v for v, _ in locked(after, "filelock")} == {"3.20.0"}


def test_nightly_only_index_needs_no_prerelease_setting(uv, index, tmp_path):
    """Why TD308 does not ask for `prerelease`: uv accepts nightlies when they are all the index has."""
    text = project_text("nightly-only")
    folder = tmp_path / "project"
    folder.mkdir()
    result = uv_lock(uv, folder, text, index, tmp_path)
    assert result.returncode == 0, result.stderr
    assert locked_torch(folder)["linux"] == {"2.10.0.dev20251010+cu128"}
    assert "TD308" not in {d.code for d in diagnose(text, tmp_path)}


def test_td309_torchvision_follows_torch_to_its_index(uv, index, tmp_path):
    (first, before), (second, after) = lock_before_and_after("TD309", uv, index, tmp_path)
    assert first.returncode == 0, first.stderr
    assert {v for v, _ in locked(before, "torchvision")} == {"0.26.0"}  # PyPI's CUDA 13 build beside torch +cu126
    assert second.returncode == 0, second.stderr
    assert {v for v, _ in locked(after, "torchvision")} == {"0.26.0+cu126"}


def test_td310_requires_python_raised_to_what_torch_supports(uv, index, tmp_path):
    (first, _), (second, after) = lock_before_and_after("TD310", uv, index, tmp_path)
    assert first.returncode != 0 and "No solution found" in first.stderr
    assert second.returncode == 0, second.stderr
    assert {v for v, _ in locked(after, "torch")} == {"2.15.0"}


def test_td312_conflicts_let_both_extras_lock(uv, index, tmp_path):
    (first, _), (second, after) = lock_before_and_after("TD312", uv, index, tmp_path)
    assert first.returncode != 0 and "conflicting" in first.stderr.lower()
    assert second.returncode == 0, second.stderr
    assert {v for v, _ in locked(after, "torch")} == {"2.15.0+cpu", "2.11.0+cu128"}


def test_td314_torch_backend_replaced_by_an_index_uv_follows(uv, index, tmp_path):
    (first, before), (second, after) = lock_before_and_after("TD314", uv, index, tmp_path)
    assert first.returncode == 0, first.stderr
    assert {v for v, _ in locked(before, "torch")} == {"2.15.0"}  # torch-backend ignored: PyPI's torch
    assert second.returncode == 0, second.stderr
    assert {v for v, _ in locked(after, "torch")} == {"2.15.0+cu130"}


def test_extras_alternative_locks_cpu_and_the_machines_cuda_build(uv, index, tmp_path):
    plain = case_text("uv-guide-extras", "pyproject.plain.toml")
    (td316,) = [d for d in diagnose(plain, tmp_path) if d.code == "TD316"]
    (alternative,) = td316.alternatives
    assert alternative.title == "Let each user choose: extras cpu and cu130 (`uv sync --extra cu130`), declared conflicting; torch leaves the plain install"
    after_text = apply_fixes(plain, [replace(td316, fix=alternative)])
    after = tmp_path / "after"
    after.mkdir()
    result = uv_lock(uv, after, after_text, index, tmp_path)
    assert result.returncode == 0, result.stderr
    torch = locked_torch(after)
    # Both builds for Linux and Windows; PyPI's 2.15.0 (locked for macOS) keeps its other wheels in the lock.
    assert {"2.15.0+cpu", "2.15.0+cu130"} <= torch["linux"] and {"2.15.0+cpu", "2.15.0+cu130"} <= torch["windows"]
    assert torch["macos"] == {"2.15.0"}


def test_td271_extension_builds_once_it_gets_the_projects_torch(uv, index, tmp_path):
    (first, _), (second, after) = lock_before_and_after("TD271", uv, index, tmp_path)
    assert first.returncode != 0 and "No module named 'torch'" in first.stderr
    assert second.returncode == 0, second.stderr
    assert {v for v, _ in locked(after, "flash-attn")} == {"2.8.3"}


def test_td305_fixed_project_locks(uv, index, tmp_path):
    (first, _), (second, _) = lock_before_and_after("TD305", uv, index, tmp_path)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr


def test_td310_variant_case_moves_torch_to_a_variant_the_range_has(uv, index, tmp_path):
    text = project_text("cu128-range-too-new")
    before, after = tmp_path / "before", tmp_path / "after"
    before.mkdir()
    after.mkdir()
    failed = uv_lock(uv, before, text, index, tmp_path)
    assert failed.returncode != 0 and "No solution found" in failed.stderr  # cu128 ended with 2.11
    (td310,) = [d for d in diagnose(text, tmp_path) if d.code == "TD310"]
    assert td310.fix.title == ("cu130: the oldest CUDA line of torch 2.15 with sm_90 that your 580.159.04 driver supports "
                               "(the lowest driver floor for everyone who shares the project)")
    result = uv_lock(uv, after, apply_fixes(text, [td310]), index, tmp_path)
    assert result.returncode == 0, result.stderr
    assert locked_torch(after)["linux"] == {"2.15.0+cu130"}


def test_td306_source_pointed_at_the_declared_index_locks(uv, index, tmp_path):
    (first, _), (second, after) = lock_before_and_after("TD306", uv, index, tmp_path)
    assert first.returncode != 0 and "pytorch-cu13" in first.stderr
    assert second.returncode == 0, second.stderr
    assert locked_torch(after)["linux"] == {"2.15.0+cu130"}


def test_td313_plain_sync_no_longer_gets_pypis_torch(uv, index, tmp_path):
    (first, before), (second, after) = lock_before_and_after("TD313", uv, index, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "2.15.0" in {v for v, _ in locked(before, "torch")}  # PyPI's torch, for a sync without extras
    assert second.returncode == 0, second.stderr
    assert {v for v, _ in locked(after, "torch")} == {"2.15.0+cpu", "2.11.0+cu128"}


def test_td317_requires_python_narrowed_to_what_the_nightly_publishes(uv, index, tmp_path):
    """The nightly index's own page decides: its newest torch has cp310-cp313 wheels (Requires-Python >=3.10)."""
    text = localize(project_text("nightly-only").replace('requires-python = ">=3.12"', 'requires-python = ">=3.9"'), index)
    folder = tmp_path / "project"
    folder.mkdir()
    failed = uv_lock(uv, folder, text, index, tmp_path)
    assert failed.returncode != 0 and "3.9" in failed.stderr  # uv cannot lock torch for Python 3.9
    diagnosis = next(d for d in diagnose(text, tmp_path) if d.code == "TD317")
    assert diagnosis.severity.value == "error" and "admits Python 3.9, 3.14" in diagnosis.message
    assert diagnosis.fix.edit == SetRequiresPython(value=">=3.10,<3.14")
    assert diagnosis.fix.applicability.value == "unsafe"
    after = apply_fixes(text, [diagnosis])
    result = uv_lock(uv, folder, after, index, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "TD317" not in {d.code for d in diagnose(after, tmp_path)}
    # The golden before/after pair, with the local index's address put back to the public one.
    golden = Path(__file__).parent / "fixtures" / "golden" / "fixes" / "TD317.after.toml"
    public = after.replace(index.whl, "https://download.pytorch.org/whl")
    if os.environ.get("TORCHDOCTOR_UPDATE_GOLDENS"):
        golden.write_text(public, encoding="utf-8")
    assert public == golden.read_text(encoding="utf-8"), "TD317.after.toml differs: review, then TORCHDOCTOR_UPDATE_GOLDENS=1"


def test_td317_reads_the_page_once_a_day_and_keeps_the_answer_for_offline_checks(tmp_path):
    import datetime

    from torchdoctor.probes.index_pages import published_pythons

    served = LocalIndex(tmp_path / "index")
    url = f"{served.whl}/nightly/cu128"
    now = datetime.datetime(2026, 11, 23, 12, tzinfo=datetime.timezone.utc)
    first = published_pythons("nightly", url, now=now)
    assert first.pythons == ("3.10", "3.11", "3.12", "3.13") and first.requires_python == ">=3.10" and not first.from_cache
    served.close()
    later = published_pythons("nightly", url, now=now + datetime.timedelta(hours=2))
    assert later.from_cache and later.pythons == first.pythons and later.error is None  # fresh enough: no network
    offline = published_pythons("nightly", url, now=now + datetime.timedelta(days=3))
    assert offline.from_cache and offline.pythons == first.pythons and "not reachable now" in offline.error
    never = published_pythons("nightly", "http://127.0.0.1:9/whl/nightly/cu128", now=now)
    assert never.pythons == () and "not reachable" in never.error
    public = published_pythons("nightly", "https://download.pytorch.org/whl/nightly/cu128", now=now)
    assert public.error == "offline: not read (--offline)"  # offline unless asked: the tests never read the real index


def test_td317_is_silent_when_the_nightly_publishes_every_admitted_python(uv, index, tmp_path):
    text = localize(project_text("nightly-only").replace('requires-python = ">=3.12"', 'requires-python = ">=3.10,<3.14"'), index)
    assert "TD317" not in {d.code for d in diagnose(text, tmp_path)}


@pytest.mark.parametrize("damage", ["[]", '{"URL": []}', '{"URL": {"read_at": "yesterday", "pythons": [], "newest": "x"}}',
                                    '{"URL": {"read_at": "2026-11-23T12:00:00+00:00", "pythons": [3.12], "newest": "x"}}',
                                    '{"URL#failed": {"at": 5, "reason": "x"}}', "[" * 5000])
def test_a_damaged_index_pages_cache_is_a_cache_miss_never_a_crash(tmp_path, damage):
    """Issue 25 item 8: a damaged index-pythons.json (a list, an entry of the wrong shape, a date that is none, nesting
    thousands deep) broke every check of a nightly-index project until it was deleted. Each is a miss: the page is
    read again (here the local index), and the answer written over the damage."""
    import datetime

    from torchdoctor.probes.index_pages import _cache_file, published_pythons

    served = LocalIndex(tmp_path / "index")
    try:
        url = f"{served.whl}/nightly/cu128"
        _cache_file().parent.mkdir(parents=True, exist_ok=True)
        _cache_file().write_text(damage.replace("URL", f"{url}/torch/"), encoding="utf-8")
        found = published_pythons("nightly", url, now=datetime.datetime(2026, 11, 23, 13, tzinfo=datetime.timezone.utc))
        assert found.pythons == ("3.10", "3.11", "3.12", "3.13") and not found.from_cache, found
    finally:
        served.close()


def test_td312_sources_chosen_only_by_markers_on_extra_lock_one_torch_for_every_extra(uv, index, tmp_path):
    """The real uv on denizsafak/abogen's pattern (sources chosen by `marker = "extra == 'cuda'"`, disjoint, no
    conflicts): `uv lock` succeeds and locks one torch for every extra, from one of the indexes. So it is no error
    (nothing fails to lock), and each marker is a warning that says the extras do not get their builds; with the
    `extra` key the same mapping fails to lock (test_td312_conflicts_let_both_extras_lock)."""
    text = '''
[project]
name = "markers"
version = "0.1.0"
requires-python = ">=3.12"
dependencies = []

[project.optional-dependencies]
cuda126 = ["torch"]
cuda = ["torch"]
cuda130 = ["torch"]

[tool.uv.sources]
torch = [
  { index = "pytorch-cu130", marker = "extra == 'cuda130'" },
  { index = "pytorch-cu126", marker = "extra == 'cuda126' and extra != 'cuda130'" },
  { index = "pytorch-cu128", marker = "extra == 'cuda' and extra != 'cuda130' and extra != 'cuda126'" },
]

[[tool.uv.index]]
name = "pytorch-cu126"
url = "https://download.pytorch.org/whl/cu126"
explicit = true

[[tool.uv.index]]
name = "pytorch-cu128"
url = "https://download.pytorch.org/whl/cu128"
explicit = true

[[tool.uv.index]]
name = "pytorch-cu130"
url = "https://download.pytorch.org/whl/cu130"
explicit = true
'''
    folder = tmp_path / "project"
    folder.mkdir()
    result = uv_lock(uv, folder, text, index, tmp_path)
    assert result.returncode == 0, result.stderr
    assert len({v for v, _ in locked(folder, "torch")}) == 1  # one build for all three extras
    found = [d for d in diagnose(text, tmp_path) if d.code == "TD312"]
    assert found and all(d.severity is Severity.WARNING for d in found)
    assert all("locks one build for every extra" in d.explanation for d in found)


def test_a_selections_source_reaches_the_base_requirement_on_the_platforms_its_index_serves(uv, index, tmp_path):
    """torch in the dependencies (no source) and in a default group and extras whose sources map it (a real project
    outside the corpus: `default-groups = ["gpu"]`, the group mapped to cu130). The real uv locks the group's cu130
    build for a plain `uv sync` and each extra's build for `--extra X --no-group gpu`; the prediction from
    pyproject.toml alone says the same for Linux x86_64 and Windows (before: undecided), and stays undecided on macOS,
    where the field corpus shows uv taking the base requirement's PyPI build."""
    from torchdoctor.plans import LINUX_X86_64, MACOS_ARM64, WINDOWS_AMD64, Selection
    from torchdoctor.resolution import resolve

    text = """
        [project]
        name = "p"
        version = "0"
        requires-python = ">=3.11"
        dependencies = ["torch"]

        [project.optional-dependencies]
        cpu = ["torch"]
        cu128 = ["torch"]

        [dependency-groups]
        gpu = ["torch"]

        [tool.uv]
        default-groups = ["gpu"]
        conflicts = [[{ extra = "cpu" }, { extra = "cu128" }], [{ group = "gpu" }, { extra = "cpu" }, { extra = "cu128" }]]

        [tool.uv.sources]
        torch = [
          { index = "pytorch-cpu", extra = "cpu" },
          { index = "pytorch-cu128", extra = "cu128" },
          { index = "pytorch-cu130", group = "gpu" },
        ]

        [[tool.uv.index]]
        name = "pytorch-cpu"
        url = "https://download.pytorch.org/whl/cpu"
        explicit = true

        [[tool.uv.index]]
        name = "pytorch-cu128"
        url = "https://download.pytorch.org/whl/cu128"
        explicit = true

        [[tool.uv.index]]
        name = "pytorch-cu130"
        url = "https://download.pytorch.org/whl/cu130"
        explicit = true
        """
    folder = tmp_path / "p"
    folder.mkdir()
    done = uv_lock(uv, folder, textwrap.dedent(text), index, tmp_path)
    assert done.returncode == 0, done.stderr
    locked = probe_project(folder)
    predicted = replace(locked, lock=None)
    plain = Selection(groups=("gpu",), label="default")
    for selection, build in ((plain, "cu130"), (Selection(extras=("cpu",), label="extra cpu", option="--extra cpu"), "cpu"),
                             (Selection(extras=("cu128",), label="extra cu128", option="--extra cu128"), "cu128")):
        for platform in (LINUX_X86_64, WINDOWS_AMD64):
            exact = resolve(locked, platform, "3.11", selection).torch
            guess = resolve(predicted, platform, "3.11", selection).torch
            assert exact is not None and guess is not None and (exact.build, guess.build) == (build, build), (selection, platform)
    assert resolve(predicted, MACOS_ARM64, "3.11", plain).torch.decided is False
