"""Reading project files: the real cases, real uv.lock files, and every way a file can be unusable."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from conftest import CASES, FIXTURES, write_project
from lockgen import generate_lock
from torchdoctor.probes.project import find_project_root, probe_project, read_lock

MINIMAL = """
[project]
name = "demo"
version = "0.1.0"
requires-python = ">=3.10"
dependencies = ["torch>=2.9"]
"""


def only_error(tmp_path: Path):
    info = probe_project(tmp_path)
    assert len(info.errors) == 1, info.errors
    return info.errors[0]


def test_nightly_case_is_read_as_written():
    case = CASES / "nightly-cu128-wsl2"
    info = probe_project(case)
    pyproject = info.pyproject
    assert pyproject.name == "asr-server"
    assert pyproject.requires_python == "==3.10.*"
    assert [r.requirement for r in pyproject.torch_requirements if r.name == "torch"] == [
        "torch>=2.10.0.dev0 ; sys_platform == 'linux'",
        "torch>=2.4.0 ; sys_platform != 'linux'",
    ]
    assert {r.name for r in pyproject.torch_requirements} == {"torch", "torchvision", "torchaudio", "pytorch-triton"}
    # The Markdown-wrapped URL is kept exactly as written: a later check must see the brackets.
    assert pyproject.indexes[0].url == "[https://download.pytorch.org/whl/nightly/cu128](https://download.pytorch.org/whl/nightly/cu128)"
    assert pyproject.indexes[0].explicit is True
    triton = [s for s in pyproject.sources if s.package == "pytorch-triton"]
    assert triton[0].target == "pytorch-nightly-cu128" and triton[0].marker == "sys_platform == 'linux'"


def test_extras_case_records_conflicts_and_extra_sources():
    info = probe_project(CASES / "uv-guide-extras")
    pyproject = info.pyproject
    assert pyproject.extras == ("cpu", "cu124")
    assert {r.group for r in pyproject.torch_requirements} == {"optional:cpu", "optional:cu124"}
    assert pyproject.uv.conflicts == [[{"extra": "cpu"}, {"extra": "cu124"}]]
    cpu_torch = [s for s in pyproject.sources if s.package == "torch" and s.extra == "cpu"][0]
    assert cpu_torch.marker == "platform_system != 'Darwin'"


def test_find_links_case_keeps_legacy_settings():
    info = probe_project(CASES / "findlinks-cu118")
    assert info.pyproject.uv.find_links == (
        "https://download.pytorch.org/whl/cu118/torch",
        "https://download.pytorch.org/whl/cu118/torchvision",
    )
    assert info.pyproject.sources == ()


def test_real_uv_lock_lists_torch_family_with_wheel_platforms():
    lock = read_lock(FIXTURES / "projects" / "h100-pypi" / "uv.lock")
    torch = [p for p in lock.packages if p.name == "torch"][0]
    assert torch.version == "2.11.0"
    assert torch.source_kind == "registry" and torch.source == "https://pypi.org/simple"
    assert "manylinux_2_28_x86_64" in torch.wheel_platforms
    assert "win_amd64" in torch.wheel_platforms
    assert "macosx_14_0_arm64" in torch.wheel_platforms or "macosx_11_0_arm64" in torch.wheel_platforms
    assert {p.name for p in lock.packages} >= {"torch", "torchvision", "triton", "cuda-toolkit"}
    assert lock.root_requires_dist["requires-dist"][0]["name"] == "torch"
    assert lock.package_count == 33


def test_generated_large_lock_reads_every_family_entry(tmp_path):
    path = tmp_path / "uv.lock"
    path.write_text(generate_lock(2000), encoding="utf-8")
    lock = read_lock(path)
    assert lock.package_count == 2000
    assert [(p.name, p.version) for p in lock.packages] == [
        ("nvidia-cublas-cu12", "12.8.4.1"), ("nvidia-cudnn-cu12", "9.10.2.21"),
        ("torch", "2.9.1"), ("torch", "2.9.1+cu128"), ("torchvision", "0.24.1+cu128"), ("triton", "3.5.1"),
    ]
    cu128 = [p for p in lock.packages if p.version == "2.9.1+cu128"][0]
    assert cu128.wheel_platforms == ("manylinux_2_28_x86_64", "win_amd64")
    assert cu128.source == "https://download.pytorch.org/whl/cu128"


def test_malformed_pyproject_names_line_and_column(tmp_path):
    write_project(tmp_path, '[project]\nname = "demo"\ndependencies = ["torch",\n  version = 1\n')
    error = only_error(tmp_path)
    assert error.path.endswith("pyproject.toml")
    assert error.problem == "malformed"
    assert (error.line, error.column) == (4, 3)


def test_binary_pyproject_names_the_nul_byte(tmp_path):
    (tmp_path / "pyproject.toml").write_bytes(b'[project]\nname = "x"\n\x00\x01\x02')
    error = only_error(tmp_path)
    assert error.problem == "binary"
    assert (error.line, error.column) == (3, 1)


def test_invalid_utf8_is_reported_where_it_is(tmp_path):
    (tmp_path / "pyproject.toml").write_bytes(b'[project]\nname = "d\xe9mo"\n')
    error = only_error(tmp_path)
    assert error.problem == "binary"
    assert (error.line, error.column) == (2, 10)
    assert "0xe9" in error.message


def test_empty_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text("\n  \n", encoding="utf-8")
    error = only_error(tmp_path)
    assert error.problem == "empty"


def test_huge_pyproject_is_not_read(tmp_path):
    (tmp_path / "pyproject.toml").write_text("# padding\n" * 500_000, encoding="utf-8")
    error = only_error(tmp_path)
    assert error.problem == "too-large"
    assert "MiB" in error.message


def test_a_pyproject_that_is_a_folder_is_not_read(tmp_path):
    (tmp_path / "pyproject.toml").mkdir()
    error = only_error(tmp_path)
    assert error.problem == "not-a-file"
    assert error.message == "it is a folder, not a regular file: torchdoctor does not read it"


def test_invalid_requirement_string_is_located(tmp_path):
    write_project(tmp_path, '[project]\nname = "demo"\ndependencies = [\n  "torch >= = 2",\n]\n')
    error = only_error(tmp_path)
    assert error.problem == "invalid-value"
    assert (error.line, error.column) == (4, 4)


def test_malformed_lock_header_and_entry_give_real_line_numbers(tmp_path):
    write_project(tmp_path, MINIMAL)
    text = generate_lock(50)
    lines = text.splitlines()
    torch_line = lines.index('name = "torch"')
    lines[torch_line + 1] = 'version = "2.9.1+cu128'  # unterminated string in the torch entry
    (tmp_path / "uv.lock").write_text("\n".join(lines) + "\n", encoding="utf-8")
    error = only_error(tmp_path)
    assert error.path.endswith("uv.lock")
    assert error.problem == "malformed"
    assert error.line == torch_line + 2


def test_truncated_lock_is_noticed(tmp_path):
    write_project(tmp_path, MINIMAL)
    text = generate_lock(50)
    (tmp_path / "uv.lock").write_text(text[: len(text) - 40], encoding="utf-8")
    error = only_error(tmp_path)
    assert error.problem == "malformed"
    assert error.line == len(text[: len(text) - 40].splitlines())


def test_credentials_in_index_urls_are_redacted(tmp_path):
    write_project(tmp_path, MINIMAL + textwrap.dedent("""
        [[tool.uv.index]]
        name = "private"
        url = "https://ci-user:s3cr3t-token@pypi.example.com/simple"

        [tool.uv]
        extra-index-url = ["https://__token__:abc@mirror.example.com/whl/cu128"]
        """))
    text = probe_project(tmp_path).pyproject
    assert text.indexes[0].url == "https://***@pypi.example.com/simple"
    assert text.uv.extra_index_url == ("https://***@mirror.example.com/whl/cu128",)


def test_requirements_and_dockerfiles_of_the_docker_case(tmp_path):
    shutil.copytree(CASES / "docker-nightly-cache", tmp_path / "case")
    (tmp_path / "case" / "requirements.txt").write_text(
        "--extra-index-url https://token:x@download.pytorch.org/whl/cu128\n"
        "-f https://example.com/links \\\n  --pre\ntorch==2.9.1\n--index-url=https://pypi.org/simple  # default\n",
        encoding="utf-8",
    )
    info = probe_project(tmp_path / "case")
    assert info.dockerfiles == ("Dockerfile.prod",)
    assert info.requirements_files == ("requirements.prod.txt", "requirements.txt")
    assert [(o.path, o.line, o.option, o.value) for o in info.requirements_options] == [
        ("requirements.txt", 1, "--extra-index-url", "https://***@download.pytorch.org/whl/cu128"),
        ("requirements.txt", 2, "--find-links", "https://example.com/links"),
        ("requirements.txt", 2, "--pre", None),
        ("requirements.txt", 5, "--index-url", "https://pypi.org/simple"),
    ]


def test_project_root_is_found_above_the_working_directory(tmp_path):
    write_project(tmp_path, MINIMAL)
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    root, found_by = find_project_root(tmp_path / "src" / "pkg")
    assert root == tmp_path.resolve()
    assert "above" in found_by


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_every_case_reads_without_errors(case):
    info = probe_project(CASES / case)
    assert info.errors == ()


def test_cases_match_shared():
    from conftest import SHARED_CASES

    if not SHARED_CASES.is_dir():
        pytest.skip("the shared folder is not beside this checkout")
    shared = {p.relative_to(SHARED_CASES): p.read_bytes() for p in SHARED_CASES.rglob("*") if p.is_file()}
    copied = {p.relative_to(CASES): p.read_bytes() for p in CASES.rglob("*") if p.is_file()}
    assert copied == shared


@pytest.mark.parametrize(
    ("content", "problem", "place"),
    [
        (b"version = 1\n\x00\x00PK\x03\x04", "binary", (2, 1)),
        (b"version = 1\nrequires-python = \"\xff\xfe\"\n", "binary", (2, 20)),
        (b"", "empty", (1, 1)),
        (b"version = 1\n[[package]\nname = \"torch\"\n", "malformed", (2, 10)),
    ],
)
def test_unusable_lock_files_name_the_place(tmp_path, content, problem, place):
    write_project(tmp_path, MINIMAL)
    (tmp_path / "uv.lock").write_bytes(content)
    error = only_error(tmp_path)
    assert error.path.endswith("uv.lock")
    assert error.problem == problem
    assert (error.line, error.column) == place


def test_unreadable_and_huge_lock_files(tmp_path, monkeypatch):
    from torchdoctor.probes import lock_file

    write_project(tmp_path, MINIMAL)
    (tmp_path / "uv.lock").mkdir()
    assert only_error(tmp_path).problem == "not-a-file"
    (tmp_path / "uv.lock").rmdir()
    (tmp_path / "uv.lock").write_text(generate_lock(20), encoding="utf-8")
    monkeypatch.setattr(lock_file, "MAX_LOCK_BYTES", 1024)  # a real 256 MiB file would only slow the suite
    error = only_error(tmp_path)
    assert error.problem == "too-large"
    assert probe_project(tmp_path).pyproject.name == "demo"  # the rest is still read


def test_the_selections_a_project_documents_are_read_from_its_readme_makefile_dockerfile_and_ci(tmp_path):
    """The `uv sync` commands a project tells its users, its image and its CI to run (issue 28): each with the file
    and line, and the selections it installs; a command that names none (plain `uv sync`), a shell variable or a
    placeholder gives none. Files are read, never run; only the project's own top level and its workflows."""
    from torchdoctor.probes.documented import read_documented_syncs

    (tmp_path / "README.md").write_text("# app\n\n```bash\nuv sync --extra gpu --group dev\nuv sync\n"
                                        "uv sync --extra $BACKEND\nuv sync --extra <name>\n```\n", encoding="utf-8")
    (tmp_path / "Makefile").write_text("sync-training:\n\tuv sync --group=training && uv run train\n", encoding="utf-8")
    (tmp_path / "Dockerfile").write_text("FROM python:3.12\nRUN uv sync --frozen --all-extras --no-dev\n", encoding="utf-8")
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").write_text("jobs:\n  test:\n    steps:\n      - run: uv sync --only-group test\n",
                                      encoding="utf-8")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "README.md").write_text("uv sync --extra elsewhere\n", encoding="utf-8")  # not the top level
    found = {(s.file, s.line): s.options for s in read_documented_syncs(tmp_path)}
    assert found == {("README.md", 4): ("--extra gpu", "--group dev"), ("Makefile", 2): ("--group training",),
                     ("Dockerfile", 2): ("*extra",), (".github/workflows/ci.yml", 4): ("--group test",)}


def test_a_lone_cr_in_requirements_ends_a_requirement_but_not_a_line_an_editor_counts(tmp_path):
    """Issue 25 item 8: a lone CR (an old Mac line end, a paste) was counted as a line, so every annotation after it
    (GitHub's, the report's `file:line`) pointed one line too low. Lines are numbered by \\n, as editors and GitHub
    number them; the CR still separates the two requirements, as pip reads them."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "a"\nversion = "0"\n', encoding="utf-8")
    (tmp_path / "requirements.txt").write_bytes(b"numpy\rtorch==2.5.1\n--extra-index-url https://download.pytorch.org/whl/cu121\n"
                                                b"torchvision\n")
    lines = {line.requirement: line.line for line in probe_project(tmp_path).requirement_lines}
    assert lines.get("torch==2.5.1") == 1 and lines.get("numpy") == 1 and lines.get("torchvision") == 3, lines


def test_offline_is_an_option_carried_from_the_face_to_the_probe_and_kept_by_a_re_read(tmp_path, monkeypatch):
    """--offline (or TORCHDOCTOR_OFFLINE) is read by the face and passed down: the nightly index's page is not read,
    the project says it was read offline, and a re-read after a fix (and a fix's proof) reads it the same way. A
    library caller that says nothing asks no index."""
    import argparse

    from torchdoctor import workflow
    from torchdoctor.cli.common import offline_requested

    write_project(tmp_path, MINIMAL + (
        '\n[tool.uv.sources]\ntorch = { index = "nightly" }\n\n'
        '[[tool.uv.index]]\nname = "nightly"\nurl = "https://download.pytorch.org/whl/nightly/cu128"\nexplicit = true\n'))
    snapshot = workflow.project_only(tmp_path, offline=True)
    assert snapshot.project.offline
    assert [p.error for p in snapshot.project.index_pythons] == ["offline: not read (--offline)"]
    assert workflow.reread_project(snapshot).project.offline
    assert probe_project(tmp_path).offline  # said nothing: asked nothing
    monkeypatch.delenv("TORCHDOCTOR_OFFLINE", raising=False)
    assert offline_requested(argparse.Namespace(offline=True)) and not offline_requested(argparse.Namespace(offline=False))
    monkeypatch.setenv("TORCHDOCTOR_OFFLINE", "1")
    assert offline_requested(argparse.Namespace(offline=False)) and offline_requested()
