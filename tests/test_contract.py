"""The contract every installed variant keeps, whoever wrote it: found through the entry points.

A plugin that builds both networks is tested as a variant of its own; one that does not (a loss-only
plugin such as hinge) is tested in front of the plain GAN, ``NAME+gan``, so that its hooks are asked
first and gan's networks fill in the rest.
"""
from __future__ import annotations

import functools
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ganlab import hookimpl
from ganlab.api import train
from ganlab.config import RunConfig
from ganlab.data import DatasetSpec
from ganlab.loading import load_run
from ganlab.plugins import REQUIRED_HOOKS, discover_plugins, make_plugin_manager
from ganlab.sampling import generate
from ganlab.training_run import prepare

from conftest import random_dataset

MNIST = DatasetSpec("mnist", (1, 28, 28), 10, tuple("0123456789"))
SOURCES = discover_plugins()


def as_variant(name: str) -> str:
    builds_networks = set(REQUIRED_HOOKS) <= set(SOURCES[name].hooks)
    return name if builds_networks else f"{name}+gan"


VARIANTS = sorted(as_variant(name) for name in SOURCES)


def test_every_built_in_variant_is_installed():
    assert {"gan", "cgan", "dcgan", "wgan-gp", "acgan", "projection", "hinge+gan"} <= set(VARIANTS)


@functools.cache
def built(variant: str):
    """One run per variant for the tests that only call the networks (in eval mode)."""
    run = prepare(RunConfig(variant=variant, seed=0, device="cpu"), MNIST, make_plugin_manager(variant))
    run.generator.eval(), run.discriminator.eval()
    return run


def quick_config(variant, **changes):
    values = dict(variant=variant, steps=3, batch_size=16, seed=0, device="cpu", log_every=1)
    return RunConfig(**{**values, **changes})


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_plugin_docstring_describes_it_and_names_its_paper(name):
    doc = SOURCES[name].module.__doc__ or ""
    assert SOURCES[name].description != "(no description: add a module docstring)"
    assert re.search(r"\b(19|20)\d\d\b", doc), f"{name}: name the paper (authors and year) in the docstring"


@pytest.mark.parametrize("variant", VARIANTS)
@settings(max_examples=5, deadline=5000)
@given(batch=st.integers(1, 40), label=st.integers(0, 9))
def test_samples_and_scores_have_the_contracts_shapes(variant, batch, label):
    run = built(variant)
    labels = torch.full((batch,), label)
    images = generate(run.generator, run.sample_latent(batch, torch.Generator().manual_seed(0)), labels)
    assert images.shape == (batch, *MNIST.image_shape) and images.dtype == torch.float32
    assert images.min() >= -1 and images.max() <= 1
    with torch.no_grad():
        scores = run.discriminator(images, labels)
    first = scores[0] if isinstance(scores, tuple) else scores
    assert first.shape == (batch,)


def is_conditional(variant: str) -> bool:
    return bool(make_plugin_manager(variant).hook.ganlab_is_conditional(spec=MNIST, config=RunConfig()))


@pytest.mark.parametrize("variant", [v for v in VARIANTS if is_conditional(v)])
def test_conditional_generators_draw_differently_for_each_label(variant):
    run = built(variant)
    images = generate(run.generator, run.sample_latent(1).repeat(10, 1), torch.arange(10))
    assert (images - images[0]).abs().flatten(1).amax(1)[1:].min() > 1e-5


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_few_training_steps_on_mnist_give_finite_losses_and_change_both_networks(variant, mnist):
    before = prepare(quick_config(variant), mnist.spec, make_plugin_manager(variant))
    run = train(quick_config(variant), dataset=mnist, quiet=True, write_files=False)
    assert [r["step"] for r in run.records] == [1, 2, 3]
    assert all(math.isfinite(r[key]) for r in run.records for key in ("d_loss", "g_loss"))
    for old, new in ((before.generator, run.generator), (before.discriminator, run.discriminator)):
        assert any(not torch.equal(a, b) for a, b in zip(old.parameters(), new.parameters()))


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_saved_run_restores_to_the_same_generator_and_discriminator(variant, mnist, tmp_path):
    config = quick_config(variant, steps=2, sample_every=1000, checkpoint_every=0, final_eval_samples=0,
                          out=str(tmp_path / "run"))  # no final evaluation: it takes longer than the run
    run = train(config, dataset=mnist, quiet=True)
    again = load_run(tmp_path / "run", device="cpu")
    assert again.step == 2 and again.config.settings == run.config.settings
    assert again.conditional == run.conditional
    noise, labels = run.sample_latent(20, torch.Generator().manual_seed(0)), torch.arange(20) % 10
    images = generate(run.generator, noise, labels)
    assert torch.equal(images, generate(again.generator, noise, labels))
    run.discriminator.eval(), again.discriminator.eval()
    with torch.no_grad():
        scores, restored = run.discriminator(images, labels), again.discriminator(images, labels)
    for a, b in zip(scores if isinstance(scores, tuple) else [scores],
                    restored if isinstance(restored, tuple) else [restored]):
        assert torch.equal(a, b)


class Observer:
    """A plugin that only watches: every observer hook, recording what it was told."""

    def __init__(self):
        self.calls = []

    @hookimpl
    def ganlab_train_start(self, run):
        self.calls.append(("train_start", run.step))

    @hookimpl
    def ganlab_step_end(self, step, records):
        self.calls.append(("step_end", step, len(records)))

    @hookimpl
    def ganlab_samples_made(self, step, images, path):
        self.calls.append(("samples_made", step, tuple(images.shape), path.name))

    @hookimpl
    def ganlab_checkpoint_saved(self, step, path):
        self.calls.append(("checkpoint_saved", step, path.name))

    @hookimpl
    def ganlab_train_end(self, interrupted, outcome):
        self.calls.append(("train_end", interrupted, outcome))


def test_observer_hooks_are_called_at_each_point_of_a_run(tmp_path):
    pm = make_plugin_manager("cgan")
    observer = Observer()
    pm.register(observer, name="observer")
    config = RunConfig(variant="cgan", steps=4, batch_size=8, seed=0, device="cpu", log_every=2,
                       sample_every=4, checkpoint_every=0, final_eval_samples=0, out=str(tmp_path / "run"))
    train(config, dataset=random_dataset(n=64), pm=pm, quiet=True)
    assert observer.calls == [
        ("train_start", 0),
        ("step_end", 2, 2), ("step_end", 4, 2),
        ("samples_made", 4, (10, 1, 28, 28), "step_000004.png"),
        ("checkpoint_saved", 4, "step_000004.pt"),
        ("samples_made", 4, (100, 1, 28, 28), "final_grid.png"),
        ("train_end", False, "finished"),
    ]


# --------------------------------------------------------------------------------------------------
# An out-of-tree plugin package, installed the way its users would install it
# --------------------------------------------------------------------------------------------------
EXAMPLE_PACKAGE = Path(__file__).resolve().parent.parent / "examples" / "ganlab-lsgan"


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory):
    """``pip install`` the example package into a folder of its own (offline: no index, no build deps)."""
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    shutil.copytree(EXAMPLE_PACKAGE, build / "ganlab-lsgan")  # setuptools writes build files next to it
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    "--no-build-isolation", "--target", str(target), str(build / "ganlab-lsgan")],
                   check=True, capture_output=True, timeout=120)
    return target


def test_an_installed_plugin_package_is_found_through_its_entry_point_and_trains(installed_example,
                                                                                 monkeypatch, mnist):
    monkeypatch.syspath_prepend(str(installed_example))
    source = discover_plugins()["lsgan"]
    assert source.origin == "ganlab-lsgan 0.1.0 (ganlab_lsgan)"
    pm = make_plugin_manager("dcgan+lsgan")
    assert pm.hook.ganlab_generator_loss.get_hookimpls()[-1].plugin_name == "lsgan"
    run = train(quick_config("dcgan+lsgan"), dataset=mnist, pm=pm, quiet=True, write_files=False,
                overrides={"g_width": 8, "d_width": 8})
    assert all(math.isfinite(r["d_loss"]) and r["d_loss"] >= 0 for r in run.records)
    monkeypatch.delitem(sys.modules, "ganlab_lsgan")  # the next test must not find it imported
