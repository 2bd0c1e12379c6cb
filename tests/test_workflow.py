"""The one flow under both faces: what a re-check says after a fix, and which fixes a request picks. The CLI and
the TUI show these answers only (their own tests show that they do)."""

from __future__ import annotations

from torchdoctor.edits import RemoveIndex, RepairIndexUrl
from torchdoctor.model import Applicability, Diagnosis, Fix, Severity
from torchdoctor.workflow import choose_fixes, recheck


def finding(code: str, message: str, fix: Fix | None = None) -> Diagnosis:
    return Diagnosis(code, "slug", Severity.ERROR, message, "why", fix=fix)


def test_fixing_one_of_two_findings_of_a_code_cures_that_one():
    one, two = finding("TD304", "index a"), finding("TD304", "index b")
    said = recheck({("TD304", "index a")}, [one, two], [two])
    assert said.cured == ("TD304",) and said.still == ()


def test_a_finding_the_fix_meant_to_cure_that_stays_is_still_reported():
    one = finding("TD305", "unused")
    assert recheck({("TD305", "unused")}, [one], [one]).still == ("TD305",)


def test_a_fix_that_trades_a_finding_for_another_of_its_code_is_not_called_a_cure():
    said = recheck({("TD301", "index a not explicit")}, [finding("TD301", "index a not explicit")],
                   [finding("TD301", "index a is the default")])
    assert said.cured == () and said.still == ("TD301",)


def test_findings_the_fix_did_not_touch_are_not_its_business():
    other = finding("TD402", "lock gives cpu")
    said = recheck({("TD304", "index a")}, [finding("TD304", "index a"), other], [other])
    assert said == recheck({("TD304", "index a")}, [finding("TD304", "index a")], [])


def test_a_request_picks_safe_fixes_leaves_unsafe_ones_to_be_asked_for_and_shows_commands():
    safe = finding("TD304", "a", Fix("repair", Applicability.SAFE, RepairIndexUrl(position=1)))
    unsafe = finding("TD305", "b", Fix("remove", Applicability.UNSAFE, RemoveIndex(name="x")))
    outside = finding("TD202", "c", Fix("reboot", Applicability.DISPLAY_ONLY, commands=("sudo reboot",)))
    choice = choose_fixes([safe, unsafe, outside])
    assert choice.chosen == (safe,) and choice.needs_unsafe == (unsafe,) and choice.outside == (outside,)
    assert choose_fixes([safe, unsafe, outside], unsafe=True).chosen == (safe, unsafe)
    assert choose_fixes([safe, unsafe, outside], {"TD305"}).chosen == ()
    assert choose_fixes([safe, unsafe, outside], {"TD202"}).outside == (outside,)


def test_every_kind_of_edit_has_a_transform_and_reads_back_from_its_json_form():
    import dataclasses

    from torchdoctor.edits import EDITS, Edit
    from torchdoctor.fixes.transforms import TRANSFORMS

    assert set(EDITS.values()) == set(TRANSFORMS), "an edit without a transform (or a transform without an edit)"
    for action, kind in EDITS.items():
        example = kind(**{f.name: _example(f.type) for f in dataclasses.fields(kind)})
        assert Edit.from_params(action, example.params()) == example


def _example(annotation: str):
    return {"int": 2, "bool": True, "str": "x", "str | None": "y", "tuple[str, ...]": ("a", "b"),
            "tuple[tuple[str, str | None], ...]": (("pt", None), ("cu", "e")),
            "tuple[tuple[str, str], ...]": (("extra == 'a'", "a"),),
            "tuple[tuple[str, str, str], ...]": (("torchaudio", "optional:gpu", "sys_platform == 'linux'"),)}[annotation]


def test_the_gemm_assessment_is_the_one_verdict_the_findings_and_every_face_show():
    """The TUI's yellow bars, the report's lines and TD602/TD601 read one assessment, made in the workflow."""
    from conftest import SNAPSHOTS
    from torchdoctor.snapshot import Snapshot
    from torchdoctor.workflow import diagnose

    for name, slow, accuracy in (("h200-bench-contended", {"bf16", "fp16", "tf32", "fp32"}, "ok"),
                                 ("h200-bench", set(), "ok"), ("h200-bench-tf32-override", None, "tf32")):
        report = diagnose(Snapshot.from_json((SNAPSHOTS / f"{name}.json").read_text(encoding="utf-8")))
        assert report.gemm is not None and report.gemm.model == "H200 SXM 141GB"
        judged_slow = {r.result.dtype for r in report.gemm.rates if r.slow}
        td602 = [d for d in report.diagnoses if d.code == "TD602"]
        assert bool(td602) == bool(judged_slow)
        assert all(dtype in td602[0].message for dtype in judged_slow) if td602 else True
        if slow is not None:
            assert judged_slow == slow
        fp32 = next(r for r in report.gemm.rates if r.result.dtype == "fp32")
        assert fp32.accuracy == accuracy
        assert not any(d.code == "TD601" for d in report.diagnoses)  # TF32 arithmetic is TD605's, not a wrong result


def test_the_workflows_bench_time_is_the_gemm_tests_default():
    """The app reads the GEMM test's default time from the workflow (it never imports the probes): the same number."""
    from torchdoctor.probes.gemm import DEFAULT_SECONDS
    from torchdoctor.workflow.probing import BENCH_SECONDS

    assert BENCH_SECONDS == DEFAULT_SECONDS


def test_findings_that_differ_only_in_the_selection_are_one_naming_the_others():
    """Ten extras that install the same torch gave ten identical warnings (issue 31, item 6): one finding now, at the
    highest severity, naming the other selections; a finding of another build stays its own."""
    from torchdoctor.model import Diagnosis, Evidence, Severity
    from torchdoctor.workflow.diagnosing import merge_selections

    def finding(selection: str, build: str = "2.11.0+cu130", severity=Severity.WARNING) -> Diagnosis:
        return Diagnosis("TD232", "project-build-needs-newer-driver", severity,
                         f"`uv sync {selection}` installs torch {build}, which needs a newer driver",
                         f"`uv sync {selection}` installs a build that will not work here.",
                         (Evidence("locked torch", build, f"uv.lock ({selection})"),))

    extras = [finding(f"--extra e{n}") for n in range(10)]
    merged = merge_selections([*extras, finding("--extra old", build="2.4.0+cu118")])
    assert len(merged) == 2
    assert merged[0].message.endswith("(the same with --extra e1, --extra e2, --extra e3, --extra e4, --extra e5, "
                                      "--extra e6 and 3 more)")
    assert len(merged[0].evidence) == 8 and merged[1].message.startswith("`uv sync --extra old`")
