"""Which small MLP GAN learns the 2-D toy data in seconds, and in which setting does it drop modes?

    python benchmarks/toy_gan.py [--dataset ring] [--steps 5000] [--seeds 0,1,2] [--g-width 128]
        [--d-width 128] [--latent-dim 2] [--batch-size 64] [--lr-g 2e-4] [--lr-d 2e-4]
        [--d-update separate|joint] [--conditional] [--json FILE]

A standalone loop (no trainer, no plugins) with networks shaped like ganlab's ``gan`` plugin, narrowed
for points: G = [Linear, LeakyReLU(0.2), BatchNorm1d(momentum 0.2, eps 1e-3)] x 3, Linear, tanh;
D = Linear, LeakyReLU, then [Linear, LeakyReLU, Dropout(0.4)] x 2, Linear -> one logit; Keras init
(Glorot-uniform weights, zero biases, embeddings uniform in ±0.05); BCE on logits for D, the
non-saturating -log D(G(z)) for G; Adam, betas (0.5, 0.999). ``--conditional`` adds the ``cgan``
plugin's conditioning: G's input is z * E_G(y), D's input is x * E_D(y), the labels being the modes;
with ``--conditioning projection`` D gets the ``projection`` plugin's instead, psi(phi(x)) + <E(y), phi(x)>,
and with ``--g-conditioning concat`` G gets [z, one_hot(y)] (Mirza & Osindero's original form).
``--d-update separate`` is the gan plugin's two D steps (real batch, then fake batch).

Each seed prints one JSON line: the mode metrics of 2 500 samples (eval mode) at each checkpoint of
``--eval-at`` and at the end, and the milliseconds per step over the whole run (CPU, one thread).
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

from ganlab.data import load_dataset
from ganlab.mode_metrics import evaluate_modes
from ganlab_plugins.gan import init_weights


class Generator(nn.Module):
    """``conditioning``: "multiply" (the cgan plugin: z * E(y) as G's input) or "concat" (Mirza &
    Osindero's original: the one-hot label appended to z)."""

    def __init__(self, latent_dim: int, width: int, num_classes: int, conditional: bool, depth: int = 3,
                 conditioning: str = "multiply"):
        super().__init__()
        self.conditioning = conditioning if conditional else None
        self.num_classes = num_classes
        self.embedding = nn.Embedding(num_classes, latent_dim) if self.conditioning == "multiply" else None
        layers, size = [], latent_dim + (num_classes if self.conditioning == "concat" else 0)
        for _ in range(depth):
            layers += [nn.Linear(size, width), nn.LeakyReLU(0.2), nn.BatchNorm1d(width, momentum=0.2, eps=1e-3)]
            size = width
        self.layers = nn.Sequential(*layers, nn.Linear(width, 2), nn.Tanh())

    def forward(self, z, labels):
        if self.conditioning == "multiply":
            z = z * self.embedding(labels)
        elif self.conditioning == "concat":
            z = torch.cat([z, F.one_hot(labels, self.num_classes).float()], dim=1)
        return self.layers(z)


class Discriminator(nn.Module):
    """``conditioning``: "multiply" (the cgan plugin: x * E(y) as D's input) or "projection" (the
    projection plugin: psi(phi(x)) + <E(y), phi(x)>, phi = the hidden layers)."""

    def __init__(self, width: int, num_classes: int, conditional: bool, dropout: float = 0.4, depth: int = 3,
                 conditioning: str = "multiply"):
        super().__init__()
        self.conditioning = conditioning if conditional else None
        self.embedding = nn.Embedding(num_classes, 2 if conditioning == "multiply" else width) if conditional else None
        layers = [nn.Linear(2, width), nn.LeakyReLU(0.2)]
        for _ in range(depth - 1):  # the gan plugin: dropout after the last two hidden layers
            layers += [nn.Linear(width, width), nn.LeakyReLU(0.2)] + ([nn.Dropout(dropout)] if dropout else [])
        self.features = nn.Sequential(*layers)
        self.psi = nn.Linear(width, 1)

    def forward(self, x, labels):
        if self.conditioning == "multiply":
            x = x * self.embedding(labels)
        features = self.features(x)
        logits = self.psi(features).squeeze(1)
        if self.conditioning == "projection":
            logits = logits + (self.embedding(labels) * features).sum(1)
        return logits


def run(args, seed: int) -> dict:
    torch.manual_seed(seed)
    data = load_dataset(args.dataset, seed=seed, n_test=0, sigma=args.sigma)
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    k = data.spec.num_classes
    G = Generator(args.latent_dim, args.g_width, k, args.conditional, args.depth, args.g_conditioning)
    D = Discriminator(args.d_width, k, args.conditional, args.dropout, args.depth, args.conditioning)
    init_weights(G, "keras"), init_weights(D, "keras")  # the gan plugin's initialiser
    opt_g = torch.optim.Adam(G.parameters(), lr=args.lr_g, betas=(0.5, 0.999), fused=True)  # as ganlab
    opt_d = torch.optim.Adam(D.parameters(), lr=args.lr_d, betas=(0.5, 0.999), fused=True)

    def generate(labels):
        return G(torch.randn(len(labels), args.latent_dim), labels)

    def judge(step):
        G.eval()
        metrics = evaluate_modes(generate, data.modes.centres, data.modes.sigma, conditional=args.conditional)
        G.train()
        return {"step": step, **{key: metrics[key] for key in
                                 ("modes_covered", "high_quality_fraction", "mode_kl", "conditional_accuracy")
                                 if key in metrics}}

    checkpoints, timed, cpu = [], 0.0, 0.0
    for step in range(1, args.steps + 1):
        start, start_cpu = time.perf_counter(), time.process_time()
        index = torch.randint(0, len(x), (args.batch_size,))
        real, labels = x[index], y[index]
        fake = G(torch.randn(args.batch_size, args.latent_dim), labels)
        if args.d_update == "separate":  # the gan plugin's two D steps: real batch, then fake batch
            for batch, is_real in ((real, True), (fake.detach(), False)):
                logits = D(batch, labels)
                opt_d.zero_grad(set_to_none=True)
                F.softplus(-logits if is_real else logits).mean().backward()
                opt_d.step()
        else:
            loss_d = F.softplus(-D(real, labels)).mean() + F.softplus(D(fake.detach(), labels)).mean()
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
        for p in D.parameters():  # G's step needs no gradient of D's weights
            p.requires_grad_(False)
        loss_g = F.softplus(-D(fake, labels)).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        for p in D.parameters():
            p.requires_grad_(True)
        timed += time.perf_counter() - start
        cpu += time.process_time() - start_cpu
        if step in args.eval_at or step == args.steps:
            checkpoints.append(judge(step))
    return {"seed": seed, "ms_per_step": 1000 * timed / args.steps, "cpu_ms_per_step": 1000 * cpu / args.steps,
            "checkpoints": checkpoints}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ring")
    parser.add_argument("--sigma", type=float, help="the modes' spread (default: the literature's)")
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--g-width", type=int, default=128)
    parser.add_argument("--d-width", type=int, default=128)
    parser.add_argument("--depth", type=int, default=3, help="hidden layers in each network")
    parser.add_argument("--dropout", type=float, default=0.4, help="D's dropout (gan plugin: 0.4)")
    parser.add_argument("--latent-dim", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr-g", type=float, default=2e-4)
    parser.add_argument("--lr-d", type=float, default=2e-4)
    parser.add_argument("--d-update", choices=("separate", "joint"), default="separate")
    parser.add_argument("--conditional", action="store_true", help="G and D get the mode as a label")
    parser.add_argument("--conditioning", choices=("multiply", "projection"), default="multiply",
                        help="how D gets the label: the cgan plugin's or the projection plugin's way")
    parser.add_argument("--g-conditioning", choices=("multiply", "concat"), default="multiply",
                        help="how G gets the label: the cgan plugin's way or a one-hot appended to z")
    parser.add_argument("--eval-at", default="", help="extra steps to judge at, e.g. 1000,2000")
    parser.add_argument("--json", help="also append the rows to this file")
    args = parser.parse_args(argv)
    args.eval_at = {int(s) for s in args.eval_at.split(",") if s}
    torch.set_num_threads(1)
    setting = {k: v for k, v in vars(args).items() if k not in ("seeds", "json", "eval_at")}
    for seed in map(int, args.seeds.split(",")):
        row = {"setting": setting, **run(args, seed)}
        print(json.dumps(row), flush=True)
        if args.json:
            with open(args.json, "a") as handle:
                handle.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    sys.exit(main())
