"""The training loop: one for every variant, readable top to bottom.

Each step: draw a real batch, draw a latent batch and labels, make one fake batch, update the
discriminator on real and fake samples, then update the generator through the discriminator's verdict
on the same fakes. Which networks, which conditioning, which latent, which losses and how many D
updates per G update: all of it comes from the plugins through hooks (:mod:`ganlab.hookspecs`); this
file names no variant. Building the run is :mod:`ganlab.training_run`'s job, wiring the observers
:mod:`ganlab.api`'s.

Numbers stay on the device during training (reading a loss back makes the CPU wait for the device);
they are read back every ``log_every`` steps, handed to the observers and written to losses.csv.

Several processes (``torchrun``, :mod:`ganlab.distributed`): each runs this same loop on its share of
the batch. The gradients are averaged inside ``optimizer.step()``; the lines marked "several
processes" are the rest: the losses averaged and the stop agreed when they are read back, every
rank helping with a checkpoint that rank 0 alone writes.
"""
from __future__ import annotations

import contextlib
import math
from typing import Any

import torch

from ganlab import distributed
from ganlab.checkpoints import rng_state, save_checkpoint
from ganlab.data import Dataset, to_unit_range
from ganlab.errors import DivergenceError, GanlabError, Interrupted, PluginError, WriteError, is_out_of_memory
from ganlab.figures import save_loss_curve
from ganlab.interrupts import StopRequest
from ganlab.plugins import answering_plugins, describe_failure
from ganlab.runs import quoted
from ganlab.sampling import generate, save_grid, save_points
from ganlab.training_run import SAMPLES_PER_CLASS_IN_FINAL_GRID, TrainingRun


class RealBatches:
    """The whole training set on the device; a batch is drawn by random indices.

    The tutorial draws ``np.random.randint(0, N, batch_size)`` each step (with replacement); so do we,
    without a DataLoader: no per-sample Python, no copies from the host. Images stay uint8 until a
    batch is drawn (a quarter of the memory of floats).
    """

    def __init__(self, dataset: Dataset, device: torch.device):
        self.images = torch.from_numpy(dataset.x_train).to(device)
        self.labels = torch.from_numpy(dataset.y_train).to(device=device, dtype=torch.long)

    def sample(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.randint(0, len(self.labels), (batch_size,), device=self.labels.device)
        return to_unit_range(self.images[index]), self.labels[index]


# ------------------------------------------------------------------------------------------------
# The loop
# ------------------------------------------------------------------------------------------------
def run_loop(run: TrainingRun, batches: RealBatches) -> str:
    """Train from ``run.step`` to ``config.steps``, stopping cleanly between steps on Ctrl-C/SIGTERM.

    :returns: the outcome, also in ``run.outcome``: ``"finished"`` or ``"stopped"`` (a checkpoint of
        the last step is saved). An error (outcome ``"failed"``) is raised after the observers heard it.
    """
    hook, view = run.pm.hook, run.view()
    # Several processes stop where they next agree (every log_every steps); rank 0 alone speaks.
    stop = StopRequest(when="after this step" if not run.world.several else
                       f"within {run.config.log_every} steps, with the other processes", quiet=not run.world.is_main)
    try:
        with stop.installed():  # from here on, Ctrl-C and SIGTERM stop the run between steps
            hook.ganlab_train_start(run=view)
            train_steps(run, batches, stop)
        run.outcome = "stopped" if stopping(run, stop) else "finished"
        run.stopped_by = stop.signal_name
        if run.keeps_checkpoints and run.step > 0:
            if run.checkpointed_step != run.step:
                save_run_checkpoint(run)
            if run.folder:
                save_final_grid(run)
    except BaseException as exc:
        # Mid-step (a second Ctrl-C, or an error): the networks may be half-updated, so no new
        # checkpoint; the last one on disk is intact.
        run.outcome = "failed"
        hook.ganlab_train_end(run=view, interrupted=True, outcome="failed")
        explained = explain_stop(run, exc)
        if explained is None:
            raise
        raise explained from (None if isinstance(exc, (KeyboardInterrupt, GanlabError)) else exc)
    hook.ganlab_train_end(run=view, interrupted=run.outcome != "finished", outcome=run.outcome)
    return run.outcome


def explain_stop(run: TrainingRun, exc: BaseException) -> GanlabError | None:
    """The message for a run that stopped in the middle of a step: what happened, what was kept, and
    the command that continues it. None for exceptions that are not the user's to act on."""
    latest = run.folder.latest_checkpoint() if run.folder else None
    resume = distributed.resume_command(run.world, quoted(run.folder.path)) if run.folder else ""
    kept = (f"The last checkpoint, {latest.name}, is intact; continue from it with `{resume}`." if latest else
            f"No checkpoint was saved yet; `{resume}` starts it again from step 0." if run.folder else "")
    if isinstance(exc, KeyboardInterrupt):
        return Interrupted(f"Stopped at once by a second Ctrl-C during step {run.step + 1}, which is lost. "
                           f"{kept}".strip())
    if is_out_of_memory(exc):
        return GanlabError(f"Ran out of memory during step {run.step + 1}. Start a new run with a smaller "
                           f"--batch-size (or --eval-samples), or close programs that use much memory and "
                           f"continue this one. {kept}".strip())
    if isinstance(exc, WriteError) and run.folder:  # a full disk: once there is room, a resume continues
        return type(exc)(f"{exc} {kept}")
    return None


def train_steps(run: TrainingRun, batches: RealBatches, stop: StopRequest) -> None:
    config, folder = run.config, run.folder
    d_steps = int(run.pm.hook.ganlab_discriminator_steps(config=config))
    pending: list[dict[str, torch.Tensor]] = []  # per-step numbers, still on the device
    run.generator.train(), run.discriminator.train()
    while run.step < config.steps and not stopping(run, stop):
        pending.append(checked_train_step(run, batches, d_steps))
        run.step += 1
        if run.step % config.log_every == 0:
            read_back(run, pending, stop)
        if folder and run.step % config.sample_every == 0:
            save_step_grid(run)
        if run.keeps_checkpoints and config.checkpoint_every and run.step % config.checkpoint_every == 0:
            read_back(run, pending, stop)
            save_run_checkpoint(run)
    read_back(run, pending, stop)


def stopping(run: TrainingRun, stop: StopRequest) -> bool:
    """One process stops after the step in which it was asked to. Several processes stop together,
    at the step where they last agreed to (:func:`read_back`), so that none waits for the others forever."""
    return stop.agreed if run.world.several else stop.requested


def checked_train_step(run: TrainingRun, batches: RealBatches, d_steps: int) -> dict[str, torch.Tensor]:
    """:func:`train_step` (under the speed switches), with an error from a plugin turned into a message
    that names it."""
    if run.config.cuda_graphs:  # the networks' CUDA graphs may reuse their memory from here on
        torch.compiler.cudagraph_mark_step_begin()
    # --amp: the forward passes' matrix products in bfloat16 (prepare() keeps it on for CUDA only)
    precision = torch.autocast(run.device.type, dtype=torch.bfloat16) if run.config.amp else contextlib.nullcontext()
    try:
        with precision:
            return train_step(run, batches, d_steps)
    except GanlabError:  # already a message (a divergence, a contract check)
        raise
    except Exception as exc:
        if is_out_of_memory(exc):  # a batch too big for the memory: the request's size, not a plugin's bug
            raise MemoryError(str(exc).splitlines()[0]) from exc
        doing = f'training step {run.step + 1} of variant "{run.config.variant}"'
        raise PluginError(describe_failure(exc, run.pm, doing)) from exc


# ------------------------------------------------------------------------------------------------
# One step
# ------------------------------------------------------------------------------------------------
def train_step(run: TrainingRun, batches: RealBatches, d_steps: int) -> dict[str, torch.Tensor]:
    """``d_steps`` discriminator updates, then one generator update.

    :returns: the step's numbers as 0-d tensors left on the device: ``d_loss``, ``g_loss``,
        ``d_real_acc``, ``d_fake_acc``, then every auxiliary and penalty term by name.
    """
    config, hook = run.config, run.pm.hook
    G, D = run.generator, run.discriminator
    batch_size = run.batch_size  # this process's share of --batch-size
    for d_step in range(d_steps):
        real, real_labels = batches.sample(batch_size)
        latent = run.sample_latent(batch_size)
        # Fresh labels for the fakes. (The tutorial's G step passes the real batch's labels even
        # though it samples new ones: its ``sampled_labels`` goes unused. We use the sampled ones.)
        fake_labels = torch.randint(0, run.spec.num_classes, (batch_size,), device=run.device)
        last = d_step == d_steps - 1
        with torch.set_grad_enabled(last):  # only the last fake batch is reused for the G step
            fake = G(latent, fake_labels)
        d_numbers = discriminator_update(run, real, real_labels, fake.detach(), fake_labels, latent)

    # Generator update on the same fakes. D's weights need no gradients here: switching them off
    # saves the work of computing them, and D is not changed by this step (Keras's trainable=False).
    D.requires_grad_(False)
    outputs = as_outputs(D(fake, fake_labels))
    g_loss = expect_loss(run.pm, "ganlab_generator_loss", hook.ganlab_generator_loss(
        scores=outputs[0], labels=fake_labels, config=config, latent=latent))
    g_terms = named_terms(run.pm, "ganlab_auxiliary_loss", "g", "auxiliary", hook.ganlab_auxiliary_loss(
        scores=outputs[0], outputs=outputs, labels=fake_labels, role="generator", is_real=None,
        config=config, latent=latent))
    run.opt_g.zero_grad(set_to_none=True)
    plus(g_loss, g_terms).backward()
    run.opt_g.step()
    D.requires_grad_(True)
    hook.ganlab_generator_updated(generator=G, sampling_generator=run.sampling_generator, step=run.step + 1,
                                  config=config)
    return {"d_loss": d_numbers.pop("d_loss"), "g_loss": g_loss.detach(), **d_numbers,
            **{name: term.detach() for name, term in g_terms.items()}}


def discriminator_update(run: TrainingRun, real, real_labels, fake, fake_labels, latent) -> dict[str, torch.Tensor]:
    """Update D on a real and a fake batch; return its numbers (d_loss, accuracies, named terms).

    ``joint``: one Adam step on the sum of both losses (Adam does not care whether it is the sum
    or the mean; the sum is what WGAN-GP's and the hinge loss's formulas write). ``separate``: the
    tutorial's two ``train_on_batch`` calls, a full Adam step on the real batch, then another on the
    fake batch. The ``d_loss`` reported is the mean of the two adversarial losses, as the tutorial
    prints it; auxiliary terms are reported as the mean over the batches that had them.
    """
    hook, config, D, opt = run.pm.hook, run.config, run.discriminator, run.opt_d

    def loss_on(samples, labels, is_real):
        outputs = as_outputs(D(samples, labels))
        batch_latent = None if is_real else latent
        loss = expect_loss(run.pm, "ganlab_discriminator_loss", hook.ganlab_discriminator_loss(
            scores=outputs[0], labels=labels, is_real=is_real, config=config, latent=batch_latent))
        terms = named_terms(run.pm, "ganlab_auxiliary_loss", "d", "auxiliary", hook.ganlab_auxiliary_loss(
            scores=outputs[0], outputs=outputs, labels=labels, role="discriminator", is_real=is_real,
            config=config, latent=batch_latent))
        accuracy = ((outputs[0].detach() > run.real_fake_threshold) == is_real).float().mean()
        return loss, terms, accuracy

    opt.zero_grad(set_to_none=True)
    real_loss, real_terms, real_acc = loss_on(real, real_labels, True)
    if config.d_update == "separate":
        plus(real_loss, real_terms).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        fake_loss, fake_terms, fake_acc = loss_on(fake, fake_labels, False)
        total = plus(fake_loss, fake_terms)
    else:
        fake_loss, fake_terms, fake_acc = loss_on(fake, fake_labels, False)
        total = plus(plus(real_loss + fake_loss, real_terms), fake_terms)
    penalties = named_terms(run.pm, "ganlab_discriminator_penalty", "d", "penalty", hook.ganlab_discriminator_penalty(
        discriminator=D, real=real, fake=fake, real_labels=real_labels, fake_labels=fake_labels, config=config,
        latent=latent))
    plus(total, penalties).backward()
    opt.step()
    numbers = {"d_loss": (real_loss.detach() + fake_loss.detach()) / 2, "d_real_acc": real_acc, "d_fake_acc": fake_acc}
    for name in dict.fromkeys([*real_terms, *fake_terms]):  # a term on both batches: their mean
        values = [terms[name].detach() for terms in (real_terms, fake_terms) if name in terms]
        numbers[name] = sum(values) / len(values)
    numbers.update({name: term.detach() for name, term in penalties.items()})
    return numbers


def as_outputs(scores: Any) -> tuple:
    """A discriminator's output as a tuple ``(logits, *extra_heads)``."""
    return tuple(scores) if isinstance(scores, (tuple, list)) else (scores,)


def plus(loss: torch.Tensor, terms: dict[str, torch.Tensor]) -> torch.Tensor:
    """``loss`` plus every extra term (no operation at all when there is none)."""
    for term in terms.values():
        loss = loss + term
    return loss


def expect_loss(pm, hook_name: str, value: Any) -> torch.Tensor:
    """A loss hook's answer, checked where it is made: a scalar tensor, or a message naming the hook."""
    if not (isinstance(value, torch.Tensor) and value.numel() == 1):
        raise PluginError(
            f"{hook_name} must return a scalar tensor (a loss to minimise), but the plugin asked first "
            f"({answering_plugins(pm, hook_name).split(',')[0]}) returned {_describe(value)}. Build the "
            f"loss from the tensors the hook receives (e.g. scores.mean(), not float(...) or .item())."
        )
    return value.reshape(())


def named_terms(pm, hook_name: str, prefix: str, default_name: str, results: list) -> dict[str, torch.Tensor]:
    """Every plugin's extra terms by column name: a bare tensor is ``<prefix>_<default_name>``; a dict's
    entries are ``<prefix>_<name>``. Two terms with one name are added."""
    terms: dict[str, torch.Tensor] = {}
    for result in results:
        for name, term in (result.items() if isinstance(result, dict) else [(default_name, result)]):
            term = expect_loss(pm, hook_name, term)
            key = f"{prefix}_{name}"
            terms[key] = terms[key] + term if key in terms else term
    return terms


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return f"{type(value).__name__} {value!r}"[:80]


# ------------------------------------------------------------------------------------------------
# Reading numbers back, and stopping a run that diverged
# ------------------------------------------------------------------------------------------------
def read_back(run: TrainingRun, pending: list[dict[str, torch.Tensor]], stop: StopRequest | None = None) -> None:
    """Copy the pending per-step numbers to the host (one synchronisation) and tell the observers.

    Several processes: the numbers are averaged over the ranks, and the ranks agree whether to stop
    (``stop.agreed``), in one all-reduce; rank 0's BatchNorm statistics go to every rank, so that a
    checkpoint or an evaluation that follows sees the same networks everywhere.
    """
    if not pending:
        return
    numbers = torch.stack([value.float() for numbers in pending for value in numbers.values()])
    # Several processes: the average over the ranks, and whether any rank was asked to stop.
    numbers, stop_agreed = distributed.agree(run.world, numbers, stop is not None and stop.requested)
    if stop is not None:
        stop.agreed = stop.agreed or stop_agreed
    distributed.copy_buffers_from_rank_0(run.world, networks_of(run))
    values = iter(numbers.cpu().tolist())
    first = run.step - len(pending) + 1
    records = [{"step": first + i, **{name: next(values) for name in numbers}} for i, numbers in enumerate(pending)]
    pending.clear()
    check_finite_losses(run, records)
    run.records.extend(records)
    run.pm.hook.ganlab_step_end(run=run.view(), step=run.step, records=records)


def check_finite_losses(run: TrainingRun, records: list[dict[str, float]]) -> None:
    """Stop the run at the first NaN or infinite loss, saying where to go back to and why."""
    for record in records:
        if not (math.isfinite(record["d_loss"]) and math.isfinite(record["g_loss"])):
            raise DivergenceError(divergence_message(run, record["step"], "the losses became non-finite "
                                                     f"(d_loss {record['d_loss']}, g_loss {record['g_loss']})"))


def divergence_message(run: TrainingRun, step: int, what: str) -> str:
    last_good = run.folder.checkpoints()[-1] if run.folder and run.folder.checkpoints() else None
    where = f"The last good checkpoint is {last_good}." if last_good else "No checkpoint was saved before it."
    if run.folder is None and run.keeps_checkpoints:  # several processes: only rank 0 sees the folder
        where = "Rank 0's message names the last good checkpoint."
    return (f"Training diverged at step {step}: {what}. {where} Usual causes: a learning rate too high "
            f"for this loss (try --lr {run.config.lr / 2:g}), a loss that lets D's scores grow without "
            f"bound (try wgan-gp or hinge), or a plugin that divides by zero. Nothing after step {step} "
            f"was saved.")


# ------------------------------------------------------------------------------------------------
# What a run writes while it trains
# ------------------------------------------------------------------------------------------------
def save_step_grid(run: TrainingRun) -> None:
    """The tutorial's 2x5 grid: one sample per class (titled) or 10 untitled unconditional ones.
    2-D points: a scatter of all the fixed latent's samples."""
    if run.spec.is_points:
        return save_points_grid(run, run.folder.samples_dir / f"step_{run.step:06d}.png")
    count = run.spec.num_classes if run.conditional else 10
    labels = torch.arange(count, device=run.device) % run.spec.num_classes
    images = generate(run.sampling_generator, run.fixed_latent[:count], labels)
    titles = [run.spec.class_names[i] for i in labels.tolist()] if run.conditional else None
    path = run.folder.samples_dir / f"step_{run.step:06d}.png"
    save_grid(images, path, ncols=5, titles=titles, suptitle=f"{grid_title(run)}, step {run.step}")
    run.pm.hook.ganlab_samples_made(run=run.view(), step=run.step, images=images, labels=labels, path=path)


def save_final_grid(run: TrainingRun) -> None:
    """10 samples per class, a row per class (or a 10x10 grid for an unconditional run)."""
    if run.spec.is_points:
        return save_points_grid(run, run.folder.final_grid_file)
    labels = run.fixed_labels
    images = generate(run.sampling_generator, run.fixed_latent, labels)
    rows = list(run.spec.class_names) if run.conditional else None
    save_grid(images, run.folder.final_grid_file, ncols=SAMPLES_PER_CLASS_IN_FINAL_GRID, row_names=rows,
              suptitle=f"{grid_title(run)}, step {run.step}")
    run.pm.hook.ganlab_samples_made(run=run.view(), step=run.step, images=images, labels=labels,
                                    path=run.folder.final_grid_file)


def save_points_grid(run: TrainingRun, path) -> None:
    labels = run.fixed_labels
    points = generate(run.sampling_generator, run.fixed_latent, labels)
    save_points(points, path, labels if run.conditional else None, f"{grid_title(run)}, step {run.step}")
    run.pm.hook.ganlab_samples_made(run=run.view(), step=run.step, images=points, labels=labels, path=path)


def networks_of(run: TrainingRun) -> list[torch.nn.Module]:
    """G, D and the sampling generator when it is another network (an EMA)."""
    extra = [run.sampling_generator] if run.sampling_generator is not run.generator else []
    return [run.generator, run.discriminator, *extra]


def grid_title(run: TrainingRun) -> str:
    """The variant, and where the samples come from when it is not the generator itself (an EMA)."""
    if run.sampling_name == "generator":
        return run.config.variant
    return f"{run.config.variant} ({run.sampling_name} generator)"


def save_run_checkpoint(run: TrainingRun) -> None:
    """Save the loss log, then a checkpoint (never of broken weights: the last good one stays the latest).

    The log goes first: a crash between the two leaves a log that runs ahead of the newest checkpoint
    (a resume ignores the extra rows), never one that lags behind it. Several processes: every rank
    checks its weights (they are the same on all) and hands over its random-generator states; rank 0
    writes.
    """
    for name, net in (("generator", run.generator), ("discriminator", run.discriminator)):
        if not all(torch.isfinite(p).all() for p in net.parameters()):
            raise DivergenceError(divergence_message(run, run.step, f"the {name}'s weights became non-finite"))
    rng_of_ranks = distributed.gather_objects(run.world, rng_state())  # several processes: each rank's random streams
    run.checkpointed_step = run.step
    if run.folder is None:  # a rank other than 0: rank 0 writes
        return
    run.folder.write_losses(run.records)
    path = run.folder.checkpoint_file(run.step)
    save_checkpoint(path, run.checkpoint(rng_of_ranks))
    if run.config.keep_checkpoints:  # prune only after the new one is safely on disk
        for old in run.folder.checkpoints()[:-run.config.keep_checkpoints]:
            old.unlink()
    save_loss_curve(run.records, run.folder.loss_curve_file, title=f"{run.config.variant} losses")
    run.pm.hook.ganlab_checkpoint_saved(run=run.view(), step=run.step, path=path)
