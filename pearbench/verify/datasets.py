"""Held-out math evaluation sets by name (DESIGN §4).

``load_dataset(name)`` returns a list of :class:`Problem` (``id``, ``problem``, ``answer``, ``source``, ``meta``):

- by default from the Hugging Face hub (the ids other harnesses use, listed in :data:`DATASETS`), through the
  optional ``datasets`` package (``pip install datasets``); pearbench's tests cannot reach the hub, so this path is
  untested here;
- with ``data_file=``, from a local JSONL or parquet file holding either the normalised fields (``id``, ``problem``,
  ``answer``, optional ``source`` and ``meta``) or the hub's own field names for that set;
- ``champ`` offline from the PyPI package ``champ-dataset`` (``pip install pearbench[champ]``).

A malformed file (bad JSON line, missing field, empty answer, duplicate id) raises one
:class:`~pearbench.errors.PearbenchError` naming the file and the line.
"""

from __future__ import annotations

import math
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


def _fields(
    id_: tuple[str, ...], problem: tuple[str, ...], answer: tuple[str, ...]
) -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType(
        {"id": ("id", *id_), "problem": ("problem", *problem), "answer": ("answer", *answer)}
    )


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
        ),
        "aime2024": DatasetSpec(
            name="aime2024",
            description="AIME 2024 I and II: 30 problems, integer answers 0-999",
            hub_id="HuggingFaceH4/aime_2024",
            hub_split="train",
            fields=_fields(("ID",), ("Problem", "question"), ("Answer",)),
            shared_file="aime2024.jsonl",
            count=30,
        ),
        "amc2023": DatasetSpec(
            name="amc2023",
            description="AMC 12A/12B 2023, numeric-answer form: 40 problems",
            hub_id="math-ai/amc23",
            hub_split="test",
            fields=_fields((), ("question",), ()),
            shared_file="amc2023.jsonl",
            count=40,
        ),
        "math500": DatasetSpec(
            name="math500",
            description="MATH-500 (the PRM800K test split of MATH): 500 problems, LaTeX answers",
            hub_id="HuggingFaceH4/MATH-500",
            hub_split="test",
            fields=_fields(("unique_id",), (), ()),
            shared_file="math500.jsonl",
            count=500,
        ),
        "minerva": DatasetSpec(
            name="minerva",
            description="Minerva OCW subset: 272 STEM problems",
            hub_id="math-ai/minervamath",
            hub_split="test",
            fields=_fields(("idx",), ("question",), ()),
            shared_file="minerva_math.jsonl",
            count=272,
        ),
        "olympiadbench": DatasetSpec(
            name="olympiadbench",
            description="OlympiadBench OE_TO_maths_en_COMP: 675 text-only English competition problems",
            hub_id="math-ai/olympiadbench",
            hub_split="test",
            fields=_fields((), ("question",), ("final_answer",)),
            shared_file="olympiadbench.jsonl",
            count=675,
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
        raise unknown("dataset", name, DATASETS)
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
    for number, row in rows:
        where = f"{path}, {unit} {number}"
        problem = _problem_from_row(
            row, fields, where, fallback_id=f"{spec.name if spec else 'problem'}-{number:04d}"
        )
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
    return problems


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
            f"`datasets` (pip install datasets); or pass data_file= (--data-file) a local JSONL/parquet copy"
        ) from None
    try:
        table = hf_datasets.load_dataset(spec.hub_id, split=spec.hub_split)
    except Exception as exc:  # noqa: BLE001 - offline, renamed, gated: one clear message
        raise PearbenchError(
            f"could not load {spec.hub_id!r} (split {spec.hub_split!r}) from the Hugging Face hub: {exc}; "
            "pass data_file= (--data-file) a local JSONL/parquet copy instead"
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
            "(or pip install 'pearbench[champ]'), or pass data_file= a local copy"
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
