# %% [markdown]
# # 5. Write your own variant
#
# Every GAN in ganlab is a **plugin**: a Python module whose functions, marked `@ganlab.hookimpl`, are
# named after the hooks in `ganlab/hookspecs.py`. The trainer asks the hooks for the networks, for how
# a label enters them, for the losses; it knows no variant by name. The built-in `gan` and `cgan` are
# written exactly like the plugin you are about to write.
#
# The variant: the **concatenating cGAN**, the textbook form of Mirza & Osindero (2014). Instead of
# multiplying by a learned embedding (the tutorial's cGAN, tutorial 3), it appends the label as a
# one-hot vector: G sees `[noise, onehot(label)]`, D sees `[flattened image, onehot(label)]`. Does the
# way the label goes in matter? We write the plugin, load it exactly as `ganlab run --plugin` does,
# train it beside the built-in cGAN and measure both.
#
# **Budget.** By default 3 000 steps for each of two runs. **Quick mode** (`--quick`) trains 80 steps
# and evaluates every 20, to check that every cell runs (CI runs it so): its pictures are noise and
# its numbers mean nothing.

# %%
import json
from pathlib import Path

import torch

import ganlab
from ganlab import (
    PluginError,
    RunConfig,
    compare,
    discover_plugins,
    format_table,
    generate,
    make_plugin_manager,
    prepare,
    sample,
    save_grid,
    train,
)

from tutorial_helpers import choose, load_mnist_for_evaluation, output_dir, show, warn_if_quick

OUT = output_dir("05")
STEPS = choose(3000, 80)
EVAL_EVERY = choose(500, 20)
LOG_EVERY = min(100, EVAL_EVERY)  # evaluations happen when numbers are read back (tutorial 4)
EVAL_SAMPLES = choose(1000, 200)
FINAL_SAMPLES = choose(5000, 300)
SEED = 0
DEVICE = "auto"

mnist = load_mnist_for_evaluation()  # in quick mode: 1 000 test images, for cheaper evaluations

# %% [markdown]
# ## The plugin
#
# A variant implements only the hooks it changes. This one changes the conditioning, so it implements
# three hooks:
#
# - `ganlab_is_conditional`: yes, G draws the class it is asked for (this turns on labelled grids,
#   `--per-class` sampling and the conditional-accuracy metric);
# - `ganlab_generator_conditioning`: the module that turns `(noise, labels)` into G's input;
# - `ganlab_discriminator_conditioning`: the module that turns `(images, labels)` into D's input.
#
# It builds no networks: it will borrow the plain GAN's MLPs, whose first layer is sized from whatever
# the conditioning produces (110 inputs for G, 794 for D). A hook implementation may take any subset
# of its hook's arguments: these take only `spec`, for the class count.
#
# The first line of the docstring is what `ganlab variants` shows. The plugin goes into a `.py` file,
# exactly what you would pass to `ganlab run --plugin concat_cgan.py`; the file's name is the
# plugin's name.

# %%
PLUGIN_SOURCE = '''\
"""Concatenating cGAN (Mirza & Osindero 2014): a one-hot label appended to G's noise and D's image.

    G's input:  [z, onehot(y)]            latent_dim + K numbers
    D's input:  [flatten(x), onehot(y)]   C*H*W + K numbers

Simplification: the paper first maps z and y through separate hidden layers (and uses maxout in D);
here both go straight into the first layer. The inputs are flat vectors, so combine this plugin with
networks that take a flat input of any size: --variant concat_cgan+gan.
"""
import torch
import torch.nn.functional as F
from torch import nn

import ganlab


class ConcatOneHot(nn.Module):
    """[flatten(inputs), onehot(labels)]: the label as K extra inputs, one of them 1, the rest 0."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.num_classes = num_classes

    def forward(self, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        one_hot = F.one_hot(labels, self.num_classes).to(inputs.dtype)
        return torch.cat([inputs.flatten(1), one_hot], dim=1)


@ganlab.hookimpl
def ganlab_is_conditional():
    return True


@ganlab.hookimpl
def ganlab_generator_conditioning(spec):
    return ConcatOneHot(spec.num_classes)


@ganlab.hookimpl
def ganlab_discriminator_conditioning(spec):
    return ConcatOneHot(spec.num_classes)
'''
plugin_file = OUT / "concat_cgan.py"
plugin_file.write_text(PLUGIN_SOURCE)

source = discover_plugins([str(plugin_file)])["concat_cgan"]
print(f"{source.name}: {source.description}")
print(f"  from {source.origin}")
print(f"  hooks: {', '.join(source.hooks)}")

# %% [markdown]
# ## Loading it: the same factory the CLI uses
#
# `make_plugin_manager(variant, plugin_files)` is what `ganlab run --variant ... --plugin ...` calls.
# The variant `concat_cgan+gan` registers two plugins, and **the one named first is asked first**:
# every hook concat_cgan implements is answered by it; the rest fall through to `gan` (the networks)
# and then to ganlab's defaults (the BCE losses, Adam). Here is the order in which each hook asks the
# plugins:

# %%
VARIANT = "concat_cgan+gan"
pm = make_plugin_manager(VARIANT, [str(plugin_file)])
for hook in ("ganlab_is_conditional", "ganlab_generator_conditioning", "ganlab_discriminator_conditioning",
             "ganlab_generator", "ganlab_discriminator", "ganlab_discriminator_loss", "ganlab_generator_loss",
             "ganlab_optimizer"):
    asked = [impl.plugin_name for impl in reversed(getattr(pm.hook, hook).get_hookimpls())]
    print(f"{hook:<36} {' -> '.join(asked)}")

# %% [markdown]
# For a hook that stops at the first answer, the first plugin listed wins. (Set `GANLAB_TRACE_PLUGINS=1`
# to have ganlab print which plugin answered each call during a real run.)
#
# Building the networks shows the conditioning at work: G's first layer takes 100 + 10 inputs, D's
# 784 + 10.

# %%
built = prepare(RunConfig(variant=VARIANT, plugin_files=[str(plugin_file)], seed=SEED, device="cpu"),
                mnist.spec, pm)
print("G:", built.generator.conditioning, "->", built.generator.network.layers[0])
print("D:", built.discriminator.conditioning, "->", built.discriminator.network.layers[0])
print("conditional:", built.conditional)

# %% [markdown]
# ## Mistakes are caught when plugins load
#
# A plugin with a typo in a hook's name would otherwise be silently ignored; ganlab refuses it and
# says what to fix. Two examples: a misspelt hook, and a variant in which nothing builds a generator
# (our plugin alone).

# %%
typo_file = OUT / "typo.py"
typo_file.write_text(PLUGIN_SOURCE.replace("def ganlab_generator_conditioning", "def ganlab_generator_conditionning"))
for variant, files in (("typo+gan", [str(typo_file)]), ("concat_cgan", [str(plugin_file)])):
    try:
        make_plugin_manager(variant, files)
    except PluginError as error:
        print(f"--variant {variant}:\n  {error}\n")

# %% [markdown]
# The second message suggests `gan+concat_cgan`; our `concat_cgan+gan` is the same variant, because
# the two plugins implement different hooks. Order decides only where two plugins implement the same
# hook: then the one named first answers.
#
# ## Training it beside the built-in cGAN
#
# Same seed, data and budget for both, with evaluation during training (tutorial 4 explains the
# metrics). ganlab copies each of `plugin_files` into the run folder (`plugins/concat_cgan.py`) and
# names the copy in `config.json`, so the run folder can be sampled and resumed later, even after the
# original file is gone: the run carries its own code.

# %%
runs = {}
for variant in (VARIANT, "cgan"):
    files = [str(plugin_file)] if variant == VARIANT else []  # the built-in cgan needs no plugin file
    config = RunConfig(variant=variant, plugin_files=files, steps=STEPS, seed=SEED, device=DEVICE,
                       eval_every=EVAL_EVERY, eval_samples=EVAL_SAMPLES, final_eval_samples=FINAL_SAMPLES,
                       sample_every=STEPS, log_every=LOG_EVERY, checkpoint_every=0,
                       out=str(OUT / "runs" / variant.replace("+", "_")))
    runs[variant] = train(config, dataset=mnist)

report = compare([run.folder.path for run in runs.values()], OUT / "report", n=FINAL_SAMPLES)
warn_if_quick("The report's numbers, and those below,")
show(report.with_suffix(".png"))
for variant, run in runs.items():
    values = json.loads(run.folder.metrics_file.read_text())
    print(f"--- {variant}")
    print(format_table(values))

# %% [markdown]
# **What you should see at the defaults.** The built-in cGAN's half of your report should resemble
# the gallery's cGAN at 3 000 steps (the step-3 000 panel below, from a 20 000-step run with the same
# seed); the concatenating cGAN is yours, so the gallery cannot show it. In quick mode both grids are
# noise: 80 steps are too few for either generator to leave its random start.
#
# ![cgan: one sample per digit from fixed noise, steps 200 to 20 000](../docs/gallery/cgan_progress.png)
#
# Which way of giving the label works better at this budget? Compare the conditional accuracy (does G
# draw the digit asked for? chance is 10 %) and the FD. One run per variant is weak evidence:
# differences of a few points can come from the seed alone, so repeat with other `SEED`s before
# believing a small gap. A gap of tens of points is another matter.
#
# To see *why* the numbers differ, draw the same ten noise vectors for every digit (column = one noise
# vector, row = the digit asked for), and compare with the same grid in tutorial 3:

# %%
def same_noise_images(run, seed=2):
    """A 10 x 10 block of images: [label, noise vector], from ten fixed noise vectors."""
    noise = torch.randn(10, run.config.latent_dim, generator=torch.Generator().manual_seed(seed))
    labels = torch.arange(10).repeat_interleave(10)
    return generate(run.generator, noise.repeat(10, 1).to(run.device), labels.to(run.device))


images = same_noise_images(runs[VARIANT])
save_grid(images, OUT / "same_noise.png", ncols=10, row_names=list(mnist.spec.class_names),
          suptitle=f"{VARIANT}: column = one noise vector")
show(OUT / "same_noise.png")

# How much does an image change when only the label changes, compared with when only the noise does?
warn_if_quick()
for variant, run in runs.items():
    block = same_noise_images(run).flatten(1).view(10, 10, -1)  # [label, noise, pixel]
    label_effect = block.std(dim=0).mean().item()  # same noise, different labels
    noise_effect = block.std(dim=1).mean().item()  # same label, different noise
    print(f"{variant:<16} pixel change from the label {label_effect:.3f}, from the noise {noise_effect:.3f}")

# %% [markdown]
# If a column barely changes down its rows, and the label's effect is a small fraction of the
# noise's, the generator is **mostly ignoring the label**: the noise decides the digit, and the
# conditional accuracy sits not far above chance. That is what the concatenating cGAN did when we ran this
# tutorial at its defaults, and the reason is in the shapes. The one-hot label is 10 of D's 794 inputs, each weighted
# like a pixel: D can do well by judging the image alone, so it barely checks whether image and label
# match, and then G gains nothing by following the label. The tutorial's multiplication puts the label
# into **every** input of both networks, where it cannot be overlooked. (Mirza & Osindero's own
# networks give the label a hidden layer of its own before joining it to the image's; the projection
# discriminator of tutorial 6 gives the label its own term in D's score.)
#
# Whether the concatenating cGAN learns to follow the label with a longer budget is a good first
# experiment with your own plugin: set `STEPS = 20000`, or try a variant that scales the one-hot
# label up, and measure again.
#
# The run folder is a normal ganlab run: `sample_from_run` (and `ganlab sample`) rebuild the variant
# from `config.json`, loading the plugin from the run folder's copy. Here it is asked for twenty 7s:
# if G ignores the label, they will not all be 7s.

# %%
run = runs[VARIANT]
sample(run.folder.path, OUT / "sevens.png", label=7, n=20, seed=3)
show(OUT / "sevens.png")

# %% [markdown]
# ## Shipping it: a package with an entry point
#
# A `--plugin` file is fine for experiments. To share a variant, put the module in a package and
# declare it in the `ganlab` entry-point group of the package's `pyproject.toml`; the entry point's
# name is the variant's name. After `pip install`, `ganlab variants` lists it and `--variant` finds it
# with no `--plugin` at all. This is how ganlab's own variants are registered, too.
#
# `examples/ganlab-lsgan/` in the ganlab repository is a complete package of that kind (a least-squares
# GAN); its `pyproject.toml`:

# %%
example = Path(ganlab.__file__).resolve().parents[1] / "examples" / "ganlab-lsgan" / "pyproject.toml"
if example.exists():
    print(example.read_text())
else:
    print("(examples/ is in the ganlab repository, not in an installed ganlab; see docs/writing-plugins.md)")

# %% [markdown]
# For this tutorial's plugin the package would hold `concat_cgan.py` and declare
#
# ```toml
# [project.entry-points.ganlab]
# concat_cgan = "concat_cgan"
# ```
#
# then:
#
# ```bash
# pip install ./my-ganlab-concat     # your package folder
# ganlab variants                    # concat_cgan  Concatenating cGAN ...  from my-ganlab-concat 0.1.0
# ganlab run --variant concat_cgan+gan
# ```
#
# `docs/writing-plugins.md` walks through every hook with its reasons, and how to run ganlab's
# contract tests (`tests/test_contract.py`) against your installed variant.
