"""Validated profiles (DESIGN §8): every size and shared hyperparameter of a run.

:func:`load_profile` reads a bundled profile or a TOML path, deep-merges an optional ``--config FILE`` over it, and
validates every key: an unknown key or an out-of-range value is one clear error naming the key, before any work.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from pearbench.errors import PearbenchError
from pearbench.harness.profiles import deep_merge, load_profile_raw, read_toml
from pearbench.hashing import config_hash
from pearbench.models.families import TINY_SIZES
from pearbench.train.grpo import GRPOConfig
from pearbench.train.sft import SFTConfig

_TABLES = {
    "name",
    "description",
    "threads",
    "device",
    "requires_gpu",
    "models",
    "data",
    "base_pretrain",
    "teacher_pretrain",
    "behavior",
    "sft",
    "rl",
    "eval",
}


@dataclass(frozen=True)
class ModelsConfig:
    """Which models play base/student and teacher, and the tokenizer they share.

    A tiny size is trained from scratch by the base/teacher stage. A pretrained model (``hf:<hub id or folder>`` or
    ``smollm2-135m``) is used as it is when its ``*_pretrain.steps`` is 0, and otherwise trained further on the
    stage's trace corpus. Base, teacher and student must share one vocabulary (log-ratios compare token ids), so with
    a pretrained model ``tokenizer`` names that model's tokenizer (a hub id, a folder, ``hf:...`` or
    ``smollm2-135m``), never ``char``.
    """

    #: "char" (pearbench's character-level tokenizer), a Hugging Face id/folder (optionally hf:-prefixed) or
    #: smollm2-135m: the tokenizer all models share
    tokenizer: str = "char"
    #: tiny size name (see pearbench.models.families.TINY_SIZES) or hf:<id-or-path> / smollm2-135m
    student: str = "tiny-2x128"
    teacher: str = "tiny-3x192"
    #: render each prompt as one user message with the tokenizer's chat template (instruction-tuned models)
    chat_template: bool = False

    def __post_init__(self) -> None:
        from pearbench.models.loading import HF_PREFIX, SMOLLM2, model_choices, strip_hf_prefix

        for role in ("tokenizer", "student", "teacher"):
            value = getattr(self, role)
            if not isinstance(value, str) or not value.strip():
                raise PearbenchError(f"{role} must be a non-empty string, got {value!r}")
        for role in ("student", "teacher"):
            spec = getattr(self, role)
            if spec not in TINY_SIZES and spec != SMOLLM2 and not spec.startswith(HF_PREFIX):
                raise PearbenchError(
                    f"unknown {role} model {spec!r}; choose one of: {', '.join(model_choices())}"
                )
            if spec.startswith(HF_PREFIX) and not strip_hf_prefix(spec):
                raise PearbenchError(f"{role} {spec!r} names no model; write hf:<hub id or local folder>")
        pretrained = [r for r in ("student", "teacher") if getattr(self, r) not in TINY_SIZES]
        if pretrained and self.tokenizer == "char":
            raise PearbenchError(
                f"models.tokenizer is 'char' but the {pretrained[0]} {getattr(self, pretrained[0])!r} is a "
                "pretrained model with its own vocabulary; set models.tokenizer to that model's tokenizer "
                "(base, teacher and student must share one)"
            )
        if not isinstance(self.chat_template, bool):
            raise PearbenchError(f"chat_template must be true or false, got {self.chat_template!r}")


@dataclass(frozen=True)
class DataConfig:
    train: int = 3000
    validation: int = 100
    test: int = 200


@dataclass(frozen=True)
class PretrainConfig:
    """Pretraining of the default base model / teacher on a trace corpus (plain NLL over the response tokens)."""

    steps: int = 400
    batch_size: int = 32
    lr: float = 2e-3
    warmup_steps: int = 30
    weight_decay: float = 0.0
    checkpoint_every: int = 100


@dataclass(frozen=True)
class BehaviorConfig:
    """Teacher sampling for the SFT data (only verified-correct traces are kept)."""

    sft_examples: int = 2000
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 96
    #: the stage fails (naming the yield) when fewer than this share of sampled traces verify
    min_yield: float = 0.1
    batch_size: int = 256


@dataclass(frozen=True)
class EvalConfig:
    n: int = 16
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 96
    ks: tuple[int, ...] = (1, 2, 4, 8, 16)
    batch_size: int = 256
    #: held-out math sets (pearbench.verify.datasets names) evaluated for the base model, after SFT and after RL
    heldout: tuple[str, ...] = ()
    #: local copies of those sets (name -> JSONL/parquet path); a set without one is loaded from the hub
    heldout_files: dict[str, str] = field(default_factory=dict)
    #: samples per held-out problem (default: n) and their length (default: max_new_tokens)
    heldout_n: int | None = None
    heldout_max_new_tokens: int | None = None
    #: only the first N problems of each held-out set (quick checks)
    heldout_limit: int | None = None
    #: sampler of the evaluation stages (games and held-out sets): "hf" (pearbench's) or "vllm" (a vLLM engine)
    backend: str = "hf"
    #: vLLM engine settings: dtype, gpu_memory_utilization (None: vLLM's default), enforce_eager
    vllm_dtype: str = "float32"
    vllm_memory: float | None = None
    vllm_eager: bool = False

    def __post_init__(self) -> None:
        from pearbench.verify.datasets import DATASETS

        if not isinstance(self.heldout, tuple):
            raise PearbenchError(f"heldout must be a list of dataset names, got {self.heldout!r}")
        for name in self.heldout:
            if name not in DATASETS:
                raise PearbenchError(f"unknown held-out dataset {name!r}; choose from: {', '.join(DATASETS)}")
        if len(set(self.heldout)) != len(self.heldout):
            raise PearbenchError("heldout lists a dataset twice")
        if not isinstance(self.heldout_files, dict):
            raise PearbenchError("heldout_files must be a table of dataset name = file path")
        for name, path in self.heldout_files.items():
            if name not in self.heldout:
                raise PearbenchError(f"heldout_files names {name!r}, which is not in heldout")
            if not isinstance(path, str) or not path:
                raise PearbenchError(f"heldout_files.{name} must be a file path, got {path!r}")
        if self.backend not in ("hf", "vllm"):
            raise PearbenchError(f"backend must be 'hf' or 'vllm', got {self.backend!r}")
        from pearbench.models.vllm import check_memory_share

        check_memory_share(self.vllm_memory, "vllm_memory")
        for key in ("heldout_n", "heldout_max_new_tokens", "heldout_limit"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise PearbenchError(f"{key} must be a whole number >= 1, got {value!r}")


def _build(cls, table: dict[str, Any], where: str):
    allowed = {f.name for f in fields(cls)}
    bad = sorted(set(table) - allowed)
    if bad:
        raise PearbenchError(f"unknown key {where}.{bad[0]}; allowed: {', '.join(sorted(allowed))}")
    values = dict(table)
    for f in fields(cls):
        if f.name in values and isinstance(values[f.name], list):
            values[f.name] = tuple(values[f.name])
    try:
        return cls(**values)
    except PearbenchError as exc:
        raise PearbenchError(f"{where}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise PearbenchError(f"invalid value in {where}: {exc}") from None


def _positive(where: str, **values: float) -> None:
    for key, value in values.items():
        if not isinstance(value, (int, float)) or not value > 0:
            raise PearbenchError(f"{where}.{key} must be > 0, got {value!r}")


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    threads: int
    requires_gpu: bool
    models: ModelsConfig
    data: DataConfig
    base_pretrain: PretrainConfig
    teacher_pretrain: PretrainConfig
    behavior: BehaviorConfig
    sft: SFTConfig
    rl: GRPOConfig
    eval: dict[str, Any]
    eval_config: EvalConfig
    raw: dict[str, Any] = field(repr=False)
    override_file: str | None = None
    #: "cpu", "cuda" or "auto" (CUDA when available): where the stages put the models
    device: str = "cpu"

    def torch_device(self) -> str:
        """The torch device the stages use for this profile."""
        if self.device == "auto":
            import torch

            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.device

    @property
    def hash(self) -> str:
        return config_hash(self.raw)

    def check_runnable(self) -> None:
        """Refuse (clearly) a GPU profile where no GPU is available."""
        if self.requires_gpu or self.device == "cuda":
            import torch

            if not torch.cuda.is_available():
                raise PearbenchError(
                    f"profile {self.name!r} needs a CUDA GPU and real models (see its description); "
                    "none is available here. Use --profile small or --profile smoke on CPU."
                )


def load_profile(name_or_path: str, config_file: str | None = None) -> Profile:
    raw = load_profile_raw(name_or_path)
    override_file = None
    if config_file:
        override = read_toml(config_file, "config")
        override.pop("name", None)
        raw = deep_merge(raw, override)
        override_file = str(config_file)
    bad = sorted(set(raw) - _TABLES)
    if bad:
        raise PearbenchError(f"unknown profile key {bad[0]!r}; allowed: {', '.join(sorted(_TABLES))}")
    data = _build(DataConfig, raw.get("data", {}), "data")
    _positive("data", train=data.train, validation=data.validation, test=data.test)
    base = _build(PretrainConfig, raw.get("base_pretrain", {}), "base_pretrain")
    teacher = _build(PretrainConfig, raw.get("teacher_pretrain", {}), "teacher_pretrain")
    models = _build(ModelsConfig, raw.get("models", {}), "models")
    for where, cfg, role in (("base_pretrain", base, "student"), ("teacher_pretrain", teacher, "teacher")):
        spec = getattr(models, role)
        if not isinstance(cfg.steps, int) or cfg.steps < 0:
            raise PearbenchError(f"{where}.steps must be a whole number >= 0, got {cfg.steps!r}")
        if cfg.steps == 0 and spec in TINY_SIZES:
            raise PearbenchError(
                f"{where}.steps is 0 but the {role} {spec!r} is trained from scratch; give it steps > 0 "
                "(0 means 'use a pretrained model as it is')"
            )
        _positive(
            where,
            batch_size=cfg.batch_size,
            lr=cfg.lr,
            checkpoint_every=cfg.checkpoint_every,
        )
    behavior = _build(BehaviorConfig, raw.get("behavior", {}), "behavior")
    _positive(
        "behavior",
        sft_examples=behavior.sft_examples,
        temperature=behavior.temperature,
        max_new_tokens=behavior.max_new_tokens,
        batch_size=behavior.batch_size,
    )
    if not 0 < behavior.top_p <= 1 or not 0 <= behavior.min_yield <= 1:
        raise PearbenchError("behavior.top_p must be in (0, 1] and behavior.min_yield in [0, 1]")
    sft_table = dict(raw.get("sft", {}))
    if "betas" in sft_table:
        sft_table["betas"] = tuple(sft_table["betas"])
    sft = _build(SFTConfig, sft_table, "sft")
    rl = _build(GRPOConfig, raw.get("rl", {}), "rl")
    eval_config = _build(EvalConfig, raw.get("eval", {}), "eval")
    _positive(
        "eval",
        n=eval_config.n,
        temperature=eval_config.temperature,
        max_new_tokens=eval_config.max_new_tokens,
    )
    if any(k < 1 for k in eval_config.ks):
        raise PearbenchError("eval.ks must all be >= 1")
    threads = int(raw.get("threads", 2))
    if threads < 1:
        raise PearbenchError(f"threads must be >= 1, got {threads}")
    device = raw.get("device", "cpu")
    if device not in ("cpu", "cuda", "auto"):
        raise PearbenchError(f"device must be one of cpu, cuda, auto; got {device!r}")
    return Profile(
        name=str(raw.get("name")),
        description=str(raw.get("description", "")),
        threads=threads,
        requires_gpu=bool(raw.get("requires_gpu", False)),
        models=models,
        data=data,
        base_pretrain=base,
        teacher_pretrain=teacher,
        behavior=behavior,
        sft=sft,
        rl=rl,
        eval=dict(raw.get("eval", {})),
        eval_config=eval_config,
        raw=raw,
        override_file=override_file,
        device=device,
    )
