"""The training loop: one for every variant.

Each step: draw a real batch, draw noise and labels, make one fake batch, update the discriminator
on real and fake images, then update the generator through the discriminator's verdict on the same
fakes. Which networks, which conditioning, which losses and how many D updates per G update: all
of it comes from the plugins through hooks (:mod:`ganlab.hookspecs`); this file names no variant.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pluggy
import torch
from torch import nn

from ganlab.config import RunConfig
from ganlab.data import Dataset, DatasetSpec, load_dataset, to_unit_range
from ganlab.evaluation import Evaluator, has_classifier
from ganlab.errors import ConfigError, DivergenceError, GanlabError, PluginError
from ganlab.hookspecs import adversarial_scores
from ganlab.interrupts import StopRequest
from ganlab.plugins import make_plugin_manager, resolve_settings
from ganlab.progress import ProgressPrinter
from ganlab.report import save_loss_curve
from ganlab.runs import RunFolder, checkpoint_payload, default_run_dir, save_checkpoint
from ganlab.sampling import generate, save_grid
from ganlab.watchdog import DiscriminatorWatchdog

SAMPLES_PER_CLASS_IN_FINAL_GRID = 10


class ConditionedNetwork(nn.Module):
    """A network with its conditioning in front: ``network(conditioning(x, labels), labels)``."""

    def __init__(self, conditioning: nn.Module, network: nn.Module):
        super().__init__()
        self.conditioning = conditioning
        self.network = network

    def forward(self, inputs: torch.Tensor, labels: torch.Tensor):
        return self.network(self.conditioning(inputs, labels), labels)


@dataclass
class TrainingRun:
    """Everything about a run in progress; observer hooks receive it."""

    config: RunConfig
    spec: DatasetSpec
    device: torch.device
    pm: pluggy.PluginManager
    generator: ConditionedNetwork
    discriminator: ConditionedNetwork
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    conditional: bool
    fixed_noise: torch.Tensor  # reused for every sample grid, so grids are comparable over time
    folder: RunFolder | None = None
    step: int = 0  # steps done so far
    records: list[dict[str, float]] = field(default_factory=list)  # one per step, read back
    pending: list[torch.Tensor] = field(default_factory=list)  # per-step numbers still on the device
    interrupted: bool = False
    device_note: str = ""
    status_note: str = ""  # a warning for the progress line, e.g. from the watchdog
    checkpoint_rng: dict[str, Any] | None = None  # the RNG states a restored checkpoint carried

    @property
    def fixed_labels(self) -> torch.Tensor:
        """Labels for the final grid: each class ``SAMPLES_PER_CLASS_IN_FINAL_GRID`` times, in order."""
        per_class = len(self.fixed_noise) // self.spec.num_classes
        return torch.arange(self.spec.num_classes, device=self.device).repeat_interleave(per_class)


# ------------------------------------------------------------------------------------------------
# Building
# ------------------------------------------------------------------------------------------------
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
        torch.empty(1, device=device)
    except (RuntimeError, AssertionError) as exc:
        raise ConfigError(f"--device {name} is not usable here ({exc}). Use auto, cpu or cuda.") from None
    return device, name


def build_networks(pm: pluggy.PluginManager, spec: DatasetSpec, config: RunConfig,
                   device: torch.device) -> tuple[ConditionedNetwork, ConditionedNetwork, bool]:
    """Ask the plugins for conditioning modules and networks; check what they return."""
    try:
        return _build_networks(pm, spec, config, device)
    except GanlabError:
        raise
    except Exception as exc:  # a plugin's bug must be reported as the plugin's, with its message
        raise PluginError(
            f"Building the networks failed in the plugins of variant \"{config.variant}\": "
            f"{type(exc).__name__}: {exc}. Check the variant's settings (`ganlab variants -v`) or "
            f"fix the plugin."
        ) from exc


def _build_networks(pm, spec, config, device):
    hook = pm.hook
    g_conditioning = _expect_module(hook.ganlab_generator_conditioning(spec=spec, config=config),
                                    "ganlab_generator_conditioning", pm)
    d_conditioning = _expect_module(hook.ganlab_discriminator_conditioning(spec=spec, config=config),
                                    "ganlab_discriminator_conditioning", pm)
    probe_labels = torch.zeros(2, dtype=torch.long)
    with torch.no_grad():
        g_input = g_conditioning(torch.zeros(2, config.latent_dim), probe_labels)
        d_input = d_conditioning(torch.zeros(2, *spec.image_shape), probe_labels)
    generator = _expect_module(
        hook.ganlab_generator(spec=spec, config=config, input_shape=tuple(g_input.shape[1:])),
        "ganlab_generator", pm)
    discriminator = _expect_module(
        hook.ganlab_discriminator(spec=spec, config=config, input_shape=tuple(d_input.shape[1:])),
        "ganlab_discriminator", pm)
    G = ConditionedNetwork(g_conditioning, generator).to(device)
    D = ConditionedNetwork(d_conditioning, discriminator).to(device)
    _check_output_shapes(G, D, spec, config, device, pm)
    return G, D, bool(hook.ganlab_is_conditional(spec=spec, config=config))


def _answering_plugins(pm: pluggy.PluginManager, hook_name: str) -> str:
    impls = getattr(pm.hook, hook_name).get_hookimpls()
    return ", ".join(impl.plugin_name for impl in reversed(impls)) or "no plugin"


def _expect_module(value: Any, hook_name: str, pm: pluggy.PluginManager) -> nn.Module:
    if not isinstance(value, nn.Module):
        raise PluginError(
            f"{hook_name} must return a torch.nn.Module, but the plugins asked "
            f"({_answering_plugins(pm, hook_name)}) returned {type(value).__name__}. Fix that hook."
        )
    return value


def _check_output_shapes(G, D, spec, config, device, pm) -> None:
    """Run both networks once on a tiny batch, so a shape mistake is caught before training."""
    labels = torch.zeros(2, dtype=torch.long, device=device)
    with torch.no_grad():
        G.eval(), D.eval()
        images = G(torch.zeros(2, config.latent_dim, device=device), labels)
        if tuple(images.shape) != (2, *spec.image_shape):
            raise PluginError(
                f"The generator ({_answering_plugins(pm, 'ganlab_generator')}) returned images of "
                f"shape {tuple(images.shape)} for a batch of 2; expected {(2, *spec.image_shape)}."
            )
        scores = D(images, labels)
        first = adversarial_scores(scores)
        if not isinstance(first, torch.Tensor) or tuple(first.shape) != (2,):
            shape = tuple(first.shape) if isinstance(first, torch.Tensor) else type(first).__name__
            raise PluginError(
                f"The discriminator ({_answering_plugins(pm, 'ganlab_discriminator')}) returned "
                f"scores of shape {shape} for a batch of 2; expected (2,), one logit per image."
            )
        G.train(), D.train()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def prepare(config: RunConfig, spec: DatasetSpec, pm: pluggy.PluginManager | None = None,
            overrides: dict[str, Any] | None = None) -> TrainingRun:
    """Build a fresh run: plugins, settings, seed, networks, optimizers, fixed noise."""
    config.validate()
    pm = pm or make_plugin_manager(config.variant, config.plugin_files)
    config.settings = resolve_settings(pm, {**config.settings, **(overrides or {})})
    if config.d_update == "auto":
        config.d_update = pm.hook.ganlab_discriminator_update(config=config)
        if config.d_update not in ("joint", "separate"):
            raise PluginError(f'ganlab_discriminator_update must return "joint" or "separate", '
                              f"not {config.d_update!r}; fix the plugin "
                              f"({_answering_plugins(pm, 'ganlab_discriminator_update')}).")
    if config.seed is None:
        config.seed = random.SystemRandom().randrange(2**31)
    device, note = pick_device(config.device)
    seed_everything(config.seed)
    G, D, conditional = build_networks(pm, spec, config, device)
    opt_g = pm.hook.ganlab_optimizer(network=G, role="generator", config=config)
    opt_d = pm.hook.ganlab_optimizer(network=D, role="discriminator", config=config)
    # The fixed noise has its own random generator, so drawing it does not shift the training stream.
    noise_rng = torch.Generator().manual_seed(config.seed)
    count = spec.num_classes * SAMPLES_PER_CLASS_IN_FINAL_GRID if conditional else 100
    fixed_noise = torch.randn(count, config.latent_dim, generator=noise_rng).to(device)
    return TrainingRun(config=config, spec=spec, device=device, pm=pm, generator=G, discriminator=D,
                       opt_g=opt_g, opt_d=opt_d, conditional=conditional, fixed_noise=fixed_noise,
                       device_note=note)


# ------------------------------------------------------------------------------------------------
# Training
# ------------------------------------------------------------------------------------------------
class RealBatches:
    """The whole training set on the device as uint8; a batch is drawn by random indices.

    The tutorial draws ``np.random.randint(0, N, batch_size)`` each step (with replacement); so do we,
    without a DataLoader: no per-sample Python, no copies from the host.
    """

    def __init__(self, dataset: Dataset, device: torch.device):
        self.images = torch.from_numpy(dataset.x_train).to(device)
        self.labels = torch.from_numpy(dataset.y_train).to(device=device, dtype=torch.long)

    def sample(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.randint(0, len(self.labels), (batch_size,), device=self.labels.device)
        return to_unit_range(self.images[index]), self.labels[index]


def train_step(run: TrainingRun, batches: RealBatches, d_steps: int) -> torch.Tensor:
    """One generator update and ``d_steps`` discriminator updates.

    :returns: a tensor (d_loss, g_loss, d_real_acc, d_fake_acc), left on the device.
    """
    config, hook = run.config, run.pm.hook
    G, D = run.generator, run.discriminator
    for d_step in range(d_steps):
        real, real_labels = batches.sample(config.batch_size)
        noise = torch.randn(config.batch_size, config.latent_dim, device=run.device)
        # Fresh labels for the fakes. (The tutorial's G step passes the real batch's labels even
        # though it samples new ones: its ``sampled_labels`` goes unused. We use the sampled ones.)
        fake_labels = torch.randint(0, run.spec.num_classes, (config.batch_size,), device=run.device)
        last = d_step == d_steps - 1
        with torch.set_grad_enabled(last):  # only the last fake batch is reused for the G step
            fake = G(noise, fake_labels)
        d_loss, real_acc, fake_acc = discriminator_update(run, real, real_labels, fake.detach(), fake_labels)

    # Generator update on the same fakes. D's weights need no gradients here: switching them off
    # saves the work of computing them, and D is not changed by this step.
    D.requires_grad_(False)
    scores = D(fake, fake_labels)
    g_loss = hook.ganlab_generator_loss(scores=scores, labels=fake_labels, config=config)
    g_loss = with_auxiliary_losses(hook, g_loss, scores, fake_labels, "generator", None, config)
    run.opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    run.opt_g.step()
    D.requires_grad_(True)
    return torch.stack((d_loss.detach(), g_loss.detach(), real_acc, fake_acc))


def discriminator_update(run, real, real_labels, fake, fake_labels):
    """Update D on a real and a fake batch. Returns (mean loss, accuracy on real, accuracy on fake).

    ``joint``: one Adam step on the sum of both losses (Adam does not care whether it is the sum
    or the mean; the sum is what WGAN-GP's and the hinge loss's formulas write). ``separate``: the
    tutorial's two ``train_on_batch`` calls, a full Adam step on the real batch, then another on the
    fake batch. The loss reported is the mean of the two, as the tutorial prints it.
    """
    hook, config, D, opt = run.pm.hook, run.config, run.discriminator, run.opt_d

    def loss_on(images, labels, is_real):
        scores = D(images, labels)
        loss = hook.ganlab_discriminator_loss(scores=scores, labels=labels, is_real=is_real, config=config)
        loss = with_auxiliary_losses(hook, loss, scores, labels, "discriminator", is_real, config)
        logits = adversarial_scores(scores)
        accuracy = ((logits > 0) == is_real).float().mean()
        return loss, accuracy

    opt.zero_grad(set_to_none=True)
    real_loss, real_acc = loss_on(real, real_labels, True)
    if config.d_update == "separate":
        real_loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        fake_loss, fake_acc = loss_on(fake, fake_labels, False)
        total = fake_loss
    else:
        fake_loss, fake_acc = loss_on(fake, fake_labels, False)
        total = real_loss + fake_loss
    for penalty in hook.ganlab_discriminator_penalty(discriminator=D, real=real, fake=fake, real_labels=real_labels,
                                                     fake_labels=fake_labels, config=config):
        total = total + penalty
    total.backward()
    opt.step()
    return (real_loss.detach() + fake_loss.detach()) / 2, real_acc, fake_acc


def with_auxiliary_losses(hook, loss, scores, labels, role, is_real, config):
    """``loss`` plus every plugin's :func:`~ganlab.hookspecs.ganlab_auxiliary_loss` term."""
    for term in hook.ganlab_auxiliary_loss(scores=scores, labels=labels, role=role, is_real=is_real, config=config):
        loss = loss + term
    return loss


def train(config: RunConfig, dataset: Dataset | None = None, pm: pluggy.PluginManager | None = None,
          quiet: bool = False, write_files: bool = True, overrides: dict[str, Any] | None = None
          ) -> TrainingRun:
    """Train a variant from scratch; the function behind ``ganlab run``.

    :param dataset: the data; loaded from ``config.dataset`` / ``config.data_path`` when None.
    :param pm: a plugin manager; built from ``config.variant`` when None.
    :param write_files: False trains without a run folder (for quick experiments and tests).
    :param overrides: plugin settings from the user (``--set``), checked against the declarations.
    :returns: the run; ``run.interrupted`` says whether Ctrl-C/SIGTERM stopped it early.
    """
    config.validate()
    pm = pm or make_plugin_manager(config.variant, config.plugin_files)  # a bad variant fails before any download
    dataset = dataset or load_dataset(config.dataset, config.data_path, **config.data_options)
    run = prepare(config, dataset.spec, pm, overrides)
    if write_files:
        run.folder = RunFolder.create(config.out or default_run_dir(config.variant))
        config.plugin_files = run.folder.keep_plugin_files(config.plugin_files)
        run.folder.write_config(config, run.spec, run.conditional, str(run.device))
    register_observers(run, dataset, quiet)
    run_loop(run, RealBatches(dataset, run.device))
    return run


def register_observers(run: TrainingRun, dataset: Dataset, quiet: bool) -> None:
    """The core's own observer plugins: evaluation, the discriminator watchdog, the progress display."""
    config = run.config
    if config.eval_every or (config.final_eval_samples and run.folder and has_classifier(dataset.spec.name)):
        run.pm.register(Evaluator(dataset, config.eval_every, config.eval_samples, config.final_eval_samples))
    if config.watchdog_steps:
        run.pm.register(DiscriminatorWatchdog(patience=run.config.watchdog_steps))
    if not quiet:
        run.pm.register(ProgressPrinter())


def run_loop(run: TrainingRun, batches: RealBatches) -> None:
    """Train from ``run.step`` to ``config.steps``, stopping cleanly between steps on Ctrl-C."""
    run.pm.hook.ganlab_train_start(run=run)
    stop = StopRequest()
    try:
        with stop.installed():
            _train_loop(run, batches, stop)
    except BaseException:
        # Mid-step (a second Ctrl-C, or an error): the networks may be half-updated, so no new
        # checkpoint; the last one on disk is intact.
        run.pm.hook.ganlab_train_end(run=run, interrupted=True)
        raise
    run.interrupted = stop.requested
    _read_back(run)
    if run.folder and run.step > 0:
        if not run.folder.checkpoint_file(run.step).exists():
            save_run_checkpoint(run)
        save_final_grid(run)
    run.pm.hook.ganlab_train_end(run=run, interrupted=run.interrupted)


def _train_loop(run: TrainingRun, batches: RealBatches, stop: StopRequest) -> None:
    config = run.config
    d_steps = int(run.pm.hook.ganlab_discriminator_steps(config=config))
    run.generator.train(), run.discriminator.train()
    while run.step < config.steps and not stop.requested:
        run.pending.append(checked_train_step(run, batches, d_steps))
        run.step += 1
        if run.step % config.log_every == 0:
            _read_back(run)
        if run.folder and run.step % config.sample_every == 0:
            save_step_grid(run)
        if run.folder and config.checkpoint_every and run.step % config.checkpoint_every == 0:
            _read_back(run)
            save_run_checkpoint(run)


def checked_train_step(run: TrainingRun, batches: RealBatches, d_steps: int) -> torch.Tensor:
    """:func:`train_step`, with an error from a plugin's hook turned into a message (not a traceback)."""
    try:
        return train_step(run, batches, d_steps)
    except GanlabError:  # already a message (a divergence, a contract check)
        raise
    except Exception as exc:
        detail = str(exc).rstrip().rstrip(".")
        raise PluginError(
            f"Training step {run.step + 1} of variant \"{run.config.variant}\" failed: {type(exc).__name__}: "
            f"{detail}. Most often a plugin's hook broke the contract or the variant's plugins are in an order "
            f"that does not fit together; GANLAB_TRACE_PLUGINS=1 shows which plugin answered each hook."
        ) from exc


def _read_back(run: TrainingRun) -> None:
    """Copy the pending per-step numbers to the host (one synchronisation) and tell the observers."""
    if not run.pending:
        return
    values = torch.stack(run.pending).cpu().tolist()
    first = run.step - len(values) + 1
    records = [dict(step=first + i, d_loss=v[0], g_loss=v[1], d_real_acc=v[2], d_fake_acc=v[3])
               for i, v in enumerate(values)]
    run.pending.clear()
    check_finite_losses(run, records)
    run.records.extend(records)
    run.pm.hook.ganlab_step_end(run=run, step=run.step, records=records)


def check_finite_losses(run: TrainingRun, records: list[dict[str, float]]) -> None:
    """Stop the run at the first NaN or infinite loss, saying where to go back to and why."""
    for record in records:
        if not (math.isfinite(record["d_loss"]) and math.isfinite(record["g_loss"])):
            raise DivergenceError(divergence_message(run, record["step"], "the losses became non-finite "
                                                     f"(d_loss {record['d_loss']}, g_loss {record['g_loss']})"))


def divergence_message(run: TrainingRun, step: int, what: str) -> str:
    last_good = run.folder.checkpoints()[-1] if run.folder and run.folder.checkpoints() else None
    where = f"The last good checkpoint is {last_good}." if last_good else "No checkpoint was saved before it."
    return (f"Training diverged at step {step}: {what}. {where} Usual causes: a learning rate too high "
            f"for this loss (try --lr {run.config.lr / 2:g}), a loss that lets D's scores grow without "
            f"bound (try wgan-gp or hinge), or a plugin that divides by zero. Nothing after step {step} "
            f"was saved.")


# ------------------------------------------------------------------------------------------------
# What a run writes
# ------------------------------------------------------------------------------------------------
def save_step_grid(run: TrainingRun) -> None:
    """The tutorial's 2x5 grid: one sample per class (titled) or 10 untitled unconditional ones."""
    count = run.spec.num_classes if run.conditional else 10
    labels = torch.arange(count, device=run.device) % run.spec.num_classes
    images = generate(run.generator, run.fixed_noise[:count], labels)
    titles = [run.spec.class_names[i] for i in labels.tolist()] if run.conditional else None
    path = run.folder.samples_dir / f"step_{run.step:06d}.png"
    save_grid(images, path, ncols=5, titles=titles, suptitle=f"{run.config.variant}, step {run.step}")
    run.pm.hook.ganlab_samples_made(run=run, step=run.step, images=images, labels=labels, path=path)


def save_final_grid(run: TrainingRun) -> None:
    """10 samples per class, a row per class (or a 10x10 grid for an unconditional run)."""
    labels = run.fixed_labels if run.conditional else torch.zeros(len(run.fixed_noise), dtype=torch.long,
                                                                    device=run.device)
    images = generate(run.generator, run.fixed_noise, labels)
    rows = list(run.spec.class_names) if run.conditional else None
    save_grid(images, run.folder.final_grid_file, ncols=SAMPLES_PER_CLASS_IN_FINAL_GRID, row_names=rows,
              suptitle=f"{run.config.variant}, step {run.step}")
    run.pm.hook.ganlab_samples_made(run=run, step=run.step, images=images, labels=labels,
                                    path=run.folder.final_grid_file)


def save_run_checkpoint(run: TrainingRun) -> None:
    """Save a checkpoint (never of broken weights: the last good one must stay the latest)."""
    for name, net in (("generator", run.generator), ("discriminator", run.discriminator)):
        if not all(torch.isfinite(p).all() for p in net.parameters()):
            raise DivergenceError(divergence_message(run, run.step, f"the {name}'s weights became non-finite"))
    path = run.folder.checkpoint_file(run.step)
    save_checkpoint(path, checkpoint_payload(run))
    if run.config.keep_checkpoints:  # prune only after the new one is safely on disk
        for old in run.folder.checkpoints()[:-run.config.keep_checkpoints]:
            old.unlink()
    run.folder.write_losses(run.records)
    save_loss_curve(run.records, run.folder.loss_curve_file, title=f"{run.config.variant} losses")
    run.pm.hook.ganlab_checkpoint_saved(run=run, step=run.step, path=path)
