"""torchdoctor: a terminal doctor for PyTorch environments."""

import os as _os
import sys as _sys

__version__ = "0.1.0"

# `python -m torchdoctor`, run inside a project, puts that folder first on sys.path, so a `typing.py` or
# `json.py` in the project would be imported in place of the standard library's: running a doctor in a cloned
# repository would run its code. While `-m` is locating this package sys.argv[0] is "-m": drop the folder then,
# before torchdoctor imports anything. This is partial: Python's own `-m` machinery imports a few modules
# (`warnings`, `importlib`) before this line runs. The `torchdoctor` command never has the folder on sys.path;
# with `-m`, Python 3.11's `python -P -m torchdoctor` is safe (the README says so).
if _sys.argv[:1] == ["-m"] and _sys.path and _sys.path[0] in ("", _os.getcwd()):
    del _sys.path[0]
