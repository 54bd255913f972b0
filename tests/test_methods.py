"""The method registry, recipes in baselines/, method labels and `pearbench methods`."""

from __future__ import annotations

import dataclasses
import importlib
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from pearbench.cli import main
from pearbench.errors import PearbenchError
from pearbench.hashing import config_hash
from pearbench.train import methods
from pearbench.train.methods import (
    ObjectiveOptions,
    get_method,
    list_methods,
    load_recipe,
    option,
    options_hash,
    parse_method_label,
    recipe_hash,
    recipe_path,
    register_method,
)
from pearbench.train.objectives import ObjectiveOutput, weighted_nll

BUNDLED = {
    # name: (runs_sft, needs_behavior_logprobs, weighted)
    "sft": (True, False, False),
    "dft": (True, False, True),
    "pear-seq": (True, True, True),
    "pear-token": (True, True, True),
    "pear-block": (True, True, True),
    "none": (False, False, False),
}


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------------------- registry


def test_bundled_methods_and_flags() -> None:
    names = {m.name for m in list_methods()}
    assert set(BUNDLED) <= names
    for name, (runs_sft, needs_behavior, weighted) in BUNDLED.items():
        method = get_method(name)
        assert (method.runs_sft, method.needs_behavior_logprobs, method.weighted) == (
            runs_sft,
            needs_behavior,
            weighted,
        )
        assert method.description


def test_unknown_method_lists_choices() -> None:
    with pytest.raises(PearbenchError) as info:
        get_method("pear-blok")
    message = str(info.value)
    assert "'pear-blok'" in message and "pear-block" in message and "sft" in message and "\n" not in message


def test_every_option_is_documented() -> None:
    for method in list_methods():
        for item in dataclasses.fields(method.options_class):
            assert item.metadata.get("help"), (method.name, item.name)
            assert item.metadata.get("paper"), (method.name, item.name)
            assert item.metadata.get("allowed"), (method.name, item.name)


def test_registering_a_taken_name_needs_override() -> None:
    with pytest.raises(PearbenchError, match="already registered"):
        register_method("sft", description="impostor", options_class=methods.SFTOptions)(lambda *a: None)


@pytest.mark.parametrize("name", ["Bad", "a@b", "", "-x", "has space"])
def test_malformed_method_names_are_refused(name: str) -> None:
    with pytest.raises(PearbenchError, match="malformed"):
        register_method(name, description="x", options_class=methods.SFTOptions)(lambda *a: None)


# ----------------------------------------------------------------------------------------- recipes


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_bundled_recipes_load_and_hold_the_defaults(name: str) -> None:
    method, options = load_recipe(name)
    assert method is get_method(name)
    assert options == method.default_options()
    path = recipe_path(name)
    assert path is not None and path.name == f"{name}.toml" and path.parent.name == "baselines"
    assert recipe_hash(name) == options_hash(name, options)
    assert recipe_hash(name) == config_hash({"method": name, "options": methods.options_to_dict(options)})


def test_recipe_hash_by_path_and_by_name_agree_and_track_values(tmp_path: Path) -> None:
    copy = tmp_path / "copy.toml"
    shutil.copy(recipe_path("pear-block"), copy)
    assert recipe_hash(copy) == recipe_hash(str(copy)) == recipe_hash("pear-block")
    # ints written for floats and omitted keys resolve to the same options, hence the same hash
    same = write(
        tmp_path / "same.toml",
        """
        method = "pear-block"
        [options]
        log_weight_clip = [-10, 5]
        """,
    )
    assert recipe_hash(same) == recipe_hash("pear-block")
    changed = write(
        tmp_path / "changed.toml",
        """
        method = "pear-block"
        [options]
        block_size = 8
        """,
    )
    assert recipe_hash(changed) != recipe_hash("pear-block")
    assert load_recipe(changed)[1].block_size == 8
    hashes = {recipe_hash(name) for name in BUNDLED}
    assert len(hashes) == len(BUNDLED)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            'method = "pear-block"\n[options]\nblocksize = 4\n',
            "unknown option 'blocksize'.*allowed: block_size",
        ),
        ('method = "pear-token"\n[options]\ngamma = -0.5\n', "'gamma'.*-0.5.*0 < gamma <= 1"),
        ('method = "pear-token"\n[options]\ngamma = 0\n', "gamma.*0 < gamma <= 1"),
        ('method = "pear-block"\n[options]\nblock_size = 0\n', "block_size.*0.*integer >= 1"),
        ('method = "pear-block"\n[options]\nblock_size = 2.5\n', "block_size.*2.5.*integer >= 1"),
        ('method = "pear-seq"\n[options]\ndelta_clip = [0.3, -0.08]\n', "delta_clip.*inverted.*low <= high"),
        ('method = "pear-seq"\n[options]\nlog_weight_clip = [5.0, -10.0]\n', "log_weight_clip.*inverted"),
        ('method = "pear-seq"\n[options]\ndelta_clip = [0.3]\n', "delta_clip.*allowed"),
        ('method = "pear-seq"\n[options]\ngamma = 0.9\n', "unknown option 'gamma' for method 'pear-seq'"),
        ('method = "sft"\n[options]\nnormalisation = "mean"\n', "normalisation.*'mean'.*token-mean"),
        ('method = "sft"\n[options]\nnormalisation = 1\n', "normalisation.*wrong type"),
        ('method = "pear-token"\n[options]\ngamma = "0.9"\n', "gamma.*wrong type"),
        ('method = "pear-token"\n[options]\ngamma = nan\n', "gamma.*not finite"),
        ('method = "none"\n[options]\ngamma = 0.9\n', "unknown option 'gamma'.*no options"),
        ('method = "pear-token"\nlr = 1e-5\n', "unknown top-level key 'lr'"),
        ('method = "pear-bloc"\n', "unknown method 'pear-bloc'"),
        ("[options]\n", "'method' must be a method name"),
        ('method = "sft"\noptions = 3\n', "'options' must be a table"),
        ('method = "sft"\n[options\n', "malformed recipe file"),
    ],
)
def test_recipe_validation_errors(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "recipe.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(PearbenchError, match=message) as info:
        load_recipe(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_recipe_file(tmp_path: Path) -> None:
    with pytest.raises(PearbenchError, match="recipe file not found"):
        load_recipe(tmp_path / "absent.toml")


def test_options_validate_when_built_in_python() -> None:
    method = get_method("pear-block")
    assert method.make_options({"gamma": 1}).gamma == 1.0
    with pytest.raises(PearbenchError, match="block_size"):
        methods.PearBlockOptions(block_size=-1)
    with pytest.raises(PearbenchError, match="inverted"):
        methods.PearSeqOptions(delta_clip=(1.0, 0.0))


# ----------------------------------------------------------------------------------------- labels


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("sft", ("sft", 1.0)),
        ("sft@3x", ("sft", 3.0)),
        ("sft@0.33x", ("sft", 0.33)),
        ("sft@.5x", ("sft", 0.5)),
        ("pear-block@2x", ("pear-block", 2.0)),
        ("none", ("none", 1.0)),
    ],
)
def test_parse_method_label(label: str, expected: tuple[str, float]) -> None:
    assert parse_method_label(label) == expected


@pytest.mark.parametrize(
    "label",
    [
        "sft@",
        "sft@x",
        "sft@3",
        "sft@-1x",
        "sft@0x",
        "sft@0.0x",
        "@3x",
        "SFT",
        "sft@3x@2x",
        "sft @3x",
        "",
        "none@2x",
    ],
)
def test_malformed_method_labels(label: str) -> None:
    with pytest.raises(PearbenchError, match=repr(label).replace("(", r"\(")):
        parse_method_label(label)


# ----------------------------------------------------------------------------------------- a method from outside


PLUGIN_SOURCE = """
from dataclasses import dataclass

import torch

from pearbench.train.methods import ObjectiveOptions, option, register_method
from pearbench.train.objectives import weighted_nll


@dataclass(frozen=True)
class PowerOptions(ObjectiveOptions):
    power: float = option(
        2.0,
        "Exponent of the token probability used as weight.",
        "a test plugin",
        check=lambda value: value > 0,
        allowed="a number > 0",
    )


@register_method(
    "test-power",
    description="NLL weighted by sg[p]^power.",
    options_class=PowerOptions,
    weighted=True,
    paper="a test plugin",
)
def power_loss(logprobs, behavior_logprobs, mask, options):
    weights = torch.where(mask.bool(), logprobs.detach().exp() ** options.power, 0.0)
    return weighted_nll(logprobs, mask, weights, normalisation=options.normalisation)
"""


@pytest.fixture
def plugin_method(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A module outside pearbench (a file in tmp_path) registers a new objective: NLL weighted by sg[p]^power."""
    plugin_dir = tmp_path / "plugin"
    plugin_dir.mkdir()
    (plugin_dir / "pearbench_test_power_plugin.py").write_text(PLUGIN_SOURCE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(plugin_dir))
    module = importlib.import_module("pearbench_test_power_plugin")
    yield module
    methods._METHODS.pop("test-power", None)
    sys.modules.pop(module.__name__, None)


def test_method_from_outside_the_package(plugin_method, tmp_path: Path, capsys) -> None:
    method = get_method("test-power")
    assert method in list_methods() and method.weighted and method.runs_sft
    recipe = write(
        tmp_path / "power.toml",
        """
        method = "test-power"
        [options]
        power = 3
        normalisation = "seq-mean"
        """,
    )
    loaded, options = load_recipe(recipe)
    assert loaded is method and options.power == 3.0 and options.normalisation == "seq-mean"
    assert recipe_hash(recipe) == options_hash("test-power", options)
    # without a recipe file, the name resolves to the defaults
    assert load_recipe("test-power")[1] == method.default_options()

    logprobs = torch.log(torch.tensor([[0.5, 0.25, 0.1]], dtype=torch.float64)).requires_grad_(True)
    mask = torch.tensor([[0, 1, 1]])
    output = method.loss(logprobs, None, mask, options)
    assert isinstance(output, ObjectiveOutput)
    expected = (0.25**3 * -torch.log(torch.tensor(0.25)) + 0.1**3 * -torch.log(torch.tensor(0.1))) / 2
    assert output.loss.item() == pytest.approx(expected.item(), rel=1e-6)

    bad = write(tmp_path / "bad.toml", 'method = "test-power"\n[options]\npower = -1\n')
    with pytest.raises(PearbenchError, match="'power' = -1.0 is out of range; allowed: a number > 0"):
        load_recipe(bad)

    assert main(["methods", "show", str(recipe)]) == 0
    out = capsys.readouterr().out
    assert (
        "test-power" in out
        and "power = 3.0  (default 2.0)" in out
        and options_hash("test-power", options) in out
    )


def test_option_helper_is_public() -> None:
    @dataclasses.dataclass(frozen=True)
    class Local(ObjectiveOptions):
        scale: float = option(1.0, "a scale", "nowhere", check=lambda v: v >= 0, allowed=">= 0")

    assert Local().scale == 1.0
    with pytest.raises(PearbenchError, match="'scale' = -1"):
        Local(scale=-1.0)


def test_weighted_nll_is_importable_for_plugins() -> None:
    assert callable(weighted_nll)


# ----------------------------------------------------------------------------------------- CLI


def test_cli_methods_list(capsys) -> None:
    assert main(["methods", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["NAME", "RUNS", "SFT"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    for name, (runs_sft, needs_behavior, weighted) in BUNDLED.items():
        yes = {True: "yes", False: "no"}
        assert rows[name][1:4] == [yes[runs_sft], yes[weighted], yes[needs_behavior]]
    assert main(["methods"]) == 0  # bare `methods` lists too
    assert "pear-block" in capsys.readouterr().out


def test_cli_methods_show(capsys) -> None:
    assert main(["methods", "show", "pear-block"]) == 0
    out = capsys.readouterr().out
    assert f"recipe hash: {recipe_hash('pear-block')}" in out
    assert str(recipe_path("pear-block")) in out
    for name in (
        "gamma = 0.999",
        "block_size = 4",
        "delta_clip = [-0.08, 0.3]",
        "log_weight_clip = [-10.0, 5.0]",
    ):
        assert name in out
    assert "arXiv 2602.01058" in out


def test_cli_unknown_method_exits_2(capsys) -> None:
    assert main(["methods", "show", "nope"]) == 2
    captured = capsys.readouterr()
    assert (
        captured.err.count("\n") == 1
        and "unknown method 'nope'" in captured.err
        and "pear-block" in captured.err
    )
    assert "Traceback" not in captured.err


def test_cli_bad_recipe_exits_2(tmp_path: Path, capsys) -> None:
    bad = write(tmp_path / "bad.toml", 'method = "pear-block"\n[options]\nblock_size = 0\n')
    assert main(["methods", "show", str(bad)]) == 2
    assert "block_size" in capsys.readouterr().err
