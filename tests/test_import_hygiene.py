"""The core never imports Textual or torch: a fresh interpreter proves it, not a grep."""

from __future__ import annotations

import ast
import subprocess
import sys

CORE = [
    "torchdoctor.cli", "torchdoctor.checks", "torchdoctor.probes.collect", "torchdoctor.render.text",
    "torchdoctor.render.json_report", "torchdoctor.render.markdown", "torchdoctor.render.rules",
    "torchdoctor.render.bench", "torchdoctor.probes.gemm", "torchdoctor.probes.uv", "torchdoctor.demo", "torchdoctor.files",
]


def test_core_imports_neither_textual_nor_torch():
    code = (
        "import sys\n"
        + "".join(f"import {module}\n" for module in CORE)
        + "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'torch', 'tomlkit')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_app_draws_its_first_screen_before_importing_the_core():
    """`torchdoctor` imports the CLI and the app, then draws: neither may pull in the rules, probes, fixes, the
    renderers or the snapshot model, whose import would come before the first paint (benchmarks/tui_first_paint.py).
    The doors of the workflow and of the renderers are there: they open when first used."""
    code = ("import sys, torchdoctor.cli, torchdoctor.tui.app\n"
            "from pathlib import Path\n"
            "torchdoctor.tui.app.TorchDoctorApp(Path('.'))\n"  # the app made, as before its first paint
            "print(sorted(m for m in sys.modules if m.startswith('torchdoctor')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert ast.literal_eval(result.stdout.strip()) == [
        "torchdoctor", "torchdoctor.cli", "torchdoctor.cli.parser", "torchdoctor.paths",
        "torchdoctor.render", "torchdoctor.tui", "torchdoctor.tui.app", "torchdoctor.tui.keys",
        "torchdoctor.tui.main_screen", "torchdoctor.tui.messages", "torchdoctor.tui.screens", "torchdoctor.tui.texts",
        "torchdoctor.tui.widgets", "torchdoctor.tui.widgets.facts", "torchdoctor.tui.widgets.findings",
        "torchdoctor.tui.widgets.gemm", "torchdoctor.tui.widgets.lock_log", "torchdoctor.tui.widgets.verdict",
        "torchdoctor.workflow", "torchdoctor.workflow.previews"]


def test_rule_modules_share_through_helper_modules_never_through_each_other():
    """A rule module imports the registry and the helper modules (common, builds), never another rule module: what
    several rules decide alike lives once, beside them, not inside one of them."""
    import ast
    from pathlib import Path

    import torchdoctor.checks

    folder = Path(torchdoctor.checks.__file__).parent
    rule_modules = {p.stem for p in folder.glob("*.py") if "@rule(" in p.read_text(encoding="utf-8")}
    assert {"indexes", "gpu_build", "performance", "fleet"} <= rule_modules
    for name in sorted(rule_modules):
        tree = ast.parse((folder / f"{name}.py").read_text(encoding="utf-8"))
        imported = {node.module.rsplit(".", 1)[-1] for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("torchdoctor.checks.")}
        assert not imported & rule_modules, f"{name} imports the rule module(s) {sorted(imported & rule_modules)}"


def test_the_path_to_the_apps_first_paint_imports_no_core():
    """What runs before the first paint, the guard and the app command included, imports none of the workflow's use
    cases nor the rules, only the workflow's lazy door: a guard that imported the workflow up front took the first
    paint from 1.2x to 1.8x the import of Textual (benchmarks/tui_first_paint.py), and so did an app that made its
    preview cache from the module that imports the rules."""
    code = ("import sys\nfrom torchdoctor.cli import run_guarded\nfrom torchdoctor.cli.parser import build_tui_parser\n"
            "build_tui_parser()\nrun_guarded(lambda: 0)\nimport torchdoctor.cli.commands.tui\n"
            "print(sorted(m for m in sys.modules if m.startswith(('torchdoctor.workflow.', 'torchdoctor.checks'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_workflows_door_names_every_use_case_it_opens():
    """`workflow.__all__` is written out for type checkers; it must list exactly the names the lazy door opens, and
    each must open."""
    import torchdoctor.workflow as workflow

    assert sorted(workflow.__all__) == sorted([*workflow._HOME_OF, *workflow._MODULES])
    for name in workflow.__all__:
        assert getattr(workflow, name) is not None, name
