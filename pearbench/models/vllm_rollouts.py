"""GRPO rollouts through a vLLM engine that follows the policy being trained (docs/scale.md, "vLLM sampling and
rollouts").

:class:`VLLMRollouts` is a generation backend (the interface of :class:`pearbench.models.generation.HFBackend`) over a
vLLM engine started from the policy's initial model folder. After every optimizer step the GRPO loop calls
:meth:`VLLMRollouts.sync`, which copies the policy's parameters into the engine through vLLM's documented RLHF
interface: the engine is built with ``worker_extension_cls`` naming :class:`WeightSyncExtension`, whose method is
called on every worker with ``LLM.collective_rpc``; it streams the tensors into the worker's ``reload_weights``
(the model's own ``load_weights`` maps Hugging Face parameter names onto vLLM's fused layers). Then the prefix cache
is reset, so no key/value block computed with the old weights is reused.

``collective_rpc`` carries control messages only (as vLLM recommends; its serialiser does not rebuild tensors passed
as plain arguments): the weights go through a safetensors file in shared memory (``/dev/shm`` where it exists, else
the temporary folder) whose path is the call's argument, and every worker reads it tensor by tensor. That needs no
NCCL and works on vLLM's CPU backend and with several workers; it costs one host copy of the weights per step. A
GPU-to-GPU transfer (vLLM's ``weight_transfer_config`` NCCL or CUDA-IPC engines) would avoid it and is not
implemented.

``vllm`` is imported only by :class:`VLLMRollouts` (through :class:`pearbench.models.vllm.VLLMBackend`); this module
imports without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from pearbench.models.generation import GenerationConfig, Sample

#: the qualified name vLLM resolves in its worker processes (``worker_extension_cls``)
EXTENSION = f"{__name__}.WeightSyncExtension"


class WeightSyncExtension:
    """Mixed into vLLM's worker class (engine argument ``worker_extension_cls``); called with ``collective_rpc``.

    Its method names carry a ``pearbench_`` prefix: vLLM refuses an extension whose attributes clash with the
    worker's own (the worker has an ``update_weights`` of its own weight-transfer engines).
    """

    def pearbench_load_weights(self, path: str) -> int:
        """Load the safetensors file ``path`` (Hugging Face parameter names) into the worker's model, one tensor at
        a time, through the worker's ``reload_weights``: vLLM restores each layer's checkpoint-format parameters,
        loads them with the model's own ``load_weights`` and processes them again (the CPU backend repacks linear
        weights after loading, so writing into the processed parameters directly would fail). Returns how many
        tensors the file held."""
        from safetensors import safe_open

        with safe_open(path, framework="pt", device="cpu") as handle:
            names = list(handle.keys())
            self.reload_weights(  # type: ignore[attr-defined]  (the worker's)
                weights_iterator=((name, handle.get_tensor(name)) for name in names)
            )
        self._pearbench_refresh_tied_head()
        return len(names)

    def _pearbench_refresh_tied_head(self) -> None:
        """Process a tied output head again. Its weight is the embedding's, so it receives no tensor of its own and
        the reload leaves it as it was; vLLM's CPU backend packs the head's weight for its GEMM when processing it,
        so without this the logits would keep the old embedding. (On GPU the unquantized head's processing does
        nothing.)"""
        model = self.model_runner.get_model()  # type: ignore[attr-defined]
        head = getattr(model, "lm_head", None)
        embed = getattr(getattr(model, "model", None), "embed_tokens", None)
        weight, embed_weight = getattr(head, "weight", None), getattr(embed, "weight", None)
        if weight is None or embed_weight is None or weight.data_ptr() != embed_weight.data_ptr():
            return
        method = getattr(head, "quant_method", None)
        if method is not None and hasattr(method, "process_weights_after_loading"):
            method.process_weights_after_loading(head)


def weights_folder() -> str:
    """A fresh folder for the weight files: in ``/dev/shm`` (memory) where it exists, else the temporary folder."""
    import tempfile

    shm = Path("/dev/shm")
    return tempfile.mkdtemp(prefix="pearbench-vllm-weights-", dir=str(shm) if shm.is_dir() else None)


def write_weights(model: torch.nn.Module, path: str | Path) -> int:
    """The policy's parameters (CPU copies, Hugging Face names) as one safetensors file; returns how many. Tied
    parameters appear once (``named_parameters`` deduplicates them), as vLLM's loaders expect."""
    from safetensors.torch import save_file

    tensors = {name: p.detach().to("cpu").contiguous() for name, p in model.named_parameters()}
    save_file(tensors, str(path))
    return len(tensors)


class VLLMRollouts:
    """A vLLM engine whose weights follow a torch policy, sampling like :class:`HFBackend`.

    ``model_dir``: the policy's initial model (a folder, a stage's pointer folder, ``hf:...``); ``dtype``: the
    engine's (the policy's parameters are cast to it on loading); ``memory``: gpu_memory_utilization (on vLLM's CPU
    backend: the share of memory for its KV cache); ``eager``: enforce_eager.
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        tokenizer: Any,
        dtype: str = "float32",
        memory: float | None = None,
        eager: bool = False,
        seed: int = 0,
        memory_name: str = "vllm_memory",
        **engine_kwargs: Any,
    ) -> None:
        from pearbench.models.vllm import backend_for_model

        self.backend = backend_for_model(
            model_dir,
            tokenizer=tokenizer,
            dtype=dtype,
            memory=memory,
            eager=eager,
            seed=seed,
            memory_name=memory_name,
            worker_extension_cls=EXTENSION,
            **engine_kwargs,
        )
        self.tokenizer = self.backend.tokenizer
        self.pad_id = self.backend.pad_id
        self.eos_id = self.backend.eos_id
        self.dtype = dtype
        self._folder: str | None = None
        #: how many times the weights were copied in (after the engine's start from ``model_dir``)
        self.syncs = 0

    def sync(self, model: torch.nn.Module) -> int:
        """Copy ``model``'s parameters into the engine and drop its prefix cache; returns the tensors loaded (by
        the worker that loaded fewest)."""
        if self._folder is None:
            self._folder = weights_folder()
        path = Path(self._folder) / "policy.safetensors"
        try:
            write_weights(model, path)
            loaded = min(self.backend.engine.collective_rpc("pearbench_load_weights", args=(str(path),)))
        finally:
            path.unlink(missing_ok=True)
        self.backend.engine.reset_prefix_cache()
        self.syncs += 1
        return loaded

    def generate(
        self,
        prompts: Sequence[Sequence[int]],
        *,
        n: int = 1,
        config: GenerationConfig | None = None,
        seed: int = 0,
        progress: Any = None,
        rows: tuple[int, int] | None = None,
    ) -> list[Sample]:
        """Samples from the engine's current weights (see :meth:`pearbench.models.vllm.VLLMBackend.generate`)."""
        return self.backend.generate(prompts, n=n, config=config, seed=seed, progress=progress, rows=rows)

    def score(
        self, prompts: Sequence[Sequence[int]], responses: Sequence[Sequence[int]]
    ) -> list[list[float]]:
        """The engine's per-token log-probs of given responses (temperature 1)."""
        return self.backend.score(prompts, responses)

    def close(self) -> None:
        """Stop the engine (frees its memory before the next stage starts one) and remove the weights folder."""
        import shutil

        self.backend.close()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


class LogprobGap:
    """How far the sampler's log-probs are from the trainer's on the same tokens (one GRPO step's rollouts).

    ``samples``' recorded log-probs are laid out like the loop's response mask ``mask`` (B, L - 1): row b holds
    sample b's log-prob of response token t at column ``prompt_lengths[b] - 1 + t``. :meth:`add` takes the trainer's
    log-probs of rows ``rows`` (a micro-batch); :meth:`stats` gives the mean and largest absolute difference per
    response token. Meaningful at temperature 1 and top-p 1, where the sampler records the model's own log-probs.
    """

    def __init__(self, samples: Sequence[Sample], prompt_lengths: Sequence[int], mask: torch.Tensor) -> None:
        sampled = torch.zeros(mask.shape, dtype=torch.float32)
        for row, (sample, length) in enumerate(zip(samples, prompt_lengths)):
            values = torch.tensor(sample.logprobs, dtype=torch.float32)
            sampled[row, length - 1 : length - 1 + len(values)] = values
        self.sampled = sampled.to(mask.device)
        self.mask = mask
        self.total = 0.0
        self.largest = 0.0
        self.tokens = 0.0

    def add(self, logprobs: torch.Tensor, rows: slice) -> None:
        mask = self.mask[rows]
        diff = (logprobs.detach().float() - self.sampled[rows]).abs() * mask
        self.total += float(diff.sum())
        self.largest = max(self.largest, float(diff.max())) if diff.numel() else self.largest
        self.tokens += float(mask.sum())

    def stats(self) -> dict[str, float]:
        return {
            "rollout_logprob_gap": self.total / max(1.0, self.tokens),
            "rollout_logprob_gap_max": self.largest,
        }
