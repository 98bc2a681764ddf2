"""Several trainings at once, each in its own process with its share of the CPU cores.

PyTorch runs a CPU step on as many threads as the machine has cores. Two trainings started side by
side therefore each start that many threads on the same cores; the threads wait for each other at
every operation, and on a 2-core machine three or four such runs went about 10x slower *each* than one
alone (measured: benchmarks/concurrent_runs.py). Splitting the cores fixes it: N runs with
``cores // N`` threads each. :func:`run_in_parallel` does that for ``ganlab compare --jobs N``, and
:func:`busy_cpu_note` warns when a run starts on cores that are already busy.
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from ganlab.errors import GanlabError


def cores() -> int:
    """The cores this process may use (its CPU affinity where the OS says, else all)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def threads_per_job(jobs: int) -> int:
    """Each of ``jobs`` concurrent runs gets this many threads, so that together they fill the cores once."""
    return max(1, cores() // jobs)


def busy_cpu_note(threads: int) -> str | None:
    """A warning when this run would start its threads on cores that other programs already keep busy."""
    try:
        load = os.getloadavg()[0]  # processes running or waiting, averaged over the last minute
    except (AttributeError, OSError):  # not on every OS
        return None
    if threads or load < cores() - 0.5:
        return None
    return (f"note: the CPU is already busy (load {load:.1f} on {cores()} cores). Trainings that share cores "
            f"each run {cores()} threads and slow each other down many times over; give each --threads "
            f"{threads_per_job(max(2, round(load) + 1))} (or set OMP_NUM_THREADS), or let `ganlab compare "
            f"--jobs N` split the cores for you.")


def run_in_parallel(commands: Sequence[list[str]], jobs: int, threads: int, quiet: bool = False) -> None:
    """Run each ``ganlab`` command line (without the leading ``ganlab``) in its own process, ``jobs`` at
    a time, each with ``--threads threads``; raise one message naming every command that failed."""
    def run_one(arguments: list[str]) -> tuple[list[str], subprocess.CompletedProcess]:
        command = [sys.executable, "-m", "ganlab", *arguments, "--threads", str(threads)]
        environment = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        done = subprocess.run(command, capture_output=True, text=True, env=environment)
        if not quiet:
            print(f"{'finished' if done.returncode == 0 else 'FAILED'}: ganlab {' '.join(arguments)}", flush=True)
        return arguments, done

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(run_one, commands))
    failed = [(arguments, done) for arguments, done in results if done.returncode != 0]
    if failed:
        details = "; ".join(f"`ganlab {' '.join(arguments)}` ({last_line(done.stderr)})" for arguments, done in failed)
        raise GanlabError(f"{len(failed)} of {len(results)} trainings failed: {details}. Run one of them alone to "
                          f"see its whole output.")


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
