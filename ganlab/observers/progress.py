"""The progress display, written as an ordinary observer plugin.

On a terminal it redraws one line: a bar, steps/s and the latest losses. When stdout is a file or a
pipe (CI, ``nohup``) it prints a plain line every tenth of the run instead.
"""
from __future__ import annotations

import sys
import time

from ganlab.hookspecs import hookimpl


class ProgressPrinter:
    def __init__(self, stream=None):
        self.stream = stream or sys.stdout
        self.is_terminal = self.stream.isatty()
        self.started = 0.0
        self.first_step = 0
        self.last_printed_step = 0

    @hookimpl
    def ganlab_train_start(self, run):
        self.started = time.perf_counter()
        self.first_step = self.last_printed_step = run.step
        where = f" into {run.folder.path}" if run.folder else ""
        sampling = "" if run.sampling_name == "generator" else f"; samples from the {run.sampling_name} generator"
        print(f"Training {run.config.variant} on {run.spec.name} ({run.device_note}): "
              f"steps {run.step + 1}..{run.config.steps}, batch {run.config.batch_size}{where}{sampling}",
              file=self.stream, flush=True)

    @hookimpl
    def ganlab_step_end(self, run, step, records):
        total = run.config.steps
        every = max(1, total // 10)
        if not self.is_terminal and step < total and step - self.last_printed_step < every:
            return
        self.last_printed_step = step
        elapsed = time.perf_counter() - self.started
        rate = (step - self.first_step) / elapsed if elapsed > 0 else 0.0
        last = records[-1]
        text = (f"step {step:>6}/{total}  {rate:6.1f} steps/s  d_loss {last['d_loss']:.3f}  "
                f"g_loss {last['g_loss']:.3f}  D acc real {last['d_real_acc']:.2f} "
                f"fake {last['d_fake_acc']:.2f}")
        if run.notes:
            text += f"  [{'; '.join(run.notes)}]"
        if self.is_terminal:
            filled = int(30 * step / total)
            print(f"\r[{'#' * filled}{'.' * (30 - filled)}] {text}", end="", file=self.stream, flush=True)
        else:
            print(text, file=self.stream, flush=True)

    @hookimpl
    def ganlab_train_end(self, run, outcome):
        if self.is_terminal:
            print(file=self.stream)
        elapsed = time.perf_counter() - self.started
        done = run.step - self.first_step
        ms = 1000 * elapsed / done if done else 0.0
        print(f"Training {outcome} at step {run.step} after {elapsed:.1f} s ({ms:.2f} ms/step).",
              file=self.stream, flush=True)
