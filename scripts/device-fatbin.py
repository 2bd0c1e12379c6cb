"""Record, on a GPU machine, what torchdoctor's fat binary reader sees next to what cuobjdump lists.

    PYTHONPATH=src python scripts/device-fatbin.py OUT_DIR

For torch's CUDA libraries and the nvidia-* wheels installed beside it: the reader's entries in file order (kind,
SM, flags, header bytes), cuobjdump's `--list-elf` / `--list-ptx` names in the same order, and the times of both.
The headers of a few libraries are kept with their file offsets, so tests/fixtures/fatbin can rebuild them as sparse
files (headers in place, payloads as holes) and replay the reader against cuobjdump's answer without the GPU.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

from torchdoctor.probes import fatbin
from torchdoctor.probes.elf import read_sections


def cuobjdump() -> str | None:
    return shutil.which("cuobjdump") or next(iter(sorted(glob.glob("/usr/local/cuda*/bin/cuobjdump"))), None)


def listing(tool: str, path: str, option: str) -> tuple[list[str], float, int]:
    started = time.monotonic()
    done = subprocess.run([tool, option, path], capture_output=True, text=True, timeout=300)
    names = re.findall(r"(?:ELF|PTX) file\s+\d+:\s+(\S+)", done.stdout)
    return names, round(time.monotonic() - started, 3), done.returncode


def headers(path: str) -> dict:
    """The .nv_fatbin section's containers and entry headers, with offsets, for a sparse replay."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        sections = [(s.offset, s.size) for s in read_sections(handle.fileno(), size, path).sections
                    if s.name == b".nv_fatbin"]
        kept = {"size": size, "elf_head": handle.read(0) or b"".hex(), "sections": []}
        handle.seek(0)
        kept["elf_head"] = handle.read(64).hex()
        for offset, length in sections:
            section = {"offset": offset, "length": length, "containers": []}
            position, end = offset, offset + length
            while position + 16 <= end:
                handle.seek(position)
                raw = handle.read(16)
                magic, _, header_size, fat_size = struct.unpack("<IHHQ", raw)
                if magic != fatbin.FATBIN_MAGIC:
                    position += 8
                    continue
                container = {"offset": position, "header": raw.hex(), "entries": []}
                entry, container_end = position + header_size, min(position + header_size + fat_size, end)
                while entry + 64 <= container_end:
                    handle.seek(entry)
                    first = handle.read(64)
                    entry_size, payload = struct.unpack_from("<IQ", first, 4)
                    handle.seek(entry)
                    container["entries"].append({"offset": entry, "header": handle.read(entry_size).hex()})
                    if entry_size < 64:
                        break
                    entry += entry_size + payload
                section["containers"].append(container)
                position = max(container_end, position + 16)
                position += (-position) % 8
            kept["sections"].append(section)
    return kept


def main() -> int:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    import torch

    site = Path(torch.__file__).parent.parent
    candidates = sorted({*glob.glob(str(site / "torch/lib/*.so*")), *glob.glob(str(site / "nvidia/**/lib/*.so*"), recursive=True)})
    tool = cuobjdump()
    report = {"torch": torch.__version__, "get_arch_list": torch.cuda.get_arch_list(), "cuobjdump": tool, "libraries": []}
    for path in candidates:
        started = time.monotonic()
        try:
            code = fatbin.read_gpu_code(path)
        except Exception as error:  # noqa: BLE001 - recorded, not fatal
            report["libraries"].append({"path": os.path.relpath(path, site), "error": repr(error)})
            continue
        seconds = round(time.monotonic() - started, 4)
        if not code.entries:
            continue
        entry = {
            "path": os.path.relpath(path, site), "bytes": os.path.getsize(path), "reader_seconds": seconds,
            "entries": [[e.kind, e.sm, hex(e.flags), e.compressed] for e in code.entries],
        }
        if tool:
            entry["elf"], entry["elf_seconds"], entry["elf_rc"] = listing(tool, path, "--list-elf")
            entry["ptx"], entry["ptx_seconds"], entry["ptx_rc"] = listing(tool, path, "--list-ptx")
        report["libraries"].append(entry)
        print(f"{entry['path']}: {len(code.entries)} entries in {seconds} s; sass {code.sass}; ptx {code.ptx}", flush=True)
    (out / "fatbin-report.json").write_text(json.dumps(report, indent=1))
    # Headers of small libraries with arch-specific code and PTX, to replay as sparse files.
    wanted = [p for p in candidates if re.search(r"libcurand|libnvrtc|libcusparseLt|libtorch_cuda\.so$", p)]
    replay = {os.path.relpath(p, site): headers(p) for p in wanted}
    (out / "fatbin-headers.json").write_text(json.dumps(replay))
    return 0


if __name__ == "__main__":
    sys.exit(main())
