"""`python -m torchdoctor`."""

import sys

try:
    from torchdoctor.cli import main
except KeyboardInterrupt:  # Ctrl-C while Python imports the CLI: the same line as later, never a traceback
    print("torchdoctor: interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
