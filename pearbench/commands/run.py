"""``pearbench run --method M``: one (suite, method, seed, profile) through every stage, with a summary table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

KS = (1, 2, 4, 8)
DEFAULT_METHOD = "pear-seq"


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--suite",
        default=None,
        help="suite name or TOML path; see `pearbench suites list` (default: countdown)",
    )
    parser.add_argument(
        "--profile", default="small", help="profile name or TOML path: smoke, small, paper (default: small)"
    )
    parser.add_argument(
        "--config", dest="config_file", default=None, help="TOML file overriding profile keys (recorded)"
    )
    parser.add_argument(
        "--out", default="runs", help="output folder: stage cache, checkpoints, records (default runs/)"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run one method through the shared SFT->RL harness",
        description="Run tasks -> base -> teacher -> behavior data -> sft -> rl -> eval -> record for one method. "
        "Stages are cached by content hash under --out and reused; a rerun resumes where it stopped.",
    )
    parser.add_argument(
        "--method",
        default=DEFAULT_METHOD,
        help=f"method name, optionally NAME@Fx with an SFT-steps factor (e.g. sft@3x); see `pearbench methods list` "
        f"(default: {DEFAULT_METHOD})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="run seed (>= 0): drives the SFT data sample, SFT and RL shuffling and sampling, and evaluation "
        "sampling; base and teacher seeds are in the suite file (default: 0)",
    )
    add_run_arguments(parser)
    parser.set_defaults(func=_run)


def _fmt(metric: dict[str, float] | None) -> str:
    if not metric:
        return "n/a"
    return f"{metric['value']:.3f} [{metric['low']:.3f}, {metric['high']:.3f}]"


def summary_lines(record: dict[str, Any], out: str | Path | None = None) -> list[str]:
    lines = [
        f"## {record['method_label']}  (suite {record['suite']}, seed {record['seed']}, profile {record['profile']})",
        "",
    ]
    lines.append("| metric | base (pi_0) | teacher | after SFT | after RL |")
    lines.append("|---|---|---|---|---|")
    ref = record.get("reference") or {}
    n = record["eval"]["n"]
    for k in [k for k in KS if k <= n]:
        key = f"pass@{k}"
        lines.append(
            f"| {key} | {_fmt(ref.get('base', {}).get('metrics', {}).get(key))} | "
            f"{_fmt(ref.get('teacher', {}).get('metrics', {}).get(key))} | "
            f"{_fmt(record['metrics']['sft'].get(key))} | {_fmt(record['metrics']['rl'].get(key))} |"
        )
    for name, by_model in (record.get("heldout") or {}).items():
        some = next(iter(by_model.values()))
        lines.append("")
        lines.append(f"held-out {name} ({some['problems']} problems, n = {some['n']} samples each):")
        lines.append("| metric | base (pi_0) | after SFT | after RL |")
        lines.append("|---|---|---|---|")
        passes = sorted((m for m in some["metrics"] if m.startswith("pass@")), key=lambda m: int(m[5:]))
        metrics = [m for m in passes if int(m[5:]) in KS] + [
            m for m in some["metrics"] if m[:4] in ("avg@", "maj@")
        ]
        for metric in metrics:
            cells = [_fmt(by_model.get(w, {}).get("metrics", {}).get(metric)) for w in ("base", "sft", "rl")]
            lines.append(f"| {metric} | " + " | ".join(cells) + " |")
        errors = {w: r["verifier_errors"]["total"] for w, r in by_model.items()}
        truncated = {w: r["truncated"] for w, r in by_model.items()}
        lines.append(f"verifier errors {errors}; samples cut at the token limit {truncated}")
    mismatch = record.get("mismatch") or {}
    lines.append("")
    lines.append(
        f"mismatch level: mean log pi_0 - log pi_beta = {mismatch.get('mean_log_ratio', float('nan')):.3f} per token "
        f"({mismatch.get('fraction_below_delta_clip', float('nan')):.2f} of tokens below the delta clip); "
        f"teacher yield {mismatch.get('yield', float('nan')):.2f}"
    )
    diag = record.get("sft_diagnostics") or {}
    if diag:
        parts = []
        for key in ("nll", "mean_weight", "ess_fraction", "delta_clip_fraction", "log_weight_clip_fraction"):
            if key in diag:
                parts.append(f"{key} {diag[key]['first']:.3f}->{diag[key]['last']:.3f}")
        lines.append("sft diagnostics (first->last step): " + ", ".join(parts))
    rl = record.get("rl_summary") or {}
    if rl.get("reward_first") is not None:
        lines.append(
            f"rl training reward: {rl['reward_first']:.3f} (first fifth of steps) -> {rl['reward_last']:.3f} (last fifth)"
        )
    if rl.get("monitor_reward_start") is not None:
        lines.append(
            f"rl reward on the fixed validation prompts: {rl['monitor_reward_start']:.3f} before RL -> "
            f"{rl['monitor_reward_end']:.3f} after"
        )
    lines.append("stage wall times: " + ", ".join(f"{k} {v:.0f}s" for k, v in record["timings"].items()))
    models = record.get("model_dirs") or {}
    for role in ("sft", "rl"):
        if role in models:
            where = Path(out) / models[role] if out is not None else models[role]
            lines.append(f"{role} model: {where}")
    lines.append(f"record: {record.get('_path', '?')}")
    return lines


def _run(args: argparse.Namespace) -> int:
    from pearbench.harness.runner import RunRequest, run

    record = run(
        RunRequest(
            method=args.method,
            suite=args.suite,
            seed=args.seed,
            profile=args.profile,
            config_file=args.config_file,
            out=args.out,
            progress=not args.no_progress,
        )
    )
    print("\n".join(summary_lines(record, out=args.out)))
    sys.stdout.flush()
    return 0
