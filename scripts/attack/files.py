"""Kind 2: a trained tiny run folder, damaged file by file, then sample/eval/resume/compare on it."""
from __future__ import annotations

import json
import os
import random
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from attack.folders import folder_problems, put, saved_bytes
from attack.lab import COMMANDS, RESULTS, Case, Lab, result_differs
from attack.verdicts import Outcome, judge, message_of, suggested_commands
from ganlab.config import RESUMABLE_SETTINGS, RunConfig

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
    # A setting a resume may change (ganlab.config.RESUMABLE_SETTINGS): a resume that follows the edited
    # value is right, so only its weights and loss log must equal the intact folder's.
    resumable: bool = False
    differs: tuple[str, ...] = ()  # commands whose result rightly differs from the intact folder's
    warning: str = ""  # a note that, when ganlab prints it, makes a different result a told one


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
        found[-1].resumable = field_name in RESUMABLE_SETTINGS
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
        shown = " ".join(f"{type(value).__name__} {value!r}".split())  # a tensor's repr is several lines
        add(f"{ckpt} {label} = {shown}"[:90], checkpoint(replaced(keys, value)),
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
        found[-1].warning = "has no rows for steps"  # the rows the checkpoint committed are gone: say so
        found[-1].differs = ("compare",) if "past the checkpoint" in label or "only the header" in label else ()
    add("losses.csv truncated mid-row", truncated("losses.csv", lambda n: n - 7), ("losses.csv",),
        ("resume", "compare"))
    add("losses.csv is binary", written("losses.csv", b"\xff\xfe\x00\x81" * 10), ("losses.csv",), ("resume", "compare"))
    add("losses.csv removed", lambda folder: (folder / "losses.csv").unlink(), ("losses.csv",), ("resume", "compare"))
    found[-1].warning, found[-1].differs = "has no rows for steps", ("compare",)  # the sanctioned way out
    for label, change in (("a row of text", lambda ls: [*ls, "abc,1,1"]), ("only the header", lambda ls: ls[:1]),
                          ("another header", lambda ls: ["a,b,c", *ls[1:]])):
        add(f"metrics.csv with {label}", lines("metrics.csv", change), ("metrics.csv",), ("resume", "compare"))
        # An emptied curve is continued without a word: ganlab does not know which evaluations there were
        # (--eval-every may change on a resume). Counted as right here; the report names it as left.
        found[-1].differs = ("resume", "compare") if label == "only the header" else ()
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
        found[-1].warning = "changed since the run wrote config.json"  # an edited plugin may change the run
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
            got = RESULTS[command](folder, work)
            if damage.resumable and command == "resume":
                got, want = {**got, "curve": None, "metrics": None}, {**want, "curve": None, "metrics": None}
            problems += result_differs(command, got, want)
        if command in damage.differs or (damage.warning and damage.warning in proc.out):
            problems = []  # a result that rightly differs, or whose difference ganlab announced
        # Temporary files left by this command (the planted one of a damage only a writer must remove).
        stale = [p.name for p in work.rglob(".*.tmp") if command == "resume" or "abc123" not in p.name]
        if stale and not (command == "resume" and proc.code != 0 and "abc123" in "".join(stale)):
            problems.append(f"temporary file(s) left: {', '.join(stale)}")
        if command == "resume" and proc.code == 0:
            problems += [p for p in folder_problems(folder) if "temporary" not in p
                         and not (damage.warning in proc.out and "losses.csv" in p)]
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
