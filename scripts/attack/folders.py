"""Looking at run folders: what ganlab left wrong in one, and what must equal between two."""
from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganlab.checkpoints import load_checkpoint
from ganlab.errors import GanlabError


def png_complete(path: Path) -> bool:
    data = path.read_bytes()
    return data.startswith(b"\x89PNG\r\n\x1a\n") and data[-12:-4] == b"\x00\x00\x00\x00IEND"


def folder_problems(folder: Path, finished: bool = True) -> list[str]:
    """What is wrong with a run folder that ganlab wrote (no damage of ours in it).

    ``finished``: no ganlab process writes it any more, so no temporary file may be left.
    """
    problems: list[str] = []
    if not folder.is_dir():
        return problems
    if finished:
        stale = sorted(p.name for p in folder.rglob(".*.tmp"))
        if stale:
            problems.append(f"temporary file(s) left behind: {', '.join(stale[:3])}")
    config_file = folder / "config.json"
    if not config_file.exists():
        return problems
    try:
        saved = json.loads(config_file.read_text())["config"]
    except (ValueError, KeyError):
        return [*problems, "config.json is not a complete JSON file"]
    newest = 0
    for path in sorted((folder / "checkpoints").glob("step_*.pt")):
        step = int(path.stem.split("_")[1])
        try:
            payload = load_checkpoint(path)
        except GanlabError as exc:
            problems.append(f"{path.name} does not load ({str(exc)[:120]})")
            continue
        if payload["step"] != step:
            problems.append(f"{path.name} holds step {payload['step']}")
        if payload["config"].get("seed") != saved.get("seed") or payload["variant"] != saved.get("variant"):
            problems.append(f"{path.name} is from another run (seed {payload['config'].get('seed')}, variant "
                            f"{payload['variant']}; config.json: seed {saved.get('seed')}, {saved.get('variant')})")
        newest = max(newest, step)
    steps = loss_steps(folder)
    if steps is None:
        problems.append("losses.csv does not parse")
    else:
        if steps != list(range(1, len(steps) + 1)):
            problems.append(f"losses.csv steps are not 1..N (first {steps[:3]}, {len(steps)} rows)")
        if newest and (not steps or steps[-1] < newest):
            problems.append(f"losses.csv ends at step {steps[-1] if steps else 0}, behind the newest checkpoint "
                            f"(step {newest})")
    for png in [*folder.glob("*.png"), *folder.glob("samples/*.png")]:
        if not png_complete(png):
            problems.append(f"{png.relative_to(folder)} is half-written")
    if (folder / "metrics.json").exists():
        try:
            json.loads((folder / "metrics.json").read_text())
        except ValueError:
            problems.append("metrics.json is half-written")
    return problems


def loss_steps(folder: Path) -> list[int] | None:
    path = folder / "losses.csv"
    if not path.exists():
        return []
    try:
        return [int(line.split(",")[0]) for line in path.read_text().splitlines()[1:] if line]
    except ValueError:
        return None


def flat_tensors(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(name, leaf) for every leaf of nested dicts and lists (tensors, numbers, text)."""
    if isinstance(value, dict):
        for key in sorted(value, key=str):
            yield from flat_tensors(value[key], f"{prefix}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from flat_tensors(item, f"{prefix}[{index}]")
    else:
        yield prefix, value


def run_state(folder: Path, step: int) -> dict:
    """What must be equal between a resumed run and the same run done in one go."""
    checkpoint = folder / "checkpoints" / f"step_{step:06d}.pt"
    state: dict[str, Any] = {"checkpoint": None}
    if checkpoint.is_file():
        payload = torch.load(checkpoint, weights_only=True)
        state["checkpoint"] = dict(flat_tensors({k: payload[k] for k in ("generator", "discriminator", "opt_g",
                                                                          "opt_d", "fixed_noise", "step")}))
    losses = folder / "losses.csv"
    state["losses"] = losses.read_text() if losses.exists() else None
    curve = folder / "metrics.csv"
    state["curve"] = [re.sub(r"^(\d+),[^,]*,", r"\1,", line) for line in curve.read_text().splitlines()] \
        if curve.exists() else None  # without the wall-clock seconds
    metrics = folder / "metrics.json"
    state["metrics"] = ({k: v for k, v in json.loads(metrics.read_text()).items() if k != "train_seconds"}
                        if metrics.exists() else None)
    return state


def state_differences(got: dict, want: dict) -> list[str]:
    differences = []
    if got["checkpoint"] is None or want["checkpoint"] is None:
        if got["checkpoint"] != want["checkpoint"]:
            differences.append("the final checkpoint is missing")
    else:
        unequal = [name for name, value in want["checkpoint"].items() if not same_leaf(got["checkpoint"].get(name),
                                                                                        value)]
        if unequal:
            differences.append(f"final weights/optimizer differ from the run done in one go ({unequal[0]}, "
                               f"{len(unequal)} tensors)")
    for key, what in (("losses", "losses.csv"), ("curve", "metrics.csv"), ("metrics", "metrics.json")):
        if got[key] != want[key]:
            differences.append(f"{what} differs from the run done in one go")
    return differences


def same_leaf(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(a, b))
    return type(a) is type(b) and a == b


def npz_arrays(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError):
        return None


def same_arrays(a: dict | None, b: dict | None) -> bool:
    return a is not None and b is not None and a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def put(path: Path, data: bytes | str) -> None:
    """Replace a file's contents without writing through the inode a hard-linked clone shares."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    path.unlink(missing_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def saved_bytes(payload: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()
