"""`torchdoctor triage`: the cause from pasted text. Real outputs (the recorded H100/H200 machines' nvidia-smi, -q,
/proc/driver/nvidia/version, collect_env and pip list; this machine's own collect_env of a real CPU torch), error lines
as PyTorch, NVIDIA's tools and pip print them, and arbitrary text, which must never crash the reader.
The measure on real threads is benchmarks/triage_corpus.py."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, run_cli
from torchdoctor.model import Severity
from torchdoctor.probes.pasted import MAX_BYTES, read_pasted
from torchdoctor.render.triage import render_triage_markdown, render_triage_text
from torchdoctor.workflow.triage import cause_of, triage

CAPTURES = FIXTURES / "captures"
K80_NO_KERNEL = ("GPU 0: Tesla K80 (UUID: GPU-1)\n"
                 "RuntimeError: CUDA error: no kernel image is available for execution on the device\n")


@pytest.mark.parametrize("machine", ["h100", "h200"])
def test_a_healthy_machines_real_outputs_are_read_and_stay_silent(machine):
    """nvidia-smi (table and -q), /proc/driver/nvidia/version, collect_env and pip list of a driver 580 machine with
    torch 2.11.0+cu130: every fact read with its line, and nothing to report."""
    facts = read_pasted((CAPTURES / f"{machine}-pasted.txt").read_text(encoding="utf-8"))
    assert [g.value for g in facts.gpus] == [f"NVIDIA {machine.upper()}" + (" 80GB HBM3" if machine == "h100" else "")] \
        or facts.gpus[0].value.startswith(f"NVIDIA {machine.upper()}")
    assert facts.driver_version.value == "580.159.04" and facts.driver_cuda.value == "13.0"
    assert facts.kernel_module.value == "580.159.04"
    assert facts.torch_version.value == "2.11.0+cu130" and facts.torch_cuda.value == "13.0"
    assert facts.cuda_available.value == "True"
    assert facts.packages["torchvision"].value == "0.26.0" and facts.packages["triton"].value == "3.6.0"
    result = triage((CAPTURES / f"{machine}-pasted.txt").read_text(encoding="utf-8"))
    assert not [d for d in result.findings if d.severity >= Severity.WARNING], result.findings
    assert "no problem found in what was pasted" in render_triage_text(result)


@pytest.mark.real_torch
def test_this_machines_real_collect_env_of_a_cpu_torch_beside_an_nvidia_gpu_is_a_cpu_build_error(real_torch_python):
    """A real collect_env (this machine's CPU torch) pasted with an H100's nvidia-smi: the rule `check` runs names the
    CPU build, as an error, and it explains the pasted "Torch not compiled with CUDA enabled"."""
    collect_env = subprocess.run([real_torch_python, "-m", "torch.utils.collect_env"], capture_output=True, text=True,
                                 timeout=120).stdout
    nvidia_smi = (CAPTURES / "h100-pasted.txt").read_text(encoding="utf-8").split("$ cat /proc")[0]
    error = "AssertionError: Torch not compiled with CUDA enabled\n"
    result = triage(collect_env + "\n" + nvidia_smi + error)
    import torch

    assert result.facts.torch_version.value == torch.__version__
    # torch 2.13's collect_env says "Could not collect" for a CPU build's CUDA: not read, and the +cpu tag decides
    assert result.facts.torch_cuda is None or result.facts.torch_cuda.value == "None"
    assert result.snapshot.torch.cuda is None
    first = result.findings[0]
    assert first.code == "TD201" and first.severity is Severity.ERROR and result.explained
    assert cause_of(first) == "cpu-only-build"


def test_an_error_alone_names_its_cause_as_a_warning_and_says_what_to_paste():
    result = triage("Failed to initialize NVML: Driver/library version mismatch\n")
    # On a host a reboot cures it; inside an image with its own driver nothing but a rebuild does. The text does not say
    # which: both are named, neither as an error (real threads of both: tests/fixtures/reports/).
    assert [cause_of(d) for d in result.findings] == ["driver-kernel-module-mismatch", "driver-in-container-image"]
    assert all(d.severity is Severity.INFO for d in result.findings)
    inside = triage("root@5561000296a4:~# nvidia-smi\nFailed to initialize NVML: Driver/library version mismatch\n"
                    "NVML library version: 610.43\n")
    assert inside.findings[0].code == "TD800" and cause_of(inside.findings[0]) == "driver-in-container-image"
    only_error = triage("torch.cuda.is_available() is False\nUserWarning: CUDA initialization: The NVIDIA driver on "
                        "your system is too old (found version 11040)\n")
    assert cause_of(only_error.findings[0]) == "driver-too-old-for-build"
    assert only_error.findings[0].severity is Severity.WARNING and "To confirm, paste" in only_error.findings[0].explanation
    assert all(d.severity is not Severity.ERROR for d in only_error.findings)


def test_the_facts_decide_between_the_causes_of_one_error():
    """"no kernel image" is a GPU too new or too old for the build: a Kepler GPU is older than every build today."""
    result = triage(K80_NO_KERNEL)
    assert cause_of(result.findings[0]) == "gpu-too-old-for-build"
    blackwell = triage("GPU 0: NVIDIA GeForce RTX 5090 (UUID: GPU-1)\n" + K80_NO_KERNEL.split("\n", 1)[1])
    assert cause_of(blackwell.findings[0]) == "gpu-too-new-for-build"


def test_a_driver_older_than_the_build_is_confirmed_from_nvidia_smi_and_the_torch_version():
    header = "| NVIDIA-SMI 470.82.01    Driver Version: 470.82.01    CUDA Version: 11.4     |\n"
    result = triage(header + "torch==2.5.1+cu124\nRuntimeError: The NVIDIA driver on your system is too old\n")
    first = result.findings[0]
    assert first.code == "TD230" and first.severity is Severity.ERROR and result.explained


def test_what_was_not_pasted_is_unknown_and_the_report_asks_for_it():
    result = triage("RuntimeError: CUDA error: no kernel image is available for execution on the device\n")
    text = render_triage_text(result)
    assert "unknown (not in the text" in text and "nvidia-smi -L" in text and "collect_env" in text
    assert all(d.severity is not Severity.ERROR for d in result.findings)
    markdown = render_triage_markdown(result)
    assert markdown.startswith("### torchdoctor triage") and "**Not in the text**" in markdown


def test_nothing_known_is_said_plainly():
    result = triage("my training loop is slow, any ideas?\n")
    assert not result.findings and "no problem found" in render_triage_text(result)
    odd = triage("Traceback (most recent call last):\nValueError: something unrelated happened\n")
    assert not odd.findings


def test_the_cli_reads_stdin_and_files_and_says_when_a_file_cannot_be_read(tmp_path):
    pasted = tmp_path / "report.txt"
    pasted.write_text("Failed to initialize NVML: Driver/library version mismatch\n", encoding="utf-8")
    result = run_cli("triage", str(pasted), "--format", "json")
    assert result.code == 0, result.stderr  # no error: the likely causes are named, neither confirmed
    report = json.loads(result.stdout)
    assert report["findings"][0]["code"] == "TD800" and report["symptoms"][0]["line"] == 1
    confirmed = tmp_path / "confirmed.txt"
    confirmed.write_text("| NVIDIA-SMI 470.82.01    Driver Version: 470.82.01    CUDA Version: 11.4     |\n"
                         "torch==2.5.1+cu124\n", encoding="utf-8")
    assert run_cli("triage", str(confirmed)).code == 1
    piped = subprocess.run([sys.executable, "-m", "torchdoctor", "triage", "-"], input="nothing here\n",
                           capture_output=True, text=True, timeout=60)
    assert piped.returncode == 0 and "no problem found" in piped.stdout
    missing = run_cli("triage", str(tmp_path / "nope.txt"))
    assert missing.code == 2 and "cannot read" in missing.stderr and "Traceback" not in missing.stderr


def test_secrets_and_control_characters_in_the_paste_are_not_echoed_and_size_is_capped():
    text = ("torch==2.5.1+cu124\n"
            "GPU: NVIDIA GeForce RTX 4090\x1b[31m\n"
            "pip install torch --index-url https://reader:s3cret@mirror.example/whl/cu124\n"
            "ERROR: No matching distribution found for torch\n")
    rendered = render_triage_text(triage(text))
    assert "s3cret" not in rendered and "\x1b" not in rendered
    huge = triage("x" * (MAX_BYTES + 10) + "\nFailed to initialize NVML: Driver/library version mismatch\n")
    assert huge.facts.truncated


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=3000))
def test_arbitrary_text_never_crashes_the_reader_or_the_report(text):
    result = triage(text)
    render_triage_text(result)
    render_triage_markdown(result)
    assert all(d.severity is not Severity.ERROR or d.code != "TD800" for d in result.findings)


def test_check_with_a_symptom_puts_the_finding_that_explains_it_first(tmp_path):
    """A report on a machine (the recorded H100, which runs in a Docker container) with an error the user saw: its
    likely cause leads, chosen by the machine's facts: NVML's mismatch inside a container is the image's driver."""
    from conftest import SNAPSHOTS

    error = tmp_path / "error.txt"
    error.write_text("Failed to initialize NVML: Driver/library version mismatch\n", encoding="utf-8")
    result = run_cli("check", "--snapshot", str(SNAPSHOTS / "h100-pypi.json"), "--symptom", str(error),
                     "--format", "json", "--project", str(tmp_path))
    findings = json.loads(result.stdout)["diagnoses"]
    assert findings[0]["code"] == "TD800" and findings[0]["message"].startswith("driver-in-container-image")
    assert findings[1]["message"].startswith("driver-kernel-module-mismatch")


def test_the_lent_h100s_own_outputs_pasted_read_healthy():
    """nvidia-smi, nvidia-smi -q and collect_env as the lent H100 printed them (2026-12-06), pasted together."""
    folder = CAPTURES / "h100-live-2026-12-06"
    text = "\n".join((folder / name).read_text(encoding="utf-8") for name in ("nvidia-smi.txt", "nvidia-smi-q.txt",
                                                                          "collect_env.txt"))
    result = triage(text)
    assert result.facts.gpus[0].value == "NVIDIA H100 80GB HBM3" and result.facts.driver_version.value == "580.159.04"
    assert result.facts.torch_version.value == "2.11.0+cu130"
    assert not [d for d in result.findings if d.severity >= Severity.WARNING], result.findings


def test_an_issue_templates_list_of_facts_is_read_and_names_the_cause():
    """pytorch issue templates and app bug forms state facts as a Markdown list ("- GPU: NVIDIA GeForce GTX 1050
    (compute capability 6.1)", "- PyTorch: 2.8.0+cu128"): nothing of it was read, and "no kernel image" was left
    between two causes. Read, the GTX 1050 (Pascal) is too old for 2.8's cu128 build: TD221, first."""
    from torchdoctor.workflow.triage import triage

    text = next((FIXTURES / "triage").glob("49-*.txt")).read_text(encoding="utf-8")
    result = triage(text)
    assert result.facts.gpu_sm is not None and result.facts.gpu_sm.value == "6.1"
    assert result.facts.torch_version is not None and result.facts.torch_version.value == "2.8.0+cu128"
    assert [g.value for g in result.facts.gpus] == ["NVIDIA GeForce GTX 1050"]
    assert result.findings[0].code == "TD221" and result.explained


def test_an_error_wrapped_over_two_lines_is_still_recognised():
    """NumPy's "A module that was compiled using NumPy 1.x cannot be run in\\nNumPy 2.1.1" wraps where the symptom's
    words meet: read with the next line, it points to the NumPy 2 ABI cause."""
    from torchdoctor.workflow.triage import cause_of, triage

    text = next((FIXTURES / "triage").glob("10-*.txt")).read_text(encoding="utf-8")
    assert cause_of(triage(text).findings[0]) == "numpy2-abi"


def test_collect_env_importing_another_torch_than_pip_lists_is_two_installs_not_a_companion_mismatch():
    """pytorch/vision#9174: pip lists torch 2.8.0 and torchvision 0.23.0, collect_env imports torch 2.6.0 (another
    environment's). torchvision 0.23 against the imported 2.6 was an error naming the wrong cause; the two torches are
    the finding (TD122), first, and no error claims a companion mismatch."""
    from torchdoctor.model import Severity
    from torchdoctor.workflow.triage import cause_of, triage

    text = next((FIXTURES / "triage" / "batch2").glob("55-*.txt")).read_text(encoding="utf-8")
    result = triage(text)
    assert result.findings[0].code == "TD122" and cause_of(result.findings[0]) == "mixed-installs"
    assert "Python imports torch 2.6.0" in result.findings[0].message
    assert not [d for d in result.findings if d.severity is Severity.ERROR]


NO_KERNEL = "RuntimeError: CUDA error: no kernel image is available for execution on the device\n"


@pytest.mark.parametrize("prose, named", [
    ("I have an RTX 5090 and torch 2.5.1+cu124", "RTX 5090"),
    ("My GPU is a GeForce RTX 5060 Ti, torch==2.5.1+cu124", "GeForce RTX 5060 Ti"),
    ("NVIDIA GeForce RTX 5090, torch 2.5.1+cu124", "NVIDIA GeForce RTX 5090"),
])
def test_a_gpu_named_in_prose_is_read_and_decides_the_cause(prose, named):
    """People write the GPU in a sentence ("I have an RTX 5090"); read from there, with its line, it is the fact that
    decides between the error's causes: the finding is the confirmed one, said from the pasted text (never "NVML"), and
    the error's other candidate (the GPU older than the build) is not named beside it."""
    result = triage(prose + "\n" + NO_KERNEL)
    assert [(g.value, g.line) for g in result.facts.gpus] == [(named, 1)]
    first = result.findings[0]
    assert first.code == "TD220" and first.severity is Severity.ERROR and result.explained
    assert any(e.source == "the pasted text" and "compute capability 12.0" in e.value for e in first.evidence)
    assert not [d for d in result.findings if d.code == "TD800"]


@pytest.mark.parametrize("prose", [
    "it works on my RTX 4090 but fails on the RTX 5090",  # two GPUs: which one failed is not for the reader to guess
    "see https://example.com/H100-guide for details",  # a name inside a URL
    "the RTX 9990 we ordered",  # a name NVIDIA's tables do not know
])
def test_prose_that_names_no_single_known_gpu_leaves_the_gpu_unknown(prose):
    assert read_pasted(prose + "\n" + NO_KERNEL).gpus == ()


# Read from real threads that were not in the frozen corpus (gathered later to judge triage, issue 30), each reading a
# form the reader had not met: the program's log line, a const member's mangled name, torchaudio's older module.

def test_a_programs_log_line_gives_torch_and_a_cpu_build_beside_a_named_gpu_is_the_cause():
    """NicolasDiolez/360Extractor#9: "[INFO] PyTorch Version: 2.8.0+cpu" on Windows with an RTX 4070 Super."""
    result = triage("I'm running on Windows 11 with an nVidia RTX 4070 Super, latest driver installed.\n"
                    "[INFO] PyTorch Version: 2.8.0+cpu\n[INFO] CUDA Available: False\n")
    assert result.facts.torch_version is not None and result.facts.torch_version.value == "2.8.0+cpu"
    assert cause_of(result.findings[0]) == "cpu-only-build"


@pytest.mark.parametrize("error, cause", [
    # rusty1s/pytorch_cluster#100: a const member function of c10 mangles as _ZNK3c10...
    ("OSError: /envs/py38/lib/python3.8/site-packages/torch_cluster/_grid_cuda.so: undefined symbol: "
     "_ZNK3c104Type14isSubtypeOfExtESt10shared_ptrIS0_EPSo", "extension-built-for-other-torch"),
    # pytorch/audio#171: torchaudio's older compiled module, _torch_sox.
    ("ImportError: ...audio/_torch_sox.cpython-36m-x86_64-linux-gnu.so: \nundefined symbol: "
     "_ZN2at19NonVariableTypeMode10is_enabledEv", "torchaudio-torch-mismatch"),
])
def test_an_undefined_symbol_names_whose_build_it_is(error, cause):
    result = triage(error)
    assert cause_of(result.findings[0]) == cause


@pytest.mark.parametrize("error, cause", [
    # rocminfo and ROCm torch outside the `render` group (tests/fixtures/reports: rocm-kfd-permission-*).
    ("ROCk module is loaded\nUnable to open /dev/kfd read-write: Permission denied\n", "rocm-device-permission"),
    ("RuntimeError: No HIP GPUs are available", "rocm-device-permission"),
    # pytorch/pytorch#130181: DDP over two MIG devices in one process.
    ("RuntimeError: device >= 0 && device < num_gpus INTERNAL ASSERT FAILED at \"../aten/src/ATen/cuda/"
     "CUDAContext.cpp\":50", "mig-devices"),
    # facebookresearch/audiocraft#186: torch 2.0.1+cu118 against a cuDNN 8.6 another install put first.
    ("RuntimeError: cuDNN version incompatibility: PyTorch was compiled  against (8, 7, 0) but found runtime version "
     "(8, 6, 0).", "cuda-library-mismatch"),
    ("ImportError: libcusparse.so.12: undefined symbol: __nvJitLinkComplete_12_4, version libnvJitLink.so.12",
     "cuda-library-mismatch"),
    # Forms first met in the fourth frozen batch (/work/gather/triage4), each a reading, not a case:
    ("ImportError: .../torch/lib/libtorch_cpu.so: undefined symbol: cuptiActivityEnableDriverApi, version libcupti.so.12",
     "cuda-library-mismatch"),
    ("OSError: .../libcublas.so.11: symbol free_gemm_select version libcublasLt.so.11 not defined in file "
     "libcublasLt.so.11 with link time reference", "cuda-library-mismatch"),
    ("ValueError: libnvrtc.so.*[0-9].*[0-9] not found in the system path", "missing-cuda-library"),
    ("docker: Error response from daemon: Unknown runtime specified nvidia.", "container-toolkit-missing"),
    ("Have installed triton-2.1.0 in Ubuntu 22.04.2 LTS, but torch 2.4.0 requires triton==3.0.0.", "triton-torch-mismatch"),
    ("torch 2.1.1 requires nvidia-cudnn-cu12==8.9.2.26; platform_system == \"Linux\", but you have nvidia-cudnn-cu12 "
     "9.5.1.17 which is incompatible.", "cuda-library-mismatch"),
    ("I'm trying to train a model with multiple 4090 gpus, but it always gets stuck and no report is shown.", "nccl-p2p"),
    ("ValueError: libcublas.so.*[0-9] not found in the system path ['/opt/app', '/usr/lib/python3.10']",
     "missing-cuda-library"),
])
def test_device_file_mig_and_cuda_library_errors_name_their_causes(error, cause):
    result = triage(error)
    assert cause_of(result.findings[0]) == cause


def test_two_cuda_lines_of_one_nvidia_wheel_in_a_pasted_collect_env_are_the_cause():
    """pytorch/pytorch#186591: collect_env's [pip3] lines show nvidia-nccl-cu12 beside nvidia-nccl-cu13."""
    result = triage("ImportError: libtorch_cuda.so: undefined symbol: ncclCommResume\n"
                    "Versions of relevant libraries:\n[pip3] nvidia-nccl-cu12==2.29.3\n[pip3] nvidia-nccl-cu13==2.29.7\n"
                    "[pip3] torch==2.10.0+cu130\n")
    first = result.findings[0]
    assert first.code == "TD123" and "nvidia-nccl-cu12 2.29.3 and nvidia-nccl-cu13 2.29.7" in first.message


@pytest.mark.parametrize("text", [
    "I changed from 1x 4090 to an A100 and nothing else changed",  # "hang" inside "changed"; one card is not several
    "GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-749126bf-d321-4567-7c2d-6b03eced6bb6)\n"
    "  MIG 3g.40gb Device 0: (UUID: MIG-5b3a1c2e-11aa-5c2e-9d3e-1b2c3d4e5f60)\nMy training script is slow.\n",
])
def test_words_that_only_look_like_a_cause_name_none(text):
    assert not [d for d in triage(text).findings if cause_of(d) in ("nccl-p2p", "mig-devices")]
