"""The evaluation classifier: a small CNN per dataset that judges generated images.

Inception-based FID is the wrong yardstick for 28x28 digits, so ganlab measures samples with a CNN
trained on the dataset itself (see :mod:`ganlab.metrics`). The classifier gives two things:

* ``logits`` -- its verdict on which class an image shows (conditional accuracy, class coverage);
* ``features`` -- the 128 activations just before the last layer (the "penultimate features"),
  the space in which the Fréchet distance and precision/recall are computed.

The weights ship inside the package as ``ganlab/weights/<dataset>-cnn.pt``, with a JSON record beside
them (training command, seed, epochs, test accuracy). ``scripts/train_classifier.py`` makes both.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ganlab.errors import CheckpointError

WEIGHTS_DIR = Path(__file__).parent / "weights"
FEATURE_DIM = 128  # width of the penultimate layer, i.e. of the feature space the metrics use


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """3x3 convolution (size-preserving) -> BatchNorm -> ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class EvalCNN(nn.Module):
    """A compact CNN for (C, H, W) images in [-1, 1] and ``num_classes`` classes.

    Shapes for MNIST (1x28x28); the adaptive pooling makes any H, W >= 4 work::

        conv 1->32   28x28 -> max-pool 14x14
        conv 32->64  14x14 -> max-pool  7x7
        conv 64->128  7x7  -> adaptive average-pool 3x3 -> flatten 1152
        linear 1152->128, ReLU     (the penultimate features)
        dropout, linear 128->num_classes (the logits)
    """

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.num_classes = num_classes
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
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(FEATURE_DIM, num_classes))

    def features_and_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(features (N, 128), logits (N, num_classes))`` for images (N, C, H, W) in [-1, 1]."""
        features = self.penultimate(self.convolutions(images))
        return features, self.head(features)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits (N, num_classes)."""
        return self.features_and_logits(images)[1]


def weights_path(dataset_name: str, weights_dir: Path = WEIGHTS_DIR) -> Path:
    """Where the shipped weights for ``dataset_name`` live: ``<weights_dir>/<name>-cnn.pt``."""
    return Path(weights_dir) / f"{dataset_name}-cnn.pt"


def record_path(dataset_name: str, weights_dir: Path = WEIGHTS_DIR) -> Path:
    """The JSON record of how the weights were trained, beside the weights."""
    return Path(weights_dir) / f"{dataset_name}-cnn.json"


def checkpoint_of(model: EvalCNN) -> dict:
    """What :func:`load_classifier` needs to rebuild ``model``: plain tensors, tuples and ints only,
    so that ``torch.load(..., weights_only=True)`` can read it."""
    return {
        "image_shape": tuple(model.image_shape),
        "num_classes": model.num_classes,
        "state_dict": {name: t.detach().cpu() for name, t in model.state_dict().items()},
    }


def load_classifier(
    dataset_name: str, device: torch.device | str = "cpu", weights_dir: Path = WEIGHTS_DIR
) -> EvalCNN:
    """Load the shipped evaluation CNN for ``dataset_name``, in eval mode, on ``device``.

    :raises CheckpointError: the weights are missing or unreadable; the message says how to train them.
    """
    path = weights_path(dataset_name, weights_dir)
    how_to_train = f"python scripts/train_classifier.py --dataset {dataset_name}"
    if not path.exists():
        raise CheckpointError(
            f"No evaluation classifier for dataset {dataset_name!r}: {path} does not exist. "
            f"Train one (a few minutes on a CPU) with: {how_to_train}"
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        model = EvalCNN(tuple(checkpoint["image_shape"]), int(checkpoint["num_classes"]))
        model.load_state_dict(checkpoint["state_dict"])
    except Exception as error:  # a truncated file, a foreign pickle, a mismatched state dict
        raise CheckpointError(
            f"The evaluation classifier {path} could not be read ({error}). "
            f"Delete it and retrain it with: {how_to_train}"
        ) from error
    return model.to(device).eval()
