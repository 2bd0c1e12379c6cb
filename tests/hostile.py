"""Hostile input: mutated project files and snapshots, and what a `check` over each did.

Shared by tests/test_hostile_input.py (a small seeded budget) and benchmarks/input_fuzz.py (≥ 30,000 project
files, ≥ 10,000 snapshots, ≥ 300 runs of the real CLI). The seeds are the fixtures' own files; mutations are
made at two levels: the data (a value swapped for another type, nan, a date, a huge or deeply nested value,
terminal escapes, Rich markup, a planted credential) and the bytes (cut, spliced, flipped, a NUL, bad UTF-8,
nesting thousands of levels deep). Every planted credential contains SECRET_MARK; none may reach any output.

What is counted for each input:
    traceback   the check raised instead of answering (in the CLI: "Traceback" on stderr or exit code not 0/1/2)
    hang        the check did not end within its time limit
    memory      the check needed more memory than its cap (MemoryError)
    secret      SECRET_MARK appeared in the text, JSON or Markdown report, or in the saved snapshot
    escapes     a terminal control character from the input reached the text report
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import math
import random
import re
from collections import Counter
from pathlib import Path

import tomli as tomllib  # tomllib is 3.11+; tomli (a dependency) is the same parser, on 3.10 too
import tomlkit

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SNAPSHOTS = FIXTURES / "snapshots"
SECRET_MARK = "S3CR3Tt0k"
MACHINE = SNAPSHOTS / "h100-pypi.json"

CREDENTIALS = [
    f"https://user:{SECRET_MARK}@pypi.example.com/simple",
    f"https://ci:p@ss{SECRET_MARK}@download.example.com/whl/cu128",
    f"https://download.example.com/whl/cu128?token={SECRET_MARK}",
    f"https://{SECRET_MARK}@download.pytorch.org/whl/cu128",
    f"https://__token__:{SECRET_MARK}@mirror.example.org/pytorch/whl/cu124",
]
HOSTILE_VALUES = [
    5, -1, 2**70, 1.5, math.nan, math.inf, True, datetime.date(2026, 12, 2), datetime.datetime(2026, 12, 2, 1, 2, 3),
    datetime.time(1, 2), "", "x" * 20000, "\x1b[31mred\x1b]0;title\x07", "[/red]", "exp[/v2]", "[bold]x[/bold]",
    "sys_platform ==", ">=3.x", "torch ; extra ==", "===", "\u202e\u200b", [], {}, [1, "a", {}], {"a": [1, {"b": None or 2}]},
    [{"name": "x", "url": 5}], "../../../../etc/passwd", "/dev/zero", *CREDENTIALS,
]


def _walk(value, path=()):
    """Every (path, value) in nested dicts and lists, to 40 levels."""
    yield path, value
    if len(path) >= 40:
        return
    if isinstance(value, dict):
        for key, item in list(value.items()):
            yield from _walk(item, (*path, key))
    elif isinstance(value, list):
        for position, item in enumerate(value[:40]):
            yield from _walk(item, (*path, position))


def _set(data, path, value):
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def _delete(data, path):
    target = data
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]


def _deep(rng: random.Random) -> str:
    depth = rng.choice([100, 460, 1000, 5000])
    if rng.random() < 0.5:
        return "deep = " + "[" * depth + "]" * depth + "\n"
    return "deep = " + "{ a = " * depth + "1" + " }" * depth + "\n"


def mutate_data(data: dict, rng: random.Random) -> dict:
    """Swap, delete or add values anywhere in parsed TOML or JSON data."""
    for _ in range(rng.randint(1, 6)):
        paths = [path for path, _ in _walk(data) if path]
        if not paths:
            break
        path = rng.choice(paths)
        action = rng.random()
        try:
            if action < 0.65:
                _set(data, path, rng.choice(HOSTILE_VALUES))
            elif action < 0.85:
                _delete(data, path)
            else:
                parent = data
                for key in path[:-1]:
                    parent = parent[key]
                if isinstance(parent, dict):
                    parent[rng.choice(["index", "sources", "version", "dependencies", "x-unknown", "marker"])] = rng.choice(HOSTILE_VALUES)
        except (KeyError, IndexError, TypeError):
            continue
    return data


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        position = rng.randrange(len(data) + 1) if data else 0
        if choice < 0.2:
            data = data[:position]
        elif choice < 0.4:
            other = rng.randrange(len(data) + 1) if data else 0
            data = data[:position] + data[min(position, other):max(position, other)] + data[position:]
        elif choice < 0.55 and data:
            data = data[:position] + bytes([rng.randrange(256)]) + data[position + 1:]
        elif choice < 0.65:
            data = data[:position] + rng.choice([b"\x00", b"\xff\xfe", b"\xc3(", b"\x1b[2J", b"\r", "\ufeff".encode()]) + data[position:]
        elif choice < 0.8:
            data = data[:position] + rng.choice([b"[", b"]", b"{", b"}", b'"', b"'''", b"=", b"\n[[tool.uv.index]]\n", b"\n[tool.uv]\n"]) + data[position:]
        else:
            data += b"\n" + _deep(rng).encode()
    return data


def _dump_toml(data: dict) -> str | None:
    try:
        return tomlkit.dumps(data)
    except Exception:  # tomlkit cannot write some mixes (a nan key path, an array of mixed tables): skip the variant
        return None


def small_lock(text: str, rng: random.Random, keep: int = 25) -> str:
    """A lock with at most `keep` packages (a 3 MB lock is 30,000 mutations' worth of time to re-parse)."""
    data = tomllib.loads(text)
    packages = data.get("package", [])
    if len(packages) > keep:
        torch_like = [p for p in packages if "torch" in p.get("name", "") or p.get("source", {}).get("virtual")]
        data["package"] = (torch_like + rng.sample(packages, keep))[:keep]
    return tomlkit.dumps(data)


REQUIREMENTS = [
    "torch==2.9.1+cu128\ntorchvision\n--extra-index-url https://download.pytorch.org/whl/cu128\n",
    f"--index-url https://user:{SECRET_MARK}@pypi.example.com/simple\ntorch>=2.5\n",
    f"-i https://ci:p@ss{SECRET_MARK}@mirror.example.org/pytorch/whl/cu124\ntorch\n-r other.txt\n",
    "numpy<2\ntorch @ https://download.pytorch.org/whl/cu121/torch-2.4.0%2Bcu121-cp311-cp311-linux_x86_64.whl\n",
]
DOCKERFILES = [
    "FROM nvidia/cuda:12.8.0-runtime-ubuntu24.04\nRUN pip install torch --index-url https://download.pytorch.org/whl/cu128\n",
    f"FROM python:3.12\nENV PIP_INDEX_URL=https://user:{SECRET_MARK}@pypi.example.com/simple\nRUN pip install torch\n",
    f"FROM python:3.12\nARG TOKEN={SECRET_MARK}\nRUN pip install --extra-index-url https://x:${{TOKEN}}@example.com/simple torch\n",
    "FROM python:3.12\nARG A=xx\n" + "".join(f"ARG A{i+1}=${{A{i}}}${{A{i}}}\n".replace("A0", "A") for i in range(40)) + "RUN pip install torch==${A40}\n",
    "FROM python:3.12\nRUN uv pip install torch --torch-backend=auto\n",
]


def seeds() -> dict[str, list[str]]:
    """Seed texts by file name, from the fixtures (and the few requirements/Dockerfile shapes above)."""
    rng = random.Random(0)
    field = FIXTURES / "field"
    pyprojects = [p.read_text(encoding="utf-8") for p in sorted(field.glob("*__pyproject.toml"))]
    pyprojects += [p.read_text(encoding="utf-8") for p in sorted((FIXTURES / "fix-cases").glob("*.toml"))]
    locks = [p.read_text(encoding="utf-8") for p in sorted((FIXTURES / "cases" / "regressions").glob("*/uv.lock"))]
    locks += [small_lock(p.read_text(encoding="utf-8"), rng) for p in sorted(field.glob("*__uv.lock"))[:12]]
    requirements = REQUIREMENTS + [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("cases/*/requirements*.txt"))]
    dockerfiles = DOCKERFILES + [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("cases/*/Dockerfile*"))]
    return {"pyproject.toml": pyprojects, "uv.lock": locks, "requirements.txt": requirements, "Dockerfile": dockerfiles}


def mutated_project(folder: Path, seed_texts: dict[str, list[str]], rng: random.Random) -> str:
    """Write a project with one mutated file (the others as seeded); returns the name of the mutated file."""
    name = rng.choice(["pyproject.toml", "pyproject.toml", "uv.lock", "requirements.txt", "Dockerfile"])
    pyproject = rng.choice(seed_texts["pyproject.toml"])
    files = {"pyproject.toml": pyproject}
    if name == "uv.lock":
        files["uv.lock"] = rng.choice(seed_texts["uv.lock"])
    if name in ("requirements.txt", "Dockerfile"):
        files[name] = rng.choice(seed_texts[name])
    text = files[name]
    if rng.random() < 0.5 and name in ("pyproject.toml", "uv.lock"):
        try:
            mutated = _dump_toml(mutate_data(tomllib.loads(text), rng))
        except tomllib.TOMLDecodeError:
            mutated = None
        data = (mutated or text).encode("utf-8", "surrogatepass")
    else:
        data = mutate_bytes(text.encode("utf-8"), rng)
    folder.mkdir(parents=True, exist_ok=True)
    for file_name, content in files.items():
        (folder / file_name).write_bytes(data if file_name == name else content.encode("utf-8"))
    return name


SAME_KIND = {
    str: ["", "x" * 5000, "\x1b[31mred\x1b[0m", "[/red]", "9999.0", "-1", "sm_999", "nan", *CREDENTIALS],
    int: [0, -1, 2**63, 10**30], float: [0.0, -1.0, 1e308, -1e308], bool: [True, False],
}


def same_kind(data: dict, rng: random.Random) -> dict:
    """Values swapped for hostile ones of the same JSON kind: what passes a snapshot's type checks."""
    for _ in range(rng.randint(1, 8)):
        paths = [(path, value) for path, value in _walk(data) if path and type(value) in SAME_KIND]
        if not paths:
            break
        path, value = rng.choice(paths)
        _set(data, path, rng.choice(SAME_KIND[type(value)]))
    return data


def mutated_snapshot(text: str, rng: random.Random) -> str:
    if rng.random() < 0.5:
        try:
            return json.dumps(same_kind(json.loads(text), rng))
        except (ValueError, TypeError):
            return text
    if rng.random() < 0.5:
        data = mutate_data(json.loads(text), rng)
        try:
            return json.dumps(data, default=str)
        except (ValueError, TypeError):
            return text
    return mutate_bytes(text.encode("utf-8"), rng).decode("utf-8", "replace")


ESCAPES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x9b]")
# A planted secret counts as leaked where it still stands as a credential: in a URL's user-info, a credential
# query parameter or a secret-named assignment (a mutation that moves it into a path has made it plain text).
LEAK = re.compile(rf"://[^\s/]*{SECRET_MARK}[^\s/]*@|(token|key|password|secret|passwd)[^=\s]*=[^\s&]*{SECRET_MARK}", re.I)


def run_check(arguments: list[str]) -> tuple[int | None, str, str, str | None]:
    """`torchdoctor check …` through the CLI's entry point in this process: (code, stdout, stderr, traceback)."""
    import traceback

    from torchdoctor.cli import main

    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(arguments)
    except MemoryError:
        return None, out.getvalue(), err.getvalue(), "MemoryError"
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 2
    except BaseException:  # noqa: BLE001 - whatever escapes is what is counted
        return None, out.getvalue(), err.getvalue(), traceback.format_exc()
    return code, out.getvalue(), err.getvalue(), None


def check_outputs(project: Path, snapshot: Path, state: Path,
                  formats: tuple[str, ...] = ("text", "json", "markdown")) -> tuple[Counter, str | None]:
    """Run `check` in the given formats (saving the snapshot with JSON) on one project; count what went wrong."""
    counts: Counter = Counter()
    first_traceback = None
    saved = state / "saved.json"
    for form in formats:
        extra = ["--save-snapshot", str(saved)] if form == "json" else ["-v"] if form == "text" else []  # all the text
        code, out, err, failure = run_check(["check", "--project", str(project), "--snapshot", str(snapshot),
                                             "--format", form, "--color", "never", "--debug", *extra])
        counts[f"exit {code}"] += 1
        if failure is None and "torchdoctor: internal error" in err:
            failure = err  # caught by the CLI's last line of defence: still a bug to count
        if failure is None and "torchdoctor: ran out of memory" in err:
            failure = "MemoryError"
        if failure is not None or code not in (0, 1, 2):
            counts["memory" if failure == "MemoryError" else "traceback"] += 1
            first_traceback = first_traceback or failure or f"exit code {code}"
            break
        written = saved.read_text(encoding="utf-8", errors="replace") if extra and saved.exists() else ""
        leaked = LEAK.search(out) or LEAK.search(err) or LEAK.search(written)
        if leaked:
            counts["secret"] += 1
            first_traceback = first_traceback or f"secret printed ({form}): {leaked.string[max(0, leaked.start() - 80):leaked.end() + 20]!r}"
        if form == "text" and ESCAPES.search(out.replace("\n", "").replace("\t", "")):
            counts["escapes"] += 1
    return counts, first_traceback
