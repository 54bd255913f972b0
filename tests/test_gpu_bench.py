"""benchmarks/gpu.py: its ``--cpu --tiny`` mode runs the GPU script's code end to end (with gymnasium, math-verify,
vLLM, TRL and pandas made unimportable, as on the lent GPU machine) and prints every field of its table; the MFU
formula's parameter count and FLOPs for the Qwen2.5-0.5B shape."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "gpu.py"
#: what the GPU machine lacks: the script must run without any of them
ABSENT = ("gymnasium", "math_verify", "vllm", "trl", "pandas", "pyarrow", "matplotlib", "datasets")
#: runs the script with the ABSENT packages unimportable and invisible to availability checks (find_spec)
RUNNER = """
import importlib.abc, importlib.util, runpy, sys
ABSENT = set(sys.argv[1].split(","))
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ABSENT:
            raise ModuleNotFoundError(f"No module named {name!r} (absent on the GPU machine)", name=name)
        return None
sys.meta_path.insert(0, Absent())
_find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, package=None: (
    None if name.split(".")[0] in ABSENT else _find_spec(name, package)
)
script = sys.argv[2]
sys.argv = [script, *sys.argv[3:]]
runpy.run_path(script, run_name="__main__")
print("LOADED:", ",".join(sorted(m for m in sys.modules if m.startswith("pearbench"))))
"""
NAMES = [
    ("sft", "sft"),
    ("sft", "dft"),
    ("sft", "pear-token"),
    ("sft", "pear-block"),
    ("sft", "pear-seq"),
    ("sft", "sft+checkpointing"),
    ("sampler", "hf"),
    ("grpo", "rollout"),
    ("grpo", "train"),
    ("grpo", "step (rollout + train)"),
]


def load_script():
    spec = importlib.util.spec_from_file_location("gpu_bench", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu_bench") / "result.json"
    args = ["--cpu", "--tiny", "--threads", "1", "--peak-tflops", "0.5", "--json", str(out)]
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, ",".join(ABSENT), str(SCRIPT), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": ""},
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout, json.loads(out.read_text())


def table_rows(stdout: str) -> list[list[str]]:
    lines = [
        line for line in stdout.splitlines() if line.startswith("| ") and not line.startswith("| section")
    ]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def test_tiny_mode_prints_every_row_and_field(tiny_run):
    stdout, _ = tiny_run
    header = next(line for line in stdout.splitlines() if line.startswith("| section"))
    fields = [cell.strip() for cell in header.strip("|").split("|")]
    assert fields == ["section", "name", "tokens", "ms", "tokens/s", "TFLOP/s", "MFU", "vs sft", "peak GiB"]
    rows = table_rows(stdout)
    assert [(r[0], r[1]) for r in rows] == NAMES
    for row in rows:
        assert int(row[2]) > 0 and float(row[3]) > 0 and float(row[4]) > 0, row
    by_name = {r[1]: r for r in rows}
    assert by_name["sft"][7] == "1.000"
    for name in ("dft", "pear-token", "pear-block", "pear-seq", "sft+checkpointing"):
        assert float(by_name[name][7]) > 0 and by_name[name][6].endswith("%")
    assert by_name["hf"][5] == by_name["hf"][6] == "-"  # no MFU for decoding
    assert by_name["sft"][8] == "-"  # no CUDA memory statistics on CPU
    assert "FLOPs/step = 6 * N * T + 12 * layers * hidden * seq^2 * B" in stdout
    assert "bf16 autocast forward passes, float32 master weights and AdamW state" in stdout
    targets = next(
        line for line in stdout.splitlines() if line.startswith("targets (reported, not pass/fail)")
    )
    assert "MFU >= 40%" in targets and "<= 1.02x sft: worst" in targets


def test_tiny_mode_uses_pearbench_without_its_package_init(tiny_run):
    stdout, _ = tiny_run
    loaded = next(line for line in stdout.splitlines() if line.startswith("LOADED:"))[len("LOADED:") :].split(
        ","
    )
    assert "pearbench.train.objectives" in loaded and "pearbench.models.logprobs" in loaded
    assert "pearbench.registry" not in loaded and not any(m.startswith("pearbench.envs") for m in loaded)


def test_tiny_mode_json_has_the_numbers_of_the_table(tiny_run):
    stdout, data = tiny_run
    assert data["device"] == "cpu" and data["peak_tflops"] == 0.5
    assert [(r["section"], r["name"]) for r in data["rows"]] == NAMES
    for row in data["rows"]:
        if row["tflops"] is not None:
            assert row["mfu"] == pytest.approx(row["tflops"] / 0.5)
    sft = data["rows"][0]
    assert sft["tokens"] == data["batch"] * data["seq"] == 2 * 64
    worst = max(r["vs_sft"] for r in data["rows"] if r["name"].startswith("pear-"))
    assert data["worst_pear_ratio"] == pytest.approx(worst)


def test_mfu_formula_for_the_qwen2_5_0_5b_shape():
    from transformers import Qwen2ForCausalLM

    script = load_script()
    config = script.qwen_config(tiny=False)
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (896, 24, 14)
    assert (config.num_key_value_heads, config.intermediate_size, config.vocab_size) == (2, 4864, 151_936)
    with torch.device("meta"):
        model = Qwen2ForCausalLM(config)
    total = sum(p.numel() for p in model.parameters())
    assert total == 494_032_768  # Qwen2.5-0.5B: 0.49B parameters, the embedding tied to the output projection
    non_embedding = total - 151_936 * 896
    assert non_embedding == 357_898_112  # its 0.36B non-embedding parameters
    n = script.flop_params(model, config)
    assert n == non_embedding + 151_936 * 896
    flops = script.train_flops(n, config, batch=16, seq=1024)
    assert flops == 6 * n * 16 * 1024 + 12 * 24 * 896 * 1024**2 * 16
