"""Leaderboards from result records (DESIGN §6): statistics, then Markdown / CSV / LaTeX / HTML renderers.

One leaderboard per suite (and profile): one row per ``method_label``. Statistics, all byte-stable:

- per problem p and seed s, unbiased pass@k from (n, c); per problem the mean over seeds,
  v_p = (1/S) Σ_s pass@k(n_sp, c_sp); the score is mean_p v_p with a 95% percentile-bootstrap CI over problems
  (:func:`pearbench.metrics.bootstrap_ci`, 2,000 resamples, fixed seed). Problems are sorted by (env, id) first, so the
  resampling is the same in every run.
- a method's problems: those present in every seed of that method at both stages;
- post-RL difference to ``sft``: :func:`pearbench.metrics.paired_bootstrap` of v_p(method) − v_p(sft) over the
  problems present in every seed of both methods (two-sided p-value);
- rankings by pass@1 (competition ranking: ties share the best rank) at the SFT stage and after RL, and Kendall's
  τ-b between the two (:func:`kendall_tau_b`).

Rows are sorted by post-RL pass@1 descending, then SFT-stage pass@1 descending, then method_label.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from pearbench.errors import PearbenchError, unknown
from pearbench.hashing import canonical_json
from pearbench.metrics import N_BOOTSTRAP, bootstrap_ci, paired_bootstrap, pass_at_k

BASELINE_LABEL = "sft"
HEADLINE_KS = (1, 8)
FORMATS = {"md": "md", "csv": "csv", "tex": "tex", "html": "html"}
MAX_EXAMPLES_PER_METHOD = 4
MAX_EXAMPLE_CHARS = 4000

ProblemKey = tuple[str, str]  # (env, id)
OutcomeTable = dict[ProblemKey, tuple[int, int]]  # problem -> (n, c)


# --------------------------------------------------------------------------------------------------------------
# Pure statistics


def outcome_table(outcomes: Sequence[Mapping[str, Any]]) -> OutcomeTable:
    """(env, id) -> (n, c) for one record stage's outcomes."""
    return {(o["env"], o["id"]): (int(o["n"]), int(o["c"])) for o in outcomes}


def common_problems(tables: Sequence[Mapping[ProblemKey, Any]]) -> list[ProblemKey]:
    """Problems present in every table, sorted by (env, id)."""
    if not tables:
        return []
    keys = set(tables[0])
    for table in tables[1:]:
        keys &= set(table)
    return sorted(keys)


def seed_averaged_pass_at_k(
    tables: Sequence[OutcomeTable], problems: Sequence[ProblemKey], k: int
) -> np.ndarray | None:
    """Per problem p: v_p = (1/S) Σ_{s=1..S} pass@k(n_sp, c_sp) over the S tables (seeds), in ``problems`` order.

    None when some problem has fewer than k samples in some table (pass@k is undefined there).
    """
    values = np.zeros(len(problems), dtype=np.float64)
    for table in tables:
        for i, key in enumerate(problems):
            n, c = table[key]
            if k > n:
                return None
            values[i] += pass_at_k(n, c, k)
    return values / len(tables)


def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's τ-b of two paired samples, with ties.

    τ_b = (C − D) / sqrt((P − T_x)(P − T_y)), P = n(n−1)/2 pairs, C/D the concordant/discordant pairs, T_x (T_y)
    the pairs tied in x (in y), pairs tied in both counted in both. None when fewer than two items or when one
    sample is constant (the denominator is 0).
    """
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("kendall_tau_b needs two equal-length 1-D sequences")
    if a.size < 2:
        return None
    upper = np.triu_indices(a.size, k=1)
    sign_x = np.sign(a[:, None] - a[None, :])[upper]
    sign_y = np.sign(b[:, None] - b[None, :])[upper]
    pairs = sign_x.size
    tied_x = int(np.count_nonzero(sign_x == 0))
    tied_y = int(np.count_nonzero(sign_y == 0))
    denominator = math.sqrt((pairs - tied_x) * (pairs - tied_y))
    if denominator == 0:
        return None
    return float(np.sum(sign_x * sign_y)) / denominator


def competition_ranks(values: Sequence[float]) -> list[int]:
    """Rank 1 = highest; ties share the best rank ("1224" ranking): rank_i = 1 + #{j: v_j > v_i}."""
    return [1 + sum(1 for other in values if other > value) for value in values]


# --------------------------------------------------------------------------------------------------------------
# The leaderboard data


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float


@dataclass(frozen=True)
class Comparison:
    """Paired post-RL difference method − sft over ``n_problems`` shared problems."""

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
    diagnostics: dict[str, float] = field(
        default_factory=dict
    )  # seed means of SFT/RL diagnostics (see below)
    rank_sft: int | None = None
    rank_rl: int | None = None
    #: held-out math set -> "sft"/"rl" -> k -> seed-averaged pass@k (only sets every seed of the method has)
    heldout: dict[str, dict[str, dict[int, Estimate]]] = field(default_factory=dict)
    #: held-out math set -> number of problems in every seed and stage
    heldout_problems: dict[str, int] = field(default_factory=dict)


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


def _estimates(
    tables: Sequence[OutcomeTable], problems: Sequence[ProblemKey], ks: Sequence[int]
) -> dict[int, Estimate]:
    result = {}
    for k in ks:
        values = seed_averaged_pass_at_k(tables, problems, k)
        if values is not None:
            result[k] = Estimate(*bootstrap_ci(values))
    return result


def _single(values: set[Any], what: str, suite: str) -> Any:
    if len(values) != 1:
        shown = ", ".join(sorted(str(v) for v in values))
        raise PearbenchError(
            f"records of suite {suite!r} disagree on {what} ({shown}); they cannot share one leaderboard"
        )
    return next(iter(values))


def _examples(records: Sequence[Mapping[str, Any]]) -> tuple[Example, ...]:
    picked: list[Example] = []
    per_label: dict[str, int] = {}
    for record in sorted(records, key=lambda r: (r["method_label"], r["seed"])):
        for example in record["examples"]:
            label = record["method_label"]
            if per_label.get(label, 0) >= MAX_EXAMPLES_PER_METHOD:
                break
            per_label[label] = per_label.get(label, 0) + 1
            picked.append(
                Example(
                    method_label=label,
                    seed=record["seed"],
                    problem_id=example["id"],
                    stage=example["stage"],
                    prompt=example["prompt"],
                    completion=example["completion"],
                    correct=example["correct"],
                )
            )
    return tuple(picked)


def _references(
    records: Sequence[Mapping[str, Any]], ks: Sequence[int], notes: list[str]
) -> tuple[ReferenceRow, ...]:
    rows = []
    for name in ("base", "teacher"):
        distinct: dict[str, list[Mapping[str, Any]]] = {}
        for record in records:
            entry = record.get("reference", {}).get(name)
            if entry is not None:
                outcomes = sorted(entry["outcomes"], key=lambda o: (o["env"], o["id"]))
                distinct.setdefault(canonical_json(outcomes), outcomes)
        if not distinct:
            continue
        copies = [distinct[key] for key in sorted(distinct)]
        tables = [outcome_table(outcomes) for outcomes in copies]
        problems = common_problems(tables)
        if not problems:
            notes.append(f"reference {name}: its evaluations share no problem; not shown")
            continue
        if len(copies) > 1:
            notes.append(
                f"reference {name}: {len(copies)} distinct evaluations in the records, averaged per problem"
            )
        errors = sum(
            o["errors"] for outcomes in copies for o in outcomes if (o["env"], o["id"]) in set(problems)
        )
        rows.append(ReferenceRow(name, len(problems), len(copies), _estimates(tables, problems, ks), errors))
    return tuple(rows)


def _heldout_table(entry: Mapping[str, Any], name: str) -> OutcomeTable:
    """A held-out set's per-problem outcomes in a record as an outcome table keyed ``(set name, id)``."""
    return outcome_table([{**o, "env": name} for o in entry.get("outcomes", ())])


def _heldout_conflicts(records: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Held-out sets whose records disagree on the generation settings (n, tokens, limit, ...): set -> variants."""
    settings: dict[str, set[str]] = {}
    for record in records:
        for name, by_model in (record.get("heldout") or {}).items():
            for entry in by_model.values():
                settings.setdefault(name, set()).add(canonical_json(entry.get("generation")))
    return {name: len(found) for name, found in settings.items() if len(found) > 1}


def _heldout_estimates(
    group: Sequence[Mapping[str, Any]], ks: Sequence[int], skip: Collection[str] = ()
) -> tuple[dict[str, dict[str, dict[int, Estimate]]], dict[str, int]]:
    """Seed-averaged pass@k after SFT and after RL on every held-out set that all records of ``group`` have."""
    names = set.intersection(*(set(r.get("heldout") or {}) for r in group)) if group else set()
    names -= set(skip)
    estimates: dict[str, dict[str, dict[int, Estimate]]] = {}
    counts: dict[str, int] = {}
    for name in sorted(names):
        per_stage = {}
        tables = {
            stage: [_heldout_table(r["heldout"][name].get(stage, {}), name) for r in group]
            for stage in ("sft", "rl")
        }
        problems = common_problems(tables["sft"] + tables["rl"])
        if not problems:
            continue
        for stage in ("sft", "rl"):
            per_stage[stage] = _estimates(tables[stage], problems, ks)
        estimates[name] = per_stage
        counts[name] = len(problems)
    return estimates, counts


def _heldout_base(
    records: Sequence[Mapping[str, Any]], ks: Sequence[int], skip: Collection[str] = ()
) -> dict[str, dict[int, Estimate]]:
    out = {}
    names = sorted({name for r in records for name in (r.get("heldout") or {})} - set(skip))
    for name in names:
        distinct = {}
        for record in records:
            entry = (record.get("heldout") or {}).get(name, {}).get("base")
            if entry and entry.get("outcomes"):
                outcomes = sorted(entry["outcomes"], key=lambda o: o["id"])
                distinct.setdefault(canonical_json(outcomes), entry)
        tables = [_heldout_table(distinct[key], name) for key in sorted(distinct)]
        problems = common_problems(tables)
        if problems:
            out[name] = _estimates(tables, problems, ks)
    return out


def build_leaderboard(
    records: Sequence[Mapping[str, Any]], *, recipes_checked: bool = True, progress: bool | None = None
) -> Leaderboard:
    """The leaderboard of one suite and profile from its (already validated) records."""
    if not records:
        raise PearbenchError("no records to build a leaderboard from")
    suite = _single({r["suite"] for r in records}, "the suite", records[0]["suite"])
    profile = _single({r["profile"] for r in records}, "the profile (pick one with --profile)", suite)
    temperature = _single({r["eval"]["temperature"] for r in records}, "eval.temperature", suite)
    max_new_tokens = _single({r["eval"]["max_new_tokens"] for r in records}, "eval.max_new_tokens", suite)
    _single({r["rl_recipe_hash"] for r in records}, "rl_recipe_hash (the RL recipe)", suite)
    ks = sorted(set(HEADLINE_KS) | {k for r in records for k in r["eval"]["ks"]})
    notes: list[str] = []
    conflicts = _heldout_conflicts(records)
    for name, variants in sorted(conflicts.items()):
        notes.append(
            f"held-out set {name}: the records use {variants} different generation settings; not shown"
        )

    by_label: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        by_label.setdefault(record["method_label"], []).append(record)
    tables: dict[str, dict[str, list[OutcomeTable]]] = {}
    problems_of: dict[str, list[ProblemKey]] = {}
    rows: list[MethodRow] = []
    for label in tqdm(
        sorted(by_label),
        desc=f"leaderboard {suite}",
        unit="method",
        disable=None if progress is None else not progress,
    ):
        group = sorted(by_label[label], key=lambda r: r["seed"])
        method = _single({r["method"] for r in group}, f"the method of label {label!r}", suite)
        factor = _single(
            {float(r["sft_steps_factor"]) for r in group}, f"sft_steps_factor of label {label!r}", suite
        )
        tables[label] = {
            stage: [outcome_table(r["outcomes"][stage]) for r in group] for stage in ("sft", "rl")
        }
        problems = common_problems(tables[label]["sft"] + tables[label]["rl"])
        if not problems:
            raise PearbenchError(
                f"suite {suite!r}, method {label!r}: no test problem is present in every seed and stage"
            )
        problems_of[label] = problems
        kept = set(problems)
        rows.append(
            MethodRow(
                method_label=label,
                method=method,
                sft_steps_factor=factor,
                seeds=tuple(r["seed"] for r in group),
                n_problems=len(problems),
                sft=_estimates(tables[label]["sft"], problems, ks),
                rl=_estimates(tables[label]["rl"], problems, ks),
                vs_sft={},
                errors_sft=sum(
                    o["errors"] for r in group for o in r["outcomes"]["sft"] if (o["env"], o["id"]) in kept
                ),
                errors_rl=sum(
                    o["errors"] for r in group for o in r["outcomes"]["rl"] if (o["env"], o["id"]) in kept
                ),
                mismatch=float(np.mean([r["mismatch"]["mean_log_ratio"] for r in group])),
                diagnostics=_diagnostics(group),
                heldout=(held := _heldout_estimates(group, HEADLINE_KS, conflicts))[0],
                heldout_problems=held[1],
            )
        )

    if BASELINE_LABEL in tables:
        baseline = tables[BASELINE_LABEL]["rl"]
        for i, row in enumerate(rows):
            if row.method_label == BASELINE_LABEL:
                continue
            shared = sorted(set(problems_of[row.method_label]) & set(problems_of[BASELINE_LABEL]))
            if not shared:
                notes.append(
                    f"{row.method_label}: no problem shared with every seed of sft; no difference computed"
                )
                continue
            if len(shared) < max(row.n_problems, len(problems_of[BASELINE_LABEL])):
                notes.append(
                    f"{row.method_label}: compared with sft on the {len(shared)} problems both have in every seed"
                )
            comparisons = {}
            for k in HEADLINE_KS:
                mine = seed_averaged_pass_at_k(tables[row.method_label]["rl"], shared, k)
                theirs = seed_averaged_pass_at_k(baseline, shared, k)
                if mine is not None and theirs is not None:
                    stats = paired_bootstrap(mine, theirs)
                    comparisons[k] = Comparison(
                        stats["diff"], stats["low"], stats["high"], stats["p_value"], len(shared)
                    )
            rows[i] = _replace(row, vs_sft=comparisons)
    else:
        notes.append(f"no {BASELINE_LABEL!r} row: differences to sft are not computed")

    for stage in ("sft", "rl"):
        ranked = [i for i, row in enumerate(rows) if 1 in getattr(row, stage)]
        ranks = competition_ranks([getattr(rows[i], stage)[1].value for i in ranked])
        for i, rank in zip(ranked, ranks):
            rows[i] = _replace(rows[i], **{f"rank_{stage}": rank})
    both = [row for row in rows if 1 in row.sft and 1 in row.rl]
    tau = kendall_tau_b([row.sft[1].value for row in both], [row.rl[1].value for row in both])

    eval_n = tuple(sorted({o["n"] for r in records for stage in ("sft", "rl") for o in r["outcomes"][stage]}))
    for k in HEADLINE_KS:
        missing = [row.method_label for row in rows if k not in row.rl or k not in row.sft]
        if missing:
            notes.append(
                f"pass@{k} is undefined (fewer than {k} samples on some problem) for: {', '.join(missing)}"
            )
    if not recipes_checked:
        notes.append("recipe hashes were NOT checked against the committed recipes")

    rows.sort(key=_row_sort_key)
    return Leaderboard(
        suite=suite,
        profile=profile,
        rows=tuple(rows),
        references=_references(records, ks, notes),
        kendall_tau=tau,
        n_records=len(records),
        recipes_checked=recipes_checked,
        eval_n=eval_n,
        temperature=float(temperature),
        max_new_tokens=int(max_new_tokens),
        notes=tuple(notes),
        examples=_examples(records),
        heldout_sets=tuple(sorted({name for row in rows for name in row.heldout})),
        heldout_base=_heldout_base(records, HEADLINE_KS, conflicts),
    )


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


def _dig(record: Mapping[str, Any], path: Sequence[str]) -> float | None:
    value: Any = record
    for key in path:
        if not isinstance(value, Mapping) or value.get(key) is None:
            return None
        value = value[key]
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _diagnostics(group: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Seed means of the diagnostics in DIAGNOSTIC_COLUMNS (a column is left out when a seed lacks it)."""
    out = {}
    for column, path, _ in DIAGNOSTIC_COLUMNS:
        values = [_dig(r, path) for r in group]
        if values and all(v is not None for v in values):
            out[column] = float(np.mean(values))
    return out


def _replace(row: MethodRow, **changes: Any) -> MethodRow:
    values = {name: getattr(row, name) for name in row.__dataclass_fields__}
    values.update(changes)
    return MethodRow(**values)


def _row_sort_key(row: MethodRow) -> tuple[float, float, str]:
    """Post-RL pass@1 descending, then SFT-stage pass@1 descending, then method_label (missing scores last)."""
    rl = row.rl[1].value if 1 in row.rl else -math.inf
    sft = row.sft[1].value if 1 in row.sft else -math.inf
    return (-rl, -sft, row.method_label)


def build_leaderboards(
    records: Sequence[Mapping[str, Any]],
    *,
    suite: str | None = None,
    profile: str | None = None,
    recipes_checked: bool = True,
    progress: bool | None = None,
) -> list[Leaderboard]:
    """One leaderboard per suite (sorted by suite name), optionally only ``suite`` and only ``profile``."""
    suites = sorted({r["suite"] for r in records})
    if suite is not None and suite not in suites:
        raise unknown("suite", suite, suites)
    if profile is not None:
        profiles = sorted({r["profile"] for r in records if suite is None or r["suite"] == suite})
        if profile not in profiles:
            raise unknown("profile", profile, profiles)
    boards = []
    for name in [suite] if suite is not None else suites:
        chosen = [r for r in records if r["suite"] == name and (profile is None or r["profile"] == profile)]
        if not chosen:
            continue
        profiles = sorted({r["profile"] for r in chosen})
        if len(profiles) > 1:
            raise PearbenchError(
                f"suite {name!r} has records from several profiles ({', '.join(profiles)}); pick one with --profile"
            )
        boards.append(build_leaderboard(chosen, recipes_checked=recipes_checked, progress=progress))
    return boards


# --------------------------------------------------------------------------------------------------------------
# Formatting


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


def _cells(row: MethodRow) -> list[str]:
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
        fmt_diff(row.vs_sft.get(1)) if row.method_label != BASELINE_LABEL else "(reference)",
        fmt_p(row.vs_sft.get(1)) if row.method_label != BASELINE_LABEL else "",
        fmt_diff(row.vs_sft.get(8)) if row.method_label != BASELINE_LABEL else "(reference)",
        fmt_p(row.vs_sft.get(8)) if row.method_label != BASELINE_LABEL else "",
        f"{row.errors_sft}/{row.errors_rl}",
    ]


def _reference_cells(ref: ReferenceRow) -> list[str]:
    return [
        REFERENCE_NAMES.get(ref.name, ref.name),
        str(ref.evaluations),
        str(ref.n_problems),
        fmt_ci(ref.metrics.get(1)),
        fmt_ci(ref.metrics.get(8)),
        str(ref.errors),
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


def _tau_text(board: Leaderboard) -> str:
    counted = sum(1 for row in board.rows if 1 in row.sft and 1 in row.rl)
    value = "undefined" if board.kendall_tau is None else fmt_signed(board.kendall_tau)
    return f"Kendall's τ-b between the SFT-stage and post-RL rankings by pass@1 ({counted} methods): {value}"


def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]], text_column: int) -> list[str]:
    align = ["---" if i == text_column else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(_md_escape(h) for h in header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
    return lines


HELDOUT_COLUMNS = ("method", "problems", *(f"{s} pass@{k}" for s in ("SFT", "RL") for k in HEADLINE_KS))


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


def render_markdown(boards: Sequence[Leaderboard]) -> str:
    """Markdown: per suite a heading, the table, Kendall's τ-b, the legend, reference models and notes."""
    parts = []
    for board in boards:
        lines = [f"## {_md_escape(board.suite)} (profile {_md_escape(board.profile)})", ""]
        lines += _md_table(COLUMNS, [_cells(row) for row in board.rows], text_column=2)
        lines += ["", _tau_text(board) + ".", ""]
        lines += [f"- {_md_escape(item)}" for item in legend(board)]
        if board.references:
            lines += ["", "Reference models (evaluated once per suite, no SFT or RL stage):", ""]
            lines += _md_table(
                REFERENCE_COLUMNS, [_reference_cells(r) for r in board.references], text_column=0
            )
        shown = [c for c, _, _ in DIAGNOSTIC_COLUMNS if any(c in row.diagnostics for row in board.rows)]
        if shown:
            lines += ["", "Training diagnostics (means over seeds; — where a method has none):", ""]
            lines += _md_table(
                ("method", "mismatch (mean log π₀ − log π_β)", *shown),
                [
                    [row.method_label, fmt_signed(row.mismatch)]
                    + [fmt(row.diagnostics[c]) if c in row.diagnostics else "—" for c in shown]
                    for row in board.rows
                ],
                text_column=0,
            )
        for name in board.heldout_sets:
            lines += [
                "",
                f"Held-out set {_md_escape(name)}: pass@k after SFT and after RL (seed-averaged per problem, 95% "
                "bootstrap CI over problems):",
                "",
            ]
            lines += _md_table(HELDOUT_COLUMNS, heldout_rows(board, name), text_column=0)
        if board.notes:
            lines += ["", "Notes:", ""] + [f"- {_md_escape(note)}" for note in board.notes]
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def _num(value: float | None) -> str:
    return "" if value is None else fmt(value)


def render_csv(boards: Sequence[Leaderboard]) -> str:
    """CSV, one line per method or reference model; numbers with 3 decimals, value/low/high in separate columns."""
    header = ["suite", "profile", "kind", "method_label", "method", "sft_steps_factor", "seeds", "problems"]
    header += ["rank_sft", "rank_rl"]
    for stage in ("sft", "rl"):
        for k in HEADLINE_KS:
            header += [f"{stage}_pass@{k}", f"{stage}_pass@{k}_low", f"{stage}_pass@{k}_high"]
    for k in HEADLINE_KS:
        header += [
            f"diff_pass@{k}",
            f"diff_pass@{k}_low",
            f"diff_pass@{k}_high",
            f"p_pass@{k}",
            f"paired_problems@{k}",
        ]
    header += ["errors_sft", "errors_rl", "mismatch_mean_log_ratio", "kendall_tau_b"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for board in boards:
        tau = "" if board.kendall_tau is None else fmt(board.kendall_tau)
        for row in board.rows:
            line: list[str] = [board.suite, board.profile, "method", row.method_label, row.method]
            line += [f"{row.sft_steps_factor:g}", " ".join(str(s) for s in row.seeds), str(row.n_problems)]
            line += [
                "" if row.rank_sft is None else str(row.rank_sft),
                "" if row.rank_rl is None else str(row.rank_rl),
            ]
            for stage in (row.sft, row.rl):
                for k in HEADLINE_KS:
                    est = stage.get(k)
                    line += [_num(est and est.value), _num(est and est.low), _num(est and est.high)]
            for k in HEADLINE_KS:
                comp = row.vs_sft.get(k)
                if comp is None:
                    line += ["", "", "", "", ""]
                else:
                    line += [
                        fmt(comp.diff),
                        fmt(comp.low),
                        fmt(comp.high),
                        fmt(comp.p_value),
                        str(comp.n_problems),
                    ]
            line += [str(row.errors_sft), str(row.errors_rl), fmt(row.mismatch), tau]
            writer.writerow(line)
        for ref in board.references:
            line = [
                board.suite,
                board.profile,
                "reference",
                ref.name,
                ref.name,
                "",
                "",
                str(ref.n_problems),
                "",
                "",
            ]
            # a reference model has no SFT or RL stage: its scores go in the sft_* columns, rl_* stay empty
            for k in HEADLINE_KS:
                est = ref.metrics.get(k)
                line += [_num(est and est.value), _num(est and est.low), _num(est and est.high)]
            line += [""] * (3 * len(HEADLINE_KS) + 5 * len(HEADLINE_KS))
            line += [str(ref.errors), "", "", tau]
            writer.writerow(line)
        for name in board.heldout_sets:
            # one line per method and held-out set: kind "heldout:<set>", its pass@k in the sft_*/rl_* columns
            for row in board.rows:
                if name not in row.heldout:
                    continue
                line = [board.suite, board.profile, f"heldout:{name}", row.method_label, row.method]
                line += [f"{row.sft_steps_factor:g}", " ".join(str(s) for s in row.seeds)]
                line += [str(row.heldout_problems[name]), "", ""]
                for stage in ("sft", "rl"):
                    for k in HEADLINE_KS:
                        est = row.heldout[name][stage].get(k)
                        line += [_num(est and est.value), _num(est and est.low), _num(est and est.high)]
                line += [""] * (5 * len(HEADLINE_KS)) + ["", "", "", tau]
                writer.writerow(line)
    return buffer.getvalue()


_TEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "Δ": r"$\Delta$",
    "τ": r"$\tau$",
    "π": r"$\pi$",
    "₀": r"$_0$",
    "—": "---",
}


def tex_escape(text: str) -> str:
    """Escape LaTeX special characters (and map the few non-ASCII symbols pearbench itself writes)."""
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in text)


def render_latex(boards: Sequence[Leaderboard]) -> str:
    """LaTeX ``table`` environments (needs ``\\usepackage{booktabs}``); the legend is the caption."""
    parts = []
    for board in boards:
        lines = [
            f"% pearbench leaderboard: suite {board.suite}, profile {board.profile}. Needs \\usepackage{{booktabs}}.",
            r"\begin{table}[t]",
            r"\centering",
            r"\scriptsize",
            r"\begin{tabular}{rrlrr" + "l" * 8 + "r}",
            r"\toprule",
            " & ".join(tex_escape(c) for c in COLUMNS) + r" \\",
            r"\midrule",
        ]
        lines += [" & ".join(tex_escape(c) for c in _cells(row)) + r" \\" for row in board.rows]
        lines += [r"\bottomrule", r"\end{tabular}"]
        if board.references:
            lines += [
                r"\par\medskip",
                r"\begin{tabular}{lrrllr}",
                r"\toprule",
                " & ".join(tex_escape(c) for c in REFERENCE_COLUMNS) + r" \\",
                r"\midrule",
            ]
            lines += [
                " & ".join(tex_escape(c) for c in _reference_cells(r)) + r" \\" for r in board.references
            ]
            lines += [r"\bottomrule", r"\end{tabular}"]
        caption = [f"Leaderboard for suite {board.suite} (profile {board.profile}).", _tau_text(board) + "."]
        caption += legend(board) + [f"Note: {note}." for note in board.notes]
        lines += [
            r"\caption{" + tex_escape(" ".join(caption)) + "}",
            rf"\label{{tab:pearbench-{board.suite}}}",
            r"\end{table}",
        ]
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #1a1a1a; max-width: 90em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; white-space: nowrap; }
th { background: #f2f2f2; }
td.method, td.model { text-align: left; font-weight: 600; }
.legend, .notes { font-size: 0.85em; color: #444; }
figure { display: inline-block; margin: 1em 1em 1em 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
.example { border: 1px solid #ddd; margin: 0.8em 0; padding: 0.5em; }
.example pre { white-space: pre-wrap; word-break: break-word; background: #f8f8f8; padding: 0.4em; margin: 0.3em 0; }
.correct { color: #176b1f; } .incorrect { color: #a11; }
""".strip()
PAGE_TITLE = "pearbench leaderboard"


def _h(text: str) -> str:
    return html.escape(text, quote=True)


def _clip(text: str) -> str:
    if len(text) <= MAX_EXAMPLE_CHARS:
        return text
    return text[:MAX_EXAMPLE_CHARS] + f"… [{len(text) - MAX_EXAMPLE_CHARS} more characters]"


def _html_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], css_class: str, first_col: int
) -> list[str]:
    lines = [
        '<div class="scroll">',
        f'<table class="{css_class}">',
        "<thead><tr>" + "".join(f"<th>{_h(h)}</th>" for h in header) + "</tr></thead>",
        "<tbody>",
    ]
    for row in rows:
        cells = "".join(
            f'<td class="{"method" if css_class == "leaderboard" else "model"}">{_h(c)}</td>'
            if i == first_col
            else f"<td>{_h(c)}</td>"
            for i, c in enumerate(row)
        )
        lines.append(f"<tr>{cells}</tr>")
    lines += ["</tbody>", "</table>", "</div>"]
    return lines


def render_html(
    boards: Sequence[Leaderboard], images: Mapping[str, Sequence[tuple[str, bytes]]] | None = None
) -> str:
    """A self-contained HTML page: inline CSS, plots as base64 PNG, every text from records HTML-escaped.

    ``images`` maps a suite to (caption, PNG bytes) pairs. A Content-Security-Policy forbids scripts and any
    external resource, as a second line of defence behind the escaping.
    """
    images = images or {}
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">",
        f"<title>{PAGE_TITLE}</title>",
        f"<style>\n{_CSS}\n</style>",
        "</head>",
        "<body>",
        f"<h1>{PAGE_TITLE}</h1>",
    ]
    for board in boards:
        lines += [
            f'<section class="suite" id="suite-{_h(board.suite)}">',
            f"<h2>{_h(board.suite)} (profile {_h(board.profile)})</h2>",
        ]
        lines += _html_table(COLUMNS, [_cells(row) for row in board.rows], "leaderboard", first_col=2)
        lines.append(f'<p class="tau">{_h(_tau_text(board))}.</p>')
        lines += ['<ul class="legend">'] + [f"<li>{_h(item)}</li>" for item in legend(board)] + ["</ul>"]
        if board.references:
            lines.append("<h3>Reference models</h3>")
            lines += _html_table(
                REFERENCE_COLUMNS, [_reference_cells(r) for r in board.references], "reference", first_col=0
            )
        for name in board.heldout_sets:
            lines.append(f"<h3>Held-out set {_h(name)}</h3>")
            lines += _html_table(HELDOUT_COLUMNS, heldout_rows(board, name), "reference", first_col=0)
        if board.notes:
            lines += ['<p class="notes">Notes:</p>', '<ul class="notes">']
            lines += [f"<li>{_h(note)}</li>" for note in board.notes] + ["</ul>"]
        for caption, png in images.get(board.suite, ()):
            encoded = base64.b64encode(png).decode("ascii")
            lines.append(
                f'<figure><img alt="{_h(caption)}" src="data:image/png;base64,{encoded}"><figcaption>{_h(caption)}</figcaption></figure>'
            )
        if board.examples:
            lines.append("<h3>Example completions (model output, shown as text)</h3>")
            for example in board.examples:
                verdict = "correct" if example.correct else "incorrect"
                lines += [
                    '<div class="example">',
                    f'<p class="meta">{_h(example.method_label)}, seed {example.seed}, {_h(example.stage)}, problem '
                    f'{_h(example.problem_id)}: <span class="{verdict}">{verdict}</span></p>',
                    f'<pre class="prompt">{_h(_clip(example.prompt))}</pre>',
                    f'<pre class="completion">{_h(_clip(example.completion))}</pre>',
                    "</div>",
                ]
        lines.append("</section>")
    lines += ["</body>", "</html>"]
    return "\n".join(lines) + "\n"


def render(
    boards: Sequence[Leaderboard],
    fmt_name: str,
    *,
    images: Mapping[str, Sequence[tuple[str, bytes]]] | None = None,
) -> str:
    """Render in ``md``, ``csv``, ``tex`` or ``html`` (``images`` only used by html)."""
    if fmt_name == "md":
        return render_markdown(boards)
    if fmt_name == "csv":
        return render_csv(boards)
    if fmt_name == "tex":
        return render_latex(boards)
    if fmt_name == "html":
        return render_html(boards, images)
    raise unknown("leaderboard format", fmt_name, FORMATS)
