"""A run folder nothing can corrupt: each defect found by attacking it, as a test that failed before.

Faults are injected where it is cheap (a monkeypatched write that raises, ``RLIMIT_FSIZE`` for a full
disk, a plugin that sends the signal) rather than raced against the wall clock.
"""
from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ganlab import api
from ganlab.checkpoints import load_checkpoint, save_checkpoint
from ganlab.cli import cli
from ganlab.config import RunConfig, load_config_file
from ganlab.data import load_dataset
from ganlab.errors import CheckpointError, ConfigError, GanlabError
from ganlab.runs import RunFolder

from conftest import random_dataset


def config(tmp_path, name="run", **changes):
    values = dict(variant="cgan", steps=12, batch_size=8, seed=7, device="cpu", log_every=2, sample_every=100,
                  checkpoint_every=4, final_eval_samples=0, out=str(tmp_path / name))
    return RunConfig(**{**values, **changes})


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def ganlab(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "ganlab", *map(str, args)], capture_output=True, text=True,
                          timeout=300, **kwargs)


# --------------------------------------------------------------------------------------------------
# 1. The loss log is never behind the newest checkpoint
# --------------------------------------------------------------------------------------------------
def test_a_crash_between_the_loss_log_and_the_checkpoint_loses_no_row(tmp_path, monkeypatch):
    data = random_dataset(n=256)
    straight = api.train(config(tmp_path, "straight"), dataset=data, quiet=True)
    import ganlab.trainer

    real_save, calls = ganlab.trainer.save_checkpoint, []

    def killed_at_the_second_checkpoint(path, payload):
        calls.append(path)
        if len(calls) == 2:  # after losses.csv of step 8 was written, before step_000008.pt
            raise KeyboardInterrupt
        real_save(path, payload)

    monkeypatch.setattr(ganlab.trainer, "save_checkpoint", killed_at_the_second_checkpoint)
    with pytest.raises(GanlabError):
        api.train(config(tmp_path, "crashed"), dataset=data, quiet=True)
    monkeypatch.setattr(ganlab.trainer, "save_checkpoint", real_save)
    assert [p.name for p in RunFolder(tmp_path / "crashed").checkpoints()] == ["step_000004.pt"]
    api.resume(tmp_path / "crashed", dataset=data, quiet=True)
    assert (tmp_path / "crashed" / "losses.csv").read_text() == straight.folder.losses_file.read_text()


def limit_file_size(megabytes):
    def apply():
        resource.setrlimit(resource.RLIMIT_FSIZE, (megabytes * 10**6, megabytes * 10**6))
    return apply


def test_a_full_disk_stops_the_run_with_a_message_and_the_run_resumes(tmp_path, small_mnist_npz):
    out = tmp_path / "run"
    args = ["run", "--variant", "gan", "--data", small_mnist_npz, "--steps", 20, "--batch-size", 8,
            "--checkpoint-every", 10, "--log-every", 5, "--final-eval-samples", 0, "--seed", 3, "--quiet",
            "--device", "cpu", "--out", out]
    # A file-size limit below one checkpoint of gan (about 29 MB): the first checkpoint cannot be written.
    full = ganlab(*args, preexec_fn=limit_file_size(8))
    assert full.returncode == 1 and "Traceback" not in full.stderr, full.stderr
    assert "Could not write" in full.stderr and "EFBIG" in full.stderr and "--resume" in full.stderr
    assert not list(out.rglob("*.tmp")), "a failed write leaves no temporary file"
    resumed = ganlab("run", "--resume", out, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert [p.name for p in RunFolder(out).checkpoints()] == ["step_000010.pt", "step_000020.pt"]
    assert [r["step"] for r in RunFolder(out).read_losses()] == list(range(1, 21))


# --------------------------------------------------------------------------------------------------
# 2. One writer per folder
# --------------------------------------------------------------------------------------------------
def test_a_second_writer_of_a_folder_is_refused_naming_the_first(tmp_path):
    first = RunFolder.create(tmp_path / "run")
    try:
        with pytest.raises(ConfigError, match=rf"Another ganlab process \(pid {os.getpid()}\) is writing to"):
            RunFolder.create(tmp_path / "run")
        with pytest.raises(ConfigError, match="Another ganlab process"):
            RunFolder(tmp_path / "run").lock()  # a resume of the same folder, say
    finally:
        first.unlock()
    RunFolder(tmp_path / "run").lock()  # free again once the first writer let go


def test_two_runs_started_on_one_folder_at_once_exactly_one_proceeds(tmp_path, small_mnist_npz):
    out = tmp_path / "same"
    runs = [subprocess.Popen([sys.executable, "-m", "ganlab", "run", "--data", small_mnist_npz, "--steps", "10",
                              "--batch-size", "8", "--checkpoint-every", "5", "--final-eval-samples", "0",
                              "--quiet", "--device", "cpu", "--seed", str(seed), "--out", str(out)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for seed in (1, 2)]
    results = [(run.wait(timeout=300), run.stderr.read()) for run in runs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 1], results
    loser = next(err for code, err in results if code == 1)
    assert "Another ganlab process" in loser or "already holds a run" in loser
    winner_seed = 1 + [code for code, _ in results].index(0)
    assert json.loads((out / "config.json").read_text())["config"]["seed"] == winner_seed
    assert load_checkpoint(out / "checkpoints" / "step_000005.pt")["config"]["seed"] == winner_seed
    assert load_checkpoint(out / "checkpoints" / "step_000010.pt")["config"]["seed"] == winner_seed


def test_stale_temporary_files_are_removed_by_the_next_writer(tmp_path, capsys):
    run = api.train(config(tmp_path, steps=4), dataset=random_dataset(), quiet=True)
    stale = run.folder.checkpoints_dir / ".step_000008.pt.abc123.tmp"
    stale.write_bytes(b"x" * 1000)  # what SIGKILL during a checkpoint leaves behind
    api.resume(run.folder.path, steps=6, dataset=random_dataset(), quiet=True)
    assert not stale.exists() and "removed 1 temporary file" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------
# 3. An early Ctrl-C: no false claim, and the folder can be continued
# --------------------------------------------------------------------------------------------------
INTERRUPT_AT_START = '''
"""Sends SIGINT to its own process when training starts (a test plugin; Goodfellow et al. 2014)."""
import os
import re
import signal

import ganlab


@ganlab.hookimpl
def ganlab_train_start():
    os.kill(os.getpid(), signal.SIGINT)
'''


def test_ctrl_c_before_the_first_step_says_so_and_the_run_continues_from_step_0(tmp_path, small_mnist_npz):
    plugin = tmp_path / "ctrlc.py"
    plugin.write_text(INTERRUPT_AT_START)
    out = tmp_path / "run dir"  # a space: the printed command must paste back correctly
    result = ganlab("run", "--variant", "gan+ctrlc", "--plugin", plugin, "--data", small_mnist_npz, "--steps", 6,
                    "--batch-size", 8, "--final-eval-samples", 0, "--quiet", "--device", "cpu", "--seed", 1,
                    "--out", out)
    assert result.returncode == 130 and "Traceback" not in result.stderr, result.stderr
    assert "Stopped at step 0; no step was done yet, so nothing is saved" in result.stderr
    assert f"ganlab run --resume '{out}'" in result.stderr
    assert not RunFolder(out).checkpoints()


def test_a_folder_without_a_checkpoint_resumes_from_step_0_like_a_fresh_run(tmp_path):
    data = random_dataset()
    straight = api.train(config(tmp_path, "straight", steps=6), dataset=data, quiet=True)
    folder = RunFolder.create(tmp_path / "empty")
    cfg = config(tmp_path, "empty", steps=6)
    cfg.d_update = "separate"
    folder.write_config(cfg, data.spec, True, "cpu")  # what a run stopped before its first step leaves
    folder.unlock()
    resumed = api.resume(tmp_path / "empty", dataset=data, quiet=True)
    assert resumed.step == 6
    for a, b in zip(straight.generator.state_dict().values(), resumed.generator.state_dict().values()):
        assert torch.equal(a, b)


def test_a_second_ctrl_c_stops_at_once_with_a_message_not_a_traceback(tmp_path, small_mnist_npz):
    plugin = tmp_path / "twice.py"
    plugin.write_text('''
"""Raises KeyboardInterrupt in the middle of step 5, as a second Ctrl-C would (a test plugin; 2014)."""
import ganlab

steps = []


@ganlab.hookimpl
def ganlab_generator_updated(step):
    if step == 5:
        raise KeyboardInterrupt
''')
    result = invoke("run", "--variant", "gan+twice", "--plugin", plugin, "--data", small_mnist_npz, "--steps", 8,
                    "--batch-size", 8, "--checkpoint-every", 2, "--final-eval-samples", 0, "--quiet", "--device",
                    "cpu", "--out", tmp_path / "run")
    assert result.exit_code == 130 and "Traceback" not in result.output, result.output
    assert "Stopped at once by a second Ctrl-C during step 5" in result.output
    assert "step_000004.pt, is intact" in result.output and "--resume" in result.output


# --------------------------------------------------------------------------------------------------
# 4. --resume says what it ignores: it refuses it
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_run(tmp_path_factory, small_mnist_npz):
    out = tmp_path_factory.mktemp("resume") / "run"
    result = invoke("run", "--variant", "gan", "--data", small_mnist_npz, "--steps", 6, "--batch-size", 8,
                    "--checkpoint-every", 3, "--final-eval-samples", 0, "--quiet", "--device", "cpu", "--out", out)
    assert result.exit_code == 0, result.output
    return out


def test_resume_refuses_options_that_would_make_another_run_by_name(small_run):
    result = invoke("run", "--resume", small_run, "--steps", 20, "--variant", "cgan", "--batch-size", 7, "--lr",
                    0.5, "--dataset", "fashion-mnist", "--out", "elsewhere")
    assert result.exit_code == 2
    for name in ("--variant", "--batch-size", "--lr", "--dataset", "--out"):
        assert name in result.output
    assert json.loads((small_run / "config.json").read_text())["config"]["steps"] == 6  # nothing changed


def test_resume_accepts_the_options_that_may_change_and_records_them(small_run):
    result = invoke("run", "--resume", small_run, "--steps", 9, "--keep-checkpoints", 1, "--checkpoint-every", 9,
                    "--quiet")
    assert result.exit_code == 0, result.output
    saved = json.loads((small_run / "config.json").read_text())["config"]
    assert (saved["steps"], saved["keep_checkpoints"], saved["checkpoint_every"]) == (9, 1, 9)
    assert [p.name for p in RunFolder(small_run).checkpoints()] == ["step_000009.pt"]


def test_resume_can_continue_from_a_chosen_checkpoint(tmp_path):
    data = random_dataset()
    run = api.train(config(tmp_path, steps=8), dataset=data, quiet=True)
    again = api.resume(run.folder.path, checkpoint="4", steps=8, dataset=data, quiet=True)
    assert again.step == 8
    with pytest.raises(CheckpointError, match=r"No checkpoint 'step_999.pt'.*step_000004.pt, step_000008.pt"):
        api.resume(run.folder.path, checkpoint="step_999.pt", dataset=data, quiet=True)


# --------------------------------------------------------------------------------------------------
# 5. Data that would train on the wrong thing
# --------------------------------------------------------------------------------------------------
def test_16_bit_grayscale_images_are_scaled_not_clipped(tmp_path):
    from PIL import Image

    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        for i in range(5):
            values = np.full((8, 8), 1000 * (i + 1) + (0 if label == "a" else 30000), dtype=np.uint16)
            Image.fromarray(values).save(tmp_path / label / f"{i}.png")  # a 16-bit PNG ("I;16")
    data = load_dataset("folder", tmp_path, test_fraction=0.2)
    pixels = np.concatenate([data.x_train, data.x_test]).ravel()
    assert pixels.max() < 255 and len(np.unique(pixels)) == 10  # 0..65535 -> 0..255, all ten levels kept
    assert abs(int(pixels.min()) - round(1000 * 255 / 65535)) <= 1


def test_sparse_labels_are_renumbered_with_a_table_not_trained_as_hundreds_of_classes(tmp_path, capsys):
    rng = np.random.default_rng(0)
    labels = np.concatenate([np.arange(10).repeat(5), [500]]).astype(np.uint16)
    np.savez(tmp_path / "d.npz", x_train=rng.integers(0, 256, (51, 8, 8), dtype=np.uint8), y_train=labels)
    data = load_dataset("npz", tmp_path / "d.npz", test_fraction=0.2)
    assert data.spec.num_classes == 11 and data.spec.class_names[-1] == "500"
    assert set(np.concatenate([data.y_train, data.y_test])) == set(range(11))
    err = capsys.readouterr().err
    assert "renumbered" in err and "label      500 -> class   10" in err


def test_huge_folder_images_ask_for_image_size(tmp_path):
    from PIL import Image

    (tmp_path / "cls").mkdir()
    Image.new("L", (300, 300)).save(tmp_path / "cls" / "big.png")
    Image.new("L", (300, 300)).save(tmp_path / "cls" / "big2.png")
    with pytest.raises(GanlabError, match=r"300x300 pixels.*--image-size 28, 32 or 64"):
        load_dataset("folder", tmp_path)


# --------------------------------------------------------------------------------------------------
# 6. compare: one dataset at a time, and nothing written until every input is checked
# --------------------------------------------------------------------------------------------------
def test_compare_refuses_runs_of_different_datasets_and_changes_nothing(tmp_path, small_run, small_mnist_npz):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "rgb.npz", x_train=rng.integers(0, 256, (40, 8, 8, 3), dtype=np.uint8),
             y_train=np.arange(40) % 2)
    other = invoke("run", "--variant", "gan", "--dataset", "npz", "--data", tmp_path / "rgb.npz", "--steps", 2,
                   "--batch-size", 4, "--quiet", "--device", "cpu", "--out", tmp_path / "rgb-run")
    assert other.exit_code == 0, other.output
    result = invoke("compare", small_run, tmp_path / "rgb-run", "--out", tmp_path / "report")
    assert result.exit_code == 1 and "different data" in result.output and "not comparable" in result.output
    missing = invoke("compare", small_run, tmp_path / "does-not-exist", "--out", tmp_path / "report", "--n", 100)
    assert missing.exit_code == 1 and "not a ganlab run folder" in missing.output
    assert not (small_run / "metrics.json").exists() and not (tmp_path / "report").exists()


# --------------------------------------------------------------------------------------------------
# 7. Damaged files and failed writes are messages, not tracebacks
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory):
    run = api.train(config(tmp_path_factory.mktemp("ckpt"), steps=2, checkpoint_every=0), dataset=random_dataset(),
                    quiet=True)
    return run.folder.path, torch.load(run.folder.checkpoints()[-1], weights_only=True)


def damaged(payload: dict, path: tuple, change):
    """A copy of ``payload`` with the field at ``path`` removed (change=None) or replaced."""
    copy = {**payload}
    target = copy
    for key in path[:-1]:
        target[key] = dict(target[key]) if isinstance(target[key], dict) else list(target[key])
        target = target[key]
    if change is None:
        del target[path[-1]]
    else:
        target[path[-1]] = change
    return copy


FIELDS = [("step",), ("variant",), ("spec",), ("spec", "image_shape"), ("spec", "num_classes"), ("config",),
          ("generator",), ("discriminator",), ("opt_g",), ("opt_d",), ("fixed_noise",), ("rng",), ("rng", "torch"),
          ("rng", "numpy"), ("rng", "python"), ("format",), ("plugin_state",)]
REPLACEMENTS = st.sampled_from([None, "abc", 3.5, -1, [], {}, torch.zeros(3), torch.zeros(2, 2, dtype=torch.long),
                                True, [1, 2]])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(FIELDS), change=REPLACEMENTS)
@example(field=("step",), change=-1)  # tried every time: impossible numbers, wrong types, missing parts
@example(field=("step",), change=3.5)
@example(field=("spec", "num_classes"), change=True)
@example(field=("rng", "torch"), change=torch.zeros(3))
@example(field=("generator",), change={})
@example(field=("format",), change=None)
def test_any_damaged_checkpoint_field_is_a_clean_error_when_resuming_or_sampling(field, change, good_checkpoint,
                                                                                 tmp_path_factory):
    folder, payload = good_checkpoint
    path = Path(folder) / "checkpoints" / "step_000002.pt"
    original = path.read_bytes()
    try:
        try:
            torch.save(damaged(payload, field, change), path)
        except (TypeError, KeyError, IndexError):
            return  # a change that cannot even be applied to this field
        try:
            run = api.load_run(folder)
            run.sample(torch.arange(4), torch.Generator().manual_seed(0))
        except GanlabError:
            pass  # a one-paragraph message: what this test asks for
    finally:
        path.write_bytes(original)


def test_damaged_checkpoint_message_names_the_field_and_other_checkpoints(tmp_path):
    run = api.train(config(tmp_path, steps=8), dataset=random_dataset(), quiet=True)
    path = run.folder.checkpoints()[-1]
    payload = torch.load(path, weights_only=True)
    payload["step"] = "eight"
    save_checkpoint(path, payload)
    with pytest.raises(CheckpointError, match=r"damaged: the field 'step' should be a whole number.*step_000004.pt"):
        api.load_run(run.folder.path)


def test_an_unsafe_checkpoint_is_refused_without_torchs_advice_to_load_it_unsafely(tmp_path):
    class RunsCode:
        def __reduce__(self):
            return (print, ("never",))

    torch.save({"format": 2, "x": RunsCode()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(tmp_path / "evil.pt")
    assert "weights_only=False" not in str(error.value) and "never loads such files" in str(error.value)


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["config"].update(plugin_files=[1]), "plugin_files must be a list of file paths"),
    (lambda c: c["config"].update(steps="many"), "steps must be a positive whole number"),
    (lambda c: c.pop("dataset"), "unreadable or incomplete"),
    # found by rerunning the attack: accepted (a report on "3.5" data), blamed on a plugin, or on the checkpoint
    (lambda c: c["dataset"].update(name=3.5), "dataset.name should be text, not 3.5"),
    (lambda c: c["dataset"].update(image_shape={}), "dataset.image_shape should be [channels, height, width]"),
    (lambda c: c["dataset"].update(num_classes=True), "dataset.num_classes should be a whole number >= 1"),
])
def test_a_damaged_config_json_is_a_clean_error(small_run, tmp_path, edit, message):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(small_run, copy)
    saved = json.loads((copy / "config.json").read_text())
    edit(saved)
    (copy / "config.json").write_text(json.dumps(saved))
    result = invoke("sample", copy, "--out", tmp_path / "x.png")
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


def test_damaged_loss_log_and_metrics_are_clean_errors(small_run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(small_run, copy)
    (copy / "losses.csv").write_text((copy / "losses.csv").read_text() + "7,abc,0.1,0.5\n")
    result = invoke("run", "--resume", copy, "--steps", 8, "--quiet")
    assert result.exit_code == 1 and "losses.csv (the loss log) is damaged at line" in result.output
    for text in ("{not json", '{"fd": "low"}', "[1, 2]"):
        (copy / "metrics.json").write_text(text)
        result = invoke("compare", copy, "--out", tmp_path / "report")
        assert result.exit_code == 1 and "metrics.json is damaged" in result.output, result.output


def test_sample_into_a_path_through_a_file_is_a_clean_error(small_run, tmp_path):
    (tmp_path / "afile").write_text("x")
    result = invoke("sample", small_run, "--out", tmp_path / "afile" / "x.png")
    assert result.exit_code == 1 and "Could not write" in result.output and "Traceback" not in result.output


def test_running_out_of_memory_is_a_message(small_run, tmp_path, monkeypatch):
    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(api, "load_run", no_memory)
    result = invoke("sample", small_run, "--out", tmp_path / "x.png")
    assert result.exit_code == 1 and "Ran out of memory" in result.output and "Traceback" not in result.output


# --------------------------------------------------------------------------------------------------
# 8. Bounded memory: sample streams, a PNG grid has a size limit
# --------------------------------------------------------------------------------------------------
def test_sample_refuses_a_giant_png_grid_before_loading_anything(small_run, tmp_path):
    result = invoke("sample", small_run, "--n", 100000, "--out", tmp_path / "x.png")
    assert result.exit_code == 1 and ".npz" in result.output and not (tmp_path / "x.png").exists()


def test_many_samples_go_to_npz_in_bounded_batches(small_run, tmp_path, monkeypatch):
    from ganlab.training_run import TrainingRun

    sizes, real_sample = [], TrainingRun.sample

    def recording(self, labels, rng=None):
        sizes.append(len(labels))
        return real_sample(self, labels, rng)

    monkeypatch.setattr(TrainingRun, "sample", recording)
    assert api.sample(small_run, tmp_path / "many.npz", n=2500) == 2500
    assert max(sizes) <= api.SAMPLE_BATCH and sum(sizes) == 2500
    assert np.load(tmp_path / "many.npz")["images"].shape == (2500, 28, 28)


# --------------------------------------------------------------------------------------------------
# 9. Messages that are true and say what to do
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, message", [
    (["--device", "meta"], "ganlab trains on cpu, cuda, mps"),
    (["--lr", "inf"], "lr must be a positive, finite number"),
    (["--set", "d_dropout=nan"], 'Setting "d_dropout" must be a finite number'),
    (["--eval-every", "2", "--dataset", "npz"], "ships one for mnist and fashion-mnist only"),
    # found by rerunning the attack (scripts/attack_run_folder.py): settings out of range were a plugin's "bug"
    (["--set", "d_dropout=-5"], "d_dropout must be in [0, 1), not -5.0"),
    (["--set", "init=nope"], 'init must be "keras" or "torch"'),
    (["--variant", "dcgan", "--set", "g_width=0"], "g_width must be at least 1"),
    (["--variant", "gan+ema", "--set", "ema_decay=1.5"], "ema_decay must be in [0, 1)"),
    (["--variant", "infogan", "--set", "categories=0"], "infogan needs categories >= 1"),
    (["--final-eval-samples", "1"], "final_eval_samples must be 0 (no final evaluation) or at least 2"),
    (["--seed", str(2**64)], "0<=x<=18446744073709551615"),
    (["--out", ""], "is empty"),
])
def test_bad_options_get_messages_that_say_what_is_wrong(args, message, small_mnist_npz, tmp_path):
    result = invoke("run", "--data", small_mnist_npz, "--steps", 2, "--quiet", "--out", tmp_path / "run", *args)
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output, result.output
    assert "a plugin's hook" not in result.output and "Fix the plugin" not in result.output


def test_dcgan_on_tiny_images_says_to_resize_them(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "tiny.npz", x_train=rng.integers(0, 256, (20, 1, 1), dtype=np.uint8), y_train=np.arange(20) % 2)
    result = invoke("run", "--variant", "dcgan", "--dataset", "npz", "--data", tmp_path / "tiny.npz", "--steps", 2,
                    "--quiet", "--out", tmp_path / "run")
    assert result.exit_code == 1 and "at least 4x4 pixels" in result.output and "--image-size" in result.output
    assert "Fix the plugin" not in result.output  # the data's shape is the cause, not a bug of dcgan


def test_sample_of_another_runs_checkpoint_does_not_suggest_a_missing_option(small_run, tmp_path):
    other = api.train(config(tmp_path, variant="cgan", steps=2, checkpoint_every=0, batch_size=4), quiet=True,
                      dataset=random_dataset())
    result = invoke("sample", small_run, "--checkpoint", other.folder.checkpoints()[-1], "--out", tmp_path / "x.png")
    assert result.exit_code == 1 and "belongs to another run" in result.output and "--variant" not in result.output


# --------------------------------------------------------------------------------------------------
# 10. Sharing a run folder shares code: say so once
# --------------------------------------------------------------------------------------------------
def test_plugin_code_carried_by_a_run_folder_is_announced_once_unless_trusted(tmp_path, small_mnist_npz):
    plugin = tmp_path / "mine.py"
    plugin.write_text('"""Least squares, a test plugin (Mao et al. 2017)."""\nimport ganlab\n\n\n@ganlab.hookimpl\n'
                      'def ganlab_generator_loss(scores):\n    return ((scores - 1) ** 2).mean()\n')
    out = tmp_path / "run"
    trained = invoke("run", "--variant", "gan+mine", "--plugin", plugin, "--data", small_mnist_npz, "--steps", 2,
                     "--batch-size", 4, "--final-eval-samples", 0, "--quiet", "--out", out)
    assert trained.exit_code == 0, trained.output
    warned = ganlab("sample", out, "--out", tmp_path / "a.png")
    assert warned.returncode == 0 and warned.stderr.count("carries plugin code (plugins/mine.py)") == 1
    trusted = ganlab("sample", out, "--out", tmp_path / "b.png", "--trust-plugins")
    assert trusted.returncode == 0 and "carries plugin code" not in trusted.stderr


# --------------------------------------------------------------------------------------------------
# SIGTERM ends a training with 143, like any Unix program stopped by it
# --------------------------------------------------------------------------------------------------
def test_sigterm_stops_between_steps_saves_and_exits_143(tmp_path, small_mnist_npz):
    out = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "ganlab", "run", "--data", small_mnist_npz, "--steps",
                                "100000", "--batch-size", "8", "--final-eval-samples", "0", "--quiet", "--device",
                                "cpu", "--out", str(out)], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "config.json").exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) == 143
    stderr = process.stderr.read()
    assert "Traceback" not in stderr and "SIGTERM received" in stderr and RunFolder(out).checkpoints()


# --------------------------------------------------------------------------------------------------
# What the rerun of the attack (scripts/attack_run_folder.py) still found
# --------------------------------------------------------------------------------------------------
MEMORY_HOGS = {  # what asks for 8 TB at once, and the option that asked
    "a batch, in the first step": (["run", "--batch-size", 10**12], "--batch-size"),
    "the networks, while they are built": (["run", "--latent-dim", 10**12], "--latent-dim"),
    "the final evaluation, after training": (["run", "--final-eval-samples", 10**12], "--final-eval-samples"),
    "ganlab sample": (["sample", "RUN", "--n", 10**12, "--out", "x.npz"], "--n"),
    "ganlab eval": (["eval", "RUN", "--n", 10**12], "--n"),
}


@pytest.mark.parametrize("what", MEMORY_HOGS)
def test_torchs_failed_allocation_is_a_memory_message_not_a_plugins_bug(what, small_run, small_mnist_npz, tmp_path):
    """torch reports a failed allocation as a RuntimeError: it was a traceback, or blamed on the plugin."""
    args, option = MEMORY_HOGS[what]
    args = [small_run if a == "RUN" else tmp_path / a if a == "x.npz" else a for a in args]
    if args[0] == "run":
        args += ["--data", small_mnist_npz, "--steps", 1, "--quiet", "--out", tmp_path / "run"]
        args += [] if option == "--final-eval-samples" else ["--final-eval-samples", 0]
    result = invoke(*args)
    assert result.exit_code == 1 and "Ran out of memory" in result.output, result.output
    assert option in result.output and "plugin" not in result.output.lower()


def test_a_config_file_that_is_not_text_is_a_clean_error(tmp_path):
    (tmp_path / "c.json").write_bytes(b"\x80\x81\xfe\x00")
    result = invoke("run", "--config", tmp_path / "c.json", "--out", tmp_path / "run")
    assert result.exit_code == 2 and "cannot read it (it is not text)" in result.output, result.output


def test_a_number_where_a_config_file_wants_a_path_is_refused(tmp_path):
    """It became an option value that click handed to os.stat: file descriptor 5, whatever that was."""
    (tmp_path / "c.toml").write_text("[data_options]\nlabels = 5\n")
    with pytest.raises(ConfigError, match=r"data_options takes labels \(a file path, text\)"):
        load_config_file(tmp_path / "c.toml")


def test_a_plugin_file_that_does_not_exist_is_a_clean_error(small_mnist_npz, tmp_path):
    (tmp_path / "c.toml").write_text('steps = 2\nplugin_files = ["nope.py"]\n')
    result = invoke("run", "--config", tmp_path / "c.toml", "--data", small_mnist_npz, "--batch-size", 8,
                    "--final-eval-samples", 0, "--quiet", "--out", tmp_path / "run")
    assert result.exit_code == 1 and "Cannot read the plugin file" in result.output, result.output


def test_an_empty_resume_path_does_not_start_a_new_run(monkeypatch):
    """`--resume ""` (an unset shell variable) started a fresh 20 000-step run in runs/."""
    monkeypatch.setattr(api, "train", lambda *args, **kwargs: pytest.fail("a new run was started"))
    result = invoke("run", "--resume", "")
    assert result.exit_code == 2 and "is empty" in result.output, result.output


def test_a_missing_checkpoints_message_gives_an_example_that_exists(small_run):
    result = invoke("sample", small_run, "--checkpoint", "step_999.pt", "--out", "x.png")
    example = re.search(r"e\.g\. --checkpoint (step_\d+\.pt)\.", result.output)
    assert result.exit_code == 1 and example, result.output
    assert (Path(small_run) / "checkpoints" / example.group(1)).is_file(), result.output


@pytest.mark.parametrize("args, suggestion", [
    (["compare", "--variants", "nope", "--steps", 2], "`ganlab run --plugin path/to/file.py`"),
    (["data", "download", "nope"], "`ganlab run --dataset npz --data my.npz`"),
])
def test_messages_suggest_options_of_the_command_that_has_them(args, suggestion):
    result = invoke(*args)
    assert result.exit_code != 0 and suggestion in result.output, result.output


def test_a_checkpoint_of_another_seed_in_the_folder_is_refused(tmp_path):
    """A folder with another run's checkpoint was sampled, evaluated and resumed without a word."""
    data = random_dataset()
    mine = api.train(config(tmp_path, "mine", steps=4), dataset=data, quiet=True)
    other = api.train(config(tmp_path, "other", steps=4, seed=8), dataset=data, quiet=True)
    (mine.folder.checkpoint_file(4)).write_bytes(other.folder.checkpoint_file(4).read_bytes())
    with pytest.raises(CheckpointError, match=r"does not belong to the run in this folder's config.json: it was "
                                              r"trained with seed 8 \(config.json: 7\)"):
        api.load_run(mine.folder.path)


def test_a_config_json_unlike_every_checkpoint_suggests_no_checkpoint_that_fails_too(tmp_path):
    run = api.train(config(tmp_path, steps=8), dataset=random_dataset(), quiet=True)
    saved = json.loads(run.folder.config_file.read_text())
    saved["config"]["lr"] = 0.1
    run.folder.config_file.write_text(json.dumps(saved))
    with pytest.raises(CheckpointError) as error:
        api.load_run(run.folder.path)
    assert "or config.json was edited" in str(error.value) and "--checkpoint" not in str(error.value)


def test_a_checkpoint_whose_step_is_not_its_names_is_damaged(tmp_path):
    """step 999 inside step_000008.pt: a resume believed it, and wrote step_000999.pt beside 8 rows of log."""
    run = api.train(config(tmp_path, steps=8), dataset=random_dataset(), quiet=True)
    path = run.folder.checkpoint_file(8)
    payload = torch.load(path, weights_only=True)
    payload["step"] = 999
    save_checkpoint(path, payload)
    with pytest.raises(CheckpointError, match=r"holds step 999, but its name says step 8.*step_000004.pt"):
        api.resume(run.folder.path, dataset=random_dataset(), quiet=True)


def test_a_plugins_error_during_training_does_not_suggest_a_resume_that_repeats_it(tmp_path, small_mnist_npz):
    """A resume runs the run folder's own copy of the plugin: it would fail the same way."""
    plugin = tmp_path / "broken.py"
    plugin.write_text('"""A loss that breaks at step 3 (a test plugin; Goodfellow et al. 2014)."""\nimport ganlab\n\n\n'
                      '@ganlab.hookimpl\ndef ganlab_generator_updated(step):\n    if step == 3:\n'
                      '        raise RuntimeError("boom")\n')
    result = invoke("run", "--variant", "gan+broken", "--plugin", plugin, "--data", small_mnist_npz, "--steps", 6,
                    "--batch-size", 8, "--checkpoint-every", 2, "--final-eval-samples", 0, "--quiet",
                    "--out", tmp_path / "run")
    assert result.exit_code == 1 and 'Plugin "broken" failed' in result.output, result.output
    assert "--resume" not in result.output


def test_data_show_refuses_a_grid_too_big_to_draw(tmp_path):
    """A titled subplot per image: --n 1000000000000 drew every training image, for hours on MNIST."""
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.integers(0, 256, (250, 8, 8), dtype=np.uint8), y_train=np.arange(250) % 2)
    result = invoke("data", "show", "npz", "--data", tmp_path / "d.npz", "--n", 201, "--out", tmp_path / "x.png")
    assert result.exit_code == 2 and "1<=x<=200" in result.output and not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("field, change, named", [
    (("opt_g", "state"), "abc", "'opt_g' (an optimizer's state)"),  # was an AttributeError traceback
    (("opt_d", "param_groups"), [1], "'opt_d' (an optimizer's state)"),
    (("rng", "torch"), torch.zeros(10, dtype=torch.uint8), "rng.torch (torch's random state) has 10 bytes"),
    (("config", "seed"), None, "trained with seed None (config.json: 7)"),  # was accepted
])
def test_damage_inside_a_checkpoints_fields_is_named(field, change, named, good_checkpoint):
    folder, payload = good_checkpoint
    path = Path(folder) / "checkpoints" / "step_000002.pt"
    original = path.read_bytes()
    try:
        torch.save(damaged(payload, field, change), path)
        with pytest.raises(CheckpointError, match=re.escape(named)):
            api.load_run(folder)
    finally:
        path.write_bytes(original)


@pytest.fixture
def run_of_8_steps(tmp_path):
    """A fresh run (checkpoints at 4 and 8) and its data, for tests that damage it."""
    data = random_dataset()
    return api.train(config(tmp_path, steps=8), dataset=data, quiet=True).folder, data


@pytest.mark.parametrize("edit, message", [
    (lambda rows: rows[:3] + rows[5:], "step 5 follows step 2"),  # a gap: the log was behind its checkpoint
    (lambda rows: rows[:4] + rows[3:], "step 3 follows step 3"),  # a row twice
    (lambda rows: rows[:-1] + ["8,nan,nan,0.5,0.5"], "step 8 has no finite d_loss and g_loss"),
])
def test_a_loss_log_with_missing_or_impossible_rows_is_refused(edit, message, run_of_8_steps):
    folder, data = run_of_8_steps
    rows = folder.losses_file.read_text().splitlines()
    folder.losses_file.write_text("\n".join(edit(rows)) + "\n")
    with pytest.raises(CheckpointError, match=re.escape(message)):
        api.resume(folder.path, steps=10, dataset=data, quiet=True)


def test_a_loss_log_emptied_by_hand_is_continued_with_a_note(run_of_8_steps, capsys):
    folder, data = run_of_8_steps
    folder.losses_file.write_text(folder.losses_file.read_text().splitlines()[0] + "\n")
    api.resume(folder.path, steps=10, dataset=data, quiet=True)
    assert "has no rows for steps 1-8; the loss log continues from step 9" in capsys.readouterr().err
    assert [r["step"] for r in folder.read_losses()] == [9, 10]


@pytest.mark.parametrize("name", ["losses.csv", "metrics.csv"])
def test_a_log_that_is_not_text_is_a_clean_error(name, run_of_8_steps):
    folder, data = run_of_8_steps
    (folder.path / name).write_bytes(b"\xff\xfe\x00\x81" * 10)
    with pytest.raises(CheckpointError, match=rf"{name} \(the .*\) is damaged: it is not a CSV text file"):
        api.compare([folder.path], folder.path.parent / "report")


def test_a_lock_file_that_is_a_folder_is_a_clean_error(run_of_8_steps):
    folder, data = run_of_8_steps
    folder.lock_file.unlink()
    folder.lock_file.mkdir()
    with pytest.raises(ConfigError, match=r"Cannot open .*\.lock, the lock of the run folder's one writer"):
        api.resume(folder.path, steps=10, dataset=data, quiet=True)


def test_checkpoints_that_are_not_files_are_not_taken_for_checkpoints(run_of_8_steps):
    folder, data = run_of_8_steps
    (folder.checkpoints_dir / "step_000020.pt").mkdir()  # a folder with a checkpoint's name: not the newest one
    assert api.load_run(folder.path).step == 8
    for path in folder.checkpoints_dir.iterdir():
        path.unlink() if path.is_file() else path.rmdir()
    folder.checkpoints_dir.rmdir()
    folder.checkpoints_dir.write_text("x")
    with pytest.raises(CheckpointError, match=r"checkpoints should be the folder of the run's checkpoints"):
        api.load_run(folder.path)


def test_a_checkpoint_that_asks_to_run_code_is_refused_naming_what_it_asks_for(tmp_path):
    class RunsCode:
        def __reduce__(self):
            return (os.system, ("echo never",))

    torch.save({"format": 2, "x": RunsCode()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match=r"loaded safely \(UnpicklingError: it asks to run posix.system"):
        load_checkpoint(tmp_path / "evil.pt")


LEAST_SQUARES = ('"""Least squares, a test plugin (Mao et al. 2017)."""\nimport ganlab\n\n\n@ganlab.hookimpl\n'
                 'def ganlab_generator_loss(scores):\n    return ((scores - 1) ** 2).mean()\n')


@pytest.fixture
def plugged_run(tmp_path, small_mnist_npz):
    """A run of gan+mine: its folder carries plugins/mine.py."""
    (tmp_path / "mine.py").write_text(LEAST_SQUARES)
    result = invoke("run", "--variant", "gan+mine", "--plugin", tmp_path / "mine.py", "--data", small_mnist_npz,
                    "--steps", 2, "--batch-size", 4, "--final-eval-samples", 0, "--quiet", "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    return tmp_path / "run"


def test_a_run_folders_edited_plugin_file_is_announced(plugged_run, capsys):
    """An emptied plugins/mine.py resumed as plain gan, without a word."""
    (plugged_run / "plugins" / "mine.py").write_text('"""Emptied."""\n')
    api.load_run(plugged_run)
    assert "plugins/mine.py changed since the run wrote config.json" in capsys.readouterr().err


def test_a_run_folders_missing_plugin_file_is_named_as_such(plugged_run, tmp_path):
    (plugged_run / "plugins" / "mine.py").unlink()
    result = invoke("sample", plugged_run, "--out", tmp_path / "x.png")
    assert result.exit_code == 1 and "names the plugin file plugins/mine.py, but the run folder has no such file" \
        in result.output and "--plugin" not in result.output, result.output


def test_a_checkpoint_from_before_a_setting_existed_resumes(tmp_path, small_mnist_npz):
    """A run checkpointed before a plugin declared a new setting (here: as if d_activation were new)
    resumes: config.json gets the setting at its default on loading, and the run was trained that way."""
    out = tmp_path / "run"
    result = invoke("run", "--variant", "gan", "--data", small_mnist_npz, "--steps", 4, "--batch-size", 8,
                    "--checkpoint-every", 2, "--final-eval-samples", 0, "--quiet", "--device", "cpu", "--out", out)
    assert result.exit_code == 0, result.output
    for path in (out / "checkpoints").glob("*.pt"):
        payload = torch.load(path, weights_only=True)
        del payload["config"]["settings"]["d_activation"]
        torch.save(payload, path)
    config = json.loads((out / "config.json").read_text())
    del config["config"]["settings"]["d_activation"]
    (out / "config.json").write_text(json.dumps(config))
    result = invoke("run", "--resume", out, "--steps", 6, "--quiet")
    assert result.exit_code == 0, result.output
    # but a setting the checkpoint has, with another value, is still another run
    config["config"]["settings"]["d_dropout"] = 0.1
    (out / "config.json").write_text(json.dumps(config))
    result = invoke("run", "--resume", out, "--steps", 8, "--quiet")
    assert result.exit_code == 1 and "does not belong to the run" in result.output, result.output
