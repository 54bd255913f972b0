"""One validation style for every profile table (pearbench.settings): types from the annotations (bool is not an
int; an int is accepted for a float; tuples, optionals, choices), ranges from the fields, messages naming
``[table] key``, expected type and value -- checked before any work."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pearbench.errors import PearbenchError
from pearbench.harness.config import _TABLES, load_profile
from pearbench.settings import SettingError, Settings, build, describe_fields, setting


def refused(tmp_path: Path, text: str) -> str:
    config = tmp_path / "c.toml"
    config.write_text(text)
    with pytest.raises(PearbenchError) as error:
        load_profile("smoke", str(config))
    return str(error.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[rl]\nscale_rewards = "no"\n', "[rl] scale_rewards: expected true or false, got 'no'"),
        ("[rl]\ngroup_size = 4.5\n", "[rl] group_size: expected an integer, got 4.5"),
        ("[data]\ntrain = 10.7\n", "[data] train: expected an integer, got 10.7"),
        ("[behavior]\nbatch_size = 3.2\n", "[behavior] batch_size: expected an integer, got 3.2"),
        ('[eval]\nvllm_eager = "yes"\n', "[eval] vllm_eager: expected true or false, got 'yes'"),
        ("[sft]\nsteps = true\n", "[sft] steps: expected an integer, got True"),
        ("[sft]\nsteps = 2.5\n", "[sft] steps: expected an integer, got 2.5"),
        ('[sft]\nsteps = "ten"\n', "[sft] steps: expected an integer, got 'ten'"),
        ("[sft]\nsteps = -5\n", "[sft] steps: must be >= 0, got -5"),
        ("[rl]\nlr = -0.1\n", "[rl] lr: must be > 0, got -0.1"),
        ("[data]\ntest = 0\n", "[data] test: must be >= 1, got 0"),
        ("[sft]\nbetas = [0.9]\n", "[sft] betas: expected a list of 2 numbers, got (0.9,)"),
        ('[eval]\nks = [1, "2"]\n', "[eval] ks: expected a list of integers, got (1, '2')"),
        ("[eval]\nks = [1, 0]\n", "[eval] ks: must be >= 1, got (1, 0)"),
        ("[eval]\nheldout_n = 1.5\n", "[eval] heldout_n: expected an integer (or left out), got 1.5"),
        (
            '[rl]\nloss_aggregation = "sum"\n',
            "[rl] loss_aggregation: must be one of token-mean, seq-mean; got 'sum'",
        ),
        ("[rl]\nlr = nan\n", "[rl] lr: must be a finite number, got nan"),
        ('threads = "2"\n', "[profile] threads: expected an integer, got '2'"),
        ("[rl]\nnot_a_key = 1\n", "[rl] not_a_key: unknown key; allowed: "),
        ("rl = 3\n", "[rl]: expected a table, got 3"),
        ("nope = 1\n", "[profile] nope: unknown key"),
    ],
)
def test_bad_values_name_table_key_type_and_value(tmp_path: Path, text: str, message: str) -> None:
    assert message in refused(tmp_path, text)


def test_integers_are_accepted_for_floats_and_values_keep_their_type(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[rl]\nlr = 1\nkl_coef = 0\n[sft]\nbetas = [0, 0.5]\n")
    profile = load_profile("smoke", str(config))
    assert profile.rl.lr == 1 and profile.rl.kl_coef == 0 and profile.sft.betas == (0, 0.5)


def test_every_field_of_every_table_is_documented() -> None:
    for name, cls in _TABLES.items():
        documented = {field[0] for field in describe_fields(cls)}
        assert documented == {f.name for f in dataclasses.fields(cls)}, name
        assert all(field[3].strip() for field in describe_fields(cls)), name


def test_python_construction_is_checked_the_same_way() -> None:
    from pearbench.train.sft import SFTConfig

    with pytest.raises(SettingError, match=r"\[sft\] lr: must be > 0, got 0"):
        SFTConfig(lr=0)
    with pytest.raises(SettingError, match=r"\[sft\] steps: expected an integer, got 2.5"):
        SFTConfig(steps=2.5)


@dataclasses.dataclass(frozen=True)
class _Toy(Settings):
    TABLE = "toy"
    flag: bool = setting(False, doc="a switch")
    ratio: float = setting(0.5, doc="a share", ge=0, le=1)
    size: int | None = setting(None, doc="optional size", ge=1)
    names: tuple[str, ...] = setting((), doc="names")
    table: dict[str, str] = setting(default_factory=dict, doc="name -> path")

    def check(self) -> None:
        if self.size is not None and self.size > 10 and self.flag:
            raise SettingError("size: must be <= 10 when flag is set")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"flag": 1}, "[where] flag: expected true or false, got 1"),
        ({"ratio": True}, "[where] ratio: expected a number, got True"),
        ({"ratio": 1.5}, "[where] ratio: must be <= 1, got 1.5"),
        ({"size": 0}, "[where] size: must be >= 1, got 0"),
        ({"names": ["a", 2]}, "[where] names: expected a list of strings, got ('a', 2)"),
        ({"table": {"a": 1}}, "[where] table: expected a table, got {'a': 1}"),
        ({"size": 11, "flag": True}, "[where] size: must be <= 10 when flag is set"),
    ],
)
def test_the_mechanism_on_a_toy_table(values: dict, message: str) -> None:
    with pytest.raises(SettingError) as error:
        build(_Toy, values, "where")
    assert str(error.value) == message


def test_valid_toy_values_build() -> None:
    toy = build(_Toy, {"flag": True, "ratio": 1, "size": 3, "names": ["a"], "table": {"a": "b"}}, "where")
    assert toy == _Toy(flag=True, ratio=1, size=3, names=("a",), table={"a": "b"})
