"""`python -m torchdoctor`: the same guarded entry point as the `torchdoctor` command (console.py)."""

import sys

from torchdoctor.console import main

sys.exit(main())
