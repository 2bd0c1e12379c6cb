"""The cure: every fix a report offers writes a change that cures its finding, and where no edit of pyproject.toml can,
the finding says what to run instead. Small real projects for each cause found on the field corpus
(benchmarks/fix_cure.py counts them over all of it), and uv itself for the facts the rules rest on."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from test_uv_lock import python_for

from conftest import FIXTURES, SNAPSHOTS, write_project
from torchdoctor.model import Applicability
from torchdoctor.probes.collect import with_project
from torchdoctor.probes.lock_file import read_lock
from torchdoctor.snapshot import Snapshot
from torchdoctor.workflow import diagnose, preview_fixes

H100 = Snapshot.from_json((SNAPSHOTS / "h100-pypi.json").read_text(encoding="utf-8"))
FIELD = FIXTURES / "field"
BLACKWELL = Snapshot.from_json((SNAPSHOTS / "wsl2-rtx5060ti-nightly.json").read_text(encoding="utf-8"))

EACH_USER_PICKS = """
[project]
name = "picks"
version = "0.1.0"
requires-python = ">=3.10"
dependencies = ["torch==2.8.0"]

[project.optional-dependencies]
cpu = ["torch==2.8.0"]
cu126 = ["torch==2.8.0"]
cu128 = ["torch==2.8.0"]

[tool.uv]
conflicts = [[{ extra = "cpu" }, { extra = "cu126" }, { extra = "cu128" }]]

[tool.uv.sources]
torch = [
  { index = "pytorch-cpu", extra = "cpu" },
  { index = "pytorch-cu126", extra = "cu126" },
  { index = "pytorch-cu128", extra = "cu128" },
]

[[tool.uv.index]]
name = "pytorch-cpu"
url = "https://download.pytorch.org/whl/cpu"
explicit = true

[[tool.uv.index]]
name = "pytorch-cu126"
url = "https://download.pytorch.org/whl/cu126"
explicit = true

[[tool.uv.index]]
name = "pytorch-cu128"
url = "https://download.pytorch.org/whl/cu128"
explicit = true
"""


def report(machine: Snapshot, folder: Path):
    return diagnose(with_project(machine, folder))


def finding(machine: Snapshot, folder: Path, code: str):
    found = [d for d in report(machine, folder).diagnoses if d.code == code and d.severity.value != "info"
             or d.code == code and code == "TD316"]
    assert found, [d.code for d in report(machine, folder).diagnoses]
    return found[0]


def test_uv_refuses_a_plain_source_beside_sources_that_name_extras(uv, index, tmp_path):
    """What the rules rest on: where every torch source names an extra, a source for the plain install overlaps them
    and `uv lock` refuses (so no edit of the sources reaches the plain install of such a project)."""
    text = EACH_USER_PICKS.replace("https://download.pytorch.org/whl", index.whl).replace(
        '  { index = "pytorch-cu128", extra = "cu128" },\n',
        '  { index = "pytorch-cu128", extra = "cu128" },\n  { index = "pytorch-cu128", marker = "sys_platform == \'win32\'" },\n')
    folder = write_project(tmp_path / "p", text)
    done = subprocess.run([uv, "lock", "--python", python_for(">=3.10")], cwd=folder, capture_output=True, text=True,
                          timeout=120, env={"UV_DEFAULT_INDEX": index.pypi, "UV_CACHE_DIR": str(tmp_path / "cache"),
                                            "UV_PYTHON_DOWNLOADS": "never", "PATH": "/usr/bin:/bin",
                                            "XDG_CONFIG_HOME": str(tmp_path / "config")})
    assert done.returncode != 0
    assert "conflicting indexes for package `torch`" in done.stderr, done.stderr


def field_project(tmp_path: Path, name: str) -> Path:
    """A real project of the field corpus, verbatim, with its uv.lock (uv's own record of what each extra gets)."""
    folder = tmp_path / name
    folder.mkdir()
    for kind in ("pyproject.toml", "uv.lock"):
        source = FIELD / f"{name}__{kind}"
        if source.is_file():
            shutil.copy(source, folder / kind)
    return folder


@pytest.mark.parametrize("name,extra", [("fishaudio__fish-speech", "cu126"), ("invoke-ai__InvokeAI", "cuda"),
                                        ("intel__AI-Playground", "cuda")])
def test_where_each_user_picks_a_build_the_cure_is_the_projects_own_selection(tmp_path, name, extra):
    """Windows gets PyPI's CPU torch from a plain `uv sync`, and every torch source names an extra: the finding used
    to offer an index edit that wrote nothing ("nothing to change"); now it names the project's own extra that gives
    Windows a CUDA build (never an XPU or ROCm one, which an NVIDIA GPU cannot run)."""
    td316 = finding(H100, field_project(tmp_path, name), "TD316")
    assert td316.fix is not None and td316.fix.edit is None
    assert td316.fix.applicability is Applicability.DISPLAY_ONLY
    assert td316.fix.commands == (f"uv sync --extra {extra}",), td316.fix
    assert "Windows x86_64" in td316.fix.title


@pytest.mark.parametrize("name,extra", [("DecAngel__Transtreaming", "cu128"), ("invoke-ai__InvokeAI", "cuda")])
def test_on_blackwell_the_plain_install_without_kernels_points_to_the_selection_that_runs(tmp_path, name, extra):
    """The plain install locks a cu124/cu126 torch, which has no sm_120 code; the project's own extra locks a build that
    runs on the RTX 5060 Ti: that is the cure shown, as the command to run."""
    td222 = finding(BLACKWELL, field_project(tmp_path, name), "TD222")
    assert td222.severity.value == "error"
    assert td222.fix is not None and td222.fix.commands == (f"uv sync --extra {extra}",), td222.fix
    assert f"`uv sync --extra {extra}` installs a build that runs here" in td222.explanation


def test_torch_from_a_wheel_url_gets_no_edit_that_writes_nothing(tmp_path):
    """A source that pins torch to a wheel URL built for cu126: moving an index cannot change it, so no index fix is
    offered; the finding says which variant to use."""
    folder = write_project(tmp_path / "p", """
        [project]
        name = "url"
        version = "0.1.0"
        requires-python = ">=3.12"
        dependencies = ["torch"]

        [tool.uv]
        environments = ["sys_platform == 'linux'"]

        [tool.uv.sources]
        torch = { url = "https://example.org/torch-2.6.0+cu126-cp312-cp312-manylinux_2_28_x86_64.whl" }
        """)
    td222 = finding(BLACKWELL, folder, "TD222")
    assert td222.fix is None or td222.fix.edit is None
    assert "Use cu128" in td222.explanation


def test_a_driver_gap_with_no_line_in_range_is_cured_by_the_driver_update(tmp_path):
    """A real project that locks torch 2.13 cu130 for every install that has CUDA; the WSL2 machine's 572 driver supports
    CUDA 12.8. Its only other build is XPU, which does not run on an NVIDIA GPU (it used to be offered as "a build
    that runs here"). The cure is the driver update, as commands."""
    td232 = finding(BLACKWELL, field_project(tmp_path, "intel__AI-Playground"), "TD232")
    assert td232.severity.value == "error"
    assert td232.fix is not None and td232.fix.title.startswith("Update the NVIDIA driver"), td232.fix
    assert any("nvidia.com" in command for command in td232.fix.commands)
    assert "--extra xpu" not in td232.explanation


def test_torch_backend_beside_extras_is_dropped_and_nothing_else(tmp_path):
    """`torch-backend` (ignored by uv's project commands) in a project whose extras choose the build: the fix drops
    the setting; it adds no index."""
    folder = write_project(tmp_path / "p", EACH_USER_PICKS.replace("[tool.uv]\n", '[tool.uv]\ntorch-backend = "auto"\n'))
    snapshot = with_project(H100, folder)
    td314 = next(d for d in diagnose(snapshot).diagnoses if d.code == "TD314")
    preview = preview_fixes(snapshot, [td314])
    assert preview.applied and preview.diff.count("\n-") == 1 and "torch-backend" in preview.diff
    assert "+" not in "".join(line for line in preview.diff.splitlines()[2:] if line.startswith("+"))


def write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "pyproject.toml").write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def test_a_build_of_a_newer_minor_runs_by_minor_version_compatibility_and_is_not_called_a_driver_problem(tmp_path):
    """The project declares cu129; the WSL2 machine's 572 driver supports CUDA 12.8. CUDA's minor-version
    compatibility runs a 12.9 build on any CUDA 12 driver, and the cu129 wheels carry sm_120 machine code, so nothing
    needs the one thing it does not cover (JIT of newer PTX): TD232 called it a driver problem while its own fix said
    the line runs there (issue 28). Now nothing is said of the plan, and once installed TD230 is a note that says
    why it runs and what it would not cover."""
    folder = write_project(tmp_path / "p", """
        [project]
        name = "gap"
        version = "0.1.0"
        requires-python = ">=3.10"
        dependencies = ["torch>=2.9,<2.10"]

        [tool.uv.sources]
        torch = [{ index = "pytorch-cu129", marker = "sys_platform == 'linux' or sys_platform == 'win32'" }]

        [[tool.uv.index]]
        name = "pytorch-cu129"
        url = "https://download.pytorch.org/whl/cu129"
        explicit = true
        """)
    snapshot = with_project(BLACKWELL, folder)
    assert "TD232" not in {d.code for d in diagnose(snapshot).diagnoses}
    installed = replace(snapshot, torch=replace(snapshot.torch, version="2.9.1+cu129", installed_version="2.9.1+cu129",
                                                local_tag="cu129", cuda="12.9", arch_list=()))
    (td230,) = [d for d in diagnose(installed).diagnoses if d.code == "TD230"]
    assert td230.severity.value == "info" and "minor-version compatibility" in td230.message
    assert "unsupported toolchain" in td230.explanation


def test_a_gpu_the_build_reaches_only_through_ptx_needs_the_newer_driver_and_is_a_warning(tmp_path):
    """The exception minor-version compatibility does not cover, in use: an H100 (sm_90) with a CUDA 12.9 build that
    carries sm_80 machine code and compute_80 PTX only, on a driver of CUDA 12.8. The GPU runs only through PTX, which
    this driver cannot JIT-compile ("the provided PTX was compiled with an unsupported toolchain"): a warning."""
    folder = write_project(tmp_path / "p", """
        [project]
        name = "custom"
        version = "0.1.0"
        requires-python = ">=3.10"
        dependencies = ["torch"]
        """)
    machine = replace(H100, nvml=replace(H100.nvml, cuda_driver_version=12080, driver_version="570.124.06"))
    snapshot = with_project(machine, folder)
    snapshot = replace(snapshot, torch=replace(snapshot.torch, cuda="12.9", arch_list=("sm_80", "compute_80")))
    (td230,) = [d for d in diagnose(snapshot).diagnoses if d.code == "TD230"]
    assert td230.severity.value == "warning", td230
    assert "only through PTX (compute_80)" in td230.message


def test_two_fixes_that_raise_each_others_finding_are_proven_as_one(tmp_path):
    """A real project maps torch to cu130 on every platform (TD307) and leaves torchvision on PyPI (TD309): the marker
    alone leaves torchvision on another build, the mapping alone takes it to macOS. Each was refused ("it would raise
    TD309", "it would raise TD307"); now each is proven together with the fix of what it raises."""
    folder = field_project(tmp_path, "NVIDIA-NeMo__Export-Deploy")
    snapshot = with_project(H100, folder)
    for code in ("TD307", "TD309"):
        chosen = [d for d in diagnose(snapshot).diagnoses if d.code == code]
        preview = preview_fixes(snapshot, chosen, follow=True, codes={code})
        assert preview.changes and not preview.refused, preview.refusal
        assert {d.code for d in preview.applied} == {"TD307", "TD309"}


def test_a_pinned_build_tag_leaves_the_pin_when_the_index_moves(tmp_path):
    """`torch==2.7.1+cu126` fixes the build on every platform: moving the index cannot cure the Blackwell finding, and
    macOS cannot install it. The fixes now drop the tag (unsafe: the requirement changes) and are proven."""
    folder = field_project(tmp_path, "yyhhenry__uv-torch-env")
    snapshot = with_project(BLACKWELL, folder)
    td222 = next(d for d in diagnose(snapshot).diagnoses if d.code == "TD222")
    assert td222.fix is not None and td222.fix.applicability is Applicability.UNSAFE
    preview = preview_fixes(snapshot, [td222], unsafe=True)
    assert preview.applied and not preview.refused, preview.refusal
    assert '-    "torch==2.7.1+cu126",\n+    "torch==2.7.1",' in preview.diff
    assert 'url = "https://download.pytorch.org/whl/cu128"' in preview.after


def test_a_team_whose_line_other_packages_are_built_for_is_told_to_update_the_driver(tmp_path):
    """SkyRL declares cu130 and builds flash-attn, mamba-ssm and Transformer Engine for CUDA 13 (sources on cu130
    indexes, `+cu.13.0` tags). On the WSL2 machine's CUDA 12.8 driver the cure is the driver update; moving everyone
    to cu128 stays an unsafe alternative that says what would not follow."""
    folder = field_project(tmp_path, "NovaSky-AI__SkyRL")
    td232 = next(d for d in diagnose(with_project(BLACKWELL, folder)).diagnoses
                 if d.code == "TD232" and d.severity.value == "error")
    assert td232.fix is not None and td232.fix.title.startswith("Update the NVIDIA driver")
    move = td232.alternatives[0]
    assert move.applicability is Applicability.UNSAFE
    assert "flash-attn" in move.title and "built for the project's cu130, would not follow" in move.title


@pytest.mark.parametrize("machine", ["H100", "Blackwell"])
@pytest.mark.parametrize("name", sorted(p.name.removesuffix("__pyproject.toml") for p in FIELD.glob("*__pyproject.toml")
                                        if "__member__" not in p.name))
def test_every_fix_offered_on_a_real_project_writes_and_is_proven(tmp_path, name, machine):
    """Offered means proven, over the field corpus (benchmarks/fix_cure.py counts the same and more): every fix line a
    report shows, and each alternative, writes a change that its proof accepts."""
    snapshot = with_project(H100 if machine == "H100" else BLACKWELL, field_project(tmp_path, name))
    for diagnosis in diagnose(snapshot).diagnoses:
        for fix in (diagnosis.fix, *diagnosis.alternatives):
            if fix is None or fix.edit is None:
                continue
            preview = preview_fixes(snapshot, [replace(diagnosis, fix=fix)], follow=True, codes={diagnosis.code},
                                    unsafe=fix.applicability is Applicability.UNSAFE)
            assert preview.changes, f"{diagnosis.code} {fix.title}: writes nothing"
            assert not preview.refused, f"{diagnosis.code} {fix.title}: {preview.refusal}"


DEP_ON_TORCHVISION = """
    [project]
    name = "dep"
    version = "0.1.0"
    dependencies = ["torchvision"]

    [build-system]
    requires = ["setuptools"]
    build-backend = "setuptools.build_meta"
    """
"""A package of the project's own that installs torchvision, which the project then gets only through it."""


def locked_with_uv(uv: str, cwd: Path, lock: Path, tmp_path: Path, default_index: str | None = None) -> dict[str, set[str]]:
    """`uv lock` run in `cwd` against the local index (its PyPI as the default index, unless the project names one),
    and the versions of torch and torchvision `lock` then holds."""
    environment = {"UV_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin", "UV_PYTHON_DOWNLOADS": "never",
                   "XDG_CONFIG_HOME": str(tmp_path / "config"), **({"UV_DEFAULT_INDEX": default_index} if default_index else {})}
    done = subprocess.run([uv, "lock", "--python", python_for(">=3.12")], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=environment)
    assert done.returncode == 0, done.stderr
    found: dict[str, set[str]] = {"torch": set(), "torchvision": set()}
    for package in read_lock(lock).packages:
        if package.name in found:
            found[package.name].add(package.version)
    return found


def test_a_companion_installed_only_through_another_package_follows_torch_with_uv(uv, index, tmp_path, monkeypatch):
    """torchvision comes only through a dependency of the project (`dep`), and uv applies sources to the project's own
    requirements alone (a source for it is ignored: the first lock shows that). On Blackwell the cu126 torch has no
    kernels; the fix moves torch to cu128 and makes torchvision the project's requirement, and the real uv then locks
    torchvision's cu128 build beside torch's."""
    folder = write_project(tmp_path / "p", f"""
        [project]
        name = "p"
        version = "0.1.0"
        requires-python = ">=3.12"
        dependencies = ["torch==2.8.0", "dep"]

        [tool.uv.sources]
        dep = {{ path = "dep" }}
        torch = {{ index = "pytorch-cu126" }}
        torchvision = {{ index = "pytorch-cu126" }}

        [[tool.uv.index]]
        name = "pytorch-cu126"
        url = "{index.whl}/cu126"
        explicit = true
        """)
    write_project(folder / "dep", DEP_ON_TORCHVISION)
    def lock() -> dict[str, set[str]]:
        return locked_with_uv(uv, folder, folder / "uv.lock", tmp_path, index.pypi)

    assert lock() == {"torch": {"2.8.0+cu126"}, "torchvision": {"0.23.0"}}  # the source for torchvision is ignored
    snapshot = with_project(BLACKWELL, folder)
    td222 = next(d for d in diagnose(snapshot).diagnoses if d.code == "TD222" and d.severity.value == "error")
    assert td222.fix is not None and "torchvision, installed only through other packages" in td222.fix.title
    preview = preview_fixes(snapshot, [replace(td222, fix=td222.fix)], unsafe=True)
    assert preview.applied and not preview.refused, preview.refusal
    (folder / "pyproject.toml").write_text(preview.after, encoding="utf-8")
    assert lock() == {"torch": {"2.8.0", "2.8.0+cu128"}, "torchvision": {"0.23.0", "0.23.0+cu128"}}  # macOS: PyPI


def test_a_lock_that_pairs_torch_with_another_build_of_a_companion_is_cured_with_uv(uv, index, tmp_path, monkeypatch):
    """TD403 on a real lock: torch is mapped to the CPU index on Linux, torchvision comes only through `dep`, so its
    source is ignored and uv.lock pairs torch +cpu with PyPI's torchvision (on Linux the cu128 build). The finding
    offers the cure (unsafe: it makes torchvision the project's requirement, where the source applies), and the real uv
    then locks torchvision's CPU build; the finding is gone from the new lock."""
    folder = write_project(tmp_path / "p", f"""
        [project]
        name = "p"
        version = "0.1.0"
        requires-python = ">=3.12"
        dependencies = ["torch==2.8.0", "dep"]

        [tool.uv.sources]
        dep = {{ path = "dep" }}
        torch = {{ index = "pytorch-cpu", marker = "sys_platform == 'linux'" }}
        torchvision = {{ index = "pytorch-cpu", marker = "sys_platform == 'linux'" }}

        [[tool.uv.index]]
        name = "pytorch-cpu"
        url = "{index.whl}/cpu"
        explicit = true

        [[tool.uv.index]]  # the local PyPI, declared as the project's default: a mirror of PyPI to the model
        name = "pypi-mirror"
        url = "{index.pypi}"
        default = true
        """)
    write_project(folder / "dep", DEP_ON_TORCHVISION)
    def lock() -> dict[str, set[str]]:
        return locked_with_uv(uv, folder, folder / "uv.lock", tmp_path, index.pypi)

    assert lock() == {"torch": {"2.8.0", "2.8.0+cpu"}, "torchvision": {"0.23.0"}}  # its source is ignored
    snapshot = with_project(H100, folder)
    td403 = next(d for d in diagnose(snapshot).diagnoses if d.code == "TD403")
    assert td403.severity.value == "error" and "with torchvision 0.23.0 (cu128) for this machine" in td403.message
    assert td403.fix is not None and td403.fix.applicability is Applicability.UNSAFE
    assert "Make torchvision a requirement of the project (dependencies)" in td403.fix.title, td403.fix.title
    preview = preview_fixes(snapshot, [replace(td403, fix=td403.fix)], unsafe=True)
    assert preview.applied and not preview.refused, preview.refusal
    (folder / "pyproject.toml").write_text(preview.after, encoding="utf-8")
    assert lock() == {"torch": {"2.8.0", "2.8.0+cpu"}, "torchvision": {"0.23.0", "0.23.0+cpu"}}
    assert not [d for d in diagnose(with_project(H100, folder)).diagnoses if d.code in ("TD403", "TD309")]


@pytest.mark.parametrize("root_extra", ["cpu", "accel"])
def test_a_workspace_members_mixed_lock_is_cured_by_the_command_the_root_report_prints(uv, index, tmp_path, monkeypatch,
                                                                                        root_extra):
    """A workspace whose root extra `cpu` turns on the member's extra `cpu`, where the member maps torch to the CPU
    index and torchvision comes only through `dep`: uv.lock pairs torch +cpu with PyPI's torchvision. The root's
    finding has no edit of its own (the root maps nothing); it points at the member's fix, the command the member's
    finding prints. Read alone, the member is read inside its workspace (the root's uv.lock, as uv reads it), so the
    command finds the same finding, and after its fix the real uv locks torchvision's CPU build. Said once, by the root,
    whether the root's extra has the member's extra's name or another."""
    root = write_project(tmp_path / "ws", f"""
        [project]
        name = "root"
        version = "0.1.0"
        requires-python = ">=3.12"
        dependencies = []

        [project.optional-dependencies]
        {root_extra} = ["member[cpu]"]

        [tool.uv.workspace]
        members = ["member"]

        [tool.uv.sources]
        member = {{ workspace = true }}

        [[tool.uv.index]]  # the local PyPI, declared as the default: a mirror of PyPI to the model
        name = "pypi-mirror"
        url = "{index.pypi}"
        default = true
        """)
    member = write_project(root / "member", f"""
        [project]
        name = "member"
        version = "0.1.0"
        requires-python = ">=3.12"
        dependencies = []

        [project.optional-dependencies]
        cpu = ["torch==2.8.0", "dep"]

        [tool.uv.sources]
        torch = {{ index = "pytorch-cpu", extra = "cpu", marker = "sys_platform == 'linux'" }}
        dep = {{ path = "../dep" }}

        [[tool.uv.index]]
        name = "pytorch-cpu"
        url = "{index.whl}/cpu"
        explicit = true

        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"
        """)
    write_project(root / "dep", DEP_ON_TORCHVISION)
    def torchvision_locked() -> set[str]:  # run in the member: uv locks the workspace
        return locked_with_uv(uv, member, root / "uv.lock", tmp_path)["torchvision"]

    assert torchvision_locked() == {"0.23.0"}
    assert not (member / "uv.lock").exists()
    at_root = [d for d in diagnose(with_project(H100, root)).diagnoses if d.code == "TD403"]
    assert len(at_root) == 1, [d.message for d in at_root]  # the member's own finding of the pair: said once
    assert f"with torchvision 0.23.0 (cu128) for this machine with `--extra {root_extra}`" in at_root[0].message
    assert at_root[0].fix is not None and at_root[0].fix.edit is None
    assert at_root[0].fix.commands[0].startswith("torchdoctor fix TD403 --unsafe --project ")
    assert at_root[0].fix.commands[0].endswith("member")

    alone = with_project(H100, member)
    assert alone.project.lock is not None and alone.project.lock.path == str(root / "uv.lock")
    td403 = next(d for d in diagnose(alone).diagnoses if d.code == "TD403")
    preview = preview_fixes(alone, [replace(td403, fix=td403.fix)], unsafe=True)
    assert preview.applied and not preview.refused, preview.refusal
    (member / "pyproject.toml").write_text(preview.after, encoding="utf-8")
    assert torchvision_locked() == {"0.23.0", "0.23.0+cpu"}
    assert not [d for d in diagnose(with_project(H100, member)).diagnoses if d.code in ("TD403", "TD309")]


def test_a_folder_under_a_workspace_that_its_members_do_not_name_is_read_alone(tmp_path):
    """uv treats only the folders `members` names as the workspace's: another project below the root keeps to itself."""
    root = write_project(tmp_path / "ws", """
        [project]
        name = "root"
        version = "0.1.0"

        [tool.uv.workspace]
        members = ["packages/*"]
        exclude = ["packages/skipped"]
        """, {"uv.lock": "version = 1\nrequires-python = \">=3.12\"\n"})
    named = write_project(root / "packages" / "named", '[project]\nname = "named"\nversion = "0.1.0"\n')
    skipped = write_project(root / "packages" / "skipped", '[project]\nname = "skipped"\nversion = "0.1.0"\n')
    elsewhere = write_project(root / "tools" / "other", '[project]\nname = "other"\nversion = "0.1.0"\n')
    from torchdoctor.probes.project import probe_project

    assert probe_project(named).lock is not None and "a member of the workspace" in probe_project(named).found_by
    assert probe_project(skipped).lock is None and probe_project(elsewhere).lock is None


def test_the_proof_refuses_a_move_that_leaves_a_companion_behind(tmp_path, monkeypatch):
    """The same project, with the fix's requirement taken out: the proof sees, from the lock, that torchvision would stay
    on PyPI's build beside torch's cu128 and refuses the fix."""
    from torchdoctor.workflow.planning import plan_fixes

    folder = field_project(tmp_path, "NovaSky-AI__SkyRL")
    snapshot = with_project(BLACKWELL, folder)
    td232 = next(d for d in diagnose(snapshot).diagnoses if d.code == "TD232" and d.severity.value == "error")
    move = td232.alternatives[0]
    assert move.edit is not None and move.edit.require
    stripped = replace(td232, fix=replace(move, edit=replace(move.edit, require=(), packages=("torch", "torchvision"))))
    text = (folder / "pyproject.toml").read_text(encoding="utf-8")
    plan = plan_fixes(snapshot, text, [stripped], lambda fixed: [], unsafe=True)
    assert not plan.applied
    assert any("torchaudio, installed only through another package, would stay" in problem
               for _, proof in plan.refused for problem in proof.problems), plan.refused


def test_a_replaced_source_entry_keeps_its_place_comment_and_indentation():
    """The index move replaces an entry of a multi-line sources array: the new entry stands where the old one stood,
    with its comment and indentation (it was appended at the end, its comment lost)."""
    from torchdoctor.edits import UsePytorchIndex
    from torchdoctor.fixes.transforms import apply_transform

    text = textwrap.dedent('''\
        [tool.uv.sources]
        torch = [
                { index = "pytorch-cu126", marker = "sys_platform == 'linux' or sys_platform == 'win32'" },  # GPU build
                { index = "pytorch-cpu", extra = "cpu" },  # opt-in
        ]
        ''')
    fixed = apply_transform(text, UsePytorchIndex(name="pytorch-cu128", url="https://download.pytorch.org/whl/cu128",
                                                  packages=("torch",), replace=("pytorch-cu126",)))
    assert ('torch = [\n        { index = "pytorch-cu128", marker = "sys_platform == \'linux\' or sys_platform == \'win32\'" },'
            '  # GPU build\n        { index = "pytorch-cpu", extra = "cpu" },  # opt-in\n]') in fixed, fixed


def test_a_project_that_publishes_never_loses_torch_from_its_dependencies(tmp_path):
    """torch in the base dependencies, its CUDA index only behind an extra (TD313), in a project that publishes to an
    index of its own (a `publish-url`) without a build system table: its users need torch; the unsafe removal is not
    offered, the extra to develop with is."""
    folder = write_project(tmp_path / "p", """
        [project]
        name = "lib"
        version = "0.1.0"
        requires-python = ">=3.10"
        dependencies = ["torch>=2.8"]

        [project.optional-dependencies]
        cu128 = ["torch>=2.8"]

        [tool.uv.sources]
        torch = [{ index = "pytorch-cu128", extra = "cu128" }]

        [[tool.uv.index]]
        name = "pytorch-cu128"
        url = "https://download.pytorch.org/whl/cu128"
        explicit = true

        [[tool.uv.index]]
        name = "internal"
        url = "https://pypi.example.org/simple"
        publish-url = "https://pypi.example.org/upload"
        explicit = true
        """)
    td313 = next(d for d in diagnose(with_project(H100, folder)).diagnoses if d.code == "TD313")
    assert td313.fix is not None and td313.fix.edit is None
    assert td313.fix.commands == ("uv sync --extra cu128",)


def test_a_refused_typo_fix_never_lets_the_meant_index_be_removed(tmp_path):
    """A source names 'pytorch-cu12' where 'pytorch-cu126' is declared (TD306). On Blackwell retargeting it is refused
    (it would show the cu126 torch has no kernels); `fix --all --unsafe` then removed the "unused" index the typo
    meant, the only one (issue 25: 109 of 121 fuzzed runs). The unused-index finding offers no removal while a source
    names an undeclared index."""
    from conftest import run_cli

    folder = write_project(tmp_path / "p", """
        [project]
        name = "x"
        version = "0.1.0"
        requires-python = ">=3.10"
        dependencies = ["torch>=2.6,<2.7"]

        [[tool.uv.index]]
        name = "pytorch-cu126"
        url = "https://download.pytorch.org/whl/cu126"
        explicit = true

        [tool.uv.sources]
        torch = { index = "pytorch-cu12", marker = "sys_platform == 'linux' or sys_platform == 'win32'" }
        """)
    result = run_cli("fix", "--all", "--unsafe", "--dry-run", "--project", ".", "--snapshot", str(SNAPSHOTS / "wsl2-rtx5060ti-nightly.json"),
                     "--project", str(folder))
    assert "-name = \"pytorch-cu126\"" not in result.stdout, result.stdout
    td305 = next(d for d in diagnose(with_project(BLACKWELL, folder)).diagnoses if d.code == "TD305")
    assert td305.fix is None and "'pytorch-cu12' (TD306)" in td305.explanation


@pytest.mark.parametrize("how", ["requirement", "source"])
def test_an_extension_installed_from_a_wheel_url_is_never_built_so_no_build_finding(tmp_path, how):
    """flash-attn from a prebuilt wheel URL (in the requirement, or as a source) is installed, never built: "built
    without torch in its build environment" (TD271) was a false alarm on two real projects (issue 28)."""
    wheel = ("https://github.com/Dao-AILab/flash-attention/releases/download/v2.8.3/"
             "flash_attn-2.8.3+cu12torch2.8cxx11abiTRUE-cp312-cp312-linux_x86_64.whl")
    requirement = f"flash-attn @ {wheel} ; sys_platform == 'linux'" if how == "requirement" else "flash-attn ; sys_platform == 'linux'"
    source = f'\n[tool.uv.sources]\nflash-attn = {{ url = "{wheel}" }}\n' if how == "source" else ""
    folder = write_project(tmp_path / "p", f"""
[project]
name = "p"
version = "0.1.0"
requires-python = ">=3.12"
dependencies = ["torch==2.8.0", "{requirement}"]
{source}""")
    assert "TD271" not in {d.code for d in diagnose(with_project(H100, folder)).diagnoses}
    sdist = write_project(tmp_path / "q", """
[project]
name = "q"
version = "0.1.0"
requires-python = ">=3.12"
dependencies = ["torch==2.8.0", "flash-attn==2.8.3"]
""")
    assert "TD271" in {d.code for d in diagnose(with_project(H100, sdist)).diagnoses}  # from PyPI's sdist: built


PER_PYTHON_FLOORS = """
[project]
name = "floors"
version = "0.1.0"
requires-python = ">=3.8"
dependencies = [
    "torch>=2.13; python_version >= '3.10'",
    "torch>=2.8; python_version == '3.9'",
    "torch>={old}; python_version < '3.9'",
]
"""


def test_per_python_torch_floors_are_read_per_python():
    """A real project's per-Python floors: each admitted Python is held to the range its own marker gives. The three
    ranges were intersected (>=2.13) and Python 3.8 reported as an error with a fix narrowing requires-python (issue
    28); its twin, whose 3.8 floor has no 3.8 wheels, still is."""
    import tempfile

    def errors(old: str) -> list[str]:
        with tempfile.TemporaryDirectory() as folder:
            project = write_project(Path(folder) / "p", PER_PYTHON_FLOORS.format(old=old))
            return [d.message for d in diagnose(with_project(H100, project)).diagnoses
                    if d.severity.value == "error" and "admits Python" in d.message]

    assert errors("2.4.1") == []
    assert any("admits Python 3.8" in message for message in errors("2.6")), errors("2.6")


ROCM_PROJECT = """
[project]
name = "train"
version = "0.1.0"
requires-python = ">=3.10"
dependencies = []

[dependency-groups]
{group} = ["torch>=2.8,<2.9"]

[tool.uv.sources]
torch = [{{ index = "pytorch-rocm63", group = "{group}" }}]

[[tool.uv.index]]
name = "pytorch-rocm63"
url = "https://download.pytorch.org/whl/rocm6.3"
explicit = true
"""


def test_a_rocm_build_behind_a_group_is_named_on_an_nvidia_machine(tmp_path):
    """A ROCm build under a `training` group (the selection a real project's Makefile runs) on the H100 was not named
    at all (issue 28): it has no CUDA, so torch would run on the CPU. A group named for its vendor (`rocm`) is that
    vendor's on purpose and stays silent; a plain `uv sync` of a ROCm build is an error."""
    training = write_project(tmp_path / "t", ROCM_PROJECT.format(group="training"))
    found = [d for d in diagnose(with_project(H100, training)).diagnoses if d.code == "TD223"]
    assert [d.severity.value for d in found] == ["warning"], found
    assert "a build for AMD (ROCm) GPUs, on this machine with an NVIDIA GPU" in found[0].message
    vendor = write_project(tmp_path / "v", ROCM_PROJECT.format(group="rocm"))
    assert "TD223" not in {d.code for d in diagnose(with_project(H100, vendor)).diagnoses}
    plain = write_project(tmp_path / "p", ROCM_PROJECT.format(group="training").replace(
        'dependencies = []', 'dependencies = ["torch>=2.8,<2.9"]').replace(', group = "training"', ''))
    made_for_amd = [d for d in diagnose(with_project(H100, plain)).diagnoses if d.code == "TD223"]
    assert [d.severity.value for d in made_for_amd] == ["info"], made_for_amd  # every source is ROCm: on purpose
    # Linux sent to ROCm while Windows gets CUDA: not a project made for AMD, an accident on this NVIDIA machine.
    with_cuda = write_project(tmp_path / "c", plain.joinpath("pyproject.toml").read_text(encoding="utf-8").replace(
        'torch = [{ index = "pytorch-rocm63" }]',
        'torch = [{ index = "pytorch-rocm63", marker = "sys_platform == \'linux\'" }, '
        '{ index = "pytorch-cu128", marker = "sys_platform == \'win32\'" }]') + '\n[[tool.uv.index]]\n'
        'name = "pytorch-cu128"\nurl = "https://download.pytorch.org/whl/cu128"\nexplicit = true\n')
    errors = [d for d in diagnose(with_project(H100, with_cuda)).diagnoses if d.code == "TD223"]
    assert "error" in [d.severity.value for d in errors], errors


CPU_EVERYWHERE = """
[project]
name = "app"
version = "0.1.0"
requires-python = ">=3.10"
dependencies = []

[project.optional-dependencies]
cpu = ["torch>=2.8"]
gpu = ["torch>=2.8"]

[tool.uv]
conflicts = [[{{ extra = "cpu" }}, {{ extra = "gpu" }}]]

[tool.uv.sources]
torch = [{sources}]

[[tool.uv.index]]
name = "pytorch-cpu"
url = "https://download.pytorch.org/whl/cpu"
explicit = true

[[tool.uv.index]]
name = "pytorch-cu128"
url = "https://download.pytorch.org/whl/cu128"
explicit = true
"""


def test_a_gpu_extra_that_a_cpu_index_reaches_is_named_without_a_lock(tmp_path):
    """`torch = [{ index = "pytorch-cpu" }]` with no marker or extra reaches every selection, the `gpu` extra included:
    every GPU machine gets a CPU torch from it. Without a lock nothing was said (issue 28); now the selection whose name
    promises a GPU build and gets the CPU one is a warning. Its twin, each extra with its own index, stays silent."""
    wrong = write_project(tmp_path / "w", CPU_EVERYWHERE.format(sources='{ index = "pytorch-cpu" }'))
    found = [d for d in diagnose(with_project(H100, wrong)).diagnoses if d.code == "TD402"]
    assert [d.severity.value for d in found] == ["warning"], found
    assert found[0].message.startswith("`uv sync --extra gpu` installs torch")
    right = write_project(tmp_path / "r", CPU_EVERYWHERE.format(
        sources='{ index = "pytorch-cpu", extra = "cpu" }, { index = "pytorch-cu128", extra = "gpu" }'))
    assert "TD402" not in {d.code for d in diagnose(with_project(H100, right)).diagnoses}


def test_a_companion_requirement_goes_into_the_extra_or_group_however_it_is_spelt():
    """The lock names extras and groups canonically (`gpu-extra`); the file may spell them `GPU_Extra`. A project that
    publishes and has no [dependency-groups] gets the `dev` group made for it (the fix was refused: 'no
    dependency-groups table')."""
    from torchdoctor.edits import UsePytorchIndex
    from torchdoctor.fixes.transforms import apply_transform

    text = textwrap.dedent('''\
        [project]
        name = "lib"
        version = "0"
        dependencies = ["torch"]

        [project.optional-dependencies]
        GPU_Extra = ["bar"]

        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"
        ''')
    fixed = apply_transform(text, UsePytorchIndex(
        name="pytorch-cu128", url="https://download.pytorch.org/whl/cu128", packages=("torch", "torchvision"),
        require=(("torchvision", "optional:gpu-extra", "sys_platform == 'linux'"), ("torchaudio", "group:dev", ""))))
    assert 'GPU_Extra = ["bar", "torchvision ; sys_platform == \'linux\'"]' in fixed, fixed
    assert '[dependency-groups]\ndev = ["torchaudio"]' in fixed, fixed


def test_a_selection_named_against_the_gpu_is_not_taken_for_a_gpu_one():
    """`--extra no-gpu`, `--group without-cuda` are CPU selections on purpose: no 'its name promises a GPU build'."""
    from torchdoctor.checks.lock_env import GPU_NAMED

    assert all(GPU_NAMED.search(name) for name in ("--extra gpu", "--group cu128", "--extra cuda12", "--extra gpu-train"))
    assert not any(GPU_NAMED.search(name) for name in ("--extra no-gpu", "--extra non-cuda", "--group without-cuda",
                                                       "--extra cpu", "--extra gpus-off"))


def test_the_build_tag_leaves_constraints_too_and_the_comment_stays():
    """A tag pinned in [tool.uv] constraint-dependencies holds the build as the requirement's does: both lose it, and
    the comment after the requirement stays."""
    from torchdoctor.edits import AddPlatformMarker
    from torchdoctor.fixes.transforms import apply_transform

    text = textwrap.dedent('''\
        [project]
        name = "x"
        version = "0"
        dependencies = ["torch==2.7.1+cu126"]  # pinned

        [tool.uv]
        constraint-dependencies = ["torch==2.7.1+cu126"]

        [[tool.uv.index]]
        name = "pytorch"
        url = "https://download.pytorch.org/whl/cu126"
        explicit = true

        [tool.uv.sources]
        torch = { index = "pytorch" }
        ''')
    fixed = apply_transform(text, AddPlatformMarker(index="pytorch", unpin=("torch",)))
    assert 'dependencies = ["torch==2.7.1"]  # pinned' in fixed
    assert 'constraint-dependencies = ["torch==2.7.1"]' in fixed


def test_what_the_lock_holds_exists_whatever_the_tables_say(tmp_path):
    """torch 2.9 on cu129: the tables list cu129 for torch 2.8 only, and the report said so ("beyond torchdoctor's
    tables") although the project's uv.lock holds 2.9.1+cu129 (issue 28). What a lock proves exists, exists: without the
    lock the note stays."""
    text = """
        [project]
        name = "p"
        version = "0.1.0"
        requires-python = ">=3.10"
        dependencies = ["torch>=2.9,<2.10"]

        [tool.uv.sources]
        torch = [{ index = "pytorch-cu129", marker = "sys_platform == 'linux' or sys_platform == 'win32'" }]

        [[tool.uv.index]]
        name = "pytorch-cu129"
        url = "https://download.pytorch.org/whl/cu129"
        explicit = true
        """
    lock = textwrap.dedent('''\
        version = 1
        revision = 3
        requires-python = ">=3.10"

        [[package]]
        name = "torch"
        version = "2.9.1+cu129"
        source = { registry = "https://download.pytorch.org/whl/cu129" }
        ''')

    def notes(folder: Path) -> list[str]:
        return [d.message for d in diagnose(with_project(H100, folder)).diagnoses if "beyond torchdoctor's tables" in d.message]

    assert notes(write_project(tmp_path / "bare", text))
    assert notes(write_project(tmp_path / "locked", text, {"uv.lock": lock})) == []


MADE_UP_TAG = """
[project]
name = "madeup"
version = "0.1.0"
requires-python = ">=3.9"
dependencies = []

[project.optional-dependencies]
cu124 = ["torch==2.5.1+cu124", "torchvision==0.20.1+cu124"]
hip = ["torch==2.5.1+rocm", "torchvision==0.20.1+rocm"]

[tool.uv]
conflicts = [[{ extra = "cu124" }, { extra = "hip" }]]

[tool.uv.sources]
torch = [{ index = "pytorch-cu124", extra = "cu124" }, { index = "pytorch-rocm", extra = "hip" }]
torchvision = [{ index = "pytorch-cu124", extra = "cu124" }, { index = "pytorch-rocm", extra = "hip" }]

[[tool.uv.index]]
name = "pytorch-cu124"
url = "https://download.pytorch.org/whl/cu124"
explicit = true

[[tool.uv.index]]
name = "pytorch-rocm"
url = "https://download.pytorch.org/whl/rocm6.2"
explicit = true
"""


def test_a_pin_to_a_tag_no_index_has_is_cured_by_letting_the_index_choose(tmp_path):
    """`torch==2.5.1+rocm` (a real project's pin: no such tag, `uv lock` fails) had no fix. The cure drops the tags of
    every family pin at once (one dropped alone leaves torchvision on another build, which the proof refuses), and the
    sources choose the builds; unsafe, since a requirement changes."""
    folder = write_project(tmp_path / "p", MADE_UP_TAG)
    snapshot = with_project(H100, folder)
    made_up = [d for d in diagnose(snapshot).diagnoses if d.code == "TD319" and "+rocm" in d.message]
    assert {d.message.split("'")[1] for d in made_up} == {"torch==2.5.1+rocm", "torchvision==0.20.1+rocm"}
    fix = made_up[0].fix
    assert fix is not None and fix.applicability is Applicability.UNSAFE, made_up[0].no_fix
    preview = preview_fixes(snapshot, made_up[:1], unsafe=True)
    assert preview.applied and not preview.refused, preview.refusal
    assert '"torch==2.5.1", "torchvision==0.20.1"' in preview.after and "+rocm" not in preview.after
    after = with_project(H100, write_project(tmp_path / "after", preview.after))
    assert not [d for d in diagnose(after).diagnoses if d.code == "TD319"]
