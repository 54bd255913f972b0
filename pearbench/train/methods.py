"""The method registry (docs/design.md §2): SFT objectives by name, their options, and their recipes in ``baselines/``.

A :class:`Method` is a name, a description, a loss function with the common signature
``loss(logprobs, behavior_logprobs, mask, options) -> ObjectiveOutput`` (see :mod:`pearbench.train.objectives` for the
gradient-accumulation contract), an options dataclass (every option a documented field, TRL style; see
:mod:`pearbench.train.options`, whose public names this module re-exports), and two flags: ``runs_sft`` (False for
``none``: RL straight from the base model) and ``needs_behavior_logprobs``. The bundled methods live in
:mod:`pearbench.train.bundled` and are registered when this module is imported.

Adding a method needs no change to the harness::

    from dataclasses import dataclass
    from pearbench.train.methods import ObjectiveOptions, option, register_method
    from pearbench.train.objectives import weighted_nll

    @dataclass(frozen=True)
    class MyOptions(ObjectiveOptions):
        power: float = option(2.0, "Exponent of the weight.", "My paper (2026)", check=lambda v: v > 0, allowed="> 0")

    @register_method("my-method", description="...", options_class=MyOptions, weighted=True)
    def my_loss(logprobs, behavior_logprobs, mask, options):
        return weighted_nll(logprobs, mask, ..., normalisation=options.normalisation)

or through an entry point in the group ``pearbench.methods`` naming a module that registers on import (docs/add_method.md).

A recipe is a TOML file holding only objective options (``method = "pear-block"`` and an ``[options]`` table);
one per bundled method ships in ``baselines/`` (the package ``pearbench.baselines``). :func:`recipe_hash` goes into
every result record, and the leaderboard refuses records whose hash differs from the committed recipe.

A method label names a run's method: ``NAME``, ``NAME@Fx`` (F times the profile's SFT steps) and options over the
recipe's, ``NAME@Fx:key=value,key=value`` on the command line. :func:`resolve_method_label` validates one and gives
its canonical form ``NAME@Fx+key=value+key=value`` (only options that differ from the recipe, sorted by key,
values normalised; a safe file-name part, and itself a valid label). :func:`load_recipe` and :func:`recipe_hash`
accept labels, so a run with options records the hash of the recipe with its options applied.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any, Protocol

from torch import Tensor

from pearbench.errors import PearbenchError, unknown
from pearbench.io import read_toml
from pearbench.train.bundled import BUNDLED_METHODS
from pearbench.train.objectives import ObjectiveOutput
from pearbench.train.options import (
    PAPER_DFT,
    PAPER_PEAR,
    PAPER_PEARBENCH,
    DFTOptions,
    NoSFTOptions,
    ObjectiveOptions,
    PearBlockOptions,
    PearSeqOptions,
    PearTokenOptions,
    SFTOptions,
    build_options,
    format_option_value,
    option,
    option_docs,
    options_hash,
    options_to_dict,
    parse_option_text,
)

#: Public names: the registry's own, and the option names of :mod:`pearbench.train.options` (re-exported).
__all__ = [
    "ENTRY_POINT_GROUP",
    "PAPER_DFT",
    "PAPER_PEAR",
    "PAPER_PEARBENCH",
    "DFTOptions",
    "LossFunction",
    "MAX_LABEL_LENGTH",
    "Method",
    "MethodLabel",
    "NoSFTOptions",
    "ObjectiveOptions",
    "PearBlockOptions",
    "PearSeqOptions",
    "PearTokenOptions",
    "SFTOptions",
    "add_method",
    "bundled_recipe_path",
    "canonical_method_label",
    "format_option_value",
    "get_method",
    "list_methods",
    "load_recipe",
    "option",
    "option_docs",
    "options_hash",
    "options_to_dict",
    "parse_method_label",
    "parse_option_text",
    "parse_recipe",
    "recipe_hash",
    "recipe_path",
    "register_method",
    "resolve_method_label",
]

ENTRY_POINT_GROUP = "pearbench.methods"

_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]*")
_LABEL_PATTERN = re.compile(
    r"(?P<name>[a-z0-9][a-z0-9_-]*)(?:@(?P<factor>[0-9]*\.?[0-9]+)x)?(?:(?P<sep>[:+])(?P<options>.*))?", re.S
)
_OPTION_PATTERN = re.compile(r"(?P<key>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.+)", re.S)
#: The longest canonical method label: run ids (``<suite>__<label>__s<seed>__<profile>``) become file names.
MAX_LABEL_LENGTH = 150
_LABEL_GRAMMAR = (
    "allowed: NAME, NAME@FACTORx (FACTOR > 0) and options NAME[@FACTORx]:key=value,key=value or "
    "NAME[@FACTORx]+key=value+key=value, e.g. sft@3x, pear-token:gamma=0.99, pear-block@3x+block_size=8"
)
_log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------------- registry


class LossFunction(Protocol):
    def __call__(
        self, logprobs: Tensor, behavior_logprobs: Tensor | None, mask: Tensor, options: Any
    ) -> ObjectiveOutput: ...


@dataclass(frozen=True)
class Method:
    """A registered SFT objective.

    name: registry name (lowercase letters, digits, '-', '_'), as in recipes and labels (``sft@3x``).
    description: one line for ``pearbench methods list``.
    loss: ``loss(logprobs, behavior_logprobs, mask, options) -> ObjectiveOutput``.
    options_class: a frozen dataclass of documented options (see :func:`option`).
    runs_sft: False when the method has no SFT stage (``none``: RL from the base model).
    needs_behavior_logprobs: the loss reads π_β's per-token log-probs (the trainer must pass them).
    weighted: the loss reweights tokens (its runs log the weight diagnostics).
    paper: where the objective comes from.
    recipe_path: a recipe file for a method registered from outside pearbench (bundled ones live in baselines/).
    """

    name: str
    description: str
    loss: LossFunction
    options_class: type
    runs_sft: bool = True
    needs_behavior_logprobs: bool = False
    weighted: bool = False
    paper: str = ""
    recipe_path: Path | None = None

    def default_options(self) -> Any:
        return self.options_class()

    def make_options(self, values: Mapping[str, Any] | None = None, *, source: str = "options") -> Any:
        """Build validated options from a mapping (missing keys take their defaults).

        Unknown keys, wrong types and out-of-range values raise PearbenchError naming ``source``, the key and the
        allowed values (see :func:`pearbench.train.options.build_options`).
        """
        return build_options(self.options_class, values, method_name=self.name, source=source)


_METHODS: dict[str, Method] = {}
_ENTRY_POINTS_LOADED = False


def add_method(method: Method, *, override: bool = False) -> Method:
    """Register a :class:`Method` (``override=True`` replaces one of the same name)."""
    if not isinstance(method.name, str) or not _NAME_PATTERN.fullmatch(method.name):
        raise PearbenchError(
            f"method name {method.name!r} is malformed; allowed: lowercase letters, digits, '-' and '_', starting "
            "with a letter or digit"
        )
    if not (isinstance(method.options_class, type) and dataclasses.is_dataclass(method.options_class)):
        raise PearbenchError(
            f"method {method.name!r}: options_class must be a dataclass, got {method.options_class!r}"
        )
    if not callable(method.loss):
        raise PearbenchError(f"method {method.name!r}: loss must be callable")
    try:
        method.options_class()
    except (TypeError, PearbenchError) as exc:
        raise PearbenchError(
            f"method {method.name!r}: its options need a valid default for every field ({exc})"
        ) from None
    existing = _METHODS.get(method.name)
    if existing is not None and existing != method and not override:
        raise PearbenchError(
            f"method name {method.name!r} is already registered by {existing.loss.__module__}; pass override=True "
            "to replace it"
        )
    _METHODS[method.name] = method
    return method


def register_method(
    name: str,
    *,
    description: str,
    options_class: type,
    runs_sft: bool = True,
    needs_behavior_logprobs: bool = False,
    weighted: bool = False,
    paper: str = "",
    recipe_path: str | Path | None = None,
    override: bool = False,
) -> Callable[[LossFunction], LossFunction]:
    """Decorator registering a loss function as a method (see the module docstring)."""

    def decorate(loss: LossFunction) -> LossFunction:
        add_method(
            Method(
                name=name,
                description=description,
                loss=loss,
                options_class=options_class,
                runs_sft=runs_sft,
                needs_behavior_logprobs=needs_behavior_logprobs,
                weighted=weighted,
                paper=paper,
                recipe_path=Path(recipe_path) if recipe_path is not None else None,
            ),
            override=override,
        )
        return loss

    return decorate


def _load_entry_points() -> None:
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return
    _ENTRY_POINTS_LOADED = True
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry_point.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break pearbench
            _log.warning("could not load method entry point %s: %s", entry_point.name, exc)
            continue
        if isinstance(loaded, Method) and loaded.name not in _METHODS:
            add_method(loaded)


def get_method(name: str) -> Method:
    """The registered method called ``name`` (PearbenchError listing the choices if there is none)."""
    _load_entry_points()
    if name not in _METHODS:
        raise unknown("method", name, _METHODS, suggest=True)
    return _METHODS[name]


def list_methods() -> list[Method]:
    """Every registered method, sorted by name."""
    _load_entry_points()
    return [_METHODS[name] for name in sorted(_METHODS)]


# --------------------------------------------------------------------------------------------------- recipes


def bundled_recipe_path(name: str) -> Path | None:
    """The recipe shipped in ``baselines/`` for a bundled method, or None."""
    candidate = resources.files("pearbench.baselines").joinpath(f"{name}.toml")
    return Path(str(candidate)) if candidate.is_file() else None


def recipe_path(name_or_path: str | Path) -> Path | None:
    """The recipe file behind a method name or path (None: a plugin method without one uses its defaults)."""
    if _is_path(name_or_path):
        return Path(name_or_path)
    method = get_method(str(name_or_path))
    return bundled_recipe_path(method.name) or method.recipe_path


def _is_path(name_or_path: str | Path) -> bool:
    text = str(name_or_path)
    return isinstance(name_or_path, Path) or text.endswith(".toml") or "/" in text or "\\" in text


def _read_recipe(path: Path) -> dict[str, Any]:
    return read_toml(path, "recipe")


def parse_recipe(
    data: Mapping[str, Any], *, source: str, expected_method: str | None = None
) -> tuple[Method, Any]:
    """Validate recipe content (``method`` and an ``[options]`` table, nothing else) into (Method, options)."""
    extra = sorted(set(data) - {"method", "options"})
    if extra:
        raise PearbenchError(
            f"{source}: unknown top-level key {extra[0]!r}; a recipe holds only 'method' and an [options] table"
        )
    name = data.get("method", expected_method)
    if not isinstance(name, str):
        raise PearbenchError(f"{source}: 'method' must be a method name string, got {name!r}")
    if expected_method is not None and name != expected_method:
        raise PearbenchError(f"{source}: recipe is for method {name!r}, expected {expected_method!r}")
    try:
        method = get_method(name)
    except PearbenchError as exc:
        raise PearbenchError(f"{source}: {exc}") from None
    raw_options = data.get("options", {})
    if not isinstance(raw_options, Mapping):
        raise PearbenchError(f"{source}: 'options' must be a table, got {raw_options!r}")
    return method, method.make_options(raw_options, source=source)


def load_recipe(name_or_path: str | Path) -> tuple[Method, Any]:
    """Load and validate a recipe by method name (its file in ``baselines/``), by path to a TOML file, or by
    method label (the named recipe with the label's options applied; see :func:`resolve_method_label`).

    A plugin method registered without a recipe file resolves to its default options.
    """
    if not _is_path(name_or_path) and not _NAME_PATTERN.fullmatch(str(name_or_path)):
        resolved = resolve_method_label(str(name_or_path))
        return resolved.method, resolved.options
    path = recipe_path(name_or_path)
    if path is None:
        method = get_method(str(name_or_path))
        return method, method.default_options()
    expected = None if _is_path(name_or_path) else str(name_or_path)
    return parse_recipe(_read_recipe(path), source=str(path), expected_method=expected)


def recipe_hash(name_or_path: str | Path) -> str:
    """Hash of a recipe's method name and fully resolved options (defaults filled in), for result records.

    For a method label the label's options are applied first (an ``@Fx`` factor changes no option), so every run
    records a hash that :func:`pearbench.harness.config.default_recipe_hashes` recomputes from its label.
    """
    method, options = load_recipe(name_or_path)
    return options_hash(method.name, options)


# --------------------------------------------------------------------------------------------------- labels


@dataclass(frozen=True)
class MethodLabel:
    """A validated method label (:func:`resolve_method_label`).

    label: the canonical label, ``NAME[@Fx][+key=value...]``: the run's ``method_label`` and part of its run id.
    name, factor: the method's registry name and the SFT-steps factor (1.0 without ``@Fx``).
    method, options: the method and its recipe's options with the label's options applied.
    overrides: the options that differ from the recipe, by name (their values in ``options``).
    """

    label: str
    name: str
    factor: float
    method: Method
    options: Any
    overrides: Mapping[str, Any]

    @property
    def recipe_hash(self) -> str:
        """The hash of the recipe with the label's options applied (the record's ``method_recipe_hash``)."""
        return options_hash(self.name, self.options)


def _split_label(label: str) -> tuple[str, float, list[tuple[str, str]]]:
    """(name, factor, [(key, value text), ...]) of a label, by syntax alone (see :func:`parse_method_label`)."""
    match = _LABEL_PATTERN.fullmatch(label) if isinstance(label, str) else None
    lowered = _LABEL_PATTERN.fullmatch(label.lower()) if isinstance(label, str) else None
    if match is None and lowered is not None and label[: lowered.end("name")] != lowered.group("name"):
        raise unknown("method", label[: lowered.end("name")], _METHODS, suggest=True)  # capitals: PEAR-SEQ
    if match is None:
        raise PearbenchError(f"method label {label!r} is malformed; {_LABEL_GRAMMAR}")
    name = match.group("name")
    factor = 1.0
    if match.group("factor") is not None:
        factor = float(match.group("factor"))
        if not factor > 0:
            raise PearbenchError(
                f"method label {label!r} has SFT-steps factor {factor:g}; allowed: a factor > 0"
            )
        method = _METHODS.get(name)
        if method is not None and not method.runs_sft:
            raise PearbenchError(
                f"method label {label!r}: method {name!r} runs no SFT, so an SFT-steps factor is meaningless"
            )
    pairs: list[tuple[str, str]] = []
    if match.group("sep") is not None:
        if "@" in match.group("options"):
            raise PearbenchError(
                f"method label {label!r}: the @FACTORx goes before the options, e.g. pear-token@3x:gamma=0.99"
            )
        items = match.group("options").split("," if match.group("sep") == ":" else "+")
        for item in items:
            option_match = _OPTION_PATTERN.fullmatch(item)
            if option_match is None:
                raise PearbenchError(f"method label {label!r}: {item!r} is not key=value; {_LABEL_GRAMMAR}")
            key, value = option_match.group("key"), option_match.group("value")
            if any(key == seen for seen, _ in pairs):
                raise PearbenchError(f"method label {label!r}: option {key!r} is given twice")
            pairs.append((key, value))
    return name, factor, pairs


def parse_method_label(label: str) -> tuple[str, float]:
    """Split a method label such as ``sft``, ``sft@3x``, ``sft@0.33x`` or ``pear-token@3x:gamma=0.99`` into
    (method name, SFT-steps factor), by syntax alone; :func:`resolve_method_label` also checks the options.

    The factor multiplies the profile's SFT steps (1.0 without a suffix) and must be > 0. A factor on a
    registered method that runs no SFT (``none@2x``) is refused.
    """
    name, factor, _ = _split_label(label)
    return name, factor


def _format_factor(factor: float) -> str:
    return format_option_value(float(factor))


def resolve_method_label(label: str) -> MethodLabel:
    """Validate a method label and give its method, options and canonical form.

    Grammar: ``NAME``, ``NAME@Fx``, and options over the recipe's as ``NAME[@Fx]:key=value,key=value`` (the
    command-line form) or ``NAME[@Fx]+key=value+key=value`` (the canonical form). Values are read by the option's
    type (:func:`pearbench.train.options.parse_option_text`: numbers, ``true``/``false``, pairs ``LOW..HIGH``,
    strings). An unknown option, a value that does not parse or a value out of range raises PearbenchError in
    one line. The canonical label keeps only the options that differ from the recipe, sorted by key, with
    normalised values (:func:`~pearbench.train.options.format_option_value`), and drops a factor of 1:
    ``pear-block@3x:gamma=0.990,block_size=8`` and ``pear-block@3.0x+block_size=8+gamma=0.99`` both become
    ``pear-block@3x+block_size=8+gamma=0.99``.
    """
    name, factor, pairs = _split_label(label)
    method, base = load_recipe(name)
    source = f"method label {label!r}"
    typed = {
        key: parse_option_text(method.options_class, key, text, method_name=name, source=source)
        for key, text in pairs
    }
    options = base
    if typed:
        options = method.make_options({**options_to_dict(base), **typed}, source=source)
    overrides = {
        key: getattr(options, key) for key in sorted(typed) if getattr(options, key) != getattr(base, key)
    }
    canonical = name + ("" if factor == 1.0 else f"@{_format_factor(factor)}x")
    try:
        canonical += "".join(f"+{key}={format_option_value(value)}" for key, value in overrides.items())
    except PearbenchError as exc:
        raise PearbenchError(f"{source}: {exc}") from None
    if len(canonical) > MAX_LABEL_LENGTH:
        raise PearbenchError(
            f"{source}: its canonical form has {len(canonical)} characters, more than {MAX_LABEL_LENGTH} (run ids "
            "become file names)"
        )
    return MethodLabel(canonical, name, factor, method, options, overrides)


def canonical_method_label(label: str) -> str:
    """The canonical form of a method label (:func:`resolve_method_label`): what records and run ids carry."""
    return resolve_method_label(label).label


def _register_bundled() -> None:
    """Register the bundled methods of :mod:`pearbench.train.bundled` (once, when this module is imported)."""
    for spec in BUNDLED_METHODS:
        add_method(Method(**spec))


_register_bundled()
