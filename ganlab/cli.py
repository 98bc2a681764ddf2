"""The ``ganlab`` command line. Each command is a thin layer over the public Python functions that the
tutorials and the tests call too; user errors become a one-paragraph message, never a traceback."""
from __future__ import annotations

import functools
import os
import re
import signal
import sys
from pathlib import Path

import click

from ganlab import api
from ganlab.config import D_UPDATE_MODES, MAX_SEED, RunConfig, load_config_file
from ganlab.data import dataset_names, download_dataset, load_dataset
from ganlab.data.explore import MAX_EXAMPLES, describe, save_examples_grid, save_label_histogram
from ganlab.distributed import resume_command
from ganlab.errors import GanlabError, is_out_of_memory
from ganlab.evaluation import format_table
from ganlab.loading import TRUST_VARIABLE
from ganlab.plugins import discover_plugins
from ganlab.runs import quoted
from ganlab.version import __version__


def user_errors(command):
    """Turn a GanlabError raised anywhere below a command into click's clean error output."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except GanlabError as exc:
            error = click.ClickException(str(exc))
            error.exit_code = exc.exit_code
            raise error from None
        except (MemoryError, RuntimeError) as exc:  # torch reports a failed allocation as a RuntimeError
            if not is_out_of_memory(exc):
                raise
            less = ASK_FOR_LESS.get(command.__name__, "ask for less at once")
            raise click.ClickException(f"Ran out of memory{memory_asked(exc)}. Try {less}, or close other "
                                       f"programs that use a lot of memory.") from None

    return wrapper


# What makes each command need much memory at once, for the out-of-memory message.
ASK_FOR_LESS = {
    "run": "a smaller --batch-size or --latent-dim, fewer --eval-samples or --final-eval-samples, or smaller "
           "images (--image-size)",
    "sample": "fewer samples (--n, --per-class)",
    "eval_command": "fewer samples (--n)",
    "compare": "fewer samples (--n)",
    "show": "fewer images (--n)",
}


def memory_asked(exc: BaseException) -> str:
    """How much one allocation asked for, when torch says so: " (one allocation of 8,000.0 GB)"."""
    found = re.search(r"allocate (\d+) bytes", str(exc))
    return f" (one allocation of {int(found.group(1)) / 1e9:,.1f} GB)" if found else ""


def parse_settings(values: tuple[str, ...]) -> dict[str, str]:
    """``("gp_weight=5", ...)`` -> ``{"gp_weight": "5"}``; the plugin's declaration converts the value."""
    settings = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{item!r} is not NAME=VALUE, e.g. --set d_dropout=0.3", param_hint="--set")
        settings[name.strip()] = value.strip()
    return settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ganlab")
def cli():
    """Train, sample, compare and extend GANs. Start with: ganlab run --variant cgan"""


positive = click.IntRange(min=1)
seeds = click.IntRange(min=0, max=MAX_SEED)
unit_interval = click.FloatRange(min=0, max=1, max_open=True)
defaults = RunConfig()


def not_empty(context: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """An empty path is a mistake (an unset shell variable, say), not a request for the default."""
    if value == "":
        raise click.BadParameter("is empty; give a path.")
    return value


def read_config_option(context: click.Context, param: click.Parameter, path: str | None) -> str | None:
    """--config FILE: its settings become the defaults of this command; options given on the command
    line override them (click's ``default_map``)."""
    if path is None:
        return None
    try:
        values = load_config_file(path)
    except GanlabError as exc:
        raise click.BadParameter(str(exc), param_hint="--config") from None
    options = {key: value for key, value in values.items() if key not in ("data_options", "settings")}
    data_options = values.get("data_options") or {}
    options.update(labels_path=data_options.get("labels"), image_size=data_options.get("image_size"),
                   sigma=data_options.get("sigma"))
    if options["image_size"] is not None:
        options["image_size"] = str(options["image_size"])
    context.default_map = {**(context.default_map or {}), **{k: v for k, v in options.items() if v is not None}}
    context.meta["config_settings"] = values.get("settings") or {}  # merged under --set in `run`
    return path


@cli.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True), is_eager=True,
              expose_value=True, callback=read_config_option,
              help="Take the settings from a TOML file or a run's config.json (to repeat it); options given "
                   "here override them.")
@click.option("--variant", default=defaults.variant, show_default=True,
              help="Plugin(s) to train; a+b asks a first, then b (see `ganlab variants`).")
@click.option("--plugin", "plugin_files", multiple=True, type=click.Path(dir_okay=False),
              help="Load a plugin from a .py file (its name is the file's stem). Repeatable.")
@click.option("--dataset", default=defaults.dataset, show_default=True,
              help=f"Dataset: {', '.join(dataset_names())}.")
@click.option("--data", "data_path", type=click.Path(dir_okay=True),
              help="A data file or folder to use instead of the cache (see `ganlab data --help`).")
@click.option("--labels", "labels_path", type=click.Path(dir_okay=False), help="Labels file (--dataset idx).")
@click.option("--image-size", type=click.Choice(["28", "32", "64"]), help="Resize images (--dataset folder).")
@click.option("--steps", type=positive, default=defaults.steps, show_default=True,
              help="Training steps (the tutorial calls them epochs: one batch each).")
@click.option("--batch-size", type=click.IntRange(min=2), default=defaults.batch_size, show_default=True,
              help="Samples per step (at least 2: BatchNorm needs a batch); under torchrun the batch of all "
                   "processes together (each takes 1/N).")
@click.option("--latent-dim", type=positive, default=defaults.latent_dim, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=defaults.lr, show_default=True,
              help="Adam's learning rate, both networks.")
@click.option("--d-lr", type=click.FloatRange(min=0, min_open=True), default=None,
              help="The discriminator's own learning rate (two time-scale update rule) [default: --lr].")
@click.option("--beta1", type=unit_interval, default=defaults.beta1, show_default=True,
              help="Adam's beta1 (the tutorial's 0.5; PyTorch's default is 0.9).")
@click.option("--beta2", type=unit_interval, default=defaults.beta2, show_default=True, help="Adam's beta2.")
@click.option("--d-update", type=click.Choice(D_UPDATE_MODES), default=defaults.d_update, show_default=True,
              help="joint: one D step on real+fake loss; separate: the tutorial's real, then fake step; "
                   "auto: the variant's choice (gan, cgan: separate).")
@click.option("--sample-every", type=positive, default=defaults.sample_every, show_default=True)
@click.option("--checkpoint-every", type=click.IntRange(min=0), default=defaults.checkpoint_every,
              show_default=True, help="0 = only the final checkpoint.")
@click.option("--keep-checkpoints", type=click.IntRange(min=0), default=defaults.keep_checkpoints,
              show_default=True, help="Keep only the newest N checkpoints (0 = all).")
@click.option("--log-every", type=positive, default=defaults.log_every, show_default=True)
@click.option("--eval-every", type=click.IntRange(min=0), default=defaults.eval_every, show_default=True,
              help="Evaluate every N steps into metrics.csv/.png (0 = only the final evaluation).")
@click.option("--eval-samples", type=click.IntRange(min=2), default=defaults.eval_samples, show_default=True,
              help="Samples per evaluation during training.")
@click.option("--final-eval-samples", type=click.IntRange(min=0), default=defaults.final_eval_samples,
              show_default=True, help="Samples for the final metrics.json (0 = skip).")
@click.option("--views-every", type=click.IntRange(min=0), default=defaults.views_every,
              help="2-D data (--dataset ring, grid, spiral, moons, points): draw GAN Lab's views every N steps "
                   "(at most as often as --log-every) [default: about 25 frames a run].")
@click.option("--sigma", type=click.FloatRange(min=0, min_open=True),
              help="2-D toy data: the spread of each mode [default: 2.5x the papers'].")
@click.option("--watchdog-steps", type=click.IntRange(min=0), default=defaults.watchdog_steps, show_default=True,
              help="Warn when D is near-perfect for this many steps in a row (0 = off).")
@click.option("--seed", type=seeds, default=None, help="Make the run reproducible.")
@click.option("--device", default=defaults.device, show_default=True, help="auto, cpu, cuda, cuda:1, mps.")
@click.option("--threads", type=click.IntRange(min=0), default=defaults.threads,
              help="CPU threads for this run [default: one per core]. Give each of several runs sharing the "
                   "cores a share, e.g. --threads 1 for two runs on 2 cores.")
@click.option("--out", type=click.Path(file_okay=False), callback=not_empty,
              help="Run folder [default: runs/<variant>-<time>].")
@click.option("--set", "settings", multiple=True, metavar="NAME=VALUE", help="A plugin setting. Repeatable.")
@click.option("--tensorboard", is_flag=True,
              help='Also write TensorBoard events to <run>/tensorboard/ (pip install "ganlab[tensorboard]").')
@click.option("--amp", is_flag=True, help="CUDA: bf16 autocast (Ampere GPUs or newer); off elsewhere.")
@click.option("--compile", is_flag=True, help="CUDA: torch.compile the networks (the first steps compile).")
@click.option("--cuda-graphs", is_flag=True,
              help="CUDA: replay each network as a CUDA graph (torch.compile mode=reduce-overhead), for the "
                   "small MLP variants whose steps are bound by kernel launches.")
@click.option("--sync-bn", is_flag=True,
              help="Under torchrun on GPUs: BatchNorm statistics over the whole batch of all processes.")
@click.option("--quiet", is_flag=True, help="No progress output.")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False), callback=not_empty,
              help="Continue this run folder from its latest checkpoint, with its own settings; only "
                   "--steps, --keep-checkpoints, --checkpoint-every, --eval-every, --device, --tensorboard, "
                   "--quiet and --checkpoint may be given with it.")
@click.option("--checkpoint", help="With --resume: continue from this checkpoint (a file name or a step, e.g. "
                                   "step_004000.pt or 4000) instead of the latest.")
@click.option("--trust-plugins", is_flag=True, help="With --resume: run the plugin code the run folder carries "
                                                    "without the warning.")
@user_errors
def run(config_file, quiet, settings, resume_dir, checkpoint, trust_plugins, labels_path, image_size, sigma, **options):
    """Train a GAN variant and write a run folder.

    On several processes: torchrun --standalone --nproc-per-node=N -m ganlab run ... (see the README).
    """
    context = click.get_current_context()
    given = {name for name in context.params if context.get_parameter_source(name).name != "DEFAULT"}
    if resume_dir is not None:
        trust_run_plugins(trust_plugins)
        result = api.resume(resume_dir, quiet=quiet, checkpoint=checkpoint, **resume_changes(given, options))
    else:
        if checkpoint is not None:
            raise click.UsageError("--checkpoint chooses where --resume continues from; give --resume RUN too.")
        options["data_options"] = {key: value for key, value in
                                   (("labels", labels_path), ("image_size", image_size and int(image_size)),
                                    ("sigma", sigma)) if value is not None}
        options["plugin_files"] = list(options["plugin_files"])
        overrides = {**context.meta.get("config_settings", {}), **parse_settings(settings)}
        result = api.train(RunConfig(**options), quiet=quiet, overrides=overrides)
    if result.outcome == "stopped":
        if result.folder:  # rank 0 of several processes, or the only one
            latest = result.folder.latest_checkpoint()
            saved = f"the checkpoint {latest.name} is saved" if latest else "no step was done yet, so nothing is saved"
            click.echo(f"Stopped at step {result.step}; {saved}. Continue with:\n"
                       f"  {resume_command(result.world, quoted(result.folder.path))}", err=True)
        sys.exit(128 + signal.Signals[result.stopped_by or "SIGINT"].value)  # 130 for Ctrl-C, 143 for SIGTERM
    if not quiet and result.folder:
        click.echo(f"Run folder: {result.folder.path}  (samples/, final_grid.png, losses.csv, "
                   f"loss_curve.png, checkpoints/)")
        click.echo(f"Draw new samples: ganlab sample {result.folder.path} --out samples.png")


RESUMABLE_OPTIONS = {"steps", "keep_checkpoints", "checkpoint_every", "eval_every", "device", "threads", "tensorboard",
                     "quiet", "resume_dir", "checkpoint", "trust_plugins"}


def resume_changes(given: set[str], values: dict) -> dict:
    """The settings a ``--resume`` changes; any other option given is refused by name."""
    refused = sorted(given - RESUMABLE_OPTIONS)
    if refused:
        options = {param.name: param.opts[0] for param in click.get_current_context().command.params}
        names = ", ".join(options[name] for name in refused)
        raise click.UsageError(
            f"--resume continues a run with the settings in its config.json, so {names} cannot be given with it. "
            f"A resume may change only --steps, --keep-checkpoints, --checkpoint-every, --eval-every, --device, "
            f"--threads and --tensorboard. To train with other settings, start a new run (another --out).")
    return {name: values[name] for name in given & (RESUMABLE_OPTIONS - {"quiet", "resume_dir", "checkpoint",
                                                                         "trust_plugins"})}


def trust_run_plugins(trust: bool) -> None:
    """--trust-plugins: no warning before running the plugin code a run folder carries."""
    if trust:
        os.environ[TRUST_VARIABLE] = "1"


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="A .png grid or .npz arrays.")
@click.option("--n", type=positive, default=None, help="How many samples [default: 100].")
@click.option("--label", type=click.IntRange(min=0), default=None, help="Draw only this class.")
@click.option("--per-class", type=positive, default=None, help="Draw M samples of every class.")
@click.option("--seed", type=seeds, default=0, show_default=True)
@click.option("--checkpoint", type=click.Path(dir_okay=False), help="A checkpoint file [default: the latest].")
@click.option("--device", default="cpu", show_default=True)
@click.option("--trust-plugins", is_flag=True, help="Run the plugin code the run folder carries without the warning.")
@user_errors
def sample(run_dir, out, n, label, per_class, seed, checkpoint, device, trust_plugins):
    """Draw samples from a trained run into a PNG grid or an NPZ file."""
    trust_run_plugins(trust_plugins)
    if Path(out).suffix.lower() not in (".png", ".npz"):
        raise click.BadParameter(f"{out} must end in .png (a grid) or .npz (arrays).", param_hint="--out")
    if label is not None and per_class is not None:
        raise click.UsageError("Give --label or --per-class, not both.")
    if per_class is not None and n is not None:
        raise click.UsageError("--per-class M draws M samples of each class; leave out --n.")
    count = api.sample(run_dir, out, n=n, label=label, per_class=per_class, seed=seed,
                            checkpoint=checkpoint, device=device)
    click.echo(f"Wrote {count} samples to {out}")


@cli.command()
@click.option("--verbose", "-v", is_flag=True, help="Also show each plugin's hooks and settings.")
@click.option("--plugin", "plugin_files", multiple=True, type=click.Path(dir_okay=False),
              help="Also list the plugin in this .py file.")
@user_errors
def variants(verbose, plugin_files):
    """List the installed variants (plugins), what they are and where they come from.

    A plugin that fails to import is listed as broken, with its error; the others still work.
    """
    sources = discover_plugins(plugin_files)
    width = max((len(name) for name in sources), default=0)
    broken = 0
    for name, source in sorted(sources.items()):
        try:
            description = source.description
        except GanlabError as exc:
            broken += 1
            click.echo(f"{name:<{width}}  BROKEN: {exc}")
            continue
        click.echo(f"{name:<{width}}  {description}")
        click.echo(f"{'':<{width}}  from {source.origin}")
        if verbose:
            click.echo(f"{'':<{width}}  hooks: {', '.join(h.removeprefix('ganlab_') for h in source.hooks)}")
            for setting, (default, help_text) in source.settings.items():
                click.echo(f"{'':<{width}}  --set {setting}={default!r}  {help_text}")
    if broken:
        click.echo(f"{broken} plugin(s) could not be imported; runs that do not name them are not affected.",
                   err=True)


@cli.group()
def data():
    """Fetch a dataset and look at it before training (the tutorial's section 2)."""


def dataset_arguments(command):
    """NAME and the options that say where its files are (for idx, folder, npz, or your own copy)."""
    for decorator in reversed([
        click.argument("name"),
        click.option("--data", "path", type=click.Path(exists=True), help="The file or folder to read."),
        click.option("--labels", type=click.Path(exists=True, dir_okay=False), help="idx: the labels file."),
        click.option("--image-size", type=click.Choice(["28", "32", "64"]), help="folder: resize to this."),
    ]):
        command = decorator(command)
    return command


def load_for_cli(name, path, labels, image_size):
    options = {"labels": labels, "image_size": int(image_size) if image_size else None}
    return load_dataset(name, path, **{k: v for k, v in options.items() if v is not None})


@data.command()
@click.argument("name")
@user_errors
def download(name):
    """Fetch and verify NAME into the cache.

    NAME is mnist or fashion-mnist; the other datasets are read from your own files.
    """
    click.echo(f"{name} is in {download_dataset(name)}")


@data.command()
@dataset_arguments
@user_errors
def info(**dataset):
    """Shapes, value range, images per label.

    The tutorial's 2.2: train/test shapes and dtypes, pixel range, labels present, count per label.
    """
    click.echo(describe(load_for_cli(**dataset)))


@data.command()
@dataset_arguments
@click.option("--out", required=True, type=click.Path(dir_okay=False), callback=not_empty, help="The .png to write.")
@click.option("--n", type=click.IntRange(min=1, max=MAX_EXAMPLES), default=50, show_default=True,
              help="How many images (10 a row).")
@click.option("--seed", type=seeds, default=0, show_default=True)
@user_errors
def show(out, n, seed, **dataset):
    """Grid of random training images with labels.

    The tutorial's 2.3: N random training images, 10 a row, titled with their class names.
    """
    click.echo(f"Wrote {save_examples_grid(load_for_cli(**dataset), out, n=n, seed=seed)}")


@data.command()
@dataset_arguments
@click.option("--out", required=True, type=click.Path(dir_okay=False), callback=not_empty, help="The .png to write.")
@user_errors
def hist(out, **dataset):
    """Bar chart of images per label.

    The tutorial's 2.4: train and test counts side by side; prints the imbalance ratio.
    """
    ratio = save_label_histogram(load_for_cli(**dataset), out)
    click.echo(f"Wrote {out}; imbalance ratio (largest / smallest class, train): {ratio:.2f}")


@cli.command("eval")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--n", type=click.IntRange(min=2), default=10_000, show_default=True, help="Samples to draw.")
@click.option("--checkpoint", type=click.Path(dir_okay=False), help="A checkpoint file [default: the latest].")
@click.option("--device", default="cpu", show_default=True)
@click.option("--trust-plugins", is_flag=True, help="Run the plugin code the run folder carries without the warning.")
@click.option("--trained-generator", is_flag=True,
              help="Measure the trained generator, not the one that samples (an EMA, in cgan+ema runs); writes "
                   "metrics-trained.json.")
@user_errors
def eval_command(run_dir, n, checkpoint, device, trust_plugins, trained_generator):
    """Measure a trained run with the project's classifier; writes metrics.json."""
    trust_run_plugins(trust_plugins)
    metrics = api.evaluate(run_dir, n=n, checkpoint=checkpoint, device=device, trained_generator=trained_generator)
    source = metrics["sampled_from"]  # "generator" (the trained one) or the plugin that averages it (ema)
    source = "trained generator" if source == "generator" else f"{source} generator"
    click.echo(f"{metrics['variant']} at step {metrics['step']}, {n} samples from the {source}:")
    click.echo(format_table(metrics))
    click.echo(f"Wrote {Path(run_dir) / ('metrics-trained.json' if trained_generator else 'metrics.json')}")


@cli.command()
@click.argument("run_dirs", nargs=-1, type=click.Path(file_okay=False))
@click.option("--out", default="report", show_default=True, type=click.Path(file_okay=False), callback=not_empty)
@click.option("--variants", help="Train these variants first (comma-separated), same seed, data and budget.")
@click.option("--steps", type=positive, default=defaults.steps, show_default=True, help="With --variants.")
@click.option("--seed", type=seeds, default=0, show_default=True,
              help="With --variants: the (first) seed.")
@click.option("--seeds", type=positive, default=1, show_default=True,
              help="With --variants: train each variant with this many seeds (--seed, --seed+1, ...); the report "
                   "shows each metric's spread.")
@click.option("--jobs", type=positive, default=1, show_default=True,
              help="With --variants: trainings at once, each in its own process with its share of the cores.")
@click.option("--threads", type=click.IntRange(min=0), default=0,
              help="With --jobs: CPU threads per training [default: cores / jobs].")
@click.option("--eval-every", type=click.IntRange(min=0), default=None,
              help="With --variants [default: steps/10].")
@click.option("--dataset", default=defaults.dataset, show_default=True, help="With --variants.")
@click.option("--data", "data_path", type=click.Path(exists=True), help="With --variants: a data file or folder.")
@click.option("--n", type=click.IntRange(min=2), default=10_000, show_default=True,
              help="Samples for runs that have no metrics.json yet.")
@click.option("--quiet", is_flag=True)
@click.option("--trust-plugins", is_flag=True, help="Run the plugin code run folders carry without the warning.")
@user_errors
def compare(run_dirs, out, variants, steps, seed, seeds, jobs, threads, eval_every, dataset, data_path, n, quiet,
            trust_plugins):
    """Compare runs side by side: report.html (self-contained) and report.png.

    ganlab compare runs/gan-... runs/cgan-... --out report/
    ganlab compare --variants gan,cgan --steps 20000   (trains both, then compares)
    """
    trust_run_plugins(trust_plugins)
    run_dirs = list(run_dirs)
    if variants:
        run_dirs += api.train_variants([v.strip() for v in variants.split(",")], out, steps=steps,
                                       seeds=list(range(seed, seed + seeds)), dataset=dataset, data_path=data_path,
                                       eval_every=eval_every, n=n, quiet=quiet, jobs=jobs, threads=threads)
    if len(run_dirs) < 1:
        raise click.UsageError("Give run folders to compare, or --variants to train and compare.")
    report = api.compare(run_dirs, out, n=n)
    click.echo(f"Wrote {report}, {report.with_suffix('.png')} and {report.parent / 'summary.json'}")


def main() -> None:
    """The ``ganlab`` command. Ctrl-C raises KeyboardInterrupt again (``__main__`` caught it while
    starting); SIGTERM stops a training between steps and otherwise ends the process, as usual."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    cli(prog_name="ganlab")


if __name__ == "__main__":
    main()
