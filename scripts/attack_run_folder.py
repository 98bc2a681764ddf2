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
import json  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

from attack.files import file_cases  # noqa: E402  (these import torch)
from attack.lab import Case, Lab  # noqa: E402
from attack.options import option_cases  # noqa: E402
from attack.processes import Runner  # noqa: E402
from attack.stops import disk_cases, memory_cases, signal_cases  # noqa: E402
from attack.verdicts import VERDICTS, Outcome  # noqa: E402
from attack.writers import writer_cases  # noqa: E402

KINDS = ("options", "files", "signals", "disk", "memory", "writers")
QUICK = {"options": 14, "files": 14, "signals": 4, "disk": 3, "memory": 2, "writers": 3}  # cases per kind

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
