"""Building the two networks from the plugins' hooks, and checking them before any training.

The generator is ``conditioning(latent, labels)`` followed by the generator network; the
discriminator is ``conditioning(samples, labels)`` followed by the discriminator network. The shapes
flow from the data and the latent: the conditioning modules are run once on a tiny batch, and their
output shapes become the networks' ``input_shape``. Whatever goes wrong is reported naming the plugin
that answered the hook, and, for a network, which plugin's conditioning gave it which shape.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy
import torch
from torch import nn

from ganlab.config import RunConfig
from ganlab.data import DatasetSpec
from ganlab.errors import DataError, GanlabError, PluginError, is_out_of_memory
from ganlab.hookspecs import adversarial_scores
from ganlab.plugins import answering_plugins, describe_failure

PROBE_BATCH = 2  # the tiny batch the networks are checked on (BatchNorm needs at least 2)


class ConditionedNetwork(nn.Module):
    """A network with its conditioning in front: ``network(conditioning(x, labels), labels)``."""

    def __init__(self, conditioning: nn.Module, network: nn.Module):
        super().__init__()
        self.conditioning = conditioning
        self.network = network

    def forward(self, inputs: Any, labels: torch.Tensor):
        return self.network(self.conditioning(inputs, labels), labels)


def build_networks(pm: pluggy.PluginManager, spec: DatasetSpec, config: RunConfig,
                   device: torch.device) -> tuple[ConditionedNetwork, ConditionedNetwork]:
    """Ask the plugins for conditioning modules and networks; check what they build on a tiny batch."""
    hook = pm.hook
    g_conditioning = expect_module(pm, "ganlab_generator_conditioning",
                                   lambda: hook.ganlab_generator_conditioning(spec=spec, config=config))
    d_conditioning = expect_module(pm, "ganlab_discriminator_conditioning",
                                   lambda: hook.ganlab_discriminator_conditioning(spec=spec, config=config))
    latent = probe_latent(pm, config)
    labels = torch.zeros(PROBE_BATCH, dtype=torch.long)
    with torch.no_grad():
        g_input = _guarded(pm, "running the generator's conditioning on a probe latent",
                           lambda: g_conditioning(latent, labels))
        d_input = _guarded(pm, "running the discriminator's conditioning on a probe batch",
                           lambda: d_conditioning(torch.zeros(PROBE_BATCH, *spec.image_shape), labels))
    generator = _build_network(pm, "generator", g_input, spec, config)
    discriminator = _build_network(pm, "discriminator", d_input, spec, config)
    G = ConditionedNetwork(g_conditioning, generator).to(device)
    D = ConditionedNetwork(d_conditioning, discriminator).to(device)
    check_output_shapes(pm, G, D, spec, latent.to(device), device)
    return G, D


def probe_latent(pm: pluggy.PluginManager, config: RunConfig) -> torch.Tensor:
    """A latent batch of ``PROBE_BATCH`` from the latent hook, drawn from its own seeded generator
    (so building the networks never shifts the training's random stream)."""
    latent = _guarded(pm, "drawing a latent batch (ganlab_sample_latent)",
                      lambda: pm.hook.ganlab_sample_latent(count=PROBE_BATCH, config=config,
                                                           device=torch.device("cpu"),
                                                           generator=torch.Generator().manual_seed(0)))
    if not isinstance(latent, torch.Tensor) or latent.dim() == 0 or len(latent) != PROBE_BATCH:
        raise PluginError(
            f"ganlab_sample_latent must return a tensor whose first dimension is the count asked for "
            f"({PROBE_BATCH}), but the plugins asked ({answering_plugins(pm, 'ganlab_sample_latent')}) "
            f"returned {_describe(latent)}. Fix that hook."
        )
    return latent


def _build_network(pm, role: str, conditioned: torch.Tensor, spec, config) -> nn.Module:
    hook_name = f"ganlab_{role}"
    input_shape = tuple(conditioned.shape[1:])
    source = answering_plugins(pm, f"ganlab_{role}_conditioning").split(",")[0]
    return expect_module(
        pm, hook_name,
        lambda: getattr(pm.hook, hook_name)(spec=spec, config=config, input_shape=input_shape),
        context=f" It was given input_shape={input_shape}, the output of {source}'s "
                f"ganlab_{role}_conditioning; a network that needs another shape cannot follow that "
                f"conditioning (reorder or change the plugins of the variant).")


def expect_module(pm, hook_name: str, build: Callable[[], Any], context: str = "") -> nn.Module:
    """Call a hook that must build an ``nn.Module``; name the plugin if it raises or returns another thing."""
    value = _guarded(pm, f"building with {hook_name}", build, context)
    if not isinstance(value, nn.Module):
        raise PluginError(
            f"{hook_name} must return a torch.nn.Module, but the plugins asked "
            f"({answering_plugins(pm, hook_name)}) returned {type(value).__name__}. Fix that hook."
        )
    return value


def check_output_shapes(pm, G, D, spec: DatasetSpec, latent: torch.Tensor, device) -> None:
    """Run both networks once on the probe batch, so a shape mistake is caught before training."""
    labels = torch.zeros(PROBE_BATCH, dtype=torch.long, device=device)
    G.eval(), D.eval()
    with torch.no_grad():
        samples = _guarded(pm, "running the generator on a probe batch", lambda: G(latent, labels))
        expected = (PROBE_BATCH, *spec.image_shape)
        if not isinstance(samples, torch.Tensor) or tuple(samples.shape) != expected:
            raise PluginError(
                f"The generator ({answering_plugins(pm, 'ganlab_generator')}) returned {_describe(samples)} "
                f"for a batch of {PROBE_BATCH}; expected shape {expected}, the data's."
            )
        logits = adversarial_scores(_guarded(pm, "running the discriminator on a probe batch",
                                             lambda: D(samples, labels)))
        if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (PROBE_BATCH,):
            raise PluginError(
                f"The discriminator ({answering_plugins(pm, 'ganlab_discriminator')}) returned scores "
                f"{_describe(logits)} for a batch of {PROBE_BATCH}; expected shape ({PROBE_BATCH},), "
                f"one logit per sample."
            )
    G.train(), D.train()


def _guarded(pm, doing: str, call: Callable[[], Any], context: str = "") -> Any:
    try:
        return call()
    except GanlabError as exc:  # already a message; a shape the data cannot take (dcgan's "needs images")
        if context and isinstance(exc, DataError):  # also says which plugin made that shape
            exc.args = (f"{str(exc).rstrip()}{context}",)
        raise
    except Exception as exc:  # a plugin's bug is reported as the plugin's, with its message
        if is_out_of_memory(exc):  # networks too big for the memory: the request's size, not a bug
            raise MemoryError(str(exc).splitlines()[0]) from exc
        raise PluginError(describe_failure(exc, pm, doing) + context) from exc


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"
