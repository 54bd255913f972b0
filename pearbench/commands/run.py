"""``pearbench run --method M``: one (suite, method, seed, profile) through every stage, with a summary table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pearbench.metrics import format_ci

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
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        metavar="N",
        help="train SFT and RL in N data-parallel processes on this machine (gloo on CPU, one GPU each on "
        "CUDA); N processes make the update one process makes (docs/scale.md) (default: 1)",
    )
    parser.add_argument(
        "--fsdp",
        action="store_true",
        help="with --processes N > 1: shard the trained model over the processes (FSDP2) instead of keeping a "
        "full copy in each; the same update (docs/scale.md)",
    )


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
        help=f"method label: NAME, NAME@Fx with an SFT-steps factor (sft@3x), options over the recipe "
        f"NAME[@Fx]:key=value,key=value (pear-token:gamma=0.99); see `pearbench methods show NAME` "
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


def rl_gain_lines(record: dict[str, Any]) -> list[str]:
    """The RL gain on the test split: post-RL minus SFT-stage pass@1, paired over the problems evaluated at both
    stages (per problem c/n), with its paired-bootstrap 95% CI and p-value, and a plain verdict."""
    from pearbench.metrics import N_BOOTSTRAP, paired_bootstrap

    outcomes = record.get("outcomes") or {}
    by_stage = {
        stage: {(o["env"], o["id"]): o["c"] / o["n"] for o in outcomes.get(stage, ()) if o.get("n")}
        for stage in ("sft", "rl")
    }
    shared = sorted(set(by_stage["sft"]) & set(by_stage["rl"]))
    if not shared:
        return ["RL gain in pass@1: n/a (no test problem evaluated after both SFT and RL)"]
    stats = paired_bootstrap(
        [by_stage["rl"][key] for key in shared], [by_stage["sft"][key] for key in shared]
    )
    if stats["low"] <= 0.0 <= stats["high"]:
        verdict = "RL did not improve pass@1 (CI includes 0)"
    elif stats["high"] < 0.0:
        verdict = "RL lowered pass@1 (CI below 0)"
    else:
        verdict = "RL improved pass@1 (CI above 0)"
    # below the bootstrap's resolution (2 / resamples) the p-value reads "p < 0.001", as in the leaderboards
    p_text = "p < 0.001" if stats["p_value"] < 2.0 / N_BOOTSTRAP else f"p = {stats['p_value']:.3f}"
    return [
        f"RL gain in pass@1 (after RL minus after SFT, test split, paired over {len(shared)} problems): "
        f"{stats['diff']:+.3f} [{stats['low']:+.3f}, {stats['high']:+.3f}] (paired-bootstrap 95% CI), {p_text}",
        verdict,
    ]


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
            f"| {key} | {format_ci(ref.get('base', {}).get('metrics', {}).get(key))} | "
            f"{format_ci(ref.get('teacher', {}).get('metrics', {}).get(key))} | "
            f"{format_ci(record['metrics']['sft'].get(key))} | {format_ci(record['metrics']['rl'].get(key))} |"
        )
    lines += ["", *rl_gain_lines(record)]
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
            cells = [
                format_ci(by_model.get(w, {}).get("metrics", {}).get(metric)) for w in ("base", "sft", "rl")
            ]
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
            processes=args.processes,
            fsdp=args.fsdp,
        )
    )
    if record is None:  # a rank other than 0 of `accelerate launch -m pearbench run`: rank 0 reports
        return 0
    print("\n".join(summary_lines(record, out=args.out)))
    sys.stdout.flush()
    return 0
