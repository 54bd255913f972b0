"""Generation backends returning response token ids and per-token log-probs (docs/design.md §5).

**Behavior log-probs** are the log-probs of the distribution the tokens were actually sampled from: after
temperature scaling and top-p truncation. At temperature 1 and top-p 1 (the default for teacher data) they equal the
model's own log-probs, which is what PEAR's δ compares against.

Backends share one interface (:class:`GenerationBackend`): ``hf`` (default; a KV-cached sampling loop over any
transformers causal LM, CPU or GPU) and ``vllm`` (imported only when chosen; see :mod:`pearbench.models.vllm`).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import torch
import torch.nn.functional as F

from pearbench.errors import PearbenchError
from pearbench.faults import maybe_die
from pearbench.models.logprobs import next_token_logprobs
from pearbench.models.precision import autocast, check_dtype, model_device


@dataclass(frozen=True)
class GenerationConfig:
    """Sampling settings (recorded with every generated data set)."""

    max_new_tokens: int = 64
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    batch_size: int = 128
    use_cache: bool = True

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise PearbenchError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if not self.temperature > 0:
            raise PearbenchError(f"temperature must be > 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise PearbenchError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.batch_size < 1:
            raise PearbenchError(f"batch_size must be >= 1, got {self.batch_size}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stop"] = list(self.stop)
        return data


@dataclass
class Sample:
    """One sampled response: ids (EOS included when generated), the sampled distribution's log-probs, why it ended."""

    prompt_index: int
    response_ids: list[int]
    logprobs: list[float]
    finish_reason: str  # "eos", "stop" or "length"
    text: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


class GenerationBackend(Protocol):
    def generate(
        self, prompts: Sequence[Sequence[int]], *, n: int, config: GenerationConfig, seed: int
    ) -> list[Sample]: ...


def _top_p_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Mask (to -inf) tokens outside the smallest set whose probability mass reaches top_p."""
    if top_p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
    cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
    remove = cumulative - torch.softmax(sorted_logits, dim=-1) >= top_p
    sorted_logits = sorted_logits.masked_fill(remove, float("-inf"))
    return torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)


class HFBackend:
    """KV-cached ancestral sampling over a transformers causal LM, batched, with left padding.

    Each forward pass computes the logits of the last position only (``logits_to_keep=1`` where the model takes
    it), and tokens are drawn on the model's device from a generator on that device (on CPU: the same draws as
    before). ``dtype="bfloat16"`` runs the forward passes under bf16 autocast (:mod:`pearbench.models.precision`).
    """

    def __init__(self, model: torch.nn.Module, tokenizer, *, dtype: str = "float32") -> None:
        self.model = model
        self.dtype = check_dtype(dtype)
        self.tokenizer = tokenizer
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.eos_id = tokenizer.eos_token_id
        #: models whose embedding is padded past the tokenizer (e.g. Qwen2.5) never sample an id it cannot decode
        self.vocab_size = len(tokenizer)

    @torch.no_grad()
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
        """n samples for each prompt (prompt-major order: all samples of prompt 0, then prompt 1, ...).

        ``rows=(begin, end)``: only the samples ``begin .. end - 1`` of that order (one data-parallel rank's share;
        ``prompt_index`` still counts in ``prompts``), drawn from the random numbers of the whole batch
        (:func:`sample_rows`), so they are the tokens the full call would give them. Needs every sample in one batch.
        """
        config = config or GenerationConfig()
        if n < 1:
            raise PearbenchError(f"n must be >= 1, got {n}")
        jobs = [(index, list(prompt)) for index, prompt in enumerate(prompts) for _ in range(n)]
        draw = None
        if rows is not None:
            begin, end = rows
            if not 0 <= begin < end <= len(jobs) or len(jobs) > config.batch_size:
                raise PearbenchError(
                    f"rows {rows} must be a non-empty range within the {len(jobs)} samples, all in one batch "
                    f"(batch_size {config.batch_size})"
                )
            jobs, draw = jobs[begin:end], (begin, len(jobs))
        # on the model's device: tokens are drawn where the probabilities are (no per-token copy to the CPU)
        generator = torch.Generator(device=model_device(self.model)).manual_seed(int(seed))
        has_stop = any(config.stop)
        was_training = self.model.training
        self.model.eval()
        samples: list[Sample] = []
        try:
            for start in range(0, len(jobs), config.batch_size):
                batch = jobs[start : start + config.batch_size]
                # an outer autocast region per batch keeps bf16 copies of the weights for all its tokens
                with autocast(model_device(self.model), self.dtype):
                    samples.extend(self._generate_batch(batch, config, generator, has_stop, draw))
                if progress is not None:
                    progress.update(len(batch))
                    maybe_die("eval", start // config.batch_size + 1)
        finally:
            self.model.train(was_training)
        return samples

    def _logits_to_keep(self) -> dict[str, int]:
        """``{"logits_to_keep": 1}`` when the model's forward takes it (transformers causal LMs: Llama, Qwen2,
        GPT-2, ...), so only the sampled position gets logits; ``{}`` for a model that does not."""
        if not hasattr(self, "_keep"):
            try:
                parameters = inspect.signature(self.model.forward).parameters
            except (TypeError, ValueError):
                parameters = {}
            self._keep = {"logits_to_keep": 1} if "logits_to_keep" in parameters else {}
        return self._keep

    def _generate_batch(
        self, batch, config: GenerationConfig, generator: torch.Generator, has_stop: bool, draw=None
    ):
        device = model_device(self.model)
        keep = self._logits_to_keep()
        lengths = [len(p) for _, p in batch]
        if min(lengths) == 0:
            raise PearbenchError("empty prompt: a prompt needs at least one token")
        width = max(lengths)
        rows = len(batch)
        input_ids = torch.full((rows, width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((rows, width), dtype=torch.long)
        for row, (_, prompt) in enumerate(batch):
            input_ids[row, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
            attention[row, width - len(prompt) :] = 1
        input_ids, attention = input_ids.to(device), attention.to(device)
        positions = (attention.cumsum(-1) - 1).clamp(min=0)

        tokens = torch.empty((rows, config.max_new_tokens), dtype=torch.long, device=device)
        token_logprobs = torch.zeros((rows, config.max_new_tokens), dtype=torch.float32, device=device)
        finished = torch.zeros(rows, dtype=torch.bool, device=device)
        lengths_out = torch.full((rows,), config.max_new_tokens, dtype=torch.long, device=device)
        ended_eos = torch.zeros(rows, dtype=torch.bool, device=device)
        reasons = ["length"] * rows
        past = None
        step_ids, step_mask, step_pos = input_ids, attention, positions
        full_ids = input_ids
        for step in range(config.max_new_tokens):
            with autocast(device, self.dtype):
                if config.use_cache:
                    out = self.model(
                        input_ids=step_ids,
                        attention_mask=step_mask,
                        position_ids=step_pos,
                        past_key_values=past,
                        use_cache=True,
                        **keep,
                    )
                    past = out.past_key_values
                else:
                    out = self.model(
                        input_ids=full_ids,
                        attention_mask=step_mask,
                        position_ids=positions,
                        use_cache=False,
                        **keep,
                    )
            logits = out.logits[:, -1, :].float()
            if logits.shape[-1] > self.vocab_size:
                logits[:, self.vocab_size :] = float("-inf")
            if config.temperature != 1.0:
                logits = logits / config.temperature
            logits = _top_p_filter(logits, config.top_p)
            logprobs = F.log_softmax(logits, dim=-1)
            probs = logprobs.exp()
            if draw is None:
                chosen = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
            else:
                chosen = sample_rows(probs, generator, *draw)
            chosen = torch.where(finished, torch.full_like(chosen, self.pad_id), chosen)
            tokens[:, step] = chosen
            token_logprobs[:, step] = logprobs.gather(-1, chosen[:, None]).squeeze(-1)
            newly = (~finished) & (chosen == self.eos_id)
            lengths_out = torch.where(newly, step + 1, lengths_out)
            ended_eos |= newly
            finished |= newly
            if has_stop:
                prefixes = tokens[:, : step + 1].cpu()
                for row in torch.nonzero(~finished).flatten().tolist():
                    # decoded text, not token ids: a BPE tokenizer may split a stop string differently in context
                    text = self.tokenizer.decode(prefixes[row].tolist(), skip_special_tokens=True)
                    if any(text.endswith(s) for s in config.stop if s):
                        finished[row] = True
                        lengths_out[row] = step + 1
                        reasons[row] = "stop"
            if bool(finished.all()):
                break
            step_ids = chosen[:, None]
            step_mask = torch.cat(
                [step_mask, torch.ones((rows, 1), dtype=step_mask.dtype, device=device)], dim=1
            )
            step_pos = step_pos[:, -1:] + 1
            if not config.use_cache:
                full_ids = torch.cat([full_ids, step_ids], dim=1)
                positions = torch.cat([positions, step_pos], dim=1)
        results = []
        tokens_cpu, logprobs_cpu, lengths_cpu = tokens.cpu(), token_logprobs.cpu(), lengths_out.tolist()
        for row in torch.nonzero(ended_eos).flatten().tolist():
            reasons[row] = "eos"
        for row, (prompt_index, _) in enumerate(batch):
            length = int(lengths_cpu[row])
            ids = tokens_cpu[row, :length].tolist()
            text_ids = ids[:-1] if reasons[row] == "eos" else ids
            results.append(
                Sample(
                    prompt_index=prompt_index,
                    response_ids=ids,
                    logprobs=logprobs_cpu[row, :length].tolist(),
                    finish_reason=reasons[row],
                    text=self.tokenizer.decode(text_ids, skip_special_tokens=True),
                )
            )
        return results


def sample_rows(probs: torch.Tensor, generator: torch.Generator, offset: int, total: int) -> torch.Tensor:
    """Rows ``offset .. offset + len(probs) - 1`` of ``torch.multinomial(full, 1, generator=generator)`` for a batch
    ``full`` of ``total`` rows of which ``probs`` are those rows: the draws of the whole batch are made (torch's
    one-sample multinomial is the race ``argmax p / q`` with ``q ~ Exp(1)``, one ``q`` per row and token) and these
    rows kept, so each data-parallel rank samples its rows exactly as one process sampling all of them would."""
    noise = torch.empty((total, probs.shape[-1]), dtype=probs.dtype, device=probs.device)
    noise.exponential_(1, generator=generator)
    return (probs / noise[offset : offset + probs.shape[0]]).argmax(dim=-1)


def pad_sequences(
    prompts: Sequence[Sequence[int]], responses: Sequence[Sequence[int]], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded ``input_ids``, ``attention_mask`` and a response mask aligned with next-token targets.

    ``response_mask[b, t]`` is 1 where ``input_ids[b, t + 1]`` is a response token (shape (B, L - 1)).
    """
    seqs = [list(p) + list(r) for p, r in zip(prompts, responses)]
    width = max(len(s) for s in seqs)
    rows = len(seqs)
    input_ids = torch.full((rows, width), pad_id, dtype=torch.long)
    attention = torch.zeros((rows, width), dtype=torch.long)
    response_mask = torch.zeros((rows, width - 1), dtype=torch.float32)
    for row, (prompt, response) in enumerate(zip(prompts, responses)):
        seq = list(prompt) + list(response)
        input_ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        attention[row, : len(seq)] = 1
        response_mask[row, len(prompt) - 1 : len(seq) - 1] = 1.0
    return input_ids, attention, response_mask


def token_logprobs(
    model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor:
    """log p(input_ids[:, t+1] | input_ids[:, :t+1]) for right-padded batches, shape (B, L - 1), float32.

    Large vocabularies take the chunked selective computation (:func:`pearbench.models.logprobs.selective_logprobs`:
    logit minus logsumexp, no full float32 log-softmax); small ones the plain ``log_softmax``. Under bf16 autocast
    the model's logits are bf16 and the log-prob arithmetic float32.
    """
    logits = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits
    return next_token_logprobs(logits, input_ids)


@torch.no_grad()
def score_responses(
    model: torch.nn.Module,
    prompts: Sequence[Sequence[int]],
    responses: Sequence[Sequence[int]],
    pad_id: int,
    *,
    batch_size: int = 64,
    dtype: str = "float32",
) -> list[list[float]]:
    """Per-token log-probs of each response under ``model`` (temperature 1), one forward pass over the sequence
    (under bf16 autocast with ``dtype="bfloat16"``)."""
    was_training = model.training
    model.eval()
    device = model_device(model)
    out: list[list[float]] = []
    try:
        for start in range(0, len(prompts), batch_size):
            p, r = prompts[start : start + batch_size], responses[start : start + batch_size]
            input_ids, attention, mask = pad_sequences(p, r, pad_id)
            with autocast(device, dtype):
                lp = token_logprobs(model, input_ids.to(device), attention.to(device)).cpu()
            for row in range(len(p)):
                begin = len(p[row]) - 1
                out.append(lp[row, begin : begin + len(r[row])].tolist())
    finally:
        model.train(was_training)
    return out


def sample_grouped(
    prompts: Sequence[Sequence[int]],
    *,
    n: int,
    config: GenerationConfig,
    seed: int,
    model: torch.nn.Module | None = None,
    tokenizer: Any = None,
    backend: GenerationBackend | None = None,
    progress: bool = False,
    desc: str = "sample",
) -> list[list[Sample]]:
    """``n`` samples per prompt, grouped by prompt (in prompt order), with a progress bar (rate and ETA).

    Sampled by ``backend`` when given, else by :class:`HFBackend` over ``model`` and ``tokenizer``.
    """
    from pearbench.logs import progress as progress_display

    if backend is None:
        backend = HFBackend(model, tokenizer)

    with progress_display(total=len(prompts) * n, desc=desc, enabled=progress, unit="sample") as bar:
        samples = backend.generate(prompts, n=n, config=config, seed=seed, progress=bar)
    grouped: list[list[Sample]] = [[] for _ in prompts]
    for sample in samples:
        grouped[sample.prompt_index].append(sample)
    return grouped
