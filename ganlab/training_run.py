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

from ganlab import distributed
from ganlab.checkpoints import rng_state, set_rng_state
from ganlab.config import RunConfig
from ganlab.data import DatasetSpec
from ganlab.distributed import ONE_PROCESS, World
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
    # Several processes (torchrun): who this one is. Only rank 0 has the ``folder``; every rank takes
    # part in making the checkpoints, so every rank knows whether the run ``keeps_checkpoints``.
    world: World = ONE_PROCESS
    keeps_checkpoints: bool = False  # the run writes a run folder (rank 0 writes it)
    checkpointed_step: int = -1  # the step of the newest checkpoint saved or loaded

    def view(self) -> RunView:
        return RunView(self)

    @property
    def batch_size(self) -> int:
        """This process's share of the batch: ``--batch-size`` is the global batch of all processes."""
        return self.config.batch_size // self.world.size

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
    def checkpoint(self, rng_of_ranks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """What a checkpoint holds: enough to rebuild the networks and continue exactly.

        :param rng_of_ranks: every rank's random-generator states, when several processes train.
        """
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
        if rng_of_ranks is not None and len(rng_of_ranks) > 1:
            payload["rng_of_ranks"] = rng_of_ranks
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
        self.step = self.checkpointed_step = int(payload["step"])

    def restore_random_streams(self, payload: dict[str, Any] | None) -> None:
        """Every random generator where the checkpoint left it: rank r continues rank r's streams.

        Resumed on as many processes as saved it, a run continues bit for bit (on one device type).
        On a different number, the ranks the checkpoint did not have keep the fresh stream that
        :func:`prepare` seeded (seed + rank): the run continues equal in distribution, not bit for bit.
        A run continued from step 0 (no checkpoint) keeps the streams :func:`prepare` seeded: its own start.
        """
        if payload is None:
            return
        states = payload.get("rng_of_ranks") or [payload["rng"]]
        if self.world.rank < len(states):
            set_rng_state(states[self.world.rank])
        if len(states) != self.world.size:
            self.device_note += (f"; resumed on {self.world.size} process(es) from a checkpoint of {len(states)}: "
                                 f"equal in distribution, not bit-identical")

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
            overrides: dict[str, Any] | None = None, world: World = ONE_PROCESS) -> TrainingRun:
    """Build a fresh run: plugins, settings, seed, networks, optimizers, fixed latent.

    :param world: the processes that train this run together (torchrun); each calls ``prepare``.
    """
    config.validate()
    pm = pm or make_plugin_manager(config.variant, config.plugin_files)
    config.settings = resolve_settings(pm, {**config.settings, **(overrides or {})})
    config.d_update = _discriminator_update(pm, config)
    if config.seed is None:  # drawn by rank 0, so that every rank builds the same networks
        config.seed = distributed.broadcast_object(world, random.SystemRandom().randrange(2**31))
    _check_batch_split(config, world)
    device, note = pick_device(config.device)
    device = distributed.rank_device(world, device)
    notes = [note, world.describe(distributed.backend_name(world)), *resolve_speed_switches(config, device, world)]
    seed_everything(config.seed)
    G, D = build_networks(pm, spec, config, device)
    if config.sync_bn:
        G, D = distributed.use_sync_batchnorm(G), distributed.use_sync_batchnorm(D)
    distributed.copy_from_rank_0(world, [G, D])  # the same start on every rank, whatever a plugin's initialisation did
    sampling_generator, sampling_name = _sampling_generator(pm, G, spec, config, device)
    distributed.copy_from_rank_0(world, [sampling_generator] if sampling_generator is not G else [])
    if world.rank:  # from here on each rank draws its own batches, noise, labels and dropout masks
        seed_everything(distributed.rank_seed(config.seed, world))
    opt_g = pm.hook.ganlab_optimizer(network=G, role="generator", config=config)
    opt_d = pm.hook.ganlab_optimizer(network=D, role="discriminator", config=config)
    for optimizer in (opt_g, opt_d):  # several processes: gradients averaged before every step
        distributed.average_gradients_before_each_step(world, optimizer)
    conditional = bool(pm.hook.ganlab_is_conditional(spec=spec, config=config))
    # The fixed latent has its own random generator, so drawing it does not shift the training stream.
    count = spec.num_classes * SAMPLES_PER_CLASS_IN_FINAL_GRID if conditional else UNCONDITIONAL_GRID_SIZE
    fixed_latent = pm.hook.ganlab_sample_latent(count=count, config=config, device=device,
                                                generator=torch.Generator().manual_seed(config.seed))
    return TrainingRun(config=config, spec=spec, device=device, pm=pm, generator=G, discriminator=D,
                       sampling_generator=sampling_generator, sampling_name=sampling_name, opt_g=opt_g,
                       opt_d=opt_d, conditional=conditional, fixed_latent=fixed_latent,
                       real_fake_threshold=float(pm.hook.ganlab_real_fake_threshold(config=config)),
                       device_note="; ".join(n for n in notes if n), world=world)


def _check_batch_split(config: RunConfig, world: World) -> None:
    if config.batch_size % world.size:
        lower = max(world.size, config.batch_size // world.size * world.size)
        raise ConfigError(f"--batch-size {config.batch_size} is the batch of all {world.size} processes together "
                          f"and must split evenly between them; give a multiple of {world.size}, e.g. "
                          f"{lower} or {lower + world.size}.")


# --------------------------------------------------------------------------------------------------
# The speed switches
# --------------------------------------------------------------------------------------------------
def resolve_speed_switches(config: RunConfig, device: torch.device, world: World) -> list[str]:
    """Turn off each switch that cannot help on ``device``, with a note saying why.

    config.json then records what the run used, as it records the seed drawn and the D update chosen.
    """
    off = []
    cuda = device.type == "cuda"
    if config.amp and not cuda:
        off.append(("amp", f"bf16 autocast pays on CUDA GPUs; on {device.type} it would be slower"))
    elif config.amp and not torch.cuda.is_bf16_supported():
        off.append(("amp", "this GPU has no fast bf16 (it needs an Ampere GPU or newer)"))
    if config.compile and not cuda:
        off.append(("compile", "ganlab compiles for CUDA; on a CPU torch.compile made cgan slower "
                               "(benchmarks/README.md)"))
    if config.cuda_graphs and not cuda:
        off.append(("cuda_graphs", "CUDA graphs need a CUDA GPU"))
    if config.sync_bn and not world.several:
        off.append(("sync_bn", "one process: its BatchNorm already sees the whole batch"))
    elif config.sync_bn and not cuda:
        off.append(("sync_bn", "SyncBatchNorm runs on GPUs only; each process keeps its own statistics"))
    for name, _ in off:
        setattr(config, name, False)
    return [f"--{name.replace('_', '-')} is off: {why}" for name, why in off]


def compile_networks(run: TrainingRun) -> None:
    """``--compile``: torch.compile G and D in place (their checkpoints keep the same keys).

    ``--cuda-graphs``: the same with ``mode="reduce-overhead"``, which records each network's kernels
    once as a CUDA graph and then replays them with one launch; the small MLP variants' steps are
    bound by kernel launches, not arithmetic. D stays eager when a plugin adds a discriminator
    penalty: penalties differentiate through D twice, which torch.compile does not support.
    """
    config = run.config
    if not (config.compile or config.cuda_graphs):
        return
    mode = "reduce-overhead" if config.cuda_graphs else None
    run.generator.compile(mode=mode)
    if run.pm.hook.ganlab_discriminator_penalty.get_hookimpls():
        run.device_note += "; D not compiled: a discriminator penalty takes a double backward"
    else:
        run.discriminator.compile(mode=mode)


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
