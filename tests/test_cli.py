"""The real CLI in a subprocess: exit codes, output formats, and clear one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CASES, HANGING_TORCH, SNAPSHOTS, interruptible, make_venv, processes_with, run_cli, write_project

NO_TORCH_PROJECT = """
[project]
name = "tool"
version = "0.1.0"
dependencies = ["requests"]
"""


@pytest.fixture
def project_without_torch(tmp_path):
    folder = write_project(tmp_path / "proj", NO_TORCH_PROJECT)
    make_venv(folder / ".venv")
    return folder


def test_project_without_torch_says_so_and_exits_cleanly(project_without_torch):
    result = run_cli("check", cwd=project_without_torch)
    assert result.code == 0, result.stderr
    assert "torch    not installed" in result.stdout
    assert "TD102 torch-not-installed" in result.stdout
    assert "the project does not ask for it" in result.stdout
    assert result.stderr == ""


def test_json_report_is_a_versioned_envelope(project_without_torch):
    result = run_cli("check", "--format", "json", "--project", str(project_without_torch))
    report = json.loads(result.stdout)
    assert set(report) == {"schema_version", "torchdoctor_version", "summary", "diagnoses", "resolutions", "snapshot"}
    assert report["schema_version"] == 1
    (diagnosis,) = [d for d in report["diagnoses"] if d["code"] == "TD102"]
    assert set(diagnosis) == {"code", "slug", "severity", "message", "explanation", "evidence", "fix", "alternatives", "no_fix"}
    assert (diagnosis["code"], diagnosis["severity"], diagnosis["fix"]) == ("TD102", "info", None)
    assert report["snapshot"]["interpreter"]["source"] == ".venv"


def test_fail_on_info_turns_notes_into_a_failing_exit(project_without_torch):
    assert run_cli("check", "--fail-on", "info", cwd=project_without_torch).code == 1


def test_torch_declared_but_missing_is_an_error(tmp_path):
    folder = write_project(tmp_path / "proj", NO_TORCH_PROJECT.replace('"requests"', '"torch>=2.9"'))
    make_venv(folder / ".venv")
    result = run_cli("check", cwd=folder)
    assert result.code == 1
    assert "the project depends on torch, but torch is not installed in its environment" in result.stdout


def test_hanging_torch_import_still_gives_the_whole_report(tmp_path):
    folder = write_project(tmp_path / "proj", NO_TORCH_PROJECT)
    make_venv(folder / ".venv", {"torch": HANGING_TORCH})
    result = run_cli("check", "--timeout", "3", cwd=folder, timeout=60)
    assert result.code == 1
    assert "TD103 torch-import-fails" in result.stdout
    assert "did not finish within 3 s" in result.stdout
    assert "project  tool: no torch requirement" in result.stdout  # the rest of the report is there


def test_aborting_torch_import_is_reported(tmp_path):
    folder = write_project(tmp_path / "proj", NO_TORCH_PROJECT)
    make_venv(folder / ".venv", {"torch": "import os\nos.abort()\n"})
    result = run_cli("check", cwd=folder)
    assert result.code == 1
    assert "`import torch` crashes the interpreter: `import torch` was killed by SIGABRT" in result.stdout


def test_malformed_pyproject_is_a_diagnosis_and_the_machine_part_remains(tmp_path):
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = [\n', encoding="utf-8")
    make_venv(folder / ".venv")
    result = run_cli("check", cwd=folder)
    assert result.code == 1
    assert "TD001 project-file-unusable" in result.stdout
    assert "invalid TOML: Invalid value (line 4, column 1)" in result.stdout
    assert "machine  " in result.stdout and "python   " in result.stdout
    assert "no project here" not in result.stdout  # there is one: it cannot be read
    assert "Traceback" not in result.stdout + result.stderr


def test_saved_snapshot_replays_to_the_same_report(project_without_torch, tmp_path):
    saved = tmp_path / "machine.json"
    live = run_cli("check", "--format", "json", "--save-snapshot", str(saved), cwd=project_without_torch)
    replay = run_cli("check", "--format", "json", "--snapshot", str(saved))
    assert json.loads(replay.stdout) == json.loads(live.stdout)
    assert oct(saved.stat().st_mode & 0o777) != oct(0o600)  # a saved file gets normal permissions


def test_recorded_machine_with_another_project(tmp_path):
    folder = write_project(tmp_path / "proj", NO_TORCH_PROJECT)
    result = run_cli("check", "--format", "json", "--snapshot", str(SNAPSHOTS / "h100-pypi.json"), "--project", str(folder))
    report = json.loads(result.stdout)
    assert report["snapshot"]["nvml"]["gpus"][0]["name"] == "NVIDIA H100 80GB HBM3"
    assert report["snapshot"]["project"]["pyproject"]["name"] == "tool"


def test_markdown_report_has_facts_table_and_snapshot():
    result = run_cli("check", "--format", "markdown", "--snapshot", str(SNAPSHOTS / "h100-pypi.json"))
    assert result.code == 0
    assert "| gpu | 0: NVIDIA H100 80GB HBM3 · sm_90 · 80 GiB · driver 580.159.04 (supports CUDA ≤ 13.0) |" in result.stdout
    assert "```json" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "--project", "/no/such/dir"], "torchdoctor: --project /no/such/dir: no such folder"),
        (["check", "--snapshot", "/no/such/file.json"], "torchdoctor: cannot read snapshot /no/such/file.json: No such file or directory"),
        (["check", "--python", "/no/such/python"], "torchdoctor: --python /no/such/python: no such file or folder"),
        (["check", "--timeout", "0"], "torchdoctor: --timeout must be a positive number of seconds"),
    ],
)
def test_unusable_inputs_exit_2_with_one_line(args, message, tmp_path):
    result = run_cli(*args, cwd=tmp_path)
    assert result.code == 2
    assert result.stderr.strip() == message
    assert result.stdout == ""


def test_bad_snapshot_file_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    result = run_cli("check", "--snapshot", str(bad))
    assert result.code == 2
    assert result.stderr.startswith(f"torchdoctor: cannot read snapshot {bad}:")
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_option_is_a_usage_error(tmp_path):
    result = run_cli("check", "--frobnicate", cwd=tmp_path)
    assert result.code == 2
    assert "unrecognized arguments: --frobnicate" in result.stderr


def test_bare_command_runs_check(project_without_torch):
    result = run_cli("--format", "json", cwd=project_without_torch)
    assert "TD102" in [d["code"] for d in json.loads(result.stdout)["diagnoses"]]


def test_rules_lists_every_code():
    result = run_cli("rules")
    assert result.code == 0
    assert "TD201  cpu-build-on-nvidia-machine" in result.stdout


def test_ctrl_c_during_a_hanging_import_stops_at_once_and_leaves_no_child(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    folder = write_project(tmp_path / "proj", NO_TORCH_PROJECT)
    make_venv(folder / ".venv", {"torch": HANGING_TORCH})
    process = subprocess.Popen([sys.executable, "-m", "torchdoctor", "check"], cwd=folder,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not processes_with(str(folder / ".venv")):
        time.sleep(0.1)  # until the torch probe's child runs: a loaded machine takes a while to get there
    time.sleep(0.3)
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=20)
    assert time.monotonic() - started < 5
    assert process.returncode == 130
    assert stderr.strip() == "torchdoctor: interrupted"
    time.sleep(0.2)
    assert processes_with(str(folder)) == []


def test_reports_say_what_each_platform_gets():
    """The resolution model in the JSON report (`resolutions`) and as a table in the text report."""
    project = CASES / "regressions" / "r7-windows-cpu"
    snapshot = str(SNAPSHOTS / "h100-pypi.json")
    result = run_cli("check", "--format", "json", "--snapshot", snapshot, "--project", str(project))
    resolutions = json.loads(result.stdout)["resolutions"]
    assert resolutions["basis"] == "pyproject.toml"
    builds = {r["platform"]: r["packages"][0]["build"] for r in resolutions["platforms"] if r["option"] is None}
    assert builds == {"linux-x86_64": "cu128", "linux-aarch64": "cu128", "windows-amd64": "cpu", "macos-arm64": "cpu"}
    assert [r["platform"] for r in resolutions["this_machine"]] == ["this-machine"]
    text = run_cli("check", "--snapshot", snapshot, "--project", str(project), "--color", "never").stdout
    assert "builds   from pyproject.toml (predicted)  Linux x86_64" in text
    assert "uv sync                          2.11 (cu128)    2.11 (cu128)    ≥2.15 (cpu)     ≥2.15 (cpu)" in text


def test_ctrl_c_before_a_command_starts_is_the_same_line_and_130(monkeypatch, capsys):
    """Ctrl-C while the command line is read or what a command needs is imported (a loaded machine stretches
    that moment): the same one line as later, never a traceback."""
    from torchdoctor import cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["check"]) == 130
    assert capsys.readouterr().err == "torchdoctor: interrupted\n"


def test_rules_explains_the_ones_named_and_lists_them_as_json():
    """As `ruff rule F401`: `rules TD523` shows one rule in full; a prefix shows its area; JSON lists them all."""
    one = run_cli("rules", "td523")
    assert one.code == 0 and one.stdout.startswith("TD523 shared-memory-too-small") and "What it detects:" in one.stdout
    area = run_cli("rules", "TD52", "--format", "markdown")
    assert "### TD523 `shared-memory-too-small`" in area.stdout and "### TD301" not in area.stdout
    listed = json.loads(run_cli("rules", "--format", "json").stdout)
    assert {"code", "slug", "summary", "what_it_detects", "why_it_matters", "fix_safety", "fixes"} <= set(listed[0])
    assert [r["code"] for r in listed] == sorted(r["code"] for r in listed)
    unknown = run_cli("rules", "TD99")
    assert unknown.code == 2 and "TD99 matches no rule" in unknown.stderr


def test_at_80_columns_the_report_fits_and_the_builds_table_keeps_every_variant(tmp_path, monkeypatch):
    """COLUMNS=80 (issue 31, item 2): the text wraps to the terminal and the builds table, too wide for it, becomes one
    line per platform with each cell whole: the CUDA variant it exists to show is never cut."""
    project = write_project(tmp_path / "p", (CASES / "nightly-cu128-wsl2" / "pyproject.toml").read_text(encoding="utf-8"))
    result = run_cli("check", "--no-machine", "--project", str(project), env={"COLUMNS": "80"})
    paths = ("torchdoctor 0.1.0 — ", "✖ project", "      → torchdoctor fix", "problems found")  # lines that hold a path
    wrapped = [line for line in result.stdout.splitlines() if not line.startswith(paths)]
    assert all(len(line) <= 80 for line in wrapped), [line for line in wrapped if len(line) > 80]
    assert "Linux x86_64    >=2.10.0.dev0 (cu128)" in result.stdout and "(cu…" not in result.stdout
    from torchdoctor.cli.common import fit

    monkeypatch.setenv("COLUMNS", "40")  # the spinner's line: wider than the terminal, it would leave a line per tick
    assert len(fit("⠋ torchdoctor: waiting for torch, NVML in /a/very/long/path/to/python3 (3.7 s)")) == 39


def test_a_dependency_missing_from_torchdoctors_environment_is_one_line(tmp_path):
    """Seen on the lent GPU machine (PYTHONPATH=src without tomlkit): two tracebacks, the guard's own import failing
    too. One line now, exit 2."""
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "tomlkit.py").write_text("raise ModuleNotFoundError(\"No module named 'tomlkit'\", name='tomlkit')\n")
    project = write_project(tmp_path / "p", '[project]\nname = "x"\nversion = "0"\n')
    result = run_cli("check", "--no-machine", "--project", str(project), env={"PYTHONPATH": str(fake)})
    assert result.code == 2 and "Traceback" not in result.stderr
    assert "its dependency tomlkit is not installed" in result.stderr


def test_a_workspace_root_reports_its_members_and_the_command_it_prints_fixes_the_member(tmp_path):
    """Issue 31 item 4: a uv workspace whose root declares no torch looked healthy ("no torch requirement") while its
    member maps torch to the cu132 index on every platform, macOS included. The root now reports the member's finding,
    named by the member, with the command that fixes it there; that command, run as printed from the same folder,
    writes the member's fix."""
    import shlex

    root = write_project(tmp_path / "ws", """
        [project]
        name = "ws"
        version = "0.1"
        requires-python = ">=3.11"
        dependencies = ["core"]

        [tool.uv.workspace]
        members = ["packages/*"]

        [tool.uv.sources]
        core = { workspace = true }
        """)
    member = write_project(root / "packages" / "core", """
        [project]
        name = "core"
        version = "0.1"
        requires-python = ">=3.11"
        dependencies = ["torch>=2.13", "torchvision"]

        [[tool.uv.index]]
        name = "pytorch-cu132"
        url = "https://download.pytorch.org/whl/cu132"
        explicit = true

        [tool.uv.sources]
        torch = [{ index = "pytorch-cu132" }]
        torchvision = [{ index = "pytorch-cu132" }]
        """)
    recorded = str(SNAPSHOTS / "h100-pypi.json")
    report = run_cli("check", "--snapshot", recorded, "--project", ".", "--format", "json", cwd=root)
    found = [d for d in json.loads(report.stdout)["diagnoses"] if d["code"] == "TD307"]
    assert len(found) == 1 and found[0]["message"].startswith("workspace member core (packages/core): torch"), found
    (command,) = found[0]["fix"]["commands"]
    assert command == "torchdoctor fix TD307 --project packages/core"
    before = (member / "pyproject.toml").read_text(encoding="utf-8")
    done = run_cli(*shlex.split(command)[1:], "--snapshot", recorded, "--yes", "--no-lock", cwd=root)
    assert done.code == 0, done.stderr
    after = (member / "pyproject.toml").read_text(encoding="utf-8")
    assert after != before and "marker = \"sys_platform == 'linux' or sys_platform == 'win32'\"" in after


def complete(script: str, *words: str) -> list[str]:
    """What bash offers after `words` (the last one being typed), with the script `torchdoctor completion bash` printed."""
    import shlex
    import subprocess

    line = " ".join(shlex.quote(w) for w in ("torchdoctor", *words))
    program = (f"{script}\nCOMP_WORDS=({line}); COMP_CWORD={len(words)}; _torchdoctor; "
               'printf "%s\\n" "${COMPREPLY[@]}"')
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", program], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return [w for w in done.stdout.split("\n") if w]


def test_shell_completion_offers_the_commands_options_choices_and_rule_codes_the_parser_knows():
    """`torchdoctor completion bash`, sourced by a real bash: commands, a command's options, an option's choices, and
    rule codes for `rules`, `fix` and --select (after the codes already typed, comma-separated). zsh runs the same
    function through bashcompinit; fish gets its own lines, made from the same grammar."""
    import shutil

    if shutil.which("bash") is None:
        pytest.skip("no bash here")
    result = run_cli("completion", "bash")
    assert result.code == 0 and "complete -o default -F _torchdoctor torchdoctor" in result.stdout
    script = result.stdout
    assert complete(script, "ch") == ["check"]
    assert complete(script, "check", "--format", "") == ["text", "json", "markdown", "github", "sarif"]
    assert complete(script, "fix", "--un") == ["--unsafe"]
    assert complete(script, "rules", "TD40") == ["TD401", "TD402", "TD403", "TD404", "TD405", "TD406", "TD407", "TD408"]
    assert complete(script, "check", "--select", "TD3,TD40")[:2] == ["TD3,TD401", "TD3,TD402"]
    zsh = run_cli("completion", "zsh").stdout
    assert zsh.startswith("#compdef torchdoctor") and "bashcompinit" in zsh and "_torchdoctor()" in zsh
    fish = run_cli("completion", "fish").stdout
    assert "complete -c torchdoctor -n '__fish_seen_subcommand_from check' -l format -x -a 'text json markdown github sarif'" in fish
    assert run_cli("completion", "tcsh").code == 2


def test_the_top_level_help_says_how_to_open_the_app_and_the_demo():
    result = run_cli("--help")
    assert result.code == 0
    assert "opens the app" in result.stdout and "--demo" in result.stdout and "completion" in result.stdout


def test_every_option_of_every_command_says_what_it_does():
    """`--help` of each command explains each option (issue 31: some had no help text)."""
    import argparse

    from torchdoctor.cli.parser import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    silent = [(name, action.option_strings or action.dest) for name, command in commands.choices.items()
              for action in command._actions if action.help is None and not isinstance(action, argparse._HelpAction)]
    assert silent == []


def test_ctrl_c_while_python_imports_the_cli_is_one_line_not_a_traceback(monkeypatch, capsys):
    """The `torchdoctor` command's entry point imports the CLI under a guard: Ctrl-C in that first tenth of a second
    (2 of 100 hostile runs printed a traceback) ends as every later Ctrl-C does. The command is built to it."""
    import builtins
    import sys

    import tomli

    from torchdoctor import console

    scripts = tomli.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text(encoding="utf-8"))
    assert scripts["project"]["scripts"]["torchdoctor"] == "torchdoctor.console:main"
    real_import = builtins.__import__

    def interrupted(name, *args, **kwargs):
        if name == "torchdoctor.cli":
            raise KeyboardInterrupt
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "torchdoctor.cli", raising=False)
    monkeypatch.setattr(builtins, "__import__", interrupted)
    assert console.main() == 130
    assert capsys.readouterr().err == "torchdoctor: interrupted\n"


def test_the_bug_reports_environment_carries_what_collect_env_prints(tmp_path):
    """Issue 31 item 7: compilers, CMake, the Python build, XPU/XNNPACK, the debug build, side by side with the real
    `python -m torch.utils.collect_env` of the same interpreter (the CPU torch of the test environment)."""
    import re as regex

    project = write_project(tmp_path / "p", '[project]\nname = "p"\nversion = "0"\ndependencies = ["torch"]\n')
    report = run_cli("check", "--format", "markdown", "--python", sys.executable, "--project", str(project))
    collected = subprocess.run([sys.executable, "-m", "torch.utils.collect_env"], capture_output=True, text=True,
                               timeout=120).stdout
    environment = report.stdout.split("environment (what collect_env reports)", 1)[1].split("</details>", 1)[0]
    environment = environment.replace("\\[", "[").replace("\\]", "]")  # the Markdown's escapes

    def said(label: str) -> str | None:
        match = regex.search(rf"^{label}: (.+)$", collected, regex.MULTILINE)
        return match.group(1).strip() if match and "Could not collect" not in match.group(1) else None

    for label in ("GCC version", "CMake version", "Clang version"):
        if said(label):
            assert said(label).split()[-1] in environment, label  # the version itself, e.g. 12.2.0 or 3.25.1
    python_build = said("Python version")
    assert python_build and python_build.removesuffix(" (64-bit runtime)").replace("  ", " ") in environment.replace("  ", " ")
    for label, ours in (("Is XNNPACK available", "XNNPACK"), ("Is XPU available", "XPU available"), ("Is debug build", "debug build")):
        if said(label) in ("True", "False"):
            assert f"{ours}: {'yes' if said(label) == 'True' else 'no'}" in environment, label
