"""The stages of a run (DESIGN §1). Each takes the :class:`~pearbench.harness.Harness` and returns its outputs,
reusing the content-addressed cache folder when its ``done.json`` exists."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from pearbench.corpus import prompt_text, trace_corpus
from pearbench.errors import PearbenchError
from pearbench.evaluate import evaluate_policy
from pearbench.generation import GenerationConfig, HFBackend, score_responses
from pearbench.hashing import config_hash
from pearbench.io import atomic_write_json
from pearbench.models import (
    TINY_SIZES,
    build_char_tokenizer,
    build_tiny_model,
    encode_prompt,
    load_model,
    read_pointer,
    resolve_model,
    save_model,
    write_pointer,
)

if TYPE_CHECKING:
    from pearbench.harness import Harness, StageDir


def _stage(h: Harness, name: str, key: dict[str, Any]) -> StageDir:
    from pearbench.harness import StageDir

    return StageDir(h.out, name, key)


def _log(message: str) -> None:
    from pearbench.harness import _log as log

    log(message)


# -- tasks ------------------------------------------------------------------------------------------------------
def tasks(h: Harness):
    from pearbench.envs.base import Instance
    from pearbench.envs.splits import make_splits

    sizes = {
        "train": h.profile.data.train,
        "validation": h.profile.data.validation,
        "test": h.profile.data.test,
    }
    key = {"envs": [e.__dict__ for e in h.suite.envs], "sizes": sizes, "prompt_style": h.suite.prompt_style}
    stage = _stage(h, "tasks", key)
    path = stage.path / "splits.json"
    if stage.done:
        data = json.loads(path.read_text())
        return {k: [Instance.from_dict(d) for d in v] for k, v in data.items()}, stage
    total_weight = sum(e.weight for e in h.suite.envs)
    splits: dict[str, list[Any]] = {"train": [], "validation": [], "test": []}
    for spec in h.suite.envs:
        share = {k: max(1, round(v * spec.weight / total_weight)) for k, v in sizes.items()}
        made = make_splits(h.games[spec.name], share)
        for split, items in made.items():
            splits[split].extend(items)
    atomic_write_json(path, {k: [i.to_dict() for i in v] for k, v in splits.items()}, indent=None)
    stage.finish({"sizes": {k: len(v) for k, v in splits.items()}})
    _log(f"  tasks: {', '.join(f'{k} {len(v)}' for k, v in splits.items())}")
    return splits, stage


# -- tokenizer ----------------------------------------------------------------------------------------------------
def tokenizer(h: Harness):
    """The tokenizer every model of the run shares (``[models] tokenizer``), loaded once per harness."""
    cached = getattr(h, "_shared_tokenizer", None)
    if cached is not None:
        return cached
    if h.profile.models.tokenizer != "char":
        from pearbench.hub import load_tokenizer

        tok = load_tokenizer(h.profile.models.tokenizer)
    else:
        tok = build_char_tokenizer()
    h._shared_tokenizer = tok
    return tok


def encode(h: Harness, tok, text: str) -> list[int]:
    """A prompt's token ids as every stage encodes it (chat template when ``[models] chat_template``)."""
    return encode_prompt(tok, text, chat=h.profile.models.chat_template)


def _sft_objective():
    from pearbench.methods import load_recipe

    method, options = load_recipe("sft")
    return method.loss, options


# -- base and teacher ---------------------------------------------------------------------------------------------
def _pretrain_spec(h: Harness, role: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(stage key, corpus knobs) of the base ("base") or teacher ("teacher") pretraining stage."""
    cfg = h.profile.base_pretrain if role == "base" else h.profile.teacher_pretrain
    suite = h.suite
    if role == "base":
        corpus_spec = {
            "style": suite.base_style,
            "other_style": suite.teacher_style,
            "other_style_share": suite.teacher_style_share,
            "noise": suite.base_noise,
        }
    else:
        corpus_spec = {
            "style": suite.teacher_style,
            "other_style": None,
            "other_style_share": 0.0,
            "noise": 0.0,
        }
    spec = h.profile.models.student if role == "base" else h.profile.models.teacher
    key = {
        "role": role,
        "size": spec,
        "pretrain": cfg.__dict__,
        "corpus": corpus_spec,
        "seed": suite.base_seed if role == "base" else suite.teacher_seed,
        "envs": [e.__dict__ for e in suite.envs],
        "prompt_style": suite.prompt_style,
        "train_size": h.profile.data.train,
    }
    # added only where they differ from the defaults, so the keys of existing char-level runs stay as they were
    if h.profile.models.tokenizer != "char":
        key["tokenizer"] = h.profile.models.tokenizer
    if h.profile.models.chat_template:
        key["chat_template"] = True
    if spec not in TINY_SIZES:
        from pearbench.hub import model_fingerprint

        key["pretrained"] = model_fingerprint(spec)
    return key, corpus_spec


def pretrain(h: Harness, role: str, splits, tok):
    """The base model (role "base") or teacher (role "teacher").

    A tiny size is trained from scratch on the role's trace corpus. A pretrained model (``hf:...`` or
    ``smollm2-135m``) is used as it is when the role's pretraining ``steps`` is 0 (the stage then holds a pointer to
    it, not a copy of its weights), and otherwise trained further on that corpus and saved.
    """
    from pearbench.sft import SFTConfig, train_sft

    cfg = h.profile.base_pretrain if role == "base" else h.profile.teacher_pretrain
    key, corpus_spec = _pretrain_spec(h, role)
    size, seed, suite = key["size"], key["seed"], h.suite
    stage = _stage(h, role, key)
    model_dir = stage.path / "model"
    if stage.done:
        _log(f"  {role}: cached ({stage.path})")
        return model_dir, stage
    if size in TINY_SIZES:
        model = build_tiny_model(size, tok, seed=seed)
    else:
        if cfg.steps == 0:
            write_pointer(model_dir, size)
            stage.finish({"pretrained": size, "steps": 0})
            _log(f"  {role}: pretrained model {size}, used as it is")
            return model_dir, stage
        model, _ = resolve_model(size, dtype=torch.float32)
    model = model.to(h.profile.torch_device())
    corpus = trace_corpus(
        h.games,
        splits["train"],
        tok,
        size=cfg.steps * cfg.batch_size,
        prompt_style=suite.prompt_style,
        seed=seed,
        chat=h.profile.models.chat_template,
        **corpus_spec,
    )
    loss, options = _sft_objective()
    log = train_sft(
        model,
        corpus,
        objective=loss,
        options=options,
        config=SFTConfig(
            steps=cfg.steps,
            batch_size=cfg.batch_size,
            micro_batch_size=cfg.batch_size,
            lr=cfg.lr,
            warmup_steps=cfg.warmup_steps,
            weight_decay=cfg.weight_decay,
            checkpoint_every=cfg.checkpoint_every,
        ),
        seed=seed,
        pad_id=tok.pad_token_id,
        checkpoint_dir=stage.path / "ckpt",
        progress=h.request.progress,
        desc=f"pretrain {role}",
    )
    save_model(model, tok, model_dir)
    final_nll = float(np.mean([e.get("nll", float("nan")) for e in log[-20:]])) if log else float("nan")
    stage.finish({"final_nll": final_nll, "corpus_size": len(corpus)})
    _log(f"  {role}: pretrained {size} for {cfg.steps} steps (final nll {final_nll:.3f})")
    return model_dir, stage


def check_models(h: Harness) -> None:
    """Before any work: every pretrained base/teacher shares the run's tokenizer; a vLLM sampler is importable."""
    if h.profile.eval_config.backend == "vllm":
        from pearbench.vllm_backend import _import_vllm

        _import_vllm()
    pretrained = [
        (role, spec)
        for role, spec in (("student", h.profile.models.student), ("teacher", h.profile.models.teacher))
        if spec not in TINY_SIZES
    ]
    if pretrained:
        tok = tokenizer(h)
        for role, spec in pretrained:
            _check_shared_vocab(h, spec, tok, role)


def _check_shared_vocab(h: Harness, spec: str, tok, role: str) -> None:
    """A pretrained base/teacher must share the run's tokenizer (log-ratios compare token ids)."""
    from pearbench.hub import load_tokenizer

    own = load_tokenizer(spec)
    if own.eos_token_id != tok.eos_token_id:
        raise PearbenchError(
            f"the {role} model {spec!r} ends responses with token {own.eos_token!r} but the run's tokenizer "
            f"{h.profile.models.tokenizer!r} with {tok.eos_token!r}; use the tokenizer of the same model family "
            "and variant (e.g. the Instruct tokenizer for Instruct models)"
        )
    if own.get_vocab() != tok.get_vocab():
        raise PearbenchError(
            f"the {role} model {spec!r} does not share the run's tokenizer {h.profile.models.tokenizer!r} "
            f"({len(own)} vs {len(tok)} tokens, or different ids); base, teacher and student must share one "
            "vocabulary: set [models] tokenizer to this model's tokenizer"
        )


def _load(h: Harness, model_dir: Path):
    """A stage's model on the profile's device (its saved folder, or the pretrained model its pointer names), with
    the run's shared tokenizer: every stage encodes prompts and stops on EOS with the same tokenizer."""
    spec = read_pointer(model_dir)
    if spec is not None:
        model, _ = resolve_model(spec, dtype=torch.float32)
    else:
        model, _ = load_model(model_dir, dtype=torch.float32)
    return model.to(h.profile.torch_device()), tokenizer(h)


# -- behavior data ------------------------------------------------------------------------------------------------
def behavior(h: Harness, splits, tok, teacher_dir: Path, teacher_stage: StageDir) -> dict[str, Any]:
    """Sample the teacher on training instances, keep verified-correct traces with their log-probs."""
    from pearbench.behavior import mismatch_stats, read_parquet, write_parquet

    cfg = h.profile.behavior
    base_stage_key = _base_key_hash(h)
    key = {
        "teacher": teacher_stage.hash,
        "base": base_stage_key,
        "behavior": cfg.__dict__,
        "seed": h.seed,
        "train": config_hash([i.id for i in splits["train"]]),
    }
    stage = _stage(h, "behavior", key)
    path = stage.path / "data.parquet"
    if stage.done:
        rows, meta = read_parquet(path, vocab_size=len(tok))
        _log(f"  behavior: cached, {len(rows)} traces")
        return {"rows": rows, "stats": stage.read_done()["stats"], "stage": stage}
    teacher, _ = _load(h, teacher_dir)
    gen = GenerationConfig(
        max_new_tokens=cfg.max_new_tokens,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        batch_size=cfg.batch_size,
    )
    if cfg.temperature != 1.0 or cfg.top_p != 1.0:
        _log(
            "  warning: teacher data sampled at temperature/top-p != 1: behavior log-probs are those of the "
            "processed distribution, not the teacher's own"
        )
    train = list(splits["train"])
    order = np.random.default_rng([h.seed, 11]).permutation(len(train))
    rows: list[dict[str, Any]] = []
    sampled = 0
    backend = HFBackend(teacher, tok)
    from tqdm.auto import tqdm

    bar = tqdm(
        total=cfg.sft_examples,
        desc="behavior data",
        disable=not h.request.progress,
        unit="trace",
        leave=False,
    )
    for attempt in range(3):
        for begin in range(0, len(order), cfg.batch_size):
            if len(rows) >= cfg.sft_examples:
                break
            chunk = [train[int(i)] for i in order[begin : begin + cfg.batch_size]]
            prompts = [encode(h, tok, prompt_text(h.games[i.env], i, h.suite.prompt_style)) for i in chunk]
            samples = backend.generate(prompts, n=1, config=gen, seed=hash_seed(h.seed, attempt, begin))
            sampled += len(samples)
            for sample in samples:
                instance = chunk[sample.prompt_index]
                if sample.finish_reason != "eos":
                    continue
                if (
                    h.games[instance.env].verify(instance, sample.text).correct
                    and len(rows) < cfg.sft_examples
                ):
                    rows.append(
                        {
                            "prompt_ids": prompts[sample.prompt_index],
                            "response_ids": sample.response_ids,
                            "behavior_logprobs": sample.logprobs,
                            "reward": 1.0,
                            "env": instance.env,
                            "instance_id": instance.id,
                            "source": "sampled",
                        }
                    )
                    bar.update(1)
        if len(rows) >= cfg.sft_examples:
            break
    bar.close()
    verified_yield = len(rows) / max(1, sampled)
    if len(rows) < cfg.sft_examples or verified_yield < cfg.min_yield:
        raise PearbenchError(
            f"teacher's verified yield is too low: {len(rows)} correct traces out of {sampled} sampled "
            f"(yield {verified_yield:.3f}; need {cfg.sft_examples} traces and yield >= {cfg.min_yield})"
        )
    base_model, _ = _load(h, h.out / "cache" / f"base-{base_stage_key}" / "model")
    base_lp = score_responses(
        base_model, [r["prompt_ids"] for r in rows], [r["response_ids"] for r in rows], tok.pad_token_id
    )
    stats = {"yield": verified_yield, "sampled": sampled, **mismatch_stats(base_lp, rows)}
    write_parquet(
        path, rows, {"teacher_stage": teacher_stage.hash, "generation": gen.to_dict(), "seed": h.seed}
    )
    stage.finish({"stats": stats})
    _log(
        f"  behavior: {len(rows)} verified traces (yield {verified_yield:.2f}); mismatch: mean log pi0 - log pi_beta "
        f"= {stats['mean_log_ratio']:.3f} per token"
    )
    return {"rows": rows, "stats": stats, "stage": stage}


def hash_seed(*parts: int) -> int:
    return int(np.random.default_rng([abs(int(p)) for p in parts]).integers(0, 2**62))


def _base_key_hash(h: Harness) -> str:
    """The base stage's hash (the same key as :func:`pretrain` uses)."""
    from pearbench.harness import StageDir

    return StageDir(h.out, "base", _pretrain_spec(h, "base")[0]).hash


# -- evaluation ---------------------------------------------------------------------------------------------------
def _gen_eval(h: Harness) -> GenerationConfig:
    e = h.profile.eval_config
    return GenerationConfig(
        max_new_tokens=e.max_new_tokens, temperature=e.temperature, top_p=e.top_p, batch_size=e.batch_size
    )


def _games_eval_key(h: Harness) -> dict[str, Any]:
    """The ``[eval]`` settings the game evaluations depend on (the held-out-set keys do not change them)."""
    return {k: v for k, v in h.profile.eval.items() if not k.startswith("heldout")}


def _sampler_key(h: Harness) -> dict[str, Any]:
    """The evaluation sampler's settings, for stage keys (empty for the default sampler, so old keys stay)."""
    e = h.profile.eval_config
    if e.backend == "hf":
        return {}
    return {"backend": e.backend, "vllm_dtype": e.vllm_dtype}


def eval_sampler(h: Harness, model_dir: Path):
    """(model, tokenizer, backend) for an evaluation stage: the torch model with the default sampler, or, with
    ``[eval] backend = "vllm"``, a vLLM engine over the stage's model folder (no torch model is loaded)."""
    e = h.profile.eval_config
    if e.backend == "vllm":
        from pearbench.vllm_backend import backend_for_model

        tok = tokenizer(h)
        engine = backend_for_model(
            model_dir, tokenizer=tok, dtype=e.vllm_dtype, memory=e.vllm_memory, eager=e.vllm_eager
        )
        return None, tok, engine
    model, tok = _load(h, model_dir)
    return model, tok, None


def _eval_model(h: Harness, model_dir: Path, splits, seed: int, desc: str) -> dict[str, Any]:
    model, tok, backend = eval_sampler(h, model_dir)
    e = h.profile.eval_config
    result = evaluate_policy(
        model,
        tok,
        h.games,
        splits["test"],
        n=e.n,
        config=_gen_eval(h),
        seed=seed,
        ks=e.ks,
        prompt_style=h.suite.prompt_style,
        chat=h.profile.models.chat_template,
        progress=h.request.progress,
        desc=desc,
        backend=backend,
    )
    return {"outcomes": result.outcomes, "metrics": result.metrics, "examples": result.examples}


def reference_eval(h: Harness, splits, base_dir, base_stage, teacher_dir, teacher_stage) -> dict[str, Any]:
    """Base model and teacher on the test split, once per suite and profile (seed 0)."""
    key = {
        "base": base_stage.hash,
        "teacher": teacher_stage.hash,
        "eval": _games_eval_key(h),
        "test": config_hash([i.id for i in splits["test"]]),
    }
    stage = _stage(h, "reference", key)
    path = stage.path / "reference.json"
    if stage.done:
        return json.loads(path.read_text())
    out = {
        "base": _eval_model(h, base_dir, splits, 0, "eval base"),
        "teacher": _eval_model(h, teacher_dir, splits, 0, "eval teacher"),
    }
    atomic_write_json(path, out, indent=None)
    stage.finish({})
    for role in ("base", "teacher"):
        m = out[role]["metrics"]
        _log(f"  {role}: pass@1 {m['pass@1']['value']:.3f}, pass@8 {_fmt(m.get('pass@8'))}")
    return out


def _fmt(metric: dict[str, float] | None) -> str:
    if not metric:
        return "n/a"
    return f"{metric['value']:.3f} [{metric['low']:.3f}, {metric['high']:.3f}]"


def evaluate(h: Harness, splits, model_dir: Path, model_stage: StageDir, which: str) -> dict[str, Any]:
    key = {
        "model": model_stage.hash,
        "eval": _games_eval_key(h),
        "seed": h.seed,
        "test": config_hash([i.id for i in splits["test"]]),
    }
    stage = _stage(h, f"eval_{which}", key)
    path = stage.path / "eval.json"
    if stage.done:
        return json.loads(path.read_text())
    out = _eval_model(h, model_dir, splits, hash_seed(h.seed, 101), f"eval {which}")
    atomic_write_json(path, out, indent=None)
    stage.finish({})
    return out


# -- held-out math sets --------------------------------------------------------------------------------------------
def heldout_problems(h: Harness) -> dict[str, list[Any]]:
    """The profile's held-out sets (``[eval] heldout``), loaded before any work so a bad name or file fails first."""
    from pearbench.datasets import load_dataset

    e = h.profile.eval_config
    out = {}
    for name in e.heldout:
        problems = load_dataset(name, data_file=e.heldout_files.get(name))
        out[name] = problems[: e.heldout_limit] if e.heldout_limit else problems
    return out


def heldout(
    h: Harness, problems: dict[str, list[Any]], model_dir: Path, model_stage: StageDir, which: str
) -> dict[str, Any]:
    """Sample the model on every held-out set and score it (pass@k with CIs, avg@n, maj@n, verifier errors).

    One cached stage per (model, set): ``report.json`` and the sampled ``completions.jsonl`` (rescorable with
    ``pearbench eval --completions``). The base model is sampled with seed 0 (shared by every run, like the
    reference evaluation); the SFT and RL models with the run's seed.
    """
    from pearbench.heldout import evaluate_heldout, write_completions

    if not problems:
        return {}
    e = h.profile.eval_config
    n = e.heldout_n or e.n
    config = GenerationConfig(
        max_new_tokens=e.heldout_max_new_tokens or e.max_new_tokens,
        temperature=e.temperature,
        top_p=e.top_p,
        batch_size=e.batch_size,
    )
    seed = 0 if which == "base" else hash_seed(h.seed, 505)
    out: dict[str, Any] = {}
    model = tok = backend = None
    loaded = False
    for name, items in problems.items():
        key = {
            "model": model_stage.hash,
            "dataset": name,
            "problems": config_hash([[p.id, p.problem, p.answer] for p in items]),
            "generation": config.to_dict(),
            "n": n,
            "chat": h.profile.models.chat_template,
            "seed": seed,
            **_sampler_key(h),
        }
        stage = _stage(h, f"heldout_{which}", key)
        path = stage.path / "report.json"
        if not stage.done:
            if not loaded:
                model, tok, backend = eval_sampler(h, model_dir)
                loaded = True
            result = evaluate_heldout(
                model,
                tok,
                items,
                dataset_name=name,
                n=n,
                config=config,
                seed=seed,
                chat=h.profile.models.chat_template,
                progress=h.request.progress,
                backend=backend,
            )
            write_completions(stage.path / "completions.jsonl", result.completions)
            report = result.report.to_dict()
            report["truncated"] = sum(1 for c in result.completions if c["finish_reason"] != "eos")
            atomic_write_json(path, report, indent=None)
            stage.finish({})
        report = json.loads(path.read_text())
        out[name] = {
            "metrics": report["metrics"],
            "n": report["n"],
            "problems": len(items),
            "verifier_errors": report["verifier_errors"],
            "truncated": report["truncated"],
            "generation": {**config.to_dict(), "n": n, "limit": e.heldout_limit, "chat": key["chat"]},
            "outcomes": [{k: o[k] for k in ("id", "n", "c", "errors")} for o in report["outcomes"]],
        }
        _log(f"  {name} ({which}): pass@1 {_fmt(report['metrics'].get('pass@1'))}")
    return out


# -- sft ----------------------------------------------------------------------------------------------------------
def sft(h: Harness, tok, base_dir: Path, base_stage: StageDir, behavior_out: dict[str, Any]):
    from dataclasses import replace

    from pearbench.sft import train_sft

    if not h.method.runs_sft:
        _log(f"  sft: skipped (method {h.method_name} runs no SFT; RL starts from the base model)")
        return base_dir, base_stage, []
    steps = max(1, int(round(h.profile.sft.steps * h.sft_factor)))
    config = replace(h.profile.sft, steps=steps)
    key = {
        "base": base_stage.hash,
        "behavior": behavior_out["stage"].hash,
        "method": h.method_name,
        "recipe": h.method_recipe_hash,
        "sft": config.__dict__,
        "seed": h.seed,
    }
    stage = _stage(h, "sft", key)
    model_dir = stage.path / "model"
    if stage.done:
        _log(f"  sft: cached ({stage.path})")
        return model_dir, stage, json.loads((stage.path / "log.json").read_text())
    model, _ = _load(h, base_dir)
    log = train_sft(
        model,
        behavior_out["rows"],
        objective=h.method.loss,
        options=h.options,
        config=config,
        seed=hash_seed(h.seed, 202),
        pad_id=tok.pad_token_id,
        checkpoint_dir=stage.path / "ckpt",
        progress=h.request.progress,
        desc=f"sft {h.label}",
    )
    save_model(model, tok, model_dir)
    atomic_write_json(stage.path / "log.json", _finite(log), indent=None)
    stage.finish({"steps": steps})
    return model_dir, stage, log


def _finite(log):
    return [
        {k: (v if not (isinstance(v, float) and not math.isfinite(v)) else None) for k, v in e.items()}
        for e in log
    ]


# -- rl -----------------------------------------------------------------------------------------------------------
def rl(h: Harness, splits, tok, sft_dir: Path, sft_stage: StageDir):
    from pearbench.grpo import train_grpo

    key = {
        "sft": sft_stage.hash,
        "rl": h.profile.rl.to_dict(),
        "seed": h.seed,
        "train": config_hash([i.id for i in splits["train"]]),
    }
    stage = _stage(h, "rl", key)
    model_dir = stage.path / "model"
    if stage.done:
        _log(f"  rl: cached ({stage.path})")
        return model_dir, stage, json.loads((stage.path / "log.json").read_text())
    model, _ = _load(h, sft_dir)
    reference, _ = _load(h, sft_dir)
    train = list(splits["train"])
    prompts = [encode(h, tok, prompt_text(h.games[i.env], i, h.suite.prompt_style)) for i in train]

    def reward(index: int, text: str):
        instance = train[index]
        return h.games[instance.env].verify(instance, text)

    validation = list(splits["validation"])
    monitor_prompts = [
        encode(h, tok, prompt_text(h.games[i.env], i, h.suite.prompt_style)) for i in validation
    ]
    cfg = h.profile.rl

    def monitor(policy) -> float:
        samples = HFBackend(policy, tok).generate(
            monitor_prompts,
            n=cfg.monitor_samples,
            config=GenerationConfig(
                max_new_tokens=cfg.max_new_tokens,
                temperature=cfg.temperature,
                top_p=cfg.top_p,
                batch_size=256,
            ),
            seed=hash_seed(h.seed, 404),
        )
        verdicts = [
            h.games[validation[s.prompt_index].env].verify(validation[s.prompt_index], s.text)
            for s in samples
        ]
        return float(np.mean([v.reward for v in verdicts]))

    log = train_grpo(
        model,
        tok,
        prompts,
        reward,
        config=h.profile.rl,
        seed=hash_seed(h.seed, 303),
        checkpoint_dir=stage.path / "ckpt",
        reference=reference,
        progress=h.request.progress,
        desc=f"rl {h.label}",
        monitor=monitor,
    )
    save_model(model, tok, model_dir)
    atomic_write_json(stage.path / "log.json", _finite(log), indent=None)
    stage.finish({})
    return model_dir, stage, log


# -- record -------------------------------------------------------------------------------------------------------
def _summary(log: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in keys:
        values = [e[key] for e in log if e.get(key) is not None and math.isfinite(e[key])]
        if values:
            out[key] = {"mean": float(np.mean(values)), "first": float(values[0]), "last": float(values[-1])}
    return out


def record(
    h: Harness, *, stage_hashes, behavior, reference, sft_log, rl_log, sft_eval, rl_eval, heldout=None
) -> dict[str, Any]:
    from dataclasses import asdict

    from pearbench.harness import git_commit, package_versions
    from pearbench.profiles import rl_recipe_hash
    from pearbench.results import finalize_record, make_run_id, write_record

    sft_diag = (
        _summary(
            sft_log,
            (
                "nll",
                "weighted_loss",
                "mean_weight",
                "ess_fraction",
                "delta_clip_fraction",
                "log_weight_clip_fraction",
                "mean_log_ratio",
            ),
        )
        or None
    )
    steps_log = [e for e in rl_log if e.get("reward_mean") is not None]
    window = max(1, len(steps_log) // 5)
    rewards = [e["reward_mean"] for e in steps_log]
    monitored = [(int(e["step"]), e["monitor_reward"]) for e in rl_log if e.get("monitor_reward") is not None]
    body = {
        "run_id": make_run_id(h.suite.name, h.label, h.seed, h.profile.name),
        "suite": h.suite.name,
        "method": h.method_name,
        "method_label": h.label,
        "sft_steps_factor": h.sft_factor,
        "seed": h.seed,
        "profile": h.profile.name,
        "config_hashes": stage_hashes,
        "method_recipe_hash": h.method_recipe_hash,
        "rl_recipe_hash": rl_recipe_hash(h.profile.raw),
        "method_options": _plain(asdict(h.options)) if h.options is not None else {},
        "packages": package_versions(),
        "git_commit": git_commit(),
        "mismatch": behavior["stats"],
        "sft_diagnostics": sft_diag,
        "rl_curve": {
            "step": [int(e["step"]) for e in steps_log],
            "reward_mean": rewards,
            "monitor_step": [m[0] for m in monitored],
            "monitor_reward": [m[1] for m in monitored],
        },
        "rl_summary": {
            "reward_first": float(np.mean(rewards[:window])) if rewards else None,
            "reward_last": float(np.mean(rewards[-window:])) if rewards else None,
            "monitor_reward_start": monitored[0][1] if monitored else None,
            "monitor_reward_end": monitored[-1][1] if monitored else None,
            **_summary(rl_log, ("entropy", "kl", "clip_fraction", "response_length", "pass_rate")),
        },
        "eval": {
            "n": h.profile.eval_config.n,
            "temperature": h.profile.eval_config.temperature,
            "max_new_tokens": h.profile.eval_config.max_new_tokens,
            "ks": list(h.profile.eval_config.ks),
        },
        "outcomes": {"sft": sft_eval["outcomes"], "rl": rl_eval["outcomes"]},
        "metrics": {"sft": sft_eval["metrics"], "rl": rl_eval["metrics"]},
        "reference": reference,
        "examples": [{**e, "stage": "sft"} for e in sft_eval["examples"]]
        + [{**e, "stage": "rl"} for e in rl_eval["examples"]],
        "timings": {k: round(v, 3) for k, v in h.timings.items()},
        "profile_override": h.profile.raw if h.profile.override_file else None,
    }
    if (
        heldout
    ):  # {set: {"base"|"sft"|"rl": {metrics, n, problems, verifier_errors, truncated, generation, outcomes}}}
        body["heldout"] = heldout
    final = finalize_record(body)
    path = write_record(h.out, final)
    final["_path"] = str(path)
    return final


def _plain(obj):
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj
