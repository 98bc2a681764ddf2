"""Train an evaluation classifier that ganlab's metrics use, and ship it inside the package.

    python scripts/train_classifier.py --dataset mnist                        # the judge, EvalCNN
    python scripts/train_classifier.py --dataset mnist --architecture lenet   # the second opinion

Trains a :mod:`ganlab.classifier` network on the dataset's *training* split only (the test split is
what the metrics compare generated samples against, so the classifier must never have seen it), with a
fixed seed. Every batch of real images (randomly shifted; a share of them with noise that leaves
them legible) comes with a share of junk images made from *other* training images and from noise
(:mod:`ganlab.junk`), labelled with the extra junk class. Then it reports its test accuracy, how much
of the test split it recognises, and how much junk made from the test split it wrongly recognises,
and writes, atomically:

* ``ganlab/weights/<dataset>-<architecture>.pt``   -- loadable with ``torch.load(..., weights_only=True)``;
* ``ganlab/weights/<dataset>-<architecture>.json`` -- the command, seed, epochs, accuracies, date, versions.
"""
from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ganlab.classifier import ARCHITECTURES, JUDGE, WEIGHTS_DIR, checkpoint_of, record_path, weights_path
from ganlab.data import load_dataset, to_unit_range
from ganlab.files import atomic_save, atomic_write_json
from ganlab.junk import JUNK_KINDS, junk_images, legible_noise
from ganlab.metrics import RECOGNISABLE_CONFIDENCE, predictions


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist", help="a name ganlab.data.load_dataset knows")
    parser.add_argument("--architecture", default=JUDGE, choices=sorted(ARCHITECTURES),
                        help="cnn: the judge all metrics use; lenet: the second opinion")
    parser.add_argument("--epochs", type=int, default=6, help="passes over the training split")
    parser.add_argument("--batch-size", type=int, default=128, help="real images per batch")
    parser.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (one-cycle schedule)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-shift", type=int, default=2, help="random translation, in pixels (0: off)")
    parser.add_argument("--junk-share", type=float, default=0.25,
                        help="junk images per batch, as a share of its real images (0: no junk class)")
    parser.add_argument("--legible-noise-share", type=float, default=0.25,
                        help="share of the real images given noise that leaves them legible")
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


def training_batch(images, labels, index, args, generator, num_classes):
    """The real images at ``index`` (shifted, some made noisy) and their labels, followed by junk
    images made from as many other random training images, labelled ``num_classes`` (the junk class)."""
    real = random_shift(to_unit_range(images[index]), args.max_shift, generator)
    noisy = int(len(real) * args.legible_noise_share)
    real[:noisy] = legible_noise(real[:noisy], generator)
    n_junk = round(len(real) * args.junk_share)
    if n_junk == 0:
        return real, labels[index]
    sources = torch.randint(len(images), (n_junk,), generator=generator)
    junk = junk_images(to_unit_range(images[sources]), labels[sources], generator)
    junk_labels = torch.full((n_junk,), num_classes, dtype=labels.dtype)
    return torch.cat([real, junk]), torch.cat([labels[index], junk_labels])


def train_one_epoch(model, optimizer, schedule, images, labels, args, generator) -> float:
    """One pass over the training split in a random order; returns the mean loss."""
    model.train()
    order = torch.randperm(len(images), generator=generator)
    total_loss = 0.0
    for start in range(0, len(images), args.batch_size):
        index = order[start : start + args.batch_size]
        batch, batch_labels = training_batch(images, labels, index, args, generator, model.num_classes)
        loss = F.cross_entropy(model(batch), batch_labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        total_loss += loss.item() * len(index)
    return total_loss / len(images)


@torch.no_grad()
def predict(model, images: torch.Tensor, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted class (junk left out) and its probability for float images in [-1, 1]."""
    model.eval()
    parts = [predictions(model(batch), model.num_classes) for batch in images.split(batch_size)]
    return torch.cat([p for p, _ in parts]), torch.cat([c for _, c in parts])


def test_figures(model, x_test: torch.Tensor, y_test: torch.Tensor, seed: int) -> dict:
    """How the classifier reads the test split, and junk made from it (never seen in training)."""
    images = to_unit_range(x_test)
    predicted, confidence = predict(model, images)
    recognised = confidence >= RECOGNISABLE_CONFIDENCE
    figures = {
        "test_accuracy": (predicted == y_test).double().mean().item(),  # the most likely class
        "test_recognised_and_correct": ((predicted == y_test) & recognised).double().mean().item(),
    }
    if model.junk_class:
        junk = junk_images(images, y_test, torch.Generator().manual_seed(seed + 1))
        _, junk_confidence = predict(model, junk)
        per_kind = (junk_confidence >= RECOGNISABLE_CONFIDENCE).double().tensor_split(len(JUNK_KINDS))
        figures["test_junk_recognised"] = {kind: part.mean().item() for kind, part in zip(JUNK_KINDS, per_kind)}
    return figures


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    dataset = load_dataset(args.dataset)
    x_train, y_train = torch.from_numpy(dataset.x_train), torch.from_numpy(dataset.y_train).long()
    x_test, y_test = torch.from_numpy(dataset.x_test), torch.from_numpy(dataset.y_test).long()

    build = ARCHITECTURES[args.architecture]
    model = build(dataset.spec.image_shape, dataset.spec.num_classes, junk_class=args.junk_share > 0)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps_per_epoch = -(-len(x_train) // args.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch
    )
    started = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        loss = train_one_epoch(model, optimizer, schedule, x_train, y_train, args, generator)
        print(f"epoch {epoch}/{args.epochs}  loss {loss:.4f}  {time.perf_counter() - started:.0f} s", flush=True)
    train_seconds = time.perf_counter() - started

    figures = test_figures(model, x_test, y_test, args.seed)
    print(f"on {len(x_test)} held-out images: accuracy {figures['test_accuracy']:.4f}, recognised and "
          f"correct {figures['test_recognised_and_correct']:.4f}")
    if "test_junk_recognised" in figures:
        print("junk made from them, share recognised as a class: " +
              ", ".join(f"{k} {v:.4f}" for k, v in figures["test_junk_recognised"].items()))
    save(model, args, argv, figures, train_seconds)


def save(model, args: argparse.Namespace, argv: list[str], figures: dict, train_seconds: float) -> None:
    """Write the weights and, beside them, the record of how they were made."""
    weights = weights_path(args.dataset, args.out_dir, args.architecture)
    atomic_save(weights, lambda handle: torch.save(checkpoint_of(model), handle))
    record = {
        "dataset": args.dataset,
        "architecture": args.architecture,
        "command": "python scripts/train_classifier.py " + " ".join(argv),
        "settings": {k: v for k, v in vars(args).items() if k != "out_dir"},  # no machine paths
        **{k: (round(v, 6) if isinstance(v, float) else {kk: round(vv, 6) for kk, vv in v.items()})
           for k, v in figures.items()},
        "recognisable_confidence": RECOGNISABLE_CONFIDENCE,
        "junk_class": model.junk_class,
        "train_split_only": True,
        "train_seconds": round(train_seconds, 1),
        "torch_threads": torch.get_num_threads(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "weights_bytes": weights.stat().st_size,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "torch_version": torch.__version__,
    }
    atomic_write_json(record_path(args.dataset, args.out_dir, args.architecture), record)
    print(f"wrote {weights} ({record['weights_bytes'] / 1e6:.2f} MB) and its record")


if __name__ == "__main__":
    main()
