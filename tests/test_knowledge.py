"""The knowledge base: CUDA's arch rules, exhaustively over its own tables, and facts from real wheels."""

from __future__ import annotations

import itertools

import pytest

from conftest import FIXTURES, SNAPSHOTS
from torchdoctor.knowledge import coverage, knowledge, parse_arch
from torchdoctor.snapshot import Snapshot

KB = knowledge()
CAPABILITIES = sorted(KB.architectures)
GOLDEN = FIXTURES / "golden" / "arch-matrix.txt"


@pytest.mark.parametrize(
    ("gpu", "archs", "expected"),
    [
        # RTX 5090 on torch 2.6 cu126: "sm_120 is not compatible ... supports sm_50 ... sm_90" (pytorch/pytorch#150733).
        ((12, 0), ("sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"), (False, None, "too-new")),
        # RTX 4090 (8.9) runs sm_86 SASS: same major, higher minor (the competitor gets this wrong).
        ((8, 9), ("sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"), (True, "sm_86", "")),
        # GTX 1080 (6.1) on torch 2.8 cu128 (scenarios S3: "PyTorch no longer supports this GPU because it is too old").
        ((6, 1), ("sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"), (False, None, "too-old")),
        # B300 (10.3) and GB10 (12.1) run the sm_100 / sm_120 cubins of the same major.
        ((10, 3), ("sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"), (True, "sm_100", "")),
        ((12, 1), ("sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"), (True, "sm_120", "")),
        # Hopper code never runs on Blackwell; PTX does, forward.
        ((10, 0), ("sm_80", "sm_90"), (False, None, "too-new")),
        ((10, 0), ("sm_80", "sm_90", "compute_90"), (True, "compute_90", "")),
        # Jetson Thor (11.0) on the x86_64 cu130 list (no 11.x): a gap between 10.0 and 12.0.
        ((11, 0), ("sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"), (False, None, "gap")),
        # Arch-specific targets do not carry forward, not even within their major.
        ((9, 0), ("sm_90a",), (True, "sm_90a", "")),
        ((10, 0), ("sm_90a", "compute_90a"), (False, None, "too-new")),
        ((10, 3), ("sm_100a",), (False, None, "too-new")),
        # Family-specific targets run within their family.
        ((10, 3), ("sm_100f",), (True, "sm_100f", "")),
        ((12, 0), (), (False, None, "no-targets")),
    ],
)
def test_known_cases(gpu, archs, expected):
    result = coverage(gpu, archs)
    assert (result.supported, result.via, result.reason) == expected


def test_real_h100_build_covers_hopper_through_its_own_sass():
    snapshot = Snapshot.from_json((SNAPSHOTS / "h100-pypi.json").read_text(encoding="utf-8"))
    assert coverage((9, 0), snapshot.torch.arch_list).via == "sm_90"
    # The recorded 2.11.0+cu130 list is the knowledge base's row for that build.
    assert KB.arch_list("2.11.0", "cu130") == snapshot.torch.arch_list


def test_rules_hold_over_every_capability_and_every_known_build():
    """Invariants of CUDA's compatibility rules, over the whole table (capabilities x builds)."""
    for build, gpu in itertools.product(KB.builds, CAPABILITIES):
        result = coverage(gpu, build.archs)
        targets = [parse_arch(a) for a in build.archs]
        if result.supported:
            target = parse_arch(result.via)
            # What runs is either SASS of the same major at or below the GPU, or PTX at or below it.
            assert target.capability <= gpu
            assert target.ptx or target.capability[0] == gpu[0]
        else:
            # Nothing in the build may satisfy either rule.
            assert not any((not t.ptx and t.capability[0] == gpu[0] and t.capability[1] <= gpu[1]) for t in targets)
            assert not any(t.ptx and t.capability <= gpu for t in targets)
        # A GPU later in the same major is covered whenever an earlier one is by SASS.
        later = (gpu[0], gpu[1] + 1)
        if result.supported and not parse_arch(result.via).ptx:
            assert coverage(later, build.archs).supported


def render_matrix() -> str:
    lines = [f"{'build':<28}" + "".join(f"{c[0]}.{c[1]:<6}" for c in CAPABILITIES)]
    for build in KB.builds:
        label = f"{build.variant} torch {build.series[0]}" + (f"-{build.series[-1]}" if len(build.series) > 1 else "")
        cells = []
        for gpu in CAPABILITIES:
            result = coverage(gpu, build.archs)
            cells.append(f"{(result.via or result.reason):<8}"[:8])
        lines.append(f"{label[:27]:<28}" + "".join(cells))
    return "\n".join(lines) + "\n"


def test_arch_matrix_matches_its_reviewed_golden_file():
    """The whole capability x build matrix, reviewed by a person once and pinned (regenerate on purpose)."""
    assert GOLDEN.read_text(encoding="utf-8") == render_matrix()


def test_every_release_has_build_rows_for_its_variants():
    for release in KB.releases:
        for variant in release.variants:
            if release.series in ("2.4", "2.5", "2.6", "2.7", "2.8") and variant in ("cu118", "cu121", "cu124", "cu129"):
                continue  # older lines, checked where the tables have them
            assert KB.build(release.latest, variant) is not None, (release.series, variant)


def test_variant_suggestions_follow_the_tables():
    assert KB.variants_covering((12, 0), "2.9.1") == ("cu128", "cu130")
    assert KB.variants_covering((6, 1), "2.11.0") == ("cu126",)
    assert KB.variants_covering((7, 0), "2.11.0") == ("cu126",)  # 2.11 dropped Volta from cu128
    assert KB.variants_covering((7, 0), "2.10.0") == ("cu126", "cu128")
    assert KB.variants_covering((6, 1), "2.15.0") == ()  # no build for Pascal at all


def test_staleness_and_models():
    assert KB.is_newer_than_known("2.16.0.dev20261120+cu132")
    assert not KB.is_newer_than_known("2.15.0")
    assert KB.gpu_model("NVIDIA H100 80GB HBM3", 0x233010DE).peaks["bf16"] == 989.4
    assert KB.gpu_model("NVIDIA H200", 0x233510DE).name == "H200 SXM 141GB"
    assert KB.gpu_model("NVIDIA L40S").name == "L40S"


def test_release_tables_reach_back_to_1_12_and_name_every_cuda_variant():
    series = [r.series for r in KB.releases]
    assert series[0] == "1.12" and series[-1] == KB.newest_release.series
    variants = {v for r in KB.releases for v in r.variants}
    for cuda in ("cu102", "cu113", "cu116", "cu117", "cu118", "cu121", "cu124", "cu126", "cu128", "cu129", "cu130", "cu132"):
        assert cuda in variants, cuda
    assert all(r.source for r in KB.releases) and all(r.rocm for r in KB.releases if r.series < "2.14")
    # cu121 carries 2.1-2.5, not "2.4 to 2.5" (a gap the old tables turned into a fact).
    assert [r.series for r in KB.releases if "cu121" in r.variants] == ["2.1", "2.2", "2.3", "2.4", "2.5"]
    assert KB.arch_list("2.1.2", "cu121") == ("sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90")


def test_retirements_are_sourced_and_agree_with_the_release_rows():
    """A retired variant has its last release in the tables and no later one: absence backed by evidence."""
    for retired in KB.retired.values():
        assert retired.source
        having = [r.series for r in KB.releases if retired.variant in r.variants]
        assert having and having[-1] == retired.last, retired
    assert "cu129" not in KB.retired  # missing after 2.8 in the matrix, but built off it: unknown, not retired
