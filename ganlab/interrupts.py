"""Stopping a run cleanly: the first Ctrl-C (or SIGTERM) asks the loop to stop after the current step.

Stopping *between* steps matters: a checkpoint taken in the middle of a step (D updated, G not yet)
could not be resumed exactly. A second Ctrl-C stops at once; the last checkpoint on disk is intact,
because every checkpoint is written atomically.
"""
from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator


class StopRequest:
    """``requested``: a signal came. ``agreed``: several processes decided together to stop (they must
    stop at the same step; see :func:`ganlab.trainer.stopping`).

    :param when: when the run will stop, for the message (``"after this step"``).
    :param quiet: print nothing (the processes other than rank 0 under torchrun).
    """

    def __init__(self, when: str = "after this step", quiet: bool = False) -> None:
        self.requested = False
        self.agreed = False
        self.signal_name = ""
        self.when, self.quiet = when, quiet

    def _handle(self, signum, frame) -> None:
        if self.requested:  # the second time: stop now
            raise KeyboardInterrupt
        self.requested = True
        self.signal_name = signal.Signals(signum).name
        if not self.quiet:
            print(f"\n{self.signal_name} received: stopping {self.when} and saving a checkpoint "
                  f"(press Ctrl-C again to stop at once).", file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopRequest]:
        """Catch SIGINT and SIGTERM while the block runs (only possible in the main thread)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
