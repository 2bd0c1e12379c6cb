"""Requirement strings as uv reads them.

uv accepts a little more than PEP 508 and `packaging` do: a direct URL followed immediately by `;` and a
marker (`pkg @ git+https://host/pkg.git; platform_machine == 'x86_64'`), which PEP 508 wants separated by a
space. Projects that uv locks happily must not be called unusable; pip would reject such a line, which is
worth a note and no more.
"""

from __future__ import annotations

import functools

from packaging.requirements import InvalidRequirement, Requirement


@functools.lru_cache(maxsize=4096)
def parse_requirement(text: str) -> tuple[Requirement | None, bool]:
    """(The requirement, whether only uv's leniency made it parse); (None, False) when uv rejects it too.
    Cached: the resolution model reads the same strings for every platform and selection (treat it as read-only)."""
    try:
        return Requirement(text), False
    except InvalidRequirement:
        pass
    if " @ " in text and ";" in text:
        url, _, marker = text.partition(";")
        try:
            return Requirement(f"{url.strip()} ; {marker.strip()}"), True
        except InvalidRequirement:
            return None, False
    return None, False
