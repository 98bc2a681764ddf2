# %% [markdown]
# # 1. Look at the data
#
# Before training anything, look at what the networks will see. This is section 2 of the Keras cGAN
# tutorial that ganlab grew from: load MNIST, check shapes and value ranges, draw some images with
# their labels, count the labels. Then one thing the tutorial does without saying why: scale the
# pixels to [-1, 1].
#
# That tutorial is a Chinese-language Keras notebook (after Keras-GAN's
# [`cgan.py`](https://github.com/eriklindernoren/Keras-GAN/blob/master/cgan/cgan.py));
# [From the Keras tutorial to ganlab](../docs/from-the-keras-tutorial.md) maps it section by section
# and explains its mistakes. Four of them are in its data section, and this tutorial points each out
# where it arises.
#
# Run it as a script (`python tutorials/01_look_at_the_data.py`), or cell by cell in Jupyter or VS
# Code (see `tutorials/README.md`). Figures are written to `tutorials/out/01/`. It trains nothing, so
# quick mode (`--quick`) changes nothing here: it takes seconds either way.

# %%
import numpy as np
import torch
from matplotlib.figure import Figure

from ganlab import (
    describe_dataset,
    from_unit_range,
    load_dataset,
    save_examples_grid,
    save_label_histogram,
    to_unit_range,
)

from tutorial_helpers import output_dir, show

OUT = output_dir("01")

# %% [markdown]
# ## Load MNIST
#
# `load_dataset("mnist")` returns the whole dataset in memory. On first use it downloads MNIST,
# checks every array's sha256 and caches it (in `$GANLAB_DATA`, else `~/.cache/ganlab`); after that
# it loads in well under a second. This is the same function `ganlab run` and `ganlab data info`
# call.

# %%
mnist = load_dataset("mnist")
print(mnist.spec)
print("x_train:", mnist.x_train.shape, mnist.x_train.dtype, "   y_train:", mnist.y_train.shape, mnist.y_train.dtype)
print("x_test: ", mnist.x_test.shape, mnist.x_test.dtype, "   y_test: ", mnist.y_test.shape, mnist.y_test.dtype)

# %% [markdown]
# Images are kept as `uint8` in the (N, C, H, W) layout PyTorch's layers expect: 60 000 training and
# 10 000 test images of 1 × 28 × 28 pixels. (The Keras tutorial says its test set holds 100 000
# images: [a slip](../docs/from-the-keras-tutorial.md#loading-and-22-shapes-and-value-range) that
# printing the shapes, as above, rules out.) (The tutorial's Keras arrays are (N, 28, 28); ganlab adds
# the channel axis so that colour datasets fit the same code.) Labels are `int64`, the type
# `nn.Embedding` and `F.cross_entropy` want.
#
# `spec` is the part of the dataset the plugins see: the image shape and the class count. Nothing in
# ganlab assumes 28 × 28 or 10 classes; the networks are sized from `spec`.
#
# `describe` prints the tutorial's section 2.2 in one go (it is what `ganlab data info mnist` shows):

# %%
print(describe_dataset(mnist))

# %% [markdown]
# ## 50 images with their labels
#
# The tutorial's section 2.3. `save_examples_grid` draws random training images (the seed picks
# which) and titles each with its label. Look at how varied one digit is: thick and thin strokes,
# slanted, open and closed 4s, 7s with and without a bar. A generator has to learn all of that.
#
# The Keras tutorial draws its 50 from the **first 500** training images only, so whatever lies in the
# other 59 500 can never appear, and every rerun shows the same 0.8 % of the data
# ([more](../docs/from-the-keras-tutorial.md#23-fifty-images-with-their-labels)). Draw from the whole
# set, as `save_examples_grid` does.

# %%
examples = save_examples_grid(mnist, OUT / "examples.png", n=50, seed=0)
show(examples)

# %% [markdown]
# ## Are the labels balanced?
#
# The tutorial's section 2.4. A conditional GAN is asked for each digit equally often, and an
# unconditional one should draw each digit about as often as it appears in the data, so it matters
# whether some digits are rare. The imbalance ratio is the largest class's count over the smallest's.
#
# The labels are ten counts, so a bar per count shows them exactly. (The Keras tutorial plots them
# with seaborn's `sns.distplot`, deprecated since seaborn 0.11 and due to be removed; like its
# `keras.layers.advanced_activations` imports, it fails or warns on current versions:
# [more](../docs/from-the-keras-tutorial.md#imports).)

# %%
ratio = save_label_histogram(mnist, OUT / "label_histogram.png")
print(f"imbalance ratio (train): {ratio:.2f}")
show(OUT / "label_histogram.png")

# %% [markdown]
# MNIST is nearly balanced: the most common digit, 1, has about a quarter more images than the rarest,
# 5. That is small enough that nothing needs re-weighting, and it gives a yardstick for later: when a
# GAN's samples are ten times richer in one digit than another, the GAN did that, not the data.
#
# ## Why scale the pixels to [-1, 1]?
#
# The tutorial scales every image as `(x - 127.5) / 127.5`, so 0 (black) becomes -1 and 255 (white)
# becomes +1. ganlab does the same, on the training device, with `to_unit_range`; `from_unit_range`
# goes back to `uint8`.
#
# The Keras tutorial scales `x_train` and **never `x_test`**. Nothing breaks there, because it never
# reads `x_test`; but the first experiment that does would feed D pixels from 0 to 255 where it
# learned -1 to 1, and fail silently ([more](../docs/from-the-keras-tutorial.md#scaling-to--1-1)).
# ganlab keeps both splits as `uint8` and scales each batch with this one function where it is used.

# %%
batch = torch.from_numpy(mnist.x_train[:64])
scaled = to_unit_range(batch)
print("uint8 range:", batch.min().item(), "to", batch.max().item())
print("scaled range:", scaled.min().item(), "to", scaled.max().item(), " dtype", scaled.dtype)
print("round trip exact:", torch.equal(from_unit_range(scaled), batch))
print(f"share of pixels that are pure background (-1): {(scaled == -1).float().mean().item():.0%}")

# %% [markdown]
# Three reasons:
#
# 1. **The generator's last layer is `tanh`**, whose outputs lie in (-1, 1). Real images must live in
#    the same range, or the discriminator could tell real from fake by the range alone (a generator
#    that can never output 255 loses to that rule however good its shapes are).
# 2. **`tanh` has useful gradients around 0**, and with pixels centred on 0 the first layers of the
#    discriminator see inputs of both signs, of size about 1: the scale at which the default weight
#    initialisations are designed to work.
# 3. **It is exactly invertible** for `uint8` images, so samples can be saved as ordinary images.
#
# Note what the picture below shows: most MNIST pixels are background, exactly -1, and most of the
# rest are near +1. A generator's `tanh` must be pushed hard into its flat ends to produce those
# values, which is one reason GAN samples often look slightly grey before they look crisp.

# %%
fig = Figure(figsize=(10, 3))
ax_image, ax_hist, ax_tanh = fig.subplots(1, 3)
ax_image.imshow(scaled[0, 0].numpy(), cmap="gray", vmin=-1, vmax=1)
ax_image.set_title(f"a training image (label {mnist.y_train[0]}), in [-1, 1]", fontsize=9)
ax_image.axis("off")
values = to_unit_range(torch.from_numpy(mnist.x_train[:2000])).flatten().numpy()
ax_hist.hist(values, bins=51, log=True)
ax_hist.set_title("pixel values of 2 000 images (log scale)", fontsize=9)
ax_hist.set_xlabel("scaled pixel value")
x = np.linspace(-4, 4, 200)
ax_tanh.plot(x, np.tanh(x))
ax_tanh.axhline(1, color="grey", linewidth=0.5)
ax_tanh.axhline(-1, color="grey", linewidth=0.5)
ax_tanh.set_title("tanh: the generator's output layer", fontsize=9)
fig.tight_layout()
fig.savefig(OUT / "pixel_values.png", dpi=100)
show(OUT / "pixel_values.png")

# %% [markdown]
# ## What comes next
#
# `02_a_plain_gan.py` builds the tutorial's two networks and trains them on exactly these tensors.
# The same looks are available from the command line:
#
# ```bash
# ganlab data info mnist
# ganlab data show mnist --out examples.png
# ganlab data hist mnist --out labels.png
# ```
