"""Numeric precision of training and sampling (docs/scale.md, "Precision and memory").

pearbench keeps **float32 master weights and float32 AdamW state** and, with ``[models] dtype = "bfloat16"``, runs
the forward passes (training, rescoring, sampling) under ``torch.autocast(dtype=torch.bfloat16)``: matrix products
in bf16, reductions and the log-prob arithmetic in float32. bf16 *weights* would round every AdamW update to 8
mantissa bits, and PEAR's small log-weight differences (and GRPO's small learning rates) then vanish in the
rounding; autocast keeps the update exact at the cost of the float32 weight copy.

``gradient_checkpointing`` (a memory knob, not a numerics one) recomputes each layer's activations in the backward
pass instead of storing them (``model.gradient_checkpointing_enable()`` on transformers models).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch

from pearbench.errors import PearbenchError

#: The accepted ``[models] dtype`` values; the first is the default.
DTYPES = ("float32", "bfloat16")
DEFAULT_DTYPE = DTYPES[0]


def check_dtype(dtype: str) -> str:
    """``dtype`` when it is one of :data:`DTYPES`, else a :class:`PearbenchError` naming the choices."""
    if dtype not in DTYPES:
        raise PearbenchError(f"dtype: must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return dtype


def torch_dtype(dtype: str) -> torch.dtype:
    """The torch dtype of a ``[models] dtype`` name."""
    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[check_dtype(dtype)]


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a model without parameters)."""
    for parameter in model.parameters():
        return parameter.device
    return torch.device("cpu")


def autocast(device: torch.device | str, dtype: str) -> contextlib.AbstractContextManager:
    """The forward-pass context of ``dtype`` on ``device``: bf16 autocast for "bfloat16", nothing for "float32".

    torch supports bf16 autocast on CPU too (oneDNN bf16 kernels where the CPU has them, emulated otherwise), so a
    bf16 run behaves the same way on a laptop as on a GPU, only slower.
    """
    if check_dtype(dtype) == "float32":
        return contextlib.nullcontext()
    device_type = torch.device(device).type
    return torch.autocast(device_type=device_type, dtype=torch.bfloat16)


def model_autocast(model: torch.nn.Module, dtype: str) -> contextlib.AbstractContextManager:
    """:func:`autocast` on the device of ``model``."""
    return autocast(model_device(model), dtype)


def enable_gradient_checkpointing(model: torch.nn.Module, enabled: bool) -> Callable[[], None]:
    """Make ``model`` recompute activations in the backward pass (when ``enabled``); returns the function that
    turns it off again (a no-op when not ``enabled``).

    Non-reentrant checkpointing (``use_reentrant=False``): correct with several backward passes per step (gradient
    accumulation) and with inputs that need no gradient; transformers models only (``gradient_checkpointing_enable``).
    Checkpointing acts in training mode only, so sampling from the model in between (GRPO) runs as usual.
    """
    if not enabled:
        return lambda: None
    enable = getattr(model, "gradient_checkpointing_enable", None)
    if enable is None or not getattr(model, "supports_gradient_checkpointing", False):
        raise PearbenchError(
            f"gradient_checkpointing: the model {type(model).__name__} does not support it; set it to false"
        )
    enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model.gradient_checkpointing_disable
