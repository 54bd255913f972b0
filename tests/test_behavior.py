"""Behavior-policy data files: round trip, schema version, and every malformed file or row refused with one clear
error before any training step."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from pearbench.cli import main
from pearbench.errors import PearbenchError
from pearbench.harness.behavior import (
    SCHEMA_VERSION,
    mismatch_stats,
    read_parquet,
    validate_rows,
    write_parquet,
)
from pearbench.harness.datagen import score_jsonl
from pearbench.models.families import (
    build_char_tokenizer,
    build_tiny_model,
    encode_prompt,
    encode_response,
    load_model,
    save_model,
)
from pearbench.models.generation import score_responses
from pearbench.train.methods import load_recipe
from pearbench.train.sft import SFTConfig, train_sft

VOCAB = 104


def make_rows(count: int = 4) -> list[dict]:
    rows = []
    for index in range(count):
        length = 3 + index
        rows.append(
            {
                "prompt_ids": [1, 10 + index, 11, 12],
                "response_ids": [20 + (index + t) % 30 for t in range(length - 1)] + [2],
                "behavior_logprobs": [-0.25 * (t + 1) for t in range(length)],
                "reward": 1.0,
                "env": "countdown",
                "instance_id": f"countdown-easy-{index}",
                "source": "sampled",
            }
        )
    return rows


def write_raw(path, rows, meta: dict | None, *, drop: tuple[str, ...] = ()) -> None:
    """Write a parquet file by hand, bypassing write_parquet's validation (as a buggy or foreign writer would)."""
    columns = {
        "prompt_ids": pa.array([r["prompt_ids"] for r in rows], type=pa.list_(pa.int32())),
        "response_ids": pa.array([r["response_ids"] for r in rows], type=pa.list_(pa.int32())),
        "behavior_logprobs": pa.array([r["behavior_logprobs"] for r in rows], type=pa.list_(pa.float32())),
        "reward": pa.array([1.0] * len(rows), type=pa.float32()),
    }
    table = pa.table({k: v for k, v in columns.items() if k not in drop})
    if meta is not None:
        table = table.replace_schema_metadata({b"pearbench": json.dumps(meta).encode()})
    pq.write_table(table, path)


# --------------------------------------------------------------------------------------------- round trip


def test_round_trip_keeps_rows_and_metadata(tmp_path):
    rows = make_rows()
    path = tmp_path / "data.parquet"
    write_parquet(path, rows, {"teacher_stage": "abc", "generation": {"temperature": 1.0}, "seed": 3})
    back, meta = read_parquet(path, vocab_size=VOCAB)
    assert meta == {
        "schema_version": SCHEMA_VERSION,
        "teacher_stage": "abc",
        "generation": {"temperature": 1.0},
        "seed": 3,
    }
    assert len(back) == len(rows)
    for original, read in zip(rows, back):
        assert read["prompt_ids"] == original["prompt_ids"]
        assert read["response_ids"] == original["response_ids"]
        assert read["behavior_logprobs"] == pytest.approx(original["behavior_logprobs"], abs=1e-6)
        for key in ("reward", "env", "instance_id", "source"):
            assert read[key] == original[key]


def test_schema_version_is_in_the_file_metadata(tmp_path):
    path = tmp_path / "data.parquet"
    write_parquet(path, make_rows(), {})
    raw = pq.read_schema(path).metadata[b"pearbench"]
    assert json.loads(raw)["schema_version"] == SCHEMA_VERSION


def test_write_is_atomic_a_failed_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "data.parquet"
    write_parquet(path, make_rows(2), {"seed": 1})
    bad = make_rows(2)
    bad[1]["behavior_logprobs"][0] = float("nan")
    with pytest.raises(PearbenchError):
        write_parquet(path, bad, {"seed": 2})
    rows, meta = read_parquet(path)
    assert meta["seed"] == 1 and len(rows) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["data.parquet"]


# --------------------------------------------------------------------------------------------- malformed files


def test_missing_file(tmp_path):
    with pytest.raises(PearbenchError, match="not found"):
        read_parquet(tmp_path / "nope.parquet")


def test_corrupted_file(tmp_path):
    path = tmp_path / "data.parquet"
    path.write_bytes(b"this is not parquet at all" * 10)
    with pytest.raises(PearbenchError, match="corrupted or truncated"):
        read_parquet(path)


def test_truncated_file(tmp_path):
    path = tmp_path / "data.parquet"
    write_parquet(path, make_rows(), {})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(PearbenchError, match="corrupted or truncated"):
        read_parquet(path)


def test_file_without_pearbench_metadata(tmp_path):
    path = tmp_path / "data.parquet"
    write_raw(path, make_rows(), None)
    with pytest.raises(PearbenchError, match="no pearbench metadata"):
        read_parquet(path)


def test_other_schema_version(tmp_path):
    path = tmp_path / "data.parquet"
    write_raw(path, make_rows(), {"schema_version": SCHEMA_VERSION + 1})
    with pytest.raises(PearbenchError, match=f"schema version {SCHEMA_VERSION + 1}"):
        read_parquet(path)


def test_missing_column(tmp_path):
    path = tmp_path / "data.parquet"
    write_raw(path, make_rows(), {"schema_version": SCHEMA_VERSION}, drop=("behavior_logprobs",))
    with pytest.raises(PearbenchError, match="behavior_logprobs"):
        read_parquet(path)


def test_garbled_metadata_is_a_user_error(tmp_path):
    path = tmp_path / "data.parquet"
    write_raw(path, make_rows(), None)
    table = pq.read_table(path).replace_schema_metadata({b"pearbench": b"{not json"})
    pq.write_table(table, path)
    with pytest.raises(PearbenchError, match="metadata"):
        read_parquet(path)


# --------------------------------------------------------------------------------------------- malformed rows


def corrupt(kind: str) -> tuple[list[dict], str]:
    rows = make_rows()
    if kind == "nan":
        rows[2]["behavior_logprobs"][1] = float("nan")
        return rows, r"row 2 has a non-finite behavior log-prob \(nan\)"
    if kind == "inf":
        rows[1]["behavior_logprobs"][0] = float("-inf")
        return rows, r"row 1 has a non-finite behavior log-prob \(-inf\)"
    if kind == "positive":
        rows[3]["behavior_logprobs"][2] = 0.5
        return rows, r"row 3 has a positive behavior log-prob \(0.5\)"
    if kind == "length":
        rows[0]["behavior_logprobs"] = rows[0]["behavior_logprobs"][:-1]
        return rows, "row 0 has 3 response ids but 2 behavior log-probs"
    if kind == "empty-response":
        rows[1]["response_ids"], rows[1]["behavior_logprobs"] = [], []
        return rows, "row 1 has an empty prompt or response"
    if kind == "vocab":
        rows[2]["response_ids"][0] = VOCAB + 5
        return (
            rows,
            f"row 2 has token id {VOCAB + 5} outside the student tokenizer's vocabulary \\(size {VOCAB}\\)",
        )
    raise AssertionError(kind)


KINDS = ["nan", "inf", "positive", "length", "empty-response", "vocab"]


@pytest.mark.parametrize("kind", KINDS)
def test_bad_rows_in_a_file_are_refused_on_reading(tmp_path, kind):
    rows, message = corrupt(kind)
    path = tmp_path / "data.parquet"
    write_raw(path, rows, {"schema_version": SCHEMA_VERSION})
    with pytest.raises(PearbenchError, match=message) as caught:
        read_parquet(path, vocab_size=VOCAB)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "vocab"])
def test_bad_rows_are_refused_on_writing(tmp_path, kind):
    rows, message = corrupt(kind)
    path = tmp_path / "data.parquet"
    with pytest.raises(PearbenchError, match=message):
        write_parquet(path, rows, {})
    assert not path.exists()


def test_token_ids_within_the_vocabulary_pass_and_the_vocabulary_is_optional(tmp_path):
    rows, _ = corrupt("vocab")
    validate_rows(rows)  # no vocabulary given: not checked
    validate_rows(make_rows(), vocab_size=VOCAB)


def test_negative_token_id_names_the_bad_id():
    rows = make_rows()
    rows[1]["prompt_ids"][1] = -7
    with pytest.raises(PearbenchError, match="token id -7"):
        validate_rows(rows, vocab_size=VOCAB)


def test_no_rows():
    with pytest.raises(PearbenchError, match="no rows"):
        validate_rows([])


def test_nan_behavior_logprob_stops_sft_before_any_update(tmp_path):
    tokenizer = build_char_tokenizer()
    model = build_tiny_model("tiny-ci", tokenizer, seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rows = make_rows(8)
    rows[5]["behavior_logprobs"][0] = float("nan")
    method, options = load_recipe("pear-seq")
    with pytest.raises(PearbenchError, match="NaN|non-finite"):
        train_sft(
            model,
            rows,
            objective=method.loss,
            options=options,
            config=SFTConfig(steps=2, batch_size=8, micro_batch_size=8, warmup_steps=0),
            seed=0,
            pad_id=tokenizer.pad_token_id,
            checkpoint_dir=tmp_path / "ckpt",
            progress=False,
        )
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not (tmp_path / "ckpt").exists() or not any((tmp_path / "ckpt").iterdir())


# --------------------------------------------------------------------------------------------- mismatch level


def test_mismatch_stats_against_a_hand_computation():
    rows = make_rows(3)
    base = [[lp + (0.1 if t % 2 else -0.2) for t, lp in enumerate(r["behavior_logprobs"])] for r in rows]
    stats = mismatch_stats(base, rows)
    gaps = [b - p for bs, r in zip(base, rows) for b, p in zip(bs, r["behavior_logprobs"])]
    mean = sum(gaps) / len(gaps)
    assert stats["mean_log_ratio"] == pytest.approx(mean)
    assert stats["std_log_ratio"] == pytest.approx(math.sqrt(sum((g - mean) ** 2 for g in gaps) / len(gaps)))
    assert stats["fraction_below_delta_clip"] == pytest.approx(sum(g < -0.08 for g in gaps) / len(gaps))
    assert stats["fraction_above_delta_clip"] == pytest.approx(sum(g > 0.3 for g in gaps) / len(gaps))
    per_seq = [sum(b - p for b, p in zip(bs, r["behavior_logprobs"])) for bs, r in zip(base, rows)]
    assert stats["mean_seq_log_ratio"] == pytest.approx(sum(per_seq) / len(per_seq))
    assert stats["mean_response_tokens"] == pytest.approx(
        sum(len(r["response_ids"]) for r in rows) / len(rows)
    )


# --------------------------------------------------------------------------------------------- pearbench data score


@pytest.fixture(scope="module")
def behavior_model_dir(tmp_path_factory):
    tokenizer = build_char_tokenizer()
    folder = tmp_path_factory.mktemp("behavior-model")
    save_model(build_tiny_model("tiny-ci", tokenizer, seed=4), tokenizer, folder)
    return folder


def write_jsonl(path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_score_writes_behavior_data_with_the_models_own_logprobs(tmp_path, behavior_model_dir, capsys):
    data = tmp_path / "data.jsonl"
    records = [
        {"prompt": "3 4 5=", "response": "<answer>12</answer>", "env": "countdown", "id": "a"},
        {"prompt": "Reach 9 from 1 2 3 4 5:", "response": "5+4", "reward": 0.0},
        {"prompt": "x", "response": ""},
    ]
    write_jsonl(data, [json.dumps(r) for r in records[:2]] + ["", json.dumps(records[2])])
    out = tmp_path / "out" / "behavior.parquet"
    assert (
        main(
            [
                "data",
                "score",
                "--data",
                str(data),
                "--model",
                str(behavior_model_dir),
                "--out",
                str(out),
                "--batch-size",
                "2",
                "--no-progress",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert str(out) in printed and "rescored 3 responses" in printed

    model, tokenizer = load_model(behavior_model_dir)
    rows, meta = read_parquet(out, vocab_size=len(tokenizer))
    assert meta["behavior_model"] == str(behavior_model_dir) and meta["source_sha256"]
    prompts = [encode_prompt(tokenizer, r["prompt"]) for r in records]
    responses = [encode_response(tokenizer, r["response"]) for r in records]
    expected = score_responses(model, prompts, responses, tokenizer.pad_token_id)
    for row, prompt, response, values in zip(rows, prompts, responses, expected):
        assert row["prompt_ids"] == prompt and row["response_ids"] == response
        assert row["response_ids"][-1] == tokenizer.eos_token_id
        assert row["behavior_logprobs"] == pytest.approx(values, abs=1e-5)
        assert row["source"] == "rescored"
    assert [r["reward"] for r in rows] == [1.0, 0.0, 1.0]
    assert [r["instance_id"] for r in rows] == ["a", "line-2", "line-4"]
    assert rows[0]["env"] == "countdown"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            ['{"prompt": "a", "response": "b"}', '{"prompt": "a", "response": '],
            r"bad.jsonl, line 2: not valid JSON",
        ),
        (['["prompt", "response"]'], r"bad.jsonl, line 1: expected a JSON object, got an array"),
        (['{"prompt": "a"}'], r"bad.jsonl, line 1: field 'response' is missing; expected a string"),
        (
            ['{"prompt": 3, "response": "b"}'],
            r"bad.jsonl, line 1: field 'prompt' is a int; expected a string",
        ),
        (
            ['{"prompt": "a", "response": "b", "reward": "yes"}'],
            r"bad.jsonl, line 1: field 'reward' must be a number",
        ),
        ([""], r"data file '.*bad.jsonl' holds no records"),
        (
            ['{"prompt": "a", "response": "' + "y" * 600 + '"}'],
            r"bad.jsonl, line 1: prompt \+ response are 603 tokens",
        ),
    ],
)
def test_malformed_jsonl_is_one_line_naming_the_line(tmp_path, behavior_model_dir, capsys, lines, message):
    data = tmp_path / "bad.jsonl"
    write_jsonl(data, lines)
    out = tmp_path / "out.parquet"
    code = main(
        [
            "data",
            "score",
            "--data",
            str(data),
            "--model",
            str(behavior_model_dir),
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("pearbench: error:")
    assert re.search(message, err), err
    assert not out.exists()


@pytest.mark.parametrize(
    ("model", "message"),
    [("tiny-ci", "freshly initialised"), ("no/such/folder", "not a folder"), ("nosuchmodel", "not a folder")],
)
def test_score_refuses_a_model_that_is_no_behavior_policy(tmp_path, model, message):
    data = tmp_path / "data.jsonl"
    write_jsonl(data, ['{"prompt": "a", "response": "b"}'])
    with pytest.raises(PearbenchError, match=message):
        score_jsonl(data, model, tmp_path / "out.parquet", progress=False)


def test_score_rejects_invalid_utf8_naming_the_line(tmp_path, behavior_model_dir, capsys):
    data = tmp_path / "bad.jsonl"
    data.write_bytes(b'{"prompt": "a", "response": "b"}\n{"prompt": "\xff", "response": "b"}\n')
    out = tmp_path / "out.parquet"
    code = main(["data", "score", "--data", str(data), "--model", str(behavior_model_dir), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert re.search(r"bad.jsonl, line 2: not valid UTF-8", err), err
    assert not out.exists()


def test_score_needs_an_existing_data_file(tmp_path, behavior_model_dir):
    with pytest.raises(PearbenchError, match=r"data file '.*missing.jsonl' does not exist"):
        score_jsonl(tmp_path / "missing.jsonl", behavior_model_dir, tmp_path / "out.parquet", progress=False)


# --------------------------------------------------------------------------------------------- pearbench data generate


@pytest.mark.slow
@pytest.mark.timeout(1800)  # ~1.5 minutes on 2 idle cores; much longer on a loaded machine
def test_generate_runs_the_stages_up_to_behavior_data_and_reuses_them(tmp_path, capsys):
    args = ["data", "generate", "--profile", "smoke", "--seed", "0", "--out", str(tmp_path), "--no-progress"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    path = re.search(r"behavior data: (\S+)", printed).group(1)
    assert "yield" in printed and "mismatch level: mean log pi_0 - log pi_beta" in printed
    rows, meta = read_parquet(path, vocab_size=len(build_char_tokenizer()))
    assert len(rows) == 32 and meta["generation"]["temperature"] == 1.0
    assert all(r["source"] == "sampled" and r["reward"] == 1.0 for r in rows)
    stamp = Path(path).stat().st_mtime_ns
    assert main(args) == 0  # every stage cached: the same file, untouched
    assert re.search(r"behavior data: (\S+)", capsys.readouterr().out).group(1) == path
    assert Path(path).stat().st_mtime_ns == stamp


def test_generate_rejects_an_unknown_profile(tmp_path, capsys):
    code = main(["data", "generate", "--profile", "nosuchprofile", "--out", str(tmp_path), "--no-progress"])
    assert code == 2
    assert "nosuchprofile" in capsys.readouterr().err
