"""The evaluation stages (docs/design.md §1): pass@k of the base, teacher, SFT and RL models on the test split, and on
held-out math sets; each a cached stage like the training stages in :mod:`pearbench.harness.stages`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pearbench.harness.context import RunContext, say
from pearbench.harness.evaluate import evaluate_policy
from pearbench.harness.stages import _load, hash_seed
from pearbench.hashing import config_hash
from pearbench.io import atomic_write_json
from pearbench.metrics import format_ci
from pearbench.models.generation import GenerationConfig, HFBackend

if TYPE_CHECKING:
    from pearbench.harness.cache import StageDir


# -- evaluation ---------------------------------------------------------------------------------------------------
def _gen_eval(ctx: RunContext) -> GenerationConfig:
    e = ctx.profile.eval
    return GenerationConfig(
        max_new_tokens=e.max_new_tokens, temperature=e.temperature, top_p=e.top_p, batch_size=e.batch_size
    )


def _games_eval_key(ctx: RunContext) -> dict[str, Any]:
    """The ``[eval]`` settings the game evaluations depend on (the held-out-set keys do not change them)."""
    return {k: v for k, v in ctx.profile.eval_table.items() if not k.startswith("heldout")}


def _sampler_key(ctx: RunContext) -> dict[str, Any]:
    """The evaluation sampler's settings, for stage keys (empty for the default sampler, so old keys stay)."""
    e = ctx.profile.eval
    if e.backend == "hf":
        return {}
    return {"backend": e.backend, "vllm_dtype": e.vllm_dtype}


def eval_sampler(ctx: RunContext, model_dir: Path):
    """(model, tokenizer, backend) for an evaluation stage: the torch model with the default sampler, or, with
    ``[eval] backend = "vllm"``, a vLLM engine over the stage's model folder (no torch model is loaded)."""
    e = ctx.profile.eval
    if e.backend == "vllm":
        from pearbench.models.vllm import backend_for_model

        tok = ctx.tokenizer
        engine = backend_for_model(
            model_dir, tokenizer=tok, dtype=e.vllm_dtype, memory=e.vllm_memory, eager=e.vllm_eager
        )
        return None, tok, engine
    model, tok = _load(ctx, model_dir)
    if ctx.profile.models.dtype != "float32":  # [models] dtype: sampled under bf16 autocast
        return model, tok, HFBackend(model, tok, dtype=ctx.profile.models.dtype)
    return model, tok, None


def _eval_model(ctx: RunContext, model_dir: Path, splits, seed: int, desc: str) -> dict[str, Any]:
    model, tok, backend = eval_sampler(ctx, model_dir)
    e = ctx.profile.eval
    result = evaluate_policy(
        model,
        tok,
        ctx.games,
        splits["test"],
        n=e.n,
        config=_gen_eval(ctx),
        seed=seed,
        ks=e.ks,
        prompt_style=ctx.suite.prompt_style,
        chat=ctx.profile.models.chat_template,
        progress=ctx.progress,
        desc=desc,
        backend=backend,
    )
    return {"outcomes": result.outcomes, "metrics": result.metrics, "examples": result.examples}


def reference_eval(
    ctx: RunContext, splits, base_dir, base_stage, teacher_dir, teacher_stage
) -> dict[str, Any]:
    """Base model and teacher on the test split, once per suite and profile (seed 0)."""
    key = {
        "base": base_stage.hash,
        "teacher": teacher_stage.hash,
        "eval": _games_eval_key(ctx),
        "test": config_hash([i.id for i in splits["test"]]),
    }
    stage = ctx.stage("reference", key)
    path = stage.path / "reference.json"
    if stage.done:
        return json.loads(path.read_text())
    out = {
        "base": _eval_model(ctx, base_dir, splits, 0, "eval base"),
        "teacher": _eval_model(ctx, teacher_dir, splits, 0, "eval teacher"),
    }
    atomic_write_json(path, out, indent=None)
    stage.finish({})
    for role in ("base", "teacher"):
        m = out[role]["metrics"]
        say(f"  {role}: pass@1 {m['pass@1']['value']:.3f}, pass@8 {format_ci(m.get('pass@8'))}")
    return out


def evaluate(ctx: RunContext, splits, model_dir: Path, model_stage: StageDir, which: str) -> dict[str, Any]:
    key = {
        "model": model_stage.hash,
        "eval": _games_eval_key(ctx),
        "seed": ctx.seed,
        "test": config_hash([i.id for i in splits["test"]]),
    }
    stage = ctx.stage(f"eval_{which}", key)
    path = stage.path / "eval.json"
    if stage.done:
        return json.loads(path.read_text())
    out = _eval_model(ctx, model_dir, splits, hash_seed(ctx.seed, 101), f"eval {which}")
    atomic_write_json(path, out, indent=None)
    stage.finish({})
    return out


# -- held-out math sets --------------------------------------------------------------------------------------------
def heldout_problems(ctx: RunContext) -> dict[str, list[Any]]:
    """The profile's held-out sets (``[eval] heldout``), loaded before any work so a bad name or file fails first."""
    from pearbench.verify.datasets import load_dataset

    e = ctx.profile.eval
    out = {}
    for name in e.heldout:
        problems = load_dataset(name, data_file=e.heldout_files.get(name))
        out[name] = problems[: e.heldout_limit] if e.heldout_limit else problems
    return out


def heldout(
    ctx: RunContext, problems: dict[str, list[Any]], model_dir: Path, model_stage: StageDir, which: str
) -> dict[str, Any]:
    """Sample the model on every held-out set and score it (pass@k with CIs, avg@n, maj@n, verifier errors).

    One cached stage per (model, set): ``report.json`` and the sampled ``completions.jsonl`` (rescorable with
    ``pearbench eval --completions``). The base model is sampled with seed 0 (shared by every run, like the
    reference evaluation); the SFT and RL models with the run's seed.
    """
    from pearbench.harness.heldout import evaluate_heldout, write_completions

    if not problems:
        return {}
    e = ctx.profile.eval
    n = e.heldout_n or e.n
    config = GenerationConfig(
        max_new_tokens=e.heldout_max_new_tokens or e.max_new_tokens,
        temperature=e.temperature,
        top_p=e.top_p,
        batch_size=e.batch_size,
    )
    seed = 0 if which == "base" else hash_seed(ctx.seed, 505)
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
            "chat": ctx.profile.models.chat_template,
            "seed": seed,
            **_sampler_key(ctx),
        }
        stage = ctx.stage(f"heldout_{which}", key)
        path = stage.path / "report.json"
        if not stage.done:
            if not loaded:
                model, tok, backend = eval_sampler(ctx, model_dir)
                loaded = True
            result = evaluate_heldout(
                model,
                tok,
                items,
                dataset_name=name,
                n=n,
                config=config,
                seed=seed,
                chat=ctx.profile.models.chat_template,
                progress=ctx.progress,
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
        say(f"  {name} ({which}): pass@1 {format_ci(report['metrics'].get('pass@1'))}")
    return out
