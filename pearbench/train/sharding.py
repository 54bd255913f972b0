"""Sharded data-parallel training (FSDP2, ``torch.distributed.fsdp.fully_shard``; docs/scale.md, "Data-parallel
training").

Selected by ``ACCELERATE_USE_FSDP=true`` (an accelerate config with ``distributed_type: FSDP``) or ``pearbench run
--fsdp`` in a run of N > 1 processes (:attr:`pearbench.train.distributed.Parallel.fsdp`). The SFT and GRPO loops
then hold two models on each rank (:class:`ShardedModel`):

- the **trainee**, a copy of the model whose transformer blocks (:func:`transformer_blocks`) and root are
  ``fully_shard``-ed: it runs the training forward and backward passes and owns the optimizer, so each rank keeps
  1/N of its weights, gradients and AdamW moments (all-gathered block by block for a pass);
- the caller's model, unsharded, the **replica**: GRPO's rollouts, the RL monitor and the no-gradient log-prob
  passes use it. Each rank samples its own share of prompts, with its own lengths, alone (rank 0 alone runs the
  monitor): through a sharded module those passes would issue different numbers of all-gathers on different ranks
  and deadlock. :meth:`ShardedModel.refresh` copies the trainee's full weights into it (a collective) after every
  GRPO step, before every checkpoint and so after the last step: the caller ends with the trained model, as with
  replicated training.

The update is the one :mod:`pearbench.train.distributed` makes: the gradient divide factor is 1 and the reductions
are sums, so the reduce-scatter after each backward *sums* the ranks' gradients (as ``Parallel.sync_gradients``
does); the loops then divide by the global normaliser, clip by the global norm (``clip_grad_norm_`` reduces the
DTensor gradients' norms over the ranks: :func:`clip_gradients`) and step. FSDP's collectives need every rank to run
the same passes, so a rank with fewer micro-batches in a step runs idle passes (:func:`idle_pass`, gradient 0) up to
:func:`most_passes`.

Checkpoints are the files replicated training writes (:mod:`pearbench.train.checkpoint`): rank 0 saves the
refreshed replica's weights and the full optimizer state (``get_optimizer_state_dict`` with
``full_state_dict=True, cpu_offload=True``), keyed by parameter index as ``optimizer.state_dict()`` keys it. A
resume loads the weights into the replica and from it into the shards (``set_model_state_dict``), the optimizer state
with ``set_optimizer_state_dict``; so either kind of run resumes the other's checkpoints.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from typing import Any

import torch

from pearbench.train.distributed import Parallel, shard_bounds


def transformer_blocks(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The repeated blocks of ``model``, each to be sharded on its own (outermost first).

    A transformers model names its block classes in ``_no_split_modules`` (``LlamaDecoderLayer``, ``GPT2Block``);
    without them, the children of the largest ``nn.ModuleList`` whose children share one class (``model.layers``,
    ``transformer.h``). Empty when there are none: the whole model is then one shard group.
    """
    names = set(getattr(model, "_no_split_modules", None) or ())
    blocks = [m for m in model.modules() if m is not model and type(m).__name__ in names]
    if blocks:
        return blocks
    lists = [
        m
        for m in model.modules()
        if isinstance(m, torch.nn.ModuleList) and len(m) > 0 and len({type(c) for c in m}) == 1
    ]
    if not lists:
        return []
    largest = max(lists, key=lambda m: sum(p.numel() for p in m.parameters()))
    return list(largest)


def most_passes(parallel: Parallel, items: int, micro: int, rows_per_item: int = 1) -> int:
    """The most forward/backward passes a rank makes on its share of a step's ``items`` (micro-batches of
    ``micro`` rows, ``rows_per_item`` rows an item): every rank makes that many under FSDP."""
    return max(
        math.ceil((end - begin) * rows_per_item / micro)
        for begin, end in (
            shard_bounds(items, rank, parallel.world_size) for rank in range(parallel.world_size)
        )
    )


def idle_pass(module: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> None:
    """A forward and backward pass of ``module`` on one row that adds nothing to the gradients: it takes part in
    FSDP's all-gathers and reduce-scatters for a rank that has no micro-batch left in this step."""
    logits = module(input_ids=input_ids[:1], attention_mask=attention_mask[:1], use_cache=False).logits
    (logits.float().sum() * 0.0).backward()


def clip_gradients(parameters: Iterable[torch.nn.Parameter], max_norm: float) -> torch.Tensor:
    """``clip_grad_norm_`` by the global norm; the norm as a plain tensor (a DTensor's, reduced over the ranks)."""
    from torch.distributed.tensor import DTensor

    norm = torch.nn.utils.clip_grad_norm_(parameters, max_norm)
    return norm.full_tensor() if isinstance(norm, DTensor) else norm


class ShardedModel:
    """The trainee (a sharded copy of ``model``) and the replica (``model`` itself) of one rank; see the module
    docstring. Build it after ``model`` is on its device and before the optimizer (``adamw(self.module, ...)``)."""

    def __init__(self, model: torch.nn.Module, parallel: Parallel) -> None:
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import FSDPModule, fully_shard

        self.replica = model
        self.parallel = parallel
        device = next(model.parameters()).device
        mesh = init_device_mesh(device.type, (parallel.world_size,))
        module = copy.deepcopy(model)
        for block in reversed(transformer_blocks(module)):  # innermost first
            fully_shard(block, mesh=mesh)
        fully_shard(module, mesh=mesh)
        # every shard group's reduce-scatter sums, as Parallel.sync_gradients does (the loops divide by the global
        # normaliser); the setters act on one group each, not on the groups below
        for group in module.modules():
            if isinstance(group, FSDPModule):
                group.set_gradient_divide_factor(1.0)
                group.set_force_sum_reduction_for_comms(True)  # a plain SUM (gloo has no PREMUL_SUM)
        self.module = module

    def refresh(self) -> None:
        """Copy the trainee's full weights into the replica, one parameter at a time (a collective: every rank)."""
        targets = dict(self.replica.named_parameters())
        with torch.no_grad():
            for name, parameter in self.module.named_parameters():
                full = parameter.full_tensor() if hasattr(parameter, "full_tensor") else parameter
                targets[name].copy_(full)

    def load_replica(self) -> None:
        """Load the replica's weights (a resumed checkpoint) into the trainee's shards (every rank)."""
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

        set_model_state_dict(
            self.module, self.replica.state_dict(), options=StateDictOptions(full_state_dict=True)
        )

    def _names(self, optimizer: torch.optim.Optimizer) -> list[str]:
        """The parameter names of ``optimizer``'s parameters, in the order of its state dict's indices."""
        name_of = {id(p): name for name, p in self.module.named_parameters()}
        return [name_of[id(p)] for group in optimizer.param_groups for p in group["params"]]

    def optimizer_state(self, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        """The full optimizer state, keyed as ``optimizer.state_dict()`` keys a replicated run's, on rank 0 (on the
        CPU; ``{}`` on the other ranks). A collective: every rank calls it."""
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

        full = get_optimizer_state_dict(
            self.module, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
        )
        if not self.parallel.is_main:
            return {}
        index = {name: i for i, name in enumerate(self._names(optimizer))}
        return {
            "state": {index[name]: value for name, value in full["state"].items()},
            "param_groups": [
                {**group, "params": [index[name] for name in group["params"]]}
                for group in full["param_groups"]
            ],
        }

    def load_optimizer_state(self, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
        """Load a full optimizer state (as :meth:`optimizer_state` returns it, read from a checkpoint by every
        rank) into the sharded ``optimizer``."""
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

        names = self._names(optimizer)
        full = {
            "state": {names[int(i)]: value for i, value in state["state"].items()},
            "param_groups": [
                {**group, "params": [names[int(i)] for i in group["params"]]}
                for group in state["param_groups"]
            ],
        }
        set_optimizer_state_dict(self.module, optimizer, full, options=StateDictOptions(full_state_dict=True))
