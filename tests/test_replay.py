"""Recorded GPU machines replay to the report they produced when they were recorded.

Exact equality of the live report and the replay, with the same torchdoctor, is proven on the machine at
recording time (scripts/record-gpu-fixtures.sh stops if they differ). Here, with the rules of today, the
recorded facts must survive unchanged and the findings (code and severity) must be the ones recorded;
wording is pinned by the golden text reports.
"""

from __future__ import annotations

import json

import pytest

from conftest import FIXTURES, SNAPSHOTS, contains, run_cli

GOLDEN = FIXTURES / "golden"


@pytest.mark.parametrize("machine", ["h100-pypi", "h200-pypi"])
def test_replay_matches_the_report_recorded_on_the_machine(machine):
    recorded = json.loads((SNAPSHOTS / f"{machine}.report.json").read_text(encoding="utf-8"))
    replay = json.loads(run_cli("check", "--format", "json", "--snapshot", str(SNAPSHOTS / f"{machine}.json")).stdout)
    assert contains(replay["snapshot"], recorded["snapshot"])
    assert [(d["code"], d["severity"]) for d in replay["diagnoses"]] == [(d["code"], d["severity"]) for d in recorded["diagnoses"]]
    assert replay["summary"] == recorded["summary"]


def test_replayed_text_reports_match_their_golden_files():
    for snapshot in sorted(SNAPSHOTS.glob("*.json")):
        if snapshot.name.endswith(".report.json"):
            continue
        golden = GOLDEN / (snapshot.stem + ".txt")
        text = run_cli("check", "-v", "--snapshot", str(snapshot), "--color", "never").stdout
        assert golden.exists(), f"no golden report for {snapshot.name}: run scripts/update-goldens.py"
        assert text == golden.read_text(encoding="utf-8"), f"{golden.name} differs: run scripts/update-goldens.py and review"
