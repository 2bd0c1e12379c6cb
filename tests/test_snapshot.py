"""The Snapshot round-trips through JSON without loss, for any value its types allow."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SNAPSHOTS, contains, examples
from torchdoctor.snapshot import Snapshot, SnapshotError

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


_BUILDING: set = set()


def strategy_for(tp: Any) -> st.SearchStrategy:
    """A Hypothesis strategy for any type the snapshot uses, derived from the annotations. A type that contains itself
    (a workspace's members are projects) draws none inside itself: its round trip is tested on its own below."""
    if tp in _BUILDING:
        return st.nothing()
    if tp is Any:
        return JSON_VALUES
    origin = typing.get_origin(tp)
    if origin is typing.Literal:  # a closed set of statuses
        return st.sampled_from(typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(strategy_for(option) for option in typing.get_args(tp)))
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            if args[0] in _BUILDING:
                return st.just(())  # the type inside itself: none drawn (see the docstring)
            return st.lists(strategy_for(args[0]), max_size=3).map(tuple)
        return st.tuples(*(strategy_for(a) for a in args))
    if origin is dict:
        return st.dictionaries(st.text(max_size=10), strategy_for(typing.get_args(tp)[1]), max_size=3)
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        _BUILDING.add(tp)
        try:
            return st.builds(tp, **{f.name: strategy_for(hints[f.name]) for f in dataclasses.fields(tp)
                                    if f.name != "schema_version"})
        finally:
            _BUILDING.discard(tp)
    if tp is type(None):
        return st.none()
    if tp is float:
        return st.floats(allow_nan=False, allow_infinity=False)
    return {str: st.text(max_size=20), int: st.integers(), bool: st.booleans()}[tp]


@settings(max_examples=examples(2))
@given(strategy_for(Snapshot))
def test_any_snapshot_round_trips(snapshot):
    """Read once, a snapshot is what torchdoctor keeps (credentials redacted, control characters escaped, as the
    probes leave what they read); from then on it round-trips unchanged."""
    kept = Snapshot.from_json(snapshot.to_json())
    assert Snapshot.from_json(kept.to_json()) == kept


def test_a_snapshot_handed_over_is_cleaned_as_it_is_read():
    text = (SNAPSHOTS / "h100-pypi.json").read_text(encoding="utf-8")
    planted = json.loads(text)
    planted["interpreter"]["reason"] = "chosen \x1b]0;owned\x07 by https://ci:p@ss@mirror.example/simple?token=abc"
    read = Snapshot.from_json(json.dumps(planted))
    assert read.interpreter.reason == "chosen \\x1b]0;owned\\x07 by https://***@mirror.example/simple?token=***"


@pytest.mark.parametrize("name", ["h100-pypi.json", "h100-no-visible-devices.json", "h200-pypi.json"])
def test_recorded_snapshot_round_trips_without_loss(name):
    text = (SNAPSHOTS / name).read_text(encoding="utf-8")
    snapshot = Snapshot.from_json(text)
    written = snapshot.to_json()
    assert Snapshot.from_json(written) == snapshot
    assert contains(json.loads(written), json.loads(text))  # every recorded fact survives, byte for byte


def test_a_status_outside_its_closed_set_is_refused_with_its_place():
    """Statuses are Literals: a recording that says another (a misspelling, a newer torchdoctor's) is refused by name,
    never read as a status no rule knows."""
    data = json.loads((SNAPSHOTS / "h100-pypi.json").read_text(encoding="utf-8"))
    data["nvml"]["status"] = "failed"
    with pytest.raises(SnapshotError, match=r"Snapshot\.nvml\.status: 'failed' is not one of 'ok'"):
        Snapshot.from_json(json.dumps(data))


def test_report_json_is_accepted_as_a_snapshot():
    report = json.loads((SNAPSHOTS / "h100-pypi.report.json").read_text(encoding="utf-8"))
    snapshot = Snapshot.from_json(json.dumps(report))
    assert snapshot == Snapshot.from_json((SNAPSHOTS / "h100-pypi.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "not JSON"),
        ("{", "not JSON"),
        ("[1, 2]", "top level is not an object"),
        ('{"schema_version": 99}', "schema version 99 is not supported"),
        ('{"schema_version": 1, "created_at": 3}', "not a valid torchdoctor snapshot"),
    ],
)
def test_unusable_snapshot_text_gives_one_line_reason(text, reason):
    with pytest.raises(SnapshotError) as caught:
        Snapshot.from_json(text)
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_workspace_with_its_members_round_trips(tmp_path):
    """A workspace root's members are projects inside the project: recorded and replayed whole."""
    from torchdoctor.probes.collect import with_project

    root = tmp_path / "ws"
    (root / "packages" / "core").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "ws"\nversion = "0"\n\n[tool.uv.workspace]\n'
                                         'members = ["packages/*"]\n', encoding="utf-8")
    (root / "packages" / "core" / "pyproject.toml").write_text('[project]\nname = "core"\nversion = "0"\n'
                                                               'dependencies = ["torch"]\n', encoding="utf-8")
    base = Snapshot.from_json((SNAPSHOTS / "h100-pypi.json").read_text(encoding="utf-8"))
    snapshot = with_project(base, root)
    assert [m.pyproject.name for m in snapshot.project.members] == ["core"]
    assert Snapshot.from_json(snapshot.to_json()) == snapshot
