"""`pearbench eval`: score a file of completions on a held-out math set (pass@k, avg@n, maj@n with 95% CIs).

    pearbench eval --completions FILE.jsonl --dataset aime2025 [--data-file F] [--timeout 5] [--json OUT]

The logic lives in :mod:`pearbench.scoring`; this module only parses arguments and prints. Modes are chosen in the
handler (``--completions`` is required only for scoring), so another mode (e.g. evaluating a model) can be added
beside it without changing this one.
"""

from __future__ import annotations

import argparse

from pearbench.datasets import DATASETS
from pearbench.errors import PearbenchError
from pearbench.io import atomic_write_json
from pearbench.verify import DEFAULT_TIMEOUT


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "eval",
        help="score completions on a held-out math set (pass@k, avg@n, maj@n with CIs)",
        description="Score a JSONL file of completions ({'id', 'completion'} per line, the same n per problem) "
        "against a held-out math set.",
    )
    parser.add_argument(
        "--completions", metavar="FILE", help="JSONL of {'id': problem id, 'completion': text}"
    )
    parser.add_argument("--dataset", metavar="NAME", help=f"held-out set: {', '.join(DATASETS)}")
    parser.add_argument("--data-file", metavar="F", help="local JSONL/parquet copy of the set (else the hub)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help="seconds per verification (default %(default)s)",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="verifier processes (default: CPU count, max 8)"
    )
    parser.add_argument(
        "--json", metavar="OUT", help="also write the full report (per-problem outcomes) as JSON"
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    if not getattr(args, "completions", None):
        raise PearbenchError(
            "pearbench eval needs --completions FILE.jsonl (and --dataset NAME) to score completions"
        )
    if not args.dataset:
        raise PearbenchError(
            f"pearbench eval --completions needs --dataset NAME; choose one of: {', '.join(DATASETS)}"
        )
    from pearbench.datasets import load_dataset
    from pearbench.scoring import read_completions, score_completions

    problems = load_dataset(args.dataset, data_file=args.data_file)
    records = read_completions(args.completions)
    report = score_completions(
        records,
        problems,
        dataset_name=args.dataset,
        timeout=args.timeout,
        workers=args.workers,
        progress=True,
    )
    print(report.table())
    if args.json:
        payload = report.to_dict()
        payload["completions_file"] = str(args.completions)
        payload["data_file"] = str(args.data_file) if args.data_file else None
        atomic_write_json(args.json, payload)
        print(f"report written to {args.json}")
    return 0
