"""The attack's lab: data, tiny trained runs, and what the intact folders give."""
from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from attack.folders import npz_arrays, run_state, same_arrays, state_differences
from attack.processes import Runner
from attack.verdicts import Outcome

MNIST_CACHE = Path.home() / ".cache" / "ganlab" / "mnist.npz"
TINY = ["--data", "{data}", "--batch-size", "8", "--device", "cpu", "--quiet"]
BASE = ["--variant", "gan", "--steps", "10", "--checkpoint-every", "5", "--log-every", "2", "--sample-every", "5",
        "--eval-every", "5", "--eval-samples", "100", "--final-eval-samples", "200", "--seed", "1"]
SIGNAL_RUN = ["--variant", "gan", "--steps", "40", "--checkpoint-every", "10", "--log-every", "5",
              "--sample-every", "20", "--final-eval-samples", "0", "--seed", "3"]
RESUME_TO = 15  # damaged-folder resumes continue the base run (10 steps) to this step
PLUGIN = '''"""A least-squares loss for G, a plugin the run folder carries (Mao et al. 2017)."""
import ganlab


@ganlab.hookimpl
def ganlab_generator_loss(scores):
    return ((scores - 1) ** 2).mean()
'''


class Lab:
    """The attack's working folder: data files, tiny trained runs, and the intact folders' results."""

    def __init__(self, root: Path, runner: Runner):
        self.root, self.runner = root, runner
        self.counter = 0
        (root / "cases").mkdir(parents=True, exist_ok=True)

    def case_dir(self, kind: str) -> Path:
        self.counter += 1
        path = self.root / "cases" / f"{self.counter:04d}-{kind}"
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def tiny(self) -> list[str]:
        return [a.replace("{data}", str(self.data)) for a in TINY]

    def train(self, name: str, args: list[str], fresh: bool = False) -> Path:
        """A run of ``args`` into ``<root>/<name>`` (once; reused by later calls)."""
        out = self.root / name
        if (out / "checkpoints").is_dir() and any((out / "checkpoints").iterdir()) and (out / "losses.csv").exists():
            return out
        shutil.rmtree(out, ignore_errors=True)
        proc = self.runner.call(["run", *self.tiny(), *args, "--out", out], self.root, fresh=fresh)
        if proc.code != 0:
            raise SystemExit(f"could not train the fixture {name}: {proc.out[-2000:]}")
        return out

    # ---- data --------------------------------------------------------------------------------------
    @cached_property
    def data(self) -> Path:
        """2 000 training and 500 test images of the real MNIST (as tests/conftest.py's small_mnist_npz)."""
        path = self.root / "data" / "mnist-small.npz"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with np.load(MNIST_CACHE) as mnist:
                np.savez(path, x_train=mnist["x_train"][:2000], y_train=mnist["y_train"][:2000].astype(np.uint8),
                         x_test=mnist["x_test"][:500], y_test=mnist["y_test"][:500].astype(np.uint8))
        return path

    @cached_property
    def rgb_data(self) -> Path:
        path = self.root / "data" / "rgb.npz"
        rng = np.random.default_rng(0)
        np.savez(path, x_train=rng.integers(0, 256, (40, 8, 8, 3), dtype=np.uint8), y_train=np.arange(40) % 2)
        return path

    @cached_property
    def plugin_file(self) -> Path:
        path = self.root / "data" / "mine.py"
        path.write_text(PLUGIN)
        return path

    # ---- trained runs ------------------------------------------------------------------------------
    @cached_property
    def base(self) -> Path:
        """gan, 10 steps, checkpoints at 5 and 10, metrics.csv at 5 and 10, metrics.json on 200 samples."""
        return self.train("base", BASE)

    @cached_property
    def base_seed2(self) -> Path:
        return self.train("base-seed2", [*BASE, "--seed", "2"])

    @cached_property
    def base_cgan(self) -> Path:
        return self.train("base-cgan", [*BASE, "--variant", "cgan"])

    @cached_property
    def plugged(self) -> Path:
        """A run of gan+mine, whose plugin file the run folder carries in plugins/mine.py."""
        return self.train("plugged", ["--variant", "gan+mine", "--plugin", str(self.plugin_file), "--steps", "10",
                                      "--checkpoint-every", "5", "--final-eval-samples", "0", "--seed", "1"])

    @cached_property
    def rgb_run(self) -> Path:
        return self.train("rgb-run", ["--dataset", "npz", "--data", str(self.rgb_data), "--variant", "gan",
                                      "--steps", "2", "--batch-size", "4", "--final-eval-samples", "0"])

    @cached_property
    def signal_baseline(self) -> tuple[dict, float, float]:
        """The signal cases' run done in one go (a fresh process): its final state, when config.json
        appeared and when it ended (seconds after the start)."""
        out = self.root / "signal-baseline"
        shutil.rmtree(out, ignore_errors=True)
        started = self.runner.launch(["run", *self.tiny(), *SIGNAL_RUN, "--out", str(out)], self.root, fresh=True)
        appeared = None
        while started.poll() is None:
            if appeared is None and (out / "config.json").exists():
                appeared = time.monotonic() - started.started
            time.sleep(0.05)
        proc = started.wait()
        if proc.code != 0:
            raise SystemExit(f"the signal baseline failed: {proc.out[-2000:]}")
        return run_state(out, 40), appeared or proc.seconds / 2, proc.seconds

    @cached_property
    def signal_half(self) -> Path:
        """The signal cases' run stopped at step 20 (config.json says 20): resumed with --steps 40 it must
        end as the baseline does."""
        return self.train("signal-half", [*SIGNAL_RUN, "--steps", "20"])

    def clone(self, source: Path, into: Path) -> Path:
        """A copy of a run folder that shares the files' inodes (hard links; damage is written with
        :func:`put`, ganlab writes by rename), without the lock file."""
        target = into / source.name
        shutil.copytree(source, target, copy_function=os.link, ignore=shutil.ignore_patterns(".lock"))
        return target

    # ---- what the intact folders give ----------------------------------------------------------------
    def reference(self, source: Path, command: str) -> Any:
        key = f"_ref_{source.name}_{command}"
        if key not in self.__dict__:
            where = self.root / "references" / f"{source.name}-{command}"
            shutil.rmtree(where, ignore_errors=True)
            where.mkdir(parents=True)
            folder = self.clone(source, where)
            proc = self.runner.call(COMMANDS[command](folder, where), where)
            if proc.code != 0:
                raise SystemExit(f"the reference {command} of {source.name} failed: {proc.out[-2000:]}")
            self.__dict__[key] = RESULTS[command](folder, where)
        return self.__dict__[key]


# The four commands a damaged folder is tried with, and what of their result must equal the intact
# folder's. Each takes (the folder, the case's working folder).
COMMANDS: dict[str, Callable[[Path, Path], list]] = {
    "sample": lambda folder, work: ["sample", folder, "--out", work / "samples.npz", "--n", "20"],
    "eval": lambda folder, work: ["eval", folder, "--n", "200"],
    "resume": lambda folder, work: ["run", "--resume", folder, "--steps", RESUME_TO, "--quiet"],
    "compare": lambda folder, work: ["compare", folder, "--out", work / "report", "--n", "200"],
}
RESULTS: dict[str, Callable[[Path, Path], Any]] = {
    "sample": lambda folder, work: npz_arrays(work / "samples.npz"),
    "eval": lambda folder, work: {k: v for k, v in json.loads((folder / "metrics.json").read_text()).items()
                                  if k != "train_seconds"} if (folder / "metrics.json").exists() else None,
    "resume": lambda folder, work: run_state(folder, RESUME_TO),
    "compare": lambda folder, work: (work / "report" / "report.html").read_text()
    if (work / "report" / "report.html").exists() else None,
}


def result_differs(command: str, got: Any, want: Any) -> list[str]:
    if command == "resume":
        return state_differences(got, want)
    if command == "sample":
        return [] if same_arrays(got, want) else ["the samples differ from the intact folder's"]
    return [] if got == want else [f"the {command} result differs from the intact folder's"]


# ==================================================================================================
# A case
# ==================================================================================================
@dataclass
class Case:
    kind: str
    name: str
    run: Callable[[Path], Outcome]  # given its own empty working folder
