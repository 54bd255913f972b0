"""The leaderboard data model: frozen dataclasses built by :mod:`pearbench.results.aggregate` and read by the
renderers (:mod:`pearbench.results.render_text`, :mod:`pearbench.results.render_html`) and the plots."""

from __future__ import annotations

from dataclasses import dataclass, field

#: the method every other method is compared with (post-RL difference, paired over problems)
BASELINE_LABEL = "sft"
#: the k of pass@k shown in the tables (and always computed)
HEADLINE_KS = (1, 8)
#: a seed "gained" from RL when its own gain in pass@1 is above this (a mean that is 0 in exact arithmetic can
#: come out as ±1e-17 in floating point)
GAIN_TOLERANCE = 1e-12

#: (column, where in a record, what): the per-method training diagnostics shown under the Markdown table
DIAGNOSTIC_COLUMNS = (
    ("ESS (last SFT step)", ("sft_diagnostics", "ess_fraction", "last"), "effective sample size / tokens"),
    ("mean weight", ("sft_diagnostics", "mean_weight", "mean"), "mean token weight over SFT"),
    ("δ at clip", ("sft_diagnostics", "delta_clip_fraction", "mean"), "share of δ at a clip bound"),
    (
        "log G at clip",
        ("sft_diagnostics", "log_weight_clip_fraction", "mean"),
        "share of log G at a clip bound",
    ),
    ("RL reward, first fifth", ("rl_summary", "reward_first"), "training reward, first fifth of RL steps"),
    ("RL reward, last fifth", ("rl_summary", "reward_last"), "training reward, last fifth of RL steps"),
    ("val reward before RL", ("rl_summary", "monitor_reward_start"), "reward on fixed validation prompts"),
    ("val reward after RL", ("rl_summary", "monitor_reward_end"), "reward on fixed validation prompts"),
)


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float


@dataclass(frozen=True)
class Comparison:
    """A paired difference over ``n_problems`` problems: method − sft at one stage (after SFT or after RL), or a
    method's RL gain (after RL − after SFT, :attr:`MethodRow.rl_gain`)."""

    diff: float
    low: float
    high: float
    p_value: float
    n_problems: int


@dataclass(frozen=True)
class MethodRow:
    method_label: str
    method: str
    sft_steps_factor: float
    seeds: tuple[int, ...]
    n_problems: int
    sft: dict[int, Estimate]  # k -> pass@k after the SFT stage (for "none": the base model)
    rl: dict[int, Estimate]  # k -> pass@k after RL
    vs_sft: dict[int, Comparison]  # k -> post-RL difference to the sft row (empty for sft itself)
    errors_sft: int
    errors_rl: int
    mismatch: float  # mean over seeds of mismatch.mean_log_ratio
    #: seed means of the SFT/RL diagnostics in DIAGNOSTIC_COLUMNS
    diagnostics: dict[str, float] = field(default_factory=dict)
    rank_sft: int | None = None
    rank_rl: int | None = None
    #: held-out math set -> "sft"/"rl" -> k -> seed-averaged pass@k (only sets every seed of the method has)
    heldout: dict[str, dict[str, dict[int, Estimate]]] = field(default_factory=dict)
    #: held-out math set -> number of problems in every seed and stage
    heldout_problems: dict[str, int] = field(default_factory=dict)
    #: k -> SFT-stage difference to the sft row's SFT stage (for "none": the base model; empty for sft itself)
    vs_sft_after_sft: dict[int, Comparison] = field(default_factory=dict)
    #: RL gain: post-RL minus SFT-stage pass@1 of this method, v_p(rl) − v_p(sft) over its problems (seeds averaged
    #: per problem), with a paired-bootstrap CI and p-value (for "none": RL minus the base model)
    rl_gain: Comparison | None = None
    #: each seed's own gain (mean over the row's problems of its pass@1 after RL minus after SFT), in ``seeds`` order
    rl_gain_per_seed: tuple[float, ...] = ()

    @property
    def seeds_gained(self) -> int:
        """How many seeds have a gain above :data:`GAIN_TOLERANCE`."""
        return sum(gain > GAIN_TOLERANCE for gain in self.rl_gain_per_seed)


@dataclass(frozen=True)
class ReferenceRow:
    name: str  # "base" or "teacher"
    n_problems: int
    evaluations: int  # distinct evaluations found in the records, averaged per problem
    metrics: dict[int, Estimate]
    errors: int


@dataclass(frozen=True)
class Example:
    method_label: str
    seed: int
    problem_id: str
    stage: str
    prompt: str
    completion: str
    correct: bool


@dataclass(frozen=True)
class Leaderboard:
    suite: str
    profile: str
    rows: tuple[MethodRow, ...]
    references: tuple[ReferenceRow, ...]
    kendall_tau: float | None
    n_records: int
    recipes_checked: bool
    eval_n: tuple[int, ...]
    temperature: float
    max_new_tokens: int
    notes: tuple[str, ...] = ()
    examples: tuple[Example, ...] = field(default=())
    #: held-out math sets found in the records, and the base model's pass@k on each (seed 0, shared by all runs)
    heldout_sets: tuple[str, ...] = ()
    heldout_base: dict[str, dict[int, Estimate]] = field(default_factory=dict)
    #: 95% bootstrap CI (low, high) of kendall_tau, problems resampled jointly across methods and seeds
    kendall_tau_ci: tuple[float, float] | None = None
