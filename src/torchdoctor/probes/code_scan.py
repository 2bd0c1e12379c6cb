"""The project's own Python files, read with `ast` (never imported or run), for where they set CUDA_VISIBLE_DEVICES
and where they ask for pinned host memory.

A script that sets `os.environ["CUDA_VISIBLE_DEVICES"]` after CUDA is first used changes nothing for its process
(CUDA read the variable when it started), and one that names an ordinal this machine does not have hides every GPU.
The scan is capped (files, bytes, time) and says when it stopped early; a file is parsed only when its text holds the
variable's name, so a large repository costs a read of its .py files.
"""

from __future__ import annotations

import ast
import os
import time
from pathlib import Path

from torchdoctor.snapshot import CodeScan, DeviceAssignment

VARIABLE = "CUDA_VISIBLE_DEVICES"
MAX_FILES = 2000
MAX_FILE_BYTES = 512 * 1024
MAX_SECONDS = 0.5
SKIPPED_FOLDERS = {".git", ".hg", ".venv", "venv", "env", ".tox", ".nox", "node_modules", "__pycache__", "build", "dist",
                   "site-packages", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".eggs"}


def scan_device_assignments(root: Path) -> CodeScan:
    """Every assignment of CUDA_VISIBLE_DEVICES in the project's .py files, with whether CUDA was used before it in
    the same function (or module body)."""
    started = time.monotonic()
    files, truncated = 0, False
    found: list[DeviceAssignment] = []
    pinned: list[str] = []
    for folder, folders, names in os.walk(root):
        if time.monotonic() - started > MAX_SECONDS:  # folders without .py files count too (a data-heavy tree)
            truncated = True
            break
        folders[:] = sorted(f for f in folders if f not in SKIPPED_FOLDERS and not f.startswith("."))
        for name in sorted(n for n in names if n.endswith(".py")):
            if files >= MAX_FILES or time.monotonic() - started > MAX_SECONDS:
                truncated = True
                break
            files += 1
            path = Path(folder) / name
            try:
                with open(path, "rb") as handle:
                    data = handle.read(MAX_FILE_BYTES + 1)
            except OSError:
                continue
            if len(data) > MAX_FILE_BYTES or (VARIABLE.encode() not in data and PINNED.encode() not in data):
                continue
            tree = _parsed(path, data)
            if tree is None:
                continue
            if VARIABLE.encode() in data:
                found += _assignments(path, root, tree)
            if PINNED.encode() in data and len(pinned) < 8:
                pinned += _pinned_places(path, root, tree)
        if truncated:
            break
    return CodeScan(files=files, truncated=truncated, assignments=tuple(found[:50]),
                    duration_s=round(time.monotonic() - started, 4), pinned_memory=tuple(pinned[:8]))


PINNED = "pin_memory"


def _parsed(path: Path, data: bytes) -> ast.AST | None:
    try:
        return ast.parse(data, filename=str(path))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _pinned_places(path: Path, root: Path, tree: ast.AST) -> list[str]:
    """`DataLoader(..., pin_memory=True)` and `tensor.pin_memory()`: where the code asks for page-locked memory."""
    relative = path.relative_to(root).as_posix()
    places = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        keyword = any(k.arg == PINNED and isinstance(k.value, ast.Constant) and k.value.value is True for k in node.keywords)
        method = isinstance(node.func, ast.Attribute) and node.func.attr == PINNED
        if keyword or method:
            places.append(f"{relative}:{node.lineno}")
    return sorted(places, key=lambda p: int(p.rsplit(":", 1)[1]))


def _assignments(path: Path, root: Path, tree: ast.AST) -> list[DeviceAssignment]:
    relative = path.relative_to(root).as_posix()
    found = []
    for scope in [tree, *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))]:
        cuda_lines = sorted(node.lineno for node in _own_nodes(scope) if _uses_cuda(node))
        for node in _own_nodes(scope):
            assigned, value = _assigned_value(node)
            if not assigned:
                continue
            first_use = next((line for line in cuda_lines if line < node.lineno), None)
            found.append(DeviceAssignment(path=relative, line=node.lineno, value=value, cuda_used_at=first_use))
    return sorted(found, key=lambda a: a.line)


def _own_nodes(scope: ast.AST):
    """The nodes of a module or function body, not those of functions or classes defined inside it."""
    stack = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _assigned_value(node: ast.AST) -> tuple[bool, str | None]:
    """(whether this node assigns CUDA_VISIBLE_DEVICES, the literal it assigns or None when it is computed)."""
    if isinstance(node, ast.Assign):
        for target in node.targets:
            if isinstance(target, ast.Subscript) and _is_environ(target.value) and _is_variable(target.slice):
                return True, _literal(node.value)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        method, owner = node.func.attr, node.func.value
        if method in ("setdefault", "__setitem__") and _is_environ(owner) and node.args and _is_variable(node.args[0]):
            return True, _literal(node.args[1]) if len(node.args) > 1 else None
        if method == "putenv" and node.args and _is_variable(node.args[0]):
            return True, _literal(node.args[1]) if len(node.args) > 1 else None
        if method == "update" and _is_environ(owner):
            for keyword in node.keywords:
                if keyword.arg == VARIABLE:
                    return True, _literal(keyword.value)
            for argument in node.args[:1]:
                if isinstance(argument, ast.Dict):
                    for key, value in zip(argument.keys, argument.values):
                        if key is not None and _is_variable(key):
                            return True, _literal(value)
    return False, None


def _is_environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (isinstance(node, ast.Name) and node.id == "environ")


def _is_variable(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value == VARIABLE


def _literal(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int)):
        return str(node.value)
    return None


def _uses_cuda(node: ast.AST) -> bool:
    """A call that starts CUDA: torch.cuda.<anything>(), x.cuda(), x.to("cuda…")."""
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return False
    func = node.func
    if func.attr == "cuda" and not node.args:
        return True
    chain = func.value
    if isinstance(chain, ast.Attribute) and chain.attr == "cuda" and isinstance(chain.value, ast.Name) and chain.value.id == "torch":
        return True
    if func.attr == "to" and node.args and isinstance(node.args[0], ast.Constant):  # torch.device("cuda") starts nothing
        return isinstance(node.args[0].value, str) and node.args[0].value.startswith("cuda")
    return False
