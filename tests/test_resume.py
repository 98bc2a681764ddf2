"""Runs that survive: resume exactly, stop cleanly, refuse unsafe checkpoints."""
from __future__ import annotations

import pytest
import torch

from ganlab.api import resume, train
from ganlab.checkpoints import load_checkpoint
from ganlab.config import RunConfig
from ganlab.errors import CheckpointError

from conftest import random_dataset


def config(tmp_path, name, steps, **changes):
    values = dict(variant="cgan", steps=steps, batch_size=8, seed=5, device="cpu", sample_every=7,
                  checkpoint_every=0, log_every=3, out=str(tmp_path / name))
    values.update(changes)
    return RunConfig(**values)


def test_interrupted_then_resumed_run_is_bit_identical(tmp_path):
    data = random_dataset(n=512)
    straight = train(config(tmp_path, "straight", 20), dataset=data, quiet=True)
    train(config(tmp_path, "split", 9), dataset=data, quiet=True)
    resumed = resume(tmp_path / "split", steps=20, dataset=data, quiet=True)
    for a, b in zip(straight.generator.state_dict().values(), resumed.generator.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(straight.discriminator.state_dict().values(), resumed.discriminator.state_dict().values()):
        assert torch.equal(a, b)
    assert (tmp_path / "straight" / "losses.csv").read_text() == (tmp_path / "split" / "losses.csv").read_text()


def test_resume_to_fewer_steps_than_done_is_refused(tmp_path):
    data = random_dataset()
    train(config(tmp_path, "run", 6), dataset=data, quiet=True)
    with pytest.raises(Exception, match="before the checkpoint's step 6"):
        resume(tmp_path / "run", steps=3, dataset=data, quiet=True)


def test_truncated_checkpoint_is_refused(tmp_path):
    run = train(config(tmp_path, "run", 4), dataset=random_dataset(), quiet=True)
    path = run.folder.checkpoints()[-1]
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="cannot be loaded safely"):
        load_checkpoint(path)


class RunsCode:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_malicious_pickle_checkpoint_is_refused(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"format": 1, "payload": RunsCode()}, path)
    with pytest.raises(CheckpointError, match="cannot be loaded safely"):
        load_checkpoint(path)
    assert "this must never run" not in capsys.readouterr().out


def test_newer_checkpoint_format_is_refused(tmp_path):
    path = tmp_path / "future.pt"
    torch.save({"format": 99}, path)
    with pytest.raises(CheckpointError, match="format 99, newer"):
        load_checkpoint(path)


LSGAN = '''
"""Least squares on top of the cGAN (a test plugin)."""
import ganlab
from ganlab_plugins.cgan import *  # noqa: F401,F403

@ganlab.hookimpl
def ganlab_generator_loss(scores):
    return ((scores - 1) ** 2).mean()
'''


def test_plugin_files_travel_with_the_run_and_config_paths_cannot_escape_it(tmp_path):
    import json

    from ganlab.loading import load_run

    plugin = tmp_path / "mylsgan.py"
    plugin.write_text(LSGAN)
    train(config(tmp_path, "run", 4, variant="mylsgan", plugin_files=[str(plugin)]), dataset=random_dataset(),
          quiet=True)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["config"]["plugin_files"] == ["plugins/mylsgan.py"]
    plugin.unlink()  # the run no longer needs the original file
    assert load_run(tmp_path / "run").step == 4

    for escape in ("/tmp/evil.py", "plugins/../../evil.py"):
        saved["config"]["plugin_files"] = [escape]
        (tmp_path / "run" / "config.json").write_text(json.dumps(saved))
        with pytest.raises(CheckpointError, match="does not run code from paths a config file points to"):
            load_run(tmp_path / "run")


def test_keep_checkpoints_prunes_the_oldest(tmp_path):
    run = train(config(tmp_path, "run", 12, checkpoint_every=3, keep_checkpoints=2), dataset=random_dataset(),
                quiet=True)
    assert [p.name for p in run.folder.checkpoints()] == ["step_000009.pt", "step_000012.pt"]
