"""Time to quality: wall-clock seconds of training until the cGAN's samples are recognised.

    python benchmarks/time_to_quality.py [--variant cgan] [--steps 20000] [--eval-every 1000]
                                         [--targets 0.5,0.8,0.9] [--device cpu] [--json FILE]

Trains with the tutorial's defaults and evaluates every ``--eval-every`` steps (2 000 samples, the
project's classifier; evaluation time is left out of the clock). For each target it prints the first
step and the training seconds at which conditional accuracy (or, for an unconditional variant, the
fraction of the 10 classes covered) reached it. A speed-up that hurts learning shows up here.
"""
from __future__ import annotations

import argparse
import json
import tempfile

from ganlab import RunConfig, train


def first_reaching(rows, key, target):
    for row in rows:
        if row.get(key) is not None and row[key] >= target:
            return row
    return None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="cgan")
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--eval-every", type=int, default=1_000)
    parser.add_argument("--eval-samples", type=int, default=2_000)
    parser.add_argument("--targets", default="0.5,0.8,0.9")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="run folder [default: a temporary one]")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="ganlab-ttq-")
    config = RunConfig(variant=args.variant, steps=args.steps, seed=args.seed, device=args.device,
                       eval_every=args.eval_every, eval_samples=args.eval_samples, final_eval_samples=0,
                       out=out)
    run = train(config, quiet=True)
    rows = run.folder.read_metric_curve()
    key = "conditional_accuracy" if run.conditional else "classes_covered"
    scale = 1.0 if run.conditional else 1.0 / run.spec.num_classes
    results = []
    print(f"{args.variant}: {key} against training time (evaluations excluded), run folder {out}")
    for row in rows:
        print(f"  step {row['step']:>6}  {row['seconds']:>8.1f} s  {key} {row[key]:.3f}")
    for target in map(float, args.targets.split(",")):
        hit = first_reaching([{**r, key: r[key] * scale} for r in rows], key, target)
        results.append({"variant": args.variant, "metric": key, "target": target,
                        "step": hit and hit["step"], "seconds": hit and hit["seconds"]})
        when = f"step {hit['step']}, {hit['seconds']:.1f} s" if hit else "not reached"
        print(f"  reached {target:.2f}: {when}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"rows": rows, "targets": results}, handle, indent=2)


if __name__ == "__main__":
    main()
