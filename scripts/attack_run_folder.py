#!/usr/bin/env python
"""Attack ganlab's run folders the way issue 13 did, and count what happens (seeded, reproducible).

    python scripts/attack_run_folder.py                 # every case (about 500; tens of minutes on 2 cores)
    python scripts/attack_run_folder.py --quick         # about 40 representative cases, a few minutes
    python scripts/attack_run_folder.py --only signals,disk --json attack.json --out /tmp/attack

Six kinds of attack (``--only`` takes their names):

* ``options``  every option of run/sample/eval/compare/data with edge values (negative, 0, 1, huge, nan,
  inf, text, empty), unknown variants, bad ``--set``, ``--device`` oddities, ``--resume`` with other
  options, ``--config`` with broken files, bad data files;
* ``files``    a trained tiny run folder damaged (config.json, checkpoints, losses.csv, metrics.csv,
  metrics.json, a carried plugin file, the folder's shape), then sample/eval/``run --resume``/compare;
* ``signals``  SIGINT, SIGTERM, SIGKILL or two SIGINTs at a random moment of a run; then what a learner
  does (paste the printed command through a shell, or run the same command again and paste what it
  prints) and a bit-for-bit comparison with an uninterrupted run;
* ``disk``     a full disk (``RLIMIT_FSIZE``) during run, sample, eval and resume; then resume;
* ``memory``   an address-space limit (``RLIMIT_AS``) that lets Python and torch start, then big requests;
* ``writers``  two processes on one run folder at once: two runs, a run and a resume, two resumes, a
  resume and a reader.

Every case runs ganlab as a process of its own and gets one verdict:

* ``ok``              it did what it should (a harmless damage ignored with results equal to the intact
                      folder's; an interrupted run resumed to the same bits);
* ``clean-error``     a non-zero exit with a one-paragraph message and no traceback;
* ``traceback``       a Python traceback reached the user;
* ``silent-problem``  exit 0 (or a claim) while something is wrong: a loss log behind its newest
                      checkpoint, a checkpoint of another run in the folder, results of a damaged folder
                      that differ from the intact folder's without a word, a resume that is not
                      bit-identical, a half-written file, a stale temporary file after the next writer
                      ran, a process killed without a message, a bad value accepted;
* ``misleading``      a clean message that names a wrong cause (a plugin, for a bad option), does not
                      name the damaged file, suggests an option the command lacks or a non-finite value,
                      names a checkpoint that does not exist, or prints a command that fails when pasted;
                      also a valid request refused.

Speed: importing torch takes seconds on a shared 2-core machine, so the cases whose behaviour needs no
fresh interpreter (bad options, damaged files) run in a process forked from this one once ``ganlab.cli``
is imported; the child executes ``python -m ganlab``'s own ``__main__`` and has its own exit status,
stdout and stderr. Signals, limits, concurrent writers and pasted commands always start a fresh
``python -m ganlab`` (pasted commands: the ``ganlab`` script, through bash). ``--fresh`` starts a fresh
interpreter for every case.
"""
from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"  # before torch is imported: one thread per process (and safe to fork)

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import runpy  # noqa: E402
import shlex  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from functools import cached_property  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import click  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import ganlab.cli  # noqa: E402  imported once: forked cases start with it loaded
from ganlab.checkpoints import load_checkpoint  # noqa: E402
from ganlab.config import RunConfig  # noqa: E402
from ganlab.errors import GanlabError  # noqa: E402

PYTHON = sys.executable
BIN = str(Path(sys.executable).parent)  # where the `ganlab` script of this environment is
MNIST_CACHE = Path.home() / ".cache" / "ganlab" / "mnist.npz"
TRACEBACK = "Traceback (most recent call last)"
VERDICTS = ("ok", "clean-error", "traceback", "silent-problem", "misleading")
KINDS = ("options", "files", "signals", "disk", "memory", "writers")
QUICK = {"options": 14, "files": 14, "signals": 4, "disk": 3, "memory": 2, "writers": 3}  # cases per kind


# ==================================================================================================
# Processes
# ==================================================================================================
@dataclass
class Proc:
    """A finished process: its command, exit status (-N: killed by signal N), output and time."""

    args: list[str]
    code: int
    out: str  # stdout, then stderr
    seconds: float
    timed_out: bool = False  # the harness had to stop it (SIGINT at the deadline, SIGKILL a minute later)

    @property
    def traceback(self) -> bool:
        return TRACEBACK in self.out

    def summary(self) -> dict:
        return {"args": self.args, "exit": self.code, "seconds": round(self.seconds, 1),
                "timed_out": self.timed_out, "output_tail": self.out[-1500:]}


class Launched:
    """A running process started by :class:`Runner`."""

    def __init__(self, pid: int, args: list[str], out, err):
        self.pid, self.args, self._out, self._err = pid, args, out, err
        self.started = time.monotonic()
        self.code: int | None = None

    def poll(self) -> int | None:
        if self.code is None:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.code = os.waitstatus_to_exitcode(status)
        return self.code

    def send(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def wait(self, timeout: float = 240) -> Proc:
        """Wait for the end; at ``timeout`` seconds after the start send SIGINT, a minute later SIGKILL."""
        deadline, timed_out = self.started + timeout, False
        while self.poll() is None:
            if time.monotonic() > deadline:
                self.send(signal.SIGKILL if timed_out else signal.SIGINT)
                deadline, timed_out = time.monotonic() + 60, True
            time.sleep(0.05)
        text = []
        for handle in (self._out, self._err):
            handle.seek(0)
            text.append(handle.read().decode("utf-8", "replace"))
            handle.close()
        assert self.code is not None
        return Proc(self.args, self.code, "".join(text), time.monotonic() - self.started, timed_out)


def run_ganlab_here(args: list[str]) -> int:
    """In a forked child: what ``python -m ganlab ARGS`` does, with ganlab already imported."""
    sys.argv = ["ganlab", *args]
    try:
        runpy.run_module("ganlab", run_name="__main__", alter_sys=True)
        return 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException:  # what the interpreter prints for an uncaught exception
        traceback.print_exc()
        return 1


class Runner:
    """Starts ganlab processes: warm (forked from this interpreter) or fresh (``python -m ganlab``), or a
    shell command line (a pasted command), each with optional file-size and address-space limits."""

    def __init__(self, fresh_only: bool = False):
        self.fresh_only = fresh_only
        self.env = {**os.environ, "OMP_NUM_THREADS": "1", "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
        self.env.pop("GANLAB_TRUST_RUN_PLUGINS", None)

    def launch(self, args: list[str], cwd: Path, *, fresh: bool = False, shell: str | None = None,
               fsize: int | None = None, memory: int | None = None) -> Launched:
        warm = not (fresh or self.fresh_only or shell or memory or fsize)
        out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        sys.stdout.flush(), sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 127
            try:
                os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
                os.dup2(out.fileno(), 1), os.dup2(err.fileno(), 2)
                os.chdir(cwd)
                os.setpgid(0, 0)  # its own process group: a signal to it never reaches the harness
                if fsize is not None:
                    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
                if memory is not None:
                    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
                if shell is not None:
                    os.execve("/bin/bash", ["bash", "-c", shell], self.env)
                elif not warm:
                    os.execve(PYTHON, [PYTHON, "-m", "ganlab", *args], self.env)
                os.environ.clear()
                os.environ.update(self.env)
                code = run_ganlab_here(args)
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush(), sys.stderr.flush()
                os._exit(code)
        return Launched(pid, [shell] if shell is not None else list(args), out, err)

    def call(self, args: list[str], cwd: Path, timeout: float = 240, **options: Any) -> Proc:
        return self.launch([str(a) for a in args], cwd, **options).wait(timeout)

    def paste(self, command: str, cwd: Path, timeout: float = 300) -> Proc:
        """A command as a learner pastes it into a shell."""
        return self.launch([], cwd, shell=command).wait(timeout)


# ==================================================================================================
# Reading what a process said
# ==================================================================================================
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
        missing = sorted({n for n in CHECKPOINT_NAME.findall(out) if n not in given
                          and not (folder / "checkpoints" / n).exists()})
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


def judge(proc: Proc, expect: str = "error", problems: list[str] | tuple = (), *, command: str = "run",
          folder: Path | None = None, plugin: bool = False, mention: tuple[str, ...] = (),
          stop_ok: bool = False, extra: list[Proc] | tuple = ()) -> Outcome:
    """The verdict on one process (and its follow-ups in ``extra``).

    :param expect: ``"ok"`` (must work), ``"error"`` (must be refused), ``"either"``.
    :param problems: what the case's own checks found wrong (a silent problem when not empty).
    :param stop_ok: the harness stopped a legitimately long command with SIGINT; a clean stop is ok.
    """
    procs = [proc, *extra]
    for p in procs:
        if p.traceback:
            return Outcome("traceback", traceback_line(p.out), procs)
    if problems:
        return Outcome("silent-problem", "; ".join(problems), procs)
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


# ==================================================================================================
# Looking at run folders
# ==================================================================================================
def png_complete(path: Path) -> bool:
    data = path.read_bytes()
    return data.startswith(b"\x89PNG\r\n\x1a\n") and data[-12:-4] == b"\x00\x00\x00\x00IEND"


def folder_problems(folder: Path, finished: bool = True) -> list[str]:
    """What is wrong with a run folder that ganlab wrote (no damage of ours in it).

    ``finished``: no ganlab process writes it any more, so no temporary file may be left.
    """
    problems: list[str] = []
    if not folder.is_dir():
        return problems
    if finished:
        stale = sorted(p.name for p in folder.rglob(".*.tmp"))
        if stale:
            problems.append(f"temporary file(s) left behind: {', '.join(stale[:3])}")
    config_file = folder / "config.json"
    if not config_file.exists():
        return problems
    try:
        saved = json.loads(config_file.read_text())["config"]
    except (ValueError, KeyError):
        return [*problems, "config.json is not a complete JSON file"]
    newest = 0
    for path in sorted((folder / "checkpoints").glob("step_*.pt")):
        step = int(path.stem.split("_")[1])
        try:
            payload = load_checkpoint(path)
        except GanlabError as exc:
            problems.append(f"{path.name} does not load ({str(exc)[:120]})")
            continue
        if payload["step"] != step:
            problems.append(f"{path.name} holds step {payload['step']}")
        if payload["config"].get("seed") != saved.get("seed") or payload["variant"] != saved.get("variant"):
            problems.append(f"{path.name} is from another run (seed {payload['config'].get('seed')}, variant "
                            f"{payload['variant']}; config.json: seed {saved.get('seed')}, {saved.get('variant')})")
        newest = max(newest, step)
    steps = loss_steps(folder)
    if steps is None:
        problems.append("losses.csv does not parse")
    else:
        if steps != list(range(1, len(steps) + 1)):
            problems.append(f"losses.csv steps are not 1..N (first {steps[:3]}, {len(steps)} rows)")
        if newest and (not steps or steps[-1] < newest):
            problems.append(f"losses.csv ends at step {steps[-1] if steps else 0}, behind the newest checkpoint "
                            f"(step {newest})")
    for png in [*folder.glob("*.png"), *folder.glob("samples/*.png")]:
        if not png_complete(png):
            problems.append(f"{png.relative_to(folder)} is half-written")
    if (folder / "metrics.json").exists():
        try:
            json.loads((folder / "metrics.json").read_text())
        except ValueError:
            problems.append("metrics.json is half-written")
    return problems


def loss_steps(folder: Path) -> list[int] | None:
    path = folder / "losses.csv"
    if not path.exists():
        return []
    try:
        return [int(line.split(",")[0]) for line in path.read_text().splitlines()[1:] if line]
    except ValueError:
        return None


def flat_tensors(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(name, leaf) for every leaf of nested dicts and lists (tensors, numbers, text)."""
    if isinstance(value, dict):
        for key in sorted(value, key=str):
            yield from flat_tensors(value[key], f"{prefix}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from flat_tensors(item, f"{prefix}[{index}]")
    else:
        yield prefix, value


def run_state(folder: Path, step: int) -> dict:
    """What must be equal between a resumed run and the same run done in one go."""
    checkpoint = folder / "checkpoints" / f"step_{step:06d}.pt"
    state: dict[str, Any] = {"checkpoint": None}
    if checkpoint.is_file():
        payload = torch.load(checkpoint, weights_only=True)
        state["checkpoint"] = dict(flat_tensors({k: payload[k] for k in ("generator", "discriminator", "opt_g",
                                                                          "opt_d", "fixed_noise", "step")}))
    losses = folder / "losses.csv"
    state["losses"] = losses.read_text() if losses.exists() else None
    curve = folder / "metrics.csv"
    state["curve"] = [re.sub(r"^(\d+),[^,]*,", r"\1,", line) for line in curve.read_text().splitlines()] \
        if curve.exists() else None  # without the wall-clock seconds
    metrics = folder / "metrics.json"
    state["metrics"] = ({k: v for k, v in json.loads(metrics.read_text()).items() if k != "train_seconds"}
                        if metrics.exists() else None)
    return state


def state_differences(got: dict, want: dict) -> list[str]:
    differences = []
    if got["checkpoint"] is None or want["checkpoint"] is None:
        if got["checkpoint"] != want["checkpoint"]:
            differences.append("the final checkpoint is missing")
    else:
        unequal = [name for name, value in want["checkpoint"].items() if not same_leaf(got["checkpoint"].get(name),
                                                                                        value)]
        if unequal:
            differences.append(f"final weights/optimizer differ from the run done in one go ({unequal[0]}, "
                               f"{len(unequal)} tensors)")
    for key, what in (("losses", "losses.csv"), ("curve", "metrics.csv"), ("metrics", "metrics.json")):
        if got[key] != want[key]:
            differences.append(f"{what} differs from the run done in one go")
    return differences


def same_leaf(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(a, b))
    return type(a) is type(b) and a == b


def npz_arrays(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError):
        return None


def same_arrays(a: dict | None, b: dict | None) -> bool:
    return a is not None and b is not None and a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def put(path: Path, data: bytes | str) -> None:
    """Replace a file's contents without writing through the inode a hard-linked clone shares."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    path.unlink(missing_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def saved_bytes(payload: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


# ==================================================================================================
# The lab: data, trained tiny runs, and what an intact folder gives
# ==================================================================================================
TINY = ["--data", "{data}", "--batch-size", "8", "--device", "cpu", "--quiet"]
BASE = ["--variant", "gan", "--steps", "10", "--checkpoint-every", "5", "--log-every", "2", "--sample-every", "5",
        "--eval-every", "5", "--eval-samples", "100", "--final-eval-samples", "200", "--seed", "1"]
SIGNAL_RUN = ["--variant", "gan", "--steps", "40", "--checkpoint-every", "10", "--log-every", "5",
              "--sample-every", "20", "--final-eval-samples", "0", "--seed", "3"]
RESUME_TO = 15  # damaged-folder resumes continue the base run (10 steps) to this step
PLUGIN = '''"""A least-squares loss for G, a plugin the run folder carries (Mao et al. 2017)."""
import ganlab


@ganlab.hookimpl
def ganlab_generator_loss(scores):
    return ((scores - 1) ** 2).mean()
'''


class Lab:
    """The attack's working folder: data files, tiny trained runs, and the intact folders' results."""

    def __init__(self, root: Path, runner: Runner):
        self.root, self.runner = root, runner
        self.counter = 0
        (root / "cases").mkdir(parents=True, exist_ok=True)

    def case_dir(self, kind: str) -> Path:
        self.counter += 1
        path = self.root / "cases" / f"{self.counter:04d}-{kind}"
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def tiny(self) -> list[str]:
        return [a.replace("{data}", str(self.data)) for a in TINY]

    def train(self, name: str, args: list[str], fresh: bool = False) -> Path:
        """A run of ``args`` into ``<root>/<name>`` (once; reused by later calls)."""
        out = self.root / name
        if (out / "checkpoints").is_dir() and any((out / "checkpoints").iterdir()) and (out / "losses.csv").exists():
            return out
        shutil.rmtree(out, ignore_errors=True)
        proc = self.runner.call(["run", *self.tiny(), *args, "--out", out], self.root, fresh=fresh)
        if proc.code != 0:
            raise SystemExit(f"could not train the fixture {name}: {proc.out[-2000:]}")
        return out

    # ---- data --------------------------------------------------------------------------------------
    @cached_property
    def data(self) -> Path:
        """2 000 training and 500 test images of the real MNIST (as tests/conftest.py's small_mnist_npz)."""
        path = self.root / "data" / "mnist-small.npz"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with np.load(MNIST_CACHE) as mnist:
                np.savez(path, x_train=mnist["x_train"][:2000], y_train=mnist["y_train"][:2000].astype(np.uint8),
                         x_test=mnist["x_test"][:500], y_test=mnist["y_test"][:500].astype(np.uint8))
        return path

    @cached_property
    def rgb_data(self) -> Path:
        path = self.root / "data" / "rgb.npz"
        rng = np.random.default_rng(0)
        np.savez(path, x_train=rng.integers(0, 256, (40, 8, 8, 3), dtype=np.uint8), y_train=np.arange(40) % 2)
        return path

    @cached_property
    def plugin_file(self) -> Path:
        path = self.root / "data" / "mine.py"
        path.write_text(PLUGIN)
        return path

    # ---- trained runs ------------------------------------------------------------------------------
    @cached_property
    def base(self) -> Path:
        """gan, 10 steps, checkpoints at 5 and 10, metrics.csv at 5 and 10, metrics.json on 200 samples."""
        return self.train("base", BASE)

    @cached_property
    def base_seed2(self) -> Path:
        return self.train("base-seed2", [*BASE, "--seed", "2"])

    @cached_property
    def base_cgan(self) -> Path:
        return self.train("base-cgan", [*BASE, "--variant", "cgan"])

    @cached_property
    def plugged(self) -> Path:
        """A run of gan+mine, whose plugin file the run folder carries in plugins/mine.py."""
        return self.train("plugged", ["--variant", "gan+mine", "--plugin", str(self.plugin_file), "--steps", "10",
                                      "--checkpoint-every", "5", "--final-eval-samples", "0", "--seed", "1"])

    @cached_property
    def rgb_run(self) -> Path:
        return self.train("rgb-run", ["--dataset", "npz", "--data", str(self.rgb_data), "--variant", "gan",
                                      "--steps", "2", "--batch-size", "4", "--final-eval-samples", "0"])

    @cached_property
    def signal_baseline(self) -> tuple[dict, float, float]:
        """The signal cases' run done in one go (a fresh process): its final state, when config.json
        appeared and when it ended (seconds after the start)."""
        out = self.root / "signal-baseline"
        shutil.rmtree(out, ignore_errors=True)
        started = self.runner.launch(["run", *self.tiny(), *SIGNAL_RUN, "--out", str(out)], self.root, fresh=True)
        appeared = None
        while started.poll() is None:
            if appeared is None and (out / "config.json").exists():
                appeared = time.monotonic() - started.started
            time.sleep(0.05)
        proc = started.wait()
        if proc.code != 0:
            raise SystemExit(f"the signal baseline failed: {proc.out[-2000:]}")
        return run_state(out, 40), appeared or proc.seconds / 2, proc.seconds

    @cached_property
    def signal_half(self) -> Path:
        """The signal cases' run stopped at step 20 (config.json says 20): resumed with --steps 40 it must
        end as the baseline does."""
        return self.train("signal-half", [*SIGNAL_RUN, "--steps", "20"])

    def clone(self, source: Path, into: Path) -> Path:
        """A copy of a run folder that shares the files' inodes (hard links; damage is written with
        :func:`put`, ganlab writes by rename), without the lock file."""
        target = into / source.name
        shutil.copytree(source, target, copy_function=os.link, ignore=shutil.ignore_patterns(".lock"))
        return target

    # ---- what the intact folders give ----------------------------------------------------------------
    def reference(self, source: Path, command: str) -> Any:
        key = f"_ref_{source.name}_{command}"
        if key not in self.__dict__:
            where = self.root / "references" / f"{source.name}-{command}"
            shutil.rmtree(where, ignore_errors=True)
            where.mkdir(parents=True)
            folder = self.clone(source, where)
            proc = self.runner.call(COMMANDS[command](folder, where), where)
            if proc.code != 0:
                raise SystemExit(f"the reference {command} of {source.name} failed: {proc.out[-2000:]}")
            self.__dict__[key] = RESULTS[command](folder, where)
        return self.__dict__[key]


# The four commands a damaged folder is tried with, and what of their result must equal the intact
# folder's. Each takes (the folder, the case's working folder).
COMMANDS: dict[str, Callable[[Path, Path], list]] = {
    "sample": lambda folder, work: ["sample", folder, "--out", work / "samples.npz", "--n", "20"],
    "eval": lambda folder, work: ["eval", folder, "--n", "200"],
    "resume": lambda folder, work: ["run", "--resume", folder, "--steps", RESUME_TO, "--quiet"],
    "compare": lambda folder, work: ["compare", folder, "--out", work / "report", "--n", "200"],
}
RESULTS: dict[str, Callable[[Path, Path], Any]] = {
    "sample": lambda folder, work: npz_arrays(work / "samples.npz"),
    "eval": lambda folder, work: {k: v for k, v in json.loads((folder / "metrics.json").read_text()).items()
                                  if k != "train_seconds"} if (folder / "metrics.json").exists() else None,
    "resume": lambda folder, work: run_state(folder, RESUME_TO),
    "compare": lambda folder, work: (work / "report" / "report.html").read_text()
    if (work / "report" / "report.html").exists() else None,
}


def result_differs(command: str, got: Any, want: Any) -> list[str]:
    if command == "resume":
        return state_differences(got, want)
    if command == "sample":
        return [] if same_arrays(got, want) else ["the samples differ from the intact folder's"]
    return [] if got == want else [f"the {command} result differs from the intact folder's"]


# ==================================================================================================
# A case
# ==================================================================================================
@dataclass
class Case:
    kind: str
    name: str
    run: Callable[[Path], Outcome]  # given its own empty working folder


# ==================================================================================================
# Kind 1: bad options
# ==================================================================================================
HUGE = "1000000000000"
INT_VALUES = ["-1", "0", "1", HUGE, "nan", "inf", "abc", ""]
FLOAT_VALUES = ["-1", "0", "1", "1e308", "1e-300", "nan", "inf", "-inf", "abc", ""]
# A huge value that is legitimate but takes long (the harness stops it with SIGINT and wants a clean stop)
# or that must fail for lack of memory: what each int option of `run` should do with HUGE.
RUN_HUGE = {"steps": "long", "batch_size": "either", "latent_dim": "either", "final_eval_samples": "long",
            "seed": "ok", "eval_samples": "ok"}


def parses_in_range(param: click.Parameter, value: str) -> bool:
    """Whether the option's own type takes ``value`` (a finite number where numbers are asked for)."""
    try:
        number = param.type.convert(value, param, None)
    except click.BadParameter:
        return False
    return not isinstance(number, float) or np.isfinite(number)


def run_folder_of(argv: list[str], work: Path) -> Path:
    """The run folder a command works on (where the checkpoints its messages name must be)."""
    if argv[0] in ("sample", "eval") and len(argv) > 1:
        return Path(argv[1])
    if "--resume" in argv[:-1]:
        return Path(argv[argv.index("--resume") + 1])
    return work / "run"


def option_cases(lab: Lab, rng: random.Random) -> list[Case]:
    cases: list[Case] = []

    def case(name: str, args: list, expect: str = "error", command: str | None = None, plugin: bool = False,
             mention: tuple[str, ...] = (), setup: Callable[[Path], None] | None = None, long: bool = False,
             fresh: bool = False, check: Callable[[Path, Proc], list[str]] | None = None) -> None:
        """``args`` may hold callables of the working folder (paths made inside it)."""
        def run(work: Path) -> Outcome:
            if setup:
                setup(work)
            argv = [str(a(work) if callable(a) else a) for a in args]
            proc = lab.runner.call(argv, work, timeout=40 if long else 240, fresh=fresh)
            problems = check(work, proc) if check else []
            for config_file in work.rglob("config.json"):  # every run folder this case made or changed
                problems += folder_problems(config_file.parent)
            return judge(proc, expect, problems, command=command or argv[0], plugin=plugin, mention=mention,
                         stop_ok=long, folder=run_folder_of(argv, work))
        cases.append(Case("options", name, run))

    def tiny_run(*extra: Any) -> list:
        return ["run", "--variant", "gan", *lab.tiny(), "--steps", "2", "--final-eval-samples", "0",
                "--seed", "1", *extra, "--out", lambda w: w / "run"]

    # ---- every numeric option of `run` ----------------------------------------------------------------
    for param in ganlab.cli.run.params:
        if not isinstance(param, click.Option) or not isinstance(param.type, (click.IntRange, click.FloatRange)):
            continue
        flag, name = param.opts[0], param.name
        values = FLOAT_VALUES if isinstance(param.type, click.FloatRange) else INT_VALUES
        if name == "seed":
            values = [*values, str(2**64)]
        for value in values:
            expect = "ok" if parses_in_range(param, value) else "error"
            if value == HUGE:
                expect = RUN_HUGE.get(name, "ok")
            if value == "1e308":
                expect = "either"  # a learning rate that diverges at once
            if name == "final_eval_samples" and value == "1":
                expect = "error"  # the metrics compare the spread of the samples
            if name == "eval_every" and expect == "ok" and value != "0":
                extra = ["--eval-samples", "50"]
            else:
                extra = []
            case(f"run {flag} {value!r}", tiny_run(*extra, flag, value), "either" if expect == "long" else expect,
                 long=expect == "long", mention=(flag, name))

    # ---- choices, text and paths of `run` -------------------------------------------------------------
    for value, expect in (("joint", "ok"), ("separate", "ok"), ("both", "error"), ("", "error")):
        case(f"run --d-update {value!r}", tiny_run("--d-update", value), expect, mention=("--d-update",))
    for value, expect in (("nope", "error"), ("", "error"), ("+", "error"), ("gan+", "error"),
                          ("gan+nope", "error"), ("GAN", "either"), ("hinge", "error"), ("ema", "error"),
                          ("gan+gan", "either"), ("cgan+gan", "either"), ("../gan", "error"), ("gan+ema", "ok"),
                          ("dcgan", "ok"), ("wgan-gp", "ok"), ("acgan", "ok"), ("gan+r1", "ok")):
        case(f"run --variant {value!r}", tiny_run("--variant", value), expect, mention=("variant", value or "''"))
    for value, expect in (("nope", "error"), ("", "error"), ("npz", "ok"), ("folder", "error"), ("idx", "error"),
                          ("MNIST", "either"), ("fashion-mnist", "either")):
        case(f"run --dataset {value!r} --data small.npz", tiny_run("--dataset", value), expect,
             mention=("dataset", "folder", "labels", "--data"))
    for value, expect in (("meta", "error"), ("cuda", "error"), ("cuda:7", "error"), ("mps", "error"),
                          ("cpu:1", "either"), ("", "error"), ("CPU", "either"), ("xla", "error"),
                          ("cuda:-1", "error"), ("auto", "ok"), ("cpu:0", "either"), ("gpu", "error")):
        case(f"run --device {value!r}", tiny_run("--device", value), expect, mention=("--device", "device"))
    for value, expect in (("x", "error"), ("=1", "error"), ("nope=1", "error"), ("d_dropout=abc", "error"),
                          ("d_dropout=nan", "error"), ("d_dropout=-5", "error"), ("d_dropout=1e400", "error"),
                          ("d_dropout=", "error"), ("gp_weight=10", "error"), ("d_dropout=0.2", "ok"),
                          ("init=torch", "ok"), ("init=nope", "error"), ("d_dropout=inf", "error")):
        case(f"run --set {value!r}", tiny_run("--set", value), expect, mention=("--set", value.split("=")[0] or "="))
    case("run --image-size 32 with an npz", tiny_run("--image-size", "32"), "either",
         mention=("--image-size", "image_size"))
    for variant, setting in (("dcgan", "g_width=0"), ("dcgan", "d_norm=group"), ("gan+ema", "ema_decay=1.5"),
                             ("infogan", "categories=0"), ("wgan-gp", "n_critic=0"), ("cgan", "d_dropout=1"),
                             ("gan+r1", "r1_gamma=nan")):
        case(f"run --variant {variant} --set {setting}", tiny_run("--variant", variant, "--set", setting), "error",
             mention=(setting.split("=")[0],))
    case("run --image-size 27", tiny_run("--image-size", "27"), "error", mention=("--image-size",))
    case("run --labels with mnist", tiny_run("--labels", lambda w: lab.data), "either", mention=("--labels", "labels"))
    case("run --checkpoint without --resume", tiny_run("--checkpoint", "5"), "error", mention=("--resume",))
    case("run --tensorboard (not installed)", tiny_run("--tensorboard"), "either", mention=("tensorboard",))

    # ---- --out ----------------------------------------------------------------------------------------
    def afile(work: Path) -> None:
        (work / "afile").write_text("x")

    for label, out, expect, setup in (
            ("an existing file", lambda w: w / "afile", "error", afile),
            ("a path through a file", lambda w: w / "afile" / "run", "error", afile),
            ("empty", "", "error", None),
            ("under /proc", "/proc/ganlab-attack/run", "error", None),
            ("a folder with a space", lambda w: w / "my run", "ok", None),
            ("an existing run", lambda w: w / "base", "error", lambda w: lab.clone(lab.base, w)),
            ("an existing empty folder", lambda w: w / "run", "ok", lambda w: (w / "run").mkdir()),
            ("the working folder '.'", ".", "either", None)):
        case(f"run --out {label}", [*tiny_run()[:-2], "--out", out], expect, setup=setup,
             mention=("--out", "afile", "run", "/proc"))

    # ---- --data with bad files ------------------------------------------------------------------------
    def npz(**arrays: Any) -> Callable[[Path], Path]:
        def make(work: Path) -> Path:
            np.savez(work / "d.npz", **arrays)
            return work / "d.npz"
        return make

    rng_np = np.random.default_rng(rng.randrange(2**32))
    images = rng_np.integers(0, 256, (60, 28, 28), dtype=np.uint8)
    labels = np.arange(60) % 10
    for label, data, expect, dataset in (
            ("a missing file", lambda w: w / "nope.npz", "error", "mnist"),
            ("an empty folder", lambda w: (w / "empty").mkdir() or w / "empty", "error", "folder"),
            ("a text file", lambda w: (w / "t.npz").write_text("hello") and w / "t.npz", "error", "npz"),
            ("an npz without x_train", npz(images=images), "error", "npz"),
            ("an npz of one image", npz(x_train=images[:1], y_train=labels[:1]), "either", "npz"),
            ("an npz of zero images", npz(x_train=images[:0], y_train=labels[:0]), "error", "npz"),
            ("an npz with fewer labels", npz(x_train=images, y_train=labels[:10]), "error", "npz"),
            ("an npz of float images with NaN", npz(x_train=np.full((60, 28, 28), np.nan), y_train=labels),
             "error", "npz"),
            ("an npz of negative labels", npz(x_train=images, y_train=labels - 5), "either", "npz"),
            ("an npz of 1-d images", npz(x_train=images.reshape(60, -1), y_train=labels), "either", "npz"),
            ("an npz of 5-d images", npz(x_train=images.reshape(60, 1, 1, 28, 28), y_train=labels), "error", "npz"),
            ("an npz of string labels", npz(x_train=images, y_train=np.array(["a"] * 60)), "either", "npz"),
            ("an npz of 2x2 images with dcgan", npz(x_train=images[:, :2, :2], y_train=labels), "error", "npz-dcgan"),
            ("an npz of 300x300 images", npz(x_train=np.zeros((20, 300, 300), np.uint8), y_train=np.arange(20) % 2),
             "either", "npz")):
        variant = "dcgan" if dataset == "npz-dcgan" else "gan"
        case(f"run --data {label}", ["run", "--variant", variant, "--dataset", dataset.replace("-dcgan", ""),
                                     "--data", data, "--steps", "2", "--batch-size", "8", "--device", "cpu",
                                     "--quiet", "--final-eval-samples", "0", "--out", lambda w: w / "run"],
             expect, mention=("d.npz", "nope.npz", "t.npz", "empty", "x_train", "image", "label"))

    # ---- --plugin ------------------------------------------------------------------------------------
    for label, text in (("a syntax error", "def ganlab_generator_loss(:\n"),
                        ("an error on import", "raise RuntimeError('boom')\n"),
                        ("no hooks", '"""Nothing."""\n'),
                        ("an unknown hook", "import ganlab\n@ganlab.hookimpl\ndef ganlab_nope():\n    pass\n"),
                        ("a loss that is a float", "import ganlab\n@ganlab.hookimpl\ndef ganlab_generator_loss("
                                                   "scores):\n    return 1.0\n")):
        def write(work: Path, text: str = text) -> None:
            (work / "mine.py").write_text(text)
        case(f"run --plugin with {label}", tiny_run("--variant", "gan+mine", "--plugin", lambda w: w / "mine.py"),
             "either" if label == "no hooks" else "error", plugin=True, setup=write, mention=("mine",))
    case("run --plugin missing.py", tiny_run("--variant", "gan+missing", "--plugin", "missing.py"), "error",
         plugin=True, mention=("missing.py",))
    case("run --plugin a folder", tiny_run("--variant", "gan+pkg", "--plugin", lambda w: w / "pkg"), "error",
         plugin=True, setup=lambda w: (w / "pkg").mkdir(), mention=("pkg",))
    case("run --plugin notes.txt", tiny_run("--variant", "gan+notes", "--plugin", lambda w: w / "notes.txt"),
         "error", plugin=True, setup=lambda w: (w / "notes.txt").write_text("x"), mention=("notes.txt",))

    # ---- --config with broken files -------------------------------------------------------------------
    for label, name, text, expect in (
            ("missing", "nope.toml", None, "error"),
            ("empty but for steps", "c.toml", "", "ok"),
            ("not TOML", "c.toml", "steps = = 2\n", "error"),
            ("binary garbage", "c.json", b"\x80\x81\xfe\x00", "error"),
            ("an unknown key", "c.toml", "stepz = 2\n", "error"),
            ("steps as text", "c.toml", 'steps = "x"\n', "error"),
            ("steps negative", "c.toml", "steps = -1\n", "error"),
            ("lr nan", "c.toml", "lr = nan\n", "error"),
            ("variant a number", "c.toml", "variant = 5\n", "error"),
            ("a bad plugin setting", "c.toml", "[settings]\nnope = 1\n", "error"),
            ("a missing plugin file", "c.toml", 'plugin_files = ["nope.py"]\n', "error"),
            ("data_options labels a number", "c.toml", "[data_options]\nlabels = 5\n", "error"),
            ("a JSON list", "c.json", "[1, 2]", "error"),
            ("a run's config.json", "config.json", "COPY", "ok"),
            ("a folder", "cfgdir", "DIR", "error")):
        def write(work: Path, name: str = name, text: Any = text) -> None:
            if text == "DIR":
                (work / name).mkdir()
            elif text == "COPY":
                shutil.copy(lab.base / "config.json", work / name)
            elif isinstance(text, bytes):
                (work / name).write_bytes(text)
            elif text is not None:  # two steps, unless the file is about steps or is no TOML
                prefix = "" if "steps" in text or name.endswith(".json") or "= =" in text else "steps = 2\n"
                (work / name).write_text(prefix + text if not text.startswith("[") else text.replace(
                    "[", prefix + "[", 1))
        case(f"run --config {label}", ["run", "--config", lambda w, n=name: w / n, "--data", lab.data,
                                       "--batch-size", "8", "--device", "cpu", "--quiet", "--final-eval-samples", "0",
                                       "--out", lambda w: w / "run"], expect, setup=write,
             mention=("--config", name, "plugin", "setting", "lr", "steps"), plugin="plugin" in label)

    # ---- --resume with other options ------------------------------------------------------------------
    def resume_case(label: str, extra: list, expect: str, mention: tuple[str, ...] = ()) -> None:
        def setup(work: Path) -> None:
            lab.clone(lab.base, work).rename(work / "run")
        case(f"run --resume {label}", ["run", "--resume", lambda w: w / "run", *extra], expect, setup=setup,
             mention=mention)

    for flag, value in (("--variant", "cgan"), ("--lr", "0.1"), ("--seed", "5"), ("--out", "elsewhere"),
                        ("--batch-size", "7"), ("--data", str(lab.data)), ("--set", "d_dropout=0.1"),
                        ("--final-eval-samples", "0"), ("--latent-dim", "3")):
        resume_case(f"{flag} {value}", [flag, value], "error", mention=(flag,))
    resume_case("--plugin mine.py", ["--plugin", lab.plugin_file], "error", mention=("--plugin",))
    resume_case("--config c.toml", ["--config", lambda w: (w / "c.toml").write_text("steps = 12\n") and w / "c.toml"],
                "error", mention=("--config",))
    resume_case("--steps 5 (before the checkpoint)", ["--steps", "5", "--quiet"], "error", mention=("--steps",))
    resume_case("--steps 10 (already there)", ["--steps", "10", "--quiet"], "ok")
    resume_case("--steps 12 --keep-checkpoints 1", ["--steps", "12", "--keep-checkpoints", "1", "--quiet"], "ok")
    resume_case("--checkpoint 5", ["--checkpoint", "5", "--quiet"], "ok")
    resume_case("--checkpoint step_000005.pt", ["--checkpoint", "step_000005.pt", "--quiet"], "ok")
    resume_case("--checkpoint step_999.pt", ["--checkpoint", "step_999.pt"], "error", mention=("step_999",))
    resume_case("--checkpoint /etc/passwd", ["--checkpoint", "/etc/passwd"], "error", mention=("passwd",))
    resume_case("--checkpoint ''", ["--checkpoint", ""], "error", mention=("checkpoint",))
    resume_case("--checkpoint -1", ["--checkpoint", "-1"], "error", mention=("-1", "checkpoint"))
    resume_case("--device meta", ["--device", "meta"], "error", mention=("--device",))
    resume_case("--eval-every 0 --steps 12", ["--eval-every", "0", "--steps", "12", "--quiet"], "ok")
    resume_case("--checkpoint-every -1", ["--checkpoint-every", "-1"], "error", mention=("--checkpoint-every",))
    case("run --resume a missing folder", ["run", "--resume", lambda w: w / "nope"], "error", mention=("nope",))
    case("run --resume a file", ["run", "--resume", lambda w: w / "afile"], "error", setup=afile, mention=("afile",))
    case("run --resume an empty folder", ["run", "--resume", lambda w: w / "run"], "error",
         setup=lambda w: (w / "run").mkdir(), mention=("run",))
    case("run --resume ''", ["run", "--resume", ""], "error", mention=("--resume",))

    # ---- sample ----------------------------------------------------------------------------------------
    def sample(*extra: Any, run: Any = None, out: Any = None) -> list:
        return ["sample", lab.base_cgan if run is None else run, "--out", (lambda w: w / "s.png") if out is None
                else out, *extra]

    def sample_case(label: str, args: list, expect: str, mention: tuple[str, ...] = (), setup=None) -> None:
        def out_check(work: Path, proc: Proc) -> list[str]:
            stale = [p.name for p in work.rglob(".*.tmp")]
            half = [p.name for p in work.glob("*.png") if p.is_file() and not png_complete(p)]
            half += [p.name for p in work.glob("*.npz") if p.is_file() and npz_arrays(p) is None]
            return ([f"temporary file(s) left: {stale}"] if stale else []) + (
                [f"half-written output {half}"] if half else [])
        case(f"sample {label}", args, expect, command="sample", mention=mention, setup=setup, check=out_check)

    for flag, values in (("--n", INT_VALUES), ("--label", INT_VALUES + ["9", "10"]), ("--per-class", INT_VALUES),
                         ("--seed", INT_VALUES + [str(2**64)])):
        param = next(p for p in ganlab.cli.sample.params if flag in p.opts)
        for value in values:
            expect = "ok" if parses_in_range(param, value) else "error"
            if flag == "--label" and value in (HUGE, "10"):
                expect = "error"
            if value == HUGE or value == str(2**64):
                expect = {"--n": "error", "--per-class": "error", "--label": "error"}.get(flag, "either")
            sample_case(f"{flag} {value!r}", sample(flag, value), expect, mention=(flag, flag.strip("-")))
    sample_case("--n 100000 --out x.npz (bounded batches)", sample("--n", "100000", out=lambda w: w / "x.npz"), "ok")
    sample_case("--n 2501 --out x.png", sample("--n", "2501"), "error", mention=(".npz",))
    sample_case("--label on an unconditional run", sample("--label", "3", run=lab.base), "error",
                mention=("--label",))
    sample_case("--label and --per-class", sample("--label", "1", "--per-class", "2"), "error", mention=("--label",))
    sample_case("--per-class and --n", sample("--per-class", "1", "--n", "5"), "error", mention=("--per-class",))
    for label, ckpt, expect in (("missing", lambda w: w / "nope.pt", "error"),
                                ("a folder", lambda w: (w / "d.pt").mkdir() or w / "d.pt", "error"),
                                ("a text file", lambda w: (w / "t.pt").write_text("x") and w / "t.pt", "error"),
                                ("of another seed", lambda w: lab.base_seed2 / "checkpoints" / "step_000010.pt",
                                 "either"),
                                ("of another variant", lambda w: lab.base / "checkpoints" / "step_000010.pt",
                                 "error"),
                                ("a step number", "5", "either")):
        sample_case(f"--checkpoint {label}", sample("--checkpoint", ckpt), expect, mention=("nope.pt", "d.pt", "t.pt",
                                                                                            "step_000010.pt", "5"))
    for value, expect in (("meta", "error"), ("cuda", "error"), ("", "error"), ("cpu", "ok"), ("xla", "error")):
        sample_case(f"--device {value!r}", sample("--device", value), expect, mention=("--device", "device"))
    for label, out, expect, setup in (("x.jpg", lambda w: w / "x.jpg", "error", None),
                                      ("no suffix", lambda w: w / "x", "error", None),
                                      ("empty", "", "error", None),
                                      ("an existing folder d.png", lambda w: w / "d.png", "error",
                                       lambda w: (w / "d.png").mkdir()),
                                      ("a path through a file", lambda w: w / "afile" / "x.png", "error", afile),
                                      ("under /proc", "/proc/ganlab-attack.png", "error", None),
                                      ("X.NPZ", lambda w: w / "X.NPZ", "ok", None)):
        sample_case(f"--out {label}", sample(out=out), expect, setup=setup, mention=("--out", "afile", "d.png",
                                                                                     "proc", "x.jpg", ".png"))
    for label, run, expect, setup in (("a missing folder", lambda w: w / "nope", "error", None),
                                      ("a file", lambda w: w / "afile", "error", afile),
                                      ("an empty folder", lambda w: w / "empty", "error",
                                       lambda w: (w / "empty").mkdir()),
                                      ("''", "", "error", None)):
        sample_case(f"RUN_DIR {label}", sample(run=run), expect, setup=setup, mention=("nope", "afile", "empty",
                                                                                       "run folder"))

    # ---- eval -------------------------------------------------------------------------------------------
    def eval_case(label: str, extra: list, expect: str, mention: tuple[str, ...] = (), run: Path | None = None,
                  long: bool = False) -> None:
        def setup(work: Path) -> None:
            lab.clone(run or lab.base, work).rename(work / "run")
        case(f"eval {label}", ["eval", lambda w: w / "run", *extra], expect, command="eval", setup=setup,
             mention=mention, long=long)

    for value in INT_VALUES:
        param = next(p for p in ganlab.cli.eval_command.params if "--n" in p.opts)
        expect = "ok" if parses_in_range(param, value) else "error"
        eval_case(f"--n {value!r}", ["--n", value], "either" if value == HUGE else expect, mention=("--n",),
                  long=value == HUGE)
    eval_case("--n 2", ["--n", "2"], "either", mention=("--n",))
    eval_case("--checkpoint missing", ["--checkpoint", "nope.pt", "--n", "100"], "error", mention=("nope.pt",))
    eval_case("--checkpoint 5", ["--checkpoint", "5", "--n", "100"], "either", mention=("5",))
    eval_case("--device meta", ["--device", "meta", "--n", "100"], "error", mention=("--device",))
    eval_case("a run without a classifier", ["--n", "100"], "error", mention=("classifier",), run=lab.rgb_run)
    case("eval a missing folder", ["eval", lambda w: w / "nope"], "error", command="eval", mention=("nope",))

    # ---- compare ---------------------------------------------------------------------------------------
    def compare_case(label: str, args: list, expect: str, mention: tuple[str, ...] = (), setup=None,
                     long: bool = False) -> None:
        case(f"compare {label}", ["compare", *args], expect, command="compare", mention=mention, setup=setup,
             long=long)

    report = ["--out", lambda w: w / "report"]
    compare_case("no runs", [*report], "error", mention=("--variants", "run folders"))
    compare_case("a missing folder", [lab.base, lambda w: w / "nope", *report], "error", mention=("nope",))
    compare_case("a file", [lambda w: w / "afile", *report], "error", setup=afile, mention=("afile",))
    compare_case("one run twice", [lab.base, lab.base, *report], "either")
    compare_case("runs of different data", [lab.base, lab.rgb_run, *report], "error", mention=("different data",))
    compare_case("an unconditional and a conditional run", [lab.base, lab.base_cgan, *report], "ok")
    for value in ("0", "1", HUGE, "abc"):
        compare_case(f"--n {value!r}", [lab.base, "--n", value, *report], "ok" if value == HUGE else "error",
                     mention=("--n",))
    compare_case("--out an existing file", [lab.base, "--out", lambda w: w / "afile"], "error", setup=afile,
                 mention=("afile", "--out"))
    compare_case("--out ''", [lab.base, "--out", ""], "error", mention=("--out",))
    compare_case("--variants nope", ["--variants", "nope", "--steps", "2", *report], "error", mention=("nope",))
    compare_case("--variants ''", ["--variants", "", "--steps", "2", *report], "error", mention=("--variants",))
    compare_case("--variants gan --steps 0", ["--variants", "gan", "--steps", "0", *report], "error",
                 mention=("--steps",))
    compare_case("--variants gan --eval-every -1", ["--variants", "gan", "--eval-every", "-1", *report], "error",
                 mention=("--eval-every",))
    compare_case("--variants gan --dataset nope", ["--variants", "gan", "--dataset", "nope", "--steps", "2", *report],
                 "error", mention=("nope",))

    # ---- data, variants, unknown commands -------------------------------------------------------------------
    def data_case(label: str, args: list, expect: str, mention: tuple[str, ...] = (), setup=None) -> None:
        case(f"data {label}", ["data", *args], expect, command=f"data {args[0]}", mention=mention, setup=setup)

    data_case("download nope", ["download", "nope"], "error", mention=("nope",))
    data_case("download ''", ["download", ""], "error", mention=("mnist",))
    data_case("info nope", ["info", "nope"], "error", mention=("nope",))
    data_case("info npz without --data", ["info", "npz"], "error", mention=("--data",))
    data_case("info npz --data small.npz", ["info", "npz", "--data", lab.data], "ok")
    data_case("info folder --data a file", ["info", "folder", "--data", lab.data], "error", mention=("folder",))
    data_case("info idx without --labels", ["info", "idx", "--data", lab.data], "error", mention=("--labels",))
    data_case("info mnist --data missing", ["info", "mnist", "--data", "nope.npz"], "error", mention=("nope.npz",))
    for value, expect in (("0", "error"), ("-1", "error"), ("1", "ok"), (HUGE, "either"), ("abc", "error")):
        data_case(f"show --n {value!r}", ["show", "mnist", "--data", lab.data, "--n", value, "--out",
                                          lambda w: w / "x.png"], expect, mention=("--n",))
    data_case("show --out through a file", ["show", "mnist", "--data", lab.data, "--out",
                                            lambda w: w / "afile" / "x.png"], "error", setup=afile,
              mention=("afile",))
    data_case("hist --out ''", ["hist", "mnist", "--data", lab.data, "--out", ""], "error", mention=("--out",))
    data_case("hist --out a folder", ["hist", "mnist", "--data", lab.data, "--out", lambda w: w],
              "error", mention=("--out", "folder", "directory"))
    case("variants --plugin with a syntax error", ["variants", "--plugin", lambda w: w / "bad.py"], "either",
         command="variants", plugin=True, setup=lambda w: (w / "bad.py").write_text("def (:\n"))
    case("variants --plugin missing.py (listed as broken)", ["variants", "--plugin", "missing.py"], "either",
         command="variants",
         plugin=True, mention=("missing.py",))
    case("an unknown command", ["trian"], "error", command="", mention=("trian",))
    case("run --nope", ["run", "--nope"], "error", mention=("--nope",))
    return cases


# ==================================================================================================
# Kind 2: damaged files
# ==================================================================================================
RETYPES: list[Any] = ["abc", 3.5, -1, None, [], {}, True, [1, 2]]
TENSOR_RETYPES: list[Any] = ["abc", 3.5, -1, None, [], {}, torch.zeros(3), True, [1, 2],
                             torch.zeros(2, 2, dtype=torch.long)]


def edit_json(path: Path, change: Callable[[Any], Any]) -> None:
    value = json.loads(path.read_text())
    value = change(value) or value
    put(path, json.dumps(value))


def edit_checkpoint(path: Path, change: Callable[[dict], Any]) -> None:
    payload = torch.load(path, weights_only=True)
    change(payload)
    put(path, saved_bytes(payload))


def at(value: Any, keys: tuple) -> tuple[Any, Any]:
    """The container of ``keys``'s last item inside ``value``, and that item's key."""
    for key in keys[:-1]:
        value = value[key]
    return value, keys[-1]


def removed(keys: tuple) -> Callable[[Any], None]:
    def change(value: Any) -> None:
        container, key = at(value, keys)
        del container[key]
    return change


def replaced(keys: tuple, new: Any) -> Callable[[Any], None]:
    def change(value: Any) -> None:
        container, key = at(value, keys)
        container[key] = new
    return change


class EvilPickle:
    """Unpickling this runs a shell command: what a hostile checkpoint would hold."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(str(self.marker))}",))


@dataclass
class Damage:
    name: str
    source: str  # which lab run to damage: "base" or "plugged"
    apply: Callable[[Path], None]  # given the cloned run folder
    names: tuple[str, ...]  # what a message about it should name (the file)
    commands: tuple[str, ...]


def damages(lab: Lab, rng: random.Random) -> list[Damage]:
    found: list[Damage] = []
    cfg, ckpt = "config.json", "step_000010.pt"
    rotation = iter(lambda: rng.choice(["sample", "eval", "compare"]), None)

    def add(name: str, apply: Callable[[Path], None], names: tuple[str, ...], commands: tuple[str, ...] = (),
            source: str = "base") -> None:
        found.append(Damage(name, source, apply, names, commands or ("resume", next(rotation))))

    def config(change: Callable[[Any], Any]) -> Callable[[Path], None]:
        return lambda folder: edit_json(folder / cfg, change)

    def checkpoint(change: Callable[[dict], Any]) -> Callable[[Path], None]:
        return lambda folder: edit_checkpoint(folder / "checkpoints" / ckpt, change)

    def truncated(relative: str, size: Callable[[int], int]) -> Callable[[Path], None]:
        def apply(folder: Path) -> None:
            data = (folder / relative).read_bytes()
            put(folder / relative, data[:size(len(data))])
        return apply

    def written(relative: str, data: bytes | str) -> Callable[[Path], None]:
        return lambda folder: put(folder / relative, data)

    # ---- config.json ----------------------------------------------------------------------------------
    for label, size in (("empty", lambda n: 0), ("1 byte", lambda n: 1), ("half", lambda n: n // 2),
                        ("all but 2 bytes", lambda n: n - 2)):
        add(f"config.json truncated to {label}", truncated(cfg, size), (cfg,), ("resume", "sample", "eval", "compare"))
    for label, text in (("text", "hello"), ("a JSON list", "[]"), ("null", "null"), ("a JSON string", '"x"'),
                        ("binary", b"\xff\xfe\x00\x80")):
        add(f"config.json is {label}", written(cfg, text), (cfg,))
    for key in ("config", "dataset", "conditional", "device", "versions", "created"):
        add(f"config.json without {key!r}", config(removed((key,))), (cfg, key))
    for key, value in (("config", []), ("dataset", "x"), ("conditional", "yes")):
        add(f"config.json {key!r} = {value!r}", config(replaced((key,), value)), (cfg, key))
    for field_name in [f for f in RunConfig.__dataclass_fields__]:
        if rng.random() < 0.4:
            add(f"config.json without config.{field_name}", config(removed(("config", field_name))), (cfg, field_name))
        else:
            value = rng.choice(RETYPES + [1e308, 0, "cuda"])
            add(f"config.json config.{field_name} = {value!r}", config(replaced(("config", field_name), value)),
                (cfg, field_name))
    for key in ("name", "image_shape", "num_classes", "class_names"):
        add(f"config.json without dataset.{key}", config(removed(("dataset", key))), (cfg, key))
        value = rng.choice(RETYPES + [[0, 28, 28], 0, [1, 28, 28, 1]])
        add(f"config.json dataset.{key} = {value!r}", config(replaced(("dataset", key), value)), (cfg, key))
    for value in (["/etc/passwd"], ["../../evil.py"], ["plugins/../../x.py"], ["plugins/nonexistent.py"], [1],
                  "plugins/mine.py", ["plugins"]):
        add(f"config.json plugin_files = {value!r}", config(replaced(("config", "plugin_files"), value)),
            (cfg, "plugin"), ("resume", "sample"), source="plugged")

    # ---- checkpoints --------------------------------------------------------------------------------
    path = f"checkpoints/{ckpt}"
    for label, size in (("empty", lambda n: 0), ("100 bytes", lambda n: 100), ("1000 bytes", lambda n: 1000),
                        ("half", lambda n: n // 2), ("all but 1 byte", lambda n: n - 1)):
        add(f"{ckpt} truncated to {label}", truncated(path, size), (ckpt,), ("resume", rng.choice(["sample", "eval"])))
    for where in ("header", "middle", "end"):
        def flip(folder: Path, where: str = where, seed: int = rng.randrange(2**32)) -> None:
            data = bytearray((folder / path).read_bytes())
            local = random.Random(seed)
            span = {"header": (0, 200), "middle": (len(data) // 3, 2 * len(data) // 3),
                    "end": (len(data) - 2000, len(data))}[where]
            for _ in range(16):
                data[local.randrange(*span)] ^= 0xFF
            put(folder / path, bytes(data))
        add(f"{ckpt} with bytes flipped in the {where}", flip, (ckpt,), ("resume", rng.choice(["sample", "eval"])))
    fields = [("format",), ("ganlab_version",), ("variant",), ("spec",), ("config",), ("step",), ("generator",),
              ("discriminator",), ("opt_g",), ("opt_d",), ("fixed_noise",), ("rng",), ("plugin_state",),
              ("spec", "image_shape"), ("spec", "num_classes"), ("rng", "torch"), ("rng", "numpy"),
              ("rng", "python"), ("config", "seed"), ("config", "variant"), ("opt_g", "state"),
              ("opt_g", "param_groups")]
    for keys in fields:
        label = ".".join(keys)
        add(f"{ckpt} without {label}", checkpoint(removed(keys)), (ckpt, keys[-1]),
            ("resume", rng.choice(["sample", "eval"])))
        value = rng.choice(TENSOR_RETYPES)
        add(f"{ckpt} {label} = {type(value).__name__} {value!r}"[:90], checkpoint(replaced(keys, value)),
            (ckpt, keys[-1]), ("resume", rng.choice(["sample", "eval"])))

    def reshaped_weight(payload: dict) -> None:
        first = next(iter(payload["generator"]))
        payload["generator"][first] = payload["generator"][first].reshape(-1)

    def reshaped_moment(payload: dict) -> None:
        payload["opt_g"]["state"][0]["exp_avg"] = torch.zeros(2)

    for label, change in (("fixed_noise reshaped", replaced(("fixed_noise",), torch.zeros(5, 3))),
                          ("a generator weight flattened", reshaped_weight),
                          ("rng.torch 10 bytes", replaced(("rng", "torch"), torch.zeros(10, dtype=torch.uint8))),
                          ("rng.numpy keys of 10", replaced(("rng", "numpy", 1), torch.zeros(10, dtype=torch.long))),
                          ("an Adam moment reshaped", reshaped_moment),
                          ("format 99 (a future ganlab)", replaced(("format",), 99)),
                          ("format 1 (an older ganlab)", replaced(("format",), 1)),
                          ("step 999", replaced(("step",), 999)),
                          ("step 5 (the previous one's)", replaced(("step",), 5)),
                          ("spec.num_classes 11", replaced(("spec", "num_classes"), 11))):
        add(f"{ckpt} {label}", checkpoint(change), (ckpt,), ("resume", rng.choice(["sample", "eval"])))

    def evil(folder: Path) -> None:
        put(folder / path, saved_bytes({"format": 2, "step": 10, "x": EvilPickle(folder.parent / "PWNED")}))

    add(f"{ckpt} is a pickle that runs a command", evil, (ckpt,), ("resume", "sample", "eval"))
    add(f"{ckpt} is another seed's (a mixed folder)",
        lambda folder: put(folder / path, (lab.base_seed2 / path).read_bytes()), (ckpt, "seed", "another run"),
        ("resume", "sample", "eval"))
    add(f"{ckpt} is another variant's", lambda folder: put(folder / path, (lab.base_cgan / path).read_bytes()),
        (ckpt,), ("resume", "sample"))
    add("every checkpoint removed", lambda folder: [p.unlink() for p in (folder / "checkpoints").iterdir()],
        ("checkpoint",), ("resume", "sample", "eval"))
    add("a folder named step_000020.pt in checkpoints/", lambda folder: (folder / "checkpoints" / "step_000020.pt")
        .mkdir(), ("step_000020.pt",), ("resume", "sample"))
    add("a stale .step_000015.pt.x.tmp in checkpoints/",
        written("checkpoints/.step_000015.pt.abc123.tmp", b"x" * 5000), ("tmp",), ("resume", "sample"))
    add("checkpoints/ is a file", written("checkpoints", b"x"), ("checkpoints",), ("resume", "sample"))
    add(".lock is a folder", lambda folder: (folder / ".lock").mkdir(), (".lock",), ("resume", "sample"))

    # ---- losses.csv, metrics.csv, metrics.json ----------------------------------------------------------
    def lines(relative: str, change: Callable[[list[str]], list[str]]) -> Callable[[Path], None]:
        def apply(folder: Path) -> None:
            put(folder / relative, "\n".join(change((folder / relative).read_text().splitlines())) + "\n")
        return apply

    for label, change in (("a row of text", lambda ls: [*ls, "7,abc,0.1,0.5,0.5"]),
                          ("a short row", lambda ls: [*ls[:5], "5,0.1", *ls[6:]]),
                          ("a long row", lambda ls: [*ls, ls[-1] + ",1,2,3"]),
                          ("only the header", lambda ls: ls[:1]),
                          ("no header", lambda ls: ls[1:]),
                          ("rows 3-4 removed (a gap)", lambda ls: ls[:3] + ls[5:]),
                          ("a duplicated row", lambda ls: ls[:4] + ls[3:]),
                          ("rows 11-12 past the checkpoint (a crash's)",
                           lambda ls: [*ls, ls[-1].replace("10,", "11,", 1), ls[-1].replace("10,", "12,", 1)]),
                          ("a row of nan", lambda ls: ls[:-1] + ["10,nan,nan,nan,nan"])):
        add(f"losses.csv with {label}", lines("losses.csv", change), ("losses.csv",), ("resume", "compare"))
    add("losses.csv truncated mid-row", truncated("losses.csv", lambda n: n - 7), ("losses.csv",),
        ("resume", "compare"))
    add("losses.csv is binary", written("losses.csv", b"\xff\xfe\x00\x81" * 10), ("losses.csv",), ("resume", "compare"))
    add("losses.csv removed", lambda folder: (folder / "losses.csv").unlink(), ("losses.csv",), ("resume", "compare"))
    for label, change in (("a row of text", lambda ls: [*ls, "abc,1,1"]), ("only the header", lambda ls: ls[:1]),
                          ("another header", lambda ls: ["a,b,c", *ls[1:]])):
        add(f"metrics.csv with {label}", lines("metrics.csv", change), ("metrics.csv",), ("resume", "compare"))
    add("metrics.csv is binary", written("metrics.csv", b"\xff\xfe\x00\x81" * 10), ("metrics.csv",),
        ("resume", "compare"))
    for label, text in (("not JSON", "{not json"), ("a list", "[1, 2]"), ("text values", '{"fd": "low"}'),
                        ("null", "null"), ("nested objects", '{"fd": {"a": 1}}'), ("empty", "")):
        add(f"metrics.json is {label}", written("metrics.json", text), ("metrics.json",), ("compare", "eval"))

    # ---- a carried plugin file -------------------------------------------------------------------------
    for label, text in (("a syntax error", "def ganlab_generator_loss(:\n"),
                        ("an error on import", "raise RuntimeError('boom')\n"),
                        ("empty", ""), ("a loss that is a string", "import ganlab\n@ganlab.hookimpl\n"
                                                                   "def ganlab_generator_loss(scores):\n"
                                                                   "    return 'x'\n")):
        add(f"plugins/mine.py with {label}", written("plugins/mine.py", text), ("mine.py",),
            ("resume", "sample", "eval", "compare") if label == "a syntax error" else ("resume", "sample"),
            source="plugged")
    add("plugins/mine.py removed", lambda folder: (folder / "plugins" / "mine.py").unlink(), ("mine.py",),
        ("resume", "sample"), source="plugged")
    return found


def file_cases(lab: Lab, rng: random.Random) -> list[Case]:
    cases = []
    for damage in damages(lab, rng):
        for command in damage.commands:
            cases.append(Case("files", f"{command}: {damage.name}", damaged_run(lab, damage, command)))
    return cases


def damaged_run(lab: Lab, damage: Damage, command: str) -> Callable[[Path], Outcome]:
    def run(work: Path) -> Outcome:
        source = lab.base if damage.source == "base" else lab.plugged
        want = lab.reference(source, command)
        folder = lab.clone(source, work)
        damage.apply(folder)
        proc = lab.runner.call(COMMANDS[command](folder, work), work, timeout=180)
        problems = []
        if (work / "PWNED").exists():
            problems.append("loading the checkpoint ran the command inside it")
        if proc.code == 0:
            problems += result_differs(command, RESULTS[command](folder, work), want)
        # Temporary files left by this command (the planted one of a damage only a writer must remove).
        stale = [p.name for p in work.rglob(".*.tmp") if command == "resume" or "abc123" not in p.name]
        if stale and not (command == "resume" and proc.code != 0 and "abc123" in "".join(stale)):
            problems.append(f"temporary file(s) left: {', '.join(stale)}")
        if command == "resume" and proc.code == 0:
            problems += [p for p in folder_problems(folder) if "temporary" not in p]
        outcome = judge(proc, "either", problems, command="run" if command == "resume" else command,
                        folder=folder, plugin=damage.source == "plugged" and "plugin" in damage.name + command,
                        mention=damage.names)
        return paste_suggestions(lab, outcome, folder, work)
    return run


PASTED: dict[str, str] = {}  # a suggested command's shape -> what pasting it gave (pasted once per shape)


def paste_suggestions(lab: Lab, outcome: Outcome, folder: Path, work: Path) -> Outcome:
    """Paste the ganlab commands a clean error suggests (once per shape of command): a suggestion that
    fails is misleading."""
    if outcome.verdict not in ("clean-error",):
        return outcome
    for text in suggested_commands(outcome.procs[0].out):
        if str(folder) not in text and shlex.quote(str(folder)) not in text:
            continue
        shape = re.sub(r"step_\d{6}\.pt", "CK", text.replace(shlex.quote(str(folder)), "RUN").replace(str(folder),
                                                                                                          "RUN"))
        shape = re.sub(r"--n \d+", "--n N", shape)
        if shape in PASTED:
            continue
        if text.startswith("ganlab eval") and "--n" not in text:
            text += " --n 100"  # the same command, quicker (the default draws 10 000 samples)
        pasted = lab.runner.paste(text, work)
        PASTED[shape] = f"exit {pasted.code}"
        outcome.procs.append(pasted)
        if pasted.code != 0:
            return Outcome("misleading", f"the suggested `{text}` fails when pasted: {message_of(pasted.out)[:200]}",
                           outcome.procs)
    return outcome


# ==================================================================================================
# Kinds 3 and 4: signals and a full disk, then what a learner does next
# ==================================================================================================
def printed_command(out: str) -> str | None:
    """The resume command a message prints, as a learner would copy it."""
    for text in suggested_commands(out):
        if text.startswith("ganlab run --resume"):
            return text
    return None


def follow_the_messages(lab: Lab, args: list[str], first: Proc, work: Path) -> tuple[list[Proc], list[str]]:
    """What a learner does after a run stopped: paste the command it printed, or run the same command
    again and paste the one that prints; until the run has finished (at most three tries)."""
    procs, notes, last = [], [], first
    for _ in range(3):
        if last.code == 0:
            return procs, notes
        command = printed_command(last.out)
        if command:
            last = lab.runner.paste(command, work)
            if last.code != 0:
                notes.append(f"the printed `{command}` fails when pasted: {message_of(last.out)[:200]}")
        else:
            last = lab.runner.call(args, work, fresh=True)
        procs.append(last)
    if last.code != 0:
        notes.append("following the messages did not finish the run")
    return procs, notes


def signal_cases(lab: Lab, rng: random.Random) -> list[Case]:
    cases = []
    for index, kind in enumerate(["SIGINT", "SIGTERM", "SIGKILL", "SIGINT x2"] * 6):
        moment, gap = rng.random(), rng.uniform(0.02, 0.6)
        cases.append(Case("signals", f"{kind} at {moment:.2f} of the run", signal_run(lab, kind, moment, gap, index)))
    return cases


def signal_run(lab: Lab, kind: str, moment: float, gap: float, index: int) -> Callable[[Path], Outcome]:
    def run(work: Path) -> Outcome:
        want, appeared, ended = lab.signal_baseline
        out = work / (f"run {index}" if index % 2 else "run")  # a space: the printed command must quote it
        args = ["run", *lab.tiny(), *SIGNAL_RUN, "--out", str(out)]
        # A random moment from the start to just after the baseline's end, half of them in the training itself.
        delay = moment * ended * 1.05 if index % 2 else appeared + moment * (ended - appeared)
        process = lab.runner.launch(args, work, fresh=True)
        while time.monotonic() - process.started < delay and process.poll() is None:
            time.sleep(0.01)
        process.send(getattr(signal, kind.split()[0]))
        if kind.endswith("x2"):
            time.sleep(gap)
            process.send(signal.SIGINT)
        first = process.wait(300)
        wrong = misleading(first.out, "run", args, out)  # checked now: its claims are about this moment
        procs, notes = follow_the_messages(lab, args, first, work)
        return after_a_stop(kind, first, procs, wrong + notes, folder_problems(out) +
                            state_differences(run_state(out, 40), want), f"after {delay:.1f} s")
    return run


EXPECTED_EXIT = {"SIGINT": (0, 1, 130), "SIGTERM": (0, 143, -15), "SIGKILL": (0, -9), "SIGINT x2": (0, 1, 130),
                 "disk": (0, 1)}


def after_a_stop(kind: str, first: Proc, procs: list[Proc], wrong: list[str], problems: list[str],
                 when: str) -> Outcome:
    """The verdict on a run stopped by a signal or a full disk and then continued as its messages say."""
    everything = [first, *procs]
    for proc in everything:
        if proc.traceback:
            return Outcome("traceback", traceback_line(proc.out), everything)
    if problems:
        return Outcome("silent-problem", "; ".join(problems), everything)
    if first.code not in EXPECTED_EXIT[kind]:
        wrong.append(f"exit {first.code} after {kind}")
    if wrong:
        return Outcome("misleading", "; ".join(wrong) + f" | {message_of(first.out)[:200]}", everything)
    said = re.search(r"Stopped at step \d+|while ganlab was starting|Aborted|Stopped at once|Could not write",
                     first.out)
    return Outcome("ok", f"exit {first.code} ({said.group(0) if said else 'no message'}) {when}; "
                         f"{len(procs)} follow-up(s); identical to the run done in one go", everything)


def disk_cases(lab: Lab, rng: random.Random) -> list[Case]:
    cases = []
    for size in (500, 2_000, 20_000, 150_000, 1_000_000, 10_000_000, 29_000_000, 60_000_000):
        cases.append(Case("disk", f"run with files limited to {size:,} bytes", disk_run(lab, size)))
    for size in (1_000, 100_000, 3_000_000):
        cases.append(Case("disk", f"sample --n 5000 --out x.npz with files limited to {size:,} bytes",
                          disk_reader(lab, "sample", size)))
    for size in (100, 1_000):
        cases.append(Case("disk", f"eval with files limited to {size:,} bytes", disk_reader(lab, "eval", size)))
    for size in (1_000, 1_000_000, 20_000_000):
        cases.append(Case("disk", f"run --resume with files limited to {size:,} bytes", disk_resume(lab, size)))
    return cases


def disk_run(lab: Lab, size: int) -> Callable[[Path], Outcome]:
    def run(work: Path) -> Outcome:
        want, _, _ = lab.signal_baseline
        out = work / "run"
        args = ["run", *lab.tiny(), *SIGNAL_RUN, "--out", str(out)]
        first = lab.runner.call(args, work, fsize=size)
        wrong = misleading(first.out, "run", args, out)
        if first.code != 0 and "Could not write" not in first.out:
            wrong.append("a full disk not named as such")
        procs, notes = follow_the_messages(lab, args, first, work)
        return after_a_stop("disk", first, procs, wrong + notes, folder_problems(out) +
                            state_differences(run_state(out, 40), want), "")
    return run


def disk_reader(lab: Lab, command: str, size: int) -> Callable[[Path], Outcome]:
    def run(work: Path) -> Outcome:
        folder = lab.clone(lab.base, work)
        before = (folder / "metrics.json").read_bytes()
        args = (["sample", folder, "--n", "5000", "--out", work / "x.npz"] if command == "sample"
                else ["eval", folder, "--n", "200"])
        proc = lab.runner.call(args, work, fsize=size)
        problems = [f"temporary file left: {p.name}" for p in work.rglob(".*.tmp")]
        if proc.code != 0 and (work / "x.npz").exists():
            problems.append("a failed sample left x.npz")
        if proc.code != 0 and (folder / "metrics.json").read_bytes() != before:
            problems.append("a failed eval changed metrics.json")
        if proc.code == 0 and command == "sample" and npz_arrays(work / "x.npz") is None:
            problems.append("x.npz is half-written")
        outcome = judge(proc, "either", problems, command=command, folder=folder)
        if outcome.verdict == "clean-error" and "Could not write" not in proc.out:
            return Outcome("misleading", f"a full disk not named as such: {outcome.note}", outcome.procs)
        return outcome
    return run


def disk_resume(lab: Lab, size: int) -> Callable[[Path], Outcome]:
    def run(work: Path) -> Outcome:
        want = lab.reference(lab.base, "resume")
        folder = lab.clone(lab.base, work)
        args = ["run", "--resume", str(folder), "--steps", str(RESUME_TO), "--quiet"]
        first = lab.runner.call(args, work, fsize=size)
        again = lab.runner.call(args, work, fresh=True) if first.code != 0 else None
        final = again or first
        problems = folder_problems(folder) + state_differences(run_state(folder, RESUME_TO), want)
        if final.code != 0:
            problems.append(f"the resume after the disk had room again failed: {message_of(final.out)[:150]}")
        outcome = judge(first, "either", problems, folder=folder, extra=[again] if again else [])
        if outcome.verdict == "clean-error" and "Could not write" not in first.out:
            return Outcome("misleading", f"a full disk not named as such: {outcome.note}", outcome.procs)
        return outcome
    return run


# ==================================================================================================
# Kind 5: a memory limit
# ==================================================================================================
def memory_floor(lab: Lab) -> int:
    """The smallest address-space limit (of a few tried) under which `ganlab --version` starts."""
    if "_floor" not in lab.__dict__:
        for megabytes in (600, 800, 1000, 1300, 1700, 2500):
            proc = lab.runner.call(["--version"], lab.root, memory=megabytes * 2**20)
            if proc.code == 0:
                lab.__dict__["_floor"] = megabytes * 2**20
                break
        else:
            raise SystemExit("ganlab does not start under a 2.5 GB address-space limit here")
    return lab.__dict__["_floor"]


def memory_cases(lab: Lab, rng: random.Random) -> list[Case]:
    def case(name: str, args: Callable[[Path], list], margin: int, command: str = "run", check_out: bool = False):
        def run(work: Path) -> Outcome:
            limit = memory_floor(lab) + margin * 2**20
            argv = [str(a) for a in args(work)]
            proc = lab.runner.call(argv, work, memory=limit, timeout=300)
            problems = [f"temporary file left: {p.name}" for p in work.rglob(".*.tmp")]
            if check_out and proc.code == 0 and npz_arrays(work / "x.npz") is None:
                problems.append("x.npz is half-written")
            if check_out and proc.code != 0 and (work / "x.npz").exists():
                problems.append("a failed sample left x.npz")
            problems += folder_problems(work / "run")
            outcome = judge(proc, "either", problems, command=command, stop_ok=True)
            outcome.note = f"[limit {limit / 2**20:.0f} MB] {outcome.note}"
            return outcome
        return Case("memory", f"{name} (address space: start + {margin} MB)", run)

    def tiny_run(*extra: str) -> Callable[[Path], list]:
        return lambda w: ["run", "--variant", "gan", *lab.tiny(), "--steps", "2", "--final-eval-samples", "0",
                          *extra, "--out", w / "run"]

    return [
        case("sample --n 200000 --out x.npz", lambda w: ["sample", lab.base, "--n", "200000", "--out", w / "x.npz"],
             300, "sample", True),
        case("sample --n 200000 --out x.npz", lambda w: ["sample", lab.base, "--n", "200000", "--out", w / "x.npz"],
             800, "sample", True),
        case("sample --n 2500 --out x.png", lambda w: ["sample", lab.base, "--n", "2500", "--out", w / "x.png"],
             300, "sample"),
        case("run --batch-size 100000", tiny_run("--batch-size", "100000"), 500),
        case("run --variant dcgan --batch-size 20000", tiny_run("--variant", "dcgan", "--batch-size", "20000"), 500),
        case("run --latent-dim 1000000", tiny_run("--latent-dim", "1000000"), 500),
        case("run --final-eval-samples 300000", lambda w: ["run", "--variant", "gan", *lab.tiny(), "--steps", "2",
                                                           "--final-eval-samples", "300000", "--out", w / "run"], 500),
        case("eval --n 300000", lambda w: ["eval", lab.clone(lab.base, w), "--n", "300000"], 300, "eval"),
        case("data show --n 100000", lambda w: ["data", "show", "mnist", "--data", lab.data, "--n", "100000",
                                                "--out", w / "x.png"], 300, "data show"),
    ]


# ==================================================================================================
# Kind 6: concurrent writers
# ==================================================================================================
def writer_cases(lab: Lab, rng: random.Random) -> list[Case]:
    cases = []
    for offset in (0.0, 0.0, 0.2, 1.0):
        cases.append(Case("writers", f"two runs on one --out, the second {offset:.1f} s later",
                          two_runs(lab, offset)))
    for moment in (rng.random() for _ in range(3)):
        cases.append(Case("writers", f"a resume of a run in progress at {moment:.2f} of it",
                          run_and_resume(lab, moment)))
    for offset in (0.0, 0.0, 0.5):
        cases.append(Case("writers", f"two resumes of one folder, {offset:.1f} s apart",
                          two_resumes(lab, offset, "resume")))
    for offset in (0.0, 2.0):
        cases.append(Case("writers", f"a resume and a sample of one folder, {offset:.1f} s apart",
                          two_resumes(lab, offset, "sample")))
    for offset in (0.0, 2.0):
        cases.append(Case("writers", f"a resume and an eval of one folder, {offset:.1f} s apart",
                          two_resumes(lab, offset, "eval")))
    return cases


def lost_race(proc: Proc) -> bool:
    return proc.code != 0 and not proc.traceback and (
        "Another ganlab process" in proc.out or "already holds a run" in proc.out)


def two_runs(lab: Lab, offset: float) -> Callable[[Path], Outcome]:
    def run(work: Path) -> Outcome:
        out = work / "same"
        args = [["run", *lab.tiny(), *SIGNAL_RUN[:-2], "--steps", "10", "--seed", str(seed), "--out", str(out)]
                for seed in (1, 2)]
        first = lab.runner.launch(args[0], work, fresh=True)
        time.sleep(offset)
        second = lab.runner.launch(args[1], work, fresh=True)
        procs = [first.wait(), second.wait()]
        winners = [i for i, p in enumerate(procs) if p.code == 0]
        problems = folder_problems(out)
        if len(winners) != 1 or not lost_race(procs[1 - winners[0]]):
            problems.append(f"exits {[p.code for p in procs]}: not exactly one run proceeding")
        elif json.loads((out / "config.json").read_text())["config"]["seed"] != winners[0] + 1:
            problems.append("config.json is not the winner's")
        outcome = judge(procs[0], "either", problems, extra=procs[1:])
        if outcome.verdict in ("ok", "clean-error"):
            loser = message_of(procs[1 - winners[0]].out)[:100]
            return Outcome("ok", f"run {winners[0] + 1} proceeded; the other: {loser}", procs)
        return outcome
    return run


def run_and_resume(lab: Lab, moment: float) -> Callable[[Path], Outcome]:
    def run(work: Path) -> Outcome:
        want, appeared, ended = lab.signal_baseline
        out = work / "run"
        writer = lab.runner.launch(["run", *lab.tiny(), *SIGNAL_RUN, "--out", str(out)], work, fresh=True)
        # Both start up alike, so the resume reaches the folder about when the run is at this moment of it.
        time.sleep(moment * (ended - appeared))
        resumer = lab.runner.launch(["run", "--resume", str(out), "--quiet"], work, fresh=True)
        procs = [writer.wait(), resumer.wait()]
        problems = folder_problems(out) + state_differences(run_state(out, 40), want)
        if procs[0].code != 0:
            problems.append(f"the run itself failed: {message_of(procs[0].out)[:150]}")
        outcome = judge(procs[1], "either", problems, extra=procs[:1], folder=out)
        if outcome.verdict in ("ok", "clean-error"):
            return Outcome("ok", f"resume: exit {procs[1].code} {message_of(procs[1].out)[:100]}; the run intact",
                           procs)
        return outcome
    return run


def two_resumes(lab: Lab, offset: float, other: str) -> Callable[[Path], Outcome]:
    """A resume of a folder stopped at step 20 (to 40), and at the same time another resume, a sample or
    an eval of it. The resumed run must equal the one done in one go; the other process succeeds (a
    reader) or is refused with a message (a second writer)."""
    def run(work: Path) -> Outcome:
        want, _, _ = lab.signal_baseline
        folder = lab.clone(lab.signal_half, work)
        resume = ["run", "--resume", str(folder), "--steps", "40", "--quiet"]
        second = {"resume": resume, "sample": ["sample", str(folder), "--out", str(work / "x.png")],
                  "eval": ["eval", str(folder), "--n", "100"]}[other]
        first = lab.runner.launch(resume, work, fresh=True)
        time.sleep(offset)
        then = lab.runner.launch(second, work, fresh=True)
        procs = [first.wait(), then.wait()]
        # The writer's result is compared without metrics.json: the concurrent eval writes one of its own.
        problems = folder_problems(folder) + [d for d in state_differences(run_state(folder, 40), want)
                                              if not (other == "eval" and "metrics.json" in d)]
        codes = [p.code for p in procs]
        if other == "resume" and sorted(codes) != [0, 0] and not (codes[0] + codes[1] and any(map(lost_race, procs))):
            problems.append(f"exits {codes}: not exactly one resume proceeding")
        if other != "resume" and procs[0].code != 0:
            problems.append(f"the resume failed beside a {other}: {message_of(procs[0].out)[:150]}")
        outcome = judge(procs[1], "either", problems, command=other if other != "resume" else "run",
                        extra=procs[:1], folder=folder)
        if outcome.verdict in ("ok", "clean-error"):
            return Outcome("ok", f"exits {codes}: {message_of(procs[1].out)[:100]}", procs)
        return outcome
    return run


# ==================================================================================================
# Running it all
# ==================================================================================================
BUILDERS = {"options": option_cases, "files": file_cases, "signals": signal_cases, "disk": disk_cases,
            "memory": memory_cases, "writers": writer_cases}


def select(cases: list[Case], count: int) -> list[Case]:
    """``count`` cases spread evenly over the list (the same ones every time)."""
    if count >= len(cases):
        return cases
    step = len(cases) / count
    return [cases[int(i * step)] for i in range(count)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about 40 representative cases")
    parser.add_argument("--out", type=Path, help="working folder (default: a new temporary folder)")
    parser.add_argument("--json", type=Path, help="write every case and the counts to this file")
    parser.add_argument("--seed", type=int, default=13, help="draws the damages and the moments of the signals")
    parser.add_argument("--only", default=",".join(KINDS), help=f"kinds to run, of {', '.join(KINDS)}")
    parser.add_argument("--match", default="", help="only the cases whose name matches this regular expression")
    parser.add_argument("--fresh", action="store_true", help="a fresh interpreter for every case (slower)")
    parser.add_argument("--keep", action="store_true", help="keep every case's working folder")
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown kind(s) {', '.join(sorted(unknown))}; choose from {', '.join(KINDS)}")
    root = args.out or Path(tempfile.mkdtemp(prefix="ganlab-attack-"))
    lab = Lab(root.resolve(), Runner(args.fresh))
    began = time.monotonic()
    print(f"ganlab attack, seed {args.seed}, in {lab.root}", flush=True)
    results = []
    for kind in kinds:
        cases = BUILDERS[kind](lab, random.Random(f"{args.seed}-{kind}"))
        cases = [c for c in cases if re.search(args.match, c.name)]
        if args.quick:
            cases = select(cases, QUICK[kind])
        for case in cases:
            work = lab.case_dir(kind)
            started = time.monotonic()
            try:
                outcome = case.run(work)
            except Exception as exc:  # a bug of the harness itself: say so, and go on
                outcome = Outcome("harness-error", f"{type(exc).__name__}: {exc} ({traceback.format_exc(limit=-2)})")
            seconds = time.monotonic() - started
            print(f"[{kind:7}] {outcome.verdict:14} {case.name} ({seconds:.1f} s)"
                  f"{'  -- ' + outcome.note[:400] if outcome.note and outcome.verdict != 'ok' else ''}", flush=True)
            results.append({"kind": kind, "name": case.name, "verdict": outcome.verdict, "note": outcome.note,
                            "seconds": round(seconds, 1), "processes": [p.summary() for p in outcome.procs]})
            if not args.keep and outcome.verdict in ("ok", "clean-error"):
                shutil.rmtree(work, ignore_errors=True)
    total = time.monotonic() - began
    table = summary(results, kinds)
    print(table)
    print(f"{len(results)} cases in {total / 60:.1f} min; working folder {lab.root}")
    if args.json:
        args.json.write_text(json.dumps({"seed": args.seed, "quick": args.quick, "minutes": round(total / 60, 1),
                                         "counts": counts(results, kinds), "cases": results}, indent=1))
    return 0 if all(r["verdict"] in ("ok", "clean-error") for r in results) else 1


def counts(results: list[dict], kinds: list[str]) -> dict:
    table = {}
    for kind in [*kinds, "total"]:
        rows = [r for r in results if kind in ("total", r["kind"])]
        tally = Counter(r["verdict"] for r in rows)
        table[kind] = {"cases": len(rows), **{v: tally.get(v, 0) for v in VERDICTS}}
        if tally.get("harness-error"):
            table[kind]["harness-error"] = tally["harness-error"]
    return table


def summary(results: list[dict], kinds: list[str]) -> str:
    columns = ("cases", *VERDICTS)
    lines = [f"{'kind':10}" + "".join(f"{c:>16}" for c in columns)]
    for kind, row in counts(results, kinds).items():
        lines.append(f"{kind:10}" + "".join(f"{row.get(c, 0):>16}" for c in columns)
                     + (f"   harness errors: {row['harness-error']}" if row.get("harness-error") else ""))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
