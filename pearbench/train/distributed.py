"""Data-parallel training: N processes share each SFT and GRPO step (docs/scale.md, "Data-parallel training").

Every rank holds the whole model and takes a contiguous shard of the step's global batch (the batch one process would
take: :func:`pearbench.train.sft.batch_indices` for SFT, the step's prompts for GRPO). The objectives' contract
(:mod:`pearbench.train.objectives`: a numerator with the gradient, a normaliser without) makes the update exact:

1. each rank backpropagates the numerators of its micro-batches (its gradients add up in ``.grad``);
2. the normaliser is summed over ranks (:meth:`Parallel.sum_floats`) and the gradients too
   (:meth:`Parallel.sync_gradients`: an all-reduce **sum**, not DDP's average);
3. every rank divides by the global normaliser and takes the same optimizer step.

So N processes make the update one process makes on the same global batch, for token-mean, seq-mean and
self-normalised objectives alike (averaging per-rank losses would not: their denominators differ between shards).
Gradients are synchronised by hand once per optimizer step, the way DDP's ``no_sync`` + one all-reduce would, so the
model is never wrapped and DDP's division by the world size never has to be undone.

The process group comes from accelerate (:class:`accelerate.PartialState`: gloo on CPU, NCCL on CUDA), joined by
:func:`setup` when the process was started as one of N (``WORLD_SIZE`` set by :func:`launch`, ``torchrun`` or
``accelerate launch``). :func:`launch` starts N fresh (spawned) processes and returns rank 0's result.

FSDP (:attr:`Parallel.fsdp`: ``ACCELERATE_USE_FSDP=true``, accelerate's ``distributed_type: FSDP``, or
``pearbench run --fsdp``) shards the trained model instead of replicating it; the same contract holds, the
reduce-scatter summing what step 2 all-reduces (:mod:`pearbench.train.sharding`).
"""

from __future__ import annotations

import atexit
import logging
import os
import pickle
import socket
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from pearbench.errors import PearbenchError
from pearbench.settings import env_whole_number

#: How long a rank waits at a collective: rank 0 alone builds the shared stages and evaluates meanwhile.
TIMEOUT = timedelta(hours=24)

#: Gradients are all-reduced in flat buckets of at most this many elements (one copy of a bucket at a time).
BUCKET_ELEMENTS = 1 << 24


def shard_bounds(count: int, rank: int, world_size: int) -> tuple[int, int]:
    """``[begin, end)`` of rank ``rank``'s contiguous share of ``count`` items (sizes differ by at most one)."""
    return count * rank // world_size, count * (rank + 1) // world_size


@dataclass(frozen=True)
class Parallel:
    """This process's place in a data-parallel run: ``rank`` of ``world_size`` processes.

    With ``world_size`` 1 (:data:`SINGLE`) every collective is a no-op and the loops run as they always have.
    ``fsdp``: the loops shard the trained model over the ranks (FSDP2, :mod:`pearbench.train.sharding`) instead of
    keeping a full replica per rank and all-reducing its gradients.
    """

    rank: int = 0
    world_size: int = 1
    fsdp: bool = False

    def __post_init__(self) -> None:
        if self.fsdp and self.world_size <= 1:
            raise PearbenchError("FSDP shards the model over data-parallel processes: it needs more than one")

    @property
    def sharding(self) -> str:
        """How the trained model is spread over the ranks: "fsdp" (sharded) or "replicate" (a full copy each)."""
        return "fsdp" if self.fsdp else "replicate"

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, count: int) -> range:
        """This rank's contiguous share of ``count`` items (all of them in a single process)."""
        return range(*shard_bounds(count, self.rank, self.world_size))

    def require_items(self, count: int, what: str) -> None:
        """Refuse a global batch with fewer items than processes (a rank would get none)."""
        if count < self.world_size:
            raise PearbenchError(
                f"{what} is {count}, fewer than the {self.world_size} processes: every process needs at least one "
                f"item of the step's batch (lower --processes or raise {what})"
            )

    # -- collectives (no-ops in a single process) -----------------------------------------------------------------
    def _device(self) -> torch.device:
        """Where small tensors go for a collective: the current GPU under NCCL, else the CPU."""
        if "nccl" in str(dist.get_backend()):
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")

    def sum_floats(self, *values: float) -> list[float]:
        """Σ over ranks of each value (float64)."""
        if not self.enabled:
            return [float(v) for v in values]
        tensor = torch.tensor([float(v) for v in values], dtype=torch.float64, device=self._device())
        dist.all_reduce(tensor)
        return [float(v) for v in tensor.cpu().tolist()]

    def sum_tensor(self, tensor: torch.Tensor) -> torch.Tensor:
        """Σ over ranks of ``tensor`` (a new tensor on ``tensor``'s device; ``tensor`` itself in one process)."""
        if not self.enabled:
            return tensor
        out = tensor.detach().to(self._device(), copy=True)
        dist.all_reduce(out)
        return out.to(tensor.device)

    def sync_gradients(self, parameters: Iterable[torch.nn.Parameter]) -> None:
        """All-reduce (sum) the gradients of ``parameters``, in place; call after the step's last backward.

        A parameter without a gradient on some rank gets a zero one where another rank has one, so every rank ends
        with the same gradients; a parameter no rank has a gradient for keeps ``grad = None``, as in one process.
        """
        if not self.enabled:
            return
        params = [p for p in parameters if p.requires_grad]
        present = torch.tensor([p.grad is not None for p in params], dtype=torch.int64, device=self._device())
        dist.all_reduce(present)
        for param, count in zip(params, present.tolist()):
            if count and param.grad is None:
                param.grad = torch.zeros_like(param)
        for bucket in _buckets([p.grad for p in params if p.grad is not None]):
            flat = torch.cat([g.reshape(-1) for g in bucket])
            dist.all_reduce(flat)
            offset = 0
            for grad in bucket:
                grad.copy_(flat[offset : offset + grad.numel()].view_as(grad))
                offset += grad.numel()

    def gather_objects(self, value: Any) -> list[Any]:
        """Every rank's ``value``, in rank order (``[value]`` in one process)."""
        if not self.enabled:
            return [value]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, value)
        return out

    def broadcast_object(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank."""
        if not self.enabled:
            return value
        box = [value if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def main_value(self, fn: Callable[[], Any]) -> Any:
        """``fn()`` computed on rank 0 only (sampling, evaluation) and handed to every rank."""
        return self.broadcast_object(fn() if self.is_main else None)

    def main_only(self, fn: Callable[[], Any]) -> Any:
        """``fn()`` on rank 0 (None elsewhere); every rank waits until it is done."""
        result = fn() if self.is_main else None
        self.barrier()
        return result

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    @contextmanager
    def main_first(self) -> Iterator[None]:
        """Rank 0 runs the block first; the other ranks wait, then run it (and find its cached stages).

        If rank 0 fails inside the block it does not release the others: its process exits, and the launcher
        (:func:`launch`, torchrun, accelerate) stops the whole group rather than letting another rank redo the work.
        """
        if not self.is_main:
            self.barrier()
        yield
        if self.is_main:
            self.barrier()


#: One process, no process group.
SINGLE = Parallel()


def _buckets(grads: Sequence[torch.Tensor]) -> Iterator[list[torch.Tensor]]:
    """Gradients grouped by (device, dtype) in order, at most :data:`BUCKET_ELEMENTS` elements per group."""
    groups: dict[tuple[torch.device, torch.dtype], list[torch.Tensor]] = {}
    for grad in grads:
        groups.setdefault((grad.device, grad.dtype), []).append(grad)
    for group in groups.values():
        bucket: list[torch.Tensor] = []
        size = 0
        for grad in group:
            if bucket and size + grad.numel() > BUCKET_ELEMENTS:
                yield bucket
                bucket, size = [], 0
            bucket.append(grad)
            size += grad.numel()
        if bucket:
            yield bucket


# -- joining and starting process groups ---------------------------------------------------------------------------
def launched_world_size() -> int:
    """N when this process was started as one of N (``WORLD_SIZE``, set by :func:`launch`, torchrun, accelerate)."""
    return env_whole_number("WORLD_SIZE", 1)


def fsdp_requested() -> bool:
    """True under ``accelerate launch`` with an FSDP config (``distributed_type: FSDP``)."""
    return os.environ.get("ACCELERATE_USE_FSDP", "false").lower() in ("1", "true", "yes")


def check_fsdp(world_size: int) -> None:
    """Refuse FSDP where it cannot run: in one process, or with accelerate's parameter offloading."""
    if world_size <= 1:
        raise PearbenchError(
            "FSDP (--fsdp or ACCELERATE_USE_FSDP=true) shards the model over data-parallel processes, but this "
            "run has one: use --processes N > 1 (or accelerate launch --num_processes N > 1), or drop FSDP"
        )
    if os.environ.get("FSDP_OFFLOAD_PARAMS", "false").lower() in ("1", "true", "yes"):
        raise PearbenchError(
            "the accelerate FSDP config asks for CPU offloading (fsdp_offload_params: true), which pearbench's FSDP "
            "does not do: set it to false (docs/scale.md, 'Data-parallel training')"
        )


def setup(device: str = "cpu", *, fsdp: bool = False) -> Parallel:
    """This process's :class:`Parallel`: joins the process group (once) when started as one of N > 1 processes.

    The group is accelerate's (:class:`accelerate.PartialState`): gloo when ``device`` is the CPU, NCCL on CUDA (one
    GPU per rank, ``cuda:LOCAL_RANK``). In a single process nothing is initialised and :data:`SINGLE` comes back.
    ``fsdp`` (or ``ACCELERATE_USE_FSDP=true`` in the environment) asks for sharded training: refused in one process.
    """
    fsdp = fsdp or fsdp_requested()
    if fsdp:
        check_fsdp(launched_world_size())
    if dist.is_available() and dist.is_initialized():
        return Parallel(rank=dist.get_rank(), world_size=dist.get_world_size(), fsdp=fsdp)
    if launched_world_size() <= 1:
        return SINGLE
    if not dist.is_available():  # pragma: no cover - every supported torch build has it
        raise PearbenchError("this torch build has no torch.distributed: data-parallel runs need it")
    from accelerate import PartialState

    cpu = not str(device).startswith("cuda")
    local = int(os.environ.get("LOCAL_WORLD_SIZE") or launched_world_size())
    if not cpu and torch.cuda.device_count() < local:
        raise PearbenchError(
            f"{local} CUDA processes on this machine need one GPU each, but {torch.cuda.device_count()} are visible"
        )
    kwargs: dict[str, Any] = {"timeout": TIMEOUT}
    if cpu:
        kwargs["backend"] = "gloo"
    state = PartialState(cpu=cpu, **kwargs)
    if state.num_processes != launched_world_size():  # pragma: no cover - another launcher's environment
        raise PearbenchError(
            f"accelerate formed a group of {state.num_processes} process(es), but WORLD_SIZE is "
            f"{launched_world_size()}"
        )
    return Parallel(rank=state.process_index, world_size=state.num_processes, fsdp=fsdp)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rank_main(index: int, fn: Callable[..., Any], args: tuple, env: dict[str, str], folder: str) -> None:
    """The body of a spawned rank: its environment, ``fn(*args)``, rank 0's result (or the error) into ``folder``."""
    os.environ.update(env)
    os.environ["RANK"] = os.environ["LOCAL_RANK"] = str(index)
    try:
        result = fn(*args)
        if index == 0:
            with open(Path(folder) / "result.pkl", "wb") as handle:
                pickle.dump(result, handle)
    except BaseException as exc:
        user_error = isinstance(exc, PearbenchError)
        text = str(exc) if user_error else "".join(traceback.format_exception(exc))
        with open(Path(folder) / f"error-{index}.pkl", "wb") as handle:
            pickle.dump({"user_error": user_error, "text": text, "type": type(exc).__name__}, handle)
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
        raise
    # A clean exit. No rank tears its group down while a peer is still inside a collective (the barrier). The
    # process then runs its atexit handlers (the verifier pool's shutdown among them) and ends without the rest of
    # the interpreter's finalisation: gloo's C++ threads can abort a spawned process there ("terminate called without
    # an active exception", SIGABRT: seen once in CI after a finished run; pytorch#179291 describes the same teardown
    # race), which would fail a run whose result is already written. A forked multiprocessing child ends this way.
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def launch(
    fn: Callable[..., Any],
    args: tuple = (),
    *,
    processes: int,
    threads: int | None = None,
    env: dict[str, str] | None = None,
) -> Any:
    """Run ``fn(*args)`` in ``processes`` fresh (spawned) processes on this machine; returns rank 0's result.

    The processes find each other through ``MASTER_ADDR``/``MASTER_PORT`` (a free local port), ``RANK``,
    ``LOCAL_RANK`` and ``WORLD_SIZE``, as under torchrun; ``fn`` calls :func:`setup` to join the group. ``fn`` and
    ``args`` must be picklable (a module-level function). ``threads`` sets ``OMP_NUM_THREADS`` of each process
    (default: left as it is, else 1); ``env`` adds variables to each process's environment (``--fsdp``:
    ``ACCELERATE_USE_FSDP=true``, as accelerate sets it). When a rank fails, the others are stopped; a rank's
    :class:`~pearbench.errors.PearbenchError` is raised here as it is, any other failure as a ``RuntimeError``
    with the failing rank's traceback.
    """
    import torch.multiprocessing as mp

    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise PearbenchError(f"processes must be a whole number >= 1, got {processes!r}")
    env = {
        **(env or {}),
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(free_port()),
        "WORLD_SIZE": str(processes),
        "LOCAL_WORLD_SIZE": str(processes),
        "OMP_NUM_THREADS": str(threads or os.environ.get("OMP_NUM_THREADS") or 1),
    }
    spawn_log = logging.getLogger("torch.multiprocessing.spawn")  # "terminating process N" when a rank fails
    level = spawn_log.level
    with tempfile.TemporaryDirectory(prefix="pearbench-ranks-") as folder:
        try:
            spawn_log.setLevel(logging.ERROR)
            mp.start_processes(
                _rank_main, args=(fn, args, env, folder), nprocs=processes, join=True, start_method="spawn"
            )
        except (mp.ProcessRaisedException, mp.ProcessExitedException) as exc:
            raise _failure(Path(folder), processes, exc) from None
        finally:
            spawn_log.setLevel(level)
        with open(Path(folder) / "result.pkl", "rb") as handle:
            return pickle.load(handle)


def _failure(folder: Path, processes: int, exc: Exception) -> Exception:
    """The error to raise for a failed group: a rank's own user error first, else the first rank's traceback."""
    errors = {}
    for rank in range(processes):
        path = folder / f"error-{rank}.pkl"
        if path.exists():
            with open(path, "rb") as handle:
                errors[rank] = pickle.load(handle)
    for _, error in sorted(errors.items()):
        if error["user_error"]:
            return PearbenchError(error["text"])
    if errors:
        rank, error = min(errors.items())
        return RuntimeError(f"rank {rank} of {processes} failed:\n{error['text']}")
    return RuntimeError(f"a rank of {processes} processes died: {exc}")
