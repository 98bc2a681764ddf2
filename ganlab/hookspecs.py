"""The plugin contract: every hook a ganlab plugin may implement.

This module is the plugin author's reference. A plugin is a module (or any object) whose functions are
marked with ``@ganlab.hookimpl`` and named after the hooks below; it implements only the hooks it
changes, and may take any subset of a hook's arguments.

How a variant is put together
-----------------------------
``--variant cgan`` selects the plugin registered under the name ``cgan``; ``--variant dcgan+hinge``
selects two, and **the plugin named first is asked first**: it answers every hook it implements, and
the next one fills in the rest. Hooks marked *first result* stop at the first plugin that returns
something other than ``None``. The core registers defaults for the optional hooks (no conditioning,
N(0, 1) noise, the BCE losses of the original GAN, Adam) that every plugin overrides by implementing
the same hook.

The shapes every plugin can rely on
-----------------------------------
- samples are float tensors in [-1, 1] on the run's device, of shape (N, *spec.sample_shape):
  images (N, C, H, W), or points (N, D) for the 2-D toy datasets;
- labels are int64 tensors of shape (N,), values in ``range(spec.num_classes)``;
- a latent batch is whatever :func:`ganlab_sample_latent` draws: by default noise of shape
  (N, ``config.latent_dim``);
- ``spec`` (:class:`ganlab.data.DatasetSpec`) gives the sample shape and the class count: never
  assume 28x28 or 10 classes;
- ``config`` (:class:`ganlab.config.RunConfig`) holds the run's settings; ``config.settings`` holds
  the plugin settings declared with :func:`ganlab_settings`, every one of them present.

Every network is called with the labels, ``network(inputs, labels)``, whether it uses them or not, so
that conditioning can live in the conditioning modules, in the networks, or in both.

Loss hooks receive the discriminator's real/fake logits, ``scores``, a tensor of shape (N,). A
discriminator may return extra heads as a tuple ``(logits, *extras)``; only the hooks that take
``outputs`` see the whole tuple.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # imported for the annotations only
    import torch
    from torch import nn

    from ganlab.config import RunConfig
    from ganlab.data import DatasetSpec

PROJECT_NAME = "ganlab"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""The marker every plugin uses: ``@ganlab.hookimpl def ganlab_generator(spec, config, input_shape): ...``"""

OUTCOMES = ("finished", "stopped", "failed")


def adversarial_scores(outputs: torch.Tensor | tuple[torch.Tensor, ...]) -> torch.Tensor:
    """The real/fake logits out of a discriminator's output: the tensor itself, or a tuple's first item.

    For plugins that call a discriminator themselves (a gradient penalty does): the loss hooks
    already receive the logits alone.
    """
    return outputs[0] if isinstance(outputs, (tuple, list)) else outputs


class RunView:
    """What observer hooks see of a run in progress: a narrow, read-only view.

    ``config``, ``spec``, ``device``, ``device_note``, ``conditional``, ``step`` (steps done so far),
    ``folder`` (the :class:`~ganlab.runs.RunFolder`, or None for a run without files),
    ``generator``, ``discriminator``, ``sampling_generator`` (the generator that draws grids and
    evaluation samples: the generator itself, or e.g. an average of its weights) and
    ``sampling_name`` (which plugin supplied it, or ``"generator"``). The networks are the live ones:
    do not change their weights from an observer.

    ``rank``: 0, or under ``torchrun`` this process's rank. Every rank trains and calls the hooks;
    only rank 0 has a ``folder`` (it alone writes files), and the core's observers run on rank 0 only.
    """

    def __init__(self, run: Any):
        self._run = run

    config = property(lambda self: self._run.config)
    spec = property(lambda self: self._run.spec)
    device = property(lambda self: self._run.device)
    device_note = property(lambda self: self._run.device_note)
    conditional = property(lambda self: self._run.conditional)
    step = property(lambda self: self._run.step)
    folder = property(lambda self: self._run.folder)
    generator = property(lambda self: self._run.generator)
    discriminator = property(lambda self: self._run.discriminator)
    sampling_generator = property(lambda self: self._run.sampling_generator)
    sampling_name = property(lambda self: self._run.sampling_name)
    rank = property(lambda self: self._run.world.rank)

    @property
    def notes(self) -> tuple[str, ...]:
        """Short warnings observers raised (the progress line shows them), oldest first."""
        return tuple(self._run.notes)

    def note(self, text: str) -> None:
        """Raise a short warning for the progress line, e.g. ``"D near-perfect"``."""
        if text not in self._run.notes:
            self._run.notes.append(text)

    def sample_latent(self, count: int, rng: torch.Generator | None = None) -> Any:
        """A latent batch from the variant's latent hook (draw from a CPU ``rng`` of your own)."""
        return self._run.sample_latent(count, rng)

    def answering(self, hook_name: str) -> str:
        """The plugin that a first-result hook asks first, e.g. which one computes the losses."""
        return str(self._run.answering(hook_name))

    def sample(self, labels: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        """Samples of the sampling generator for ``labels`` (N,), in inference mode, on the device.

        :param rng: a CPU ``torch.Generator`` to draw the latent from, so that observers never shift
            the training's random stream (evaluation uses its own seeded generator).
        """
        samples: torch.Tensor = self._run.sample(labels, rng)
        return samples

    def generator_loss(self, scores: torch.Tensor, labels: torch.Tensor, latent: Any = None) -> torch.Tensor:
        """The variant's generator loss for discriminator logits ``scores`` (for views of its gradient)."""
        loss: torch.Tensor = self._run.generator_loss(scores, labels, latent)
        return loss


# --------------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------------
@hookspec
def ganlab_settings() -> dict[str, tuple[Any, str]] | None:
    """Declare the plugin's own settings, with their defaults.

    :returns: ``{name: (default, one-line help)}``. The default's type is the setting's type: a user's
        ``--set name=value`` is converted to it and rejected if it does not convert. Values end up in
        ``config.settings[name]`` for every hook to read, without a default of their own. Declare
        every setting your hooks read. Two plugins of one variant may declare the same name only
        with the same default (a shared setting, e.g. ``init``); different defaults are a clash,
        refused when plugins load. A value of the right type but out of range (a dropout rate of
        -5) is for the hook that reads it to refuse with ``ganlab.ConfigError`` naming the setting:
        an error of another type is reported as a bug of the plugin.
    """


# --------------------------------------------------------------------------------------------------
# Conditioning and the latent: what enters each network
# --------------------------------------------------------------------------------------------------
@hookspec(firstresult=True)
def ganlab_is_conditional(spec: DatasetSpec, config: RunConfig) -> bool | None:
    """Say whether the generator draws the class it is asked for.

    Conditional runs get labelled sample grids, ``--label``/``--per-class`` sampling and the
    conditional-accuracy metric. Stops at the first non-None result; the default is ``False``.
    """


@hookspec(firstresult=True)
def ganlab_sample_latent(
    count: int, config: RunConfig, device: torch.device, generator: torch.Generator | None
) -> torch.Tensor | None:
    """Draw a batch of the generator's latent input (before conditioning).

    Used for every fake batch in training, and, with a seeded ``generator``, for the fixed noise of
    the sample grids and for evaluation and ``ganlab sample``. The loss, auxiliary-loss and penalty
    hooks receive the latent of the fake batch as ``latent``.

    :param count: how many latent vectors.
    :param generator: None in training (draw from torch's global stream on ``device``); otherwise a
        CPU ``torch.Generator`` to draw from, then move the result to ``device``.
    :returns: a tensor whose first dimension is ``count``. The default is N(0, 1) noise of shape
        (count, ``config.latent_dim``). InfoGAN returns noise followed by its latent codes.
    Stops at the first non-None result.
    """


@hookspec(firstresult=True)
def ganlab_generator_conditioning(spec: DatasetSpec, config: RunConfig) -> nn.Module | None:
    """Build the module that turns ``(latent, labels)`` into the generator network's input.

    :param spec: the dataset's sample shape and class count.
    :param config: the run's settings; ``config.latent_dim`` is the noise size.
    :returns: an ``nn.Module`` called as ``module(latent, labels)`` on a batch from
        :func:`ganlab_sample_latent`; its output shape decides the generator's ``input_shape``. Its
        parameters are trained with the generator. The default passes the latent through unchanged.
        The tutorial's cGAN returns ``noise * Embedding(num_classes, latent_dim)(labels)``.
    Stops at the first non-None result.
    """


@hookspec(firstresult=True)
def ganlab_discriminator_conditioning(spec: DatasetSpec, config: RunConfig) -> nn.Module | None:
    """Build the module that turns ``(samples, labels)`` into the discriminator network's input.

    :returns: an ``nn.Module`` called as ``module(samples, labels)``; its output shape decides the
        discriminator's ``input_shape``. Its parameters are trained with the discriminator. The
        default passes the samples through unchanged.
    Stops at the first non-None result.
    """


# --------------------------------------------------------------------------------------------------
# Networks
# --------------------------------------------------------------------------------------------------
@hookspec(firstresult=True)
def ganlab_generator(
    spec: DatasetSpec, config: RunConfig, input_shape: tuple[int, ...]
) -> nn.Module | None:
    """Build the generator network.

    :param input_shape: the shape of one conditioned input (without the batch dimension), e.g.
        ``(100,)`` for the tutorial's networks.
    :returns: an ``nn.Module`` called as ``network(inputs, labels)`` that returns samples of shape
        (N, *spec.sample_shape) in [-1, 1] (end with ``tanh``).
    Required: a variant with no plugin that answers this hook is refused when plugins load.
    Stops at the first non-None result.
    """


@hookspec(firstresult=True)
def ganlab_discriminator(
    spec: DatasetSpec, config: RunConfig, input_shape: tuple[int, ...]
) -> nn.Module | None:
    """Build the discriminator (or critic) network.

    :param input_shape: the shape of one conditioned input (without the batch dimension), e.g.
        ``(1, 28, 28)``. A network that needs a particular kind of input (an image for convolutions)
        should check it and say what it needs.
    :returns: an ``nn.Module`` called as ``network(inputs, labels)`` that returns the scores: a
        tensor of shape (N,) of logits (no sigmoid), or a tuple ``(logits, *extra_heads)`` whose
        extra heads only the hooks that take ``outputs`` read (an auxiliary class head, say).
    Required. Stops at the first non-None result.
    """


@hookspec(firstresult=True)
def ganlab_sampling_generator(generator: nn.Module, spec: DatasetSpec, config: RunConfig) -> nn.Module | None:
    """Supply the generator that draws sample grids, evaluation samples and ``ganlab sample``.

    Called once, after the networks are built. Its weights are saved in every checkpoint beside the
    networks and restored with them. The ``ema`` plugin returns a copy of the generator whose
    weights it averages in :func:`ganlab_generator_updated`.

    :param generator: the generator being trained (conditioning included).
    :returns: an ``nn.Module`` called like the generator, or None to sample from the generator itself
        (the default). Stops at the first non-None result.
    """


@hookspec
def ganlab_generator_updated(
    generator: nn.Module, sampling_generator: nn.Module, step: int, config: RunConfig
) -> None:
    """Called after every optimizer step of the generator (once per training step).

    :param sampling_generator: what :func:`ganlab_sampling_generator` supplied (the generator itself
        by default). The ``ema`` plugin moves its averaged weights towards the generator's here.
    :param step: the number of the step being finished (steps count from 1).
    """


# --------------------------------------------------------------------------------------------------
# Losses and the training schedule
# --------------------------------------------------------------------------------------------------
@hookspec(firstresult=True)
def ganlab_discriminator_loss(
    scores: torch.Tensor, labels: torch.Tensor, is_real: bool, config: RunConfig, latent: Any
) -> torch.Tensor | None:
    """The discriminator's adversarial loss on one batch, real or generated.

    :param scores: the discriminator's real/fake logits for the batch, shape (N,).
    :param labels: the batch's labels (the real labels, or the labels the fakes were drawn for).
    :param is_real: ``True`` for a batch of real samples, ``False`` for generated ones.
    :param latent: the latent the fakes were drawn from; None for the real batch.
    :returns: a scalar tensor to minimise. The trainer adds the real and the fake loss (and every
        auxiliary and penalty term) and minimises the sum. The default is the original GAN's binary
        cross-entropy, ``-log D(x)`` on real and ``-log(1 - D(G(z)))`` on fake samples. The
        ``d_loss`` column of losses.csv is the mean of the two.
    Stops at the first non-None result.
    """


@hookspec
def ganlab_discriminator_penalty(
    discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor, real_labels: torch.Tensor,
    fake_labels: torch.Tensor, config: RunConfig, latent: Any
) -> torch.Tensor | dict[str, torch.Tensor] | None:
    """An extra term for the discriminator's loss, computed from both batches.

    WGAN-GP's gradient penalty is the example: it needs the discriminator itself and samples between
    the real and the fake batch. Every plugin's non-None result is added to the discriminator's loss
    (with ``d_update="separate"``, to the fake batch's update, when both batches are at hand).

    :param discriminator: the discriminator, called as ``discriminator(samples, labels)``.
    :param fake: the generated batch, detached from the generator.
    :param latent: the latent the fake batch was drawn from.
    :returns: a scalar tensor (logged in losses.csv as ``d_penalty``), a dict of named scalar
        tensors (each added, and logged as its own column ``d_<name>``), or None to add nothing.
    """


@hookspec
def ganlab_auxiliary_loss(
    scores: torch.Tensor, outputs: tuple[torch.Tensor, ...], labels: torch.Tensor, role: str, is_real: bool | None,
    config: RunConfig, latent: Any
) -> torch.Tensor | dict[str, torch.Tensor] | None:
    """An extra term for a network's loss on one batch, computed from the discriminator's outputs.

    For terms that ride along with whichever adversarial loss the variant uses: ACGAN's class
    cross-entropy on its discriminator's class head, InfoGAN's mutual-information term on its Q head.
    Every plugin's non-None result is added: to the discriminator's loss on each batch
    (``role="discriminator"``, ``is_real`` says which batch) and to the generator's loss
    (``role="generator"``, ``is_real=None``).

    :param scores: the discriminator's real/fake logits for the batch, shape (N,).
    :param outputs: everything the discriminator returned, as a tuple ``(logits, *extra_heads)``.
    :param labels: the batch's labels (the real ones, or the ones the fakes were drawn for).
    :param latent: the latent the batch was drawn from; None for a real batch.
    :returns: a scalar tensor (logged in losses.csv as ``d_auxiliary``/``g_auxiliary``), a dict of
        named scalar tensors (each added, and logged as ``d_<name>``/``g_<name>``), or None.
    """


@hookspec(firstresult=True)
def ganlab_generator_loss(
    scores: torch.Tensor, labels: torch.Tensor, config: RunConfig, latent: Any
) -> torch.Tensor | None:
    """The generator's adversarial loss, given the discriminator's logits for generated samples.

    :param scores: the discriminator's real/fake logits for the generated batch, shape (N,).
    :param latent: the latent the batch was drawn from.
    :returns: a scalar tensor to minimise. The default is the non-saturating loss ``-log D(G(z))``.
        The ``g_loss`` column of losses.csv is this value (auxiliary terms have their own columns).
    Stops at the first non-None result.
    """


@hookspec(firstresult=True)
def ganlab_real_fake_threshold(config: RunConfig) -> float | None:
    """The score above which the discriminator calls a sample real (for its accuracy columns).

    The default is 0.0: a logit above 0 is a probability above 1/2. A loss with other targets says
    where its midpoint is: least squares with targets 0 and 1 returns 0.5. Only the logged
    ``d_real_acc``/``d_fake_acc`` and the watchdog use it; training does not.
    Stops at the first non-None result.
    """


@hookspec(firstresult=True)
def ganlab_discriminator_update(config: RunConfig) -> str | None:
    """How the discriminator learns from its two batches when ``--d-update`` is ``auto``.

    :returns: ``"joint"`` (one optimizer step on real + fake loss, as the GAN papers write it) or
        ``"separate"`` (an optimizer step on the real batch, then one on the fake batch, as the Keras
        tutorial's two ``train_on_batch`` calls do). The default is ``"joint"``.
    Stops at the first non-None result.
    """


@hookspec(firstresult=True)
def ganlab_discriminator_steps(config: RunConfig) -> int | None:
    """How many discriminator updates to make for each generator update (WGAN's n_critic).

    The default is 1. Stops at the first non-None result.
    """


@hookspec(firstresult=True)
def ganlab_optimizer(network: nn.Module, role: str, config: RunConfig) -> Any:
    """Build the optimizer for one network.

    :param network: the generator or the discriminator, conditioning module included.
    :param role: ``"generator"`` or ``"discriminator"``.
    :returns: a ``torch.optim.Optimizer``. The default is the tutorial's
        ``Adam(lr=config.lr, betas=(config.beta1, config.beta2))``.
    Stops at the first non-None result.
    """


# --------------------------------------------------------------------------------------------------
# Plugin state in checkpoints
# --------------------------------------------------------------------------------------------------
@hookspec
def ganlab_checkpoint_state(run: RunView) -> dict[str, Any] | None:
    """State a plugin keeps across a resume: returned here, stored in every checkpoint.

    :returns: ``{key: value}`` with a key of your own (your plugin's name), whose value holds only
        tensors, numbers, strings, bools, None, and lists/tuples/dicts of them (checkpoints load with
        ``weights_only=True``). Two plugins may not use one key. The discriminator watchdog stores its
        streak here, so a resumed run warns exactly when an uninterrupted one would.
    """


@hookspec
def ganlab_restore_state(run: RunView, state: dict[str, Any]) -> None:
    """Called when a checkpoint is loaded, before the first step, with every plugin's stored state.

    :param state: the merged dict of every :func:`ganlab_checkpoint_state` result the checkpoint
        holds; read your own key (it is absent for a checkpoint saved without your plugin).
    """


# --------------------------------------------------------------------------------------------------
# Observers: called by the trainer, their return values are ignored
# --------------------------------------------------------------------------------------------------
@hookspec
def ganlab_train_start(run: RunView) -> None:
    """Called once, after the networks are built (and a checkpoint restored) and before the next step."""


@hookspec
def ganlab_step_end(run: RunView, step: int, records: list[dict[str, float]]) -> None:
    """Called after training steps, with their numbers read back from the device.

    Reading losses back after every step would make the CPU wait for the device at every step, so
    the trainer collects them on the device and calls this hook every ``config.log_every`` steps
    (and at the end) with one record per step since the last call.

    :param step: the number of the last step done (steps count from 1).
    :param records: ``{"step", "d_loss", "g_loss", "d_real_acc", "d_fake_acc"}`` per step, plus one
        key per named auxiliary or penalty term (``"d_gradient_penalty"``, ``"g_class_loss"``, ...).
    """


@hookspec
def ganlab_samples_made(
    run: RunView, step: int, images: torch.Tensor, labels: torch.Tensor, path: Any
) -> None:
    """Called after a sample grid was drawn from the fixed latent and saved to ``path``."""


@hookspec
def ganlab_evaluated(run: RunView, step: int, metrics: dict[str, Any]) -> None:
    """Called after the run was measured (``--eval-every`` steps, and the final evaluation).

    :param metrics: the flat dict that metrics.json holds (see :mod:`ganlab.metrics`).
    """


@hookspec
def ganlab_checkpoint_saved(run: RunView, step: int, path: Any) -> None:
    """Called after a checkpoint was written (atomically) to ``path``."""


@hookspec
def ganlab_train_end(run: RunView, interrupted: bool, outcome: str) -> None:
    """Called once when training stops.

    :param outcome: ``"finished"`` (all steps done), ``"stopped"`` (Ctrl-C or SIGTERM, between steps,
        with a checkpoint saved) or ``"failed"`` (an error; the last checkpoint on disk is intact).
    :param interrupted: ``outcome != "finished"`` (kept for plugins written before ``outcome``).
    """
