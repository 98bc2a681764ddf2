"""Train the evaluation classifier that ganlab's metrics use, and ship it inside the package.

    python scripts/train_classifier.py --dataset mnist            # ~5 minutes on a 2-core CPU

Trains :class:`ganlab.classifier.EvalCNN` on the dataset's *training* split only (the test split is
what the metrics compare generated samples against, so the classifier must never have seen it), with a
fixed seed, then reports its test accuracy and writes, atomically:

* ``ganlab/weights/<dataset>-cnn.pt``   -- loadable with ``torch.load(..., weights_only=True)``;
* ``ganlab/weights/<dataset>-cnn.json`` -- the command, seed, epochs, test accuracy, date, versions.
"""
from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ganlab.classifier import WEIGHTS_DIR, EvalCNN, checkpoint_of, record_path, weights_path
from ganlab.data import load_dataset, to_unit_range
from ganlab.files import atomic_save, atomic_write_json


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist", help="a name ganlab.data.load_dataset knows")
    parser.add_argument("--epochs", type=int, default=6, help="passes over the training split")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (one-cycle schedule)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-shift", type=int, default=2, help="random translation, in pixels (0: off)")
    parser.add_argument("--out-dir", type=Path, default=WEIGHTS_DIR)
    return parser.parse_args(argv)


def random_shift(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image by a random whole number of pixels in [-max_shift, max_shift] per axis.

    Light augmentation: digits in generated samples are not always centred the way MNIST's are.
    The border is filled with -1 (the background colour in [-1, 1])."""
    if max_shift == 0:
        return images
    n, _, height, width = images.shape
    padded = F.pad(images, [max_shift] * 4, value=-1.0)
    shifts = torch.randint(0, 2 * max_shift + 1, (n, 2), generator=generator)
    rows = shifts[:, 0, None] + torch.arange(height)  # (N, H) row index into the padded image
    cols = shifts[:, 1, None] + torch.arange(width)  # (N, W)
    batch = torch.arange(n)[:, None, None]
    # (N, H, W, C) after advanced indexing -> back to (N, C, H, W)
    return padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def train_one_epoch(model, optimizer, schedule, images, labels, args, generator) -> float:
    """One pass over the training split in a random order; returns the mean loss."""
    model.train()
    order = torch.randperm(len(images), generator=generator)
    total_loss = 0.0
    for start in range(0, len(images), args.batch_size):
        index = order[start : start + args.batch_size]
        batch = random_shift(to_unit_range(images[index]), args.max_shift, generator)
        loss = F.cross_entropy(model(batch), labels[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        total_loss += loss.item() * len(index)
    return total_loss / len(images)


@torch.no_grad()
def accuracy(model, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    """Fraction of ``images`` whose predicted class is the true label."""
    model.eval()
    correct = 0
    for start in range(0, len(images), batch_size):
        logits = model(to_unit_range(images[start : start + batch_size]))
        correct += (logits.argmax(1) == labels[start : start + batch_size]).sum().item()
    return correct / len(images)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    dataset = load_dataset(args.dataset)
    x_train, y_train = torch.from_numpy(dataset.x_train), torch.from_numpy(dataset.y_train).long()
    x_test, y_test = torch.from_numpy(dataset.x_test), torch.from_numpy(dataset.y_test).long()

    model = EvalCNN(dataset.spec.image_shape, dataset.spec.num_classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps_per_epoch = -(-len(x_train) // args.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch
    )
    started = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        loss = train_one_epoch(model, optimizer, schedule, x_train, y_train, args, generator)
        print(f"epoch {epoch}/{args.epochs}  loss {loss:.4f}  {time.perf_counter() - started:.0f} s")
    train_seconds = time.perf_counter() - started

    test_accuracy = accuracy(model, x_test, y_test)
    print(f"test accuracy on {len(x_test)} held-out images: {test_accuracy:.4f}")
    save(model, args, argv, test_accuracy, train_seconds)


def save(model: EvalCNN, args: argparse.Namespace, argv: list[str], test_accuracy: float,
         train_seconds: float) -> None:
    """Write the weights and, beside them, the record of how they were made."""
    weights = weights_path(args.dataset, args.out_dir)
    atomic_save(weights, lambda handle: torch.save(checkpoint_of(model), handle))
    record = {
        "dataset": args.dataset,
        "command": "python scripts/train_classifier.py " + " ".join(argv),
        "settings": {k: v for k, v in vars(args).items() if k != "out_dir"},  # no machine paths
        "test_accuracy": round(test_accuracy, 6),
        "train_split_only": True,
        "train_seconds": round(train_seconds, 1),
        "torch_threads": torch.get_num_threads(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "weights_bytes": weights.stat().st_size,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "torch_version": torch.__version__,
    }
    atomic_write_json(record_path(args.dataset, args.out_dir), record)
    print(f"wrote {weights} ({record['weights_bytes'] / 1e6:.2f} MB) and its record")


if __name__ == "__main__":
    main()
