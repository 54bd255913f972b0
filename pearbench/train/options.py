"""Objective options (docs/design.md §2): documented option fields, the bundled methods' option dataclasses, and hashing.

Every option is a field of a frozen dataclass made with :func:`option`: its default, what it does, where it comes
from (the paper, or pearbench where the paper leaves it unstated) and its allowed values, checked on construction.
:func:`build_options` turns a recipe's ``[options]`` table into such a dataclass (unknown keys, wrong types and
out-of-range values are refused with the key named); :func:`options_hash` is the content hash of a method name and
its fully resolved options, the ``method_recipe_hash`` of every result record. :func:`parse_option_text` and
:func:`format_option_value` read and write option values as method labels carry them (``pear-token+gamma=0.99``,
see :func:`pearbench.train.methods.resolve_method_label`).

The registry (:mod:`pearbench.train.methods`) re-exports every public name here, so
``from pearbench.train.methods import ObjectiveOptions, option`` keeps working.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pearbench.errors import PearbenchError
from pearbench.hashing import config_hash
from pearbench.train import weights
from pearbench.train.objectives import NORMALISATIONS, check_normalisation

PAPER_PEAR = "PEAR, arXiv 2602.01058 (pearbench's reading of it, docs/design.md §2)"
PAPER_DFT = "DFT: Wu et al., On the Generalization of SFT ... with Reward Rectification, arXiv 2508.05629"
PAPER_PEARBENCH = "pearbench (the PEAR paper leaves it unstated; docs/design.md §2)"


def option(
    default: Any,
    help: str,
    paper: str,
    *,
    check: Callable[[Any], Any] | None = None,
    allowed: str = "",
) -> Any:
    """A documented option field: what it does (``help``), where it comes from (``paper``), its allowed values.

    ``check(value)`` validates the value: it returns False (or raises PearbenchError) for a bad value, and may
    return a normalised value instead of True.
    """
    return field(default=default, metadata={"help": help, "paper": paper, "check": check, "allowed": allowed})


def _normalisation_check(value: Any) -> str:
    return check_normalisation(value)


@dataclass(frozen=True)
class ObjectiveOptions:
    """Options shared by every SFT objective. Fields validate on construction (PearbenchError naming the key)."""

    normalisation: str = option(
        "token-mean",
        "Denominator of the loss: 'token-mean' (response tokens in the whole accumulated batch), 'seq-mean' (mean "
        "over sequences of the per-sequence token mean) or 'self-normalised' (sum of the weights).",
        PAPER_PEARBENCH,
        check=_normalisation_check,
        allowed=", ".join(NORMALISATIONS),
    )

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            check = item.metadata.get("check")
            if check is None:
                continue
            value = getattr(self, item.name)
            try:
                result = check(value)
            except PearbenchError as exc:
                raise PearbenchError(f"option {item.name!r}: {exc}") from None
            if result is False:
                raise PearbenchError(
                    f"option {item.name!r} = {value!r} is out of range; allowed: {item.metadata.get('allowed')}"
                )
            if result is not True and result is not None:
                object.__setattr__(self, item.name, result)


@dataclass(frozen=True)
class SFTOptions(ObjectiveOptions):
    """Canonical SFT: the unweighted token NLL."""


@dataclass(frozen=True)
class DFTOptions(ObjectiveOptions):
    """Dynamic fine-tuning: NLL weighted by the stop-gradient token probability."""


def _delta_clip_check(value: Any) -> tuple[float, float]:
    return weights.check_clip("delta_clip", value)


def _log_weight_clip_check(value: Any) -> tuple[float, float]:
    return weights.check_clip("log_weight_clip", value, max_upper=weights.MAX_LOG_WEIGHT_BOUND)


@dataclass(frozen=True)
class PearSeqOptions(ObjectiveOptions):
    """PEAR at the sequence level: one weight per sequence, exp(clip(Σ_j δ_j))."""

    delta_clip: tuple[float, float] = option(
        weights.DEFAULT_DELTA_CLIP,
        "Clip [low, high] of the per-token log-ratio δ_t = log π_θ - log π_β before it is summed.",
        PAPER_PEAR,
        check=_delta_clip_check,
        allowed="two finite numbers [low, high] with low <= high",
    )
    log_weight_clip: tuple[float, float] = option(
        weights.DEFAULT_LOG_WEIGHT_CLIP,
        "Clip [low, high] of log G_t before exponentiating into the weight Ĝ_t.",
        PAPER_PEAR,
        check=_log_weight_clip_check,
        allowed=f"two finite numbers [low, high] with low <= high <= {weights.MAX_LOG_WEIGHT_BOUND:g}",
    )


@dataclass(frozen=True)
class PearTokenOptions(PearSeqOptions):
    """PEAR at the token level: the discounted ratio of the continuation after each token."""

    gamma: float = option(
        weights.DEFAULT_GAMMA,
        "Discount γ per token of continuation: log G_t gains (tokens after t)·log γ.",
        PAPER_PEAR,
        check=weights.check_gamma,
        allowed="a number with 0 < gamma <= 1",
    )


@dataclass(frozen=True)
class PearBlockOptions(PearTokenOptions):
    """PEAR at the block level: the discounted ratio of the blocks after each token's block."""

    block_size: int = option(
        weights.DEFAULT_BLOCK_SIZE,
        "Block size B in response tokens, counted from the first response token (the last block may be shorter); "
        "B = 1 is the token level.",
        PAPER_PEAR,
        check=weights.check_block_size,
        allowed="an integer >= 1",
    )


@dataclass(frozen=True)
class NoSFTOptions:
    """The ``none`` control has no objective options."""


def options_to_dict(options: Any) -> dict[str, Any]:
    """The options as plain JSON-ready data (tuples become lists)."""
    return {
        item.name: list(value) if isinstance(value := getattr(options, item.name), tuple) else value
        for item in dataclasses.fields(options)
    }


def option_docs(options_class: type) -> list[dict[str, Any]]:
    """Each option's name, default, help, paper and allowed values (for ``pearbench methods show`` and docs)."""
    docs = []
    for item in dataclasses.fields(options_class):
        default = item.default
        docs.append(
            {
                "name": item.name,
                "default": list(default) if isinstance(default, tuple) else default,
                "help": item.metadata.get("help", ""),
                "paper": item.metadata.get("paper", ""),
                "allowed": item.metadata.get("allowed", ""),
            }
        )
    return docs


def build_options(
    options_class: type, values: Mapping[str, Any] | None, *, method_name: str, source: str = "options"
) -> Any:
    """Validated options of ``options_class`` from a mapping (missing keys take their defaults).

    Unknown keys, wrong types and out-of-range values raise PearbenchError naming ``source``, the key and the
    allowed values (``method_name`` names the method in the unknown-key message).
    """
    values = dict(values or {})
    fields = {item.name: item for item in dataclasses.fields(options_class)}
    for key in values:
        if key not in fields:
            allowed = ", ".join(sorted(fields)) or "(none: this method has no options)"
            raise PearbenchError(
                f"{source}: unknown option {key!r} for method {method_name!r}; allowed: {allowed}"
            )
    coerced = {key: _coerce(source, key, value, fields[key]) for key, value in values.items()}
    try:
        return options_class(**coerced)
    except PearbenchError as exc:
        raise PearbenchError(f"{source}: {exc}") from None


def _coerce(source: str, key: str, value: Any, item: dataclasses.Field) -> Any:
    """TOML values to the option's type, judged by its default: float accepts ints, pairs become float tuples."""
    default = item.default
    allowed = item.metadata.get("allowed") or type(default).__name__

    def fail() -> PearbenchError:
        return PearbenchError(f"{source}: option {key!r} = {value!r} has the wrong type; allowed: {allowed}")

    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise fail()
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail()
        if not math.isfinite(float(value)):
            raise PearbenchError(f"{source}: option {key!r} = {value!r} is not finite; allowed: {allowed}")
        return float(value)
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail()
        return value
    if isinstance(default, str):
        if not isinstance(value, str):
            raise fail()
        return value
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)) or len(value) != len(default):
            raise fail()
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value):
            raise fail()
        return tuple(float(v) for v in value)
    return value


# ------------------------------------------------------------------------------------ options in method labels

#: A number as written in a method label: plain decimal or exponent notation (no 'nan', 'inf' or '_').
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INT_TEXT = re.compile(r"[+-]?[0-9]+")
#: A string option value that may appear in a method label (and so in a record's file name).
_STR_TEXT = re.compile(r"[A-Za-z0-9._-]+")
#: Separates the two numbers of a pair option in a label: ``delta_clip=-0.1..0.3``.
PAIR_SEPARATOR = ".."


def parse_option_text(options_class: type, key: str, text: str, *, method_name: str, source: str) -> Any:
    """The value of option ``key`` written as ``text`` in a method label, parsed by the option's type.

    The type is judged by the field's default, as :func:`build_options` does: ``true``/``false`` for booleans, a
    whole number for ints, a number for floats, ``LOW..HIGH`` for pairs, the text itself for strings. Range checks
    come later, when the options are built. Unknown keys and unparsable values raise PearbenchError naming ``source``.
    """
    fields = {item.name: item for item in dataclasses.fields(options_class)}
    if key not in fields:
        allowed = ", ".join(sorted(fields)) or "(none: this method has no options)"
        raise PearbenchError(
            f"{source}: unknown option {key!r} for method {method_name!r}; allowed: {allowed}"
        )
    item = fields[key]
    default = item.default
    allowed = item.metadata.get("allowed") or type(default).__name__

    def fail(what: str) -> PearbenchError:
        return PearbenchError(f"{source}: option {key!r} = {text!r} is not {what}; allowed: {allowed}")

    if isinstance(default, bool):
        if text not in ("true", "false"):
            raise fail("true or false")
        return text == "true"
    if isinstance(default, float):
        if not _NUMBER_TEXT.fullmatch(text):
            raise fail("a number")
        return float(text)
    if isinstance(default, int):
        if not _INT_TEXT.fullmatch(text):
            raise fail("a whole number")
        return int(text)
    if isinstance(default, str):
        return text
    if isinstance(default, tuple):
        parts = text.split(PAIR_SEPARATOR)
        if len(parts) != len(default) or not all(_NUMBER_TEXT.fullmatch(part) for part in parts):
            shape = PAIR_SEPARATOR.join(["NUMBER"] * len(default))
            raise fail(f"{shape} (e.g. {PAIR_SEPARATOR.join(format_option_value(v) for v in default)})")
        return tuple(float(part) for part in parts)
    raise PearbenchError(
        f"{source}: option {key!r} of method {method_name!r} has a type ({type(default).__name__}) a method label "
        "cannot set; set it in a recipe file"
    )


def format_option_value(value: Any) -> str:
    """An option value as a method label writes it, canonically: numbers in shortest plain decimal notation
    (``0.99``, ``8``, ``-0.08``, ``0.00001``), booleans ``true``/``false``, pairs ``LOW..HIGH``, strings as they are.

    :func:`parse_option_text` reads it back to the same value. A string with characters other than letters,
    digits, '.', '_' and '-' raises PearbenchError (a label becomes part of a file name).
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise PearbenchError(f"option value {value!r} is not finite")
        text = format(Decimal(repr(value)), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, (tuple, list)):
        return PAIR_SEPARATOR.join(format_option_value(v) for v in value)
    if isinstance(value, str):
        if not _STR_TEXT.fullmatch(value):
            raise PearbenchError(
                f"option value {value!r} cannot be part of a method label; allowed: letters, digits, '.', '_', '-'"
            )
        return value
    raise PearbenchError(f"option value {value!r} ({type(value).__name__}) cannot be part of a method label")


def options_hash(method_name: str, options: Any) -> str:
    """Content hash of a method name and its fully resolved options (what ``recipe_hash`` returns for a recipe)."""
    return config_hash({"method": method_name, "options": options_to_dict(options)})
