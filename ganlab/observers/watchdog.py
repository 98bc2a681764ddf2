"""Catching a GAN that has stopped learning, written as an ordinary observer plugin.

The classic failure: the discriminator becomes near-perfect (it tells every real from every fake
sample), its gradients to the generator vanish, and the hour of training that follows is wasted. When
D's accuracy on both real and fake samples stays at or above ``accuracy`` for ``patience`` steps in a
row, the watchdog warns once: on stderr, in the progress line, and in ``events.log``. Its streak is
kept in checkpoints, so a resumed run warns exactly when an uninterrupted one would.
"""
from __future__ import annotations

import sys

from ganlab.hookspecs import hookimpl

STATE_KEY = "watchdog"


class DiscriminatorWatchdog:
    def __init__(self, patience: int = 2000, accuracy: float = 0.99, stream=None):
        self.patience = patience
        self.accuracy = accuracy
        self.stream = stream
        self.streak = 0  # consecutive steps with a near-perfect discriminator
        self.warned = False

    @hookimpl
    def ganlab_step_end(self, run, step, records):
        for record in records:
            perfect = min(record["d_real_acc"], record["d_fake_acc"]) >= self.accuracy
            self.streak = self.streak + 1 if perfect else 0
            if self.streak >= self.patience and not self.warned:
                self.warn(run, record["step"])

    @hookimpl
    def ganlab_checkpoint_state(self):
        return {STATE_KEY: {"streak": self.streak, "warned": self.warned}}

    @hookimpl
    def ganlab_restore_state(self, state):
        saved = state.get(STATE_KEY, {})
        self.streak, self.warned = int(saved.get("streak", 0)), bool(saved.get("warned", False))

    def warn(self, run, step):
        self.warned = True
        message = (f"warning: at step {step} the discriminator has been near-perfect (accuracy >= "
                   f"{self.accuracy:.0%} on real and fake) for {self.streak} steps: the generator is "
                   f"probably no longer learning. Usual fixes: a lower D learning rate, more dropout "
                   f"in D (--set d_dropout=...), or a different loss (e.g. wgan-gp or hinge).")
        run.note("D near-perfect")
        print(message, file=self.stream or sys.stderr, flush=True)
        if run.folder:
            run.folder.log_event(message)
