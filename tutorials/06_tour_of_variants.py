# %% [markdown]
# # 6. A tour of the other variants
#
# ganlab ships more variants than the tutorial's two. Each is one plugin file in `plugins/`, and each
# changes one thing about the GAN: the networks, the losses, or how the label gets in. This tutorial
# trains them on one short budget, with one seed, and puts them side by side.
#
# | variant | what it changes | paper |
# | --- | --- | --- |
# | `cgan` | (the baseline: the tutorial's cGAN) | Mirza & Osindero 2014 |
# | `dcgan` | the **networks**: convolutions instead of MLPs | Radford et al. 2015 |
# | `wgan-gp` | the **loss**: a Wasserstein critic, a gradient penalty, 5 critic steps per G step | Gulrajani 2017 |
# | `acgan` | the **label**: D also names the digit; G is rewarded when D reads the digit asked for | Odena 2017 |
# | `projection` | the **label**: enters D as an inner product with D's features | Miyato & Koyama 2018 |
# | `projection+hinge` | projection with the **hinge loss**, as its paper trains it | Lim & Ye 2017 |
#
# A short budget favours variants that learn fast per step, so read this as a first look, not a
# ranking: `STEPS` below sets the budget (default 2 000 steps each; the MLP variants need about that
# long before their digits can be told apart; wgan-gp, with five critic updates per step, takes about
# a third of the time). **Quick mode** (`--quick`) trains 20 steps each, to check that every cell runs
# (CI runs it so): its grids are noise and **its numbers mean nothing**. A flat grey image can then
# get the best FD of the six, because every other variant's noise is further from digits than grey
# is. The gallery's runs at 5 000 steps are shown at the end, beside your report.

# %%
import json

from matplotlib.figure import Figure
from matplotlib.image import imread

from ganlab import RunConfig, compare, discover_plugins, train

from tutorial_helpers import QUICK, choose, load_mnist_for_evaluation, output_dir, show, warn_if_quick

OUT = output_dir("06")
VARIANTS = ["cgan", "dcgan", "wgan-gp", "acgan", "projection", "projection+hinge"]
STEPS = choose(2000, 20)
EVAL_EVERY = choose(500, 0)  # 0 = only the final evaluation
EVAL_SAMPLES = choose(1000, 200)
FINAL_SAMPLES = choose(2000, 200)
SEED = 0
DEVICE = "auto"

mnist = load_mnist_for_evaluation()  # in quick mode: 1 000 test images, for cheaper evaluations

# %% [markdown]
# ## What each plugin is made of
#
# `discover_plugins` finds every installed variant (what `ganlab variants` lists): its one-line
# description, where it comes from, and the hooks it implements. A variant that names two plugins
# (`projection+hinge`) gets each hook from the first plugin that implements it.

# %%
installed = discover_plugins()
for name in sorted({part for variant in VARIANTS for part in variant.split("+")}):
    source = installed[name]
    print(f"{name}: {source.description}")
    print(f"    hooks: {', '.join(hook.removeprefix('ganlab_') for hook in source.hooks)}")
    declared = getattr(source.module, "ganlab_settings", None)  # as `ganlab variants -v` reads them
    if declared:
        print(f"    settings (--set NAME=VALUE): {({key: default for key, (default, _) in declared().items()})}")

# %% [markdown]
# Some things to notice before training:
#
# - **dcgan** implements only the two network hooks: the losses are the core's defaults (BCE). It is
#   unconditional, like the plain GAN, but `--variant dcgan+cgan` would add the cGAN's label
#   embeddings in front of its convolutions, with no new code.
# - **wgan-gp** replaces everything about training: the losses, a penalty term, the number of critic
#   updates per generator update (`discriminator_steps`), and its own optimizer (Adam with the paper's
#   1e-4 and betas (0, 0.9)). One of its steps costs about five plain steps.
# - **acgan**'s discriminator returns two things, a real/fake logit and ten class logits; its loss
#   hooks read both. **projection**'s returns one logit, into which the label has been mixed.
# - **hinge** builds no networks at all: it is only a loss, so it always comes after a plugin that
#   builds networks.
#
# ## Training them all
#
# The same seed, data, budget and evaluation for every variant. Watch the steps per second: the
# variants differ a lot in cost per step.

# %%
runs = {}
for variant in VARIANTS:
    config = RunConfig(variant=variant, steps=STEPS, seed=SEED, device=DEVICE, eval_every=EVAL_EVERY,
                       eval_samples=EVAL_SAMPLES, final_eval_samples=FINAL_SAMPLES, sample_every=STEPS,
                       checkpoint_every=0, out=str(OUT / "runs" / variant.replace("+", "_")))
    runs[variant] = train(config, dataset=mnist)
metrics = {variant: json.loads(run.folder.metrics_file.read_text()) for variant, run in runs.items()}

# %% [markdown]
# ## Side by side
#
# The final grid of each run: a row per digit for the conditional variants, 100 samples for the
# unconditional ones (dcgan, wgan-gp), which cannot be asked for a digit.

# %%
columns = 3
rows = -(-len(runs) // columns)
fig = Figure(figsize=(5 * columns, 5.2 * rows))
for index, (variant, run) in enumerate(runs.items()):
    ax = fig.add_subplot(rows, columns, index + 1)
    ax.imshow(imread(run.folder.final_grid_file))
    values = metrics[variant]
    accuracy = values.get("conditional_accuracy")
    ax.set_title(f"{variant}\nFD {values['fd']:.0f}, "
                 + (f"accuracy {accuracy:.0%}" if accuracy is not None else "unconditional")
                 + (" (quick mode: meaningless)" if QUICK else ""), fontsize=11)
    ax.axis("off")
fig.tight_layout()
fig.savefig(OUT / "tour_grids.png", dpi=80)
show(OUT / "tour_grids.png")

# %% [markdown]
# The numbers (tutorial 4 explains each). Milliseconds per step come from the training time each run
# recorded in its `metrics.json`.

# %%
warn_if_quick()
header = (f"{'variant':<18} {'ms/step':>8} {'cond. acc.':>10} {'classes':>8} {'class KL':>9} {'FD':>8} "
          f"{'prec.':>6} {'recall':>6}")
print(header)
print("-" * len(header))
def shown(value, spec):
    """A number in ``spec``'s format; "-" where the metric has no value (e.g. no accuracy without labels,
    no class KL when fewer than 100 samples are recognisable)."""
    return "-" if value is None else format(value, spec)


for variant, values in metrics.items():
    print(f"{variant:<18} {1000 * values['train_seconds'] / values['step']:>8.0f} "
          f"{shown(values.get('conditional_accuracy'), '.2f'):>10} {values['classes_covered']:>8} "
          f"{shown(values['class_kl'], '.3f'):>9} {shown(values['fd'], '.1f'):>8} "
          f"{shown(values['precision'], '.2f'):>6} {shown(values['recall'], '.2f'):>6}")

# %% [markdown]
# And ganlab's comparison report of all of them (`report.html` and `report.png` in
# `tutorials/out/06/report/`): losses on shared axes, and every metric against steps and against
# wall-clock seconds. The wall-clock panels are the fair view for wgan-gp, whose steps cost more.

# %%
report = compare([run.folder.path for run in runs.values()], OUT / "report", n=FINAL_SAMPLES)
warn_if_quick("The report's numbers")
show(report.with_suffix(".png"))

# %% [markdown]
# **What you should see with a longer budget.** The gallery trains the zoo for 5 000 steps each (seed
# 0, an evaluation every 500 steps): dcgan, wgan-gp, acgan and projection, as here. Their report:
#
# ![ganlab compare of four variants at 5 000 steps each](../docs/gallery/report_zoo.png)
#
# Each variant's grids over training, final grid and losses are in [the gallery](../docs/gallery/README.md),
# e.g. dcgan's:
#
# ![dcgan: sample grids over 5 000 steps](../docs/gallery/dcgan_progress.png)

# %% [markdown]
# ## Reading the tour
#
# - **Convolutions (dcgan)** know that nearby pixels belong together, so its strokes come out smoother
#   and less speckled than the MLPs' after the same number of steps, and its samples vary more (look
#   at its recall). It is unconditional: check its class coverage as you did for the plain GAN in
#   tutorial 4.
# - **wgan-gp**'s critic estimates a distance between the real and the generated distribution, and the
#   gradient penalty keeps the critic smooth, which makes training stable and hard to collapse. It
#   pays with time: five critic updates per step. Compare it with the others in the report's
#   wall-clock panels, not only per step. Its losses are not comparable to the others' (they are not
#   cross-entropies).
# - **acgan** and **projection** give D a sharper way to check the label: a class head, or a label
#   term in D's score. Their rows show the digit asked for, but at this budget their strokes are
#   blurrier than the cGAN's and each row's samples look alike (a low recall). When we ran this
#   tutorial at its defaults, neither had caught up with the tutorial's multiplying cGAN in conditional
#   accuracy yet: a sharper label signal does not by itself mean a faster start with these MLPs.
# - **projection+hinge** differs from projection only in the loss, so their two panels and rows isolate what
#   the hinge does. One short run cannot tell a small difference from the seed's luck: change `SEED`
#   and `STEPS` and look again before concluding.
#
# To try a combination, give its name to `RunConfig(variant=...)` or `ganlab run --variant`: e.g.
# `dcgan+cgan` (convolutions with the cGAN's embeddings), `dcgan+hinge`, or
# `dcgan+wgan-gp --set d_norm=layer` (the WGAN-GP paper's convolutional critic). `ganlab variants -v`
# lists every plugin's hooks and settings. And to add a variant of your own, see tutorial 5.
