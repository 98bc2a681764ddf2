"""Each variant's defining behaviour is real, and variants combine through pluggy's ordering alone."""
from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from ganlab.api import train
from ganlab.cli import cli
from ganlab.config import RunConfig
from ganlab.data import DatasetSpec, to_unit_range
from ganlab.errors import ConfigError, PluginError
from ganlab.plugins import make_plugin_manager, plugin_settings
from ganlab.trainer import named_terms, plus
from ganlab.training_run import prepare
from ganlab_plugins import acgan, hinge, wgan_gp

MNIST = DatasetSpec("mnist", (1, 28, 28), 10, tuple("0123456789"))


def build(variant, spec=MNIST, **overrides):
    return prepare(RunConfig(variant=variant, seed=0, device="cpu"), spec, make_plugin_manager(variant),
                   overrides=overrides)


def answering_plugin(pm, hook_name):
    """The plugin pluggy asks first for a hook (it calls the last of ``get_hookimpls()`` first)."""
    return getattr(pm.hook, hook_name).get_hookimpls()[-1].plugin_name


def spec_of(channels, height, width, classes=10):
    return DatasetSpec("any", (channels, height, width), classes, tuple(map(str, range(classes))))


# --------------------------------------------------------------------------------------------------
# dcgan
# --------------------------------------------------------------------------------------------------
@settings(max_examples=10, deadline=5000)
@given(channels=st.sampled_from([1, 3, 4]), size=st.sampled_from([8, 27, 28, 32, 64]), batch=st.integers(2, 5))
def test_dcgan_networks_follow_the_dataset_shape(channels, size, batch):
    run = build("dcgan", spec_of(channels, size, size), g_width=8, d_width=8)
    labels = torch.zeros(batch, dtype=torch.long)
    images = run.generator(torch.randn(batch, 100), labels)
    assert images.shape == (batch, channels, size, size)
    assert images.min() >= -1 and images.max() <= 1
    assert run.discriminator(images, labels).shape == (batch,)


@pytest.mark.parametrize("size, start, halvings", [(28, 7, 2), (32, 4, 3), (64, 4, 4), (27, 27, 0)])
def test_dcgan_generator_doubles_a_small_map_up_to_the_image(size, start, halvings):
    G = build("dcgan", spec_of(1, size, size)).generator.network
    assert G.start[1:] == (start, start)
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in G.modules()) == halvings
    assert any(isinstance(m, nn.BatchNorm2d) for m in G.modules()) == (halvings > 1)


def test_dcgan_discriminator_uses_strided_convolutions_leaky_relu_and_no_norm_on_its_first_layer():
    D = build("dcgan").discriminator.network
    convs = [m for m in D.features if isinstance(m, nn.Conv2d)]
    assert [c.stride for c in convs] == [(2, 2), (2, 2)]
    assert isinstance(D.features[1], nn.LeakyReLU) and D.features[1].negative_slope == 0.2
    assert isinstance(D.features[3], nn.BatchNorm2d)
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.Sigmoid)) for m in D.modules())
    layer_norm = build("dcgan", d_norm="layer").discriminator.network
    assert isinstance(layer_norm.features[3], nn.GroupNorm) and layer_norm.features[3].num_groups == 1


def test_dcgan_refuses_an_unknown_norm_naming_the_choices():
    with pytest.raises(ConfigError, match=r"d_norm must be one of batch, layer, none"):  # a setting: the user's fix
        build("dcgan", d_norm="instance")


# --------------------------------------------------------------------------------------------------
# composition: dcgan+cgan, dcgan+hinge, cgan+hinge
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant, answers", [
    ("dcgan+cgan", {"ganlab_generator": "dcgan", "ganlab_discriminator": "dcgan",
                    "ganlab_generator_conditioning": "cgan", "ganlab_discriminator_conditioning": "cgan",
                    "ganlab_is_conditional": "cgan", "ganlab_discriminator_loss": "ganlab.defaults"}),
    ("dcgan+hinge", {"ganlab_generator": "dcgan", "ganlab_discriminator_loss": "hinge",
                     "ganlab_generator_loss": "hinge", "ganlab_generator_conditioning": "ganlab.defaults"}),
    ("cgan+hinge", {"ganlab_generator": "cgan", "ganlab_discriminator_conditioning": "cgan",
                    "ganlab_discriminator_loss": "hinge", "ganlab_optimizer": "ganlab.defaults"}),
    ("hinge+wgan-gp", {"ganlab_discriminator_loss": "hinge", "ganlab_discriminator_penalty": "wgan-gp",
                       "ganlab_discriminator_steps": "wgan-gp", "ganlab_generator": "wgan-gp"}),
])
def test_the_first_named_plugin_answers_each_hook_it_implements(variant, answers):
    pm = make_plugin_manager(variant)
    assert {hook: answering_plugin(pm, hook) for hook in answers} == answers


SMALL_DCGAN = {"g_width": 8, "d_width": 8}  # narrow convolutions: a few steps in milliseconds


@pytest.mark.parametrize("variant, overrides", [("dcgan+cgan", SMALL_DCGAN), ("dcgan+hinge", SMALL_DCGAN),
                                                ("cgan+hinge", {}), ("projection+hinge", {})])
def test_combined_variants_train_a_few_steps_on_mnist(variant, overrides, mnist):
    config = RunConfig(variant=variant, steps=3, batch_size=16, seed=0, device="cpu", log_every=1)
    run = train(config, dataset=mnist, quiet=True, write_files=False, overrides=overrides)
    assert len(run.records) == 3
    assert all(math.isfinite(r["d_loss"]) and math.isfinite(r["g_loss"]) for r in run.records)


def test_dcgan_with_cgan_multiplies_the_image_and_the_noise_by_label_embeddings():
    run = build("dcgan+cgan", g_width=8, d_width=8)
    G, D = run.generator, run.discriminator
    assert D.conditioning.embedding.weight.shape == (10, 28 * 28)  # reshaped to the image, not flattened
    assert G.conditioning.embedding.weight.shape == (10, 100)
    image = torch.rand(1, 1, 28, 28) * 2 - 1
    expected = image * D.conditioning.embedding.weight[3].view(1, 1, 28, 28)
    assert torch.equal(D.conditioning(image, torch.tensor([3])), expected)
    G.eval(), D.eval()
    images = G(torch.randn(1, 100).repeat(10, 1), torch.arange(10))
    assert (images - images[0]).abs().flatten(1).amax(1)[1:].min() > 1e-5  # the label changes G's output
    assert D(image.repeat(10, 1, 1, 1), torch.arange(10)).unique().numel() == 10  # ... and D's score
    assert run.conditional


def test_trace_names_the_plugin_that_answered_each_hook(monkeypatch, capsys):
    monkeypatch.setenv("GANLAB_TRACE_PLUGINS", "2")  # 2: every call, as it happens
    build("dcgan+cgan", g_width=8, d_width=8)
    trace = capsys.readouterr().err
    for line in ("ganlab_generator: answered by dcgan", "ganlab_discriminator: answered by dcgan",
                 "ganlab_generator_conditioning: answered by cgan", "ganlab_optimizer: answered by ganlab.defaults"):
        assert line in trace


def test_a_loss_only_plugin_alone_is_refused_for_lack_of_a_generator():
    with pytest.raises(PluginError, match=r'Variant "hinge" provides no generator.*gan\+hinge'):
        make_plugin_manager("hinge")


def test_settings_of_all_combined_plugins_are_declared_once():
    pm = make_plugin_manager("dcgan+cgan+wgan-gp")
    assert [impl.plugin_name for impl in pm.hook.ganlab_settings.get_hookimpls()] == ["wgan-gp", "cgan", "dcgan"]
    declared = plugin_settings(pm)
    assert {"g_width", "d_width", "d_norm", "init", "d_dropout", "gp_weight", "n_critic"} <= set(declared)
    assert declared["gp_weight"][2] == "wgan-gp" and declared["g_width"][2] == "dcgan"


# --------------------------------------------------------------------------------------------------
# wgan-gp
# --------------------------------------------------------------------------------------------------
class LinearCritic(nn.Module):
    """D(x) = <w, x>: its gradient is w at every x, so its gradient norm is ||w|| everywhere."""

    def __init__(self, shape, norm):
        super().__init__()
        weight = torch.randn(shape)
        self.weight = nn.Parameter(weight * norm / weight.norm())

    def forward(self, images, labels):
        return (images * self.weight).flatten(1).sum(1)


@settings(max_examples=10, deadline=3000)
@given(shape=st.sampled_from([(1, 28, 28), (3, 8, 8), (2, 5, 7)]), batch=st.integers(1, 16))
def test_gradient_penalty_vanishes_for_a_1_lipschitz_critic(shape, batch):
    critic = LinearCritic(shape, norm=1.0)  # unit norm over all of C x H x W, not over any one axis
    real, fake = torch.rand(batch, *shape), torch.rand(batch, *shape)
    penalty = wgan_gp.gradient_penalty(critic, real, fake, torch.zeros(batch, dtype=torch.long))
    assert penalty.item() == pytest.approx(0.0, abs=1e-8)


@pytest.mark.parametrize("norm, expected", [(2.0, 1.0), (0.5, 0.25), (3.0, 4.0)])
def test_gradient_penalty_is_the_squared_distance_of_the_norm_from_one(norm, expected):
    critic = LinearCritic((1, 28, 28), norm)
    penalty = wgan_gp.gradient_penalty(critic, torch.rand(8, 1, 28, 28), torch.rand(8, 1, 28, 28),
                                       torch.zeros(8, dtype=torch.long))
    assert penalty.item() == pytest.approx(expected, rel=1e-4)


def test_gradient_penalty_mixes_each_sample_with_its_own_weight():
    seen = []

    class Recorder(LinearCritic):
        def forward(self, images, labels):
            seen.append(images.detach())
            return super().forward(images, labels)

    real, fake = torch.zeros(64, 3, 4, 4), torch.ones(64, 3, 4, 4)  # so that x^ = 1 - eps, pixel by pixel
    wgan_gp.gradient_penalty(Recorder((3, 4, 4), 1.0), real, fake, torch.zeros(64, dtype=torch.long))
    eps = (1 - seen[0]).flatten(1)
    assert torch.equal(eps, eps[:, :1].expand_as(eps))  # one weight for all of a sample's C x H x W
    assert eps[:, 0].std() > 0.1 and eps.min() >= 0 and eps.max() <= 1  # a different one per sample


def test_gradient_penalty_trains_the_critic_through_its_gradient():
    critic = LinearCritic((1, 4, 4), norm=2.0)
    penalty = wgan_gp.gradient_penalty(critic, torch.rand(4, 1, 4, 4), torch.rand(4, 1, 4, 4),
                                       torch.zeros(4, dtype=torch.long))
    penalty.backward()  # needs create_graph=True: the penalty depends on D's weights through a gradient
    assert critic.weight.grad is not None and critic.weight.grad.norm() > 0


def test_wgan_gp_penalty_hook_weights_the_penalty_by_gp_weight():
    pm = make_plugin_manager("wgan-gp")
    critic, real, fake = LinearCritic((1, 28, 28), 2.0), torch.rand(4, 1, 28, 28), torch.rand(4, 1, 28, 28)
    labels = torch.zeros(4, dtype=torch.long)
    for weight in (10.0, 5.0):
        config = RunConfig(variant="wgan-gp", settings={"gp_weight": weight})
        [penalty] = pm.hook.ganlab_discriminator_penalty(discriminator=critic, real=real, fake=fake,
                                                         real_labels=labels, fake_labels=labels, config=config,
                                                         latent=None)
        # (||w|| - 1)^2 = 1, times lambda; named, so losses.csv logs it as d_gradient_penalty
        assert penalty["gradient_penalty"].item() == pytest.approx(weight, rel=1e-4)


def test_wasserstein_losses_have_the_papers_signs():
    scores = torch.tensor([1.0, 2.0, 6.0])
    assert wgan_gp.ganlab_discriminator_loss(scores, is_real=True).item() == -3.0
    assert wgan_gp.ganlab_discriminator_loss(scores, is_real=False).item() == 3.0
    assert wgan_gp.ganlab_generator_loss(scores).item() == -3.0
    critic = build("wgan-gp").discriminator
    assert not any(isinstance(m, (nn.Sigmoid, nn.BatchNorm1d)) for m in critic.modules())
    assert all(m.p == 0 for m in critic.modules() if isinstance(m, nn.Dropout))


def test_wgan_gp_makes_n_critic_updates_per_generator_update_with_the_papers_adam(mnist):
    run = train(RunConfig(variant="wgan-gp", steps=2, batch_size=8, seed=0, device="cpu"), dataset=mnist,
                quiet=True, write_files=False)
    d_state, g_state = run.opt_d.state_dict(), run.opt_g.state_dict()
    assert int(next(iter(d_state["state"].values()))["step"]) == 10  # 2 steps x n_critic 5
    assert int(next(iter(g_state["state"].values()))["step"]) == 2
    assert d_state["param_groups"][0]["lr"] == 1e-4 and d_state["param_groups"][0]["betas"] == (0.0, 0.9)
    pm = make_plugin_manager("wgan-gp")
    assert pm.hook.ganlab_discriminator_steps(config=RunConfig(settings={"n_critic": 2})) == 2


@pytest.mark.parametrize("setting, value", [("n_critic", 0), ("gp_weight", -1.0), ("wgan_beta2", 1.0)])
def test_wgan_gp_refuses_settings_out_of_range(setting, value):
    with pytest.raises(ConfigError, match=rf"{setting}={value!r}"):
        build("wgan-gp", **{setting: value})


def test_settings_are_shown_by_variants_verbose_and_set_from_the_command_line(tmp_path, small_mnist_npz):
    shown = CliRunner().invoke(cli, ["variants", "--verbose"]).output
    assert "--set gp_weight=10.0" in shown and "--set n_critic=5" in shown and "--set d_norm='batch'" in shown
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", "--variant", "wgan-gp", "--steps", "1", "--batch-size", "4",
                                      "--data", small_mnist_npz, "--out", str(out), "--quiet", "--device", "cpu",
                                      "--final-eval-samples", "0",
                                      "--set", "gp_weight=5", "--set", "n_critic=2"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["config"]["settings"]["gp_weight"] == 5.0
    bad = CliRunner().invoke(cli, ["run", "--variant", "wgan-gp", "--set", "gp_weight=lots"])
    assert bad.exit_code != 0 and 'Setting "gp_weight" must be a float' in bad.output


# --------------------------------------------------------------------------------------------------
# acgan
# --------------------------------------------------------------------------------------------------
def test_acgan_discriminator_returns_real_fake_logits_and_class_logits():
    run = build("acgan")
    adversarial, classes = run.discriminator(torch.rand(5, 1, 28, 28), torch.zeros(5, dtype=torch.long))
    assert adversarial.shape == (5,) and classes.shape == (5, 10)
    assert run.conditional


@pytest.mark.parametrize("variant", ["acgan", "acgan+hinge"])
def test_acgan_adds_the_class_cross_entropy_to_whichever_adversarial_loss_the_variant_uses(variant):
    adversarial, classes, labels = torch.tensor([0.3, -1.2]), torch.randn(2, 10), torch.tensor([4, 7])
    class_loss = F.cross_entropy(classes, labels)
    if variant == "acgan":  # the core's BCE
        real = F.binary_cross_entropy_with_logits(adversarial, torch.ones(2))
        fake = F.binary_cross_entropy_with_logits(adversarial, torch.zeros(2))
        generator = real
    else:  # hinge
        real, fake = F.relu(1 - adversarial).mean(), F.relu(1 + adversarial).mean()
        generator = -adversarial.mean()
    pm, config, outputs = make_plugin_manager(variant), RunConfig(variant=variant), (adversarial, classes)
    hook = pm.hook

    def with_terms(loss, role, prefix, is_real):  # the trainer's own way of adding auxiliary terms
        results = hook.ganlab_auxiliary_loss(scores=adversarial, outputs=outputs, labels=labels, role=role,
                                             is_real=is_real, config=config, latent=None)
        terms = named_terms(pm, "ganlab_auxiliary_loss", prefix, "auxiliary", results)
        assert list(terms) == [f"{prefix}_class_loss"]  # logged as its own column of losses.csv
        return plus(loss, terms)

    def d_loss(is_real):
        loss = hook.ganlab_discriminator_loss(scores=adversarial, labels=labels, is_real=is_real, config=config,
                                              latent=None)
        return with_terms(loss, "discriminator", "d", is_real)

    g_loss = with_terms(hook.ganlab_generator_loss(scores=adversarial, labels=labels, config=config, latent=None),
                        "generator", "g", None)
    assert torch.allclose(d_loss(True), real + class_loss) and torch.allclose(d_loss(False), fake + class_loss)
    assert torch.allclose(g_loss, generator + class_loss)
    assert torch.allclose(acgan.ganlab_auxiliary_loss(outputs, labels)["class_loss"], class_loss)


def test_acgan_class_head_learns_to_classify_real_digits(mnist):
    """The class loss trains the head: after 60 steps D names the class of most held-out real digits."""
    images = to_unit_range(torch.from_numpy(mnist.x_test[:1000]))
    labels = torch.from_numpy(mnist.y_test[:1000]).long()

    def accuracy(run):
        run.discriminator.eval()
        with torch.no_grad():
            return (run.discriminator(images, labels)[1].argmax(1) == labels).float().mean().item()

    before = accuracy(build("acgan"))
    after = accuracy(train(RunConfig(variant="acgan", steps=60, batch_size=32, seed=0, device="cpu"),
                           dataset=mnist, quiet=True, write_files=False))
    assert before < 0.3 and after > 0.5, (before, after)  # 0.1 is chance; 0.71 when written


def test_acgan_behind_a_network_without_class_head_says_how_to_order_it(small_mnist_npz, tmp_path):
    with pytest.raises(TypeError, match=r"acgan\+dcgan, not dcgan\+acgan"):
        acgan.ganlab_auxiliary_loss((torch.zeros(3),), torch.zeros(3, dtype=torch.long))
    result = CliRunner().invoke(cli, ["run", "--variant", "dcgan+acgan", "--data", small_mnist_npz, "--steps", "2",
                                      "--device", "cpu", "--quiet", "--out", str(tmp_path / "run")])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert 'Plugin "acgan" failed in ganlab_auxiliary_loss (plugins/acgan.py:' in result.output
    assert 'training step 1 of variant "dcgan+acgan"' in result.output and "not dcgan+acgan" in result.output


# --------------------------------------------------------------------------------------------------
# projection
# --------------------------------------------------------------------------------------------------
@settings(max_examples=10, deadline=2000)
@given(a=st.integers(0, 9), b=st.integers(0, 9))
def test_projection_score_changes_with_the_label_by_the_embedding_inner_product(a, b):
    D = build("projection").discriminator
    D.eval()
    image = torch.rand(1, 1, 28, 28) * 2 - 1
    with torch.no_grad():
        score_a, score_b = D(image, torch.tensor([a])), D(image, torch.tensor([b]))
        features = D.network.phi(image.flatten(1))[0]
        embed = D.network.embed.weight
        assert torch.allclose(score_a - score_b, (embed[a] - embed[b]) @ features, atol=1e-5)
    assert (a == b) == torch.equal(score_a, score_b)


def test_projection_discriminator_sees_the_bare_image():
    run = build("projection")
    image = torch.rand(2, 1, 28, 28)
    assert torch.equal(run.discriminator.conditioning(image, torch.tensor([1, 2])), image)
    assert run.conditional and run.generator.conditioning.embedding.weight.shape == (10, 100)


# --------------------------------------------------------------------------------------------------
# hinge
# --------------------------------------------------------------------------------------------------
def test_hinge_losses_on_known_scores():
    scores = torch.tensor([2.0, 0.5, -3.0])
    assert hinge.ganlab_discriminator_loss(scores, is_real=True).item() == pytest.approx((0 + 0.5 + 4) / 3)
    assert hinge.ganlab_discriminator_loss(scores, is_real=False).item() == pytest.approx((3 + 1.5 + 0) / 3)
    assert hinge.ganlab_generator_loss(scores).item() == pytest.approx(0.5 / 3)


@settings(max_examples=30, deadline=1000)
@given(st.lists(st.floats(-50, 50), min_size=1, max_size=20))
def test_hinge_discriminator_loss_is_zero_only_beyond_the_margin(values):
    scores = torch.tensor(values)
    real, fake = hinge.ganlab_discriminator_loss(scores, True), hinge.ganlab_discriminator_loss(scores, False)
    assert real >= 0 and fake >= 0
    assert (real.item() == 0) == bool((scores >= 1).all())
    assert (fake.item() == 0) == bool((scores <= -1).all())
