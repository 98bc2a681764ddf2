"""A run in the making: its settings, networks, optimizers and fixed latent, and what its checkpoints hold.

:func:`prepare` builds a fresh run from a config and the plugins; :meth:`TrainingRun.checkpoint` and
:meth:`TrainingRun.load_checkpoint` are the two halves of a checkpoint, so that a run saved at step N
and loaded again continues exactly as if it had never stopped. The loop itself is in
:mod:`ganlab.trainer`; observers see the run through the narrow :class:`~ganlab.hookspecs.RunView`.
"""
from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pluggy
import torch
from torch import nn

from ganlab.checkpoints import rng_state
from ganlab.config import RunConfig
from ganlab.data import DatasetSpec
from ganlab.errors import CheckpointError, ConfigError, PluginError
from ganlab.hookspecs import RunView
from ganlab.networks import ConditionedNetwork, build_networks, expect_module
from ganlab.plugins import answering_plugins, make_plugin_manager, resolve_settings
from ganlab.runs import RunFolder
from ganlab.sampling import generate
from ganlab.version import __version__

SAMPLES_PER_CLASS_IN_FINAL_GRID = 10
UNCONDITIONAL_GRID_SIZE = 100


@dataclass
class TrainingRun:
    """Everything about a run in progress. Observers get :meth:`view`, not this object."""

    config: RunConfig
    spec: DatasetSpec
    device: torch.device
    pm: pluggy.PluginManager
    generator: ConditionedNetwork
    discriminator: ConditionedNetwork
    sampling_generator: nn.Module  # draws grids and evaluation samples: the generator, or e.g. its EMA
    sampling_name: str  # "generator", or the plugin that supplied the sampling generator
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    conditional: bool
    fixed_latent: torch.Tensor  # reused for every sample grid, so grids are comparable over time
    real_fake_threshold: float = 0.0  # a score above it counts as "real" in the accuracy columns
    device_note: str = ""
    folder: RunFolder | None = None
    step: int = 0  # steps done so far
    records: list[dict[str, float]] = field(default_factory=list)  # one per step, read back from the device
    notes: list[str] = field(default_factory=list)  # warnings from observers, for the progress line
    outcome: str = ""  # once the loop ends: "finished", "stopped" or "failed"
    stopped_by: str = ""  # the signal that stopped it ("SIGINT", "SIGTERM"), if one did

    def view(self) -> RunView:
        return RunView(self)

    @property
    def fixed_labels(self) -> torch.Tensor:
        """Labels for the final grid: each class ``SAMPLES_PER_CLASS_IN_FINAL_GRID`` times, in order
        (all zeros for an unconditional run, whose generator ignores them)."""
        if not self.conditional:
            return torch.zeros(len(self.fixed_latent), dtype=torch.long, device=self.device)
        per_class = len(self.fixed_latent) // self.spec.num_classes
        return torch.arange(self.spec.num_classes, device=self.device).repeat_interleave(per_class)

    def answering(self, hook_name: str) -> str:
        return answering_plugins(self.pm, hook_name).split(",")[0]

    def sample_latent(self, count: int, rng: torch.Generator | None = None) -> Any:
        return self.pm.hook.ganlab_sample_latent(count=count, config=self.config, device=self.device,
                                                 generator=rng)

    def sample(self, labels: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        """Samples of the sampling generator for ``labels``, its latent drawn from ``rng`` (see RunView)."""
        return generate(self.sampling_generator, self.sample_latent(len(labels), rng), labels.to(self.device))

    def sample_trained(self, labels: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        """Like :meth:`sample`, from the generator being trained (not an average of it)."""
        return generate(self.generator, self.sample_latent(len(labels), rng), labels.to(self.device))

    def generator_loss(self, scores: torch.Tensor, labels: torch.Tensor, latent: Any = None) -> torch.Tensor:
        return self.pm.hook.ganlab_generator_loss(scores=scores, labels=labels, config=self.config, latent=latent)

    # ---- checkpoints ----------------------------------------------------------------------------
    def checkpoint(self) -> dict[str, Any]:
        """What a checkpoint holds: enough to rebuild the networks and continue exactly."""
        payload = {
            "ganlab_version": __version__,
            "variant": self.config.variant,
            "spec": asdict(self.spec),
            "config": self.config.to_dict(),
            "step": self.step,
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "fixed_noise": self.fixed_latent,
            "rng": rng_state(),
            "plugin_state": self.plugin_state(),
        }
        if self.sampling_generator is not self.generator:
            payload["sampling_generator"] = self.sampling_generator.state_dict()
        return payload

    def plugin_state(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for state in self.pm.hook.ganlab_checkpoint_state(run=self.view()):
            for key, value in (state or {}).items():
                if key in merged:
                    raise PluginError(f'Two plugins store checkpoint state under the key "{key}"; each '
                                      f"plugin must use a key of its own (its name).")
                merged[key] = value
        return merged

    def load_checkpoint(self, payload: dict[str, Any], path) -> None:
        """Put the networks, optimizers, step and fixed latent back as the checkpoint has them."""
        try:
            self.generator.load_state_dict(payload["generator"])
            self.discriminator.load_state_dict(payload["discriminator"])
            self.opt_g.load_state_dict(payload["opt_g"])
            self.opt_d.load_state_dict(payload["opt_d"])
            if "sampling_generator" in payload and self.sampling_generator is not self.generator:
                self.sampling_generator.load_state_dict(payload["sampling_generator"])
        except (KeyError, RuntimeError, ValueError, TypeError, AttributeError, IndexError) as exc:
            raise CheckpointError(
                f"Checkpoint {path} does not fit the networks that {self.config.variant} builds "
                f"({str(exc).splitlines()[0]}). It was made by a different version of the plugin; use "
                f"a checkpoint from the same version."
            ) from None
        if tuple(payload["fixed_noise"].shape) != tuple(self.fixed_latent.shape):
            raise CheckpointError(f"Checkpoint {path} is damaged: its fixed latent has shape "
                                  f"{tuple(payload['fixed_noise'].shape)}, but {self.config.variant} draws "
                                  f"{tuple(self.fixed_latent.shape)}. Use another checkpoint of the same run.")
        self.fixed_latent = payload["fixed_noise"].to(self.device)
        self.step = int(payload["step"])

    def restore_plugin_state(self, payload: dict[str, Any] | None) -> None:
        """Hand every plugin registered now (observers included) what it stored in the checkpoint
        (nothing for a run continued from step 0, which has no checkpoint)."""
        if payload is not None:
            self.pm.hook.ganlab_restore_state(run=self.view(), state=payload.get("plugin_state", {}))


# --------------------------------------------------------------------------------------------------
# Building a fresh run
# --------------------------------------------------------------------------------------------------
DEVICE_TYPES = ("cpu", "cuda", "mps")


def pick_device(name: str = "auto") -> tuple[torch.device, str]:
    """The device to train on, and a few words saying why."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda"), f"cuda: {torch.cuda.get_device_name(0)}"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps"), "mps: Apple GPU"
        return torch.device("cpu"), "cpu: no CUDA or MPS device found"
    try:
        device = torch.device(name)
        if device.type not in DEVICE_TYPES:
            raise RuntimeError(f"ganlab trains on {', '.join(DEVICE_TYPES)}, not on {device.type!r} devices")
        torch.empty(1, device=device)
    except (RuntimeError, AssertionError) as exc:
        raise ConfigError(f"--device {name} is not usable here ({str(exc).splitlines()[0]}). Use auto, cpu, "
                          f"cuda (cuda:1, ...) or mps.") from None
    return device, name


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def prepare(config: RunConfig, spec: DatasetSpec, pm: pluggy.PluginManager | None = None,
            overrides: dict[str, Any] | None = None) -> TrainingRun:
    """Build a fresh run: plugins, settings, seed, networks, optimizers, fixed latent."""
    config.validate()
    pm = pm or make_plugin_manager(config.variant, config.plugin_files)
    config.settings = resolve_settings(pm, {**config.settings, **(overrides or {})})
    config.d_update = _discriminator_update(pm, config)
    if config.seed is None:
        config.seed = random.SystemRandom().randrange(2**31)
    device, note = pick_device(config.device)
    seed_everything(config.seed)
    G, D = build_networks(pm, spec, config, device)
    sampling_generator, sampling_name = _sampling_generator(pm, G, spec, config, device)
    opt_g = pm.hook.ganlab_optimizer(network=G, role="generator", config=config)
    opt_d = pm.hook.ganlab_optimizer(network=D, role="discriminator", config=config)
    conditional = bool(pm.hook.ganlab_is_conditional(spec=spec, config=config))
    # The fixed latent has its own random generator, so drawing it does not shift the training stream.
    count = spec.num_classes * SAMPLES_PER_CLASS_IN_FINAL_GRID if conditional else UNCONDITIONAL_GRID_SIZE
    fixed_latent = pm.hook.ganlab_sample_latent(count=count, config=config, device=device,
                                                generator=torch.Generator().manual_seed(config.seed))
    return TrainingRun(config=config, spec=spec, device=device, pm=pm, generator=G, discriminator=D,
                       sampling_generator=sampling_generator, sampling_name=sampling_name, opt_g=opt_g,
                       opt_d=opt_d, conditional=conditional, fixed_latent=fixed_latent,
                       real_fake_threshold=float(pm.hook.ganlab_real_fake_threshold(config=config)),
                       device_note=note)


def _discriminator_update(pm, config: RunConfig) -> str:
    if config.d_update != "auto":
        return config.d_update
    mode = pm.hook.ganlab_discriminator_update(config=config)
    if mode not in ("joint", "separate"):
        raise PluginError(f'ganlab_discriminator_update must return "joint" or "separate", not {mode!r}; '
                          f"fix the plugin ({answering_plugins(pm, 'ganlab_discriminator_update')}).")
    return mode


def _sampling_generator(pm, generator, spec, config, device) -> tuple[nn.Module, str]:
    """The plugins' sampling generator (an EMA, say) and who supplied it; else the generator itself."""
    if not pm.hook.ganlab_sampling_generator.get_hookimpls():
        return generator, "generator"
    supplied = expect_module(pm, "ganlab_sampling_generator", lambda: pm.hook.ganlab_sampling_generator(
        generator=generator, spec=spec, config=config) or generator)
    if supplied is generator:
        return generator, "generator"
    return supplied.to(device), answering_plugins(pm, "ganlab_sampling_generator").split(",")[0]
