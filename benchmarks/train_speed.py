"""How fast does ganlab train, and how far is that from what this machine allows?

    python benchmarks/train_speed.py [--device cpu|cuda] [--variants gan,cgan] [--batch-sizes 32,64,256]
                                     [--steps N] [--warmup N] [--rounds N] [--json FILE]
                                     [--amp] [--compile] [--cuda-graphs]

For each variant and batch size, in a fresh subprocess each (so peak memory is that row's own):
- ganlab's trainer: median / min / max ms per training step over a timed window after warm-up;
- the baseline: the same networks and the same updates (the variant's D update: the tutorial's two
  D steps for gan/cgan) written the way the popular scripts write them: a torch DataLoader with
  per-sample PIL transforms, numpy noise, default Adam, `.item()` every step;
- the two are timed in alternating rounds in the same process, so a change in the machine's speed
  while the row runs (other jobs, a neighbour on a shared host) hits both alike and the speed-up is
  measured under the same conditions;
- the roofline: every layer call the real step makes is recorded (forward, and which backward
  products it needs), then each is timed alone at the same shape: their sum is the time the step
  would take if it were nothing but its matrix products. Adam's bytes moved divided by the copy
  bandwidth measured here gives a memory floor. The limit is the larger of the two.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
from torch import nn

from ganlab import RealBatches, RunConfig, load_dataset, make_plugin_manager, prepare, train_step


# --------------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------------
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(step, steps: int, warmup: int, device: torch.device) -> list[float]:
    """Milliseconds of each of ``steps`` calls of ``step()``, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        step()
    sync(device)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        sync(device)  # the benchmark waits for the device; the trainer itself never does
        times.append((time.perf_counter() - start) * 1000)
    return times


def ganlab_step(variant, batch_size, device, amp, compile_, graphs=False):
    """ganlab's own training step for this row, and the step's layer calls (for the roofline).

    The switches do what ``ganlab run --amp / --compile / --cuda-graphs`` do (the trainer's
    ``checked_train_step`` and ``training_run.compile_networks``), here on every device.
    """
    data = load_dataset("mnist")
    config = RunConfig(variant=variant, batch_size=batch_size, seed=0, device=str(device))
    run = prepare(config, data.spec, make_plugin_manager(variant))
    batches = RealBatches(data, run.device)
    d_steps = int(run.pm.hook.ganlab_discriminator_steps(config=config))
    calls = record_layer_calls(run, batches, d_steps)  # eager: a compiled graph hides its layer calls
    if compile_ or graphs:
        mode = "reduce-overhead" if graphs else None  # reduce-overhead: replayed as CUDA graphs
        run.generator.compile(mode=mode), run.discriminator.compile(mode=mode)

    def step():
        if graphs:
            torch.compiler.cudagraph_mark_step_begin()
        with autocast(device, amp):
            train_step(run, batches, d_steps)

    return run, calls, d_steps, step


def autocast(device, amp: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp)


def time_interleaved(steps_by_name, steps: int, rounds: int, device) -> dict[str, list[float]]:
    """Per-step milliseconds of each (warmed-up) step function, timed in ``rounds`` alternating rounds.

    ``steps`` timed calls per function, split over the rounds. A machine whose speed drifts (another
    job starts, a shared host gets busy) slows the rounds of every function alike, so their ratio
    stays fair.
    """
    times: dict[str, list[float]] = {name: [] for name in steps_by_name}
    per_round = max(1, steps // rounds)
    for _ in range(rounds):
        for name, step in steps_by_name.items():
            times[name] += time_steps(step, per_round, 2, device)  # 2 calls to warm the caches again
    return times


# --------------------------------------------------------------------------------------------------
# The roofline
# --------------------------------------------------------------------------------------------------
def record_layer_calls(run, batches, d_steps):
    """(layer, input shape, weight grads needed, input grads needed) for every layer call of one step."""
    calls = []

    def hook(module, inputs, output):
        x = inputs[0]
        if torch.is_grad_enabled():
            calls.append((module, tuple(x.shape), module.weight.requires_grad, x.requires_grad))
        else:
            calls.append((module, tuple(x.shape), False, False))

    layers = [m for net in (run.generator, run.discriminator) for m in net.modules()
              if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]
    handles = [m.register_forward_hook(hook) for m in layers]
    train_step(run, batches, d_steps)
    for handle in handles:
        handle.remove()
    return calls


def layer_flops(module, shape) -> float:
    out_shape = module(torch.zeros(shape, device=module.weight.device)).shape
    if isinstance(module, nn.Linear):
        return 2.0 * np.prod(shape[:-1]) * module.in_features * module.out_features
    kernel = np.prod(module.kernel_size) * module.in_channels / module.groups
    if isinstance(module, nn.ConvTranspose2d):  # each input element scatters into a kernel window
        return 2.0 * np.prod(shape) * module.out_channels * np.prod(module.kernel_size) / module.groups
    return 2.0 * np.prod(out_shape) * kernel


def roofline(run, calls, d_steps, device, amp, repeats=50):
    """(compute ms, memory ms, GFLOP per step): the floor set by the matmuls and by Adam's traffic.

    The layer calls are timed with the step's own precision (bf16 under ``--amp``).
    """
    with torch.no_grad(), autocast(device, amp):
        return _roofline(run, calls, d_steps, device, repeats)


def _roofline(run, calls, d_steps, device, repeats):
    compute_ms, flops = 0.0, 0.0
    timed: dict = {}
    for module, shape, weight_grad, input_grad in calls:
        key = (id(module), shape)
        if key not in timed:
            x = torch.randn(shape, device=device)
            times = time_steps(lambda module=module, x=x: module(x), repeats, 5, device)
            timed[key] = (statistics.median(times), layer_flops(module, shape))
        ms, f = timed[key]
        products = 1 + weight_grad + input_grad  # forward, then dW and dX products when needed
        compute_ms += ms * products
        flops += f * products
    # Adam reads param, grad, m, v and writes param, m, v: 7 floats per parameter per update.
    d_updates = d_steps * (2 if run.config.d_update == "separate" else 1)
    g_params = sum(p.numel() for p in run.generator.parameters())
    d_params = sum(p.numel() for p in run.discriminator.parameters())
    adam_bytes = 7 * 4 * (g_params + d_updates * d_params)
    memory_ms = adam_bytes / memory_bandwidth(device) * 1000
    return compute_ms, memory_ms, flops / 1e9


def memory_bandwidth(device, size_mb: int = 256) -> float:
    """Bytes per second of a large tensor copy (read + write).

    The buffers are far larger than any CPU's last-level cache (or a GPU's L2), so this is the
    memory's bandwidth, not the cache's: a step's parameters, gradients and Adam moments together
    (54 MB for cgan) do not stay in a laptop's cache from one step to the next.
    """
    src = torch.ones(size_mb * 2**20 // 4, device=device)
    dst = torch.empty_like(src)
    ms = statistics.median(time_steps(lambda: dst.copy_(src), 10, 2, device))
    return 2 * src.numel() * 4 / (ms / 1000)


# --------------------------------------------------------------------------------------------------
# Where the milliseconds go
# --------------------------------------------------------------------------------------------------
CATEGORIES = (  # the first whose words appear in an op's name claims it
    ("matrix products", ("mm", "conv")),
    ("optimizer", ("adam", "optimizer", "foreach")),
    ("random numbers", ("uniform", "normal", "rand", "bernoulli")),
)


def category(op_name: str) -> str:
    name = op_name.lower()
    return next((label for label, words in CATEGORIES if any(word in name for word in words)), "everything else")


def profile_step(step, device, steps: int = 50) -> dict:
    """torch.profiler over ``steps`` of ganlab's step: ms per step by category and the top ops.

    Self time, so nothing is counted twice; the profiler adds its own overhead per op, so the
    total is a little above the timed median.
    """
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for _ in range(steps):
            step()
        sync(device)
    attribute = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    ops = [(e.key, getattr(e, attribute) / 1000 / steps, e.count / steps) for e in prof.key_averages()]
    ops = [op for op in ops if op[1] > 0]
    by_category: dict[str, float] = {}
    for name, ms, _ in ops:
        by_category[category(name)] = by_category.get(category(name), 0.0) + ms
    top = sorted(ops, key=lambda op: -op[1])[:12]
    return {"ms_per_step_by_category": by_category, "total_ms": sum(by_category.values()),
            "top_ops": [{"op": name, "ms_per_step": ms, "calls_per_step": calls} for name, ms, calls in top]}


def print_profile(row) -> None:
    profile = row["profile"]
    total = profile["total_ms"]
    print(f"\n{row['variant']} batch {row['batch_size']}: where a step's {total:.2f} ms go (profiled, self time)")
    for label, ms in sorted(profile["ms_per_step_by_category"].items(), key=lambda item: -item[1]):
        print(f"  {label:<18} {ms:7.2f} ms  {100 * ms / total:5.1f} %")
    print("  top ops:")
    for op in profile["top_ops"]:
        print(f"    {op['op'][:44]:<44} {op['ms_per_step']:7.3f} ms  {op['calls_per_step']:5.1f} calls/step")


# --------------------------------------------------------------------------------------------------
# The baseline: the loop of the popular scripts
# --------------------------------------------------------------------------------------------------
class PILMNIST(torch.utils.data.Dataset):
    """What ``torchvision.datasets.MNIST`` + ``ToTensor()`` + ``Normalize([0.5], [0.5])`` do per sample."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        from PIL import Image

        image = Image.fromarray(self.images[index, 0], mode="L")  # as torchvision's MNIST does
        tensor = torch.from_numpy(np.array(image, dtype=np.uint8)).float().div(255).unsqueeze(0)
        return (tensor - 0.5) / 0.5, int(self.labels[index])


def baseline_step(variant, batch_size, device, d_update):
    """The popular scripts' loop (PyTorch-GAN's cgan.py), with ganlab's networks and the same updates.

    Only the loop differs from ganlab's: per-sample PIL transforms in a DataLoader, numpy noise
    copied in, target tensors, default Adam, the G step also computing D's unused weight gradients,
    and `.item()` every step. ``d_update`` is the variant's: "separate" is the tutorial's two
    `train_on_batch` calls (an Adam step on the real batch, then one on the fakes).
    """
    data = load_dataset("mnist")
    run = prepare(RunConfig(variant=variant, batch_size=batch_size, seed=0, device=str(device)), data.spec,
                  make_plugin_manager(variant))
    G, D = run.generator, run.discriminator
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    loss = nn.BCEWithLogitsLoss()
    loader = torch.utils.data.DataLoader(PILMNIST(data.x_train, data.y_train), batch_size=batch_size,
                                         shuffle=True, drop_last=True)
    batches = iter(loader)

    def step():
        nonlocal batches
        try:
            imgs, labels = next(batches)
        except StopIteration:
            batches = iter(loader)
            imgs, labels = next(batches)
        imgs, labels = imgs.to(device), labels.to(device)
        valid = torch.ones(batch_size, device=device)
        fake = torch.zeros(batch_size, device=device)
        z = torch.tensor(np.random.normal(0, 1, (batch_size, 100)), dtype=torch.float32, device=device)
        gen_labels = torch.tensor(np.random.randint(0, 10, batch_size), device=device)
        gen_imgs = G(z, gen_labels)
        if d_update == "separate":
            for images, image_labels, target in ((imgs, labels, valid), (gen_imgs.detach(), gen_labels, fake)):
                opt_d.zero_grad()
                d_loss = loss(D(images, image_labels), target)
                d_loss.backward()
                opt_d.step()
        else:
            opt_d.zero_grad()
            d_loss = (loss(D(imgs, labels), valid) + loss(D(gen_imgs.detach(), gen_labels), fake)) / 2
            d_loss.backward()
            opt_d.step()
        opt_g.zero_grad()
        g_loss = loss(D(gen_imgs, gen_labels), valid)
        g_loss.backward()
        opt_g.step()
        return d_loss.item(), g_loss.item()  # printed every step in the scripts: a host sync

    return step


# --------------------------------------------------------------------------------------------------
# Rows and the table
# --------------------------------------------------------------------------------------------------
def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def measure_row(variant, batch_size, device_name, steps, warmup, rounds, amp, compile_, baseline,
                profile=False, graphs=False) -> dict:
    """One row; run in its own process so that its peak memory is its own."""
    torch.manual_seed(0)
    np.random.seed(0)
    device = torch.device(device_name)
    started = time.perf_counter()
    run, calls, d_steps, step = ganlab_step(variant, batch_size, device, amp, compile_, graphs)
    time_steps(step, 0, warmup, device)  # warm-up only (and the compilation, with --compile)
    warmup_s = time.perf_counter() - started
    # ganlab's peak memory, read before the baseline's networks and DataLoader exist.
    peak_rss = peak_rss_mb()
    peak_cuda = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None
    steps_by_name = {"ganlab": step}
    if baseline:
        steps_by_name["baseline"] = baseline_step(variant, batch_size, device, run.config.d_update)
        time_steps(steps_by_name["baseline"], 0, warmup, device)
    times = time_interleaved(steps_by_name, steps, rounds, device)
    median = statistics.median(times["ganlab"])
    row = {
        "variant": variant, "batch_size": batch_size, "device": device_name, "amp": amp, "compile": compile_,
        "cuda_graphs": graphs, "setup_and_warmup_s": warmup_s,
        "threads": torch.get_num_threads(), "d_update": run.config.d_update,
        "ms_per_step_median": median, "ms_per_step_min": min(times["ganlab"]),
        "ms_per_step_max": max(times["ganlab"]), "steps_per_s": 1000 / median,
        "peak_rss_mb": peak_rss, "peak_cuda_mb": peak_cuda,
        "baseline_ms_per_step_median": statistics.median(times["baseline"]) if baseline else float("nan"),
    }
    row["speedup_vs_baseline"] = row["baseline_ms_per_step_median"] / median
    compute_ms, memory_ms, gflop = roofline(run, calls, d_steps, device, amp)
    # The limit is the larger floor; on a CPU the matmuls and Adam cannot overlap, so their sum is
    # also recorded: no step can beat it either.
    row.update(roofline_compute_ms=compute_ms, roofline_memory_ms=memory_ms, gflop_per_step=gflop,
               roofline_ms=max(compute_ms, memory_ms), roofline_serial_ms=compute_ms + memory_ms)
    row["ratio_to_roofline"] = row["ms_per_step_median"] / row["roofline_ms"]
    if profile:
        row["profile"] = profile_step(step, device)
    return row


def in_subprocess(args, variant, batch_size) -> dict:
    command = [sys.executable, __file__, "--_one", f"{variant},{batch_size}", "--device", args.device,
               "--steps", str(args.steps), "--warmup", str(args.warmup), "--rounds", str(args.rounds)]
    command += ["--amp"] * args.amp + ["--compile"] * args.compile + ["--no-baseline"] * args.no_baseline
    command += ["--cuda-graphs"] * args.cuda_graphs
    command += ["--profile"] * args.profile
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"benchmark row {variant}/{batch_size} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def print_table(rows) -> None:
    print(f"{'variant':<8} {'batch':>5} {'device':<6} {'ms/step':>8} {'min':>7} {'max':>7} {'steps/s':>8} "
          f"{'roofline':>8} {'ratio':>6} {'baseline':>8} {'speedup':>7} {'peak MB':>8}")
    for r in rows:
        peak = r["peak_cuda_mb"] if r["peak_cuda_mb"] is not None else r["peak_rss_mb"]
        print(f"{r['variant']:<8} {r['batch_size']:>5} {r['device']:<6} {r['ms_per_step_median']:>8.2f} "
              f"{r['ms_per_step_min']:>7.2f} {r['ms_per_step_max']:>7.2f} {r['steps_per_s']:>8.1f} "
              f"{r['roofline_ms']:>8.2f} {r['ratio_to_roofline']:>6.2f} "
              f"{r['baseline_ms_per_step_median']:>8.2f} {r['speedup_vs_baseline']:>7.2f} {peak:>8.0f}")
    print("roofline = max(time of the step's matrix products alone, Adam's bytes / memory bandwidth); "
          "ratio = measured / roofline; baseline = the same updates in a DataLoader loop with per-sample PIL "
          "transforms and .item() per step, timed in alternating rounds with ganlab's.")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--variants", default="gan,cgan")
    parser.add_argument("--batch-sizes", default="32,64,256")
    parser.add_argument("--steps", type=int, default=300, help="timed steps per row")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=10,
                        help="alternate ganlab and the baseline this many times within the timed steps")
    parser.add_argument("--amp", action="store_true", help="bf16 autocast (CUDA)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the networks")
    parser.add_argument("--cuda-graphs", action="store_true",
                        help='torch.compile(mode="reduce-overhead"): the networks replayed as CUDA graphs')
    parser.add_argument("--no-baseline", action="store_true", help="skip the DataLoader baseline")
    parser.add_argument("--profile", action="store_true",
                        help="also profile ganlab's step: ms per step by category and the top ops")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--_one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._one:
        variant, batch_size = args._one.split(",")
        row = measure_row(variant, int(batch_size), args.device, args.steps, args.warmup, args.rounds,
                          args.amp, args.compile, baseline=not args.no_baseline, profile=args.profile,
                          graphs=args.cuda_graphs)
        print(json.dumps(row))
        return
    rows = [in_subprocess(args, variant, batch_size)
            for variant in args.variants.split(",") for batch_size in map(int, args.batch_sizes.split(","))]
    print_table(rows)
    for row in rows:
        if "profile" in row:
            print_profile(row)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
