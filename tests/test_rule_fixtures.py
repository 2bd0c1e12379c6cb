"""One small project per rule, in the style of ruff's per-rule fixtures: `tests/fixtures/rules/<CODE>/pyproject.toml`
triggers that rule, and the snapshot beside this test (`__snapshots__/test_rule_fixtures.ambr`) holds what a user
sees for it: the `check -v` report of that code and the diff `fix --dry-run` would write, with what fix says on
stderr. A change to a rule's message, evidence, fix title or edit shows up here as a reviewed diff; update with
`pytest tests/test_rule_fixtures.py --snapshot-update` after reading it.

The machine is the recorded H100 (tests/fixtures/snapshots/h100-pypi.json), so the report is the same anywhere.
The CLI runs in this process (`torchdoctor.cli.main`), as the real face, without an interpreter start per call.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import FIXTURES, SNAPSHOTS
from torchdoctor.checks import RULES
from torchdoctor.cli import main

RULE_FIXTURES = sorted(path.name for path in (FIXTURES / "rules").iterdir() if (path / "pyproject.toml").exists())
MACHINE = str(SNAPSHOTS / "h100-pypi.json")


def said(capsys, argv: list[str], project: Path) -> str:
    code = main(argv)
    out = capsys.readouterr()
    text = f"$ torchdoctor {' '.join(argv[:3])} … (exit {code})\n{out.out}" + (f"--- stderr\n{out.err}" if out.err else "")
    return text.replace(str(project), "<project>")


@pytest.mark.parametrize("code", RULE_FIXTURES)
def test_each_rule_fixture_reports_its_rule_and_its_fix(code, tmp_path, capsys, snapshot):
    assert code in RULES
    project = tmp_path / "project"
    shutil.copytree(FIXTURES / "rules" / code, project)
    before = (project / "pyproject.toml").read_bytes()
    check = said(capsys, ["check", "--select", code, "-v", "--color", "never", "--snapshot", MACHINE,
                          "--project", str(project)], project)
    assert f" {code} " in check, f"the fixture for {code} does not trigger it"
    fix = said(capsys, ["fix", code, "--dry-run", "--unsafe", "--snapshot", MACHINE,
                        "--project", str(project)], project)
    assert (project / "pyproject.toml").read_bytes() == before  # --dry-run writes nothing
    assert check + "\n" + fix == snapshot


WITHOUT_A_FIXTURE = {
    "TD308": "reads what the nightly index publishes: tests/test_regressions.py serves it from a local index",
    "TD317": "reads what the nightly index publishes: tests/test_uv_lock.py serves it from a local index",
}


def test_every_project_rule_that_edits_pyproject_has_a_fixture():
    from torchdoctor.checks import PROJECT_RULES
    from torchdoctor.checks.registry import SAFE, UNSAFE

    editing = {code for code, rule in RULES.items() if {SAFE, UNSAFE} & set(rule.fixes) and code in PROJECT_RULES}
    assert editing - set(RULE_FIXTURES) - set(WITHOUT_A_FIXTURE) == set()
