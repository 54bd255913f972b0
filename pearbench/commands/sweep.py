"""``pearbench sweep``: a grid of methods x seeds, resumable, on this machine or on a Ray cluster."""

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
        "skipped, unfinished ones resume from their stage cache and checkpoints. Runs go to a process pool on this "
        "machine (--workers, --gpus-per-run) or, with --executor ray, to a Ray cluster (docs/scale.md).",
    )
    parser.add_argument(
        "--methods",
        default=DEFAULT_METHODS,
        help="comma-separated method labels; give options in the form NAME[@Fx]+key=value+key=value "
        f"(pear-token+gamma=0.99) (default {DEFAULT_METHODS})",
    )
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    parser.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="local: a process pool on this machine (default); ray: one Ray task per run (pearbench[ray])",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="parallel runs of the local executor (default 1; capped at the GPU sets with --gpus-per-run)",
    )
    parser.add_argument(
        "--gpus-per-run",
        default="0",
        metavar="K|auto",
        help="GPUs each run gets (own CUDA_VISIBLE_DEVICES; Ray: num_gpus); auto: 1 when CUDA is present "
        "(default 0: CPU)",
    )
    parser.add_argument(
        "--address",
        default=None,
        help="Ray cluster address (ray executor; default: RAY_ADDRESS or a local Ray)",
    )
    parser.add_argument(
        "--max-retries",
        type=int,
        default=3,
        help="ray executor: reruns of a run whose worker died (it resumes from its checkpoints; default 3)",
    )
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


def make_executor(args: argparse.Namespace):
    """The executor the command line asks for (errors before any work)."""
    from pearbench.harness.sweep import LocalExecutor, RayExecutor

    if args.executor == "ray":
        if args.workers is not None:
            raise PearbenchError(
                "--workers is for the local executor; Ray runs as many runs as the cluster's CPUs/GPUs allow"
            )
        return RayExecutor(args.address, gpus_per_run=args.gpus_per_run, max_retries=args.max_retries)
    if args.address is not None:
        raise PearbenchError("--address is for --executor ray")
    workers = 1 if args.workers is None else args.workers
    return LocalExecutor(workers, gpus_per_run=args.gpus_per_run)


def _sweep(args: argparse.Namespace) -> int:
    from pearbench.harness.runner import RunRequest, check_parallel_request
    from pearbench.harness.sweep import pending, plan

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    base = RunRequest(
        suite=args.suite,
        profile=args.profile,
        config_file=args.config_file,
        out=args.out,
        progress=not args.no_progress,
        processes=args.processes,
        fsdp=args.fsdp,
    )
    check_parallel_request(base)  # --processes and --fsdp, before any run starts
    jobs = plan(methods, _parse_seeds(args.seeds), base)
    executor = make_executor(args)
    todo = pending(jobs, args.out)
    print(f"sweep: {len(jobs)} runs, {len(jobs) - len(todo)} already done, {len(todo)} to run")
    if todo and hasattr(executor, "describe"):
        print(f"sweep: {executor.describe()}")
    results = executor.map(todo)
    failed = [r for r in results if not r["ok"]]
    for r in results:
        print(f"  {'ok  ' if r['ok'] else 'FAIL'} {r['run_id']}" + ("" if r["ok"] else f": {r['error']}"))
    print(
        f"sweep: {len(results) - len(failed)} finished, {len(failed)} failed; records under {args.out}/records"
    )
    return 1 if failed else 0
