"""The `torchdoctor` command's entry point: the CLI imported under a guard, so that Ctrl-C while Python imports it
(the first tenth of a second) ends with the same one line as later, never a traceback."""

from __future__ import annotations

import sys


def main() -> int:
    try:
        from torchdoctor.cli import main as run
    except KeyboardInterrupt:
        print("torchdoctor: interrupted", file=sys.stderr)
        return 130
    return run()
