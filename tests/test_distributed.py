"""Training on several processes (torchrun, gloo on the CPU): the same update, one run folder, no hangs.

The processes train ``tests/tinygan.py``, a GAN small enough that starting the processes costs more
than training. Every test that starts processes has a timeout: a hang fails the test, it does not
stall the suite.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from ganlab import distributed
from ganlab.checkpoints import load_checkpoint
from ganlab.config import RunConfig
from ganlab.errors import ConfigError
from ganlab.plugins import make_plugin_manager
from ganlab.runs import RunFolder
from ganlab.trainer import RealBatches, read_back, train_step
from ganlab.training_run import prepare

from conftest import random_dataset

TINYGAN = str(Path(__file__).with_name("tinygan.py"))
STEPS = 120
TIMEOUT = 240  # seconds: starting torch in three processes on a busy 2-core machine takes a while


# --------------------------------------------------------------------------------------------------
# Two ranks make the update of one process with the whole batch
# --------------------------------------------------------------------------------------------------
BATCH, LATENT, UPDATE_STEPS = 8, 6, 3
OPTIMIZERS = ("adam", "sgd")
SHAPE = (1, 6, 6)


def fixed_batches(d_steps: int):
    """Every real batch and latent batch of the run, drawn in advance (the same in every process)."""
    rng = torch.Generator().manual_seed(7)
    count = UPDATE_STEPS * d_steps
    real = torch.rand(count, BATCH, *SHAPE, generator=rng) * 2 - 1
    latent = torch.randn(count, BATCH, LATENT, generator=rng)
    return real, latent


class FixedBatches:
    """The test hook: hands out this rank's share of the fixed batches, in order, instead of sampling."""

    def __init__(self, real, latent, rank: int, size: int):
        share = BATCH // size
        self.real = real[:, rank * share:(rank + 1) * share]
        self.latent = latent[:, rank * share:(rank + 1) * share]
        self.drawn = {"real": 0, "latent": 0}

    def sample(self, count):
        batch = self.real[self.drawn["real"]]
        self.drawn["real"] += 1
        assert len(batch) == count
        return batch, torch.zeros(count, dtype=torch.long)

    def sample_latent(self, count, rng=None):
        latent = self.latent[self.drawn["latent"]]
        self.drawn["latent"] += 1
        assert len(latent) == count
        return latent


def train_on_fixed_batches(world, optimizer: str) -> dict[str, torch.Tensor]:
    """UPDATE_STEPS steps of tinygan+r1 on the fixed batches; returns G's and D's weights."""
    config = RunConfig(variant="tinygan+r1", plugin_files=[TINYGAN], batch_size=BATCH, latent_dim=LATENT,
                       seed=3, device="cpu", settings={"tiny_optimizer": optimizer})
    spec = random_dataset(shape=SHAPE).spec
    run = prepare(config, spec, make_plugin_manager(config.variant, config.plugin_files), world=world)
    d_steps = int(run.pm.hook.ganlab_discriminator_steps(config=config))
    batches = FixedBatches(*fixed_batches(d_steps), world.rank, world.size)
    run.sample_latent = batches.sample_latent
    for _ in range(UPDATE_STEPS):
        train_step(run, batches, d_steps)
    return {f"G.{k}": v for k, v in run.generator.state_dict().items()} | \
           {f"D.{k}": v for k, v in run.discriminator.state_dict().items()}


def rank_worker(rank: int, size: int, port: int, out: str) -> None:
    """One rank, started by torch.multiprocessing with the environment torchrun would give it."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(size),
                      LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(size))
    torch.set_num_threads(1)
    world = distributed.join("cpu")
    for optimizer in OPTIMIZERS:
        torch.save(train_on_fixed_batches(world, optimizer), f"{out}.{optimizer}.rank{rank}")
    torch.save(batchnorm_statistics_around_a_read_back(world), f"{out}.batchnorm.rank{rank}")
    distributed.leave(world)


def batchnorm_statistics_around_a_read_back(world) -> dict[str, list[torch.Tensor]]:
    """gan's G has BatchNorm: each rank's running statistics follow its own batches, until the numbers
    are read back (every log_every steps), when every rank takes rank 0's."""
    data = random_dataset(shape=SHAPE, n=64, seed=0)
    run = prepare(RunConfig(variant="gan", batch_size=BATCH, latent_dim=LATENT, seed=3, device="cpu"), data.spec,
                  world=world)
    pending = [train_step(run, RealBatches(data, run.device), 1) for _ in range(2)]
    before = [b.clone() for b in run.generator.buffers()]
    read_back(run, pending)
    return {"before": before, "after": list(run.generator.buffers())}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_ranks_trained(tmp_path_factory) -> str:
    """Two gloo ranks started from pytest (as torchrun would start them) have trained; their results' prefix."""
    out = str(tmp_path_factory.mktemp("ranks") / "weights")
    context = mp.start_processes(rank_worker, args=(2, free_port(), out), nprocs=2, join=False, start_method="spawn")
    for process in context.processes:
        process.join(TIMEOUT)
    assert context.join(timeout=1), "a rank did not finish"
    return out


def test_two_ranks_make_the_update_of_one_process_with_the_whole_batch(two_ranks_trained):
    """tinygan+r1: two D updates of two optimizer steps each (real, then fake), G's step through a frozen D,
    r1's double backward. With the core's Adam, and with SGD, whose step would show a sum in place of a mean
    (Adam's step does not change when every gradient is doubled)."""
    out = two_ranks_trained
    start = prepare(RunConfig(variant="tinygan+r1", plugin_files=[TINYGAN], latent_dim=LATENT, seed=3, device="cpu"),
                    random_dataset(shape=SHAPE).spec)
    for optimizer in OPTIMIZERS:
        one_process = train_on_fixed_batches(distributed.ONE_PROCESS, optimizer)
        rank0, rank1 = (torch.load(f"{out}.{optimizer}.rank{r}", weights_only=True) for r in (0, 1))
        first_layer = "network.layers.0.weight"
        assert not torch.equal(start.generator.state_dict()[first_layer], one_process[f"G.{first_layer}"])  # it learned
        for name, expected in one_process.items():
            assert torch.equal(rank0[name], rank1[name]), f"{name} differs between the ranks"
            torch.testing.assert_close(rank0[name], expected, rtol=1e-5, atol=1e-6, msg=f"{optimizer}: {name}")


def test_batchnorm_statistics_are_per_rank_until_rank_0_hands_them_out(two_ranks_trained):
    rank0, rank1 = (torch.load(f"{two_ranks_trained}.batchnorm.rank{r}", weights_only=True) for r in (0, 1))
    running_means = [i for i, b in enumerate(rank0["before"]) if b.dtype.is_floating_point]
    assert not all(torch.equal(rank0["before"][i], rank1["before"][i]) for i in running_means)  # own batches
    for mine, rank_0s in zip(rank1["after"], rank0["after"]):
        assert torch.equal(mine, rank_0s)
    for after, before in zip(rank0["after"], rank0["before"]):
        assert torch.equal(after, before)  # rank 0 keeps its own


def test_a_batch_that_does_not_split_evenly_is_refused():
    with pytest.raises(ConfigError, match="multiple of 2, e.g. 32 or 34"):
        prepare(RunConfig(variant="tinygan", plugin_files=[TINYGAN], batch_size=33, seed=0, device="cpu"),
                random_dataset().spec, world=distributed.World(rank=0, size=2))


# --------------------------------------------------------------------------------------------------
# torchrun and the command line
# --------------------------------------------------------------------------------------------------
def torchrun(*args, cwd, env=None, **popen) -> subprocess.Popen:
    """``torchrun --standalone --nproc-per-node=2 -m ganlab ...`` as a process whose output we read."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
               "-m", "ganlab", *map(str, args)]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.Popen(command, cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, **popen)


def tiny_run_args(data, *extra):
    return ["run", "--plugin", TINYGAN, "--variant", "tinygan", "--data", data, "--steps", STEPS, "--batch-size", 16,
            "--seed", 4, "--device", "cpu", "--log-every", 10, "--sample-every", 60, "--checkpoint-every", 0,
            "--final-eval-samples", 0, *extra]


def finished(process: subprocess.Popen) -> tuple[int, str]:
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"torchrun did not end within {TIMEOUT} s: {process.communicate()[0][-3000:]}") from None
    return process.returncode, output


@pytest.fixture(scope="module")
def straight_run(small_mnist_npz, tmp_path_factory):
    """A 2-process run through torchrun, from start to end, every file rename logged with its rank."""
    cwd = tmp_path_factory.mktemp("torchrun")
    writes = cwd / "writes"
    code, output = finished(torchrun(*tiny_run_args(small_mnist_npz), cwd=cwd, env={"TINYGAN_WRITES": str(writes)}))
    assert code == 0, output[-3000:]
    return cwd, writes, output


def test_a_torchrun_run_writes_one_run_folder_and_only_rank_0_writes(straight_run):
    cwd, writes, output = straight_run
    folders = list((cwd / "runs").iterdir())
    assert len(folders) == 1, folders  # --out is a timestamp: one folder, named by rank 0
    assert "2 processes (gloo)" in output and "batch 16" in output
    assert output.count("Training finished at step 120") == 1  # rank 0 alone reports
    written = {cwd / line for line in Path(f"{writes}.rank0").read_text().splitlines()}
    assert {folders[0] / "config.json", folders[0] / "losses.csv", folders[0] / "checkpoints" / "step_000120.pt",
            folders[0] / "samples" / "step_000060.png", folders[0] / "final_grid.png"} <= written
    assert not Path(f"{writes}.rank1").exists(), "rank 1 wrote a file"
    assert RunFolder(folders[0]).read_config()[2]["processes"] == 2
    checkpoint = load_checkpoint(RunFolder(folders[0]).latest_checkpoint())
    assert len(checkpoint["rng_of_ranks"]) == 2
    assert not torch.equal(checkpoint["rng_of_ranks"][0]["torch"], checkpoint["rng_of_ranks"][1]["torch"])


def test_sigterm_to_torchrun_stops_both_ranks_with_one_checkpoint_and_the_resume_continues_bit_for_bit(
        straight_run, small_mnist_npz, tmp_path):
    out = tmp_path / "run"
    process = torchrun(*tiny_run_args(small_mnist_npz, "--out", out), cwd=tmp_path,
                       env={"TINYGAN_STEP_SECONDS": "0.02"})
    for line in process.stdout:  # wait until rank 0 reports training steps, then stop torchrun
        if line.startswith("step "):
            break
    process.send_signal(signal.SIGTERM)
    code, output = finished(process)
    assert code != 0
    stopped = re.search(r"Stopped at step (\d+); the checkpoint step_\d+.pt is saved. Continue with:\n  (.+)", output)
    assert stopped, output[-3000:]
    step, command = int(stopped[1]), stopped[2]
    assert step % 10 == 0 and step < STEPS  # at a step where the ranks agreed (log_every)
    assert command == f"torchrun --standalone --nproc-per-node=2 -m ganlab run --resume {out}"
    assert [p.name for p in RunFolder(out).checkpoints()] == [f"step_{step:06d}.pt"]
    assert not re.search(r'File ".*ganlab', output), output[-3000:]  # torchrun prints a traceback of its own

    words = command.split()
    code, output = finished(torchrun(*words[words.index("ganlab") + 1:], cwd=tmp_path))
    assert code == 0, output[-3000:]
    assert f"steps {step + 1}..{STEPS}" in output
    straight = RunFolder(next((straight_run[0] / "runs").iterdir()))
    want, got = (load_checkpoint(folder.latest_checkpoint()) for folder in (straight, RunFolder(out)))
    for network in ("generator", "discriminator"):
        for name, tensor in want[network].items():
            assert torch.equal(tensor, got[network][name]), f"{network}.{name}"
    assert straight.losses_file.read_text() == RunFolder(out).losses_file.read_text()


def test_a_nan_on_rank_1_stops_both_ranks_with_the_divergence_message(small_mnist_npz, tmp_path):
    process = torchrun(*tiny_run_args(small_mnist_npz, "--out", tmp_path / "run", "--checkpoint-every", 5),
                       cwd=tmp_path, env={"TINYGAN_NAN_RANK": "1", "TINYGAN_NAN_STEP": "13"})
    code, output = finished(process)  # the timeout proves that no rank hangs
    assert code != 0
    assert output.count("Training diverged at step 13") == 2, output[-3000:]  # both ranks, the same step
    assert "The last good checkpoint is" in output and "step_000010.pt" in output
    assert [p.name for p in RunFolder(tmp_path / "run").checkpoints()] == ["step_000005.pt", "step_000010.pt"]


# --------------------------------------------------------------------------------------------------
# The speed switches on the CPU
# --------------------------------------------------------------------------------------------------
def test_cuda_switches_on_the_cpu_are_turned_off_with_a_note_and_recorded(small_mnist_npz, tmp_path):
    from click.testing import CliRunner

    from ganlab.cli import cli

    out = tmp_path / "run"
    result = CliRunner().invoke(cli, [*map(str, tiny_run_args(small_mnist_npz, "--out", out, "--steps", 4)),
                                      "--amp", "--compile", "--cuda-graphs", "--sync-bn"])
    assert result.exit_code == 0, result.output
    for note in ("--amp is off: bf16 autocast pays on CUDA GPUs", "--compile is off", "--cuda-graphs is off",
                 "--sync-bn is off: one process"):
        assert note in result.output
    config, _, _ = RunFolder(out).read_config()
    assert (config.amp, config.compile, config.cuda_graphs, config.sync_bn) == (False, False, False, False)


def test_the_switches_are_in_the_help():
    from click.testing import CliRunner

    from ganlab.cli import cli

    text = CliRunner().invoke(cli, ["run", "--help"]).output
    assert all(option in text for option in ("--amp", "--compile", "--cuda-graphs", "--sync-bn"))


def test_a_switch_that_is_not_true_or_false_is_refused():
    with pytest.raises(ConfigError, match="amp must be a bool"):
        RunConfig(amp="yes").validate()


def test_resuming_on_another_number_of_processes_says_it_is_not_bit_identical():
    run = prepare(RunConfig(variant="tinygan", plugin_files=[TINYGAN], seed=0, device="cpu"), random_dataset().spec)
    payload = run.checkpoint()
    before = torch.get_rng_state()
    run.restore_random_streams({**payload, "rng_of_ranks": [payload["rng"]] * 3})
    assert "from a checkpoint of 3: equal in distribution, not bit-identical" in run.device_note
    assert torch.equal(torch.get_rng_state(), before)  # rank 0 takes rank 0's streams (here: the same)


# --------------------------------------------------------------------------------------------------
# On GPUs (skipped without one)
# --------------------------------------------------------------------------------------------------
@pytest.mark.cuda
@pytest.mark.parametrize("switch", ["amp", "compile", "cuda_graphs"])
def test_each_cuda_switch_trains_and_is_recorded(switch, small_mnist_npz, tmp_path):
    import ganlab

    # Grids only with CUDA graphs: drawing one between steps is the risky path there (elsewhere each
    # would only compile G once more).
    config = ganlab.RunConfig(variant="cgan", steps=12, batch_size=64, seed=0, device="cuda", log_every=4,
                              sample_every=6, final_eval_samples=0, data_path=small_mnist_npz,
                              out=str(tmp_path / "run"), **{switch: True})
    run = ganlab.train(config, quiet=True, write_files=switch == "cuda_graphs")
    assert run.outcome == "finished" and np.isfinite(run.records[-1]["g_loss"])
    assert getattr(run.config, switch) is True, run.device_note  # what config.json records


@pytest.mark.cuda
def test_two_gpus_train_one_run_with_nccl(small_mnist_npz, tmp_path):
    if torch.cuda.device_count() < 2:
        pytest.skip("needs 2 GPUs")
    process = torchrun("run", "--variant", "dcgan", "--data", small_mnist_npz, "--steps", 40, "--batch-size", 64,
                       "--device", "cuda", "--sync-bn", "--log-every", 10, "--final-eval-samples", 0,
                       "--out", tmp_path / "run", cwd=tmp_path)
    code, output = finished(process)
    assert code == 0, output[-3000:]
    assert "2 processes (nccl)" in output
    config, _, _ = RunFolder(tmp_path / "run").read_config()
    assert config.sync_bn is True
