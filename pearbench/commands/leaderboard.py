"""`pearbench leaderboard`: tables and plots from the result records of a results directory.

Without ``--out`` the table(s) go to stdout; with ``--out DIR`` each suite becomes ``DIR/<suite>.<ext>`` plus the
plots of :data:`pearbench.results.plots.PLOTS`: ``DIR/<suite>_passk.png``, ``DIR/<suite>_sft_vs_rl.png`` and
``DIR/<suite>_diff_vs_sft.png`` (each method's paired difference to sft after SFT and after RL). Suites that declare
a mismatch map (``map``/``map_level``) also give ``DIR/map_<name>.md`` and ``DIR/map_<name>.png``
(:mod:`pearbench.results.mismatch_map`). Skipped and refused
records are reported on stderr with their file names. Everything is computed before the first file is written, and
each file is written atomically, so an error never destroys what an earlier run wrote.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pearbench.errors import PearbenchError
from pearbench.harness.config import default_recipe_hashes


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "leaderboard",
        help="build leaderboard tables and plots from result records",
        description="Build leaderboards (Markdown, CSV, LaTeX or HTML tables, and plots) from the result records "
        "under RESULTS/records/. Statistics: see docs/results.md.",
    )
    parser.add_argument("--results", default="runs", metavar="DIR", help="results directory (default: runs)")
    parser.add_argument("--suite", metavar="S", help="only this suite (default: every suite in the records)")
    parser.add_argument(
        "--profile", metavar="P", help="only records of this profile (needed when a suite has several)"
    )
    parser.add_argument(
        "--format", choices=("md", "csv", "tex", "html"), default="md", help="table format (default: md)"
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="write DIR/<suite>.<ext> and the PNG plots (and DIR/map_<name>.md/.png per mismatch map) instead of "
        "printing",
    )
    parser.add_argument("--no-plots", action="store_true", help="no PNG plots (and none embedded in HTML)")
    parser.add_argument(
        "--no-recipe-check",
        action="store_true",
        help="accept records whose method/RL recipe hashes differ from the committed recipes (flagged in the notes)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pearbench.io import atomic_write_bytes
    from pearbench.results.leaderboard import build_leaderboards, render
    from pearbench.results.records import RECORDS_DIR, load_records

    results = Path(args.results)
    if not results.is_dir():
        raise PearbenchError(f"results directory {str(results)!r} does not exist (pass --results DIR)")
    if not (results / RECORDS_DIR).is_dir():
        hint = ""
        if results.resolve().name == RECORDS_DIR:  # the records folder itself, not the folder that holds it
            parent = str(results.parent) if results.name == RECORDS_DIR else str(results.resolve().parent)
            hint = f"; did you mean {parent}, the folder that holds {RECORDS_DIR}/?"
        raise PearbenchError(
            f"no records folder in {str(results)!r}: expected {str(results / RECORDS_DIR)!r}{hint}"
        )

    bad: list[str] = []

    def report(path: Path, reason: str) -> None:
        bad.append(path.name)
        print(f"pearbench: {path.name}: {reason}", file=sys.stderr)

    records = load_records(
        results,
        on_bad=report,
        check_recipes=not args.no_recipe_check,
        expected_hashes=default_recipe_hashes,
    )
    if not records:
        detail = f" ({len(bad)} skipped or refused, see above)" if bad else ""
        raise PearbenchError(f"no valid records in {str(results / RECORDS_DIR)!r}{detail}")
    boards = build_leaderboards(
        records, suite=args.suite, profile=args.profile, recipes_checked=not args.no_recipe_check
    )
    if not boards:
        raise PearbenchError(f"no records of profile {args.profile!r} in suite {args.suite!r}")

    images: dict[str, list[tuple[str, str, bytes]]] = {}
    if not args.no_plots:
        from pearbench.results.plots import plot_images

        images = {board.suite: plot_images(board) for board in boards}
    captions = {suite: [(caption, png) for _suffix, caption, png in plots] for suite, plots in images.items()}

    if args.out is None:
        sys.stdout.write(render(boards, args.format, images=captions))
        return 0
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise PearbenchError(f"--out {str(out)!r} exists and is not a directory")
    files: list[tuple[Path, bytes]] = []
    for board in boards:
        text = render([board], args.format, images={board.suite: captions.get(board.suite, [])})
        files.append((out / f"{board.suite}.{args.format}", text.encode("utf-8")))
        for suffix, _caption, png in images.get(board.suite, []):
            files.append((out / f"{board.suite}_{suffix}.png", png))
    from pearbench.results.mismatch_map import build_mismatch_maps, map_files

    for mismatch_map in build_mismatch_maps(records, boards):
        files += [(out / name, data) for name, data in map_files(mismatch_map, plots=not args.no_plots)]
    for path, data in files:
        atomic_write_bytes(path, data)
        print(f"wrote {path}", file=sys.stderr)
    return 0
