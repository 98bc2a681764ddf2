"""Calibrate the metrics: what do they say about images whose quality we know?

    python scripts/calibrate_metrics.py                      # MNIST; trains cgan for 300, 1 500, 20 000 steps
    python scripts/calibrate_metrics.py --dataset fashion-mnist --steps 300,1500
    python scripts/calibrate_metrics.py --extra before=/path/to/old/weights

Each *source* plays a conditional generator: asked for label k, it answers with an image. The real
ones answer with held-out test images of class k (as they are, blurred, cut into shuffled patches,
or overlaid with another class); the noise ones ignore k; the cgan ones are ganlab's default variant
after a number of training steps (trained once, one at a time, and kept under ``--runs-dir``).

Every source is measured by :func:`ganlab.metrics.evaluate` exactly as a run is, against a
reference of the first half of the test split (the real sources draw from the other half), by the
judge with its second opinion, and by each ``--extra`` classifier. The table goes to stdout as
Markdown (it is the one in ``docs/metrics.md``); all numbers go to ``--out`` as JSON.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from ganlab import junk
from ganlab.api import train
from ganlab.classifier import JUDGE, SECOND_OPINION, load_classifier
from ganlab.config import RunConfig
from ganlab.data import Dataset, load_dataset, to_unit_range
from ganlab.files import atomic_write_json
from ganlab.loading import load_run
from ganlab.metrics import class_predictions, evaluate, labels_to_ask_for, reference_for

NOISE_SEED = 0
THRESHOLDS = (0.3, 0.4, 0.5, 0.7, 0.9)  # confidences tried for "recognisable" (0.5 is ganlab's)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--n", type=int, default=2000, help="samples per source (and reference size)")
    parser.add_argument("--steps", default="300,1500,20000", help="cgan training steps, comma-separated")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs/calibration"),
                        help="where the cgan runs are kept, so that a rerun does not train again")
    parser.add_argument("--extra", action="append", default=[], metavar="NAME=DIR",
                        help="also measure with the judge-architecture weights in DIR, as column NAME")
    parser.add_argument("--out", type=Path, help="write every number here as JSON")
    return parser.parse_args(argv)


def split_test(dataset: Dataset, n: int) -> tuple[Dataset, torch.Tensor, torch.Tensor]:
    """The reference (a Dataset whose test split is the first n test images) and the held-out rest,
    as images in [-1, 1] and labels."""
    reference = Dataset(dataset.spec, dataset.x_train[:0], dataset.y_train[:0],
                        dataset.x_test[:n], dataset.y_test[:n])
    held_out = to_unit_range(torch.from_numpy(dataset.x_test[n:]))
    return reference, held_out, torch.from_numpy(dataset.y_test[n:]).long()


def answering_with(images: torch.Tensor, labels: torch.Tensor, transform=None):
    """A "generator" that answers each asked label with the next unused held-out image of that class
    (wrapping round when a class runs out), passed through ``transform(images, labels)``."""
    by_class = [images[labels == k] for k in range(int(labels.max()) + 1)]
    used = [0] * len(by_class)

    def generate_fn(asked: torch.Tensor) -> torch.Tensor:
        out = torch.empty(len(asked), *images.shape[1:])
        for k in asked.unique().tolist():
            where = (asked == k).nonzero().flatten()
            out[where] = by_class[k][(used[k] + torch.arange(len(where))) % len(by_class[k])]
            used[k] += len(where)
        return out if transform is None else transform(out, asked)

    return generate_fn


def trained_cgan(dataset: Dataset, steps: int, runs_dir: Path):
    """ganlab's default cgan after ``steps`` steps (seed 0), trained on first use and kept."""
    folder = runs_dir / f"{dataset.spec.name}-cgan-seed0-{steps}"
    if not (folder / "checkpoints").exists():
        started = time.perf_counter()
        config = RunConfig(variant="cgan", dataset=dataset.spec.name, steps=steps, seed=0, device="cpu",
                           out=str(folder), checkpoint_every=0, sample_every=steps, final_eval_samples=0,
                           watchdog_steps=0)
        train(config, dataset, quiet=True)
        print(f"trained cgan for {steps} steps in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    run = load_run(folder, device="cpu")
    noise = torch.Generator().manual_seed(NOISE_SEED)

    def generate_fn(asked: torch.Tensor) -> torch.Tensor:
        return run.sample(asked, noise)

    return generate_fn


def sources(dataset: Dataset, held_out: torch.Tensor, labels: torch.Tensor, steps: list[int], runs_dir: Path):
    """Name -> generate_fn, from the best to the worst real ones, then noise, then the cgan runs."""
    noise = torch.Generator().manual_seed(NOISE_SEED)
    shape = dataset.spec.image_shape
    made = {
        "real test images": answering_with(held_out, labels),
        "blurred, σ = 1": answering_with(held_out, labels, lambda x, _: junk.gaussian_blur(x, 1.0)),
        "blurred, σ = 2": answering_with(held_out, labels, lambda x, _: junk.gaussian_blur(x, 2.0)),
        "blurred, σ = 3": answering_with(held_out, labels, lambda x, _: junk.gaussian_blur(x, 3.0)),
        "legible noise (speckle, noise, blur, bold, grainy)": answering_with(
            held_out, labels, lambda x, _: junk.legible_noise(x, noise)),
        "shuffled 7x7 patches": answering_with(held_out, labels, lambda x, _: junk.shuffled_patches(x, noise)),
        "overlaid with another class": answering_with(held_out, labels, lambda x, k: junk.overlays(x, k, noise)),
        "uniform noise": lambda asked: junk.uniform_noise(len(asked), shape, noise),
        "Gaussian noise": lambda asked: junk.gaussian_noise(len(asked), shape, noise),
    }
    for s in steps:
        made[f"cgan, {s} steps"] = trained_cgan(dataset, s, runs_dir)
    return made


def measure(args: argparse.Namespace) -> dict:
    dataset = load_dataset(args.dataset)
    reference, held_out, labels = split_test(dataset, args.n)
    judge = load_classifier(args.dataset, architecture=JUDGE)
    second = load_classifier(args.dataset, architecture=SECOND_OPINION)
    extras = {name: load_classifier(args.dataset, weights_dir=Path(folder))
              for name, folder in (item.split("=", 1) for item in args.extra)}
    steps = [int(s) for s in args.steps.split(",") if s]
    asked = labels_to_ask_for(reference_for(judge, reference, "cpu"), args.n)
    results = {}
    for name, generate_fn in sources(dataset, held_out, labels, steps, args.runs_dir).items():
        row = {JUDGE: evaluate(generate_fn, judge, reference, n=args.n, second_classifier=second)}
        for extra_name, classifier in extras.items():
            row[extra_name] = evaluate(generate_fn, classifier, reference, n=args.n)
        row["thresholds"] = threshold_sweep(generate_fn(asked), asked, {JUDGE: judge, SECOND_OPINION: second})
        results[name] = row
        print(f"measured {name}", file=sys.stderr)
    return results


def threshold_sweep(images: torch.Tensor, asked: torch.Tensor, classifiers: dict) -> dict:
    """For each classifier and each confidence threshold in THRESHOLDS: the share of ``images`` that
    would count as recognisable, and as recognisable and of the asked class."""
    sweep = {}
    for name, classifier in classifiers.items():
        predicted, confidence = class_predictions(classifier, images)
        sweep[name] = {
            str(t): {"recognisable": (confidence >= t).double().mean().item(),
                     "correct": ((confidence >= t) & (predicted == asked)).double().mean().item()}
            for t in THRESHOLDS
        }
    return sweep


def markdown_table(results: dict, extras: list[str]) -> str:
    """Per source: each classifier's conditional accuracy, recognisable share and classes covered,
    then the FD in the judge's and each extra classifier's feature space."""
    columns = [JUDGE, SECOND_OPINION, *extras]
    header = ["source"] + [f"{name}: {what}" for name in columns for what in ("accuracy", "recognisable", "covered")]
    header += [f"{name}: FD" for name in (JUDGE, *extras)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for source, row in results.items():
        cells = [source]
        for name in columns:
            numbers = row[JUDGE]["second_opinion"] if name == SECOND_OPINION else row[name]
            cells += [f"{numbers['conditional_accuracy']:.3f}", f"{numbers['recognisable_share']:.3f}",
                      str(numbers["classes_covered"])]
        cells += [f"{row[name]['fd']:.1f}" for name in (JUDGE, *extras)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def threshold_table(results: dict) -> str:
    """Per source and classifier: recognisable share / recognisable-and-correct share at each threshold."""
    header = ["source", "classifier"] + [f"p ≥ {t}" for t in THRESHOLDS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for source, row in results.items():
        for name, by_threshold in row["thresholds"].items():
            cells = [f"{v['recognisable']:.3f} / {v['correct']:.3f}" for v in by_threshold.values()]
            lines.append("| " + " | ".join([source, name, *cells]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    results = measure(args)
    print(markdown_table(results, [item.split("=", 1)[0] for item in args.extra]))
    print()
    print(threshold_table(results))
    print(f"measured in {time.perf_counter() - started:.0f} s, {torch.get_num_threads()} threads", file=sys.stderr)
    if args.out:
        atomic_write_json(args.out, {"dataset": args.dataset, "n": args.n, "results": results})


if __name__ == "__main__":
    main()
