"""The GPU code embedded in a shared library: which SASS and PTX architectures it carries, read from headers only.

CUDA libraries (torch's libtorch_cuda.so, an extension's _C.so, cuBLAS) embed their GPU code in fat binaries: the
ELF section `.nv_fatbin` (`.nv_fatb` in a Windows DLL) holds one or more containers, each a 16-byte header followed
by entries, each entry a header and a payload (a cubin for one SM, or PTX text). The headers say the kind, the
architecture and whether the payload is compressed, so the architectures can be listed by seeking from header to
header: a gigabyte library is never loaded, nothing is decompressed, nothing is executed.

Layout (little-endian), as documented by reverse-engineering work on cuobjdump (e.g. nvopen-tools' fatbin format
notes, 2025) and checked on 2026-12-02 against `cuobjdump --list-elf/--list-ptx` for the 24 CUDA libraries beside
torch 2.11.0+cu130 on an H200 (21,808 entries, every kind and architecture equal, in order; 0.19 s for
libtorch_cuda.so against cuobjdump's 5.5 s; tests/fixtures/fatbin):
    container header, 16 bytes:  u32 magic 0xBA55ED50 · u16 version 1 · u16 header size 16 · u64 size of entries
    entry header, 64 bytes or more (80 and 112 for newer architectures):
        u16 kind (1 PTX, 2 ELF/SASS, 16 ELF too) · u16 · u32 header size · u64 payload size (padded)
        u32 compressed size · u32 · u16 minor · u16 major · u32 SM (e.g. 90) · …
        u64 flags at offset 40: 0x8000 the payload is compressed; 0x100000 architecture-specific code (the `a` of
        sm_90a, as cuobjdump names it). No `f` (family) entry was in the recording: such entries are listed
        without a suffix, which is said as unknown rather than guessed; for coverage that is also the family's
        answer (sm_100f runs on 10.0 and 10.3, as plain sm_100 SASS does under "same major, minor at or above").
    major.minor is the PTX ISA version for PTX entries (9.0 in CUDA 13.0's libcurand, whose release history says
    PTX 9.0 came with CUDA 13.0) and the cubin's ELF ABI version (1.8 in every recorded SASS entry) for SASS: TD252
    compares a library's newest PTX ISA with the driver's CUDA.
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from torchdoctor.probes.elf import NotElf, read_sections
from torchdoctor.redact import clean

FATBIN_MAGIC = 0xBA55ED50
KINDS = {1: "ptx", 2: "sass", 16: "sass"}
MAX_ENTRIES = 200_000
"""A guard against a damaged section that would loop: real libraries hold a few thousand entries (cuBLASLt 13: 5,800)."""

ARCH_SPECIFIC = 0x100000
COMPRESSED = 0x8000


class NotABinary(ValueError):
    """The file is not an ELF or PE shared library, or its fat binary is damaged: said in one line."""


@dataclass(frozen=True)
class CodeEntry:
    kind: str
    """"sass" (a cubin for exactly this architecture family) or "ptx" (JIT-compiled by the driver)."""
    sm: int
    """The SM number, e.g. 90 for sm_90, 120 for sm_120."""
    suffix: str = ""
    """"a" or "f" for architecture-specific code (sm_90a, sm_100f), else ""."""
    compressed: bool = False
    flags: int = 0
    version: tuple[int, int] = (0, 0)
    """The header's (major, minor): for PTX its ISA version (9.0 in CUDA 13.0's libraries), for SASS the cubin's ELF
    ABI version."""

    @property
    def arch(self) -> str:
        return f"sm_{self.sm}{self.suffix}"


@dataclass(frozen=True)
class GpuCode:
    """What one library carries."""

    path: str
    entries: tuple[CodeEntry, ...] = ()

    @property
    def sass(self) -> tuple[str, ...]:
        return _sorted({e.arch for e in self.entries if e.kind == "sass"})

    @property
    def ptx(self) -> tuple[str, ...]:
        return _sorted({e.arch for e in self.entries if e.kind == "ptx"})

    @property
    def ptx_isa(self) -> str:
        """The newest PTX ISA version among its PTX ("9.0"), "" without PTX: what the driver must be able to JIT."""
        versions = [e.version for e in self.entries if e.kind == "ptx" and e.version != (0, 0)]
        return "{}.{}".format(*max(versions)) if versions else ""


def _sorted(archs: set[str]) -> tuple[str, ...]:
    return tuple(sorted(archs, key=lambda a: (int("".join(c for c in a[3:] if c.isdigit())), a)))


_READ: dict[tuple[str, int, int, int], GpuCode] = {}
"""What was read, by (path, inode, size, mtime): the first verdict reads torch's CUDA library for its arch list and the
extension check reads it again; a rescan in the app reads nothing that did not change."""


def read_gpu_code(path: str | os.PathLike, *, remember: bool = True) -> GpuCode:
    """The fat binary entries of an ELF or PE library (no entries: it carries no GPU code)."""
    with _open_regular(path) as handle:  # unbuffered: a 64-byte header costs one 64-byte read, not 8 KiB
        status = os.fstat(handle.fileno())
        key = (str(path), status.st_ino, status.st_size, status.st_mtime_ns)
        if remember and key in _READ:
            return _READ[key]
        if NO_READAHEAD is not None:
            try:
                os.posix_fadvise(handle.fileno(), 0, 0, NO_READAHEAD)
            except OSError:
                pass  # advice only: a file system that refuses it is read the same way
        code = _read_open(handle, path, status.st_size)
    if remember and len(_READ) < 4096:
        _READ[key] = code
    return code


WHEEL_MEMBER_LIMIT = 8 * 1024**3
"""A library in a wheel larger than this (inflated) is not read: none of NVIDIA's or PyTorch's comes near it."""
WHEEL_TOTAL_LIMIT = 16 * 1024**3
"""What one wheel may inflate in all: a whole CUDA torch wheel inflates to about 4 GiB of libraries."""


def _open_regular(path: str | os.PathLike):
    """The file, opened for unbuffered reading, if it is a regular file: a FIFO named `libx.so` in a scanned folder
    would block a plain open() for ever (issue 25, item 4), a device would be read without end. Opened without
    blocking, checked, then switched back to blocking reads."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    descriptor = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise NotABinary(f"{path}: not a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb", buffering=0)
    except BaseException:
        os.close(descriptor)
        raise


def wheel_gpu_code(path: str | os.PathLike) -> Iterator[tuple[str, GpuCode]]:
    """(member name, GPU code) of every shared library in a wheel that carries GPU code. A zip member is compressed, so
    its headers cannot be reached without inflating what precedes them: each library is inflated to a temporary file
    in turn, read, and deleted."""
    import tempfile
    import zipfile

    with zipfile.ZipFile(path) as wheel, tempfile.TemporaryDirectory(prefix="torchdoctor-wheel-") as scratch:
        inflated = 0
        for info in wheel.infolist():
            name = info.filename.rsplit("/", 1)[-1]
            if info.is_dir() or not is_library(name) or info.file_size > WHEEL_MEMBER_LIMIT:
                continue
            inflated += info.file_size
            if inflated > WHEEL_TOTAL_LIMIT:
                break
            target = Path(scratch) / "library"
            try:
                with wheel.open(info) as source:
                    inflate(source, target, info.file_size)
                code = read_gpu_code(target, remember=False)
            except (OSError, NotABinary, struct.error, zipfile.BadZipFile, ValueError):
                continue
            finally:
                target.unlink(missing_ok=True)
            if code.entries:
                yield info.filename, code


def inflate(source, target: Path, declared: int) -> None:
    """Copy a zip member's stream to `target`, held to its declared size, with every megabyte of zeros left as a hole:
    a member of zeros (an 18 MB wheel of them wrote 4 GiB to $TMPDIR, issue 25, item 4) costs no disk, and a real
    library, whose zero padding becomes holes too, reads back byte for byte."""
    copied = 0
    with open(target, "wb") as sink:
        while chunk := source.read(1 << 20):
            copied += len(chunk)
            if copied > declared:
                raise ValueError("the member inflates past its declared size")
            if chunk.count(0) == len(chunk):
                sink.seek(len(chunk), os.SEEK_CUR)
            else:
                sink.write(chunk)
        sink.truncate(copied)


def _read_open(handle, path: str | os.PathLike, size: int) -> GpuCode:
    start = handle.read(4)
    if start == b"\x7fELF":
        try:
            found = read_sections(handle.fileno(), size, str(path)).sections
        except NotElf as error:
            raise NotABinary(str(error)) from None
        sections = [(s.offset, s.size) for s in found if s.name == b".nv_fatbin" and s.offset + s.size <= size]
    elif start[:2] == b"MZ":
        sections = _pe_sections(handle, size)
    else:
        raise NotABinary(f"{path}: not an ELF or PE library")
    entries: list[CodeEntry] = []
    for offset, length in sections:
        entries += _fatbin_entries(handle, offset, min(length, size - offset))
    return GpuCode(str(path), tuple(entries))


def _read(handle, offset: int, length: int) -> bytes:
    if hasattr(os, "pread"):
        data = os.pread(handle.fileno(), length, offset)  # one system call per header (gVisor makes each one count)
    else:
        handle.seek(offset)
        data = handle.read(length)
    if len(data) != length:
        raise NotABinary(f"{getattr(handle, 'name', 'file')}: truncated at byte {offset}")
    return data


def _pe_sections(handle, size: int) -> list[tuple[int, int]]:
    """(offset, size) of the `.nv_fatb` sections of a Windows DLL."""
    pe, = struct.unpack_from("<I", _read(handle, 0x3C, 4))
    if _read(handle, pe, 4) != b"PE\0\0":
        raise NotABinary(f"{getattr(handle, 'name', 'file')}: not a PE library")
    count, = struct.unpack_from("<H", _read(handle, pe + 6, 2))
    optional, = struct.unpack_from("<H", _read(handle, pe + 20, 2))
    table = pe + 24 + optional
    found = []
    for index in range(count):
        raw = _read(handle, table + index * 40, 40)
        name = raw[:8].rstrip(b"\0")
        raw_size, raw_offset = struct.unpack_from("<II", raw, 16)
        if name == b".nv_fatb" and raw_offset + raw_size <= size:
            found.append((raw_offset, raw_size))
    return found


def _fatbin_entries(handle, offset: int, length: int) -> list[CodeEntry]:
    entries: list[CodeEntry] = []
    position, end = offset, offset + length
    while position + 16 <= end and len(entries) < MAX_ENTRIES:
        magic, _, header_size, fat_size = struct.unpack("<IHHQ", _read(handle, position, 16))
        if magic != FATBIN_MAGIC:
            # Containers are 8-byte aligned and zeros may stand between them: the next one is searched for a megabyte
            # at a time (8 bytes per read took 10.7 s over a 100 MB section of zeros, issue 25 item 4).
            found = _next_container(handle, position + 8, end)
            if found is None:
                break
            position = found
            continue
        entry, container_end = position + header_size, min(position + header_size + fat_size, end)
        while entry + 64 <= container_end and len(entries) < MAX_ENTRIES:
            raw = _read(handle, entry, 64)
            kind, _, entry_size, payload = struct.unpack_from("<HHIQ", raw)
            minor, major, sm = struct.unpack_from("<HHI", raw, 24)
            flags, = struct.unpack_from("<Q", raw, 40)
            if entry_size < 64:
                break  # damaged: never loop on a zero-sized header
            if kind in KINDS:
                entries.append(CodeEntry(KINDS[kind], sm, "a" if flags & ARCH_SPECIFIC else "", bool(flags & COMPRESSED), flags,
                                         (major, minor)))
            entry += entry_size + payload
        position = max(container_end, position + 16)
        position += (-position) % 8
    return entries


MAGIC_BYTES = struct.pack("<I", FATBIN_MAGIC)
SCAN_CHUNK = 1 << 20


def _next_container(handle, position: int, end: int) -> int | None:
    """The first 8-aligned offset at or after `position` (and before `end`) where a container's magic stands."""
    position += (-position) % 8
    while position + 16 <= end:
        chunk = _read(handle, position, min(SCAN_CHUNK, end - position))
        at = chunk.find(MAGIC_BYTES)
        while at >= 0 and at % 8:
            at = chunk.find(MAGIC_BYTES, at + 1)
        if at >= 0:
            return position + at
        position += max(8, len(chunk) - 3)  # a magic cut by the chunk's end starts at or after this
        position += (-position) % 8
    return None


READERS = 4
"""Libraries read at once. Reading headers is waiting on the disk, one small read after another, each at an offset the
previous one gave, so on a first run (nothing in the page cache) the time is the sum of those waits; threads overlap
them across libraries (os.pread releases the GIL). Measured on the GPU machine on 2026-12-02 (31 CUDA libraries,
21,414 entries, pages evicted; scripts/device-archs-cold.py): one at a time 0.84-0.93 s; with readahead off (below)
and 4 threads 0.44-0.48 s, 16 threads 0.62-0.65 s, 32 threads 0.60 s; read again from the page cache 0.11 s one at a
time and 0.24 s with 4 threads, the price of the threads handing the GIL back and forth, paid only in seconds that
were short already."""

NO_READAHEAD = getattr(os, "POSIX_FADV_RANDOM", None)
"""Each header read is a few bytes at an offset far from the last, so the kernel's readahead (8 MiB on the GPU
machine's disk) only reads payloads that are never looked at: turned off for the reader's own file handle."""


def read_each(paths: list[Path]) -> list[GpuCode | None]:
    """The GPU code of each path, in order, read concurrently; None for a file that is unreadable or not a library."""

    def one(path: Path) -> GpuCode | None:
        try:
            return read_gpu_code(path)
        except (OSError, NotABinary, struct.error):
            return None

    if len(paths) < 2:
        return [one(path) for path in paths]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(READERS, len(paths)), thread_name_prefix="torchdoctor-archs") as pool:
        return list(pool.map(one, paths))


def read_many(paths: list[Path]) -> list[GpuCode]:
    """Every library that carries GPU code; unreadable files are left out (the caller says which)."""
    return [code for code in read_each(paths) if code is not None and code.entries]


LIBRARY_SUFFIXES = (".so", ".pyd", ".dll")
MAX_LIBRARIES = 2000


def is_library(name: str) -> bool:
    """A shared library's file name: `x.so`, `libcudart.so.13`, `x.pyd`, `x.dll`."""
    return name.endswith(LIBRARY_SUFFIXES) or ".so." in name


def environment_gpu_code(site_packages: str | os.PathLike) -> tuple:
    """The GPU code of torch and of every installed distribution that requires torch (the extensions: flash-attn,
    xformers, vllm, a project's own), from their RECORD files: NVIDIA's own wheels are built for every GPU of their
    CUDA line and are left out, which keeps a check to a few tenths of a second."""
    from torchdoctor.snapshot import LibraryCode

    site = Path(site_packages)
    try:
        infos = sorted(site.glob("*.dist-info"))
    except OSError:
        return ()
    wanted: list[tuple[str, str, str]] = []
    for info in infos:
        name, requires = _metadata(info)
        if name is None or (name != "torch" and "torch" not in requires):
            continue
        wanted += [(name, relative, requires.get("torch", "")) for relative in _libraries(info)]
    del wanted[MAX_LIBRARIES * 5:]  # a guard against a RECORD of millions of lines; real ones list tens of libraries
    found = []
    for (name, relative, torch_requirement), code in zip(wanted, read_each([site / w[1] for w in wanted]), strict=True):
        if code is not None and code.entries:
            found.append(LibraryCode(name, relative, code.sass, code.ptx, torch_requirement, code.ptx_isa))
        if len(found) >= MAX_LIBRARIES:
            break
    return _with_symbols(site, found)


def package_gpu_code(site_packages: str | os.PathLike, name: str) -> tuple | None:
    """The GPU code of one installed distribution (by its normalised name), whether or not it requires torch; None
    when it is not installed there."""
    from torchdoctor.snapshot import LibraryCode

    site = Path(site_packages)
    infos = [i for i in site.glob("*.dist-info") if i.name.lower().replace("_", "-").startswith(name + "-")]
    if not infos:
        return None
    found = []
    for info in infos:
        for relative in _libraries(info):
            try:
                code = read_gpu_code(site / relative)
            except (OSError, NotABinary):
                continue
            if code.entries:
                found.append(LibraryCode(name, relative, code.sass, code.ptx, ptx_isa=code.ptx_isa))
    return tuple(found)


def _with_symbols(site: Path, found: list) -> tuple:
    """Each extension with the torch symbols it needs that the installed torch lacks (probes/symbols.py)."""
    from dataclasses import replace

    from torchdoctor.probes.symbols import missing_from_torch, torch_provides

    try:
        provided = torch_provides(sorted(p for p in (site / "torch" / "lib").iterdir() if is_library(p.name)))
    except OSError:
        return tuple(found)
    checked = []
    for library in found:
        missing = missing_from_torch(site / library.path, provided) if library.package != "torch" else None
        checked.append(replace(library, missing_torch_symbols=missing[:5], missing_torch_symbol_count=len(missing))
                       if missing else library)
    return tuple(checked)


def _metadata(info: Path) -> tuple[str | None, dict[str, str]]:
    """The distribution's name and its requirements (name -> the requirement line without extras' markers)."""
    import re

    try:
        text = (info / "METADATA").read_text(encoding="utf-8", errors="replace")[:200_000]
    except OSError:
        return None, {}
    name = None
    requires: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break  # the headers end at the first blank line; the description follows
        key, _, value = line.partition(":")
        if key == "Name":
            name = re.sub(r"[-_.]+", "-", value.strip()).lower()
        elif key == "Requires-Dist":
            match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", value)
            if match and "extra ==" not in value:
                requires.setdefault(re.sub(r"[-_.]+", "-", match.group(1)).lower(), clean(value.strip()))
    return name, requires


def _libraries(info: Path) -> list[str]:
    try:
        record = (info / "RECORD").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found = []
    for line in record.splitlines():
        path = line.rsplit(",", 2)[0] if line.count(",") >= 2 else line
        name = path.rsplit("/", 1)[-1]
        if not path.startswith("..") and is_library(name):
            found.append(path)
    return found
