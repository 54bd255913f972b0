"""Probe a suite's PEAR weights before a sweep (docs/design.md §1, "Mismatch level"): ``pearbench suites probe``.

A mismatch-map level is meant to put PEAR's sequence weights somewhere; whether it does shows only once models are
trained. The probe runs the stages one run of a PEAR method needs up to its SFT (tasks, base, teacher, behavior data,
SFT; cached under ``--out`` exactly as ``pearbench run`` caches them, so a later run or sweep with the same ``--out``
reuses them) and reads, on the behavior traces:

- the mismatch the map reports (mean per-token log π₀ − log π_β, from the behavior stage);
- the ESS the map reports (``ess_fraction`` of the SFT batches: at step 1, mean over the SFT steps, last step);
- per game and for π₀ and the model after SFT: traces, mean response tokens, the mean and spread of the sequence
  log-weight ``log G = Σ_t clip(δ_t)`` (δ_t = log π(y_t) − log π_β(y_t), clipped with the method's ``delta_clip``),
  the share of tokens at the lower δ clip, and the ESS of the whole trace set weighted by its tokens.

A group whose weights are far below the others' removes about its share of the tokens from the ESS (ESS ≈ 1 − that
share when the other traces' weights are even): with even weights elsewhere, an ESS below 0.6 needs such a group to
hold over ~40% of the SFT tokens.

With the per-token δ clip, two traces' weights differ by ``e^(clip_low · Δn)`` when ``Δn`` more of one's tokens sit at
the lower clip: the per-game rows show where the spread comes from (trace length, or tokens the student has not yet
matched).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from pearbench.errors import PearbenchError


@dataclass(frozen=True)
class GroupWeights:
    """The sequence log-weights of one group of behavior traces under one model."""

    traces: int
    mean_tokens: float
    token_share: float  # the group's share of all response tokens of the set
    mean_log_weight: float  # mean over traces of log G (after the log-weight clip)
    std_log_weight: float
    lower_clip_share: float  # share of the group's tokens whose δ sits at the lower clip


@dataclass(frozen=True)
class ModelWeights:
    """The whole trace set under one model: its token-weighted ESS and the per-game groups."""

    ess: float  # (Σ_t w_t)² / Σ_t w_t² / N over every response token of the set
    mean_weight: float
    games: dict[str, GroupWeights]


@dataclass(frozen=True)
class ProbeResult:
    suite: str
    profile: str
    method: str
    seed: int
    mismatch: float  # |mean per-token log π₀ − log π_β| over the behavior traces (the map's mismatch)
    mean_response_tokens: float
    ess_first: float  # ess_fraction of SFT step 1 (the student is still π₀)
    ess_mean: float  # mean over the SFT steps (the map's ESS)
    ess_last: float
    ess_blocks: tuple[float, ...]  # mean ess_fraction over consecutive tenths of SFT
    delta_clip: tuple[float, float]
    pi0: ModelWeights
    sft: ModelWeights

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def trace_weights(
    logprobs: list[list[float]],
    rows: list[dict[str, Any]],
    games: list[str],
    *,
    delta_clip: tuple[float, float],
    log_weight_clip: tuple[float, float],
) -> ModelWeights:
    """Sequence-level PEAR weights of ``rows`` under a model whose per-token log-probs are ``logprobs``."""
    import torch

    from pearbench.train.weights import pear_weights

    low = delta_clip[0]
    at_low, lengths = [], []
    for lp, row in zip(logprobs, rows, strict=True):
        delta = np.asarray(lp, dtype=np.float64) - np.asarray(row["behavior_logprobs"], dtype=np.float64)
        if not np.all(np.isfinite(delta)):
            raise PearbenchError("probe: a trace's log-probs are not finite")
        at_low.append(int(np.sum(delta <= low)))
        lengths.append(len(delta))
    # the sequence weights as training computes them: every response token of a row carries the row's weight Ĝ
    width = max(max(lengths, default=0), 1)
    current = torch.zeros((len(rows), width), dtype=torch.float64)
    behavior = torch.zeros_like(current)
    mask = torch.zeros_like(current)
    for i, (lp, row) in enumerate(zip(logprobs, rows)):
        current[i, : len(lp)] = torch.tensor(lp, dtype=torch.float64)
        behavior[i, : len(lp)] = torch.tensor(row["behavior_logprobs"], dtype=torch.float64)
        mask[i, : len(lp)] = 1.0
    seq = pear_weights(
        current, behavior, mask, level="seq", delta_clip=delta_clip, log_weight_clip=log_weight_clip
    )
    lengths_arr, at_low_arr = np.asarray(lengths), np.asarray(at_low)
    log_g_arr = np.zeros(len(rows))  # a row without response tokens: log G = 0, an empty sum
    filled = lengths_arr > 0
    log_g_arr[filled] = np.log(seq[torch.from_numpy(filled), 0].numpy())
    weights = np.exp(log_g_arr)
    tokens = float(lengths_arr.sum())
    if tokens == 0:
        raise PearbenchError("probe: the behavior traces have no response tokens")
    weight_sum = float(np.sum(weights * lengths_arr))
    weight_sq = float(np.sum(weights**2 * lengths_arr))
    names = np.asarray(games)
    groups = {}
    for game in sorted(set(games)):
        mine = names == game
        groups[game] = GroupWeights(
            traces=int(mine.sum()),
            mean_tokens=float(lengths_arr[mine].mean()),
            token_share=float(lengths_arr[mine].sum() / tokens),
            mean_log_weight=float(log_g_arr[mine].mean()),
            std_log_weight=float(log_g_arr[mine].std()),
            lower_clip_share=float(at_low_arr[mine].sum() / max(lengths_arr[mine].sum(), 1)),
        )
    return ModelWeights(ess=weight_sum**2 / weight_sq / tokens, mean_weight=weight_sum / tokens, games=groups)


def _blocks(values: list[float], parts: int = 10) -> tuple[float, ...]:
    chunks = np.array_split(np.asarray(values, dtype=np.float64), min(parts, len(values)))
    return tuple(float(chunk.mean()) for chunk in chunks if len(chunk))


def probe_suite(
    suite: str | None,
    *,
    profile: str = "small",
    config_file: str | None = None,
    method: str = "pear-seq",
    seed: int = 0,
    out: str = "runs",
    progress: bool = True,
) -> ProbeResult:
    """Run ``method``'s stages up to its SFT (cached under ``out``) and read its weights; see the module docstring."""
    from pearbench.harness import stages
    from pearbench.harness.runner import Harness, RunRequest
    from pearbench.models.generation import score_responses
    from pearbench.train.options import PearSeqOptions
    from pearbench.train.weights import check_clip

    harness = Harness(
        RunRequest(
            method=method,
            suite=suite,
            seed=seed,
            profile=profile,
            config_file=config_file,
            out=out,
            progress=progress,
        )
    )
    ctx = harness.ctx
    if not isinstance(ctx.options, PearSeqOptions):
        raise PearbenchError(
            f"suites probe: method {ctx.label!r} has no PEAR weights; probe a pear-* method (default: pear-seq)"
        )
    delta_clip = check_clip("delta_clip", ctx.options.delta_clip)
    log_weight_clip = check_clip("log_weight_clip", ctx.options.log_weight_clip)
    shared = harness.shared_stages(reference=False)
    behavior = shared["behavior"]
    base_dir, base_stage = shared["base"]
    sft_dir, _, log = stages.sft(ctx, ctx.tokenizer, base_dir, base_stage, behavior)
    ess = [float(entry["ess_fraction"]) for entry in log if "ess_fraction" in entry]
    if not ess:
        raise PearbenchError(
            "suites probe: the SFT log has no ess_fraction (was the SFT stage run by this method?)"
        )
    rows = behavior["rows"]
    games = [str(row["env"]) for row in rows]

    def weights_of(model_dir) -> ModelWeights:
        model, _ = stages._load(ctx, model_dir)
        logprobs = score_responses(
            model,
            [r["prompt_ids"] for r in rows],
            [r["response_ids"] for r in rows],
            ctx.tokenizer.pad_token_id,
            dtype=ctx.profile.models.dtype,
        )
        return trace_weights(logprobs, rows, games, delta_clip=delta_clip, log_weight_clip=log_weight_clip)

    stats = behavior["stats"]
    return ProbeResult(
        suite=ctx.suite.name,
        profile=ctx.profile.name,
        method=ctx.label,
        seed=seed,
        mismatch=abs(float(stats["mean_log_ratio"])),
        mean_response_tokens=float(stats["mean_response_tokens"]),
        ess_first=ess[0],
        ess_mean=float(np.mean(ess)),
        ess_last=ess[-1],
        ess_blocks=_blocks(ess),
        delta_clip=delta_clip,
        pi0=weights_of(base_dir),
        sft=weights_of(sft_dir),
    )


def probe_text(result: ProbeResult) -> str:
    """The probe as the command prints it."""
    low = result.delta_clip[0]
    lines = [
        f"suite {result.suite} (profile {result.profile}, {result.method}, seed {result.seed})",
        f"mismatch |mean log pi_0 - log pi_beta| = {result.mismatch:.3f} per token over the behavior traces "
        f"({result.mean_response_tokens:.1f} response tokens each on average)",
        f"SFT-batch ESS: step 1 {result.ess_first:.3f}, mean over SFT {result.ess_mean:.3f} (the map's ESS), "
        f"last {result.ess_last:.3f}",
        "  by tenths of SFT: " + " ".join(f"{v:.2f}" for v in result.ess_blocks),
        f"sequence log-weights log G of the behavior traces (delta clipped at [{low:g}, {result.delta_clip[1]:g}]):",
    ]
    for tag, weights in (("pi_0", result.pi0), ("after SFT", result.sft)):
        lines.append(
            f"  {tag}: ESS of the whole set {weights.ess:.3f}, mean weight {weights.mean_weight:.3f}"
        )
        for game, group in weights.games.items():
            lines.append(
                f"    {game}: {group.traces} traces, {group.mean_tokens:.1f} tokens each "
                f"({100 * group.token_share:.0f}% of the tokens), log G "
                f"{group.mean_log_weight:+.2f} (sd {group.std_log_weight:.2f}), "
                f"{100 * group.lower_clip_share:.0f}% of tokens at the lower clip"
            )
    lines.append(
        f"(two traces' weights differ by e^({-low:g} * n) when n more of one's tokens sit at the lower clip: "
        f"an ESS below 0.6 between two equal groups needs weights ~11x apart, n ~ {math.log(11) / -low:.0f})"
        if low < 0
        else ""
    )
    return "\n".join(line for line in lines if line)
