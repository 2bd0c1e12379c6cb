"""`torchdoctor fleet`: real torchrun jobs with gloo ranks on the CPU (the real CPU torch), and the TD7xx rules on
recorded results.

Differences between ranks are injected as a real node would have them: a `sitecustomize` on PYTHONPATH that, on one
local rank only, sets a variable, imports torch with another version string, or hangs before the rank reports.
"""

from __future__ import annotations

import json
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import FIXTURES, run_cli
from torchdoctor.collectives import bandwidths, bus_factor
from torchdoctor.model import Severity
from torchdoctor.probes.fleet import FleetOptions, parse_results, read_results, run_fleet
from torchdoctor.snapshot import CollectiveResult, FleetGemm, FleetGpu, FleetInfo, FleetRank, Snapshot
from torchdoctor.workflow import diagnose

RECORDED = FIXTURES / "fleet"
FAST = dict(timeout_s=15.0, gemm_seconds=0.2, collective_seconds=0.3)  # each size still gets its 3 timed calls


def on_one_rank(tmp_path: Path, monkeypatch, body: str, rank: int = 1) -> None:
    """A sitecustomize that runs `body` in the rank with LOCAL_RANK == rank, and nowhere else."""
    folder = tmp_path / "site"
    folder.mkdir()
    code = f"import os\nif os.environ.get('LOCAL_RANK') == '{rank}':\n" + textwrap.indent(textwrap.dedent(body), "    ")
    (folder / "sitecustomize.py").write_text(code, encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", str(folder))


def findings(fleet: FleetInfo) -> list:
    from torchdoctor.probes.collect import fleet_snapshot

    snapshot = fleet_snapshot(Path("/nonexistent-project"), None, fleet)
    return [d for d in diagnose(snapshot).diagnoses if d.code.startswith("TD7")]


# --- real torchrun jobs on the CPU ------------------------------------------------------------------


def test_the_cli_runs_a_cpu_fleet_gathers_every_rank_and_reports_only_the_one_that_differs(real_torch_python,
                                                                                            tmp_path, monkeypatch):
    """Four gloo ranks through the CLI, rank 1 with a variable set and another torch: every rank is gathered and
    measured, what differs is reported against the others, and nothing else is (the three healthy ranks agree in
    everything else). The saved snapshot replays to the same report. One job holds all of this: each rank is a real
    torch import, the heaviest thing the suite does (a job of two ranks is the hang test's below)."""
    on_one_rank(tmp_path, monkeypatch, """
        os.environ["NCCL_P2P_DISABLE"] = "1"
        import torch
        torch.__version__ = "2.12.0+cu128"  # as if this node's environment had another wheel
    """)
    ranks, saved = 4, tmp_path / "fleet.json"
    first = run_cli("fleet", "--python", real_torch_python, "--nproc-per-node", str(ranks), "--timeout", "15",
                    "--gemm-seconds", "0.2", "--max-bytes", str(4 << 20), "--save-snapshot", str(saved),
                    "--project", str(tmp_path), "--color", "never")
    assert first.code == 0, first.stderr  # the findings below are warnings: the job itself ran
    assert "problems found: 0 error(s), 2 warning(s), 0 note(s)" in first.stdout
    assert f"job      {ranks} rank(s) on 1 node(s), gloo, finished" in first.stdout
    assert "link     gloo on the CPU" in first.stdout and "all_reduce" in first.stdout
    fleet = Snapshot.from_json(saved.read_text(encoding="utf-8")).fleet
    assert fleet is not None
    assert fleet.done and fleet.launcher_error is None and not fleet.missing and not fleet.errors
    assert fleet.world_size == ranks and fleet.backend == "gloo"
    assert [r.rank for r in fleet.ranks] == list(range(ranks)) and len({r.pid for r in fleet.ranks}) == ranks
    assert all(r.torch and r.device == "cpu" for r in fleet.ranks)
    assert all(g.tflops and g.tflops > 0 for g in fleet.gemm) and len(fleet.gemm) == ranks
    ops = {(r.op, r.size) for r in fleet.collectives}
    assert ops == {(op, size << 20) for op in ("all_reduce", "all_gather") for size in (1, 4)}  # up to --max-bytes
    found = {d.code: d for d in findings(fleet)}
    assert set(found) == {"TD702", "TD704"}, found
    assert found["TD702"].message.startswith("torch differs between ranks: rank 1: 2.12.0+cu128, where ranks 0, 2, 3 have")
    assert found["TD704"].message == "NCCL_P2P_DISABLE differs between ranks: rank 1: 1, where ranks 0, 2, 3 have not set"
    assert found["TD704"].severity == Severity.WARNING
    replay = run_cli("fleet", "--snapshot", str(saved), "--color", "never")
    assert replay.code == 0 and replay.stdout == first.stdout


def test_a_rank_that_hangs_is_a_finding_within_the_timeout_not_a_hang(real_torch_python, tmp_path, monkeypatch):
    on_one_rank(tmp_path, monkeypatch, "import time\ntime.sleep(3600)\n")
    started = time.monotonic()
    fleet = run_fleet(real_torch_python, FleetOptions(nproc_per_node=2, timeout_s=4.0, gemm_seconds=0.2))
    took = time.monotonic() - started
    assert fleet.done and fleet.missing == {"1": "facts"}
    assert [r.rank for r in fleet.ranks] == [0] and fleet.ranks[0].torch  # the rank that answered is gathered
    assert took < 4.0 + 60  # the phase's timeout, startup and the grace: not the job's whole deadline
    (missing,) = [d for d in findings(fleet) if d.code == "TD701"]
    assert missing.severity == Severity.ERROR and missing.message.startswith("rank 1 did not report its facts within 4 s")


def test_a_job_that_cannot_start_is_one_finding_with_its_last_lines(tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'No module named torch' >&2\nexit 1\n", encoding="utf-8")
    fake.chmod(0o755)
    fleet = run_fleet(str(fake), FleetOptions(nproc_per_node=2, **FAST))
    assert fleet.world_size == 0 and "torchrun exited with 1" in (fleet.launcher_error or "")
    (failed,) = findings(fleet)
    assert failed.code == "TD700" and failed.severity == Severity.ERROR
    assert any("No module named torch" in e.value for e in failed.evidence)


def test_the_cli_refuses_what_it_cannot_do_in_one_line(tmp_path):
    plain = tmp_path / "plain.json"
    plain.write_text((FIXTURES / "snapshots" / "h100-pypi.json").read_text(encoding="utf-8"), encoding="utf-8")
    for argv, expected in [
        (["--snapshot", str(plain)], "a snapshot without fleet results"),
        (["--nnodes", "2", "--nproc-per-node", "8", "--python", "python3"], "--nnodes needs --rdzv-endpoint"),
        (["--results", str(tmp_path / "none.json")], "none.json"),
        (["--timeout", "0"], "--timeout must be a positive"),
        (["--nnodes", "2", "--rdzv-endpoint", "node0:29500"], "--nnodes needs --nproc-per-node"),
    ]:
        result = run_cli("fleet", *argv, "--project", str(tmp_path))
        assert result.code == 2 and expected in result.stderr and "Traceback" not in result.stderr, (argv, result.stderr)


def test_without_a_gpu_the_rank_count_must_be_given(tmp_path):
    from torchdoctor.probes.nvml import probe_nvml

    if probe_nvml().gpus:
        pytest.skip("this machine has an NVIDIA GPU: fleet would start one rank per GPU")
    result = run_cli("fleet", "--python", sys.executable, "--project", str(tmp_path))
    assert result.code == 2 and "no NVIDIA GPU found" in result.stderr and "--nproc-per-node N" in result.stderr


def test_several_nodes_get_the_command_to_run_on_each(tmp_path, real_torch_python):
    result = run_cli("fleet", "--nnodes", "2", "--nproc-per-node", "8", "--rdzv-endpoint", "node0:29500",
                     "--python", real_torch_python, "--project", str(tmp_path))
    assert result.code == 0
    assert "--nnodes=2 --rdzv-backend=c10d --rdzv-endpoint=node0:29500" in result.stdout
    assert "--nproc-per-node=8" in result.stdout and "torchdoctor fleet --results fleet.json" in result.stdout


# --- results files from elsewhere -----------------------------------------------------------------


def test_a_results_file_is_read_as_untrusted_input(tmp_path):
    hostile = {"kind": "torchdoctor-fleet", "world_size": "8", "ranks": {"0": {"host": "a\x1b[31m", "environment":
               {"NCCL_IB_HCA": "mlx5", "WANDB_API_KEY": "secret-123", "X": 5}, "gpu": {"capability": [9, "x"]}},
               "x": [], "99999999999": {}}, "gemm": {"0": {"tflops": float("nan")}}, "collectives": [{"op": "all_reduce"}],
               "missing": {"1": "facts", "2": 7}, "errors": ["nope", {"rank": 1, "phase": "collectives", "error": "boom"}]}
    fleet = parse_results(json.loads(json.dumps(hostile).replace("NaN", "null")))
    rank = fleet.ranks[0]
    assert fleet.world_size == 0 and "\x1b" not in rank.host and rank.environment == {"NCCL_IB_HCA": "mlx5", "WANDB_API_KEY": "<redacted>"}
    assert rank.gpu is not None and rank.gpu.capability is None and [r.rank for r in fleet.ranks] == [0]
    assert fleet.gemm[0].tflops is None and fleet.collectives == () and fleet.missing == {"1": "facts"}
    assert fleet.errors == ("rank 1 (collectives): boom",)
    (tmp_path / "x.json").write_text("[]", encoding="utf-8")
    with pytest.raises(ValueError, match="not a torchdoctor fleet results file"):
        read_results(str(tmp_path / "x.json"))


# --- the rules on recorded and assembled results --------------------------------------------------


def test_bus_bandwidth_is_computed_as_nccl_tests_computes_it():
    # PERFORMANCE.md of nccl-tests: busbw = algbw * 2(n-1)/n for all-reduce, (n-1)/n for all-gather.
    assert bus_factor("all_reduce", 8) == 1.75 and bus_factor("all_gather", 8) == 0.875 and bus_factor("all_reduce", 1) == 0
    algorithm, bus = bandwidths(CollectiveResult("all_reduce", 1 << 30, 0.01), 8)
    assert algorithm == pytest.approx(107.374, rel=1e-4) and bus == pytest.approx(187.9, rel=1e-3)


def gpu_rank(number: int, **gpu) -> FleetRank:
    return FleetRank(rank=number, host="node-a", device=f"cuda:{number}", pid=100 + number, torch="2.11.0+cu130",
                     nccl="2.27.7", driver="580.95.05", gpu=FleetGpu(name="NVIDIA H200", capability=(9, 0), **gpu))


def test_a_slow_gpu_is_named_with_the_process_nvml_saw_on_it():
    fleet = FleetInfo(world_size=4, backend="nccl", done=True, ranks=tuple(gpu_rank(n, power_limit_w=700.0) for n in range(4)),
                      gemm=tuple(FleetGemm(n, "bf16", 8192, tflops=t, processes=(100 + n, *extra), sm_clock_median_mhz=1980)
                                 for n, t, extra in [(0, 640, ()), (1, 650, ()), (2, 330, (4242,)), (3, 645, ())]))
    (slow,) = findings(fleet)
    assert slow.code == "TD705" and slow.message.startswith("rank 2 (node-a, node 0, cuda:2) computes at 51% of its twins")
    assert "1 other process(es) compute on its GPU" in slow.message


def test_collectives_far_below_the_nvlink_of_the_gpus_are_reported_and_normal_ones_are_not():
    ranks = tuple(gpu_rank(n, nvlink_active=18, pcie_gen_max=5, pcie_width_max=16) for n in range(8))
    healthy = FleetInfo(world_size=8, backend="nccl", done=True, ranks=ranks,
                        collectives=(CollectiveResult("all_reduce", 1 << 30, (1 << 30) / 420e9 * 1.75, 20, 1 << 30),))
    assert findings(healthy) == []  # 420 GB/s bus bandwidth on 18 NVLink 4 links (450 GB/s)
    slow = replace(healthy, collectives=(CollectiveResult("all_reduce", 1 << 30, (1 << 30) / 40e9 * 1.75, 20, 1 << 30),))
    (finding,) = findings(slow)
    assert finding.code == "TD707" and finding.message.startswith("all-reduce reaches 40 GB/s bus bandwidth, 9% of the 450 GB/s")
    across_nodes = replace(slow, ranks=tuple(replace(r, host=f"node-{r.rank % 2}") for r in ranks))
    assert findings(across_nodes) == []  # the network decides between nodes: no expectation


def test_recorded_fleet_snapshots_replay_to_their_golden_reports():
    recordings = sorted(RECORDED.glob("*.json"))
    assert recordings, "no recorded fleet snapshots"
    for recording in recordings:
        golden = recording.with_suffix(".txt")
        text = run_cli("fleet", "-v", "--snapshot", str(recording), "--color", "never").stdout
        assert golden.exists() and text == golden.read_text(encoding="utf-8"), f"{golden.name}: regenerate and review"
        assert Snapshot.from_json(recording.read_text(encoding="utf-8")).fleet is not None


ALL_FLEET_CODES = {"TD700", "TD701", "TD702", "TD703", "TD704", "TD705", "TD706", "TD707", "TD708", "TD709", "TD710"}


@pytest.mark.parametrize("recording, expected", [
    ("h200-one-rank", set()),
    # One rank, nobody to compare with, yet NVML listed another process on its GPU (issue 31 item 9: "healthy" before).
    ("h200-one-rank-beside-another-process", {"TD710"}),
    ("h200-two-ranks-on-one-gpu", {"TD706", "TD709"}),  # NCCL's "invalid usage", and its cause
    ("h200-assembled-two-nodes-one-slow", {"TD705"}),
])
def test_each_recording_gets_exactly_its_findings(recording, expected):
    snapshot = Snapshot.from_json((RECORDED / f"{recording}.json").read_text(encoding="utf-8"))
    found = {d.code for d in diagnose(snapshot).diagnoses}
    assert found == expected and not (ALL_FLEET_CODES - expected) & found


def test_td703_another_driver_power_limit_or_a_narrow_link_on_one_rank():
    ranks = [gpu_rank(n, power_limit_w=700.0, pcie_width=16, pcie_width_max=16) for n in range(4)]
    assert findings(FleetInfo(world_size=4, backend="nccl", ranks=tuple(ranks))) == []
    ranks[3] = replace(ranks[3], driver="570.86.15", gpu=replace(ranks[3].gpu, power_limit_w=500.0, pcie_width=8))
    messages = [d.message for d in findings(FleetInfo(world_size=4, backend="nccl", ranks=tuple(ranks))) if d.code == "TD703"]
    assert messages == [
        "driver differs between ranks: rank 3: 570.86.15, where ranks 0, 1, 2 have 580.95.05",
        "power limit (W) differs between ranks: rank 3: 500, where ranks 0, 1, 2 have 700",
        "The PCIe link of rank 3 (node-a, node 0, cuda:3) runs at x8 of its x16",
    ]


def test_td708_a_node_whose_gpus_cannot_reach_each_other():
    ranks = [replace(gpu_rank(0), p2p=((True, False), (False, True))), gpu_rank(1)]
    (finding,) = findings(FleetInfo(world_size=2, backend="nccl", ranks=tuple(ranks)))
    assert finding.code == "TD708" and "2 GPU pair(s) have no peer access: 0→1, 1→0" in finding.message
    ranks[0] = replace(ranks[0], p2p=((True, True), (True, True)))
    assert findings(FleetInfo(world_size=2, backend="nccl", ranks=tuple(ranks))) == []  # no TD708


def test_td709_needs_the_same_gpu_on_the_same_host_and_td700_only_a_job_without_results():
    same = [replace(gpu_rank(n), gpu=FleetGpu(name="NVIDIA H200", uuid="abc")) for n in range(2)]
    assert [d.code for d in findings(FleetInfo(world_size=2, backend="nccl", ranks=tuple(same)))] == ["TD709"]
    apart = [replace(rank, host=f"node-{rank.rank}") for rank in same]
    assert findings(FleetInfo(world_size=2, backend="nccl", ranks=tuple(apart))) == []  # no TD709, no TD700


def test_fleet_json_carries_each_collectives_algorithm_and_bus_bandwidth(tmp_path):
    """As nccl-tests prints them (issue 31 item 9: the JSON had bytes and seconds only). The recordings come from one
    lent GPU, which runs no collective: the two-node assembly is given an all-reduce of 1 GiB in 5.1 ms."""
    recorded = Snapshot.from_json((RECORDED / "h200-assembled-two-nodes-one-slow.json").read_text(encoding="utf-8"))
    raw = CollectiveResult("all_reduce", 1 << 30, 0.0051, 20, 1 << 30)
    saved = tmp_path / "fleet.json"
    saved.write_text(replace(recorded, fleet=replace(recorded.fleet, collectives=(raw,))).to_json(), encoding="utf-8")
    plain = json.loads(run_cli("fleet", "--snapshot", str(saved), "--format", "json").stdout)
    [rate] = plain["collectives"]
    assert rate["algorithm_gb_per_s"] == pytest.approx((1 << 30) / 0.0051 / 1e9)
    assert rate["bus_gb_per_s"] == pytest.approx(rate["algorithm_gb_per_s"] * 2 * (2 - 1) / 2)  # nccl-tests' 2(n-1)/n
    assert (rate["op"], rate["bytes"], rate["iterations"]) == ("all_reduce", 1 << 30, 20)
