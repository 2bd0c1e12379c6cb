"""A fix is proven before it is written: real project files, the real CLI, and the causes seen in the field."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from conftest import CASES, FIXTURES, SNAPSHOTS, run_cli
from torchdoctor.checks import run_checks
from torchdoctor.fixes import apply_fixes, fixable
from torchdoctor.workflow.planning import plan_fixes
from torchdoctor.workflow.proof import prove
from torchdoctor.probes.project import probe_project
from torchdoctor.snapshot import Snapshot

H100 = Snapshot.from_json((SNAPSHOTS / "h100-pypi.json").read_text(encoding="utf-8"))
REGRESSIONS = CASES / "regressions"


def project(tmp_path: Path, source: Path) -> tuple[Snapshot, str]:
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(source, folder / "pyproject.toml")
    snapshot = replace(H100, project=probe_project(folder))
    return snapshot, (folder / "pyproject.toml").read_text(encoding="utf-8")


def test_a_fix_that_moves_windows_to_cpu_and_breaks_the_lock_is_refused(tmp_path):
    """r11: marking the non-explicit nightly index explicit ("safe") sends Windows from cu130 to PyPI's CPU torch
    (the pytorch-triton it would hide from uv is mapped with it). The proof says so, and nothing is applied."""
    snapshot, text = project(tmp_path, REGRESSIONS / "r11-nightly-nonexplicit" / "pyproject.toml")
    chosen = fixable(run_checks(snapshot))
    assert [d.code for d in chosen] == ["TD301"]
    proof = prove(snapshot, text, apply_fixes(text, chosen), chosen)
    assert not proof.proven
    assert "Windows x86_64 would move from torch's cu130 build to a CPU build" in proof.problems
    assert not any(p.startswith("it would raise TD308") for p in proof.problems)
    assert 'pytorch-triton = [{ index = "pytorch-nightly-cu130", marker = "sys_platform == \'linux\'" }]' in apply_fixes(text, chosen)
    plan = plan_fixes(snapshot, text, chosen, lambda fixed: fixable(run_checks(fixed)))
    assert plan.after == text and [d.code for d, _ in plan.refused] == ["TD301"]


def test_a_fix_is_refused_when_the_result_is_not_toml(tmp_path):
    snapshot, text = project(tmp_path, FIXTURES / "fix-cases" / "TD301.toml")
    (diagnosis,) = fixable(run_checks(snapshot))
    assert prove(snapshot, text, text + "\n[broken\n", [diagnosis]).problems[0].startswith(
        "the fixed pyproject.toml would not be valid TOML")


def test_a_fix_never_writes_a_key_that_dynamic_lists(tmp_path):
    snapshot, text = project(tmp_path, REGRESSIONS / "r4-dynamic" / "pyproject.toml")
    written = text.replace('dynamic = ["version", "dependencies"]', 'dynamic = ["version", "dependencies"]\ndependencies = ["x"]')
    (diagnosis,) = [d for d in run_checks(snapshot) if d.code == "TD308"]
    assert "it would write [project] dependencies, which `dynamic` lists: the build backend owns that key" in prove(
        snapshot, text, written, [diagnosis]).problems


def test_fixes_reach_their_fixed_point_in_one_run(tmp_path):
    """TD306 points the sources at the only index; TD305 (that index unused) is then no longer true. Applied one
    proven fix at a time, the set ends where a second run has nothing left to do."""
    snapshot, text = project(tmp_path, FIXTURES / "fix-cases" / "TD306.toml")
    chosen = fixable(run_checks(snapshot), unsafe=True)
    plan = plan_fixes(snapshot, text, chosen, lambda fixed: fixable(run_checks(fixed), unsafe=True))
    assert plan.applied and plan.after != text
    again = replace(snapshot, project=probe_project(_write(tmp_path / "again", plan.after)))
    assert plan_fixes(again, plan.after, fixable(run_checks(again), unsafe=True),
                      lambda fixed: fixable(run_checks(fixed), unsafe=True)).after == plan.after


def _write(folder: Path, text: str) -> Path:
    folder.mkdir()
    (folder / "pyproject.toml").write_text(text, encoding="utf-8")
    return folder


def test_a_fix_that_cannot_be_proven_is_not_offered_and_the_cli_says_why_with_exit_1(tmp_path):
    folder = tmp_path / "r11"
    shutil.copytree(REGRESSIONS / "r11-nightly-nonexplicit", folder)
    before = (folder / "pyproject.toml").read_bytes()
    result = run_cli("fix", "--all", "--yes", "--project", str(folder), "--snapshot", str(SNAPSHOTS / "h100-pypi.json"))
    assert result.code == 1
    assert "TD301 has no automatic fix: no edit of pyproject.toml could be proven to cure it: Windows x86_64 would " \
           "move from torch's cu130 build to a CPU build" in result.stderr
    assert "still reported: TD301" in result.stderr
    assert (folder / "pyproject.toml").read_bytes() == before


def test_repairing_a_markdown_wrapped_url_keeps_its_credentials(tmp_path):
    """The report redacts `user:token@` to `***@`; the fix must write the real credentials back, not the stars."""
    secret = "https://reader:s3cr%40t@mirror.example.edu/pytorch/whl/cu128"
    text = ('[project]\nname = "c"\nversion = "0"\nrequires-python = ">=3.10"\ndependencies = ["torch==2.9.1"]\n'
            f'[[tool.uv.index]]\nname = "pt"\nurl = "[{secret}]({secret})"\nexplicit = true\n'
            '[tool.uv.sources]\ntorch = [{ index = "pt" }]\n')
    folder = _write(tmp_path / "creds", text)
    snapshot = replace(H100, project=probe_project(folder))
    (td304,) = [d for d in run_checks(snapshot) if d.code == "TD304"]
    assert "s3cr" not in td304.message and "***@" in td304.evidence[0].value
    fixed = apply_fixes(text, [td304])
    assert f'url = "{secret}"' in fixed and "***" not in fixed


def test_fix_with_a_snapshot_edits_the_project_here_never_the_one_it_names(tmp_path):
    """A crafted snapshot pointing at another file must not make `fix --yes` edit that file: without --project the
    recording is a replay and `fix` refuses, naming --project (one rule for --snapshot in every command: issue 31
    item 3); with it, the project named is the one edited."""
    import json

    victim = _write(tmp_path / "victim", (FIXTURES / "fix-cases" / "TD301.toml").read_text(encoding="utf-8"))
    victim_bytes = (victim / "pyproject.toml").read_bytes()
    recorded = json.loads((SNAPSHOTS / "h100-pypi.json").read_text(encoding="utf-8"))
    recorded["project"] = json.loads(replace(H100, project=probe_project(victim)).to_json())["project"]
    crafted = tmp_path / "crafted.json"
    crafted.write_text(json.dumps(recorded), encoding="utf-8")
    here = _write(tmp_path / "here", (FIXTURES / "fix-cases" / "TD301.toml").read_text(encoding="utf-8"))
    state = {"TORCHDOCTOR_STATE_DIR": str(tmp_path / "state")}
    replay = run_cli("fix", "--all", "--yes", "--snapshot", str(crafted), cwd=here, env=state)
    assert replay.code == 2 and "name it with --project" in replay.stderr, replay.stderr  # a replay edits nothing
    assert "explicit = true" not in (here / "pyproject.toml").read_text(encoding="utf-8")
    result = run_cli("fix", "--all", "--yes", "--snapshot", str(crafted), "--project", ".", cwd=here, env=state)
    assert result.code == 0, result.stderr
    assert (victim / "pyproject.toml").read_bytes() == victim_bytes
    assert "explicit = true" in (here / "pyproject.toml").read_text(encoding="utf-8")


def test_fix_lock_is_a_transaction_that_puts_both_files_back_when_uv_lock_fails(tmp_path):
    """Offline with an empty cache, `uv lock` cannot resolve: pyproject.toml and uv.lock are restored, byte for byte."""
    folder = _write(tmp_path / "p", (FIXTURES / "fix-cases" / "TD301.toml").read_text(encoding="utf-8"))
    (folder / "uv.lock").write_bytes(b"version = 1\nrevision = 3\n# the lock as it was\n")
    before = {name: (folder / name).read_bytes() for name in ("pyproject.toml", "uv.lock")}
    result = run_cli("fix", "--all", "--yes", "--lock", "--project", str(folder), "--snapshot", str(SNAPSHOTS / "h100-pypi.json"),
                     env={"UV_OFFLINE": "1", "UV_CACHE_DIR": str(tmp_path / "empty-cache"), "UV_PYTHON_DOWNLOADS": "never",
                          "TORCHDOCTOR_STATE_DIR": str(tmp_path / "state"), "XDG_CONFIG_HOME": str(tmp_path / "config")})
    assert result.code == 1, result.stderr
    assert "torchdoctor: lock failed: " in result.stderr
    assert "pyproject.toml and uv.lock are back as they were" in result.stderr
    assert {name: (folder / name).read_bytes() for name in ("pyproject.toml", "uv.lock")} == before


def test_fix_all_unsafe_on_real_projects_is_valid_proven_and_a_fixed_point(tmp_path):
    """Every field project: `fix --all --unsafe` as planned writes valid TOML, and a second run changes nothing
    (a second run once deleted 8 more indexes)."""
    import tomli  # a dependency on every Python (tomllib is 3.11+)
    from field_oracle import FIELD, strip_header

    names = sorted(p.name.removesuffix("__pyproject.toml") for p in FIELD.glob("*__pyproject.toml") if "__member__" not in p.name)
    not_fixed_points = []
    for name in names:
        text = strip_header((FIELD / f"{name}__pyproject.toml").read_text(encoding="utf-8"))
        folder = _write(tmp_path / name, text)
        snapshot = replace(H100, project=probe_project(folder))
        def more(fixed):
            return fixable(run_checks(fixed), unsafe=True)
        first = plan_fixes(snapshot, text, fixable(run_checks(snapshot), unsafe=True), more)
        tomli.loads(first.after)
        again_folder = _write(tmp_path / f"{name}-again", first.after)
        again = replace(H100, project=probe_project(again_folder))
        second = plan_fixes(again, first.after, fixable(run_checks(again), unsafe=True), more)
        if second.after != first.after:
            not_fixed_points.append(f"{name}: {[d.code for d in second.applied]}")
    assert not_fixed_points == []


def test_making_an_xpu_index_explicit_maps_its_triton_too(tmp_path):
    """The XPU torch pins pytorch-triton-xpu, published only on that index: once the index is explicit uv no longer
    looks there, so the fix maps it (Linux) in the same step and the project still locks (no TD308)."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "0"\nrequires-python = ">=3.10"\ndependencies = ["torch>=2.9"]\n\n'
        '[tool.uv]\nenvironments = ["sys_platform == \'linux\'"]\n\n'
        '[[tool.uv.index]]\nname = "pytorch-xpu"\nurl = "https://download.pytorch.org/whl/xpu"\n\n'
        '[tool.uv.sources]\ntorch = [{ index = "pytorch-xpu", marker = "sys_platform == \'linux\'" }]\n', encoding="utf-8")
    snapshot = replace(H100, project=probe_project(folder))
    text = (folder / "pyproject.toml").read_text(encoding="utf-8")
    chosen = [d for d in fixable(run_checks(snapshot)) if d.code == "TD301"]
    assert chosen and "map pytorch-triton-xpu to it on Linux" in chosen[0].fix.title
    plan = plan_fixes(snapshot, text, chosen, lambda fixed: [])
    assert [d.code for d in plan.applied] == ["TD301"], plan.refused
    assert 'pytorch-triton-xpu = [{ index = "pytorch-xpu", marker = "sys_platform == \'linux\'" }]' in plan.after
    assert "pytorch-triton-xpu ; sys_platform == 'linux'" in plan.after


def _app_requiring(tmp_path: Path, torch_range: str) -> Path:
    """A project folder whose pyproject.toml asks for torch `torch_range` and torchvision."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "0.1.0"\nrequires-python = ">=3.12"\n'
                                           f'dependencies = ["torch{torch_range}", "torchvision"]\n', encoding="utf-8")
    return folder


def _installed(snapshot: Snapshot, folder: Path, version: str, cuda: str, interpreter: str | None = None) -> Snapshot:
    """The snapshot with `folder` as its project and torch `version` (a CUDA `cuda` build) installed in the
    interpreter probed: the project's own .venv unless another is named."""
    from torchdoctor.snapshot import InterpreterInfo

    python = interpreter or str(folder / ".venv" / "bin" / "python")
    local = version.partition("+")[2] or None
    return replace(snapshot, project=probe_project(folder),
                   interpreter=InterpreterInfo(path=python, source=".venv", reason="the project environment", exists=True),
                   torch=replace(snapshot.torch, version=version, installed_version=version, local_tag=local, cuda=cuda,
                                 arch_list=(), packages={}))


def test_a_driver_too_old_for_the_installed_build_is_cured_by_moving_the_project_to_a_line_it_runs(tmp_path):
    """PyPI's torch 2.15 is a CUDA 13.2 build; the H100's driver 580 runs CUDA 13.0. Installed by the project into its
    .venv, the headline fix maps the torch family to cu130 (proven on the machine as `uv sync` would leave it) and the
    driver update is the alternative. It offered only the driver update: an edit of pyproject.toml cures it too."""
    folder = _app_requiring(tmp_path, ">=2.15")
    from torchdoctor.workflow import fix_diagnoses

    snapshot = _installed(H100, folder, "2.15.0", "13.2")
    (finding,) = [d for d in fix_diagnoses(snapshot) if d.code == "TD230"]
    assert finding.fix is not None and finding.fix.edit is not None, finding.no_fix
    assert finding.fix.title.startswith("cu130:")
    assert [a.title for a in finding.alternatives][-1] == "Update the NVIDIA driver"
    fixed = apply_fixes((folder / "pyproject.toml").read_text(encoding="utf-8"), [finding])
    assert 'url = "https://download.pytorch.org/whl/cu130"' in fixed

    elsewhere = _installed(H100, folder, "2.15.0", "13.2", interpreter="/opt/conda/bin/python")
    (finding,) = [d for d in fix_diagnoses(elsewhere) if d.code == "TD230"]
    assert finding.fix is not None and finding.fix.edit is None and finding.fix.title == "Update the NVIDIA driver"
    assert not finding.no_fix  # the driver update cures it; no edit of the project reaches that interpreter


def test_an_installed_build_without_the_gpus_code_is_cured_by_the_projects_fix_once_synced(tmp_path):
    """The Blackwell headline: torch 2.6.0+cu126 (no sm_120) installed in the project's .venv. The fix that maps the
    project to a line with sm_120 is proven on the machine as `uv sync` would leave it; it was refused, "TD220 would
    still be reported", because the proof judged the torch installed now."""
    from torchdoctor.workflow import fix_diagnoses

    wsl = Snapshot.from_json((SNAPSHOTS / "wsl2-rtx5060ti-nightly.json").read_text(encoding="utf-8"))
    folder = _app_requiring(tmp_path, ">=2.6")
    snapshot = _installed(wsl, folder, "2.6.0+cu126", "12.6")
    (finding,) = [d for d in fix_diagnoses(snapshot) if d.code == "TD220"]
    assert finding.fix is not None and finding.fix.edit is not None, finding.no_fix
    assert "sm_120" in finding.fix.title


def test_fixes_that_each_fail_alone_are_proven_together_with_their_siblings(tmp_path):
    """torch from the cu128 index and torchaudio from the test cu128 index, neither with a marker: two TD307 findings,
    one per index. Each marker alone leaves the other package on the CUDA index on macOS beside a CPU build (TD309), so
    each alone fails its proof; together they cure both. The report offers each (proven with its sibling), and
    `fix TD307` writes both markers in one change."""
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "pyproject.toml").write_text(
        '[project]\nname = "p"\nversion = "0.1.0"\nrequires-python = ">=3.10"\n'
        'dependencies = ["torch==2.8.0", "torchaudio==2.8.0"]\n\n'
        '[tool.uv.sources]\ntorch = { index = "torch" }\ntorchaudio = { index = "torch-test" }\n\n'
        '[[tool.uv.index]]\nname = "torch"\nurl = "https://download.pytorch.org/whl/cu128"\nexplicit = true\n\n'
        '[[tool.uv.index]]\nname = "torch-test"\nurl = "https://download.pytorch.org/whl/test/cu128"\nexplicit = true\n',
        encoding="utf-8")
    from torchdoctor.workflow import diagnose

    snapshot = replace(H100, project=probe_project(folder))
    report = diagnose(snapshot)
    td307 = [d for d in report.diagnoses if d.code == "TD307"]
    assert len(td307) == 2 and all(d.fix is not None and d.fix.edit is not None for d in td307), \
        [(d.message, d.no_fix) for d in td307]
    text = (folder / "pyproject.toml").read_text(encoding="utf-8")
    alone = plan_fixes(snapshot, text, td307[:1], lambda fixed: [])
    assert not alone.applied and "would raise TD309" in " ".join(p for _, proof in alone.refused for p in proof.problems)
    paired = plan_fixes(snapshot, text, td307[:1], lambda fixed: [], together=td307[1:])
    assert set(paired.applied) == set(td307)  # the one asked for, with its sibling
    result = run_cli("fix", "TD307", "--dry-run", "--snapshot", str(SNAPSHOTS / "h100-pypi.json"), "--project", str(folder))
    assert result.code == 0, result.stderr
    assert result.stdout.count("marker = \"sys_platform == 'linux' or sys_platform == 'win32'\"") == 2, result.stdout


def test_the_unsafe_warning_says_what_the_fix_changes():
    """An unsafe index move warns about what every user installs (their drivers); a fix that drops a build tag or
    requires a companion warns about what the project promises. A safe fix has no warning."""
    from torchdoctor.edits import DropLocalTags, UsePytorchIndex
    from torchdoctor.model import Applicability, Diagnosis, Fix, Severity
    from torchdoctor.workflow import unsafe_warning

    def with_fix(edit, applicability=Applicability.UNSAFE) -> Diagnosis:
        return Diagnosis("TD222", "x", Severity.ERROR, "m", "e", fix=Fix("t", applicability, edit))

    move = UsePytorchIndex(name="pytorch-cu128", url="https://download.pytorch.org/whl/cu128", packages=("torch",),
                           replace=("pytorch-cu126",))
    assert "which builds every user of the project installs" in unsafe_warning(with_fix(move))
    requiring = UsePytorchIndex(name="pytorch-cu128", url="https://download.pytorch.org/whl/cu128", packages=("torch",),
                                require=(("torchvision", "dependencies", ""),))
    assert "what the project promises" in unsafe_warning(with_fix(requiring))
    assert "what the project promises" in unsafe_warning(with_fix(DropLocalTags(packages=("torch",))))
    assert unsafe_warning(with_fix(move, Applicability.SAFE)) is None
