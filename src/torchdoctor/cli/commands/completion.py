"""`torchdoctor completion bash|zsh|fish`: a completion script for the shell, made from the parser itself (every
command, option and choice as the parser knows them, and the rule codes for `rules`, `fix`, `--select`, `--ignore`),
so it cannot drift from what the commands accept. Install: `torchdoctor completion bash > ~/.local/share/bash-completion/completions/torchdoctor`
(zsh: a file named `_torchdoctor` on `$fpath`; fish: `~/.config/fish/completions/torchdoctor.fish`)."""

from __future__ import annotations

import argparse
import sys

from torchdoctor import workflow
from torchdoctor.cli import ExitCode
from torchdoctor.cli.parser import build_parser

CODE_ARGUMENTS = ("--select", "--ignore")
"""Options whose value is rule codes; the positional codes of `rules` and `fix` are completed with them too."""


def grammar() -> dict[str, dict[str, tuple[str, ...]]]:
    """Each command's options, each with its choices (empty: a free value, or a flag): read from the parser."""
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001
    found: dict[str, dict[str, tuple[str, ...]]] = {}
    for name, command in commands.choices.items():
        options: dict[str, tuple[str, ...]] = {}
        for action in command._actions:  # noqa: SLF001 - argparse has no public list of a parser's options
            if action.help == argparse.SUPPRESS:
                continue
            for option in action.option_strings:
                options[option] = tuple(str(c) for c in action.choices) if action.choices else ()
        found[name] = options
    return found


def bash(commands: dict[str, dict[str, tuple[str, ...]]], codes: list[str]) -> str:
    cases = []
    for name, options in commands.items():
        values = [f"            {option}) COMPREPLY=($(compgen -W \"{' '.join(choices)}\" -- \"$cur\")); return;;"
                  for option, choices in options.items() if choices]
        values += [f"            {option}) COMPREPLY=($(compgen -P \"${{cur%\"${{cur##*,}}\"}}\" -W \"$codes\" -- "
                   f"\"${{cur##*,}}\")); return;;"  # the codes after the last comma, those before it kept
                   for option in options if option in CODE_ARGUMENTS]
        positional = '$codes' if name in ("rules", "fix") else ""
        cases.append(f"        {name})\n          case \"$prev\" in\n" + "\n".join(values) + ("\n" if values else "")
                     + "          esac\n"
                     f"          COMPREPLY=($(compgen -W \"{' '.join(options)} {positional}\" -- \"$cur\"));;")
    return f"""# bash completion for torchdoctor (`torchdoctor completion bash`)
_torchdoctor() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    local codes="{' '.join(codes)}"
    local command="" word
    for word in "${{COMP_WORDS[@]:1:COMP_CWORD-1}}"; do
        case "$word" in -*) ;; *) command="$word"; break;; esac
    done
    if [[ -z "$command" ]]; then
        COMPREPLY=($(compgen -W "{' '.join(commands)} --project --python --snapshot --demo --help --version" -- "$cur"))
        return
    fi
    case "$command" in
{chr(10).join(cases)}
    esac
}}
complete -o default -F _torchdoctor torchdoctor
"""


def zsh(commands: dict[str, dict[str, tuple[str, ...]]], codes: list[str]) -> str:
    """zsh runs the bash function through its own bashcompinit: one script, the same answers."""
    return ("#compdef torchdoctor\n# zsh completion for torchdoctor (`torchdoctor completion zsh`)\n"
            "autoload -U +X bashcompinit && bashcompinit\n" + bash(commands, codes).split("\n", 1)[1])


def fish(commands: dict[str, dict[str, tuple[str, ...]]], codes: list[str]) -> str:
    lines = ["# fish completion for torchdoctor (`torchdoctor completion fish`)", "complete -c torchdoctor -f",
             f"complete -c torchdoctor -n '__fish_use_subcommand' -a '{' '.join(commands)}'"]
    for name, options in commands.items():
        when = f"__fish_seen_subcommand_from {name}"
        for option, choices in options.items():
            if not option.startswith("--"):
                continue
            values = " ".join(codes) if option in CODE_ARGUMENTS else " ".join(choices)
            lines.append(f"complete -c torchdoctor -n '{when}' -l {option[2:]}" + (f" -x -a '{values}'" if values else ""))
        if name in ("rules", "fix"):
            lines.append(f"complete -c torchdoctor -n '{when}' -a '{' '.join(codes)}'")
    return "\n".join(lines) + "\n"


SHELLS = {"bash": bash, "zsh": zsh, "fish": fish}


def run(args: argparse.Namespace) -> int:
    codes = sorted(workflow.rules())
    sys.stdout.write(SHELLS[args.shell](grammar(), codes))
    return ExitCode.CLEAN
