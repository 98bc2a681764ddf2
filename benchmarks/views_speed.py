"""What do GAN Lab's views cost per frame, next to a 2-D training step?

    python benchmarks/views_speed.py [--frames 20] [--conditional] [--dataset ring] [--json FILE]

Builds small MLPs like benchmarks/toy_gan.py's (untrained: the cost does not depend on what they have
learned), then times, per frame: computing the frame's data (:func:`ganlab.views.compute_frame`:
G on 500 latents and on a 21x21 latent grid, D on a 64x64 grid, the arrows' autograd), drawing it and
writing the PNG (:class:`ganlab.views.ViewPainter`), and at the end the GIF (matplotlib's Pillow
writer) and the HTML player. Reports wall-clock and CPU milliseconds (CPU time is what the process
itself spent: on a machine shared with other jobs it is the better guide), and file sizes.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ganlab.data import load_dataset
from ganlab.views import ViewPainter, ViewRecorder, compute_frame, latent_plane

sys.path.insert(0, str(Path(__file__).parent))
from toy_gan import Discriminator, Generator  # noqa: E402  (the same networks as the training study)


def timed(fn):
    """(result, wall ms, CPU ms) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, 1000 * (time.perf_counter() - wall), 1000 * (time.process_time() - cpu)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ring")
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--conditional", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    data = load_dataset(args.dataset, n_train=1000, n_test=0)
    k = data.spec.num_classes
    G, D = Generator(2, 128, k, args.conditional), Discriminator(128, k, args.conditional)
    latent, labels = torch.randn(500, 2), torch.arange(500) % k
    real, real_labels = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    plane = latent_plane(2, size=11 if args.conditional else 21)
    painter = ViewPainter(f"gan on {args.dataset}", num_classes=k)
    rows = {"compute": [], "draw_and_png": []}
    with tempfile.TemporaryDirectory() as folder:
        recorder = ViewRecorder(Path(folder) / "frames", painter)
        for step in range(args.frames):
            frame, wall, cpu = timed(lambda step=step: compute_frame(
                G, D, latent, labels, lambda s: F.softplus(-s).mean(), real, real_labels, step,
                conditional=args.conditional, num_classes=k, manifold_latent=plane, modes=data.modes))
            rows["compute"].append((wall, cpu))
            _, wall, cpu = timed(lambda frame=frame: recorder.add(frame))
            rows["draw_and_png"].append((wall, cpu))
        gif, html = Path(folder) / "views.gif", Path(folder) / "views.html"
        _, finish_wall, finish_cpu = timed(lambda: recorder.finish(gif, html))
        png_kb = statistics.median(p.stat().st_size for p in recorder.png_paths) / 1024
        result = {
            "dataset": args.dataset, "conditional": args.conditional, "frames": args.frames,
            **{f"{name}_ms": {"wall_median": statistics.median(w for w, _ in values),
                              "cpu_median": statistics.median(c for _, c in values)}
               for name, values in rows.items()},
            "gif_and_html_ms": {"wall": finish_wall, "cpu": finish_cpu,
                                "cpu_per_frame": finish_cpu / args.frames},
            "png_kb_median": png_kb, "gif_kb": gif.stat().st_size / 1024, "html_kb": html.stat().st_size / 1024,
        }
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
