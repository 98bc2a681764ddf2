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
the BCE losses of the original GAN, Adam) that every plugin overrides by implementing the same hook.

The shapes every plugin can rely on
-----------------------------------
- images are float tensors in [-1, 1] of shape (N, C, H, W), on the run's device;
- labels are int64 tensors of shape (N,), values in ``range(spec.num_classes)``;
- ``spec`` (:class:`ganlab.data.DatasetSpec`) gives the image shape and the class count: never assume
  28x28 or 10 classes;
- ``config`` (:class:`ganlab.config.RunConfig`) holds the run's settings; ``config.settings`` holds the
  plugin settings declared with :func:`ganlab_settings`.

Every network is called with the labels, ``network(inputs, labels)``, whether it uses them or not, so
that conditioning can live in the conditioning modules, in the networks, or in both.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # imported for the annotations only
    import torch
    from torch import nn

    from ganlab.config import RunConfig
    from ganlab.data import DatasetSpec
    from ganlab.trainer import TrainingRun

PROJECT_NAME = "ganlab"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)


def adversarial_scores(scores: torch.Tensor | tuple) -> torch.Tensor:
    """The real/fake logits out of a discriminator's output: the tensor itself, or a tuple's first item.

    The helper for loss plugins (and the trainer) that read only the adversarial scores.
    """
    return scores[0] if isinstance(scores, (tuple, list)) else scores


# --------------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------------
@hookspec
def ganlab_settings() -> dict[str, tuple[Any, str]]:
    """Declare the plugin's own settings, with their defaults.

    :returns: ``{name: (default, one-line help)}``. The default's type is the setting's type: a user's
        ``--set name=value`` is converted to it and rejected if it does not convert. Values end up in
        ``config.settings[name]`` for every hook to read. Two plugins may not declare the same name.
    """


# --------------------------------------------------------------------------------------------------
# Conditioning: how a label enters each network's input
# --------------------------------------------------------------------------------------------------
@hookspec(firstresult=True)
def ganlab_is_conditional(spec: DatasetSpec, config: RunConfig) -> bool | None:
    """Say whether the generator draws the class it is asked for.

    Conditional runs get labelled sample grids, ``--label``/``--per-class`` sampling and the
    conditional-accuracy metric. Stops at the first non-None result; the default is ``False``.
    """


@hookspec(firstresult=True)
def ganlab_generator_conditioning(spec: DatasetSpec, config: RunConfig) -> nn.Module | None:
    """Build the module that turns ``(noise, labels)`` into the generator network's input.

    :param spec: the dataset's image shape and class count.
    :param config: the run's settings; ``config.latent_dim`` is the noise size.
    :returns: an ``nn.Module`` called as ``module(noise, labels)`` with noise of shape
        (N, latent_dim); its output shape decides the generator's ``input_shape``. Its parameters are
        trained with the generator. The default passes the noise through unchanged. The tutorial's
        cGAN returns ``noise * Embedding(num_classes, latent_dim)(labels)``.
    Stops at the first non-None result.
    """


@hookspec(firstresult=True)
def ganlab_discriminator_conditioning(spec: DatasetSpec, config: RunConfig) -> nn.Module | None:
    """Build the module that turns ``(images, labels)`` into the discriminator network's input.

    :returns: an ``nn.Module`` called as ``module(images, labels)``; its output shape decides the
        discriminator's ``input_shape``. Its parameters are trained with the discriminator. The
        default passes the images through unchanged.
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
    :returns: an ``nn.Module`` called as ``network(inputs, labels)`` that returns images of shape
        (N, *spec.image_shape) in [-1, 1] (end with ``tanh``).
    Required: a variant with no plugin that answers this hook is refused when plugins load.
    Stops at the first non-None result.
    """


@hookspec(firstresult=True)
def ganlab_discriminator(
    spec: DatasetSpec, config: RunConfig, input_shape: tuple[int, ...]
) -> nn.Module | None:
    """Build the discriminator (or critic) network.

    :param input_shape: the shape of one conditioned input (without the batch dimension), e.g.
        ``(1, 28, 28)``.
    :returns: an ``nn.Module`` called as ``network(inputs, labels)`` that returns the scores: a
        tensor of shape (N,) of logits (no sigmoid), or a tuple whose first item is that tensor and
        whose other items only the variant's own loss hooks read (an auxiliary class head, say).
    Required. Stops at the first non-None result.
    """


# --------------------------------------------------------------------------------------------------
# Losses and the training schedule
# --------------------------------------------------------------------------------------------------
@hookspec(firstresult=True)
def ganlab_discriminator_loss(
    scores: torch.Tensor | tuple, labels: torch.Tensor, is_real: bool, config: RunConfig
) -> torch.Tensor | None:
    """The discriminator's loss on one batch, real or generated.

    :param scores: what the discriminator returned for the batch.
    :param labels: the batch's labels (the real labels, or the labels the fakes were drawn for).
    :param is_real: ``True`` for a batch of real images, ``False`` for generated ones.
    :returns: a scalar tensor to minimise. The trainer adds the real and the fake loss (and any
        :func:`ganlab_discriminator_penalty`) and minimises the sum. The default is the original
        GAN's binary cross-entropy, ``-log D(x)`` on real and ``-log(1 - D(G(z)))`` on fake images.
    Stops at the first non-None result.
    """


@hookspec
def ganlab_discriminator_penalty(
    discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor, real_labels: torch.Tensor,
    fake_labels: torch.Tensor, config: RunConfig
) -> torch.Tensor | None:
    """An extra term for the discriminator's loss, computed from both batches.

    WGAN-GP's gradient penalty is the example: it needs the discriminator itself and images between
    the real and the fake batch. Every plugin's non-None result is added to the discriminator's loss
    (with ``d_update="separate"``, to the fake batch's update, when both batches are at hand).

    :param discriminator: the discriminator, called as ``discriminator(images, labels)``.
    :param fake: the generated batch, detached from the generator.
    :returns: a scalar tensor, or None to add nothing.
    """


@hookspec
def ganlab_auxiliary_loss(
    scores: torch.Tensor | tuple, labels: torch.Tensor, role: str, is_real: bool | None, config: RunConfig
) -> torch.Tensor | None:
    """An extra term for a network's loss on one batch, computed from the discriminator's scores.

    For terms that ride along with whichever adversarial loss the variant uses: ACGAN's class
    cross-entropy on its discriminator's class head is the example, so ``acgan+hinge`` trains with
    the hinge loss *and* the class term. Every plugin's non-None result is added: to the
    discriminator's loss on each batch (``role="discriminator"``, ``is_real`` says which batch) and to
    the generator's loss (``role="generator"``, ``is_real=None``).

    :param scores: what the discriminator returned for the batch (a tuple if it has extra heads).
    :param labels: the batch's labels (the real ones, or the ones the fakes were drawn for).
    :returns: a scalar tensor, or None to add nothing.
    """


@hookspec(firstresult=True)
def ganlab_generator_loss(
    scores: torch.Tensor | tuple, labels: torch.Tensor, config: RunConfig
) -> torch.Tensor | None:
    """The generator's loss, given the discriminator's scores of generated images.

    :returns: a scalar tensor to minimise. The default is the non-saturating loss ``-log D(G(z))``.
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
# Observers: called by the trainer, their return values are ignored
# --------------------------------------------------------------------------------------------------
@hookspec
def ganlab_train_start(run: TrainingRun) -> None:
    """Called once, after the networks are built and before the first step."""


@hookspec
def ganlab_step_end(run: TrainingRun, step: int, records: list[dict[str, float]]) -> None:
    """Called after training steps, with their numbers read back from the device.

    Reading losses back after every step would make the CPU wait for the device at every step, so
    the trainer collects them on the device and calls this hook every ``config.log_every`` steps
    (and at the end) with one record per step since the last call.

    :param step: the number of the last step done (steps count from 1).
    :param records: ``{"step", "d_loss", "g_loss", "d_real_acc", "d_fake_acc"}`` per step.
    """


@hookspec
def ganlab_samples_made(
    run: TrainingRun, step: int, images: torch.Tensor, labels: torch.Tensor, path: Any
) -> None:
    """Called after a sample grid was drawn from the fixed noise and saved to ``path``."""


@hookspec
def ganlab_checkpoint_saved(run: TrainingRun, step: int, path: Any) -> None:
    """Called after a checkpoint was written (atomically) to ``path``."""


@hookspec
def ganlab_train_end(run: TrainingRun, interrupted: bool) -> None:
    """Called once when training stops: after the last step, or when it was interrupted."""
