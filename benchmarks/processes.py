"""How much faster do N processes train one run than one process? ``ganlab run`` against ``torchrun``.

    python benchmarks/processes.py [--variant cgan] [--batch-sizes 32,256] [--steps 300] [--processes 2]
                                   [--rounds 3] [--device cpu] [--threads N] [--json FILE]

Each measurement is a real ``ganlab run`` of the same global batch: one process with every thread,
then ``torchrun --standalone --nproc-per-node=N`` with threads/N each (``OMP_NUM_THREADS``), in
alternating rounds, so that a machine whose load changes hits both alike. The throughput is read from
the run's own progress lines, between the run's first tenth and its end, so start-up (importing torch,
the rendezvous, loading MNIST) and the first steps' warm-up are left out, and so are the final
checkpoint and grid. samples/s counts the real images the discriminator sees: batch x D steps.

It also times what the processes add to each step: the all-reduce of one step's gradients (for
cgan, G once and D twice: 3.36 M floats, 13.4 MB) between the processes, alone (``--device cpu``).
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
import time

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


def allreduce_worker(rank: int, size: int, port: int, numel: int, repeats: int, out: str) -> None:
    """One process of the all-reduce timing: gloo, as ``torchrun`` on CPUs would give it."""
    import torch
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=size)
    grads = torch.randn(numel)
    dist.all_reduce(grads)  # warm-up: the connections
    dist.barrier()
    started = time.perf_counter()
    for _ in range(repeats):
        dist.all_reduce(grads)
    if rank == 0:
        with open(out, "w") as handle:
            handle.write(str((time.perf_counter() - started) / repeats * 1000))
    dist.destroy_process_group()


def allreduce_ms(numel: int, processes: int, repeats: int = 20) -> float:
    """Milliseconds of one gloo all-reduce of ``numel`` floats between ``processes`` local processes."""
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s, tempfile.TemporaryDirectory() as scratch:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        out = os.path.join(scratch, "ms")
        mp.start_processes(allreduce_worker, args=(processes, port, numel, repeats, out), nprocs=processes,
                           start_method="spawn")
        with open(out) as handle:
            return float(handle.read())


def gradient_floats(variant: str) -> int:
    """Floats all-reduced per step: G's parameters once, D's once per D optimizer step."""
    from ganlab import RunConfig, load_dataset, make_plugin_manager, prepare

    run = prepare(RunConfig(variant=variant, seed=0, device="cpu"), load_dataset("mnist").spec,
                  make_plugin_manager(variant))
    d_steps = int(run.pm.hook.ganlab_discriminator_steps(config=run.config))
    d_updates = d_steps * (2 if run.config.d_update == "separate" else 1)
    count = lambda net: sum(p.numel() for p in net.parameters() if p.requires_grad)  # noqa: E731
    return count(run.generator) + d_updates * count(run.discriminator)


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
    parser.add_argument("--allreduce-only", action="store_true", help="only time the gradients' all-reduce")
    args = parser.parse_args(argv)
    if args.device == "cpu":
        floats = gradient_floats(args.variant)
        ms = allreduce_ms(floats, args.processes)
        print(f"gloo all-reduce of one {args.variant} step's gradients ({floats / 1e6:.2f} M floats, "
              f"{floats * 4 / 1e6:.1f} MB) between {args.processes} processes: {ms:.2f} ms")
        if args.allreduce_only:
            return
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
