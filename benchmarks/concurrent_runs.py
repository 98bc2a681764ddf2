"""Several trainings at once on one machine: total throughput with torch's default threads, and with
the cores split between them (``--threads``, what ``ganlab compare --jobs N`` does).

Each training is a separate ``ganlab run`` process, as when a learner compares variants in two
terminals. For N = 1, 2, 4 trainings started together, each way, it prints the wall time until the
last one ends, the total steps per second of all of them, and each one's ms per step, and writes
every figure as JSON (``--out``). Times are the training loops' own (``train_seconds`` in each run's
metrics.json), without the few seconds each process takes to start and load MNIST. Run it on a quiet
machine: other work shares the cores too.

    python benchmarks/concurrent_runs.py --steps 500 --out benchmarks/results-concurrent-cpu.json
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from ganlab.jobs import cores


def start(out: Path, steps: int, threads: int | None, variant: str, seed: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "ganlab", "run", "--variant", variant, "--steps", str(steps), "--seed",
               str(seed), "--final-eval-samples", "2", "--eval-every", "0", "--checkpoint-every", str(steps),
               "--sample-every", str(steps), "--device", "cpu", "--quiet", "--out", str(out)]
    if threads is not None:
        command += ["--threads", str(threads)]
    environment = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}  # torch's own default
    return subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def measure(count: int, split: bool, steps: int, variant: str, folder: Path) -> dict:
    """Start ``count`` trainings together; return the wall time and each one's ms per step."""
    threads = max(1, cores() // count) if split else None
    started = time.perf_counter()
    processes = [start(folder / f"{count}-{split}-{i}", steps, threads, variant, seed=i) for i in range(count)]
    training_seconds = []
    for i, process in enumerate(processes):
        output, _ = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"a training failed:\n{output}")
        # the training loop's own time (the final evaluation of 2 samples records it), without start-up
        metrics = json.loads((folder / f"{count}-{split}-{i}" / "metrics.json").read_text())
        training_seconds.append(metrics["train_seconds"])
    wall = time.perf_counter() - started
    slowest = max(training_seconds)
    return {"trainings": count, "threads_each": threads or torch.get_num_threads(), "split": split,
            "wall_seconds_with_start_up": round(wall, 2), "training_seconds_slowest": slowest,
            "total_steps_per_second": round(count * steps / slowest, 1),
            "ms_per_step_each": [round(1000 * seconds / steps, 1) for seconds in training_seconds]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500, help="steps of each training")
    parser.add_argument("--variant", default="cgan")
    parser.add_argument("--counts", default="1,2,4", help="trainings at once, comma-separated")
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    print(f"{cores()} cores, torch {torch.__version__}, default threads {torch.get_num_threads()}, "
          f"load average {load:.2f} at the start{' (busy: the figures will be low)' if load > 0.5 else ''}")
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for count in map(int, args.counts.split(",")):
            for split in (False, True):
                if count == 1 and split and cores() == torch.get_num_threads():
                    continue  # one training: the split is the default
                result = measure(count, split, args.steps, args.variant, Path(scratch))
                results.append(result)
    alone = results[0]["total_steps_per_second"]
    print(f"\n{args.variant}, {args.steps} steps each\n")
    print("| trainings | threads each | training s (slowest) | total steps/s | vs one alone | ms/step each |")
    print("|---|---|---|---|---|---|")
    for r in results:
        each = ", ".join(f"{ms:g}" for ms in r["ms_per_step_each"])
        way = f"{r['threads_each']} ({'split' if r['split'] else 'default'})"
        print(f"| {r['trainings']} | {way} | {r['training_seconds_slowest']} | {r['total_steps_per_second']} | "
              f"{r['total_steps_per_second'] / alone:.2f}x | {each} |")
    if args.out:
        args.out.write_text(json.dumps({"cores": cores(), "torch": torch.__version__, "load_at_start": load,
                                        "variant": args.variant, "steps": args.steps, "results": results},
                                       indent=1) + "\n")
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
