"""Resumable training checkpoints, written atomically (a crash never leaves a half checkpoint that gets read).

A checkpoint is a folder ``step-<N>`` holding ``model.safetensors`` (weights), ``optimizer.pt`` (optimizer and
scheduler state, loaded with ``weights_only=True``) and ``state.json`` (step, logs). It is written to a temporary
folder and renamed into place, so a folder named ``step-<N>`` is always complete. A sharded (FSDP) run writes the
same files: its full weights and its full optimizer state, keyed as ``optimizer.state_dict()`` keys it
(:mod:`pearbench.train.sharding`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file


def _state_dict_for_save(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    state = model.state_dict()
    seen: dict[int, str] = {}
    out = {}
    for name, tensor in state.items():
        key = tensor.data_ptr()
        if key in seen:  # tied weights: safetensors refuses shared storage
            continue
        seen[key] = name
        out[name] = tensor.detach().contiguous().clone()
    return out


def save_checkpoint(
    directory: str | Path,
    step: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | dict[str, Any] | None,
    state: dict[str, Any],
    *,
    keep: int = 1,
) -> Path:
    """Write checkpoint ``step-<step>`` of ``model`` and ``optimizer`` (an optimizer, or its state dict) with
    ``state`` into ``directory``, keeping the newest ``keep`` checkpoints."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=directory, prefix=f".step-{step}."))
    save_file(_state_dict_for_save(model), str(tmp / "model.safetensors"))
    if optimizer is not None:
        optimizer_state = optimizer if isinstance(optimizer, dict) else optimizer.state_dict()
        torch.save({"optimizer": optimizer_state}, tmp / "optimizer.pt")
    (tmp / "state.json").write_text(json.dumps({"step": step, **state}, sort_keys=True))
    final = directory / f"step-{step}"
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in list_checkpoints(directory)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(directory: str | Path) -> list[Path]:
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [
        p for p in directory.iterdir() if p.is_dir() and p.name.startswith("step-") and p.name[5:].isdigit()
    ]
    return sorted(found, key=lambda p: int(p.name[5:]))


def latest_checkpoint(directory: str | Path) -> Path | None:
    found = list_checkpoints(directory)
    return found[-1] if found else None


def load_checkpoint(
    path: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None
) -> dict[str, Any]:
    path = Path(path)
    weights = load_file(str(path / "model.safetensors"))
    missing, unexpected = model.load_state_dict(weights, strict=False)
    missing = [m for m in missing if not m.endswith("lm_head.weight")]  # tied to the embeddings
    if missing or unexpected:
        raise RuntimeError(
            f"checkpoint {path} does not match the model: missing {missing}, unexpected {unexpected}"
        )
    if hasattr(model, "tie_weights"):
        model.tie_weights()
    if optimizer is not None:
        optimizer_state = load_optimizer_state(path)
        if optimizer_state is not None:
            optimizer.load_state_dict(optimizer_state)
    return json.loads((path / "state.json").read_text())


def load_optimizer_state(path: str | Path) -> dict[str, Any] | None:
    """The optimizer state dict of checkpoint ``path`` (on the CPU), or None when it has none."""
    file = Path(path) / "optimizer.pt"
    if not file.exists():
        return None
    return torch.load(file, weights_only=True, map_location="cpu")["optimizer"]
