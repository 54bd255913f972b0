"""The environment contract over EVERY registered game (docs/design.md §3): Gymnasium's checker, registration on import,
verifiers that never raise and answer within 1 s on hostile input, clear errors; plus the reasoning-gym adapter."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import types

import gymnasium
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pearbench
from pearbench.envs.base import Game, Instance
from pearbench.errors import PearbenchError
from pearbench.registry import bundled_modules, list_games, make_game
from pearbench.verify.verdict import Verdict

GAMES = [game_cls.name for game_cls in list_games()]
GAME_LEVELS = [(game_cls.name, level) for game_cls in list_games() for level in game_cls.levels]
TIME_LIMIT_S = 1.0  # the contract: a game verifier answers within 1 s


def checked_verify(game: Game, instance: Instance, completion: str) -> Verdict:
    """verify() must not raise, must return a Verdict with a 0/1 reward and no error, and must take < 1 s."""
    start = time.perf_counter()
    verdict = game.verify(instance, completion)
    elapsed = time.perf_counter() - start
    assert isinstance(verdict, Verdict)
    assert verdict.reward in (0.0, 1.0)
    assert verdict.error is None, f"{game.name}: the check itself failed: {verdict.error}"
    assert elapsed < TIME_LIMIT_S, f"{game.name} took {elapsed:.2f} s on a {len(completion)}-char completion"
    return verdict


_INSTANCES: dict[tuple[str, str], tuple[Game, Instance]] = {}


def game_and_instance(name: str, level: str) -> tuple[Game, Instance]:
    if (name, level) not in _INSTANCES:
        game = make_game(name, level)
        _INSTANCES[(name, level)] = (game, game.generate(11))
    return _INSTANCES[(name, level)]


# -- Gymnasium --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "level"), GAME_LEVELS)
def test_check_env_passes(name: str, level: str) -> None:
    game_cls = type(make_game(name, level))
    env = gymnasium.make(game_cls.gym_id(), difficulty=level)
    check_env(env.unwrapped, skip_render_check=True)
    prompt, info = env.reset(seed=5)
    assert isinstance(prompt, str) and prompt and info["difficulty"] == level
    assert env.observation_space.contains(prompt), "prompt has characters outside the Text space"
    trace = env.unwrapped.game.solve(env.unwrapped.instance, game_cls.trace_styles[0])
    _, reward, terminated, truncated, info = env.step(trace)
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert isinstance(info["verdict"], Verdict) and info["verdict"].correct
    _, reward, terminated, _, info = env.step("no answer here")
    assert reward == 0.0 and terminated and info["extracted"] is None


@pytest.mark.parametrize("name", GAMES)
def test_every_level_instance_space_and_styles(name: str) -> None:
    game_cls = type(make_game(name))
    assert len(game_cls.levels) >= 3 and game_cls.default_difficulty in game_cls.levels
    assert len(set(game_cls.trace_styles)) >= 2
    for level in game_cls.levels:
        space = make_game(name, level).instance_space()
        assert space is None or (isinstance(space, int) and space > 0)


def test_import_pearbench_registers_every_bundled_game() -> None:
    code = (
        "import json, gymnasium, pearbench\n"
        "from pearbench.registry import list_games\n"
        "ids = sorted(k for k in gymnasium.registry if k.startswith('pearbench/'))\n"
        "games = sorted([g.__module__, g.gym_id()] for g in list_games())\n"
        "print(json.dumps({'ids': ids, 'games': games}))\n"
    )
    out = json.loads(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    )
    game_ids = {gym_id for _, gym_id in out["games"]}
    assert set(out["ids"]) == game_ids
    modules = {module for module, _ in out["games"]}
    for module in bundled_modules():
        assert f"pearbench.envs.{module}" in modules, f"bundled module {module} registers no game"
    assert "splits" not in bundled_modules() and "base" not in bundled_modules()
    for name in ("Zebra", "Futoshiki", "NQueens", "Hanoi", "Nonogram", "Countdown"):
        assert f"pearbench/{name}-v0" in game_ids


def test_unknown_env_id_and_difficulty_list_the_choices() -> None:
    with pytest.raises(PearbenchError) as error:
        make_game("pearbench/Nope-v0")
    assert "unknown environment 'pearbench/Nope-v0'" in str(error.value)
    assert all(game_cls.gym_id() in str(error.value) for game_cls in list_games())
    with pytest.raises(
        PearbenchError, match=r"unknown difficulty for zebra 'extreme'; choose one of: easy, hard"
    ):
        gymnasium.make("pearbench/Zebra-v0", difficulty="extreme")
    with pytest.raises(PearbenchError, match="unknown option 'colour'"):
        gymnasium.make("pearbench/Zebra-v0", colour=3)
    # lookups by name, title and gym id all work
    assert type(make_game("ZEBRA")) is type(make_game("pearbench/Zebra-v0")) is type(make_game("zebra"))


# -- hostile completions ----------------------------------------------------------------------------------------
FRAGMENTS = [
    "<answer>", "</answer>", "<think>", "</think>", "\\boxed{", "\\boxed", "{", "}", "(", ")", "[", "]", ",", ";",
    "/", "|", ">", "->", "=", "#", ".", "Q", "\n", " ", "-", "1", "2", "3", "10", "999999999999", "1e308", "red",
    "house", "dog", "0", "é", "→", "\x00", "\ud800", "🙂", "∞", "+", "*", "x",
]  # fmt: skip
fragments = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=12), max_size=80).map("".join)
completions = st.one_of(
    st.text(max_size=3000),
    fragments,
    fragments.map(lambda text: f"<answer>{text}</answer>"),
    fragments.map(lambda text: f"\\boxed{{{text}}}"),
)


@pytest.mark.parametrize("name", GAMES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(completion=completions)
def test_random_completions_never_break_a_verifier(name: str, completion: str) -> None:
    for level in type(make_game(name)).levels:
        game, instance = game_and_instance(name, level)
        checked_verify(game, instance, completion)


def _adversarial(answer: str) -> list[str]:
    """Hostile completions whose extracted answer is short enough to reach check() (<= 10,000 chars)."""
    rng = random.Random(0)
    noise = "".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(3000))
    return [
        "",
        "<answer></answer>",
        "<answer><answer>1</answer></answer>",
        "<answer>" * 500 + answer + "</answer>" * 500,
        "<answer>" + "9" * 9_900 + "</answer>",
        "<answer>1e999999</answer>",
        "<answer>" + "1" * 4_000 + "/" + "7" * 4_000 + "</answer>",
        "<answer>-" + "9" * 300 + "</answer>",
        "<answer>" + "(" * 4_000 + ")" * 4_000 + "</answer>",
        "<answer>" + "1>3," * 2_400 + "</answer>",
        "<answer>" + "Q." * 4_900 + "</answer>",
        "<answer>" + "#.\n" * 3_000 + "</answer>",
        "<answer>" + "red, dog; " * 900 + "</answer>",
        "<answer>" + (answer + "\n") * max(1, 9_000 // (len(answer) + 1)) + "</answer>",
        f"<answer>{noise}</answer>",
        f"<answer>{noise[:50]}{answer}{noise[:50]}</answer>",
        f"<answer>\x00{answer}\ud800</answer>",
        "\\boxed{" + answer,
        "\\boxed{\\boxed{" + answer + "}",
        f"<think>{answer}",
        f"<think>x</think><think>{answer}",
        "</think>" * 1_000 + f"<answer>{answer}</answer>",
        f"\\boxed{{{answer}}}",
    ]


def _huge(answer: str) -> list[str]:
    """1 MB-scale completions (extraction rejects or truncates them before any game-specific parsing)."""
    return [
        "a" * 1_000_000,
        "9" * 1_000_000,
        "é🙂" * 300_000,
        "<answer>" + "9" * 1_000_000 + "</answer>",
        "<answer>" + "(" * 100_000 + "</answer>",
        "(" * 100_000 + ")" * 100_000,
        "\\boxed{" + "a" * 1_000_000,
        "\\boxed{" + "{" * 100_000,
        "<answer>" * 100_000 + answer + "</answer>" * 100_000,
        "<think>" * 100_000,
        f"{'x' * 1_000_000}<answer>{answer}</answer>",
    ]


@pytest.mark.parametrize(("name", "level"), GAME_LEVELS)
def test_adversarial_completions(name: str, level: str) -> None:
    game, instance = game_and_instance(name, level)
    for completion in _adversarial(instance.answer):
        checked_verify(game, instance, completion)
    # the gold answer still counts when hostile noise surrounds the tags
    assert checked_verify(game, instance, "</think>" * 1_000 + f"<answer>{instance.answer}</answer>").correct
    assert not checked_verify(game, instance, f"<think>{instance.answer}").correct


@pytest.mark.parametrize("name", GAMES)
def test_one_megabyte_completions(name: str) -> None:
    game, instance = game_and_instance(name, type(make_game(name)).default_difficulty)
    for completion in _huge(instance.answer):
        checked_verify(game, instance, completion)
    assert checked_verify(game, instance, "x" * 1_000_000 + f"<answer>{instance.answer}</answer>").correct


# Regression: both scans were once quadratic in the number of repeats (a 20-40 KB completion took seconds).
def test_repeated_unbalanced_boxed_within_time_limit() -> None:
    game, instance = game_and_instance("countdown", "easy")
    checked_verify(game, instance, "\\boxed{" * 2_500)


def test_many_closing_answer_tags_within_time_limit() -> None:
    game, instance = game_and_instance("countdown", "easy")
    checked_verify(game, instance, "</answer>" * 40_000)


# -- reasoning-gym adapter ----------------------------------------------------------------------------------------
class _FakeDataset:
    """Stands in for a reasoning-gym ProceduralDataset: entry 0 depends on the seed; partial credit for padding."""

    def __init__(self, seed: int, offset: int = 0) -> None:
        self.seed, self.offset = seed, offset

    def __getitem__(self, index: int) -> dict:
        a = self.seed % 97
        return {"question": f"What is {a} + {self.offset}?", "answer": str(a + self.offset), "metadata": {}}

    def score_answer(self, answer: str | None, entry: dict) -> float:
        if answer == entry["answer"]:
            return 1.0
        return 0.5 if answer is not None and answer.strip(" .") == entry["answer"] else 0.0


@pytest.fixture
def fake_reasoning_gym(monkeypatch):
    from pearbench.envs import rg_adapter

    calls = []

    def create_dataset(name: str, size: int, seed: int, **config):
        calls.append((name, size, seed, config))
        if name not in ("toy_add", "toy_other"):
            raise ValueError(f"Dataset '{name}' not registered")
        return _FakeDataset(seed, **config)

    module = types.ModuleType("reasoning_gym")
    module.create_dataset = create_dataset
    module.factory = types.SimpleNamespace(DATASETS={"toy_add": None, "toy_other": None})
    monkeypatch.setitem(sys.modules, "reasoning_gym", module)
    rg_adapter._dataset.cache_clear()
    try:
        yield calls
    finally:
        rg_adapter.unregister_reasoning_gym()


def test_reasoning_gym_adapter_with_a_fake_module(fake_reasoning_gym) -> None:
    from pearbench.envs import rg_adapter
    from pearbench.envs.splits import make_splits

    assert rg_adapter.available() and rg_adapter.list_tasks() == ["toy_add", "toy_other"]
    assert rg_adapter.register_reasoning_gym(["toy_add"]) == ["pearbench/rg-toy_add-v0"]
    env = gymnasium.make("pearbench/rg-toy_add-v0", task_config='{"offset": 5}')
    check_env(env.unwrapped, skip_render_check=True)
    prompt, _ = env.reset(seed=1)
    assert "+ 5?" in prompt and "<answer>" in prompt
    instance = env.unwrapped.instance
    assert fake_reasoning_gym[-1][1:] == (1, instance.meta["rg_seed"], {"offset": 5})
    for style in env.unwrapped.game.trace_styles:
        assert env.step(env.unwrapped.game.solve(instance, style))[1] == 1.0
    assert env.step(f"<answer>{instance.answer}.</answer>")[1] == 0.0  # partial credit 0.5 is not a pass
    assert env.step("<answer>-1</answer>")[1] == 0.0
    # checking works from a stored instance alone (seed and config travel in meta)
    again = Instance.from_dict(json.loads(json.dumps(instance.to_dict())))
    assert env.unwrapped.game.verify(again, f"\\boxed{{{instance.answer}}}").correct
    # splits deduplicate by question: the fake has only 97 distinct questions
    game = make_game("rg-toy_add")
    assert len(make_splits(game, {"test": 40, "train": 50})["train"]) == 50
    with pytest.raises(PearbenchError, match="could fill only"):
        make_splits(game, {"test": 50, "train": 60})
    with pytest.raises(
        PearbenchError, match="unknown reasoning-gym task 'nope'; choose one of: toy_add, toy_other"
    ):
        rg_adapter.register_reasoning_gym(["nope"])
    with pytest.raises(PearbenchError, match="task_config must be a JSON object"):
        gymnasium.make("pearbench/rg-toy_add-v0", task_config="[1, 2]")
    rg_adapter.unregister_reasoning_gym()
    assert "pearbench/rg-toy_add-v0" not in gymnasium.registry
    with pytest.raises(PearbenchError):
        make_game("rg-toy_add")


def test_reasoning_gym_missing_is_a_clear_error(monkeypatch) -> None:
    from pearbench.envs import rg_adapter

    monkeypatch.setitem(sys.modules, "reasoning_gym", None)  # makes `import reasoning_gym` fail
    assert not rg_adapter.available()
    with pytest.raises(PearbenchError, match=r"reasoning-gym is not installed; install it with: pip install"):
        rg_adapter.register_reasoning_gym()


def test_reasoning_gym_adapter_with_the_real_package() -> None:
    pytest.importorskip("reasoning_gym")
    from pearbench.envs import rg_adapter

    rg_adapter._dataset.cache_clear()
    try:
        assert "leg_counting" in rg_adapter.list_tasks()
        rg_adapter.register_reasoning_gym(["leg_counting", "basic_arithmetic"])
        for gym_id in ("pearbench/rg-leg_counting-v0", "pearbench/rg-basic_arithmetic-v0"):
            env = gymnasium.make(gym_id)
            prompt, _ = env.reset(seed=3)
            instance = env.unwrapped.instance
            assert instance.problem["question"] in prompt
            assert env.step(env.unwrapped.game.solve(instance))[1] == 1.0
            assert env.step("<answer>not a number</answer>")[1] == 0.0
    finally:
        rg_adapter.unregister_reasoning_gym()
    assert not any(g.name.startswith("rg-") for g in list_games())


def test_pearbench_exports() -> None:
    assert pearbench.PearbenchError is PearbenchError and issubclass(PearbenchError, ValueError)
