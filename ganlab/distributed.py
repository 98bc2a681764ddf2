"""Training one model on several processes (data parallelism), launched by ``torchrun``.

    torchrun --standalone --nproc-per-node=2 -m ganlab run --variant cgan

``torchrun`` starts N copies of ``ganlab run`` and tells each who it is through environment variables
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``). Every copy, a *rank*,
holds the whole model and trains it on its share of each batch:

1. every rank starts from the same weights (built from the same seed, then copied from rank 0);
2. each rank draws its own real batch, noise, labels and dropout masks (its own random stream,
   seeded ``seed + rank``), ``batch_size / N`` samples of each: ``--batch-size`` is the global batch;
3. before every optimizer step the ranks average their gradients (one all-reduce), so every rank
   takes the same step and the weights stay identical without ever being sent again;
4. every ``log_every`` steps the ranks average their losses and agree whether to stop (one more
   all-reduce), so a NaN on one rank or a Ctrl-C reaching one rank stops them all at the same step;
5. rank 0 alone writes the run folder, prints the progress and evaluates.

Why an all-reduce before each optimizer step, and not ``DistributedDataParallel`` (DDP)? DDP averages
gradients from hooks that fire during the backward pass of the module it wraps, and it assumes one
forward per backward. A GAN step breaks that assumption three ways: D runs two or three times before
one backward (real batch, fake batch, a penalty's interpolates), D runs again inside G's step with
its weights frozen, and WGAN-GP's and R1's penalties differentiate through D twice
(``autograd.grad(create_graph=True)``), which DDP does not support. StyleGAN2-ADA's training loop
averages by hand for these reasons, and so does ganlab: the optimizer's step pre-hook averages
whatever gradients the step has accumulated, at the one moment they are final, however many forward
and backward passes made them. What this gives up is DDP's overlap of communication with the
backward pass, which matters little for networks of a few million parameters.

On one process (no ``torchrun``) every function here does nothing, so the trainer calls them
unconditionally.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from ganlab.errors import ConfigError

# How long a rank waits for the others at a collective before it gives up with an error. Rank 0's
# evaluations (seconds) and checkpoints happen while the others wait, so this is generous; a rank
# that dies is noticed at once anyway (torchrun stops the others).
COLLECTIVE_TIMEOUT = timedelta(minutes=30)


@dataclass(frozen=True)
class World:
    """Who this process is among the processes that train one model; one process is rank 0 of 1."""

    rank: int = 0  # 0 .. size - 1; rank 0 writes the run folder
    size: int = 1  # how many processes train the model (torchrun's WORLD_SIZE)
    local_rank: int = 0  # index on this machine: which GPU this process uses
    local_size: int = 1  # processes on this machine (torchrun's --nproc-per-node)
    joined_here: bool = False  # ganlab started the process group (and so ends it), not the caller

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def several(self) -> bool:
        return self.size > 1

    def describe(self, backend: str = "") -> str:
        """A few words for the progress line, e.g. ``2 processes (gloo)``; empty for one process."""
        if not self.several:
            return ""
        return f"{self.size} processes" + (f" ({backend})" if backend else "")


ONE_PROCESS = World()


# --------------------------------------------------------------------------------------------------
# Joining and leaving
# --------------------------------------------------------------------------------------------------
def world_from_environment() -> World:
    """The :class:`World` that ``torchrun`` describes in the environment; one process without it."""
    if "WORLD_SIZE" not in os.environ:
        return ONE_PROCESS
    try:
        values = {name: int(os.environ[name]) for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    except (KeyError, ValueError):
        raise ConfigError("WORLD_SIZE is set but RANK or LOCAL_RANK is missing or not a number. Start "
                          "several processes with torchrun (it sets all of them), e.g. torchrun "
                          "--standalone --nproc-per-node=2 -m ganlab run ...; or unset WORLD_SIZE.") from None
    local_size = int(os.environ.get("LOCAL_WORLD_SIZE", values["WORLD_SIZE"]))
    return World(values["RANK"], values["WORLD_SIZE"], values["LOCAL_RANK"], local_size)


def backend_for(device_name: str) -> str:
    """NCCL between GPUs, gloo between CPU processes."""
    if device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available()):
        return "nccl"
    if device_name == "mps" or (device_name == "auto" and torch.backends.mps.is_available()):
        raise ConfigError("Training on several processes needs CUDA GPUs (NCCL) or CPUs (gloo); "
                          "torch.distributed has no backend for Apple's MPS. Add --device cpu, or "
                          "train on one process (without torchrun).")
    return "gloo"


def join(device_name: str) -> World:
    """Join the other ranks that ``torchrun`` started (a no-op for one process); returns this rank's World.

    Each GPU process takes the GPU of its local rank, so ``--device cuda`` means "my GPU" on every rank.
    """
    world = world_from_environment()
    if not world.several or dist.is_initialized():  # one process, or a caller that set it up already
        return world
    backend = backend_for(device_name)
    if backend == "nccl":
        if device_name not in ("auto", "cuda"):
            raise ConfigError(f"--device {device_name} names one GPU, but {world.size} processes would "
                              f"share it. Under torchrun use --device cuda (or auto): each process takes "
                              f"the GPU of its LOCAL_RANK; choose GPUs with CUDA_VISIBLE_DEVICES.")
        if world.local_rank >= torch.cuda.device_count():
            raise ConfigError(f"Local rank {world.local_rank} has no GPU: this machine has "
                              f"{torch.cuda.device_count()}. Give torchrun --nproc-per-node at most that.")
        torch.cuda.set_device(world.local_rank)
    dist.init_process_group(backend, timeout=COLLECTIVE_TIMEOUT)
    return dataclasses.replace(world, joined_here=True)


def leave(world: World) -> None:
    """Leave the process group that :func:`join` started (after the last collective)."""
    if world.joined_here and dist.is_initialized():
        dist.destroy_process_group()


def backend_name(world: World) -> str:
    return dist.get_backend() if world.several and dist.is_initialized() else ""


def rank_device(world: World, device: torch.device) -> torch.device:
    """The device of this rank: its own GPU (``cuda:LOCAL_RANK``), or the CPU."""
    if world.several and device.type == "cuda":
        return torch.device("cuda", world.local_rank)
    return device


def resume_command(world: World, run_folder: str) -> str:
    """The command that continues a run: under torchrun, on as many processes (bit for bit)."""
    if not world.several:
        return f"ganlab run --resume {run_folder}"
    if world.local_size == world.size:  # one machine
        return f"torchrun --standalone --nproc-per-node={world.size} -m ganlab run --resume {run_folder}"
    return (f"torchrun --nnodes={world.size // world.local_size} --nproc-per-node={world.local_size} <the same "
            f"rendezvous options> -m ganlab run --resume {run_folder}")


def rank_seed(seed: int, world: World) -> int:
    """The seed of this rank's own random stream: batches, noise, labels, dropout (``seed + rank``)."""
    return seed + world.rank


# --------------------------------------------------------------------------------------------------
# Waiting for each other, and agreeing
# --------------------------------------------------------------------------------------------------
def barrier(world: World) -> None:
    if world.several:
        dist.barrier()


@contextlib.contextmanager
def local_main_first(world: World) -> Iterator[None]:
    """Run the block on each machine's first process, then on the others (e.g. loading data).

    The first process downloads or decodes and caches; the others then read the cache instead of
    doing the same work N times at once.
    """
    if world.several and world.local_rank != 0:
        dist.barrier()  # wait until every machine's first process has been through the block
    yield
    if world.several and world.local_rank == 0:
        dist.barrier()


def broadcast_object(world: World, value: Any) -> Any:
    """Rank 0's ``value`` on every rank (e.g. a seed drawn at random)."""
    if not world.several:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(world: World, value: Any) -> list[Any]:
    """Every rank's ``value``, in rank order, on every rank (small things: random-generator states)."""
    if not world.several:
        return [value]
    values: list[Any] = [None] * world.size
    dist.all_gather_object(values, value)
    return values


def agree(world: World, numbers: torch.Tensor, stop: bool) -> tuple[torch.Tensor, bool]:
    """The ranks' per-step numbers averaged, and whether any rank was asked to stop: one all-reduce.

    A NaN on one rank makes the average NaN on every rank, so every rank sees the divergence at the
    same step.
    """
    if not world.several:
        return numbers, stop
    flag = torch.tensor([1.0 if stop else 0.0], device=numbers.device)
    packed = torch.cat([numbers.float().flatten(), flag])
    dist.all_reduce(packed)  # a sum over the ranks
    return (packed[:-1] / world.size).view_as(numbers), bool(packed[-1] > 0)


# --------------------------------------------------------------------------------------------------
# Keeping the models identical
# --------------------------------------------------------------------------------------------------
def copy_from_rank_0(world: World, modules: Iterable[nn.Module]) -> None:
    """Every parameter and buffer as rank 0 has it (at the start: the same weights everywhere)."""
    if world.several:
        with torch.no_grad():
            for module in modules:
                for tensor in [*module.parameters(), *module.buffers()]:
                    dist.broadcast(tensor, src=0)


def copy_buffers_from_rank_0(world: World, modules: Iterable[nn.Module]) -> None:
    """Buffers (BatchNorm's running statistics) as rank 0 has them, before a checkpoint or an evaluation.

    With per-rank BatchNorm each rank's running statistics follow its own batches; the parameters
    need no copying, since every rank takes the same optimizer steps.
    """
    if world.several:
        with torch.no_grad():
            for module in modules:
                for buffer in module.buffers():
                    dist.broadcast(buffer, src=0)


def average_gradients(world: World, parameters: Iterable[torch.Tensor]) -> None:
    """Replace each gradient by its mean over the ranks, in one all-reduce of one flat buffer.

    Each rank's loss is a mean over its B/N samples, so the mean of the N gradients is the gradient of
    the mean over all B samples: the update one process would make with the whole batch.
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    if not world.several or not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)  # a sum over the ranks
    flat /= world.size
    for grad, averaged in zip(grads, flat.split([g.numel() for g in grads])):
        grad.copy_(averaged.view_as(grad))


def average_gradients_before_each_step(world: World, optimizer: torch.optim.Optimizer) -> None:
    """From now on, ``optimizer.step()`` first averages its parameters' gradients over the ranks.

    The step is where the gradients are final (after one or several backward passes, a penalty's
    double backward included), and every rank calls it the same number of times in the same order.
    """
    if not world.several:
        return

    def average_first(optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        average_gradients(world, [p for group in optimizer.param_groups for p in group["params"]])

    optimizer.register_step_pre_hook(average_first)


def use_sync_batchnorm(network: nn.Module) -> nn.Module:
    """BatchNorm layers that normalise over the whole global batch (all ranks), not each rank's share."""
    return nn.SyncBatchNorm.convert_sync_batchnorm(network)
