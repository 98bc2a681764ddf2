"""Kinds 3, 4 and 5: signals at random moments, a full disk, a memory limit; then what a learner does next."""
from __future__ import annotations

import random
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

from attack.folders import folder_problems, npz_arrays, run_state, state_differences
from attack.lab import RESUME_TO, SIGNAL_RUN, Case, Lab
from attack.processes import Proc
from attack.verdicts import Outcome, judge, message_of, misleading, suggested_commands, traceback_or_problem


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


# 128 + N, or killed by signal N (-N here; a shell shows 128 + N too); 1 is click's "Aborted!"; 0 if it ended first
EXPECTED_EXIT = {"SIGINT": (0, 1, 130, -2), "SIGTERM": (0, 143, -15), "SIGKILL": (0, -9), "SIGINT x2": (0, 1, 130, -2),
                 "disk": (0, 1)}


def after_a_stop(kind: str, first: Proc, procs: list[Proc], wrong: list[str], problems: list[str],
                 when: str) -> Outcome:
    """The verdict on a run stopped by a signal or a full disk and then continued as its messages say."""
    everything = [first, *procs]
    worst = traceback_or_problem(everything, problems)
    if worst:
        return worst
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
        case("data show --n 200", lambda w: ["data", "show", "mnist", "--data", lab.data, "--n", "200",
                                                "--out", w / "x.png"], 300, "data show"),
    ]
