"""ganlab's public functions: the commands of the CLI, for Python.

``ganlab run`` is :func:`train` (or :func:`resume`), ``ganlab eval`` is :func:`evaluate`,
``ganlab sample`` is :func:`sample`, ``ganlab compare`` is :func:`compare`. The CLI, the tutorials and
the tests all call these, and ``import ganlab`` exposes them::

    import ganlab
    run = ganlab.train(ganlab.RunConfig(variant="cgan", steps=2000))
    ganlab.sample(run.folder.path, "sevens.png", label=7)
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pluggy
import torch

from ganlab import distributed
from ganlab.config import RESUMABLE_SETTINGS, RunConfig
from ganlab.data import Dataset, load_dataset
from ganlab.errors import ConfigError
from ganlab.evaluation import evaluate_samples, has_classifier, measurable, metric_set
from ganlab.figures import report_pages
from ganlab.files import atomic_save, atomic_write_json, atomic_write_text
from ganlab.jobs import busy_cpu_note, run_in_parallel, threads_per_job
from ganlab.loading import load_run, restore
from ganlab.observers.evaluator import Evaluator
from ganlab.observers.progress import ProgressPrinter
from ganlab.observers.tensorboard import summary_writer_class, tensorboard_observer
from ganlab.observers.views import ViewsObserver
from ganlab.observers.watchdog import DiscriminatorWatchdog
from ganlab.plugins import make_plugin_manager, register_plugin
from ganlab.runs import RunFolder, default_run_dir
from ganlab.sampling import choose_labels, save_grid, save_npz, save_points, to_uint8_images
from ganlab.spread import group_spreads
from ganlab.trainer import RealBatches, run_loop
from ganlab.training_run import TrainingRun, compile_networks, prepare

__all__ = ["train", "resume", "evaluate", "sample", "compare", "load_run", "register_observers"]


def train(config: RunConfig, dataset: Dataset | None = None, pm: pluggy.PluginManager | None = None,
          quiet: bool = False, write_files: bool = True, overrides: dict[str, Any] | None = None
          ) -> TrainingRun:
    """Train a variant from scratch; the function behind ``ganlab run``.

    :param dataset: the data; loaded from ``config.dataset`` / ``config.data_path`` when None.
    :param pm: a plugin manager; built from ``config.variant`` when None.
    :param write_files: False trains without a run folder (for quick experiments and tests).
    :param overrides: plugin settings from the user (``--set``), checked against the declarations.
    :returns: the run; ``run.outcome`` is ``"finished"``, or ``"stopped"`` after Ctrl-C/SIGTERM.

    Started by ``torchrun``, every process calls this: they train the run together, and rank 0
    alone writes the run folder (``run.folder`` is None on the others).
    """
    config.validate()
    use_threads(config.threads)
    if config.tensorboard:
        summary_writer_class()  # not installed: say how to install it before anything is trained
    pm = pm or make_plugin_manager(config.variant, config.plugin_files)  # a bad variant fails before any download
    world = distributed.join(config.device)  # several processes under torchrun; one otherwise
    with distributed.local_main_first(world):  # one download or decoding per machine, then the others read the cache
        dataset = dataset or load_dataset(config.dataset, config.data_path, **config.data_options)
    if config.eval_every:
        require_measurable(dataset, "--eval-every")
    run = prepare(config, dataset.spec, pm, overrides, world)
    compile_networks(run)
    run.keeps_checkpoints = write_files
    if write_files and world.is_main:  # rank 0 alone writes the run folder
        run.folder = RunFolder.create(config.out or default_run_dir(config.variant))  # locked: one writer
    try:
        if run.folder:
            config.plugin_files = run.folder.keep_plugin_files(config.plugin_files)
            run.folder.write_config(config, run.spec, run.conditional, str(run.device), run.world.size)
        register_observers(run, dataset, quiet)
        run_loop(run, RealBatches(dataset, run.device))
    finally:
        if run.folder:
            run.folder.unlock()
    distributed.leave(world)  # not after an error: torchrun ends the other processes then
    return run


# What may change when a run is continued: how long, how often it records, where it runs. The rest
# (the variant, the data, the optimizer's settings, ...) makes it another run.
RESUME_CHANGES = RESUMABLE_SETTINGS  # what a resume may change (see ganlab.config)


def use_threads(threads: int) -> None:
    """Run this process's tensor work on ``threads`` CPU threads (0: torch's default), and warn when the
    cores are busy with other work (see :mod:`ganlab.jobs`)."""
    if threads:
        torch.set_num_threads(threads)
    note = busy_cpu_note(threads)
    if note:
        print(f"ganlab: {note}", file=sys.stderr)


def resume(run_dir, steps: int | None = None, dataset: Dataset | None = None, quiet: bool = False,
           checkpoint=None, **changes: Any) -> TrainingRun:
    """Continue a run from its latest (or a chosen) checkpoint, to its own or a new ``steps``.

    Networks, optimizers, the step counter, every RNG state, the plugins' state, the loss log and the
    fixed latent come back as they were, so on the CPU the result is bit-identical to a run that
    never stopped. A run stopped before its first checkpoint continues from step 0 (same seed, same
    start). Under torchrun every process calls this (each reads the run folder; rank 0 alone writes it);
    on as many processes as saved the checkpoint, the run continues bit for bit too.

    :param checkpoint: a checkpoint of the run (path, file name or step); the latest when None.
    :param changes: new values for the settings in :data:`RESUME_CHANGES` (e.g. ``keep_checkpoints=3``,
        ``device="cuda"``); any other setting is refused by name.
    """
    refused = sorted(set(changes) - set(RESUME_CHANGES))
    if refused:
        raise ConfigError(f"A resumed run keeps its settings; {', '.join(refused)} cannot change (they would "
                          f"make it another run). Only {', '.join(RESUME_CHANGES)} may; for other settings "
                          f"start a new run.")
    folder = RunFolder.open(run_dir)
    world = distributed.join(changes.get("device") or folder.read_config()[0].device)
    if world.is_main:
        folder.lock()  # before reading anything: another writer may be saving a checkpoint right now
    distributed.barrier(world)  # the other ranks read the folder once rank 0 holds it
    try:
        run, saved = restore(folder.path, checkpoint, device=changes.get("device"), allow_no_checkpoint=True,
                             world=world)
        run.records = folder.losses_until(run.step)
        run.folder = folder if world.is_main else None  # rank 0 alone writes
        run.keeps_checkpoints = True
        continue_with(run, steps, changes)
        use_threads(run.config.threads)
        with distributed.local_main_first(world):
            dataset = dataset or load_dataset(run.config.dataset, run.config.data_path, **run.config.data_options)
        if dataset.spec.image_shape != run.spec.image_shape or dataset.spec.num_classes != run.spec.num_classes:
            raise ConfigError(f"The data now found for {run.config.dataset} has another shape than the run "
                              f"was trained on; give the original file with --data.")
        batches = RealBatches(dataset, run.device)
        compile_networks(run)
        register_observers(run, dataset, quiet)
        run.restore_plugin_state(saved)
        run.restore_random_streams(saved)
        run_loop(run, batches)
    finally:
        folder.unlock()
    distributed.leave(world)
    return run


def continue_with(run: TrainingRun, steps: int | None, changes: dict[str, Any]) -> None:
    """Apply a resume's new steps and settings to the run, check them, and record them in config.json."""
    if steps is not None:
        if steps < run.step:
            raise ConfigError(f"--steps {steps} is before the checkpoint's step {run.step}; give at "
                              f"least {run.step}.")
        run.config.steps = steps
    for name, value in changes.items():
        setattr(run.config, name, value)
    run.config.validate()
    if run.folder:  # rank 0 of several processes, or the only one
        run.folder.write_config(run.config, run.spec, run.conditional, str(run.device), run.world.size)


def register_observers(run: TrainingRun, dataset: Dataset, quiet: bool) -> None:
    """The core's own observer plugins: evaluation, the discriminator watchdog, GAN Lab's views (2-D
    data), TensorBoard (when asked for), the progress display. Several processes: rank 0's only (the
    others train and wait)."""
    config, hook = run.config, run.pm.hook
    if not run.world.is_main:
        return
    if config.eval_every or (config.final_eval_samples and run.folder and measurable(dataset)):
        announce = lambda view, step, metrics: hook.ganlab_evaluated(run=view, step=step, metrics=metrics)  # noqa: E731
        register_plugin(run.pm, Evaluator(dataset, config.eval_every, config.eval_samples,
                                          config.final_eval_samples, announce), "ganlab.evaluator")
    if config.watchdog_steps:
        register_plugin(run.pm, DiscriminatorWatchdog(patience=config.watchdog_steps), "ganlab.watchdog")
    if dataset.spec.is_points and run.folder:
        every = config.views_every or max(1, config.steps // VIEW_FRAMES)
        register_plugin(run.pm, ViewsObserver(dataset, every), "ganlab.views")
    if config.tensorboard and run.folder:
        register_plugin(run.pm, tensorboard_observer(), "ganlab.tensorboard")
    if not quiet:
        register_plugin(run.pm, ProgressPrinter(), "ganlab.progress")


def require_measurable(dataset: Dataset, what: str) -> None:
    """Metrics need the project's classifier for images, or the modes of points; say so when there is neither."""
    if measurable(dataset):
        return
    if dataset.spec.is_points:
        raise ConfigError(f"{what} measures 2-D samples by their distance to the data's modes, and {dataset.spec.name} "
                          f"data has none: give the npz file `centres` (K, 2) and `sigma`, or leave out {what}.")
    raise ConfigError(
        f"{what} measures samples with a classifier trained on the dataset, and ganlab ships one for "
        f"mnist and fashion-mnist only, not for {dataset.spec.name} data. A run on your own data is not "
        f"measured: its sample grids, losses.csv and loss curve are in the run folder. (Leave out "
        f"{what}; with a source checkout of ganlab, scripts/train_classifier.py shows how the shipped "
        f"classifiers were trained.)")


def evaluate(run_dir, n: int = 10_000, checkpoint=None, device: str = "cpu", write: bool = True,
             trained_generator: bool = False) -> dict:
    """Measure a saved run's latest (or given) checkpoint; write ``metrics.json`` into the run folder.

    The function behind ``ganlab eval``.
    :param trained_generator: measure the generator that was trained, not the sampling generator (they
        differ for a run with an EMA, ``cgan+ema``); the numbers go to ``metrics-trained.json`` instead.
    """
    config = RunFolder.open(run_dir).read_config()[0]
    dataset = load_dataset(config.dataset, config.data_path, **config.data_options)
    require_measurable(dataset, "ganlab eval")
    run = load_run(run_dir, checkpoint=checkpoint, device=device)
    config = run.config
    sample = run.sample_trained if trained_generator else run.sample
    metrics = evaluate_samples(sample, dataset, n, run.conditional, run.device)
    metrics.update(step=run.step, variant=config.variant, dataset=config.dataset,
                   sampled_from="generator" if trained_generator else run.sampling_name)
    if write:
        run.folder.write_metrics(metrics, trained_generator)
    return metrics


def sample(run_dir, out, n: int | None = None, label: int | None = None, per_class: int | None = None,
           seed: int = 0, checkpoint=None, device: str = "cpu") -> int:
    """Load a run's generator and write samples to ``out`` (.png grid or .npz); returns the count.

    The function behind ``ganlab sample``. The latent comes from a generator seeded with ``seed``.
    """
    _, spec, saved = RunFolder.open(run_dir).read_config()  # check the request before loading any weights
    labels = choose_labels(spec.num_classes, bool(saved.get("conditional")), n, label, per_class)
    to_npz = str(out).lower().endswith(".npz")
    if not to_npz and len(labels) > MAX_GRID_SAMPLES:
        raise ConfigError(f"A PNG grid of {len(labels)} samples would be a picture of tens of thousands of "
                          f"pixels a side; a grid takes at most {MAX_GRID_SAMPLES}. Write many samples to an "
                          f".npz file instead (--out samples.npz), or ask for fewer.")
    run = load_run(run_dir, checkpoint=checkpoint, device=device)
    rng = torch.Generator().manual_seed(seed)
    labels = labels.to(run.device)
    if to_npz:  # in bounded batches, each turned into uint8 pixels at once: memory stays small
        convert = (lambda points: points.cpu().numpy()) if spec.is_points else to_uint8_images
        pixels = [convert(run.sample(batch, rng)) for batch in labels.split(SAMPLE_BATCH)]
        save_npz(out, np.concatenate(pixels), labels if run.conditional else None)
        return len(labels)
    images = run.sample(labels, rng)
    if spec.is_points:
        save_points(images, out, labels if run.conditional else None)
    elif per_class is not None:
        save_grid(images, out, ncols=per_class, row_names=list(run.spec.class_names))
    else:
        titles = [run.spec.class_names[i] for i in labels.tolist()] if run.conditional and len(labels) <= 50 else None
        save_grid(images, out, ncols=min(10, len(labels)), titles=titles)
    return len(labels)


VIEW_FRAMES = 25  # frames of GAN Lab's views in a 2-D run, unless --views-every says otherwise
MAX_GRID_SAMPLES = 2_500  # a 50x50 grid of 28x28 images: about 1 600 pixels a side
SAMPLE_BATCH = 1_000  # samples generated at once when writing an .npz


def train_variants(variants: list[str], out_dir, steps: int, seeds: list[int] | int = 0, dataset: str = "mnist",
                   data_path: str | None = None, eval_every: int | None = None, n: int = 10_000,
                   quiet: bool = False, jobs: int = 1, threads: int = 0) -> list[Path]:
    """Train each variant with each seed, on one dataset and budget, for :func:`compare`.

    The run folders are ``out_dir/runs/<variant>`` (one seed) or ``out_dir/runs/<variant>-seed<k>``.
    :param jobs: trainings at once, each in its own process with ``threads`` threads (default: the
        cores split between them, see :mod:`ganlab.jobs`).
    """
    seeds = [seeds] if isinstance(seeds, int) else list(seeds)
    eval_every = eval_every if eval_every is not None else max(1, steps // 10)
    planned = []
    for variant in variants:
        for seed in seeds:
            name = variant.replace("+", "_") + (f"-seed{seed}" if len(seeds) > 1 else "")
            planned.append(RunConfig(variant=variant, steps=steps, seed=seed, dataset=dataset, data_path=data_path,
                                     eval_every=eval_every, final_eval_samples=n, threads=threads,
                                     out=str(Path(out_dir) / "runs" / name)))
    if jobs == 1:
        return [train(config, quiet=quiet).folder.path for config in planned]
    run_in_parallel([command_line(config) for config in planned], jobs, threads or threads_per_job(jobs), quiet)
    return [Path(config.out) for config in planned]


def command_line(config: RunConfig) -> list[str]:
    """The ``ganlab run`` arguments that train ``config`` (for the runs :mod:`ganlab.jobs` starts)."""
    arguments = ["run", "--variant", config.variant, "--steps", str(config.steps), "--seed", str(config.seed),
                 "--dataset", config.dataset, "--eval-every", str(config.eval_every), "--final-eval-samples",
                 str(config.final_eval_samples), "--out", str(config.out), "--quiet"]
    return arguments + (["--data", config.data_path] if config.data_path else [])


def compare(run_dirs, out_dir, n: int = 10_000) -> Path:
    """Write ``report.html`` (self-contained: images embedded) and ``report.png`` into ``out_dir``.

    The function behind ``ganlab compare``. Runs without a metrics.json are evaluated first (on ``n``
    samples). Returns the path of report.html.
    """
    folders = check_comparable(run_dirs)  # every input checked before anything is evaluated or written
    runs = [_run_summary(folder, n) for folder in folders]
    for run, recipe in zip(runs, recipe_names([run["config"] for run in runs])):
        run["group"] = recipe
    page, png = report_pages(runs)
    out_dir = Path(out_dir)
    atomic_write_text(out_dir / "report.html", page)
    atomic_save(out_dir / "report.png", lambda handle: handle.write(png))
    atomic_write_json(out_dir / "summary.json", summarise_by_variant(runs))
    return out_dir / "report.html"


def summarise_by_variant(runs: list[dict]) -> dict[str, Any]:
    """Each recipe's runs (its seeds) and the spread of every metric over them, for summary.json."""
    by_recipe: dict[str, list[dict]] = {}
    for run in runs:
        by_recipe.setdefault(run["group"], []).append(run)
    keys = list(runs[0]["metric_set"].labels)
    return {recipe: {"variant": group[0]["variant"], "runs": [str(run["folder"].path) for run in group],
                     "seeds": [run["seed"] for run in group],
                     "metrics": group_spreads([run["metrics"] or {} for run in group], keys)}
            for recipe, group in by_recipe.items()}


# What makes two runs the same recipe: they differ at most in the seed and in bookkeeping (where they
# write, how often they evaluate, on which device), so their spread is the seeds' alone.
RECIPE_FIELDS = ("variant", "steps", "batch_size", "latent_dim", "lr", "d_lr", "beta1", "beta2", "d_update",
                 "data_options")


def recipe_names(configs: list[RunConfig]) -> list[str]:
    """A name per run for what it trained: its variant, then each setting in which the variant's runs
    here differ (``cgan d_update=joint init=torch``); runs with one name are seeds of one recipe.
    (A plugin setting missing from an older run's config.json does not count as a difference.)"""
    recipes = [{**{field: getattr(c, field) for field in RECIPE_FIELDS}, **c.settings} for c in configs]
    names = []
    for recipe in recipes:
        same_variant = [r for r in recipes if r["variant"] == recipe["variant"]]
        # A setting a run lacks is one its plugins did not declare yet when it was trained: it trained at
        # that setting's default, so only the values the runs do record can make them differ.
        varying = sorted(key for key in set().union(*same_variant)
                         if key != "variant" and len({repr(r[key]) for r in same_variant if key in r}) > 1)
        names.append(" ".join([recipe["variant"], *(f"{key}={recipe.get(key, '?')}" for key in varying)]))
    return names


def check_comparable(run_dirs) -> list[RunFolder]:
    """Open every run folder and refuse runs of different datasets: their metrics are not on one scale
    (each dataset has its own test split and its own classifier)."""
    folders = [RunFolder.open(run_dir) for run_dir in run_dirs]
    specs = [folder.read_config()[1] for folder in folders]
    kinds = {(spec.name, tuple(spec.image_shape), spec.num_classes) for spec in specs}
    if len(kinds) > 1:
        listing = "; ".join(f"{folder.path} ({spec.name}, {'x'.join(map(str, spec.image_shape))}, "
                            f"{spec.num_classes} classes)" for folder, spec in zip(folders, specs))
        raise ConfigError(f"These runs were trained on different data: {listing}. Their metrics are measured "
                          f"on different test splits and are not comparable; compare runs of one dataset at "
                          f"a time.")
    for folder in folders:
        folder.read_metrics(), folder.read_losses(), folder.read_metric_curve()  # damaged files: refuse now
    return folders


def _run_summary(folder: RunFolder, n: int) -> dict:
    """What the report shows of one run; evaluates it first if it has no metrics.json yet."""
    config, spec, _ = folder.read_config()
    metrics = folder.read_metrics()
    if metrics is None and (spec.is_points or has_classifier(spec.name)):
        metrics = evaluate(folder.path, n=n)
    return {"name": folder.path.name, "variant": config.variant, "seed": config.seed, "dataset": spec.name,
            "config": config,
            "metric_set": metric_set(spec), "folder": folder,
            "losses": folder.read_losses(), "metrics": metrics, "curve": folder.read_metric_curve()}
