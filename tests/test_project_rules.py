"""Project-configuration and lock checks: each field case gets the diagnoses its header describes, and
every rule is tested both ways on real pyproject files (the cases) and small variations of them."""

from __future__ import annotations

import shutil
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from test_fix_cure import MADE_UP_TAG

from conftest import CASES, FIXTURES, SNAPSHOTS
from torchdoctor.checks import run_checks
from torchdoctor.model import Severity
from torchdoctor.probes.project import probe_project
from torchdoctor.snapshot import Snapshot

H100 = Snapshot.from_json((SNAPSHOTS / "h100-pypi.json").read_text(encoding="utf-8"))
WINDOWS = replace(H100, system=replace(H100.system, os_name="Windows"))


def check_project(tmp_path: Path, pyproject: str | Path, machine: Snapshot = H100, lock: Path | None = None):
    folder = tmp_path / "project"
    folder.mkdir(exist_ok=True)
    text = pyproject.read_text(encoding="utf-8") if isinstance(pyproject, Path) else textwrap.dedent(pyproject)
    (folder / "pyproject.toml").write_text(text, encoding="utf-8")
    if lock is not None:
        shutil.copy(lock, folder / "uv.lock")
    snapshot = replace(machine, project=probe_project(folder))
    return run_checks(snapshot)


def project_codes(diagnoses) -> list[tuple[str, str]]:
    """Codes and severities of the project-level findings (TD3xx/TD4xx), in report order."""
    return [(d.code, d.severity.value) for d in diagnoses if d.code[2] in "34"]


# The field cases --------------------------------------------------------------------------------

def test_case_nightly_before_fails_on_pytorch_triton(tmp_path):
    found = check_project(tmp_path, CASES / "nightly-cu128-wsl2" / "pyproject.before.toml")
    assert project_codes(found) == [("TD308", "error"), ("TD307", "warning")]
    td308 = [d for d in found if d.code == "TD308"][0]
    assert "pytorch-triton is not mapped to it" in td308.message


def test_case_nightly_as_published_has_markdown_wrapped_urls(tmp_path):
    found = check_project(tmp_path, CASES / "nightly-cu128-wsl2" / "pyproject.toml")
    # And, as published, Windows gets the CPU index (`sys_platform != 'linux'`) while Linux gets CUDA.
    assert project_codes(found) == [("TD304", "error"), ("TD304", "error"), ("TD316", "warning")]
    assert "It should read https://download.pytorch.org/whl/nightly/cu128." in found[0].explanation


def test_case_mirror_is_recognised_and_macos_is_flagged(tmp_path):
    found = check_project(tmp_path, CASES / "mirror-cu124-conda" / "pyproject.toml")
    assert project_codes(found) == [("TD307", "warning"), ("TD315", "info"), ("TD315", "info")]
    messages = [d.message for d in found]
    assert "index pytorch-cu124 (mirrors.nju.edu.cn) is a mirror of the PyTorch cu124 index" in messages
    assert "the default index pypi-cn (pypi.tuna.tsinghua.edu.cn) replaces PyPI" in messages


def test_case_find_links_is_the_legacy_way(tmp_path):
    found = check_project(tmp_path, CASES / "findlinks-cu118" / "pyproject.toml")
    assert project_codes(found) == [("TD302", "warning")]


def test_case_uv_guide_extras_is_correct(tmp_path):
    found = check_project(tmp_path, CASES / "uv-guide-extras" / "pyproject.toml")
    assert project_codes(found) == [("TD310", "info")]  # only the note that its cu124 extra stays at torch 2.6
    assert found[-1].message.startswith("cu124 ends at torch 2.6")
    assert found[-1].message.endswith("behind extra cpu (torch 2.15)")  # the sibling extra moves on; this one cannot


def test_case_plain_uv_add_gives_windows_a_cpu_torch(tmp_path):
    plain = CASES / "uv-guide-extras" / "pyproject.plain.toml"
    assert project_codes(check_project(tmp_path, plain)) == [("TD316", "info")]
    assert project_codes(check_project(tmp_path, plain, machine=WINDOWS)) == [("TD316", "warning")]


# Variations, one per rule ---------------------------------------------------------------------

BASE = """
[project]
name = "demo"
version = "0.1.0"
requires-python = ">=3.10"
dependencies = ["torch>=2.9,<2.12", "torchvision>=0.24"]

[tool.uv]
environments = ["sys_platform == 'linux'"]
"""

CU128 = BASE + """
[[tool.uv.index]]
name = "pytorch-cu128"
url = "https://download.pytorch.org/whl/cu128"
explicit = true

[tool.uv.sources]
torch = [{ index = "pytorch-cu128" }]
torchvision = [{ index = "pytorch-cu128" }]
"""


def codes_of(tmp_path, text, **kwargs) -> list[str]:
    """The project findings of a variation of BASE, less BASE's own note: its `environments` leave Windows and macOS
    out on purpose (TD323, tested on its own below)."""
    return [code for code, _ in project_codes(check_project(tmp_path, text, **kwargs)) if code != "TD323"]


def test_a_correct_linux_cuda_project_is_clean(tmp_path):
    assert codes_of(tmp_path, CU128) == []
    assert project_codes(check_project(tmp_path, CU128)) == [("TD323", "info")]  # Linux only, on purpose: said once


def test_td301_index_not_explicit(tmp_path):
    assert codes_of(tmp_path, CU128.replace("explicit = true\n", "")) == ["TD301"]
    found = check_project(tmp_path, CU128.replace("explicit = true", "default = true"))
    assert [(c, s) for c, s in project_codes(found) if c != "TD323"] == [("TD301", "error")]


def test_td303_unsafe_best_match(tmp_path):
    text = CU128.replace("explicit = true\n", "").replace("[tool.uv]\n", '[tool.uv]\nindex-strategy = "unsafe-best-match"\n')
    assert codes_of(tmp_path, text) == ["TD301", "TD303"]
    assert codes_of(tmp_path, CU128.replace("[tool.uv]\n", '[tool.uv]\nindex-strategy = "unsafe-best-match"\n')) == []


def test_td304_simple_suffix_and_spaces(tmp_path):
    found = check_project(tmp_path, CU128.replace("whl/cu128", "whl/cu128/simple"))
    assert "the PyTorch index has no /simple suffix" in found[0].message
    assert codes_of(tmp_path, CU128.replace('"https://download', '" https://download')) == ["TD304"]


def test_td305_and_td306_index_names(tmp_path):
    unused = CU128.replace('torch = [{ index = "pytorch-cu128" }]\ntorchvision = [{ index = "pytorch-cu128" }]\n', "")
    assert codes_of(tmp_path, unused) == ["TD305"]
    typo = CU128.replace('torch = [{ index = "pytorch-cu128" }]', 'torch = [{ index = "pytorch-cu12B" }]')
    assert codes_of(tmp_path, typo) == ["TD306"]  # uv cannot lock it at all: nothing to say about builds


def test_td307_only_when_macos_is_resolved(tmp_path):
    everywhere = CU128.replace("environments = [\"sys_platform == 'linux'\"]\n", "")
    assert "TD307" in codes_of(tmp_path, everywhere)
    marked = everywhere.replace('{ index = "pytorch-cu128" }', "{ index = \"pytorch-cu128\", marker = \"sys_platform == 'linux' or sys_platform == 'win32'\" }")
    assert "TD307" not in codes_of(tmp_path, marked)


def test_td308_silent_once_pytorch_triton_is_mapped(tmp_path):
    nightly = CU128.replace("whl/cu128", "whl/nightly/cu128")
    assert codes_of(tmp_path, nightly) == ["TD308"]
    assert codes_of(tmp_path, nightly + 'pytorch-triton = [{ index = "pytorch-cu128" }]\n') == []


def test_td309_companion_left_on_pypi(tmp_path):
    left = CU128.replace('torchvision = [{ index = "pytorch-cu128" }]\n', "")
    # torch 2.9-2.11 from cu128: PyPI's torchvision is cu128 for 2.9 and 2.10, cu130 (another CUDA major) for 2.11.
    found = check_project(tmp_path, left)
    assert [(c, s) for c, s in project_codes(found) if c != "TD323"] == [("TD309", "warning")]
    assert found[0].message == "torchvision may get another build than torch on this machine: cu130 beside torch's cu128"
    assert found[0].fix.action == "map-companions"
    pinned = left.replace('"torch>=2.9,<2.12"', '"torch==2.11.0"')
    found = check_project(tmp_path, pinned)
    assert [(c, s) for c, s in project_codes(found) if c != "TD323"] == [("TD309", "error")]
    assert found[0].message.startswith("torchvision gets another build than torch on this machine")
    same_major = left.replace('"torch>=2.9,<2.12"', '"torch==2.10.0"')  # PyPI's 0.25 is cu128 too: it works
    assert "TD309" not in codes_of(tmp_path, same_major)


def test_td312_extras_without_conflicts(tmp_path):
    text = (CASES / "uv-guide-extras" / "pyproject.toml").read_text(encoding="utf-8")
    without = text.replace('conflicts = [\n  [\n    { extra = "cpu" },\n    { extra = "cu124" },\n  ],\n]\n', "")
    assert "TD312" in codes_of(tmp_path, without)
    marker = text.replace('extra = "cu124" }', "marker = \"extra == 'cu124'\" }")
    assert "TD312" in codes_of(tmp_path, marker)


def test_td313_base_dependency_with_extra_only_sources(tmp_path):
    text = (CASES / "uv-guide-extras" / "pyproject.toml").read_text(encoding="utf-8")
    text = text.replace("dependencies = []", 'dependencies = ["torch>=2.5.1"]')
    assert "TD313" in codes_of(tmp_path, text)


def test_td314_torch_backend(tmp_path):
    assert codes_of(tmp_path, BASE.replace("[tool.uv]\n", '[tool.uv]\ntorch-backend = "auto"\n')) == ["TD314"]


def test_td316_silent_when_windows_is_mapped(tmp_path):
    everywhere = CU128.replace("environments = [\"sys_platform == 'linux'\"]\n", "")
    assert "TD316" not in codes_of(tmp_path, everywhere)


# Lock and environment -------------------------------------------------------------------------

H100_PROJECT = FIXTURES / "projects" / "h100-pypi"


def test_td401_real_lock_in_sync_then_stale(tmp_path):
    pyproject = H100_PROJECT / "pyproject.toml"
    lock = H100_PROJECT / "uv.lock"
    assert "TD401" not in codes_of(tmp_path, pyproject, lock=lock)
    bumped = pyproject.read_text(encoding="utf-8").replace("torch==2.11.0", "torch==2.12.0")
    found = check_project(tmp_path, bumped, lock=lock)
    assert [d.message for d in found if d.code == "TD401"] == ["uv.lock is out of date with pyproject.toml: torch==2.12.0"]


def test_td402_windows_machine_locked_to_pypi_cpu_wheels(tmp_path):
    found = check_project(tmp_path, H100_PROJECT / "pyproject.toml", machine=WINDOWS, lock=H100_PROJECT / "uv.lock")
    assert ("TD402", "error") in project_codes(found)
    assert ("TD402", "error") not in project_codes(check_project(tmp_path, H100_PROJECT / "pyproject.toml", lock=H100_PROJECT / "uv.lock"))


def test_td404_manual_install_drifts_from_the_lock(tmp_path):
    venv_machine = replace(H100, interpreter=replace(H100.interpreter, source=".venv"),
                           torch=replace(H100.torch, version="2.11.0+cu128"))
    found = check_project(tmp_path, H100_PROJECT / "pyproject.toml", machine=venv_machine, lock=H100_PROJECT / "uv.lock")
    assert ("TD404", "warning") in project_codes(found)
    same = replace(venv_machine, torch=replace(H100.torch, version="2.11.0"))
    assert "TD404" not in [c for c, _ in project_codes(check_project(tmp_path, H100_PROJECT / "pyproject.toml", machine=same, lock=H100_PROJECT / "uv.lock"))]


def test_td405_conda_python_on_path_beside_a_project_venv():
    interpreter = replace(H100.interpreter, source=".venv", path="/p/.venv/bin/python", environment="/p/.venv",
                          path_python="/opt/conda/envs/my_env/bin/python", path_python_environment="/opt/conda/envs/my_env")
    found = [d for d in run_checks(replace(H100, interpreter=interpreter)) if d.code == "TD405"]
    assert found[0].severity is Severity.WARNING
    system_python = replace(interpreter, path_python="/usr/bin/python3", path_python_environment=None)
    assert [d.severity for d in run_checks(replace(H100, interpreter=system_python)) if d.code == "TD405"] == [Severity.INFO]
    same = replace(interpreter, path_python="/p/.venv/bin/python", path_python_environment="/p/.venv")
    assert "TD405" not in [d.code for d in run_checks(replace(H100, interpreter=same))]


def test_td406_nightly_pinned_in_a_lock(tmp_path):
    lock = (H100_PROJECT / "uv.lock").read_text(encoding="utf-8").replace('name = "torch"\nversion = "2.11.0"', 'name = "torch"\nversion = "2.10.0.dev20251010+cu128"')
    path = tmp_path / "nightly.lock"
    path.write_text(lock, encoding="utf-8")
    assert ("TD406", "warning") in project_codes(check_project(tmp_path, H100_PROJECT / "pyproject.toml", lock=path))
    assert "TD406" not in codes_of(tmp_path, H100_PROJECT / "pyproject.toml", lock=H100_PROJECT / "uv.lock")


@pytest.mark.parametrize("case", ["docker-nightly-cache"])
def test_cases_without_pyproject_raise_no_project_findings(tmp_path, case):
    snapshot = replace(H100, project=probe_project(CASES / case))
    assert project_codes(run_checks(snapshot)) == []


# Version ranges, Pythons and extension builds --------------------------------------------------

def test_td310_cu128_ended_with_2_11(tmp_path):
    text = CU128.replace('"torch>=2.9,<2.12"', '"torch>=2.12"')
    found = check_project(tmp_path, text)
    (td310,) = [d for d in found if d.code == "TD310"]
    assert td310.severity is Severity.ERROR
    assert td310.message == "no torch release matching >=2.12 is built for cu128 (index pytorch-cu128): cu128 ended with torch 2.11"
    assert "TD310" not in codes_of(tmp_path, CU128)


def test_td310_an_open_range_on_a_retired_variant_is_a_note(tmp_path):
    (td310,) = [d for d in check_project(tmp_path, CU128.replace('"torch>=2.9,<2.12"', '"torch>=2.9"')) if d.code == "TD310"]
    assert td310.severity is Severity.INFO
    assert td310.message == "cu128 ends at torch 2.11: torch >=2.9 stays at 2.11 on index pytorch-cu128"


def test_td310_python_3_10_has_no_torch_2_15_wheels(tmp_path):
    text = BASE.replace('"torch>=2.9,<2.12"', '"torch>=2.15"')
    (td310,) = [d for d in check_project(tmp_path, text) if d.code == "TD310"]
    assert td310.message == "requires-python >=3.10 admits Python 3.10, but no torch matching >=2.15 has wheels for it"
    assert "TD310" not in codes_of(tmp_path, text.replace('requires-python = ">=3.10"', 'requires-python = ">=3.11"'))


def test_local_version_in_a_range_is_explained(tmp_path):
    found = check_project(tmp_path, BASE.replace('"torch>=2.9,<2.12"', '"torch>=2.4.0+cu118"'))
    (td001,) = [d for d in found if d.code == "TD001"]
    assert "a local version such as +cu118 is only allowed with == or !=" in td001.message


EXTENSIONS = CU128.replace('dependencies = ["torch>=2.9,<2.12", "torchvision>=0.24"]', 'dependencies = ["torch>=2.9,<2.12", "torchvision>=0.24", "flash-attn>=2.7"]')


def test_td271_flash_attn_without_torch_in_its_build(tmp_path):
    assert codes_of(tmp_path, EXTENSIONS) == []  # project codes only; TD271 is area 2
    found = [d.code for d in check_project(tmp_path, EXTENSIONS)]
    assert "TD271" in found
    fixed = EXTENSIONS.replace("[tool.uv]\n", '[tool.uv]\nextra-build-dependencies = { flash-attn = [{ requirement = "torch", match-runtime = true }] }\n')
    assert "TD271" not in [d.code for d in check_project(tmp_path, fixed)]


def test_td270_nvcc_of_another_major_when_extensions_build(tmp_path):
    machine = replace(H100, system=replace(H100.system, nvcc_version="12.4", nvcc_path="/usr/local/cuda-12.4/bin/nvcc"))
    assert "TD270" in [d.code for d in check_project(tmp_path, EXTENSIONS, machine=machine)]
    assert "TD270" not in [d.code for d in check_project(tmp_path, EXTENSIONS)]  # the recorded nvcc is 13.0, like torch
    assert "TD270" not in [d.code for d in check_project(tmp_path, CU128, machine=machine)]  # nothing to build


def test_td403_lock_pairs_torch_and_torchvision_from_different_variants(tmp_path):
    lock_text = (H100_PROJECT / "uv.lock").read_text(encoding="utf-8")
    mixed = lock_text.replace('name = "torch"\nversion = "2.11.0"', 'name = "torch"\nversion = "2.11.0+cu128"')
    path = tmp_path / "mixed.lock"
    path.write_text(mixed, encoding="utf-8")
    found = check_project(tmp_path, H100_PROJECT / "pyproject.toml", lock=path)
    # PyPI's Linux torchvision 0.26.0 is torch 2.11's cu130 build (the tables): another CUDA major than torch here.
    (td403,) = [d for d in found if d.code == "TD403" and d.severity is Severity.ERROR]
    assert td403.message == ("uv.lock pins torch 2.11.0+cu128 (cu128) with torchvision 0.26.0 (cu130) for this machine: "
                             "different builds")
    (others,) = [d.message for d in found if d.code == "TD403" and d.severity is Severity.WARNING]
    assert others == ("uv.lock pins torch 2.11.0+cu128 (cu128) with torchvision 0.26.0 (cpu) for Windows x86_64; macOS arm64: "
                      "different builds")
    assert "TD403" not in codes_of(tmp_path, H100_PROJECT / "pyproject.toml", lock=H100_PROJECT / "uv.lock")


def test_td302_extra_index_url_to_the_pytorch_index(tmp_path):
    text = BASE.replace("[tool.uv]\n", '[tool.uv]\nextra-index-url = ["https://download.pytorch.org/whl/cu128"]\n')
    assert codes_of(tmp_path, text) == ["TD302"]
    other = BASE.replace("[tool.uv]\n", '[tool.uv]\nextra-index-url = ["https://pypi.example.com/simple"]\n')
    assert "TD302" not in codes_of(tmp_path, other)


def test_td322_a_wheel_url_without_a_platform_marker_is_named_for_the_platforms_it_cannot_install_on(tmp_path):
    """A torch source that is one manylinux x86_64 wheel's URL (issue 28: GH200/GB200 users could not sync), and a
    flash-attn wheel URL under `sys_platform == 'linux'`: each named with the platforms its wheel does not serve.
    The same sources kept to their platform by a marker, or by `environments`, are silent; and a wheel URL is not an
    index, so no CUDA-line reasoning (TD310's "cu128 ends at torch 2.11") is made of the /whl/cu128/ in its path."""
    url = "https://download.pytorch.org/whl/cu128/torch-2.8.0%2Bcu128-cp312-cp312-manylinux_2_28_x86_64.whl"
    flash = ("https://github.com/Dao-AILab/flash-attention/releases/download/v2.8.3/"
             "flash_attn-2.8.3+cu12torch2.8cxx11abiTRUE-cp312-cp312-linux_x86_64.whl")
    loose = f"""
        [project]
        name = "app"
        version = "0.1"
        requires-python = ">=3.12,<3.13"
        dependencies = ["torch", "flash-attn @ {flash} ; sys_platform == 'linux'"]

        [tool.uv.sources]
        torch = {{ url = "{url}" }}
        """
    found = {d.code: d for d in check_project(tmp_path, loose) if d.code in ("TD322", "TD310")}
    named = [d for d in check_project(tmp_path, loose) if d.code == "TD322"]
    assert sorted(d.message.split(" comes from")[0] for d in named) == ["flash-attn", "torch"]
    torch_note = next(d for d in named if d.message.startswith("torch"))
    assert torch_note.severity is Severity.INFO
    assert torch_note.message.endswith("cannot install on Linux aarch64, Windows x86_64, macOS arm64")
    assert next(d for d in named if d.message.startswith("flash-attn")).message.endswith("cannot install on Linux aarch64")
    assert "TD310" not in found
    kept = loose.replace(f'torch = {{ url = "{url}" }}',
                         f'torch = {{ url = "{url}", marker = "sys_platform == \'linux\' and platform_machine == \'x86_64\'" }}')
    kept = kept.replace("; sys_platform == 'linux'\"", "; sys_platform == 'linux' and platform_machine == 'x86_64'\"")
    assert not [d for d in check_project(tmp_path, kept) if d.code == "TD322"]
    only_there = loose + '\n[tool.uv]\nenvironments = ["sys_platform == \'linux\' and platform_machine == \'x86_64\'"]\n'
    assert not [d for d in check_project(tmp_path, only_there) if d.code == "TD322"]


def test_td402_torch_only_in_extras_all_routed_to_the_cpu_index_is_said_without_a_lock(tmp_path):
    """A CPU index mapped for torch without a marker or an extra, torch only in an extra, no uv.lock (issue 28): the
    NVIDIA machine's every torch selection gets the CPU build, said as a note; a project whose GPU extra has its own
    CUDA source is silent."""
    cpu_everywhere = """
        [project]
        name = "app"
        version = "0.1"
        requires-python = ">=3.11"
        dependencies = []

        [project.optional-dependencies]
        train = ["torch>=2.6"]

        [[tool.uv.index]]
        name = "pytorch-cpu"
        url = "https://download.pytorch.org/whl/cpu"
        explicit = true

        [tool.uv.sources]
        torch = [{ index = "pytorch-cpu" }]
        """
    (note,) = [d for d in check_project(tmp_path, cpu_everywhere) if d.code == "TD402"]
    assert note.severity is Severity.INFO and "`uv sync --extra train`" in note.message
    with_gpu_extra = cpu_everywhere.replace('train = ["torch>=2.6"]', 'train = ["torch>=2.6"]\ncu128 = ["torch>=2.6"]')
    with_gpu_extra = with_gpu_extra.replace('torch = [{ index = "pytorch-cpu" }]', (
        'torch = [{ index = "pytorch-cpu", extra = "train" }, { index = "pytorch-cu128", extra = "cu128" }]'))
    with_gpu_extra += ('\n[[tool.uv.index]]\nname = "pytorch-cu128"\nurl = "https://download.pytorch.org/whl/cu128"\n'
                       'explicit = true\n\n[tool.uv]\nconflicts = [[{ extra = "train" }, { extra = "cu128" }]]\n')
    assert not [d for d in check_project(tmp_path, with_gpu_extra) if d.code == "TD402"]


DOCUMENTED = """
    [project]
    name = "app"
    version = "0.1"
    requires-python = ">=3.11"
    dependencies = []

    [project.optional-dependencies]
    cpu = ["torch>=2.6"]
    gpu = ["torch>=2.10"]

    [dependency-groups]
    training = ["torch>=2.6"]

    [[tool.uv.index]]
    name = "pytorch-cpu"
    url = "https://download.pytorch.org/whl/cpu"
    explicit = true

    [[tool.uv.index]]
    name = "pytorch-cu130"
    url = "https://download.pytorch.org/whl/cu130"
    explicit = true

    [[tool.uv.index]]
    name = "pytorch-rocm"
    url = "https://download.pytorch.org/whl/rocm6.4"
    explicit = true

    [tool.uv.sources]
    torch = [{ index = "pytorch-cpu", extra = "cpu" }, { index = "pytorch-cu130", extra = "gpu" },
             { index = "pytorch-rocm", group = "training" }]

    [tool.uv]
    conflicts = [[{ extra = "cpu" }, { extra = "gpu" }, { group = "training" }]]
    """


def test_a_selection_the_project_tells_everyone_to_run_is_rated_as_its_plain_install(tmp_path):
    """Issue 28's two misses, on the recorded WSL2 machine (driver 572: CUDA 12.8): the README runs `uv sync --extra
    gpu`, whose cu130 build needs a CUDA 13 driver, and the Makefile `uv sync --group training`, a ROCm build on this
    NVIDIA machine. Undocumented, each opt-in selection is a note or a warning; documented, the first is an error and
    the second a warning, each citing where the project runs it."""
    wsl = Snapshot.from_json((SNAPSHOTS / "wsl2-rtx5060ti-nightly.json").read_text(encoding="utf-8"))
    quiet = {d.code: d for d in check_project(tmp_path, DOCUMENTED, machine=wsl) if d.code in ("TD232", "TD223")}
    assert quiet["TD232"].severity is not Severity.ERROR and "(an opt-in selection)" in quiet["TD232"].message
    (tmp_path / "project" / "README.md").write_text("Install:\n\n```bash\nuv sync --extra gpu\n```\n", encoding="utf-8")
    (tmp_path / "project" / "Makefile").write_text("sync-training:\n\tuv sync --group training\n", encoding="utf-8")
    loud = {d.code: d for d in check_project(tmp_path, DOCUMENTED, machine=wsl) if d.code in ("TD232", "TD223")}
    assert loud["TD232"].severity is Severity.ERROR and loud["TD232"].message.endswith("(README.md runs it)")
    assert ("the project runs", "uv sync --extra gpu", "README.md:4") in {
        (e.fact, e.value, e.source) for e in loud["TD232"].evidence}
    assert loud["TD223"].severity is Severity.WARNING and "(Makefile runs it)" in loud["TD223"].message


def test_td323_environments_that_leave_platforms_out_are_said_once_as_a_note(tmp_path):
    """`environments = ["sys_platform == 'linux'"]`: a teammate on Windows or a Mac gets uv's refusal without knowing
    the project chose it (issue 28). A note naming the platforms left out; silent without `environments`."""
    text = """
        [project]
        name = "app"
        version = "0.1"
        requires-python = ">=3.11"
        dependencies = ["torch>=2.6"]

        [tool.uv]
        environments = ["sys_platform == 'linux'"]
        """
    (note,) = [d for d in check_project(tmp_path, text) if d.code == "TD323"]
    assert note.severity is Severity.INFO and note.message.endswith("refuses to install on Windows x86_64, macOS arm64")
    assert not [d for d in check_project(tmp_path, text.replace("environments", "# environments")) if d.code == "TD323"]


def test_td312_extras_declared_conflicting_pair_by_pair_are_enough(tmp_path):
    """CAIIVS/raitap declares its extras' conflicts pair by pair (torch-cpu/onnx-cpu/xgboost share the CPU index and
    may be combined) and locks: TD312 said all seven were 'not declared as conflicting', an error on a project that
    locks. uv needs each two extras on different indexes declared in some group; a pair left out is still named."""
    text = """
        [project]
        name = "app"
        version = "0.1"
        requires-python = ">=3.11"
        dependencies = []

        [project.optional-dependencies]
        torch-cpu = ["torch"]
        onnx-cpu = ["torch"]
        torch-cuda = ["torch"]
        onnx-cuda = ["torch"]

        [tool.uv]
        conflicts = [
          [{ extra = "torch-cpu" }, { extra = "torch-cuda" }],
          [{ extra = "onnx-cpu" }, { extra = "onnx-cuda" }],
          [{ extra = "onnx-cpu" }, { extra = "torch-cuda" }],
          [{ extra = "onnx-cuda" }, { extra = "torch-cpu" }],
        ]

        [tool.uv.sources]
        torch = [
          { index = "pytorch-cpu", extra = "torch-cpu" }, { index = "pytorch-cpu", extra = "onnx-cpu" },
          { index = "pytorch-cu128", extra = "torch-cuda" }, { index = "pytorch-cu128", extra = "onnx-cuda" },
        ]

        [[tool.uv.index]]
        name = "pytorch-cpu"
        url = "https://download.pytorch.org/whl/cpu"
        explicit = true

        [[tool.uv.index]]
        name = "pytorch-cu128"
        url = "https://download.pytorch.org/whl/cu128"
        explicit = true
        """
    assert not [d for d in check_project(tmp_path, text) if d.code == "TD312"]
    one_left = text.replace('  [{ extra = "onnx-cuda" }, { extra = "torch-cpu" }],\n', "")
    (error,) = [d for d in check_project(tmp_path, one_left) if d.code == "TD312"]
    assert error.severity is Severity.ERROR and "onnx-cuda and torch-cpu" in error.message
    assert '[{ extra = "onnx-cuda" }, { extra = "torch-cpu" }]' in error.fix.commands[0]


def test_td316_a_cpu_source_written_for_windows_alone_is_the_teams_choice_and_an_accidental_one_a_warning(tmp_path):
    """Windows sent to the CPU index by a marker that holds on Windows alone (NVIDIA-NeMo/Automodel's
    `sys_platform != 'linux' and sys_platform != 'darwin'`) was written for Windows: a note. The same index reached
    by `sys_platform != 'linux'`, meant for macOS too, is the accident the warning is for."""
    template = """
        [project]
        name = "p"
        version = "0.1.0"
        requires-python = ">=3.10"
        dependencies = ["torch==2.8.0"]

        [tool.uv.sources]
        torch = [
          {{ index = "pytorch-cpu", marker = "{marker}" }},
          {{ index = "pytorch-cu128", marker = "sys_platform == 'linux'" }},
        ]

        [[tool.uv.index]]
        name = "pytorch-cpu"
        url = "https://download.pytorch.org/whl/cpu"
        explicit = true

        [[tool.uv.index]]
        name = "pytorch-cu128"
        url = "https://download.pytorch.org/whl/cu128"
        explicit = true
        """
    chosen = check_project(_fresh(tmp_path / "chosen"), template.format(marker="sys_platform != 'linux' and sys_platform != 'darwin'"))
    accidental = check_project(_fresh(tmp_path / "accidental"), template.format(marker="sys_platform != 'linux'"))
    assert [d.severity.value for d in chosen if d.code == "TD316"] == ["info"]
    assert [d.severity.value for d in accidental if d.code == "TD316"] == ["warning"]


def test_td318_the_index_root_is_named_where_it_reaches_linux_or_windows_never_for_macos_alone(tmp_path):
    """1Panel-dev/MaxKB maps torch to the index root for macOS only: macOS wheels are one build, so the root serves
    macOS what it means (a false warning before). Reaching Linux, the root still gives its highest-ranked build."""
    template = """
        [project]
        name = "p"
        version = "0.1.0"
        requires-python = ">=3.10"
        dependencies = ["torch==2.8.0"]

        [tool.uv.sources]
        torch = [
          {{ index = "pytorch-cpu", marker = "sys_platform == 'linux'" }},
          {{ index = "root", marker = "{marker}" }},
        ]

        [[tool.uv.index]]
        name = "pytorch-cpu"
        url = "https://download.pytorch.org/whl/cpu"
        explicit = true

        [[tool.uv.index]]
        name = "root"
        url = "https://download.pytorch.org/whl"
        explicit = true
        """
    assert "TD318" not in [d.code for d in check_project(_fresh(tmp_path / "mac"), template.format(marker="sys_platform == 'darwin'"))]
    assert "TD318" in [d.code for d in check_project(_fresh(tmp_path / "win"), template.format(marker="sys_platform == 'win32'"))]


def _fresh(folder: Path) -> Path:
    folder.mkdir(parents=True)
    return folder


GRUFINITY_LIKE = MADE_UP_TAG.replace('requires-python = ">=3.9"', 'requires-python = ">=3.8"')
"""The shape of ekg/grufinity's pyproject.toml (a real project outside the repository): exact pins with build tags, one
tag no index has (+rocm), and requires-python below torch 2.5's oldest Python."""


def test_td310_an_exact_pin_with_a_build_tag_is_a_range_like_any_other(tmp_path):
    """`torch==2.5.1+cu124` with requires-python >=3.8: torch 2.5 has no Python 3.8 wheels, so `uv lock` fails. The pin
    was predicted with its version and skipped, so the error went unsaid until its tag was dropped; said once, in the
    release's words (`==2.5.1`), for both extras."""
    found = [d for d in check_project(_fresh(tmp_path / "p"), GRUFINITY_LIKE) if d.code == "TD310"]
    assert [(d.severity.value, d.message) for d in found] == [
        ("error", "requires-python >=3.8 admits Python 3.8, but no torch matching ==2.5.1 has wheels for it")]


def test_td319_dropping_a_tag_no_index_has_is_proven_though_it_renames_a_build_another_finding_names(tmp_path):
    """On Blackwell the cu124 extra cannot run (TD222, before and after the fix). Dropping the tags renames its build
    in that finding (`torch 2.5.1+cu124` reads `torch 2.5 (cu124)`): the same problem in other words, not one the fix
    raised, so the fix of the +rocm tag that no index has is offered."""
    from torchdoctor.workflow import diagnose

    blackwell = Snapshot.from_json((SNAPSHOTS / "wsl2-rtx5060ti-nightly.json").read_text(encoding="utf-8"))
    folder = _fresh(tmp_path / "p")
    (folder / "pyproject.toml").write_text(MADE_UP_TAG, encoding="utf-8")  # requires-python >=3.9: no TD310
    report = diagnose(replace(blackwell, project=probe_project(folder)))
    assert any(d.code == "TD222" for d in report.diagnoses)
    rocm = [d for d in report.diagnoses if d.code == "TD319" and "+rocm is no PyTorch build tag" in d.message]
    assert rocm and all(d.fix is not None and d.fix.edit is not None for d in rocm), [(d.message, d.no_fix) for d in rocm]


def test_td319_a_cpu_pin_reaching_macos_is_named(tmp_path):
    """macOS wheels on the CPU index carry no tag (torch-2.7.1-cp312-none-macosx_11_0_arm64.whl, in the field locks):
    `torch==2.10.0+cpu` cannot install there (a real project outside the corpus: its lock has +cpu wheels for Linux
    and Windows only). A marker that keeps macOS away is silent."""
    pinned = """
        [project]
        name = "p"
        version = "0"
        requires-python = ">=3.10"
        dependencies = ["torch==2.10.0+cpu"]

        [[tool.uv.index]]
        name = "pytorch-cpu"
        url = "https://download.pytorch.org/whl/cpu"
        explicit = true

        [tool.uv.sources]
        torch = [{ index = "pytorch-cpu" }]
        """
    found = [d for d in check_project(tmp_path, pinned) if d.code == "TD319"]
    assert [(d.severity, d.message) for d in found] == [
        (Severity.WARNING, "'torch==2.10.0+cpu' pins the +cpu build on every platform, macOS included, where no index has it")]
    kept_away = pinned.replace('"torch==2.10.0+cpu"', "\"torch==2.10.0+cpu; sys_platform != 'darwin'\"")
    assert not [d for d in check_project(tmp_path, kept_away) if d.code == "TD319"]


def test_td407_an_old_lock_that_installs_three_torches_at_once(tmp_path):
    """A real lock (tests/fixtures/rules/TD407: a project outside the corpus, locked by a uv of late 2024) whose project
    edges reach torch 2.5.1, 2.5.1+cpu and 2.5.1+cu124 with no marker that chooses: the real uv 0.13's
    `uv sync --frozen --dry-run --extra cu124` lists all three to install. The model answers none of them (before:
    the first, and TD222 said `--extra cpu` installs a cu124 build); TD407 names what happens."""
    fixture = FIXTURES / "rules" / "TD407"
    found = check_project(tmp_path, fixture / "pyproject.toml", lock=fixture / "uv.lock")
    named = [d for d in found if d.code == "TD407"]
    assert [(d.severity, d.message.split(" for ")[0]) for d in named] == [
        (Severity.ERROR, "uv.lock installs torch 2.5.1, 2.5.1+cpu, 2.5.1+cu124 over each other")]
    assert not [d for d in found if d.code in ("TD222", "TD402", "TD403")]


def test_td407_silent_on_every_lock_of_the_field_corpus(tmp_path):
    """The field locks, written by current uvs with conflict markers, choose one build per install (their `uv export`
    is the oracle of tests/test_resolution_oracle.py)."""
    from field_oracle import FIELD, strip_header

    for lock in sorted(FIELD.glob("*__uv.lock")):
        name = lock.name.removesuffix("__uv.lock")
        folder = tmp_path / name
        folder.mkdir()
        (folder / "uv.lock").write_text(strip_header(lock.read_text(encoding="utf-8")), encoding="utf-8")
        found = check_project(folder, strip_header((FIELD / f"{name}__pyproject.toml").read_text(encoding="utf-8")),
                              lock=folder / "uv.lock")
        assert not [d for d in found if d.code == "TD407"], name


def test_td408_a_platform_the_lock_has_no_wheel_for_and_a_python_it_has_none_for(tmp_path):
    """A real lock (tests/fixtures/rules/TD408, a project outside the corpus): `--extra cu12` and its base torch send
    Linux aarch64 to the cu128 index, whose locked torch 2.8.0+cu128 has wheels for x86_64 and Windows only: nobody on
    aarch64 can `uv sync` (a warning). The recorded H100's project (torch==2.11.0, requires-python >=3.12) locks
    wheels up to cp314: Python 3.15 users fail, a note; every platform installs."""
    fixture = FIXTURES / "rules" / "TD408"
    found = [d for d in check_project(tmp_path, fixture / "pyproject.toml", lock=fixture / "uv.lock") if d.code == "TD408"]
    assert [(d.severity, d.message) for d in found] == [
        (Severity.WARNING, "uv.lock's torch 2.8.0+cu128 has no wheel for any Python it admits on Linux aarch64: "
                           "`uv sync` there fails")]
    healthy = FIXTURES / "projects" / "h100-pypi"
    (tmp_path / "h").mkdir()
    found = [d for d in check_project(tmp_path / "h", healthy / "pyproject.toml", lock=healthy / "uv.lock") if d.code == "TD408"]
    assert [(d.severity, d.message.split(":")[0]) for d in found] == [
        (Severity.INFO, "uv.lock's torch 2.11.0, torchvision 0.26.0, triton 3.6.0 have no wheel for Python 3.15 on every "
                        "platform")]


def test_td408_reads_wheel_tags_as_installers_do():
    from torchdoctor.checks.lock_wheels import fits
    from torchdoctor.plans import LINUX_AARCH64, LINUX_X86_64, MACOS_ARM64, WINDOWS_AMD64
    from torchdoctor.snapshot import LockedPackage

    def locked(*tags):
        return LockedPackage("torch", "1", wheel_tags=tags)

    assert fits(locked("cp39-abi3-manylinux_2_28_x86_64"), LINUX_X86_64, "3.14")  # the stable ABI runs on later Pythons
    assert not fits(locked("cp39-abi3-manylinux_2_28_x86_64"), LINUX_AARCH64, "3.14")
    assert not fits(locked("cp313-cp313t-manylinux_2_28_x86_64"), LINUX_X86_64, "3.13")  # free-threaded is another ABI
    assert fits(locked("cp312-none-macosx_11_0_arm64"), MACOS_ARM64, "3.12")  # torch's macOS wheels say none
    assert not fits(locked("cp312-none-macosx_11_0_arm64"), MACOS_ARM64, "3.13")
    assert fits(locked("py3-none-any"), WINDOWS_AMD64, "3.15")
    assert not fits(locked("cp312-cp312-musllinux_1_2_x86_64"), LINUX_X86_64, "3.12")  # musl is not glibc's
    assert fits(locked(), LINUX_X86_64, "3.12") is None  # tags not read: unknown


def test_amds_own_rocm_wheels_carry_their_commit_and_are_one_build():
    """AMD's wheels (repo.radeon.com, as a real project outside the corpus requires them by URL) tag torch
    2.8.0+rocm7.0.2.lw.git7e1f… and torchvision 0.23.0+rocm7.0.2.git824e8c87: both the rocm7.0.2 build. TD309 called
    them 'another build' (a false warning); a real mismatch (rocm6.4 beside rocm7.0.2) is still one."""
    from torchdoctor.plans import LINUX_X86_64
    from torchdoctor.resolution import build_conflict, build_of

    torch, _ = build_of("torch", "2.8.0+rocm7.0.2.lw.git7e1f4b2c", "2.8", None, LINUX_X86_64)
    vision, _ = build_of("torchvision", "0.23.0+rocm7.0.2.git824e8c87", "2.8", None, LINUX_X86_64)
    assert (torch, vision) == ("rocm7.0.2", "rocm7.0.2") and build_conflict(torch, vision) is None
    assert build_conflict("rocm6.4", vision) == "rocm6.4 beside rocm7.0.2"


def test_td408_a_python_floor_with_a_patch_admits_its_minor(tmp_path):
    """requires-python >=3.13.4 admits Python 3.13 (its later patches): a real project outside the corpus locks torch
    2.8.0 with cp313 wheels, and TD408 said 'no wheel for any Python it admits' (3.14 and 3.15 only), a false warning."""
    from torchdoctor.checks.lock_wheels import _admitted_pythons
    from torchdoctor.snapshot import ProjectInfo, PyprojectInfo

    snapshot = replace(H100, project=ProjectInfo(root=str(tmp_path), pyproject=PyprojectInfo(
        path="pyproject.toml", requires_python=">=3.13.4")))
    assert _admitted_pythons(snapshot) == ["3.13", "3.14", "3.15"]
