"""Kind 6: two ganlab processes on one run folder at once."""
from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path

from attack.folders import folder_problems, run_state, state_differences
from attack.lab import SIGNAL_RUN, Case, Lab
from attack.processes import Proc
from attack.verdicts import Outcome, judge, message_of


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
