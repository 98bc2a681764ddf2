"""The evaluation classifiers: small networks per dataset that judge generated images.

Inception-based FID is the wrong yardstick for 28x28 digits, so ganlab measures samples with
classifiers trained on the dataset itself (see :mod:`ganlab.metrics`). Each gives two things:

* ``logits`` -- its verdict: one output per class of the dataset, plus one for **junk** (an image of
  no class: noise, smudges, scrambled strokes; see :mod:`ganlab.junk`). Without the junk output a
  classifier must call every image some class, and it calls noise "8" with full confidence;
* ``features`` -- the 128 activations just before the last layer (the "penultimate features"),
  the space in which the Fréchet distance and precision/recall are computed.

There are two architectures, so that a metric can be checked against a second opinion:

* ``"cnn"`` -- :class:`EvalCNN`, the judge: 3x3 convolutions with batch norm. All metrics use it;
* ``"lenet"`` -- :class:`LeNet`, a second opinion built differently (5x5 convolutions without
  padding or batch norm, in the manner of LeCun et al. 1998), for the class-based metrics only.

The weights ship inside the package as ``ganlab/weights/<dataset>-<architecture>.pt``, with a JSON
record beside them (training command, seed, epochs, test accuracy). ``scripts/train_classifier.py``
makes both.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ganlab.errors import CheckpointError

WEIGHTS_DIR = Path(__file__).parent / "weights"
FEATURE_DIM = 128  # width of the penultimate layer, i.e. of the feature space the metrics use
JUDGE, SECOND_OPINION = "cnn", "lenet"  # architecture names, as in the weights' file names


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """3x3 convolution (size-preserving) -> BatchNorm -> ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class Classifier(nn.Module):
    """What both architectures share: the outputs and how features become logits.

    A subclass builds ``self.body``: images (N, C, H, W) in [-1, 1] -> features (N, FEATURE_DIM).
    The logits are ``num_classes`` class outputs followed, when ``junk_class`` is on, by one junk
    output (index ``num_classes``)."""

    architecture = ""

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int, junk_class: bool = True):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.num_classes = num_classes
        self.junk_class = bool(junk_class)
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(FEATURE_DIM, num_classes + self.junk_class))

    def features_and_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(features (N, 128), logits (N, num_classes [+ 1 junk]))`` for images (N, C, H, W) in [-1, 1]."""
        features = self.body(images)
        return features, self.head(features)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits (N, num_classes [+ 1 junk])."""
        return self.features_and_logits(images)[1]


class EvalCNN(Classifier):
    """A compact CNN, the judge. Shapes for MNIST (1x28x28); the adaptive pooling makes any H, W >= 4 work::

        conv 1->32   28x28 -> max-pool 14x14
        conv 32->64  14x14 -> max-pool  7x7
        conv 64->128  7x7  -> adaptive average-pool 3x3 -> flatten 1152
        linear 1152->128, ReLU     (the penultimate features)
        dropout, linear 128->11    (the logits: 10 digits and junk)
    """

    architecture = JUDGE

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int, junk_class: bool = True):
        super().__init__(image_shape, num_classes, junk_class)
        channels = image_shape[0]
        self.convolutions = nn.Sequential(
            conv_block(channels, 32),
            nn.MaxPool2d(2),  # 28x28 -> 14x14
            conv_block(32, 64),
            nn.MaxPool2d(2),  # 14x14 -> 7x7
            conv_block(64, 128),
            nn.AdaptiveAvgPool2d(3),  # 7x7 -> 3x3
            nn.Flatten(),  # -> 128 * 3 * 3 = 1152
        )
        self.penultimate = nn.Sequential(nn.Linear(128 * 9, FEATURE_DIM), nn.ReLU(inplace=True))

    def body(self, images: torch.Tensor) -> torch.Tensor:
        return self.penultimate(self.convolutions(images))


class LeNet(Classifier):
    """The second opinion: a LeNet-5-style CNN (LeCun et al. 1998), built unlike :class:`EvalCNN` --
    5x5 "valid" convolutions (no padding), no batch norm, wider kernels, fewer channels. Shapes for
    MNIST; the adaptive pooling makes any H, W >= 16 work::

        conv 5x5 1->20   28x28 -> 24x24 -> max-pool 12x12
        conv 5x5 20->50  12x12 ->  8x8  -> adaptive max-pool 4x4 -> flatten 800
        linear 800->128, ReLU      (its penultimate features)
        dropout, linear 128->11    (the logits: 10 digits and junk)
    """

    architecture = SECOND_OPINION

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int, junk_class: bool = True):
        super().__init__(image_shape, num_classes, junk_class)
        if min(image_shape[1:]) < 16:
            raise ValueError(f"LeNet needs images of at least 16x16 pixels, not {image_shape[1]}x{image_shape[2]}")
        self.convolutions = nn.Sequential(
            nn.Conv2d(image_shape[0], 20, kernel_size=5),  # 28x28 -> 24x24
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),  # 24x24 -> 12x12
            nn.Conv2d(20, 50, kernel_size=5),  # 12x12 -> 8x8
            nn.ReLU(inplace=True),
            nn.AdaptiveMaxPool2d(4),  # 8x8 -> 4x4
            nn.Flatten(),  # -> 50 * 4 * 4 = 800
        )
        self.penultimate = nn.Sequential(nn.Linear(50 * 16, FEATURE_DIM), nn.ReLU(inplace=True))

    def body(self, images: torch.Tensor) -> torch.Tensor:
        return self.penultimate(self.convolutions(images))


ARCHITECTURES = {JUDGE: EvalCNN, SECOND_OPINION: LeNet}


def weights_path(dataset_name: str, weights_dir: Path = WEIGHTS_DIR, architecture: str = JUDGE) -> Path:
    """Where the weights for ``dataset_name`` live: ``<weights_dir>/<name>-<architecture>.pt``."""
    return Path(weights_dir) / f"{dataset_name}-{architecture}.pt"


def record_path(dataset_name: str, weights_dir: Path = WEIGHTS_DIR, architecture: str = JUDGE) -> Path:
    """The JSON record of how the weights were trained, beside the weights."""
    return Path(weights_dir) / f"{dataset_name}-{architecture}.json"


def checkpoint_of(model: Classifier) -> dict:
    """What :func:`load_classifier` needs to rebuild ``model``: plain tensors, strings, bools, tuples
    and ints only, so that ``torch.load(..., weights_only=True)`` can read it."""
    return {
        "architecture": model.architecture,
        "image_shape": tuple(model.image_shape),
        "num_classes": model.num_classes,
        "junk_class": model.junk_class,
        "state_dict": {name: t.detach().cpu() for name, t in model.state_dict().items()},
    }


def load_classifier(
    dataset_name: str, device: torch.device | str = "cpu", weights_dir: Path = WEIGHTS_DIR,
    architecture: str = JUDGE,
) -> Classifier:
    """Load the shipped classifier of ``architecture`` for ``dataset_name``, in eval mode, on ``device``.

    Checkpoints written before the junk class existed (no ``"junk_class"`` key) load as classifiers
    without it; their metrics then cannot tell junk from a class (see :mod:`ganlab.metrics`).

    :raises CheckpointError: the weights are missing or unreadable; the message says how to train them.
    """
    path = weights_path(dataset_name, weights_dir, architecture)
    how_to_train = f"python scripts/train_classifier.py --dataset {dataset_name}"
    if architecture != JUDGE:
        how_to_train += f" --architecture {architecture}"
    if not path.exists():
        raise CheckpointError(
            f"No evaluation classifier ({architecture}) for dataset {dataset_name!r}: {path} does not exist. "
            f"Train one (minutes on a CPU) with: {how_to_train}"
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        build = ARCHITECTURES[checkpoint.get("architecture", JUDGE)]
        model = build(tuple(checkpoint["image_shape"]), int(checkpoint["num_classes"]),
                      junk_class=bool(checkpoint.get("junk_class", False)))
        model.load_state_dict(checkpoint["state_dict"])
    except Exception as error:  # a truncated file, a foreign pickle, a mismatched state dict
        raise CheckpointError(
            f"The evaluation classifier {path} could not be read ({error}). "
            f"Delete it and retrain it with: {how_to_train}"
        ) from error
    return model.to(device).eval()
