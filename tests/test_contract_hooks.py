"""The hooks that complete the contract: the latent, the sampling generator, plugin state, named terms,
the real/fake threshold, outcomes, and errors that name the plugin, the hook and the line."""
from __future__ import annotations

import csv
import math
import re
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

import ganlab
from ganlab import hookimpl
from ganlab.api import resume, train
from ganlab.checkpoints import load_checkpoint
from ganlab.config import RunConfig
from ganlab.errors import PluginError
from ganlab.loading import load_run
from ganlab.plugins import make_plugin_manager
from ganlab.training_run import prepare
from ganlab_plugins import ema, infogan, r1

from conftest import random_dataset

ROOT = Path(__file__).resolve().parents[1]


def config(tmp_path=None, **changes):
    values = dict(variant="cgan", steps=6, batch_size=8, seed=0, device="cpu", log_every=2, sample_every=1000,
                  checkpoint_every=0, final_eval_samples=0, out=str(tmp_path / "run") if tmp_path else None)
    return RunConfig(**{**values, **changes})


def write_plugin(tmp_path, name, source):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return str(path)


def columns(path):
    with open(path, newline="") as handle:
        return next(csv.reader(handle))


# --------------------------------------------------------------------------------------------------
# The latent: drawn by a hook, seen by the losses
# --------------------------------------------------------------------------------------------------
class LatentWatcher:
    """Draws a latent whose last column counts the batches, and records what the loss hooks see."""

    def __init__(self):
        self.drawn, self.seen = 0, []

    @hookimpl
    def ganlab_sample_latent(self, count, config, device, generator):
        if generator is not None:  # the fixed latent, evaluation and `ganlab sample`: seeded
            return torch.randn(count, config.latent_dim, generator=generator).to(device)
        self.drawn += 1
        return torch.cat([torch.randn(count, config.latent_dim - 1), torch.full((count, 1), float(self.drawn))], 1)

    @hookimpl
    def ganlab_discriminator_loss(self, latent, is_real):
        self.seen.append(("d", is_real, None if latent is None else latent[0, -1].item()))

    @hookimpl
    def ganlab_generator_loss(self, latent):
        self.seen.append(("g", None, latent[0, -1].item()))

    @hookimpl
    def ganlab_auxiliary_loss(self, latent, role, is_real):
        self.seen.append(("aux", role, is_real, None if latent is None else latent[0, -1].item()))

    @hookimpl
    def ganlab_discriminator_penalty(self, latent):
        self.seen.append(("penalty", latent[0, -1].item()))


def test_the_latent_hook_draws_every_fake_batch_and_its_latent_reaches_every_loss_hook():
    pm = make_plugin_manager("cgan")
    watcher = LatentWatcher()
    pm.register(watcher, name="watcher")
    train(config(steps=2), dataset=random_dataset(), pm=pm, quiet=True, write_files=False)
    assert watcher.drawn == 2  # one fake batch per step (one D update per step)
    assert watcher.seen[:6] == [("d", True, None), ("aux", "discriminator", True, None), ("d", False, 1.0),
                                ("aux", "discriminator", False, 1.0), ("penalty", 1.0), ("g", None, 1.0)]
    assert ("g", None, 2.0) in watcher.seen


def test_the_fixed_latent_comes_from_the_latent_hook_seeded_by_the_run():
    run = prepare(config(variant="infogan"), random_dataset().spec)
    assert run.fixed_latent.shape == (100, 100 + 10 + 2)
    codes = run.fixed_latent[:, 100:110]
    assert torch.equal(codes.sum(1), torch.ones(100)) and len(codes.argmax(1).unique()) > 5  # one-hot codes
    again = prepare(config(variant="infogan"), random_dataset().spec)
    assert torch.equal(run.fixed_latent, again.fixed_latent)


# --------------------------------------------------------------------------------------------------
# infogan: Q recovers the categorical code
# --------------------------------------------------------------------------------------------------
def test_infogan_q_recovers_the_categorical_code_above_chance_after_a_short_run(mnist):
    run = train(RunConfig(variant="infogan", steps=150, batch_size=32, seed=0, device="cpu", log_every=50),
                dataset=mnist, quiet=True, write_files=False)
    latent = run.sample_latent(1000, torch.Generator().manual_seed(1))
    images = ganlab.generate(run.generator, latent, torch.zeros(1000, dtype=torch.long))
    run.discriminator.eval()
    guessed = infogan.recovered_category(run.discriminator, images, run.config)
    accuracy = (guessed == latent[:, 100:110].argmax(1)).float().mean().item()
    assert accuracy > 0.25, accuracy  # chance is 0.1; 0.35 when written
    assert {"d_info_categorical", "g_info_categorical", "g_info_continuous"} <= set(run.records[-1])


def test_infogan_terms_are_the_papers_cross_entropy_and_gaussian_log_likelihood():
    cfg = RunConfig(settings={"categories": 3, "continuous_codes": 2, "info_weight": 1.0, "continuous_weight": 0.1},
                    latent_dim=4)
    latent = torch.tensor([[0., 0, 0, 0, 0, 1, 0, 0.5, -0.5]])
    guesses = torch.tensor([[0.0, 2.0, 0.0, 0.5, 0.5]])
    terms = infogan.ganlab_auxiliary_loss((torch.zeros(1), guesses), latent, cfg)
    assert terms["info_categorical"].item() == pytest.approx(-math.log(math.e ** 2 / (2 + math.e ** 2)))
    assert terms["info_continuous"].item() == pytest.approx(0.1 * 0.5 * (0 ** 2 + 1.0 ** 2))
    assert infogan.ganlab_auxiliary_loss((torch.zeros(1), guesses), None, cfg) is None  # real batch: no codes


# --------------------------------------------------------------------------------------------------
# ema: the sampling generator
# --------------------------------------------------------------------------------------------------
def test_ema_update_is_the_exponential_average_of_the_weights():
    generator = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    averaged = ema.AveragedGenerator(generator, decay=0.9)
    start = [p.clone() for p in averaged.average.parameters()]
    with torch.no_grad():
        for p in generator.parameters():
            p.add_(1.0)
        generator[1].running_mean.fill_(5.0)
    averaged.update(generator, step=1000)  # past the ramp-up: beta_t = 0.9
    for old, new, current in zip(start, averaged.average.parameters(), generator.parameters()):
        assert torch.allclose(new, 0.9 * old + 0.1 * current)
    assert torch.equal(averaged.average[1].running_mean, torch.full((2,), 5.0))  # buffers copied, not averaged
    assert averaged.decay_at(1) == pytest.approx(2 / 11) and averaged.decay_at(10 ** 6) == 0.9
    assert not any(p.requires_grad for p in averaged.parameters())


def test_ema_draws_the_grids_is_saved_in_checkpoints_and_is_what_sample_and_eval_use(tmp_path, mnist):
    run = train(config(tmp_path, variant="cgan+ema", steps=8, sample_every=4, final_eval_samples=200),
                dataset=mnist, quiet=True)
    assert run.sampling_name == "ema" and run.sampling_generator is not run.generator
    assert [i.plugin_name for i in run.pm.hook.ganlab_sampling_generator.get_hookimpls()] == ["ema"]
    payload = load_checkpoint(run.folder.checkpoints()[-1])
    assert set(payload["sampling_generator"]) == set(run.sampling_generator.state_dict())
    loaded = load_run(run.folder.path)
    for a, b in zip(loaded.sampling_generator.state_dict().values(), run.sampling_generator.state_dict().values()):
        assert torch.equal(a, b)
    labels, rng = torch.arange(10), lambda: torch.Generator().manual_seed(0)
    latent = loaded.sample_latent(10, rng())
    assert torch.equal(loaded.sample(labels, rng()), ganlab.generate(loaded.sampling_generator, latent, labels))
    assert not torch.equal(loaded.sample(labels, rng()), ganlab.generate(loaded.generator, latent, labels))
    assert ganlab.evaluate(run.folder.path, n=200)["sampled_from"] == "ema"
    assert (run.folder.samples_dir / "step_000004.png").exists()


# --------------------------------------------------------------------------------------------------
# Named terms become columns; d_loss and g_loss are the adversarial losses
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant, extra", [
    ("wgan-gp", ["d_gradient_penalty"]),
    ("acgan", ["d_class_loss", "g_class_loss"]),
    ("gan+r1", ["d_r1_penalty"]),
])
def test_penalty_and_auxiliary_terms_are_logged_as_their_own_columns(tmp_path, variant, extra):
    run = train(config(tmp_path, variant=variant, steps=2, checkpoint_every=2), dataset=random_dataset(), quiet=True)
    assert columns(run.folder.losses_file) == ["step", "d_loss", "g_loss", "d_real_acc", "d_fake_acc", *extra]
    assert all(math.isfinite(run.records[-1][name]) for name in extra)


def test_r1_penalty_is_gamma_over_two_times_the_squared_gradient_norm():
    weight = torch.randn(1, 4, 4)

    def critic(images, labels):  # D(x) = <w, x>: its gradient is w everywhere
        return (images * weight).flatten(1).sum(1)

    penalty = r1.r1_penalty(critic, torch.rand(5, 1, 4, 4), torch.zeros(5, dtype=torch.long))
    assert penalty.item() == pytest.approx(weight.pow(2).sum().item(), rel=1e-5)
    cfg = RunConfig(settings={"r1_gamma": 4.0})
    term = r1.ganlab_discriminator_penalty(critic, torch.rand(5, 1, 4, 4), torch.zeros(5, dtype=torch.long), cfg)
    assert term["r1_penalty"].item() == pytest.approx(2.0 * weight.pow(2).sum().item(), rel=1e-5)


# --------------------------------------------------------------------------------------------------
# The real/fake threshold
# --------------------------------------------------------------------------------------------------
class ConstantScores:
    """Every logit 0.3: above the default threshold 0 ("real"), below LSGAN's 0.5 ("fake")."""

    @hookimpl
    def ganlab_discriminator_loss(self, scores):
        return (scores * 0).sum() + 0.3 * 0  # keeps D's graph, changes nothing

    @hookimpl
    def ganlab_generator_loss(self, scores):
        return (scores * 0).sum()


def constant_d_records(threshold_plugin=None):
    pm = make_plugin_manager("gan")
    pm.register(ConstantScores(), name="constant")
    if threshold_plugin:
        pm.register(threshold_plugin, name="threshold")
    run = prepare(config(variant="gan", steps=1), random_dataset().spec, pm)
    with torch.no_grad():
        for p in run.discriminator.network.layers[-1].parameters():
            p.zero_()
        run.discriminator.network.layers[-1].bias.fill_(0.3)
    ganlab.register_observers(run, random_dataset(), quiet=True)
    from ganlab.trainer import RealBatches, run_loop

    run_loop(run, RealBatches(random_dataset(), run.device))
    return run.records[0]


def test_the_accuracy_columns_use_the_variants_real_fake_threshold():
    default = constant_d_records()
    assert default["d_real_acc"] == 1.0 and default["d_fake_acc"] == 0.0  # 0.3 > 0: "real"

    class LeastSquaresThreshold:
        @hookimpl
        def ganlab_real_fake_threshold(self):
            return 0.5

    lsgan = constant_d_records(LeastSquaresThreshold())
    assert lsgan["d_real_acc"] == 0.0 and lsgan["d_fake_acc"] == 1.0  # 0.3 < 0.5: "fake"


# --------------------------------------------------------------------------------------------------
# Plugin state in checkpoints; observer hooks with outcomes
# --------------------------------------------------------------------------------------------------
class StepCounter:
    """A stateful plugin: counts generator updates, and keeps the count across a resume."""

    def __init__(self):
        self.updates, self.restored, self.evaluations = 0, None, []

    @hookimpl
    def ganlab_generator_updated(self, step):
        self.updates += 1
        assert step == self.updates

    @hookimpl
    def ganlab_checkpoint_state(self):
        return {"counter": {"updates": self.updates}}

    @hookimpl
    def ganlab_restore_state(self, state):
        self.restored = state.get("counter")
        self.updates = self.restored["updates"]

    @hookimpl
    def ganlab_evaluated(self, step, metrics):
        self.evaluations.append((step, metrics["n_samples"]))


def test_plugin_state_is_stored_in_checkpoints_and_handed_back_on_resume(tmp_path, small_mnist_npz):
    data = ganlab.load_dataset("mnist", small_mnist_npz)
    pm = make_plugin_manager("cgan")
    counter = StepCounter()
    pm.register(counter, name="counter")
    run = train(config(tmp_path, steps=4, checkpoint_every=2, eval_every=2, eval_samples=50), dataset=data, pm=pm,
                quiet=True)
    assert counter.updates == 4 and counter.evaluations == [(2, 50), (4, 50)]
    assert load_checkpoint(run.folder.checkpoint_file(2))["plugin_state"] == {"counter": {"updates": 2},
                                                                            "watchdog": {"streak": 0, "warned": False}}
    resumed = resume(run.folder.path, steps=6, dataset=data, quiet=True)
    assert resumed.step == 6  # the counter plugin was not part of the resumed run: its state is kept, unread
    assert "counter" in load_checkpoint(run.folder.checkpoint_file(4))["plugin_state"]


def test_the_watchdog_streak_survives_a_resume(tmp_path):
    data = random_dataset(n=512)
    straight = train(config(tmp_path / "a", steps=10, checkpoint_every=5, watchdog_steps=3), dataset=data,
                     quiet=True)
    train(config(tmp_path / "b", steps=5, watchdog_steps=3), dataset=data, quiet=True)
    state = load_checkpoint(Path(tmp_path / "b" / "run" / "checkpoints" / "step_000005.pt"))["plugin_state"]
    assert state["watchdog"] == load_checkpoint(straight.folder.checkpoint_file(5))["plugin_state"]["watchdog"]
    resume(tmp_path / "b" / "run", steps=10, dataset=data, quiet=True)
    assert load_checkpoint(tmp_path / "b" / "run" / "checkpoints" / "step_000010.pt")["plugin_state"] == \
        load_checkpoint(straight.folder.checkpoint_file(10))["plugin_state"]


class Outcomes:
    def __init__(self):
        self.seen = []

    @hookimpl
    def ganlab_train_end(self, run, outcome, interrupted):
        self.seen.append((outcome, interrupted, run.step))


def test_a_failure_reaches_observers_as_failed_not_as_stopped(tmp_path):
    path = write_plugin(tmp_path, "boom", '''
        """Raises in its loss at the third step (a test plugin)."""
        import ganlab

        class Boom:
            calls = 0

            @ganlab.hookimpl
            def ganlab_generator_loss(self, scores):
                Boom.calls += 1
                if Boom.calls == 3:
                    raise ZeroDivisionError("a plugin bug")
                return -scores.mean()

        plugin = Boom()
        ganlab_generator_loss = plugin.ganlab_generator_loss
    ''')
    pm = make_plugin_manager("boom+gan", [path])
    outcomes = Outcomes()
    pm.register(outcomes, name="outcomes")
    with pytest.raises(PluginError):
        train(config(variant="boom+gan", steps=5), dataset=random_dataset(), pm=pm, quiet=True, write_files=False)
    assert outcomes.seen == [("failed", True, 2)]
    pm = make_plugin_manager("gan")
    outcomes = Outcomes()
    pm.register(outcomes, name="outcomes")
    train(config(variant="gan", steps=3), dataset=random_dataset(), pm=pm, quiet=True, write_files=False)
    assert outcomes.seen == [("finished", False, 3)]


# --------------------------------------------------------------------------------------------------
# Errors name the culprit
# --------------------------------------------------------------------------------------------------
def test_an_exception_in_a_loss_hook_names_the_plugin_the_hook_and_the_line(tmp_path):
    path = write_plugin(tmp_path, "buggy", '''
        """A loss with a bug (a test plugin)."""
        import ganlab

        @ganlab.hookimpl
        def ganlab_discriminator_loss(scores, is_real):
            return scores.mean() / undefined_name
    ''')
    with pytest.raises(PluginError) as error:
        train(config(variant="buggy+gan"), dataset=random_dataset(), quiet=True, write_files=False,
              pm=make_plugin_manager("buggy+gan", [path]))
    message = str(error.value)
    assert re.search(r'Plugin "buggy" failed in ganlab_discriminator_loss \(.*buggy\.py:7\)', message), message
    assert 'training step 1 of variant "buggy+gan"' in message and "NameError" in message


def test_a_loss_that_is_a_python_float_is_caught_where_it_is_returned(tmp_path):
    path = write_plugin(tmp_path, "floaty", '''
        """Returns a float instead of a tensor (a test plugin)."""
        import ganlab

        @ganlab.hookimpl
        def ganlab_generator_loss(scores):
            return float(scores.mean())
    ''')
    with pytest.raises(PluginError, match=r"ganlab_generator_loss must return a scalar tensor.*\(floaty\) returned "
                                          r"float"):
        train(config(variant="floaty+gan"), dataset=random_dataset(), quiet=True, write_files=False,
              pm=make_plugin_manager("floaty+gan", [path]))


def test_a_network_that_cannot_follow_the_conditioning_says_who_gave_which_shape(tmp_path):
    path = write_plugin(tmp_path, "concat", '''
        """Concatenates a one-hot label to the flattened input (a test plugin; Mirza & Osindero 2014)."""
        import torch
        import torch.nn.functional as F
        from torch import nn

        import ganlab

        class ConcatOneHot(nn.Module):
            def __init__(self, classes):
                super().__init__()
                self.classes = classes

            def forward(self, inputs, labels):
                return torch.cat([inputs.flatten(1), F.one_hot(labels, self.classes).float()], 1)

        @ganlab.hookimpl
        def ganlab_discriminator_conditioning(spec):
            return ConcatOneHot(spec.num_classes)
    ''')
    with pytest.raises(PluginError) as error:
        prepare(config(variant="dcgan+concat"), random_dataset().spec, make_plugin_manager("dcgan+concat", [path]))
    message = str(error.value)
    assert 'Plugin "dcgan" failed in ganlab_discriminator (' in message
    assert "need images of shape (C, H, W)" in message and "input_shape=(794,)" in message
    assert "concat's ganlab_discriminator_conditioning" in message


def test_settings_clash_only_when_two_plugins_declare_one_name_differently(tmp_path):
    path = write_plugin(tmp_path, "clash", '''
        """Declares init with another default (a test plugin)."""
        import ganlab

        @ganlab.hookimpl
        def ganlab_settings():
            return {"init": ("torch", "another default")}
    ''')
    with pytest.raises(PluginError, match=r'"cgan" and "clash" both declare the setting "init", with different'):
        make_plugin_manager("cgan+clash", [path])
    make_plugin_manager("cgan+wgan-gp")  # both declare init with the same default: a shared setting


def test_wgan_gp_declares_the_init_setting_it_reads(tmp_path, small_mnist_npz):
    run = train(config(variant="wgan-gp", steps=1, settings={"init": "torch"}),
                dataset=ganlab.load_dataset("mnist", small_mnist_npz), quiet=True, write_files=False)
    assert run.config.settings["init"] == "torch"


def test_plugins_read_settings_without_defaults_of_their_own():
    """One default per setting, in its declaration: a second default at a read site drifts."""
    offenders = [f"{p.name}:{n}" for p in (ROOT / "plugins").glob("*.py")
                 for n, line in enumerate(p.read_text().splitlines(), 1) if "settings.get(" in line]
    assert not offenders, offenders


def test_plugins_reuse_building_blocks_not_each_others_hook_implementations():
    offenders = [f"{p.name}: {line.strip()}" for p in (ROOT / "plugins").glob("*.py")
                 for line in p.read_text().splitlines()
                 if line.startswith("from ganlab_plugins") and "ganlab_" in line.split("import", 1)[1]]
    assert not offenders, offenders


# --------------------------------------------------------------------------------------------------
# The documented plugins are the tested ones
# --------------------------------------------------------------------------------------------------
def code_block(path: Path, marker: str) -> str:
    text = path.read_text()
    block = re.search(rf"<!-- {marker}-start -->\n```python\n(.*?)```\n<!-- {marker}-end -->", text, re.S)
    assert block, f"{path.name} has no {marker} block"
    return block.group(1)


def test_the_readme_plugin_example_is_the_example_package_file():
    example = (ROOT / "examples" / "ganlab-lsgan" / "ganlab_lsgan.py").read_text()
    assert code_block(ROOT / "README.md", "lsgan-plugin") == example


@pytest.mark.parametrize("variant", ["gan+lsgan", "acgan+lsgan", "cgan+lsgan"])
def test_the_example_lsgan_plugin_trains_behind_networks_and_with_acgans_tuple(tmp_path, variant):
    path = tmp_path / "lsgan.py"
    path.write_text((ROOT / "examples" / "ganlab-lsgan" / "ganlab_lsgan.py").read_text())
    run = train(config(variant=variant, steps=3, plugin_files=[str(path)]), dataset=random_dataset(), quiet=True,
                write_files=False)
    assert run.real_fake_threshold == 0.5
    assert all(math.isfinite(r["d_loss"]) and r["d_loss"] >= 0 for r in run.records)


def test_the_guides_network_building_plugin_trains_alone_and_behind_cgans_conditioning(tmp_path):
    path = tmp_path / "small.py"
    path.write_text(code_block(ROOT / "docs" / "writing-plugins.md", "networks-plugin"))
    for variant in ("small", "small+cgan"):
        run = train(config(variant=variant, steps=2, plugin_files=[str(path)], settings={"width": 32}),
                    dataset=random_dataset(), quiet=True, write_files=False)
        assert run.generator.network.layers[0].in_features == 100  # noise, or noise * embedding: (100,)
        assert run.discriminator.network.layers[0].in_features == 784
        assert run.conditional == (variant == "small+cgan")
