"""Profiles (docs/design.md §8): every size and shared hyperparameter of a run, read, merged and validated in one place.

A profile is a TOML file with the tables ``models``, ``data``, ``base_pretrain``, ``teacher_pretrain``,
``behavior``, ``sft``, ``rl``, ``eval`` and ``log`` (training-curve backends, not part of any stage key) plus a
few top-level keys (``threads``, ``device``, ...). Bundled profiles live in ``pearbench/data/profiles/*.toml``
(``smoke``, ``small``, ``paper``); any path to a TOML file works too.
``--config FILE`` overrides profile keys (deep merge) and is recorded in every result.

Every table is a settings dataclass (:mod:`pearbench.settings`): each field carries its doc, type and range, and
validation is derived from them, so a bad value is one clear error naming the table and key before any work
(``[rl] group_size: expected an integer, got 4.5``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pearbench.errors import PearbenchError, unknown
from pearbench.hashing import config_hash
from pearbench.io import load_toml, read_toml
from pearbench.models.families import TINY_SIZES
from pearbench.settings import SettingError, Settings, build, check_value, setting
from pearbench.train.grpo import GRPOConfig
from pearbench.train.metrics_log import LogConfig
from pearbench.train.sft import SFTConfig


@dataclass(frozen=True)
class ModelsConfig(Settings):
    """Which models play base/student and teacher, and the tokenizer they share.

    A tiny size is trained from scratch by the base/teacher stage. A pretrained model (``hf:<hub id or folder>`` or
    ``smollm2-135m``) is used as it is when its ``*_pretrain.steps`` is 0, and otherwise trained further on the
    stage's trace corpus. Base, teacher and student must share one vocabulary (log-ratios compare token ids), so with
    a pretrained model ``tokenizer`` names that model's tokenizer (a hub id, a folder, ``hf:...`` or
    ``smollm2-135m``), never ``char``.
    """

    TABLE = "models"
    tokenizer: str = setting(
        "char",
        doc='"char" (pearbench\'s character-level tokenizer), a Hugging Face id/folder (optionally hf:-prefixed) or '
        "smollm2-135m: the tokenizer all models share",
    )
    student: str = setting("tiny-2x128", doc="tiny size name (TINY_SIZES) or hf:<id-or-path> / smollm2-135m")
    teacher: str = setting("tiny-3x192", doc="tiny size name (TINY_SIZES) or hf:<id-or-path> / smollm2-135m")
    chat_template: bool = setting(
        False, doc="render each prompt as one user message with the tokenizer's chat template"
    )
    dtype: str = setting(
        "float32",
        doc='"float32", or "bfloat16": forward passes of training, sampling and scoring under bf16 autocast, '
        "weights and AdamW state stay float32 (docs/scale.md)",
        choices=("float32", "bfloat16"),
    )
    gradient_checkpointing: bool = setting(
        False,
        doc="recompute activations in the backward pass of every training stage (less memory, ~1/3 more "
        "compute; the same numbers)",
    )

    def check(self) -> None:
        from pearbench.models.loading import HF_PREFIX, SMOLLM2, model_choices, strip_hf_prefix

        for role in ("tokenizer", "student", "teacher"):
            if not getattr(self, role).strip():
                raise SettingError(f"{role}: must be a non-empty string")
        for role in ("student", "teacher"):
            spec = getattr(self, role)
            if spec not in TINY_SIZES and spec != SMOLLM2 and not spec.startswith(HF_PREFIX):
                raise SettingError(
                    f"{role}: unknown model {spec!r}; choose one of: {', '.join(model_choices())}"
                )
            if spec.startswith(HF_PREFIX) and not strip_hf_prefix(spec):
                raise SettingError(f"{role}: {spec!r} names no model; write hf:<hub id or local folder>")
        pretrained = [r for r in ("student", "teacher") if getattr(self, r) not in TINY_SIZES]
        if pretrained and self.tokenizer == "char":
            raise SettingError(
                f"tokenizer: is 'char' but the {pretrained[0]} {getattr(self, pretrained[0])!r} is a "
                "pretrained model with its own vocabulary; set it to that model's tokenizer "
                "(base, teacher and student must share one)"
            )


@dataclass(frozen=True)
class DataConfig(Settings):
    """Split sizes of the suite's tasks (instances per split, over all its environments)."""

    TABLE = "data"
    train: int = setting(3000, doc="training instances (SFT prompts of the teacher, RL prompts)", ge=1)
    validation: int = setting(100, doc="validation instances (the fixed RL monitor prompts)", ge=1)
    test: int = setting(200, doc="test instances (pass@k after each stage)", ge=1)


@dataclass(frozen=True)
class PretrainConfig(Settings):
    """Pretraining of the default base model / teacher on a trace corpus (plain NLL over the response tokens).

    ``steps = 0`` means "use a pretrained model as it is" (only for ``hf:`` / ``smollm2-135m`` models)."""

    TABLE = "pretrain"
    steps: int = setting(400, doc="optimizer steps (0: use a pretrained model as it is)", ge=0)
    batch_size: int = setting(32, doc="sequences per step", ge=1)
    lr: float = setting(2e-3, doc="peak learning rate (warm-up, then cosine decay)", gt=0)
    warmup_steps: int = setting(30, doc="linear warm-up steps", ge=0)
    weight_decay: float = setting(0.0, doc="AdamW weight decay", ge=0)
    checkpoint_every: int = setting(100, doc="steps between checkpoints (resume points)", ge=1)


@dataclass(frozen=True)
class BehaviorConfig(Settings):
    """Teacher sampling for the SFT data (only verified-correct traces are kept)."""

    TABLE = "behavior"
    sft_examples: int = setting(2000, doc="verified teacher traces to collect (the SFT data)", ge=1)
    temperature: float = setting(1.0, doc="sampling temperature of the teacher", gt=0)
    top_p: float = setting(1.0, doc="nucleus sampling threshold", gt=0, le=1)
    max_new_tokens: int = setting(96, doc="longest trace sampled", ge=1)
    min_yield: float = setting(
        0.1,
        doc="the teacher samples passes over the training prompts until it has sft_examples verified traces: "
        "three, then more while at least this share of sampled traces verify (as many as a teacher of exactly this "
        "yield needs, at most 100); the stage fails (naming the yield) when fewer verify or the traces fall short",
        ge=0,
        le=1,
    )
    batch_size: int = setting(256, doc="prompts sampled together", ge=1)
    backend: str = setting(
        "hf",
        doc='sampler of the teacher\'s traces: "hf" (pearbench\'s) or "vllm" (an engine with the [eval] vllm_* '
        "settings; the behavior log-probs are then recomputed by a forward pass of the teacher, and their "
        "agreement with vLLM's is in the stage's stats)",
        choices=("hf", "vllm"),
    )

    def check(self) -> None:
        if self.backend == "vllm" and (self.temperature != 1.0 or self.top_p != 1.0):
            raise SettingError(
                'backend: "vllm" records the teacher\'s own log-probs (a forward pass at temperature 1), so it '
                f"needs temperature = 1 and top_p = 1; got temperature {self.temperature}, top_p {self.top_p}"
            )

    def key(self) -> dict[str, Any]:
        """The behavior stage's key: every field, ``backend`` only when not "hf" (older keys stay as they were)."""
        key = dict(self.__dict__)
        if key["backend"] == "hf":
            del key["backend"]
        return key


@dataclass(frozen=True)
class EvalConfig(Settings):
    """pass@k evaluation of the base, teacher, SFT and RL models (games) and of held-out math sets."""

    TABLE = "eval"
    n: int = setting(16, doc="samples per test problem", ge=1)
    temperature: float = setting(1.0, doc="sampling temperature", gt=0)
    top_p: float = setting(1.0, doc="nucleus sampling threshold", gt=0, le=1)
    max_new_tokens: int = setting(96, doc="longest completion sampled", ge=1)
    ks: tuple[int, ...] = setting((1, 2, 4, 8, 16), doc="the k of pass@k reported", ge=1)
    batch_size: int = setting(256, doc="prompts sampled together", ge=1)
    heldout: tuple[str, ...] = setting(
        (),
        doc="held-out math sets (pearbench.verify.datasets names) evaluated for the base, SFT and RL models",
    )
    heldout_files: dict[str, str] = setting(
        default_factory=dict,
        doc="local copies of those sets (name -> JSONL/parquet path); a set without one is loaded from the hub",
    )
    heldout_n: int | None = setting(None, doc="samples per held-out problem (default: n)", ge=1)
    heldout_max_new_tokens: int | None = setting(
        None, doc="longest held-out completion (default: max_new_tokens)", ge=1
    )
    heldout_limit: int | None = setting(None, doc="only the first N problems of each held-out set", ge=1)
    backend: str = setting(
        "hf", doc='sampler of the evaluation stages: "hf" (pearbench\'s) or "vllm"', choices=("hf", "vllm")
    )
    vllm_dtype: str = setting("float32", doc="vLLM engine dtype")
    vllm_memory: float | None = setting(
        None, doc="vLLM gpu_memory_utilization (None: vLLM's default)", gt=0, le=1
    )
    vllm_eager: bool = setting(False, doc="vLLM enforce_eager")

    def check(self) -> None:
        from pearbench.verify.datasets import DATASETS

        for name in self.heldout:
            if name not in DATASETS:
                raise SettingError(
                    f"heldout: unknown held-out dataset {name!r}; choose from: {', '.join(DATASETS)}"
                )
        if len(set(self.heldout)) != len(self.heldout):
            raise SettingError("heldout: lists a dataset twice")
        for name, path in self.heldout_files.items():
            if name not in self.heldout:
                raise SettingError(f"heldout_files: names {name!r}, which is not in heldout")
            if not path:
                raise SettingError(f"heldout_files: {name} must be a file path, got {path!r}")


#: Top-level keys of a profile (besides its tables): name -> (type, metadata) checked like table fields.
_TOP_LEVEL = {
    "name": (str, {"doc": "profile name"}),
    "description": (str, {"doc": "one line shown by pearbench"}),
    "threads": (int, {"doc": "torch threads (PEARBENCH_THREADS overrides)", "ge": 1}),
    "device": (str, {"doc": "where the stages put the models", "choices": ("cpu", "cuda", "auto")}),
    "requires_gpu": (bool, {"doc": "refuse to run without a CUDA GPU"}),
}
_TABLES = {
    "models": ModelsConfig,
    "data": DataConfig,
    "base_pretrain": PretrainConfig,
    "teacher_pretrain": PretrainConfig,
    "behavior": BehaviorConfig,
    "sft": SFTConfig,
    "rl": GRPOConfig,
    "eval": EvalConfig,
    "log": LogConfig,
}


@dataclass(frozen=True)
class Profile:
    """A validated profile: its tables as settings objects, and the raw (merged) TOML it came from."""

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
    eval: EvalConfig
    raw: dict[str, Any] = field(repr=False)
    override_file: str | None = None
    #: "cpu", "cuda" or "auto" (CUDA when available): where the stages put the models
    device: str = "cpu"
    #: ``[log]``: training-curve backends (not part of any stage key)
    log: LogConfig = field(default_factory=LogConfig)
    #: a suite's ``max_new_tokens`` that raised the behavior/RL/eval limits (suites.apply_trace_budget); None: none
    trace_budget: int | None = None

    @property
    def eval_table(self) -> dict[str, Any]:
        """The ``[eval]`` table as written (only the keys set), with the evaluation limit a suite's trace budget set:
        part of the evaluation stages' cache keys."""
        table = dict(self.raw.get("eval", {}))
        if self.trace_budget is not None:
            table["max_new_tokens"] = self.eval.max_new_tokens
        return table

    def torch_device(self) -> str:
        """The torch device the stages use for this profile."""
        return resolve_device(self.device)

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


def resolve_device(device: str) -> str:
    """``cpu`` / ``cuda`` as given; ``auto``: CUDA when available, else CPU."""
    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


# -- reading and merging ------------------------------------------------------------------------------------------
def bundled_profiles() -> list[str]:
    return sorted(
        p.name[:-5]
        for p in resources.files("pearbench.data").joinpath("profiles").iterdir()
        if p.name.endswith(".toml")
    )


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_profile_raw(name_or_path: str) -> dict[str, Any]:
    """The profile's TOML content (bundled name or path), unvalidated."""
    if name_or_path.endswith(".toml") or "/" in name_or_path:
        data = read_toml(name_or_path, "profile")
        data.setdefault("name", Path(name_or_path).stem)
        return data
    if name_or_path not in bundled_profiles():
        raise unknown("profile", name_or_path, bundled_profiles(), suggest=True)
    data = load_toml(
        resources.files("pearbench.data").joinpath("profiles", f"{name_or_path}.toml"), "profile"
    )
    data.setdefault("name", name_or_path)
    return data


def rl_recipe_hash(profile: str | dict[str, Any]) -> str:
    """Hash of the RL recipe (the profile's ``rl`` table): identical for every method of a profile."""
    data = load_profile_raw(profile) if isinstance(profile, str) else profile
    if "rl" not in data:
        raise PearbenchError("profile has no [rl] table")
    return config_hash({"rl": data["rl"]})


def default_recipe_hashes(method: str, profile: str) -> tuple[str, str]:
    """The committed recipes' hashes: ``recipe_hash(method)`` and ``rl_recipe_hash(profile)`` (leaderboard check).

    ``method`` may be a method label: ``pear-token+gamma=0.99`` gives the hash of the recipe with that option."""
    from pearbench.train.methods import recipe_hash

    return recipe_hash(method), rl_recipe_hash(profile)


def load_profile(name_or_path: str, config_file: str | None = None) -> Profile:
    """Read a profile (bundled name or TOML path), merge ``config_file`` over it and validate every key."""
    raw = load_profile_raw(name_or_path)
    override_file = None
    if config_file:
        override = read_toml(config_file, "config")
        override.pop("name", None)
        raw = deep_merge(raw, override)
        override_file = str(config_file)
    for key, value in raw.items():
        if key in _TOP_LEVEL:
            check_value("profile", key, value, *_TOP_LEVEL[key])
        elif key not in _TABLES:
            allowed = sorted([*_TOP_LEVEL, *_TABLES])
            raise SettingError(f"[profile] {key}: unknown key; allowed: {', '.join(allowed)}")
    tables = {key: build(cls, raw.get(key, {}), key) for key, cls in _TABLES.items()}
    for where, role in (("base_pretrain", "student"), ("teacher_pretrain", "teacher")):
        spec = getattr(tables["models"], role)
        if tables[where].steps == 0 and spec in TINY_SIZES:
            raise SettingError(
                f"[{where}] steps: is 0 but the {role} {spec!r} is trained from scratch; give it steps > 0 "
                "(0 means 'use a pretrained model as it is')"
            )
    return Profile(
        name=str(raw.get("name")),
        description=str(raw.get("description", "")),
        threads=raw.get("threads", 2),
        requires_gpu=raw.get("requires_gpu", False),
        raw=raw,
        override_file=override_file,
        device=raw.get("device", "cpu"),
        **tables,
    )
