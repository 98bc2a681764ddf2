"""The checkpoint file: written atomically, loaded safely, and checked field by field.

A checkpoint is a dict of tensors and plain values saved with ``torch.save`` and loaded with
``torch.load(..., weights_only=True)``: loading one can never run code. Before a run trusts one, every
field is checked (:func:`check_fields`), so a damaged or hand-edited file gives a message naming the
field, never a traceback from deep inside the loading code.
"""
from __future__ import annotations

import io
import os
import random
import re
from typing import Any

import numpy as np
import torch

from ganlab.config import RESUMABLE_SETTINGS, RunConfig
from ganlab.data import DatasetSpec
from ganlab.errors import CheckpointError
from ganlab.files import atomic_write_bytes

CHECKPOINT_FORMAT = 2  # 2: plugin state and the sampling generator (format 1 still loads)


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """Write a checkpoint atomically: a kill at any instant leaves the previous file intact.

    It is serialised in memory first, so that a failed write (a full disk) is a plain OSError of the
    write itself, which :mod:`ganlab.files` turns into a message.
    """
    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, **payload}, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint without running any code that might be inside it, and check every field."""
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"Checkpoint {path} does not exist.") from None
    except Exception as exc:  # truncated, corrupt, or a pickle that asks for arbitrary code
        raise CheckpointError(
            f"Checkpoint {path} cannot be loaded safely ({type(exc).__name__}: {_first_line(exc)}). It is "
            f"truncated or corrupt, or it is not a ganlab checkpoint: a file that holds Python objects "
            f"other than tensors and plain values is refused, because loading it could run code, and "
            f"ganlab never loads such files. Use an earlier checkpoint of the same run folder."
        ) from None
    if not isinstance(payload, dict) or "format" not in payload:
        raise CheckpointError(f"{path} is not a ganlab checkpoint (no format marker).")
    if not isinstance(payload["format"], int) or isinstance(payload["format"], bool):
        raise CheckpointError(f"Checkpoint {path} is damaged: its format marker is {payload['format']!r}, "
                              f"not a whole number. Use an earlier checkpoint of the same run folder.")
    if payload["format"] > CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"Checkpoint {path} has format {payload['format']}, newer than this ganlab understands "
            f"({CHECKPOINT_FORMAT}). Upgrade ganlab: pip install -U ganlab."
        )
    problem = check_fields(payload)
    if problem:
        raise CheckpointError(f"Checkpoint {path} is damaged: {problem}. ganlab cannot continue from it; "
                              f"use an earlier checkpoint of the same run folder.")
    return payload


def _first_line(exc: Exception) -> str:
    """The first line of an exception's message, without torch's advice to load it unsafely; for a file
    that asks to run something, what it asks for."""
    asks = re.search(r"(?:unsupported|Unsupported global:) GLOBAL ([\w.]+)", str(exc))
    if asks:
        return f"it asks to run {asks.group(1)}"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text.split(" Re-running")[0].split(" re-running")[0].rstrip(" .")


def check_fields(payload: dict[str, Any]) -> str | None:
    """What is wrong with a loaded checkpoint's fields, in words, or None when nothing is."""
    def whole(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    for key, kind in (("variant", str), ("spec", dict), ("config", dict), ("generator", dict),
                      ("discriminator", dict), ("opt_g", dict), ("opt_d", dict), ("rng", dict)):
        if key not in payload:
            return f"the field {key!r} is missing"
        if not isinstance(payload[key], kind):
            return f"the field {key!r} should be a {kind.__name__}, not {type(payload[key]).__name__}"
    if not whole(payload.get("step")) or payload["step"] < 0:
        return f"the field 'step' should be a whole number >= 0, not {payload.get('step')!r}"
    if not isinstance(payload.get("fixed_noise"), torch.Tensor) or payload["fixed_noise"].dim() < 1:
        return "the field 'fixed_noise' (the latent of the sample grids) is missing or not a tensor"
    for key in ("generator", "discriminator", "sampling_generator"):
        weights = payload.get(key, {})
        if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
            return f"the field {key!r} should map parameter names to tensors"
    if not isinstance(payload.get("plugin_state", {}), dict):
        return "the field 'plugin_state' should be a dict"
    for key in ("opt_g", "opt_d"):
        state, groups = payload[key].get("state"), payload[key].get("param_groups")
        if not (isinstance(state, dict) and isinstance(groups, list) and all(isinstance(g, dict) for g in groups)):
            return f"the field {key!r} (an optimizer's state) should hold 'state' (a dict) and 'param_groups' (a list)"
    spec = payload["spec"]
    shape = spec.get("image_shape")
    if not isinstance(shape, (list, tuple)) or not shape or not all(whole(d) and d > 0 for d in shape):
        return f"spec.image_shape should be a list of positive whole numbers, not {shape!r}"
    if not whole(spec.get("num_classes")) or spec["num_classes"] < 1:
        return f"spec.num_classes should be a whole number >= 1, not {spec.get('num_classes')!r}"
    ranks = payload.get("rng_of_ranks", [payload["rng"]])  # several processes (torchrun): each rank's
    if not isinstance(ranks, list) or not all(isinstance(state, dict) for state in ranks):
        return "the field 'rng_of_ranks' should be a list of random states, one per process"
    return next(filter(None, map(_check_rng, [payload["rng"], *ranks])), None)


def _check_rng(state: dict[str, Any]) -> str | None:
    if not isinstance(state.get("torch"), torch.Tensor) or state["torch"].dtype != torch.uint8:
        return "rng.torch (torch's random state) is missing or not a byte tensor"
    size = torch.get_rng_state().numel()
    if state["torch"].shape != (size,):
        return f"rng.torch (torch's random state) has {state['torch'].numel()} bytes, not {size}"
    numpy_state = state.get("numpy")
    if not (isinstance(numpy_state, (list, tuple)) and len(numpy_state) == 5 and isinstance(numpy_state[0], str)
            and isinstance(numpy_state[1], torch.Tensor) and numpy_state[1].numel() == 624):
        return "rng.numpy (numpy's random state) is missing or not the 5 items numpy keeps"
    python_state = state.get("python")
    if not (isinstance(python_state, (list, tuple)) and len(python_state) == 3
            and isinstance(python_state[1], (list, tuple)) and len(python_state[1]) == 625):
        return "rng.python (Python's random state) is missing or not the 3 items Python keeps"
    return None


def check_checkpoint_matches(payload: dict[str, Any], config: RunConfig, spec: DatasetSpec, path) -> None:
    """Refuse a checkpoint made by another variant, for data of another shape, or by another run (another
    seed, other settings): continuing it in this folder would mix two runs in one."""
    variant = config.variant
    if payload["variant"] != variant:
        raise CheckpointError(
            f"Checkpoint {path} was trained with variant \"{payload['variant']}\", but this run folder's "
            f"config.json says \"{variant}\": the checkpoint belongs to another run. Give a checkpoint "
            f"from this run folder's checkpoints/."
        )
    saved = payload["spec"]
    if tuple(saved["image_shape"]) != tuple(spec.image_shape) or saved["num_classes"] != spec.num_classes:
        raise CheckpointError(
            f"Checkpoint {path} is for samples {tuple(saved['image_shape'])} with {saved['num_classes']} "
            f"classes, not {tuple(spec.image_shape)} with {spec.num_classes}: it belongs to a run on "
            f"other data. Give a checkpoint from this run folder's checkpoints/."
        )
    # The checkpoint's settings, a missing one at its default (an older ganlab's checkpoint lacks the newer ones).
    trained_with = {**RunConfig().to_dict(), **payload["config"]}
    # Likewise a plugin setting added after the checkpoint was written: config.json gets it at its declared
    # default when the run is loaded, the checkpoint lacks it; the run was trained as that default says.
    if isinstance(trained_with["settings"], dict):
        trained_with["settings"] = {**config.settings, **trained_with["settings"]}
    differing = [name for name, value in config.to_dict().items()
                 if name not in RESUMABLE_SETTINGS and trained_with[name] != value]
    if differing:
        shown = ", ".join(f"{name} {trained_with[name]!r} (config.json: {getattr(config, name)!r})"
                          for name in differing[:3])
        raise CheckpointError(
            f"Checkpoint {path} does not belong to the run in this folder's config.json: it was trained with "
            f"{shown}. It is another run's checkpoint, or config.json was edited; give a checkpoint from this "
            f"run folder's checkpoints/, or restore config.json."
        )


def rng_state() -> dict[str, Any]:
    """Every random generator the run draws from, in a form ``weights_only`` loading accepts."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached],
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Put every random generator back where :func:`rng_state` found it."""
    try:
        torch.set_rng_state(state["torch"].cpu())
        kind, keys, position, has_gauss, cached = state["numpy"]
        np.random.set_state((kind, keys.cpu().numpy().astype(np.uint32), position, has_gauss, cached))
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
    except (TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"The checkpoint's random states cannot be restored ({exc}); it is damaged. "
                              f"Use an earlier checkpoint of the same run folder.") from None
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
