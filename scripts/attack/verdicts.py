"""Reading what a ganlab process said, and the verdict on a case (see attack_run_folder.py)."""
from __future__ import annotations

import re
import shlex
import signal
from dataclasses import dataclass, field
from pathlib import Path

import click

import ganlab.cli
from attack.processes import TRACEBACK, Proc

VERDICTS = ("ok", "clean-error", "traceback", "silent-problem", "misleading")


def command_options() -> dict[str, dict[str, bool]]:
    """Every ganlab command's options, each with whether it takes a value; ``"+args"`` is the number
    of positional arguments it takes (-1: any)."""
    table: dict[str, dict[str, bool]] = {}

    def walk(group: click.Group, prefix: str) -> None:
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                walk(command, f"{prefix}{name} ")
                continue
            options = {"--help": False, "-h": False}
            positional = 0
            for param in command.params:
                if isinstance(param, click.Option):
                    for opt in (*param.opts, *param.secondary_opts):
                        options[opt] = not param.is_flag
                elif param.nargs == -1:
                    positional = -1
                else:
                    positional += 1
            options["+args"] = positional  # type: ignore[assignment]
            table[f"{prefix}{name}"] = options

    walk(ganlab.cli.cli, "")
    return table


OPTIONS = command_options()
OPTION = re.compile(r"(?<![\w/.'\"-])--[a-z][a-z0-9-]*")
NON_FINITE = re.compile(r"--[a-z0-9-]+[ =][+-]?(?:nan|inf|infinity)\b", re.IGNORECASE)
CHECKPOINT_NAME = re.compile(r"step_\d{6}\.pt")
PLUGIN_BLAME = re.compile(r"Plugin \"[^\"]+\" failed|a plugin's hook|No plugin's own code is in the traceback"
                          r"|Fix the plugin")
COMMAND_LINE = re.compile(r"(?m)^\s*(?:[A-Z][\w ]{0,30}:\s+)?(ganlab (?:data )?[a-z]+\b[^\n`]*)$")


def message_of(out: str) -> str:
    """The message a user reads: click's ``Error: ...`` paragraph, else the last lines."""
    if "Error: " in out:
        return " ".join(out[out.rindex("Error: ") + 7:].split())
    lines = [line.strip() for line in out.strip().splitlines() if line.strip()]
    return " ".join(lines[-3:])


def traceback_line(out: str) -> str:
    """The last line of the last traceback in ``out``: the exception."""
    tail = out[out.rindex(TRACEBACK):].strip().splitlines()
    return tail[-1][:300] if tail else "Traceback"


def suggested_commands(out: str) -> list[str]:
    """The ganlab commands a message offers: in backticks, or alone on a line ("Continue with: ...")."""
    out = "\n".join(line for line in out.splitlines() if not line.startswith(("Usage: ", "Try '")))
    found = [text for text in re.findall(r"`([^`]+)`", out) if text.startswith("ganlab ")]
    found += [m.group(1).strip() for m in COMMAND_LINE.finditer(out) if m.group(1).strip() not in found]
    return found


def command_problem(text: str) -> str | None:
    """What stops a suggested command from working as pasted (without running it), or None."""
    try:
        words = shlex.split(text)
    except ValueError:
        return f"`{text}` cannot be pasted (unbalanced quotes)"
    if len(words) < 2:
        return None
    name = " ".join(words[1:3]) if words[1] == "data" else words[1]
    options = OPTIONS.get(name)
    if options is None:
        return None if len(text.split()) > 8 else f"`{text}` names no ganlab command"
    if len(words) > 8 and not any(w.startswith("--") for w in words):
        return None  # prose that starts with "ganlab eval ...", not a command
    positional, allowed, rest = 0, options["+args"], iter(words[3 if words[1] == "data" else 2:])
    for word in rest:
        if word.startswith("-") and not re.fullmatch(r"-\d+(\.\d*)?", word):
            opt = word.split("=")[0]
            if opt not in options:
                return f"`{text}`: ganlab {name} has no option {opt}"
            if options[opt] and "=" not in word:
                next(rest, None)
        elif word in (";", "(", ")", "...", "..."):
            break
        else:
            positional += 1
    if allowed != -1 and positional > allowed:
        return f"`{text}` does not parse: {positional} argument(s) where ganlab {name} takes {allowed}"
    return None


def misleading(out: str, command: str, args: list[str], folder: Path | None = None, plugin: bool = False,
               mention: tuple[str, ...] = ()) -> list[str]:
    """The ways a message can point the learner the wrong way (see the module docstring)."""
    reasons = []
    if not plugin and PLUGIN_BLAME.search(out):
        reasons.append("blames a plugin")
    if "weights_only=False" in out:
        reasons.append("passes on torch's advice to load unsafely")
    if NON_FINITE.search(out):
        reasons.append(f"suggests a non-finite value ({NON_FINITE.search(out).group(0)})")
    rest = out
    for text in suggested_commands(out):
        rest = rest.replace(text, " ")
        problem = command_problem(text)
        if problem:
            reasons.append(problem)
    own = OPTIONS.get(command, {})
    stray = sorted({o for o in OPTION.findall(rest) if o not in own})
    if stray and command in OPTIONS:
        reasons.append(f"names {', '.join(stray)}, which `ganlab {command}` does not have")
    if folder is not None:
        given = " ".join(args)
        claimed = CHECKPOINT_NAME.findall(re.sub(r"Could not write \S+", "", out))  # a failed write claims nothing
        missing = sorted({n for n in claimed if n not in given and not (folder / "checkpoints" / n).exists()})
        if missing:
            reasons.append(f"names checkpoint(s) {', '.join(missing)} that do not exist")
    if mention and not any(m.lower() in out.lower() for m in mention):
        reasons.append(f"does not name {' or '.join(mention)}")
    return reasons


@dataclass
class Outcome:
    verdict: str
    note: str = ""
    procs: list[Proc] = field(default_factory=list)


def traceback_or_problem(procs: list[Proc], problems: list[str] | tuple) -> Outcome | None:
    """The first two verdicts of every case, in their order: a traceback in any of its processes, then
    what the case's own checks found wrong (a silent problem); None when neither."""
    for proc in procs:
        if proc.traceback:
            return Outcome("traceback", traceback_line(proc.out), procs)
    if problems:
        return Outcome("silent-problem", "; ".join(problems), procs)
    return None


def judge(proc: Proc, expect: str = "error", problems: list[str] | tuple = (), *, command: str = "run",
          folder: Path | None = None, plugin: bool = False, mention: tuple[str, ...] = (),
          stop_ok: bool = False, extra: list[Proc] | tuple = ()) -> Outcome:
    """The verdict on one process (and its follow-ups in ``extra``).

    :param expect: ``"ok"`` (must work), ``"error"`` (must be refused), ``"either"``.
    :param problems: what the case's own checks found wrong (a silent problem when not empty).
    :param stop_ok: the harness stopped a legitimately long command with SIGINT; a clean stop is ok.
    """
    procs = [proc, *extra]
    worst = traceback_or_problem(procs, problems)
    if worst:
        return worst
    if proc.code < 0:
        why = " (it did not stop on SIGINT)" if proc.timed_out else ""
        return Outcome("silent-problem", f"killed by {signal.Signals(-proc.code).name} without a message{why}", procs)
    if proc.timed_out and not stop_ok:
        return Outcome("silent-problem", f"still running at the deadline ({proc.seconds:.0f} s)", procs)
    stopped = stop_ok and proc.timed_out  # its message is about the stop, not about the option
    reasons = misleading(proc.out, command, proc.args, folder, plugin, mention if proc.code and not stopped else ())
    if proc.code == 0:
        if expect == "error":
            return Outcome("silent-problem", f"accepted (exit 0): {message_of(proc.out)[:200]}", procs)
        if reasons:
            return Outcome("misleading", "; ".join(reasons), procs)
        return Outcome("ok", "", procs)
    text = message_of(proc.out)
    if not text:
        return Outcome("silent-problem", f"exit {proc.code} without a message", procs)
    if reasons:
        return Outcome("misleading", "; ".join(reasons) + f" | {text[:300]}", procs)
    if stop_ok and proc.timed_out:
        return Outcome("ok", f"stopped by the harness after {proc.seconds:.0f} s: {text[:150]}", procs)
    if expect == "ok":
        return Outcome("misleading", f"refused a valid request: {text[:300]}", procs)
    return Outcome("clean-error", text[:300], procs)
