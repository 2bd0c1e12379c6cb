"""The report of `torchdoctor fleet`: a row per rank, the collectives' bandwidth against the link, the findings."""

from __future__ import annotations

from torchdoctor.collectives import LARGE_BYTES, collective_rates, expected_link
from torchdoctor.knowledge import knowledge
from torchdoctor.model import Report
from torchdoctor.render.text import diagnosis_lines, summary_line
from torchdoctor.snapshot import FleetInfo


def size_text(size: int) -> str:
    return f"{size >> 30} GB" if size >= 1 << 30 else f"{size >> 20} MB"


def rate_text(tflops: float | None, dtype: str) -> str:
    if not tflops:
        return "-"
    return f"{tflops:.1f} TFLOP/s {dtype}" if tflops >= 1 else f"{tflops * 1000:.0f} GFLOP/s {dtype}"


def rank_rows(fleet: FleetInfo) -> tuple[list[str], list[list[str]]]:
    """(headers, rows) of the ranks table: the facts that differ between nodes, and each rank's GEMM rate."""
    gemm = {g.rank: g for g in fleet.gemm}
    headers = ["rank", "node", "host", "device", "torch", "NCCL", "driver", "GPU", "power", "GEMM"]
    rows: list[list[str]] = []
    numbers = sorted({r.rank for r in fleet.ranks} | {int(n) for n in fleet.missing})
    silent: list[int] = []  # consecutive ranks that did not report in the same phase: one row for the run

    def flush() -> None:
        if silent:
            phase = fleet.missing.get(str(silent[0]), "not run")
            label = str(silent[0]) if len(silent) == 1 else f"{silent[0]}-{silent[-1]}"
            rows.append([label, "?", "?", "did not report" if len(silent) == 1 else f"did not report ({len(silent)})",
                         "", "", "", "", "", f"no result ({phase})"])
            silent.clear()

    for number in numbers:
        rank = fleet.rank(number)
        result = gemm.get(number)
        if rank is None and result is None and str(number) in fleet.missing:
            if silent and (number != silent[-1] + 1 or fleet.missing[str(number)] != fleet.missing[str(silent[0])]):
                flush()
            silent.append(number)
            continue
        flush()
        if result is None:
            rate = f"no result ({fleet.missing.get(str(number), 'not run')})" if str(number) in fleet.missing else "-"
        elif result.error:
            rate = f"failed: {result.error[:40]}"
        else:
            rate = rate_text(result.tflops, result.dtype)
        if rank is None:
            rows.append([str(number), "?", "?", "did not report", "", "", "", "", "", rate])
            continue
        gpu = rank.gpu
        rows.append([str(number), str(rank.node_rank), rank.host, rank.device, rank.torch or "-", rank.nccl or "-",
                     rank.driver or "-", (gpu.name or "-") if gpu else "-",
                     f"{gpu.power_limit_w:.0f} W" if gpu and gpu.power_limit_w else "-", rate])
    flush()
    return headers, rows


def collective_rows(fleet: FleetInfo) -> tuple[list[str], list[list[str]]]:
    """(headers, rows): bus bandwidth in GB/s per op and size, as nccl-tests reports it (collectives.collective_rates,
    which the Report carries too)."""
    rates = collective_rates(fleet)
    sizes = sorted({r.size or r.bytes for r in fleet.collectives})
    headers = ["bus GB/s", *(size_text(s) for s in sizes)]
    rows = []
    for op in ("all_reduce", "all_gather"):
        results = {r.size or r.bytes: r for r in fleet.collectives if r.op == op}
        bus = {(r.op, r.bytes): r.bus_gb_per_s for r in rates}
        if results:
            rows.append([op, *(f"{bus[(op, results[s].bytes)]:.1f}" if s in results and (op, results[s].bytes) in bus
                               else "-" for s in sizes)])
    return headers, rows


def table(headers: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)] if rows else [len(h) for h in headers]

    def line(cells: list[str]) -> str:
        return indent + "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return [line(headers), *(line(row) for row in rows)]


def link_line(fleet: FleetInfo) -> str:
    """What the collectives are judged against, or why they are not."""
    link = expected_link(fleet)
    if link is not None:
        return (f"{link[1]} (the slowest rank's); bus bandwidth at {size_text(LARGE_BYTES)} or more below"
                f" {knowledge().nvlink_slow_below:.0%} of it is reported")
    if fleet.backend != "nccl":
        return "gloo on the CPU: the bandwidth is the machine's memory and loopback, not a GPU link; no expectation"
    if len({r.host for r in fleet.ranks}) > 1:
        return "several nodes: the network between them decides, which NVML does not describe; no expectation"
    if len(fleet.ranks) < 2:
        return "one rank: nothing to measure between GPUs"
    return "not known for every rank (NVML gave no NVLink or PCIe facts): no expectation"


def render_fleet(report: Report, *, color: bool = False, verbose: bool = False) -> str:
    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    snapshot = report.snapshot
    fleet = snapshot.fleet
    lines = [paint(f"torchdoctor {snapshot.torchdoctor_version}", "1") + " — fleet"]
    if fleet is None:
        return "\n".join([*lines, "no fleet results in this snapshot", ""]) + "\n"
    nodes = len({(r.node_rank, r.host) for r in fleet.ranks})
    state = "finished" if fleet.done else "did not finish"
    lines += ["", f"job      {fleet.world_size} rank(s) on {nodes} node(s), {fleet.backend or '?'}, {state}"]
    if fleet.command:
        lines.append(f"command  {fleet.command}")
    if fleet.ranks or fleet.missing:
        lines += ["", *table(*rank_rows(fleet))]
    if fleet.collectives:
        lines += ["", *table(*collective_rows(fleet))]
    if fleet.world_size:
        lines += ["", f"link     {link_line(fleet)}"]
    p2p = [r for r in fleet.ranks if r.p2p and len(r.p2p) > 1]
    for rank in p2p if verbose else []:
        lines.append(f"p2p      node {rank.node_rank}: " + " | ".join("".join("1" if ok else "0" for ok in row) for row in rank.p2p))
    lines.append("")
    for diagnosis in report.diagnoses:
        lines.extend(diagnosis_lines(diagnosis, paint, "", verbose=verbose))
        lines.append("")
    lines.append(summary_line(report).split(" · ")[0])
    if not verbose and any(d.evidence for d in report.diagnoses):
        lines.append(paint("the facts behind each finding: run it again with -v", "2"))
    return "\n".join(lines) + "\n"
