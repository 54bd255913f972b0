"""Math verification throughput and isolation of pathological inputs, measured side by side in one run.

    python benchmarks/verify.py [--workers 2] [--shared-data ../shared/data]

1. Throughput: MATH-500 gold answers against ``\\boxed{gold}`` predictions through the pool, for (a) a freshly
   started pool, (b) a pool warmed on other data (OlympiadBench golds: long-lived pools have warm parser caches),
   (c) the same pairs again (answers seen before hit the per-worker parse cache, as repeated RL samples do),
   (d) as (b) but with math-verify for every check (the exact fast path for plain numbers switched off).
2. Isolation: normal checks mixed with pathological ones (deeply nested LaTeX, a 10^6-digit number, a power tower);
   prints the per-check latency of the normal ones in the mixed run beside a run without the pathological ones, and
   how many checks timed out. Latency is measured per check from the batch start to the moment its verdict is
   known, so it includes queueing behind the other checks of the batch.
3. Environment checks (RL rewards): exact checks per second of the offline math games, in-process, for scale.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from pearbench.verify.normalize import exact_shortcut
from pearbench.verify.pool import MathVerifier

ROOT = Path(__file__).resolve().parents[1]


def golds(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line)["answer"] for line in handle if line.strip()]


def rate(verifier: MathVerifier, pairs: list[tuple[str, str]], timeout: float) -> tuple[float, int, int]:
    start = time.perf_counter()
    verdicts = verifier.verify_batch(pairs, timeout=timeout)
    elapsed = time.perf_counter() - start
    return len(pairs) / elapsed, sum(v.correct for v in verdicts), sum(v.error is not None for v in verdicts)


def latencies(
    verifier: MathVerifier, pairs: list[tuple[str, str]], timeout: float
) -> tuple[list[float], list]:
    """Per-check latency: verify one check at a time through the pool (the single-call path)."""
    times, verdicts = [], []
    for pair in pairs:
        start = time.perf_counter()
        verdicts.append(verifier.verify(*pair, timeout=timeout))
        times.append(time.perf_counter() - start)
    return times, verdicts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--shared-data",
        type=Path,
        default=Path(os.environ.get("PEARBENCH_SHARED_DATA", ROOT.parent / "shared" / "data")),
    )
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--pathological-timeout", type=float, default=2.0)
    args = parser.parse_args()

    math500 = golds(args.shared_data / "math500.jsonl")
    olympiad = golds(args.shared_data / "olympiadbench.jsonl")
    pairs = [(gold, f"The answer is \\boxed{{{gold}}}.") for gold in math500]
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; {args.workers} workers")

    print("\n1. throughput, MATH-500 golds vs \\boxed{gold} (500 checks)")
    with MathVerifier(workers=args.workers) as cold:
        start = time.perf_counter()
        cold.start()
        cold.verify("1", "\\boxed{x = 1}")
        print(f"   pool start-up (first check included): {time.perf_counter() - start:.2f} s")
        per_second, correct, errors = rate(cold, pairs, args.timeout)
        print(
            f"   (a) fresh pool:             {per_second:7.1f} checks/s  correct {correct}/500, errors {errors}"
        )
    with MathVerifier(workers=args.workers) as warm:
        warm.verify_batch([(g, f"\\boxed{{{g}}}") for g in olympiad], timeout=args.timeout)
        per_second, correct, errors = rate(warm, pairs, args.timeout)
        print(
            f"   (b) pool warmed elsewhere:  {per_second:7.1f} checks/s  correct {correct}/500, errors {errors}"
        )
        per_second, correct, errors = rate(warm, pairs, args.timeout)
        print(
            f"   (c) same answers again:     {per_second:7.1f} checks/s  correct {correct}/500, errors {errors}"
        )
    with MathVerifier(workers=args.workers, exact_fast_path=False) as slow:
        slow.verify_batch([(g, f"\\boxed{{{g}}}") for g in olympiad], timeout=args.timeout)
        per_second, correct, errors = rate(slow, pairs, args.timeout)
        print(f"   (d) as (b), math-verify for every check (no exact fast path): {per_second:7.1f} checks/s")
    # CPU cost per check, in this process (no pool, no other load counted): what 2 idle cores could sustain
    from pearbench.verify.normalize import _quiet_math_verify, check_pair

    _quiet_math_verify()
    for gold in olympiad:
        check_pair(gold, gold, None)  # warm the parser as a long-lived worker is
    cpu_start = time.process_time()
    for gold in math500:
        check_pair(gold, f"{gold} ", None)  # math-verify path, first sight of each answer
    cpu_per_check = (time.process_time() - cpu_start) / len(math500)
    print(
        f"   (e) CPU time per math-verify check (in-process, warm parser): {cpu_per_check * 1000:.2f} ms, "
        f"i.e. at most {args.workers / cpu_per_check:.0f} checks/s on {args.workers} idle cores without the fast path"
    )
    shortcut = sum(exact_shortcut(g, g) is not None for g in math500)
    print(f"   plain-number golds decided by exact arithmetic in the parent: {shortcut}/500")
    with MathVerifier(workers=args.workers) as warm:
        warm.verify_batch([(g, f"\\boxed{{{g}}}") for g in olympiad], timeout=args.timeout)
        print("\n2. pathological inputs mixed with normal ones")
        normal = [(gold, f"\\boxed{{{gold}}}") for gold in olympiad[:40]]
        pathological = [
            ("1", "\\boxed{" + "\\frac{1}{" * 400 + "2" + "}" * 400 + "}"),
            ("1", "\\boxed{" + "(" * 3000 + "1" + ")" * 3000 + "}"),
            ("1", "\\boxed{" + "9" * 1_000_000 + "}"),
            ("1", "The answer is " + "9" * 1_000_000),
            ("1", "\\boxed{9^{9^{9^{9}}}}"),
            ("2", "\\boxed{2^{2^{2^{2^{2^{2}}}}}}"),
        ]
        mixed = []
        for index, pair in enumerate(normal):
            mixed.append(pair)
            if index % 7 == 3 and pathological:
                mixed.append(pathological.pop())
        mixed += pathological
        alone_times, _ = latencies(warm, normal, args.pathological_timeout)
        mixed_times, mixed_verdicts = latencies(warm, mixed, args.pathological_timeout)
        normal_keys = set(normal)
        normal_mixed = [t for pair, t in zip(mixed, mixed_times) if pair in normal_keys]
        odd = [
            (pair, t, v) for pair, t, v in zip(mixed, mixed_times, mixed_verdicts) if pair not in normal_keys
        ]
        print(
            f"   normal checks alone:      median {statistics.median(alone_times) * 1000:7.1f} ms, "
            f"max {max(alone_times) * 1000:7.1f} ms"
        )
        print(
            f"   normal checks, mixed:     median {statistics.median(normal_mixed) * 1000:7.1f} ms, "
            f"max {max(normal_mixed) * 1000:7.1f} ms"
        )
        timeouts = sum(1 for _, _, v in odd if v.error and v.error.startswith("timeout"))
        print(
            f"   pathological: {len(odd)}, timed out {timeouts}, other errors "
            f"{sum(1 for _, _, v in odd if v.error and not v.error.startswith('timeout'))}, "
            f"workers replaced so far {warm.replaced}"
        )
        for (_gold, completion), seconds, verdict in odd:
            label = completion[:40] + ("..." if len(completion) > 40 else "")
            print(
                f"     {seconds:6.2f} s  {verdict.error or ('correct' if verdict.correct else 'wrong')}  {label!r}"
            )
        start = time.perf_counter()
        warm.verify_batch(normal, timeout=args.pathological_timeout)
        alone_batch = time.perf_counter() - start
        start = time.perf_counter()
        batch_verdicts = warm.verify_batch(mixed, timeout=args.pathological_timeout)
        mixed_batch = time.perf_counter() - start
        batch_timeouts = sum(1 for v in batch_verdicts if v.error and v.error.startswith("timeout"))
        print(
            f"   as one batch: normal only {alone_batch:.2f} s; mixed {mixed_batch:.2f} s with {batch_timeouts} "
            f"timeouts (each blocks one worker for at most {args.pathological_timeout} s)"
        )
        wrong_normal = sum(
            1 for pair, v in zip(mixed, mixed_verdicts) if pair in normal_keys and not v.correct
        )
        print(f"   normal checks judged wrong in the mixed run: {wrong_normal} (must be 0)")

    print("\n3. offline math environment checks (in-process, no pool)")
    from pearbench.registry import make_game

    for env in ("math_arithmetic", "math_linear", "math_fractions", "math_modular", "math_counting"):
        game = make_game(env, "hard")
        items = [game.generate(seed) for seed in range(300)]
        traces = [game.solve(item) for item in items]
        start = time.perf_counter()
        for _ in range(10):
            for item, trace in zip(items, traces):
                game.verify(item, trace)
        elapsed = time.perf_counter() - start
        print(f"   {env:<16} {3000 / elapsed:9.0f} verifications/s")


if __name__ == "__main__":
    main()
