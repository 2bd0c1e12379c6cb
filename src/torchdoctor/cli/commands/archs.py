"""`torchdoctor archs`: the SASS and PTX architectures in libraries, read from their fat binary headers."""

from __future__ import annotations

import argparse
import json
import sys

from torchdoctor import workflow
from torchdoctor.cli import ExitCode, UsageError
from torchdoctor.cli.common import project_directory


def run(args: argparse.Namespace) -> int:
    try:
        found, site = workflow.gpu_code(args.targets, project_directory(args), args.python)
    except workflow.CannotProbe as error:
        raise UsageError(str(error)) from None
    if args.format == "json":
        sys.stdout.write(json.dumps([{"package": c.package, "path": c.path, "sass": list(c.sass), "ptx": list(c.ptx),
                                      "ptx_isa": c.ptx_isa} for c in found], indent=2) + "\n")
    else:
        for library in found:
            isa = f" (PTX ISA {library.ptx_isa})" if library.ptx_isa else ""
            print(f"{library.package}  {library.path}\n    SASS {' '.join(library.sass) or '-'}\n"
                  f"    PTX  {' '.join(library.ptx) or '-'}{isa}")
        if not found:
            print("no GPU code found" + (f" in {site}" if site else ""))
    return ExitCode.CLEAN
