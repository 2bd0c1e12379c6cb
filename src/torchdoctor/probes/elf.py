"""The section headers of an ELF file, with their names, in three reads (the header, the section table, the names),
whatever the number of sections: what the fat binary reader (the `.nv_fatbin` sections) and the symbol reader (the
`.dynsym` table) both start from. Nothing is loaded or executed; a damaged file is refused in words.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

NAMES_LIMIT = 1 << 24
"""Section names beyond this many bytes are not read (real libraries have a few hundred)."""


class NotElf(ValueError):
    """Not an ELF file, or one whose header is cut short: said in one line."""


@dataclass(frozen=True)
class Section:
    name: bytes
    kind: int
    """sh_type: 11 for the dynamic symbol table (SHT_DYNSYM), 3 for a string table, …"""
    offset: int
    size: int
    link: int
    """sh_link: for a symbol table, the index of its string table."""


@dataclass(frozen=True)
class ElfSections:
    wide: bool
    """64-bit (ELFCLASS64)."""
    little: bool
    """Little-endian (ELFDATA2LSB)."""
    sections: tuple[Section, ...]


MAX_SECTION_ENTRY = 256
"""The largest section-table entry read: the layouts are 40 (ELF32) and 64 (ELF64) bytes, with room for extensions."""


def pread_exactly(descriptor: int, length: int, offset: int, label: str) -> bytes:
    data = os.pread(descriptor, length, offset)  # one system call per read (gVisor makes each one count)
    if len(data) != length:
        raise NotElf(f"{label}: truncated at byte {offset}")
    return data


def read_sections(descriptor: int, size: int, label: str = "file") -> ElfSections:
    """The file's sections; none when it has no section table (or one that does not fit in the file). Raises NotElf
    for a file that is not ELF or whose header is cut short."""
    header = pread_exactly(descriptor, min(64, size), 0, label)
    if header[:4] != b"\x7fELF":
        raise NotElf(f"{label}: not an ELF file")
    wide, little = header[4:5] == b"\2", header[5:6] == b"\1"
    if len(header) < (64 if wide else 52):
        raise NotElf(f"{label}: truncated ELF header")
    order = "<" if little else ">"
    if wide:
        shoff, = struct.unpack_from(order + "Q", header, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from(order + "HHH", header, 0x3A)
    else:
        shoff, = struct.unpack_from(order + "I", header, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from(order + "HHH", header, 0x2E)
    # name, type, flags, address, offset, size, link, info, alignment, entry size
    layout = order + ("IIQQQQIIQQ" if wide else "IIIIIIIIII")
    if (shoff == 0 or shnum == 0 or not struct.calcsize(layout) <= shentsize <= MAX_SECTION_ENTRY
            or shoff + shnum * shentsize > size):
        # No table, or one that does not fit in the file or is forged (entries of 65 KB each asked 2.1 GB of memory
        # of a sparse file, issue 25 item 4; real tables use the layout's own size).
        return ElfSections(wide, little, ())
    table = pread_exactly(descriptor, shnum * shentsize, shoff, label)  # at most 65535 x 65535 bytes, within the file
    raw = [struct.unpack_from(layout, table, index * shentsize) for index in range(shnum)]
    names = b""
    if shstrndx < shnum and raw[shstrndx][4] < size:
        names_offset, names_size = raw[shstrndx][4], raw[shstrndx][5]
        names = pread_exactly(descriptor, min(names_size, size - names_offset, NAMES_LIMIT), names_offset, label)

    def name(offset: int) -> bytes:
        end = names.find(b"\0", offset)
        return names[offset:end if end >= 0 else len(names)] if offset < len(names) else b""

    return ElfSections(wide, little, tuple(Section(name(entry[0]), entry[1], entry[4], entry[5], entry[6]) for entry in raw))
