"""The C++ symbols an extension needs from torch, and those the installed torch defines, read from the ELF dynamic
symbol tables (`.dynsym` and its `.dynstr`) without loading anything: "undefined symbol" predicted before the import.

An extension built against one torch names that torch's C++ functions by their mangled names (`_ZN3c10…`, `_ZN2at…`,
`_ZN5torch…`); the dynamic loader resolves them in torch's libraries at import. Any such name the installed torch
does not define fails the import with `ImportError: …so: undefined symbol: _ZN…`. Only these namespaces are compared
(an extension's other undefined names come from the C++ runtime, CUDA or Python). 64-bit little-endian ELF only (the
Linux x86_64 and aarch64 wheels); anything else is not read, which is "unknown", not a verdict.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from torchdoctor.probes.elf import NotElf, read_sections

TORCH_PREFIXES = (b"_ZN3c10", b"_ZNK3c10", b"_ZN2at", b"_ZNK2at", b"_ZN5torch", b"_ZNK5torch")
SHT_DYNSYM = 11
TABLE_LIMIT = 512 * 1024 * 1024
"""A dynamic symbol or string table larger than this is not read (libtorch_cpu's are tens of megabytes)."""

_READ: dict[tuple[str, int, int, int], tuple[frozenset[str], frozenset[str]] | None] = {}


def torch_symbols(path: str | os.PathLike) -> tuple[frozenset[str], frozenset[str]] | None:
    """(defined, undefined) symbols of torch's namespaces in a shared library's dynamic table; None when the file is
    not a 64-bit little-endian ELF or its tables cannot be read."""
    try:
        with open(path, "rb", buffering=0) as handle:
            status = os.fstat(handle.fileno())
            key = (str(path), status.st_ino, status.st_size, status.st_mtime_ns)
            if key not in _READ:
                _READ[key] = _read_symbols(handle.fileno(), status.st_size)
            return _READ[key]
    except OSError:
        return None


def _read_symbols(descriptor: int, size: int) -> tuple[frozenset[str], frozenset[str]] | None:
    try:
        elf = read_sections(descriptor, size)
    except NotElf:
        return None
    if not (elf.wide and elf.little):
        return None
    dynsym = next((s for s in elf.sections if s.kind == SHT_DYNSYM), None)
    if dynsym is None or dynsym.link >= len(elf.sections):
        return None
    strings = elf.sections[dynsym.link]
    sym_offset, sym_size, str_offset, str_size = dynsym.offset, dynsym.size, strings.offset, strings.size
    if sym_size > TABLE_LIMIT or str_size > TABLE_LIMIT or sym_offset + sym_size > size or str_offset + str_size > size:
        return None
    symbols = os.pread(descriptor, sym_size - sym_size % 24, sym_offset)
    names = os.pread(descriptor, str_size, str_offset)
    defined, undefined = set(), set()
    for name, info, _, section, _, _ in struct.iter_unpack("<IBBHQQ", symbols):
        if not names.startswith(TORCH_PREFIXES, name):
            continue
        end = names.find(b"\0", name)
        text = names[name:end if end >= 0 else len(names)].decode("ascii", "replace")
        if section == 0:
            undefined.add(text)
        elif info >> 4 in (1, 2):  # GLOBAL or WEAK: visible to the loader
            defined.add(text)
    return frozenset(defined), frozenset(undefined)


def torch_provides(torch_libraries: list[Path]) -> frozenset[str] | None:
    """Every symbol of torch's namespaces that torch's libraries define; None when none could be read."""
    provided: set[str] = set()
    for library in torch_libraries:
        symbols = torch_symbols(library)
        if symbols is not None:
            provided |= symbols[0]
    return frozenset(provided) or None


def missing_from_torch(extension: str | os.PathLike, provided: frozenset[str] | None) -> tuple[str, ...] | None:
    """The torch symbols `extension` needs that `provided` (torch_provides) lacks, sorted; None when either side
    could not be read."""
    needed = torch_symbols(extension)
    if needed is None or not provided:
        return None
    return tuple(sorted(needed[1] - provided))
