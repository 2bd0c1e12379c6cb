"""Triage: the cause of a problem from what a user pasted, with the rules `check` runs.

The text is read into facts (probes/pasted.py), each with its line; the facts become a Snapshot whose unread parts
are "not probed" (never absent: a GPU nobody named is unknown, not missing), and the rules whose facts a paste can
carry run on it (PASTE_RULES). The error lines are symptoms (checks/symptoms.py): a rule finding that explains one
comes first ("the error you pasted is explained by …"); a symptom no fact confirms is named as the likely cause, a
warning at most, with what to paste to decide; and when nothing fits, the report says so.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, replace

from torchdoctor import __version__
from torchdoctor.checks import run_checks
from torchdoctor.checks.symptoms import CAUSES, symptoms_in
from torchdoctor.knowledge import knowledge, parse_arch, parse_capability
from torchdoctor.model import Diagnosis, Evidence, Report, Severity
from torchdoctor.probes.pasted import MAX_BYTES, Fact, PastedFacts, read_pasted
from torchdoctor.snapshot import (
    InterpreterInfo,
    NvmlGpu,
    NvmlInfo,
    ProjectInfo,
    Snapshot,
    SystemInfo,
    TorchDevice,
    TorchInfo,
)

PASTE_RULES = ("TD120", "TD121", "TD122", "TD123", "TD130", "TD201", "TD220", "TD221", "TD230", "TD524", "TD525")
"""The rules that run on pasted facts: each reads only facts a paste states (the GPU, the driver, the torch build,
package versions, an error torch printed) and stays silent when one it needs is None. The others read what only a
probe sees (files, devices, the environment, the project) and would take "not pasted" for "not there": TD231 among
them, which takes a machine not known to be a container for a host (a paste rarely says; NVML's refusal inside an
image with its own driver reads the same, and a reboot cures nothing there), so a pasted mismatch stays a symptom
with both causes named unless the text shows a container's shell (TD525)."""

CAUSE_OF_RULE = {code: cause.id for cause in CAUSES.values() for code in cause.rules}


@dataclass(frozen=True)
class Triage:
    facts: PastedFacts
    snapshot: Snapshot
    findings: tuple[Diagnosis, ...]
    """Ranked: the finding that explains the pasted error first."""
    symptoms: tuple[tuple[int, str, tuple[str, ...]], ...]
    explained: bool
    """Whether a rule's finding, confirmed by the pasted facts, explains a pasted error (it is then first)."""

    @property
    def fails(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.findings)


def triage(text: str) -> Triage:
    facts = read_pasted(text)
    snapshot = pasted_snapshot(facts)
    found = [d for d in run_checks(snapshot) if d.code in PASTE_RULES
             and (d.code != "TD201" or _cpu_build_stated(facts))]
    if snapshot.torch.torch_installs and len(snapshot.torch.torch_installs) > 1:
        # The listed companions belong to the torch listed beside them, not to the one Python imports: comparing them
        # with the imported one mixes two installs' facts. The two torches are the finding (TD122).
        found = [d for d in found if d.code != "TD120"]
    symptoms = tuple(symptoms_in(_lines(text)))
    candidates = _ordered(list(dict.fromkeys(cause for _, _, causes in symptoms for cause in causes)), snapshot)
    explaining = sorted((d for d in found if cause_of(d) in candidates),
                        key=lambda d: candidates.index(cause_of(d) or ""))  # the likelier cause first
    others = sorted((d for d in found if d not in explaining), key=lambda d: d.severity, reverse=True)
    likely = _unconfirmed(candidates, symptoms, {cause_of(d) for d in found})
    ranked = tuple(explaining + likely + others)
    return Triage(facts, snapshot, ranked, symptoms, bool(explaining))


def with_symptom(report: Report, text: str) -> Report:
    """`check --symptom`: the live report with the finding that explains the pasted error first, or, when none does,
    the error's likely cause (TD800) first, with what would confirm it."""
    symptoms = symptoms_in(_lines(text))
    candidates = _ordered(list(dict.fromkeys(cause for _, _, causes in symptoms for cause in causes)), report.snapshot)
    explaining = [d for d in report.diagnoses if cause_of(d) in candidates]
    likely = _unconfirmed(candidates, symptoms, {cause_of(d) for d in report.diagnoses})
    rest = [d for d in report.diagnoses if d not in explaining]
    return replace(report, diagnoses=tuple(explaining + likely + rest))


def _cpu_build_stated(facts: PastedFacts) -> bool:
    """A Snapshot's torch without CUDA is a CPU build; a paste may say nothing of the build's CUDA ("Could not collect",
    a version without its +tag), which is unknown: TD201 is kept only when the text states a CPU build."""
    version = (facts.torch_version or facts.packages.get("torch"))
    return (facts.torch_cuda is not None and facts.torch_cuda.value == "None") or (
        version is not None and version.value.endswith("+cpu"))


def _ordered(candidates: list[str], snapshot: Snapshot) -> list[str]:
    """The candidate causes of the pasted errors, the one the facts make likelier first: a GPU older than every
    architecture of today's builds is "too old" rather than "too new"; NVML's mismatch inside a container is the image's
    driver rather than a missing reboot."""
    def weight(cause: str) -> int:
        capabilities = [g.compute_capability for g in snapshot.nvml.gpus if g.compute_capability]
        oldest = _oldest_arch_today()
        if cause == "gpu-too-old-for-build" and capabilities and oldest and min(capabilities) < oldest:
            return -1
        if cause == "driver-in-container-image" and snapshot.system.container:
            return -1
        if cause == "mixed-installs" and snapshot.torch.torch_installs and len(snapshot.torch.torch_installs) > 1:
            return -1  # two torches stated: the mismatch or the missing library is their effect
        return 0

    return sorted(candidates, key=weight)


def _oldest_arch_today() -> tuple[int, int] | None:
    """The oldest architecture the newest torch release's default CUDA build carries."""
    kb = knowledge()
    newest = kb.newest_release
    archs = kb.arch_list(newest.latest, newest.pypi_linux_cuda) if newest.pypi_linux_cuda else None
    targets = [parse_arch(a) for a in archs or ()]
    capabilities = [t.capability for t in targets if t is not None]
    return min(capabilities) if capabilities else None


def cause_of(diagnosis: Diagnosis) -> str | None:
    """The cause a finding names, in the symptoms' vocabulary."""
    if diagnosis.code == "TD800":
        return diagnosis.message.split(":", 1)[0]
    if diagnosis.code == "TD120":
        return "torchaudio-torch-mismatch" if "torchaudio" in diagnosis.message else "torchvision-torch-mismatch"
    return CAUSE_OF_RULE.get(diagnosis.code)


def _lines(text: str) -> list[tuple[int, str]]:
    """The text's lines, numbered as an editor numbers them, within the reader's caps (1 MiB, 20,000 lines)."""
    return list(enumerate(text[:MAX_BYTES].split("\n")[:20000], start=1))


def _unconfirmed(candidates: list[str], symptoms: Iterable[tuple[int, str, tuple[str, ...]]],
                 confirmed: set[str | None]) -> list[Diagnosis]:
    """The likely causes (TD800) of the errors no finding explains. An error a finding explains (the GPU is newer than
    the build: TD220) needs no other cause named beside it: its other candidates (the GPU older than the build) are
    not said, the facts having decided between them."""
    unexplained = [(n, line, causes) for n, line, causes in symptoms if not confirmed & set(causes)]
    wanted = {cause for _, _, causes in unexplained for cause in causes}
    return [_likely(cause, unexplained) for cause in candidates if cause in wanted and cause not in confirmed]


def _likely(cause_id: str, symptoms: Iterable[tuple[int, str, tuple[str, ...]]]) -> Diagnosis:
    """A cause the pasted error points to that no fact confirms: a warning when the error has no other known cause, a
    note when it has several; never an error."""
    cause = CAUSES[cause_id]
    lines = [(n, line) for n, line, causes in symptoms if cause_id in causes]
    alone = any(len(causes) == 1 for _, _, causes in symptoms if cause_id in causes)
    decide = f" To confirm, paste {cause.decide}." if cause.decide else ""
    return Diagnosis(
        code="TD800", slug="pasted-error-points-to-cause", severity=Severity.WARNING if alone else Severity.INFO,
        message=f"{cause_id}: the error you pasted points to this: {cause.title}",
        explanation=f"The pasted text shows the error this cause produces; the facts that would confirm it were not in "
                    f"the text.{decide} The usual remedy: {cause.remedy}.",
        evidence=tuple(Evidence("pasted error", line[:300], f"line {n}") for n, line in lines[:3]),
    )


def pasted_snapshot(facts: PastedFacts) -> Snapshot:
    """The facts as a Snapshot: what was pasted is set, everything else is "not probed" or None."""
    created = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    reason = "pasted text: not probed"
    torch_version = _value(facts.torch_version) or _value(facts.packages.get("torch"))
    cuda = _torch_cuda(facts, torch_version)
    kb = knowledge()
    gpus = tuple(NvmlGpu(index=i, name=f.value, compute_capability=kb.capability_of_name(f.value))
                 for i, f in enumerate(facts.gpus))
    stated = _sm_text(facts.gpu_sm.value) if facts.gpu_sm is not None else None
    if not gpus and stated is not None:
        gpus = (NvmlGpu(index=0, name=f"a GPU of compute capability {stated}", compute_capability=parse_capability(stated)),)
    driver_cuda = _driver_cuda(facts.driver_cuda)
    nvml = (NvmlInfo(status="ok", driver_version=_value(facts.driver_version), cuda_driver_version=driver_cuda,
                     gpus=gpus) if gpus or facts.driver_version or driver_cuda else NvmlInfo(status="not-probed", error=reason))
    if facts.nvml_error is not None:  # nvidia-smi's own words: NVML could not start
        said = facts.nvml_error.value
        nvml = NvmlInfo(status="error", error=said, error_code=18 if "version mismatch" in said.lower() else None,
                        driver_version=None, gpus=())
    packages = {name: f.value for name, f in facts.packages.items() if name != "torch"}
    imported, listed = facts.torch_version, facts.packages.get("torch")
    installs = None
    if imported is not None and listed is not None and _release(imported.value) != _release(listed.value):
        # collect_env's "PyTorch version" is the torch Python imports; pip's or conda's list, the one installed there.
        installs = (f"torch {imported.value} (imported; line {imported.line})",
                    f"torch {listed.value} ({listed.kind} list; line {listed.line})")
    torch = TorchInfo(status="not-probed", error=reason, cuda_error=_value(facts.cuda_error))
    if torch_version:
        torch = TorchInfo(
            status="ok", version=torch_version, installed_version=torch_version,
            local_tag=torch_version.split("+", 1)[1] if "+" in torch_version else None, cuda=cuda,
            cuda_available=None if facts.cuda_available is None else facts.cuda_available.value == "True",
            arch_list=tuple(facts.arch_list.value.split()) if facts.arch_list else (), packages=packages,
            python_version=_value(facts.python_version), cuda_error=_value(facts.cuda_error),
            devices=tuple(TorchDevice(g.index, g.name or "", g.compute_capability, 0) for g in gpus if g.compute_capability),
            torch_installs=installs,
        )
    system = SystemInfo(os_name="Windows" if facts.os and "windows" in facts.os.value.lower() else "Linux",
                        os_release=_value(facts.os), wsl="wsl2" if facts.wsl else None,
                        container=_value(facts.container), nvidia_kernel_driver=_value(facts.kernel_module),
                        system_driver_libraries=(f"/pasted/libnvidia-ml.so.{facts.nvml_library.value}",)
                        if facts.nvml_library else ())
    return Snapshot(created_at=created, torchdoctor_version=__version__,
                    interpreter=InterpreterInfo(path="", source="pasted", reason="the pasted text", exists=False),
                    torch=torch, nvml=nvml, system=system, project=ProjectInfo(root="", found_by="pasted text"))


def _release(version: str) -> str:
    """"2.6.0+cu126" -> "2.6.0": two torches differ when their releases do (a build tag alone may be a reading gap)."""
    return version.split("+", 1)[0].strip()


def _value(fact: Fact | None) -> str | None:
    return fact.value if fact is not None else None


def _sm_text(value: str) -> str | None:
    """"120" or "12.0" as "12.0"; None for anything that is no compute capability ("sm_1")."""
    text = value if "." in value else (f"{value[:-1]}.{value[-1]}" if len(value) >= 2 else "")
    major, _, minor = text.partition(".")
    return text if major.isdigit() and minor.isdigit() else None


def _torch_cuda(facts: PastedFacts, version: str | None) -> str | None:
    """The CUDA the build was made for: collect_env's line, else the version's +cuXYZ tag."""
    if facts.torch_cuda is not None:
        return None if facts.torch_cuda.value == "None" else facts.torch_cuda.value
    tag = version.split("+", 1)[1] if version and "+" in version else ""
    if tag.startswith("cu") and tag[2:].isdigit() and len(tag) >= 5:
        return f"{tag[2:-1]}.{tag[-1]}"
    return None


def _driver_cuda(fact: Fact | None) -> int | None:
    """"12.2" (nvidia-smi) or "11040" (torch's error) as CUDA's encoded version (12020)."""
    if fact is None:
        return None
    if fact.value.isdigit():
        return int(fact.value)
    major, _, minor = fact.value.partition(".")
    return int(major) * 1000 + int(minor or 0) * 10 if major.isdigit() and (minor or "0").isdigit() else None

