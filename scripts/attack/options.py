"""Kind 1: every option of every command with edge values, broken config files, bad data files."""
from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import numpy as np

import ganlab.cli
from attack.folders import folder_problems, npz_arrays, png_complete
from attack.lab import Case, Lab
from attack.processes import Proc
from attack.verdicts import Outcome, judge

HUGE = "1000000000000"
INT_VALUES = ["-1", "0", "1", HUGE, "nan", "inf", "abc", ""]
FLOAT_VALUES = ["-1", "0", "1", "1e308", "1e-300", "nan", "inf", "-inf", "abc", ""]
# A huge value that is legitimate but takes long (the harness stops it with SIGINT and wants a clean stop)
# or that must fail for lack of memory: what each int option of `run` should do with HUGE.
RUN_HUGE = {"steps": "long", "batch_size": "either", "latent_dim": "either", "final_eval_samples": "long",
            "seed": "ok", "eval_samples": "ok"}


def parses_in_range(param: click.Parameter, value: str) -> bool:
    """Whether the option's own type takes ``value`` (a finite number where numbers are asked for)."""
    try:
        number = param.type.convert(value, param, None)
    except click.BadParameter:
        return False
    return not isinstance(number, float) or np.isfinite(number)


def run_folder_of(argv: list[str], work: Path) -> Path:
    """The run folder a command works on (where the checkpoints its messages name must be)."""
    if argv[0] in ("sample", "eval") and len(argv) > 1:
        return Path(argv[1])
    if "--resume" in argv[:-1]:
        return Path(argv[argv.index("--resume") + 1])
    return work / "run"


def option_cases(lab: Lab, rng: random.Random) -> list[Case]:
    cases: list[Case] = []

    def case(name: str, args: list, expect: str = "error", command: str | None = None, plugin: bool = False,
             mention: tuple[str, ...] = (), setup: Callable[[Path], None] | None = None, long: bool = False,
             fresh: bool = False, check: Callable[[Path, Proc], list[str]] | None = None) -> None:
        """``args`` may hold callables of the working folder (paths made inside it)."""
        def run(work: Path) -> Outcome:
            if setup:
                setup(work)
            argv = [str(a(work) if callable(a) else a) for a in args]
            proc = lab.runner.call(argv, work, timeout=40 if long else 240, fresh=fresh)
            problems = check(work, proc) if check else []
            for config_file in work.rglob("config.json"):  # every run folder this case made or changed
                problems += folder_problems(config_file.parent)
            return judge(proc, expect, problems, command=command or argv[0], plugin=plugin, mention=mention,
                         stop_ok=long, folder=run_folder_of(argv, work))
        cases.append(Case("options", name, run))

    def tiny_run(*extra: Any) -> list:
        return ["run", "--variant", "gan", *lab.tiny(), "--steps", "2", "--final-eval-samples", "0",
                "--seed", "1", *extra, "--out", lambda w: w / "run"]

    # ---- every numeric option of `run` ----------------------------------------------------------------
    for param in ganlab.cli.run.params:
        if not isinstance(param, click.Option) or not isinstance(param.type, (click.IntRange, click.FloatRange)):
            continue
        flag, name = param.opts[0], param.name
        values = FLOAT_VALUES if isinstance(param.type, click.FloatRange) else INT_VALUES
        if name == "seed":
            values = [*values, str(2**64)]
        for value in values:
            expect = "ok" if parses_in_range(param, value) else "error"
            if value == HUGE:
                expect = RUN_HUGE.get(name, "ok")
            if value == "1e308":
                expect = "either"  # a learning rate that diverges at once
            if name == "final_eval_samples" and value == "1":
                expect = "error"  # the metrics compare the spread of the samples
            if name == "eval_every" and expect == "ok" and value != "0":
                extra = ["--eval-samples", "50"]
            else:
                extra = []
            case(f"run {flag} {value!r}", tiny_run(*extra, flag, value), "either" if expect == "long" else expect,
                 long=expect == "long", mention=(flag, name))

    # ---- choices, text and paths of `run` -------------------------------------------------------------
    for value, expect in (("joint", "ok"), ("separate", "ok"), ("both", "error"), ("", "error")):
        case(f"run --d-update {value!r}", tiny_run("--d-update", value), expect, mention=("--d-update",))
    for value, expect in (("nope", "error"), ("", "error"), ("+", "error"), ("gan+", "error"),
                          ("gan+nope", "error"), ("GAN", "either"), ("hinge", "error"), ("ema", "error"),
                          ("gan+gan", "either"), ("cgan+gan", "either"), ("../gan", "error"), ("gan+ema", "ok"),
                          ("dcgan", "ok"), ("wgan-gp", "ok"), ("acgan", "ok"), ("gan+r1", "ok")):
        case(f"run --variant {value!r}", tiny_run("--variant", value), expect, mention=("variant", value or "''"))
    for value, expect in (("nope", "error"), ("", "error"), ("npz", "ok"), ("folder", "error"), ("idx", "error"),
                          ("MNIST", "either"), ("fashion-mnist", "either")):
        case(f"run --dataset {value!r} --data small.npz", tiny_run("--dataset", value), expect,
             mention=("dataset", "folder", "labels", "--data"))
    for value, expect in (("meta", "error"), ("cuda", "error"), ("cuda:7", "error"), ("mps", "error"),
                          ("cpu:1", "either"), ("", "error"), ("CPU", "either"), ("xla", "error"),
                          ("cuda:-1", "error"), ("auto", "ok"), ("cpu:0", "either"), ("gpu", "error")):
        case(f"run --device {value!r}", tiny_run("--device", value), expect, mention=("--device", "device"))
    for value, expect in (("x", "error"), ("=1", "error"), ("nope=1", "error"), ("d_dropout=abc", "error"),
                          ("d_dropout=nan", "error"), ("d_dropout=-5", "error"), ("d_dropout=1e400", "error"),
                          ("d_dropout=", "error"), ("gp_weight=10", "error"), ("d_dropout=0.2", "ok"),
                          ("init=torch", "ok"), ("init=nope", "error"), ("d_dropout=inf", "error")):
        case(f"run --set {value!r}", tiny_run("--set", value), expect, mention=("--set", value.split("=")[0] or "="))
    case("run --image-size 32 with an npz", tiny_run("--image-size", "32"), "either",
         mention=("--image-size", "image_size"))
    for variant, setting in (("dcgan", "g_width=0"), ("dcgan", "d_norm=group"), ("gan+ema", "ema_decay=1.5"),
                             ("infogan", "categories=0"), ("wgan-gp", "n_critic=0"), ("cgan", "d_dropout=1"),
                             ("gan+r1", "r1_gamma=nan")):
        case(f"run --variant {variant} --set {setting}", tiny_run("--variant", variant, "--set", setting), "error",
             mention=(setting.split("=")[0],))
    case("run --image-size 27", tiny_run("--image-size", "27"), "error", mention=("--image-size",))
    case("run --labels with mnist", tiny_run("--labels", lambda w: lab.data), "either", mention=("--labels", "labels"))
    case("run --checkpoint without --resume", tiny_run("--checkpoint", "5"), "error", mention=("--resume",))
    case("run --tensorboard (not installed)", tiny_run("--tensorboard"), "either", mention=("tensorboard",))

    # ---- --out ----------------------------------------------------------------------------------------
    def afile(work: Path) -> None:
        (work / "afile").write_text("x")

    for label, out, expect, setup in (
            ("an existing file", lambda w: w / "afile", "error", afile),
            ("a path through a file", lambda w: w / "afile" / "run", "error", afile),
            ("empty", "", "error", None),
            ("under /proc", "/proc/ganlab-attack/run", "error", None),
            ("a folder with a space", lambda w: w / "my run", "ok", None),
            ("an existing run", lambda w: w / "base", "error", lambda w: lab.clone(lab.base, w)),
            ("an existing empty folder", lambda w: w / "run", "ok", lambda w: (w / "run").mkdir()),
            ("the working folder '.'", ".", "either", None)):
        case(f"run --out {label}", [*tiny_run()[:-2], "--out", out], expect, setup=setup,
             mention=("--out", "afile", "run", "/proc"))

    # ---- --data with bad files ------------------------------------------------------------------------
    def npz(**arrays: Any) -> Callable[[Path], Path]:
        def make(work: Path) -> Path:
            np.savez(work / "d.npz", **arrays)
            return work / "d.npz"
        return make

    rng_np = np.random.default_rng(rng.randrange(2**32))
    images = rng_np.integers(0, 256, (60, 28, 28), dtype=np.uint8)
    labels = np.arange(60) % 10
    for label, data, expect, dataset in (
            ("a missing file", lambda w: w / "nope.npz", "error", "mnist"),
            ("an empty folder", lambda w: (w / "empty").mkdir() or w / "empty", "error", "folder"),
            ("a text file", lambda w: (w / "t.npz").write_text("hello") and w / "t.npz", "error", "npz"),
            ("an npz without x_train", npz(images=images), "error", "npz"),
            ("an npz of one image", npz(x_train=images[:1], y_train=labels[:1]), "either", "npz"),
            ("an npz of zero images", npz(x_train=images[:0], y_train=labels[:0]), "error", "npz"),
            ("an npz with fewer labels", npz(x_train=images, y_train=labels[:10]), "error", "npz"),
            ("an npz of float images with NaN", npz(x_train=np.full((60, 28, 28), np.nan), y_train=labels),
             "error", "npz"),
            ("an npz of negative labels", npz(x_train=images, y_train=labels - 5), "either", "npz"),
            ("an npz of 1-d images", npz(x_train=images.reshape(60, -1), y_train=labels), "either", "npz"),
            ("an npz of 5-d images", npz(x_train=images.reshape(60, 1, 1, 28, 28), y_train=labels), "error", "npz"),
            ("an npz of string labels", npz(x_train=images, y_train=np.array(["a"] * 60)), "either", "npz"),
            ("an npz of 2x2 images with dcgan", npz(x_train=images[:, :2, :2], y_train=labels), "error", "npz-dcgan"),
            ("an npz of 300x300 images", npz(x_train=np.zeros((20, 300, 300), np.uint8), y_train=np.arange(20) % 2),
             "either", "npz")):
        variant = "dcgan" if dataset == "npz-dcgan" else "gan"
        case(f"run --data {label}", ["run", "--variant", variant, "--dataset", dataset.replace("-dcgan", ""),
                                     "--data", data, "--steps", "2", "--batch-size", "8", "--device", "cpu",
                                     "--quiet", "--final-eval-samples", "0", "--out", lambda w: w / "run"],
             expect, mention=("d.npz", "nope.npz", "t.npz", "empty", "x_train", "image", "label"))

    # ---- --plugin ------------------------------------------------------------------------------------
    for label, text in (("a syntax error", "def ganlab_generator_loss(:\n"),
                        ("an error on import", "raise RuntimeError('boom')\n"),
                        ("no hooks", '"""Nothing."""\n'),
                        ("an unknown hook", "import ganlab\n@ganlab.hookimpl\ndef ganlab_nope():\n    pass\n"),
                        ("a loss that is a float", "import ganlab\n@ganlab.hookimpl\ndef ganlab_generator_loss("
                                                   "scores):\n    return 1.0\n")):
        def write(work: Path, text: str = text) -> None:
            (work / "mine.py").write_text(text)
        case(f"run --plugin with {label}", tiny_run("--variant", "gan+mine", "--plugin", lambda w: w / "mine.py"),
             "either" if label == "no hooks" else "error", plugin=True, setup=write, mention=("mine",))
    case("run --plugin missing.py", tiny_run("--variant", "gan+missing", "--plugin", "missing.py"), "error",
         plugin=True, mention=("missing.py",))
    case("run --plugin a folder", tiny_run("--variant", "gan+pkg", "--plugin", lambda w: w / "pkg"), "error",
         plugin=True, setup=lambda w: (w / "pkg").mkdir(), mention=("pkg",))
    case("run --plugin notes.txt", tiny_run("--variant", "gan+notes", "--plugin", lambda w: w / "notes.txt"),
         "error", plugin=True, setup=lambda w: (w / "notes.txt").write_text("x"), mention=("notes.txt",))

    # ---- --config with broken files -------------------------------------------------------------------
    for label, name, text, expect in (
            ("missing", "nope.toml", None, "error"),
            ("empty but for steps", "c.toml", "", "ok"),
            ("not TOML", "c.toml", "steps = = 2\n", "error"),
            ("binary garbage", "c.json", b"\x80\x81\xfe\x00", "error"),
            ("an unknown key", "c.toml", "stepz = 2\n", "error"),
            ("steps as text", "c.toml", 'steps = "x"\n', "error"),
            ("steps negative", "c.toml", "steps = -1\n", "error"),
            ("lr nan", "c.toml", "lr = nan\n", "error"),
            ("variant a number", "c.toml", "variant = 5\n", "error"),
            ("a bad plugin setting", "c.toml", "[settings]\nnope = 1\n", "error"),
            ("a missing plugin file", "c.toml", 'plugin_files = ["nope.py"]\n', "error"),
            ("data_options labels a number", "c.toml", "[data_options]\nlabels = 5\n", "error"),
            ("a JSON list", "c.json", "[1, 2]", "error"),
            ("a run's config.json", "config.json", "COPY", "ok"),
            ("a folder", "cfgdir", "DIR", "error")):
        def write(work: Path, name: str = name, text: Any = text) -> None:
            if text == "DIR":
                (work / name).mkdir()
            elif text == "COPY":
                shutil.copy(lab.base / "config.json", work / name)
            elif isinstance(text, bytes):
                (work / name).write_bytes(text)
            elif text is not None:  # two steps, unless the file is about steps or is no TOML
                prefix = "" if "steps" in text or name.endswith(".json") or "= =" in text else "steps = 2\n"
                (work / name).write_text(prefix + text if not text.startswith("[") else text.replace(
                    "[", prefix + "[", 1))
        case(f"run --config {label}", ["run", "--config", lambda w, n=name: w / n, "--data", lab.data,
                                       "--batch-size", "8", "--device", "cpu", "--quiet", "--final-eval-samples", "0",
                                       "--out", lambda w: w / "run"], expect, setup=write,
             mention=("--config", name, "plugin", "setting", "lr", "steps"), plugin="plugin" in label)

    # ---- --resume with other options ------------------------------------------------------------------
    def resume_case(label: str, extra: list, expect: str, mention: tuple[str, ...] = ()) -> None:
        def setup(work: Path) -> None:
            lab.clone(lab.base, work).rename(work / "run")
        case(f"run --resume {label}", ["run", "--resume", lambda w: w / "run", *extra], expect, setup=setup,
             mention=mention)

    for flag, value in (("--variant", "cgan"), ("--lr", "0.1"), ("--seed", "5"), ("--out", "elsewhere"),
                        ("--batch-size", "7"), ("--data", str(lab.data)), ("--set", "d_dropout=0.1"),
                        ("--final-eval-samples", "0"), ("--latent-dim", "3")):
        resume_case(f"{flag} {value}", [flag, value], "error", mention=(flag,))
    resume_case("--plugin mine.py", ["--plugin", lab.plugin_file], "error", mention=("--plugin",))
    resume_case("--config c.toml", ["--config", lambda w: (w / "c.toml").write_text("steps = 12\n") and w / "c.toml"],
                "error", mention=("--config",))
    resume_case("--steps 5 (before the checkpoint)", ["--steps", "5", "--quiet"], "error", mention=("--steps",))
    resume_case("--steps 10 (already there)", ["--steps", "10", "--quiet"], "ok")
    resume_case("--steps 12 --keep-checkpoints 1", ["--steps", "12", "--keep-checkpoints", "1", "--quiet"], "ok")
    resume_case("--checkpoint 5", ["--checkpoint", "5", "--quiet"], "ok")
    resume_case("--checkpoint step_000005.pt", ["--checkpoint", "step_000005.pt", "--quiet"], "ok")
    resume_case("--checkpoint step_999.pt", ["--checkpoint", "step_999.pt"], "error", mention=("step_999",))
    resume_case("--checkpoint /etc/passwd", ["--checkpoint", "/etc/passwd"], "error", mention=("passwd",))
    resume_case("--checkpoint ''", ["--checkpoint", ""], "error", mention=("checkpoint",))
    resume_case("--checkpoint -1", ["--checkpoint", "-1"], "error", mention=("-1", "checkpoint"))
    resume_case("--device meta", ["--device", "meta"], "error", mention=("--device",))
    resume_case("--eval-every 0 --steps 12", ["--eval-every", "0", "--steps", "12", "--quiet"], "ok")
    resume_case("--checkpoint-every -1", ["--checkpoint-every", "-1"], "error", mention=("--checkpoint-every",))
    case("run --resume a missing folder", ["run", "--resume", lambda w: w / "nope"], "error", mention=("nope",))
    case("run --resume a file", ["run", "--resume", lambda w: w / "afile"], "error", setup=afile, mention=("afile",))
    case("run --resume an empty folder", ["run", "--resume", lambda w: w / "run"], "error",
         setup=lambda w: (w / "run").mkdir(), mention=("run",))
    case("run --resume ''", ["run", "--resume", ""], "error", mention=("--resume",))

    # ---- sample ----------------------------------------------------------------------------------------
    def sample(*extra: Any, run: Any = None, out: Any = None) -> list:
        return ["sample", lab.base_cgan if run is None else run, "--out", (lambda w: w / "s.png") if out is None
                else out, *extra]

    def sample_case(label: str, args: list, expect: str, mention: tuple[str, ...] = (), setup=None) -> None:
        def out_check(work: Path, proc: Proc) -> list[str]:
            stale = [p.name for p in work.rglob(".*.tmp")]
            half = [p.name for p in work.glob("*.png") if p.is_file() and not png_complete(p)]
            half += [p.name for p in work.glob("*.npz") if p.is_file() and npz_arrays(p) is None]
            return ([f"temporary file(s) left: {stale}"] if stale else []) + (
                [f"half-written output {half}"] if half else [])
        case(f"sample {label}", args, expect, command="sample", mention=mention, setup=setup, check=out_check)

    for flag, values in (("--n", INT_VALUES), ("--label", INT_VALUES + ["9", "10"]), ("--per-class", INT_VALUES),
                         ("--seed", INT_VALUES + [str(2**64)])):
        param = next(p for p in ganlab.cli.sample.params if flag in p.opts)
        for value in values:
            expect = "ok" if parses_in_range(param, value) else "error"
            if flag == "--label" and value in (HUGE, "10"):
                expect = "error"
            if value == HUGE or value == str(2**64):
                expect = {"--n": "error", "--per-class": "error", "--label": "error"}.get(flag, "either")
            sample_case(f"{flag} {value!r}", sample(flag, value), expect, mention=(flag, flag.strip("-")))
    sample_case("--n 100000 --out x.npz (bounded batches)", sample("--n", "100000", out=lambda w: w / "x.npz"), "ok")
    sample_case("--n 2501 --out x.png", sample("--n", "2501"), "error", mention=(".npz",))
    sample_case("--label on an unconditional run", sample("--label", "3", run=lab.base), "error",
                mention=("--label",))
    sample_case("--label and --per-class", sample("--label", "1", "--per-class", "2"), "error", mention=("--label",))
    sample_case("--per-class and --n", sample("--per-class", "1", "--n", "5"), "error", mention=("--per-class",))
    for label, ckpt, expect in (("missing", lambda w: w / "nope.pt", "error"),
                                ("a folder", lambda w: (w / "d.pt").mkdir() or w / "d.pt", "error"),
                                ("a text file", lambda w: (w / "t.pt").write_text("x") and w / "t.pt", "error"),
                                ("of another seed", lambda w: lab.base_seed2 / "checkpoints" / "step_000010.pt",
                                 "either"),
                                ("of another variant", lambda w: lab.base / "checkpoints" / "step_000010.pt",
                                 "error"),
                                ("a step number", "5", "either")):
        sample_case(f"--checkpoint {label}", sample("--checkpoint", ckpt), expect, mention=("nope.pt", "d.pt", "t.pt",
                                                                                            "step_000010.pt", "5"))
    for value, expect in (("meta", "error"), ("cuda", "error"), ("", "error"), ("cpu", "ok"), ("xla", "error")):
        sample_case(f"--device {value!r}", sample("--device", value), expect, mention=("--device", "device"))
    for label, out, expect, setup in (("x.jpg", lambda w: w / "x.jpg", "error", None),
                                      ("no suffix", lambda w: w / "x", "error", None),
                                      ("empty", "", "error", None),
                                      ("an existing folder d.png", lambda w: w / "d.png", "error",
                                       lambda w: (w / "d.png").mkdir()),
                                      ("a path through a file", lambda w: w / "afile" / "x.png", "error", afile),
                                      ("under /proc", "/proc/ganlab-attack.png", "error", None),
                                      ("X.NPZ", lambda w: w / "X.NPZ", "ok", None)):
        sample_case(f"--out {label}", sample(out=out), expect, setup=setup, mention=("--out", "afile", "d.png",
                                                                                     "proc", "x.jpg", ".png"))
    for label, run, expect, setup in (("a missing folder", lambda w: w / "nope", "error", None),
                                      ("a file", lambda w: w / "afile", "error", afile),
                                      ("an empty folder", lambda w: w / "empty", "error",
                                       lambda w: (w / "empty").mkdir()),
                                      ("''", "", "error", None)):
        sample_case(f"RUN_DIR {label}", sample(run=run), expect, setup=setup, mention=("nope", "afile", "empty",
                                                                                       "run folder"))

    # ---- eval -------------------------------------------------------------------------------------------
    def eval_case(label: str, extra: list, expect: str, mention: tuple[str, ...] = (), run: Path | None = None,
                  long: bool = False) -> None:
        def setup(work: Path) -> None:
            lab.clone(run or lab.base, work).rename(work / "run")
        case(f"eval {label}", ["eval", lambda w: w / "run", *extra], expect, command="eval", setup=setup,
             mention=mention, long=long)

    for value in INT_VALUES:
        param = next(p for p in ganlab.cli.eval_command.params if "--n" in p.opts)
        expect = "ok" if parses_in_range(param, value) else "error"
        eval_case(f"--n {value!r}", ["--n", value], "either" if value == HUGE else expect, mention=("--n",),
                  long=value == HUGE)
    eval_case("--n 2", ["--n", "2"], "either", mention=("--n",))
    eval_case("--checkpoint missing", ["--checkpoint", "nope.pt", "--n", "100"], "error", mention=("nope.pt",))
    eval_case("--checkpoint 5", ["--checkpoint", "5", "--n", "100"], "either", mention=("5",))
    eval_case("--device meta", ["--device", "meta", "--n", "100"], "error", mention=("--device",))
    eval_case("a run without a classifier", ["--n", "100"], "error", mention=("classifier",), run=lab.rgb_run)
    case("eval a missing folder", ["eval", lambda w: w / "nope"], "error", command="eval", mention=("nope",))

    # ---- compare ---------------------------------------------------------------------------------------
    def compare_case(label: str, args: list, expect: str, mention: tuple[str, ...] = (), setup=None,
                     long: bool = False) -> None:
        case(f"compare {label}", ["compare", *args], expect, command="compare", mention=mention, setup=setup,
             long=long)

    report = ["--out", lambda w: w / "report"]
    compare_case("no runs", [*report], "error", mention=("--variants", "run folders"))
    compare_case("a missing folder", [lab.base, lambda w: w / "nope", *report], "error", mention=("nope",))
    compare_case("a file", [lambda w: w / "afile", *report], "error", setup=afile, mention=("afile",))
    compare_case("one run twice", [lab.base, lab.base, *report], "either")
    compare_case("runs of different data", [lab.base, lab.rgb_run, *report], "error", mention=("different data",))
    compare_case("an unconditional and a conditional run", [lab.base, lab.base_cgan, *report], "ok")
    for value in ("0", "1", HUGE, "abc"):
        compare_case(f"--n {value!r}", [lab.base, "--n", value, *report], "ok" if value == HUGE else "error",
                     mention=("--n",))
    compare_case("--out an existing file", [lab.base, "--out", lambda w: w / "afile"], "error", setup=afile,
                 mention=("afile", "--out"))
    compare_case("--out ''", [lab.base, "--out", ""], "error", mention=("--out",))
    compare_case("--variants nope", ["--variants", "nope", "--steps", "2", *report], "error", mention=("nope",))
    compare_case("--variants ''", ["--variants", "", "--steps", "2", *report], "error", mention=("--variants",))
    compare_case("--variants gan --steps 0", ["--variants", "gan", "--steps", "0", *report], "error",
                 mention=("--steps",))
    compare_case("--variants gan --eval-every -1", ["--variants", "gan", "--eval-every", "-1", *report], "error",
                 mention=("--eval-every",))
    compare_case("--variants gan --dataset nope", ["--variants", "gan", "--dataset", "nope", "--steps", "2", *report],
                 "error", mention=("nope",))

    # ---- data, variants, unknown commands -------------------------------------------------------------------
    def data_case(label: str, args: list, expect: str, mention: tuple[str, ...] = (), setup=None) -> None:
        case(f"data {label}", ["data", *args], expect, command=f"data {args[0]}", mention=mention, setup=setup)

    data_case("download nope", ["download", "nope"], "error", mention=("nope",))
    data_case("download ''", ["download", ""], "error", mention=("mnist",))
    data_case("info nope", ["info", "nope"], "error", mention=("nope",))
    data_case("info npz without --data", ["info", "npz"], "error", mention=("--data",))
    data_case("info npz --data small.npz", ["info", "npz", "--data", lab.data], "ok")
    data_case("info folder --data a file", ["info", "folder", "--data", lab.data], "error", mention=("folder",))
    data_case("info idx without --labels", ["info", "idx", "--data", lab.data], "error", mention=("--labels",))
    data_case("info mnist --data missing", ["info", "mnist", "--data", "nope.npz"], "error", mention=("nope.npz",))
    for value, expect in (("0", "error"), ("-1", "error"), ("1", "ok"), ("200", "ok"), (HUGE, "error"),
                          ("abc", "error")):
        data_case(f"show --n {value!r}", ["show", "mnist", "--data", lab.data, "--n", value, "--out",
                                          lambda w: w / "x.png"], expect, mention=("--n",))
    data_case("show --out through a file", ["show", "mnist", "--data", lab.data, "--out",
                                            lambda w: w / "afile" / "x.png"], "error", setup=afile,
              mention=("afile",))
    data_case("hist --out ''", ["hist", "mnist", "--data", lab.data, "--out", ""], "error", mention=("--out",))
    data_case("hist --out a folder", ["hist", "mnist", "--data", lab.data, "--out", lambda w: w],
              "error", mention=("--out", "folder", "directory"))
    case("variants --plugin with a syntax error", ["variants", "--plugin", lambda w: w / "bad.py"], "either",
         command="variants", plugin=True, setup=lambda w: (w / "bad.py").write_text("def (:\n"))
    case("variants --plugin missing.py (listed as broken)", ["variants", "--plugin", "missing.py"], "either",
         command="variants",
         plugin=True, mention=("missing.py",))
    case("an unknown command", ["trian"], "error", command="", mention=("trian",))
    case("run --nope", ["run", "--nope"], "error", mention=("--nope",))
    return cases
