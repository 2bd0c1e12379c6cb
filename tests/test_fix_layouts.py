"""Fixes are faithful to how a file is written: layout variants of the real project files (tests/layouts.py) through
`fix --all --yes --unsafe`, a second run and `undo`, on two recorded machines; plus one test per layout defect
seen in the field. benchmarks/fix_fuzz.py runs the same over ≥ 10,000 variants."""

from __future__ import annotations

import os
import random

import layouts
import pytest
import tomli as tomllib  # tomllib is 3.11+; tomli (a dependency) is the same parser, on 3.10 too
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import examples, run_cli
from torchdoctor.edits import MapCompanions, RemoveIndex, ReplaceTorchBackend, UsePytorchIndex
from torchdoctor.fixes.transforms import FixError, apply_transform

SEEDS = layouts.seeds()
MACHINES = list(layouts.MACHINES.values())
EXAMPLES = int(os.environ.get("TORCHDOCTOR_LAYOUT_EXAMPLES", "0")) or examples(4 / 3)


@settings(max_examples=EXAMPLES)
@given(st.integers(0, 2**32), st.sampled_from(range(len(SEEDS))), st.sampled_from(MACHINES))
def test_fix_and_undo_are_faithful_to_every_layout(tmp_path_factory, seed, which, machine):
    item = layouts.variant(SEEDS[which], random.Random(seed))
    counts = layouts.measure(item, machine, tmp_path_factory.mktemp("layout"))
    defects = {name: counts[name] for name in layouts.DEFECTS if counts[name]}
    assert not defects, f"{item.seed} with {item.operations}"


def test_the_counters_see_the_defects_they_count():
    """The property above can fail: each counter reports a defect made on purpose."""
    before = ('[tool.uv.sources]\ntorch = [\n    # Linux gets CUDA\n    { index = "cu", marker = "sys_platform == \'linux\'" },'
              '  # why\n    { index = "cpu", marker = "sys_platform != \'linux\'" },\n]\n\n[tool.ruff]\nline-length = 100\n')
    rebuilt = ('[tool.uv.sources]\ntorch = [\n    { index = "cu", marker = "sys_platform == \'linux\'" },\n'
               '    { index = "cpu", marker = "sys_platform != \'linux\'" },\n]\n[tool.ruff]\nline-length = 100\n')
    assert layouts.comments_lost(before, rebuilt) == 2
    assert layouts.glued_headers(rebuilt) == layouts.glued_headers(before) + 1
    # A comment on an entry the fix removed is not counted as lost.
    assert layouts.comments_lost(before, '[tool.uv.sources]\ntorch = [\n    # Linux gets CUDA\n'
                                 '    { index = "cu", marker = "sys_platform == \'linux\'" },  # why\n]\n') == 0
    assert layouts.comments_lost(before, '[tool.uv.sources]\ntorch = [\n'
                                 '    { index = "cu", marker = "sys_platform == \'linux\'" },  # why\n]\n') == 1


def test_comments_inside_a_rewritten_sources_array_stay_with_their_entries():
    text = ('[project]\nname = "x"\nversion = "0"\ndependencies = ["torch"]\n\n[[tool.uv.index]]\nname = "old"\n'
            'url = "https://download.pytorch.org/whl/cu118"\nexplicit = true\n\n[tool.uv.sources]\ntorch = [\n'
            '    # the team pins Linux to CUDA\n    { index = "old", marker = "sys_platform == \'linux\'" },  # see ADR-7\n'
            '    { index = "cpu", marker = "sys_platform == \'darwin\'" },  # macOS: CPU\n]\n')
    after = apply_transform(text, UsePytorchIndex(
        name="pytorch-cu128", url="https://download.pytorch.org/whl/cu128", packages=("torch",), replace=("old",)))
    assert "# macOS: CPU" in after and '{ index = "cpu", marker = "sys_platform == \'darwin\'" },  # macOS: CPU' in after
    assert '{ index = "pytorch-cu128", marker = "sys_platform == \'linux\' or sys_platform == \'win32\'" }' in after
    tomllib.loads(after)


def test_removing_an_index_leaves_the_next_tables_comments():
    text = ('[[tool.uv.index]]\nname = "unused"\nurl = "https://download.pytorch.org/whl/cu126"\nexplicit = true\n'
            '# The CUDA 12.8 index: keep in step with the Dockerfile\n# (see docs/cuda.md)\n\n'
            '[[tool.uv.index]]\nname = "cu128"\nurl = "https://download.pytorch.org/whl/cu128"\n')
    after = apply_transform(text, RemoveIndex(name="unused"))
    assert after == ('# The CUDA 12.8 index: keep in step with the Dockerfile\n# (see docs/cuda.md)\n\n'
                     '[[tool.uv.index]]\nname = "cu128"\nurl = "https://download.pytorch.org/whl/cu128"\n')


def test_tables_a_fix_adds_are_spaced_like_their_neighbours():
    text = ('[project]\nname = "x"\ndependencies = ["torch"]\n\n[tool.uv]\ntorch-backend = "auto"\n'
            'environments = ["sys_platform == \'linux\'"]\n\n[tool.ruff]\nline-length = 100\n')
    after = apply_transform(text, ReplaceTorchBackend(
        name="pytorch-cu130", url="https://download.pytorch.org/whl/cu130", packages=("torch",)))
    assert "environments = [\"sys_platform == 'linux'\"]\n\n[[tool.uv.index]]" in after
    assert "win32'\" }]\n\n[tool.ruff]" in after
    # A new source goes after the last one, not under the comments that introduce the next table.
    text = ('[tool.uv.sources]\ntorch = { index = "pt" }\n\n# Ruff: the team\'s settings\n[tool.ruff]\nline-length = 100\n'
            '\n[[tool.uv.index]]\nname = "pt"\nurl = "https://download.pytorch.org/whl/cu128"\nexplicit = true\n')
    after = apply_transform(text, MapCompanions(package="torchvision", targets=(("pt", None),)))
    assert after.startswith('[tool.uv.sources]\ntorch = { index = "pt" }\ntorchvision = [{ index = "pt" }]\n\n'
                            "# Ruff: the team's settings\n[tool.ruff]")


@pytest.mark.parametrize("text", [
    '[project]\nname = "x"\n[tool]\nuv = { sources = { torch = { index = "pt" } } }\n',
    '[project]\nname = "x"\n[tool]\nuv.index = [{ name = "pt", url = "https://download.pytorch.org/whl/cu128" }]\n',
    '[project]\nname = "x"\n[tool.uv]\nsources = { torch = { index = "pt" } }\n',
])
def test_uv_settings_written_inline_are_refused_with_a_clear_line(text):
    with pytest.raises(FixError, match="writes uv's settings inline"):
        apply_transform(text, MapCompanions(package="torchvision", targets=(("pt", None),)))


def test_dotted_uv_keys_are_edited_in_place():
    text = ('[project]\nname = "x"\n\n[tool]\nuv.sources.torch = { index = "pt" }\n\n'
            '[[tool.uv.index]]\nname = "pt"\nurl = "https://download.pytorch.org/whl/cu128"\nexplicit = true\n')
    after = apply_transform(text, MapCompanions(package="torchvision", targets=(("pt", None),)))
    assert 'uv.sources.torch = { index = "pt" }\nuv.sources.torchvision = [{ index = "pt" }]\n' in after
    assert tomllib.loads(after)["tool"]["uv"]["sources"]["torchvision"] == [{"index": "pt"}]


def test_an_inline_uv_table_gets_no_fix_line_and_the_cli_says_why_with_exit_1_and_nothing_written(tmp_path):
    text = ('[project]\nname = "x"\nversion = "0"\ndependencies = ["torch", "torchvision"]\n\n'
            '[tool]\nuv = { sources = { torch = { index = "pt" } }, index = [{ name = "pt", '
            'url = "https://download.pytorch.org/whl/cu128", explicit = true }] }\n')
    (tmp_path / "pyproject.toml").write_text(text, encoding="utf-8")
    result = run_cli("fix", "--all", "--yes", "--unsafe", "--project", str(tmp_path),
                     "--snapshot", str(MACHINES[0]), env={"TORCHDOCTOR_STATE_DIR": str(tmp_path / "state")})
    assert result.code == 1, result.stderr
    assert "has no automatic fix" in result.stderr and "writes uv's settings inline" in result.stderr
    assert (tmp_path / "pyproject.toml").read_text(encoding="utf-8") == text
    # The report offers no fix it could not prove, and says why in its place.
    report = run_cli("check", "--project", str(tmp_path), "--snapshot", str(MACHINES[0]))
    assert "→ torchdoctor fix" not in report.stdout
    assert "no automatic fix: no edit of pyproject.toml could be proven to cure it: pyproject.toml writes uv's" \
        in " ".join(report.stdout.split())
