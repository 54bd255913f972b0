"""`pearbench suites probe`: a suite's PEAR weights before a sweep (pearbench.harness.probe)."""

from __future__ import annotations

import json
import math
import random

import pytest
import torch

from pearbench.errors import PearbenchError
from pearbench.harness.probe import probe_suite, probe_text, trace_weights
from pearbench.train.weights import pear_weights
from tests.conftest import run_cli

CLIP = (-0.08, 0.3)
LOG_CLIP = (-10.0, 5.0)


def _rows(seed: int, n: int = 12):
    rng = random.Random(seed)
    rows, logprobs, games = [], [], []
    for i in range(n):
        length = rng.randint(1, 9)
        rows.append({"behavior_logprobs": [-rng.uniform(0.0, 3.0) for _ in range(length)]})
        logprobs.append([-rng.uniform(0.0, 3.0) for _ in range(length)])
        games.append("a" if i % 3 else "b")
    return rows, logprobs, games


def _reference(rows, logprobs, games):
    """Token weights from pear_weights (level seq) on one padded batch; ESS and group sums by plain loops."""
    width = max(len(lp) for lp in logprobs)
    lp = torch.zeros((len(rows), width), dtype=torch.float64)
    blp = torch.zeros_like(lp)
    mask = torch.zeros_like(lp)
    for i, (row, values) in enumerate(zip(rows, logprobs)):
        lp[i, : len(values)] = torch.tensor(values, dtype=torch.float64)
        blp[i, : len(values)] = torch.tensor(row["behavior_logprobs"], dtype=torch.float64)
        mask[i, : len(values)] = 1
    w = pear_weights(lp, blp, mask, level="seq", delta_clip=CLIP, log_weight_clip=LOG_CLIP)
    tokens = [float(w[i, j]) for i in range(len(rows)) for j in range(len(logprobs[i]))]
    ess = sum(tokens) ** 2 / sum(t * t for t in tokens) / len(tokens)
    log_g = {}
    for i, game in enumerate(games):
        log_g.setdefault(game, []).append(math.log(float(w[i, 0])))
    return ess, sum(tokens) / len(tokens), log_g


@pytest.mark.parametrize("seed", range(5))
def test_trace_weights_match_pear_weights(seed):
    rows, logprobs, games = _rows(seed)
    got = trace_weights(logprobs, rows, games, delta_clip=CLIP, log_weight_clip=LOG_CLIP)
    ess, mean_weight, log_g = _reference(rows, logprobs, games)
    assert got.ess == pytest.approx(ess, rel=1e-9)
    assert got.mean_weight == pytest.approx(mean_weight, rel=1e-9)
    assert set(got.games) == set(log_g)
    for game, values in log_g.items():
        group = got.games[game]
        assert group.traces == len(values)
        mine = sum(len(lp) for lp, g in zip(logprobs, games) if g == game)
        assert group.token_share == pytest.approx(mine / sum(len(lp) for lp in logprobs))
        assert group.mean_log_weight == pytest.approx(sum(values) / len(values), abs=1e-9)
        mean = sum(values) / len(values)
        assert group.std_log_weight == pytest.approx(
            math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        )


def test_trace_weights_length_spread_lowers_the_ess():
    """Every token at the lower clip: a 40-token trace weighs e^(-0.08*30) of a 10-token one; two such groups of
    equal token mass give an ESS of (1 + r)^2 / (2 (1 + r^2)) with r = e^2.4."""
    rows = [{"behavior_logprobs": [0.0] * 10}] * 4 + [{"behavior_logprobs": [0.0] * 40}]
    logprobs = [[-1.0] * 10] * 4 + [[-1.0] * 40]
    got = trace_weights(logprobs, rows, ["short"] * 4 + ["long"], delta_clip=CLIP, log_weight_clip=LOG_CLIP)
    r = math.exp(-2.4)
    assert got.ess == pytest.approx((1 + r) ** 2 / (2 * (1 + r * r)), rel=1e-9)
    assert got.games["long"].lower_clip_share == 1.0
    assert got.games["short"].mean_log_weight == pytest.approx(-0.8)


def test_trace_weights_refuse_nan():
    rows = [{"behavior_logprobs": [-1.0, -1.0]}]
    with pytest.raises(PearbenchError, match="not finite"):
        trace_weights([[float("nan"), -1.0]], rows, ["a"], delta_clip=CLIP, log_weight_clip=LOG_CLIP)


def test_probe_reads_the_cached_run(smoke_dir):
    """On the smoke run's cache: the SFT-batch ESS is the SFT log's, the mismatch the behavior stage's."""
    result = probe_suite("countdown", profile="smoke", out=str(smoke_dir), progress=False)
    sft_dirs = sorted((smoke_dir / "cache").glob("sft-*"))
    logs = [json.loads((d / "log.json").read_text()) for d in sft_dirs if (d / "log.json").exists()]
    ess_runs = [[e["ess_fraction"] for e in log] for log in logs]
    assert [result.ess_first, result.ess_last] in [[run[0], run[-1]] for run in ess_runs]
    assert 0 < result.ess_mean <= 1 and 0 < result.pi0.ess <= 1 and 0 < result.sft.ess <= 1
    behavior = [json.loads((d / "done.json").read_text()) for d in (smoke_dir / "cache").glob("behavior-*")]
    assert result.mismatch in [abs(b["stats"]["mean_log_ratio"]) for b in behavior]
    assert set(result.pi0.games) == {"countdown"}
    text = probe_text(result)
    assert "mean over SFT" in text and "countdown:" in text


def test_probe_cli(smoke_dir, tmp_path):
    probe = ("suites", "probe", "countdown", "--profile", "smoke", "--out", str(smoke_dir))
    done = run_cli(*probe, "--json", "--no-progress", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout[done.stdout.index("{") :])
    assert data["suite"] == "countdown" and data["method"] == "pear-seq"
    bad = run_cli(*probe, "--method", "sft", cwd=tmp_path)
    assert bad.returncode == 2
    assert "has no PEAR weights" in bad.stderr
