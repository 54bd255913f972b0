"""The bundled SFT methods (docs/design.md §2): ``sft``, ``dft``, ``pear-seq``, ``pear-token``, ``pear-block`` and ``none``.

Each is a loss function with the registry's signature ``loss(logprobs, behavior_logprobs, mask, options) ->
ObjectiveOutput`` plus its :class:`~pearbench.train.methods.Method` fields in :data:`BUNDLED_METHODS`. The registry
(:mod:`pearbench.train.methods`) registers them when it is imported; this module does not import the registry, so
the two stay free of an import cycle. A method from outside pearbench uses ``register_method`` instead (see the
registry's docstring). Each has a recipe in ``baselines/<name>.toml``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import Tensor

from pearbench.errors import PearbenchError
from pearbench.train import objectives
from pearbench.train.objectives import ObjectiveOutput
from pearbench.train.options import (
    PAPER_DFT,
    PAPER_PEAR,
    DFTOptions,
    NoSFTOptions,
    PearBlockOptions,
    PearSeqOptions,
    PearTokenOptions,
    SFTOptions,
)


def sft(
    logprobs: Tensor, behavior_logprobs: Tensor | None, mask: Tensor, options: SFTOptions
) -> ObjectiveOutput:
    """Canonical SFT (:func:`pearbench.train.objectives.sft_loss`)."""
    return objectives.sft_loss(
        logprobs, mask, normalisation=options.normalisation, behavior_logprobs=behavior_logprobs
    )


def dft(
    logprobs: Tensor, behavior_logprobs: Tensor | None, mask: Tensor, options: DFTOptions
) -> ObjectiveOutput:
    """Dynamic fine-tuning (:func:`pearbench.train.objectives.dft_loss`)."""
    return objectives.dft_loss(
        logprobs, mask, normalisation=options.normalisation, behavior_logprobs=behavior_logprobs
    )


def _pear(
    level: str, logprobs: Tensor, behavior_logprobs: Tensor | None, mask: Tensor, options: PearSeqOptions
) -> ObjectiveOutput:
    """PEAR at ``level`` (:func:`pearbench.train.objectives.pear_loss`): every option field is passed by its name.

    ``pear-seq`` options carry normalisation, delta_clip and log_weight_clip; ``pear-token`` adds gamma and
    ``pear-block`` block_size; pear_loss's defaults fill what a level's options lack (unused at that level).
    """
    fields = {item.name: getattr(options, item.name) for item in dataclasses.fields(options)}
    return objectives.pear_loss(logprobs, behavior_logprobs, mask, level=level, **fields)


def pear_seq(
    logprobs: Tensor, behavior_logprobs: Tensor | None, mask: Tensor, options: PearSeqOptions
) -> ObjectiveOutput:
    """PEAR, sequence level."""
    return _pear("seq", logprobs, behavior_logprobs, mask, options)


def pear_token(
    logprobs: Tensor, behavior_logprobs: Tensor | None, mask: Tensor, options: PearTokenOptions
) -> ObjectiveOutput:
    """PEAR, token level."""
    return _pear("token", logprobs, behavior_logprobs, mask, options)


def pear_block(
    logprobs: Tensor, behavior_logprobs: Tensor | None, mask: Tensor, options: PearBlockOptions
) -> ObjectiveOutput:
    """PEAR, block level."""
    return _pear("block", logprobs, behavior_logprobs, mask, options)


def no_sft(
    logprobs: Tensor, behavior_logprobs: Tensor | None, mask: Tensor, options: NoSFTOptions
) -> ObjectiveOutput:
    """The ``none`` control has no SFT stage, hence no loss."""
    raise PearbenchError("method 'none' runs no SFT stage, so it has no loss; check Method.runs_sft first")


_PEAR_FLAGS: dict[str, Any] = {"needs_behavior_logprobs": True, "weighted": True, "paper": PAPER_PEAR}

#: Keyword arguments of :class:`~pearbench.train.methods.Method` for each bundled method, in registration order.
BUNDLED_METHODS: tuple[dict[str, Any], ...] = (
    {
        "name": "sft",
        "description": "Canonical SFT: unweighted token NLL.",
        "loss": sft,
        "options_class": SFTOptions,
        "paper": "standard supervised fine-tuning",
    },
    {
        "name": "dft",
        "description": "Dynamic fine-tuning: NLL weighted by the stop-gradient token probability.",
        "loss": dft,
        "options_class": DFTOptions,
        "weighted": True,
        "paper": PAPER_DFT,
    },
    {
        "name": "pear-seq",
        "description": "PEAR, sequence level: one clipped importance weight per sequence.",
        "loss": pear_seq,
        "options_class": PearSeqOptions,
        **_PEAR_FLAGS,
    },
    {
        "name": "pear-token",
        "description": "PEAR, token level: discounted importance ratio of the continuation after each token.",
        "loss": pear_token,
        "options_class": PearTokenOptions,
        **_PEAR_FLAGS,
    },
    {
        "name": "pear-block",
        "description": "PEAR, block level: discounted importance ratio of the blocks after each token's block.",
        "loss": pear_block,
        "options_class": PearBlockOptions,
        **_PEAR_FLAGS,
    },
    {
        "name": "none",
        "description": "Control: no SFT stage; RL straight from the base model.",
        "loss": no_sft,
        "options_class": NoSFTOptions,
        "runs_sft": False,
        "paper": "pearbench control (docs/design.md §2)",
    },
)
