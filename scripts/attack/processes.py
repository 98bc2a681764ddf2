"""Starting ganlab processes for the attack: warm (forked from the harness) or fresh, with limits."""
from __future__ import annotations

import os
import resource
import runpy
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PYTHON = sys.executable
BIN = str(Path(sys.executable).parent)  # where the `ganlab` script of this environment is
TRACEBACK = "Traceback (most recent call last)"

@dataclass
class Proc:
    """A finished process: its command, exit status (-N: killed by signal N), output and time."""

    args: list[str]
    code: int
    out: str  # stdout, then stderr
    seconds: float
    timed_out: bool = False  # the harness had to stop it (SIGINT at the deadline, SIGKILL a minute later)

    @property
    def traceback(self) -> bool:
        return TRACEBACK in self.out

    def summary(self) -> dict:
        return {"args": self.args, "exit": self.code, "seconds": round(self.seconds, 1),
                "timed_out": self.timed_out, "output_tail": self.out[-1500:]}


class Launched:
    """A running process started by :class:`Runner`."""

    def __init__(self, pid: int, args: list[str], out, err):
        self.pid, self.args, self._out, self._err = pid, args, out, err
        self.started = time.monotonic()
        self.code: int | None = None

    def poll(self) -> int | None:
        if self.code is None:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.code = os.waitstatus_to_exitcode(status)
        return self.code

    def send(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def wait(self, timeout: float = 240) -> Proc:
        """Wait for the end; at ``timeout`` seconds after the start send SIGINT, a minute later SIGKILL."""
        deadline, timed_out = self.started + timeout, False
        while self.poll() is None:
            if time.monotonic() > deadline:
                self.send(signal.SIGKILL if timed_out else signal.SIGINT)
                deadline, timed_out = time.monotonic() + 60, True
            time.sleep(0.05)
        text = []
        for handle in (self._out, self._err):
            handle.seek(0)
            text.append(handle.read().decode("utf-8", "replace"))
            handle.close()
        assert self.code is not None
        return Proc(self.args, self.code, "".join(text), time.monotonic() - self.started, timed_out)


def run_ganlab_here(args: list[str]) -> int:
    """In a forked child: what ``python -m ganlab ARGS`` does, with ganlab already imported."""
    sys.argv = ["ganlab", *args]
    try:
        runpy.run_module("ganlab", run_name="__main__", alter_sys=True)
        return 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException:  # what the interpreter prints for an uncaught exception
        traceback.print_exc()
        return 1


class Runner:
    """Starts ganlab processes: warm (forked from this interpreter) or fresh (``python -m ganlab``), or a
    shell command line (a pasted command), each with optional file-size and address-space limits."""

    def __init__(self, fresh_only: bool = False):
        self.fresh_only = fresh_only
        self.env = {**os.environ, "OMP_NUM_THREADS": "1", "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
        self.env.pop("GANLAB_TRUST_RUN_PLUGINS", None)

    def launch(self, args: list[str], cwd: Path, *, fresh: bool = False, shell: str | None = None,
               fsize: int | None = None, memory: int | None = None) -> Launched:
        warm = not (fresh or self.fresh_only or shell or memory or fsize)
        out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        sys.stdout.flush(), sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 127
            try:
                os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
                os.dup2(out.fileno(), 1), os.dup2(err.fileno(), 2)
                os.chdir(cwd)
                os.setpgid(0, 0)  # its own process group: a signal to it never reaches the harness
                if fsize is not None:
                    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
                if memory is not None:
                    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
                if shell is not None:
                    os.execve("/bin/bash", ["bash", "-c", shell], self.env)
                elif not warm:
                    os.execve(PYTHON, [PYTHON, "-m", "ganlab", *args], self.env)
                os.environ.clear()
                os.environ.update(self.env)
                code = run_ganlab_here(args)
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush(), sys.stderr.flush()
                os._exit(code)
        return Launched(pid, [shell] if shell is not None else list(args), out, err)

    def call(self, args: list[str], cwd: Path, timeout: float = 240, **options: Any) -> Proc:
        return self.launch([str(a) for a in args], cwd, **options).wait(timeout)

    def paste(self, command: str, cwd: Path, timeout: float = 300) -> Proc:
        """A command as a learner pastes it into a shell."""
        return self.launch([], cwd, shell=command).wait(timeout)
