"""How much faster do N processes train one run than one process? ``ganlab run`` against ``torchrun``.

    python benchmarks/processes.py [--variant cgan] [--batch-sizes 32,256] [--steps 300] [--processes 2]
                                   [--rounds 3] [--device cpu] [--threads N] [--json FILE]

Each measurement is a real ``ganlab run`` of the same global batch: one process with every thread,
then ``torchrun --standalone --nproc-per-node=N`` with threads/N each (``OMP_NUM_THREADS``), in
alternating rounds, so that a machine whose load changes hits both alike. The throughput is read from
the run's own progress lines, between the run's first tenth and its end, so start-up (importing torch,
the rendezvous, loading MNIST) and the first steps' warm-up are left out, and so are the final
checkpoint and grid. samples/s counts the real images the discriminator sees: batch x D steps.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

PROGRESS = re.compile(r"^step\s+(\d+)/(\d+)\s+([\d.]+) steps/s", re.MULTILINE)


def ganlab_run(processes: int, threads: int, variant: str, batch_size: int, steps: int, device: str,
               out: str) -> float:
    """Steps per second of one ``ganlab run`` on ``processes`` processes of ``threads`` threads each."""
    args = ["run", "--variant", variant, "--steps", str(steps), "--batch-size", str(batch_size), "--seed", "0",
            "--device", device, "--log-every", str(max(1, steps // 20)), "--sample-every", str(steps + 1),
            "--checkpoint-every", "0", "--final-eval-samples", "0", "--watchdog-steps", "0", "--out", out]
    launcher = [sys.executable, "-m", "ganlab"] if processes == 1 else \
        [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}", "-m", "ganlab"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    result = subprocess.run(launcher + args, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(launcher + args)} failed:\n{result.stderr[-3000:]}")
    return steady_rate(result.stdout)


def steady_rate(output: str) -> float:
    """Steps per second between the first progress line and the last (each line: steps done / rate so far)."""
    lines = [(int(step), float(rate)) for step, _, rate in PROGRESS.findall(output)]
    (first, first_rate), (last, last_rate) = lines[0], lines[-1]
    seconds = last / last_rate - first / first_rate  # each line's rate is steps so far / seconds so far
    return (last - first) / seconds


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="cgan")
    parser.add_argument("--batch-sizes", default="32,256")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads of the one process")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    d_steps = 1  # gan, cgan, dcgan; wgan-gp's n_critic would multiply the samples
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for batch_size in map(int, args.batch_sizes.split(",")):
            rates: dict[int, list[float]] = {1: [], args.processes: []}
            for round_ in range(args.rounds):
                for processes in rates:
                    threads = max(1, args.threads // processes)
                    out = os.path.join(scratch, f"b{batch_size}-p{processes}-r{round_}")
                    rates[processes].append(ganlab_run(processes, threads, args.variant, batch_size, args.steps,
                                                       args.device, out))
            for processes, values in rates.items():
                median = statistics.median(values)
                rows.append({"variant": args.variant, "batch_size": batch_size, "device": args.device,
                             "processes": processes, "threads_each": max(1, args.threads // processes),
                             "steps_per_s": median, "samples_per_s": median * batch_size * d_steps,
                             "rounds": values})
    print(f"{'variant':<8} {'batch':>5} {'processes':>9} {'threads':>7} {'steps/s':>8} {'samples/s':>9}  rounds")
    for r in rows:
        print(f"{r['variant']:<8} {r['batch_size']:>5} {r['processes']:>9} {r['threads_each']:>7} "
              f"{r['steps_per_s']:>8.1f} {r['samples_per_s']:>9.0f}  {', '.join(f'{v:.1f}' for v in r['rounds'])}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main()
