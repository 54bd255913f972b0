"""Held-out math evaluation sets by name (docs/design.md §4).

``load_dataset(name)`` returns a list of :class:`Problem` (``id``, ``problem``, ``answer``, ``source``, ``meta``):

- by default from the Hugging Face hub (the ids other harnesses use, listed in :data:`DATASETS`), through the
  optional ``datasets`` package (``pip install datasets``); pearbench's tests cannot reach the hub, so this path is
  untested here;
- with ``data_file=``, from a local JSONL or parquet file holding either the normalised fields (``id``, ``problem``,
  ``answer``, optional ``source`` and ``meta``) or the hub's own field names for that set;
- ``champ`` offline from the PyPI package ``champ-dataset`` (``pip install pearbench[champ]``).

A malformed file (bad JSON line, missing field, empty answer, duplicate id) raises one
:class:`~pearbench.errors.PearbenchError` naming the file and the line. A file that is not the named set (more problems
than the set has, ids of another set, answers of the wrong form or another set's answers) is refused naming both; a
subset or a re-ordered copy of the set is accepted (:func:`check_file_matches`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pearbench.errors import PearbenchError, unknown
from pearbench.io import iter_jsonl, require_file


@dataclass(frozen=True)
class Problem:
    """One evaluation problem. ``answer`` is the gold answer string (LaTeX allowed), judged by math-verify."""

    id: str
    problem: str
    answer: str
    source: str
    meta: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "problem": self.problem,
            "answer": self.answer,
            "source": self.source,
            "meta": dict(self.meta),
        }


@dataclass(frozen=True)
class DatasetSpec:
    """Where a named set comes from and how its fields map onto :class:`Problem`.

    ``fields`` maps each normalised field (``id``, ``problem``, ``answer``) to the candidate field names tried in
    order, normalised name first, then the hub's. ``hub_id`` / ``hub_split`` are the default hub location;
    ``alternatives`` lists other known hub copies as (id, split). ``shared_file`` is the name of the normalised copy
    kept beside the project for tests (never inside it). ``count`` is the number of problems the set has.

    What a local copy of the set must look like (:func:`check_file_matches`): ``id_pattern`` matches (whole,
    any case) the ids of its known copies (pearbench's normalised files, the hub's own ids where they are telling),
    ``id_example`` is one such id; ``answer_form`` is (regex, wording) every normalised gold answer of the set
    matches; ``answers`` lists the set's normalised gold answers where they are short enough to keep here.
    """

    name: str
    description: str
    hub_id: str | None
    hub_split: str | None
    fields: Mapping[str, tuple[str, ...]]
    shared_file: str | None
    count: int
    alternatives: tuple[tuple[str, str], ...] = ()
    package: str | None = None
    id_pattern: str | None = None
    id_example: str | None = None
    answer_form: tuple[str, str] | None = None
    answers: tuple[str, ...] = ()


def _fields(
    id_: tuple[str, ...], problem: tuple[str, ...], answer: tuple[str, ...]
) -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType(
        {"id": ("id", *id_), "problem": ("problem", *problem), "answer": ("answer", *answer)}
    )


def _answers(text: str) -> tuple[str, ...]:
    return tuple(text.split())


#: Every named set. Hub ids as other harnesses use them; override with ``data_file=``.
DATASETS: Mapping[str, DatasetSpec] = MappingProxyType(
    {
        "aime2025": DatasetSpec(
            name="aime2025",
            description="AIME 2025 I and II: 30 problems, integer answers 0-999",
            hub_id="yentinglin/aime_2025",
            hub_split="train",
            fields=_fields(("ID",), ("Problem", "question"), ("Answer",)),
            shared_file="aime2025.jsonl",
            count=30,
            alternatives=(("math-ai/aime25", "test"),),
            id_pattern=r"aime2025-.+",
            id_example="aime2025-I-01",
            answer_form=(r"\d{1,3}", "an integer 0-999"),
            answers=_answers(
                "70 588 16 117 279 504 821 77 62 81 259 510 204 60 735 "
                "468 49 82 106 336 293 237 610 149 907 113 19 248 104 240"
            ),
        ),
        "aime2024": DatasetSpec(
            name="aime2024",
            description="AIME 2024 I and II: 30 problems, integer answers 0-999",
            hub_id="HuggingFaceH4/aime_2024",
            hub_split="train",
            fields=_fields(("ID",), ("Problem", "question"), ("Answer",)),
            shared_file="aime2024.jsonl",
            count=30,
            id_pattern=r"aime2024-.+",
            id_example="aime2024-I-01",
            answer_form=(r"\d{1,3}", "an integer 0-999"),
            answers=_answers(
                "204 25 809 116 104 294 540 197 480 113 371 385 110 104 721 "
                "73 236 45 33 80 55 699 127 902 468 601 23 321 211 315"
            ),
        ),
        "amc2023": DatasetSpec(
            name="amc2023",
            description="AMC 12A/12B 2023, numeric-answer form: 40 problems",
            hub_id="math-ai/amc23",
            hub_split="test",
            fields=_fields((), ("question",), ()),
            shared_file="amc2023.jsonl",
            count=40,
            id_pattern=r"amc2023-.+",
            id_example="amc2023-12A-01",
            answer_form=(r"-?\d+(\.\d+)?", "a number"),
            answers=_answers(
                "27 4 8 18 265 9 9 7 36 45 3159 36 7 21 3 1 5 29 96 1 5 -1 "
                "7 50 194 1625 4 6 901 144 8 7 13 50 13 5 11 18 11 3"
            ),
        ),
        "math500": DatasetSpec(
            name="math500",
            description="MATH-500 (the PRM800K test split of MATH): 500 problems, LaTeX answers",
            hub_id="HuggingFaceH4/MATH-500",
            hub_split="test",
            fields=_fields(("unique_id",), (), ()),
            shared_file="math500.jsonl",
            count=500,
            id_pattern=r"math500-.+|test/[a-z_]+/\d+\.json",
            id_example="math500-algebra-1349",
        ),
        "minerva": DatasetSpec(
            name="minerva",
            description="Minerva OCW subset: 272 STEM problems",
            hub_id="math-ai/minervamath",
            hub_split="test",
            fields=_fields(("idx",), ("question",), ()),
            shared_file="minerva_math.jsonl",
            count=272,
            id_pattern=r"minerva-.+",
            id_example="minerva-000",
        ),
        "olympiadbench": DatasetSpec(
            name="olympiadbench",
            description="OlympiadBench OE_TO_maths_en_COMP: 675 text-only English competition problems",
            hub_id="math-ai/olympiadbench",
            hub_split="test",
            fields=_fields((), ("question",), ("final_answer",)),
            shared_file="olympiadbench.jsonl",
            count=675,
            id_pattern=r"olympiadbench-.+",
            id_example="olympiadbench-1606",
        ),
        "champ": DatasetSpec(
            name="champ",
            description="CHAMP (concept and hint-annotated competition math): 270 problems, free-form answers",
            hub_id=None,
            hub_split=None,
            fields=_fields(("identifier",), ("text",), ()),
            shared_file=None,
            count=270,
            package="champ-dataset",
        ),
    }
)


def get_spec(name: str) -> DatasetSpec:
    spec = DATASETS.get(name)
    if spec is None:
        raise unknown("dataset", name, DATASETS, suggest=True)
    return spec


def load_dataset(name: str, *, data_file: str | Path | None = None) -> list[Problem]:
    """The problems of a named held-out set, from ``data_file`` if given, else from its default source."""
    spec = get_spec(name)
    if data_file is not None:
        return load_problems_file(data_file, spec=spec)
    if spec.package == "champ-dataset":
        return _load_champ()
    return _load_hub(spec)


# -- local files ----------------------------------------------------------------------------------------------------


def load_problems_file(path: str | Path, *, spec: DatasetSpec | None = None) -> list[Problem]:
    """Problems from a local JSONL (``.jsonl`` / ``.json`` lines) or parquet file; see the module docstring."""
    path = require_file(path, "data file")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        rows: Iterable[tuple[int, Any]] = _parquet_rows(path)
        unit = "row"
    elif suffix in {".jsonl", ".json", ".ndjson"}:
        rows = iter_jsonl(path, "data file")
        unit = "line"
    else:
        raise PearbenchError(
            f"data file {str(path)!r} must end in .jsonl, .json or .parquet, not {suffix or '(none)'!r}"
        )
    fields = spec.fields if spec is not None else _fields((), (), ())
    default_source = f"{spec.name if spec else 'local'}:{path.name}"
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    given_ids: set[str] = set()
    for number, row in rows:
        where = f"{path}, {unit} {number}"
        fallback_id = f"{spec.name if spec else 'problem'}-{number:04d}"
        problem = _problem_from_row(row, fields, where, fallback_id=fallback_id)
        if problem.id != fallback_id:
            given_ids.add(problem.id)
        if problem.source == "":
            problem = Problem(problem.id, problem.problem, problem.answer, default_source, problem.meta)
        if problem.id in seen:
            raise PearbenchError(
                f"{where}: duplicate id {problem.id!r} (first seen at {unit} {seen[problem.id]})"
            )
        seen[problem.id] = number
        problems.append(problem)
    if not problems:
        raise PearbenchError(f"data file {str(path)!r} holds no problems")
    if spec is not None:
        check_file_matches(problems, spec, path, given_ids=given_ids)
    return problems


#: A file whose ids tell nothing is taken for another set only if it has at least this many problems and nearly
#: all their answers (:data:`FOREIGN_ANSWER_SHARE`) are among that set's answers.
MIN_TELLING_ANSWERS = 10
FOREIGN_ANSWER_SHARE = 0.9


def normalise_answer(text: str) -> str:
    """A gold answer in the form :class:`DatasetSpec` ``answers`` and ``answer_form`` use: no ``$`` or spaces, no
    trailing degree sign, a number written canonically (``27.0`` -> ``27``, ``070`` -> ``70``)."""
    text = re.sub(r"\^\{?\\circ\}?$", "", text.strip().strip("$").replace(" ", ""))
    try:
        value = float(text)
    except ValueError:
        return text
    if not math.isfinite(value):
        return text
    return str(int(value)) if value.is_integer() else repr(value)


def _is_id_of(spec: DatasetSpec, problem_id: str) -> bool:
    return (
        spec.id_pattern is not None and re.fullmatch(spec.id_pattern, problem_id, re.IGNORECASE) is not None
    )


def check_file_matches(
    problems: list[Problem], spec: DatasetSpec, path: str | Path, *, given_ids: Iterable[str] | None = None
) -> None:
    """Refuse a local file that does not look like (a subset or a re-ordering of) the named set.

    Refused, in order: more problems than the set has; an id of another set (``id_pattern``; also another set's
    own id field kept in ``meta``, such as MATH's ``unique_id``); and when no id is telling (the file's own ids,
    ``given_ids``, match no set's pattern: made-up ids, the hub's bare numbers, or none), an answer not of the set's
    ``answer_form``, or answers that are nearly all another set's (``answers``). One error names file and set.
    """
    name = Path(path).name

    def refuse(reason: str) -> PearbenchError:
        return PearbenchError(f"data file {name} does not look like {spec.name}: {reason}")

    if len(problems) > spec.count:
        raise refuse(f"it holds {len(problems)} problems, {spec.name} has {spec.count}")
    ids = (
        [p.id for p in problems] if given_ids is None else [p.id for p in problems if p.id in set(given_ids)]
    )
    for other in (d for d in DATASETS.values() if d is not spec):
        kept = [str(p.meta[f]) for p in problems for f in other.fields["id"][1:] if p.meta.get(f) is not None]
        foreign = [i for i in [*ids, *kept] if _is_id_of(other, i) and not _is_id_of(spec, i)]
        if foreign:
            own = f", not {spec.name}'s (e.g. {spec.id_example!r})" if spec.id_example else ""
            raise refuse(f"its ids are {other.name}'s (e.g. {foreign[0]!r}){own}")
    if any(_is_id_of(spec, i) for i in ids):
        return
    answers = [normalise_answer(p.answer) for p in problems]
    if spec.answer_form is not None:
        pattern, wording = spec.answer_form
        for problem, answer in zip(problems, answers):
            if re.fullmatch(pattern, answer) is None:
                raise refuse(
                    f"the answer {problem.answer!r} of problem {problem.id!r} is not {wording}, "
                    f"as every {spec.name} answer is"
                )
    if len(answers) < MIN_TELLING_ANSWERS:
        return
    counts = Counter(answers)
    own = sum((counts & Counter(spec.answers)).values())
    for other in DATASETS.values():
        found = sum((counts & Counter(other.answers)).values())
        if other is not spec and found >= FOREIGN_ANSWER_SHARE * len(answers) and found > own:
            raise refuse(
                f"{found} of its {len(answers)} answers are {other.name}'s answers (its ids tell nothing)"
            )


def _parquet_rows(path: Path) -> Iterator[tuple[int, Any]]:
    try:
        import pyarrow.parquet as pq

        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable parquet is a user error
        raise PearbenchError(f"data file {str(path)!r} is not a readable parquet file ({exc})") from None
    yield from enumerate(table.to_pylist(), start=1)


def _first(row: Mapping[str, Any], names: tuple[str, ...]) -> tuple[str | None, Any]:
    for name in names:
        if name in row and row[name] is not None:
            return name, row[name]
    return None, None


def _answer_text(value: Any, where: str) -> str:
    if isinstance(value, (list, tuple)):
        if not value:
            raise PearbenchError(f"{where}: the answer list is empty")
        return ", ".join(_answer_text(item, where) for item in value)
    if isinstance(value, bool):
        raise PearbenchError(f"{where}: the answer must be a string or a number, got a boolean")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise PearbenchError(f"{where}: the answer is not a finite number")
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    raise PearbenchError(f"{where}: the answer must be a string or a number, got {type(value).__name__}")


def _problem_from_row(
    row: Mapping[str, Any], fields: Mapping[str, tuple[str, ...]], where: str, fallback_id: str
) -> Problem:
    used: set[str] = set()
    problem_key, problem_text = _first(row, fields["problem"])
    if problem_key is None:
        raise PearbenchError(f"{where}: missing field {' or '.join(repr(f) for f in fields['problem'])}")
    if not isinstance(problem_text, str) or not problem_text.strip():
        raise PearbenchError(f"{where}: field {problem_key!r} must be a non-empty string")
    used.add(problem_key)
    answer_key, answer_value = _first(row, fields["answer"])
    if answer_key is None:
        raise PearbenchError(f"{where}: missing field {' or '.join(repr(f) for f in fields['answer'])}")
    answer = _answer_text(answer_value, where)
    if not answer:
        raise PearbenchError(f"{where}: field {answer_key!r} is empty")
    used.add(answer_key)
    id_key, id_value = _first(row, fields["id"])
    if id_key is None:
        problem_id = fallback_id
    else:
        if isinstance(id_value, bool) or not isinstance(id_value, (str, int)) or str(id_value).strip() == "":
            raise PearbenchError(f"{where}: field {id_key!r} must be a non-empty string or integer")
        problem_id = str(id_value).strip()
        used.add(id_key)
    source = row.get("source") if isinstance(row.get("source"), str) else ""
    meta: dict[str, Any] = {}
    if isinstance(row.get("meta"), Mapping):
        meta.update(row["meta"])
    for key, value in row.items():
        if key not in used and key not in {"meta", "source"}:
            meta.setdefault(key, value)
    return Problem(id=problem_id, problem=problem_text, answer=answer, source=source or "", meta=meta)


# -- the hub (optional `datasets` package) -------------------------------------------------------------------------


def _load_hub(spec: DatasetSpec) -> list[Problem]:  # pragma: no cover - needs network and `datasets`
    try:
        import datasets as hf_datasets
    except ImportError:
        raise PearbenchError(
            f"loading {spec.name!r} from the Hugging Face hub ({spec.hub_id}) needs the optional package "
            "`datasets` (pip install 'pearbench[hub]') and network access; or give a local JSONL/parquet copy with "
            "--data-file FILE (data_file= in Python)"
        ) from None
    try:
        table = hf_datasets.load_dataset(spec.hub_id, split=spec.hub_split)
    except Exception as exc:  # noqa: BLE001 - offline, renamed, gated: one clear message
        raise PearbenchError(
            f"could not load {spec.hub_id!r} (split {spec.hub_split!r}) from the Hugging Face hub: {exc}; "
            "give a local JSONL/parquet copy with --data-file FILE (data_file= in Python) instead"
        ) from None
    problems: list[Problem] = []
    seen: set[str] = set()
    for number, row in enumerate(table, start=1):
        where = f"{spec.hub_id} row {number}"
        problem = _problem_from_row(row, spec.fields, where, fallback_id=f"{spec.name}-{number - 1:04d}")
        if problem.id in seen:
            raise PearbenchError(f"{where}: duplicate id {problem.id!r}")
        seen.add(problem.id)
        problems.append(
            Problem(problem.id, problem.problem, problem.answer, f"hf:{spec.hub_id}", problem.meta)
        )
    return problems


# -- champ (PyPI package champ-dataset) ----------------------------------------------------------------------------


def _load_champ() -> list[Problem]:
    try:
        import champ_dataset
    except ImportError:
        raise PearbenchError(
            "dataset 'champ' ships in the PyPI package champ-dataset: pip install champ-dataset "
            "(or pip install 'pearbench[champ]'), or give a local copy with --data-file FILE (data_file= in Python)"
        ) from None
    try:
        from importlib.metadata import version

        package_version = version("champ-dataset")
    except Exception:  # noqa: BLE001
        package_version = "unknown"
    loaded = champ_dataset.load("v0")
    problems = []
    for identifier, item in loaded.problems.items():
        steps = [step.text for step in (item.solution.steps if item.solution and item.solution.steps else [])]
        problems.append(
            Problem(
                id=str(identifier),
                problem=item.text,
                answer=item.answer.strip(),
                source=f"champ-dataset {package_version} (v0)",
                meta={"category": item.category, "solution": "\n".join(steps)},
            )
        )
    return problems
