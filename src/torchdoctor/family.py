"""The torch package family, in one place: which packages share torch's build, release line and index.

torch's own probe script (probes/torch_script.py) runs in the project's interpreter and cannot import this module:
its list is a superset of TORCH_FAMILY, and tests/test_torch_probe.py holds it to that.
"""

from __future__ import annotations

BUILD_PACKAGES = ("torch", "torchvision", "torchaudio", "torchcodec")
"""Packages with compiled code built per variant (cpu, cu128, rocm6.4, xpu), published on PyTorch's indexes."""
COMPANIONS = BUILD_PACKAGES[1:]
"""torch's companions on those indexes: mapped to the same index as torch."""
VERSIONED_WITH_TORCH = ("torch", "torchvision", "torchaudio")
"""Packages whose release goes with one torch release (knowledge/torch_releases.toml has their columns)."""
BUILD_CHECKED = ("torchvision", "torchaudio")
"""Companions whose build must match torch's: their GPU operators are compiled against it. (torchcodec decodes on the
CPU with any torch of its release; its CUDA decoding is opt-in.)"""
TRITON_PACKAGES = ("triton", "pytorch-triton", "pytorch-triton-rocm", "pytorch-triton-xpu", "triton-rocm", "triton-xpu",
                   "triton-windows")
"""The Tritons torch builds pin: PyPI's, and the ones only PyTorch's nightly, ROCm and XPU indexes publish."""
TORCH_FAMILY = frozenset((*BUILD_PACKAGES, "torchtext", "torchdata", *TRITON_PACKAGES))
"""Everything whose build or version has to agree with torch's and with the machine."""
BUILDS_AGAINST_TORCH = frozenset({
    "flash-attn", "deepspeed", "apex", "mamba-ssm", "causal-conv1d", "xformers", "torch-scatter", "torch-sparse",
    "torch-cluster", "pytorch3d", "detectron2", "gsplat", "nvdiffrast", "natten", "tinycudann", "auto-gptq",
})
"""Packages that compile CUDA extensions against the installed torch when no matching wheel exists."""
