"""Undefined symbols predicted before the import: an extension's needs against the installed torch's libraries, read
from ELF dynamic symbol tables. The real CPU torch's libraries stand in for torch; extensions are ELF files written
here with the symbols and GPU code each test needs."""

from __future__ import annotations

import struct
from dataclasses import replace
from pathlib import Path

from test_fatbin import write_elf_header

from conftest import SNAPSHOTS
from torchdoctor.checks import run_checks
from torchdoctor.probes.fatbin import environment_gpu_code, is_library
from torchdoctor.probes.symbols import missing_from_torch, torch_provides, torch_symbols
from torchdoctor.snapshot import Snapshot

FAKE = "_ZN3c1025AFunctionNoTorchEverHadEv"


def torch_libraries(real_torch_python: str) -> list[Path]:
    import subprocess

    # Where torch is installed, found without importing it (an import costs seconds of CPU and tells nothing more).
    where = "import importlib.util, os; print(os.path.dirname(importlib.util.find_spec('torch').origin))"
    folder = Path(subprocess.run([real_torch_python, "-c", where],
                                 capture_output=True, text=True, check=True).stdout.strip()) / "lib"
    return sorted(p for p in folder.iterdir() if is_library(p.name))


def write_extension(path: Path, undefined: list[str], sm: int = 80) -> Path:
    """A 64-bit ELF with a .dynsym of undefined symbols and a .nv_fatbin holding one SASS entry for sm_`sm`."""
    dynstr = b"\0" + b"".join(name.encode() + b"\0" for name in undefined)
    symbols, position = [b"\0" * 24], 1
    for name in undefined:
        symbols.append(struct.pack("<IBBHQQ", position, 0x12, 0, 0, 0, 0))  # GLOBAL FUNC, section 0: undefined
        position += len(name) + 1
    dynsym = b"".join(symbols)
    entry = struct.pack("<HHIQIIHHI", 2, 1, 64, 0, 0, 0, 8, 1, sm).ljust(64, b"\0")
    fatbin = struct.pack("<IHHQ", 0xBA55ED50, 1, 16, len(entry)) + entry
    names = b"\0.shstrtab\0.dynstr\0.dynsym\0.nv_fatbin\0"
    blobs = [names, dynstr, dynsym, fatbin]
    offsets, offset = [], 64
    for blob in blobs:
        offset += (-offset) % 8
        offsets.append(offset)
        offset += len(blob)
    table = offset + (-offset) % 8
    with open(path, "wb") as handle:
        write_elf_header(handle, table, 5)
        for blob, at in zip(blobs, offsets, strict=True):
            handle.seek(at)
            handle.write(blob)
        handle.seek(table)
        handle.write(b"\0" * 64)
        # name, type, flags, addr, offset, size, link, info, align, entsize
        handle.write(struct.pack("<IIQQQQIIQQ", 1, 3, 0, 0, offsets[0], len(names), 0, 0, 1, 0))
        handle.write(struct.pack("<IIQQQQIIQQ", 11, 3, 0, 0, offsets[1], len(dynstr), 0, 0, 1, 0))
        handle.write(struct.pack("<IIQQQQIIQQ", 19, 11, 0, 0, offsets[2], len(dynsym), 2, 1, 8, 24))
        handle.write(struct.pack("<IIQQQQIIQQ", 27, 1, 0, 0, offsets[3], len(fatbin), 0, 0, 8, 0))
    return path


def test_torchs_own_python_bindings_need_nothing_torch_lacks(real_torch_python):
    """libtorch_python.so needs thousands of c10/at/torch symbols from the other libraries: all found (no false alarm)."""
    libraries = torch_libraries(real_torch_python)
    bindings = next(p for p in libraries if p.name == "libtorch_python.so")
    assert len(torch_symbols(bindings)[1]) > 1000
    assert missing_from_torch(bindings, torch_provides(libraries)) == ()


def test_an_extension_needing_a_symbol_torch_does_not_define_is_named(real_torch_python, tmp_path):
    libraries = torch_libraries(real_torch_python)
    real = sorted(torch_symbols(next(p for p in libraries if p.name == "libtorch_cpu.so"))[0])[0]
    extension = write_extension(tmp_path / "_C.so", [real, FAKE, "_ZNSt6vectorIiSaIiEE9push_backEOi"])
    assert torch_symbols(extension) == (frozenset(), frozenset({real, FAKE}))  # the C++ runtime's symbol is not torch's
    assert missing_from_torch(extension, torch_provides(libraries)) == (FAKE,)
    assert torch_symbols(tmp_path / "missing.so") is None and missing_from_torch(extension, torch_provides([])) is None


def test_td251_predicts_undefined_symbol_for_an_extension_without_a_torch_pin(real_torch_python, tmp_path):
    """An extension built from source (no torch in its metadata) against another torch: TD251 from the symbols alone."""
    site = tmp_path / "site-packages"
    (site / "torch").mkdir(parents=True)
    (site / "torch" / "lib").mkdir()
    for library in torch_libraries(real_torch_python):
        (site / "torch" / "lib" / library.name).symlink_to(library)
    (site / "my_ops").mkdir()
    write_extension(site / "my_ops" / "_C.so", [FAKE], sm=120)
    info = site / "my_ops-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-ops\nVersion: 0.1\nRequires-Dist: torch\n\n")
    (info / "RECORD").write_text("my_ops/_C.so,,\n")
    (found,) = environment_gpu_code(site)
    assert found.missing_torch_symbols == (FAKE,) and found.missing_torch_symbol_count == 1
    machine = Snapshot.from_json((SNAPSHOTS / "wsl2-rtx5060ti-nightly.json").read_text(encoding="utf-8"))
    (finding,) = [d for d in run_checks(replace(machine, gpu_code=(found,))) if d.code == "TD251"]
    assert finding.severity.value == "error"
    assert finding.message.startswith("my-ops cannot be imported beside torch 2.10.0.dev20251010+cu128: my_ops/_C.so needs 1")
    assert any(FAKE in e.value for e in finding.evidence)
    healthy = replace(found, missing_torch_symbols=(), missing_torch_symbol_count=0)
    assert "TD251" not in {d.code for d in run_checks(replace(machine, gpu_code=(healthy,)))}
