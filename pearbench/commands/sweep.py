"""``pearbench sweep``: a grid of methods x seeds, resumable."""

from __future__ import annotations

import argparse

from pearbench.commands.run import add_run_arguments
from pearbench.errors import PearbenchError

DEFAULT_METHODS = "sft,dft,pear-seq,pear-token,pear-block,none,sft@0.33x,sft@3x"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="run a grid of methods x seeds (resumes a half-finished sweep)",
        description="Runs every (method, seed) through the shared harness. Finished runs (record present) are "
        "skipped, unfinished ones resume from their stage cache and checkpoints.",
    )
    parser.add_argument(
        "--methods", default=DEFAULT_METHODS, help=f"comma-separated (default {DEFAULT_METHODS})"
    )
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    parser.add_argument("--workers", type=int, default=1, help="parallel runs (process pool; default 1)")
    add_run_arguments(parser)
    parser.set_defaults(func=_sweep)


def _parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise PearbenchError(f"--seeds must be comma-separated whole numbers >= 0, got {text!r}") from None
    if any(seed < 0 for seed in seeds):
        raise PearbenchError(f"--seeds must be comma-separated whole numbers >= 0, got {text!r}")
    return seeds


def _sweep(args: argparse.Namespace) -> int:
    from pearbench.harness.runner import RunRequest
    from pearbench.harness.sweep import LocalExecutor, pending, plan

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    base = RunRequest(
        suite=args.suite,
        profile=args.profile,
        config_file=args.config_file,
        out=args.out,
        progress=not args.no_progress,
    )
    jobs = plan(methods, _parse_seeds(args.seeds), base)
    todo = pending(jobs, args.out)
    print(f"sweep: {len(jobs)} runs, {len(jobs) - len(todo)} already done, {len(todo)} to run")
    results = LocalExecutor(args.workers).map(todo)
    failed = [r for r in results if not r["ok"]]
    for r in results:
        print(f"  {'ok  ' if r['ok'] else 'FAIL'} {r['run_id']}" + ("" if r["ok"] else f": {r['error']}"))
    print(
        f"sweep: {len(results) - len(failed)} finished, {len(failed)} failed; records under {args.out}/records"
    )
    return 1 if failed else 0
