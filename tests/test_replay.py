"""Recorded GPU machines replay to exactly the report they produced when they were recorded."""

from __future__ import annotations

import json

from conftest import FIXTURES, SNAPSHOTS, contains, run_cli

GOLDEN = FIXTURES / "golden"


def test_h100_replay_matches_the_report_recorded_on_the_machine():
    recorded = json.loads((SNAPSHOTS / "h100-pypi.report.json").read_text(encoding="utf-8"))
    replay = json.loads(run_cli("check", "--format", "json", "--snapshot", str(SNAPSHOTS / "h100-pypi.json")).stdout)
    assert contains(replay["snapshot"], recorded["snapshot"])
    assert replay["diagnoses"] == recorded["diagnoses"]
    assert replay["summary"] == recorded["summary"]


def test_replayed_text_reports_match_their_golden_files():
    for snapshot in sorted(SNAPSHOTS.glob("*.json")):
        if snapshot.name.endswith(".report.json"):
            continue
        golden = GOLDEN / (snapshot.stem + ".txt")
        text = run_cli("check", "--snapshot", str(snapshot), "--color", "never").stdout
        assert golden.exists(), f"no golden report for {snapshot.name}: run scripts/update-goldens.py"
        assert text == golden.read_text(encoding="utf-8"), f"{golden.name} differs: run scripts/update-goldens.py and review"
