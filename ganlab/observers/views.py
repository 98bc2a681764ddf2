"""GAN Lab's views of a run on 2-D data, drawn while it trains: an observer plugin like the others.

Every ``every`` steps, and at the start and the end, it computes one frame with
:func:`ganlab.views.compute_frame` (at the first read-back of the numbers on or after each multiple of
``every``: keep ``--log-every`` at most ``--views-every``): the real and the generated points, the
discriminator's verdict over the plane as a heat map, the generator's mapping of a latent grid, and the
arrows along which the generator's own loss would move each fake point. It draws the frame into
``views/step_*.png``; when training ends it writes ``views.gif`` and ``views.html`` (a player with a
step slider that works offline). The same fixed latent, real points and labels are used for every
frame, so frames are comparable over time.

Any variant's run gets the views, with its own networks and its own generator loss: the arrows of a
WGAN critic point where the Wasserstein loss pulls, those of the BCE losses where ``-log D(G(z))`` does.
"""
from __future__ import annotations

import torch

from ganlab.data import Dataset
from ganlab.hookspecs import adversarial_scores, hookimpl
from ganlab.views import ViewPainter, ViewRecorder, compute_frame

FAKE_POINTS = 512  # generated points in each frame
REAL_POINTS = 1024  # real points in each frame
VIEWS_SEED = 2024  # the fixed latent and real points come from their own generator: training is unchanged


class ViewsObserver:
    def __init__(self, dataset: Dataset, every: int):
        self.dataset, self.every = dataset, every
        self.recorder: ViewRecorder | None = None
        self.last_step = -1

    @hookimpl
    def ganlab_train_start(self, run):
        rng = torch.Generator().manual_seed(VIEWS_SEED)
        points, labels = torch.from_numpy(self.dataset.x_test), torch.from_numpy(self.dataset.y_test)
        if len(points) == 0:
            points, labels = torch.from_numpy(self.dataset.x_train), torch.from_numpy(self.dataset.y_train)
        pick = torch.randperm(len(points), generator=rng)[:REAL_POINTS]
        self.real, self.real_labels = points[pick].to(run.device), labels[pick].to(run.device)
        classes = run.spec.num_classes
        self.latent = run.sample_latent(FAKE_POINTS, rng)
        self.labels = (torch.arange(FAKE_POINTS) % classes if run.conditional
                       else torch.zeros(FAKE_POINTS, dtype=torch.long)).to(run.device)
        # A loss other than the original GAN's BCE (a WGAN critic, hinge) gives scores, not log-odds.
        self.d_output = "probability" if run.answering("ganlab_discriminator_loss") == "ganlab.defaults" else "score"
        title = f"{run.config.variant} on {run.spec.name}"
        self.recorder = ViewRecorder(run.folder.views_dir, ViewPainter(title, classes if run.conditional else 1))
        self.draw(run)

    @hookimpl
    def ganlab_step_end(self, run, step, records):
        if (step // self.every) > ((records[0]["step"] - 1) // self.every):
            self.draw(run)

    @hookimpl(trylast=True)  # after the evaluator: the last frame shows the finished generator
    def ganlab_train_end(self, run, outcome):
        if self.recorder is None or outcome == "failed":
            return
        if run.step != self.last_step:
            self.draw(run)
        self.recorder.finish(run.folder.views_gif_file, run.folder.views_html_file)

    def draw(self, run) -> None:
        def generator_loss(scores):
            return run.generator_loss(adversarial_scores(scores), self.labels, self.latent)

        frame = compute_frame(run.generator, run.discriminator, self.latent, self.labels, generator_loss,
                              self.real, self.real_labels, run.step, conditional=run.conditional,
                              num_classes=run.spec.num_classes, modes=self.dataset.modes, d_output=self.d_output)
        self.recorder.add(frame)
        self.last_step = run.step
