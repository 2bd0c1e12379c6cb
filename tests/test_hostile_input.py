"""A doctor run in an untrusted repository runs none of its code and never crashes: special files, wrong types,
planted credentials and terminal escapes, children that hang or escape, and a seeded slice of the input fuzzer
(benchmarks/input_fuzz.py runs the full budget)."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import hostile
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, SNAPSHOTS, examples, interruptible, make_venv, processes_with, run_cli, write_project
from torchdoctor.probes.project import probe_project
from torchdoctor.redact import clean
from torchdoctor.probes.uv import find_uv

MACHINE = str(SNAPSHOTS / "h100-pypi.json")
MINIMAL = '[project]\nname = "x"\nversion = "0"\ndependencies = ["torch"]\n'


def check(folder: Path, *extra: str, timeout: float = 60):
    return run_cli("check", "-v", "--project", str(folder), "--snapshot", MACHINE, "--color", "never", *extra, timeout=timeout)


# --- no project code runs ------------------------------------------------------------------------


def test_modules_in_the_project_folder_are_never_imported_by_the_probes(tmp_path, real_torch_python):
    """`json.py`, `site.py`, `sitecustomize.py` and a `torch/` in the project: the live probes (interpreter, torch,
    NVML) run torchdoctor's scripts and torch's own package, never the project's files."""
    project = write_project(tmp_path / "project", MINIMAL)
    marker = tmp_path / "ran"
    planted = f"open({str(marker)!r}, 'a').write(__name__ + '\\n')\n"
    for name in ("json.py", "site.py", "sitecustomize.py", "typing.py", "traceback.py", "warnings.py"):
        (project / name).write_text(planted, encoding="utf-8")
    (project / "torch").mkdir()
    (project / "torch" / "__init__.py").write_text(planted, encoding="utf-8")
    # The `torchdoctor` command, run inside the project as a user would (`python -m` puts the folder on sys.path
    # before any code of torchdoctor's runs; see torchdoctor/__init__.py).
    command = Path(sys.executable).parent / "torchdoctor"
    environment = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    completed = subprocess.run([str(command), "check", "--project", str(project), "--python", real_torch_python,
                                "--format", "json"], cwd=project, capture_output=True, text=True, env=environment, timeout=120)
    result = type("Result", (), {"code": completed.returncode, "stdout": completed.stdout, "stderr": completed.stderr})
    assert result.code in (0, 1), result.stderr
    assert not marker.exists(), marker.read_text()
    assert json.loads(result.stdout)["snapshot"]["torch"]["status"] == "ok"


# --- special files and hostile sizes --------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("name", ["uv.lock", "pyproject.toml", "requirements.txt", "Dockerfile"])
def test_a_fifo_in_place_of_a_project_file_is_refused_at_once(tmp_path, name):
    project = write_project(tmp_path / "project", MINIMAL) if name != "pyproject.toml" else tmp_path / "project"
    project.mkdir(exist_ok=True)
    os.mkfifo(project / name)
    started = time.monotonic()
    result = check(project, timeout=30)
    assert time.monotonic() - started < 20
    assert result.code in (0, 1) and "Traceback" not in result.stderr
    if name in ("uv.lock", "pyproject.toml"):
        assert f"{name} cannot be used: it is a FIFO, not a regular file" in result.stdout


def test_a_pyproject_linked_to_dev_zero_and_a_symlink_loop_are_refused(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").symlink_to("/dev/zero")
    (project / "uv.lock").symlink_to(project / "uv.lock")
    (project / "Dockerfile").symlink_to(project / "loop")
    (project / "loop").symlink_to(project / "Dockerfile")
    result = check(project, timeout=30)
    assert result.code in (0, 1), result.stderr
    assert "pyproject.toml cannot be used: it is a device, not a regular file" in result.stdout


def test_a_dockerfile_whose_args_double_each_other_stays_small(tmp_path):
    lines = ["FROM python:3.12", "ARG A0=xxxxxxxx"] + [f"ARG A{i + 1}=${{A{i}}}${{A{i}}}" for i in range(60)]
    project = write_project(tmp_path / "project", MINIMAL, {"Dockerfile": "\n".join(lines + ["RUN pip install torch==${A60}"])})
    started = time.monotonic()
    info = probe_project(project)
    assert time.monotonic() - started < 5
    (install,) = info.dockerfile_details[0].installs
    assert len(install.text) <= 64 * 1024 + 100


@pytest.mark.parametrize("depth", [500, 5000])
def test_toml_nested_thousands_of_levels_is_a_finding(tmp_path, depth):
    project = write_project(tmp_path / "project", MINIMAL + "deep = " + "[" * depth + "]" * depth + "\n")
    result = check(project)
    assert result.code == 1 and "Traceback" not in result.stderr
    assert "nested hundreds of levels deep" in result.stdout


# --- wrong types are findings, with a place ------------------------------------------------------


@pytest.mark.parametrize("tail,expected", [
    ("[tool.uv]\nindex = 5\n", "[tool.uv] index is an integer, where uv expects an array"),
    ('[tool.uv]\nsources = ["torch"]\n', "[tool.uv] sources is an array, where uv expects a table"),
    ('[tool.uv.sources]\ntorch = { index = "x", marker = "sys_platform ==" }\n', "marker = 'sys_platform ==' is not a valid marker"),
    ("[tool.uv]\nconflicts = 5\n", "[tool.uv] conflicts is an integer, where uv expects an array"),
    ("[tool.uv]\nindex-strategy = nan\n", "[tool.uv] index-strategy is a number, where uv expects a string"),
    ("[tool.uv]\nprerelease = 2026-12-02\n", "[tool.uv] prerelease is a date, where uv expects a string"),
])
def test_values_of_the_wrong_kind_are_findings_with_their_line(tmp_path, tail, expected):
    project = write_project(tmp_path / "project", MINIMAL + tail)
    result = check(project)
    assert result.code == 1, result.stderr
    assert "TD001" in result.stdout and expected in result.stdout


def test_an_invalid_requires_python_and_an_unknown_lock_version_are_said(tmp_path):
    project = write_project(tmp_path / "project", MINIMAL.replace('version = "0"', 'version = "0"\nrequires-python = ">=3.x"'),
                            {"uv.lock": "version = 9\nrevision = 1\n"})
    result = check(project)
    assert "requires-python = '>=3.x' is not a version range" in result.stdout
    assert "uv.lock: a format torchdoctor does not know: it says version = 9" in result.stdout


def test_a_byte_order_mark_is_accepted_by_check_and_by_fix(tmp_path):
    text = "\ufeff" + (SNAPSHOTS.parent / "fix-cases" / "TD301.toml").read_text(encoding="utf-8")
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(text, encoding="utf-8")
    assert "TD001" not in check(project).stdout
    fixed = run_cli("fix", "--all", "--yes", "--project", str(project), "--snapshot", MACHINE,
                    env={"TORCHDOCTOR_STATE_DIR": str(tmp_path / "state")})
    assert fixed.code == 0, fixed.stderr
    assert (project / "pyproject.toml").read_text(encoding="utf-8").startswith("\ufeff")


# --- credentials and terminal escapes never reach an output --------------------------------------


def test_credentials_from_every_source_are_redacted_in_every_output(tmp_path):
    secret = hostile.SECRET_MARK
    project = write_project(tmp_path / "project", MINIMAL + (
        f'\n[[tool.uv.index]]\nname = "private"\nurl = "https://user:{secret}@pypi.example.com/simple"\n'), {
        "requirements.txt": f"--index-url https://ci:p@ss{secret}@mirror.example.org/pytorch/whl/cu124\n"
                            f"--extra-index-url https://download.example.com/whl/cu128?token={secret}\ntorch\n",
        "Dockerfile": f"FROM python:3.12\nENV PIP_INDEX_URL=https://u:{secret}@pypi.example.com/simple\n"
                      f"ARG HF_TOKEN={secret}\nRUN pip install torch --extra-index-url https://x:${{HF_TOKEN}}@example.com/simple\n",
    })
    saved = tmp_path / "saved.json"
    outputs = [check(project, "--format", form, *(["--save-snapshot", str(saved)] if form == "json" else []))
               for form in ("text", "json", "markdown")]
    for result in outputs:
        assert secret not in result.stdout + result.stderr
    assert secret not in saved.read_text(encoding="utf-8")
    assert "https://***@mirror.example.org/pytorch/whl/cu124" in outputs[1].stdout


def test_terminal_escapes_from_a_project_are_printed_as_text(tmp_path):
    project = write_project(tmp_path / "project", MINIMAL + (
        '\n[[tool.uv.index]]\nname = "x\\u001b]0;owned\\u0007\\u001b[2J"\nurl = "https://download.pytorch.org/whl/cu128"\n'))
    result = check(project)
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\\x1b]0;owned\\x07\\x1b[2J" in result.stdout


def test_clean_keeps_requirements_and_redacts_credentials():
    assert clean("tiktoken==0.9") == "tiktoken==0.9"
    assert clean("alibabacloud-credentials>=1") == "alibabacloud-credentials>=1"
    assert clean("MAX_TOKENS=5 TOKENIZERS_PARALLELISM=false") == "MAX_TOKENS=5 TOKENIZERS_PARALLELISM=false"
    assert clean("https://ci:p@ss@host/simple") == "https://***@host/simple"
    assert clean("HF_TOKEN=abc https://h/x?token=abc&a=1") == "HF_TOKEN=*** https://h/x?token=***&a=1"


PIECES = ["https://", "://", "file:", "user", ":", "p@ss", "@", "host", "/", "?", "&", "#", "token=", "&token=", "?sig=", "TOKEN=",
          "HF_TOKEN", "SECRET=", "Api_Key", "PASSWD=", "CREDENTIALS=", "=", "==", " ", "ENV ", "ARG ", "export ", "-e ",
          "--build-arg ", "hf_token", "x", "ARG api_key=v", "export Secret=v", "-e passwd=v", "MY_PASSWD=v",
          "--env credential=v", "ACCESSKEY=v", "ARG private_key=v", "\x1b", "\x9b", "\u202e", "\u2028", "\n",
          "\t", "\r", "\xa0", "é"]


@settings(max_examples=examples(10))
@given(st.lists(st.sampled_from(PIECES), max_size=12).map("".join) | st.text(max_size=60))
def test_clean_skips_a_pattern_only_where_it_could_not_match(text):
    """`clean` runs each pattern only where the characters it needs are there (a lock's thousands of strings):
    what it returns is what every pattern run on every string returns."""
    from torchdoctor import redact

    expected = redact._USERINFO.sub(redact._hide_userinfo, text)
    expected = redact._QUERY_SECRET.sub(redact._hide_query_value, expected)
    expected = redact._SECRET_ASSIGNMENT.sub(redact._hide_value, expected)
    expected = redact._DECLARED_SECRET.sub(redact._hide_value, expected)
    expected = redact._CONTROLS.sub(redact._escape_control, expected)
    assert clean(text) == expected


# --- children never outlive the command ----------------------------------------------------------

ESCAPING_PYTHON = '''#!/bin/sh
# A "python" whose torch import hangs after starting a daemon that leaves the process group (setsid).
setsid sleep 300 &
exec sleep 300
'''


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_probe_that_hangs_and_escapes_its_group_is_gone_at_the_timeout(tmp_path):
    python = tmp_path / "bin" / "python"
    python.parent.mkdir()
    sleep = f"{300 + random.randrange(1000)}"  # a duration no other process here has, to find the children by
    python.write_text(ESCAPING_PYTHON.replace("300", sleep), encoding="utf-8")
    python.chmod(0o755)
    project = write_project(tmp_path / "project", MINIMAL)
    started = time.monotonic()
    result = run_cli("check", "--project", str(project), "--python", str(python), "--timeout", "3", "--fresh")
    elapsed = time.monotonic() - started
    assert result.code in (0, 1), result.stderr
    assert elapsed < 3 + 6, f"--timeout 3 took {elapsed:.1f} s"
    time.sleep(0.5)
    assert processes_with(f"sleep {sleep}") == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_stops_check_and_every_child_at_once(tmp_path):
    sleep = f"{2000 + random.randrange(1000)}"
    python = make_venv(tmp_path / "env", {"torch": f"import os, subprocess, time\nsubprocess.Popen(['sleep', '{sleep}'], start_new_session=True)\ntime.sleep({sleep})\n"})
    project = write_project(tmp_path / "project", MINIMAL)
    environment = {**os.environ, "TORCHDOCTOR_CACHE_DIR": str(tmp_path / "cache")}
    environment.pop("VIRTUAL_ENV", None)
    child = subprocess.Popen([sys.executable, "-m", "torchdoctor", "check", "--project", str(project), "--python", str(python)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment, preexec_fn=interruptible)
    deadline = time.monotonic() + 30
    while not processes_with(f"sleep {sleep}") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_with(f"sleep {sleep}"), "the fake torch import did not start"
    started = time.monotonic()
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=15)
    assert time.monotonic() - started < 5
    assert child.returncode == 130 and "torchdoctor: interrupted" in stderr and "Traceback" not in stderr
    time.sleep(0.5)
    assert processes_with(f"sleep {sleep}") == []


# --- the fuzzer's seeded slice ---------------------------------------------------------------------

SLICE = int(os.environ.get("TORCHDOCTOR_FUZZ_INPUTS", "0")) or examples(2)
"""Inputs per seeded slice: 60 in the quick profile, 600 with HYPOTHESIS_PROFILE=thorough; the full fuzzer
(benchmarks/input_fuzz.py) runs thousands."""


def test_a_seeded_slice_of_mutated_project_files_gives_no_traceback_and_no_leak(tmp_path, monkeypatch):
    import torchdoctor.probes.lock_check as lock_check

    monkeypatch.setattr(lock_check, "find_uv", lambda: None)  # uv's own parser is not what is fuzzed here
    rng = random.Random(2026_12_02)
    seeds = hostile.seeds()
    found = []
    for number in range(SLICE):
        folder = tmp_path / str(number)
        name = hostile.mutated_project(folder / "project", seeds, rng)
        counts, failure = hostile.check_outputs(folder / "project", hostile.MACHINE, folder, (rng.choice(["text", "json", "markdown"]),))
        if any(counts[k] for k in ("traceback", "memory", "secret", "escapes")):
            found.append((name, dict(counts), (failure or "")[-600:]))
    assert found == []


def test_a_seeded_slice_of_mutated_snapshots_gives_no_traceback(tmp_path):
    rng = random.Random(12)
    texts = [p.read_text(encoding="utf-8") for p in sorted(SNAPSHOTS.glob("*.json")) if "report" not in p.name]
    project = write_project(tmp_path / "project", MINIMAL)
    found = []
    for number in range(SLICE):
        snapshot = tmp_path / f"{number}.json"
        snapshot.write_text(hostile.mutated_snapshot(rng.choice(texts), rng), encoding="utf-8", errors="surrogatepass")
        counts, failure = hostile.check_outputs(project, snapshot, tmp_path, (rng.choice(["text", "json", "markdown"]),))
        if counts["traceback"] or counts["memory"]:
            found.append((failure or "")[-600:])
    assert found == []


def test_what_the_full_fuzzer_found_dates_in_lock_metadata_and_secret_named_variables(tmp_path):
    """From benchmarks/input_fuzz.py's first full run: a date in the lock's own metadata broke the JSON report; a
    snapshot handed over with a secret-named variable, and `ENV hf_token=…` in lower case, printed the secret."""
    lock = ('version = 1\nrevision = 2\nrequires-python = ">=3.10"\n\n[[package]]\nname = "x"\nversion = "0"\n'
            'source = { virtual = "." }\n\n[package.metadata]\nrequires-dist = [1979-05-27T07:32:00Z]\n')
    project = write_project(tmp_path / "project", MINIMAL, {"uv.lock": lock, "Dockerfile": f"FROM python:3.12\nENV hf_token={hostile.SECRET_MARK}\n"})
    result = check(project, "--format", "json")
    assert result.code in (0, 1) and "internal error" not in result.stderr
    json.loads(result.stdout)
    planted = json.loads((SNAPSHOTS / "h100-pypi.json").read_text(encoding="utf-8"))
    planted["system"]["environment"]["WANDB_API_KEY"] = hostile.SECRET_MARK
    snapshot = tmp_path / "planted.json"
    snapshot.write_text(json.dumps(planted), encoding="utf-8")
    for form in ("text", "markdown", "json"):
        out = run_cli("check", "-v", "--project", str(project), "--snapshot", str(snapshot), "--format", form).stdout
        assert hostile.SECRET_MARK not in out


def test_what_the_second_full_run_found_echoed_versions_and_assembled_urls(tmp_path):
    """From the second full run of benchmarks/input_fuzz.py: a snapshot's schema version holding a credential was
    echoed in the error; ARG values that assemble `user:token@` only after substitution were printed."""
    planted = json.loads((SNAPSHOTS / "h100-pypi.json").read_text(encoding="utf-8"))
    planted["schema_version"] = f"https://user:{hostile.SECRET_MARK}@pypi.example.com/simple"
    snapshot = tmp_path / "planted.json"
    snapshot.write_text(json.dumps(planted), encoding="utf-8")
    project = write_project(tmp_path / "project", MINIMAL, {"Dockerfile": (
        "FROM python:3.12\nARG HOST=https://ci:\nARG AUTH=${HOST}" + hostile.SECRET_MARK + "@pypi.example.com\n"
        "RUN pip install --extra-index-url ${AUTH}/simple torch\n")})
    refused = run_cli("check", "--project", str(project), "--snapshot", str(snapshot))
    assert refused.code == 2 and hostile.SECRET_MARK not in refused.stderr
    for form in ("text", "json", "markdown"):
        assert hostile.SECRET_MARK not in check(project, "--format", form).stdout


def test_what_the_third_full_run_found_secrets_glued_to_other_text():
    """From the third full run of benchmarks/input_fuzz.py (8 of 30,000 project files): a `TOKEN=` glued to a host
    name in a Dockerfile line, and user-info after a `://` whose scheme the mutation had mangled."""
    for damaged in ("pip install --extra-index-url https://***@exampleTOKEN=" + hostile.SECRET_MARK,
                    "]]]]://ci:p@ss" + hostile.SECRET_MARK + "@mirror.example.org/p",
                    "torch>=2.://user:" + hostile.SECRET_MARK + "@pypi.example.com/simple"):
        assert hostile.SECRET_MARK not in clean(damaged), damaged
    assert clean("tiktoken==0.9 alibabacloud-credentials>=1") == "tiktoken==0.9 alibabacloud-credentials>=1"


# --- diagnosing runs nothing of the project ----------------------------------------------------------


def planted_project(tmp_path: Path, python_version: str) -> tuple[Path, Path]:
    """The recorded H100's project (a uv.lock, so the lock's freshness is asked of uv) with two ways to run code
    planted: an executable named by `.python-version` ("relative" or "absolute"), which uv would run to learn its
    interpreter, and an in-tree build backend, which a build of the project would import. Each logs to `ran`."""
    project = tmp_path / "project"
    shutil.copytree(FIXTURES / "projects" / "h100-pypi", project)
    ran = tmp_path / "ran"
    evil = project / "evilpy"
    evil.write_text(f"#!/bin/sh\necho \"evilpy $*\" >> {ran}\nexec {sys.executable} \"$@\"\n", encoding="utf-8")
    evil.chmod(0o755)
    named = "./evilpy" if python_version == "relative" else str(evil)
    (project / ".python-version").write_text(named + "\n", encoding="utf-8")
    (project / "backend.py").write_text(f"open({str(ran)!r}, 'a').write('build backend\\n')\n", encoding="utf-8")
    with open(project / "pyproject.toml", "a", encoding="utf-8") as handle:
        handle.write('\n[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n')
    return project, ran


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a shell script stands for the planted interpreter")
@pytest.mark.parametrize("python_version", ["relative", "absolute"])
def test_diagnosing_never_runs_an_interpreter_or_backend_the_project_names(tmp_path, python_version):
    """`.python-version` naming a path made uv run it to learn the interpreter, from `check --no-machine` (the CI
    lint that probes nothing) on: uv is now handed torchdoctor's chosen interpreter. Nothing the project names runs
    while diagnosing: --no-machine, --snapshot and fix --dry-run (the app's is test_tui's)."""
    project, ran = planted_project(tmp_path, python_version)
    assert find_uv() is not None
    for arguments in (("check", "--no-machine"), ("check", "--snapshot", MACHINE),
                      ("fix", "TD316", "--dry-run", "--snapshot", MACHINE)):
        result = run_cli(*arguments, "--project", str(project), "--color", "never", "-v")
        assert result.code in (0, 1, 2), result.stderr
        assert "Traceback" not in result.stderr
        assert not ran.exists(), f"{arguments}: {ran.read_text()}"
    # The lock's freshness was still asked of uv, with torchdoctor's own interpreter.
    shown = run_cli("check", "--no-machine", "--project", str(project), "--format", "json")
    freshness = json.loads(shown.stdout)["snapshot"]["project"]["lock"]["freshness"]
    assert freshness is not None and "evilpy" not in json.dumps(freshness), freshness


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a shell script stands for the planted interpreter")
def test_a_live_check_runs_only_the_chosen_interpreter(tmp_path, real_torch_python):
    """Live, the one interpreter chosen for the probe runs (named in the report), and nothing the project names."""
    project, ran = planted_project(tmp_path, "relative")
    result = run_cli("check", "--project", str(project), "--python", real_torch_python, "--format", "json", timeout=180)
    assert result.code in (0, 1), result.stderr
    assert not ran.exists(), ran.read_text()
    snapshot = json.loads(result.stdout)["snapshot"]
    assert snapshot["interpreter"]["path"] == real_torch_python
    assert snapshot["torch"]["status"] == "ok"


def test_values_from_the_project_are_inert_in_the_markdown_report(tmp_path):
    """The Markdown report goes into PR comments and job summaries: an index named with an image, an HTML tag and a
    newline followed by a heading (issue 25, item 7) shows as text, never as an image, a tag or a heading."""
    hostile = '![t](https://example.org/t.png) <img src=x onerror=alert(1)>\\n# Heading'
    folder = write_project(tmp_path / "p", f'''
        [project]
        name = "x"
        version = "0"
        dependencies = ["torch"]

        [[tool.uv.index]]
        name = "{hostile}"
        url = "https://download.pytorch.org/whl/cu128"
        explicit = true

        [tool.uv.sources]
        torch = {{ index = "{hostile}" }}
        ''')
    result = check(folder, "--format", "markdown")
    assert result.code in (0, 1), result.stderr
    report = result.stdout.split("<details><summary>snapshot (JSON)")[0]
    assert "onerror" in report  # the value is shown...
    import re

    # ...as text: inside a code span (which Markdown shows literally, and which no backtick in the value can close)...
    outside_code = re.sub(r"(`+)(?:(?!\1).)*?\1", "", report)
    assert "<img" not in outside_code and "![t](" not in outside_code  # ...or escaped outside one
    assert not any(line.startswith("# Heading") for line in report.splitlines())


def test_twenty_thousand_unknown_settings_are_one_finding(tmp_path):
    """`[tool.torchdoctor]` with 20,000 unknown keys made one TD001 each: 20 MB of JSON (issue 25, item 6). One finding
    names the first few and counts the rest; the report stays small."""
    keys = "".join(f"k{number} = 1\n" for number in range(20_000))
    folder = write_project(tmp_path / "p", MINIMAL + "\n[tool.torchdoctor]\n" + keys)
    result = check(folder, "--format", "json")
    assert result.code == 2 and "[tool.torchdoctor] has a setting it cannot use" in result.stderr, result.stderr
    findings = [d for d in json.loads(result.stdout)["diagnoses"] if d["code"] == "TD001"]
    assert len(findings) == 1 and "k0, k1, k2, k3, k4 and 19995 more are not settings" in findings[0]["message"]
    assert len(result.stdout) < 200_000


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_named_like_a_library_never_hangs_archs(tmp_path):
    """A FIFO named `libcuda_kernels.so` in a scanned folder hung `archs` (open() waits for a writer; issue 25, item
    4): it is skipped in a folder and refused by name, at once."""
    folder = tmp_path / "libs"
    folder.mkdir()
    os.mkfifo(folder / "libcuda_kernels.so")
    scanned = run_cli("archs", str(folder), timeout=30)
    assert scanned.code == 0, scanned.stderr
    assert "no GPU code found" in scanned.stdout
    named = run_cli("archs", str(folder / "libcuda_kernels.so"), timeout=30)
    assert named.code == 2 and "not a file, a folder, or an installed package" in named.stderr, named.stderr


def test_a_wheel_member_of_zeros_costs_no_disk(tmp_path):
    """A wheel member of zeros inflates about 1000x: each such `.so` was inflated to $TMPDIR in full before a byte was
    looked at (an 18 MB wheel wrote 4 GiB; issue 25, item 4). Runs of zeros are left as holes: the file reads back the
    same and takes next to no disk; a wheel's declared sizes are held to a budget."""
    import zipfile

    from torchdoctor.probes import fatbin

    wheel = tmp_path / "bomb-1.0-py3-none-any.whl"
    content = b"\x7fELF" + b"\0" * (64 << 20) + b"tail"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb/libbomb.so", content)
    target = tmp_path / "inflated"
    with zipfile.ZipFile(wheel) as archive, archive.open("bomb/libbomb.so") as source:
        fatbin.inflate(source, target, archive.getinfo("bomb/libbomb.so").file_size)
    assert target.stat().st_size == len(content) and target.read_bytes() == content
    assert target.stat().st_blocks * 512 < 4 << 20  # a few megabytes on disk, not 64
    assert list(fatbin.wheel_gpu_code(wheel)) == []


def test_the_fix_diff_never_prints_credentials_even_in_context_lines(tmp_path):
    """`fix` printed the unified diff as is: a context line beside the change showed `https://user:secret@…` (issue 25,
    item 8). The diff is redacted like every output; the file written keeps the credentials byte for byte."""
    secret = "s3cr3t-t0ken"
    folder = write_project(tmp_path / "p", f'''
        [project]
        name = "x"
        version = "0"
        dependencies = ["torch"]

        [[tool.uv.index]]
        name = "pytorch-cu128"
        url = "https://user:{secret}@download.pytorch.org/whl/cu128"
        ''')
    shown = run_cli("fix", "--all", "--dry-run", "--project", str(folder), "--snapshot", MACHINE)
    assert shown.stdout.startswith("--- a/pyproject.toml"), shown.stderr
    assert secret not in shown.stdout + shown.stderr
    written = run_cli("fix", "--all", "--yes", "--project", str(folder), "--snapshot", MACHINE)
    assert written.code in (0, 1), written.stderr
    assert secret in (folder / "pyproject.toml").read_text(encoding="utf-8")


def test_a_fleet_results_file_cannot_amplify_or_crash_the_report(tmp_path):
    """A results file naming a million missing ranks made 388 MB of text (issue 25, item 5): the missing ranks are one
    finding and one row per run of ranks. Fields of the wrong type, integers past a float's range and nesting hundreds
    of levels deep are dropped or refused with a line, never an internal error."""
    million = {"kind": "torchdoctor-fleet", "world_size": 1_000_000, "backend": "nccl", "timeout_s": 60, "done": True,
               "ranks": {"0": {"host": "h", "device": "cuda:0", "torch": "2.11.0"}},
               "missing": {str(n): "gemm" for n in range(1, 1_000_000)}}
    path = tmp_path / "million.json"
    path.write_text(json.dumps(million), encoding="utf-8")
    text = run_cli("fleet", "--results", str(path))
    assert text.code == 1 and len(text.stdout) < 5_000, len(text.stdout)
    assert "999999 ranks did not report its GEMM test within 60 s: ranks 1-999999" in text.stdout
    assert "1-999999  ?" in text.stdout or "1-999999" in text.stdout
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps({"kind": "torchdoctor-fleet", "world_size": 2, "collectives": 5, "errors": "x",
                               "ranks": {"0": {"pid": 10**400}}, "gemm": [], "missing": []}), encoding="utf-8")
    for fmt in ("text", "json"):
        result = run_cli("fleet", "--results", str(odd), "--format", fmt)
        assert result.code in (0, 1) and "internal error" not in result.stderr, result.stderr
    deep = tmp_path / "deep.json"
    deep.write_text('{"kind": "torchdoctor-fleet", "ranks": {"0": {"environment": ' + "[" * 900 + "]" * 900 + "}}}",
                    encoding="utf-8")
    refused = run_cli("fleet", "--results", str(deep))
    assert refused.code == 2 and "nests its values hundreds of levels deep" in refused.stderr


def test_smaller_defects_of_item_8_each_get_a_line_or_are_handled(tmp_path):
    """Issue 25, item 8: `--snapshot /dev/zero` read until memory ran out; a recording with `uv.conflicts = 5` crashed
    two rules; `[tool] torchdoctor = 5` was silently ignored; a `UV_FOO_CREDS` variable was shown."""
    zero = run_cli("check", "--snapshot", "/dev/zero")
    assert zero.code == 2 and "it is a device, not a regular file" in zero.stderr
    recorded = json.loads((SNAPSHOTS / "wsl2-rtx5060ti-nightly.json").read_text(encoding="utf-8"))
    recorded["project"]["pyproject"]["uv"]["conflicts"] = 5
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps(recorded), encoding="utf-8")
    replay = run_cli("check", "--snapshot", str(odd), "-q")
    assert replay.code in (0, 1) and "crashed" not in replay.stdout, replay.stdout
    folder = write_project(tmp_path / "p", MINIMAL + "\n[tool]\ntorchdoctor = 5\n")
    result = check(folder)
    assert result.code == 2 and "[tool] torchdoctor is an integer, where torchdoctor expects a table" in " ".join(
        result.stdout.split())
    from torchdoctor.redact import REDACTED, redact_variable

    assert redact_variable("UV_INDEX_PRIVATE_CREDS", "user:pass") == REDACTED


@pytest.mark.parametrize("value", ["5", "[1, 2]", "1979-05-27", "true", '"x"', "07:32:00"])
def test_a_uv_table_of_the_wrong_kind_never_crashes_the_report_time_proof(tmp_path, value):
    """`[tool] uv = 5` (found by benchmarks/input_fuzz.py once the report proved its fixes): the proof applies a fix to
    the file, and the transform met an integer where it reads a table. No fix is offered; the report is whole."""
    folder = write_project(tmp_path / "p", MINIMAL + f"\n[tool]\nuv = {value}\n")
    result = run_cli("check", "--project", str(folder), "--snapshot", str(SNAPSHOTS / "wsl2-rtx5060ti-nightly.json"), "-q")
    assert result.code in (0, 1, 2) and "internal error" not in result.stderr, result.stderr
