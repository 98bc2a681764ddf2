# %% [markdown]
# # 2. A plain GAN
#
# A generative adversarial network is two networks trained against each other (Goodfellow et al.
# 2014). The **generator** G turns random noise into images; the **discriminator** D looks at an
# image and says how likely it is to be real. D is trained to tell real images from G's; G is trained
# to make D call its images real. Neither sees a loss that says "draw a 7": G learns what digits look
# like only through D's verdicts.
#
# This tutorial builds the tutorial's unconditional GAN (section 3.1 of the Keras cGAN tutorial),
# writes **one training step in plain PyTorch** and checks it against ganlab's own step, then trains
# for real and looks at what the samples and the losses do.
#
# Default: 3 000 steps, a couple of minutes on a laptop CPU. The tutorial trains 20 000: change
# `STEPS` below, or run `ganlab run --variant gan`.

# %%
import math
import time

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from matplotlib.image import imread

from ganlab import (
    RealBatches,
    RunConfig,
    load_dataset,
    make_plugin_manager,
    moving_average,
    prepare,
    sample,
    to_unit_range,
    train,
    train_step,
)

from tutorial_helpers import choose, output_dir, show

OUT = output_dir("02")
STEPS = choose(3000, 60)  # training steps; each is one batch of 32 images
SAMPLE_EVERY = choose(300, 20)  # a sample grid every N steps
DEVICE = "auto"  # cuda if you have it, else cpu

mnist = load_dataset("mnist")

# %% [markdown]
# ## The two networks
#
# ganlab builds networks through plugins: `make_plugin_manager("gan")` loads the `gan` plugin (the
# file `plugins/gan.py`), and `prepare` asks it for the networks, sized for MNIST's `spec`, and builds
# the optimizers. `prepare` is the first half of what `ganlab run` does; it trains nothing.

# %%
pm = make_plugin_manager("gan")
one_step = prepare(RunConfig(variant="gan", seed=0, device="cpu", d_update="separate"), mnist.spec, pm)
G, D = one_step.generator, one_step.discriminator
print(G)
print(D)
for name, net in (("generator", G), ("discriminator", D)):
    print(f"{name}: {sum(p.numel() for p in net.parameters()):,} parameters")

# %% [markdown]
# Each network is wrapped as `conditioning` + `network`. For the plain GAN the conditioning is a
# `PassThrough`: the noise goes into G unchanged and the image into D unchanged (tutorial 3 replaces
# it with label embeddings).
#
# - **G**: 100 numbers of noise → 256 → 512 → 1024 → 784 → `tanh` → a 1 × 28 × 28 image in [-1, 1].
#   Each hidden layer is Linear → LeakyReLU(0.2) → BatchNorm, as in the tutorial.
# - **D**: a flattened image → 512 → 512 → 512 → **one number**, a *logit*. There is no sigmoid at the
#   end: the loss applies it, in a form that cannot overflow. Dropout (0.4) in the last two hidden
#   layers keeps D from memorising the training set.
#
# Every ganlab network is called with labels too, `network(inputs, labels)`; the plain GAN ignores them.

# %%
noise = torch.randn(4, 100)
labels = torch.zeros(4, dtype=torch.long)  # ignored by the plain GAN
with torch.no_grad():
    G.eval(), D.eval()
    images = G(noise, labels)
    logits = D(images, labels)
    G.train(), D.train()
print("G(noise):", tuple(images.shape), f"values in [{images.min():.2f}, {images.max():.2f}]")
print("D(images):", tuple(logits.shape), "logits", logits.numpy().round(3),
      "-> P(real) =", torch.sigmoid(logits).numpy().round(3))

# %% [markdown]
# ## One training step, written out
#
# Here is one step of the tutorial's algorithm in plain PyTorch. With D(x) = sigmoid(logit):
#
# - **D's loss** is binary cross-entropy with target 1 for real images and 0 for generated ones:
#   `-log D(x) - log(1 - D(G(z)))`.
# - **G's loss** is the *non-saturating* one, `-log D(G(z))`: binary cross-entropy of D's verdict on
#   the fakes against the target "real". (Minimising `log(1 - D(G(z)))`, the loss in the paper's
#   minimax game, gives G almost no gradient early on, when D easily rejects its images.)
#
# The tutorial updates D with two calls of Keras's `train_on_batch`, one on the real batch and one on
# the fakes: two Adam steps. That is what ganlab's `gan` and `cgan` do too (`d_update="separate"`);
# most PyTorch ports and the papers take one Adam step on the sum of both losses (`d_update="joint"`).
#
# `fake.detach()` in D's step keeps D's update from flowing into G; G's step then reuses the same
# fakes, undetached, so its gradient flows back through D into G.

# %%
def plain_step(G, D, opt_g, opt_d, images, labels, batch_size=32, latent_dim=100, num_classes=10):
    """One step of the tutorial's GAN, the plain way. Returns (d_loss, g_loss) as the trainer reports them."""
    # A real batch, drawn with replacement as the tutorial does (np.random.randint), scaled to [-1, 1].
    index = torch.randint(0, len(labels), (batch_size,))
    real, real_labels = to_unit_range(images[index]), labels[index]
    # A fake batch. The plain GAN ignores labels; ganlab draws them anyway, so the random draws match.
    noise = torch.randn(batch_size, latent_dim)
    fake_labels = torch.randint(0, num_classes, (batch_size,))
    fake = G(noise, fake_labels)
    ones, zeros = torch.ones(batch_size), torch.zeros(batch_size)

    # Discriminator, the tutorial's way: an Adam step on the real batch (target 1), then one on the fakes (0).
    opt_d.zero_grad()
    d_real = F.binary_cross_entropy_with_logits(D(real, real_labels), ones)
    d_real.backward()
    opt_d.step()
    opt_d.zero_grad()
    d_fake = F.binary_cross_entropy_with_logits(D(fake.detach(), fake_labels), zeros)
    d_fake.backward()
    opt_d.step()

    # Generator: make D say "real" about the same fakes.
    opt_g.zero_grad()
    g_loss = F.binary_cross_entropy_with_logits(D(fake, fake_labels), ones)
    g_loss.backward()
    opt_g.step()
    return ((d_real + d_fake) / 2).item(), g_loss.item()


# %% [markdown]
# ganlab's trainer does the same in `ganlab.trainer.train_step`, asking the plugins for each part
# (the networks, the losses, how many D updates per G update) instead of writing them in. To check
# that the two agree, build the same networks twice from the same seed, take one step with each from
# the same random state, and compare the weights.

# %%
twin = prepare(RunConfig(variant="gan", seed=0, device="cpu", d_update="separate"), mnist.spec,
               make_plugin_manager("gan"))
images, labels = torch.from_numpy(mnist.x_train), torch.from_numpy(mnist.y_train)

torch.manual_seed(1)
d_loss, g_loss = plain_step(one_step.generator, one_step.discriminator, one_step.opt_g, one_step.opt_d,
                            images, labels)
torch.manual_seed(1)
numbers = train_step(twin, RealBatches(mnist, twin.device), d_steps=1)  # 0-d tensors, still on the device

print(f"plain PyTorch: d_loss {d_loss:.6f}  g_loss {g_loss:.6f}")
print(f"train_step:    d_loss {numbers['d_loss']:.6f}  g_loss {numbers['g_loss']:.6f}  "
      f"(D's accuracy on real {numbers['d_real_acc']:.2f}, on fake {numbers['d_fake_acc']:.2f})")
fresh = prepare(RunConfig(variant="gan", seed=0, device="cpu"), mnist.spec, make_plugin_manager("gan"))  # untrained
moved, differ = 0.0, 0.0  # the largest change of any weight in this step, and the largest disagreement
for net in ("generator", "discriminator"):
    before, plain, ganlab = (dict(getattr(r, net).named_parameters()) for r in (fresh, one_step, twin))
    for key in before:
        moved = max(moved, (plain[key] - before[key]).abs().max().item())
        differ = max(differ, (plain[key] - ganlab[key]).abs().max().item())
print(f"weights moved by up to {moved:.2g} in this step; the two versions differ by at most {differ:.2g}")
assert differ < moved / 4, "the plain step and ganlab's step should agree"

# %% [markdown]
# They agree. The losses match to every printed digit; the weights to rounding: ganlab writes the
# cross-entropy as `softplus(-logit)`, the same function in fewer operations, and Adam's first step
# moves each weight by about `lr` × sign(gradient), so a weight whose gradient is almost exactly 0
# can move a little differently. The first losses are about `ln 2 ≈ 0.69`: a fresh D says "50 % real" to
# everything, and `-log 0.5 = ln 2`.
#
# ## Training for real
#
# `train` is the function behind `ganlab run`: it loads the plugins, builds what `prepare` builds,
# then repeats `train_step` and writes a **run folder**: the config, a sample grid every
# `sample_every` steps (always from the same noise, so the grids show progress and not luck),
# `losses.csv`, `loss_curve.png`, checkpoints, and a final grid. `final_eval_samples=0` skips the
# quality measurement; tutorial 4 is about that.

# %%
config = RunConfig(variant="gan", steps=STEPS, seed=0, device=DEVICE, sample_every=SAMPLE_EVERY,
                   checkpoint_every=0, final_eval_samples=0, out=str(OUT / "run"))
started = time.perf_counter()
run = train(config, dataset=mnist)
print(f"{run.step} steps in {time.perf_counter() - started:.0f} s; run folder {run.folder.path}")

# %% [markdown]
# ## The samples over time
#
# Every grid below comes from the same ten noise vectors. Early on G draws blurry blobs, the average
# of all digits; strokes appear next, then shapes you can name. With the full 20 000 steps most
# samples are clean digits.

# %%
grids = sorted(run.folder.samples_dir.glob("step_*.png"))
picked = [grids[round(i * (len(grids) - 1) / 5)] for i in range(6)] if len(grids) > 6 else grids
fig = Figure(figsize=(10, 2.6 * math.ceil(len(picked) / 2)))
for index, path in enumerate(picked):
    ax = fig.add_subplot(math.ceil(len(picked) / 2), 2, index + 1)
    ax.imshow(imread(path))
    ax.axis("off")
fig.tight_layout()
fig.savefig(OUT / "progress.png", dpi=100)
show(OUT / "progress.png")

# %% [markdown]
# And 100 samples from the final generator (`final_grid.png` in the run folder):

# %%
show(run.folder.final_grid_file)

# %% [markdown]
# ## The loss curves, and what they do not tell you
#
# `loss_curve.png` plots both losses (the tutorial plots only G's). GAN losses are not like a
# classifier's: each network's loss depends on the other network, which keeps changing, so they do
# not fall steadily towards 0.

# %%
show(run.folder.loss_curve_file)

# %% [markdown]
# The numbers the trainer recorded each step are in `run.records` (and in `losses.csv`). Below: the
# losses against `ln 2`, the value both take when D cannot tell real from fake at all, and D's
# accuracy on real and on generated images.

# %%
records = run.records
window = max(1, len(records) // 50)
steps = [r["step"] for r in records][window - 1:]
fig = Figure(figsize=(10, 3.2))
ax_loss, ax_acc = fig.subplots(1, 2)
for key, name in (("d_loss", "D loss (mean of real and fake)"), ("g_loss", "G loss")):
    ax_loss.plot(steps, moving_average([r[key] for r in records], window), label=name)
ax_loss.axhline(math.log(2), color="grey", linestyle="--", label="ln 2: D can't tell")
ax_loss.set_xlabel("step")
ax_loss.legend(fontsize=8)
for key, name in (("d_real_acc", "on real images"), ("d_fake_acc", "on generated images")):
    ax_acc.plot(steps, moving_average([r[key] for r in records], window), label=name)
ax_acc.axhline(0.5, color="grey", linestyle="--", label="chance")
ax_acc.set_ylim(0, 1.05)
ax_acc.set_xlabel("step")
ax_acc.set_title("D's accuracy", fontsize=10)
ax_acc.legend(fontsize=8)
fig.tight_layout()
fig.savefig(OUT / "losses_and_accuracy.png", dpi=100)
show(OUT / "losses_and_accuracy.png")

last = records[-max(1, len(records) // 10):]
for key in ("d_loss", "g_loss", "d_real_acc", "d_fake_acc"):
    print(f"{key:>10} over the last {len(last)} steps: {sum(r[key] for r in last) / len(last):.3f}")

# %% [markdown]
# The first few hundred steps are typical: G's images are still noise, D rejects them easily (its loss
# near 0, G's loss high), until G finds the rough shape of a digit and the two settle into a contest.
#
# What the curves **do** tell you:
#
# - **Whether the game is still on.** D's loss around or somewhat below `ln 2`, with D right on about
#   two thirds to three quarters of images, means both networks are still learning from each other.
# - **When D has won.** D's loss sinking towards 0, its accuracy near 100 % on both kinds of image and
#   G's loss climbing: G's images are easy to reject and its gradients fade. ganlab's watchdog warns
#   about this (`--watchdog-steps`).
# - **When training broke.** A NaN stops the run; a sudden jump in both losses usually precedes
#   garbage samples.
#
# What they **do not** tell you:
#
# - **How good the samples are.** G's loss measures G against the *current* D. As D improves, G's loss
#   can rise while its samples get better. A falling G loss may mean a weak D, not a good G.
# - **Whether G draws every digit.** A generator that draws only convincing 1s can hold its own against
#   D for a long time: this *mode collapse* is invisible in the losses. Look at the final grid above:
#   are all ten digits there, about equally often?
#
# For those questions you need to measure the samples themselves: tutorial 4 does that with a
# classifier trained on MNIST.
#
# ## Using the run folder
#
# The run folder holds everything needed to rebuild the generator. `sample_from_run` (what
# `ganlab sample` calls) loads the final checkpoint and draws new samples from new noise:

# %%
count = sample(run.folder.path, OUT / "new_samples.png", n=20, seed=1)
print(f"{count} new samples")
show(OUT / "new_samples.png")

# %% [markdown]
# The same from the command line: `ganlab sample tutorials/out/02/run --out new.png --n 20`.
#
# An unconditional GAN draws whatever digit its noise leads to: you cannot ask it for a 7. Tutorial 3
# adds the label.
