"""The text of leaderboard tables, shared by every renderer: number formats, column headers, the cells of each
row, the legend and the Kendall's τ-b line. The renderers only escape and lay out these strings."""

from __future__ import annotations

from pearbench.metrics import N_BOOTSTRAP
from pearbench.results.model import (
    BASELINE_LABEL,
    HEADLINE_KS,
    Comparison,
    Estimate,
    Leaderboard,
    MethodRow,
    ReferenceRow,
)

COLUMNS = (
    "RL rank",
    "SFT rank",
    "method",
    "seeds",
    "problems",
    "SFT pass@1",
    "SFT pass@8",
    "RL pass@1",
    "RL pass@8",
    "Δ RL pass@1 vs sft",
    "p (pass@1)",
    "Δ RL pass@8 vs sft",
    "p (pass@8)",
    "errors SFT/RL",
)
REFERENCE_COLUMNS = ("model", "evaluations", "problems", "pass@1", "pass@8", "errors")
REFERENCE_NAMES = {"base": "base model (π₀)", "teacher": "teacher (π_β)"}
HELDOUT_COLUMNS = ("method", "problems", *(f"{s} pass@{k}" for s in ("SFT", "RL") for k in HEADLINE_KS))
RL_GAIN_TITLE = (
    "RL gain (pass@1 after RL minus after SFT, same method; seeds averaged per problem, paired bootstrap over "
    "problems)"
)
RL_GAIN_COLUMNS = ("method", "seeds", "gain [95% CI]", "p", "per-seed gains", "seeds that gained", "reading")
RL_GAIN_NO_IMPROVEMENT = "RL did not improve pass@1 beyond noise (CI includes 0)"


def fmt(value: float) -> str:
    """3 decimals, never "-0.000"."""
    text = f"{value:.3f}"
    return "0.000" if text == "-0.000" else text


def fmt_signed(value: float) -> str:
    text = f"{value:+.3f}"
    return "+0.000" if text in ("-0.000", "+0.000") else text


def fmt_ci(estimate: Estimate | None) -> str:
    """``0.412 [0.361, 0.466]``; an em dash when undefined."""
    if estimate is None:
        return "—"
    return f"{fmt(estimate.value)} [{fmt(estimate.low)}, {fmt(estimate.high)}]"


def fmt_diff(comparison: Comparison | None) -> str:
    if comparison is None:
        return "—"
    return f"{fmt_signed(comparison.diff)} [{fmt_signed(comparison.low)}, {fmt_signed(comparison.high)}]"


def fmt_p(comparison: Comparison | None) -> str:
    """The p-value to 3 decimals; below the bootstrap's resolution (2/resamples) it reads ``<0.001``."""
    if comparison is None:
        return "—"
    if comparison.p_value < 2.0 / N_BOOTSTRAP:
        return "<0.001"
    return fmt(comparison.p_value)


def _rank(rank: int | None) -> str:
    return "—" if rank is None else str(rank)


def method_cells(row: MethodRow) -> list[str]:
    """The cells of a method's row under :data:`COLUMNS`."""
    baseline = row.method_label == BASELINE_LABEL
    return [
        _rank(row.rank_rl),
        _rank(row.rank_sft),
        row.method_label,
        str(len(row.seeds)),
        str(row.n_problems),
        fmt_ci(row.sft.get(1)),
        fmt_ci(row.sft.get(8)),
        fmt_ci(row.rl.get(1)),
        fmt_ci(row.rl.get(8)),
        "(reference)" if baseline else fmt_diff(row.vs_sft.get(1)),
        "" if baseline else fmt_p(row.vs_sft.get(1)),
        "(reference)" if baseline else fmt_diff(row.vs_sft.get(8)),
        "" if baseline else fmt_p(row.vs_sft.get(8)),
        f"{row.errors_sft}/{row.errors_rl}",
    ]


def reference_cells(ref: ReferenceRow) -> list[str]:
    """The cells of a reference model's row under :data:`REFERENCE_COLUMNS`."""
    return [
        REFERENCE_NAMES.get(ref.name, ref.name),
        str(ref.evaluations),
        str(ref.n_problems),
        fmt_ci(ref.metrics.get(1)),
        fmt_ci(ref.metrics.get(8)),
        str(ref.errors),
    ]


def heldout_rows(board: Leaderboard, name: str) -> list[list[str]]:
    """Rows of the held-out table of one set: the base model first (no SFT/RL: its scores in the SFT columns)."""
    rows = []
    base = board.heldout_base.get(name)
    if base:
        rows.append(
            ["base (π₀)", "", *(fmt_ci(base.get(k)) for k in HEADLINE_KS), *("—" for _ in HEADLINE_KS)]
        )
    for row in board.rows:
        if name in row.heldout:
            cells = [fmt_ci(row.heldout[name][stage].get(k)) for stage in ("sft", "rl") for k in HEADLINE_KS]
            rows.append([row.method_label, str(row.heldout_problems[name]), *cells])
    return rows


def rl_gain_reading(gain: Comparison | None) -> str:
    """The plain reading of an RL gain: improved (CI above 0), lowered (CI below 0), or not beyond noise."""
    if gain is None:
        return "—"
    if gain.low > 0.0:
        return "RL improved pass@1 (CI above 0)"
    if gain.high < 0.0:
        return "RL lowered pass@1 (CI below 0)"
    return RL_GAIN_NO_IMPROVEMENT


def rl_gain_cells(row: MethodRow) -> list[str]:
    """The cells of a method's row under :data:`RL_GAIN_COLUMNS`."""
    per_seed = ", ".join(f"s{seed} {fmt_signed(g)}" for seed, g in zip(row.seeds, row.rl_gain_per_seed))
    gained = f"{row.seeds_gained}/{len(row.rl_gain_per_seed)}" if row.rl_gain_per_seed else "—"
    return [
        row.method_label,
        str(len(row.seeds)),
        fmt_diff(row.rl_gain),
        fmt_p(row.rl_gain),
        per_seed or "—",
        gained,
        rl_gain_reading(row.rl_gain),
    ]


def rl_gain_legend() -> list[str]:
    """The lines under the RL gain table."""
    return [
        "gain: mean over the method's problems (those of the main table) of v_p(RL) − v_p(SFT), v_p the pass@1 of "
        "problem p averaged over seeds; for none the SFT stage is the base model. Brackets: paired-bootstrap 95% "
        f"CI over problems ({N_BOOTSTRAP:,} resamples, fixed seed); p: two-sided paired-bootstrap p-value.",
        "per-seed gains: each seed's mean over the same problems of its pass@1 after RL minus after SFT (no CI; "
        "they average to the gain); seeds that gained: seeds with a gain above 0. reading: whether the CI lies "
        "above 0, below 0, or includes 0.",
    ]


def legend(board: Leaderboard) -> list[str]:
    """The lines under each table: what the columns mean and how the CIs are computed."""
    n_text = "/".join(str(n) for n in board.eval_n)
    return [
        f"{board.n_records} records; eval: n={n_text} samples per problem, temperature {board.temperature:g}, "
        f"max {board.max_new_tokens} new tokens.",
        "SFT / RL pass@k: unbiased pass@k after the SFT stage (for none: the base model) and after the identical RL "
        "stage; per problem from (n, c) of each seed, averaged over seeds per problem first, then over problems. "
        f"Brackets: 95% percentile-bootstrap CI over problems ({N_BOOTSTRAP:,} resamples, fixed seed).",
        "problems: test problems present in every seed of the method at both stages. Δ vs sft: post-RL difference "
        "to the sft row, paired over only the problems present in every seed of both methods; brackets: "
        "paired-bootstrap 95% CI; p: two-sided paired-bootstrap p-value.",
        "Ranks by pass@1 (ties share a rank); Kendall's τ-b compares the SFT-stage and post-RL rankings. Rows "
        "sorted by RL pass@1, then SFT pass@1 (both descending), then method. errors: verifier errors (counted as "
        "incorrect), summed over seeds and problems.",
    ]


def tau_text(board: Leaderboard) -> str:
    """The Kendall's τ-b sentence (without the final full stop)."""
    counted = sum(1 for row in board.rows if 1 in row.sft and 1 in row.rl)
    value = "undefined" if board.kendall_tau is None else fmt_signed(board.kendall_tau)
    if board.kendall_tau is not None and board.kendall_tau_ci is not None:
        low, high = board.kendall_tau_ci
        value += (
            f", 95% CI [{fmt_signed(low)}, {fmt_signed(high)}] (percentile bootstrap, {N_BOOTSTRAP:,} "
            "resamples, fixed seed: problems resampled jointly across methods and seeds, rankings recomputed)"
        )
    return f"Kendall's τ-b between the SFT-stage and post-RL rankings by pass@1 ({counted} methods): {value}"
