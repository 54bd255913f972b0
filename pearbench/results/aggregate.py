"""Aggregation of result records into leaderboards (docs/design.md §6), with the statistics of :mod:`pearbench.metrics`.

One leaderboard per suite (and profile): one row per ``method_label``. Statistics, all byte-stable:

- per problem p and seed s, unbiased pass@k from (n, c); per problem the mean over seeds,
  v_p = (1/S) Σ_s pass@k(n_sp, c_sp); the score is mean_p v_p with a 95% percentile-bootstrap CI over problems
  (:func:`pearbench.metrics.bootstrap_ci`, 2,000 resamples, fixed seed). Problems are sorted by (env, id) first, so the
  resampling is the same in every run.
- a method's problems: those present in every seed of that method at both stages;
- difference to ``sft`` after RL (``vs_sft``, in the tables) and after SFT (``vs_sft_after_sft``, in the plots):
  :func:`pearbench.metrics.paired_bootstrap` of v_p(method) − v_p(sft) at that stage over the problems present in
  every seed of both methods (two-sided p-value);
- RL gain of each method (``rl_gain``): v_p(rl) − v_p(sft) of pass@1 over the method's own problems,
  :func:`pearbench.metrics.paired_bootstrap` as for the differences to ``sft``; and each seed's own gain
  (``rl_gain_per_seed``: mean over the same problems of that seed's pass@1 after RL minus after SFT, no CI), so the
  seed gains average to the gain;
- rankings by pass@1 (competition ranking: ties share the best rank) at the SFT stage and after RL, and Kendall's
  τ-b between the two (:func:`pearbench.metrics.kendall_tau_b`), with a 95% percentile-bootstrap CI: problems
  resampled jointly across methods and seeds (one resampled problem set for every method, seed and stage), the
  rankings and τ-b recomputed per resample (:func:`pearbench.metrics.kendall_tau_b_bootstrap`, fixed seed).

Rows are sorted by post-RL pass@1 descending, then SFT-stage pass@1 descending, then method_label.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from tqdm import tqdm

from pearbench.errors import PearbenchError, unknown
from pearbench.hashing import canonical_json
from pearbench.metrics import (
    OutcomeTable,
    ProblemKey,
    bootstrap_ci,
    common_problems,
    competition_ranks,
    kendall_tau_b,
    kendall_tau_b_bootstrap,
    outcome_table,
    paired_bootstrap,
    seed_averaged_pass_at_k,
)
from pearbench.results.model import (
    BASELINE_LABEL,
    DIAGNOSTIC_COLUMNS,
    HEADLINE_KS,
    Comparison,
    Estimate,
    Example,
    Leaderboard,
    MethodRow,
    ReferenceRow,
)
from pearbench.results.records import STAGES

MAX_EXAMPLES_PER_METHOD = 4

Record = Mapping[str, Any]
StageTables = dict[str, list[OutcomeTable]]  # "sft"/"rl" -> one outcome table per seed


def build_leaderboards(
    records: Sequence[Record],
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


def build_leaderboard(
    records: Sequence[Record], *, recipes_checked: bool = True, progress: bool | None = None
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

    by_label: dict[str, list[Record]] = {}
    for record in records:
        by_label.setdefault(record["method_label"], []).append(record)
    tables: dict[str, StageTables] = {}
    problems_of: dict[str, list[ProblemKey]] = {}
    rows: list[MethodRow] = []
    for label in tqdm(
        sorted(by_label),
        desc=f"leaderboard {suite}",
        unit="method",
        disable=None if progress is None else not progress,
    ):
        group = sorted(by_label[label], key=lambda r: r["seed"])
        tables[label] = {stage: [outcome_table(r["outcomes"][stage]) for r in group] for stage in STAGES}
        problems_of[label] = common_problems(tables[label]["sft"] + tables[label]["rl"])
        rows.append(_method_row(suite, label, group, tables[label], problems_of[label], ks, conflicts))

    if BASELINE_LABEL in tables:
        rows = [_with_comparison(row, tables, problems_of, notes) for row in rows]
    else:
        notes.append(f"no {BASELINE_LABEL!r} row: differences to sft are not computed")
    rows, tau = _ranked(rows)
    tau_ci = _tau_ci(rows, tables, problems_of)

    eval_n = tuple(sorted({o["n"] for r in records for stage in STAGES for o in r["outcomes"][stage]}))
    for k in HEADLINE_KS:
        missing = [row.method_label for row in rows if k not in row.rl or k not in row.sft]
        if missing:
            notes.append(
                f"pass@{k} is undefined (fewer than {k} samples on some problem) for: {', '.join(missing)}"
            )
    if not recipes_checked:
        notes.append("recipe hashes were NOT checked against the committed recipes")

    rows.sort(key=_row_sort_key)
    references = _references(records, ks, notes)  # may add notes
    return Leaderboard(
        suite=suite,
        profile=profile,
        rows=tuple(rows),
        references=references,
        kendall_tau=tau,
        kendall_tau_ci=tau_ci,
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


# --------------------------------------------------------------------------------------------------------------
# The method rows


def _method_row(
    suite: str,
    label: str,
    group: Sequence[Record],
    tables: StageTables,
    problems: Sequence[ProblemKey],
    ks: Sequence[int],
    conflicts: Collection[str],
) -> MethodRow:
    """The row of one method label from its records (sorted by seed), without comparison and ranks."""
    method = _single({r["method"] for r in group}, f"the method of label {label!r}", suite)
    factor = _single(
        {float(r["sft_steps_factor"]) for r in group}, f"sft_steps_factor of label {label!r}", suite
    )
    if not problems:
        raise PearbenchError(
            f"suite {suite!r}, method {label!r}: no test problem is present in every seed and stage"
        )
    kept = set(problems)
    errors = {
        stage: sum(o["errors"] for r in group for o in r["outcomes"][stage] if (o["env"], o["id"]) in kept)
        for stage in STAGES
    }
    heldout, heldout_problems = _heldout_estimates(group, HEADLINE_KS, conflicts)
    rl_gain, rl_gain_per_seed = _rl_gain(tables, problems)
    return MethodRow(
        method_label=label,
        method=method,
        sft_steps_factor=factor,
        seeds=tuple(r["seed"] for r in group),
        n_problems=len(problems),
        sft=_estimates(tables["sft"], problems, ks),
        rl=_estimates(tables["rl"], problems, ks),
        vs_sft={},
        errors_sft=errors["sft"],
        errors_rl=errors["rl"],
        mismatch=float(np.mean([r["mismatch"]["mean_log_ratio"] for r in group])),
        diagnostics=_diagnostics(group),
        heldout=heldout,
        heldout_problems=heldout_problems,
        rl_gain=rl_gain,
        rl_gain_per_seed=rl_gain_per_seed,
    )


def _rl_gain(
    tables: StageTables, problems: Sequence[ProblemKey]
) -> tuple[Comparison | None, tuple[float, ...]]:
    """Post-RL minus SFT-stage pass@1 of one method over ``problems``: seeds averaged per problem, paired bootstrap
    over problems; and each seed's own mean gain over the same problems, in seed order."""
    after_rl = seed_averaged_pass_at_k(tables["rl"], problems, 1)
    after_sft = seed_averaged_pass_at_k(tables["sft"], problems, 1)
    if after_rl is None or after_sft is None:
        return None, ()
    stats = paired_bootstrap(after_rl, after_sft)
    gain = Comparison(stats["diff"], stats["low"], stats["high"], stats["p_value"], len(problems))
    per_seed = []
    for rl_table, sft_table in zip(tables["rl"], tables["sft"]):
        # defined: every seed has at least 1 sample per problem, since the seed averages above are defined
        rl = np.asarray(seed_averaged_pass_at_k([rl_table], problems, 1), dtype=np.float64)
        sft = np.asarray(seed_averaged_pass_at_k([sft_table], problems, 1), dtype=np.float64)
        per_seed.append(float(np.mean(rl - sft)))
    return gain, tuple(per_seed)


def _with_comparison(
    row: MethodRow,
    tables: Mapping[str, StageTables],
    problems_of: Mapping[str, Sequence[ProblemKey]],
    notes: list[str],
) -> MethodRow:
    """``row`` with its differences to the baseline after SFT and after RL, paired over the problems both have in
    every seed."""
    if row.method_label == BASELINE_LABEL:
        return row
    shared = sorted(set(problems_of[row.method_label]) & set(problems_of[BASELINE_LABEL]))
    if not shared:
        notes.append(f"{row.method_label}: no problem shared with every seed of sft; no difference computed")
        return row
    if len(shared) < max(row.n_problems, len(problems_of[BASELINE_LABEL])):
        notes.append(
            f"{row.method_label}: compared with sft on the {len(shared)} problems both have in every seed"
        )
    comparisons: dict[str, dict[int, Comparison]] = {stage: {} for stage in STAGES}
    for stage in STAGES:
        for k in HEADLINE_KS:
            mine = seed_averaged_pass_at_k(tables[row.method_label][stage], shared, k)
            theirs = seed_averaged_pass_at_k(tables[BASELINE_LABEL][stage], shared, k)
            if mine is not None and theirs is not None:
                stats = paired_bootstrap(mine, theirs)
                comparisons[stage][k] = Comparison(
                    stats["diff"], stats["low"], stats["high"], stats["p_value"], len(shared)
                )
    return replace(row, vs_sft=comparisons["rl"], vs_sft_after_sft=comparisons["sft"])


def _ranked(rows: Sequence[MethodRow]) -> tuple[list[MethodRow], float | None]:
    """The rows with their pass@1 ranks at both stages, and Kendall's τ-b between the two rankings."""
    ranked_rows = list(rows)
    for stage in STAGES:
        ranked = [i for i, row in enumerate(ranked_rows) if 1 in getattr(row, stage)]
        ranks = competition_ranks([getattr(ranked_rows[i], stage)[1].value for i in ranked])
        for i, rank in zip(ranked, ranks):
            ranked_rows[i] = replace(ranked_rows[i], **{f"rank_{stage}": rank})
    both = [row for row in ranked_rows if 1 in row.sft and 1 in row.rl]
    tau = kendall_tau_b([row.sft[1].value for row in both], [row.rl[1].value for row in both])
    return ranked_rows, tau


def _tau_ci(
    rows: Sequence[MethodRow],
    tables: Mapping[str, StageTables],
    problems_of: Mapping[str, Sequence[ProblemKey]],
) -> tuple[float, float] | None:
    """95% bootstrap CI of the τ-b of :func:`_ranked`: the methods ranked at both stages, their seed-averaged
    pass@1 per problem over the union of their problems (NaN where a method lacks one), problems resampled jointly."""
    labels = [row.method_label for row in rows if 1 in row.sft and 1 in row.rl]
    universe = sorted({key for label in labels for key in problems_of[label]})
    position = {key: i for i, key in enumerate(universe)}
    stacked = {stage: np.full((len(labels), len(universe)), np.nan) for stage in STAGES}
    for m, label in enumerate(labels):
        columns = [position[key] for key in problems_of[label]]
        for stage in STAGES:
            values = seed_averaged_pass_at_k(tables[label][stage], problems_of[label], 1)
            if values is None:
                return None
            stacked[stage][m, columns] = values
    return kendall_tau_b_bootstrap(stacked["sft"], stacked["rl"])


def _row_sort_key(row: MethodRow) -> tuple[float, float, str]:
    """Post-RL pass@1 descending, then SFT-stage pass@1 descending, then method_label (missing scores last)."""
    rl = row.rl[1].value if 1 in row.rl else -math.inf
    sft = row.sft[1].value if 1 in row.sft else -math.inf
    return (-rl, -sft, row.method_label)


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


def _dig(record: Record, path: Sequence[str]) -> float | None:
    value: Any = record
    for key in path:
        if not isinstance(value, Mapping) or value.get(key) is None:
            return None
        value = value[key]
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _diagnostics(group: Sequence[Record]) -> dict[str, float]:
    """Seed means of the diagnostics in DIAGNOSTIC_COLUMNS (a column is left out when a seed lacks it)."""
    out = {}
    for column, path, _ in DIAGNOSTIC_COLUMNS:
        values = [_dig(r, path) for r in group]
        if values and all(v is not None for v in values):
            out[column] = float(np.mean(values))
    return out


# --------------------------------------------------------------------------------------------------------------
# Reference models, example completions, held-out sets


def _references(records: Sequence[Record], ks: Sequence[int], notes: list[str]) -> tuple[ReferenceRow, ...]:
    rows = []
    for name in ("base", "teacher"):
        distinct: dict[str, list[Record]] = {}
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


def _examples(records: Sequence[Record]) -> tuple[Example, ...]:
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


def _heldout_table(entry: Mapping[str, Any], name: str) -> OutcomeTable:
    """A held-out set's per-problem outcomes in a record as an outcome table keyed ``(set name, id)``."""
    return outcome_table([{**o, "env": name} for o in entry.get("outcomes", ())])


def _heldout_conflicts(records: Sequence[Record]) -> dict[str, int]:
    """Held-out sets whose records disagree on the generation settings (n, tokens, limit, ...): set -> variants."""
    settings: dict[str, set[str]] = {}
    for record in records:
        for name, by_model in (record.get("heldout") or {}).items():
            for entry in by_model.values():
                settings.setdefault(name, set()).add(canonical_json(entry.get("generation")))
    return {name: len(found) for name, found in settings.items() if len(found) > 1}


def _heldout_estimates(
    group: Sequence[Record], ks: Sequence[int], skip: Collection[str] = ()
) -> tuple[dict[str, dict[str, dict[int, Estimate]]], dict[str, int]]:
    """Seed-averaged pass@k after SFT and after RL on every held-out set that all records of ``group`` have."""
    names = set.intersection(*(set(r.get("heldout") or {}) for r in group)) if group else set()
    names -= set(skip)
    estimates: dict[str, dict[str, dict[int, Estimate]]] = {}
    counts: dict[str, int] = {}
    for name in sorted(names):
        tables = {
            stage: [_heldout_table(r["heldout"][name].get(stage, {}), name) for r in group]
            for stage in STAGES
        }
        problems = common_problems(tables["sft"] + tables["rl"])
        if not problems:
            continue
        estimates[name] = {stage: _estimates(tables[stage], problems, ks) for stage in STAGES}
        counts[name] = len(problems)
    return estimates, counts


def _heldout_base(
    records: Sequence[Record], ks: Sequence[int], skip: Collection[str] = ()
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
