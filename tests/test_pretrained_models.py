"""The harness with pretrained models (``hf:<folder>`` base/teacher, the path behind the ``paper`` profile).

The pretrained models here are the smoke run's own base and teacher folders, so a run that uses them as they are
must reproduce the smoke run's numbers exactly: the same weights, data, seeds and evaluation.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli
from safetensors.torch import load_file

from pearbench.errors import PearbenchError
from pearbench.harness.config import load_profile
from pearbench.harness.runner import RunRequest, run
from pearbench.models.families import build_char_tokenizer, build_tiny_model, encode_prompt, save_model
from pearbench.models.loading import POINTER_FILE
from pearbench.results.records import load_records


def _model_dir(smoke_dir: Path, role: str) -> Path:
    (found,) = sorted((smoke_dir / "cache").glob(f"{role}-*/model"))
    return found


def _config(tmp_path: Path, smoke_dir: Path, *, base_steps: int = 0, extra: str = "") -> Path:
    base, teacher = _model_dir(smoke_dir, "base"), _model_dir(smoke_dir, "teacher")
    path = tmp_path / "pretrained.toml"
    path.write_text(
        f'[models]\ntokenizer = "{teacher}"\nstudent = "hf:{base}"\nteacher = "hf:{teacher}"\n\n'
        f"[base_pretrain]\nsteps = {base_steps}\nbatch_size = 4\n\n[teacher_pretrain]\nsteps = 0\n{extra}"
    )
    return path


def _record(out: Path) -> dict:
    (record,) = load_records(out)
    return record


def test_pretrained_models_used_as_they_are_reproduce_the_trained_run(
    tmp_path: Path, smoke_dir: Path
) -> None:
    out = tmp_path / "out"
    run(
        RunRequest(
            method="pear-seq",
            profile="smoke",
            config_file=str(_config(tmp_path, smoke_dir)),
            out=str(out),
            progress=False,
        )
    )
    for role in ("base", "teacher"):
        (folder,) = sorted((out / "cache").glob(f"{role}-*/model"))
        assert [p.name for p in folder.iterdir()] == [POINTER_FILE]  # a pointer, no copy of the weights
        assert json.loads((folder / POINTER_FILE).read_text())["spec"] == f"hf:{_model_dir(smoke_dir, role)}"
    ours = _record(out)
    (theirs,) = [r for r in load_records(smoke_dir) if r["method"] == "pear-seq"]
    assert ours["profile_override"]["models"]["student"].startswith("hf:")
    assert ours["config_hashes"]["base"] != theirs["config_hashes"]["base"]  # other stage keys, same numbers:
    assert ours["reference"] == theirs["reference"]
    assert ours["mismatch"] == theirs["mismatch"]
    assert ours["metrics"] == theirs["metrics"]
    assert ours["outcomes"] == theirs["outcomes"]


def test_a_pretrained_student_can_be_trained_further(tmp_path: Path, smoke_dir: Path) -> None:
    out = tmp_path / "out"
    run(
        RunRequest(
            method="none",
            profile="smoke",
            config_file=str(_config(tmp_path, smoke_dir, base_steps=3)),
            out=str(out),
            progress=False,
        )
    )
    (folder,) = sorted((out / "cache").glob("base-*/model"))
    assert (folder / "model.safetensors").exists() and not (folder / POINTER_FILE).exists()
    trained = load_file(str(folder / "model.safetensors"))
    source = load_file(str(_model_dir(smoke_dir, "base") / "model.safetensors"))
    assert trained.keys() == source.keys()
    assert any(not (trained[name] == source[name]).all() for name in source)  # 3 steps moved the weights
    assert _record(out)["method"] == "none"


def _cli(*args: str, cwd: Path):
    return run_cli(*args, "--no-progress", cwd=cwd)


def test_a_model_with_another_vocabulary_is_refused(tmp_path: Path, smoke_dir: Path) -> None:
    other_tok = build_char_tokenizer(alphabet="0123456789+-*=() ")
    other = tmp_path / "other-model"
    save_model(build_tiny_model("tiny-ci", other_tok, seed=0), other_tok, other)
    config = _config(tmp_path, smoke_dir)
    config.write_text(config.read_text().replace(f"hf:{_model_dir(smoke_dir, 'teacher')}", f"hf:{other}"))
    out = tmp_path / "out"
    result = _cli("run", "--profile", "smoke", "--config", str(config), "--out", str(out), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # refused before any work: no stage has logged anything
    assert "does not share the run's tokenizer" in lines[0] and str(other) in lines[0]
    assert not list(out.glob("cache/*/done.json"))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ('[models]\nstudent = "hf:/some/model"\n', "[models] tokenizer: is 'char' but the student"),
        ('[models]\nteacher = "gpt-9"\n', "[models] teacher: unknown model 'gpt-9'"),
        ('[models]\nstudent = "hf:  "\n', "[models] student: 'hf:  ' names no model"),
        ('[models]\nchat_template = "yes"\n', "[models] chat_template: expected true or false, got 'yes'"),
        (
            "[base_pretrain]\nsteps = 0\n",
            "[base_pretrain] steps: is 0 but the student 'tiny-ci' is trained from scratch",
        ),
        ("[teacher_pretrain]\nsteps = -1\n", "[teacher_pretrain] steps: must be >= 0, got -1"),
        ('device = "tpu"\n', "[profile] device: must be one of cpu, cuda, auto; got 'tpu'"),
    ],
)
def test_invalid_model_settings_are_refused(tmp_path: Path, override: str, message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(override)
    with pytest.raises(PearbenchError) as error:
        load_profile("smoke", str(config))
    assert message in str(error.value)


def test_device_cuda_is_refused_without_a_gpu(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: device = 'cuda' would run")
    config = tmp_path / "cuda.toml"
    config.write_text('device = "cuda"\n')
    profile = load_profile("smoke", str(config))
    with pytest.raises(PearbenchError, match="needs a CUDA GPU"):
        profile.check_runnable()
    auto = tmp_path / "auto.toml"
    auto.write_text('device = "auto"\n')
    assert load_profile("smoke", str(auto)).torch_device() == "cpu"


def test_chat_prompts_use_the_tokenizer_template() -> None:
    tok = build_char_tokenizer()
    with pytest.raises(PearbenchError, match="has no chat template"):
        encode_prompt(tok, "2+2?", chat=True)
    tok.chat_template = (
        "{% for m in messages %}[{{ m['role'] }}]{{ m['content'] }}{% endfor %}"
        "{% if add_generation_prompt %}[assistant]{% endif %}"
    )
    ids = encode_prompt(tok, "2+2?", chat=True)
    assert tok.decode(ids) == "[user]2+2?[assistant]"
    assert encode_prompt(tok, "2+2?") == [tok.bos_token_id, *tok("2+2?", add_special_tokens=False).input_ids]


def test_a_tokenizer_with_another_eos_token_is_refused(tmp_path: Path, smoke_dir: Path) -> None:
    from transformers import AutoTokenizer

    teacher = _model_dir(smoke_dir, "teacher")
    other_tok = tmp_path / "other-eos"
    tok = AutoTokenizer.from_pretrained(teacher)
    tok.eos_token = "<unk>"  # same vocabulary, another end-of-response token
    tok.save_pretrained(other_tok)
    config = _config(tmp_path, smoke_dir)
    config.write_text(config.read_text().replace(f'tokenizer = "{teacher}"', f'tokenizer = "{other_tok}"'))
    result = _cli(
        "run", "--profile", "smoke", "--config", str(config), "--out", str(tmp_path / "out"), cwd=tmp_path
    )
    assert result.returncode == 2, result.stderr
    assert "ends responses with token" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_pretraining_keys_change_with_tokenizer_and_chat_but_not_for_char_defaults(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from pearbench.harness.stages import _pretrain_spec
    from pearbench.harness.suites import load_suite

    def key(override: str) -> dict:
        config = tmp_path / "k.toml"
        config.write_text(override)
        h = SimpleNamespace(profile=load_profile("smoke", str(config)), suite=load_suite("countdown"))
        return _pretrain_spec(h, "base")[0]

    plain = key("")
    assert "tokenizer" not in plain and "chat_template" not in plain and "pretrained" not in plain
    assert key("[models]\nchat_template = true\n")["chat_template"] is True
    assert key('[models]\ntokenizer = "some/tokenizer"\n')["tokenizer"] == "some/tokenizer"


def test_pointer_names_a_local_folder_by_its_absolute_path(
    tmp_path: Path, monkeypatch, smoke_dir: Path
) -> None:
    from pearbench.models.loading import write_pointer

    model = _model_dir(smoke_dir, "base")
    monkeypatch.chdir(model.parent)
    write_pointer(tmp_path / "model", "hf:model")
    assert json.loads((tmp_path / "model" / POINTER_FILE).read_text())["spec"] == f"hf:{model.resolve()}"
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / POINTER_FILE).write_text("{}")
    from pearbench.models.loading import load_trained_model

    with pytest.raises(PearbenchError, match="not a valid model pointer"):
        load_trained_model(tmp_path / "bad")


def test_bad_thread_count_is_one_line_exit_2(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PEARBENCH_THREADS", "two")
    from pearbench.cli import main

    assert main(["run", "--profile", "smoke", "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    assert not (tmp_path / "out").exists()


def test_sampler_never_emits_ids_past_the_tokenizer() -> None:
    from types import SimpleNamespace

    import torch

    from pearbench.models.families import build_tiny_model
    from pearbench.models.generation import GenerationConfig, HFBackend

    tok = build_char_tokenizer()

    class Padded(torch.nn.Module):
        """A model whose output has 16 extra (padding) ids past the tokenizer, each far likelier than any real id."""

        def __init__(self) -> None:
            super().__init__()
            self.inner = build_tiny_model("tiny-ci", tok, seed=0)

        def forward(self, **kwargs):
            out = self.inner(**kwargs)
            extra = torch.full((*out.logits.shape[:-1], 16), 100.0)
            return SimpleNamespace(
                logits=torch.cat([out.logits, extra], -1), past_key_values=out.past_key_values
            )

    samples = HFBackend(Padded(), tok).generate(
        [[tok.bos_token_id, 5, 6]], n=8, config=GenerationConfig(max_new_tokens=12), seed=0
    )
    assert all(s.response_ids and max(s.response_ids) < len(tok) for s in samples)
