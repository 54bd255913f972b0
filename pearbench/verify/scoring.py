"""Scoring files of model completions against a held-out math set (docs/design.md §6): pass@k, avg@n, maj@n with CIs.

The completions file is JSONL, one object per line: ``{"id": "<problem id>", "completion": "<model text>"}``, with
the same number n of lines for every problem it covers (lines of one problem need not be adjacent). Every completion
is judged by :func:`pearbench.verify.pool.verify_math_batch` (the shared extraction rule, then math-verify, one wall-clock
bound per check). Statistics are computed over the problems that have completions; problems of the dataset without
any are listed, not scored as zero.

- pass@k for every k <= n: unbiased, 1 - C(n-c, k)/C(n, k) per problem, averaged; 95% percentile-bootstrap CI over
  problems (:func:`pearbench.metrics.bootstrap_ci`, fixed seed, so output is byte-stable).
- avg@n: the mean of c/n (= pass@1).
- maj@n: per problem, the most frequent extracted answer wins (ties: first seen) and scores 1 if it is correct. All
  answers the verifier judged correct count as ONE answer (they all equal the gold); others are grouped by their
  extracted text with whitespace removed.
- verifier errors (timeouts, exceptions) count as not correct everywhere and are reported separately.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pearbench.errors import PearbenchError
from pearbench.io import iter_jsonl, jsonl_where
from pearbench.metrics import maj_at_n, summarise
from pearbench.verify.datasets import Problem, load_dataset
from pearbench.verify.normalize import DEFAULT_TIMEOUT
from pearbench.verify.pool import verify_math_batch
from pearbench.verify.verdict import Verdict

SCHEMA_VERSION = 1
_CORRECT = "\x00correct"


@dataclass(frozen=True)
class CompletionRecord:
    """One completion of one problem; ``where`` names its origin for error messages (``file.jsonl, line 3``)."""

    id: str
    completion: str
    where: str = ""


@dataclass(frozen=True)
class ProblemOutcome:
    """Per-problem result: n samples, c correct, errors (verifier failures), and the majority vote."""

    id: str
    n: int
    c: int
    errors: int
    maj_correct: bool
    majority_answer: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "n": self.n,
            "c": self.c,
            "errors": self.errors,
            "maj_correct": self.maj_correct,
            "majority_answer": self.majority_answer,
        }


@dataclass(frozen=True)
class ScoreReport:
    """Everything ``pearbench eval --completions`` prints and writes."""

    dataset: str
    n: int
    outcomes: tuple[ProblemOutcome, ...]
    metrics: Mapping[str, Mapping[str, float]]
    missing: tuple[str, ...]
    timeouts: int
    exceptions: int
    timeout: float
    dataset_size: int
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def verifier_errors(self) -> int:
        return self.timeouts + self.exceptions

    @property
    def checks(self) -> int:
        return self.n * len(self.outcomes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "dataset": self.dataset,
            "dataset_size": self.dataset_size,
            "n": self.n,
            "problems_scored": len(self.outcomes),
            "metrics": {name: dict(values) for name, values in self.metrics.items()},
            "verifier_errors": {
                "total": self.verifier_errors,
                "timeouts": self.timeouts,
                "exceptions": self.exceptions,
            },
            "timeout_s": self.timeout,
            "missing": list(self.missing),
            "outcomes": [outcome.to_dict() for outcome in self.outcomes],
            **dict(self.extra),
        }

    def table(self) -> str:
        """Plain-text table: one row per metric with its 95% CI, then errors and missing problems."""
        lines = [
            f"dataset {self.dataset}: {len(self.outcomes)} of {self.dataset_size} problems scored, n = {self.n} "
            f"completions each",
            f"{'metric':<10} {'value':>7}   95% CI",
        ]
        for name, values in self.metrics.items():
            lines.append(f"{name:<10} {values['value']:>7.4f}   [{values['low']:.4f}, {values['high']:.4f}]")
        lines.append(
            f"verifier errors: {self.verifier_errors} of {self.checks} checks "
            f"({self.timeouts} timeouts after {self.timeout}s, {self.exceptions} exceptions); counted as not correct"
        )
        if self.missing:
            shown = ", ".join(self.missing[:20]) + (
                f", ... ({len(self.missing) - 20} more)" if len(self.missing) > 20 else ""
            )
            lines.append(f"problems without completions ({len(self.missing)}): {shown}")
        else:
            lines.append("problems without completions: none")
        return "\n".join(lines)


def read_completions(path: str | Path) -> list[CompletionRecord]:
    """Parse a completions JSONL file; any malformed line raises one error naming the file and line."""
    path = Path(path)
    records = [
        _record(row, jsonl_where(path, number)) for number, row in iter_jsonl(path, "completions file")
    ]
    if not records:
        raise PearbenchError(f"completions file {str(path)!r} holds no completions")
    return records


def _record(row: Any, where: str) -> CompletionRecord:
    if isinstance(row, CompletionRecord):
        return row
    if not isinstance(row, Mapping):
        raise PearbenchError(
            f"{where}: expected a JSON object with 'id' and 'completion', got {type(row).__name__}"
        )
    for key in ("id", "completion"):
        if key not in row:
            raise PearbenchError(f"{where}: missing field {key!r} (each line needs 'id' and 'completion')")
    problem_id = row["id"]
    if isinstance(problem_id, bool) or not isinstance(problem_id, (str, int)):
        raise PearbenchError(f"{where}: field 'id' must be a string, got {type(problem_id).__name__}")
    if not isinstance(row["completion"], str):
        raise PearbenchError(
            f"{where}: field 'completion' must be a string, got {type(row['completion']).__name__}"
        )
    return CompletionRecord(id=str(problem_id), completion=row["completion"], where=where)


def group_by_problem(
    records: Sequence[CompletionRecord | Mapping[str, Any]], problems: Sequence[Problem]
) -> tuple[dict[str, list[CompletionRecord]], int]:
    """Check ids and the equal-n rule; return completions per problem id (dataset order) and n."""
    known = {problem.id for problem in problems}
    groups: dict[str, list[CompletionRecord]] = defaultdict(list)
    for index, raw in enumerate(records):
        record = _record(raw, f"record {index + 1}")
        where = record.where or f"record {index + 1}"
        if record.id not in known:
            example = ", ".join(sorted(known)[:3])
            raise PearbenchError(
                f"{where}: unknown problem id {record.id!r} (the dataset's ids look like {example})"
            )
        groups[record.id].append(
            record if record.where else CompletionRecord(record.id, record.completion, where)
        )
    if not groups:
        raise PearbenchError("no completions to score")
    ordered = {problem.id: groups[problem.id] for problem in problems if problem.id in groups}
    first_id, first = next(iter(ordered.items()))
    n = len(first)
    for problem_id, group in ordered.items():
        if len(group) != n:
            raise PearbenchError(
                f"{group[0].where}: problem {problem_id!r} has {len(group)} completions but {first_id!r} has {n}; "
                "every problem needs the same number n of completions"
            )
    return ordered, n


def _answer_key(verdict: Verdict) -> str | None:
    if verdict.correct:
        return _CORRECT
    if verdict.extracted is None:
        return None
    key = "".join(verdict.extracted.split())
    return key or None


def majority(verdicts: Sequence[Verdict]) -> tuple[bool, str | None]:
    """maj@n for one problem: (is the majority answer correct, its extracted text)."""
    keys = [_answer_key(v) for v in verdicts]
    correct = [v.correct for v in verdicts]
    won = maj_at_n(keys, correct) == 1.0
    counts: dict[str, int] = {}
    for key in keys:
        if key is not None:
            counts[key] = counts.get(key, 0) + 1
    if not counts:
        return False, None
    best = max(counts.values())
    for key, verdict in zip(keys, verdicts):
        if key is not None and counts[key] == best:
            return won, verdict.extracted
    return won, None  # unreachable


def score_completions(
    records: Sequence[CompletionRecord | Mapping[str, Any]],
    dataset: str | Sequence[Problem],
    *,
    data_file: str | Path | None = None,
    dataset_name: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    workers: int | None = None,
    progress: bool = False,
) -> ScoreReport:
    """Score completions against a dataset (a name for :func:`pearbench.verify.datasets.load_dataset`, or its problems).

    Validates everything first (unknown ids, unequal n) so a malformed input fails before any work is done.
    """
    if isinstance(dataset, str):
        dataset_name = dataset_name or dataset
        problems: Sequence[Problem] = load_dataset(dataset, data_file=data_file)
    else:
        problems = dataset
        dataset_name = dataset_name or "custom"
    groups, n = group_by_problem(records, problems)
    gold = {problem.id: problem.answer for problem in problems}
    pairs = [
        (gold[problem_id], record.completion) for problem_id, group in groups.items() for record in group
    ]
    verdicts = verify_math_batch(pairs, timeout=timeout, workers=workers, progress=progress)
    outcomes = []
    timeouts = exceptions = 0
    position = 0
    for problem_id in groups:
        problem_verdicts = verdicts[position : position + n]
        position += n
        errors = [v for v in problem_verdicts if v.error is not None]
        timeouts += sum(1 for v in errors if v.error.startswith("timeout"))
        exceptions += sum(1 for v in errors if not v.error.startswith("timeout"))
        won, answer = majority(problem_verdicts)
        outcomes.append(
            ProblemOutcome(
                id=problem_id,
                n=n,
                c=sum(1 for v in problem_verdicts if v.correct),
                errors=len(errors),
                maj_correct=won,
                majority_answer=answer,
            )
        )
    missing = tuple(problem.id for problem in problems if problem.id not in groups)
    return ScoreReport(
        dataset=dataset_name,
        n=n,
        outcomes=tuple(outcomes),
        metrics=summarise(
            [o.n for o in outcomes],
            [o.c for o in outcomes],
            range(1, n + 1),
            [1.0 if o.maj_correct else 0.0 for o in outcomes],
        ),
        missing=missing,
        timeouts=timeouts,
        exceptions=exceptions,
        timeout=float(timeout),
        dataset_size=len(problems),
    )
