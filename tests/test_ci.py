"""The CI job and the first five minutes: GitHub annotations and SARIF, `[tool.torchdoctor]` and its flags,
`--no-machine`, a CPU-only container, and the papercuts a new user meets (each with the behaviour a user sees)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import FIXTURES, SNAPSHOTS, run_cli, write_project
from torchdoctor.snapshot import Snapshot

NIGHTLY = FIXTURES / "cases" / "nightly-cu128-wsl2"
H100 = str(SNAPSHOTS / "h100-pypi.json")


def nightly_project(tmp_path: Path, settings: str = "") -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text((NIGHTLY / "pyproject.toml").read_text(encoding="utf-8") + settings, encoding="utf-8")
    return project


@pytest.fixture
def cpu_container(tmp_path) -> str:
    """The recorded H100 as a CPU-only container would see it: no NVML, no device files, torch's CPU build."""
    h100 = Snapshot.from_json(Path(H100).read_text(encoding="utf-8"))
    machine = replace(
        h100, nvml=replace(h100.nvml, status="library-not-found", gpus=(), driver_version=None, cuda_driver_version=None),
        torch=replace(h100.torch, version="2.11.0+cpu", cuda=None, devices=(), device_count=0, cuda_available=False,
                      arch_list=(), cuda_driver=None),
        system=replace(h100.system, gpu_device_nodes=(), nvidia_kernel_driver=None, environment={}, loader_cache={},
                       container="docker", container_evidence="/.dockerenv"))
    path = tmp_path / "cpu-container.json"
    path.write_text(machine.to_json(), encoding="utf-8")
    return str(path)


def test_github_format_prints_workflow_annotations_on_the_file(tmp_path):
    result = run_cli("check", "--no-machine", "--project", str(nightly_project(tmp_path)), "--format", "github")
    lines = result.stdout.splitlines()
    assert result.code == 1
    assert lines and all(line.startswith(("::error ", "::warning ", "::notice ")) for line in lines)
    td304 = next(line for line in lines if "title=TD304 malformed-index-url::" in line)
    text = (tmp_path / "project" / "pyproject.toml").read_text(encoding="utf-8").splitlines()
    line = int(td304.split("line=")[1].split(",")[0])
    assert td304.startswith("::error file=pyproject.toml,line=") and "[" in text[line - 1] and "url" in text[line - 1]
    assert all("line=" in line for line in lines if "file=" in line), lines


def test_sarif_is_a_code_scanning_document_with_a_location_per_result(tmp_path):
    result = run_cli("check", "--no-machine", "--project", str(nightly_project(tmp_path)), "--format", "sarif")
    document = json.loads(result.stdout)
    assert document["version"] == "2.1.0"
    run = document["runs"][0]
    assert run["tool"]["driver"]["name"] == "torchdoctor"
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} == {r["ruleId"] for r in run["results"]}
    assert all(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "pyproject.toml" for r in run["results"])
    assert {r["level"] for r in run["results"]} <= {"error", "warning", "note"}
    assert all(r["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1 for r in run["results"])
    assert all(len(r["partialFingerprints"]["torchdoctor/v1"]) == 32 for r in run["results"])
    # The rule's documentation travels with the results (there is no public docs site for a helpUri): what it detects,
    # why it matters, and its fix safety, as code-scanning viewers show a rule's help.
    for rule in run["tool"]["driver"]["rules"]:
        assert rule["fullDescription"]["text"] and "**What it detects.**" in rule["help"]["markdown"]
        assert "Fix safety:" in rule["help"]["text"]


def test_sarif_uris_are_relative_to_the_repository_root_found_by_walking_up(tmp_path):
    """A project in a subfolder of a repository (a `.git` above it, no git run): code scanning resolves the URI from
    the repository root, with the folder in it, percent-encoded."""
    (tmp_path / ".git").mkdir()
    project = tmp_path / "services" / "my model"
    project.mkdir(parents=True)
    (project / "pyproject.toml").write_text((NIGHTLY / "pyproject.toml").read_text(encoding="utf-8"), encoding="utf-8")
    run = json.loads(run_cli("check", "--no-machine", "--project", str(project), "--format", "sarif").stdout)["runs"][0]
    assert run["originalUriBaseIds"]["SRCROOT"]["uri"] == tmp_path.resolve().as_uri() + "/"
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]} == {
        "services/my%20model/pyproject.toml"}


def test_a_selector_that_matches_no_rule_and_an_unusable_setting_exit_2(tmp_path):
    project = nightly_project(tmp_path)
    typo = run_cli("check", "--no-machine", "--project", str(project), "--select", "TD9")
    assert typo.code == 2 and "TD9 matches no rule" in typo.stderr
    (project / "pyproject.toml").write_text((project / "pyproject.toml").read_text() + '\n[tool.torchdoctor]\nfail-on = "warnings"\n')
    setting = run_cli("check", "--no-machine", "--project", str(project), "-q")
    assert setting.code == 2 and "fail-on = 'warnings'" in setting.stdout
    assert "[tool.torchdoctor] has a setting it cannot use" in setting.stderr


def test_tool_torchdoctor_ignore_select_and_fail_on_are_honoured(tmp_path):
    ignoring = nightly_project(tmp_path, '\n[tool.torchdoctor]\nignore = ["TD304"]\n')
    result = run_cli("check", "--no-machine", "--project", str(ignoring), "-q")
    assert "TD304" not in result.stdout and "TD316" in result.stdout
    assert result.code == 0  # what is left is a warning
    (ignoring / "pyproject.toml").write_text((ignoring / "pyproject.toml").read_text() + 'fail-on = "warning"\n')
    assert run_cli("check", "--no-machine", "--project", str(ignoring), "-q").code == 1
    selected = run_cli("check", "--no-machine", "--project", str(ignoring), "-q", "--select", "TD31", "--fail-on", "error")
    assert selected.code == 0 and [line.split()[2] for line in selected.stdout.splitlines()[:-1]] == ["TD316"]


def test_a_mistaken_setting_is_said_and_never_hides_itself(tmp_path):
    project = nightly_project(tmp_path, '\n[tool.torchdoctor]\nignore = ["TD001", "E501"]\nselct = ["TD3"]\n')
    result = run_cli("check", "--no-machine", "--project", str(project), "-q")
    assert "TD001 pyproject.toml: [tool.torchdoctor] ignore: 'E501' is not a code or prefix" in result.stdout
    assert "[tool.torchdoctor] selct is not a setting torchdoctor knows" in result.stdout
    bad = run_cli("check", "--no-machine", "--project", str(project), "--select", "E501")
    assert bad.code == 2 and "E501 is not a code or prefix" in bad.stderr


def test_no_machine_reports_the_project_files_only_without_probing(tmp_path):
    project = nightly_project(tmp_path)
    (project / ".venv").mkdir()  # a broken environment would be a machine finding: never looked at
    result = run_cli("check", "--no-machine", "--project", str(project), "--format", "json")
    report = json.loads(result.stdout)
    codes = {d["code"] for d in report["diagnoses"]}
    assert codes and all(code[2] in "0345" for code in codes), codes
    assert report["snapshot"]["torch"]["status"] == "not-probed"
    assert run_cli("check", "--no-machine", "--snapshot", H100).code == 2


def test_a_cuda_project_in_a_cpu_only_container_is_healthy(tmp_path, cpu_container):
    project = tmp_path / "project"
    shutil.copytree(FIXTURES / "projects" / "h100-pypi", project)
    result = run_cli("check", "--snapshot", cpu_container, "--project", str(project))
    assert result.code == 0, result.stdout


# --- papercuts ----------------------------------------------------------------------------------------


def test_project_may_be_named_by_its_pyproject_and_a_wrong_file_is_said(tmp_path):
    project = nightly_project(tmp_path)
    assert run_cli("check", "--no-machine", "--project", str(project / "pyproject.toml"), "-q").code == 1
    (project / "notes.txt").write_text("x")
    result = run_cli("check", "--no-machine", "--project", str(project / "notes.txt"))
    assert result.code == 2 and "a file; give the folder that holds pyproject.toml" in result.stderr


def test_abbreviated_options_are_refused(tmp_path):
    result = run_cli("check", "--no-machine", "--project", str(nightly_project(tmp_path)), "--fail", "warning")
    assert result.code == 2 and "unrecognized arguments: --fail" in result.stderr


def test_undo_with_nothing_to_undo_says_so_in_plain_words(tmp_path):
    project = nightly_project(tmp_path)
    result = run_cli("undo", "--project", str(project), env={"TORCHDOCTOR_STATE_DIR": str(tmp_path / "state")})
    assert result.code == 2
    assert result.stderr.startswith("torchdoctor: nothing to undo: no fix of ") and "torchdoctor: torchdoctor" not in result.stderr


def test_outside_any_project_the_summary_says_only_the_machine_was_checked(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("check", "--snapshot", H100, "--project", str(empty))
    assert "no project here (no pyproject.toml in " in result.stdout and "only the machine was checked" in result.stdout


def test_demo_outside_a_terminal_takes_format_and_fail_on(tmp_path):
    result = run_cli("--demo", "--format", "json", "--fail-on", "warning")
    assert result.code == 1 and json.loads(result.stdout)["diagnoses"]


def test_force_color_colours_the_report_and_no_color_wins(tmp_path):
    project = nightly_project(tmp_path)
    coloured = run_cli("check", "--no-machine", "--project", str(project), env={"FORCE_COLOR": "1", "NO_COLOR": ""})
    assert "\x1b[31m" in coloured.stdout
    plain = run_cli("check", "--no-machine", "--project", str(project), env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert "\x1b[" not in plain.stdout


def test_version_says_which_python_and_where(tmp_path):
    result = run_cli("--version")
    assert result.stdout.startswith("torchdoctor 0.1.0 (Python 3.") and "torchdoctor)" in result.stdout


def test_suggested_fix_commands_name_the_project_when_run_from_elsewhere(tmp_path):
    project = nightly_project(tmp_path)
    result = run_cli("check", "--no-machine", "--project", str(project), cwd=tmp_path)
    assert f"→ torchdoctor fix TD304 --project {project}" in result.stdout
    here = run_cli("check", "--no-machine", cwd=project)
    assert "→ torchdoctor fix TD304   (preview" in here.stdout


def test_a_project_file_written_by_the_test_helper_is_checked(tmp_path):
    """write_project is how other tests build projects: a plain one is healthy without a machine."""
    project = write_project(tmp_path / "plain", '[project]\nname = "x"\nversion = "0"\ndependencies = ["requests"]\n')
    assert run_cli("check", "--no-machine", "--project", str(project)).code == 0


def test_json_commands_are_runnable_lines_and_the_rest_are_notes(tmp_path):
    """A fix to make by hand in a file torchdoctor does not write (TD308 where a build backend owns the
    dependencies) has no command a program could run: its lines are notes."""
    project = tmp_path / "project"
    shutil.copytree(FIXTURES / "cases" / "regressions" / "r4-dynamic", project)
    (project / "uv.lock").unlink(missing_ok=True)
    report = json.loads(run_cli("check", "--no-machine", "--project", str(project), "--format", "json").stdout)
    (td308,) = [d for d in report["diagnoses"] if d["code"] == "TD308"]
    assert td308["fix"]["commands"] == [] and td308["fix"]["notes"]
    assert all(not note.startswith("#") for note in td308["fix"]["notes"])


def test_the_default_report_marks_each_area_and_keeps_the_evidence_for_verbose():
    """As `flutter doctor`: a mark per area (✓, or the worst finding's icon on its line), the findings with their
    why and fix; the facts behind each finding with -v; -q and -v together are refused."""
    snapshot = str(SNAPSHOTS / "h100-no-visible-devices.json")
    default = run_cli("check", "--snapshot", snapshot, "--color", "never")
    lines = default.stdout.splitlines()
    assert next(line for line in lines if " gpu " in line).startswith("✖ gpu")
    assert next(line for line in lines if " torch " in line).startswith("✓ torch")
    assert "evidence:" not in default.stdout and "↳" not in default.stdout
    assert "why:" in default.stdout and lines[-1] == "the facts behind each finding: run it again with -v"
    verbose = run_cli("check", "-v", "--snapshot", snapshot, "--color", "never")
    assert "  evidence:" in verbose.stdout and "↳" in verbose.stdout and "run it again with -v" not in verbose.stdout
    assert verbose.code == default.code == 1
    both = run_cli("check", "-q", "-v", "--snapshot", snapshot)
    assert both.code == 2 and "not allowed with" in both.stderr


def test_an_unprobed_machine_is_one_line_and_carries_no_tick(tmp_path):
    project = write_project(tmp_path, """
        [project]
        name = "p"
        version = "0"
        requires-python = ">=3.10"
        dependencies = ["torch==2.9.0"]
        """)
    out = run_cli("check", "--no-machine", "--project", str(project), "--color", "never").stdout.splitlines()
    assert out[2] == "- machine  not probed (--no-machine): only the project files were checked"
    assert not any(line.startswith(("✓ gpu", "✓ torch", "✓ python")) for line in out)


def test_sarif_never_points_at_a_pyproject_that_does_not_exist(tmp_path):
    """A requirements-only project (issue 25, item 8): machine findings go on its requirements file, and with no file
    at all a result has no location rather than a false one."""
    (tmp_path / "req").mkdir()
    (tmp_path / "req" / "requirements.txt").write_text("torch==2.5.1\n", encoding="utf-8")
    wsl = str(SNAPSHOTS / "wsl2-rtx5060ti-nightly.json")
    results = json.loads(run_cli("check", "--project", str(tmp_path / "req"), "--snapshot", wsl, "--format", "sarif")
                         .stdout)["runs"][0]["results"]
    assert results and all(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "requirements.txt"
                           for r in results)
    (tmp_path / "empty").mkdir()
    bare = json.loads(run_cli("check", "--project", str(tmp_path / "empty"), "--snapshot", wsl, "--format", "sarif")
                      .stdout)["runs"][0]["results"]
    assert bare and all(r["locations"] == [] for r in bare)
