"""The GPU code in the binaries: the fat binary reader against what cuobjdump listed on the H200, replayed from the
recorded headers as sparse files (tests/fixtures/fatbin, made by scripts/device-fatbin.py); the `archs` command; and
TD250, an extension with no kernel for this GPU."""

from __future__ import annotations

import gzip
import json
import struct
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import FIXTURES, SNAPSHOTS, run_cli
from torchdoctor.checks import run_checks
from torchdoctor.probes.fatbin import environment_gpu_code, read_gpu_code
from torchdoctor.snapshot import LibraryCode, Snapshot

RECORDING = json.loads(gzip.open(FIXTURES / "fatbin" / "h200-headers.json.gz").read())
LIBRARIES = sorted(RECORDING["headers"])


def write_elf_header(handle, table: int, sections: int) -> None:
    """A 64-bit little-endian ELF header whose section table (64-byte entries, names in section 1) is at `table`."""
    handle.write(b"\x7fELF\x02\x01\x01" + b"\0" * 9)
    handle.seek(0x28)
    handle.write(struct.pack("<Q", table))
    handle.seek(0x3A)
    handle.write(struct.pack("<HHH", 64, sections, 1))


def rebuild_elf(recorded: dict, path: Path) -> Path:
    """An ELF file with the recorded .nv_fatbin headers at their offsets and holes for the payloads."""
    (section,) = recorded["sections"]
    names = b"\0.shstrtab\0.nv_fatbin\0"
    names_offset = section["offset"] + section["length"]
    table = names_offset + len(names)
    table += (-table) % 8
    with open(path, "wb") as handle:
        write_elf_header(handle, table, 3)
        for container in section["containers"]:
            handle.seek(container["offset"])
            handle.write(bytes.fromhex(container["header"]))
            for entry in container["entries"]:
                handle.seek(entry["offset"])
                handle.write(bytes.fromhex(entry["header"]))
        handle.seek(names_offset)
        handle.write(names)
        handle.seek(table)
        handle.write(b"\0" * 64)
        handle.write(struct.pack("<IIQQQQIIQQ", 1, 3, 0, 0, names_offset, len(names), 0, 0, 1, 0))
        handle.write(struct.pack("<IIQQQQIIQQ", 11, 1, 2, 0, section["offset"], section["length"], 0, 0, 8, 0))
    return path


@pytest.mark.parametrize("library", LIBRARIES)
def test_the_reader_lists_what_cuobjdump_listed_entry_by_entry(tmp_path, library):
    path = rebuild_elf(RECORDING["headers"][library], tmp_path / Path(library).name)
    code = read_gpu_code(path)
    expected = RECORDING["cuobjdump"][library]
    assert [e.arch for e in code.entries if e.kind == "sass"] == expected["elf"]
    assert [e.arch for e in code.entries if e.kind == "ptx"] == expected["ptx"]


def test_libtorch_cuda_carries_arch_specific_sass_and_no_ptx(tmp_path):
    """What torch.cuda.get_arch_list() cannot show: sm_90a…sm_121a kernels, and no PTX for a future GPU."""
    library = next(name for name in LIBRARIES if name.endswith("libtorch_cuda.so"))
    code = read_gpu_code(rebuild_elf(RECORDING["headers"][library], tmp_path / "libtorch_cuda.so"))
    assert {"sm_90a", "sm_100a", "sm_120a"} <= set(code.sass) and code.ptx == ()
    assert set(RECORDING["get_arch_list"]) <= set(code.sass)


def test_a_windows_dll_is_read_from_its_nv_fatb_section(tmp_path):
    library = next(name for name in LIBRARIES if "curand" in name)
    (section,) = RECORDING["headers"][library]["sections"]
    dll = tmp_path / "curand64.dll"
    base = 0x1000
    with open(dll, "wb") as handle:
        handle.write(b"MZ" + b"\0" * 0x3A + struct.pack("<I", 0x80))
        handle.seek(0x80)
        handle.write(b"PE\0\0" + struct.pack("<HHIIIHH", 0x8664, 1, 0, 0, 0, 0, 0))
        handle.write(b".nv_fatb" + struct.pack("<IIII", section["length"], 0, section["length"], base) + b"\0" * 16)
        for container in section["containers"]:
            handle.seek(base + container["offset"] - section["offset"])
            handle.write(bytes.fromhex(container["header"]))
            for entry in container["entries"]:
                handle.seek(base + entry["offset"] - section["offset"])
                handle.write(bytes.fromhex(entry["header"]))
        handle.truncate(base + section["length"])
    code = read_gpu_code(dll)
    assert [e.arch for e in code.entries if e.kind == "sass"] == RECORDING["cuobjdump"][library]["elf"]


@pytest.mark.parametrize("damage", ["truncate", "zeros", "garbage"])
def test_a_damaged_fat_binary_is_refused_or_empty_never_a_hang(tmp_path, damage):
    from torchdoctor.probes.fatbin import NotABinary

    library = next(name for name in LIBRARIES if "curand" in name)
    path = rebuild_elf(RECORDING["headers"][library], tmp_path / "lib.so")
    (section,) = RECORDING["headers"][library]["sections"]
    with open(path, "r+b") as handle:
        if damage == "truncate":
            handle.truncate(section["offset"] + 100)
        else:
            handle.seek(section["offset"] + 16)
            handle.write(b"\0" * 64 if damage == "zeros" else bytes(range(256)) * 4)
    try:
        code = read_gpu_code(path)
    except NotABinary:
        return
    assert len(code.entries) < 200


@pytest.mark.parametrize("length", [5, 20, 51, 63])
def test_a_truncated_elf_header_is_refused_in_words(tmp_path, length):
    from torchdoctor.probes.fatbin import NotABinary

    path = tmp_path / "short.so"
    path.write_bytes((b"\x7fELF\x02\x01\x01" + b"\0" * 57)[:length])
    with pytest.raises(NotABinary, match="truncated"):
        read_gpu_code(path)


def test_libraries_read_together_come_back_in_order_with_the_unreadable_ones_as_none(tmp_path):
    from torchdoctor.probes.fatbin import read_each

    libraries = [rebuild_elf(RECORDING["headers"][name], tmp_path / f"{index}.so") for index, name in enumerate(LIBRARIES)]
    (tmp_path / "text.so").write_text("not a library")
    paths = libraries[:2] + [tmp_path / "text.so", tmp_path / "missing.so"] + libraries[2:]
    codes = read_each(paths)
    assert codes[2:4] == [None, None]
    read = [code for code in codes if code is not None]
    assert [code.path for code in read] == [str(path) for path in libraries]
    assert [len(code.entries) for code in read] == [len(read_gpu_code(path, remember=False).entries) for path in libraries]


def installed_extension(site: Path, package: str, version: str, requires: str) -> None:
    """A wheel installed in `site`: its _C.so (the recorded libcurand headers), METADATA and RECORD."""
    library = next(name for name in LIBRARIES if "curand" in name)
    (site / package).mkdir(parents=True)
    rebuild_elf(RECORDING["headers"][library], site / package / "_C.so")
    info = site / f"{package}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n{requires}\nText\n")
    (info / "RECORD").write_text(f"{package}/_C.so,sha256=x,1\n{package}/__init__.py,,\n")


def test_extensions_are_found_through_their_records_and_nvidia_wheels_are_skipped(tmp_path):
    site = tmp_path / "site-packages"
    installed_extension(site, "fast_attn", "2.8.3", "Requires-Dist: torch\n")
    other = site / "nvidia_curand-10.4.dist-info"
    other.mkdir()
    (other / "METADATA").write_text("Metadata-Version: 2.1\nName: nvidia-curand\nVersion: 10.4\n\n")
    (other / "RECORD").write_text("fast_attn/_C.so,,\n")
    (found,) = environment_gpu_code(site)
    assert (found.package, found.path) == ("fast-attn", "fast_attn/_C.so")
    assert "sm_120" in found.sass and found.ptx == ("sm_121",)


def test_archs_lists_a_library_and_a_folder(tmp_path):
    library = next(name for name in LIBRARIES if "curand" in name)
    folder = tmp_path / "libs"
    folder.mkdir()
    rebuild_elf(RECORDING["headers"][library], folder / "libcurand.so.10")
    result = run_cli("archs", str(folder), "--format", "json")
    (entry,) = json.loads(result.stdout)
    assert entry["sass"] == sorted(set(RECORDING["cuobjdump"][library]["elf"]), key=lambda a: int(a[3:].rstrip("af")))
    assert "SASS sm_75 sm_80" in run_cli("archs", str(folder / "libcurand.so.10")).stdout


BLACKWELL = Snapshot.from_json((SNAPSHOTS / "wsl2-rtx5060ti-nightly.json").read_text(encoding="utf-8"))


def test_an_extension_built_for_older_gpus_is_an_error_on_blackwell():
    """TD250: flash-attn with sm_80/sm_90 SASS and no PTX on an RTX 5060 Ti (sm_120)."""
    extension = LibraryCode("flash-attn", "flash_attn_2_cuda.cpython-312-x86_64-linux-gnu.so", ("sm_80", "sm_90"), ())
    (finding,) = [d for d in run_checks(replace(BLACKWELL, gpu_code=(extension,))) if d.code == "TD250"]
    assert finding.severity.value == "error"
    assert finding.message.startswith("flash-attn has no kernels for GPU 0") and "sm_120" in finding.message
    assert 'TORCH_CUDA_ARCH_LIST="12.0"' in finding.fix.commands[0]


@pytest.mark.parametrize("sass,ptx", [(("sm_80", "sm_120"), ()), (("sm_80",), ("sm_90",)), (("sm_120a",), ())])
def test_an_extension_that_runs_here_is_not_reported(sass, ptx):
    extension = LibraryCode("xformers", "xformers/_C.so", sass, ptx)
    assert "TD250" not in {d.code for d in run_checks(replace(BLACKWELL, gpu_code=(extension,)))}


def test_archs_without_arguments_lists_the_extensions_of_the_projects_environment(tmp_path):
    from conftest import make_venv

    python = make_venv(tmp_path / "env")
    site = next((tmp_path / "env" / "lib").glob("python3*/site-packages"))
    library = next(name for name in LIBRARIES if "curand" in name)
    (site / "fast_attn").mkdir()
    rebuild_elf(RECORDING["headers"][library], site / "fast_attn" / "_C.so")
    info = site / "fast_attn-2.8.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fast-attn\nVersion: 2.8.3\nRequires-Dist: torch>=2.6\n\n")
    (info / "RECORD").write_text("fast_attn/_C.so,sha256=x,1\n")
    result = run_cli("archs", "--python", str(python), cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert result.stdout.startswith("fast-attn  fast_attn/_C.so\n    SASS sm_75 sm_80") and "PTX  sm_121" in result.stdout


def test_an_extension_built_for_another_torch_is_an_error_before_it_is_imported(tmp_path):
    """TD251: xformers' wheel names the torch it was built for; another torch installed means "undefined symbol"."""
    site = tmp_path / "site-packages"
    installed_extension(site, "xformers", "0.0.28",
                        "Requires-Dist: numpy\nRequires-Dist: torch==2.5.1\nRequires-Dist: pytest; extra == 'dev'\n")
    (found,) = environment_gpu_code(site)
    assert found.requires_torch == "torch==2.5.1"
    h100 = Snapshot.from_json((SNAPSHOTS / "h100-pypi.json").read_text(encoding="utf-8"))  # torch 2.11.0+cu130
    (finding,) = [d for d in run_checks(replace(h100, gpu_code=(found,))) if d.code == "TD251"]
    assert finding.severity.value == "error" and finding.message.startswith("xformers requires torch==2.5.1, but torch 2.11.0")
    matching = replace(found, requires_torch="torch>=2.10")
    assert "TD251" not in {d.code for d in run_checks(replace(h100, gpu_code=(matching,)))}


def test_the_reader_reads_the_ptx_isa_version_from_the_entry_headers(tmp_path):
    """CUDA 13.0's libcurand carries compute_121 PTX of ISA 9.0 (the release history: PTX 9.0 came with CUDA 13.0)."""
    library = next(name for name in LIBRARIES if "curand" in name)
    code = read_gpu_code(rebuild_elf(RECORDING["headers"][library], tmp_path / "libcurand.so.10"))
    assert code.ptx == ("sm_121",) and code.ptx_isa == "9.0"
    assert {e.version for e in code.entries if e.kind == "sass"} == {(1, 8)}  # a cubin's ELF ABI version, not an ISA


@pytest.mark.parametrize("isa, reported", [("9.0", "a driver loads from CUDA 13.0 on; this driver supports CUDA 12.8"),
                                           ("9.7", "newer than torchdoctor's tables (they end at CUDA 13.1)"),
                                           ("8.7", None)])
def test_td252_ptx_newer_than_the_driver_is_an_error_only_when_the_driver_cannot_jit_it(isa, reported):
    """An extension with sm_80/sm_90 SASS and compute_90 PTX on the RTX 5060 Ti (sm_120, driver of CUDA 12.8): only the
    PTX can run there, and only if the driver can compile its ISA."""
    extension = LibraryCode("xformers", "xformers/_C.so", ("sm_80", "sm_90"), ("sm_90",), ptx_isa=isa)
    codes = {d.code: d for d in run_checks(replace(BLACKWELL, gpu_code=(extension,)))}
    assert "TD250" not in codes  # it has PTX this GPU could run
    if reported is None:
        assert "TD252" not in codes
    else:
        assert codes["TD252"].severity.value == "error" and reported in codes["TD252"].message


def test_archs_reads_the_libraries_inside_a_wheel(tmp_path):
    """A wheel is a zip: each library is inflated in turn and read; what is not a library or has no GPU code is left out."""
    import zipfile

    library = next(name for name in LIBRARIES if "curand" in name)
    elf = rebuild_elf(RECORDING["headers"][library], tmp_path / "libcurand.so.10")
    wheel = tmp_path / "nvidia_curand-10.4.0-py3-none-manylinux_2_27_x86_64.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(elf, "nvidia/cu13/lib/libcurand.so.10")
        archive.writestr("nvidia/cu13/lib/libempty.so", b"\x7fELF not really")
        archive.writestr("nvidia_curand-10.4.0.dist-info/METADATA", "Name: nvidia-curand\n")
    (entry,) = json.loads(run_cli("archs", str(wheel), "--format", "json").stdout)
    assert entry["path"] == "nvidia/cu13/lib/libcurand.so.10" and entry["ptx_isa"] == "9.0"
    assert entry["sass"] == sorted(set(RECORDING["cuobjdump"][library]["elf"]), key=lambda a: int(a[3:].rstrip("af")))
    (tmp_path / "broken.whl").write_bytes(b"PK not a zip")
    broken = run_cli("archs", str(tmp_path / "broken.whl"))
    assert broken.code == 2 and "not a readable wheel" in broken.stderr


def test_a_section_of_zeros_is_searched_a_megabyte_at_a_time_and_a_forged_table_is_not_read(tmp_path, monkeypatch):
    """Issue 25 item 4: a .nv_fatbin section of 100 MB of zeros (a sparse file: no disk) was scanned 8 bytes per read,
    12.5 million reads; it is searched a megabyte at a time. A section table whose entries claim 65 KB each (a 2.1 GB
    read of a sparse file) is not read at all. Counted in reads, not timed."""
    import os

    from torchdoctor.probes import elf

    path = tmp_path / "zeros.so"
    names = b"\0.shstrtab\0.nv_fatbin\0"
    section_offset, section_length = 4096, 100 << 20
    names_offset = section_offset + section_length
    table = names_offset + 64
    with open(path, "wb") as handle:
        write_elf_header(handle, table, 3)
        handle.seek(names_offset)
        handle.write(names)
        handle.seek(table)
        handle.write(b"\0" * 64)
        handle.write(struct.pack("<IIQQQQIIQQ", 1, 3, 0, 0, names_offset, len(names), 0, 0, 1, 0))
        handle.write(struct.pack("<IIQQQQIIQQ", 11, 1, 2, 0, section_offset, section_length, 0, 0, 8, 0))
    reads = []
    real = os.pread

    def counted(descriptor, length, offset):
        reads.append(length)
        return real(descriptor, length, offset)

    monkeypatch.setattr(os, "pread", counted)
    assert read_gpu_code(path, remember=False).entries == ()
    assert len(reads) < 200, len(reads)

    forged = tmp_path / "forged.so"
    with open(forged, "wb") as handle:
        write_elf_header(handle, 4096, 30000)
        handle.seek(0x3A)
        handle.write(struct.pack("<HHH", 65535, 30000, 1))  # entries of 65 KB: a 2 GB table
        handle.truncate(4096 + 65535 * 30000)
    reads.clear()
    with open(forged, "rb") as handle:
        assert elf.read_sections(handle.fileno(), os.fstat(handle.fileno()).st_size).sections == ()
    assert max(reads) <= 64
    forged.unlink()
