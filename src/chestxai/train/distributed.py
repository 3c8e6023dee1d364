"""Data-parallel training across processes: the plumbing :func:`chestxai.train.fit.fit` needs, nothing more.

Two ways in, one code path: ``chestxai train --nproc N`` spawns N local processes (:func:`launch`), and
``torchrun --nproc-per-node N -m chestxai train ...`` starts them itself; either way each process finds RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT in its environment and :func:`session` joins the group (gloo on
CPU, NCCL when every process has a GPU). Without WORLD_SIZE > 1 :func:`session` hands back a one-process context and
``torch.distributed`` is never initialised, so the single-process run is the same as before.

Division of work: every rank trains on its DistributedSampler shard (``batch_size // world`` images per step, so
``--batch-size`` keeps meaning the global batch and the learning rate keeps its meaning); rank 0 alone validates,
selects, writes checkpoints, ``metrics.json`` and logs, and broadcasts the validation loss and the stop decision so
every rank steps its scheduler and stops together.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from chestxai import errors as error_types
from chestxai.errors import ChestXAIError

ENV_KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class DistContext:
    """Who this process is in the run; ``world == 1`` means plain single-process training (no group)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Rank 0 writes checkpoints, metrics and logs; the others only train."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def barrier(self) -> None:
        if self.active:
            import torch.distributed as dist

            dist.barrier()

    def share(self, values: list[float]) -> list[float]:
        """Rank 0's ``values`` on every rank (the validation loss and stop flag: one decision, taken once)."""
        if not self.active:
            return values
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.broadcast(t, src=0)
        return t.cpu().tolist()

    def mean(self, total: float, n: int) -> float:
        """The mean over all ranks' samples of a per-rank sum ``total`` over ``n`` samples (the epoch's train loss,
        so it is the same quantity as a single process reports)."""
        if not self.active:
            return total / max(n, 1)
        import torch.distributed as dist

        t = torch.tensor([total, float(n)], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return float(t[0] / max(float(t[1]), 1.0))

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model DDP trains (gradients all-reduced each step); unchanged when single-process."""
        if not self.active:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def sampler(self, dataset: Any, seed: int, epoch: int) -> Any:
        """This rank's shuffled shard for ``epoch`` (``set_epoch`` reshuffles each epoch, seeded by ``seed``)."""
        if not self.active:
            return None
        from torch.utils.data.distributed import DistributedSampler

        s = DistributedSampler(dataset, num_replicas=self.world, rank=self.rank, shuffle=True, seed=seed)
        s.set_epoch(epoch)
        return s

    def local_batch(self, batch_size: int) -> int:
        """Per-process batch so that the global batch stays ``batch_size``."""
        return max(1, batch_size // self.world)

    def main_first(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on rank 0, then on the others (the image cache is built once, then memory-mapped by all)."""
        if self.is_main:
            out = fn()
            self.barrier()
            return out
        self.barrier()
        return fn()


def world_from_env() -> int:
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


@contextmanager
def session() -> Iterator[DistContext]:
    """Join the process group described by the environment (if any) for the duration of a training run.

    A group this call creates is destroyed on exit; one that a caller created already is reused and left alone.
    """
    if world_from_env() <= 1:
        yield DistContext()
        return
    import torch.distributed as dist

    rank, world = int(os.environ["RANK"]), world_from_env()
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    use_cuda = torch.cuda.is_available() and torch.cuda.device_count() > local_rank
    device = torch.device(f"cuda:{local_rank}") if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    created = not dist.is_initialized()
    if created:
        dist.init_process_group("nccl" if use_cuda else "gloo", rank=rank, world_size=world)
    try:
        yield DistContext(rank, world, local_rank, device)
    finally:
        if created:
            dist.destroy_process_group()


def free_port() -> int:
    """A TCP port free on this machine now, for the rendezvous of locally spawned processes."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(local_rank: int, world: int, port: int, target: Callable[..., Any], args: tuple, errors: Any) -> None:
    """Entry of a spawned process: the environment torchrun would have set, then ``target(*args)``. A user error
    goes to the parent through ``errors`` (which raises it there), never a traceback per process."""
    os.environ.update({"RANK": str(local_rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(local_rank),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    try:
        target(*args)
    except ChestXAIError as exc:
        errors.put((local_rank, type(exc).__name__, str(exc)))
        raise


def launch(nproc: int, target: Callable[..., Any], *args: Any) -> None:
    """Run ``target(*args)`` in ``nproc`` fresh processes on this machine as one group, and wait for all.

    ``target`` must be importable (a module-level function): processes are spawned, not forked, so a run does not
    inherit the parent's threads or CUDA state. A failing rank makes this raise: a user error
    (:class:`chestxai.errors.ChestXAIError`) in any rank is raised here as it was raised there (the lowest rank's),
    for the caller to report once; any other failure as torch reports it.
    """
    import torch.multiprocessing as mp

    errors = mp.get_context("spawn").SimpleQueue()
    try:
        mp.start_processes(_worker, args=(nproc, free_port(), target, args, errors), nprocs=nproc, join=True,
                           start_method="spawn")
    except (mp.ProcessExitedException, mp.ProcessRaisedException) as exc:
        reported = []
        while not errors.empty():
            reported.append(errors.get())
        if reported:
            _, name, message = min(reported)
            kind = getattr(error_types, name, ChestXAIError)
            raise (kind if isinstance(kind, type) and issubclass(kind, ChestXAIError) else ChestXAIError)(
                message) from None
        if isinstance(exc, mp.ProcessRaisedException):
            raise  # a bug in a rank: torch's report carries its traceback
        raise ChestXAIError(f"training process {exc.error_index} stopped with exit code {exc.exit_code}"
                            " (its message is above)") from None
