# %% [markdown]
# # 4. What does conditioning buy? Measuring a GAN and a cGAN
#
# Tutorials 2 and 3 judged samples by eye. Eyes are bad at this: they forgive blur, they do not count
# how often each digit appears, and they cannot compare two runs fairly. This tutorial trains the plain
# GAN and the cGAN **with the same seed, data and budget**, measures both during training with a
# classifier, and writes ganlab's comparison report.
#
# The measurements use the project's own MNIST classifier (a small CNN shipped with ganlab, 99.5 %
# test accuracy), against MNIST's held-out test images:
#
# - **conditional accuracy**: of the samples drawn *for* digit k, how many the classifier reads as k
#   (cGAN only: the plain GAN cannot be asked for a digit);
# - **class coverage**: the histogram of the digits the classifier sees in the samples; how many of the
#   10 digits get at least a fifth of their fair share ("classes covered"), and the KL divergence
#   between the samples' digit mix and the test set's (0 = the same mix). This is the measure of
#   **mode collapse**, a generator that draws only some of the digits;
# - **FD (MNIST-CNN)**: the Fréchet distance between the classifier's features of real and generated
#   images (FID's recipe in this classifier's feature space; *not* comparable to Inception FID);
#   lower is better, and it punishes both bad images and a wrong mix of digits;
# - **precision** and **recall** (Kynkäänniemi et al. 2019): the share of samples that land among real
#   images in feature space (quality), and the share of real images that have samples near them
#   (diversity). A collapsed generator can have good precision and poor recall.
#
# **Budget.** By default 3 000 steps for each variant with an evaluation every 500. The same from the
# command line: `ganlab compare --variants gan,cgan --steps 3000`. **Quick mode** (`--quick`) trains
# 80 steps and evaluates every 20, to check that every cell runs (CI runs it so): its curves have
# four points and **its numbers mean nothing**, since both generators still draw noise. The gallery's
# comparison at the Keras tutorial's 20 000 steps is shown below, beside your report.

# %%
import json

import torch
from matplotlib.figure import Figure

from ganlab import RunConfig, compare, evaluate_samples, format_table, to_unit_range, train

from tutorial_helpers import choose, load_mnist_for_evaluation, output_dir, show, warn_if_quick

OUT = output_dir("04")
STEPS = choose(3000, 80)
EVAL_EVERY = choose(500, 20)  # evaluate during training every N steps ...
# The trainer reads its numbers back from the device every `log_every` steps (100 by default) and
# evaluates only at those moments, so evaluating more often needs a `log_every` no larger.
LOG_EVERY = min(100, EVAL_EVERY)
EVAL_SAMPLES = choose(1000, 200)  # ... on this many samples
FINAL_SAMPLES = choose(5000, 300)  # the final evaluation (ganlab's own default is 10 000)
SEED = 0
DEVICE = "auto"

mnist = load_mnist_for_evaluation()  # in quick mode: 1 000 test images, for cheaper evaluations

# %% [markdown]
# ## A yardstick: what do real images score?
#
# Before measuring a GAN, measure the best any GAN could do: real *training* images (the test images
# are the reference, so the training images are fresh to the metric). `evaluate_generator` takes any
# module called as `generator(noise, labels)`; this one ignores the noise and returns a real image of
# the digit asked for.

# %%
images = torch.from_numpy(mnist.x_train)
by_class = [torch.nonzero(torch.from_numpy(mnist.y_train) == k).flatten() for k in range(mnist.spec.num_classes)]


def real_images(labels, rng):
    """A stand-in for a generator: a random real training image of each digit asked for."""
    picks = [by_class[k][torch.randint(len(by_class[k]), (1,), generator=rng)] for k in labels.tolist()]
    return to_unit_range(images[torch.cat(picks)])


real_metrics = evaluate_samples(real_images, mnist, n=FINAL_SAMPLES, conditional=True, device="cpu")
print(f"Real training images, {FINAL_SAMPLES} of them:")
print(format_table({**real_metrics, "dataset": "mnist"}))

# %% [markdown]
# Real digits are recognised about 99 % of the time and cover all ten classes with a KL near 0. Their
# FD is small but not 0: two different sets of real images differ too, and the FD of a set this size
# never reaches 0. Precision and recall of real images come out below 1 too: that is what these
# k-nearest-neighbour estimates give for two samples of the *same* distribution, so read a GAN's
# numbers against these, not against 1. (FD, precision and recall also depend on the number of
# samples: compare runs only at the same number, as ganlab's report does.)
#
# ## Training both, with one seed and one budget
#
# `eval_every` makes the trainer measure the generator during training (into `metrics.csv` and
# `metrics.png` in the run folder); `final_eval_samples` sets the size of the final measurement
# (`metrics.json`).

# %%
runs = {}
for variant in ("gan", "cgan"):
    config = RunConfig(variant=variant, steps=STEPS, seed=SEED, device=DEVICE, eval_every=EVAL_EVERY,
                       eval_samples=EVAL_SAMPLES, final_eval_samples=FINAL_SAMPLES, sample_every=STEPS,
                       log_every=LOG_EVERY, checkpoint_every=0, out=str(OUT / "runs" / variant))
    runs[variant] = train(config, dataset=mnist)
metrics = {variant: json.loads(run.folder.metrics_file.read_text()) for variant, run in runs.items()}

# %% [markdown]
# ## The comparison report
#
# `compare_runs` (what `ganlab compare` calls) reads the run folders and writes `report.html`
# (self-contained: open it in a browser, offline) and `report.png`: the final grids side by side, both
# runs' losses on shared axes, every metric against steps and against wall-clock seconds, and a table
# with the best value of each row marked.

# %%
report = compare([run.folder.path for run in runs.values()], OUT / "report", n=FINAL_SAMPLES)
print(f"Wrote {report} and {report.with_suffix('.png')}")
warn_if_quick("The report's numbers and curves")
show(report.with_suffix(".png"))

# %% [markdown]
# **What you should see at the defaults.** The same report for the gallery's two runs at the Keras
# tutorial's 20 000 steps (seed 0, an evaluation every 2 000 steps on 2 000 samples, the final one on
# 10 000). At this tutorial's default 3 000 steps your numbers lie between the curves' early and late
# values; in quick mode your grids are noise, as expected after 80 steps:
#
# ![ganlab compare of gan and cgan at 20 000 steps](../docs/gallery/report_gan_vs_cgan.png)

# %%
warn_if_quick()
for variant, values in metrics.items():
    print(f"--- {variant}, step {values['step']}, {values['n_samples']} samples, "
          f"{values['train_seconds']:.0f} s of training")
    print(format_table(values))

# %% [markdown]
# ## Which digits does each generator draw?
#
# The class histogram behind "classes covered" and the KL: how often the classifier saw each digit in
# each run's samples, next to the test set's mix. For the cGAN the digits are *asked for* in the test
# set's mix, so its bars show which digits it draws when asked; for the plain GAN they show which
# digits its noise happens to lead to.

# %%
digits = list(mnist.spec.class_names)
test_share = torch.bincount(torch.from_numpy(mnist.y_test), minlength=10).float()
test_share /= test_share.sum()
fig = Figure(figsize=(9, 3.5))
ax = fig.add_subplot()
width = 0.27
ax.bar([k - width for k in range(10)], test_share.numpy(), width, label="test set", color="grey")
for offset, (variant, values) in zip((0, width), metrics.items()):
    counts = torch.tensor(values["class_histogram"], dtype=torch.float)
    ax.bar([k + offset for k in range(10)], (counts / counts.sum()).numpy(), width,
           label=f"{variant} ({values['classes_covered']} classes covered)")
ax.set_xticks(range(10), digits)
ax.set_xlabel("digit, as the classifier reads it")
ax.set_ylabel("share of samples")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(OUT / "class_histogram.png", dpi=100)
show(OUT / "class_histogram.png")

warn_if_quick("The histogram and the numbers below")
for variant, values in metrics.items():
    shares = torch.tensor(values["class_histogram"], dtype=torch.float)
    shares /= shares.sum()
    print(f"{variant:>5}: most drawn digit {digits[shares.argmax()]} ({shares.max():.0%} of samples), "
          f"least drawn {digits[shares.argmin()]} ({shares.min():.0%}); the test set's range is "
          f"{test_share.min():.0%} to {test_share.max():.0%}")
per_class = metrics["cgan"]["conditional_accuracy_per_class"]
print("cgan, conditional accuracy per digit:",
      "  ".join(f"{d}: {'-' if a is None else f'{a:.2f}'}" for d, a in zip(digits, per_class)))

# %% [markdown]
# ## What the numbers say about mode collapse
#
# Read the table and the histogram together:
#
# - **Conditional accuracy** exists for the cGAN only. It says how often the cGAN draws the digit it
#   is asked for; compare it with the real images' ~99 %. Digits with low per-class accuracy are the
#   ones the cGAN confuses (often 4 with 9, 3 with 5 or 8); look for them in the rows of its grid.
# - **Class coverage** is where conditioning shows most. The plain GAN draws whatever digits its
#   noise leads to, and nothing in its loss asks for all ten in the right proportions: a generator that
#   draws fine 1s, 7s and 9s can fool D well enough. Its histogram is typically lopsided (some digits
#   several times their fair share, others rare), its KL well above the real images' and, when it
#   collapses further, its classes-covered count drops below 10. The cGAN is *asked* for every digit in
#   the right mix, so its coverage follows from its conditional accuracy: if it draws what it is asked
#   for, it cannot leave a digit out.
# - **Precision and recall** separate the two failures. A generator that draws good images of too few
#   kinds keeps its precision but loses recall; one that draws every kind badly loses precision. Compare
#   both with the real images' values above.
# - **FD** sums up both: a wrong mix of digits raises it as surely as bad strokes do.
# - **Over steps** (the report's metric curves): short runs are noisy, and a GAN's numbers do not
#   improve steadily: coverage can drop for a while as G chases what D currently misses. That is why
#   ganlab evaluates during training, not only at the end.
#
# In quick mode (a few dozen steps) both generators still draw noise and every number is poor; run the
# tutorial at its defaults, or with `STEPS = 20000` (the tutorial's budget), to see the difference.
#
# Next: tutorial 5 writes a variant of your own and measures it the same way.
