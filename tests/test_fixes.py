"""Fixes: golden before/after files for the field cases, properties over generated pyproject files
(format preserved outside the edited tables, idempotent, composable, curing what they claim), and the
fix/undo commands on real files."""

from __future__ import annotations

import os
import random
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import tomli as tomllib  # tomllib is 3.11+; tomli (a dependency) is the same parser, on 3.10 too
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import CASES, FIXTURES, SNAPSHOTS, examples, run_cli
from torchdoctor.checks import run_checks
from torchdoctor.fixes import apply_fixes, fixable
from torchdoctor.fixes.transforms import FixError
from torchdoctor.fixes.writer import undo_last, write_fixed
from torchdoctor.model import Applicability
from torchdoctor.probes.project import probe_project
from torchdoctor.snapshot import Snapshot

H100 = Snapshot.from_json((SNAPSHOTS / "h100-pypi.json").read_text(encoding="utf-8"))
GOLDEN = FIXTURES / "golden" / "fixes"
CASE_FILES = sorted(p for p in CASES.glob("*/*.toml"))
# Tables a fix may edit; every other table must come out byte for byte as it went in.
EDITABLE = ("[project]", "[tool.uv]", "[[tool.uv.index]]", "[tool.uv.sources]")


def diagnose_text(folder: Path, text: str, machine: Snapshot = H100):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(text, encoding="utf-8")
    return run_checks(replace(machine, project=probe_project(folder)))


def fix_all(folder: Path, text: str, unsafe: bool = False) -> tuple[str, list]:
    chosen = fixable(diagnose_text(folder, text), unsafe=unsafe)
    return apply_fixes(text, chosen), chosen


def blocks(text: str) -> dict[str, str]:
    """Each top-level table's text by its header (repeated headers numbered), plus the preamble."""
    found: dict[str, str] = {}
    header, lines, seen = "<preamble>", [], {}
    for line in text.splitlines(keepends=True):
        if line.startswith("["):
            found[header] = "".join(lines)
            name = line.split("#")[0].strip()
            seen[name] = seen.get(name, 0) + 1
            header, lines = f"{name}#{seen[name]}", []
        lines.append(line)
    found[header] = "".join(lines)
    return found


def assert_fix_properties(folder: Path, before: str, unsafe: bool = False) -> str:
    after, chosen = fix_all(folder, before, unsafe)
    tomllib.loads(after)  # still TOML
    # Idempotent: the same fixes on their own output change nothing.
    assert apply_fixes(after, chosen) == after
    # Format preserved outside the tables the fixes may edit. The one allowance: a blank line that
    # separates a table appended at the end of the file from the table that used to be last.
    old, new = blocks(before), blocks(after)
    for header, text in old.items():
        if header == "<preamble>" or not header.split("#")[0].startswith(EDITABLE):
            assert header in new, f"{header} disappeared"
            assert new[header] == text or new[header] == text + "\n", f"{header} changed"
    # Cured: the findings that were fixed are no longer reported (a fix may reveal another finding).
    fixed = {(d.code, d.message) for d in chosen}
    remaining = diagnose_text(folder / "after", after)
    assert not fixed & {(d.code, d.message) for d in remaining}
    # Composable: the fixes applied in reverse order give a file that is just as cured.
    reverse = apply_fixes(before, list(reversed(chosen)))
    assert not fixed & {(d.code, d.message) for d in diagnose_text(folder / "reverse", reverse)}
    return after


@pytest.mark.parametrize("case", CASE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_cases_fix_as_in_their_golden_files(case, tmp_path):
    before = case.read_text(encoding="utf-8")
    after = assert_fix_properties(tmp_path, before)
    golden = GOLDEN / f"{case.parent.name}.{case.stem}.after.toml"
    assert golden.read_text(encoding="utf-8") == after, "run scripts/update-goldens.py and review the diff"


# Generated projects ---------------------------------------------------------------------------

COMMENTS = ["", "# keep this comment\n", "  # trailing notes\n", "\n# a section comment\n\n"]
EXTRA_TABLES = [
    '[build-system]\nrequires = ["hatchling"]  # pinned\nbuild-backend = "hatchling.build"\n',
    "[tool.ruff]\nline-length = 100\n# no: select = ['ALL']\n",
    "[tool.pytest.ini_options]\naddopts = '-q'\n",
    '[project.scripts]\ntrain = "demo.train:main"\n',
]
URLS = [
    "https://download.pytorch.org/whl/cu128",
    "https://download.pytorch.org/whl/cu126",
    "https://download.pytorch.org/whl/nightly/cu128",
    "[https://download.pytorch.org/whl/cu128](https://download.pytorch.org/whl/cu128)",
    "https://download.pytorch.org/whl/cu128/simple",
    "https://mirrors.example.edu/pytorch/whl/cu124",
]


@st.composite
def pyprojects(draw) -> str:
    rng = random.Random(draw(st.integers(0, 2**32)))
    torch_range = rng.choice([">=2.5", ">=2.9", "==2.11.0", ">=2.10.0.dev0", ""])
    companions = rng.sample(["torchvision", "torchaudio"], rng.randint(0, 2))
    quote = rng.choice(['"', "'"])
    dependencies = [f"torch{torch_range}"] + companions + rng.sample(["numpy", "requests>=2", "tqdm"], rng.randint(0, 2))
    parts = [rng.choice(COMMENTS), "[project]\n", f'name = "demo-{rng.randint(0, 99)}"\n', 'version = "0.1.0"\n']
    parts.append(f'requires-python = ">={rng.choice(["3.10", "3.11", "3.12"])}"\n')
    parts.append("dependencies = [\n" + "".join(f"    {quote}{d}{quote},{rng.choice(['', '  # why'])}\n" for d in dependencies) + "]\n")
    tables = rng.sample(EXTRA_TABLES, rng.randint(0, len(EXTRA_TABLES)))
    indexes = []
    for number in range(rng.randint(0, 2)):
        url = rng.choice(URLS)
        indexes.append(f"[[tool.uv.index]]\nname = \"pt{number}\"\nurl = \"{url}\"\n" + rng.choice(["explicit = true\n", ""]))
    sources = []
    if indexes and rng.random() < 0.8:
        target = f"pt{rng.randrange(len(indexes))}"
        style = rng.choice(["inline", "array", "marker"])
        for package in ["torch"] + rng.sample(companions, rng.randint(0, len(companions))):
            if style == "inline":
                sources.append(f'{package} = {{ index = "{target}" }}\n')
            elif style == "array":
                sources.append(f'{package} = [{{ index = "{target}" }}]\n')
            else:
                sources.append(f"{package} = [{{ index = \"{target}\", marker = \"sys_platform == 'linux'\" }}]\n")
    body = parts
    for table in tables:
        body += ["\n", table]
    if rng.random() < 0.5:
        body += ["\n[tool.uv]\n", rng.choice([
            'index-strategy = "first-index"\n', "# uv settings\n", 'environments = ["sys_platform == \'linux\'"]\n',
            'find-links = ["https://download.pytorch.org/whl/cu118/torch"]  # old way\n',
            'extra-index-url = ["https://download.pytorch.org/whl/cu128", "https://pypi.example.com/simple"]\n',
        ])]
    for index in indexes:
        body += ["\n", index]
    if sources:
        body += ["\n[tool.uv.sources]\n", *sources]
    return "".join(body)


@settings(max_examples=examples(10 / 3))
@given(pyprojects())
def test_fixes_preserve_format_and_are_idempotent_over_generated_projects(tmp_path_factory, text):
    folder = tmp_path_factory.mktemp("generated")
    assert_fix_properties(folder, text)
    assert_fix_properties(folder / "unsafe", text, unsafe=True)


@settings(max_examples=examples(5))
@given(pyprojects(), st.booleans(), st.booleans())
def test_fixes_keep_line_endings_and_the_byte_order_mark(tmp_path_factory, text, crlf, bom):
    """The same fixes on the same project written with CRLF and/or a BOM give the same result in that layout:
    no mixed line endings, one BOM, nothing else different."""
    folder = tmp_path_factory.mktemp("layout")
    chosen = fixable(diagnose_text(folder, text), unsafe=True)
    expected = apply_fixes(text, chosen)
    layout = ("\ufeff" if bom else "") + (text.replace("\n", "\r\n") if crlf else text)
    fixed = apply_fixes(layout, chosen)
    assert fixed == ("\ufeff" if bom else "") + (expected.replace("\n", "\r\n") if crlf else expected)
    if crlf:
        assert fixed.count("\n") == fixed.count("\r\n")


@settings(max_examples=examples(5))
@given(pyprojects())
def test_a_warmed_parse_and_remembered_edits_give_what_a_cold_parse_gives(tmp_path_factory, text):
    """The report's proofs take the document parsed during the probe (changed in place by the first fix), a pickled
    copy after that, and an edit already done from memory: every fix, alone and in any order, writes exactly what it
    writes from a cold parse."""
    from torchdoctor.fixes import transforms

    folder = tmp_path_factory.mktemp("warm")
    chosen = fixable(diagnose_text(folder, text), unsafe=True)

    def cold(diagnoses: list) -> str:
        transforms._PARSED.clear(), transforms._APPLIED.clear(), transforms._UNUSED.clear()
        return apply_fixes(text, diagnoses)

    expected = [cold([d]) for d in chosen]
    together = cold(chosen)
    cold([])
    transforms.warm(text)
    for _ in range(2):  # the second round is answered from memory
        assert [apply_fixes(text, [d]) for d in chosen] == expected
        assert apply_fixes(text, chosen) == together


# Transforms and writes -------------------------------------------------------------------------

def test_use_pytorch_index_replaces_an_older_index_only_when_asked(tmp_path):
    text = (CASES / "mirror-cu124-conda" / "pyproject.toml").read_text(encoding="utf-8")
    from dataclasses import replace

    from torchdoctor.edits import UsePytorchIndex
    from torchdoctor.fixes.transforms import apply_transform

    edit = UsePytorchIndex(name="pytorch-cu128", url="https://download.pytorch.org/whl/cu128",
                           packages=("torch", "torchvision"), marker="sys_platform == 'linux'")
    kept = apply_transform(text, edit)
    assert 'torch = [{ index = "pytorch-cu124" }]' in kept
    replaced = apply_transform(text, replace(edit, replace=("pytorch-cu124",)))
    assert "torch = [{ index = \"pytorch-cu128\", marker = \"sys_platform == 'linux'\" }]" in replaced
    assert 'torchaudio = [{ index = "pytorch-cu124" }]' in replaced  # not named: left alone, and its index kept
    assert apply_transform(replaced, replace(edit, replace=("pytorch-cu124",))) == replaced


def test_fix_for_a_blackwell_laptop_chooses_cu128(tmp_path):
    # The nightly case's machine: an RTX 5060 Ti (sm_120) whose 572.83 Windows driver supports CUDA 12.8.
    gpu = replace(H100.nvml.gpus[0], name="NVIDIA GeForce RTX 5060 Ti", compute_capability=(12, 0), pci_device_id=None)
    machine = replace(H100, nvml=replace(H100.nvml, gpus=(gpu,), driver_version="572.83", cuda_driver_version=12080),
                      torch=replace(H100.torch, version="2.6.0+cu126", cuda="12.6",
                                    arch_list=("sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90")))
    plain = (CASES / "uv-guide-extras" / "pyproject.plain.toml").read_text(encoding="utf-8")
    diagnoses = diagnose_text(tmp_path, plain, machine)
    (td220,) = [d for d in diagnoses if d.code == "TD220"]
    assert td220.fix.title == ("cu128: the oldest CUDA line of torch 2.11 with sm_120 that your 572.83 driver supports (the lowest driver floor "
                                "for everyone who shares the project)")
    assert td220.fix.applicability is Applicability.SAFE
    after = apply_fixes(plain, [td220])
    assert 'url = "https://download.pytorch.org/whl/cu128"' in after


def test_write_refuses_a_file_changed_since_it_was_read(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text("[project]\nname = 'a'\n", encoding="utf-8")
    original = path.read_bytes()
    path.write_text("[project]\nname = 'b'\n", encoding="utf-8")
    with pytest.raises(FixError, match="changed since torchdoctor read it"):
        write_fixed(path, original, "[project]\nname = 'c'\n")
    assert path.read_text(encoding="utf-8") == "[project]\nname = 'b'\n"


def test_write_keeps_permissions_and_undo_restores_bytes(tmp_path):
    path = tmp_path / "pyproject.toml"
    original = b"[project]\r\nname = 'a'  # CRLF and a comment\r\n"
    path.write_bytes(original)
    path.chmod(0o640)
    write_fixed(path, original, "[project]\nname = 'b'\n")
    assert oct(path.stat().st_mode & 0o777) == oct(0o640)
    undo_last(path)
    assert path.read_bytes() == original
    with pytest.raises(FixError, match="nothing to undo: no fix of"):
        undo_last(path)


def test_undo_refuses_to_overwrite_later_edits(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_bytes(b"[project]\nname = 'a'\n")
    write_fixed(path, path.read_bytes(), "[project]\nname = 'b'\n")
    path.write_text("[project]\nname = 'edited by hand'\n", encoding="utf-8")
    with pytest.raises(FixError, match="edited after torchdoctor's fix"):
        undo_last(path)
    assert "edited by hand" in path.read_text(encoding="utf-8")


# The commands ----------------------------------------------------------------------------------

def case_project(tmp_path: Path, case: str, name: str = "pyproject.toml") -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(CASES / case / name, folder / "pyproject.toml")
    return folder


def test_dry_run_prints_the_diff_and_writes_nothing(tmp_path):
    folder = case_project(tmp_path, "nightly-cu128-wsl2")
    before = (folder / "pyproject.toml").read_bytes()
    result = run_cli("fix", "--all", "--dry-run", "--snapshot", str(SNAPSHOTS / "h100-pypi.json"), "--project", str(folder))
    assert result.code == 0, result.stderr
    assert result.stdout.startswith("--- a/pyproject.toml\n+++ b/pyproject.toml\n")
    assert '+url = "https://download.pytorch.org/whl/nightly/cu128"' in result.stdout
    assert (folder / "pyproject.toml").read_bytes() == before


def test_fix_yes_writes_rechecks_and_undo_restores_byte_for_byte(tmp_path):
    folder = case_project(tmp_path, "nightly-cu128-wsl2", "pyproject.before.toml")
    before = (folder / "pyproject.toml").read_bytes()
    result = run_cli("fix", "--all", "--yes", "--snapshot", str(SNAPSHOTS / "h100-pypi.json"), "--project", str(folder))
    assert result.code == 0, result.stderr
    # Offline (the tests' setting), the fix stops after the write: cured in pyproject.toml, and said so.
    assert "written: cured in pyproject.toml (TD307, TD308); run `uv lock` to apply it (not run: offline)" in result.stderr
    assert (folder / "pyproject.toml").read_bytes() != before
    undone = run_cli("undo", "--project", str(folder))
    assert undone.code == 0, undone.stderr
    assert (folder / "pyproject.toml").read_bytes() == before


def test_fix_without_yes_and_without_a_terminal_writes_nothing(tmp_path):
    folder = case_project(tmp_path, "nightly-cu128-wsl2")
    before = (folder / "pyproject.toml").read_bytes()
    result = run_cli("fix", "TD304", "--snapshot", str(SNAPSHOTS / "h100-pypi.json"), "--project", str(folder))
    assert result.code == 2
    assert result.stderr.strip().endswith("torchdoctor: nothing written: pass --yes to write without a confirmation")
    assert (folder / "pyproject.toml").read_bytes() == before


def test_fix_needs_codes_or_all(tmp_path):
    result = run_cli("fix", "--project", str(tmp_path))
    assert result.code == 2
    assert "pass --all" in result.stderr


def test_undo_with_nothing_to_undo(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    result = run_cli("undo", "--project", str(tmp_path))
    assert result.code == 2
    assert "nothing to undo: no fix of" in result.stderr


def test_display_only_fixes_are_shown_never_run(tmp_path):
    snapshot = SNAPSHOTS / "h100-no-visible-devices.json"
    recorded = Snapshot.from_json(snapshot.read_text(encoding="utf-8"))
    (td202,) = [d for d in run_checks(recorded) if d.code == "TD202"]
    assert td202.fix.applicability is Applicability.DISPLAY_ONLY
    assert td202.fix.commands == ("unset CUDA_VISIBLE_DEVICES",)
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(FIXTURES / "projects" / "h100-pypi" / "pyproject.toml", folder / "pyproject.toml")
    result = run_cli("fix", "TD202", "--snapshot", str(snapshot), "--project", str(folder))
    # A fix was asked for and nothing was written: exit 1 while the finding stands.
    assert result.code == 1
    assert "TD202 is fixed outside pyproject.toml; run it yourself:\n    unset CUDA_VISIBLE_DEVICES" in result.stderr
    assert "no pyproject.toml fix to apply; still reported: TD202" in result.stderr
    assert result.stdout == ""


def test_fix_of_an_unknown_code_is_a_usage_error_and_of_an_absent_one_is_clean(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(FIXTURES / "projects" / "h100-pypi" / "pyproject.toml", folder / "pyproject.toml")
    unknown = run_cli("fix", "TD999", "--snapshot", str(SNAPSHOTS / "h100-pypi.json"), "--project", str(folder))
    assert unknown.code == 2 and "no such diagnosis: TD999" in unknown.stderr
    absent = run_cli("fix", "TD304", "--snapshot", str(SNAPSHOTS / "h100-pypi.json"), "--project", str(folder))
    assert absent.code == 0 and "TD304 not reported here: nothing to fix" in absent.stderr


def test_a_packaged_project_keeps_torch_in_its_published_dependencies(tmp_path):
    """TD313 for a library (it has a [build-system]): deleting torch from what its users install is not offered."""
    text = (FIXTURES / "fix-cases" / "TD313.toml").read_text(encoding="utf-8")
    library = text + '\n[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
    (td313,) = [d for d in diagnose_text(tmp_path / "library", library) if d.code == "TD313"]
    assert td313.fix.applicability is Applicability.DISPLAY_ONLY and td313.fix.action is None
    assert all(command.startswith("uv sync --extra ") for command in td313.fix.commands)
    (td313,) = [d for d in diagnose_text(tmp_path / "application", text) if d.code == "TD313"]
    assert td313.fix.action == "remove-dependencies"


def test_json_report_carries_fixes_as_data(tmp_path):
    folder = case_project(tmp_path, "nightly-cu128-wsl2")
    report = __import__("json").loads(
        run_cli("check", "--format", "json", "--snapshot", str(SNAPSHOTS / "h100-pypi.json"), "--project", str(folder)).stdout
    )
    fixes = [d["fix"] for d in report["diagnoses"] if d["code"] == "TD304"]
    assert fixes[0] == {
        "title": "Replace the URL by https://download.pytorch.org/whl/nightly/cu128",
        "applicability": "safe",
        "action": "repair-index-url",
        "params": {"position": 1, "name": "pytorch-nightly-cu128", "url": "https://download.pytorch.org/whl/nightly/cu128"},
        "commands": [],
        "notes": [],
    }


def test_td271_and_td314_fixes_cure_their_findings(tmp_path):
    text = """[project]
name = "llm"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["torch>=2.9", "flash-attn>=2.7"]  # flash-attn builds against torch

[tool.uv]
torch-backend = "auto"  # only uv pip reads this
environments = ["sys_platform == 'linux'"]
"""
    after = assert_fix_properties(tmp_path, text)
    assert 'extra-build-dependencies = {flash-attn = ["torch"]}' in after
    assert "torch-backend" not in after
    assert 'url = "https://download.pytorch.org/whl/cu130"' in after


def test_fix_lock_runs_uv_against_the_chosen_index(tmp_path):
    pytest.importorskip("pyindex")
    from pyindex import LocalIndex

    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    if not Path(uv).exists():
        pytest.skip("uv is not installed")
    from conftest import installed_pythons

    python = next((path for path, version in installed_pythons() if tuple(map(int, version.split(".")[:2])) >= (3, 12)), None)
    if python is None:
        pytest.skip("the plain case needs Python >= 3.12 to lock")
    index = LocalIndex(tmp_path / "index")
    try:
        folder = case_project(tmp_path, "uv-guide-extras", "pyproject.plain.toml")
        with (folder / "pyproject.toml").open("a", encoding="utf-8") as file:  # the fix writes PyTorch's index there
            file.write(f'\n[tool.torchdoctor]\npytorch-index = "{index.whl}"\n')
        env = {"UV_DEFAULT_INDEX": index.pypi, "XDG_CONFIG_HOME": str(tmp_path / "config"),
               "UV_PYTHON_DOWNLOADS": "never", "UV_CACHE_DIR": str(tmp_path / "uv-cache"), "UV_PYTHON": python,
               "PATH": f"{Path(uv).parent}:{os.environ['PATH']}"}
        result = run_cli("fix", "--all", "--yes", "--lock", "--snapshot", str(SNAPSHOTS / "h100-pypi.json"),
                         "--project", str(folder), env=env)
        assert result.code == 0, result.stderr
        assert "running: uv lock" in result.stderr
        locked = {p.version for p in __import__("torchdoctor.probes.project", fromlist=["read_lock"]).read_lock(folder / "uv.lock").packages if p.name == "torch"}
        assert locked == {"2.15.0+cu130", "2.15.0"}
    finally:
        index.close()


FIX_CASES = sorted((FIXTURES / "fix-cases").glob("*.toml"))


@pytest.mark.parametrize("case", FIX_CASES, ids=lambda p: p.stem)
def test_each_fix_case_gets_its_fix_as_in_the_golden_file(case, tmp_path):
    """One small project per fixable diagnosis (its code is the file name), safe and unsafe fixes included."""
    text = case.read_text(encoding="utf-8")
    diagnoses = diagnose_text(tmp_path, text)
    assert case.stem in {d.code for d in fixable(diagnoses, unsafe=True)}
    after = apply_fixes(text, fixable(diagnoses, {case.stem}, unsafe=True))
    assert (GOLDEN / f"{case.stem}.after.toml").read_text(encoding="utf-8") == after
    assert case.stem not in {d.code for d in diagnose_text(tmp_path / "after", after)}
    assert_fix_properties(tmp_path / "all", text, unsafe=True)


def test_alternative_fix_from_the_command_line(tmp_path):
    folder = case_project(tmp_path, "uv-guide-extras", "pyproject.plain.toml")
    result = run_cli("fix", "TD316", "--alternative", "1", "--unsafe", "--dry-run",
                     "--snapshot", str(SNAPSHOTS / "h100-pypi.json"), "--project", str(folder))
    assert result.code == 0, result.stderr
    assert "+cu130 = [\"torch>=2.5.1\", \"torchvision>=0.20.1\"]" in result.stdout
    assert run_cli("fix", "TD316", "--alternative", "2", "--unsafe", "--dry-run",
                   "--snapshot", str(SNAPSHOTS / "h100-pypi.json"), "--project", str(folder)).code == 2
    text = run_cli("check", "--snapshot", str(SNAPSHOTS / "h100-pypi.json"), "--project", str(folder)).stdout
    assert "→ torchdoctor fix TD316 --alternative 1 --unsafe" in text


def test_a_fix_writes_pytorchs_index_on_the_projects_own_mirror(tmp_path):
    """Behind a firewall the project gets PyTorch's index from a mirror; the index a fix adds for another CUDA line is
    on the same mirror (it was download.pytorch.org, which the firewall may not let through), or where
    `[tool.torchdoctor] pytorch-index` says when the project names no mirror yet. A URL with credentials is refused
    there (a fix would write it into pyproject.toml; uv takes them from its own variables)."""
    blackwell = Snapshot.from_json((SNAPSHOTS / "wsl2-rtx5060ti-nightly.json").read_text(encoding="utf-8"))
    mirrored = (
        '[project]\nname = "p"\nversion = "0.1.0"\nrequires-python = ">=3.10"\ndependencies = ["torch>=2.7"]\n\n'
        '[tool.uv.sources]\ntorch = [{ index = "nju-cu126", marker = "sys_platform != \'darwin\'" }]\n\n'
        '[[tool.uv.index]]\nname = "nju-cu126"\nurl = "https://mirrors.nju.edu.cn/pytorch/whl/cu126"\nexplicit = true\n')
    fixed, chosen = fix_all_on(tmp_path / "mirror", mirrored, blackwell)
    import re

    assert chosen and re.search(r'url = "https://mirrors\.nju\.edu\.cn/pytorch/whl/cu1(2[7-9]|3\d)"', fixed), fixed
    assert "download.pytorch.org" not in fixed
    plain = ('[project]\nname = "p"\nversion = "0.1.0"\nrequires-python = ">=3.10"\ndependencies = ["torch>=2.7"]\n\n'
             '[tool.torchdoctor]\npytorch-index = "https://pytorch.example.corp/whl/"\n')
    fixed, chosen = fix_all_on(tmp_path / "setting", plain, blackwell)
    assert chosen and 'url = "https://pytorch.example.corp/whl/cu' in fixed and "download.pytorch.org" not in fixed
    secret = plain.replace("https://pytorch", "https://user:token@pytorch")
    found = diagnose_text(tmp_path / "secret", secret, blackwell)
    assert any(d.code == "TD001" and "without credentials" in d.message for d in found)
    assert apply_fixes(secret, fixable(found, unsafe=True)).count("token") == 1  # the setting's own line, not copied


def fix_all_on(folder: Path, text: str, machine: Snapshot) -> tuple[str, list]:
    chosen = fixable(diagnose_text(folder, text, machine), unsafe=True)
    return apply_fixes(text, chosen), chosen
