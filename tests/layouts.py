"""Layout variants of real project files, and what `fix --all --yes --unsafe` then `undo` did to each.

Shared by the property suite (tests/test_fix_layouts.py, a few hundred variants) and benchmarks/fix_fuzz.py
(tens of thousands). The seeds are the project files in the test fixtures: the field corpus, the cases and
the regressions. Each variant keeps the seed's meaning and changes how it is written: CRLF, a byte-order mark,
comments on every kind of line (inside arrays too), dotted and inline uv tables, `dynamic` keys, credentials in
index URLs, double blank lines. A variant that is not valid TOML is not used (only layouts are fuzzed here;
hostile input has its own fuzzer).

The run goes through the CLI's own entry point, in process, on a recorded machine, so the numbers are the
ones a user would get. What is counted (each one a defect):
    invalid          the written pyproject.toml is not valid TOML
    endings          a file with one kind of line ending came back with two
    comments lost    a comment whose line (or the entry it introduces) is still in the file is gone
    credentials      a `user:token@` in a written URL that the file did not have byte for byte
    not fixed point  a second `fix --all --yes --unsafe` run wrote something
    undo not exact   `undo` did not give back the original bytes
    glued headers    a table header that the fix left right under a line of the table before (no blank line)
    builds changed   a platform moved from a GPU build to CPU, or lost a torch-family package, when no
                     applied fix says it moves packages (predicted from the files, as the proof does)
    crashes          the command raised instead of answering
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import re
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import tomli as tomllib  # tomllib is 3.11+; tomli (a dependency) is the same parser, on 3.10 too

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SNAPSHOTS = FIXTURES / "snapshots"
MACHINES = {
    "H100 (PyPI torch, driver 580)": SNAPSHOTS / "h100-pypi.json",
    "RTX 5060 Ti, WSL2 (Blackwell, nightly)": SNAPSHOTS / "wsl2-rtx5060ti-nightly.json",
}
DEFECTS = ("invalid", "endings", "comments lost", "credentials", "glued headers", "not fixed point", "undo not exact",
           "builds changed", "crashes")


def seeds() -> list[tuple[str, str]]:
    """(name, text) of every project file in the fixtures that configures torch."""
    paths = [*sorted((FIXTURES / "field").glob("*__pyproject.toml")), *sorted((FIXTURES / "fix-cases").glob("*.toml")),
             *sorted((FIXTURES / "cases").glob("*/*.toml")), *sorted((FIXTURES / "cases" / "regressions").glob("*/pyproject.toml"))]
    found = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        if "torch" in text:
            found.append((str(path.relative_to(FIXTURES)), text))
    return found


# Layout operations ----------------------------------------------------------------------------------

COMMENT_TEXTS = ["# keep: chosen by the team", "#why: see ADR-7", "# [not a header]", "# url = \"https://x\"",
                 "# torch = { index = \"old\" }", "#", "# ümlaut, 日本語"]


def _string_lines(lines: list[str]) -> set[int]:
    """Lines that start inside a multi-line string, where a comment would become text."""
    inside, delimiter, found = False, "", set()
    for number, line in enumerate(lines):
        if inside:
            found.add(number)
        position = 0
        while True:
            if not inside:
                match = re.search(r'"""|\'\'\'', line[position:])
                if not match:
                    break
                # A triple quote after a `#` is in a comment.
                if "#" in line[position:position + match.start()] and not re.search(r"[\"']", line[:position + match.start()]):
                    break
                inside, delimiter, position = True, match.group(), position + match.end()
            else:
                end = line.find(delimiter, position)
                if end < 0:
                    break
                inside, position = False, end + 3
    return found


def add_comments(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    skip = _string_lines(lines)
    out = []
    for number, line in enumerate(lines):
        stripped = line.strip()
        if number not in skip and rng.random() < 0.3:
            out.append(" " * rng.choice([0, 0, 4]) + rng.choice(COMMENT_TEXTS) + f" c{number}")
        if (number not in skip and stripped and "#" not in line and not stripped.endswith(("\\", '"""', "'''"))
                and rng.random() < 0.3):
            line = f"{line}  {rng.choice(COMMENT_TEXTS)} t{number}"
        out.append(line)
    return "\n".join(out)


def dotted_sources(text: str, rng: random.Random) -> str:
    """`[tool.uv.sources]` written as dotted keys under `[tool.uv]` or `[tool]`."""
    match = re.search(r"^\[tool\.uv\.sources\][ \t]*\n((?:(?!\[).*\n?)*)", text, re.M)
    if not match:
        return text
    body = match.group(1)
    prefix, header = ("uv.sources.", "[tool]") if rng.random() < 0.5 else ("sources.", "[tool.uv]")
    rewritten = re.sub(r"^([A-Za-z0-9_\-\"']+)(\s*=)", lambda m: f"{prefix}{m.group(1)}{m.group(2)}", body, flags=re.M)
    return text[:match.start()] + f"{header}\n" + rewritten + text[match.end():]


def inline_sources(text: str, rng: random.Random) -> str:
    """`[tool.uv.sources]` written as one inline table `sources = { … }` under `[tool.uv]`."""
    match = re.search(r"^\[tool\.uv\.sources\][ \t]*\n((?:(?!\[).*\n?)*)", text, re.M)
    if not match:
        return text
    entries = [line.strip() for line in match.group(1).splitlines() if line.strip() and not line.strip().startswith("#")]
    if any("#" in entry for entry in entries):
        return text
    return text[:match.start()] + "[tool.uv]\nsources = { " + ", ".join(entries) + " }\n\n" + text[match.end():]


def credentials(text: str, rng: random.Random) -> str:
    user = rng.choice(["user:tok%40en", "__token__:pypi-AbC", "ci"])
    return re.sub(r'(url\s*=\s*["\']https?://)(download\.pytorch\.org|[a-z.]*mirror[a-z.]*)', rf"\g<1>{user}@\g<2>", text, count=1)


def dynamic_version(text: str, rng: random.Random) -> str:
    if re.search(r"^dynamic\s*=", text, re.M):
        return text
    return re.sub(r'^version\s*=\s*"[^"]*"', 'dynamic = ["version"]', text, count=1, flags=re.M)


def dynamic_dependencies(text: str, rng: random.Random) -> str:
    """`dependencies` read by the build backend from elsewhere: the key is gone and `dynamic` lists it."""
    if re.search(r"^dynamic\s*=", text, re.M):
        return text
    match = re.search(r"^dependencies\s*=\s*\[(?:[^\[\]]|\[[^\[\]]*\])*\][^\n]*\n", text, re.M)
    if not match:
        return text
    return text[:match.start()] + 'dynamic = ["dependencies"]\n' + text[match.end():]


def double_blank_lines(text: str, rng: random.Random) -> str:
    return re.sub(r"\n\n(\[)", r"\n\n\n\1", text)


OPERATIONS = {
    "comments": (add_comments, 0.6), "dotted": (dotted_sources, 0.15), "inline": (inline_sources, 0.05),
    "credentials": (credentials, 0.3), "dynamic-version": (dynamic_version, 0.2),
    "dynamic-dependencies": (dynamic_dependencies, 0.08), "double-blank": (double_blank_lines, 0.1),
}


@dataclass(frozen=True)
class Variant:
    seed: str
    text: str
    operations: tuple[str, ...]


def variant(seed: tuple[str, str], rng: random.Random) -> Variant | None:
    """One layout of a seed; None when the layout chosen does not make valid TOML from it."""
    name, text = seed
    done = []
    for operation, (function, chance) in OPERATIONS.items():
        if rng.random() < chance:
            changed = function(text, rng)
            if changed != text:
                try:
                    tomllib.loads(changed)
                except tomllib.TOMLDecodeError:
                    continue
                text, done = changed, [*done, operation]
    if rng.random() < 0.35:
        text, done = text.replace("\n", "\r\n"), [*done, "crlf"]
    if rng.random() < 0.2:
        text, done = "\ufeff" + text, [*done, "bom"]
    return Variant(name, text, tuple(done))


# Measuring --------------------------------------------------------------------------------------------


def _cli(arguments: list[str]) -> tuple[int, str]:
    from torchdoctor.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(arguments)
    return code, out.getvalue() + err.getvalue()


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").lstrip("\ufeff").split("\n")


def _identities(lines: list[str]) -> list[tuple[str, str, str] | None]:
    """For each line that carries TOML, what it is: (its table, the array it is in, its code without spacing).
    A table is named by its header and first key line, so that the tables of `[[tool.uv.index]]` differ."""
    codes = [re.sub(r"\s+", " ", _without_comment(line).strip()) for line in lines]
    block, current = [], None
    for number, code in enumerate(codes):
        if code.startswith("["):
            following = next((c for c in codes[number + 1:] if c), "")
            current = code + " / " + ("" if following.startswith("[") else following)
        block.append(current or "")
    found: list[tuple[str, str, str] | None] = []
    array = ""
    for number, code in enumerate(codes):
        if not code:
            found.append(None)
            continue
        found.append((block[number], array, code))
        opened = re.match(r"^([^=\[]+?)\s*=\s*\[", code)
        if opened and code.count("[") > code.count("]"):
            array = opened.group(1)
        elif array and code.startswith("]"):
            array = ""
    return found


def _without_comment(line: str) -> str:
    quote = None
    for position, character in enumerate(line):
        if quote:
            if character == quote:
                quote = None
        elif character in "\"'":
            quote = character
        elif character == "#":
            return line[:position]
    return line


def comments_lost(before: str, after: str) -> int:
    """Comments gone from the fixed file although what they annotate is still there: the line they end, or for a
    comment on its own line the line it introduces, each known by its table and array (see `_identities`)."""
    after_lines = _lines(after)
    after_comments = Counter(line[len(_without_comment(line)):].strip() for line in after_lines if "#" in line)
    after_identities = set(filter(None, _identities(after_lines)))
    lines = _lines(before)
    identities = _identities(lines)
    lost = 0
    for number, line in enumerate(lines):
        comment = line[len(_without_comment(line)):].strip()
        if not comment:
            continue
        if after_comments[comment] > 0:
            after_comments[comment] -= 1
            continue
        owner = next((identity for identity in identities[number:] if identity is not None), None)
        lost += owner is not None and owner in after_identities
    return lost


def glued_headers(text: str) -> int:
    """Headers right under a line of TOML (a blank line or a comment usually stands between tables)."""
    lines = _lines(text)
    header = re.compile(r"^\s*\[\[?[\w.\"' -]+\]\]?\s*(#.*)?$")
    inside = _string_lines(lines)
    return sum(1 for number, (previous, line) in enumerate(zip(lines, lines[1:], strict=False), 1)
               if number not in inside and header.match(line) and _without_comment(previous).strip()
               and not header.match(previous))


def _userinfo(text: str) -> set[str]:
    return set(re.findall(r"://([^/@\s\"']+)@", text))


def _mixed(text: str) -> bool:
    crlf = text.count("\r\n")
    return 0 < crlf < text.count("\n")


def _builds_changed(machine, before: str, after: str, applied_codes: set[str], folder: Path) -> int:
    from torchdoctor.checks import run_checks
    from torchdoctor.edits import DROPS_PACKAGES
    from torchdoctor.probes.project import probe_project
    from torchdoctor.resolution import MODEL_PACKAGES, build_model

    models, edits = [], []
    for side, text in (("before", before), ("after", after)):
        (folder / side).mkdir(exist_ok=True)
        (folder / side / "pyproject.toml").write_text(text.lstrip("\ufeff"), encoding="utf-8")
        snapshot = replace(machine, project=probe_project(folder / side))
        models.append(build_model(snapshot, from_lock=False))
        if side == "before":
            edits = [d.fix.edit for d in run_checks(snapshot) if d.code in applied_codes and d.fix is not None]
    fixed = {(r.platform, r.selection): r for r in models[1].resolutions}
    changed = 0
    for resolution in models[0].resolutions:
        other = fixed.get((resolution.platform, resolution.selection))
        if other is None:
            continue
        if (not resolution.platform.startswith("macos") and resolution.torch is not None and other.torch is not None
                and resolution.torch.accelerated and other.torch.build == "cpu"):
            changed += 1
        elif not any(isinstance(e, DROPS_PACKAGES) for e in edits) and any(resolution.get(p) is not None and other.get(p) is None and not other.note
                                                    for p in MODEL_PACKAGES):
            changed += 1
    return changed


def measure(item: Variant, machine_path: Path, folder: Path) -> Counter:
    """Run `fix --all --yes --unsafe` twice and `undo` on one variant; count its defects (and what happened)."""
    from torchdoctor.snapshot import Snapshot

    counts: Counter = Counter(variants=1)
    project = folder / "project"
    project.mkdir(parents=True)
    state = folder / "state"
    path = project / "pyproject.toml"
    original = item.text.encode("utf-8")
    path.write_bytes(original)
    previous = os.environ.get("TORCHDOCTOR_STATE_DIR")
    os.environ["TORCHDOCTOR_STATE_DIR"] = str(state)
    arguments = ["fix", "--all", "--yes", "--unsafe", "--project", str(project), "--snapshot", str(machine_path)]
    try:
        try:
            _, output = _cli(arguments)
            first = path.read_bytes()
            if first == original:
                return counts + Counter(unchanged=1)
            counts["written"] += 1
            after = first.decode("utf-8")
            try:
                tomllib.loads(after.lstrip("\ufeff"))
            except tomllib.TOMLDecodeError:
                counts["invalid"] += 1
            counts["endings"] += _mixed(after) and not _mixed(item.text)
            counts["comments lost"] += comments_lost(item.text, after)
            counts["credentials"] += bool(_userinfo(after) - _userinfo(item.text))
            counts["glued headers"] += glued_headers(after) > glued_headers(item.text)
            applied = set(re.findall(r"^(TD\d+): ", output, re.M))
            machine = Snapshot.from_json(machine_path.read_text(encoding="utf-8"))
            counts["builds changed"] += _builds_changed(machine, item.text, after, applied, folder) > 0
            _cli(arguments)
            counts["not fixed point"] += path.read_bytes() != first
            if path.read_bytes() != first:  # undo the second run first: the comparison is with the original
                _cli(["undo", "--project", str(project)])
            _cli(["undo", "--project", str(project)])
            counts["undo not exact"] += path.read_bytes() != original
        except Exception:  # a crash is a defect to count, not a reason to stop counting
            counts["crashes"] += 1
    finally:
        if previous is None:
            os.environ.pop("TORCHDOCTOR_STATE_DIR", None)
        else:
            os.environ["TORCHDOCTOR_STATE_DIR"] = previous
    return counts
