"""Data-parallel training (pearbench.train.distributed): two CPU processes (gloo), spawned from the test, make the
update one process makes on the same global batch, for every normalisation that matters; GRPO ranks draw the samples
one process draws; a killed two-process run resumes from rank 0's checkpoint; errors of a rank reach the caller."""

from __future__ import annotations

import dataclasses
import math
import random

import pytest
import torch

from pearbench.errors import PearbenchError
from pearbench.models.families import build_char_tokenizer, build_tiny_model, encode_prompt
from pearbench.models.generation import GenerationConfig, HFBackend, sample_rows
from pearbench.train import distributed
from pearbench.train.checkpoint import list_checkpoints
from pearbench.train.distributed import SINGLE, Parallel, launch, shard_bounds
from pearbench.train.grpo import GRPOConfig, train_grpo
from pearbench.train.methods import get_method
from pearbench.train.sft import SFTConfig, train_sft
from pearbench.verify.verdict import Verdict

TOKENIZER = build_char_tokenizer()
PAD = TOKENIZER.pad_token_id
REL = 1e-5  # the tolerance of "the same update" in float32: ||w_N - w_1|| / ||w_1|| per tensor


def tiny(seed: int = 0) -> torch.nn.Module:
    return build_tiny_model("tiny-ci", TOKENIZER, seed=seed)


def make_examples(count: int = 40, seed: int = 0) -> list[dict]:
    """Random prompts and responses of varied lengths (so shards differ in tokens), behavior log-probs near uniform."""
    rng = random.Random(seed)
    vocab = len(TOKENIZER)
    examples = []
    for _ in range(count):
        prompt = [TOKENIZER.bos_token_id] + [rng.randrange(4, vocab) for _ in range(rng.randint(2, 9))]
        response = [rng.randrange(4, vocab) for _ in range(rng.randint(1, 14))] + [TOKENIZER.eos_token_id]
        behavior = [-math.log(vocab) + rng.uniform(-0.5, 0.5) for _ in response]
        examples.append({"prompt_ids": prompt, "response_ids": response, "behavior_logprobs": behavior})
    return examples


#: (method, normalisation): every normalisation the objectives offer, PEAR's self-normalised one included
SFT_CASES = [
    ("sft", "token-mean"),
    ("dft", "seq-mean"),
    ("pear-seq", "self-normalised"),
    ("pear-seq", "token-mean"),
]
SFT_CONFIG = SFTConfig(
    steps=4, batch_size=15, micro_batch_size=3, lr=3e-3, warmup_steps=1, checkpoint_every=2
)


def sft_run(method, normalisation, folder, parallel=None, config=SFT_CONFIG, desc="sft"):
    model = tiny()
    log = train_sft(
        model,
        make_examples(),
        objective=get_method(method).loss,
        options=get_method(method).make_options({"normalisation": normalisation}),
        config=config,
        seed=5,
        pad_id=PAD,
        checkpoint_dir=folder,
        progress=False,
        desc=desc,
        parallel=parallel,
    )
    return {name: t.detach().clone() for name, t in model.state_dict().items()}, log


PROMPTS = [
    encode_prompt(TOKENIZER, text)
    for text in ("3 4 5=", "reach 9:", "1 1 1?", "8+", "countdown 7 2 6", "12 3=", "go:")
]


def toy_reward(index: int, text: str) -> Verdict:
    """Deterministic: correct iff the characters' codes sum to an even number (errors on prompt 6)."""
    if index == 6:
        return Verdict(correct=False, error="timeout")
    return Verdict(correct=sum(map(ord, text)) % 2 == 0)


GRPO_CONFIG = GRPOConfig(
    steps=3,
    prompts_per_step=3,  # 3 prompts on 2 ranks: shares of 1 and 2
    group_size=4,
    lr=2e-3,
    max_new_tokens=10,
    micro_batch_size=3,
    checkpoint_every=2,
    kl_log_every=1,
    kl_coef=0.05,
    monitor_every=2,
)


def grpo_run(aggregation, folder, parallel=None, inner=1, config=GRPO_CONFIG):
    model = tiny()
    log = train_grpo(
        model,
        TOKENIZER,
        PROMPTS,
        toy_reward,
        config=dataclasses.replace(config, loss_aggregation=aggregation, inner_iterations=inner),
        seed=3,
        checkpoint_dir=folder,
        reference=tiny(),
        progress=False,
        monitor=lambda policy: float(sum(p.detach().abs().sum() for p in policy.parameters())),
        parallel=parallel,
    )
    return {name: t.detach().clone() for name, t in model.state_dict().items()}, log


def assert_same_update(many: dict, one: dict) -> None:
    assert many.keys() == one.keys()
    for name in one:
        difference = float((many[name].double() - one[name].double()).norm())
        scale = float(one[name].double().norm())
        assert difference <= REL * scale, (name, difference / scale)


def assert_same_log(many: list, one: list, *, exact: tuple[str, ...] = ()) -> None:
    assert len(many) == len(one)
    for a, b in zip(many, one):
        assert a.keys() == b.keys()
        for key in a:
            if key in exact:
                assert a[key] == b[key], key
            else:
                assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-6, nan_ok=True), key


# -- workers: module-level, so spawned ranks can import them -----------------------------------------------------
def _identical_everywhere(parallel: Parallel, state: dict) -> bool:
    states = parallel.gather_objects(state)
    return all(torch.equal(other[name], state[name]) for other in states for name in state)


GRPO_CASES = [("token-mean", 1), ("seq-mean", 2)]  # (aggregation, inner iterations)


def _resume_run(folder: str, parallel: Parallel) -> tuple:
    config = dataclasses.replace(SFT_CONFIG, steps=5)
    state, log = sft_run("pear-seq", "self-normalised", folder, parallel, config=config, desc="sft ddp")
    return state, log, _identical_everywhere(parallel, state)


def _two_rank_worker(folder: str) -> dict:
    """Everything the two-process tests compare, in one launch (starting processes is the slow part)."""
    parallel = distributed.setup("cpu")
    assert parallel.world_size == 2
    out: dict = {"sft": [], "grpo": []}
    for method, normalisation in SFT_CASES:
        state, log = sft_run(method, normalisation, f"{folder}/sft-{method}-{normalisation}", parallel)
        out["sft"].append((state, log, _identical_everywhere(parallel, state)))
    for aggregation, inner in GRPO_CASES:
        state, log = grpo_run(aggregation, f"{folder}/grpo-{aggregation}", parallel, inner=inner)
        out["grpo"].append((state, log, _identical_everywhere(parallel, state)))
    out["straight"] = _resume_run(f"{folder}/straight", parallel)
    return out


def _resume_worker(folder: str) -> tuple:
    return _resume_run(folder, distributed.setup("cpu"))


def _atexit_worker(folder: str) -> int:
    """Registers an exit handler that writes a file: a rank's clean exit must still run it (the verifier pool's)."""
    import atexit

    parallel = distributed.setup("cpu")
    atexit.register(lambda: open(f"{folder}/exit-{parallel.rank}", "w").close())
    return parallel.world_size


def _failing_worker(message: str) -> None:
    parallel = distributed.setup("cpu")
    if parallel.rank == 1:
        raise PearbenchError(message)
    parallel.barrier()  # rank 0 waits for a rank that never comes: the launcher must stop it


# -- pure pieces ---------------------------------------------------------------------------------------------------
def test_shards_are_contiguous_balanced_and_cover_the_batch():
    for count in range(1, 20):
        for world in range(1, 5):
            bounds = [shard_bounds(count, rank, world) for rank in range(world)]
            assert bounds[0][0] == 0 and bounds[-1][1] == count
            assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
            sizes = [end - begin for begin, end in bounds]
            assert max(sizes) - min(sizes) <= 1
    assert list(Parallel(rank=1, world_size=2).shard(5)) == [2, 3, 4]
    assert list(SINGLE.shard(5)) == [0, 1, 2, 3, 4]


def test_a_single_process_needs_no_group():
    assert SINGLE.sum_floats(1.5, 2.0) == [1.5, 2.0]
    assert SINGLE.gather_objects("x") == ["x"] and SINGLE.broadcast_object(3) == 3
    assert SINGLE.main_value(lambda: 7) == 7
    with SINGLE.main_first():
        pass
    assert distributed.setup("cpu") == SINGLE  # no WORLD_SIZE: nothing is initialised
    with pytest.raises(PearbenchError, match="fewer than the 2 processes"):
        Parallel(rank=0, world_size=2).require_items(1, "[rl] prompts_per_step")


def test_sample_rows_draws_what_multinomial_draws_for_those_rows():
    """The rollout sharding rests on this: torch's one-sample multinomial is the exponential race over the batch."""
    for trial in range(5):
        probs = torch.softmax(torch.randn(12, 50 + trial) * 3, dim=-1)
        whole = torch.multinomial(probs, 1, generator=torch.Generator().manual_seed(trial)).squeeze(-1)
        for begin, end in ((0, 5), (5, 12), (3, 4)):
            part = sample_rows(probs[begin:end], torch.Generator().manual_seed(trial), begin, 12)
            assert torch.equal(part, whole[begin:end]), (trial, begin, end)


def test_generating_a_share_of_the_rows_gives_those_rows_of_the_full_call():
    backend = HFBackend(tiny(), TOKENIZER)
    config = GenerationConfig(max_new_tokens=12, batch_size=64)
    whole = backend.generate(PROMPTS, n=3, config=config, seed=11)
    parts = [backend.generate(PROMPTS, n=3, config=config, seed=11, rows=r) for r in ((0, 9), (9, 21))]
    shared = parts[0] + parts[1]
    assert [s.prompt_index for s in shared] == [s.prompt_index for s in whole]
    assert [s.response_ids for s in shared] == [s.response_ids for s in whole]
    for a, b in zip(shared, whole):
        assert a.logprobs == pytest.approx(b.logprobs, abs=1e-5)
    with pytest.raises(PearbenchError, match="one batch"):
        backend.generate(PROMPTS, n=3, config=dataclasses.replace(config, batch_size=8), seed=1, rows=(0, 2))


# -- two processes against one --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("two-ranks")
    return {"folder": folder, **launch(_two_rank_worker, (str(folder),), processes=2)}


def test_two_process_sft_makes_the_one_process_update_for_every_normalisation(two_ranks, tmp_path):
    for (method, normalisation), (state, log, identical) in zip(SFT_CASES, two_ranks["sft"]):
        assert identical, (method, normalisation)  # both ranks hold the same weights
        one_state, one_log = sft_run(method, normalisation, tmp_path / f"one-{method}-{normalisation}")
        assert_same_update(state, one_state)
        assert_same_log(log, one_log, exact=("step", "lr", "tokens", "sequences"))
    # rank 0 alone wrote the checkpoints
    assert [p.name for p in list_checkpoints(two_ranks["folder"] / "sft-sft-token-mean")] == ["step-4"]


def test_two_process_grpo_draws_the_one_process_samples_and_makes_its_update(two_ranks, tmp_path):
    for (aggregation, inner), (state, log, identical) in zip(GRPO_CASES, two_ranks["grpo"]):
        assert identical, aggregation
        one_state, one_log = grpo_run(aggregation, tmp_path / f"one-{aggregation}", inner=inner)
        assert_same_update(state, one_state)
        # the same samples: rewards, errors and lengths agree exactly; the monitor ran on rank 0 only
        exact = ("step", "reward_mean", "pass_rate", "verifier_errors", "response_length")
        assert_same_log(log, one_log, exact=exact)
        assert [e["step"] for e in log if "monitor_reward" in e] == [0, 2, 3]
        assert sum(e.get("verifier_errors", 0) for e in log) > 0


def test_a_killed_two_process_run_resumes_from_rank_0s_checkpoint(two_ranks, tmp_path, monkeypatch):
    straight = two_ranks["straight"]
    monkeypatch.setenv("PEARBENCH_FAULT", "sft:3")  # both ranks are SIGKILLed after step 3
    with pytest.raises(RuntimeError, match="died|failed"):
        launch(_resume_worker, (str(tmp_path / "resumed"),), processes=2)
    assert [p.name for p in list_checkpoints(tmp_path / "resumed")] == ["step-2"]
    monkeypatch.delenv("PEARBENCH_FAULT")
    resumed = launch(_resume_worker, (str(tmp_path / "resumed"),), processes=2)
    assert resumed[2]  # every rank loaded the checkpoint
    for name in straight[0]:
        assert torch.equal(resumed[0][name], straight[0][name]), name
    assert [e["step"] for e in resumed[1]] == [1, 2, 3, 4, 5]
    for a, b in zip(resumed[1], straight[1]):
        assert a == pytest.approx(b)


def test_ranks_end_cleanly_and_run_their_exit_handlers(tmp_path):
    # ranks end with os._exit after the barrier and group teardown (gloo can abort in interpreter finalisation);
    # the Python exit handlers must still have run on every rank
    assert launch(_atexit_worker, (str(tmp_path),), processes=2) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exit-0", "exit-1"]


def test_a_rank_s_user_error_reaches_the_caller_and_stops_the_group(tmp_path):
    with pytest.raises(PearbenchError, match="^bad input on rank 1$"):
        launch(_failing_worker, ("bad input on rank 1",), processes=2)


def test_processes_must_be_a_whole_number(tmp_path):
    from pearbench.harness.runner import RunRequest, run

    for bad in (0, -1, 1.5, True):
        with pytest.raises(PearbenchError, match="--processes must be a whole number >= 1"):
            run(RunRequest(profile="smoke", out=str(tmp_path), processes=bad))
    with pytest.raises(PearbenchError, match="processes must be a whole number >= 1"):
        launch(_failing_worker, ("x",), processes=0)
    # refused before any process starts: the smoke profile's RL steps have 4 prompts
    with pytest.raises(PearbenchError, match=r"\[rl\] prompts_per_step is 4, fewer than the 5 processes"):
        run(RunRequest(profile="smoke", out=str(tmp_path), processes=5))


@pytest.mark.slow
def test_a_two_process_smoke_run_records_its_world_size(smoke_dir):
    """End to end (shared stages from the smoke fixture's cache): SFT and RL on 2 processes, a record by rank 0."""
    from pearbench.harness.runner import RunRequest, run

    record = run(RunRequest(method="sft", profile="smoke", out=str(smoke_dir), progress=False, processes=2))
    assert record["engine"]["world_size"] == 2
    assert record["engine"]["rl_engine"] == "native" and record["engine"]["rollout_backend"] == "hf"
    assert math.isfinite(record["metrics"]["rl"]["pass@1"]["value"])
